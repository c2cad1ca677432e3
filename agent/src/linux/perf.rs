//! `perf stat` sampling of cgroups.
//!
//! Upstream counterpart: `src/linux/perf.cpp` (`perf::version`,
//! `supported`, `valid`, `sample`, `parse`). The `perf` binary does the
//! counting: one system-wide `perf stat` run counts every event in every
//! cgroup asked for, for a given duration, and prints CSV that is parsed
//! into `mesos.PerfStatistics`, one per cgroup. Event names are normalized
//! as upstream does (lower case, `-` → `_`) to name the protobuf field.
//!
//! Everything here blocks (it waits for `perf`); callers run it on a
//! thread of their own. Deliberate difference: a sample that takes longer
//! than its timeout is killed here (upstream discards it from the caller).

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_proto::mesos::PerfStatistics;

/// What went wrong running or reading `perf`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PerfError(pub String);

/// The module's result type.
pub type Result<T> = std::result::Result<T, PerfError>;

/// The field separator asked of `perf stat`.
const DELIMITER: &str = ",";

/// The oldest `perf` with cgroup support and CSV output (upstream's
/// `supported`: 2.6.39).
const MIN_VERSION: (u32, u32, u32) = (2, 6, 39);

/// How long `perf --version` and `perf stat ... true` may take.
const QUICK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `perf <args>`, its output in the C locale (upstream sets `LC_ALL=C`
/// so numbers and fields are formatted predictably); kills it after
/// `timeout`. Returns its stdout when it exits 0.
fn run(args: &[String], timeout: Duration) -> Result<String> {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new("perf");
    command
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of the
    // parent; perf dies with the thread that waits for it (upstream's
    // supervisor child hook does the same for the agent).
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| PerfError(format!("Failed to launch perf process: {e}")))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // The pipes are drained beside the wait, so a large output cannot
    // block perf.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_string(&mut out);
        }
        out
    });
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_string(&mut err);
        }
        err
    });
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PerfError(format!(
                    "perf (pid {pid}) did not complete within {timeout:?}"
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(PerfError(format!("Failed to execute perf: {e}"))),
        }
    };
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(PerfError(format!(
            "Failed to execute perf: {status}: {}",
            err.trim()
        )));
    }
    Ok(out)
}

/// Parses `perf --version` output (`perf version 6.1.187`) as upstream's
/// `parseVersion`: only the first two components count.
pub fn parse_version(output: &str) -> Result<(u32, u32, u32)> {
    let trimmed = output.trim();
    let version = trimmed.strip_prefix("perf version ").unwrap_or(trimmed);
    let mut components = version.split('.');
    let mut number = |what: &str| -> Result<u32> {
        let part = components.next().unwrap_or("0");
        part.parse::<u32>().map_err(|_| {
            PerfError(format!(
                "Failed to parse perf version '{version}': bad {what} '{part}'"
            ))
        })
    };
    if version.is_empty() {
        return Err(PerfError("Failed to parse perf version: empty".into()));
    }
    let major = number("major")?;
    let minor = number("minor")?;
    Ok((major, minor, 0))
}

/// The version of the `perf` on the `PATH`.
pub fn version() -> Result<(u32, u32, u32)> {
    parse_version(&run(&["--version".into()], QUICK_TIMEOUT)?)
}

/// Whether `perf` can sample cgroups here (upstream `perf::supported`).
pub fn supported() -> bool {
    match version() {
        Ok(version) => version >= MIN_VERSION,
        Err(error) => {
            tracing::error!(%error, "Failed to get perf version");
            false
        }
    }
}

/// Whether `perf` accepts every one of `events` (upstream `perf::valid`:
/// `perf stat --event <e>... true` exits 0).
pub fn valid(events: &BTreeSet<String>) -> bool {
    let mut args = vec!["stat".to_owned()];
    for event in events {
        args.push("--event".into());
        args.push(event.clone());
    }
    args.push("true".into());
    run(&args, QUICK_TIMEOUT).is_ok()
}

