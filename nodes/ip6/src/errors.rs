//! Counter lists shared by several nodes, as VPP shares `ip6_error_strings` and the icmp6 ones.
//!
//! `ip6-input` and `ip6-rewrite` each declare [`Ip6Err`]; `ip6-lookup`, `ip6-local` and
//! `ip6-receive` count under `ip6-input`'s copy (VPP's ip6-local borrows ip6-input's error node,
//! so "unknown ip protocol" shows under `ip6-input`). `ip6-icmp-input` and `ip6-icmp-error`
//! declare [`IcmpErr`]; the echo and ND nodes count under `ip6-icmp-input`'s copy.
//! `ip6-glean` and `ip6-discover-neighbor` declare [`NdErr`].

use pwire_graph::counters;
use pwire_graph::registry::BuildCx;

counters! { pub enum Ip6Err {
    None: info = "valid ip6 packets",
    TooShort: error = "ip6 length < 40 bytes",
    BadLength: error = "ip6 length > l2 length",
    Version: error = "ip6 version != 6",
    TimeExpired: error = "ip6 ttl <= 1",
    MtuExceeded: error = "ip6 MTU exceeded",
    DstLookupMiss: error = "ip6 destination lookup miss",
    SrcLookupMiss: error = "ip6 source lookup miss",
    Drop: error = "ip6 drop",
    Punt: error = "ip6 punt",
    UnknownProtocol: error = "unknown ip protocol",
    UdpChecksum: error = "bad udp checksum",
    IcmpChecksum: error = "bad icmp checksum",
    UdpLength: error = "inconsistent udp/ip lengths",
} }

counters! { pub enum IcmpErr {
    None: info = "valid packets",
    UnknownType: error = "unknown type",
    InvalidCodeForType: error = "invalid code for type",
    InvalidHopLimitForType: error = "hop_limit != 255",
    LengthTooSmallForType: error = "payload length too small for type",
    OptionsWithOddLength: error = "total option length not multiple of 8 bytes",
    OptionWithZeroLength: error = "option has zero length",
    EchoRepliesSent: info = "echo replies sent",
    DstLookupMiss: error = "icmp6 dst address lookup misses",
    DestUnreachSent: info = "destination unreachable response sent",
    PacketTooBigSent: info = "packet too big response sent",
    TtlExpireSent: info = "hop limit exceeded response sent",
    ParamProblemSent: info = "parameter problem response sent",
    Drop: error = "error message dropped",
    AllocFailure: error = "buffer allocation failure",
    NsSourceNotOnLink: error = "neighbor solicitations from source not on link",
    NsUnknownTarget: error = "neighbor solicitations for unknown targets",
    NaTx: info = "neighbor advertisements sent",
    NaRx: info = "neighbor advertisements received",
    NbrLimit: error = "neighbors not learned due to limit",
} }

counters! { pub enum NdErr {
    Throttled: info = "throttled",
    Drop: error = "address overflow drops",
    RequestSent: info = "neighbor solicitations sent",
    NoSourceAddress: error = "no source address for ND solicitation",
    NoBuffers: error = "no buffers",
} }

/// The global code of counter 0 of `node` (to count under another node's list).
pub fn base_of(b: &BuildCx<'_>, node: &str) -> u16 {
    let i = b
        .graph
        .node_index(node)
        .unwrap_or_else(|| panic!("node `{node}' not in the graph"));
    b.graph.nodes[i].error_base
}
