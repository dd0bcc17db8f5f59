//! The L2TP control plane in the dataplane: the I/O around the sans-IO core
//! (`pwire-l2tp-control`), its CLI, and the signalled pseudowires' interfaces.
//!
//! - **In:** the decap nodes copy each control message (session id 0 over IP, the T bit over
//!   UDP) with its addresses and ports into [`Control`]'s bounded queue (any thread; "l2tpv3
//!   control plane queue full" past it) and signal the control task.
//! - **The control task** (a main task, main thread): hands the queued messages and due timers
//!   to the core, then applies what it asks for: messages to send are built (IPv6/IPv4, UDP
//!   when the connection runs over UDP, the 4 zero bytes of a control message over IP) and
//!   injected into ip6-lookup / ip4-lookup; `InstallSession` gives the pseudowire's inactive
//!   tunnel slot its negotiated ids and cookies and puts it in the decap table (one barrier for
//!   all the changes of one run, each O(1)); `RemoveSession` takes it out; the link state of
//!   the tunnel interface follows the session and the peer's circuit (A bit): while it is
//!   down, encap drops into it ("L2TP tunnel is down").
//! - `l2tp-control-process` (process node): wakes the task at the core's one deadline (all
//!   connections' timers live in one heap in the core: one wake-up, whatever their number).
//! - **Attachment circuits:** the interface cross-connected with a signalled pseudowire is
//!   its circuit, up while it is admin up and has link (carrier, from its driver): either
//!   going down tells the peer by SLI (A = 0), coming back by SLI (A = 1); a VLAN
//!   sub-interface has its port's link. A pseudowire in a bridge domain has no single circuit
//!   and reports it up. The circuit is read again on those changes and when a session is
//!   installed, not when the cross-connect itself is changed.
//!
//! - **accept-any:** a pseudowire made on an accept-any connection has no peer until one
//!   binds it: its slot is made with the unspecified address, and activation gives it the
//!   negotiated path (the peer's address and UDP port), within the slot's family and
//!   transport kind.
//!
//! A pseudowire is an `l2tpv3_tunnel<N>` made by `create l2tpv3 pseudowire`, bridged or
//! cross-connected like a static one, admin state the operator's, link down until its
//! session is established. Each direction of a session has its own header (each end chooses
//! the cookie it receives, and asks for the sublayer and sequencing on its own).

use crate::api::L2tp;
use crate::outer::CtlAt;
use crossbeam_queue::ArrayQueue;
use hashbrown::HashMap;
use pwire_cli::{Args, CliError};
use pwire_graph::{Cx, Frame, Node, NodeKind, NodeReg};
use pwire_l2tp_control::{
    Command, ConnConfig, ConnId, Core, CoreConfig, Created, DigestAlg, Event, Nanos, OsRandom,
    Path, PwConfig, PwId, PwType, Secret, Transmit, Transport, SEC,
};
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, L2Mode, Registry, Vnet};
use pwire_wire::checksum::{ip4_pseudo_sum, ip6_pseudo_sum};
use pwire_wire::{Ip4Hdr, Ip6Hdr};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

/// Largest control message taken from the dataplane (bigger ones are dropped as queue full).
pub const MAX_CTL: usize = 1500;
/// Control messages queued for the main thread at most.
const QUEUE: usize = 256;

/// A control message copied out of a packet.
pub(crate) struct CtlPkt {
    path: Path,
    len: u16,
    data: [u8; MAX_CTL],
}

/// A signalled pseudowire's tunnel slot.
#[derive(Debug, Clone, Copy)]
struct PwSlot {
    idx: u32,
    sw: u32,
    /// Negotiated (installed), and the peer's circuit active.
    up: bool,
    peer_active: bool,
    circuit_up: bool,
}

/// What the main thread keeps: the core and the pseudowires' slots.
struct State {
    core: Option<Core<OsRandom>>,
    cfg: CoreConfig,
    pws: HashMap<u32, PwSlot>,
    /// Pseudowire id by its interface's sw_if_index (a circuit change finds its pseudowire
    /// without a scan).
    by_sw: HashMap<u32, u32>,
    /// `test l2tpv3 control impair`: received control messages dropped, duplicated or held
    /// back one run, by percentage (this kernel has no netem: a test's lossy link).
    impair: Impair,
    /// Messages held back by the impairment, handed to the core on the next run (boxed as
    /// the queue's spare slots are, which they go back to).
    #[allow(clippy::vec_box)]
    delayed: Vec<Box<CtlPkt>>,
}

