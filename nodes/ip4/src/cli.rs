//! IPv4 CLI in VPP's syntax and layouts (vnet/ip/ip46_cli.c, lookup.c, fib/ip4_fib.c,
//! ip-neighbor/ip_neighbor.c).
//!
//! VPP's IP commands are family-neutral and their paths belong to the ip6 crate; it hands an
//! IPv4 argument here through `pwire_vnet::hooks` ([`run`]):
//! - `set interface ip address [del] <if> <a.b.c.d>/<n> [del]` | `... del <if> all`: each
//!   address adds a receive /32, the connected prefix (glean) and, below /31, the network and
//!   broadcast /32s (drop), and is announced by gratuitous ARP when the interface is up;
//! - `ip route [add|del] <a.b.c.d>/<n> via <a.b.c.d> [<if>]` | `via <if>` (del without a path
//!   removes them all);
//! - `set ip neighbor [del] <if> <a.b.c.d> <mac> [static] [no-fib-entry]`;
//! - `set ip neighbor-config ip4 limit <n>` and its `show ip neighbor-config` lines;
//! - `ping <a.b.c.d>` ([`crate::ping`]);
//! - the IPv4 rows of `show ip neighbors`.
//!
//! Registered here: `show ip fib [summary] [table 0] [<addr>[/<len>]]` (VPP's four lines per
//! prefix, sorted) and `show ip4 neighbors` / `show ip4 neighbor` (IPv4 rows only).

use crate::state::{ip4_mtu, Fwd, Ip4Cp, Ip4Dp, Path};
use crate::Ip4Main;
use pwire_cli::{Args, CliError};
use pwire_vnet::builtin_cli::center;
use pwire_vnet::hooks::Ip4Cmd;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Registry, VnetState};
use pwire_wire::ipv4::mask;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let (c1, c2) = (m.clone(), m.clone());
    r.vnet.hooks.set_ip4_cli(
        Box::new(move |what, a, cx| run(what, a, cx, &c1)),
        Box::new(move |cx, sw| neighbor_rows(cx, sw, &c2)),
    );
    let c = m.clone();
    r.command(cmd(
        "show ip fib",
        "show ip fib [summary] [table <id>] [<addr>[/<len>]]",
        true,
        move |a, cx| show_fib(a, cx, &c),
    ));
    for path in ["show ip4 neighbors", "show ip4 neighbor"] {
        let c = m.clone();
        r.command(cmd(
            path,
            "show ip4 neighbors [interface]",
            true,
            move |a, cx| show_neighbors(a, cx, &c),
        ));
    }
}

/// The IPv4 half of a family-neutral command.
fn run(what: Ip4Cmd, a: &mut Args<'_>, cx: &mut CliCtx, m: &Arc<Ip4Main>) -> Result<(), CliError> {
    match what {
        Ip4Cmd::SetAddress => set_address(a, cx, m),
        Ip4Cmd::Route => route(a, cx, m),
        Ip4Cmd::SetNeighbor => set_neighbor(a, cx, m),
        Ip4Cmd::NeighborConfig => set_neighbor_config(a, cx, m),
        Ip4Cmd::ShowNeighborConfig => {
            let limit = m.cp.lock().unwrap_or_else(|e| e.into_inner()).nbr_limit;
            a.output(&format!("ip4:\n  limit:{limit}, age:0, recycle:0"));
            Ok(())
        }
        Ip4Cmd::Ping => crate::ping::ping(a, cx, m),
    }
}

fn err(s: impl Into<String>) -> CliError {
    CliError::msg(s)
}

fn parse_prefix(a: &mut Args<'_>) -> Result<(Ipv4Addr, u8), CliError> {
    let bad = || err(format!("expected IP4/IP6 address/length `{}'", a.rest()));
    let w = a.peek().ok_or_else(bad)?;
    let (x, l) = w.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = x.parse().map_err(|_| bad())?;
    let digits = !l.is_empty() && l.bytes().all(|c| c.is_ascii_digit());
    let len: u8 = l
        .parse()
        .ok()
        .filter(|&l| digits && l <= 32)
        .ok_or_else(bad)?;
    a.next_word();
    Ok((addr, len))
}

/// An interface's IPv4 addresses: (sw_if_index, name, addresses).
type IfAddrs = (u32, String, Vec<(Ipv4Addr, u8)>);

