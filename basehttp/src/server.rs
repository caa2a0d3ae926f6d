//! [`HttpServer`] and [`ThreadingHttpServer`]: thin constructors over socketserver's `TcpServer`,
//! and [`HttpHandler`], the adapter running the HTTP connection loop as a `StreamRequestHandler`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use socketserver::{
    Address, Mode, ReadyConnection, ServerConfig, ServerHooks, ShutdownHandle, Stream,
    StreamRequest, StreamRequestHandler, TcpServer,
};

use crate::connection::{serve_connection, ConnectionInfo};
use crate::handler::BaseHttpRequestHandler;
use crate::machine::HttpConnection;
use crate::proxy::{read_preface_blocking, Preface, TrustedProxies};

/// Runs a [`BaseHttpRequestHandler`] on each connection of a socketserver stream server, over plain TCP or, with
/// [`HttpHandler::with_tls`], over TLS.
///
/// In [`Mode::Readiness`] each connection is a state machine on the loop (reading a head, writing a response, idle),
/// so no thread waits for a slow client; in the other modes a thread serves each connection from start to end.
/// It turns Nagle's algorithm off, so a response written in two pieces does not wait 40 ms for an ACK.
#[derive(Debug)]
pub struct HttpHandler<H> {
    handler: Arc<H>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
    proxies: Option<Arc<TrustedProxies>>,
}

impl<H: BaseHttpRequestHandler> HttpHandler<H> {
    /// Wraps `handler`, over plain TCP.
    pub fn new(handler: H) -> Self {
        HttpHandler {
            handler: Arc::new(handler),
            #[cfg(feature = "tls")]
            tls: None,
            proxies: None,
        }
    }

    /// Believes `proxies` about who the client is: a PROXY protocol header (v1 or v2) before the first request,
    /// then the forwarding header they send, from those peers only. Every other peer's PROXY header ends its connection.
    ///
    /// The client so named is what the request's `client_address` holds, so logs, CGI's `REMOTE_ADDR` and anything keyed
    /// by client follow it; [`HttpRequest::peer_address`](crate::HttpRequest::peer_address) keeps the proxy.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = (!proxies.is_empty()).then(|| Arc::new(proxies));
        self
    }

    /// Wraps `handler`, over TLS with `config` (see [`crate::tls_server_config`]; Python 3.14's `HTTPSServer`).
    #[cfg(feature = "tls")]
    #[doc(alias = "HTTPSServer")]
    pub fn with_tls(handler: H, config: Arc<rustls::ServerConfig>) -> Self {
        HttpHandler {
            handler: Arc::new(handler),
            tls: Some(config),
            proxies: None,
        }
    }

    /// The wrapped handler.
    pub fn get_ref(&self) -> &H {
        &self.handler
    }
}

impl<H: BaseHttpRequestHandler> StreamRequestHandler for HttpHandler<H> {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let stream = request.request.clone();
        let mut info = ConnectionInfo {
            client_address: request.client_address.clone(),
            server_address: request.server_address.clone(),
            socket: Some(stream.clone()),
            plain: true,
            peer_address: None,
            proxies: self.proxies.clone(),
        };
        if let Some(proxies) = &self.proxies {
            let timeout = self.handler.limits().head_timeout;
            match read_preface_blocking(&stream, &info.client_address, proxies, timeout)? {
                Preface::Client(Some(source)) => {
                    info.peer_address = Some(std::mem::replace(
                        &mut info.client_address,
                        Address::Inet(source),
                    ));
                }
                Preface::Client(None) | Preface::Wait => {}
                Preface::Refuse(reason) => {
                    let peers = crate::connection::Peers {
                        client_address: &info.client_address,
                        server_address: &info.server_address,
                        peer_address: None,
                        proxies: None,
                    };
                    let mut nowhere = Vec::new();
                    let _ = crate::connection::with_bare_request(
                        &*self.handler,
                        peers,
                        String::new(),
                        &mut nowhere,
                        |req| {
                            req.log_error(format_args!("{reason}"));
                            Ok(())
                        },
                    );
                    return Ok(());
                }
            }
        }
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            return crate::tls::serve_blocking(&*self.handler, config, info);
        }
        serve_connection(&*self.handler, &stream, info)
    }

    fn disable_nagle_algorithm(&self) -> bool {
        true
    }

    /// Every connection is a state machine on the readiness loop.
    fn ready_connection(
        &self,
        stream: &Stream,
        client_address: &Address,
        server_address: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>> {
        let connection = HttpConnection::new(
            Arc::clone(&self.handler),
            stream,
            client_address,
            server_address,
            self.proxies.as_ref(),
            #[cfg(feature = "tls")]
            self.tls.as_ref(),
        )?;
        Ok(Some(Box::new(connection)))
    }
}

