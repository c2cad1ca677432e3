//! Allocation cycle cost (upstream's `HierarchicalAllocator_BENCHMARK_Test`,
//! DeclineOffers scenario): many agents and frameworks; the first cycle
//! offers every agent; every framework has then declined every agent with
//! a long filter, and the steady-state cycle, where nothing can be
//! offered, is timed; then a cycle after every filter is revived, where
//! every agent is offered again.
//!
//! Run: `cargo bench -p mesos-master --bench allocator [-- AGENTS FRAMEWORKS
//! [ROLES]]` (default 10000 agents, 1000 frameworks, all in role `*`; with
//! ROLES, framework `i` is in the nested role `group-<j % 8>/role-<j>`,
//! `j = i % ROLES`, so the role tree has two levels).

use std::time::{Duration, Instant};

use mesos_master::allocator::{Allocator, HierarchicalDrf};
use mesos_proto::resources::Resources;

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let agents = numbers.first().copied().unwrap_or(10_000);
    let frameworks = numbers.get(1).copied().unwrap_or(1_000);
    let roles = numbers.get(2).copied();
    let total = Resources::parse("cpus:24;mem:65536;disk:1048576;ports:[31000-32000]", "*")
        .expect("resources");

    let mut drf = HierarchicalDrf::default();
    let start = Instant::now();
    for i in 0..agents {
        drf.add_slave(&format!("agent-{i}"), total.clone(), Resources::new());
    }
    for i in 0..frameworks {
        let role = match roles {
            Some(roles) => {
                let j = i % roles.max(1);
                format!("group-{}/role-{j}", j % 8)
            }
            None => "*".to_string(),
        };
        drf.add_framework(&format!("framework-{i}"), vec![role], vec![], true);
    }
    println!(
        "added {agents} agents and {frameworks} frameworks in {:?}",
        start.elapsed()
    );

    let mut now = Duration::ZERO;
    let start = Instant::now();
    let allocations = drf.allocate(now);
    println!(
        "first cycle: {} allocations in {:?}",
        allocations.len(),
        start.elapsed()
    );

    // Every framework declines what it got for an hour, and every agent
    // is then filtered by every framework (the scenario's steady state).
    let refuse = Duration::from_secs(3600);
    for a in &allocations {
        drf.recover_resources(
            &a.framework_id,
            &a.slave_id,
            &a.resources,
            Some(refuse),
            now,
        );
    }
    let start = Instant::now();
    drf.decline_everything(refuse, now);
    println!(
        "installed {} filters in {:?}",
        agents * frameworks,
        start.elapsed()
    );

    let mut times = Vec::new();
    for _ in 0..5 {
        now += Duration::from_millis(1);
        let start = Instant::now();
        let allocations = drf.allocate(now);
        times.push(start.elapsed());
        assert!(allocations.is_empty());
    }
    times.sort();
    println!(
        "steady-state cycle (all filtered): median {:?}, max {:?}",
        times[2], times[4]
    );

    for i in 0..frameworks {
        drf.revive(&format!("framework-{i}"), &[]);
    }
    let start = Instant::now();
    let allocations = drf.allocate(now);
    println!(
        "cycle after revive: {} allocations in {:?}",
        allocations.len(),
        start.elapsed()
    );
}
