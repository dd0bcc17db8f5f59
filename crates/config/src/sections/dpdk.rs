//! `dpdk { }` (VPP plugins/dpdk/device/init.c). Parsed whether or not pwire
//! was built with DPDK: whether the section can be honoured is the binary's
//! call, not the parser's.

use super::IgnoredKey;
use crate::cursor::Cursor;
use crate::error::ConfigError;
use crate::tree::{Section, Token};

/// Per-device settings shared by `dev <addr> { }` and `dev default { }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DpdkDevDefaults {
    /// `num-rx-queues <n>` (1..=65535).
    pub num_rx_queues: Option<u16>,
    /// `num-tx-queues <n>` (1..=65535).
    pub num_tx_queues: Option<u16>,
    /// `num-rx-desc <n>` (1..=65535).
    pub num_rx_desc: Option<u16>,
    /// `num-tx-desc <n>` (1..=65535).
    pub num_tx_desc: Option<u16>,
    /// `devargs <s>`, passed to the PMD.
    pub devargs: Option<String>,
    /// `workers <list>`: worker indices polling this device's queues.
    pub workers: Option<Vec<usize>>,
    /// `tag <s>`.
    pub tag: Option<String>,
    /// `no-rx-interrupts`.
    pub no_rx_interrupts: bool,
    /// `tso on|off`.
    pub tso: Option<bool>,
    /// `rss-queues <list>`.
    pub rss_queues: Option<Vec<usize>>,
    /// `max-lro-pkt-size <n>`.
    pub max_lro_pkt_size: Option<u32>,
}

/// One `dev <addr> [{ ... }]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkDev {
    /// Canonical PCI address `dddd:bb:dd.f` (lower case, domain added), or
    /// a VMBus UUID in lower case.
    pub addr: String,
    /// Where `dev` was written, for later errors (e.g. the port is missing).
    pub at: Token,
    /// `name <n>`: interface name instead of the bus-derived one.
    pub name: Option<String>,
    /// `num-rx-queues`.
    pub num_rx_queues: Option<u16>,
    /// `num-tx-queues`.
    pub num_tx_queues: Option<u16>,
    /// `num-rx-desc`.
    pub num_rx_desc: Option<u16>,
    /// `num-tx-desc`.
    pub num_tx_desc: Option<u16>,
    /// `devargs`.
    pub devargs: Option<String>,
    /// `workers`.
    pub workers: Option<Vec<usize>>,
    /// `tag`.
    pub tag: Option<String>,
    /// `no-rx-interrupts`.
    pub no_rx_interrupts: bool,
    /// `tso`.
    pub tso: Option<bool>,
    /// `rss-queues`.
    pub rss_queues: Option<Vec<usize>>,
    /// `max-lro-pkt-size`.
    pub max_lro_pkt_size: Option<u32>,
}

impl DpdkDev {
    fn new(addr: String, at: Token, name: Option<String>, d: DpdkDevDefaults) -> Self {
        Self {
            addr,
            at,
            name,
            num_rx_queues: d.num_rx_queues,
            num_tx_queues: d.num_tx_queues,
            num_rx_desc: d.num_rx_desc,
            num_tx_desc: d.num_tx_desc,
            devargs: d.devargs,
            workers: d.workers,
            tag: d.tag,
            no_rx_interrupts: d.no_rx_interrupts,
            tso: d.tso,
            rss_queues: d.rss_queues,
            max_lro_pkt_size: d.max_lro_pkt_size,
        }
    }

    /// This device with every unset setting taken from `dev default { }`.
    pub fn with_defaults(&self, d: &DpdkDevDefaults) -> DpdkDev {
        let mut out = self.clone();
        out.num_rx_queues = out.num_rx_queues.or(d.num_rx_queues);
        out.num_tx_queues = out.num_tx_queues.or(d.num_tx_queues);
        out.num_rx_desc = out.num_rx_desc.or(d.num_rx_desc);
        out.num_tx_desc = out.num_tx_desc.or(d.num_tx_desc);
        out.devargs = out.devargs.or_else(|| d.devargs.clone());
        out.workers = out.workers.or_else(|| d.workers.clone());
        out.tag = out.tag.or_else(|| d.tag.clone());
        out.no_rx_interrupts |= d.no_rx_interrupts;
        out.tso = out.tso.or(d.tso);
        out.rss_queues = out.rss_queues.or_else(|| d.rss_queues.clone());
        out.max_lro_pkt_size = out.max_lro_pkt_size.or(d.max_lro_pkt_size);
        out
    }
}

