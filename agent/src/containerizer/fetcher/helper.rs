//! The `mesos-fetcher` program (upstream `src/launcher/fetcher.cpp`):
//! the agent's [`FetcherProcess`](super::FetcherProcess) runs it once per
//! container with a JSON `mesos.fetcher.FetcherInfo` in the environment
//! variable `MESOS_FETCHER_INFO`, its stdout and stderr appended to the
//! sandbox's `stdout` and `stderr`. For each item it downloads the URI
//! (into the sandbox, or into the cache and then from there), then makes
//! it executable or extracts it, or renames it to `output_file`. It exits
//! 0 when every URI was fetched; otherwise it logs `Failed to fetch
//! '<uri>': <cause>` and exits 1.
//!
//! Local paths and `file://` are copied; `http://` is downloaded by
//! [`http`](super::http), `https://`, `ftp://` and `ftps://` by the system
//! `curl`. Other schemes (upstream hands them to the Hadoop client) are
//! refused with a message that says so. Archives are extracted by the
//! system programs: `tar -xf` (`.tar .tgz .tar.gz .tbz2 .tar.bz2 .txz
//! .tar.xz`; GNU tar detects the compression), `unzip` (`.zip`) and
//! `gunzip -c` (`.gz`), as the fetcher did before upstream moved to
//! libarchive. Every download goes to a hidden temporary name beside its
//! destination and is renamed there once complete.
//!
//! With `FetcherInfo.user` (the container's user under `--switch_user`)
//! and run as root, the program makes the user's cache directory the
//! user's and becomes the user before fetching, as upstream, so what
//! lands in the sandbox is the user's.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mesos_proto::mesos::command_info::Uri;
use mesos_proto::mesos::fetcher::fetcher_info::item::Action;
use mesos_proto::mesos::fetcher::fetcher_info::Item;
use mesos_proto::mesos::fetcher::FetcherInfo;

use super::{basename, http, uri_to_local_path, LocalPath, FETCHER_INFO_ENV};

/// Runs the program: logging to stderr, the info from the environment.
/// Returns the exit code.
pub fn main() -> i32 {
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let Ok(json) = std::env::var(FETCHER_INFO_ENV) else {
        tracing::error!("Missing {FETCHER_INFO_ENV} environment variable");
        return 1;
    };
    tracing::info!(fetcher_info = %json, "Fetcher Info");
    let info = match mesos_proto::json::from_str::<FetcherInfo>(&json) {
        Ok(info) => info,
        Err(error) => {
            tracing::error!(%error, "Failed to parse {FETCHER_INFO_ENV}");
            return 1;
        }
    };
    if let Err(error) = become_user(&info) {
        tracing::error!("{error}");
        return 1;
    }
    match run(&info) {
        Ok(()) => {
            tracing::info!(
                "Successfully fetched all URIs into '{}'",
                info.sandbox_directory
            );
            0
        }
        Err(error) => {
            tracing::error!("{error}");
            1
        }
    }
}

/// Gives the cache directory to `info.user` and becomes that user (only
/// as root; otherwise the fetch runs as who runs it).
fn become_user(info: &FetcherInfo) -> Result<(), String> {
    let Some(user) = info.user.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    if let Some(cache) = info.cache_directory.as_deref() {
        std::fs::create_dir_all(cache)
            .map_err(|e| format!("Could not create the fetcher cache directory '{cache}': {e}"))?;
        crate::containerizer::mesos::launch::chown_recursive(Path::new(cache), user)?;
    }
    crate::containerizer::mesos::launch::switch_user(user)
        .map_err(|e| format!("Failed to become user '{user}' to fetch: {e}"))
}

/// Fetches every item of `info`; the error names the URI that failed.
pub fn run(info: &FetcherInfo) -> Result<(), String> {
    if info.sandbox_directory.is_empty() {
        return Err("Missing sandbox directory".into());
    }
    let sandbox = Path::new(&info.sandbox_directory);
    let cache = info.cache_directory.as_deref().map(Path::new);
    if info.items.iter().any(|i| i.action() != Action::BypassCache) {
        if let Some(cache) = cache {
            std::fs::create_dir_all(cache).map_err(|e| {
                format!(
                    "Could not create the fetcher cache directory '{}': {e}",
                    cache.display()
                )
            })?;
        }
    }
    let home = info.frameworks_home.as_deref();
    let stall = info
        .stall_timeout
        .as_ref()
        .map(|d| Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or_default()));
    for item in &info.items {
        let uri = &item.uri.value;
        tracing::info!("Fetching URI '{uri}'");
        match fetch(item, cache, sandbox, home, stall) {
            Ok(path) => tracing::info!("Fetched '{uri}' to '{}'", path.display()),
            Err(error) => return Err(format!("Failed to fetch '{uri}': {error}")),
        }
    }
    Ok(())
}

