//! One host's tokio runtime, run on the engine's clock.
//!
//! Each host owns a current-thread runtime built with paused time and a
//! [`LocalSet`] for its software. The engine owns the clock: tokio's time
//! only moves when this module moves it, and never ahead of anything the
//! engine could still deliver to the host.
//!
//! Three operations, all from inside an engine callback on the engine's
//! thread (no background thread, no wall clock):
//!
//! - [`Driver::run`]: move tokio's clock to the engine's `now`
//!   ([`tokio::time::advance`]) and poll every task until none is ready,
//!   without ever letting the runtime park (so it never auto-advances and
//!   never blocks the thread). Idleness is observed, not guessed: the
//!   future `block_on` drives wakes itself on every poll, so the runtime
//!   alternates between it and exactly one task (`event_interval(1)`), and
//!   before each such slot it wakes a sentinel task of its own. The runtime
//!   takes tasks from its injection queue first (`global_queue_interval(1)`)
//!   and then in FIFO order, so the sentinel runs in the very next slot
//!   only if no other task was waiting; the [`LocalSet`] is polled with a
//!   waker that records every wake of a local task. A slot in which the
//!   sentinel ran first, with no local task woken, means nothing is left to
//!   run. A timer already due fires as it is set (tokio fires an elapsed
//!   deadline at once), so there is nothing due but unfired either.
//! - [`Driver::catch_up`]: an idle runtime's clock moves towards the
//!   engine's, never past anything that could still reach the host (the
//!   engine's next queued event, the host's own TCP timers). Tokio's
//!   timers fire on whole milliseconds of its clock: an unaligned clock
//!   is first advanced to the next one; an aligned one is allowed to
//!   auto-advance once, to the earlier of its next timer and a guard timer
//!   at the last whole millisecond before the bound, and the
//!   `on_thread_unpark` hook stops the `block_on` there. Then the tasks
//!   those timers woke are run (at tokio's time, which is their time:
//!   nothing can change what they see before it). If any ran, the host
//!   needs the engine at exactly that time to hand the network what they
//!   asked for; if none did (the guard, or a level boundary of tokio's
//!   timer wheel), it goes on. An idle runtime therefore costs no engine
//!   event at all, and a sleeping program one wake per timer.
//! - dropping the driver drops every task (a crash).

use sim::Time;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use tokio::task::LocalSet;

/// One millisecond in nanoseconds: tokio's timer resolution.
const MS: u64 = 1_000_000;

/// How far the clock may jump when nothing at all is left in the world:
/// 2^35 ms, about 397 days, half of what tokio's timer wheel can hold (2^36
/// ms; farther deadlines wrap around it). Landing on this guard means the
/// program has no timer within it, and the host is done.
const HORIZON_MS: u64 = 1 << 35;

/// The most polls one [`Driver::run`] may make before the program counts
/// as stuck (it never stops being ready: a task that yields in a loop).
pub(crate) const POLLS_PER_STEP_MAX: u64 = 1_000_000;

/// A program that never went idle within one engine instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stuck {
    pub polls: u64,
}

/// State the runtime's hooks share with the driver. Hooks must be
/// `Send + Sync`, so this uses atomics and a mutex, though only the engine
/// thread ever touches it.
#[derive(Default)]
struct Hooks {
    /// A probe is running: wake `probe_waker` once the clock has moved.
    probing: AtomicBool,
    probe_from: Mutex<Option<tokio::time::Instant>>,
    probe_waker: Mutex<Option<Waker>>,
}

/// The sentinel task's state: [`Quiesce`] wakes it (`armed_at` its poll
/// count) and it records the poll count at which it ran.
#[derive(Default)]
struct Sentinel {
    polls: AtomicU64,
    armed_at: AtomicU64,
    ran_at: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

/// The sentinel, a runtime task that does nothing but note when it ran.
struct SentinelTask(Arc<Sentinel>);

impl Future for SentinelTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let s = &self.0;
        s.ran_at
            .store(s.polls.load(Ordering::SeqCst), Ordering::SeqCst);
        *s.waker.lock().expect("not poisoned") = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The waker the [`LocalSet`] is polled with: records that a local task
/// was woken, then wakes the `block_on` future.
#[derive(Default)]
struct LocalActivity {
    woken: AtomicBool,
    inner: Mutex<Option<Waker>>,
}

impl Wake for LocalActivity {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Some(w) = self.inner.lock().expect("not poisoned").as_ref() {
            w.wake_by_ref();
        }
    }
}