/// Python's `HTTPServer`: a `TcpServer` with `allow_reuse_address = True`, serving one request at a time,
/// that knows its `server_name` and `server_port`.
///
/// It dereferences to the socketserver `TcpServer` for everything else (`fileno`, `config`, ...).
/// For another processing mode (threads, a bounded pool), start from [`HttpServer::default_config`]:
///
/// ```no_run
/// # use basehttp::{BaseHttpRequestHandler, HttpServer};
/// # struct Hello;
/// # impl BaseHttpRequestHandler for Hello {}
/// use socketserver::{Mode, ServerConfig};
/// let config = ServerConfig {
///     mode: Mode::Pool { workers: 8, queue: 64 },
///     ..HttpServer::default_config()
/// };
/// let server = HttpServer::with_config(("127.0.0.1", 8000), Hello, config)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "HTTPServer")]
#[doc(alias = "BaseHTTPServer")]
#[derive(Debug)]
pub struct HttpServer {
    server: TcpServer,
    server_name: String,
    server_port: u16,
}

impl HttpServer {
    /// Binds `address` and listens (Python's `HTTPServer(server_address, handler_class)`).
    pub fn new(
        address: impl ToSocketAddrs,
        handler: impl BaseHttpRequestHandler,
    ) -> io::Result<Self> {
        Self::with_config(address, handler, Self::default_config())
    }

    /// Binds `address` and listens with `config`.
    pub fn with_config(
        address: impl ToSocketAddrs,
        handler: impl BaseHttpRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::with_handler(address, HttpHandler::new(handler), config)
    }

    /// Binds `address` and listens with `config`, serving HTTPS with `tls` (Python 3.14's `HTTPSServer`;
    /// see [`crate::tls_server_config`] for the settings from PEM files).
    #[cfg(feature = "tls")]
    #[doc(alias = "HTTPSServer")]
    pub fn with_tls(
        address: impl ToSocketAddrs,
        handler: impl BaseHttpRequestHandler,
        tls: Arc<rustls::ServerConfig>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::with_handler(address, HttpHandler::with_tls(handler, tls), config)
    }

    fn with_handler<H: BaseHttpRequestHandler>(
        address: impl ToSocketAddrs,
        handler: HttpHandler<H>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::from_server(TcpServer::with_config(address, handler, config)?)
    }

    fn from_server(server: TcpServer) -> io::Result<Self> {
        let (server_name, server_port) = match server.server_address() {
            Address::Inet(address) => (address.ip().to_string(), address.port()),
            Address::Unix(path) => (path.display().to_string(), 0),
        };
        Ok(HttpServer {
            server,
            server_name,
            server_port,
        })
    }

    /// Python's `HTTPServer` settings: `TcpServer`'s defaults with `allow_reuse_address` on.
    pub fn default_config() -> ServerConfig {
        ServerConfig {
            allow_reuse_address: true,
            ..ServerConfig::default()
        }
    }

