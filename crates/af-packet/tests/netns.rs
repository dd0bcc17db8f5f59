//! End-to-end tests over a veth pair in a private network namespace.
//! Need root and iproute2: without them each test fails as root or in CI, and skips saying why
//! elsewhere (pwire_testkit::prereq).

mod common;

use std::time::{Duration, Instant};

use common::{setup, Netns};
use pwire_af_packet::{
    finish_partial_csum, Epoll, HostIf, Opts, PartialCsum, Ready, RxPkt, TxError, TxVersion, Vlan,
};

/// Local experimental EtherType: nothing else in the namespace uses it.
const ETYPE: u16 = 0x88b5;

fn frame_len(seq: u32) -> usize {
    60 + (seq as usize * 7919) % (1514 - 60 + 1)
}

/// Writes test frame `seq` of `len` bytes into `buf`.
fn fill(buf: &mut [u8], seq: u32, len: usize, dst: [u8; 6], src: [u8; 6]) {
    buf[..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETYPE.to_be_bytes());
    buf[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in buf[18..len].iter_mut().enumerate() {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
}

fn seq_of(p: &RxPkt<'_>) -> Option<u32> {
    let d = p.data;
    (d.len() >= 18 && u16::from_be_bytes([d[12], d[13]]) == ETYPE)
        .then(|| u32::from_be_bytes([d[14], d[15], d[16], d[17]]))
}

fn ours(p: &RxPkt<'_>) -> bool {
    seq_of(p).is_some()
}

/// Sends frames `0..n` from `a` to `b` (at most `window` in flight),
/// checks order and bytes, returns the elapsed time.
fn blast(a: &mut HostIf, b: &mut HostIf, n: u32, window: u32) -> Duration {
    let (dst, src) = (b.mac(), a.mac());
    let mut exp = vec![0u8; 2048];
    let (mut sent, mut got) = (0u32, 0u32);
    let ep = Epoll::new().unwrap();
    ep.add(b.fd(), 1).unwrap();
    let mut ready = [Ready::default(); 4];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    while got < n {
        assert!(
            Instant::now() < deadline,
            "timeout: sent {sent} got {got}; a {:?}; b {:?}",
            a.stats(),
            b.stats()
        );
        while sent < n && sent - got < window {
            let Some(mut slot) = a.tx_slot() else { break };
            let len = frame_len(sent);
            fill(slot.buf(), sent, len, dst, src);
            slot.commit(len).unwrap();
            sent += 1;
        }
        a.tx_flush().unwrap();
        let k = b.rx_burst(256, |p| {
            let Some(seq) = seq_of(&p) else { return true };
            assert_eq!(seq, got, "out of order");
            let len = frame_len(seq);
            fill(&mut exp, seq, len, dst, src);
            assert_eq!(p.data.len(), len, "length of frame {seq}");
            assert_eq!(p.orig_len as usize, len);
            assert!(p.data == &exp[..len], "bytes of frame {seq} differ");
            assert!(p.vlan.is_none());
            got += 1;
            true
        });
        if k == 0 && (sent == n || sent - got >= window) {
            // Nothing to do until the kernel retires a block (≤ 1 ms).
            ep.wait(&mut ready, 5).unwrap();
        }
    }
    start.elapsed()
}

fn burst_10k(opts: &Opts, want_tx: TxVersion) {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", opts).unwrap();
        let mut b = HostIf::open("vb", opts).unwrap();
        eprintln!("va caps: {:?}", a.caps());
        assert_eq!(a.caps().tx_version, want_tx);
        const N: u32 = 10_000;
        let el = blast(&mut a, &mut b, N, 512);
        let pps = f64::from(N) / el.as_secs_f64();
        eprintln!(
            "10k burst ({want_tx:?} TX -> {} RX, 60..1514 B): {:.1} ms, {pps:.0} pps",
            if opts.rx_v2 { "V2" } else { "V3" },
            el.as_secs_f64() * 1e3
        );
        let sa = a.stats();
        let sb = b.stats();
        eprintln!("a: {sa:?}\nb: {sb:?}");
        assert_eq!(sa.tx_frames, u64::from(N));
        assert_eq!(sa.tx_errors + sa.tx_rejected, 0);
        assert!(sb.rx_packets >= u64::from(N), "{sb:?}");
        assert_eq!(sb.rx_drops, 0);
        assert_eq!(sb.rx_bad_blocks, 0);
        // A's own transmissions must not come back on A's RX ring.
        std::thread::sleep(Duration::from_millis(20));
        let mut echoed = 0;
        a.rx_burst(usize::MAX, |p| {
            echoed += usize::from(ours(&p));
            true
        });
        if a.caps().ignore_outgoing {
            assert_eq!(echoed, 0, "saw own frames despite PACKET_IGNORE_OUTGOING");
        }
    });
}

