//! Kernel ABI pieces the `libc` crate lacks, and thin checked wrappers
//! around the few syscalls the driver makes. Everything `unsafe` that is
//! not ring memory lives here.

use std::ffi::c_int;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

// ---- linux/if_packet.h additions not (yet) in libc 0.2 ------------------

/// `TP_STATUS_GSO_TCP` (linux/if_packet.h, recent kernels): the frame is
/// a TCP GSO super-packet. Older kernels never set it; [`RxPkt::gso`]
/// (virtio-net header) carries the same fact plus the MSS.
///
/// [`RxPkt::gso`]: crate::RxPkt::gso
pub const TP_STATUS_GSO_TCP: u32 = 1 << 8;

// ---- linux/virtio_net.h -------------------------------------------------
//
// `struct virtio_net_hdr { u8 flags; u8 gso_type; __virtio16 hdr_len;
// __virtio16 gso_size; __virtio16 csum_start; __virtio16 csum_offset; }`
// (10 bytes). AF_PACKET writes it with `vio_le()`, i.e. host byte order on
// little-endian hosts (legacy virtio), so we decode it native-endian.

/// Size of the legacy `struct virtio_net_hdr` the kernel puts in front of
/// the MAC header when `PACKET_VNET_HDR` is on.
pub(crate) const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: `csum_start`/`csum_offset` are valid and
/// the L4 checksum still has to be completed.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP` (UFO).
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (USO).
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN` flag bit of `gso_type`.
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// Decoded `struct virtio_net_hdr` (as the kernel wrote it in front of a
/// received frame).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`, ECN bit included.
    pub gso_type: u8,
    /// Header length hint (the kernel writes the skb's linear length).
    pub hdr_len: u16,
    /// MSS of a GSO super-packet.
    pub gso_size: u16,
    /// Where the partial checksum starts (offset from the MAC header).
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    pub(crate) fn decode(b: &[u8; VNET_HDR_LEN]) -> Self {
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        }
    }
}

// ---- syscalls -------------------------------------------------------------

fn cvt(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `socket(AF_PACKET, SOCK_RAW, 0)`, nonblocking and close-on-exec.
///
/// Protocol 0 on purpose: the socket receives nothing until `bind` names
/// both the protocol and the interface, so no foreign-interface frames can
/// land in the ring while it is being set up.
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall, integer arguments only.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2); nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Marker for the plain C structs/ints we pass to `setsockopt`.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or primitive) with no padding the
/// kernel could misinterpret, and valid to read as raw bytes.
pub(crate) unsafe trait SockOpt: Copy {}
// SAFETY: primitive integer.
unsafe impl SockOpt for c_int {}
// SAFETY: repr(C) struct of u32 fields (linux/if_packet.h `tpacket_req`).
unsafe impl SockOpt for libc::tpacket_req {}
// SAFETY: repr(C) struct of u32 fields (linux/if_packet.h `tpacket_req3`).
unsafe impl SockOpt for libc::tpacket_req3 {}
// SAFETY: repr(C) `packet_mreq` (int, 2×ushort, u8[8]): no padding.
unsafe impl SockOpt for libc::packet_mreq {}

/// `setsockopt(fd, level, name, val)`.
fn set_opt<T: SockOpt>(fd: RawFd, level: c_int, name: c_int, val: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>()).expect("option fits socklen_t");
    // SAFETY: `val` points to an initialised `T` of exactly `len` bytes that
    // lives for the whole call; the kernel only reads it (a `sock_fprog`'s
    // instructions too, which the caller keeps alive as long).
    cvt(unsafe { libc::setsockopt(fd, level, name, (val as *const T).cast(), len) }).map(drop)
}

/// `setsockopt(fd, SOL_PACKET, name, val)`.
pub(crate) fn set_packet_opt<T: SockOpt>(fd: RawFd, name: c_int, val: &T) -> io::Result<()> {
    set_opt(fd, libc::SOL_PACKET, name, val)
}

/// `getsockopt(fd, level, name)` of an `int` option.
fn get_int_opt(fd: RawFd, level: c_int, name: c_int) -> io::Result<c_int> {
    let mut v: c_int = 0;
    let mut len = libc::socklen_t::try_from(size_of::<c_int>()).expect("fits socklen_t");
    // SAFETY: `v` is a writable c_int and `len` holds its size.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut c_int).cast(), &mut len) })?;
    Ok(v)
}

// SAFETY: repr(C) `sock_fprog` (u16 length, then a pointer the kernel reads `len`
// instructions from during the call; callers pass a live program).
unsafe impl SockOpt for libc::sock_fprog {}

