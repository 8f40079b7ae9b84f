//! The simulation builder: hosts by name with async software, a client
//! whose future is the test body, the links between them, faults and
//! network changes at chosen times, crashes, a seed; and a run that
//! returns the test's result with everything tcpsim records.

use crate::host::{
    BoxFuture, Idle, Lifecycle, Runner, Software, Status, TICK, TokioHost, stuck_message,
};
use crate::net::{HostState, with_current};
use crate::runtime::CatchUp;
use scenarios::catalogue::Arrange;
use scenarios::host::Host;
use scenarios::run::{Outcome, Setup};
use sim::topology::{Endpoint, Spoke, StarBuilder};
use sim::{Addr, FaultRule, LinkChange, LinkConfig, SimError, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::rc::Rc;

/// Which way along a host's link (its spoke to the simulation's hub).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Packets the host sends.
    FromHost,
    /// Packets sent to the host.
    ToHost,
    /// Both ways.
    Both,
}

/// Why a simulation could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// No `client`: its future is the test's body and result.
    NoClient,
    /// A fault, change or crash names a host the simulation does not have.
    UnknownHost(String),
    /// Only servers restart; the client's test body runs once.
    CrashClient(String),
    /// The engine refused the topology, a link or a fault.
    Sim(SimError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoClient => write!(
                f,
                "the simulation has no client: add one with Sim::client (its future is the test)"
            ),
            BuildError::UnknownHost(h) => write!(f, "no host named {h:?} in this simulation"),
            BuildError::CrashClient(h) => write!(
                f,
                "{h} is the client: only hosts added with Sim::host can crash and restart"
            ),
            BuildError::Sim(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<SimError> for BuildError {
    fn from(e: SimError) -> BuildError {
        BuildError::Sim(e)
    }
}

struct HostSpec {
    name: String,
    software: Software,
    link: Option<LinkConfig>,
}

/// A simulated network of tokio programs (see the crate docs for an example).
pub struct Sim {
    seed: u64,
    link: LinkConfig,
    hosts: Vec<HostSpec>,
    pending_link: Vec<(String, LinkConfig)>,
    faults: Vec<(String, Direction, FaultRule)>,
    changes: Vec<(Time, String, Direction, LinkChange)>,
    lifecycle: Vec<(String, Time, Lifecycle)>,
    duration: Time,
    tcp: TcpConfig,
    trace: TraceMode,
    event_budget: u64,
}

/// A finished run: the test's result, and the run as tcpsim recorded it
/// (oracles, trace, every host's records) for the ladder, pcap and `ss`
/// renderers of [`scenarios::render`].
pub struct Run {
    /// Ok if the client's test body returned Ok, no host failed and every
    /// oracle passed; else what went wrong.
    pub result: Result<(), String>,
    /// The run as tcpsim recorded it: trace, hosts and oracle verdicts.
    pub outcome: Outcome,
}

impl Run {
    /// The trace hash: equal for equal seeds, on every machine.
    pub fn trace_hash(&self) -> u64 {
        self.outcome.stats.trace_hash
    }
}

impl Sim {
    /// An empty simulation run by `seed`: every link 100 Mbit/s with 1 ms
    /// of delay (hosts meet at a hub, so 4 ms round trips), 60 s of
    /// virtual time at most.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            link: LinkConfig::new(100_000_000, sim::Duration::from_millis(1)),
            hosts: Vec::new(),
            pending_link: Vec::new(),
            faults: Vec::new(),
            changes: Vec::new(),
            lifecycle: Vec::new(),
            duration: Time::from_secs(60),
            tcp: TcpConfig::default(),
            trace: TraceMode::default(),
            event_budget: WorldConfig::new(seed).event_budget,
        }
    }

    /// Every host's link to the hub, both ways (unless the host has its own).
    pub fn link(&mut self, config: LinkConfig) -> &mut Sim {
        self.link = config;
        self
    }

    /// A server: `software` is called to start it, and again after each
    /// restart. Its address is 10.0.0.N in the order hosts are added.
    pub fn host<F, Fut>(&mut self, name: &str, software: F) -> &mut Sim
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = crate::Result> + 'static,
    {
        let make: Rc<dyn Fn() -> BoxFuture> = Rc::new(move || Box::pin(software()));
        self.hosts.push(HostSpec {
            name: name.to_string(),
            software: Software::Server(make),
            link: None,
        });
        self
    }

    /// The client: `test` is the test body; the run ends when it returns,
    /// and its result is the run's.
    pub fn client<Fut>(&mut self, name: &str, test: Fut) -> &mut Sim
    where
        Fut: Future<Output = crate::Result> + 'static,
    {
        self.hosts.push(HostSpec {
            name: name.to_string(),
            software: Software::Client(Some(Box::pin(test))),
            link: None,
        });
        self
    }

    /// `host`'s own link to the hub (loss, delay, rate...), both ways.
    pub fn host_link(&mut self, host: &str, config: LinkConfig) -> &mut Sim {
        self.pending_link.push((host.to_string(), config));
        self
    }

    /// A fault rule on `host`'s link ("drop the 3rd segment it sends").
    pub fn fault(&mut self, host: &str, direction: Direction, rule: FaultRule) -> &mut Sim {
        self.faults.push((host.to_string(), direction, rule));
        self
    }

    /// A change to `host`'s link at `at` (partition, repair, hold, release,
    /// new rate, delay or loss).
    pub fn change_at(
        &mut self,
        at: Time,
        host: &str,
        direction: Direction,
        change: LinkChange,
    ) -> &mut Sim {
        self.changes.push((at, host.to_string(), direction, change));
        self
    }

    /// Cuts `host` off both ways from `from` until `until`.
    pub fn partition(&mut self, host: &str, from: Time, until: Time) -> &mut Sim {
        self.change_at(from, host, Direction::Both, LinkChange::Partition)
            .change_at(until, host, Direction::Both, LinkChange::Repair)
    }

    /// Power loss at `at`: `host`'s software stops and its TCP state is
    /// gone; it answers nothing (its link is down) until
    /// [`Sim::restart_at`].
    pub fn crash_at(&mut self, host: &str, at: Time) -> &mut Sim {
        self.lifecycle
            .push((host.to_string(), at, Lifecycle::Crash));
        self.change_at(at, host, Direction::Both, LinkChange::Partition)
    }

    /// `host` is back at `at`: its link up, its software started again on
    /// a fresh TCP endpoint.
    pub fn restart_at(&mut self, host: &str, at: Time) -> &mut Sim {
        self.lifecycle
            .push((host.to_string(), at, Lifecycle::Restart));
        self.change_at(at, host, Direction::Both, LinkChange::Repair)
    }

    /// Crash and immediate reboot at `at`: the TCP state is lost, so peers
    /// of old connections get RSTs.
    pub fn bounce_at(&mut self, host: &str, at: Time) -> &mut Sim {
        self.lifecycle
            .push((host.to_string(), at, Lifecycle::Bounce));
        self
    }

    /// The most virtual time the test may take (60 s unless set).
    pub fn duration(&mut self, limit: Time) -> &mut Sim {
        self.duration = limit;
        self
    }

    /// TCP settings of every host.
    pub fn tcp(&mut self, config: TcpConfig) -> &mut Sim {
        self.tcp = config;
        self
    }

    /// Keep every trace event (the default, for ladders and pcap) or only
    /// the hash (sweeps).
    pub fn trace(&mut self, mode: TraceMode) -> &mut Sim {
        self.trace = mode;
        self
    }

    /// The most engine events the run may take.
    pub fn event_budget(&mut self, events: u64) -> &mut Sim {
        self.event_budget = events;
        self
    }

    /// Runs the test; Ok if it passed (see [`Run::result`]).
    pub fn run(&mut self) -> crate::Result {
        let run = self.execute()?;
        run.result.map_err(Into::into)
    }

    /// Runs the test and keeps the run. The simulation's hosts and
    /// software are used up (a second call is an empty simulation's error).
    pub fn execute(&mut self) -> Result<Run, BuildError> {
        let seed = self.seed;
        let (result, outcome) = self.execute_arranged(&mut |_, _| Ok(None))?;
        let result = result.and_then(|()| {
            if outcome.violations.is_empty() {
                Ok(())
            } else {
                Err(format!("seed {seed}: {}", outcome.verdict()))
            }
        });
        Ok(Run { result, outcome })
    }

    /// The seed this simulation runs by.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs the test with `arrange` called once on the built world before
    /// the first event (see [`scenarios::catalogue::Arrange`]): a crash it
    /// returns is made as [`Sim::bounce_at`] would (the host's TCP state
    /// lost, its software restarted). Returns the test body's own result
    /// (or why the run stopped) beside the outcome the oracles judged.
    pub fn execute_arranged(
        &mut self,
        arrange: &mut Arrange<'_>,
    ) -> Result<(Result<(), String>, Outcome), BuildError> {
        let seed = self.seed;
        let mut hosts = std::mem::take(&mut self.hosts);
        for (name, config) in std::mem::take(&mut self.pending_link) {
            let h = hosts
                .iter_mut()
                .find(|h| h.name == name)
                .ok_or(BuildError::UnknownHost(name))?;
            h.link = Some(config);
        }
        if !hosts
            .iter()
            .any(|h| matches!(h.software, Software::Client(_)))
        {
            return Err(BuildError::NoClient);
        }
        let known = |name: &str| hosts.iter().any(|h| h.name == name);
        for name in self
            .faults
            .iter()
            .map(|f| &f.0)
            .chain(self.changes.iter().map(|c| &c.1))
            .chain(self.lifecycle.iter().map(|l| &l.0))
        {
            if !known(name) {
                return Err(BuildError::UnknownHost(name.clone()));
            }
        }
        for (name, _, _) in &self.lifecycle {
            if hosts
                .iter()
                .any(|h| &h.name == name && matches!(h.software, Software::Client(_)))
            {
                return Err(BuildError::CrashClient(name.clone()));
            }
        }
        let addr_of = |i: usize| Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1);
        let names: Rc<BTreeMap<String, Ipv4Addr>> = Rc::new(
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| (h.name.clone(), addr_of(i)))
                .collect(),
        );
        // The least propagation delay of any link (as configured or as a
        // scheduled change may set it): a packet crosses two, host to hub
        // to host.
        let least_delay = hosts
            .iter()
            .map(|h| h.link.as_ref().unwrap_or(&self.link).delay)
            .chain(std::iter::once(self.link.delay))
            .chain(self.changes.iter().filter_map(|c| match c.3 {
                LinkChange::SetDelay { delay } => Some(delay),
                _ => None,
            }))
            .min()
            .unwrap_or(sim::Duration::ZERO);
        let status = Rc::new(RefCell::new(Status {
            seed,
            lookahead: sim::Duration::from_nanos(2 * least_delay.as_nanos()),
            ..Status::default()
        }));
        let mut world = World::new(WorldConfig {
            seed,
            event_budget: self.event_budget,
            trace: self.trace,
        });
        let mut star = StarBuilder::new(self.link.clone());
        let idle: Idle = Rc::default();
        let mut runtimes = Vec::new();
        let mut lifecycles = Vec::new();
        let mut clients = Vec::new();
        for (i, spec) in hosts.into_iter().enumerate() {
            let addr = addr_of(i);
            let lifecycle: Rc<RefCell<Vec<(Time, Lifecycle)>>> = Rc::new(RefCell::new(
                self.lifecycle
                    .iter()
                    .filter(|(n, _, _)| *n == spec.name)
                    .map(|&(_, t, l)| (t, l))
                    .collect(),
            ));
            lifecycles.push(lifecycle.clone());
            clients.push(matches!(spec.software, Software::Client(_)));
            let state = Rc::new(RefCell::new(HostState::new(
                spec.name.clone(),
                addr,
                names.clone(),
            )));
            let runner: Runner = Rc::default();
            runtimes.push(HostRuntime {
                name: spec.name.clone(),
                state: state.clone(),
                runner: runner.clone(),
            });
            let app = TokioHost::new(
                state,
                status.clone(),
                spec.software,
                lifecycle,
                runner,
                i,
                idle.clone(),
            );
            let secret = isn_secret(seed, &spec.name);
            let host = Host::new(&spec.name, Addr::from(addr), secret, self.tcp.clone()).app(app);
            let endpoint = Endpoint::new(spec.name.clone(), Addr::from(addr), host);
            star = match spec.link {
                Some(l) => star.leaf_with(endpoint, Spoke::symmetric(l)),
                None => star.leaf(endpoint),
            };
        }
        let star = star.build(&mut world)?;
        let spoke = |world: &World, name: &str, d: Direction| -> Vec<sim::LinkId> {
            let (up, down) = world
                .link_by_name(&format!("spoke-{name}"))
                .expect("every host has a spoke");
            match d {
                Direction::FromHost => vec![up],
                Direction::ToHost => vec![down],
                Direction::Both => vec![up, down],
            }
        };
        for (name, d, rule) in std::mem::take(&mut self.faults) {
            match d {
                Direction::Both => {
                    return Err(BuildError::Sim(SimError::InvalidFault {
                        rule: rule.name().to_string(),
                        reason: "a fault rule watches one direction: add it once per direction"
                            .into(),
                    }));
                }
                _ => {
                    let link = spoke(&world, &name, d)[0];
                    world.add_fault(link, rule)?;
                }
            }
        }
        for (at, name, d, change) in &self.changes {
            for link in spoke(&world, name, *d) {
                world.change_link_at(*at, link, *change)?;
            }
        }
        // The run's own arrangements (a sweep's faults, a capsule's
        // decisions), on the world as built, before anything happens.
        let crashable: Vec<sim::NodeId> = star
            .leaves
            .iter()
            .zip(&clients)
            .filter(|(_, client)| !**client)
            .map(|(&n, _)| n)
            .collect();
        let mut arranged = Setup {
            world,
            hosts: star.leaves.iter().map(|&n| n.into()).collect(),
            horizon: self.duration,
            open_at_end: true,
        };
        let crash = arrange(&mut arranged, &crashable)?;
        let mut world = arranged.world;
        if let Some(c) = crash {
            let index = star
                .leaves
                .iter()
                .position(|&n| n == c.node)
                .filter(|&i| !clients[i])
                .ok_or_else(|| BuildError::CrashClient(c.host.clone()))?;
            lifecycles[index]
                .borrow_mut()
                .push((c.at, Lifecycle::Bounce));
        }
        for &node in &star.leaves {
            world.wake_node_at(node, Time::ZERO, 0)?;
        }
        let loop_state = Loop {
            status: &status,
            idle: &idle,
            runtimes: &runtimes,
            nodes: &star.leaves,
            seed,
            limit: self.duration,
        };
        let result = loop_state.drive(&mut world);
        let hosts = star.leaves.iter().map(|&n| n.into()).collect();
        let stats = world.stats();
        let setup = Setup {
            world,
            hosts,
            horizon: stats.now,
            // Servers keep their listeners and connections when the test ends.
            open_at_end: true,
        };
        let outcome = scenarios::run::judge(seed, setup, stats);
        Ok((result, outcome))
    }
}