/// The `dpdk` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DpdkConfig {
    /// `dev <addr> [{ }]`, in file order; addresses are unique.
    pub devs: Vec<DpdkDev>,
    /// `dev default { }`.
    pub dev_default: DpdkDevDefaults,
    /// `vdev <eal-arg>` (EAL `--vdev`), in order.
    pub vdevs: Vec<String>,
    /// `no-pci`.
    pub no_pci: bool,
    /// `no-huge` (EAL `--no-huge`; a pwire key as well as VPP's passthrough).
    pub no_huge: bool,
    /// `socket-mem <s>` (deprecated and ignored by VPP; stored for the binary).
    pub socket_mem: Option<String>,
    /// `num-mbufs <n>`: pwire's own key (VPP removed it in 2019).
    pub num_mbufs: Option<u32>,
    /// `uio-driver <name>`.
    pub uio_driver: Option<String>,
    /// `log-level <s>` (EAL `--log-level`).
    pub log_level: Option<String>,
    /// `huge-dir <dir>`.
    pub huge_dir: Option<String>,
    /// `file-prefix <s>`.
    pub file_prefix: Option<String>,
    /// `iova-mode pa|va`.
    pub iova_mode: Option<String>,
    /// `no-multi-seg`.
    pub no_multi_seg: bool,
    /// `no-tx-checksum-offload`.
    pub no_tx_checksum_offload: bool,
    /// `blacklist <id>` / `block <id>`: devices EAL must not probe.
    pub block: Vec<String>,
    /// Other EAL passthroughs (`proc-type`, `base-virtaddr`, `no-shconf`,
    /// `no-hpet`, `vmware-tsc-map`) as `(--flag, value)`, in order.
    pub eal_passthrough: Vec<(String, Option<String>)>,
    /// VPP keys accepted without effect.
    pub ignored: Vec<IgnoredKey>,
}

const NOT_IMPLEMENTED: &str = "not implemented by pwire's dpdk driver";

