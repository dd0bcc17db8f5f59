//! The engine's CLI, in VPP's syntax and layouts (vlib/node_cli.c, error.c, trace.c,
//! threads_cli.c, buffer.c, vnet/interface_cli.c for `pcap trace`).

use crate::pcap_capture::CaptureKind;
use crate::registry::{cmd, Registry};
use crate::{CliCtx, Vnet};
use pwire_cli::{Args, CliError};
use pwire_graph::NodeKind;
use std::fmt::Write as _;

/// `%=Ns`: centred in `w` (extra space on the right, as vppinfra does).
pub fn center(s: &str, w: usize) -> String {
    let l = s.chars().count();
    if l >= w {
        return s.to_string();
    }
    let left = (w - l) / 2;
    format!("{}{}{}", " ".repeat(left), s, " ".repeat(w - l - left))
}

/// vppinfra's `%.2e`: mantissa with 2 decimals, exponent without `+` or padding (`3.36e1`).
pub fn fmt_e(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0.00e0".into();
    }
    let s = format!("{v:.2e}");
    s
}

pub(crate) fn register(r: &mut Registry) {
    // Commands not marked mp-safe run with the workers parked from their first line on (VPP's
    // barrier around a handler). A command that writes `Shared` state parks them anyway, at
    // the write (`Ctl::write`); the context releases them when the command (or script) ends.
    r.cli.set_barrier(|cx| cx.ctl.ensure_barrier());
    r.command(cmd(
        "show runtime",
        "show runtime [verbose] [max] [<node>]",
        true,
        show_runtime,
    ));
    r.command(cmd("clear runtime", "clear runtime", true, |a, cx| {
        a.expect_end()?;
        cx.vnet.engine().clear_runtime();
        Ok(())
    }));
    r.command(cmd(
        "show errors",
        "show errors [verbose]",
        true,
        show_errors,
    ));
    r.command(cmd(
        "show node counters",
        "show node counters",
        true,
        show_errors,
    ));
    r.command(cmd("clear errors", "clear errors", true, |a, cx| {
        a.expect_end()?;
        cx.vnet.engine().clear_errors();
        Ok(())
    }));
    r.command(cmd(
        "clear node counters",
        "clear node counters",
        true,
        |a, cx| {
            a.expect_end()?;
            cx.vnet.engine().clear_errors();
            Ok(())
        },
    ));
    r.command(cmd(
        "trace add",
        "trace add <input-graph-node> <add'l-pkts-for-node-> [filter] [verbose]",
        true,
        trace_add,
    ));
    r.command(cmd(
        "show trace",
        "show trace [max COUNT]",
        true,
        show_trace,
    ));
    r.command(cmd("clear trace", "clear trace", true, |a, cx| {
        a.expect_end()?;
        cx.vnet.engine().tracer.clear();
        Ok(())
    }));
    r.command(cmd("show buffers", "show buffers", true, show_buffers));
    r.command(cmd("show threads", "show threads", true, show_threads));
    r.command(cmd("show barrier", "show barrier", true, show_barrier));
    r.command(cmd("clear barrier", "clear barrier", true, |a, cx| {
        a.expect_end()?;
        cx.vnet.engine().barrier.clear_stats();
        Ok(())
    }));
    r.command(cmd(
        "show version",
        "show version [verbose]",
        true,
        show_version,
    ));
    r.command(cmd("show node", "show node <node>", true, show_node));
    r.command(cmd(
        "pcap trace",
        "pcap trace [rx] [tx] [drop] [off] [max <nn>] [intfc <interface>|any] [file <name>] [status] [max-bytes-per-pkt <nnnn>]",
        true,
        pcap_trace,
    ));
}

fn node_state(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Input => "polling",
        NodeKind::Internal => "active",
        NodeKind::Process => "\"clock wait\"",
    }
}

