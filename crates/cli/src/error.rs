//! The CLI error type.

use core::fmt;

/// A CLI command failure, printed the VPP way: `<command path>: <message>`.
///
/// Handlers build it without a path (`CliError::msg("our address not specified")`); the
/// registry fills in the path of the command that ran, so the operator sees
/// `create l2tpv3 tunnel: our address not specified`. An error with an empty path (an unknown
/// word at the root, an empty line) prints the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    path: String,
    message: String,
}

impl CliError {
    /// An error with this message and no path yet.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError {
            path: String::new(),
            message: message.into(),
        }
    }

    /// VPP's ``unknown input `<rest>'``.
    pub fn unknown_input(rest: &str) -> Self {
        Self::msg(format!("unknown input `{rest}'"))
    }

    /// ``expected <name> `<tok>'``: a token was there but did not parse as `name`.
    pub fn expected(name: &str, token: &str) -> Self {
        Self::msg(format!("expected {name} `{token}'"))
    }

    /// `expected <name>`: the line ended where `name` was required.
    pub fn missing(name: &str) -> Self {
        Self::msg(format!("expected {name}"))
    }

    /// Sets the command path unless one is already set (the innermost path wins).
    #[must_use]
    pub fn with_path(mut self, path: &str) -> Self {
        if self.path.is_empty() {
            self.path = path.to_owned();
        }
        self
    }

    /// The command path, empty when none.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The message without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CliError {}

/// Lets handlers use `writeln!(args, ...)?`. Writing into the output `String` cannot fail, so
/// this conversion exists for the `?` operator rather than for a real failure mode.
impl From<fmt::Error> for CliError {
    fn from(_: fmt::Error) -> Self {
        CliError::msg("output formatting failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_path() {
        let e = CliError::msg("our address not specified");
        assert_eq!(e.to_string(), "our address not specified");
        let e = e.with_path("create l2tpv3 tunnel");
        assert_eq!(
            e.to_string(),
            "create l2tpv3 tunnel: our address not specified"
        );
        // The first path set is kept.
        let e = e.with_path("other");
        assert_eq!(e.path(), "create l2tpv3 tunnel");
        assert_eq!(e.message(), "our address not specified");
        assert_eq!(
            CliError::unknown_input("foo bar").to_string(),
            "unknown input `foo bar'"
        );
        assert_eq!(
            CliError::expected("client", "zz").to_string(),
            "expected client `zz'"
        );
        assert_eq!(CliError::missing("client").to_string(), "expected client");
    }
}
