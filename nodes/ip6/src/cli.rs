//! IPv6 CLI in VPP's syntax and layouts (vnet/ip/ip46_cli.c, lookup.c, fib/ip6_fib.c,
//! ip-neighbor/ip_neighbor.c, ip/ip6_link.c):
//!
//! - `set interface ip address [del] <if> <addr>/<len>` | `set interface ip address del <if> all`,
//!   and the older `set ip6 address [del] <if> <addr>/<len>`. The first address turns IPv6 on
//!   (link-local by EUI-64 from the MAC, its receive entry), each adds a receive /128 and the
//!   connected prefix (glean).
//! - `enable ip6 interface <if>`, `disable ip6 interface <if>`.
//! - `ip route [add|del] <prefix> via <addr> [<if>]` | `via <if>`.
//! - `show ip6 fib [summary] [<addr>[/<len>]]`: VPP's four lines per prefix.
//! - `set ip neighbor [del] <if> <addr> <mac> [static] [no-fib-entry]` (and `set ip6 neighbor`).
//! - `show ip neighbors [<if>]` and its aliases `show ip neighbor`, `show ip6 neighbors`,
//!   `show ip6 neighbor`.
//! - `set ip neighbor-config ip6 limit <n>` and `show ip neighbor-config`: the neighbour cap
//!   (VPP's default 50000); CLI adds over it fail, learned ones are counted on `ip6-icmp-input`.
//! - `show ip6 interface [<if>]`.
//!
//! The commands VPP shares between the families keep their paths here; an IPv4 argument hands
//! the whole command to the ip4 crate through `pwire_vnet::hooks::Hooks::ip4_cli` (and `show ip
//! neighbors` lists its rows first, under one header; `show ip neighbor-config` its block).
//! Without an IPv4 stack registered, IPv4 arguments get "IPv4 is not supported by pwire".

use crate::fib::mask;
use crate::state::{link_local_from_mac, Fwd, Ip6State, Path};
use crate::Ip6Main;
use pwire_cli::{Args, CliError};
use pwire_vnet::builtin_cli::center;
use pwire_vnet::hooks::Ip4Cmd;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Interface, Registry, VnetState};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    let c = m.clone();
    r.command(cmd(
        "set interface ip address",
        "set interface ip address [del] <interface> <ip-addr>/<mask> | [del] <interface> all",
        false,
        move |a, cx| set_address(a, cx, &c),
    ));
    let c = m.clone();
    r.command(cmd(
        "set ip6 address",
        "set ip6 address [del] <interface> <ip6-address>/<width>",
        false,
        move |a, cx| set_address(a, cx, &c),
    ));
    let c = m.clone();
    r.command(cmd(
        "enable ip6 interface",
        "enable ip6 interface <interface>",
        false,
        move |a, cx| enable(a, cx, &c, true),
    ));
    let c = m.clone();
    r.command(cmd(
        "disable ip6 interface",
        "disable ip6 interface <interface>",
        false,
        move |a, cx| enable(a, cx, &c, false),
    ));
    let c = m.clone();
    r.command(cmd(
        "ip route",
        "ip route [add|del] <prefix> via <next-hop-addr> [<interface>] | via <interface>",
        // mp-safe as in VPP: the handlers park the workers at their first write, after what
        // need not (parsing; the IPv4 tables grow beside the live ones).
        true,
        move |a, cx| route(a, cx, &c),
    ));
    let c = m.clone();
    r.command(cmd(
        "show ip6 fib",
        "show ip6 fib [summary] [<addr>[/<len>]]",
        true,
        move |a, cx| show_fib(a, cx, &c),
    ));
    for path in ["set ip neighbor", "set ip6 neighbor"] {
        let c = m.clone();
        r.command(cmd(
            path,
            "set ip neighbor [del] <interface> <ip-address> <mac-address> [static] [no-fib-entry]",
            false,
            move |a, cx| set_neighbor(a, cx, &c),
        ));
    }
    let c = m.clone();
    r.command(cmd(
        "set ip neighbor-config",
        "set ip neighbor-config ip6 [limit <limit>]",
        false,
        move |a, cx| set_neighbor_config(a, cx, &c),
    ));
    let c = m.clone();
    r.command(cmd(
        "show ip neighbor-config",
        "show ip neighbor-config",
        true,
        move |a, cx| show_neighbor_config(a, cx, &c),
    ));
    for path in [
        "show ip neighbors",
        "show ip neighbor",
        "show ip6 neighbors",
        "show ip6 neighbor",
    ] {
        let c = m.clone();
        // `show ip` lists both families (IPv4 first, as VPP's pool order usually has them).
        let both = !path.starts_with("show ip6");
        r.command(cmd(
            path,
            "show ip neighbors [interface]",
            true,
            move |a, cx| show_neighbors(a, cx, &c, both),
        ));
    }
    let c = m.clone();
    r.command(cmd(
        "show ip6 interface",
        "show ip6 interface <interface>",
        true,
        move |a, cx| show_interface(a, cx, &c),
    ));
}

