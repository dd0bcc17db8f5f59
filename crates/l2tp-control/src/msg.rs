//! Decoding a control message into its known AVPs, with RFC 3931's rules for what cannot be
//! understood: unknown AVPs by their M bit (§5.2), malformed values as unknown AVPs (§7.1),
//! hidden AVPs decoded with the hiding key (§5.3). Never panics on any input.

use crate::auth::{self, Secret};
use crate::wire::{at, AvpIter, Header, WireError, HDR_LEN};
use crate::Cookie;

/// Error codes of the Result Code AVP (§5.4.2).
pub mod err {
    pub const NONE: u16 = 0;
    pub const NO_CONNECTION: u16 = 1;
    pub const BAD_LENGTH: u16 = 2;
    pub const OUT_OF_RANGE: u16 = 3;
    pub const NO_RESOURCES: u16 = 4;
    pub const BAD_SESSION_ID: u16 = 5;
    pub const UNKNOWN_MANDATORY: u16 = 8;
}

/// StopCCN result codes (§5.4.2).
pub mod stop {
    pub const CLEAR: u16 = 1;
    pub const ERROR: u16 = 2;
    pub const ALREADY_EXISTS: u16 = 3;
    pub const NOT_AUTHORIZED: u16 = 4;
    pub const SHUTTING_DOWN: u16 = 6;
    pub const FSM: u16 = 7;
}

/// CDN result codes (§5.4.2, RFC 2661 for 1–11).
pub mod cdn {
    pub const CARRIER_LOSS: u16 = 1;
    pub const ERROR: u16 = 2;
    pub const ADMIN: u16 = 3;
    pub const NO_FACILITIES_TEMP: u16 = 4;
    pub const NO_FACILITIES_PERM: u16 = 5;
    pub const INVALID_DEST: u16 = 6;
    pub const LOST_TIE: u16 = 13;
    pub const UNSUPPORTED_PW: u16 = 14;
    pub const SEQ_WITHOUT_L2SS: u16 = 15;
    pub const FSM: u16 = 16;
}

/// A Result Code AVP's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultCode {
    pub result: u16,
    pub error: Option<u16>,
    pub message: String,
}

/// What made a message unacceptable: an AVP with M=1 that is unknown, hidden without a way to
/// decode it, or whose value is malformed. The receiver clears the session (session messages)
/// or the connection (§5.2, §7.1) with Result 2 and this error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    pub vendor: u16,
    pub attr: u16,
    pub error: u16,
}

/// A decoded control message. Fields are the first occurrence of each known AVP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub ccid: u32,
    pub ns: u16,
    pub nr: u16,
    /// `None` for a ZLB.
    pub mtype: Option<u16>,
    /// The Message Type AVP's M bit (an unknown type with M=1 clears the connection).
    pub mtype_mandatory: bool,
    pub result: Option<ResultCode>,
    pub tie_breaker: Option<[u8; 8]>,
    pub host_name: Option<Vec<u8>>,
    pub vendor_name: Option<Vec<u8>>,
    pub receive_window: Option<u16>,
    pub challenge: Option<Vec<u8>>,
    pub challenge_response: Option<[u8; 16]>,
    pub serial: Option<u32>,
    pub router_id: Option<u32>,
    pub assigned_ccid: Option<u32>,
    pub pw_caps: Option<Vec<u16>>,
    pub local_sid: Option<u32>,
    pub remote_sid: Option<u32>,
    pub cookie: Option<Cookie>,
    pub remote_end_id: Option<Vec<u8>>,
    pub pw_type: Option<u16>,
    pub l2ss: Option<u16>,
    pub data_seq: Option<u16>,
    pub circuit_status: Option<u16>,
    pub nonce: Option<Vec<u8>>,
    /// A Message Digest AVP is present (anywhere).
    pub has_digest: bool,
    /// The first M=1 AVP that could not be understood.
    pub problem: Option<Problem>,
    /// Unknown or malformed M=0 AVPs that were skipped.
    pub skipped: u32,
}

fn u16_of(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.try_into().ok()?))
}

