//! Reliable delivery of control messages for one control connection (RFC 3931 §4.2,
//! Appendix A): Ns/Nr modulo 2^16, the peer's receive window, slow start and congestion
//! avoidance, retransmission with exponential backoff to a cap and a retry limit, duplicate
//! and out-of-order classification. No timers of its own: it reports deadlines and is told the
//! time.

use std::collections::{BTreeMap, VecDeque};

/// `a - b` as a signed distance modulo 2^16.
pub fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// A message waiting for its acknowledgement.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub ns: u16,
    pub mtype: u16,
    /// The message with its header (CCID and Ns final; Nr and digests are refreshed per send).
    pub bytes: Vec<u8>,
}

/// Where a received sequenced message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxClass {
    /// The next expected one: deliver it.
    InOrder,
    /// Already received: ignore it, but acknowledge again.
    Duplicate,
    /// Ahead of the next expected one: queue it if it fits the receive window.
    Future,
}

/// What the acknowledgement number of a received message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NrCheck {
    /// This many queued messages are now acknowledged (possibly 0).
    Acked(usize),
    /// Nr is beyond anything sent (the §4.2 sanity check): the message is invalid.
    Insane,
}

/// Outcome of the retransmission timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Not yet due.
    NotDue,
    /// Send the oldest unacknowledged message again.
    Retransmit,
    /// The retry limit is reached: the connection is to be cleared.
    GiveUp,
}

/// Send and receive sequence state of one control connection.
#[derive(Debug)]
pub struct Reliable<T> {
    /// Ns of the next new message.
    pub ns_next: u16,
    /// Next Ns expected from the peer (the Nr we send).
    pub nr: u16,
    /// Messages from the oldest unacknowledged one on, in Ns order; the first `sent` of them
    /// have been transmitted.
    pub queue: VecDeque<Outgoing>,
    sent: usize,
    /// The peer's receive window (4 if it sent none).
    pub peer_window: u16,
    /// Congestion window and slow-start threshold (Appendix A).
    pub cwnd: u16,
    pub ssthresh: u16,
    ca_acks: u16,
    pub rto_min: u64,
    pub rto_max: u64,
    pub rto: u64,
    pub retransmit_at: Option<u64>,
    /// Consecutive retransmissions without progress.
    pub retries: u32,
    /// Received out-of-order messages, by Ns.
    pub ooo: BTreeMap<u16, T>,
    /// Our receive window: how far ahead a message may be and still be queued.
    pub our_window: u16,
    /// A sequenced message was received and not yet acknowledged.
    pub ack_owed: bool,
}

impl<T> Reliable<T> {
    pub fn new(rto_min: u64, rto_max: u64, our_window: u16) -> Self {
        Reliable {
            ns_next: 0,
            nr: 0,
            queue: VecDeque::new(),
            sent: 0,
            peer_window: 4,
            cwnd: 1,
            ssthresh: 4,
            ca_acks: 0,
            rto_min,
            rto_max: rto_max.max(rto_min),
            rto: rto_min,
            retransmit_at: None,
            retries: 0,
            ooo: BTreeMap::new(),
            our_window: our_window.max(1),
            ack_owed: false,
        }
    }

    /// Sets the peer's window (from its Receive Window Size AVP).
    pub fn set_peer_window(&mut self, w: u16) {
        self.peer_window = w.max(1);
        self.ssthresh = self.peer_window;
        self.cwnd = self.cwnd.min(self.peer_window);
    }

    /// Queues a new message, writing its Ns into the header.
    pub fn push(&mut self, mtype: u16, mut bytes: Vec<u8>) -> u16 {
        let ns = self.ns_next;
        self.ns_next = ns.wrapping_add(1);
        if bytes.len() >= 10 {
            bytes[8..10].copy_from_slice(&ns.to_be_bytes());
        }
        self.queue.push_back(Outgoing { ns, mtype, bytes });
        ns
    }

