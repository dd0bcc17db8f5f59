//! The L2TPv3 session API: create, delete, change cookies, look up, with typed errors. The CLI
//! calls it, and so will the control plane. Every call takes the main thread's [`Ctl`]; several
//! calls made with one `Ctl` (one command, one control-plane tick) share one barrier, and what
//! they do under it is O(1) each: table growth is built before the workers are parked.

pub use crate::session::Transport as TunnelTransport;
use crate::session::{default_cookie, key_of, GrownTables, L2tpMain, Outer, Session, Transport};
use hashbrown::HashMap;
use pwire_config::LookupMode;
use pwire_graph::{Ctl, Shared};
use pwire_vnet::Vnet;
use pwire_wire::l2tpv3::{Cookie, CookieSize, L2tpLayout};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// What a session is made from (the `create l2tpv3 tunnel` arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelConfig {
    /// Both of one family: IPv6 or IPv4.
    pub our: IpAddr,
    pub client: IpAddr,
    /// Over IP (protocol 115) or UDP (`encap udp`, ports 1701/1701 by default).
    pub transport: Transport,
    /// Over UDP: compute the UDP checksum (and over IPv6, refuse zero ones). `None`: Linux's
    /// defaults, off over IPv4 and on over IPv6.
    pub udp_checksum: Option<bool>,
    /// IPv4: set DF on encapsulated packets (default).
    pub df: bool,
    /// Fragment encapsulated packets over the egress MTU (default) rather than drop them.
    pub fragment: bool,
    pub local_session_id: u32,
    pub remote_session_id: u32,
    /// `None`: VPP's default, all ones of `cookie_size`.
    pub local_cookie: Option<Cookie>,
    pub remote_cookie: Option<Cookie>,
    pub cookie_size: CookieSize,
    pub l2_sublayer: bool,
    pub sequencing: bool,
    pub hop_limit: Option<u8>,
    pub fib_id: u32,
}

impl TunnelConfig {
    /// VPP's defaults between two addresses: session ids 1, 8-byte all-ones cookies, over IP.
    pub fn new(our: impl Into<IpAddr>, client: impl Into<IpAddr>) -> Self {
        TunnelConfig {
            our: our.into(),
            client: client.into(),
            transport: Transport::Ip,
            udp_checksum: None,
            df: true,
            fragment: true,
            local_session_id: 1,
            remote_session_id: 1,
            local_cookie: None,
            remote_cookie: None,
            cookie_size: CookieSize::Eight,
            l2_sublayer: false,
            sequencing: false,
            hop_limit: None,
            fib_id: 0,
        }
    }
}

/// Why a call was refused. `Display` gives the CLI's words (VPP's where VPP has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L2tpError {
    /// Session id 0 marks control messages.
    ReservedSessionId,
    /// A session with the same lookup key exists.
    SessionExists,
    SessionNotFound,
    /// `l2tp { max-sessions }` reached.
    Limit(usize),
    NoFib(u32),
    /// A cookie of another size than the session's.
    CookieSize {
        which: &'static str,
        want: CookieSize,
    },
    /// The interface is not an L2TPv3 tunnel.
    NotATunnel(u32),
    /// The interface table refused.
    Interface(String),
    /// `our` and `client` of different families.
    FamilyMismatch,
    /// A UDP port of 0.
    BadPort,
}

impl fmt::Display for L2tpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            L2tpError::ReservedSessionId => {
                f.write_str("session id 0 is reserved for the L2TPv3 control channel")
            }
            L2tpError::SessionExists => f.write_str("session already exists..."),
            L2tpError::SessionNotFound => f.write_str("session not found"),
            L2tpError::Limit(n) => {
                write!(f, "session limit reached ({n}, l2tp {{ max-sessions }})")
            }
            L2tpError::NoFib(id) => write!(f, "No fib with id {id}"),
            L2tpError::CookieSize { which, want } => {
                write!(f, "{which} cookie must be {} bytes", want.len())
            }
            L2tpError::NotATunnel(sw) => write!(f, "sw_if_index {sw} is not an l2tpv3 tunnel"),
            L2tpError::Interface(e) => f.write_str(e),
            L2tpError::FamilyMismatch => f.write_str(
                "client and our addresses must be of one family (both IPv6 or both IPv4)",
            ),
            L2tpError::BadPort => f.write_str("UDP ports must be 1..65535"),
        }
    }
}

