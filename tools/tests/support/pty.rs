//! Runs a command on a pseudo terminal of its own (its controlling
//! terminal, as in an interactive shell), typing into it as its output
//! asks: the `-t` paths of `mesos task exec` and `mesos task attach`.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a command printed on its terminal, and its exit code.
pub struct Session {
    /// Everything read from the terminal.
    pub output: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
}

fn check(rc: libc::c_int, what: &str) {
    assert!(rc != -1, "{what}: {}", std::io::Error::last_os_error());
}

/// Opens a pty pair of 24 rows and 80 columns: (master, slave).
fn open_pty() -> (File, File) {
    // SAFETY: plain libc calls on fds this function owns; the name buffer
    // is ours and NUL-terminated by ptsname_r.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        check(master, "posix_openpt");
        let master = OwnedFd::from_raw_fd(master);
        check(libc::grantpt(master.as_raw_fd()), "grantpt");
        check(libc::unlockpt(master.as_raw_fd()), "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        assert_eq!(rc, 0, "ptsname_r");
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        check(slave, "open the pty slave");
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        check(
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size),
            "TIOCSWINSZ",
        );
        (File::from(master), File::from_raw_fd(slave))
    }
}

/// Runs `command` on a new pty. After each read, and every 100 ms,
/// `respond` sees all output so far and returns what to type, if
/// anything. Fails the test if the command outlives `timeout`.
pub fn run(
    mut command: Command,
    timeout: Duration,
    mut respond: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Session {
    let (mut master, slave) = open_pty();
    command
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid(2) and ioctl(2) are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    // Our copies of the slave are gone: reads end (EIO) when the child's
    // side closes.
    drop(command);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || tx.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut output = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(bytes) => output.extend_from_slice(&bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some(typed) = respond(&String::from_utf8_lossy(&output)) {
            let _ = master.write_all(&typed);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the command outlived {timeout:?} on its pty: {:?}",
                String::from_utf8_lossy(&output)
            );
        }
    }
    let status = child.wait().unwrap();
    Session {
        output: String::from_utf8_lossy(&output).into_owned(),
        code: status.code(),
    }
}
