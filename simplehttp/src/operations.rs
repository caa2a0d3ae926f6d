//! Running the commands as a service: access log format, trusted proxies, metrics, several processes, socket activation, draining.

use std::error::Error;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use basehttp::{ForwardedHeader, IpNet, LogFormat, TrustedProxies};
use clap::Args;
use socket2::{Domain, Socket, Type};

use crate::cli::UsageError;

/// How long requests under way get after SIGTERM unless `--shutdown-timeout` says otherwise.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The flags for running the commands as a service, shared by `simplehttp` and `cgihttp`.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct OperationFlags {
    /// write access lines as python (Python's, the default), common (Common Log Format), combined (with Referer and
    /// User-Agent) or json (one object per line)
    #[arg(long = "log-format", value_name = "FORMAT", default_value = "python", value_parser = parse_log_format)]
    pub log_format: LogFormat,

    /// believe the client address that peers in this address block (such as 10.0.0.0/8, or one address) give in a PROXY
    /// protocol header or in --real-ip-header; repeatable. Everyone else's PROXY header closes the connection
    #[arg(long = "trusted-proxy", value_name = "CIDR", action = clap::ArgAction::Append, value_parser = parse_cidr)]
    pub trusted_proxies: Vec<IpNet>,

    /// the header trusted proxies name the client in: x-forwarded-for (the default), forwarded (RFC 7239) or none
    /// (only a PROXY protocol header counts)
    #[arg(long = "real-ip-header", value_name = "HEADER", default_value = "x-forwarded-for", value_parser = parse_real_ip_header)]
    pub real_ip_header: ForwardedHeader,

    /// serve Prometheus metrics at http://ADDRESS/metrics, on a listener of their own (such as 127.0.0.1:9100)
    #[arg(long = "metrics-bind", value_name = "ADDRESS", value_parser = parse_socket_address)]
    pub metrics_bind: Option<SocketAddr>,

    /// listen with SO_REUSEPORT, so several processes (--processes) or servers can share the port
    #[arg(long = "reuse-port")]
    pub reuse_port: bool,

    /// serve from N processes, each with its own listening socket (needs --reuse-port); the parent starts another when one dies
    #[arg(long = "processes", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub processes: u32,

    /// on SIGTERM, stop accepting and give requests under way this many seconds to finish, then exit (default: 30)
    #[arg(long = "shutdown-timeout", value_name = "SECONDS", value_parser = parse_seconds, allow_hyphen_values = true)]
    pub shutdown_timeout: Option<Duration>,
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "python" => Ok(LogFormat::Python),
        "common" => Ok(LogFormat::Common),
        "combined" => Ok(LogFormat::Combined),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected python, common, combined or json".to_owned()),
    }
}

fn parse_real_ip_header(text: &str) -> Result<ForwardedHeader, String> {
    match text.to_ascii_lowercase().as_str() {
        "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
        "forwarded" => Ok(ForwardedHeader::Forwarded),
        "none" => Ok(ForwardedHeader::None),
        _ => Err("expected x-forwarded-for, forwarded or none".to_owned()),
    }
}

/// An address block, or one address (a block of one).
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            "expected an address block such as 10.0.0.0/8 or 2001:db8::/32, or one address"
                .to_owned()
        })
}

fn parse_socket_address(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .map_err(|_| "expected an address and port such as 127.0.0.1:9100 or [::1]:9100".to_owned())
}

/// Accepts a non-negative, finite number of seconds, fractions allowed (0: do not wait).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| "expected a number of seconds, such as 30 or 0.5".to_owned())
}

impl OperationFlags {
    /// The combinations that cannot work.
    pub(crate) fn validate(&self) -> Result<(), UsageError> {
        if self.processes > 1 && !self.reuse_port {
            return Err(UsageError::ProcessesWithoutReusePort);
        }
        if self.processes > 1 && self.metrics_bind.is_some() {
            return Err(UsageError::MetricsWithProcesses);
        }
        Ok(())
    }

    /// The peers `--trusted-proxy` trusts, with the header `--real-ip-header` names.
    pub fn trusted_proxies(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone()).with_header(self.real_ip_header)
    }

    /// How long SIGTERM waits for requests under way.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT)
    }
}

/// The listening socket systemd passed (socket activation), if any: the first of `LISTEN_FDS`.
pub(crate) fn activated_listener() -> Result<Option<TcpListener>, Box<dyn Error>> {
    let mut descriptors = socketserver::listen_fds()
        .map_err(|error| format!("socket activation: {error}"))?
        .into_iter();
    Ok(descriptors.next().map(TcpListener::from))
}

