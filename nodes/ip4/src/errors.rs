//! Counter lists shared by several nodes, as VPP shares `ip4_error_strings`, the icmp4 and
//! the ARP ones.
//!
//! `ip4-input` and `ip4-rewrite` each declare [`Ip4Err`]; `ip4-lookup`, `ip4-local` and
//! `ip4-receive` count under `ip4-input`'s copy (VPP's ip4-local borrows ip4-input's error
//! node, so "unknown ip protocol" shows under `ip4-input`). `ip4-icmp-input` and
//! `ip4-icmp-error` declare [`IcmpErr`]; the echo nodes count under `ip4-icmp-input`'s copy.
//! `arp-input` and `arp-reply` declare [`ArpErr`]; `ip4-glean` and `ip4-arp` [`GleanErr`].
//! The strings after VPP's in each list are pwire's (what VPP does there, pwire does not:
//! fragmentation and reassembly, rate limiting that VPP counts elsewhere).

use pwire_graph::counters;
use pwire_graph::registry::BuildCx;

counters! { pub enum Ip4Err {
    None: info = "valid ip4 packets",
    TooShort: error = "ip4 length < 20 bytes",
    BadLength: error = "ip4 length > l2 length",
    BadChecksum: error = "bad ip4 checksum",
    Version: error = "ip4 version != 4",
    Options: info = "ip4 options present",
    FragmentOffsetOne: error = "ip4 fragment offset == 1",
    TimeExpired: error = "ip4 ttl <= 1",
    HdrTooShort: error = "ip4 IHL < 5",
    MtuExceeded: error = "ip4 MTU exceeded and DF set",
    DstLookupMiss: error = "ip4 destination lookup miss",
    SrcLookupMiss: error = "ip4 source lookup miss",
    Drop: error = "ip4 drop",
    Punt: error = "ip4 punt",
    UnknownProtocol: error = "unknown ip protocol",
    TcpChecksum: error = "bad tcp checksum",
    UdpChecksum: error = "bad udp checksum",
    UdpLength: error = "inconsistent udp/ip lengths",
    SpoofedLocalPackets: error = "ip4 spoofed local-address packet drops",
    IcmpChecksum: error = "bad icmp checksum",
    MtuNoFragmentation: error = "ip4 MTU exceeded, fragmentation not supported",
    NoReassembly: error = "ip4 fragment for us, reassembly not supported",
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
    TtlExpireSent: info = "hop limit exceeded response sent",
    ParamProblemSent: info = "parameter problem response sent",
    Drop: error = "error message dropped",
    AllocFailure: error = "buffer allocation failure",
    RateLimited: info = "error message rate limited",
} }

/// pwire's counter of learned neighbours over the limit (on `arp-reply`).
pub const NBR_LIMIT: &str = "neighbors not learned due to limit";

counters! { pub enum ArpErr {
    RepliesSent: info = "ARP replies sent",
    Disabled: error = "ARP Disabled",
    L2TypeNotEthernet: error = "L2 type not ethernet",
    L3TypeNotIp4: error = "L3 type not IP4",
    L3SrcAddressNotLocal: error = "IP4 source address not local to subnet",
    L3DstAddressNotLocal: error = "IP4 destination address not local to subnet",
    L3DstAddressUnset: error = "IP4 destination address is unset",
    L3SrcAddressIsLocal: error = "IP4 source address matches local interface",
    L3SrcAddressLearned: info = "ARP request IP4 source address learned",
    RepliesReceived: info = "ARP replies received",
    OpcodeNotRequest: error = "ARP opcode not request",
    ProxyArpRepliesSent: info = "Proxy ARP replies sent",
    L2AddressMismatch: error = "ARP hw addr does not match L2 frame src addr",
    GratuitousArp: error = "ARP probe or announcement dropped",
    InterfaceNoTable: error = "Interface is not mapped to an IP table",
    InterfaceNotIpEnabled: error = "Interface is not IP enabled",
    UnnumberedMismatch: error = "RX interface is unnumbered to different subnet",
    TooShort: error = "ARP packet too short",
    NbrLimit: error = "neighbors not learned due to limit",
} }

counters! { pub enum GleanErr {
    Throttled: info = "ARP requests throttled",
    Resolved: info = "ARP requests resolved",
    NoBuffers: error = "ARP requests out of buffer",
    RequestSent: info = "ARP requests sent",
    NonArpAdj: error = "ARPs to non-ARP adjacencies",
    NoSourceAddress: error = "no source address for ARP request",
    Drop: error = "address overflow drops",
} }

/// The global code of counter 0 of `node` (to count under another node's list).
pub fn base_of(b: &BuildCx<'_>, node: &str) -> u16 {
    let i = b
        .graph
        .node_index(node)
        .unwrap_or_else(|| panic!("node `{node}' not in the graph"));
    b.graph.nodes[i].error_base
}
