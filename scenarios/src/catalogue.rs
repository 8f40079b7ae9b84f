//! The catalogue: each classic TCP case as a named, documented scenario.
//! Every scenario runs with any seed, passes the four oracles, and checks
//! its own expected outcome (states visited, who saw a reset, what was
//! retransmitted).

use crate::host::{Action, Host};
use crate::oracle::Violation;
use crate::run::{HostNode, Outcome, Setup, execute};
use rand_core::RngCore;
use sim::topology::{self, Endpoint as Place};
use sim::{
    Addr, Ctx, Duration, FaultAction, FaultRule, LinkConfig, Node, Packet, SimError, Time, World,
    WorldConfig,
};
use stack::wire::{self, Flags, IpPair, TcpOptions, TcpRepr};
use stack::{SeqNum, SocketError, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, OnceLock};

pub const CLIENT: Addr = Addr::new(10, 0, 0, 1);
pub const SERVER: Addr = Addr::new(10, 0, 0, 2);
pub const ATTACKER: Addr = Addr::new(10, 0, 0, 66);
pub const PORT: u16 = 80;

/// How a scenario builds its world for a seed.
pub type Build = Arc<dyn Fn(u64) -> Result<Setup, SimError> + Send + Sync>;
/// A scenario's own expectation: `Err` says what did not happen.
pub type Expectation = Arc<dyn Fn(&Outcome) -> Result<(), String> + Send + Sync>;
/// An oracle of the user's: the violations it finds in a run.
pub type UserOracle = Arc<dyn Fn(&Outcome) -> Vec<Violation> + Send + Sync>;

/// A named, documented case: how to build it, what it must show, and any
/// oracles of its own (the four built-in ones run on every scenario).
///
/// ```
/// use scenarios::catalogue::Scenario;
/// # fn build(_seed: u64) -> Result<scenarios::run::Setup, sim::SimError> { unimplemented!() }
/// let s = Scenario::new("my-case", build)
///     .summary("one line for `tcpsim list`")
///     .doc("RFC 9293 §3.5: what a reader should see")
///     .expect(|o| if o.visited(0, stack::State::TimeWait) { Ok(()) } else { Err("no TIME-WAIT".into()) });
/// assert_eq!(s.name, "my-case");
/// ```
#[derive(Clone)]
pub struct Scenario {
    pub name: &'static str,
    /// One line for `tcpsim list`.
    pub summary: &'static str,
    /// The RFC section it exercises and what a reader should see.
    pub doc: &'static str,
    build: Build,
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
            expectations: Vec::new(),
            oracles: Vec::new(),
        }
    }

    pub fn summary(mut self, summary: &'static str) -> Scenario {
        self.summary = summary;
        self
    }

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

    /// Builds, runs, applies the oracles and the scenario's own expectations.
    pub fn run(&self, seed: u64) -> Result<Outcome, SimError> {
        let mut outcome = execute(seed, (self.build)(seed)?)?;
        for oracle in &self.oracles {
            let found = oracle(&outcome);
            outcome.violations.extend(found);
        }
        outcome.expectation = self
            .expectations
            .iter()
            .try_for_each(|expectation| expectation(&outcome));
        Ok(outcome)
    }
}

/// A set of scenarios with distinct names, in order: the built-in ones and
/// any a user adds (see [`crate::cli::main_with`]).
#[derive(Clone, Default)]
pub struct Catalogue {
    scenarios: Vec<Scenario>,
}

impl Catalogue {
    /// The built-in catalogue.
    pub fn builtin() -> Catalogue {
        Catalogue {
            scenarios: all().to_vec(),
        }
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

    pub fn find(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

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

// ----- the scenarios -----

fn build_handshake(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 1000,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![],
        Time::from_secs(120),
    )
}

fn expect_handshake(o: &Outcome) -> Result<(), String> {
    check(
        o.states(0)
            .starts_with(&[State::SynSent, State::Established]),
        "client: SYN-SENT then ESTABLISHED",
    )?;
    check(
        o.states(1)
            .starts_with(&[State::SynReceived, State::Established]),
        "server: SYN-RECEIVED then ESTABLISHED",
    )?;
    check(received(o, 1) == 1000, "server read the 1000 bytes")
}

fn build_four_way(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 5000,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    let s = server(seed).at(ms(300), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_four_way(o: &Outcome) -> Result<(), String> {
    check(
        o.states(0).ends_with(&[
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed,
        ]),
        "client: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT, CLOSED",
    )?;
    check(
        o.states(1)
            .ends_with(&[State::CloseWait, State::LastAck, State::Closed]),
        "server: CLOSE-WAIT, LAST-ACK, CLOSED",
    )?;
    check(received(o, 1) == 5000, "server read all 5000 bytes")
}

fn build_three_way(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![],
        Time::from_secs(120),
    )
}

fn expect_three_way(o: &Outcome) -> Result<(), String> {
    check(
        !o.visited(0, State::FinWait2),
        "client never in FIN-WAIT-2: the server's FIN rode on its ACK",
    )?;
    check(
        o.states(0)
            .ends_with(&[State::FinWait1, State::TimeWait, State::Closed]),
        "client: FIN-WAIT-1 -> TIME-WAIT",
    )?;
    check(
        o.sent_with(1, Flags::FIN | Flags::ACK) == 1,
        "server sent exactly one FIN,ACK",
    )
}

fn build_simultaneous_open(seed: u64) -> Result<Setup, SimError> {
    let a = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), 6000),
                local_port: Some(5000),
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    let b = host(seed, "server", SERVER, TcpConfig::default())
        .at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(CLIENT), 5000),
                local_port: Some(6000),
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    pair(seed, a, b, lan(), vec![], Time::from_secs(120))
}

