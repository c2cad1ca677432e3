//! The libprocess clock: timers that tests can pause and advance.
//!
//! Upstream counterpart: `3rdparty/libprocess/{include/process/clock.hpp,
//! src/clock.cpp}`. One clock per OS process. While running it follows real
//! time; [`pause`] freezes it, [`advance`] moves it forward and fires the
//! timers that became due, [`resume`] lets it run again from where it was.
//! Every libprocess timer ([`crate::delay`], retry loops, ping timeouts in
//! the master and agent) goes through [`timer`], so a test controls time for
//! all of them at once instead of sleeping.
//!
//! Timers fire on a dedicated thread; a fired timer only enqueues work for
//! its process, so a slow process cannot delay other timers.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

type Thunk = Box<dyn FnOnce() + Send>;

struct Entry {
    deadline: Duration,
    seq: u64,
    cancelled: Arc<AtomicBool>,
    thunk: Thunk,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: the heap pops the earliest deadline first, FIFO among equals.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other
            .deadline
            .cmp(&self.deadline)
            .then(other.seq.cmp(&self.seq))
    }
}

struct State {
    /// Monotonic origin of the clock.
    origin: Instant,
    /// Wall time at `origin`.
    wall_origin: SystemTime,
    /// Added to real elapsed time by `advance`, adjusted by `resume`.
    offset: Duration,
    /// The clock's value when paused.
    paused_at: Option<Duration>,
    timers: BinaryHeap<Entry>,
}

struct Clock {
    state: Mutex<State>,
    wake: Condvar,
    seq: AtomicU64,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let clock = Clock {
            state: Mutex::new(State {
                origin: Instant::now(),
                wall_origin: SystemTime::now(),
                offset: Duration::ZERO,
                paused_at: None,
                timers: BinaryHeap::new(),
            }),
            wake: Condvar::new(),
            seq: AtomicU64::new(0),
        };
        std::thread::Builder::new()
            .name("libprocess-clock".into())
            .spawn(run_timers)
            .expect("spawning the clock thread at start-up");
        clock
    })
}

fn lock() -> MutexGuard<'static, State> {
    clock().state.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    fn elapsed(&self) -> Duration {
        match self.paused_at {
            Some(at) => at,
            None => self.origin.elapsed() + self.offset,
        }
    }

    /// Removes and returns the timers due at the current clock value.
    fn take_due(&mut self) -> Vec<Entry> {
        let now = self.elapsed();
        let mut due = Vec::new();
        while self.timers.peek().is_some_and(|e| e.deadline <= now) {
            if let Some(entry) = self.timers.pop() {
                due.push(entry);
            }
        }
        due
    }
}

fn fire(due: Vec<Entry>) {
    for entry in due {
        if !entry.cancelled.load(Ordering::Acquire) {
            (entry.thunk)();
        }
    }
}

fn run_timers() {
    let clock = clock();
    let mut state = clock.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let due = state.take_due();
        if !due.is_empty() {
            drop(state);
            fire(due);
            state = clock.state.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        let wait = match (&state.paused_at, state.timers.peek()) {
            (None, Some(next)) => Some(next.deadline.saturating_sub(state.elapsed())),
            _ => None,
        };
        state = match wait {
            Some(wait) => {
                clock
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => clock.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

/// A scheduled timer; dropping the handle does not cancel it.
#[derive(Debug, Clone)]
pub struct Timer {
    cancelled: Arc<AtomicBool>,
}

impl Timer {
    /// Cancels the timer; returns whether it had not been cancelled before.
    /// A timer that already fired is unaffected.
    pub fn cancel(&self) -> bool {
        !self.cancelled.swap(true, Ordering::AcqRel)
    }
}

/// Runs `thunk` on the clock thread once `after` has passed on the clock.
pub fn timer(after: Duration, thunk: impl FnOnce() + Send + 'static) -> Timer {
    let cancelled = Arc::new(AtomicBool::new(false));
    let clock = clock();
    let mut state = lock();
    let deadline = state.elapsed() + after;
    state.timers.push(Entry {
        deadline,
        seq: clock.seq.fetch_add(1, Ordering::Relaxed),
        cancelled: cancelled.clone(),
        thunk: Box::new(thunk),
    });
    drop(state);
    clock.wake.notify_one();
    Timer { cancelled }
}

/// Returns the clock's monotonic value (time since the clock started).
pub fn elapsed() -> Duration {
    lock().elapsed()
}

/// Returns the clock's wall time (real time plus whatever was advanced).
pub fn now() -> SystemTime {
    let state = lock();
    state.wall_origin + state.elapsed()
}

/// Returns the clock's wall time as seconds since the epoch, as upstream
/// stamps `StatusUpdate.timestamp`.
pub fn now_secs() -> f64 {
    now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Freezes the clock.
pub fn pause() {
    let mut state = lock();
    if state.paused_at.is_none() {
        state.paused_at = Some(state.elapsed());
    }
    drop(state);
    clock().wake.notify_one();
}

/// Returns whether the clock is paused.
pub fn paused() -> bool {
    lock().paused_at.is_some()
}

/// Moves a paused clock forward by `by` and fires the timers that became
/// due, in deadline order, before returning. Does nothing when running.
pub fn advance(by: Duration) {
    let due = {
        let mut state = lock();
        let Some(at) = state.paused_at else {
            return;
        };
        state.paused_at = Some(at + by);
        state.take_due()
    };
    fire(due);
}

/// Lets a paused clock run again from its current value.
pub fn resume() {
    let mut state = lock();
    if let Some(at) = state.paused_at.take() {
        state.offset = at.saturating_sub(state.origin.elapsed());
    }
    drop(state);
    clock().wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    // One test drives the process-wide clock, so the steps stay in order.
    #[test]
    fn paused_clock_fires_only_when_advanced() {
        let (tx, rx) = mpsc::channel();
        pause();
        let start = elapsed();
        let t1 = tx.clone();
        timer(Duration::from_secs(10), move || t1.send(10).unwrap());
        let t2 = tx.clone();
        timer(Duration::from_secs(5), move || t2.send(5).unwrap());
        let t3 = tx.clone();
        let cancelled = timer(Duration::from_secs(1), move || t3.send(1).unwrap());
        assert!(cancelled.cancel());
        assert!(!cancelled.cancel());

        std::thread::sleep(Duration::from_millis(20));
        assert!(rx.try_recv().is_err(), "nothing fires while paused");

        advance(Duration::from_secs(6));
        assert_eq!(rx.try_recv(), Ok(5));
        assert!(rx.try_recv().is_err());
        assert_eq!(elapsed() - start, Duration::from_secs(6));

        advance(Duration::from_secs(4));
        assert_eq!(rx.try_recv(), Ok(10));

        resume();
        assert!(!paused());
        let t4 = tx.clone();
        timer(Duration::from_millis(10), move || t4.send(4).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(4));
        assert!(
            elapsed() - start >= Duration::from_secs(10),
            "time continues after resume"
        );
    }
}
