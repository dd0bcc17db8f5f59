//! `accept_any` templates: peers that are not configured but know the secret get connections
//! of their own, bind the template's pseudowires by VC ID, and leave nothing behind when they
//! go; unauthenticated SCCRQs leave nothing, or at most the limit, behind.

mod common;

use common::*;
use pwire_l2tp_control::auth;
use pwire_l2tp_control::msg::Message;
use pwire_l2tp_control::wire::{at, mt, MsgBuilder};
use pwire_l2tp_control::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const SECRET: &str = "shared-TEMPLATE-secret";

/// Node `i`'s accept-any template (MD5 digest).
fn template(i: usize, secret: &str) -> ConnConfig {
    ConnConfig {
        accept_any: true,
        secret: Secret::new(secret),
        digest: Some(DigestAlg::Md5),
        ..ConnConfig::new(addr(i), addr(i))
    }
}

/// Node `i`'s configured connection towards B.
fn towards_b(i: usize, secret: &str) -> ConnConfig {
    ConnConfig {
        secret: Secret::new(secret),
        digest: Some(DigestAlg::Md5),
        ..ConnConfig::new(addr(i), addr(B))
    }
}

/// B's connections accepted by `tpl` from node `peer`.
fn accepted_from(s: &Sim, tpl: ConnId, peer: usize) -> Vec<ConnInfo> {
    let core = &s.nodes[B].core;
    core.connections()
        .into_iter()
        .filter_map(|c| core.connection(c))
        .filter(|c| c.accepted_by == Some(tpl) && c.config.peer == addr(peer))
        .collect()
}

fn one_accepted(s: &Sim, tpl: ConnId, peer: usize) -> ConnInfo {
    let mut v = accepted_from(s, tpl, peer);
    assert_eq!(v.len(), 1, "{:?}", s.nodes[B].logs());
    v.remove(0)
}

/// Node `i`'s pseudowire `pi` and B's `pb` have matching installed sessions.
fn pw_up(s: &Sim, i: usize, pi: PwId, pb: PwId) -> bool {
    let (Some(a), Some(b)) = (s.nodes[i].installed.get(&pi), s.nodes[B].installed.get(&pb)) else {
        return false;
    };
    a.local_session_id == b.remote_session_id
        && a.remote_session_id == b.local_session_id
        && a.local_cookie == b.remote_cookie
        && a.remote_cookie == b.local_cookie
        && b.path.peer == addr(i)
}

/// B with a template and pseudowires on it for the VC IDs given.
fn b_with_template(s: &mut Sim, tpl: ConnConfig, vcs: &[u32]) -> (ConnId, Vec<PwId>) {
    let tb = s.conn(B, tpl);
    let pws = vcs.iter().map(|&vc| s.pw(B, tb, vc)).collect();
    (tb, pws)
}

/// Results of the CDNs node `from` sent.
fn cdn_results(s: &Sim, from: usize) -> Vec<u16> {
    s.sent(from, mt::CDN)
        .iter()
        .map(|m| {
            Message::parse(&m.bytes, None)
                .unwrap()
                .result
                .unwrap()
                .result
        })
        .collect()
}

