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
//!
//! # Behaviour worth knowing (choices where RFC 3931 leaves room)
//!
//! - A configured connection initiates at once and again `reconnect_delay` after it went
//!   down, unless `passive`. Incoming SCCRQs are accepted only from configured peers (matched
//!   by our address, the peer's address and the transport kind) or, where an `accept_any`
//!   connection is configured, from any peer that passes its authentication; others are
//!   dropped and counted (`CoreStats::unknown_peer`).
//! - `accept_any` (a template: one per local address and transport kind, never initiating,
//!   needing a secret with `digest` or `challenge`): an SCCRQ from an unconfigured peer
//!   whose digest verifies gets a connection of its own (`ConnInfo::accepted_by`), passive,
//!   with the template's settings and the peer's address, and is answered as a configured
//!   peer's would be (refusals with StopCCN included). A digest failure leaves no state; at
//!   most `ACCEPT_ANY_PENDING_MAX` accepted connections per template may be unestablished
//!   at once, and an accepted connection may have 8 instances (further SCCRQs are dropped,
//!   `CoreStats::accept_any_limit`). An accepted connection never reconnects and is removed
//!   (gone from `connections()`) when it has no instance left: at once when the peer is
//!   found dead or never completes, after the StopCCN hold (or its acknowledgement)
//!   otherwise. A configured connection to the same peer replaces it. The template's
//!   pseudowires are offered to every accepted peer, which must send the ICRQ (we never do
//!   on an accepted connection): a pseudowire is bound to the accepted connection holding
//!   its session (`PwInfo::bound_to`) and freed when that session or connection goes;
//!   another peer asking for a bound VC ID gets CDN 4 (temporary lack of facilities).
//!   Clearing a template clears its accepted connections; deleting it deletes them and its
//!   pseudowires. A template's counters gather those of the connections it accepted once
//!   they are removed.
//! - Ties: the lower Control Connection Tie Breaker wins and refuses the loser's SCCRQ with
//!   StopCCN 3; the loser keeps its abandoned instance to acknowledge that StopCCN. Over IP
//!   the peer's identity is the configured peer address (not the Router ID AVP).
//! - A new SCCRQ while a connection to that peer is established is refused (StopCCN 3) and
//!   the established one is probed with a HELLO: a restarted peer is found dead by that probe
//!   (one retransmission cycle) and is accepted on its next attempt; a stale SCCRQ from an
//!   old tie never tears down a working connection. A half-open responder instance
//!   (wait-ctl-conn) is replaced by a new SCCRQ.
//! - Both ends send ICRQs for their pseudowires; the connection's responder waits
//!   `responder_pw_delay` first, so the usual case has no session tie. A session tie is
//!   resolved by the Session Tie Breaker (the loser answers the winner's ICRQ, the winner
//!   sends CDN 13). A failed session is retried every `pw_retry_delay` while the connection
//!   is up. A new ICRQ for a pseudowire that already has a session replaces it.
//! - Remote End ID is sent as a 4-byte VC ID; a decimal string is accepted too (an
//!   all-digit value is read as a string, so four ASCII digits mean the number they spell).
//!   An unknown VC ID gets CDN 6, a PW type mismatch CDN 14, sequencing without a sublayer
//!   CDN 15, a missing mandatory AVP CDN 2 (StopCCN 2 for control messages).
//! - Acknowledgements are ACK messages (type 20), with a digest when one is configured; ZLBs
//!   only with `zlb_acks` and no digest. ACKs are sent at the end of each call (no delay
//!   timer), or piggybacked on a message sent in the same call.
//! - Authentication: `digest` + secret = RFC 3931 digest with nonces; `digest` without secret
//!   = integrity only; `secret2` = a second digest for a secret change; `challenge` = the RFC
//!   2661 Challenge/Response, alone or with the digest. A message whose digest fails is
//!   dropped and counted; an SCCRQ without the digest we require, or with a nonce we cannot
//!   honour, is refused with StopCCN 4; a wrong challenge response clears with StopCCN 4.
//!   Hidden AVPs are decoded (RFC 3931 key), never sent.
//! - A peer that stops answering (retransmissions exhausted, Hello included) is cleared at
//!   once, without a StopCCN: sessions are removed (`RemoveSession`, `PwLink` down) and
//!   `ConnectionDown` is emitted.
//! - A circuit change during session setup is sent by SLI once the session is established.
//!
//! Not done here: outgoing calls (OCRQ is answered with CDN 5), WEN content, sending hidden
//! AVPs, counting data-plane traffic as Hello activity.

pub mod api;
pub mod auth;
mod core;
pub mod msg;
pub mod reliable;
pub mod rng;
pub mod timer;
pub mod wire;

pub use crate::core::{Core, CoreStats, ACCEPT_ANY_PENDING_MAX};
pub use api::*;
pub use auth::{DigestAlg, Secret};
pub use rng::{OsRandom, Random, SeededRandom};
