//! `posix/rlimits` (upstream `isolators/posix/rlimits.cpp`, seed
//! MESOS-6402): the container's `ContainerInfo.rlimit_info` goes into the
//! launch info, and the launch helper sets each limit before exec. A
//! limit with neither `soft` nor `hard` is unlimited; one with only one of
//! them, a soft above its hard, or a type this system lacks fails the
//! launch with a message naming the limit.

use futures::future::BoxFuture;
use mesos_proto::mesos::r_limit_info::{r_limit::Type, RLimit};
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo};
use mesos_proto::mesos::RLimitInfo;

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};

/// The `posix/rlimits` isolator.
#[derive(Debug, Default)]
pub struct PosixRLimitsIsolator;

impl Isolator for PosixRLimitsIsolator {
    fn name(&self) -> &'static str {
        "posix/rlimits"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let Some(rlimits) = config
            .container_info
            .as_ref()
            .and_then(|c| c.rlimit_info.clone())
        else {
            return ready(Ok(None));
        };
        if let Err(error) = rlimits
            .rlimits
            .iter()
            .try_for_each(|l| convert(l).map(|_| ()))
        {
            return ready(Err(error));
        }
        ready(Ok(Some(ContainerLaunchInfo {
            rlimits: Some(rlimits),
            ..Default::default()
        })))
    }
}

/// The `setrlimit` resource and value of `limit`.
pub fn convert(limit: &RLimit) -> Result<(libc::__rlimit_resource_t, libc::rlimit)> {
    let kind = Type::try_from(limit.r#type.unwrap_or_default()).unwrap_or(Type::Unknown);
    let resource = match kind {
        Type::RlmtAs => libc::RLIMIT_AS,
        Type::RlmtCore => libc::RLIMIT_CORE,
        Type::RlmtCpu => libc::RLIMIT_CPU,
        Type::RlmtData => libc::RLIMIT_DATA,
        Type::RlmtFsize => libc::RLIMIT_FSIZE,
        Type::RlmtLocks => libc::RLIMIT_LOCKS,
        Type::RlmtMemlock => libc::RLIMIT_MEMLOCK,
        Type::RlmtMsgqueue => libc::RLIMIT_MSGQUEUE,
        Type::RlmtNice => libc::RLIMIT_NICE,
        Type::RlmtNofile => libc::RLIMIT_NOFILE,
        Type::RlmtNproc => libc::RLIMIT_NPROC,
        Type::RlmtRss => libc::RLIMIT_RSS,
        Type::RlmtRtprio => libc::RLIMIT_RTPRIO,
        Type::RlmtRttime => libc::RLIMIT_RTTIME,
        Type::RlmtSigpending => libc::RLIMIT_SIGPENDING,
        Type::RlmtStack => libc::RLIMIT_STACK,
        Type::Unknown => return Err(IsolatorError("unknown rlimit type".into())),
    };
    let name = kind.as_str_name();
    let value = match (limit.soft, limit.hard) {
        (Some(soft), Some(hard)) if soft > hard => {
            return Err(IsolatorError(format!(
                "invalid rlimit {name}: soft limit {soft} is above hard limit {hard}"
            )))
        }
        (Some(soft), Some(hard)) => libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        },
        (None, None) => libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        },
        _ => {
            return Err(IsolatorError(format!(
                "invalid rlimit {name}: set both soft and hard, or neither for unlimited"
            )))
        }
    };
    Ok((resource, value))
}

/// Sets every limit of `rlimits` on the calling process.
pub fn apply(rlimits: &RLimitInfo) -> Result<()> {
    for limit in &rlimits.rlimits {
        let (resource, value) = convert(limit)?;
        // SAFETY: setrlimit reads the struct we pass and nothing else.
        if unsafe { libc::setrlimit(resource, &value) } != 0 {
            let error = std::io::Error::last_os_error();
            let kind = Type::try_from(limit.r#type.unwrap_or_default()).unwrap_or(Type::Unknown);
            return Err(IsolatorError(format!(
                "failed to set rlimit {}: {error}",
                kind.as_str_name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(kind: Type, soft: Option<u64>, hard: Option<u64>) -> RLimit {
        RLimit {
            r#type: Some(kind as i32),
            soft,
            hard,
        }
    }

    #[test]
    fn limits_convert_as_upstream() {
        let (resource, value) = convert(&limit(Type::RlmtNofile, Some(10), Some(20))).expect("ok");
        assert_eq!(resource, libc::RLIMIT_NOFILE);
        assert_eq!((value.rlim_cur, value.rlim_max), (10, 20));
        let (_, value) = convert(&limit(Type::RlmtCore, None, None)).expect("ok");
        assert_eq!(value.rlim_cur, libc::RLIM_INFINITY);
        assert_eq!(value.rlim_max, libc::RLIM_INFINITY);
    }

    #[test]
    fn invalid_limits_are_refused_with_their_name() {
        let error = convert(&limit(Type::RlmtNofile, Some(20), Some(10))).expect_err("soft > hard");
        assert!(error.0.contains("RLMT_NOFILE"), "{error}");
        let error = convert(&limit(Type::RlmtCpu, Some(1), None)).expect_err("half set");
        assert!(error.0.contains("set both soft and hard"), "{error}");
        let error = convert(&limit(Type::Unknown, None, None)).expect_err("unknown");
        assert!(error.0.contains("unknown rlimit type"), "{error}");
    }
}
