//! Parsing of `/proc/<pid>/mountinfo` and `/proc/<pid>/cgroup`.
//!
//! Upstream counterpart: `src/linux/fs.cpp` (`MountInfoTable`) and the
//! hierarchy lookups of `src/linux/cgroups.cpp` (`cgroups::hierarchies`,
//! `cgroups::hierarchy(subsystem)`) and `src/linux/cgroups2.cpp`
//! (`cgroups2::mounted`). Pure text parsing: the caller reads the files from
//! the `/proc` root it was given, so tests can feed a fixture.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One line of `/proc/<pid>/mountinfo` (see `proc(5)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Unique id of the mount.
    pub id: u32,
    /// Id of the parent mount.
    pub parent: u32,
    /// `major:minor` of the device.
    pub device: String,
    /// Root of the mount within its filesystem.
    pub root: PathBuf,
    /// Mount point relative to the process's root.
    pub target: PathBuf,
    /// Per-mount options (`rw,relatime`).
    pub options: String,
    /// Filesystem type (`cgroup`, `cgroup2`, `ext4`).
    pub fs_type: String,
    /// Mount source (`cgroup`, `/dev/sda1`).
    pub source: String,
    /// Per-superblock options (for cgroup v1 these name the controllers).
    pub super_options: String,
}

impl MountEntry {
    /// For a cgroup v1 mount, the controllers it carries (`cpu`,
    /// `cpuacct`, `name=systemd`); empty for any other filesystem.
    pub fn cgroup_controllers(&self) -> Vec<String> {
        if self.fs_type != "cgroup" {
            return Vec::new();
        }
        self.super_options
            .split(',')
            .filter(|option| {
                !V1_MOUNT_OPTIONS.contains(option) && !option.contains("release_agent")
            })
            .map(str::to_owned)
            .collect()
    }
}

/// Super options of a v1 cgroup mount that are not controller names.
const V1_MOUNT_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
];

/// Parses the text of a mountinfo file. Malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split_whitespace();
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let device = fields.next()?.to_owned();
    let root = PathBuf::from(unescape(fields.next()?));
    let target = PathBuf::from(unescape(fields.next()?));
    let options = fields.next()?.to_owned();
    // Optional fields (`shared:1 master:2`) end with a lone "-".
    for field in fields.by_ref() {
        if field == "-" {
            break;
        }
    }
    let fs_type = fields.next()?.to_owned();
    let source = unescape(fields.next().unwrap_or(""));
    let super_options = fields.next().unwrap_or("").to_owned();
    Some(MountEntry {
        id,
        parent,
        device,
        root,
        target,
        options,
        fs_type,
        source,
        super_options,
    })
}

/// Decodes the octal escapes (`\040` for a space) the kernel writes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The v1 hierarchies: controller name to mount point. When a controller is
/// mounted more than once the first mount wins. Named hierarchies appear as
/// `name=systemd`.
pub fn cgroup_v1_hierarchies(entries: &[MountEntry]) -> BTreeMap<String, PathBuf> {
    let mut hierarchies = BTreeMap::new();
    for entry in entries {
        for controller in entry.cgroup_controllers() {
            hierarchies
                .entry(controller)
                .or_insert_with(|| entry.target.clone());
        }
    }
    hierarchies
}

/// The mount point of the first cgroup2 (unified) hierarchy, if any.
pub fn cgroup2_mount(entries: &[MountEntry]) -> Option<PathBuf> {
    entries
        .iter()
        .find(|entry| entry.fs_type == "cgroup2")
        .map(|entry| entry.target.clone())
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessCgroup {
    /// Hierarchy id (0 for the v2 unified hierarchy).
    pub hierarchy_id: u32,
    /// Controllers of the hierarchy (empty for v2).
    pub controllers: Vec<String>,
    /// The cgroup, relative to the hierarchy's root, with a leading `/`.
    pub path: String,
}

/// Parses the text of a `/proc/<pid>/cgroup` file. Malformed lines are
/// skipped.
pub fn parse_process_cgroups(text: &str) -> Vec<ProcessCgroup> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy_id = parts.next()?.parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.to_owned();
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some(ProcessCgroup {
                hierarchy_id,
                controllers,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 8:1 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";

    #[test]
    fn v1_hierarchies_are_found_per_controller() {
        let entries = parse(HYBRID);
        assert_eq!(entries.len(), 8);
        let hierarchies = cgroup_v1_hierarchies(&entries);
        assert_eq!(
            hierarchies.get("cpu"),
            Some(&PathBuf::from("/sys/fs/cgroup/cpu"))
        );
        assert_eq!(
            hierarchies.get("memory"),
            Some(&PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            hierarchies.get("name=systemd"),
            Some(&PathBuf::from("/sys/fs/cgroup/systemd"))
        );
        assert!(!hierarchies.contains_key("rw"));
        assert!(!hierarchies.contains_key("xattr"));
        assert_eq!(
            cgroup2_mount(&entries),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn co_mounted_controllers_share_a_hierarchy() {
        let entries =
            parse("32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
        let hierarchies = cgroup_v1_hierarchies(&entries);
        assert_eq!(hierarchies.get("cpu"), hierarchies.get("cpuacct"));
    }

    #[test]
    fn octal_escapes_are_decoded() {
        let entries = parse(HYBRID);
        assert_eq!(entries[7].target, PathBuf::from("/mnt/with space"));
        assert_eq!(entries[7].source, "/dev/sda1");
    }

    #[test]
    fn process_cgroups_are_parsed() {
        let cgroups =
            parse_process_cgroups("4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/user.slice\n");
        assert_eq!(cgroups.len(), 3);
        assert_eq!(cgroups[0].controllers, vec!["memory"]);
        assert_eq!(cgroups[0].path, "/process_api/x");
        assert_eq!(cgroups[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(cgroups[2].hierarchy_id, 0);
        assert!(cgroups[2].controllers.is_empty());
        assert_eq!(cgroups[2].path, "/user.slice");
    }
}
