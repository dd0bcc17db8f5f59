//! The generic tree: tokens, spans, comments, whitespace, nesting.

use pwire_config::{parse_tree, Document, Item};

fn tree(text: &str) -> Document {
    parse_tree("t.conf", text).unwrap_or_else(|e| panic!("{e}"))
}

/// `word@line:col`, with nested blocks in braces: a compact picture of a tree.
fn shape(items: &[Item]) -> String {
    items
        .iter()
        .map(|it| {
            let w = format!("{}@{}:{}", it.word.text, it.word.line, it.word.col);
            match &it.block {
                Some(b) => format!("{w} {{@{}:{} {} }}", b.line, b.col, shape(&b.items)),
                None => w,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn shapes() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("   \n\t\n", ""),
        ("# just a comment", ""),
        ("unix { }", "unix@1:1 {@1:6  }"),
        (
            "unix { nodaemon cli-listen /run/pwire/cli.sock exec /etc/pwire/setup.cli }",
            "unix@1:1 {@1:6 nodaemon@1:8 cli-listen@1:17 /run/pwire/cli.sock@1:28 \
             exec@1:48 /etc/pwire/setup.cli@1:53 }",
        ),
        (
            "dpdk { dev 0000:00:08.0 { num-rx-queues 2 name eth0 } vdev net_null0 no-pci }",
            "dpdk@1:1 {@1:6 dev@1:8 0000:00:08.0@1:12 {@1:25 num-rx-queues@1:27 2@1:41 \
             name@1:43 eth0@1:48 } vdev@1:55 net_null0@1:60 no-pci@1:70 }",
        ),
        (
            "plugins { plugin l2tp_plugin.so { enable } plugin default { disable } }",
            "plugins@1:1 {@1:9 plugin@1:11 l2tp_plugin.so@1:18 {@1:33 enable@1:35 } \
             plugin@1:44 default@1:51 {@1:59 disable@1:61 } }",
        ),
        // Braces split words: no spaces needed.
        (
            "unix{nodaemon}cpu{}",
            "unix@1:1 {@1:5 nodaemon@1:6 } cpu@1:15 {@1:18  }",
        ),
        // `#` ends a word and comments out the rest of the line, braces included.
        ("unix { exec a#b { }\n}", "unix@1:1 {@1:6 exec@1:8 a@1:13 }"),
        ("a # }\n{ b }", "a@1:1 {@2:1 b@2:3 }"),
        // CRLF, tabs, form feed and other Unicode whitespace.
        (
            "unix {\r\n\tnodaemon\r\n}\r\n",
            "unix@1:1 {@1:6 nodaemon@2:2 }",
        ),
        ("a\u{c}b\u{a0}c", "a@1:1 b@1:3 c@1:5"),
        // Columns count characters.
        ("é ü {x}", "é@1:1 ü@1:3 {@1:5 x@1:6 }"),
        // A leading byte-order mark is dropped.
        ("\u{feff}unix { }", "unix@1:1 {@1:6  }"),
        // Comment at end of file, no newline.
        ("cpu { } # bye", "cpu@1:1 {@1:5  }"),
        // Two levels deep, items after a closed block.
        (
            "a { b { c } d } e",
            "a@1:1 {@1:3 b@1:5 {@1:7 c@1:9 } d@1:13 } e@1:17",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(shape(&tree(text).items), *want, "input {text:?}");
    }
}

#[test]
fn sections_merge_and_require_blocks() {
    let d = tree("unix { a } cpu { b } unix { c { d } }");
    let s = d.sections().unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].name.as_str(), s[0].name.line, s[0].name.col),
        ("unix", 1, 1)
    );
    assert_eq!(shape(&s[0].items), "a@1:8 c@1:29 {@1:31 d@1:33 }");
    assert_eq!(shape(&s[1].items), "b@1:18");
    let e = tree("unix { } cpu").sections().unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.conf:1:10: expected `{' after section `cpu'"
    );
}