#[test]
fn burst_10k_in_order_v3_tx() {
    burst_10k(&Opts::default(), TxVersion::V3);
}

#[test]
fn burst_10k_in_order_v2_tx_fallback() {
    let opts = Opts {
        force_tx_v2: true,
        ..Opts::default()
    };
    burst_10k(&opts, TxVersion::V2);
}

#[test]
fn burst_10k_in_order_v2_rx() {
    let opts = Opts {
        rx_v2: true,
        ..Opts::default()
    };
    burst_10k(&opts, TxVersion::V3);
}

/// A TPACKET_V2 ring hands a lone frame over at once, where a V3 block waits for its retire
/// timeout (here 20 s, on a V3 socket watching the same interface); frames longer than a ring
/// frame arrive whole (read from the socket, `TP_STATUS_COPY`), in order with the rest, and
/// a refused one is delivered again, whole, by the next burst.
#[test]
fn v2_rx_frames_at_once_and_long_frames_whole() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let slow = Opts {
            rx_retire_tov_ms: 20_000,
            ..Opts::default()
        };
        let v3 = HostIf::open("vb", &slow).unwrap();
        // 512-byte ring frames: 8 to a page-sized block, room for about 430 bytes of frame.
        let v2 = Opts {
            rx_v2: true,
            rx_frame_size: 512,
            rx_block_size: 4096,
            ..slow
        };
        let mut b = HostIf::open("vb", &v2).unwrap();
        let dst = b.mac();
        send_n(&mut a, dst, 0, 1, 100);
        let t0 = Instant::now();
        while !b.rx_ready() && t0.elapsed() < Duration::from_millis(1000) {
            std::thread::sleep(Duration::from_micros(50));
        }
        let waited = t0.elapsed();
        eprintln!(
            "v2: first frame ready after {:.3} ms",
            waited.as_secs_f64() * 1e3
        );
        assert!(b.rx_ready(), "no frame on the V2 ring after 1 s");
        // The V3 socket's block timer started when its ring was made, well under 20 s ago.
        assert!(
            !v3.rx_ready(),
            "the V3 block was retired early: the comparison means nothing"
        );
        let mut seen = Vec::new();
        assert_eq!(
            b.rx_burst(10, |p| {
                seen.push(seq_of(&p));
                true
            }),
            1
        );
        assert_eq!(seen, [Some(0)]);

        // Short and long frames alternate; every long one goes through the socket's queue.
        let len = |s: u32| if s & 1 == 0 { 100 } else { 1400 };
        for s in 1..=40 {
            send_n(&mut a, dst, s, 1, len(s));
        }
        let (mut next, mut refused) = (1u32, false);
        let mut exp = vec![0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(5);
        while next <= 40 && Instant::now() < deadline {
            b.rx_burst(7, |p| {
                let Some(seq) = seq_of(&p) else { return true };
                assert_eq!(seq, next, "out of order");
                let l = len(seq);
                if l > 1000 && !refused {
                    // Not consumed: the same frame, copy included, comes back next time.
                    refused = true;
                    return false;
                }
                fill(&mut exp, seq, l, dst, a.mac());
                assert_eq!(p.data.len(), l, "frame {seq} cut");
                assert!(!p.is_truncated());
                assert!(p.data == &exp[..l], "bytes of frame {seq} differ");
                next += 1;
                true
            });
        }
        assert_eq!(next, 41);
        assert!(refused);
        let st = b.stats();
        assert_eq!((st.rx_drops, st.rx_bad_blocks), (0, 0), "{st:?}");
        drop(v3);
    });
}

/// Sends `n` frames of `len` bytes with sequence numbers from `first`.
fn send_n(a: &mut HostIf, dst: [u8; 6], first: u32, n: u32, len: usize) {
    let src = a.mac();
    let mut buf = vec![0u8; len];
    for s in first..first + n {
        fill(&mut buf, s, len, dst, src);
        a.tx_send(&buf).unwrap();
        if a.tx_pending() >= 64 {
            a.tx_flush().unwrap();
        }
    }
    a.tx_flush().unwrap();
}

