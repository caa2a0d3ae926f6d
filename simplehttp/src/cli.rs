//! The command line of `python -m http.server`, shared by the `simplehttp` command and, through this crate, `cgihttp`'s.

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The port Python's command binds when none is given.
pub const DEFAULT_PORT: u16 = 8000;

/// `python -m http.server [port] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]]`, plus `--timeout`.
///
/// One difference from Python: the command speaks HTTP/1.1 unless told otherwise (Python's command defaults to HTTP/1.0; the library default stays HTTP/1.0).
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "simplehttp",
    about = "Serve a directory over HTTP, like python -m http.server",
    version
)]
pub struct CommandLine {
    /// bind to this port (default: 8000)
    #[arg(value_name = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// bind to this address (default: all interfaces)
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    pub bind: Option<String>,

    /// serve this directory (default: current directory)
    #[arg(short = 'd', long = "directory", value_name = "DIRECTORY")]
    pub directory: Option<PathBuf>,

    /// conform to this HTTP version (default: HTTP/1.1)
    #[arg(short = 'p', long = "protocol", value_name = "VERSION", default_value = "HTTP/1.1", value_parser = parse_protocol)]
    pub protocol: String,

    /// path to the TLS certificate chain file
    #[arg(long = "tls-cert", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,

    /// path to the TLS key file
    #[arg(long = "tls-key", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,

    /// path to the password file for the TLS key
    #[arg(long = "tls-password-file", value_name = "PATH")]
    pub tls_password_file: Option<PathBuf>,

    /// close a connection idle for this many seconds, or slower than this to send a request head (default: 60 idle, 30 for a head)
    #[arg(long = "timeout", value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// serve at most this many connections at once; at the limit, connections idle between requests are closed first
    /// to make room, and new ones wait in the listen backlog
    #[arg(long = "max-connections", value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// refuse a request body larger than this with 413, as soon as it is declared or its count passes it;
    /// K, M and G multiply by 1024, 1024² and 1024³ (default: 100M; 0: no limit)
    #[arg(long = "max-body-size", value_name = "BYTES", value_parser = parse_size)]
    pub max_body_size: Option<u64>,

    /// keep N worker threads on the epoll set that serves the connections (default: one per core); another starts
    /// whenever all are held by handlers that wait (a CGI script, a large upload), and the extra ones leave when idle
    #[arg(long = "workers", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// do not log requests (errors are still logged to stderr)
    #[arg(short = 'q', long = "quiet", conflicts_with = "access_log")]
    pub quiet: bool,

    /// append the request log to FILE (`-`: stdout) from a background thread, instead of stderr
    #[arg(long = "access-log", value_name = "FILE")]
    pub access_log: Option<PathBuf>,

    /// never run more than N worker threads, however many handlers wait
    #[arg(long = "max-workers", value_name = "N", default_value_t = DEFAULT_MAX_WORKERS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_workers: u32,

    /// Authentication, error pages, headers and CORS.
    #[command(flatten)]
    pub site: crate::SiteOptions,

    // Not a doc comment: clap would take it for the flattened group's help.
    #[allow(missing_docs)]
    #[command(flatten)]
    pub operations: crate::operations::OperationFlags,
    /// compress text responses of 1 KiB to 4 MiB with the coding the client prefers (brotli, zstd or gzip);
    /// each file is compressed once per version, never for a Range request
    #[arg(long = "compress", help_heading = "Files")]
    pub compress: bool,

    /// answer with FILE.br, FILE.zst or FILE.gz, when the client accepts that coding and the sibling is at least as new as FILE
    #[arg(long = "precompressed", help_heading = "Files")]
    pub precompressed: bool,

    /// accept uploads: PUT to a path, or files posted from the listing page's form (multipart/form-data);
    /// bodies are capped by --max-body-size (1 GiB unless given), and an existing file is replaced only with --overwrite
    #[arg(long = "upload", help_heading = "Files")]
    pub upload: bool,

    /// let uploads replace existing files
    #[arg(long = "overwrite", requires = "upload", help_heading = "Files")]
    pub overwrite: bool,

    /// let uploads create names starting with a dot (.htaccess, .ssh)
    #[arg(long = "upload-dotfiles", requires = "upload", help_heading = "Files")]
    pub upload_dotfiles: bool,

    /// answer a GET that would be 404 and accepts HTML with FILE (relative to the directory) and 200, for single-page apps
    #[arg(long = "spa-fallback", value_name = "FILE", help_heading = "Files")]
    pub spa_fallback: Option<PathBuf>,

    /// neither list nor serve names starting with a dot (404)
    #[arg(long = "hide-dotfiles", help_heading = "Files")]
    pub hide_dotfiles: bool,

