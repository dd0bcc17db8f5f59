//! CLI scripts: `unix { exec <file> }`, `startup-config`, the `exec` command.

use core::fmt;

use crate::{CliError, Registry};

/// Largest file the CLI reads (`exec` scripts, pg pcap inputs): 1 GiB (a script making a million
/// tunnels is about 100 MB; the cap only bounds what one read can take).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads a file named on the command line: only a regular file (a FIFO would block the main
/// thread, `/dev/zero` would never end), at most [`MAX_FILE_BYTES`]. The error is one line.
pub fn read_file(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let md = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !md.is_file() {
        return Err("not a regular file".into());
    }
    if md.len() > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} MiB ({} bytes)",
            MAX_FILE_BYTES >> 20,
            md.len()
        ));
    }
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut v = Vec::with_capacity(md.len() as usize);
    // The file may grow after the stat: never read more than the cap.
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut v)
        .map_err(|e| e.to_string())?;
    if v.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_FILE_BYTES >> 20));
    }
    Ok(v)
}

/// [`read_file`] for text: the error names invalid UTF-8 too.
pub fn read_text_file(path: &str) -> Result<String, String> {
    String::from_utf8(read_file(path)?)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()))
}

/// One command of a script, with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    /// Line number of the first physical line of the command.
    pub line: usize,
    /// The command with comments removed and continuations joined.
    pub command: String,
}

/// The first failing command of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's name as given to `run_script`.
    pub file: String,
    /// Line the failing command starts on (1-based).
    pub line: usize,
    /// The command as run.
    pub command: String,
    /// What the command returned.
    pub error: CliError,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: CLI line error: {}",
            self.file, self.line, self.error
        )
    }
}

impl std::error::Error for ScriptError {}

/// Splits a script into commands.
///
/// `#` starts a comment that runs to the end of its physical line; the comment is removed
/// before a trailing backslash is looked for, so a backslash inside a comment does not continue
/// the line. A backslash ending a line joins the next one with a space. Blank lines are skipped.
/// A trailing backslash on the last line is ignored.
pub fn script_lines(text: &str) -> Vec<ScriptLine> {
    let mut out = Vec::new();
    let mut pending: Option<ScriptLine> = None;
    for (i, raw) in text.lines().enumerate() {
        let code = raw.split_once('#').map_or(raw, |(code, _)| code).trim_end();
        let (code, continues) = match code.strip_suffix('\\') {
            Some(c) => (c, true),
            None => (code, false),
        };
        let cur = pending.get_or_insert_with(|| ScriptLine {
            line: i + 1,
            command: String::new(),
        });
        let code = code.trim();
        if !code.is_empty() {
            if !cur.command.is_empty() {
                cur.command.push(' ');
            }
            cur.command.push_str(code);
        }
        if !continues {
            if let Some(done) = pending.take().filter(|l| !l.command.is_empty()) {
                out.push(done);
            }
        }
    }
    if let Some(done) = pending.filter(|l| !l.command.is_empty()) {
        out.push(done);
    }
    out
}

impl<C> Registry<C> {
    /// Runs a CLI script; output of every command goes to `out`. Stops at the first failing
    /// command. Commands run directly: a caller with running workers should instead iterate
    /// [`script_lines`] and apply its barrier per command.
    pub fn run_script(
        &self,
        text: &str,
        file: &str,
        ctx: &mut C,
        out: &mut String,
    ) -> Result<(), ScriptError> {
        for l in script_lines(text) {
            self.execute(&l.command, ctx, out)
                .map_err(|error| ScriptError {
                    file: file.to_owned(),
                    line: l.line,
                    command: l.command.clone(),
                    error,
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;

    #[test]
    fn splitting() {
        let text = "\
# a comment
show version   # trailing comment

create l2tpv3 tunnel \\
   client ::1 \\
   our ::2
  \t
set int st pg0 up # comment with backslash \\
last line \\";
        let got = script_lines(text);
        let want = [
            (2, "show version"),
            (4, "create l2tpv3 tunnel client ::1 our ::2"),
            (8, "set int st pg0 up"),
            (9, "last line"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, (line, cmd)) in got.iter().zip(want) {
            assert_eq!((g.line, g.command.as_str()), (line, cmd));
        }
        assert!(script_lines("").is_empty());
        assert!(script_lines("#only\n\n   \n").is_empty());
        // CRLF files work too.
        let crlf = script_lines("a\r\nb \\\r\n c\r\n");
        assert_eq!(crlf[1].command, "b c");
    }

    fn reg() -> Registry<Vec<String>> {
        let mut r = Registry::new();
        r.add(Command::new(
            "set x",
            "set x <n>",
            false,
            |a, log: &mut Vec<String>| {
                let n = a.u32("value")?;
                a.expect_end()?;
                log.push(n.to_string());
                a.output(&format!("x={n}"));
                Ok(())
            },
        ));
        r
    }

    #[test]
    fn runs_until_first_error() {
        let r = reg();
        let mut log = Vec::new();
        let mut out = String::new();
        let text = "set x 1\n# skip\nset \\\n  x 2\n\nset x zz\nset x 3\n";
        let err = r
            .run_script(text, "startup.cli", &mut log, &mut out)
            .unwrap_err();
        assert_eq!(log, ["1", "2"]);
        assert_eq!(out, "x=1\nx=2\n");
        assert_eq!(err.line, 6);
        assert_eq!(err.file, "startup.cli");
        assert_eq!(err.command, "set x zz");
        assert_eq!(
            err.to_string(),
            "startup.cli:6: CLI line error: set x: expected value `zz'"
        );
        let err = r
            .run_script("set x 1\n\nbogus words", "f", &mut log, &mut out)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "f:3: CLI line error: unknown input `bogus words'"
        );
        assert_eq!(r.run_script("# nothing\n", "f", &mut log, &mut out), Ok(()));
    }
}
