//! `packet-generator ...` and `create packet-generator interface` in VPP's syntax.

use crate::input::{PgIf, PgState, Stream};
use crate::tx::Capture;
use pwire_cli::{Args, CliError};
use pwire_graph::Shared;
use pwire_vnet::registry::cmd;
use pwire_vnet::Registry;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<PgState>>) {
    let s = st.clone();
    r.command(cmd(
        "create packet-generator interface",
        "create packet-generator interface pg<index> [hw-addr <mac>]",
        false,
        move |a, cx| {
            let w = a.word("interface name")?;
            let n: usize = w
                .strip_prefix("pg")
                .and_then(|d| d.parse().ok())
                .filter(|&n: &usize| n < 4096)
                .ok_or_else(|| CliError::msg(format!("expected pg<index> `{w}'")))?;
            let mut mac = [0x02, 0xfe, 0, 0, (n >> 8) as u8, n as u8];
            if a.keyword("hw-addr") {
                mac = a.mac("hw-addr")?;
            }
            a.expect_end()?;
            let name = format!("pg{n}");
            if cx.vnet.if_by_name(&cx.ctl, &name).is_some() {
                return Err(CliError::msg("Interface already exists"));
            }
            let class = cx
                .vnet
                .statics()
                .class_id("pg")
                .expect("pg class registered");
            let sw = cx
                .vnet
                .create_interface(&mut cx.ctl, name.clone(), class, n as u32, mac)
                .map_err(CliError::msg)?;
            if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
                i.link_up = true;
            }
            let p = s.write(&mut cx.ctl);
            if p.ifs.len() <= n {
                p.ifs.resize_with(n + 1, || None);
            }
            p.ifs[n] = Some(PgIf {
                sw_if_index: sw,
                capture: Arc::new(Mutex::new(None)),
            });
            a.output(&name);
            Ok(())
        },
    ));
    let s = st.clone();
    r.command(cmd(
        "packet-generator new",
        "packet-generator new { name <s> limit <n> [size <a>-<b>] [rate <pps>] [maxframe <n>] [worker <n>] [interface pg<N>] [tx-interface <if>] [node <node>] (pcap <file> | data { <hex> }) }",
        false,
        move |a, cx| new_stream(a, cx, &s),
    ));
    let s = st.clone();
    r.command(cmd(
        "packet-generator enable-stream",
        "packet-generator enable-stream [<name>]",
        true,
        move |a, cx| enable(a, cx, &s, true),
    ));
    let s = st.clone();
    r.command(cmd(
        "packet-generator disable-stream",
        "packet-generator disable-stream [<name>]",
        true,
        move |a, cx| enable(a, cx, &s, false),
    ));
    let s = st.clone();
    r.command(cmd(
        "packet-generator delete",
        "packet-generator delete <name>",
        false,
        move |a, cx| {
            let name = a.word("stream name")?;
            a.expect_end()?;
            let p = s.write(&mut cx.ctl);
            let k = p
                .streams
                .iter()
                .position(|x| x.name == name)
                .ok_or_else(|| CliError::msg(format!("no such stream `{name}'")))?;
            p.streams.remove(k);
            Ok(())
        },
    ));
    let s = st.clone();
    r.command(cmd(
        "packet-generator capture",
        "packet-generator capture <interface> (pcap <filename> [count <n>] | disable)",
        false,
        move |a, cx| capture(a, cx, &s),
    ));
    let s = st;
    r.command(cmd(
        "show packet-generator",
        "show packet-generator",
        true,
        move |a, cx| {
            a.expect_end()?;
            let p = s.get(&cx.ctl);
            let mut out = String::new();
            if p.streams.is_empty() {
                a.output("no streams");
                return Ok(());
            }
            let _ = writeln!(
                out,
                "{:<32}{}{}Parameters",
                "Name",
                pwire_vnet::builtin_cli::center("Enabled", 12),
                pwire_vnet::builtin_cli::center("Count", 16)
            );
            for st in &p.streams {
                let en = if st.enabled.load(Relaxed) {
                    "Yes"
                } else {
                    "No"
                };
                let _ = writeln!(
                    out,
                    "{:<32}{}{}limit {}, rate {}, size {}-{}, node {}, worker {}, {}",
                    st.name,
                    pwire_vnet::builtin_cli::center(en, 12),
                    pwire_vnet::builtin_cli::center(&st.sent.load(Relaxed).to_string(), 16),
                    st.limit,
                    pwire_vnet::builtin_cli::fmt_e(st.rate),
                    st.size.0,
                    st.size.1,
                    st.node,
                    st.thread.saturating_sub(1),
                    if st.done_str() { "done" } else { "running" }
                );
            }
            a.output(&out);
            Ok(())
        },
    ));
}

