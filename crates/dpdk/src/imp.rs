//! The driver proper (compiled with feature `dpdk`); see the crate docs.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use pwire_graph::Shared;
use pwire_vnet::main_task;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, DevClass, Registry};

#[path = "dev.rs"]
pub mod dev;
#[path = "eal.rs"]
pub mod eal;
#[path = "input.rs"]
mod input;
#[path = "mempool.rs"]
pub mod mempool;
#[path = "tx.rs"]
mod tx;

pub use dev::{DpdkState, Port};

/// Registers the `dpdk` device class, its nodes, CLI and start-up step.
pub fn register(r: &mut Registry) {
    r.dev_class(DevClass {
        name: "dpdk",
        output_node: "interface-output",
        tx_node: Some("dpdk-tx"),
        ethernet: true,
        hw_class: "DPDK",
    });
    let st: Arc<Shared<DpdkState>> = Shared::new(DpdkState::default());
    let s = st.clone();
    // Only the main thread writes interface state: the rx owner of queue 0 records the link
    // in `Port::link_up` and signals this task.
    let link_task = r.main_task(move |cx| {
        let reported: Vec<(u32, bool)> = s
            .get(&cx.ctl)
            .ports
            .iter()
            .map(|p| (p.sw_if_index, p.link_up.load(Relaxed)))
            .collect();
        main_task::apply_link_states(cx, &reported);
    });
    input::register(r, st.clone(), link_task);
    tx::register(r, st.clone());
    if let Some(cfg) = r.config.dpdk.clone() {
        let s = st.clone();
        r.on_start(move |cx| start(cx, &cfg, &s));
    }
    let s = st.clone();
    r.vnet.hooks.on_admin_change(Box::new(move |cx, sw, up| {
        admin_change(cx, &s, sw, up);
    }));
    let s = st.clone();
    r.vnet.hooks.on_show_hw(
        "dpdk",
        Box::new(move |cx, i, verbose| show_hw(cx, &s, i, verbose)),
    );
    let s = st;
    r.command(cmd(
        "show dpdk buffer",
        "show dpdk buffer",
        true,
        move |a, cx| {
            a.expect_end()?;
            let mut out = String::new();
            if let Some(mp) = s.get(&cx.ctl).mempool {
                let total = cx.vnet.engine().pool.n_buffers();
                let used = mp.in_use();
                let _ = writeln!(
                    out,
                    "name=\"pwire_pool\"  available = {:7} allocated = {:7} total = {:7}",
                    total - used,
                    used,
                    total
                );
            }
            a.output(&out);
            Ok(())
        },
    ));
}

/// EAL, mempool, ports, interfaces.
fn start(
    cx: &mut CliCtx,
    cfg: &pwire_config::DpdkConfig,
    st: &Arc<Shared<DpdkState>>,
) -> Result<(), String> {
    eal::init(cfg)?;
    let e = cx.vnet.engine();
    let n_threads = e.threads.len();
    let pool = e.pool.clone();
    // The pool was made with one cache slot past the threads for this driver (vnet dataplane).
    let mp = mempool::create(&pool, n_threads)?;
    let ports = dev::setup(cfg, mp, n_threads)?;
    let class = cx
        .vnet
        .statics()
        .class_id("dpdk")
        .ok_or("dpdk: device class missing")?;
    let n_workers = n_threads - 1;
    let mut next_worker = 0usize;
    let mut made = Vec::new();
    for (k, np) in ports.into_iter().enumerate() {
        let mut port = np.port;
        let sw = cx
            .vnet
            .create_interface(&mut cx.ctl, np.name.clone(), class, k as u32, np.mac)
            .map_err(|e| format!("dpdk: {}: {e}", np.name))?;
        port.sw_if_index = sw;
        let (up, speed) = dev::link(port.port_id);
        port.link_speed_mbps.store(speed, Relaxed);
        let vs = cx.vnet.state.write(&mut cx.ctl);
        if let Some(i) = vs.get_mut(sw) {
            i.hw_mtu = u32::from(port.mtu);
            i.mtu[0] = u32::from(port.mtu);
            // VPP's "thread any": each queue on the next worker, round robin; main without
            // workers.
            let mut place = || {
                if n_workers == 0 {
                    0
                } else {
                    let t = 1 + next_worker % n_workers;
                    next_worker += 1;
                    t
                }
            };
            i.rx_thread = place();
            i.extra_rx_threads = (1..port.n_rxq).map(|_| place()).collect();
            i.link_up = false;
        }
        let _ = up;
        made.push(port);
    }
    let s = st.write(&mut cx.ctl);
    s.ports = made;
    s.mempool = Some(mp);
    Ok(())
}

