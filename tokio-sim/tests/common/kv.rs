//! A small key-value service written as a tokio program would be: a server
//! that answers one request per line on each connection, and a client that
//! retries (a deadline per request, a fresh connection after any error).
//! The tests and `examples/kv.rs` run it on simulated hosts.
//!
//! Protocol, one line each way: `SET key value` -> `OK`, `GET key` ->
//! `VALUE value` or `NONE`.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;
use tcpsim_tokio::net::{TcpListener, TcpStream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub const PORT: u16 = 6379;

/// The server: one task per connection, one shared map.
pub async fn server() -> tcpsim_tokio::Result {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    let store: Rc<RefCell<BTreeMap<String, String>>> = Rc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let store = store.clone();
        tokio::task::spawn_local(async move {
            let _ = serve(stream, store).await;
        });
    }
}

async fn serve(
    stream: TcpStream,
    store: Rc<RefCell<BTreeMap<String, String>>>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let mut words = line.splitn(3, ' ');
        let reply = match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(k), Some(v)) => {
                store.borrow_mut().insert(k.to_string(), v.to_string());
                "OK".to_string()
            }
            (Some("GET"), Some(k), None) => match store.borrow().get(k) {
                Some(v) => format!("VALUE {v}"),
                None => "NONE".to_string(),
            },
            _ => "ERR".to_string(),
        };
        write.write_all(format!("{reply}\n").as_bytes()).await?;
    }
    Ok(())
}

/// What the client saw, for tests to read.
#[derive(Default, Debug)]
pub struct ClientLog {
    /// Requests that had to be sent again (after a timeout or an error).
    pub retries: u32,
    /// Why each retry happened.
    pub reasons: Vec<String>,
}

/// A client connection that reconnects and retries each request until it
/// gets an answer, waiting at most `deadline` for each try.
pub struct Client {
    addr: String,
    conn: Option<(
        BufReader<tcpsim_tokio::net::OwnedReadHalf>,
        tcpsim_tokio::net::OwnedWriteHalf,
    )>,
    deadline: Duration,
    pub log: Rc<RefCell<ClientLog>>,
}

impl Client {
    pub fn new(addr: &str, deadline: Duration) -> Client {
        Client {
            addr: addr.to_string(),
            conn: None,
            deadline,
            log: Rc::default(),
        }
    }

    async fn try_once(&mut self, request: &str) -> std::io::Result<String> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr.as_str()).await?;
            stream.set_nodelay(true)?;
            let (r, w) = stream.into_split();
            self.conn = Some((BufReader::new(r), w));
        }
        let (r, w) = self.conn.as_mut().expect("connected above");
        w.write_all(format!("{request}\n").as_bytes()).await?;
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(line.trim_end().to_string())
    }

    /// Sends `request` until an answer comes back, at most `tries` times.
    pub async fn call(&mut self, request: &str, tries: u32) -> std::io::Result<String> {
        let mut last = None;
        for _ in 0..tries {
            match tokio::time::timeout(self.deadline, self.try_once(request)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some(format!("no answer within {:?}", self.deadline)),
            }
            {
                let mut log = self.log.borrow_mut();
                log.retries += 1;
                log.reasons.push(last.clone().unwrap_or_default());
            }
            // Start again on a new connection after a short pause.
            self.conn = None;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "{request:?}: no answer after {tries} tries (last: {})",
                last.unwrap_or_default()
            ),
        ))
    }
}

/// The test body: SETs then GETs `count` keys, checking every answer.
pub async fn workload(client: &mut Client, count: u32) -> tcpsim_tokio::Result {
    for i in 0..count {
        let answer = client.call(&format!("SET key{i} value{i}"), 20).await?;
        if answer != "OK" {
            return Err(format!("SET key{i}: {answer}").into());
        }
    }
    for i in 0..count {
        let answer = client.call(&format!("GET key{i}"), 20).await?;
        if answer != format!("VALUE value{i}") {
            return Err(format!("GET key{i}: {answer}").into());
        }
    }
    Ok(())
}

/// The test as a sweepable scenario called `kv`: ten SETs then ten GETs,
/// each retried on a fresh connection after 60 s without an answer (longer
/// than any outage the fault profiles draw, so the client only retries
/// when TCP itself gives up on a connection), within an hour of virtual
/// time.
pub fn scenario() -> scenarios::catalogue::Scenario {
    tcpsim_tokio::sweep::scenario("kv", |sim| {
        sim.duration(sim::Time::from_secs(3600));
        sim.host("server", server);
        let mut client = Client::new(&format!("server:{PORT}"), Duration::from_secs(60));
        sim.client("client", async move { workload(&mut client, 10).await });
    })
}