impl DpdkConfig {
    /// Parses the `dpdk` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            let flag = |reason| IgnoredKey::flag(k, reason);
            match k.as_str() {
                "dev" => {
                    let a = cur.expect_value(k)?;
                    let body = cur.block();
                    if a.as_str() == "default" {
                        if let Some(mut b) = body {
                            parse_dev_opts(&mut b, &mut c.dev_default, None, &mut c.ignored)?;
                        }
                        continue;
                    }
                    let addr = canonical_addr(&a.text).ok_or_else(|| {
                        cur.error(
                            a,
                            format!(
                                "invalid device address `{}' (expected a PCI address like \
                                 0000:00:08.0)",
                                a.text
                            ),
                        )
                    })?;
                    if c.devs.iter().any(|d| d.addr == addr) {
                        return Err(cur.error(
                            a,
                            format!("duplicate configuration for PCI address `{}'", a.text),
                        ));
                    }
                    let mut opts = DpdkDevDefaults::default();
                    let mut name = None;
                    if let Some(mut b) = body {
                        parse_dev_opts(&mut b, &mut opts, Some(&mut name), &mut c.ignored)?;
                    }
                    c.devs.push(DpdkDev::new(addr, a.clone(), name, opts));
                }
                "vdev" => c.vdevs.push(cur.string(k)?),
                "no-pci" => c.no_pci = true,
                "no-huge" => c.no_huge = true,
                "socket-mem" => c.socket_mem = Some(cur.string(k)?),
                "num-mbufs" => c.num_mbufs = Some(cur.u32_in(k, 1, u32::MAX)?),
                "uio-driver" => c.uio_driver = Some(cur.string(k)?),
                "log-level" => c.log_level = Some(cur.string(k)?),
                "huge-dir" => c.huge_dir = Some(cur.string(k)?),
                "file-prefix" => c.file_prefix = Some(cur.string(k)?),
                "iova-mode" => {
                    let v = cur.expect_value(k)?;
                    if !matches!(v.as_str(), "pa" | "va") {
                        return Err(cur.error(
                            v,
                            format!("invalid iova-mode `{}' (expected pa or va)", v.text),
                        ));
                    }
                    c.iova_mode = Some(v.text.clone());
                }
                "no-multi-seg" => c.no_multi_seg = true,
                "no-tx-checksum-offload" => c.no_tx_checksum_offload = true,
                "blacklist" | "block" => c.block.push(cur.string(k)?),
                "proc-type" | "base-virtaddr" => {
                    let v = cur.string(k)?;
                    c.eal_passthrough.push((format!("--{}", k.text), Some(v)));
                }
                "no-shconf" | "no-hpet" | "vmware-tsc-map" => {
                    c.eal_passthrough.push((format!("--{}", k.text), None));
                }
                "uio-bind-force"
                | "enable-tcp-udp-checksum"
                | "decimal-interface-names"
                | "telemetry"
                | "enable-lro" => c.ignored.push(flag(NOT_IMPLEMENTED)),
                "max-simd-bitwidth" | "link-state-poll-interval" | "stats-poll-interval" => {
                    let value = Some(cur.expect_value(k)?.clone());
                    c.ignored.push(IgnoredKey {
                        key: k.clone(),
                        value,
                        reason: NOT_IMPLEMENTED,
                    });
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

/// Per-device words; `name` is `None` for `dev default`, where a shared
/// interface name would make every port collide.
fn parse_dev_opts(
    cur: &mut Cursor<'_>,
    o: &mut DpdkDevDefaults,
    mut name: Option<&mut Option<String>>,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<(), ConfigError> {
    let mut note = |k: &Token| ignored.push(IgnoredKey::flag(k, NOT_IMPLEMENTED));
    while let Some(k) = cur.next_word()? {
        match k.as_str() {
            "num-rx-queues" => o.num_rx_queues = Some(u16_value(cur, k)?),
            "num-tx-queues" => o.num_tx_queues = Some(u16_value(cur, k)?),
            "num-rx-desc" => o.num_rx_desc = Some(u16_value(cur, k)?),
            "num-tx-desc" => o.num_tx_desc = Some(u16_value(cur, k)?),
            "devargs" => o.devargs = Some(cur.string(k)?),
            "workers" => o.workers = Some(cur.corelist(k)?),
            "tag" => o.tag = Some(cur.string(k)?),
            "no-rx-interrupts" => o.no_rx_interrupts = true,
            "tso" => {
                o.tso = Some(cur.bool(k)?);
                note(k);
            }
            "rss-queues" => {
                o.rss_queues = Some(cur.corelist(k)?);
                note(k);
            }
            "max-lro-pkt-size" => {
                o.max_lro_pkt_size = Some(cur.u32(k)?);
                note(k);
            }
            "name" => match name.as_deref_mut() {
                Some(slot) => *slot = Some(cur.string(k)?),
                None => return Err(cur.error(k, "`name' is not allowed in `dev default'")),
            },
            _ => return Err(cur.unknown(k)),
        }
    }
    Ok(())
}

/// DPDK queue and descriptor counts are `uint16_t`.
fn u16_value(cur: &mut Cursor<'_>, k: &Token) -> Result<u16, ConfigError> {
    let n = cur.u32_in(k, 1, u16::MAX.into())?;
    Ok(u16::try_from(n).unwrap_or(u16::MAX))
}

/// `[dddd:]bb:dd.f` -> `dddd:bb:dd.f`, or a VMBus UUID, lower-cased.
fn canonical_addr(s: &str) -> Option<String> {
    let hex = |p: &str, max_len: usize| -> Option<u32> {
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(p, 16).ok()
    };
    if let Some((head, func)) = s.rsplit_once('.') {
        let parts: Vec<&str> = head.split(':').collect();
        let (dom, bus, dev) = match parts.as_slice() {
            [b, d] => (Some(0), hex(b, 2), hex(d, 2)),
            [a, b, d] => (hex(a, 4), hex(b, 2), hex(d, 2)),
            _ => return None,
        };
        let (dom, bus, dev, func) = (dom?, bus?, dev?, hex(func, 1)?);
        if dev > 0x1f || func > 7 {
            return None;
        }
        return Some(format!("{dom:04x}:{bus:02x}:{dev:02x}.{func:x}"));
    }
    let groups: Vec<&str> = s.split('-').collect();
    let uuid = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    uuid.then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod test {
    use super::canonical_addr;

    #[test]
    fn addresses() {
        for (s, want) in [
            ("0000:00:08.0", Some("0000:00:08.0")),
            ("00:08.0", Some("0000:00:08.0")),
            ("0000:AF:1f.7", Some("0000:af:1f.7")),
            ("1:2:3.4", Some("0001:02:03.4")),
            ("0000:00:20.0", None),
            ("0000:00:08.8", None),
            ("00000:00:08.0", None),
            ("0000:00:08", None),
            ("net_null0", None),
            ("", None),
            (".", None),
            ("+0:+8.0", None),
            (
                "F8615163-DF3E-46C5-913F-F2D2F965ED0E",
                Some("f8615163-df3e-46c5-913f-f2d2f965ed0e"),
            ),
            ("f8615163-df3e-46c5-913f", None),
        ] {
            assert_eq!(canonical_addr(s).as_deref(), want, "{s}");
        }
    }
}
