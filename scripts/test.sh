#!/usr/bin/env bash
# Every test pwire has: format, lints, unit/node/subgraph/e2e tests. Installs what it needs.
# Tests that need root or network namespaces run when this runs as root (CI does) and say why
# when they skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v tshark >/dev/null || need+=(tshark)
command -v ip >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "== not root: cannot install ${need[*]}; tests that need them will say they skip"
  fi
fi

t0=$(date +%s)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -q -- -D warnings
echo "== cargo test --workspace"
# `|| true` would reset PIPESTATUS (pipefail makes the pipeline fail with cargo): take it first.
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/pwire-test.log | grep -E '^(test result|running|test .* (FAILED|ignored)|failures:|---- )|skipped'
status=${PIPESTATUS[0]}
set -e
# A few seconds of each fuzz target (cargo-fuzz on nightly), when they can run here.
fuzz_status=0
echo "== fuzz (${FUZZ_SECONDS:-5} s per target)"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: skipped: no nightly toolchain (rustup toolchain install nightly)"
else
  if ! cargo fuzz --version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "fuzz: installing cargo-fuzz"
    timeout 900 cargo install -q --locked cargo-fuzz >/dev/null 2>&1 || true
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
  else
    for t in $(cargo +nightly fuzz list); do
      mkdir -p "fuzz/corpus/$t"
      if ASAN_OPTIONS=detect_leaks=0 cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="${FUZZ_SECONDS:-5}" -rss_limit_mb=4096 >"/tmp/pwire-fuzz-$t.log" 2>&1; then
        echo "fuzz $t: $(grep -Eo 'Done [0-9]+ runs' "/tmp/pwire-fuzz-$t.log" | tail -1), no finding"
      else
        echo "fuzz $t: FAILED (fuzz/artifacts/$t/)"
        grep -E -A15 'panicked|ERROR|SUMMARY' "/tmp/pwire-fuzz-$t.log" | head -40
        fuzz_status=1
      fi
    done
  fi
fi
passed=$(grep -Eo '[0-9]+ passed' /tmp/pwire-test.log | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' /tmp/pwire-test.log | awk '{s+=$1} END {print s+0}')

# DPDK: Debian's DPDK 22.11 and bindgen's libclang, installed once (dpkg -s makes a second run
# free); then the dpdk crates' lints and the DPDK tests (EAL --no-huge, net_ring round trip,
# start-up errors, net_af_packet e2e in netns, two workers), all behind `--features dpdk`.
dpdk_pkgs=(dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev)
dpdk_miss=()
for p in "${dpdk_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || dpdk_miss+=("$p"); done
if [ ${#dpdk_miss[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "== installing: ${dpdk_miss[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${dpdk_miss[@]}" >/dev/null
  dpdk_miss=()
fi
if [ ${#dpdk_miss[@]} -gt 0 ]; then
  echo "== DPDK tests skipped: not root, cannot install ${dpdk_miss[*]}"
else
  echo "== cargo clippy --features dpdk"
  cargo clippy -p pwire-dpdk-sys -p pwire-dpdk -p pwire --features dpdk --all-targets -q -- -D warnings
  echo "== cargo test --features dpdk"
  cargo test -p pwire-dpdk -p pwire --features dpdk --no-fail-fast 2>&1 | tee /tmp/pwire-test-dpdk.log |
    grep -E '^(test result|running|test .* (FAILED|ignored)|failures:|---- )|skipped' || true
  dstatus=${PIPESTATUS[0]}
  cat /tmp/pwire-test-dpdk.log >> /tmp/pwire-test.log
  if [ "$dstatus" != 0 ] && [ "$status" = 0 ]; then status=$dstatus; fi
  passed=$(grep -Eo '[0-9]+ passed' /tmp/pwire-test.log | awk '{s+=$1} END {print s+0}')
  failed=$(grep -Eo '[0-9]+ failed' /tmp/pwire-test.log | awk '{s+=$1} END {print s+0}')
fi
echo "== $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed"
if [ "$status" != 0 ]; then
  grep -A30 -E '^---- |^failures:' /tmp/pwire-test.log | head -200
  exit "$status"
fi
exit "$fuzz_status"
