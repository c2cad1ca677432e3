//! Cgroup counters into `mesos.ResourceStatistics`.
//!
//! Upstream counterpart: the `usage()` methods of the cgroups isolator's
//! `cpu`, `cpuacct` and `memory` subsystems
//! (`isolators/cgroups/subsystems/*.cpp`) and of the cgroups2 `cpu` and
//! `memory` controllers. Each function sets only the fields its source
//! provides, so an isolator merges the results of several subsystems into
//! one message.

use std::collections::BTreeMap;

use mesos_proto::mesos::ResourceStatistics;

use super::{cgroups, cgroups2};

fn saturate_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// v1 `cpuacct.stat` → `cpus_user_time_secs`, `cpus_system_time_secs`.
pub fn apply_cpuacct(stats: &mut ResourceStatistics, stat: &cgroups::cpuacct::Stat) {
    stats.cpus_user_time_secs = Some(stat.user.as_secs_f64());
    stats.cpus_system_time_secs = Some(stat.system.as_secs_f64());
}

/// v1 `cpu.stat` → `cpus_nr_periods`, `cpus_nr_throttled`,
/// `cpus_throttled_time_secs` (upstream fills them only with
/// `--cgroups_enable_cfs`).
pub fn apply_cfs(stats: &mut ResourceStatistics, stat: &cgroups::cpu::Stat) {
    stats.cpus_nr_periods = Some(saturate_u32(stat.nr_periods));
    stats.cpus_nr_throttled = Some(saturate_u32(stat.nr_throttled));
    stats.cpus_throttled_time_secs = Some(stat.throttled_time.as_secs_f64());
}

/// v1 memory: `memory.usage_in_bytes` → `mem_total_bytes`; from
/// `memory.stat`: `total_cache` → `mem_file_bytes` and `mem_cache_bytes`,
/// `total_rss` → `mem_anon_bytes` and `mem_rss_bytes`,
/// `total_mapped_file` → `mem_mapped_file_bytes`, `total_swap` →
/// `mem_swap_bytes`, `total_unevictable` → `mem_unevictable_bytes`.
pub fn apply_memory_v1(
    stats: &mut ResourceStatistics,
    usage_in_bytes: u64,
    memory_stat: &BTreeMap<String, u64>,
) {
    stats.mem_total_bytes = Some(usage_in_bytes);
    if let Some(&cache) = memory_stat.get("total_cache") {
        stats.mem_file_bytes = Some(cache);
        stats.mem_cache_bytes = Some(cache);
    }
    if let Some(&rss) = memory_stat.get("total_rss") {
        stats.mem_anon_bytes = Some(rss);
        stats.mem_rss_bytes = Some(rss);
    }
    if let Some(&mapped) = memory_stat.get("total_mapped_file") {
        stats.mem_mapped_file_bytes = Some(mapped);
    }
    if let Some(&swap) = memory_stat.get("total_swap") {
        stats.mem_swap_bytes = Some(swap);
    }
    if let Some(&unevictable) = memory_stat.get("total_unevictable") {
        stats.mem_unevictable_bytes = Some(unevictable);
    }
}

/// v1 memory pressure counters → `mem_low_pressure_counter`,
/// `mem_medium_pressure_counter`, `mem_critical_pressure_counter`.
pub fn apply_memory_pressure(
    stats: &mut ResourceStatistics,
    level: cgroups::memory::pressure::Level,
    events: u64,
) {
    use cgroups::memory::pressure::Level;
    match level {
        Level::Low => stats.mem_low_pressure_counter = Some(events),
        Level::Medium => stats.mem_medium_pressure_counter = Some(events),
        Level::Critical => stats.mem_critical_pressure_counter = Some(events),
    }
}

/// v2 `cpu.stat` → `cpus_user_time_secs`, `cpus_system_time_secs`, and
/// the throttling fields when the kernel reports them.
pub fn apply_cpu_v2(stats: &mut ResourceStatistics, stat: &cgroups2::cpu::Stat) {
    stats.cpus_user_time_secs = Some(stat.user.as_secs_f64());
    stats.cpus_system_time_secs = Some(stat.system.as_secs_f64());
    if let Some(periods) = stat.nr_periods {
        stats.cpus_nr_periods = Some(saturate_u32(periods));
    }
    if let Some(throttled) = stat.nr_throttled {
        stats.cpus_nr_throttled = Some(saturate_u32(throttled));
    }
    if let Some(time) = stat.throttled {
        stats.cpus_throttled_time_secs = Some(time.as_secs_f64());
    }
}