fn expect_simultaneous_open(o: &Outcome) -> Result<(), String> {
    for i in 0..2 {
        check(
            o.states(i)
                .starts_with(&[State::SynSent, State::SynReceived, State::Established]),
            "both: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED",
        )?;
    }
    Ok(())
}

fn build_simultaneous_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(200), Action::Close { conn: 0 });
    let s = server(seed).at(ms(200), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_simultaneous_close(o: &Outcome) -> Result<(), String> {
    for i in 0..2 {
        check(
            o.states(i).ends_with(&[
                State::FinWait1,
                State::Closing,
                State::TimeWait,
                State::Closed,
            ]),
            "both: FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED",
        )?;
    }
    Ok(())
}

fn build_lost_final_ack(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    // The client's pure ACKs: #1 completes the handshake, #2 answers the
    // server's FIN. Drop #2: the final ACK is lost.
    let drop_final_ack =
        FaultRule::new("drop the final ACK", is_pure_ack, FaultAction::Drop).nth(2);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, drop_final_ack)],
        Time::from_secs(120),
    )
}

fn expect_lost_final_ack(o: &Outcome) -> Result<(), String> {
    check(o.visited(1, State::LastAck), "server in LAST-ACK")?;
    check(
        o.retransmissions(1) >= 1,
        "server retransmitted its FIN from LAST-ACK",
    )?;
    check(
        o.sent_with(0, Flags::ACK) >= 3,
        "client in TIME-WAIT ACKed the retransmitted FIN again",
    )?;
    check(
        o.states(1).last() == Some(&State::Closed),
        "server reached CLOSED once the re-ACK arrived",
    )
}

fn build_old_duplicate_syn(seed: u64) -> Result<Setup, SimError> {
    // Attempt 1 from port 4000 is abandoned in SYN-SENT (nothing is sent on
    // abort there); its SYN is held in the network for 1 s. Attempt 2 from
    // the same port at 1.002 s has a new ISN. The stale SYN reaches the
    // listener first (RFC 9293 Figure 8).
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(ms(500), Action::Abort { conn: 0 })
        .at(
            ms(1002),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(Time::from_secs(5), Action::Close { conn: 1 });
    let hold_first_syn = FaultRule::new(
        "hold the first SYN",
        is_syn,
        FaultAction::Delay(Duration::from_millis(1000)),
    )
    .nth(1);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, hold_first_syn)],
        Time::from_secs(120),
    )
}

fn expect_old_duplicate_syn(o: &Outcome) -> Result<(), String> {
    let server = o.states(1);
    let back_to_listen = server
        .windows(2)
        .any(|w| w == [State::SynReceived, State::Listen]);
    check(
        back_to_listen,
        "server: the stale SYN's SYN-RECEIVED was reset back to LISTEN",
    )?;
    check(
        o.sent_with(0, Flags::RST) >= 1,
        "client sent <SEQ=SEG.ACK><CTL=RST> for the unacceptable SYN-ACK",
    )?;
    check(
        server.contains(&State::Established),
        "the real connection completed",
    )
}

fn build_delayed_syn_after_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(
            ms(100),
            Action::Send {
                conn: 0,
                bytes: 100,
            },
        )
        .at(ms(200), Action::Close { conn: 0 });
    // A copy of the first SYN arrives 3 s later, long after the connection closed.
    let late_copy = FaultRule::new(
        "late copy of the SYN",
        is_syn,
        FaultAction::Duplicate(Duration::from_secs(3)),
    )
    .nth(1);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, late_copy)],
        Time::from_secs(200),
    )
}

fn expect_delayed_syn_after_close(o: &Outcome) -> Result<(), String> {
    let accepted = o
        .host(1)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 1,
        "the stale SYN never became an accepted connection",
    )?;
    let syn_received = o
        .states(1)
        .iter()
        .filter(|&&s| s == State::SynReceived)
        .count();
    check(
        syn_received == 2,
        "the stale SYN opened a half-open SYN-RECEIVED that later timed out",
    )?;
    check(
        o.errors(0).is_empty(),
        "the client (in TIME-WAIT) was not disturbed",
    )
}

fn build_wraparound(seed: u64) -> Result<Setup, SimError> {
    let near_wrap = |isn: u32| TcpConfig {
        isn: Some(isn),
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, near_wrap(u32::MAX - 3000))
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(20),
            Action::Send {
                conn: 0,
                bytes: 4_000_000,
            },
        )
        .at(ms(25), Action::Shutdown { conn: 0 })
        .close_on_eof();
    let s = host(seed, "server", SERVER, near_wrap(u32::MAX - 5000))
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .at(
            ms(30),
            Action::Send {
                conn: 0,
                bytes: 100_000,
            },
        )
        .close_on_eof();
    pair(
        seed,
        c,
        s,
        lan().with_loss(0.01),
        vec![],
        Time::from_secs(200),
    )
}

