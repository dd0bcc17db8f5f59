//! `show ip6-full-reassembly`-style text: the table (`{:#}` adds one block per datagram, as
//! VPP's `details`), its caps, its memory and its counters.

use crate::{Counters, Family, Reason, Reassembler, State, CHUNK, NONE};
use std::fmt::{self, Display, Formatter};
use std::net::{Ipv4Addr, Ipv6Addr};

struct Addr<'a>(Family, &'a [u8; 16]);

impl Display for Addr<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Family::Ip4 => {
                let a: [u8; 4] = self.1[..4].try_into().expect("4 bytes");
                Ipv4Addr::from(a).fmt(f)
            }
            Family::Ip6 => Ipv6Addr::from(*self.1).fmt(f),
        }
    }
}

/// Nanoseconds as milliseconds with three decimals.
struct Ms(u64);

impl Display for Ms {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1_000_000, self.0 / 1_000 % 1_000)
    }
}

fn reasons(f: &mut Formatter<'_>, title: &str, counts: &[u64; Reason::COUNT]) -> fmt::Result {
    writeln!(f, "{title}:")?;
    if counts.iter().all(|&c| c == 0) {
        return writeln!(f, "  none");
    }
    writeln!(f, "  {:>10}  Reason", "Count")?;
    for r in Reason::ALL {
        let c = counts[r as usize];
        if c != 0 {
            writeln!(f, "  {c:>10}  {} ({})", r.describe(), r.name())?;
        }
    }
    Ok(())
}

impl Display for Counters {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Fragments received: {}, atomic: {}, stored: {}, reassembled datagrams: {}",
            self.fragments, self.atomic, self.stored, self.reassembled
        )?;
        reasons(f, "Fragments dropped", &self.fragment_drops)?;
        reasons(f, "Datagrams discarded", &self.datagram_drops)
    }
}

impl Display for Reassembler {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "IP reassembly status")?;
        writeln!(f, "---------------------")?;
        if f.alternate() {
            for (id, s) in self.slots.iter().enumerate() {
                let state = match s.state {
                    State::Free => continue,
                    State::Active => "in progress",
                    State::Poisoned => "discarded",
                    State::Done => "completed",
                };
                let fam = s.key.family;
                writeln!(
                    f,
                    "ID: {id}, key: {}, src: {}, dst: {}, frag_id: {}, proto: {}",
                    match fam {
                        Family::Ip4 => "ip4",
                        Family::Ip6 => "ip6",
                    },
                    Addr(fam, &s.key.src),
                    Addr(fam, &s.key.dst),
                    s.key.id,
                    s.key.proto
                )?;
                write!(
                    f,
                    "  state: {state}, created: {}, expires: {}, header: {}, data_len: {}, \
                     last_packet_octet: ",
                    Ms(s.created),
                    Ms(s.expires),
                    s.hdr_len,
                    s.received
                )?;
                if s.total == NONE {
                    write!(f, "unknown")?;
                } else {
                    write!(f, "{}", i64::from(s.total) - 1)?;
                }
                writeln!(f, ", fragments: {}, chunks: {}", s.n_ranges, s.n_chunks)?;
                if s.state != State::Poisoned {
                    for (i, [a, b]) in self.ranges_of(id as u32).iter().enumerate() {
                        writeln!(f, "  #{i:03}: range: [{a}, {}]", b - 1)?;
                    }
                }
            }
            writeln!(f, "---------------------")?;
        }
        let u = self.usage();
        let c = &self.cfg;
        writeln!(f, "Current IP4 reassemblies count: {}", u.in_progress[0])?;
        writeln!(f, "Current IP6 reassemblies count: {}", u.in_progress[1])?;
        writeln!(f, "Discarded datagrams awaiting timeout: {}", u.discarded)?;
        writeln!(f, "Completed datagrams remembered: {}", u.completed)?;
        writeln!(
            f,
            "Maximum configured concurrent reassemblies per worker-thread: {}",
            c.max_datagrams
        )?;
        writeln!(
            f,
            "Maximum configured amount of fragments per reassembly: {}",
            c.max_fragments
        )?;
        writeln!(
            f,
            "Maximum configured IP4 reassembly timeout: {}ms",
            c.timeout_ip4.as_millis()
        )?;
        writeln!(
            f,
            "Maximum configured IP6 reassembly timeout: {}ms",
            c.timeout_ip6.as_millis()
        )?;
        writeln!(
            f,
            "Minimum first fragment payload: {} bytes, maximum header: {} bytes",
            c.min_first_payload, c.max_header
        )?;
        writeln!(
            f,
            "Memory in use: {} of {} bytes ({} of {} chunks of {CHUNK} bytes)",
            u.bytes(),
            u.chunks_max as usize * CHUNK,
            u.chunks,
            u.chunks_max
        )?;
        self.counters.fmt(f)
    }
}
