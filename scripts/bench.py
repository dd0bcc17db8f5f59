#!/usr/bin/env python3
"""pwire benchmarks: drives a release `pwire` with pg streams over its CLI socket and reports
show runtime's clocks per packet per node, whole-graph clk/pkt and Mpps, medians of N runs.
The three L2TPv3 paths are then measured side by side with a live VPP (the peer built by
../shared/tools/vpp-peer/build.sh, driven by ../shared/tools/sbs/run.sh through the same CLI,
runs alternated): pwire/VPP per path and per node. Without that build pwire is reported alone:
never against a figure from another run."""
import argparse, json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PWIRE = os.path.join(ROOT, "target", "release", "pwire")

class Pwire:
    """A pwire process started from a startup.conf and an exec script, driven over its CLI
    socket. `binary` and `env` let scripts/bench_dpdk.py run its DPDK build; `wrap` runs it
    under another program (valgrind)."""
    def __init__(self, conf_text, setup_lines, tmp, env=None, binary=None, wrap=None):
        self.sock = os.path.join(tmp, "cli.sock")
        setup = os.path.join(tmp, "setup.cli")
        with open(setup, "w") as f:
            f.write("\n".join(setup_lines) + "\n")
        conf = os.path.join(tmp, "startup.conf")
        with open(conf, "w") as f:
            f.write("unix { nodaemon cli-listen %s exec %s }\n%s\n" % (self.sock, setup, conf_text))
        self.p = subprocess.Popen((wrap or []) + [binary or PWIRE, "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, env=env)
        t0 = time.time()
        while not os.path.exists(self.sock):
            if self.p.poll() is not None:
                raise SystemExit("pwire failed to start: " + self.p.stderr.read().decode())
            if time.time() - t0 > (300 if wrap else 30):
                self.close()
                raise SystemExit("pwire did not open its CLI socket")
            time.sleep(0.05)

    def cli(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        # The socket file appears at bind(), a moment before listen(): a refused connect right
        # after start-up is retried (for at most 5 s).
        for attempt in range(100):
            try:
                s.connect(self.sock)
                break
            except ConnectionRefusedError:
                if attempt == 99:
                    raise
                time.sleep(0.05)
        s.sendall((line + "\n").encode())
        buf = b""
        while not (buf.endswith(b"\0OK\n") or buf.endswith(b"\0ERR\n")):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        if buf.endswith(b"\0ERR\n"):
            raise RuntimeError("%s: %s" % (line, buf[:-5].decode()))
        return buf[:-4].decode()

    def close(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

def parse_runtime(text):
    """show runtime -> {thread: {node: (clk/pkt, vectors)}}; threads numbered as printed."""
    threads, cur = {}, 0
    for line in text.splitlines():
        t = re.match(r"^Thread (\d+) ", line)
        if t:
            cur = int(t.group(1))
            continue
        m = re.match(r"^(\S+)\s+(active|polling|\"[^\"]*\"|interrupt wait)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)$", line)
        if not m or int(m.group(4)) == 0:
            continue
        threads.setdefault(cur, {})[m.group(1)] = (float(m.group(6)), int(m.group(4)))
    return threads

def whole_clk(nodes):
    """Whole-graph clocks per input packet of one thread's {node: (clk/pkt, vectors)}: every
    node's clocks over the packets pg-input made. For a single path this is the plain sum of
    the nodes' clk/pkt (each node sees every packet); for mixed paths it weights each node by
    the share of packets it saw."""
    inp = nodes.get("pg-input", (0, 0))[1]
    if not inp:
        return sum(v[0] for v in nodes.values())
    return sum(c * v for c, v in nodes.values()) / inp

def run_case(pw, streams, timeout=600):
    """Runs the streams together; returns ({thread: {node: (clk, vectors)}}, wall seconds)."""
    pw.cli("clear runtime")
    pw.cli("clear errors")
    t0 = time.time()
    for s in streams:
        pw.cli("packet-generator enable-stream " + s)
    while True:
        out = pw.cli("show packet-generator")
        rows = [l for l in out.splitlines() if l.split(" ")[0] in streams]
        if len(rows) == len(streams) and all(" No " in r for r in rows):
            break
        if time.time() - t0 > timeout:
            raise SystemExit("streams %s did not finish" % streams)
        time.sleep(0.02)
    wall = time.time() - t0
    return parse_runtime(pw.cli("show runtime")), wall

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

class Scraper:
    """Scrapes pwire's Prometheus exporter (GET /metrics) every `period` seconds on a thread
    while a case runs, as a Prometheus server would, only more often. A no-op for a case whose
    conf has no `prometheus listen`."""
    def __init__(self, conf, period=0.1):
        import threading
        m = re.search(r"prometheus listen ([0-9.]+):(\d+)", conf)
        self.addr = (m.group(1), int(m.group(2))) if m else None
        self.period, self.ok, self.failed, self.size = period, 0, 0, 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        nxt = time.time()
        while not self.stop.is_set():
            try:
                with socket.create_connection(self.addr, timeout=5) as s:
                    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                    buf = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                if buf.startswith(b"HTTP/1.1 200 "):
                    self.ok += 1
                    self.size = len(buf)
                else:
                    self.failed += 1
            except OSError:
                self.failed += 1
            nxt += self.period
            self.stop.wait(max(0.0, nxt - time.time()))

    def __enter__(self):
        if self.addr:
            self.t.start()
        return self

    def __exit__(self, *exc):
        if self.addr:
            self.stop.set()
            self.t.join()

    def summary(self):
        return "scraped every %d ms: %d scrapes, %d failed, %.1f KiB each" % (
            self.period * 1000, self.ok, self.failed, self.size / 1024)

def instructions(case, binary, tmp, packets):
    """Instructions the whole process executes for `packets` packets of `case`'s streams, under
    callgrind (counts, not clocks: the same for the same binary and input whatever the machine
    is doing)."""
    _, _, conf, setup, streams = case[:5]
    setup = [re.sub(r" limit \d+", " limit %d" % packets, l) if l.startswith("packet-generator new") else l
             for l in setup]
    out = os.path.join(tmp, "cg.out")
    pw = Pwire(conf, setup, tmp, binary=binary,
               wrap=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "-q"])
    try:
        run_case(pw, streams, timeout=1200)
    finally:
        pw.close()
    for l in open(out):
        if l.startswith("totals:") or l.startswith("summary:"):
            return int(l.split()[1])
    raise SystemExit("no totals in " + out)

def instructions_per_packet(case, binary, work):
    """(I(3N) - I(N)) / 2N: start-up, set-up and shut-down cancel out."""
    n = 100_000
    counts = []
    for k in (n, 3 * n):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            counts.append(instructions(case, binary, tmp, k))
    return (counts[1] - counts[0]) / (2 * n)

def barrier_hold(work, quick):
    """The longest time the main thread holds the workers parked while tunnels are created and
    deleted one command at a time, with 100k sessions and 1M MACs (100k with --quick) present
    and a worker forwarding decap traffic throughout. `show barrier` records the holds."""
    n_sess, n_macs, churn = 100_000, (100_000 if quick else 1_000_000), (200 if quick else 1000)
    conf = ("l2tp { lookup-session-id max-sessions %d }\ncpu { main-core 0 corelist-workers 1 }\n"
            "buffers { buffers-per-numa 32768 }" % (n_sess + churn + 16))
    lines = list(TOPO)
    lines += ["create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d" % (100 + i, 100 + i)
              for i in range(n_sess)]
    lines += ["l2fib add %s 1 pg1 static" % mac_str(mac(5, i)) for i in range(n_macs)]
    p = os.path.join(work, "barrier.pcap")
    write_pcap(p, 101, [decap_pkt(10)])
    lines.append("packet-generator new { name s limit 0 size 112-112 interface pg0 node ip6-input worker 0 pcap %s }" % p)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        pw = Pwire(conf, lines, tmp)
        setup = time.time() - t0
        try:
            pw.cli("packet-generator enable-stream s")
            time.sleep(0.5)
            pw.cli("clear barrier")
            t0 = time.time()
            for i in range(churn):
                sid = 10_000_000 + i
                pw.cli("create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d" % (sid, sid))
                pw.cli("create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d del" % (sid, sid))
            took = time.time() - t0
            out = pw.cli("show barrier")
            pw.cli("packet-generator disable-stream s")
            delivered = pw.cli("show errors")
        finally:
            pw.close()
    held = [l for l in out.splitlines() if l.startswith("Held")]
    print("\nbarrier: %d tunnels created and deleted (one command each) with %d sessions and %d MACs present, "
          "a worker forwarding decap traffic (setup %.0f s, churn %.1f s)" % (churn, n_sess, n_macs, setup, took))
    print("  " + "\n  ".join(out.strip().splitlines()))
    if held:
        mx = held[0].split()[2]
        print("  longest hold %s (goal: under 1 ms)" % mx)
    d = [l for l in delivered.splitlines() if "L2TP user (ip6) to L2 network pkts" in l]
    if d:
        print("  traffic went on: " + d[0].strip())

def cpu_model():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return "unknown"

def tsc_hz():
    # The same estimate pwire uses: TSC ticks over a monotonic interval (via perf-free /proc).
    for l in open("/proc/cpuinfo"):
        if l.startswith("cpu MHz"):
            return float(l.split(":")[1]) * 1e6
    return 0.0


def write_pcap(path, linktype, pkts):
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65536, linktype))
        for p in pkts:
            f.write(struct.pack("<IIII", 0, 0, len(p), len(p)))
            f.write(p)

# 60-byte Ethernet/IPv4/UDP frame 02:00:00:00:02:01 -> 02:00:00:00:01:01 with valid checksums.
INNER = bytes.fromhex("020000000101020000000201" "0800" "4500002e00010000401164ba0a0101010a010102"
                      "04d200090000" "000000000000000000000000000000000000000000000000")[:60]

def inner_frame(size=60, src=bytes.fromhex("020000000201"), dst=bytes.fromhex("020000000101")):
    """An Ethernet/IPv4/UDP frame of `size` bytes (60 or 1500 here) from src to dst."""
    ip_len = size - 14
    ip = bytearray(bytes.fromhex("45000000000100004011" "0000" "0a010101" "0a010102"))
    ip[2:4] = ip_len.to_bytes(2, "big")
    c = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
    while c > 0xffff:
        c = (c & 0xffff) + (c >> 16)
    ip[10:12] = (~c & 0xffff).to_bytes(2, "big")
    udp = (1234).to_bytes(2, "big") + (9).to_bytes(2, "big") + (ip_len - 20).to_bytes(2, "big") + b"\0\0"
    return dst + src + b"\x08\x00" + bytes(ip) + udp + bytes(ip_len - 28)

def ip4_pkt(dst):
    """IPv4 10.0.0.2 -> dst, UDP 1234 -> 9, 20 bytes of data, TTL 64, checksum right."""
    ip = bytearray(bytes.fromhex("45000030000140004011" "0000" "0a000002") + bytes(dst))
    c = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
    while c > 0xffff:
        c = (c & 0xffff) + (c >> 16)
    ip[10:12] = (~c & 0xffff).to_bytes(2, "big")
    return bytes(ip) + (1234).to_bytes(2, "big") + (9).to_bytes(2, "big") + (28).to_bytes(2, "big") + bytes(22)

def full_table(rnd, n):
    """n distinct prefixes with an Internet table's length mix (about 60% /24, the rest /8../23,
    a few /25../32), from unicast space outside 0/8, 10/8, 127/8 and multicast."""
    mix = [(24, 60), (23, 9), (22, 10), (21, 5), (20, 5), (19, 3), (18, 2), (17, 1), (16, 2),
           (12, 0.5), (8, 0.01), (28, 1), (32, 1.49)]
    lens = [l for l, _ in mix]
    weights = [w for _, w in mix]
    seen, out = set(), []
    while len(out) < n:
        l = rnd.choices(lens, weights)[0]
        a = rnd.randrange(1 << 24, 224 << 24) & ((0xffffffff << (32 - l)) & 0xffffffff)
        if a >> 24 in (10, 127) or (a, l) in seen:
            continue
        seen.add((a, l))
        out.append((a, l))
    return out

def addr_in(rnd, a, l):
    """A random address inside prefix a/l, as 4 bytes."""
    return (a | rnd.randrange(1 << (32 - l))).to_bytes(4, "big")

def decap_pkt(sid, inner=None):
    # IPv6 fd00::2 -> fd00::1, next header 115, hop limit 64, session id, cookie ff..ff, inner.
    l2tp = sid.to_bytes(4, "big") + b"\xff" * 8 + (inner or INNER)
    ip6 = bytes([0x60, 0, 0, 0]) + len(l2tp).to_bytes(2, "big") + bytes([115, 64]) + \
        bytes.fromhex("fd000000000000000000000000000002") + bytes.fromhex("fd000000000000000000000000000001")
    return ip6 + l2tp

def decap_seq_pkt(sid, seq, inner=None):
    # As decap_pkt, with the default sublayer: S bit and a 24-bit sequence number.
    l2tp = sid.to_bytes(4, "big") + b"\xff" * 8 + (0x40000000 | seq).to_bytes(4, "big") + (inner or INNER)
    ip6 = bytes([0x60, 0, 0, 0]) + len(l2tp).to_bytes(2, "big") + bytes([115, 64]) + \
        bytes.fromhex("fd000000000000000000000000000002") + bytes.fromhex("fd000000000000000000000000000001")
    return ip6 + l2tp

def ones_sum(b):
    if len(b) % 2:
        b = b + b"\0"
    c = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while c > 0xffff:
        c = (c & 0xffff) + (c >> 16)
    return c

def ip4_hdr(proto, payload_len, src=bytes([192, 0, 2, 2]), dst=bytes([192, 0, 2, 1])):
    h = bytearray(bytes([0x45, 0]) + (20 + payload_len).to_bytes(2, "big") + bytes([0, 0, 0x40, 0, 64, proto, 0, 0]) + src + dst)
    h[10:12] = (~ones_sum(bytes(h)) & 0xffff).to_bytes(2, "big")
    return bytes(h)

def decap4_pkt(sid, inner=None):
    """L2TPv3 over IPv4: 192.0.2.2 -> 192.0.2.1, protocol 115, session id, cookie ff..ff, inner."""
    l2tp = sid.to_bytes(4, "big") + b"\xff" * 8 + (inner or INNER)
    return ip4_hdr(115, len(l2tp)) + l2tp

def decap_udp_pkt(sid, v4, inner=None):
    """L2TPv3 over UDP 1701 -> 1701: over IPv4 with a zero checksum (the IPv4 default), over
    IPv6 with the checksum computed (mandatory there)."""
    l2tp = b"\x00\x03\x00\x00" + sid.to_bytes(4, "big") + b"\xff" * 8 + (inner or INNER)
    ulen = 8 + len(l2tp)
    udp = bytearray((1701).to_bytes(2, "big") * 2 + ulen.to_bytes(2, "big") + b"\0\0" + l2tp)
    if v4:
        return ip4_hdr(17, ulen) + bytes(udp)
    src = bytes.fromhex("fd000000000000000000000000000002")
    dst = bytes.fromhex("fd000000000000000000000000000001")
    c = ~ones_sum(src + dst + ulen.to_bytes(4, "big") + bytes([0, 0, 0, 17]) + bytes(udp)) & 0xffff
    udp[6:8] = (c or 0xffff).to_bytes(2, "big")
    return bytes([0x60, 0, 0, 0]) + ulen.to_bytes(2, "big") + bytes([17, 64]) + src + dst + bytes(udp)

def frag6_pkts(ident, payload, per):
    """The IPv6 fragments (fd00::2 -> fd00::1, next header 115) of `payload`, `per` bytes each."""
    out = []
    for k in range(0, len(payload), per):
        chunk = payload[k:k + per]
        more = 1 if k + per < len(payload) else 0
        fh = bytes([115, 0]) + (k | more).to_bytes(2, "big") + ident.to_bytes(4, "big")
        out.append(bytes([0x60, 0, 0, 0]) + (8 + len(chunk)).to_bytes(2, "big") + bytes([44, 64]) +
                   bytes.fromhex("fd000000000000000000000000000002") + bytes.fromhex("fd000000000000000000000000000001") +
                   fh + chunk)
    return out

def encap_frame(size=60):
    # To the MAC behind the tunnel, from the one behind pg1.
    return inner_frame(size, src=bytes.fromhex("020000000101"), dst=bytes.fromhex("020000000201"))

TOPO = [
    "create packet-generator interface pg0",
    "create packet-generator interface pg1",
    "set interface ip address pg0 fd00::1/64",
    "set interface state pg0 up",
    "set interface state pg1 up",
    "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
    "set interface state l2tpv3_tunnel0 up",
    "set interface l2 bridge l2tpv3_tunnel0 1",
    "set interface l2 bridge pg1 1",
    "l2fib add 02:00:00:00:01:01 1 pg1 static",
    "l2fib add 02:00:00:00:02:01 1 l2tpv3_tunnel0 static",
]
CONF = "l2tp { lookup-session-id }\ncpu { main-core 1 }\nbuffers { buffers-per-numa 32768 }"

# The same tunnel over IPv4, and over UDP on either family.
TOPO4 = [l.replace("set interface ip address pg0 fd00::1/64", "set interface ip address pg0 192.0.2.1/24")
         .replace("set ip neighbor pg0 fd00::2", "set ip neighbor pg0 192.0.2.2")
         .replace("client fd00::2 our fd00::1", "client 192.0.2.2 our 192.0.2.1") for l in TOPO]
TOPO_UDP6 = [l.replace("remote-session-id 20", "remote-session-id 20 encap udp") for l in TOPO]
TOPO_UDP4 = [l.replace("remote-session-id 20", "remote-session-id 20 encap udp") for l in TOPO4]

# The pseudowire cross-connected to its attachment circuit: pg1 itself (untagged), or
# pg1.100 with `pop 1` (VLAN 100 into its own pseudowire, RFC 4448 raw mode).
XC_TOPO = TOPO[:8] + [
    "set interface l2 xconnect pg1 l2tpv3_tunnel0",
    "set interface l2 xconnect l2tpv3_tunnel0 pg1",
]
VLAN_TOPO = TOPO[:8] + [
    "create sub-interfaces pg1 100",
    "set interface state pg1.100 up",
    "set interface l2 tag-rewrite pg1.100 pop 1",
    "set interface l2 xconnect pg1.100 l2tpv3_tunnel0",
    "set interface l2 xconnect l2tpv3_tunnel0 pg1.100",
]
# ethernet-input on a port without sub-interfaces: pg1 cross-connected to pg2.
ETH_TOPO = ["create packet-generator interface pg1", "create packet-generator interface pg2",
            "set interface state pg1 up", "set interface state pg2 up",
            "set interface l2 xconnect pg1 pg2"]

# The live peer: FD.io VPP v26.06 as ../shared/tools/vpp-peer/build.sh installs it.
VPP_PREFIX = os.environ.get("VPP_PEER_PREFIX", "/opt/vpp-peer")
SHARED_TOOLS = os.path.join(os.path.dirname(ROOT), "shared", "tools")
SBS_CASES = ("decap-local", "decap-feature", "encap")
SBS_BAR = 0.40  # pwire/VPP whole-graph clk/pkt on each path (the performance issue's bar)
# Alternated runs per path in the VPP comparison, at least. A --quick run is 2M packets, ~40 ms
# of pwire's time: one hiccup of the host can inflate it by half (seen: every pwire node +50%
# in two of three runs, VPP's interleaved runs untouched). A median of 5 needs three such runs.
SBS_MIN_RUNS = 5

def stream(name, n, size, intf, node, pcap, worker=None):
    w = " worker %d" % worker if worker is not None else ""
    return "packet-generator new { name %s limit %d%s size %d-%d interface %s node %s pcap %s }" % (
        name, n, w, size, size, intf, node, pcap)

def mac(prefix, i):
    return bytes([2, prefix]) + i.to_bytes(4, "big")

def mac_str(b):
    return ":".join("%02x" % x for x in b)

def rss_of(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1]) * 1024
    return 0

