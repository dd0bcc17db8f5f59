//! The CLI parser: command resolution (word trie, unique-prefix abbreviation), every typed
//! argument reader, braced blocks and script splitting, over arbitrary text. Never panics; an
//! error is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwire_cli::{Command, Registry};

fn registry() -> Registry<Vec<String>> {
    let mut r = Registry::new();
    r.add(Command::new(
        "set interface state",
        "set interface state <if> up|down",
        false,
        |a, cx: &mut Vec<String>| {
            let w = a.word("interface")?.to_string();
            let up = if a.keyword("up") {
                true
            } else if a.keyword("down") {
                false
            } else {
                return Err(pwire_cli::CliError::unknown_input(a.rest()));
            };
            a.expect_end()?;
            cx.push(format!("{w} {up}"));
            Ok(())
        },
    ));
    r.add(Command::new(
        "set interface ip address",
        "set interface ip address [del] <if> <prefix>",
        false,
        |a, cx: &mut Vec<String>| {
            let del = a.keyword("del");
            let w = a.word("interface")?.to_string();
            let (p, l) = a.ipv6_prefix("address")?;
            a.expect_end()?;
            cx.push(format!("{del} {w} {p}/{l}"));
            Ok(())
        },
    ));
    r.add(Command::new(
        "set ip neighbor",
        "set ip neighbor <if> <ip6> <mac> [static]",
        false,
        |a, cx: &mut Vec<String>| {
            let w = a.word("interface")?.to_string();
            let ip = a.ipv6("address")?;
            let mac = a.mac("mac")?;
            let st = a.keyword("static");
            a.expect_end()?;
            cx.push(format!("{w} {ip} {mac:?} {st}"));
            Ok(())
        },
    ));
    r.add(Command::new(
        "create l2tpv3 tunnel",
        "create l2tpv3 tunnel ...",
        false,
        |a, cx: &mut Vec<String>| {
            while !a.is_empty() {
                if a.keyword("local-session-id") {
                    cx.push(a.u32("id")?.to_string());
                } else if a.keyword("local-cookie") {
                    cx.push(a.hex_u64("cookie")?.to_string());
                } else if a.keyword("count") {
                    cx.push(a.u64("count")?.to_string());
                } else if a.keyword("learn") {
                    cx.push(a.bool_01("learn")?.to_string());
                } else if a.keyword("interval") {
                    cx.push(format!("{:?}", a.duration_secs("interval")?));
                } else if a.keyword("size") {
                    cx.push(a.value::<u16>("size")?.to_string());
                } else {
                    return Err(pwire_cli::CliError::unknown_input(a.rest()));
                }
            }
            Ok(())
        },
    ));
    r.add(Command::new(
        "packet-generator new",
        "packet-generator new { ... }",
        false,
        |a, cx: &mut Vec<String>| {
            let b = a.braced_block()?.to_string();
            let mut inner = pwire_cli::Args::new(&b);
            while let Some(w) = inner.next_word() {
                cx.push(w.to_string());
            }
            a.expect_end()?;
            Ok(())
        },
    ));
    r.add(Command::new(
        "show interface",
        "show interface [<if>]",
        true,
        |a, cx: &mut Vec<String>| {
            let _ = a.peek();
            a.output(&format!("{} {}", a.rest(), cx.len()));
            Ok(())
        },
    ));
    r
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Never `exec`: it reads files, which is the binary tests' business.
    if text.contains("exec") {
        return;
    }
    let r = registry();
    let mut cx = Vec::new();
    for line in text.lines().take(64) {
        let mut out = String::new();
        if let Err(e) = r.execute(line, &mut cx, &mut out) {
            let m = e.to_string();
            assert!(!m.is_empty() && !m.trim_end().contains('\n'), "{m:?}");
        }
    }
    let _ = pwire_cli::script_lines(text);
    let _ = r.help(text.split_whitespace().next().unwrap_or(""));
});
