//! `mesos-fetcher`: fetches a container's URIs into its sandbox, as the
//! agent's fetcher asks in `MESOS_FETCHER_INFO` (see
//! `mesos_agent::containerizer::fetcher::helper`).

fn main() {
    std::process::exit(mesos_agent::containerizer::fetcher::helper::main());
}
