//! `UPID`: the address of a libprocess process, `<id>@<ip>:<port>`.
//!
//! Upstream counterpart: `3rdparty/libprocess/{include/process/pid.hpp,
//! src/pid.cpp}`. Parsing splits at the first `@`, then at the first `:`
//! after it; the host is an IPv4 literal or a name resolved through DNS (the
//! name is remembered, the address is what counts). Equality and hashing use
//! the id, the IP and the port only. The empty UPID prints as `@0.0.0.0:0`.
//!
//! Deliberate difference: the port must be all digits (upstream's stream
//! extraction would accept `5050x` as 5050).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;

/// A process address.
#[derive(Clone)]
pub struct UPID {
    /// The process id, e.g. `master` or `slave(1)`.
    pub id: Arc<str>,
    /// The IPv4 address of the OS process hosting it.
    pub ip: Ipv4Addr,
    /// The port of the OS process hosting it.
    pub port: u16,
    /// The host name the UPID was parsed from, when it was not an IP literal.
    pub host: Option<Arc<str>>,
}

/// Why a UPID could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpidError {
    /// No `@` separates the id from the address.
    #[error("'{0}' has no '@'")]
    MissingAt(String),
    /// No `:` separates host and port.
    #[error("'{0}' has no ':' before the port")]
    MissingColon(String),
    /// The port is not a decimal number below 65536.
    #[error("'{0}' has an invalid port")]
    Port(String),
    /// The host is neither an IPv4 literal nor a name that resolves to one.
    #[error("failed to resolve host '{0}' to an IPv4 address")]
    Resolve(String),
}

impl UPID {
    /// Returns a UPID for `id` at `address`.
    pub fn new(id: impl Into<Arc<str>>, address: SocketAddrV4) -> Self {
        Self {
            id: id.into(),
            ip: *address.ip(),
            port: address.port(),
            host: None,
        }
    }

    /// Returns the empty UPID (`@0.0.0.0:0`).
    pub fn empty() -> Self {
        Self {
            id: Arc::from(""),
            ip: Ipv4Addr::UNSPECIFIED,
            port: 0,
            host: None,
        }
    }

    /// Parses like upstream's `UPID(std::string)`: a failure yields the
    /// empty UPID rather than an error.
    pub fn parse_lenient(s: &str) -> Self {
        s.parse().unwrap_or_else(|_| Self::empty())
    }

    /// Returns the `ip:port` of the OS process hosting this process.
    pub fn address(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.ip, self.port)
    }

    /// Returns whether this is upstream's "valid" UPID: an id, an IP that is
    /// not ANY, and a non-zero port.
    pub fn is_valid(&self) -> bool {
        !self.id.is_empty() && !self.ip.is_unspecified() && self.port != 0
    }

    /// Returns whether this is the empty UPID.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty() && self.ip.is_unspecified() && self.port == 0
    }
}

impl Default for UPID {
    fn default() -> Self {
        Self::empty()
    }
}

impl PartialEq for UPID {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.ip == other.ip && self.port == other.port
    }
}

impl Eq for UPID {}

impl Hash for UPID {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.ip.hash(state);
        self.port.hash(state);
    }
}

impl fmt::Display for UPID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.id, self.ip, self.port)
    }
}

impl fmt::Debug for UPID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for UPID {
    type Err = UpidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Self::empty());
        }
        let (id, rest) = s
            .split_once('@')
            .ok_or_else(|| UpidError::MissingAt(s.to_string()))?;
        let (host, port) = rest
            .split_once(':')
            .ok_or_else(|| UpidError::MissingColon(s.to_string()))?;
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UpidError::Port(s.to_string()));
        }
        let port: u16 = port.parse().map_err(|_| UpidError::Port(s.to_string()))?;
        let (ip, name) = match host.parse::<Ipv4Addr>() {
            Ok(ip) => (ip, None),
            Err(_) => (resolve(host)?, Some(Arc::from(host))),
        };
        Ok(Self {
            id: Arc::from(id),
            ip,
            port,
            host: name,
        })
    }
}

/// Resolves `host` to its first IPv4 address.
pub fn resolve(host: &str) -> Result<Ipv4Addr, UpidError> {
    if host.is_empty() {
        return Err(UpidError::Resolve(host.to_string()));
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|_| UpidError::Resolve(host.to_string()))?
        .find_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| UpidError::Resolve(host.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let pid: UPID = "slave(1)@10.0.0.2:5051".parse().unwrap();
        assert_eq!(&*pid.id, "slave(1)");
        assert_eq!(pid.ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(pid.port, 5051);
        assert_eq!(pid.to_string(), "slave(1)@10.0.0.2:5051");
        assert!(pid.is_valid());
    }

    #[test]
    fn splits_at_first_at_and_first_colon() {
        let pid: UPID = "a@b@127.0.0.1:1".parse().unwrap_or_else(|_| UPID::empty());
        // "b@127.0.0.1" is not a host: upstream fails the same way.
        assert!(pid.is_empty());
        let pid: UPID = "scheduler-1a2b@127.0.0.1:38211".parse().unwrap();
        assert_eq!(&*pid.id, "scheduler-1a2b");
    }

    #[test]
    fn empty_forms_are_the_empty_upid() {
        assert!(UPID::parse_lenient("").is_empty());
        assert!(UPID::parse_lenient("@0.0.0.0:0").is_empty());
        assert_eq!(UPID::empty().to_string(), "@0.0.0.0:0");
        assert!(!UPID::empty().is_valid());
    }

    #[test]
    fn malformed_upids_are_refused() {
        assert!(matches!(
            "master".parse::<UPID>(),
            Err(UpidError::MissingAt(_))
        ));
        assert!(matches!(
            "master@1.2.3.4".parse::<UPID>(),
            Err(UpidError::MissingColon(_))
        ));
        assert!(matches!(
            "master@1.2.3.4:".parse::<UPID>(),
            Err(UpidError::Port(_))
        ));
        assert!(matches!(
            "master@1.2.3.4:70000".parse::<UPID>(),
            Err(UpidError::Port(_))
        ));
        assert!(matches!(
            "master@1.2.3.4:50x".parse::<UPID>(),
            Err(UpidError::Port(_))
        ));
        assert!(matches!(
            "master@:5050".parse::<UPID>(),
            Err(UpidError::Resolve(_))
        ));
    }

    #[test]
    fn hostnames_resolve_and_equality_ignores_them() {
        let by_name: UPID = "master@localhost:5050".parse().unwrap();
        let by_ip: UPID = format!("master@{}:5050", by_name.ip).parse().unwrap();
        assert_eq!(by_name, by_ip);
        assert_eq!(by_name.host.as_deref(), Some("localhost"));
        assert_ne!(by_ip, "other@127.0.0.1:5050".parse::<UPID>().unwrap());
    }
}
