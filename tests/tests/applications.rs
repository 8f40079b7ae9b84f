//! The ready applications, each driving the conversation it is named for
//! over a 10 ms round trip, and the application contract: reactions,
//! writability after a short write, errors for bad calls, custom nodes.

use scenarios::app::{AppCtx, Application, Conn};
use scenarios::apps::{
    BulkSender, BulkSink, ChurnClient, EchoServer, RequestClient, RequestServer,
};
use scenarios::catalogue::{CLIENT, PORT, SERVER, Scenario};
use scenarios::host::{HasHost, Host, Record};
use scenarios::oracle::Violation;
use scenarios::render::{self, Numbering};
use scenarios::run::{HostNode, Outcome, Setup, execute};
use sim::topology::{self, Endpoint as Place};
use sim::{Ctx, Duration, LinkConfig, Node, Packet, Time, World, WorldConfig};
use stack::{SocketError, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT)
}

fn lan() -> LinkConfig {
    LinkConfig::new(100_000_000, Duration::from_millis(5))
}

fn run(client: Host, server: Host) -> Outcome {
    execute(7, setup(client, server)).expect("runs")
}

fn setup(client: Host, server: Host) -> Setup {
    let mut world = World::new(WorldConfig::new(7));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client),
        Place::new("server", SERVER, server),
        lan(),
        lan(),
    )
    .expect("topology");
    Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(300),
        open_at_end: false,
    }
}

fn host(name: &str, addr: sim::Addr, tcp: TcpConfig) -> Host {
    Host::new(name, addr, [name.len() as u8; 16], tcp)
}

#[test]
fn bulk_sender_fills_a_small_send_buffer_and_the_sink_reads_every_byte() {
    // A 64 KiB send buffer takes a sixteenth of the megabyte: the sender
    // only finishes if the host calls `writable` as ACKs free space, and
    // the sink's pattern check plus the digest oracle prove every byte.
    let small = TcpConfig {
        send_buffer: 64 * 1024,
        ..TcpConfig::default()
    };
    let client = host("client", CLIENT, small).app(BulkSender::new(server_addr(), 1 << 20));
    let server = host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT));
    let o = run(client, server);
    assert!(o.passed(), "{}", o.verdict());
    let sink = o.host(1).application::<BulkSink>().unwrap();
    assert_eq!((sink.read, sink.finished), (1 << 20, 1));
    assert_eq!(
        o.host(0).application::<BulkSender>().unwrap().written,
        1 << 20
    );
    assert_eq!(o.streams(0)[0].written.len, 1 << 20);
    assert!(o.visited(0, State::TimeWait), "the sender closed first");
}

/// Sends `message` once connected and closes when the whole echo is back.
struct Speaker {
    message: Vec<u8>,
    heard: Vec<u8>,
}

impl Application for Speaker {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        cx.connect(server_addr()).expect("connect");
    }
    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        assert_eq!(cx.send(conn, &self.message), Ok(self.message.len()));
    }
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        self.heard.extend_from_slice(data);
        if self.heard.len() == self.message.len() {
            cx.close(conn).expect("close");
        }
    }
}

#[test]
fn echo_server_writes_back_what_it_reads_and_closes_after_the_client() {
    // The client hears its own words back byte for byte, and both sides
    // end: the client's close reaches the server as EOF, which closes too.
    let message = b"GET / HTTP/1.0\r\nnot the pattern: any bytes at all\r\n\r\n".to_vec();
    let client = host("client", CLIENT, TcpConfig::default()).app(Speaker {
        message: message.clone(),
        heard: Vec::new(),
    });
    let server = host("server", SERVER, TcpConfig::default()).app(EchoServer::new(PORT));
    let o = run(client, server);
    assert!(o.passed(), "{}", o.verdict());
    assert_eq!(o.host(0).application::<Speaker>().unwrap().heard, message);
    assert_eq!(
        o.host(1).application::<EchoServer>().unwrap().echoed,
        message.len() as u64
    );
    assert!(
        o.visited(1, State::LastAck),
        "the server closed after the client's FIN"
    );
}