/// The IPv6 addresses of interface `sw` (a copy: callers change them).
pub(crate) fn if_addrs(cx: &CliCtx, sw: u32) -> Vec<(Ipv6Addr, u8)> {
    cx.vnet
        .state
        .get(&cx.ctl)
        .get(sw)
        .map(|i| i.ip6_addrs.clone())
        .unwrap_or_default()
}

fn err(s: impl Into<String>) -> CliError {
    CliError::msg(s)
}

/// True if a word left in `a` is an IPv4 address or prefix (the cursor does not move).
fn has_ip4_word(a: &Args<'_>) -> bool {
    let mut c = a.clone();
    std::iter::from_fn(|| c.next_word()).any(|w| {
        w.split('/')
            .next()
            .is_some_and(|x| x.parse::<Ipv4Addr>().is_ok())
    })
}

/// Hands the command to the IPv4 stack when an argument is IPv4 and one is registered.
fn ip4(what: Ip4Cmd, a: &mut Args<'_>, cx: &mut CliCtx) -> Option<Result<(), CliError>> {
    if !has_ip4_word(a) {
        return None;
    }
    let vnet = cx.vnet.clone();
    vnet.hooks.ip4_cli(what, a, cx)
}

/// The link-local address IPv6 gets on `i`: EUI-64 from its MAC, or (no MAC) from its index.
fn link_local_for(i: &Interface) -> Ipv6Addr {
    if i.mac == [0; 6] {
        Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            0,
            0,
            (i.sw_if_index >> 16) as u16,
            i.sw_if_index as u16,
        )
    } else {
        link_local_from_mac(i.mac)
    }
}

fn parse_prefix(a: &mut Args<'_>) -> Result<(Ipv6Addr, u8), CliError> {
    let w = a.peek().unwrap_or("");
    if let Some((x, _)) = w.split_once('/') {
        if x.parse::<Ipv4Addr>().is_ok() {
            return Err(err(format!("IPv4 is not supported by pwire `{w}'")));
        }
    }
    a.ipv6_prefix("prefix")
        .map_err(|_| err(format!("expected IP4/IP6 address/length `{}'", a.rest())))
}

fn set_address(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    if let Some(r) = ip4(Ip4Cmd::SetAddress, a, cx) {
        return r;
    }
    let whole = a.clone();
    let mut del = a.keyword("del");
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    if del && a.keyword("all") {
        a.expect_end()?;
        for (x, l) in if_addrs(cx, sw) {
            del_address(cx, m, sw, x, l)?;
        }
        // Both families' addresses go.
        let vnet = cx.vnet.clone();
        let mut v4 = whole;
        if let Some(r) = vnet.hooks.ip4_cli(Ip4Cmd::SetAddress, &mut v4, cx) {
            r?;
        }
        return Ok(());
    }
    let (addr, len) = parse_prefix(a)?;
    del |= a.keyword("del");
    a.expect_end()?;
    if del {
        del_address(cx, m, sw, addr, len)
    } else {
        add_address(cx, m, sw, addr, len)
    }
}