#[test]
fn rx_burst_partial_block_resumes() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let mut b = HostIf::open("vb", &Opts::default()).unwrap();
        let ep = Epoll::new().unwrap();
        ep.add(b.fd(), 7).unwrap();
        let mut ready = [Ready::default(); 4];
        assert_eq!(ep.wait(&mut ready, 0).unwrap(), 0, "nothing yet");
        assert!(!b.rx_ready());

        let t0 = Instant::now();
        send_n(&mut a, b.mac(), 0, 100, 100);
        let n = ep.wait(&mut ready, 2000).unwrap();
        // A part-filled block is handed over after tp_retire_blk_tov.
        eprintln!(
            "partial block readable {:.2} ms after send",
            t0.elapsed().as_secs_f64() * 1e3
        );
        assert!(
            n >= 1 && ready[0].token == 7 && ready[0].readable(),
            "{ready:?}"
        );
        // Let the rest arrive: 100 small frames fit one block, retired after 1 ms.
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.rx_ready());

        let mut seen = Vec::new();
        assert_eq!(b.rx_burst(0, |_| panic!("max 0")), 0);
        // max < pending: stops after 7, inside the block.
        let k = b.rx_burst(7, |p| {
            seen.push(seq_of(&p).unwrap());
            true
        });
        assert_eq!(k, 7);
        // Callback refuses the 5th: 4 consumed, the 5th is delivered again next time.
        let mut calls = 0;
        let k = b.rx_burst(100, |p| {
            calls += 1;
            if calls == 5 {
                return false;
            }
            seen.push(seq_of(&p).unwrap());
            true
        });
        assert_eq!((k, calls), (4, 5));
        let k = b.rx_burst(1, |p| {
            seen.push(seq_of(&p).unwrap());
            true
        });
        assert_eq!(k, 1);
        assert_eq!(seen, (0..12).collect::<Vec<_>>());
        // Drain the rest in odd-sized bursts, across block boundaries.
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.len() < 100 && Instant::now() < deadline {
            b.rx_burst(13, |p| {
                seen.push(seq_of(&p).unwrap());
                true
            });
        }
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert_eq!(b.rx_burst(10, |_| true), 0);
        assert!(!b.rx_ready());

        // A second round spanning several blocks (1400 B × 300 > 128 KiB).
        send_n(&mut a, b.mac(), 100, 300, 1400);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut next = 100;
        while next < 400 && Instant::now() < deadline {
            b.rx_burst(17, |p| {
                assert_eq!(seq_of(&p), Some(next));
                next += 1;
                true
            });
        }
        assert_eq!(next, 400);
    });
}

#[test]
fn oversize_and_runt_frames_are_refused() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let mut b = HostIf::open("vb", &Opts::default()).unwrap();
        assert_eq!(a.mtu(), 1500);
        assert_eq!(a.tx_max_len(), 1514);
        // Larger than a ring frame (2048 - 48).
        let big = vec![0u8; 3000];
        assert!(matches!(
            a.tx_send(&big),
            Err(TxError::TooLong { len: 3000, .. })
        ));
        // Fits the frame but not the MTU: the kernel would drop it silently.
        let mut f = vec![0u8; 1515];
        fill(&mut f, 1, 1515, b.mac(), a.mac());
        assert_eq!(
            a.tx_send(&f),
            Err(TxError::TooLong {
                len: 1515,
                max: 1514
            })
        );
        {
            let mut slot = a.tx_slot().unwrap();
            let cap = slot.capacity();
            assert_eq!(cap, 2000);
            slot.buf()[12] = 0x08;
            assert!(matches!(slot.commit(cap + 1), Err(TxError::TooLong { .. })));
        }
        assert_eq!(
            a.tx_slot().unwrap().commit(10),
            Err(TxError::TooShort { len: 10 })
        );
        assert_eq!(a.tx_pending(), 0);
        // A VLAN-tagged frame may be 4 bytes longer than MTU + 14.
        let mut tagged = vec![0u8; 1518];
        fill(&mut tagged[4..], 2, 1514, [0; 6], [0; 6]);
        tagged[..6].copy_from_slice(&b.mac());
        tagged[6..12].copy_from_slice(&a.mac());
        tagged[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
        a.tx_send(&tagged).unwrap();
        // The ring still works after the refusals.
        send_n(&mut a, b.mac(), 3, 1, 200);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        let mut copy = vec![0u8; 2048];
        while got.len() < 2 && Instant::now() < deadline {
            b.rx_burst(8, |p| {
                if let Some(s) = seq_of(&p) {
                    if s == 2 {
                        assert_eq!(
                            p.vlan,
                            Some(Vlan {
                                tpid: 0x8100,
                                tci: 42
                            })
                        );
                        let n = p.copy_to(&mut copy).unwrap();
                        assert_eq!(&copy[..n], &tagged[..]);
                    }
                    got.push(s);
                }
                true
            });
        }
        assert_eq!(got, [2, 3]);
        let s = a.stats();
        assert_eq!(s.tx_rejected, 4, "{s:?}");
        assert_eq!(s.tx_frames, 2);
    });
}

