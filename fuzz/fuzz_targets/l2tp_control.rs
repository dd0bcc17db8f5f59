//! The L2TPv3 control plane's state machines over arbitrary message sequences: one core with a
//! passive connection (and a pseudowire) towards peer A and an active one towards peer B, fed
//! chunks that are messages (with the CCID often patched to one the core assigned, so the
//! established-state code is reached), clock steps and commands. The core must never panic,
//! and every message it sends must parse.
//!
//! Input: repeated `op len bytes[len]`. `op & 3`: 0 message from A, 1 message from B, 2 clock
//! step of `len` × 100 ms, 3 command picked by `len`. `op & 4`: patch bytes 4..8 with a CCID
//! the core assigned; `op & 8`: Ns/Nr patched to what the core expects next.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwire_l2tp_control::msg::Message;
use pwire_l2tp_control::*;
use std::net::{IpAddr, Ipv6Addr};

fn ip(i: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i))
}

fuzz_target!(|data: &[u8]| {
    let mut core = Core::new(
        CoreConfig {
            host_name: "fuzz".into(),
            router_id: 1,
            ..CoreConfig::default()
        },
        SeededRandom::new(1),
    );
    let Ok(Created::Conn(ca)) = core.handle_command(
        0,
        Command::CreateConnection(ConnConfig {
            passive: true,
            ..ConnConfig::new(ip(1), ip(2))
        }),
    ) else {
        return;
    };
    let Ok(Created::Conn(cb)) = core.handle_command(
        0,
        Command::CreateConnection(ConnConfig {
            digest: Some(DigestAlg::Md5),
            ..ConnConfig::new(ip(1), ip(3))
        }),
    ) else {
        return;
    };
    let pw = PwConfig {
        conn: ca,
        vc_id: 100,
        pw_type: PwType::Ethernet,
        cookie_size: 4,
        l2_sublayer: true,
        sequencing: false,
    };
    let Ok(Created::Pw(pa)) = core.handle_command(0, Command::CreatePseudowire(pw.clone())) else {
        return;
    };
    // An accept-any connection on ip(10) (challenge authentication, which a fuzzed SCCRQ can
    // pass the first step of, so accepted connections are made and torn down) with a pseudowire.
    if let Ok(Created::Conn(ct)) = core.handle_command(
        0,
        Command::CreateConnection(ConnConfig {
            accept_any: true,
            secret: Secret::new(b"fuzz"),
            challenge: true,
            ..ConnConfig::new(ip(10), ip(0))
        }),
    ) {
        let _ = core.handle_command(
            0,
            Command::CreatePseudowire(PwConfig {
                conn: ct,
                ..pw.clone()
            }),
        );
    }
    let mut ccids = vec![0u32];
    // (Ns, Nr) the core expects from / has sent to each peer, as seen on the wire.
    let mut seq = [(0u16, 0u16); 2];
    let mut now = 0u64;
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (body, after) = tail.split_at(n);
        rest = after;
        match op & 3 {
            0 | 1 => {
                let from = (op & 1) as usize;
                let mut m = body.to_vec();
                if op & 4 != 0 && m.len() >= 8 {
                    let c = ccids[(*len as usize) % ccids.len()];
                    m[4..8].copy_from_slice(&c.to_be_bytes());
                }
                if op & 8 != 0 && m.len() >= 12 {
                    let (ns, nr) = seq[from];
                    m[8..10].copy_from_slice(&ns.to_be_bytes());
                    m[10..12].copy_from_slice(&nr.to_be_bytes());
                }
                // `op & 16`: to the accept-any connection, from one of four peers.
                let path = if op & 16 != 0 {
                    Path {
                        local: ip(10),
                        peer: ip(20 + u16::from(*len % 4)),
                        transport: Transport::Ip,
                    }
                } else {
                    Path {
                        local: ip(1),
                        peer: ip(2 + from as u16),
                        transport: Transport::Ip,
                    }
                };
                core.handle_message(now, path, &m);
            }
            2 => {
                now += *len as u64 * 100 * MS;
                core.handle_timeout(now);
            }
            _ => {
                let cmd = match len % 8 {
                    0 => Command::SetCircuit { pw: pa, up: false },
                    1 => Command::SetCircuit { pw: pa, up: true },
                    2 => Command::ClearConnection(ca),
                    3 => Command::ClearConnection(cb),
                    4 => Command::DeletePseudowire(pa),
                    5 => Command::CreatePseudowire(pw.clone()),
                    6 => Command::CreatePseudowire(PwConfig {
                        conn: cb,
                        ..pw.clone()
                    }),
                    _ => Command::DeleteConnection(cb),
                };
                let _ = core.handle_command(now, cmd);
            }
        }
        while let Some(t) = core.poll_transmit() {
            let m =
                Message::parse(&t.payload, None).expect("the core sent a message it cannot parse");
            let from = if t.path.peer == ip(2) { 0 } else { 1 };
            if let Some(c) = m.assigned_ccid {
                if !ccids.contains(&c) {
                    ccids.push(c);
                }
            }
            if m.mtype.is_some_and(|t| t != 20) {
                seq[from].1 = m.ns.wrapping_add(1);
            }
            seq[from].0 = m.nr;
        }
        while core.poll_event().is_some() {}
        for id in core.connections() {
            let _ = core.connection(id).map(|i| i.to_string());
        }
        let _ = core.pseudowire(pa).map(|p| p.to_string());
    }
});