/// The IPv4 addresses of every interface, with its name.
fn all_addrs(cx: &CliCtx, m: &Ip4Main) -> Vec<IfAddrs> {
    let dp = m.dp.get(&cx.ctl);
    let vs = cx.vnet.state.get(&cx.ctl);
    dp.ifs
        .iter()
        .enumerate()
        .filter(|(_, i)| i.enabled())
        .filter_map(|(sw, i)| {
            let v = vs.get(sw as u32)?;
            Some((sw as u32, v.name.clone(), i.addrs.clone()))
        })
        .collect()
}

fn set_address(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    let mut del = a.keyword("del");
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    if del && a.keyword("all") {
        a.expect_end()?;
        let addrs =
            m.dp.get(&cx.ctl)
                .iface(sw)
                .map(|i| i.addrs.clone())
                .unwrap_or_default();
        for (x, l) in addrs {
            m.change(&mut cx.ctl, |f| f.del_address(sw, x, l))
                .map_err(err)?;
        }
        return Ok(());
    }
    let (addr, len) = parse_prefix(a)?;
    del |= a.keyword("del");
    a.expect_end()?;
    let name = cx.vnet.if_name(&cx.ctl, sw);
    if del {
        if !m
            .change(&mut cx.ctl, |f| f.del_address(sw, addr, len))
            .map_err(err)?
        {
            return Err(err(format!("address {addr}/{len} not found on {name}")));
        }
        return Ok(());
    }
    let x = u32::from(addr);
    if x == 0 || x == u32::MAX || pwire_wire::ipv4::is_multicast(x) {
        return Err(err(format!("invalid address {addr}/{len}")));
    }
    for (osw, oname, list) in all_addrs(cx, m) {
        for (y, l) in list {
            if osw == sw && (y, l) == (addr, len) {
                return Ok(());
            }
            let conflict = if osw == sw {
                y == addr
            } else {
                (u32::from(y) ^ x) & mask(l.min(len)) == 0
            };
            if conflict {
                return Err(err(format!(
                    "failed to add {addr}/{len} on {name} which conflicts with {y}/{l} for interface {oname}"
                )));
            }
        }
    }
    m.change(&mut cx.ctl, |f| f.add_address(sw, addr, len))
        .map_err(err)?;
    crate::arp::announce(cx, sw, addr);
    Ok(())
}

