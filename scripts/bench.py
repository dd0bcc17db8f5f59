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

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    a = ap.parse_args()
    runs = 3
    n = 2_000_000 if a.quick else 50_000_000
    os.makedirs(a.out, exist_ok=True)
    # 60-byte Ethernet/IPv4/UDP frame 02:00:00:00:02:01 -> 02:00:00:00:01:01, valid checksums.
    frame = "02000000010102000000020108004500002e00010000401164ba0a0101010a01010204d20009001ae4da000000000000000000000000000000000000"
    cases = [
        ("engine: pg-input -> pg-tx", "cpu { main-core 1 }\nbuffers { buffers-per-numa 32768 }",
         ["create packet-generator interface pg0", "create packet-generator interface pg1",
          "set interface state pg0 up", "set interface state pg1 up",
          "packet-generator new { name eng limit %d size 60-60 interface pg0 tx-interface pg1 node pg-tx data { %s } }" % (n, frame)],
         "eng", 33.0, None),
    ]
    hz = tsc_hz()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pw = Pwire("", [], tmp)
        try:
            m = re.search(r"TSC Hz:\s+(\d+)", pw.cli("show version verbose"))
            if m:
                hz = float(m.group(1))
        finally:
            pw.close()
    print("pwire benchmarks: %s, TSC ~%.4f GHz, %d packets per run, %d runs, medians" % (cpu_model(), hz / 1e9, n, runs))
    for title, conf, setup, stream, vpp_clk, vpp_mpps in cases:
        with tempfile.TemporaryDirectory() as tmp:
            pw = Pwire(conf, setup, tmp)
            try:
                per_run = [run_case(pw, stream, n) for _ in range(runs)]
            finally:
                pw.close()
        nodes = sorted({k for r, _ in per_run for k in r})
        med = {k: statistics.median([r.get(k, (0, 0))[0] for r, _ in per_run]) for k in nodes}
        whole = statistics.median([sum(v[0] for v in r.values()) for r, _ in per_run])
        mpps = hz / whole / 1e6 if whole else 0
        wall_mpps = statistics.median([n / w / 1e6 for _, w in per_run])
        print("\n%s" % title)
        print("  %-28s %10s" % ("node", "clk/pkt"))
        for k in sorted(nodes, key=lambda k: -med[k]):
            print("  %-28s %10.1f" % (k, med[k]))
        print("  %-28s %10.1f   (VPP: pg-input ~%s clk/pkt)" % ("whole graph", whole, vpp_clk))
        print("  Mpps from clocks %.2f, wall-clock %.2f" % (mpps, wall_mpps))
        results.append({"case": title, "nodes": med, "whole_clk": whole, "mpps": mpps, "wall_mpps": wall_mpps,
                        "packets": n, "runs": runs})
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump({"cpu": cpu_model(), "tsc_hz": hz, "results": results}, f, indent=1)
    print("\nwritten: %s/bench.json" % a.out)

if __name__ == "__main__":
    main()
