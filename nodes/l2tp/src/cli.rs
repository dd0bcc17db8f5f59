//! L2TPv3 CLI in VPP's syntax and output (l2tp.c), with pwire's extensions.

use crate::api::{L2tp, TunnelConfig};
use crate::session::{parse_cookie, sc, OuterKind, Transport};
use pwire_cli::{Args, CliError};
use pwire_config::LookupMode;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Registry};
use pwire_wire::l2tpv3::{Cookie, CookieSize};
use std::fmt::Write as _;
use std::net::IpAddr;

type Main = L2tp;

// The L2TPv3 commands are mp-safe: they change state only through the session API, whose
// writes park the workers themselves (`Shared::write`), after the work that does not need them
// parked (parsing, checks, growing the lookup tables beside the live ones). Taking the barrier
// for the whole command would put that work under it.
pub(crate) fn register(r: &mut Registry, main: Main) {
    let m = main.clone();
    r.command(cmd(
        "create l2tpv3 tunnel",
        "create l2tpv3 tunnel client <ip6|ip4> our <ip6|ip4> [local-cookie <hex>] [remote-cookie <hex>] [local-session-id <dec>] [remote-session-id <dec>] [l2-sublayer-present] [fib-id <n>] [cookie-size 0|4|8] [hop-limit|ttl <n>] [sequencing] [encap ip|udp] [local-port <n>] [remote-port <n>] [udp-checksum on|off] [df on|off] [fragment on|off] [del]",
        true,
        move |a, cx| create(a, cx, &m),
    ));
    let m = main.clone();
    r.command(cmd(
        "set l2tpv3 tunnel cookie",
        "set l2tpv3 tunnel cookie <intfc> local <hex> remote <hex>",
        true,
        move |a, cx| set_cookie(a, cx, &m),
    ));
    let m = main.clone();
    r.command(cmd(
        "set l2tpv3 tunnel fragment",
        "set l2tpv3 tunnel fragment <intfc> on|off",
        true,
        move |a, cx| {
            let w = a.word("interface")?;
            let sw = cx
                .vnet
                .if_by_name(&cx.ctl, w)
                .ok_or_else(|| CliError::msg(format!("unknown interface `{w}'")))?;
            let on = on_off(a, "fragment")?;
            a.expect_end()?;
            m.set_fragment(&mut cx.ctl, sw, on)
                .map_err(|e| CliError::msg(e.to_string()))
        },
    ));
    r.command(cmd(
        "set interface ip4 l2tpv3",
        "set interface ip4 l2tpv3 <intfc> [del]",
        true,
        |a, cx| {
            let Some(w) = a.next_word() else {
                return Err(CliError::msg("interface required"));
            };
            let sw = cx
                .vnet
                .if_by_name(&cx.ctl, w)
                .ok_or_else(|| CliError::msg(format!("invalid interface `{w}'")))?;
            let del = a.keyword("del");
            a.expect_end()?;
            cx.vnet
                .hooks
                .ip4_feature(&mut cx.ctl, sw, "l2tp4-decap", !del)
                .map_err(CliError::msg)
        },
    ));
    r.command(cmd(
        "set interface ip6 l2tpv3",
        "set interface ip6 l2tpv3 <intfc> [del]",
        true,
        |a, cx| {
            let Some(w) = a.next_word() else {
                return Err(CliError::msg("interface required"));
            };
            let sw = cx
                .vnet
                .if_by_name(&cx.ctl, w)
                .ok_or_else(|| CliError::msg("invalid interface"))?;
            let del = a.keyword("del");
            a.expect_end()?;
            let bit = cx
                .vnet
                .statics()
                .feature_bit("l2tp-decap")
                .expect("feature registered");
            let s = cx.vnet.state.write(&mut cx.ctl);
            let i = s
                .get_mut(sw)
                .ok_or_else(|| CliError::msg("invalid interface"))?;
            if del {
                i.ip6_unicast_features &= !bit;
            } else {
                i.ip6_unicast_features |= bit;
            }
            Ok(())
        },
    ));
    let m = main.clone();
    r.command(cmd(
        "show l2tpv3",
        "show l2tpv3 [verbose | memory]",
        true,
        move |a, cx| show(a, cx, &m),
    ));
    let m = main.clone();
    r.command(cmd(
        "clear l2tp counters",
        "clear l2tp counters",
        true,
        move |a, cx| {
            a.expect_end()?;
            // Atomic counters: zeroed without parking the workers (O(sessions), not under
            // the barrier).
            let t = m.table(&cx.ctl);
            let mut n = 0;
            for (i, _) in t.live() {
                t.clear(i);
                n += 1;
            }
            a.output(&format!("Cleared {} active counters", n * 2));
            Ok(())
        },
    ));
    for path in ["test lt2p counters", "test l2tp counters"] {
        let m = main.clone();
        r.command(cmd(path, "test l2tp counters", false, move |a, cx| {
            a.expect_end()?;
            let t = m.table(&cx.ctl);
            let live: Vec<u32> = t.live().map(|(i, _)| i).collect();
            // Thread 0's rows, written here only while no worker runs thread 0's graph (with
            // workers, thread 0 is the main thread, which is running this command).
            if let Some(rows) = t.counters.first() {
                for &i in &live {
                    if let Some(r) = rows.get(i as usize) {
                        r.add(sc::RX_PKTS, 1);
                        r.add(sc::RX_BYTES, 1111);
                        r.add(sc::TX_PKTS, 1);
                        r.add(sc::TX_BYTES, 2222);
                    }
                }
            }
            a.output(&format!("Incremented {} active counters", live.len() * 2));
            Ok(())
        }));
    }
}