/// A host's runtime and the software running on it.
pub(crate) struct Driver {
    // Declared first so it drops first: tasks go before their runtime.
    local: LocalSet,
    rt: tokio::runtime::Runtime,
    hooks: Arc<Hooks>,
    sentinel: Arc<Sentinel>,
    activity: Arc<LocalActivity>,
    local_waker: Waker,
    /// Tokio's instant at engine time `origin`.
    start: tokio::time::Instant,
    /// Engine time when the runtime was made (its clock's zero).
    origin: Time,
    /// Tokio's clock, as engine time.
    clock: Time,
}

impl Driver {
    /// A runtime whose clock reads `origin` now.
    pub(crate) fn new(origin: Time) -> std::io::Result<Driver> {
        let hooks = Arc::new(Hooks::default());
        let on_unpark = hooks.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            // One task between two polls of the `block_on` future, and the
            // injection queue before the local one: see the module docs.
            .event_interval(1)
            .global_queue_interval(1)
            .on_thread_unpark(move || {
                if !on_unpark.probing.load(Ordering::SeqCst) {
                    return;
                }
                let from = *on_unpark.probe_from.lock().expect("not poisoned");
                if from.is_some_and(|f| tokio::time::Instant::now() != f)
                    && let Some(w) = on_unpark.probe_waker.lock().expect("not poisoned").take()
                {
                    w.wake();
                }
            })
            .build()?;
        let start = {
            let _guard = rt.enter();
            tokio::time::Instant::now()
        };
        let activity = Arc::new(LocalActivity::default());
        let local_waker = Waker::from(activity.clone());
        let sentinel = Arc::new(Sentinel::default());
        rt.spawn(SentinelTask(sentinel.clone()));
        Ok(Driver {
            local: LocalSet::new(),
            rt,
            hooks,
            sentinel,
            activity,
            local_waker,
            start,
            origin,
            clock: origin,
        })
    }

    /// Tokio's instant at engine time `origin`.
    pub(crate) fn start(&self) -> tokio::time::Instant {
        self.start
    }

    /// Tokio's clock as engine time (ahead of the engine after a catch-up, never past an event of the host).
    pub(crate) fn clock(&self) -> Time {
        self.clock
    }

    /// The first whole millisecond after the clock: the earliest a timer
    /// not yet fired can fire.
    pub(crate) fn next_tick(&self) -> Time {
        let rel = self.clock.as_nanos() - self.origin.as_nanos();
        Time::from_nanos(self.origin.as_nanos() + (rel / MS + 1) * MS)
    }

    /// Spawns a task of the host's software on its [`LocalSet`].
    pub(crate) fn spawn_local<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.local.spawn_local(fut)
    }

    /// Moves tokio's clock to `now` and polls until nothing is ready.
    /// `now` before tokio's clock is a broken promise of
    /// [`Driver::catch_up`] (the clock stays where it is).
    pub(crate) fn run(&mut self, now: Time) -> Result<(), Stuck> {
        let ahead = now.as_nanos().saturating_sub(self.clock.as_nanos());
        self.quiesce(ahead).map(|_| ())
    }

    /// Advances the clock by `ahead` ns, then polls until nothing is ready.
    /// Returns whether any task ran (a local task had been woken, or some
    /// task was queued ahead of the sentinel).
    fn quiesce(&mut self, ahead: u64) -> Result<bool, Stuck> {
        let sentinel = self.sentinel.clone();
        let activity = self.activity.clone();
        let local_waker = self.local_waker.clone();
        let local = &mut self.local;
        let result = self.rt.block_on(async move {
            if ahead > 0 {
                tokio::time::advance(std::time::Duration::from_nanos(ahead)).await;
            }
            let woken_before = activity.woken.load(Ordering::SeqCst);
            let polls = Quiesce {
                local,
                sentinel: &sentinel,
                activity: &activity,
                local_waker: &local_waker,
                polls: 0,
            }
            .await?;
            Ok(woken_before || polls > 1)
        });
        self.clock = Time::from_nanos(self.clock.as_nanos() + ahead);
        result
    }

    /// Moves an idle runtime's clock forward while nothing can reach the
    /// host before `bound` (None: nothing is left anywhere), running what
    /// its timers wake. Tasks may run here ahead of the engine's clock, at
    /// tokio's: that is the time they would run at, and what they ask of
    /// the network waits for the [`CatchUp::Wake`] at that very time,
    /// before which nothing can change what they saw.
    pub(crate) fn catch_up(&mut self, bound: Option<Time>) -> Result<CatchUp, Stuck> {
        loop {
            let rel = self.clock.as_nanos() - self.origin.as_nanos();
            let landed_on_guard;
            if !rel.is_multiple_of(MS) {
                // Timers fire on whole milliseconds: first move to the next.
                let next = Time::from_nanos(self.origin.as_nanos() + (rel / MS + 1) * MS);
                if bound.is_some_and(|b| b < next) {
                    return Ok(CatchUp::Idle);
                }
                landed_on_guard = false;
                if self.quiesce(next.as_nanos() - self.clock.as_nanos())? {
                    return Ok(CatchUp::Wake(self.clock));
                }
            } else {
                let guard_ms = match bound {
                    Some(b) => b.as_nanos().saturating_sub(self.origin.as_nanos()) / MS,
                    None => rel / MS + HORIZON_MS,
                };
                if guard_ms <= rel / MS {
                    return Ok(CatchUp::Idle);
                }
                let landed = self.probe(rel, guard_ms);
                landed_on_guard = landed == guard_ms * MS;
                if self.quiesce(0)? {
                    return Ok(CatchUp::Wake(self.clock));
                }
            }
            if landed_on_guard {
                return Ok(if bound.is_none() {
                    CatchUp::Done
                } else {
                    CatchUp::Idle
                });
            }
        }
    }

    /// Lets tokio auto-advance once from `rel` (ns, on a millisecond) to
    /// its next timer or the guard at `guard_ms`; returns where it landed.
    fn probe(&mut self, rel: u64, guard_ms: u64) -> u64 {
        let guard = self.start + std::time::Duration::from_millis(guard_ms);
        let from = self.start + std::time::Duration::from_nanos(rel);
        self.hooks.probing.store(true, Ordering::SeqCst);
        *self.hooks.probe_from.lock().expect("not poisoned") = Some(from);
        let hooks = self.hooks.clone();
        let sleep = {
            let _context = self.rt.enter();
            Box::pin(tokio::time::sleep_until(guard))
        };
        let landed = self.rt.block_on(Probe {
            sleep,
            hooks: &hooks,
            from,
        });
        self.hooks.probing.store(false, Ordering::SeqCst);
        *self.hooks.probe_waker.lock().expect("not poisoned") = None;
        let landed_ns = landed.duration_since(self.start).as_nanos() as u64;
        self.clock = Time::from_nanos(self.origin.as_nanos() + landed_ns);
        landed_ns
    }
}