#[test]
fn vlan_tags_are_reported_and_reinserted() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let mut b = HostIf::open("vb", &Opts::default()).unwrap();
        let tags = [
            Vlan {
                tpid: 0x8100,
                tci: 0x3005,
            },
            Vlan {
                tpid: 0x88a8,
                tci: 0x0fff,
            },
        ];
        let mut sent = Vec::new();
        for (i, v) in tags.iter().enumerate() {
            let mut f = vec![0u8; 128];
            fill(&mut f[4..], i as u32, 124, [0; 6], [0; 6]);
            f[..6].copy_from_slice(&b.mac());
            f[6..12].copy_from_slice(&a.mac());
            f[12..14].copy_from_slice(&v.tpid.to_be_bytes());
            f[14..16].copy_from_slice(&v.tci.to_be_bytes());
            a.tx_send(&f).unwrap();
            sent.push(f);
        }
        a.tx_flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = 0;
        let mut copy = [0u8; 256];
        while got < 2 && Instant::now() < deadline {
            b.rx_burst(8, |p| {
                // Tag stripped: the inner EtherType follows the MACs.
                if !ours(&p) {
                    return true;
                }
                assert_eq!(p.vlan, Some(tags[got]), "status {:#x}", p.status);
                assert_eq!(p.data.len(), 124);
                assert_eq!(p.wire_len(), 128);
                let n = p.copy_to(&mut copy).unwrap();
                assert_eq!(&copy[..n], &sent[got][..]);
                assert!(p.copy_to(&mut copy[..127]).is_none());
                got += 1;
                true
            });
        }
        assert_eq!(got, 2);
    });
}

