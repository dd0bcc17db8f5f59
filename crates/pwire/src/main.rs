//! `pwire -c startup.conf`: the dataplane process.
//!
//! Parses startup.conf (an error names file:line:col and exits 1), builds the graph from the
//! explicit registration list, starts the workers, runs `unix { exec }` scripts (a failing line
//! stops start-up with its line number), opens the CLI socket and the Prometheus exporter (if
//! configured), then loops: forward (when there are no workers) and answer CLI requests and
//! scrapes on the main thread. Start-up errors, start, stop and failed CLI commands also go to
//! the log (`pwire_vnet::log`: `show logging`, the `unix { log }` file, syslog), with secrets
//! scrubbed.

use clap::Parser;
use pwire_vnet::log::{self, class, Logger, SyslogTarget};
use pwire_vnet::Dataplane;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "pwire",
    version,
    about = "VPP-style vector dataplane: L2TPv3 pseudowires over IPv6"
)]
struct Opts {
    /// startup.conf in VPP's grammar.
    #[arg(
        short = 'c',
        long = "config",
        default_value = "/etc/pwire/startup.conf"
    )]
    config: String,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_s: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn fail(msg: &str) -> ! {
    eprintln!("pwire: {msg}");
    std::process::exit(1);
}

/// Start-up failed: the error goes to the log (file, syslog) and stderr, then pwire exits.
fn die(log: &Logger, class: &str, msg: &str) -> ! {
    log.error(class, format_args!("{msg}"));
    log.flush();
    fail(msg)
}

/// Start-up failed before startup.conf's log settings are known: VPP's defaults (syslog,
/// from warn up) carry the error.
fn die_early(msg: &str) -> ! {
    let log = Logger::default();
    log.set_syslog(SyslogTarget::Syslog, Box::new(log::libc_syslog_sink));
    die(&log, class::CONFIG, msg)
}

fn resolve_gid(g: &pwire_config::GidSpec) -> Result<u32, String> {
    match g {
        pwire_config::GidSpec::Id(n) => Ok(*n),
        pwire_config::GidSpec::Name(name) => {
            let groups =
                std::fs::read_to_string("/etc/group").map_err(|e| format!("/etc/group: {e}"))?;
            groups
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let n = f.next()?;
                    let _ = f.next();
                    let id = f.next()?.parse().ok()?;
                    (n == name).then_some(id)
                })
                .next()
                .ok_or_else(|| format!("unix: gid: unknown group `{name}'"))
        }
    }
}

/// Runs one CLI request on the main thread and answers it; failures also go to the log, with
/// the words that follow secret-bearing keywords removed.
fn serve(dp: &mut Dataplane, req: pwire_cli::Request) {
    let (ok, output) = match dp.exec(&req.line) {
        Ok(o) => (true, o),
        Err(o) => (false, o),
    };
    if !ok {
        let log = &dp.vnet.log;
        log.notice(
            class::CLI,
            format_args!(
                "`{}': {}",
                log::scrub_secrets(&req.line, &req.line),
                log::scrub_secrets(output.trim_end(), &req.line)
            ),
        );
        log.flush();
    }
    let _ = req.reply.send(pwire_cli::Reply { output, ok });
}

