//! The control-message wire format (RFC 3931 §3.2.1, §5.1): the 12-byte control header, the
//! AVP walk and a builder. Pure byte handling; no protocol decisions are made here.
//!
//! Every message handled by this crate starts at the control header's first byte (the T bit):
//! over IP that is after the 4-byte zero Session ID, over UDP right after the UDP header.

/// Length of the control header (flags, length, CCID, Ns, Nr). A message of exactly this length
/// is a ZLB.
pub const HDR_LEN: usize = 12;
/// T, L and S set, version 3.
pub const FLAGS: u16 = 0xC803;
/// An AVP's length field is 10 bits.
pub const AVP_MAX_LEN: usize = 1023;
/// Offset of the first Message Digest AVP: right after the 8-byte Message Type AVP (§4.3).
pub const DIGEST_OFFSET: usize = HDR_LEN + 8;

/// Message types (§3.1).
pub mod mt {
    pub const SCCRQ: u16 = 1;
    pub const SCCRP: u16 = 2;
    pub const SCCCN: u16 = 3;
    pub const STOPCCN: u16 = 4;
    pub const HELLO: u16 = 6;
    pub const OCRQ: u16 = 7;
    pub const OCRP: u16 = 8;
    pub const OCCN: u16 = 9;
    pub const ICRQ: u16 = 10;
    pub const ICRP: u16 = 11;
    pub const ICCN: u16 = 12;
    pub const CDN: u16 = 14;
    pub const WEN: u16 = 15;
    pub const SLI: u16 = 16;
    pub const ACK: u16 = 20;
    /// Counter index used for a ZLB (a message without a Message Type).
    pub const ZLB: u16 = 0;

    /// The message's name as RFC 3931 writes it.
    pub fn name(t: u16) -> &'static str {
        match t {
            ZLB => "ZLB",
            SCCRQ => "SCCRQ",
            SCCRP => "SCCRP",
            SCCCN => "SCCCN",
            STOPCCN => "StopCCN",
            HELLO => "HELLO",
            OCRQ => "OCRQ",
            OCRP => "OCRP",
            OCCN => "OCCN",
            ICRQ => "ICRQ",
            ICRP => "ICRP",
            ICCN => "ICCN",
            CDN => "CDN",
            WEN => "WEN",
            SLI => "SLI",
            ACK => "ACK",
            _ => "unknown",
        }
    }

    /// Whether a message type belongs to a session (its errors clear the session, not the
    /// control connection: §5.2).
    pub fn is_session(t: u16) -> bool {
        matches!(t, OCRQ..=ICCN | CDN | WEN | SLI)
    }
}

/// IETF attribute types (§5.4) this crate knows.
pub mod at {
    pub const MESSAGE_TYPE: u16 = 0;
    pub const RESULT_CODE: u16 = 1;
    /// Control Connection Tie Breaker and Session Tie Breaker share type 5.
    pub const TIE_BREAKER: u16 = 5;
    pub const HOST_NAME: u16 = 7;
    pub const VENDOR_NAME: u16 = 8;
    pub const RECEIVE_WINDOW: u16 = 10;
    pub const CHALLENGE: u16 = 11;
    pub const CHALLENGE_RESPONSE: u16 = 13;
    pub const SERIAL_NUMBER: u16 = 15;
    pub const PHYSICAL_CHANNEL: u16 = 25;
    pub const CIRCUIT_ERRORS: u16 = 34;
    pub const RANDOM_VECTOR: u16 = 36;
    pub const MESSAGE_DIGEST: u16 = 59;
    pub const ROUTER_ID: u16 = 60;
    pub const ASSIGNED_CCID: u16 = 61;
    pub const PW_CAPABILITIES: u16 = 62;
    pub const LOCAL_SESSION_ID: u16 = 63;
    pub const REMOTE_SESSION_ID: u16 = 64;
    pub const ASSIGNED_COOKIE: u16 = 65;
    pub const REMOTE_END_ID: u16 = 66;
    pub const PW_TYPE: u16 = 68;
    pub const L2_SUBLAYER: u16 = 69;
    pub const DATA_SEQUENCING: u16 = 70;
    pub const CIRCUIT_STATUS: u16 = 71;
    pub const PREFERRED_LANGUAGE: u16 = 72;
    pub const NONCE: u16 = 73;
    pub const TX_CONNECT_SPEED: u16 = 74;
    pub const RX_CONNECT_SPEED: u16 = 75;
}

