//! `delay` follows the libprocess clock: paused, nothing fires; advanced,
//! the due timers fire in order. In its own test binary because the clock
//! is process-wide.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::net::Ipv4Addr;
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{clock, Config, Process, ProcessBase, Runtime};
use tokio::sync::mpsc;

struct Ticker {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<&'static str>,
}

impl Actor for Ticker {
    type Context = Context<Self>;
}

impl Process for Ticker {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
}

libprocess::process_handlers!(Ticker);

#[actix_rt::test]
async fn delayed_dispatches_fire_when_the_clock_is_advanced() {
    let runtime = Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let ticker = runtime
        .spawn(Ticker {
            base: ProcessBase::new("ticker"),
            tx,
        })
        .unwrap();

    clock::pause();
    let addr = ticker.addr().clone();
    libprocess::delay(Duration::from_secs(60), &addr, |this, _| {
        let _ = this.tx.send("one minute");
    });
    libprocess::delay(Duration::from_secs(15), &addr, |this, _| {
        let _ = this.tx.send("fifteen seconds");
    });
    let cancelled = libprocess::delay(Duration::from_secs(30), &addr, |this, _| {
        let _ = this.tx.send("cancelled");
    });
    cancelled.cancel();

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing fires while the clock is paused"
    );

    clock::advance(Duration::from_secs(20));
    assert_eq!(rx.recv().await, Some("fifteen seconds"));
    clock::advance(Duration::from_secs(40));
    assert_eq!(rx.recv().await, Some("one minute"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rx.try_recv().is_err(), "the cancelled timer never fires");
    clock::resume();
}