/// Counts `events` in each of `cgroups` (paths relative to the perf_event
/// hierarchy) over `duration`, on all cpus, as upstream's `perf::sample`;
/// each statistics gets the start time and the duration. No cgroups: no
/// `perf` run, an empty map.
pub fn sample(
    events: &BTreeSet<String>,
    cgroups: &BTreeSet<String>,
    duration: Duration,
    timeout: Duration,
) -> Result<HashMap<String, PerfStatistics>> {
    if cgroups.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args: Vec<String> = [
        "stat",
        "--all-cpus",
        "--field-separator",
        DELIMITER,
        "--log-fd",
        "1",
    ]
    .map(String::from)
    .to_vec();
    for event in events {
        for cgroup in cgroups {
            args.extend([
                "--event".into(),
                event.clone(),
                "--cgroup".into(),
                cgroup.clone(),
            ]);
        }
    }
    args.extend([
        "--".into(),
        "sleep".into(),
        duration.as_secs_f64().to_string(),
    ]);
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let output = run(&args, timeout)?;
    let mut statistics =
        parse(&output).map_err(|e| PerfError(format!("Failed to parse perf sample: {}", e.0)))?;
    for each in statistics.values_mut() {
        each.timestamp = start;
        each.duration = duration.as_secs_f64();
    }
    Ok(statistics)
}

/// Upstream's normalization of an event name into a field name.
fn normalize(event: &str) -> String {
    event.to_lowercase().replace('-', "_")
}

/// One CSV line of `perf stat`: (value, normalized event, cgroup). The
/// formats of the perf versions upstream knows: `value,event,cgroup`;
/// `value,unit,event,cgroup` with 2 or 4 more fields; and the 8-field one
/// printed with 4 empty trailing fields (10 in all, a perf bug).
fn parse_line(line: &str) -> std::result::Result<(String, String, String), String> {
    let tokens: Vec<&str> = line.split(DELIMITER).collect();
    let unexpected = || format!("Unexpected number of fields ({})", tokens.len());
    match tokens.len() {
        3 => Ok((tokens[0].into(), normalize(tokens[1]), tokens[2].into())),
        4 | 6 | 8 => Ok((tokens[0].into(), normalize(tokens[2]), tokens[3].into())),
        10 if tokens[6..].iter().all(|t| t.is_empty()) => {
            Ok((tokens[0].into(), normalize(tokens[2]), tokens[3].into()))
        }
        _ => Err(unexpected()),
    }
}

/// Sets the field named `event` of `statistics` from `value`; `Err` with
/// `None` when no field has that name, `Err(Some(..))` when the value does
/// not parse. `<not counted>` counts as zero, as upstream.
fn set_field(
    statistics: &mut PerfStatistics,
    event: &str,
    value: &str,
) -> std::result::Result<(), Option<()>> {
    macro_rules! fields {
        (u64: [$($u:ident),* $(,)?], f64: [$($f:ident),* $(,)?]) => {
            match event {
                $(stringify!($u) => {
                    let number = if value == "<not counted>" {
                        0
                    } else {
                        value.parse::<u64>().map_err(|_| Some(()))?
                    };
                    statistics.$u = Some(number);
                })*
                $(stringify!($f) => {
                    let number = if value == "<not counted>" {
                        0.0
                    } else {
                        value.parse::<f64>().map_err(|_| Some(()))?
                    };
                    statistics.$f = Some(number);
                })*
                _ => return Err(None),
            }
        };
    }
    fields!(
        u64: [
            cycles, stalled_cycles_frontend, stalled_cycles_backend, instructions,
            cache_references, cache_misses, branches, branch_misses, bus_cycles, ref_cycles,
            page_faults, minor_faults, major_faults, context_switches, cpu_migrations,
            alignment_faults, emulation_faults, l1_dcache_loads, l1_dcache_load_misses,
            l1_dcache_stores, l1_dcache_store_misses, l1_dcache_prefetches,
            l1_dcache_prefetch_misses, l1_icache_loads, l1_icache_load_misses,
            l1_icache_prefetches, l1_icache_prefetch_misses, llc_loads, llc_load_misses,
            llc_stores, llc_store_misses, llc_prefetches, llc_prefetch_misses, dtlb_loads,
            dtlb_load_misses, dtlb_stores, dtlb_store_misses, dtlb_prefetches,
            dtlb_prefetch_misses, itlb_loads, itlb_load_misses, branch_loads,
            branch_load_misses, node_loads, node_load_misses, node_stores, node_store_misses,
            node_prefetches, node_prefetch_misses,
        ],
        f64: [cpu_clock, task_clock]
    );
    Ok(())
}

