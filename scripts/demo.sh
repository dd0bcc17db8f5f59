#!/usr/bin/env bash
# pwire demo: the two-node L2TPv3 pseudowire from the VPP tutorial, end to end.
#
#   10.1.1.1 [host1] --veth-- [pwire A] fd00::1 ==L2TPv3/IPv6== fd00::2 [pwire B] --veth-- [host2] 10.1.1.2
#
# Builds pwire (release), makes the topology in network namespaces, starts both pwire with a
# startup.conf and an exec script that read like the tutorial, pings host2 from host1 across the
# tunnel, shows what pwire did (show l2tpv3 verbose, bridge, runtime), takes a pcap trace on the
# uplink and decodes it with tshark, then tears everything down (also on Ctrl-C or failure).
# Needs root (network namespaces). Installs iproute2/ping/tshark if missing.
#
# `demo.sh --dpdk`: the same demo with pwire built with `--features dpdk` and its ports DPDK
# net_af_packet vdevs on the same veths (net_af_packet0 host side, net_af_packet1 uplink;
# EAL with --no-huge). Installs Debian's DPDK if missing.
# `demo.sh --ipv4`: the tunnel over an IPv4 underlay (192.0.2.1 ==L2TPv3/IPv4== 192.0.2.2).
# `demo.sh --udp`: the tunnel over UDP port 1701 (with --ipv4: over UDP/IPv4).
# `demo.sh --signalled`: the pseudowire set up by the L2TP control plane (SCCRQ/SCCRP/SCCCN,
# ICRQ/ICRP/ICCN, message digests with a shared secret) instead of static session ids; the
# exchange is traced on pwire A's uplink and decoded by tshark, which checks the digests.
set -euo pipefail
DPDK=0
export PW_UNDERLAY=ipv6 PW_ENCAP=ip PW_SIGNALLED=0
for a in "$@"; do
  case "$a" in
    --dpdk) DPDK=1 ;;
    --ipv4) PW_UNDERLAY=ipv4 ;;
    --udp) PW_ENCAP=udp ;;
    --signalled) PW_SIGNALLED=1 ;;
    *) echo "usage: $0 [--dpdk] [--ipv4] [--udp] [--signalled]"; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
. scripts/netns.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "demo.sh needs root (network namespaces)"; exit 1; }

need=()
command -v tshark >/dev/null || need+=(tshark)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
if [ "$DPDK" = 1 ]; then
  for p in dpdk libdpdk-dev pkg-config clang libclang-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$DPDK" = 1 ]; then
  say "building pwire (with DPDK) and pwctl (release)"
  cargo build --release -q -p pwire -p pwctl --features pwire/dpdk
  UPIF=net_af_packet1 INPUT=dpdk-input
  export PW_DPDK=1
else
  say "building pwire and pwctl (release)"
  cargo build --release -q -p pwire -p pwctl
  UPIF=host-a-up INPUT=af-packet-input
fi
T=${CARGO_TARGET_DIR:-$PWD/target}
PW=$T/release/pwire; CTL=$T/release/pwctl

