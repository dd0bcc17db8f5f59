//! Control message authentication: the Message Digest AVP with HMAC-MD5 / HMAC-SHA-1 over the
//! nonces and the message (RFC 3931 §4.3, §5.4.1), the RFC 2661-style Challenge Response
//! (RFC 2661 §4.2), hidden-AVP decoding (§5.3) and the [`Secret`] type that never prints.

use crate::wire::{at, AvpIter, DIGEST_OFFSET};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use std::fmt;

/// A shared secret. Its bytes are never shown by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(s: impl AsRef<[u8]>) -> Self {
        Secret(s.as_ref().to_vec())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
    /// The digest key: `HMAC-MD5(secret, 0x02)` (§4.3).
    pub fn digest_key(&self) -> [u8; 16] {
        hmac_md5(&self.0, &[2])
    }
    /// The AVP-hiding key: `HMAC-MD5(secret, 0x01)` (§5.3).
    pub fn hiding_key(&self) -> [u8; 16] {
        hmac_md5(&self.0, &[1])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(none)"
        } else {
            "Secret(set)"
        })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "none" } else { "set" })
    }
}

/// The digest's hash, Digest Type 0 (HMAC-MD5) or 1 (HMAC-SHA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestAlg {
    #[default]
    Md5,
    Sha1,
}

impl DigestAlg {
    pub fn type_byte(self) -> u8 {
        match self {
            DigestAlg::Md5 => 0,
            DigestAlg::Sha1 => 1,
        }
    }
    pub fn from_type(b: u8) -> Option<DigestAlg> {
        match b {
            0 => Some(DigestAlg::Md5),
            1 => Some(DigestAlg::Sha1),
            _ => None,
        }
    }
    /// The digest's length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            DigestAlg::Md5 => 16,
            DigestAlg::Sha1 => 20,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Md5 => "hmac-md5",
            DigestAlg::Sha1 => "hmac-sha1",
        }
    }
}

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// `HMAC-H(key, first ‖ second ‖ msg)`, written into `out` (16 or 20 bytes).
pub fn compute(
    alg: DigestAlg,
    key: &[u8; 16],
    first: &[u8],
    second: &[u8],
    msg: &[u8],
    out: &mut [u8],
) {
    match alg {
        DigestAlg::Md5 => {
            let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("any key length");
            m.update(first);
            m.update(second);
            m.update(msg);
            out[..16].copy_from_slice(&m.finalize().into_bytes());
        }
        DigestAlg::Sha1 => {
            let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
            m.update(first);
            m.update(second);
            m.update(msg);
            out[..20].copy_from_slice(&m.finalize().into_bytes());
        }
    }
}

/// Where a message's digest AVPs are: up to two, the first at [`DIGEST_OFFSET`], the second
/// straight after it. Each entry is (offset of the digest bytes, algorithm).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestSlots {
    pub slots: [Option<(usize, DigestAlg)>; 2],
}

impl DigestSlots {
    /// Finds the digest AVPs of a message whose AVP list already walked cleanly. A digest AVP
    /// anywhere else, or with a bad type or length, is not a slot (so verification fails).
    pub fn find(msg: &[u8]) -> DigestSlots {
        let mut d = DigestSlots::default();
        let mut it = AvpIter::new(msg);
        let Some(Ok(first)) = it.next() else { return d };
        if first.attr != at::MESSAGE_TYPE || first.vendor != 0 || first.offset + 8 != DIGEST_OFFSET
        {
            return d;
        }
        for i in 0..2 {
            match it.next() {
                Some(Ok(a)) if a.vendor == 0 && a.attr == at::MESSAGE_DIGEST && !a.hidden => {
                    let Some((&t, dig)) = a.value.split_first() else {
                        return d;
                    };
                    match DigestAlg::from_type(t) {
                        Some(alg) if alg.digest_len() == dig.len() => {
                            d.slots[i] = Some((a.offset + 7, alg))
                        }
                        _ => return d,
                    }
                }
                _ => return d,
            }
        }
        d
    }

    pub fn any(&self) -> bool {
        self.slots[0].is_some()
    }

    /// Zeroes the digest bytes (the Digest Type byte is kept), as the computation needs.
    pub fn zero(&self, msg: &mut [u8]) {
        for (off, alg) in self.slots.iter().flatten() {
            msg[*off..*off + alg.digest_len()].fill(0);
        }
    }
}

