//! TCP Fast Open (RFC 7413): the round trip a cached cookie saves.

use super::{PORT, SERVER, Scenario, client, host, lan, pair, server_addr};
use crate::app::{AppCtx, Application, Conn, Listener};
use crate::run::{Outcome, Setup};
use sim::{Duration, SimError, Time};
use stack::{FastOpenConfig, SocketError, TcpConfig};
use std::collections::BTreeMap;

/// The request each connection sends and the response it waits for.
const REQUEST: usize = 300;
const RESPONSE: usize = 2000;
/// How long the client waits between its two requests.
const PAUSE: Duration = Duration::from_millis(100);

pub(super) fn fast_open() -> Scenario {
    Scenario::new("fast-open", build_fast_open)
        .summary("two requests: the first asks for a Fast Open cookie, the second saves a round trip with it")
        .doc("TCP Fast Open (RFC 7413), as Linux does it. The client (tcp_fastopen=1) sends a 300-byte request and waits for a 2,000-byte response, twice, over a 5 ms link. Its first connection has no cookie for the server: the SYN carries an empty Fast Open option (a cookie request, §4.1.1) and no data; the server (tcp_fastopen=0x402, cookies required) answers with an ordinary SYN-ACK carrying its cookie, which the client caches for the server's address, and the request follows the handshake: the response arrives two round trips after the SYN. The second connection finds the cookie cached: its SYN carries the cookie and the whole request (§4.1.2, up to the MSS less 40 bytes, as Linux's tcp_send_syn_data); the server checks the cookie, takes the data with the SYN (§4.2.2) and answers at once from SYN-RECEIVED, so the response arrives one round trip after the SYN: one round trip saved.")
        .expect(expect_fast_open)
}

fn build_fast_open(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed).app(FastOpenClient::default());
    let s = host(seed, "server", SERVER, TcpConfig::default()).app(FastOpenServer::default());
    pair(seed, c, s, lan(), vec![], Time::from_secs(10))
}

/// Sends a request with Fast Open, reads the response, closes; twice.
#[derive(Default)]
pub struct FastOpenClient {
    /// Per request: when its connect was called and when the whole
    /// response had arrived, and how many request bytes its SYN carried.
    pub requests: Vec<(Time, Option<Time>, usize)>,
    /// Request bytes still to send once connected, and response bytes read, per connection.
    left: BTreeMap<Conn, (usize, usize)>,
    /// A call that failed (the expectation reports it).
    pub failure: Option<String>,
}

impl FastOpenClient {
    fn open(&mut self, cx: &mut AppCtx<'_, '_>) {
        let request = crate::host::pattern_slice(0, REQUEST);
        match cx.connect_fast_open(server_addr(), request) {
            Ok((conn, taken)) => {
                self.requests.push((cx.now(), None, taken));
                self.left.insert(conn, (REQUEST - taken, 0));
            }
            Err(e) => self.fail(cx, "connect_fast_open", e),
        }
    }

    fn fail(&mut self, cx: &mut AppCtx<'_, '_>, what: &str, e: SocketError) {
        cx.call_failed(what, e);
        self.failure.get_or_insert(format!("{what}: {e}"));
    }
}

impl Application for FastOpenClient {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        cx.set_fast_open(FastOpenConfig::from_sysctl(1));
        self.open(cx);
    }

    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(&(left, _)) = self.left.get(&conn) else {
            return;
        };
        if left > 0 {
            let rest = crate::host::pattern_slice((REQUEST - left) as u64, left);
            if let Err(e) = cx.send(conn, rest) {
                self.fail(cx, "send", e);
            }
        }
    }

    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let Some(entry) = self.left.get_mut(&conn) else {
            return;
        };
        entry.1 += data.len();
        if entry.1 >= RESPONSE {
            if let Some(r) = self.requests.get_mut(conn.0) {
                r.1.get_or_insert(cx.now());
            }
            if let Err(e) = cx.close(conn) {
                self.fail(cx, "close", e);
            }
            if self.requests.len() < 2 {
                cx.set_timer(cx.now() + PAUSE, 0);
            }
        }
    }

    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, _token: u64) {
        self.open(cx);
    }
}

/// Answers each 300-byte request with 2,000 bytes and closes.
#[derive(Default)]
pub struct FastOpenServer {
    /// Request bytes read per connection.
    read: BTreeMap<Conn, usize>,
}

impl Application for FastOpenServer {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        // tcp_fastopen=0x402: the server side on every listener, cookies
        // required; the key comes from the host's seed.
        cx.set_fast_open(FastOpenConfig::from_sysctl(0x402));
        if let Err(e) = cx.listen(PORT, 16) {
            cx.call_failed("listen", e);
        }
    }

    fn accepted(&mut self, _cx: &mut AppCtx<'_, '_>, _listener: Listener, conn: Conn) {
        self.read.insert(conn, 0);
    }

    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let read = self.read.entry(conn).or_default();
        let before = *read;
        *read += data.len();
        if before < REQUEST && *read >= REQUEST {
            let response = crate::host::pattern_slice(0, RESPONSE);
            match cx.send(conn, response) {
                Ok(_) => {
                    let _ = cx.close(conn);
                }
                Err(e) => cx.call_failed("send", e),
            }
        }
    }
}

fn expect_fast_open(o: &Outcome) -> Result<(), String> {
    let c = o
        .host(0)
        .application::<FastOpenClient>()
        .ok_or("the client runs the Fast Open application")?;
    if let Some(f) = &c.failure {
        return Err(format!("a call failed: {f}"));
    }
    let [(start1, Some(end1), taken1), (start2, Some(end2), taken2)] = c.requests[..] else {
        return Err(format!(
            "two requests answered in full, got {:?}",
            c.requests
        ));
    };
    super::check(
        taken1 == 0,
        "the first SYN carried no data (it asked for a cookie)",
    )?;
    super::check(
        taken2 == REQUEST,
        "the second SYN carried the whole request with the cached cookie",
    )?;
    // One round trip on the 5 ms link is 10 ms; transmission adds little.
    let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
    let (first, second) = (
        ms(end1.saturating_since(start1)),
        ms(end2.saturating_since(start2)),
    );
    super::check(
        first >= 20.0 && second < 20.0 && first >= second + 10.0,
        &format!("the cached cookie saved a round trip: {first:.3} ms, then {second:.3} ms"),
    )
}
