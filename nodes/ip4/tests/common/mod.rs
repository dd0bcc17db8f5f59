//! Test helpers: packet builders with the test's own checksum code (not pwire's), pg plumbing,
//! the tshark check, and a simulated IPv4 host (`test-echo-host4`) that answers ARP requests
//! and echo requests on its own interface.
#![allow(dead_code)]

use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::Buffer;
use pwire_cli::CliError;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, NEXT_CONSUMED};
use pwire_testkit::Harness;
use pwire_vnet::registry::cmd;
use pwire_vnet::{DevClass, Registry};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

pub const PG0_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];
pub const PG1_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 1];
pub const PG2_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 2];
pub const HOST_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const HOST_B: [u8; 6] = [0x02, 0, 0, 0, 1, 0x02];
pub const BCAST: [u8; 6] = [0xff; 6];

pub fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// RFC 1071, written out here so that the tests do not check pwire with pwire's own code.
pub fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            (u32::from(c[0]) << 8) | u32::from(c[1])
        } else {
            u32::from(c[0]) << 8
        };
        s += w;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

pub fn eth(dst: [u8; 6], src: [u8; 6], et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An IPv4 header with `opts` (a multiple of 4 bytes), DF set, ident 0x1234, and `payload`.
pub fn ip4_opts(src: &str, dst: &str, proto: u8, ttl: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    assert!(opts.len().is_multiple_of(4) && opts.len() <= 40);
    let hl = 20 + opts.len();
    let total = hl + payload.len();
    let mut v = vec![0x40 | (hl / 4) as u8, 0];
    v.extend_from_slice(&(total as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, ttl, proto, 0, 0]);
    v.extend_from_slice(&a(src).octets());
    v.extend_from_slice(&a(dst).octets());
    v.extend_from_slice(opts);
    let c = csum(&v);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An IPv4 packet without options.
pub fn ip4(src: &str, dst: &str, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    ip4_opts(src, dst, proto, ttl, &[], payload)
}

/// Recomputes the header checksum of the IPv4 header at `f[14..]` (after a test changed it).
pub fn fix_ip4_checksum(f: &mut [u8]) {
    let hl = usize::from(f[14] & 15) * 4;
    f[24..26].fill(0);
    let c = csum(&f[14..14 + hl]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

/// An ICMP message with its checksum.
pub fn icmp4(ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub fn echo_data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 3) as u8).collect()
}

/// Ethernet + IPv4 + ICMP echo request.
pub fn echo_request(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: &str,
    dst: &str,
    ttl: u8,
    id: u16,
    seq: u16,
) -> Vec<u8> {
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    let m = icmp4(8, 0, rest, &echo_data(56));
    eth(dmac, smac, 0x0800, &ip4(src, dst, 1, ttl, &m))
}

/// A UDP datagram with its checksum (pseudo-header included).
pub fn udp4(src: &str, dst: &str, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&a(src).octets());
    pseudo.extend_from_slice(&a(dst).octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(u.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&u);
    let c = csum(&pseudo);
    u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    u
}

/// Ethernet + IPv4 + UDP with `data_len` bytes of data.
pub fn udp_frame(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: &str,
    dst: &str,
    ttl: u8,
    data_len: usize,
) -> Vec<u8> {
    let d: Vec<u8> = (0..data_len).map(|i| (i * 7) as u8).collect();
    eth(
        dmac,
        smac,
        0x0800,
        &ip4(src, dst, 17, ttl, &udp4(src, dst, 1234, 5678, &d)),
    )
}

/// An Ethernet/IPv4 ARP packet, byte by byte.
pub fn arp(op: u16, sha: [u8; 6], spa: &str, tha: [u8; 6], tpa: &str) -> Vec<u8> {
    let mut v = vec![0, 1, 8, 0, 6, 4];
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&a(spa).octets());
    v.extend_from_slice(&tha);
    v.extend_from_slice(&a(tpa).octets());
    v
}

/// A broadcast ARP request as a host sends it, padded to the Ethernet minimum of 60 bytes.
pub fn arp_request(smac: [u8; 6], spa: &str, tpa: &str) -> Vec<u8> {
    let mut f = eth(BCAST, smac, 0x0806, &arp(1, smac, spa, [0; 6], tpa));
    f.resize(60, 0);
    f
}

/// A unicast ARP reply from (`smac`, `spa`) to (`dmac`, `tpa`).
pub fn arp_reply(smac: [u8; 6], spa: &str, dmac: [u8; 6], tpa: &str) -> Vec<u8> {
    let mut f = eth(dmac, smac, 0x0806, &arp(2, smac, spa, dmac, tpa));
    f.resize(60, 0);
    f
}

/// A harness with ethernet + ip6 (the shared IP commands) + ip4 + the simulated host, pg0
/// (10.0.0.1/24) and pg1 (10.0.1.1/24) up.
pub fn setup() -> Harness {
    setup_with("")
}

/// [`setup`] with a startup.conf (e.g. `cpu { workers 1 }`).
pub fn setup_with(conf: &str) -> Harness {
    let mut h = Harness::with(
        conf,
        &[
            pwire_node_ethernet::register,
            pwire_node_ip6::register,
            pwire_node_ip4::register,
            register_echo_host,
        ],
    );
    for l in [
        "create packet-generator interface pg0",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface ip address pg0 10.0.0.1/24",
        "set interface ip address pg1 10.0.1.1/24",
    ] {
        h.cli(l);
    }
    h
}

/// Runs tshark over a pcap pwire wrote: fails on any expert warning or error (malformed
/// packet, bad checksum, length mismatch); notes pass (a packet forwarded with TTL 1, or a
/// time exceeded quoting a TTL 0 header, draws "Time To Live only 1", which is what such a
/// packet is). Returns one `frame.protocols` string per packet. Without
/// tshark: a failure as root or in CI, else None (the caller skips the check, said on stderr).
pub fn tshark(p: &Path) -> Option<Vec<String>> {
    pwire_testkit::prereq::require(pwire_testkit::prereq::tshark())?;
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(p)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.expert.message",
            "-e",
            "_ws.expert.severity",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || text.lines().count() > 0,
        "tshark failed on {}: {err}",
        p.display()
    );
    let mut protos = Vec::new();
    // Wireshark's severities: chat 0x200000, note 0x400000, warning 0x600000, error 0x800000.
    const WARN: u64 = 0x60_0000;
    for l in text.lines() {
        let mut cols = l.split('\t');
        let proto = cols.next().unwrap_or("");
        let _messages = cols.next();
        let worst = cols
            .next()
            .unwrap_or("")
            .split(',')
            .filter_map(|x| x.trim().parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        assert!(worst < WARN, "tshark on {}: {l}", p.display());
        protos.push(proto.to_string());
    }
    Some(protos)
}

/// The IPv4 header checksum of the frame `f` (Ethernet + IPv4) is right.
pub fn ip_checksum_ok(f: &[u8]) -> bool {
    let hl = usize::from(f[14] & 15) * 4;
    csum(&f[14..14 + hl]) == 0
}

/// The ICMP checksum of the frame `f` (Ethernet + IPv4 + ICMP) is right.
pub fn icmp_checksum_ok(f: &[u8]) -> bool {
    let hl = usize::from(f[14] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    csum(&f[14 + hl..14 + total]) == 0
}

// ---- the simulated host ----------------------------------------------------------------------

/// The simulated host's MAC.
pub const ECHO_HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xee, 0x04];

next_nodes! { enum HostNext { Eth => "ethernet-input" } }

struct EchoHost {
    ip: Arc<Shared<Ipv4Addr>>,
}

/// Turns a frame pwire sent to the host into the host's answer; false if it does not answer.
fn answer(b: &mut Buffer, me: Ipv4Addr) -> bool {
    let d = b.current().to_vec();
    if d.len() < 14 + 20 {
        return false;
    }
    let peer_mac: [u8; 6] = d[6..12].try_into().unwrap();
    let out = match (d[12], d[13]) {
        (0x08, 0x06) if d[14 + 7] == 1 && d[14 + 24..14 + 28] == me.octets() => {
            let spa = Ipv4Addr::new(d[28], d[29], d[30], d[31]);
            eth(
                peer_mac,
                ECHO_HOST_MAC,
                0x0806,
                &arp(
                    2,
                    ECHO_HOST_MAC,
                    &me.to_string(),
                    peer_mac,
                    &spa.to_string(),
                ),
            )
        }
        (0x08, 0x00) if d[14 + 9] == 1 && d[14 + 16..14 + 20] == me.octets() => {
            let hl = usize::from(d[14] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([d[16], d[17]]));
            let msg = &d[14 + hl..14 + total];
            if msg[0] != 8 {
                return false;
            }
            let src = Ipv4Addr::new(d[26], d[27], d[28], d[29]);
            let mut m = msg.to_vec();
            m[0] = 0;
            m[2..4].fill(0);
            let c = csum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
            eth(
                peer_mac,
                ECHO_HOST_MAC,
                0x0800,
                &ip4(&me.to_string(), &src.to_string(), 1, 64, &m),
            )
        }
        _ => return false,
    };
    if !b.set_len(out.len()) {
        return false;
    }
    b.current_mut().copy_from_slice(&out);
    true
}

impl Node for EchoHost {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let me = *self.ip.dp(&dp);
        let mut free = Vec::new();
        for (bi, b, nx) in frame.iter_mut_bi() {
            if answer(b, me) {
                // The answer comes back in on the same wire.
                b.sw_if_index[RX] = b.sw_if_index[TX];
                b.sw_if_index[TX] = !0;
                b.flags = 0;
                b.l2_len = 0;
                *nx = HostNext::Eth as u16;
            } else {
                *nx = NEXT_CONSUMED;
                free.push(bi);
            }
        }
        // SAFETY: frame buffers, each once (frame invariant), whose next was set to
        // NEXT_CONSUMED; not touched after this.
        unsafe { cx.free(&free) };
    }
}

