//! The core's public vocabulary: addresses and transports, configuration, commands, the
//! messages and events it hands back, and the read-only views used by `show` commands.

use crate::auth::{DigestAlg, Secret};
use crate::rng::Random;
use crate::wire::mt;
use std::fmt;
use std::net::IpAddr;

/// Nanoseconds since an epoch the caller chooses (a monotonic clock in production, a simulated
/// one in tests).
pub type Nanos = u64;
/// One second in [`Nanos`].
pub const SEC: Nanos = 1_000_000_000;
/// One millisecond in [`Nanos`].
pub const MS: Nanos = 1_000_000;
/// The well-known L2TP UDP port.
pub const UDP_PORT: u16 = 1701;

/// How control messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// IP protocol 115: the message follows a 4-byte zero Session ID.
    Ip,
    /// UDP: the message follows the UDP header.
    Udp { local_port: u16, peer_port: u16 },
}

impl Transport {
    fn same_kind(&self, o: &Transport) -> bool {
        matches!(
            (self, o),
            (Transport::Ip, Transport::Ip) | (Transport::Udp { .. }, Transport::Udp { .. })
        )
    }
}

/// Both ends of a control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path {
    pub local: IpAddr,
    pub peer: IpAddr,
    pub transport: Transport,
}

impl Path {
    /// Same addresses and transport kind (UDP ports may differ: a responder may answer from
    /// another port, §4.1.2.2).
    pub fn matches(&self, o: &Path) -> bool {
        self.local == o.local && self.peer == o.peer && self.transport.same_kind(&o.transport)
    }
}

/// A control message to send. `payload` starts at the control header's T bit: over IP the
/// caller puts the 4-byte zero Session ID in front, over UDP it is the UDP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub path: Path,
    pub payload: Vec<u8>,
}

/// A cookie of 0, 4 or 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Cookie {
    len: u8,
    bytes: [u8; 8],
}

impl Cookie {
    /// From an Assigned Cookie AVP value; `None` unless 0, 4 or 8 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Cookie> {
        if !matches!(b.len(), 0 | 4 | 8) {
            return None;
        }
        let mut bytes = [0u8; 8];
        bytes[..b.len()].copy_from_slice(b);
        Some(Cookie {
            len: b.len() as u8,
            bytes,
        })
    }

    /// A random cookie of `size` bytes (0, 4 or 8; anything else is treated as 8).
    pub fn random(size: u8, rng: &mut impl Random) -> Cookie {
        let len = match size {
            0 => 0,
            4 => 4,
            _ => 8,
        };
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes[..len]);
        Cookie {
            len: len as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A configured control connection's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// A configured pseudowire's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PwId(pub u32);

/// Pseudowire types this core signals (RFC 4719).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PwType {
    /// Type 5, Ethernet port.
    #[default]
    Ethernet,
    /// Type 4, Ethernet VLAN.
    EthernetVlan,
}

impl PwType {
    pub fn code(self) -> u16 {
        match self {
            PwType::Ethernet => 5,
            PwType::EthernetVlan => 4,
        }
    }
    pub fn from_code(c: u16) -> Option<PwType> {
        match c {
            5 => Some(PwType::Ethernet),
            4 => Some(PwType::EthernetVlan),
            _ => None,
        }
    }
}

/// Settings of the whole core (the `l2tp { hostname … router-id … }` section).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Host Name AVP.
    pub host_name: String,
    /// Router ID AVP (4 bytes; on IPv6-only nodes it is configured, not derived).
    pub router_id: u32,
    /// Vendor Name AVP, if sent.
    pub vendor_name: Option<String>,
    /// Acknowledge with ZLBs instead of ACK messages when authentication is off.
    pub zlb_acks: bool,
    /// Delay before a configured control connection is tried again after it went down.
    pub reconnect_delay: Nanos,
    /// Delay before a pseudowire whose session failed is tried again.
    pub pw_retry_delay: Nanos,
    /// How long the control connection's responder waits for the initiator's ICRQs before
    /// sending its own (fewer session ties).
    pub responder_pw_delay: Nanos,
    /// How long state is kept after a StopCCN to acknowledge its retransmissions (≥ 31 s).
    pub stop_hold: Nanos,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            host_name: "pwire".into(),
            router_id: 0,
            vendor_name: Some("pwire".into()),
            zlb_acks: false,
            reconnect_delay: 10 * SEC,
            pw_retry_delay: 10 * SEC,
            responder_pw_delay: SEC,
            stop_hold: 31 * SEC,
        }
    }
}

