//! The agent API's container calls for nested containers (upstream
//! `Http::launchNestedContainer`, `waitNestedContainer`,
//! `killNestedContainer`, `removeNestedContainer` and their
//! `*_CONTAINER` forms for nested ids): how the default executor runs the
//! tasks of a task group, each in a container nested in its own.
//!
//! A nested container's sandbox is `containers/<id>` inside its parent's
//! (upstream's layout); it gets the command's environment and
//! `MESOS_SANDBOX`. `LAUNCH_CONTAINER`'s resources and limits reach the
//! containerizer for a container with `linux_info.share_cgroups: false`,
//! which gets cgroups of its own (upstream's containerizer keeps them for
//! those alone; here the others never see them, so the isolators that act
//! on resources, persistent volumes and disk quotas, stay as they were for
//! them); upstream's rules on `share_cgroups`, resources and limits of
//! nested and top-level containers are checked first. Standalone containers (a `*_CONTAINER` call with a
//! top-level id) are not built yet: `501` naming the call.

// Upstream marks the `*_NESTED_CONTAINER` calls deprecated in favour of
// `*_CONTAINER`, and still serves both.
#![allow(deprecated)]

use std::path::PathBuf;
use std::sync::Arc;

use libprocess::http::Response;
use libprocess::HttpFuture;
use mesos_proto::mesos::agent::{call, response, Call, Response as ApiResponse};
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::{environment, ContainerId, Environment};

use crate::containerizer::{container_id_string, Containerizer, ContainerizerError};
use crate::slave::Slave;

fn ready(response: Response) -> HttpFuture {
    Box::pin(std::future::ready(response))
}

fn not_found(id: &str) -> Response {
    Response::status(404).with_body(
        "text/plain; charset=utf-8",
        format!("Container {id} cannot be found"),
    )
}

fn standalone(name: &str) -> Response {
    Response::status(501).with_body(
        "text/plain; charset=utf-8",
        format!("Call {name} for a standalone container is not supported by this agent yet"),
    )
}

/// The container id a call names, if it is one of the container calls.
fn target(call: &Call) -> Option<&ContainerId> {
    use call::Type;
    match call.r#type() {
        Type::LaunchNestedContainer => call
            .launch_nested_container
            .as_ref()
            .map(|c| &c.container_id),
        Type::WaitNestedContainer => call.wait_nested_container.as_ref().map(|c| &c.container_id),
        Type::KillNestedContainer => call.kill_nested_container.as_ref().map(|c| &c.container_id),
        Type::RemoveNestedContainer => call
            .remove_nested_container
            .as_ref()
            .map(|c| &c.container_id),
        Type::LaunchContainer => call.launch_container.as_ref().map(|c| &c.container_id),
        Type::WaitContainer => call.wait_container.as_ref().map(|c| &c.container_id),
        Type::KillContainer => call.kill_container.as_ref().map(|c| &c.container_id),
        Type::RemoveContainer => call.remove_container.as_ref().map(|c| &c.container_id),
        _ => None,
    }
}

/// Upstream's validation of the container calls: the payload is there and
/// a `*_NESTED_CONTAINER` id has a parent.
pub(crate) fn validate(call: &Call) -> Result<(), String> {
    use call::Type;
    let (field, nested) = match call.r#type() {
        Type::LaunchNestedContainer => ("launch_nested_container", true),
        Type::WaitNestedContainer => ("wait_nested_container", true),
        Type::KillNestedContainer => ("kill_nested_container", true),
        Type::RemoveNestedContainer => ("remove_nested_container", true),
        Type::LaunchContainer => ("launch_container", false),
        Type::WaitContainer => ("wait_container", false),
        Type::KillContainer => ("kill_container", false),
        Type::RemoveContainer => ("remove_container", false),
        _ => return Ok(()),
    };
    let Some(id) = target(call) else {
        return Err(format!("Expecting '{field}' to be present"));
    };
    validate_id(field, id)?;
    if nested && id.parent.is_none() {
        return Err(format!(
            "Expecting '{field}.container_id.parent' to be present"
        ));
    }
    validate_share_cgroups(call, id)
}

