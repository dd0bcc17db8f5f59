//! Minimal level-triggered epoll wrapper for interrupt rx-mode.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One readiness report from [`Epoll::wait`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The token given to [`Epoll::add`].
    pub token: u64,
    /// Raw `EPOLL*` event bits.
    pub events: u32,
}

impl Ready {
    /// Data (for a packet socket: a retired RX block) is available.
    pub fn readable(&self) -> bool {
        self.events & libc::EPOLLIN.unsigned_abs() != 0
    }

    /// The socket has a pending error, e.g. `ENETDOWN` after the link went
    /// down. Epoll keeps reporting it until it is read with
    /// [`HostIf::take_error`](crate::HostIf::take_error).
    pub fn error(&self) -> bool {
        self.events & libc::EPOLLERR.unsigned_abs() != 0
    }
}

/// An epoll instance. Register [`HostIf::fd`](crate::HostIf::fd) with a
/// token, sleep in [`wait`](Self::wait) when a poll finds nothing, and
/// resume polling the interfaces whose token came back.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// Most events reported by one `wait` call; more stay pending for the next.
const MAX_EVENTS: usize = 32;

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall with an integer flag.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1 and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLERR).unsigned_abs(),
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call;
        // the kernel copies it.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Watches `fd` for input (level-triggered) and reports it as `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token)
    }

    /// Stops watching `fd`.
    pub fn remove(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0)
    }

    /// Waits up to `timeout_ms` (-1: forever, 0: just poll) and fills
    /// `out` with ready fds. Returns how many; 0 on timeout or `EINTR`.
    /// Does not allocate.
    pub fn wait(&self, out: &mut [Ready], timeout_ms: i32) -> io::Result<usize> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let max = out.len().min(MAX_EVENTS);
        if max == 0 {
            return Ok(0);
        }
        let max_c = libc::c_int::try_from(max).expect("MAX_EVENTS fits c_int");
        // SAFETY: `evs` has room for `max` ≤ MAX_EVENTS events and outlives the call.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), evs.as_mut_ptr(), max_c, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        let n = usize::try_from(n).unwrap_or(0).min(max);
        for (o, e) in out.iter_mut().zip(&evs[..n]) {
            // Copy out of the (packed on x86-64) struct before use.
            let (events, token) = (e.events, e.u64);
            *o = Ready { token, events };
        }
        Ok(n)
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
