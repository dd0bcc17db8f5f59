//! pwire-pcap: classic libpcap capture files, read and written.
//!
//! The writer produces what `pcap trace` and the test harness need: microsecond timestamps,
//! version 2.4, little-endian, Ethernet or raw-IP link type. The reader takes what other tools
//! produce: either byte order, microsecond or nanosecond timestamps. It works over bytes in
//! memory, checks every length against what is there and reports typed errors; it never panics
//! on garbage.
//!
//! File format: <https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html>.
//!
//! ```text
//! file header (24 bytes)                      record header (16 bytes), then incl_len bytes
//! +--------------------------------------+    +--------------------------------------+
//! | magic 0xa1b2c3d4 (0xa1b23c4d for ns) |    | timestamp seconds                    |
//! | major 2 (16) | minor 4 (16)          |    | timestamp µs (or ns)                 |
//! | thiszone (reserved, 0)               |    | captured length (incl_len)           |
//! | sigfigs (reserved, 0)                |    | original length on the wire          |
//! | snaplen                              |    +--------------------------------------+
//! | link type                            |
//! +--------------------------------------+
//! ```

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// Link type for Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type for raw IPv4 / IPv6 packets without a link-layer header.
pub const LINKTYPE_RAW: u32 = 101;

/// Magic number of a microsecond-resolution file.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a nanosecond-resolution file.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Default snapshot length: larger than any frame pwire handles.
pub const DEFAULT_SNAPLEN: u32 = 65536;

/// Length of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// A capture timestamp: seconds since the Unix epoch plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds.
    pub sec: u32,
    /// Nanoseconds within the second.
    pub nsec: u32,
}

impl Timestamp {
    /// From seconds and microseconds.
    pub const fn from_micros(sec: u32, usec: u32) -> Self {
        Timestamp {
            sec,
            nsec: usec.saturating_mul(1000),
        }
    }

    /// Microseconds within the second (what a microsecond file stores).
    pub const fn usec(self) -> u32 {
        self.nsec / 1000
    }
}

impl From<Duration> for Timestamp {
    /// Seconds past `u32::MAX` (year 2106) saturate.
    fn from(d: Duration) -> Self {
        Timestamp {
            sec: u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
            nsec: d.subsec_nanos(),
        }
    }
}

impl From<Timestamp> for Duration {
    fn from(t: Timestamp) -> Self {
        Duration::new(u64::from(t.sec), 0) + Duration::from_nanos(u64::from(t.nsec))
    }
}

