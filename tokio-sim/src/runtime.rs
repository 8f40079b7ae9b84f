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
//! - [`Driver::plan`]: after a quiet step, when does the program next need
//!   the engine? Tokio's timers fire on whole milliseconds of its clock. If
//!   the clock is not on one, the answer is the next millisecond. If it is,
//!   the runtime is allowed to auto-advance once, to the earlier of its next
//!   timer and a guard timer at the last whole millisecond before anything
//!   else can happen in the world (the engine's next queued event, the
//!   host's own TCP timers): tokio moves its clock exactly to that tick and
//!   fires the timers due there, and the `on_thread_unpark` hook stops the
//!   `block_on` before any woken task runs. The engine then wakes the host
//!   at that very time, and [`Driver::run`] polls the woken tasks. Nothing
//!   can reach the host in between, so tokio's clock is never ahead of an
//!   event the host sees. An idle world is crossed in one jump; a busy one
//!   costs at most one wake per millisecond.
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

    /// Tokio's clock as engine time (ahead of the engine after a plan).
    pub(crate) fn clock(&self) -> Time {
        self.clock
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
    /// `now` before tokio's clock is a broken promise of [`Driver::plan`]
    /// (the clock stays where it is).
    pub(crate) fn run(&mut self, now: Time) -> Result<(), Stuck> {
        let ahead = now.as_nanos().saturating_sub(self.clock.as_nanos());
        let sentinel = self.sentinel.clone();
        let activity = self.activity.clone();
        let local_waker = self.local_waker.clone();
        let local = &mut self.local;
        let result = self.rt.block_on(async move {
            if ahead > 0 {
                tokio::time::advance(std::time::Duration::from_nanos(ahead)).await;
            }
            Quiesce {
                local,
                sentinel: &sentinel,
                activity: &activity,
                local_waker: &local_waker,
                polls: 0,
            }
            .await
        });
        self.clock = self.clock.max(now);
        result
    }

    /// After [`Driver::run`] at `now`: the engine time at which the program
    /// next needs to run, given that nothing can reach the host before
    /// `bound` (None: nothing is left anywhere). None: never (no timer).
    pub(crate) fn plan(&mut self, now: Time, bound: Option<Time>) -> Option<Time> {
        let rel = self.clock.as_nanos() - self.origin.as_nanos();
        debug_assert_eq!(self.clock, now, "plan follows a run at the same time");
        let next_tick = Time::from_nanos(self.origin.as_nanos() + (rel / MS + 1) * MS);
        if rel % MS != 0 {
            return Some(next_tick);
        }
        let guard_ms = match bound {
            Some(b) => b.as_nanos().saturating_sub(self.origin.as_nanos()) / MS,
            None => rel / MS + HORIZON_MS,
        };
        if guard_ms <= rel / MS {
            return Some(next_tick);
        }
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
        if bound.is_none() && landed_ns == guard_ms * MS {
            // Only the guard fired: the program has no timer at all, and
            // nothing else will ever happen.
            return None;
        }
        Some(self.clock)
    }
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
    type Output = Result<(), Stuck>;

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
                return Poll::Ready(Ok(()));
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

    /// Runs the driver as the engine would with nothing else in the world
    /// until `bound` (None: nothing at all): plan, wake at the planned time,
    /// run. Returns every planned wake.
    fn drive(d: &mut Driver, mut now: Time, bound: Option<Time>, until: Time) -> Vec<Time> {
        let mut wakes = Vec::new();
        d.run(now).unwrap();
        while let Some(next) = d.plan(now, bound) {
            let clock = d.clock();
            assert!(
                bound.is_none_or(|b| clock <= b),
                "clock {clock} past {bound:?}"
            );
            if next > until {
                break;
            }
            wakes.push(next);
            now = next;
            d.run(now).unwrap();
        }
        wakes
    }

    // The driver alone, with no network: a program of sleeps must see its
    // timers fire at exactly the engine times it asked for, each of them a
    // wake the driver planned, and Instant::now() must read the engine's time.
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
        let wakes = drive(&mut d, Time::ZERO, None, Time::MAX);
        let fired: Vec<Duration> = vec![5, 25, 1025]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        assert_eq!(*seen.borrow(), fired);
        for t in [ms(5), ms(25), ms(1025)] {
            assert!(wakes.contains(&t), "{t} planned in {wakes:?}");
        }
        // Besides those, only the timer wheel's level boundaries: a handful.
        assert!(wakes.len() < 12, "{wakes:?}");
    }

    // The runtime must never run past an event the engine could deliver:
    // with the world's next event at 7.5 ms, a 100 ms sleep lets the clock
    // go no further than 7 ms; off the millisecond (7.5 ms) the next
    // possible firing is 8 ms; afterwards it fires at exactly 100 ms.
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
        let event = Time::from_micros(7_500);
        let wakes = drive(&mut d, Time::ZERO, Some(event), event);
        assert_eq!(wakes.last(), Some(&ms(7)));
        assert_eq!(
            d.plan(ms(7), Some(event)),
            Some(ms(8)),
            "the guard is within this ms"
        );
        d.run(event).unwrap();
        assert_eq!(d.clock(), event);
        assert_eq!(d.plan(event, Some(ms(50))), Some(ms(8)));
        let wakes = drive(&mut d, ms(8), None, Time::MAX);
        assert!(wakes.contains(&ms(100)), "{wakes:?}");
        assert_eq!(*fired.borrow(), Some(Duration::from_millis(100)));
        assert_eq!(d.plan(d.clock(), None), None, "no timer left");
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
        assert!(
            drive(&mut d, Time::ZERO, None, Time::MAX).is_empty(),
            "no timer: never woken"
        );
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
