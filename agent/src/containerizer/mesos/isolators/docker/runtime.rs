//! `docker/runtime` (upstream `isolators/docker/runtime.cpp`): applies a
//! Docker image's runtime configuration to the container that runs in
//! it: `Env` (under the command's own environment), `WorkingDir`, and
//! `Entrypoint`/`Cmd` as Docker does:
//!
//! - a shell command (`shell` true) runs as given; the image's
//!   entrypoint and cmd are ignored;
//! - `shell` false with a `value`: that executable with the command's
//!   arguments;
//! - `shell` false without a `value`: the entrypoint followed by the
//!   command's arguments, or by the image's cmd when there are none; the
//!   cmd alone without an entrypoint; neither is an error.
//!
//! For a command task the result is the task's (the command executor
//! gets it as `--task_command`, `--task_environment` and
//! `--working_directory`), not the executor's.

use futures::future::BoxFuture;
use mesos_proto::docker::spec::v1::image_manifest;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo};
use mesos_proto::mesos::{environment, CommandInfo, Environment};

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};

/// `docker/runtime`.
#[derive(Debug)]
pub struct DockerRuntimeIsolator;

/// The command to run in the image for `command`; `None` keeps it.
pub fn launch_command(
    command: &CommandInfo,
    config: &image_manifest::Config,
) -> std::result::Result<Option<CommandInfo>, String> {
    if command.shell.unwrap_or(true) || command.value.is_some() {
        return Ok(None);
    }
    let mut argv: Vec<String> = config.entrypoint.clone();
    if command.arguments.is_empty() {
        argv.extend(config.cmd.iter().cloned());
    } else {
        argv.extend(command.arguments.iter().cloned());
    }
    let Some(first) = argv.first().cloned() else {
        return Err(
            "No start command found or specified: the command has no value and the \
                    image has neither an entrypoint nor a cmd"
                .into(),
        );
    };
    Ok(Some(CommandInfo {
        shell: Some(false),
        value: Some(first),
        arguments: argv,
        ..command.clone()
    }))
}

/// The image's `Env` (`NAME=value` strings) as an `Environment`.
pub fn environment_of(config: &image_manifest::Config) -> Environment {
    Environment {
        variables: config
            .env
            .iter()
            .filter_map(|entry| {
                let (name, value) = entry.split_once('=')?;
                Some(environment::Variable {
                    name: name.to_string(),
                    value: Some(value.to_string()),
                    ..Default::default()
                })
            })
            .collect(),
    }
}

impl Isolator for DockerRuntimeIsolator {
    fn name(&self) -> &'static str {
        "docker/runtime"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let Some(image) = config
            .docker
            .as_ref()
            .and_then(|d| d.manifest.as_ref())
            .and_then(|m| m.config.as_ref())
        else {
            return ready(Ok(None));
        };
        let task_command = config.task_info.as_ref().and_then(|t| t.command.as_ref());
        let command = task_command.unwrap_or(&config.command_info);
        let command = match launch_command(command, image) {
            Ok(command) => command,
            Err(error) => return ready(Err(IsolatorError(error))),
        };
        let environment = environment_of(image);
        let mut info = ContainerLaunchInfo {
            working_directory: image.working_dir.clone(),
            command,
            ..Default::default()
        };
        if task_command.is_some() {
            info.task_environment = Some(environment);
        } else {
            info.environment = Some(environment);
        }
        ready(Ok(Some(info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: &[&str], cmd: &[&str]) -> image_manifest::Config {
        image_manifest::Config {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let shell = CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        };
        assert_eq!(launch_command(&shell, &image(&["/e"], &["c"])), Ok(None));

        let bare = CommandInfo {
            shell: Some(false),
            ..Default::default()
        };
        let command = launch_command(&bare, &image(&["/e", "-x"], &["c"]))
            .expect("ok")
            .expect("some");
        assert_eq!(command.value.as_deref(), Some("/e"));
        assert_eq!(command.arguments, vec!["/e", "-x", "c"]);

        let with_arguments = CommandInfo {
            shell: Some(false),
            arguments: vec!["a".into()],
            ..Default::default()
        };
        let command = launch_command(&with_arguments, &image(&["/e"], &["c"]))
            .expect("ok")
            .expect("some");
        assert_eq!(command.arguments, vec!["/e", "a"]);

        let command = launch_command(&bare, &image(&[], &["sh", "-c", "x"]))
            .expect("ok")
            .expect("some");
        assert_eq!(command.value.as_deref(), Some("sh"));
        assert!(launch_command(&bare, &image(&[], &[])).is_err());
    }

    #[test]
    fn image_env_becomes_variables() {
        let config = image_manifest::Config {
            env: vec!["PATH=/bin:/sbin".into(), "A=b=c".into(), "bad".into()],
            ..Default::default()
        };
        let environment = environment_of(&config);
        assert_eq!(environment.variables.len(), 2);
        assert_eq!(environment.variables[1].value.as_deref(), Some("b=c"));
    }
}
