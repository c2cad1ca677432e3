//! Validation of the messages that masters and executors both check:
//! health checks, generic checks and the command and environment inside
//! them.
//!
//! Upstream counterpart: `src/common/validation.cpp`
//! (`validateHealthCheck`, `validateCheckInfo`, `validateCheckStatusInfo`,
//! `validateCommandInfo`, `validateEnvironment`, `validateSecret`). The
//! master refuses a task whose check fails these with `TASK_ERROR`
//! (`Task uses invalid health check: ..`), and the executors' checkers
//! refuse to start on one.
//!
//! The error text is upstream's, word for word: it reaches frameworks in
//! `TaskStatus.message`.
//!
//! Deliberate difference: a message's required `port` cannot be told
//! apart from an explicit `0` after prost decodes it, so a missing port
//! is not reported (upstream's protobuf parser refuses such a message
//! before validation runs).

use crate::mesos::check_info::Type as CheckType;
use crate::mesos::environment::variable::Type as VariableType;
use crate::mesos::health_check::Type as HealthCheckType;
use crate::mesos::secret::Type as SecretType;
use crate::mesos::{CheckInfo, CheckStatusInfo, CommandInfo, Environment, HealthCheck, Secret};

/// Why a message is invalid, in upstream's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// The result of a validation.
pub type Result<T> = std::result::Result<T, ValidationError>;

fn invalid<T>(message: impl Into<String>) -> Result<T> {
    Err(ValidationError(message.into()))
}

/// Checks a `Secret`: a REFERENCE has a reference and no value, a VALUE
/// a value and no reference.
pub fn validate_secret(secret: &Secret) -> Result<()> {
    match secret.r#type() {
        SecretType::Reference => {
            let Some(reference) = &secret.reference else {
                return invalid("Secret of type REFERENCE must have the 'reference' field set");
            };
            if secret.value.is_some() {
                return invalid(format!(
                    "Secret '{}' of type REFERENCE must not have the 'value' field set",
                    reference.name
                ));
            }
        }
        SecretType::Value => {
            if secret.value.is_none() {
                return invalid("Secret of type VALUE must have the 'value' field set");
            }
            if secret.reference.is_some() {
                return invalid("Secret of type VALUE must not have the 'reference' field set");
            }
        }
        SecretType::Unknown => {}
    }
    Ok(())
}

/// Checks every variable of an `Environment`: a VALUE has a value and no
/// secret, a SECRET a valid secret without NUL bytes and no value.
pub fn validate_environment(environment: &Environment) -> Result<()> {
    for variable in &environment.variables {
        let name = &variable.name;
        match variable.r#type() {
            VariableType::Secret => {
                let Some(secret) = &variable.secret else {
                    return invalid(format!(
                        "Environment variable '{name}' of type 'SECRET' must have a secret set"
                    ));
                };
                if variable.value.is_some() {
                    return invalid(format!(
                        "Environment variable '{name}' of type 'SECRET' must not have a value set"
                    ));
                }
                if let Err(error) = validate_secret(secret) {
                    return invalid(format!(
                        "Environment variable '{name}' specifies an invalid secret: {error}"
                    ));
                }
                let data = secret.value.as_ref().map(|v| v.data.as_slice());
                if data.is_some_and(|d| d.contains(&0)) {
                    return invalid(format!(
                        "Environment variable '{name}' specifies a secret containing null \
                         bytes, which is not allowed in the environment"
                    ));
                }
            }
            VariableType::Value => {
                if variable.value.is_none() {
                    return invalid(format!(
                        "Environment variable '{name}' of type 'VALUE' must have a value set"
                    ));
                }
                if variable.secret.is_some() {
                    return invalid(format!(
                        "Environment variable '{name}' of type 'VALUE' must not have a secret set"
                    ));
                }
            }
            VariableType::Unknown => {
                return invalid("Environment variable of type 'UNKNOWN' is not allowed");
            }
        }
    }
    Ok(())
}

/// Checks a `CommandInfo` (upstream checks only its environment).
pub fn validate_command_info(command: &CommandInfo) -> Result<()> {
    match &command.environment {
        Some(environment) => validate_environment(environment),
        None => Ok(()),
    }
}

