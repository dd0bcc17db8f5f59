#!/usr/bin/env python3
"""pwire benchmarks: drives a release `pwire` with pg streams over its CLI socket and reports
show runtime's clocks per packet per node, whole-graph clk/pkt and Mpps, medians of N runs,
next to VPP's figures from ../shared/reference/vpp-peer-figures.md."""
import argparse, json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PWIRE = os.path.join(ROOT, "target", "release", "pwire")

class Pwire:
    def __init__(self, conf_text, setup_lines, tmp):
        self.sock = os.path.join(tmp, "cli.sock")
        setup = os.path.join(tmp, "setup.cli")
        with open(setup, "w") as f:
            f.write("\n".join(setup_lines) + "\n")
        conf = os.path.join(tmp, "startup.conf")
        with open(conf, "w") as f:
            f.write("unix { nodaemon cli-listen %s exec %s }\n%s\n" % (self.sock, setup, conf_text))
        self.p = subprocess.Popen([PWIRE, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.time()
        while not os.path.exists(self.sock):
            if self.p.poll() is not None:
                raise SystemExit("pwire failed to start: " + self.p.stderr.read().decode())
            if time.time() - t0 > 20:
                raise SystemExit("pwire did not open its CLI socket")
            time.sleep(0.05)

    def cli(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.sock)
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
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()

def parse_runtime(text):
    """{node: clk/pkt} summed over threads (per-thread rows of the same node are averaged by
    vectors), plus total vectors per node."""
    nodes = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(active|polling|\"[^\"]*\"|interrupt wait)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)$", line)
        if not m:
            continue
        name, vectors, clk = m.group(1), int(m.group(4)), float(m.group(6))
        if vectors == 0:
            continue
        v, c = nodes.get(name, (0, 0.0))
        nodes[name] = (v + vectors, c + clk * vectors)
    return {n: (c / v, v) for n, (v, c) in nodes.items()}

def run_case(pw, stream, packets, timeout=600):
    pw.cli("clear runtime")
    pw.cli("clear errors")
    t0 = time.time()
    pw.cli("packet-generator enable-stream " + stream)
    while True:
        out = pw.cli("show packet-generator")
        row = [l for l in out.splitlines() if l.startswith(stream + " ")]
        if row and " No " in row[0]:
            break
        if time.time() - t0 > timeout:
            raise SystemExit("stream %s did not finish" % stream)
        time.sleep(0.05)
    wall = time.time() - t0
    return parse_runtime(pw.cli("show runtime")), wall

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

def decap_pkt(sid):
    # IPv6 fd00::2 -> fd00::1, next header 115, hop limit 64, session id, cookie ff..ff, inner.
    l2tp = sid.to_bytes(4, "big") + b"\xff" * 8 + INNER
    ip6 = bytes([0x60, 0, 0, 0]) + len(l2tp).to_bytes(2, "big") + bytes([115, 64]) + \
        bytes.fromhex("fd000000000000000000000000000002") + bytes.fromhex("fd000000000000000000000000000001")
    return ip6 + l2tp

def encap_frame():
    return INNER[6:12] + INNER[0:6] + INNER[12:]

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

# VPP v26.06 on this machine kind (../shared/reference/vpp-peer-figures.md): whole graph clk/pkt, Mpps.
VPP = {"decap-local": (314, 7.9), "decap-feature": (156, 15.3), "encap": (252, 10.0), "engine": (33, None)}

def main():
    import shutil
    work = tempfile.mkdtemp(prefix="pwire-bench-")
    try:
        bench(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

def bench(work):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--case", action="append", help="run only cases whose name starts with this (repeatable)")
    ap.add_argument("--packets", type=int, help="packets per run (default 50M, --quick 2M)")
    a = ap.parse_args()
    runs = 3
    n = a.packets or (2_000_000 if a.quick else 50_000_000)
    os.makedirs(a.out, exist_ok=True)
    decap_pcap = os.path.join(work, "decap.pcap")
    write_pcap(decap_pcap, 101, [decap_pkt(10)])
    encap_pcap = os.path.join(work, "encap.pcap")
    write_pcap(encap_pcap, 1, [encap_frame()])
    frame = INNER.hex()
    big_sessions = 100_000 if a.quick else 1_000_000
    import random
    rnd = random.Random(7)
    sids = rnd.sample(range(100, 1 << 31), big_sessions)
    hot = sids[:1024]
    # Frames from many tunnels share one inner source MAC: no static entry pinning it to tunnel 0.
    big_topo = [l for l in TOPO if not l.startswith("l2fib add 02:00:00:00:02:01")]
    big_lines = ["create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id %d remote-session-id %d" % (sid, sid)
                 for sid in sids]
    hot_pcap = os.path.join(work, "hot.pcap")
    write_pcap(hot_pcap, 101, [decap_pkt(s) for s in hot])
    cases = [
        ("engine", "engine: pg-input -> pg-tx (pg-input plus one trivial node)", CONF,
         TOPO + ["packet-generator new { name s limit %d size 60-60 interface pg0 tx-interface pg1 node pg-tx data { %s } }" % (n, frame)], []),
        ("decap-local", "decap, local path (ip6-lookup -> ip6-receive -> l2tp-decap-local -> bridge)", CONF,
         TOPO + ["packet-generator new { name s limit %d size 112-112 interface pg0 node ip6-input pcap %s }" % (n, decap_pcap)], []),
        ("decap-feature", "decap, intercept feature (set interface ip6 l2tpv3 pg0)", CONF,
         TOPO + ["set interface ip6 l2tpv3 pg0",
                 "packet-generator new { name s limit %d size 112-112 interface pg0 node ip6-input pcap %s }" % (n, decap_pcap)], []),
        ("encap", "encap (bridge -> l2tp-encap -> ip6-lookup -> ip6-rewrite)", CONF,
         TOPO + ["packet-generator new { name s limit %d size 60-60 interface pg1 node ethernet-input pcap %s }" % (n, encap_pcap)], []),
        ("decap-%dk-sessions" % (big_sessions // 1000),
         "decap, local path, %d sessions with random ids, traffic over 1024 of them" % big_sessions, CONF,
         big_topo + big_lines
         + ["set interface state l2tpv3_tunnel%d up" % (i + 1) for i in range(1024)]
         + ["set interface l2 bridge l2tpv3_tunnel%d 1" % (i + 1) for i in range(1024)]
         + ["packet-generator new { name s limit %d size 112-112 interface pg0 node ip6-input pcap %s }" % (n, hot_pcap)], []),
    ]
    # IPv6 forwarding (issue 3): pg0 -> ip6-input -> ip6-lookup -> ip6-rewrite -> pg1.
    def ip6_pkt(dst):
        payload = bytes(20)
        return bytes([0x60, 0, 0, 0]) + len(payload).to_bytes(2, "big") + bytes([17, 64]) + \
            bytes.fromhex("fd000000000000000000000000000002") + dst + payload
    fwd_topo = ["create packet-generator interface pg0", "create packet-generator interface pg1",
                "set interface ip address pg0 fd00::1/64", "set interface ip address pg1 fd01::1/64",
                "set interface state pg0 up", "set interface state pg1 up",
                "set ip neighbor pg1 fd01::2 02:00:00:00:00:03 static"]
    one_route = os.path.join(work, "ip6-one.pcap")
    write_pcap(one_route, 101, [ip6_pkt(bytes.fromhex("20010db8000000000000000000000001"))])
    n_routes = 100_000
    many_routes = os.path.join(work, "ip6-many.pcap")
    write_pcap(many_routes, 101, [ip6_pkt(bytes.fromhex("20010db8") + (rnd.randrange(n_routes)).to_bytes(4, "big")
                                          + bytes(7) + b"\x01") for _ in range(1024)])
    route_lines = ["ip route add 2001:db8:%x:%x::/64 via fd01::2" % (i >> 16, i & 0xffff) for i in range(n_routes)]
    # L2 path (issue 4): pg0 -> ethernet-input -> l2-input -> l2-learn -> l2-fwd -> l2-output -> pg1.
    l2_topo = ["create packet-generator interface pg0", "create packet-generator interface pg1",
               "set interface state pg0 up", "set interface state pg1 up",
               "set interface l2 bridge pg0 1", "set interface l2 bridge pg1 1"]
    macs = ["02:01:%02x:%02x:%02x:%02x" % tuple((i >> s) & 0xff for s in (24, 16, 8, 0)) for i in range(100_000)]
    l2_one = os.path.join(work, "l2-one.pcap")
    write_pcap(l2_one, 1, [bytes.fromhex("020100000000") + INNER[6:]])
    l2_many = os.path.join(work, "l2-many.pcap")
    write_pcap(l2_many, 1, [bytes.fromhex(macs[rnd.randrange(len(macs))].replace(":", "")) + INNER[6:] for _ in range(1024)])
    cases += [
        ("ip6-fwd-1-route", "ip6 forwarding, 1 route (2001:db8::/32)", CONF,
         fwd_topo + ["ip route add 2001:db8::/32 via fd01::2",
                     "packet-generator new { name s limit %d interface pg0 node ip6-input pcap %s }" % (n, one_route)], []),
        ("ip6-fwd-100k-routes", "ip6 forwarding, 100k /64 routes, 1024 destinations", CONF,
         fwd_topo + route_lines + ["packet-generator new { name s limit %d interface pg0 node ip6-input pcap %s }" % (n, many_routes)], []),
        ("l2-1-mac", "L2 bridging, 1 MAC in the l2fib (+ the learned source)", CONF,
         l2_topo + ["l2fib add %s 1 pg1 static" % macs[0],
                    "packet-generator new { name s limit %d interface pg0 node ethernet-input pcap %s }" % (n, l2_one)], []),
        ("l2-100k-macs", "L2 bridging, 100k MACs in the l2fib, 1024 destinations", CONF,
         l2_topo + ["l2fib add %s 1 pg1 static" % m for m in macs]
         + ["packet-generator new { name s limit %d interface pg0 node ethernet-input pcap %s }" % (n, l2_many)], []),
    ]
    hz = tsc_hz()
    with tempfile.TemporaryDirectory() as tmp:
        pw = Pwire("", [], tmp)
        try:
            m = re.search(r"TSC Hz:\s+(\d+)", pw.cli("show version verbose"))
            if m:
                hz = float(m.group(1))
        finally:
            pw.close()
    results = []
    print("pwire benchmarks: %s, TSC %.4f GHz, %d packets per run, %d runs, medians; main thread only (as VPP's figures)"
          % (cpu_model(), hz / 1e9, n, runs))
    if a.case:
        cases = [c for c in cases if any(c[0].startswith(p) for p in a.case)]
    for key, title, conf, setup, _ in cases:
        with tempfile.TemporaryDirectory() as tmp:
            t_setup = time.time()
            pw = Pwire(conf, setup, tmp)
            t_setup = time.time() - t_setup
            try:
                rss = 0
                for l in open("/proc/%d/status" % pw.p.pid):
                    if l.startswith("VmRSS"):
                        rss = int(l.split()[1]) * 1024
                per_run = [run_case(pw, "s", n) for _ in range(runs)]
                errors = pw.cli("show errors")
            finally:
                pw.close()
        nodes = sorted({k for r, _ in per_run for k in r})
        med = {k: statistics.median([r.get(k, (0, 0))[0] for r, _ in per_run]) for k in nodes}
        whole = statistics.median([sum(v[0] for v in r.values()) for r, _ in per_run])
        mpps = hz / whole / 1e6 if whole else 0
        wall_mpps = statistics.median([n / w / 1e6 for _, w in per_run])
        vpp = VPP.get(key)
        print("\n%s" % title)
        print("  %-28s %10s" % ("node", "clk/pkt"))
        for k in sorted(nodes, key=lambda k: -med[k]):
            print("  %-28s %10.1f" % (k, med[k]))
        if key == "engine":
            print("  %-28s %10.1f   (VPP pg-input alone: ~%d clk/pkt)" % ("whole graph", whole, vpp[0]))
        elif vpp:
            print("  %-28s %10.1f   VPP %d clk/pkt -> ratio %.2f (bar: <= 0.50)" % ("whole graph", whole, vpp[0], whole / vpp[0]))
        else:
            print("  %-28s %10.1f" % ("whole graph", whole))
        print("  Mpps: %.2f from clocks (VPP %s), %.2f wall clock; setup %.1f s, RSS %.1f MiB"
              % (mpps, vpp[1] if vpp and vpp[1] else "-", wall_mpps, t_setup, rss / 2**20))
        drops = [l for l in errors.splitlines()[1:] if l.strip()]
        if drops:
            print("  show errors:\n    " + "\n    ".join(drops))
        focus = {"ip6": ["ip6-lookup"], "l2-": ["l2-input", "l2-learn", "l2-fwd", "l2-output"]}
        for prefix, fnodes in focus.items():
            if key.startswith(prefix):
                tot = sum(med.get(k, 0) for k in fnodes)
                ref = "VPP ~62-66" if prefix == "ip6" else "VPP ~39-46"
                print("  %s: %.1f clk/pkt (%s)" % (" + ".join(fnodes), tot, ref))
        results.append({"case": key, "title": title, "nodes": med, "whole_clk": whole, "mpps": mpps,
                        "wall_mpps": wall_mpps, "packets": n, "runs": runs, "rss_bytes": rss,
                        "vpp_clk": vpp[0] if vpp else None})
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump({"cpu": cpu_model(), "tsc_hz": hz, "results": results}, f, indent=1)
    print("\nwritten: %s/bench.json" % a.out)

if __name__ == "__main__":
    main()
