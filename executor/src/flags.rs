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
//!
//! The executors parse their few flags here rather than with clap, which
//! the other binaries use: clap's code, all of it touched at every start,
//! was about 0.3 MB of each executor's resident memory, paid once per
//! running task. The command line is taken as clap took it (`--flag=value`
//! or `--flag value`, `--quiet` alone for true), and help, version and
//! error messages are clap's, word for word.

use std::path::PathBuf;

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

/// The command executor's command line (each flag's help is in
/// `COMMAND_EXECUTOR` below).
#[derive(Debug, Clone)]
pub struct Flags {
    /// `--launcher_dir`: directory of the Mesos helper binaries.
    pub launcher_dir: PathBuf,
    /// `--rootfs`: root filesystem to run the task in (chrooted).
    pub rootfs: Option<PathBuf>,
    /// `--sandbox_directory`: where the sandbox appears inside the task's
    /// root filesystem (only used with `--rootfs`).
    pub sandbox_directory: Option<PathBuf>,
    /// `--working_directory`: working directory of the task inside its
    /// root filesystem (only used with `--rootfs`).
    pub working_directory: Option<PathBuf>,
    /// `--user`: the executor's own user, or (when it runs as root, with
    /// `--rootfs`) a user of the image the task switches to after entering
    /// it, as upstream's command executor does.
    pub user: Option<String>,
    /// `--task_command`: `CommandInfo` to run instead of the task's command.
    pub task_command: Option<CommandInfo>,
    /// `--task_environment`: added to the task's environment before the
    /// command's own variables.
    pub task_environment: Option<Environment>,
    /// `--effective_capabilities`: not supported yet.
    pub effective_capabilities: Option<String>,
    /// `--bounding_capabilities`: not supported yet.
    pub bounding_capabilities: Option<String>,
    /// `--task_launch_info`: not supported yet.
    pub task_launch_info: Option<String>,
    /// `--tty_slave_path`: the slave end of the container's pseudo
    /// terminal, when it has one (set by the agent for a task with
    /// `ContainerInfo.tty_info`): the task then stays in the executor's
    /// session, whose controlling terminal it is, and becomes its
    /// foreground process group.
    pub tty_slave_path: Option<PathBuf>,
    /// `--task_supplementary_groups`: not supported yet.
    pub task_supplementary_groups: Option<String>,
    /// `--logging_level`: `INFO`, `WARNING` or `ERROR`.
    pub logging_level: String,
    /// `--log_dir`: directory for log files (stderr when unset).
    pub log_dir: Option<PathBuf>,
    /// `--quiet`: log nothing to stderr.
    pub quiet: bool,
}

/// `&[flags..., --logging_level, --log_dir, --quiet]`: the logging flags
/// both executors take, for any flags struct with those three fields.
macro_rules! with_logging_flags {
    [$($flag:expr),* $(,)?] => {
        &[
            $($flag,)*
            Flag {
                name: "logging_level",
                help: "Lowest level logged: `INFO`, `WARNING` or `ERROR`",
                default: Some("INFO"),
                kind: Kind::Text,
                set: |flags, value| {
                    flags.logging_level = value.into();
                    Ok(())
                },
            },
            Flag {
                name: "log_dir",
                help: "Directory for log files (logs go to stderr when unset)",
                default: None,
                kind: Kind::Path,
                set: |flags, value| {
                    flags.log_dir = Some(value.into());
                    Ok(())
                },
            },
            Flag {
                name: "quiet",
                help: "Log nothing to stderr",
                default: Some("false"),
                kind: Kind::Bool,
                set: |flags, value| {
                    flags.quiet = libprocess::flags::parse_bool_flag(value)?;
                    Ok(())
                },
            },
        ]
    };
}

