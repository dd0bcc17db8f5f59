//! Test helpers: packet builders, pg stream/capture plumbing, the tshark check, and a simulated
//! IPv6 host (`test-echo-host`) that answers NS and echo requests on its own interface.
#![allow(dead_code)]

use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::Buffer;
use pwire_cli::CliError;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, NEXT_CONSUMED};
use pwire_testkit::Harness;
use pwire_vnet::registry::cmd;
use pwire_vnet::{DevClass, Registry};
use pwire_wire::icmpv6::{fill_checksum, NdRepr, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED};
use pwire_wire::ipv6::{multicast_mac, solicited_node};
use pwire_wire::{Ip6Hdr, Mac};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub const PG0_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];
pub const PG1_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 1];
pub const HOST_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const HOST_B: [u8; 6] = [0x02, 0, 0, 0, 1, 0x02];

pub fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

pub fn eth(dst: [u8; 6], src: [u8; 6], et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An IPv6 packet (payload length from `payload`).
pub fn ip6(src: &str, dst: &str, nh: u8, hl: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 40];
    let (h, _) = Ip6Hdr::parse_mut(&mut v).unwrap();
    h.set_default(payload.len() as u16, nh, hl, a(src), a(dst));
    v.extend_from_slice(payload);
    v
}

/// An ICMPv6 message with a correct checksum.
pub fn icmp6(src: &str, dst: &str, ty: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(body);
    fill_checksum(a(src), a(dst), &mut m).unwrap();
    m
}

pub fn echo_body(id: u16, seq: u16, data_len: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend((0..data_len).map(|i| i as u8));
    b
}

/// Ethernet + IPv6 + ICMPv6 echo request.
pub fn echo_request(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: &str,
    dst: &str,
    hl: u8,
    id: u16,
    seq: u16,
) -> Vec<u8> {
    let m = icmp6(src, dst, 128, 0, &echo_body(id, seq, 56));
    eth(dmac, smac, 0x86dd, &ip6(src, dst, 58, hl, &m))
}

/// A UDP datagram with a correct checksum.
pub fn udp6(src: &str, dst: &str, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = pwire_wire::checksum::ip6_pseudo_checksum(a(src), a(dst), u.len() as u32, 17, &u);
    u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    u
}

/// Ethernet + IPv6 + UDP.
pub fn udp_frame(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: &str,
    dst: &str,
    hl: u8,
    data_len: usize,
) -> Vec<u8> {
    let d: Vec<u8> = (0..data_len).map(|i| (i * 7) as u8).collect();
    eth(
        dmac,
        smac,
        0x86dd,
        &ip6(src, dst, 17, hl, &udp6(src, dst, 1234, 5678, &d)),
    )
}

/// A neighbour solicitation for `target` from `src` (to the solicited-node group).
pub fn ns_frame(smac: [u8; 6], src: &str, target: &str, slla: Option<[u8; 6]>) -> Vec<u8> {
    let group = solicited_node(a(target));
    let nd = NdRepr::Solicit {
        target: a(target),
        source_lladdr: slla.map(Mac),
    };
    let mut m = vec![0u8; nd.buffer_len()];
    nd.emit(a(src), group, &mut m).unwrap();
    eth(
        multicast_mac(group).0,
        smac,
        0x86dd,
        &ip6(src, &group.to_string(), 58, 255, &m),
    )
}

/// A solicited neighbour advertisement for `target` (sender's MAC as TLLA).
pub fn na_frame(smac: [u8; 6], dmac: [u8; 6], src: &str, dst: &str, target: &str) -> Vec<u8> {
    let nd = NdRepr::Advert {
        flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
        target: a(target),
        target_lladdr: Some(Mac(smac)),
    };
    let mut m = vec![0u8; nd.buffer_len()];
    nd.emit(a(src), a(dst), &mut m).unwrap();
    eth(dmac, smac, 0x86dd, &ip6(src, dst, 58, 255, &m))
}

/// A harness with ethernet + ip6 + the simulated host, pg0 (fd00::1/64) and pg1 (fd01::1/64) up.
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
            register_echo_host,
        ],
    );
    for l in [
        "create packet-generator interface pg0",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface ip address pg0 fd00::1/64",
        "set interface ip address pg1 fd01::1/64",
    ] {
        h.cli(l);
    }
    h
}

/// Sends `pkts` once each from `iface` into `node`, waits until they are through.
pub fn send(h: &mut Harness, name: &str, iface: &str, node: &str, pkts: &[Vec<u8>]) {
    h.send(name, iface, node, pkts);
}

/// Starts capturing what `iface` transmits; returns the file.
pub fn capture(h: &mut Harness, iface: &str, _file: &str) -> PathBuf {
    h.capture(iface)
}