    /// The bound host (Python's `server_name`), as an IP address: unlike Python's `getfqdn`, no DNS lookup is made.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The bound port (Python's `server_port`); port 0 was replaced by the real one.
    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    /// The bound address (Python's `server_address`).
    pub fn server_address(&self) -> &Address {
        self.server.server_address()
    }

    /// Serves until shut down (Python's `serve_forever(poll_interval)`).
    pub fn serve_forever(&self, poll_interval: Duration) -> io::Result<()> {
        self.server.serve_forever(poll_interval)
    }

    /// Serves one connection (Python's `handle_request()`).
    pub fn handle_request(&self) -> io::Result<()> {
        self.server.handle_request()
    }

    /// A handle that stops `serve_forever` from another thread (Python's `shutdown()`).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// Replaces the server hooks (Python's overridable `verify_request`, `handle_error`, ...).
    pub fn set_hooks(&mut self, hooks: impl ServerHooks) {
        self.server.set_hooks(hooks);
    }

    /// Closes the listening socket (Python's `server_close()`).
    pub fn server_close(&mut self) {
        self.server.server_close();
    }

    /// The socketserver server underneath.
    pub fn into_inner(self) -> TcpServer {
        self.server
    }

    /// Serves `handler` on a socket that already listens (systemd's socket activation: [`socketserver::listen_fds`]).
    pub fn from_listener<H: BaseHttpRequestHandler>(
        listener: std::net::TcpListener,
        handler: HttpHandler<H>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::from_server(TcpServer::from_listener(listener, handler, config)?)
    }

    /// Binds `address` and listens with `config`, serving with `handler` as it is set up (TLS, trusted proxies).
    pub fn with_http_handler<H: BaseHttpRequestHandler>(
        address: impl ToSocketAddrs,
        handler: HttpHandler<H>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::with_handler(address, handler, config)
    }
}

impl Deref for HttpServer {
    type Target = TcpServer;

    fn deref(&self) -> &TcpServer {
        &self.server
    }
}

impl DerefMut for HttpServer {
    fn deref_mut(&mut self) -> &mut TcpServer {
        &mut self.server
    }
}

/// Python's `ThreadingHTTPServer`: an [`HttpServer`] with a thread per connection and `daemon_threads = True`.
///
/// For other settings with threads, pass [`ThreadingHttpServer::default_config`] with changes to [`HttpServer::with_config`].
#[doc(alias = "ThreadingHTTPServer")]
#[doc(alias = "ThreadingMixIn")]
#[derive(Debug)]
pub struct ThreadingHttpServer {
    server: HttpServer,
}

impl ThreadingHttpServer {
    /// Binds `address` and listens (Python's `ThreadingHTTPServer(server_address, handler_class)`).
    pub fn new(
        address: impl ToSocketAddrs,
        handler: impl BaseHttpRequestHandler,
    ) -> io::Result<Self> {
        let server = HttpServer::with_config(address, handler, Self::default_config())?;
        Ok(ThreadingHttpServer { server })
    }

    /// Python's `ThreadingHTTPServer` settings: threading mode, daemon threads, address reuse.
    pub fn default_config() -> ServerConfig {
        ServerConfig {
            mode: Mode::Threading,
            daemon_threads: true,
            ..HttpServer::default_config()
        }
    }

    /// The [`HttpServer`] underneath.
    pub fn into_inner(self) -> HttpServer {
        self.server
    }
}

impl Deref for ThreadingHttpServer {
    type Target = HttpServer;

    fn deref(&self) -> &HttpServer {
        &self.server
    }
}

impl DerefMut for ThreadingHttpServer {
    fn deref_mut(&mut self) -> &mut HttpServer {
        &mut self.server
    }
}

/// The line Python's `http.server` prints once it listens: `Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ...`.
pub fn serving_message(address: &Address) -> String {
    match address {
        Address::Inet(address) => {
            let host = address.ip().to_string();
            let port = address.port();
            let url_host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            format!("Serving HTTP on {host} port {port} (http://{url_host}:{port}/) ...")
        }
        Address::Unix(path) => format!("Serving HTTP on {} ...", path.display()),
    }
}