/// The command executor's flags, as its help lists them.
static COMMAND_EXECUTOR: Command<Flags> = Command {
    name: "mesos-executor",
    about: "Apache Mesos command executor, reimplemented in Rust",
    flags: with_logging_flags![
        Flag {
            name: "launcher_dir",
            help: "Directory of the Mesos helper binaries",
            default: Some(DEFAULT_LAUNCHER_DIR),
            kind: Kind::Path,
            set: |flags, value| {
                flags.launcher_dir = value.into();
                Ok(())
            },
        },
        Flag {
            name: "rootfs",
            help: "Root filesystem to run the task in (chrooted)",
            default: None,
            kind: Kind::Path,
            set: |flags, value| {
                flags.rootfs = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "sandbox_directory",
            help: "Where the sandbox appears inside the task's root filesystem (only used with \
                   `--rootfs`)",
            default: None,
            kind: Kind::Path,
            set: |flags, value| {
                flags.sandbox_directory = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "working_directory",
            help: "Working directory of the task inside its root filesystem (only used with \
                   `--rootfs`)",
            default: None,
            kind: Kind::Path,
            set: |flags, value| {
                flags.working_directory = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "user",
            help: "User to run the task as: the executor's own user, or (when it runs as root, \
                   with `--rootfs`) a user of the image the task switches to after entering it, \
                   as upstream's command executor does",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.user = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "task_command",
            help: "`CommandInfo` as JSON to run instead of the task's command",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.task_command = Some(parse_json(value)?);
                Ok(())
            },
        },
        Flag {
            name: "task_environment",
            help: "`Environment` as JSON, added to the task's environment before the command's \
                   own variables",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.task_environment = Some(parse_json(value)?);
                Ok(())
            },
        },
        Flag {
            name: "effective_capabilities",
            help: "Capabilities granted to the task; not supported yet",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.effective_capabilities = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "bounding_capabilities",
            help: "Bounding set of the task's capabilities; not supported yet",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.bounding_capabilities = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "task_launch_info",
            help: "`ContainerLaunchInfo` for the task; not supported yet",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.task_launch_info = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "tty_slave_path",
            help: "The slave end of the container's pseudo terminal, when it has one (set by the \
                   agent for a task with `ContainerInfo.tty_info`): the task then stays in the \
                   executor's session, whose controlling terminal it is, and becomes its \
                   foreground process group",
            default: None,
            kind: Kind::Path,
            set: |flags, value| {
                flags.tty_slave_path = Some(value.into());
                Ok(())
            },
        },
        Flag {
            name: "task_supplementary_groups",
            help: "Supplementary groups of the task; not supported yet",
            default: None,
            kind: Kind::Text,
            set: |flags, value| {
                flags.task_supplementary_groups = Some(value.into());
                Ok(())
            },
        },
    ],
};

/// The default executor's command line (upstream `Flags` in
/// `src/launcher/default_executor.cpp`, plus the logging flags). As for
/// [`Flags`], nothing is read from `MESOS_*` variables.
#[derive(Debug, Clone)]
pub struct DefaultExecutorFlags {
    /// `--launcher_dir`: directory of the Mesos helper binaries.
    pub launcher_dir: PathBuf,
    /// `--logging_level`: `INFO`, `WARNING` or `ERROR`.
    pub logging_level: String,
    /// `--log_dir`: directory for log files (stderr when unset).
    pub log_dir: Option<PathBuf>,
    /// `--quiet`: log nothing to stderr.
    pub quiet: bool,
}

/// The default executor's flags, as its help lists them.
static DEFAULT_EXECUTOR: Command<DefaultExecutorFlags> = Command {
    name: "mesos-default-executor",
    about: "Apache Mesos default executor, reimplemented in Rust",
    flags: with_logging_flags![Flag {
        name: "launcher_dir",
        help: "Directory of the Mesos helper binaries",
        default: Some(DEFAULT_LAUNCHER_DIR),
        kind: Kind::Path,
        set: |flags, value| {
            flags.launcher_dir = value.into();
            Ok(())
        },
    },],
};

impl DefaultExecutorFlags {
    /// Parses `args` (the program name first) after stout-style
    /// prefiltering, from the command line only. Help, the version and
    /// malformed command lines come back as a [`CommandLine`].
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, NO_ENVIRONMENT, PATH_FLAGS)?;
        let mut flags = Self {
            launcher_dir: PathBuf::from(DEFAULT_LAUNCHER_DIR),
            logging_level: "INFO".to_string(),
            log_dir: None,
            quiet: false,
        };
        DEFAULT_EXECUTOR.parse(args, &mut flags)?;
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

/// An executor's command line: its name, what it is, and its flags.
struct Command<T: 'static> {
    name: &'static str,
    about: &'static str,
    flags: &'static [Flag<T>],
}