fn show_runtime(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let mut verbose = false;
    let mut max = false;
    let mut only: Option<String> = None;
    while let Some(w) = a.peek() {
        if a.keyword("verbose") || a.keyword("v") {
            verbose = true;
        } else if a.keyword("max") || a.keyword("m") {
            max = true;
        } else if a.keyword("summary") || a.keyword("sum") || a.keyword("time") {
        } else if cx.vnet.engine().graph.node_index(w).is_some() {
            only = Some(w.to_string());
            a.next_word();
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let e = cx.vnet.engine();
    let g = &e.graph;
    let mut order: Vec<usize> = (0..g.nodes.len()).collect();
    order.sort_by(|&x, &y| g.nodes[x].name.cmp(&g.nodes[y].name));
    let (cleared_at, _) = *e.runtime_base.lock().unwrap_or_else(|p| p.into_inner());
    let dt = (e.now() - cleared_at).max(1e-9);
    let mut out = String::new();
    let multi = e.threads.len() > 1;
    for (t, th) in e.threads.iter().enumerate() {
        if t > 0 {
            out.push_str("---------------\n");
        }
        if multi {
            let cpu = th.cpu.map_or("n/a".to_string(), |c| c.to_string());
            let _ = writeln!(out, "Thread {} {} (lcore {})", t, th.name, cpu);
        }
        let (mut vin, mut vdrop, mut vout, mut icalls, mut ivec) = (0u64, 0u64, 0u64, 0u64, 0u64);
        for (i, n) in g.nodes.iter().enumerate() {
            let s = e.node_stats(t, i);
            match n.kind {
                NodeKind::Input => vin += s.vectors,
                NodeKind::Internal => {
                    icalls += s.calls;
                    ivec += s.vectors;
                }
                NodeKind::Process => {}
            }
            if n.name == "error-drop" {
                vdrop += s.vectors;
            }
            if n.name.ends_with("-tx") {
                vout += s.vectors;
            }
        }
        let loops = th.loops.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "Time {:.1}, 10 sec internal node vector rate {:.2} loops/sec {:.2}",
            dt,
            if icalls > 0 {
                ivec as f64 / icalls as f64
            } else {
                0.0
            },
            loops as f64 / e.now().max(1e-9)
        );
        let _ = writeln!(
            out,
            "  vector rates in {}, out {}, drop {}, punt {}",
            fmt_e(vin as f64 / dt),
            fmt_e(vout as f64 / dt),
            fmt_e(vdrop as f64 / dt),
            fmt_e(0.0)
        );
        if max {
            let _ = writeln!(
                out,
                "{}{}{}{}{}{}",
                center("Name", 30),
                center("Max Node Clocks", 18),
                center("Vectors at Max", 18),
                center("Max Clocks", 16),
                center("Avg Clocks", 16),
                center("Avg Vectors/Call", 18)
            );
        } else {
            let _ = writeln!(
                out,
                "{}{}{}{}{}{}{}",
                center("Name", 30),
                center("State", 12),
                center("Calls", 16),
                center("Vectors", 16),
                center("Suspends", 16),
                center("Packet-Clocks", 16),
                center("Vectors/Call", 16)
            );
        }
        for &i in &order {
            let n = &g.nodes[i];
            if only.as_deref().is_some_and(|o| o != n.name) {
                continue;
            }
            if n.kind == NodeKind::Process && t != 0 {
                continue;
            }
            let s = e.node_stats(t, i);
            if !verbose && s.calls == 0 && s.suspends == 0 {
                continue;
            }
            let per = if s.vectors > 0 {
                s.clocks as f64 / s.vectors as f64
            } else if s.calls > 0 {
                s.clocks as f64 / s.calls as f64
            } else {
                0.0
            };
            let vpc = if s.calls > 0 {
                s.vectors as f64 / s.calls as f64
            } else {
                0.0
            };
            if max {
                let _ = writeln!(
                    out,
                    "{:<30}{:>18}{:>18}{:>16}{:>16}{:>18.2}",
                    n.name,
                    s.max_clocks,
                    s.vectors_at_max,
                    fmt_e(s.max_clocks as f64 / s.vectors_at_max.max(1) as f64),
                    fmt_e(per),
                    vpc
                );
            } else {
                let _ = writeln!(
                    out,
                    "{:<30}{}{:>16}{:>16}{:>16}{:>16}{:>16.2}",
                    n.name,
                    center(node_state(n.kind), 12),
                    s.calls,
                    s.vectors,
                    s.suspends,
                    fmt_e(per),
                    vpc
                );
            }
        }
    }
    a.output(&out);
    Ok(())
}

fn show_errors(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let verbose = a.keyword("verbose");
    let level: u32 = if verbose {
        a.value::<u32>("level").unwrap_or(1)
    } else {
        0
    };
    a.expect_end()?;
    let e = cx.vnet.engine();
    let g = &e.graph;
    let mut out = String::new();
    let header = |out: &mut String| {
        if verbose {
            let _ = writeln!(
                out,
                "{}{}{}{}{}",
                center("Count", 10),
                center("Node", 35),
                center("Reason", 35),
                center("Severity", 10),
                center("Index", 6)
            );
        } else {
            let _ = writeln!(
                out,
                "{}{}{}{}",
                center("Count", 10),
                center("Node", 35),
                center("Reason", 35),
                center("Severity", 10)
            );
        }
    };
    let row = |out: &mut String, count: u64, node: &str, reason: &str, sev: &str, idx: usize| {
        if verbose {
            let _ = writeln!(
                out,
                "{count:>10}{}{}{}{}",
                center(node, 35),
                center(reason, 35),
                center(sev, 10),
                center(&idx.to_string(), 6)
            );
        } else {
            let _ = writeln!(
                out,
                "{count:>10}{}{}{}",
                center(node, 35),
                center(reason, 35),
                center(sev, 10)
            );
        }
    };
    header(&mut out);
    let nt = e.threads.len();
    let mut totals = vec![0u64; g.n_counters()];
    for t in 0..nt {
        if verbose {
            let _ = writeln!(out, "Thread {} ({}):", t, e.threads[t].name);
        }
        for n in &g.nodes {
            for (k, c) in n.counters.iter().enumerate() {
                let code = n.error_base as usize + k;
                let v = e.error_count(t, code);
                totals[code] += v;
                if v == 0 && level < 2 {
                    continue;
                }
                row(&mut out, v, &n.name, c.name, c.severity.as_str(), code);
            }
        }
    }
    if verbose && nt > 1 {
        out.push_str("Total:\n");
        for n in &g.nodes {
            for (k, c) in n.counters.iter().enumerate() {
                let code = n.error_base as usize + k;
                if totals[code] == 0 && level < 2 {
                    continue;
                }
                row(
                    &mut out,
                    totals[code],
                    &n.name,
                    c.name,
                    c.severity.as_str(),
                    code,
                );
            }
        }
    }
    a.output(&out);
    Ok(())
}

fn trace_add(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let name = a.word("node")?;
    let n: u32 = a.value("count")?;
    let _ = a.keyword("filter");
    let _ = a.keyword("verbose");
    a.expect_end()?;
    let e = cx.vnet.engine();
    let Some(i) = e.graph.node_index(name) else {
        return Err(CliError::unknown_input(name));
    };
    if !e.graph.nodes[i].traceable {
        return Err(CliError::msg(format!(
            "node '{name}' doesn't support per-node tracing. There may be another way to initiate trace on this node."
        )));
    }
    e.tracer.add(i, n);
    Ok(())
}

/// `HH:MM:SS:UUUUUU` since the engine started.
fn trace_time(secs: f64) -> String {
    let us_total = std::time::Duration::from_secs_f64(secs.max(0.0)).as_micros() as u64;
    let us = us_total % 1_000_000;
    let s = us_total / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}:{:06}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        us
    )
}