fn expect_wraparound(o: &Outcome) -> Result<(), String> {
    check(
        received(o, 1) == 4_000_000,
        "server read all 4,000,000 bytes across the 2^32 wrap",
    )?;
    check(
        received(o, 0) == 100_000,
        "client read all 100,000 bytes across the wrap",
    )?;
    check(
        o.retransmissions(0) > 0,
        "losses were repaired by retransmission",
    )
}

fn build_refused(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed).at(
        ms(0),
        Action::Connect {
            remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), 9),
            local_port: None,
        },
    );
    pair(seed, c, server(seed), lan(), vec![], Time::from_secs(10))
}

fn expect_refused(o: &Outcome) -> Result<(), String> {
    check(
        o.errors(0) == vec![SocketError::ConnectionRefused],
        "client: ECONNREFUSED",
    )?;
    check(
        o.sent_with(1, Flags::RST | Flags::ACK) == 1,
        "server answered <SEQ=0><ACK=ISS+1><CTL=RST,ACK>",
    )
}

fn build_rst_on_unread_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 3000,
            },
        );
    let s = server(seed)
        .at(Time::ZERO, Action::Reading(false))
        .at(ms(200), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(10))
}

fn expect_rst_on_unread_close(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(1, Flags::RST | Flags::ACK) == 1,
        "server closed with unread data: RST,ACK, not FIN",
    )?;
    check(o.sent_with(1, Flags::FIN) == 0, "no FIN from the server")?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client: ECONNRESET",
    )
}

fn build_abort(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(100), Action::Abort { conn: 0 });
    pair(seed, c, server(seed), lan(), vec![], Time::from_secs(10))
}

fn expect_abort(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(0, Flags::RST | Flags::ACK) == 1,
        "client aborted with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>",
    )?;
    check(
        o.errors(1) == vec![SocketError::ConnectionReset],
        "server: ECONNRESET",
    )
}

fn build_close_wait_abort(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    // The server application never closes; at 5 s its process exits.
    let s = server(seed).at(Time::from_secs(5), Action::Abort { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(30))
}

fn expect_close_wait_abort(o: &Outcome) -> Result<(), String> {
    check(o.visited(1, State::CloseWait), "server sat in CLOSE-WAIT")?;
    check(o.visited(0, State::FinWait2), "client waited in FIN-WAIT-2")?;
    check(
        o.sent_with(1, Flags::RST) == 1,
        "the exiting process's connection sent RST",
    )?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client: ECONNRESET",
    )
}

fn build_half_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 10_000,
            },
        )
        .at(ms(60), Action::Shutdown { conn: 0 });
    let s = server(seed)
        .at(
            ms(300),
            Action::Send {
                conn: 0,
                bytes: 50_000,
            },
        )
        .at(ms(310), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_half_close(o: &Outcome) -> Result<(), String> {
    check(
        o.visited(0, State::FinWait2),
        "client half-closed: FIN-WAIT-2",
    )?;
    check(
        received(o, 0) == 50_000,
        "client still read all 50,000 bytes after its FIN",
    )?;
    check(
        received(o, 1) == 10_000,
        "server read the client's 10,000 bytes then EOF",
    )?;
    check(o.visited(1, State::LastAck), "server closed last: LAST-ACK")
}

fn build_half_open(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(2000),
            Action::Send {
                conn: 0,
                bytes: 100,
            },
        );
    let s = server(seed).at(ms(1000), Action::Crash);
    pair(seed, c, s, lan(), vec![], Time::from_secs(30))
}

fn expect_half_open(o: &Outcome) -> Result<(), String> {
    check(
        o.host(1)
            .log
            .iter()
            .any(|l| l.record == crate::host::Record::Crash),
        "server crashed",
    )?;
    check(
        o.sent_with(1, Flags::RST) == 1,
        "the rebooted server answered the client's data with RST",
    )?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client learned of the half-open connection: ECONNRESET",
    )
}

fn build_half_open_keepalive(seed: u64) -> Result<Setup, SimError> {
    let keepalive = TcpConfig {
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10).into_stack(),
            interval: Duration::from_secs(1).into_stack(),
            probes: 3,
        }),
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, keepalive).at(
        ms(0),
        Action::Connect {
            remote: server_addr(),
            local_port: None,
        },
    );
    // The server dies silently: it loses its state and the path goes dark.
    let s = server(seed).at(ms(1000), Action::Crash);
    let link = lan().with_down(Time::from_secs(1), Time::from_secs(1000));
    pair(seed, c, s, link, vec![], Time::from_secs(60))
}

fn expect_half_open_keepalive(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(0)[0].counters.keepalive_probes == 3,
        "client sent three keepalive probes",
    )?;
    check(
        o.errors(0) == vec![SocketError::TimedOut],
        "client gave up on the silent peer: ETIMEDOUT",
    )
}

