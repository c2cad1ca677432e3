//! CRAM-MD5 (RFC 2195) as Cyrus SASL's `cram.c` plugin speaks it inside
//! Mesos' `crammd5` authenticator and authenticatee.
//!
//! Upstream counterpart: `src/authentication/cram_md5/` (which drives
//! libsasl2) and Cyrus SASL `plugins/cram.c` (the bytes on the wire).
//! This module is the mechanism; [`authenticator`] and [`authenticatee`]
//! are the libprocess processes around it.
//!
//! The exchange, in `mesos.internal` messages:
//! 1. the server offers `AuthenticationMechanismsMessage{["CRAM-MD5"]}`;
//! 2. the client starts with `AuthenticationStartMessage{"CRAM-MD5",
//!    data: ""}` (the field is present and empty: CRAM-MD5 has no
//!    initial response);
//! 3. the server answers `AuthenticationStepMessage{challenge}`, the
//!    challenge being `<random.time@host>` ([`challenge`]);
//! 4. the client answers `AuthenticationStepMessage{"principal " +
//!    lower-case hex HMAC-MD5(secret, challenge)}` ([`response`]);
//! 5. the server checks it ([`verify`]) and ends with
//!    `AuthenticationCompletedMessage`, `AuthenticationFailedMessage`
//!    (unknown principal or wrong digest) or `AuthenticationErrorMessage`
//!    (protocol error, with SASL's `sasl_errdetail` text).
//!
//! Differences: the host in the challenge is the kernel host name, where
//! SASL asks the resolver for the canonical name; clients do not read it.

pub mod authenticatee;
pub mod authenticator;

use crate::md5::{hex, hmac_md5};

/// The SASL mechanism name.
pub const MECHANISM: &str = "CRAM-MD5";

/// Returns the challenge SASL's CRAM-MD5 server sends:
/// `<random.time@host>`, with `random` a 32-bit number in decimal and
/// `time` the Unix time modulo `0xFFFFFF`, both as `cram.c` formats them.
pub fn challenge(random: u32, unix_secs: u64, host: &str) -> String {
    format!("<{random}.{}@{host}>", unix_secs % 0xFF_FFFF)
}

/// Returns a fresh challenge for `host`.
pub fn new_challenge(host: &str) -> String {
    let random = (uuid::Uuid::new_v4().as_u128() & u128::from(u32::MAX)) as u32;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    challenge(random, now, host)
}

/// Returns the client's answer to `challenge`: `principal`, a space and
/// the lower-case hex HMAC-MD5 of the challenge keyed with `secret`.
pub fn response(principal: &str, secret: &[u8], challenge: &[u8]) -> Vec<u8> {
    format!("{principal} {}", hex(&hmac_md5(secret, challenge))).into_bytes()
}

/// SASL result codes the server can end with (`sasl.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslCode {
    /// `SASL_FAIL` (-1).
    Fail,
    /// `SASL_NOMECH` (-4).
    NoMech,
    /// `SASL_BADPROT` (-5).
    BadProt,
    /// `SASL_BADAUTH` (-13).
    BadAuth,
    /// `SASL_NOUSER` (-20).
    NoUser,
}

impl SaslCode {
    /// Returns the numeric code.
    pub fn code(self) -> i32 {
        match self {
            Self::Fail => -1,
            Self::NoMech => -4,
            Self::BadProt => -5,
            Self::BadAuth => -13,
            Self::NoUser => -20,
        }
    }

    /// Returns `sasl_errstring` for the code.
    pub fn errstring(self) -> &'static str {
        match self {
            Self::Fail => "generic failure",
            Self::NoMech => "no mechanism available",
            Self::BadProt => "bad protocol / cancel",
            Self::BadAuth => "authentication failure",
            Self::NoUser => "user not found",
        }
    }
}

/// A SASL server error with the text the plugin set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError {
    /// The result code.
    pub code: SaslCode,
    /// What `SETERROR` recorded.
    pub detail: String,
}