/// What an idle runtime needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CatchUp {
    /// Tasks ran at this time (the clock is there): the host must be called
    /// then, to hand the network what they asked for.
    Wake(Time),
    /// Nothing to do before the world reaches the bound; call again then.
    Idle,
    /// No timer at all and nothing left anywhere: never again, unless the
    /// network brings something.
    Done,
}

/// Polls the [`LocalSet`] and watches the runtime until nothing is ready.
struct Quiesce<'a> {
    local: &'a mut LocalSet,
    sentinel: &'a Sentinel,
    activity: &'a LocalActivity,
    local_waker: &'a Waker,
    polls: u64,
}

impl Future for Quiesce<'_> {
    /// How many slots it took (1: nothing was runnable).
    type Output = Result<u64, Stuck>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let local_woken = self.activity.woken.swap(false, Ordering::SeqCst);
        if self.polls == 0 {
            *self.activity.inner.lock().expect("not poisoned") = Some(cx.waker().clone());
        } else {
            let previous = self.polls;
            let s = self.sentinel;
            if !local_woken
                && s.armed_at.load(Ordering::SeqCst) == previous
                && s.ran_at.load(Ordering::SeqCst) == previous
            {
                return Poll::Ready(Ok(previous));
            }
        }
        self.polls += 1;
        if self.polls > POLLS_PER_STEP_MAX {
            return Poll::Ready(Err(Stuck { polls: self.polls }));
        }
        let polls = self.polls;
        let waker = self.local_waker.clone();
        let mut local_cx = Context::from_waker(&waker);
        let _ = Pin::new(&mut *self.local).poll(&mut local_cx);
        // Wake the sentinel (if it is not queued already) behind every task
        // waiting now, and ourselves, so the runtime never parks.
        let s = self.sentinel;
        s.polls.store(polls, Ordering::SeqCst);
        if let Some(w) = s.waker.lock().expect("not poisoned").take() {
            s.armed_at.store(polls, Ordering::SeqCst);
            w.wake();
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Lets the runtime auto-advance once, to its next timer or the guard, and
/// returns the instant it landed on before any woken task runs.
struct Probe<'a> {
    sleep: Pin<Box<tokio::time::Sleep>>,
    hooks: &'a Hooks,
    from: tokio::time::Instant,
}

