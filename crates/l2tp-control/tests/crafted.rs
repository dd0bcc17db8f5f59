//! One core against hand-made messages: the M-bit rules, malformed input, hidden AVPs,
//! Remote End ID forms, ZLB acknowledgements, garbage, and secrets kept out of every output.

mod common;

use common::{addr, core_config};
use pwire_l2tp_control::auth;
use pwire_l2tp_control::msg::Message;
use pwire_l2tp_control::wire::{at, mt, zlb, MsgBuilder};
use pwire_l2tp_control::*;

const PEER_CCID: u32 = 0x1234;

struct Peer {
    core: Core<SeededRandom>,
    conn: ConnId,
    path: Path,
    ns: u16,
    nr: u16,
    /// Our CCID at the core, once known.
    ccid: u32,
    out: Vec<Message>,
    events: Vec<Event>,
}

impl Peer {
    /// The core (B) with a passive connection towards us (A) and a pseudowire vc 100.
    fn new(cfg: ConnConfig) -> Peer {
        let mut core = Core::new(core_config(1), SeededRandom::new(7));
        let conn = match core.handle_command(
            0,
            Command::CreateConnection(ConnConfig {
                passive: true,
                ..cfg
            }),
        ) {
            Ok(Created::Conn(c)) => c,
            r => panic!("{r:?}"),
        };
        core.handle_command(
            0,
            Command::CreatePseudowire(PwConfig {
                conn,
                vc_id: 100,
                pw_type: PwType::Ethernet,
                cookie_size: 4,
                l2_sublayer: false,
                sequencing: false,
            }),
        )
        .unwrap();
        Peer {
            core,
            conn,
            path: Path {
                local: addr(1),
                peer: addr(0),
                transport: Transport::Ip,
            },
            ns: 0,
            nr: 0,
            ccid: 0,
            out: vec![],
            events: vec![],
        }
    }

    fn plain() -> Peer {
        Peer::new(ConnConfig::new(addr(1), addr(0)))
    }

    /// Sends a message built by `b` (sequenced unless it is an ACK), collects the answers.
    fn send(&mut self, t: u16, b: MsgBuilder) -> Vec<Message> {
        let bytes = b.finish(self.ccid, self.ns, self.nr);
        if t != mt::ACK {
            self.ns = self.ns.wrapping_add(1);
        }
        self.raw(&bytes)
    }

    fn raw(&mut self, bytes: &[u8]) -> Vec<Message> {
        self.core.handle_message(1_000, self.path, bytes);
        let mut got = vec![];
        while let Some(t) = self.core.poll_transmit() {
            let m = Message::parse(&t.payload, None).expect("the core sends valid messages");
            if m.mtype.is_some_and(|t| t != mt::ACK) {
                self.nr = m.ns.wrapping_add(1);
            }
            got.push(m.clone());
            self.out.push(m);
        }
        while let Some(e) = self.core.poll_event() {
            self.events.push(e);
        }
        got
    }

    fn sccrq(&self) -> MsgBuilder {
        let mut b = MsgBuilder::new(mt::SCCRQ);
        b.avp(at::HOST_NAME, b"fake")
            .avp(at::ROUTER_ID, &[10, 0, 0, 1])
            .avp_u32(at::ASSIGNED_CCID, PEER_CCID)
            .avp(at::PW_CAPABILITIES, &[0, 5]);
        b
    }

    /// Brings the control connection up; returns the SCCRP.
    fn establish(&mut self) -> Message {
        let b = self.sccrq();
        let rp = self.send(mt::SCCRQ, b).remove(0);
        assert_eq!(rp.mtype, Some(mt::SCCRP));
        self.ccid = rp.assigned_ccid.unwrap();
        let out = self.send(mt::SCCCN, MsgBuilder::new(mt::SCCCN));
        assert_eq!(out[0].mtype, Some(mt::ACK));
        assert_eq!(
            self.core.connection(self.conn).unwrap().state,
            "established"
        );
        rp
    }

    fn icrq(&self, sid: u32, vc: &[u8]) -> MsgBuilder {
        let mut b = MsgBuilder::new(mt::ICRQ);
        b.avp_u32(at::LOCAL_SESSION_ID, sid)
            .avp_u32(at::REMOTE_SESSION_ID, 0)
            .avp_u32(at::SERIAL_NUMBER, 1)
            .avp_u16(at::PW_TYPE, 5)
            .avp(at::REMOTE_END_ID, vc)
            .avp_u16(at::CIRCUIT_STATUS, 3);
        b
    }
}

