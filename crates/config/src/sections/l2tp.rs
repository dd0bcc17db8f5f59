//! `l2tp { }`: the global session lookup mode (VPP plugins/l2tp/l2tp.c), pwire's cap on
//! sessions (`max-sessions <n>`; VPP has no such knob), and the control plane's identity
//! (`hostname <name>`, `router-id <a.b.c.d>`: the Host Name and Router ID AVPs).

use crate::error::ConfigError;
use crate::tree::{Section, Token};

/// Which packet field finds the session on decap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LookupMode {
    /// `lookup-v6-src`: outer IPv6 source address.
    SrcAddress,
    /// `lookup-v6-dst`: outer IPv6 destination address (VPP's default).
    #[default]
    DstAddress,
    /// `lookup-session-id`: the L2TPv3 session id.
    SessionId,
}

/// The `l2tp` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2tpConfig {
    /// Decap lookup key; default [`LookupMode::DstAddress`].
    pub lookup: LookupMode,
    /// `max-sessions <n>` (1..=16M): most sessions alive at once; `None` = the l2tp crate's
    /// default. Creating one more fails with `session limit reached (<n>)`.
    pub max_sessions: Option<u32>,
    /// `hostname <name>`: the control plane's Host Name AVP (default `pwire`).
    pub hostname: Option<String>,
    /// `router-id <a.b.c.d>`: the control plane's Router ID (required by peers on IPv6-only
    /// nodes, where no IPv4 address can stand in for it).
    pub router_id: Option<std::net::Ipv4Addr>,
}

/// Highest `max-sessions` accepted.
pub const MAX_SESSIONS_CAP: u32 = 1 << 24;

impl L2tpConfig {
    /// Parses the `l2tp` section: at most one lookup mode (repeating the same
    /// one is harmless; two different ones are an error, where VPP silently
    /// keeps the last) and `max-sessions <n>`.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        let mut first: Option<&Token> = None;
        while let Some(k) = cur.next_word()? {
            let mode = match k.as_str() {
                "lookup-v6-src" => LookupMode::SrcAddress,
                "lookup-v6-dst" => LookupMode::DstAddress,
                "lookup-session-id" => LookupMode::SessionId,
                "max-sessions" => {
                    c.max_sessions = Some(cur.u32_in(k, 1, MAX_SESSIONS_CAP)?);
                    continue;
                }
                "hostname" => {
                    c.hostname = Some(cur.string(k)?);
                    continue;
                }
                "router-id" => {
                    let v = cur.expect_value(k)?;
                    c.router_id = Some(v.text.parse().map_err(|_| {
                        cur.error(
                            v,
                            format!("router-id must be an IPv4 address: `{}'", v.text),
                        )
                    })?);
                    continue;
                }
                _ => return Err(cur.unknown(k)),
            };
            if let Some(prev) = first.filter(|p| p.text != k.text) {
                return Err(cur.error(
                    k,
                    format!(
                        "`{}' conflicts with `{}' (line {}): only one lookup mode",
                        k.text, prev.text, prev.line
                    ),
                ));
            }
            first = Some(k);
            c.lookup = mode;
        }
        Ok(c)
    }
}
