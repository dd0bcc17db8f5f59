//! A typed cursor over a section body, so each feature parses its own words.
//!
//! Typical use:
//!
//! ```
//! # use pwire_config::{parse_tree, ConfigError};
//! # fn main() -> Result<(), ConfigError> {
//! let doc = parse_tree("t.conf", "mine { size 64K flag }")?;
//! let sec = &doc.sections()?[0];
//! let mut cur = sec.cursor();
//! let (mut size, mut flag) = (0, false);
//! while let Some(key) = cur.next_word()? {
//!     match key.as_str() {
//!         "size" => size = cur.size(key)?,
//!         "flag" => flag = true,
//!         _ => return Err(cur.unknown(key)),
//!     }
//! }
//! assert_eq!((size, flag), (65536, true));
//! # Ok(()) }
//! ```
//!
//! A block (`{ }`) after a word must be claimed with [`Cursor::block`] or
//! [`Cursor::expect_block`] before the cursor moves on; otherwise the next
//! move fails with ``unexpected `{' after `<word>'`` at that `{`. Looping on
//! [`Cursor::next_word`] until `None` therefore checks every block.

use crate::error::ConfigError;
use crate::tree::{Item, Token};

/// Highest CPU count a core list or mask may address (Linux's NR_CPUS
/// ceiling). Bounds the work a hostile `0-99999999` can cause.
pub const MAX_CPUS: usize = 8192;

/// Cursor over the items of one block.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    file: &'a str,
    items: &'a [Item],
    pos: usize,
    /// Last consumed item, until its block (if any) is claimed.
    unclaimed: Option<&'a Item>,
}

impl<'a> Cursor<'a> {
    /// A cursor over `items`; `file` names the source in errors.
    pub fn new(file: &'a str, items: &'a [Item]) -> Self {
        Self {
            file,
            items,
            pos: 0,
            unclaimed: None,
        }
    }

    /// The file name errors carry.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// True when no word is left.
    pub fn at_end(&self) -> bool {
        self.pos >= self.items.len()
    }

