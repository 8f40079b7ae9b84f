//! The catalogue: each classic TCP case as a named, documented scenario.
//! Every scenario runs with any seed, passes the four oracles, and checks
//! its own expected outcome (states visited, who saw a reset, what was
//! retransmitted).
//!
//! The scenarios live by family, each file a set of them with their
//! builders and expectations; [`all`] keeps the catalogue order (what
//! `tcpsim all` prints and the snapshots follow):
//!
//! - `handshake`: opening: three-way, simultaneous open, an old duplicate
//!   SYN, a SYN to a closed port.
//! - `close`: four-way, three-way and simultaneous close, a lost final
//!   ACK, a half-close.
//! - `reset`: RST on close with unread data, ABORT, a rebooted or silent
//!   dead peer.
//! - `time_wait`: a late SYN after the close, TIME-WAIT assassination,
//!   reopening TIME-WAIT.
//! - `sequence`: the 2^32 wrap and PAWS.
//! - `attacks`: blind in-window RST/SYN and SYN floods.
//! - `transfer`: zero window, bulk under impairment, many connections.
//! - `fast_open`: TCP Fast Open saving a round trip with a cached cookie.
//!
//! This file keeps the public API ([`Scenario`], [`Catalogue`], [`all`],
//! [`find`], the addresses) and the helpers the families share. To add a
//! scenario: write its build and expectation in the family it belongs
//! to, a function returning its [`Scenario`], and call that in [`all`].

mod attacks;
mod close;
mod ecn;
mod fast_open;
mod handshake;
mod recovery;
mod reset;
mod sequence;
mod time_wait;
mod transfer;

use crate::host::{Action, Host};
use crate::oracle::Violation;
use crate::run::{Outcome, RunOptions, Setup, execute};
use crate::sweep::profile::PlannedCrash;
use rand_core::RngCore;
use sim::topology::{self, Endpoint as Place};
use sim::{
    Addr, Ctx, Duration, FaultRule, LinkConfig, Node, Packet, SimError, Time, World, WorldConfig,
};
use stack::wire::{self, Flags, IpPair, TcpOptions, TcpRepr};
use stack::{SeqNum, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, OnceLock};

/// The client's address in the catalogue's worlds: 10.0.0.1.
pub const CLIENT: Addr = Addr::new(10, 0, 0, 1);
/// The server's address in the catalogue's worlds: 10.0.0.2.
pub const SERVER: Addr = Addr::new(10, 0, 0, 2);
/// The off-path attacker's address in the catalogue's worlds: 10.0.0.66.
pub const ATTACKER: Addr = Addr::new(10, 0, 0, 66);
/// The server's port in the catalogue's worlds.
pub const PORT: u16 = 80;

/// How a scenario builds its world for a seed.
pub type Build = Arc<dyn Fn(u64) -> Result<Setup, SimError> + Send + Sync>;
/// A scenario's own expectation: `Err` says what did not happen.
pub type Expectation = Arc<dyn Fn(&Outcome) -> Result<(), String> + Send + Sync>;
/// An oracle of the user's: the violations it finds in a run.
pub type UserOracle = Arc<dyn Fn(&Outcome) -> Vec<Violation> + Send + Sync>;
/// How a [program scenario](Scenario::program) lets a run arrange its
/// world. The program calls it exactly once, with its world built and not
/// yet run and the hosts that may crash (a test body cannot be restarted,
/// so its host is not among them); the run adds its faults there (a
/// sweep's fault plan, a capsule's recording or replay) and returns the
/// crash to make, if any: the program crashes that host at that time
/// (all TCP state lost) and restarts its software, as a reboot would.
pub type Arrange<'a> =
    dyn FnMut(&mut Setup, &[sim::NodeId]) -> Result<Option<PlannedCrash>, SimError> + 'a;
