//! `create host-interface` and `delete host-interface` in VPP's syntax
//! (plugins/af_packet/cli.c).
//!
//! The sockets are opened here, on the thread running the command (the main thread), so they
//! live in its network namespace: a pwire started with `ip netns exec X` (or a test thread
//! that called `setns` before building the dataplane) opens its host interfaces in X.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use pwire_cli::{Args, CliError};
use pwire_graph::Shared;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Registry, RxMode};

use crate::dev::{AfpState, HostDev, QueueCell};
use crate::host::{HostIf, Opts, TxQueue};

/// Frames per RX block by default: 64 × 2048 = 128 KiB blocks, large enough for a 64 KiB GSO
/// super-frame plus its headers (a smaller block would cut it: "partial packet").
const DEFAULT_RX_PER_BLOCK: u32 = 64;

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<AfpState>>) {
    let s = st.clone();
    r.command(cmd(
        "create host-interface",
        "create host-interface [v2|v3|hybrid] name <ifname> [num-rx-queues <n>] [num-tx-queues <n>] [hw-addr <mac>] [mode ip] [qdisc-bypass-disable] [cksum-gso-disable] [rx-size <n>] [tx-size <n>] [rx-per-block <n>] [tx-per-block <n>]",
        false,
        move |a, cx| create(a, cx, &s),
    ));
    r.command(cmd(
        "delete host-interface",
        "delete host-interface name <ifname>",
        false,
        move |a, cx| delete(a, cx, &st),
    ));
}

/// What `create host-interface` parsed.
#[derive(Debug, Default)]
struct CreateArgs<'a> {
    name: Option<&'a str>,
    mac: Option<[u8; 6]>,
    rx_size: Option<u32>,
    tx_size: Option<u32>,
    rx_per_block: Option<u32>,
    tx_per_block: Option<u32>,
    qdisc_bypass_disable: bool,
    cksum_gso_disable: bool,
    /// `v2` (VPP's) or `v3` (ours): the RX ring's TPACKET version.
    rx_v2: Option<bool>,
    /// `hybrid` (ours): both rings, switched by rate.
    hybrid: bool,
}

