//! Trace records of the L2 nodes, formatted as VPP's (vnet/l2 `format_l2*_trace`).

use crate::state::{feat, flags};
use pwire_wire::Mac;
use std::fmt;

/// Destination and source MAC of a frame (zeros if it is shorter than 12 bytes).
#[inline]
pub fn macs(d: &[u8]) -> ([u8; 6], [u8; 6]) {
    let mut dst = [0; 6];
    let mut src = [0; 6];
    if d.len() >= 12 {
        dst.copy_from_slice(&d[..6]);
        src.copy_from_slice(&d[6..12]);
    }
    (dst, src)
}

/// `l2-input: sw_if_index N dst <mac> src <mac> [<feature nodes> ]`.
#[derive(Debug, Clone, Copy)]
pub struct InputTrace {
    pub sw_if_index: u32,
    pub feat: u32,
    pub dst: [u8; 6],
    pub src: [u8; 6],
}

impl fmt::Display for InputTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "l2-input: sw_if_index {} dst {} src {} [",
            self.sw_if_index,
            Mac(self.dst),
            Mac(self.src)
        )?;
        // VPP's format_l2_input_feature_bitmap: highest bit first, the drop bit left out.
        for bit in (1..feat::NAMES.len()).rev() {
            if self.feat & (1 << bit) != 0 {
                write!(f, "{} ", feat::NAMES[bit])?;
            }
        }
        f.write_str("]")
    }
}

/// `l2-learn` and `l2-flood`: `<node>: sw_if_index N dst <mac> src <mac> bd_index N`.
#[derive(Debug, Clone, Copy)]
pub struct BdTrace {
    pub node: &'static str,
    pub sw_if_index: u32,
    pub bd_index: u16,
    pub dst: [u8; 6],
    pub src: [u8; 6],
}

impl fmt::Display for BdTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: sw_if_index {} dst {} src {} bd_index {}",
            self.node,
            self.sw_if_index,
            Mac(self.dst),
            Mac(self.src),
            self.bd_index
        )
    }
}

/// `l2-fwd:   sw_if_index N dst <mac> src <mac> bd_index N result [0x<raw>, N] <flags>`.
#[derive(Debug, Clone, Copy)]
pub struct FwdTrace {
    pub sw_if_index: u32,
    pub bd_index: u16,
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// The FIB result as VPP's `l2fib_entry_result_t.raw`; all ones on a miss.
    pub raw: u64,
}

impl fmt::Display for FwdTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sw = self.raw as u32;
        let fl = (self.raw >> 32) as u8;
        write!(
            f,
            "l2-fwd:   sw_if_index {} dst {} src {} bd_index {} result [0x{:x}, {}] ",
            self.sw_if_index,
            Mac(self.dst),
            Mac(self.src),
            self.bd_index,
            self.raw,
            sw.cast_signed()
        )?;
        if fl == 0 {
            return f.write_str("none");
        }
        for (bit, name) in flags::NAMES.iter().enumerate() {
            if fl & (1 << bit) != 0 {
                write!(f, "{name} ")?;
            }
        }
        Ok(())
    }
}

/// `l2-output: sw_if_index N dst <mac> src <mac> data <12 bytes from the ethertype on>`.
#[derive(Debug, Clone, Copy)]
pub struct OutputTrace {
    pub sw_if_index: u32,
    pub head: [u8; 24],
}

impl fmt::Display for OutputTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.head;
        write!(
            f,
            "l2-output: sw_if_index {} dst {} src {} data",
            self.sw_if_index,
            Mac([h[0], h[1], h[2], h[3], h[4], h[5]]),
            Mac([h[6], h[7], h[8], h[9], h[10], h[11]])
        )?;
        for b in &h[12..24] {
            write!(f, " {b:02x}")?;
        }
        Ok(())
    }
}

/// `feat_bitmap_drop: feature bitmap 0x<bitmap>`.
#[derive(Debug, Clone, Copy)]
pub struct FeatDropTrace {
    pub feat: u32,
}

impl fmt::Display for FeatDropTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "feat_bitmap_drop: feature bitmap 0x{:08x}", self.feat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_vpp() {
        let dst = [0xff; 6];
        let src = [2, 0xfe, 0, 0, 0, 1];
        let t = InputTrace {
            sw_if_index: 1,
            feat: feat::bridge_port(false) & !(feat::FWD | feat::UU_FLOOD),
            dst,
            src,
        };
        assert_eq!(
            t.to_string(),
            "l2-input: sw_if_index 1 dst ff:ff:ff:ff:ff:ff src 02:fe:00:00:00:01 [l2-learn l2-flood ]"
        );
        let t = FwdTrace {
            sw_if_index: 1,
            bd_index: 1,
            dst,
            src,
            raw: u64::MAX,
        };
        assert!(t
            .to_string()
            .ends_with("bd_index 1 result [0xffffffffffffffff, -1] static age-not bvi filter learn-event learn-move "));
        let t = FwdTrace { raw: 2, ..t };
        assert!(t.to_string().ends_with("result [0x2, 2] none"));
        let mut head = [0u8; 24];
        head[12] = 0x86;
        head[13] = 0xdd;
        let t = OutputTrace {
            sw_if_index: 2,
            head,
        };
        assert!(t
            .to_string()
            .ends_with("data 86 dd 00 00 00 00 00 00 00 00 00 00"));
    }
}
