//! TCP MSS clamping (`set interface tcp-mss-clamp`) through the whole engine: SYNs and SYN-ACKs
//! over IPv4 and IPv6, untagged and with one or two VLAN tags, crossing a bridge (and a
//! cross-connect) between a pg port and an L2TPv3 tunnel, both ways, with the clamp on either
//! end and in either direction. Every frame is built here, byte by byte, with this file's own
//! checksum: what pwire sends must equal the frame built with the clamped MSS and a checksum
//! computed from scratch. tshark checks the TCP checksums of the captures (no expert warning).
//! MSS already small, non-SYN and non-TCP frames, and malformed options pass byte for byte;
//! `auto` follows the tunnel's inner MTU; bad commands name the offending word.
//!
//! Topology: pg0 is the uplink (fd00::1/64, peer fd00::2 at PEER_MAC), pg1 the access port,
//! `l2tpv3_tunnel0` (sessions 10 in, 20 out, 8-byte all-ones cookies) bridged with it in BD 1
//! (or cross-connected).

use pwire_testkit::Harness;
use pwire_tests::{features, l2tp_frame, pg_uplink, FF8, PEER_MAC, PG0_MAC};
use std::net::Ipv6Addr;
use std::path::Path;

const OUR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// The host behind pg1 and the one behind the tunnel.
const H1: [u8; 6] = [0x02, 0, 0, 0, 0xaa, 1];
const H2: [u8; 6] = [0x02, 0, 0, 0, 0xbb, 2];
const Q: u16 = 0x8100;
const AD: u16 = 0x88a8;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const SYN_ACK: u8 = SYN | ACK;
/// Outer Ethernet, IPv6, session id and cookie in front of a frame the tunnel sends.
const OUTER: usize = 14 + 40 + 4 + 8;

