#!/usr/bin/env python3
"""The L2TP control plane at scale, between two pwire processes in network namespaces (the
demo's topology, scripts/netns.sh): how fast signalled pseudowires come up, what they cost in
memory, and what the main thread spends while idle with their timers running.

Cases (root; release build):
  pw      N pseudowires (default 10000) over one control connection: time until all are
          established, RSS per pseudowire, idle CPU afterwards; then A deletes all but the
          first (torn down by CDN). Through both, host1 pings host2 across the first
          pseudowire (up before the others, 200 pings a second) and the loss is reported.
  conn    M control connections (default 1000, each between its own pair of addresses), one
          pseudowire each: time until all are established, RSS per connection, and the main
          thread's CPU while idle with M Hello timers running (hello 60 s, the default).

Usage: scripts/bench_control.py [--pws N] [--conns M] [--case pw|conn]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "pwbc-"


def sh(script, env=None):
    e = dict(os.environ, PW_PREFIX=PREFIX, **(env or {}))
    return subprocess.run(["bash", "-c", ". scripts/netns.sh; " + script], cwd=ROOT, env=e,
                          capture_output=True, text=True)


def pwctl(sock, *args):
    return subprocess.run([os.path.join(ROOT, "target/release/pwctl"), "-s", sock, *args],
                          capture_output=True, text=True, timeout=60).stdout


def rss(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1]) * 1024
    return 0


def cpu_secs(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main_thread_cpu(pid):
    """Seconds the main thread has run: schedstat's on-CPU nanoseconds. (utime + stime are
    sampled at the scheduler tick, and a thread that wakes from short timed waits runs right
    at the tick, so they count it several times over.)"""
    return int(open("/proc/%d/task/%d/schedstat" % (pid, pid)).read().split()[0]) / 1e9


def start(dirn, side, lines, ns):
    cli = os.path.join(dirn, "setup-%s.cli" % side)
    sock = os.path.join(dirn, "cli-%s.sock" % side)
    with open(cli, "w") as f:
        f.write("\n".join(lines) + "\n")
    conf = os.path.join(dirn, "startup-%s.conf" % side)
    with open(conf, "w") as f:
        f.write("unix { nodaemon cli-listen %s exec %s }\nbuffers { buffers-per-numa 16384 }\n"
                "l2tp { lookup-session-id max-sessions 200000 hostname pwire-%s router-id 10.0.0.%d }\n"
                % (sock, cli, side, 1 if side == "a" else 2))
    p = subprocess.Popen(["ip", "netns", "exec", ns, os.path.join(ROOT, "target/release/pwire"),
                          "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, sock


def wait_sock(sock, t=60):
    t0 = time.time()
    while time.time() - t0 < t:
        if os.path.exists(sock) and "pwire" in pwctl(sock, "show", "version"):
            return
        time.sleep(0.05)
    raise SystemExit("pwire did not start: %s" % sock)


def established(sock):
    return pwctl(sock, "show", "l2tpv3", "pseudowire").count("state established")


def base_lines(side):
    host, up = ("a-host", "a-up") if side == "a" else ("b-host", "b-up")
    return ["create host-interface name %s" % host, "create host-interface name %s" % up,
            "set interface state host-%s up" % host, "set interface state host-%s up" % up]


def pinger():
    """host1 pings host2 across the first pseudowire: 6000 pings 5 ms apart (30 s)."""
    return subprocess.Popen(["ip", "netns", "exec", PREFIX + "h1", "ping", "-q", "-i", "0.005",
                             "-c", "6000", "-W", "1", "10.1.1.2"], stdout=subprocess.PIPE, text=True)


def ping_loss(p):
    out = p.communicate(timeout=120)[0]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m:
        return "? (%s)" % out.strip()
    sent, got = int(m.group(1)), int(m.group(2))
    return "%d of %d lost" % (sent - got, sent)


def case_pw(n, dirn):
    """n pseudowires over one control connection."""
    lines = {}
    for side, our, peer, passive in (("a", "fd00::1", "fd00::2", ""), ("b", "fd00::2", "fd00::1", " passive")):
        host = "a-host" if side == "a" else "b-host"
        l = base_lines(side) + ["set interface ip address host-%s-up %s/64" % (side, our)]
        # The first pseudowire carries the hosts' traffic; the others are bridged nowhere.
        l += ["create l2tpv3 control-connection peer %s our %s secret bench hello 10%s" % (peer, our, passive)]
        l += ["create l2tpv3 pseudowire control-connection 1 vc-id 1",
              "set interface state l2tpv3_tunnel0 up",
              "set interface l2 xconnect host-%s l2tpv3_tunnel0" % host,
              "set interface l2 xconnect l2tpv3_tunnel0 host-%s" % host]
        lines[side] = l
    pa, sa = start(dirn, "a", lines["a"], PREFIX + "a")
    pb, sb = start(dirn, "b", lines["b"], PREFIX + "b")
    try:
        wait_sock(sa)
        wait_sock(sb)
        t0 = time.time()
        while established(sa) < 1 and time.time() - t0 < 30:
            time.sleep(0.1)
        if established(sa) < 1:
            raise SystemExit("the first pseudowire did not come up")
        base = (rss(pa.pid), rss(pb.pid))
        # The rest, created on both sides through the CLI (one exec each), while host1 pings.
        for side, sock in (("a", sa), ("b", sb)):
            f = os.path.join(dirn, "more-%s.cli" % side)
            with open(f, "w") as fh:
                for v in range(2, n + 1):
                    fh.write("create l2tpv3 pseudowire control-connection 1 vc-id %d\n" % v)
            subprocess.Popen([os.path.join(ROOT, "target/release/pwctl"), "-s", sock, "exec", f],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ping = pinger()
        t0 = time.time()
        last = 0
        while time.time() - t0 < 300:
            last = min(established(sa), established(sb))
            if last >= n:
                break
            time.sleep(0.5)
        took = time.time() - t0
        up_loss = ping_loss(ping)
        ra, rb = rss(pa.pid), rss(pb.pid)
        time.sleep(2)
        c0 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        time.sleep(10)
        c1 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        # Down again: A deletes all but the first (CDN each; B's stay configured and keep
        # offering theirs, which A refuses), while host1 pings across the first.
        f = os.path.join(dirn, "less-a.cli")
        with open(f, "w") as fh:
            for v in range(2, n + 1):
                fh.write("create l2tpv3 pseudowire control-connection 1 vc-id %d del\n" % v)
        ping = pinger()
        t1 = time.time()
        subprocess.Popen([os.path.join(ROOT, "target/release/pwctl"), "-s", sa, "exec", f],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        left = n
        while time.time() - t1 < 300:
            left = established(sb)
            if left <= 1:
                break
            time.sleep(0.5)
        down_took = time.time() - t1
        down_loss = ping_loss(ping)
        if os.environ.get("BC_DEBUG"):
            for side, sock in (("a", sa), ("b", sb)):
                print("---- %s: show errors" % side)
                print(pwctl(sock, "show", "errors"))
                print(pwctl(sock, "show", "interface", "host-%s-host" % side))
        first_up = established(sa) == 1 and left == 1
        print("pw: %d pseudowires over one control connection" % n)
        print("  established: %d in %.1f s = %.0f pseudowires/s (goal >= 2000)" % (last, took, (last - 1) / took))
        print("  RSS per pseudowire: A %.0f B %.0f bytes" % ((ra - base[0]) / max(n - 1, 1), (rb - base[1]) / max(n - 1, 1)))
        print("  main thread idle CPU: A %.2f%% B %.2f%% of a core (goal < 1%%)" % ((c1[0] - c0[0]) * 10, (c1[1] - c0[1]) * 10))
        print("  ping across the first pseudowire meanwhile: %s (goal: no loss)" % up_loss)
        print("  torn down: %d pseudowires in %.1f s (CDN from A), the first %s"
              % (n - left, down_took, "still established" if first_up else "NOT established"))
        print("  ping across the first pseudowire meanwhile: %s (goal: no loss)" % down_loss)
    finally:
        pa.terminate()
        pb.terminate()
        pa.wait()
        pb.wait()


def case_conn(m, dirn):
    """m control connections, each between its own pair of addresses, one pseudowire each."""
    base, more = {}, {}
    for side in ("a", "b"):
        me, other = (1, 2) if side == "a" else (2, 1)
        passive = "" if side == "a" else " passive"
        l = base_lines(side) + ["set interface ip address host-%s-up fd00::%d/64" % (side, me)]
        # The peers' extra addresses are reached through the uplink.
        l.append("ip route add fd01::/64 via fd00::%d" % other)
        for i in range(m):
            l.append("set interface ip address host-%s-up fd01::%x:%d/128" % (side, i, me))
        base[side] = l
        more[side] = []
        for i in range(m):
            more[side].append("create l2tpv3 control-connection peer fd01::%x:%d our fd01::%x:%d secret bench hello 60%s"
                              % (i, other, i, me, passive))
            more[side].append("create l2tpv3 pseudowire control-connection %d vc-id 1" % (i + 1))
    pa, sa = start(dirn, "a", base["a"], PREFIX + "a")
    pb, sb = start(dirn, "b", base["b"], PREFIX + "b")
    try:
        wait_sock(sa, 300)
        wait_sock(sb, 300)
        time.sleep(2)
        r0 = (rss(pa.pid), rss(pb.pid))
        i0 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        time.sleep(10)
        i1 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        t0 = time.time()
        for side, sock in (("a", sa), ("b", sb)):
            f = os.path.join(dirn, "conns-%s.cli" % side)
            with open(f, "w") as fh:
                fh.write("\n".join(more[side]) + "\n")
            subprocess.Popen([os.path.join(ROOT, "target/release/pwctl"), "-s", sock, "exec", f],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        last = 0
        while time.time() - t0 < 300:
            last = min(established(sa), established(sb))
            if last >= m:
                break
            time.sleep(0.5)
        took = time.time() - t0
        ra, rb = rss(pa.pid), rss(pb.pid)
        # A whole Hello period (60 s), so every connection's Hello and its acknowledgement are
        # in the window.
        c0 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        time.sleep(62)
        c1 = (main_thread_cpu(pa.pid), main_thread_cpu(pb.pid))
        c1 = tuple((x - y) / 6.2 + y for x, y in zip(c1, c0))  # per 10 s, as the baseline
        print("conn: %d control connections (each between its own pair of addresses), one pseudowire each" % m)
        print("  established: %d in %.1f s = %.0f connections/s" % (last, took, last / took))
        print("  RSS per connection with its pseudowire: A %.0f B %.0f bytes"
              % ((ra - r0[0]) / m, (rb - r0[1]) / m))
        print("  main thread CPU, idle: A %.2f%% B %.2f%% of a core over a Hello period with %d Hello timers, "
              "%.2f%% %.2f%% before any connection (goal: under 1%% more)"
              % ((c1[0] - c0[0]) * 10, (c1[1] - c0[1]) * 10, m, (i1[0] - i0[0]) * 10, (i1[1] - i0[1]) * 10))
    finally:
        pa.terminate()
        pb.terminate()
        pa.wait()
        pb.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pws", type=int, default=10000)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--case", action="append")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_control.py needs root (network namespaces)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "pwire", "-p", "pwctl"], cwd=ROOT, check=True)
    cases = a.case or ["pw", "conn"]
    o = sh("netns_up")
    if o.returncode != 0:
        raise SystemExit("netns_up: " + o.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="pwire-bc-") as d:
            if "pw" in cases:
                case_pw(a.pws, d)
            if "conn" in cases:
                case_conn(a.conns, d)
    finally:
        sh("netns_down")


if __name__ == "__main__":
    main()