/// A control connection's configuration (`create l2tpv3 control-connection …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnConfig {
    pub local: IpAddr,
    pub peer: IpAddr,
    /// `Transport::Ip`, or UDP with our port and the peer's (1701 both by default).
    pub transport: Transport,
    /// Shared secret (empty: none). Never printed.
    pub secret: Secret,
    /// A second secret accepted on receive and sent as a second digest, for a hitless change.
    pub secret2: Option<Secret>,
    /// Message Digest on every message: with a non-empty secret this is authentication with
    /// nonces, with an empty one integrity only. `None`: no digest sent.
    pub digest: Option<DigestAlg>,
    /// RFC 2661-style Challenge / Challenge Response (needs a secret).
    pub challenge: bool,
    /// Hello after this long without receiving anything (0: no Hello).
    pub hello_interval: Nanos,
    /// Retransmissions before the connection is cleared.
    pub retries: u32,
    /// Retransmissions of the SCCRQ (`None`: as `retries`).
    pub sccrq_retries: Option<u32>,
    pub retransmit_min: Nanos,
    pub retransmit_max: Nanos,
    /// Our Receive Window Size.
    pub receive_window: u16,
    /// Overrides of the core's Router ID and Host Name for this connection.
    pub router_id: Option<u32>,
    pub host_name: Option<String>,
    /// Only answer the peer's SCCRQ, never send one.
    pub passive: bool,
    /// A template for peers that are not configured: any peer whose SCCRQ arrives on `local`
    /// over this transport kind and passes authentication gets a connection of its own with
    /// these settings (see `ConnInfo::accepted_by`). The core sets `peer` to the unspecified
    /// address and `passive`; it needs a secret with `digest` or `challenge`.
    pub accept_any: bool,
}

impl ConnConfig {
    /// The defaults between two addresses over IP: no authentication, Hello 60 s, 10 retries,
    /// retransmission 1 s doubling to 8 s, receive window 16.
    pub fn new(local: IpAddr, peer: IpAddr) -> Self {
        ConnConfig {
            local,
            peer,
            transport: Transport::Ip,
            secret: Secret::default(),
            secret2: None,
            digest: None,
            challenge: false,
            hello_interval: 60 * SEC,
            retries: 10,
            sccrq_retries: None,
            retransmit_min: SEC,
            retransmit_max: 8 * SEC,
            receive_window: 16,
            router_id: None,
            host_name: None,
            passive: false,
            accept_any: false,
        }
    }

    /// Authentication kind as `show` prints it.
    pub fn auth_kind(&self) -> String {
        let mut s = match (self.digest, self.secret.is_empty()) {
            (Some(a), false) => format!("digest {}", a.name()),
            (Some(a), true) => format!("integrity {}", a.name()),
            (None, _) => "none".to_string(),
        };
        if self.challenge {
            s.push_str(" + challenge");
        }
        if self.secret2.is_some() {
            s.push_str(" (two secrets)");
        }
        s
    }

    pub(crate) fn path(&self) -> Path {
        Path {
            local: self.local,
            peer: self.peer,
            transport: self.transport,
        }
    }
}

/// A pseudowire's configuration (`create l2tpv3 pseudowire …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwConfig {
    pub conn: ConnId,
    /// Sent and matched as the Remote End ID (a 4-byte integer; a decimal string is accepted).
    pub vc_id: u32,
    pub pw_type: PwType,
    /// Size of the cookie we assign (0, 4 or 8).
    pub cookie_size: u8,
    /// We require the default L2-Specific Sublayer on packets we receive.
    pub l2_sublayer: bool,
    /// We require sequenced packets (needs `l2_sublayer`).
    pub sequencing: bool,
}

