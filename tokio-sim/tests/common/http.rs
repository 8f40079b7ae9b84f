//! An HTTP/1.1 server and client written with hyper, as a tokio program
//! would be, running on tcpsim's simulated sockets. The tests and
//! `examples/http.rs` use it.
//!
//! hyper talks to its transport through its own `hyper::rt::{Read, Write}`
//! traits; [`HyperIo`] adapts any tokio `AsyncRead + AsyncWrite` (here
//! `tcpsim_tokio::net::TcpStream`) to them, as `hyper-util`'s `TokioIo`
//! does for real sockets. Two settings matter in a simulation:
//! - `auto_date_header(false)`: hyper's `Date` header reads the wall clock
//!   (`SystemTime::now`), which would make the response bytes, and so the
//!   trace, depend on when the test ran;
//! - no `timer`: hyper's own timeouts would read `std::time::Instant`;
//!   timeouts belong in `tokio::time`, which reads virtual time.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use std::pin::Pin;
use std::task::{Context, Poll};
use tcpsim_tokio::net::{TcpListener, TcpStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The port the server listens on.
pub const PORT: u16 = 80;

/// The size of `GET /big`'s body: 256 KiB, several windows' worth.
pub const BIG: usize = 256 * 1024;

/// A tokio stream seen through hyper's I/O traits.
pub struct HyperIo<T>(pub T);

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Read into a scratch buffer and copy: no unsafe needed.
        let mut scratch = [0u8; 16 * 1024];
        let room = buf.remaining().min(scratch.len());
        let mut read = ReadBuf::new(&mut scratch[..room]);
        match Pin::new(&mut self.0).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(read.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The body of `GET /big`: a pattern a reader can check byte by byte.
pub fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (status, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/hello") => (StatusCode::OK, Bytes::from_static(b"hello from tcpsim\n")),
        ("GET", "/big") => (StatusCode::OK, Bytes::from(big_body())),
        ("POST", "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            (StatusCode::OK, body)
        }
        _ => (StatusCode::NOT_FOUND, Bytes::from_static(b"not found\n")),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    Ok(response)
}

/// The server: hyper's HTTP/1.1 connection on each accepted stream.
pub async fn server() -> tcpsim_tokio::Result {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::task::spawn_local(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false)
                .serve_connection(HyperIo(stream), hyper::service::service_fn(handle))
                .await;
        });
    }
}

/// One keep-alive connection to `host`: sends each request in turn and
/// returns (status, body) of each.
pub async fn fetch(
    host: &str,
    requests: Vec<Request<Full<Bytes>>>,
) -> tcpsim_tokio::Result<Vec<(StatusCode, Bytes)>> {
    let stream = TcpStream::connect(format!("{host}:{PORT}")).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(HyperIo(stream)).await?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    let mut answers = Vec::new();
    for request in requests {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        answers.push((status, body));
    }
    Ok(answers)
}

/// A GET of `path` with a Host header.
pub fn get(host: &str, path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

/// A POST of `body` to `path`.
pub fn post(host: &str, path: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", host)
        .body(Full::new(Bytes::from_static(body)))
        .expect("a valid request")
}

/// The test body: `/hello`, `/big` (checked byte by byte), a POST echoed
/// back and a 404, all on one keep-alive connection.
pub async fn workload(host: &str) -> tcpsim_tokio::Result {
    let answers = fetch(
        host,
        vec![
            get(host, "/hello"),
            get(host, "/big"),
            post(host, "/echo", b"ping over simulated TCP"),
            get(host, "/missing"),
        ],
    )
    .await?;
    let expect = |i: usize, status: StatusCode, body: &[u8]| -> tcpsim_tokio::Result {
        let (s, b) = &answers[i];
        if *s != status || b.as_ref() != body {
            return Err(format!(
                "request {i}: got {s} with {} bytes, expected {status} with {}",
                b.len(),
                body.len()
            )
            .into());
        }
        Ok(())
    };
    expect(0, StatusCode::OK, b"hello from tcpsim\n")?;
    expect(1, StatusCode::OK, &big_body())?;
    expect(2, StatusCode::OK, b"ping over simulated TCP")?;
    expect(3, StatusCode::NOT_FOUND, b"not found\n")?;
    Ok(())
}

/// The exchange of [`workload`] on a network with `loss` each way on the
/// server's (`web`) link and a 2-second partition of it from 30 ms, within
/// 600 s of virtual time: what the test and the example run.
pub fn lossy_sim(seed: u64, loss: f64) -> tcpsim_tokio::Sim {
    let mut sim = tcpsim_tokio::Sim::new(seed);
    sim.host("web", server);
    sim.host_link(
        "web",
        sim::LinkConfig::new(100_000_000, sim::Duration::from_millis(1)).with_loss(loss),
    )
    .partition(
        "web",
        sim::Time::from_millis(30),
        sim::Time::from_millis(2_030),
    )
    .duration(sim::Time::from_secs(600));
    sim.client("browser", workload("web"));
    sim
}
