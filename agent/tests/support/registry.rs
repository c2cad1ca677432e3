//! A Docker registry for the provisioner's tests and benchmark: Debian's
//! `docker-registry` (Docker Distribution 2.8) started on loopback, with
//! htpasswd Basic auth when asked, and images made from `busybox-static`'s
//! binary, pushed with the registry's HTTP API (by `curl`).

#![allow(dead_code, clippy::unwrap_used)] // shared by a test and a bench

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sha2::Digest as _;

pub fn sha256(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A `docker-registry` on loopback, stopped on drop.
pub struct Registry {
    child: Child,
    pub host: String,
    credentials: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    pub fn start(credentials: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = credentials {
            let output = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert!(output.status.success());
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, &output.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: mesos-test-registry\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Self {
            child,
            host,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&registry.host).is_ok() {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start on {}", registry.host);
    }

    pub fn curl(&self, arguments: &[&str]) -> String {
        let mut command = Command::new("curl");
        command.args(["-sS", "--fail-with-body"]);
        if let Some((user, password)) = &self.credentials {
            command.args(["-u", &format!("{user}:{password}")]);
        }
        let output = command.args(arguments).output().unwrap();
        assert!(
            output.status.success(),
            "curl {arguments:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Uploads a blob; returns its digest.
    pub fn push_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let head = self.curl(&[
            "-X",
            "POST",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("http://{}/v2/{repository}/blobs/uploads/", self.host),
        ]);
        let location = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_string())
            })
            .expect("an upload location");
        let location = if location.starts_with('/') {
            format!("http://{}{location}", self.host)
        } else {
            location
        };
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let separator = if location.contains('?') { '&' } else { '?' };
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.path().display()),
            &format!("{location}{separator}digest={digest}"),
        ]);
        digest
    }

    /// Pushes an image of `layers` (gzipped tarballs, base first) and
    /// `config` as `repository:tag` (a schema 2 manifest).
    pub fn push(
        &self,
        repository: &str,
        tag: &str,
        layers: &[Vec<u8>],
        mut config: serde_json::Value,
    ) {
        // The config names each layer by its uncompressed digest (Docker
        // checks them).
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(&gunzip(l))).collect();
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": diff_ids});
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = self.push_blob(repository, &config);
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|layer| {
                serde_json::json!({
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer.len(),
                    "digest": self.push_blob(repository, layer),
                })
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": layers,
        });
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), serde_json::to_vec(&manifest).unwrap()).unwrap();
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.docker.distribution.manifest.v2+json",
            "--data-binary",
            &format!("@{}", file.path().display()),
            &format!("http://{}/v2/{repository}/manifests/{tag}", self.host),
        ]);
    }

    /// Pushes `layers` and `config` as an OCI image manifest, and under
    /// `repository:tag` an OCI index naming it for this machine's
    /// platform beside one for another platform (the same layers, a config
    /// whose `Cmd` is `wrong-platform`).
    pub fn push_oci_index(
        &self,
        repository: &str,
        tag: &str,
        layers: &[Vec<u8>],
        mut config: serde_json::Value,
    ) {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(&gunzip(l))).collect();
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": diff_ids});
        let mut other = config.clone();
        other["config"]["Cmd"] = serde_json::json!(["wrong-platform"]);
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = self.push_blob(repository, &config);
        let other = serde_json::to_vec(&other).unwrap();
        let other_digest = self.push_blob(repository, &other);
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|layer| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "size": layer.len(),
                    "digest": self.push_blob(repository, layer),
                })
            })
            .collect();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": layers,
        }))
        .unwrap();
        let manifest_digest = sha256(&manifest);
        let mut other_manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        other_manifest["config"]["digest"] = serde_json::json!(other_digest);
        other_manifest["config"]["size"] = serde_json::json!(other.len());
        let other_manifest = serde_json::to_vec(&other_manifest).unwrap();
        let other_manifest_digest = sha256(&other_manifest);
        self.put_manifest(
            repository,
            &other_manifest_digest,
            "application/vnd.oci.image.manifest.v1+json",
            &other_manifest,
        );
        self.put_manifest(
            repository,
            &manifest_digest,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "size": other_manifest.len(), "digest": other_manifest_digest,
                 "platform": {"os": "linux", "architecture": "s390x"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "size": manifest.len(), "digest": manifest_digest,
                 "platform": {"os": "linux", "architecture": architecture}},
            ],
        }))
        .unwrap();
        self.put_manifest(
            repository,
            tag,
            "application/vnd.oci.image.index.v1+json",
            &index,
        );
    }

    fn put_manifest(&self, repository: &str, reference: &str, media_type: &str, body: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {media_type}"),
            "--data-binary",
            &format!("@{}", file.path().display()),
            &format!("http://{}/v2/{repository}/manifests/{reference}", self.host),
        ]);
    }

    pub fn docker_config(&self) -> String {
        let (user, password) = self.credentials.clone().unwrap();
        let auth =
            mesos_agent::containerizer::mesos::provisioner::store::docker::registry::basic_auth(
                &user, &password,
            );
        serde_json::json!({"auths": {format!("http://{}", self.host): {"auth": auth}}}).to_string()
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success());
    output.stdout
}