def main():
    import shutil
    work = tempfile.mkdtemp(prefix="pwire-bench-")
    try:
        bench(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

def build_cases(work, n, quick):
    """(key, title, conf, setup lines, streams, notes) for every case."""
    import random
    rnd = random.Random(7)
    def pcap(name, linktype, pkts):
        path = os.path.join(work, name + ".pcap")
        write_pcap(path, linktype, pkts)
        return path
    decap64 = pcap("decap64", 101, [decap_pkt(10)])
    decap4 = pcap("decap4", 101, [decap4_pkt(10)])
    decapu6 = pcap("decapu6", 101, [decap_udp_pkt(10, False)])
    decapu4 = pcap("decapu4", 101, [decap_udp_pkt(10, True)])
    # A 1500-byte inner frame's L2TPv3 packet in the two fragments pwire sends over a 1500-byte
    # underlay (1448 + 64 bytes), 512 identifications so that each datagram completes before
    # its identification comes round again.
    l2 = (10).to_bytes(4, "big") + b"\xff" * 8 + inner_frame(1500)
    reass = pcap("reass1500", 101, [f for i in range(512) for f in frag6_pkts(1000 + i, l2, 1448)])
    decap1500 = pcap("decap1500", 101, [decap_pkt(10, inner_frame(1500))])
    encap64 = pcap("encap64", 1, [encap_frame()])
    # The same frame tagged VLAN 100 (802.1Q after the MAC addresses).
    encap64_vlan = pcap("encap64vlan", 1, [encap_frame()[:12] + bytes.fromhex("81000064") + encap_frame()[12:]])
    encap1500 = pcap("encap1500", 1, [encap_frame(1500)])
    frame = INNER.hex()
    feature = ["set interface ip6 l2tpv3 pg0"]
    # Sequenced: numbers 0..16383 replayed; each wrap back to 0 is a run far behind the window
    # that resynchronises after 5 packets (4 drops in 16384, shown under drops).
    decap_seq = pcap("decapseq", 101, [decap_seq_pkt(10, q) for q in range(16384)])
    seq_topo = [l.replace("remote-session-id 20", "remote-session-id 20 sequencing") for l in TOPO]
    cases = [
        ("engine", "engine: pg-input -> pg-tx (pg-input plus one trivial node)", CONF,
         TOPO + ["packet-generator new { name s limit %d size 60-60 interface pg0 tx-interface pg1 node pg-tx data { %s } }" % (n, frame)], ["s"]),
        ("decap-local", "decap, local path (ip6-lookup -> ip6-receive -> l2tp-decap-local -> bridge), 64 B inner", CONF,
         TOPO + [stream("s", n, 112, "pg0", "ip6-input", decap64)], ["s"]),
        ("decap-feature", "decap, intercept feature (set interface ip6 l2tpv3 pg0), 64 B inner", CONF,
         TOPO + feature + [stream("s", n, 112, "pg0", "ip6-input", decap64)], ["s"]),
        ("encap", "encap (bridge -> l2tp-encap -> ip6-rewrite: the midchain), 64 B inner", CONF,
         TOPO + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("decap-local-seq", "decap, local path, sequenced session (shared per-session window), 64 B inner", CONF,
         seq_topo + [stream("s", n, 116, "pg0", "ip6-input", decap_seq)], ["s"]),
        ("encap-seq", "encap, sequenced session (shared per-session counter), 64 B inner", CONF,
         seq_topo + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("decap-local-1500", "decap, local path, 1500 B inner", CONF,
         TOPO + [stream("s", n, 1552, "pg0", "ip6-input", decap1500)], ["s"]),
        ("decap-feature-1500", "decap, intercept feature, 1500 B inner", CONF,
         TOPO + feature + [stream("s", n, 1552, "pg0", "ip6-input", decap1500)], ["s"]),
        ("encap-1500", "encap, 1500 B inner", CONF,
         TOPO + [stream("s", n, 1500, "pg1", "ethernet-input", encap1500)], ["s"]),
        ("encap-1500-frag", "encap, 1500 B inner over a 1500-byte underlay: every packet fragmented in two (ip6-frag)", CONF,
         TOPO + ["set interface mtu packet 1500 pg0"] + [stream("s", n, 1500, "pg1", "ethernet-input", encap1500)], ["s"]),
        ("decap-1500-reass", "decap, 1500 B inner arriving in two fragments (ip6-full-reassembly), per fragment", CONF,
         TOPO + [stream("s", n, 1500, "pg0", "ip6-input", reass)], ["s"]),
        ("decap-local-xc", "decap, local path, tunnel cross-connected to an untagged port, 64 B inner", CONF,
         XC_TOPO + [stream("s", n, 112, "pg0", "ip6-input", decap64)], ["s"]),
        ("decap-local-vlan", "decap, local path, per-VLAN pseudowire (pg1.100, pop 1: tag pushed on egress), 64 B inner", CONF,
         VLAN_TOPO + [stream("s", n, 112, "pg0", "ip6-input", decap64)], ["s"]),
        ("encap-xc", "encap, untagged port cross-connected to the tunnel, 64 B inner", CONF,
         XC_TOPO + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("encap-vlan", "encap, per-VLAN pseudowire (VLAN 100 on pg1 -> pg1.100, pop 1), 64 B inner", CONF,
         VLAN_TOPO + [stream("s", n, 64, "pg1", "ethernet-input", encap64_vlan)], ["s"]),
        ("eth-untagged", "ethernet-input on a port without sub-interfaces (L2 cross-connect pg1 -> pg2), 64 B", CONF,
         ETH_TOPO + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("decap-local-ip4", "decap over IPv4, local path (ip4-lookup -> ip4-receive -> l2tp4-decap-local -> bridge), 64 B inner", CONF,
         TOPO4 + [stream("s", n, 92, "pg0", "ip4-input", decap4)], ["s"]),
        ("decap-feature-ip4", "decap over IPv4, intercept feature (set interface ip4 l2tpv3 pg0), 64 B inner", CONF,
         TOPO4 + ["set interface ip4 l2tpv3 pg0"] + [stream("s", n, 92, "pg0", "ip4-input", decap4)], ["s"]),
        ("encap-ip4", "encap over IPv4 (bridge -> l2tp-encap -> ip4-rewrite: the midchain), 64 B inner", CONF,
         TOPO4 + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("decap-udp6", "decap over UDP/IPv6 (ip6-receive -> ip6-udp-lookup, checksum verified -> l2tp6-udp-decap), 64 B inner", CONF,
         TOPO_UDP6 + [stream("s", n, 124, "pg0", "ip6-input", decapu6)], ["s"]),
        ("encap-udp6", "encap over UDP/IPv6 (checksum computed), 64 B inner", CONF,
         TOPO_UDP6 + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("decap-udp4", "decap over UDP/IPv4 (ip4-receive -> ip4-udp-lookup -> l2tp4-udp-decap, zero checksum), 64 B inner", CONF,
         TOPO_UDP4 + [stream("s", n, 104, "pg0", "ip4-input", decapu4)], ["s"]),
        ("encap-udp4", "encap over UDP/IPv4 (zero checksum), 64 B inner", CONF,
         TOPO_UDP4 + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
        ("mixed", "mixed: decap (local path) and encap streams interleaved on one thread, 64 B", CONF,
         TOPO + [stream("d", n // 2, 112, "pg0", "ip6-input", decap64),
                 stream("e", n // 2, 60, "pg1", "ethernet-input", encap64)], ["d", "e"]),
    ]
    # Session scaling: many sessions with random ids (session-id lookup), traffic spread over
    # 1024 of them (all when fewer), each tunnel with its own inner source MAC so that the
    # bridge learns each once (no MAC moves), on the local decap path.
    scales = [1000, 100_000] if quick else [1000, 100_000, 1_000_000]
    for total in scales:
        sids = rnd.sample(range(100, 1 << 31), total)
        hot = min(1024, total)
        lines = [l for l in TOPO if not l.startswith("l2fib add 02:00:00:00:02:01")]
        lines += ["create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d" % (sid, sid)
                  for sid in sids]
        lines += ["set interface state l2tpv3_tunnel%d up" % (i + 1) for i in range(hot)]
        lines += ["set interface l2 bridge l2tpv3_tunnel%d 1" % (i + 1) for i in range(hot)]
        order = list(range(hot))
        rnd.shuffle(order)
        p = pcap("sess%d" % total, 101, [decap_pkt(sids[i], inner_frame(60, src=mac(3, i))) for i in order])
        conf = CONF.replace("lookup-session-id", "lookup-session-id max-sessions %d" % (total + 16))
        cases.append(("decap-%s-sessions" % ("%dk" % (total // 1000) if total < 1_000_000 else "1M"),
                      "decap, local path, %d sessions with random ids, traffic over %d of them" % (total, hot), conf,
                      lines + [stream("s", n, 112, "pg0", "ip6-input", p)], ["s"]))
    # Encap over 1024 tunnels: 1024 destination MACs, each statically behind its own tunnel.
    k = 1024
    lines = [l for l in TOPO if not l.startswith("l2fib add 02:00:00:00:02:01")]
    for i in range(k):
        lines += ["create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d" % (1000 + i, 5000 + i),
                  "set interface state l2tpv3_tunnel%d up" % (i + 1),
                  "set interface l2 bridge l2tpv3_tunnel%d 1" % (i + 1),
                  "l2fib add %s 1 l2tpv3_tunnel%d static" % (mac_str(mac(4, i)), i + 1)]
    order = list(range(k))
    rnd.shuffle(order)
    p = pcap("encap1k", 1, [inner_frame(60, src=bytes.fromhex("020000000101"), dst=mac(4, i)) for i in order])
    cases.append(("encap-1k-tunnels", "encap over 1024 tunnels (1024 destination MACs)", CONF,
                  lines + [stream("s", n, 60, "pg1", "ethernet-input", p)], ["s"]))
    # Workers: the decap-feature path on 1 and on 2 workers, one stream per worker.
    for w in (1, 2):
        conf = "l2tp { lookup-session-id }\ncpu { main-core 0 corelist-workers %s }\nbuffers { buffers-per-numa 65536 }" % (
            "1" if w == 1 else "0-1")
        cases.append(("workers-%d" % w, "decap, intercept feature, %d worker%s (one stream each)" % (w, "s" if w > 1 else ""),
                      conf, TOPO + feature + [stream("w%d" % i, n, 112, "pg0", "ip6-input", decap64, worker=i) for i in range(w)],
                      ["w%d" % i for i in range(w)]))
    # IPv6 forwarding and L2 bridging (issues 3 and 4), for reference.
    def ip6_pkt(dst):
        payload = bytes(20)
        return bytes([0x60, 0, 0, 0]) + len(payload).to_bytes(2, "big") + bytes([17, 64]) + \
            bytes.fromhex("fd000000000000000000000000000002") + dst + payload
    fwd_topo = ["create packet-generator interface pg0", "create packet-generator interface pg1",
                "set interface ip address pg0 fd00::1/64", "set interface ip address pg1 fd01::1/64",
                "set interface state pg0 up", "set interface state pg1 up",
                "set ip neighbor pg1 fd01::2 02:00:00:00:00:03 static"]
    one_route = pcap("ip6-one", 101, [ip6_pkt(bytes.fromhex("20010db8000000000000000000000001"))])
    n_routes = 100_000
    many_routes = pcap("ip6-many", 101, [ip6_pkt(bytes.fromhex("20010db8") + (rnd.randrange(n_routes)).to_bytes(4, "big")
                                                 + bytes(7) + b"\x01") for _ in range(1024)])
    route_lines = ["ip route add 2001:db8:%x:%x::/64 via fd01::2" % (i >> 16, i & 0xffff) for i in range(n_routes)]
    l2_topo = ["create packet-generator interface pg0", "create packet-generator interface pg1",
               "set interface state pg0 up", "set interface state pg1 up",
               "set interface l2 bridge pg0 1", "set interface l2 bridge pg1 1"]
    macs = [mac_str(mac(1, i)) for i in range(100_000)]
    l2_one = pcap("l2-one", 1, [bytes.fromhex(macs[0].replace(":", "")) + INNER[6:]])
    l2_many = pcap("l2-many", 1, [bytes.fromhex(macs[rnd.randrange(len(macs))].replace(":", "")) + INNER[6:] for _ in range(1024)])
    # IPv4 forwarding: one /24 route against a full-table-sized FIB (1M prefixes, lengths as
    # in the Internet table: mostly /24, the rest /8../23 and a few longer), the destinations
    # in both spread over 1024 addresses so that ip4-lookup's one-entry cache never helps.
    ip4_topo = ["create packet-generator interface pg0", "create packet-generator interface pg1",
                "set interface ip address pg0 10.0.0.1/24", "set interface ip address pg1 10.0.1.1/24",
                "set interface state pg0 up", "set interface state pg1 up",
                "set ip neighbor pg1 10.0.1.2 02:00:00:00:00:03 static"]
    one4 = pcap("ip4-one", 101, [ip4_pkt(bytes([198, 18, 5, rnd.randrange(1, 255)])) for _ in range(1024)])
    routes4 = full_table(rnd, 1_000_000)
    many4 = pcap("ip4-many", 101, [ip4_pkt(addr_in(rnd, *routes4[rnd.randrange(len(routes4))]))
                                   for _ in range(1024)])
    route4_lines = ["ip route add %d.%d.%d.%d/%d via 10.0.1.2" % (tuple(a.to_bytes(4, "big")) + (l,))
                    for a, l in routes4]
    # The same table with its first 1024 routes replaced by 1024 /24s of 100.64.0.0/14 (four
    # /16s), and 1024 destinations one in each: their second-level slots and counter rows sit
    # on a dozen pages where the spread destinations' sit on two thousand. The difference
    # between the two is what the pages cost; between this and one route, what 1024 different
    # entries cost.
    local4 = [((100 << 24) | ((64 + i // 256) << 16) | ((i % 256) << 8), 24) for i in range(1024)]
    cgn = range((100 << 8) | 64, (100 << 8) | 68)
    routes4_local = local4 + [r for r in routes4[1024:] if (r[0] >> 16) not in cgn or r[1] < 14]
    local4_pcap = pcap("ip4-local", 101, [ip4_pkt(addr_in(rnd, *r)) for r in rnd.sample(local4, 1024)])
    route4_local_lines = ["ip route add %d.%d.%d.%d/%d via 10.0.1.2" % (tuple(a.to_bytes(4, "big")) + (l,))
                          for a, l in routes4_local]
    cases += [
        ("ip4-fwd-1-route", "ip4 forwarding, 1 route (198.18.5.0/24), 1024 destinations in it", CONF,
         ip4_topo + ["ip route add 198.18.5.0/24 via 10.0.1.2",
                     "packet-generator new { name s limit %d interface pg0 node ip4-input pcap %s }" % (n, one4)], ["s"]),
        ("ip4-fwd-1M-routes", "ip4 forwarding, 1M routes (Internet-like lengths), 1024 destinations", CONF,
         ip4_topo + route4_lines
         + ["packet-generator new { name s limit %d interface pg0 node ip4-input pcap %s }" % (n, many4)], ["s"]),
        ("ip4-fwd-1M-routes-local", "ip4 forwarding, the same 1M routes, 1024 destinations on a dozen pages", CONF,
         ip4_topo + route4_local_lines
         + ["packet-generator new { name s limit %d interface pg0 node ip4-input pcap %s }" % (n, local4_pcap)], ["s"]),
    ]
    cases += [
        ("ip6-fwd-1-route", "ip6 forwarding, 1 route (2001:db8::/32)", CONF,
         fwd_topo + ["ip route add 2001:db8::/32 via fd01::2",
                     "packet-generator new { name s limit %d interface pg0 node ip6-input pcap %s }" % (n, one_route)], ["s"]),
        ("ip6-fwd-100k-routes", "ip6 forwarding, 100k /64 routes, 1024 destinations", CONF,
         fwd_topo + route_lines + ["packet-generator new { name s limit %d interface pg0 node ip6-input pcap %s }" % (n, many_routes)], ["s"]),
        ("l2-1-mac", "L2 bridging, 1 MAC in the l2fib (+ the learned source)", CONF,
         l2_topo + ["l2fib add %s 1 pg1 static" % macs[0],
                    "packet-generator new { name s limit %d interface pg0 node ethernet-input pcap %s }" % (n, l2_one)], ["s"]),
        ("l2-100k-macs", "L2 bridging, 100k MACs in the l2fib, 1024 destinations", CONF,
         l2_topo + ["l2fib add %s 1 pg1 static" % m for m in macs]
         + ["packet-generator new { name s limit %d interface pg0 node ethernet-input pcap %s }" % (n, l2_many)], ["s"]),
    ]
    # The Prometheus exporter's cost: decap and encap with `stats { prometheus listen }`, scraped
    # every 100 ms while the stream runs (compare with decap-local and encap; the summary also
    # runs each pair side by side).
    conf = CONF + "\nstats { prometheus listen 127.0.0.1:%d }" % free_port()
    cases += [
        ("metrics-decap", "decap, local path, Prometheus exporter on and scraped every 100 ms", conf,
         TOPO + [stream("s", n, 112, "pg0", "ip6-input", decap64)], ["s"]),
        ("metrics-encap", "encap, Prometheus exporter on and scraped every 100 ms", conf,
         TOPO + [stream("s", n, 60, "pg1", "ethernet-input", encap64)], ["s"]),
    ]
    return cases

def side_by_side(ca, cb, seconds, cores, binaries=(None, None), node=None):
    """Runs case A's stream on core cores[0] and case B's on cores[1] at the same time for
    `seconds` (A with binaries[0], B with binaries[1]; None: this build); returns B's
    whole-graph clk/pkt over A's, and with `node` also (A's, B's) clk/pkt of that node."""
    pws, tmps = [], []
    try:
        for core, c, binary in zip(cores, (ca, cb), binaries):
            _, _, conf, setup, streams = c[:5]
            conf = re.sub(r"main-core \d+", "main-core %d" % core, conf)
            # No limit: both run until stopped together.
            setup = [re.sub(r" limit \d+", " limit 0", l) if l.startswith("packet-generator new") else l for l in setup]
            tmp = tempfile.mkdtemp(prefix="pwire-bench-pair-")
            tmps.append(tmp)
            pws.append((Pwire(conf, setup, tmp, binary=binary), streams))
        for pw, _ in pws:
            pw.cli("clear runtime")
        for pw, streams in pws:
            for st in streams:
                pw.cli("packet-generator enable-stream " + st)
        with Scraper(ca[2]), Scraper(cb[2]):
            time.sleep(seconds)
        for pw, streams in pws:
            for st in streams:
                pw.cli("packet-generator disable-stream " + st)
        whole, at = [], []
        for pw, _ in pws:
            t = parse_runtime(pw.cli("show runtime")).get(0, {})
            whole.append(whole_clk(t))
            at.append(t.get(node, (0, 0))[0])
        if node:
            return whole[1] / whole[0], at[0], at[1]
        return whole[1] / whole[0]
    finally:
        import shutil
        for pw, _ in pws:
            pw.close()
        for t in tmps:
            shutil.rmtree(t, ignore_errors=True)

def two_processes(case, other_core_conf, hz, seconds):
    """Two pwire processes of `case` (one worker each: one as configured, one with
    `other_core_conf`, so one worker per core) running its stream at the same time for
    `seconds`; returns their Mpps summed (from clocks, as the worker cases)."""
    import shutil
    _, _, conf, setup, streams = case[:5]
    setup = [re.sub(r" limit \d+", " limit 0", l) if l.startswith("packet-generator new") else l for l in setup]
    pws, tmps = [], []
    try:
        for c in (conf, other_core_conf):
            tmp = tempfile.mkdtemp(prefix="pwire-bench-proc-")
            tmps.append(tmp)
            pws.append(Pwire(c, setup, tmp))
        for pw in pws:
            pw.cli("clear runtime")
        for pw in pws:
            for st in streams:
                pw.cli("packet-generator enable-stream " + st)
        time.sleep(seconds)
        for pw in pws:
            for st in streams:
                pw.cli("packet-generator disable-stream " + st)
        mpps = 0.0
        for pw in pws:
            for t in parse_runtime(pw.cli("show runtime")).values():
                w = whole_clk(t)
                if w:
                    mpps += hz / w / 1e6
        return mpps
    finally:
        for pw in pws:
            pw.close()
        for t in tmps:
            shutil.rmtree(t, ignore_errors=True)

def parse_sbs(text):
    """{case: {label: {node: clk/pkt, "WHOLE GRAPH": clk/pkt}}} from sbs/run.sh's output."""
    res, case, labels = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^== (\S+) \(clk/pkt", line)
        if m:
            case, labels = m.group(1), []
            res[case] = {}
            continue
        if case is None or not line.startswith("  "):
            continue
        f = line.split()
        if f and f[0] == "node":
            labels = f[1:]
            res[case] = {l: {} for l in labels}
        elif labels and len(f) >= len(labels) + 1:
            name = " ".join(f[:len(f) - len(labels)])
            for l, v in zip(labels, f[len(f) - len(labels):]):
                try:
                    x = float(v)
                except ValueError:
                    continue
                if x == x:  # summarize.py prints nan for a node one dataplane does not have
                    res[case][l][name] = x
    return res

def vpp_side_by_side(n, runs, out, hz):
    """The three L2TPv3 paths through VPP and pwire, same CLI script (sbs/setup.cli), same pg
    streams, both on core 1, runs alternated VPP pwire VPP pwire ... (sbs/run.sh). Returns
    {case: (pwire whole, vpp whole)} or None when the peer is not built."""
    vpp, vppctl = os.path.join(VPP_PREFIX, "bin", "vpp"), os.path.join(VPP_PREFIX, "bin", "vppctl")
    run_sh = os.path.join(SHARED_TOOLS, "sbs", "run.sh")
    start_sh = os.path.join(SHARED_TOOLS, "vpp-peer", "start.sh")
    print("\nSide by side with VPP (the three L2TPv3 paths, same CLI script and pg streams, core 1, runs alternated)")
    if not (os.access(vpp, os.X_OK) and os.path.exists(run_sh)):
        print("  VPP peer: not built (%s missing; ../shared/tools/vpp-peer/build.sh builds it in ~14 min):"
              " pwire's figures above stand alone, no ratio printed" % vpp)
        return None
    import shutil
    tmp = tempfile.mkdtemp(prefix="pwire-sbs-")
    rundir = os.path.join(tmp, "vpp")
    pw = None
    try:
        # 4 KiB pages for VPP's buffers, as pwire's heap buffers: no hugepages reserved (VPP would
        # raise nr_hugepages itself and leave them reserved after it exits).
        o = subprocess.run(["bash", start_sh, "-d", rundir, "-k", "1", "-p", "4k"], capture_output=True, text=True,
                           timeout=120)
        m = re.search(r"sock=(\S+)", o.stdout)
        if o.returncode != 0 or not m:
            print("  VPP peer did not start: %s" % (o.stderr.strip() or o.stdout.strip()))
            return None
        vsock = m.group(1)
        setup = [l for l in open(os.path.join(SHARED_TOOLS, "sbs", "setup.cli")).read().splitlines() if l.strip()]
        pdir = os.path.join(tmp, "pwire")
        os.makedirs(pdir)
        pw = Pwire("l2tp { lookup-session-id }\ncpu { main-core 1 }\nbuffers { buffers-per-numa 32768 }", setup, pdir)
        pwctl = os.path.join(ROOT, "target", "release", "pwctl")
        sbs_out = os.path.join(tmp, "runs")
        o = subprocess.run(["bash", run_sh, sbs_out, str(n), str(runs), "%s -s %s" % (vppctl, vsock), "vpp",
                            "%s -s %s" % (pwctl, pw.sock), "pwire"], capture_output=True, text=True, timeout=3600)
        if o.returncode != 0:
            print("  sbs/run.sh failed: %s" % o.stderr.strip()[-500:])
            return None
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "vpp-side-by-side.txt"), "w") as f:
            f.write(o.stdout)
        res = parse_sbs(o.stdout)
    finally:
        if pw:
            pw.close()
        subprocess.run(["bash", start_sh, "stop", "-d", rundir], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    table = {}
    for case in SBS_CASES:
        r = res.get(case, {})
        if "vpp" not in r or "pwire" not in r:
            print("  %s: no parsable runs" % case)
            continue
        print("\n  %s: clk/pkt per node (medians of %d runs of %d packets)" % (case, runs, n))
        print("    %-26s %9s %9s %8s" % ("node", "VPP", "pwire", "pwire/VPP"))
        names = sorted(set(r["vpp"]) | set(r["pwire"]), key=lambda k: (k == "WHOLE GRAPH", -r["vpp"].get(k, 0)))
        for k in names:
            v, p = r["vpp"].get(k), r["pwire"].get(k)
            cell = lambda x: "%9.1f" % x if x is not None and x == x else "%9s" % "-"
            ratio = "%8.2f" % (p / v) if v and p and v == v and p == p else "%8s" % ""
            print("    %-26s %s %s %s" % (k.lower() if k == "WHOLE GRAPH" else k, cell(v), cell(p), ratio))
        table[case] = (r["pwire"]["WHOLE GRAPH"], r["vpp"]["WHOLE GRAPH"])
    if table:
        print("\n  %-14s %9s %9s %10s %10s %10s" % ("path", "VPP clk", "pwire clk", "pwire/VPP", "VPP Mpps", "pwire Mpps"))
        for case, (p, v) in table.items():
            print("  %-14s %9.1f %9.1f %10.3f %10.2f %10.2f   bar <= %.2f: %s"
                  % (case, v, p, p / v, hz / v / 1e6, hz / p / 1e6, SBS_BAR, "met" if p / v <= SBS_BAR else "MISSED"))
        print("  (Mpps from clocks at the TSC rate, one core, pg-input included; raw runs in %s/vpp-side-by-side.txt)" % out)
    return table

def svg_plot(results, path):
    """Horizontal stacked bars of clk/pkt per node per case (single-thread cases), with VPP's
    whole-graph figure as a tick where there is one."""
    rows = [r for r in results if r["threads"] == 1]
    palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
               "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d", "#499894"]
    nodes = []
    for r in rows:
        for k in sorted(r["nodes"], key=lambda k: -r["nodes"][k]):
            if k not in nodes:
                nodes.append(k)
    color = {k: palette[i % len(palette)] for i, k in enumerate(nodes)}
    top = max([r["whole_clk"] for r in rows] + [r["vpp_clk"] or 0 for r in rows] + [1])
    bar_h, left, width = 22, 170, 700
    scale = width / top
    h = 40 + bar_h * len(rows) * 1.4 + 30 + 18 * ((len(nodes) + 3) // 4)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (left + width + 60, h),
           '<text x="10" y="20" font-size="14">pwire: clocks per packet per node (medians; black tick = VPP whole graph)</text>']
    y = 40
    for r in rows:
        out.append('<text x="10" y="%d">%s</text>' % (y + 15, r["case"]))
        x = left
        for k in sorted(r["nodes"], key=lambda k: -r["nodes"][k]):
            w = r["nodes"][k] * scale
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %.1f</title></rect>' % (x, y, w, bar_h, color[k], k, r["nodes"][k]))
            x += w
        out.append('<text x="%.1f" y="%d">%.0f</text>' % (x + 4, y + 15, r["whole_clk"]))
        if r["vpp_clk"]:
            vx = left + r["vpp_clk"] * scale
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black" stroke-width="2"/>' % (vx, vx, y - 3, y + bar_h + 3))
        y += int(bar_h * 1.4)
    y += 20
    for i, k in enumerate(nodes):
        cx, cy = 10 + (i % 4) * 210, y + (i // 4) * 18
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>' % (cx, cy, color[k], cx + 16, cy + 10, k))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))

def bench(work):
    import shutil
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2M packets per run, no 1M-session case")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--case", action="append", help="run only cases whose name starts with this (repeatable)")
    ap.add_argument("--packets", type=int, help="packets per run (default 50M, --quick 2M)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", metavar="PWIRE",
                    help="another build's pwire binary: after the cases, run each L2TPv3 path (both families, IP "
                         "and UDP) side by side with "
                         "it (one per core, then swapped) and print this build's clk/pkt over that build's")
    ap.add_argument("--barrier", action="store_true", help="only the barrier-hold case")
    ap.add_argument("--no-vpp", action="store_true", help="skip the side-by-side runs with the VPP peer")
    ap.add_argument("--instructions", action="store_true",
                    help="instead of clocks: instructions per packet of the selected cases under callgrind "
                         "(and of the --against build), repeatable on this host where clocks are not")
    a = ap.parse_args()
    runs = a.runs
    n = a.packets or (2_000_000 if a.quick else 50_000_000)
    os.makedirs(a.out, exist_ok=True)
    cases = build_cases(work, n, a.quick)
    all_cases = {c[0]: c for c in cases}
    if a.case:
        cases = [c for c in cases if any(c[0].startswith(p) for p in a.case)]
    spec = {c[0]: c for c in cases}
    if a.barrier:
        barrier_hold(work, a.quick)
        return
    if a.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
        print("instructions per packet (callgrind, whole process, (I(300k) - I(100k)) / 200k):")
        for key, title, *_ in cases:
            this = instructions_per_packet(spec[key], None, work)
            line = "  %-22s %7.1f" % (key, this)
            if a.against:
                that = instructions_per_packet(spec[key], a.against, work)
                line += "   that build %7.1f   this - that %+.1f" % (that, this - that)
            print(line)
        return
    hz = tsc_hz()
    base_rss = 0
    with tempfile.TemporaryDirectory() as tmp:
        pw = Pwire(CONF, [], tmp)
        try:
            m = re.search(r"TSC Hz:\s+(\d+)", pw.cli("show version verbose"))
            if m:
                hz = float(m.group(1))
            base_rss = rss_of(pw.p.pid)
        finally:
            pw.close()
    results = []
    print("pwire benchmarks: %s, TSC %.4f GHz, %d packets per stream per run, %d runs, medians"
          % (cpu_model(), hz / 1e9, n, runs))
    print("clk/pkt = show runtime's clocks per packet per node (TSC), summed over the graph as VPP's figures are;")
    print("single-thread cases run on the main thread (cpu { main-core 1 }), as VPP's figures were taken.")
    for key, title, conf, setup, streams in cases:
        with tempfile.TemporaryDirectory() as tmp:
            t_setup = time.time()
            pw = Pwire(conf, setup, tmp)
            t_setup = time.time() - t_setup
            try:
                rss = rss_of(pw.p.pid)
                with Scraper(conf) as scraper:
                    per_run = [run_case(pw, streams) for _ in range(runs)]
                errors = pw.cli("show errors")
                mem = pw.cli("show l2tpv3 memory") if key.endswith("sessions") else ""
            finally:
                pw.close()
        # Per thread: node clk/pkt medians, whole-graph clk/pkt, Mpps from clocks.
        tids = sorted({t for r, _ in per_run for t in r})
        per_thread = {}
        for t in tids:
            names = sorted({k for r, _ in per_run for k in r.get(t, {})})
            if not names:
                continue
            med = {k: statistics.median([r.get(t, {}).get(k, (0, 0))[0] for r, _ in per_run]) for k in names}
            whole = statistics.median([whole_clk(r.get(t, {})) for r, _ in per_run])
            per_thread[t] = (med, whole)
        agg_mpps = sum(hz / w / 1e6 for _, w in per_thread.values() if w)
        # The reported node table: the one thread, or the vector-weighted mean over threads.
        if len(per_thread) == 1:
            med, whole = next(iter(per_thread.values()))
        else:
            names = sorted({k for m, _ in per_thread.values() for k in m})
            med = {k: statistics.mean([m.get(k, 0) for m, _ in per_thread.values()]) for k in names}
            whole = statistics.mean([w for _, w in per_thread.values()])
        sent = n * len(streams) if key != "mixed" else n
        wall_mpps = statistics.median([sent / w / 1e6 for _, w in per_run])
        print("\n%s" % title)
        print("  %-28s %10s" % ("node", "clk/pkt"))
        for k in sorted(med, key=lambda k: -med[k]):
            print("  %-28s %10.1f" % (k, med[k]))
        print("  %-28s %10.1f" % ("whole graph", whole))
        if len(per_thread) > 1:
            print("  per worker whole graph: %s clk/pkt" % ", ".join("%.1f" % w for _, w in per_thread.values()))
        print("  Mpps: %.2f from clocks, %.2f wall clock; %d packets per run; setup %.1f s, RSS %.1f MiB"
              % (agg_mpps, wall_mpps, sent, t_setup, rss / 2**20))
        if scraper.addr:
            print("  exporter " + scraper.summary())
        if mem:
            print("  " + "\n  ".join(mem.strip().splitlines()))
            print("  RSS over an empty pwire: %.1f MiB" % ((rss - base_rss) / 2**20))
        drops = [l for l in errors.splitlines()[1:] if l.strip() and " error " in l]
        if drops:
            print("  drops:\n    " + "\n    ".join(drops))
        results.append({"case": key, "title": title, "nodes": med, "whole_clk": whole, "mpps": agg_mpps,
                        "wall_mpps": wall_mpps, "packets": sent, "runs": runs, "rss_bytes": rss,
                        "base_rss_bytes": base_rss, "threads": len(per_thread),
                        "per_thread_whole_clk": [w for _, w in per_thread.values()],
                        "vpp_clk": None, "memory": mem.strip(),
                        "scrapes": scraper.ok if scraper.addr else None,
                        "scrapes_failed": scraper.failed if scraper.addr else None})
    by = {r["case"]: r for r in results}
    # Ratios between two cases, measured together: this machine's speed drifts by up to 2x over
    # minutes (shared host), which two cases measured minutes apart would turn into a false
    # ratio. Session scaling runs both cases at once, one per core; workers alternate.
    big = sorted([k for k in by if k.startswith("decap-") and k.endswith("-sessions")], key=len)
    pairs = []
    if "decap-local" in by and big:
        most = [k for k in ("decap-1M-sessions", "decap-100k-sessions", "decap-1k-sessions") if k in by]
        pairs.append(("decap-local", most[0] if most else big[-1]))
    if "ip4-fwd-1-route" in by and "ip4-fwd-1M-routes" in by:
        pairs.append(("ip4-fwd-1-route", "ip4-fwd-1M-routes"))
    if "workers-1" in by and "workers-2" in by:
        pairs.append(("workers-1", "workers-2"))
    # The IPv4 paths against the IPv6 path of the same encapsulation (bar: no more than it
    # costs); and what UDP adds over IP on IPv6 (its checksum over the whole frame: a figure).
    UNDERLAY_PAIRS = [("decap-local", "decap-local-ip4"), ("decap-feature", "decap-feature-ip4"),
                      ("encap", "encap-ip4"), ("decap-udp6", "decap-udp4"), ("encap-udp6", "encap-udp4")]
    UDP_COST = [("decap-local", "decap-udp6"), ("encap", "encap-udp6")]
    pairs += [p for p in UNDERLAY_PAIRS + UDP_COST if p[0] in by and p[1] in by]
    spec = {c[0]: c for c in cases}
    paired = {}
    for ka, kb in pairs:
        ratios, procs = [], []
        # The workers ratio compares whole-machine runs taken one after another, so it sees the
        # host more than anything else here: spells of a second or more where one core runs
        # slow, and spells where the host runs both vCPUs on one CPU (both workers then take
        # exactly twice their clocks and two give what one gives). 12 alternations, median.
        for _ in range(12 if ka == "workers-1" else runs):
            if ka == "workers-1":
                # The whole machine is the subject: one after the other, a fresh pwire each. The
                # one worker runs once on each core (before and after the two): the two cores'
                # speeds differ with their host neighbours, and 2 workers use both, so the
                # baseline is the mean of the two single-core rates, not whichever core one
                # worker happened to be on.
                got = []
                one_on_0 = spec[ka][2].replace("main-core 0 corelist-workers 1", "main-core 1 corelist-workers 0")
                assert one_on_0 != spec[ka][2], "workers-1 conf changed: update the core swap"
                for k, conf in ((ka, None), (kb, None), (ka, one_on_0)):
                    _, _, conf0, setup, streams = spec[k][:5]
                    with tempfile.TemporaryDirectory() as tmp:
                        pw = Pwire(conf or conf0, setup, tmp)
                        try:
                            r, _ = run_case(pw, streams)
                        finally:
                            pw.close()
                    got.append(sum(hz / whole_clk(t) / 1e6 for t in r.values() if t))
                ratios.append(got[1] / ((got[0] + got[2]) / 2))
                # The control the host cannot fool: two pwire processes with one worker each
                # (one per core), same stream, run at once right after the two-worker pwire.
                two = two_processes(spec[ka], one_on_0, hz, 0.5 if a.quick else 1.5)
                procs.append(got[1] / two)
            else:
                # Single-thread cases side by side, one per core, over the same wall-clock second:
                # both see the same machine, whatever it is doing then.
                # Twice, the cores swapped: a core that is slower than the other (its host
                # neighbours) then biases both measurements oppositely and the bias cancels.
                t = 0.5 if a.quick else 1.5
                r1 = side_by_side(spec[ka], spec[kb], t, (0, 1))
                r2 = side_by_side(spec[ka], spec[kb], t, (1, 0))
                ratios.append((r1 * r2) ** 0.5)
        paired[(ka, kb)] = (statistics.median(ratios), ratios)
        if procs:
            paired[("workers-2-processes", "workers-2")] = (statistics.median(procs), procs)
    # The exporter's cost: each metrics case against the same path without an exporter, side by
    # side on the two cores (then swapped), the exporter scraped every 100 ms meanwhile.
    for kb, ka in (("metrics-decap", "decap-local"), ("metrics-encap", "encap")):
        if kb not in by:
            continue
        t = 0.5 if a.quick else 1.5
        ratios = []
        for _ in range(runs):
            r1 = side_by_side(all_cases[ka], all_cases[kb], t, (0, 1))
            r2 = side_by_side(all_cases[ka], all_cases[kb], t, (1, 0))
            ratios.append((r1 * r2) ** 0.5)
        paired[(ka, kb)] = (statistics.median(ratios), ratios)
    # Outer fragmentation and reassembly next to the unfragmented 1500-byte paths (same run):
    # per inner frame, so the reassembly case's per-fragment figure counts twice.
    for frag, plain, per in (("encap-1500-frag", "encap-1500", 1), ("decap-1500-reass", "decap-local-1500", 2)):
        if frag in by and plain in by:
            f = by[frag]["whole_clk"] * per
            print("  %-16s %7.1f  = %s %+.1f clk per 1500-byte frame (fragmentation / reassembly, same run)"
                  % (frag, f, plain, f - by[plain]["whole_clk"]))
    for seq, plain in (("decap-local-seq", "decap-local"), ("encap-seq", "encap")):
        if seq in by and plain in by:
            print("  %-16s %7.1f  = %s %+.1f clk/pkt (sequencing's cost, same run)"
                  % (seq, by[seq]["whole_clk"], plain, by[seq]["whole_clk"] - by[plain]["whole_clk"]))
    # Per-VLAN pseudowires (pop 1 on the attachment circuit) next to the untagged port.
    for vlan, plain in (("decap-local-vlan", "decap-local-xc"), ("encap-vlan", "encap-xc")):
        if vlan in by and plain in by:
            print("  %-16s %7.1f  = %s %+.1f clk/pkt (VLAN sub-interface and tag rewrite, same run)"
                  % (vlan, by[vlan]["whole_clk"], plain, by[vlan]["whole_clk"] - by[plain]["whole_clk"]))
    if "eth-untagged" in by:
        print("  %-16s %7.1f  clk/pkt in ethernet-input on a port without sub-interfaces "
              "(--against compares it with another build side by side; bar: <= 2 above)"
              % ("eth-untagged", by["eth-untagged"]["nodes"].get("ethernet-input", 0)))
    print("\nSummary (whole-graph clk/pkt; VPP is measured side by side below)")
    for key in SBS_CASES:
        if key in by:
            print("  %-16s %7.1f" % (key, by[key]["whole_clk"]))
    if "decap-local" in by:
        for k in big:
            ratio = by[k]["whole_clk"] / by["decap-local"]["whole_clk"]
            print("  %-22s %7.1f  = %.2f x decap-local (separate runs)" % (k, by[k]["whole_clk"], ratio))
    if "ip4-fwd-1-route" in by and "ip4-fwd-1M-routes" in by:
        one, many = (by[k]["nodes"].get("ip4-lookup", 0) for k in ("ip4-fwd-1-route", "ip4-fwd-1M-routes"))
        if one:
            print("  ip4-lookup, 1M routes / 1 route: %.1f / %.1f clk/pkt = %.2f x (separate runs; bar <= 1.3: %s)"
                  % (many, one, many / one, "met" if many / one <= 1.3 else "MISSED"))
            local = by.get("ip4-fwd-1M-routes-local", {}).get("nodes", {}).get("ip4-lookup", 0)
            if local:
                print("    of which pages %.1f clk (spread %.1f against the same table's destinations on a dozen "
                      "pages %.1f), and 1024 entries' counters and rows %.1f clk (against one route)"
                      % (many - local, many, local, local - one))
    for (ka, kb), (ratio, all_r) in paired.items():
        if kb.startswith("metrics-"):
            sep = " (separately: %.1f clk/pkt on, %.1f off)" % (by[kb]["whole_clk"], by[ka]["whole_clk"]) if ka in by else ""
            print("  %s: exporter on and scraped every 100 ms / off, side by side on the two cores (and swapped): "
                  "%.3f x (runs: %s)%s" % (ka, ratio, ", ".join("%.3f" % x for x in all_r), sep))
        elif ka == "workers-1":
            print("  2 workers / 1 worker (on each core in turn), median of %d alternations: %.2f x packets "
                  "(each: %s; bar >= 1.8: %s)"
                  % (len(all_r), ratio, ", ".join("%.2f" % x for x in all_r), "met" if ratio >= 1.8 else "MISSED"))
        elif ka == "workers-2-processes":
            print("  2 workers in one pwire / 2 pwire with 1 worker each (one per core, at once), median of %d "
                  "alternations: %.2f x packets (each: %s; bar >= 0.95: %s)"
                  % (len(all_r), ratio, ", ".join("%.2f" % x for x in all_r), "met" if ratio >= 0.95 else "MISSED"))
        else:
            bar = "; bar <= 1.5: %s" % ("met" if ratio <= 1.5 else "MISSED") if kb == "decap-1M-sessions" else ""
            if kb == "ip4-fwd-1M-routes":
                bar = " (whole graph)"
            if (ka, kb) in UNDERLAY_PAIRS:
                bar = "; IPv4 over IPv6, bar <= 1.0: %s" % ("met" if ratio <= 1.0 else "MISSED")
            if (ka, kb) in UDP_COST:
                bar = "; UDP over IP, checksum included"
            # The IPv4/IPv6 bar is met or missed by a few thousandths: print them.
            f = "%.3f" if (ka, kb) in UNDERLAY_PAIRS else "%.2f"
            print(("  %s / %s, side by side on the two cores (and swapped): " + f + " x (runs: %s%s)")
                  % (kb, ka, ratio, ", ".join(f % x for x in all_r), bar))
    if not a.case:
        barrier_hold(work, a.quick)
    if a.against:
        print("\nThis build against %s, side by side (one per core, then swapped), %d alternations:" % (a.against, runs))
        for key in ("decap-local", "decap-feature", "encap", "decap-local-seq", "encap-seq",
                    "decap-local-ip4", "decap-feature-ip4", "encap-ip4", "decap-udp4", "encap-udp4",
                    "decap-udp6", "encap-udp6"):
            if key not in spec:
                continue
            t = 0.5 if a.quick else 1.5
            rs = []
            for _ in range(runs):
                r1 = side_by_side(spec[key], spec[key], t, (0, 1), (a.against, None))
                r2 = side_by_side(spec[key], spec[key], t, (1, 0), (a.against, None))
                rs.append((r1 * r2) ** 0.5)
            print("  %-16s this / that: %.3f (runs: %s)" % (key, statistics.median(rs), ", ".join("%.3f" % x for x in rs)))
            paired[("against", key)] = (statistics.median(rs), rs)
        if "eth-untagged" in spec:
            # ethernet-input's own clocks on an untagged port, this build against that one:
            # what a port without sub-interfaces pays for them.
            t = 0.5 if a.quick else 1.5
            diffs = []
            for _ in range(runs):
                for cores in ((0, 1), (1, 0)):
                    _, that, this = side_by_side(spec["eth-untagged"], spec["eth-untagged"], t, cores,
                                                 (a.against, None), node="ethernet-input")
                    diffs.append(this - that)
            d = statistics.median(diffs)
            print("  ethernet-input, untagged port: this - that %+.2f clk/pkt (runs: %s; bar <= +2: %s)"
                  % (d, ", ".join("%+.2f" % x for x in diffs), "met" if d <= 2 else "MISSED"))
            paired[("against", "ethernet-input-untagged")] = (d, diffs)
    sbs = None
    if not a.no_vpp and (not a.case or any(k in spec for k in SBS_CASES)):
        sbs = vpp_side_by_side(n, max(runs, SBS_MIN_RUNS), a.out, hz)
        for key, (p, v) in (sbs or {}).items():
            paired[("vpp", key)] = (p / v, [])
            if key in by:
                by[key]["vpp_clk"] = v
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump({"cpu": cpu_model(), "tsc_hz": hz, "packets": n, "runs": runs, "results": results,
                   "paired_ratios": {"%s/%s" % (kb, ka): {"median": v[0], "runs": v[1]} for (ka, kb), v in paired.items()}},
                  f, indent=1)
    with open(os.path.join(a.out, "bench.csv"), "w") as f:
        f.write("case,node,clk_per_pkt,whole_clk_per_pkt,mpps,vpp_whole_clk_per_pkt,threads,rss_bytes\n")
        for r in results:
            for k, v in sorted(r["nodes"].items()):
                f.write("%s,%s,%.2f,%.2f,%.3f,%s,%d,%d\n" % (r["case"], k, v, r["whole_clk"], r["mpps"],
                                                          r["vpp_clk"] or "", r["threads"], r["rss_bytes"]))
    svg_plot(results, os.path.join(a.out, "bench.svg"))
    print("\nwritten: %s/bench.json, bench.csv, bench.svg" % a.out)

if __name__ == "__main__":
    main()
