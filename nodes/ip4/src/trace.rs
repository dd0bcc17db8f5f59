//! Trace records shared by the ip4 nodes, formatted like VPP's `format_ip4_header` (with
//! `format_icmp4_header` for ICMP) and `format_ethernet_arp_header`, only when `show trace`
//! runs.

use pwire_buffer::Buffer;
use std::fmt;
use std::net::Ipv4Addr;

/// Bytes of the packet kept from the IPv4 header on (header with options, ICMP header).
pub const HDR_BYTES: usize = 68;

/// The first bytes of an IPv4 packet.
#[derive(Clone, Copy)]
pub struct Ip4Bytes {
    n: u8,
    data: [u8; HDR_BYTES],
}

impl Ip4Bytes {
    #[inline]
    pub fn of(b: &Buffer) -> Self {
        Self::from_slice(b.current())
    }
    #[inline]
    pub fn from_slice(d: &[u8]) -> Self {
        let n = d.len().min(HDR_BYTES);
        let mut data = [0u8; HDR_BYTES];
        data[..n].copy_from_slice(&d[..n]);
        Ip4Bytes { n: n as u8, data }
    }
}

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "ICMP",
        2 => "IGMP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        50 => "IPSEC_ESP",
        51 => "IPSEC_AH",
        115 => "L2TP",
        _ => return None,
    })
}

fn dscp_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "CS0",
        8 => "CS1",
        10 => "AF11",
        12 => "AF12",
        14 => "AF13",
        16 => "CS2",
        18 => "AF21",
        20 => "AF22",
        22 => "AF23",
        24 => "CS3",
        26 => "AF31",
        28 => "AF32",
        30 => "AF33",
        32 => "CS4",
        34 => "AF41",
        36 => "AF42",
        38 => "AF43",
        40 => "CS5",
        46 => "EF",
        48 => "CS6",
        56 => "CS7",
        _ => return None,
    })
}

fn icmp_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "echo_reply",
        3 => "destination_unreachable",
        4 => "source_quench",
        5 => "redirect",
        8 => "echo_request",
        9 => "router_advertisement",
        10 => "router_solicitation",
        11 => "time_exceeded",
        12 => "parameter_problem",
        13 => "timestamp_request",
        14 => "timestamp_reply",
        _ => return None,
    })
}

impl fmt::Display for Ip4Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data[..self.n as usize];
        if d.len() < 20 {
            return write!(f, "ip4 header truncated");
        }
        let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
        let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
        match proto_name(d[9]) {
            Some(n) => f.write_str(n)?,
            None => write!(f, "unknown {}", d[9])?,
        }
        write!(f, ": {src} -> {dst}")?;
        let (version, hl) = (d[0] >> 4, usize::from(d[0] & 15) * 4);
        // VPP shows version and header length only when unexpected.
        if version != 4 || hl != 20 {
            write!(f, "\n  version {version}, header length {hl}")?;
        }
        let checksum = u16::from_be_bytes([d[10], d[11]]);
        write!(
            f,
            "\n  tos 0x{:02x}, ttl {}, length {}, checksum 0x{checksum:04x}",
            d[1],
            d[8],
            u16::from_be_bytes([d[2], d[3]])
        )?;
        if let Some(h) = d.get(..hl).filter(|_| hl >= 20) {
            let mut c = h.to_vec();
            c[10..12].fill(0);
            let want = pwire_wire::checksum::internet_checksum(&c);
            if want != checksum {
                write!(f, " (should be 0x{want:04x})")?;
            }
        }
        match dscp_name(d[1] >> 2) {
            Some(n) => write!(f, " dscp {n}")?,
            None => write!(f, " dscp unknown")?,
        }
        let ecn = ["NON_ECN", "ECT_0", "ECT_1", "CE"][usize::from(d[1] & 3)];
        write!(f, " ecn {ecn}")?;
        let ff = u16::from_be_bytes([d[6], d[7]]);
        write!(
            f,
            "\n  fragment id 0x{:04x}",
            u16::from_be_bytes([d[4], d[5]])
        )?;
        let off = usize::from(ff & 0x1fff) * 8;
        if off != 0 {
            write!(f, " offset {off}")?;
        }
        if ff & 0xe000 != 0 {
            f.write_str(", flags ")?;
            if ff & 0x2000 != 0 {
                f.write_str("MORE_FRAGMENTS")?;
            }
            if ff & 0x4000 != 0 {
                f.write_str("DONT_FRAGMENT")?;
            }
            if ff & 0x8000 != 0 {
                f.write_str("CONGESTION")?;
            }
        }
        if d[9] == 1 && off == 0 && hl >= 20 && d.len() >= hl + 4 {
            let (t, c) = (d[hl], d[hl + 1]);
            f.write_str("\n  ICMP ")?;
            match icmp_type_name(t) {
                Some(n) => f.write_str(n)?,
                None => write!(f, "unknown 0x{t:x}")?,
            }
            if c != 0 {
                write!(f, " code {c}")?;
            }
            write!(
                f,
                " checksum 0x{:x}",
                u16::from_be_bytes([d[hl + 2], d[hl + 3]])
            )?;
        }
        Ok(())
    }
}

