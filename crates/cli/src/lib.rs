//! pwire-cli: the CLI engine (VPP's `vlib/cli.c` and `vlib/unix/cli.c`), generic over the
//! context `C` the handlers act on.
//!
//! - [`Registry`] holds [`Command`]s in a word trie. Words match by unique prefix as in VPP
//!   (`sh int`, `set int st pg0 up`); an ambiguous prefix resolves to a sub-command whose full
//!   word equals it, otherwise it is an error; the longest matching path wins and the other
//!   words are arguments (`show interface` vs `show interface address`). `help [prefix]` and a
//!   trailing `?` list commands. Errors print as `<command path>: <message>`.
//! - [`Args`] is the handler's cursor over its arguments, with typed helpers, and the buffer it
//!   writes output to.
//! - [`Registry::run_script`] runs `exec` files: `#` comments, backslash continuation,
//!   `<file>:<line>: CLI line error: <error>`.
//! - [`Server`] listens on a unix socket and hands each command line to the main thread as a
//!   [`Request`] on a channel, because commands run on the dataplane's main thread (under a
//!   worker barrier unless the command is mp-safe: [`Registry::resolve`] tells which).
//!
//! # Wire protocol (server ⇄ `pwctl`)
//!
//! - The client sends one command per line: UTF-8, `\n`-terminated (a `\r` before the `\n` is
//!   ignored). At most [`MAX_LINE`] bytes (64 KiB) per line.
//! - For every line the server answers with the output text, each line ending in `\n`,
//!   followed by one terminator line: `\0OK\n` on success, `\0ERR\n` on failure. On failure
//!   the error message is the last line of the output, e.g.
//!   `create l2tpv3 tunnel: our address not specified\n\0ERR\n`. A NUL in output is sent as the
//!   two characters `\0`, so only a terminator line starts with NUL.
//! - An empty line gets an empty OK reply (`\0OK\n`).
//! - `quit` or `exit` closes the connection without a reply.
//! - A line longer than the limit gets `command line too long ...` and `\0ERR`; the rest of
//!   that line is skipped and the connection stays usable. Invalid UTF-8 or a control
//!   character (other than tab) gets an error reply and never reaches the dataplane.
//! - A line not terminated by `\n` when the client disconnects is dropped, not run: a
//!   truncated command must not do half of what was meant.
//! - Over [`MAX_CLIENTS`] connections, a new client gets one error reply and is closed.
//! - Commands on one connection run in order, one at a time; clients are independent.

mod args;
mod client;
mod error;
mod registry;
mod script;
mod server;

pub use args::Args;
pub use client::Client;
pub use error::CliError;
pub use registry::{Command, Handler, Registry};
pub use script::{
    read_file, read_text_file, script_lines, ScriptError, ScriptLine, MAX_FILE_BYTES,
};
pub use server::{
    Limits, Reply, Request, Server, ERR_TERMINATOR, MAX_CLIENTS, MAX_LINE, OK_TERMINATOR,
};