/// A gzipped tarball of `files` (path -> contents; a value starting with
/// `->` is a symlink, `/` at the end of a path a directory).
pub fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let target = dir.path().join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&target).unwrap();
            continue;
        }
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        if let Some(link) = contents.strip_prefix("->") {
            std::os::unix::fs::symlink(link, &target).unwrap();
        } else if let Some(source) = contents.strip_prefix("copy:") {
            std::fs::copy(source, &target).unwrap();
        } else {
            std::fs::write(&target, contents).unwrap();
        }
    }
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("tar")
        .args(["-czf"])
        .arg(out.path())
        .args(["--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(dir.path())
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out.path()).unwrap()
}

/// The base layer: busybox and the directories a container root needs.
pub fn base_layer() -> Vec<u8> {
    let mut files = vec![
        ("bin/busybox", "copy:/bin/busybox"),
        ("proc/", ""),
        ("sys/", ""),
        ("dev/", ""),
        ("tmp/", ""),
        ("mnt/mesos/sandbox/", ""),
        ("etc/image-marker", "busybox-test-image\n"),
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        ),
        (
            "etc/group",
            "root:x:0:\nnogroup:x:65534:\nimagegroup:x:4242:nobody\n",
        ),
        ("a/gone", "hidden by a whiteout\n"),
        ("a/kept", "kept\n"),
        ("o/lower", "hidden by an opaque directory\n"),
    ];
    for tool in [
        "sh", "echo", "cat", "ls", "test", "pwd", "sleep", "env", "true", "id",
    ] {
        files.push((
            Box::leak(format!("bin/{tool}").into_boxed_str()),
            "->busybox",
        ));
    }
    layer(&files)
}

pub fn config_json() -> serde_json::Value {
    serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin", "IMAGE_VAR=from-image"],
            "Cmd": ["/bin/sh", "-c", "echo from-image-cmd"],
            "WorkingDir": "",
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    })
}

/// Pushes `busybox:latest` (one layer) and `layered:latest` (three: a
/// whiteout, an opaque directory, a new file).
pub fn push_images(registry: &Registry) {
    let base = base_layer();
    registry.push(
        "busybox",
        "latest",
        std::slice::from_ref(&base),
        config_json(),
    );
    let second = layer(&[
        ("a/.wh.gone", ""),
        ("a/new", "new in layer two\n"),
        ("o/.wh..wh..opq", ""),
        ("o/upper", "upper\n"),
    ]);
    let third = layer(&[("b/third", "third\n"), ("a/kept", "kept, changed\n")]);
    registry.push("layered", "latest", &[base, second, third], config_json());
}
