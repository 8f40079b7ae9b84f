//! Workloads shared by the criterion benchmarks and the measuring examples.
//!
//! ```
//! // A small churn run: every connection opens, carries its 100 bytes and
//! // ends, so the client reports them all ended and none failed.
//! use scenarios::apps::ChurnClient;
//!
//! let outcome = scenarios::run::execute(1, tcpsim_benches::churn(50)).unwrap();
//! assert!(outcome.passed(), "{}", outcome.verdict());
//! let client = outcome.host(0).application::<ChurnClient>().unwrap();
//! assert_eq!((client.ended, client.failed), (50, 0));
//! ```

#![warn(missing_docs)]

use scenarios::apps::{BulkSink, ChurnClient};
use scenarios::host::Host;
use scenarios::run::Setup;
use sim::topology::{self, Endpoint};
use sim::{Addr, Duration, LinkConfig, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::net::{Ipv4Addr, SocketAddrV4};

/// W4's limit on connections open at once.
pub const OPEN_MAX: usize = 1000;

/// W4 ([`scenarios::bench`]) through the public host API: a [`ChurnClient`] keeps at
/// most [`OPEN_MAX`] connections open and opens the next when one ends
/// (each writes 100 bytes and closes; a [`BulkSink`] reads to EOF and
/// closes), `total` in all, over 1 Gbit/s with 1 ms one way, trace hash only.
pub fn churn(total: u64) -> Setup {
    let mut config = WorldConfig::new(1);
    config.trace = TraceMode::HashOnly;
    config.event_budget = u64::MAX;
    let mut world = World::new(config);
    let (client_addr, server_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(server_addr), 80);
    // TIME-WAIT of 2 ms (MSL 1 ms) so the client's 28k ephemeral ports
    // never run out at this rate; nothing else differs from the defaults.
    let tcp = TcpConfig {
        msl: stack::Duration::from_millis(1),
        ..TcpConfig::default()
    };
    let client = Host::new("client", client_addr, [1; 16], tcp.clone())
        .app(ChurnClient::new(server, total, OPEN_MAX, 100));
    let server_host = Host::new("server", server_addr, [2; 16], tcp).app(BulkSink::new(80));
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
    let p = topology::point_to_point(
        &mut world,
        Endpoint::new("client", client_addr, client),
        Endpoint::new("server", server_addr, server_host),
        link.clone(),
        link,
    )
    .unwrap();
    Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(100_000),
        open_at_end: false,
    }
}