/// A scenario that drives its world with a loop of its own (a simulation of
/// async programs, which ends when its test body returns): for a seed, it
/// builds its world, calls the [`Arrange`] hook once, runs, and returns the
/// outcome judged by [`crate::run::judge`] (the built-in oracles), with any
/// failure of its own (the test body's error) among the violations.
pub type Program = Arc<dyn Fn(u64, &mut Arrange<'_>) -> Result<Outcome, SimError> + Send + Sync>;

/// A named, documented case: how to build it, what it must show, and any
/// oracles of its own (the four built-in ones run on every scenario).
///
/// ```
/// use scenarios::catalogue::{PORT, SERVER, CLIENT, Scenario};
/// use scenarios::host::{Action, Host};
/// use scenarios::run::Setup;
/// use sim::topology::{self, Endpoint};
/// use sim::{Duration, LinkConfig, Time, World, WorldConfig};
/// use std::net::{Ipv4Addr, SocketAddrV4};
///
/// // The client connects, closes after 100 ms; the server closes on EOF.
/// fn build(seed: u64) -> Result<Setup, sim::SimError> {
///     let mut world = World::new(WorldConfig::new(seed));
///     let remote = SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT);
///     let client = Host::new("client", CLIENT, [1; 16], stack::TcpConfig::default())
///         .at(Time::ZERO, Action::Connect { remote, local_port: None })
///         .at(Time::from_millis(100), Action::Close { conn: 0 });
///     let server = Host::new("server", SERVER, [2; 16], stack::TcpConfig::default())
///         .at(Time::ZERO, Action::Listen { port: PORT, backlog: 4 })
///         .close_on_eof();
///     let link = LinkConfig::new(100_000_000, Duration::from_millis(5));
///     let p = topology::point_to_point(
///         &mut world,
///         Endpoint::new("client", CLIENT, client),
///         Endpoint::new("server", SERVER, server),
///         link.clone(),
///         link,
///     )?;
///     Ok(Setup { world, hosts: vec![p.a.into(), p.b.into()], horizon: Time::from_secs(120), open_at_end: false })
/// }
///
/// let s = Scenario::new("my-case", build)
///     .summary("one line for `tcpsim list`")
///     .doc("RFC 9293 §3.6: the active closer waits in TIME-WAIT")
///     .expect(|o| if o.visited(0, stack::State::TimeWait) { Ok(()) } else { Err("no TIME-WAIT".into()) });
/// assert_eq!(s.name, "my-case");
/// let outcome = s.run(1).unwrap();
/// assert!(outcome.passed(), "{}", outcome.verdict());
/// ```
#[derive(Clone)]
pub struct Scenario {
    /// The scenario's name, as `tcpsim run NAME` takes it (unique, no spaces).
    pub name: &'static str,
    /// One line for `tcpsim list`.
    pub summary: &'static str,
    /// The RFC section it exercises and what a reader should see.
    pub doc: &'static str,
    build: Build,
    /// Set for a [program scenario](Scenario::program): it runs itself.
    program: Option<Program>,
    expectations: Vec<Expectation>,
    oracles: Vec<UserOracle>,
}

impl Scenario {
    /// A scenario called `name` whose world `build` makes for a seed.
    pub fn new(
        name: &'static str,
        build: impl Fn(u64) -> Result<Setup, SimError> + Send + Sync + 'static,
    ) -> Scenario {
        Scenario {
            name,
            summary: "",
            doc: "",
            build: Arc::new(build),
            program: None,
            expectations: Vec::new(),
            oracles: Vec::new(),
        }
    }

    /// A scenario called `name` that runs itself (see [`Program`]): the
    /// way a simulation of the user's own async programs (crate
    /// `tcpsim-tokio`) takes part in sweeps, capsules, shrinking and
    /// `tcpsim run`, whose faults it receives through the [`Arrange`] hook.
    /// Its expectations and oracles apply as to any scenario. It has no
    /// world to give out before it runs: [`Scenario::setup`] and
    /// [`Scenario::run_until`] are errors.
    pub fn program(
        name: &'static str,
        run: impl Fn(u64, &mut Arrange<'_>) -> Result<Outcome, SimError> + Send + Sync + 'static,
    ) -> Scenario {
        let mut scenario = Scenario::new(name, move |_| {
            Err(SimError::Scenario(format!(
                "scenario {name} runs its own loop and has no world to give out before it runs"
            )))
        });
        scenario.program = Some(Arc::new(run));
        scenario
    }

    /// Whether this is a [program scenario](Scenario::program).
    pub fn is_program(&self) -> bool {
        self.program.is_some()
    }

    /// Runs a [program scenario](Scenario::program) at `seed` with
    /// `arrange` as its hook, without judging its own expectations and
    /// oracles; `None` for a scenario with a world of its own.
    pub fn run_program(
        &self,
        seed: u64,
        arrange: &mut Arrange<'_>,
    ) -> Option<Result<Outcome, SimError>> {
        self.program.as_ref().map(|p| p(seed, arrange))
    }

    /// Sets the one-line summary `tcpsim list` shows.
    pub fn summary(mut self, summary: &'static str) -> Scenario {
        self.summary = summary;
        self
    }

    /// Sets the documentation `tcpsim explain` and `tcpsim list --long` print.
    pub fn doc(mut self, doc: &'static str) -> Scenario {
        self.doc = doc;
        self
    }

    /// Adds an expectation; they are checked in the order added and the
    /// first that fails is the run's.
    pub fn expect(
        mut self,
        expectation: impl Fn(&Outcome) -> Result<(), String> + Send + Sync + 'static,
    ) -> Scenario {
        self.expectations.push(Arc::new(expectation));
        self
    }

    /// Adds an oracle of the user's own, run after the built-in ones; its
    /// violations fail the run like theirs.
    pub fn oracle(
        mut self,
        oracle: impl Fn(&Outcome) -> Vec<Violation> + Send + Sync + 'static,
    ) -> Scenario {
        self.oracles.push(Arc::new(oracle));
        self
    }

    /// Builds and runs only up to virtual time `at` (or to the scenario's
    /// horizon, if that comes first): the world as it stands then, for a
    /// socket table mid-run (`tcpsim run NAME --format ss --at TIME`). The
    /// oracles that hold at every moment are applied (delivery, state
    /// transitions, segments); termination and the scenario's own
    /// expectations are not, as the run stopped early.
    pub fn run_until(&self, seed: u64, at: sim::Time) -> Result<Outcome, SimError> {
        if self.is_program() {
            return Err(SimError::Scenario(format!(
                "scenario {} runs until its test body returns: it cannot stop at {at} (--at)",
                self.name
            )));
        }
        let mut setup = (self.build)(seed)?;
        setup.horizon = setup.horizon.min(at);
        setup.open_at_end = true;
        execute(seed, setup)
    }

    /// Builds, runs, applies the oracles and the scenario's own expectations.
    pub fn run(&self, seed: u64) -> Result<Outcome, SimError> {
        self.run_with(seed, &RunOptions::default())
    }

    /// [`Scenario::run`], recording what `options` asks for (the trace and
    /// verdict are the same: recording only reads).
    pub fn run_with(&self, seed: u64, options: &RunOptions) -> Result<Outcome, SimError> {
        let arranged = self.run_program(seed, &mut |setup, _| {
            setup.apply(options);
            Ok(None)
        });
        if let Some(outcome) = arranged {
            let mut outcome = outcome?;
            self.judge(&mut outcome, true);
            return Ok(outcome);
        }
        let mut setup = self.setup(seed)?;
        setup.apply(options);
        let mut outcome = execute(seed, setup)?;
        self.judge(&mut outcome, true);
        Ok(outcome)
    }

    /// The world this scenario builds for `seed`, not yet run (a sweep
    /// adds its faults to it before running it).
    pub fn setup(&self, seed: u64) -> Result<Setup, SimError> {
        (self.build)(seed)
    }

    /// Applies the scenario's own oracles to an outcome of its setup and,
    /// if `expectations`, its expectations (a sweep under faults leaves
    /// them out: they describe the fault-free story).
    pub fn judge(&self, outcome: &mut Outcome, expectations: bool) {
        for oracle in &self.oracles {
            let found = oracle(outcome);
            outcome.violations.extend(found);
        }
        if expectations {
            outcome.expectation = self
                .expectations
                .iter()
                .try_for_each(|expectation| expectation(outcome));
        }
    }
}

/// A set of scenarios with distinct names, in order: the built-in ones and
/// any a user adds (see [`crate::cli::main_with`]).
#[derive(Clone, Default)]
pub struct Catalogue {
    scenarios: Vec<Scenario>,
}

impl Catalogue {
    /// The built-in catalogue: the classic cases ([`all`]) and the
    /// generated family `random` with its default parameters
    /// ([`crate::generate::scenario`]).
    pub fn builtin() -> Catalogue {
        let mut scenarios = all().to_vec();
        scenarios.push(crate::generate::scenario(Default::default()));
        Catalogue { scenarios }
    }

    /// Adds a scenario; a name already taken is an error naming it.
    pub fn add(&mut self, scenario: Scenario) -> Result<(), String> {
        if self.find(scenario.name).is_some() {
            return Err(format!(
                "two scenarios are called {:?}: names must be unique",
                scenario.name
            ));
        }
        if scenario.name.is_empty() || scenario.name.contains(char::is_whitespace) {
            return Err(format!(
                "scenario name {:?}: give a non-empty name without spaces",
                scenario.name
            ));
        }
        self.scenarios.push(scenario);
        Ok(())
    }

    /// The scenario called `name`, if any.
    pub fn find(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// Every scenario, in the order added.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }
}

fn secret(seed: u64, name: &str) -> [u8; 16] {
    let mut rng = sim::rng::stream(seed, &format!("isn-secret:{name}"));
    let mut key = [0u8; 16];
    rng.fill_bytes(&mut key);
    key
}

fn host(seed: u64, name: &str, addr: Addr, tcp: TcpConfig) -> Host {
    Host::new(name, addr, secret(seed, name), tcp)
}

fn client(seed: u64) -> Host {
    host(seed, "client", CLIENT, TcpConfig::default())
}

fn server(seed: u64) -> Host {
    host(seed, "server", SERVER, TcpConfig::default()).at(
        Time::ZERO,
        Action::Listen {
            port: PORT,
            backlog: 128,
        },
    )
}

fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT)
}

/// The client's active open to the server's listener: connection 0 of
/// most scenarios.
fn connect_to_server() -> Action {
    Action::Connect {
        remote: server_addr(),
        local_port: None,
    }
}

/// Queues `bytes` pattern bytes on connection `conn`.
fn send(conn: usize, bytes: u64) -> Action {
    Action::Send { conn, bytes }
}

fn ms(n: u64) -> Time {
    Time::from_millis(n)
}

/// 100 Mbit/s, 5 ms one way.
fn lan() -> LinkConfig {
    LinkConfig::new(100_000_000, Duration::from_millis(5))
}

/// Which way a fault rule applies.
#[derive(Clone, Copy)]
enum Way {
    ClientToServer,
    ServerToClient,
}

fn pair(
    seed: u64,
    a: Host,
    b: Host,
    link: LinkConfig,
    faults: Vec<(Way, FaultRule)>,
    horizon: Time,
) -> Result<Setup, SimError> {
    let mut world = World::new(WorldConfig::new(seed));
    let p = topology::point_to_point(
        &mut world,
        Place::new(a.name.clone(), CLIENT, a),
        Place::new(b.name.clone(), SERVER, b),
        link.clone(),
        link,
    )?;
    for (way, rule) in faults {
        let link = match way {
            Way::ClientToServer => p.a_to_b,
            Way::ServerToClient => p.b_to_a,
        };
        world.add_fault(link, rule)?;
    }
    Ok(Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon,
        open_at_end: false,
    })
}

