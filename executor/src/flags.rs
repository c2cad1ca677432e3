//! `mesos-executor` flags: upstream's names and meaning (`Flags` in
//! `src/launcher/executor.cpp`, plus the logging flags).
//!
//! Deliberate difference from the other binaries: these flags are read from
//! the command line only, never from `MESOS_*` variables. Upstream loads
//! them with `flags.load(None(), ...)` for a reason: an executor inherits
//! the agent's environment, whose `MESOS_LOG_DIR`, `MESOS_WORK_DIR`, ...
//! configure the agent, not the executor. The executor's own settings come
//! from the variables the agent sets for it ([`crate::driver::DriverConfig`]).
//!
//! A flag upstream has and we do not is refused by the parser as unknown
//! (as upstream refuses unknown flags); a value we cannot honour yet is
//! refused by [`Flags::validate`] with a message that says so.

use std::path::PathBuf;

use clap::{ArgAction, Parser};
use mesos_proto::mesos::{CommandInfo, Environment};

/// Flags that name paths: their `file://` values are not read.
pub const PATH_FLAGS: &[&str] = &[
    "launcher_dir",
    "rootfs",
    "sandbox_directory",
    "working_directory",
    "tty_slave_path",
    "log_dir",
];

/// Upstream's `PKGLIBEXECDIR` for a default install.
pub const DEFAULT_LAUNCHER_DIR: &str = "/usr/libexec/mesos";

/// An environment prefix no variable can have (names cannot contain NUL),
/// so [`libprocess::flags::prefilter`] reads nothing from the environment.
const NO_ENVIRONMENT: &str = "\0";

/// The command executor's command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mesos-executor",
    rename_all = "snake_case",
    version = crate::VERSION,
    about = "Apache Mesos command executor, reimplemented in Rust"
)]
pub struct Flags {
    /// Directory of the Mesos helper binaries.
    #[arg(long, default_value = DEFAULT_LAUNCHER_DIR)]
    pub launcher_dir: PathBuf,

    /// Root filesystem to run the task in (chrooted).
    #[arg(long)]
    pub rootfs: Option<PathBuf>,

    /// Where the sandbox appears inside the task's root filesystem (only
    /// used with `--rootfs`).
    #[arg(long)]
    pub sandbox_directory: Option<PathBuf>,

    /// Working directory of the task inside its root filesystem (only used
    /// with `--rootfs`).
    #[arg(long)]
    pub working_directory: Option<PathBuf>,

    /// User to run the task as: the executor's own user, or (when it runs
    /// as root, with `--rootfs`) a user of the image the task switches to
    /// after entering it, as upstream's command executor does.
    #[arg(long)]
    pub user: Option<String>,

    /// `CommandInfo` as JSON to run instead of the task's command.
    #[arg(long, value_parser = parse_json::<CommandInfo>)]
    pub task_command: Option<CommandInfo>,

    /// `Environment` as JSON, added to the task's environment before the
    /// command's own variables.
    #[arg(long, value_parser = parse_json::<Environment>)]
    pub task_environment: Option<Environment>,

    /// Capabilities granted to the task; not supported yet.
    #[arg(long)]
    pub effective_capabilities: Option<String>,

    /// Bounding set of the task's capabilities; not supported yet.
    #[arg(long)]
    pub bounding_capabilities: Option<String>,

    /// `ContainerLaunchInfo` for the task; not supported yet.
    #[arg(long)]
    pub task_launch_info: Option<String>,

    /// The slave end of the container's pseudo terminal, when it has one
    /// (set by the agent for a task with `ContainerInfo.tty_info`): the
    /// task then stays in the executor's session, whose controlling
    /// terminal it is, and becomes its foreground process group.
    #[arg(long)]
    pub tty_slave_path: Option<PathBuf>,

    /// Supplementary groups of the task; not supported yet.
    #[arg(long)]
    pub task_supplementary_groups: Option<String>,

    /// Lowest level logged: `INFO`, `WARNING` or `ERROR`.
    #[arg(long, default_value = "INFO")]
    pub logging_level: String,

    /// Directory for log files (logs go to stderr when unset).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,

    /// Log nothing to stderr.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub quiet: bool,
}

/// The default executor's command line (upstream `Flags` in
/// `src/launcher/default_executor.cpp`, plus the logging flags). As for
/// [`Flags`], nothing is read from `MESOS_*` variables.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mesos-default-executor",
    rename_all = "snake_case",
    version = crate::VERSION,
    about = "Apache Mesos default executor, reimplemented in Rust"
)]
pub struct DefaultExecutorFlags {
    /// Directory of the Mesos helper binaries.
    #[arg(long, default_value = DEFAULT_LAUNCHER_DIR)]
    pub launcher_dir: PathBuf,

    /// Lowest level logged: `INFO`, `WARNING` or `ERROR`.
    #[arg(long, default_value = "INFO")]
    pub logging_level: String,

    /// Directory for log files (logs go to stderr when unset).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,

    /// Log nothing to stderr.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub quiet: bool,
}

impl DefaultExecutorFlags {
    /// Parses `args` (the program name first) after stout-style
    /// prefiltering, from the command line only.
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, NO_ENVIRONMENT, PATH_FLAGS)?;
        let flags = Self::try_parse_from(args)?;
        if !["INFO", "WARNING", "ERROR"].contains(&flags.logging_level.as_str()) {
            return Err(FlagError(format!(
                "'{}' is not a valid --logging_level: use INFO, WARNING or ERROR",
                flags.logging_level
            ))
            .into());
        }
        Ok(flags)
    }
}