impl Stream {
    fn done_str(&self) -> bool {
        !self.enabled.load(Relaxed)
    }
}

fn parse_hex(text: &str) -> Result<Vec<u8>, CliError> {
    let mut digits = String::new();
    for w in text.split_whitespace() {
        let w = w.strip_prefix("0x").unwrap_or(w);
        if !w.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CliError::msg(format!("data: expected hex bytes `{w}'")));
        }
        digits.push_str(w);
    }
    if !digits.len().is_multiple_of(2) || digits.is_empty() {
        return Err(CliError::msg("data: odd or empty hex string"));
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or(0))
        .collect())
}

fn new_stream(
    a: &mut Args<'_>,
    cx: &mut pwire_vnet::CliCtx,
    st: &Arc<Shared<PgState>>,
) -> Result<(), CliError> {
    let body = a.braced_block()?;
    a.expect_end()?;
    let mut b = Args::new(body);
    let mut name = None;
    let mut limit = 0u64;
    let mut size: Option<(u16, u16)> = None;
    let mut rate = 0f64;
    let mut maxframe = pwire_graph::FRAME_SIZE;
    let mut worker: Option<usize> = None;
    let mut sw = None;
    let mut tx = !0u32;
    let mut node = "ethernet-input".to_string();
    let mut packets: Option<(Vec<Vec<u8>>, &str)> = None;
    while !b.is_empty() {
        if b.keyword("name") {
            name = Some(b.word("name")?.to_string());
        } else if b.keyword("limit") {
            limit = b.value("limit")?;
        } else if b.keyword("size") {
            let w = b.word("size")?;
            let (lo, hi) = w.split_once('-').unwrap_or((w, w));
            let lo: u16 = lo.parse().map_err(|_| CliError::expected("size", w))?;
            let hi: u16 = hi.parse().map_err(|_| CliError::expected("size", w))?;
            if lo > hi || lo == 0 {
                return Err(CliError::expected("size", w));
            }
            size = Some((lo, hi));
        } else if b.keyword("rate") {
            rate = b.value("rate")?;
        } else if b.keyword("maxframe") {
            maxframe = b
                .value::<usize>("maxframe")?
                .clamp(1, pwire_graph::FRAME_SIZE);
        } else if b.keyword("worker") {
            worker = Some(b.value("worker")?);
        } else if b.keyword("interface") {
            sw = Some(cx.vnet.parse_if(&cx.ctl, &mut b)?);
        } else if b.keyword("tx-interface") {
            tx = cx.vnet.parse_if(&cx.ctl, &mut b)?;
        } else if b.keyword("node") {
            node = b.word("node")?.to_string();
        } else if b.keyword("pcap") {
            let f = b.word("pcap file")?;
            let bytes =
                pwire_cli::read_file(f).map_err(|e| CliError::msg(format!("pcap `{f}': {e}")))?;
            let r = pwire_pcap::PcapReader::from_slice(&bytes)
                .map_err(|e| CliError::msg(format!("pcap `{f}': {e}")))?;
            let mut v = Vec::new();
            for rec in r.records() {
                let rec = rec.map_err(|e| CliError::msg(format!("pcap `{f}': {e}")))?;
                v.push(rec.data.to_vec());
            }
            if v.is_empty() {
                return Err(CliError::msg(format!("pcap `{f}': no packets")));
            }
            packets = Some((v, "pcap"));
        } else if b.keyword("data") {
            let d = parse_hex(b.braced_block()?)?;
            packets = Some((vec![d], "data"));
        } else {
            return Err(CliError::unknown_input(b.rest()));
        }
    }
    let name = name.ok_or_else(|| CliError::msg("stream name required"))?;
    let (packets, source) =
        packets.ok_or_else(|| CliError::msg("pcap <file> or data { <hex> } required"))?;
    let g = &cx.vnet.statics().graph;
    let next = g
        .next_index("pg-input", &node)
        .ok_or_else(|| CliError::msg(format!("unknown node `{node}'")))?;
    let n_threads = cx.vnet.engine().threads.len();
    let thread = match worker {
        Some(w) if w + 1 < n_threads => w + 1,
        Some(w) => return Err(CliError::msg(format!("worker {w} does not exist"))),
        None if n_threads > 1 => 1,
        None => 0,
    };
    let sw = sw.unwrap_or(0);
    let (lo, hi) = size.unwrap_or_else(|| {
        let l = packets.iter().map(|p| p.len()).min().unwrap_or(0) as u16;
        let h = packets.iter().map(|p| p.len()).max().unwrap_or(0) as u16;
        (l, h)
    });
    let stream = Stream {
        name: name.clone(),
        limit,
        size: (lo, hi),
        rate,
        maxframe,
        thread,
        sw_if_index: sw,
        tx_sw_if_index: tx,
        node,
        next,
        packets,
        source: source.to_string(),
        enabled: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        t_start: AtomicU64::new(0),
        sent_at_start: AtomicU64::new(0),
    };
    let p = st.write(&mut cx.ctl);
    if let Some(k) = p.streams.iter().position(|x| x.name == name) {
        p.streams[k] = Arc::new(stream);
    } else {
        p.streams.push(Arc::new(stream));
    }
    Ok(())
}

