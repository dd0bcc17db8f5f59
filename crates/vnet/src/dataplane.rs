//! Start-up shared by the `pwire` binary and every test harness: threads, pool, registration,
//! graph build, worker threads, and running CLI commands on the main thread.
//!
//! Idle main loop: [`Dataplane::run_until`] (and `pwire`'s main loop, through
//! [`Dataplane::idle_wait`]) block on the main runtime's epoll set when every rx queue the main
//! thread polls is interrupt-driven, and otherwise sleep briefly as before (see
//! `pwire_graph::runtime`, "Idle wait").

use crate::engine::ThreadInfo;
use crate::log::Logger;
use crate::registry::Registry;
use crate::{CliCtx, Vnet};
use pwire_buffer::{Pool, PoolConfig};
use pwire_cli::Registry as CliRegistry;
use pwire_config::{StartupConfig, Workers};
use pwire_graph::{runtime::worker_loop, Barrier, Ctl, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A crate's registration function.
pub type RegisterFn = fn(&mut Registry);

/// A running dataplane: the main thread's runtime plus its workers.
pub struct Dataplane {
    pub vnet: Arc<Vnet>,
    pub cli: CliRegistry<CliCtx>,
    /// The main thread's runtime (lent to CLI commands while they run, see `CliCtx::main`).
    main: Option<Runtime>,
    pub config: Arc<StartupConfig>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Dataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataplane")
            .field("workers", &self.workers.len())
            .finish()
    }
}

/// CPUs for the main thread and the workers, as VPP's `cpu { }` places them.
pub fn place_threads(cfg: &StartupConfig) -> Result<(Option<usize>, Vec<Option<usize>>), String> {
    let online: Vec<usize> = core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_else(|| vec![0]);
    // `relative`: CPU numbers index the CPUs this process may run on (its affinity mask, which
    // is what `online` lists), as in VPP; otherwise they are the CPUs' own numbers.
    let cpu = |c: usize, what: &str| -> Result<usize, String> {
        if cfg.cpu.relative {
            online.get(c).copied().ok_or_else(|| {
                format!(
                    "cpu: {what} {c} (relative) is past the {} CPUs this process may use ({online:?})",
                    online.len()
                )
            })
        } else if online.contains(&c) {
            Ok(c)
        } else {
            Err(format!(
                "cpu: {what} {c} is not an online CPU (online: {online:?})"
            ))
        }
    };
    let main = cfg.cpu.main_core.map(|m| cpu(m, "main-core")).transpose()?;
    let workers = match &cfg.cpu.workers {
        Workers::None => Vec::new(),
        Workers::List(list) => list
            .iter()
            .map(|&c| cpu(c, "corelist-workers: CPU").map(Some))
            .collect::<Result<_, _>>()?,
        Workers::Count { n } => {
            // Free CPUs: not main-core, not in the first skip-cores; CPU 0 only when nothing else.
            let mut free: Vec<usize> = online
                .iter()
                .copied()
                .skip(cfg.cpu.skip_cores)
                .filter(|&c| Some(c) != main)
                .collect();
            free.sort_by_key(|&c| (c == 0, c));
            if free.is_empty() {
                free = online.clone();
            }
            // More workers than CPUs: they share, round robin (useful on small test machines).
            (0..*n).map(|i| Some(free[i % free.len()])).collect()
        }
    };
    Ok((main, workers))
}

impl Dataplane {
    /// Builds everything and starts the workers. `registers` is the explicit list of crates.
    /// The log is startup.conf's ([`Logger::from_config`]: file, syslog).
    pub fn build(config: StartupConfig, registers: &[RegisterFn]) -> Result<Dataplane, String> {
        let log = Arc::new(Logger::from_config(&config)?);
        Self::build_with_log(config, registers, log)
    }