dir=$(mktemp -d /tmp/pwire-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  netns_down
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "topology: 4 network namespaces, 3 veth pairs"
netns_up
if [ "$PW_UNDERLAY" = ipv4 ]; then OUR_A=192.0.2.1 OUR_B=192.0.2.2 RESOLVE="ARP"; else OUR_A=fd00::1 OUR_B=fd00::2 RESOLVE="neighbour discovery"; fi
echo "    $H1 (host1 10.1.1.1) -- $NA (pwire A, $OUR_A) -- $NB (pwire B, $OUR_B) -- $H2 (host2 10.1.1.2)"
echo "    L2TPv3 over $PW_UNDERLAY$([ "$PW_ENCAP" = udp ] && echo ", UDP port 1701"), hosts' MTU $(pw_inner_mtu)"
for side in a b; do
  pwire_conf "$dir" "$side"
  say "pwire ${side^^}: startup.conf and its exec script"
  # (the shared secret is the operator's; the demo does not print it)
  sed -e 's/^/    /' -e 's/secret [^ ]*/secret <hidden>/' "$dir/startup-$side.conf" "$dir/setup-$side.cli"
  ns=$NA; [ "$side" = b ] && ns=$NB
  ip netns exec "$ns" "$PW" -c "$dir/startup-$side.conf" > "$dir/out-$side.txt" 2>&1 &
  pids+=($!)
done
for side in a b; do
  for _ in $(seq 100); do [ -S "$dir/cli-$side.sock" ] && break; sleep 0.1; done
  [ -S "$dir/cli-$side.sock" ] || { echo "pwire $side did not start:"; cat "$dir/out-$side.txt"; exit 1; }
done
ca() { echo "pwire-A# $*"; "$CTL" -s "$dir/cli-a.sock" "$@"; }
cb() { echo "pwire-B# $*"; "$CTL" -s "$dir/cli-b.sock" "$@"; }

say "tracing on pwire A, capturing its uplink"
ca trace add $INPUT 10
if [ "$PW_SIGNALLED" = 1 ]; then
  echo "    (the uplink has been traced since start-up: the exec script began with pcap trace)"
  say "the control plane: pwire A and B bring the pseudowire up"
  for _ in $(seq 50); do "$CTL" -s "$dir/cli-a.sock" show l2tpv3 pseudowire | grep -q session && break; sleep 0.2; done
  ca show l2tpv3 control-connection verbose
  ca show l2tpv3 pseudowire
else
  ca pcap trace rx tx intfc $UPIF max 20 file demo-uplink.pcap
fi
say "first packets: pwire resolves $OUR_B by $RESOLVE, host1 resolves 10.1.1.2 by ARP"
echo "    (as in VPP, the packet that triggers resolution is dropped; host1's ARP retries after 1 s)"
for _ in $(seq 10); do ip netns exec "$H1" ping -c 1 -W 1 10.1.1.2 >/dev/null && break; done
say "host1 pings host2 across the tunnel"
ip netns exec "$H1" ping -c 5 -i 0.2 -W 2 10.1.1.2
say "what pwire A did"
ca show l2tpv3 verbose
if [ "$PW_SIGNALLED" = 1 ]; then
  ca show mode
else
  ca show bridge-domain 1 detail
fi
ca show interface
ca show runtime
ca show trace max 2
if [ "$DPDK" = 1 ]; then
  ca show hardware-interfaces verbose $UPIF
  ca show interface rx-placement
  ca show dpdk buffer
fi
say "the tunnel on the wire: pcap trace on pwire A's uplink, decoded by tshark"
ca pcap trace off
if [ "$PW_SIGNALLED" = 1 ]; then
  pc=/tmp/pwire-ctl-${PW_PREFIX}a.pcap
  tshark -r "$pc" -o 'l2tp.shared_secret:demo-secret' -Y 'l2tp.type == 1' 2>/dev/null | head -12
  # Both ends initiate. When their SCCRQs cross, one is refused (StopCCN "control connection
  # already exists") and the other connection comes up; tshark follows one control connection
  # per address pair and would pair the later messages with the refused attempt's nonces, so
  # the digests are checked from the last SCCRQ on.
  sccrq=$(tshark -r "$pc" -Y 'l2tp.avp.message_type == 1' -T fields -e frame.number 2>/dev/null)
  last=$(echo "$sccrq" | tail -1)
  if [ "$(echo "$sccrq" | grep -c .)" -gt 1 ]; then
    echo "    (the two ends' SCCRQs crossed: the tie was settled by StopCCN, then one connection came up)"
  fi
  editcap -r "$pc" "$dir/ctl.pcap" "${last:-1}-1000000" 2>/dev/null
  bad=$(tshark -r "$dir/ctl.pcap" -o 'l2tp.shared_secret:demo-secret' -Y 'l2tp.incorrect_digest' 2>/dev/null | wc -l)
  n=$(tshark -r "$dir/ctl.pcap" -Y 'l2tp.type == 1' 2>/dev/null | wc -l)
  echo "    message digests tshark found incorrect with the shared secret: $bad (of $n control messages)"
  rm -f "$pc" /tmp/pwire-ctl-${PW_PREFIX}b.pcap
else
  tshark -r /tmp/demo-uplink.pcap -o 'l2tp.cookie_size:8 Byte Cookie' -o 'l2tp.l2_specific:None' \
    -d 'l2tp.pw_type==0,eth' 2>/dev/null | head -8
  rm -f /tmp/demo-uplink.pcap
fi
say "pwire B agrees"
cb show l2tpv3 verbose
say "done: both pwire stopped, namespaces deleted"