/// A test-only impairment of the received control messages.
#[derive(Debug, Default, Clone, Copy)]
struct Impair {
    drop: u32,
    duplicate: u32,
    delay: u32,
    /// xorshift state (seeded, so a run is repeatable).
    rng: u64,
}

impl Impair {
    fn roll(&mut self) -> u32 {
        let mut x = self.rng.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 100) as u32
    }
}

impl State {
    fn add_slot(&mut self, id: u32, slot: PwSlot) {
        self.by_sw.insert(slot.sw, id);
        self.pws.insert(id, slot);
    }

    fn remove_slot(&mut self, id: u32) -> Option<PwSlot> {
        let slot = self.pws.remove(&id)?;
        self.by_sw.remove(&slot.sw);
        Some(slot)
    }
}

/// The control plane's shared part.
pub struct Control {
    inbox: ArrayQueue<Box<CtlPkt>>,
    /// Spare message slots, so that the dataplane never allocates to punt.
    spare: ArrayQueue<Box<CtlPkt>>,
    state: Mutex<State>,
    task: OnceLock<usize>,
    epoch: Instant,
    /// The core's next deadline (ns since `epoch`; `u64::MAX`: none).
    deadline: AtomicU64,
    api: OnceLock<L2tp>,
    vnet: Arc<Vnet>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

impl Control {
    pub(crate) fn new(vnet: Arc<Vnet>) -> Self {
        let spare = ArrayQueue::new(QUEUE);
        for _ in 0..QUEUE {
            let _ = spare.push(Box::new(CtlPkt {
                path: Path {
                    local: IpAddr::from([0u8; 4]),
                    peer: IpAddr::from([0u8; 4]),
                    transport: Transport::Ip,
                },
                len: 0,
                data: [0; MAX_CTL],
            }));
        }
        Control {
            inbox: ArrayQueue::new(QUEUE),
            spare,
            state: Mutex::new(State {
                core: None,
                cfg: CoreConfig::default(),
                pws: HashMap::new(),
                by_sw: HashMap::new(),
                impair: Impair::default(),
                delayed: Vec::new(),
            }),
            task: OnceLock::new(),
            epoch: Instant::now(),
            deadline: AtomicU64::new(u64::MAX),
            api: OnceLock::new(),
            vnet,
        }
    }