impl SaslError {
    fn new(code: SaslCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// Returns whether the client is refused (`SASL_NOUSER` or
    /// `SASL_BADAUTH`: `AuthenticationFailedMessage`) rather than in error.
    pub fn is_refusal(&self) -> bool {
        matches!(self.code, SaslCode::NoUser | SaslCode::BadAuth)
    }

    /// Returns `sasl_errdetail`'s text: `SASL(code): errstring: detail`,
    /// the code as `sasl_usererr` maps it.
    pub fn errdetail(&self) -> String {
        let code = match self.code {
            SaslCode::NoUser => SaslCode::BadAuth,
            other => other,
        };
        format!(
            "SASL({}): {}: {}",
            code.code(),
            code.errstring(),
            self.detail
        )
    }
}

/// Checks the client's start as `sasl_server_start` does: the mechanism
/// is matched ignoring case, and CRAM-MD5, a server-first mechanism, takes
/// no initial data.
pub fn check_start(mechanism: &str, data: &[u8]) -> Result<(), SaslError> {
    if !mechanism.eq_ignore_ascii_case(MECHANISM) {
        return Err(SaslError::new(
            SaslCode::NoMech,
            format!("Couldn't find mech {mechanism}"),
        ));
    }
    if !data.is_empty() {
        return Err(SaslError::new(
            SaslCode::BadProt,
            "Remote sent first but mech does not allow it.",
        ));
    }
    Ok(())
}

/// The longest step either side of `cram.c` accepts.
pub const MAX_INPUT: usize = 1024;

/// Refuses a step longer than [`MAX_INPUT`], as both sides of `cram.c` do.
pub fn check_length(input: &[u8]) -> Result<(), SaslError> {
    if input.len() > MAX_INPUT {
        return Err(SaslError::new(
            SaslCode::BadProt,
            "CRAM-MD5 input longer than 1024 bytes",
        ));
    }
    Ok(())
}

/// Checks the client's `response` to `challenge` with `secret_of` looking
/// principals up, as `cram.c`'s second server step does; returns the
/// principal.
///
/// The principal is everything before the last space; the digest after it
/// must start with the expected 32 hex digits (SASL compares only those).
pub fn verify<'a>(
    challenge: &[u8],
    response: &[u8],
    secret_of: impl Fn(&str) -> Option<&'a str>,
) -> Result<String, SaslError> {
    check_length(response)?;
    let space = response.iter().rposition(|&b| b == b' ').unwrap_or(0);
    if space == 0 {
        return Err(SaslError::new(
            SaslCode::BadProt,
            "need authentication name",
        ));
    }
    let principal = String::from_utf8_lossy(&response[..space]).into_owned();
    let Some(secret) = secret_of(&principal) else {
        return Err(SaslError::new(SaslCode::NoUser, "no secret in database"));
    };
    if secret.is_empty() {
        return Err(SaslError::new(SaslCode::Fail, "empty secret"));
    }
    let expected = hex(&hmac_md5(secret.as_bytes(), challenge));
    if !response[space + 1..].starts_with(expected.as_bytes()) {
        return Err(SaslError::new(
            SaslCode::BadAuth,
            "incorrect digest response",
        ));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2195_example_response() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            response("tim", b"tanstaaftanstaaf", challenge),
            b"tim b913a602c7eda7a495b4e6e7334d3890".to_vec()
        );
        let verified = verify(challenge, b"tim b913a602c7eda7a495b4e6e7334d3890", |p| {
            (p == "tim").then_some("tanstaaftanstaaf")
        });
        assert_eq!(verified, Ok("tim".to_string()));
    }

    #[test]
    fn challenges_look_like_sasls() {
        assert_eq!(challenge(42, 0x0100_0005, "h.example"), "<42.6@h.example>");
        let fresh = new_challenge("host");
        assert!(
            fresh.starts_with('<') && fresh.ends_with("@host>"),
            "{fresh}"
        );
    }

    #[test]
    fn wrong_secret_unknown_principal_and_bad_protocol() {
        let c = b"<1.2@h>";
        let good = response("p", b"s", c);
        let lookup = |p: &str| (p == "p").then_some("s");
        assert_eq!(verify(c, &good, lookup), Ok("p".into()));
        let wrong = response("p", b"other", c);
        assert_eq!(
            verify(c, &wrong, lookup).unwrap_err().code,
            SaslCode::BadAuth
        );
        let unknown = response("q", b"s", c);
        let error = verify(c, &unknown, lookup).unwrap_err();
        assert!(error.is_refusal());
        let error = verify(c, b"nospace", lookup).unwrap_err();
        assert_eq!(
            error.errdetail(),
            "SASL(-5): bad protocol / cancel: need authentication name"
        );
        assert!(verify(c, b"", lookup).is_err());
        let long = [b'a'; MAX_INPUT + 1];
        assert_eq!(
            verify(c, &long, lookup).unwrap_err().detail,
            "CRAM-MD5 input longer than 1024 bytes"
        );
        // The principal may contain spaces: the digest follows the last.
        let spaced = response("a b", b"s", c);
        assert_eq!(verify(c, &spaced, |_| Some("s")), Ok("a b".into()));
        assert_eq!(check_start("CRAM-MD5", b""), Ok(()));
        assert_eq!(check_start("cram-md5", b""), Ok(()));
        assert_eq!(
            check_start("CRAM-MD5", b"x").unwrap_err().errdetail(),
            "SASL(-5): bad protocol / cancel: Remote sent first but mech does not allow it."
        );
        assert_eq!(
            check_start("PLAIN", b"").unwrap_err().code,
            SaslCode::NoMech
        );
    }

    /// Python's `hmac` and `hashlib` (written by nobody here) compute the
    /// same response for a fresh challenge.
    #[test]
    fn python_hmac_agrees_on_a_fresh_challenge() {
        let challenge = new_challenge("oracle.example");
        let script = "import hmac, hashlib, sys; \
                      print(sys.argv[1] + ' ' + hmac.new(sys.argv[2].encode(), \
                      sys.argv[3].encode(), hashlib.md5).hexdigest(), end='')";
        let secret = "s3cr\u{e9}t with spaces and a key longer than sixty-four bytes........";
        let output = match std::process::Command::new("python3")
            .args(["-c", script, "principal", secret, &challenge])
            .output()
        {
            Ok(output) if output.status.success() => output,
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "python3 is needed for the oracle"
                );
                println!("SKIPPED: python3 is not available");
                return;
            }
        };
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&response(
                "principal",
                secret.as_bytes(),
                challenge.as_bytes()
            ))
        );
    }
}