/// What the caller asks of the core.
#[derive(Debug, Clone)]
pub enum Command {
    CreateConnection(ConnConfig),
    DeleteConnection(ConnId),
    /// Tear the connection down (StopCCN) and let it come back.
    ClearConnection(ConnId),
    CreatePseudowire(PwConfig),
    DeletePseudowire(PwId),
    /// The attachment circuit's link state (sent to the peer as the Circuit Status A bit).
    SetCircuit {
        pw: PwId,
        up: bool,
    },
}

/// A command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Conn(ConnId),
    Pw(PwId),
    Done,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    NoSuchConnection,
    NoSuchPseudowire,
    /// A connection between the same addresses and transport exists (for `accept_any`: a
    /// template on the same local address and transport kind).
    DuplicateConnection,
    /// A pseudowire with this VC ID exists on the connection.
    DuplicateVcId,
    Invalid(&'static str),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NoSuchConnection => f.write_str("no such control connection"),
            CommandError::NoSuchPseudowire => f.write_str("no such pseudowire"),
            CommandError::DuplicateConnection => {
                f.write_str("a control connection between these addresses exists")
            }
            CommandError::DuplicateVcId => f.write_str("this vc-id exists on the connection"),
            CommandError::Invalid(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for CommandError {}

/// A negotiated session, ready for the dataplane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    pub pw: PwId,
    pub conn: ConnId,
    pub local_session_id: u32,
    pub remote_session_id: u32,
    /// The cookie we expect on received packets (ours).
    pub local_cookie: Cookie,
    /// The cookie we put on packets we send (the peer's).
    pub remote_cookie: Cookie,
    /// We require the default L2-Specific Sublayer on received packets.
    pub rx_sublayer: bool,
    /// The peer requires it on packets we send.
    pub tx_sublayer: bool,
    /// We asked for sequenced packets.
    pub rx_sequencing: bool,
    /// The peer asked for sequenced packets.
    pub tx_sequencing: bool,
    pub path: Path,
    pub pw_type: PwType,
    /// The peer's attachment circuit is active (Circuit Status A bit).
    pub peer_active: bool,
}

/// What the dataplane and the log are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A control connection reached the established state.
    ConnectionUp { conn: ConnId },
    /// An established control connection went away.
    ConnectionDown { conn: ConnId, reason: String },
    /// Install a session (a pseudowire came up).
    InstallSession(SessionParams),
    /// Remove a session installed earlier.
    RemoveSession { pw: PwId, local_session_id: u32 },
    /// The pseudowire interface's link state.
    PwLink { pw: PwId, up: bool },
    /// The peer's attachment circuit changed (A bit): when inactive, stop sending into the
    /// pseudowire.
    PeerCircuit { pw: PwId, active: bool },
    /// A state change, for the log.
    Log(String),
}

/// Per-connection counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Received messages by type (index = message type; 0 counts ZLBs).
    pub rx: [u64; 21],
    /// Sent messages by type (first transmissions and retransmissions).
    pub tx: [u64; 21],
    pub rx_unknown_type: u64,
    pub retransmissions: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub digest_failures: u64,
    pub malformed: u64,
    pub bad_nr: u64,
}

impl Counters {
    pub(crate) fn rx_type(&mut self, t: u16) {
        match self.rx.get_mut(t as usize) {
            Some(c) => *c += 1,
            None => self.rx_unknown_type += 1,
        }
    }
    pub(crate) fn tx_type(&mut self, t: u16) {
        if let Some(c) = self.tx.get_mut(t as usize) {
            *c += 1;
        }
    }
    pub(crate) fn add(&mut self, o: &Counters) {
        for i in 0..21 {
            self.rx[i] += o.rx[i];
            self.tx[i] += o.tx[i];
        }
        self.rx_unknown_type += o.rx_unknown_type;
        self.retransmissions += o.retransmissions;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.digest_failures += o.digest_failures;
        self.malformed += o.malformed;
        self.bad_nr += o.bad_nr;
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut put = |f: &mut fmt::Formatter<'_>, k: &str, v: u64| -> fmt::Result {
            if v == 0 {
                return Ok(());
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{k}={v}")
        };
        for t in 0..21u16 {
            put(f, &format!("rx-{}", mt::name(t)), self.rx[t as usize])?;
            put(f, &format!("tx-{}", mt::name(t)), self.tx[t as usize])?;
        }
        put(f, "rx-unknown-type", self.rx_unknown_type)?;
        put(f, "retransmissions", self.retransmissions)?;
        put(f, "duplicates", self.duplicates)?;
        put(f, "out-of-order", self.out_of_order)?;
        put(f, "digest-failures", self.digest_failures)?;
        put(f, "malformed", self.malformed)?;
        put(f, "bad-nr", self.bad_nr)
    }
}