/// RFC 1071 over the concatenated parts, written out here (not pwire-wire's).
fn csum(parts: &[&[u8]]) -> u16 {
    let mut all: Vec<u8> = parts.concat();
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut s: u32 = 0;
    for w in all.chunks(2) {
        s += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// One test packet: an Ethernet frame with `tags`, IPv4 or IPv6, then `proto` (TCP: a header
/// with `flags` and `opts`, data offset from their length unless `doff` says otherwise).
#[derive(Debug, Clone)]
struct Pkt {
    v6: bool,
    tags: Vec<(u16, u16)>,
    proto: u8,
    flags: u8,
    opts: Vec<u8>,
    doff: Option<u8>,
    payload: Vec<u8>,
    sport: u16,
    /// IPv4 flags and fragment offset word.
    frag: u16,
}

impl Pkt {
    fn syn(v6: bool, tags: &[(u16, u16)], flags: u8, mss: u16) -> Pkt {
        Pkt {
            v6,
            tags: tags.to_vec(),
            proto: 6,
            flags,
            opts: linux_opts(mss),
            doff: None,
            payload: Vec::new(),
            sport: 40000,
            frag: 0x4000,
        }
    }
    fn with_opts(mut self, o: &[u8]) -> Pkt {
        self.opts = o.to_vec();
        self
    }
    fn port(mut self, p: u16) -> Pkt {
        self.sport = p;
        self
    }

    /// The frame from `src` to `dst`, checksums computed from scratch.
    fn frame(&self, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut l4 = Vec::new();
        if self.proto == 6 {
            assert_eq!(self.opts.len() % 4, 0, "pad the options");
            let doff = self.doff.unwrap_or(5 + (self.opts.len() / 4) as u8);
            l4.extend_from_slice(&self.sport.to_be_bytes());
            l4.extend_from_slice(&80u16.to_be_bytes());
            l4.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            let ack = if self.flags & ACK != 0 {
                0x0abc_def0u32
            } else {
                0
            };
            l4.extend_from_slice(&ack.to_be_bytes());
            l4.extend_from_slice(&[doff << 4, self.flags, 0xfa, 0xf0, 0, 0, 0, 0]);
            l4.extend_from_slice(&self.opts);
        }
        l4.extend_from_slice(&self.payload);
        let len = l4.len();
        let mut ip = Vec::new();
        if self.v6 {
            let (s, d) = (
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets(),
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets(),
            );
            if self.proto == 6 || self.proto == 17 {
                let c = csum(&[
                    &s,
                    &d,
                    &(len as u32).to_be_bytes(),
                    &[0, 0, 0, self.proto],
                    &l4,
                ]);
                let at = if self.proto == 6 { 16 } else { 6 };
                l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&(len as u16).to_be_bytes());
            ip.extend_from_slice(&[self.proto, 64]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
        } else {
            let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
            if self.proto == 6 || self.proto == 17 {
                let c = csum(&[&s, &d, &[0, self.proto], &(len as u16).to_be_bytes(), &l4]);
                let at = if self.proto == 6 { 16 } else { 6 };
                l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&((20 + len) as u16).to_be_bytes());
            ip.extend_from_slice(&[0x12, 0x34]);
            ip.extend_from_slice(&self.frag.to_be_bytes());
            ip.extend_from_slice(&[64, self.proto, 0, 0]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
            let c = csum(&[&ip]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        ip.extend_from_slice(&l4);
        let mut f = dst.to_vec();
        f.extend_from_slice(&src);
        for &(tpid, vid) in &self.tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&vid.to_be_bytes());
        }
        f.extend_from_slice(&(if self.v6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
        f.extend_from_slice(&ip);
        f
    }
}

/// The options of a Linux SYN: MSS, SACK permitted, timestamps, NOP, window scale.
fn linux_opts(mss: u16) -> Vec<u8> {
    let m = mss.to_be_bytes();
    vec![
        2, 4, m[0], m[1], 4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 3, 3, 7,
    ]
}

/// The SYNs and SYN-ACKs every clamping test sends, with `mss`: both families, untagged, one
/// tag and two, and one with its MSS at an odd offset (after a NOP).
fn syns(mss: u16) -> Vec<Pkt> {
    let m = mss.to_be_bytes();
    let mut v = Vec::new();
    let mut port = 40000;
    for v6 in [false, true] {
        for tags in [vec![], vec![(Q, 100)], vec![(AD, 200), (Q, 30)]] {
            for flags in [SYN, SYN_ACK] {
                v.push(Pkt::syn(v6, &tags, flags, mss).port(port));
                port += 1;
            }
        }
        v.push(
            Pkt::syn(v6, &[(Q, 7)], SYN, mss)
                .with_opts(&[1, 2, 4, m[0], m[1], 1, 1, 0])
                .port(port),
        );
        port += 1;
    }
    v
}

/// `p` as pwire must send it with its MSS lowered to `max` (where above it).
fn clamped(p: &Pkt, max: u16) -> Pkt {
    let mut q = p.clone();
    let at = if q.opts[0] == 1 { 1 } else { 0 };
    let old = u16::from_be_bytes([q.opts[at + 2], q.opts[at + 3]]);
    q.opts[at + 2..at + 4].copy_from_slice(&old.min(max).to_be_bytes());
    q
}

/// pg0 uplink, pg1, the tunnel, and pg1 with the tunnel in BD 1 (or cross-connected).
fn setup(xconnect: bool) -> Harness {
    let mut h = Harness::with("", &features());
    pg_uplink(&mut h);
    h.cli("create packet-generator interface pg1");
    h.cli("set interface state pg1 up");
    let t = h.cli(
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
    );
    assert_eq!(t, "l2tpv3_tunnel0\n");
    h.cli("set interface state l2tpv3_tunnel0 up");
    if xconnect {
        h.cli("set interface l2 xconnect pg1 l2tpv3_tunnel0");
        h.cli("set interface l2 xconnect l2tpv3_tunnel0 pg1");
    } else {
        h.cli("set interface l2 bridge pg1 1");
        h.cli("set interface l2 bridge l2tpv3_tunnel0 1");
    }
    h
}

/// Frames into pg1 (from H1): the frames the tunnel carried out of pg0, outer headers checked
/// and taken off, and the capture.
fn to_tunnel(h: &mut Harness, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, std::path::PathBuf) {
    let cap = h.capture("pg0");
    h.send("up", "pg1", "ethernet-input", frames);
    let got = h.captured("pg0", &cap);
    let inner = got
        .iter()
        .map(|g| {
            assert_eq!(&g[..6], &PEER_MAC);
            assert_eq!(&g[6..12], &PG0_MAC);
            assert_eq!(&g[12..14], &[0x86, 0xdd]);
            assert_eq!(&g[54..58], &20u32.to_be_bytes(), "session id");
            assert_eq!(&g[58..66], &FF8);
            g[OUTER..].to_vec()
        })
        .collect();
    (inner, cap)
}

/// Frames the peer sends into the tunnel: what pg1 sent, and the capture.
fn from_tunnel(h: &mut Harness, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, std::path::PathBuf) {
    let wire: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| l2tp_frame(PG0_MAC, PEER_MAC, PEER6, OUR6, 10, &FF8, f))
        .collect();
    let cap = h.capture("pg1");
    h.send("down", "pg0", "ethernet-input", &wire);
    let got = h.captured("pg1", &cap);
    (got, cap)
}

/// tshark over a capture (`l2tp`: frames in the tunnel): one line per packet, the MSS it
/// reads (None without one) is `want[i]`, every TCP checksum is good, and nothing is worse
/// than a chat/note (the SYN notes). Without tshark: fails as root or in CI, else skipped.
fn tshark(cap: &Path, l2tp: bool, want: &[Option<u16>]) {
    if pwire_testkit::prereq::require(pwire_testkit::prereq::tshark()).is_none() {
        return;
    }
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r").arg(cap);
    if l2tp {
        cmd.args([
            "-o",
            "l2tp.cookie_size:8 Byte Cookie",
            "-o",
            "l2tp.l2_specific:None",
            "-d",
            "l2tp.pw_type==0,eth",
        ]);
    }
    let out = cmd
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            // The test flows are one packet each: sequence analysis would only guess.
            "-o",
            "tcp.analyze_sequence_numbers:FALSE",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "tcp.options.mss_val",
            "-e",
            "tcp.checksum.status",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), want.len(), "{text}");
    for (l, w) in lines.iter().zip(want) {
        let f: Vec<&str> = l.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        assert_eq!(get(0).parse::<u16>().ok(), *w, "mss: {l}");
        if w.is_some() {
            assert_eq!(get(1), "1", "tcp checksum good: {l}");
        }
        for sev in get(2).split(',').filter(|s| !s.is_empty()) {
            let sev: u32 = sev.parse().expect("severity");
            // PI_WARN is 0x00600000.
            assert!(sev < 0x0060_0000, "expert warning or error: {l}");
        }
        assert_eq!(get(3), "", "malformed: {l}");
    }
}

/// `got == want`, frame by frame, saying which frame differs and where (the frames are long).
fn same(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let at = g
                .iter()
                .zip(w)
                .position(|(a, b)| a != b)
                .unwrap_or(g.len().min(w.len()));
            panic!(
                "{what}: frame {i} differs at byte {at} (lengths {} and {}):\n got  {:02x?}\n want {:02x?}",
                g.len(),
                w.len(),
                &g[at.saturating_sub(4)..],
                &w[at.saturating_sub(4)..]
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{what}: frame count");
}

/// [`same`] in any order: a SYN to a port with tx clamping detours through
/// `l2-output-mss-clamp` and leaves after the other frames of its vector (never after a frame
/// of its own flow: nothing follows a SYN before the peer answers it).
fn same_set(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    let (mut g, mut w) = (got.to_vec(), want.to_vec());
    g.sort();
    w.sort();
    same(&g, &w, what);
}

fn counter(h: &Harness, node: &str) -> u64 {
    h.counter(node, "clamped")
}

const IN: &str = "l2-input-mss-clamp";
const OUT: &str = "l2-output-mss-clamp";

/// Sends `syns(1460)` both ways and checks every frame was clamped to (4-family) `max`, that
/// the clamps ran where `on_tunnel` says, and tshark's reading.
fn both_ways(h: &mut Harness, max4: u16, max6: u16, on_tunnel: bool, what: &str) {
    let pkts = syns(1460);
    let limit = |p: &Pkt| if p.v6 { max6 } else { max4 };
    let (in0, out0) = (counter(h, IN), counter(h, OUT));
    // H1 -> H2: out of the tunnel (tx there) or in from pg1 (rx there).
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H2, H1)).collect();
    let (got, cap) = to_tunnel(h, &frames);
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .map(|p| clamped(p, limit(p)).frame(H2, H1))
        .collect();
    same(
        &got,
        &want,
        &format!("{what}: H1 -> H2\n{}", h.cli("show errors")),
    );
    let n = pkts.len() as u64;
    let (rx, tx) = if on_tunnel { (0, n) } else { (n, 0) };
    assert_eq!(
        (counter(h, IN) - in0, counter(h, OUT) - out0),
        (rx, tx),
        "{what}: H1 -> H2 counters"
    );
    let mss: Vec<Option<u16>> = pkts.iter().map(|p| Some(limit(p))).collect();
    tshark(&cap, true, &mss);
    // H2 -> H1: in from the tunnel (rx there) or out of pg1 (tx there).
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H1, H2)).collect();
    let (got, cap) = from_tunnel(h, &frames);
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .map(|p| clamped(p, limit(p)).frame(H1, H2))
        .collect();
    same(
        &got,
        &want,
        &format!("{what}: H2 -> H1\n{}", h.cli("show errors")),
    );
    assert_eq!(
        (counter(h, IN) - in0, counter(h, OUT) - out0),
        (rx + tx, tx + rx),
        "{what}: H2 -> H1 counters"
    );
    tshark(&cap, false, &mss);
    h.assert_all_free();
}

