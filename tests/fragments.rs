//! Outer fragments addressed to a tunnel endpoint: hostile ones (overlaps, tiny first
//! fragments, datagrams that never complete, a flood of distinct identifications) keep the
//! reassembly under its caps, leak no buffer and are counted by name; and fragments of one
//! datagram that arrive on two workers still meet (handed to one worker).
//!
//! Topology: pg0 is the uplink (fd00::1/64 and 192.0.2.1/24, peer ::2 / .2), pg1 the access
//! port cross-connected with `l2tpv3_tunnel0` over IPv6 (session 10 in).

use pwire_testkit::Harness;
use pwire_tests::{features, PEER_MAC, PG0_MAC};
use std::time::Duration;

fn inner(tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 2, 1, 0x02, 0, 0, 0, 1, 1, 0x88, 0xb5];
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_mul(7).wrapping_add(tag)));
    f
}

fn harness(conf: &str) -> Harness {
    let mut h = Harness::with(conf, &features());
    for l in [
        "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
        "create packet-generator interface pg1",
        "set interface ip address pg0 fd00::1/64",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
    h
}

/// The L2TPv3 payload (session 10, all-ones cookie) around `f`.
fn l2tp(f: &[u8]) -> Vec<u8> {
    let mut l = 10u32.to_be_bytes().to_vec();
    l.extend_from_slice(&[0xff; 8]);
    l.extend_from_slice(f);
    l
}

/// An IPv6 fragment from the peer: `data` at byte `off` of the fragmentable part, `more`
/// following, identification `id`.
fn frag6(id: u32, off: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut f = PG0_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[44, 64]);
    f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[115, 0]);
    f.extend_from_slice(&((off as u16) | u16::from(more)).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// `payload` cut into fragments of `per` bytes (a multiple of 8).
fn fragments(id: u32, payload: &[u8], per: usize) -> Vec<Vec<u8>> {
    payload
        .chunks(per)
        .enumerate()
        .map(|(k, c)| frag6(id, k * per, (k + 1) * per < payload.len(), c))
        .collect()
}

/// The number after `label` on its line of a `show ...-full-reassembly`.
fn num(show: &str, label: &str) -> u64 {
    let l = show
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}' in {show}"));
    l.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("`{label}' {l}"))
}