/// Runs `serve(address)` in `--processes` children that share the port with SO_REUSEPORT (or a socket systemd passed),
/// restarting one that dies; SIGTERM and SIGINT stop them all (each drains), SIGHUP reaches each (log reopening).
///
/// The parent binds the address first without listening: it reserves the port, turns port 0 into one real port every child binds,
/// and reports a taken port once. It then forks before any thread starts.
pub(crate) fn run_processes(
    address: SocketAddr,
    tls: bool,
    processes: u32,
    shutdown_timeout: Duration,
    activated: bool,
    serve: &mut dyn FnMut(SocketAddr) -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let mut bound = address;
    let _reserved = if activated {
        None
    } else {
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        if address.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket
            .bind(&address.into())
            .map_err(|error| crate::command::bind_error(address, error))?;
        bound = socket
            .local_addr()?
            .as_socket()
            .ok_or("the bound socket has no Internet address")?;
        Some(socket)
    };
    println!("{}", crate::cli::banner(bound, tls));
    let terminate = Arc::new(AtomicBool::new(false));
    let hang_up = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminate))?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&terminate))?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hang_up))?;
    let supervision = socketserver::Supervision {
        processes: processes as usize,
        terminate: &terminate,
        hang_up: &hang_up,
        // The children drain for the shutdown timeout themselves; a moment more lets them exit on their own.
        grace: shutdown_timeout.checked_add(Duration::from_secs(2)),
    };
    socketserver::supervise(supervision, &mut |_| match serve(bound) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("{error}");
            1
        }
    })?;
    Ok(())
}

/// Starts the `/metrics` listener when `--metrics-bind` asks for one.
pub(crate) fn start_metrics(flags: &OperationFlags) -> Result<(), Box<dyn Error>> {
    if let Some(address) = flags.metrics_bind {
        let bound = crate::metrics::start_metrics_listener(address)
            .map_err(|error| crate::command::bind_error(address, error))?;
        println!("Serving metrics on http://{bound}/metrics");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::CommandLine;
    use clap::Parser;

    fn parse(arguments: &[&str]) -> Result<CommandLine, clap::Error> {
        CommandLine::try_parse_from(std::iter::once("simplehttp").chain(arguments.iter().copied()))
    }

    #[test]
    fn wrong_values_say_what_is_expected() {
        for (arguments, expected) in [
            (
                &["--log-format", "xml"][..],
                "expected python, common, combined or json",
            ),
            (
                &["--trusted-proxy", "10.0.0.0/33"],
                "expected an address block",
            ),
            (&["--trusted-proxy", "proxy"], "expected an address block"),
            (
                &["--real-ip-header", "x-real-ip"],
                "expected x-forwarded-for, forwarded or none",
            ),
            (&["--metrics-bind", "9100"], "expected an address and port"),
            (
                &["--shutdown-timeout", "-1"],
                "expected a number of seconds",
            ),
            (&["--processes", "0"], "0 is not in 1..=1024"),
        ] {
            let error = parse(arguments).unwrap_err().to_string();
            assert!(error.contains(expected), "{arguments:?}: {error}");
        }
    }

    #[test]
    fn operation_flags() {
        let command = parse(&[
            "--log-format",
            "json",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "::1",
            "--metrics-bind",
            "127.0.0.1:0",
            "--shutdown-timeout",
            "0.5",
        ])
        .unwrap();
        let flags = &command.operations;
        assert_eq!(flags.log_format, basehttp::LogFormat::Json);
        assert_eq!(flags.trusted_proxies.len(), 2);
        assert!(flags.trusted_proxies().trusts_ip("::1".parse().unwrap()));
        assert_eq!(
            flags.shutdown_timeout(),
            std::time::Duration::from_millis(500)
        );
        assert_eq!(command.validate(), Ok(()));
        assert_eq!(
            parse(&["--processes", "2"]).unwrap().validate(),
            Err(crate::UsageError::ProcessesWithoutReusePort)
        );
        assert_eq!(
            parse(&[
                "--processes",
                "2",
                "--reuse-port",
                "--metrics-bind",
                "127.0.0.1:0"
            ])
            .unwrap()
            .validate(),
            Err(crate::UsageError::MetricsWithProcesses)
        );
        let defaults = parse(&[]).unwrap().operations;
        assert_eq!(defaults.log_format, basehttp::LogFormat::Python);
        assert_eq!(defaults.processes, 1);
        assert_eq!(defaults.shutdown_timeout(), super::DEFAULT_SHUTDOWN_TIMEOUT);
    }
}
