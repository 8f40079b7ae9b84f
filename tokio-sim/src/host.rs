//! The [`Application`] a simulated host runs: a tokio runtime ([`Driver`])
//! with the host's software on it, and the glue between its sockets
//! ([`crate::net`]) and the host's endpoint.
//!
//! Every engine callback (connected, accepted, data, send space, EOF,
//! closed, a timer) updates the sockets' state and wakes their wakers, then
//! runs the runtime until nothing is ready and hands what the program asked
//! for (bytes written, connects, shutdowns, closes) to the endpoint,
//! repeating while that woke anything. At the end of the host's step the
//! driver plans the next time the program needs the engine, and one
//! application timer asks for it.

use crate::net::{Command, HostState, Lis, Sock, io_error, with_current};
use crate::runtime::{CatchUp, Driver};
use scenarios::app::{AppCtx, Application, Conn, Listener, TimerHandle};
use sim::Time;
use stack::SocketError;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A host's software as the simulation holds it.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = crate::Result>>>;

/// What a host runs: a server's software can be started again after a
/// crash; a client's test body runs once.
pub(crate) enum Software {
    Server(Rc<dyn Fn() -> BoxFuture>),
    Client(Option<BoxFuture>),
}

/// A host's crash or restart, at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Power loss: the software and every TCP state are gone.
    Crash,
    /// The software starts again (after a crash).
    Restart,
    /// Crash and restart at once.
    Bounce,
}

/// What the whole simulation knows about how it is going.
#[derive(Default)]
pub(crate) struct Status {
    pub(crate) seed: u64,
    /// The client's test body returned (Ok or its error).
    pub(crate) client_result: Option<Result<(), String>>,
    /// Something failed that ends the run (a host's error, a panic, a stuck program).
    pub(crate) failure: Option<String>,
    /// Engine callbacks each host's software handled, by host.
    pub(crate) callbacks: BTreeMap<String, u64>,
    /// The least time anything a host does takes to reach another host (two
    /// link propagation delays): how far past another idle runtime's next
    /// possible timer a runtime may run ahead.
    pub(crate) lookahead: sim::Duration,
}

impl Status {
    /// The earliest time an idle runtime's action could reach another
    /// host, given the idle set's first entry.
    pub(crate) fn reach(&self, idle_first: Option<Time>) -> Option<Time> {
        idle_first.map(|at| Time::from_nanos(at.as_nanos() + self.lookahead.as_nanos()))
    }
}

/// The application timer token of a runtime's wake.
pub(crate) const TICK: u64 = 0;

/// A host's runtime, shared with the simulation's loop, which catches idle
/// runtimes up as the world's clock moves (see [`Idle`]).
pub(crate) type Runner = Rc<RefCell<Option<Driver>>>;

/// Idle runtimes by the engine time at which they need catching up (the
/// next whole millisecond of their clock) and host index.
pub(crate) type Idle = Rc<RefCell<std::collections::BTreeSet<(Time, usize)>>>;

/// The tokio host application.
pub(crate) struct TokioHost {
    state: Rc<RefCell<HostState>>,
    status: Rc<RefCell<Status>>,
    software: Software,
    driver: Runner,
    index: usize,
    idle: Idle,
    idle_key: Option<(Time, usize)>,
    tick: Option<TimerHandle>,
    /// The runtime ran in this step: plan its next wake at the step's end.
    touched: bool,
    /// Shared with the simulation, which may add a planned crash before
    /// the first event (a sweep's); read when the host starts.
    lifecycle: Rc<RefCell<Vec<(Time, Lifecycle)>>>,
}

