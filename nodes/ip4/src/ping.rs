//! `ping` to an IPv4 address (VPP's ping plugin). The command path is the ip6 crate's; it
//! hands `ping <a.b.c.d>` and `ping ipv4 <a.b.c.d>` here (`pwire_vnet::hooks::Ip4Cmd::Ping`).
//!
//! `ping [ipv4] <addr> [source <if>] [size <n>] [interval <s>] [repeat <n>] [table-id 0] [verbose]`
//!
//! Each request is built in a buffer from the main thread's cache (IPv4 TTL 255, no DF, ICMP
//! echo with a random id, sequence 1.., the TSC as send time, `size` data bytes counting up)
//! and injected into `ip4-lookup`, flagged LOCALLY_ORIGINATED. The command then lets the
//! dataplane run for the interval while `ip4-icmp-echo-reply` records replies carrying our id
//! in [`PingTable`] (a lock taken only for echo replies while a ping runs). Output as VPP: one
//! `<ICMP length> bytes from <src>: icmp_seq=<n> ttl=<ttl> time=<ms> ms` line per reply, a
//! blank line, `Statistics: <s> sent, <r> received, <loss>% packet loss`.

use crate::Ip4Main;
use pwire_buffer::flags;
use pwire_cli::{Args, CliError};
use pwire_vnet::{CliCtx, Registry};
use pwire_wire::icmpv4::{fill_checksum, TYPE_ECHO_REQUEST};
use pwire_wire::ipv4::PROTO_ICMP;
use pwire_wire::Ip4Hdr;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// VPP's PING_DEFAULT_DATA_LEN.
const DEFAULT_DATA_LEN: usize = 60;
/// ICMP header (4) + id, seq (4) + send time (8).
const ECHO_HDR: usize = 16;

/// One reply seen by `ip4-icmp-echo-reply`.
#[derive(Debug, Clone, Copy)]
pub struct PingReply {
    pub seq: u16,
    pub ttl: u8,
    pub icmp_len: u16,
    pub rtt_tsc: u64,
    pub src: Ipv4Addr,
}

#[derive(Debug, Default)]
struct Run {
    id: u16,
    replies: Vec<PingReply>,
}

/// The running ping's id and the replies seen so far.
#[derive(Debug, Default)]
pub struct PingTable {
    active: AtomicBool,
    run: Mutex<Run>,
}

impl PingTable {
    /// True while a `ping` waits for replies (checked before taking the lock).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Records a reply if it belongs to the running ping.
    pub fn record(
        &self,
        id: u16,
        seq: u16,
        ttl: u8,
        icmp_len: u16,
        rtt_tsc: u64,
        src: Ipv4Addr,
    ) -> bool {
        let mut r = self.run.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_active() || r.id != id || r.replies.len() >= 4096 {
            return false;
        }
        r.replies.push(PingReply {
            seq,
            ttl,
            icmp_len,
            rtt_tsc,
            src,
        });
        true
    }

    fn start(&self, id: u16) {
        let mut r = self.run.lock().unwrap_or_else(|e| e.into_inner());
        r.id = id;
        r.replies.clear();
        self.active.store(true, Ordering::Release);
    }

    fn stop(&self) {
        self.active.store(false, Ordering::Release);
        self.run
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replies
            .clear();
    }

    fn take(&self) -> Vec<PingReply> {
        std::mem::take(&mut self.run.lock().unwrap_or_else(|e| e.into_inner()).replies)
    }
}

/// vppinfra's `%.4f`: no leading zero before the point (`.1090`).
fn vpp_f4(x: f64) -> String {
    let s = format!("{x:.4}");
    s.strip_prefix("0.").map_or(s.clone(), |r| format!(".{r}"))
}