#[test]
fn request_client_makes_every_request_over_at_most_three_connections() {
    // Ten 200-byte requests, each answered by 5,000 bytes, three callers
    // at once with 20 ms of think time: ten answers, three connections,
    // and no answer faster than the 10 ms round trip.
    let client = host("client", CLIENT, TcpConfig::default()).app(
        RequestClient::new(server_addr(), 200, 5000, 10)
            .concurrency(3)
            .think_time(Duration::from_millis(20)),
    );
    let server =
        host("server", SERVER, TcpConfig::default()).app(RequestServer::new(PORT, 200, 5000));
    let o = run(client, server);
    assert!(o.passed(), "{}", o.verdict());
    let rpc = o.host(0).application::<RequestClient>().unwrap();
    assert_eq!((rpc.issued, rpc.completed), (10, 10));
    assert!(rpc.failed.is_empty(), "{:?}", rpc.failed);
    assert_eq!(o.streams(0).len(), 3, "three connections, no more");
    assert!(
        rpc.latencies
            .iter()
            .all(|&l| l >= Duration::from_millis(10))
    );
    assert_eq!(
        o.host(1).application::<RequestServer>().unwrap().answered,
        10
    );
    // Every request's random bytes reached the server intact (digests).
    let sent: u64 = o.streams(0).iter().map(|s| s.written.len).sum();
    assert_eq!(sent, 2000);
}

#[test]
fn churn_client_keeps_five_open_and_opens_the_next_when_one_ends() {
    // Fifty short connections with at most five open: all fifty end, the
    // peak is exactly five, and the server saw fifty EOFs.
    let client = host("client", CLIENT, TcpConfig::default()).app(ChurnClient::new(
        server_addr(),
        50,
        5,
        3000,
    ));
    let server = host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT));
    let o = run(client, server);
    assert!(o.passed(), "{}", o.verdict());
    let churn = o.host(0).application::<ChurnClient>().unwrap();
    assert_eq!((churn.opened, churn.ended, churn.failed), (50, 50, 0));
    assert_eq!(churn.open_peak, 5);
    assert_eq!(o.host(1).application::<BulkSink>().unwrap().finished, 50);
    assert_eq!(o.host(1).application::<BulkSink>().unwrap().read, 150_000);
}

/// Sends on a connection it never opened.
struct Confused {
    result: Option<Result<usize, SocketError>>,
}

impl Application for Confused {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        let r = cx.send(Conn(7), b"hello");
        if let Err(e) = r {
            cx.call_failed("send on conn 7", e);
        }
        self.result = Some(r);
    }
}

#[test]
fn sending_on_a_connection_never_opened_is_an_error_not_a_panic() {
    // Conn 7 does not exist: the call returns EBADF, as a never-opened
    // descriptor would, the host logs it, and the run goes on.
    let client = host("client", CLIENT, TcpConfig::default()).app(Confused { result: None });
    let server = host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT));
    let o = run(client, server);
    let app = o.host(0).application::<Confused>().unwrap();
    assert_eq!(app.result, Some(Err(SocketError::InvalidSocket)));
    assert!(o.host(0).log.iter().any(|l| matches!(
        &l.record,
        Record::CallFailed {
            error: SocketError::InvalidSocket,
            ..
        }
    )));
    assert!(render::ladder(&o, Numbering::Relative).contains("send on conn 7 failed: EBADF"));
}

/// A node of the user's own that carries a host (here it counts packets).
struct Counting {
    host: Host,
    packets: u64,
}

impl Node for Counting {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        self.packets += 1;
        self.host.on_packet(ctx, packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        self.host.on_wake(ctx, token);
    }
}

impl HasHost for Counting {
    fn host(&self) -> &Host {
        &self.host
    }
}

