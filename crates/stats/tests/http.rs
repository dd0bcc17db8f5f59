//! The exporter's listener against well-behaved and hostile clients, with a fake main thread
//! answering scrapes with made-up snapshots (the real main thread is in `tests/snapshot.rs`
//! and the workspace's `tests/metrics.rs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pwire_stats::snapshot::IfSnap;
use pwire_stats::{Exporter, HttpLimits, Limits, Snapshot};

const OBJ: Limits = Limits {
    interfaces: 100_000,
    sessions: 100_000,
};

/// A snapshot with `n` interfaces; interface `i` received `i` packets.
fn snapshot(n: usize, name: impl Fn(usize) -> String) -> Snapshot {
    let mut s = Snapshot::empty();
    s.interfaces = (0..n)
        .map(|i| {
            let mut counters = [0; pwire_vnet::N_IF_COUNTERS];
            counters[pwire_vnet::ifc::RX_PKTS] = i as u64;
            IfSnap {
                name: name(i),
                admin_up: true,
                link_up: i % 2 == 0,
                counters,
            }
        })
        .collect();
    s.n_interfaces = n;
    s
}

/// A fake main thread: answers every scrape with `make()` while `answer` is set.
struct Main {
    stop: Arc<AtomicBool>,
    answer: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    t: Option<std::thread::JoinHandle<()>>,
}

impl Main {
    fn new(x: &Exporter, make: impl Fn() -> Snapshot + Send + 'static) -> Main {
        let rx = x.requests();
        let stop = Arc::new(AtomicBool::new(false));
        let answer = Arc::new(AtomicBool::new(true));
        let answered = Arc::new(AtomicU64::new(0));
        let (s, a, n) = (stop.clone(), answer.clone(), answered.clone());
        let t = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if !a.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                if let Ok(r) = rx.recv_timeout(Duration::from_millis(20)) {
                    r.send(make());
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Main {
            stop,
            answer,
            answered,
            t: Some(t),
        }
    }
}

impl Drop for Main {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.t.take() {
            let _ = t.join();
        }
    }
}

struct Resp {
    status: u16,
    head: String,
    body: String,
}

/// Sends `req` raw and reads the whole answer (the server closes after it).
fn request(addr: SocketAddr, req: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).expect("send");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read the answer");
    let text = String::from_utf8(all).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head}"));
    Resp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(addr: SocketAddr) -> Resp {
    request(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// `name{labels} value` lines of a family, through the Prometheus text parser.
fn samples(body: &str) -> Vec<prometheus_parse::Sample> {
    let lines = body.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines)
        .expect("the Prometheus text parser takes it")
        .samples
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => panic!("unexpected sample type for {}", s.metric),
    }
}

fn exporter(limits: HttpLimits) -> Exporter {
    Exporter::bind("127.0.0.1:0".parse().unwrap(), limits, OBJ).expect("bind")
}

#[test]
fn get_metrics_is_the_text_format_with_escaped_labels() {
    let x = exporter(HttpLimits::default());
    let _m = Main::new(&x, || {
        snapshot(3, |i| match i {
            0 => "pg0".into(),
            1 => "we\"ird\\name".into(),
            _ => "new\nline".into(),
        })
    });
    let r = get(x.local_addr());
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        r.head
            .contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{}",
        r.head
    );
    assert!(r
        .head
        .contains(&format!("Content-Length: {}", r.body.len())));
    assert!(r
        .body
        .contains("# TYPE pwire_interface_rx_packets_total counter\n"));
    assert!(r
        .body
        .contains("pwire_interface_rx_packets_total{interface=\"we\\\"ird\\\\name\"} 1\n"));
    assert!(r.body.contains("{interface=\"new\\nline\"} 2\n"));
    let ss = samples(&r.body);
    let rx: Vec<(String, f64)> = ss
        .iter()
        .filter(|s| s.metric == "pwire_interface_rx_packets_total")
        .map(|s| (s.labels.get("interface").unwrap().to_string(), value(s)))
        .collect();
    assert_eq!(rx.len(), 3, "{rx:?}");
    assert!(rx.contains(&("pg0".to_string(), 0.0)), "{rx:?}");
    assert!(ss
        .iter()
        .any(|s| s.metric == "pwire_build_info" && s.labels.get("version").is_some()));
    let link: Vec<f64> = ss
        .iter()
        .filter(|s| s.metric == "pwire_interface_link_up")
        .map(value)
        .collect();
    assert_eq!(link, [1.0, 0.0, 1.0]);
}

