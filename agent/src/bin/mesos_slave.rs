//! `mesos-slave`: upstream's old name of `mesos-agent`, the same program.

fn main() -> std::process::ExitCode {
    mesos_agent::cli::main()
}
