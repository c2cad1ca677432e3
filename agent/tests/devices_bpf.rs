//! `agent::linux::devices_bpf` for real: the device access program of
//! `cgroups/devices` on cgroup v2, attached to a fresh cgroup of the
//! host's cgroup2 mount (`/sys/fs/cgroup` on a v2 host, the hybrid
//! `/sys/fs/cgroup/unified` on this v1 build host), with a shell moved
//! into it that opens devices. Needs root and a cgroup2 mount; fails under
//! `CI=true` without them.

#![cfg(target_os = "linux")]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mesos_agent::linux::devices_bpf::{attach, DeviceRule};

fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
    })
}

fn require() -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "needs root"
    } else if let Some(mount) = cgroup2_mount() {
        return Some(mount);
    } else {
        "needs a cgroup2 mount"
    };
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    None
}

#[test]
fn a_process_in_the_cgroup_opens_only_the_allowed_devices() {
    let Some(mount) = require() else {
        return;
    };
    let cgroup = mount.join(format!(
        "mesos_test_devbpf_{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&cgroup).unwrap();
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _remove = Remove(cgroup.clone());
    let rules: Vec<DeviceRule> = ["c *:* m", "c 1:3 rwm", "c 1:5 r"]
        .iter()
        .map(|r| DeviceRule::parse(r).unwrap())
        .collect();
    attach(&cgroup, &rules).unwrap();
    // The shell waits for a line, by which time it is in the cgroup.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(
            "read go; \
             echo x > /dev/null && echo null-rw; \
             head -c1 /dev/zero > /dev/null && echo zero-r; \
             (echo x > /dev/zero) 2>/dev/null && echo zero-w; \
             head -c1 /dev/full > /dev/null 2>&1 && echo full-r; \
             echo done",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::fs::write(cgroup.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // /dev/null (1:3) read-write, /dev/zero (1:5) read only, /dev/full
    // (1:7) not at all.
    assert_eq!(lines, ["null-rw", "zero-r", "done"], "{stdout}");
}