#[test]
fn other_paths_methods_and_bad_requests() {
    let x = exporter(HttpLimits::default());
    let _m = Main::new(&x, Snapshot::empty);
    let a = x.local_addr();
    let r = request(a, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = request(a, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
    assert!(r.head.contains("Allow: GET, HEAD"), "{}", r.head);
    let r = request(a, b"GET /metrics HTTP/2.0\r\n\r\n");
    assert_eq!(r.status, 505);
    let r = request(a, b"hello\r\n\r\n");
    assert_eq!(r.status, 400);
    let r = request(a, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let len: usize = r
        .head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(len > 0, "HEAD gives the length of what GET would send");
    // A head that never ends: cut at the limit.
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let junk = vec![b'a'; 64 * 1024];
    // The server may close before taking it all: a failed write is fine, the answer counts.
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Junk: ");
    let _ = s.write_all(&junk);
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Still serving.
    assert_eq!(get(a).status, 200);
}

#[test]
fn clients_that_send_nothing_do_not_lock_others_out() {
    let x = exporter(HttpLimits::default());
    let _m = Main::new(&x, || snapshot(1, |_| "pg0".into()));
    let a = x.local_addr();
    // Far more idle connections than slots, kept open.
    let idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(a).unwrap()).collect();
    let t0 = Instant::now();
    for _ in 0..5 {
        let r = get(a);
        assert_eq!(r.status, 200, "{}", r.head);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "5 scrapes took {:?} behind idle connections",
        t0.elapsed()
    );
    let ss = samples(&get(a).body);
    let evicted = ss
        .iter()
        .find(|s| {
            s.metric == "pwire_stats_connections_closed_total"
                && s.labels.get("reason") == Some("evicted")
        })
        .map(value)
        .unwrap();
    assert!(evicted >= 56.0, "evicted {evicted}");
    drop(idle);
}

#[test]
fn a_silent_connection_is_closed_at_the_request_deadline() {
    let x = exporter(HttpLimits {
        request_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    });
    let _m = Main::new(&x, Snapshot::empty);
    let mut s = TcpStream::connect(x.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(s.read(&mut b).unwrap_or(0), 0, "closed without an answer");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn slow_readers_keep_only_their_own_slot() {
    // A big answer (a few MB) that readers which never read cannot take in their buffers.
    let lim = HttpLimits {
        max_connections: 4,
        write_timeout: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let x = exporter(lim);
    let _m = Main::new(&x, || snapshot(20_000, |i| format!("tunnel-interface-{i}")));
    let a = x.local_addr();
    let slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(a).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
            s
        })
        .collect();
    // Every slot now holds a reader that does not read; past the eviction grace a new client
    // takes the oldest one's slot.
    std::thread::sleep(pwire_stats::http::EVICT_GRACE + Duration::from_millis(200));
    let t0 = Instant::now();
    let r = get(a);
    assert_eq!(r.status, 200);
    assert!(
        r.body.ends_with("\n") && r.body.len() > 1_000_000,
        "{}",
        r.body.len()
    );
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // The slow readers are cut at the write deadline, not kept.
    std::thread::sleep(Duration::from_millis(2500));
    let ss = samples(&get(a).body);
    let closed = |why: &str| {
        ss.iter()
            .find(|s| {
                s.metric == "pwire_stats_connections_closed_total"
                    && s.labels.get("reason") == Some(why)
            })
            .map(value)
            .unwrap()
    };
    assert!(
        closed("evicted") + closed("timeout") >= 4.0,
        "{} {}",
        closed("evicted"),
        closed("timeout")
    );
    assert!(closed("timeout") >= 1.0);
    drop(slow);
}

#[test]
fn a_busy_main_thread_gets_a_503_not_a_queue() {
    let x = exporter(HttpLimits {
        main_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    });
    let m = Main::new(&x, Snapshot::empty);
    m.answer.store(false, Ordering::Relaxed);
    let t0 = Instant::now();
    let r = get(x.local_addr());
    assert_eq!(r.status, 503, "{}", r.head);
    assert!(r.head.contains("Retry-After: 1"));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // The request left in the channel is answered late and dropped; the next scrape works.
    m.answer.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    let mut ok = false;
    for _ in 0..20 {
        if get(x.local_addr()).status == 200 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok, "scrapes never recovered");
    let ss = samples(&get(x.local_addr()).body);
    let t = ss
        .iter()
        .find(|s| s.metric == "pwire_stats_main_thread_timeouts_total")
        .map(value)
        .unwrap();
    assert!(t >= 1.0);
}

#[test]
fn concurrent_scrapes_share_one_snapshot() {
    let x = exporter(HttpLimits::default());
    let m = Main::new(&x, || {
        // A slow main thread: scrapes arriving meanwhile wait for the next snapshot.
        std::thread::sleep(Duration::from_millis(50));
        snapshot(1, |_| "pg0".into())
    });
    let a = x.local_addr();
    let ts: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || get(a).status))
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), 200);
    }
    let n = m.answered.load(Ordering::Relaxed);
    assert!(
        (1..6).contains(&n),
        "{n} snapshots for 6 concurrent scrapes"
    );
}

#[test]
fn dropping_the_exporter_closes_the_port() {
    let x = exporter(HttpLimits::default());
    let a = x.local_addr();
    let idle = TcpStream::connect(a).unwrap();
    drop(x);
    assert!(TcpStream::connect(a).is_err(), "still listening");
    let mut idle = idle;
    idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut b = [0u8; 1];
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0);
}
