#!/usr/bin/env bash
# Benchmarks (release build, pg streams, show runtime clocks per node). --quick: small runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p pwire -p pwctl
exec python3 scripts/bench.py "$@"