struct CreateArgs {
    client: Option<IpAddr>,
    our: Option<IpAddr>,
    udp: bool,
    local_port: Option<u16>,
    remote_port: Option<u16>,
    udp_checksum: Option<bool>,
    df: bool,
    fragment: bool,
    local_cookie: Option<String>,
    remote_cookie: Option<String>,
    lsid: u32,
    rsid: u32,
    sublayer: bool,
    fib_id: u32,
    cookie_size: CookieSize,
    hop_limit: Option<u8>,
    sequencing: bool,
    del: bool,
}

fn parse_create(a: &mut Args<'_>) -> Result<CreateArgs, CliError> {
    let mut c = CreateArgs {
        client: None,
        our: None,
        udp: false,
        local_port: None,
        remote_port: None,
        udp_checksum: None,
        df: true,
        fragment: true,
        local_cookie: None,
        remote_cookie: None,
        lsid: 1,
        rsid: 1,
        sublayer: false,
        fib_id: 0,
        cookie_size: CookieSize::Eight,
        hop_limit: None,
        sequencing: false,
        del: false,
    };
    let parse_err = |a: &Args<'_>| CliError::msg(format!("parse error: '{}'", a.rest()));
    while !a.is_empty() {
        if a.keyword("client") {
            c.client = Some(ip_arg(a, "client")?);
        } else if a.keyword("our") {
            c.our = Some(ip_arg(a, "our")?);
        } else if a.keyword("encap") {
            c.udp = match a.word("encap")? {
                "udp" => true,
                "ip" => false,
                w => return Err(CliError::msg(format!("encap must be ip or udp: `{w}'"))),
            };
        } else if a.keyword("local-port") {
            c.local_port = Some(port_arg(a, "local-port")?);
        } else if a.keyword("remote-port") {
            c.remote_port = Some(port_arg(a, "remote-port")?);
        } else if a.keyword("udp-checksum") {
            c.udp_checksum = Some(on_off(a, "udp-checksum")?);
        } else if a.keyword("df") {
            c.df = on_off(a, "df")?;
        } else if a.keyword("fragment") {
            c.fragment = on_off(a, "fragment")?;
        } else if a.keyword("local-cookie") {
            c.local_cookie = Some(a.word("local-cookie")?.to_string());
        } else if a.keyword("remote-cookie") {
            c.remote_cookie = Some(a.word("remote-cookie")?.to_string());
        } else if a.keyword("local-session-id") {
            c.lsid = a.u32("local-session-id").map_err(|_| parse_err(a))?;
        } else if a.keyword("remote-session-id") {
            c.rsid = a.u32("remote-session-id").map_err(|_| parse_err(a))?;
        } else if a.keyword("l2-sublayer-present") {
            c.sublayer = true;
        } else if a.keyword("fib-id") {
            c.fib_id = a.u32("fib-id").map_err(|_| parse_err(a))?;
        } else if a.keyword("cookie-size") {
            c.cookie_size = match a.word("cookie-size")? {
                "0" => CookieSize::Zero,
                "4" => CookieSize::Four,
                "8" => CookieSize::Eight,
                w => {
                    return Err(CliError::msg(format!(
                        "cookie-size must be 0, 4 or 8: `{w}'"
                    )))
                }
            };
        } else if a.keyword("hop-limit") || a.keyword("ttl") {
            let h = a.u32("hop-limit").map_err(|_| parse_err(a))?;
            c.hop_limit = Some(
                u8::try_from(h)
                    .ok()
                    .filter(|&h| h > 0)
                    .ok_or_else(|| CliError::msg(format!("hop-limit must be 1..255: `{h}'")))?,
            );
        } else if a.keyword("sequencing") {
            c.sequencing = true;
        } else if a.keyword("del") {
            c.del = true;
        } else {
            return Err(parse_err(a));
        }
    }
    let udp_only = c.local_port.is_some() || c.remote_port.is_some() || c.udp_checksum.is_some();
    if udp_only && !c.udp {
        return Err(CliError::msg(
            "local-port, remote-port and udp-checksum need `encap udp'",
        ));
    }
    Ok(c)
}

