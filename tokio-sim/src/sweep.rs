//! Your async test as a tcpsim scenario: swept over seeds and fault
//! profiles, captured in a capsule when it fails, shrunk, replayed.
//!
//! [`scenario`] wraps a function that fills in a [`Sim`] (hosts, links,
//! the client's test body) into a [`scenarios::catalogue::Scenario`] of the
//! program kind. Everything tcpsim does with scenarios then works on it:
//!
//! - [`scenarios::sweep::Sweep`] runs it at every seed of a range under a
//!   fault profile (`heavy`, `swarm`, a TOML file), on any number of
//!   threads with the same report, and names each failing seed;
//! - [`scenarios::capsule::run::capture`] writes a failure's capsule (its
//!   fault decisions), [`scenarios::capsule::shrink::shrink`] cuts the
//!   decisions down to the few that matter, and
//!   [`scenarios::capsule::run::replay`] replays one;
//! - [`scenarios::cli::main_with`] puts it in a `tcpsim` command line of
//!   your own (`run`, `sweep`, `replay`, `shrink`... see
//!   `examples/kv_cli.rs`).
//!
//! A run fails when the test body returns an error or panics (oracle
//! `test`, with the body's message), when a server's software fails
//! (`test` too), or when one of tcpsim's oracles finds a protocol fault
//! (`delivery`, `transitions`, `segments`). The profile's faults go on the
//! links of the simulation's star (each host's spoke to the hub, both
//! directions) as on any scenario's; a crash the profile draws is made as
//! [`Sim::bounce_at`] (TCP state lost, software restarted), and never on
//! the client's host, whose test body cannot be restarted.
//!
//! ```
//! use scenarios::sweep::{Profile, Seeds, Sweep};
//! use tcpsim_tokio::net::{TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let echo = tcpsim_tokio::sweep::scenario("echo", |sim| {
//!     sim.duration(sim::Time::from_secs(600));
//!     sim.host("server", || async {
//!         let listener = TcpListener::bind("0.0.0.0:7").await?;
//!         loop {
//!             let (mut s, _) = listener.accept().await?;
//!             tokio::task::spawn_local(async move {
//!                 let mut buf = [0u8; 5];
//!                 if s.read_exact(&mut buf).await.is_ok() {
//!                     let _ = s.write_all(&buf).await;
//!                 }
//!             });
//!         }
//!     });
//!     sim.client("client", async {
//!         let mut s = TcpStream::connect("server:7").await?;
//!         s.write_all(b"hello").await?;
//!         let mut back = [0u8; 5];
//!         s.read_exact(&mut back).await?;
//!         assert_eq!(&back, b"hello");
//!         Ok(())
//!     });
//! });
//! // Five seeds under 10-30% loss, bursts, reordering and partitions:
//! // TCP gets the five bytes through every time.
//! let report = Sweep::new(vec![echo], Seeds::new(1, 5).unwrap())
//!     .faults("heavy", Profile::heavy())
//!     .run();
//! assert!(report.passed(), "{:?}", report.failures);
//! ```

use crate::Sim;
use crate::sim::BuildError;
use scenarios::catalogue::Scenario;
use scenarios::oracle::Violation;
use sim::SimError;

/// The oracle name under which a failed test body (or a failed server)
/// is reported.
pub const TEST_ORACLE: &str = "test";

/// A scenario called `name` whose run, at a seed, is the simulation `build`
/// fills in for that seed (`Sim::new(seed)`, then `build`). `build` is
/// called once per run, on the thread that runs it, so the software it
/// adds need not be `Send`; `build` itself must be shareable between the
/// sweep's threads.
pub fn scenario(name: &'static str, build: impl Fn(&mut Sim) + Send + Sync + 'static) -> Scenario {
    Scenario::program(name, move |seed, arrange| {
        let mut sim = Sim::new(seed);
        build(&mut sim);
        let (result, mut outcome) = sim.execute_arranged(arrange).map_err(|e| match e {
            BuildError::Sim(e) => e,
            other => SimError::Scenario(format!("scenario {name}: {other}")),
        })?;
        if let Err(detail) = result {
            outcome.violations.push(Violation {
                oracle: TEST_ORACLE,
                detail,
            });
        }
        Ok(outcome)
    })
}
