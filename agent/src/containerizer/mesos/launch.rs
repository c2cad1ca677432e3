//! The `mesos-containerizer launch` helper (upstream
//! `src/slave/containerizer/mesos/launch.cpp`): the launcher forks it as
//! the container's init process; it waits until the agent has isolated
//! it, prepares the process as the isolators asked (a
//! `mesos.slave.ContainerLaunchInfo`: `--launch_info` in JSON as upstream,
//! or `--launch_info_protobuf`, base64 of the encoded message, which the
//! agent passes because it spares the helper building a descriptor pool
//! for JSON on each launch), then execs the command.
//!
//! Steps, in order:
//! 0. What upstream's launchers do between fork and exec, since ours
//!    start the helper with `posix_spawn`: become a session leader; with
//!    `--open_files_limit=N`, give the soft open-files limit back (the
//!    agent raised its own); make stdin the controlling terminal when the
//!    container has a pty (`tty_slave_path`, as upstream's helper does);
//!    unshare the launch info's `clone_namespaces`.
//! 1. `--pipe_read=FD`: block until the agent writes one byte (the
//!    container's cgroups are set up by then); EOF means the agent gave
//!    up, and the helper exits.
//! 2. `--namespace_mnt_target=PID` (a DEBUG container): enter the
//!    namespaces of PID that differ from the helper's own (ipc, uts, net,
//!    pid, mount) and its root directory; having entered a pid namespace,
//!    fork so that the command runs in it (the helper waits, as below).
//!    Upstream enters the mount namespace here and the others in the
//!    launcher; the result is the same.
//! 3. In a new pid namespace (the launcher unshared it, which affects
//!    children only): fork; the child is pid 1 of the namespace and goes
//!    on, the helper waits for it and exits as it did.
//! 4. In a new mount namespace: mounts turn slave (nothing propagates back
//!    to the host), then the launch info's mounts are made (`/proc`).
//! 5. no-new-privileges, rlimits, working directory, environment, exec.

use std::ffi::CString;
use std::os::unix::process::CommandExt as _;

use mesos_proto::mesos::slave::ContainerLaunchInfo;

use crate::containerizer::mesos::isolators::posix::rlimits;

/// The helper's flags.
#[derive(Debug, Default)]
pub struct LaunchFlags {
    /// `--launch_info`: the JSON `ContainerLaunchInfo`.
    pub launch_info: String,
    /// `--launch_info_protobuf`: the encoded `ContainerLaunchInfo`, base64.
    pub launch_info_protobuf: String,
    /// `--pipe_read`: the fd to wait on.
    pub pipe_read: Option<i32>,
    /// `--namespace_mnt_target`: the process whose namespaces to enter.
    pub namespace_mnt_target: Option<i32>,
    /// `--enter_namespaces_of`: the process whose namespaces listed in the
    /// launch info's `enter_namespaces` the command joins (a nested
    /// container sharing its parent's).
    pub enter_namespaces_of: Option<i32>,
    /// `--runtime_directory`: the container's runtime directory, where
    /// the helper checkpoints the command's exit status (`status`).
    pub runtime_directory: Option<std::path::PathBuf>,
    /// `--open_files_limit`: the soft `RLIMIT_NOFILE` to set (the one the
    /// agent started with, before it raised its own).
    pub open_files_limit: Option<u64>,
}

impl LaunchFlags {
    /// Parses `--name=value` arguments (after the `launch` subcommand).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut flags = Self::default();
        for arg in args {
            let Some((name, value)) = arg.strip_prefix("--").and_then(|a| a.split_once('=')) else {
                return Err(format!("unexpected argument '{arg}'"));
            };
            match name {
                "launch_info" => flags.launch_info = value.to_string(),
                "launch_info_protobuf" => flags.launch_info_protobuf = value.to_string(),
                "pipe_read" => {
                    flags.pipe_read = Some(
                        value
                            .parse()
                            .map_err(|_| format!("--pipe_read: '{value}' is not an fd"))?,
                    );
                }
                "namespace_mnt_target" => {
                    flags.namespace_mnt_target =
                        Some(value.parse().map_err(|_| {
                            format!("--namespace_mnt_target: '{value}' is not a pid")
                        })?);
                }
                "runtime_directory" => flags.runtime_directory = Some(value.into()),
                "open_files_limit" => {
                    flags.open_files_limit =
                        Some(value.parse().map_err(|_| {
                            format!("--open_files_limit: '{value}' is not a number")
                        })?);
                }
                "enter_namespaces_of" => {
                    flags.enter_namespaces_of =
                        Some(value.parse().map_err(|_| {
                            format!("--enter_namespaces_of: '{value}' is not a pid")
                        })?);
                }
                // Accepted for upstream compatibility; nothing to do here.
                "pipe_write" => {}
                other => return Err(format!("unknown flag '--{other}'")),
            }
        }
        if flags.launch_info.is_empty() == flags.launch_info_protobuf.is_empty() {
            return Err("give one of --launch_info and --launch_info_protobuf".into());
        }
        Ok(flags)
    }
}