fn add_address(
    cx: &mut CliCtx,
    m: &Ip6Main,
    sw: u32,
    addr: Ipv6Addr,
    len: u8,
) -> Result<(), CliError> {
    let ll = {
        let vs = cx.vnet.state.get(&cx.ctl);
        let i = vs.get(sw).ok_or_else(|| err("unknown interface"))?;
        vs.supports_addressing(sw).map_err(err)?;
        if i.ip6_addrs.contains(&(addr, len)) {
            return Ok(());
        }
        if addr.is_multicast() || addr.is_unspecified() {
            return Err(err(format!("invalid address {addr}/{len}")));
        }
        for j in vs.ifs.iter().filter(|j| !j.deleted) {
            for &(x, l) in &j.ip6_addrs {
                let ml = l.min(len);
                let same_if = j.sw_if_index == sw;
                let conflict = if same_if {
                    x == addr
                } else {
                    (u128::from(x) ^ u128::from(addr)) & mask(ml) == 0
                };
                if conflict {
                    return Err(err(format!(
                        "failed to add {addr}/{len} on {} which conflicts with {x}/{l} for interface {}",
                        i.name, j.name
                    )));
                }
            }
        }
        i.ip6_link_local.unwrap_or_else(|| link_local_for(i))
    };
    {
        let vs = cx.vnet.state.write(&mut cx.ctl);
        let i = vs.get_mut(sw).ok_or_else(|| err("unknown interface"))?;
        i.ip6_addrs.push((addr, len));
        i.ip6_enabled = true;
        i.ip6_link_local = Some(ll);
    }
    let s = m.state.write(&mut cx.ctl);
    s.enable_interface(sw, ll, false);
    s.add_address(sw, addr, len);
    crate::nd::announce(cx, sw, addr);
    Ok(())
}

fn del_address(
    cx: &mut CliCtx,
    m: &Ip6Main,
    sw: u32,
    addr: Ipv6Addr,
    len: u8,
) -> Result<(), CliError> {
    let explicit = m
        .state
        .get(&cx.ctl)
        .explicit
        .get(sw as usize)
        .copied()
        .unwrap_or(false);
    let ll = {
        let vs = cx.vnet.state.write(&mut cx.ctl);
        let i = vs.get_mut(sw).ok_or_else(|| err("unknown interface"))?;
        let Some(k) = i.ip6_addrs.iter().position(|&x| x == (addr, len)) else {
            return Err(err(format!("address {addr}/{len} not found on {}", i.name)));
        };
        i.ip6_addrs.remove(k);
        // IPv6 turned on by the first address goes off with the last, as in VPP.
        if i.ip6_addrs.is_empty() && !explicit {
            i.ip6_enabled = false;
            i.ip6_link_local.take()
        } else {
            None
        }
    };
    let s = m.state.write(&mut cx.ctl);
    s.del_address(sw, addr, len);
    if ll.is_some() {
        s.disable_interface(sw, ll);
    }
    Ok(())
}

fn enable(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main, on: bool) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    a.expect_end()?;
    let (ll, has_addrs) = {
        let vs = cx.vnet.state.get(&cx.ctl);
        let i = vs.get(sw).ok_or_else(|| err("unknown interface"))?;
        (
            i.ip6_link_local.unwrap_or_else(|| link_local_for(i)),
            !i.ip6_addrs.is_empty(),
        )
    };
    if on {
        {
            let vs = cx.vnet.state.write(&mut cx.ctl);
            if let Some(i) = vs.get_mut(sw) {
                i.ip6_enabled = true;
                i.ip6_link_local = Some(ll);
            }
        }
        m.state.write(&mut cx.ctl).enable_interface(sw, ll, true);
    } else if has_addrs {
        // Addresses keep IPv6 on; only the explicit request is forgotten.
        if let Some(x) = m.state.write(&mut cx.ctl).explicit.get_mut(sw as usize) {
            *x = false;
        }
    } else {
        {
            let vs = cx.vnet.state.write(&mut cx.ctl);
            if let Some(i) = vs.get_mut(sw) {
                i.ip6_enabled = false;
                i.ip6_link_local = None;
            }
        }
        m.state.write(&mut cx.ctl).disable_interface(sw, Some(ll));
    }
    Ok(())
}

