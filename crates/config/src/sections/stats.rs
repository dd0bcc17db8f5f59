//! `stats { }`: pwire's Prometheus exporter (VPP ships one as a separate program reading its
//! stats segment; pwire serves it from the dataplane process). Off unless `prometheus listen`
//! is given:
//!
//! ```text
//! stats {
//!   prometheus listen 127.0.0.1:9482   # <ip>:<port> or [<ip6>]:<port>; port 0 = any free one
//!   interface-limit 4096               # interfaces exported by name (lowest sw_if_index first)
//!   session-limit 4096                 # L2TPv3 sessions exported one by one (lowest index first)
//! }
//! ```

use std::net::SocketAddr;

use crate::error::ConfigError;
use crate::tree::{Section, Token};

/// Default for `interface-limit` and `session-limit`: a scrape stays a few MB and a few
/// milliseconds of the main thread whatever the number of tunnels.
pub const DEFAULT_OBJECT_LIMIT: u32 = 4096;
/// Highest `interface-limit` / `session-limit` accepted.
pub const MAX_OBJECT_LIMIT: u32 = 1 << 20;

/// `prometheus listen <addr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrometheusListen {
    /// Where the exporter listens.
    pub addr: SocketAddr,
    /// Position of the address in the file, so a bind failure at start names it.
    pub line: u32,
    /// Column of the address.
    pub col: u32,
}

/// The `stats` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsConfig {
    /// `prometheus listen <addr>`; `None` (the default) = no exporter.
    pub prometheus: Option<PrometheusListen>,
    /// `interface-limit <n>`: interfaces exported one by one.
    pub interface_limit: u32,
    /// `session-limit <n>`: L2TPv3 sessions exported one by one.
    pub session_limit: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            prometheus: None,
            interface_limit: DEFAULT_OBJECT_LIMIT,
            session_limit: DEFAULT_OBJECT_LIMIT,
        }
    }
}

impl StatsConfig {
    /// Parses the `stats` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        let mut seen: Option<&Token> = None;
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "prometheus" => {
                    let l = cur.expect_value(k)?;
                    if l.as_str() != "listen" {
                        return Err(cur.error(
                            l,
                            format!(
                                "expected `listen <address>' after `prometheus', got `{}'",
                                l.text
                            ),
                        ));
                    }
                    let v = cur.expect_value(l)?;
                    if let Some(prev) = seen {
                        return Err(cur.error(
                            v,
                            format!(
                                "`prometheus listen' given twice (first at line {})",
                                prev.line
                            ),
                        ));
                    }
                    let addr: SocketAddr = v.text.parse().map_err(|_| {
                        cur.error(
                            v,
                            format!(
                                "invalid address `{}' for `prometheus listen' (expected \
                                 <ip>:<port> or [<ip6>]:<port>, e.g. 127.0.0.1:9482)",
                                v.text
                            ),
                        )
                    })?;
                    seen = Some(v);
                    c.prometheus = Some(PrometheusListen {
                        addr,
                        line: v.line,
                        col: v.col,
                    });
                }
                "interface-limit" => c.interface_limit = cur.u32_in(k, 0, MAX_OBJECT_LIMIT)?,
                "session-limit" => c.session_limit = cur.u32_in(k, 0, MAX_OBJECT_LIMIT)?,
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    #[test]
    fn off_by_default_and_parsed_when_given() {
        let c = parse_str("s.conf", "").unwrap();
        assert_eq!(c.stats, super::StatsConfig::default());
        assert!(c.stats.prometheus.is_none());
        let c = parse_str(
            "s.conf",
            "stats {\n  prometheus listen 127.0.0.1:9482\n  session-limit 10 interface-limit 0\n}\n",
        )
        .unwrap();
        let p = c.stats.prometheus.unwrap();
        assert_eq!(p.addr, "127.0.0.1:9482".parse().unwrap());
        assert_eq!((p.line, p.col), (2, 21));
        assert_eq!((c.stats.session_limit, c.stats.interface_limit), (10, 0));
        let c = parse_str("s.conf", "stats { prometheus listen [::1]:0 }").unwrap();
        assert_eq!(c.stats.prometheus.unwrap().addr, "[::1]:0".parse().unwrap());
    }

    #[test]
    fn errors_name_file_line_col_and_token() {
        for (text, want) in [
            (
                "stats {\n prometheus listen localhost:9482\n}",
                "s.conf:2:20: invalid address `localhost:9482' for `prometheus listen'",
            ),
            (
                "stats { prometheus listen 127.0.0.1 }",
                "s.conf:1:27: invalid address `127.0.0.1'",
            ),
            (
                "stats { prometheus listen 1.2.3.4:99999 }",
                "s.conf:1:27: invalid address `1.2.3.4:99999'",
            ),
            (
                "stats { prometheus 127.0.0.1:1 }",
                "s.conf:1:20: expected `listen <address>' after `prometheus', got `127.0.0.1:1'",
            ),
            (
                "stats { prometheus listen }",
                "s.conf:1:20: missing value for `listen'",
            ),
            (
                "stats { prometheus }",
                "s.conf:1:9: missing value for `prometheus'",
            ),
            (
                "stats { prometheus listen 127.0.0.1:1\nprometheus listen 127.0.0.1:2 }",
                "s.conf:2:19: `prometheus listen' given twice (first at line 1)",
            ),
            (
                "stats {\n\n  scrape-me please }",
                "s.conf:3:3: unknown input `scrape-me'",
            ),
            (
                "stats { session-limit -1 }",
                "s.conf:1:23: expected a number for `session-limit', got `-1'",
            ),
            (
                "stats { interface-limit 2000000 }",
                "s.conf:1:25: `interface-limit' must be between 0 and 1048576, got `2000000'",
            ),
            (
                "stats { prometheus { listen 127.0.0.1:1 } }",
                "s.conf:1:20: unexpected `{' after `prometheus'",
            ),
        ] {
            let e = parse_str("s.conf", text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }
}
