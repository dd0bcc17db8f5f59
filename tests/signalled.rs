//! Signalled pseudowires through the whole graph: two pwire (two harnesses in one process)
//! whose uplinks are joined by this test (what one sends on pg0 the other receives on pg0),
//! each with a control connection to the other and a pseudowire cross-connected with pg1.
//! The control messages go through the real decap nodes (punted to the control plane) and
//! out through ip6-lookup / ip4-lookup; the sessions the core negotiates are installed in the
//! dataplane, and frames then cross both ways. Also: the attachment circuit going down tells
//! the peer (SLI) and the peer stops sending; a wrong secret never establishes.

use pwire_testkit::Harness;
use pwire_tests::features;
use std::time::Duration;

/// One side: uplink pg0 (`our`, the peer's MAC static), pg1 the attachment circuit.
fn side(mac: &str, our: &str, peer: &str, peer_mac: &str, plen: u8) -> Harness {
    let mut h = Harness::with("l2tp { lookup-session-id }", &features());
    for l in [
        format!("create packet-generator interface pg0 hw-addr {mac}"),
        "create packet-generator interface pg1".into(),
        format!("set interface ip address pg0 {our}/{plen}"),
        "set interface state pg0 up".into(),
        "set interface state pg1 up".into(),
        format!("set ip neighbor pg0 {peer} {peer_mac} static"),
    ] {
        h.cli(&l);
    }
    h
}

/// The wire between the two uplinks: each side's pg0 is captured all the time (its capture
/// file is flushed after every frame), and what a side sent since the last look is handed to
/// the other.
struct Link {
    caps: [std::path::PathBuf; 2],
    seen: [usize; 2],
}

impl Link {
    fn new(a: &mut Harness, b: &mut Harness) -> Link {
        Link {
            caps: [a.capture("pg0"), b.capture("pg0")],
            seen: [0, 0],
        }
    }

    fn fresh(&mut self, k: usize) -> Vec<Vec<u8>> {
        let all = pwire_testkit::read_pcap(&self.caps[k]);
        let new = all[self.seen[k].min(all.len())..].to_vec();
        self.seen[k] = all.len();
        new
    }

    /// `rounds` rounds of about 20 ms, each delivering what was sent meanwhile.
    fn pump(&mut self, a: &mut Harness, b: &mut Harness, rounds: usize) {
        for _ in 0..rounds {
            a.run_for(Duration::from_millis(10));
            b.run_for(Duration::from_millis(10));
            let fa = self.fresh(0);
            let fb = self.fresh(1);
            if !fb.is_empty() {
                a.send("from-b", "pg0", "ethernet-input", &fb);
            }
            if !fa.is_empty() {
                b.send("from-a", "pg0", "ethernet-input", &fa);
            }
        }
    }
}

fn established(h: &mut Harness) -> bool {
    h.cli("show l2tpv3 control-connection")
        .contains("established")
}

/// Both sides configured; returns them once the pseudowire is up (or panics).
fn pair(
    v4: bool,
    udp: bool,
    secret_a: &str,
    secret_b: &str,
    rounds: usize,
) -> (Harness, Harness, Link, bool) {
    pair_with(v4, udp, secret_a, secret_b, rounds, None, ["", ""])
}