/// (a) A is configured towards B; B only has a template with the same secret.
#[test]
fn accepted_peer_establishes_and_binds_the_template_pseudowire() {
    let mut s = Sim::new(40);
    let (tb, pbs) = b_with_template(&mut s, template(B, SECRET), &[100]);
    let pb = pbs[0];
    let ca = s.conn(A, towards_b(A, SECRET));
    let pa = s.pw(A, ca, 100);
    assert!(
        s.run_until(30 * SEC, |s| pw_up(s, A, pa, pb)),
        "{:?}\nB {:?}",
        s.flow(),
        s.nodes[B].logs()
    );
    let acc = one_accepted(&s, tb, A);
    assert!(conns_consistent(&s, ca, acc.id));
    assert_ne!(acc.id, tb);
    assert!(!acc.config.accept_any && acc.config.passive);
    assert_eq!(acc.config.local, addr(B));
    // The session B installs is the accepted connection's, towards A's real address.
    let p = &s.nodes[B].installed[&pb];
    assert_eq!(p.conn, acc.id);
    assert_eq!(
        p.path,
        Path {
            local: addr(B),
            peer: addr(A),
            transport: Transport::Ip
        }
    );
    assert_eq!(s.nodes[B].link.get(&pb), Some(&true));
    let pw = s.nodes[B].core.pseudowire(pb).unwrap();
    assert_eq!(pw.bound_to, Some(acc.id));
    assert_eq!(pw.config.conn, tb);
    assert!(pw.session.is_some());
    assert!(
        pw.to_string()
            .contains(&format!("bound to conn {}", acc.id.0)),
        "{pw}"
    );
    // B never sends an ICRQ on an accepted connection: A asked.
    assert!(s.sent(B, mt::ICRQ).is_empty());
    // show: the template says accept-any, the accepted one who made it.
    let ti = s.info(B, tb);
    assert_eq!(ti.config.peer, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert!(ti.config.accept_any && ti.config.passive);
    assert_eq!((ti.accepted_by, ti.sessions), (None, 0));
    let shown = ti.to_string();
    assert!(
        shown.contains("accept-any") && shown.contains("peer any"),
        "{shown}"
    );
    let shown = acc.to_string();
    assert!(
        shown.contains(&format!("accepted by {}", tb.0)) && shown.contains("established"),
        "{shown}"
    );
    let logs = s.nodes[B].logs();
    let want = format!(
        "l2tp conn {}: accepted SCCRQ from {} (accept-any conn {})",
        acc.id.0,
        addr(A),
        tb.0
    );
    assert!(logs.contains(&want), "{logs:?}");
    // It stays up across Hellos, and nothing leaks the secret.
    s.run_for(300 * SEC);
    assert!(conns_consistent(&s, ca, acc.id));
    assert_eq!((s.nodes[A].downs, s.nodes[B].downs), (0, 0));
    for l in s.nodes[B].logs() {
        assert!(!l.contains(SECRET), "{l}");
    }
    assert!(!format!("{:?}{}", s.info(B, acc.id), s.info(B, acc.id)).contains(SECRET));
    // Pseudowires go on the template, not on what it accepted.
    let r = s.nodes[B]
        .core
        .handle_command(s.now, Command::CreatePseudowire(pw_config(acc.id, 7)));
    assert!(matches!(r, Err(CommandError::Invalid(_))), "{r:?}");
}

/// (b) A wrong secret never establishes; once A stops trying nothing is left on B.
#[test]
fn wrong_secret_never_establishes_and_leaves_nothing() {
    // Digest: the SCCRQ is dropped before anything is made. Challenge only: the SCCRQ gets
    // a connection, which A refuses (wrong challenge response) and which then goes.
    for (digest, challenge) in [(Some(DigestAlg::Md5), false), (None, true)] {
        let mut s = Sim::new(41);
        let (tb, pbs) = b_with_template(
            &mut s,
            ConnConfig {
                digest,
                challenge,
                ..template(B, SECRET)
            },
            &[100],
        );
        let ca = s.conn(
            A,
            ConnConfig {
                digest,
                challenge,
                ..towards_b(A, "not-the-secret")
            },
        );
        s.pw(A, ca, 100);
        let mut most = 0;
        s.run_until(200 * SEC, |s| {
            most = most.max(s.nodes[B].core.connections().len());
            false
        });
        assert_eq!((s.nodes[A].ups, s.nodes[B].ups), (0, 0), "{:?}", s.flow());
        assert!(s.nodes[B].installed.is_empty());
        assert_eq!(s.nodes[B].core.pseudowire(pbs[0]).unwrap().bound_to, None);
        if digest.is_some() {
            assert_eq!(most, 1, "a bad digest made a connection");
            assert!(!s.nodes[B].logs().iter().any(|l| l.contains("accepted")));
            assert!(s.info(B, tb).counters.digest_failures > 0);
            assert!(s.sent(B, mt::SCCRP).is_empty());
        } else {
            assert!(most > 1);
            let stop = s.sent(A, mt::STOPCCN);
            assert!(!stop.is_empty());
            let m = Message::parse(&stop[0].bytes, None).unwrap();
            assert_eq!(m.result.unwrap().result, 4);
        }
        s.cmd(A, Command::DeleteConnection(ca));
        s.run_for(200 * SEC);
        assert_eq!(s.nodes[B].core.connections(), vec![tb]);
        assert!(format!("{:?}", s.nodes[B].core).contains("instances: 0"));
        assert_eq!(s.nodes[B].core.stats().accept_any_limit, 0);
    }
}

/// (c) Two peers on one template, each with its own VC ID; the second asking for the
/// first's VC ID is refused with CDN 4 until the first goes.
#[test]
fn two_peers_bind_their_own_pseudowires_and_not_each_others() {
    let mut s = Sim::with_cores(42, vec![core_config(A), core_config(B), core_config(C)]);
    let (tb, pbs) = b_with_template(&mut s, template(B, SECRET), &[100, 200]);
    let (pb100, pb200) = (pbs[0], pbs[1]);
    let c1 = s.conn(A, towards_b(A, SECRET));
    let p1 = s.pw(A, c1, 100);
    let c2 = s.conn(C, towards_b(C, SECRET));
    let p2 = s.pw(C, c2, 200);
    assert!(
        s.run_until(30 * SEC, |s| pw_up(s, A, p1, pb100)
            && pw_up(s, C, p2, pb200)),
        "{:?}",
        s.nodes[B].logs()
    );
    let (acc1, acc2) = (one_accepted(&s, tb, A).id, one_accepted(&s, tb, C).id);
    assert_ne!(acc1, acc2);
    let core = &s.nodes[B].core;
    assert_eq!(core.pseudowire(pb100).unwrap().bound_to, Some(acc1));
    assert_eq!(core.pseudowire(pb200).unwrap().bound_to, Some(acc2));
    assert_eq!(s.nodes[B].installed[&pb100].path.peer, addr(A));
    assert_eq!(s.nodes[B].installed[&pb200].path.peer, addr(C));
    assert_eq!(s.nodes[B].installed[&pb200].conn, acc2);
    assert!(cdn_results(&s, B).is_empty());
    // C asks for 100 too: refused, A keeps it.
    let before = s.nodes[B].installed[&pb100].clone();
    let p3 = s.pw(C, c2, 100);
    s.run_for(30 * SEC);
    let cdns = cdn_results(&s, B);
    assert!(!cdns.is_empty() && cdns.iter().all(|&r| r == 4), "{cdns:?}");
    assert!(!s.nodes[C].installed.contains_key(&p3));
    assert_eq!(s.nodes[B].installed[&pb100], before);
    assert_eq!(
        s.nodes[B].core.pseudowire(pb100).unwrap().bound_to,
        Some(acc1)
    );
    assert!(pw_up(&s, A, p1, pb100) && pw_up(&s, C, p2, pb200));
    assert!(s.nodes[B].logs().iter().any(|l| l.contains(&format!(
        "asked for by conn {} but bound to conn {}",
        acc2.0, acc1.0
    ))));
    // A goes away: 100 is free, and C's next attempt gets it.
    s.cmd(A, Command::DeleteConnection(c1));
    assert!(
        s.run_until(30 * SEC, |s| pw_up(s, C, p3, pb100)),
        "{:?}",
        s.nodes[B].logs()
    );
    assert_eq!(
        s.nodes[B].core.pseudowire(pb100).unwrap().bound_to,
        Some(acc2)
    );
    // A's accepted connection is gone after its StopCCN hold.
    s.run_for(40 * SEC);
    assert!(accepted_from(&s, tb, A).is_empty());
    assert_eq!(s.nodes[B].core.connections(), vec![tb, acc2]);
}

/// (d) A goes silent: B finds it dead, removes the session, frees the pseudowire and forgets
/// the connection; A restarted is accepted again and binds it again.
#[test]
fn silent_peer_is_forgotten_and_its_restart_binds_again() {
    let mut s = Sim::new(43);
    let (tb, pbs) = b_with_template(
        &mut s,
        ConnConfig {
            hello_interval: 20 * SEC,
            ..template(B, SECRET)
        },
        &[100],
    );
    let pb = pbs[0];
    let ca = s.conn(A, towards_b(A, SECRET));
    let pa = s.pw(A, ca, 100);
    assert!(s.run_until(30 * SEC, |s| pw_up(s, A, pa, pb)));
    let acc = one_accepted(&s, tb, A).id;
    s.nodes[A].off = true;
    let gone = |s: &Sim| !s.nodes[B].core.connections().contains(&acc);
    // Hello after 20 s (+ jitter), 10 retransmissions at 1, 2, 4, 8 … s.
    assert!(s.run_until(120 * SEC, gone), "{:?}", s.nodes[B].logs());
    assert!(s.nodes[B].installed.is_empty());
    assert_eq!(s.nodes[B].link.get(&pb), Some(&false));
    assert_eq!(s.nodes[B].downs, 1);
    assert!(s.nodes[B]
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::RemoveSession { pw, .. } if *pw == pb)));
    assert_eq!(s.nodes[B].core.pseudowire(pb).unwrap().bound_to, None);
    assert_eq!(s.nodes[B].core.connections(), vec![tb]);
    let logs = s.nodes[B].logs();
    assert!(
        logs.iter().any(|l| l.contains("peer not answering")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.starts_with(&format!(
        "l2tp conn {}: removed (peer {}, accept-any conn {})",
        acc.0,
        addr(A),
        tb.0
    ))));
    // A comes back with the same configuration.
    s.restart(A, 4343);
    let ca = s.conn(A, towards_b(A, SECRET));
    let pa = s.pw(A, ca, 100);
    assert!(
        s.run_until(30 * SEC, |s| pw_up(s, A, pa, pb)),
        "{:?}",
        s.nodes[B].logs()
    );
    let acc2 = one_accepted(&s, tb, A).id;
    assert_ne!(acc2, acc);
    assert_eq!(s.nodes[B].core.pseudowire(pb).unwrap().bound_to, Some(acc2));
}

