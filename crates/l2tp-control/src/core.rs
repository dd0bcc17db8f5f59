//! The protocol core: control connections (RFC 3931 §7.2, initiator and responder, ties,
//! Hello, StopCCN) and their pseudowire sessions (§7.3, RFC 4719), driven by received
//! messages, commands and the clock, and answering with messages to send, one timer deadline
//! and dataplane events. Sans-IO: no socket, thread or clock inside.

use crate::api::*;
use crate::auth::{self, DigestAlg, Secret};
use crate::msg::{cdn, err, stop, Message};
use crate::reliable::{Expiry, NrCheck, Reliable, RxClass};
use crate::rng::{OsRandom, Random};
use crate::timer::{TimerKey, Timers};
use crate::wire::{at, mt, set_nr, zlb, Header, MsgBuilder};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Circuit Status bits (§5.4.5).
const CS_ACTIVE: u16 = 1;
const CS_NEW: u16 = 2;
/// Nonce length we send (≥ 16 recommended).
const NONCE_LEN: usize = 16;
/// Connections an `accept_any` template may have accepted that never got established: the
/// bound on what unauthenticated SCCRQs can make the core hold.
pub const ACCEPT_ANY_PENDING_MAX: usize = 256;
/// Instances one accepted connection may have at once (the active one, refusals and
/// StopCCNs being acknowledged): SCCRQs from one address with ever new Assigned CCIDs cannot
/// pile up instances where only a challenge authenticates the peer.
const ACCEPTED_INSTANCES_MAX: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Initiator,
    Responder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TState {
    /// A responder instance before its SCCRQ is processed.
    Idle,
    WaitCtlReply,
    WaitCtlConn,
    Established,
    /// We sent a StopCCN and wait for its acknowledgement.
    Closing,
    /// We received a StopCCN; kept to acknowledge its retransmissions.
    Held,
    /// Our SCCRQ lost a tie; kept to acknowledge the winner's StopCCN.
    LostTie,
}

impl TState {
    fn name(self) -> &'static str {
        match self {
            TState::Idle => "idle",
            TState::WaitCtlReply => "wait-ctl-reply",
            TState::WaitCtlConn => "wait-ctl-conn",
            TState::Established => "established",
            TState::Closing => "closing",
            TState::Held => "stopped",
            TState::LostTie => "lost-tie",
        }
    }
}

/// Per-connection authentication state. Holds derived keys: never printed.
struct Auth {
    /// The digest we put in every message we send.
    digest: Option<DigestAlg>,
    /// Keys to sign with (slot order) and to verify with.
    keys: Vec<[u8; 16]>,
    /// Received messages must carry a valid digest.
    required: bool,
    our_nonce: Vec<u8>,
    peer_nonce: Vec<u8>,
    /// The RFC 2661 challenge we sent, if any.
    our_challenge: Option<Vec<u8>>,
    secret: Secret,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("digest", &self.digest)
            .field("required", &self.required)
            .field("challenge", &self.our_challenge.is_some())
            .finish_non_exhaustive()
    }
}

impl Auth {
    fn none() -> Auth {
        Auth {
            digest: None,
            keys: vec![],
            required: false,
            our_nonce: vec![],
            peer_nonce: vec![],
            our_challenge: None,
            secret: Secret::default(),
        }
    }

    /// The authentication a connection's configuration asks for. `nonce` is whether we send a
    /// nonce (not in refusals, which never sent an SCCRQ/SCCRP).
    fn for_config(cfg: &ConnConfig, rng: &mut impl Random, nonce: bool) -> Auth {
        let mut a = Auth::none();
        a.secret = cfg.secret.clone();
        if let Some(alg) = cfg.digest {
            let full = !cfg.secret.is_empty();
            a.digest = Some(alg);
            a.required = true;
            a.keys.push(cfg.secret.digest_key());
            if full {
                if let Some(s2) = cfg.secret2.as_ref().filter(|s| !s.is_empty()) {
                    a.keys.push(s2.digest_key());
                }
                if nonce {
                    a.our_nonce = vec![0; NONCE_LEN];
                    rng.fill(&mut a.our_nonce);
                }
            }
        }
        if cfg.challenge && nonce {
            let mut c = vec![0; 16];
            rng.fill(&mut c);
            a.our_challenge = Some(c);
        }
        a
    }

    fn full(&self) -> bool {
        self.digest.is_some() && !self.secret.is_empty()
    }

    fn builder(&self, t: u16) -> MsgBuilder {
        let mut b = MsgBuilder::new(t);
        if let Some(alg) = self.digest {
            for _ in 0..self.keys.len().clamp(1, 2) {
                b.digest_placeholder(alg);
            }
        }
        b
    }

    fn sign(&self, b: &mut [u8], mtype: u16) {
        if self.digest.is_none() {
            return;
        }
        if mtype == mt::SCCRQ {
            auth::sign(b, &self.keys, &[], &[]);
        } else {
            auth::sign(b, &self.keys, &self.our_nonce, &self.peer_nonce);
        }
    }

