//! Late-bound calls between features that may not import each other.
//!
//! - Interface deletion: a feature that keeps per-interface state elsewhere (bridge domains keep
//!   member lists) registers a hook; `Vnet::delete_interface` runs every hook under the barrier
//!   before the interface disappears, so no table keeps pointing at a deleted interface.
//! - IPv6 egress: the ip6 crate publishes "which interface would a packet to X leave by"; l2tp
//!   uses it to report the inner MTU a tunnel can carry without importing ip6.
//! - Admin state: features that must act when an interface comes up (ip6 sends unsolicited
//!   neighbour advertisements) register a hook that `set interface state` runs.
//! - APIs: a feature publishes a handle to its control API by type (l2tp's session API, which
//!   the control plane and tests call); [`Hooks::api`] finds it.
//! - IPv4: VPP's IP commands are family-neutral (`set interface ip address`, `ip route`,
//!   `set ip neighbor`, `ping`, `show ip neighbors`, `set ip neighbor-config`). The ip6 crate
//!   owns those command paths; when an argument is IPv4 it hands the whole command to the ip4
//!   crate through [`Hooks::ip4_cli`] (and asks it for its rows of `show ip neighbors`), so one
//!   command keeps VPP's syntax for both families without the crates importing each other. The
//!   ip4 crate also publishes its egress resolver and the switch of its `ip4-unicast` features
//!   (l2tp's IPv4 intercept).

use pwire_graph::Ctl;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, OnceLock};

/// Runs when interface `sw_if_index` is about to be deleted.
pub type IfDeleteHook = Box<dyn Fn(&mut Ctl, u32) + Send + Sync>;
/// Runs after an interface's admin state changed (`set interface state`), with the command's
/// context so it can send packets (ip6 announces its addresses when an interface comes up).
pub type AdminHook = Box<dyn Fn(&mut crate::CliCtx, u32, bool) + Send + Sync>;
/// Runs after an interface's link state changed (a driver's report), with the new state.
pub type LinkHook = Box<dyn Fn(&mut crate::CliCtx, u32, bool) + Send + Sync>;
/// Returns the egress sw_if_index for a destination in FIB 0, if routed.
pub type Ip6EgressFn = Box<dyn Fn(&Ctl, Ipv6Addr) -> Option<u32> + Send + Sync>;

/// Which family-neutral IP command an IPv4 argument was given to (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip4Cmd {
    /// `set interface ip address [del] <if> <a.b.c.d/n> [del]`, or `... del <if> all`.
    SetAddress,
    /// `ip route [add|del] <a.b.c.d/n> [via ...]`.
    Route,
    /// `set ip neighbor [del] <if> <a.b.c.d> <mac> [static] [no-fib-entry]`.
    SetNeighbor,
    /// `set ip neighbor-config ip4 [limit <n>]`.
    NeighborConfig,
    /// `show ip neighbor-config`: the ip4 part, printed first.
    ShowNeighborConfig,
    /// `ping {<a.b.c.d> | ipv4 <a.b.c.d>} ...`.
    Ping,
}

