//! Interface CLI in VPP's syntax and layout (vnet/interface_cli.c, interface_format.c).

use pwire_cli::{Args, CliError};
use pwire_vnet::builtin_cli::center;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Interface, L2Mode, Registry, RxMode, VnetState, IF_COUNTER_NAMES};
use std::fmt::Write as _;

pub(crate) fn register(r: &mut Registry) {
    r.command(cmd(
        "show interface",
        "show interface [address|addr] [<interface> ...]",
        true,
        show_interface,
    ));
    r.command(cmd(
        "set interface state",
        "set interface state <interface> [up|down|punt|enable]",
        false,
        set_state,
    ));
    r.command(cmd(
        "show hardware-interfaces",
        "show hardware-interfaces [brief|verbose|detail] [<interface> ...]",
        true,
        show_hw,
    ));
    r.command(cmd(
        "clear interfaces",
        "clear interfaces",
        false,
        |a, cx| {
            a.expect_end()?;
            let s = cx.vnet.state.write(&mut cx.ctl);
            for sw in 0..s.ifs.len() as u32 {
                s.clear_counters(sw);
            }
            Ok(())
        },
    ));
    r.command(cmd(
        "set interface mtu",
        "set interface mtu [packet|ip4|ip6|mpls] <value> <interface>",
        false,
        set_mtu,
    ));
    r.command(cmd(
        "set interface rx-mode",
        "set interface rx-mode <interface> [queue <n>] [polling | interrupt | adaptive]",
        false,
        set_rx_mode,
    ));
    r.command(cmd(
        "show interface rx-placement",
        "show interface rx-placement",
        true,
        show_rx_placement,
    ));
    r.command(cmd(
        "set interface rx-placement",
        "set interface rx-placement <interface> [queue <n>] [worker <n> | main]",
        false,
        set_rx_placement,
    ));
}

fn sorted(s: &VnetState) -> Vec<&Interface> {
    let mut v: Vec<&Interface> = s.ifs.iter().filter(|i| !i.deleted).collect();
    v.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    v
}

fn state_str(i: &Interface) -> &'static str {
    if i.admin_up {
        "up"
    } else {
        "down"
    }
}

fn parse_if_list(a: &mut Args<'_>, cx: &CliCtx) -> Result<Vec<u32>, CliError> {
    let mut v = Vec::new();
    while !a.is_empty() {
        v.push(cx.vnet.parse_if(&cx.ctl, a)?);
    }
    Ok(v)
}

