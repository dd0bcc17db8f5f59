//! pwire-node-ip6: IPv6 forwarding, local delivery, ICMPv6 and neighbour discovery (VPP's
//! vnet/ip, vnet/fib, vnet/ip-neighbor, vnet/ip6-nd and the ping plugin).
//!
//! ```text
//! ethernet-input ─> ip6-input ─┬─> <ip6-unicast feature> (e.g. l2tp-decap; arcs added by vnet)
//!                              ├─> ip6-not-enabled ─> error-drop
//!                              ├─> ip6-icmp-error (hop limit 0) ─> ip6-lookup; original to error-drop
//!                              ├─> ip6-local (joined multicast: ND) ─┐
//!                              └─> ip6-lookup ─┬─> ip6-receive ──────┼─> ip6-icmp-input ─┬─> ip6-icmp-echo-request ─> ip6-lookup
//!                                              │                     ├─> <protocol node> ├─> ip6-icmp-echo-reply (ping)
//!                                              │                     └─> ip6-punt        ├─> icmp6-neighbor-solicitation ─> interface-output (NA)
//!                                              │                                         └─> icmp6-neighbor-advertisement
//!                                              ├─> ip6-rewrite ─┬─> <if>-output (interface-output, l2tp-encap, ...)
//!                                              │                └─> ip6-icmp-error (hop limit, MTU)
//!                                              ├─> ip6-glean, ip6-discover-neighbor ─> interface-output (NS)
//!                                              └─> ip6-drop ─> error-drop
//! ```
//!
//! Counters: the shared lists in [`errors`] (VPP's strings), each node's module says which it
//! uses. Tables: [`state::Ip6State`] (FIB, adjacencies, neighbours, routes) in one `Shared`,
//! written by the CLI (`cli.rs`) and by the neighbour-learning main task; nodes only read it.
//! Neighbours learned by the ND nodes travel to the main thread through a lock-free queue.

pub mod errors;
pub mod fib;
pub mod state;

mod cli;
mod drop;
mod frag;
mod icmp;
mod input;
mod local;
mod lookup;
mod nd;
mod ping;
mod rewrite;
mod trace;

use crossbeam_queue::ArrayQueue;
use pwire_graph::Shared;
use pwire_vnet::{CliCtx, Registry, Vnet};
use state::Ip6State;
use std::net::Ipv6Addr;
use std::sync::{Arc, OnceLock};

pub use ping::PingTable;

/// A neighbour an ND node saw, for the main thread to install.
#[derive(Clone, Copy, Debug)]
pub struct Learn {
    pub sw: u32,
    pub ip: Ipv6Addr,
    pub mac: [u8; 6],
}

/// What every ip6 node and command shares.
#[derive(Debug)]
pub struct Ip6Main {
    pub vnet: Arc<Vnet>,
    pub state: Arc<Shared<Ip6State>>,
    /// Neighbours learned by the dataplane, waiting for the main thread.
    pub learned: ArrayQueue<Learn>,
    learn_task: OnceLock<usize>,
    pub ping: PingTable,
}

/// How many learned neighbours may wait for the main thread; more are dropped (and learned
/// again from the next ND packet).
const LEARN_QUEUE: usize = 1024;

impl Ip6Main {
    /// Dataplane: queue a neighbour for installation (lock-free; never blocks).
    #[inline]
    pub fn learn(&self, l: Learn) {
        if self.learned.push(l).is_ok() {
            if let Some(&id) = self.learn_task.get() {
                self.vnet.signal_main_task(id);
            }
        }
    }

    /// Main thread: installs queued neighbours (only what changes takes the barrier). New ones
    /// over the neighbour limit are counted "neighbors not learned due to limit" on
    /// `ip6-icmp-input`.
    pub fn apply_learned(&self, cx: &mut CliCtx) {
        let mut over = 0u64;
        while let Some(l) = self.learned.pop() {
            let if_mac = match cx.vnet.state.get(&cx.ctl).get(l.sw) {
                Some(i) if i.ip6_enabled => i.mac,
                _ => continue,
            };
            let st = self.state.get(&cx.ctl);
            if !st.learn_changes(l.sw, l.ip, l.mac) {
                continue;
            }
            if st.nbr_over_limit(l.sw, l.ip) {
                over += 1;
                continue;
            }
            let now = cx.vnet.engine().now();
            self.state
                .write(&mut cx.ctl)
                .add_neighbor(l.sw, l.ip, l.mac, if_mac, false, false, now);
        }
        if over > 0 {
            let code = cx
                .vnet
                .statics()
                .graph
                .error_code("ip6-icmp-input", "neighbors not learned due to limit");
            if let Some(code) = code {
                // The main thread owns thread 0's counters and is outside any dispatch here.
                cx.vnet.engine().threads[0].counters.add(code, over);
            }
        }
    }
}

/// Registers the ip6 nodes, the 0x86dd ethertype, the CLI and the learning task.
pub fn register(r: &mut Registry) {
    let m = Arc::new(Ip6Main {
        vnet: r.vnet.clone(),
        state: Shared::new(Ip6State::new(r.vnet.n_threads)),
        learned: ArrayQueue::new(LEARN_QUEUE),
        learn_task: OnceLock::new(),
        ping: PingTable::default(),
    });
    let mm = m.clone();
    let id = r.main_task(move |cx| mm.apply_learned(cx));
    let _ = m.learn_task.set(id);
    // Tunnels resolve their outer destination themselves (l2tp-encap's midchain).
    r.publish(m.state.clone());
    r.ethertype(pwire_wire::ethernet::ethertype::IPV6, "ip6-input");
    // An interface coming up announces its addresses (see `nd::announce`).
    r.vnet.hooks.on_admin_change(Box::new(|cx, sw, up| {
        if !up {
            return;
        }
        for (a, _) in cli::if_addrs(cx, sw) {
            nd::announce(cx, sw, a);
        }
    }));
    // Other crates ask "which interface would a packet to X leave by" (l2tp's inner MTU)
    // without depending on this crate.
    let st = m.state.clone();
    r.vnet.hooks.set_ip6_egress(Box::new(move |ctl, dst| {
        st.get(ctl).resolving_interface(dst)
    }));
    // A deleted interface takes its addresses, routes and neighbours with it.
    let (st, vs) = (m.state.clone(), m.vnet.state.clone());
    r.vnet.hooks.on_interface_delete(Box::new(move |ctl, sw| {
        let (addrs, ll) = match vs.get(ctl).get(sw) {
            Some(i) if i.ip6_enabled => (i.ip6_addrs.clone(), i.ip6_link_local),
            _ => return,
        };
        st.write(ctl).forget_interface(sw, &addrs, ll);
        if let Some(i) = vs.write(ctl).get_mut(sw) {
            i.ip6_addrs.clear();
            i.ip6_enabled = false;
            i.ip6_link_local = None;
        }
    }));
    input::register(r, &m);
    lookup::register(r, &m);
    local::register(r, &m);
    rewrite::register(r, &m);
    frag::register(r, &m);
    drop::register(r, &m);
    icmp::register(r, &m);
    nd::register(r, &m);
    cli::register(r, &m);
    ping::register(r, &m);
}
