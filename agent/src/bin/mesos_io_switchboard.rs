//! `mesos-io-switchboard`: the per-container I/O server the Mesos
//! containerizer starts for TTY and DEBUG containers (see
//! `mesos_agent::containerizer::mesos::io::server`).

use clap::Parser as _;
use mesos_agent::containerizer::mesos::io::server::{self, ServerFlags};

fn main() {
    let args = match libprocess::flags::prefilter(std::env::args(), "MESOS_", &["socket_address"]) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    let flags = match ServerFlags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    std::process::exit(server::run(flags));
}