#[test]
fn syn_and_syn_ack_are_clamped_through_a_bridge_both_ways() {
    let mut h = setup(false);
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 ip4 enable ip4-mss 1400 ip6 enable ip6-mss 1380");
    both_ways(&mut h, 1400, 1380, true, "on the tunnel");
    // Moved to the pg port (the short form: a bare direction for both families).
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 disable");
    h.cli("set interface tcp-mss-clamp pg1 enable ip4-mss 1300 ip6-mss 1280");
    both_ways(&mut h, 1300, 1280, false, "on pg1");
}

#[test]
fn a_cross_connect_clamps_in_the_directions_configured() {
    let mut h = setup(true);
    h.cli("set interface tcp-mss-clamp pg1 ip4 enable ip4-mss 1200 ip6 enable ip6-mss 1220");
    both_ways(&mut h, 1200, 1220, false, "xconnect, pg1");
    // rx only on pg1: H1's SYNs are clamped on the way in, H2's pass as sent.
    h.cli("set interface tcp-mss-clamp pg1 ip4 rx ip4-mss 1000 ip6 rx ip6-mss 1000");
    let pkts = syns(1460);
    let up: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H2, H1)).collect();
    let (got, _) = to_tunnel(&mut h, &up);
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .map(|p| clamped(p, 1000).frame(H2, H1))
        .collect();
    same(&got, &want, "clamped");
    let down: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H1, H2)).collect();
    let (got, _) = from_tunnel(&mut h, &down);
    same(&got, &down, "tx not enabled on pg1");
    // tx only on the tunnel, for IPv6 only.
    h.cli("set interface tcp-mss-clamp pg1 disable");
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 ip4 disable ip6 tx ip6-mss 1100");
    let (got, _) = to_tunnel(&mut h, &up);
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .map(|p| {
            if p.v6 {
                clamped(p, 1100).frame(H2, H1)
            } else {
                p.frame(H2, H1)
            }
        })
        .collect();
    same(&got, &want, "clamped");
    let (got, _) = from_tunnel(&mut h, &down);
    same(&got, &down, "rx not enabled on the tunnel");
    h.assert_all_free();
}