fn u32_of(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

impl Message {
    /// Decodes a message (trimmed to its header's Length). `hiding` is the shared secret used to
    /// decode hidden AVPs, if the connection has one.
    pub fn parse(bytes: &[u8], hiding: Option<&Secret>) -> Result<Message, WireError> {
        let h = Header::parse(bytes)?;
        let bytes = &bytes[..h.len as usize];
        let mut m = Message {
            ccid: h.ccid,
            ns: h.ns,
            nr: h.nr,
            ..Message::default()
        };
        if bytes.len() == HDR_LEN {
            return Ok(m);
        }
        let key = hiding.filter(|s| !s.is_empty()).map(|s| s.hiding_key());
        let mut rv: Option<&[u8]> = None;
        for (i, a) in AvpIter::new(bytes).enumerate() {
            let a = a?;
            if i == 0 {
                // The Message Type AVP MUST be first (§5.4.1); without it nothing can be done.
                let t = match (a.vendor, a.attr, a.hidden, u16_of(a.value)) {
                    (0, at::MESSAGE_TYPE, false, Some(t)) => t,
                    _ => return Err(WireError::BadAvp),
                };
                m.mtype = Some(t);
                m.mtype_mandatory = a.mandatory;
                continue;
            }
            let unhidden;
            let v: &[u8] = if a.hidden {
                match (key, rv) {
                    (Some(k), Some(r)) => match auth::unhide(a.attr, &k, r, a.value) {
                        Some(p) => {
                            unhidden = p;
                            &unhidden
                        }
                        None => {
                            m.flag(a.mandatory, a.vendor, a.attr, err::BAD_LENGTH);
                            continue;
                        }
                    },
                    _ => {
                        m.flag(a.mandatory, a.vendor, a.attr, err::UNKNOWN_MANDATORY);
                        continue;
                    }
                }
            } else {
                a.value
            };
            if a.vendor != 0 {
                m.flag(a.mandatory, a.vendor, a.attr, err::UNKNOWN_MANDATORY);
                continue;
            }
            let ok = match a.attr {
                at::RESULT_CODE => {
                    m.result.is_some() || {
                        let r = u16_of(v.get(..2).unwrap_or(&[]));
                        let e = v.get(2..4).and_then(u16_of);
                        match r {
                            Some(result) if v.len() == 2 || v.len() >= 4 => {
                                m.result = Some(ResultCode {
                                    result,
                                    error: e,
                                    message: String::from_utf8_lossy(v.get(4..).unwrap_or(&[]))
                                        .into(),
                                });
                                true
                            }
                            _ => false,
                        }
                    }
                }
                at::TIE_BREAKER => set(&mut m.tie_breaker, v.try_into().ok()),
                at::HOST_NAME => !v.is_empty() && set(&mut m.host_name, Some(v.to_vec())),
                at::VENDOR_NAME => set(&mut m.vendor_name, Some(v.to_vec())),
                at::RECEIVE_WINDOW => set(&mut m.receive_window, u16_of(v).filter(|&w| w > 0)),
                at::CHALLENGE => !v.is_empty() && set(&mut m.challenge, Some(v.to_vec())),
                at::CHALLENGE_RESPONSE => set(&mut m.challenge_response, v.try_into().ok()),
                at::SERIAL_NUMBER => set(&mut m.serial, u32_of(v)),
                at::ROUTER_ID => set(&mut m.router_id, u32_of(v)),
                at::ASSIGNED_CCID => set(&mut m.assigned_ccid, u32_of(v).filter(|&c| c != 0)),
                at::PW_CAPABILITIES => {
                    v.len() & 1 == 0
                        && set(
                            &mut m.pw_caps,
                            Some(
                                v.chunks(2)
                                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                                    .collect(),
                            ),
                        )
                }
                at::LOCAL_SESSION_ID => set(&mut m.local_sid, u32_of(v)),
                at::REMOTE_SESSION_ID => set(&mut m.remote_sid, u32_of(v)),
                at::ASSIGNED_COOKIE => set(&mut m.cookie, Cookie::from_bytes(v)),
                at::REMOTE_END_ID => !v.is_empty() && set(&mut m.remote_end_id, Some(v.to_vec())),
                at::PW_TYPE => set(&mut m.pw_type, u16_of(v)),
                at::L2_SUBLAYER => set(&mut m.l2ss, u16_of(v)),
                at::DATA_SEQUENCING => set(&mut m.data_seq, u16_of(v).filter(|&s| s <= 2)),
                at::CIRCUIT_STATUS => set(&mut m.circuit_status, u16_of(v)),
                at::NONCE => !v.is_empty() && set(&mut m.nonce, Some(v.to_vec())),
                at::MESSAGE_DIGEST => {
                    m.has_digest = true;
                    true
                }
                at::RANDOM_VECTOR => {
                    rv = Some(a.value);
                    !a.hidden
                }
                at::TX_CONNECT_SPEED | at::RX_CONNECT_SPEED => v.len() == 8,
                at::PHYSICAL_CHANNEL => v.len() == 4,
                at::CIRCUIT_ERRORS | at::PREFERRED_LANGUAGE => true,
                _ => {
                    m.flag(a.mandatory, a.vendor, a.attr, err::UNKNOWN_MANDATORY);
                    continue;
                }
            };
            if !ok {
                m.flag(a.mandatory, a.vendor, a.attr, err::BAD_LENGTH);
            }
        }
        Ok(m)
    }

    fn flag(&mut self, mandatory: bool, vendor: u16, attr: u16, error: u16) {
        if mandatory {
            if self.problem.is_none() {
                self.problem = Some(Problem {
                    vendor,
                    attr,
                    error,
                });
            }
        } else {
            self.skipped += 1;
        }
    }

    /// The first AVP this message type MUST carry (§6) that is missing, by name.
    pub fn missing(&self) -> Option<&'static str> {
        use crate::wire::mt;
        let need: &[(bool, &str)] = match self.mtype? {
            mt::SCCRQ | mt::SCCRP => &[
                (self.host_name.is_some(), "Host Name"),
                (self.router_id.is_some(), "Router ID"),
                (
                    self.assigned_ccid.is_some(),
                    "Assigned Control Connection ID",
                ),
                (self.pw_caps.is_some(), "Pseudowire Capabilities List"),
            ],
            mt::STOPCCN => &[(self.result.is_some(), "Result Code")],
            mt::ICRQ => &[
                (self.local_sid.is_some(), "Local Session ID"),
                (self.remote_sid.is_some(), "Remote Session ID"),
                (self.serial.is_some(), "Serial Number"),
                (self.pw_type.is_some(), "Pseudowire Type"),
                (self.remote_end_id.is_some(), "Remote End ID"),
                (self.circuit_status.is_some(), "Circuit Status"),
            ],
            mt::ICRP => &[
                (self.local_sid.is_some(), "Local Session ID"),
                (self.remote_sid.is_some(), "Remote Session ID"),
                (self.circuit_status.is_some(), "Circuit Status"),
            ],
            mt::ICCN | mt::SLI | mt::WEN => &[
                (self.local_sid.is_some(), "Local Session ID"),
                (self.remote_sid.is_some(), "Remote Session ID"),
            ],
            mt::CDN => &[
                (self.result.is_some(), "Result Code"),
                (self.local_sid.is_some(), "Local Session ID"),
                (self.remote_sid.is_some(), "Remote Session ID"),
            ],
            _ => &[],
        };
        need.iter().find(|(ok, _)| !ok).map(|(_, n)| *n)
    }
}

