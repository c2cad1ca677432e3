//! Fuzzes `UPID`'s `FromStr` and `Display`.
//!
//! Input: arbitrary bytes; non-UTF-8 is skipped. Parsing resolves a host
//! that is not an IPv4 literal through DNS (slow, nondeterministic), so an
//! input whose host part (between the first `@` and the first `:` after
//! it) is not an IPv4 literal is skipped before parsing; inputs without
//! `@` or without that `:` fail before any lookup and are parsed.
//!
//! Checks:
//! - no panic;
//! - a parsed UPID has no host name, and its `to_string()` parses back to
//!   an equal UPID (same id, ip, port) that prints the same;
//! - equal UPIDs hash equal; `parse_lenient` agrees with `parse`;
//! - a failure happens before any lookup (never `Resolve` here).
#![no_main]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use libprocess::pid::UpidError;
use libprocess::UPID;

/// Returns whether parsing `s` could reach DNS resolution.
fn needs_dns(s: &str) -> bool {
    let Some((_, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, _)) = rest.split_once(':') else {
        return false;
    };
    host.parse::<Ipv4Addr>().is_err()
}

fn hash(pid: &UPID) -> u64 {
    let mut hasher = DefaultHasher::new();
    pid.hash(&mut hasher);
    hasher.finish()
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if needs_dns(s) {
        return;
    }
    match s.parse::<UPID>() {
        Ok(pid) => {
            assert!(pid.host.is_none(), "{s:?} parsed with host {:?}", pid.host);
            let printed = pid.to_string();
            let again: UPID = printed
                .parse()
                .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?}, which fails: {e}"));
            assert_eq!(pid, again, "{s:?} -> {printed:?}");
            assert_eq!(pid.id, again.id);
            assert_eq!(pid.ip, again.ip);
            assert_eq!(pid.port, again.port);
            assert!(again.host.is_none());
            assert_eq!(again.to_string(), printed);
            assert_eq!(hash(&pid), hash(&again));
            assert_eq!(UPID::parse_lenient(s), pid);
            assert_eq!(
                pid.address().to_string(),
                format!("{}:{}", pid.ip, pid.port)
            );
            let _ = (pid.is_valid(), pid.is_empty());
        }
        Err(error) => {
            assert!(
                !matches!(error, UpidError::Resolve(_)),
                "{s:?}: {error} (a lookup was attempted)"
            );
            assert!(UPID::parse_lenient(s).is_empty());
        }
    }
});