/// Full UDP checksum over IPv4 pseudo-header + segment (reference).
fn udp4_csum_ok(ip: &[u8]) -> bool {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let seg = &ip[ihl..];
    let mut sum: u64 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&ip[12..20]);
    add(&[0, 17]);
    add(&(seg.len() as u16).to_be_bytes());
    add(seg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[test]
fn csum_not_ready_from_local_stack_is_completed() {
    let Some((_g, ns)) = setup() else { return };
    ns.ip(&["addr", "add", "198.18.0.1/24", "dev", "va"]);
    ns.run(|| {
        let mut b = HostIf::open("vb", &Opts::default()).unwrap();
        let mac = b.mac();
        let lladdr = mac
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        // Static neighbour: no ARP needed, and b itself has no address.
        let out = std::process::Command::new("ip")
            .args(["neigh", "replace", "198.18.0.2", "lladdr", &lladdr])
            .args(["dev", "va", "nud", "permanent"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let sock = std::net::UdpSocket::bind("198.18.0.1:0").unwrap();
        let payload: Vec<u8> = (0..333u32).map(|i| (i * 7) as u8).collect();
        sock.send_to(&payload, "198.18.0.2:9999").unwrap();
        eprintln!("vb caps: {:?}", b.caps());

        let deadline = Instant::now() + Duration::from_secs(5);
        let mut done = false;
        let mut copy = vec![0u8; 2048];
        while !done && Instant::now() < deadline {
            b.rx_burst(8, |p| {
                let d = p.data;
                let udp = d.len() > 34 && d[12..14] == [0x08, 0x00] && d[23] == 17;
                if !udp {
                    return true;
                }
                eprintln!(
                    "udp frame: status {:#x} csum {:?} gso {:?}",
                    p.status, p.csum, p.gso
                );
                assert!(
                    p.csum_not_ready(),
                    "veth tx offload should leave CHECKSUM_PARTIAL"
                );
                let n = p.copy_to(&mut copy).unwrap();
                let frame = &mut copy[..n];
                assert!(
                    !udp4_csum_ok(&frame[14..]),
                    "checksum unexpectedly complete"
                );
                let c = if b_has_vnet(&p) {
                    let c = p.csum.expect("NEEDS_CSUM with vnet header");
                    assert_eq!(
                        c,
                        PartialCsum {
                            start: 34,
                            offset: 6
                        }
                    );
                    c
                } else {
                    // Caller's fallback: locate the L4 header from IPv4 IHL.
                    let ihl = usize::from(frame[14] & 0x0f) * 4;
                    PartialCsum {
                        start: (14 + ihl) as u16,
                        offset: 6,
                    }
                };
                assert!(finish_partial_csum(frame, c));
                assert!(udp4_csum_ok(&frame[14..]), "checksum wrong after finishing");
                assert_eq!(&frame[42..], &payload[..]);
                done = true;
                true
            });
        }
        assert!(done, "no UDP frame seen; {:?}", b.stats());
    });
}

fn b_has_vnet(p: &RxPkt<'_>) -> bool {
    p.csum.is_some() || p.gso.is_some()
}

#[test]
fn stats_count_rx_drops_and_ring_recovers() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let small = Opts {
            rx_block_size: 64 << 10,
            rx_block_nr: 2,
            ..Opts::default()
        };
        let mut b = HostIf::open("vb", &small).unwrap();
        let s0 = b.stats();
        assert_eq!((s0.rx_packets, s0.rx_drops), (0, 0));
        // Nobody reads b: 2 × 64 KiB hold ~120 frames of 1000 B.
        const N: u32 = 2000;
        send_n(&mut a, b.mac(), 0, N, 1000);
        std::thread::sleep(Duration::from_millis(20));
        let s = b.stats();
        eprintln!("after {N} unread frames: {s:?}");
        assert!(s.rx_drops > 0, "{s:?}");
        assert!(s.rx_packets + s.rx_drops >= u64::from(N), "{s:?}");
        assert!(s.rx_packets < u64::from(N));
        // Everything the kernel counted as delivered is in the ring, in order.
        let mut got = 0u64;
        let mut last = None;
        while b.rx_burst(64, |p| {
            if let Some(s) = seq_of(&p) {
                assert!(last.is_none_or(|l| s > l));
                last = Some(s);
                got += 1;
            }
            true
        }) > 0
        {}
        assert_eq!(got, s.rx_packets);
        // Counters are cumulative, not clear-on-read.
        let s2 = b.stats();
        assert_eq!((s2.rx_packets, s2.rx_drops), (s.rx_packets, s.rx_drops));
        // The ring accepts frames again.
        send_n(&mut a, b.mac(), N, 10, 100);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut more = 0;
        while more < 10 && Instant::now() < deadline {
            b.rx_burst(64, |p| {
                if seq_of(&p).is_some_and(|s| s >= N) {
                    more += 1;
                }
                true
            });
        }
        assert_eq!(more, 10);
        assert_eq!(b.stats().rx_packets, s.rx_packets + 10);
        let sa = a.stats();
        assert_eq!(sa.tx_frames, u64::from(N) + 10);
        assert_eq!(sa.rx_packets, 0, "a receives nothing: {sa:?}");
    });
}