fn show_trace(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let mut max = 50usize;
    if a.keyword("max") {
        max = a.value("count")?;
    }
    a.expect_end()?;
    let e = cx.vnet.engine();
    let mut out = String::new();
    for (t, th) in e.threads.iter().enumerate() {
        let _ = writeln!(
            out,
            "------------------- Start of thread {} {} -------------------",
            t, th.name
        );
        let pkts = e.tracer.snapshot(t);
        if pkts.is_empty() {
            out.push_str("No packets in trace buffer\n");
            continue;
        }
        for (k, p) in pkts.iter().enumerate() {
            if k >= max {
                let _ = writeln!(
                    out,
                    "Limiting display to {max} packets. To display more specify max."
                );
                break;
            }
            let _ = writeln!(out, "Packet {}\n", k + 1);
            for en in &p.entries {
                let secs = en.tsc.wrapping_sub(e.tsc0) as f64 / e.tsc_hz;
                let name = e
                    .graph
                    .nodes
                    .get(en.node as usize)
                    .map_or("?", |n| n.name.as_str());
                let _ = writeln!(out, "{}: {}", trace_time(secs), name);
                for line in en.text().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out.push('\n');
        }
    }
    a.output(&out);
    Ok(())
}

fn show_buffers(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    a.expect_end()?;
    let e = cx.vnet.engine();
    let p = &e.pool;
    let cached: u32 = (0..p.n_threads()).map(|t| p.cached(t)).sum();
    let avail = p.global_free();
    let total = p.n_buffers();
    let used = total - avail - cached;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20}{:>6}{:>6}{:>7}{:>11}{:>9}{:>9}{:>9}{:>9}  Backend",
        "Pool Name", "Index", "NUMA", "Size", "Data Size", "Total", "Avail", "Cached", "Used"
    );
    let size = pwire_buffer::META_SIZE + pwire_buffer::HEADROOM + p.data_size() as usize;
    let _ = writeln!(
        out,
        "{:<20}{:>6}{:>6}{:>7}{:>11}{:>9}{:>9}{:>9}{:>9}  {}",
        "default-numa-0",
        0,
        0,
        size,
        p.data_size(),
        total,
        avail,
        cached,
        used,
        p.backend()
    );
    for t in 0..p.n_threads() {
        // A slot past the threads belongs to a driver (dpdk's control-path cache).
        let name = e.threads.get(t).map_or("driver", |th| th.name.as_str());
        let _ = writeln!(out, "  thread {t} ({name}): cached {}", p.cached(t));
    }
    let _ = writeln!(
        out,
        "  free {} of {} ({} bytes of {} memory)",
        p.free_count(),
        total,
        p.region_bytes(),
        p.backend()
    );
    a.output(&out);
    Ok(())
}

