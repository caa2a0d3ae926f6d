//! Running a handler as the `simplehttp` command does: shared with `cgihttp`, so both commands start, bind, report and stop alike.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use basehttp::{
    serve_until_signalled, set_access_log, set_log_format, AccessLog, BaseHttpRequestHandler,
    HttpHandler, HttpServer, Limits, Stopped, ThreadingHttpServer,
};
use socketserver::{Address, Mode, ServerConfig};

use crate::cli::{banner, CommandLine, LISTEN_BACKLOG};

/// How often the serving loop runs its housekeeping (Python's `poll_interval`); shutdown does not wait for it.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The request-body cap with `--upload` and no `--max-body-size`: 1 GiB.
pub(crate) const DEFAULT_UPLOAD_LIMIT: u64 = 1 << 30;

impl CommandLine {
    /// The directory to serve: `-d`, or the current directory; an error when it is not a directory.
    pub fn served_directory(&self) -> io::Result<PathBuf> {
        let directory = match &self.directory {
            Some(directory) => directory.clone(),
            None => std::env::current_dir()?,
        };
        if directory.is_dir() {
            Ok(directory)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not a directory", directory.display()),
            ))
        }
    }

    /// The connection limits with `--timeout` applied to both the idle time and the request-head deadline,
    /// and `--max-body-size` to every request body.
    pub fn limits(&self, mut limits: Limits) -> Limits {
        if self.timeout.is_some() {
            limits.idle_timeout = self.timeout;
            limits.head_timeout = self.timeout;
        }
        if let Some(limit) = self.body_limit() {
            limits.max_body_size = limit;
        } else if self.upload {
            // Uploads are never unbounded by accident: without --max-body-size, 1 GiB.
            limits.max_body_size = Some(DEFAULT_UPLOAD_LIMIT);
        }
        limits
    }

    /// The server settings of the command: readiness mode, with up to `--max-connections` connections,
    /// a deep backlog, dual stack on `::`.
    ///
    /// `--workers` threads share one epoll set (one per core the process may run on when not given), more start while
    /// handlers wait (a CGI script, a large upload), up to `--max-workers`; connections waiting for their client
    /// (idle, a slowly sent head or TLS handshake, a slow download) cost no thread.
    pub fn readiness_config(&self, address: SocketAddr) -> ServerConfig {
        let workers = self.workers.map_or_else(
            || std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            |workers| workers as usize,
        );
        ServerConfig {
            mode: Mode::Readiness { workers },
            max_workers: self.max_workers as usize,
            ..self.server_config(address)
        }
    }

    /// The server settings of the command with a thread per connection, up to `--max-connections`, a deep backlog, dual stack on `::`.
    ///
    /// [`serve_command_threaded`] uses it.
    pub fn server_config(&self, address: SocketAddr) -> ServerConfig {
        let mut config = ThreadingHttpServer::default_config();
        config.request_queue_size = LISTEN_BACKLOG;
        config.allow_reuse_port = self.operations.reuse_port;
        config.max_threads = Some(self.max_connections as usize);
        if address.is_ipv6() {
            // Python's DualStackServer: an IPv6 socket that also accepts IPv4.
            config.ipv6_only = Some(false);
        }
        config
    }
}

/// Serves `handler` as the command line says: binds (over TLS with `--tls-cert`), prints Python's banner,
/// and serves until Ctrl-C, which prints `Keyboard interrupt received, exiting.`.
///
/// Errors are one line each: a busy port reads `cannot bind 0.0.0.0:8000: address in use`.
///
/// HTTP and HTTPS are served in readiness mode ([`CommandLine::readiness_config`]): a worker per core on one epoll set,
/// each connection a state machine on it, so idle connections, half-sent heads and handshakes, and slow downloads cost no thread;
/// another worker starts only while a handler waits.
pub fn serve_command<H: BaseHttpRequestHandler>(
    command: &CommandLine,
    handler: H,
) -> Result<(), Box<dyn Error>> {
    serve(command, handler, true)
}