/// A control connection as `show` sees it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub id: ConnId,
    /// For an accepted connection: the template's settings with the peer's address and
    /// transport ports, `accept_any` false and `passive` true.
    pub config: ConnConfig,
    /// The `accept_any` template that accepted this connection (`None` for a configured one).
    /// An accepted connection is removed once it is down and its StopCCN hold is over.
    pub accepted_by: Option<ConnId>,
    /// `idle`, `wait-ctl-reply`, `wait-ctl-conn`, `established`, `closing`, …
    pub state: &'static str,
    pub local_ccid: Option<u32>,
    pub peer_ccid: Option<u32>,
    pub ns: u16,
    pub nr: u16,
    pub peer_window: u16,
    pub cwnd: u16,
    pub unacked: usize,
    pub queued: usize,
    pub rto: Nanos,
    pub peer_host_name: Option<String>,
    pub peer_router_id: Option<u32>,
    pub sessions: usize,
    pub next_timer: Option<Nanos>,
    pub counters: Counters,
}

impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let peer = if c.accept_any {
            "any".to_string()
        } else {
            c.peer.to_string()
        };
        let origin = match (c.accept_any, self.accepted_by) {
            (true, _) => " accept-any".to_string(),
            (false, Some(t)) => format!(" accepted by {}", t.0),
            (false, None) => String::new(),
        };
        writeln!(
            f,
            "[{}] {} peer {} our {} {} state {}{}",
            self.id.0,
            match c.transport {
                Transport::Ip => "ip".to_string(),
                Transport::Udp {
                    local_port,
                    peer_port,
                } => format!("udp {local_port}->{peer_port}"),
            },
            peer,
            c.local,
            c.auth_kind(),
            self.state,
            origin
        )?;
        writeln!(
            f,
            "  ccid local {:#x} peer {:#x} ns {} nr {} window {} cwnd {} unacked {} queued {} rto {} ms",
            self.local_ccid.unwrap_or(0),
            self.peer_ccid.unwrap_or(0),
            self.ns,
            self.nr,
            self.peer_window,
            self.cwnd,
            self.unacked,
            self.queued,
            self.rto / MS
        )?;
        writeln!(
            f,
            "  peer host {} router-id {} sessions {} hello {} s retries {}",
            self.peer_host_name.as_deref().unwrap_or("-"),
            self.peer_router_id
                .map(|r| std::net::Ipv4Addr::from(r).to_string())
                .unwrap_or_else(|| "-".into()),
            self.sessions,
            c.hello_interval / SEC,
            c.retries
        )?;
        write!(f, "  counters {}", self.counters)
    }
}

/// A pseudowire as `show` sees it.
#[derive(Debug, Clone)]
pub struct PwInfo {
    pub id: PwId,
    pub config: PwConfig,
    pub state: &'static str,
    pub circuit_up: bool,
    pub session: Option<SessionParams>,
    /// For a pseudowire of an `accept_any` template: the accepted connection whose peer holds
    /// it (it has a session with it, being set up or established). `None` otherwise.
    pub bound_to: Option<ConnId>,
}

impl fmt::Display for PwInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] conn {} vc-id {} {:?} state {} circuit {}",
            self.id.0,
            self.config.conn.0,
            self.config.vc_id,
            self.config.pw_type,
            self.state,
            if self.circuit_up { "up" } else { "down" }
        )?;
        if let Some(c) = self.bound_to {
            write!(f, " bound to conn {}", c.0)?;
        }
        if let Some(s) = &self.session {
            write!(
                f,
                " session {}->{} cookie {}/{} bytes peer {}",
                s.local_session_id,
                s.remote_session_id,
                s.local_cookie.len(),
                s.remote_cookie.len(),
                if s.peer_active { "active" } else { "inactive" }
            )?;
        }
        Ok(())
    }
}
