//! A deterministic network of cores (node `i` has address `addr(i)`; two by default): a
//! simulated clock, a link that can lose, duplicate, delay and reorder messages from a seeded
//! generator, a drop filter for scripted losses, nodes that can be switched off, and a trace
//! of everything sent.
#![allow(dead_code)]

use pwire_l2tp_control::msg::Message;
use pwire_l2tp_control::wire::mt;
use pwire_l2tp_control::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;

/// A node's letter in traces and host names.
pub fn letter(i: usize) -> char {
    (b'A' + i as u8) as char
}

pub fn addr(i: usize) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1))
}

/// One message as it left a node.
#[derive(Debug, Clone)]
pub struct Sent {
    pub t: Nanos,
    pub from: usize,
    /// Message type; `mt::ZLB` (0) for a ZLB.
    pub mtype: u16,
    pub ns: u16,
    pub nr: u16,
    pub bytes: Vec<u8>,
    pub delivered: bool,
}

impl Sent {
    pub fn name(&self) -> &'static str {
        mt::name(self.mtype)
    }
}

pub struct Node {
    pub core: Core<SeededRandom>,
    pub events: Vec<(Nanos, Event)>,
    /// Installed sessions by pseudowire.
    pub installed: HashMap<PwId, SessionParams>,
    pub link: HashMap<PwId, bool>,
    pub peer_active: HashMap<PwId, bool>,
    pub ups: u32,
    pub downs: u32,
    /// Switched off: receives nothing, runs no timers.
    pub off: bool,
}