/// The count of a reason line (`   3976  maximum reassemblies exceeded (...)`), 0 if absent.
fn count(show: &str, reason: &str) -> u64 {
    show.lines()
        .filter(|l| l.contains(reason))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn reassembled(h: &Harness) -> u64 {
    h.counter("ip6-full-reassembly", "datagrams reassembled")
}

#[test]
fn hostile_fragments_stay_under_the_caps_and_are_counted() {
    let mut h = harness("");
    let f = inner(1, 1400);
    let p = l2tp(&f);
    // Control: a well-formed datagram in three fragments, out of order.
    let mut good = fragments(1, &p, 512);
    good.reverse();
    let out = h.capture("pg1");
    h.send("good", "pg0", "ethernet-input", &good);
    assert_eq!(h.captured("pg1", &out), vec![f.clone()]);
    // Overlap (RFC 5722): the second fragment overlaps the first by 8 bytes; the whole
    // datagram is discarded, its last fragment too.
    let mut ov = fragments(2, &p, 512);
    let tail = p[504..1024].to_vec();
    ov[1] = frag6(2, 504, true, &tail);
    let out = h.capture("pg1");
    h.send("overlap", "pg0", "ethernet-input", &ov);
    assert!(h.captured("pg1", &out).is_empty());
    assert_eq!(h.counter("ip6-full-reassembly", "overlapping fragments"), 1);
    assert_eq!(
        h.counter("ip6-full-reassembly", "fragment of a discarded datagram"),
        1
    );
    // A tiny first fragment (8 bytes: the session id and half the cookie, the rest of the
    // header in the next fragment), and an empty one.
    h.send(
        "tiny",
        "pg0",
        "ethernet-input",
        &[frag6(3, 0, true, &p[..8])],
    );
    assert_eq!(h.counter("ip6-full-reassembly", "tiny first fragment"), 1);
    h.send(
        "empty",
        "pg0",
        "ethernet-input",
        &[frag6(4, 0, true, &p[..0])],
    );
    assert_eq!(
        h.counter("ip6-full-reassembly", "fragment length not a multiple of 8"),
        1
    );
    // A flood of distinct identifications, first fragments only: never completed. The table
    // and its memory stay under the caps; what is evicted or times out is counted.
    let flood: Vec<Vec<u8>> = (0..5000u32)
        .map(|i| frag6(1000 + i, 0, true, &p[..1024]))
        .collect();
    h.send("flood", "pg0", "ethernet-input", &flood);
    let show = h.cli("show ip6-full-reassembly");
    assert_eq!(
        num(&show, "Current IP6 reassemblies count:"),
        1024,
        "the table is full, not over: {show}"
    );
    let used = num(&show, "Memory in use:");
    assert!(used <= 4 << 20, "memory under its cap: {show}");
    assert_eq!(
        count(&show, "maximum reassemblies exceeded"),
        5000 - 1024,
        "every datagram past the cap evicted one, counted: {show}"
    );
    h.assert_all_free();
    // They time out (1 s for IPv6) and the table is empty again.
    h.run_for(Duration::from_millis(1300));
    let show = h.cli("show ip6-full-reassembly");
    assert_eq!(num(&show, "Current IP6 reassemblies count:"), 0, "{show}");
    assert_eq!(num(&show, "Memory in use:"), 0, "{show}");
    assert_eq!(count(&show, "reassembly timeout"), 1024, "{show}");
    // Still reassembling afterwards.
    let out = h.capture("pg1");
    h.send("after", "pg0", "ethernet-input", &fragments(7, &p, 512));
    assert_eq!(h.captured("pg1", &out), vec![f]);
    assert_eq!(reassembled(&h), 2);
    h.assert_all_free();
}

#[test]
fn fragments_of_one_datagram_on_two_workers_meet() {
    let mut h = harness("cpu { workers 2 }");
    let frames: Vec<Vec<u8>> = (0..20).map(|i| inner(i, 1200)).collect();
    // Datagram k's first fragment on worker 0, its second on worker 1 (and the other way for
    // odd k), so about half of them must be handed over whatever the hash says.
    let (mut w0, mut w1) = (Vec::new(), Vec::new());
    for (k, f) in frames.iter().enumerate() {
        let fr = fragments(100 + k as u32, &l2tp(f), 616);
        assert_eq!(fr.len(), 2);
        if k % 2 == 0 {
            w0.push(fr[0].clone());
            w1.push(fr[1].clone());
        } else {
            w1.push(fr[0].clone());
            w0.push(fr[1].clone());
        }
    }
    let p0 = h.pcap("w0.pcap", 1, &w0);
    let p1 = h.pcap("w1.pcap", 1, &w1);
    for (name, w, p) in [("w0", 0, &p0), ("w1", 1, &p1)] {
        h.cli(&format!(
            "packet-generator new {{ name {name} limit {} worker {w} interface pg0 node ethernet-input pcap {} }}",
            frames.len(),
            p.display()
        ));
    }
    let out = h.capture("pg1");
    h.run_streams();
    h.run_for(Duration::from_millis(200));
    let mut got = h.captured("pg1", &out);
    let mut want = frames.clone();
    got.sort();
    want.sort();
    assert!(
        got == want,
        "{} of {} frames: {}",
        got.len(),
        want.len(),
        h.cli("show errors")
    );
    assert!(
        h.counter("ip6-full-reassembly", "fragments handed off") > 0,
        "{}",
        h.cli("show errors")
    );
    h.assert_all_free();
}