/// Stores the first occurrence; `false` when the value is malformed.
fn set<T>(slot: &mut Option<T>, v: Option<T>) -> bool {
    match v {
        Some(v) => {
            if slot.is_none() {
                *slot = Some(v);
            }
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{mt, MsgBuilder};

    #[test]
    fn m_bit_rules() {
        let mut b = MsgBuilder::new(mt::HELLO);
        b.avp_flags(false, 0, 999, &[1, 2, 3]) // unknown, M=0: skipped whole
            .avp_flags(false, 9, 12, &[0; 17]) // Cisco vendor AVP, M=0: skipped
            .avp_flags(false, 0, at::RX_CONNECT_SPEED, &[0; 4]) // malformed, M=0 (§7.1)
            .avp(at::HOST_NAME, b"h");
        let m = Message::parse(&b.finish(1, 0, 0), None).unwrap();
        assert_eq!(m.skipped, 3);
        assert_eq!(m.problem, None);
        assert_eq!(m.host_name.as_deref(), Some(&b"h"[..]));

        let mut b = MsgBuilder::new(mt::HELLO);
        b.avp_flags(true, 0, 999, &[1]);
        let m = Message::parse(&b.finish(1, 0, 0), None).unwrap();
        assert_eq!(m.problem.unwrap().error, err::UNKNOWN_MANDATORY);

        let mut b = MsgBuilder::new(mt::ICRQ);
        b.avp(at::ASSIGNED_COOKIE, &[1, 2, 3]); // cookie of 3 bytes, M=1
        let m = Message::parse(&b.finish(1, 0, 0), None).unwrap();
        assert_eq!(m.problem.unwrap().error, err::BAD_LENGTH);
        assert_eq!(m.missing(), Some("Local Session ID"));
    }

    #[test]
    fn message_type_first_or_discard() {
        let mut b = MsgBuilder::new(mt::HELLO);
        b.avp(at::HOST_NAME, b"h");
        let mut m = b.finish(1, 0, 0);
        // Swap so that Host Name comes first.
        let (mtype, host) = (m[12..20].to_vec(), m[20..].to_vec());
        m.truncate(12);
        m.extend_from_slice(&host);
        m.extend_from_slice(&mtype);
        assert_eq!(Message::parse(&m, None), Err(WireError::BadAvp));
    }

    #[test]
    fn hidden_avp_decoded_with_secret_only() {
        let s = Secret::new("hide-me");
        let rv = [7u8; 16];
        let hidden = auth::hide(at::HOST_NAME, &s.hiding_key(), &rv, b"secret-host");
        let mut b = MsgBuilder::new(mt::SCCRQ);
        b.avp(at::RANDOM_VECTOR, &rv);
        let mut msg = b.finish(0, 0, 0);
        let len = (6 + hidden.len()) as u16 | 0xC000;
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(&[0, 0, 0, at::HOST_NAME as u8]);
        msg.extend_from_slice(&hidden);
        let n = msg.len() as u16;
        msg[2..4].copy_from_slice(&n.to_be_bytes());
        let m = Message::parse(&msg, Some(&s)).unwrap();
        assert_eq!(m.host_name.as_deref(), Some(&b"secret-host"[..]));
        let m = Message::parse(&msg, None).unwrap();
        assert_eq!(m.host_name, None);
        assert_eq!(m.problem.unwrap().attr, at::HOST_NAME);
    }
}
