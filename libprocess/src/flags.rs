//! Flag loading shared by every binary, as stout's flags
//! (`3rdparty/stout/include/stout/flags/flags.hpp`) behave:
//!
//! - `--flag=value`, `--flag value` is left to clap; `--no-flag` becomes
//!   `--flag=false`;
//! - environment variables `<PREFIX>FLAG` in upper case or as the flag is
//!   spelt (`MESOS_work_dir`); the command line wins over the environment;
//! - a value `file:///path` is replaced by that file's contents (trimmed),
//!   except for flags that name paths;
//! - durations in Mesos units (`ns us ms secs mins hrs days weeks`) and
//!   sizes in `B KB MB GB TB`.
//!
//! Each binary derives its flags with clap (`rename_all = "snake_case"`,
//! `env = "MESOS_..."` on every field) and calls [`prefilter`] on its
//! arguments first.

use std::time::Duration;

/// Why a flag value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// A `file://` value could not be read.
    #[error("failed to read '{path}' for flag '--{flag}': {error}")]
    File {
        /// The flag.
        flag: String,
        /// The file.
        path: String,
        /// The cause.
        error: String,
    },
    /// A duration or size is malformed.
    #[error("{0}")]
    Value(String),
}

/// Rewrites `args` (including the program name) and the environment for
/// clap: `--no-x` → `--x=false`; `file://` values are read for flags not
/// in `path_flags`; lower-case `<prefix>x` environment variables are copied
/// to their upper-case names (unless set) with `file://` values read.
///
/// Call it at the start of `main`, before any thread is started: it sets
/// environment variables.
pub fn prefilter(
    args: impl IntoIterator<Item = String>,
    prefix: &str,
    path_flags: &[&str],
) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || !arg.starts_with("--") || arg == "--" {
            out.push(arg);
            continue;
        }
        let body = &arg[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        if value.is_none() {
            if let Some(negated) = name.strip_prefix("no-") {
                out.push(format!("--{negated}=false"));
                continue;
            }
        }
        match value {
            Some(value) if !path_flags.contains(&name.as_str()) => {
                let value = read_file_value(&name, &value)?;
                out.push(format!("--{name}={value}"));
            }
            _ => out.push(arg),
        }
    }

    let vars: Vec<(String, String)> = std::env::vars().collect();
    for (key, value) in vars {
        let Some(name) = key.strip_prefix(prefix) else {
            continue;
        };
        let upper = format!("{prefix}{}", name.to_ascii_uppercase());
        let lower = name.to_ascii_lowercase();
        if path_flags.contains(&lower.as_str()) {
            if key != upper && std::env::var_os(&upper).is_none() {
                set_env(&upper, &value);
            }
            continue;
        }
        let resolved = read_file_value(&lower, &value)?;
        let unset_upper = key != upper && std::env::var_os(&upper).is_none();
        let read_file = key == upper && resolved != value;
        if unset_upper || read_file {
            set_env(&upper, &resolved);
        }
    }
    Ok(out)
}

fn set_env(key: &str, value: &str) {
    // SAFETY: `prefilter` is documented to run at the start of `main`,
    // before any other thread exists, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var(key, value) };
}

fn read_file_value(flag: &str, value: &str) -> Result<String, FlagError> {
    match value.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| FlagError::File {
                flag: flag.to_string(),
                path: path.to_string(),
                error: e.to_string(),
            }),
        None => Ok(value.to_string()),
    }
}

/// The address to listen on, as the master and agent choose it (upstream
/// `main.cpp`): `--ip`, or what `--ip_discovery_command` prints (run by
/// the shell, its output trimmed), or `LIBPROCESS_IP` (`from_env`); both
/// flags at once is an error.
pub fn listen_ip(
    ip: Option<std::net::Ipv4Addr>,
    discovery_command: Option<&str>,
    from_env: std::net::Ipv4Addr,
) -> Result<std::net::Ipv4Addr, String> {
    match (ip, discovery_command) {
        (Some(_), Some(_)) => {
            Err("Only one of `--ip` or `--ip_discovery_command` should be specified".into())
        }
        (Some(ip), None) => Ok(ip),
        (None, None) => Ok(from_env),
        (None, Some(command)) => {
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| format!("Failed to run '{command}': {e}"))?;
            if !output.status.success() {
                return Err(format!("Failed to run '{command}': {}", output.status));
            }
            let text = String::from_utf8_lossy(&output.stdout);
            text.trim().parse().map_err(|e| {
                format!(
                    "'{command}' printed '{}', not an IP address: {e}",
                    text.trim()
                )
            })
        }
    }
}

/// Parses a boolean as stout does (`true`/`false`, `1`/`0`).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A boolean flag's value as stout takes it (`true`, `false`, `1`, `0`),
/// for clap's `value_parser`.
pub fn parse_bool_flag(value: &str) -> Result<bool, String> {
    parse_bool(value)
        .ok_or_else(|| format!("Expecting a boolean (e.g., true or false), got '{value}'"))
}

