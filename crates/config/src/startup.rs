//! The whole startup.conf: every known section, typed.

use std::path::Path;

use crate::error::ConfigError;
use crate::sections::buffers::BuffersConfig;
use crate::sections::cpu::CpuConfig;
use crate::sections::dpdk::DpdkConfig;
use crate::sections::l2tp::L2tpConfig;
use crate::sections::logging::LoggingConfig;
use crate::sections::misc::{
    EthernetConfig, InterfaceConfig, Ip6Config, L2fibConfig, L2learnConfig,
};
use crate::sections::plugins::PluginsConfig;
use crate::sections::stats::StatsConfig;
use crate::sections::unix::UnixConfig;
use crate::tree::{parse_tree, Section};

/// Sections pwire parses into typed structs.
pub const TYPED_SECTIONS: &[&str] = &[
    "unix",
    "cpu",
    "buffers",
    "dpdk",
    "plugins",
    "l2tp",
    "interface",
    "ethernet",
    "l2fib",
    "l2learn",
    "ip6",
    "stats",
    "logging",
];

/// VPP sections pwire accepts and keeps as raw words, with no effect.
pub const UNUSED_SECTIONS: &[&str] = &[
    "statseg",
    "api-segment",
    "socksvr",
    "api-trace",
    "memory",
    "node",
];

/// A parsed startup.conf. Absent sections take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupConfig {
    /// File name the config came from.
    pub file: String,
    /// `unix { }`.
    pub unix: UnixConfig,
    /// `cpu { }`.
    pub cpu: CpuConfig,
    /// `buffers { }`.
    pub buffers: BuffersConfig,
    /// `dpdk { }`, `None` when the file has no such section.
    pub dpdk: Option<DpdkConfig>,
    /// `plugins { }`.
    pub plugins: PluginsConfig,
    /// `l2tp { }`.
    pub l2tp: L2tpConfig,
    /// `interface { }`.
    pub interface: InterfaceConfig,
    /// `ethernet { }`.
    pub ethernet: EthernetConfig,
    /// `l2fib { }`.
    pub l2fib: L2fibConfig,
    /// `l2learn { }`.
    pub l2learn: L2learnConfig,
    /// `ip6 { }`.
    pub ip6: Ip6Config,
    /// `stats { }` (pwire's Prometheus exporter).
    pub stats: StatsConfig,
    /// `logging { }`.
    pub logging: LoggingConfig,
    /// Sections from [`UNUSED_SECTIONS`], raw, in order of first appearance.
    pub unused_sections: Vec<Section>,
}

/// Reads and parses a startup.conf; errors name `path` as the file.
pub fn parse_file(path: impl AsRef<Path>) -> Result<StartupConfig, ConfigError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::new(name.as_str(), 0, 0, format!("cannot read: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(text) => parse_str(&name, &text),
        Err(e) => {
            // Point at the first bad byte: the valid prefix gives line and column.
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let good = std::str::from_utf8(good).unwrap_or_default();
            let line = good.matches('\n').count().saturating_add(1);
            let col = good
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count())
                .saturating_add(1);
            Err(ConfigError::new(
                name,
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(col).unwrap_or(u32::MAX),
                "invalid UTF-8",
            ))
        }
    }
}

/// Parses startup.conf text; `name` is the file name errors carry.
///
/// Repeated sections are merged as VPP does: `cpu { main-core 1 }` followed
/// later by `cpu { workers 2 }` is one `cpu` section with both words.
pub fn parse_str(name: &str, text: &str) -> Result<StartupConfig, ConfigError> {
    let doc = parse_tree(name, text)?;
    // Check names in file order first, so the first bad section is reported.
    for it in &doc.items {
        let n = it.word.as_str();
        if !TYPED_SECTIONS.contains(&n) && !UNUSED_SECTIONS.contains(&n) {
            return Err(ConfigError::at(
                name,
                &it.word,
                format!("unknown section `{n}'"),
            ));
        }
    }
    let mut c = StartupConfig {
        file: name.to_owned(),
        ..StartupConfig::default()
    };
    for s in doc.sections()? {
        match s.name.as_str() {
            "unix" => c.unix = UnixConfig::parse(&s)?,
            "cpu" => c.cpu = CpuConfig::parse(&s)?,
            "buffers" => c.buffers = BuffersConfig::parse(&s)?,
            "dpdk" => c.dpdk = Some(DpdkConfig::parse(&s)?),
            "plugins" => c.plugins = PluginsConfig::parse(&s)?,
            "l2tp" => c.l2tp = L2tpConfig::parse(&s)?,
            "interface" => c.interface = InterfaceConfig::parse(&s)?,
            "ethernet" => c.ethernet = EthernetConfig::parse(&s)?,
            "l2fib" => c.l2fib = L2fibConfig::parse(&s)?,
            "l2learn" => c.l2learn = L2learnConfig::parse(&s)?,
            "ip6" => c.ip6 = Ip6Config::parse(&s)?,
            "stats" => c.stats = StatsConfig::parse(&s)?,
            "logging" => c.logging = LoggingConfig::parse(&s)?,
            _ => c.unused_sections.push(s),
        }
    }
    Ok(c)
}

impl StartupConfig {
    /// One line per accepted-but-unused key or section, for the binary to
    /// print at start: `<file>:<line>:<col>: <what> ignored: <why>`.
    pub fn notices(&self) -> Vec<String> {
        let keys = self
            .unix
            .ignored
            .iter()
            .chain(self.dpdk.iter().flat_map(|d| d.ignored.iter()))
            .chain(self.logging.ignored.iter())
            .chain(self.l2fib.ignored.iter())
            .chain(self.ip6.ignored.iter())
            .chain(self.cpu.ignored.iter())
            .chain(self.plugins.ignored.iter())
            .chain(self.buffers.ignored.iter());
        let mut out: Vec<String> = keys
            .map(|k| {
                format!(
                    "{}:{}:{}: `{}' ignored: {}",
                    self.file, k.key.line, k.key.col, k.key.text, k.reason
                )
            })
            .collect();
        out.extend(self.unused_sections.iter().map(|s| {
            format!(
                "{}:{}:{}: section `{}' ignored: a VPP section pwire has no use for",
                self.file, s.name.line, s.name.col, s.name.text
            )
        }));
        out
    }
}
