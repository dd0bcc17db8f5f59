//! A blocking client for the CLI socket protocol (see the crate docs), for tests and tools
//! that talk to a running pwire: one place that knows how a reply is framed.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::{ERR_TERMINATOR, OK_TERMINATOR};

/// One connection to a CLI socket.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to `path`; `timeout` bounds every read and write (None: block).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> io::Result<Client> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(timeout)?;
        Ok(Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Writes `bytes` as they are (no newline added): for malformed input on purpose.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Reads one framed reply: (output, ok). The connection closing before the terminator
    /// is an `UnexpectedEof` error carrying what had arrived; output that is not UTF-8 (the
    /// protocol promises it is) is `InvalidData`.
    pub fn reply(&mut self) -> io::Result<(String, bool)> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "EOF before terminator; got {:?}",
                        String::from_utf8_lossy(&out)
                    ),
                ));
            }
            let ok = if line == OK_TERMINATOR.as_bytes() {
                true
            } else if line == ERR_TERMINATOR.as_bytes() {
                false
            } else {
                out.extend_from_slice(&line);
                continue;
            };
            let out = String::from_utf8(out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            return Ok((out, ok));
        }
    }

    /// Sends `line` plus a newline and reads its reply.
    pub fn cmd(&mut self, line: &str) -> io::Result<(String, bool)> {
        self.send_raw(format!("{line}\n").as_bytes())?;
        self.reply()
    }

    /// The read side, for callers that look at the raw stream (e.g. waiting for EOF).
    pub fn reader(&mut self) -> &mut BufReader<UnixStream> {
        &mut self.reader
    }
}
