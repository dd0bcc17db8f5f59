//! Message exchanges between two cores over a simulated link: RFC 3931 Appendix B, the
//! authentication variants, ties, Hello expiry, session negotiation and teardown.

mod common;

use common::*;
use pwire_l2tp_control::msg::Message;
use pwire_l2tp_control::wire::mt;
use pwire_l2tp_control::*;

/// A (initiator) and B (passive responder), no pseudowires.
fn pair(seed: u64, a: ConnConfig, b: ConnConfig) -> (Sim, ConnId, ConnId) {
    let mut s = Sim::new(seed);
    let cb = s.conn(B, ConnConfig { passive: true, ..b });
    let ca = s.conn(A, a);
    (s, ca, cb)
}

/// Appendix B.1: lock-step tunnel establishment.
#[test]
fn b1_lock_step_establishment() {
    let (mut s, ca, cb) = pair(1, conn_config(A), conn_config(B));
    s.run_for(5 * SEC);
    assert_eq!(
        s.flow(),
        ["A:SCCRQ(0,0)", "B:SCCRP(0,1)", "A:SCCCN(1,1)", "B:ACK(1,2)"],
        "{:?}",
        s.flow()
    );
    assert!(conns_consistent(&s, ca, cb));
    assert_eq!((s.nodes[A].ups, s.nodes[B].ups), (1, 1));
    // Every message carries the mandatory AVPs.
    let rq = Message::parse(&s.sent(A, mt::SCCRQ)[0].bytes, None).unwrap();
    assert_eq!(rq.missing(), None);
    assert_eq!(rq.ccid, 0);
    assert_eq!(rq.host_name.as_deref(), Some(&b"lcce-a"[..]));
    assert_eq!(rq.router_id, Some(0xc0000201));
    assert_eq!(rq.pw_caps, Some(vec![5, 4]));
    assert!(rq.tie_breaker.is_some());
    assert_eq!(rq.receive_window, Some(16));
    let rp = Message::parse(&s.sent(B, mt::SCCRP)[0].bytes, None).unwrap();
    assert_eq!(rp.missing(), None);
    assert_eq!(rp.ccid, rq.assigned_ccid.unwrap());
}

/// Appendix B.2: the ICRP is lost; the retransmitted ICRQ is acknowledged with Nr unchanged
/// and the ICRP is retransmitted.
#[test]
fn b2_lost_icrp() {
    // B waits long before sending its own ICRQs, so that A's ICRQ is the only one.
    let b = CoreConfig {
        responder_pw_delay: 600 * SEC,
        ..core_config(B)
    };
    let mut s = Sim::with_configs(2, core_config(A), b);
    let cb = s.conn(
        B,
        ConnConfig {
            passive: true,
            ..conn_config(B)
        },
    );
    let ca = s.conn(A, conn_config(A));
    let pb = s.pw(B, cb, 100);
    s.run_for(2 * SEC);
    let mut dropped = false;
    s.drop = Some(Box::new(move |m| {
        let d = !dropped && m.mtype == mt::ICRP;
        dropped |= d;
        d
    }));
    let pa = s.pw(A, ca, 100);
    assert!(s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb)])));
    s.run_for(5 * SEC);
    let flow = s.flow();
    assert_eq!(
        flow[4..],
        [
            "A:ICRQ(2,1)",
            "B:ICRP(1,3) lost",
            "A:ICRQ(2,1)",
            "B:ACK(2,3)",
            "B:ICRP(1,3)",
            "A:ICCN(3,2)",
            "B:ACK(2,4)",
        ],
        "{flow:?}"
    );
    assert_eq!(s.info(A, ca).counters.retransmissions, 1);
    assert_eq!(s.info(B, cb).counters.retransmissions, 1);
    assert_eq!(s.info(B, cb).counters.duplicates, 1);
}

/// Establishes a pair with one pseudowire and returns it.
fn up_with_pw(seed: u64, a: ConnConfig, b: ConnConfig) -> (Sim, ConnId, ConnId, PwId, PwId) {
    let (mut s, ca, cb) = pair(seed, a, b);
    let pb = s.pw(B, cb, 100);
    let pa = s.pw(A, ca, 100);
    assert!(
        s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb)])),
        "{:?}\nA {:?}\nB {:?}",
        s.flow(),
        s.nodes[A].logs(),
        s.nodes[B].logs()
    );
    (s, ca, cb, pa, pb)
}