/// Why a header or AVP list could not be read. Such a message is discarded (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than a control header, or than its Length field says.
    Truncated,
    /// T, L or S clear, or not version 3.
    BadFlags,
    /// Length field below 12.
    BadLength,
    /// An AVP shorter than 6 bytes or running past the message.
    BadAvp,
}

/// The control header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message length from the T bit on.
    pub len: u16,
    /// The recipient's Control Connection ID.
    pub ccid: u32,
    pub ns: u16,
    pub nr: u16,
}

impl Header {
    /// Reads and checks a control header. The flag bits other than T/L/S/Ver are ignored on
    /// receive as §3.2.1 says.
    pub fn parse(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HDR_LEN {
            return Err(WireError::Truncated);
        }
        let flags = u16::from_be_bytes([b[0], b[1]]);
        if flags & 0xC800 != 0xC800 || flags & 0x000F != 3 {
            return Err(WireError::BadFlags);
        }
        let len = u16::from_be_bytes([b[2], b[3]]);
        if (len as usize) < HDR_LEN {
            return Err(WireError::BadLength);
        }
        if (len as usize) > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Header {
            len,
            ccid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ns: u16::from_be_bytes([b[8], b[9]]),
            nr: u16::from_be_bytes([b[10], b[11]]),
        })
    }
}

/// One AVP as it sits in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    pub mandatory: bool,
    pub hidden: bool,
    pub vendor: u16,
    pub attr: u16,
    pub value: &'a [u8],
    /// Offset of the AVP's first byte in the message.
    pub offset: usize,
}

/// Walks the AVPs of a message (`msg` is the whole message, header included, already trimmed
/// to its Length). Yields `Err(BadAvp)` once and stops at the first malformed AVP header.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    msg: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> AvpIter<'a> {
    pub fn new(msg: &'a [u8]) -> Self {
        AvpIter {
            msg,
            at: HDR_LEN.min(msg.len()),
            done: false,
        }
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<RawAvp<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.msg.len() {
            return None;
        }
        let rest = &self.msg[self.at..];
        if rest.len() < 6 {
            self.done = true;
            return Some(Err(WireError::BadAvp));
        }
        let w = u16::from_be_bytes([rest[0], rest[1]]);
        let len = (w & 0x03FF) as usize;
        if len < 6 || len > rest.len() {
            self.done = true;
            return Some(Err(WireError::BadAvp));
        }
        let avp = RawAvp {
            mandatory: w & 0x8000 != 0,
            hidden: w & 0x4000 != 0,
            vendor: u16::from_be_bytes([rest[2], rest[3]]),
            attr: u16::from_be_bytes([rest[4], rest[5]]),
            value: &rest[6..len],
            offset: self.at,
        };
        self.at += len;
        Some(Ok(avp))
    }
}

/// Builds one control message: header, then AVPs in the order they are added. The CCID, Ns and
/// Nr are written by [`MsgBuilder::finish`]; the reliable-delivery layer rewrites Nr (and the
/// digest) on every transmission.
#[derive(Debug, Clone)]
pub struct MsgBuilder {
    buf: Vec<u8>,
}