/// Runs the IPv4 half of a family-neutral command over the command's own arguments (not yet
/// consumed) and output.
pub type Ip4CliFn = Box<
    dyn Fn(Ip4Cmd, &mut pwire_cli::Args<'_>, &mut crate::CliCtx) -> Result<(), pwire_cli::CliError>
        + Send
        + Sync,
>;
/// The IPv4 rows of `show ip neighbors [<if>]`, formatted as the IPv6 ones (no header).
pub type Ip4NeighborsFn = Box<dyn Fn(&crate::CliCtx, Option<u32>) -> Vec<String> + Send + Sync>;
/// Returns the egress sw_if_index for an IPv4 destination in FIB 0, if routed.
pub type Ip4EgressFn = Box<dyn Fn(&Ctl, Ipv4Addr) -> Option<u32> + Send + Sync>;
/// The IPv4 addresses of an interface (`show interface address`).
pub type Ip4AddrsFn = Box<dyn Fn(&Ctl, u32) -> Vec<(Ipv4Addr, u8)> + Send + Sync>;
/// Turns an `ip4-unicast` feature (by its registered name) on or off on an interface.
pub type Ip4FeatureFn = Box<dyn Fn(&mut Ctl, u32, &str, bool) -> Result<(), String> + Send + Sync>;

/// Adds a device class's own lines to `show hardware-interfaces` (arguments: the interface and
/// whether verbose output was asked for).
pub type HwDetailsFn = Box<dyn Fn(&crate::CliCtx, &crate::Interface, bool) -> String + Send + Sync>;

/// A driver's start-up step (`Registry::on_start`), run once by `Dataplane::build`.
pub type StartFn = Box<dyn FnOnce(&mut crate::CliCtx) -> Result<(), String> + Send>;

/// The hooks of one `Vnet`.
#[derive(Default)]
pub struct Hooks {
    start: Mutex<Vec<StartFn>>,
    hw_details: Mutex<Vec<(&'static str, HwDetailsFn)>>,
    if_delete: Mutex<Vec<IfDeleteHook>>,
    admin: Mutex<Vec<AdminHook>>,
    link: Mutex<Vec<LinkHook>>,
    ip6_egress: OnceLock<Ip6EgressFn>,
    ip4_cli: OnceLock<Ip4CliFn>,
    ip4_neighbors: OnceLock<Ip4NeighborsFn>,
    ip4_egress: OnceLock<Ip4EgressFn>,
    ip4_addrs: OnceLock<Ip4AddrsFn>,
    ip4_feature: OnceLock<Ip4FeatureFn>,
    apis: Mutex<Vec<std::sync::Arc<dyn std::any::Any + Send + Sync>>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks { .. }")
    }
}

impl Hooks {
    /// Adds an interface-deletion hook (registration time).
    pub fn on_interface_delete(&self, h: IfDeleteHook) {
        self.if_delete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(h);
    }
    pub(crate) fn run_interface_delete(&self, ctl: &mut Ctl, sw: u32) {
        let hooks = self.if_delete.lock().unwrap_or_else(|e| e.into_inner());
        for h in hooks.iter() {
            h(ctl, sw);
        }
    }
    /// Adds an admin-state hook (registration time).
    pub fn on_admin_change(&self, h: AdminHook) {
        self.admin.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    }
    /// Runs the admin-state hooks for `sw`.
    pub fn run_admin_change(&self, cx: &mut crate::CliCtx, sw: u32, up: bool) {
        let hooks = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        for h in hooks.iter() {
            h(cx, sw, up);
        }
    }
    /// Adds a link-state hook (registration time).
    pub fn on_link_change(&self, h: LinkHook) {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    }
    /// Runs the link-state hooks for `sw`.
    pub fn run_link_change(&self, cx: &mut crate::CliCtx, sw: u32, up: bool) {
        let hooks = self.link.lock().unwrap_or_else(|e| e.into_inner());
        for h in hooks.iter() {
            h(cx, sw, up);
        }
    }
    /// Adds a start-up step (registration time).
    pub fn on_start(&self, f: StartFn) {
        self.start.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }
    /// Takes the start-up steps (they run once).
    pub fn take_start(&self) -> Vec<StartFn> {
        std::mem::take(&mut *self.start.lock().unwrap_or_else(|e| e.into_inner()))
    }
    /// Adds `show hardware-interfaces` lines for interfaces of device class `class`.
    pub fn on_show_hw(&self, class: &'static str, f: HwDetailsFn) {
        self.hw_details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((class, f));
    }
    /// The class-specific `show hardware-interfaces` lines for `i` (empty if none registered).
    pub fn show_hw(
        &self,
        cx: &crate::CliCtx,
        class: &str,
        i: &crate::Interface,
        verbose: bool,
    ) -> String {
        let hooks = self.hw_details.lock().unwrap_or_else(|e| e.into_inner());
        hooks
            .iter()
            .filter(|(c, _)| *c == class)
            .map(|(_, f)| f(cx, i, verbose))
            .collect()
    }
    /// Publishes the IPv6 egress resolver (the ip6 crate, once).
    pub fn set_ip6_egress(&self, f: Ip6EgressFn) {
        let _ = self.ip6_egress.set(f);
    }
    /// The egress interface for `dst`, when an IPv6 FIB is present and routes it.
    pub fn ip6_egress(&self, ctl: &Ctl, dst: Ipv6Addr) -> Option<u32> {
        self.ip6_egress.get().and_then(|f| f(ctl, dst))
    }
}

impl Hooks {
    /// Publishes the IPv4 halves of the family-neutral IP commands (the ip4 crate, once).
    pub fn set_ip4_cli(&self, run: Ip4CliFn, neighbors: Ip4NeighborsFn) {
        let _ = self.ip4_cli.set(run);
        let _ = self.ip4_neighbors.set(neighbors);
    }
    /// True when an IPv4 stack registered its commands.
    pub fn has_ip4(&self) -> bool {
        self.ip4_cli.get().is_some()
    }
    /// Runs the IPv4 half of `cmd`; `None` when no IPv4 stack is registered.
    pub fn ip4_cli(
        &self,
        cmd: Ip4Cmd,
        args: &mut pwire_cli::Args<'_>,
        cx: &mut crate::CliCtx,
    ) -> Option<Result<(), pwire_cli::CliError>> {
        self.ip4_cli.get().map(|f| f(cmd, args, cx))
    }
    /// The IPv4 rows of `show ip neighbors` (none without an IPv4 stack).
    pub fn ip4_neighbors(&self, cx: &crate::CliCtx, sw: Option<u32>) -> Vec<String> {
        self.ip4_neighbors
            .get()
            .map_or_else(Vec::new, |f| f(cx, sw))
    }
    /// Publishes the IPv4 egress resolver (the ip4 crate, once).
    pub fn set_ip4_egress(&self, f: Ip4EgressFn) {
        let _ = self.ip4_egress.set(f);
    }
    /// The egress interface for `dst`, when an IPv4 FIB is present and routes it.
    pub fn ip4_egress(&self, ctl: &Ctl, dst: Ipv4Addr) -> Option<u32> {
        self.ip4_egress.get().and_then(|f| f(ctl, dst))
    }
    /// Publishes the interfaces' IPv4 addresses (the ip4 crate, once).
    pub fn set_ip4_addrs(&self, f: Ip4AddrsFn) {
        let _ = self.ip4_addrs.set(f);
    }
    /// The IPv4 addresses of `sw` (none without an IPv4 stack).
    pub fn ip4_addrs(&self, ctl: &Ctl, sw: u32) -> Vec<(Ipv4Addr, u8)> {
        self.ip4_addrs.get().map_or_else(Vec::new, |f| f(ctl, sw))
    }
    /// Publishes the `ip4-unicast` feature switch (the ip4 crate, once).
    pub fn set_ip4_feature(&self, f: Ip4FeatureFn) {
        let _ = self.ip4_feature.set(f);
    }
    /// Turns `ip4-unicast` feature `name` on or off on `sw`.
    pub fn ip4_feature(&self, ctl: &mut Ctl, sw: u32, name: &str, on: bool) -> Result<(), String> {
        match self.ip4_feature.get() {
            Some(f) => f(ctl, sw, name, on),
            None => Err("IPv4 is not supported by pwire".into()),
        }
    }

    /// Publishes a feature's API handle (start-up).
    pub fn publish_api<T: std::any::Any + Send + Sync>(&self, api: std::sync::Arc<T>) {
        self.apis
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(api);
    }

    /// The API handle of type `T`, if a feature published one.
    pub fn api<T: std::any::Any + Send + Sync>(&self) -> Option<std::sync::Arc<T>> {
        self.apis
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find_map(|a| a.clone().downcast::<T>().ok())
    }
}
