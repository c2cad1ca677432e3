//! A health check (`TaskInfo.health_check`): turns check results into
//! healthy and unhealthy reports, and says when the task must be killed.
//!
//! Upstream counterpart: `HealthChecker` in `src/checks/health_checker.cpp`
//! (behaviour described in `docs/health-checks.md`). The health check is
//! run as the generic check it converts to, and each result is read as
//! healthy or not: exit code 0, an HTTP status in [200, 400), a TCP
//! connection that succeeded. Then:
//! - a failure while the task has never been healthy and is within
//!   `grace_period_seconds` of the checker's start is ignored;
//! - any other failure is reported unhealthy, with the count of
//!   consecutive failures, and `kill_task` once that count reaches
//!   `consecutive_failures`; the executor kills the task (checking goes on
//!   until it is stopped);
//! - the first success, and the first after failures, are reported
//!   healthy; other successes are not reported.

use std::time::{Duration, Instant};

use mesos_proto::mesos::check_info::Type as CheckType;
use mesos_proto::mesos::health_check::Type as HealthCheckType;
use mesos_proto::mesos::network_info::Protocol;
use mesos_proto::mesos::{check_info, CheckInfo, CheckStatusInfo, HealthCheck, TaskId};
use mesos_proto::validation::{self, ValidationError};

use super::checker_process::{seconds, CheckConfig, CheckerProcess};
use super::Runtime;
use crate::command_executor::wstringify;

/// One health report (upstream's `TaskHealthStatus` message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHealthStatus {
    /// The task checked.
    pub task_id: TaskId,
    /// Whether the last check succeeded.
    pub healthy: bool,
    /// Whether the task should be killed now.
    pub kill_task: bool,
    /// Failures in a row so far (0 when healthy).
    pub consecutive_failures: u32,
}

/// A running health check; dropping it stops checking.
#[derive(Debug)]
pub struct HealthChecker {
    process: CheckerProcess,
}

impl HealthChecker {
    /// Validates `health_check` and starts it on the current tokio
    /// runtime; `callback` gets each report.
    pub fn create(
        health_check: &HealthCheck,
        runtime: Runtime,
        task_id: TaskId,
        callback: impl Fn(TaskHealthStatus) + Send + 'static,
    ) -> Result<Self, ValidationError> {
        validation::validate_health_check(health_check)?;
        let name = format!("{} health check", health_check.r#type().as_str_name());
        tracing::debug!(
            task_id = task_id.value,
            ?health_check,
            "Health check configuration"
        );
        let (scheme, ipv6) = match health_check.r#type() {
            HealthCheckType::Http => {
                let http = health_check.http.clone().unwrap_or_default();
                (http.scheme.clone(), http.protocol() == Protocol::IPv6)
            }
            HealthCheckType::Tcp => (
                None,
                health_check
                    .tcp
                    .is_some_and(|t| t.protocol() == Protocol::IPv6),
            ),
            _ => (None, false),
        };
        let config = CheckConfig::new(&to_check_info(health_check), scheme, ipv6);
        let mut health = Health::new(health_check, task_id.clone());
        let started = Instant::now();
        let log_name = name.clone();
        let process = CheckerProcess::spawn(config, runtime, name, task_id, move |result| {
            let verdict = result.and_then(|status| interpret(&status));
            let report = match verdict {
                Ok(()) => {
                    tracing::debug!(task_id = health.task_id.value, "{log_name} passed");
                    health.success()
                }
                Err(error) => {
                    tracing::warn!(task_id = health.task_id.value, %error, "{log_name} failed");
                    health.failure(started.elapsed())
                }
            };
            if let Some(report) = report {
                callback(report);
            }
        });
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

/// The generic check a health check runs (upstream's `toCheckInfo`).
fn to_check_info(health_check: &HealthCheck) -> CheckInfo {
    let mut check = CheckInfo {
        delay_seconds: Some(health_check.delay_seconds()),
        interval_seconds: Some(health_check.interval_seconds()),
        timeout_seconds: Some(health_check.timeout_seconds()),
        ..Default::default()
    };
    match health_check.r#type() {
        HealthCheckType::Command => {
            check.set_type(CheckType::Command);
            check.command = Some(check_info::Command {
                command: health_check.command.clone().unwrap_or_default(),
            });
        }
        HealthCheckType::Http => {
            check.set_type(CheckType::Http);
            let http = health_check.http.clone().unwrap_or_default();
            check.http = Some(check_info::Http {
                port: http.port,
                path: Some(http.path.unwrap_or_default()),
            });
        }
        HealthCheckType::Tcp => {
            check.set_type(CheckType::Tcp);
            check.tcp = Some(check_info::Tcp {
                port: health_check.tcp.map(|t| t.port).unwrap_or_default(),
            });
        }
        HealthCheckType::Unknown => check.set_type(CheckType::Unknown),
    }
    check
}

/// Reads a check result as healthy (`Ok`) or not.
fn interpret(status: &CheckStatusInfo) -> Result<(), String> {
    match status.r#type() {
        CheckType::Command => {
            let code = status
                .command
                .as_ref()
                .and_then(|c| c.exit_code)
                .unwrap_or_default();
            if code != 0 {
                // The exit code as a wait status, as upstream prints it.
                let raw = (code & 0xff) << 8;
                let status =
                    <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(
                        raw,
                    );
                return Err(format!("Command {}", wstringify(status)));
            }
        }
        CheckType::Http => {
            let code = status
                .http
                .as_ref()
                .and_then(|h| h.status_code)
                .unwrap_or_default();
            if !(200..400).contains(&code) {
                return Err(format!("Unexpected HTTP response code: {code}"));
            }
        }
        CheckType::Tcp => {
            let succeeded = status.tcp.as_ref().and_then(|t| t.succeeded) == Some(true);
            if !succeeded {
                return Err("TCP connection failed".into());
            }
        }
        CheckType::Unknown => {}
    }
    Ok(())
}

