//! Helpers shared by the VLAN tests (tests/vlan.rs, tests/vlan_batch.rs): frames built here,
//! byte by byte, independently of pwire's own header code, and tshark's reading of captures.

#![allow(dead_code)]

use pwire_testkit::Harness;
use std::path::Path;
use std::process::Command;

pub const Q: u16 = 0x8100;
pub const AD: u16 = 0x88a8;
/// The payload ethertype of the test frames (IEEE local experimental: tshark shows `data`).
pub const ET: u16 = 0x88b5;

/// A host MAC, 02:00:00:00:cc:<i>.
pub fn host(i: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0xcc, i]
}

/// 46 recognisable payload bytes.
pub fn body(tag: u8) -> Vec<u8> {
    (0..46).map(|i| tag.wrapping_add(i)).collect()
}

/// An Ethernet frame: `dst`, `src`, each `(tpid, vid)` tag in order (outer first), `et`, then
/// `payload`.
pub fn eth(dst: [u8; 6], src: [u8; 6], tags: &[(u16, u16)], et: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for &(tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A test frame from host `s` to host `d` with `tags`, payload marked `tag`.
pub fn frame(d: u8, s: u8, tags: &[(u16, u16)], tag: u8) -> Vec<u8> {
    eth(host(d), host(s), tags, ET, &body(tag))
}

/// The single-threaded harness with every feature crate, session-id lookup.
pub fn harness() -> Harness {
    Harness::with("l2tp { lookup-session-id }", &pwire_tests::features())
}

/// Creates packet-generator interfaces `pg<i>` for each `i`, up.
pub fn pgs(h: &mut Harness, ids: impl IntoIterator<Item = u32>) {
    for i in ids {
        h.cli(&format!("create packet-generator interface pg{i}"));
        h.cli(&format!("set interface state pg{i} up"));
    }
}

/// What tshark makes of one packet: its protocol stack and its VLAN ids, outer first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub protos: String,
    pub vlans: Vec<u16>,
}

/// Runs tshark over a capture pwire wrote (L2TPv3 with 8-byte cookies, no sublayer, inner
/// frames decoded as Ethernet): fails on any expert message (malformed packet, bad length);
/// one [`Decoded`] per packet. Without tshark: a failure as root or in CI, else None (the
/// caller skips the check, said on stderr).
pub fn tshark(p: &Path) -> Option<Vec<Decoded>> {
    pwire_testkit::prereq::require(pwire_testkit::prereq::tshark())?;
    let out = Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args([
            "-o",
            "l2tp.cookie_size:8 Byte Cookie",
            "-o",
            "l2tp.l2_specific:None",
            "-d",
            "l2tp.pw_type==0,eth",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "frame.protocols",
            "-e",
            "ieee8021ad.id",
            "-e",
            "vlan.id",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = |s: &str| -> Vec<u16> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.trim().parse().expect("vlan id"))
            .collect()
    };
    Some(
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let get = |i: usize| f.get(i).copied().unwrap_or("");
                assert!(get(3).trim().is_empty(), "tshark on {}: {l}", p.display());
                // The ids in the order the tags come: the protocol stack says which list
                // (802.1ad or 802.1Q) each next tag's id is in.
                let (ad, q) = (ids(get(1)), ids(get(2)));
                let (mut ad, mut q) = (ad.into_iter(), q.into_iter());
                let vlans = get(0)
                    .split(':')
                    .filter_map(|p| match p {
                        "ieee8021ad" => ad.next(),
                        "vlan" => q.next(),
                        _ => None,
                    })
                    .collect();
                Decoded {
                    protos: get(0).to_string(),
                    vlans,
                }
            })
            .collect(),
    )
}

/// Sends `pkts` into pg interface `from` (through ethernet-input) and returns what each of
/// `outs` transmitted meanwhile, with the capture files (for tshark).
pub fn exchange(
    h: &mut Harness,
    from: &str,
    pkts: &[Vec<u8>],
    outs: &[&str],
) -> Vec<(Vec<Vec<u8>>, std::path::PathBuf)> {
    let caps: Vec<_> = outs.iter().map(|o| h.capture(o)).collect();
    h.send("x", from, "ethernet-input", pkts);
    outs.iter()
        .zip(caps)
        .map(|(o, c)| (h.captured(o, &c), c))
        .collect()
}