/// Upstream's rules on `share_cgroups`, resources and limits of the launch
/// calls: only a container nested at the first level may have cgroups of
/// its own, resources or limits; a top-level one cannot share cgroups.
fn validate_share_cgroups(call: &Call, id: &ContainerId) -> Result<(), String> {
    let twice_nested = id.parent.as_ref().is_some_and(|p| p.parent.is_some());
    let share_cgroups = |container: Option<&mesos_proto::mesos::ContainerInfo>| {
        container
            .and_then(|c| c.linux_info.as_ref())
            .and_then(|l| l.share_cgroups)
    };
    if let Some(launch) = &call.launch_nested_container {
        if twice_nested && share_cgroups(launch.container.as_ref()) == Some(false) {
            return Err(
                "'launch_nested_container' is invalid: containers nested at the \
                        second level or greater cannot set 'share_cgroups' to 'false'"
                    .into(),
            );
        }
    }
    if let Some(launch) = &call.launch_container {
        let shares = share_cgroups(launch.container.as_ref());
        let nested_error = |what: &str| {
            Err(format!(
                "'launch_container' is invalid: containers nested at the second level or \
                 greater cannot {what}"
            ))
        };
        if twice_nested && !launch.resources.is_empty() {
            return nested_error("specify resources");
        }
        if twice_nested && !launch.limits.is_empty() {
            return nested_error("specify resource limits");
        }
        if twice_nested && shares == Some(false) {
            return nested_error("set 'share_cgroups' to 'false'");
        }
        if id.parent.is_none() && shares == Some(true) {
            return Err(
                "'launch_container' is invalid: containers without a parent \
                        cannot set 'share_cgroups' to 'true'"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Checks the id a container call names (upstream's
/// `validation::container::validateContainerId`).
pub(crate) fn validate_id(field: &str, id: &ContainerId) -> Result<(), String> {
    if id.value.is_empty()
        || id.value.contains(['/', '.'])
        || id.value.chars().any(char::is_whitespace)
    {
        return Err(format!(
            "'{field}.container_id' is invalid: ID '{}' must be non-empty and contain no \
             '/', '.' or whitespace",
            id.value
        ));
    }
    Ok(())
}

/// Serves a container call, or `None` when `call` is not one.
pub(crate) fn dispatch(
    slave: &mut Slave,
    call: &Call,
    respond: fn(&ApiResponse, bool) -> Response,
    json: bool,
) -> Option<HttpFuture> {
    use call::Type;
    let id = target(call)?;
    let name = call.r#type().as_str_name();
    if id.parent.is_none() {
        return Some(ready(standalone(name)));
    }
    let id_string = container_id_string(id);
    let Some(containerizer) = slave.containerizer_handle() else {
        return Some(ready(Response::status(503).with_body(
            "text/plain; charset=utf-8",
            "Agent has not started its containerizer",
        )));
    };
    tracing::info!(container_id = %id_string, call = name, "Processing container call");
    let future = match call.r#type() {
        Type::LaunchNestedContainer | Type::LaunchContainer => {
            let mut template = ContainerConfig::default();
            let command = match (&call.launch_nested_container, &call.launch_container) {
                (Some(l), _) => {
                    template.container_info = l.container.clone();
                    l.command.clone()
                }
                (None, Some(l)) => {
                    template.container_info = l.container.clone();
                    // Only a container with cgroups of its own uses its
                    // resources and limits (upstream's containerizer keeps
                    // them for it alone).
                    let shares = template
                        .container_info
                        .as_ref()
                        .and_then(|c| c.linux_info.as_ref())
                        .is_none_or(|l| l.share_cgroups());
                    if !shares {
                        template.resources = l.resources.clone();
                        template.limits = l.limits.clone();
                    }
                    l.command.clone()
                }
                (None, None) => None,
            };
            let root = id_string.split('.').next().unwrap_or_default();
            let Some(root_sandbox) = slave.container_sandbox(root) else {
                return Some(ready(Response::bad_request(format!(
                    "Unable to locate executor for parent container {}",
                    id_string
                        .rsplit_once('.')
                        .map(|(p, _)| p)
                        .unwrap_or_default()
                ))));
            };
            let directory = sandbox(root_sandbox, &id_string);
            // `--switch_user`: the command's user; else the parent's.
            template.user = slave
                .switch_user()
                .then(|| command.as_ref().and_then(|c| c.user.clone()))
                .flatten();
            template.command_info = command.unwrap_or_default();
            launch(containerizer, id_string, directory, template)
        }
        Type::WaitNestedContainer | Type::WaitContainer => {
            let nested = call.r#type() == Type::WaitNestedContainer;
            let wait = containerizer.wait(id_string.clone());
            Box::pin(async move {
                let Some(termination) = wait.await else {
                    return not_found(&id_string);
                };
                let mut response = ApiResponse::default();
                let result = response::WaitNestedContainer {
                    exit_status: termination.status,
                    state: termination.state,
                    reason: termination.reason,
                    limitation: None,
                    message: termination.message,
                };
                if nested {
                    response.set_type(response::Type::WaitNestedContainer);
                    response.wait_nested_container = Some(result);
                } else {
                    response.set_type(response::Type::WaitContainer);
                    response.wait_container = Some(response::WaitContainer {
                        exit_status: result.exit_status,
                        state: result.state,
                        reason: result.reason,
                        limitation: None,
                        message: result.message,
                    });
                }
                respond(&response, json)
            }) as HttpFuture
        }
        Type::KillNestedContainer | Type::KillContainer => {
            let signal = call
                .kill_nested_container
                .as_ref()
                .and_then(|k| k.signal)
                .or_else(|| call.kill_container.as_ref().and_then(|k| k.signal))
                .unwrap_or(libc::SIGKILL);
            let kill = containerizer.kill(id_string.clone(), signal);
            Box::pin(async move {
                match kill.await {
                    Ok(true) => Response::status(200),
                    Ok(false) => not_found(&id_string),
                    Err(error) => Response::internal_error(error.to_string()),
                }
            })
        }
        Type::RemoveNestedContainer | Type::RemoveContainer => {
            let root = id_string.split('.').next().unwrap_or_default();
            let directory = slave
                .container_sandbox(root)
                .map(|root_sandbox| sandbox(root_sandbox, &id_string));
            let remove = containerizer.remove(id_string.clone());
            Box::pin(async move {
                if let Err(error) = remove.await {
                    return Response::internal_error(error.to_string());
                }
                if let Some(directory) = directory {
                    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(directory))
                        .await;
                }
                Response::status(200)
            })
        }
        _ => return None,
    };
    Some(future)
}

/// `<root sandbox>/containers/<child>[/containers/<grandchild>...]`.
pub(crate) fn sandbox(root_sandbox: PathBuf, id: &str) -> PathBuf {
    id.split('.').skip(1).fold(root_sandbox, |dir, child| {
        dir.join("containers").join(child)
    })
}

/// Launches a nested container from `template` (its command, container
/// info, user, class, e.g. DEBUG for a session, and, with cgroups of its
/// own, its resources and limits) in sandbox `directory`; answers `200`
/// once it runs.
pub(crate) fn launch(
    containerizer: Arc<dyn Containerizer>,
    id: String,
    directory: PathBuf,
    mut template: ContainerConfig,
) -> HttpFuture {
    Box::pin(async move {
        let mut command = std::mem::take(&mut template.command_info);
        // A DEBUG container keeps its parent's MESOS_SANDBOX, as upstream.
        let debug = template.container_class
            == Some(mesos_proto::mesos::slave::ContainerClass::Debug as i32);
        let mut variables = Vec::new();
        if !debug {
            variables.push(environment::Variable {
                name: "MESOS_SANDBOX".into(),
                value: Some(directory.display().to_string()),
                ..Default::default()
            });
        }
        if let Some(environment) = command.environment.take() {
            variables.extend(environment.variables);
        }
        command.environment = Some(Environment { variables });
        let dir = directory.clone();
        if let Ok(Err(error)) =
            tokio::task::spawn_blocking(move || std::fs::create_dir_all(dir)).await
        {
            return Response::internal_error(format!(
                "Failed to create the sandbox '{}': {error}",
                directory.display()
            ));
        }
        let config = ContainerConfig {
            command_info: command,
            directory: directory.display().to_string(),
            ..template
        };
        match containerizer.launch(id, config).await {
            Ok(_) | Err(ContainerizerError::AlreadyExists(_)) => Response::status(200),
            Err(error) => Response::internal_error(error.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::{value::Scalar, ContainerInfo, LinuxInfo};

    fn id(path: &[&str]) -> ContainerId {
        path.iter()
            .fold(None, |parent: Option<ContainerId>, value| {
                Some(ContainerId {
                    value: value.to_string(),
                    parent: parent.map(Box::new),
                })
            })
            .expect("an id")
    }

    fn container(share_cgroups: Option<bool>) -> Option<ContainerInfo> {
        Some(ContainerInfo {
            linux_info: Some(LinuxInfo {
                share_cgroups,
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn launch_container(
        container_id: ContainerId,
        share_cgroups: Option<bool>,
        resources: &str,
        limits: &[(&str, f64)],
    ) -> Call {
        let mut call = Call::default();
        call.set_type(call::Type::LaunchContainer);
        call.launch_container = Some(call::LaunchContainer {
            container_id,
            container: container(share_cgroups),
            resources: mesos_proto::resources::Resources::parse(resources, "*")
                .expect("resources")
                .to_vec(),
            limits: limits
                .iter()
                .map(|(name, value)| (name.to_string(), Scalar { value: *value }))
                .collect(),
            ..Default::default()
        });
        call
    }

    /// Upstream `AgentCallValidationTest.LaunchContainer`'s cases of
    /// `share_cgroups`, resources and limits.
    #[test]
    fn only_first_level_nested_containers_may_have_cgroups_resources_or_limits() {
        let first = id(&["e", "t"]);
        let second = id(&["e", "t", "d"]);
        let ok = launch_container(first.clone(), Some(false), "cpus:0.1", &[("cpus", 1.0)]);
        assert_eq!(validate(&ok), Ok(()));
        let error = |call: &Call| validate(call).expect_err("refused");
        assert_eq!(
            error(&launch_container(second.clone(), None, "cpus:0.1", &[])),
            "'launch_container' is invalid: containers nested at the second level or greater \
             cannot specify resources"
        );
        assert_eq!(
            error(&launch_container(
                second.clone(),
                None,
                "",
                &[("cpus", 1.0)]
            )),
            "'launch_container' is invalid: containers nested at the second level or greater \
             cannot specify resource limits"
        );
        assert_eq!(
            error(&launch_container(second.clone(), Some(false), "", &[])),
            "'launch_container' is invalid: containers nested at the second level or greater \
             cannot set 'share_cgroups' to 'false'"
        );
        assert_eq!(
            validate(&launch_container(second, Some(true), "", &[])),
            Ok(())
        );
        assert_eq!(
            error(&launch_container(id(&["s"]), Some(true), "", &[])),
            "'launch_container' is invalid: containers without a parent cannot set \
             'share_cgroups' to 'true'"
        );

        // `LAUNCH_NESTED_CONTAINER`: the same rule on `share_cgroups`.
        let mut call = Call::default();
        call.set_type(call::Type::LaunchNestedContainer);
        call.launch_nested_container = Some(call::LaunchNestedContainer {
            container_id: id(&["e", "t", "d"]),
            container: container(Some(false)),
            ..Default::default()
        });
        assert_eq!(
            error(&call),
            "'launch_nested_container' is invalid: containers nested at the second level or \
             greater cannot set 'share_cgroups' to 'false'"
        );
        if let Some(launch) = call.launch_nested_container.as_mut() {
            launch.container_id = id(&["e", "t"]);
        }
        assert_eq!(validate(&call), Ok(()));
    }
}