fn result_of(m: &Message) -> (u16, u16) {
    let r = m.result.as_ref().expect("a result code");
    (r.result, r.error.unwrap_or(0))
}

#[test]
fn unknown_mandatory_avp_in_control_message_clears_connection() {
    let mut p = Peer::plain();
    p.establish();
    let mut b = MsgBuilder::new(mt::HELLO);
    b.avp_flags(true, 0, 4000, &[1, 2]);
    let out = p.send(mt::HELLO, b);
    let stop = out
        .iter()
        .find(|m| m.mtype == Some(mt::STOPCCN))
        .expect("StopCCN");
    assert_eq!(result_of(stop), (2, 8));
    assert!(stop.assigned_ccid.is_some());
    assert_eq!(p.core.connection(p.conn).unwrap().state, "idle");
}

#[test]
fn unknown_optional_avp_and_vendor_avp_are_skipped() {
    let mut p = Peer::plain();
    let mut b = p.sccrq();
    b.avp_flags(false, 0, 4000, &[9; 40])
        .avp_flags(false, 9, 10, &[1, 2, 3, 4]);
    let out = p.send(mt::SCCRQ, b);
    assert_eq!(out[0].mtype, Some(mt::SCCRP));
    // A Cisco vendor AVP with M=1 refuses the connection (StopCCN 2/8).
    let mut p = Peer::plain();
    let mut b = p.sccrq();
    b.avp_flags(true, 9, 10, &[1, 2, 3, 4]);
    let out = p.send(mt::SCCRQ, b);
    assert_eq!(out[0].mtype, Some(mt::STOPCCN));
    assert_eq!(result_of(&out[0]), (2, 8));
    assert_eq!(out[0].ccid, PEER_CCID);
}

#[test]
fn unknown_message_type_by_m_bit() {
    let mut p = Peer::plain();
    p.establish();
    // M=0: ignored, but acknowledged (it consumed an Ns).
    let mut b = MsgBuilder::new(0);
    b.avp_u16(at::MESSAGE_TYPE, 0); // placeholder, replaced below
    let mut bytes = MsgBuilder::new(99).finish(p.ccid, p.ns, p.nr);
    bytes[12] = 0x00; // Message Type AVP with M=0
    p.ns += 1;
    let out = p.raw(&bytes);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].mtype, Some(mt::ACK));
    assert_eq!(out[0].nr, p.ns);
    assert_eq!(p.core.connection(p.conn).unwrap().state, "established");
    // M=1: the connection is cleared.
    let out = p.send(99, MsgBuilder::new(99));
    assert_eq!(result_of(&out[0]), (2, 8));
    let _ = b;
}

#[test]
fn session_messages_errors_give_cdn() {
    let mut p = Peer::plain();
    p.establish();
    // Unknown M=1 AVP in an ICRQ: CDN 2/8 for that session only.
    let mut b = p.icrq(77, &[0, 0, 0, 100]);
    b.avp_flags(true, 0, 4000, &[0]);
    let out = p.send(mt::ICRQ, b);
    let cdn = out.iter().find(|m| m.mtype == Some(mt::CDN)).expect("CDN");
    assert_eq!(result_of(cdn), (2, 8));
    assert_eq!(cdn.remote_sid, Some(77));
    // A missing mandatory AVP (Remote Session ID), as Cisco was seen to reject.
    let mut b = MsgBuilder::new(mt::ICRQ);
    b.avp_u32(at::LOCAL_SESSION_ID, 78)
        .avp_u32(at::SERIAL_NUMBER, 1)
        .avp_u16(at::PW_TYPE, 5)
        .avp(at::REMOTE_END_ID, &[0, 0, 0, 100])
        .avp_u16(at::CIRCUIT_STATUS, 1);
    let out = p.send(mt::ICRQ, b);
    assert_eq!(
        out.iter().find(|m| m.mtype == Some(mt::CDN)).map(result_of),
        Some((2, 0))
    );
    // Sequencing without a sublayer: CDN 15.
    let mut b = p.icrq(79, &[0, 0, 0, 100]);
    b.avp_u16(at::DATA_SEQUENCING, 2);
    let out = p.send(mt::ICRQ, b);
    assert_eq!(
        out.iter().find(|m| m.mtype == Some(mt::CDN)).map(result_of),
        Some((15, 0))
    );
    assert_eq!(p.core.connection(p.conn).unwrap().state, "established");
}