    /// refuse (404) any path through a symbolic link, and list none
    #[arg(
        long = "no-follow-symlinks",
        conflicts_with = "symlinks_in_root_only",
        help_heading = "Files"
    )]
    pub no_follow_symlinks: bool,

    /// follow only symbolic links that resolve inside the served directory
    #[arg(long = "symlinks-in-root-only", help_heading = "Files")]
    pub symlinks_in_root_only: bool,

    /// list directories as a table of names, sizes and dates, sortable by links (?sort=name|size|modified&order=asc|desc),
    /// instead of Python's page (on with --upload, whose form it shows)
    #[arg(long = "sortable-listing", help_heading = "Files")]
    pub sortable_listing: bool,
}

/// Worker threads at most unless `--max-workers` says otherwise.
pub const DEFAULT_MAX_WORKERS: u32 = 256;

/// Connections served at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

/// The listen backlog of the command (Python's `request_queue_size` is 5, which refuses bursts of clients).
pub const LISTEN_BACKLOG: i32 = 1024;

/// Accepts `HTTP/1.0` and `HTTP/1.1`, the versions the server can speak.
fn parse_protocol(text: &str) -> Result<String, String> {
    match text {
        "HTTP/1.0" | "HTTP/1.1" => Ok(text.to_owned()),
        _ => Err("expected HTTP/1.0 or HTTP/1.1".to_owned()),
    }
}

/// Accepts a positive, finite number of seconds, fractions allowed.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| "expected a positive number of seconds".to_owned())
}

/// Accepts a number of bytes, optionally followed by `K`, `M` or `G` (powers of 1024, either case).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, multiplier) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1 << 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(multiplier))
        .ok_or_else(|| "expected a number of bytes, such as 1048576 or 1M".to_owned())
}

impl CommandLine {
    /// The request-body limit `--max-body-size` asks for: `None` when not given, `Some(None)` for no limit (`0`).
    pub fn body_limit(&self) -> Option<Option<u64>> {
        self.max_body_size.map(|size| (size > 0).then_some(size))
    }
}

/// A command line that parses but asks for something impossible; the message is Python's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageError {
    /// `--tls-key` without `--tls-cert`.
    KeyWithoutCertificate,
    /// `--tls-password-file` without `--tls-cert`.
    PasswordWithoutCertificate,
    /// `--processes` above 1 without `--reuse-port`.
    ProcessesWithoutReusePort,
    /// `--metrics-bind` with `--processes` above 1.
    MetricsWithProcesses,
}

impl fmt::Display for UsageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            UsageError::KeyWithoutCertificate => "--tls-key requires --tls-cert to be set",
            UsageError::PasswordWithoutCertificate => {
                "--tls-password-file requires --tls-cert to be set"
            }
            UsageError::ProcessesWithoutReusePort => {
                "--processes above 1 requires --reuse-port (each process listens on the port with SO_REUSEPORT)"
            }
            UsageError::MetricsWithProcesses => {
                "--metrics-bind cannot be combined with --processes above 1 (each process counts only its own requests)"
            }
        })
    }
}

impl std::error::Error for UsageError {}

impl CommandLine {
    /// Python's checks after parsing: the TLS key and password need a certificate; then those of the operations flags.
    ///
    /// # Errors
    ///
    /// The first rule broken, with Python's message.
    pub fn validate(&self) -> Result<(), UsageError> {
        self.operations.validate()?;
        if self.tls_cert.is_none() && self.tls_key.is_some() {
            return Err(UsageError::KeyWithoutCertificate);
        }
        if self.tls_cert.is_none() && self.tls_password_file.is_some() {
            return Err(UsageError::PasswordWithoutCertificate);
        }
        Ok(())
    }

    /// Whether the server speaks TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The address to bind: `-b` resolved with the port (the first answer, as Python's `_get_best_family`), or every IPv4 interface.
    ///
    /// Python asks `getaddrinfo(None, port, AI_PASSIVE)`, whose first answer is `0.0.0.0` on common Linux set-ups; `-b ::` binds IPv6 (dual-stack where the server supports it).
    ///
    /// # Errors
    ///
    /// The resolver's error, or [`io::ErrorKind::NotFound`] when the name has no address.
    pub fn bind_address(&self) -> io::Result<SocketAddr> {
        match self.bind.as_deref() {
            None | Some("") => Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                self.port,
            )),
            Some(host) => resolve(host, self.port),
        }
    }

    /// The TLS key's password: the file's text with surrounding whitespace removed (Python's `f.read().strip()`), if a file was given.
    ///
    /// # Errors
    ///
    /// The error from reading the file, or [`io::ErrorKind::InvalidData`] if it is not UTF-8.
    pub fn tls_password(&self) -> io::Result<Option<String>> {
        self.tls_password_file
            .as_ref()
            .map(|path| fs::read_to_string(path).map(|text| text.trim().to_owned()))
            .transpose()
    }
}

/// Resolves `host` (a literal address, bracketed or not, or a name) with `port`, taking the first answer.
fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let literal = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(address) = literal.parse::<IpAddr>() {
        return Ok(SocketAddr::new(address, port));
    }
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}")))
}

