//! Registry credentials from `--docker_config` (upstream
//! `docker::spec::parseAuthConfig`): the `~/.docker/config.json` form
//! (`{"auths": {"<registry>": {"auth": "<base64 user:password>"}}}`) or
//! the older `~/.dockercfg` form (the same map at the top level). The
//! flag holds a path to such a file or the JSON itself.

use base64::Engine as _;

/// Credentials by registry.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `(registry key as written, base64 user:password)`.
    entries: Vec<(String, String)>,
}

/// `host[:port]` of a registry key or URL (`https://index.docker.io/v1/`
/// → `index.docker.io`).
fn host_of(key: &str) -> String {
    let rest = key.split_once("://").map_or(key, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// Docker Hub goes by several names.
fn canonical(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "registry.hub.docker.com" => {
            "docker.io"
        }
        other => other,
    }
}

impl Credentials {
    /// Parses the flag's value: inline JSON (starts with `{`) or a path.
    pub fn parse_flag(value: &str) -> Result<Self, String> {
        let text = if value.trim_start().starts_with('{') {
            value.to_string()
        } else {
            let path = value.strip_prefix("file://").unwrap_or(value);
            std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read the docker config '{path}': {e}"))?
        };
        Self::parse(&text)
    }

    /// Parses a docker config document.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("failed to parse the docker config as JSON: {e}"))?;
        let map = match json.get("auths") {
            Some(auths) => auths,
            None => &json,
        };
        let map = map
            .as_object()
            .ok_or("the docker config's 'auths' is not a JSON object")?;
        let mut entries = Vec::new();
        for (key, entry) in map {
            if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
                entries.push((key.clone(), auth.to_string()));
            }
        }
        Ok(Self { entries })
    }

    /// The base64 `user:password` for a registry at `host[:port]`.
    pub fn auth_for(&self, registry: &str) -> Option<&str> {
        let wanted = host_of(registry);
        let wanted = canonical(&wanted);
        self.entries
            .iter()
            .find(|(key, _)| canonical(&host_of(key)) == wanted)
            .map(|(_, auth)| auth.as_str())
    }

    /// The user name of the credentials for `registry` (for messages;
    /// never the password).
    pub fn user_for(&self, registry: &str) -> Option<String> {
        let auth = self.auth_for(registry)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        decoded.split_once(':').map(|(user, _)| user.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn both_config_forms_match_registries_by_host() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:secret");
        let config = Credentials::parse(&format!(
            r#"{{"auths": {{"http://127.0.0.1:5000/v2/": {{"auth": "{auth}"}},
                "https://index.docker.io/v1/": {{"auth": "aHViOmh1Yg=="}}}}}}"#
        ))
        .unwrap();
        assert_eq!(config.auth_for("127.0.0.1:5000"), Some(auth.as_str()));
        assert_eq!(config.user_for("127.0.0.1:5000").as_deref(), Some("alice"));
        assert_eq!(
            config.auth_for("registry-1.docker.io"),
            Some("aHViOmh1Yg==")
        );
        assert_eq!(config.auth_for("127.0.0.1:5001"), None);

        let old =
            Credentials::parse(r#"{"localhost:5000": {"auth": "eDp5", "email": "x@y"}}"#).unwrap();
        assert_eq!(old.auth_for("https://localhost:5000"), Some("eDp5"));
        assert!(Credentials::parse("[]").is_err());
        assert!(Credentials::parse("not json").is_err());
    }
}