#[test]
fn small_mss_non_syn_and_non_tcp_pass_byte_for_byte() {
    let mut h = setup(false);
    h.cli("set interface tcp-mss-clamp pg1 enable ip4-mss 1400 ip6-mss 1400");
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 enable ip4-mss 1400 ip6-mss 1400");
    let mut pkts = syns(1400);
    pkts.extend(syns(536));
    for v6 in [false, true] {
        for tags in [vec![], vec![(Q, 5)]] {
            // An ACK and a data segment that carry MSS-looking options; a RST; UDP with
            // the same bytes; a SYN without an MSS option.
            pkts.push(Pkt::syn(v6, &tags, ACK, 9000));
            let mut data = Pkt::syn(v6, &tags, ACK | 0x08, 9000);
            data.payload = vec![2, 4, 0x23, 0x28, 0, 0, 0, 0];
            pkts.push(data);
            pkts.push(Pkt::syn(v6, &tags, 0x04, 9000));
            let mut udp = Pkt::syn(v6, &tags, 0, 0);
            udp.proto = 17;
            udp.payload = [
                &[0x9c, 0x40, 0, 80, 0, 16, 0, 0][..],
                &linux_opts(9000)[..8],
            ]
            .concat();
            pkts.push(udp);
            pkts.push(Pkt::syn(v6, &tags, SYN, 0).with_opts(&[4, 2, 1, 1, 3, 3, 7, 0]));
        }
    }
    // A later IPv4 fragment whose data looks like a SYN: not a TCP header.
    let mut frag = Pkt::syn(false, &[], SYN, 9000);
    frag.frag = 0x0010;
    pkts.push(frag);
    // An IPv6 SYN behind a hop-by-hop header: not walked (as VPP's plugin).
    let mut hbh = Pkt::syn(true, &[], SYN, 9000);
    hbh.proto = 0;
    hbh.payload = [
        &[6, 0, 1, 4, 0, 0, 0, 0][..],
        &Pkt::syn(true, &[], SYN, 9000).frame(H2, H1)[54..],
    ]
    .concat();
    pkts.push(hbh);
    // Not IP at all: ARP, and an experimental EtherType.
    let mut frames: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H2, H1)).collect();
    let mut arp = H2.to_vec();
    arp.extend_from_slice(&H1);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    frames.push(arp.clone());
    let mut exp = arp.clone();
    exp[12..14].copy_from_slice(&[0x88, 0xb5]);
    frames.push(exp);
    let before = (counter(&h, IN), counter(&h, OUT));
    let no_mss = h.counter(IN, "syn without mss option");
    let (got, _) = to_tunnel(&mut h, &frames);
    same_set(&got, &frames, &h.cli("show errors"));
    let back: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut g = f.clone();
            g[..6].copy_from_slice(&H1);
            g[6..12].copy_from_slice(&H2);
            g
        })
        .collect();
    let (got, _) = from_tunnel(&mut h, &back);
    same_set(&got, &back, "back");
    assert_eq!(
        (counter(&h, IN), counter(&h, OUT)),
        before,
        "nothing clamped"
    );
    // The SYNs without an MSS option: 4 per direction, on each node.
    assert_eq!(h.counter(IN, "syn without mss option") - no_mss, 8);
    h.assert_all_free();
}