/// Writes a classic pcap file: little-endian, version 2.4, microsecond timestamps.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header with [`DEFAULT_SNAPLEN`].
    pub fn new(out: W, linktype: u32) -> io::Result<Self> {
        Self::with_snaplen(out, linktype, DEFAULT_SNAPLEN)
    }

    /// Writes the file header; packets longer than `snaplen` are cut to it.
    pub fn with_snaplen(mut out: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, snaplen })
    }

    /// The snapshot length in the header.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Appends one packet. `data` beyond the snapshot length is dropped; `orig_len` is the
    /// length on the wire and is raised to `data.len()` if smaller, so the file stays valid.
    pub fn write_packet(
        &mut self,
        ts_sec: u32,
        ts_usec: u32,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let incl = len.min(self.snaplen);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        h[4..8].copy_from_slice(&ts_usec.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(len).to_le_bytes());
        self.out.write_all(&h)?;
        // incl <= data.len(), so this slice is in range.
        self.out.write_all(&data[..incl as usize])
    }

    /// Appends one packet with a [`Timestamp`] (rounded down to microseconds).
    pub fn write_record(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> io::Result<()> {
        self.write_packet(ts.sec, ts.usec(), orig_len, data)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Returns the underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Writes a whole capture file to `path`.
pub fn write_file<'a, P, I>(path: P, linktype: u32, packets: I) -> io::Result<()>
where
    P: AsRef<Path>,
    I: IntoIterator<Item = (Timestamp, u32, &'a [u8])>,
{
    let mut w = PcapWriter::new(BufWriter::new(File::create(path)?), linktype)?;
    for (ts, orig_len, data) in packets {
        w.write_record(ts, orig_len, data)?;
    }
    w.flush()
}

/// Why a capture could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum PcapError {
    /// Reading the file failed.
    Io(io::Error),
    /// Shorter than the 24-byte file header.
    TruncatedHeader {
        /// Bytes present.
        len: usize,
    },
    /// The first four bytes are no pcap magic number (pcapng files land here too).
    BadMagic([u8; 4]),
    /// A major version other than 2.
    UnsupportedVersion {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// A record runs past the end of the file.
    TruncatedRecord {
        /// File offset of the record header.
        offset: usize,
        /// Bytes the record needs from `offset`, header included.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io(e) => write!(f, "pcap i/o error: {e}"),
            PcapError::TruncatedHeader { len } => {
                write!(f, "pcap file header truncated: {len} of 24 bytes")
            }
            PcapError::BadMagic(m) => write!(
                f,
                "not a pcap file: magic {:02x}{:02x}{:02x}{:02x}",
                m[0], m[1], m[2], m[3]
            ),
            PcapError::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported pcap version {major}.{minor}")
            }
            PcapError::TruncatedRecord {
                offset,
                needed,
                available,
            } => write!(
                f,
                "pcap record at offset {offset} truncated: needs {needed} bytes, {available} left"
            ),
        }
    }
}

impl std::error::Error for PcapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for PcapError {
    fn from(e: io::Error) -> Self {
        PcapError::Io(e)
    }
}

/// Byte order of a file's header and record fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little-endian (magic bytes d4 c3 b2 a1 or 4d 3c b2 a1).
    Little,
    /// Big-endian (magic bytes a1 b2 c3 d4 or a1 b2 3c 4d).
    Big,
}

impl ByteOrder {
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }

    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }
}

/// The decoded file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileHeader {
    /// Byte order of the file.
    pub byte_order: ByteOrder,
    /// True if record timestamps hold nanoseconds rather than microseconds.
    pub nanos: bool,
    /// Major version (always 2).
    pub version_major: u16,
    /// Minor version (normally 4).
    pub version_minor: u16,
    /// Snapshot length the capture was taken with.
    pub snaplen: u32,
    /// Link type field (`LINKTYPE_*`), as stored.
    pub linktype: u32,
}

/// One captured packet, borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Length on the wire (may exceed `data.len()` when the capture was cut at snaplen).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Reads a classic pcap file held in memory.
#[derive(Debug, Clone)]
pub struct PcapReader<'a> {
    bytes: Cow<'a, [u8]>,
    header: FileHeader,
}

fn arr4(b: &[u8], at: usize) -> [u8; 4] {
    // Callers have checked `at + 4 <= b.len()`.
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

impl<'a> PcapReader<'a> {
    /// Reads the file header of a capture in `bytes`.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, PcapError> {
        Self::from_cow(Cow::Borrowed(bytes))
    }

    fn from_cow(bytes: Cow<'a, [u8]>) -> Result<Self, PcapError> {
        let b: &[u8] = &bytes;
        if b.len() < FILE_HEADER_LEN {
            return Err(PcapError::TruncatedHeader { len: b.len() });
        }
        let magic = arr4(b, 0);
        let (byte_order, nanos) = match u32::from_le_bytes(magic) {
            MAGIC_MICROS => (ByteOrder::Little, false),
            MAGIC_NANOS => (ByteOrder::Little, true),
            _ => match u32::from_be_bytes(magic) {
                MAGIC_MICROS => (ByteOrder::Big, false),
                MAGIC_NANOS => (ByteOrder::Big, true),
                _ => return Err(PcapError::BadMagic(magic)),
            },
        };
        let version_major = byte_order.u16([b[4], b[5]]);
        let version_minor = byte_order.u16([b[6], b[7]]);
        if version_major != 2 {
            return Err(PcapError::UnsupportedVersion {
                major: version_major,
                minor: version_minor,
            });
        }
        let header = FileHeader {
            byte_order,
            nanos,
            version_major,
            version_minor,
            snaplen: byte_order.u32(arr4(b, 16)),
            linktype: byte_order.u32(arr4(b, 20)),
        };
        Ok(PcapReader { bytes, header })
    }
}

