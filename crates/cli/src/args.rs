//! `Args`: the cursor a handler parses its arguments with, and the sink it writes output to.

use core::fmt;
use core::net::Ipv6Addr;
use core::str::FromStr;
use core::time::Duration;

use crate::CliError;

/// A cursor over the words after the command path, plus the command's output buffer.
///
/// Words are whitespace-separated. The raw text is kept, so [`Args::rest`] can quote what the
/// operator typed in an `unknown input` message and [`Args::braced_block`] can take a `{ ... }`
/// block verbatim. A parse helper that fails leaves the cursor where it was, so optional
/// arguments can be tried in turn.
///
/// Output: write with `writeln!(args, ...)` or [`Args::output`]; the registry appends it to the
/// caller's buffer and makes sure it ends with one newline. `Args::new` over a sub-block (for
/// example the text returned by [`Args::braced_block`]) has its own buffer, which nothing reads:
/// write output to the `Args` the handler was given.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    line: &'a str,
    pos: usize,
    out: String,
}

impl<'a> Args<'a> {
    /// A cursor over all of `text`.
    pub fn new(text: &'a str) -> Self {
        Self::at(text, 0)
    }

    /// A cursor over `line` starting at byte `pos` (a char boundary).
    pub(crate) fn at(line: &'a str, pos: usize) -> Self {
        Args {
            line,
            pos,
            out: String::new(),
        }
    }

    /// Byte offset of the next word (or the end of the line).
    fn word_start(&self) -> usize {
        let s = &self.line[self.pos..];
        self.pos + (s.len() - s.trim_start().len())
    }

    /// The next word and the offset just past it.
    fn next_span(&self) -> Option<(&'a str, usize)> {
        let start = self.word_start();
        let s = &self.line[start..];
        let len = s.find(char::is_whitespace).unwrap_or(s.len());
        (len > 0).then(|| (&s[..len], start + len))
    }