/// A flag value the executor cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

fn parse_json<M: prost::Message + prost::Name + Default>(value: &str) -> Result<M, String> {
    mesos_proto::json::from_str(value).map_err(|error| error.to_string())
}

impl Flags {
    /// Parses `args` (the program name first) after stout-style
    /// prefiltering, from the command line only.
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, NO_ENVIRONMENT, PATH_FLAGS)?;
        let flags = Self::try_parse_from(args)?;
        flags.validate()?;
        Ok(flags)
    }

    /// Refuses values that are not supported yet.
    pub fn validate(&self) -> Result<(), FlagError> {
        let unsupported =
            |flag: &str, why: &str| Err(FlagError(format!("--{flag} is not supported yet: {why}")));
        if self.working_directory.is_some() && self.rootfs.is_none() {
            return unsupported("working_directory", "it only applies with --rootfs");
        }
        if let Some(user) = &self.user {
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            let switches = root && self.rootfs.is_some();
            if !(is_current_user(user) || switches) {
                return unsupported(
                    "user",
                    &format!(
                        "the task would have to switch to user '{user}': only a root executor \
                         with --rootfs switches users; run the executor as that user instead"
                    ),
                );
            }
        }
        let others = [
            (
                "effective_capabilities",
                self.effective_capabilities.is_some(),
            ),
            (
                "bounding_capabilities",
                self.bounding_capabilities.is_some(),
            ),
            ("task_launch_info", self.task_launch_info.is_some()),
            (
                "task_supplementary_groups",
                self.task_supplementary_groups.is_some(),
            ),
        ];
        if let Some((flag, _)) = others.iter().find(|(_, set)| *set) {
            return unsupported(
                flag,
                "the task is launched without the container launch helper",
            );
        }
        if !["INFO", "WARNING", "ERROR"].contains(&self.logging_level.as_str()) {
            return Err(FlagError(format!(
                "'{}' is not a valid --logging_level: use INFO, WARNING or ERROR",
                self.logging_level
            )));
        }
        Ok(())
    }
}

impl Flags {
    /// The user the task switches to (`--user`, when it is not the
    /// executor's own).
    pub fn task_user(&self) -> Option<String> {
        self.user.clone().filter(|user| !is_current_user(user))
    }
}

/// Returns whether `user` names the effective user of this process.
fn is_current_user(user: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(user) else {
        return false;
    };
    let mut passwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `name` is NUL-terminated,
    // `passwd` and `result` are writable, and `buffer` has the length given.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            passwd.as_mut_ptr(),
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return false;
    }
    // SAFETY: getpwnam_r succeeded and set `result`, so `passwd` is
    // initialized; `geteuid` has no preconditions.
    unsafe { passwd.assume_init().pw_uid == libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, anyhow::Error> {
        Flags::parse_from_args(
            std::iter::once("mesos-executor")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn defaults_are_upstreams() {
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.launcher_dir, PathBuf::from("/usr/libexec/mesos"));
        assert!(flags.user.is_none());
        assert!(!flags.quiet);
        let flags = parse(&[
            "--launcher_dir=/opt/mesos",
            "--sandbox_directory=/mnt/mesos/sandbox",
        ])
        .unwrap();
        assert_eq!(flags.launcher_dir, PathBuf::from("/opt/mesos"));
    }

    #[test]
    fn unsupported_values_are_refused_with_a_reason() {
        let error = parse(&["--working_directory=/srv"]).unwrap_err();
        assert!(
            error.to_string().contains("only applies with --rootfs"),
            "{error}"
        );
        assert!(parse(&["--rootfs=/var/lib/image", "--working_directory=/srv"]).is_ok());
        let error = parse(&["--user=no-such-user-mesos-rs"]).unwrap_err();
        assert!(
            error.to_string().contains("--user is not supported yet"),
            "{error}"
        );
        let error = parse(&["--task_launch_info={}"]).unwrap_err();
        assert!(error.to_string().contains("--task_launch_info"), "{error}");
        assert_eq!(
            parse(&["--tty_slave_path=/dev/pts/3"])
                .unwrap()
                .tty_slave_path,
            Some(PathBuf::from("/dev/pts/3"))
        );
        assert!(parse(&["--no_such_flag=1"]).is_err());
    }

    #[test]
    fn default_executor_takes_the_launcher_dir_only() {
        let parse = |args: &[&str]| {
            DefaultExecutorFlags::parse_from_args(
                std::iter::once("mesos-default-executor")
                    .chain(args.iter().copied())
                    .map(String::from),
            )
        };
        let flags = parse(&["--launcher_dir=/opt/mesos"]).unwrap();
        assert_eq!(flags.launcher_dir, PathBuf::from("/opt/mesos"));
        assert_eq!(
            parse(&[]).unwrap().launcher_dir,
            PathBuf::from(DEFAULT_LAUNCHER_DIR)
        );
        assert!(parse(&["--task_command={}"]).is_err());
        assert!(parse(&["--logging_level=DEBUG"]).is_err());
    }

    #[test]
    fn task_command_and_environment_are_json() {
        let flags = parse(&[
            r#"--task_command={"shell":false,"value":"/bin/echo","arguments":["echo","hi"]}"#,
            r#"--task_environment={"variables":[{"name":"A","value":"1"}]}"#,
        ])
        .unwrap();
        let command = flags.task_command.unwrap();
        assert!(!command.shell());
        assert_eq!(command.arguments, ["echo", "hi"]);
        assert_eq!(flags.task_environment.unwrap().variables[0].name, "A");
        assert!(parse(&["--task_command=not json"]).is_err());
    }
}