#[test]
fn malformed_options_and_headers_are_left_alone() {
    let mut h = setup(false);
    h.cli("set interface tcp-mss-clamp pg1 enable ip4-mss 536 ip6-mss 536");
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 enable ip4-mss 536 ip6-mss 536");
    let mut pkts = Vec::new();
    for v6 in [false, true] {
        for opts in [
            // Length 0 and 1 before the MSS.
            vec![30, 0, 0, 0, 2, 4, 5, 0xb4],
            vec![30, 1, 0, 0, 2, 4, 5, 0xb4],
            // Length running past the header.
            vec![8, 30, 0, 0, 2, 4, 5, 0xb4],
            // The MSS option itself cut by the end of the header.
            vec![1, 1, 1, 1, 1, 2, 4, 5],
            // Length byte missing, of an MSS option and of another.
            vec![1, 1, 1, 1, 1, 1, 1, 2],
            vec![1, 1, 1, 30],
        ] {
            pkts.push(Pkt::syn(v6, &[(Q, 9)], SYN, 0).with_opts(&opts));
        }
        // Data offset beyond the packet, and below 5.
        for doff in [15, 4] {
            let mut p = Pkt::syn(v6, &[], SYN, 1460);
            p.doff = Some(doff);
            pkts.push(p);
        }
    }
    // IPv4 total length cutting the TCP header.
    let mut cut = Pkt::syn(false, &[], SYN, 1460).frame(H2, H1);
    cut[16..18].copy_from_slice(&40u16.to_be_bytes());
    let c = csum(&[&cut[14..24], &[0, 0], &cut[26..34]]);
    cut[24..26].copy_from_slice(&c.to_be_bytes());
    // IPv6 payload length beyond the frame.
    let mut long = Pkt::syn(true, &[], SYN, 1460).frame(H2, H1);
    long[18..20].copy_from_slice(&1000u16.to_be_bytes());
    let mut frames: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H2, H1)).collect();
    let n_hdr = frames.len();
    frames.push(cut);
    frames.push(long);
    let m0 = (
        h.counter(IN, "malformed tcp syn"),
        h.counter(OUT, "malformed tcp syn"),
    );
    let c0 = (counter(&h, IN), counter(&h, OUT));
    let (got, _) = to_tunnel(&mut h, &frames);
    same(&got, &frames, &h.cli("show errors"));
    let n = frames.len() as u64;
    assert_eq!(n_hdr, 16);
    assert_eq!(
        (
            h.counter(IN, "malformed tcp syn") - m0.0,
            h.counter(OUT, "malformed tcp syn") - m0.1
        ),
        (n, n),
        "counted on the way in (pg1) and out (tunnel)"
    );
    assert_eq!((counter(&h, IN), counter(&h, OUT)), c0);
    // Cut short at every length: nothing crashes, nothing is rewritten.
    let whole = Pkt::syn(true, &[(AD, 1), (Q, 2)], SYN, 1460).frame(H2, H1);
    // (From the end of the tags: ethernet-input drops a frame cut inside them.)
    let cuts: Vec<Vec<u8>> = (22..whole.len()).map(|k| whole[..k].to_vec()).collect();
    let (got, _) = to_tunnel(&mut h, &cuts);
    same_set(&got, &cuts, "cuts");
    h.assert_all_free();
}