/// Fills the digest slots of an outgoing message: slot i gets `keys[i]` (a second key only
/// during a secret change). `first`/`second` are the nonces in sender order (ours first).
pub fn sign(msg: &mut [u8], keys: &[[u8; 16]], first: &[u8], second: &[u8]) {
    let slots = DigestSlots::find(msg);
    slots.zero(msg);
    let mut outs = [[0u8; 20]; 2];
    for (i, s) in slots.slots.iter().enumerate() {
        if let (Some((_, alg)), Some(k)) = (s, keys.get(i).or(keys.first())) {
            compute(*alg, k, first, second, msg, &mut outs[i]);
        }
    }
    for (i, s) in slots.slots.iter().enumerate() {
        if let Some((off, alg)) = s {
            msg[*off..*off + alg.digest_len()].copy_from_slice(&outs[i][..alg.digest_len()]);
        }
    }
}

/// Checks a received message: accepted if any digest AVP matches under any of `keys`.
/// `first` is the sender's nonce, `second` ours. Constant-time comparison is not needed for a
/// drop decision whose outcome the sender learns anyway, but the comparison is done in full.
pub fn verify(msg: &[u8], keys: &[[u8; 16]], first: &[u8], second: &[u8]) -> bool {
    let slots = DigestSlots::find(msg);
    if !slots.any() {
        return false;
    }
    let mut zeroed = msg.to_vec();
    slots.zero(&mut zeroed);
    let mut out = [0u8; 20];
    for (off, alg) in slots.slots.iter().flatten() {
        let got = &msg[*off..*off + alg.digest_len()];
        for k in keys {
            compute(*alg, k, first, second, &zeroed, &mut out);
            let diff = got.iter().zip(&out).fold(0u8, |a, (x, y)| a | (x ^ y));
            if diff == 0 {
                return true;
            }
        }
    }
    false
}

/// RFC 2661 §4.2 challenge response: `MD5(id ‖ secret ‖ challenge)`, `id` being the type of
/// the message carrying the response (2 in an SCCRP, 3 in an SCCCN).
pub fn challenge_response(id: u8, secret: &Secret, challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret.bytes());
    h.update(challenge);
    h.finalize().into()
}

/// Decodes a hidden AVP value (§5.3): `b1 = MD5(attr ‖ key ‖ RV)`, `bi = MD5(key ‖ c(i-1))`,
/// plaintext `orig_len(2) ‖ value ‖ pad`. `None` if the subformat is inconsistent.
pub fn unhide(attr: u16, key: &[u8], random_vector: &[u8], hidden: &[u8]) -> Option<Vec<u8>> {
    if hidden.len() < 2 {
        return None;
    }
    let mut plain = Vec::with_capacity(hidden.len());
    let mut prev: &[u8] = &[];
    for (i, chunk) in hidden.chunks(16).enumerate() {
        let mut h = Md5::new();
        if i == 0 {
            h.update(attr.to_be_bytes());
            h.update(key);
            h.update(random_vector);
        } else {
            h.update(key);
            h.update(prev);
        }
        let b: [u8; 16] = h.finalize().into();
        plain.extend(chunk.iter().zip(b).map(|(c, b)| c ^ b));
        prev = chunk;
    }
    let n = u16::from_be_bytes([plain[0], plain[1]]) as usize;
    if n + 2 > plain.len() {
        return None;
    }
    Some(plain[2..2 + n].to_vec())
}