fn main() {
    let opts = Opts::parse();
    pwire_vnet::show_extra::set_build_info(pwire_vnet::show_extra::BuildInfo {
        commit: env!("PWIRE_GIT_COMMIT"),
        date: env!("PWIRE_BUILD_DATE"),
        compiler: env!("PWIRE_RUSTC"),
    });
    let cfg = pwire_config::parse_file(&opts.config).unwrap_or_else(|e| die_early(&e.to_string()));
    let log = Arc::new(Logger::from_config(&cfg).unwrap_or_else(|e| die_early(&e)));
    if cfg.dpdk.is_some() && !cfg!(feature = "dpdk") {
        die(&log, class::CONFIG, &format!(
            "{}: a `dpdk' section needs pwire built with the `dpdk' feature (cargo build --features dpdk)",
            cfg.file
        ));
    }
    for n in cfg.notices() {
        eprintln!("pwire: note: {n}");
        log.notice(class::CONFIG, format_args!("{n}"));
    }
    let regs = pwire::registrations(&cfg);
    let exec = cfg.unix.exec.clone();
    // `unix { runtime-dir <d> }` is where the CLI socket goes unless `cli-listen` says (VPP's
    // `<runtime-dir>/cli.sock`).
    let listen = cfg.unix.cli_listen.clone().unwrap_or_else(|| {
        let dir = cfg.unix.runtime_dir.as_deref().unwrap_or("/run/pwire");
        format!("{}/cli.sock", dir.trim_end_matches('/'))
    });
    let pidfile = cfg.unix.pidfile.clone();
    let prompt = cfg
        .unix
        .cli_prompt
        .clone()
        .unwrap_or_else(|| "pwire# ".to_string());
    let gid = cfg
        .unix
        .gid
        .as_ref()
        .map(|g| resolve_gid(g).unwrap_or_else(|e| die(&log, class::CONFIG, &e)));
    let interactive = cfg.unix.interactive;
    let mut dp = Dataplane::build_with_log(cfg, &regs, log.clone())
        .unwrap_or_else(|e| die(&log, class::CONFIG, &e));
    // `stats { prometheus listen <addr> }`: the exporter's thread asks the main loop for
    // snapshots. Bound before the exec scripts run, so a taken port fails start-up at once.
    let exporter =
        pwire_stats::Exporter::start(&dp.config).unwrap_or_else(|e| die(&log, class::CONFIG, &e));
    let scrapes = exporter
        .as_ref()
        .map_or_else(crossbeam_channel::never, |x| x.requests());
    if let Some(x) = &exporter {
        eprintln!(
            "pwire: prometheus exporter on http://{}/metrics",
            x.local_addr()
        );
    }
    // SAFETY: installing async-signal-safe handlers that only store to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for f in &exec {
        let text = pwire_cli::read_text_file(f)
            .unwrap_or_else(|e| die(&log, class::UNIX, &format!("unix: exec {f}: {e}")));
        match dp.exec_script(&text, f) {
            Ok(out) => print!("{out}"),
            Err(e) => {
                dp.shutdown();
                die(&log, class::UNIX, &log::scrub_secrets(&e, &text))
            }
        }
    }
    let server = pwire_cli::Server::bind(&listen, 0o660, gid).unwrap_or_else(|e| {
        die(
            &log,
            class::UNIX,
            &format!("unix: cli-listen {listen}: {e}"),
        )
    });
    let requests = server.requests();
    // `unix { pidfile <f> }`: written once pwire is up, removed when it stops.
    if let Some(f) = &pidfile {
        if let Err(e) = std::fs::write(f, format!("{}\n", std::process::id())) {
            dp.shutdown();
            die(&log, class::UNIX, &format!("unix: pidfile {f}: {e}"));
        }
    }
    let up = format!(
        "up: {} worker(s), CLI on {listen}, {} buffers ({})",
        dp.n_workers(),
        dp.vnet.engine().pool.n_buffers(),
        dp.vnet.engine().pool.backend()
    );
    eprintln!("pwire: {up}");
    log.notice(class::UNIX, format_args!("{up}"));
    log.flush();
    // `unix { interactive }`: stdin is one more CLI client, served by the same main loop.
    let (itx, irx) = crossbeam_channel::unbounded::<pwire_cli::Request>();
    if interactive {
        let tx = itx.clone();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                print!("{prompt}");
                let _ = std::io::stdout().flush();
                line.clear();
                if stdin.read_line(&mut line).unwrap_or(0) == 0 {
                    STOP.store(true, Ordering::SeqCst);
                    break;
                }
                let (rtx, rrx) = crossbeam_channel::bounded(1);
                if tx
                    .send(pwire_cli::Request {
                        line: line.trim_end().to_string(),
                        reply: rtx,
                    })
                    .is_err()
                {
                    break;
                }
                if let Ok(r) = rrx.recv() {
                    print!("{}", r.output);
                }
            }
        });
    }
    let has_workers = dp.n_workers() > 0;
    let mut idle = 0u32;
    while !STOP.load(Ordering::SeqCst) {
        let (n, wake) = dp.run_once();
        let mut served = false;
        while let Ok(req) = requests.try_recv().or_else(|_| irx.try_recv()) {
            served = true;
            serve(&mut dp, req);
        }
        while let Ok(s) = scrapes.try_recv() {
            served = true;
            s.answer(&mut dp);
        }
        if n == 0 && !served {
            idle = idle.saturating_add(1);
            if dp.idle_can_block() {
                // Every rx queue of the main thread is interrupt-driven. The first 64 empty
                // loops spin (tens of microseconds: a stream's next frame usually comes sooner,
                // and a thread that blocked must be woken by the kernel, an IPI per frame on a
                // V2 ring; TCP across two pwire moved about a tenth more); then block on their
                // fds, 1 ms after activity doubling to 10 ms while idle (a wake-up costs ~15 us
                // in a VM: 1 ms slices kept an idle pwire at 1.5% of a core, 10 ms at ~0.2%).
                // CLI requests are picked up at the top of the loop, so an idle pwire answers
                // the first of a burst within 10 ms and the next ones within 1 ms (serving one
                // counts as activity).
                if idle > 64 {
                    let mut d = pwire_graph::runtime::INTERRUPT_WAIT;
                    if let Some(w) = wake {
                        let now = dp.vnet.engine().now();
                        d = d.min(Duration::from_secs_f64((w - now).max(0.0)));
                    }
                    dp.idle_wait(Duration::ZERO, d);
                }
            } else if idle > 1024 || has_workers {
                // Sleep until a CLI request, a process wake-up, or the poll interval.
                let mut d = Duration::from_micros(if has_workers { 2000 } else { 200 });
                if let Some(w) = wake {
                    let now = dp.vnet.engine().now();
                    d = d.min(Duration::from_secs_f64((w - now).max(0.0)));
                }
                crossbeam_channel::select! {
                    recv(requests) -> r => if let Ok(req) = r { serve(&mut dp, req) },
                    recv(irx) -> r => if let Ok(req) = r { serve(&mut dp, req) },
                    recv(scrapes) -> r => if let Ok(s) = r { s.answer(&mut dp) },
                    default(d) => {}
                }
            }
        } else {
            idle = 0;
            if served {
                dp.note_activity();
            }
        }
    }
    eprintln!("pwire: stopping");
    log.notice(class::UNIX, format_args!("stopping"));
    if let Some(f) = &pidfile {
        let _ = std::fs::remove_file(f);
    }
    drop(server);
    drop(exporter);
    dp.shutdown();
    log.flush();
}