/// [`serve_command`] with a thread per connection over plain HTTP too, Python's `ThreadingHTTPServer` shape.
///
/// Handlers that block for long do not need it (the readiness mode starts another worker when one is held);
/// it is there for handlers that keep per-thread state or must not share their thread between connections.
pub fn serve_command_threaded<H: BaseHttpRequestHandler>(
    command: &CommandLine,
    handler: H,
) -> Result<(), Box<dyn Error>> {
    serve(command, handler, false)
}

fn serve<H: BaseHttpRequestHandler>(
    command: &CommandLine,
    handler: H,
    readiness: bool,
) -> Result<(), Box<dyn Error>> {
    let address = command.bind_address()?;
    let mut handler = command.site.site(handler)?;
    if command.upload {
        // A browser's PUT from another origin is preflighted; the answer must name it.
        handler.allowed_methods = "GET, HEAD, POST, PUT, OPTIONS".to_owned();
    }
    // Before any thread starts: the variables go, and forking stays sound.
    let activated = crate::operations::activated_listener()?;
    let operations = &command.operations;
    if operations.processes > 1 {
        let mut handler = Some(handler);
        let mut activated = activated;
        let shared = activated.is_some();
        return crate::operations::run_processes(
            address,
            command.tls_cert.is_some(),
            operations.processes,
            operations.shutdown_timeout(),
            shared,
            // Runs in each child, a copy of this process: each takes the handler and the socket from its own copy.
            &mut |bound| {
                let handler = handler.take().ok_or("the handler was taken")?;
                serve_one(command, handler, readiness, bound, activated.take(), false)
            },
        );
    }
    serve_one(command, handler, readiness, address, activated, true)
}

/// Serves in this process: on the socket systemd passed, or on `address` bound now.
fn serve_one<H: BaseHttpRequestHandler>(
    command: &CommandLine,
    handler: H,
    readiness: bool,
    address: SocketAddr,
    activated: Option<std::net::TcpListener>,
    print_banner: bool,
) -> Result<(), Box<dyn Error>> {
    if command.quiet {
        set_access_log(AccessLog::Off)?;
    } else if let Some(path) = &command.access_log {
        set_access_log(AccessLog::File(path.clone()))
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    set_log_format(command.operations.log_format);
    let config = if readiness {
        command.readiness_config(address)
    } else {
        command.server_config(address)
    };
    let bound_address = |bound: &Address| match bound {
        Address::Inet(bound) => *bound,
        Address::Unix(_) => address,
    };
    let handler = match &command.tls_cert {
        #[cfg(feature = "tls")]
        Some(certificate) => {
            let password = command.tls_password()?;
            let tls = basehttp::tls_server_config(
                certificate,
                command.tls_key.as_deref(),
                password.as_deref(),
            )?;
            HttpHandler::with_tls(handler, tls)
        }
        #[cfg(not(feature = "tls"))]
        Some(_) => return Err("--tls-cert: this build has no TLS (the `tls` feature)".into()),
        None => HttpHandler::new(handler),
    }
    .with_trusted_proxies(command.operations.trusted_proxies());
    let mut server = match activated {
        Some(listener) => HttpServer::from_listener(listener, handler, config)?,
        None => HttpServer::with_http_handler(address, handler, config)
            .map_err(|error| bind_error(address, error))?,
    };
    if print_banner {
        println!(
            "{}",
            banner(
                bound_address(server.server_address()),
                command.tls_cert.is_some()
            )
        );
    }
    crate::operations::start_metrics(&command.operations)?;
    let stopped = serve_until_signalled(
        &mut server,
        POLL_INTERVAL,
        Some(command.operations.shutdown_timeout()),
    )?;
    if stopped == (Stopped::Terminated { drained: false }) {
        eprintln!(
            "requests still running after the shutdown timeout ({} s) were cut short",
            command.operations.shutdown_timeout().as_secs_f64()
        );
    }
    Ok(())
}

/// One line that says which address could not be had and why.
pub(crate) fn bind_error(address: SocketAddr, error: io::Error) -> String {
    let reason = match error.kind() {
        io::ErrorKind::AddrInUse => "address in use".to_owned(),
        io::ErrorKind::AddrNotAvailable => "no such local address".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    };
    format!("cannot bind {address}: {reason}")
}