#[test]
fn link_state_follows_ip_link_set() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let mut b = HostIf::open("vb", &Opts::default()).unwrap();
        assert_eq!(a.name(), "va");
        assert!(a.ifindex() > 0 && a.ifindex() != b.ifindex());
        assert_ne!(a.mac(), [0; 6]);
        assert!(a.link_up() && b.link_up());
        assert!(b.take_error().is_none());

        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        ip(&["link", "set", "vb", "down"]);
        assert!(!b.link_up(), "vb is down");
        // The peer's carrier loss reaches IFF_RUNNING through linkwatch, asynchronously.
        let deadline = Instant::now() + Duration::from_secs(5);
        while a.link_up() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!a.link_up(), "va lost its carrier");
        // The RX socket reports ENETDOWN once (and epoll would say EPOLLERR).
        let ep = Epoll::new().unwrap();
        ep.add(b.fd(), 3).unwrap();
        let mut r = [Ready::default(); 2];
        assert_eq!(ep.wait(&mut r, 100).unwrap(), 1);
        assert!(r[0].error());
        let e = b.take_error().expect("ENETDOWN");
        assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN));
        assert!(b.take_error().is_none());
        assert_eq!(ep.wait(&mut r, 0).unwrap(), 0, "error cleared");

        // Sending on an interface that is down fails and drops what was queued.
        ip(&["link", "set", "va", "down"]);
        let f = vec![0u8; 100];
        a.tx_send(&f).unwrap();
        a.tx_send(&f).unwrap();
        let e = a.tx_flush().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN));
        let s = a.stats();
        assert_eq!((s.tx_errors, s.tx_discarded), (1, 2), "{s:?}");
        assert_eq!(a.tx_pending(), 0);

        ip(&["link", "set", "va", "up"]);
        ip(&["link", "set", "vb", "up"]);
        // Carrier (IFF_RUNNING) comes back via linkwatch, asynchronously.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(a.link_up() && b.link_up()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(a.link_up() && b.link_up());
        // Both rings work again and the discarded frames are not sent late.
        send_n(&mut a, b.mac(), 0, 5, 100);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < 5 && Instant::now() < deadline {
            b.rx_burst(8, |p| {
                got.push(seq_of(&p));
                true
            });
        }
        assert_eq!(got, (0..5).map(Some).collect::<Vec<_>>());
    });
}

#[test]
fn open_missing_interface_fails_cleanly() {
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let e = HostIf::open("nope0", &Opts::default()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
    });
}

/// TCP from the Linux stack over veth arrives as GSO super-packets: larger
/// than the MTU, with checksum and segmentation info in the virtio-net
/// header. The client lives in a second namespace so the traffic really
/// crosses the veth pair.
#[test]
fn gso_super_packets_from_local_tcp() {
    gso_super_packets(&Opts::default());
}

/// The same through a TPACKET_V2 ring: every super-packet is longer than a ring frame and
/// is read whole from the socket (`TP_STATUS_COPY`).
#[test]
fn gso_super_packets_through_a_v2_ring() {
    gso_super_packets(&Opts {
        rx_v2: true,
        ..Opts::default()
    });
}

fn gso_super_packets(opts: &Opts) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let Some((_g, ns1)) = setup() else { return };
    let ns2 = Netns::new().unwrap();
    ns1.ip(&["link", "set", "vb", "netns", &ns2.name]);
    ns2.exec("sysctl", &["-qw", "net.ipv6.conf.vb.disable_ipv6=1"]);
    ns2.ip(&["link", "set", "vb", "up"]);
    ns1.ip(&["addr", "add", "198.18.0.1/24", "dev", "va"]);
    ns2.ip(&["addr", "add", "198.18.0.2/24", "dev", "vb"]);
    const LEN: usize = 256 << 10;
    ns2.run(|| {
        let mut b = HostIf::open("vb", opts).unwrap();
        if !b.caps().vnet_hdr {
            eprintln!("kernel refused PACKET_VNET_HDR with a V3 ring; GSO info unavailable");
        }
        let l = TcpListener::bind("198.18.0.2:7777").unwrap();
        l.set_nonblocking(true).unwrap();
        let received = std::thread::scope(|s| {
            s.spawn(|| {
                ns1.run(|| {
                    let addr = "198.18.0.2:7777".parse().unwrap();
                    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
                    c.write_all(&vec![0x5a; LEN]).unwrap();
                })
            });
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut conn = loop {
                match l.accept() {
                    Ok((c, _)) => break c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(Instant::now() < deadline, "no connection");
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).unwrap();
            buf.len()
        });
        assert_eq!(received, LEN);
        std::thread::sleep(Duration::from_millis(20));
        let (mut tcp_bytes, mut supers, mut biggest) = (0usize, 0, 0);
        while b.rx_burst(64, |p| {
            let d = p.data;
            if d.len() < 54 || d[12..14] != [0x08, 0x00] || d[23] != 6 {
                return true;
            }
            assert!(!p.is_truncated());
            let ip_len = usize::from(u16::from_be_bytes([d[16], d[17]]));
            let hdrs = 14 + 20 + usize::from(d[46] >> 4) * 4;
            tcp_bytes += 14 + ip_len - hdrs;
            biggest = biggest.max(d.len());
            if d.len() > 1514 {
                supers += 1;
                let g = p.gso.expect("super-packet without GSO info");
                assert_eq!(g.kind, pwire_af_packet::VIRTIO_NET_HDR_GSO_TCPV4);
                assert!(g.size > 0 && usize::from(g.size) <= 1448, "{g:?}");
                assert_eq!(
                    p.csum,
                    Some(PartialCsum {
                        start: 34,
                        offset: 16
                    })
                );
            }
            true
        }) > 0
        {}
        eprintln!(
            "tcp over veth: {supers} GSO super-packets, largest frame {biggest} B, \
             {tcp_bytes} payload bytes seen"
        );
        assert_eq!(tcp_bytes, LEN, "payload seen on the ring");
        if b.caps().vnet_hdr {
            assert!(supers > 0, "expected TSO super-packets over veth");
        }
    });
}

