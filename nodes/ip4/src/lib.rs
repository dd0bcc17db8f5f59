//! pwire-node-ip4: the IPv4 underlay — forwarding, local delivery, ICMPv4 and ARP (VPP's
//! vnet/ip ip4 nodes, vnet/fib's ip4 mtrie, vnet/ip-neighbor and vnet/arp, the ping plugin).
//!
//! ```text
//! ethernet-input ─┬─> ip4-input ─┬─> <ip4-unicast feature> (registered by other crates)
//!                 │              ├─> ip4-not-enabled ─> error-drop
//!                 │              ├─> ip4-icmp-error (TTL 0) ─> ip4-lookup; original to error-drop
//!                 │              └─> ip4-lookup ─┬─> ip4-receive ─┬─> ip4-icmp-input ─┬─> ip4-icmp-echo-request ─> ip4-lookup
//!                 │                              │                ├─> <protocol node> └─> ip4-icmp-echo-reply (ping)
//!                 │                              │                └─> ip4-punt
//!                 │                              ├─> ip4-rewrite ─┬─> <if>-output (interface-output, ...)
//!                 │                              │                └─> ip4-icmp-error (TTL, DF and MTU)
//!                 │                              ├─> ip4-glean, ip4-arp ─> interface-output (ARP request)
//!                 │                              └─> ip4-drop ─> error-drop
//!                 └─> arp-input ─> arp-reply ─> interface-output (reply) | error-drop (learned)
//! ```
//!
//! Counters: the lists in [`errors`] (VPP's strings). Tables: [`state`] — what the nodes read
//! in one `Shared` ([`state::Ip4Dp`], with the [`mtrie`]), the rest behind a main-thread mutex
//! ([`state::Ip4Cp`]); every change goes through [`Ip4Main::change`], which grows what must
//! grow before it parks the workers. Neighbours learned by `arp-reply` travel to the main
//! thread through a lock-free queue.
//!
//! The family-neutral commands (`set interface ip address`, `ip route`, `set ip neighbor`,
//! `ping`, `show ip neighbors`, `set ip neighbor-config`) belong to the ip6 crate, which hands
//! IPv4 arguments here through `pwire_vnet::hooks` (see [`cli`]).

pub mod errors;
pub mod mtrie;
pub mod state;

mod arp;
mod cli;
mod drop;
mod frag;
mod huge;
mod icmp;
mod input;
mod local;
mod lookup;
mod ping;
mod rewrite;
mod trace;

use crossbeam_queue::ArrayQueue;
use pwire_graph::{Ctl, Shared};
use pwire_vnet::{CliCtx, Registry, Vnet};
use state::{Fib, Ip4Cp, Ip4Dp, MAX_ENTRIES, MAX_NEW_ENTRIES};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, OnceLock};

pub use lookup::AHEAD_FROM;
pub use ping::PingTable;

/// A neighbour `arp-reply` saw, for the main thread to install.
#[derive(Clone, Copy, Debug)]
pub struct Learn {
    pub sw: u32,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    /// From a gratuitous announcement: refreshes an existing entry only.
    pub update_only: bool,
}

/// What every ip4 node and command shares.
#[derive(Debug)]
pub struct Ip4Main {
    pub vnet: Arc<Vnet>,
    /// What the nodes read.
    pub dp: Arc<Shared<Ip4Dp>>,
    /// The control plane's tables (main thread only: the lock is never contended).
    pub cp: Mutex<Ip4Cp>,
    /// Neighbours learned by the dataplane, waiting for the main thread.
    pub learned: ArrayQueue<Learn>,
    learn_task: OnceLock<usize>,
    pub ping: PingTable,
}

/// How many learned neighbours may wait for the main thread; more are dropped (and learned
/// again from the next ARP packet).
const LEARN_QUEUE: usize = 1024;

impl Ip4Main {
    /// Dataplane: queue a neighbour for installation (lock-free; never blocks).
    #[inline]
    pub fn learn(&self, l: Learn) {
        if self.learned.push(l).is_ok() {
            if let Some(&id) = self.learn_task.get() {
                self.vnet.signal_main_task(id);
            }
        }
    }

