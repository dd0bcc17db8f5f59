//! pwctl: the command-line client of a running pwire dataplane (VPP's `vppctl`).
//!
//! ```text
//! pwctl [-s SOCKET] show runtime     one command, then exit
//! pwctl [-s SOCKET]                  interactive: `pwire# ` prompt, history in ~/.pwctl_history
//! pwctl < commands.txt               one command per stdin line when stdin is not a terminal
//! ```
//!
//! The socket is `-s SOCKET`, else `$PWIRE_CLI_SOCKET`, else `/run/pwire/cli.sock`.
//!
//! Exit status: 0 on success; 1 when a command failed (one-shot), or when any command failed
//! (stdin not a terminal), the error text going to stderr; 2 when the socket cannot be reached
//! or the connection is lost.
//!
//! Protocol (documented in the `pwire-cli` crate): one command per `\n`-terminated line; the
//! reply is the output followed by a `\0OK\n` or `\0ERR\n` line; `quit`/`exit` are handled here
//! and never sent.

use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use rustyline::error::ReadlineError;

const DEFAULT_SOCKET: &str = "/run/pwire/cli.sock";
const SOCKET_ENV: &str = "PWIRE_CLI_SOCKET";
const PROMPT: &str = "pwire# ";
const HISTORY_FILE: &str = ".pwctl_history";
// Must equal pwire_cli::{OK_TERMINATOR, ERR_TERMINATOR}; the integration tests run against the
// real server, so a drift fails them. Kept here so the client does not link the server.
const OK_LINE: &[u8] = b"\0OK\n";
const ERR_LINE: &[u8] = b"\0ERR\n";

/// Exit status when a command failed.
const EXIT_FAILED: u8 = 1;
/// Exit status when pwire cannot be reached or the connection is lost.
const EXIT_UNREACHABLE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "pwctl",
    version,
    about = "Run CLI commands on a running pwire dataplane",
    after_help = "Without a command, pwctl reads commands interactively (or from stdin)."
)]
struct Opts {
    /// CLI socket [default: $PWIRE_CLI_SOCKET, else /run/pwire/cli.sock]
    #[arg(short, long, value_name = "SOCKET")]
    socket: Option<PathBuf>,
    /// Command to run once, e.g. `show interface`
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// A command's reply.
#[derive(Debug)]
enum Outcome {
    Ok(String),
    Failed(String),
}

#[derive(Debug)]
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn connect(path: &Path) -> io::Result<Conn> {
        let writer = UnixStream::connect(path)?;
        Ok(Conn {
            reader: BufReader::new(writer.try_clone()?),
            writer,
        })
    }

    /// Sends one command and reads its framed reply.
    fn run(&mut self, line: &str) -> io::Result<Outcome> {
        // A newline inside (from a shell argument) would make two commands.
        let line = line.replace(['\n', '\r'], " ");
        self.writer.write_all(format!("{line}\n").as_bytes())?;
        let mut out = Vec::new();
        loop {
            let start = out.len();
            if self.reader.read_until(b'\n', &mut out)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by pwire",
                ));
            }
            let ok = match &out[start..] {
                OK_LINE => true,
                ERR_LINE => false,
                _ => continue,
            };
            out.truncate(start);
            let text = String::from_utf8_lossy(&out).into_owned();
            return Ok(if ok {
                Outcome::Ok(text)
            } else {
                Outcome::Failed(text)
            });
        }
    }
}

fn socket_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os(SOCKET_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

fn is_quit(line: &str) -> bool {
    matches!(line.trim(), "quit" | "exit")
}

/// Writes to stdout or stderr; a closed pipe (`pwctl show run | head`) is not an error.
fn emit(text: &str, to_stderr: bool) {
    if to_stderr {
        let _ = io::stdout().flush();
        let _ = io::stderr().lock().write_all(text.as_bytes());
    } else {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

fn lost(socket: &Path, e: &io::Error) -> ExitCode {
    eprintln!("pwctl: {}: {e}", socket.display());
    ExitCode::from(EXIT_UNREACHABLE)
}

/// Runs one line; `Ok(false)` when the command failed.
fn run_line(conn: &mut Conn, line: &str) -> io::Result<bool> {
    Ok(match conn.run(line)? {
        Outcome::Ok(out) => {
            emit(&out, false);
            true
        }
        Outcome::Failed(out) => {
            emit(&out, true);
            false
        }
    })
}

fn one_shot(conn: &mut Conn, socket: &Path, line: &str) -> ExitCode {
    if is_quit(line) {
        return ExitCode::SUCCESS;
    }
    match run_line(conn, line) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILED),
        Err(e) => lost(socket, &e),
    }
}

/// Commands from a non-terminal stdin: no prompt; `#` comment lines and blank lines skipped.
fn piped(conn: &mut Conn, socket: &Path) -> ExitCode {
    let mut stdin = io::stdin().lock();
    let mut failed = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match stdin.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("pwctl: reading stdin: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if is_quit(line) {
            break;
        }
        match run_line(conn, line) {
            Ok(ok) => failed |= !ok,
            Err(e) => return lost(socket, &e),
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Interactive terminal session with line editing and history.
fn interactive(conn: &mut Conn, socket: &Path) -> ExitCode {
    let Ok(mut rl) = rustyline::DefaultEditor::new() else {
        return piped(conn, socket);
    };
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(HISTORY_FILE));
    if let Some(h) = &history {
        // No history yet, or unreadable: start empty.
        let _ = rl.load_history(h);
    }
    let mut code = ExitCode::SUCCESS;
    loop {
        match rl.readline(PROMPT) {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line);
                if is_quit(line) {
                    break;
                }
                if let Err(e) = run_line(conn, line) {
                    code = lost(socket, &e);
                    break;
                }
            }
            // Ctrl-C abandons the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("pwctl: {e}");
                code = ExitCode::from(EXIT_FAILED);
                break;
            }
        }
    }
    if let Some(h) = &history {
        // An unwritable home directory only loses history.
        let _ = rl.save_history(h);
    }
    code
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    let socket = socket_path(opts.socket);
    let mut conn = match Conn::connect(&socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pwctl: cannot connect to {}: {e}", socket.display());
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    if !opts.command.is_empty() {
        one_shot(&mut conn, &socket, &opts.command.join(" "))
    } else if io::stdin().is_terminal() {
        interactive(&mut conn, &socket)
    } else {
        piped(&mut conn, &socket)
    }
}