/// Reads what `b` has, checking that our frames come once each, in sequence from `*next`;
/// `seen(seq, from_the_v2_ring)` for each. Returns how many the burst took.
fn read_in_order(b: &mut HostIf, next: &mut u32, mut seen: impl FnMut(u32, bool)) -> usize {
    b.rx_burst(256, |p| {
        let Some(seq) = seq_of(&p) else { return true };
        assert_eq!(seq, *next, "out of order or duplicated");
        *next += 1;
        seen(seq, p.tp.v2);
        true
    })
}

/// The hybrid RX path (`Opts::rx_hybrid`, `create host-interface`'s default): a quiet link is
/// read from the V2 frame ring, a busy one from the V3 block ring, and back; every frame is
/// delivered once, in order, across both switches; the group does not see what the host sends
/// on the interface.
#[test]
fn hybrid_rx_switches_by_rate_and_keeps_order() {
    use std::sync::atomic::Ordering::Relaxed;
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let hybrid = Opts {
            rx_hybrid: true,
            ..Opts::default()
        };
        let mut b = HostIf::open("vb", &hybrid).unwrap();
        assert!(
            b.caps().rx_hybrid,
            "kernel refused the fanout group: {:?}",
            b.caps()
        );
        let st = b.hybrid_stats().expect("hybrid stats");
        assert!(st.on_v2.load(Relaxed), "starts on V2");
        let dst = b.mac();
        let mut next = 0u32;
        let (mut via_v2, mut via_v3) = (0u32, 0u32);
        // Reads what is there, checking order; `single` frames must come from the V2 ring.
        let take = |b: &mut HostIf, next: &mut u32, v2: &mut u32, v3: &mut u32| {
            read_in_order(b, next, |_, via_v2| {
                *(if via_v2 { &mut *v2 } else { &mut *v3 }) += 1
            })
        };
        let single =
            |a: &mut HostIf, b: &mut HostIf, next: &mut u32, v2: &mut u32, v3: &mut u32| {
                let want = *next + 1;
                send_n(a, dst, *next, 1, 60);
                a.tx_flush().unwrap();
                let t0 = Instant::now();
                let before = *v2;
                while *next < want && t0.elapsed() < Duration::from_secs(2) {
                    if take(b, next, v2, v3) == 0 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
                assert_eq!(*next, want, "lone frame not delivered");
                assert_eq!(
                    *v2,
                    before + 1,
                    "a lone frame on a quiet link came from the V3 ring"
                );
            };
        for _ in 0..5 {
            single(&mut a, &mut b, &mut next, &mut via_v2, &mut via_v3);
            std::thread::sleep(Duration::from_millis(5));
        }
        // Busy: 20k frames of 1000 bytes as fast as the TX ring goes (past the byte rate), read
        // as they come.
        let (first, n) = (next, 20_000u32);
        let mut sent = first;
        let src = a.mac();
        let deadline = Instant::now() + Duration::from_secs(30);
        while next < first + n {
            assert!(
                Instant::now() < deadline,
                "sent {sent} got {next}: {:?}",
                b.stats()
            );
            while sent < first + n && sent - next < 512 {
                let Some(mut slot) = a.tx_slot() else { break };
                fill(slot.buf(), sent, 1000, dst, src);
                slot.commit(1000).unwrap();
                sent += 1;
            }
            a.tx_flush().unwrap();
            if take(&mut b, &mut next, &mut via_v2, &mut via_v3) == 0 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        eprintln!(
            "hybrid: {via_v2} frames via V2, {via_v3} via V3; to V3 {}, to V2 {}",
            st.to_v3.load(Relaxed),
            st.to_v2.load(Relaxed)
        );
        assert!(st.to_v3.load(Relaxed) >= 1, "a busy link stayed on V2");
        assert!(
            via_v3 > n / 2,
            "most of the burst should come from the V3 ring: {via_v3}"
        );
        // Quiet again: a V3 window with little traffic switches back (the window that held
        // the end of the burst may still count as busy: then the next one).
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(25));
            take(&mut b, &mut next, &mut via_v2, &mut via_v3);
            b.rx_tick();
            if st.on_v2.load(Relaxed) {
                break;
            }
        }
        assert!(st.on_v2.load(Relaxed), "a quiet link stayed on V3");
        assert!(st.to_v2.load(Relaxed) >= 1);
        assert_eq!(next, first + n);
        for _ in 0..5 {
            single(&mut a, &mut b, &mut next, &mut via_v2, &mut via_v3);
        }
        // Our own transmissions on vb are not received by the group.
        let src = b.mac();
        let mut buf = vec![0u8; 60];
        fill(&mut buf, 1_000_000, 60, a.mac(), src);
        b.tx_send(&buf).unwrap();
        b.tx_flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut echoed = 0;
        b.rx_burst(usize::MAX, |p| {
            echoed += usize::from(ours(&p));
            true
        });
        assert_eq!(echoed, 0, "the fanout group saw our own TX");
        let s = b.stats();
        assert_eq!((s.rx_drops, s.rx_bad_blocks), (0, 0), "{s:?}");
        assert_eq!(st.failed.load(Relaxed), 0);
    });
}