    /// Runs one change of the tables: makes room in the control plane's tables while the
    /// workers still run (a rehash of a million prefixes must not hold them), then parks them
    /// (the first `Shared::write`) and runs `f` on both halves. Fails, changing nothing, when
    /// the FIB holds [`MAX_ENTRIES`].
    pub fn change<R>(&self, ctl: &mut Ctl, f: impl FnOnce(&mut Fib<'_>) -> R) -> Result<R, String> {
        let mut cp = self.cp.lock().unwrap_or_else(|e| e.into_inner());
        if !cp.has_room() {
            return Err(format!("FIB entry limit reached ({MAX_ENTRIES})"));
        }
        cp.reserve(MAX_NEW_ENTRIES);
        let dp = self.dp.write(ctl);
        Ok(f(&mut Fib { cp: &mut cp, dp }))
    }

    /// Main thread: installs queued neighbours (only what changes takes the barrier). New ones
    /// over the neighbour limit are counted on `arp-reply`, "neighbors not learned due to
    /// limit" (pwire's, as `ip6-icmp-input` has for IPv6).
    pub fn apply_learned(&self, cx: &mut CliCtx) {
        let mut over = 0u64;
        while let Some(l) = self.learned.pop() {
            let if_mac = match cx.vnet.state.get(&cx.ctl).get(l.sw) {
                Some(i) => i.mac,
                None => continue,
            };
            if !self
                .dp
                .get(&cx.ctl)
                .iface(l.sw)
                .is_some_and(|i| i.enabled())
            {
                continue;
            }
            {
                let cp = self.cp.lock().unwrap_or_else(|e| e.into_inner());
                if !cp.learn_changes(l.sw, l.ip, l.mac) {
                    continue;
                }
                let known = cp.nbrs.contains_key(&(l.sw, u32::from(l.ip)));
                if l.update_only && !known {
                    continue;
                }
                if cp.nbr_over_limit(l.sw, l.ip) {
                    over += 1;
                    continue;
                }
            }
            let now = cx.vnet.engine().now();
            // A full FIB learns nothing more (counted as over the limit).
            if self
                .change(&mut cx.ctl, |f| {
                    f.add_neighbor(l.sw, l.ip, l.mac, if_mac, false, false, now)
                })
                .is_err()
            {
                over += 1;
            }
        }
        if over > 0 {
            let code = cx
                .vnet
                .statics()
                .graph
                .error_code("arp-reply", errors::NBR_LIMIT);
            if let Some(code) = code {
                // The main thread owns thread 0's counters and is outside any dispatch here.
                cx.vnet.engine().threads[0].counters.add(code, over);
            }
        }
    }
}

/// Registers the ip4 nodes, the 0x0800 and 0x0806 ethertypes, the CLI and the learning task.
pub fn register(r: &mut Registry) {
    let (cp, dp) = state::new_tables(r.vnet.n_threads);
    let m = Arc::new(Ip4Main {
        vnet: r.vnet.clone(),
        dp: Shared::new(dp),
        cp: Mutex::new(cp),
        learned: ArrayQueue::new(LEARN_QUEUE),
        learn_task: OnceLock::new(),
        ping: PingTable::default(),
    });
    let mm = m.clone();
    let id = r.main_task(move |cx| mm.apply_learned(cx));
    let _ = m.learn_task.set(id);
    // Tunnels resolve their outer destination themselves (l2tp-encap's midchain).
    r.publish(m.dp.clone());
    r.ethertype(pwire_wire::ethernet::ethertype::IPV4, "ip4-input");
    r.ethertype(pwire_wire::ethernet::ethertype::ARP, "arp-input");
    // An interface coming up announces its addresses (gratuitous ARP), as ip6 sends an
    // unsolicited NA.
    let mm = m.clone();
    r.vnet.hooks.on_admin_change(Box::new(move |cx, sw, up| {
        if !up {
            return;
        }
        let addrs = mm
            .dp
            .get(&cx.ctl)
            .iface(sw)
            .map(|i| i.addrs.clone())
            .unwrap_or_default();
        for (a, _) in addrs {
            arp::announce(cx, sw, a);
        }
    }));
    // Other crates ask "which interface would a packet to X leave by" without depending on
    // this crate.
    let st = m.dp.clone();
    r.vnet.hooks.set_ip4_egress(Box::new(move |ctl, dst| {
        st.get(ctl).resolving_interface(dst)
    }));
    // `show interface address` lists IPv4 addresses too.
    let st = m.dp.clone();
    r.vnet.hooks.set_ip4_addrs(Box::new(move |ctl, sw| {
        st.get(ctl)
            .iface(sw)
            .map(|i| i.addrs.clone())
            .unwrap_or_default()
    }));
    // A deleted interface takes its addresses, routes and neighbours with it.
    let mm = m.clone();
    r.vnet.hooks.on_interface_delete(Box::new(move |ctl, sw| {
        let via = mm
            .cp
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .routes_via(sw);
        // Deleting makes no entry: the limit cannot refuse it.
        let _ = mm.change(ctl, |f| f.forget_interface(sw, &via));
    }));
    // The ip4-unicast feature switch (l2tp's IPv4 intercept, later).
    let mm = m.clone();
    r.vnet
        .hooks
        .set_ip4_feature(Box::new(move |ctl, sw, name, on| {
            let bit = mm
                .vnet
                .statics()
                .ip4_feature_bit(name)
                .ok_or_else(|| format!("unknown ip4-unicast feature `{name}'"))?;
            mm.change(ctl, |f| {
                let i = f.if_ip4(sw);
                if on {
                    i.features |= bit;
                } else {
                    i.features &= !bit;
                }
            })
        }));
    input::register(r, &m);
    lookup::register(r, &m);
    local::register(r, &m);
    rewrite::register(r, &m);
    frag::register(r, &m);
    drop::register(r, &m);
    icmp::register(r, &m);
    arp::register(r, &m);
    cli::register(r, &m);
    ping::register(r, &m);
}