#[test]
fn remote_end_id_as_string_and_full_session() {
    let mut p = Peer::plain();
    p.establish();
    let mut b = p.icrq(0xabc, b"100");
    b.avp(at::ASSIGNED_COOKIE, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let out = p.send(mt::ICRQ, b);
    let icrp = out
        .iter()
        .find(|m| m.mtype == Some(mt::ICRP))
        .expect("ICRP");
    assert_eq!(icrp.remote_sid, Some(0xabc));
    assert_eq!(icrp.cookie.map(|c| c.len()), Some(4));
    assert_eq!(icrp.circuit_status, Some(3), "A and N set");
    let sid = icrp.local_sid.unwrap();
    let mut b = MsgBuilder::new(mt::ICCN);
    b.avp_u32(at::LOCAL_SESSION_ID, 0xabc)
        .avp_u32(at::REMOTE_SESSION_ID, sid);
    p.send(mt::ICCN, b);
    let inst = p
        .events
        .iter()
        .find_map(|e| match e {
            Event::InstallSession(s) => Some(s.clone()),
            _ => None,
        })
        .expect("installed");
    assert_eq!(inst.remote_session_id, 0xabc);
    assert_eq!(inst.local_session_id, sid);
    assert_eq!(inst.remote_cookie.as_bytes(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(inst.peer_active);
    // A CDN addressed by reverse lookup (Remote Session ID 0) removes it.
    let mut b = MsgBuilder::new(mt::CDN);
    b.result_code(3, 0, "")
        .avp_u32(at::LOCAL_SESSION_ID, 0xabc)
        .avp_u32(at::REMOTE_SESSION_ID, 0);
    p.send(mt::CDN, b);
    assert!(p.events.iter().any(
        |e| matches!(e, Event::RemoveSession { local_session_id, .. } if *local_session_id == sid)
    ));
}

#[test]
fn zlb_is_an_acknowledgement_and_bad_nr_is_dropped() {
    let mut p = Peer::plain();
    let b = p.sccrq();
    let rp = p.send(mt::SCCRQ, b).remove(0);
    p.ccid = rp.assigned_ccid.unwrap();
    // A ZLB with an Nr beyond what was sent is invalid and changes nothing.
    p.raw(&zlb(p.ccid, 1, 5));
    assert_eq!(p.core.connection(p.conn).unwrap().counters.bad_nr, 1);
    assert_eq!(p.core.connection(p.conn).unwrap().unacked, 1);
    // A ZLB acknowledging the SCCRP empties the queue; no ACK is sent back for it.
    let out = p.raw(&zlb(p.ccid, 1, 1));
    assert!(out.is_empty());
    assert_eq!(p.core.connection(p.conn).unwrap().unacked, 0);
    // With zlb_acks, the core acknowledges with ZLBs itself.
    let mut c = Core::new(
        CoreConfig {
            zlb_acks: true,
            ..core_config(1)
        },
        SeededRandom::new(1),
    );
    c.handle_command(
        0,
        Command::CreateConnection(ConnConfig {
            passive: true,
            ..ConnConfig::new(addr(1), addr(0))
        }),
    )
    .unwrap();
    p.core = c;
    p.ns = 0;
    p.nr = 0;
    p.ccid = 0;
    let b = p.sccrq();
    let rp = p.send(mt::SCCRQ, b).remove(0);
    p.ccid = rp.assigned_ccid.unwrap();
    let out = p.send(mt::SCCCN, MsgBuilder::new(mt::SCCCN));
    assert_eq!(out[0].mtype, None, "a ZLB");
}

#[test]
fn hidden_avp_in_sccrq_is_decoded() {
    let secret = "hide";
    let mut p = Peer::new(ConnConfig {
        secret: Secret::new(secret),
        ..ConnConfig::new(addr(1), addr(0))
    });
    let rv = [3u8; 16];
    let hidden = auth::hide(
        at::HOST_NAME,
        &Secret::new(secret).hiding_key(),
        &rv,
        b"hidden-host",
    );
    let mut b = MsgBuilder::new(mt::SCCRQ);
    b.avp(at::RANDOM_VECTOR, &rv)
        .avp(at::ROUTER_ID, &[10, 0, 0, 1])
        .avp_u32(at::ASSIGNED_CCID, PEER_CCID)
        .avp(at::PW_CAPABILITIES, &[0, 5]);
    let mut bytes = b.finish(0, 0, 0);
    bytes.extend_from_slice(&(0xC000u16 | (6 + hidden.len()) as u16).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, at::HOST_NAME as u8]);
    bytes.extend_from_slice(&hidden);
    let n = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&n.to_be_bytes());
    let out = p.raw(&bytes);
    assert_eq!(out[0].mtype, Some(mt::SCCRP));
    p.ccid = out[0].assigned_ccid.unwrap();
    p.ns = 1;
    p.send(mt::SCCCN, MsgBuilder::new(mt::SCCCN));
    assert_eq!(
        p.core.connection(p.conn).unwrap().peer_host_name.as_deref(),
        Some("hidden-host")
    );
}

#[test]
fn garbage_never_panics_and_is_counted() {
    let mut p = Peer::plain();
    p.establish();
    let mut r = SeededRandom::new(42);
    let ccid = p.ccid;
    for i in 0..20_000u32 {
        let len = r.below(80) as usize;
        let mut b = vec![0u8; len];
        r.fill(&mut b);
        // Often a plausible header, so the AVP walk and the state machines see it.
        if len >= 12 && i % 2 == 0 {
            b[0] = 0xc8;
            b[1] = 0x03;
            b[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            b[4..8].copy_from_slice(&(if i % 4 == 0 { ccid } else { 0 }).to_be_bytes());
            if len >= 20 && i % 3 == 0 {
                b[12] = 0x80;
                b[13] = 8;
                b[14..18].fill(0);
                b[18] = 0;
                b[19] = (r.below(22)) as u8;
            }
        }
        p.raw(&b);
        p.core.handle_timeout(i as u64 * 1_000_000);
    }
    assert!(p.core.stats().malformed > 0);
}

#[test]
fn secrets_never_appear_in_output() {
    let secret = "hunter2-TOPSECRET";
    let cfg = |i: usize| ConnConfig {
        secret: Secret::new(secret),
        secret2: Some(Secret::new("old-SECRET-value")),
        digest: Some(DigestAlg::Sha1),
        challenge: true,
        ..ConnConfig::new(addr(i), addr(1 - i))
    };
    let mut s = common::Sim::new(77);
    let cb = s.conn(1, cfg(1));
    let ca = s.conn(0, cfg(0));
    let pa = s.pw(0, ca, 1);
    let pb = s.pw(1, cb, 1);
    assert!(s.run_until(30 * SEC, |s| common::pws_consistent(s, &[(pa, pb)])));
    s.cmd(0, Command::DeleteConnection(ca));
    s.run_for(5 * SEC);
    let key_hex = |k: [u8; 16]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let forbidden = [
        secret.to_string(),
        "old-SECRET-value".to_string(),
        key_hex(Secret::new(secret).digest_key()),
        key_hex(Secret::new(secret).hiding_key()),
        format!("{:?}", secret.as_bytes()),
    ];
    let mut texts = vec![];
    for n in &s.nodes {
        texts.push(format!("{:?}", n.core));
        for e in &n.events {
            texts.push(format!("{e:?}"));
        }
    }
    let info = s.info(1, cb);
    texts.push(format!("{info}"));
    texts.push(format!("{info:?}"));
    texts.push(format!("{:?}", cfg(0)));
    texts.push(cfg(0).auth_kind());
    if let Some(pw) = s.nodes[1].core.pseudowire(pb) {
        texts.push(format!("{pw} {pw:?}"));
    }
    for t in &texts {
        for f in &forbidden {
            assert!(!t.contains(f.as_str()), "secret material in output: {t}");
        }
    }
    // The test looks at real output: the configuration and the counters are there.
    assert!(texts.iter().any(|t| t.contains("Secret(set)")));
    assert!(info.to_string().contains("digest hmac-sha1 + challenge"));
}

#[test]
fn one_timer_structure_for_many_connections() {
    let mut core = Core::new(core_config(0), SeededRandom::new(5));
    for i in 0..1000u16 {
        let peer =
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i + 1));
        core.handle_command(0, Command::CreateConnection(ConnConfig::new(addr(0), peer)))
            .unwrap();
    }
    let mut sent = 0;
    while core.poll_transmit().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 1000);
    // Every SCCRQ is retransmitted at 1, 3, 7, 15 … s: all deadlines coincide, so the caller
    // wakes once per retransmission round, not once per connection.
    let mut wakeups = 0;
    while let Some(t) = core.poll_timeout().filter(|&t| t <= 20 * SEC) {
        core.handle_timeout(t);
        wakeups += 1;
        while core.poll_transmit().is_some() {
            sent += 1;
        }
    }
    assert_eq!(sent, 5000);
    assert!(wakeups <= 5, "{wakeups} wake-ups");
    assert!(format!("{core:?}").contains("timers: 1000"));
}

