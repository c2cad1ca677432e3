//! `mesos`: the command-line client (upstream's `mesos` CLI of
//! `src/cli_new/`): `mesos task list|exec|attach|log`. See
//! `mesos_tools::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `mesos`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "mesos",
    about = "Inspect and debug the tasks of a Mesos cluster"
)]
struct Args {
    /// The master, `host:port`.
    #[arg(
        long,
        env = "MESOS_MASTER",
        default_value = "127.0.0.1:5050",
        global = true
    )]
    master: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tasks.
    #[command(subcommand)]
    Task(Task),
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Lists the tasks the master knows.
    List,
    /// Runs a command in a new container nested in the task's.
    Exec {
        /// Attach our stdin to the command.
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Give the command a terminal.
        #[arg(short = 't', long)]
        tty: bool,
        /// The task's id (or a unique prefix).
        task: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Attaches to the task's output (and input, with a terminal).
    Attach {
        /// The task's id (or a unique prefix).
        task: String,
    },
    /// Prints the task's stdout or stderr.
    Log {
        /// Keep printing what the task writes, until it ends.
        #[arg(short = 'f', long)]
        follow: bool,
        /// The task's id (or a unique prefix).
        task: String,
        /// `stdout` or `stderr`.
        #[arg(default_value = "stdout")]
        file: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let master = args.master.trim_start_matches("http://").to_string();
    let result = match args.command {
        Command::Task(Task::List) => {
            mesos_tools::cli::task_list(&master, &mut std::io::stdout()).map(|()| 0)
        }
        Command::Task(Task::Exec {
            interactive,
            tty,
            task,
            command,
        }) => mesos_tools::cli::task_exec(&master, &task, interactive, tty, &command),
        Command::Task(Task::Attach { task }) => mesos_tools::cli::task_attach(&master, &task),
        Command::Task(Task::Log { follow, task, file }) => {
            mesos_tools::cli::task_log(&master, &task, follow, &file).map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
