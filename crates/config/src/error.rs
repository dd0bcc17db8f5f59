//! The one error type of this crate: a message pinned to `file:line:col`.

use std::fmt;

use crate::tree::Token;

/// A configuration error located at the offending token.
///
/// `line` and `col` are 1-based; a column counts characters (a tab is one).
/// `line == 0` means the error concerns the file as a whole (it cannot be
/// read, it is not UTF-8 before any token): `Display` then prints
/// `<file>: <msg>` rather than a fake position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name as given to the parser (a path, or a name like `<cmdline>`).
    pub file: String,
    /// 1-based line, or 0 for a whole-file error.
    pub line: u32,
    /// 1-based column in characters, or 0 for a whole-file error.
    pub col: u32,
    /// What is wrong; it quotes the offending word VPP-style: `` `word' ``.
    pub msg: String,
}

impl ConfigError {
    /// An error at an explicit position.
    pub fn new(file: impl Into<String>, line: u32, col: u32, msg: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line,
            col,
            msg: msg.into(),
        }
    }

    /// An error located at `tok`.
    pub fn at(file: &str, tok: &Token, msg: impl Into<String>) -> Self {
        Self::new(file, tok.line, tok.col, msg)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
        }
    }
}

impl std::error::Error for ConfigError {}