/// `ip4-lookup` / `ip4-glean` style: `fib 0 dpo-idx <n> flow hash: 0x00000000` and the header.
#[derive(Clone, Copy)]
pub struct FwdTrace {
    pub dpo: u32,
    pub hdr: Ip4Bytes,
}

impl fmt::Display for FwdTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fib 0 dpo-idx {} flow hash: 0x00000000\n{}",
            self.dpo, self.hdr
        )
    }
}

/// An ARP packet as VPP's `format_ethernet_arp_header` prints it.
#[derive(Clone, Copy)]
pub struct ArpBytes {
    n: u8,
    data: [u8; 28],
}

impl ArpBytes {
    pub fn of(b: &Buffer) -> Self {
        let d = b.current();
        let n = d.len().min(28);
        let mut data = [0u8; 28];
        data[..n].copy_from_slice(&d[..n]);
        ArpBytes { n: n as u8, data }
    }
}

fn mac(m: &[u8]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl fmt::Display for ArpBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data[..self.n as usize];
        if d.len() < 8 {
            return write!(f, "arp header truncated");
        }
        let op = u16::from_be_bytes([d[6], d[7]]);
        match op {
            1 => f.write_str("request")?,
            2 => f.write_str("reply")?,
            3 => f.write_str("reverse-request")?,
            4 => f.write_str("reverse-reply")?,
            _ => write!(f, "unknown 0x{op:x}")?,
        }
        let ht = u16::from_be_bytes([d[0], d[1]]);
        let pt = u16::from_be_bytes([d[2], d[3]]);
        f.write_str(", type ")?;
        if ht == 1 {
            f.write_str("ethernet")?;
        } else {
            write!(f, "unknown 0x{ht:x}")?;
        }
        if pt == 0x0800 {
            f.write_str("/IP4")?;
        } else {
            write!(f, "/0x{pt:04x}")?;
        }
        write!(f, ", address size {}/{}", d[4], d[5])?;
        if ht == 1 && pt == 0x0800 && d.len() == 28 {
            write!(
                f,
                "\n{}/{} -> {}/{}",
                mac(&d[8..14]),
                Ipv4Addr::new(d[14], d[15], d[16], d[17]),
                mac(&d[18..24]),
                Ipv4Addr::new(d[24], d[25], d[26], d[27])
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip4_header_as_vpp_prints_it() {
        let mut h = [
            0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1, 8, 0, 0xab,
            0xcd,
        ];
        let c = pwire_wire::checksum::internet_checksum(&h[..20]);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        let s = Ip4Bytes::from_slice(&h).to_string();
        assert_eq!(
            s,
            format!(
                "ICMP: 10.0.0.2 -> 10.0.0.1\n  tos 0x00, ttl 64, length 84, checksum 0x{c:04x} dscp CS0 ecn NON_ECN\n  fragment id 0x1234, flags DONT_FRAGMENT\n  ICMP echo_request checksum 0xabcd"
            )
        );
        h[8] = 63;
        let s = Ip4Bytes::from_slice(&h).to_string();
        assert!(
            s.contains(&format!("checksum 0x{c:04x} (should be 0x")),
            "{s}"
        );
        assert_eq!(
            Ip4Bytes::from_slice(&h[..19]).to_string(),
            "ip4 header truncated"
        );
    }

    #[test]
    fn arp_as_vpp_prints_it() {
        let mut b = [0u8; 28];
        pwire_wire::ArpHdr::request(
            pwire_wire::Mac([2, 0, 0, 0, 0, 2]),
            "192.0.2.2".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
        )
        .emit(&mut b)
        .unwrap();
        let t = ArpBytes { n: 28, data: b };
        assert_eq!(
            t.to_string(),
            "request, type ethernet/IP4, address size 6/4\n02:00:00:00:00:02/192.0.2.2 -> 00:00:00:00:00:00/192.0.2.1"
        );
    }
}