/// Parses `perf stat` CSV output into statistics by cgroup (upstream
/// `perf::parse`). Lines without an event (derived metrics) are skipped;
/// `<not supported>` counters are left unset; an event with no
/// `PerfStatistics` field, or a line of no known format, fails the parse.
pub fn parse(output: &str) -> Result<HashMap<String, PerfStatistics>> {
    let mut statistics: HashMap<String, PerfStatistics> = HashMap::new();
    for line in output.lines().filter(|l| !l.is_empty()) {
        let (value, event, cgroup) = parse_line(line).map_err(|reason| {
            PerfError(format!(
                "Failed to parse perf sample line '{line}': {reason}"
            ))
        })?;
        if event.is_empty() {
            continue;
        }
        let entry = statistics.entry(cgroup).or_default();
        if value == "<not supported>" {
            // Whether the field exists is still checked, as upstream.
            let mut scratch = PerfStatistics::default();
            if let Err(None) = set_field(&mut scratch, &event, "0") {
                return Err(PerfError(format!(
                    "Unexpected event '{event}' in perf output at line: {line}"
                )));
            }
            tracing::warn!(line, "Unsupported perf counter, ignoring");
            continue;
        }
        match set_field(entry, &event, &value) {
            Ok(()) => {}
            Err(None) => {
                return Err(PerfError(format!(
                    "Unexpected event '{event}' in perf output at line: {line}"
                )))
            }
            Err(Some(())) => {
                return Err(PerfError(format!(
                    "Unable to parse perf value at line: {line}"
                )))
            }
        }
    }
    Ok(statistics)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream `PerfTest.Parse`.
    #[test]
    fn perf_output_of_every_known_format_is_parsed() {
        let parsed = parse(
            "123,cycles,cgroup1\n\
             456,cycles,cgroup2\n\
             0.456,task-clock,cgroup2\n\
             0.123,task-clock,cgroup1\n\
             5812843447,,cycles,cgroup3,3560494814,100.00,0.097,GHz\n\
             60011.034108,,task-clock,cgroup3,60011034108,100.00,11.999,CPUs utilized",
        )
        .expect("parsed");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed["cgroup1"].cycles, Some(123));
        assert_eq!(parsed["cgroup1"].task_clock, Some(0.123));
        assert_eq!(parsed["cgroup2"].cycles, Some(456));
        assert_eq!(parsed["cgroup2"].task_clock, Some(0.456));
        assert_eq!(parsed["cgroup3"].cycles, Some(5812843447));

        // <not supported> is left out; <not counted> is zero.
        let parsed = parse("<not supported>,cycles,cgroup1").expect("parsed");
        assert_eq!(parsed["cgroup1"].cycles, None);
        let parsed =
            parse("<not counted>,cycles,cgroup1\n<not counted>,task-clock,cgroup1").expect("ok");
        assert_eq!(parsed["cgroup1"].cycles, Some(0));
        assert_eq!(parsed["cgroup1"].task_clock, Some(0.0));

        // perf's extra separators, and metrics without an event.
        let parsed =
            parse("<not supported>,,stalled-cycles-backend,cgroup1,0,100.00,,,,").expect("ok");
        assert_eq!(parsed["cgroup1"].stalled_cycles_backend, None);
        let parsed = parse(
            "11651954,,instructions,cgroup1,1041690,10.63,0.58,insn per cycle\n\
             ,,,,,,1.29,stalled cycles per insn\n\
             14995512,,stalled-cycles-frontend,cgroup1,1464204,14.94,75.26,frontend cycles idle",
        )
        .expect("ok");
        assert_eq!(parsed["cgroup1"].instructions, Some(11651954));
        assert_eq!(parsed["cgroup1"].stalled_cycles_frontend, Some(14995512));

        // What this machine's perf 6.1 prints.
        let parsed = parse(
            "304.63,msec,task-clock,mesos/c1,907674805795,100.00,1.007,CPUs utilized\n\
             13,,context-switches,mesos/c1,304625127,100.00,42.675,/sec\n\
             <not supported>,,cycles,mesos/c1,0,100.00,,",
        )
        .expect("ok");
        assert_eq!(parsed["mesos/c1"].task_clock, Some(304.63));
        assert_eq!(parsed["mesos/c1"].context_switches, Some(13));
        assert_eq!(parsed["mesos/c1"].cycles, None);

        // Failures.
        assert!(parse("1,cycles,cgroup1\ngarbage").is_err());
        let error = parse("1,unknown-field,cgroup1").expect_err("no such field");
        assert!(
            error.0.contains("Unexpected event 'unknown_field'"),
            "{error}"
        );
        assert!(parse("x,cycles,cgroup1").is_err());
        assert!(parse("1,,cycles,cg,0,100.00,,,,x").is_err());
    }

    /// Upstream `PerfTest.Version`.
    #[test]
    fn perf_versions_are_parsed_by_their_first_two_components() {
        assert_eq!(parse_version("1"), Ok((1, 0, 0)));
        assert_eq!(parse_version("1.2"), Ok((1, 2, 0)));
        assert_eq!(parse_version("1.2.3"), Ok((1, 2, 0)));
        assert_eq!(parse_version("perf version 6.1.187\n"), Ok((6, 1, 0)));
        assert_eq!(parse_version("4.8.16.300.fc25.x86_64.ge69a"), Ok((4, 8, 0)));
        assert_eq!(parse_version("4.9.g69973b"), Ok((4, 9, 0)));
        assert_eq!(
            parse_version("2.6.32-642.13.1.el6.x86_64.debug"),
            Ok((2, 6, 0))
        );
        assert!(parse_version("").is_err());
        assert!(parse_version("foo").is_err());
        assert!(parse_version("1.foo").is_err());
    }

    /// Upstream `PerfTest.ROOT_PERF_Events`, with the `perf` that
    /// `scripts/setup.sh` installs (its absence fails under `CI=true`).
    #[test]
    fn perf_accepts_known_events_and_refuses_unknown_ones() {
        if version().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "perf_accepts_known_events_and_refuses_unknown_ones needs perf (CI=true)"
            );
            println!("SKIPPED: perf_accepts_known_events_and_refuses_unknown_ones: needs perf");
            return;
        }
        assert!(supported());
        let mut events: BTreeSet<String> = ["cycles", "task-clock"].map(String::from).into();
        assert!(valid(&events));
        events.insert("invalid-event".into());
        assert!(!valid(&events));
    }

    /// Upstream `PerfTest.ROOT_PERF_Sample`: no cgroups, no perf run.
    #[test]
    fn sampling_no_cgroups_is_a_no_op() {
        let events: BTreeSet<String> = ["cycles", "task-clock"].map(String::from).into();
        let sample = sample(
            &events,
            &BTreeSet::new(),
            Duration::from_secs(1),
            Duration::from_secs(5),
        );
        assert_eq!(sample, Ok(HashMap::new()));
    }
}
