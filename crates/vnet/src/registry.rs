//! What crates register into, and the tables built from it.

use crate::engine::{Engine, ThreadInfo};
use crate::interface::{ClassId, DevClass, IfRow, Interface, L2Mode, RxMode};
use crate::{CliCtx, Vnet};
use pwire_buffer::Pool;
use pwire_cli::{Command, Registry as CliRegistry};
use pwire_config::StartupConfig;
use pwire_graph::{Barrier, Ctl, Graph, Registry as GraphRegistry};
use std::sync::Arc;

/// A feature on the `ip6-unicast` or `ip4-unicast` arc (runs between ip<n>-input and
/// ip<n>-lookup).
#[derive(Debug, Clone)]
pub struct Feature {
    pub name: &'static str,
    pub node: &'static str,
}

/// Tables fixed at graph build.
#[derive(Debug)]
pub struct Statics {
    pub graph: Arc<Graph>,
    pub classes: Vec<DevClass>,
    /// (ethertype, node) pairs `ethernet-input` dispatches to.
    pub ethertypes: Vec<(u16, &'static str)>,
    /// (protocol, node) pairs `ip6-local` dispatches to once enabled.
    pub ip6_protocols: Vec<(u8, &'static str)>,
    pub ip6_unicast_features: Vec<Feature>,
    /// (protocol, node) pairs `ip4-local` dispatches to once enabled
    /// (`VnetState::ip4_proto_enabled`).
    pub ip4_protocols: Vec<(u8, &'static str)>,
    pub ip4_unicast_features: Vec<Feature>,
    /// UDP destination handlers (`Registry::udp_handler`): entry `id - 1` is handler `id`'s
    /// node for IPv4 and for IPv6. `ip4-udp-lookup` / `ip6-udp-lookup` dispatch to them by
    /// the ports in `VnetState::udp_ports`.
    pub udp_handlers: Vec<UdpHandler>,
    /// The node each family's ICMP input hands "packet too big" (ICMPv6 type 2) and
    /// "fragmentation needed" (ICMPv4 type 3 code 4) to (`Registry::icmp_too_big`: l2tp's
    /// path MTU discovery); `None` punts them.
    pub icmp_too_big: Option<UdpHandler>,
    /// The node `ip4-local` hands IPv4 fragments to (`Registry::ip4_reassembly`); `None` drops
    /// them ("ip4 fragment for us, reassembly not supported").
    pub ip4_reassembly: Option<&'static str>,
    /// startup.conf `ethernet { default-mtu }`: the MTU an Ethernet interface starts with
    /// (drivers that learn the link's own MTU, AF_PACKET and DPDK, replace it).
    pub default_mtu: u32,
    /// startup.conf `interface { default-rx-mode }`: the rx mode an interface-driven receive
    /// queue starts in where the driver supports it; `None` keeps each driver's own default.
    pub default_rx_mode: Option<RxMode>,
}

/// A UDP destination: the node each family's UDP lookup hands a packet for one of its ports to.
#[derive(Debug, Clone, Copy)]
pub struct UdpHandler {
    pub ip4: &'static str,
    pub ip6: &'static str,
}

impl Statics {
    pub fn class_id(&self, name: &str) -> Option<ClassId> {
        self.classes
            .iter()
            .position(|c| c.name == name)
            .map(|p| p as ClassId)
    }
    pub fn class(&self, id: ClassId) -> &DevClass {
        &self.classes[id as usize]
    }
    pub fn feature_bit(&self, name: &str) -> Option<u32> {
        self.ip6_unicast_features
            .iter()
            .position(|f| f.name == name)
            .map(|p| 1 << p)
    }
    /// The bit of `ip4-unicast` feature `name`.
    pub fn ip4_feature_bit(&self, name: &str) -> Option<u32> {
        self.ip4_unicast_features
            .iter()
            .position(|f| f.name == name)
            .map(|p| 1 << p)
    }
}

/// Registration state passed to every crate's `register()`.
pub struct Registry {
    pub graph: GraphRegistry,
    pub cli: CliRegistry<CliCtx>,
    pub vnet: Arc<Vnet>,
    pub config: Arc<StartupConfig>,
    classes: Vec<DevClass>,
    ethertypes: Vec<(u16, &'static str)>,
    ip6_protocols: Vec<(u8, &'static str)>,
    features: Vec<Feature>,
    ip4_protocols: Vec<(u8, &'static str)>,
    ip4_features: Vec<Feature>,
    udp_handlers: Vec<UdpHandler>,
    icmp_too_big: Option<UdpHandler>,
    ip4_reassembly: Option<&'static str>,
    main_tasks: Vec<crate::main_task::TaskFn>,
    /// State one node crate shares with another's nodes ([`Registry::publish`]).
    published: Vec<Arc<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("graph", &self.graph)
            .finish()
    }
}

impl Registry {
    pub fn new(config: Arc<StartupConfig>, n_threads: usize) -> Self {
        let log = Arc::new(crate::log::Logger::new(&config.logging));
        Self::with_log(config, n_threads, log)
    }

    /// [`Registry::new`] with the log the dataplane will use.
    pub fn with_log(
        config: Arc<StartupConfig>,
        n_threads: usize,
        log: Arc<crate::log::Logger>,
    ) -> Self {
        let mut r = Registry {
            graph: GraphRegistry::new(),
            cli: CliRegistry::new(),
            vnet: Vnet::with_log(n_threads, log),
            config,
            classes: Vec::new(),
            ethertypes: Vec::new(),
            ip6_protocols: Vec::new(),
            features: Vec::new(),
            ip4_protocols: Vec::new(),
            ip4_features: Vec::new(),
            udp_handlers: Vec::new(),
            icmp_too_big: None,
            ip4_reassembly: None,
            main_tasks: Vec::new(),
            published: Vec::new(),
        };
        r.dev_class(DevClass {
            name: "local",
            output_node: "error-drop",
            tx_node: None,
            ethernet: false,
            hw_class: "local",
        });
        crate::builtin_cli::register(&mut r);
        crate::show_extra::register(&mut r);
        crate::log::register(&mut r);
        r
    }

    pub fn dev_class(&mut self, c: DevClass) {
        self.classes.push(c);
    }
    pub fn ethertype(&mut self, ethertype: u16, node: &'static str) {
        self.ethertypes.push((ethertype, node));
    }
    pub fn ip6_protocol(&mut self, proto: u8, node: &'static str) {
        self.ip6_protocols.push((proto, node));
    }
    pub fn ip6_unicast_feature(&mut self, name: &'static str, node: &'static str) {
        self.features.push(Feature { name, node });
    }
    /// `ip4-local` (and `ip4-receive`) hand IPv4 protocol `proto` to `node` once it is enabled
    /// in `VnetState::ip4_proto_enabled` (l2tp: 115; udp-local: 17).
    pub fn ip4_protocol(&mut self, proto: u8, node: &'static str) {
        self.ip4_protocols.push((proto, node));
    }
    /// A feature on the `ip4-unicast` arc, switched per interface with `Hooks::ip4_feature`.
    pub fn ip4_unicast_feature(&mut self, name: &'static str, node: &'static str) {
        self.ip4_features.push(Feature { name, node });
    }
    /// Makes `v` available to node crates registered later ([`Registry::published`]): the way
    /// one crate's nodes read another's tables (l2tp-encap reads the FIB) without the graph
    /// knowing either type.
    pub fn publish<T: std::any::Any + Send + Sync>(&mut self, v: Arc<T>) {
        self.published.push(v);
    }

    /// What an earlier crate [`publish`](Registry::publish)ed of type `T`, if any.
    pub fn published<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.published
            .iter()
            .find_map(|v| v.clone().downcast::<T>().ok())
    }

    /// A UDP destination handled by `ip4` for IPv4 and `ip6` for IPv6 (l2tp: its UDP decap
    /// nodes). Returns the handler's id, which the control plane writes into
    /// `VnetState::udp_ports` for each port it listens on (at most 127 handlers).
    pub fn udp_handler(&mut self, ip4: &'static str, ip6: &'static str) -> u8 {
        self.udp_handlers.push(UdpHandler { ip4, ip6 });
        assert!(self.udp_handlers.len() <= 127, "too many UDP handlers");
        self.udp_handlers.len() as u8
    }
    /// ICMP "packet too big" / "fragmentation needed" messages to us go to `ip4` / `ip6`
    /// (one consumer: l2tp's path MTU discovery) instead of being punted.
    pub fn icmp_too_big(&mut self, ip4: &'static str, ip6: &'static str) {
        self.icmp_too_big = Some(UdpHandler { ip4, ip6 });
    }
    /// IPv4 fragments to us go to `node` (the reassembly) instead of being dropped.
    pub fn ip4_reassembly(&mut self, node: &'static str) {
        self.ip4_reassembly = Some(node);
    }
    pub fn command(&mut self, c: Command<CliCtx>) {
        self.cli.add(c);
    }
    /// Registers a start-up step run once the graph, the pool and the threads exist (a driver
    /// opening the devices of startup.conf); its error stops start-up.
    pub fn on_start(&mut self, f: impl FnOnce(&mut CliCtx) -> Result<(), String> + Send + 'static) {
        self.vnet.hooks.on_start(Box::new(f));
    }
    /// Registers control-plane work the dataplane may ask for with `Vnet::signal_main_task`;
    /// returns the task's id.
    pub fn main_task(&mut self, f: impl Fn(&mut CliCtx) + Send + Sync + 'static) -> usize {
        self.main_tasks.push(Box::new(f));
        self.main_tasks.len() - 1
    }

    /// Builds the graph and the engine; creates `local0`. Returns the CLI registry.
    pub fn finish(
        mut self,
        pool: Arc<Pool>,
        threads: Vec<ThreadInfo>,
        barrier: Arc<Barrier>,
    ) -> Result<(Arc<Vnet>, CliRegistry<CliCtx>), String> {
        let has = |g: &GraphRegistry, n: &str| g.has_node(n);
        for c in &self.classes {
            if let Some(tx) = c.tx_node {
                self.graph.add_next("interface-output", tx);
            }
            for from in ["l2-output", "ip6-rewrite", "ip4-rewrite"] {
                if has(&self.graph, from) {
                    self.graph.add_next(from, c.output_node);
                }
            }
        }
        for &(_, n) in &self.ethertypes {
            self.graph.add_next("ethernet-input", n);
            // A bridge hands frames for its BVI straight to the L3 input node of their
            // ethertype (VPP's l2bvi_register_input_type): l2-fwd and l2-flood need the arcs.
            for from in ["l2-fwd", "l2-flood"] {
                if has(&self.graph, from) {
                    self.graph.add_next(from, n);
                }
            }
        }
        for &(_, n) in &self.ip6_protocols {
            self.graph.add_next("ip6-local", n);
            // ip6-receive runs ip6-local's code for receive DPOs and needs the same arcs.
            if has(&self.graph, "ip6-receive") {
                self.graph.add_next("ip6-receive", n);
            }
        }
        for f in &self.features {
            self.graph.add_next("ip6-input", f.node);
        }
        for &(_, n) in &self.ip4_protocols {
            for from in ["ip4-local", "ip4-receive"] {
                if has(&self.graph, from) {
                    self.graph.add_next(from, n);
                }
            }
        }
        for f in &self.ip4_features {
            if has(&self.graph, "ip4-input") {
                self.graph.add_next("ip4-input", f.node);
            }
        }
        for h in &self.udp_handlers {
            if has(&self.graph, "ip4-udp-lookup") {
                self.graph.add_next("ip4-udp-lookup", h.ip4);
            }
            if has(&self.graph, "ip6-udp-lookup") {
                self.graph.add_next("ip6-udp-lookup", h.ip6);
            }
        }
        if let Some(n) = self.ip4_reassembly {
            for from in ["ip4-local", "ip4-receive"] {
                if has(&self.graph, from) {
                    self.graph.add_next(from, n);
                }
            }
        }
        if let Some(h) = self.icmp_too_big {
            if has(&self.graph, "ip4-icmp-input") && has(&self.graph, h.ip4) {
                self.graph.add_next("ip4-icmp-input", h.ip4);
            }
            if has(&self.graph, "ip6-icmp-input") && has(&self.graph, h.ip6) {
                self.graph.add_next("ip6-icmp-input", h.ip6);
            }
        }
        let graph = Arc::new(Graph::build(self.graph)?);
        let statics = Statics {
            graph: graph.clone(),
            classes: self.classes,
            ethertypes: self.ethertypes,
            ip6_protocols: self.ip6_protocols,
            ip6_unicast_features: self.features,
            ip4_protocols: self.ip4_protocols,
            ip4_unicast_features: self.ip4_features,
            udp_handlers: self.udp_handlers,
            icmp_too_big: self.icmp_too_big,
            ip4_reassembly: self.ip4_reassembly,
            default_mtu: self.config.ethernet.default_mtu,
            default_rx_mode: self.config.interface.default_rx_mode,
        };
        let vnet = self.vnet;
        vnet.statics.set(statics).map_err(|_| "graph built twice")?;
        vnet.main_tasks
            .set(crate::main_task::MainTasks::new(self.main_tasks))
            .map_err(|_| "graph built twice")?;
        vnet.engine
            .set(Engine::new(graph, pool, threads, barrier))
            .map_err(|_| "engine built twice")?;
        // SAFETY: start-up, main thread, no worker running yet, no other Ctl.
        let mut ctl = unsafe { Ctl::new(vnet.engine().barrier.clone()) };
        let local = vnet.statics().class_id("local").expect("registered in new");
        vnet.create_interface(&mut ctl, "local0".into(), local, 0, [0; 6])?;
        Ok((vnet, self.cli))
    }
}

impl Vnet {
    /// Makes an interface (admin down, link down) and its counter rows; returns its sw_if_index.
    pub fn create_interface(
        &self,
        ctl: &mut Ctl,
        name: String,
        class: ClassId,
        dev_instance: u32,
        mac: [u8; 6],
    ) -> Result<u32, String> {
        let st = self.statics();
        let c = st.class(class);
        let g = &st.graph;
        let tx_next = c
            .tx_node
            .and_then(|t| g.next_index("interface-output", t))
            .unwrap_or(0);
        let l2_output_next = g.next_index("l2-output", c.output_node).unwrap_or(0);
        let ip6_output_next = g.next_index("ip6-rewrite", c.output_node).unwrap_or(0);
        let ethernet = c.ethernet;
        let s = self.state.write(ctl);
        if s.by_name.contains_key(&name) {
            return Err("Interface already exists".into());
        }
        // Reuse a deleted slot so churn does not grow the table without bound.
        let slot = s.free_slots.pop().map(|x| x as usize);
        let sw = slot.unwrap_or(s.ifs.len()) as u32;
        let i = Interface {
            name: name.clone(),
            sw_if_index: sw,
            class,
            dev_instance,
            admin_up: false,
            link_up: false,
            mac,
            mtu: if ethernet {
                [st.default_mtu, 0, 0, 0]
            } else {
                [0; 4]
            },
            hw_mtu: if ethernet { st.default_mtu } else { 0 },
            l2: L2Mode::L3,
            deleted: false,
            tx_next,
            l2_output_next,
            ip6_output_next,
            ip6_enabled: false,
            ip6_addrs: Vec::new(),
            ip6_link_local: None,
            ip6_unicast_features: 0,
            rx_mode: RxMode::Polling,
            rx_thread: 0,
            extra_rx_threads: Vec::new(),
            promisc: false,
            vlan: Default::default(),
        };
        match slot {
            Some(p) => s.ifs[p] = i,
            None => s.ifs.push(i),
        }
        for t in s.counters.iter_mut() {
            while t.len() <= sw as usize {
                t.push(IfRow::default());
            }
        }
        s.clear_counters(sw);
        self.log.notice(
            crate::log::class::INTERFACE,
            format_args!("{name} (sw_if_index {sw}) created"),
        );
        s.by_name.insert(name, sw);
        Ok(sw)
    }

    /// Marks an interface deleted (its index may be reused later).
    pub fn delete_interface(&self, ctl: &mut Ctl, sw: u32) -> Result<(), String> {
        if self.state.get(ctl).get(sw).is_none() {
            return Err("unknown interface".into());
        }
        // A port's sub-interfaces go first (as VPP's vnet_delete_hw_interface).
        for sub in self.state.get(ctl).sub_children(sw) {
            self.delete_interface(ctl, sub)?;
        }
        self.hooks.run_interface_delete(ctl, sw);
        let s = self.state.write(ctl);
        s.detach_sub(sw);
        let i = s.get_mut(sw).ok_or("unknown interface")?;
        i.deleted = true;
        i.admin_up = false;
        i.l2 = L2Mode::L3;
        let name = i.name.clone();
        s.by_name.remove(&name);
        s.free_slots.push(sw);
        self.log.notice(
            crate::log::class::INTERFACE,
            format_args!("{name} (sw_if_index {sw}) deleted"),
        );
        Ok(())
    }

    /// Looks up an interface by exact name (as VPP, case-sensitive).
    pub fn if_by_name(&self, ctl: &Ctl, name: &str) -> Option<u32> {
        self.state.get(ctl).by_name(name)
    }

    /// Parses an interface name argument: `unknown interface `<w>'` if absent.
    pub fn parse_if(
        &self,
        ctl: &Ctl,
        args: &mut pwire_cli::Args<'_>,
    ) -> Result<u32, pwire_cli::CliError> {
        let w = args.word("interface")?;
        self.if_by_name(ctl, w)
            .ok_or_else(|| pwire_cli::CliError::msg(format!("unknown interface `{w}'")))
    }

    pub fn if_name(&self, ctl: &Ctl, sw: u32) -> String {
        self.state
            .get(ctl)
            .ifs
            .get(sw as usize)
            .map_or_else(|| format!("sw_if_index {sw}"), |i| i.name.clone())
    }
}

/// Convenience for commands: `Command::new` with `CliCtx`.
pub fn cmd(
    path: &'static str,
    help: &'static str,
    mp_safe: bool,
    f: impl Fn(&mut pwire_cli::Args<'_>, &mut CliCtx) -> Result<(), pwire_cli::CliError>
        + Send
        + Sync
        + 'static,
) -> Command<CliCtx> {
    Command::new(path, help, mp_safe, f)
}

#[cfg(test)]
mod tests {
    use crate::Dataplane;
    use pwire_graph::Ctl;

    /// Creating an interface under the barrier costs the same however many exist: no interface
    /// record and no counter row moves when the tables grow (a `Vec` doubling would copy them
    /// all while the workers wait).
    #[test]
    fn creating_interfaces_moves_no_existing_record() {
        std::env::set_var("PWIRE_NO_HUGEPAGES", "1");
        let cfg = pwire_config::parse_str("t.conf", "").unwrap();
        let dp = Dataplane::build(cfg, &[]).unwrap();
        let vnet = dp.vnet.clone();
        // SAFETY: the test thread is the main thread of a dataplane with no worker, which is
        // not dispatching; this is the only Ctl alive.
        let mut ctl = unsafe { Ctl::new(vnet.engine().barrier.clone()) };
        let local = vnet.statics().class_id("local").unwrap();
        let at = |ctl: &Ctl| {
            let s = vnet.state.get(ctl);
            (
                std::ptr::from_ref(s.get(0).unwrap()) as usize,
                std::ptr::from_ref(s.row(0, 0).unwrap()) as usize,
            )
        };
        let before = at(&ctl);
        for i in 0..5000 {
            let sw = vnet
                .create_interface(&mut ctl, format!("x{i}"), local, i, [0; 6])
                .unwrap();
            assert_eq!(sw, i + 1);
        }
        assert_eq!(
            at(&ctl),
            before,
            "interface 0's record or counter row moved"
        );
        // Deleted slots are reused, last deleted first.
        vnet.delete_interface(&mut ctl, 10).unwrap();
        vnet.delete_interface(&mut ctl, 20).unwrap();
        let a = vnet.create_interface(&mut ctl, "y".into(), local, 0, [0; 6]);
        assert_eq!(a, Ok(20));
        assert_eq!(vnet.if_by_name(&ctl, "y"), Some(20));
        assert_eq!(vnet.if_by_name(&ctl, "x19"), None);
        assert_eq!(vnet.if_by_name(&ctl, "x4999"), Some(5000));
    }
}
