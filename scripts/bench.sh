#!/usr/bin/env bash
# Benchmarks: scripts/bench.py (pg streams through the graph, every case of the performance issues,
# then the three L2TPv3 paths side by side with a live VPP when ../shared/tools/vpp-peer built one),
# then scripts/bench_dpdk.py (dpdk-input with the decap and encap paths over virtual PMDs) when
# Debian's DPDK is installed. Release build. --quick: small runs, pg only.
# Any other argument (--case, --packets, --runs, --out) goes to bench.py, and then DPDK is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dpdk=1
for a in "$@"; do dpdk=0; done
cargo build --release -q -p pwire -p pwctl
python3 scripts/bench.py "$@"
if [ $dpdk = 0 ]; then
  echo "DPDK benchmarks: not run with these arguments (scripts/bench_dpdk.py runs them)"
elif ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "DPDK benchmarks: skipped: Debian's libdpdk-dev is not installed (scripts/test.sh installs it)"
else
  python3 scripts/bench_dpdk.py
fi