impl Node {
    pub fn logs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Log(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LinkModel {
    /// Per-mille chances.
    pub loss: u64,
    pub dup: u64,
    pub latency: Nanos,
    /// Extra random delay up to this (reorders).
    pub jitter: Nanos,
}

struct InFlight {
    at: Nanos,
    seq: u64,
    to: usize,
    path: Path,
    bytes: Vec<u8>,
}

pub type Filter = Box<dyn FnMut(&Sent) -> bool>;

pub struct Sim {
    pub now: Nanos,
    pub nodes: Vec<Node>,
    pub link: LinkModel,
    pub trace: Vec<Sent>,
    /// Returns true to drop a message (scripted loss), on top of the link model.
    pub drop: Option<Filter>,
    flight: Vec<InFlight>,
    rng: SeededRandom,
    seq: u64,
    pub steps: u64,
}

pub fn core_config(i: usize) -> CoreConfig {
    CoreConfig {
        host_name: format!("lcce-{}", letter(i).to_ascii_lowercase()),
        router_id: 0xc0000201 + i as u32,
        ..CoreConfig::default()
    }
}

pub fn conn_config(i: usize) -> ConnConfig {
    ConnConfig::new(addr(i), addr(1 - i))
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim::with_configs(seed, core_config(0), core_config(1))
    }

    pub fn with_configs(seed: u64, a: CoreConfig, b: CoreConfig) -> Sim {
        Sim::with_cores(seed, vec![a, b])
    }

    /// One node per configuration, node `i` at `addr(i)`.
    pub fn with_cores(seed: u64, cores: Vec<CoreConfig>) -> Sim {
        Sim {
            now: 0,
            nodes: cores
                .into_iter()
                .enumerate()
                .map(|(i, c)| node(c, seed * 2 + 1 + i as u64))
                .collect(),
            link: LinkModel {
                latency: 10 * MS,
                ..LinkModel::default()
            },
            trace: vec![],
            drop: None,
            flight: vec![],
            rng: SeededRandom::new(seed ^ 0x5eed),
            seq: 0,
            steps: 0,
        }
    }

    /// Node `i` restarts: a fresh core with its default configuration and nothing installed.
    pub fn restart(&mut self, i: usize, seed: u64) {
        self.nodes[i] = node(core_config(i), seed);
    }

    pub fn cmd(&mut self, i: usize, c: Command) -> Created {
        let r = self.nodes[i]
            .core
            .handle_command(self.now, c)
            .expect("command");
        self.drain(i);
        r
    }

    pub fn conn(&mut self, i: usize, cfg: ConnConfig) -> ConnId {
        match self.cmd(i, Command::CreateConnection(cfg)) {
            Created::Conn(c) => c,
            r => panic!("{r:?}"),
        }
    }

    pub fn pw(&mut self, i: usize, conn: ConnId, vc_id: u32) -> PwId {
        self.pw_with(i, pw_config(conn, vc_id))
    }

    pub fn pw_with(&mut self, i: usize, cfg: PwConfig) -> PwId {
        match self.cmd(i, Command::CreatePseudowire(cfg)) {
            Created::Pw(p) => p,
            r => panic!("{r:?}"),
        }
    }

    /// Collects what node `i` wants to send and tell.
    pub fn drain(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].core.poll_transmit() {
            let h =
                pwire_l2tp_control::wire::Header::parse(&t.payload).expect("we send valid headers");
            let m = Message::parse(&t.payload, None).expect("we send valid messages");
            let mut s = Sent {
                t: self.now,
                from: i,
                mtype: m.mtype.unwrap_or(mt::ZLB),
                ns: h.ns,
                nr: h.nr,
                bytes: t.payload.clone(),
                delivered: false,
            };
            let scripted = self.drop.as_mut().is_some_and(|f| f(&s));
            let to = (0..self.nodes.len()).find(|&j| addr(j) == t.path.peer);
            let lost = scripted || self.rng.below(1000) < self.link.loss;
            if let (false, Some(to)) = (lost, to) {
                s.delivered = true;
                let copies = if self.rng.below(1000) < self.link.dup {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let at = self.now + self.link.latency + self.rng.below(self.link.jitter + 1);
                    let transport = match t.path.transport {
                        Transport::Ip => Transport::Ip,
                        Transport::Udp {
                            local_port,
                            peer_port,
                        } => Transport::Udp {
                            local_port: peer_port,
                            peer_port: local_port,
                        },
                    };
                    self.seq += 1;
                    self.flight.push(InFlight {
                        at,
                        seq: self.seq,
                        to,
                        path: Path {
                            local: t.path.peer,
                            peer: t.path.local,
                            transport,
                        },
                        bytes: t.payload.clone(),
                    });
                }
            }
            self.trace.push(s);
        }
        let now = self.now;
        let n = &mut self.nodes[i];
        while let Some(e) = n.core.poll_event() {
            match &e {
                Event::InstallSession(p) => {
                    assert!(
                        n.installed.insert(p.pw, p.clone()).is_none(),
                        "installed twice: {p:?}"
                    );
                    n.peer_active.insert(p.pw, p.peer_active);
                }
                Event::RemoveSession {
                    pw,
                    local_session_id,
                } => {
                    let p = n
                        .installed
                        .remove(pw)
                        .expect("removing a session never installed");
                    assert_eq!(p.local_session_id, *local_session_id);
                }
                Event::PwLink { pw, up } => {
                    n.link.insert(*pw, *up);
                }
                Event::PeerCircuit { pw, active } => {
                    n.peer_active.insert(*pw, *active);
                }
                Event::ConnectionUp { .. } => n.ups += 1,
                Event::ConnectionDown { .. } => n.downs += 1,
                Event::Log(_) => {}
            }
            n.events.push((now, e));
        }
    }