/// [`pair`], with `pre` typed on both sides before the control connections are made, and
/// `pw[k]` after side k's `create l2tpv3 pseudowire ... vc-id 100`.
fn pair_with(
    v4: bool,
    udp: bool,
    secret_a: &str,
    secret_b: &str,
    rounds: usize,
    pre: Option<&str>,
    pw: [&str; 2],
) -> (Harness, Harness, Link, bool) {
    let (oa, ob, plen) = if v4 {
        ("192.0.2.1", "192.0.2.2", 24)
    } else {
        ("fd00::1", "fd00::2", 64)
    };
    let mut a = side("02:fe:00:00:00:0a", oa, ob, "02:fe:00:00:00:0b", plen);
    let mut b = side("02:fe:00:00:00:0b", ob, oa, "02:fe:00:00:00:0a", plen);
    let mut link = Link::new(&mut a, &mut b);
    // B's uplink both ways, from before the first message (tshark checks the digests only
    // with the SCCRQ and SCCRP in the capture).
    b.cli(&format!(
        "pcap trace rx tx max 1000 intfc pg0 file {}",
        trace_name(v4, udp)
    ));
    let enc = if udp { " encap udp" } else { "" };
    // A initiates, B waits for it (`passive`): one control connection on the wire, which is
    // what tshark can follow (a simultaneous open is two, between the same addresses).
    for (h, our, peer, secret, passive, pw) in [
        (&mut a, oa, ob, secret_a, "", pw[0]),
        (&mut b, ob, oa, secret_b, " passive", pw[1]),
    ] {
        h.cli("set l2tpv3 control hostname pw router-id 10.0.0.1");
        if let Some(l) = pre {
            h.cli(l);
        }
        let out = h.cli(&format!(
            "create l2tpv3 control-connection peer {peer} our {our}{enc} secret {secret} hello 5{passive}"
        ));
        let id = out
            .trim()
            .strip_prefix("control-connection ")
            .unwrap_or_else(|| panic!("{out}"));
        pseudowire_on_pg1(h, id, pw);
    }
    let mut up = false;
    for _ in 0..rounds {
        link.pump(&mut a, &mut b, 5);
        if established(&mut a)
            && established(&mut b)
            && a.cli("show interface l2tpv3_tunnel0").contains("up")
            && a.cli("show l2tpv3 pseudowire").contains("session")
            && b.cli("show l2tpv3 pseudowire").contains("session")
        {
            up = true;
            break;
        }
    }
    (a, b, link, up)
}

/// Pseudowire vc-id 100 (with `extra` arguments) on control connection `id`, up and
/// cross-connected with pg1: l2tpv3_tunnel0.
fn pseudowire_on_pg1(h: &mut Harness, id: &str, extra: &str) {
    assert_eq!(
        h.cli(&format!(
            "create l2tpv3 pseudowire control-connection {id} vc-id 100 {extra}"
        )),
        "l2tpv3_tunnel0\n"
    );
    for l in [
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
}

/// The name of B's `pcap trace` of a variant (pwire writes it in /tmp).
fn trace_name(v4: bool, udp: bool) -> String {
    format!("pwire-signalled-{}-{v4}-{udp}.pcap", std::process::id())
}

fn trace_file(v4: bool, udp: bool) -> String {
    format!("/tmp/{}", trace_name(v4, udp))
}

/// tshark's verdict on the control messages of `file` read with `secret`: (message types
/// seen, lines flagged `l2tp.incorrect_digest`, lines flagged malformed).
fn tshark(file: &str, secret: &str) -> (String, usize, usize) {
    let run = |filter: &str, field: &str| {
        let o = std::process::Command::new("tshark")
            .args(["-r", file, "-o", &format!("l2tp.shared_secret:{secret}")])
            .args(["-Y", filter, "-T", "fields", "-e", field])
            .output()
            .expect("tshark runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let types = run("l2tp.avp.message_type", "l2tp.avp.message_type");
    let bad = run("l2tp.incorrect_digest", "frame.number").lines().count();
    let malformed = run(
        "_ws.malformed || _ws.expert.severity >= 0x00800000",
        "frame.number",
    )
    .lines()
    .count();
    (types, bad, malformed)
}

fn frame(tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 2, 1, 0x02, 0, 0, 0, 1, 1, 0x88, 0xb5];
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_add(tag)));
    f
}