    /// Checks a received message. `peer_nonce` is the sender's nonce to use.
    fn verify(&self, bytes: &[u8], m: &Message, peer_nonce: &[u8]) -> bool {
        let (first, second) = if m.mtype == Some(mt::SCCRQ) {
            (&[][..], &[][..])
        } else {
            (peer_nonce, &self.our_nonce[..])
        };
        if self.required {
            auth::verify(bytes, &self.keys, first, second)
        } else if m.has_digest {
            // Integrity-only digests from a peer we do not authenticate: still checked.
            auth::verify(bytes, &[Secret::default().digest_key()], &[], &[])
        } else {
            true
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SState {
    WaitReply,
    WaitConnect,
    Established,
}

#[derive(Debug)]
struct Session {
    local_sid: u32,
    remote_sid: u32,
    pw: PwId,
    role: Role,
    state: SState,
    local_cookie: Cookie,
    remote_cookie: Cookie,
    peer_l2ss: bool,
    peer_seq: bool,
    peer_active: bool,
    tie: [u8; 8],
    installed: bool,
    /// The A bit we last sent (an SLI follows at establishment if the circuit changed since).
    advertised: bool,
}

/// One control connection instance (there can be a few per configured connection while a tie
/// or a StopCCN is being sorted out).
#[derive(Debug)]
struct Tunnel {
    ccid: u32,
    conn: ConnId,
    path: Path,
    peer_ccid: u32,
    role: Role,
    state: TState,
    rel: Reliable<Message>,
    auth: Auth,
    tie_breaker: [u8; 8],
    peer_host: Option<Vec<u8>>,
    peer_router_id: Option<u32>,
    peer_caps: Vec<u16>,
    sessions: HashMap<u32, Session>,
    last_rx: Nanos,
    last_hello: Nanos,
    hello_interval: Nanos,
    hello_jitter: Nanos,
    hold_until: Option<Nanos>,
    max_retries: u32,
    sccrq_retries: u32,
    counters: Counters,
    queued: Option<Nanos>,
    was_up: bool,
}

impl Tunnel {
    fn new(
        ccid: u32,
        conn: ConnId,
        cfg: &ConnConfig,
        path: Path,
        role: Role,
        auth: Auth,
        now: Nanos,
    ) -> Tunnel {
        Tunnel {
            ccid,
            conn,
            path,
            peer_ccid: 0,
            role,
            state: TState::Idle,
            rel: Reliable::new(
                cfg.retransmit_min.max(1),
                cfg.retransmit_max,
                cfg.receive_window,
            ),
            auth,
            tie_breaker: [0; 8],
            peer_host: None,
            peer_router_id: None,
            peer_caps: vec![],
            sessions: HashMap::new(),
            last_rx: now,
            last_hello: now,
            hello_interval: cfg.hello_interval,
            hello_jitter: 0,
            hold_until: None,
            max_retries: cfg.retries,
            sccrq_retries: cfg.sccrq_retries.unwrap_or(cfg.retries),
            counters: Counters::default(),
            queued: None,
            was_up: false,
        }
    }

    fn hello_at(&self) -> Option<Nanos> {
        (self.state == TState::Established && self.hello_interval > 0)
            .then(|| self.last_rx.max(self.last_hello) + self.hello_interval + self.hello_jitter)
    }

    fn next_deadline(&self) -> Option<Nanos> {
        match self.state {
            TState::Held | TState::LostTie => self.hold_until,
            TState::Idle => None,
            _ => match (
                self.rel.retransmit_at.filter(|_| self.rel.in_flight() > 0),
                self.hello_at(),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    fn push(&mut self, mtype: u16, b: MsgBuilder) {
        let bytes = b.finish(self.peer_ccid, 0, 0);
        self.rel.push(mtype, bytes);
    }

    /// The session a session message is about: by Remote Session ID (ours), or by the
    /// sender's Local Session ID when the Remote one is 0 (§5.4.4 reverse lookup).
    fn find_session(&self, m: &Message) -> Option<u32> {
        match m.remote_sid {
            Some(r) if r != 0 => self.sessions.contains_key(&r).then_some(r),
            _ => {
                let l = m.local_sid.filter(|&l| l != 0)?;
                self.sessions
                    .values()
                    .find(|s| s.remote_sid == l)
                    .map(|s| s.local_sid)
            }
        }
    }
}

struct ConnState {
    cfg: ConnConfig,
    active: Option<u32>,
    /// Configured pseudowires by VC ID (ordered, so bring-up order is deterministic).
    pws: BTreeMap<u32, PwId>,
    reconnect_at: Option<Nanos>,
    queued: Option<Nanos>,
    past: Counters,
    /// Instances (tunnels) whose `conn` is this one: an accepted connection goes when the
    /// last of them does.
    instances: usize,
    /// Accepted connection: the template that made it.
    accepted_by: Option<ConnId>,
    /// Accepted connection: it has been established once (authenticated), so it no longer
    /// counts against the template's limit.
    proven: bool,
    /// Template: the connections it accepted, and how many of them were never established.
    accepted: BTreeSet<ConnId>,
    unproven: usize,
    /// Template: the limit was hit and logged (once until a slot frees).
    limit_hit: bool,
}

impl ConnState {
    fn new(cfg: ConnConfig, accepted_by: Option<ConnId>) -> ConnState {
        ConnState {
            cfg,
            active: None,
            pws: BTreeMap::new(),
            reconnect_at: None,
            queued: None,
            past: Counters::default(),
            instances: 0,
            accepted_by,
            proven: false,
            accepted: BTreeSet::new(),
            unproven: 0,
            limit_hit: false,
        }
    }
}

struct PwState {
    cfg: PwConfig,
    ac_up: bool,
    session: Option<u32>,
    /// A template's pseudowire: the accepted connection its session is with.
    bound: Option<ConnId>,
    retry_at: Option<Nanos>,
    queued: Option<Nanos>,
}

impl PwState {
    /// The connection whose active instance holds this pseudowire's session.
    fn holder(&self) -> ConnId {
        self.bound.unwrap_or(self.cfg.conn)
    }
}

/// Counters of the core as a whole (messages that belong to no connection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Control headers that could not be read.
    pub malformed: u64,
    /// Messages for a CCID we do not have (or from the wrong address).
    pub unknown_ccid: u64,
    /// SCCRQs from peers without a configured connection.
    pub unknown_peer: u64,
    /// Messages with CCID 0 that are neither SCCRQ nor an addressable StopCCN.
    pub unexpected: u64,
    /// SCCRQs dropped because an `accept_any` template already had
    /// [`ACCEPT_ANY_PENDING_MAX`] accepted connections that were not established (or the
    /// accepted connection for that address had 8 instances: active, refusals, StopCCNs).
    pub accept_any_limit: u64,
}

/// The L2TPv3 control plane. See the crate documentation for how it is driven.
pub struct Core<R: Random = OsRandom> {
    cfg: CoreConfig,
    rng: R,
    conns: HashMap<ConnId, ConnState>,
    conn_by_addr: HashMap<(IpAddr, IpAddr, bool), ConnId>,
    tunnels: HashMap<u32, Tunnel>,
    by_peer: HashMap<(IpAddr, u32), u32>,
    pws: HashMap<PwId, PwState>,
    sids: HashSet<u32>,
    timers: Timers,
    tx: VecDeque<Transmit>,
    events: VecDeque<Event>,
    next_conn: u32,
    next_pw: u32,
    serial: u32,
    stats: CoreStats,
}

impl<R: Random> fmt::Debug for Core<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("host_name", &self.cfg.host_name)
            .field("connections", &self.conns.len())
            .field("instances", &self.tunnels.len())
            .field("pseudowires", &self.pws.len())
            .field("timers", &self.timers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Core<OsRandom> {
    /// A core drawing randomness from the operating system.
    pub fn with_os_random(cfg: CoreConfig) -> Self {
        Core::new(cfg, OsRandom)
    }
}

fn is_udp(t: &Transport) -> bool {
    matches!(t, Transport::Udp { .. })
}

/// The unspecified address of `a`'s family: an `accept_any` template's peer.
fn unspecified(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// A Remote End ID as a VC ID: a 4-byte integer, or a decimal string (an all-digit value is
/// read as a string, so 4 ASCII digits mean the number they spell).
fn vc_of(v: &[u8]) -> Option<u32> {
    let s = v.strip_suffix(&[0]).unwrap_or(v);
    if !s.is_empty() && s.len() <= 10 && s.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(s).ok()?.parse().ok();
    }
    (v.len() == 4).then(|| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
}

impl<R: Random> Core<R> {
    pub fn new(cfg: CoreConfig, rng: R) -> Self {
        Core {
            cfg,
            rng,
            conns: HashMap::new(),
            conn_by_addr: HashMap::new(),
            tunnels: HashMap::new(),
            by_peer: HashMap::new(),
            pws: HashMap::new(),
            sids: HashSet::new(),
            timers: Timers::default(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            next_conn: 1,
            next_pw: 1,
            serial: 1,
            stats: CoreStats::default(),
        }
    }

    // ---------------------------------------------------------------- outputs

    /// The next control message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.pop_front()
    }

    /// The earliest time [`Core::handle_timeout`] must be called (it may be early; calling it
    /// then is harmless).
    pub fn poll_timeout(&self) -> Option<Nanos> {
        self.timers.next()
    }

    /// The next dataplane action or log line.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// Configured connections, by id.
    pub fn connections(&self) -> Vec<ConnId> {
        let mut v: Vec<_> = self.conns.keys().copied().collect();
        v.sort();
        v
    }

    /// Configured pseudowires, by id.
    pub fn pseudowires(&self) -> Vec<PwId> {
        let mut v: Vec<_> = self.pws.keys().copied().collect();
        v.sort();
        v
    }

    /// A connection's state for `show`.
    pub fn connection(&self, id: ConnId) -> Option<ConnInfo> {
        let c = self.conns.get(&id)?;
        let t = c.active.and_then(|a| self.tunnels.get(&a));
        let mut counters = c.past.clone();
        for t in self.tunnels.values().filter(|t| t.conn == id) {
            counters.add(&t.counters);
        }
        Some(ConnInfo {
            id,
            config: c.cfg.clone(),
            accepted_by: c.accepted_by,
            state: t.map_or("idle", |t| t.state.name()),
            local_ccid: t.map(|t| t.ccid),
            peer_ccid: t.map(|t| t.peer_ccid),
            ns: t.map_or(0, |t| t.rel.ns_next),
            nr: t.map_or(0, |t| t.rel.nr),
            peer_window: t.map_or(0, |t| t.rel.peer_window),
            cwnd: t.map_or(0, |t| t.rel.cwnd),
            unacked: t.map_or(0, |t| t.rel.in_flight()),
            queued: t.map_or(0, |t| t.rel.queue.len() - t.rel.in_flight()),
            rto: t.map_or(0, |t| t.rel.rto),
            peer_host_name: t
                .and_then(|t| t.peer_host.as_ref())
                .map(|h| String::from_utf8_lossy(h).into()),
            peer_router_id: t.and_then(|t| t.peer_router_id),
            sessions: t.map_or(0, |t| t.sessions.len()),
            next_timer: t.and_then(|t| t.next_deadline()).or(c.reconnect_at),
            counters,
        })
    }

    /// The pseudowires configured on connection `conn` (what deleting it deletes).
    pub fn pseudowires_of(&self, conn: ConnId) -> Vec<PwId> {
        self.conns
            .get(&conn)
            .map(|c| c.pws.values().copied().collect())
            .unwrap_or_default()
    }

    /// The pseudowire configured on connection `conn` with `vc_id` (O(log n): a CLI deleting
    /// thousands of pseudowires one by one must not scan them all each time).
    pub fn pseudowire_by_vc(&self, conn: ConnId, vc_id: u32) -> Option<PwId> {
        self.conns.get(&conn)?.pws.get(&vc_id).copied()
    }

    /// A pseudowire's state for `show`.
    pub fn pseudowire(&self, id: PwId) -> Option<PwInfo> {
        let p = self.pws.get(&id)?;
        let s = p.session.and_then(|sid| {
            let c = self.conns.get(&p.holder())?;
            let t = self.tunnels.get(&c.active?)?;
            Some((t, t.sessions.get(&sid)?))
        });
        Some(PwInfo {
            id,
            config: p.cfg.clone(),
            state: match s.map(|(_, s)| s.state) {
                None => "down",
                Some(SState::WaitReply) => "wait-reply",
                Some(SState::WaitConnect) => "wait-connect",
                Some(SState::Established) => "established",
            },
            circuit_up: p.ac_up,
            session: s
                .filter(|(_, s)| s.state == SState::Established)
                .map(|(t, s)| self.params(t, s)),
            bound_to: p.bound,
        })
    }

    fn log(&mut self, s: String) {
        self.events.push_back(Event::Log(s));
    }

    // ---------------------------------------------------------------- commands

    /// Applies a configuration command.
    pub fn handle_command(&mut self, now: Nanos, cmd: Command) -> Result<Created, CommandError> {
        match cmd {
            Command::CreateConnection(mut cfg) => {
                if cfg.accept_any {
                    // Anyone may send an SCCRQ: only the shared secret tells peers apart.
                    if cfg.secret.is_empty() || (cfg.digest.is_none() && !cfg.challenge) {
                        return Err(CommandError::Invalid(
                            "accept-any needs a secret with digest or challenge",
                        ));
                    }
                    cfg.peer = unspecified(cfg.local);
                    cfg.passive = true;
                } else if cfg.peer.is_unspecified() {
                    return Err(CommandError::Invalid(
                        "the peer address must be specified (or accept-any)",
                    ));
                }
                if cfg.challenge && cfg.secret.is_empty() {
                    return Err(CommandError::Invalid(
                        "challenge authentication needs a secret",
                    ));
                }
                if cfg.retransmit_min == 0 || cfg.retransmit_max < cfg.retransmit_min {
                    return Err(CommandError::Invalid("retransmit: need 0 < min <= max"));
                }
                if cfg.receive_window == 0 {
                    return Err(CommandError::Invalid("receive-window must be at least 1"));
                }
                let key = (cfg.local, cfg.peer, is_udp(&cfg.transport));
                if let Some(&other) = self.conn_by_addr.get(&key) {
                    // Configuration wins over a peer that was let in by a template.
                    if self
                        .conns
                        .get(&other)
                        .is_some_and(|c| c.accepted_by.is_some())
                    {
                        self.delete_conn(now, other, "replaced by a configured connection");
                    } else {
                        return Err(CommandError::DuplicateConnection);
                    }
                }
                let id = self.alloc_conn();
                self.conn_by_addr.insert(key, id);
                if cfg.accept_any {
                    self.log(format!(
                        "l2tp conn {}: created, accept-any on our {} auth {}",
                        id.0,
                        cfg.local,
                        cfg.auth_kind()
                    ));
                } else {
                    self.log(format!(
                        "l2tp conn {}: created, peer {} our {} auth {}",
                        id.0,
                        cfg.peer,
                        cfg.local,
                        cfg.auth_kind()
                    ));
                }
                self.conns.insert(id, ConnState::new(cfg, None));
                self.connect(now, id);
                Ok(Created::Conn(id))
            }
            Command::DeleteConnection(id) => {
                if !self.delete_conn(now, id, "administratively deleted") {
                    return Err(CommandError::NoSuchConnection);
                }
                Ok(Created::Done)
            }
            Command::ClearConnection(id) => {
                let c = self.conns.get(&id).ok_or(CommandError::NoSuchConnection)?;
                if c.cfg.accept_any {
                    // A template has no instance of its own: clear what it accepted.
                    let accepted: Vec<u32> = c
                        .accepted
                        .iter()
                        .filter_map(|a| self.conns.get(a)?.active)
                        .collect();
                    for ccid in accepted {
                        self.close(
                            now,
                            ccid,
                            stop::CLEAR,
                            err::NONE,
                            "administratively cleared",
                        );
                    }
                    return Ok(Created::Done);
                }
                match c.active {
                    Some(ccid) => self.close(
                        now,
                        ccid,
                        stop::CLEAR,
                        err::NONE,
                        "administratively cleared",
                    ),
                    None => self.connect(now, id),
                }
                Ok(Created::Done)
            }
            Command::CreatePseudowire(cfg) => {
                let c = self
                    .conns
                    .get(&cfg.conn)
                    .ok_or(CommandError::NoSuchConnection)?;
                if c.accepted_by.is_some() {
                    return Err(CommandError::Invalid(
                        "pseudowires of accepted peers are configured on the accept-any connection",
                    ));
                }
                if !matches!(cfg.cookie_size, 0 | 4 | 8) {
                    return Err(CommandError::Invalid("cookie-size must be 0, 4 or 8"));
                }
                if cfg.sequencing && !cfg.l2_sublayer {
                    return Err(CommandError::Invalid(
                        "sequencing needs the l2-specific sublayer",
                    ));
                }
                if c.pws.contains_key(&cfg.vc_id) {
                    return Err(CommandError::DuplicateVcId);
                }
                let id = PwId(self.next_pw);
                self.next_pw += 1;
                let conn = cfg.conn;
                let vc = cfg.vc_id;
                self.log(format!(
                    "l2tp pw {}: created on conn {} vc-id {}",
                    id.0, conn.0, cfg.vc_id
                ));
                self.pws.insert(
                    id,
                    PwState {
                        cfg,
                        ac_up: true,
                        session: None,
                        bound: None,
                        retry_at: None,
                        queued: None,
                    },
                );
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pws.insert(vc, id);
                }
                self.start_pw(now, id);
                Ok(Created::Pw(id))
            }
            Command::DeletePseudowire(id) => {
                let p = self.pws.get(&id).ok_or(CommandError::NoSuchPseudowire)?;
                let (conn, vc, holder) = (p.cfg.conn, p.cfg.vc_id, p.holder());
                if let Some(sid) = p.session {
                    if let Some(ccid) = self.conns.get(&holder).and_then(|c| c.active) {
                        self.remove_session(
                            now,
                            ccid,
                            sid,
                            Some((cdn::ADMIN, err::NONE, "pseudowire deleted")),
                            false,
                        );
                        self.flush(now, ccid);
                    }
                }
                self.pws.remove(&id);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pws.remove(&vc);
                }
                self.log(format!("l2tp pw {}: deleted", id.0));
                Ok(Created::Done)
            }
            Command::SetCircuit { pw, up } => {
                let p = self
                    .pws
                    .get_mut(&pw)
                    .ok_or(CommandError::NoSuchPseudowire)?;
                if p.ac_up == up {
                    return Ok(Created::Done);
                }
                p.ac_up = up;
                let (conn, sid) = (p.holder(), p.session);
                self.log(format!(
                    "l2tp pw {}: attachment circuit {}",
                    pw.0,
                    if up { "up" } else { "down" }
                ));
                let ccid = self.conns.get(&conn).and_then(|c| c.active);
                if let (Some(ccid), Some(sid)) = (ccid, sid) {
                    if let Some(t) = self.tunnels.get_mut(&ccid) {
                        if let Some(s) = t
                            .sessions
                            .get_mut(&sid)
                            .filter(|s| s.state == SState::Established)
                        {
                            s.advertised = up;
                            let mut b = t.auth.builder(mt::SLI);
                            b.avp_u32(at::LOCAL_SESSION_ID, s.local_sid)
                                .avp_u32(at::REMOTE_SESSION_ID, s.remote_sid)
                                .avp_u16(at::CIRCUIT_STATUS, if up { CS_ACTIVE } else { 0 });
                            t.push(mt::SLI, b);
                            self.flush(now, ccid);
                        }
                    }
                }
                Ok(Created::Done)
            }
        }
    }

    fn alloc_conn(&mut self) -> ConnId {
        // Accepted peers come and go, so the counter may wrap one day: skip ids in use.
        loop {
            let id = ConnId(self.next_conn);
            self.next_conn = self.next_conn.wrapping_add(1);
            if id.0 != 0 && !self.conns.contains_key(&id) {
                return id;
            }
        }
    }

    /// Removes a connection at once; its instance closes with a StopCCN and lingers only to
    /// get it acknowledged. A template takes the connections it accepted and its pseudowires
    /// with it. False if there is no such connection.
    fn delete_conn(&mut self, now: Nanos, id: ConnId, text: &str) -> bool {
        let Some(c) = self.conns.remove(&id) else {
            return false;
        };
        let key = (c.cfg.local, c.cfg.peer, is_udp(&c.cfg.transport));
        if self.conn_by_addr.get(&key) == Some(&id) {
            self.conn_by_addr.remove(&key);
        }
        if let Some(ccid) = c.active {
            self.close(now, ccid, stop::CLEAR, err::NONE, text);
        }
        for a in &c.accepted {
            self.delete_conn(now, *a, "accept-any connection deleted");
        }
        if let Some(tpl) = c.accepted_by {
            self.forget_accepted(tpl, id, c.proven, &c.past);
        }
        for pw in c.pws.into_values() {
            self.pws.remove(&pw);
        }
        self.log(format!("l2tp conn {}: deleted", id.0));
        true
    }

    /// An accepted connection without any instance left is removed.
    fn reap(&mut self, id: ConnId) {
        let Some(c) = self.conns.get(&id) else { return };
        let Some(tpl) = c.accepted_by else { return };
        if c.instances > 0 || c.active.is_some() {
            return;
        }
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        let key = (c.cfg.local, c.cfg.peer, is_udp(&c.cfg.transport));
        if self.conn_by_addr.get(&key) == Some(&id) {
            self.conn_by_addr.remove(&key);
        }
        self.forget_accepted(tpl, id, c.proven, &c.past);
        self.log(format!(
            "l2tp conn {}: removed (peer {}, accept-any conn {})",
            id.0, c.cfg.peer, tpl.0
        ));
    }

    fn forget_accepted(&mut self, tpl: ConnId, id: ConnId, proven: bool, past: &Counters) {
        if let Some(t) = self.conns.get_mut(&tpl) {
            t.accepted.remove(&id);
            if !proven {
                t.unproven = t.unproven.saturating_sub(1);
                t.limit_hit = false;
            }
            // The template's counters keep the history of the peers it let in.
            t.past.add(past);
        }
    }

    fn add_tunnel(&mut self, t: Tunnel) {
        if let Some(c) = self.conns.get_mut(&t.conn) {
            c.instances += 1;
        }
        self.tunnels.insert(t.ccid, t);
    }

    // ---------------------------------------------------------------- timers

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Nanos) {
        while let Some((at, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Tunnel(c) => {
                    let Some(t) = self.tunnels.get_mut(&c) else {
                        continue;
                    };
                    if t.queued != Some(at) {
                        continue;
                    }
                    t.queued = None;
                    self.tunnel_timer(now, c);
                    self.flush(now, c);
                }
                TimerKey::Pw(p) => {
                    let Some(pw) = self.pws.get_mut(&PwId(p)) else {
                        continue;
                    };
                    if due(
                        &mut self.timers,
                        (&mut pw.queued, at),
                        &mut pw.retry_at,
                        now,
                        key,
                    ) {
                        self.start_pw(now, PwId(p));
                    }
                }
                TimerKey::Conn(c) => {
                    let Some(cs) = self.conns.get_mut(&ConnId(c)) else {
                        continue;
                    };
                    if due(
                        &mut self.timers,
                        (&mut cs.queued, at),
                        &mut cs.reconnect_at,
                        now,
                        key,
                    ) {
                        self.connect(now, ConnId(c));
                    }
                }
            }
        }
    }

    fn tunnel_timer(&mut self, now: Nanos, ccid: u32) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        match t.state {
            TState::Held | TState::LostTie => {
                if t.hold_until.is_some_and(|h| h <= now) {
                    self.remove_tunnel(ccid);
                }
                return;
            }
            TState::Idle => return,
            _ => {}
        }
        let limit = match t.rel.queue.front() {
            Some(o) if o.mtype == mt::SCCRQ => t.sccrq_retries,
            _ => t.max_retries,
        };
        match t.rel.expire(now, limit) {
            Expiry::NotDue => {}
            Expiry::Retransmit => {
                if let Some(o) = t.rel.queue.front() {
                    let mut b = o.bytes.clone();
                    let mtype = o.mtype;
                    set_nr(&mut b, t.rel.nr);
                    t.auth.sign(&mut b, mtype);
                    t.counters.retransmissions += 1;
                    t.counters.tx_type(mtype);
                    t.rel.ack_owed = false;
                    self.tx.push_back(Transmit {
                        path: t.path,
                        payload: b,
                    });
                }
            }
            Expiry::GiveUp => {
                if t.state == TState::Closing {
                    self.remove_tunnel(ccid);
                } else {
                    let n = t.rel.retries;
                    self.dead(
                        now,
                        ccid,
                        &format!("peer not answering after {n} retransmissions"),
                    );
                }
                return;
            }
        }
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        if t.hello_at().is_some_and(|h| h <= now) {
            let b = t.auth.builder(mt::HELLO);
            t.push(mt::HELLO, b);
            t.last_hello = now;
            t.hello_jitter = self.rng.below(t.hello_interval / 8 + 1);
        }
    }

    fn rearm(&mut self, ccid: u32) {
        if let Some(t) = self.tunnels.get_mut(&ccid) {
            if let Some(d) = t.next_deadline() {
                self.timers.arm(&mut t.queued, d, TimerKey::Tunnel(ccid));
            }
        }
    }

    fn schedule_pw(&mut self, pw: PwId, at: Nanos) {
        if let Some(p) = self.pws.get_mut(&pw) {
            p.retry_at = Some(at);
            self.timers.arm(&mut p.queued, at, TimerKey::Pw(pw.0));
        }
    }

    fn schedule_reconnect(&mut self, now: Nanos, conn: ConnId) {
        let at = now + self.jitter(self.cfg.reconnect_delay);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.reconnect_at = Some(at);
            self.timers.arm(&mut c.queued, at, TimerKey::Conn(conn.0));
        }
    }

    /// A delay plus up to a quarter more, never zero (a zero delay would make the timer
    /// that scheduled it fire again at once).
    fn jitter(&mut self, d: Nanos) -> Nanos {
        let d = d.max(MS);
        d + self.rng.below(d / 4 + 1)
    }

    // ---------------------------------------------------------------- sending

    /// Sends what the windows allow, then an acknowledgement if one is still owed.
    fn flush(&mut self, now: Nanos, ccid: u32) {
        let Core {
            tunnels, tx, cfg, ..
        } = self;
        let Some(t) = tunnels.get_mut(&ccid) else {
            return;
        };
        while let Some(i) = t.rel.next_to_send(now) {
            let Some(o) = t.rel.queue.get(i) else { break };
            let mut b = o.bytes.clone();
            let mtype = o.mtype;
            set_nr(&mut b, t.rel.nr);
            t.auth.sign(&mut b, mtype);
            t.counters.tx_type(mtype);
            t.rel.ack_owed = false;
            tx.push_back(Transmit {
                path: t.path,
                payload: b,
            });
        }
        if t.rel.ack_owed {
            t.rel.ack_owed = false;
            let b = if t.auth.digest.is_none() && cfg.zlb_acks {
                t.counters.tx_type(mt::ZLB);
                zlb(t.peer_ccid, t.rel.ns_next, t.rel.nr)
            } else {
                let mut b = t
                    .auth
                    .builder(mt::ACK)
                    .finish(t.peer_ccid, t.rel.ns_next, t.rel.nr);
                t.auth.sign(&mut b, mt::ACK);
                t.counters.tx_type(mt::ACK);
                b
            };
            tx.push_back(Transmit {
                path: t.path,
                payload: b,
            });
        }
        if t.state == TState::Closing && t.rel.queue.is_empty() {
            self.remove_tunnel(ccid);
            return;
        }
        self.rearm(ccid);
    }

    fn alloc_ccid(&mut self) -> u32 {
        loop {
            let c = self.rng.next_u32();
            if c != 0 && !self.tunnels.contains_key(&c) {
                return c;
            }
        }
    }

    fn alloc_sid(&mut self) -> u32 {
        loop {
            let s = self.rng.next_u32();
            if s != 0 && self.sids.insert(s) {
                return s;
            }
        }
    }

    /// SCCRQ or SCCRP of a tunnel.
    fn sccrx(
        &self,
        t: &Tunnel,
        mtype: u16,
        cfg: &ConnConfig,
        response: Option<[u8; 16]>,
    ) -> MsgBuilder {
        let mut b = t.auth.builder(mtype);
        let host = cfg.host_name.as_deref().unwrap_or(&self.cfg.host_name);
        b.avp(at::HOST_NAME, host.as_bytes())
            .avp_u32(at::ROUTER_ID, cfg.router_id.unwrap_or(self.cfg.router_id))
            .avp_u32(at::ASSIGNED_CCID, t.ccid)
            .avp(at::PW_CAPABILITIES, &[0, 5, 0, 4]);
        if !t.auth.our_nonce.is_empty() {
            b.avp(at::NONCE, &t.auth.our_nonce);
        }
        if mtype == mt::SCCRQ {
            b.avp(at::TIE_BREAKER, &t.tie_breaker);
        }
        b.avp_u16(at::RECEIVE_WINDOW, cfg.receive_window);
        if let Some(v) = &self.cfg.vendor_name {
            b.avp_flags(false, 0, at::VENDOR_NAME, v.as_bytes());
        }
        if let Some(c) = &t.auth.our_challenge {
            b.avp(at::CHALLENGE, c);
        }
        if let Some(r) = response {
            b.avp(at::CHALLENGE_RESPONSE, &r);
        }
        b
    }

    /// Starts a connection attempt for a configured connection without an instance.
    fn connect(&mut self, now: Nanos, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.active.is_some() || c.cfg.passive {
            return;
        }
        let cfg = c.cfg.clone();
        let ccid = self.alloc_ccid();
        let auth = Auth::for_config(&cfg, &mut self.rng, true);
        let mut t = Tunnel::new(ccid, conn, &cfg, cfg.path(), Role::Initiator, auth, now);
        self.rng.fill(&mut t.tie_breaker);
        t.state = TState::WaitCtlReply;
        let b = self.sccrx(&t, mt::SCCRQ, &cfg, None);
        t.push(mt::SCCRQ, b);
        self.add_tunnel(t);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.active = Some(ccid);
            c.reconnect_at = None;
        }
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} idle -> wait-ctl-reply (SCCRQ sent)",
            conn.0
        ));
        self.flush(now, ccid);
    }

    // ---------------------------------------------------------------- receiving

    /// Processes one received control message. `bytes` starts at the control header (over IP
    /// after the 4-byte zero Session ID, over UDP after the UDP header); `path` is as received
    /// (`local` = our address it was sent to, `peer` = its source).
    pub fn handle_message(&mut self, now: Nanos, path: Path, bytes: &[u8]) {
        let h = match Header::parse(bytes) {
            Ok(h) => h,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        let bytes = &bytes[..h.len as usize];
        if h.ccid != 0 {
            match self.tunnels.get(&h.ccid) {
                Some(t) if t.path.matches(&path) => self.tunnel_rx(now, h.ccid, path, bytes),
                _ => self.stats.unknown_ccid += 1,
            }
            return;
        }
        // An unspecified source is nobody (and would match an accept-any template's key).
        if path.peer.is_unspecified() {
            self.stats.unknown_peer += 1;
            return;
        }
        let udp = is_udp(&path.transport);
        let (conn, template) = match self.conn_by_addr.get(&(path.local, path.peer, udp)) {
            Some(&c) => (c, false),
            None => match self
                .conn_by_addr
                .get(&(path.local, unspecified(path.local), udp))
            {
                Some(&t) => (t, true),
                None => {
                    self.stats.unknown_peer += 1;
                    return;
                }
            },
        };
        let secret = self.conns.get(&conn).map(|c| c.cfg.secret.clone());
        let m = match Message::parse(bytes, secret.as_ref()) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        // A retransmitted SCCRQ, or a StopCCN sent before the sender learnt our CCID, belongs to
        // the instance known by the peer's Assigned CCID.
        if let Some(&ccid) = m
            .assigned_ccid
            .and_then(|a| self.by_peer.get(&(path.peer, a)))
        {
            if self
                .tunnels
                .get(&ccid)
                .is_some_and(|t| t.path.matches(&path))
            {
                self.tunnel_rx(now, ccid, path, bytes);
                return;
            }
        }
        // An accept-any template, and every connection it accepted, answer only a peer that
        // authenticates: an SCCRQ without the digest they require is dropped without a word
        // (a refusal would be state held and StopCCNs sent, for forged sources, for 31 s).
        if m.mtype == Some(mt::SCCRQ) && !m.has_digest {
            let strict = self
                .conns
                .get(&conn)
                .filter(|c| template || c.accepted_by.is_some());
            if let Some(c) = strict {
                if c.cfg.digest.is_some() {
                    let counted = if template {
                        conn
                    } else {
                        c.accepted_by.unwrap_or(conn)
                    };
                    if let Some(t) = self.conns.get_mut(&counted) {
                        t.past.digest_failures += 1;
                    }
                    return;
                }
            }
        }
        match m.mtype {
            Some(mt::SCCRQ) if template => self.accept_sccrq(now, conn, path, bytes, m),
            Some(mt::SCCRQ)
                if self.conns.get(&conn).is_some_and(|c| {
                    c.accepted_by.is_some() && c.instances >= ACCEPTED_INSTANCES_MAX
                }) =>
            {
                self.stats.accept_any_limit += 1;
            }
            Some(mt::SCCRQ) => self.sccrq_rx(now, conn, path, bytes, m),
            _ => self.stats.unexpected += 1,
        }
    }

    /// An SCCRQ from a peer without a connection, on an address and transport with an
    /// `accept_any` template: the peer gets a connection of its own with the template's
    /// settings, which then answers it as a configured passive connection would (and is
    /// removed again if that does not end established).
    fn accept_sccrq(&mut self, now: Nanos, tpl: ConnId, path: Path, bytes: &[u8], m: Message) {
        let Some(t) = self.conns.get(&tpl) else {
            return;
        };
        let mut cfg = t.cfg.clone();
        // Over UDP, only on the template's own port (others may belong to static tunnels or
        // other connections, and the sessions would be built on them).
        if let (
            Transport::Udp {
                local_port: want, ..
            },
            Transport::Udp {
                local_port: got, ..
            },
        ) = (cfg.transport, path.transport)
        {
            if want != got {
                self.stats.unknown_peer += 1;
                return;
            }
        }
        // Checked before anything is allocated, so forged SCCRQs cost no state: a digest
        // that does not verify, and an Nr that no first message has. (A missing digest, where
        // one is required, was dropped by the caller.)
        let probe = Auth::for_config(&cfg, &mut self.rng, false);
        if m.has_digest && !probe.verify(bytes, &m, &[]) {
            if let Some(t) = self.conns.get_mut(&tpl) {
                t.past.digest_failures += 1;
            }
            self.log(format!(
                "l2tp conn {}: SCCRQ from {} dropped: bad message digest (accept-any)",
                tpl.0, path.peer
            ));
            return;
        }
        if m.nr != 0 {
            if let Some(t) = self.conns.get_mut(&tpl) {
                t.past.bad_nr += 1;
            }
            return;
        }
        let Some(t) = self.conns.get_mut(&tpl) else {
            return;
        };
        if t.unproven >= ACCEPT_ANY_PENDING_MAX {
            self.stats.accept_any_limit += 1;
            if !std::mem::replace(&mut t.limit_hit, true) {
                self.log(format!(
                    "l2tp conn {}: {ACCEPT_ANY_PENDING_MAX} accepted connections are being set up; new SCCRQs are dropped",
                    tpl.0
                ));
            }
            return;
        }
        t.unproven += 1;
        let id = self.alloc_conn();
        if let Some(t) = self.conns.get_mut(&tpl) {
            t.accepted.insert(id);
        }
        cfg.peer = path.peer;
        cfg.transport = path.transport;
        cfg.accept_any = false;
        cfg.passive = true;
        self.conn_by_addr
            .insert((path.local, path.peer, is_udp(&path.transport)), id);
        self.conns.insert(id, ConnState::new(cfg, Some(tpl)));
        self.log(format!(
            "l2tp conn {}: accepted SCCRQ from {} (accept-any conn {})",
            id.0, path.peer, tpl.0
        ));
        self.sccrq_rx(now, id, path, bytes, m);
        self.reap(id);
    }

    /// A new SCCRQ from a configured peer.
    fn sccrq_rx(&mut self, now: Nanos, conn: ConnId, path: Path, bytes: &[u8], m: Message) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let cfg = c.cfg.clone();
        let probe = Auth::for_config(&cfg, &mut self.rng, false);
        if probe.required && !m.has_digest {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::NOT_AUTHORIZED, err::NONE),
                "message digest required",
                false,
            );
        }
        if !probe.verify(bytes, &m, &[]) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.past.digest_failures += 1;
            }
            self.log(format!(
                "l2tp conn {}: SCCRQ from {} dropped: bad message digest",
                conn.0, path.peer
            ));
            return;
        }
        let signed = probe.digest.is_some();
        // The first message of a connection acknowledges nothing.
        if m.nr != 0 {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.past.bad_nr += 1;
            }
            return;
        }
        if m.nonce.is_some() && !probe.full() {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::NOT_AUTHORIZED, err::NONE),
                "authentication not configured",
                signed,
            );
        }
        if probe.full() && m.nonce.is_none() {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::NOT_AUTHORIZED, err::NONE),
                "nonce required",
                signed,
            );
        }
        if m.challenge.is_some() && cfg.secret.is_empty() {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::NOT_AUTHORIZED, err::NONE),
                "challenge without a secret",
                signed,
            );
        }
        if let Some(p) = m.problem {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::ERROR, p.error),
                &format!("unusable AVP {}:{}", p.vendor, p.attr),
                signed,
            );
        }
        if let Some(miss) = m.missing() {
            return self.refuse(
                now,
                conn,
                path,
                &m,
                (stop::ERROR, err::NONE),
                &format!("missing {miss}"),
                signed,
            );
        }
        // Another instance for this configured connection?
        let active = self.conns.get(&conn).and_then(|c| c.active);
        if let Some(a) = active {
            let Some(t) = self.tunnels.get(&a) else {
                return;
            };
            match (t.role, t.state) {
                (Role::Initiator, TState::WaitCtlReply) => {
                    // Control connection tie (§5.4.3): the lower tie breaker wins; a side that
                    // sent none loses to one that did.
                    let ours = t.tie_breaker;
                    match m.tie_breaker.map(|th| ours.cmp(&th)) {
                        None | Some(std::cmp::Ordering::Less) => {
                            self.log(format!("l2tp conn {}: tie with {} won", conn.0, path.peer));
                            return self.refuse(
                                now,
                                conn,
                                path,
                                &m,
                                (stop::ALREADY_EXISTS, err::NONE),
                                "lost the tie",
                                signed,
                            );
                        }
                        Some(std::cmp::Ordering::Greater) => {
                            self.log(format!(
                                "l2tp conn {}: tie with {} lost; answering its SCCRQ",
                                conn.0, path.peer
                            ));
                            let hold = self.cfg.stop_hold;
                            if let Some(t) = self.tunnels.get_mut(&a) {
                                t.state = TState::LostTie;
                                t.rel.abandon();
                                t.hold_until = Some(now + hold);
                            }
                            if let Some(c) = self.conns.get_mut(&conn) {
                                c.active = None;
                            }
                            self.rearm(a);
                        }
                        Some(std::cmp::Ordering::Equal) => {
                            self.log(format!(
                                "l2tp conn {}: tie breakers equal; restarting",
                                conn.0
                            ));
                            self.remove_tunnel(a);
                            self.connect(now, conn);
                            return;
                        }
                    }
                }
                (Role::Responder, TState::WaitCtlConn) | (_, TState::Idle) => {
                    // A half-open instance the peer has given up on.
                    self.close(now, a, stop::CLEAR, err::NONE, "superseded by a new SCCRQ");
                }
                _ => {
                    // Established: keep it; a restarted peer is found dead by the probe.
                    let probe_now = t.rel.queue.is_empty();
                    if probe_now {
                        if let Some(t) = self.tunnels.get_mut(&a) {
                            let b = t.auth.builder(mt::HELLO);
                            t.push(mt::HELLO, b);
                            t.last_hello = now;
                        }
                        self.flush(now, a);
                    }
                    return self.refuse(
                        now,
                        conn,
                        path,
                        &m,
                        (stop::ALREADY_EXISTS, err::NONE),
                        "control connection exists",
                        signed,
                    );
                }
            }
        }
        let ccid = self.alloc_ccid();
        let auth = Auth::for_config(&cfg, &mut self.rng, true);
        let mut t = Tunnel::new(ccid, conn, &cfg, path, Role::Responder, auth, now);
        t.rel.nr = m.ns;
        if let Some(a) = m.assigned_ccid {
            t.peer_ccid = a;
            self.by_peer.insert((path.peer, a), ccid);
        }
        self.add_tunnel(t);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.active = Some(ccid);
            c.reconnect_at = None;
        }
        self.tunnel_rx(now, ccid, path, bytes);
        // Not taken in (it could not be sequenced): no instance is left behind for it.
        if self
            .tunnels
            .get(&ccid)
            .is_some_and(|t| t.state == TState::Idle)
        {
            self.remove_tunnel(ccid);
        }
    }

    /// Refuses an SCCRQ with a StopCCN from a short-lived instance that acknowledges the
    /// SCCRQ's retransmissions and retransmits the StopCCN until acknowledged.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        now: Nanos,
        conn: ConnId,
        path: Path,
        m: &Message,
        (result, error): (u16, u16),
        text: &str,
        signed: bool,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let cfg = c.cfg.clone();
        let ccid = self.alloc_ccid();
        let mut auth = if signed {
            Auth::for_config(&cfg, &mut self.rng, false)
        } else {
            Auth::none()
        };
        auth.peer_nonce = m.nonce.clone().unwrap_or_default();
        let mut t = Tunnel::new(ccid, conn, &cfg, path, Role::Responder, auth, now);
        t.state = TState::Closing;
        t.peer_ccid = m.assigned_ccid.unwrap_or(0);
        t.rel.nr = m.ns.wrapping_add(1);
        t.counters.rx_type(mt::SCCRQ);
        let mut b = t.auth.builder(mt::STOPCCN);
        b.result_code(result, error, text)
            .avp_u32(at::ASSIGNED_CCID, ccid);
        t.push(mt::STOPCCN, b);
        if t.peer_ccid != 0 {
            self.by_peer.insert((path.peer, t.peer_ccid), ccid);
        }
        self.add_tunnel(t);
        self.log(format!(
            "l2tp conn {}: SCCRQ from {} refused: StopCCN result {result} ({text})",
            conn.0, path.peer
        ));
        self.flush(now, ccid);
    }

    /// A message for an existing instance: authenticate, sequence, deliver in order.
    fn tunnel_rx(&mut self, now: Nanos, ccid: u32, path: Path, bytes: &[u8]) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let hiding = (!t.auth.secret.is_empty()).then_some(&t.auth.secret);
        let m = match Message::parse(bytes, hiding) {
            Ok(m) => m,
            Err(_) => {
                t.counters.malformed += 1;
                return;
            }
        };
        let first_reply = t.role == Role::Initiator
            && t.state == TState::WaitCtlReply
            && m.mtype == Some(mt::SCCRP);
        let peer_nonce = if first_reply {
            m.nonce.clone().unwrap_or_default()
        } else {
            t.auth.peer_nonce.clone()
        };
        if !t.auth.verify(bytes, &m, &peer_nonce) {
            t.counters.digest_failures += 1;
            return;
        }
        if first_reply {
            t.auth.peer_nonce = peer_nonce;
            // Over UDP the responder may answer from another port: stick to it (§4.1.2.2).
            t.path.transport = path.transport;
        }
        t.last_rx = now;
        t.counters.rx_type(m.mtype.unwrap_or(mt::ZLB));
        if let NrCheck::Insane = t.rel.on_nr(m.nr, now) {
            t.counters.bad_nr += 1;
            return;
        }
        match m.mtype {
            None | Some(mt::ACK) => {}
            Some(_) => match t.rel.classify(m.ns) {
                RxClass::Duplicate => {
                    t.counters.duplicates += 1;
                    t.rel.ack_owed = true;
                }
                RxClass::Future => {
                    t.counters.out_of_order += 1;
                    let ns = m.ns;
                    t.rel.hold(ns, m);
                }
                RxClass::InOrder => {
                    t.rel.advance();
                    self.deliver(now, ccid, m);
                    while let Some(next) = self
                        .tunnels
                        .get_mut(&ccid)
                        .and_then(|t| t.rel.take_next_held())
                    {
                        if let Some(t) = self.tunnels.get_mut(&ccid) {
                            t.rel.advance();
                        }
                        self.deliver(now, ccid, next);
                    }
                }
            },
        }
        self.flush(now, ccid);
    }

    /// Acts on one in-order message.
    fn deliver(&mut self, now: Nanos, ccid: u32, m: Message) {
        let Some(t) = self.tunnels.get(&ccid) else {
            return;
        };
        let Some(mtype) = m.mtype else { return };
        let state = t.state;
        if matches!(state, TState::Closing | TState::Held | TState::LostTie) {
            if mtype == mt::STOPCCN {
                self.stopccn_rx(now, ccid, &m);
            }
            return;
        }
        let known =
            matches!(mtype, mt::SCCRQ..=mt::STOPCCN | mt::HELLO..=mt::ICCN | mt::CDN..=mt::SLI);
        if !known {
            if m.mtype_mandatory {
                self.close(
                    now,
                    ccid,
                    stop::ERROR,
                    err::UNKNOWN_MANDATORY,
                    &format!("unknown message type {mtype}"),
                );
            }
            return;
        }
        if m.problem.is_some() || m.missing().is_some() {
            let (error, text) = match (m.problem, m.missing()) {
                (Some(p), _) => (
                    p.error,
                    format!(
                        "unusable mandatory AVP {}:{} in {}",
                        p.vendor,
                        p.attr,
                        mt::name(mtype)
                    ),
                ),
                (None, Some(miss)) => (err::NONE, format!("{} without {miss}", mt::name(mtype))),
                _ => unreachable!(),
            };
            if mtype == mt::STOPCCN {
                return self.stopccn_rx(now, ccid, &m);
            }
            if mt::is_session(mtype) {
                return self.session_problem(now, ccid, &m, error, &text);
            }
            return self.close(now, ccid, stop::ERROR, error, &text);
        }
        match (mtype, state) {
            (mt::SCCRQ, TState::Idle) => self.responder_sccrq(ccid, &m),
            (mt::SCCRP, TState::WaitCtlReply) => self.initiator_sccrp(now, ccid, &m),
            (mt::SCCCN, TState::WaitCtlConn) => self.responder_scccn(now, ccid, &m),
            (mt::STOPCCN, _) => self.stopccn_rx(now, ccid, &m),
            (mt::HELLO, _) => {}
            (
                mt::ICRQ
                | mt::ICRP
                | mt::ICCN
                | mt::CDN
                | mt::SLI
                | mt::WEN
                | mt::OCRQ
                | mt::OCRP
                | mt::OCCN,
                TState::Established,
            ) => self.session_rx(now, ccid, &m),
            _ => self.close(
                now,
                ccid,
                stop::FSM,
                err::NONE,
                &format!("{} received in state {}", mt::name(mtype), state.name()),
            ),
        }
    }

    fn note_peer(t: &mut Tunnel, m: &Message) {
        t.peer_host = m.host_name.clone();
        t.peer_router_id = m.router_id;
        t.peer_caps = m.pw_caps.clone().unwrap_or_default();
        if let Some(w) = m.receive_window {
            t.rel.set_peer_window(w);
        }
    }

    fn responder_sccrq(&mut self, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let Some(cfg) = self.conns.get(&t.conn).map(|c| c.cfg.clone()) else {
            return;
        };
        Self::note_peer(t, m);
        if t.auth.full() {
            t.auth.peer_nonce = m.nonce.clone().unwrap_or_default();
        }
        let response = m
            .challenge
            .as_ref()
            .map(|c| auth::challenge_response(mt::SCCRP as u8, &cfg.secret, c));
        t.state = TState::WaitCtlConn;
        let t = &self.tunnels[&ccid];
        let b = self.sccrx(t, mt::SCCRP, &cfg, response);
        let conn = t.conn;
        if let Some(t) = self.tunnels.get_mut(&ccid) {
            t.push(mt::SCCRP, b);
        }
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} idle -> wait-ctl-conn (SCCRP sent)",
            conn.0
        ));
    }

    fn initiator_sccrp(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        if let Some(c) = &t.auth.our_challenge {
            let want = auth::challenge_response(mt::SCCRP as u8, &t.auth.secret, c);
            if m.challenge_response != Some(want) {
                return self.close(
                    now,
                    ccid,
                    stop::NOT_AUTHORIZED,
                    err::NONE,
                    "challenge response mismatch",
                );
            }
        }
        if t.auth.full() && m.nonce.is_none() {
            return self.close(
                now,
                ccid,
                stop::NOT_AUTHORIZED,
                err::NONE,
                "SCCRP without a nonce",
            );
        }
        if m.nonce.is_some() && !t.auth.full() {
            return self.close(
                now,
                ccid,
                stop::NOT_AUTHORIZED,
                err::NONE,
                "authentication not configured",
            );
        }
        let response = match &m.challenge {
            Some(_) if t.auth.secret.is_empty() => {
                return self.close(
                    now,
                    ccid,
                    stop::NOT_AUTHORIZED,
                    err::NONE,
                    "challenge without a secret",
                )
            }
            Some(c) => Some(auth::challenge_response(mt::SCCCN as u8, &t.auth.secret, c)),
            None => None,
        };
        Self::note_peer(t, m);
        t.peer_ccid = m.assigned_ccid.unwrap_or(0);
        self.by_peer.insert((t.path.peer, t.peer_ccid), ccid);
        let mut b = t.auth.builder(mt::SCCCN);
        if let Some(r) = response {
            b.avp(at::CHALLENGE_RESPONSE, &r);
        }
        t.push(mt::SCCCN, b);
        self.established(now, ccid);
    }

    fn responder_scccn(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get(&ccid) else {
            return;
        };
        if let Some(c) = &t.auth.our_challenge {
            let want = auth::challenge_response(mt::SCCCN as u8, &t.auth.secret, c);
            if m.challenge_response != Some(want) {
                return self.close(
                    now,
                    ccid,
                    stop::NOT_AUTHORIZED,
                    err::NONE,
                    "challenge response mismatch",
                );
            }
        }
        self.established(now, ccid);
    }

    fn established(&mut self, now: Nanos, ccid: u32) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let from = t.state;
        t.state = TState::Established;
        t.was_up = true;
        t.last_rx = now;
        t.hello_jitter = self.rng.below(t.hello_interval / 8 + 1);
        let (conn, role) = (t.conn, t.role);
        let peer = t.path.peer;
        let host = t
            .peer_host
            .as_ref()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .unwrap_or_default();
        self.events.push_back(Event::ConnectionUp { conn });
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} {} -> established with {peer} ({host})",
            conn.0,
            from.name()
        ));
        // An accepted peer that got this far has authenticated: it no longer counts against
        // the template's limit.
        let tpl = self
            .conns
            .get_mut(&conn)
            .filter(|c| !c.proven)
            .and_then(|c| {
                c.proven = true;
                c.accepted_by
            });
        if let Some(t) = tpl.and_then(|t| self.conns.get_mut(&t)) {
            t.unproven = t.unproven.saturating_sub(1);
            t.limit_hit = false;
        }
        let pws = self
            .conns
            .get(&conn)
            .map(|c| c.pws.values().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        for pw in pws {
            match role {
                Role::Initiator => self.start_pw(now, pw),
                Role::Responder => {
                    let at = now + self.jitter(self.cfg.responder_pw_delay);
                    self.schedule_pw(pw, at);
                }
            }
        }
    }

    fn stopccn_rx(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let hold = self.cfg.stop_hold;
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let r = m.result.as_ref();
        let reason = format!(
            "StopCCN received: result {} error {} {}",
            r.map_or(0, |r| r.result),
            r.and_then(|r| r.error).unwrap_or(0),
            r.map_or("", |r| r.message.as_str())
        );
        let from = t.state;
        t.state = TState::Held;
        t.rel.abandon();
        // A StopCCN answering our SCCRQ tells us where to send its acknowledgement.
        if t.peer_ccid == 0 {
            t.peer_ccid = m.assigned_ccid.unwrap_or(0);
        }
        t.hold_until = Some(now + hold);
        let conn = t.conn;
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} {} -> stopped: {reason}",
            conn.0,
            from.name()
        ));
        if matches!(from, TState::Closing | TState::LostTie) {
            return;
        }
        self.clear_sessions(now, ccid);
        self.conn_down(now, ccid, &reason);
    }

    /// Local decision to end an instance: StopCCN, sessions cleared, reconnect later.
    fn close(&mut self, now: Nanos, ccid: u32, result: u16, error: u16, text: &str) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        if matches!(t.state, TState::Closing | TState::Held | TState::LostTie) {
            return;
        }
        let from = t.state;
        t.state = TState::Closing;
        let mut b = t.auth.builder(mt::STOPCCN);
        b.result_code(result, error, text)
            .avp_u32(at::ASSIGNED_CCID, ccid);
        t.push(mt::STOPCCN, b);
        let conn = t.conn;
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} {} -> closing: StopCCN result {result} error {error} ({text})",
            conn.0,
            from.name()
        ));
        self.clear_sessions(now, ccid);
        self.conn_down(now, ccid, text);
        self.flush(now, ccid);
    }

    /// The peer stopped answering: everything is cleared at once.
    fn dead(&mut self, now: Nanos, ccid: u32, why: &str) {
        let Some(t) = self.tunnels.get(&ccid) else {
            return;
        };
        self.log(format!(
            "l2tp conn {}: ccid {ccid:#x} {} -> down: {why}",
            t.conn.0,
            t.state.name()
        ));
        self.clear_sessions(now, ccid);
        self.conn_down(now, ccid, why);
        self.remove_tunnel(ccid);
    }

    fn conn_down(&mut self, now: Nanos, ccid: u32, why: &str) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let conn = t.conn;
        if std::mem::take(&mut t.was_up) {
            self.events.push_back(Event::ConnectionDown {
                conn,
                reason: why.to_string(),
            });
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.active == Some(ccid) {
            c.active = None;
            // An accepted connection never calls back; it goes with its last instance.
            if c.accepted_by.is_none() {
                self.schedule_reconnect(now, conn);
            }
        }
    }

    fn remove_tunnel(&mut self, ccid: u32) {
        let Some(t) = self.tunnels.remove(&ccid) else {
            return;
        };
        for (sid, s) in &t.sessions {
            self.sids.remove(sid);
            // Sessions are cleared before their instance goes; should one be left, its
            // pseudowire must not stay tied to it (a template's would stay bound).
            if let Some(p) = self.pws.get_mut(&s.pw).filter(|p| p.session == Some(*sid)) {
                p.session = None;
                p.bound = None;
            }
        }
        if self.by_peer.get(&(t.path.peer, t.peer_ccid)) == Some(&ccid) {
            self.by_peer.remove(&(t.path.peer, t.peer_ccid));
        }
        if let Some(c) = self.conns.get_mut(&t.conn) {
            c.past.add(&t.counters);
            c.instances = c.instances.saturating_sub(1);
            if c.active == Some(ccid) {
                c.active = None;
            }
        }
        self.reap(t.conn);
    }

    // ---------------------------------------------------------------- sessions

    fn params(&self, t: &Tunnel, s: &Session) -> SessionParams {
        let cfg = self.pws.get(&s.pw).map(|p| &p.cfg);
        SessionParams {
            pw: s.pw,
            conn: t.conn,
            local_session_id: s.local_sid,
            remote_session_id: s.remote_sid,
            local_cookie: s.local_cookie,
            remote_cookie: s.remote_cookie,
            rx_sublayer: cfg.is_some_and(|c| c.l2_sublayer),
            tx_sublayer: s.peer_l2ss,
            rx_sequencing: cfg.is_some_and(|c| c.sequencing),
            tx_sequencing: s.peer_seq,
            path: t.path,
            pw_type: cfg.map_or(PwType::Ethernet, |c| c.pw_type),
            peer_active: s.peer_active,
        }
    }

    /// Starts a pseudowire's session as the ICRQ sender, if its connection is up.
    fn start_pw(&mut self, now: Nanos, pw: PwId) {
        let Some(p) = self.pws.get(&pw) else { return };
        if p.session.is_some() {
            return;
        }
        let cfg = p.cfg.clone();
        let ac_up = p.ac_up;
        // (A template's pseudowires are never started: a template has no instance.)
        let Some(ccid) = self.conns.get(&cfg.conn).and_then(|c| c.active) else {
            return;
        };
        let Some(t) = self.tunnels.get(&ccid) else {
            return;
        };
        if t.state != TState::Established {
            return;
        }
        if !t.peer_caps.contains(&cfg.pw_type.code()) {
            self.log(format!(
                "l2tp pw {}: peer does not offer pw type {}; retrying later",
                pw.0,
                cfg.pw_type.code()
            ));
            let at = now + self.jitter(self.cfg.pw_retry_delay);
            return self.schedule_pw(pw, at);
        }
        let sid = self.alloc_sid();
        let cookie = Cookie::random(cfg.cookie_size, &mut self.rng);
        let mut tie = [0u8; 8];
        self.rng.fill(&mut tie);
        let serial = self.serial;
        self.serial = self.serial.wrapping_add(1);
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let mut b = t.auth.builder(mt::ICRQ);
        b.avp_u32(at::LOCAL_SESSION_ID, sid)
            .avp_u32(at::REMOTE_SESSION_ID, 0)
            .avp_u32(at::SERIAL_NUMBER, serial)
            .avp_u16(at::PW_TYPE, cfg.pw_type.code())
            .avp_u32(at::REMOTE_END_ID, cfg.vc_id)
            .avp_u16(
                at::CIRCUIT_STATUS,
                CS_NEW | if ac_up { CS_ACTIVE } else { 0 },
            )
            .avp(at::TIE_BREAKER, &tie);
        Self::session_avps(&mut b, &cfg, &cookie);
        t.push(mt::ICRQ, b);
        t.sessions.insert(
            sid,
            Session {
                local_sid: sid,
                remote_sid: 0,
                pw,
                role: Role::Initiator,
                state: SState::WaitReply,
                local_cookie: cookie,
                remote_cookie: Cookie::default(),
                peer_l2ss: false,
                peer_seq: false,
                peer_active: false,
                tie,
                installed: false,
                advertised: ac_up,
            },
        );
        if let Some(p) = self.pws.get_mut(&pw) {
            p.session = Some(sid);
            p.retry_at = None;
        }
        self.log(format!(
            "l2tp pw {}: session {sid:#x} idle -> wait-reply (ICRQ sent)",
            pw.0
        ));
        self.flush(now, ccid);
    }

    /// Assigned Cookie, L2-Specific Sublayer and Data Sequencing as configured.
    fn session_avps(b: &mut MsgBuilder, cfg: &PwConfig, cookie: &Cookie) {
        if !cookie.is_empty() {
            b.avp(at::ASSIGNED_COOKIE, cookie.as_bytes());
        }
        if cfg.l2_sublayer {
            b.avp_u16(at::L2_SUBLAYER, 1);
        }
        if cfg.sequencing {
            b.avp_u16(at::DATA_SEQUENCING, 2);
        }
    }

    fn send_cdn(t: &mut Tunnel, local: u32, remote: u32, result: u16, error: u16, text: &str) {
        let mut b = t.auth.builder(mt::CDN);
        b.result_code(result, error, text)
            .avp_u32(at::LOCAL_SESSION_ID, local)
            .avp_u32(at::REMOTE_SESSION_ID, remote);
        t.push(mt::CDN, b);
    }

    /// Ends a session: optional CDN to the peer, removal from the dataplane, optional retry.
    fn remove_session(
        &mut self,
        now: Nanos,
        ccid: u32,
        sid: u32,
        cdn: Option<(u16, u16, &str)>,
        retry: bool,
    ) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let Some(s) = t.sessions.remove(&sid) else {
            return;
        };
        self.sids.remove(&sid);
        if let Some((r, e, text)) = cdn {
            Self::send_cdn(t, s.local_sid, s.remote_sid, r, e, text);
        }
        let established = t.state == TState::Established;
        if s.installed {
            self.events.push_back(Event::RemoveSession {
                pw: s.pw,
                local_session_id: sid,
            });
            self.events.push_back(Event::PwLink {
                pw: s.pw,
                up: false,
            });
        }
        let mut template = false;
        if let Some(p) = self.pws.get_mut(&s.pw) {
            if p.session == Some(sid) {
                p.session = None;
                if let Some(b) = p.bound.take() {
                    self.events.push_back(Event::Log(format!(
                        "l2tp pw {}: unbound from conn {}",
                        s.pw.0, b.0
                    )));
                }
            }
            template = self
                .conns
                .get(&p.cfg.conn)
                .is_some_and(|c| c.cfg.accept_any);
        }
        // A template's pseudowire is never started by us: the peer asks again.
        if retry && established && !template {
            let at = now + self.jitter(self.cfg.pw_retry_delay);
            self.schedule_pw(s.pw, at);
        }
    }

    fn clear_sessions(&mut self, now: Nanos, ccid: u32) {
        let sids: Vec<u32> = self
            .tunnels
            .get(&ccid)
            .map(|t| t.sessions.keys().copied().collect())
            .unwrap_or_default();
        for sid in sids {
            self.remove_session(now, ccid, sid, None, false);
        }
    }

    fn install(&mut self, ccid: u32, sid: u32) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let Some(s) = t.sessions.get_mut(&sid) else {
            return;
        };
        s.state = SState::Established;
        s.installed = true;
        let (pw, active) = (s.pw, s.peer_active);
        // The attachment circuit changed while the session was being set up: tell the peer.
        if let Some(up) = self
            .pws
            .get(&pw)
            .map(|p| p.ac_up)
            .filter(|&up| up != s.advertised)
        {
            s.advertised = up;
            let mut b = t.auth.builder(mt::SLI);
            b.avp_u32(at::LOCAL_SESSION_ID, s.local_sid)
                .avp_u32(at::REMOTE_SESSION_ID, s.remote_sid)
                .avp_u16(at::CIRCUIT_STATUS, if up { CS_ACTIVE } else { 0 });
            t.push(mt::SLI, b);
        }
        let t = &self.tunnels[&ccid];
        let p = self.params(t, &t.sessions[&sid]);
        self.log(format!(
            "l2tp pw {}: session {sid:#x} -> established (remote {:#x}, peer circuit {})",
            pw.0,
            p.remote_session_id,
            if active { "active" } else { "inactive" }
        ));
        self.events.push_back(Event::InstallSession(p));
        self.events.push_back(Event::PwLink { pw, up: true });
    }

    /// A session message with an unusable mandatory AVP or a missing one: the session is
    /// cleared with CDN 2 (§5.2).
    fn session_problem(&mut self, now: Nanos, ccid: u32, m: &Message, error: u16, text: &str) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let mtype = m.mtype.unwrap_or(0);
        match t.find_session(m) {
            Some(sid) if mtype != mt::CDN => {
                let conn = t.conn;
                self.log(format!(
                    "l2tp conn {}: session {sid:#x} cleared: {text}",
                    conn.0
                ));
                self.remove_session(now, ccid, sid, Some((cdn::ERROR, error, text)), true);
            }
            Some(sid) => self.remove_session(now, ccid, sid, None, true),
            None => {
                if let (Some(their), true) = (m.local_sid.filter(|&l| l != 0), mtype == mt::ICRQ) {
                    Self::send_cdn(t, 0, their, cdn::ERROR, error, text);
                }
            }
        }
    }

    fn session_rx(&mut self, now: Nanos, ccid: u32, m: &Message) {
        match m.mtype {
            Some(mt::ICRQ) => self.icrq_rx(now, ccid, m),
            Some(mt::ICRP) => self.icrp_rx(now, ccid, m),
            Some(mt::ICCN) => self.iccn_rx(now, ccid, m),
            Some(mt::CDN) => {
                let Some(t) = self.tunnels.get(&ccid) else {
                    return;
                };
                if let Some(sid) = t.find_session(m) {
                    let r = m.result.as_ref();
                    let pw = t.sessions.get(&sid).map_or(0, |s| s.pw.0);
                    self.log(format!(
                        "l2tp pw {pw}: session {sid:#x} cleared by peer: CDN result {} error {} {}",
                        r.map_or(0, |r| r.result),
                        r.and_then(|r| r.error).unwrap_or(0),
                        r.map_or("", |r| r.message.as_str())
                    ));
                    self.remove_session(now, ccid, sid, None, true);
                }
            }
            Some(mt::SLI) => {
                let Some(t) = self.tunnels.get_mut(&ccid) else {
                    return;
                };
                let Some(sid) = t.find_session(m) else { return };
                let Some(s) = t.sessions.get_mut(&sid) else {
                    return;
                };
                if let Some(cs) = m.circuit_status {
                    let active = cs & CS_ACTIVE != 0;
                    if active != s.peer_active {
                        s.peer_active = active;
                        let pw = s.pw;
                        if s.installed {
                            self.events.push_back(Event::PeerCircuit { pw, active });
                        }
                        self.log(format!(
                            "l2tp pw {}: peer circuit {}",
                            pw.0,
                            if active { "active" } else { "inactive" }
                        ));
                    }
                }
            }
            Some(mt::OCRQ) => {
                // Outgoing calls are not offered for Ethernet pseudowires.
                let Some(t) = self.tunnels.get_mut(&ccid) else {
                    return;
                };
                if let Some(their) = m.local_sid.filter(|&l| l != 0) {
                    Self::send_cdn(
                        t,
                        0,
                        their,
                        cdn::NO_FACILITIES_PERM,
                        err::NONE,
                        "outgoing calls not supported",
                    );
                }
            }
            _ => {}
        }
    }

    fn cdn_to(&mut self, ccid: u32, their: u32, result: u16, error: u16, text: &str) {
        if let Some(t) = self.tunnels.get_mut(&ccid) {
            Self::send_cdn(t, 0, their, result, error, text);
            let conn = t.conn;
            self.log(format!(
                "l2tp conn {}: ICRQ for session {their:#x} refused: CDN {result} ({text})",
                conn.0
            ));
        }
    }

    /// Negotiation checks shared by ICRQ and ICRP: `Err` is the CDN to send.
    fn check_negotiation(m: &Message) -> Result<(bool, bool), (u16, u16, &'static str)> {
        let l2ss = m.l2ss.unwrap_or(0);
        if l2ss > 1 {
            return Err((
                cdn::ERROR,
                err::OUT_OF_RANGE,
                "unsupported l2-specific sublayer",
            ));
        }
        let seq = m.data_seq.unwrap_or(0) != 0;
        if seq && l2ss == 0 {
            return Err((
                cdn::SEQ_WITHOUT_L2SS,
                err::NONE,
                "sequencing required without l2-specific sublayer",
            ));
        }
        Ok((l2ss == 1, seq))
    }

    fn icrq_rx(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get(&ccid) else {
            return;
        };
        let Some(their) = m.local_sid.filter(|&l| l != 0) else {
            if let Some(t) = self.tunnels.get_mut(&ccid) {
                t.counters.malformed += 1;
            }
            return;
        };
        let conn = t.conn;
        // An accepted connection offers its template's pseudowires.
        let accepted_by = self.conns.get(&conn).and_then(|c| c.accepted_by);
        let owner = accepted_by.unwrap_or(conn);
        let vc = m.remote_end_id.as_deref().and_then(vc_of);
        let pw = vc.and_then(|vc| self.conns.get(&owner)?.pws.get(&vc).copied());
        let Some(pw) = pw else {
            return self.cdn_to(
                ccid,
                their,
                cdn::INVALID_DEST,
                err::NONE,
                "no pseudowire with this remote end id",
            );
        };
        let Some(p) = self.pws.get(&pw) else { return };
        if let Some(holder) = p.bound.filter(|&b| b != conn) {
            self.log(format!(
                "l2tp pw {}: vc-id {} asked for by conn {} but bound to conn {}",
                pw.0, p.cfg.vc_id, conn.0, holder.0
            ));
            return self.cdn_to(
                ccid,
                their,
                cdn::NO_FACILITIES_TEMP,
                err::NONE,
                "pseudowire in use by another peer",
            );
        }
        let cfg = p.cfg.clone();
        let ac_up = p.ac_up;
        if m.pw_type.and_then(PwType::from_code) != Some(cfg.pw_type) {
            return self.cdn_to(
                ccid,
                their,
                cdn::UNSUPPORTED_PW,
                err::NONE,
                "pseudowire type not supported here",
            );
        }
        let (peer_l2ss, peer_seq) = match Self::check_negotiation(m) {
            Ok(v) => v,
            Err((r, e, text)) => return self.cdn_to(ccid, their, r, e, text),
        };
        if let Some(sid) = p.session {
            let Some(t) = self.tunnels.get(&ccid) else {
                return;
            };
            match t.sessions.get(&sid) {
                Some(s) if s.role == Role::Initiator && s.state == SState::WaitReply => {
                    // Session tie (§5.4.4): the lower tie breaker wins.
                    let ours = s.tie;
                    match m.tie_breaker.map(|th| ours.cmp(&th)) {
                        None | Some(std::cmp::Ordering::Less) => {
                            return self.cdn_to(
                                ccid,
                                their,
                                cdn::LOST_TIE,
                                err::NONE,
                                "session tie lost",
                            );
                        }
                        Some(std::cmp::Ordering::Greater) => {
                            self.log(format!(
                                "l2tp pw {}: session tie lost; answering the peer's ICRQ",
                                pw.0
                            ));
                            self.remove_session(now, ccid, sid, None, false);
                        }
                        Some(std::cmp::Ordering::Equal) => {
                            self.cdn_to(
                                ccid,
                                their,
                                cdn::LOST_TIE,
                                err::NONE,
                                "session tie: equal tie breakers",
                            );
                            return self.remove_session(
                                now,
                                ccid,
                                sid,
                                Some((cdn::LOST_TIE, err::NONE, "session tie")),
                                true,
                            );
                        }
                    }
                }
                Some(_) => {
                    self.log(format!(
                        "l2tp pw {}: new ICRQ from the peer replaces session {sid:#x}",
                        pw.0
                    ));
                    self.remove_session(
                        now,
                        ccid,
                        sid,
                        Some((cdn::ADMIN, err::NONE, "replaced by a new ICRQ")),
                        false,
                    );
                }
                None => {
                    if let Some(p) = self.pws.get_mut(&pw) {
                        p.session = None;
                    }
                }
            }
        }
        let sid = self.alloc_sid();
        let cookie = Cookie::random(cfg.cookie_size, &mut self.rng);
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let mut b = t.auth.builder(mt::ICRP);
        b.avp_u32(at::LOCAL_SESSION_ID, sid)
            .avp_u32(at::REMOTE_SESSION_ID, their)
            .avp_u16(
                at::CIRCUIT_STATUS,
                CS_NEW | if ac_up { CS_ACTIVE } else { 0 },
            );
        Self::session_avps(&mut b, &cfg, &cookie);
        t.push(mt::ICRP, b);
        t.sessions.insert(
            sid,
            Session {
                local_sid: sid,
                remote_sid: their,
                pw,
                role: Role::Responder,
                state: SState::WaitConnect,
                local_cookie: cookie,
                remote_cookie: m.cookie.unwrap_or_default(),
                peer_l2ss,
                peer_seq,
                peer_active: m.circuit_status.is_some_and(|c| c & CS_ACTIVE != 0),
                tie: [0; 8],
                installed: false,
                advertised: ac_up,
            },
        );
        if let Some(p) = self.pws.get_mut(&pw) {
            p.session = Some(sid);
            p.retry_at = None;
            if accepted_by.is_some() && p.bound.replace(conn).is_none() {
                self.events.push_back(Event::Log(format!(
                    "l2tp pw {}: bound to conn {}",
                    pw.0, conn.0
                )));
            }
        }
        self.log(format!(
            "l2tp pw {}: session {sid:#x} idle -> wait-connect (ICRP sent)",
            pw.0
        ));
    }

    fn icrp_rx(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let Some(sid) = t.find_session(m) else {
            if let Some(their) = m.local_sid.filter(|&l| l != 0) {
                Self::send_cdn(
                    t,
                    0,
                    their,
                    cdn::ERROR,
                    err::BAD_SESSION_ID,
                    "no such session",
                );
            }
            return;
        };
        let Some(s) = t.sessions.get_mut(&sid) else {
            return;
        };
        if s.role != Role::Initiator || s.state != SState::WaitReply {
            return self.remove_session(
                now,
                ccid,
                sid,
                Some((cdn::FSM, err::NONE, "ICRP in wrong state")),
                true,
            );
        }
        let (l2ss, seq) = match Self::check_negotiation(m) {
            Ok(v) => v,
            Err((r, e, text)) => {
                s.remote_sid = m.local_sid.unwrap_or(0);
                return self.remove_session(now, ccid, sid, Some((r, e, text)), true);
            }
        };
        s.remote_sid = m.local_sid.unwrap_or(0);
        s.remote_cookie = m.cookie.unwrap_or_default();
        s.peer_l2ss = l2ss;
        s.peer_seq = seq;
        s.peer_active = m.circuit_status.is_some_and(|c| c & CS_ACTIVE != 0);
        let (local, remote, pw) = (s.local_sid, s.remote_sid, s.pw);
        let ac_up = self.pws.get(&pw).is_none_or(|p| p.ac_up);
        s.advertised = ac_up;
        let mut b = t.auth.builder(mt::ICCN);
        b.avp_u32(at::LOCAL_SESSION_ID, local)
            .avp_u32(at::REMOTE_SESSION_ID, remote)
            .avp_u16(at::CIRCUIT_STATUS, if ac_up { CS_ACTIVE } else { 0 });
        t.push(mt::ICCN, b);
        self.install(ccid, sid);
    }

    fn iccn_rx(&mut self, now: Nanos, ccid: u32, m: &Message) {
        let Some(t) = self.tunnels.get_mut(&ccid) else {
            return;
        };
        let Some(sid) = t.find_session(m) else { return };
        let Some(s) = t.sessions.get_mut(&sid) else {
            return;
        };
        if s.role != Role::Responder || s.state != SState::WaitConnect {
            return self.remove_session(
                now,
                ccid,
                sid,
                Some((cdn::FSM, err::NONE, "ICCN in wrong state")),
                true,
            );
        }
        if let Some(cs) = m.circuit_status {
            s.peer_active = cs & CS_ACTIVE != 0;
        }
        self.install(ccid, sid);
    }
}

/// A popped timer entry `at` for a one-shot deadline `when` kept with its queued entry
/// `queued`: true (the deadline cleared) when it has come; a stale entry (another is queued)
/// does nothing; a deadline moved later is queued again.
fn due(
    timers: &mut Timers,
    (queued, at): (&mut Option<Nanos>, Nanos),
    when: &mut Option<Nanos>,
    now: Nanos,
    key: TimerKey,
) -> bool {
    if *queued != Some(at) {
        return false;
    }
    *queued = None;
    match *when {
        Some(r) if r <= now => {
            *when = None;
            true
        }
        Some(r) => {
            timers.arm(queued, r, key);
            false
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::vc_of;

    #[test]
    fn remote_end_id_forms() {
        assert_eq!(vc_of(&[0, 0, 0, 100]), Some(100));
        assert_eq!(vc_of(b"100"), Some(100));
        assert_eq!(vc_of(b"1001"), Some(1001));
        assert_eq!(vc_of(b"100\0"), Some(100));
        assert_eq!(vc_of(b"abc"), None);
        assert_eq!(vc_of(b"99999999999"), None);
    }
}
