//! `mesos-agent`: the agent binary (see [`mesos_agent::cli`]).

fn main() -> std::process::ExitCode {
    mesos_agent::cli::main()
}