fn parse_create<'a>(a: &mut Args<'a>) -> Result<CreateArgs<'a>, CliError> {
    let mut c = CreateArgs::default();
    while !a.is_empty() {
        if a.keyword("name") {
            c.name = Some(a.word("host interface name")?);
        } else if a.keyword("hw-addr") {
            c.mac = Some(a.mac("hw-addr")?);
        } else if a.keyword("num-rx-queues") || a.keyword("num-tx-queues") {
            let n: u32 = a.value("number of queues")?;
            if n != 1 {
                return Err(CliError::msg(format!(
                    "{n} queues: only one rx and one tx queue per host interface are supported (every thread gets its own tx ring)"
                )));
            }
        } else if a.keyword("rx-size") {
            c.rx_size = Some(a.value("rx-size")?);
        } else if a.keyword("tx-size") {
            c.tx_size = Some(a.value("tx-size")?);
        } else if a.keyword("rx-per-block") {
            c.rx_per_block = Some(a.value("rx-per-block")?);
        } else if a.keyword("tx-per-block") {
            c.tx_per_block = Some(a.value("tx-per-block")?);
        } else if a.keyword("qdisc-bypass-disable") {
            c.qdisc_bypass_disable = true;
        } else if a.keyword("cksum-gso-disable") {
            c.cksum_gso_disable = true;
        } else if a.keyword("v2") {
            c.rx_v2 = Some(true);
        } else if a.keyword("v3") {
            c.rx_v2 = Some(false);
        } else if a.keyword("hybrid") {
            c.hybrid = true;
        } else if a.keyword("mode") {
            return Err(CliError::msg(
                "mode ip is not supported (host interfaces are ethernet)",
            ));
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    Ok(c)
}

/// Ring options from the VPP arguments: `rx-size`/`tx-size` are frame sizes in bytes,
/// `rx-per-block` frames per RX block, `tx-per-block` the number of TX frames.
fn opts_from(c: &CreateArgs<'_>) -> Result<Opts, CliError> {
    let mut o = Opts::default();
    if let Some(v) = c.rx_size {
        o.rx_frame_size = v;
    }
    let per = c.rx_per_block.unwrap_or(DEFAULT_RX_PER_BLOCK);
    if c.rx_size.is_some() || c.rx_per_block.is_some() {
        o.rx_block_size = o
            .rx_frame_size
            .checked_mul(per)
            .ok_or_else(|| CliError::msg("rx-size × rx-per-block too large"))?;
    }
    if let Some(v) = c.tx_size {
        o.tx_frame_size = v;
    }
    if let Some(v) = c.tx_per_block {
        o.tx_frame_nr = v;
    }
    o.qdisc_bypass = !c.qdisc_bypass_disable;
    o.vnet_hdr = !c.cksum_gso_disable;
    // TPACKET_V3 (VPP's default) unless `v2` or `hybrid` is asked for. V2 hands each frame
    // over at once, where a V3 block waits for its retire timer (1 ms, or a jiffy where the
    // kernel rounds it up) unless it fills: a ping across two pwire 0.2 ms instead of 2 ms. But V2 costs
    // throughput (bench_afpacket.py: about a quarter of the 64-byte UDP rate): the kernel takes
    // the ring's lock twice and wakes the reader for every frame. `hybrid` (hybrid.rs) reads
    // V2 while the link is quiet and V3 while it is busy: V2's ping and V3's 64-byte rate, but
    // V2's TCP (a fifth less than V3 in the same bench), so it is not the default.
    if c.hybrid && c.rx_v2.is_some() {
        return Err(CliError::msg("hybrid: takes both rings, not with v2 or v3"));
    }
    o.rx_v2 = c.rx_v2.unwrap_or(false);
    o.rx_hybrid = c.hybrid;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    o.validate(page).map_err(|e| {
        CliError::msg(format!(
            "{e} (rx-size {} × rx-per-block {per} = {} bytes, page size {page})",
            o.rx_frame_size, o.rx_block_size
        ))
    })?;
    Ok(o)
}

/// The rings and socket options of a host interface, under `show hardware-interfaces`.
pub(crate) fn show_hw(
    cx: &CliCtx,
    st: &Arc<Shared<AfpState>>,
    i: &pwire_vnet::Interface,
) -> String {
    use std::fmt::Write;
    let s = st.get(&cx.ctl);
    let Some(d) = s
        .devs
        .iter()
        .flatten()
        .find(|d| d.sw_if_index == i.sw_if_index)
    else {
        return String::new();
    };
    let (c, o) = (&d.caps, &d.opts);
    let mut out = String::new();
    if let (true, Some(h)) = (c.rx_hybrid, d.hybrid.as_deref()) {
        let _ = writeln!(
            out,
            "  rx rings TPACKET_V2 + TPACKET_V3 (hybrid): V2 {} frames of {} bytes, V3 {} blocks of {} bytes, retire timeout {} ms",
            o.rx_block_size / o.rx_frame_size * o.rx_block_nr,
            o.rx_frame_size,
            c.rx_block_nr,
            c.rx_block_size,
            o.rx_retire_tov_ms
        );
        let _ = writeln!(
            out,
            "    now on {}; V3 from {} kpps or {} MB/s, V2 below {} kpps and {} MB/s; switches to V3 {} to V2 {} refused {}",
            if h.on_v2.load(Relaxed) { "V2" } else { "V3" },
            crate::TO_V3_PPS / 1000,
            crate::TO_V3_BPS / 1_000_000,
            crate::TO_V2_PPS / 1000,
            crate::TO_V2_BPS / 1_000_000,
            h.to_v3.load(Relaxed),
            h.to_v2.load(Relaxed),
            h.failed.load(Relaxed)
        );
    } else if c.rx_v2 {
        let _ = writeln!(
            out,
            "  rx ring TPACKET_V2: {} frames of {} bytes (longer frames read from the socket)",
            o.rx_block_size / o.rx_frame_size * o.rx_block_nr,
            o.rx_frame_size
        );
    } else {
        let _ = writeln!(
            out,
            "  rx ring TPACKET_V3: {} blocks of {} bytes, retire timeout {} ms{}",
            c.rx_block_nr,
            c.rx_block_size,
            o.rx_retire_tov_ms,
            if o.rx_hybrid {
                " (hybrid asked for: the kernel refused the fanout group, Linux 6.2 needed)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "  tx ring {}: {} frames of {} bytes (one per thread)",
        match c.tx_version {
            crate::TxVersion::V3 => "TPACKET_V3",
            crate::TxVersion::V2 => "TPACKET_V2",
        },
        c.tx_frame_nr,
        c.tx_frame_size
    );
    let mut f = Vec::new();
    if c.qdisc_bypass {
        f.push("qdisc-bypass");
    }
    if c.vnet_hdr {
        f.push("cksum-gso");
    }
    if c.ignore_outgoing {
        f.push("ignore-outgoing");
    }
    let _ = writeln!(out, "  features: {}", f.join(" "));
    out
}

/// VPP's `<strerror> (errno N)`; an invalid name is VPP's `Invalid interface name`.
fn os_error(e: &io::Error) -> CliError {
    match e.raw_os_error() {
        Some(n) => {
            let text = io::Error::from_raw_os_error(n).to_string();
            let msg = text.split(" (os error").next().unwrap_or(&text);
            CliError::msg(format!("{msg} (errno {n})"))
        }
        None if e.kind() == io::ErrorKind::InvalidInput && e.to_string().contains("name") => {
            CliError::msg("Invalid interface name")
        }
        None => CliError::msg(e.to_string()),
    }
}

/// VPP's default: `02:fe` + 4 random bytes.
fn random_mac() -> [u8; 6] {
    let mut r = [0u8; 4];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut r))
        .is_ok();
    if !ok {
        // Good enough to tell interfaces apart when /dev/urandom is missing.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        r = (h.finish() as u32).to_be_bytes();
    }
    [0x02, 0xfe, r[0], r[1], r[2], r[3]]
}

fn create(a: &mut Args<'_>, cx: &mut CliCtx, st: &Arc<Shared<AfpState>>) -> Result<(), CliError> {
    let c = parse_create(a)?;
    let name = c
        .name
        .ok_or_else(|| CliError::msg("missing host interface name"))?;
    let opts = opts_from(&c)?;
    let if_name = format!("host-{name}");
    if cx.vnet.if_by_name(&cx.ctl, &if_name).is_some()
        || st.get(&cx.ctl).by_host_name(name).is_some()
    {
        return Err(CliError::msg("Interface already exists"));
    }
    let class = cx
        .vnet
        .statics()
        .class_id("af-packet")
        .expect("af-packet class registered");
    let default_rx_mode = cx.vnet.statics().default_rx_mode;
    // Sockets first: a missing Linux interface must leave nothing behind.
    let hif = HostIf::open(name, &opts).map_err(|e| os_error(&e))?;
    let caps = *hif.caps();
    let host_mtu = hif.mtu();
    let link = hif.link_up();
    let (rxq, txq) = hif.split();
    let n_threads = cx.vnet.n_threads.max(1);
    let mut tx = Vec::with_capacity(n_threads);
    tx.push(QueueCell::new(txq));
    for _ in 1..n_threads {
        tx.push(QueueCell::new(
            TxQueue::open(name, &opts).map_err(|e| os_error(&e))?,
        ));
    }
    let mac = c.mac.unwrap_or_else(random_mac);
    let slot = st.get(&cx.ctl).free_slot();
    let sw = cx
        .vnet
        .create_interface(
            &mut cx.ctl,
            if_name.clone(),
            class,
            u32::try_from(slot).map_err(|_| CliError::msg("too many host interfaces"))?,
            mac,
        )
        .map_err(CliError::msg)?;
    let s = st.write(&mut cx.ctl);
    // VPP places a new rx queue on the next worker, round robin ("thread any").
    let rx_thread = if n_threads > 1 {
        let t = 1 + s.next_worker % (n_threads - 1);
        s.next_worker += 1;
        t
    } else {
        0
    };
    s.next_id += 1;
    let dev = HostDev {
        id: s.next_id,
        host_name: name.to_string(),
        sw_if_index: sw,
        rx_fd: rxq.fd(),
        rx_fd_v2: rxq.fd_v2(),
        hybrid: rxq.hybrid_stats(),
        rx: QueueCell::new(rxq),
        tx: tx.into_boxed_slice(),
        link_up: AtomicBool::new(link),
        host_mtu,
        caps,
        opts,
    };
    if s.devs.len() <= slot {
        s.devs.resize_with(slot + 1, || None);
    }
    s.devs[slot] = Some(Box::new(dev));
    if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
        i.link_up = link;
        // Interrupt unless startup.conf's `interface { default-rx-mode }` says otherwise.
        i.rx_mode = default_rx_mode.unwrap_or(RxMode::Interrupt);
        i.rx_thread = rx_thread;
        i.hw_mtu = host_mtu;
        // The L3 MTU follows the Linux interface's, so IPv6 (and a tunnel's inner MTU) see
        // what the wire really carries.
        i.mtu[0] = host_mtu;
    }
    a.output(&if_name);
    Ok(())
}

fn delete(a: &mut Args<'_>, cx: &mut CliCtx, st: &Arc<Shared<AfpState>>) -> Result<(), CliError> {
    let mut name = None;
    while !a.is_empty() {
        if a.keyword("name") {
            name = Some(a.word("host interface name")?);
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let name = name.ok_or_else(|| CliError::msg("missing host interface name"))?;
    let (slot, sw) = st
        .get(&cx.ctl)
        .by_host_name(name)
        .map(|(k, d)| (k, d.sw_if_index))
        .ok_or_else(|| CliError::msg(format!("host interface `{name}' does not exist")))?;
    cx.vnet
        .delete_interface(&mut cx.ctl, sw)
        .map_err(CliError::msg)?;
    // The barrier is held (the writes above took it) until the command ends: no thread is
    // inside a node, so the rings can be unmapped and the sockets closed right here.
    let dev = st.write(&mut cx.ctl).devs[slot].take();
    drop(dev);
    Ok(())
}
