//! A generic check (`TaskInfo.check`): reports the check's status
//! whenever it changes.
//!
//! Upstream counterpart: `Checker` in `src/checks/checker.cpp`. The last
//! status reported starts as the empty status of the check's type (what
//! every update of a checked task carries until the first result), so the
//! first result is reported only if it differs from that. A check that
//! fails (e.g. times out) counts as the empty status again.

use mesos_proto::mesos::check_info::Type as CheckType;
use mesos_proto::mesos::{check_status_info, CheckInfo, CheckStatusInfo, TaskId};
use mesos_proto::validation::{self, ValidationError};

use super::checker_process::{CheckConfig, CheckerProcess};
use super::Runtime;

/// A running generic check; dropping it stops checking.
#[derive(Debug)]
pub struct Checker {
    process: CheckerProcess,
}

impl Checker {
    /// Validates `check` and starts it on the current tokio runtime;
    /// `callback` gets each changed status.
    pub fn create(
        check: &CheckInfo,
        runtime: Runtime,
        task_id: TaskId,
        callback: impl Fn(CheckStatusInfo) + Send + 'static,
    ) -> Result<Self, ValidationError> {
        validation::validate_check_info(check)?;
        let name = format!("{} check", check.r#type().as_str_name());
        tracing::debug!(task_id = task_id.value, ?check, "Check configuration");
        let mut changes = Changes::new(check);
        let log_name = name.clone();
        let log_task_id = task_id.clone();
        let process = CheckerProcess::spawn(
            CheckConfig::new(check, None, false),
            runtime,
            name,
            task_id,
            move |result| {
                let status = match result {
                    Ok(status) => status,
                    Err(error) => {
                        tracing::warn!(task_id = log_task_id.value, %error, "{log_name} failed");
                        empty_check_status(changes.check_type)
                    }
                };
                if let Some(status) = changes.update(status) {
                    callback(status);
                }
            },
        );
        Ok(Self { process })
    }

    /// Stops checking until resumed.
    pub fn pause(&self) {
        self.process.pause();
    }

    /// Checks again at once.
    pub fn resume(&self) {
        self.process.resume();
    }
}

/// Remembers the last status reported.
#[derive(Debug)]
struct Changes {
    check_type: CheckType,
    previous: CheckStatusInfo,
}

impl Changes {
    fn new(check: &CheckInfo) -> Self {
        Self {
            check_type: check.r#type(),
            previous: empty_check_status(check.r#type()),
        }
    }

    /// Returns `status` if it differs from the last one reported.
    fn update(&mut self, status: CheckStatusInfo) -> Option<CheckStatusInfo> {
        if status == self.previous {
            return None;
        }
        self.previous = status;
        Some(status)
    }
}

/// The status of a check of `check_type` that has no result yet: the
/// type and its empty field (upstream's `createEmptyCheckStatusInfo`).
pub fn empty_check_status(check_type: CheckType) -> CheckStatusInfo {
    let mut status = CheckStatusInfo {
        r#type: Some(check_type as i32),
        ..Default::default()
    };
    match check_type {
        CheckType::Command => status.command = Some(check_status_info::Command::default()),
        CheckType::Http => status.http = Some(check_status_info::Http::default()),
        CheckType::Tcp => status.tcp = Some(check_status_info::Tcp::default()),
        CheckType::Unknown => {}
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::check_info;

    fn exit(code: i32) -> CheckStatusInfo {
        CheckStatusInfo {
            r#type: Some(CheckType::Command as i32),
            command: Some(check_status_info::Command {
                exit_code: Some(code),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_changed_results_are_reported() {
        let check = CheckInfo {
            r#type: Some(CheckType::Command as i32),
            ..Default::default()
        };
        let mut changes = Changes::new(&check);
        // No result yet is what updates already carry.
        assert_eq!(changes.update(empty_check_status(CheckType::Command)), None);
        assert_eq!(changes.update(exit(0)), Some(exit(0)));
        assert_eq!(changes.update(exit(0)), None);
        assert_eq!(changes.update(exit(1)), Some(exit(1)));
        // A failed check empties the status again.
        assert_eq!(
            changes.update(empty_check_status(CheckType::Command)),
            Some(empty_check_status(CheckType::Command))
        );
    }

    #[test]
    fn invalid_checks_are_refused() {
        let check = CheckInfo {
            r#type: Some(CheckType::Http as i32),
            http: Some(check_info::Http {
                port: 80,
                path: Some("relative".into()),
            }),
            ..Default::default()
        };
        let runtime = Runtime::Plain(super::super::Plain::default());
        let error = Checker::create(&check, runtime, TaskId::default(), |_| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The path 'relative' of HTTP check must start with '/'"
        );
    }

    #[test]
    fn the_empty_status_has_the_types_field() {
        let status = empty_check_status(CheckType::Tcp);
        assert_eq!(status.r#type, Some(CheckType::Tcp as i32));
        assert_eq!(status.tcp, Some(check_status_info::Tcp { succeeded: None }));
        assert!(status.http.is_none() && status.command.is_none());
    }
}
