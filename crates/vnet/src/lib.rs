//! pwire-vnet: interfaces and the wiring between features (VPP's vnet core).
//!
//! - [`Vnet`] is the process-wide state: the interface table with per-thread interface counters
//!   (one [`pwire_graph::Shared`] value, changed only under the barrier), dispatch tables that
//!   consumers register into (ethertypes for `ethernet-input`, IPv6 protocols for `ip6-local`,
//!   the `ip6-unicast` feature arc), pcap capture state, and the [`Engine`] (graph, threads,
//!   counters, trace) once it is built.
//! - [`Registry`] is what every crate's `register()` gets: graph nodes, CLI commands, device
//!   classes, dispatch keys. [`Registry::finish`] builds the graph and fills the tables.
//! - [`log::Logger`] (`Vnet::log`) is the log behind `show logging`, the `unix { log }` file
//!   and syslog: main thread only.
//! - The engine's own CLI (`show runtime|errors|trace|buffers|threads|version|node`, `clear ...`,
//!   `trace add`, `pcap trace`) lives in `builtin_cli`; `show memory|plugins`, `show version
//!   verbose` in `show_extra`.

pub mod builtin_cli;
pub mod dataplane;
pub mod engine;
pub mod hooks;
pub mod interface;
pub mod log;
pub mod main_task;
pub mod pcap_capture;
pub mod registry;
pub mod show_extra;

pub use dataplane::Dataplane;
pub use engine::{Engine, ThreadInfo};
pub use interface::{
    ifc, ClassId, DevClass, Interface, L2Mode, RxMode, VnetState, IF_COUNTER_NAMES, N_IF_COUNTERS,
    UDP_ZERO_CSUM_OK,
};
pub use main_task::MainTasks;
pub use pcap_capture::{CaptureKind, PcapCapture};
pub use registry::{Registry, Statics};

use pwire_graph::{Ctl, Shared};
use std::sync::{Arc, OnceLock};

/// The context every CLI handler gets.
#[derive(Debug)]
pub struct CliCtx {
    pub ctl: Ctl,
    pub vnet: Arc<Vnet>,
    /// The main thread's runtime, lent to the command (absent in contexts that have none).
    pub main: Option<pwire_graph::Runtime>,
}

impl CliCtx {
    /// Lets the dataplane run for up to `d` (or until `done` says so) in the middle of a command,
    /// e.g. `ping` waiting for replies. The barrier is released first; the borrow of `self`
    /// guarantees no state reference taken through `ctl` is alive meanwhile.
    pub fn run_until(
        &mut self,
        d: std::time::Duration,
        mut done: impl FnMut(&Vnet) -> bool,
    ) -> bool {
        self.ctl.release();
        let t0 = std::time::Instant::now();
        loop {
            if done(&self.vnet) {
                return true;
            }
            if t0.elapsed() >= d {
                return false;
            }
            let n = match self.main.as_mut() {
                // SAFETY: `&mut self` excludes any reference still borrowed from `self.ctl`
                // (the only way to a write reference on this thread).
                Some(rt) => unsafe { rt.run_once() }.0,
                None => 0,
            };
            self.run_main_tasks();
            if n == 0 {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
}

impl CliCtx {
    /// Runs the tasks the dataplane signalled (see `main_task`), then releases the workers again.
    pub fn run_main_tasks(&mut self) {
        let vnet = self.vnet.clone();
        if let Some(t) = vnet.main_tasks.get().filter(|t| t.pending()) {
            t.run(self);
            self.ctl.release();
        }
    }
}

/// Process-wide dataplane state.
#[derive(Debug)]
pub struct Vnet {
    pub state: Arc<Shared<VnetState>>,
    pub statics: OnceLock<Statics>,
    pub engine: OnceLock<Engine>,
    pub pcap: PcapCapture,
    pub hooks: hooks::Hooks,
    pub n_threads: usize,
    /// Control-plane tasks the dataplane can signal (set at graph build).
    pub main_tasks: OnceLock<MainTasks>,
    /// The log (main thread only; never on the packet path).
    pub log: Arc<log::Logger>,
}

impl Vnet {
    pub fn new(n_threads: usize) -> Arc<Vnet> {
        Self::with_log(n_threads, Arc::default())
    }
    /// A `Vnet` that logs to `log` (the binary's, made from startup.conf before the dataplane).
    pub fn with_log(n_threads: usize, log: Arc<log::Logger>) -> Arc<Vnet> {
        Arc::new(Vnet {
            state: Shared::new(VnetState::new(n_threads)),
            statics: OnceLock::new(),
            engine: OnceLock::new(),
            pcap: PcapCapture::default(),
            hooks: hooks::Hooks::default(),
            n_threads,
            main_tasks: OnceLock::new(),
            log,
        })
    }
    /// The built tables (panics before `Registry::finish`, a start-up ordering bug).
    pub fn statics(&self) -> &Statics {
        self.statics
            .get()
            .expect("vnet used before the graph was built")
    }
    /// Asks the main thread to run task `id` (from `Registry::main_task`); safe from any thread.
    #[inline]
    pub fn signal_main_task(&self, id: usize) {
        if let Some(t) = self.main_tasks.get() {
            t.signal(id);
        }
    }
    pub fn engine(&self) -> &Engine {
        self.engine
            .get()
            .expect("engine used before the graph was built")
    }
}

/// Completes a `L4_CSUM_PARTIAL` buffer's TCP/UDP checksum in place and clears the flag.
///
/// `opaque.csum_start` is relative to the buffer's data offset 0, where a driver writes a
/// received frame, not to `current_data`: headers pushed or pulled in front of the frame since
/// (a tunnel's outer headers, a VLAN tag) do not move the L4 header it points at.
pub fn finish_l4_csum(b: &mut pwire_buffer::Buffer) {
    let start = i32::from(b.opaque.csum_start) - i32::from(b.current_data());
    let off = usize::from(b.opaque.csum_offset);
    b.flags &= !pwire_buffer::flags::L4_CSUM_PARTIAL;
    // An offset outside the frame means the driver's metadata was bad: leave it as it is.
    if let Ok(start) = usize::try_from(start) {
        let _ = pwire_wire::checksum::finish_l4_checksum(b.current_mut(), start, off);
    }
}