    /// Advances to the next thing that happens; false when nothing is left to happen before
    /// `until`.
    pub fn step(&mut self, until: Nanos) -> bool {
        self.steps += 1;
        let mut next = self.flight.iter().map(|f| f.at).min();
        for n in self.nodes.iter().filter(|n| !n.off) {
            if let Some(t) = n.core.poll_timeout() {
                next = Some(next.map_or(t, |x: Nanos| x.min(t)));
            }
        }
        let Some(next) = next.filter(|&t| t <= until) else {
            self.now = self.now.max(until);
            return false;
        };
        self.now = self.now.max(next);
        self.flight.sort_by_key(|f| (f.at, f.seq));
        while self.flight.first().is_some_and(|f| f.at <= self.now) {
            let f = self.flight.remove(0);
            if self.nodes[f.to].off {
                continue;
            }
            self.nodes[f.to]
                .core
                .handle_message(self.now, f.path, &f.bytes);
            self.drain(f.to);
        }
        for i in 0..self.nodes.len() {
            if !self.nodes[i].off
                && self.nodes[i]
                    .core
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
            {
                self.nodes[i].core.handle_timeout(self.now);
                self.drain(i);
            }
        }
        true
    }

    /// Runs for `d` of simulated time (bounded number of steps).
    pub fn run_for(&mut self, d: Nanos) {
        let until = self.now + d;
        let mut n = 0;
        while self.step(until) {
            n += 1;
            assert!(n < 200_000, "simulation does not settle");
        }
    }

    /// Runs until `f` holds (checked after every step) or `d` passes; whether it held.
    pub fn run_until(&mut self, d: Nanos, mut f: impl FnMut(&Sim) -> bool) -> bool {
        let until = self.now + d;
        let mut n = 0;
        loop {
            if f(self) {
                return true;
            }
            if !self.step(until) {
                return f(self);
            }
            n += 1;
            assert!(n < 200_000, "simulation does not settle");
        }
    }

    pub fn info(&self, i: usize, c: ConnId) -> ConnInfo {
        self.nodes[i].core.connection(c).expect("connection")
    }

    /// The trace as `from:TYPE(ns,nr)` strings, skipping what `skip` says.
    pub fn flow(&self) -> Vec<String> {
        self.trace
            .iter()
            .map(|s| {
                format!(
                    "{}:{}({},{}){}",
                    letter(s.from),
                    s.name(),
                    s.ns,
                    s.nr,
                    if s.delivered { "" } else { " lost" }
                )
            })
            .collect()
    }

    pub fn sent(&self, from: usize, mtype: u16) -> Vec<&Sent> {
        self.trace
            .iter()
            .filter(|s| s.from == from && s.mtype == mtype)
            .collect()
    }
}

fn node(c: CoreConfig, seed: u64) -> Node {
    Node {
        core: Core::new(c, SeededRandom::new(seed)),
        events: vec![],
        installed: HashMap::new(),
        link: HashMap::new(),
        peer_active: HashMap::new(),
        ups: 0,
        downs: 0,
        off: false,
    }
}

pub fn pw_config(conn: ConnId, vc_id: u32) -> PwConfig {
    PwConfig {
        conn,
        vc_id,
        pw_type: PwType::Ethernet,
        cookie_size: 8,
        l2_sublayer: false,
        sequencing: false,
    }
}

/// Both nodes have matching established sessions for the pseudowires given (A's, B's).
pub fn pws_consistent(s: &Sim, pairs: &[(PwId, PwId)]) -> bool {
    pairs.iter().all(|(pa, pb)| {
        let (Some(a), Some(b)) = (s.nodes[A].installed.get(pa), s.nodes[B].installed.get(pb))
        else {
            return false;
        };
        a.local_session_id == b.remote_session_id
            && a.remote_session_id == b.local_session_id
            && a.local_cookie == b.remote_cookie
            && a.remote_cookie == b.local_cookie
            && s.nodes[A].link.get(pa) == Some(&true)
            && s.nodes[B].link.get(pb) == Some(&true)
    })
}

/// Both ends have one established connection, each the other's peer.
pub fn conns_consistent(s: &Sim, ca: ConnId, cb: ConnId) -> bool {
    let (a, b) = (s.info(A, ca), s.info(B, cb));
    a.state == "established"
        && b.state == "established"
        && a.local_ccid == b.peer_ccid
        && b.local_ccid == a.peer_ccid
}
