//! A scenario as a user of tcpsim writes it in their own crate: a client
//! makes four requests to a server through a router, and the router's link
//! to the server goes down for two seconds in the middle of a response.
//! TCP must ride it out: the server's retransmission timer backs off
//! through the partition (RFC 6298 §5.5) and the transfer resumes when the
//! link returns; every request is answered, every byte arrives once.
//!
//! `cargo run -p partitioned-rpc -- run partitioned-rpc` shows its ladder;
//! `cargo run -p partitioned-rpc -- all` runs it with the built-in catalogue.
//!
//! ```
//! // One seed of the scenario: every request answered despite the
//! // partition, and every oracle (ours included) passed.
//! let outcome = partitioned_rpc::scenario().run(1).unwrap();
//! assert!(outcome.passed(), "{}", outcome.verdict());
//! assert!(outcome.retransmissions(1) > 0, "the server backed off into the partition");
//! ```

#![warn(missing_docs)]

use scenarios::apps::{RequestClient, RequestServer};
use scenarios::catalogue::Scenario;
use scenarios::host::Host;
use scenarios::oracle::Violation;
use scenarios::run::{Outcome, Setup};
use sim::{Addr, Duration, LinkConfig, Router, SimError, Time, World, WorldConfig};
use stack::TcpConfig;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The client's address (10.0.1.1), on the router's first link.
pub const CLIENT: Addr = Addr::new(10, 0, 1, 1);
/// The server's address (10.0.2.1), behind the link that goes down.
pub const SERVER: Addr = Addr::new(10, 0, 2, 1);
/// The server's port.
pub const PORT: u16 = 8080;
/// Requests the client makes, one after another on one connection.
pub const REQUESTS: u64 = 4;
/// Bytes in each request.
pub const REQUEST_SIZE: u64 = 200;
/// Bytes in each response: some twenty full-sized segments, so the
/// second response is in flight when the link goes down.
pub const RESPONSE_SIZE: u64 = 30_000;
/// The router-to-server link is down in both directions during this window.
pub const PARTITION_START: Time = Time::from_millis(130);
/// The end of the partition (exclusive): 2 s after it started.
pub const PARTITION_END: Time = Time::from_millis(2130);

/// The ISN secret of a host, from the seed (so each seed numbers differently).
fn secret(seed: u64, salt: u8) -> [u8; 16] {
    let mut key = [salt; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key
}

/// The world for `seed`: client — router — server over 100 Mbit/s, 5 ms
/// links, the router-to-server link down both ways from [`PARTITION_START`]
/// to [`PARTITION_END`]; the run lasts 120 s of virtual time.
///
/// # Errors
///
/// Only if the topology were invalid (it is fixed, so never in practice).
pub fn build(seed: u64) -> Result<Setup, SimError> {
    let server_addr = SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT);
    let client = Host::new("client", CLIENT, secret(seed, 1), TcpConfig::default()).app(
        RequestClient::new(server_addr, REQUEST_SIZE, RESPONSE_SIZE, REQUESTS)
            .think_time(Duration::from_millis(50)),
    );
    let server = Host::new("server", SERVER, secret(seed, 2), TcpConfig::default())
        .app(RequestServer::new(PORT, REQUEST_SIZE, RESPONSE_SIZE));
    let mut world = World::new(WorldConfig::new(seed));
    let client_id = world.add_node("client", CLIENT, client)?;
    let router = world.add_node("router", Addr::new(10, 0, 0, 254), Router)?;
    let server_id = world.add_node("server", SERVER, server)?;
    let lan = LinkConfig::new(100_000_000, Duration::from_millis(5));
    let cut = lan.clone().with_down(PARTITION_START, PARTITION_END);
    let (client_up, client_down) =
        world.connect("client-router", client_id, router, lan.clone(), lan)?;
    let (server_down, server_up) =
        world.connect("router-server", router, server_id, cut.clone(), cut)?;
    world.set_default_route(client_id, client_up)?;
    world.set_default_route(server_id, server_up)?;
    world.add_host_route(router, CLIENT, client_down)?;
    world.add_host_route(router, SERVER, server_down)?;
    Ok(Setup {
        world,
        hosts: vec![client_id.into(), server_id.into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

/// Every request answered, and the partition was felt: one request took
/// longer than the partition lasted, and the server retransmitted.
pub fn expect(o: &Outcome) -> Result<(), String> {
    let rpc = o
        .host(0)
        .application::<RequestClient>()
        .ok_or("the client runs a RequestClient")?;
    if rpc.completed != REQUESTS {
        return Err(format!("{} of {REQUESTS} requests answered", rpc.completed));
    }
    let longest = rpc
        .latencies
        .iter()
        .copied()
        .max()
        .unwrap_or(Duration::ZERO);
    if longest < PARTITION_END - PARTITION_START {
        return Err(format!(
            "no request waited out the partition (longest {longest})"
        ));
    }
    if o.retransmissions(1) == 0 {
        return Err("the server never retransmitted into the partition".into());
    }
    Ok(())
}

/// An oracle of our own: no request may take longer than 10 s (the
/// partition is 2 s; more would mean TCP gave up too slowly or stalled).
pub fn latency_oracle(o: &Outcome) -> Vec<Violation> {
    let Some(rpc) = o.host(0).application::<RequestClient>() else {
        return Vec::new();
    };
    rpc.latencies
        .iter()
        .enumerate()
        .filter(|(_, l)| **l > Duration::from_secs(10))
        .map(|(i, l)| Violation {
            oracle: "latency",
            detail: format!("request {i} took {l}"),
        })
        .collect()
}

/// The scenario as `tcpsim` lists and runs it: the build, its expectation
/// ([`expect`]) and its own oracle ([`latency_oracle`]).
pub fn scenario() -> Scenario {
    Scenario::new("partitioned-rpc", build)
        .summary("request/response through a router with a 2 s partition mid-response")
        .doc("RFC 6298 §5.5: the server's RTO backs off while the router-to-server link is down (0.13 s to 2.13 s, while the second response is in flight); the response resumes when it returns and all four requests are answered.")
        .expect(expect)
        .oracle(latency_oracle)
}