    /// The number of messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.sent
    }

    /// The index of the next queued message the windows allow to go out now, marking it sent.
    pub fn next_to_send(&mut self, now: u64) -> Option<usize> {
        let limit = self.cwnd.min(self.peer_window).max(1) as usize;
        if self.sent >= self.queue.len() || self.sent >= limit {
            return None;
        }
        let i = self.sent;
        self.sent += 1;
        if self.retransmit_at.is_none() {
            self.retransmit_at = Some(now + self.rto);
        }
        Some(i)
    }

    /// Processes a received Nr: drops what it acknowledges and grows the congestion window.
    pub fn on_nr(&mut self, nr: u16, now: u64) -> NrCheck {
        let una = self.queue.front().map_or(self.ns_next, |o| o.ns);
        let d = nr.wrapping_sub(una) as usize;
        if d > 0x8000 {
            // Older than what is outstanding: a stale acknowledgement, nothing to do.
            return NrCheck::Acked(0);
        }
        if d > self.sent {
            return NrCheck::Insane;
        }
        for _ in 0..d {
            self.queue.pop_front();
            self.sent -= 1;
            if self.cwnd < self.ssthresh {
                self.cwnd += 1;
            } else {
                self.ca_acks += 1;
                if self.ca_acks >= self.cwnd {
                    self.ca_acks = 0;
                    self.cwnd = (self.cwnd + 1).min(self.peer_window);
                }
            }
        }
        if d > 0 {
            self.retries = 0;
            self.rto = self.rto_min;
            self.retransmit_at = (self.sent > 0).then_some(now + self.rto);
        }
        NrCheck::Acked(d)
    }

    /// Classifies a received sequenced message's Ns.
    pub fn classify(&self, ns: u16) -> RxClass {
        match seq_diff(ns, self.nr) {
            0 => RxClass::InOrder,
            d if d < 0 => RxClass::Duplicate,
            _ => RxClass::Future,
        }
    }

    /// Queues an out-of-order message if it is within our window. `false` if dropped.
    pub fn hold(&mut self, ns: u16, m: T) -> bool {
        if (seq_diff(ns, self.nr) as i32) < self.our_window as i32 {
            self.ooo.entry(ns).or_insert(m);
            true
        } else {
            false
        }
    }

    /// Accepts the in-order message: advances Nr.
    pub fn advance(&mut self) {
        self.nr = self.nr.wrapping_add(1);
        self.ack_owed = true;
    }

    /// The queued message that has become in order, if any (call after [`Reliable::advance`]).
    pub fn take_next_held(&mut self) -> Option<T> {
        self.ooo.remove(&self.nr)
    }

    /// The retransmission timer, given the retry limit for the oldest message.
    pub fn expire(&mut self, now: u64, max_retries: u32) -> Expiry {
        match self.retransmit_at {
            Some(t) if t <= now && self.sent > 0 => {
                if self.retries >= max_retries {
                    return Expiry::GiveUp;
                }
                self.retries += 1;
                self.ssthresh = (self.cwnd / 2).max(1);
                self.cwnd = 1;
                self.ca_acks = 0;
                self.rto = self.rto.saturating_mul(2).min(self.rto_max);
                self.retransmit_at = Some(now + self.rto);
                Expiry::Retransmit
            }
            _ => Expiry::NotDue,
        }
    }

    /// Forgets everything queued for sending (after a StopCCN was received, or when a lost
    /// tie makes our SCCRQ moot).
    pub fn abandon(&mut self) {
        self.queue.clear();
        self.sent = 0;
        self.retransmit_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Reliable<u16> {
        Reliable::new(1000, 8000, 4)
    }

    #[test]
    fn window_slow_start_and_ack() {
        let mut r = r();
        r.set_peer_window(4);
        for t in 0..6 {
            r.push(6, vec![0; 12 + t]);
        }
        assert_eq!(r.next_to_send(0), Some(0));
        assert_eq!(r.next_to_send(0), None, "cwnd starts at 1");
        assert_eq!(r.on_nr(1, 10), NrCheck::Acked(1));
        assert_eq!(r.cwnd, 2);
        assert_eq!(r.next_to_send(10), Some(0));
        assert_eq!(r.next_to_send(10), Some(1));
        assert_eq!(r.next_to_send(10), None);
        assert_eq!(r.on_nr(5, 10), NrCheck::Insane, "Nr beyond what was sent");
        assert_eq!(r.on_nr(3, 20), NrCheck::Acked(2));
        assert_eq!(r.cwnd, 4);
        // A stale Nr is harmless.
        assert_eq!(r.on_nr(1, 20), NrCheck::Acked(0));
    }

    #[test]
    fn backoff_to_cap_and_give_up() {
        let mut r = r();
        r.push(1, vec![0; 12]);
        r.next_to_send(0);
        let mut gaps = vec![];
        let mut last = 0;
        let now = loop {
            let now = r.retransmit_at.unwrap();
            match r.expire(now, 6) {
                Expiry::Retransmit => {
                    gaps.push(now - last);
                    last = now;
                }
                Expiry::GiveUp => break now,
                Expiry::NotDue => unreachable!(),
            }
        };
        assert_eq!(gaps, [1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(now - last, 8000);
        assert_eq!(r.expire(now, 6), Expiry::GiveUp, "stays given up");
    }

    #[test]
    fn classify_modulo() {
        let mut r = r();
        r.nr = 0xfffe;
        assert_eq!(r.classify(0xfffe), RxClass::InOrder);
        assert_eq!(r.classify(0xfffd), RxClass::Duplicate);
        assert_eq!(r.classify(0x7ffe), RxClass::Duplicate);
        assert_eq!(r.classify(1), RxClass::Future);
        assert!(r.hold(1, 1));
        assert!(!r.hold(3, 3), "beyond our window of 4");
        r.advance();
        assert_eq!(r.take_next_held(), None);
        r.advance();
        assert_eq!(r.nr, 0);
        r.advance();
        assert_eq!(r.take_next_held(), Some(1));
    }
}