impl std::error::Error for L2tpError {}

/// A session made by [`L2tp::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub index: u32,
    pub sw_if_index: u32,
    pub name: String,
}

/// Per (IPv4?, local port): the UDP tunnels on it, and those accepting a zero checksum.
type PortUse = HashMap<(bool, u16), (usize, usize)>;

/// The API's handle: the session table and the interfaces it makes tunnels in.
#[derive(Debug, Clone)]
pub struct L2tp {
    main: Arc<Shared<L2tpMain>>,
    vnet: Arc<Vnet>,
    /// Tables replaced by grown ones, freed by the next [`L2tp::reserve`] made outside the
    /// barrier (unmapping a big table is not O(1) either).
    retired: Arc<Mutex<Vec<GrownTables>>>,
    /// The UDP decap nodes' handler id (`Registry::udp_handler`).
    udp_handler: u8,
    /// Per (IPv4?, local port): UDP tunnels listening on it, and how many of them accept a
    /// zero checksum (IPv6 with the checksum off). The port is switched off with the last.
    ports: Arc<Mutex<PortUse>>,
    /// The ip4 nodes exist (IPv4 tunnels can be made).
    ip4: bool,
    /// Path MTU discovery's tables (pmtu.rs).
    pub pmtu: Arc<crate::pmtu::Pmtu>,
}

impl L2tp {
    pub fn new(
        main: Arc<Shared<L2tpMain>>,
        vnet: Arc<Vnet>,
        udp_handler: u8,
        ip4: bool,
        pmtu: Arc<crate::pmtu::Pmtu>,
    ) -> Self {
        L2tp {
            main,
            vnet,
            retired: Arc::default(),
            udp_handler,
            ports: Arc::default(),
            ip4,
            pmtu,
        }
    }

    /// Counts a UDP tunnel on (or off, `add` false) its local port, and writes the port's
    /// entry in the UDP lookups' table: O(1).
    fn udp_port(&self, ctl: &mut Ctl, v4: bool, port: u16, zero_ok: bool, add: bool) {
        let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        let e = ports.entry((v4, port)).or_insert((0, 0));
        if add {
            e.0 += 1;
            e.1 += usize::from(zero_ok);
        } else {
            e.0 = e.0.saturating_sub(1);
            e.1 = e.1.saturating_sub(usize::from(zero_ok));
        }
        let entry = match *e {
            (0, _) => 0,
            (_, 0) => self.udp_handler,
            _ => self.udp_handler | pwire_vnet::UDP_ZERO_CSUM_OK,
        };
        if e.0 == 0 {
            ports.remove(&(v4, port));
        }
        let vs = self.vnet.state.write(ctl);
        vs.udp_ports[usize::from(!v4)][usize::from(port)] = entry;
        if add {
            if v4 {
                vs.ip4_proto_enabled[usize::from(pwire_wire::ipv6::PROTO_UDP)] = true;
            } else {
                vs.ip6_proto_enabled[usize::from(pwire_wire::ipv6::PROTO_UDP)] = true;
            }
        }
    }

    /// The session table, for reading.
    pub fn table<'a>(&'a self, ctl: &'a Ctl) -> &'a L2tpMain {
        self.main.get(ctl)
    }

    pub fn lookup_mode(&self, ctl: &Ctl) -> LookupMode {
        self.main.get(ctl).lookup
    }

    /// Makes room in the lookup tables for `more` sessions. The grown tables are built while
    /// the workers still run (when `ctl` does not hold the barrier yet), then swapped in under
    /// it: call this before a batch of creates so that none of them grows a table with the
    /// workers parked.
    pub fn reserve(&self, ctl: &mut Ctl, more: usize) {
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        if !ctl.holds_barrier() {
            retired.clear();
        }
        if !ctl.holds_barrier() {
            self.pmtu.reserve(more);
        }
        if let Some(g) = self.main.get(ctl).grown_tables(more) {
            retired.push(self.main.write(ctl).install_tables(g));
        }
    }