    /// The identity from `l2tp { hostname <name> router-id <a.b.c.d> }`.
    pub(crate) fn configure(&self, hostname: Option<&str>, router_id: Option<std::net::Ipv4Addr>) {
        let mut st = self.state();
        if let Some(h) = hostname {
            st.cfg.host_name = h.to_string();
        }
        if let Some(r) = router_id {
            st.cfg.router_id = u32::from(r);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Nanos {
        self.epoch.elapsed().as_nanos() as Nanos
    }

    /// A control message from the dataplane (any thread): false when it cannot be queued.
    pub(crate) fn punt(&self, at: CtlAt, msg: &[u8]) -> bool {
        if msg.len() > MAX_CTL {
            return false;
        }
        let Some(mut p) = self.spare.pop() else {
            return false;
        };
        // Received: the packet's destination is our address, its source the peer's.
        p.path = Path {
            local: at.dst,
            peer: at.src,
            transport: match at.ports {
                None => Transport::Ip,
                Some((sport, dport)) => Transport::Udp {
                    local_port: dport,
                    peer_port: sport,
                },
            },
        };
        p.len = msg.len() as u16;
        p.data[..msg.len()].copy_from_slice(msg);
        if let Err(p) = self.inbox.push(p) {
            let _ = self.spare.push(p);
            return false;
        }
        if let Some(&t) = self.task.get() {
            self.vnet.signal_main_task(t);
        }
        true
    }

    /// The control task: messages in, timers, then events and messages out.
    fn run(&self, cx: &mut CliCtx) {
        let now = self.now();
        let mut st = self.state();
        let st = &mut *st;
        let mut pkts = std::mem::take(&mut st.delayed);
        let mut fresh = Vec::new();
        while let Some(p) = self.inbox.pop() {
            fresh.push(p);
        }
        let Some(core) = st.core.as_mut() else {
            for p in pkts.into_iter().chain(fresh) {
                let _ = self.spare.push(p);
            }
            return;
        };
        let imp = &mut st.impair;
        let mut dup = Vec::new();
        for p in fresh {
            if imp.drop + imp.duplicate + imp.delay == 0 {
                pkts.push(p);
                continue;
            }
            let r = imp.roll();
            if r < imp.drop {
                let _ = self.spare.push(p);
            } else if r < imp.drop + imp.delay {
                st.delayed.push(p);
            } else {
                if r < imp.drop + imp.delay + imp.duplicate {
                    dup.push((p.path, p.len, p.data));
                }
                pkts.push(p);
            }
        }
        for p in pkts {
            core.handle_message(now, p.path, &p.data[..usize::from(p.len)]);
            let _ = self.spare.push(p);
        }
        for (path, len, data) in dup {
            core.handle_message(now, path, &data[..usize::from(len)]);
        }
        if !st.delayed.is_empty() {
            if let Some(&t) = self.task.get() {
                self.vnet.signal_main_task(t);
            }
        }
        if self.deadline.load(Relaxed) <= now {
            core.handle_timeout(now);
        }
        let mut events = Vec::new();
        while let Some(e) = core.poll_event() {
            events.push(e);
        }
        let mut out = Vec::new();
        while let Some(t) = core.poll_transmit() {
            out.push(t);
        }
        self.deadline
            .store(core.poll_timeout().unwrap_or(u64::MAX), Relaxed);
        for e in events {
            self.apply(cx, st, e);
        }
        for t in out {
            send(cx, &t);
        }
    }

    fn apply(&self, cx: &mut CliCtx, st: &mut State, e: Event) {
        let log = |cx: &CliCtx, s: std::fmt::Arguments<'_>| {
            cx.vnet.log.notice(pwire_vnet::log::class::L2TP, s);
        };
        let Some(api) = self.api.get() else { return };
        match e {
            Event::ConnectionUp { conn } => {
                log(cx, format_args!("control connection {} up", conn.0))
            }
            Event::ConnectionDown { conn, reason } => log(
                cx,
                format_args!("control connection {} down: {reason}", conn.0),
            ),
            Event::Log(s) => log(cx, format_args!("{s}")),
            Event::InstallSession(p) => {
                let Some(slot) = st.pws.get_mut(&p.pw.0) else {
                    return;
                };
                let cookie = |c: &pwire_l2tp_control::Cookie| {
                    pwire_wire::l2tpv3::Cookie::from_slice(c.as_bytes())
                        .unwrap_or(pwire_wire::l2tpv3::Cookie::NONE)
                };
                // A re-negotiated session replaces the old one.
                api.deactivate(&mut cx.ctl, slot.idx);
                match api.activate(
                    &mut cx.ctl,
                    slot.idx,
                    &crate::api::Negotiated {
                        our: p.path.local,
                        client: p.path.peer,
                        transport: dp_transport(p.path.transport),
                        local_session_id: p.local_session_id,
                        remote_session_id: p.remote_session_id,
                        local_cookie: cookie(&p.local_cookie),
                        remote_cookie: cookie(&p.remote_cookie),
                        rx_sublayer: p.rx_sublayer,
                        tx_sublayer: p.tx_sublayer,
                        rx_sequencing: p.rx_sequencing,
                        tx_sequencing: p.tx_sequencing,
                        peer_active: p.peer_active,
                    },
                ) {
                    Ok(()) => {
                        slot.up = true;
                        slot.peer_active = p.peer_active;
                        // The circuit as it is now (it may have been attached, or gone down,
                        // since the pseudowire was made): the core sends SLI if it differs
                        // from what the setup messages said.
                        let ac = circuit_of(cx, slot.sw);
                        if ac != slot.circuit_up {
                            slot.circuit_up = ac;
                            if let Some(core) = st.core.as_mut() {
                                let now = self.now();
                                let _ = core
                                    .handle_command(now, Command::SetCircuit { pw: p.pw, up: ac });
                            }
                            // What that sent is drained by the next run.
                            if let Some(&t) = self.task.get() {
                                self.vnet.signal_main_task(t);
                            }
                        }
                        log(
                            cx,
                            format_args!(
                                "pseudowire {} ({}) installed: local-session-id {} remote-session-id {} cookie-size {}/{}",
                                p.pw.0,
                                cx.vnet.if_name(&cx.ctl, slot.sw),
                                p.local_session_id,
                                p.remote_session_id,
                                p.local_cookie.len(),
                                p.remote_cookie.len()
                            ),
                        );
                    }
                    Err(e) => log(
                        cx,
                        format_args!("pseudowire {}: not installed: {e}", p.pw.0),
                    ),
                }
            }
            Event::RemoveSession { pw, .. } => {
                if let Some(slot) = st.pws.get_mut(&pw.0) {
                    api.deactivate(&mut cx.ctl, slot.idx);
                    slot.up = false;
                    log(cx, format_args!("pseudowire {} removed", pw.0));
                }
            }
            Event::PwLink { pw, up } => {
                if let Some(slot) = st.pws.get_mut(&pw.0) {
                    slot.up = up && slot.up;
                    api.set_link(&mut cx.ctl, slot.sw, slot.up && slot.peer_active);
                }
            }
            Event::PeerCircuit { pw, active } => {
                if let Some(slot) = st.pws.get_mut(&pw.0) {
                    slot.peer_active = active;
                    api.set_link(&mut cx.ctl, slot.sw, slot.up && active);
                    log(
                        cx,
                        format_args!(
                            "pseudowire {}: peer's circuit {}",
                            pw.0,
                            if active { "active" } else { "inactive" }
                        ),
                    );
                }
            }
        }
    }

    /// The admin or link state of interface `sw` changed: a pseudowire cross-connected with it
    /// tells its peer (SLI) when its circuit changed.
    fn circuit_changed(&self, cx: &mut CliCtx, sw: u32) {
        // The pseudowire whose circuit `sw` is: the one `sw` is cross-connected with (an
        // xconnect is configured both ways; the circuit itself is read from the pseudowire's
        // side, `circuit_of`).
        let Some(pw_sw) = cx.vnet.state.get(&cx.ctl).get(sw).and_then(|i| match i.l2 {
            L2Mode::Xconnect { peer, .. } => Some(peer),
            _ => None,
        }) else {
            return;
        };
        let up = circuit_of(cx, pw_sw);
        let now = self.now();
        {
            let mut st = self.state();
            let st = &mut *st;
            let Some(&id) = st.by_sw.get(&pw_sw) else {
                return;
            };
            let (Some(slot), Some(core)) = (st.pws.get_mut(&id), st.core.as_mut()) else {
                return;
            };
            if slot.circuit_up == up {
                return;
            }
            slot.circuit_up = up;
            let _ = core.handle_command(now, Command::SetCircuit { pw: PwId(id), up });
        }
        self.run(cx);
    }
}

/// Builds the packet for `t` and injects it into the family's lookup node.
fn send(cx: &mut CliCtx, t: &Transmit) {
    let v4 = t.path.local.is_ipv4();
    let Some(node) =
        cx.vnet
            .statics()
            .graph
            .node_index(if v4 { "ip4-lookup" } else { "ip6-lookup" })
    else {
        return;
    };
    let Some(rt) = cx.main.as_mut() else {
        return;
    };
    let ip_len = if v4 { Ip4Hdr::LEN } else { Ip6Hdr::LEN };
    let (proto, l4) = match t.path.transport {
        Transport::Ip => (crate::PROTO_L2TP, 4),
        Transport::Udp { .. } => (pwire_wire::ipv6::PROTO_UDP, 8),
    };
    let payload = l4 + t.payload.len();
    rt.send(node, |b| {
        if !b.set_len(ip_len + payload) {
            return false;
        }
        let d = b.current_mut();
        let (hdr, rest) = d.split_at_mut(ip_len);
        match (t.path.local, t.path.peer) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let h = Ip4Hdr::new(src, dst, proto, payload as u16, 64);
                hdr.copy_from_slice(zerocopy::IntoBytes::as_bytes(&h));
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => match Ip6Hdr::parse_mut(hdr) {
                Ok((h, _)) => h.set_default(payload as u16, proto, 64, src, dst),
                Err(_) => return false,
            },
            _ => return false,
        }
        rest[l4..].copy_from_slice(&t.payload);
        match t.path.transport {
            // Over IP a control message follows a zero session id.
            Transport::Ip => rest[..4].fill(0),
            Transport::Udp {
                local_port,
                peer_port,
            } => {
                rest[0..2].copy_from_slice(&local_port.to_be_bytes());
                rest[2..4].copy_from_slice(&peer_port.to_be_bytes());
                rest[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
                rest[6..8].fill(0);
                let ulen = payload as u16;
                let sum = match (t.path.local, t.path.peer) {
                    (IpAddr::V4(a), IpAddr::V4(z)) => ip4_pseudo_sum(a, z, proto, ulen),
                    (IpAddr::V6(a), IpAddr::V6(z)) => ip6_pseudo_sum(a, z, u32::from(ulen), proto),
                    _ => return false,
                };
                let c = sum.add_bytes(rest).checksum();
                let c = if c == 0 { 0xffff } else { c };
                rest[6..8].copy_from_slice(&c.to_be_bytes());
            }
        }
        b.sw_if_index = [0, !0];
        b.flags |= pwire_buffer::flags::LOCALLY_ORIGINATED;
        true
    });
}

/// `l2tp-control-process`: wakes the control task at the core's deadline.
struct Timer {
    ctl: Arc<Control>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("l2tp-control-process")
    }
}

impl Node for Timer {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let d = self.ctl.deadline.load(Relaxed);
        let now = self.ctl.now();
        if d <= now {
            if let Some(&t) = self.ctl.task.get() {
                self.ctl.vnet.signal_main_task(t);
            }
        }
        // Sleep until the deadline (at most a second: a deadline set meanwhile by a command
        // or a message is picked up by the task those signal anyway).
        let wait = if d == u64::MAX || d <= now {
            1.0
        } else {
            ((d - now) as f64 / 1e9).min(1.0)
        };
        cx.wake_at(cx.now() + wait.max(0.001));
    }
}