/// A restarts before B notices: B refuses the new SCCRQ, finds the old connection dead with
/// its probe, then accepts A again.
#[test]
fn peer_restarting_at_once_is_accepted_again() {
    let mut s = Sim::new(44);
    let (tb, pbs) = b_with_template(&mut s, template(B, SECRET), &[100]);
    let pb = pbs[0];
    let ca = s.conn(A, towards_b(A, SECRET));
    let pa = s.pw(A, ca, 100);
    assert!(s.run_until(30 * SEC, |s| pw_up(s, A, pa, pb)));
    s.restart(A, 4444);
    let ca = s.conn(A, towards_b(A, SECRET));
    let pa = s.pw(A, ca, 100);
    assert!(
        s.run_until(300 * SEC, |s| pw_up(s, A, pa, pb)
            && conns_consistent(s, ca, one_accepted(s, tb, A).id)),
        "{:?}",
        s.nodes[B].logs()
    );
    s.run_for(60 * SEC);
    assert!(pw_up(&s, A, pa, pb));
    assert_eq!(s.nodes[B].core.connections().len(), 2);
}

/// SCCRQs as a flood would send them: from `peer`, signed with `key` if given.
fn forged_sccrq(key: Option<&str>, nonce: bool, peer_ccid: u32) -> Vec<u8> {
    let mut b = MsgBuilder::new(mt::SCCRQ);
    if key.is_some() {
        b.digest_placeholder(DigestAlg::Md5);
    }
    b.avp(at::HOST_NAME, b"flood")
        .avp(at::ROUTER_ID, &[10, 0, 0, 9])
        .avp_u32(at::ASSIGNED_CCID, peer_ccid)
        .avp(at::PW_CAPABILITIES, &[0, 5]);
    if nonce {
        b.avp(at::NONCE, &[7; 16]);
    }
    let mut bytes = b.finish(0, 0, 0);
    if let Some(k) = key {
        auth::sign(&mut bytes, &[Secret::new(k).digest_key()], &[], &[]);
    }
    bytes
}