    /// The next word, not consumed.
    pub fn peek(&self) -> Option<&'a str> {
        self.next_span().map(|(w, _)| w)
    }

    /// Consumes and returns the next word.
    pub fn next_word(&mut self) -> Option<&'a str> {
        let (w, end) = self.next_span()?;
        self.pos = end;
        Some(w)
    }

    /// True when no word is left.
    pub fn is_empty(&self) -> bool {
        self.peek().is_none()
    }

    /// The unparsed rest of the line, trimmed, as typed.
    pub fn rest(&self) -> &'a str {
        self.line[self.pos..].trim()
    }

    /// Consumes the next word if it is exactly `kw` (VPP `unformat (input, "verbose")`).
    pub fn keyword(&mut self, kw: &str) -> bool {
        match self.next_span() {
            Some((w, end)) if w == kw => {
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    /// A required word (an interface name, a file name): `expected <name>` at end of line.
    pub fn word(&mut self, name: &str) -> Result<&'a str, CliError> {
        self.next_word().ok_or_else(|| CliError::missing(name))
    }

    /// Parses the next word with `parse`; consumes it only on success.
    fn parse_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, CliError> {
        let (tok, end) = self.next_span().ok_or_else(|| CliError::missing(name))?;
        let v = parse(tok).ok_or_else(|| CliError::expected(name, tok))?;
        self.pos = end;
        Ok(v)
    }

    /// The next word parsed with `FromStr`; ``expected <name> `<tok>'`` when it does not parse.
    pub fn value<T: FromStr>(&mut self, name: &str) -> Result<T, CliError> {
        self.parse_with(name, |t| t.parse().ok())
    }

    /// A decimal `u32` (digits only: no sign, no `0x`).
    pub fn u32(&mut self, name: &str) -> Result<u32, CliError> {
        self.parse_with(name, |t| decimal(t)?.parse().ok())
    }

    /// A decimal `u64` (digits only).
    pub fn u64(&mut self, name: &str) -> Result<u64, CliError> {
        self.parse_with(name, |t| decimal(t)?.parse().ok())
    }

    /// A hexadecimal `u64`, 1 to 16 digits, with or without `0x` (VPP `%llx`, used for cookies).
    pub fn hex_u64(&mut self, name: &str) -> Result<u64, CliError> {
        self.parse_with(name, parse_hex_u64)
    }

    /// An IPv6 address.
    pub fn ipv6(&mut self, name: &str) -> Result<Ipv6Addr, CliError> {
        self.parse_with(name, |t| t.parse().ok())
    }

    /// An IPv6 prefix `addr/len`, `len` in 0..=128.
    pub fn ipv6_prefix(&mut self, name: &str) -> Result<(Ipv6Addr, u8), CliError> {
        self.parse_with(name, |t| {
            let (addr, len) = t.split_once('/')?;
            let len: u8 = decimal(len)?.parse().ok()?;
            (len <= 128).then_some(())?;
            Some((addr.parse().ok()?, len))
        })
    }

    /// A MAC address, `aa:bb:cc:dd:ee:ff` or Cisco-style `aabb.ccdd.eeff`.
    pub fn mac(&mut self, name: &str) -> Result<[u8; 6], CliError> {
        self.parse_with(name, parse_mac)
    }

    /// `0` or `1`.
    pub fn bool_01(&mut self, name: &str) -> Result<bool, CliError> {
        self.parse_with(name, |t| match t {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        })
    }

    /// A non-negative number of seconds, fractions allowed (`10`, `0.5`).
    pub fn duration_secs(&mut self, name: &str) -> Result<Duration, CliError> {
        self.parse_with(name, |t| {
            // Only plain decimals: f64's parser would also take `inf`, `nan` and exponents.
            let plain = !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && t.bytes().filter(|&b| b == b'.').count() <= 1
                && t.bytes().any(|b| b.is_ascii_digit());
            if !plain {
                return None;
            }
            Duration::try_from_secs_f64(t.parse().ok()?).ok()
        })
    }

    /// ``unknown input `<rest>'`` if anything is left on the line.
    pub fn expect_end(&self) -> Result<(), CliError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CliError::unknown_input(self.rest()))
        }
    }

    /// The raw text between the next `{` and its matching `}` (nested braces allowed),
    /// trimmed; the cursor moves past the `}`. Used by `packet-generator new { ... }`.
    pub fn braced_block(&mut self) -> Result<&'a str, CliError> {
        let start = self.word_start();
        let s = &self.line[start..];
        if !s.starts_with('{') {
            return Err(match self.peek() {
                Some(tok) => CliError::expected("`{'", tok),
                None => CliError::missing("`{'"),
            });
        }
        let mut depth = 0usize;
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = start + i + 1;
                        return Ok(s[1..i].trim());
                    }
                }
                _ => {}
            }
        }
        Err(CliError::msg("missing closing `}'"))
    }

    /// Appends `text` as one `vlib_cli_output` call: a newline is added if it lacks one.
    pub fn output(&mut self, text: &str) {
        self.out.push_str(text);
        if !text.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// Moves the output out, ending it with a newline if it is not empty.
    pub(crate) fn take_output(&mut self) -> String {
        let mut out = core::mem::take(&mut self.out);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// Replaces the output (the built-in help pre-renders its text).
    pub(crate) fn set_output(&mut self, text: String) {
        self.out = text;
    }
}

impl fmt::Write for Args<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.push_str(s);
        Ok(())
    }
}

/// `Some(t)` when `t` is non-empty ASCII digits.
fn decimal(t: &str) -> Option<&str> {
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
}

fn parse_hex_u64(t: &str) -> Option<u64> {
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let ok = (1..=16).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u64::from_str_radix(digits, 16).ok())?
}