/// Sends prebuilt datagrams at given times: an off-path attacker.
pub struct Injector {
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

fn build_blind_reset(seed: u64) -> Result<Setup, SimError> {
    // ISNs pinned so the attacker's guesses land inside the server's window
    // (in-window but not exact: RFC 5961's threat model).
    let pinned = |isn| TcpConfig {
        isn: Some(isn),
        ..TcpConfig::default()
    };
    let client_port = 40_000;
    let c = host(seed, "client", CLIENT, pinned(1_000_000))
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(client_port),
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 200_000,
            },
        )
        .at(ms(2000), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, pinned(5_000_000))
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    let spoofed = SocketAddrV4::new(Ipv4Addr::from(CLIENT), client_port);
    // In window but never exact: 30 KB ahead of RCV.NXT while the 200 KB
    // transfer runs, then 1 KB past its end once it is done.
    let during = 1_000_000 + 1 + 30_000;
    let after = 1_000_000 + 1 + 200_000 + 1_000;
    let attacks = [
        (ms(60), Flags::RST, during),
        (ms(600), Flags::SYN, after),
        // 50 ms after the last challenge ACK: inside Linux's 500 ms
        // out-of-window rate limit, so it draws nothing.
        (ms(650), Flags::RST, after),
    ];
    let attacker = Injector {
        script: attacks
            .iter()
            .map(|&(at, flags, seq)| (at, forged(spoofed, server_addr(), flags, seq)))
            .collect(),
    };
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new("attacker", ATTACKER, attacker),
        ],
        lan(),
    )?;
    for (i, &(at, _, _)) in attacks.iter().enumerate() {
        world.wake_node_at(star.leaves[2], at, i as u64)?;
    }
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn expect_blind_reset(o: &Outcome) -> Result<(), String> {
    let server = o.streams(1)[0].counters;
    check(
        server.challenge_acks == 2,
        "server answered the forged RST and SYN with challenge ACKs",
    )?;
    check(
        server.oow_acks_suppressed == 1,
        "the third forgery, 50 ms after a challenge ACK, drew none (rate limit)",
    )?;
    check(
        o.errors(1).is_empty() && o.errors(0).is_empty(),
        "nobody was reset",
    )?;
    check(received(o, 1) == 200_000, "the transfer survived intact")
}

fn build_time_wait_assassination(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(ms(300), Action::Close { conn: 0 });
    let s = server(seed)
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 500,
            },
        )
        .close_on_eof();
    // An old duplicate of the server's data wanders in during TIME-WAIT.
    let old_data = FaultRule::new(
        "old duplicate data",
        has_data,
        FaultAction::Duplicate(Duration::from_secs(5)),
    )
    .nth(1);
    pair(
        seed,
        c,
        s,
        lan(),
        vec![(Way::ServerToClient, old_data)],
        Time::from_secs(120),
    )
}

fn expect_time_wait_assassination(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(1, Flags::RST) >= 1,
        "the closed server answered the client's ACK with RST",
    )?;
    // The client's TIME-WAIT began around 0.31 s and must last the full 60 s.
    let log = &o.host(0).log;
    let entered = log.iter().find(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                to: State::TimeWait,
                ..
            }
        )
    });
    let left = log.iter().find(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                from: State::TimeWait,
                ..
            }
        )
    });
    match (entered, left) {
        (Some(a), Some(b)) => check(
            b.time.saturating_since(a.time) >= Duration::from_secs(60),
            "RFC 1337: the RST did not cut TIME-WAIT short",
        ),
        _ => Err("client must pass through TIME-WAIT".into()),
    }
}

