# Sourced by demo.sh and the e2e tests: the two-node L2TPv3 topology in network namespaces.
#
#   10.1.1.1 [pw-h1] h1 --veth-- a-host [pw-a: pwire A] a-up --veth-- b-up [pw-b: pwire B] b-host --veth-- h2 [pw-h2] 10.1.1.2
#                                       fd00::1 ====== L2TPv3/IPv6 ====== fd00::2
#
# The pwire ends have the kernel's IPv6 disabled so only pwire answers on them. Hosts get an MTU
# that fits inside the tunnel (uplink 1500 - IPv6 40 - L2TPv3 12 - inner Ethernet 14 = 1434).
#
# PW_UNDERLAY=ipv4 runs the tunnel over IPv4 (192.0.2.1 ====== 192.0.2.2, 1500 - 20 - 12 - 14 =
# 1454); PW_ENCAP=udp over UDP port 1701 (8 + 4 bytes more: 1422 over IPv6, 1442 over IPv4).
# PW_SIGNALLED=1 sets the pseudowire up with the L2TP control plane (a control connection with a
# shared secret, a pseudowire with VC ID 100) instead of static session ids and cookies, and
# cross-connects the host port with it (its attachment circuit) instead of bridging them.
# PW_HOST_OFFLOAD=1 leaves the hosts' checksum and segmentation offloads on (pwire then
# receives partial checksums and super-frames, and finishes them after encapsulating).

# PW_PREFIX names the namespace set (tests use their own so they never meet the demo's).
PW_PREFIX=${PW_PREFIX:-pw-}
H1=${PW_PREFIX}h1 NA=${PW_PREFIX}a NB=${PW_PREFIX}b H2=${PW_PREFIX}h2
PW_NS="$H1 $NA $NB $H2"

# The hosts' MTU for the configured underlay and encapsulation (PW_HOST_MTU sets it: 1500
# makes full-size frames that pwire must fragment after encapsulation and reassemble).
pw_inner_mtu() {
  [ -n "${PW_HOST_MTU:-}" ] && { echo "$PW_HOST_MTU"; return; }
  local m=1434
  [ "${PW_UNDERLAY:-ipv6}" = ipv4 ] && m=$((m + 20))
  [ "${PW_ENCAP:-ip}" = udp ] && m=$((m - 12))
  echo $m
}

netns_up() {
  netns_down
  INNER_MTU=$(pw_inner_mtu)
  for n in $PW_NS; do ip netns add "$n"; ip -n "$n" link set lo up; done
  # Each veth is made inside its namespace so parallel topologies never share a name.
  ip -n "$H1" link add h1 type veth peer name a-host netns "$NA"
  ip -n "$NA" link add a-up type veth peer name b-up netns "$NB"
  ip -n "$NB" link add b-host type veth peer name h2 netns "$H2"
  for p in "$NA a-host" "$NA a-up" "$NB b-up" "$NB b-host"; do
    set -- $p
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    ip -n "$1" link set "$2" up
  done
  ip -n "$H1" addr add 10.1.1.1/24 dev h1
  ip -n "$H2" addr add 10.1.1.2/24 dev h2
  for p in "$H1 h1" "$H2 h2"; do
    set -- $p
    ip -n "$1" link set "$2" mtu "$INNER_MTU" up
    # Hosts compute their own checksums and send MTU-sized frames (no TSO/GSO super-frames):
    # pwire handles both, but the e2e figures should measure the tunnel, not segmentation.
    [ "${PW_HOST_OFFLOAD:-0}" = 1 ] ||
      ip netns exec "$1" ethtool -K "$2" tx off tso off gso off >/dev/null 2>&1 || true
  done
}

netns_down() {
  # Whatever still runs inside (a pwire whose owner died first) goes with its namespace.
  local n pids
  for n in $PW_NS; do
    pids=$(ip netns pids "$n" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      kill $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -z "$(ip netns pids "$n" 2>/dev/null)" ] && break
        sleep 0.1
      done
      pids=$(ip netns pids "$n" 2>/dev/null || true)
      [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    fi
    ip netns del "$n" 2>/dev/null || true
  done
}

# pwire_conf <dir> <side: a|b>: writes startup.conf and setup.cli for one side.
# With PW_DPDK=1 the ports are DPDK net_af_packet vdevs on the same veths (pwire built with
# `--features dpdk`): net_af_packet0 on the host side, net_af_packet1 on the uplink.
pwire_conf() {
  local dir=$1 side=$2 our peer lsid rsid host up hif uif create dpdk="" plen=64 encap=""
  if [ "$side" = a ]; then our=fd00::1 peer=fd00::2 lsid=10 rsid=20 host=a-host up=a-up
  else our=fd00::2 peer=fd00::1 lsid=20 rsid=10 host=b-host up=b-up; fi
  if [ "${PW_UNDERLAY:-ipv6}" = ipv4 ]; then
    plen=24
    if [ "$side" = a ]; then our=192.0.2.1 peer=192.0.2.2; else our=192.0.2.2 peer=192.0.2.1; fi
  fi
  [ "${PW_ENCAP:-ip}" = udp ] && encap=" encap udp"
  if [ "${PW_DPDK:-0}" = 1 ]; then
    hif=net_af_packet0 uif=net_af_packet1 create=""
    dpdk="dpdk { no-huge no-pci log-level error vdev net_af_packet0,iface=$host vdev net_af_packet1,iface=$up }"
  else
    hif=host-$host uif=host-$up
    create="create host-interface name $host
create host-interface name $up"
  fi
  local attach="set interface l2 bridge $hif 1
set interface l2 bridge l2tpv3_tunnel0 1"
  local tunnel="create l2tpv3 tunnel client $peer our $our local-session-id $lsid remote-session-id $rsid$encap"
  if [ "${PW_SIGNALLED:-0}" = 1 ]; then
    # The control exchange is traced on the uplink from the start (demo.sh decodes it).
    tunnel="pcap trace rx tx max 200 intfc $uif file pwire-ctl-${PW_PREFIX}$side.pcap
set l2tpv3 control hostname pwire-$side router-id 10.0.0.$([ "$side" = a ] && echo 1 || echo 2)
create l2tpv3 control-connection peer $peer our $our$encap secret demo-secret hello 2 retries 3 retransmit 1 2
create l2tpv3 pseudowire control-connection 1 vc-id 100"
    # Cross-connected, as a router's `xconnect` is: the host port is the pseudowire's
    # attachment circuit, whose state (admin and carrier) the peer is told by SLI.
    attach="set interface l2 xconnect $hif l2tpv3_tunnel0
set interface l2 xconnect l2tpv3_tunnel0 $hif"
  fi
  cat > "$dir/setup-$side.cli" <<CLI
$create
set interface state $hif up
set interface state $uif up
set interface ip address $uif $our/$plen
$tunnel
set interface state l2tpv3_tunnel0 up
$attach
CLI
  cat > "$dir/startup-$side.conf" <<CONF
unix { nodaemon cli-listen $dir/cli-$side.sock exec $dir/setup-$side.cli log $dir/pwire-$side.log }
buffers { buffers-per-numa 16384 }
l2tp { lookup-session-id }
$dpdk
CONF
}