    /// The next word, without consuming it.
    pub fn peek(&self) -> Option<&'a Token> {
        self.items.get(self.pos).map(|it| &it.word)
    }

    fn check_unclaimed(&mut self) -> Result<(), ConfigError> {
        if let Some(it) = self.unclaimed.take() {
            if let Some(b) = &it.block {
                return Err(ConfigError::new(
                    self.file,
                    b.line,
                    b.col,
                    format!("unexpected `{{' after `{}'", it.word.text),
                ));
            }
        }
        Ok(())
    }

    /// Consumes the next item (word plus block, which the caller then owns).
    pub fn next_item(&mut self) -> Result<Option<&'a Item>, ConfigError> {
        self.check_unclaimed()?;
        let it = self.items.get(self.pos);
        if it.is_some() {
            self.pos += 1;
        }
        Ok(it)
    }

    /// Consumes the next word; `Ok(None)` at the end of the block.
    pub fn next_word(&mut self) -> Result<Option<&'a Token>, ConfigError> {
        let it = self.next_item()?;
        self.unclaimed = it;
        Ok(it.map(|it| &it.word))
    }

    /// Consumes the value that must follow `key`.
    ///
    /// Error ``missing value for `<key>'`` at `key` when the block ends.
    pub fn expect_value(&mut self, key: &Token) -> Result<&'a Token, ConfigError> {
        self.next_word()?
            .ok_or_else(|| self.error(key, format!("missing value for `{}'", key.text)))
    }

    /// The value after `key` as an owned string.
    pub fn string(&mut self, key: &Token) -> Result<String, ConfigError> {
        Ok(self.expect_value(key)?.text.clone())
    }

    /// The `{ }` block of the word just consumed, if it has one.
    pub fn block(&mut self) -> Option<Cursor<'a>> {
        let b = self.unclaimed.take()?.block.as_ref()?;
        Some(Cursor::new(self.file, &b.items))
    }

    /// The block of the word just consumed (`word`), which must exist:
    /// error ``expected `{' after `<word>'`` at `word`.
    pub fn expect_block(&mut self, word: &Token) -> Result<Cursor<'a>, ConfigError> {
        self.block()
            .ok_or_else(|| self.error(word, format!("expected `{{' after `{}'", word.text)))
    }

    /// Fails on anything left: a dangling block, or an extra word
    /// (``unknown input `<word>'``).
    pub fn finish(mut self) -> Result<(), ConfigError> {
        self.check_unclaimed()?;
        match self.peek() {
            Some(w) => Err(self.unknown(w)),
            None => Ok(()),
        }
    }

    /// An error located at `tok`.
    pub fn error(&self, tok: &Token, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, tok, msg)
    }

    /// VPP's error for a word a section does not know: ``unknown input `<word>'``.
    pub fn unknown(&self, tok: &Token) -> ConfigError {
        self.error(tok, format!("unknown input `{}'", tok.text))
    }

    fn number(&mut self, key: &Token) -> Result<(u64, &'a Token), ConfigError> {
        let v = self.expect_value(key)?;
        match parse_u64(&v.text) {
            Some(n) => Ok((n, v)),
            None => Err(self.error(
                v,
                format!("expected a number for `{}', got `{}'", key.text, v.text),
            )),
        }
    }

    fn too_large(&self, key: &Token, v: &Token, max: u64) -> ConfigError {
        self.error(
            v,
            format!(
                "value `{}' for `{}' is too large (max {max})",
                v.text, key.text
            ),
        )
    }

    /// The decimal value after `key` as `u64`.
    pub fn u64(&mut self, key: &Token) -> Result<u64, ConfigError> {
        Ok(self.number(key)?.0)
    }

    /// The decimal value after `key` as `u32`.
    pub fn u32(&mut self, key: &Token) -> Result<u32, ConfigError> {
        let (n, v) = self.number(key)?;
        u32::try_from(n).map_err(|_| self.too_large(key, v, u32::MAX.into()))
    }

    /// The decimal value after `key` as `usize`.
    pub fn usize(&mut self, key: &Token) -> Result<usize, ConfigError> {
        let (n, v) = self.number(key)?;
        usize::try_from(n).map_err(|_| self.too_large(key, v, u64::MAX))
    }

    /// The decimal value after `key`, which must lie in `lo..=hi`:
    /// error `` `<key>' must be between <lo> and <hi>, got `<v>' `` at the value.
    pub fn u32_in(&mut self, key: &Token, lo: u32, hi: u32) -> Result<u32, ConfigError> {
        let (n, v) = self.number(key)?;
        match u32::try_from(n) {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(self.error(
                v,
                format!(
                    "`{}' must be between {lo} and {hi}, got `{}'",
                    key.text, v.text
                ),
            )),
        }
    }

    /// A yes/no value: `on|yes|true|enable|1` or `off|no|false|disable|0`.
    pub fn bool(&mut self, key: &Token) -> Result<bool, ConfigError> {
        let v = self.expect_value(key)?;
        match v.text.as_str() {
            "on" | "yes" | "true" | "enable" | "1" => Ok(true),
            "off" | "no" | "false" | "disable" | "0" => Ok(false),
            _ => Err(self.error(
                v,
                format!("expected on or off for `{}', got `{}'", key.text, v.text),
            )),
        }
    }

    /// A CPU list like `2-3,18-19`: sorted, without duplicates (VPP keeps
    /// it as a bitmap). Each CPU must be below [`MAX_CPUS`].
    pub fn corelist(&mut self, key: &Token) -> Result<Vec<usize>, ConfigError> {
        let v = self.expect_value(key)?;
        parse_corelist(&v.text).map_err(|why| {
            self.error(
                v,
                format!("invalid core list `{}' for `{}': {why}", v.text, key.text),
            )
        })
    }

    /// A hex CPU mask (`0x1c` or `1c`) as the sorted list of its set bits.
    pub fn hex_mask(&mut self, key: &Token) -> Result<Vec<usize>, ConfigError> {
        let v = self.expect_value(key)?;
        parse_hex_mask(&v.text).map_err(|why| {
            self.error(
                v,
                format!("invalid hex mask `{}' for `{}': {why}", v.text, key.text),
            )
        })
    }

    /// A byte size: a decimal number with an optional binary suffix
    /// `K`, `M`, `G` or `T` (either case): `64K`, `512M`, `1G`.
    pub fn size(&mut self, key: &Token) -> Result<u64, ConfigError> {
        let v = self.expect_value(key)?;
        parse_size(&v.text).ok_or_else(|| {
            self.error(
                v,
                format!(
                    "invalid size `{}' for `{}' (expected e.g. 64K, 512M, 1G)",
                    v.text, key.text
                ),
            )
        })
    }
}