fn build_time_wait_reuse(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(
            ms(500),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(
            ms(550),
            Action::Send {
                conn: 1,
                bytes: 1000,
            },
        )
        .at(ms(600), Action::Close { conn: 1 })
        .close_on_eof();
    // The server closes first (its side goes to TIME-WAIT), then restarts:
    // a plain listen is refused, a listen with address reuse succeeds, and
    // the client's new SYN on the same 4-tuple reopens TIME-WAIT (RFC 6191).
    let s = server(seed)
        .at(ms(100), Action::Close { conn: 0 })
        .at(ms(200), Action::CloseListeners)
        .at(
            ms(300),
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .at(
            ms(400),
            Action::ListenReuse {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_time_wait_reuse(o: &Outcome) -> Result<(), String> {
    let refused = o
        .host(1)
        .log
        .iter()
        .filter(|l| {
            matches!(
                l.record,
                crate::host::Record::CallFailed {
                    error: SocketError::AddressInUse,
                    ..
                }
            )
        })
        .count();
    check(
        refused == 1,
        "the plain listen was refused with EADDRINUSE while TIME-WAIT lingered",
    )?;
    let accepted = o
        .host(1)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 2,
        "the restarted server accepted the new connection on the same 4-tuple",
    )?;
    let tw_cut = o.host(1).log.iter().any(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                from: State::TimeWait,
                to: State::Closed,
                ..
            }
        ) && l.time < Time::from_secs(1)
    });
    check(
        tw_cut,
        "the new SYN ended the old TIME-WAIT early (RFC 6191)",
    )?;
    check(
        received(o, 1) == 1000,
        "the new incarnation carried its data",
    )
}

fn build_paws(seed: u64) -> Result<Setup, SimError> {
    // The client's ISN is pinned 5,000 below 2^32 and it sends 20,000
    // bytes, so the server's RCV.NXT ends just past the wrap at a known
    // value. A copy of a segment "from the previous trip around the
    // sequence space" then arrives: its sequence number sits exactly at
    // RCV.NXT (in window), but its TSval is ancient. PAWS must drop it.
    let client_isn = u32::MAX - 5000;
    let bytes = 20_000u32;
    let client_port = 40_000;
    // The client's timestamp clock is pinned too (TSval = ms since start),
    // so the stale copy can carry a TSval 2^30 ms (12 days) in the past:
    // older than TS.Recent by serial comparison, yet within the 24 days
    // for which RFC 7323 §5.5 keeps TS.Recent valid.
    let pinned = TcpConfig {
        isn: Some(client_isn),
        ts_offset: Some(0),
        ..TcpConfig::default()
    };
    let stale_tsval = 1000u32.wrapping_sub(1 << 30);
    let c = host(seed, "client", CLIENT, pinned)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(client_port),
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: u64::from(bytes),
            },
        )
        .at(ms(2000), Action::Close { conn: 0 });
    let s = server(seed).close_on_eof();
    let rcv_nxt = client_isn.wrapping_add(1).wrapping_add(bytes);
    let from = SocketAddrV4::new(Ipv4Addr::from(CLIENT), client_port);
    let stale = {
        let repr = TcpRepr {
            src_port: client_port,
            dst_port: PORT,
            seq: SeqNum(rcv_nxt),
            ack: SeqNum(0),
            flags: Flags::ACK | Flags::PSH,
            window: 1000,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some((stale_tsval, 0)),
                ..TcpOptions::default()
            },
            payload: b"a stale segment from 2^32 bytes ago",
        };
        let mut out = Vec::new();
        wire::emit_datagram(
            IpPair {
                src: *from.ip(),
                dst: *server_addr().ip(),
            },
            &repr,
            &mut out,
        );
        out
    };
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new(
                "old-duplicate",
                ATTACKER,
                Injector {
                    script: vec![(ms(1000), stale)],
                },
            ),
        ],
        lan(),
    )?;
    world.wake_node_at(star.leaves[2], ms(1000), 0)?;
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn expect_paws(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(1)[0].counters.paws_rejected == 1,
        "the server's PAWS check dropped the stale segment",
    )?;
    check(
        received(o, 1) == 20_000,
        "the reader saw exactly the real 20,000 bytes, nothing stale",
    )
}

/// SYNs per 100 ms from the flooder, and how long it floods.
const FLOOD_PER_TICK: u32 = 20;
const FLOOD_UNTIL_MS: u64 = 20_000;

fn build_syn_flood(seed: u64, cookies: bool) -> Result<Setup, SimError> {
    // The legitimate client gives up after 3 SYN retransmissions (16 s).
    let patient = TcpConfig {
        syn_retries: 3,
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, patient)
        .at(
            ms(1000),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(1100),
            Action::Send {
                conn: 0,
                bytes: 1000,
            },
        )
        .at(Time::from_secs(20), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, TcpConfig::default())
        .syn_cookies(cookies)
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    // Spoofed SYNs from addresses nobody routes back to: their SYN-ACKs die
    // at the hub, so each SYN would pin a SYN-RECEIVED entry for ~63 s.
    let mut script = Vec::new();
    let mut n = 0u32;
    for tick in 0..FLOOD_UNTIL_MS / 100 {
        for _ in 0..FLOOD_PER_TICK {
            let spoofed = SocketAddrV4::new(
                Ipv4Addr::new(10, 9, (n >> 8) as u8, n as u8),
                1024 + (n % 60000) as u16,
            );
            let isn = n.wrapping_mul(2_654_435_761);
            script.push((
                ms(10 + tick * 100),
                forged(spoofed, server_addr(), Flags::SYN, isn),
            ));
            n += 1;
        }
    }
    let times: Vec<Time> = script.iter().map(|(t, _)| *t).collect();
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new("attacker", ATTACKER, Injector { script }),
        ],
        lan(),
    )?;
    for (i, t) in times.into_iter().enumerate() {
        world.wake_node_at(star.leaves[2], t, i as u64)?;
    }
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn build_syn_flood_cookies(seed: u64) -> Result<Setup, SimError> {
    build_syn_flood(seed, true)
}

fn build_syn_flood_no_cookies(seed: u64) -> Result<Setup, SimError> {
    build_syn_flood(seed, false)
}

fn expect_syn_flood_cookies(o: &Outcome) -> Result<(), String> {
    let counters = o.host(1).endpoint.counters();
    check(
        counters.syn_cookies_sent > 1000,
        "the flood overflowed the SYN queue and was answered with cookies",
    )?;
    check(
        counters.syn_cookies_accepted == 1,
        "exactly one cookie came back: the legitimate client's",
    )?;
    check(
        o.visited(0, State::Established),
        "the legitimate client connected during the flood",
    )?;
    check(received(o, 1) == 1000, "and its data arrived")
}

