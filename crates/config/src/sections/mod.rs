//! Typed structs for the sections pwire knows, one module per section.

pub mod buffers;
pub mod cpu;
pub mod dpdk;
pub mod l2tp;
pub mod logging;
pub mod misc;
pub mod plugins;
pub mod stats;
pub mod unix;

use crate::tree::Token;

/// A VPP key pwire accepts but does not act on, kept so the binary can
/// print a one-line notice instead of failing a VPP operator's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The key as written.
    pub key: Token,
    /// Its value, for keys that take one.
    pub value: Option<Token>,
    /// Why pwire has no use for it.
    pub reason: &'static str,
}

impl IgnoredKey {
    /// `key` (a flag, or a key whose value is not kept for the notice), ignored for `reason`.
    pub fn flag(key: &Token, reason: &'static str) -> Self {
        IgnoredKey {
            key: key.clone(),
            value: None,
            reason,
        }
    }
}