/// One flag: `--<name>`, its help line, the default the help shows, and
/// how its value is stored in `T` (an `Err` is shown as an invalid value).
struct Flag<T> {
    name: &'static str,
    help: &'static str,
    default: Option<&'static str>,
    kind: Kind,
    set: fn(&mut T, &str) -> Result<(), String>,
}

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `--flag=value` or `--flag value`.
    Text,
    /// As `Text`, and an empty value is no value (clap's paths).
    Path,
    /// `--flag` alone for true, or `--flag=value`: never the next argument.
    Bool,
}

/// What a command line asks for instead of a run, or why it cannot be
/// parsed; [`CommandLine::exit`] prints it and exits as clap did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandLine {
    /// `--help` or `-h`: the help text (stdout, exit 0).
    #[error("{0}")]
    Help(String),
    /// `--version` or `-V` (stdout, exit 0).
    #[error("{0}")]
    Version(String),
    /// A malformed command line: the whole message, `error: ...` first
    /// (stderr, exit 2).
    #[error("{0}")]
    Usage(String),
}

impl CommandLine {
    /// Prints the text where it goes and exits with its code.
    pub fn exit(&self) -> ! {
        use std::io::Write as _;
        match self {
            Self::Help(text) | Self::Version(text) => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
                std::process::exit(0)
            }
            Self::Usage(text) => {
                let _ = std::io::stderr().write_all(text.as_bytes());
                std::process::exit(2)
            }
        }
    }
}

/// clap's help layout: the width it assumes for the terminal (it does not
/// look), and the indents of its option list.
const TERM_WIDTH: usize = 100;
const TAB: &str = "  ";
const NEXT_LINE_INDENT: &str = "        ";

impl<T> Command<T> {
    /// Sets `target`'s fields from `args` (the program name first), in
    /// order, stopping at the first problem as clap does.
    fn parse(&self, args: Vec<String>, target: &mut T) -> Result<(), CommandLine> {
        let mut seen = vec![false; self.flags.len()];
        let mut args = args.into_iter().skip(1).peekable();
        let mut options_ended = false;
        while let Some(arg) = args.next() {
            if arg == "--" && !options_ended {
                options_ended = true;
                continue;
            }
            if options_ended || arg == "-" || !arg.starts_with('-') {
                return Err(self.unexpected(&arg));
            }
            let Some(long) = arg.strip_prefix("--") else {
                // Short flags: only -h and -V exist; a cluster acts on its
                // first letter.
                return Err(match arg.chars().nth(1) {
                    Some('h') => CommandLine::Help(self.help()),
                    Some('V') => CommandLine::Version(self.version()),
                    _ => self.unexpected(&first_short(&arg)),
                });
            };
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            if name == "help" || name == "version" {
                if let Some(value) = inline {
                    return Err(self.error(
                        &format!("unexpected value '{value}' for '--{name}' found; no more were expected"),
                        Some(&format!("--{name}")),
                    ));
                }
                return Err(if name == "help" {
                    CommandLine::Help(self.help())
                } else {
                    CommandLine::Version(self.version())
                });
            }
            let Some(index) = self.flags.iter().position(|flag| flag.name == name) else {
                return Err(self.unexpected(&format!("--{name}")));
            };
            let flag = &self.flags[index];
            if std::mem::replace(&mut seen[index], true) {
                return Err(self.error(
                    &format!(
                        "the argument '{}' cannot be used multiple times",
                        flag.spec()
                    ),
                    Some("[OPTIONS]"),
                ));
            }
            let value = match (inline, flag.kind) {
                (Some(value), _) => value.to_string(),
                (None, Kind::Bool) => "true".to_string(),
                (None, _) => match args.peek() {
                    Some(next) if next == "-" || !next.starts_with('-') => {
                        args.next().unwrap_or_default()
                    }
                    // The next argument is a flag, so this one has no
                    // value; clap names an unknown next flag first.
                    Some(next) if !self.knows(next) => {
                        return Err(self.unexpected(&match next.strip_prefix("--") {
                            Some(long) => {
                                format!("--{}", long.split_once('=').map_or(long, |(name, _)| name))
                            }
                            None => first_short(next),
                        }));
                    }
                    _ => return Err(self.missing(flag)),
                },
            };
            if value.is_empty() && flag.kind == Kind::Path {
                return Err(self.missing(flag));
            }
            (flag.set)(target, &value).map_err(|message| {
                self.error(
                    &format!("invalid value '{value}' for '{}': {message}", flag.spec()),
                    None,
                )
            })?;
        }
        Ok(())
    }

