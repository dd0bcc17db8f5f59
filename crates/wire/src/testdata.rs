//! Test-only access to the golden Snabb L2TPv3 captures in `shared/testdata/snabb-l2vpn/`.
//!
//! This crate may not depend on `pwire-pcap`, so the few lines of classic-pcap walking needed
//! here are repeated. A missing file is a test failure, never a skip.

use std::fs;
use std::path::PathBuf;
use std::vec::Vec;

/// Path of a file in the Snabb testdata directory (`<workspace>/../shared/testdata/...`).
pub fn snabb_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/snabb-l2vpn")
        .join(name)
}

/// All frames of one capture. Panics with a clear message if the file is missing or malformed.
pub fn snabb_frames(name: &str) -> Vec<Vec<u8>> {
    let path = snabb_path(name);
    let bytes = fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "golden capture {} is missing ({e}); it ships in shared/testdata/snabb-l2vpn/ \
             beside the project checkout",
            path.display()
        )
    });
    // Little-endian, microsecond classic pcap, as the README's files are.
    assert_eq!(
        bytes.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "{}: not a little-endian pcap",
        path.display()
    );
    let le32 = |at: usize| -> usize {
        let b = bytes.get(at..at + 4).unwrap_or_else(|| {
            panic!("{}: truncated at {at}", path.display());
        });
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let incl = le32(at + 8);
        let data = bytes
            .get(at + 16..at + 16 + incl)
            .unwrap_or_else(|| panic!("{}: record at {at} truncated", path.display()));
        frames.push(data.to_vec());
        at += 16 + incl;
    }
    frames
}