/// At a switch to V2 the V3 block the kernel was filling holds older frames than the V2 ring
/// gets next: the V2 frames, readable at once, wait until that block retires and is read.
/// (A 1 s retire timeout keeps the block open while the test switches.)
#[test]
fn hybrid_rx_holds_v2_frames_until_the_v3_block_is_read() {
    use std::sync::atomic::Ordering::Relaxed;
    let Some((_g, ns)) = setup() else { return };
    ns.run(|| {
        let mut a = HostIf::open("va", &Opts::default()).unwrap();
        let slow = Opts {
            rx_hybrid: true,
            rx_retire_tov_ms: 1000,
            ..Opts::default()
        };
        let mut b = HostIf::open("vb", &slow).unwrap();
        let st = b.hybrid_stats().expect("hybrid");
        let dst = b.mac();
        let mut next = 0u32;
        let mut v3_frames = Vec::new();
        let take = |b: &mut HostIf, next: &mut u32, v3: &mut Vec<u32>| {
            read_in_order(b, next, |seq, via_v2| {
                if !via_v2 {
                    v3.push(seq);
                }
            })
        };
        // Onto V3 with a burst of 1 MB (1000 frames fit the V2 ring), read at once.
        send_n(&mut a, dst, 0, 1000, 1000);
        a.tx_flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while next < 1000 && Instant::now() < deadline {
            take(&mut b, &mut next, &mut v3_frames);
        }
        assert_eq!(next, 1000);
        assert!(!st.on_v2.load(Relaxed), "1000 frames at once stayed on V2");
        // More on V3: its full blocks are read, the tail stays in the open block (1 s timer).
        let n = 4000u32;
        send_n(&mut a, dst, 1000, n - 1000, 60);
        a.tx_flush().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        while take(&mut b, &mut next, &mut v3_frames) > 0 {}
        assert!(next < n, "no frame left in the open block");
        // Three frames into the open V3 block, then quiet windows until the switch.
        send_n(&mut a, dst, n, 3, 60);
        a.tx_flush().unwrap();
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(25));
            b.rx_tick();
            if st.on_v2.load(Relaxed) {
                break;
            }
        }
        assert!(st.on_v2.load(Relaxed), "no switch to V2");
        // Three more, on V2 now: they must come after the three in the V3 block.
        send_n(&mut a, dst, n + 3, 3, 60);
        a.tx_flush().unwrap();
        v3_frames.clear();
        let t0 = Instant::now();
        while next < n + 6 && t0.elapsed() < Duration::from_secs(5) {
            if take(&mut b, &mut next, &mut v3_frames) == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        assert_eq!(next, n + 6, "frames lost around the switch");
        // The open block's frames (the burst's tail and the three) from V3, the rest from V2.
        assert_eq!(
            v3_frames.last(),
            Some(&(n + 2)),
            "the V3 block's frames, the three included, came first from V3"
        );
    });
}