    /// Whether `arg` (which starts with `-`) names a flag of this command.
    fn knows(&self, arg: &str) -> bool {
        match arg.strip_prefix("--") {
            Some(long) => {
                let name = long.split_once('=').map_or(long, |(name, _)| name);
                name == "help"
                    || name == "version"
                    || self.flags.iter().any(|flag| flag.name == name)
            }
            None => matches!(arg.chars().nth(1), Some('h' | 'V')),
        }
    }

    fn unexpected(&self, arg: &str) -> CommandLine {
        self.error(
            &format!("unexpected argument '{arg}' found"),
            Some("[OPTIONS]"),
        )
    }

    fn missing(&self, flag: &Flag<T>) -> CommandLine {
        self.error(
            &format!(
                "a value is required for '{}' but none was supplied",
                flag.spec()
            ),
            None,
        )
    }

    /// clap's error layout; `usage` is what follows the program name in
    /// the usage line, for the errors clap shows one with.
    fn error(&self, message: &str, usage: Option<&str>) -> CommandLine {
        let usage = usage
            .map(|usage| format!("Usage: {} {usage}\n\n", self.name))
            .unwrap_or_default();
        CommandLine::Usage(format!(
            "error: {message}\n\n{usage}For more information, try '--help'.\n"
        ))
    }

    fn version(&self) -> String {
        format!("{} {}\n", self.name, crate::VERSION)
    }

    /// The help as clap lays it out: each flag's help after it, aligned,
    /// or on the next line for all of them when one would not fit.
    fn help(&self) -> String {
        // (flag, its help, what follows the help): `-h, ` or four spaces
        // before each long flag.
        let mut entries: Vec<(String, &str, String)> = self
            .flags
            .iter()
            .map(|flag| {
                let default = flag
                    .default
                    .map(|default| format!("[default: {default}]"))
                    .unwrap_or_default();
                (format!("    {}", flag.spec()), flag.help, default)
            })
            .collect();
        entries.push(("-h, --help".into(), "Print help", String::new()));
        entries.push(("-V, --version".into(), "Print version", String::new()));
        let longest = entries
            .iter()
            .map(|(spec, ..)| spec.len())
            .max()
            .unwrap_or(0);
        let taken = longest + TAB.len() * 2;
        let next_line = entries.iter().any(|(_, help, default)| {
            TERM_WIDTH >= taken
                && taken as f32 / TERM_WIDTH as f32 > 0.40
                && help.len() + default.len() > TERM_WIDTH - taken
        });
        let mut text = format!(
            "{}\n\nUsage: {} [OPTIONS]\n\nOptions:\n",
            self.about, self.name
        );
        for (spec, help, default) in entries {
            text.push_str(TAB);
            text.push_str(&spec);
            if next_line {
                text.push('\n');
                text.push_str(TAB);
                text.push_str(NEXT_LINE_INDENT);
            } else {
                text.push_str(&" ".repeat(longest + TAB.len() - spec.len()));
            }
            text.push_str(help);
            if !default.is_empty() {
                text.push(' ');
                text.push_str(&default);
            }
            text.push('\n');
        }
        text
    }
}

