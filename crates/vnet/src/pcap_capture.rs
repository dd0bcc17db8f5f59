//! `pcap trace` capture state (VPP's dispatch pcap trace).
//!
//! Capture points call [`PcapCapture::enabled`] once per frame (a relaxed load); only when a
//! kind is on do they take the mutex and copy packet bytes. Packets are kept in memory and
//! written by `pcap trace off`, as VPP does.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Where a packet was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    Rx = 1,
    Tx = 2,
    Drop = 4,
}

/// Capture settings and the packets captured so far.
#[derive(Debug, Default)]
pub struct CaptureBuf {
    pub kinds: u8,
    pub max: usize,
    pub max_bytes: usize,
    pub file: String,
    /// Only this interface (rx or tx side), or any.
    pub sw_if_index: Option<u32>,
    pub packets: Vec<(f64, u32, Vec<u8>)>,
}

/// The process-wide capture.
#[derive(Debug, Default)]
pub struct PcapCapture {
    enabled: AtomicU8,
    pub buf: Mutex<CaptureBuf>,
}

impl PcapCapture {
    /// Bitmask of enabled kinds (0 = off).
    #[inline(always)]
    pub fn enabled(&self) -> u8 {
        self.enabled.load(Ordering::Relaxed)
    }
    pub fn set_enabled(&self, kinds: u8) {
        self.enabled.store(kinds, Ordering::Relaxed);
    }

    /// Records one packet if `kind` is on, the interface matches and room is left. `note`
    /// (drops: `<node>`, `: `, `<reason>`) is appended to the bytes when it fits, as VPP does;
    /// its pieces are copied straight into the captured copy, so nothing is formatted.
    pub fn capture(
        &self,
        kind: CaptureKind,
        sw_if_index: u32,
        now: f64,
        data: &[u8],
        note: &[&str],
    ) {
        if self.enabled() & kind as u8 == 0 {
            return;
        }
        let mut b = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if b.kinds & kind as u8 == 0 || b.packets.len() >= b.max {
            return;
        }
        if b.sw_if_index.is_some_and(|s| s != sw_if_index) {
            return;
        }
        let mut v = data[..data.len().min(b.max_bytes)].to_vec();
        let mut orig = data.len() as u32;
        let note_len: usize = note.iter().map(|n| n.len()).sum();
        if note_len > 0 && v.len() + note_len <= b.max_bytes {
            for n in note {
                v.extend_from_slice(n.as_bytes());
            }
            orig += note_len as u32;
        }
        b.packets.push((now, orig, v));
        if b.packets.len() >= b.max {
            // Full: stop paying for the check on the fast path.
            self.enabled.store(0, Ordering::Relaxed);
        }
    }
}
