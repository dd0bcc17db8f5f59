//! `buffers { }`: the packet buffer pool (VPP vlib/buffer.c).

use crate::cursor::parse_size;
use crate::error::ConfigError;
use crate::sections::IgnoredKey;
use crate::tree::Section;

/// `page-size` of the buffer memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    /// `default`: the system's normal page size.
    Default,
    /// `default-hugepage`: the system's default hugepage size.
    DefaultHugepage,
    /// An explicit size in bytes (a power of two, at least 4K).
    Bytes(u64),
}

/// The `buffers` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuffersConfig {
    /// `buffers-per-numa <n>` (VPP default 16384).
    pub buffers_per_numa: u32,
    /// `default data-size <n>`: bytes of packet data per buffer (VPP default
    /// 2048; 128..=16384).
    pub data_size: u32,
    /// `page-size <size|default|default-hugepage>`; `None` = not given. See
    /// [`BuffersConfig::hugepages`].
    pub page_size: Option<PageSize>,
    /// Keys given that pwire does not act on as written (printed at start).
    pub ignored: Vec<IgnoredKey>,
}

impl Default for BuffersConfig {
    fn default() -> Self {
        Self {
            buffers_per_numa: 16384,
            data_size: 2048,
            page_size: None,
            ignored: Vec::new(),
        }
    }
}

impl BuffersConfig {
    /// Parses the `buffers` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "buffers-per-numa" => c.buffers_per_numa = cur.u32_in(k, 1, u32::MAX)?,
                "default" => {
                    // VPP's key is the two words `default data-size`.
                    let k2 = cur.expect_value(k)?;
                    if k2.as_str() != "data-size" {
                        return Err(cur.unknown(k2));
                    }
                    c.data_size = cur.u32_in(k2, 128, 16384)?;
                }
                "page-size" => {
                    let v = cur.expect_value(k)?;
                    c.page_size = Some(match v.as_str() {
                        "default" => PageSize::Default,
                        "default-hugepage" => PageSize::DefaultHugepage,
                        s => match parse_size(s) {
                            Some(n) if n == 4096 || n == 2 << 20 => PageSize::Bytes(n),
                            Some(n) if n > 4096 && n.is_power_of_two() => {
                                c.ignored.push(IgnoredKey {
                                    key: k.clone(),
                                    value: Some(v.clone()),
                                    reason: "pwire maps buffers on 2 MiB hugepages or 4 KiB \
                                             pages: taken as default-hugepage",
                                });
                                PageSize::Bytes(n)
                            }
                            _ => {
                                return Err(cur.error(
                                    v,
                                    format!(
                                        "invalid page-size `{s}' (expected a power of two \
                                         of at least 4K, default or default-hugepage)"
                                    ),
                                ))
                            }
                        },
                    });
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

impl BuffersConfig {
    /// Whether the buffer pool asks for 2 MiB hugepages (falling back to the heap when none
    /// are reserved): unless `page-size` is `default` or 4K.
    pub fn hugepages(&self) -> bool {
        !matches!(
            self.page_size,
            Some(PageSize::Default) | Some(PageSize::Bytes(4096))
        )
    }
}
