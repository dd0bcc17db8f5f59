//! The receive path of `create host-interface hybrid`: a TPACKET_V3 block ring for
//! throughput and a TPACKET_V2 frame ring for latency, on two sockets of one
//! `PACKET_FANOUT_CBPF` group whose program (`ret #member`, one instruction) sends every frame
//! of the interface to one of them. The reader picks the member by rate.
//!
//! Why: a V3 block reaches user space when it is full or when its retire timer fires (at least
//! 1 ms: the timeout is in milliseconds, and a kernel that runs it on the jiffy timer rounds it
//! up to a jiffy, 4 ms at HZ=250), so at low rates every frame waits for it on every AF_PACKET
//! hop (0.5 ms on average here: a ping's four hops add 2 ms). A V2 frame is handed over as soon as it is written, but the kernel's
//! per-frame work (the ring lock, a wakeup) costs the sender's CPU about a quarter of the
//! 64-byte rate on this machine kind. Latency matters when the link is quiet and throughput
//! when it is busy, so: V2 while the interface receives fewer than [`TO_V2_PPS`] frames and
//! [`TO_V2_BPS`] bytes a second, V3 from [`TO_V3_PPS`] or [`TO_V3_BPS`] (hysteresis between).
//!
//! Measured in the demo's topology (bench_afpacket.py, 2026-12-07, medians of 3): V2's ping
//! (0.16 ms against V3's 2.1), V3's 64-byte rate (588 against 601 kpps flat out, 500 paced
//! without loss), but V2's TCP (3474 against V3's 4281 Mbit/s), so it is not the default.
//! Why TCP: pinned to V3 from the start (no V2 phase) the group moved V3's TCP, so the fanout
//! costs nothing; what a stream loses comes with the V2 phase. Measured 2026-12-07 (5 s TCP,
//! alternated, 2-3 runs each): under BBR (this machine's default) V3 3897-4755 Mbit/s, hybrid
//! 3548-3669; under CUBIC V3 4172-5131, hybrid 3453-4624. Not the per-frame wake-ups: an
//! experiment build whose idle loop slept 50-1000 µs between reads while traffic flowed
//! (interrupt coalescing) moved 3200-3700 on V2 and hybrid rings alike. Not the ACKs' ring:
//! every ring of the stream on V3 after its first burst (thresholds of 2 kpps) moved 3455-4021
//! under CUBIC and 2346-3133 under BBR. What stays is that the connection starts with a V2
//! hop's RTT (0.2 ms) and meets a V3 block's (up to a retire timeout, 1 ms here) under load,
//! and both algorithms size the window from the early RTT (BBR's minimum; CUBIC's HyStart ends
//! slow start on an ACK train longer than half of it). Measured for BBR (the sender's `ss -tin`
//! during a 5 s stream, 2 runs each, 2026-12-07): on V3 rings its minimum RTT is 0.86-0.97 ms
//! and its window 2300-2800 segments; on hybrid rings the minimum is 0.33-0.34 ms (taken while
//! the rings were on V2) and the window 980-1480, with a loaded RTT of 2.6-5 ms on both (the
//! hosts share the two cores with the dataplanes). BBR caps what is in flight at twice its
//! bandwidth times that minimum, so the lower idle RTT halves the window: a path that answers
//! faster when idle than when loaded costs BBR throughput, whatever batches it under load. So
//! ACK-sized streams (under 200 kpps and 20 MB/s) stay on V2 and floods go to V3. Again later
//! that day (5-6 runs each, medians): hybrid/V3 0.89 under BBR and 0.87 under CUBIC. Paced by
//! the sender's kernel below the saturation of the two cores, the hybrid moves what V3 moves
//! (2.5 Gbit/s: 2447 against 2448 Mbit/s; 3.2 Gbit/s: 3039 against 3054); steering frames
//! longer than 1600 bytes to V3 from the first did not change the flat-out figure (3497
//! against 3494).
//!
//! Order is kept across a switch. To V3: the V2 ring is read before the V3 ring in every
//! burst, and V3 frames only become readable when their block retires, long after the last
//! V2 frame landed. To V2: V2 frames are not read until
//! every retired V3 block has been read and the block the kernel was filling has retired and
//! been read too ([`BlockRing::open_block_pkts`]; that one is waited for at most twice the
//! retire timeout and [`HOLD_SLACK`]). No switch is decided while holding. A frame the caller refuses stops the burst, so nothing from the other ring
//! overtakes it.
//!
//! A kernel without `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` (before 6.2; in a group the member's
//! own `PACKET_IGNORE_OUTGOING` no longer applies, and the group would see our own TX) gets
//! the plain V3 ring ([`open`] keeps it).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::host::Opts;
use crate::rx::{BlockRing, RxPkt, RxRing};
use crate::rx2::FrameRing;
use crate::sys;

