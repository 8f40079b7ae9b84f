//! Programs that do the wrong thing get the error a Linux program would
//! see, and a simulation that cannot finish says why: never a hang.

mod common;

use sim::Time;
use std::io::ErrorKind;
use std::time::Duration;
use tcpsim_tokio::net::{TcpListener, TcpStream};
use tcpsim_tokio::{BuildError, Direction, Sim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn binding_a_port_in_use_is_addr_in_use() {
    // The second bind of port 80 fails with EADDRINUSE's kind, as on Linux,
    // and names the address; a bind to another host's address is refused.
    let mut sim = Sim::new(1);
    sim.host("other", || async { Ok(()) });
    sim.client("client", async {
        let _first = TcpListener::bind("0.0.0.0:80").await?;
        let second = TcpListener::bind("0.0.0.0:80").await.unwrap_err();
        assert_eq!(second.kind(), ErrorKind::AddrInUse);
        assert!(second.to_string().contains(":80"), "{second}");
        let foreign = TcpListener::bind("other:81").await.unwrap_err();
        assert_eq!(foreign.kind(), ErrorKind::AddrNotAvailable);
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn connecting_to_an_unknown_host_name_is_a_lookup_error() {
    // No host is called "nosuch": the connect fails at once (no SYN is
    // sent) with NotFound and a message naming it.
    let mut sim = Sim::new(2);
    sim.client("client", async {
        let e = TcpStream::connect("nosuch:80").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("\"nosuch\""), "{e}");
        let e = TcpStream::connect("no-port-here").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            tcpsim_tokio::net::lookup("client")?,
            std::net::Ipv4Addr::new(10, 0, 0, 1)
        );
        Ok(())
    });
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    assert!(
        run.outcome.world.trace().events().is_empty(),
        "nothing was sent"
    );
}

#[test]
fn connecting_where_nothing_listens_is_refused() {
    // The server host exists but listens on nothing: its RST to the SYN
    // makes the connect fail with ConnectionRefused.
    let mut sim = Sim::new(3);
    sim.host("server", || async { Ok(()) });
    sim.client("client", async {
        let e = TcpStream::connect("server:9").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_peer_that_never_answers_the_syn_times_out() {
    // The server is cut off for good: after Linux's six SYN retries
    // (1+2+4+8+16+32+64 = 127 s) the connect fails with TimedOut.
    let mut sim = Sim::new(4);
    sim.host("server", || async { Ok(()) });
    sim.change_at(
        Time::ZERO,
        "server",
        Direction::Both,
        sim::LinkChange::Partition,
    )
    .duration(Time::from_secs(300));
    sim.client("client", async {
        let started = tokio::time::Instant::now();
        let e = TcpStream::connect("server:80").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(127) && waited < Duration::from_secs(140),
            "{waited:?}"
        );
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_reset_connection_reads_connection_reset_then_writes_broken_pipe() {
    // The server reads nothing and drops the connection while the
    // client's bytes sit unread: that close is a RST (as on Linux), the
    // client's read reports ConnectionReset and a later write BrokenPipe.
    let mut sim = Sim::new(5);
    sim.host("server", || async {
        let listener = TcpListener::bind("0.0.0.0:80").await?;
        let (stream, _) = listener.accept().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(stream);
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("client", async {
        let mut s = TcpStream::connect("server:80").await?;
        s.write_all(b"hello").await?;
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let e = s.write_all(b"again").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_program_that_never_waits_is_stopped_with_its_host_and_seed() {
    // The server spins on yield_now after binding: the runtime never goes
    // idle, and the run fails naming the host and the seed instead of
    // spinning for ever.
    let mut sim = Sim::new(9);
    sim.host("server", || async {
        let _l = TcpListener::bind("0.0.0.0:80").await?;
        loop {
            tokio::task::yield_now().await;
        }
    });
    sim.client("client", async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    let e = sim.run().unwrap_err().to_string();
    assert!(e.contains("host server (seed 9) never went idle"), "{e}");
}

#[test]
fn a_tokio_spawned_spinner_is_stopped_too() {
    // The same spin in a task started with tokio::spawn (a runtime task,
    // not one of the LocalSet's) is caught as well.
    let mut sim = Sim::new(10);
    sim.client("client", async {
        tokio::spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    let e = sim.run().unwrap_err().to_string();
    assert!(e.contains("host client (seed 10) never went idle"), "{e}");
}

#[test]
fn a_client_that_waits_for_ever_ends_the_run_with_a_reason() {
    // The client reads from a server that never writes and has no timer:
    // nothing can happen any more, so the run ends at once, saying so.
    let mut sim = Sim::new(6);
    sim.host("server", || async {
        let listener = TcpListener::bind("0.0.0.0:80").await?;
        let (_s, _) = listener.accept().await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("client", async {
        let mut s = TcpStream::connect("server:80").await?;
        let mut buf = [0u8; 1];
        let _ = s.read(&mut buf).await?;
        Ok(())
    });
    let e = sim.run().unwrap_err().to_string();
    assert!(e.contains("seed 6: the simulation went idle"), "{e}");
}

#[test]
fn a_client_that_outlives_the_time_limit_is_stopped() {
    // A client ticking every millisecond for ever meets the 5 s limit.
    let mut sim = Sim::new(7);
    sim.duration(Time::from_secs(5));
    sim.client("client", async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let e = sim.run().unwrap_err().to_string();
    assert!(e.contains("did not finish within 5.000000s"), "{e}");
}

#[test]
fn failures_of_the_software_are_the_run_s_result() {
    // A server whose software returns an error, and a client that panics:
    // each ends the run with a message naming the host.
    let mut sim = Sim::new(8);
    sim.host("server", || async { Err("disk full".into()) });
    sim.client("client", async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    let e = sim.run().unwrap_err().to_string();
    assert_eq!(e, "host server's software returned an error: disk full");

    let mut sim = Sim::new(8);
    sim.client("client", async {
        panic!("oops");
    });
    let e = sim.run().unwrap_err().to_string();
    assert!(e.contains("host client's software panicked: oops"), "{e}");
}

#[test]
fn a_simulation_built_wrong_is_refused_before_it_runs() {
    // No client, a fault on a host that does not exist, a crash of the
    // client: each a build error that says what is wrong.
    let mut sim = Sim::new(1);
    sim.host("server", || async { Ok(()) });
    assert_eq!(sim.execute().err(), Some(BuildError::NoClient));

    let mut sim = Sim::new(1);
    sim.client("client", async { Ok(()) });
    sim.partition("sever", Time::ZERO, Time::from_secs(1));
    let e = sim.execute().err().unwrap();
    assert_eq!(e.to_string(), "no host named \"sever\" in this simulation");

    let mut sim = Sim::new(1);
    sim.client("client", async { Ok(()) });
    sim.bounce_at("client", Time::from_secs(1));
    assert_eq!(
        sim.execute().err(),
        Some(BuildError::CrashClient("client".into()))
    );
}