fn show_interface(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let address = a.keyword("address") || a.keyword("addr");
    let _ = a.keyword("verbose");
    let only = parse_if_list(a, cx)?;
    let s = cx.vnet.state.get(&cx.ctl);
    let mut out = String::new();
    let list: Vec<&Interface> = sorted(s)
        .into_iter()
        .filter(|i| only.is_empty() || only.contains(&i.sw_if_index))
        .collect();
    if address {
        for i in list {
            let _ = writeln!(
                out,
                "{} ({}):",
                i.name,
                if i.admin_up { "up" } else { "dn" }
            );
            match i.l2 {
                L2Mode::Bridge {
                    bd_id,
                    bd_index,
                    bvi,
                    shg,
                } => {
                    let _ = writeln!(
                        out,
                        "  L2 bridge bd-id {bd_id} idx {bd_index} shg {shg} {}",
                        if bvi { "bvi" } else { "" }
                    );
                }
                L2Mode::Xconnect { peer } => {
                    let _ = writeln!(
                        out,
                        "  L2 xconnect {}",
                        s.ifs.get(peer as usize).map_or("?", |p| p.name.as_str())
                    );
                }
                L2Mode::L3 => {}
            }
            for (addr, len) in cx.vnet.hooks.ip4_addrs(&cx.ctl, i.sw_if_index) {
                let _ = writeln!(out, "  L3 {addr}/{len}");
            }
            for (addr, len) in &i.ip6_addrs {
                let _ = writeln!(out, "  L3 {addr}/{len}");
            }
        }
        a.output(&out);
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{}{}{}{}{}{}",
        center("Name", 32),
        center("Idx", 5),
        center("State", 10),
        center("MTU (L3/IP4/IP6/MPLS)", 21),
        center("Counter", 16),
        center("Count", 16)
    );
    for i in list {
        let mtu = format!("{}/{}/{}/{}", i.mtu[0], i.mtu[1], i.mtu[2], i.mtu[3]);
        let mut line = format!(
            "{:<32}{}{}{}",
            i.name,
            center(&i.sw_if_index.to_string(), 5),
            center(state_str(i), 10),
            center(&mtu, 21)
        );
        let mut first = true;
        for (c, name) in IF_COUNTER_NAMES.iter().enumerate() {
            let v = s.counter(i.sw_if_index, c);
            if v == 0 {
                continue;
            }
            if !first {
                line.push('\n');
                line.push_str(&" ".repeat(68));
            }
            first = false;
            let _ = write!(line, "{name:<16}{v:>16}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    a.output(&out);
    Ok(())
}

fn set_state(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let up = if a.keyword("up") {
        true
    } else if a.keyword("down") {
        false
    } else if a.keyword("punt") || a.keyword("enable") {
        return Ok(());
    } else {
        return Err(CliError::msg(format!("unknown flags `{}'", a.rest())));
    };
    a.expect_end()?;
    let s = cx.vnet.state.write(&mut cx.ctl);
    let i = s
        .get_mut(sw)
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    let changed = i.admin_up != up;
    i.admin_up = up;
    if changed {
        cx.vnet.log.notice(
            pwire_vnet::log::class::INTERFACE,
            format_args!("{} admin {}", i.name, if up { "up" } else { "down" }),
        );
        let vnet = cx.vnet.clone();
        vnet.hooks.run_admin_change(cx, sw, up);
    }
    Ok(())
}

fn mac_str(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn thread_name(cx: &CliCtx, t: usize) -> String {
    let e = cx.vnet.engine();
    e.threads
        .get(t)
        .map_or(format!("thread {t}"), |th| format!("{} ({})", th.name, t))
}

fn show_hw(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let brief = a.keyword("brief");
    let verbose = a.keyword("verbose") || a.keyword("detail");
    let only = parse_if_list(a, cx)?;
    let st = cx.vnet.statics();
    let s = cx.vnet.state.get(&cx.ctl);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}{}Hardware",
        center("Name", 32),
        center("Idx", 6),
        center("Link", 8)
    );
    // Sub-interfaces have no hardware of their own (VPP lists hardware interfaces only).
    for i in sorted(s).into_iter().filter(|i| i.vlan.sub.is_none()) {
        if !only.is_empty() && !only.contains(&i.sw_if_index) {
            continue;
        }
        let class = st.class(i.class);
        let link = if i.link_up { "up" } else { "down" };
        let _ = writeln!(
            out,
            "{:<32}{}{}{}",
            i.name,
            center(&i.sw_if_index.to_string(), 6),
            center(link, 8),
            i.name
        );
        if brief {
            continue;
        }
        if class.name == "l2tpv3" {
            out.push_str("  L2TPV3\n");
            continue;
        }
        if class.name == "local" {
            continue;
        }
        let _ = writeln!(out, "  Link speed: unknown");
        if class.ethernet {
            out.push_str("  RX Queues:\n    queue thread         mode\n");
            for q in 0..i.n_rx_queues() {
                let _ = writeln!(
                    out,
                    "    {:<5} {:<14} {}",
                    q,
                    thread_name(cx, i.rx_queue_thread(q)),
                    i.rx_mode.as_str()
                );
            }
            let _ = writeln!(out, "  Ethernet address {}", mac_str(&i.mac));
            let _ = writeln!(out, "  {}, hardware MTU {}", class.hw_class, i.hw_mtu);
        }
        out.push_str(&cx.vnet.hooks.show_hw(cx, class.name, i, verbose));
    }
    a.output(&out);
    Ok(())
}

fn set_mtu(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let which = if a.keyword("packet") {
        0
    } else if a.keyword("ip4") {
        1
    } else if a.keyword("ip6") {
        2
    } else if a.keyword("mpls") {
        3
    } else {
        0
    };
    let v: u32 = a.value("mtu")?;
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    a.expect_end()?;
    if !(64..=65535).contains(&v) {
        return Err(CliError::msg(format!("Invalid mtu `{v}' (64..65535)")));
    }
    let s = cx.vnet.state.write(&mut cx.ctl);
    let i = s
        .get_mut(sw)
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    if which == 0 {
        if i.hw_mtu != 0 && v > i.hw_mtu.max(9000) {
            return Err(CliError::msg(format!(
                "mtu {v} exceeds the hardware maximum {}",
                i.hw_mtu.max(9000)
            )));
        }
        i.mtu[0] = v;
    } else {
        i.mtu[which] = v;
    }
    Ok(())
}

fn set_rx_mode(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let (n_queues, class) = {
        let s = cx.vnet.state.get(&cx.ctl);
        s.get(sw).map_or((1, ""), |i| {
            (i.n_rx_queues(), cx.vnet.statics().class(i.class).name)
        })
    };
    if a.keyword("queue") {
        let q: u32 = a.value("queue")?;
        if q as usize >= n_queues {
            return Err(CliError::msg(format!("queue {q} does not exist")));
        }
    }
    let mode = if a.keyword("polling") {
        RxMode::Polling
    } else if a.keyword("interrupt") {
        RxMode::Interrupt
    } else if a.keyword("adaptive") {
        RxMode::Adaptive
    } else {
        return Err(CliError::msg(
            "please specify a mode: polling, interrupt or adaptive",
        ));
    };
    a.expect_end()?;
    // pwire's DPDK driver polls (rx interrupts are not wired up).
    if class == "dpdk" && mode != RxMode::Polling {
        return Err(CliError::msg(format!(
            "rx-mode {} is not supported by dpdk interfaces (polling only)",
            mode.as_str()
        )));
    }
    let s = cx.vnet.state.write(&mut cx.ctl);
    let i = s
        .get_mut(sw)
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    i.rx_mode = mode;
    Ok(())
}

fn show_rx_placement(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    a.expect_end()?;
    let st = cx.vnet.statics();
    let s = cx.vnet.state.get(&cx.ctl);
    let e = cx.vnet.engine();
    let mut out = String::new();
    for (t, th) in e.threads.iter().enumerate() {
        let mine: Vec<&Interface> = sorted(s)
            .into_iter()
            .filter(|i| {
                (0..i.n_rx_queues()).any(|q| i.rx_queue_thread(q) == t)
                    && i.vlan.sub.is_none()
                    && st.class(i.class).ethernet
                    && st.class(i.class).name != "loopback"
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(out, "Thread {} ({}):", t, th.name);
        let mut by_node: Vec<(&str, Vec<&Interface>)> = Vec::new();
        for i in mine {
            let node = match st.class(i.class).name {
                "af-packet" => "af-packet-input",
                "pg" => "pg-input",
                "dpdk" => "dpdk-input",
                other => other,
            };
            match by_node.iter_mut().find(|(n, _)| *n == node) {
                Some((_, v)) => v.push(i),
                None => by_node.push((node, vec![i])),
            }
        }
        for (node, ifs) in by_node {
            let _ = writeln!(out, "  node {node}:");
            for i in ifs {
                for q in (0..i.n_rx_queues()).filter(|&q| i.rx_queue_thread(q) == t) {
                    let _ = writeln!(out, "    {} queue {q} ({})", i.name, i.rx_mode.as_str());
                }
            }
        }
    }
    a.output(&out);
    Ok(())
}

fn set_rx_placement(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let n_queues = cx
        .vnet
        .state
        .get(&cx.ctl)
        .get(sw)
        .map_or(1, |i| i.n_rx_queues());
    // Without `queue`, every queue of the interface moves (VPP's default).
    let mut queues = 0..n_queues;
    if a.keyword("queue") {
        let q: u32 = a.value("queue")?;
        if q as usize >= n_queues {
            return Err(CliError::msg(format!("queue {q} does not exist")));
        }
        queues = q as usize..q as usize + 1;
    }
    let n_threads = cx.vnet.engine().threads.len();
    let t = if a.keyword("main") {
        0
    } else if a.keyword("worker") {
        let w: usize = a.value("worker")?;
        if w + 1 >= n_threads {
            return Err(CliError::msg(format!(
                "please specify valid worker thread or main (worker {w} does not exist)"
            )));
        }
        w + 1
    } else {
        return Err(CliError::msg("please specify valid worker thread or main"));
    };
    a.expect_end()?;
    let s = cx.vnet.state.write(&mut cx.ctl);
    let i = s
        .get_mut(sw)
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    for q in queues {
        i.set_rx_queue_thread(q, t);
    }
    Ok(())
}