fn with_auth(i: usize, digest: Option<DigestAlg>, secret: &str, challenge: bool) -> ConnConfig {
    ConnConfig {
        digest,
        secret: Secret::new(secret),
        challenge,
        ..conn_config(i)
    }
}

#[test]
fn digest_authentication_md5_sha1_and_integrity() {
    for (alg, secret) in [
        (DigestAlg::Md5, "tunnel-secret"),
        (DigestAlg::Sha1, "tunnel-secret"),
        (DigestAlg::Md5, ""),
    ] {
        let (s, ca, cb, ..) = up_with_pw(
            3,
            with_auth(A, Some(alg), secret, false),
            with_auth(B, Some(alg), secret, false),
        );
        for m in &s.trace {
            assert_ne!(m.mtype, mt::ZLB, "no ZLB with authentication");
            let p = Message::parse(&m.bytes, None).unwrap();
            assert!(p.has_digest, "{} without a digest", m.name());
            assert_eq!(
                p.nonce.is_some(),
                !secret.is_empty() && matches!(m.mtype, mt::SCCRQ | mt::SCCRP)
            );
            // The digest AVP is right after Message Type, with the configured type.
            assert_eq!(&m.bytes[22..26], &[0, 0, 0, 59]);
            assert_eq!(m.bytes[26], alg.type_byte());
        }
        assert_eq!(s.info(A, ca).counters.digest_failures, 0);
        assert_eq!(s.info(B, cb).counters.digest_failures, 0);
        assert!(s.info(A, ca).config.auth_kind().contains(alg.name()));
    }
}

#[test]
fn challenge_authentication() {
    let (s, ..) = up_with_pw(
        4,
        with_auth(A, None, "chap", true),
        with_auth(B, None, "chap", true),
    );
    let rq = Message::parse(&s.sent(A, mt::SCCRQ)[0].bytes, None).unwrap();
    let rp = Message::parse(&s.sent(B, mt::SCCRP)[0].bytes, None).unwrap();
    let cn = Message::parse(&s.sent(A, mt::SCCCN)[0].bytes, None).unwrap();
    assert!(rq.challenge.is_some() && rp.challenge.is_some());
    assert!(rp.challenge_response.is_some() && cn.challenge_response.is_some());
    // Both methods at once, as Cisco allows.
    up_with_pw(
        5,
        with_auth(A, Some(DigestAlg::Sha1), "k", true),
        with_auth(B, Some(DigestAlg::Sha1), "k", true),
    );
}

#[test]
fn wrong_secret_never_establishes() {
    for (alg, challenge) in [
        (Some(DigestAlg::Md5), false),
        (Some(DigestAlg::Sha1), true),
        (None, true),
    ] {
        let (mut s, ca, cb) = pair(
            6,
            with_auth(A, alg, "right", challenge),
            with_auth(B, alg, "wrong", challenge),
        );
        s.pw(A, ca, 100);
        s.pw(B, cb, 100);
        s.run_for(300 * SEC);
        assert_eq!((s.nodes[A].ups, s.nodes[B].ups), (0, 0), "{:?}", s.flow());
        assert!(s.nodes[A].installed.is_empty() && s.nodes[B].installed.is_empty());
        if alg.is_some() {
            assert!(s.info(B, cb).counters.digest_failures > 0);
        } else {
            // Challenge only: the responder's wrong answer makes the initiator refuse.
            let stops: Vec<_> = s.sent(A, mt::STOPCCN);
            assert!(!stops.is_empty());
            let m = Message::parse(&stops[0].bytes, None).unwrap();
            assert_eq!(m.result.unwrap().result, 4, "not authorized");
        }
    }
}

#[test]
fn digest_required_but_peer_sends_none_is_refused_not_authorized() {
    let (mut s, _ca, _cb) = pair(
        7,
        conn_config(A),
        with_auth(B, Some(DigestAlg::Md5), "s", false),
    );
    s.run_for(3 * SEC);
    let stop = s.sent(B, mt::STOPCCN);
    assert!(!stop.is_empty(), "{:?}", s.flow());
    let m = Message::parse(&stop[0].bytes, None).unwrap();
    assert_eq!(m.result.unwrap().result, 4);
    assert_eq!(s.nodes[A].ups, 0);
}

