//! The Prometheus exporter end to end: a real scrape after real traffic, parsed with a
//! Prometheus text parser (and `promtool check metrics`), whose counters must equal what
//! `show interface`, `show errors`, `show l2tpv3 verbose`, `show buffers` and `show runtime`
//! print; the `pwire` binary under hostile HTTP clients (its CLI and a good scrape still
//! answer); config errors named by file:line:col.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pwire_testkit::Harness;
use pwire_tests::{
    bin, ensure_built, features, l2tp_frame, pg_uplink, Proc, FF8, PEER_MAC, PG0_MAC,
};

fn our() -> Ipv6Addr {
    "fd00::1".parse().unwrap()
}
fn client() -> Ipv6Addr {
    "fd00::2".parse().unwrap()
}

fn inner(tag: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0xbb, 1, 0x02, 0, 0, 0, 0xaa, 1, 0x88, 0xb5];
    f.extend((0..46).map(|i| tag.wrapping_add(i)));
    f
}

/// Decap traffic: `ok` packets for session 10, `lost` for a session nobody has, `cookie`
/// with a wrong cookie.
fn decap_packets(ok: usize, lost: usize, cookie: usize) -> Vec<Vec<u8>> {
    let f = |sid, ck: &[u8], i: usize| {
        l2tp_frame(PG0_MAC, PEER_MAC, client(), our(), sid, ck, &inner(i as u8))
    };
    (0..ok)
        .map(|i| f(10, &FF8, i))
        .chain((0..lost).map(|i| f(99, &FF8, i)))
        .chain((0..cookie).map(|i| f(10, &[1; 8], i)))
        .collect()
}

/// The tunnel's lines after `pg_uplink`: pg1 xconnected with session 10.
const TOPO: &[&str] = &[
    "create packet-generator interface pg1",
    "set interface state pg1 up",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
    "set interface state l2tpv3_tunnel0 up",
    "set interface l2 xconnect pg1 l2tpv3_tunnel0",
    "set interface l2 xconnect l2tpv3_tunnel0 pg1",
];

/// `show interface` -> (interface, counter) -> value, and the interfaces listed.
fn show_interface(out: &str) -> (BTreeMap<(String, String), u64>, Vec<String>) {
    let (mut m, mut names) = (BTreeMap::new(), Vec::new());
    let mut cur = String::new();
    for l in out.lines().skip(1) {
        if !l.starts_with(' ') {
            cur = l[..32.min(l.len())].trim().to_string();
            names.push(cur.clone());
        }
        if l.len() > 68 {
            let (name, v) = l[68..].split_at(16);
            m.insert(
                (cur.clone(), name.trim().to_string()),
                v.trim().parse().unwrap(),
            );
        }
    }
    (m, names)
}

/// `show errors` -> (node, reason) -> count, summed over the per-thread rows.
fn show_errors(out: &str) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for l in out.lines().skip(1) {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() < 4 {
            continue;
        }
        let count: u64 = w[0].parse().unwrap();
        let reason = w[2..w.len() - 1].join(" ");
        *m.entry((w[1].to_string(), reason)).or_default() += count;
    }
    m
}

/// `show interface` counter names and the metric each one is.
const IF_METRICS: &[(&str, &str)] = &[
    ("rx packets", "rx_packets"),
    ("rx bytes", "rx_bytes"),
    ("tx packets", "tx_packets"),
    ("tx bytes", "tx_bytes"),
    ("drops", "drops"),
    ("punt", "punts"),
    ("ip6", "ip6_packets"),
    ("rx-no-buf", "rx_no_buf"),
    ("rx-miss", "rx_miss"),
    ("rx-error", "rx_errors"),
    ("tx-error", "tx_errors"),
    ("ip4", "ip4_packets"),
];

struct Metrics(Vec<prometheus_parse::Sample>);

impl Metrics {
    fn parse(body: &str) -> Metrics {
        let lines = body.lines().map(|l| Ok(l.to_string()));
        Metrics(
            prometheus_parse::Scrape::parse(lines)
                .expect("the Prometheus text parser takes the scrape")
                .samples,
        )
    }

    fn all<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a prometheus_parse::Sample, f64)> {
        self.0
            .iter()
            .filter(move |s| s.metric == name)
            .map(move |s| {
                let v = match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => panic!("{name}: unexpected type"),
                };
                (s, v)
            })
    }

    /// The one sample of `name` whose labels include all of `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .all(name)
            .filter(|(s, _)| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
        found[0]
    }
}