fn route(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    if let Some(r) = ip4(Ip4Cmd::Route, a, cx) {
        return r;
    }
    let del = if a.keyword("del") {
        true
    } else {
        let _ = a.keyword("add");
        false
    };
    let (addr, len) = parse_prefix(a)?;
    let mut path = None;
    if a.keyword("via") {
        let nh = match a.peek() {
            Some(w) if w.parse::<Ipv6Addr>().is_ok() => Some(a.ipv6("next hop")?),
            Some(w) if w.parse::<Ipv4Addr>().is_ok() => {
                return Err(err(format!("IPv4 is not supported by pwire `{w}'")))
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
        path = Some(Path { nh, sw });
    }
    a.expect_end()?;
    let addr = u128::from(addr) & mask(len);
    if del {
        if !m.state.write(&mut cx.ctl).del_route(addr, len, path) {
            return Err(err(format!("no such route {}/{len}", Ipv6Addr::from(addr))));
        }
        return Ok(());
    }
    let Some(p) = path else {
        return Err(err("expected via <next-hop-addr> [<interface>]"));
    };
    m.state.write(&mut cx.ctl).add_route(addr, len, p);
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn if_name(vs: &VnetState, sw: u32) -> String {
    vs.ifs
        .get(sw as usize)
        .map_or_else(|| format!("sw_if_index {sw}"), |i| i.name.clone())
}

/// The bucket line of one entry (`[@n]: <dpo>`).
fn dpo_text(st: &Ip6State, vs: &VnetState, e: u32) -> String {
    let en = &st.entries[e as usize];
    let out_sw = match en.fwd {
        Fwd::Glean { sw } | Fwd::Receive { sw } => sw,
        Fwd::Adj { adj } => st.adjs[adj as usize].sw,
        Fwd::Drop | Fwd::LinkLocal => 0,
    };
    let (mtu, next, mac) = vs
        .get(out_sw)
        .map_or((0, 0, [0; 6]), |i| (i.ip6_mtu(), i.ip6_output_next, i.mac));
    match en.fwd {
        Fwd::Drop => "[@0]: dpo-drop ip6".into(),
        Fwd::LinkLocal => "[@14]: ip6-link-local".into(),
        Fwd::Receive { sw } => format!(
            "[@2]: dpo-receive: {} on {}",
            Ipv6Addr::from(en.addr),
            if_name(vs, sw)
        ),
        Fwd::Glean { sw } => {
            // The source prefix is the interface's connected prefix (an attached route shows its own).
            let (src, l) = vs
                .get(sw)
                .and_then(|i| {
                    i.ip6_addrs
                        .iter()
                        .find(|(x, l)| (u128::from(*x) ^ en.addr) & mask(*l.min(&en.len)) == 0)
                })
                .map_or((en.addr, en.len), |&(x, l)| (u128::from(x) & mask(l), l));
            format!(
                "[@4]: ipv6-glean: [src:{}/{}] {}: mtu:{mtu} next:{next} flags:[] ffffffffffff{}86dd",
                Ipv6Addr::from(src),
                l,
                if_name(vs, sw),
                hex(&mac)
            )
        }
        Fwd::Adj { adj } => {
            let x = &st.adjs[adj as usize];
            if x.mac.is_some() {
                format!(
                    "[@5]: ipv6 via {} {}: mtu:{mtu} next:{next} flags:[] {}",
                    x.nh,
                    if_name(vs, x.sw),
                    hex(&x.rewrite)
                )
            } else {
                format!("[@3]: arp-ipv6: via {} {}", x.nh, if_name(vs, x.sw))
            }
        }
    }
}

fn fib_header(st: &Ip6State) -> String {
    let routes = st
        .entries
        .iter()
        .filter(|e| e.live && !e.paths.is_empty())
        .count();
    let ifaces = st
        .entries
        .iter()
        .filter(|e| e.live && e.iface.is_some() && !e.hidden)
        .count();
    let nbrs = st
        .entries
        .iter()
        .filter(|e| e.live && e.nbr_adj.is_some())
        .count();
    let mut locks = String::new();
    for (n, c) in [("interface", ifaces), ("CLI", routes), ("adjacency", nbrs)] {
        if c > 0 {
            let _ = write!(locks, "{n}:{c}, ");
        }
    }
    format!(
        "ipv6-VRF:0, fib_index:0, flow hash:[src dst sport dport proto flowlabel ] epoch:0 flags:none locks:[{locks}default-route:1, ]"
    )
}

fn show_fib(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    let summary = a.keyword("summary") || a.keyword("sum");
    let _ = a.keyword("table") && a.value::<u32>("table").is_ok_and(|t| t == 0);
    let filter: Option<(u128, Option<u8>)> = match a.peek() {
        None => None,
        Some(w) => {
            if let Ok((x, l)) = a.ipv6_prefix("prefix") {
                Some((u128::from(x), Some(l)))
            } else if let Ok(x) = w.parse::<Ipv6Addr>() {
                a.next_word();
                Some((u128::from(x), None))
            } else {
                return Err(CliError::unknown_input(a.rest()));
            }
        }
    };
    a.expect_end()?;
    let st = m.state.get(&cx.ctl);
    let vs = cx.vnet.state.get(&cx.ctl);
    let mut out = fib_header(st);
    out.push('\n');
    if summary {
        let _ = writeln!(
            out,
            "{}{}",
            center("Prefix length", 20),
            center("Count", 16)
        );
        for (l, n) in st.fib.summary() {
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
        Some((x, Some(l))) => st.exact(x, l).into_iter().collect(),
        Some((x, None)) => vec![st.lookup(x).0],
        None => {
            let mut v: Vec<u32> = (0..st.entries.len() as u32)
                .filter(|&e| st.entries[e as usize].live && !st.entries[e as usize].hidden)
                .collect();
            v.sort_by_key(|&e| (st.entries[e as usize].addr, st.entries[e as usize].len));
            v
        }
    };
    for e in list {
        let en = &st.entries[e as usize];
        let (p, b) = st.entry_counters(e);
        let _ = writeln!(out, "{}/{}", Ipv6Addr::from(en.addr), en.len);
        let _ = writeln!(out, "  unicast-ip6-chain");
        let _ = writeln!(
            out,
            "  [@0]: dpo-load-balance: [proto:ip6 index:{e} buckets:1 uRPF:{e} to:[{p}:{b}]]"
        );
        let _ = writeln!(out, "    [0] {}", dpo_text(st, vs, e));
    }
    a.output(&out);
    Ok(())
}

fn set_neighbor(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    if let Some(r) = ip4(Ip4Cmd::SetNeighbor, a, cx) {
        return r;
    }
    let del = a.keyword("del");
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let ip = match a.peek() {
        Some(w) if w.parse::<Ipv4Addr>().is_ok() => {
            return Err(err(format!("IPv4 is not supported by pwire `{w}'")))
        }
        _ => a
            .ipv6("ip address")
            .map_err(|_| err(format!("expected IP address `{}'", a.rest())))?,
    };
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
        if !m.state.write(&mut cx.ctl).del_neighbor(sw, ip) {
            return Err(err(format!("no such neighbor {ip}")));
        }
        return Ok(());
    }
    if mac[0] & 1 != 0 {
        return Err(err(format!("invalid MAC address {}", hex(&mac))));
    }
    let if_mac = cx
        .vnet
        .state
        .get(&cx.ctl)
        .get(sw)
        .map(|i| i.mac)
        .ok_or_else(|| err("unknown interface"))?;
    let st = m.state.get(&cx.ctl);
    if st.nbr_over_limit(sw, ip) {
        return Err(err(format!(
            "neighbor limit reached ({}): not adding {ip}",
            st.nbr_limit
        )));
    }
    let now = cx.vnet.engine().now();
    m.state
        .write(&mut cx.ctl)
        .add_neighbor(sw, ip, mac, if_mac, is_static, no_fib, now);
    Ok(())
}

/// `set ip neighbor-config ip6 limit <n>` (VPP's ip_neighbor.c; pwire has `limit` only: no
/// aging, no recycling, as VPP's defaults).
fn set_neighbor_config(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    if a.peek() == Some("ip4") {
        let vnet = cx.vnet.clone();
        if let Some(r) = vnet.hooks.ip4_cli(Ip4Cmd::NeighborConfig, a, cx) {
            return r;
        }
    }
    match a.next_word() {
        Some("ip6") => {}
        Some(w @ "ip4") => return Err(err(format!("IPv4 is not supported by pwire `{w}'"))),
        Some(w) => return Err(err(format!("unknown address family `{w}'"))),
        None => return Err(err("expected ip4 or ip6")),
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
        m.state.write(&mut cx.ctl).nbr_limit = n as usize;
    }
    Ok(())
}

fn show_neighbor_config(a: &mut Args<'_>, cx: &mut CliCtx, m: &Ip6Main) -> Result<(), CliError> {
    a.expect_end()?;
    let vnet = cx.vnet.clone();
    if let Some(r) = vnet.hooks.ip4_cli(Ip4Cmd::ShowNeighborConfig, a, cx) {
        r?;
    }
    let st = m.state.get(&cx.ctl);
    a.output(&format!(
        "ip6:\n  limit:{}, age:0, recycle:0\n",
        st.nbr_limit
    ));
    Ok(())
}

fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn show_neighbors(
    a: &mut Args<'_>,
    cx: &mut CliCtx,
    m: &Ip6Main,
    both: bool,
) -> Result<(), CliError> {
    let only = if a.is_empty() {
        None
    } else {
        Some(cx.vnet.parse_if(&cx.ctl, a)?)
    };
    a.expect_end()?;
    let v4 = if both {
        cx.vnet.hooks.ip4_neighbors(cx, only)
    } else {
        Vec::new()
    };
    let st = m.state.get(&cx.ctl);
    let vs = cx.vnet.state.get(&cx.ctl);
    let rows: Vec<_> = st
        .nbrs
        .iter()
        .filter(|(k, _)| only.is_none_or(|s| s == k.0))
        .collect();
    if rows.is_empty() && v4.is_empty() {
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
    for r in v4 {
        out.push_str(&r);
        out.push('\n');
    }
    for ((sw, ip), n) in rows {
        let mut fl = String::from(if n.is_static { "S" } else { "D" });
        if n.no_fib {
            fl.push('N');
        }
        let _ = writeln!(
            out,
            "{}{}{}{}{}",
            center(&format!("{:.4}", n.updated), 12),
            center(&Ipv6Addr::from(*ip).to_string(), 40),
            center(&fl, 6),
            center(&fmt_mac(&n.mac), 20),
            if_name(vs, *sw)
        );
    }
    a.output(&out);
    Ok(())
}

fn show_interface(a: &mut Args<'_>, cx: &mut CliCtx, _m: &Ip6Main) -> Result<(), CliError> {
    let only = if a.is_empty() {
        None
    } else {
        Some(cx.vnet.parse_if(&cx.ctl, a)?)
    };
    a.expect_end()?;
    let vs = cx.vnet.state.get(&cx.ctl);
    let mut out = String::new();
    let mut list: Vec<&Interface> = vs
        .ifs
        .iter()
        .filter(|i| !i.deleted && only.is_none_or(|s| s == i.sw_if_index))
        .collect();
    list.sort_by(|x, y| x.name.as_bytes().cmp(y.name.as_bytes()));
    for i in list {
        if !i.ip6_enabled {
            if only.is_some() {
                return Err(err(format!("IPv6 not enabled on interface {}", i.name)));
            }
            continue;
        }
        let _ = writeln!(
            out,
            "{} is admin {}",
            i.name,
            if i.admin_up { "up" } else { "down" }
        );
        if !i.ip6_addrs.is_empty() {
            out.push_str("  Global unicast address(es):\n");
            for (x, l) in &i.ip6_addrs {
                let _ = writeln!(out, "    {x}/{l}");
            }
        }
        out.push_str("  Link-local address(es):\n");
        if let Some(ll) = i.ip6_link_local {
            let _ = writeln!(out, "    {ll}");
        }
        out.push_str("  Joined group address(es):\n    ff02::1\n    ff02::2\n    ff02::16\n");
        let mut groups: Vec<Ipv6Addr> = i
            .ip6_addrs
            .iter()
            .map(|(x, _)| *x)
            .chain(i.ip6_link_local)
            .map(pwire_wire::ipv6::solicited_node)
            .collect();
        groups.sort();
        groups.dedup();
        for g in groups {
            let _ = writeln!(out, "    {g}");
        }
        let _ = writeln!(out, "  MTU is {}", i.ip6_mtu());
        out.push_str("  ICMP error messages are unlimited\n  ICMP redirects are disabled\n  ICMP unreachables are not sent\n");
        out.push_str("  ND DAD is disabled\n  Router advertisements are not sent\n");
    }
    a.output(&out);
    Ok(())
}
