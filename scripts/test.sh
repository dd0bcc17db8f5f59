#!/usr/bin/env bash
# Every test pwire has: format, lints, unit/node/subgraph/e2e tests, fuzz, DPDK, Miri. Installs
# what it needs. Tests that need root, network namespaces or tshark run when this runs as root
# (CI does) and fail there if what they need cannot be had (pwire_testkit::prereq); without
# root they say why they skip.
#
# Usage: scripts/test.sh [step...]   steps: fmt clippy test package fuzz dpdk miri (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

all_steps=(fmt clippy test package fuzz dpdk miri)
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  case " ${all_steps[*]} " in
    *" $s "*) ;;
    *) echo "unknown step \`$s' (steps: ${all_steps[*]})" >&2; exit 2 ;;
  esac
done
# Full logs go here (PWIRE_TEST_LOGS; testkit's test of this script points it elsewhere).
logs=${PWIRE_TEST_LOGS:-/tmp}
want() { case " ${steps[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
is_root() { [ "$(id -u)" = 0 ]; }

# Runs `cargo test "$@"` with its whole output in log file $1 and the summary lines on the
# terminal; returns cargo's status. The status is read from PIPESTATUS straight after the
# pipeline: the filter's status must not stand in for cargo's, and nothing
# (`|| true' included) may run in between and reset PIPESTATUS.
run_tests() {
  local log=$1 rc
  shift
  set +e
  # A panic's location and its message (the next line) are shown too: a CI failure must
  # be readable from the summary alone.
  cargo test "$@" 2>&1 | tee "$log" |
    awk '/^(test result|running|test .* (FAILED|ignored)|failures:|---- )|skipped/ { print; fflush(); next }
         /panicked at/ { print; if ((getline l) > 0) print l; fflush() }'
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

apt_install() {
  echo "== installing: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A few seconds of each fuzz target (cargo-fuzz on nightly), when they can run here.
fuzz_step() {
  echo "== fuzz (${FUZZ_SECONDS:-5} s per target)"
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no nightly toolchain (rustup toolchain install nightly)"
    return 0
  fi
  if ! cargo fuzz --version >/dev/null 2>&1 && is_root; then
    echo "fuzz: installing cargo-fuzz"
    timeout 900 cargo install -q --locked cargo-fuzz >/dev/null 2>&1 || true
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
    return 0
  fi
  local t rc=0
  for t in $(cargo +nightly fuzz list); do
    mkdir -p "fuzz/corpus/$t"
    if ASAN_OPTIONS=detect_leaks=0 cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="${FUZZ_SECONDS:-5}" -rss_limit_mb=4096 >"$logs/pwire-fuzz-$t.log" 2>&1; then
      echo "fuzz $t: $(grep -Eo 'Done [0-9]+ runs' "$logs/pwire-fuzz-$t.log" | tail -1), no finding"
    else
      echo "fuzz $t: FAILED (fuzz/artifacts/$t/)"
      grep -E -A15 'panicked|ERROR|SUMMARY' "$logs/pwire-fuzz-$t.log" | head -40
      rc=1
    fi
  done
  return "$rc"
}

# DPDK: Debian's DPDK 22.11 and bindgen's libclang, installed once (dpkg -s makes a second run
# free); then the dpdk crates' lints and the DPDK tests (EAL --no-huge, net_ring round trip,
# start-up errors, net_af_packet e2e in netns, two workers), all behind `--features dpdk`.
# Returns the first failure's status (the test log joins $logs/pwire-test.log for the summary).
# The steps run as `step || ...`, where `set -e` does not act: each failure is returned here.
dpdk_step() {
  local p miss=() rc=0
  for p in dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || miss+=("$p")
  done
  if [ ${#miss[@]} -gt 0 ]; then
    if ! is_root; then
      echo "== DPDK tests skipped: not root, cannot install ${miss[*]}"
      return 0
    fi
    apt_install "${miss[@]}" || return
  fi
  echo "== cargo clippy --features dpdk"
  cargo clippy -p pwire-dpdk-sys -p pwire-dpdk -p pwire --features dpdk --all-targets -q -- -D warnings ||
    { rc=$?; echo "DPDK clippy FAILED"; return "$rc"; }
  echo "== cargo test --features dpdk"
  run_tests "$logs/pwire-test-dpdk.log" -p pwire-dpdk -p pwire --features dpdk --no-fail-fast || rc=$?
  cat "$logs/pwire-test-dpdk.log" >>"$logs/pwire-test.log"
  if [ "$rc" != 0 ]; then echo "DPDK tests FAILED (cargo test exit status $rc)"; fi
  return "$rc"
}

# The Debian package: tests/package.rs runs scripts/package.sh (a release build of pwire and
# pwctl), installs the .deb with dpkg, checks the unit with systemd-analyze, runs pwire as the
# unit would (its user, capabilities, directories), talks to it with the installed pwctl and
# purges the package, leaving nothing. Root only: it changes the machine's packages (so a plain
# `cargo test` skips it as ignored). Installs what it uses when missing.
package_step() {
  local miss=() rc=0
  if ! is_root; then
    echo "== package test skipped: not root (it installs a .deb with dpkg)"
    return 0
  fi
  command -v systemd-analyze >/dev/null || miss+=(systemd)
  command -v adduser >/dev/null || miss+=(adduser)
  command -v setpriv >/dev/null || miss+=(util-linux)
  command -v objdump >/dev/null || miss+=(binutils)
  if [ ${#miss[@]} -gt 0 ]; then apt_install "${miss[@]}" || return; fi
  echo "== package (release build, dpkg -i, the unit, dpkg --purge)"
  run_tests "$logs/pwire-test-package.log" -p pwire-tests --test package -- --ignored || rc=$?
  cat "$logs/pwire-test-package.log" >>"$logs/pwire-test.log"
  if [ "$rc" != 0 ]; then echo "package test FAILED (cargo test exit status $rc)"; fi
  return "$rc"
}

# Miri: the unit tests of the crates with the most unsafe code, checked for undefined
# behaviour. Needs a nightly toolchain with the miri component (added here when root). The
# crates are built first (sysroot and dependencies once; a few minutes on a clean clone), then
# each crate's tests run within MIRI_TIMEOUT seconds (default 180; a timeout fails the step):
# tests shrink their loops and proptest cases under cfg(miri), so a crate takes about a minute
# or less. MIRIFLAGS is passed through as set; isolation stays on (the tests are hermetic: no
# files, host clock or environment).
miri_crates=(pwire-buffer pwire-graph pwire-table pwire-wire)
miri_step() {
  local c log rc m0 took status=0
  echo "== miri (${miri_crates[*]})"
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "miri: skipped: no nightly toolchain (rustup toolchain install nightly)"
    return 0
  fi
  if ! cargo +nightly miri --version >/dev/null 2>&1 && is_root; then
    echo "miri: installing the miri component of the nightly toolchain"
    timeout 600 rustup component add miri rust-src --toolchain nightly >"$logs/pwire-miri-install.log" 2>&1 ||
      tail -3 "$logs/pwire-miri-install.log"
  fi
  if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: skipped: the nightly toolchain has no miri component" \
      "(rustup component add miri rust-src --toolchain nightly: as root, with rustup's server reachable)"
    return 0
  fi
  m0=$(date +%s)
  log=$logs/pwire-miri-build.log
  if ! cargo +nightly miri test "${miri_crates[@]/#/-p=}" --lib --no-run >"$log" 2>&1; then
    echo "miri: FAILED to build the tests; $log"
    grep -E -m1 -A25 '^error' "$log" | head -40
    return 1
  fi
  echo "miri: built in $(($(date +%s) - m0)) s"
  for c in "${miri_crates[@]}"; do
    log=$logs/pwire-miri-$c.log
    m0=$(date +%s)
    rc=0
    timeout "${MIRI_TIMEOUT:-180}" cargo +nightly miri test -p "$c" --lib >"$log" 2>&1 || rc=$?
    took="$(($(date +%s) - m0)) s"
    if [ "$rc" = 0 ]; then
      # (Without the "finished in": that is Miri's virtual clock, not the time it took.)
      echo "miri $c: $(grep -E '^test result' "$log" | tail -1 | sed 's/; finished in.*//') ($took)"
      continue
    fi
    status=1
    if [ "$rc" = 124 ]; then
      echo "miri $c: FAILED: timed out after ${MIRI_TIMEOUT:-180} s (shrink its tests under cfg(miri)); $log"
    else
      echo "miri $c: FAILED ($took, exit status $rc); $log"
    fi
    grep -E -m1 -A25 'Undefined Behavior|unsupported operation|panicked|^error' "$log" | head -40
  done
  return "$status"
}

need=()
command -v tshark >/dev/null || need+=(tshark)
command -v ip >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ping >/dev/null || need+=(iputils-ping)
command -v python3 >/dev/null || need+=(python3)
# promtool (Debian's prometheus package) lints the exporter's scrape (tests/metrics.rs).
command -v promtool >/dev/null || need+=(prometheus)
if { want test || want dpdk || want package; } && [ ${#need[@]} -gt 0 ]; then
  if is_root; then
    apt_install "${need[@]}"
  else
    echo "== not root: cannot install ${need[*]}; tests that need them will say they skip"
  fi
fi

t0=$(date +%s)
: >"$logs/pwire-test.log"
status=0 fuzz_status=0 miri_status=0
if want fmt; then
  echo "== cargo fmt --check"
  cargo fmt --all -- --check
fi
if want clippy; then
  echo "== cargo clippy --all-targets -D warnings"
  cargo clippy --workspace --all-targets -q -- -D warnings
fi
if want test; then
  echo "== cargo test --workspace"
  run_tests "$logs/pwire-test.log" --workspace --no-fail-fast || status=$?
fi
if want package; then
  package_step || { rc=$?; [ "$status" != 0 ] || status=$rc; }
fi
if want fuzz; then fuzz_step || fuzz_status=$?; fi
if want dpdk; then
  dpdk_step || { rc=$?; [ "$status" != 0 ] || status=$rc; }
fi
if want miri; then miri_step || miri_status=$?; fi

# (grep finds nothing when only fmt/clippy ran: its status must not end the script.)
passed=$({ grep -Eo '[0-9]+ passed' "$logs/pwire-test.log" || true; } | awk '{s+=$1} END {print s+0}')
failed=$({ grep -Eo '[0-9]+ failed' "$logs/pwire-test.log" || true; } | awk '{s+=$1} END {print s+0}')
echo "== $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed"
if [ "$status" != 0 ]; then
  { grep -A30 -E '^---- |^failures:' "$logs/pwire-test.log" || true; } | head -200
  exit "$status"
fi
if [ "$fuzz_status" != 0 ]; then exit "$fuzz_status"; fi
exit "$miri_status"
