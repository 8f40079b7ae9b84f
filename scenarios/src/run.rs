//! Running a scenario: build its world, run it to its horizon, apply the
//! oracles and its own expectations, and keep everything for the renderers.

use crate::analysis::segments;
use crate::host::{Host, Logged, Record, Stream};
use crate::oracle::{self, Violation};
use sim::{Addr, NodeId, RunStats, SimError, Time, World};
use stack::{SocketError, SocketInfo, State};
use std::net::Ipv4Addr;

/// A world ready to run, with its hosts and how long to run it.
pub struct Setup {
    pub world: World,
    pub hosts: Vec<NodeId>,
    /// Run until this virtual time; faults have stopped well before it so
    /// every connection must have ended (the termination oracle).
    pub horizon: Time,
    /// Skip the termination oracle (a scenario that ends mid-connection on purpose).
    pub open_at_end: bool,
}

/// The result of one run.
pub struct Outcome {
    pub seed: u64,
    pub world: World,
    pub hosts: Vec<NodeId>,
    pub stats: RunStats,
    pub violations: Vec<Violation>,
    /// The scenario's own expectation, if it failed.
    pub expectation: Result<(), String>,
}

impl Outcome {
    pub fn host(&self, index: usize) -> &Host {
        self.world
            .node::<Host>(self.hosts[index])
            .expect("hosts are Host nodes")
    }
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }
    pub fn host_node(&self, index: usize) -> NodeId {
        self.hosts[index]
    }
    pub fn host_names(&self) -> Vec<String> {
        (0..self.hosts.len())
            .map(|i| self.host(i).name.clone())
            .collect()
    }
    pub fn is_host(&self, node: NodeId) -> bool {
        self.hosts.contains(&node)
    }
    pub fn node_name(&self, node: NodeId) -> String {
        self.world.node_name(node).unwrap_or("?").to_string()
    }
    pub fn node_of_addr(&self, ip: Ipv4Addr) -> Option<NodeId> {
        let addr = Addr::from(ip);
        self.hosts
            .iter()
            .copied()
            .find(|&n| self.world.node_addr(n) == Some(addr))
    }
    fn host_of_node(&self, node: NodeId) -> Option<&Host> {
        self.world.node::<Host>(node)
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
    pub fn visited(&self, index: usize, state: State) -> bool {
        self.states(index).contains(&state)
    }
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
    pub fn streams(&self, index: usize) -> &[Stream] {
        &self.host(index).streams
    }
    /// Retransmitted segments sent by host `index`.
    pub fn retransmissions(&self, index: usize) -> usize {
        let node = self.hosts[index];
        segments(self.world.trace())
            .iter()
            .filter(|s| s.node == node && s.kind == sim::EventKind::Send && s.retransmission)
            .count()
    }
    /// Segments host `index` sent with all of `flags` set.
    pub fn sent_with(&self, index: usize, flags: stack::wire::Flags) -> usize {
        let node = self.hosts[index];
        segments(self.world.trace())
            .iter()
            .filter(|s| s.node == node && s.kind == sim::EventKind::Send && s.flags.contains(flags))
            .count()
    }

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

/// Runs a setup and applies the four oracles.
pub fn execute(seed: u64, mut setup: Setup) -> Result<Outcome, SimError> {
    for &node in &setup.hosts {
        if let Some(first) = setup.world.node::<Host>(node).and_then(Host::first_wake) {
            setup.world.wake_node_at(node, first, 0)?;
        }
    }
    let stats = setup.world.run_until(setup.horizon)?;
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
        .filter(|s| outcome.hosts.contains(&s.node))
        .collect();
    violations.extend(oracle::check_segments(&sent_by_hosts));
    outcome.violations = violations;
    Ok(outcome)
}