/// The TCP header of a packet, if it parses.
fn tcp_of(p: &Packet) -> Option<(Flags, usize)> {
    let (_, repr) = wire::parse_datagram(&p.bytes).ok()?;
    Some((repr.flags, repr.payload.len()))
}

fn is_pure_ack(p: &Packet) -> bool {
    tcp_of(p).is_some_and(|(f, len)| f == Flags::ACK && len == 0)
}

fn is_syn(p: &Packet) -> bool {
    tcp_of(p).is_some_and(|(f, _)| f.syn() && !f.ack())
}

fn has_data(p: &Packet) -> bool {
    tcp_of(p).is_some_and(|(_, len)| len > 0)
}

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what.to_string()) }
}

fn received(o: &Outcome, host: usize) -> u64 {
    o.streams(host).iter().map(|s| s.read.len).sum()
}

/// Sends prebuilt datagrams at given times: an off-path attacker.
pub struct Injector {
    /// `(time, datagram)` pairs to send: complete IPv4 datagrams (at least the
    /// 20-byte header, whose destination address routes them), sent as they are.
    pub script: Vec<(Time, Vec<u8>)>,
}

impl Node for Injector {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, index: u64) {
        if let Some((_, bytes)) = self.script.get(index as usize) {
            let dst = Addr(u32::from_be_bytes([
                bytes[16], bytes[17], bytes[18], bytes[19],
            ]));
            let mut p = ctx.alloc_packet(ctx.addr(), dst);
            p.bytes.extend_from_slice(bytes);
            ctx.send(p);
        }
    }
}