#[test]
fn hitless_secret_change_with_two_digests() {
    let a = ConnConfig {
        secret2: Some(Secret::new("old")),
        ..with_auth(A, Some(DigestAlg::Md5), "new", false)
    };
    let (s, ..) = up_with_pw(8, a, with_auth(B, Some(DigestAlg::Md5), "old", false));
    // A's messages carry two digests.
    let m = &s.sent(A, mt::SCCCN)[0].bytes;
    assert_eq!(&m[22 + 23..26 + 23], &[0, 0, 0, 59]);
}

#[test]
fn simultaneous_open_resolved_by_tie_breaker() {
    for seed in 0..20 {
        let mut s = Sim::new(100 + seed);
        let ca = s.conn(A, conn_config(A));
        let cb = s.conn(B, conn_config(B));
        let pa = s.pw(A, ca, 7);
        let pb = s.pw(B, cb, 7);
        assert!(
            s.run_until(60 * SEC, |s| conns_consistent(s, ca, cb)
                && pws_consistent(s, &[(pa, pb)])),
            "seed {seed}: {:?}",
            s.flow()
        );
        // Both sent an SCCRQ; exactly one was refused with StopCCN 3.
        assert_eq!(s.sent(A, mt::SCCRQ).len() + s.sent(B, mt::SCCRQ).len(), 2);
        let stops: Vec<_> = s.trace.iter().filter(|m| m.mtype == mt::STOPCCN).collect();
        assert_eq!(stops.len(), 1, "{:?}", s.flow());
        assert_eq!(
            Message::parse(&stops[0].bytes, None)
                .unwrap()
                .result
                .unwrap()
                .result,
            3
        );
        s.run_for(40 * SEC);
        assert!(conns_consistent(&s, ca, cb));
        assert_eq!((s.nodes[A].downs, s.nodes[B].downs), (0, 0));
    }
}

#[test]
fn session_tie_resolved() {
    let (mut s, ca, cb) = pair(9, conn_config(A), conn_config(B));
    s.run_for(2 * SEC);
    assert!(conns_consistent(&s, ca, cb));
    // Both configure the pseudowire at the same moment: both send an ICRQ.
    let pa = s.pw(A, ca, 55);
    let pb = s.pw(B, cb, 55);
    assert!(
        s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb)])),
        "{:?}",
        s.flow()
    );
    assert_eq!(s.sent(A, mt::ICRQ).len() + s.sent(B, mt::ICRQ).len(), 2);
    let cdns: Vec<_> = s.trace.iter().filter(|m| m.mtype == mt::CDN).collect();
    assert_eq!(cdns.len(), 1, "{:?}", s.flow());
    assert_eq!(
        Message::parse(&cdns[0].bytes, None)
            .unwrap()
            .result
            .unwrap()
            .result,
        13
    );
    s.run_for(30 * SEC);
    assert!(pws_consistent(&s, &[(pa, pb)]));
}

#[test]
fn silent_peer_hello_expiry_clears_sessions() {
    let a = ConnConfig {
        hello_interval: 20 * SEC,
        ..conn_config(A)
    };
    let (mut s, ca, _cb, pa, _pb) = up_with_pw(10, a, conn_config(B));
    let t0 = s.now;
    s.link.loss = 1000;
    // Hello after 20 s of silence (+ up to 1/8 jitter), then 10 retransmissions at 1, 2, 4,
    // 8, 8 … s and one more wait of 8 s.
    let bound = 20 * SEC + 20 * SEC / 8 + (1 + 2 + 4 + 8 * 7 + 8) * SEC + SEC;
    assert!(s.run_until(bound, |s| s.nodes[A].downs == 1));
    let took = s.now - t0;
    assert!(took > 20 * SEC + 70 * SEC, "down too early: {took}");
    assert!(s.nodes[A].installed.is_empty());
    assert_eq!(s.nodes[A].link.get(&pa), Some(&false));
    let removed = s.nodes[A]
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::RemoveSession { pw, .. } if *pw == pa));
    assert!(removed);
    let hellos = s.sent(A, mt::HELLO);
    assert_eq!(hellos.len(), 11, "one Hello and 10 retransmissions");
    assert!(hellos.windows(2).all(|w| w[0].ns == w[1].ns));
    assert_eq!(s.info(A, ca).state, "idle");
}

