//! Container-specific cgroup mounts (upstream `CgroupsIsolatorProcess::
//! __prepare`, Mesos 1.7+): a container with an image rootfs sees its own
//! cgroups, not the host's, under `/sys/fs/cgroup` (where
//! `filesystem/linux` mounts a tmpfs). On v1 each hierarchy of the
//! isolator's subsystem is bind-mounted at `/sys/fs/cgroup/<hierarchy's
//! name>`, the container's cgroup as its root; a comounted hierarchy
//! (`cpu,cpuacct`) is mounted again under each controller's name where
//! upstream makes symbolic links. With the linux launcher the container's
//! freezer cgroup is mounted too (MESOS-9070). On v2 the container's
//! cgroup is the root of `/sys/fs/cgroup`.
//!
//! Every cgroups isolator asks for the mounts of its own subsystem, and
//! each for the freezer's (or the v2 one); the containerizer keeps the
//! first mount of each target.

use std::path::Path;

use mesos_proto::mesos::slave::ContainerMountInfo;

use super::{CgroupsConfig, Subsystem};
use crate::containerizer::mesos::launcher::linux::container_cgroup;
use crate::linux::{cgroups, cgroups2, Hierarchy};

/// A container's cgroup mounts inside `rootfs`: `container_id`'s
/// launcher (freezer) cgroup, and the isolator's cgroup of `owner` (the
/// container itself, or the root container whose cgroups a nested one
/// shares). A nested container's own launcher cgroup does not exist
/// yet; the cgroups it shares do, unless the root container was
/// recovered from before the agent ran this isolator: those are left out.
pub(super) fn container_mounts(
    subsystem: Subsystem,
    config: &CgroupsConfig,
    container_id: &str,
    owner: &str,
    rootfs: &Path,
) -> Vec<ContainerMountInfo> {
    let target = |name: &str| rootfs.join("sys/fs/cgroup").join(name);
    let bind = |source: &Path, target: &Path| ContainerMountInfo {
        source: Some(source.display().to_string()),
        target: target.display().to_string(),
        r#type: None,
        flags: Some((libc::MS_BIND | libc::MS_REC) as u32),
        options: None,
    };
    let mut mounts: Vec<ContainerMountInfo> = Vec::new();
    let mut push = |mount: ContainerMountInfo| {
        if !mounts.iter().any(|m| m.target == mount.target) {
            mounts.push(mount);
        }
    };
    match &config.hierarchy {
        Hierarchy::V1(hierarchies) => {
            let cgroup = config.cgroup(owner);
            for controller in subsystem.v1_controllers() {
                let Some(hierarchy) = hierarchies.get(controller) else {
                    continue;
                };
                let source = cgroups::path(hierarchy, &cgroup);
                if container_id != owner && !source.is_dir() {
                    continue;
                }
                let name = hierarchy
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| controller.to_string());
                push(bind(&source, &target(&name)));
                if name != *controller {
                    push(bind(&source, &target(controller)));
                }
            }
            if config.linux_launcher {
                if let Some(freezer) = hierarchies.get("freezer") {
                    let source =
                        cgroups::path(freezer, &container_cgroup(&config.root, container_id));
                    push(bind(&source, &target("freezer")));
                }
            }
        }
        Hierarchy::V2(root) => {
            let source = cgroups2::path(root, &container_cgroup(&config.root, container_id));
            push(bind(&source, &rootfs.join("sys/fs/cgroup")));
        }
    }
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hierarchy: Hierarchy) -> CgroupsConfig {
        CgroupsConfig {
            hierarchy,
            mount_root: "/sys/fs/cgroup".into(),
            root: "mesos".into(),
            enable_cfs: false,
            limit_swap: false,
            revocable_cpu_low_priority: true,
            allowed_devices: vec![],
            linux_launcher: true,
            destroy_timeout: std::time::Duration::from_secs(60),
            cpu_pids_and_tids_count: false,
            net_cls: Default::default(),
            perf: Default::default(),
        }
    }

    fn targets(mounts: &[ContainerMountInfo]) -> Vec<(String, String)> {
        mounts
            .iter()
            .map(|m| (m.source.clone().unwrap_or_default(), m.target.clone()))
            .collect()
    }

    #[test]
    fn v1_hierarchies_are_mounted_by_name_and_comounted_ones_under_each_controller() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().display().to_string();
        let mountinfo = format!(
            "30 25 0:26 / {base}/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpu,cpuacct\n\
             31 25 0:27 / {base}/memory rw,nosuid shared:12 - cgroup cgroup rw,memory\n\
             32 25 0:28 / {base}/freezer rw,nosuid shared:13 - cgroup cgroup rw,freezer\n"
        );
        let config = config(Hierarchy::V1(cgroups::Hierarchies::from_mountinfo(
            &mountinfo,
        )));
        let rootfs = Path::new("/rootfs");
        let expect = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(s, t)| (format!("{base}/{s}"), t.to_string()))
                .collect()
        };
        assert_eq!(
            targets(&container_mounts(
                Subsystem::Cpu,
                &config,
                "c1",
                "c1",
                rootfs
            )),
            expect(&[
                ("cpu,cpuacct/mesos/c1", "/rootfs/sys/fs/cgroup/cpu,cpuacct"),
                ("cpu,cpuacct/mesos/c1", "/rootfs/sys/fs/cgroup/cpu"),
                ("cpu,cpuacct/mesos/c1", "/rootfs/sys/fs/cgroup/cpuacct"),
                ("freezer/mesos/c1", "/rootfs/sys/fs/cgroup/freezer"),
            ])
        );
        // A nested container sharing its root's cgroups sees the root's
        // (once they exist), and its own freezer cgroup (the launcher
        // nests it; it is made at the launch).
        let nested = || {
            targets(&container_mounts(
                Subsystem::Mem,
                &config,
                "c1.n1",
                "c1",
                rootfs,
            ))
        };
        assert_eq!(
            nested(),
            expect(&[("freezer/mesos/c1/mesos/n1", "/rootfs/sys/fs/cgroup/freezer")])
        );
        std::fs::create_dir_all(dir.path().join("memory/mesos/c1")).expect("fixture");
        assert_eq!(
            nested(),
            expect(&[
                ("memory/mesos/c1", "/rootfs/sys/fs/cgroup/memory"),
                ("freezer/mesos/c1/mesos/n1", "/rootfs/sys/fs/cgroup/freezer"),
            ])
        );
    }

    #[test]
    fn on_v2_the_containers_cgroup_is_the_root_of_sys_fs_cgroup() {
        let config = config(Hierarchy::V2("/sys/fs/cgroup".into()));
        assert_eq!(
            targets(&container_mounts(
                Subsystem::Mem,
                &config,
                "c1.n1",
                "c1",
                Path::new("/rootfs")
            )),
            [(
                "/sys/fs/cgroup/mesos/c1/mesos/n1".to_string(),
                "/rootfs/sys/fs/cgroup".to_string()
            )]
        );
    }
}
