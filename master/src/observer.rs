//! The per-agent health checker, `slave-observer(N)`.
//!
//! Upstream counterpart: `SlaveObserver` in `src/master/master.cpp`. Every
//! `--agent_ping_timeout` it sends the agent a `PingSlaveMessage` saying
//! whether the master thinks it is connected; the agent answers with a
//! `PongSlaveMessage` to this process (the ping's sender). A ping still
//! unanswered when the next is due counts as a timeout; after
//! `--max_agent_ping_timeouts` consecutive timeouts the master is asked to
//! mark the agent unreachable. A pong resets the count.
//!
//! With `--agent_removal_rate_limit` the marking waits for a permit of the
//! master's [`RemovalLimiter`]; an agent that answers a ping meanwhile is
//! not marked after all (`master/slave_unreachable_canceled`), as
//! upstream's `SlaveObserver::_markSlaveUnreachable`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{AsyncContext as _, Context};
use libprocess::{Process, ProcessBase, PID, UPID};
use mesos_proto::mesos::internal::{PingSlaveMessage, PongSlaveMessage};

use crate::master::Master;

/// `--agent_removal_rate_limit` (`N/duration`): permits spaced evenly,
/// one every `duration / N` (libprocess's `RateLimiter`).
#[derive(Debug)]
pub struct RemovalLimiter {
    interval: Duration,
    /// When the next permit is due, on the libprocess clock
    /// ([`libprocess::clock::elapsed`], which tests can pause).
    next: Option<Duration>,
}

impl RemovalLimiter {
    /// Parses upstream's `N/duration` (`1/20mins`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (permits, duration) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}' is not of the form 'N/duration' (e.g. '1/20mins')"))?;
        let permits: u32 = permits
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{permits}' is not a positive number of permits"))?;
        let duration =
            libprocess::flags::parse_duration(duration.trim()).map_err(|e| e.to_string())?;
        if duration.is_zero() {
            return Err("the duration must be positive".into());
        }
        Ok(Self {
            interval: duration / permits,
            next: None,
        })
    }

    /// How long until the next permit, which is taken.
    pub fn acquire(&mut self) -> Duration {
        let now = libprocess::clock::elapsed();
        let at = self.next.map_or(now, |next| next.max(now));
        self.next = Some(at + self.interval);
        at - now
    }
}

/// What the observers share to mark agents unreachable.
#[derive(Clone, Default)]
pub struct Removals {
    /// The limiter, with `--agent_removal_rate_limit`.
    pub limiter: Option<Arc<Mutex<RemovalLimiter>>>,
    /// `master/slave_unreachable_scheduled`.
    pub scheduled: libprocess::metrics::Counter,
    /// `master/slave_unreachable_canceled`.
    pub canceled: libprocess::metrics::Counter,
}

impl Removals {
    /// The wait for a permit (none without a limiter).
    pub fn acquire(&self) -> Duration {
        self.limiter.as_ref().map_or(Duration::ZERO, |limiter| {
            limiter.lock().unwrap_or_else(|p| p.into_inner()).acquire()
        })
    }
}

/// The health checker of one agent.
pub struct SlaveObserver {
    base: ProcessBase<Self>,
    slave: UPID,
    slave_id: String,
    master: PID<Master>,
    ping_timeout: Duration,
    max_ping_timeouts: u32,
    connected: bool,
    pinged: bool,
    timeouts: u32,
    reported: bool,
    removals: Removals,
    /// Pongs received, and how many there were when a removal was
    /// scheduled: one more by the permit cancels it.
    pongs: u64,
    pongs_at_schedule: u64,
}

impl SlaveObserver {
    /// Returns the observer of agent `slave_id` at `slave`.
    pub fn new(
        slave: UPID,
        slave_id: String,
        master: PID<Master>,
        ping_timeout: Duration,
        max_ping_timeouts: u32,
        removals: Removals,
    ) -> Self {
        Self {
            base: ProcessBase::new(libprocess::id::generate("slave-observer")),
            slave,
            slave_id,
            master,
            ping_timeout,
            max_ping_timeouts,
            connected: true,
            pinged: false,
            timeouts: 0,
            reported: false,
            removals,
            pongs: 0,
            pongs_at_schedule: 0,
        }
    }

    /// Points the observer at a new agent address (re-registration).
    pub fn reconnect(&mut self, slave: UPID) {
        self.slave = slave;
        self.connected = true;
    }

    /// Tells the agent in the next pings that the master lost it.
    pub fn disconnect(&mut self) {
        self.connected = false;
    }

    fn ping(&mut self, ctx: &mut Context<Self>) {
        self.base.send(
            &self.slave,
            &PingSlaveMessage {
                connected: self.connected,
            },
        );
        self.pinged = true;
        libprocess::delay(self.ping_timeout, &ctx.address(), |this, ctx| {
            this.timeout(ctx)
        });
    }

    fn timeout(&mut self, ctx: &mut Context<Self>) {
        if self.pinged {
            self.timeouts += 1;
            if self.timeouts >= self.max_ping_timeouts && !self.reported {
                self.reported = true;
                tracing::info!(
                    slave_id = %self.slave_id,
                    timeouts = self.timeouts,
                    "Agent failed health checks"
                );
                self.removals.scheduled.inc();
                self.pongs_at_schedule = self.pongs;
                let wait = self.removals.acquire();
                if !wait.is_zero() {
                    tracing::info!(slave_id = %self.slave_id, ?wait, "Scheduling the agent's removal (--agent_removal_rate_limit)");
                }
                libprocess::delay(wait, &ctx.address(), |this, _ctx| this.permitted());
            }
        }
        self.ping(ctx);
    }

    /// The removal permit came: the agent is marked unreachable, unless it
    /// answered a ping meanwhile (upstream checks only the last ping, which
    /// a permit due with the next ping would miss).
    fn permitted(&mut self) {
        if self.pongs > self.pongs_at_schedule {
            tracing::info!(slave_id = %self.slave_id, "Canceling the agent's removal: it answered a ping");
            self.removals.canceled.inc();
            self.reported = false;
            self.timeouts = 0;
            return;
        }
        let id = self.slave_id.clone();
        self.master.dispatch(move |master: &mut Master, ctx| {
            master.mark_unreachable(&id, "health check timed out", ctx)
        });
    }
}

impl actix::Actor for SlaveObserver {
    type Context = Context<Self>;
}

impl Process for SlaveObserver {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, ctx: &mut Context<Self>) {
        self.base
            .install::<PongSlaveMessage>(|this, _ctx, _from, _pong| {
                this.pongs += 1;
                this.timeouts = 0;
                this.pinged = false;
                // A late pong before the master acted cancels the report.
                this.reported = false;
            });
        self.ping(ctx);
    }
}

libprocess::process_handlers!(SlaveObserver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removal_limit_spaces_permits_evenly() {
        let mut limiter = RemovalLimiter::parse("2/10secs").unwrap();
        assert_eq!(limiter.interval, Duration::from_secs(5));
        assert_eq!(limiter.acquire(), Duration::ZERO);
        let second = limiter.acquire();
        assert!(second > Duration::from_millis(4900) && second <= Duration::from_secs(5));
        let third = limiter.acquire();
        assert!(third > Duration::from_millis(9900) && third <= Duration::from_secs(10));
        assert!(RemovalLimiter::parse("0/1mins").is_err());
        assert!(RemovalLimiter::parse("1/0secs").is_err());
        assert!(RemovalLimiter::parse("1mins").is_err());
        assert!(RemovalLimiter::parse("x/1mins").is_err());
    }
}
