//! Small OS helpers shared by every component.

use std::io::Write as _;
use std::path::Path;

/// Replaces `path` with `data` atomically (temporary file, then rename)
/// and durably: the file and its directory are synced before this
/// returns, so a checkpoint survives the machine's crash.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    replace(path, data, true)
}

/// Replaces `path` with `data` atomically but without syncing: for state
/// that only has to outlive the process that writes it, not the machine
/// (the containerizer's runtime directory, meant for a tmpfs and thrown
/// away at reboot, as upstream's). A reader sees the old or the new
/// contents, never a part.
pub fn write_replace(path: &Path, data: &[u8]) -> std::io::Result<()> {
    replace(path, data, false)
}

fn replace(path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(data)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&temp, path)?;
        if sync {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Returns this host's name (`/proc/sys/kernel/hostname`).
pub fn hostname() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn atomic_write_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state");
        super::write_atomic(&path, b"first version").unwrap();
        super::write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
    }
}