/// Rate (frames/s) from which the V3 ring takes the traffic (a TCP stream's ACKs stay below:
/// see the module docs).
pub const TO_V3_PPS: u64 = 200_000;
/// Byte rate (bytes/s) from which the V3 ring takes the traffic (a TCP stream of GSO
/// super-frames is few frames but many bytes, which V2 reads from the socket one by one).
pub const TO_V3_BPS: u64 = 20_000_000;
/// Rate below which the V2 ring takes the traffic again (with [`TO_V2_BPS`]).
pub const TO_V2_PPS: u64 = 50_000;
/// Byte rate below which the V2 ring takes the traffic again (with [`TO_V2_PPS`]).
pub const TO_V2_BPS: u64 = 5_000_000;
/// The V2 ring's rate window: short, since the V2 ring must not fill before the switch.
const V2_WINDOW: Duration = Duration::from_millis(2);
/// The V3 ring's rate window: a few retire timeouts.
const V3_WINDOW: Duration = Duration::from_millis(100);
/// Longest wait for the V3 block being filled at a switch to V2, past twice the retire
/// timeout (which the kernel rounds up to a jiffy, 10 ms at HZ=100): the block retires first.
const HOLD_SLACK: Duration = Duration::from_millis(20);

/// Fanout members, in join order.
const MEMBER_V3: u32 = 0;
const MEMBER_V2: u32 = 1;

/// What the reader does, for `show hardware-interfaces` (written by the RX thread only).
#[derive(Debug, Default)]
pub struct HybridStats {
    /// The V2 ring has the traffic now.
    pub on_v2: AtomicBool,
    /// Switches to V3 and back to V2.
    pub to_v3: AtomicU64,
    pub to_v2: AtomicU64,
    /// Switches the kernel refused (the mode stayed).
    pub failed: AtomicU64,
}

/// The two rings and the switch.
pub(crate) struct Hybrid {
    v3: BlockRing,
    // Field order: the V2 ring (its mapping) is dropped before its socket.
    v2: FrameRing,
    v2_fd: OwnedFd,
    on_v2: bool,
    /// After a switch to V2: V2 frames wait until the V3 ring is drained, or until then.
    hold_until: Option<Instant>,
    win_start: Instant,
    win_pkts: u64,
    win_bytes: u64,
    stats: Arc<HybridStats>,
    /// Longest hold (see [`HOLD_SLACK`]).
    hold_max: Duration,
}

/// The receive ring of a hybrid socket: `v3_fd` (bound to `ifindex`, with the V3 ring `v3`)
/// becomes the first member of a new fanout group and a second socket, with a V2 ring made
/// from `opts` and the same virtio-net header setting (`vnet_hdr`), the second; it starts on
/// V2 (the link is quiet at start). The second socket accepts nothing until it is in the group
/// (a socket filter), so no frame reaches both rings. A kernel that refuses the group (or the
/// header on the V2 socket) leaves the V3 ring; failing to make the V2 socket is an error.
pub(crate) fn open(
    v3_fd: RawFd,
    v3: BlockRing,
    ifindex: i32,
    opts: &Opts,
    vnet_hdr: bool,
) -> io::Result<RxRing> {
    let v2_fd = sys::packet_socket()?;
    let fd = v2_fd.as_raw_fd();
    let v2 = match crate::host::rx_socket(fd, opts, true)? {
        (RxRing::V2(v2), vnet) if vnet == vnet_hdr => v2,
        _ => return Ok(RxRing::V3(v3)),
    };
    let joined = (|| {
        let ty = sys::PACKET_FANOUT_CBPF | sys::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
        sys::join_fanout(v3_fd, 0, ty | sys::PACKET_FANOUT_FLAG_UNIQUEID)?;
        let id = sys::fanout_id(v3_fd)?;
        sys::attach_drop_filter(fd)?;
        sys::bind_ll(fd, u16::try_from(libc::ETH_P_ALL).expect("small"), ifindex)?;
        sys::join_fanout(fd, id, ty)?;
        sys::set_fanout_member(v3_fd, MEMBER_V2)?;
        sys::detach_filter(fd)
    })();
    if joined.is_err() {
        // Whatever was joined: a group without a program sends everything to member 0, the V3
        // socket; the V2 socket closes with `v2_fd`.
        let _ = sys::set_fanout_member(v3_fd, MEMBER_V3);
        return Ok(RxRing::V3(v3));
    }
    let stats = Arc::new(HybridStats::default());
    stats.on_v2.store(true, Relaxed);
    let tov = Duration::from_millis(u64::from(opts.rx_retire_tov_ms));
    Ok(RxRing::Hybrid(Box::new(Hybrid {
        v3,
        v2,
        v2_fd,
        on_v2: true,
        hold_until: None,
        win_start: Instant::now(),
        win_pkts: 0,
        win_bytes: 0,
        stats,
        hold_max: 2 * tov + HOLD_SLACK,
    })))
}