/// Hides `value` (the inverse of [`unhide`], with no padding): used by tests and available for
/// peers that want hidden AVPs.
pub fn hide(attr: u16, key: &[u8], random_vector: &[u8], value: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(2 + value.len());
    plain.extend_from_slice(&(value.len() as u16).to_be_bytes());
    plain.extend_from_slice(value);
    let mut out: Vec<u8> = Vec::with_capacity(plain.len());
    for (i, chunk) in plain.chunks(16).enumerate() {
        let mut h = Md5::new();
        if i == 0 {
            h.update(attr.to_be_bytes());
            h.update(key);
            h.update(random_vector);
        } else {
            h.update(key);
            h.update(&out[(i - 1) * 16..i * 16]);
        }
        let b: [u8; 16] = h.finalize().into();
        out.extend(chunk.iter().zip(b).map(|(c, b)| c ^ b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{mt, MsgBuilder};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const NA: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const NB: [u8; 16] = [
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    ];

    fn digest_of(msg: &[u8]) -> String {
        let s = DigestSlots::find(msg);
        let (off, alg) = s.slots[0].unwrap();
        hex(&msg[off..off + alg.digest_len()])
    }

    /// The worked vector of the reference file (§2.3), message by message.
    #[test]
    fn worked_digest_vector() {
        let secret = Secret::new("tunnel-secret");
        let key = secret.digest_key();
        assert_eq!(hex(&key), "37ed311751a858284e7bc1405d4f4620");

        let mut b = MsgBuilder::new(mt::SCCRQ);
        b.digest_placeholder(DigestAlg::Md5)
            .avp(at::HOST_NAME, b"lcce-a")
            .avp(at::ROUTER_ID, &[192, 0, 2, 1])
            .avp_u32(at::ASSIGNED_CCID, 0xa001)
            .avp_u16(at::PW_CAPABILITIES, 5)
            .avp(at::NONCE, &NA);
        let mut sccrq = b.finish(0, 0, 0);
        sign(&mut sccrq, &[key], &[], &[]);
        assert_eq!(digest_of(&sccrq), "a6feb8dc1aab64ad211f1f10f8ad5cff");
        assert!(verify(&sccrq, &[key], &[], &[]));

        let mut b = MsgBuilder::new(mt::SCCRP);
        b.digest_placeholder(DigestAlg::Md5)
            .avp(at::HOST_NAME, b"lcce-b")
            .avp(at::ROUTER_ID, &[192, 0, 2, 2])
            .avp_u32(at::ASSIGNED_CCID, 0xb002)
            .avp_u16(at::PW_CAPABILITIES, 5)
            .avp(at::NONCE, &NB);
        let mut sccrp = b.finish(0xa001, 0, 1);
        sign(&mut sccrp, &[key], &NB, &NA);
        assert_eq!(digest_of(&sccrp), "631f391e1c702bc22b91062170256006");
        // A verifies with the sender's (B's) nonce first.
        assert!(verify(&sccrp, &[key], &NB, &NA));
        assert!(!verify(&sccrp, &[key], &NA, &NB));

        let mut b = MsgBuilder::new(mt::SCCCN);
        b.digest_placeholder(DigestAlg::Md5);
        let mut scccn = b.finish(0xb002, 1, 1);
        assert_eq!(
            hex(&scccn),
            format!(
                "c803002b0000b00200010001800800000000000380170000003b00{}",
                "00".repeat(16)
            )
        );
        sign(&mut scccn, &[key], &NA, &NB);
        assert_eq!(digest_of(&scccn), "68942d74dd162b40d8bbd63b57037f36");

        let mut b = MsgBuilder::new(mt::HELLO);
        b.digest_placeholder(DigestAlg::Sha1);
        let mut hello = b.finish(0xa001, 1, 2);
        sign(&mut hello, &[key], &NB, &NA);
        assert_eq!(
            digest_of(&hello),
            "c93895596f3fae3d6b69c3f91ea2cc24ee71eab2"
        );
        assert!(verify(&hello, &[key], &NB, &NA));
        // One flipped bit anywhere fails.
        let mut bad = hello.clone();
        bad[9] ^= 1;
        assert!(!verify(&bad, &[key], &NB, &NA));
        assert!(!verify(
            &hello,
            &[Secret::new("other").digest_key()],
            &NB,
            &NA
        ));
    }

    #[test]
    fn second_digest_accepts_either_secret() {
        let old = Secret::new("old").digest_key();
        let new = Secret::new("new").digest_key();
        let mut b = MsgBuilder::new(mt::HELLO);
        b.digest_placeholder(DigestAlg::Md5)
            .digest_placeholder(DigestAlg::Sha1);
        let mut m = b.finish(7, 1, 1);
        sign(&mut m, &[new, old], b"n1", b"n2");
        assert!(verify(&m, &[new], b"n1", b"n2"));
        assert!(verify(&m, &[old], b"n1", b"n2"));
        assert!(!verify(&m, &[Secret::new("x").digest_key()], b"n1", b"n2"));
    }

    #[test]
    fn digest_must_follow_message_type() {
        let key = Secret::new("s").digest_key();
        let mut b = MsgBuilder::new(mt::HELLO);
        b.avp(at::HOST_NAME, b"x")
            .digest_placeholder(DigestAlg::Md5);
        let mut m = b.finish(7, 1, 1);
        sign(&mut m, &[key], &[], &[]);
        assert!(!verify(&m, &[key], &[], &[]));
    }

    #[test]
    fn hidden_round_trip_and_challenge() {
        let key = Secret::new("s").hiding_key();
        let rv = [9u8; 16];
        for n in [0usize, 1, 14, 15, 16, 40] {
            let v: Vec<u8> = (0..n as u8).collect();
            let h = hide(at::HOST_NAME, &key, &rv, &v);
            assert_ne!(h[..], [&(n as u16).to_be_bytes()[..], &v[..]].concat()[..]);
            assert_eq!(unhide(at::HOST_NAME, &key, &rv, &h).unwrap(), v);
        }
        assert_eq!(unhide(at::HOST_NAME, &key, &rv, &[1]), None);
        // MD5(0x02 ‖ "secret" ‖ challenge) differs per id.
        let s = Secret::new("secret");
        assert_ne!(
            challenge_response(2, &s, b"c"),
            challenge_response(3, &s, b"c")
        );
        assert_eq!(format!("{s:?} {s}"), "Secret(set) set");
    }
}
