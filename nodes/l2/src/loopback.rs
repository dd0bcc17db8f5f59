//! Loopback interfaces `loop<N>` (VPP's vnet/ethernet simulated Ethernet), the usual BVI.
//!
//! `create loopback interface [mac <mac>] [instance <n>]` prints the new name; the default MAC
//! is de:ad:00:00:00:<n>, as in VPP. `delete loopback interface intfc <if>`.
//! What is sent out of a loopback reaches `loop-tx` (through `interface-output`, which counts
//! it as tx), which receives it back on the same interface: a BVI's frames go straight into
//! its bridge at `l2-input` (marked as coming from the BVI), as VPP rewires a BVI's tx node;
//! any other loopback's frames go to `ethernet-input` with RX = the loopback.
//!
//! Node `loop-tx`: arcs `ethernet-input`, `l2-input`, `error-drop`; no counters.

use crate::cli::parse_end;
use crate::state::TX_FROM_BVI;
use pwire_buffer::buffer::{RX, TX};
use pwire_cli::CliError;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::registry::cmd;
use pwire_vnet::{ifc, DevClass, L2Mode, Registry, Vnet};
use std::sync::Arc;

/// Device class name of loopbacks.
pub const CLASS: &str = "loopback";

next_nodes! { pub enum Next { EthernetInput => "ethernet-input", L2Input => "l2-input", Drop => "error-drop" } }

struct LoopTx {
    vnet: Arc<Vnet>,
}

impl Node for LoopTx {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        let mut last = u32::MAX;
        let mut bvi = false;
        let (mut pk, mut by) = (0u64, 0u64);
        for (b, nx) in frame.iter_mut() {
            let sw = b.tx();
            if sw != last {
                if pk > 0 {
                    if let Some(r) = vs.row(thread, last) {
                        r.add2(ifc::RX_PKTS, pk, by);
                    }
                }
                (pk, by) = (0, 0);
                last = sw;
                bvi = matches!(
                    vs.get(sw).map(|i| i.l2),
                    Some(L2Mode::Bridge { bvi: true, .. })
                );
            }
            pk += 1;
            by += u64::from(b.current_length());
            b.sw_if_index[RX] = sw;
            if bvi {
                b.sw_if_index[TX] = TX_FROM_BVI;
                b.l2_len = pwire_wire::ethernet::l2_header_len(b.current())
                    .and_then(|l| u8::try_from(l).ok())
                    .unwrap_or(14);
                *nx = Next::L2Input as u16;
            } else {
                b.sw_if_index[TX] = !0;
                *nx = Next::EthernetInput as u16;
            }
        }
        if pk > 0 {
            if let Some(r) = vs.row(thread, last) {
                r.add2(ifc::RX_PKTS, pk, by);
            }
        }
    }
}

pub(crate) fn register(r: &mut Registry) {
    r.dev_class(DevClass {
        name: CLASS,
        output_node: "interface-output",
        tx_node: Some("loop-tx"),
        ethernet: true,
        hw_class: "Ethernet",
    });
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "loop-tx",
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |_| Box::new(LoopTx { vnet: vnet.clone() }),
    ));
    r.command(cmd(
        "create loopback interface",
        "create loopback interface [mac <mac-addr>] [instance <instance>]",
        false,
        |a, cx| {
            let mut mac = None;
            let mut instance = None;
            while !a.is_empty() {
                if a.keyword("mac") {
                    mac = Some(a.mac("mac address")?);
                } else if a.keyword("instance") {
                    instance = Some(a.u32("instance")?);
                } else {
                    return Err(CliError::unknown_input(a.rest()));
                }
            }
            let class = cx
                .vnet
                .statics()
                .class_id(CLASS)
                .ok_or_else(|| CliError::msg("loopback class not registered"))?;
            let used: Vec<u32> = cx
                .vnet
                .state
                .get(&cx.ctl)
                .ifs
                .iter()
                .filter(|i| !i.deleted && i.class == class)
                .map(|i| i.dev_instance)
                .collect();
            let n = match instance {
                Some(n) if used.contains(&n) => {
                    return Err(CliError::msg(format!("instance {n} is in use")))
                }
                Some(n) => n,
                None => (0..).find(|n| !used.contains(n)).unwrap_or(0),
            };
            let mac = mac.unwrap_or([0xde, 0xad, 0, 0, 0, n as u8]);
            let name = format!("loop{n}");
            let sw = cx
                .vnet
                .create_interface(&mut cx.ctl, name.clone(), class, n, mac)
                .map_err(CliError::msg)?;
            if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
                i.link_up = true;
            }
            a.output(&name);
            Ok(())
        },
    ));
    r.command(cmd(
        "delete loopback interface",
        "delete loopback interface intfc <interface>",
        false,
        |a, cx| {
            if !a.keyword("intfc") {
                return Err(CliError::msg("interface not specified"));
            }
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            parse_end(a)?;
            let is_loop = cx
                .vnet
                .state
                .get(&cx.ctl)
                .get(sw)
                .is_some_and(|i| cx.vnet.statics().class(i.class).name == CLASS);
            if !is_loop {
                return Err(CliError::msg("not a loopback interface"));
            }
            // vnet's delete hook takes it out of its bridge (see lib.rs).
            cx.vnet
                .delete_interface(&mut cx.ctl, sw)
                .map_err(CliError::msg)
        },
    ));
}