fn fetch(
    item: &Item,
    cache: Option<&Path>,
    sandbox: &Path,
    home: Option<&str>,
    stall: Option<Duration>,
) -> Result<PathBuf, String> {
    if item.action() == Action::BypassCache {
        tracing::info!("Fetching directly into the sandbox directory");
        let destination = destination(&item.uri, sandbox)?;
        download(&item.uri.value, &destination, home, stall)?;
        return finish(&item.uri, &destination, sandbox);
    }
    let cache = cache
        .filter(|c| !c.as_os_str().is_empty())
        .ok_or("Cache directory not specified")?;
    let filename = item
        .cache_filename
        .as_deref()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("No cache file name for: {}", item.uri.value))?;
    let cached = cache.join(filename);
    if item.action() == Action::DownloadAndCache {
        tracing::info!("Downloading into cache");
        download(&item.uri.value, &cached, home, stall)?;
    }
    tracing::info!("Fetching from cache");
    let destination = destination(&item.uri, sandbox)?;
    if item.uri.executable() {
        copy(&cached, &destination)?;
        chmod_executable(&destination)?;
        return Ok(destination);
    }
    if item.uri.extract() {
        if extract(&cached, sandbox)? {
            return Ok(sandbox.to_path_buf());
        }
        tracing::warn!(
            "Copying instead of extracting resource from URI with 'extract' flag, because it \
             does not seem to be an archive: {}",
            item.uri.value
        );
    }
    copy(&cached, &destination)?;
    Ok(destination)
}

/// Where a URI lands in the sandbox: `output_file` (its directories
/// made), else the URI's basename.
fn destination(uri: &Uri, sandbox: &Path) -> Result<PathBuf, String> {
    match uri.output_file.as_deref() {
        Some(output) => {
            let path = sandbox.join(output);
            if let Some(parent) = path.parent().filter(|p| *p != sandbox) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    format!(
                        "Unable to create subdirectory {} in sandbox: {e}",
                        parent.display()
                    )
                })?;
            }
            Ok(path)
        }
        None => Ok(sandbox.join(basename(&uri.value)?)),
    }
}

/// After a direct download: chmod, or extract.
fn finish(uri: &Uri, path: &Path, sandbox: &Path) -> Result<PathBuf, String> {
    if uri.executable() {
        chmod_executable(path)?;
    } else if uri.extract() && !extract(path, sandbox)? {
        tracing::warn!(
            "Copying instead of extracting resource from URI with 'extract' flag, because it \
             does not seem to be an archive: {}",
            uri.value
        );
    }
    Ok(path.to_path_buf())
}

/// A hidden name beside `destination` that a download is written to
/// before the rename.
fn temporary(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    destination.with_file_name(format!(".{name}.{}.fetching", std::process::id()))
}

/// Gets `uri` (trimmed of leading whitespace) into `destination` through a
/// temporary name.
fn download(
    uri: &str,
    destination: &Path,
    home: Option<&str>,
    stall: Option<Duration>,
) -> Result<(), String> {
    let uri = uri.trim_start();
    basename(uri)?;
    let partial = temporary(destination);
    let fetched = match uri_to_local_path(uri, home)? {
        LocalPath::Path(source) => std::fs::copy(&source, &partial)
            .map(drop)
            .map_err(|e| format!("Failed to copy '{}': {e}", source.display())),
        LocalPath::Remote if super::is_net_uri(uri) => {
            tracing::info!(
                "Downloading resource from '{uri}' to '{}'",
                destination.display()
            );
            match http::download(uri, &partial, stall) {
                Ok(code) => {
                    let ftp = uri.starts_with("ftp://") || uri.starts_with("ftps://");
                    let expected = if ftp { 226 } else { 200 };
                    if code == expected {
                        Ok(())
                    } else if ftp {
                        Err(format!(
                            "Error downloading resource, received FTP return code {code}"
                        ))
                    } else {
                        Err(format!(
                            "Error downloading resource, received HTTP return code {code}"
                        ))
                    }
                }
                Err(error) => Err(format!("Error downloading resource: {error}")),
            }
        }
        LocalPath::Remote => Err(super::unsupported_scheme(uri)),
    };
    if let Err(error) = fetched {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, destination).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!(
            "Failed to rename the download to '{}': {e}",
            destination.display()
        )
    })
}

