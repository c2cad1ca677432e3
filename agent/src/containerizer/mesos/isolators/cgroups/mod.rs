//! The cgroups isolators (upstream `isolators/cgroups/`): `cgroups/cpu`,
//! `cgroups/mem`, `cgroups/pids`, `cgroups/devices`, `cgroups/blkio`,
//! `cgroups/cpuset`, `cgroups/net_cls`, `cgroups/perf_event` and the
//! cgroup-only ones (and `cgroups/all` for every one whose subsystem the
//! kernel enables, [`all`]), on
//! cgroups v1 — a hierarchy per controller, as upstream — or on a v2
//! unified hierarchy, chosen from what the machine mounts
//! ([`crate::linux::Hierarchy::detect`]).
//!
//! Each container gets the cgroup `<--cgroups_root>/<container id>` in
//! each hierarchy its subsystem needs, created in `prepare` (and on v1
//! given, without its control files, to the container's user); `isolate`
//! puts the (still blocked) launch helper in it and applies the limits of
//! the container's resources; `update` applies new ones; `usage` reads
//! them back as `ResourceStatistics`; `cleanup` kills what is left and
//! removes the cgroup. `recover` takes the checkpointed containers back
//! as they are and destroys the cgroups under the root that no container
//! or known orphan owns (upstream's unknown orphans).
//!
//! Nested containers (upstream 1.11): one whose
//! `ContainerInfo.linux_info.share_cgroups` is false (a task of a task
//! group asking for it; only at the first level) gets cgroups of its own,
//! `<root>/<parent>/mesos/<child>` (upstream's `getCgroupPath`), with the
//! limits of its own resources and limits (from `LAUNCH_CONTAINER`), its
//! own OOM watch (an OOM kills it alone), its own usage (`GET_CONTAINERS`
//! with `show_nested`), removed on destroy and recovered after a restart
//! from its checkpointed `ContainerInfo`. Any other nested container runs
//! in the cgroups of its nearest ancestor that has some (upstream's
//! `findCgroupInfo`). On v2 a top-level container's processes live in its
//! `leaf` cgroup (upstream's v2 layout; the launcher puts them there), so
//! that its own cgroup holds none and the controllers can be enabled below
//! it (the no-internal-process rule); OOMs are those of the cgroup's own
//! limit (`memory.events.local`), not its nested containers'. Deliberate
//! difference: upstream's v2 isolator has no nesting at all. A nested
//! cgroup gives up its CFS quota before it is removed: a removed cgroup
//! whose exited processes await reaping still bounds its parent's quota.
//!
//! - cpu: `cpu.shares` = 1024 × cpus (at least 2); with
//!   `--cgroups_enable_cfs`, `cpu.cfs_quota_us` = cpus × 100 ms per
//!   100 ms period (at least 1 ms). A `cpus` limit (upstream
//!   `ContainerConfig.limits`) sets the quota from it instead, with or
//!   without CFS enabled; an infinite one removes the quota. v2:
//!   `cpu.weight` (100 per cpu) and `cpu.max`. Usage from `cpuacct.stat` /
//!   `cpu.stat`.
//! - mem: `memory.limit_in_bytes` and the soft limit = mem (at least
//!   32 MB); a `mem` limit sets the hard limit instead (infinite: none),
//!   and a command task whose hard limit is above its soft limit gets
//!   upstream's OOM score adjustment; with `--cgroups_limit_swap`, `memory.memsw.limit_in_bytes`
//!   too (and `mem_total_memsw_bytes` in usage); usage also has the v1
//!   memory pressure counters, listened to from the cgroup's creation (or
//!   the agent's restart). v2: `memory.max`,
//!   `memory.low`, `memory.swap.max`. An update sets the soft limit but
//!   only ever raises the hard limit, as upstream: lowering it could OOM
//!   the container. An OOM kill
//!   in the cgroup is a limitation: the container is destroyed and its
//!   tasks fail with `REASON_CONTAINER_LIMITATION_MEMORY` and upstream's
//!   "Memory limit exceeded" message.
//! - pids: accounting only (`processes`, `threads`), as upstream; with
//!   `--cgroups_cpu_enable_pids_and_tids_count` cpu reports them too.
//! - devices: `devices.deny` of everything, then `devices.allow` of the
//!   default whitelist and `--allowed_devices`. v2 has no devices
//!   controller: the same whitelist becomes a BPF device program attached
//!   to the container's cgroup ([`crate::linux::devices_bpf`]).
//! - net_cls: with `--cgroups_net_cls_primary_handle`, a class id per
//!   container ([`net_cls`]).
//! - perf_event: with `--perf_events`, `perf stat` samples in usage
//!   ([`perf_event`]).
//!
//! A v1 subsystem the kernel enables but nothing mounts is mounted at
//! `<--cgroups_hierarchy>/<subsystem>` first ([`prepare`]), as upstream.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLimitation, ContainerState};
use mesos_proto::mesos::{task_status, Resource, ResourceStatistics};
use mesos_proto::resources::Resources;

use crate::containerizer::mesos::isolator::{
    bytes, ready, Isolator, IsolatorError, ResourceLimits, Result,
};
use crate::linux::{cgroups, cgroups2, statistics, Hierarchy, OomOutcome};

mod mounts;
pub mod net_cls;
pub mod perf_event;
mod prepare;

pub use prepare::{enabled as enabled_subsystems, prepare};

/// The devices every container may use (upstream `cgroups/devices`'s
/// default whitelist): mknod of any device, and the console, ttys, pts,
/// ptmx, tun, null, zero, full, random and urandom.
pub const DEFAULT_WHITELIST: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 5:1 rwm",
    "c 4:0 rwm",
    "c 4:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:9 rwm",
    "c 1:8 rwm",
];

/// The default whitelist and `allowed`, as device program rules.
fn device_rules(
    allowed: &[String],
) -> std::result::Result<Vec<crate::linux::devices_bpf::DeviceRule>, String> {
    DEFAULT_WHITELIST
        .iter()
        .copied()
        .chain(allowed.iter().map(String::as_str))
        .map(crate::linux::devices_bpf::DeviceRule::parse)
        .collect()
}

/// The devices-cgroup entries of an upstream `DeviceWhitelist` (JSON, as
/// `--allowed_devices` takes it): each device's type and numbers come from
/// its path (or its `number`, as a character device).
pub fn device_entries(json: &str) -> std::result::Result<Vec<String>, String> {
    use std::os::unix::fs::FileTypeExt as _;
    use std::os::unix::fs::MetadataExt as _;
    let whitelist: mesos_proto::mesos::DeviceWhitelist = mesos_proto::json::from_str(json)
        .map_err(|e| format!("Failed to parse 'allowed_devices': {e}"))?;
    whitelist
        .allowed_devices
        .iter()
        .map(|entry| {
            let (kind, major, minor) = match (&entry.device.path, &entry.device.number) {
                (Some(path), _) => {
                    let metadata = std::fs::metadata(path)
                        .map_err(|e| format!("Failed to stat device '{path}': {e}"))?;
                    let kind = if metadata.file_type().is_char_device() {
                        'c'
                    } else if metadata.file_type().is_block_device() {
                        'b'
                    } else {
                        return Err(format!("'{path}' is not a device"));
                    };
                    let rdev = metadata.rdev();
                    (kind, libc::major(rdev), libc::minor(rdev))
                }
                (None, Some(number)) => (
                    'c',
                    u32::try_from(number.major_number).map_err(|e| e.to_string())?,
                    u32::try_from(number.minor_number).map_err(|e| e.to_string())?,
                ),
                (None, None) => return Err("a device needs a 'path' or a 'number'".into()),
            };
            let access = &entry.access;
            let mut letters = String::new();
            if access.read == Some(true) {
                letters.push('r');
            }
            if access.write == Some(true) {
                letters.push('w');
            }
            if access.mknod == Some(true) {
                letters.push('m');
            }
            if letters.is_empty() {
                return Err(format!("device {major}:{minor} has no access allowed"));
            }
            Ok(format!("{kind} {major}:{minor} {letters}"))
        })
        .collect()
}

use mesos_proto::mesos::cgroup_info::blkio::{
    self as blkio_info, throttling, Operation, Statistics as BlkioStatistics,
};

fn device_number(device: &str) -> Option<mesos_proto::mesos::device::Number> {
    let (major, minor) = device.split_once(':')?;
    Some(mesos_proto::mesos::device::Number {
        major_number: major.parse().ok()?,
        minor_number: minor.parse().ok()?,
    })
}

fn operation(name: &str) -> Operation {
    match name {
        "Read" => Operation::Read,
        "Write" => Operation::Write,
        "Sync" => Operation::Sync,
        "Async" => Operation::Async,
        "Discard" => Operation::Discard,
        "Total" => Operation::Total,
        _ => Operation::Unknown,
    }
}

/// v1 `blkio.throttle.io_serviced` / `io_service_bytes` as upstream's
/// throttling statistics: one entry per device, the total line as an
/// entry without a device.
fn throttling_v1(
    serviced: &[cgroups::blkio::Value],
    bytes: &[cgroups::blkio::Value],
) -> BlkioStatistics {
    fn entry(by_device: &mut Vec<throttling::Statistics>, device: &Option<String>) -> usize {
        let number = device.as_deref().and_then(device_number);
        if let Some(index) = by_device.iter().position(|s| s.device == number) {
            return index;
        }
        by_device.push(throttling::Statistics {
            device: number,
            ..Default::default()
        });
        by_device.len() - 1
    }
    let value = |v: &cgroups::blkio::Value| blkio_info::Value {
        op: Some(operation(v.operation.as_deref().unwrap_or_default()) as i32),
        value: Some(v.value),
    };
    let mut by_device: Vec<throttling::Statistics> = Vec::new();
    for v in serviced {
        let index = entry(&mut by_device, &v.device);
        by_device[index].io_serviced.push(value(v));
    }
    for v in bytes {
        let index = entry(&mut by_device, &v.device);
        by_device[index].io_service_bytes.push(value(v));
    }
    BlkioStatistics {
        throttling: by_device,
        ..Default::default()
    }
}

/// v2 `io.stat` as throttling statistics: `rios`/`wios` → serviced
/// Read/Write, `rbytes`/`wbytes` → service bytes Read/Write, with totals.
fn throttling_v2(
    stat: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
) -> BlkioStatistics {
    let value = |op: Operation, v: u64| blkio_info::Value {
        op: Some(op as i32),
        value: Some(v),
    };
    let throttling = stat
        .iter()
        .map(|(device, counters)| {
            let get = |key: &str| counters.get(key).copied().unwrap_or_default();
            let (rios, wios, rbytes, wbytes) =
                (get("rios"), get("wios"), get("rbytes"), get("wbytes"));
            throttling::Statistics {
                device: device_number(device),
                io_serviced: vec![
                    value(Operation::Read, rios),
                    value(Operation::Write, wios),
                    value(Operation::Total, rios + wios),
                ],
                io_service_bytes: vec![
                    value(Operation::Read, rbytes),
                    value(Operation::Write, wbytes),
                    value(Operation::Total, rbytes + wbytes),
                ],
            }
        })
        .collect();
    BlkioStatistics {
        throttling,
        ..Default::default()
    }
}

