//! Handing a bridged frame to L3 through the BD's BVI (VPP's `l2_to_bvi`).
//!
//! `l2-fwd` (a hit on the BVI's MAC) and `l2-flood` (the BVI as flood member) strip the L2
//! header, make the BVI the RX interface and go straight to the L3 input node registered for
//! the frame's EtherType: vnet adds those arcs from both nodes at graph build, as VPP's
//! `l2bvi_register_input_type` does. Going back through `ethernet-input` would send the frame
//! into the bridge again, since the BVI is an L2 port.

use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::Buffer;
use pwire_graph::registry::BuildCx;
use pwire_vnet::{ifc, Vnet, VnetState};

/// EtherType -> this node's next index of the L3 input node.
#[derive(Debug, Clone, Default)]
pub struct L3Next(Vec<(u16, u16)>);

impl L3Next {
    pub fn new(vnet: &Vnet, b: &BuildCx<'_>) -> Self {
        L3Next(
            vnet.statics()
                .ethertypes
                .iter()
                .filter_map(|&(et, node)| b.next_index(node).map(|n| (et, n)))
                .collect(),
        )
    }
    #[inline]
    fn get(&self, et: u16) -> Option<u16> {
        self.0.iter().find(|&&(e, _)| e == et).map(|&(_, n)| n)
    }
}

/// Why a frame could not go to L3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BviErr {
    /// Unicast to a MAC other than the BVI's.
    BadMac,
    /// No L3 node takes this EtherType.
    Ethertype,
}

/// Turns `b` into an L3 packet received on `bvi`; returns the next index.
pub fn to_bvi(
    b: &mut Buffer,
    bvi: u32,
    vs: &VnetState,
    thread: usize,
    l3: &L3Next,
) -> Result<u16, BviErr> {
    let d = b.current();
    let Some(i) = vs.get(bvi) else {
        return Err(BviErr::BadMac);
    };
    if d[0] & 1 == 0 && d[..6] != i.mac {
        return Err(BviErr::BadMac);
    }
    let l2_len = match b.l2_len {
        0 => pwire_wire::ethernet::l2_header_len(d).unwrap_or(14),
        n => n as usize,
    };
    if d.len() < l2_len {
        return Err(BviErr::Ethertype);
    }
    let et = u16::from_be_bytes([d[l2_len - 2], d[l2_len - 1]]);
    let next = l3.get(et).ok_or(BviErr::Ethertype)?;
    let bytes = u64::from(b.current_length());
    if let Some(r) = vs.row(thread, bvi) {
        r.add2(ifc::RX_PKTS, 1, bytes);
    }
    b.l2_len = l2_len as u8;
    b.advance(l2_len as i32);
    b.sw_if_index[RX] = bvi;
    b.sw_if_index[TX] = !0;
    Ok(next)
}