#[test]
fn auto_follows_the_tunnel_inner_mtu() {
    let mut h = Harness::with("", &features());
    pg_uplink(&mut h);
    h.cli("set interface mtu packet 1500 pg0");
    h.cli("create packet-generator interface pg1");
    h.cli("set interface state pg1 up");
    assert_eq!(
        h.cli("create l2tpv3 tunnel client fd00::2 our fd00::1"),
        "l2tpv3_tunnel0\n"
    );
    h.cli("set interface state l2tpv3_tunnel0 up");
    h.cli("set interface l2 bridge pg1 1");
    h.cli("set interface l2 bridge l2tpv3_tunnel0 1");
    let v = h.cli("show l2tpv3 verbose");
    let inner: u16 = v
        .split("inner mtu ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("inner mtu in {v}"));
    // 1500 less IPv6 40, session id 4, cookie 8.
    assert_eq!(inner, 1448, "{v}");
    let (a4, a6) = (inner - 14 - 20 - 20, inner - 14 - 40 - 20);
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 ip4 enable ip4-mss auto ip6 enable ip6-mss auto");
    assert_eq!(
        h.cli("show interface tcp-mss-clamp l2tpv3_tunnel0"),
        format!("l2tpv3_tunnel0: ip4: auto ({a4}) ip6: auto ({a6})\n")
    );
    // Tunnel default session ids: 1 each way. Each tag takes 4 more from the frame.
    let pkts = syns(1460);
    let limit = |p: &Pkt| (if p.v6 { a6 } else { a4 }) - 4 * p.tags.len() as u16;
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| p.frame(H2, H1)).collect();
    let cap = h.capture("pg0");
    h.send("up", "pg1", "ethernet-input", &frames);
    let got: Vec<Vec<u8>> = h
        .captured("pg0", &cap)
        .iter()
        .map(|g| g[OUTER..].to_vec())
        .collect();
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .map(|p| clamped(p, limit(p)).frame(H2, H1))
        .collect();
    same(&got, &want, &h.cli("show errors"));
    // A full-size segment of each then fills the inner MTU exactly.
    for p in &pkts {
        let ip = if p.v6 { 40 } else { 20 };
        assert_eq!(
            14 + 4 * p.tags.len() as u16 + ip + 20 + limit(p),
            inner,
            "{p:?}"
        );
    }
    let mss: Vec<Option<u16>> = pkts.iter().map(|p| Some(limit(p))).collect();
    tshark(&cap, true, &mss);
    // It follows the MTU, and an Ethernet port's auto is its IP MTU less IP and TCP.
    h.cli("set interface mtu packet 1400 l2tpv3_tunnel0");
    assert_eq!(
        h.cli("show interface tcp-mss-clamp l2tpv3_tunnel0"),
        "l2tpv3_tunnel0: ip4: auto (1346) ip6: auto (1326)\n"
    );
    h.cli("set interface mtu packet 1500 pg1");
    h.cli("set interface tcp-mss-clamp pg1 ip4-mss auto ip6 rx ip6-mss auto");
    assert_eq!(
        h.cli("show interface tcp-mss-clamp pg1"),
        "pg1: ip4: auto (1460) ip6: auto (1440) [RX]\n"
    );
    h.assert_all_free();
}