/// Frames from side `k`'s pg1 cross to the other side's pg1, through the tunnel.
fn crosses(
    link: &mut Link,
    a: &mut Harness,
    b: &mut Harness,
    k: usize,
    frames: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let (from, to) = if k == 0 { (a, b) } else { (b, a) };
    from.send("in", "pg1", "ethernet-input", frames);
    let wire = link.fresh(k);
    let out = to.capture("pg1");
    if !wire.is_empty() {
        to.send("wire", "pg0", "ethernet-input", &wire);
    }
    to.captured("pg1", &out)
}

#[test]
fn a_signalled_pseudowire_comes_up_and_carries_frames_both_ways() {
    for (v4, udp) in [(false, false), (true, false), (false, true), (true, true)] {
        let (mut a, mut b, mut link, up) = pair(v4, udp, "s3cr3t", "s3cr3t", 40);
        assert!(
            up,
            "v4 {v4} udp {udp}:\nA:\n{}\n{}\n{}\nB:\n{}\n{}\n{}",
            a.cli("show l2tpv3 control-connection verbose"),
            a.cli("show l2tpv3 pseudowire"),
            a.cli("show errors"),
            b.cli("show l2tpv3 control-connection verbose"),
            b.cli("show l2tpv3 pseudowire"),
            b.cli("show errors")
        );
        let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(i, 80 + 50 * usize::from(i))).collect();
        assert_eq!(
            crosses(&mut link, &mut a, &mut b, 0, &frames),
            frames,
            "v4 {v4} udp {udp}: a->b"
        );
        assert_eq!(
            crosses(&mut link, &mut a, &mut b, 1, &frames),
            frames,
            "v4 {v4} udp {udp}: b->a"
        );
        // tshark, the oracle, decodes every control message, checks every digest with the
        // secret, and flags them with another (so the check is live).
        b.cli("pcap trace off");
        if pwire_testkit::prereq::require(pwire_testkit::prereq::tshark()).is_some() {
            let f = trace_file(v4, udp);
            let (types, bad, malformed) = tshark(&f, "s3cr3t");
            // SCCRQ 1, SCCRP 2, SCCCN 3, ICRQ 10, ICRP 11, ICCN 12.
            for t in ["1", "2", "3", "10", "11", "12"] {
                assert!(
                    types.lines().any(|l| l.split(',').any(|x| x == t)),
                    "v4 {v4} udp {udp}: message type {t} in {types}"
                );
            }
            assert_eq!(bad, 0, "v4 {v4} udp {udp}: digests with the right secret");
            assert_eq!(
                malformed, 0,
                "v4 {v4} udp {udp}: malformed or expert errors"
            );
            let (_, bad, _) = tshark(&f, "not-the-secret");
            assert!(bad > 0, "v4 {v4} udp {udp}: a wrong secret is flagged");
            let _ = std::fs::remove_file(&f);
        }
        // The negotiated session is in the dataplane: `show l2tpv3 verbose` lists it.
        let v = a.cli("show l2tpv3 verbose");
        assert!(v.contains("1 l2tp sessions"), "{v}");
        // Secrets never appear in output.
        for h in [&mut a, &mut b] {
            for c in [
                "show l2tpv3 control-connection verbose",
                "show l2tpv3 pseudowire",
                "show l2tpv3 verbose",
                "show logging",
            ] {
                assert!(!h.cli(c).contains("s3cr3t"), "{c}");
            }
        }
        a.assert_all_free();
        b.assert_all_free();
    }
}

