//! Docker image references (upstream `docker::spec::parseImageReference`):
//! `[registry/]repository[:tag][@digest]`.
//!
//! The first component is a registry when it holds a `.` or a `:`, or is
//! `localhost` (Docker's rule). Without a tag or digest the tag is
//! `latest`.

use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, when the reference names one.
    pub registry: Option<String>,
    /// `library/busybox`, `team/app`, ...
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// `sha256:...`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `name`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("the image name is empty".into());
        }
        let (rest, digest) = match name.split_once('@') {
            Some((rest, digest)) => {
                if !digest.contains(':') {
                    return Err(format!("invalid digest in image name '{name}'"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (name, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), path)
            }
            _ => (None, rest),
        };
        // A tag follows the last ':' after the last '/'.
        let last = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last..].rfind(':') {
            Some(i) => (
                path[..last + i].to_string(),
                Some(path[last + i + 1..].to_string()),
            ),
            None => (path.to_string(), None),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
        if repository.is_empty()
            || !repository.chars().all(valid)
            || repository.starts_with('/')
            || repository.ends_with('/')
        {
            return Err(format!("invalid repository in image name '{name}'"));
        }
        if let Some(tag) = &tag {
            if tag.is_empty()
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(format!("invalid tag in image name '{name}'"));
            }
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the registry's manifest endpoint for: the digest if
    /// there is one, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn references_parse_as_docker_does() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));

        let r = Reference::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.to_string(), "localhost:5000/team/app:1.2");

        let r = Reference::parse("registry.example.com/app@sha256:abcd").unwrap();
        assert_eq!(r.registry.as_deref(), Some("registry.example.com"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), "sha256:abcd");

        let r = Reference::parse("library/busybox:1.36").unwrap();
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "library/busybox");

        assert!(Reference::parse("").is_err());
        assert!(Reference::parse("Bad Name").is_err());
        assert!(Reference::parse("app:").is_err());
        assert!(Reference::parse("app@nodigest").is_err());
    }
}
