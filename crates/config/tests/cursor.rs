//! The typed cursor, driven the way a feature crate would drive it.

use pwire_config::{parse_tree, ConfigError, Cursor, Document};

fn doc(text: &str) -> Document {
    parse_tree("f.conf", text).unwrap_or_else(|e| panic!("{e}"))
}

fn with_cursor<T>(
    body: &str,
    f: impl FnOnce(&mut Cursor<'_>) -> Result<T, ConfigError>,
) -> Result<T, String> {
    let d = doc(&format!("s {{ {body} }}"));
    let s = d.sections().unwrap();
    let mut cur = s[0].cursor();
    f(&mut cur).map_err(|e| e.to_string())
}

#[test]
fn typed_values() {
    // Body starts at column 5: `s { ` is four characters.
    let k = |cur: &mut Cursor<'_>| cur.next_word().map(|w| w.cloned().unwrap());
    let cases: Vec<(&str, Result<String, String>)> = vec![
        ("n 42", Ok("42".into())),
        ("n 4294967295", Ok("4294967295".into())),
        (
            "n 4294967296",
            Err("f.conf:1:7: value `4294967296' for `n' is too large (max 4294967295)".into()),
        ),
        (
            "n 0x10",
            Err("f.conf:1:7: expected a number for `n', got `0x10'".into()),
        ),
        (
            "n +1",
            Err("f.conf:1:7: expected a number for `n', got `+1'".into()),
        ),
        ("n", Err("f.conf:1:5: missing value for `n'".into())),
    ];
    for (body, want) in cases {
        let got = with_cursor(body, |c| {
            let key = k(c)?;
            c.u32(&key).map(|n| n.to_string())
        });
        assert_eq!(got, want, "{body}");
    }
    let got = with_cursor("n 18446744073709551615 m 18446744073709551616", |c| {
        let key = k(c)?;
        let a = c.u64(&key)?;
        let key = k(c)?;
        c.u64(&key).map(|b| (a, b))
    });
    assert_eq!(
        got,
        Err("f.conf:1:30: expected a number for `m', got `18446744073709551616'".into())
    );
    let got = with_cursor("n 7", |c| {
        let key = k(c)?;
        c.usize(&key)
    });
    assert_eq!(got, Ok(7));
    for (word, want) in [
        ("on", true),
        ("yes", true),
        ("true", true),
        ("enable", true),
        ("1", true),
        ("off", false),
        ("no", false),
        ("false", false),
        ("disable", false),
        ("0", false),
    ] {
        let got = with_cursor(&format!("b {word}"), |c| {
            let key = k(c)?;
            c.bool(&key)
        });
        assert_eq!(got, Ok(want), "{word}");
    }
    for (v, want) in [
        ("64K", 65536u64),
        ("512M", 512 << 20),
        ("1G", 1 << 30),
        ("100", 100),
    ] {
        let got = with_cursor(&format!("sz {v}"), |c| {
            let key = k(c)?;
            c.size(&key)
        });
        assert_eq!(got, Ok(want), "{v}");
    }
    let got = with_cursor("l 2-3,18-19 m 0xF0", |c| {
        let key = k(c)?;
        let l = c.corelist(&key)?;
        let key = k(c)?;
        c.hex_mask(&key).map(|m| (l, m))
    });
    assert_eq!(got, Ok((vec![2, 3, 18, 19], vec![4, 5, 6, 7])));
}

#[test]
fn blocks_must_be_claimed() {
    // Claimed: fine.
    let got = with_cursor("dev x { a b } tail", |c| {
        let dev = c.next_word()?.unwrap();
        let name = c.expect_value(dev)?;
        let mut inner = c.expect_block(name)?;
        let mut words = vec![name.text.clone()];
        while let Some(w) = inner.next_word()? {
            words.push(w.text.clone());
        }
        words.push(c.next_word()?.unwrap().text.clone());
        assert!(c.next_word()?.is_none());
        Ok(words)
    });
    assert_eq!(
        got,
        Ok(vec!["x".into(), "a".into(), "b".into(), "tail".into()])
    );
    // Unclaimed: the next move fails at the `{`.
    let got = with_cursor("flag { x } more", |c| {
        c.next_word()?;
        c.next_word().map(|_| ())
    });
    assert_eq!(got, Err("f.conf:1:10: unexpected `{' after `flag'".into()));
    // Unclaimed at the end: the final `next_word` fails too.
    let got = with_cursor("flag { x }", |c| {
        c.next_word()?;
        c.next_word().map(|_| ())
    });
    assert_eq!(got, Err("f.conf:1:10: unexpected `{' after `flag'".into()));
    // `block()` is `None` without a block; `expect_block` names the word.
    let got = with_cursor("plain", |c| {
        let w = c.next_word()?.unwrap();
        assert!(c.clone().block().is_none());
        c.expect_block(w).map(|_| ())
    });
    assert_eq!(got, Err("f.conf:1:5: expected `{' after `plain'".into()));
}

#[test]
fn finish_peek_and_next_item() {
    let got = with_cursor("a b", |c| {
        assert_eq!(c.peek().map(|t| t.as_str()), Some("a"));
        c.next_word()?;
        c.clone().finish()
    });
    assert_eq!(got, Err("f.conf:1:7: unknown input `b'".into()));
    let got = with_cursor("a { x }", |c| {
        c.next_word()?;
        c.clone().finish()
    });
    assert_eq!(got, Err("f.conf:1:7: unexpected `{' after `a'".into()));
    let got = with_cursor("a { x } b", |c| {
        // next_item hands the block over, so nothing is left unclaimed.
        let it = c.next_item()?.unwrap();
        assert_eq!(it.block.as_ref().map(|b| b.items.len()), Some(1));
        assert!(!c.at_end());
        c.next_word()?;
        assert!(c.at_end());
        assert_eq!(c.file(), "f.conf");
        c.clone().finish()
    });
    assert_eq!(got, Ok(()));
}
