#!/usr/bin/env python3
"""pwire DPDK benchmarks: dpdk-input plus the decap and encap paths, with virtual PMDs as the
"NIC", 1 and 2 workers, hugepages and --no-huge. Reports show runtime's clocks per packet per
node (vector-weighted over the worker threads) and Mpps (dpdk-input vectors over wall time).

Ports:
  rx-null  net_null0 (rx generates 60-byte frames, no copy) -> dpdk-input -> ethernet-input ->
           drop: the cost of dpdk-input itself (and ethernet-input's drop)
  decap    net_pcap<k> (rx_pcap of one L2TPv3/IPv6 packet, infinite_rx: the PMD copies it into
           each mbuf, as a NIC's DMA would) -> ip6 -> l2tp-decap -> bridge -> dpdk-tx on
           net_null (no-rx=1: a tx sink)
  encap    net_pcap<k> (one inner Ethernet frame, infinite_rx) -> bridge -> l2tp-encap ->
           ip6-rewrite -> dpdk-tx on net_null (no-rx=1)
With 2 workers there are two rx ports (one rx queue each), placed one per worker.

Needs pwire built with `--features dpdk` (release): the script builds it
(`cargo build --release -p pwire --features dpdk`, honouring CARGO_TARGET_DIR). Hugepage runs
reserve 2 MiB pages for the run (root only) and put nr_hugepages back afterwards.

Each case runs --windows measurement windows of --seconds in one pwire process and reports
the median window (by whole-graph clocks).

usage: scripts/bench_dpdk.py [--seconds S] [--windows N] [--no-build] [--only no-huge|huge] [--out DIR]
"""
import argparse, json, os, re, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import write_pcap  # noqa: E402  (the same frames as the pg benchmarks)
import bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
# PWIRE_BIN: another pwire binary (e.g. a debug build, to check the cases quickly).
PWIRE = os.environ.get("PWIRE_BIN", os.path.join(TARGET, "release", "pwire"))


def parse_runtime(text):
    """{node: (clk/pkt, vectors)} over all threads, clocks weighted by vectors; and
    dpdk-input vectors per thread (bench.py's parser, merged)."""
    threads = bench.parse_runtime(text)
    nodes = {}
    for t in threads.values():
        for name, (clk, vectors) in t.items():
            v, c = nodes.get(name, (0, 0.0))
            nodes[name] = (v + vectors, c + clk * vectors)
    ids = [int(t) for t in re.findall(r"^Thread (\d+) ", text, re.M)]
    per_thread = [threads.get(t, {}).get("dpdk-input", (0, 0))[1] for t in ids]
    return {n: (c / v, v) for n, (v, c) in nodes.items()}, per_thread


def decap_frame(dst_mac):
    # bench.py's decap packet (session 10, cookie ff x 8, the 60-byte inner frame) on Ethernet.
    return dst_mac + bytes.fromhex("020000000002") + b"\x86\xdd" + bench.decap_pkt(10)


encap_frame = bench.encap_frame


def case_setup(kind, workers, work):
    """(dpdk section body, CLI lines) for a case."""
    n_rx = workers
    sink = "vdev net_null%d,no-rx=1" % n_rx
    if kind == "rx-null":
        vdevs = ["vdev net_null%d,size=60" % k for k in range(n_rx)]
        lines = ["set interface state net_null%d up" % k for k in range(n_rx)]
        return " ".join(vdevs), lines
    if kind == "decap":
        # net_pcap's MAC is 02:70:63:61:70:<port id> (the PMD's fixed scheme); the pcap ports
        # are probed first, so port k is net_pcap<k>.
        vdevs = []
        for k in range(n_rx):
            pcap = os.path.join(work, "decap%d.pcap" % k)
            write_pcap(pcap, 1, [decap_frame(bytes.fromhex("0270636170%02x" % k))])
            vdevs.append("vdev net_pcap%d,rx_pcap=%s,infinite_rx=1" % (k, pcap))
        vdevs.append(sink)
        lines = ["set interface state net_pcap%d up" % k for k in range(n_rx)]
        lines += ["set interface ip address net_pcap%d fd0%d::1/64" % (k, k) for k in range(n_rx)]
        lines += ["set interface state net_null%d up" % n_rx,
                  "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
                  "set interface state l2tpv3_tunnel0 up",
                  "set interface l2 bridge l2tpv3_tunnel0 1",
                  "set interface l2 bridge net_null%d 1" % n_rx,
                  "l2fib add 02:00:00:00:01:01 1 net_null%d static" % n_rx,
                  "l2fib add 02:00:00:00:02:01 1 l2tpv3_tunnel0 static"]
        return " ".join(vdevs), lines
    if kind == "encap":
        # One source MAC per rx port (no MAC moves between the ports), all to 02:..:02:01
        # behind the tunnel.
        vdevs = []
        for k in range(n_rx):
            pcap = os.path.join(work, "encap%d.pcap" % k)
            f = encap_frame()
            write_pcap(pcap, 1, [f[:11] + bytes([f[11] + k]) + f[12:]])
            vdevs.append("vdev net_pcap%d,rx_pcap=%s,infinite_rx=1" % (k, pcap))
        vdevs.append(sink)
        lines = ["set interface state net_pcap%d up" % k for k in range(n_rx)]
        lines += ["set interface l2 bridge net_pcap%d 1" % k for k in range(n_rx)]
        lines += ["set interface state net_null%d up" % n_rx,
                  "set interface ip address net_null%d fd00::1/64" % n_rx,
                  "set ip neighbor net_null%d fd00::2 02:00:00:00:00:02 static" % n_rx,
                  "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
                  "set interface state l2tpv3_tunnel0 up",
                  "set interface l2 bridge l2tpv3_tunnel0 1",
                  "l2fib add 02:00:00:00:02:01 1 l2tpv3_tunnel0 static"]
        lines += ["l2fib add 02:00:00:00:01:%02x 1 net_pcap%d static" % (1 + k, k) for k in range(n_rx)]
        return " ".join(vdevs), lines
    raise ValueError(kind)


