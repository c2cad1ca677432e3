//! The agent's total resources and attributes from its flags (upstream
//! `Containerizer::resources` and `Attributes::parse`).
//!
//! Resources not given in `--resources` are detected as upstream does:
//! `cpus` from the online CPUs; `mem` from the total memory, leaving 1 GB
//! to the system (half of it below 2 GB); `disk` from the work_dir's file
//! system, leaving 5 GB (half below 10 GB); `ports` `[31000-32000]`.

use std::path::Path;

use mesos_proto::mesos::{value, Attribute, Value};
use mesos_proto::resources::Resources;

const MB: u64 = 1024 * 1024;
const GB: u64 = 1024 * MB;

/// Returns the machine's total memory in bytes (`MemTotal` of `/proc/meminfo`).
pub(crate) fn memory_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn disk_total(path: &Path) -> Option<u64> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: `statvfs` writes into the zeroed struct we own and reads the
    // NUL-terminated path; both live for the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_blocks as u64 * stat.f_frsize as u64)
}

/// Returns the agent's total resources: `--resources` plus detected
/// defaults for what it leaves out.
pub fn agent_resources(
    flag: Option<&str>,
    default_role: &str,
    work_dir: &Path,
) -> anyhow::Result<Resources> {
    let mut resources = match flag {
        Some(text) => Resources::parse(text, default_role)?,
        None => Resources::new(),
    };
    let names = resources.names();
    let mut defaults = Vec::new();
    if !names.contains("cpus") {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        defaults.push(format!("cpus:{cpus}"));
    }
    if !names.contains("mem") {
        let total = memory_total().unwrap_or(GB);
        let mem = if total >= 2 * GB {
            total - GB
        } else {
            total / 2
        };
        defaults.push(format!("mem:{}", mem / MB));
    }
    if !names.contains("disk") {
        std::fs::create_dir_all(work_dir).ok();
        let total = disk_total(work_dir).unwrap_or(10 * GB);
        let disk = if total >= 10 * GB {
            total - 5 * GB
        } else {
            total / 2
        };
        defaults.push(format!("disk:{}", disk / MB));
    }
    if !names.contains("ports") {
        defaults.push("ports:[31000-32000]".into());
    }
    if !defaults.is_empty() {
        resources += &Resources::parse(&defaults.join(";"), default_role)?;
    }
    Ok(resources)
}

/// Parses `--attributes` (`name:value;...`; scalars, ranges, sets, text).
pub fn parse_attributes(text: &str) -> anyhow::Result<Vec<Attribute>> {
    let mut attributes = Vec::new();
    for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, raw) = item
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("invalid attribute '{item}': expecting name:value"))?;
        let parsed: Value = mesos_proto::values::parse(raw)?;
        let mut attribute = Attribute {
            name: name.trim().to_string(),
            r#type: parsed.r#type,
            ..Default::default()
        };
        match parsed.r#type() {
            value::Type::Scalar => attribute.scalar = parsed.scalar,
            value::Type::Ranges => attribute.ranges = parsed.ranges,
            value::Type::Set => attribute.set = parsed.set,
            value::Type::Text => attribute.text = parsed.text,
        }
        attributes.push(attribute);
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_resources_are_kept_and_the_rest_detected() {
        let dir = tempfile::tempdir().unwrap();
        let resources = agent_resources(Some("cpus:3;mem:100"), "*", dir.path()).unwrap();
        assert_eq!(resources.cpus(), Some(3.0));
        assert_eq!(resources.mem(), Some(100 * MB));
        assert!(resources.disk().is_some());
        assert!(resources.ports().is_some());
    }

    #[test]
    fn attributes_parse_by_type() {
        let attributes = parse_attributes("rack:r1;level:3;ports:[1-2]").unwrap();
        assert_eq!(attributes[0].text.as_ref().unwrap().value, "r1");
        assert_eq!(attributes[1].scalar.as_ref().unwrap().value, 3.0);
        assert!(attributes[2].ranges.is_some());
        assert!(parse_attributes("nocolon").is_err());
    }
}