#[test]
fn the_attachment_circuit_going_down_stops_the_far_side_sending() {
    let (mut a, mut b, mut link, up) = pair(false, false, "k", "k", 40);
    assert!(up);
    // A's circuit (pg1) goes down: A sends SLI with A = 0, B's pseudowire link goes down.
    a.cli("set interface state pg1 down");
    b_link_becomes(&mut link, &mut a, &mut b, false);
    assert!(
        !link_up(&mut b),
        "{}",
        b.cli("show interface l2tpv3_tunnel0")
    );
    // B stops sending into it, and counts it.
    let _ = link.fresh(1);
    b.send("in", "pg1", "ethernet-input", &[frame(1, 100)]);
    assert!(link.fresh(1).is_empty());
    assert_eq!(b.counter("l2tp-encap", "L2TP tunnel is down"), 1);
    // Back up: B sends again.
    a.cli("set interface state pg1 up");
    b_link_becomes(&mut link, &mut a, &mut b, true);
    assert!(link_up(&mut b));
    assert_eq!(
        crosses(&mut link, &mut a, &mut b, 1, &[frame(2, 100)]).len(),
        1
    );
    // The circuit's carrier (a driver's link report), not its admin state: the same.
    a.cli("test link pg1 down");
    b_link_becomes(&mut link, &mut a, &mut b, false);
    assert!(!link_up(&mut b), "carrier loss on A's circuit reaches B");
    a.cli("test link pg1 up");
    b_link_becomes(&mut link, &mut a, &mut b, true);
    assert!(link_up(&mut b));
}

#[test]
fn a_vlan_sub_interface_circuit_follows_its_port_carrier() {
    // A's circuit is pg1.100 (cross-connected with the pseudowire): pg1 losing carrier takes
    // the sub-interface's link with it, and B hears of it by SLI.
    let (mut a, mut b, mut link, up) = pair(false, false, "k", "k", 40);
    assert!(up);
    for l in [
        "create sub-interfaces pg1 100",
        "set interface state pg1.100 up",
        "set interface l2 xconnect pg1.100 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1.100",
    ] {
        a.cli(l);
    }
    link.pump(&mut a, &mut b, 3);
    assert!(link_up(&mut b));
    a.cli("test link pg1 down");
    assert!(!a
        .cli("show hardware-interfaces pg1.100")
        .lines()
        .find(|l| l.contains("pg1.100"))
        .is_some_and(|l| l.split_whitespace().any(|w| w == "up")));
    b_link_becomes(&mut link, &mut a, &mut b, false);
    assert!(!link_up(&mut b), "{}", a.cli("show l2tpv3 pseudowire"));
    a.cli("test link pg1 up");
    b_link_becomes(&mut link, &mut a, &mut b, true);
    assert!(link_up(&mut b));
}

/// Pumps the link (at most 10 rounds) until B's pseudowire link is `up`.
fn b_link_becomes(link: &mut Link, a: &mut Harness, b: &mut Harness, up: bool) {
    for _ in 0..10 {
        link.pump(a, b, 3);
        if link_up(b) == up {
            break;
        }
    }
}

fn link_up(h: &mut Harness) -> bool {
    // `show hardware-interfaces` says the link state; the tunnel's line reads "up" or "down".
    let s = h.cli("show hardware-interfaces l2tpv3_tunnel0");
    s.lines()
        .find(|l| l.contains("l2tpv3_tunnel0"))
        .is_some_and(|l| l.split_whitespace().any(|w| w == "up"))
}

#[test]
fn a_wrong_secret_never_establishes() {
    let (mut a, mut b, _link, up) = pair(false, false, "right", "wrong", 8);
    assert!(!up);
    for h in [&mut a, &mut b] {
        assert!(
            !established(h),
            "{}",
            h.cli("show l2tpv3 control-connection")
        );
        let v = h.cli("show l2tpv3 verbose");
        assert!(v.contains("No l2tp sessions"), "{v}");
    }
}