/// Decimal digits only: no sign, no `0x`, no separators.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_cpu(s: &str) -> Result<usize, String> {
    let n = parse_u64(s).ok_or_else(|| format!("`{s}' is not a number"))?;
    match usize::try_from(n) {
        Ok(n) if n < MAX_CPUS => Ok(n),
        _ => Err(format!("CPU {s} is above {}", MAX_CPUS - 1)),
    }
}

fn parse_corelist(s: &str) -> Result<Vec<usize>, String> {
    let mut set = vec![false; MAX_CPUS];
    for part in s.split(',') {
        if part.is_empty() {
            return Err("empty element".into());
        }
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (parse_cpu(a)?, parse_cpu(b)?),
            None => {
                let n = parse_cpu(part)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("range `{part}' is reversed"));
        }
        set.iter_mut()
            .take(hi + 1)
            .skip(lo)
            .for_each(|slot| *slot = true);
    }
    Ok(bits(&set))
}

fn parse_hex_mask(s: &str) -> Result<Vec<usize>, String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() {
        return Err("no hex digits".into());
    }
    let mut set = vec![false; MAX_CPUS];
    // Least significant digit first: digit i covers bits 4i..4i+3.
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c
            .to_digit(16)
            .ok_or_else(|| format!("`{c}' is not a hex digit"))?;
        for bit in 0..4 {
            if d & (1 << bit) != 0 {
                let cpu = i * 4 + bit;
                *set.get_mut(cpu)
                    .ok_or_else(|| format!("CPU {cpu} is above {}", MAX_CPUS - 1))? = true;
            }
        }
    }
    Ok(bits(&set))
}

fn bits(set: &[bool]) -> Vec<usize> {
    set.iter()
        .enumerate()
        .filter_map(|(i, &on)| on.then_some(i))
        .collect()
}

pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let (num, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        (i, 't' | 'T') => (&s[..i], 40),
        _ => (s, 0),
    };
    parse_u64(num)?.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn corelist_cases() {
        assert_eq!(parse_corelist("2-3,18-19"), Ok(vec![2, 3, 18, 19]));
        assert_eq!(parse_corelist("5,1,1-2"), Ok(vec![1, 2, 5]));
        assert_eq!(parse_corelist("7"), Ok(vec![7]));
        assert_eq!(
            parse_corelist("3-1"),
            Err("range `3-1' is reversed".to_string())
        );
        assert_eq!(parse_corelist("1,,2"), Err("empty element".to_string()));
        assert_eq!(parse_corelist("1-"), Err("`' is not a number".to_string()));
        assert_eq!(
            parse_corelist("0-8192"),
            Err("CPU 8192 is above 8191".to_string())
        );
    }

    #[test]
    fn hex_mask_cases() {
        assert_eq!(parse_hex_mask("0x1c"), Ok(vec![2, 3, 4]));
        assert_eq!(parse_hex_mask("F0"), Ok(vec![4, 5, 6, 7]));
        assert_eq!(parse_hex_mask("0"), Ok(vec![]));
        assert!(parse_hex_mask("0x").is_err());
        assert!(parse_hex_mask("0xg").is_err());
    }

    #[test]
    fn size_cases() {
        for (s, want) in [
            ("0", Some(0)),
            ("4096", Some(4096)),
            ("64K", Some(64 << 10)),
            ("64k", Some(64 << 10)),
            ("512M", Some(512 << 20)),
            ("1G", Some(1 << 30)),
            ("2T", Some(2 << 40)),
            ("K", None),
            ("1.5G", None),
            ("-1", None),
            ("1GB", None),
            ("99999999999999999999", None),
            ("99999999999T", None),
            ("", None),
        ] {
            assert_eq!(parse_size(s), want, "{s}");
        }
    }
}