/// The health state of one task (the `HealthChecker` fields upstream
/// keeps between results).
#[derive(Debug)]
struct Health {
    task_id: TaskId,
    grace_period: Duration,
    consecutive_failures_limit: u32,
    consecutive_failures: u32,
    /// No success yet.
    initializing: bool,
}

impl Health {
    fn new(health_check: &HealthCheck, task_id: TaskId) -> Self {
        Self {
            task_id,
            grace_period: seconds(health_check.grace_period_seconds()),
            consecutive_failures_limit: health_check.consecutive_failures(),
            consecutive_failures: 0,
            initializing: true,
        }
    }

    /// A failed check, `elapsed` after the checker started.
    fn failure(&mut self, elapsed: Duration) -> Option<TaskHealthStatus> {
        // Upstream compares whole seconds of the grace period with zero.
        if self.initializing && self.grace_period.as_secs() > 0 && elapsed <= self.grace_period {
            tracing::info!(
                task_id = self.task_id.value,
                "Ignoring failure of health check: still in grace period"
            );
            return None;
        }
        self.consecutive_failures += 1;
        tracing::warn!(
            task_id = self.task_id.value,
            consecutive_failures = self.consecutive_failures,
            "Health check failed"
        );
        Some(TaskHealthStatus {
            task_id: self.task_id.clone(),
            healthy: false,
            kill_task: self.consecutive_failures >= self.consecutive_failures_limit,
            consecutive_failures: self.consecutive_failures,
        })
    }