/// `-x` for an argument `-x...`, as clap names an unknown short flag.
fn first_short(arg: &str) -> String {
    arg.chars().take(2).collect()
}

impl<T> Flag<T> {
    /// How clap names the flag in help and errors.
    fn spec(&self) -> String {
        let placeholder = self.name.to_ascii_uppercase();
        match self.kind {
            Kind::Bool => format!("--{}[=<{placeholder}>]", self.name),
            Kind::Text | Kind::Path => format!("--{} <{placeholder}>", self.name),
        }
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
    /// prefiltering, from the command line only. Help, the version and
    /// malformed command lines come back as a [`CommandLine`].
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, NO_ENVIRONMENT, PATH_FLAGS)?;
        let mut flags = Self {
            launcher_dir: PathBuf::from(DEFAULT_LAUNCHER_DIR),
            rootfs: None,
            sandbox_directory: None,
            working_directory: None,
            user: None,
            task_command: None,
            task_environment: None,
            effective_capabilities: None,
            bounding_capabilities: None,
            task_launch_info: None,
            tty_slave_path: None,
            task_supplementary_groups: None,
            logging_level: "INFO".to_string(),
            log_dir: None,
            quiet: false,
        };
        COMMAND_EXECUTOR.parse(args, &mut flags)?;
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

    fn command_line(result: Result<impl std::fmt::Debug, anyhow::Error>) -> CommandLine {
        result
            .unwrap_err()
            .downcast::<CommandLine>()
            .expect("a command-line error")
    }

    /// The help clap printed for these flags, kept word for word.
    #[test]
    fn help_is_claps() {
        let expected = r#"Apache Mesos command executor, reimplemented in Rust

Usage: mesos-executor [OPTIONS]

Options:
      --launcher_dir <LAUNCHER_DIR>
          Directory of the Mesos helper binaries [default: /usr/libexec/mesos]
      --rootfs <ROOTFS>
          Root filesystem to run the task in (chrooted)
      --sandbox_directory <SANDBOX_DIRECTORY>
          Where the sandbox appears inside the task's root filesystem (only used with `--rootfs`)
      --working_directory <WORKING_DIRECTORY>
          Working directory of the task inside its root filesystem (only used with `--rootfs`)
      --user <USER>
          User to run the task as: the executor's own user, or (when it runs as root, with `--rootfs`) a user of the image the task switches to after entering it, as upstream's command executor does
      --task_command <TASK_COMMAND>
          `CommandInfo` as JSON to run instead of the task's command
      --task_environment <TASK_ENVIRONMENT>
          `Environment` as JSON, added to the task's environment before the command's own variables
      --effective_capabilities <EFFECTIVE_CAPABILITIES>
          Capabilities granted to the task; not supported yet
      --bounding_capabilities <BOUNDING_CAPABILITIES>
          Bounding set of the task's capabilities; not supported yet
      --task_launch_info <TASK_LAUNCH_INFO>
          `ContainerLaunchInfo` for the task; not supported yet
      --tty_slave_path <TTY_SLAVE_PATH>
          The slave end of the container's pseudo terminal, when it has one (set by the agent for a task with `ContainerInfo.tty_info`): the task then stays in the executor's session, whose controlling terminal it is, and becomes its foreground process group
      --task_supplementary_groups <TASK_SUPPLEMENTARY_GROUPS>
          Supplementary groups of the task; not supported yet
      --logging_level <LOGGING_LEVEL>
          Lowest level logged: `INFO`, `WARNING` or `ERROR` [default: INFO]
      --log_dir <LOG_DIR>
          Directory for log files (logs go to stderr when unset)
      --quiet[=<QUIET>]
          Log nothing to stderr [default: false]
  -h, --help
          Print help
  -V, --version
          Print version
"#;
        assert_eq!(
            command_line(parse(&["--help"])),
            CommandLine::Help(expected.into())
        );
        assert_eq!(
            command_line(parse(&["--rootfs=/x", "-h"])),
            CommandLine::Help(expected.into())
        );
        let expected = r#"Apache Mesos default executor, reimplemented in Rust

Usage: mesos-default-executor [OPTIONS]

Options:
      --launcher_dir <LAUNCHER_DIR>    Directory of the Mesos helper binaries [default: /usr/libexec/mesos]
      --logging_level <LOGGING_LEVEL>  Lowest level logged: `INFO`, `WARNING` or `ERROR` [default: INFO]
      --log_dir <LOG_DIR>              Directory for log files (logs go to stderr when unset)
      --quiet[=<QUIET>]                Log nothing to stderr [default: false]
  -h, --help                           Print help
  -V, --version                        Print version
"#;
        let help = DefaultExecutorFlags::parse_from_args(
            ["mesos-default-executor", "--help"].map(String::from),
        );
        assert_eq!(command_line(help), CommandLine::Help(expected.into()));
        assert_eq!(
            command_line(parse(&["-V"])),
            CommandLine::Version(format!("mesos-executor {}\n", crate::VERSION))
        );
    }

