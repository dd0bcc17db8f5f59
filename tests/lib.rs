//! Helpers shared by the workspace-level tests.

/// A 60-byte Ethernet/IPv4/UDP frame with a recognisable payload byte.
pub fn udp_frame(dst: [u8; 6], src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45, 0x00, 0x00, 0x2e, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 1, 1, 1, 10, 1,
        1, 2, 0x04, 0xd2, 0x16, 0x2e, 0x00, 0x1a, 0x00, 0x00,
    ]);
    while f.len() < 60 {
        f.push(tag);
    }
    f
}

/// Path of a binary of this workspace in the target dir the tests run from.
pub fn bin(name: &str) -> std::path::PathBuf {
    let mut p = std::env::current_exe().expect("test exe");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join(name)
}

/// Builds `pwire` and `pwctl` into that target dir when they are not there yet (a plain
/// `cargo test` builds only libraries of dependencies).
pub fn ensure_built() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let st = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "pwire", "-p", "pwctl"])
            .status()
            .expect("cargo build");
        assert!(st.success(), "building pwire and pwctl failed");
    });
}
