#!/usr/bin/env bash
# pwire demo. Until the two-node L2TPv3 tunnel demo lands (issue 6), this shows the most
# complete thing pwire does today: a release pwire started from startup.conf + an exec script,
# driven over its CLI socket with pwctl exactly as a VPP operator drives vppctl, with packet
# generator traffic through the graph, show runtime/errors/trace, and a pcap trace decoded by
# tshark. Everything it starts is stopped on exit, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if ! command -v tshark >/dev/null; then
  say "installing tshark (decodes the pcap trace)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends tshark >/dev/null
fi
say "building pwire and pwctl (release)"
cargo build --release -q -p pwire -p pwctl
PW=target/release/pwire; CTL=target/release/pwctl

dir=$(mktemp -d /tmp/pwire-demo.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

cat > "$dir/setup.cli" <<CLI
create packet-generator interface pg0
create packet-generator interface pg1
set interface state pg0 up
set interface state pg1 up
CLI
cat > "$dir/startup.conf" <<CONF
unix { nodaemon cli-listen $dir/cli.sock exec $dir/setup.cli }
buffers { buffers-per-numa 16384 }
CONF
say "starting: pwire -c startup.conf   (exec runs setup.cli)"
sed 's/^/    /' "$dir/setup.cli"
PWIRE_NO_HUGEPAGES=${PWIRE_NO_HUGEPAGES:-} "$PW" -c "$dir/startup.conf" > "$dir/pwire.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$dir/cli.sock" ] && break; sleep 0.1; done
[ -S "$dir/cli.sock" ] || { cat "$dir/pwire.log"; exit 1; }
c() { echo "pwire# $*"; "$CTL" -s "$dir/cli.sock" "$@"; }

say "the interfaces, as VPP prints them"
c show interface
frame=02000000010102000000020108004500002e00010000401164ba0a0101010a01010204d20009001ae4da000000000000000000000000000000000000
say "a packet-generator stream: 100000 frames in on pg0, out of pg1 (pg-input -> pg-tx)"
c packet-generator new "{ name demo limit 100000 size 60-60 interface pg0 tx-interface pg1 node interface-output data { $frame } }"
c pcap trace tx max 5 file demo.pcap
c trace add pg-input 2
c packet-generator enable-stream demo
for _ in $(seq 100); do "$CTL" -s "$dir/cli.sock" show packet-generator | grep -q ' No ' && break; sleep 0.1; done
c show packet-generator
say "per-node cost: show runtime"
c show runtime
say "a traced packet: show trace"
c show trace max 1
say "pcap trace off writes /tmp/demo.pcap; tshark decodes it"
c pcap trace off
tshark -r /tmp/demo.pcap 2>/dev/null | head -5
say "an error the operator can read: pg1 down, traffic dropped and counted by name"
c set interface state pg1 down
c packet-generator enable-stream demo
sleep 0.5
c show errors
c show buffers
rm -f /tmp/demo.pcap
say "done: pwire stopped, temp files removed"