/// The line Python prints once the server listens: `Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ...`.
///
/// `address` is the bound address (so port 0 shows the real port); an IPv6 host is bracketed in the URL only.
pub fn banner(address: SocketAddr, tls: bool) -> String {
    let (protocol, scheme) = if tls {
        ("HTTPS", "https")
    } else {
        ("HTTP", "http")
    };
    let host = address.ip();
    let url_host = match host {
        IpAddr::V4(_) => host.to_string(),
        IpAddr::V6(_) => format!("[{host}]"),
    };
    let port = address.port();
    format!("Serving {protocol} on {host} port {port} ({scheme}://{url_host}:{port}/) ...")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<CommandLine, clap::Error> {
        CommandLine::try_parse_from(std::iter::once("simplehttp").chain(arguments.iter().copied()))
    }

    #[test]
    fn defaults() {
        let command = parse(&[]).unwrap();
        assert_eq!(command.port, 8000);
        assert_eq!(command.bind, None);
        assert_eq!(command.directory, None);
        assert_eq!(command.protocol, "HTTP/1.1");
        assert_eq!(command.timeout, None);
        assert!(!command.uses_tls());
        assert_eq!(
            command.bind_address().unwrap(),
            "0.0.0.0:8000".parse().unwrap()
        );
    }

    // Mirrors test_httpservers: CommandLineTestCase (port, -b, -d, -p in short and long forms).
    #[test]
    fn every_option() {
        let command = parse(&[
            "-b",
            "127.0.0.1",
            "-d",
            "/srv",
            "-p",
            "HTTP/1.0",
            "--timeout",
            "2.5",
            "9000",
        ])
        .unwrap();
        assert_eq!(command.port, 9000);
        assert_eq!(command.bind.as_deref(), Some("127.0.0.1"));
        assert_eq!(command.directory, Some(PathBuf::from("/srv")));
        assert_eq!(command.protocol, "HTTP/1.0");
        assert_eq!(command.timeout, Some(Duration::from_millis(2500)));
        let long = parse(&[
            "--bind",
            "::1",
            "--directory",
            "x",
            "--protocol",
            "HTTP/1.1",
            "0",
        ])
        .unwrap();
        assert_eq!(long.bind_address().unwrap(), "[::1]:0".parse().unwrap());
        assert_eq!(long.directory, Some(PathBuf::from("x")));
    }

    #[test]
    fn body_size_limits() {
        assert_eq!(parse(&[]).unwrap().body_limit(), None);
        for (text, expected) in [
            ("1048576", Some(Some(1 << 20))),
            ("64k", Some(Some(64 << 10))),
            ("1M", Some(Some(1 << 20))),
            ("2g", Some(Some(2 << 30))),
            ("0", Some(None)),
        ] {
            assert_eq!(
                parse(&["--max-body-size", text]).unwrap().body_limit(),
                expected,
                "{text}"
            );
        }
        for bad in [
            "",
            "M",
            "-1",
            "1.5M",
            "1T",
            "99999999999999999999",
            "17179869184G",
        ] {
            assert!(parse(&["--max-body-size", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["-p", "HTTP/2.0"]).is_err());
        assert!(parse(&["70000"]).is_err());
        assert!(parse(&["port"]).is_err());
        assert!(parse(&["--timeout", "0"]).is_err());
        assert!(parse(&["--timeout", "-1"]).is_err());
        assert!(parse(&["--timeout", "inf"]).is_err());
        assert!(parse(&["--unknown"]).is_err());
    }

    // Mirrors test_httpservers: CommandLineTestCase.test_tls_cert_and_key_flags and test_invalid_tls_cert_and_key_flags.
    #[test]
    fn tls_flags() {
        let command = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert!(command.uses_tls());
        assert_eq!(command.validate(), Ok(()));
        assert_eq!(
            parse(&["--tls-key", "k.pem"]).unwrap().validate(),
            Err(UsageError::KeyWithoutCertificate)
        );
        assert_eq!(
            parse(&["--tls-password-file", "p"]).unwrap().validate(),
            Err(UsageError::PasswordWithoutCertificate)
        );
        assert_eq!(
            UsageError::KeyWithoutCertificate.to_string(),
            "--tls-key requires --tls-cert to be set"
        );
    }

    #[test]
    fn tls_password_is_stripped() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("password");
        fs::write(&path, " secret\n").unwrap();
        let command = parse(&[
            "--tls-cert",
            "c",
            "--tls-password-file",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(command.tls_password().unwrap().as_deref(), Some("secret"));
        assert_eq!(parse(&[]).unwrap().tls_password().unwrap(), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(resolve("[::]", 80).unwrap(), "[::]:80".parse().unwrap());
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
        assert!(resolve("localhost", 80).unwrap().ip().is_loopback());
    }

    // Mirrors test_httpservers: CommandLineTestCase.test_server_test_* (the printed banner).
    #[test]
    fn banners() {
        assert_eq!(
            banner("0.0.0.0:8000".parse().unwrap(), false),
            "Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ..."
        );
        assert_eq!(
            banner("[::]:8443".parse().unwrap(), true),
            "Serving HTTPS on :: port 8443 (https://[::]:8443/) ..."
        );
    }
}
