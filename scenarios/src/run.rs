//! Running a scenario: build its world, run it to its horizon, apply the
//! oracles and its own expectations, and keep everything for the renderers.

use crate::analysis::segments;
use crate::host::{HasHost, Host, Logged, Record, Stream};
use crate::oracle::{self, Violation};
use sim::{Addr, NodeId, RunStats, SimError, Time, World};
use stack::{SocketError, SocketInfo, State};
use std::net::Ipv4Addr;

/// A node that carries a [`Host`], and how to find the host inside it: a
/// plain `Host` node (`node.into()`) or any node type that implements
/// [`HasHost`] ([`HostNode::of`]). Oracles, the ladder, JSON, pcap and `ss`
/// read every host through this, so custom nodes keep them.
#[derive(Clone, Copy)]
pub struct HostNode {
    /// The host's engine node.
    pub node: NodeId,
    view: fn(&World, NodeId) -> Option<&Host>,
    view_mut: fn(&mut World, NodeId) -> Option<&mut Host>,
}

fn view_of<T: HasHost>(world: &World, node: NodeId) -> Option<&Host> {
    world.node::<T>(node).map(HasHost::host)
}

fn view_mut_of<T: HasHost>(world: &mut World, node: NodeId) -> Option<&mut Host> {
    world.node_mut::<T>(node).and_then(HasHost::host_mut)
}

impl HostNode {
    /// `node` is a `T` that carries a host.
    pub fn of<T: HasHost>(node: NodeId) -> HostNode {
        HostNode {
            node,
            view: view_of::<T>,
            view_mut: view_mut_of::<T>,
        }
    }

    /// The host inside the node, if the node is of the declared type.
    pub fn host<'w>(&self, world: &'w World) -> Option<&'w Host> {
        (self.view)(world, self.node)
    }

    /// The host inside the node, to change before a run, if the node is of
    /// the declared type and gives it out ([`HasHost::host_mut`]).
    pub fn host_mut<'w>(&self, world: &'w mut World) -> Option<&'w mut Host> {
        (self.view_mut)(world, self.node)
    }
}

impl From<NodeId> for HostNode {
    /// A plain [`Host`] node.
    fn from(node: NodeId) -> HostNode {
        HostNode::of::<Host>(node)
    }
}

/// A world ready to run, with its hosts and how long to run it.
pub struct Setup {
    /// The world, built but not yet run.
    pub world: World,
    /// The nodes that carry a host, in host index order.
    pub hosts: Vec<HostNode>,
    /// Run until this virtual time; faults have stopped well before it so
    /// every connection must have ended (the termination oracle).
    pub horizon: Time,
    /// Skip the termination oracle (a scenario that ends mid-connection on purpose).
    pub open_at_end: bool,
}

impl Setup {
    /// Applies `options` to every host that gives itself out
    /// ([`HasHost::host_mut`]).
    pub fn apply(&mut self, options: &RunOptions) {
        if options.metrics {
            for h in &self.hosts {
                if let Some(host) = h.host_mut(&mut self.world) {
                    host.set_record_metrics(true);
                }
            }
        }
    }
}

/// What a run records beyond the trace. The default records nothing more,
/// and costs nothing more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Every host records its connections' TCP internals over time
    /// ([`crate::metrics`]).
    pub metrics: bool,
}

/// The result of one run.
pub struct Outcome {
    /// The seed it ran at.
    pub seed: u64,
    /// The world after the run: trace, link counters, nodes.
    pub world: World,
    /// The host nodes, in host index order.
    pub hosts: Vec<HostNode>,
    /// Events processed, the end time and the trace hash.
    pub stats: RunStats,
    /// What the oracles found wrong (empty: all passed).
    pub violations: Vec<Violation>,
    /// The scenario's own expectation, if it failed.
    pub expectation: Result<(), String>,
}