/// Runs the helper; returns only on failure, with the exit code.
pub fn run(flags: &LaunchFlags) -> i32 {
    let info = match parse_launch_info(flags) {
        Ok(info) => info,
        Err(error) => return fail(&error),
    };
    if let Err(error) = prepare_process(flags, &info) {
        return fail(&error);
    }
    if let Some(fd) = flags.pipe_read {
        let mut byte = [0_u8; 1];
        // SAFETY: reads at most one byte into a buffer we own, from an fd
        // the launcher handed to us; closed right after.
        let read = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
        // SAFETY: the fd is ours and not used again.
        unsafe { libc::close(fd) };
        if read != 1 {
            return fail("the agent did not finish isolating the container");
        }
    }
    let mut entered_pid = false;
    if let Some(target) = flags.namespace_mnt_target {
        match enter_namespaces(target) {
            Ok(entered) => entered_pid = entered,
            Err(error) => return fail(&error),
        }
    }
    if let Some(target) = flags.enter_namespaces_of {
        if let Err(error) = enter_listed_namespaces(target, &info.enter_namespaces) {
            return fail(&error);
        }
        entered_pid |= info.enter_namespaces.contains(&libc::CLONE_NEWPID);
    }
    let cloned = |flag: i32| info.clone_namespaces.contains(&flag);
    // A new pid namespace holds only children: the command runs in a
    // child. So it does when its exit status is to be checkpointed, which
    // needs a parent that outlives it (an agent restarted meanwhile
    // cannot reap a process it did not fork).
    if entered_pid || cloned(libc::CLONE_NEWPID) || flags.runtime_directory.is_some() {
        let status = flags
            .runtime_directory
            .as_ref()
            .map(|dir| dir.join(STATUS_FILE));
        if let Some(code) = fork_init(status.as_deref()) {
            return code;
        }
    }
    if cloned(libc::CLONE_NEWNS) {
        if let Err(error) = mount_all(&info) {
            return fail(&error);
        }
    }
    if let Some(rootfs) = info.rootfs.as_deref().filter(|r| !r.is_empty()) {
        if let Err(error) = enter_rootfs(rootfs) {
            return fail(&error);
        }
    }
    if let Err(error) = apply_capabilities(&info) {
        return fail(&error);
    }
    if info.no_new_privileges == Some(true) {
        // SAFETY: prctl with PR_SET_NO_NEW_PRIVS reads only its integer
        // arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return fail(&format!(
                "failed to set the no-new-privileges bit: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if let Some(limits) = &info.rlimits {
        if let Err(error) = rlimits::apply(limits) {
            return fail(&error.0);
        }
    }
    if let Some(user) = info.user.as_deref().filter(|u| !u.is_empty()) {
        if let Err(error) = switch_user(user) {
            return fail(&error);
        }
    }
    let Some(command) = info.command.as_ref() else {
        return fail("the launch info has no command");
    };
    let value = command.value.clone().unwrap_or_default();
    let mut exec = if command.shell.unwrap_or(true) {
        let mut exec = std::process::Command::new("/bin/sh");
        exec.arg0("sh").arg("-c").arg(&value);
        exec
    } else {
        let mut exec = std::process::Command::new(&value);
        exec.args(command.arguments.iter().skip(1));
        if let Some(argv0) = command.arguments.first() {
            exec.arg0(argv0);
        }
        exec
    };
    exec.env_clear();
    if let Some(environment) = &info.environment {
        for variable in &environment.variables {
            exec.env(
                &variable.name,
                variable.value.as_deref().unwrap_or_default(),
            );
        }
    }
    if let Some(directory) = &info.working_directory {
        exec.current_dir(directory);
    }
    // Nothing of the agent's or the helper's reaches the command but its
    // stdio (a launch racing this one may have inherited our pipe).
    // SAFETY: close_range only sets flags on fds of this process.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3_u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    let error = exec.exec();
    fail(&format!("failed to execute '{value}': {error}"))
}

