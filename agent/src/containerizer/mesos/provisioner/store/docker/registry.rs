//! The Docker Registry v2 client (upstream `RegistryPuller` over
//! `uri::DockerFetcherPlugin`): manifests and blobs, with Basic and
//! Bearer authentication.
//!
//! A request goes out without credentials first. A `401` names the
//! scheme in `WWW-Authenticate`: `Basic` is answered with the registry's
//! credentials from `--docker_config`; `Bearer realm=..,service=..,
//! scope=..` sends them (as Basic) to the realm for a token, then retries
//! with `Authorization: Bearer <token>`. The header that worked is reused
//! for the repository's other requests. A `401` without credentials fails
//! with a message naming the registry.
//!
//! Manifests: Docker schema 2 and OCI image manifests; manifest lists and
//! OCI indexes resolve to this machine's platform (linux/amd64, ...);
//! schema 1 (signed or not) as upstream still takes it. Blobs are checked
//! against their sha256 digest as they are written.
//!
//! All of it blocks: the store runs it on blocking threads.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

use super::config::Credentials;
use super::reference::Reference;
use crate::containerizer::fetcher::http;

/// The media types asked for, preferred first.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v1+prettyjws, \
     application/vnd.docker.distribution.manifest.v1+json";

/// Docker Hub, upstream's default `--docker_registry`.
pub const DEFAULT_REGISTRY: &str = "https://registry-1.docker.io";

/// One layer of a manifest, base layer first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>` of the (compressed) blob.
    pub digest: String,
}

/// What a manifest gives the store.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// The image's configuration document (`config`: `Env`, `Cmd`,
    /// `Entrypoint`, `WorkingDir`, `User`, ...).
    pub config: serde_json::Value,
    /// The digest the registry gave the manifest, when it did.
    pub digest: Option<String>,
}

/// Where a repository lives: its registry's base URL and name there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `http[s]://host[:port]`.
    pub base: String,
    /// `host[:port]`, for credentials and messages.
    pub registry: String,
    /// The repository path on that registry.
    pub repository: String,
}

/// The registry client.
#[derive(Debug)]
pub struct RegistryPuller {
    default_registry: String,
    credentials: Credentials,
    timeout: Duration,
    /// The `Authorization` header that worked, by `registry/repository`.
    authorizations: Mutex<HashMap<String, String>>,
}

impl RegistryPuller {
    /// A client whose default registry is `default_registry` (a URL).
    pub fn new(default_registry: &str, credentials: Credentials, timeout: Duration) -> Self {
        let default_registry = if default_registry.contains("://") {
            default_registry.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", default_registry.trim_end_matches('/'))
        };
        Self {
            default_registry,
            credentials,
            timeout,
            authorizations: Mutex::default(),
        }
    }

    /// Where `reference` is pulled from: the default registry unless the
    /// reference names another; a named registry that is the default's
    /// host keeps the default's scheme, others are `https`. On Docker Hub
    /// a one-component repository is under `library/`.
    pub fn locate(&self, reference: &Reference) -> Location {
        let default_host = self
            .default_registry
            .split_once("://")
            .map_or(self.default_registry.as_str(), |(_, h)| h)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let (base, registry) = match &reference.registry {
            Some(registry) if *registry != default_host => {
                (format!("https://{registry}"), registry.clone())
            }
            _ => (self.default_registry.clone(), default_host),
        };
        let hub = matches!(
            registry.as_str(),
            "registry-1.docker.io" | "docker.io" | "index.docker.io"
        );
        let repository = if hub && !reference.repository.contains('/') {
            format!("library/{}", reference.repository)
        } else {
            reference.repository.clone()
        };
        Location {
            base,
            registry,
            repository,
        }
    }