/// Serves until SIGINT (Ctrl-C), as Python's `http.server.test()` does around `serve_forever`.
///
/// On SIGINT it stops the loop, prints `Keyboard interrupt received, exiting.` on stdout as Python does, and returns `Ok(true)`;
/// `Ok(false)` means the loop was shut down some other way.
/// The signal is caught with `signal-hook`, which writes a byte into a socket pair that a watcher thread waits on,
/// so no `unsafe` is needed here.
pub fn serve_until_interrupted(server: &HttpServer, poll_interval: Duration) -> io::Result<bool> {
    let (mut receiver, sender) = UnixStream::pair()?;
    let signal = signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, sender)?;
    let waker = receiver.try_clone()?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let shutdown = server.shutdown_handle();
    let watcher = {
        let interrupted = Arc::clone(&interrupted);
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            if matches!(receiver.read(&mut byte), Ok(1)) {
                interrupted.store(true, Ordering::SeqCst);
                shutdown.shutdown();
            }
        })
    };
    let result = server.serve_forever(poll_interval);
    crate::log::flush_access_log();
    signal_hook::low_level::unregister(signal);
    // Wakes the watcher with end of file when the loop stopped for another reason.
    let _ = waker.shutdown(Shutdown::Both);
    let _ = watcher.join();
    result?;
    let interrupted = interrupted.load(Ordering::SeqCst);
    if interrupted {
        // A closed stdout must not turn a clean exit into a panic.
        let _ = writeln!(io::stdout(), "\nKeyboard interrupt received, exiting.");
    }
    Ok(interrupted)
}

/// How [`serve_until_signalled`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// SIGINT (Ctrl-C): the loop stopped at once, as Python's `http.server` does.
    Interrupted,
    /// SIGTERM: the server stopped taking connections and let requests under way finish;
    /// `drained` is false when some were still running at the drain timeout.
    Terminated {
        /// Whether every request finished in time.
        drained: bool,
    },
    /// Shut down some other way ([`HttpServer::shutdown_handle`]).
    Shutdown,
}

/// Serves until a signal says to stop, as a service does (not in Python):
/// SIGINT stops at once and prints `Keyboard interrupt received, exiting.` as [`serve_until_interrupted`] does;
/// SIGTERM (what systemd, Kubernetes and `kill` send) drains: the listening socket closes, idle connections close,
/// and requests under way get up to `drain_timeout` (`None`: as long as they take) to finish ([`socketserver::BaseServer::drain`]);
/// SIGHUP reopens the access log file ([`crate::reopen_access_log`]) for logrotate and goes on serving.
///
/// The signals are caught with `signal-hook`'s iterator, a thread that waits on a pipe the handlers write to.
pub fn serve_until_signalled(
    server: &mut HttpServer,
    poll_interval: Duration,
    drain_timeout: Option<Duration>,
) -> io::Result<Stopped> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let shutdown = server.shutdown_handle();
    let watcher = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        crate::log::reopen_access_log();
                    }
                    SIGINT | SIGTERM => {
                        shutdown.shutdown();
                        return Some(signal);
                    }
                    _ => {}
                }
            }
            None
        })?;
    let result = server.serve_forever(poll_interval);
    handle.close();
    let signal = watcher.join().unwrap_or(None);
    let stopped = match signal {
        Some(SIGTERM) => Stopped::Terminated {
            drained: server.drain(drain_timeout),
        },
        Some(_) => Stopped::Interrupted,
        None => Stopped::Shutdown,
    };
    crate::log::flush_access_log();
    result?;
    if stopped == Stopped::Interrupted {
        // A closed stdout must not turn a clean exit into a panic.
        let _ = writeln!(io::stdout(), "\nKeyboard interrupt received, exiting.");
    }
    Ok(stopped)
}