#[test]
fn stopccn_acknowledged_and_held() {
    let (mut s, ca, cb, pa, pb) = up_with_pw(11, conn_config(A), conn_config(B));
    s.cmd(A, Command::DeleteConnection(ca));
    assert!(s.nodes[A].installed.is_empty());
    s.run_for(2 * SEC);
    let stop = s.sent(A, mt::STOPCCN);
    assert_eq!(stop.len(), 1);
    let m = Message::parse(&stop[0].bytes, None).unwrap();
    assert!(m.assigned_ccid.is_some());
    assert!(s.nodes[B].installed.is_empty());
    assert_eq!(s.nodes[B].link.get(&pb), Some(&false));
    assert_eq!(
        s.info(B, cb).state,
        "idle",
        "the held instance is not the active one"
    );
    // B acknowledged it; a retransmission inside 31 s would be acknowledged again.
    assert!(s
        .trace
        .last()
        .is_some_and(|m| m.from == B && m.mtype == mt::ACK));
    let _ = pa;
}

#[test]
fn sequencing_without_sublayer_gets_cdn_15_and_mismatches_are_refused() {
    // A asks for sequencing with a sublayer; B's configuration differs in pw type for vc 2.
    let (mut s, ca, cb) = pair(12, conn_config(A), conn_config(B));
    s.run_for(2 * SEC);
    let pb = s.pw_with(
        B,
        PwConfig {
            l2_sublayer: true,
            sequencing: true,
            cookie_size: 4,
            ..pw_config(cb, 1)
        },
    );
    let pa = s.pw_with(
        A,
        PwConfig {
            cookie_size: 0,
            ..pw_config(ca, 1)
        },
    );
    assert!(
        s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb)])),
        "{:?}",
        s.flow()
    );
    let (a, b) = (&s.nodes[A].installed[&pa], &s.nodes[B].installed[&pb]);
    assert!(a.tx_sublayer && a.tx_sequencing && !a.rx_sublayer && !a.rx_sequencing);
    assert!(b.rx_sublayer && b.rx_sequencing && !b.tx_sublayer);
    assert_eq!((a.local_cookie.len(), a.remote_cookie.len()), (0, 4));

    s.pw_with(
        A,
        PwConfig {
            pw_type: PwType::EthernetVlan,
            ..pw_config(ca, 2)
        },
    );
    s.pw(B, cb, 2);
    s.run_for(3 * SEC);
    let cdns: Vec<u16> = s
        .trace
        .iter()
        .filter(|m| m.mtype == mt::CDN)
        .map(|m| {
            Message::parse(&m.bytes, None)
                .unwrap()
                .result
                .unwrap()
                .result
        })
        .collect();
    assert!(cdns.contains(&14), "{cdns:?}");
    s.pw(A, ca, 3); // unknown at B
    s.run_for(3 * SEC);
    let last_cdn = s.trace.iter().rev().find(|m| m.mtype == mt::CDN).unwrap();
    assert_eq!(
        Message::parse(&last_cdn.bytes, None)
            .unwrap()
            .result
            .unwrap()
            .result,
        6
    );
}

#[test]
fn circuit_status_sli_both_ways() {
    let (mut s, _ca, _cb, pa, pb) = up_with_pw(13, conn_config(A), conn_config(B));
    assert_eq!(s.nodes[B].peer_active.get(&pb), Some(&true));
    s.cmd(A, Command::SetCircuit { pw: pa, up: false });
    s.run_for(SEC);
    assert_eq!(s.sent(A, mt::SLI).len(), 1);
    assert_eq!(s.nodes[B].peer_active.get(&pb), Some(&false));
    s.cmd(A, Command::SetCircuit { pw: pa, up: true });
    s.cmd(B, Command::SetCircuit { pw: pb, up: false });
    s.run_for(SEC);
    assert_eq!(s.nodes[B].peer_active.get(&pb), Some(&true));
    assert_eq!(s.nodes[A].peer_active.get(&pa), Some(&false));
    // The session stays up throughout.
    assert!(pws_consistent(&s, &[(pa, pb)]));
}

#[test]
fn pseudowire_delete_sends_cdn_and_peer_retries() {
    let (mut s, _ca, cb, pa, pb) = up_with_pw(14, conn_config(A), conn_config(B));
    s.cmd(B, Command::DeletePseudowire(pb));
    s.run_for(SEC);
    let cdn = s.sent(B, mt::CDN);
    assert_eq!(cdn.len(), 1);
    assert_eq!(
        Message::parse(&cdn[0].bytes, None)
            .unwrap()
            .result
            .unwrap()
            .result,
        3
    );
    assert!(s.nodes[A].installed.is_empty());
    // A retries; B has no such vc now and says so; once B has it again, the pw comes back.
    s.run_for(15 * SEC);
    assert!(s.sent(B, mt::CDN).len() >= 2);
    let pb2 = s.pw(B, cb, 100);
    assert!(
        s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb2)])),
        "{:?}",
        s.flow()
    );
}