/// Every interface counter of `show interface` equals the metric, and every metric of a
/// listed interface that `show interface` leaves out (VPP prints no zero) is 0.
fn check_interfaces(m: &Metrics, show: &str) {
    let (counters, names) = show_interface(show);
    assert!(names.len() >= 4, "{show}");
    for ifname in &names {
        for (show_name, metric) in IF_METRICS {
            let want = counters
                .get(&(ifname.clone(), show_name.to_string()))
                .copied()
                .unwrap_or(0);
            let got = m.get(
                &format!("pwire_interface_{metric}_total"),
                &[("interface", ifname)],
            );
            assert_eq!(got, want as f64, "{ifname} {show_name}\n{show}");
        }
    }
    assert_eq!(m.get("pwire_interfaces", &[]), names.len() as f64);
}

/// `show errors` rows equal the non-zero `pwire_node_errors_total` series, one for one.
fn check_errors(m: &Metrics, show: &str) {
    let want: BTreeMap<(String, String), f64> = show_errors(show)
        .into_iter()
        .map(|(k, v)| (k, v as f64))
        .collect();
    let got: BTreeMap<(String, String), f64> = m
        .all("pwire_node_errors_total")
        .filter(|(_, v)| *v > 0.0)
        .map(|(s, v)| {
            let l = |k| s.labels.get(k).unwrap().to_string();
            ((l("node"), l("reason")), v)
        })
        .collect();
    assert_eq!(got, want, "\n{show}");
}

fn http_get(addr: SocketAddr) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the exporter");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: pwire\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).expect("read the scrape");
    let (head, body) = all.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// A scrape of an in-process dataplane: the test thread plays pwire's main loop.