#[test]
fn a_lossy_duplicating_reordering_control_path_still_converges() {
    // A quarter of the control messages each side receives dropped, some duplicated, some
    // held back past later ones: reliable delivery (retransmission, duplicate detection,
    // reordering) brings the pseudowire up anyway.
    let (mut a, mut b, mut link, up) = pair_with(
        false,
        true,
        "k",
        "k",
        150,
        Some("test l2tpv3 control impair drop 25 duplicate 15 delay 15 seed 7"),
        ["", ""],
    );
    assert!(
        up,
        "A:\n{}\nB:\n{}",
        a.cli("show l2tpv3 control-connection verbose"),
        b.cli("show l2tpv3 control-connection verbose")
    );
    let v = a.cli("show l2tpv3 control-connection verbose");
    assert!(
        v.contains("retransmissions="),
        "some were lost and resent: {v}"
    );
    let f = vec![frame(5, 200)];
    assert_eq!(crosses(&mut link, &mut a, &mut b, 0, &f), f);
    let e = a.cli_err("test l2tpv3 control impair drop 80 delay 30");
    assert!(e.contains("at most 100"), "{e}");
}

#[test]
fn a_secret_change_with_two_secrets_and_sha1_establishes() {
    // A has the old secret and the new one (secret2) during the change, B only the new one,
    // digests in HMAC-SHA1: they establish; the output never shows either secret.
    let (oa, ob) = ("fd00::1", "fd00::2");
    let mut a = side("02:fe:00:00:00:0a", oa, ob, "02:fe:00:00:00:0b", 64);
    let mut b = side("02:fe:00:00:00:0b", ob, oa, "02:fe:00:00:00:0a", 64);
    let mut link = Link::new(&mut a, &mut b);
    a.cli("create l2tpv3 control-connection peer fd00::2 our fd00::1 secret old-one secret2 new-one digest sha1");
    b.cli("create l2tpv3 control-connection peer fd00::1 our fd00::2 secret new-one digest sha1 passive");
    let mut up = false;
    for _ in 0..40 {
        link.pump(&mut a, &mut b, 5);
        if established(&mut a) && established(&mut b) {
            up = true;
            break;
        }
    }
    let v = a.cli("show l2tpv3 control-connection verbose");
    assert!(
        up,
        "{v}\n{}",
        b.cli("show l2tpv3 control-connection verbose")
    );
    assert!(v.contains("sha1") && v.contains("two secrets"), "{v}");
    assert!(!v.contains("old-one") && !v.contains("new-one"), "{v}");
}

#[test]
fn each_direction_of_a_session_has_its_own_cookie_size_sublayer_and_sequencing() {
    // Each end chooses the cookie it receives and asks for the sublayer and sequencing on its
    // own: A receives no cookie and wants sequenced packets with the sublayer, B receives an
    // 8-byte cookie and wants neither. On the wire: A -> B carries B's 8-byte cookie and no
    // sublayer (12-byte L2TPv3 header), B -> A no cookie and a sequenced sublayer (8 bytes).
    let (mut a, mut b, mut link, up) = pair_with(
        false,
        false,
        "k",
        "k",
        40,
        None,
        [
            "cookie-size 0 l2-sublayer-present sequencing",
            "cookie-size 8",
        ],
    );
    assert!(
        up,
        "A:\n{}\nB:\n{}",
        a.cli("show l2tpv3 pseudowire"),
        b.cli("show l2tpv3 pseudowire")
    );
    let inner = 100;
    let f: Vec<Vec<u8>> = (0..3).map(|i| frame(i, inner)).collect();
    from_to(&mut link, &mut a, &mut b, 0, &f, 12, None);
    from_to(&mut link, &mut a, &mut b, 1, &f, 8, Some(0));
    let va = a.cli("show l2tpv3 verbose");
    assert!(
        va.contains("cookie size 0 bytes local, 8 bytes remote"),
        "{va}"
    );
    assert!(va.contains("sequencing on (received), off (sent)"), "{va}");
    let vb = b.cli("show l2tpv3 verbose");
    assert!(
        vb.contains("cookie size 8 bytes local, 0 bytes remote"),
        "{vb}"
    );
    assert!(vb.contains("l2 specific sublayer sent present"), "{vb}");
    // Sequencing checked at A: a frame replayed from the wire is dropped there.
    let _ = link.fresh(1);
    b.send("in", "pg1", "ethernet-input", &[frame(9, inner)]);
    let w = link.fresh(1);
    assert_eq!(w.len(), 1);
    a.send("wire", "pg0", "ethernet-input", &w);
    a.send("replay", "pg0", "ethernet-input", &w);
    assert_eq!(
        a.counter(
            "l2tp-decap-local",
            "l2tpv3 sequence number out of order or duplicate"
        ),
        1,
        "{}",
        a.cli("show errors")
    );
}