/// `PACKET_FANOUT` type: a classic BPF program picks the member.
pub(crate) const PACKET_FANOUT_CBPF: u16 = 6;
/// Fanout flag: the kernel picks an unused group id (first member only).
pub(crate) const PACKET_FANOUT_FLAG_UNIQUEID: u16 = 0x2000;
/// Fanout flag (Linux 6.2): the group does not see what the host sends on the interface (a
/// member's own `PACKET_IGNORE_OUTGOING` does not apply once it is in a group).
pub(crate) const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u16 = 0x4000;

/// Joins the fanout group `id` (`type_flags`: type | flags), or with
/// [`PACKET_FANOUT_FLAG_UNIQUEID`] and `id` 0 a new group. The socket must be bound.
pub(crate) fn join_fanout(fd: RawFd, id: u16, type_flags: u16) -> io::Result<()> {
    let arg: c_int = c_int::from(id) | (c_int::from(type_flags) << 16);
    set_packet_opt(fd, libc::PACKET_FANOUT, &arg)
}

/// The id of the fanout group `fd` is in.
pub(crate) fn fanout_id(fd: RawFd) -> io::Result<u16> {
    let v = get_int_opt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT)?;
    // The id is the low 16 bits (type and flags above).
    Ok(u16::try_from(v & 0xffff).unwrap_or(0))
}

/// A classic BPF program as `setsockopt` takes it, pointing into `ins` (which must outlive
/// the call).
fn prog_of(ins: &[libc::sock_filter; 1]) -> libc::sock_fprog {
    libc::sock_fprog {
        len: 1,
        filter: ins.as_ptr().cast_mut(),
    }
}

/// The one-instruction program `ret #k`.
fn ret_k(k: u32) -> [libc::sock_filter; 1] {
    [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    }]
}

/// Sets the `PACKET_FANOUT_CBPF` program of `fd`'s group to `ret #member`: every frame goes
/// to the group's member `member` (in join order).
pub(crate) fn set_fanout_member(fd: RawFd, member: u32) -> io::Result<()> {
    let ins = ret_k(member);
    set_packet_opt(fd, libc::PACKET_FANOUT_DATA, &prog_of(&ins))
}

/// `SO_ATTACH_FILTER` with `ret #0`: the socket accepts nothing (while it joins a group).
pub(crate) fn attach_drop_filter(fd: RawFd) -> io::Result<()> {
    let ins = ret_k(0);
    set_opt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog_of(&ins))
}

/// `SO_DETACH_FILTER` (the kernel ignores the value).
pub(crate) fn detach_filter(fd: RawFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0)
}

/// `getsockopt(fd, SOL_PACKET, PACKET_STATISTICS)` for a TPACKET_V3
/// socket, or a V2 one (the kernel then writes the first two fields and
/// `tp_freeze_q_cnt` stays 0). Clear-on-read in the kernel.
pub(crate) fn packet_stats_v3(fd: RawFd) -> io::Result<libc::tpacket_stats_v3> {
    let mut st = MaybeUninit::<libc::tpacket_stats_v3>::zeroed();
    let mut len =
        libc::socklen_t::try_from(size_of::<libc::tpacket_stats_v3>()).expect("fits socklen_t");
    // SAFETY: `st` is a writable buffer of `len` bytes and `len` is a valid
    // in/out length; the kernel writes at most `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            st.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zero-initialised and then (partly) overwritten by the kernel;
    // the struct is three u32s, valid for any bit pattern.
    Ok(unsafe { st.assume_init() })
}

