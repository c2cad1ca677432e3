//! The HTTP firewall: endpoints an operator disabled with
//! `--firewall_rules` answer `403` (upstream's `process::firewall` and its
//! `DisabledEndpointsFirewallRule`, installed by the master's and agent's
//! `main`).
//!
//! The flag's value is upstream's `Firewall` message as JSON,
//! `{"disabled_endpoints": {"paths": ["/files/browse", ...]}}`, given
//! inline, as `file:///path` (read by the flag parser) or as an absolute
//! path (stout's older form for JSON flags). Paths match exactly: no
//! prefixes, no wildcards.

use std::collections::HashSet;

/// The paths the `--firewall_rules` value disables.
pub fn disabled_paths(value: &str) -> Result<HashSet<String>, String> {
    let text = if value.starts_with('/') {
        std::fs::read_to_string(value).map_err(|e| format!("Failed to read '{value}': {e}"))?
    } else {
        value.to_string()
    };
    let firewall: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("Failed to parse the firewall rules: {e}"))?;
    if !firewall.is_object() {
        return Err("Failed to parse the firewall rules: expecting a JSON object".into());
    }
    let paths = &firewall["disabled_endpoints"]["paths"];
    let Some(paths) = paths.as_array() else {
        return Ok(HashSet::new());
    };
    paths
        .iter()
        .map(|p| {
            p.as_str().map(str::to_string).ok_or_else(|| {
                "Failed to parse the firewall rules: 'paths' must hold strings".to_string()
            })
        })
        .collect()
}

/// The paths the `--firewall_rules` flag disables (none without it), or
/// an error naming the flag.
pub fn flag(value: Option<&str>) -> Result<HashSet<String>, String> {
    value.map_or(Ok(HashSet::new()), |value| {
        disabled_paths(value).map_err(|e| format!("{e} (see --firewall_rules flag)"))
    })
}

/// The answer to a request for a disabled endpoint, if `path` is one.
pub(crate) fn refuse(disabled: &HashSet<String>, path: &str) -> Option<crate::http::Response> {
    disabled.contains(path).then(|| {
        crate::http::Response::status(403)
            .with_body("text/plain", format!("Endpoint '{path}' is disabled"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_upstreams_firewall_message() {
        let paths = disabled_paths(
            r#"{"disabled_endpoints":{"paths":["/files/browse","/metrics/snapshot"]}}"#,
        )
        .unwrap();
        assert!(paths.contains("/files/browse") && paths.contains("/metrics/snapshot"));
        assert!(disabled_paths("{}").unwrap().is_empty());
        assert!(disabled_paths("{not json").is_err());
        let file = std::env::temp_dir().join(format!("firewall-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"disabled_endpoints":{"paths":["/state"]}}"#).unwrap();
        let from_file = disabled_paths(file.to_str().unwrap()).unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(from_file.contains("/state"));
        let refused = refuse(&from_file, "/state").unwrap();
        assert_eq!(refused.status, 403);
        assert!(refuse(&from_file, "/state/x").is_none());
    }
}