fn expect_syn_flood_no_cookies(o: &Outcome) -> Result<(), String> {
    check(
        o.host(1).endpoint.counters().syns_dropped_queue_full > 1000,
        "the full SYN queue dropped the flood's SYNs",
    )?;
    check(
        o.errors(0) == vec![SocketError::TimedOut],
        "the legitimate client's SYNs were dropped too: ETIMEDOUT",
    )?;
    check(!o.visited(0, State::Established), "it never connected")
}

fn build_zero_window(seed: u64) -> Result<Setup, SimError> {
    let small = TcpConfig {
        recv_buffer: 16_384,
        ..TcpConfig::default()
    };
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(50),
            Action::Send {
                conn: 0,
                bytes: 100_000,
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, small)
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 4,
            },
        )
        .at(Time::ZERO, Action::Reading(false))
        .at(Time::from_secs(5), Action::Reading(true))
        .close_on_eof();
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_zero_window(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(0)[0].counters.zero_window_probes >= 2,
        "client probed the zero window (with backoff)",
    )?;
    check(
        received(o, 1) == 100_000,
        "once the reader drained, everything arrived",
    )
}

fn build_lossy_bulk(seed: u64) -> Result<Setup, SimError> {
    let link = lan()
        .with_loss(0.02)
        .with_duplicate(0.01)
        .with_reorder(sim::Reorder {
            probability: 0.02,
            extra_delay: Duration::from_millis(3),
        })
        .with_corruption(sim::Corruption {
            probability: 0.005,
            bits: 1,
        });
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(
            ms(20),
            Action::Send {
                conn: 0,
                bytes: 1_000_000,
            },
        )
        .at(ms(25), Action::Close { conn: 0 });
    // At 0.5% about one seed in 250 draws no corruption at all over the
    // ~700 data segments; this rule makes sure every seed corrupts one.
    let corrupt_one = FaultRule::new(
        "corrupt the 100th data segment",
        has_data,
        FaultAction::Corrupt { bits: 1 },
    )
    .nth(100);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        link,
        vec![(Way::ClientToServer, corrupt_one)],
        Time::from_secs(300),
    )
}

fn expect_lossy_bulk(o: &Outcome) -> Result<(), String> {
    check(
        received(o, 1) == 1_000_000,
        "every byte arrived exactly once, in order, uncorrupted",
    )?;
    check(o.retransmissions(0) > 0, "losses were repaired")?;
    // The rule always fires (every run sends far more than 100 data
    // segments), and it flips exactly one bit (the link does not add a
    // second, which could cancel the first in the checksum).
    let events = o.world.trace().events();
    let corrupted: Vec<(u32, &[u8])> = events
        .iter()
        .filter(|e| matches!(e.kind, sim::EventKind::Corrupt(_)))
        .map(|e| (e.len, e.bytes.as_slice()))
        .collect();
    check(!corrupted.is_empty(), "the run corrupted a segment")?;
    // A corrupted packet arrives with the bytes its Corrupt event captured
    // (twice if duplicated; the trace keeps whole 1500-byte packets). One
    // flipped bit always breaks the IPv4 or the TCP checksum (RFC 1071), so
    // each such arrival must be one malformed datagram, and nothing else
    // is. The link may still lose the corrupted segment (2% loss): then
    // nothing corrupted arrives and there is nothing to catch.
    let arrived = events
        .iter()
        .filter(|e| {
            e.kind == sim::EventKind::Deliver && corrupted.contains(&(e.len, e.bytes.as_slice()))
        })
        .count() as u64;
    check(
        o.host(1).malformed_count + o.host(0).malformed_count == arrived,
        "every corrupted segment that arrived was caught by the checksum",
    )
}

fn build_many_connections(seed: u64) -> Result<Setup, SimError> {
    let clients_count = 10;
    let per_client = 100;
    let mut leaves = Vec::new();
    for i in 0..clients_count {
        let addr = Addr::new(10, 1, 0, 10 + i as u8);
        let name = format!("client{i}");
        let mut h = host(seed, &name, addr, TcpConfig::default());
        for j in 0..per_client {
            let at = Time::from_micros((j * clients_count + i) as u64 * 500);
            h = h
                .at(
                    at,
                    Action::Connect {
                        remote: server_addr(),
                        local_port: None,
                    },
                )
                .at(
                    at + Duration::from_millis(30),
                    Action::Send {
                        conn: j,
                        bytes: 1000,
                    },
                )
                .at(at + Duration::from_millis(31), Action::Close { conn: j });
        }
        leaves.push(Place::new(name, addr, h));
    }
    let srv = server(seed).close_on_eof();
    leaves.push(Place::new("server", SERVER, srv));
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        leaves,
        LinkConfig::new(1_000_000_000, Duration::from_millis(1)),
    )?;
    let mut hosts = vec![star.leaves[clients_count].into()];
    hosts.extend(
        star.leaves[..clients_count]
            .iter()
            .map(|&n| HostNode::from(n)),
    );
    Ok(Setup {
        world,
        hosts,
        horizon: Time::from_secs(200),
        open_at_end: false,
    })
}

