#!/usr/bin/env python3
"""The real I/O path: pwire (and the VPP peer, when built) forwarding between two hosts over veth
and AF_PACKET, in the demo's topology (scripts/netns.sh; own namespace prefix `pwbench-`):

  10.1.1.1 [h1] --veth-- [A] fd00::1 ==L2TPv3/IPv6== fd00::2 [B] --veth-- [h2] 10.1.1.2

pwire runs three times: with its default TPACKET_V3 RX rings (VPP's default), with `hybrid` (a V2
frame ring while the link is quiet, the V3 block ring while it is busy) and with `v2` (frame rings
only: a frame is handed over at once instead of when its block retires). Both dataplanes get the same exec CLI script (scripts/netns.sh's pwire_conf: host-interfaces,
static L2TPv3 tunnel, bridge domain 1), the same buffers and l2tp sections, A's main thread on
core 0 and B's on core 1; VPP's buffers on 4 KiB pages as pwire's (no hugepages). For each run,
a fresh topology, both ends started, a warm-up ping (ND and ARP resolved), then from h1 to h2:
  ping   200 echoes 10 ms apart (root): RTT min/avg/max/mdev and loss;
  TCP    one connection for 5 s (Python client and server, no iperf here): Mbit/s at the server,
         the bytes received and their CRC32 checked against what the client sent; the hosts'
         congestion control (printed) is the namespaces' default (BBR on this machine kind);
         then the same paced by the sender's kernel at --tcp-rate (default 2500 Mbit/s), a
         load every ring carries, the same offered load whichever dataplane runs;
  UDP    18-byte payloads (64-byte Ethernet frames with FCS) from 2 sender processes on connected
         sockets for 5 s: offered = h1's tx frames, delivered = h2's rx frames (interface counters,
         so a slow Python receiver does not count as the tunnel's loss), loss = 1 - rx/offered;
         then the same paced at --udp-rate (default 500 kpps in all), the same offered load
         whichever dataplane runs.
The hosts' senders share the 2 cores with the dataplanes: the flat-out offered rate is what
Python can send there, not the dataplanes' limit, and differs with how much CPU the dataplane
leaves them; the paced figures compare the dataplanes at one load. Dataplanes are alternated (pwire, pwire-hyb, pwire-v2, VPP, pwire, ...) for
--runs runs; the table shows medians, the JSON in --out all samples. Needs root.
Without /opt/vpp-peer/bin/vpp (../shared/tools/vpp-peer/build.sh) pwire is reported alone."""
import argparse, json, os, re, select, shutil, signal, statistics, struct, subprocess, sys, tempfile, time, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PWIRE = os.path.join(ROOT, "target", "release", "pwire")
PWCTL = os.path.join(ROOT, "target", "release", "pwctl")
NETNS_SH = os.path.join(ROOT, "scripts", "netns.sh")
VPP_PREFIX = os.environ.get("VPP_PEER_PREFIX", "/opt/vpp-peer")
START_SH = os.path.join(os.path.dirname(ROOT), "shared", "tools", "vpp-peer", "start.sh")
PREFIX = "pwbench-"
H1, NA, NB, H2 = (PREFIX + n for n in ("h1", "a", "b", "h2"))
H1_IP, H2_IP = "10.1.1.1", "10.1.1.2"
TCP_PORT, UDP_PORT = 5201, 5202
SO_MAX_PACING_RATE = 47  # linux/asm-generic/socket.h (Python's socket module does not name it)
UDP_PAYLOAD = 18  # 14 Ethernet + 20 IPv4 + 8 UDP + 18 + 4 FCS = 64 bytes on the wire
CORES = {"a": 0, "b": 1}


class StepError(Exception):
    """A measurement step that failed; the message names the step."""


# ---------------------------------------------------------------- roles run inside a namespace

def role_tcp_server(port, limit):
    import socket
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((H2_IP, port))
    ls.listen(1)
    ls.settimeout(limit)
    print("ready", flush=True)
    c, _ = ls.accept()
    c.settimeout(limit)
    n, crc, t0, buf = 0, 0, None, bytearray(1 << 18)
    view = memoryview(buf)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        if t0 is None:
            t0 = time.monotonic()
        n += k
        crc = zlib.crc32(view[:k], crc)
    elapsed = time.monotonic() - (t0 or time.monotonic())
    c.sendall(("%d %d\n" % (n, crc)).encode())
    c.close()
    print(json.dumps({"bytes": n, "crc": crc, "seconds": elapsed}), flush=True)