#[test]
fn commands_name_what_is_wrong_and_show_what_is_set() {
    let mut h = setup(false);
    let c = "set interface tcp-mss-clamp";
    for (args, want) in [
        ("pg9 ip4 enable ip4-mss 1400", "unknown interface `pg9'"),
        ("pg1 ip4 sideways ip4-mss 1400", "`sideways'"),
        ("pg1 ip4", "after `ip4'"),
        ("pg1 ip4 enable ip4-mss 70000", "`70000'"),
        ("pg1 ip4 enable ip4-mss 65535", "`65535'"),
        ("pg1 ip4 enable ip4-mss -1", "`-1'"),
        ("pg1 ip4 enable ip4-mss +1", "`+1'"),
        ("pg1 ip6 enable ip6-mss 1x", "`1x'"),
        ("pg1 ip4 enable ip4-mss", "`ip4-mss'"),
        (
            "pg1 enable ip4-mss 1400 ip6-mss 1400 frob",
            "unknown input `frob'",
        ),
        (
            "pg1",
            "Please specify the MSS clamping direction for ip4 and ip6",
        ),
        ("ip4 enable ip4-mss 1400", "Please specify an interface"),
        (
            "pg1 ip4 enable ip6 disable",
            "Please specify the Max Segment Size for ip4",
        ),
        (
            "pg1 enable ip4-mss 1400",
            "Please specify the Max Segment Size for ip6",
        ),
    ] {
        let e = h.cli_err(&format!("{c} {args}"));
        assert!(e.contains(want), "{args}: {e}");
    }
    let e = h.cli_err("show interface tcp-mss-clamp pg9");
    assert!(e.contains("unknown interface `pg9'"), "{e}");
    assert_eq!(h.cli("show interface tcp-mss-clamp"), "");
    assert_eq!(
        h.cli("show interface tcp-mss-clamp pg1"),
        "pg1: ip4: disabled ip6: disabled\n"
    );
    // VPP's form, in any order; and the short form.
    h.cli(&format!(
        "{c} ip6 rx ip6-mss 1400 pg1 ip4 enable ip4-mss 1424"
    ));
    h.cli(&format!("{c} l2tpv3_tunnel0 tx ip4-mss 0 ip6-mss 65534"));
    assert_eq!(
        h.cli("show interface tcp-mss-clamp"),
        "pg1: ip4: 1424 ip6: 1400 [RX]\nl2tpv3_tunnel0: ip4: 0 [TX] ip6: 65534 [TX]\n"
    );
    // A failed command changes nothing; a family left out is disabled.
    h.cli_err(&format!("{c} pg1 ip4 enable ip4-mss 99999"));
    assert_eq!(
        h.cli("show interface tcp-mss-clamp pg1"),
        "pg1: ip4: 1424 ip6: 1400 [RX]\n"
    );
    h.cli(&format!("{c} pg1 ip6-mss 1300"));
    assert_eq!(
        h.cli("show interface tcp-mss-clamp pg1"),
        "pg1: ip4: disabled ip6: 1300\n"
    );
    // A deleted interface's setting is not inherited by the next one in its slot.
    assert_eq!(h.cli("create loopback interface"), "loop0\n");
    h.cli(&format!("{c} loop0 enable ip4-mss 1000 ip6-mss 1000"));
    assert!(h
        .cli("show interface tcp-mss-clamp")
        .contains("loop0: ip4: 1000"));
    h.cli("delete loopback interface intfc loop0");
    assert!(!h.cli("show interface tcp-mss-clamp").contains("loop"));
    assert_eq!(h.cli("create loopback interface"), "loop0\n");
    assert_eq!(
        h.cli("show interface tcp-mss-clamp loop0"),
        "loop0: ip4: disabled ip6: disabled\n"
    );
}

