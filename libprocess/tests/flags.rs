//! Flag loading as every binary does it: clap derive with snake_case names
//! and `env` on every field, after `libprocess::flags::prefilter`. In its own
//! test binary because it changes the environment.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::time::Duration;

use clap::{ArgAction, Parser};
use libprocess::flags::{parse_duration, prefilter};

#[derive(Debug, Parser)]
#[command(rename_all = "snake_case")]
struct Flags {
    #[arg(long, env = "FLAGTEST_WORK_DIR")]
    work_dir: Option<String>,
    #[arg(long, env = "FLAGTEST_HOSTNAME")]
    hostname: Option<String>,
    #[arg(
        long,
        env = "FLAGTEST_CHECKPOINT",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true"
    )]
    checkpoint: bool,
    #[arg(long, env = "FLAGTEST_REGISTRATION_BACKOFF_FACTOR", value_parser = parse_duration, default_value = "1secs")]
    registration_backoff_factor: Duration,
}

fn parse(args: &[&str]) -> Flags {
    let args = std::iter::once("prog")
        .chain(args.iter().copied())
        .map(String::from);
    let args = prefilter(args, "FLAGTEST_", &["work_dir"]).expect("prefilter");
    Flags::try_parse_from(args).expect("parse")
}

#[test]
fn command_line_environment_and_defaults() {
    // Defaults.
    let flags = parse(&[]);
    assert!(flags.checkpoint);
    assert_eq!(flags.registration_backoff_factor, Duration::from_secs(1));

    // Booleans: bare, explicit, negated.
    assert!(parse(&["--checkpoint"]).checkpoint);
    assert!(!parse(&["--checkpoint=false"]).checkpoint);
    assert!(!parse(&["--no-checkpoint"]).checkpoint);
    assert_eq!(
        parse(&["--registration_backoff_factor=2mins"]).registration_backoff_factor,
        Duration::from_secs(120)
    );
    assert!(Flags::try_parse_from(["prog", "--registration_backoff_factor=2"]).is_err());

    // The environment, in upper or lower case; the command line wins.
    // SAFETY: this test binary runs this one test, single-threaded here.
    unsafe {
        std::env::set_var("FLAGTEST_hostname", "lower.example");
        std::env::set_var("FLAGTEST_WORK_DIR", "/var/lib/mesos");
    }
    let flags = parse(&[]);
    assert_eq!(flags.hostname.as_deref(), Some("lower.example"));
    assert_eq!(flags.work_dir.as_deref(), Some("/var/lib/mesos"));
    assert_eq!(
        parse(&["--hostname=cli.example"]).hostname.as_deref(),
        Some("cli.example")
    );

    // file:// values are read, except for path flags.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostname");
    std::fs::write(&file, "from-file.example\n").unwrap();
    let value = format!("--hostname=file://{}", file.display());
    assert_eq!(
        parse(&[&value]).hostname.as_deref(),
        Some("from-file.example")
    );
    let value = format!("--work_dir=file://{}", file.display());
    assert_eq!(
        parse(&[&value]).work_dir,
        Some(format!("file://{}", file.display()))
    );
}
