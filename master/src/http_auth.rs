//! HTTP authentication of the master's endpoints (upstream libprocess's
//! `http::authentication` with the `basic` authenticator of
//! `--http_authenticators`): with `--authenticate_http_readonly` the
//! read-only endpoints (`/state`, `/frameworks`, `/flags`, ...) and with
//! `--authenticate_http_readwrite` the others (`/api/v1`, `/teardown`,
//! `/reserve`, `/quota`, ...) need an `Authorization: Basic` header with a
//! principal and secret of `--http_credentials`; without one, or with a
//! wrong one, the answer is `401` with `WWW-Authenticate: Basic
//! realm="mesos-master-readonly"` (or `-readwrite`). `/health`,
//! `/redirect` and `/version` are never authenticated, as upstream. With
//! `--authenticate_http_frameworks` (and `--http_framework_authenticators=
//! basic`) the v1 scheduler API is in the `mesos-master-scheduler` realm,
//! and a framework's principal must be the authenticated one. No
//! authorizer: any authenticated principal may do anything.

use libprocess::http::{Request, Response};

/// An endpoint's authentication realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// Read-only endpoints.
    ReadOnly,
    /// Endpoints that change state.
    ReadWrite,
    /// The v1 scheduler API (`--authenticate_http_frameworks`).
    Scheduler,
}

impl Realm {
    /// Upstream's realm name.
    pub fn name(self) -> &'static str {
        match self {
            Realm::ReadOnly => "mesos-master-readonly",
            Realm::ReadWrite => "mesos-master-readwrite",
            Realm::Scheduler => "mesos-master-scheduler",
        }
    }
}

/// Which realms authenticate, and with what credentials.
#[derive(Debug, Default)]
pub struct HttpAuthentication {
    readonly: bool,
    readwrite: bool,
    frameworks: bool,
    basic: mesos_authentication::basic::BasicAuthenticator,
}

impl HttpAuthentication {
    /// Authentication as the flags ask.
    pub fn new(
        readonly: bool,
        readwrite: bool,
        frameworks: bool,
        credentials: &mesos_proto::mesos::Credentials,
    ) -> Self {
        Self {
            readonly,
            readwrite,
            frameworks,
            basic: mesos_authentication::basic::BasicAuthenticator::new(credentials),
        }
    }

    /// Authenticates `request` for `realm`: the principal (`None` when
    /// the realm does not authenticate), or the `401`/`400` answer.
    pub fn authenticate(
        &self,
        realm: Realm,
        request: &Request,
    ) -> Result<Option<String>, Response> {
        let enabled = match realm {
            Realm::ReadOnly => self.readonly,
            Realm::ReadWrite => self.readwrite,
            Realm::Scheduler => self.frameworks,
        };
        if !enabled {
            return Ok(None);
        }
        self.basic.authenticate(realm.name(), request).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

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
    fn basic_credentials_are_checked_per_realm() {
        let credentials = mesos_proto::mesos::Credentials {
            credentials: vec![mesos_proto::mesos::Credential {
                principal: "ops".into(),
                secret: Some("s3cret".into()),
            }],
        };
        let auth = HttpAuthentication::new(true, false, false, &credentials);
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:s3cret")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:nope")
        );
        assert_eq!(
            auth.authenticate(Realm::ReadOnly, &request(Some(&good)))
                .ok(),
            Some(Some("ops".to_string()))
        );
        let missing = auth
            .authenticate(Realm::ReadOnly, &request(None))
            .unwrap_err();
        assert_eq!(missing.status, 401);
        assert!(missing
            .headers
            .iter()
            .any(|(k, v)| k == "WWW-Authenticate" && v == "Basic realm=\"mesos-master-readonly\""));
        assert_eq!(
            auth.authenticate(Realm::ReadOnly, &request(Some(&bad)))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            auth.authenticate(Realm::ReadOnly, &request(Some("Basic !!!")))
                .unwrap_err()
                .status,
            400
        );
        // The read-write realm is not authenticated here.
        assert_eq!(
            auth.authenticate(Realm::ReadWrite, &request(None)).ok(),
            Some(None)
        );
    }
}