fn scrape(h: &mut Harness, x: &pwire_stats::Exporter) -> String {
    let a = x.local_addr();
    let rx = x.requests();
    let t = std::thread::spawn(move || http_get(a));
    let t0 = Instant::now();
    while !t.is_finished() {
        assert!(t0.elapsed() < Duration::from_secs(20), "scrape hung");
        h.dp.run_once();
        while let Ok(r) = rx.try_recv() {
            r.answer(&mut h.dp);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (status, body) = t.join().unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_scrape_equals_the_show_commands() {
    let mut h = Harness::with("l2tp { lookup-session-id }", &features());
    pg_uplink(&mut h);
    for l in TOPO {
        h.cli(l);
    }
    h.send("decap", "pg0", "ethernet-input", &decap_packets(40, 7, 3));
    let encap: Vec<Vec<u8>> = (0..5).map(|i| inner(100 + i)).collect();
    h.send("encap", "pg1", "ethernet-input", &encap);
    let x = pwire_stats::Exporter::bind(
        "127.0.0.1:0".parse().unwrap(),
        pwire_stats::HttpLimits::default(),
        pwire_stats::Limits::from(&h.dp.config.stats),
    )
    .unwrap();
    let body = scrape(&mut h, &x);
    let m = Metrics::parse(&body);
    check_interfaces(&m, &h.cli("show interface"));
    let errors = h.cli("show errors");
    check_errors(&m, &errors);
    assert!(errors.contains("l2tpv3 session not found"), "{errors}");
    // show l2tpv3 verbose: delivered and encapsulated frames, cookie drops.
    let v = h.cli("show l2tpv3 verbose");
    let s = [("session", "10"), ("interface", "l2tpv3_tunnel0")];
    assert!(v.contains("user-to-net: 40 pkts 2400 bytes"), "{v}");
    assert_eq!(m.get("pwire_l2tp_session_rx_packets_total", &s), 40.0);
    assert_eq!(m.get("pwire_l2tp_session_rx_bytes_total", &s), 2400.0);
    assert!(v.contains("net-to-user: 5 pkts 300 bytes"), "{v}");
    assert_eq!(m.get("pwire_l2tp_session_tx_packets_total", &s), 5.0);
    assert!(v.contains("drops: cookie mismatch 3 "), "{v}");
    let mut drop = s.to_vec();
    drop.push(("reason", "cookie_mismatch"));
    assert_eq!(m.get("pwire_l2tp_session_drops_total", &drop), 3.0);
    assert_eq!(m.get("pwire_l2tp_sessions", &[]), 1.0);
    // show buffers: Total Avail Cached Used.
    let b = h.cli("show buffers");
    let row: Vec<u64> = b
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(
        m.get("pwire_buffer_pool_buffers", &[]),
        row[4] as f64,
        "{b}"
    );
    assert_eq!(
        m.get("pwire_buffer_pool_free_buffers", &[]),
        row[5] as f64,
        "{b}"
    );
    assert_eq!(
        m.get("pwire_buffer_pool_cached_buffers", &[]),
        row[6] as f64,
        "{b}"
    );
    assert_eq!(
        m.get("pwire_buffer_pool_used_buffers", &[]),
        row[7] as f64,
        "{b}"
    );
    // show runtime: each node's vectors (calls keep growing as input nodes poll).
    let rt = h.cli("show runtime");
    let mut seen = 0;
    for l in rt.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() == 7 && w[3].parse::<u64>().is_ok() && w[0] != "Name" {
            let got = m.get(
                "pwire_node_vectors_total",
                &[("thread", "0"), ("node", w[0])],
            );
            assert_eq!(got, w[3].parse::<f64>().unwrap(), "{}\n{rt}", w[0]);
            seen += 1;
        }
    }
    assert!(seen >= 5, "{rt}");
    assert_eq!(
        m.get("pwire_thread_input_vectors_total", &[("thread", "0")]),
        55.0
    );
}

#[test]
fn interfaces_and_sessions_past_the_limits_are_counted_not_listed() {
    let mut h = Harness::with(
        "l2tp { lookup-session-id }\nstats { interface-limit 3 session-limit 2 }",
        &features(),
    );
    pg_uplink(&mut h);
    for i in 0..5 {
        h.cli(&format!(
            "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {} remote-session-id 20",
            100 + i
        ));
    }
    let x = pwire_stats::Exporter::bind(
        "127.0.0.1:0".parse().unwrap(),
        pwire_stats::HttpLimits::default(),
        pwire_stats::Limits::from(&h.dp.config.stats),
    )
    .unwrap();
    let m = Metrics::parse(&scrape(&mut h, &x));
    // local0, pg0 and 5 tunnels.
    assert_eq!(m.get("pwire_interfaces", &[]), 7.0);
    assert_eq!(m.all("pwire_interface_rx_packets_total").count(), 3);
    assert_eq!(m.get("pwire_stats_omitted", &[("kind", "interface")]), 4.0);
    assert_eq!(m.get("pwire_l2tp_sessions", &[]), 5.0);
    assert_eq!(m.all("pwire_l2tp_session_rx_packets_total").count(), 2);
    assert_eq!(m.get("pwire_stats_omitted", &[("kind", "session")]), 3.0);
}

/// `pwire` with `conf`, its stderr read by a thread; returns the process, the exporter's
/// address (from its start-up line) and the stderr lines so far.
fn start(conf: &Path, sock: &Path) -> (Proc, SocketAddr) {
    let mut child = Command::new(bin("pwire"))
        .arg("-c")
        .arg(conf)
        .env("PWIRE_NO_HUGEPAGES", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pwire");
    let err = child.stderr.take().unwrap();
    let p = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let t0 = Instant::now();
    let addr = loop {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("pwire printed no exporter address");
        if let Some(a) = l.strip_prefix("pwire: prometheus exporter on http://") {
            break a.trim_end_matches("/metrics").parse().unwrap();
        }
    };
    while !sock.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "no CLI socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    (p, addr)
}

fn cli(sock: &Path, line: &str) -> String {
    let mut c = pwire_cli::Client::connect(sock, Some(Duration::from_secs(20))).unwrap();
    let (out, ok) = c.cmd(line).unwrap();
    assert!(ok, "`{line}': {out}");
    out
}

/// `promtool check metrics` on `body`: no format error and no lint finding.
fn promtool(body: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_binary_serves_metrics_and_hostile_clients_stall_nothing() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("metrics");
    let sock = d.path().join("cli.sock");
    let pcap = d.path().join("decap.pcap");
    pwire_testkit::write_pcap(&pcap, 1, &decap_packets(200, 20, 0));
    let setup = d.path().join("setup.cli");
    let mut lines = vec![
        "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00".to_string(),
        "set interface ip address pg0 fd00::1/64".into(),
        "set interface state pg0 up".into(),
        "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static".into(),
    ];
    lines.extend(TOPO.iter().map(|l| l.to_string()));
    lines.push(format!(
        "packet-generator new {{ name s limit 220 interface pg0 node ethernet-input pcap {} worker 0 }}",
        pcap.display()
    ));
    std::fs::write(&setup, lines.join("\n") + "\n").unwrap();
    let conf = d.path().join("startup.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {} exec {} }}\ncpu {{ workers 1 }}\nl2tp {{ lookup-session-id }}\nstats {{ prometheus listen 127.0.0.1:0 }}\n",
            sock.display(),
            setup.display()
        ),
    )
    .unwrap();
    let (_p, addr) = start(&conf, &sock);
    cli(&sock, "packet-generator enable-stream s");
    let t0 = Instant::now();
    while cli(&sock, "show packet-generator")
        .lines()
        .skip(1)
        .any(|l| l.contains(" Yes "))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "stream did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = http_get(addr);
    assert_eq!(status, 200, "{body}");
    if pwire_testkit::prereq::require(pwire_testkit::prereq::tool("promtool", "--version"))
        .is_some()
    {
        promtool(&body);
    }
    let m = Metrics::parse(&body);
    check_interfaces(&m, &cli(&sock, "show interface"));
    check_errors(&m, &cli(&sock, "show errors"));
    // The worker forwarded: its per-thread counters were read from the main thread.
    assert_eq!(
        m.get("pwire_thread_input_vectors_total", &[("thread", "1")]),
        220.0
    );
    assert!(m.get("pwire_thread_loops_total", &[("thread", "1")]) > 0.0);
    assert_eq!(
        m.get(
            "pwire_node_errors_total",
            &[
                ("node", "l2tp-decap-local"),
                ("reason", "l2tpv3 session not found")
            ]
        ),
        20.0
    );

    // Hostile clients: many that send nothing, one that sends an endless request head, one
    // that drips bytes, readers that never read. None may stall the CLI or a good scrape.
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let flood = std::thread::spawn(move || {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX: ");
            let junk = vec![b'x'; 1 << 20];
            let _ = s.write_all(&junk);
        }
    });
    let drip = std::thread::spawn(move || {
        if let Ok(mut s) = TcpStream::connect(addr) {
            for b in b"GET /metrics HTTP/1.1\r\n".iter().cycle().take(40) {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let deaf: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
            s
        })
        .collect();
    for _ in 0..5 {
        let t = Instant::now();
        let v = cli(&sock, "show version");
        assert!(v.starts_with("pwire v"), "{v}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "CLI took {:?}",
            t.elapsed()
        );
        let t = Instant::now();
        let (status, body) = http_get(addr);
        assert_eq!(status, 200, "{body}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "scrape took {:?}",
            t.elapsed()
        );
    }
    let m = Metrics::parse(&http_get(addr).1);
    assert!(
        m.get(
            "pwire_stats_connections_closed_total",
            &[("reason", "evicted")]
        ) >= 90.0
    );
    let _ = flood.join();
    let _ = drip.join();
    drop((idle, deaf));
}

#[test]
fn exporter_config_errors_name_file_line_col() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("metrics-conf");
    let run = |stats: &str| {
        let conf = d.path().join("s.conf");
        std::fs::write(
            &conf,
            format!(
                "unix {{ nodaemon cli-listen {}/cli.sock }}\n{stats}\n",
                d.path().display()
            ),
        )
        .unwrap();
        let out = Command::new(bin("pwire"))
            .arg("-c")
            .arg(&conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{stats}");
        (conf, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (conf, err) = run("stats { prometheus listen nowhere:80 }");
    assert!(
        err.contains(&format!(
            "{}:2:27: invalid address `nowhere:80' for `prometheus listen'",
            conf.display()
        )),
        "{err}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (conf, err) = run(&format!(
        "stats {{\n  prometheus listen 127.0.0.1:{port}\n}}"
    ));
    assert!(
        err.contains(&format!(
            "{}:3:21: stats: prometheus listen 127.0.0.1:{port}: Address already in use",
            conf.display()
        )),
        "{err}"
    );
    assert!(
        !d.path().join("cli.sock").exists(),
        "a failed start left its CLI socket"
    );
}
