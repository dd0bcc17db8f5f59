//! pwire-wire: packet headers as zero-copy views over packet bytes.
//!
//! Headers: Ethernet (+802.1Q), ARP, IPv4, ICMPv4, IPv6, ICMPv6/ND, UDP, TCP, L2TPv3.
//!
//! Every fixed header is a `#[repr(C)]` struct of zerocopy network-endian fields (alignment 1, so
//! it overlays the bytes at any offset). `Hdr::parse(bytes)` is the one length check and returns
//! the header together with the bytes after it; from then on every field read and write is
//! infallible. `Hdr::parse_mut` does the same for rewriting in place.
//!
//! Header structs are plain `Copy` values too, so building one (`EthHdr::new(..)`) and storing it
//! with `*hdr = ..` writes every byte, which is what emitting into a reused buffer needs. Where a
//! header has fields worth decoding (IPv6 version, ND options) a small smoltcp-style `Repr` has
//! `parse` / `emit` / `buffer_len`. The L2TPv3 header has a per-session layout, so it is parsed
//! and emitted through [`l2tpv3::L2tpLayout`].
//!
//! No buffers, no graph, no allocation: this crate is `no_std` and depends on zerocopy only.
#![no_std]

#[cfg(test)]
extern crate std;

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod l2tpv3;
pub mod tcp;
pub mod udp;

#[cfg(test)]
mod testdata;

pub use arp::{ArpHdr, ArpRepr};
pub use ethernet::{Dot1qTag, EthHdr, Mac};
pub use icmpv4::Icmp4Hdr;
pub use icmpv6::Icmp6Hdr;
pub use ipv4::Ip4Hdr;
pub use ipv6::{Ip6Hdr, Ipv6Repr};
pub use l2tpv3::{Cookie, CookieSize, Ip6L2tpHead, L2tpHead, L2tpLayout, L2tpView, Sublayer};
pub use tcp::TcpHdr;
pub use udp::UdpHdr;

/// The bytes ended before the header (or option) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Truncated {
    /// Bytes the header needs.
    pub needed: usize,
    /// Bytes that were there.
    pub got: usize,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "truncated: need {} bytes, have {}",
            self.needed, self.got
        )
    }
}

impl core::error::Error for Truncated {}

/// Why a parse or a checksum fix-up failed. `Copy` and allocation-free: cheap on the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The bytes ended early.
    Truncated(Truncated),
    /// The IP version nibble is not the one the header is for.
    BadVersion(u8),
    /// A field holds a value its RFC forbids (IPv4 IHL < 5, ND code != 0, cookie size mismatch).
    Malformed,
    /// An ND option with length 0, which RFC 4861 §4.6 says must make the packet be discarded.
    ZeroLengthOption,
    /// Well formed, but not something this helper handles (non-IP, not TCP/UDP, a fragment).
    Unsupported,
}

impl From<Truncated> for Error {
    fn from(t: Truncated) -> Self {
        Error::Truncated(t)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(t) => t.fmt(f),
            Error::BadVersion(v) => write!(f, "unexpected IP version {v}"),
            Error::Malformed => f.write_str("malformed header"),
            Error::ZeroLengthOption => f.write_str("option with length 0"),
            Error::Unsupported => f.write_str("unsupported packet"),
        }
    }
}

impl core::error::Error for Error {}

/// Gives a fixed header struct its `LEN`, `parse` and `parse_mut`, and checks at compile time
/// that `LEN` is the struct's size.
macro_rules! header {
    ($ty:ident, $len:expr) => {
        impl $ty {
            /// Length of this header on the wire, in bytes.
            pub const LEN: usize = $len;

            /// Splits `bytes` into this header and the bytes after it. This is the only length
            /// check: every field access afterwards is infallible.
            #[inline]
            pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8]), $crate::Truncated> {
                <Self as zerocopy::FromBytes>::ref_from_prefix(bytes).map_err(|_| {
                    $crate::Truncated {
                        needed: Self::LEN,
                        got: bytes.len(),
                    }
                })
            }

            /// Like [`Self::parse`], for rewriting the header in place.
            #[inline]
            pub fn parse_mut(
                bytes: &mut [u8],
            ) -> Result<(&mut Self, &mut [u8]), $crate::Truncated> {
                let got = bytes.len();
                <Self as zerocopy::FromBytes>::mut_from_prefix(bytes).map_err(|_| {
                    $crate::Truncated {
                        needed: Self::LEN,
                        got,
                    }
                })
            }

            /// Writes this header at the start of `out` and returns [`Self::LEN`].
            #[inline]
            pub fn emit(&self, out: &mut [u8]) -> Result<usize, $crate::Truncated> {
                let got = out.len();
                zerocopy::IntoBytes::write_to_prefix(self, out)
                    .map(|()| Self::LEN)
                    .map_err(|_| $crate::Truncated {
                        needed: Self::LEN,
                        got,
                    })
            }
        }

        const _: () = assert!(core::mem::size_of::<$ty>() == $ty::LEN);
    };
}
pub(crate) use header;

/// The proptest configuration of every property test here. Under Miri (scripts/test.sh runs
/// this crate's unit tests there) a case costs thousands of times more, so a few cases show
/// that the code Miri checks is sound on varied input, and no regression file is read or
/// written (file access is shut off by Miri's isolation).
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    if cfg!(miri) {
        proptest::test_runner::Config {
            cases: 8,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        }
    } else {
        proptest::test_runner::Config::default()
    }
}

/// Shared checks for every fixed header type, used by each module's tests.
#[cfg(test)]
pub(crate) mod header_tests {
    /// Every prefix shorter than `len` must fail with the exact lengths, and `len` must succeed.
    pub fn truncation_sweep(
        golden: &[u8],
        len: usize,
        parse: impl Fn(&[u8]) -> Result<(), crate::Truncated>,
    ) {
        assert!(golden.len() >= len, "golden shorter than the header");
        for n in 0..len {
            assert_eq!(
                parse(&golden[..n]).err(),
                Some(crate::Truncated {
                    needed: len,
                    got: n
                }),
                "prefix of {n} bytes"
            );
        }
        assert!(parse(&golden[..len]).is_ok());
    }
}