/// A zero retry delay must not make a timer fire again at the same instant forever (the
/// pseudowire cannot start: the peer does not offer its type).
#[test]
fn zero_delays_do_not_spin() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut p = Peer::plain();
        p.core = Core::new(
            CoreConfig {
                pw_retry_delay: 0,
                responder_pw_delay: 0,
                reconnect_delay: 0,
                ..core_config(1)
            },
            SeededRandom::new(3),
        );
        let conn = ConnConfig {
            passive: true,
            ..ConnConfig::new(addr(1), addr(0))
        };
        let Ok(Created::Conn(c)) = p.core.handle_command(0, Command::CreateConnection(conn)) else {
            panic!()
        };
        p.conn = c;
        let pw = PwConfig {
            conn: c,
            vc_id: 1,
            pw_type: PwType::Ethernet,
            cookie_size: 0,
            l2_sublayer: false,
            sequencing: false,
        };
        p.core
            .handle_command(0, Command::CreatePseudowire(pw))
            .unwrap();
        let mut b = MsgBuilder::new(mt::SCCRQ);
        b.avp(at::HOST_NAME, b"vlan-only")
            .avp(at::ROUTER_ID, &[10, 0, 0, 1])
            .avp_u32(at::ASSIGNED_CCID, PEER_CCID)
            .avp(at::PW_CAPABILITIES, &[0, 4]);
        let rp = p.send(mt::SCCRQ, b).remove(0);
        p.ccid = rp.assigned_ccid.unwrap();
        p.send(mt::SCCCN, MsgBuilder::new(mt::SCCCN));
        let mut wakeups = 0;
        while let Some(t) = p.core.poll_timeout().filter(|&t| t < 10 * SEC) {
            p.core.handle_timeout(t);
            wakeups += 1;
        }
        tx.send(wakeups).unwrap();
    });
    let wakeups = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("handle_timeout returns");
    assert!(wakeups > 100, "retries every millisecond or so: {wakeups}");
}