    /// Creates a session and its `l2tpv3_tunnel<N>` interface (admin down, link up).
    pub fn create(&self, ctl: &mut Ctl, c: &TunnelConfig) -> Result<Created, L2tpError> {
        if c.fib_id != 0 {
            return Err(L2tpError::NoFib(c.fib_id));
        }
        if c.local_session_id == 0 || c.remote_session_id == 0 {
            return Err(L2tpError::ReservedSessionId);
        }
        let v4 = c.our.is_ipv4();
        if v4 != c.client.is_ipv4() {
            return Err(L2tpError::FamilyMismatch);
        }
        if v4 && !self.ip4 {
            return Err(L2tpError::Interface(
                "IPv4 tunnels need the ip4 nodes, not in this graph".into(),
            ));
        }
        if let Transport::Udp {
            local_port,
            remote_port,
        } = c.transport
        {
            if local_port == 0 || remote_port == 0 {
                return Err(L2tpError::BadPort);
            }
        }
        let udp_csum = c.udp_checksum.unwrap_or(!v4);
        let size = c.cookie_size;
        let local = c.local_cookie.unwrap_or_else(|| default_cookie(size));
        let remote = c.remote_cookie.unwrap_or_else(|| default_cookie(size));
        for (which, k) in [("local", &local), ("remote", &remote)] {
            if k.size() != size {
                return Err(L2tpError::CookieSize { which, want: size });
            }
        }
        let lookup = self.lookup_mode(ctl);
        let key = key_of(lookup, c.our, c.client, c.local_session_id);
        // Checked again by the insert; here so that no interface is made for nothing.
        self.main.get(ctl).check_insert(key)?;
        self.reserve(ctl, 1);
        let mut s = Session::new(
            Outer {
                our: c.our,
                client: c.client,
                transport: c.transport,
                udp_csum,
                df: c.df,
                fragment: c.fragment,
                hop_limit: c.hop_limit,
            },
            c.local_session_id,
            c.remote_session_id,
            local,
            remote,
            L2tpLayout::with_cookie(size, c.l2_sublayer || c.sequencing),
            c.sequencing,
        );
        let (name, sw) = self.make_interface(ctl)?;
        s.sw_if_index = sw;
        s.build();
        let inner = self.inner_mtu(ctl, &s).map(|(_, _, m)| m).unwrap_or(0);
        let got = self.main.write(ctl).insert(s);
        let index = match got {
            Ok(i) => i,
            Err(e) => {
                let _ = self.vnet.delete_interface(ctl, sw);
                return Err(e);
            }
        };
        debug_assert_eq!(name, format!("l2tpv3_tunnel{index}"));
        self.pmtu
            .add(index, c.our, c.client, c.transport, c.remote_session_id);
        if let Some((m, _)) = self.pmtu.lowered(c.our, c.client) {
            // A path whose MTU is already known lower: this session too.
            if let Some(s) = self.main.get(ctl).session(index) {
                s.pmtu.store(m, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let vs = self.vnet.state.write(ctl);
        if let Some(i) = vs.get_mut(sw) {
            // The tunnel carries frames as long as the session exists (VPP leaves link down).
            i.link_up = true;
            i.mtu[0] = inner;
            i.hw_mtu = inner;
        }
        match c.transport {
            Transport::Ip if v4 => vs.ip4_proto_enabled[crate::PROTO_L2TP as usize] = true,
            Transport::Ip => vs.ip6_proto_enabled[crate::PROTO_L2TP as usize] = true,
            Transport::Udp { local_port, .. } => {
                self.udp_port(ctl, v4, local_port, !v4 && !udp_csum, true)
            }
        }
        // Never the cookies: key material stays out of the log.
        self.vnet.log.notice(
            pwire_vnet::log::class::L2TP,
            format_args!(
                "{name} created: client {} our {}{} local-session-id {} remote-session-id {} cookie-size {}{}{}",
                c.client,
                c.our,
                match c.transport {
                    Transport::Ip => String::new(),
                    Transport::Udp { local_port, remote_port } => {
                        format!(" encap udp local-port {local_port} remote-port {remote_port}")
                    }
                },
                c.local_session_id,
                c.remote_session_id,
                size.len(),
                if c.l2_sublayer { " l2-sublayer-present" } else { "" },
                if c.sequencing { " sequencing" } else { "" },
            ),
        );
        Ok(Created {
            index,
            sw_if_index: sw,
            name,
        })
    }

    /// The `l2tpv3_tunnel<N>` interface of the slot the next session takes: (name, sw_if_index).
    fn make_interface(&self, ctl: &mut Ctl) -> Result<(String, u32), L2tpError> {
        let idx = self.main.get(ctl).next_index();
        let name = format!("l2tpv3_tunnel{idx}");
        let class = self
            .vnet
            .statics()
            .class_id("l2tpv3")
            .expect("class registered");
        let sw = self
            .vnet
            .create_interface(ctl, name.clone(), class, idx, [0; 6])
            .map_err(L2tpError::Interface)?;
        Ok((name, sw))
    }

    /// The session a `create ... del` names: by its lookup key under the global mode.
    pub fn find(&self, ctl: &Ctl, our: IpAddr, client: IpAddr, lsid: u32) -> Option<u32> {
        let t = self.main.get(ctl);
        t.find(key_of(t.lookup, our, client, lsid))
    }

    /// The session whose tunnel interface is `sw` (O(1): the interface's device instance).
    pub fn by_sw(&self, ctl: &Ctl, sw: u32) -> Option<u32> {
        let class = self.vnet.statics().class_id("l2tpv3")?;
        let vs = self.vnet.state.get(ctl);
        let i = vs.get(sw).filter(|i| i.class == class)?;
        self.main
            .get(ctl)
            .session(i.dev_instance)
            .filter(|s| s.sw_if_index == sw)
            .map(|_| i.dev_instance)
    }

    /// Deletes session `idx` and its tunnel interface.
    pub fn delete(&self, ctl: &mut Ctl, idx: u32) -> Result<(), L2tpError> {
        let s = self
            .main
            .get(ctl)
            .session(idx)
            .ok_or(L2tpError::SessionNotFound)?;
        let (sw, client, our, lsid) = (s.sw_if_index, s.client, s.our, s.local_session_id);
        let (transport, zero_ok) = (s.transport, !s.kind.v4() && !s.udp_csum);
        let (rsid, active) = (s.remote_session_id, s.active);
        self.main.write(ctl).remove(idx);
        if active {
            self.pmtu.remove(idx, our, client, transport, rsid);
        }
        if let Transport::Udp { local_port, .. } = transport {
            self.udp_port(ctl, our.is_ipv4(), local_port, zero_ok, false);
        }
        self.vnet.log.notice(
            pwire_vnet::log::class::L2TP,
            format_args!(
                "{} deleted: client {client} our {our} local-session-id {lsid}",
                self.vnet.if_name(ctl, sw)
            ),
        );
        self.vnet
            .delete_interface(ctl, sw)
            .map_err(L2tpError::Interface)
    }

    /// Cookie rollover on tunnel `sw`: the new local cookie is checked from now on and the
    /// current one is still accepted (as the previous); the remote cookie is sent from now on.
    pub fn set_cookies(
        &self,
        ctl: &mut Ctl,
        sw: u32,
        local: Cookie,
        remote: Cookie,
    ) -> Result<(), L2tpError> {
        let idx = self.by_sw(ctl, sw).ok_or(L2tpError::NotATunnel(sw))?;
        let s = &self.main.get(ctl).sessions[idx as usize];
        let (lw, rw) = (s.layout.cookie_size(), s.tx_layout.cookie_size());
        for (which, k, want) in [("local", &local, lw), ("remote", &remote, rw)] {
            if k.size() != want {
                return Err(L2tpError::CookieSize { which, want });
            }
        }
        let t = self.main.write(ctl);
        let s = &mut t.sessions[idx as usize];
        s.local_cookie[1] = s.local_cookie[0];
        s.prev_cookie_valid = true;
        s.local_cookie[0] = local;
        s.remote_cookie = remote;
        s.build();
        t.last_change_work = 1;
        self.vnet.log.notice(
            pwire_vnet::log::class::L2TP,
            format_args!(
                "{}: cookies changed (the previous local cookie is still accepted)",
                self.vnet.if_name(ctl, sw)
            ),
        );
        Ok(())
    }

    /// A signalled pseudowire's interface, `l2tpv3_tunnel<N>`, before its session is known:
    /// an inactive slot (in no decap table) between `our` and `client`, admin down, link
    /// down. [`L2tp::activate`] gives it a session.
    pub fn create_inactive(
        &self,
        ctl: &mut Ctl,
        our: IpAddr,
        client: IpAddr,
        transport: Transport,
    ) -> Result<Created, L2tpError> {
        if our.is_ipv4() != client.is_ipv4() {
            return Err(L2tpError::FamilyMismatch);
        }
        if our.is_ipv4() && !self.ip4 {
            return Err(L2tpError::Interface(
                "IPv4 tunnels need the ip4 nodes, not in this graph".into(),
            ));
        }
        self.reserve(ctl, 1);
        let s = Session::new(
            Outer {
                our,
                client,
                transport,
                udp_csum: !our.is_ipv4(),
                df: true,
                fragment: true,
                hop_limit: None,
            },
            0,
            0,
            pwire_wire::l2tpv3::Cookie::NONE,
            pwire_wire::l2tpv3::Cookie::NONE,
            L2tpLayout::with_cookie(CookieSize::Zero, false),
            false,
        );
        let (name, sw) = self.make_interface(ctl)?;
        let mut s = s;
        s.sw_if_index = sw;
        s.build();
        let index = match self.main.write(ctl).insert_inactive(s) {
            Ok(i) => i,
            Err(e) => {
                let _ = self.vnet.delete_interface(ctl, sw);
                return Err(e);
            }
        };
        if let Some(i) = self.vnet.state.write(ctl).get_mut(sw) {
            i.link_up = false;
        }
        Ok(Created {
            index,
            sw_if_index: sw,
            name,
        })
    }

    /// Gives inactive session `idx` its negotiated parameters and puts it in the decap table;
    /// its interface's link comes up when `n.peer_active`. Each direction has its own header:
    /// the cookies' sizes may differ, and so may the sublayer and sequencing.
    pub fn activate(&self, ctl: &mut Ctl, idx: u32, n: &Negotiated) -> Result<(), L2tpError> {
        if n.local_session_id == 0 || n.remote_session_id == 0 {
            return Err(L2tpError::ReservedSessionId);
        }
        if n.our.is_ipv4() != n.client.is_ipv4() {
            return Err(L2tpError::FamilyMismatch);
        }
        self.reserve(ctl, 1);
        let (sw, our, client, transport) = {
            let t = self.main.write(ctl);
            let s = t
                .sessions
                .get_mut(idx as usize)
                .filter(|s| !s.deleted && !s.active)
                .ok_or(L2tpError::SessionNotFound)?;
            let udp = |t: Transport| matches!(t, Transport::Udp { .. });
            // The slot's family and transport kind are its interface's (its node, its inner
            // MTU): only the addresses and ports may be learnt now.
            if s.our.is_ipv4() != n.our.is_ipv4() || udp(s.transport) != udp(n.transport) {
                return Err(L2tpError::FamilyMismatch);
            }
            // What the slot held, put back if it cannot be activated (a clash in the decap
            // table): an inactive slot shows its configuration, not a refused negotiation.
            let was = (
                (s.our, s.client, s.transport),
                (s.local_session_id, s.remote_session_id),
                (s.local_cookie, s.prev_cookie_valid, s.remote_cookie),
                (s.layout, s.tx_layout, s.sequencing, s.tx_sequencing),
            );
            s.our = n.our;
            s.client = n.client;
            s.transport = n.transport;
            s.local_session_id = n.local_session_id;
            s.remote_session_id = n.remote_session_id;
            s.local_cookie = [n.local_cookie, Cookie::NONE];
            s.prev_cookie_valid = false;
            s.remote_cookie = n.remote_cookie;
            s.layout =
                L2tpLayout::with_cookie(n.local_cookie.size(), n.rx_sublayer || n.rx_sequencing);
            s.tx_layout =
                L2tpLayout::with_cookie(n.remote_cookie.size(), n.tx_sublayer || n.tx_sequencing);
            s.sequencing = n.rx_sequencing;
            s.tx_sequencing = n.tx_sequencing;
            s.build();
            let r = (s.sw_if_index, s.our, s.client, s.transport);
            if let Err(e) = t.activate(idx) {
                let s = &mut t.sessions[idx as usize];
                (
                    (s.our, s.client, s.transport),
                    (s.local_session_id, s.remote_session_id),
                ) = (was.0, was.1);
                (s.local_cookie, s.prev_cookie_valid, s.remote_cookie) = was.2;
                (s.layout, s.tx_layout, s.sequencing, s.tx_sequencing) = was.3;
                s.build();
                return Err(e);
            }
            r
        };
        self.pmtu
            .add(idx, our, client, transport, n.remote_session_id);
        let inner = self
            .main
            .get(ctl)
            .session(idx)
            .and_then(|s| self.inner_mtu(ctl, s))
            .map(|(_, _, m)| m)
            .unwrap_or(0);
        if let Some(i) = self.vnet.state.write(ctl).get_mut(sw) {
            i.link_up = n.peer_active;
            i.mtu[0] = inner;
            i.hw_mtu = inner;
        }
        Ok(())
    }

    /// Takes session `idx` out of the decap table (its interface stays, link down).
    pub fn deactivate(&self, ctl: &mut Ctl, idx: u32) {
        let Some((sw, our, client, transport, rsid)) = self
            .main
            .get(ctl)
            .session(idx)
            .filter(|s| s.active)
            .map(|s| {
                (
                    s.sw_if_index,
                    s.our,
                    s.client,
                    s.transport,
                    s.remote_session_id,
                )
            })
        else {
            return;
        };
        self.main.write(ctl).deactivate(idx);
        self.pmtu.remove(idx, our, client, transport, rsid);
        self.set_link(ctl, sw, false);
    }

    /// A tunnel interface's link state (a signalled pseudowire's: up when negotiated and the
    /// peer's circuit is active).
    pub fn set_link(&self, ctl: &mut Ctl, sw: u32, up: bool) {
        if let Some(i) = self.vnet.state.write(ctl).get_mut(sw) {
            i.link_up = up;
        }
    }

    /// Lets the decap nodes see a control connection's messages: protocol 115 on, or its UDP
    /// port registered (counted as a tunnel on it; `release_transport` undoes it).
    pub fn claim_transport(&self, ctl: &mut Ctl, v4: bool, t: Transport) {
        match t {
            Transport::Ip => {
                let vs = self.vnet.state.write(ctl);
                if v4 {
                    vs.ip4_proto_enabled[crate::PROTO_L2TP as usize] = true;
                } else {
                    vs.ip6_proto_enabled[crate::PROTO_L2TP as usize] = true;
                }
            }
            Transport::Udp { local_port, .. } => self.udp_port(ctl, v4, local_port, false, true),
        }
    }

    /// Undoes one [`L2tp::claim_transport`] of a UDP port.
    pub fn release_transport(&self, ctl: &mut Ctl, v4: bool, t: Transport) {
        if let Transport::Udp { local_port, .. } = t {
            self.udp_port(ctl, v4, local_port, false, false);
        }
    }

    /// Outer fragmentation on tunnel `sw` on or off.
    pub fn set_fragment(&self, ctl: &mut Ctl, sw: u32, on: bool) -> Result<(), L2tpError> {
        let idx = self.by_sw(ctl, sw).ok_or(L2tpError::NotATunnel(sw))?;
        let t = self.main.write(ctl);
        let s = &mut t.sessions[idx as usize];
        s.fragment = on;
        s.build();
        t.last_change_work = 1;
        Ok(())
    }

    /// (egress interface name, egress IP MTU of the session's family, largest inner frame)
    /// for a session.
    pub fn inner_mtu(&self, ctl: &Ctl, s: &Session) -> Option<(String, u32, u32)> {
        let sw = match s.client {
            IpAddr::V6(a) => self.vnet.hooks.ip6_egress(ctl, a)?,
            IpAddr::V4(a) => self.vnet.hooks.ip4_egress(ctl, a)?,
        };
        let st = self.vnet.state.get(ctl);
        let i = st.get(sw)?;
        let mtu = if s.client.is_ipv4() {
            i.ip4_mtu()
        } else {
            i.ip6_mtu()
        };
        Some((
            i.name.clone(),
            mtu,
            mtu.saturating_sub(s.rewrite_len as u32),
        ))
    }
}

/// A signalled session's negotiated parameters ([`L2tp::activate`]), each direction its own:
/// "rx" is what the peer sends us (our cookie, what we asked for), "tx" what we send.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated {
    /// The path the session runs on: a pseudowire of an `accept-any` connection learns its
    /// peer's address (and UDP port) only now.
    pub our: IpAddr,
    pub client: IpAddr,
    pub transport: Transport,
    pub local_session_id: u32,
    pub remote_session_id: u32,
    pub local_cookie: Cookie,
    pub remote_cookie: Cookie,
    pub rx_sublayer: bool,
    pub tx_sublayer: bool,
    pub rx_sequencing: bool,
    pub tx_sequencing: bool,
    /// The peer's attachment circuit is active (its interface's link comes up).
    pub peer_active: bool,
}