/// Parses a Mesos duration: a number (fractions allowed) and a unit,
/// `ns us ms secs mins hrs days weeks` (stout's `Duration::parse`).
pub fn parse_duration(value: &str) -> Result<Duration, FlagError> {
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| FlagError::Value(format!("Invalid duration '{value}': missing unit")))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| FlagError::Value(format!("Invalid duration '{value}'")))?;
    let nanos_per_unit: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "secs" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "days" => 86_400e9,
        "weeks" => 604_800e9,
        _ => {
            return Err(FlagError::Value(format!(
                "Invalid duration '{value}': unknown unit '{unit}'"
            )))
        }
    };
    Ok(Duration::from_nanos(
        (number * nanos_per_unit).round() as u64
    ))
}

/// Formats a duration as stout prints one (`15secs`, `10mins`, `1.5secs`).
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    let units: [(&str, f64); 8] = [
        ("weeks", 604_800e9),
        ("days", 86_400e9),
        ("hrs", 3600e9),
        ("mins", 60e9),
        ("secs", 1e9),
        ("ms", 1e6),
        ("us", 1e3),
        ("ns", 1.0),
    ];
    for (unit, size) in units {
        if nanos >= size {
            let value = nanos / size;
            return format!("{}{unit}", trim_float(value));
        }
    }
    "0ns".to_string()
}

fn trim_float(value: f64) -> String {
    let s = format!("{value:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Parses a Mesos size: a number and a unit `B KB MB GB TB` (stout's
/// `Bytes::parse`), returning bytes.
pub fn parse_bytes(value: &str) -> Result<u64, FlagError> {
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| FlagError::Value(format!("Invalid bytes '{value}': missing unit")))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| FlagError::Value(format!("Invalid bytes '{value}'")))?;
    let multiplier: f64 = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(FlagError::Value(format!(
                "Invalid bytes '{value}': unknown unit '{unit}'"
            )))
        }
    };
    Ok((number * multiplier) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_ip_comes_from_one_place() {
        use std::net::Ipv4Addr;
        let env = Ipv4Addr::new(10, 0, 0, 1);
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(listen_ip(None, None, env), Ok(env));
        assert_eq!(listen_ip(Some(ip), None, env), Ok(ip));
        assert_eq!(
            listen_ip(None, Some("echo ' 127.0.0.3 '"), env),
            Ok(Ipv4Addr::new(127, 0, 0, 3))
        );
        assert!(listen_ip(Some(ip), Some("echo 1.2.3.4"), env).is_err());
        assert!(listen_ip(None, Some("echo nope"), env)
            .unwrap_err()
            .contains("not an IP"));
        assert!(listen_ip(None, Some("exit 3"), env).is_err());
    }

    #[test]
    fn durations_use_mesos_units() {
        assert_eq!(parse_duration("15secs").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("10mins").unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse_duration("1.5secs").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("5ms").unwrap(), Duration::from_millis(5));
        assert_eq!(
            parse_duration("2weeks").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15s").is_err());
        assert!(parse_duration("secs").is_err());
        assert_eq!(format_duration(Duration::from_secs(15)), "15secs");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5secs");
        assert_eq!(format_duration(Duration::from_secs(600)), "10mins");
    }

    #[test]
    fn sizes_use_mesos_units() {
        assert_eq!(parse_bytes("1024B").unwrap(), 1024);
        assert_eq!(parse_bytes("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5KB").unwrap(), 1536);
        assert!(parse_bytes("10").is_err());
        assert!(parse_bytes("10kb").is_err());
    }

    #[test]
    fn prefilter_rewrites_negations_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("value");
        std::fs::write(&file, "from-file\n").unwrap();
        let args = vec![
            "prog".to_string(),
            "--no-checkpoint".to_string(),
            format!("--hostname=file://{}", file.display()),
            format!("--work_dir=file://{}", file.display()),
            "--port".to_string(),
            "5051".to_string(),
        ];
        let out = prefilter(args, "PREFILTER_TEST_", &["work_dir"]).unwrap();
        assert_eq!(out[1], "--checkpoint=false");
        assert_eq!(out[2], "--hostname=from-file");
        assert_eq!(out[3], format!("--work_dir=file://{}", file.display()));
        assert_eq!(&out[4..], ["--port", "5051"]);
    }

    #[test]
    fn prefilter_reports_unreadable_files() {
        let args = vec![
            "prog".to_string(),
            "--acls=file:///nonexistent/acls".to_string(),
        ];
        let error = prefilter(args, "PREFILTER_TEST2_", &[]).unwrap_err();
        assert!(error.to_string().contains("--acls"), "{error}");
    }
}