fn ip_arg(a: &mut Args<'_>, which: &str) -> Result<IpAddr, CliError> {
    let w = a.word(which)?;
    w.parse()
        .map_err(|_| CliError::msg(format!("{which}: `{w}' is not an IPv6 or IPv4 address")))
}

fn port_arg(a: &mut Args<'_>, which: &str) -> Result<u16, CliError> {
    let w = a.word(which)?;
    w.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| CliError::msg(format!("{which} must be 1..65535: `{w}'")))
}

fn on_off(a: &mut Args<'_>, which: &str) -> Result<bool, CliError> {
    match a.word(which)? {
        "on" => Ok(true),
        "off" => Ok(false),
        w => Err(CliError::msg(format!("{which} must be on or off: `{w}'"))),
    }
}

fn create(a: &mut Args<'_>, cx: &mut CliCtx, m: &Main) -> Result<(), CliError> {
    let c = parse_create(a)?;
    let our = c
        .our
        .ok_or_else(|| CliError::msg("our address not specified"))?;
    let client = c
        .client
        .ok_or_else(|| CliError::msg("client address not specified"))?;
    if our.is_ipv4() != client.is_ipv4() {
        return Err(CliError::msg(format!(
            "client {client} and our {our} must be of one family"
        )));
    }
    if c.del {
        let idx = m
            .find(&cx.ctl, our, client, c.lsid)
            .ok_or_else(|| CliError::msg("session not found"))?;
        return m
            .delete(&mut cx.ctl, idx)
            .map_err(|e| CliError::msg(e.to_string()));
    }
    let cfg = TunnelConfig {
        local_session_id: c.lsid,
        remote_session_id: c.rsid,
        local_cookie: c
            .local_cookie
            .as_deref()
            .map(|w| cookie_arg(w, c.cookie_size, "local-cookie"))
            .transpose()?,
        remote_cookie: c
            .remote_cookie
            .as_deref()
            .map(|w| cookie_arg(w, c.cookie_size, "remote-cookie"))
            .transpose()?,
        cookie_size: c.cookie_size,
        l2_sublayer: c.sublayer,
        sequencing: c.sequencing,
        hop_limit: c.hop_limit,
        fib_id: c.fib_id,
        transport: if c.udp {
            Transport::Udp {
                local_port: c.local_port.unwrap_or(pwire_wire::l2tpv3::UDP_PORT),
                remote_port: c.remote_port.unwrap_or(pwire_wire::l2tpv3::UDP_PORT),
            }
        } else {
            Transport::Ip
        },
        udp_checksum: c.udp_checksum,
        df: c.df,
        fragment: c.fragment,
        ..TunnelConfig::new(our, client)
    };
    let made = m
        .create(&mut cx.ctl, &cfg)
        .map_err(|e| CliError::msg(e.to_string()))?;
    a.output(&made.name);
    Ok(())
}

fn cookie_arg(w: &str, size: CookieSize, which: &str) -> Result<Cookie, CliError> {
    parse_cookie(w, size).ok_or_else(|| {
        CliError::msg(format!(
            "{which} `{w}' is not a {}-byte hex cookie",
            size.len()
        ))
    })
}