#[test]
fn udp_transport() {
    let udp = |i| ConnConfig {
        transport: Transport::Udp {
            local_port: UDP_PORT,
            peer_port: UDP_PORT,
        },
        ..conn_config(i)
    };
    let (s, ..) = up_with_pw(15, udp(A), udp(B));
    assert!(s.trace.iter().all(|m| m.bytes[0] == 0xc8));
}

#[test]
fn peer_restart_recovers() {
    let a = ConnConfig {
        hello_interval: 10 * SEC,
        ..conn_config(A)
    };
    let (mut s, ca, cb, _pa, pb) = up_with_pw(16, a, conn_config(B));
    // A restarts: a fresh core with the same configuration.
    s.nodes[A].core = Core::new(core_config(A), SeededRandom::new(999));
    s.nodes[A].installed.clear();
    let ca2 = s.conn(
        A,
        ConnConfig {
            hello_interval: 10 * SEC,
            ..conn_config(A)
        },
    );
    let pa2 = s.pw(A, ca2, 100);
    assert_eq!(ca, ca2);
    assert!(
        s.run_until(300 * SEC, |s| conns_consistent(s, ca2, cb)
            && pws_consistent(s, &[(pa2, pb)])),
        "{:?}",
        s.nodes[B].logs()
    );
}

/// The attachment circuit comes up while the session is still being set up (after the ICRP
/// said A=0): the peer learns it by an SLI once the session is established.
#[test]
fn circuit_change_during_setup_is_sent_after_establishment() {
    let b = CoreConfig {
        responder_pw_delay: 600 * SEC,
        ..core_config(B)
    };
    let mut s = Sim::with_configs(17, core_config(A), b);
    let cb = s.conn(
        B,
        ConnConfig {
            passive: true,
            ..conn_config(B)
        },
    );
    let ca = s.conn(A, conn_config(A));
    let pb = s.pw(B, cb, 100);
    s.cmd(B, Command::SetCircuit { pw: pb, up: false });
    s.run_for(2 * SEC);
    let mut dropped = false;
    s.drop = Some(Box::new(move |m| {
        let d = !dropped && m.mtype == mt::ICCN;
        dropped |= d;
        d
    }));
    let pa = s.pw(A, ca, 100);
    s.run_for(100 * MS);
    assert_eq!(s.sent(B, mt::ICRP).len(), 1);
    s.cmd(B, Command::SetCircuit { pw: pb, up: true });
    assert!(s.run_until(30 * SEC, |s| pws_consistent(s, &[(pa, pb)])));
    s.run_for(SEC);
    assert_eq!(s.sent(B, mt::SLI).len(), 1, "{:?}", s.flow());
    assert_eq!(s.nodes[A].peer_active.get(&pa), Some(&true));
}

/// Many pseudowires over one connection come up (and the work per message stays O(1): this
/// runs in well under a second in a debug build).
#[test]
fn two_thousand_pseudowires_over_one_connection() {
    let b = CoreConfig {
        responder_pw_delay: 600 * SEC,
        ..core_config(B)
    };
    let mut s = Sim::with_configs(18, core_config(A), b);
    let cb = s.conn(
        B,
        ConnConfig {
            passive: true,
            receive_window: 64,
            ..conn_config(B)
        },
    );
    let ca = s.conn(
        A,
        ConnConfig {
            receive_window: 64,
            ..conn_config(A)
        },
    );
    let n = 2000;
    let pairs: Vec<_> = (0..n)
        .map(|vc| (s.pw(A, ca, vc), s.pw(B, cb, vc)))
        .collect();
    let t0 = std::time::Instant::now();
    assert!(
        s.run_until(120 * SEC, |s| s.nodes[A].installed.len() == n as usize
            && s.nodes[B].installed.len() == n as usize)
    );
    assert!(pws_consistent(&s, &pairs));
    let sim = s.now;
    assert!(sim < 10 * SEC, "took {} ms of simulated time", sim / MS);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(s.info(A, ca).peer_window, 64);
}