pub(crate) fn register(r: &mut Registry, ctl: &Arc<Control>) {
    let c = ctl.clone();
    let id = r.main_task(move |cx| c.run(cx));
    let _ = ctl.task.set(id);
    let c = ctl.clone();
    r.graph.node(NodeReg::new(
        "l2tp-control-process",
        NodeKind::Process,
        &[],
        &[],
        move |_b| Box::new(Timer { ctl: c.clone() }),
    ));
    // The circuit is up while its interface is admin up and has link: either changing may
    // change it.
    let c = ctl.clone();
    r.vnet.hooks.on_admin_change(Box::new(move |cx, sw, _| {
        c.circuit_changed(cx, sw);
    }));
    let c = ctl.clone();
    r.vnet.hooks.on_link_change(Box::new(move |cx, sw, _| {
        c.circuit_changed(cx, sw);
    }));
}

/// The dataplane's spelling of a control connection's transport.
fn dp_transport(t: Transport) -> crate::session::Transport {
    match t {
        Transport::Ip => crate::session::Transport::Ip,
        Transport::Udp {
            local_port,
            peer_port,
        } => crate::session::Transport::Udp {
            local_port,
            remote_port: peer_port,
        },
    }
}

/// Whether the attachment circuit of pseudowire interface `pw_sw` is up: the interface
/// cross-connected with it is admin up and has link. A pseudowire in a bridge domain (or not
/// yet attached) has no single circuit: up.
fn circuit_of(cx: &CliCtx, pw_sw: u32) -> bool {
    let vs = cx.vnet.state.get(&cx.ctl);
    match vs.get(pw_sw).map(|i| i.l2) {
        Some(L2Mode::Xconnect { peer, .. }) => {
            vs.get(peer).is_some_and(|i| i.admin_up && i.link_up)
        }
        _ => true,
    }
}

