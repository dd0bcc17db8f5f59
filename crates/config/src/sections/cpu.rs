//! `cpu { }`: main-thread pinning and worker threads (VPP vlib/threads.c).

use crate::cursor::MAX_CPUS;
use crate::error::ConfigError;
use crate::sections::IgnoredKey;
use crate::tree::{Section, Token};

/// How many workers, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Workers {
    /// No worker threads: the main thread forwards too. `workers 0` maps here.
    #[default]
    None,
    /// `workers <n>`: n workers placed automatically.
    Count {
        /// Number of workers (at least 1).
        n: usize,
    },
    /// `corelist-workers` / `coremask-workers`: one worker per listed CPU,
    /// sorted ascending.
    List(Vec<usize>),
}

impl Workers {
    /// Number of worker threads this asks for.
    pub fn count(&self) -> usize {
        match self {
            Workers::None => 0,
            Workers::Count { n } => *n,
            Workers::List(cpus) => cpus.len(),
        }
    }
}

/// `scheduler-policy` values (Linux sched policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedPolicy {
    /// `other` (SCHED_OTHER).
    Other,
    /// `batch` (SCHED_BATCH).
    Batch,
    /// `idle` (SCHED_IDLE).
    Idle,
    /// `fifo` (SCHED_FIFO).
    Fifo,
    /// `rr` (SCHED_RR).
    Rr,
}

impl SchedPolicy {
    /// The policy for a `scheduler-policy` word.
    pub fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "other" => Self::Other,
            "batch" => Self::Batch,
            "idle" => Self::Idle,
            "fifo" => Self::Fifo,
            "rr" => Self::Rr,
            _ => return None,
        })
    }
}

/// The `cpu` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuConfig {
    /// `main-core <n>`; `None` leaves the main thread where it starts.
    pub main_core: Option<usize>,
    /// `workers`, `corelist-workers` or `coremask-workers` (at most one kind).
    pub workers: Workers,
    /// `skip-cores <n>`: first n CPUs left out of automatic placement.
    pub skip_cores: usize,
    /// `thread-prefix <s>`; `None` lets the binary pick its default.
    pub thread_prefix: Option<String>,
    /// `relative`: CPU numbers index the process affinity mask.
    pub relative: bool,
    /// `use-pthreads` (accepted; pwire threads are always native threads).
    pub use_pthreads: bool,
    /// `scheduler-policy other|batch|idle|fifo|rr`: the worker threads' policy.
    pub scheduler_policy: Option<SchedPolicy>,
    /// `scheduler-priority <n>`; stored as given, clamped to the policy's range when the
    /// workers take it.
    pub scheduler_priority: Option<u32>,
    /// `numa-heap-size <size>` in bytes (no effect: `ignored`).
    pub numa_heap_size: Option<u64>,
    /// Keys given that pwire does not act on (printed at start).
    pub ignored: Vec<IgnoredKey>,
}

const NEED_MAIN: &str = "main-core must be specified when using corelist-* or coremask-* attribute";

impl CpuConfig {
    /// Parses the `cpu` section, with VPP's consistency checks.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        // The key that set `workers`, to reject mixing `workers` with a list.
        let mut workers_key: Option<&Token> = None;
        // First key that needs main-core, where the error is reported.
        let mut needs_main: Option<&Token> = None;
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "main-core" => c.main_core = Some(cpu_number(&mut cur, k)?),
                "workers" | "corelist-workers" | "coremask-workers" => {
                    if let Some(prev) = workers_key.filter(|p| p.text != k.text) {
                        return Err(cur.error(
                            k,
                            format!(
                                "`{}' cannot be combined with `{}' (line {})",
                                k.text, prev.text, prev.line
                            ),
                        ));
                    }
                    workers_key = Some(k);
                    c.workers = match k.as_str() {
                        "workers" => match cpu_number(&mut cur, k)? {
                            0 => Workers::None,
                            n => Workers::Count { n },
                        },
                        _ => {
                            needs_main.get_or_insert(k);
                            let list = if k.as_str() == "corelist-workers" {
                                cur.corelist(k)?
                            } else {
                                cur.hex_mask(k)?
                            };
                            if list.is_empty() {
                                return Err(cur.error(k, "coremask-workers selects no CPU"));
                            }
                            Workers::List(list)
                        }
                    };
                }
                "skip-cores" => {
                    needs_main.get_or_insert(k);
                    c.skip_cores = cur.usize(k)?;
                }
                "thread-prefix" => c.thread_prefix = Some(cur.string(k)?),
                "relative" => c.relative = true,
                "use-pthreads" => c.use_pthreads = true,
                "scheduler-policy" => {
                    let v = cur.expect_value(k)?;
                    let policy = SchedPolicy::from_word(v.as_str()).ok_or_else(|| {
                        cur.error(
                            v,
                            format!(
                                "unknown scheduler-policy `{}' \
                                 (expected other, batch, idle, fifo or rr)",
                                v.text
                            ),
                        )
                    })?;
                    c.scheduler_policy = Some(policy);
                }
                "scheduler-priority" => c.scheduler_priority = Some(cur.u32(k)?),
                "numa-heap-size" => {
                    c.numa_heap_size = Some(cur.size(k)?);
                    c.ignored.push(IgnoredKey::flag(
                        k,
                        "pwire has no per-NUMA heap (its buffers are one region)",
                    ));
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        if let (None, Some(k)) = (c.main_core, needs_main) {
            return Err(cur.error(k, NEED_MAIN));
        }
        Ok(c)
    }
}

/// A number in `0..MAX_CPUS` (a CPU index, or a worker count, which cannot
/// exceed the CPUs either).
fn cpu_number(cur: &mut crate::Cursor<'_>, k: &Token) -> Result<usize, ConfigError> {
    let max = u32::try_from(MAX_CPUS - 1).unwrap_or(u32::MAX);
    let n = cur.u32_in(k, 0, max)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}