#[test]
fn trace_shows_what_each_clamp_did() {
    let mut h = setup(false);
    h.cli("set interface tcp-mss-clamp pg1 ip4 rx ip4-mss 1400 ip6 disable");
    h.cli("set interface tcp-mss-clamp l2tpv3_tunnel0 ip4 disable ip6 tx ip6-mss 1300");
    h.cli("trace add pg-input 10");
    let frames = vec![
        Pkt::syn(false, &[], SYN, 1460).frame(H2, H1),
        Pkt::syn(false, &[], SYN, 1200).port(2).frame(H2, H1),
        Pkt::syn(true, &[(Q, 3)], SYN_ACK, 1460)
            .port(3)
            .frame(H2, H1),
        Pkt::syn(false, &[], ACK, 1460).port(4).frame(H2, H1),
    ];
    let _ = to_tunnel(&mut h, &frames);
    let t = h.cli("show trace");
    for want in [
        "l2-input-mss-clamp: sw_if_index 2 ip4 max mss: 1400 clamped: 1 (mss 1460 -> 1400)",
        "l2-input-mss-clamp: sw_if_index 2 ip4 max mss: 1400 clamped: 0 (mss 1200)",
        "l2-input-mss-clamp: sw_if_index 2 ip6 max mss: off clamped: 0",
        "l2-input-mss-clamp: sw_if_index 2 not a tcp syn",
        "l2-output-mss-clamp: sw_if_index 3 ip6 max mss: 1300 clamped: 1 (mss 1460 -> 1300)",
        "[l2-input-mss-clamp l2-learn l2-fwd l2-flood l2-flood ]",
    ] {
        assert!(t.contains(want), "{want} in\n{t}");
    }
    // Only the IPv6 SYN-ACK detoured through the output clamp.
    assert_eq!(t.matches("l2-output-mss-clamp:").count(), 1, "{t}");
}

#[test]
fn a_tag_rewrite_on_the_clamping_port_is_applied_once() {
    let mut h = setup(false);
    // pg1 pushes VLAN 100 on what it receives and pops it from what it sends.
    h.cli("set interface l2 tag-rewrite pg1 push dot1q 100");
    h.cli("set interface tcp-mss-clamp pg1 enable ip4-mss 1200 ip6-mss 1200");
    let plain = syns(1460);
    // In: clamped as received (untagged or tagged), then tagged.
    let frames: Vec<Vec<u8>> = plain.iter().map(|p| p.frame(H2, H1)).collect();
    let (got, _) = to_tunnel(&mut h, &frames);
    let want: Vec<Vec<u8>> = plain
        .iter()
        .map(|p| {
            let mut q = clamped(p, 1200);
            q.tags.insert(0, (Q, 100));
            q.frame(H2, H1)
        })
        .collect();
    same(&got, &want, "in, then pushed");
    // Out: the SYNs detour through the clamp and come back; the tag is popped once.
    let frames: Vec<Vec<u8>> = plain
        .iter()
        .map(|p| {
            let mut q = p.clone();
            q.tags.insert(0, (Q, 100));
            q.frame(H1, H2)
        })
        .collect();
    let (got, cap) = from_tunnel(&mut h, &frames);
    let want: Vec<Vec<u8>> = plain
        .iter()
        .map(|p| clamped(p, 1200).frame(H1, H2))
        .collect();
    same(&got, &want, "clamped, then popped");
    tshark(&cap, false, &vec![Some(1200); plain.len()]);
    h.assert_all_free();
}