/// The memory soft and hard limits of a container, in bytes (upstream's
/// memory subsystem `update`): the soft limit is the request (at least
/// [`cgroups::memory::MIN_MEMORY`]); the hard limit the `mem` limit (whole
/// MB, at least the minimum) where there is one, `None` (unlimited) when
/// that is infinite, else the request. `None` without a memory request.
fn memory_limits(resources: &Resources, limits: &ResourceLimits) -> Option<(u64, Option<u64>)> {
    let soft = resources.mem()?.max(cgroups::memory::MIN_MEMORY);
    let hard = match limits.get("mem").map(|l| l.value) {
        Some(limit) if limit.is_infinite() => None,
        Some(limit) => Some(((limit as u64) << 20).max(cgroups::memory::MIN_MEMORY)),
        None => Some(soft),
    };
    Some((soft, hard))
}

/// Upstream's `calculateOOMScoreAdj`: a container using its whole
/// `request` of `total` memory scores about 1000 with this adjustment.
fn oom_score_adj(request: u64, total: u64) -> i64 {
    let share = (u128::from(request) * 1000) / u128::from(total.max(1));
    1000 - i64::try_from(share).unwrap_or(1000)
}

/// What the cgroups isolators share.
#[derive(Debug, Clone)]
pub struct CgroupsConfig {
    /// The detected hierarchy (v1 mounts or the v2 root), found under
    /// `mount_root`.
    pub hierarchy: Hierarchy,
    /// `--cgroups_hierarchy`: where the hierarchies are mounted.
    pub mount_root: PathBuf,
    /// `--cgroups_root`, relative to each hierarchy.
    pub root: String,
    /// `--cgroups_enable_cfs`.
    pub enable_cfs: bool,
    /// `--cgroups_limit_swap`.
    pub limit_swap: bool,
    /// `--revocable_cpu_low_priority`.
    pub revocable_cpu_low_priority: bool,
    /// `--allowed_devices`, as devices-cgroup entries (`c 195:* rwm`).
    pub allowed_devices: Vec<String>,
    /// Whether the launcher is `linux` (its freezer cgroup is mounted in
    /// an image rootfs beside the isolators', see [`mounts`]).
    pub linux_launcher: bool,
    /// `--cgroups_destroy_timeout`: how long removing a cgroup may take.
    pub destroy_timeout: Duration,
    /// `--cgroups_cpu_enable_pids_and_tids_count`: `cgroups/cpu` reports
    /// the container's processes and threads.
    pub cpu_pids_and_tids_count: bool,
    /// `--cgroups_net_cls_primary_handle` and
    /// `--cgroups_net_cls_secondary_handles` (`cgroups/net_cls`).
    pub net_cls: net_cls::NetClsFlags,
    /// `--perf_events`, `--perf_interval`, `--perf_duration`
    /// (`cgroups/perf_event`).
    pub perf: perf_event::PerfFlags,
}

impl CgroupsConfig {
    /// The cgroup of a container, relative to a hierarchy (upstream
    /// `containerizer::paths::getCgroupPath`): `<root>/<id>`, and for a
    /// nested container `<root>/<parent>/mesos/<child>`, as the linux
    /// launcher lays out its own.
    pub fn cgroup(&self, container_id: &str) -> String {
        crate::containerizer::mesos::launcher::linux::container_cgroup(&self.root, container_id)
    }
}

/// Whether a container with `container_info` shares its parent's cgroups
/// (`LinuxInfo.share_cgroups`, true unless set to false). Only matters for
/// nested containers.
fn shares_cgroups(container_info: Option<&mesos_proto::mesos::ContainerInfo>) -> bool {
    container_info
        .and_then(|c| c.linux_info.as_ref())
        .and_then(|l| l.share_cgroups)
        .unwrap_or(true)
}

/// Which controllers an isolator drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsystem {
    /// `cgroups/cpu` (cpu and cpuacct).
    Cpu,
    /// `cgroups/mem`.
    Mem,
    /// `cgroups/pids`.
    Pids,
    /// `cgroups/devices` (v1 only: v2 controls devices with eBPF).
    Devices,
    /// `cgroups/blkio` (v2: `io`): block I/O accounting.
    Blkio,
    /// `cgroups/cpuset`: a cpuset cgroup, its `cpus` and `mems` those of
    /// its parent (upstream sets nothing more).
    Cpuset,
    /// `cgroups/hugetlb`: the cgroup only, as upstream.
    Hugetlb,
    /// `cgroups/net_cls`: the cgroup, and with
    /// `--cgroups_net_cls_primary_handle` a class id ([`net_cls`]).
    NetCls,
    /// `cgroups/net_prio`: the cgroup only, as upstream.
    NetPrio,
    /// `cgroups/perf_event`: the cgroup, and with `--perf_events` its
    /// `perf stat` samples ([`perf_event`]).
    PerfEvent,
}

impl Subsystem {
    fn name(self) -> &'static str {
        match self {
            Subsystem::Cpu => "cgroups/cpu",
            Subsystem::Mem => "cgroups/mem",
            Subsystem::Pids => "cgroups/pids",
            Subsystem::Devices => "cgroups/devices",
            Subsystem::Blkio => "cgroups/blkio",
            Subsystem::Cpuset => "cgroups/cpuset",
            Subsystem::Hugetlb => "cgroups/hugetlb",
            Subsystem::NetCls => "cgroups/net_cls",
            Subsystem::NetPrio => "cgroups/net_prio",
            Subsystem::PerfEvent => "cgroups/perf_event",
        }
    }

    /// The v1 controllers (one hierarchy each).
    fn v1_controllers(self) -> &'static [&'static str] {
        match self {
            Subsystem::Cpu => &["cpu", "cpuacct"],
            Subsystem::Mem => &["memory"],
            Subsystem::Pids => &["pids"],
            Subsystem::Devices => &["devices"],
            Subsystem::Blkio => &["blkio"],
            Subsystem::Cpuset => &["cpuset"],
            Subsystem::Hugetlb => &["hugetlb"],
            Subsystem::NetCls => &["net_cls"],
            Subsystem::NetPrio => &["net_prio"],
            Subsystem::PerfEvent => &["perf_event"],
        }
    }

    /// The v2 controller.
    fn v2_controller(self) -> &'static str {
        match self {
            Subsystem::Cpu => "cpu",
            Subsystem::Mem => "memory",
            Subsystem::Pids => "pids",
            Subsystem::Devices => "devices",
            Subsystem::Blkio => "io",
            Subsystem::Cpuset => "cpuset",
            Subsystem::Hugetlb => "hugetlb",
            Subsystem::NetCls => "net_cls",
            Subsystem::NetPrio => "net_prio",
            Subsystem::PerfEvent => "perf_event",
        }
    }
}

/// Every subsystem with an isolator, in upstream's order of names.
const SUBSYSTEMS: [Subsystem; 10] = [
    Subsystem::Blkio,
    Subsystem::Cpu,
    Subsystem::Cpuset,
    Subsystem::Devices,
    Subsystem::Hugetlb,
    Subsystem::Mem,
    Subsystem::NetCls,
    Subsystem::NetPrio,
    Subsystem::PerfEvent,
    Subsystem::Pids,
];

/// The isolators `cgroups/all` stands for on `hierarchy`, as upstream's
/// `CgroupsIsolatorProcess::create` and `Cgroups2IsolatorProcess::create`
/// choose them: on v1 every subsystem with an isolator whose controllers
/// the kernel all enables (`enabled`, from `/proc/cgroups`; `cgroups/cpu`
/// needs `cpu` and `cpuacct`), mounted or not ([`prepare`] mounts them);
/// on v2 every one whose controller the root's `cgroup.controllers`
/// offers (v2 has no `devices`, `net_cls` or `net_prio` controller).
pub fn all(hierarchy: &Hierarchy, enabled: &[String]) -> Vec<&'static str> {
    match hierarchy {
        Hierarchy::V1(_) => SUBSYSTEMS
            .iter()
            .filter(|s| {
                s.v1_controllers()
                    .iter()
                    .all(|c| enabled.iter().any(|e| e == c))
            })
            .map(|s| s.name())
            .collect(),
        Hierarchy::V2(root) => {
            let available = cgroups2::available_controllers(root, "").unwrap_or_default();
            SUBSYSTEMS
                .iter()
                .filter(|s| {
                    !matches!(
                        s,
                        Subsystem::Devices | Subsystem::NetCls | Subsystem::NetPrio
                    )
                })
                .filter(|s| available.iter().any(|c| c == s.v2_controller()))
                .map(|s| s.name())
                .collect()
        }
    }
}

/// One cgroups isolator.
#[derive(Debug)]
pub struct CgroupsIsolator {
    subsystem: Subsystem,
    config: Arc<CgroupsConfig>,
    /// The containers it isolates, with their resources.
    containers: Arc<Mutex<HashMap<String, Info>>>,
    /// Recovered containers without a cgroup in this subsystem's
    /// hierarchy: launched before the agent had this isolator (upstream
    /// `ROOT_CGROUPS_MemoryForward`). As upstream, they are left alone:
    /// no limits, no usage, no watch.
    absent: Arc<Mutex<HashSet<String>>>,
    /// `cgroups/mem` on v1: each container's memory pressure counters
    /// (low, medium, critical), registered when its cgroup is made or
    /// recovered, read by `usage`.
    pressure: Arc<Mutex<PressureCounters>>,
    /// `cgroups/net_cls`: the handle manager and each container's handle.
    net_cls: Option<Arc<Mutex<net_cls::NetClsState>>>,
    /// `cgroups/perf_event`: each container's latest `perf` sample.
    perf: Option<Arc<perf_event::PerfEvent>>,
}

/// What a cgroups isolator knows of a container (upstream's per-container
/// `Info`).
#[derive(Debug, Clone, Default)]
struct Info {
    /// Its resource requests.
    requests: Vec<Resource>,
    /// Its resource limits (`cpus`, `mem`; possibly infinite).
    limits: ResourceLimits,
    /// Whether it runs a command task (its config has a `task_info`).
    command_task: bool,
}

/// The memory pressure counters of each container.
type PressureCounters = HashMap<String, Vec<cgroups::memory::pressure::Counter>>;