/// `getsockopt(fd, SOL_SOCKET, SO_ERROR)`: returns and clears the pending
/// socket error (e.g. `ENETDOWN` after the link went down).
pub(crate) fn take_so_error(fd: RawFd) -> io::Result<c_int> {
    get_int_opt(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

/// `bind(fd, sockaddr_ll { protocol, ifindex })`. `protocol` is in host
/// order; 0 binds the interface without registering a receive hook.
pub(crate) fn bind_ll(fd: RawFd, protocol: u16, ifindex: c_int) -> io::Result<()> {
    let sll = libc::sockaddr_ll {
        sll_family: libc::c_ushort::try_from(libc::AF_PACKET).expect("AF_PACKET fits"),
        sll_protocol: protocol.to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    let len = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>()).expect("fits socklen_t");
    // SAFETY: `sll` is a fully initialised sockaddr_ll and `len` its size.
    cvt(unsafe { libc::bind(fd, (&sll as *const libc::sockaddr_ll).cast(), len) }).map(drop)
}

/// `send(fd, NULL, 0, MSG_DONTWAIT)`: asks the kernel to transmit every
/// `TP_STATUS_SEND_REQUEST` frame of the TX ring, without waiting.
pub(crate) fn kick_tx(fd: RawFd) -> io::Result<()> {
    // SAFETY: a NULL buffer with length 0 is valid for send(2); on a packet
    // socket with a TX ring the kernel reads the ring, not the buffer.
    let rc = unsafe { libc::send(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `recv(fd, buf, MSG_DONTWAIT | MSG_TRUNC)`: the next datagram of the socket's receive queue
/// (a TPACKET_V2 ring's `TP_STATUS_COPY` frame in full). Returns the datagram's real length,
/// which exceeds `buf.len()` when it did not fit (the rest is discarded by the kernel).
pub(crate) fn recv_trunc(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a writable region of `buf.len()` bytes for the whole call; the kernel
    // writes at most that many.
    let rc = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Sets the socket's receive buffer to `bytes`: `SO_RCVBUFFORCE` (past `rmem_max`, needs
/// CAP_NET_ADMIN), else `SO_RCVBUF` (capped by `rmem_max`).
pub(crate) fn set_rcvbuf(fd: RawFd, bytes: c_int) -> io::Result<()> {
    set_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes)
        .or_else(|_| set_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes))
}

/// System page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(ps).ok().filter(|&p| p > 0).unwrap_or(4096)
}

// ---- interface ioctls ------------------------------------------------------

/// An interface name as the kernel wants it: NUL-padded `char[IFNAMSIZ]`.
#[derive(Clone, Copy)]
pub(crate) struct IfName {
    raw: [libc::c_char; libc::IFNAMSIZ],
    len: usize,
}

impl IfName {
    pub(crate) fn new(name: &str) -> io::Result<Self> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) || b.contains(&b'/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name {name:?}"),
            ));
        }
        let mut raw = [0 as libc::c_char; libc::IFNAMSIZ];
        for (d, &s) in raw.iter_mut().zip(b) {
            *d = s as libc::c_char;
        }
        Ok(IfName { raw, len: b.len() })
    }

    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: `raw` is a `[c_char; N]`; c_char is i8 or u8, same size and
        // alignment as u8, so viewing the first `len` of them as bytes is sound.
        let bytes = unsafe { std::slice::from_raw_parts(self.raw.as_ptr().cast::<u8>(), self.len) };
        // Constructed from a &str, so this is valid UTF-8.
        std::str::from_utf8(bytes).unwrap_or("?")
    }

    fn ifreq(&self) -> libc::ifreq {
        // SAFETY: `ifreq` is a C struct of a char array and a union of
        // integers, sockaddrs, char arrays and a raw pointer: all-zero is a
        // valid value for each.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        ifr.ifr_name = self.raw;
        ifr
    }
}

/// Runs one `SIOCGIF*` ioctl and returns the filled `ifreq`.
fn ioctl_ifreq(fd: RawFd, name: &IfName, req: libc::c_ulong) -> io::Result<libc::ifreq> {
    let mut ifr = name.ifreq();
    // SAFETY: `ifr` is a valid, exclusively borrowed ifreq; the SIOCGIF*
    // requests used here read `ifr_name` and write only inside the struct.
    cvt(unsafe { libc::ioctl(fd, req, &mut ifr as *mut libc::ifreq) })?;
    Ok(ifr)
}

pub(crate) fn if_index(fd: RawFd, name: &IfName) -> io::Result<c_int> {
    let ifr = ioctl_ifreq(fd, name, libc::SIOCGIFINDEX)?;
    // SAFETY: SIOCGIFINDEX filled `ifru_ifindex`; any c_int is valid.
    Ok(unsafe { ifr.ifr_ifru.ifru_ifindex })
}

pub(crate) fn if_flags(fd: RawFd, name: &IfName) -> io::Result<c_int> {
    let ifr = ioctl_ifreq(fd, name, libc::SIOCGIFFLAGS)?;
    // SAFETY: SIOCGIFFLAGS filled `ifru_flags`; any c_short is valid. The
    // kernel's flags are unsigned 16-bit, so reinterpret rather than extend.
    let raw = unsafe { ifr.ifr_ifru.ifru_flags };
    Ok(c_int::from(u16::from_ne_bytes(raw.to_ne_bytes())))
}

pub(crate) fn if_mtu(fd: RawFd, name: &IfName) -> io::Result<u32> {
    let ifr = ioctl_ifreq(fd, name, libc::SIOCGIFMTU)?;
    // SAFETY: SIOCGIFMTU filled `ifru_mtu`; any c_int is valid.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

pub(crate) fn if_hwaddr(fd: RawFd, name: &IfName) -> io::Result<[u8; 6]> {
    let ifr = ioctl_ifreq(fd, name, libc::SIOCGIFHWADDR)?;
    // SAFETY: SIOCGIFHWADDR filled `ifru_hwaddr` (a plain sockaddr).
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = u8::from_ne_bytes(s.to_ne_bytes());
    }
    Ok(mac)
}