fn flood_path(i: u32) -> Path {
    Path {
        local: addr(B),
        peer: IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xf1,
            0,
            0,
            0,
            (i >> 16) as u16,
            i as u16,
        )),
        transport: Transport::Ip,
    }
}

/// Runs a lone core's timers up to `until`; returns what it sent, by message type.
fn run_alone(core: &mut Core<SeededRandom>, now: &mut Nanos, until: Nanos) -> Vec<u16> {
    let mut sent = drain(core);
    while let Some(t) = core.poll_timeout().filter(|&t| t <= until) {
        *now = t.max(*now);
        core.handle_timeout(*now);
        sent.extend(drain(core));
    }
    *now = until;
    sent
}

fn drain(core: &mut Core<SeededRandom>) -> Vec<u16> {
    while core.poll_event().is_some() {}
    let mut v = vec![];
    while let Some(t) = core.poll_transmit() {
        v.push(
            Message::parse(&t.payload, None)
                .unwrap()
                .mtype
                .unwrap_or(mt::ZLB),
        );
    }
    v
}

fn instances(core: &Core<SeededRandom>) -> String {
    let d = format!("{core:?}");
    let i = d.find("instances: ").expect("Debug shows instances");
    d[i..].split(',').next().unwrap().to_string()
}

/// (e) 1000 SCCRQs from distinct addresses: bad digests leave nothing at all; SCCRQs the
/// template must answer (a refusal, or a challenge) leave at most the limit alive, and
/// nothing once the timeouts have run.
#[test]
fn flood_of_unauthenticated_sccrqs_is_bounded_and_leaves_nothing() {
    let mut core = Core::new(core_config(B), SeededRandom::new(45));
    let Ok(Created::Conn(tb)) =
        core.handle_command(0, Command::CreateConnection(template(B, SECRET)))
    else {
        panic!()
    };
    core.handle_command(0, Command::CreatePseudowire(pw_config(tb, 100)))
        .unwrap();
    drain(&mut core);
    let mut now = SEC;
    // Bad digests: dropped before any state is made.
    for i in 0..1000 {
        let m = forged_sccrq(Some("guess"), true, 1000 + i);
        core.handle_message(now, flood_path(i), &m);
        assert_eq!(core.connections(), vec![tb]);
        assert!(core.poll_transmit().is_none());
        while let Some(e) = core.poll_event() {
            assert!(
                matches!(&e, Event::Log(l) if l.contains("dropped: bad message digest")),
                "{e:?}"
            );
        }
    }
    assert_eq!(core.connection(tb).unwrap().counters.digest_failures, 1000);
    assert_eq!(instances(&core), "instances: 0");
    assert_eq!(core.stats().accept_any_limit, 0);
    drain(&mut core);
    // No digest where one is required: dropped without a word and without state (a refusal
    // would hold state and send StopCCNs to forged sources for 31 s, and fill the limit).
    for i in 0..1000 {
        let m = forged_sccrq(None, false, 5000 + i);
        core.handle_message(now, flood_path(10_000 + i), &m);
    }
    assert_eq!(core.connections(), vec![tb]);
    assert_eq!(instances(&core), "instances: 0");
    assert!(drain(&mut core).is_empty());
    assert_eq!(core.connection(tb).unwrap().counters.digest_failures, 2000);
    assert_eq!(core.stats().accept_any_limit, 0);
    // A real peer is answered meanwhile.
    let good = forged_sccrq(Some(SECRET), true, 42);
    core.handle_message(now, flood_path(50_000), &good);
    assert_eq!(drain(&mut core), vec![mt::SCCRP]);
    assert_eq!(core.connections().len(), 2);
    // Forged digest-less SCCRQs from that peer's address do not touch its connection.
    for i in 0..20 {
        core.handle_message(
            now,
            flood_path(50_000),
            &forged_sccrq(None, false, 7000 + i),
        );
    }
    assert!(drain(&mut core).is_empty());
    assert_eq!(instances(&core), "instances: 1");
    let _ = run_alone(&mut core, &mut now, 200 * SEC);

    // Challenge only: an SCCRQ passes until the SCCCN, so each gets an SCCRP.
    let mut core = Core::new(core_config(B), SeededRandom::new(46));
    let tpl = ConnConfig {
        digest: None,
        challenge: true,
        ..template(B, SECRET)
    };
    let Ok(Created::Conn(tb)) = core.handle_command(0, Command::CreateConnection(tpl)) else {
        panic!()
    };
    let mut now = SEC;
    for i in 0..1000 {
        core.handle_message(now, flood_path(i), &forged_sccrq(None, false, 1 + i));
    }
    assert_eq!(core.connections().len(), 1 + ACCEPT_ANY_PENDING_MAX);
    let sent = drain(&mut core);
    assert_eq!(
        sent.iter().filter(|&&t| t == mt::SCCRP).count(),
        ACCEPT_ANY_PENDING_MAX
    );
    run_alone(&mut core, &mut now, 200 * SEC);
    assert_eq!(core.connections(), vec![tb]);
    // From one address with ever new Assigned CCIDs: each SCCRQ supersedes the half-open
    // instance (which closes with a StopCCN); the instances stay few.
    let limit = core.stats().accept_any_limit;
    for i in 0..1000 {
        core.handle_message(now, flood_path(7), &forged_sccrq(None, false, 1 + i));
    }
    assert_eq!(core.connections().len(), 2);
    assert_eq!(instances(&core), "instances: 8");
    assert!(core.stats().accept_any_limit > limit + 900);
    drain(&mut core);
    run_alone(&mut core, &mut now, 400 * SEC);
    assert_eq!(core.connections(), vec![tb]);
    assert_eq!(instances(&core), "instances: 0");
    assert_eq!(core.poll_timeout(), None);
}

