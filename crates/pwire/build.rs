//! Build facts for `show version verbose`: the git commit, the build date and the compiler,
//! passed to the binary as `PWIRE_GIT_COMMIT`, `PWIRE_BUILD_DATE` and `PWIRE_RUSTC`.
//!
//! Re-runs when HEAD moves (HEAD, the branch ref, packed-refs) or `SOURCE_DATE_EPOCH` changes,
//! not on every build, so the date is that of the first build of a commit. A tree without git
//! (a source tarball) says `unknown`; `SOURCE_DATE_EPOCH` (set by Debian's packaging tools)
//! makes the date reproducible.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn git_path(p: &str) -> Option<String> {
    run(
        "git",
        &["rev-parse", "--path-format=absolute", "--git-path", p],
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = run("git", &["rev-parse", "HEAD"]);
    if commit.is_some() {
        // Only paths that exist: a missing one would make cargo re-run this on every build.
        let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
        watch.extend(run("git", &["symbolic-ref", "-q", "HEAD"]));
        for p in watch.iter().filter_map(|p| git_path(p)) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!(
        "cargo:rustc-env=PWIRE_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=PWIRE_BUILD_DATE={}", utc(secs));
    println!(
        "cargo:rustc-env=PWIRE_RUSTC={}",
        run(&rustc, &["-V"]).unwrap_or_else(|| "unknown".into())
    );
}
