//! Node registration and graph build.
//!
//! Every crate registers its nodes by name with their next-node names; other crates may add
//! arcs to a node they do not own (`add_next`, e.g. l2tp adds `ip6-local -> l2tp-decap-local`).
//! [`Graph::build`] resolves every name once and fails on an unknown one, so a typo is a
//! start-up error, never a runtime surprise.

use crate::counters::CounterDecl;
use crate::node::{Node, NodeKind};
use std::collections::HashMap;

/// Factory making one node instance for one thread.
pub type Factory = Box<dyn Fn(&BuildCx<'_>) -> Box<dyn Node> + Send + Sync>;

/// A node's registration.
pub struct NodeReg {
    pub name: String,
    pub kind: NodeKind,
    pub nexts: Vec<String>,
    pub counters: Vec<CounterDecl>,
    pub factory: Factory,
    /// `trace add <name> N` is allowed (input nodes that mark packets).
    pub traceable: bool,
}

impl std::fmt::Debug for NodeReg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeReg")
            .field("name", &self.name)
            .field("nexts", &self.nexts)
            .finish()
    }
}

impl NodeReg {
    /// A registration from the static declarations a node module makes with `next_nodes!` and
    /// `counters!`.
    pub fn new<F>(
        name: &str,
        kind: NodeKind,
        nexts: &[&str],
        counters: &[CounterDecl],
        f: F,
    ) -> Self
    where
        F: Fn(&BuildCx<'_>) -> Box<dyn Node> + Send + Sync + 'static,
    {
        NodeReg {
            name: name.to_string(),
            kind,
            nexts: nexts.iter().map(|s| s.to_string()).collect(),
            counters: counters.to_vec(),
            factory: Box::new(f),
            traceable: kind == NodeKind::Input,
        }
    }
}

/// Collects registrations until [`Graph::build`].
#[derive(Debug, Default)]
pub struct Registry {
    nodes: Vec<NodeReg>,
    extra_nexts: Vec<(String, String)>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn node(&mut self, reg: NodeReg) {
        self.nodes.push(reg);
    }
    /// Adds an arc `from -> to` (resolved at build; duplicates are merged).
    pub fn add_next(&mut self, from: &str, to: &str) {
        self.extra_nexts.push((from.to_string(), to.to_string()));
    }
    /// Names of every registered node, in registration order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
    pub fn has_node(&self, name: &str) -> bool {
        self.nodes.iter().any(|n| n.name == name)
    }
}

/// Static facts about one node after the build.
#[derive(Debug)]
pub struct NodeInfo {
    pub name: String,
    pub kind: NodeKind,
    pub nexts: Vec<String>,
    pub next_targets: Vec<u32>,
    pub counters: Vec<CounterDecl>,
    pub error_base: u16,
    pub traceable: bool,
}

/// The built graph: names resolved, counters laid out. Immutable, shared by every thread.
pub struct Graph {
    pub nodes: Vec<NodeInfo>,
    factories: Vec<Factory>,
    by_name: HashMap<String, u32>,
    n_counters: usize,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl Graph {
    /// Resolves every next name. Errors name the node and the missing next.
    pub fn build(reg: Registry) -> Result<Graph, String> {
        let mut by_name = HashMap::new();
        for (i, n) in reg.nodes.iter().enumerate() {
            if by_name.insert(n.name.clone(), i as u32).is_some() {
                return Err(format!("node `{}' registered twice", n.name));
            }
        }
        let mut nodes = Vec::with_capacity(reg.nodes.len());
        let mut factories = Vec::with_capacity(reg.nodes.len());
        let mut regs = reg.nodes;
        for (from, to) in &reg.extra_nexts {
            let i = *by_name
                .get(from)
                .ok_or_else(|| format!("add_next: unknown node `{from}'"))?;
            let n = &mut regs[i as usize];
            if !n.nexts.iter().any(|x| x == to) {
                n.nexts.push(to.clone());
            }
        }
        let mut error_base = 0usize;
        for n in regs {
            let mut next_targets = Vec::with_capacity(n.nexts.len());
            for nx in &n.nexts {
                let t = by_name
                    .get(nx)
                    .ok_or_else(|| format!("node `{}': unknown next node `{}'", n.name, nx))?;
                next_targets.push(*t);
            }
            if n.nexts.len() >= crate::NEXT_CONSUMED as usize {
                return Err(format!("node `{}': too many next nodes", n.name));
            }
            let base = u16::try_from(error_base).map_err(|_| "too many counters".to_string())?;
            error_base += n.counters.len();
            nodes.push(NodeInfo {
                name: n.name,
                kind: n.kind,
                nexts: n.nexts,
                next_targets,
                counters: n.counters,
                error_base: base,
                traceable: n.traceable,
            });
            factories.push(n.factory);
        }
        if error_base > u16::MAX as usize {
            return Err("too many counters".into());
        }
        Ok(Graph {
            nodes,
            factories,
            by_name,
            n_counters: error_base,
        })
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).map(|&i| i as usize)
    }
    /// The next index of arc `from -> to`.
    pub fn next_index(&self, from: &str, to: &str) -> Option<u16> {
        let n = &self.nodes[self.node_index(from)?];
        n.nexts.iter().position(|x| x == to).map(|p| p as u16)
    }
    /// Global error code of `node`'s counter named `counter`.
    pub fn error_code(&self, node: &str, counter: &str) -> Option<u16> {
        let n = &self.nodes[self.node_index(node)?];
        n.counters
            .iter()
            .position(|c| c.name == counter)
            .map(|p| n.error_base + p as u16)
    }
    /// Node and counter of a global error code.
    pub fn error_owner(&self, code: u16) -> Option<(usize, usize)> {
        let i = self
            .nodes
            .partition_point(|n| n.error_base as usize + n.counters.len() <= code as usize);
        let n = self.nodes.get(i)?;
        let k = (code - n.error_base) as usize;
        (k < n.counters.len()).then_some((i, k))
    }
    pub fn n_counters(&self) -> usize {
        self.n_counters
    }
    pub(crate) fn instantiate(&self, node: usize, thread: usize) -> Box<dyn Node> {
        (self.factories[node])(&BuildCx {
            graph: self,
            node,
            thread,
        })
    }
}

/// What a factory knows while making a node instance.
#[derive(Debug)]
pub struct BuildCx<'a> {
    pub graph: &'a Graph,
    pub node: usize,
    pub thread: usize,
}