/// Checks a `HealthCheck`: a known type with its field set, a command
/// with a value, an `http`/`https` scheme, a path starting with `/`, and
/// no negative duration.
pub fn validate_health_check(check: &HealthCheck) -> Result<()> {
    if check.r#type.is_none() {
        return invalid("HealthCheck must specify 'type'");
    }
    match check.r#type() {
        HealthCheckType::Command => {
            let Some(command) = &check.command else {
                return invalid("Expecting 'command' to be set for COMMAND health check");
            };
            if command.value.is_none() {
                return invalid(format!(
                    "Command health check must contain {}",
                    command_kind(command)
                ));
            }
            if let Err(error) = validate_command_info(command) {
                return invalid(format!("Health check's `CommandInfo` is invalid: {error}"));
            }
        }
        HealthCheckType::Http => {
            let Some(http) = &check.http else {
                return invalid("Expecting 'http' to be set for HTTP health check");
            };
            if let Some(scheme) = &http.scheme {
                if scheme != "http" && scheme != "https" {
                    return invalid(format!("Unsupported HTTP health check scheme: '{scheme}'"));
                }
            }
            if let Some(path) = &http.path {
                if !path.starts_with('/') {
                    return invalid(format!(
                        "The path '{path}' of HTTP health check must start with '/'"
                    ));
                }
            }
        }
        HealthCheckType::Tcp => {
            if check.tcp.is_none() {
                return invalid("Expecting 'tcp' to be set for TCP health check");
            }
        }
        HealthCheckType::Unknown => {
            return invalid("'UNKNOWN' is not a valid health check type");
        }
    }
    let durations = [
        ("delay_seconds", check.delay_seconds),
        ("grace_period_seconds", check.grace_period_seconds),
        ("interval_seconds", check.interval_seconds),
        ("timeout_seconds", check.timeout_seconds),
    ];
    non_negative(&durations)
}

/// Checks a `CheckInfo`: a known type with its field set, a command with
/// a value, a path starting with `/`, and no negative duration.
pub fn validate_check_info(check: &CheckInfo) -> Result<()> {
    if check.r#type.is_none() {
        return invalid("CheckInfo must specify 'type'");
    }
    match check.r#type() {
        CheckType::Command => {
            let Some(command) = &check.command else {
                return invalid("Expecting 'command' to be set for COMMAND check");
            };
            let command = &command.command;
            if command.value.is_none() {
                return invalid(format!(
                    "Command check must contain {}",
                    command_kind(command)
                ));
            }
            if let Err(error) = validate_command_info(command) {
                return invalid(format!("Check's `CommandInfo` is invalid: {error}"));
            }
        }
        CheckType::Http => {
            let Some(http) = &check.http else {
                return invalid("Expecting 'http' to be set for HTTP check");
            };
            if let Some(path) = &http.path {
                if !path.starts_with('/') {
                    return invalid(format!(
                        "The path '{path}' of HTTP check must start with '/'"
                    ));
                }
            }
        }
        CheckType::Tcp => {
            if check.tcp.is_none() {
                return invalid("Expecting 'tcp' to be set for TCP check");
            }
        }
        CheckType::Unknown => return invalid("'UNKNOWN' is not a valid check type"),
    }
    let durations = [
        ("delay_seconds", check.delay_seconds),
        ("interval_seconds", check.interval_seconds),
        ("timeout_seconds", check.timeout_seconds),
    ];
    non_negative(&durations)
}

/// Checks a `CheckStatusInfo`: a known type with its field set.
pub fn validate_check_status_info(status: &CheckStatusInfo) -> Result<()> {
    if status.r#type.is_none() {
        return invalid("CheckStatusInfo must specify 'type'");
    }
    let present = match status.r#type() {
        CheckType::Command => ("command", "COMMAND", status.command.is_some()),
        CheckType::Http => ("http", "HTTP", status.http.is_some()),
        CheckType::Tcp => ("tcp", "TCP", status.tcp.is_some()),
        CheckType::Unknown => return invalid("'UNKNOWN' is not a valid check's status type"),
    };
    match present {
        (_, _, true) => Ok(()),
        (field, kind, false) => invalid(format!(
            "Expecting '{field}' to be set for {kind} check's status"
        )),
    }
}

fn command_kind(command: &CommandInfo) -> &'static str {
    if command.shell() {
        "'shell command'"
    } else {
        "'executable path'"
    }
}