fn set_cookie(a: &mut Args<'_>, cx: &mut CliCtx, m: &Main) -> Result<(), CliError> {
    let w = a.word("interface")?;
    let sw = cx
        .vnet
        .if_by_name(&cx.ctl, w)
        .ok_or_else(|| CliError::msg("unknown interface"))?;
    let (mut local, mut remote) = (None, None);
    while !a.is_empty() {
        if a.keyword("local") {
            local = Some(a.word("local")?.to_string());
        } else if a.keyword("remote") {
            remote = Some(a.word("remote")?.to_string());
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let local = local.ok_or_else(|| CliError::msg("local cookie required"))?;
    let remote = remote.ok_or_else(|| CliError::msg("remote cookie required"))?;
    // Unlike VPP, only an L2TPv3 tunnel interface is accepted.
    let idx = m
        .by_sw(&cx.ctl, sw)
        .ok_or_else(|| CliError::msg(format!("{w} is not an l2tpv3 tunnel")))?;
    let s = &m.table(&cx.ctl).sessions[idx as usize];
    let (lsize, rsize) = (s.layout.cookie_size(), s.tx_layout.cookie_size());
    let lc = cookie_arg(&local, lsize, "local cookie")?;
    let rc = cookie_arg(&remote, rsize, "remote cookie")?;
    m.set_cookies(&mut cx.ctl, sw, lc, rc)
        .map_err(|e| CliError::msg(e.to_string()))
}

fn cookie_str(c: &Cookie) -> String {
    if c.is_empty() {
        "none".into()
    } else {
        c.to_string()
    }
}

fn show(a: &mut Args<'_>, cx: &mut CliCtx, m: &Main) -> Result<(), CliError> {
    let memory = a.keyword("memory");
    let verbose = !memory && (a.keyword("verbose") || a.keyword("v"));
    a.expect_end()?;
    let t = m.table(&cx.ctl);
    if memory {
        // pwire's own: what the sessions cost, for sizing (scripts/bench.sh prints it).
        let (table, counters) = t.memory();
        let n = t.live().count().max(1);
        a.output(&format!(
            "{} l2tp sessions, {} threads\n  session table and lookup hash: {} bytes ({} per session)\n  per-thread counters: {} bytes ({} per session)\n",
            t.live().count(),
            t.counters.len(),
            table,
            table / n,
            counters,
            counters / n
        ));
        return Ok(());
    }
    let mut out = String::new();
    // A signalled pseudowire's slot before its session is negotiated is not a session.
    let n = t.live().filter(|(_, s)| s.active).count();
    if n == 0 {
        out.push_str("No l2tp sessions...\n");
    } else {
        let _ = writeln!(out, "{n} l2tp sessions...");
    }
    if !verbose {
        a.output(&out);
        return Ok(());
    }
    let mode = match t.lookup {
        LookupMode::SrcAddress => "src address",
        LookupMode::DstAddress => "dst address",
        LookupMode::SessionId => "session id",
    };
    let _ = writeln!(out, "L2tp session lookup on {mode}");
    {
        use std::sync::atomic::Ordering::Relaxed;
        let st = &m.pmtu.stats;
        let _ = writeln!(
            out,
            "Path mtu messages: {} applied, {} not for a tunnel, {} not lowering, {} aged out",
            st.applied.load(Relaxed),
            st.not_ours.load(Relaxed),
            st.ignored.load(Relaxed),
            st.aged.load(Relaxed)
        );
    }
    for (i, s) in t.live().filter(|(_, s)| !s.active) {
        let _ = writeln!(
            out,
            "[{i}] {} (our) {} (client) {} (sw_if_index {}): signalled, no session yet",
            s.our,
            s.client,
            cx.vnet.if_name(&cx.ctl, s.sw_if_index),
            s.sw_if_index
        );
    }
    for (i, s) in t.live().filter(|(_, s)| s.active) {
        let name = cx.vnet.if_name(&cx.ctl, s.sw_if_index);
        let _ = writeln!(
            out,
            "[{i}] {} (our) {} (client) {} (sw_if_index {})",
            s.our, s.client, name, s.sw_if_index
        );
        let _ = writeln!(
            out,
            "   local cookies {} {} remote cookie {}",
            cookie_str(&s.local_cookie[0]),
            if s.prev_cookie_valid {
                cookie_str(&s.local_cookie[1])
            } else {
                "-".repeat(s.local_cookie[0].len() * 2)
            },
            cookie_str(&s.remote_cookie)
        );
        let _ = writeln!(
            out,
            "   local session-id {} remote session-id {}",
            s.local_session_id as i32, s.remote_session_id as i32
        );
        let _ = writeln!(
            out,
            "   l2 specific sublayer {}",
            if s.layout.sublayer() {
                "preset"
            } else {
                "absent"
            }
        );
        let (rp, rb) = (t.counter(i, sc::RX_PKTS), t.counter(i, sc::RX_BYTES));
        let (tp, tb) = (t.counter(i, sc::TX_PKTS), t.counter(i, sc::TX_BYTES));
        if rp != 0 {
            let _ = writeln!(out, "   user-to-net: {rp} pkts {rb} bytes");
        }
        if tp != 0 {
            let _ = writeln!(out, "   net-to-user: {tp} pkts {tb} bytes");
        }
        // pwire's additions, after VPP's block so scripts reading VPP's lines still work.
        let (lc, rc) = (s.layout.cookie_len(), s.tx_layout.cookie_len());
        let _ = writeln!(
            out,
            "   cookie size {}, previous local cookie {}",
            if lc == rc {
                format!("{lc} bytes")
            } else {
                format!("{lc} bytes local, {rc} bytes remote")
            },
            if s.prev_cookie_valid {
                "accepted"
            } else {
                "none"
            }
        );
        let v4 = s.kind.v4();
        let _ = writeln!(
            out,
            "   sequencing {}{}, {} {}",
            if s.sequencing { "on" } else { "off" },
            match (
                s.sequencing == s.tx_sequencing,
                s.tx_layout.sublayer() == s.layout.sublayer()
            ) {
                (true, true) => String::new(),
                _ => format!(
                    " (received), {} (sent), l2 specific sublayer sent {}",
                    if s.tx_sequencing { "on" } else { "off" },
                    if s.tx_layout.sublayer() {
                        "present"
                    } else {
                        "absent"
                    }
                ),
            },
            if v4 { "ttl" } else { "hop-limit" },
            s.hop_limit
                .map_or("255 (254 on the wire)".to_string(), |h| h.to_string())
        );
        let fam = if v4 { "ip4" } else { "ip6" };
        let _ = writeln!(
            out,
            "   outer fragmentation {}",
            if s.fragment {
                "on (packets over the egress mtu are fragmented after encapsulation)"
            } else {
                "off (packets over the egress mtu are dropped)"
            }
        );
        let ip_len = s.kind.ip_len();
        let udp = match s.transport {
            Transport::Ip => {
                let _ = writeln!(
                    out,
                    "   family {fam}, encap ip (protocol 115){}",
                    if v4 {
                        format!(", df {}", if s.df { "on" } else { "off" })
                    } else {
                        String::new()
                    }
                );
                String::new()
            }
            Transport::Udp {
                local_port,
                remote_port,
            } => {
                let _ = writeln!(
                    out,
                    "   family {fam}, encap udp local-port {local_port} remote-port {remote_port}, udp checksum {}{}",
                    match (s.udp_csum, v4) {
                        (true, _) => "on",
                        (false, true) => "off (zero)",
                        (false, false) => "off (zero sent and accepted)",
                    },
                    if v4 {
                        format!(", df {}", if s.df { "on" } else { "off" })
                    } else {
                        String::new()
                    }
                );
                ", udp 8 + 4".to_string()
            }
        };
        let overhead = 14 + s.rewrite_len as u32;
        match m.inner_mtu(&cx.ctl, s) {
            Some((eg, mtu, inner)) => {
                let _ = writeln!(
                    out,
                    "   encap overhead {overhead} bytes (ethernet 14, {fam} {ip_len}{udp}, l2tpv3 {}), egress {eg} {fam} mtu {mtu}, inner mtu {inner}",
                    s.tx_hdr_len()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "   encap overhead {overhead} bytes (ethernet 14, {fam} {ip_len}{udp}, l2tpv3 {}), no route to {}",
                    s.tx_hdr_len(),
                    s.client
                );
            }
        }
        let pm = s.pmtu.load(std::sync::atomic::Ordering::Relaxed);
        if pm != 0 {
            let left = m
                .pmtu
                .lowered(s.our, s.client)
                .map_or(0, |(_, d)| d.as_secs());
            let _ = writeln!(
                out,
                "   path mtu {pm} (ICMP from the path, held {left} s more), inner mtu {}",
                pm.saturating_sub(s.rewrite_len as u32)
            );
        }
        debug_assert_eq!(
            s.rewrite_len as usize,
            s.kind.l2tp_at() + s.tx_hdr_len(),
            "{:?}",
            OuterKind::of(v4, s.transport)
        );
        let _ = writeln!(
            out,
            "   {}",
            cx.vnet.state.get(&cx.ctl).pw_desc(s.sw_if_index)
        );
        let _ = writeln!(
            out,
            "   drops: cookie mismatch {} sequence {} tunnel down {} address mismatch {}",
            t.counter(i, sc::COOKIE_DROPS),
            t.counter(i, sc::SEQ_DROPS),
            t.counter(i, sc::DOWN_DROPS),
            t.counter(i, sc::ADDR_DROPS)
        );
    }
    a.output(&out);
    Ok(())
}