impl MsgBuilder {
    /// A message of type `t` (the Message Type AVP is always first, with M=1).
    pub fn new(t: u16) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0; HDR_LEN]);
        let mut b = MsgBuilder { buf };
        b.avp(at::MESSAGE_TYPE, &t.to_be_bytes());
        b
    }

    /// Adds an IETF AVP with M=1. Values longer than an AVP can hold are cut (callers only pass
    /// bounded values: host names are limited when configured).
    pub fn avp(&mut self, attr: u16, value: &[u8]) -> &mut Self {
        self.avp_flags(true, 0, attr, value)
    }

    /// Adds an AVP with the given M bit and vendor.
    pub fn avp_flags(&mut self, m: bool, vendor: u16, attr: u16, value: &[u8]) -> &mut Self {
        let value = &value[..value.len().min(AVP_MAX_LEN - 6)];
        let len = (6 + value.len()) as u16;
        let w = if m { 0x8000 } else { 0 } | len;
        self.buf.extend_from_slice(&w.to_be_bytes());
        self.buf.extend_from_slice(&vendor.to_be_bytes());
        self.buf.extend_from_slice(&attr.to_be_bytes());
        self.buf.extend_from_slice(value);
        self
    }

    pub fn avp_u16(&mut self, attr: u16, v: u16) -> &mut Self {
        self.avp(attr, &v.to_be_bytes())
    }

    pub fn avp_u32(&mut self, attr: u16, v: u32) -> &mut Self {
        self.avp(attr, &v.to_be_bytes())
    }

    /// A placeholder Message Digest AVP of the given algorithm (its value is computed when the
    /// message is sent). Must come straight after the Message Type AVP.
    pub fn digest_placeholder(&mut self, alg: crate::auth::DigestAlg) -> &mut Self {
        let mut v = [0u8; 21];
        v[0] = alg.type_byte();
        self.avp(at::MESSAGE_DIGEST, &v[..1 + alg.digest_len()])
    }

    /// A Result Code AVP: result, error and an optional message (§5.4.2).
    pub fn result_code(&mut self, result: u16, error: u16, text: &str) -> &mut Self {
        let mut v = Vec::with_capacity(4 + text.len());
        v.extend_from_slice(&result.to_be_bytes());
        v.extend_from_slice(&error.to_be_bytes());
        v.extend_from_slice(text.as_bytes());
        self.avp(at::RESULT_CODE, &v)
    }

    /// Writes the header and returns the message.
    pub fn finish(mut self, ccid: u32, ns: u16, nr: u16) -> Vec<u8> {
        let len = self.buf.len().min(u16::MAX as usize) as u16;
        self.buf.truncate(len as usize);
        write_header(&mut self.buf, len, ccid, ns, nr);
        self.buf
    }
}

/// Writes a control header into the first 12 bytes of `b`.
pub fn write_header(b: &mut [u8], len: u16, ccid: u32, ns: u16, nr: u16) {
    b[0..2].copy_from_slice(&FLAGS.to_be_bytes());
    b[2..4].copy_from_slice(&len.to_be_bytes());
    b[4..8].copy_from_slice(&ccid.to_be_bytes());
    b[8..10].copy_from_slice(&ns.to_be_bytes());
    b[10..12].copy_from_slice(&nr.to_be_bytes());
}

/// A ZLB: a bare header acknowledging up to `nr` (only sent without authentication, §6.15).
pub fn zlb(ccid: u32, ns: u16, nr: u16) -> Vec<u8> {
    let mut b = vec![0u8; HDR_LEN];
    write_header(&mut b, HDR_LEN as u16, ccid, ns, nr);
    b
}

/// Sets the Nr field of a message.
pub fn set_nr(b: &mut [u8], nr: u16) {
    b[10..12].copy_from_slice(&nr.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_walk_round_trip() {
        let mut b = MsgBuilder::new(mt::SCCRQ);
        b.avp(at::HOST_NAME, b"lcce-a")
            .avp_u32(at::ASSIGNED_CCID, 0xa001)
            .avp_flags(false, 9, 99, &[1, 2, 3]);
        let m = b.finish(0, 0, 0);
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.len as usize, m.len());
        let avps: Vec<_> = AvpIter::new(&m).map(|a| a.unwrap()).collect();
        assert_eq!(avps.len(), 4);
        assert_eq!(avps[0].attr, at::MESSAGE_TYPE);
        assert_eq!(avps[0].value, &[0, 1]);
        assert_eq!(avps[1].value, b"lcce-a");
        assert!(!avps[3].mandatory);
        assert_eq!(avps[3].vendor, 9);
        assert_eq!(avps[3].value, &[1, 2, 3]);
    }

    #[test]
    fn bad_headers_and_avps_are_errors() {
        assert_eq!(Header::parse(&[0xc8, 3]), Err(WireError::Truncated));
        let mut z = zlb(1, 2, 3);
        assert!(Header::parse(&z).is_ok());
        z[1] = 2; // version 2
        assert_eq!(Header::parse(&z), Err(WireError::BadFlags));
        let mut z = zlb(1, 2, 3);
        z[3] = 11;
        assert_eq!(Header::parse(&z), Err(WireError::BadLength));
        z[3] = 13;
        assert_eq!(Header::parse(&z), Err(WireError::Truncated));
        // An AVP claiming 5 bytes stops the walk with one error.
        let mut m = MsgBuilder::new(mt::HELLO).finish(1, 0, 0);
        m.extend_from_slice(&[0x80, 5, 0, 0, 0, 0]);
        let r: Vec<_> = AvpIter::new(&m).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Err(WireError::BadAvp));
    }
}