impl Outcome {
    /// Host `index` (execute checked that every host node carries one).
    pub fn host(&self, index: usize) -> &Host {
        self.hosts[index]
            .host(&self.world)
            .expect("execute checked every host node")
    }
    /// How many hosts the run has.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }
    /// The engine node of host `index`.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`Outcome::host_count`].
    pub fn host_node(&self, index: usize) -> NodeId {
        self.hosts[index].node
    }
    /// Every host's name, in host index order.
    pub fn host_names(&self) -> Vec<String> {
        (0..self.hosts.len())
            .map(|i| self.host(i).name.clone())
            .collect()
    }
    /// Whether `node` is one of the hosts (not a router or an injector).
    pub fn is_host(&self, node: NodeId) -> bool {
        self.hosts.iter().any(|h| h.node == node)
    }
    /// The node's name (`?` for an unknown id).
    pub fn node_name(&self, node: NodeId) -> String {
        self.world.node_name(node).unwrap_or("?").to_string()
    }
    /// The host node with IPv4 address `ip`, if any.
    pub fn node_of_addr(&self, ip: Ipv4Addr) -> Option<NodeId> {
        let addr = Addr::from(ip);
        self.hosts
            .iter()
            .map(|h| h.node)
            .find(|&n| self.world.node_addr(n) == Some(addr))
    }
    fn host_of_node(&self, node: NodeId) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.node == node)
            .and_then(|h| h.host(&self.world))
    }
    /// The sender's state when the Send event at `trace_index` happened.
    pub fn departure_state(&self, node: NodeId, trace_index: usize) -> Option<State> {
        let host = self.host_of_node(node)?;
        let i = host
            .departures
            .partition_point(|d| d.trace_index < trace_index as u64);
        host.departures
            .get(i)
            .filter(|d| d.trace_index == trace_index as u64)
            .and_then(|d| d.state)
    }
    /// The receiver's state after the Deliver event at `trace_index`.
    pub fn arrival_state(&self, node: NodeId, trace_index: usize) -> Option<State> {
        let host = self.host_of_node(node)?;
        let i = host
            .arrivals
            .partition_point(|d| d.trace_index < trace_index as u64);
        host.arrivals
            .get(i)
            .filter(|d| d.trace_index == trace_index as u64)
            .and_then(|d| d.state)
    }
    /// Every host's name with its `ss`-style socket rows at the end of the run.
    pub fn sockets_by_host(&self) -> Vec<(String, Vec<SocketInfo>)> {
        (0..self.hosts.len())
            .map(|i| (self.host(i).name.clone(), self.host(i).endpoint.sockets()))
            .collect()
    }

    /// Every state host `index` entered, in order.
    pub fn states(&self, index: usize) -> Vec<State> {
        self.host(index)
            .log
            .iter()
            .filter_map(|l| match l.record {
                Record::State { to, .. } => Some(to),
                _ => None,
            })
            .collect()
    }
    /// Whether host `index` ever entered `state`.
    pub fn visited(&self, index: usize, state: State) -> bool {
        self.states(index).contains(&state)
    }
    /// Every connection error host `index` saw, in order.
    pub fn errors(&self, index: usize) -> Vec<SocketError> {
        self.host(index)
            .log
            .iter()
            .filter_map(|l| match l.record {
                Record::Error { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }
    /// Every connection host `index` opened or accepted, by connection number.
    pub fn streams(&self, index: usize) -> &[Stream] {
        &self.host(index).streams
    }
    /// Retransmitted segments sent by host `index`.
    pub fn retransmissions(&self, index: usize) -> usize {
        let node = self.hosts[index].node;
        segments(self.world.trace())
            .iter()
            .filter(|s| s.node == node && s.kind == sim::EventKind::Send && s.retransmission)
            .count()
    }
    /// Segments host `index` sent with all of `flags` set.
    pub fn sent_with(&self, index: usize, flags: stack::wire::Flags) -> usize {
        let node = self.hosts[index].node;
        segments(self.world.trace())
            .iter()
            .filter(|s| s.node == node && s.kind == sim::EventKind::Send && s.flags.contains(flags))
            .count()
    }

    /// Whether every oracle and the scenario's own expectation passed.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.expectation.is_ok()
    }

    /// `pass`, or what failed.
    pub fn verdict(&self) -> String {
        if self.passed() {
            return "pass".to_string();
        }
        let mut parts: Vec<String> = self.violations.iter().map(|v| v.to_string()).collect();
        if let Err(e) = &self.expectation {
            parts.push(format!("[expectation] {e}"));
        }
        format!("FAIL: {}", parts.join("; "))
    }
}

/// Runs a setup and applies the five oracles (delivery, transitions,
/// termination, segments, checksum). A host node that does not
/// carry a host of its declared type is `UnknownNode`, before the run.
pub fn execute(seed: u64, setup: Setup) -> Result<Outcome, SimError> {
    execute_driven(seed, setup, |world, horizon| world.run_until(horizon))
}

/// Like [`execute`], but `drive` runs the world to the horizon it is given
/// (a sweep stops on the way to crash a host, then runs on). The hosts'
/// first wake-ups are scheduled before `drive` is called.
pub fn execute_driven(
    seed: u64,
    mut setup: Setup,
    drive: impl FnOnce(&mut World, Time) -> Result<RunStats, SimError>,
) -> Result<Outcome, SimError> {
    for h in &setup.hosts {
        let host = h
            .host(&setup.world)
            .ok_or(SimError::UnknownNode(h.node.0))?;
        if let Some(first) = host.first_wake() {
            setup.world.wake_node_at(h.node, first, 0)?;
        }
    }
    let stats = drive(&mut setup.world, setup.horizon)?;
    Ok(judge(seed, setup, stats))
}

/// Applies the four oracles to a world that has already run (by
/// [`execute`], or by a driver with its own stopping rule, such as a
/// simulation that ends when its test body returns). `setup.horizon` is
/// not used.
pub fn judge(seed: u64, setup: Setup, stats: RunStats) -> Outcome {
    let mut outcome = Outcome {
        seed,
        world: setup.world,
        hosts: setup.hosts,
        stats,
        violations: Vec::new(),
        expectation: Ok(()),
    };
    let names = outcome.host_names();
    let streams: Vec<(&str, &[Stream])> = (0..outcome.hosts.len())
        .map(|i| (names[i].as_str(), outcome.streams(i)))
        .collect();
    let mut violations = oracle::check_delivery(&streams);
    let logs: Vec<(&str, &[Logged])> = (0..outcome.hosts.len())
        .map(|i| (names[i].as_str(), outcome.host(i).log.as_slice()))
        .collect();
    violations.extend(oracle::check_transitions(&logs));
    if !setup.open_at_end {
        let sockets = outcome.sockets_by_host();
        let sockets: Vec<(&str, &[SocketInfo])> = sockets
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        violations.extend(oracle::check_termination(&sockets));
    }
    // Segments as their hosts sent them (router forwards and forged packets excluded).
    let sent_by_hosts: Vec<_> = segments(outcome.world.trace())
        .into_iter()
        .filter(|s| outcome.is_host(s.node))
        .collect();
    violations.extend(oracle::check_segments(&sent_by_hosts));
    let sent = outcome
        .world
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == sim::EventKind::Send && outcome.is_host(e.node))
        .filter(|e| e.bytes.len() == e.len as usize)
        .map(|e| {
            (
                e.time,
                outcome.world.node_name(e.node).unwrap_or("?"),
                e.bytes.as_slice(),
            )
        });
    violations.extend(oracle::check_checksums(sent));
    outcome.violations = violations;
    outcome
}
