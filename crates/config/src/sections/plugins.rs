//! `plugins { }` (VPP vlib/unix/plugin.c). pwire compiles its features in,
//! so this is only stored: the binary warns when a compiled-in feature is
//! disabled here.

use crate::error::ConfigError;
use crate::sections::IgnoredKey;
use crate::tree::{Section, Token};

/// Why the plugin search keys do nothing here.
const COMPILED_IN: &str = "pwire's features are compiled in: there are no plugin files to look for";

/// One `plugin <name> { ... }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginEntry {
    /// The plugin file name as written, e.g. `l2tp_plugin.so`.
    pub name: Token,
    /// `Some(true)` for `enable`, `Some(false)` for `disable`, `None` if neither.
    pub enabled: Option<bool>,
    /// `skip-version-check`.
    pub skip_version_check: bool,
}

/// The `plugins` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginsConfig {
    /// `path <dir[:dir]>`.
    pub path: Option<String>,
    /// `add-path <dir>`, in order.
    pub add_path: Vec<String>,
    /// `name-filter <s>`.
    pub name_filter: Option<String>,
    /// `plugin default { disable }`: plugins not explicitly enabled are off.
    pub default_disabled: bool,
    /// `plugin <name> { ... }` entries, in file order; names are unique.
    pub plugins: Vec<PluginEntry>,
    /// Keys given that pwire does not act on (printed at start).
    pub ignored: Vec<IgnoredKey>,
}

impl PluginsConfig {
    /// Parses the `plugins` section. As in VPP, a name configured twice is an
    /// error, and so is `enable` together with `disable`.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "path" => {
                    c.path = Some(cur.string(k)?);
                    c.ignored.push(IgnoredKey::flag(k, COMPILED_IN));
                }
                "add-path" => {
                    c.add_path.push(cur.string(k)?);
                    c.ignored.push(IgnoredKey::flag(k, COMPILED_IN));
                }
                "name-filter" => {
                    c.name_filter = Some(cur.string(k)?);
                    c.ignored.push(IgnoredKey::flag(k, COMPILED_IN));
                }
                "plugin" => {
                    let name = cur.expect_value(k)?;
                    let mut body = cur.expect_block(name)?;
                    if name.as_str() == "default" {
                        while let Some(w) = body.next_word()? {
                            match w.as_str() {
                                "disable" => c.default_disabled = true,
                                "enable" => c.default_disabled = false,
                                _ => return Err(body.unknown(w)),
                            }
                        }
                        continue;
                    }
                    if c.plugins.iter().any(|p| p.name.text == name.text) {
                        return Err(
                            cur.error(name, format!("plugin `{}' already configured", name.text))
                        );
                    }
                    let mut e = PluginEntry {
                        name: name.clone(),
                        enabled: None,
                        skip_version_check: false,
                    };
                    while let Some(w) = body.next_word()? {
                        let want = match w.as_str() {
                            "enable" => true,
                            "disable" => false,
                            "skip-version-check" => {
                                e.skip_version_check = true;
                                c.ignored.push(IgnoredKey::flag(w, COMPILED_IN));
                                continue;
                            }
                            _ => return Err(body.unknown(w)),
                        };
                        if e.enabled == Some(!want) {
                            return Err(body.error(
                                w,
                                format!(
                                    "please specify either enable or disable for plugin `{}'",
                                    name.text
                                ),
                            ));
                        }
                        e.enabled = Some(want);
                    }
                    c.plugins.push(e);
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }

    /// The entry for `name`, if the file configures it.
    pub fn plugin(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.name.text == name)
    }

    /// Whether plugin `name` ends up enabled: an explicit `enable`/`disable`
    /// wins, then `plugin default { disable }`, then `enabled_by_default`
    /// (the plugin's own default, true for VPP's l2tp/af_packet/dpdk).
    pub fn is_enabled(&self, name: &str, enabled_by_default: bool) -> bool {
        match self.plugin(name).and_then(|p| p.enabled) {
            Some(on) => on,
            None => !self.default_disabled && enabled_by_default,
        }
    }
}