fn enable(
    a: &mut Args<'_>,
    cx: &mut pwire_vnet::CliCtx,
    st: &Arc<Shared<PgState>>,
    on: bool,
) -> Result<(), CliError> {
    let name = a.next_word().map(str::to_string);
    a.expect_end()?;
    let now = cx.vnet.engine().now();
    let p = st.get(&cx.ctl);
    let mut found = false;
    for s in &p.streams {
        if name.as_deref().is_some_and(|n| n != s.name) {
            continue;
        }
        found = true;
        if on {
            // Enabling restarts the stream, as VPP does.
            s.sent.store(0, Relaxed);
            s.sent_at_start.store(0, Relaxed);
            s.t_start.store(now.to_bits(), Relaxed);
        }
        s.enabled.store(on, Relaxed);
    }
    if !found {
        if let Some(n) = name {
            return Err(CliError::msg(format!("no such stream `{n}'")));
        }
    }
    Ok(())
}

fn capture(
    a: &mut Args<'_>,
    cx: &mut pwire_vnet::CliCtx,
    st: &Arc<Shared<PgState>>,
) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let inst = {
        let s = cx.vnet.state.get(&cx.ctl);
        let i = s
            .get(sw)
            .ok_or_else(|| CliError::msg("unknown interface"))?;
        if cx.vnet.statics().class(i.class).name != "pg" {
            return Err(CliError::msg(format!(
                "{} is not a packet-generator interface",
                i.name
            )));
        }
        i.dev_instance as usize
    };
    let p = st.get(&cx.ctl);
    let pg = p
        .ifs
        .get(inst)
        .and_then(|x| x.as_ref())
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    if a.keyword("disable") {
        a.expect_end()?;
        let mut c = pg.capture.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut cap) = c.take() {
            let _ = cap.writer.flush();
        }
        return Ok(());
    }
    if !a.keyword("pcap") {
        return Err(CliError::unknown_input(a.rest()));
    }
    let file = a.word("pcap file")?.to_string();
    let mut count = u64::MAX;
    if a.keyword("count") {
        count = a.value("count")?;
    }
    a.expect_end()?;
    let f = std::fs::File::create(&file).map_err(|e| CliError::msg(format!("{file}: {e}")))?;
    let mut writer =
        pwire_pcap::PcapWriter::new(std::io::BufWriter::new(f), pwire_pcap::LINKTYPE_ETHERNET)
            .map_err(|e| CliError::msg(format!("{file}: {e}")))?;
    // The header is on disk at once: a capture that sees no packet is a valid empty pcap.
    writer
        .flush()
        .map_err(|e| CliError::msg(format!("{file}: {e}")))?;
    *pg.capture.lock().unwrap_or_else(|e| e.into_inner()) = Some(Capture {
        file,
        remaining: count,
        writer,
        written: 0,
    });
    p.capture_armed.store(true, Relaxed);
    Ok(())
}
