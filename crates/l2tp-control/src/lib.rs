//! pwire-l2tp-control: a sans-IO L2TPv3 control plane: RFC 3931 control connections and
//! RFC 4719 Ethernet pseudowires, in the style of quinn-proto and smoltcp. No socket, thread
//! or clock inside; the caller drives a [`Core`]:
//!
//! - `handle_message(now, path, bytes)` for every control message received (`bytes` from the
//!   control header's first byte: over IP after the 4-byte zero Session ID, over UDP after the
//!   UDP header);
//! - `handle_command(now, cmd)` for configuration (connections, pseudowires, circuit state);
//! - `handle_timeout(now)` when the clock reaches `poll_timeout()`;
//! - then drains `poll_transmit()` (messages to send, same framing as received) and
//!   `poll_event()` (sessions to install or remove, link states, log lines).
//!
//! Time is [`Nanos`] since an epoch the caller picks; randomness comes from a [`Random`] the
//! caller provides ([`OsRandom`] by default, [`SeededRandom`] in tests). All timers of all
//! connections live in one heap, so the caller has a single deadline to wait for.
//!
//! Modules: [`wire`] (header, AVPs), [`msg`] (decoding and the M-bit rules), [`auth`] (digest,
//! challenge, hidden AVPs), [`reliable`] (sequencing and retransmission), [`timer`] (the one
//! timer heap), [`rng`], [`api`] (the public vocabulary) and `core` (the state machines).

pub mod api;
pub mod auth;
mod core;
pub mod msg;
pub mod reliable;
pub mod rng;
pub mod timer;
pub mod wire;

pub use crate::core::{Core, CoreStats};
pub use api::*;
pub use auth::{DigestAlg, Secret};
pub use rng::{OsRandom, Random, SeededRandom};