fn forged(src: SocketAddrV4, dst: SocketAddrV4, flags: Flags, seq: u32) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(0),
        flags,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    let mut out = Vec::new();
    wire::emit_datagram(
        IpPair {
            src: *src.ip(),
            dst: *dst.ip(),
        },
        &repr,
        &mut out,
    );
    out
}

/// Lets the catalogue write `Duration::from_secs(10).into_stack()`.
trait IntoStack {
    fn into_stack(self) -> stack::Duration;
}
impl IntoStack for Duration {
    fn into_stack(self) -> stack::Duration {
        stack::Duration::from_nanos(self.as_nanos())
    }
}

/// Every scenario, in catalogue order.
pub fn all() -> &'static [Scenario] {
    static CATALOGUE: OnceLock<Vec<Scenario>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        vec![
            handshake::handshake(),
            close::four_way_close(),
            close::three_way_close(),
            handshake::simultaneous_open(),
            close::simultaneous_close(),
            close::lost_final_ack(),
            handshake::old_duplicate_syn(),
            time_wait::delayed_syn_after_close(),
            sequence::sequence_wraparound(),
            sequence::paws(),
            handshake::connection_refused(),
            reset::rst_on_unread_close(),
            reset::abort(),
            reset::close_wait_abort(),
            close::half_close(),
            reset::half_open(),
            reset::half_open_keepalive(),
            attacks::blind_reset_attack(),
            time_wait::time_wait_assassination(),
            time_wait::time_wait_reuse(),
            attacks::syn_flood(),
            attacks::syn_flood_no_cookies(),
            transfer::zero_window(),
            transfer::lossy_bulk(),
            transfer::many_connections(),
            transfer::churn(),
            ecn::ecn_marking(),
            ecn::ecn_drop_tail(),
            fast_open::fast_open(),
            recovery::tail_loss_rto(),
            recovery::tail_loss_tlp(),
            recovery::reordering_dupack(),
            recovery::reordering_rack(),
        ]
    })
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.name == name)
}