/// Sets the API the task installs sessions through (made after the nodes).
pub(crate) fn set_api(ctl: &Control, api: L2tp) {
    let _ = ctl.api.set(api);
}

/// The control plane's commands.
pub(crate) fn register_cli(r: &mut Registry, ctl: &Arc<Control>) {
    let c = ctl.clone();
    r.command(cmd(
        "set l2tpv3 control",
        "set l2tpv3 control [hostname <name>] [router-id <a.b.c.d>]",
        false,
        move |a, _cx| {
            let mut st = c.state();
            while !a.is_empty() {
                if a.keyword("hostname") {
                    st.cfg.host_name = a.word("hostname")?.to_string();
                } else if a.keyword("router-id") {
                    let w = a.word("router-id")?;
                    let ip: std::net::Ipv4Addr = w.parse().map_err(|_| {
                        CliError::msg(format!("router-id must be an IPv4 address: `{w}'"))
                    })?;
                    st.cfg.router_id = u32::from(ip);
                } else {
                    return Err(CliError::unknown_input(a.rest()));
                }
            }
            if st.core.is_some() {
                return Err(CliError::msg(
                    "set before the first control connection (the core is running)",
                ));
            }
            Ok(())
        },
    ));
    let c = ctl.clone();
    r.command(cmd(
        "test l2tpv3 control impair",
        "test l2tpv3 control impair [drop <pct>] [duplicate <pct>] [delay <pct>] [seed <n>]",
        false,
        move |a, _cx| {
            let mut st = c.state();
            let mut i = Impair {
                rng: 0x9e37_79b9_7f4a_7c15,
                ..Impair::default()
            };
            while !a.is_empty() {
                let w = a.word("impairment")?;
                let v: u64 = num(a, w)?;
                match w {
                    "drop" => i.drop = v.min(100) as u32,
                    "duplicate" => i.duplicate = v.min(100) as u32,
                    "delay" => i.delay = v.min(100) as u32,
                    "seed" => i.rng = v.max(1),
                    _ => return Err(CliError::msg(format!("unknown impairment `{w}'"))),
                }
            }
            if i.drop + i.duplicate + i.delay > 100 {
                return Err(CliError::msg(
                    "drop + duplicate + delay must be at most 100",
                ));
            }
            st.impair = i;
            Ok(())
        },
    ));
    let c = ctl.clone();
    r.command(cmd(
        "create l2tpv3 control-connection",
        "create l2tpv3 control-connection peer <ip>|accept-any our <ip> [encap ip|udp] [local-port <n>] [remote-port <n>] [secret <s>] [secret2 <s>] [digest md5|sha1] [authentication challenge] [hello <s>] [retries <n>] [retransmit <min-s> <max-s>] [receive-window <n>] [passive] [del]",
        false,
        move |a, cx| create_conn(a, cx, &c),
    ));
    let c = ctl.clone();
    r.command(cmd(
        "create l2tpv3 pseudowire",
        "create l2tpv3 pseudowire control-connection <id> vc-id <n> [pw-type ethernet|ethernet-vlan] [cookie-size 0|4|8] [l2-sublayer-present] [sequencing] [del]",
        false,
        move |a, cx| create_pw(a, cx, &c),
    ));
    let c = ctl.clone();
    r.command(cmd(
        "show l2tpv3 control-connection",
        "show l2tpv3 control-connection [verbose]",
        false,
        move |a, _cx| {
            let verbose = a.keyword("verbose");
            a.expect_end()?;
            let st = c.state();
            let mut out = String::new();
            match st.core.as_ref() {
                None => out.push_str("No l2tpv3 control connections\n"),
                Some(core) => {
                    for id in core.connections() {
                        if let Some(i) = core.connection(id) {
                            if verbose {
                                let _ = writeln!(out, "{i}");
                            } else {
                                let _ = writeln!(
                                    out,
                                    "[{}] {} -> {} {} state {} sessions {}{}",
                                    id.0,
                                    i.config.local,
                                    if i.config.accept_any {
                                        "any".to_string()
                                    } else {
                                        i.config.peer.to_string()
                                    },
                                    match i.config.transport {
                                        Transport::Ip => "ip",
                                        Transport::Udp { .. } => "udp",
                                    },
                                    i.state,
                                    i.sessions,
                                    match (i.config.accept_any, i.accepted_by) {
                                        (true, _) => " accept-any".to_string(),
                                        (false, Some(t)) => format!(" accepted by {}", t.0),
                                        (false, None) => String::new(),
                                    }
                                );
                            }
                        }
                    }
                }
            }
            a.output(&out);
            Ok(())
        },
    ));
    let c = ctl.clone();
    r.command(cmd(
        "show l2tpv3 pseudowire",
        "show l2tpv3 pseudowire",
        false,
        move |a, cx| {
            a.expect_end()?;
            let st = c.state();
            let mut out = String::new();
            if let Some(core) = st.core.as_ref() {
                for id in core.pseudowires() {
                    if let Some(i) = core.pseudowire(id) {
                        let name = st
                            .pws
                            .get(&id.0)
                            .map(|s| cx.vnet.if_name(&cx.ctl, s.sw))
                            .unwrap_or_default();
                        let _ = writeln!(out, "{name} {i}");
                    }
                }
            }
            if out.is_empty() {
                out.push_str("No l2tpv3 pseudowires\n");
            }
            a.output(&out);
            Ok(())
        },
    ));
    let c = ctl.clone();
    r.command(cmd(
        "clear l2tpv3 control-connection",
        "clear l2tpv3 control-connection <id>",
        false,
        move |a, cx| {
            let id = a.u32("id")?;
            a.expect_end()?;
            let now = c.now();
            {
                let mut st = c.state();
                let core = st
                    .core
                    .as_mut()
                    .ok_or_else(|| CliError::msg("no such control connection"))?;
                core.handle_command(now, Command::ClearConnection(ConnId(id)))
                    .map_err(|e| CliError::msg(e.to_string()))?;
            }
            c.run(cx);
            Ok(())
        },
    ));
}