fn show_threads(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    a.expect_end()?;
    let e = cx.vnet.engine();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<7}{:<20}{:<12}{:<8}{:<25}{:<7}{:<7}{:<7}{:<10}",
        "ID", "Name", "Type", "LWP", "Sched Policy (Priority)", "lcore", "Core", "Socket", "State"
    );
    for (t, th) in e.threads.iter().enumerate() {
        let info = &e.thread_info[t];
        let cpu = info.cpu.map_or("n/a".to_string(), |c| c.to_string());
        let lwp = th.lwp.load(std::sync::atomic::Ordering::Relaxed);
        let lwp = if lwp == 0 && t == 0 {
            std::process::id() as u64
        } else {
            lwp
        };
        // VPP never fills State; pwire says there when the thread could not be pinned to its
        // lcore (start-up also printed why).
        let state = match th.pin() {
            pwire_graph::runtime::Pin::Failed => "pin failed",
            _ => "",
        };
        let _ = writeln!(
            out,
            "{:<7}{:<20}{:<12}{:<8}{:<25}{:<7}{:<7}{:<7}{:<10}",
            t, th.name, info.kind, lwp, "other (0)", cpu, cpu, 0, state
        );
    }
    a.output(&out);
    Ok(())
}

/// A duration in ns with a unit that keeps 3-4 significant digits (`850ns`, `12.3us`,
/// `1.204ms`, `2.000s`).
fn fmt_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}us", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.3}ms", v / 1e6)
    } else {
        format!("{:.3}s", v / 1e9)
    }
}