/// Stops the capture on `iface` and returns the packets.
pub fn captured(h: &mut Harness, iface: &str, p: &Path) -> Vec<Vec<u8>> {
    h.captured(iface, p)
}

/// Runs tshark over a pcap pwire wrote: fails on any expert message (malformed packet, bad
/// checksum, length mismatch); returns one `frame.protocols` string per packet. Without
/// tshark: a failure as root or in CI, else None (the caller skips the check, said on stderr).
pub fn tshark(p: &Path) -> Option<Vec<String>> {
    pwire_testkit::prereq::require(pwire_testkit::prereq::tshark())?;
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(p)
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.expert.message",
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
    for l in text.lines() {
        // Any expert message (malformed, bad checksum, length mismatch...) is a failure: none of
        // the packets pwire emits should draw a comment from a dissector.
        let (proto, expert) = l.split_once('\t').unwrap_or((l, ""));
        assert!(expert.trim().is_empty(), "tshark on {}: {l}", p.display());
        protos.push(proto.to_string());
    }
    Some(protos)
}

/// Checks the ICMPv6 checksum of an Ethernet/IPv6/ICMPv6 frame.
pub fn icmp_checksum_ok(f: &[u8]) -> bool {
    let ip = &f[14..];
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    pwire_wire::icmpv6::checksum_ok(src, dst, &ip[40..40 + plen])
}

// ---- the simulated host ----------------------------------------------------------------------

/// The simulated host's MAC.
pub const ECHO_HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xee, 0x02];

next_nodes! { enum HostNext { Eth => "ethernet-input" } }

struct EchoHost {
    ip: Arc<Shared<Ipv6Addr>>,
}

/// Turns a frame pwire sent to the host into the host's answer; false if it does not answer.
fn answer(b: &mut Buffer, me: Ipv6Addr) -> bool {
    let d = b.current().to_vec();
    if d.len() < 14 + 40 + 4 || d[12..14] != [0x86, 0xdd] || d[14 + 6] != 58 {
        return false;
    }
    let peer_mac: [u8; 6] = d[6..12].try_into().unwrap();
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&d[22..38]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&d[38..54]).unwrap());
    let plen = u16::from_be_bytes([d[18], d[19]]) as usize;
    let msg = &d[54..54 + plen];
    let out = match msg[0] {
        135 => match NdRepr::parse(msg) {
            Ok(NdRepr::Solicit { target, .. }) if target == me => {
                let nd = NdRepr::Advert {
                    flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
                    target: me,
                    target_lladdr: Some(Mac(ECHO_HOST_MAC)),
                };
                let mut m = vec![0u8; nd.buffer_len()];
                nd.emit(me, src, &mut m).unwrap();
                eth(
                    peer_mac,
                    ECHO_HOST_MAC,
                    0x86dd,
                    &ip6(&me.to_string(), &src.to_string(), 58, 255, &m),
                )
            }
            _ => return false,
        },
        128 if dst == me => {
            let mut m = msg.to_vec();
            m[0] = 129;
            fill_checksum(me, src, &mut m).unwrap();
            eth(
                peer_mac,
                ECHO_HOST_MAC,
                0x86dd,
                &ip6(&me.to_string(), &src.to_string(), 58, 64, &m),
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

/// Registers the `echo-host` device class, its tx node `test-echo-host` and
/// `test echo-host <name> <ip6>` (an interface whose far end is a host with that address).
pub fn register_echo_host(r: &mut Registry) {
    r.dev_class(DevClass {
        name: "echo-host",
        output_node: "interface-output",
        tx_node: Some("test-echo-host"),
        ethernet: true,
        hw_class: "Ethernet",
    });
    let ip = Shared::new(Ipv6Addr::UNSPECIFIED);
    let i2 = ip.clone();
    r.graph.node(NodeReg::new(
        "test-echo-host",
        NodeKind::Internal,
        HostNext::NAMES,
        &[],
        move |_b| Box::new(EchoHost { ip: i2.clone() }),
    ));
    r.command(cmd(
        "test echo-host",
        "test echo-host <name> <ip6>",
        false,
        move |a, cx| {
            let name = a.word("name")?.to_string();
            let addr = a.ipv6("address")?;
            a.expect_end()?;
            let class = cx.vnet.statics().class_id("echo-host").expect("registered");
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
        "test ip6-egress",
        "test ip6-egress <ip6>",
        true,
        |a, cx| {
            let dst = a.ipv6("address")?;
            a.expect_end()?;
            let out = format!("{:?}", cx.vnet.hooks.ip6_egress(&cx.ctl, dst));
            a.output(&out);
            Ok(())
        },
    ));
}