#[test]
fn out_of_order_messages_are_queued_and_window_defaults_to_4() {
    let mut p = Peer::plain();
    p.establish();
    assert_eq!(
        p.core.connection(p.conn).unwrap().peer_window,
        4,
        "no Receive Window AVP sent"
    );
    let first = MsgBuilder::new(mt::HELLO).finish(p.ccid, p.ns, p.nr);
    let second = MsgBuilder::new(mt::HELLO).finish(p.ccid, p.ns + 1, p.nr);
    // The later one first: held, not acknowledged beyond what is in order.
    let out = p.raw(&second);
    assert!(out.iter().all(|m| m.nr == p.ns), "{out:?}");
    let out = p.raw(&first);
    assert_eq!(
        out.last().map(|m| m.nr),
        Some(p.ns + 2),
        "both delivered in order"
    );
    let c = p.core.connection(p.conn).unwrap().counters;
    assert_eq!((c.out_of_order, c.rx[mt::HELLO as usize]), (1, 2));
}

#[test]
fn sccrq_retry_limit_is_its_own() {
    let mut core = Core::new(core_config(0), SeededRandom::new(5));
    let cfg = ConnConfig {
        sccrq_retries: Some(2),
        retries: 15,
        ..ConnConfig::new(addr(0), addr(1))
    };
    let Ok(Created::Conn(c)) = core.handle_command(0, Command::CreateConnection(cfg)) else {
        panic!()
    };
    let mut sends = vec![];
    let mut now = 0;
    loop {
        while core.poll_transmit().is_some() {
            sends.push(now);
        }
        if core.connection(c).unwrap().state == "idle" {
            break;
        }
        now = core.poll_timeout().unwrap();
        core.handle_timeout(now);
    }
    // Sent at 0, 1 s and 3 s; given up at 7 s.
    assert_eq!(sends, [0, SEC, 3 * SEC]);
    assert_eq!(now, 7 * SEC);
    let logs: Vec<String> = std::iter::from_fn(|| core.poll_event())
        .filter_map(|e| match e {
            Event::Log(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("not answering after 2 retransmissions")),
        "{logs:?}"
    );
}

/// An SCCRQ acknowledging something (Nr ≠ 0) is invalid: no instance is created for it and
/// the next proper SCCRQ is answered normally.
#[test]
fn sccrq_with_nonzero_nr_leaves_nothing_behind() {
    let mut p = Peer::plain();
    let bytes = p.sccrq().finish(0, 0, 3);
    assert!(p.raw(&bytes).is_empty());
    let info = p.core.connection(p.conn).unwrap();
    assert_eq!((info.state, info.counters.bad_nr), ("idle", 1));
    assert!(!format!("{:?}", p.core).contains("instances: 1"));
    p.establish();
}
