//! Run your own tokio programs on tcpsim's simulated hosts.
//!
//! Each host of a [`Sim`] runs its software (an async closure) on its own
//! single-threaded tokio runtime with paused time, beside a simulated TCP
//! endpoint: [`net::TcpListener`] and [`net::TcpStream`] have the shape of
//! `tokio::net`'s, and under them is tcpsim's TCP (RFC 9293 and its
//! updates, Linux's choices), with real segments, retransmission,
//! congestion control and flow control over the engine's links. The engine
//! owns the clock: `tokio::time::sleep`, `timeout`, `interval` and
//! `Instant::now` read virtual time, and the whole run is a function of
//! the seed.
//!
//! ```
//! use tcpsim_tokio::net::{TcpListener, TcpStream};
//! use tcpsim_tokio::Sim;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut sim = Sim::new(7);
//! sim.host("server", || async {
//!     let listener = TcpListener::bind("0.0.0.0:7000").await?;
//!     loop {
//!         let (mut stream, _) = listener.accept().await?;
//!         tokio::task::spawn_local(async move {
//!             let mut buf = [0u8; 64];
//!             let n = stream.read(&mut buf).await.unwrap_or(0);
//!             let _ = stream.write_all(&buf[..n]).await;
//!         });
//!     }
//! });
//! sim.client("client", async {
//!     let mut stream = TcpStream::connect("server:7000").await?;
//!     stream.write_all(b"ping").await?;
//!     let mut reply = [0u8; 4];
//!     stream.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"ping");
//!     Ok(())
//! });
//! sim.run().unwrap();
//! ```
//!
//! What works inside a host's software: `tokio::spawn` and
//! `tokio::task::spawn_local` (each host's software runs in a
//! `LocalSet`, so its futures need not be `Send`), `tokio::select!`,
//! `tokio::sync` (channels, `Mutex`, `Notify`...), `tokio::time` (sleep,
//! timeout, interval, `Instant`), `tokio::io`'s helpers (`AsyncReadExt`,
//! `AsyncWriteExt`, `BufReader`, `split`), and this crate's [`net`] sockets,
//! [`net::lookup`] of host names, [`net::hostname`], [`net::sim_elapsed`].
//!
//! Libraries built on tokio's I/O traits work on the sockets too: hyper's
//! HTTP/1.1 server and client run with a small adapter to its
//! `hyper::rt` traits (`tests/common/http.rs`, `examples/http.rs`), with
//! its `Date` header turned off (`auto_date_header(false)`: it reads the
//! wall clock) and no hyper timer (which reads `std::time::Instant`).
//!
//! What does not: anything that leaves the simulation. `std::net` and
//! `tokio::net` reach the real OS (the crate does not enable tokio's `net`
//! feature); real files and blocking I/O, `spawn_blocking` and
//! `std::thread::sleep` run on the wall clock and make the run depend on the
//! machine; `std::time::Instant` and `SystemTime` read the wall clock. A task
//! that loops forever without awaiting cannot be interrupted (it blocks the
//! engine's thread as it would block a tokio worker); one that keeps
//! yielding without waiting on the network or a timer is stopped after a
//! million polls in one instant with an error naming the host and the seed.
//!
//! How virtual time is kept (the `runtime` module's docs in the source have
//! the details): each runtime is polled to quiescence at the engine's time
//! without letting tokio auto-advance or park; an idle runtime's clock is
//! moved to its next timer only as far as nothing else in the world can
//! reach the host first, and the host gets an engine wake only if a timer
//! woke a task. Idle runtimes cost no engine events.
//!
//! A run ([`Sim::execute`]) returns a [`Run`] whose
//! [`scenarios::run::Outcome`] has passed tcpsim's oracles (delivery from
//! the hosts' own digests, state transitions, segment rules) and feeds the
//! renderers in [`scenarios::render`]: ladder, JSON lines, pcap, `ss`.
//! [`sweep::scenario`] makes a test a scenario that tcpsim sweeps over
//! seeds and fault profiles, captures in capsules, shrinks and replays.

#![warn(missing_docs)]

mod host;
pub mod net;
mod runtime;
mod sim;
pub mod sweep;

pub use sim::{BuildError, Direction, Run, Sim};

/// What host software and test bodies return (as turmoil's).
pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;
