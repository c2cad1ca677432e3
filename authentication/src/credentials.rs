//! Credentials files: `--credentials` (master, many) and `--credential`
//! (agent, one).
//!
//! Upstream counterpart: `src/credentials/credentials.hpp` (`read`,
//! `readCredential`). A file holds JSON (`{"credentials": [{"principal":
//! .., "secret": ..}]}`, or one `{"principal": .., "secret": ..}` for a
//! single credential) or, deprecated since 1.0 but still read, one
//! `principal secret` pair per line. An empty file reads as no
//! credentials. A path may be given as `file:///path`.

use std::path::{Path, PathBuf};

use mesos_proto::mesos::{Credential, Credentials};

/// Why a credentials file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("Failed to read credentials file '{}': {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The file could not be read (single credential form).
    #[error("Failed to read credential file '{}': {error}", path.display())]
    ReadOne {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A text line is not `principal secret`.
    #[error("Invalid credential format at line {0}")]
    Line(usize),
    /// A single-credential text file has more than one line.
    #[error("Expecting only one credential")]
    NotOne,
    /// A single-credential text line is not `principal secret`.
    #[error("Invalid credential format")]
    Format,
}

/// Returns the path a `--credential(s)` flag names: `file:///x` is `/x`.
pub fn flag_path(value: &str) -> PathBuf {
    PathBuf::from(value.strip_prefix("file://").unwrap_or(value))
}

fn read_file(path: &Path, what: &str) -> std::io::Result<String> {
    tracing::info!(path = %path.display(), "Loading {what} for authentication");
    let text = std::fs::read_to_string(path)?;
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt as _;
        if metadata.permissions().mode() & 0o007 != 0 {
            tracing::warn!(
                path = %path.display(),
                "Permissions on {what} file are too open. It is recommended that your {what} \
                 file is NOT accessible by others"
            );
        }
    }
    Ok(text)
}

/// Splits like stout's `strings::tokenize`: runs of `delimiter` separate
/// tokens and empty tokens are dropped.
fn tokenize(text: &str, delimiter: char) -> Vec<&str> {
    text.split(delimiter).filter(|t| !t.is_empty()).collect()
}

fn credential(principal: &str, secret: &str) -> Credential {
    Credential {
        principal: principal.to_string(),
        secret: Some(secret.to_string()),
    }
}

/// Parses the text of a `--credentials` file; `None` when it is empty.
pub fn parse(text: &str) -> Result<Option<Credentials>, CredentialsError> {
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(credentials) = mesos_proto::json::from_str::<Credentials>(text) {
        return Ok(Some(credentials));
    }
    let mut credentials = Credentials::default();
    for line in tokenize(text, '\n') {
        let pair = tokenize(line, ' ');
        let [principal, secret] = pair.as_slice() else {
            return Err(CredentialsError::Line(credentials.credentials.len() + 1));
        };
        credentials.credentials.push(credential(principal, secret));
    }
    Ok(Some(credentials))
}

/// Parses the text of a `--credential` file; `None` when it is empty.
pub fn parse_one(text: &str) -> Result<Option<Credential>, CredentialsError> {
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(credential) = mesos_proto::json::from_str::<Credential>(text) {
        return Ok(Some(credential));
    }
    let lines = tokenize(text, '\n');
    let [line] = lines.as_slice() else {
        return Err(CredentialsError::NotOne);
    };
    let pair = tokenize(line, ' ');
    let [principal, secret] = pair.as_slice() else {
        return Err(CredentialsError::Format);
    };
    Ok(Some(credential(principal, secret)))
}

/// Reads a `--credentials` file (upstream `credentials::read`).
pub fn read(path: &Path) -> Result<Option<Credentials>, CredentialsError> {
    let text = read_file(path, "credentials").map_err(|error| CredentialsError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text)
}

/// Reads a `--credential` file (upstream `credentials::readCredential`).
pub fn read_credential(path: &Path) -> Result<Option<Credential>, CredentialsError> {
    let text = read_file(path, "credential").map_err(|error| CredentialsError::ReadOne {
        path: path.to_path_buf(),
        error,
    })?;
    parse_one(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text_forms_are_read() {
        let json =
            r#"{"credentials":[{"principal":"a","secret":"x"},{"principal":"b","secret":"y"}]}"#;
        let credentials = parse(json).unwrap().unwrap();
        assert_eq!(credentials.credentials.len(), 2);
        assert_eq!(credentials.credentials[1].principal, "b");
        let text = parse("a x\n\nb  y\n").unwrap().unwrap();
        assert_eq!(text, credentials);
        assert_eq!(
            parse("a x\nb\n").unwrap_err().to_string(),
            "Invalid credential format at line 2"
        );
        assert!(parse("").unwrap().is_none());
    }

    #[test]
    fn a_single_credential_is_read() {
        let one = parse_one(r#"{"principal":"p","secret":"s"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(one, credential("p", "s"));
        assert_eq!(parse_one("p s\n").unwrap().unwrap(), one);
        assert_eq!(
            parse_one("p s\nq t").unwrap_err().to_string(),
            "Expecting only one credential"
        );
        assert_eq!(
            parse_one("p").unwrap_err().to_string(),
            "Invalid credential format"
        );
    }

    #[test]
    fn file_urls_name_paths() {
        assert_eq!(flag_path("file:///etc/c"), PathBuf::from("/etc/c"));
        assert_eq!(flag_path("/etc/c"), PathBuf::from("/etc/c"));
    }
}
