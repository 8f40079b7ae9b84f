//! Host crash and restart: the software starts again, the TCP state and
//! everything in memory are gone.

mod common;

use common::kv;
use sim::Time;
use std::io::ErrorKind;
use std::time::Duration;
use tcpsim_tokio::Sim;
use tcpsim_tokio::net::TcpStream;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[test]
fn a_crashed_server_comes_back_empty_and_the_retrying_client_gets_through() {
    // The server is down from 1 s to 3 s. The client's SET before the
    // crash succeeds; its GET during the outage times out and is retried
    // until the restarted server answers, and the answer is NONE: the map
    // lived in the crashed software's memory.
    let mut sim = Sim::new(5);
    sim.host("server", kv::server);
    sim.crash_at("server", Time::from_secs(1))
        .restart_at("server", Time::from_secs(3));
    sim.client("client", async {
        let mut client = kv::Client::new("server:6379", Duration::from_millis(500));
        assert_eq!(client.call("SET fruit pear", 1).await?, "OK");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = tokio::time::Instant::now();
        assert_eq!(client.call("GET fruit", 20).await?, "NONE");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
        assert!(
            client.log.borrow().retries >= 2,
            "{:?}",
            client.log.borrow()
        );
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_bounced_server_resets_the_connections_it_forgot() {
    // The server reboots at once at 1 s: its new endpoint knows nothing of
    // the client's open connection, so the client's next request is
    // answered with a RST (RFC 9293 §3.10.7.1) and the read fails with
    // ConnectionReset. A new connection reaches the restarted software.
    let mut sim = Sim::new(6);
    sim.host("server", kv::server);
    sim.bounce_at("server", Time::from_secs(1));
    sim.client("client", async {
        let stream = TcpStream::connect("server:6379").await?;
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut line = String::new();
        w.write_all(b"SET a 1\n").await?;
        r.read_line(&mut line).await?;
        assert_eq!(line, "OK\n");
        tokio::time::sleep(Duration::from_secs(2)).await;
        w.write_all(b"GET a\n").await?;
        line.clear();
        let e = r.read_line(&mut line).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let mut fresh = kv::Client::new("server:6379", Duration::from_secs(1));
        assert_eq!(fresh.call("GET a", 1).await?, "NONE");
        Ok(())
    });
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    let notes: Vec<String> = run
        .outcome
        .world
        .trace()
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            sim::EventKind::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("server crashed and rebooted")),
        "{notes:?}"
    );
}