fn route(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    let del = if a.keyword("del") {
        true
    } else {
        let _ = a.keyword("add");
        false
    };
    let (addr, len) = parse_prefix(a)?;
    let mut path = None;
    if a.keyword("via") {
        let nh = match a.peek().map(|w| w.parse::<Ipv4Addr>()) {
            Some(Ok(x)) => {
                a.next_word();
                Some(x)
            }
            _ => None,
        };
        let sw = if a.is_empty() {
            None
        } else {
            Some(cx.vnet.parse_if(&cx.ctl, a)?)
        };
        if nh.is_none() && sw.is_none() {
            return Err(err(format!(
                "expected next hop address or interface `{}'",
                a.rest()
            )));
        }
        if nh.is_some_and(|x| x.is_unspecified() || x.is_broadcast() || x.is_multicast()) {
            return Err(err(format!("invalid next hop `{}'", nh.unwrap_or(addr))));
        }
        path = Some(Path { nh, sw });
    }
    a.expect_end()?;
    let addr = u32::from(addr) & mask(len);
    if del {
        if !m
            .change(&mut cx.ctl, |f| f.del_route(addr, len, path))
            .map_err(err)?
        {
            return Err(err(format!("no such route {}/{len}", Ipv4Addr::from(addr))));
        }
        return Ok(());
    }
    let Some(p) = path else {
        return Err(err("expected via <next-hop-addr> [<interface>]"));
    };
    m.change(&mut cx.ctl, |f| f.add_route(addr, len, p))
        .map_err(err)
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn set_neighbor(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    let del = a.keyword("del");
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let ip: Ipv4Addr = a
        .value("ip address")
        .map_err(|_| err(format!("expected IP address `{}'", a.rest())))?;
    let mac = if del && a.is_empty() {
        [0; 6]
    } else {
        a.mac("mac address")?
    };
    let mut is_static = false;
    let mut no_fib = false;
    while !a.is_empty() {
        if a.keyword("static") {
            is_static = true;
        } else if a.keyword("no-fib-entry") {
            no_fib = true;
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    if del {
        if !m
            .change(&mut cx.ctl, |f| f.del_neighbor(sw, ip))
            .map_err(err)?
        {
            return Err(err(format!("no such neighbor {ip}")));
        }
        return Ok(());
    }
    if mac[0] & 1 != 0 {
        return Err(err(format!("invalid MAC address {}", fmt_mac(&mac))));
    }
    if pwire_wire::ipv4::is_special_source(u32::from(ip)) {
        return Err(err(format!("invalid neighbor address {ip}")));
    }
    let if_mac = cx
        .vnet
        .state
        .get(&cx.ctl)
        .get(sw)
        .map(|i| i.mac)
        .ok_or_else(|| err("unknown interface"))?;
    {
        let cp = m.cp.lock().unwrap_or_else(|e| e.into_inner());
        if cp.nbr_over_limit(sw, ip) {
            return Err(err(format!(
                "neighbor limit reached ({}): not adding {ip}",
                cp.nbr_limit
            )));
        }
    }
    let now = cx.vnet.engine().now();
    m.change(&mut cx.ctl, |f| {
        f.add_neighbor(sw, ip, mac, if_mac, is_static, no_fib, now)
    })
    .map(drop)
    .map_err(err)
}

/// `set ip neighbor-config ip4 limit <n>` (the `ip4` word is still there).
fn set_neighbor_config(a: &mut Args<'_>, _cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    if !a.keyword("ip4") {
        return Err(err("expected ip4 or ip6"));
    }
    let mut limit = None;
    while !a.is_empty() {
        if a.keyword("limit") {
            limit = Some(a.u32("limit")?);
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    if let Some(n) = limit {
        // Control-plane only: nothing the workers read.
        m.cp.lock().unwrap_or_else(|e| e.into_inner()).nbr_limit = n as usize;
    }
    Ok(())
}

fn if_name(vs: &VnetState, sw: u32) -> String {
    vs.ifs
        .get(sw as usize)
        .map_or_else(|| format!("sw_if_index {sw}"), |i| i.name.clone())
}

/// The IPv4 rows of `show ip neighbors`, as the IPv6 ones (VPP's `format_ip_neighbor`).
fn neighbor_rows(cx: &CliCtx, only: Option<u32>, m: &Ip4Main) -> Vec<String> {
    let cp = m.cp.lock().unwrap_or_else(|e| e.into_inner());
    let vs = cx.vnet.state.get(&cx.ctl);
    cp.nbrs
        .iter()
        .filter(|(k, _)| only.is_none_or(|s| s == k.0))
        .map(|((sw, ip), n)| {
            let mut fl = String::from(if n.is_static { "S" } else { "D" });
            if n.no_fib {
                fl.push('N');
            }
            format!(
                "{}{}{}{}{}",
                center(&format!("{:.4}", n.updated), 12),
                center(&Ipv4Addr::from(*ip).to_string(), 40),
                center(&fl, 6),
                center(&fmt_mac(&n.mac), 20),
                if_name(vs, *sw)
            )
        })
        .collect()
}

fn show_neighbors(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    let only = if a.is_empty() {
        None
    } else {
        Some(cx.vnet.parse_if(&cx.ctl, a)?)
    };
    a.expect_end()?;
    let rows = neighbor_rows(cx, only, m);
    if rows.is_empty() {
        return Ok(());
    }
    let mut out = format!(
        "{}{}{}{}{}\n",
        center("Time", 12),
        center("IP", 40),
        center("Flags", 6),
        center("Ethernet", 20),
        center("Interface", 24)
    );
    for r in rows {
        out.push_str(&r);
        out.push('\n');
    }
    a.output(&out);
    Ok(())
}

/// The bucket line of one entry (`[@n]: <dpo>`).
fn dpo_text(cp: &Ip4Cp, dp: &Ip4Dp, cx: &CliCtx, e: u32) -> String {
    let vs = cx.vnet.state.get(&cx.ctl);
    let en = &cp.entries[e as usize];
    let out_sw = match en.fwd {
        Fwd::Glean { sw } | Fwd::Receive { sw } => sw,
        Fwd::Adj { adj } => dp.adjs.get(adj as usize).map_or(0, |a| a.sw),
        Fwd::Drop => 0,
    };
    let (mtu, next, mac) = vs.get(out_sw).map_or((0, 0, [0; 6]), |i| {
        let c = cx.vnet.statics().class(i.class);
        let next = cx
            .vnet
            .statics()
            .graph
            .next_index("ip4-rewrite", c.output_node)
            .unwrap_or(0);
        (ip4_mtu(i), next, i.mac)
    });
    match en.fwd {
        Fwd::Drop => "[@0]: dpo-drop ip4".into(),
        Fwd::Receive { sw } => format!(
            "[@2]: dpo-receive: {} on {}",
            Ipv4Addr::from(en.addr),
            if_name(vs, sw)
        ),
        Fwd::Glean { sw } => {
            // The source prefix is the interface's connected prefix (an attached route shows
            // its own).
            let (src, l) = dp
                .iface(sw)
                .and_then(|i| {
                    i.addrs
                        .iter()
                        .find(|(x, l)| (u32::from(*x) ^ en.addr) & mask(*l.min(&en.len)) == 0)
                })
                .map_or((en.addr, en.len), |&(x, l)| (u32::from(x) & mask(l), l));
            format!(
                "[@4]: ipv4-glean: [src:{}/{}] {}: mtu:{mtu} next:{next} flags:[] ffffffffffff{}0806",
                Ipv4Addr::from(src),
                l,
                if_name(vs, sw),
                hex(&mac)
            )
        }
        Fwd::Adj { adj } => match dp.adjs.get(adj as usize) {
            Some(x) if x.mac.is_some() => format!(
                "[@5]: ipv4 via {} {}: mtu:{mtu} next:{next} flags:[] {}",
                x.nh,
                if_name(vs, x.sw),
                hex(&x.rewrite)
            ),
            Some(x) => format!("[@3]: arp-ipv4: via {} {}", x.nh, if_name(vs, x.sw)),
            None => "[@0]: dpo-drop ip4".into(),
        },
    }
}

fn fib_header(cp: &Ip4Cp) -> String {
    let live = || cp.entries.iter().filter(|e| e.live);
    let routes = live().filter(|e| !e.paths.is_empty()).count();
    let ifaces = live().filter(|e| e.iface.is_some()).count();
    let nbrs = live().filter(|e| e.nbr_adj.is_some()).count();
    let mut locks = String::new();
    for (n, c) in [("interface", ifaces), ("CLI", routes), ("adjacency", nbrs)] {
        if c > 0 {
            let _ = write!(locks, "{n}:{c}, ");
        }
    }
    format!(
        "ipv4-VRF:0, fib_index:0, flow hash:[src dst sport dport proto flowlabel ] epoch:0 flags:none locks:[{locks}default-route:1, ]"
    )
}

fn show_fib(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip4Main) -> Result<(), CliError> {
    let summary = a.keyword("summary") || a.keyword("sum");
    if a.keyword("table") {
        let t: u32 = a.value("table")?;
        if t != 0 {
            return Err(err(format!("unknown table id {t}")));
        }
    }
    let filter: Option<(u32, Option<u8>)> = match a.peek() {
        None => None,
        Some(w) => {
            let (x, l) = match w.split_once('/') {
                Some((x, l)) => (x, Some(l)),
                None => (w, None),
            };
            let addr: Ipv4Addr = x.parse().map_err(|_| CliError::unknown_input(a.rest()))?;
            let len = match l {
                None => None,
                Some(l) => Some(
                    l.parse::<u8>()
                        .ok()
                        .filter(|&l| l <= 32)
                        .ok_or_else(|| CliError::unknown_input(a.rest()))?,
                ),
            };
            a.next_word();
            Some((u32::from(addr), len))
        }
    };
    a.expect_end()?;
    let cp = m.cp.lock().unwrap_or_else(|e| e.into_inner());
    let dp = m.dp.get(&cx.ctl);
    let mut out = fib_header(&cp);
    out.push('\n');
    if summary {
        let _ = writeln!(
            out,
            "{}{}",
            center("Prefix length", 20),
            center("Count", 16)
        );
        for (l, n) in cp.summary() {
            let _ = writeln!(
                out,
                "{}{}",
                center(&l.to_string(), 20),
                center(&n.to_string(), 16)
            );
        }
        a.output(&out);
        return Ok(());
    }
    let list: Vec<u32> = match filter {
        Some((x, Some(l))) => cp.exact(x, l).into_iter().collect(),
        Some((x, None)) => vec![dp.mtrie.lookup(x)],
        None => cp.sorted(),
    };
    for e in list {
        let en = &cp.entries[e as usize];
        let (p, b) = dp.entry_counters(e);
        let _ = writeln!(out, "{}/{}", Ipv4Addr::from(en.addr), en.len);
        let _ = writeln!(out, "  unicast-ip4-chain");
        let _ = writeln!(
            out,
            "  [@0]: dpo-load-balance: [proto:ip4 index:{e} buckets:1 uRPF:{e} to:[{p}:{b}]]"
        );
        let _ = writeln!(out, "    [0] {}", dpo_text(&cp, dp, cx, e));
    }
    a.output(&out);
    Ok(())
}