impl PcapReader<'static> {
    /// Takes ownership of a capture already in memory.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, PcapError> {
        Self::from_cow(Cow::Owned(bytes))
    }

    /// Reads a whole capture file into memory.
    pub fn open<P: AsRef<Path>>(path: P) -> Result<Self, PcapError> {
        Self::from_vec(std::fs::read(path)?)
    }
}

impl PcapReader<'_> {
    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The link type (`LINKTYPE_*`).
    pub fn linktype(&self) -> u32 {
        self.header.linktype
    }

    /// The records, in file order. Stops after the first error.
    pub fn records(&self) -> Records<'_> {
        Records {
            bytes: &self.bytes,
            header: self.header,
            offset: FILE_HEADER_LEN,
        }
    }
}

/// Iterator over a capture's records; see [`PcapReader::records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    bytes: &'a [u8],
    header: FileHeader,
    offset: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.offset;
        let rest = self.bytes.get(at..).filter(|r| !r.is_empty())?;
        let truncated = |needed: usize| PcapError::TruncatedRecord {
            offset: at,
            needed,
            available: rest.len(),
        };
        let Some(h) = rest.get(..RECORD_HEADER_LEN) else {
            self.offset = self.bytes.len();
            return Some(Err(truncated(RECORD_HEADER_LEN)));
        };
        let bo = self.header.byte_order;
        let sec = bo.u32(arr4(h, 0));
        let frac = bo.u32(arr4(h, 4));
        let incl = usize::try_from(bo.u32(arr4(h, 8))).unwrap_or(usize::MAX);
        let orig_len = bo.u32(arr4(h, 12));
        let needed = RECORD_HEADER_LEN.saturating_add(incl);
        let Some(data) = rest.get(RECORD_HEADER_LEN..needed) else {
            self.offset = self.bytes.len();
            return Some(Err(truncated(needed)));
        };
        self.offset = at + needed;
        let ts = if self.header.nanos {
            Timestamp { sec, nsec: frac }
        } else {
            Timestamp::from_micros(sec, frac)
        };
        Some(Ok(Record { ts, orig_len, data }))
    }
}