/// Registers the `echo-host4` device class, its tx node `test-echo-host4`,
/// `test echo-host4 <name> <ip4>` (an interface whose far end is a host with that address),
/// `test delete-interface <name>` and `test ip4-egress <ip4>`.
pub fn register_echo_host(r: &mut Registry) {
    r.dev_class(DevClass {
        name: "echo-host4",
        output_node: "interface-output",
        tx_node: Some("test-echo-host4"),
        ethernet: true,
        hw_class: "Ethernet",
    });
    let ip = Shared::new(Ipv4Addr::UNSPECIFIED);
    let i2 = ip.clone();
    r.graph.node(NodeReg::new(
        "test-echo-host4",
        NodeKind::Internal,
        HostNext::NAMES,
        &[],
        move |_b| Box::new(EchoHost { ip: i2.clone() }),
    ));
    r.command(cmd(
        "test echo-host4",
        "test echo-host4 <name> <ip4>",
        false,
        move |a, cx| {
            let name = a.word("name")?.to_string();
            let addr: Ipv4Addr = a.value("address")?;
            a.expect_end()?;
            let class = cx
                .vnet
                .statics()
                .class_id("echo-host4")
                .expect("registered");
            let sw = cx
                .vnet
                .create_interface(&mut cx.ctl, name, class, 0, [0x02, 0xfe, 0, 0, 0xee, 0])
                .map_err(CliError::msg)?;
            if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
                i.link_up = true;
            }
            *ip.write(&mut cx.ctl) = addr;
            Ok(())
        },
    ));
    r.command(cmd(
        "test delete-interface",
        "test delete-interface <name>",
        false,
        |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            a.expect_end()?;
            cx.vnet
                .delete_interface(&mut cx.ctl, sw)
                .map_err(CliError::msg)
        },
    ));
    r.command(cmd(
        "test ip4-egress",
        "test ip4-egress <ip4>",
        true,
        |a, cx| {
            let dst: Ipv4Addr = a.value("address")?;
            a.expect_end()?;
            let out = format!("{:?}", cx.vnet.hooks.ip4_egress(&cx.ctl, dst));
            a.output(&out);
            Ok(())
        },
    ));
}