/// Each host's ISN secret, from the seed and its name.
fn isn_secret(seed: u64, name: &str) -> [u8; 16] {
    use rand_core::RngCore;
    let mut rng = sim::rng::stream(seed, &format!("isn-{name}"));
    let mut secret = [0; 16];
    rng.fill_bytes(&mut secret);
    secret
}

/// What the simulation's loop knows of one host's runtime.
struct HostRuntime {
    name: String,
    state: Rc<RefCell<HostState>>,
    runner: Runner,
}

/// The simulation's loop over the engine.
struct Loop<'a> {
    status: &'a Rc<RefCell<Status>>,
    idle: &'a Idle,
    runtimes: &'a [HostRuntime],
    nodes: &'a [sim::NodeId],
    seed: u64,
    limit: Time,
}

impl Loop<'_> {
    /// Steps the world until the test body returns, something fails, the
    /// time limit passes or nothing is left to happen. Before each step,
    /// idle runtimes whose next possible timer the world is about to reach
    /// catch up to it (in host order, so the run stays a function of the
    /// seed); one whose tasks ran gets an engine wake at that time.
    fn drive(&self, world: &mut World) -> Result<(), String> {
        let seed = self.seed;
        loop {
            {
                let s = self.status.borrow();
                if let Some(f) = &s.failure {
                    return Err(f.clone());
                }
                if let Some(r) = &s.client_result {
                    return r
                        .clone()
                        .map_err(|e| format!("seed {seed}: the client failed: {e}"));
                }
            }
            self.catch_up(world)?;
            match world.next_event_time() {
                None => {
                    return Err(format!(
                        "seed {seed}: the simulation went idle at {} before the client finished: every host waits for something that can no longer happen (no packet, no timer within the {} limit)",
                        world.now(),
                        self.limit
                    ));
                }
                Some(t) if t > self.limit => {
                    return Err(format!(
                        "seed {seed}: the client did not finish within {} of virtual time",
                        self.limit
                    ));
                }
                Some(_) => {}
            }
            if let Err(e) = world.step() {
                let busiest = self
                    .status
                    .borrow()
                    .callbacks
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(h, n)| format!("; host {h} handled the most events ({n})"))
                    .unwrap_or_default();
                return Err(format!("{e}{busiest}"));
            }
        }
    }

    fn catch_up(&self, world: &mut World) -> Result<(), String> {
        loop {
            let next = world.next_event_time();
            let first = self.idle.borrow().first().copied();
            let Some((at, index)) = first else {
                return Ok(());
            };
            if next.is_some_and(|g| g < at) {
                return Ok(());
            }
            self.idle.borrow_mut().remove(&(at, index));
            // Nor may it pass the earliest time another idle runtime could
            // fire a timer and act: it is caught up later, and what it does
            // then must not reach a host already past it.
            let first = self.idle.borrow().first().map(|&(at, _)| at);
            let others = self.status.borrow().reach(first);
            let bound = match (next, others) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let host = &self.runtimes[index];
            let mut guard = host.runner.borrow_mut();
            let Some(driver) = guard.as_mut() else {
                continue;
            };
            match with_current(&host.state, || driver.catch_up(bound)) {
                Ok(CatchUp::Wake(when)) => {
                    world
                        .wake_node_at(self.nodes[index], when, scenarios::host::APP_WAKE | TICK)
                        .map_err(|e| e.to_string())?;
                }
                // A runtime idle past the time limit is not caught up any
                // further: the run ends before it could matter.
                Ok(CatchUp::Idle) if driver.clock() > self.limit => {}
                Ok(CatchUp::Idle) => {
                    let key = (driver.next_tick(), index);
                    self.idle.borrow_mut().insert(key);
                }
                Ok(CatchUp::Done) => {}
                Err(stuck) => {
                    return Err(stuck_message(
                        &host.name,
                        self.seed,
                        driver.clock(),
                        stuck.polls,
                    ));
                }
            }
        }
    }
}