def hugepages(n):
    p = "/proc/sys/vm/nr_hugepages"
    old = int(open(p).read())
    with open(p, "w") as f:
        f.write(str(n))
    return old, int(open(p).read())


def run(kind, workers, huge, secs, work, windows_n):
    dpdk, lines = case_setup(kind, workers, work)
    mem = "" if huge else "no-huge"
    conf = ("l2tp { lookup-session-id }\nbuffers { buffers-per-numa 32768 }\n"
            "cpu { workers %d }\ndpdk { %s no-pci log-level error %s }" % (workers, mem, dpdk))
    env = dict(os.environ)
    if huge:
        env.pop("PWIRE_NO_HUGEPAGES", None)
    else:
        env["PWIRE_NO_HUGEPAGES"] = "1"
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        pw = bench.Pwire(conf, lines, tmp, env=env, binary=PWIRE)
        try:
            time.sleep(1.0)
            windows = []
            for _ in range(windows_n):
                pw.cli("clear runtime")
                pw.cli("clear errors")
                t0 = time.time()
                time.sleep(secs)
                rt = pw.cli("show runtime")
                wall = time.time() - t0
                windows.append((rt, wall, pw.cli("show errors")))
            bufs = pw.cli("show buffers").splitlines()[1].split()[-1]
        finally:
            pw.close()
    # The median window by whole-graph clocks: a thread preempted by another process on this
    # small machine inflates one node's clocks in one window; the median drops such windows.
    scored = sorted(windows, key=lambda w: sum(v[0] for v in parse_runtime(w[0])[0].values()))
    rt, wall, errors = scored[len(scored) // 2]
    nodes, per_thread = parse_runtime(rt)
    rx = sum(per_thread)
    return {"case": kind, "workers": workers, "memory": "hugepages" if huge else "no-huge",
            "pool_backend": bufs, "seconds": wall, "mpps": rx / wall / 1e6,
            "mpps_per_thread": [v / wall / 1e6 for v in per_thread],
            "nodes": {k: v[0] for k, v in nodes.items()},
            "whole_clk": sum(v[0] for v in nodes.values()),
            "errors": [l for l in errors.splitlines()[1:] if l.strip()]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one measurement window")
    ap.add_argument("--windows", type=int, default=3, help="windows per case; the median is reported")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", choices=["no-huge", "huge"])
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "pwire", "--features", "dpdk"],
                       cwd=ROOT, check=True)
    mems = [False, True]
    if a.only:
        mems = [a.only == "huge"]
    results = []
    restore = None
    work = tempfile.mkdtemp(prefix="pwire-bench-dpdk-")
    try:
        for huge in mems:
            if huge:
                if os.geteuid() != 0:
                    print("hugepage runs skipped: not root")
                    continue
                old, now = hugepages(512)
                restore = old
                if now < 256:
                    print("hugepage runs skipped: only %d 2 MiB pages could be reserved" % now)
                    continue
            for kind in ["rx-null", "decap", "encap"]:
                for workers in [1, 2]:
                    r = run(kind, workers, huge, a.seconds, work, a.windows)
                    results.append(r)
                    print("\n%s, %d worker(s), %s (pool: %s): %.2f Mpps (per thread %s)"
                          % (kind, workers, r["memory"], r["pool_backend"], r["mpps"],
                             " ".join("%.2f" % x for x in r["mpps_per_thread"])))
                    for k, v in sorted(r["nodes"].items(), key=lambda kv: -kv[1]):
                        print("  %-28s %8.1f clk/pkt" % (k, v))
                    print("  %-28s %8.1f clk/pkt" % ("whole graph", r["whole_clk"]))
                    drops = [e for e in r["errors"] if "ethernet-input" not in e or kind != "rx-null"]
                    if drops:
                        print("  show errors:\n    " + "\n    ".join(drops))
    finally:
        if restore is not None:
            hugepages(restore)
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "bench_dpdk.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\nwritten: %s/bench_dpdk.json" % a.out)


if __name__ == "__main__":
    main()
