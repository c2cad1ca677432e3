//! `mesos-containerizer`: the Mesos containerizer's helper. Only the
//! `launch` subcommand (see `mesos_agent::containerizer::mesos::launch`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.split_first() {
        Some((command, rest)) if command == "launch" => {
            match mesos_agent::containerizer::mesos::launch::LaunchFlags::parse(rest) {
                Ok(flags) => mesos_agent::containerizer::mesos::launch::run(&flags),
                Err(error) => {
                    eprintln!("mesos-containerizer launch: {error}");
                    1
                }
            }
        }
        _ => {
            eprintln!("Usage: mesos-containerizer launch --launch_info=JSON [--pipe_read=FD]");
            1
        }
    };
    std::process::exit(code);
}