impl Hybrid {
    pub(crate) fn locked(&self) -> bool {
        self.v3.locked() && self.v2.locked()
    }

    pub(crate) fn ready(&self) -> bool {
        self.v2.ready() || self.v3.ready()
    }

    pub(crate) fn bad(&self) -> u64 {
        self.v3.bad_blocks + self.v2.bad_frames
    }

    pub(crate) fn stats(&self) -> &Arc<HybridStats> {
        &self.stats
    }

    /// The V2 socket (its kernel statistics, its epoll registration).
    pub(crate) fn v2_fd(&self) -> RawFd {
        self.v2_fd.as_raw_fd()
    }

    /// See [`HostIf::rx_burst`](crate::HostIf::rx_burst); `fd` is the V3 socket (it sets the
    /// group's program).
    pub(crate) fn burst<F: FnMut(RxPkt<'_>) -> bool>(
        &mut self,
        fd: RawFd,
        max: usize,
        f: &mut F,
    ) -> usize {
        let now = Instant::now();
        let mut bytes = 0u64;
        let refused = std::cell::Cell::new(false);
        let mut g = |p: RxPkt<'_>| {
            let len = p.data.len() as u64;
            let taken = f(p);
            if taken {
                bytes += len;
            } else {
                refused.set(true);
            }
            taken
        };
        let mut n = 0;
        if let Some(until) = self.hold_until {
            n += self.v3.burst(max, &mut g);
            // Retired blocks are always read first; only the block the kernel was filling
            // at the switch is waited for, and not forever (it retires within a jiffy or two).
            if !self.v3.ready() && (self.v3.open_block_pkts() == 0 || now >= until) {
                self.hold_until = None;
                self.new_window(now);
            }
        }
        // A frame the caller did not take is offered again first next time: nothing newer
        // from the other ring before it.
        if self.hold_until.is_none() && !refused.get() && n < max {
            // V2 first: after a switch to V3 its frames are the older ones.
            n += self.v2.burst(self.v2_fd.as_raw_fd(), max - n, &mut g);
            if n < max && !refused.get() {
                n += self.v3.burst(max - n, &mut g);
            }
        }
        self.account(fd, now, n as u64, bytes);
        n
    }

    /// Checks the rate without a burst (a quiet link on V3 switches back to V2 here).
    pub(crate) fn tick(&mut self, fd: RawFd) {
        self.account(fd, Instant::now(), 0, 0);
    }

    /// Adds a burst to the current window and switches when the rate crosses a threshold.
    fn account(&mut self, fd: RawFd, now: Instant, pkts: u64, bytes: u64) {
        // No decision while holding: what is read then is the V3 ring's backlog, and a switch
        // back to V3 now would put the V2 frames between two V3 stretches.
        if self.hold_until.is_some() {
            return;
        }
        self.win_pkts += pkts;
        self.win_bytes += bytes;
        let dt = now.saturating_duration_since(self.win_start);
        if self.on_v2 {
            // Checked as the window fills (a rate over at least a window): a busy link leaves
            // V2 within one.
            let span = dt.max(V2_WINDOW);
            if per_s(self.win_pkts, span) >= TO_V3_PPS || per_s(self.win_bytes, span) >= TO_V3_BPS {
                self.switch(fd, false, now);
            } else if dt >= V2_WINDOW {
                self.new_window(now);
            }
        } else if dt >= V3_WINDOW {
            // The window counts frames read: with retired blocks still waiting the reader fell
            // behind, and the link is not quiet.
            if per_s(self.win_pkts, dt) < TO_V2_PPS
                && per_s(self.win_bytes, dt) < TO_V2_BPS
                && !self.v3.ready()
            {
                self.switch(fd, true, now);
            } else {
                self.new_window(now);
            }
        }
    }

    fn new_window(&mut self, now: Instant) {
        self.win_start = now;
        self.win_pkts = 0;
        self.win_bytes = 0;
    }

    fn switch(&mut self, fd: RawFd, to_v2: bool, now: Instant) {
        self.new_window(now);
        let member = if to_v2 { MEMBER_V2 } else { MEMBER_V3 };
        if sys::set_fanout_member(fd, member).is_err() {
            self.stats.failed.fetch_add(1, Relaxed);
            return;
        }
        self.on_v2 = to_v2;
        self.stats.on_v2.store(to_v2, Relaxed);
        if to_v2 {
            self.hold_until = Some(now + self.hold_max);
            self.stats.to_v2.fetch_add(1, Relaxed);
        } else {
            self.stats.to_v3.fetch_add(1, Relaxed);
        }
    }
}

/// `n` per `span`, per second.
fn per_s(n: u64, span: Duration) -> u64 {
    let us = span.as_micros().max(1);
    u64::try_from(u128::from(n) * 1_000_000 / us).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for Hybrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hybrid")
            .field("v3", &self.v3)
            .field("v2", &self.v2)
            .field("on_v2", &self.on_v2)
            .finish()
    }
}