/// `show barrier` (pwire's; VPP has no such command): how often the main thread parked the
/// workers, how long it waited for them and how long it held them, since `clear barrier`.
fn show_barrier(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    a.expect_end()?;
    let b = &cx.vnet.engine().barrier;
    let s = b.stats();
    let avg = |total: u64| fmt_ns(total.checked_div(s.syncs_since_clear).unwrap_or(0));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Workers {}, syncs {} ({} since clear)",
        b.workers(),
        s.syncs,
        s.syncs_since_clear
    );
    let _ = writeln!(
        out,
        "{:<18}{:>12}{:>12}{:>12}",
        "", "Last", "Max", "Average"
    );
    let _ = writeln!(
        out,
        "{:<18}{:>12}{:>12}{:>12}",
        "Wait for workers",
        fmt_ns(s.last_wait_ns),
        fmt_ns(s.max_wait_ns),
        avg(s.total_wait_ns)
    );
    let _ = writeln!(
        out,
        "{:<18}{:>12}{:>12}{:>12}",
        "Held",
        fmt_ns(s.last_hold_ns),
        fmt_ns(s.max_hold_ns),
        avg(s.total_hold_ns)
    );
    if s.max_hold_at != 0 {
        let _ = writeln!(out, "Longest hold: sync {}", s.max_hold_at);
    }
    a.output(&out);
    Ok(())
}