fn expect_many_connections(o: &Outcome) -> Result<(), String> {
    let accepted = o
        .host(0)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 1000,
        "the server accepted all 1,000 connections",
    )?;
    check(
        received(o, 0) == 1_000_000,
        "the server read 1,000 bytes from each",
    )
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
        Scenario::new("handshake", build_handshake)
            .summary("three-way handshake, a little data, orderly close")
            .doc("RFC 9293 §3.5 Figure 6. SYN-SENT --> <CTL=SYN>, SYN-RECEIVED <-- <CTL=SYN,ACK>, ESTABLISHED on both sides after the third segment; ack = ISN + 1 throughout.")
            .expect(expect_handshake),
        Scenario::new("four-way-close", build_four_way)
            .summary("active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT; passive: CLOSE-WAIT, LAST-ACK")
            .doc("RFC 9293 §3.6 Figure 12, case 1. The server's ACK of the client's FIN and its own FIN leave 200 ms apart, so all four segments are visible.")
            .expect(expect_four_way),
        Scenario::new("three-way-close", build_three_way)
            .summary("the server's FIN rides on its ACK of the client's FIN")
            .doc("RFC 9293 §3.6; the server closes as soon as it reads EOF, so its FIN is piggybacked on the ACK and the client goes FIN-WAIT-1 -> TIME-WAIT directly (Figure 5's 'rcv FIN,ACK').")
            .expect(expect_three_way),
        Scenario::new("simultaneous-open", build_simultaneous_open)
            .summary("both sides send SYN at once")
            .doc("RFC 9293 §3.5 Figure 7. Each SYN-SENT side receives the other's SYN, moves to SYN-RECEIVED and answers SYN,ACK; both reach ESTABLISHED.")
            .expect(expect_simultaneous_open),
        Scenario::new("simultaneous-close", build_simultaneous_close)
            .summary("both sides close at once: CLOSING on both")
            .doc("RFC 9293 §3.6 Figure 13. The FINs cross; each side in FIN-WAIT-1 receives a FIN (CLOSING), then the ACK of its own FIN (TIME-WAIT).")
            .expect(expect_simultaneous_close),
        Scenario::new("lost-final-ack", build_lost_final_ack)
            .summary("the last ACK is lost: LAST-ACK retransmits FIN, TIME-WAIT re-ACKs")
            .doc("RFC 9293 §3.6 and §3.10.7.4 (TIME-WAIT: 'acknowledge it, and restart the 2 MSL timeout'). The client's final ACK is dropped; the server's FIN is retransmitted on RTO and re-ACKed.")
            .expect(expect_lost_final_ack),
        Scenario::new("old-duplicate-syn", build_old_duplicate_syn)
            .summary("a stale SYN reaches the listener during the real handshake")
            .doc("RFC 9293 §3.5 Figure 8. The old SYN makes the server answer with a SYN,ACK the client cannot accept; the client sends <SEQ=SEG.ACK><CTL=RST>, the server returns to LISTEN, and the real connection completes.")
            .expect(expect_old_duplicate_syn),
        Scenario::new("delayed-syn-after-close", build_delayed_syn_after_close)
            .summary("a duplicate SYN arrives after the connection ended")
            .doc("RFC 9293 §3.10.7.2 and §3.10.7.4. The late SYN opens a half-open SYN-RECEIVED at the listener; the client, in TIME-WAIT, answers the SYN,ACK with an ACK that the server rejects with RST (ignored under RFC 1337); the half-open entry times out. No phantom connection is accepted.")
            .expect(expect_delayed_syn_after_close),
        Scenario::new("sequence-wraparound", build_wraparound)
            .summary("ISNs a few KB below 2^32, megabytes across the wrap under 1% loss")
            .doc("RFC 9293 §3.4 (modulo 2^32 arithmetic). Pinned ISNs put the wrap inside the first few segments; 4 MB one way and 100 KB back cross it with losses repaired, byte-exact.")
            .expect(expect_wraparound),
        Scenario::new("paws", build_paws)
            .summary("an in-window segment with an old timestamp is dropped (PAWS)")
            .doc("RFC 7323 §5: after the stream crosses 2^32, a copy of a segment from the previous trip around the sequence space arrives with an in-window sequence number but a TSval older than TS.Recent; it is dropped and answered with an ACK, and the reader never sees it.")
            .expect(expect_paws),
        Scenario::new("connection-refused", build_refused)
            .summary("SYN to a closed port draws RST,ACK: ECONNREFUSED")
            .doc("RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; §3.10.7.3: a RST with an acceptable ACK in SYN-SENT means 'connection refused'.")
            .expect(expect_refused),
        Scenario::new("rst-on-unread-close", build_rst_on_unread_close)
            .summary("close with unread data sends RST instead of FIN")
            .doc("RFC 2525 §2.17, RFC 1122 4.2.2.13: the server never reads, then closes; it aborts with RST,ACK and the client sees ECONNRESET.")
            .expect(expect_rst_on_unread_close),
        Scenario::new("abort", build_abort)
            .summary("ABORT sends RST,ACK; the peer sees ECONNRESET")
            .doc("RFC 9293 §3.10.5: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (Linux's R.), accepted by the peer because SEQ = RCV.NXT (RFC 5961 §3.2).")
            .expect(expect_abort),
        Scenario::new("close-wait-abort", build_close_wait_abort)
            .summary("the peer never closes, then its process exits: RST")
            .doc("RFC 9293 §3.6: the server sits in CLOSE-WAIT while the client waits in FIN-WAIT-2; when the server's process exits its connection is aborted with RST.")
            .expect(expect_close_wait_abort),
        Scenario::new("half-close", build_half_close)
            .summary("after SHUT_WR the client still receives until the server's FIN")
            .doc("RFC 9293 §3.6 and §3.10.4: a half-closed connection keeps delivering data in the open direction.")
            .expect(expect_half_close),
        Scenario::new("half-open", build_half_open)
            .summary("the server crashes and reboots; the client's next segment draws RST")
            .doc("RFC 9293 §3.5.1 (half-open connections) and §3.10.7.1: the rebooted server has no TCB, answers the client's data with <SEQ=SEG.ACK><CTL=RST>, and the client resets.")
            .expect(expect_half_open),
        Scenario::new("half-open-keepalive", build_half_open_keepalive)
            .summary("keepalive detects a silent dead peer")
            .doc("RFC 9293 §3.8.4 (RFC 1122 4.2.3.6). The server dies and the path goes dark; the idle client's keepalive probes go unanswered and it gives up with ETIMEDOUT (and a RST, as Linux).")
            .expect(expect_half_open_keepalive),
        Scenario::new("blind-reset-attack", build_blind_reset)
            .summary("in-window RST and SYN from an off-path attacker draw challenge ACKs")
            .doc("RFC 5961 §3 and §4: the forged RST is in the window but not exact and the forged SYN is in a synchronized state; both get challenge ACKs and the transfer continues. A third forgery 50 ms after the second challenge ACK draws nothing: like Linux (net.ipv4.tcp_invalid_ratelimit), ACKs to unacceptable segments go out at most once per 500 ms (the throttle RFC 5961 §7 asks for).")
            .expect(expect_blind_reset),
        Scenario::new("time-wait-assassination", build_time_wait_assassination)
            .summary("a RST in TIME-WAIT is ignored (RFC 1337)")
            .doc("RFC 1337: an old duplicate makes the client ACK into a closed server, whose RST reaches the client in TIME-WAIT; TIME-WAIT is not cut short.")
            .expect(expect_time_wait_assassination),
        Scenario::new("time-wait-reuse", build_time_wait_reuse)
            .summary("a restarted server rebinds with address reuse; a new SYN reopens TIME-WAIT")
            .doc("RFC 6191 and RFC 9293 §3.6.1: the server closed first, so its side of the 4-tuple is in TIME-WAIT when it restarts. A plain listen fails with EADDRINUSE; with address reuse (SO_REUSEADDR) it succeeds, and the client's new SYN, whose timestamp is newer than TS.Recent, reopens the 4-tuple.")
            .expect(expect_time_wait_reuse),
        Scenario::new("syn-flood", build_syn_flood_cookies)
            .summary("spoofed SYNs fill the SYN queue; with SYN cookies a client still connects")
            .doc("RFC 4987 §3.6 (SYN cookies, Linux's scheme). 200 spoofed SYNs per second fill a 16-entry SYN queue; further SYNs, the legitimate client's included, are answered statelessly with a cookie ISN, and the client's final ACK rebuilds its connection.")
            .expect(expect_syn_flood_cookies),
        Scenario::new("syn-flood-no-cookies", build_syn_flood_no_cookies)
            .summary("the same flood with SYN cookies off: the client cannot connect")
            .doc("RFC 4987 §2.2: with cookies off, a full SYN queue drops every new SYN; the legitimate client retransmits its SYN with backoff and gives up with ETIMEDOUT.")
            .expect(expect_syn_flood_no_cookies),
        Scenario::new("zero-window", build_zero_window)
            .summary("persist probes until the reader drains")
            .doc("RFC 9293 §3.8.6.1: the receiver stops reading, its window closes; the sender probes with backoff (Linux-style probes: SEQ = SND.UNA - 1) until the reader resumes.")
            .expect(expect_zero_window),
        Scenario::new("lossy-bulk", build_lossy_bulk)
            .summary("1 MB under loss, duplication, reordering and corruption")
            .doc("RFC 6298, RFC 5681, RFC 2018 and RFC 6675 (SACK-based recovery fills the holes the receiver reports): 2% loss, 1% duplication, 2% reordering and 0.5% bit corruption, plus a fault rule that flips a bit in the 100th data segment so every seed sees a corruption; every corrupted segment that arrives is caught by the checksum, and every byte arrives once, in order.")
            .expect(expect_lossy_bulk),
        Scenario::new("many-connections", build_many_connections)
            .summary("1,000 clients' connections against one server")
            .doc("Ten client hosts each open 100 short connections to one listener through a hub; every connection completes and closes.")
            .expect(expect_many_connections),
        ]
    })
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.name == name)
}