impl CgroupsIsolator {
    /// The isolator for `subsystem`; refuses when the machine has no
    /// hierarchy for it.
    pub fn new(
        subsystem: Subsystem,
        config: Arc<CgroupsConfig>,
    ) -> std::result::Result<Self, String> {
        match &config.hierarchy {
            Hierarchy::V1(hierarchies) => {
                for controller in subsystem.v1_controllers() {
                    if hierarchies.get(controller).is_none() {
                        return Err(format!(
                            "failed to create isolator '{}': the '{controller}' cgroup \
                             controller is not mounted under --cgroups_hierarchy '{}'",
                            subsystem.name(),
                            config.mount_root.display()
                        ));
                    }
                }
            }
            Hierarchy::V2(_) if matches!(subsystem, Subsystem::NetCls | Subsystem::NetPrio) => {
                return Err(format!(
                    "failed to create isolator '{}': cgroup v2 has no '{}' controller",
                    subsystem.name(),
                    subsystem.v2_controller()
                ));
            }
            // v2 has no devices controller: a device program does its work
            // (checked by loading one now, so a kernel without BPF cgroup
            // device programs is refused at start-up).
            Hierarchy::V2(_) if subsystem == Subsystem::Devices => {
                let rules = device_rules(&config.allowed_devices)
                    .map_err(|e| format!("failed to create isolator 'cgroups/devices': {e}"))?;
                crate::linux::devices_bpf::load(&rules)
                    .map_err(|e| format!("failed to create isolator 'cgroups/devices': {e}"))?;
            }
            Hierarchy::V2(root) => {
                let available = cgroups2::available_controllers(root, "").unwrap_or_default();
                if !available.iter().any(|c| c == subsystem.v2_controller()) {
                    return Err(format!(
                        "failed to create isolator '{}': the '{}' controller is not available \
                         in the cgroup v2 hierarchy at '{}'",
                        subsystem.name(),
                        subsystem.v2_controller(),
                        root.display()
                    ));
                }
            }
        }
        let failed = |e: String| format!("failed to create isolator '{}': {e}", subsystem.name());
        let net_cls = match subsystem {
            Subsystem::NetCls => Some(Arc::new(Mutex::new(net_cls::NetClsState {
                manager: config.net_cls.manager().map_err(failed)?,
                ..Default::default()
            }))),
            _ => None,
        };
        let perf = match subsystem {
            Subsystem::PerfEvent => Some(Arc::new(
                perf_event::PerfEvent::create(&config.perf).map_err(failed)?,
            )),
            _ => None,
        };
        Ok(Self {
            subsystem,
            config,
            containers: Arc::default(),
            absent: Arc::default(),
            pressure: Arc::default(),
            net_cls,
            perf,
        })
    }

    fn net_cls_state(&self) -> Option<std::sync::MutexGuard<'_, net_cls::NetClsState>> {
        self.net_cls
            .as_ref()
            .map(|state| state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn absent(&self, container_id: &str) -> bool {
        self.absent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(container_id)
    }

    fn containers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Info>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The container whose cgroups `container_id` lives in (upstream's
    /// `findCgroupInfo`): itself when it has cgroups of its own, else its
    /// nearest ancestor that has, else its root container.
    fn owner(&self, container_id: &str) -> String {
        let containers = self.containers();
        std::iter::successors(Some(container_id), |id| crate::containerizer::parent(id))
            .find(|id| containers.contains_key(*id))
            .unwrap_or_else(|| container_id.split('.').next().unwrap_or_default())
            .to_string()
    }

    /// Runs `f` off the actor with the subsystem's view of the machine.
    fn blocking<T: Send + 'static>(
        &self,
        container_id: &str,
        f: impl FnOnce(&Ops) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T>> {
        let ops = Ops {
            subsystem: self.subsystem,
            config: self.config.clone(),
            cgroup: self.config.cgroup(container_id),
            nested: container_id.contains('.'),
        };
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&ops))
                .await
                .map_err(IsolatorError::new)?
        })
    }
}