/// Frames from side `k` cross to the other side, and on the wire each carries an L2TPv3 header
/// of `hdr` bytes (IPv6 underlay) — with a sublayer whose S bit is set and whose numbers go up
/// from `seq_from` when given.
fn from_to(
    link: &mut Link,
    a: &mut Harness,
    b: &mut Harness,
    k: usize,
    frames: &[Vec<u8>],
    hdr: usize,
    seq_from: Option<u32>,
) {
    let (from, to) = if k == 0 {
        (&mut *a, &mut *b)
    } else {
        (&mut *b, &mut *a)
    };
    let _ = link.fresh(k);
    from.send("in", "pg1", "ethernet-input", frames);
    let wire = link.fresh(k);
    assert_eq!(wire.len(), frames.len(), "side {k}");
    for (i, (w, f)) in wire.iter().zip(frames).enumerate() {
        assert_eq!(
            w.len(),
            14 + 40 + hdr + f.len(),
            "side {k}: header of {hdr} bytes"
        );
        assert_eq!(
            &w[14 + 40 + hdr..],
            &f[..],
            "side {k}: the frame after the header"
        );
        if let Some(s0) = seq_from {
            let sub = u32::from_be_bytes(w[14 + 40 + hdr - 4..14 + 40 + hdr].try_into().unwrap());
            assert_eq!(sub >> 24, 0x40, "side {k}: S bit");
            assert_eq!(sub & 0xff_ffff, s0 + i as u32, "side {k}: sequence number");
        }
    }
    let out = to.capture("pg1");
    to.send("wire", "pg0", "ethernet-input", &wire);
    assert_eq!(to.captured("pg1", &out), frames, "side {k}: delivered");
}

