//! The built-in `exec <file>`: runs a script through the same registry, stops at the first
//! failing line with its file and line number, and refuses unbounded nesting.

use pwire_cli::{Command, Registry};

fn registry() -> Registry<Vec<String>> {
    let mut r = Registry::new();
    r.add(Command::new(
        "set thing",
        "set thing <word>",
        false,
        |a, cx: &mut Vec<String>| {
            let w = a.word("word")?.to_string();
            a.expect_end()?;
            cx.push(w);
            Ok(())
        },
    ));
    r
}

fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("pwire-cli-exec-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn exec_runs_a_file_and_names_the_failing_line() {
    let r = registry();
    let d = dir("file");
    let ok = d.join("ok.cli");
    std::fs::write(&ok, "# comment\nset thing a\n\nset th b\n").unwrap();
    let mut cx = Vec::new();
    let mut out = String::new();
    r.execute(&format!("exec {}", ok.display()), &mut cx, &mut out)
        .unwrap();
    assert_eq!(cx, vec!["a", "b"], "both lines ran, abbreviations work");
    // Abbreviated, as VPP operators type it.
    r.execute(&format!("exe {}", ok.display()), &mut cx, &mut out)
        .unwrap();
    assert_eq!(cx.len(), 4);

    let bad = d.join("bad.cli");
    std::fs::write(&bad, "set thing c\nset thing\nset thing d\n").unwrap();
    let mut cx = Vec::new();
    let e = r
        .execute(&format!("exec {}", bad.display()), &mut cx, &mut out)
        .unwrap_err();
    assert_eq!(cx, vec!["c"], "stops at the failing line");
    let msg = e.to_string();
    assert!(
        msg.starts_with("exec: ") && msg.contains(&format!("{}:2: CLI line error:", bad.display())),
        "{msg}"
    );

    let e = r
        .execute("exec /nonexistent/x.cli", &mut cx, &mut out)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("failed to open `/nonexistent/x.cli'"),
        "{e}"
    );
    assert!(r.help("").contains("exec"), "listed by help");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn exec_of_itself_stops_at_the_nesting_limit() {
    let r = registry();
    let d = dir("self");
    let f = d.join("loop.cli");
    std::fs::write(&f, format!("set thing x\nexec {}\n", f.display())).unwrap();
    let mut cx = Vec::new();
    let mut out = String::new();
    let e = r
        .execute(&format!("exec {}", f.display()), &mut cx, &mut out)
        .unwrap_err();
    assert!(
        e.to_string().contains("exec nested more than 8 deep"),
        "{e}"
    );
    assert_eq!(cx.len(), 8, "each level ran its first line once");
    let _ = std::fs::remove_dir_all(d);
}
