//! Small VPP sections: `interface`, `ethernet`, `l2fib`, `l2learn`, `ip6`.

use crate::error::ConfigError;
use crate::sections::IgnoredKey;
use crate::tree::Section;

/// Interface rx mode (also the mode an interface's rx queues are in: vnet uses this type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxMode {
    /// `polling`.
    #[default]
    Polling,
    /// `interrupt`.
    Interrupt,
    /// `adaptive`.
    Adaptive,
}

impl RxMode {
    /// The mode for a `polling|interrupt|adaptive` word.
    pub fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "polling" => Self::Polling,
            "interrupt" => Self::Interrupt,
            "adaptive" => Self::Adaptive,
            _ => return None,
        })
    }

    /// The mode's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::Interrupt => "interrupt",
            Self::Adaptive => "adaptive",
        }
    }
}

/// The `interface` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// `default-rx-mode polling|interrupt|adaptive`; `None` = each driver's
    /// own default (polling in VPP).
    pub default_rx_mode: Option<RxMode>,
}

impl InterfaceConfig {
    /// Parses the `interface` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "default-rx-mode" => {
                    let v = cur.expect_value(k)?;
                    let mode = RxMode::from_word(v.as_str()).ok_or_else(|| {
                        cur.error(
                            v,
                            format!(
                                "invalid rx mode `{}' (expected polling, interrupt or adaptive)",
                                v.text
                            ),
                        )
                    })?;
                    c.default_rx_mode = Some(mode);
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// The `ethernet` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetConfig {
    /// `default-mtu <n>`: 64..=9000, default 9000 (VPP's range and default).
    pub default_mtu: u32,
}

impl Default for EthernetConfig {
    fn default() -> Self {
        Self { default_mtu: 9000 }
    }
}

impl EthernetConfig {
    /// Parses the `ethernet` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "default-mtu" => c.default_mtu = cur.u32_in(k, 64, 9000)?,
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// The `l2fib` section: the l2 crate sizes its table from `num-buckets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2fibConfig {
    /// `table-size <size>` in bytes; VPP default 128M. Checked, with no effect (`ignored`).
    pub table_size: u64,
    /// `num-buckets <n>`; VPP default 256K (262144).
    pub num_buckets: u32,
    /// Keys given that pwire does not act on (printed at start).
    pub ignored: Vec<IgnoredKey>,
}

impl Default for L2fibConfig {
    fn default() -> Self {
        Self {
            table_size: 128 << 20,
            num_buckets: 256 << 10,
            ignored: Vec::new(),
        }
    }
}

impl L2fibConfig {
    /// Parses the `l2fib` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "table-size" => {
                    c.table_size = cur.size(k)?;
                    c.ignored.push(IgnoredKey::flag(
                        k,
                        "pwire's MAC table is sized by `num-buckets' alone (no bihash arena)",
                    ));
                }
                "num-buckets" => c.num_buckets = cur.u32_in(k, 1, u32::MAX)?,
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// The `l2learn` section (VPP's vnet/l2/l2_learn.c `l2learn_config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2learnConfig {
    /// `limit <n>`: the global cap on learned MACs; `None` = VPP's default (16 777 216).
    /// MACs over it are not learned ("L2 not learned due to limit" on `l2-learn`).
    pub limit: Option<u32>,
}

impl L2learnConfig {
    /// Parses the `l2learn` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "limit" => c.limit = Some(cur.u32_in(k, 0, u32::MAX)?),
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// The `ip6` section: VPP's memory and naming knobs, checked and kept, with no effect in pwire
/// (`ignored` says so at start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ip6Config {
    /// `hash-buckets <n>`.
    pub hash_buckets: Option<u32>,
    /// `heap-size <size>` in bytes.
    pub heap_size: Option<u64>,
    /// `default-table-name <s>`.
    pub default_table_name: Option<String>,
    /// Keys given that pwire does not act on (printed at start).
    pub ignored: Vec<IgnoredKey>,
}

impl Ip6Config {
    /// Parses the `ip6` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "hash-buckets" => {
                    c.hash_buckets = Some(cur.u32_in(k, 1, u32::MAX)?);
                    c.ignored.push(IgnoredKey::flag(k, NO_IP6_HEAP));
                }
                "heap-size" => {
                    c.heap_size = Some(cur.size(k)?);
                    c.ignored.push(IgnoredKey::flag(k, NO_IP6_HEAP));
                }
                "default-table-name" => {
                    c.default_table_name = Some(cur.string(k)?);
                    c.ignored.push(IgnoredKey::flag(
                        k,
                        "pwire has one IPv6 table, VRF 0, which `show ip6 fib' names ipv6-VRF:0",
                    ));
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// Why the `ip6` section's memory knobs do nothing here.
const NO_IP6_HEAP: &str =
    "pwire's IPv6 tables grow as routes and neighbours are added (no heap or buckets to size)";