    /// A successful check.
    fn success(&mut self) -> Option<TaskHealthStatus> {
        let report = (self.initializing || self.consecutive_failures > 0).then(|| {
            self.initializing = false;
            TaskHealthStatus {
                task_id: self.task_id.clone(),
                healthy: true,
                kill_task: false,
                consecutive_failures: 0,
            }
        });
        self.consecutive_failures = 0;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::{check_status_info, health_check, CommandInfo};

    fn health(grace_period: f64, consecutive_failures: u32) -> Health {
        let check = HealthCheck {
            grace_period_seconds: Some(grace_period),
            consecutive_failures: Some(consecutive_failures),
            ..Default::default()
        };
        Health::new(&check, TaskId { value: "t".into() })
    }

    fn reported(report: Option<TaskHealthStatus>) -> Option<(bool, bool, u32)> {
        report.map(|r| (r.healthy, r.kill_task, r.consecutive_failures))
    }

    #[test]
    fn failures_in_the_grace_period_are_ignored_until_the_first_success() {
        let mut health = health(10.0, 3);
        assert_eq!(health.failure(Duration::from_secs(1)), None);
        assert_eq!(health.failure(Duration::from_secs(10)), None);
        assert_eq!(reported(health.success()), Some((true, false, 0)));
        // Once healthy, the grace period no longer applies.
        assert_eq!(
            reported(health.failure(Duration::from_secs(2))),
            Some((false, false, 1))
        );
    }

    #[test]
    fn only_the_first_success_and_recoveries_are_reported() {
        let mut health = health(0.0, 3);
        assert_eq!(reported(health.success()), Some((true, false, 0)));
        assert_eq!(health.success(), None);
        assert_eq!(
            reported(health.failure(Duration::from_secs(60))),
            Some((false, false, 1))
        );
        assert_eq!(reported(health.success()), Some((true, false, 0)));
        assert_eq!(health.success(), None);
    }

    #[test]
    fn the_task_is_to_be_killed_after_consecutive_failures() {
        let mut health = health(0.0, 2);
        let after = Duration::from_secs(30);
        assert_eq!(reported(health.failure(after)), Some((false, false, 1)));
        assert_eq!(reported(health.failure(after)), Some((false, true, 2)));
        // Checking goes on until the executor stops it.
        assert_eq!(reported(health.failure(after)), Some((false, true, 3)));
    }

    #[test]
    fn a_grace_period_under_a_second_counts_as_none() {
        let mut health = health(0.5, 1);
        assert_eq!(
            reported(health.failure(Duration::from_millis(100))),
            Some((false, true, 1))
        );
    }

    #[test]
    fn results_are_read_as_upstream() {
        let command = |code| CheckStatusInfo {
            r#type: Some(CheckType::Command as i32),
            command: Some(check_status_info::Command {
                exit_code: Some(code),
            }),
            ..Default::default()
        };
        assert_eq!(interpret(&command(0)), Ok(()));
        assert_eq!(
            interpret(&command(1)),
            Err("Command exited with status 1".into())
        );
        let http = |code| CheckStatusInfo {
            r#type: Some(CheckType::Http as i32),
            http: Some(check_status_info::Http {
                status_code: Some(code),
            }),
            ..Default::default()
        };
        assert_eq!(interpret(&http(200)), Ok(()));
        assert_eq!(interpret(&http(302)), Ok(()));
        assert!(interpret(&http(404)).is_err());
        assert!(interpret(&http(199)).is_err());
        let tcp = CheckStatusInfo {
            r#type: Some(CheckType::Tcp as i32),
            tcp: Some(check_status_info::Tcp {
                succeeded: Some(false),
            }),
            ..Default::default()
        };
        assert_eq!(interpret(&tcp), Err("TCP connection failed".into()));
    }

    #[test]
    fn health_checks_convert_to_checks_with_their_timing() {
        let health_check = HealthCheck {
            r#type: Some(HealthCheckType::Http as i32),
            http: Some(health_check::HttpCheckInfo {
                port: 8080,
                path: Some("/ping".into()),
                ..Default::default()
            }),
            interval_seconds: Some(2.0),
            ..Default::default()
        };
        let check = to_check_info(&health_check);
        assert_eq!(check.r#type(), CheckType::Http);
        assert_eq!(
            check.http,
            Some(check_info::Http {
                port: 8080,
                path: Some("/ping".into())
            })
        );
        assert_eq!(check.interval_seconds, Some(2.0));
        assert_eq!(check.delay_seconds, Some(15.0));
        assert_eq!(check.timeout_seconds, Some(20.0));
        let command = HealthCheck {
            r#type: Some(HealthCheckType::Command as i32),
            command: Some(CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            to_check_info(&command).command.map(|c| c.command.value),
            Some(Some("true".into()))
        );
    }

    #[test]
    fn a_live_health_check_reports_healthy_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let health_check = HealthCheck {
                r#type: Some(HealthCheckType::Command as i32),
                command: Some(CommandInfo {
                    value: Some("true".into()),
                    ..Default::default()
                }),
                delay_seconds: Some(0.0),
                interval_seconds: Some(0.05),
                ..Default::default()
            };
            let checker = HealthChecker::create(
                &health_check,
                Runtime::Plain(super::super::Plain::default()),
                TaskId { value: "t".into() },
                move |report| {
                    let _ = tx.send(report);
                },
            )
            .unwrap();
            let report = rx.recv().await.unwrap();
            assert!(report.healthy && !report.kill_task);
            // Later successes are not reported.
            let later = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
            assert!(later.is_err(), "{later:?}");
            drop(checker);
        });
    }
}