impl BuildCx<'_> {
    /// This node's next index for `to` (an arc added with `add_next` or declared).
    pub fn next_index(&self, to: &str) -> Option<u16> {
        self.graph.nodes[self.node]
            .nexts
            .iter()
            .position(|x| x == to)
            .map(|p| p as u16)
    }
    /// This node's error base (global code of its counter 0).
    pub fn error_base(&self) -> u16 {
        self.graph.nodes[self.node].error_base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Cx, Frame};
    use crate::{counters, next_nodes};

    struct Nop;
    impl Node for Nop {
        fn process(&mut self, _f: &mut Frame<'_>, _cx: &mut Cx<'_>) {}
    }
    next_nodes! { #[allow(dead_code)] enum N { Drop => "error-drop", B => "b" } }
    counters! { #[allow(dead_code)] enum C { X: error = "x happened", Y: info = "y happened" } }

    fn reg(name: &str, nexts: &[&str], c: &[CounterDecl]) -> NodeReg {
        NodeReg::new(name, NodeKind::Internal, nexts, c, |_| Box::new(Nop))
    }

    #[test]
    fn build_resolves_names_and_fails_on_unknown_next() {
        let mut r = Registry::new();
        r.node(reg("error-drop", &[], &[]));
        r.node(reg("a", N::NAMES, C::DECLS));
        r.node(reg("b", &["error-drop"], C::DECLS));
        r.add_next("b", "a");
        let g = Graph::build(r).expect("all names resolve");
        assert_eq!(g.next_index("a", "b"), Some(N::B as u16));
        assert_eq!(g.next_index("b", "a"), Some(1), "added arc");
        let a = g.node_index("a").unwrap();
        assert_eq!(g.nodes[a].next_targets, vec![0, 2]);
        // Counter codes are laid out node after node.
        assert_eq!(g.error_code("a", "y happened"), Some(1));
        assert_eq!(g.error_code("b", "x happened"), Some(2));
        assert_eq!(g.error_owner(3), Some((2, 1)));
        assert_eq!(g.error_owner(4), None);

        let mut r = Registry::new();
        r.node(reg("a", &["error-drop", "nowhere"], &[]));
        r.node(reg("error-drop", &[], &[]));
        let e = Graph::build(r).unwrap_err();
        assert_eq!(e, "node `a': unknown next node `nowhere'");

        let mut r = Registry::new();
        r.node(reg("a", &[], &[]));
        r.node(reg("a", &[], &[]));
        assert!(Graph::build(r).unwrap_err().contains("registered twice"));
    }
}
