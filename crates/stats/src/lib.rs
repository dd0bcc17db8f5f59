//! pwire-stats: the Prometheus exporter (`stats { prometheus listen <addr> }`, off by default).
//!
//! ```text
//! Prometheus --GET /metrics--> exporter thread --ScrapeRequest (bounded 1)--> main loop
//!                               (poll, 8 conns,   <--Snapshot (numbers)--      Snapshot::collect
//!                                deadlines)       renders the text (0.0.4)
//! ```
//!
//! - [`Snapshot::collect`] runs on the main thread, between two iterations of its loop, as a
//!   CLI command does: it reads the per-thread counters (atomics each thread writes alone) and
//!   the control tables, and returns numbers. The packet path does nothing for it: no lock, no
//!   shared atomic, no instruction.
//! - The exporter thread ([`http`]) owns every socket, renders the text ([`render`]) and bounds
//!   what a client can hold: see its documentation.
//!
//! `pwire`'s main loop answers [`ScrapeRequest`]s from [`Exporter::requests`] next to its CLI
//! requests.

pub mod http;
pub mod render;
pub mod snapshot;

pub use http::{HttpLimits, ScrapeRequest};
pub use render::{render, ExporterCounters, CONTENT_TYPE};
pub use snapshot::{Limits, Snapshot};

use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;

/// A running exporter. Dropping it stops the thread and closes every connection.
#[derive(Debug)]
pub struct Exporter {
    addr: SocketAddr,
    requests: Receiver<ScrapeRequest>,
    stop: Arc<AtomicBool>,
    wake: Arc<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Starts the exporter `cfg` asks for (`None` when `stats { prometheus listen }` is not
    /// set). A bind failure names the address's place in the file:
    /// `<file>:<line>:<col>: stats: prometheus listen <addr>: <why>`.
    pub fn start(cfg: &pwire_config::StartupConfig) -> Result<Option<Exporter>, String> {
        let Some(p) = cfg.stats.prometheus else {
            return Ok(None);
        };
        Exporter::bind(p.addr, HttpLimits::default(), Limits::from(&cfg.stats))
            .map(Some)
            .map_err(|e| {
                format!(
                    "{}:{}:{}: stats: prometheus listen {}: {e}",
                    cfg.file, p.line, p.col, p.addr
                )
            })
    }

    /// Listens on `addr` (port 0: any free port, see [`Exporter::local_addr`]).
    pub fn bind(
        addr: SocketAddr,
        limits: HttpLimits,
        objects: Limits,
    ) -> std::io::Result<Exporter> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (wake_rx, wake_tx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        wake_tx.set_nonblocking(true)?;
        let wake = Arc::new(wake_tx);
        let (tx, requests) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let server = http::Server::new(
            listener,
            wake_rx,
            wake.clone(),
            tx,
            stop.clone(),
            limits,
            objects,
        );
        let thread = std::thread::Builder::new()
            .name("pwire-prometheus".into())
            .spawn(move || server.run())?;
        Ok(Exporter {
            addr,
            requests,
            stop,
            wake,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Scrapes for the main thread to answer ([`ScrapeRequest::answer`]).
    pub fn requests(&self) -> Receiver<ScrapeRequest> {
        self.requests.clone()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::io::Write::write(&mut &*self.wake, &[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