def role_tcp_client(port, seconds, rate=0.0):
    """Sends for `seconds`, as fast as the connection takes it or (`rate` > 0) paced by the
    kernel at no more than `rate` bytes a second (SO_MAX_PACING_RATE)."""
    import socket
    block = os.urandom(1 << 16)
    s = socket.create_connection((H2_IP, port), timeout=10)
    if rate > 0:
        # 8 bytes: the kernel takes a 64-bit rate (a C int would stop at 17 Gbit/s).
        s.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("=Q", int(rate)))
    s.settimeout(max(10.0, seconds * 2))
    n, crc = 0, 0
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        s.sendall(block)
        n += len(block)
        crc = zlib.crc32(block, crc)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            break
        reply += chunk
    s.close()
    print(json.dumps({"bytes": n, "crc": crc, "reply": reply.decode().strip()}), flush=True)


def role_udp_sink(port):
    """Holds the port so h2 sends no ICMP unreachable back through the tunnel; never reads
    (what arrives is counted at h2's interface)."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((H2_IP, port))
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    s.close()


def role_udp_send(port, start_at, seconds, rate):
    """Sends for `seconds` from `start_at`: as fast as it can, or (`rate` > 0) `rate` datagrams a
    second, in bursts of 256 on schedule."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((H2_IP, port))
    payload = b"\xa5" * UDP_PAYLOAD
    send = s.send
    n = errors = 0
    time.sleep(max(0.0, start_at - time.time()))
    t_end = start_at + seconds
    now = time.time
    while True:
        t = now()
        if t >= t_end:
            break
        if rate > 0:
            due = start_at + (n + errors) / rate
            if due > t:
                time.sleep(min(due - t, t_end - t))
                continue
        for _ in range(256):  # the clock is read once per 256 sends
            try:
                send(payload)
                n += 1
            except OSError:
                errors += 1
    print(json.dumps({"sent": n, "errors": errors}), flush=True)


ROLES = {"_tcp_server": lambda a: role_tcp_server(int(a[0]), float(a[1])),
         "_tcp_client": lambda a: role_tcp_client(int(a[0]), float(a[1]), float(a[2])),
         "_udp_sink": lambda a: role_udp_sink(int(a[0])),
         "_udp_send": lambda a: role_udp_send(int(a[0]), float(a[1]), float(a[2]), float(a[3]))}


# ---------------------------------------------------------------- the topology and the dataplanes

def clean_env():
    """The demo's defaults: IPv6 underlay, IP encapsulation, static sessions, netns.sh's MTU and
    offloads, whatever the caller's environment says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PW_")}
    env["PW_PREFIX"] = PREFIX
    return env


def netns(fn, *args, timeout=60):
    cmd = ". %s; %s %s" % (NETNS_SH, fn, " ".join(args))
    o = subprocess.run(["bash", "-c", cmd], env=clean_env(), capture_output=True, text=True, timeout=timeout)
    if o.returncode != 0:
        raise StepError("%s failed: %s" % (fn, (o.stderr or o.stdout).strip()[-500:]))


class Procs:
    """Every process this script starts, so the finally clause can end the ones still running."""
    def __init__(self):
        self.live = []

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.live.append(p)
        return p

    def end(self, p, grace=5):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                f.close()
        if p in self.live:
            self.live.remove(p)

    def end_all(self):
        for p in list(self.live):
            self.end(p, grace=2)


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def role_cmd(ns, role, *args):
    return in_ns(ns, [sys.executable, os.path.abspath(__file__), role] + [str(a) for a in args])


def read_line(p, timeout, what):
    """One line of a child's stdout within `timeout` seconds."""
    r, _, _ = select.select([p.stdout], [], [], timeout)
    line = p.stdout.readline() if r else ""
    if not line:
        err = ""
        if p.poll() is not None and p.stderr:
            err = p.stderr.read().strip()[-500:]
        raise StepError("%s: no answer within %.0f s%s" % (what, timeout, (": " + err) if err else ""))
    return line.strip()


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "\n    ".join(f.read().splitlines()[-n:])
    except OSError as e:
        return str(e)