/// (f) The template's configuration checks.
#[test]
fn accept_any_needs_authentication_and_is_one_per_address() {
    let mut core = Core::new(core_config(B), SeededRandom::new(47));
    let mut create = |c: ConnConfig| core.handle_command(0, Command::CreateConnection(c));
    let refused = Err(CommandError::Invalid(
        "accept-any needs a secret with digest or challenge",
    ));
    let no_secret = ConnConfig {
        secret: Secret::default(),
        ..template(B, SECRET)
    };
    assert_eq!(create(no_secret.clone()), refused);
    assert_eq!(
        create(ConnConfig {
            challenge: true,
            ..no_secret
        }),
        refused
    );
    assert_eq!(
        create(ConnConfig {
            digest: None,
            ..template(B, SECRET)
        }),
        refused
    );
    let Ok(Created::Conn(tb)) = create(template(B, SECRET)) else {
        panic!()
    };
    assert_eq!(
        create(template(B, "other")),
        Err(CommandError::DuplicateConnection)
    );
    // Another transport kind, another family: other templates.
    let udp = ConnConfig {
        transport: Transport::Udp {
            local_port: UDP_PORT,
            peer_port: UDP_PORT,
        },
        ..template(B, SECRET)
    };
    assert!(matches!(create(udp), Ok(Created::Conn(_))));
    let v4 = ConnConfig {
        local: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ..template(B, SECRET)
    };
    let Ok(Created::Conn(t4)) = create(v4) else {
        panic!()
    };
    // A configured connection needs a real peer address.
    assert!(matches!(
        create(ConnConfig::new(addr(B), IpAddr::V6(Ipv6Addr::UNSPECIFIED))),
        Err(CommandError::Invalid(_))
    ));
    let info = core.connection(tb).unwrap();
    assert_eq!(info.config.peer, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert!(info.config.passive);
    assert_eq!(
        core.connection(t4).unwrap().config.peer,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    // It never initiates.
    assert!(core.poll_transmit().is_none());
    assert_eq!(core.poll_timeout(), None);
    // A message from the unspecified address is nobody's.
    core.handle_message(
        0,
        Path {
            local: addr(B),
            peer: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            transport: Transport::Ip,
        },
        &forged_sccrq(Some(SECRET), true, 1),
    );
    assert_eq!(core.stats().unknown_peer, 1);
    assert_eq!(core.connections().len(), 3);
}

/// Deleting the template closes what it accepted (StopCCN) and deletes its pseudowires;
/// clearing it clears them and lets them come back.
#[test]
fn clearing_and_deleting_the_template() {
    let mut s = Sim::with_cores(48, vec![core_config(A), core_config(B), core_config(C)]);
    let (tb, pbs) = b_with_template(&mut s, template(B, SECRET), &[100, 200]);
    let c1 = s.conn(A, towards_b(A, SECRET));
    let p1 = s.pw(A, c1, 100);
    let c2 = s.conn(C, towards_b(C, SECRET));
    let p2 = s.pw(C, c2, 200);
    let both = |s: &Sim| pw_up(s, A, p1, pbs[0]) && pw_up(s, C, p2, pbs[1]);
    assert!(s.run_until(30 * SEC, both));
    let old = (one_accepted(&s, tb, A).id, one_accepted(&s, tb, C).id);
    // Clear: both go (StopCCN), come back as new connections, bind again.
    s.cmd(B, Command::ClearConnection(tb));
    assert!(s.nodes[B].installed.is_empty());
    assert_eq!(s.sent(B, mt::STOPCCN).len(), 2);
    assert!(s.run_until(60 * SEC, |s| both(s)
        && one_accepted(s, tb, A).id != old.0
        && one_accepted(s, tb, C).id != old.1));
    assert_eq!(
        s.nodes[B].core.connections().len(),
        3,
        "the old ones are gone"
    );
    // Clear one accepted connection: only that one.
    let acc_c = one_accepted(&s, tb, C).id;
    s.cmd(B, Command::ClearConnection(acc_c));
    assert!(pw_up(&s, A, p1, pbs[0]));
    assert!(!s.nodes[B].installed.contains_key(&pbs[1]));
    assert!(s.run_until(60 * SEC, |s| both(s)
        && !s.nodes[B].core.connections().contains(&acc_c)));
    // Delete: StopCCN to both, pseudowires gone, and nobody gets in any more.
    let stops = s.sent(B, mt::STOPCCN).len();
    s.cmd(B, Command::DeleteConnection(tb));
    assert_eq!(s.sent(B, mt::STOPCCN).len(), stops + 2);
    assert!(s.nodes[B].installed.is_empty());
    assert!(s.nodes[B].core.connections().is_empty());
    assert!(s.nodes[B].core.pseudowires().is_empty());
    s.run_for(60 * SEC);
    assert!(s.nodes[A].installed.is_empty() && s.nodes[C].installed.is_empty());
    assert!(s.nodes[B].core.connections().is_empty());
    assert!(s.nodes[B].core.stats().unknown_peer > 0);
}

/// A configured connection to a peer that a template let in takes over.
#[test]
fn configured_connection_replaces_an_accepted_one() {
    let mut s = Sim::new(49);
    let (tb, _) = b_with_template(&mut s, template(B, SECRET), &[]);
    let ca = s.conn(A, towards_b(A, SECRET));
    assert!(s.run_until(30 * SEC, |s| accepted_from(s, tb, A)
        .first()
        .is_some_and(|c| c.state == "established")));
    let acc = one_accepted(&s, tb, A).id;
    let cb = s.conn(
        B,
        ConnConfig {
            secret: Secret::new(SECRET),
            digest: Some(DigestAlg::Md5),
            ..conn_config(B)
        },
    );
    assert!(!s.nodes[B].core.connections().contains(&acc));
    assert!(s.run_until(60 * SEC, |s| conns_consistent(s, ca, cb)));
    assert!(accepted_from(&s, tb, A).is_empty());
    assert_eq!(s.info(B, cb).accepted_by, None);
}

/// Over UDP a template answers only on its own port: an SCCRQ to another port the dataplane
/// listens on (a static tunnel's, another connection's) makes nothing.
#[test]
fn udp_template_answers_only_on_its_own_port() {
    let mut core = Core::new(core_config(B), SeededRandom::new(47));
    let tpl = ConnConfig {
        transport: Transport::Udp {
            local_port: 1701,
            peer_port: 1701,
        },
        ..template(B, SECRET)
    };
    let Ok(Created::Conn(tb)) = core.handle_command(0, Command::CreateConnection(tpl)) else {
        panic!()
    };
    drain(&mut core);
    let good = forged_sccrq(Some(SECRET), true, 42);
    let on = |port: u16| Path {
        transport: Transport::Udp {
            local_port: port,
            peer_port: 40000,
        },
        ..flood_path(1)
    };
    core.handle_message(SEC, on(1702), &good);
    assert!(drain(&mut core).is_empty());
    assert_eq!(core.connections(), vec![tb]);
    assert_eq!(core.stats().unknown_peer, 1);
    core.handle_message(SEC, on(1701), &good);
    assert_eq!(drain(&mut core), vec![mt::SCCRP]);
    assert_eq!(core.connections().len(), 2);
}