/// Step 0: what upstream does between fork and exec of the helper.
fn prepare_process(flags: &LaunchFlags, info: &ContainerLaunchInfo) -> Result<(), String> {
    // SAFETY: getsid, getpid and setsid act on this process only.
    unsafe {
        if libc::getsid(0) != libc::getpid() && libc::setsid() == -1 {
            return Err(format!(
                "failed to start a new session: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if let Some(soft) = flags.open_files_limit {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct we own; setrlimit reads it.
        let set = unsafe {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
                limit.rlim_cur = soft.min(limit.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
            }
        };
        if !set {
            return Err(format!(
                "failed to set the open files limit to {soft}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if info
        .tty_slave_path
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        // SAFETY: TIOCSCTTY on stdin (the pty's slave) takes no memory.
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } == -1 {
            return Err(format!(
                "failed to make the pty the controlling terminal: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let namespaces = info.clone_namespaces.iter().fold(0, |all, flag| all | flag);
    // SAFETY: unshare takes only its flags; the helper is single-threaded.
    if namespaces != 0 && unsafe { libc::unshare(namespaces) } == -1 {
        return Err(format!(
            "failed to unshare namespaces {namespaces:#x}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Enters the namespaces of `target` that differ from ours, then its root
/// directory; returns whether a pid namespace was entered (it holds only
/// for children, so the caller forks).
fn enter_namespaces(target: i32) -> Result<bool, String> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let proc = format!("/proc/{target}");
    let same = |link: &str| -> Result<bool, String> {
        let theirs = std::fs::metadata(format!("{proc}/{link}"))
            .map_err(|e| format!("failed to inspect {proc}/{link}: {e}"))?;
        let ours = std::fs::metadata(format!("/proc/self/{link}"))
            .map_err(|e| format!("failed to inspect /proc/self/{link}: {e}"))?;
        Ok((theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()))
    };
    // Everything is opened before the first setns: after the mount
    // namespace changes, `/proc` may no longer be the host's.
    let root = std::fs::File::open(format!("{proc}/root"))
        .map_err(|e| format!("failed to open the root of process {target}: {e}"))?;
    let same_root = same("root")?;
    let mut namespaces = Vec::new();
    for (name, kind) in [
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("mnt", libc::CLONE_NEWNS),
    ] {
        if same(&format!("ns/{name}"))? {
            continue;
        }
        let file = std::fs::File::open(format!("{proc}/ns/{name}"))
            .map_err(|e| format!("failed to open the {name} namespace of process {target}: {e}"))?;
        namespaces.push((name, kind, file));
    }
    let mut entered_pid = false;
    let mut entered_mnt = false;
    for (name, kind, file) in &namespaces {
        // SAFETY: setns on an fd we hold open, with its namespace type.
        if unsafe { libc::setns(file.as_raw_fd(), *kind) } != 0 {
            return Err(format!(
                "failed to enter the {name} namespace of process {target}: {}",
                std::io::Error::last_os_error()
            ));
        }
        entered_pid |= *kind == libc::CLONE_NEWPID;
        entered_mnt |= *kind == libc::CLONE_NEWNS;
    }
    if !same_root || entered_mnt {
        // SAFETY: fchdir to a directory fd we hold, then chroot to it.
        let entered =
            unsafe { libc::fchdir(root.as_raw_fd()) == 0 && libc::chroot(c".".as_ptr()) == 0 };
        if !entered {
            return Err(format!(
                "failed to enter the root of process {target}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(entered_pid)
}

/// Enters the namespaces of `target` that `kinds` lists (`CLONE_NEW*`).
fn enter_listed_namespaces(target: i32, kinds: &[i32]) -> Result<(), String> {
    use std::os::fd::AsRawFd as _;
    for &kind in kinds {
        let name = match kind {
            libc::CLONE_NEWIPC => "ipc",
            libc::CLONE_NEWUTS => "uts",
            libc::CLONE_NEWNET => "net",
            libc::CLONE_NEWPID => "pid",
            libc::CLONE_NEWNS => "mnt",
            other => return Err(format!("cannot enter namespace type {other:#x}")),
        };
        let file = std::fs::File::open(format!("/proc/{target}/ns/{name}"))
            .map_err(|e| format!("failed to open the {name} namespace of process {target}: {e}"))?;
        // SAFETY: setns on an fd we hold open, with its namespace type.
        if unsafe { libc::setns(file.as_raw_fd(), kind) } != 0 {
            return Err(format!(
                "failed to enter the {name} namespace of process {target}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

fn parse_launch_info(flags: &LaunchFlags) -> Result<ContainerLaunchInfo, String> {
    use base64::Engine as _;
    use prost::Message as _;
    if !flags.launch_info.is_empty() {
        return mesos_proto::json::from_str(&flags.launch_info)
            .map_err(|e| format!("failed to parse --launch_info: {e}"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&flags.launch_info_protobuf)
        .map_err(|e| format!("failed to decode --launch_info_protobuf: {e}"))?;
    ContainerLaunchInfo::decode(bytes.as_slice())
        .map_err(|e| format!("failed to parse --launch_info_protobuf: {e}"))
}

/// Where the helper checkpoints the command's wait status (upstream
/// `containerizer::paths::STATUS_FILE`).
pub const STATUS_FILE: &str = "status";

/// The child the parent helper forwards signals to.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(signal: libc::c_int) {
    let child = CHILD.load(std::sync::atomic::Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill is async-signal-safe; it signals our own child.
        unsafe {
            libc::kill(child, signal);
        }
    }
}

/// Forks the process that goes on to run the command (pid 1 of a new pid
/// namespace). Returns `None` in the child, and in the parent the exit
/// code to leave with once the child is gone (a child killed by a signal
/// is mirrored by raising that signal). The parent forwards the signals
/// it gets to the child, and writes the child's wait status to `status`
/// (text, as upstream) when given.
fn fork_init(status_path: Option<&std::path::Path>) -> Option<i32> {
    // SAFETY: the helper is single-threaded here, so fork is safe.
    let child = unsafe { libc::fork() };
    if child == -1 {
        return Some(fail(&format!(
            "failed to fork into the pid namespace: {}",
            std::io::Error::last_os_error()
        )));
    }
    if child == 0 {
        return None;
    }
    CHILD.store(child, std::sync::atomic::Ordering::SeqCst);
    for signal in 1..32 {
        if [libc::SIGCHLD, libc::SIGKILL, libc::SIGSTOP].contains(&signal) {
            continue;
        }
        // SAFETY: installs a handler that only calls kill.
        unsafe {
            libc::signal(signal, forward_signal as *const () as libc::sighandler_t);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is ours.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        if waited == child {
            break;
        }
        if waited == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
        {
            return Some(fail("failed to wait for the container's init process"));
        }
    }
    if let Some(path) = status_path {
        if let Err(error) = libprocess::os::write_replace(path, status.to_string().as_bytes()) {
            eprintln!(
                "Failed to checkpoint the container's status to '{}': {error}",
                path.display()
            );
        }
    }
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: restores the default action and raises the signal the
        // child died of, so the agent sees the same termination.
        unsafe {
            for signal in 1..32 {
                libc::signal(signal, libc::SIG_DFL);
            }
            libc::raise(signal);
        }
        return Some(128 + signal);
    }
    Some(libc::WEXITSTATUS(status))
}

/// `linux/capabilities`: drops what the bounding set leaves out; for the
/// effective set, `SECBIT_NOROOT` (exec gives root nothing of its own)
/// and the capabilities raised as inheritable and ambient, so the command
/// gets exactly them.
fn apply_capabilities(info: &ContainerLaunchInfo) -> Result<(), String> {
    use crate::containerizer::mesos::isolators::linux::capability_number;
    let numbers = |set: &mesos_proto::mesos::CapabilityInfo| -> Vec<u32> {
        set.capabilities
            .iter()
            .filter_map(|c| capability_number(*c))
            .collect()
    };
    if let Some(bounding) = &info.bounding_capabilities {
        let keep = numbers(bounding);
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        for cap in (0..=last).filter(|c| !keep.contains(c)) {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) } != 0
            {
                return Err(format!(
                    "failed to drop capability {cap} from the bounding set: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    let Some(effective) = &info.effective_capabilities else {
        return Ok(());
    };
    let caps = numbers(effective);
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    // SAFETY: prctl with integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_SET_SECUREBITS,
            SECBIT_NOROOT | SECBIT_NOROOT_LOCKED,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(format!(
            "failed to set the securebits: {}",
            std::io::Error::last_os_error()
        ));
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget fills the two structs of the version-3 layout we own.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(format!(
            "failed to read the capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    for word in &mut data {
        word.inheritable = 0;
    }
    for &cap in &caps {
        let (index, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        if let Some(word) = data.get_mut(index) {
            word.inheritable |= bit;
        }
    }
    // SAFETY: capset reads the header and the two structs we own.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(format!(
            "failed to set the inheritable capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    for &cap in &caps {
        // SAFETY: prctl with integer arguments only.
        let raised = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                libc::c_ulong::from(cap),
                0,
                0,
            )
        };
        if raised != 0 {
            return Err(format!(
                "failed to raise ambient capability {cap}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// A user's uid, gid and name (`getpwnam_r`).
fn lookup(user: &str) -> Result<(libc::uid_t, libc::gid_t, CString), String> {
    let name = CString::new(user).map_err(|e| format!("bad user name '{user}': {e}"))?;
    // SAFETY: an all-zero passwd is a valid out-parameter; getpwnam_r
    // writes its strings into `buffer`, which outlives every use here.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut buffer = vec![0 as libc::c_char; 16384];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let code = libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        );
        if code != 0 || result.is_null() {
            return Err(format!("Failed to get user information for '{user}'"));
        }
        Ok((entry.pw_uid, entry.pw_gid, name))
    }
}

/// Makes `path` itself (not what is in it) `user`'s.
pub fn chown(path: &std::path::Path, user: &str) -> Result<(), String> {
    let (uid, gid, _) = lookup(user)?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("Failed to chown '{}' to user '{user}': {e}", path.display()))
}

/// Makes `directory` and everything in it `user`'s.
pub fn chown_recursive(directory: &std::path::Path, user: &str) -> Result<(), String> {
    let (uid, gid, _) = lookup(user)?;
    fn walk(path: &std::path::Path, uid: u32, gid: u32) -> std::io::Result<()> {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                walk(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }
    walk(directory, uid, gid).map_err(|e| {
        format!(
            "Failed to chown '{}' to user '{user}': {e}",
            directory.display()
        )
    })
}

/// Becomes `user`: its groups, gid and uid (upstream `os::su`).
pub(crate) fn switch_user(user: &str) -> Result<(), String> {
    let (uid, gid, name) = lookup(user)?;
    // SAFETY: the calls read the name we own and integers only.
    unsafe {
        if libc::initgroups(name.as_ptr(), gid) != 0 {
            return Err(format!(
                "Failed to set the groups of '{user}': {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "Failed to set gid {gid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "Failed to set uid {uid}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Makes the mounts of the new mount namespace.
fn mount_all(info: &ContainerLaunchInfo) -> Result<(), String> {
    let root = CString::new("/").map_err(|e| e.to_string())?;
    // SAFETY: the strings outlive the call; null source/type/data are
    // allowed for a propagation change.
    let changed = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_SLAVE | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if changed != 0 {
        return Err(format!(
            "failed to mark mounts as slave: {}",
            std::io::Error::last_os_error()
        ));
    }
    for mount in &info.mounts {
        let flags = libc::c_ulong::from(mount.flags.unwrap_or_default());
        let bind = flags & libc::MS_BIND != 0;
        if bind {
            create_mount_point(mount)?;
        } else if !std::path::Path::new(&mount.target).exists() {
            std::fs::create_dir_all(&mount.target)
                .map_err(|e| format!("failed to create the mount point '{}': {e}", mount.target))?;
        }
        let cstring = |s: &str| CString::new(s).map_err(|e| format!("bad mount field: {e}"));
        let target = cstring(&mount.target)?;
        let source = cstring(mount.source.as_deref().unwrap_or("none"))?;
        let kind = mount.r#type.as_deref().map(cstring).transpose()?;
        let options = mount.options.as_deref().map(cstring).transpose()?;
        // SAFETY: every pointer is a NUL-terminated string alive for the
        // call, or null where mount(2) allows it.
        let done = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                kind.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
                libc::c_ulong::from(mount.flags.unwrap_or_default()),
                options
                    .as_ref()
                    .map_or(std::ptr::null(), |o| o.as_ptr().cast()),
            )
        };
        if done != 0 {
            return Err(format!(
                "failed to mount '{}': {}",
                mount.target,
                std::io::Error::last_os_error()
            ));
        }
        // A bind mount ignores MS_RDONLY: read-only takes a remount.
        if bind && flags & libc::MS_RDONLY != 0 {
            let remount = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            // SAFETY: as above; null source and type are allowed for a
            // remount.
            let done = unsafe {
                libc::mount(
                    std::ptr::null(),
                    target.as_ptr(),
                    std::ptr::null(),
                    remount,
                    std::ptr::null(),
                )
            };
            if done != 0 {
                return Err(format!(
                    "failed to remount '{}' read-only: {}",
                    mount.target,
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    Ok(())
}

/// Makes `rootfs` the root (upstream `fs::chroot::enter`): `pivot_root`
/// with the old root stacked under the new one, then detached, so no
/// directory needs creating in the rootfs (it may be read-only); then the
/// `/dev` links programs expect.
fn enter_rootfs(rootfs: &str) -> Result<(), String> {
    let path = CString::new(rootfs).map_err(|e| format!("bad rootfs '{rootfs}': {e}"))?;
    let dot = c".";
    let slash = c"/";
    // SAFETY: chdir, the pivot_root syscall and umount2 read only the
    // NUL-terminated paths we own.
    unsafe {
        if libc::chdir(path.as_ptr()) != 0 {
            return Err(format!(
                "failed to enter the rootfs '{rootfs}': {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) != 0 {
            return Err(format!(
                "failed to pivot_root into '{rootfs}': {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::umount2(dot.as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(format!(
                "failed to detach the old root: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::chdir(slash.as_ptr()) != 0 {
            return Err(format!(
                "failed to change to the new root: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // Best effort: a read-only /dev is the image's choice.
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        if std::path::Path::new("/dev").is_dir() && std::fs::symlink_metadata(link).is_err() {
            let _ = std::os::unix::fs::symlink(target, link);
        }
    }
    Ok(())
}

/// Creates a bind mount's target like its source: a directory, or an
/// empty file.
fn create_mount_point(mount: &mesos_proto::mesos::slave::ContainerMountInfo) -> Result<(), String> {
    let target = std::path::Path::new(&mount.target);
    if target.exists() {
        return Ok(());
    }
    let source_is_dir = mount
        .source
        .as_deref()
        .is_none_or(|s| std::path::Path::new(s).is_dir());
    let created = if source_is_dir {
        std::fs::create_dir_all(target)
    } else {
        target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(target).map(|_| ()))
    };
    created.map_err(|e| format!("failed to create the mount point '{}': {e}", mount.target))
}

fn fail(message: &str) -> i32 {
    eprintln!("mesos-containerizer launch: {message}");
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_refuse_unknown_ones() {
        let flags = LaunchFlags::parse(&["--launch_info={}".into(), "--pipe_read=7".into()])
            .expect("parses");
        assert_eq!(flags.pipe_read, Some(7));
        assert!(LaunchFlags::parse(&["--bogus=1".into(), "--launch_info={}".into()]).is_err());
        assert!(LaunchFlags::parse(&[]).is_err());
        assert!(
            LaunchFlags::parse(&["--launch_info={}".into(), "--launch_info_protobuf=".into()])
                .is_ok()
        );
    }

    #[test]
    fn both_launch_info_forms_parse() {
        use base64::Engine as _;
        use prost::Message as _;
        let info = ContainerLaunchInfo {
            working_directory: Some("/tmp".into()),
            clone_namespaces: vec![libc::CLONE_NEWPID],
            ..Default::default()
        };
        let json = LaunchFlags {
            launch_info: mesos_proto::json::to_string(&info),
            ..Default::default()
        };
        let protobuf = LaunchFlags {
            launch_info_protobuf: base64::engine::general_purpose::STANDARD
                .encode(info.encode_to_vec()),
            ..Default::default()
        };
        assert_eq!(parse_launch_info(&json).expect("json"), info);
        assert_eq!(parse_launch_info(&protobuf).expect("protobuf"), info);
    }
}