    /// Fetches and parses the manifest of `reference`, and its config.
    /// `credentials` replaces `--docker_config`'s for this image (its
    /// `Image.Docker.config`).
    pub fn manifest(
        &self,
        reference: &Reference,
        credentials: Option<&Credentials>,
    ) -> Result<Manifest, String> {
        let credentials = credentials.unwrap_or(&self.credentials);
        let location = self.locate(reference);
        let mut target = reference.manifest_reference().to_string();
        // A list or index resolves to one manifest: at most two hops.
        for _ in 0..3 {
            let url = format!(
                "{}/v2/{}/manifests/{}",
                location.base, location.repository, target
            );
            let mut body = Vec::new();
            let head = self.get(
                &location,
                credentials,
                &url,
                Some(MANIFEST_ACCEPT),
                &mut body,
            )?;
            if head.status != 200 {
                return Err(status_error(&location, &url, head.status, &body));
            }
            let json: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the manifest of '{reference}' is not valid JSON: {e}"))?;
            let media_type = json
                .get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .or_else(|| head.header("Content-Type").map(str::to_string))
                .unwrap_or_default();
            let digest = head.header("Docker-Content-Digest").map(str::to_string);
            if json.get("manifests").is_some() {
                target = select_platform(&json)
                    .ok_or_else(|| {
                        format!(
                            "the manifest list of '{reference}' has no image for {}",
                            platform()
                        )
                    })?
                    .to_string();
                continue;
            }
            if json.get("schemaVersion").and_then(|v| v.as_i64()) == Some(1)
                || media_type.contains("distribution.manifest.v1")
            {
                return schema1(&json, reference).map(|(layers, config)| Manifest {
                    layers,
                    config,
                    digest,
                });
            }
            let layers = json
                .get("layers")
                .and_then(|l| l.as_array())
                .ok_or_else(|| format!("the manifest of '{reference}' has no 'layers'"))?
                .iter()
                .map(|l| {
                    l.get("digest")
                        .and_then(|d| d.as_str())
                        .map(|d| Layer {
                            digest: d.to_string(),
                        })
                        .ok_or_else(|| format!("a layer of '{reference}' has no digest"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let config_digest = json
                .pointer("/config/digest")
                .and_then(|d| d.as_str())
                .ok_or_else(|| format!("the manifest of '{reference}' has no config digest"))?;
            let mut config = Vec::new();
            self.blob_to(&location, credentials, config_digest, &mut config)?;
            let config: serde_json::Value = serde_json::from_slice(&config)
                .map_err(|e| format!("the config of '{reference}' is not valid JSON: {e}"))?;
            return Ok(Manifest {
                layers,
                config,
                digest,
            });
        }
        Err(format!("too many manifest lists for '{reference}'"))
    }

    /// Downloads the blob `digest` of `reference` into `destination`,
    /// checking its digest.
    pub fn blob(
        &self,
        reference: &Reference,
        credentials: Option<&Credentials>,
        digest: &str,
        destination: &Path,
    ) -> Result<(), String> {
        let credentials = credentials.unwrap_or(&self.credentials);
        let location = self.locate(reference);
        let mut file = std::fs::File::create(destination)
            .map_err(|e| format!("failed to create '{}': {e}", destination.display()))?;
        self.blob_to(&location, credentials, digest, &mut file)?;
        file.sync_all()
            .map_err(|e| format!("failed to sync '{}': {e}", destination.display()))
    }

    fn blob_to(
        &self,
        location: &Location,
        credentials: &Credentials,
        digest: &str,
        out: &mut dyn Write,
    ) -> Result<(), String> {
        let url = format!(
            "{}/v2/{}/blobs/{}",
            location.base, location.repository, digest
        );
        let mut checked = Checked {
            inner: out,
            hasher: sha2::Sha256::new(),
            error_body: Vec::new(),
        };
        let head = self.get(location, credentials, &url, None, &mut checked)?;
        if head.status != 200 {
            return Err(status_error(
                location,
                &url,
                head.status,
                &checked.error_body,
            ));
        }
        if let Some(expected) = digest.strip_prefix("sha256:") {
            let actual = hex(&checked.hasher.finalize());
            if actual != expected {
                return Err(format!(
                    "blob '{digest}' from '{}' has digest sha256:{actual}",
                    location.registry
                ));
            }
        }
        Ok(())
    }

    /// A GET with the repository's authorization, earning one on a 401.
    fn get(
        &self,
        location: &Location,
        credentials: &Credentials,
        url: &str,
        accept: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<http::Head, String> {
        // What was earned depends on the credentials it was earned with.
        let key = format!(
            "{}/{}#{}",
            location.registry,
            location.repository,
            credentials.auth_for(&location.registry).unwrap_or_default()
        );
        let mut headers = Vec::new();
        if let Some(accept) = accept {
            headers.push(("Accept".to_string(), accept.to_string()));
        }
        let known = self
            .authorizations
            .lock()
            .map_err(|_| "the registry client's lock is poisoned".to_string())?
            .get(&key)
            .cloned();
        if let Some(authorization) = &known {
            // The repository's manifest earned it: the body goes straight
            // out (a layer is not held in memory).
            // (Empty: the registry wanted none.)
            let mut with = headers.clone();
            if !authorization.is_empty() {
                with.push(("Authorization".into(), authorization.clone()));
            }
            let head = http::get(url, &with, self.timeout, out)
                .map_err(|e| format!("failed to reach registry '{}': {e}", location.registry))?;
            if head.status == 401 {
                return Err(format!(
                    "registry '{}' no longer accepts the authorization for '{}' (401 \
                     Unauthorized); the pull can be retried",
                    location.registry, location.repository
                ));
            }
            return Ok(head);
        }
        // Without one, the first answer is kept aside: it may be a 401
        // whose body must not reach `out`.
        let mut buffered = Vec::new();
        let first = http::get(url, &headers, self.timeout, &mut buffered)
            .map_err(|e| format!("failed to reach registry '{}': {e}", location.registry))?;
        if first.status != 401 {
            out.write_all(&buffered)
                .map_err(|e| format!("failed to write: {e}"))?;
            if first.status == 200 {
                if let Ok(mut known) = self.authorizations.lock() {
                    known.insert(key, String::new());
                }
            }
            return Ok(first);
        }
        let challenge = first
            .header("WWW-Authenticate")
            .unwrap_or_default()
            .to_string();
        let authorization = self.authorize(location, credentials, &challenge)?;
        headers.push(("Authorization".into(), authorization.clone()));
        let head = http::get(url, &headers, self.timeout, out)
            .map_err(|e| format!("failed to reach registry '{}': {e}", location.registry))?;
        if head.status == 401 {
            return Err(format!(
                "registry '{}' refused the credentials{} for '{}' (401 Unauthorized)",
                location.registry,
                credentials
                    .user_for(&location.registry)
                    .map(|u| format!(" of user '{u}'"))
                    .unwrap_or_default(),
                location.repository
            ));
        }
        if let Ok(mut known) = self.authorizations.lock() {
            known.insert(key, authorization);
        }
        Ok(head)
    }

    /// The `Authorization` header answering `challenge`.
    fn authorize(
        &self,
        location: &Location,
        credentials: &Credentials,
        challenge: &str,
    ) -> Result<String, String> {
        let basic = credentials.auth_for(&location.registry);
        let unauthorized = || {
            format!(
                "registry '{}' answered 401 Unauthorized for '{}' and --docker_config has no \
                 credentials for it",
                location.registry, location.repository
            )
        };
        let (scheme, parameters) = challenge
            .trim()
            .split_once(' ')
            .unwrap_or((challenge.trim(), ""));
        if scheme.eq_ignore_ascii_case("Basic") {
            return basic.map(|b| format!("Basic {b}")).ok_or_else(unauthorized);
        }
        if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(format!(
                "registry '{}' asks for unsupported authentication '{challenge}'",
                location.registry
            ));
        }
        let parameters = parse_challenge(parameters);
        let realm = parameters.get("realm").ok_or_else(|| {
            format!(
                "registry '{}' gave a Bearer challenge without a realm",
                location.registry
            )
        })?;
        let mut query = Vec::new();
        if let Some(service) = parameters.get("service") {
            query.push(format!("service={}", encode(service)));
        }
        let scope = parameters
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", location.repository));
        query.push(format!("scope={}", encode(&scope)));
        let url = format!(
            "{realm}{}{}",
            if realm.contains('?') { "&" } else { "?" },
            query.join("&")
        );
        let mut headers = Vec::new();
        if let Some(basic) = basic {
            headers.push(("Authorization".to_string(), format!("Basic {basic}")));
        }
        let mut body = Vec::new();
        let head = http::get(&url, &headers, self.timeout, &mut body)
            .map_err(|e| format!("failed to get a token from '{realm}': {e}"))?;
        if head.status == 401 {
            return Err(if basic.is_some() {
                format!(
                    "the token service '{realm}' of registry '{}' refused the credentials (401 Unauthorized)",
                    location.registry
                )
            } else {
                unauthorized()
            });
        }
        if head.status != 200 {
            return Err(status_error(location, &url, head.status, &body));
        }
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("the token from '{realm}' is not valid JSON: {e}"))?;
        let token = json
            .get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("the answer of '{realm}' has no token"))?;
        Ok(format!("Bearer {token}"))
    }
}

/// A writer that hashes what goes through, and keeps the start of it (an
/// error body is short).
struct Checked<'a> {
    inner: &'a mut dyn Write,
    hasher: sha2::Sha256,
    error_body: Vec<u8>,
}

impl Write for Checked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        if self.error_body.len() < 1024 {
            self.error_body.extend_from_slice(&buf[..written.min(1024)]);
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn status_error(location: &Location, url: &str, status: u16, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(&body[..body.len().min(300)]);
    format!(
        "registry '{}' answered {status} for '{url}': {}",
        location.registry,
        body.trim()
    )
}

/// `key="value", key2="value2"` of a challenge.
fn parse_challenge(parameters: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut rest = parameters.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        map.insert(key, value.to_string());
        rest = remaining.trim_start_matches([',', ' ']);
    }
    map
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// This machine's platform in registry terms.
fn platform() -> String {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("linux/{architecture}")
}

/// The digest of the manifest for this platform in a list or index.
fn select_platform(list: &serde_json::Value) -> Option<&str> {
    let wanted = platform();
    list.get("manifests")?.as_array()?.iter().find_map(|m| {
        let os = m.pointer("/platform/os")?.as_str()?;
        let architecture = m.pointer("/platform/architecture")?.as_str()?;
        (format!("{os}/{architecture}") == wanted)
            .then(|| m.get("digest")?.as_str())
            .flatten()
    })
}

/// Layers and config of a schema 1 manifest: `fsLayers` top first,
/// `history[0].v1Compatibility` the top layer's JSON with the config.
fn schema1(
    json: &serde_json::Value,
    reference: &Reference,
) -> Result<(Vec<Layer>, serde_json::Value), String> {
    let fs_layers = json
        .get("fsLayers")
        .and_then(|l| l.as_array())
        .ok_or_else(|| format!("the schema 1 manifest of '{reference}' has no 'fsLayers'"))?;
    let mut layers = Vec::new();
    for layer in fs_layers.iter().rev() {
        let digest = layer
            .get("blobSum")
            .and_then(|b| b.as_str())
            .ok_or_else(|| format!("a layer of '{reference}' has no blobSum"))?;
        // Empty layers repeat; a layer once is enough.
        if layers.last().is_none_or(|l: &Layer| l.digest != digest) {
            layers.push(Layer {
                digest: digest.to_string(),
            });
        }
    }
    let config = json
        .pointer("/history/0/v1Compatibility")
        .and_then(|v| v.as_str())
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok((layers, config))
}

/// The base64 of `user:password` (for tests and tools).
pub fn basic_auth(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn challenges_parse() {
        let map = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(map["realm"], "https://auth.docker.io/token");
        assert_eq!(map["service"], "registry.docker.io");
        assert_eq!(map["scope"], "repository:library/busybox:pull");
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }

    #[test]
    fn references_locate_on_the_default_or_their_registry() {
        let puller = RegistryPuller::new(
            "http://127.0.0.1:5000",
            Credentials::default(),
            Duration::from_secs(5),
        );
        let location = puller.locate(&Reference::parse("busybox").unwrap());
        assert_eq!(location.base, "http://127.0.0.1:5000");
        assert_eq!(location.repository, "busybox");
        let location = puller.locate(&Reference::parse("127.0.0.1:5000/a/b:1").unwrap());
        assert_eq!(location.base, "http://127.0.0.1:5000");
        let location = puller.locate(&Reference::parse("quay.io/a/b").unwrap());
        assert_eq!(location.base, "https://quay.io");

        let hub = RegistryPuller::new(
            DEFAULT_REGISTRY,
            Credentials::default(),
            Duration::from_secs(5),
        );
        let location = hub.locate(&Reference::parse("busybox").unwrap());
        assert_eq!(location.repository, "library/busybox");
        assert_eq!(location.registry, "registry-1.docker.io");
    }

    #[test]
    fn schema1_manifests_give_layers_base_first_and_the_top_config() {
        let manifest = serde_json::json!({
            "schemaVersion": 1,
            "fsLayers": [{"blobSum": "sha256:top"}, {"blobSum": "sha256:top"},
                         {"blobSum": "sha256:base"}],
            "history": [{"v1Compatibility": "{\"config\": {\"Cmd\": [\"sh\"]}}"},
                        {"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}],
        });
        let reference = Reference::parse("old:1").unwrap();
        let (layers, config) = schema1(&manifest, &reference).unwrap();
        let digests: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(digests, vec!["sha256:base", "sha256:top"]);
        assert_eq!(config["config"]["Cmd"][0], "sh");
        assert!(schema1(&serde_json::json!({}), &reference).is_err());
    }

    #[test]
    fn manifest_lists_pick_this_platform() {
        let list = serde_json::json!({"manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:s390", "platform": {"os": "linux", "architecture": "s390x"}},
        ]});
        let chosen = select_platform(&list).unwrap();
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(chosen, "sha256:amd");
        }
    }
}
