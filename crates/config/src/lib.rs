//! pwire-config: startup.conf in FD.io VPP's grammar.
//!
//! Three layers, each usable alone:
//! - [`parse_tree`]: text -> [`Document`], a tree of words and `{ }` blocks
//!   where every [`Token`] keeps its 1-based `line:col`;
//! - [`Cursor`]: a typed reader over one block (numbers, sizes, core lists,
//!   nested blocks) whose errors point at the offending token;
//! - [`StartupConfig`] ([`parse_file`], [`parse_str`]): the sections pwire
//!   knows, typed, with VPP's defaults.
//!
//! Every error is a [`ConfigError`] printed as `<file>:<line>:<col>: <msg>`;
//! words are quoted VPP-style, `` `word' ``. An unknown section or key stops
//! startup: nothing starts half-configured. VPP keys pwire accepts but does
//! not act on are kept as [`IgnoredKey`]s and reported by
//! [`StartupConfig::notices`]. Repeated sections merge as in VPP (words
//! appended in file order).
//!
//! The parser never panics and allocates in proportion to its input:
//! nesting is capped at [`MAX_DEPTH`] and CPU lists at [`MAX_CPUS`].

#![forbid(unsafe_code)]

mod cursor;
mod error;
pub mod sections;
mod startup;
mod tree;

pub use cursor::{Cursor, MAX_CPUS};
pub use error::ConfigError;
pub use sections::buffers::{BuffersConfig, PageSize};
pub use sections::cpu::{CpuConfig, SchedPolicy, Workers};
pub use sections::dpdk::{DpdkConfig, DpdkDev, DpdkDevDefaults};
pub use sections::l2tp::{L2tpConfig, LookupMode};
pub use sections::logging::{
    LogClassConfig, LogLevel, LoggingConfig, MAX_LOG_MESSAGE, MAX_LOG_SIZE,
};
pub use sections::misc::{
    EthernetConfig, InterfaceConfig, Ip6Config, L2fibConfig, L2learnConfig, RxMode,
};
pub use sections::plugins::{PluginEntry, PluginsConfig};
pub use sections::stats::{PrometheusListen, StatsConfig};
pub use sections::unix::{GidSpec, UnixConfig};
pub use sections::IgnoredKey;
pub use startup::{parse_file, parse_str, StartupConfig, TYPED_SECTIONS, UNUSED_SECTIONS};
pub use tree::{parse_tree, Block, Document, Item, Section, Token, MAX_DEPTH};
