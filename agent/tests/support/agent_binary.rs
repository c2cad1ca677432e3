//! The `mesos-agent` binary as a test runs it: a restart is a real one,
//! after SIGKILL, on the same address and as `slave(1)` again, which is
//! where HTTP executors look for their agent.

use std::path::Path;

use super::bin_dir;

/// A running `mesos-agent`; dropping it kills it.
pub struct AgentBinary {
    child: std::process::Child,
}

impl AgentBinary {
    /// Starts the agent on `127.0.0.1:port` with `work_dir/agent` as its
    /// work_dir, `work_dir/runtime` as its runtime_dir and a cgroups root
    /// of its own (a fresh agent destroys every container it does not
    /// know under its root), logging to `work_dir/agent.log`.
    pub fn start(master: &libprocess::UPID, port: u16, work_dir: &Path, extra: &[&str]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work_dir.join("agent.log"))
            .unwrap();
        let child = std::process::Command::new(bin_dir().join("mesos-agent"))
            .arg(format!("--master={}:{}", master.ip, master.port))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--hostname=localhost")
            .arg(format!("--work_dir={}", work_dir.join("agent").display()))
            .arg(format!(
                "--runtime_dir={}",
                work_dir.join("runtime").display()
            ))
            .arg(format!(
                "--cgroups_root={}",
                super::test_containerizer(work_dir).cgroups_root
            ))
            .arg(format!("--launcher_dir={}", bin_dir().display()))
            .arg("--resources=cpus:2;mem:1024;disk:1024")
            .arg("--registration_backoff_factor=10ms")
            .arg("--executor_reregistration_timeout=10secs")
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { child }
    }

    /// Kills the agent at once (SIGKILL); its executors keep running.
    pub fn crash(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for AgentBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
