//! What a test needs from the machine (root, network namespaces, `ip`, `tshark`, ...), under
//! one rule for every test:
//!
//! - Where the environment can provide it — running as root, or `CI` set — a missing
//!   prerequisite is a failure: the test panics and says what is missing. scripts/test.sh
//!   installs the tools, so as root nothing may quietly pass without having run.
//! - Elsewhere (a developer without root) the test prints `skipped: <why>` and returns.
//!
//! Use: `let Some(ns) = require(Netns::new()) else { return };`, or
//! `if require(tool("tshark", "-v")).is_none() { return; }`.

use std::fmt::Display;
use std::io::Write;
use std::process::Command;

extern "C" {
    fn geteuid() -> u32;
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() }
}

/// What happens to a test whose prerequisite is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Panic: the environment could have provided it (root, or CI).
    Fail,
    /// Print `skipped: <why>` and let the test return.
    Skip,
}

impl Policy {
    /// The rule: root, or `CI` set to anything but the empty string, fails.
    pub fn from_env(euid: u32, ci: Option<&std::ffi::OsStr>) -> Policy {
        if euid == 0 || ci.is_some_and(|v| !v.is_empty()) {
            Policy::Fail
        } else {
            Policy::Skip
        }
    }

    /// The policy of this process.
    pub fn current() -> Policy {
        Policy::from_env(euid(), std::env::var_os("CI").as_deref())
    }

    /// A prerequisite is missing: panics under [`Policy::Fail`], else prints
    /// `skipped: <why>` (the caller then returns).
    #[track_caller]
    pub fn missing(self, why: &dyn Display) {
        // Straight to stderr, not eprintln!: libtest captures eprintln! of a passing test, and
        // the skip must show in the log (scripts/test.sh greps for it).
        self.missing_to(why, &mut std::io::stderr());
    }

    #[track_caller]
    fn missing_to(self, why: &dyn Display, out: &mut dyn Write) {
        match self {
            Policy::Fail => panic!(
                "test prerequisite missing: {why} (as root or with CI set a test must run, \
                 not skip; scripts/test.sh installs what the tests need)"
            ),
            Policy::Skip => {
                // libtest names a test's thread after the test: say which test skips.
                let _ = match std::thread::current().name() {
                    Some(t) if t != "main" => writeln!(out, "skipped: {t}: {why}"),
                    _ => writeln!(out, "skipped: {why}"),
                };
            }
        }
    }

    /// `Ok(v)` is `Some(v)`; `Err(why)` goes to [`Policy::missing`] and is `None`.
    #[track_caller]
    pub fn require<T, E: Display>(self, r: Result<T, E>) -> Option<T> {
        self.require_to(r, &mut std::io::stderr())
    }

    #[track_caller]
    fn require_to<T, E: Display>(self, r: Result<T, E>, out: &mut dyn Write) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(why) => {
                self.missing_to(&why, out);
                None
            }
        }
    }
}

/// [`Policy::missing`] under this process's policy.
#[track_caller]
pub fn missing(why: impl Display) {
    Policy::current().missing(&why);
}

/// [`Policy::require`] under this process's policy: `None` means the test must return.
#[track_caller]
pub fn require<T, E: Display>(r: Result<T, E>) -> Option<T> {
    Policy::current().require(r)
}

/// Ok when running as root (network namespaces, raw sockets).
pub fn root() -> Result<(), String> {
    match euid() {
        0 => Ok(()),
        e => Err(format!("needs root (euid is {e})")),
    }
}

/// Ok when `bin version_arg` runs and exits 0 (`ip -V`, `tshark -v`, ...).
pub fn tool(bin: &str, version_arg: &str) -> Result<(), String> {
    match Command::new(bin).arg(version_arg).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("`{bin} {version_arg}' failed: {}", o.status)),
        Err(e) => Err(format!("`{bin}' is not runnable: {e}")),
    }
}

/// Ok when tshark runs (the dissector checks of captures).
pub fn tshark() -> Result<(), String> {
    tool("tshark", "-v")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn root_or_ci_fails_anyone_else_skips() {
        assert_eq!(Policy::from_env(0, None), Policy::Fail);
        assert_eq!(Policy::from_env(0, Some(OsStr::new(""))), Policy::Fail);
        assert_eq!(
            Policy::from_env(1000, Some(OsStr::new("true"))),
            Policy::Fail
        );
        assert_eq!(Policy::from_env(1000, Some(OsStr::new("1"))), Policy::Fail);
        assert_eq!(Policy::from_env(1000, None), Policy::Skip);
        assert_eq!(Policy::from_env(65534, Some(OsStr::new(""))), Policy::Skip);
    }

    #[test]
    fn a_missing_prerequisite_panics_with_its_reason_under_fail() {
        let absent = tool("pwire-no-such-tool", "-V");
        let err = absent.clone().unwrap_err();
        assert!(err.contains("pwire-no-such-tool"), "{err}");
        let mut out = Vec::new();
        let p = catch_unwind(AssertUnwindSafe(|| {
            Policy::Fail.require_to(absent, &mut out)
        }))
        .expect_err("a missing tool must fail the test as root or in CI");
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("test prerequisite missing") && msg.contains("pwire-no-such-tool"),
            "{msg}"
        );
        assert!(out.is_empty(), "no skip line when failing");
    }

    #[test]
    fn a_missing_prerequisite_skips_under_skip_and_a_present_one_runs() {
        let mut out = Vec::new();
        assert_eq!(
            Policy::Skip.require_to(Err::<u8, _>("no tshark"), &mut out),
            None
        );
        let t = std::thread::current().name().unwrap_or("main").to_string();
        let want = if t == "main" {
            "skipped: no tshark\n".to_string()
        } else {
            format!("skipped: {t}: no tshark\n")
        };
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut out = Vec::new();
        assert_eq!(
            Policy::Fail.require_to(Ok::<u8, String>(7), &mut out),
            Some(7)
        );
        assert_eq!(
            Policy::Skip.require_to(Ok::<u8, String>(7), &mut out),
            Some(7)
        );
        assert!(out.is_empty());
        // A tool that exists and one that runs but fails.
        assert_eq!(
            tool("false", "-V").err(),
            Some("`false -V' failed: exit status: 1".into())
        );
        tool("true", "-V").expect("`true' runs");
    }

    #[test]
    fn this_process_follows_the_rule() {
        let want = Policy::from_env(euid(), std::env::var_os("CI").as_deref());
        assert_eq!(Policy::current(), want);
        assert_eq!(root().is_ok(), euid() == 0);
        // Under Skip this would print a real skip line into the log: only the Fail side here.
        if want == Policy::Fail {
            assert!(catch_unwind(|| missing("nothing")).is_err());
            assert!(catch_unwind(|| require(Err::<(), _>("nothing"))).is_err());
        }
    }
}