fn non_negative(durations: &[(&str, Option<f64>)]) -> Result<()> {
    for (name, value) in durations {
        if value.is_some_and(|v| v < 0.0) {
            return invalid(format!("Expecting '{name}' to be non-negative"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::environment::Variable;
    use crate::mesos::{check_info, health_check};

    fn command_health_check(value: Option<&str>) -> HealthCheck {
        HealthCheck {
            r#type: Some(HealthCheckType::Command as i32),
            command: Some(CommandInfo {
                value: value.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.unwrap_err().0
    }

    #[test]
    fn a_complete_health_check_is_valid() {
        assert_eq!(
            validate_health_check(&command_health_check(Some("true"))),
            Ok(())
        );
        let http = HealthCheck {
            r#type: Some(HealthCheckType::Http as i32),
            http: Some(health_check::HttpCheckInfo {
                port: 8080,
                path: Some("/health".into()),
                scheme: Some("https".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(validate_health_check(&http), Ok(()));
    }

    #[test]
    fn health_checks_missing_their_type_field_are_refused_as_upstream() {
        let mut check = HealthCheck::default();
        assert_eq!(
            message(validate_health_check(&check)),
            "HealthCheck must specify 'type'"
        );
        check.r#type = Some(HealthCheckType::Http as i32);
        assert_eq!(
            message(validate_health_check(&check)),
            "Expecting 'http' to be set for HTTP health check"
        );
        check.r#type = Some(HealthCheckType::Tcp as i32);
        assert_eq!(
            message(validate_health_check(&check)),
            "Expecting 'tcp' to be set for TCP health check"
        );
        check.r#type = Some(HealthCheckType::Command as i32);
        assert_eq!(
            message(validate_health_check(&check)),
            "Expecting 'command' to be set for COMMAND health check"
        );
        check.r#type = Some(HealthCheckType::Unknown as i32);
        assert_eq!(
            message(validate_health_check(&check)),
            "'UNKNOWN' is not a valid health check type"
        );
        assert_eq!(
            message(validate_health_check(&command_health_check(None))),
            "Command health check must contain 'shell command'"
        );
    }

    #[test]
    fn health_check_http_scheme_path_and_durations_are_checked() {
        let mut http = HealthCheck {
            r#type: Some(HealthCheckType::Http as i32),
            http: Some(health_check::HttpCheckInfo {
                port: 80,
                scheme: Some("ftp".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&http)),
            "Unsupported HTTP health check scheme: 'ftp'"
        );
        if let Some(info) = http.http.as_mut() {
            info.scheme = None;
            info.path = Some("health".into());
        }
        assert_eq!(
            message(validate_health_check(&http)),
            "The path 'health' of HTTP health check must start with '/'"
        );
        let mut check = command_health_check(Some("true"));
        check.grace_period_seconds = Some(-1.0);
        assert_eq!(
            message(validate_health_check(&check)),
            "Expecting 'grace_period_seconds' to be non-negative"
        );
        check.grace_period_seconds = None;
        check.timeout_seconds = Some(-0.5);
        assert_eq!(
            message(validate_health_check(&check)),
            "Expecting 'timeout_seconds' to be non-negative"
        );
    }

    #[test]
    fn a_check_command_environment_needs_values() {
        let mut check = command_health_check(Some("true"));
        if let Some(command) = check.command.as_mut() {
            command.environment = Some(Environment {
                variables: vec![Variable {
                    name: "FOO".into(),
                    ..Default::default()
                }],
            });
        }
        assert_eq!(
            message(validate_health_check(&check)),
            "Health check's `CommandInfo` is invalid: Environment variable 'FOO' of type \
             'VALUE' must have a value set"
        );
    }

    #[test]
    fn checks_are_validated_as_upstream() {
        let mut check = CheckInfo::default();
        assert_eq!(
            message(validate_check_info(&check)),
            "CheckInfo must specify 'type'"
        );
        check.r#type = Some(CheckType::Command as i32);
        assert_eq!(
            message(validate_check_info(&check)),
            "Expecting 'command' to be set for COMMAND check"
        );
        check.command = Some(check_info::Command {
            command: CommandInfo {
                shell: Some(false),
                ..Default::default()
            },
        });
        assert_eq!(
            message(validate_check_info(&check)),
            "Command check must contain 'executable path'"
        );
        check.r#type = Some(CheckType::Http as i32);
        check.http = Some(check_info::Http {
            port: 80,
            path: Some("x".into()),
        });
        assert_eq!(
            message(validate_check_info(&check)),
            "The path 'x' of HTTP check must start with '/'"
        );
        check.r#type = Some(CheckType::Tcp as i32);
        assert_eq!(
            message(validate_check_info(&check)),
            "Expecting 'tcp' to be set for TCP check"
        );
        check.tcp = Some(check_info::Tcp { port: 80 });
        check.interval_seconds = Some(-3.0);
        assert_eq!(
            message(validate_check_info(&check)),
            "Expecting 'interval_seconds' to be non-negative"
        );
        check.interval_seconds = Some(3.0);
        assert_eq!(validate_check_info(&check), Ok(()));
    }

    #[test]
    fn check_statuses_need_their_type_field() {
        let status = CheckStatusInfo {
            r#type: Some(CheckType::Http as i32),
            ..Default::default()
        };
        assert_eq!(
            message(validate_check_status_info(&status)),
            "Expecting 'http' to be set for HTTP check's status"
        );
    }
}