impl TokioHost {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        state: Rc<RefCell<HostState>>,
        status: Rc<RefCell<Status>>,
        software: Software,
        lifecycle: Rc<RefCell<Vec<(Time, Lifecycle)>>>,
        driver: Runner,
        index: usize,
        idle: Idle,
    ) -> TokioHost {
        TokioHost {
            state,
            status,
            software,
            driver,
            index,
            idle,
            idle_key: None,
            tick: None,
            touched: false,
            lifecycle,
        }
    }

    fn name(&self) -> String {
        self.state.borrow().name.clone()
    }

    fn fail(&mut self, message: String) {
        self.status.borrow_mut().failure.get_or_insert(message);
        *self.driver.borrow_mut() = None;
    }

    /// The runtime is busy again: out of the idle set.
    fn not_idle(&mut self) {
        if let Some(key) = self.idle_key.take() {
            self.idle.borrow_mut().remove(&key);
        }
    }

    /// Starts the software on a new runtime whose clock reads now.
    fn boot(&mut self, cx: &mut AppCtx<'_, '_>) {
        let now = cx.now();
        let driver = match Driver::new(now) {
            Ok(d) => d,
            Err(e) => {
                let name = self.name();
                self.fail(format!("host {name}: cannot build its tokio runtime: {e}"));
                return;
            }
        };
        {
            let mut s = self.state.borrow_mut();
            s.origin = now;
            s.start = Some(driver.start());
        }
        let fut = match &mut self.software {
            Software::Server(make) => Some(make()),
            Software::Client(once) => once.take(),
        };
        let client = matches!(self.software, Software::Client(_));
        if let Some(fut) = fut {
            let status = self.status.clone();
            let name = self.name();
            driver.spawn_local(async move {
                let result = CatchUnwind(fut).await;
                let mut status = status.borrow_mut();
                match result {
                    Ok(Ok(())) if client => status.client_result = Some(Ok(())),
                    Ok(Ok(())) => {}
                    Ok(Err(e)) if client => status.client_result = Some(Err(e.to_string())),
                    Ok(Err(e)) => {
                        status.failure.get_or_insert(format!(
                            "host {name}'s software returned an error: {e}"
                        ));
                    }
                    Err(panic) => {
                        let message = format!("host {name}'s software panicked: {panic}");
                        if client {
                            status.client_result = Some(Err(message));
                        } else {
                            status.failure.get_or_insert(message);
                        }
                    }
                }
            });
        }
        *self.driver.borrow_mut() = Some(driver);
        self.drive(cx);
    }

    /// Power loss: the runtime and its tasks go, then the endpoint.
    fn crash(&mut self, cx: &mut AppCtx<'_, '_>) {
        // Dropping the tasks drops their sockets, whose last words
        // (closes) are forgotten with the rest.
        *self.driver.borrow_mut() = None;
        self.not_idle();
        self.state.borrow_mut().reset();
        if let Some(t) = self.tick.take() {
            cx.cancel_timer(t);
        }
        cx.crash();
    }

    /// Runs the program until it waits, handing its calls to the endpoint,
    /// for as long as that wakes anything.
    fn drive(&mut self, cx: &mut AppCtx<'_, '_>) {
        let now = cx.now();
        {
            let name = self.name();
            *self.status.borrow_mut().callbacks.entry(name).or_default() += 1;
        }
        self.not_idle();
        loop {
            let runner = self.driver.clone();
            let mut guard = runner.borrow_mut();
            let Some(driver) = guard.as_mut() else {
                return;
            };
            if driver.clock() > now {
                let clock = driver.clock();
                drop(guard);
                let name = self.name();
                self.fail(format!(
                    "host {name}: called at {now} with its clock at {clock} (a bug in tcpsim-tokio)"
                ));
                return;
            }
            let result = with_current(&self.state, || driver.run(now));
            drop(guard);
            if let Err(stuck) = result {
                let seed = self.status.borrow().seed;
                let name = self.name();
                self.fail(stuck_message(&name, seed, now, stuck.polls));
                return;
            }
            self.touched = true;
            if !self.apply(cx) {
                return;
            }
        }
    }

    /// Hands the program's calls to the endpoint. True if that woke a task.
    fn apply(&mut self, cx: &mut AppCtx<'_, '_>) -> bool {
        let mut woke = false;
        loop {
            let command = self.state.borrow_mut().commands.pop_front();
            let Some(command) = command else { break };
            woke = true;
            match command {
                Command::Bind { port, slot } => {
                    if slot.borrow().done {
                        continue;
                    }
                    match cx.listen(port, crate::net::backlog()) {
                        Ok(listener) => {
                            let mut s = self.state.borrow_mut();
                            let id = s.next_listener;
                            s.next_listener += 1;
                            s.listeners.insert(
                                id,
                                Lis {
                                    id: Some(listener),
                                    ..Lis::default()
                                },
                            );
                            slot.borrow_mut().complete(Ok(id));
                        }
                        Err(e) => {
                            let kind = io_error(e).kind();
                            let addr = self.state.borrow().addr;
                            slot.borrow_mut().complete(Err(std::io::Error::new(
                                kind,
                                format!(
                                    "cannot bind {addr}:{port}: {} (simulated)",
                                    e.errno_name()
                                ),
                            )));
                        }
                    }
                }
                Command::Connect { remote, slot } => {
                    if slot.borrow().done {
                        continue;
                    }
                    match cx.connect(remote) {
                        Ok(conn) => {
                            let local = cx.stream(conn).and_then(|s| s.local).unwrap_or(
                                std::net::SocketAddrV4::new(self.state.borrow().addr, 0),
                            );
                            let mut sock = Sock::new(local, remote);
                            sock.connect = Some(slot.clone());
                            slot.borrow_mut().conn = Some(conn);
                            self.state.borrow_mut().socks.insert(conn, sock);
                        }
                        Err(e) => slot.borrow_mut().complete(Err(io_error(e))),
                    }
                }
                Command::Close(conn) => {
                    self.flush(cx, conn);
                    let sock = self.state.borrow_mut().socks.remove(&conn);
                    if let Some(sock) = sock
                        && !sock.closed
                    {
                        // Unread data at close is a RST, as Linux does
                        // (RFC 2525 §2.17); the host already read it from
                        // the endpoint for us.
                        let _ = if sock.inbuf.is_empty() {
                            cx.close(conn)
                        } else {
                            cx.abort(conn)
                        };
                    }
                }
                Command::Shutdown(conn) => {
                    self.flush(cx, conn);
                    let _ = cx.shutdown(conn);
                }
                Command::Nodelay(conn, on) => {
                    let _ = cx.set_nodelay(conn, on);
                }
                Command::CloseListener(id) => {
                    let lis = self.state.borrow_mut().listeners.remove(&id);
                    if let Some(lis) = lis {
                        if let Some(l) = lis.id {
                            let _ = cx.close_listener(l);
                        }
                        // Connections never accepted are reset, as Linux does.
                        for conn in lis.queue {
                            self.state.borrow_mut().socks.remove(&conn);
                            let _ = cx.abort(conn);
                        }
                    }
                }
            }
        }
        let dirty = std::mem::take(&mut self.state.borrow_mut().dirty);
        for conn in dirty {
            woke |= self.serve(cx, conn);
        }
        woke
    }

    /// Hands `conn`'s written bytes to the endpoint.
    fn flush(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) -> bool {
        let mut st = self.state.borrow_mut();
        let Some(s) = st.socks.get_mut(&conn) else {
            return false;
        };
        if s.out.is_empty() {
            return false;
        }
        match cx.send(conn, &s.out) {
            Ok(n) => {
                s.out.drain(..n);
                false
            }
            Err(e) => {
                s.out.clear();
                s.error.get_or_insert(e);
                s.wake_all();
                true
            }
        }
    }

    /// Flushes `conn`, refreshes its send space, wakes a waiting writer or
    /// asks for `writable`, and resumes reading if the reader made room.
    fn serve(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) -> bool {
        let mut woke = self.flush(cx, conn);
        let mut st = self.state.borrow_mut();
        let Some(s) = st.socks.get_mut(&conn) else {
            return woke;
        };
        s.send_cap = cx.send_capacity(conn);
        if s.want_write {
            if s.send_cap > 0 || s.error.is_some() || s.closed {
                s.want_write = false;
                if let Some(w) = s.write_waker.take() {
                    w.wake();
                }
                woke = true;
            } else {
                cx.want_writable(conn);
            }
        }
        if s.paused && s.inbuf.len() < crate::net::READ_BUFFER_MAX / 2 {
            s.paused = false;
            cx.resume_reading(conn);
        }
        woke
    }

    fn sock<R>(&self, conn: Conn, f: impl FnOnce(&mut Sock) -> R) -> Option<R> {
        self.state.borrow_mut().socks.get_mut(&conn).map(f)
    }
}