impl std::iter::FusedIterator for Records<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn snabb(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/snabb-l2vpn")
            .join(name)
    }

    fn write_mem(linktype: u32, packets: &[(Timestamp, u32, Vec<u8>)]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), linktype).unwrap();
        for (ts, orig, data) in packets {
            w.write_record(*ts, *orig, data).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn header_bytes() {
        let b = write_mem(LINKTYPE_ETHERNET, &[]);
        assert_eq!(
            b,
            [
                0xd4, 0xc3, 0xb2, 0xa1, // magic, little-endian
                0x02, 0x00, 0x04, 0x00, // version 2.4
                0x00, 0x00, 0x00, 0x00, // thiszone
                0x00, 0x00, 0x00, 0x00, // sigfigs
                0x00, 0x00, 0x01, 0x00, // snaplen 65536
                0x01, 0x00, 0x00, 0x00, // link type Ethernet
            ]
        );
        let r = PcapReader::from_slice(&b).unwrap();
        assert_eq!(r.records().count(), 0);
    }

    #[test]
    fn record_bytes_and_snaplen() {
        let mut w = PcapWriter::with_snaplen(Vec::new(), LINKTYPE_RAW, 4).unwrap();
        w.write_packet(0x0102_0304, 999_999, 0, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee])
            .unwrap();
        let b = w.into_inner();
        assert_eq!(&b[16..24], &[4, 0, 0, 0, 101, 0, 0, 0]); // snaplen 4, raw IP
        assert_eq!(
            &b[24..],
            &[
                0x04, 0x03, 0x02, 0x01, // seconds
                0x3f, 0x42, 0x0f, 0x00, // 999999 µs
                0x04, 0x00, 0x00, 0x00, // captured 4 (cut at snaplen)
                0x05, 0x00, 0x00, 0x00, // original 5 (raised from 0)
                0xaa, 0xbb, 0xcc, 0xdd, // data
            ]
        );
        let r = PcapReader::from_slice(&b).unwrap();
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(rec.ts, Timestamp::from_micros(0x0102_0304, 999_999));
        assert_eq!((rec.orig_len, rec.data), (5, &[0xaa, 0xbb, 0xcc, 0xdd][..]));
    }

    #[test]
    fn round_trip_file() {
        let dir = std::env::temp_dir().join(format!("pwire-pcap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rt.pcap");
        let pkts: Vec<(Timestamp, u32, Vec<u8>)> = (0..10u8)
            .map(|i| {
                let data = vec![i; 60 + usize::from(i)];
                (
                    Timestamp::from_micros(1_700_000_000 + u32::from(i), u32::from(i) * 7),
                    data.len() as u32 + 4,
                    data,
                )
            })
            .collect();
        write_file(
            &path,
            LINKTYPE_ETHERNET,
            pkts.iter().map(|(t, o, d)| (*t, *o, d.as_slice())),
        )
        .unwrap();
        let r = PcapReader::open(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(r.linktype(), LINKTYPE_ETHERNET);
        assert_eq!(r.header().snaplen, DEFAULT_SNAPLEN);
        let got: Vec<_> = r.records().map(Result::unwrap).collect();
        assert_eq!(got.len(), pkts.len());
        for (g, (t, o, d)) in got.iter().zip(&pkts) {
            assert_eq!((g.ts, g.orig_len, g.data), (*t, *o, d.as_slice()));
        }
    }

    #[test]
    fn snabb_captures() {
        for (name, len) in [
            ("ac.cap.input", 15824),
            ("l2tpv3-ac.cap.expect", 15824),
            ("l2tpv3-uplink.cap.input", 22424),
            ("l2tpv3-uplink.cap.expect", 22424),
        ] {
            let path = snabb(name);
            let r = PcapReader::open(&path).unwrap_or_else(|e| {
                panic!(
                    "golden capture {} unreadable ({e}); it ships in shared/testdata/snabb-l2vpn/",
                    path.display()
                )
            });
            let h = r.header();
            assert_eq!(h.byte_order, ByteOrder::Little, "{name}");
            assert!(!h.nanos);
            assert_eq!((h.version_major, h.version_minor), (2, 4));
            assert_eq!(h.snaplen, 65535);
            assert_eq!(r.linktype(), LINKTYPE_ETHERNET);
            let recs: Vec<_> = r.records().collect::<Result<_, _>>().unwrap();
            assert_eq!(recs.len(), 100, "{name}");
            // Every byte accounted for: header + records.
            let total: usize = recs.iter().map(|r| 16 + r.data.len()).sum();
            assert_eq!(24 + total, len, "{name}");
            assert!(recs.iter().all(|r| r.orig_len as usize == r.data.len()));
            // Re-writing reproduces the records (the header differs only in snaplen).
            let rewritten = write_mem(
                LINKTYPE_ETHERNET,
                &recs
                    .iter()
                    .map(|r| (r.ts, r.orig_len, r.data.to_vec()))
                    .collect::<Vec<_>>(),
            );
            let orig = std::fs::read(&path).unwrap();
            assert_eq!(rewritten[24..], orig[24..], "{name}");
        }
        // Encapsulation adds 14 + 40 + 12 bytes per frame: 66 × 100 = 22424 - 15824.
        let ac = PcapReader::open(snabb("ac.cap.input")).unwrap();
        let up = PcapReader::open(snabb("l2tpv3-uplink.cap.expect")).unwrap();
        for (a, u) in ac.records().zip(up.records()) {
            assert_eq!(u.unwrap().data.len(), a.unwrap().data.len() + 66);
        }
    }

    /// The same capture in all four header variants.
    fn variant(big: bool, nanos: bool) -> Vec<u8> {
        let magic = if nanos { MAGIC_NANOS } else { MAGIC_MICROS };
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut b = Vec::new();
        b.extend(u32b(magic));
        b.extend(u16b(2));
        b.extend(u16b(4));
        b.extend([0; 8]);
        b.extend(u32b(1500));
        b.extend(u32b(LINKTYPE_RAW));
        b.extend(u32b(10)); // seconds
        b.extend(u32b(123_456)); // µs or ns
        b.extend(u32b(3)); // captured
        b.extend(u32b(40)); // original
        b.extend([0x60, 0x00, 0x00]);
        b
    }

    #[test]
    fn byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let b = variant(big, nanos);
                let r = PcapReader::from_slice(&b).unwrap();
                let h = r.header();
                let want_bo = if big {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                };
                assert_eq!((h.byte_order, h.nanos), (want_bo, nanos));
                assert_eq!((h.snaplen, r.linktype()), (1500, LINKTYPE_RAW));
                let recs: Vec<_> = r.records().map(Result::unwrap).collect();
                assert_eq!(recs.len(), 1);
                let want_ts = if nanos {
                    Timestamp {
                        sec: 10,
                        nsec: 123_456,
                    }
                } else {
                    Timestamp {
                        sec: 10,
                        nsec: 123_456_000,
                    }
                };
                assert_eq!(recs[0].ts, want_ts, "big={big} nanos={nanos}");
                assert_eq!((recs[0].orig_len, recs[0].data), (40, &[0x60, 0, 0][..]));
            }
        }
    }

    #[test]
    fn typed_errors() {
        assert!(matches!(
            PcapReader::from_slice(&[0xd4, 0xc3, 0xb2]),
            Err(PcapError::TruncatedHeader { len: 3 })
        ));
        let mut pcapng = variant(false, false);
        pcapng[..4].copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
        assert!(matches!(
            PcapReader::from_slice(&pcapng),
            Err(PcapError::BadMagic([0x0a, 0x0d, 0x0d, 0x0a]))
        ));
        let mut v3 = variant(false, false);
        v3[4] = 3;
        assert!(matches!(
            PcapReader::from_slice(&v3),
            Err(PcapError::UnsupportedVersion { major: 3, minor: 4 })
        ));
        let full = variant(true, false);
        // Cut inside the record header, then inside the data.
        let r = PcapReader::from_slice(&full[..30]).unwrap();
        let e = r.records().next().unwrap().unwrap_err();
        assert!(matches!(
            e,
            PcapError::TruncatedRecord {
                offset: 24,
                needed: 16,
                available: 6
            }
        ));
        assert_eq!(
            e.to_string(),
            "pcap record at offset 24 truncated: needs 16 bytes, 6 left"
        );
        let r = PcapReader::from_slice(&full[..42]).unwrap();
        let mut it = r.records();
        assert!(matches!(
            it.next(),
            Some(Err(PcapError::TruncatedRecord {
                offset: 24,
                needed: 19,
                available: 18
            }))
        ));
        assert!(it.next().is_none(), "iteration must stop after an error");
        assert!(matches!(
            PcapReader::open("/nonexistent/pwire.pcap"),
            Err(PcapError::Io(_))
        ));
    }

    #[test]
    fn huge_incl_len_is_an_error_not_an_allocation() {
        let mut b = variant(false, false);
        b[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        let r = PcapReader::from_slice(&b).unwrap();
        assert!(matches!(
            r.records().next(),
            Some(Err(PcapError::TruncatedRecord { offset: 24, .. }))
        ));
    }

    #[test]
    fn timestamp_conversions() {
        let d = Duration::new(1_700_000_000, 123_456_789);
        let t = Timestamp::from(d);
        assert_eq!(
            (t.sec, t.nsec, t.usec()),
            (1_700_000_000, 123_456_789, 123_456)
        );
        assert_eq!(Duration::from(t), d);
        assert_eq!(Timestamp::from(Duration::from_secs(u64::MAX)).sec, u32::MAX);
    }

    fn packets() -> impl Strategy<Value = Vec<(Timestamp, u32, Vec<u8>)>> {
        proptest::collection::vec(
            (
                any::<u32>(),
                0u32..1_000_000,
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..100),
            )
                .prop_map(|(s, us, extra, d)| {
                    let orig = d.len() as u32 + u32::from(extra);
                    (Timestamp::from_micros(s, us), orig, d)
                }),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn write_read_round_trip(pkts in packets(), linktype in prop_oneof![Just(1u32), Just(101)]) {
            let b = write_mem(linktype, &pkts);
            let r = PcapReader::from_slice(&b).unwrap();
            prop_assert_eq!(r.linktype(), linktype);
            let got: Vec<_> = r.records().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(got.len(), pkts.len());
            for (g, (t, o, d)) in got.iter().zip(&pkts) {
                prop_assert_eq!((g.ts, g.orig_len, g.data), (*t, *o, d.as_slice()));
            }
        }

        #[test]
        fn garbage_never_panics(
            header in 0usize..5,
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            // Mostly a valid file header (any of the four variants) so the record walk sees
            // the garbage; sometimes no header at all.
            let mut bytes = match header {
                4 => Vec::new(),
                h => variant(h & 1 != 0, h & 2 != 0)[..FILE_HEADER_LEN].to_vec(),
            };
            bytes.extend(tail);
            if let Ok(r) = PcapReader::from_slice(&bytes) {
                // Errors end the walk; every record read must lie inside the bytes.
                for rec in r.records().flatten() {
                    prop_assert!(rec.data.len() <= bytes.len());
                }
            }
        }

        #[test]
        fn corrupted_valid_file_never_panics(
            pkts in packets(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = write_mem(LINKTYPE_ETHERNET, &pkts);
            for (at, v) in flips {
                let i = at.index(b.len());
                b[i] = v;
            }
            b.truncate(cut.index(b.len() + 1));
            let mut seen = 0usize;
            if let Ok(r) = PcapReader::from_slice(&b) {
                for rec in r.records() {
                    match rec {
                        Ok(rec) => seen += RECORD_HEADER_LEN + rec.data.len(),
                        Err(PcapError::TruncatedRecord { offset, needed, available }) => {
                            prop_assert!(needed > available);
                            prop_assert_eq!(offset, FILE_HEADER_LEN + seen);
                        }
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
            }
            prop_assert!(FILE_HEADER_LEN + seen <= b.len().max(FILE_HEADER_LEN));
        }

        #[test]
        fn every_truncation_of_a_valid_file_is_clean(pkts in packets()) {
            let b = write_mem(LINKTYPE_ETHERNET, &pkts);
            for n in 0..b.len() {
                match PcapReader::from_slice(&b[..n]) {
                    Ok(r) => {
                        // Whole records before the cut, then at most one error.
                        let results: Vec<_> = r.records().collect();
                        let errs = results.iter().filter(|x| x.is_err()).count();
                        prop_assert!(errs <= 1);
                        prop_assert!(results.len() <= pkts.len());
                    }
                    Err(e) => prop_assert!(n < FILE_HEADER_LEN, "{e}"),
                }
            }
        }
    }
}