#[test]
fn an_accept_any_connection_takes_a_peer_that_authenticates() {
    // B configures no peer: an accept-any connection with the secret and a pseudowire on it.
    // A (configured with B as its peer) connects; the session is installed with A's address
    // (and, over UDP, its port) learnt from the SCCRQ, and frames cross both ways. (Wrong
    // secrets, floods and peers taking each other's vc-id: crates/l2tp-control/tests.)
    for (v4, udp) in [(false, false), (true, true)] {
        let (oa, ob, plen) = if v4 {
            ("192.0.2.1", "192.0.2.2", 24)
        } else {
            ("fd00::1", "fd00::2", 64)
        };
        let mut a = side("02:fe:00:00:00:0a", oa, ob, "02:fe:00:00:00:0b", plen);
        let mut b = side("02:fe:00:00:00:0b", ob, oa, "02:fe:00:00:00:0a", plen);
        let mut link = Link::new(&mut a, &mut b);
        let enc = if udp {
            " encap udp local-port 1701"
        } else {
            ""
        };
        let a_enc = if udp {
            " encap udp local-port 40000"
        } else {
            ""
        };
        let e = b.cli_err(&format!(
            "create l2tpv3 control-connection accept-any our {ob}{enc}"
        ));
        assert!(e.contains("accept-any needs a secret"), "{e}");
        let e = b.cli_err(&format!(
            "create l2tpv3 control-connection accept-any peer {oa} our {ob} secret k"
        ));
        assert!(e.contains("takes no peer"), "{e}");
        assert_eq!(
            b.cli(&format!(
                "create l2tpv3 control-connection accept-any our {ob}{enc} secret k hello 5"
            )),
            "control-connection 1\n"
        );
        a.cli(&format!(
            "create l2tpv3 control-connection peer {ob} our {oa}{a_enc} secret k hello 5"
        ));
        for h in [&mut a, &mut b] {
            pseudowire_on_pg1(h, "1", "");
        }
        let mut up = false;
        for _ in 0..40 {
            link.pump(&mut a, &mut b, 5);
            if b.cli("show l2tpv3 pseudowire")
                .contains("state established")
                && a.cli("show l2tpv3 pseudowire")
                    .contains("state established")
            {
                up = true;
                break;
            }
        }
        let conns = b.cli("show l2tpv3 control-connection");
        assert!(
            up,
            "v4 {v4} udp {udp}\nA:\n{}\nB:\n{conns}\n{}",
            a.cli("show l2tpv3 control-connection verbose"),
            b.cli("show l2tpv3 pseudowire")
        );
        assert!(conns.contains("accept-any"), "{conns}");
        assert!(conns.contains("accepted by 1"), "{conns}");
        let v = b.cli("show l2tpv3 verbose");
        assert!(v.contains(&format!("client {oa}")) || v.contains(oa), "{v}");
        if udp {
            assert!(v.contains("remote-port 40000"), "A's port learnt: {v}");
        }
        let f: Vec<Vec<u8>> = (0..3).map(|i| frame(i, 120)).collect();
        assert_eq!(crosses(&mut link, &mut a, &mut b, 0, &f), f, "a->b");
        assert_eq!(crosses(&mut link, &mut a, &mut b, 1, &f), f, "b->a");
        assert!(!b
            .cli("show l2tpv3 control-connection verbose")
            .contains("secret k"));
    }
}

#[test]
fn deleting_a_control_connection_deletes_its_pseudowires_and_only_its_own() {
    // An IP and a UDP accept-any connection on one address, a pseudowire on each: deleting
    // the UDP one takes its pseudowire's interface and leaves the IP one and its pseudowire.
    let mut b = side(
        "02:fe:00:00:00:0b",
        "fd00::2",
        "fd00::1",
        "02:fe:00:00:00:0a",
        64,
    );
    assert_eq!(
        b.cli("create l2tpv3 control-connection accept-any our fd00::2 secret k"),
        "control-connection 1\n"
    );
    assert_eq!(
        b.cli("create l2tpv3 control-connection accept-any our fd00::2 encap udp secret k"),
        "control-connection 2\n"
    );
    assert_eq!(
        b.cli("create l2tpv3 pseudowire control-connection 1 vc-id 1"),
        "l2tpv3_tunnel0\n"
    );
    assert_eq!(
        b.cli("create l2tpv3 pseudowire control-connection 2 vc-id 2"),
        "l2tpv3_tunnel1\n"
    );
    b.cli("create l2tpv3 control-connection accept-any our fd00::2 encap udp secret k del");
    let conns = b.cli("show l2tpv3 control-connection");
    assert!(conns.contains("[1]") && !conns.contains("[2]"), "{conns}");
    let ifs = b.cli("show interface");
    assert!(ifs.contains("l2tpv3_tunnel0"), "{ifs}");
    assert!(!ifs.contains("l2tpv3_tunnel1"), "{ifs}");
    let pws = b.cli("show l2tpv3 pseudowire");
    assert!(pws.contains("vc-id 1") && !pws.contains("vc-id 2"), "{pws}");
    // The IP connection is still there: its pseudowire is deleted by vc-id, then itself.
    b.cli("create l2tpv3 pseudowire control-connection 1 vc-id 1 del");
    assert!(!b.cli("show interface").contains("l2tpv3_tunnel0"));
    b.cli("create l2tpv3 control-connection accept-any our fd00::2 secret k del");
    assert!(!b
        .cli("show l2tpv3 control-connection")
        .contains("accept-any"));
}