fn ip_arg(a: &mut Args<'_>, which: &str) -> Result<IpAddr, CliError> {
    let w = a.word(which)?;
    w.parse()
        .map_err(|_| CliError::msg(format!("{which}: `{w}' is not an IPv6 or IPv4 address")))
}

fn num<T: std::str::FromStr>(a: &mut Args<'_>, which: &str) -> Result<T, CliError> {
    let w = a.word(which)?;
    w.parse()
        .map_err(|_| CliError::msg(format!("{which}: `{w}' is not a number")))
}

fn create_conn(a: &mut Args<'_>, cx: &mut CliCtx, c: &Control) -> Result<(), CliError> {
    let (mut peer, mut our) = (None, None);
    let (mut udp, mut lport, mut rport) = (false, 1701u16, 1701u16);
    let mut del = false;
    let mut cfg = ConnConfig::new(IpAddr::from([0u8; 4]), IpAddr::from([0u8; 4]));
    while !a.is_empty() {
        if a.keyword("peer") {
            peer = Some(ip_arg(a, "peer")?);
        } else if a.keyword("our") {
            our = Some(ip_arg(a, "our")?);
        } else if a.keyword("encap") {
            udp = match a.word("encap")? {
                "udp" => true,
                "ip" => false,
                w => return Err(CliError::msg(format!("encap must be ip or udp: `{w}'"))),
            };
        } else if a.keyword("local-port") {
            lport = num(a, "local-port")?;
        } else if a.keyword("remote-port") {
            rport = num(a, "remote-port")?;
        } else if a.keyword("secret") {
            // Key material: kept in the core only, never printed or logged.
            cfg.secret = Secret::new(a.word("secret")?.as_bytes());
            cfg.digest.get_or_insert(DigestAlg::Md5);
        } else if a.keyword("secret2") {
            // A second secret during a change of secret: both are accepted, and the digest
            // is sent with both (RFC 3931 §5.4.1).
            cfg.secret2 = Some(Secret::new(a.word("secret2")?.as_bytes()));
        } else if a.keyword("digest") {
            cfg.digest = Some(match a.word("digest")? {
                "md5" => DigestAlg::Md5,
                "sha1" => DigestAlg::Sha1,
                w => return Err(CliError::msg(format!("digest must be md5 or sha1: `{w}'"))),
            });
        } else if a.keyword("authentication") {
            match a.word("authentication")? {
                "challenge" => cfg.challenge = true,
                w => {
                    return Err(CliError::msg(format!(
                        "authentication must be challenge: `{w}'"
                    )))
                }
            }
        } else if a.keyword("hello") {
            cfg.hello_interval = num::<u64>(a, "hello")? * SEC;
        } else if a.keyword("retries") {
            cfg.retries = num(a, "retries")?;
        } else if a.keyword("retransmit") {
            cfg.retransmit_min = num::<u64>(a, "retransmit")? * SEC;
            cfg.retransmit_max = num::<u64>(a, "retransmit")? * SEC;
        } else if a.keyword("receive-window") {
            cfg.receive_window = num(a, "receive-window")?;
        } else if a.keyword("passive") {
            cfg.passive = true;
        } else if a.keyword("accept-any") {
            cfg.accept_any = true;
        } else if a.keyword("del") {
            del = true;
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let our = our.ok_or_else(|| CliError::msg("our address not specified"))?;
    // An accept-any connection answers any peer that authenticates: no peer address.
    let peer = match (cfg.accept_any, peer) {
        (true, Some(p)) => {
            return Err(CliError::msg(format!(
                "accept-any takes no peer address: `{p}'"
            )))
        }
        (true, None) if our.is_ipv4() => IpAddr::from([0u8; 4]),
        (true, None) => IpAddr::from([0u16; 8]),
        (false, p) => p.ok_or_else(|| CliError::msg("peer address not specified"))?,
    };
    if peer.is_ipv4() != our.is_ipv4() {
        return Err(CliError::msg(format!(
            "peer {peer} and our {our} must be of one family"
        )));
    }
    if lport == 0 || rport == 0 {
        return Err(CliError::msg("UDP ports must be 1..65535"));
    }
    cfg.local = our;
    cfg.peer = peer;
    cfg.transport = if udp {
        Transport::Udp {
            local_port: lport,
            peer_port: rport,
        }
    } else {
        Transport::Ip
    };
    let now = c.now();
    let v4 = our.is_ipv4();
    let api = c.api.get().cloned();
    let (made, transport, removed) = {
        let mut st = c.state();
        let st = &mut *st;
        if st.core.is_none() {
            if del {
                return Err(CliError::msg("no such control connection"));
            }
            st.core = Some(Core::with_os_random(st.cfg.clone()));
        }
        let core = st.core.as_mut().expect("made above");
        if del {
            let udp = matches!(cfg.transport, Transport::Udp { .. });
            let (id, transport) = core
                .connections()
                .into_iter()
                .filter_map(|id| core.connection(id))
                .find(|i| {
                    i.config.local == our
                        && i.config.peer == peer
                        && i.config.accept_any == cfg.accept_any
                        && matches!(i.config.transport, Transport::Udp { .. }) == udp
                        && i.accepted_by.is_none()
                })
                .map(|i| (i.id, i.config.transport))
                .ok_or_else(|| CliError::msg("no such control connection"))?;
            // Its pseudowires go with it: their interfaces too.
            let pws = core.pseudowires_of(id);
            let made = core
                .handle_command(now, Command::DeleteConnection(id))
                .map_err(|e| CliError::msg(e.to_string()))?;
            let removed: Vec<PwSlot> = pws.iter().filter_map(|p| st.remove_slot(p.0)).collect();
            (made, transport, removed)
        } else {
            let transport = cfg.transport;
            let made = core
                .handle_command(now, Command::CreateConnection(cfg))
                .map_err(|e| CliError::msg(e.to_string()))?;
            (made, transport, Vec::new())
        }
    };
    if let Some(api) = api {
        for slot in removed {
            let _ = api.delete(&mut cx.ctl, slot.idx);
        }
        if del {
            api.release_transport(&mut cx.ctl, v4, dp_transport(transport));
        } else {
            api.claim_transport(&mut cx.ctl, v4, dp_transport(transport));
        }
    }
    if let Created::Conn(id) = made {
        a.output(&format!("control-connection {}", id.0));
    }
    c.run(cx);
    Ok(())
}

fn create_pw(a: &mut Args<'_>, cx: &mut CliCtx, c: &Control) -> Result<(), CliError> {
    let (mut conn, mut vc) = (None, None);
    let mut pw_type = PwType::Ethernet;
    let (mut cookie_size, mut sublayer, mut sequencing, mut del) = (8u8, false, false, false);
    while !a.is_empty() {
        if a.keyword("control-connection") {
            conn = Some(num::<u32>(a, "control-connection")?);
        } else if a.keyword("vc-id") {
            vc = Some(num::<u32>(a, "vc-id")?);
        } else if a.keyword("pw-type") {
            pw_type = match a.word("pw-type")? {
                "ethernet" => PwType::Ethernet,
                "ethernet-vlan" => PwType::EthernetVlan,
                w => {
                    return Err(CliError::msg(format!(
                        "pw-type must be ethernet or ethernet-vlan: `{w}'"
                    )))
                }
            };
        } else if a.keyword("cookie-size") {
            cookie_size = match a.word("cookie-size")? {
                "0" => 0,
                "4" => 4,
                "8" => 8,
                w => {
                    return Err(CliError::msg(format!(
                        "cookie-size must be 0, 4 or 8: `{w}'"
                    )))
                }
            };
        } else if a.keyword("l2-sublayer-present") {
            sublayer = true;
        } else if a.keyword("sequencing") {
            sequencing = true;
        } else if a.keyword("del") {
            del = true;
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let conn = ConnId(conn.ok_or_else(|| CliError::msg("control-connection not specified"))?);
    let vc_id = vc.ok_or_else(|| CliError::msg("vc-id not specified"))?;
    let api = c
        .api
        .get()
        .ok_or_else(|| CliError::msg("l2tp not ready"))?
        .clone();
    let now = c.now();
    let mut st = c.state();
    let core = st
        .core
        .as_mut()
        .ok_or_else(|| CliError::msg("no such control connection"))?;
    let info = core
        .connection(conn)
        .ok_or_else(|| CliError::msg("no such control connection"))?;
    if del {
        let id = core
            .pseudowire_by_vc(conn, vc_id)
            .ok_or_else(|| CliError::msg("no such pseudowire"))?;
        core.handle_command(now, Command::DeletePseudowire(id))
            .map_err(|e| CliError::msg(e.to_string()))?;
        if let Some(slot) = st.remove_slot(id.0) {
            drop(st);
            api.delete(&mut cx.ctl, slot.idx)
                .map_err(|e| CliError::msg(e.to_string()))?;
        } else {
            drop(st);
        }
        c.run(cx);
        return Ok(());
    }
    let transport = dp_transport(info.config.transport);
    let made = api
        .create_inactive(&mut cx.ctl, info.config.local, info.config.peer, transport)
        .map_err(|e| CliError::msg(e.to_string()))?;
    let r = core.handle_command(
        now,
        Command::CreatePseudowire(PwConfig {
            conn,
            vc_id,
            pw_type,
            cookie_size,
            l2_sublayer: sublayer,
            sequencing,
        }),
    );
    let id = match r {
        Ok(Created::Pw(id)) => id,
        Ok(_) => return Err(CliError::msg("pseudowire not made")),
        Err(e) => {
            drop(st);
            let _ = api.delete(&mut cx.ctl, made.index);
            return Err(CliError::msg(e.to_string()));
        }
    };
    st.add_slot(
        id.0,
        PwSlot {
            idx: made.index,
            sw: made.sw_if_index,
            up: false,
            peer_active: true,
            circuit_up: true,
        },
    );
    drop(st);
    a.output(&made.name);
    c.run(cx);
    Ok(())
}