/// `set interface state <dpdk-if> up|down`: start or stop the port (workers parked).
fn admin_change(cx: &mut CliCtx, st: &Arc<Shared<DpdkState>>, sw: u32, up: bool) {
    let k = {
        let s = st.get(&cx.ctl);
        s.ports.iter().position(|p| p.sw_if_index == sw)
    };
    let Some(k) = k else {
        return;
    };
    let s = st.write(&mut cx.ctl);
    let p = &mut s.ports[k];
    if up && !p.started {
        match dev::start(p) {
            Ok(()) => p.started = true,
            Err(e) => {
                // The admin hook cannot fail the command: say why and leave the interface
                // down, so that its state matches the port's.
                eprintln!("pwire: {e}");
                if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
                    i.admin_up = false;
                }
            }
        }
    } else if !up && p.started {
        p.started = false;
        dev::stop(p);
        p.link_up.store(false, Relaxed);
        let vs = cx.vnet.state.write(&mut cx.ctl);
        if let Some(i) = vs.get_mut(sw) {
            i.link_up = false;
        }
    }
}

fn show_hw(
    cx: &CliCtx,
    st: &Arc<Shared<DpdkState>>,
    i: &pwire_vnet::Interface,
    verbose: bool,
) -> String {
    let s = st.get(&cx.ctl);
    let Some(p) = s.ports.iter().find(|p| p.sw_if_index == i.sw_if_index) else {
        return String::new();
    };
    let e = cx.vnet.engine();
    let tname = |t: usize| {
        e.threads
            .get(t)
            .map_or(format!("thread {t}"), |th| format!("{} ({t})", th.name))
    };
    let mut o = String::new();
    let speed = p.link_speed_mbps.load(Relaxed);
    let _ = writeln!(
        o,
        "  carrier {}, speed {}, mtu {}",
        if p.link_up.load(Relaxed) {
            "up"
        } else {
            "down"
        },
        if speed == 0 {
            "unknown".to_string()
        } else {
            format!("{speed} Mbps")
        },
        p.mtu
    );
    let _ = writeln!(
        o,
        "  flags: {}pmd{}",
        if p.started { "admin-up " } else { "" },
        if p.tx_shared { " tx-shared" } else { "" }
    );
    let _ = writeln!(o, "  TX Queues:\n    queue shared thread(s)");
    for q in 0..usize::from(p.n_txq) {
        let threads: Vec<String> = (0..e.threads.len())
            .filter(|t| t % usize::from(p.n_txq) == q)
            .map(|t| t.to_string())
            .collect();
        let _ = writeln!(
            o,
            "    {:<5} {:<6} {}",
            q,
            if p.tx_shared { "yes" } else { "no" },
            threads.join(",")
        );
    }
    if !verbose {
        return o;
    }
    let _ = writeln!(
        o,
        "  {} device {} (port {})",
        if p.pci { "pci" } else { "vdev" },
        p.dev_name,
        p.port_id
    );
    let _ = writeln!(o, "  driver name: {}", p.driver);
    let _ = writeln!(
        o,
        "  rx: queues {} (max {}), desc {}\n  tx: queues {} (max {}), desc {}",
        p.n_rxq, p.max_rx_queues, p.n_rx_desc, p.n_txq, p.max_tx_queues, p.n_tx_desc
    );
    for q in 0..usize::from(p.n_rxq) {
        let _ = writeln!(o, "  rx queue {q} on {}", tname(i.rx_queue_thread(q)));
    }
    let x = dev::stats(p.port_id);
    for (name, v) in [
        ("ipackets", x.ipackets),
        ("opackets", x.opackets),
        ("ibytes", x.ibytes),
        ("obytes", x.obytes),
        ("imissed", x.imissed),
        ("ierrors", x.ierrors),
        ("oerrors", x.oerrors),
        ("rx_nombuf", x.rx_nombuf),
    ] {
        let _ = writeln!(o, "    {name:<38}{v:>16}");
    }
    o
}