/// Copies a cache file into the sandbox, through a temporary name.
fn copy(source: &Path, destination: &Path) -> Result<(), String> {
    let partial = temporary(destination);
    std::fs::copy(source, &partial)
        .and_then(|_| std::fs::rename(&partial, destination))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            format!(
                "Failed to copy '{}' to '{}': {e}",
                source.display(),
                destination.display()
            )
        })
}

fn chmod_executable(path: &Path) -> Result<(), String> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("Failed to chmod executable '{}': {e}", path.display()))
}

/// The archive suffixes `tar` extracts.
const TAR_SUFFIXES: &[&str] = &[
    ".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz",
];

/// Extracts `source` into `directory` when its name says it is an
/// archive; returns whether it did.
fn extract(source: &Path, directory: &Path) -> Result<bool, String> {
    let name = source.to_string_lossy();
    let mut command;
    let mut output = None;
    if TAR_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        command = Command::new("tar");
        command.arg("-C").arg(directory).arg("-xf").arg(source);
    } else if name.ends_with(".zip") {
        command = Command::new("unzip");
        command
            .arg("-o")
            .arg("-q")
            .arg("-d")
            .arg(directory)
            .arg(source);
    } else if let Some(stem) = name.strip_suffix(".gz") {
        let filename = Path::new(stem)
            .file_name()
            .ok_or_else(|| format!("Failed to extract '{name}': no file name"))?;
        let destination = directory.join(filename);
        let file = std::fs::File::create(&destination)
            .map_err(|e| format!("Failed to create '{}': {e}", destination.display()))?;
        output = Some(file);
        command = Command::new("gunzip");
        command.arg("-d").arg("-c").arg(source);
    } else {
        return Ok(false);
    }
    command.stdin(Stdio::null()).stderr(Stdio::inherit());
    match output {
        Some(file) => command.stdout(file),
        // The extractor's own output goes to the sandbox's stdout.
        None => command.stdout(Stdio::inherit()),
    };
    let shown = format!("{command:?}").replace('"', "");
    let status = command
        .status()
        .map_err(|e| format!("Failed to extract '{name}': '{shown}' failed: {e}"))?;
    if !status.success() {
        return Err(format!(
            "Failed to extract '{name}': '{shown}' failed: {status}"
        ));
    }
    tracing::info!("Extracted '{name}' into '{}'", directory.display());
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn item(value: &str) -> Item {
        Item {
            uri: Uri {
                value: value.into(),
                ..Default::default()
            },
            action: Action::BypassCache as i32,
            cache_filename: None,
        }
    }

    fn info(sandbox: &Path, items: Vec<Item>) -> FetcherInfo {
        FetcherInfo {
            sandbox_directory: sandbox.display().to_string(),
            items,
            ..Default::default()
        }
    }

    #[test]
    fn local_paths_are_copied_and_made_executable() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("script.sh");
        std::fs::write(&source, "echo hi\n").unwrap();
        let sandbox = dir.path().join("sandbox");
        std::fs::create_dir(&sandbox).unwrap();
        let mut script = item(&format!("file://{}", source.display()));
        script.uri.executable = Some(true);
        let mut renamed = item(&source.display().to_string());
        renamed.uri.output_file = Some("sub/renamed".into());
        run(&info(&sandbox, vec![script, renamed])).unwrap();
        let mode = std::fs::metadata(sandbox.join("script.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_to_string(sandbox.join("sub/renamed")).unwrap(),
            "echo hi\n"
        );
        // Nothing temporary is left behind.
        let names: Vec<_> = std::fs::read_dir(&sandbox)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn gz_files_are_gunzipped() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("data.txt");
        std::fs::write(&source, "payload\n").unwrap();
        assert!(Command::new("gzip")
            .arg(&source)
            .status()
            .unwrap()
            .success());
        let sandbox = dir.path().join("sandbox");
        std::fs::create_dir(&sandbox).unwrap();
        let gz = format!("{}.gz", source.display());
        run(&info(&sandbox, vec![item(&gz)])).unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.join("data.txt")).unwrap(),
            "payload\n"
        );
    }

    #[test]
    fn errors_name_the_uri_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let error = run(&info(dir.path(), vec![item("/no/such/file")])).unwrap_err();
        assert!(
            error.starts_with("Failed to fetch '/no/such/file': "),
            "{error}"
        );
        assert!(error.contains("No such file or directory"), "{error}");
        let error = run(&info(dir.path(), vec![item("hdfs://nn/x")])).unwrap_err();
        assert!(error.contains("'hdfs://' is not supported"), "{error}");
        let error = run(&info(dir.path(), vec![item("relative/x")])).unwrap_err();
        assert!(
            error.contains("Mesos framework home was not specified"),
            "{error}"
        );
    }
}