class PwireSide:
    name = "pwire"

    def __init__(self, procs, d, side):
        self.procs, self.side, self.d = procs, side, d
        conf = os.path.join(d, "startup-%s.conf" % side)
        with open(conf, "a") as f:
            f.write("cpu { main-core %d }\n" % CORES[side])
        self.sock = os.path.join(d, "cli-%s.sock" % side)
        self.out = os.path.join(d, "out-%s.txt" % side)
        self.log = open(self.out, "w")
        ns = NA if side == "a" else NB
        self.p = procs.popen(in_ns(ns, [PWIRE, "-c", conf]), stdout=self.log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        t0 = time.time()
        while not os.path.exists(self.sock):
            if self.p.poll() is not None or time.time() - t0 > 15:
                self.log.close()
                raise StepError("pwire %s did not start: %s" % (side.upper(), tail(self.out)))
            time.sleep(0.05)

    def cli(self, line):
        o = subprocess.run([PWCTL, "-s", self.sock] + line.split(), capture_output=True, text=True, timeout=20)
        return o.stdout + o.stderr

    def stop(self):
        self.procs.end(self.p)
        self.log.close()


class PwireV2Side(PwireSide):
    """pwire with TPACKET_V2 frame rings for RX (`create host-interface v2`) instead of its
    default V3 block rings: the latency and throughput of the other choice, in the same run."""
    name = "pwire-v2"
    keyword = "v2"

    def __init__(self, procs, d, side):
        cli = os.path.join(d, "setup-%s.cli" % side)
        with open(cli) as f:
            text = f.read()
        with open(cli, "w") as f:
            f.write(text.replace("create host-interface name", "create host-interface %s name" % self.keyword))
        super().__init__(procs, d, side)


class PwireHybridSide(PwireV2Side):
    """pwire with both rings for RX (`create host-interface hybrid`): V2 while a link is quiet,
    V3 while it is busy."""
    name = "pwire-hyb"
    keyword = "hybrid"


class VppSide:
    name = "VPP"

    def __init__(self, procs, d, side):
        self.side = side
        self.rundir = os.path.join(d, "vpp-%s" % side)
        os.makedirs(self.rundir)
        self.sock = os.path.join(self.rundir, "cli.sock")
        conf = os.path.join(self.rundir, "startup.conf")
        with open(conf, "w") as f:
            f.write("unix { nodaemon runtime-dir %s cli-listen %s exec %s }\n"
                    "api-segment { prefix %svpp-%s-%d }\n"
                    "cpu { main-core %d }\n"
                    "buffers { buffers-per-numa 16384 page-size 4k }\n"
                    "l2tp { lookup-session-id }\n"
                    "plugins {\n  plugin default { disable }\n  plugin l2tp_plugin.so { enable }\n"
                    "  plugin af_packet_plugin.so { enable }\n}\n"
                    % (self.rundir, self.sock, os.path.join(d, "setup-%s.cli" % side), PREFIX, side,
                       os.getpid(), CORES[side]))
        ns = NA if side == "a" else NB
        try:
            o = subprocess.run(in_ns(ns, ["bash", START_SH, "-c", conf, "-d", self.rundir]),
                               capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            self.stop()  # start.sh's pid file names the vpp it started
            raise StepError("VPP %s did not start within 90 s: %s" % (side.upper(), tail(self.out_path())))
        if o.returncode != 0:
            self.stop()
            raise StepError("VPP %s did not start: %s\n    %s" % (side.upper(), o.stderr.strip()[-500:],
                                                               tail(self.out_path())))
        # VPP goes on after a line of the exec script it refuses: say so, the ping then fails.
        with open(self.out_path(), errors="replace") as f:
            bad = [l for l in f.read().splitlines() if re.search(r"unknown input|error|failed", l, re.I)]
        if bad:
            print("  VPP %s, exec script: %s" % (side.upper(), "; ".join(bad[:5])))

    def out_path(self):
        return os.path.join(self.rundir, "vpp.out")

    def cli(self, line):
        o = subprocess.run([os.path.join(VPP_PREFIX, "bin", "vppctl"), "-s", self.sock] + line.split(),
                           capture_output=True, text=True, timeout=20)
        return o.stdout + o.stderr

    def stop(self):
        subprocess.run(["bash", START_SH, "stop", "-d", self.rundir], capture_output=True, timeout=60)


# ---------------------------------------------------------------- measurements

def link_stats(ns, dev):
    o = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", dev], capture_output=True, text=True,
                       timeout=10)
    if o.returncode != 0:
        raise StepError("ip -s link show %s in %s: %s" % (dev, ns, o.stderr.strip()))
    return json.loads(o.stdout)[0]["stats64"]


def warm_up():
    """The first packets resolve ND (A and B) and ARP (h1): as in VPP, the one that triggers a
    resolution is dropped, so a ping is retried for up to 10 s."""
    t0 = time.time()
    while time.time() - t0 < 10:
        o = subprocess.run(in_ns(H1, ["ping", "-c", "1", "-W", "1", H2_IP]), capture_output=True, timeout=10)
        if o.returncode == 0:
            return time.time() - t0
    raise StepError("warm-up: h1 does not reach h2 (%s) across the tunnel within 10 s" % H2_IP)


def measure_ping(count):
    o = subprocess.run(in_ns(H1, ["ping", "-c", str(count), "-i", "0.01", "-W", "2", "-q", H2_IP]),
                       capture_output=True, text=True, timeout=count * 0.05 + 30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", o.stdout)
    r = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", o.stdout)
    if not (m and r):
        raise StepError("ping: unexpected output: %s" % (o.stdout + o.stderr).strip()[-300:])
    tx, rx = int(m.group(1)), int(m.group(2))
    mn, avg, mx, mdev = (float(x) for x in r.groups())
    return {"sent": tx, "received": rx, "loss_pct": 100.0 * (tx - rx) / tx,
            "min_ms": mn, "avg_ms": avg, "max_ms": mx, "mdev_ms": mdev}


def measure_tcp(procs, seconds, rate=0.0):
    """One TCP connection from h1 to h2 for `seconds`, flat out or paced at `rate` bytes a second
    (the same offered load whichever dataplane runs); the bytes and their CRC32 checked."""
    srv = procs.popen(role_cmd(H2, "_tcp_server", TCP_PORT, seconds + 30), stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        read_line(srv, 15, "TCP server (h2)")
        cli = procs.popen(role_cmd(H1, "_tcp_client", TCP_PORT, seconds, rate), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            c = json.loads(read_line(cli, seconds + 40, "TCP client (h1)"))
        finally:
            procs.end(cli)
        s = json.loads(read_line(srv, 15, "TCP server (h2) result"))
    finally:
        procs.end(srv)
    if s["bytes"] != c["bytes"] or s["crc"] != c["crc"] or c["reply"] != "%d %d" % (s["bytes"], s["crc"]):
        raise StepError("TCP: h2 received %d bytes (CRC32 %08x), h1 sent %d (CRC32 %08x)"
                        % (s["bytes"], s["crc"], c["bytes"], c["crc"]))
    if s["seconds"] <= 0:
        raise StepError("TCP: no data timed at the server")
    return {"bytes": s["bytes"], "seconds": s["seconds"], "mbit_s": s["bytes"] * 8 / s["seconds"] / 1e6,
            "verified": True}


def measure_udp(procs, seconds, senders, rate=0.0):
    """64-byte UDP from h1 to h2 for `seconds`: `senders` processes flat out, or sharing `rate`
    datagrams a second between them (the same offered load whichever dataplane runs)."""
    sink = procs.popen(role_cmd(H2, "_udp_sink", UDP_PORT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.PIPE, text=True)
    try:
        read_line(sink, 15, "UDP sink (h2)")
        tx0, rx0 = link_stats(H1, "h1")["tx"]["packets"], link_stats(H2, "h2")["rx"]["packets"]
        start_at = time.time() + 1.0  # the senders' interpreters are up by then; all start together
        ps = [procs.popen(role_cmd(H1, "_udp_send", UDP_PORT, start_at, seconds, rate / senders),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for _ in range(senders)]
        try:
            res = [json.loads(read_line(p, seconds + 30, "UDP sender (h1)")) for p in ps]
        finally:
            for p in ps:
                procs.end(p)
        time.sleep(0.5)  # what is still queued in the dataplanes arrives
        tx1, rx1 = link_stats(H1, "h1")["tx"]["packets"], link_stats(H2, "h2")["rx"]["packets"]
    finally:
        procs.end(sink)
    offered, delivered = tx1 - tx0, rx1 - rx0
    sent = sum(r["sent"] for r in res)
    if offered <= 0:
        raise StepError("UDP: h1 sent no frames (senders counted %d)" % sent)
    return {"senders": senders, "seconds": seconds, "app_sent": sent,
            "send_errors": sum(r["errors"] for r in res), "h1_tx": offered, "h2_rx": delivered,
            "offered_kpps": offered / seconds / 1e3, "rx_kpps": delivered / seconds / 1e3,
            "loss_pct": max(0.0, 100.0 * (offered - delivered) / offered)}


def one_run(kind, procs, a):
    """A fresh topology, both ends of `kind`, the three measurements; always torn down."""
    d = tempfile.mkdtemp(prefix="pwbench-")
    sides = []
    try:
        netns("netns_up")
        netns("pwire_conf", d, "a")
        netns("pwire_conf", d, "b")
        for side in "ab":
            sides.append(kind(procs, d, side))
        sample = {"warm_up_s": warm_up()}
        sample["ping"] = measure_ping(a.pings)
        sample["tcp"] = measure_tcp(procs, a.seconds)
        # The hosts' congestion control shapes the TCP figure (how each takes the RTT).
        sample["tcp"]["cc"] = subprocess.run(in_ns(H1, ["cat", "/proc/sys/net/ipv4/tcp_congestion_control"]),
                                             capture_output=True, text=True, timeout=10).stdout.strip()
        # Paced below what the hosts' senders reach through any of the rings: what a ring
        # costs a stream the cores can carry, apart from how the hosts' congestion control
        # sizes its window when the two cores are saturated (see hybrid.rs).
        sample["tcp_paced"] = measure_tcp(procs, a.seconds, a.tcp_rate * 1e6 / 8)
        sample["udp"] = measure_udp(procs, a.seconds, a.senders)
        sample["udp_paced"] = measure_udp(procs, a.seconds, a.senders, a.udp_rate * 1e3)
        sample["show"] = {s.side: {c: s.cli(c) for c in ("show interface", "show interface rx-placement",
                                                          "show errors")} for s in sides}
        return sample
    finally:
        for s in sides:
            s.stop()
        procs.end_all()
        try:
            netns("netns_down")
        finally:
            shutil.rmtree(d, ignore_errors=True)


METRICS = [  # (label, path into a sample, format, whether pwire/VPP means something)
    ("ping rtt avg (ms)", ("ping", "avg_ms"), "%.3f", True),
    ("ping rtt max (ms)", ("ping", "max_ms"), "%.3f", True),
    ("ping loss (%)", ("ping", "loss_pct"), "%.1f", False),
    ("TCP (Mbit/s)", ("tcp", "mbit_s"), "%.0f", True),
    ("TCP paced (Mbit/s)", ("tcp_paced", "mbit_s"), "%.0f", True),
    ("UDP 64B offered (kpps)", ("udp", "offered_kpps"), "%.1f", True),
    ("UDP 64B rx (kpps)", ("udp", "rx_kpps"), "%.1f", True),
    ("UDP 64B loss (%)", ("udp", "loss_pct"), "%.1f", False),
    ("UDP 64B paced: offered", ("udp_paced", "offered_kpps"), "%.1f", False),
    ("UDP 64B paced: rx", ("udp_paced", "rx_kpps"), "%.1f", True),
    ("UDP 64B paced: loss (%)", ("udp_paced", "loss_pct"), "%.2f", False),
]


def medians(samples):
    return {label: statistics.median(s[k1][k2] for s in samples) for label, (k1, k2), _, _ in METRICS}


def short(s):
    return ("ping avg %.3f max %.3f ms (loss %.0f%%), TCP %.0f Mbit/s (paced %.0f), UDP 64B offered %.1f rx %.1f kpps"
            " (loss %.1f%%), paced %.1f rx %.1f kpps (loss %.2f%%)"
            % (s["ping"]["avg_ms"], s["ping"]["max_ms"], s["ping"]["loss_pct"], s["tcp"]["mbit_s"],
               s["tcp_paced"]["mbit_s"],
               s["udp"]["offered_kpps"], s["udp"]["rx_kpps"], s["udp"]["loss_pct"],
               s["udp_paced"]["offered_kpps"], s["udp_paced"]["rx_kpps"], s["udp_paced"]["loss_pct"]))


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ROLES:
        ROLES[sys.argv[1]](sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 run, 2 s TCP and UDP, 100 pings")
    ap.add_argument("--runs", type=int, help="runs per dataplane, alternated (default 3, --quick 1)")
    ap.add_argument("--seconds", type=float, help="TCP and UDP duration (default 5, --quick 2)")
    ap.add_argument("--pings", type=int, help="echoes per run (default 200, --quick 100)")
    ap.add_argument("--senders", type=int, default=2, help="UDP sender processes on h1 (default 2)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--no-vpp", action="store_true", help="pwire alone, even when the VPP peer is built")
    ap.add_argument("--tcp-rate", type=float, default=2500.0,
                    help="pacing rate of the paced TCP measurement, Mbit/s as the sender's kernel paces it, headers"
                         " included (default 2500)")
    ap.add_argument("--udp-rate", type=float, default=500.0,
                    help="offered rate of the paced UDP measurement, kpps (default 500)")
    a = ap.parse_args()
    a.runs = a.runs or (1 if a.quick else 3)
    a.seconds = a.seconds or (2.0 if a.quick else 5.0)
    a.pings = a.pings or (100 if a.quick else 200)
    if os.geteuid() != 0:
        print("AF_PACKET benchmark: skipped: needs root (network namespaces)")
        return 0
    for path in (PWIRE, PWCTL):
        if not os.access(path, os.X_OK):
            raise SystemExit("%s missing: cargo build --release -p pwire -p pwctl (scripts/bench.sh does)" % path)
    kinds = [PwireSide, PwireHybridSide, PwireV2Side]
    vpp = os.path.join(VPP_PREFIX, "bin", "vpp")
    print("\nAF_PACKET over veth (demo topology, IPv6 underlay): ping, TCP and 64-byte UDP from h1 to h2, "
          "%d run(s) per dataplane, TCP/UDP %.0f s, %d pings" % (a.runs, a.seconds, a.pings))
    if a.no_vpp:
        print("  VPP peer: not run (--no-vpp)")
    elif os.access(vpp, os.X_OK) and os.path.exists(START_SH):
        kinds.append(VppSide)
        print("  VPP peer: %s, same exec CLI script, runs alternated pwire, pwire-hyb, pwire-v2, VPP, ..." % vpp)
    else:
        print("  VPP peer: not built (%s missing; ../shared/tools/vpp-peer/build.sh builds it in ~14 min):"
              " pwire alone, no ratio printed" % vpp)
    print("  A on core 0, B on core 1; the hosts' Python senders share those 2 cores, so the flat-out UDP"
          " rate is limited by the sender, not by the dataplanes")
    with open("/proc/sys/vm/nr_hugepages") as f:
        hp = f.read().strip()
    procs = Procs()
    samples = {k.name: [] for k in kinds}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for run in range(a.runs):
            for kind in kinds:
                try:
                    s = one_run(kind, procs, a)
                except StepError as e:
                    print("  FAILED: %s run %d: %s" % (kind.name, run + 1, e))
                    return 1
                except subprocess.TimeoutExpired as e:
                    print("  FAILED: %s run %d: timed out: %s" % (kind.name, run + 1, " ".join(map(str, e.cmd))))
                    return 1
                samples[kind.name].append(s)
                print("  run %d %-5s %s" % (run + 1, kind.name, short(s)))
    except KeyboardInterrupt:
        print("  interrupted: torn down")
        return 130
    finally:
        procs.end_all()
        try:
            netns("netns_down")
        except StepError as e:  # the run's own outcome stays what is reported
            print("  WARNING: tearing the namespaces down: %s" % e)
        with open("/proc/sys/vm/nr_hugepages") as f:
            after = f.read().strip()
        if after != hp:
            print("  WARNING: /proc/sys/vm/nr_hugepages was %s, is now %s" % (hp, after))
    med = {k: medians(v) for k, v in samples.items()}
    names = list(samples)
    print("\n  AF_PACKET over veth (demo topology, IPv6 underlay), medians of %d run(s)" % a.runs)
    head = "  %-24s" % "metric" + "".join("%10s" % n for n in names)
    print(head + ("%11s" % "pwire/VPP" if "VPP" in names else ""))
    for label, _, fmt, ratio in METRICS:
        row = "  %-24s" % label + "".join("%10s" % (fmt % med[n][label]) for n in names)
        if "VPP" in names:
            p, v = med["pwire"][label], med["VPP"][label]
            row += "%11s" % ("%.2f" % (p / v) if ratio and v > 0 and p > 0 else "-")
        print(row)
    ccs = sorted({x["tcp"].get("cc") or "?" for v in samples.values() for x in v})
    print("  (UDP: offered = frames h1 sent, rx = frames h2 received, from %d Python senders on connected sockets,"
          " flat out and paced at %.0f kpps; TCP flat out and paced at %.0f Mbit/s, bytes and CRC32 checked at h2,"
          " hosts' congestion control %s)"
          % (a.senders, a.udp_rate, a.tcp_rate, "/".join(ccs)))
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "bench-afpacket.json")
    with open(path, "w") as f:
        json.dump({"runs": a.runs, "seconds": a.seconds, "pings": a.pings, "senders": a.senders,
                   "cores": CORES, "medians": med, "samples": samples}, f, indent=1)
    print("  all samples: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