impl Future for Probe<'_> {
    type Output = tokio::time::Instant;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let now = tokio::time::Instant::now();
        if now != self.from {
            return Poll::Ready(now);
        }
        *self.hooks.probe_waker.lock().expect("not poisoned") = Some(cx.waker().clone());
        let _ = self.sleep.as_mut().poll(cx);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    fn ms(n: u64) -> Time {
        Time::from_millis(n)
    }

    /// Runs the driver as the engine would with nothing else in the world:
    /// catch up, wake at the time asked, run. Returns every wake.
    fn drive(d: &mut Driver, bound: Option<Time>) -> Vec<Time> {
        let mut wakes = Vec::new();
        while let CatchUp::Wake(at) = d.catch_up(bound).unwrap() {
            if let Some(b) = bound {
                assert!(at <= b, "woke at {at} past {b}");
            }
            wakes.push(at);
            d.run(at).unwrap();
        }
        wakes
    }

    // The driver alone, with no network: a program of sleeps must see its
    // timers fire at exactly the engine times it asked for, each of them a
    // wake and no other wake, and Instant::now() must read the engine's time.
    #[test]
    fn timers_fire_at_the_engine_times_they_ask_for() {
        let mut d = Driver::new(Time::ZERO).unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let start = d.start();
        d.spawn_local(async move {
            for step in [5u64, 20, 1000] {
                tokio::time::sleep(Duration::from_millis(step)).await;
                s.borrow_mut()
                    .push(tokio::time::Instant::now().duration_since(start));
            }
        });
        d.run(Time::ZERO).unwrap();
        assert_eq!(drive(&mut d, None), vec![ms(5), ms(25), ms(1025)]);
        let fired: Vec<Duration> = [5, 25, 1025]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        assert_eq!(*seen.borrow(), fired);
        assert_eq!(d.catch_up(None), Ok(CatchUp::Done));
    }

    // The runtime must never run past an event the engine could deliver:
    // with the world's next event at 7.5 ms, a 100 ms sleep lets the clock
    // go no further than 7 ms; from 7.5 ms (off the millisecond) it moves
    // to whole milliseconds first; the timer fires at exactly 100 ms.
    #[test]
    fn the_clock_never_passes_the_next_event_of_the_world() {
        let mut d = Driver::new(Time::ZERO).unwrap();
        let fired = Rc::new(RefCell::new(None));
        let f = fired.clone();
        let start = d.start();
        d.spawn_local(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            *f.borrow_mut() = Some(tokio::time::Instant::now().duration_since(start));
        });
        d.run(Time::ZERO).unwrap();
        let event = Time::from_micros(7_500);
        assert_eq!(d.catch_up(Some(event)), Ok(CatchUp::Idle));
        assert_eq!(d.clock(), ms(7));
        assert_eq!(
            d.catch_up(Some(event)),
            Ok(CatchUp::Idle),
            "the guard is within this ms"
        );
        d.run(event).unwrap();
        assert_eq!(d.clock(), event);
        assert_eq!(d.catch_up(Some(ms(50))), Ok(CatchUp::Idle));
        assert_eq!(d.clock(), ms(50));
        assert!(fired.borrow().is_none());
        assert_eq!(drive(&mut d, None), vec![ms(100)]);
        assert_eq!(*fired.borrow(), Some(Duration::from_millis(100)));
        assert_eq!(d.catch_up(None), Ok(CatchUp::Done));
    }

    // Several tasks handing work to each other over channels, with
    // tokio::spawn, spawn_local and yield_now: run() returns only once all
    // of it is done, in one engine instant.
    #[test]
    fn run_returns_only_when_every_task_is_idle() {
        let mut d = Driver::new(Time::ZERO).unwrap();
        let total = Rc::new(RefCell::new(0u64));
        let t = total.clone();
        d.spawn_local(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
            for i in 0..10u64 {
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    tx.send(i).await.unwrap();
                });
            }
            drop(tx);
            let inner = tokio::task::spawn_local(async move {
                let mut sum = 0;
                while let Some(v) = rx.recv().await {
                    sum += v;
                }
                sum
            });
            *t.borrow_mut() = inner.await.unwrap();
        });
        d.run(Time::ZERO).unwrap();
        assert_eq!(*total.borrow(), 45);
        assert_eq!(d.catch_up(None), Ok(CatchUp::Done), "no timer: never woken");
    }

    // A task that yields forever never lets the runtime go idle: run()
    // reports it instead of spinning for ever.
    #[test]
    fn a_task_that_never_waits_is_reported() {
        let mut d = Driver::new(Time::ZERO).unwrap();
        d.spawn_local(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        let err = d.run(Time::ZERO).unwrap_err();
        assert!(err.polls > POLLS_PER_STEP_MAX);
    }
}