fn show_version(a: &mut Args<'_>, _cx: &mut CliCtx) -> Result<(), CliError> {
    let verbose = a.keyword("verbose");
    a.expect_end()?;
    let ver = env!("CARGO_PKG_VERSION");
    let mut out = format!("pwire v{ver} (VPP CLI compatible, L2TPv3 over IPv6)\n");
    if verbose {
        let _ = writeln!(out, "{:<25}v{}", "Version:", ver);
        let _ = writeln!(
            out,
            "{:<25}{}",
            "Compile profile:",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        let _ = writeln!(
            out,
            "{:<25}{}",
            "DPDK:",
            if cfg!(feature = "dpdk") {
                "yes"
            } else {
                "not compiled in"
            }
        );
        let _ = writeln!(out, "{:<25}{}", "Current PID:", std::process::id());
        let _ = writeln!(out, "{:<25}{:.0}", "TSC Hz:", pwire_graph::tsc_hz());
    }
    a.output(&out);
    Ok(())
}

fn show_node(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let name = a.word("node")?;
    a.expect_end()?;
    let e = cx.vnet.engine();
    let g = &e.graph;
    let Some(i) = g.node_index(name) else {
        return Err(CliError::unknown_input(name));
    };
    let n = &g.nodes[i];
    let kind = match n.kind {
        NodeKind::Input => "input",
        NodeKind::Internal => "internal",
        NodeKind::Process => "process",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {}, type {}, state {}, index {}",
        n.name,
        kind,
        node_state(n.kind).trim_matches('"'),
        i
    );
    if n.nexts.is_empty() {
        out.push_str("  no next nodes\n");
    } else {
        out.push_str("  next nodes:\n");
        let _ = writeln!(
            out,
            "{:>16}{:>12}{}",
            "next-index",
            "node-index",
            center("Node", 30)
        );
        for (k, (nx, t)) in n.nexts.iter().zip(&n.next_targets).enumerate() {
            let _ = writeln!(out, "{k:>16}{t:>12}{}", center(nx, 30));
        }
    }
    if !n.counters.is_empty() {
        out.push_str("  counters:\n");
        for c in &n.counters {
            let _ = writeln!(out, "    {} ({})", c.name, c.severity.as_str());
        }
    }
    a.output(&out);
    Ok(())
}

fn kinds_name(k: u8) -> String {
    let mut s = String::new();
    for (bit, n) in [(1u8, "rx"), (2, "tx"), (4, "drop")] {
        if k & bit != 0 {
            s.push_str(n);
        }
    }
    s
}

fn kinds_words(k: u8) -> String {
    let v: Vec<&str> = [(1u8, "rx"), (2, "tx"), (4, "drop")]
        .iter()
        .filter(|(b, _)| k & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(" and ")
}

fn pcap_trace(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let mut kinds = 0u8;
    let (mut off, mut status) = (false, false);
    let mut max: Option<usize> = None;
    let mut max_bytes: Option<usize> = None;
    let mut file: Option<String> = None;
    let mut intfc: Option<Option<u32>> = None;
    while !a.is_empty() {
        if a.keyword("rx") {
            kinds |= CaptureKind::Rx as u8;
        } else if a.keyword("tx") {
            kinds |= CaptureKind::Tx as u8;
        } else if a.keyword("drop") {
            kinds |= CaptureKind::Drop as u8;
        } else if a.keyword("off") {
            off = true;
        } else if a.keyword("status") {
            status = true;
        } else if a.keyword("max") || a.keyword("packets-to-capture") {
            max = Some(a.value("max")?);
        } else if a.keyword("max-bytes-per-pkt") {
            max_bytes = Some(a.value("max-bytes-per-pkt")?);
        } else if a.keyword("file") {
            file = Some(a.word("file")?.to_string());
        } else if a.keyword("intfc") || a.keyword("interface") {
            if a.keyword("any") {
                intfc = Some(None);
            } else {
                intfc = Some(Some(cx.vnet.parse_if(&cx.ctl, a)?));
            }
        } else if a.keyword("filter") || a.keyword("preallocate-data") || a.keyword("free-data") {
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let pc = &cx.vnet.pcap;
    let mut b = pc.buf.lock().unwrap_or_else(|p| p.into_inner());
    if status {
        if b.kinds == 0 {
            a.output("pcap dispatch capture disabled");
        } else {
            a.output(&format!(
                "pcap {} dispatch capture enabled: {} of {} pkts...\ncapture to file {}",
                kinds_words(b.kinds),
                b.packets.len(),
                b.max,
                b.file
            ));
        }
        return Ok(());
    }
    if off {
        if b.kinds == 0 {
            return Err(CliError::msg("dispatch trace already disabled..."));
        }
        pc.set_enabled(0);
        b.kinds = 0;
        let pkts = std::mem::take(&mut b.packets);
        if pkts.is_empty() {
            return Err(CliError::msg("No packets captured..."));
        }
        let file = b.file.clone();
        drop(b);
        write_pcap(&file, &pkts)
            .map_err(|e| CliError::msg(format!("I/O writing trace capture... ({e})")))?;
        a.output(&format!(
            "Write {} packets to {}, and stop capture...",
            pkts.len(),
            file
        ));
        return Ok(());
    }
    if kinds == 0 {
        return Err(CliError::msg(
            "pcap trace: specify rx, tx and/or drop, or off, or status",
        ));
    }
    if b.kinds != 0 {
        return Err(CliError::msg("dispatch trace already enabled..."));
    }
    let mb = max_bytes.unwrap_or(512);
    if !(32..=9000).contains(&mb) {
        return Err(CliError::msg("Max bytes per pkt must be > 32, < 9000..."));
    }
    let name = match file {
        Some(f) => {
            if f.contains('/') || f.contains("..") {
                return Err(CliError::msg(format!(
                    "file name must be a plain name (put in /tmp): `{f}'"
                )));
            }
            format!("/tmp/{f}")
        }
        None => format!("/tmp/{}.pcap", kinds_name(kinds)),
    };
    b.kinds = kinds;
    b.max = max.unwrap_or(1000);
    b.max_bytes = mb;
    b.file = name;
    b.sw_if_index = intfc.flatten();
    b.packets.clear();
    pc.set_enabled(kinds);
    Ok(())
}

/// Seconds since start as a pcap time stamp.
pub fn pcap_ts(t: f64) -> pwire_pcap::Timestamp {
    std::time::Duration::from_secs_f64(t.max(0.0)).into()
}

fn write_pcap(path: &str, pkts: &[(f64, u32, Vec<u8>)]) -> std::io::Result<()> {
    let f = std::fs::File::create(path)?;
    let mut w =
        pwire_pcap::PcapWriter::new(std::io::BufWriter::new(f), pwire_pcap::LINKTYPE_ETHERNET)?;
    for (t, orig, data) in pkts {
        w.write_record(pcap_ts(*t), *orig, data)?;
    }
    w.flush()?;
    Ok(())
}

/// Used by tests of other crates: the engine of a `Vnet`.
pub fn engine(v: &Vnet) -> &crate::Engine {
    v.engine()
}

#[cfg(test)]
mod tests {
    use crate::registry::{cmd, Registry};
    use crate::Dataplane;
    use pwire_graph::runtime::Pin;
    use std::time::Duration;

    /// `test hold <ms>` (not mp-safe, writes nothing) sleeps; `test peek` (mp-safe) says
    /// whether its context holds the barrier.
    fn reg(r: &mut Registry) {
        r.command(cmd("test hold", "test hold <ms>", false, |a, _| {
            let ms: u64 = a.value("ms")?;
            a.expect_end()?;
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        }));
        r.command(cmd("test peek", "test peek", true, |a, cx| {
            a.expect_end()?;
            a.output(if cx.ctl.holds_barrier() {
                "parked"
            } else {
                "running"
            });
            Ok(())
        }));
    }

    fn dataplane(conf: &str) -> Dataplane {
        let cfg = pwire_config::parse_str("t.conf", conf).unwrap();
        Dataplane::build(cfg, &[reg]).unwrap()
    }

    fn exec(d: &mut Dataplane, line: &str) -> String {
        d.exec(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn show_barrier_reports_holds_of_commands_that_are_not_mp_safe() {
        let mut d = dataplane("cpu { workers 1 }\nbuffers { buffers-per-numa 1024 }");
        // Start-up may have written state under the barrier already.
        let n0 = d.vnet.engine().barrier.syncs();
        exec(&mut d, "clear barrier");
        let s = exec(&mut d, "show barrier");
        assert!(
            s.starts_with(&format!("Workers 1, syncs {n0} (0 since clear)\n")),
            "{s}"
        );
        assert!(!s.contains("Longest hold"), "{s}");
        // mp-safe: runs beside the workers.
        assert_eq!(exec(&mut d, "test peek"), "running\n");
        exec(&mut d, "test hold 5");
        let b = &d.vnet.engine().barrier;
        assert_eq!(
            b.syncs(),
            n0 + 1,
            "a command that is not mp-safe parks the workers"
        );
        assert!(b.stats().max_hold_ns >= 5_000_000, "{:?}", b.stats());
        exec(&mut d, "test hold 0");
        let s = exec(&mut d, "show barrier");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            format!("Workers 1, syncs {} (2 since clear)", n0 + 2),
            "{s}"
        );
        assert_eq!(
            lines[1],
            format!("{:<18}{:>12}{:>12}{:>12}", "", "Last", "Max", "Average")
        );
        assert!(lines[2].starts_with("Wait for workers  "), "{s}");
        // The 5 ms hold is the longest, in ms; the last one took well under it.
        let held: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(held[0], "Held", "{s}");
        let ms = |t: &str| match t.strip_suffix("ms") {
            Some(v) => v.parse::<f64>().unwrap(),
            None => t.strip_suffix('s').unwrap().parse::<f64>().unwrap() * 1e3,
        };
        assert!(ms(held[2]) >= 5.0, "{s}");
        assert_eq!(lines[4], format!("Longest hold: sync {}", n0 + 1), "{s}");
        exec(&mut d, "clear barrier");
        let s = exec(&mut d, "show barrier");
        assert!(
            s.starts_with(&format!("Workers 1, syncs {} (0 since clear)\n", n0 + 2)),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "{:<18}{:>12}{:>12}{:>12}",
                "Held", "0ns", "0ns", "0ns"
            )),
            "{s}"
        );
    }

    #[test]
    fn show_threads_says_when_a_thread_could_not_be_pinned() {
        let mut d = dataplane("cpu { workers 1 }\nbuffers { buffers-per-numa 1024 }");
        let e = d.vnet.engine();
        assert_ne!(e.threads[1].pin(), Pin::Failed);
        let t = exec(&mut d, "show threads");
        assert!(!t.contains("pin failed"), "{t}");
        // What a worker records when the OS refuses its CPU (CPU hot-unplugged, cpuset).
        d.vnet.engine().threads[1].set_pin(false);
        let t = exec(&mut d, "show threads");
        let row = t.lines().find(|l| l.contains("vpp_wk_0")).unwrap();
        assert!(row.trim_end().ends_with("pin failed"), "{t}");
    }
}
