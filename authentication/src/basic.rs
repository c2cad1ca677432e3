//! HTTP Basic authentication (upstream libprocess's
//! `http::authentication::BasicAuthenticator`, the `basic` value of
//! `--http_authenticators`): an `Authorization: Basic` header whose
//! principal and secret are among the credentials (`--http_credentials`);
//! without one, or with a wrong one, `401` with `WWW-Authenticate: Basic
//! realm="<realm>"`, and `400` for a header that does not decode. The
//! master and the agent put their endpoints in realms (upstream's
//! `mesos-master-readonly`, `mesos-agent-readwrite`, ...) and authenticate
//! the realms their flags name.

use std::collections::HashMap;

use base64::Engine as _;
use libprocess::http::{Request, Response};

/// Checks Basic credentials.
#[derive(Debug, Default, Clone)]
pub struct BasicAuthenticator {
    /// Secrets by principal.
    secrets: HashMap<String, String>,
}

impl BasicAuthenticator {
    /// An authenticator of `credentials`.
    pub fn new(credentials: &mesos_proto::mesos::Credentials) -> Self {
        Self {
            secrets: credentials
                .credentials
                .iter()
                .map(|c| (c.principal.clone(), c.secret.clone().unwrap_or_default()))
                .collect(),
        }
    }

    /// A guard for one of libprocess's built-in endpoints
    /// ([`libprocess::Runtime::guard_builtin`]): requests without valid
    /// credentials for `realm` get its `401`.
    pub fn guard(self, realm: &'static str) -> libprocess::runtime::BuiltinGuard {
        std::sync::Arc::new(move |request: &Request| self.authenticate(realm, request).map(|_| ()))
    }

    /// The authenticated principal of `request`, or the answer for
    /// `realm`.
    pub fn authenticate(&self, realm: &str, request: &Request) -> Result<String, Response> {
        let unauthorized = || {
            let mut response = Response::status(401);
            response.headers.push((
                "WWW-Authenticate".into(),
                format!("Basic realm=\"{realm}\""),
            ));
            response
        };
        let Some(header) = request.header("Authorization") else {
            return Err(unauthorized());
        };
        let Some(encoded) = header.trim().strip_prefix("Basic ") else {
            return Err(unauthorized());
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Response::bad_request("Failed to decode the Basic credentials"))?;
        let Some((principal, secret)) = decoded.split_once(':') else {
            return Err(Response::bad_request(
                "Malformed Basic credentials: expected 'principal:secret'",
            ));
        };
        match self.secrets.get(principal) {
            Some(expected) if expected == secret => Ok(principal.to_string()),
            _ => Err(unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> Request {
        let mut request = Request::get("/state");
        if let Some(value) = authorization {
            request
                .headers
                .push(("Authorization".into(), value.to_string()));
        }
        request
    }

    #[test]
    fn basic_credentials_are_checked() {
        let auth = BasicAuthenticator::new(&mesos_proto::mesos::Credentials {
            credentials: vec![mesos_proto::mesos::Credential {
                principal: "ops".into(),
                secret: Some("s3cret".into()),
            }],
        });
        // base64("ops:s3cret"), base64("ops:nope").
        assert_eq!(
            auth.authenticate("r", &request(Some("Basic b3BzOnMzY3JldA==")))
                .ok(),
            Some("ops".to_string())
        );
        let missing = auth.authenticate("r", &request(None)).unwrap_err();
        assert_eq!(missing.status, 401);
        assert!(missing
            .headers
            .iter()
            .any(|(k, v)| k == "WWW-Authenticate" && v == "Basic realm=\"r\""));
        assert_eq!(
            auth.authenticate("r", &request(Some("Basic b3BzOm5vcGU=")))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            auth.authenticate("r", &request(Some("Basic !!!")))
                .unwrap_err()
                .status,
            400
        );
    }
}