    /// [`Dataplane::build`] with a log made beforehand (the binary logs start-up with it).
    pub fn build_with_log(
        config: StartupConfig,
        registers: &[RegisterFn],
        log: Arc<Logger>,
    ) -> Result<Dataplane, String> {
        let config = Arc::new(config);
        let (main_cpu, worker_cpus) = place_threads(&config)?;
        // Pinned first, so that what start-up touches lands near its CPU; recorded for `show
        // threads` once the thread records exist.
        let main_pin = main_cpu.map(|c| {
            let r = pwire_graph::runtime::pin_current_thread(c);
            if let Err(e) = &r {
                eprintln!("pwire: main thread: cannot pin to CPU {c}: {e}");
            }
            r.is_ok()
        });
        let prefix = config
            .cpu
            .thread_prefix
            .clone()
            .unwrap_or_else(|| "vpp".to_string());
        let mut threads = vec![ThreadInfo {
            name: format!("{prefix}_main"),
            kind: "",
            cpu: main_cpu,
        }];
        for (i, c) in worker_cpus.iter().enumerate() {
            threads.push(ThreadInfo {
                name: format!("{prefix}_wk_{i}"),
                kind: "workers",
                cpu: *c,
            });
        }
        let n_threads = threads.len();
        // DPDK: every buffer carries its rte_mbuf in front of the metadata, and the driver gets
        // one more buffer cache for mbufs DPDK frees or allocates outside a dataplane thread's
        // burst (device stop, PMD control paths).
        let dpdk = cfg!(feature = "dpdk") && config.dpdk.is_some();
        // `dpdk { num-mbufs N }` (pwire's key): the mbufs *are* the buffers, so it can only
        // raise the pool size.
        let n_buffers = config
            .dpdk
            .as_ref()
            .and_then(|d| d.num_mbufs)
            .filter(|_| dpdk)
            .map_or(config.buffers.buffers_per_numa, |m| {
                m.max(config.buffers.buffers_per_numa)
            });
        let pool = Pool::new(&PoolConfig {
            n_buffers,
            data_size: u16::try_from(config.buffers.data_size)
                .map_err(|_| "buffers: data-size too large")?,
            // `buffers { page-size default|4K }` keeps the pool on 4 KiB pages.
            try_hugepages: std::env::var_os("PWIRE_NO_HUGEPAGES").is_none()
                && config.buffers.hugepages(),
            n_threads: n_threads + usize::from(dpdk),
            pre_data: if dpdk { pwire_buffer::MBUF_PRE_DATA } else { 0 },
        })
        .map_err(|e| format!("buffers: cannot map the buffer pool: {e}"))?;
        let mut r = Registry::with_log(config.clone(), n_threads, log);
        for f in registers {
            f(&mut r);
        }
        r.vnet.log.check_config_classes(&config.file)?;
        if r.graph.has_node("pg-input") {
            // A stream may enter the graph at any node (`node <name>`), as in VPP.
            for n in r.graph.node_names() {
                r.graph.add_next("pg-input", &n);
            }
        }
        let barrier = Arc::new(Barrier::new());
        let (vnet, cli) = r.finish(pool.clone(), threads, barrier.clone())?;
        let e = vnet.engine();
        if let Some(ok) = main_pin {
            e.threads[0].set_pin(ok);
        }
        let main = Runtime::new(
            e.graph.clone(),
            pool.clone(),
            e.threads[0].clone(),
            e.tracer.clone(),
            e.epoch,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        let poll_us = config.unix.poll_sleep_usec.unwrap_or(200);
        let sched = worker_sched(&config.cpu);
        // Each worker pins itself to the CPU in its thread record (`worker_cpus`, through
        // `thread_info`), and takes `cpu { scheduler-policy }` if given.
        for i in 0..worker_cpus.len() {
            let t = i + 1;
            let (g, p, sh, tr, ep) = (
                e.graph.clone(),
                pool.clone(),
                e.threads[t].clone(),
                e.tracer.clone(),
                e.epoch,
            );
            let (b, s) = (barrier.clone(), stop.clone());
            let name = sh.name.clone();
            let h = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    if let Err(e) = sh.pin_current() {
                        let c = sh.cpu.unwrap_or_default();
                        eprintln!("pwire: {}: cannot pin to CPU {c}: {e}", sh.name);
                    }
                    if let Some((policy, prio)) = sched {
                        if let Err(e) = set_sched_current(policy, prio) {
                            eprintln!("pwire: {}: cannot set the scheduler policy: {e}", sh.name);
                        }
                    }
                    let mut rt = Runtime::new(g, p, sh, tr, ep);
                    worker_loop(&mut rt, &b, &s, poll_us);
                })
                .map_err(|e| format!("cannot start worker {i}: {e}"))?;
            workers.push(h);
        }
        barrier.set_workers(workers.len());
        let mut dp = Dataplane {
            vnet,
            cli,
            main: Some(main),
            config,
            stop,
            workers,
        };
        // Drivers that open devices from startup.conf (dpdk) do it now that the pool, the graph
        // and the threads exist; an error stops start-up.
        for f in dp.vnet.hooks.take_start() {
            let (r, _) = dp.with_ctx(|_, cx, _| f(cx));
            r?;
        }
        Ok(dp)
    }

    pub fn n_workers(&self) -> usize {
        self.workers.len()
    }

    /// Runs `f` with a fresh control context that has the main runtime lent to it.
    fn with_ctx<R>(
        &mut self,
        f: impl FnOnce(&CliRegistry<CliCtx>, &mut CliCtx, &mut String) -> R,
    ) -> (R, String) {
        // SAFETY: called on the main thread, outside `run_once`; the Ctl dies before returning.
        let ctl = unsafe { Ctl::new(self.vnet.engine().barrier.clone()) };
        let mut cx = CliCtx {
            ctl,
            vnet: self.vnet.clone(),
            main: self.main.take(),
        };
        let mut out = String::new();
        let r = f(&self.cli, &mut cx, &mut out);
        self.main = cx.main.take();
        drop(cx);
        // Packets the command made (ND announcements, ping requests) leave now, not at the
        // next loop iteration; the control context is gone, so dispatching is allowed.
        let now = self.vnet.engine().now();
        if let Some(m) = self.main.as_mut() {
            // SAFETY: the command's `Ctl` was dropped with `cx` above: no write reference
            // exists.
            unsafe { m.drain(now) };
        }
        // The workers run again: what the command logged may go to the file and syslog now.
        self.vnet.log.flush();
        (r, out)
    }

    /// Runs `f` with the main thread's control context, as a command would (for tests and
    /// embedders that call feature APIs directly).
    pub fn control<R>(&mut self, f: impl FnOnce(&mut CliCtx) -> R) -> R {
        self.with_ctx(|_, cx, _| f(cx)).0
    }

    /// Runs one CLI line on the main thread (parking workers if the command writes state).
    pub fn exec(&mut self, line: &str) -> Result<String, String> {
        let (r, mut out) = self.with_ctx(|cli, cx, out| cli.execute(line, cx, out));
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                out.push_str(&e.to_string());
                Err(out)
            }
        }
    }

    /// Runs a CLI script (exec file); stops at the first failing line.
    pub fn exec_script(&mut self, text: &str, file: &str) -> Result<String, String> {
        let (r, out) = self.with_ctx(|cli, cx, out| cli.run_script(text, file, cx, out));
        r.map(|_| out).map_err(|e| e.to_string())
    }

    /// One main-loop iteration (packets on the main thread, process nodes).
    pub fn run_once(&mut self) -> (u64, Option<f64>) {
        // SAFETY: outside `with_ctx` no `Ctl` exists, so no write reference either.
        let r = self
            .main
            .as_mut()
            .map_or((0, None), |m| unsafe { m.run_once() });
        self.run_main_tasks();
        r
    }

    /// Runs the control-plane tasks the dataplane signalled (`Vnet::signal_main_task`).
    pub fn run_main_tasks(&mut self) {
        if !self.vnet.main_tasks.get().is_some_and(|t| t.pending()) {
            return;
        }
        self.with_ctx(|_, cx, _| cx.run_main_tasks());
    }

    /// The main thread's runtime.
    pub fn main(&mut self) -> &mut Runtime {
        self.main
            .as_mut()
            .expect("main runtime is only lent during a command")
    }

    /// Runs the main loop until `done` returns true or `timeout` passes; returns whether done.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&mut Dataplane) -> bool,
    ) -> bool {
        let t0 = Instant::now();
        loop {
            if done(self) {
                return true;
            }
            if t0.elapsed() > timeout {
                return false;
            }
            let (n, wake) = self.run_once();
            if n == 0 {
                let poll = Duration::from_micros(if self.workers.is_empty() { 20 } else { 500 });
                // Interrupt-mode rx queues on the main thread: block on their fds (see
                // `pwire_graph::runtime`), but not past the deadline or a process wake-up.
                let mut max = timeout
                    .saturating_sub(t0.elapsed())
                    .min(pwire_graph::runtime::INTERRUPT_WAIT);
                if let Some(w) = wake {
                    let now = self.vnet.engine().now();
                    max = max.min(Duration::from_secs_f64((w - now).max(0.0)));
                }
                self.idle_wait(poll, max);
            }
        }
    }

    /// The main thread's last loop iteration allows a blocking wait on its epoll set (every rx
    /// queue it polls is interrupt-driven; see `pwire_graph::runtime`).
    pub fn idle_can_block(&self) -> bool {
        self.main.as_ref().is_some_and(|m| m.idle_can_block())
    }

    /// The main loop did work that is not packets (served a CLI request): its next idle wait
    /// starts short again, so a burst of commands is not paced by the longest wait.
    pub fn note_activity(&self) {
        if let Some(m) = self.main.as_ref() {
            m.note_activity();
        }
    }

    /// Idle path of the main loop: blocks up to `interrupt_wait` on the main thread's epoll
    /// set when [`Self::idle_can_block`], else sleeps `poll_sleep`. True if an fd woke it.
    pub fn idle_wait(&self, poll_sleep: Duration, interrupt_wait: Duration) -> bool {
        match self.main.as_ref() {
            Some(m) => m.idle_wait(poll_sleep, interrupt_wait),
            None => {
                std::thread::sleep(poll_sleep);
                false
            }
        }
    }

    /// Stops the workers and returns their cached buffers to the pool.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        self.vnet.engine().barrier.set_workers(0);
        if let Some(m) = self.main.as_mut() {
            m.discard_pending();
            m.drain_cache();
        }
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `cpu { scheduler-policy <p> [scheduler-priority <n>] }` as (policy, priority) for the worker
/// threads (VPP sets it on its workers the same way, the priority clamped to the policy's
/// range: 0 for other, batch and idle, 1..99 for fifo and rr).
fn worker_sched(cpu: &pwire_config::CpuConfig) -> Option<(libc::c_int, libc::c_int)> {
    use pwire_config::SchedPolicy;
    let policy = match cpu.scheduler_policy? {
        SchedPolicy::Other => libc::SCHED_OTHER,
        SchedPolicy::Batch => libc::SCHED_BATCH,
        SchedPolicy::Idle => libc::SCHED_IDLE,
        SchedPolicy::Fifo => libc::SCHED_FIFO,
        SchedPolicy::Rr => libc::SCHED_RR,
    };
    // SAFETY: plain queries with no pointer arguments.
    let (lo, hi) = unsafe {
        (
            libc::sched_get_priority_min(policy),
            libc::sched_get_priority_max(policy),
        )
    };
    let want = i64::from(cpu.scheduler_priority.unwrap_or(0));
    let prio = want.clamp(i64::from(lo), i64::from(hi));
    Some((policy, libc::c_int::try_from(prio).unwrap_or(lo)))
}

/// Sets the calling thread's scheduling policy and priority.
fn set_sched_current(policy: libc::c_int, prio: libc::c_int) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: `param` is a valid sched_param that lives across the call; pid 0 is the calling
    // thread.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
