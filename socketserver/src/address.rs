//! Socket addresses of every family the servers speak: Internet (IPv4, IPv6) and Unix domain.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A server or client address (Python's `server_address` and `client_address`).
///
/// Python uses a `(host, port)` tuple for Internet sockets and a path string for Unix-domain sockets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address with its port.
    Inet(SocketAddr),
    /// A Unix-domain socket path; empty for an unnamed peer (a client that never bound its socket).
    Unix(PathBuf),
}

impl Address {
    /// The Internet address, when this is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(address) => Some(*address),
            Address::Unix(_) => None,
        }
    }

    /// The Unix-domain path, when this is one.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Address::Unix(path) => Some(path),
            Address::Inet(_) => None,
        }
    }

    /// The address as Python's `repr` shows it: `('127.0.0.1', 8000)`, `('::1', 8000, 0, 0)` or `'/tmp/socket'`.
    ///
    /// `handle_error` uses this form, so messages read as they do in Python.
    pub fn python_repr(&self) -> String {
        match self {
            Address::Inet(SocketAddr::V4(address)) => {
                format!("('{}', {})", address.ip(), address.port())
            }
            Address::Inet(SocketAddr::V6(address)) => format!(
                "('{}', {}, {}, {})",
                address.ip(),
                address.port(),
                address.flowinfo(),
                address.scope_id()
            ),
            Address::Unix(path) => format!("'{}'", path.display()),
        }
    }

    pub(crate) fn from_unix(address: &std::os::unix::net::SocketAddr) -> Address {
        Address::Unix(
            address
                .as_pathname()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        )
    }
}

impl fmt::Display for Address {
    /// `127.0.0.1:8000`, `[::1]:8000`, or the socket path.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(address) => address.fmt(formatter),
            Address::Unix(path) => path.display().fmt(formatter),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Self {
        Address::Inet(address)
    }
}

impl From<PathBuf> for Address {
    fn from(path: PathBuf) -> Self {
        Address::Unix(path)
    }
}

/// The address a small server was given as its first command-line argument, or `default` when it was given none.
///
/// Python programs name their address in the code (`("127.0.0.1", 8082)`); a port of one that takes it from the
/// command line too can be run beside the original, or by a test on `127.0.0.1:0`, where the kernel picks a free port.
/// An argument that is not UTF-8 is read lossily (and then fails to parse as an address) rather than panicking, as
/// `std::env::args` would.
pub fn address_arg(default: &str) -> String {
    first_or(std::env::args_os().nth(1), default)
}

fn first_or(argument: Option<std::ffi::OsString>, default: &str) -> String {
    argument.map_or_else(
        || default.to_owned(),
        |argument| argument.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_argument_or_the_default() {
        use std::os::unix::ffi::OsStringExt;
        assert_eq!(first_or(None, "127.0.0.1:8000"), "127.0.0.1:8000");
        assert_eq!(
            first_or(Some("[::1]:0".into()), "127.0.0.1:8000"),
            "[::1]:0"
        );
        let not_utf8 = std::ffi::OsString::from_vec(b"127.0.0.1:\xff".to_vec());
        assert_eq!(first_or(Some(not_utf8), "x"), "127.0.0.1:\u{fffd}");
    }

    /// Run by [`address_arg_reads_the_command_line`] in a child, with its own name as the first argument.
    #[test]
    fn address_arg_probe() {
        if std::env::var_os("ADDRESS_ARG_PROBE").is_some() {
            println!("address_arg gave <{}>", address_arg("the default"));
        }
    }

    #[test]
    fn address_arg_reads_the_command_line() {
        // The test binary again, told to run the probe alone: its first argument is the probe's name.
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "address::tests::address_arg_probe",
                "--exact",
                "--nocapture",
            ])
            .env("ADDRESS_ARG_PROBE", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("address_arg gave <address::tests::address_arg_probe>"),
            "{stdout}"
        );
    }

    #[test]
    fn python_repr_matches_python() {
        let v4: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(Address::from(v4).python_repr(), "('127.0.0.1', 8000)");
        let v6: SocketAddr = "[::1]:8000".parse().unwrap();
        assert_eq!(Address::from(v6).python_repr(), "('::1', 8000, 0, 0)");
        assert_eq!(Address::Unix("/tmp/s".into()).python_repr(), "'/tmp/s'");
        assert_eq!(Address::from(v6).to_string(), "[::1]:8000");
    }
}