#[test]
fn a_custom_node_that_carries_a_host_keeps_the_oracles_and_the_ladder() {
    // Outcome reads the server through `HasHost`: the oracles run on it,
    // the ladder shows its states, and `ss` lists its sockets.
    let client =
        host("client", CLIENT, TcpConfig::default()).app(BulkSender::new(server_addr(), 5000));
    let server = Counting {
        host: host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT)),
        packets: 0,
    };
    let mut world = World::new(WorldConfig::new(7));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client),
        Place::new("server", SERVER, server),
        lan(),
        lan(),
    )
    .unwrap();
    let setup = Setup {
        world,
        hosts: vec![p.a.into(), HostNode::of::<Counting>(p.b)],
        horizon: Time::from_secs(300),
        open_at_end: false,
    };
    let o = execute(7, setup).unwrap();
    assert!(o.passed(), "{}", o.verdict());
    assert_eq!(o.streams(1)[0].read.len, 5000);
    assert!(o.world.node::<Counting>(p.b).unwrap().packets > 0);
    let ladder = render::ladder(&o, Numbering::Relative);
    assert!(ladder.contains("SYN-RECEIVED"), "{ladder}");
    assert!(render::ss_table(&o).contains("# server"));
    assert!(render::json_lines(&o).contains("\"node\":\"server\""));
    let pcap = render::pcap(&o).unwrap();
    // Every segment the server sent is in the capture (24-byte file header).
    assert!(pcap.len() > 24 + 16 * o.host(1).departures.len());
    // Declaring a node as a type it is not is an error before the run.
    let mut world = World::new(WorldConfig::new(7));
    let p = topology::point_to_point(
        &mut world,
        Place::new(
            "client",
            CLIENT,
            host("client", CLIENT, TcpConfig::default()),
        ),
        Place::new(
            "server",
            SERVER,
            host("server", SERVER, TcpConfig::default()),
        ),
        lan(),
        lan(),
    )
    .unwrap();
    let wrong = Setup {
        world,
        hosts: vec![p.a.into(), HostNode::of::<Counting>(p.b)],
        horizon: Time::from_secs(1),
        open_at_end: false,
    };
    assert!(execute(7, wrong).is_err());
}

fn small_transfer(_seed: u64) -> Result<Setup, sim::SimError> {
    let client =
        host("client", CLIENT, TcpConfig::default()).app(BulkSender::new(server_addr(), 5000));
    let server = host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT));
    Ok(setup(client, server))
}

#[test]
fn a_users_oracle_runs_after_the_built_in_ones_and_fails_the_run() {
    // 5,000 bytes pass every built-in oracle; the user's oracle demands
    // 10,000 and must turn the verdict into a failure that names it, while
    // the same scenario without it passes.
    let plain = Scenario::new("small-transfer", small_transfer).expect(|o| {
        if o.streams(1)[0].read.len == 5000 {
            Ok(())
        } else {
            Err("5000 bytes read".into())
        }
    });
    assert!(plain.run(1).unwrap().passed());
    let demanding = plain.clone().oracle(|o| {
        let read = o.streams(1)[0].read.len;
        if read < 10_000 {
            vec![Violation {
                oracle: "volume",
                detail: format!("only {read} bytes moved"),
            }]
        } else {
            Vec::new()
        }
    });
    let o = demanding.run(1).unwrap();
    assert!(!o.passed());
    assert_eq!(o.verdict(), "FAIL: [volume] only 5000 bytes moved");
}

#[test]
fn a_schedule_step_on_a_connection_it_never_opens_fails_at_the_start() {
    // The client opens one connection (conn 0) and accepts none, so
    // `Send { conn: 3 }` can never run: it must be a failed call the ladder
    // names at time zero, not a step that waits forever in silence, and
    // the rest of the schedule still runs.
    use scenarios::host::Action;
    let client = host("client", CLIENT, TcpConfig::default())
        .at(
            Time::ZERO,
            Action::Connect {
                remote: server_addr(),
                local_port: None,
            },
        )
        .at(Time::from_millis(50), Action::Send { conn: 3, bytes: 10 })
        .at(Time::from_millis(50), Action::Send { conn: 0, bytes: 10 })
        .at(Time::from_millis(60), Action::Close { conn: 0 });
    let server = host("server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT));
    let o = run(client, server);
    assert!(o.passed(), "{}", o.verdict());
    let ladder = render::ladder(&o, Numbering::Relative);
    assert!(
        ladder.contains(
            "Send { conn: 3, bytes: 10 } (this schedule never opens that connection) failed: EBADF"
        ),
        "{ladder}"
    );
    assert_eq!(o.streams(1)[0].read.len, 10);
}
