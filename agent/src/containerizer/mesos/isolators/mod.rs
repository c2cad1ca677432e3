//! The isolators `--isolation` can name, in one ordered table (upstream
//! `MesosContainerizer::create`'s creator map). A name not in the table is
//! refused at start-up with an error naming it.

pub mod namespaces;
pub mod posix;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::isolator::{ready, Isolator, Result};
use namespaces::{Namespace, NamespacesIsolator};
use posix::rlimits::PosixRLimitsIsolator;
use posix::{PosixIsolator, PosixKind};

/// What isolators are built with.
#[derive(Debug, Clone)]
pub struct IsolatorContext {
    /// `/proc`.
    pub proc_root: PathBuf,
}

type Constructor = fn(&IsolatorContext) -> Arc<dyn Isolator>;

/// Every isolator built, by upstream name, in the order their `prepare`
/// and `isolate` run when named together.
const TABLE: &[(&str, Constructor)] = &[
    ("filesystem/posix", |_| Arc::new(FilesystemPosixIsolator)),
    ("posix/cpu", |c| {
        Arc::new(PosixIsolator::new(PosixKind::Cpu, c.proc_root.clone()))
    }),
    ("posix/mem", |c| {
        Arc::new(PosixIsolator::new(PosixKind::Mem, c.proc_root.clone()))
    }),
    ("posix/rlimits", |_| Arc::new(PosixRLimitsIsolator)),
    ("namespaces/pid", |_| {
        Arc::new(NamespacesIsolator(Namespace::Pid))
    }),
    ("namespaces/ipc", |_| {
        Arc::new(NamespacesIsolator(Namespace::Ipc))
    }),
];

/// The names `--isolation` accepts.
pub fn supported() -> Vec<&'static str> {
    TABLE.iter().map(|(name, _)| *name).collect()
}

/// Builds the isolators `isolation` names (comma-separated), in table
/// order; `filesystem/posix` is added when no filesystem isolator is
/// named, as upstream does.
pub fn create(
    isolation: &str,
    context: &IsolatorContext,
) -> std::result::Result<Vec<Arc<dyn Isolator>>, String> {
    let mut names: Vec<&str> = isolation
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    for name in &names {
        if !TABLE.iter().any(|(known, _)| known == name) {
            return Err(format!(
                "--isolation: isolator '{name}' is not supported yet (supported: {})",
                supported().join(", ")
            ));
        }
    }
    if !names.iter().any(|name| name.starts_with("filesystem/")) {
        names.push("filesystem/posix");
    }
    Ok(TABLE
        .iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(_, constructor)| constructor(context))
        .collect())
}

/// `filesystem/posix`: the sandbox is a plain host directory (upstream's
/// default filesystem isolator; persistent volumes are refused by the
/// master until reservations land, so there is nothing to link).
#[derive(Debug)]
pub struct FilesystemPosixIsolator;

impl Isolator for FilesystemPosixIsolator {
    fn name(&self) -> &'static str {
        "filesystem/posix"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn cleanup(&self, _container_id: &str) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> IsolatorContext {
        IsolatorContext {
            proc_root: "/proc".into(),
        }
    }

    #[test]
    fn isolators_come_in_table_order_with_a_filesystem_one() {
        let isolators = create("posix/mem, posix/cpu", &context()).expect("known");
        let names: Vec<&str> = isolators.iter().map(|i| i.name()).collect();
        assert_eq!(names, vec!["filesystem/posix", "posix/cpu", "posix/mem"]);
    }

    #[test]
    fn unknown_isolators_are_refused_by_name() {
        let error = create("posix/cpu,gpu/nvidia", &context())
            .err()
            .expect("refused");
        assert!(
            error.contains("'gpu/nvidia' is not supported yet"),
            "{error}"
        );
    }
}
