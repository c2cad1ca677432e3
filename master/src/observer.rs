//! The per-agent health checker, `slave-observer(N)`.
//!
//! Upstream counterpart: `SlaveObserver` in `src/master/master.cpp`. Every
//! `--agent_ping_timeout` it sends the agent a `PingSlaveMessage` saying
//! whether the master thinks it is connected; the agent answers with a
//! `PongSlaveMessage` to this process (the ping's sender). A ping still
//! unanswered when the next is due counts as a timeout; after
//! `--max_agent_ping_timeouts` consecutive timeouts the master is asked to
//! mark the agent unreachable. A pong resets the count.

use std::time::Duration;

use actix::{Addr, AsyncContext as _, Context};
use libprocess::{Process, ProcessBase, UPID};
use mesos_proto::mesos::internal::{PingSlaveMessage, PongSlaveMessage};

use crate::master::Master;

/// The health checker of one agent.
pub struct SlaveObserver {
    base: ProcessBase<Self>,
    slave: UPID,
    slave_id: String,
    master: Addr<Master>,
    ping_timeout: Duration,
    max_ping_timeouts: u32,
    connected: bool,
    pinged: bool,
    timeouts: u32,
    reported: bool,
}

impl SlaveObserver {
    /// Returns the observer of agent `slave_id` at `slave`.
    pub fn new(
        slave: UPID,
        slave_id: String,
        master: Addr<Master>,
        ping_timeout: Duration,
        max_ping_timeouts: u32,
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
                let id = self.slave_id.clone();
                self.master.do_send(libprocess::Dispatch(Box::new(
                    move |master: &mut Master, ctx| {
                        master.mark_unreachable(&id, "health check timed out", ctx)
                    },
                )));
            }
        }
        self.ping(ctx);
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
                this.timeouts = 0;
                this.pinged = false;
                // A late pong before the master acted cancels the report.
                this.reported = false;
            });
        self.ping(ctx);
    }
}

libprocess::process_handlers!(SlaveObserver);
