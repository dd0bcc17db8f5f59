#!/usr/bin/env bash
# Benchmarks: scripts/bench.py (pg streams through the graph, every case of the performance issues,
# then the three L2TPv3 paths side by side with a live VPP when ../shared/tools/vpp-peer built one),
# then scripts/bench_afpacket.py (the real I/O path in the demo's topology, veth and AF_PACKET:
# ping RTT, TCP and 64-byte UDP across the tunnel, pwire and that VPP alternated; needs root),
# then scripts/bench_dpdk.py (dpdk-input with the decap and encap paths over virtual PMDs) when
# Debian's DPDK is installed. Release build. --quick: small runs (bench.py pg only, one short
# AF_PACKET run, no DPDK). Any other argument (--case, --packets, --runs, --out) goes to bench.py,
# and then AF_PACKET and DPDK are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dpdk=1 afpacket=1
for a in "$@"; do dpdk=0; [ "$a" = --quick ] || afpacket=0; done
cargo build --release -q -p pwire -p pwctl
python3 scripts/bench.py "$@"
if [ $afpacket = 0 ]; then
  echo "AF_PACKET benchmark: not run with these arguments (scripts/bench_afpacket.py runs it)"
else
  python3 scripts/bench_afpacket.py "$@"  # nothing or --quick
fi
if [ $dpdk = 0 ]; then
  echo "DPDK benchmarks: not run with these arguments (scripts/bench_dpdk.py runs them)"
elif ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "DPDK benchmarks: skipped: Debian's libdpdk-dev is not installed (scripts/test.sh installs it)"
else
  python3 scripts/bench_dpdk.py
fi