/// `aa:bb:cc:dd:ee:ff` (1-2 hex digits per group) or `aabb.ccdd.eeff` (1-4 per group).
fn parse_mac(t: &str) -> Option<[u8; 6]> {
    let hex_group = |g: &str, max: usize| -> Option<u16> {
        let ok = (1..=max).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| u16::from_str_radix(g, 16).ok())?
    };
    let mut mac = [0u8; 6];
    if t.contains(':') {
        let mut groups = t.split(':');
        for b in &mut mac {
            *b = u8::try_from(hex_group(groups.next()?, 2)?).ok()?;
        }
        groups.next().is_none().then_some(mac)
    } else {
        let mut groups = t.split('.');
        for pair in mac.chunks_exact_mut(2) {
            pair.copy_from_slice(&hex_group(groups.next()?, 4)?.to_be_bytes());
        }
        groups.next().is_none().then_some(mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn words_peek_rest_keyword() {
        let mut a = Args::new("  verbose  pg0\tup  ");
        assert_eq!(a.peek(), Some("verbose"));
        assert!(!a.keyword("verb"), "keywords match exactly");
        assert!(a.keyword("verbose"));
        assert_eq!(a.rest(), "pg0\tup");
        assert_eq!(a.next_word(), Some("pg0"));
        assert!(!a.is_empty());
        assert_eq!(a.expect_end(), Err(CliError::unknown_input("up")));
        assert_eq!(a.word("state"), Ok("up"));
        assert!(a.is_empty());
        assert_eq!(a.peek(), None);
        assert_eq!(a.next_word(), None);
        assert_eq!(a.rest(), "");
        assert_eq!(a.expect_end(), Ok(()));
        assert_eq!(a.word("state"), Err(CliError::missing("state")));
        assert!(!a.keyword("x"));
    }

    #[test]
    fn unicode_words() {
        let mut a = Args::new("héllo wörld");
        assert_eq!(a.next_word(), Some("héllo"));
        assert_eq!(a.rest(), "wörld");
    }

    #[test]
    fn value_fromstr_and_errors() {
        let mut a = Args::new("42 x");
        assert_eq!(a.value::<i32>("n"), Ok(42));
        assert_eq!(
            a.value::<i32>("n").unwrap_err().to_string(),
            "expected n `x'"
        );
        // A failed parse does not consume.
        assert_eq!(a.peek(), Some("x"));
        a.next_word();
        assert_eq!(a.value::<i32>("n").unwrap_err().to_string(), "expected n");
    }

    #[test]
    fn integers() {
        let mut a = Args::new("7 4294967295 4294967296 +1 -1 0x10 18446744073709551615");
        assert_eq!(a.u32("n"), Ok(7));
        assert_eq!(a.u32("n"), Ok(u32::MAX));
        assert_eq!(
            a.u32("n").unwrap_err().to_string(),
            "expected n `4294967296'"
        );
        assert_eq!(a.u64("n"), Ok(4_294_967_296));
        assert!(a.u64("n").is_err(), "no sign");
        a.next_word();
        assert!(a.u32("n").is_err());
        a.next_word();
        assert!(a.u64("n").is_err(), "decimal only");
        a.next_word();
        assert_eq!(a.u64("n"), Ok(u64::MAX));
        assert_eq!(a.u32("n"), Err(CliError::missing("n")));
    }

    #[test]
    fn hex() {
        let mut a = Args::new("ffffffffffffffff 0x12ab 0XAB 1 12345678901234567 0x g1 -1");
        assert_eq!(a.hex_u64("cookie"), Ok(u64::MAX));
        assert_eq!(a.hex_u64("cookie"), Ok(0x12ab));
        assert_eq!(a.hex_u64("cookie"), Ok(0xab));
        assert_eq!(a.hex_u64("cookie"), Ok(1));
        for bad in ["12345678901234567", "0x", "g1", "-1"] {
            assert_eq!(
                a.hex_u64("cookie").unwrap_err().to_string(),
                format!("expected cookie `{bad}'")
            );
            a.next_word();
        }
    }

    #[test]
    fn ipv6_and_prefix() {
        let mut a = Args::new("2001:db8::1 ::1/128 2001:db8::/32 1.2.3.4 ::/129 ::/x fe80::/");
        assert_eq!(a.ipv6("client"), Ok("2001:db8::1".parse().unwrap()));
        assert_eq!(
            a.ipv6("client").unwrap_err().to_string(),
            "expected client `::1/128'"
        );
        assert_eq!(a.ipv6_prefix("prefix"), Ok(("::1".parse().unwrap(), 128)));
        assert_eq!(
            a.ipv6_prefix("prefix"),
            Ok(("2001:db8::".parse().unwrap(), 32))
        );
        for bad in ["1.2.3.4", "::/129", "::/x", "fe80::/"] {
            assert_eq!(
                a.ipv6_prefix("prefix").unwrap_err().to_string(),
                format!("expected prefix `{bad}'")
            );
            a.next_word();
        }
    }

    #[test]
    fn macs() {
        let want = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let mut a = Args::new("aa:bb:cc:dd:ee:ff AABB.CCDD.EEFF 2:fe:0:0:0:1 1.2.3");
        assert_eq!(a.mac("mac"), Ok(want));
        assert_eq!(a.mac("mac"), Ok(want));
        assert_eq!(a.mac("mac"), Ok([2, 0xfe, 0, 0, 0, 1]));
        assert_eq!(a.mac("mac"), Ok([0, 1, 0, 2, 0, 3]));
        for bad in [
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aaa:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:gg",
            "aa::cc:dd:ee:ff",
            "aabb.ccdd",
            "aabb.ccdd.eeff.0011",
            "aabbc.ccdd.eeff",
            "aabbccddeeff",
            "+a:bb:cc:dd:ee:ff",
        ] {
            let mut a = Args::new(bad);
            assert_eq!(
                a.mac("mac").unwrap_err().to_string(),
                format!("expected mac `{bad}'"),
                "{bad}"
            );
        }
    }

    #[test]
    fn bools_and_durations() {
        let mut a = Args::new("0 1 2 10 0.5 .25 -1 inf 1e3 1.2.3 .");
        assert_eq!(a.bool_01("enable"), Ok(false));
        assert_eq!(a.bool_01("enable"), Ok(true));
        assert_eq!(
            a.bool_01("enable").unwrap_err().to_string(),
            "expected enable `2'"
        );
        a.next_word();
        assert_eq!(a.duration_secs("t"), Ok(Duration::from_secs(10)));
        assert_eq!(a.duration_secs("t"), Ok(Duration::from_millis(500)));
        assert_eq!(a.duration_secs("t"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "inf", "1e3", "1.2.3", "."] {
            assert_eq!(
                a.duration_secs("t").unwrap_err().to_string(),
                format!("expected t `{bad}'")
            );
            a.next_word();
        }
        assert_eq!(a.duration_secs("t"), Err(CliError::missing("t")));
    }

    #[test]
    fn braced_blocks() {
        let line = "new { name x limit 10 data { 0011 {22} } } rate 5";
        let mut a = Args::new(line);
        assert!(a.keyword("new"));
        let block = a.braced_block().unwrap();
        assert_eq!(block, "name x limit 10 data { 0011 {22} }");
        assert_eq!(a.rest(), "rate 5");

        // The block parses with its own cursor.
        let mut b = Args::new(block);
        assert!(b.keyword("name"));
        assert_eq!(b.next_word(), Some("x"));
        assert!(b.keyword("limit"));
        assert_eq!(b.u32("limit"), Ok(10));
        assert!(b.keyword("data"));
        assert_eq!(b.braced_block(), Ok("0011 {22}"));
        assert_eq!(b.expect_end(), Ok(()));

        // Attached braces and an empty block.
        let mut a = Args::new("{a}{}x");
        assert_eq!(a.braced_block(), Ok("a"));
        assert_eq!(a.braced_block(), Ok(""));
        assert_eq!(a.rest(), "x");

        assert_eq!(
            Args::new("name x").braced_block().unwrap_err().to_string(),
            "expected `{' `name'"
        );
        assert_eq!(
            Args::new("").braced_block().unwrap_err().to_string(),
            "expected `{'"
        );
        let mut a = Args::new("{ a { b }");
        assert_eq!(
            a.braced_block().unwrap_err().to_string(),
            "missing closing `}'"
        );
        assert_eq!(a.rest(), "{ a { b }", "not consumed on error");
    }

    #[test]
    fn output_newlines() {
        let mut a = Args::new("");
        a.output("one");
        a.output("two\n");
        write!(a, "three").unwrap();
        assert_eq!(a.take_output(), "one\ntwo\nthree\n");
        assert_eq!(a.take_output(), "");
    }
}