/// The container ids with a cgroup under `--cgroups_root` in the
/// hierarchies of `subsystem` that are not in `known` (upstream's unknown
/// orphans), sorted: top-level containers, and nested ones with cgroups of
/// their own (`<root>/<parent>/mesos/<child>`) under a known parent (an
/// unknown parent's destroy takes its nested cgroups along). On v2
/// the unified hierarchy holds the launcher's cgroup too, so the launcher
/// already reports each of them as an orphan: none is unknown.
fn unknown_orphans(
    subsystem: Subsystem,
    config: &CgroupsConfig,
    known: &HashSet<String>,
) -> Result<Vec<String>> {
    let Hierarchy::V1(hierarchies) = &config.hierarchy else {
        return Ok(Vec::new());
    };
    let mut found = std::collections::BTreeSet::new();
    for controller in subsystem.v1_controllers() {
        let hierarchy = hierarchies
            .require(controller)
            .map_err(IsolatorError::new)?;
        let root = cgroups::path(hierarchy, config.root.trim_matches('/'));
        let entries = match std::fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(IsolatorError(format!(
                    "failed to list cgroups under '{}': {error}",
                    root.display()
                )))
            }
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            // The agent's own cgroup (upstream `--slave_subsystems`,
            // MESOS-1185).
            if name == "slave" {
                continue;
            }
            if !known.contains(&name) {
                found.insert(name);
                continue;
            }
            let children = std::fs::read_dir(entry.path().join("mesos"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|child| child.file_type().is_ok_and(|t| t.is_dir()));
            for child in children {
                let id = format!("{name}.{}", child.file_name().to_string_lossy());
                if !known.contains(&id) {
                    found.insert(id);
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The blocking cgroup work for one container.
struct Ops {
    subsystem: Subsystem,
    config: Arc<CgroupsConfig>,
    cgroup: String,
    /// Whether the container is a nested one (with cgroups of its own).
    nested: bool,
}

impl Ops {
    /// The v1 hierarchy of `controller`.
    fn v1(&self, controller: &str) -> Result<PathBuf> {
        match &self.config.hierarchy {
            Hierarchy::V1(hierarchies) => hierarchies
                .require(controller)
                .map(PathBuf::from)
                .map_err(IsolatorError::new),
            Hierarchy::V2(_) => Err(IsolatorError("not a cgroup v1 hierarchy".into())),
        }
    }

    /// Whether the container's cgroup is in every hierarchy it needs.
    fn exists(&self) -> bool {
        match &self.config.hierarchy {
            Hierarchy::V1(hierarchies) => self.subsystem.v1_controllers().iter().all(|c| {
                hierarchies
                    .require(c)
                    .is_ok_and(|h| cgroups::path(h, &self.cgroup).is_dir())
            }),
            Hierarchy::V2(root) => root.join(&self.cgroup).is_dir(),
        }
    }

    fn create(&self) -> Result<()> {
        match &self.config.hierarchy {
            Hierarchy::V1(_) => {
                for controller in self.subsystem.v1_controllers() {
                    cgroups::create(&self.v1(controller)?, &self.cgroup)
                        .map_err(IsolatorError::new)?;
                }
            }
            // A nested container's cgroup inherits its parent's program.
            Hierarchy::V2(root) if self.subsystem == Subsystem::Devices && self.nested => {
                cgroups2::create(root, &self.cgroup).map_err(IsolatorError::new)?;
            }
            Hierarchy::V2(root) if self.subsystem == Subsystem::Devices => {
                // The cgroup, and the program that allows what the v1
                // whitelist would; it goes with the cgroup.
                cgroups2::create(root, &self.process_cgroup()).map_err(IsolatorError::new)?;
                let rules =
                    device_rules(&self.config.allowed_devices).map_err(IsolatorError::new)?;
                crate::linux::devices_bpf::attach(&root.join(&self.cgroup), &rules)
                    .map_err(IsolatorError::new)?;
            }
            Hierarchy::V2(root) => {
                // The cgroup (and its ancestors, and its leaf) first, then
                // the controller enabled from the root down to its parent:
                // for a nested container, in its parent's cgroup too, which
                // holds no processes (they are in its leaf).
                cgroups2::create(root, &self.process_cgroup()).map_err(IsolatorError::new)?;
                cgroups2::enable_controllers_along_path(
                    root,
                    &self.cgroup,
                    &[self.subsystem.v2_controller()],
                )
                .map_err(|error| {
                    IsolatorError(format!(
                        "failed to enable the '{}' controller for cgroup '{}': {error}{}",
                        self.subsystem.v2_controller(),
                        self.cgroup,
                        if self.nested {
                            " (its parent's processes must be in its leaf cgroup)"
                        } else {
                            ""
                        }
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Gives the container's cgroup directories (v1), not their control
    /// files, to `user`: the task can make cgroups of its own beneath, but
    /// cannot change its limits (upstream's prepare does the same).
    fn chown(&self, user: &str) -> Result<()> {
        let paths: Vec<PathBuf> = match &self.config.hierarchy {
            Hierarchy::V1(_) => self
                .subsystem
                .v1_controllers()
                .iter()
                .map(|controller| Ok(cgroups::path(&self.v1(controller)?, &self.cgroup)))
                .collect::<Result<_>>()?,
            // v2 (beyond upstream, which has no v2 isolator): the kernel's
            // delegation, the directory and the files that move processes
            // and enable controllers below it; the limits stay root's.
            Hierarchy::V2(root) => {
                let cgroup = cgroups2::path(root, &self.cgroup);
                std::iter::once(cgroup.clone())
                    .chain(
                        ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"]
                            .iter()
                            .map(|file| cgroup.join(file))
                            .filter(|file| file.exists()),
                    )
                    .collect()
            }
        };
        for path in paths {
            crate::containerizer::mesos::launch::chown(&path, user).map_err(|error| {
                IsolatorError(format!(
                    "failed to chown the cgroup at '{}' to user '{user}': {error}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }

    /// Counters of the memory pressure events of the cgroup at every
    /// level (upstream's memory subsystem listens to them all); only
    /// `cgroups/mem` on v1 has them. A level that cannot be listened to is
    /// left out, as upstream.
    fn listen_pressure(&self) -> Vec<cgroups::memory::pressure::Counter> {
        use cgroups::memory::pressure::{Counter, Level};
        if self.subsystem != Subsystem::Mem {
            return Vec::new();
        }
        let Ok(memory) = self.v1("memory") else {
            return Vec::new();
        };
        Level::ALL
            .into_iter()
            .filter_map(|level| match Counter::new(&memory, &self.cgroup, level) {
                Ok(counter) => Some(counter),
                Err(error) => {
                    tracing::warn!(
                        cgroup = %self.cgroup,
                        level = level.as_str(),
                        %error,
                        "Failed to listen on memory pressure events"
                    );
                    None
                }
            })
            .collect()
    }

    fn assign(&self, pid: u32) -> Result<()> {
        let pid = libc::pid_t::try_from(pid).map_err(IsolatorError::new)?;
        match &self.config.hierarchy {
            Hierarchy::V1(_) => {
                for controller in self.subsystem.v1_controllers() {
                    cgroups::assign(&self.v1(controller)?, &self.cgroup, pid)
                        .map_err(IsolatorError::new)?;
                }
            }
            Hierarchy::V2(root) => {
                let cgroup = self.process_cgroup();
                cgroups2::create(root, &cgroup).map_err(IsolatorError::new)?;
                cgroups2::assign(root, &cgroup, pid).map_err(IsolatorError::new)?;
            }
        }
        Ok(())
    }

    /// On v2, where the container's processes go: a top-level container's
    /// leaf ([`cgroups2::LEAF`]), a nested container's own cgroup.
    fn process_cgroup(&self) -> String {
        if self.nested {
            self.cgroup.clone()
        } else {
            format!("{}/{}", self.cgroup, cgroups2::LEAF)
        }
    }

    /// Whether the container's cpus get the revocable priority: with
    /// `--revocable_cpu_low_priority`, as soon as any of its cpus are
    /// revocable, all of them are weighed as revocable (as upstream).
    fn low_priority(&self, resources: &Resources) -> bool {
        self.config.revocable_cpu_low_priority && resources.revocable().cpus().is_some()
    }

    /// Applies the limits of `resources` and `limits`; `first` when the
    /// container's limits are set for the first time (at `isolate`), not
    /// updated.
    fn apply(&self, resources: &[Resource], limits: &ResourceLimits, first: bool) -> Result<()> {
        let resources = Resources::from(resources.to_vec());
        let cpu_limit = limits.get("cpus").map(|l| l.value);
        let v2 = |root: &PathBuf| root.clone();
        match (self.subsystem, &self.config.hierarchy) {
            (Subsystem::Cpu, Hierarchy::V1(_)) => {
                let Some(cpus) = resources.cpus() else {
                    return Ok(());
                };
                let cpu = self.v1("cpu")?;
                let shares = if self.low_priority(&resources) {
                    cgroups::cpu::revocable_shares_for_cpus(cpus)
                } else {
                    cgroups::cpu::shares_for_cpus(cpus)
                };
                cgroups::cpu::set_shares(&cpu, &self.cgroup, shares).map_err(IsolatorError::new)?;
                // A cpu limit sets the quota even without CFS enabled, as
                // upstream; an infinite one removes it.
                if cpu_limit.is_some() || self.config.enable_cfs {
                    cgroups::cpu::set_cfs_period(&cpu, &self.cgroup, cgroups::cpu::CPU_CFS_PERIOD)
                        .map_err(IsolatorError::new)?;
                    let quota = match cpu_limit {
                        Some(limit) if limit.is_infinite() => None,
                        limit => Some(cgroups::cpu::cfs_quota_for_cpus(limit.unwrap_or(cpus))),
                    };
                    cgroups::cpu::set_cfs_quota(&cpu, &self.cgroup, quota)
                        .map_err(IsolatorError::new)?;
                }
            }
            (Subsystem::Cpu, Hierarchy::V2(root)) => {
                let Some(cpus) = resources.cpus() else {
                    return Ok(());
                };
                let root = v2(root);
                let weight = if self.low_priority(&resources) {
                    cgroups2::cpu::revocable_weight_for_cpus(cpus)
                } else {
                    cgroups2::cpu::weight_for_cpus(cpus)
                };
                cgroups2::cpu::set_weight(&root, &self.cgroup, weight)
                    .map_err(IsolatorError::new)?;
                let limit = match cpu_limit {
                    Some(limit) if limit.is_infinite() => {
                        cgroups2::cpu::BandwidthLimit::unlimited()
                    }
                    Some(limit) => cgroups2::cpu::BandwidthLimit::for_cpus(limit),
                    None if self.config.enable_cfs => cgroups2::cpu::BandwidthLimit::for_cpus(cpus),
                    None => cgroups2::cpu::BandwidthLimit::unlimited(),
                };
                cgroups2::cpu::set_max(&root, &self.cgroup, limit).map_err(IsolatorError::new)?;
            }
            (Subsystem::Mem, Hierarchy::V1(_)) => {
                let Some((soft, hard)) = memory_limits(&resources, limits) else {
                    return Ok(());
                };
                let memory = self.v1("memory")?;
                cgroups::memory::set_soft_limit_in_bytes(&memory, &self.cgroup, Some(soft))
                    .map_err(IsolatorError::new)?;
                let set_limit = || {
                    cgroups::memory::set_limit_in_bytes(&memory, &self.cgroup, hard)
                        .map_err(IsolatorError::new)
                };
                let set_memsw = || {
                    if self.config.limit_swap {
                        cgroups::memory::set_memsw_limit_in_bytes(&memory, &self.cgroup, hard)
                            .map_err(IsolatorError::new)?;
                    }
                    Ok::<_, IsolatorError>(())
                };
                // The kernel wants limit <= memsw (MESOS-7237): the first
                // time (a lowering from unlimited) the limit goes first; a
                // raise sets memsw first. A lower hard limit is never set
                // after the first time, as upstream: it could OOM the
                // container; only the soft limit follows it down.
                if first {
                    set_limit()?;
                    set_memsw()?;
                } else {
                    let current = cgroups::memory::limit_in_bytes(&memory, &self.cgroup)
                        .map_err(IsolatorError::new)?;
                    if hard.is_none_or(|hard| hard > current) {
                        set_memsw()?;
                        set_limit()?;
                    }
                }
            }
            (Subsystem::Mem, Hierarchy::V2(root)) => {
                let Some((soft, hard)) = memory_limits(&resources, limits) else {
                    return Ok(());
                };
                let root = v2(root);
                cgroups2::memory::set_low(&root, &self.cgroup, soft).map_err(IsolatorError::new)?;
                // As on v1: the hard limit is only ever raised after the
                // first time.
                let current =
                    cgroups2::memory::max(&root, &self.cgroup).map_err(IsolatorError::new)?;
                let raised = match (hard, current) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(hard), Some(current)) => hard > current,
                };
                if first || raised {
                    cgroups2::memory::set_max(&root, &self.cgroup, hard)
                        .map_err(IsolatorError::new)?;
                }
                if self.config.limit_swap {
                    cgroups2::memory::set_swap_max(&root, &self.cgroup, Some(0))
                        .map_err(IsolatorError::new)?;
                }
            }
            (Subsystem::Pids, _) => {}
            (Subsystem::Devices, Hierarchy::V1(_)) => {
                let devices = self.v1("devices")?;
                cgroups::write(&devices, &self.cgroup, "devices.deny", "a")
                    .map_err(IsolatorError::new)?;
                for entry in DEFAULT_WHITELIST
                    .iter()
                    .copied()
                    .chain(self.config.allowed_devices.iter().map(String::as_str))
                {
                    cgroups::write(&devices, &self.cgroup, "devices.allow", entry)
                        .map_err(IsolatorError::new)?;
                }
            }
            (Subsystem::Devices, Hierarchy::V2(_)) => {}
            (Subsystem::Blkio, _) => {}
            (
                Subsystem::Cpuset
                | Subsystem::Hugetlb
                | Subsystem::NetCls
                | Subsystem::NetPrio
                | Subsystem::PerfEvent,
                _,
            ) => {}
        }
        Ok(())
    }

    /// `cgroups/mem` for a command task whose memory limit is above its
    /// request: sets the OOM score adjustment of `pid` (inherited by the
    /// task) so that the kernel kills such burstable containers first, as
    /// upstream's `MemorySubsystemProcess::isolate`: `1000 - 1000 × request
    /// / total memory`. Containers without a higher limit keep 0.
    fn adjust_oom_score(
        &self,
        resources: &[Resource],
        limits: &ResourceLimits,
        pid: u32,
    ) -> Result<()> {
        if self.subsystem != Subsystem::Mem {
            return Ok(());
        }
        let resources = Resources::from(resources.to_vec());
        let Some((soft, hard)) = memory_limits(&resources, limits) else {
            return Ok(());
        };
        if hard.is_some_and(|hard| hard <= soft) {
            return Ok(());
        }
        let total = crate::resources::memory_total().ok_or_else(|| {
            IsolatorError("failed to calculate the OOM score adjustment: no total memory".into())
        })?;
        let adjustment = oom_score_adj(soft, total);
        let path = format!("/proc/{pid}/oom_score_adj");
        std::fs::write(&path, adjustment.to_string()).map_err(|error| {
            IsolatorError(format!(
                "failed to set the OOM score adjustment in '{path}': {error}"
            ))
        })?;
        tracing::info!(cgroup = %self.cgroup, pid, adjustment, "Set the OOM score adjustment");
        Ok(())
    }

    fn usage(&self) -> Result<ResourceStatistics> {
        let mut stats = ResourceStatistics::default();
        match (self.subsystem, &self.config.hierarchy) {
            (Subsystem::Cpu, Hierarchy::V1(_)) => {
                let stat = cgroups::cpuacct::stat(&self.v1("cpuacct")?, &self.cgroup)
                    .map_err(IsolatorError::new)?;
                statistics::apply_cpuacct(&mut stats, &stat);
                if self.config.enable_cfs {
                    let stat = cgroups::cpu::stat(&self.v1("cpu")?, &self.cgroup)
                        .map_err(IsolatorError::new)?;
                    statistics::apply_cfs(&mut stats, &stat);
                }
                if self.config.cpu_pids_and_tids_count {
                    self.count_v1(&mut stats, "cpu")?;
                }
            }
            (Subsystem::Cpu, Hierarchy::V2(root)) => {
                let stat = cgroups2::cpu::stat(root, &self.cgroup).map_err(IsolatorError::new)?;
                statistics::apply_cpu_v2(&mut stats, &stat);
                if self.config.cpu_pids_and_tids_count {
                    self.count_v2(&mut stats, root)?;
                }
            }
            (Subsystem::Mem, Hierarchy::V1(_)) => {
                let memory = self.v1("memory")?;
                let usage = cgroups::memory::usage_in_bytes(&memory, &self.cgroup)
                    .map_err(IsolatorError::new)?;
                let stat =
                    cgroups::memory::stat(&memory, &self.cgroup).map_err(IsolatorError::new)?;
                statistics::apply_memory_v1(&mut stats, usage, &stat);
                if self.config.limit_swap {
                    stats.mem_total_memsw_bytes =
                        cgroups::memory::memsw_usage_in_bytes(&memory, &self.cgroup)
                            .map_err(IsolatorError::new)?;
                }
            }
            (Subsystem::Mem, Hierarchy::V2(root)) => {
                let current =
                    cgroups2::memory::current(root, &self.cgroup).map_err(IsolatorError::new)?;
                let swap = cgroups2::memory::swap_current(root, &self.cgroup).unwrap_or(None);
                let stat =
                    cgroups2::memory::stat(root, &self.cgroup).map_err(IsolatorError::new)?;
                statistics::apply_memory_v2(&mut stats, current, swap, &stat);
            }
            (Subsystem::Pids, Hierarchy::V1(_)) => self.count_v1(&mut stats, "pids")?,
            (Subsystem::Devices, _) => {}
            (
                Subsystem::Cpuset
                | Subsystem::Hugetlb
                | Subsystem::NetCls
                | Subsystem::NetPrio
                | Subsystem::PerfEvent,
                _,
            ) => {}
            (Subsystem::Blkio, Hierarchy::V1(_)) => {
                let blkio = self.v1("blkio")?;
                let read = |control: &str| {
                    cgroups::blkio::values(&blkio, &self.cgroup, control).unwrap_or_default()
                };
                stats.blkio_statistics = Some(throttling_v1(
                    &read("blkio.throttle.io_serviced"),
                    &read("blkio.throttle.io_service_bytes"),
                ));
            }
            (Subsystem::Blkio, Hierarchy::V2(root)) => {
                let stat =
                    cgroups2::io_stat::stat(root, &self.cgroup).map_err(IsolatorError::new)?;
                stats.blkio_statistics = Some(throttling_v2(&stat));
            }
            (Subsystem::Pids, Hierarchy::V2(root)) => self.count_v2(&mut stats, root)?,
        }
        Ok(stats)
    }

    /// `processes` and `threads`: the cgroup's in the v1 hierarchy of
    /// `controller`.
    fn count_v1(&self, stats: &mut ResourceStatistics, controller: &str) -> Result<()> {
        let hierarchy = self.v1(controller)?;
        let processes = cgroups::processes(&hierarchy, &self.cgroup).map_err(IsolatorError::new)?;
        let threads = cgroups::threads(&hierarchy, &self.cgroup).map_err(IsolatorError::new)?;
        stats.processes = u32::try_from(processes.len()).ok();
        stats.threads = u32::try_from(threads.len()).ok();
        Ok(())
    }

    /// `processes` and `threads` on v2: the cgroup's, its leaf's and its
    /// nested containers'.
    fn count_v2(&self, stats: &mut ResourceStatistics, root: &std::path::Path) -> Result<()> {
        let processes =
            cgroups2::processes_recursive(root, &self.cgroup).map_err(IsolatorError::new)?;
        let mut threads = cgroups2::threads(root, &self.cgroup).map_err(IsolatorError::new)?;
        for nested in cgroups2::nested(root, &self.cgroup).map_err(IsolatorError::new)? {
            threads.extend(cgroups2::threads(root, &nested).map_err(IsolatorError::new)?);
        }
        stats.processes = u32::try_from(processes.len()).ok();
        stats.threads = u32::try_from(threads.len()).ok();
        Ok(())
    }

    fn destroy(&self) -> Result<()> {
        match &self.config.hierarchy {
            Hierarchy::V1(_) => {
                // A removed cgroup stays among its parent's children until
                // the kernel takes it offline, which waits for its exited
                // processes to be reaped (orphans, by init, possibly
                // seconds later). Until then the kernel refuses the parent
                // a CFS quota below the child's, and the agent lowers the
                // executor's right after one of its tasks ends: a nested
                // cgroup gives up its quota first.
                if self.subsystem == Subsystem::Cpu && self.nested {
                    let cpu = self.v1("cpu")?;
                    if cgroups::has_control(&cpu, &self.cgroup, "cpu.cfs_quota_us") {
                        if let Err(error) = cgroups::cpu::set_cfs_quota(&cpu, &self.cgroup, None) {
                            tracing::warn!(cgroup = %self.cgroup, %error, "Failed to remove the CFS quota");
                        }
                    }
                }
                for controller in self.subsystem.v1_controllers() {
                    cgroups::destroy(
                        &self.v1(controller)?,
                        &self.cgroup,
                        self.config.destroy_timeout,
                    )
                    .map_err(IsolatorError::new)?;
                }
            }
            Hierarchy::V2(root) => {
                cgroups2::destroy(root, &self.cgroup, self.config.destroy_timeout)
                    .map_err(IsolatorError::new)?;
            }
        }
        Ok(())
    }

    /// Reads the cgroup's `net_cls.classid` (0: none).
    fn net_cls_classid(&self) -> Result<u32> {
        cgroups::net_cls::classid(&self.v1("net_cls")?, &self.cgroup).map_err(|e| {
            IsolatorError(format!(
                "Failed to recover the net_cls handle: Failed to read 'net_cls.classid': {e}"
            ))
        })
    }

    /// Writes the container's class id to its cgroup.
    fn set_net_cls_classid(&self, handle: net_cls::NetClsHandle) -> Result<()> {
        cgroups::net_cls::set_classid(&self.v1("net_cls")?, &self.cgroup, handle.classid()).map_err(
            |e| {
                IsolatorError(format!(
                    "Failed to assign a net_cls handle to the cgroup: {e}"
                ))
            },
        )
    }

    /// Blocks until the kernel OOM-kills in the cgroup; `None` when the
    /// cgroup went away first (cleanup) or cannot be watched.
    fn wait_oom(&self) -> Option<ContainerLimitation> {
        let outcome = match &self.config.hierarchy {
            Hierarchy::V1(_) => {
                let memory = self.v1("memory").ok()?;
                let listener = cgroups::memory::oom::Listener::new(&memory, &self.cgroup).ok()?;
                listener.wait().ok()?
            }
            Hierarchy::V2(root) => {
                let mut watcher = cgroups2::memory::OomWatcher::local(root, &self.cgroup)
                    .ok()?
                    .with_interval(Duration::from_millis(100));
                watcher.wait().ok()?
            }
        };
        if outcome != OomOutcome::Oom {
            return None;
        }
        Some(self.oom_limitation())
    }

    /// Whether the kernel OOM-killed in the cgroup (v2 `memory.events`
    /// `oom_kill`; v1 `memory.oom_control` `oom_kill`, kernels ≥ 4.13).
    fn oom_happened(&self) -> bool {
        match &self.config.hierarchy {
            Hierarchy::V1(_) => self
                .v1("memory")
                .ok()
                .and_then(|memory| cgroups::stat(&memory, &self.cgroup, "memory.oom_control").ok())
                .and_then(|stat| stat.get("oom_kill").copied())
                .is_some_and(|kills| kills > 0),
            // The OOMs of its own limit: a nested cgroup's count in its
            // parent's `memory.events` too.
            Hierarchy::V2(root)
                if cgroups2::has_control(root, &self.cgroup, "memory.events.local") =>
            {
                cgroups2::memory::events_local(root, &self.cgroup)
                    .is_ok_and(|events| events.oom > 0)
            }
            Hierarchy::V2(root) => {
                cgroups2::memory::events(root, &self.cgroup).is_ok_and(|events| events.oom_kill > 0)
            }
        }
    }

    /// Upstream's limitation for an OOM: the memory limit as the limited
    /// resource, and "Memory limit exceeded: Requested: .. Maximum Used:
    /// .." followed by the cgroup's memory statistics.
    fn oom_limitation(&self) -> ContainerLimitation {
        let (limit, used, stat) = match &self.config.hierarchy {
            Hierarchy::V1(_) => {
                let memory = self.v1("memory").unwrap_or_default();
                (
                    cgroups::memory::limit_in_bytes(&memory, &self.cgroup).unwrap_or_default(),
                    cgroups::memory::max_usage_in_bytes(&memory, &self.cgroup).unwrap_or_default(),
                    cgroups::read(&memory, &self.cgroup, "memory.stat").unwrap_or_default(),
                )
            }
            Hierarchy::V2(root) => (
                cgroups2::memory::max(root, &self.cgroup)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                cgroups2::memory::peak(root, &self.cgroup)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                cgroups2::read(root, &self.cgroup, "memory.stat").unwrap_or_default(),
            ),
        };
        let message = format!(
            "Memory limit exceeded: Requested: {} Maximum Used: {}\n\nMEMORY STATISTICS: \n{stat}",
            bytes(limit),
            bytes(used)
        );
        let resources = Resources::parse(&format!("mem:{}", limit / (1024 * 1024)), "*")
            .map(|r| r.to_vec())
            .unwrap_or_default();
        ContainerLimitation {
            resources,
            message: Some(message),
            reason: Some(task_status::Reason::ContainerLimitationMemory as i32),
        }
    }
}

impl Isolator for CgroupsIsolator {
    fn name(&self) -> &'static str {
        self.subsystem.name()
    }

    /// A nested container shares the cgroups of its nearest ancestor with
    /// cgroups of its own (its root container, usually) unless its
    /// `ContainerInfo.linux_info.share_cgroups` is false: on v1 `isolate`
    /// puts its pid in that ancestor's cgroups; on v2 the launcher's
    /// nested cgroup already sits below the root's. A first-level nested
    /// container with `share_cgroups` false gets cgroups of its own below
    /// its parent's, `<root>/<parent>/mesos/<child>` (upstream 1.11),
    /// with limits from its own resources and limits, its own OOM watch
    /// and usage; v1 only (see `prepare`).
    fn supports_nesting(&self) -> bool {
        true
    }

    /// Upstream's `CgroupsIsolatorProcess::recover`: the checkpointed
    /// containers are known again (their cgroups and limits stay as they
    /// are); a cgroup under `--cgroups_root` in this subsystem's
    /// hierarchies that belongs neither to them nor to a known orphan is
    /// an unknown orphan (the agent died while destroying it, after the
    /// launcher's cgroup was gone), destroyed here. Known orphans are
    /// destroyed by the containerizer through `cleanup` (MESOS-2367). A
    /// recovered container without a cgroup here ("Couldn't find the
    /// cgroup") is left unisolated by this subsystem. Nested containers
    /// that share their parent's cgroups have nothing to recover; those
    /// with cgroups of their own (their checkpointed `ContainerInfo`
    /// says `share_cgroups: false`) are recovered as top-level ones.
    fn recover(
        &self,
        states: &[ContainerState],
        orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        let mut known: HashSet<String> = orphans.clone();
        {
            let mut containers = self.containers();
            for state in states {
                let id = crate::containerizer::container_id_string(&state.container_id);
                if id.contains('.') && shares_cgroups(state.container_info.as_ref()) {
                    continue;
                }
                let resources = state
                    .executor_info
                    .as_ref()
                    .map(|e| e.resources.clone())
                    .unwrap_or_default();
                // Limits come again with the agent's next update.
                let info = Info {
                    requests: resources,
                    ..Default::default()
                };
                containers.insert(id.clone(), info);
            }
            // Every checkpointed container is known, sharing ones too (a
            // hierarchy co-mounted with the launcher's freezer has their
            // cgroups).
            known.extend(
                states
                    .iter()
                    .map(|s| crate::containerizer::container_id_string(&s.container_id)),
            );
        }
        let (subsystem, config) = (self.subsystem, self.config.clone());
        let recovered: Vec<String> = states
            .iter()
            .map(|s| crate::containerizer::container_id_string(&s.container_id))
            .filter(|id| !id.contains('.') || self.containers().contains_key(id))
            .collect();
        let absent = self.absent.clone();
        let pressure = self.pressure.clone();
        let (net_cls, perf) = (self.net_cls.clone(), self.perf.clone());
        let known_orphans: Vec<String> = orphans.iter().cloned().collect();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // Upstream recovers the subsystems of known orphans too:
                // their class ids stay reserved until they are destroyed.
                if let Some(net_cls) = &net_cls {
                    for container_id in recovered.iter().chain(&known_orphans) {
                        let ops = Ops {
                            subsystem,
                            cgroup: config.cgroup(container_id),
                            config: config.clone(),
                            nested: container_id.contains('.'),
                        };
                        if ops.exists() {
                            let classid = ops.net_cls_classid()?;
                            net_cls
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .recover(container_id, classid)
                                .map_err(IsolatorError)?;
                        }
                    }
                }
                for container_id in recovered {
                    let ops = Ops {
                        subsystem,
                        cgroup: config.cgroup(&container_id),
                        config: config.clone(),
                        nested: container_id.contains('.'),
                    };
                    if ops.exists() {
                        if let Some(perf) = &perf {
                            perf.add(&container_id, &ops.cgroup);
                        }
                        let counters = ops.listen_pressure();
                        pressure
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(container_id.clone(), counters);
                    } else {
                        tracing::warn!(
                            %container_id,
                            isolator = subsystem.name(),
                            "Couldn't find the cgroup of a recovered container: not isolating it"
                        );
                        absent
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(container_id);
                    }
                }
                for container_id in unknown_orphans(subsystem, &config, &known)? {
                    tracing::info!(
                        %container_id,
                        isolator = subsystem.name(),
                        "Cleaning up unknown orphaned container"
                    );
                    let ops = Ops {
                        subsystem,
                        cgroup: config.cgroup(&container_id),
                        config: config.clone(),
                        nested: container_id.contains('.'),
                    };
                    if let Err(error) = ops.destroy() {
                        tracing::warn!(%container_id, %error, "Failed to destroy an orphan cgroup");
                    }
                }
                Ok(())
            })
            .await
            .map_err(IsolatorError::new)?
        })
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<mesos_proto::mesos::slave::ContainerLaunchInfo>>> {
        // A container with an image rootfs sees its cgroups there: its
        // own, or those it shares (its nearest ancestor's with cgroups).
        let shares = container_id.contains('.') && shares_cgroups(config.container_info.as_ref());
        let owner = if shares {
            self.owner(container_id)
        } else {
            container_id.to_string()
        };
        let launch_info =
            config
                .rootfs
                .as_deref()
                .map(|rootfs| mesos_proto::mesos::slave::ContainerLaunchInfo {
                    clone_namespaces: vec![libc::CLONE_NEWNS],
                    mounts: mounts::container_mounts(
                        self.subsystem,
                        &self.config,
                        container_id,
                        &owner,
                        std::path::Path::new(rootfs),
                    ),
                    ..Default::default()
                });
        if container_id.contains('.') {
            if shares {
                return ready(Ok(launch_info));
            }
            // Upstream's agent API refuses these before they get here.
            if container_id.matches('.').count() > 1 {
                return ready(Err(IsolatorError(
                    "2nd level or greater nested cgroups are not supported".into(),
                )));
            }
        }
        let info = Info {
            requests: config.resources.clone(),
            limits: config.limits.clone(),
            command_task: config.task_info.is_some(),
        };
        self.containers().insert(container_id.to_string(), info);
        if let Some(mut net_cls) = self.net_cls_state() {
            if let Err(error) = net_cls.allocate(container_id) {
                return ready(Err(IsolatorError(error)));
            }
        }
        if let Some(perf) = &self.perf {
            perf.add(container_id, &self.config.cgroup(container_id));
        }
        // A command task with an image runs its executor as root and its
        // command as the command's user: that user gets the cgroup. Else
        // the container's user does (none without --switch_user).
        let user = if config.task_info.is_some() && config.rootfs.is_some() {
            config
                .task_info
                .as_ref()
                .and_then(|task| task.command.as_ref())
                .and_then(|command| command.user.clone())
        } else {
            config.user.clone()
        };
        let create = self.blocking(container_id, move |ops| {
            ops.create()?;
            if let Some(user) = user.filter(|u| !u.is_empty()) {
                ops.chown(&user)?;
            }
            Ok(ops.listen_pressure())
        });
        let (pressure, id) = (self.pressure.clone(), container_id.to_string());
        Box::pin(async move {
            let counters = create.await?;
            pressure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, counters);
            Ok(launch_info)
        })
    }

    fn isolate(&self, container_id: &str, pid: u32) -> BoxFuture<'static, Result<()>> {
        let owner = self.owner(container_id);
        if owner != container_id {
            if matches!(self.config.hierarchy, Hierarchy::V2(_)) {
                return ready(Ok(()));
            }
            // A root container recovered from before the agent had this
            // isolator has no cgroup in its hierarchies: its nested
            // containers stay out of them too, as upstream (its test
            // `ROOT_CGROUPS_AgentRecoveryWithNewCgroupSubsystems`), rather
            // than failing to launch.
            let nested = container_id.to_string();
            return self.blocking(&owner, move |ops| {
                if !ops.exists() {
                    tracing::info!(
                        container_id = %nested,
                        isolator = ops.subsystem.name(),
                        "Not assigning the nested container to a cgroup its root \
                         container does not have"
                    );
                    return Ok(());
                }
                ops.assign(pid)
            });
        }
        let info = self
            .containers()
            .get(container_id)
            .cloned()
            .unwrap_or_default();
        let handle = self
            .net_cls_state()
            .and_then(|state| state.handles.get(container_id).copied());
        self.blocking(container_id, move |ops| {
            ops.assign(pid)?;
            ops.apply(&info.requests, &info.limits, true)?;
            if let Some(handle) = handle {
                ops.set_net_cls_classid(handle)?;
            }
            if info.command_task {
                ops.adjust_oom_score(&info.requests, &info.limits, pid)?;
            }
            Ok(())
        })
    }

    fn watch(&self, container_id: &str) -> BoxFuture<'static, ContainerLimitation> {
        // A nested container sharing its parent's cgroups is watched
        // through the parent.
        if self.subsystem != Subsystem::Mem
            || (container_id.contains('.') && !self.containers().contains_key(container_id))
            || self.absent(container_id)
        {
            return Box::pin(std::future::pending());
        }
        // A thread of its own, not the runtime's blocking pool: the wait
        // lasts as long as the container, and a pending blocking task
        // would hold up the runtime's shutdown.
        let ops = Ops {
            subsystem: self.subsystem,
            config: self.config.clone(),
            cgroup: self.config.cgroup(container_id),
            nested: container_id.contains('.'),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("oom-watch".into())
            .spawn(move || {
                if let Some(limitation) = ops.wait_oom() {
                    let _ = tx.send(limitation);
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "Failed to start watching for OOM");
        }
        Box::pin(async move {
            match rx.await {
                Ok(limitation) => limitation,
                Err(_) => std::future::pending().await,
            }
        })
    }

    fn last_limitation(
        &self,
        container_id: &str,
    ) -> BoxFuture<'static, Option<ContainerLimitation>> {
        if self.subsystem != Subsystem::Mem
            || !self.containers().contains_key(container_id)
            || self.absent(container_id)
        {
            return ready(None);
        }
        let found = self.blocking(container_id, |ops| {
            Ok(ops.oom_happened().then(|| ops.oom_limitation()))
        });
        Box::pin(async move { found.await.ok().flatten() })
    }

    fn update(
        &self,
        container_id: &str,
        resources: &[Resource],
        limits: &ResourceLimits,
    ) -> BoxFuture<'static, Result<()>> {
        if let Some(known) = self.containers().get_mut(container_id) {
            known.requests = resources.to_vec();
            known.limits = limits.clone();
        } else {
            return ready(Err(IsolatorError(format!(
                "unknown container '{container_id}'"
            ))));
        }
        if self.absent(container_id) {
            return ready(Ok(()));
        }
        let (resources, limits) = (resources.to_vec(), limits.clone());
        self.blocking(container_id, move |ops| {
            ops.apply(&resources, &limits, false)
        })
    }

    fn usage(&self, container_id: &str) -> BoxFuture<'static, Result<ResourceStatistics>> {
        if !self.containers().contains_key(container_id) {
            return ready(Err(IsolatorError(format!(
                "unknown container '{container_id}'"
            ))));
        }
        if self.absent(container_id) {
            return ready(Ok(ResourceStatistics::default()));
        }
        let usage = self.blocking(container_id, |ops| ops.usage());
        let (pressure, id) = (self.pressure.clone(), container_id.to_string());
        let perf = self.perf.as_ref().and_then(|p| p.statistics(container_id));
        Box::pin(async move {
            let mut stats = usage.await?;
            if perf.is_some() {
                stats.perf = perf;
            }
            // Reading an eventfd counter does not block.
            let mut pressure = pressure.lock().unwrap_or_else(|e| e.into_inner());
            for counter in pressure.get_mut(&id).into_iter().flatten() {
                match counter.value() {
                    Ok(events) => {
                        statistics::apply_memory_pressure(&mut stats, counter.level(), events)
                    }
                    Err(error) => tracing::warn!(
                        container_id = %id,
                        level = counter.level().as_str(),
                        %error,
                        "Failed to read memory pressure events"
                    ),
                }
            }
            Ok(stats)
        })
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        // A nested container sharing its parent's cgroups has none to
        // remove. One with cgroups of its own that the agent no longer
        // knows (a known orphan after a restart) has them removed on v1;
        // on v2 the launcher owns the nested cgroup.
        let known = self.containers().remove(container_id).is_some();
        if container_id.contains('.') && !known && matches!(self.config.hierarchy, Hierarchy::V2(_))
        {
            return ready(Ok(()));
        }
        self.absent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(container_id);
        self.pressure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(container_id);
        if let Some(mut net_cls) = self.net_cls_state() {
            net_cls.release(container_id);
        }
        if let Some(perf) = &self.perf {
            perf.remove(container_id);
        }
        self.blocking(container_id, |ops| ops.destroy())
    }

    /// `cgroups/net_cls`: the container's class id as
    /// `cgroup_info.net_cls.classid`; a nested container reports its root
    /// container's (upstream: they share its cgroup).
    fn status(
        &self,
        container_id: &str,
    ) -> BoxFuture<'static, Result<mesos_proto::mesos::ContainerStatus>> {
        use mesos_proto::mesos::{cgroup_info, CgroupInfo, ContainerStatus};
        let root = container_id.split('.').next().unwrap_or(container_id);
        let handle = self
            .net_cls_state()
            .and_then(|state| state.handles.get(root).copied());
        let status = match handle {
            Some(handle) => ContainerStatus {
                cgroup_info: Some(CgroupInfo {
                    net_cls: Some(cgroup_info::NetCls {
                        classid: Some(handle.classid()),
                    }),
                }),
                ..Default::default()
            },
            None => ContainerStatus::default(),
        };
        ready(Ok(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration on `hierarchy` (found under `mount_root`) with the
    /// cgroups root `mesos` and every option off.
    fn test_config(hierarchy: Hierarchy, mount_root: PathBuf) -> CgroupsConfig {
        CgroupsConfig {
            hierarchy,
            mount_root,
            root: "mesos".into(),
            enable_cfs: false,
            revocable_cpu_low_priority: false,
            limit_swap: false,
            allowed_devices: vec![],
            linux_launcher: false,
            destroy_timeout: Duration::from_secs(60),
            cpu_pids_and_tids_count: false,
            net_cls: Default::default(),
            perf: Default::default(),
        }
    }

    #[test]
    fn bytes_print_as_stout_does() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(64 * 1024 * 1024), "64MB");
        assert_eq!(bytes(2 << 30), "2GB");
        assert_eq!(bytes(1536), "1536B");
        assert_eq!(bytes(3 * 1024), "3KB");
        assert_eq!(bytes(1000), "1000B");
    }

    /// A v1 machine whose `controllers` are mounted in a tempdir.
    fn v1_fixture(controllers: &[&str]) -> (tempfile::TempDir, CgroupsConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut mountinfo = String::new();
        for (i, controller) in controllers.iter().enumerate() {
            let mount = dir.path().join(controller);
            std::fs::create_dir(&mount).expect("fixture");
            mountinfo.push_str(&format!(
                "{} 31 0:{} / {} rw - cgroup cgroup rw,{controller}\n",
                40 + i,
                40 + i,
                mount.display()
            ));
        }
        let config = CgroupsConfig {
            revocable_cpu_low_priority: true,
            ..test_config(
                Hierarchy::V1(cgroups::Hierarchies::from_mountinfo(&mountinfo)),
                dir.path().to_path_buf(),
            )
        };
        (dir, config)
    }

    /// Upstream's `cgroups/all` on v1: every subsystem the kernel enables
    /// (`/proc/cgroups`), mounted or not.
    #[test]
    fn cgroups_all_is_every_enabled_subsystem_with_an_isolator() {
        let enabled = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Only cpu is mounted: the rest is mounted by `prepare`.
        let (_dir, config) = v1_fixture(&["cpu"]);
        assert_eq!(
            all(
                &config.hierarchy,
                &enabled(&[
                    "blkio",
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "devices",
                    "freezer",
                    "memory",
                    "pids",
                    "net_cls",
                    "perf_event",
                    "rdma",
                ])
            ),
            [
                "cgroups/blkio",
                "cgroups/cpu",
                "cgroups/cpuset",
                "cgroups/devices",
                "cgroups/mem",
                "cgroups/net_cls",
                "cgroups/perf_event",
                "cgroups/pids"
            ]
        );
        // `cgroups/cpu` needs both of its controllers.
        assert_eq!(
            all(
                &config.hierarchy,
                &enabled(&["cpu", "net_cls", "perf_event"])
            ),
            ["cgroups/net_cls", "cgroups/perf_event"]
        );
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .expect("fixture");
        assert_eq!(
            all(&Hierarchy::V2(root.path().to_path_buf()), &[]),
            [
                "cgroups/blkio",
                "cgroups/cpu",
                "cgroups/cpuset",
                "cgroups/hugetlb",
                "cgroups/mem",
                "cgroups/pids"
            ]
        );
    }

    #[test]
    fn a_nested_container_joins_only_the_cgroups_its_root_container_has() {
        let (dir, config) = v1_fixture(&["cpu", "cpuacct", "memory"]);
        // A root container recovered from before `cgroups/cpu` was added:
        // a memory cgroup only.
        let memory = dir.path().join("memory/mesos/root");
        std::fs::create_dir_all(&memory).expect("fixture");
        std::fs::write(memory.join("cgroup.procs"), "").expect("fixture");
        let config = Arc::new(config);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        for subsystem in [Subsystem::Cpu, Subsystem::Mem] {
            let isolator = CgroupsIsolator::new(subsystem, config.clone()).expect("isolator");
            runtime
                .block_on(isolator.isolate("root.nested", 4321))
                .expect("isolated");
        }
        assert!(!dir.path().join("cpu/mesos/root").exists());
        assert_eq!(
            std::fs::read_to_string(memory.join("cgroup.procs")).expect("written"),
            "4321"
        );
    }

    #[test]
    fn a_nested_containers_cgroup_is_below_its_parents() {
        let (_dir, config) = v1_fixture(&["memory"]);
        assert_eq!(config.cgroup("e"), "mesos/e");
        assert_eq!(config.cgroup("e.t"), "mesos/e/mesos/t");
        assert_eq!(config.cgroup("e.t.d"), "mesos/e/mesos/t/mesos/d");
    }

    /// A `ContainerConfig` of a nested container with `share_cgroups`
    /// set, and resources.
    fn nested_config(share_cgroups: bool, resources: &str) -> ContainerConfig {
        ContainerConfig {
            container_info: Some(mesos_proto::mesos::ContainerInfo {
                linux_info: Some(mesos_proto::mesos::LinuxInfo {
                    share_cgroups: Some(share_cgroups),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            resources: Resources::parse(resources, "*")
                .expect("resources")
                .to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_nested_container_without_shared_cgroups_is_isolated_in_its_own() {
        let (dir, config) = v1_fixture(&["cpu", "cpuacct"]);
        // The kernel's control files, as fresh cgroups have them.
        for cgroup in ["mesos/e", "mesos/e/mesos/own"] {
            for controller in ["cpu", "cpuacct"] {
                let path = dir.path().join(controller).join(cgroup);
                std::fs::create_dir_all(&path).expect("fixture");
                for file in ["cgroup.procs", "cpu.shares"] {
                    std::fs::write(path.join(file), "").expect("fixture");
                }
            }
        }
        let isolator = CgroupsIsolator::new(Subsystem::Cpu, Arc::new(config)).expect("isolator");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let read = |file: &str| {
            std::fs::read_to_string(dir.path().join("cpu").join(file)).expect("written")
        };
        runtime
            .block_on(isolator.prepare("e", &nested_config(true, "cpus:1")))
            .expect("prepared");
        runtime
            .block_on(isolator.isolate("e", 100))
            .expect("isolated");
        for (id, share_cgroups) in [("e.own", false), ("e.shared", true)] {
            let config = nested_config(share_cgroups, "cpus:0.5");
            runtime
                .block_on(isolator.prepare(id, &config))
                .expect("prepared");
        }
        runtime
            .block_on(isolator.isolate("e.own", 200))
            .expect("isolated");
        assert_eq!(read("mesos/e/mesos/own/cgroup.procs"), "200");
        assert_eq!(read("mesos/e/mesos/own/cpu.shares"), "512");
        // A sharing sibling joins the parent's cgroup, a container nested
        // in `own` joins `own`'s.
        runtime
            .block_on(isolator.isolate("e.shared", 300))
            .expect("isolated");
        assert_eq!(read("mesos/e/cgroup.procs"), "300");
        assert!(!dir.path().join("cpu/mesos/e/mesos/shared").exists());
        runtime
            .block_on(isolator.isolate("e.own.debug", 400))
            .expect("isolated");
        assert_eq!(read("mesos/e/mesos/own/cgroup.procs"), "400");
        assert_eq!(read("mesos/e/cpu.shares"), "1024");
        // Only the nested container with cgroups of its own has usage of
        // its own; a sharing one's cleanup leaves its parent's cgroup.
        assert!(runtime.block_on(isolator.usage("e.shared")).is_err());
        runtime
            .block_on(isolator.cleanup("e.shared"))
            .expect("cleaned up");
        assert!(dir.path().join("cpu/mesos/e").exists());
        // (Removing `own`'s takes the kernel: the containerizer tests do.)
        assert!(isolator.containers().contains_key("e.own"));
        assert!(!isolator.containers().contains_key("e.shared"));
    }

    #[test]
    fn on_v2_a_nested_container_gets_controllers_below_its_parents_leaf() {
        let root = tempfile::tempdir().expect("tempdir");
        let fixture = |cgroup: &str, files: &[(&str, &str)]| {
            let dir = root.path().join(cgroup);
            std::fs::create_dir_all(&dir).expect("fixture");
            for (file, content) in files {
                std::fs::write(dir.join(file), content).expect("fixture");
            }
        };
        let control = [
            ("cgroup.controllers", "cpu memory\n"),
            ("cgroup.subtree_control", ""),
        ];
        for cgroup in ["", "mesos", "mesos/e", "mesos/e/mesos"] {
            fixture(cgroup, &control);
        }
        let limits = [("memory.low", "0\n"), ("memory.max", "max\n")];
        fixture("mesos/e", &limits);
        let config = Arc::new(test_config(
            Hierarchy::V2(root.path().to_path_buf()),
            root.path().to_path_buf(),
        ));
        let isolator = CgroupsIsolator::new(Subsystem::Mem, config).expect("isolator");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let read = |file: &str| {
            std::fs::read_to_string(root.path().join(file))
                .expect("written")
                .trim()
                .to_owned()
        };
        // The top-level container's processes go to its leaf.
        runtime
            .block_on(isolator.prepare("e", &nested_config(true, "mem:96")))
            .expect("prepared");
        fixture("mesos/e/leaf", &[("cgroup.procs", "")]);
        runtime
            .block_on(isolator.isolate("e", 100))
            .expect("isolated");
        assert_eq!(read("mesos/e/leaf/cgroup.procs"), "100");
        assert_eq!(read("mesos/e/memory.max"), (96u64 << 20).to_string());
        // A nested one with cgroups of its own: the controller is enabled
        // in its parent's cgroup and in `mesos` below it.
        runtime
            .block_on(isolator.prepare("e.own", &nested_config(false, "mem:32")))
            .expect("prepared");
        assert_eq!(read("mesos/e/cgroup.subtree_control"), "+memory");
        assert_eq!(read("mesos/e/mesos/cgroup.subtree_control"), "+memory");
        assert!(!root.path().join("mesos/e/mesos/own/leaf").exists());
        fixture("mesos/e/mesos/own", &limits);
        fixture("mesos/e/mesos/own", &[("cgroup.procs", "")]);
        runtime
            .block_on(isolator.isolate("e.own", 200))
            .expect("isolated");
        assert_eq!(read("mesos/e/mesos/own/cgroup.procs"), "200");
        assert_eq!(
            read("mesos/e/mesos/own/memory.max"),
            (32u64 << 20).to_string()
        );
        assert_eq!(
            read("mesos/e/mesos/own/memory.low"),
            (32u64 << 20).to_string()
        );
        // A sharing one is left where the launcher puts it.
        runtime
            .block_on(isolator.prepare("e.shared", &nested_config(true, "mem:32")))
            .expect("prepared");
        runtime
            .block_on(isolator.isolate("e.shared", 300))
            .expect("isolated");
        assert!(!root.path().join("mesos/e/mesos/shared").exists());
        // Upstream's agent API refuses these before they get here.
        let error = runtime
            .block_on(isolator.prepare("e.own.deeper", &nested_config(false, "mem:32")))
            .expect_err("refused");
        assert_eq!(
            error.0,
            "2nd level or greater nested cgroups are not supported"
        );
    }

    #[test]
    fn recovery_knows_the_nested_containers_with_cgroups_of_their_own() {
        let (dir, config) = v1_fixture(&["memory"]);
        for cgroup in ["memory/mesos/e", "memory/mesos/e/mesos/own"] {
            std::fs::create_dir_all(dir.path().join(cgroup)).expect("fixture");
        }
        let isolator = CgroupsIsolator::new(Subsystem::Pids, Arc::new(config.clone()));
        assert!(isolator.is_err(), "no pids hierarchy");
        let isolator = CgroupsIsolator::new(Subsystem::Mem, Arc::new(config)).expect("isolator");
        let state = |id: &str, share_cgroups: Option<bool>| ContainerState {
            container_id: crate::containerizer::container_id(id),
            container_info: share_cgroups.map(|share| mesos_proto::mesos::ContainerInfo {
                linux_info: Some(mesos_proto::mesos::LinuxInfo {
                    share_cgroups: Some(share),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let states = [
            state("e", None),
            state("e.own", Some(false)),
            state("e.shared", Some(true)),
            state("e.default", None),
        ];
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime
            .block_on(isolator.recover(&states, &HashSet::new()))
            .expect("recovered");
        let known: HashSet<String> = isolator.containers().keys().cloned().collect();
        assert_eq!(known, ["e", "e.own"].map(String::from).into());
        assert!(!isolator.absent("e.own"));
    }

    #[test]
    fn unknown_orphans_are_the_cgroups_nobody_knows() {
        let (dir, config) = v1_fixture(&["cpu", "cpuacct", "memory"]);
        for cgroup in [
            "cpu/mesos/running",
            "cpuacct/mesos/lost",
            "memory/mesos/slave",
        ] {
            std::fs::create_dir_all(dir.path().join(cgroup)).expect("fixture");
        }
        std::fs::create_dir_all(dir.path().join("memory/mesos/known-orphan")).expect("fixture");
        std::fs::write(dir.path().join("cpu/mesos/cpu.shares"), "1024").expect("fixture");
        let known: HashSet<String> = ["running", "known-orphan"].map(String::from).into();
        assert_eq!(
            unknown_orphans(Subsystem::Cpu, &config, &known).expect("listed"),
            vec!["lost".to_owned()]
        );
        // A nested cgroup under a known container nobody knows either.
        std::fs::create_dir_all(dir.path().join("cpu/mesos/running/mesos/own")).expect("fixture");
        std::fs::create_dir_all(dir.path().join("cpu/mesos/lost/mesos/own")).expect("fixture");
        assert_eq!(
            unknown_orphans(Subsystem::Cpu, &config, &known).expect("listed"),
            ["lost", "running.own"].map(String::from)
        );
        let mut known_nested = known.clone();
        known_nested.insert("running.own".into());
        assert_eq!(
            unknown_orphans(Subsystem::Cpu, &config, &known_nested).expect("listed"),
            ["lost".to_owned()]
        );
        // Only the subsystem's own hierarchies are looked at; the agent's
        // `slave` cgroup is never an orphan.
        assert!(unknown_orphans(Subsystem::Mem, &config, &known)
            .expect("listed")
            .is_empty());
        // No root yet: nothing to clean.
        let (_empty, config) = v1_fixture(&["memory"]);
        assert!(unknown_orphans(Subsystem::Mem, &config, &known)
            .expect("listed")
            .is_empty());
    }

    fn limits(values: &[(&str, f64)]) -> ResourceLimits {
        values
            .iter()
            .map(|(name, value)| {
                let scalar = mesos_proto::mesos::value::Scalar { value: *value };
                (name.to_string(), scalar)
            })
            .collect()
    }

    #[test]
    fn limits_set_the_cfs_quota_and_the_hard_memory_limit_on_v1() {
        let (dir, config) = v1_fixture(&["cpu", "cpuacct", "memory"]);
        // The kernel's control files, as a fresh cgroup has them.
        for (cgroup, files) in [
            (
                "cpu/mesos/c",
                &["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"][..],
            ),
            (
                "memory/mesos/c",
                &["memory.soft_limit_in_bytes", "memory.limit_in_bytes"][..],
            ),
        ] {
            std::fs::create_dir_all(dir.path().join(cgroup)).expect("fixture");
            for file in files {
                std::fs::write(dir.path().join(cgroup).join(file), "-1\n").expect("fixture");
            }
        }
        let config = Arc::new(config);
        let ops = |subsystem| Ops {
            subsystem,
            config: config.clone(),
            cgroup: config.cgroup("c"),
            nested: false,
        };
        let read = |file: &str| {
            std::fs::read_to_string(dir.path().join(file))
                .expect("written")
                .trim()
                .to_owned()
        };
        let requests = Resources::parse("cpus:0.3;mem:64", "*")
            .expect("resources")
            .to_vec();
        // No limits and no CFS: shares only.
        ops(Subsystem::Cpu)
            .apply(&requests, &ResourceLimits::new(), true)
            .expect("applied");
        assert_eq!(read("cpu/mesos/c/cpu.shares"), "307");
        assert_eq!(read("cpu/mesos/c/cpu.cfs_period_us"), "-1");
        // A cpu limit sets the quota from it even without CFS enabled.
        let finite = limits(&[("cpus", 0.6), ("mem", 128.0)]);
        ops(Subsystem::Cpu)
            .apply(&requests, &finite, true)
            .expect("applied");
        assert_eq!(read("cpu/mesos/c/cpu.shares"), "307");
        assert_eq!(read("cpu/mesos/c/cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu/mesos/c/cpu.cfs_quota_us"), "60000");
        ops(Subsystem::Mem)
            .apply(&requests, &finite, true)
            .expect("applied");
        assert_eq!(
            read("memory/mesos/c/memory.soft_limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            read("memory/mesos/c/memory.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
        // An update to infinite limits removes them (raising the hard limit).
        let infinite = limits(&[("cpus", f64::INFINITY), ("mem", f64::INFINITY)]);
        ops(Subsystem::Cpu)
            .apply(&requests, &infinite, false)
            .expect("applied");
        assert_eq!(read("cpu/mesos/c/cpu.cfs_quota_us"), "-1");
        ops(Subsystem::Mem)
            .apply(&requests, &infinite, false)
            .expect("applied");
        assert_eq!(read("memory/mesos/c/memory.limit_in_bytes"), "-1");
        assert_eq!(
            read("memory/mesos/c/memory.soft_limit_in_bytes"),
            (64u64 << 20).to_string()
        );
    }

    #[test]
    fn limits_set_cpu_max_and_memory_max_on_v2() {
        let root = tempfile::tempdir().expect("tempdir");
        let cgroup = root.path().join("mesos/c");
        std::fs::create_dir_all(&cgroup).expect("fixture");
        for file in ["cpu.weight", "cpu.max", "memory.low", "memory.max"] {
            std::fs::write(cgroup.join(file), "max\n").expect("fixture");
        }
        let config = Arc::new(test_config(
            Hierarchy::V2(root.path().to_path_buf()),
            root.path().to_path_buf(),
        ));
        let ops = |subsystem| Ops {
            subsystem,
            config: config.clone(),
            cgroup: config.cgroup("c"),
            nested: false,
        };
        let read = |file: &str| {
            std::fs::read_to_string(cgroup.join(file))
                .expect("written")
                .trim()
                .to_owned()
        };
        let requests = Resources::parse("cpus:0.3;mem:64", "*")
            .expect("resources")
            .to_vec();
        let finite = limits(&[("cpus", 0.6), ("mem", 128.0)]);
        ops(Subsystem::Cpu)
            .apply(&requests, &finite, true)
            .expect("applied");
        assert_eq!(read("cpu.max"), "60000 100000");
        ops(Subsystem::Mem)
            .apply(&requests, &finite, true)
            .expect("applied");
        assert_eq!(read("memory.low"), (64u64 << 20).to_string());
        assert_eq!(read("memory.max"), (128u64 << 20).to_string());
        let infinite = limits(&[("cpus", f64::INFINITY), ("mem", f64::INFINITY)]);
        ops(Subsystem::Cpu)
            .apply(&requests, &infinite, false)
            .expect("applied");
        assert_eq!(read("cpu.max"), "max 100000");
        ops(Subsystem::Mem)
            .apply(&requests, &infinite, false)
            .expect("applied");
        assert_eq!(read("memory.max"), "max");
    }

    #[test]
    fn on_v2_the_containers_user_gets_the_cgroup_delegated_but_not_its_limits() {
        use std::os::unix::fs::MetadataExt as _;
        let root = tempfile::tempdir().expect("tempdir");
        let cgroup = root.path().join("mesos/c");
        std::fs::create_dir_all(&cgroup).expect("fixture");
        for file in [
            "cgroup.procs",
            "cgroup.threads",
            "cgroup.subtree_control",
            "memory.max",
        ] {
            std::fs::write(cgroup.join(file), "").expect("fixture");
        }
        let config = Arc::new(test_config(
            Hierarchy::V2(root.path().to_path_buf()),
            root.path().to_path_buf(),
        ));
        let ops = Ops {
            subsystem: Subsystem::Mem,
            config: config.clone(),
            cgroup: config.cgroup("c"),
            nested: false,
        };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                ops.chown("nobody").is_err(),
                "only root can give files away"
            );
            return;
        }
        ops.chown("nobody").expect("chowned");
        let owner = |file: &str| std::fs::metadata(cgroup.join(file)).expect("exists").uid();
        let nobody = owner("cgroup.procs");
        assert_ne!(nobody, 0);
        assert_eq!(std::fs::metadata(&cgroup).expect("exists").uid(), nobody);
        assert_eq!(owner("cgroup.threads"), nobody);
        assert_eq!(owner("cgroup.subtree_control"), nobody);
        assert_eq!(owner("memory.max"), 0);
    }

    #[test]
    fn the_oom_score_adjustment_follows_the_memory_request() {
        let total = 8u64 << 30;
        assert_eq!(oom_score_adj(total / 2, total), 500);
        assert_eq!(oom_score_adj(total, total), 0);
        assert_eq!(oom_score_adj(32 << 20, total), 997);
        let requests = Resources::parse("mem:64", "*").expect("resources");
        assert_eq!(
            memory_limits(&requests, &limits(&[("mem", 10.0)])),
            Some((64 << 20, Some(cgroups::memory::MIN_MEMORY)))
        );
        assert_eq!(
            memory_limits(&requests, &limits(&[("mem", f64::INFINITY)])),
            Some((64 << 20, None))
        );
        assert_eq!(
            memory_limits(&requests, &ResourceLimits::new()),
            Some((64 << 20, Some(64 << 20)))
        );
    }
}
