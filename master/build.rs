//! Records the build facts upstream compiles into libmesos
//! (`src/common/build.hpp`, `src/common/git_version.hpp`), for `/version`
//! and `/master/state`:
//!
//! - `MESOS_BUILD_DATE`: `date '+%Y-%m-%d %H:%M:%S'` in the build host's
//!   local time, as upstream's Makefile passes `BUILD_DATE`;
//! - `MESOS_BUILD_TIME`: seconds since the epoch (`date '+%s'`);
//! - `MESOS_BUILD_USER`: `$USER` of the build (empty when unset, as
//!   upstream's `$$USER` expands);
//! - `MESOS_BUILD_GIT_SHA`, `_BRANCH`, `_TAG`: when building from a git
//!   checkout, `git rev-parse HEAD`, `git symbolic-ref HEAD` and
//!   `git describe --exact --tags`, each empty when git has no answer
//!   (upstream then leaves the key out).
//!
//! `SOURCE_DATE_EPOCH`, when set, is the build time (reproducible builds).
//! The script reruns when the crate's sources or the checked-out commit
//! change, so a rebuilt binary carries fresh values.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=USER");

    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        });
    let date = run("date", &[&format!("-d@{secs}"), "+%Y-%m-%d %H:%M:%S"], None)
        .unwrap_or_else(|| utc_date(secs));
    println!("cargo:rustc-env=MESOS_BUILD_DATE={date}");
    println!("cargo:rustc-env=MESOS_BUILD_TIME={secs}");
    let user = std::env::var("USER").unwrap_or_default();
    println!("cargo:rustc-env=MESOS_BUILD_USER={user}");

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (mut sha, mut branch, mut tag) = (String::new(), String::new(), String::new());
    if let Some(root) = manifest.parent().filter(|root| root.join(".git").exists()) {
        watch_git(&root.join(".git"));
        sha = run("git", &["rev-parse", "HEAD"], Some(root)).unwrap_or_default();
        branch = run("git", &["symbolic-ref", "HEAD"], Some(root)).unwrap_or_default();
        tag = run("git", &["describe", "--exact", "--tags"], Some(root)).unwrap_or_default();
    }
    println!("cargo:rustc-env=MESOS_BUILD_GIT_SHA={sha}");
    println!("cargo:rustc-env=MESOS_BUILD_GIT_BRANCH={branch}");
    println!("cargo:rustc-env=MESOS_BUILD_GIT_TAG={tag}");
}

/// Returns the trimmed standard output of a successful command.
fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty() && !t.contains('\n'))
}

/// Reruns the script when `HEAD`, the branch it points to or the tags move.
/// Only existing paths are named: cargo reruns on every build for a missing
/// one.
fn watch_git(git: &Path) {
    let head = git.join("HEAD");
    let mut paths = vec![head.clone(), git.join("packed-refs"), git.join("refs/tags")];
    if let Ok(text) = std::fs::read_to_string(&head) {
        if let Some(reference) = text.trim().strip_prefix("ref: ") {
            paths.push(git.join(reference));
        }
    }
    for path in paths.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `%Y-%m-%d %H:%M:%S` in UTC, for hosts without GNU `date`.
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