    /// clap's messages for malformed command lines, kept word for word.
    #[test]
    fn usage_errors_are_claps() {
        let usage = |message: &str| {
            CommandLine::Usage(format!(
                "error: {message}\n\nUsage: mesos-executor [OPTIONS]\n\n\
                 For more information, try '--help'.\n"
            ))
        };
        let bare = |message: &str| {
            CommandLine::Usage(format!(
                "error: {message}\n\nFor more information, try '--help'.\n"
            ))
        };
        assert_eq!(
            command_line(parse(&["--no_such_flag=1"])),
            usage("unexpected argument '--no_such_flag' found")
        );
        assert_eq!(
            command_line(parse(&["-x"])),
            usage("unexpected argument '-x' found")
        );
        assert_eq!(
            command_line(parse(&["--", "foo"])),
            usage("unexpected argument 'foo' found")
        );
        assert_eq!(
            command_line(parse(&["--quiet", "yes"])),
            usage("unexpected argument 'yes' found")
        );
        assert_eq!(
            command_line(parse(&["--user=a", "--user=b"])),
            usage("the argument '--user <USER>' cannot be used multiple times")
        );
        assert_eq!(
            command_line(parse(&["--rootfs"])),
            bare("a value is required for '--rootfs <ROOTFS>' but none was supplied")
        );
        assert_eq!(
            command_line(parse(&["--log_dir="])),
            bare("a value is required for '--log_dir <LOG_DIR>' but none was supplied")
        );
        assert_eq!(
            command_line(parse(&["--user", "--rootfs=/x"])),
            bare("a value is required for '--user <USER>' but none was supplied")
        );
        assert_eq!(
            command_line(parse(&["--rootfs", "--no_such"])),
            usage("unexpected argument '--no_such' found")
        );
        assert_eq!(
            command_line(parse(&["--quiet=maybe"])),
            bare(
                "invalid value 'maybe' for '--quiet[=<QUIET>]': Expecting a boolean (e.g., true \
                 or false), got 'maybe'"
            )
        );
        assert!(matches!(
            command_line(parse(&["--task_command=not json"])),
            CommandLine::Usage(message)
                if message.starts_with("error: invalid value 'not json' for '--task_command <TASK_COMMAND>': ")
        ));
    }

    #[test]
    fn values_follow_the_flag_or_an_equals_sign() {
        let flags = parse(&["--rootfs", "/image", "--quiet", "--sandbox_directory=/mnt"]).unwrap();
        assert_eq!(flags.rootfs, Some(PathBuf::from("/image")));
        assert_eq!(flags.sandbox_directory, Some(PathBuf::from("/mnt")));
        assert!(flags.quiet);
        assert!(!parse(&["--quiet=false"]).unwrap().quiet);
        assert!(!parse(&["--no-quiet"]).unwrap().quiet);
        assert!(parse(&["--quiet=1"]).unwrap().quiet);
        assert_eq!(
            parse(&["--logging_level", "ERROR"]).unwrap().logging_level,
            "ERROR"
        );
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