impl Application for TokioHost {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        for (i, (at, _)) in self.lifecycle.borrow().iter().enumerate() {
            cx.set_timer(*at, 1 + i as u64);
        }
        self.boot(cx);
    }

    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let cap = cx.send_capacity(conn);
        let slot = self.sock(conn, |s| {
            s.send_cap = cap;
            s.connect.take()
        });
        if let Some(Some(slot)) = slot {
            slot.borrow_mut().complete(Ok(conn));
        }
        self.drive(cx);
    }

    fn accepted(&mut self, cx: &mut AppCtx<'_, '_>, listener: Listener, conn: Conn) {
        let (local, remote) = cx
            .stream(conn)
            .map(|s| (s.local, s.remote))
            .unwrap_or((None, None));
        let cap = cx.send_capacity(conn);
        let mut st = self.state.borrow_mut();
        let lid = st
            .listeners
            .iter()
            .find(|(_, l)| l.id == Some(listener))
            .map(|(id, _)| *id);
        let (Some(lid), Some(local), Some(remote)) = (lid, local, remote) else {
            drop(st);
            let _ = cx.abort(conn);
            return;
        };
        let mut sock = Sock::new(local, remote);
        sock.send_cap = cap;
        st.socks.insert(conn, sock);
        let lis = st.listeners.get_mut(&lid).expect("found above");
        lis.queue.push_back(conn);
        if let Some(w) = lis.waker.take() {
            w.wake();
        }
        drop(st);
        self.drive(cx);
    }

    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let pause = self.sock(conn, |s| {
            s.inbuf.extend(data);
            if let Some(w) = s.read_waker.take() {
                w.wake();
            }
            let pause = !s.paused && s.inbuf.len() >= crate::net::READ_BUFFER_MAX;
            s.paused |= pause;
            pause
        });
        if pause == Some(true) {
            // The reader is behind: let the receive window close.
            cx.pause_reading(conn);
        }
        self.drive(cx);
    }

    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.serve(cx, conn);
        self.drive(cx);
    }

    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.sock(conn, |s| {
            s.eof = true;
            if let Some(w) = s.read_waker.take() {
                w.wake();
            }
        });
        self.drive(cx);
    }

    fn closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, error: Option<SocketError>) {
        let slot = self.sock(conn, |s| {
            s.closed = true;
            if let Some(e) = error {
                s.error.get_or_insert(e);
            }
            s.wake_all();
            s.connect.take()
        });
        if let Some(Some(slot)) = slot {
            let e = error.unwrap_or(SocketError::ConnectionRefused);
            slot.borrow_mut().complete(Err(io_error(e)));
        }
        self.drive(cx);
    }

    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, token: u64) {
        if token == TICK {
            self.tick = None;
            self.drive(cx);
            return;
        }
        let entry = self.lifecycle.borrow().get(token as usize - 1).copied();
        let Some((_, what)) = entry else {
            return;
        };
        let name = self.name();
        match what {
            Lifecycle::Crash => {
                self.crash(cx);
                cx.note(format!("{name}: software stopped"));
            }
            Lifecycle::Restart => {
                if self.driver.borrow().is_none() {
                    cx.note(format!("{name}: software restarted"));
                    self.boot(cx);
                }
            }
            Lifecycle::Bounce => {
                self.crash(cx);
                cx.note(format!("{name}: software restarted"));
                self.boot(cx);
            }
        }
    }

    fn step_end(&mut self, cx: &mut AppCtx<'_, '_>) {
        if !std::mem::take(&mut self.touched) {
            return;
        }
        if let Some(t) = self.tick.take() {
            cx.cancel_timer(t);
        }
        // Nothing can reach the host before the engine's next event, its
        // own TCP timers or its own lifecycle timers (this step's are not
        // queued in the engine yet). (This host is out of the idle set:
        // `drive` took it out.)
        // Nor before an idle runtime elsewhere could fire a timer and act.
        let tcp = cx.tcp_timeout();
        let first = self.idle.borrow().first().map(|&(at, _)| at);
        let others_idle = self.status.borrow().reach(first);
        let bound = [cx.next_event_time(), tcp, cx.next_timer(), others_idle]
            .into_iter()
            .flatten()
            .min();
        let runner = self.driver.clone();
        let mut guard = runner.borrow_mut();
        let Some(driver) = guard.as_mut() else {
            return;
        };
        match with_current(&self.state, || driver.catch_up(bound)) {
            Ok(CatchUp::Wake(at)) => self.tick = Some(cx.set_timer(at, TICK)),
            Ok(CatchUp::Idle) => {
                let key = (driver.next_tick(), self.index);
                self.idle.borrow_mut().insert(key);
                self.idle_key = Some(key);
            }
            Ok(CatchUp::Done) => {}
            Err(stuck) => {
                drop(guard);
                let (name, seed) = (self.name(), self.status.borrow().seed);
                self.fail(stuck_message(&name, seed, cx.now(), stuck.polls));
            }
        }
    }
}

/// The error for a program that never went idle.
pub(crate) fn stuck_message(name: &str, seed: u64, now: Time, polls: u64) -> String {
    format!(
        "host {name} (seed {seed}) never went idle at {now}: {polls} polls in one instant without waiting on the network or a timer (a task loops on yield_now, or spins)"
    )
}

/// Catches a panic of the software's future, as a message.
struct CatchUnwind(BoxFuture);

impl Future for CatchUnwind {
    type Output = Result<crate::Result, String>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a panic without a message)".to_string());
                Poll::Ready(Err(message))
            }
        }
    }
}