/// vppinfra's `%f` as ping's statistics line shows it (`0%`, `20%`, `33.333332%`).
fn vpp_pct(x: f32) -> String {
    if x.fract() == 0.0 {
        return format!("{x:.0}");
    }
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn register(_r: &mut Registry, _m: &Arc<Ip4Main>) {}

const USAGE: &str = "Usage: ping <addr> [source <intf>] [size <datasz>] [repeat <count>] [verbose]";

/// `ping` with an IPv4 destination (the ip6 crate's handler calls this with its arguments).
pub(crate) fn ping(a: &mut Args<'_>, cx: &mut CliCtx, m: &Arc<Ip4Main>) -> Result<(), CliError> {
    let explicit = a.keyword("ipv4");
    let dst: Ipv4Addr = match a.peek().and_then(|w| w.parse().ok()) {
        Some(x) => {
            a.next_word();
            x
        }
        None if explicit => {
            return Err(CliError::msg(format!(
                "expecting IPv4 address but got `{}'",
                a.rest()
            )))
        }
        None => {
            return Err(CliError::msg(format!(
                "expecting IP4/IP6 address `{}'. {USAGE}",
                a.rest()
            )))
        }
    };
    let mut source = None;
    let mut size = DEFAULT_DATA_LEN;
    let mut interval = 1.0f64;
    let mut repeat = 5u32;
    let mut verbose = false;
    let max_size =
        usize::from(cx.vnet.engine().pool.data_size()).saturating_sub(Ip4Hdr::LEN + ECHO_HDR);
    while !a.is_empty() {
        if a.keyword("source") {
            let w = a.peek().unwrap_or("");
            source = Some(
                cx.vnet
                    .parse_if(&cx.ctl, a)
                    .map_err(|_| CliError::msg(format!("unknown interface `{w}'")))?,
            );
        } else if a.keyword("size") {
            size = a
                .value::<usize>("size")
                .map_err(|_| CliError::msg(format!("expecting size but got `{}'", a.rest())))?;
            if size > max_size {
                return Err(CliError::msg(format!(
                    "{size} is bigger than maximum allowed payload size {max_size}"
                )));
            }
        } else if a.keyword("interval") {
            interval = a
                .value::<f64>("interval")
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    CliError::msg(format!(
                        "expecting interval (floating point number) got `{}'",
                        a.rest()
                    ))
                })?;
        } else if a.keyword("repeat") {
            repeat = a.value("repeat").map_err(|_| {
                CliError::msg(format!("expecting repeat count but got `{}'", a.rest()))
            })?;
        } else if a.keyword("table-id") {
            let t: u32 = a
                .value("table-id")
                .map_err(|_| CliError::msg(format!("expecting table-id but got `{}'", a.rest())))?;
            if t != 0 {
                return Err(CliError::msg("no FIB table for lookup"));
            }
        } else if a.keyword("verbose") {
            verbose = true;
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let id = (pwire_graph::rdtsc() ^ u64::from(std::process::id())) as u16;
    let hz = cx.vnet.engine().tsc_hz;
    m.ping.start(id);
    let (mut sent, mut received) = (0u32, 0u32);
    for seq in 1..=repeat {
        let t0 = Instant::now();
        match send_echo(cx, m, dst, source, seq as u16, id, size) {
            Ok(src) => {
                sent += 1;
                if verbose {
                    a.output(&format!("Source address: {src} "));
                }
            }
            Err(e) => a.output(&format!("Failed: {e}")),
        }
        let wait = Duration::from_secs_f64(interval).saturating_sub(t0.elapsed());
        cx.run_until(wait, |_| false);
        for r in m.ping.take() {
            received += 1;
            let ms = r.rtt_tsc as f64 / hz * 1000.0;
            a.output(&format!(
                "{} bytes from {}: icmp_seq={} ttl={} time={} ms",
                r.icmp_len,
                r.src,
                r.seq,
                r.ttl,
                vpp_f4(ms)
            ));
        }
    }
    m.ping.stop();
    a.output("");
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * (sent as f32 - received as f32) / sent as f32
    };
    a.output(&format!(
        "Statistics: {sent} sent, {received} received, {}% packet loss",
        vpp_pct(loss)
    ));
    Ok(())
}

/// Builds one echo request and injects it into `ip4-lookup`; returns the source address used.
fn send_echo(
    cx: &mut CliCtx,
    m: &Ip4Main,
    dst: Ipv4Addr,
    source: Option<u32>,
    seq: u16,
    id: u16,
    size: usize,
) -> Result<Ipv4Addr, &'static str> {
    let (sw, src) = {
        let st = m.dp.get(&cx.ctl);
        let sw = match source {
            Some(s) => s,
            None => st.resolving_interface(dst).ok_or("no egress interface")?,
        };
        (
            sw,
            st.iface(sw)
                .and_then(|i| i.source_for(dst))
                .ok_or("no source address for egress interface")?,
        )
    };
    let lookup = cx
        .vnet
        .statics()
        .graph
        .node_index("ip4-lookup")
        .ok_or("no FIB table for lookup")?;
    let rt = cx.main.as_mut().ok_or("packet allocation failed")?;
    let sent = rt.send(lookup, |b| {
        let msg_len = ECHO_HDR + size;
        if !b.set_len(Ip4Hdr::LEN + msg_len) {
            return false;
        }
        let Ok((ip, msg)) = Ip4Hdr::parse_mut(b.current_mut()) else {
            return false;
        };
        *ip = Ip4Hdr::new(src, dst, PROTO_ICMP, msg_len as u16, 255);
        ip.ident.set(seq);
        ip.flags_frag.set(0);
        ip.fill_checksum();
        msg[..4].copy_from_slice(&[TYPE_ECHO_REQUEST, 0, 0, 0]);
        msg[4..6].copy_from_slice(&id.to_be_bytes());
        msg[6..8].copy_from_slice(&seq.to_be_bytes());
        msg[8..16].copy_from_slice(&pwire_graph::rdtsc().to_ne_bytes());
        for (k, x) in msg[ECHO_HDR..].iter_mut().enumerate() {
            *x = k as u8;
        }
        if fill_checksum(msg).is_err() {
            return false;
        }
        b.sw_if_index = [sw, !0];
        b.flags |= flags::LOCALLY_ORIGINATED;
        true
    });
    if !sent {
        return Err("could not allocate a new buffer");
    }
    Ok(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vppinfra_number_formats() {
        assert_eq!(vpp_f4(0.10904), ".1090");
        assert_eq!(vpp_f4(14.23151), "14.2315");
        assert_eq!(vpp_pct(0.0), "0");
        assert_eq!(vpp_pct(100.0 / 3.0), "33.333332");
    }
}