/// v2 memory: `memory.current` → `mem_total_bytes`; from `memory.stat`:
/// `anon` → `mem_anon_bytes` and `mem_rss_bytes`, `file` →
/// `mem_file_bytes` and `mem_cache_bytes`, `file_mapped` →
/// `mem_mapped_file_bytes`, `unevictable` → `mem_unevictable_bytes`;
/// `memory.swap.current` (when accounted) → `mem_swap_bytes`. The v2 files
/// count the whole subtree, like v1's `total_*` keys.
pub fn apply_memory_v2(
    stats: &mut ResourceStatistics,
    current: u64,
    swap_current: Option<u64>,
    memory_stat: &BTreeMap<String, u64>,
) {
    stats.mem_total_bytes = Some(current);
    if let Some(&anon) = memory_stat.get("anon") {
        stats.mem_anon_bytes = Some(anon);
        stats.mem_rss_bytes = Some(anon);
    }
    if let Some(&file) = memory_stat.get("file") {
        stats.mem_file_bytes = Some(file);
        stats.mem_cache_bytes = Some(file);
    }
    if let Some(&mapped) = memory_stat.get("file_mapped") {
        stats.mem_mapped_file_bytes = Some(mapped);
    }
    if let Some(&unevictable) = memory_stat.get("unevictable") {
        stats.mem_unevictable_bytes = Some(unevictable);
    }
    if let Some(swap) = swap_current {
        stats.mem_swap_bytes = Some(swap);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn v1_counters_fill_upstream_fields() {
        let mut stats = ResourceStatistics::default();
        apply_cpuacct(
            &mut stats,
            &cgroups::cpuacct::Stat {
                user: Duration::from_millis(1500),
                system: Duration::from_millis(250),
            },
        );
        apply_cfs(
            &mut stats,
            &cgroups::cpu::Stat {
                nr_periods: 7,
                nr_throttled: 2,
                throttled_time: Duration::from_millis(300),
            },
        );
        let memory_stat: BTreeMap<String, u64> = [
            ("cache", 1),
            ("total_cache", 10),
            ("total_rss", 20),
            ("total_mapped_file", 5),
            ("total_swap", 3),
            ("total_unevictable", 4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        apply_memory_v1(&mut stats, 100, &memory_stat);
        apply_memory_pressure(&mut stats, cgroups::memory::pressure::Level::Medium, 6);
        assert_eq!(stats.mem_medium_pressure_counter, Some(6));
        assert_eq!(stats.mem_low_pressure_counter, None);
        assert_eq!(stats.cpus_user_time_secs, Some(1.5));
        assert_eq!(stats.cpus_system_time_secs, Some(0.25));
        assert_eq!(stats.cpus_nr_periods, Some(7));
        assert_eq!(stats.cpus_nr_throttled, Some(2));
        assert_eq!(stats.cpus_throttled_time_secs, Some(0.3));
        assert_eq!(stats.mem_total_bytes, Some(100));
        assert_eq!(stats.mem_cache_bytes, Some(10));
        assert_eq!(stats.mem_file_bytes, Some(10));
        assert_eq!(stats.mem_rss_bytes, Some(20));
        assert_eq!(stats.mem_anon_bytes, Some(20));
        assert_eq!(stats.mem_mapped_file_bytes, Some(5));
        assert_eq!(stats.mem_swap_bytes, Some(3));
        assert_eq!(stats.mem_unevictable_bytes, Some(4));
    }

    #[test]
    fn v2_counters_fill_upstream_fields() {
        let mut stats = ResourceStatistics::default();
        apply_cpu_v2(
            &mut stats,
            &cgroups2::cpu::Stat {
                usage: Duration::from_secs(3),
                user: Duration::from_secs(2),
                system: Duration::from_secs(1),
                nr_periods: None,
                nr_throttled: None,
                throttled: None,
            },
        );
        assert_eq!(stats.cpus_user_time_secs, Some(2.0));
        assert_eq!(stats.cpus_nr_periods, None);
        let memory_stat: BTreeMap<String, u64> = [("anon", 7), ("file", 8), ("file_mapped", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        apply_memory_v2(&mut stats, 50, None, &memory_stat);
        assert_eq!(stats.mem_total_bytes, Some(50));
        assert_eq!(stats.mem_rss_bytes, Some(7));
        assert_eq!(stats.mem_cache_bytes, Some(8));
        assert_eq!(stats.mem_mapped_file_bytes, Some(2));
        assert_eq!(stats.mem_swap_bytes, None);
    }
}
