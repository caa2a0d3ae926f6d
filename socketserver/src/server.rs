//! `BaseServer`: Python's server life cycle, generic over the socket kind, with the four processing modes.

use std::io::{self, Write};
use std::net::ToSocketAddrs;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream as WakePipe;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use socket2::SockRef;

use crate::address::Address;
use crate::config::{Mode, ServerConfig};
use crate::handler::{DatagramRequestHandler, HandlerError, StreamRequestHandler};
use crate::hooks::{DefaultHooks, ServerHooks};
use crate::kind::{self, bind_address, sealed::Sealed, ServerKind};
use crate::readiness::Readiness;
use crate::sys;

/// Python's default `poll_interval` of `serve_forever` (0.5 s): how often the loop runs `service_actions` when idle.
/// A shutdown does not wait for it: it wakes the loop at once.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// At most this many requests are taken per wake-up of the serving loop in the concurrent modes, so shutdown and service actions stay prompt.
const ACCEPT_BATCH: usize = 64;

/// A TCP server (Python's `TCPServer`; with `Mode::Threading`, `ThreadingTCPServer`; with `Mode::Forking`, `ForkingTCPServer`).
#[doc(alias = "TCPServer")]
#[doc(alias = "ThreadingTCPServer")]
#[doc(alias = "ForkingTCPServer")]
pub type TcpServer = BaseServer<kind::Tcp>;

/// A UDP server (Python's `UDPServer`, `ThreadingUDPServer`, `ForkingUDPServer`).
#[doc(alias = "UDPServer")]
#[doc(alias = "ThreadingUDPServer")]
#[doc(alias = "ForkingUDPServer")]
pub type UdpServer = BaseServer<kind::Udp>;

/// A Unix-domain stream server (Python's `UnixStreamServer`, `ThreadingUnixStreamServer`, `ForkingUnixStreamServer`).
#[doc(alias = "ThreadingUnixStreamServer")]
#[doc(alias = "ForkingUnixStreamServer")]
pub type UnixStreamServer = BaseServer<kind::UnixStream>;

/// A Unix-domain datagram server (Python's `UnixDatagramServer`, `ThreadingUnixDatagramServer`, `ForkingUnixDatagramServer`).
#[doc(alias = "ThreadingUnixDatagramServer")]
#[doc(alias = "ForkingUnixDatagramServer")]
pub type UnixDatagramServer = BaseServer<kind::UnixDatagram>;

/// What every request needs, shared with worker threads and forked children.
struct Shared<K: ServerKind> {
    handler: Arc<K::Handler>,
    hooks: Arc<dyn ServerHooks>,
    server_address: Address,
}

/// Requests in flight, by mode.
struct Workers<K: ServerKind> {
    threads: Vec<JoinHandle<()>>,
    pool: Option<Pool<K>>,
    children: Vec<libc::pid_t>,
    readiness: Option<Arc<Readiness>>,
}

type Job<K> = (<K as Sealed>::Request, Address, Arc<Shared<K>>);

struct Pool<K: ServerKind> {
    sender: SyncSender<Job<K>>,
    threads: Vec<JoinHandle<()>>,
}

/// The shutdown handshake between `serve_forever` and `shutdown`.
#[derive(Debug)]
struct Control {
    requested: AtomicBool,
    serving: Mutex<Option<ThreadId>>,
    /// The running `serve_forever`'s poll interval.
    poll_interval: Mutex<Duration>,
    stopped: Condvar,
    wake_reader: WakePipe,
    wake_writer: WakePipe,
}

impl Control {
    fn new() -> io::Result<Control> {
        let (wake_reader, wake_writer) = WakePipe::pair()?;
        wake_reader.set_nonblocking(true)?;
        wake_writer.set_nonblocking(true)?;
        Ok(Control {
            requested: AtomicBool::new(false),
            serving: Mutex::new(None),
            poll_interval: Mutex::new(Duration::ZERO),
            stopped: Condvar::new(),
            wake_reader,
            wake_writer,
        })
    }

    fn serving(&self) -> MutexGuard<'_, Option<ThreadId>> {
        self.serving.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn drain_wakes(&self) {
        let mut buffer = [0u8; 64];
        while matches!(io::Read::read(&mut &self.wake_reader, &mut buffer), Ok(n) if n > 0) {}
    }
}

/// Counts request threads in flight, daemon or not, so threading mode can bound them (`ServerConfig::max_threads`).
#[derive(Debug, Default)]
struct InFlight {
    count: Mutex<usize>,
    changed: Condvar,
}

/// One request thread's place in `InFlight`; given back when the thread ends, even by a panic.
struct Slot(Arc<InFlight>);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.count.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        self.0.changed.notify_all();
    }
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> Slot {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Slot(self.clone())
    }

    /// Waits until fewer than `limit` threads run; false when shutdown was asked for first.
    fn wait_below(self: &Arc<Self>, limit: usize, shutdown: &AtomicBool) -> bool {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count >= limit {
            if shutdown.load(Ordering::SeqCst) {
                return false;
            }
            // A shutdown does not signal this condition variable, so look again every few milliseconds.
            count = self
                .changed
                .wait_timeout(count, Duration::from_millis(5))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// A cloneable, thread-safe handle that stops `serve_forever` (Python's `shutdown()`).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    control: Arc<Control>,
}

impl ShutdownHandle {
    /// Stops `serve_forever` and waits until it has returned (Python's `shutdown()`).
    ///
    /// The serving loop is woken at once instead of at its next poll interval, so this returns within milliseconds.
    /// Called from the serving thread itself (a handler in sync mode), it only asks and returns, where Python would deadlock.
    /// Called while nothing serves, it returns at once and the next `serve_forever` returns immediately.
    pub fn shutdown(&self) {
        self.control.requested.store(true, Ordering::SeqCst);
        // A full pipe already holds a wake-up, so a failed write loses nothing.
        let _ = (&self.control.wake_writer).write(&[1]);
        let mut serving = self.control.serving();
        if *serving == Some(thread::current().id()) {
            return;
        }
        while serving.is_some() {
            serving = self
                .control
                .stopped
                .wait(serving)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Python's `BaseServer`: the life cycle every server kind shares.
///
/// Use it through [`TcpServer`], [`UdpServer`], [`UnixStreamServer`] and [`UnixDatagramServer`].
/// The processing mode (`ServerConfig::mode`) plays the part of Python's mixins.
/// Dropping the server calls [`server_close`](Self::server_close), as leaving Python's `with` block does.
pub struct BaseServer<K: ServerKind> {
    socket: Option<K::Socket>,
    requested_address: Address,
    shared: Arc<Shared<K>>,
    config: ServerConfig,
    control: Arc<Control>,
    workers: Mutex<Workers<K>>,
    threads_in_flight: Arc<InFlight>,
}

impl<K: ServerKind> std::fmt::Debug for BaseServer<K> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct(K::NAME)
            .field("server_address", &self.shared.server_address)
            .field("config", &self.config)
            .field("open", &self.socket.is_some())
            .finish_non_exhaustive()
    }
}

impl BaseServer<kind::Tcp> {
    /// Binds `address` and listens, with Python's defaults (`TCPServer(server_address, handler)`).
    ///
    /// The first address `address` resolves to is used; port 0 picks a free port, which `server_address` then reports.
    pub fn new(
        address: impl ToSocketAddrs,
        handler: impl StreamRequestHandler,
    ) -> io::Result<Self> {
        Self::with_config(address, handler, ServerConfig::default())
    }

    /// Binds `address` and listens, with `config`.
    pub fn with_config(
        address: impl ToSocketAddrs,
        handler: impl StreamRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::bound(resolve(address)?, Arc::new(handler), config)
    }

    /// Creates the socket without binding it (Python's `bind_and_activate=False`); call `server_bind` and `server_activate` next.
    pub fn unbound(
        address: impl ToSocketAddrs,
        handler: impl StreamRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::create(resolve(address)?, Arc::new(handler), config)
    }

    /// Serves on a socket that already listens: one systemd passed ([`crate::listen_fds`]) or a parent process made (not in Python).
    ///
    /// The socket options of `config` that apply before bind (`allow_reuse_address`, `allow_reuse_port`, `ipv6_only`,
    /// `request_queue_size`) are the socket's maker's business and are not applied.
    pub fn from_listener(
        listener: std::net::TcpListener,
        handler: impl StreamRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let address = Address::Inet(listener.local_addr()?);
        Self::with_socket(listener, address, Arc::new(handler), config)
    }
}

impl BaseServer<kind::Udp> {
    /// Binds `address` (Python's `UDPServer(server_address, handler)`).
    pub fn new(
        address: impl ToSocketAddrs,
        handler: impl DatagramRequestHandler,
    ) -> io::Result<Self> {
        Self::with_config(address, handler, ServerConfig::default())
    }

    /// Binds `address`, with `config`.
    pub fn with_config(
        address: impl ToSocketAddrs,
        handler: impl DatagramRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::bound(resolve(address)?, Arc::new(handler), config)
    }

    /// Creates the socket without binding it (Python's `bind_and_activate=False`).
    pub fn unbound(
        address: impl ToSocketAddrs,
        handler: impl DatagramRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::create(resolve(address)?, Arc::new(handler), config)
    }
}

impl BaseServer<kind::UnixStream> {
    /// Binds the socket path `path` and listens (Python's `UnixStreamServer(path, handler)`); the path must not exist yet.
    pub fn new(path: impl AsRef<Path>, handler: impl StreamRequestHandler) -> io::Result<Self> {
        Self::with_config(path, handler, ServerConfig::default())
    }

    /// Binds `path` and listens, with `config`.
    pub fn with_config(
        path: impl AsRef<Path>,
        handler: impl StreamRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::bound(
            Address::Unix(path.as_ref().to_path_buf()),
            Arc::new(handler),
            config,
        )
    }

    /// Creates the socket without binding it (Python's `bind_and_activate=False`).
    pub fn unbound(
        path: impl AsRef<Path>,
        handler: impl StreamRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::create(
            Address::Unix(path.as_ref().to_path_buf()),
            Arc::new(handler),
            config,
        )
    }
}

impl BaseServer<kind::UnixDatagram> {
    /// Binds the socket path `path` (Python's `UnixDatagramServer(path, handler)`); the path must not exist yet.
    pub fn new(path: impl AsRef<Path>, handler: impl DatagramRequestHandler) -> io::Result<Self> {
        Self::with_config(path, handler, ServerConfig::default())
    }

    /// Binds `path`, with `config`.
    pub fn with_config(
        path: impl AsRef<Path>,
        handler: impl DatagramRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::bound(
            Address::Unix(path.as_ref().to_path_buf()),
            Arc::new(handler),
            config,
        )
    }

    /// Creates the socket without binding it (Python's `bind_and_activate=False`).
    pub fn unbound(
        path: impl AsRef<Path>,
        handler: impl DatagramRequestHandler,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Self::create(
            Address::Unix(path.as_ref().to_path_buf()),
            Arc::new(handler),
            config,
        )
    }
}

fn resolve(address: impl ToSocketAddrs) -> io::Result<Address> {
    address
        .to_socket_addrs()?
        .next()
        .map(Address::Inet)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )
        })
}

fn not_open() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the server socket is closed")
}

impl<K: ServerKind> BaseServer<K> {
    fn create(
        address: Address,
        handler: Arc<K::Handler>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        let socket = K::open(&address)?;
        Self::with_socket(socket, address, handler, config)
    }

    fn with_socket(
        socket: K::Socket,
        address: Address,
        handler: Arc<K::Handler>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Ok(BaseServer {
            socket: Some(socket),
            requested_address: address.clone(),
            shared: Arc::new(Shared {
                handler,
                hooks: Arc::new(DefaultHooks),
                server_address: address,
            }),
            config,
            control: Arc::new(Control::new()?),
            workers: Mutex::new(Workers {
                threads: Vec::new(),
                pool: None,
                children: Vec::new(),
                readiness: None,
            }),
            threads_in_flight: Arc::default(),
        })
    }

    fn bound(address: Address, handler: Arc<K::Handler>, config: ServerConfig) -> io::Result<Self> {
        // On failure the half-made server drops here, closing its socket: a failed bind leaks no descriptor.
        let mut server = Self::create(address, handler, config)?;
        server.server_bind()?;
        server.server_activate()?;
        Ok(server)
    }

    fn socket(&self) -> io::Result<&K::Socket> {
        self.socket.as_ref().ok_or_else(not_open)
    }

    /// Sets the socket options the configuration asks for and binds (Python's `server_bind`); then `server_address` is the real address.
    pub fn server_bind(&mut self) -> io::Result<()> {
        let socket = self.socket()?;
        let socket_ref = K::sock_ref(socket);
        let inet = matches!(self.requested_address, Address::Inet(_));
        if self.config.allow_reuse_address && inet {
            socket_ref.set_reuse_address(true)?;
        }
        if self.config.allow_reuse_port && inet {
            socket_ref.set_reuse_port(true)?;
        }
        if let (Some(only_v6), Address::Inet(std::net::SocketAddr::V6(_))) =
            (self.config.ipv6_only, &self.requested_address)
        {
            socket_ref.set_only_v6(only_v6)?;
        }
        socket_ref.bind(&bind_address(&self.requested_address)?)?;
        let server_address = K::local_address(socket)?;
        self.set_server_address(server_address);
        Ok(())
    }

    /// Starts listening with the configured backlog (Python's `server_activate`); datagram servers have nothing to do.
    pub fn server_activate(&mut self) -> io::Result<()> {
        if K::LISTENS {
            K::sock_ref(self.socket()?).listen(self.config.request_queue_size)?;
        }
        Ok(())
    }

    fn set_server_address(&mut self, server_address: Address) {
        let shared = &self.shared;
        self.shared = Arc::new(Shared {
            handler: shared.handler.clone(),
            hooks: shared.hooks.clone(),
            server_address,
        });
    }

    /// Installs Python's overridable server methods (`verify_request`, `handle_error`, ...); see [`ServerHooks`].
    pub fn set_hooks(&mut self, hooks: impl ServerHooks) {
        let shared = &self.shared;
        self.shared = Arc::new(Shared {
            handler: shared.handler.clone(),
            hooks: Arc::new(hooks),
            server_address: shared.server_address.clone(),
        });
    }

    /// The bound address (Python's `server_address`); port 0 has become the real port.
    pub fn server_address(&self) -> &Address {
        &self.shared.server_address
    }

    /// The settings the server was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The server socket's descriptor, or -1 once closed (Python's `fileno()`).
    pub fn fileno(&self) -> RawFd {
        self.socket.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// The server socket, for options this crate does not set (Python's `self.socket`); `None` once closed.
    pub fn socket_ref(&self) -> Option<SockRef<'_>> {
        self.socket.as_ref().map(K::sock_ref)
    }

    /// A handle that stops `serve_forever` from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            control: self.control.clone(),
        }
    }

    /// Stops `serve_forever` and waits for it to return (Python's `shutdown()`); see [`ShutdownHandle::shutdown`].
    pub fn shutdown(&self) {
        self.shutdown_handle().shutdown();
    }

    /// Serves requests until `shutdown` is called (Python's `serve_forever(poll_interval)`).
    ///
    /// `poll_interval` only sets how often `service_actions` runs while idle: `shutdown` wakes the loop at once.
    /// An error is returned only when waiting on the socket itself fails or another thread is already serving.
    pub fn serve_forever(&self, poll_interval: Duration) -> io::Result<()> {
        let socket = self.socket()?;
        {
            let mut serving = self.control.serving();
            if serving.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    "serve_forever is already running",
                ));
            }
            *serving = Some(thread::current().id());
            *self
                .control
                .poll_interval
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = poll_interval;
        }
        let result = self.serve_loop(socket, poll_interval);
        self.control.requested.store(false, Ordering::SeqCst);
        *self.control.serving() = None;
        self.control.stopped.notify_all();
        result
    }

    fn serve_loop(&self, socket: &K::Socket, poll_interval: Duration) -> io::Result<()> {
        let fds = [socket.as_raw_fd(), self.control.wake_reader.as_raw_fd()];
        while !self.control.requested.load(Ordering::SeqCst) {
            let [ready, woken] = sys::poll_readable(fds, Some(poll_interval))?;
            if woken {
                self.control.drain_wakes();
            }
            if self.control.requested.load(Ordering::SeqCst) {
                break;
            }
            if ready {
                let batch = if self.config.mode == Mode::Sync {
                    1
                } else {
                    ACCEPT_BATCH
                };
                for _ in 0..batch {
                    if !self.handle_request_noblock(socket)
                        || self.control.requested.load(Ordering::SeqCst)
                    {
                        break;
                    }
                }
            }
            self.service_actions();
        }
        Ok(())
    }

    /// Waits for one request and serves it (Python's `handle_request()`).
    ///
    /// Waits at most `config.timeout`; when it passes with no request, `handle_timeout` runs instead.
    pub fn handle_request(&self) -> io::Result<()> {
        let socket = self.socket()?;
        let [ready] = sys::poll_readable([socket.as_raw_fd()], self.config.timeout)?;
        if ready {
            self.handle_request_noblock(socket);
        } else {
            self.handle_timeout();
        }
        Ok(())
    }

    /// Python's `_handle_request_noblock`; false when no request was waiting.
    fn handle_request_noblock(&self, socket: &K::Socket) -> bool {
        let (request, client_address) = match K::get_request(socket, &self.config) {
            Ok(pair) => pair,
            Err(error) => {
                // Python ignores get_request's OSError. Out of descriptors, the socket stays readable: pause instead of spinning.
                if matches!(
                    error.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    thread::sleep(Duration::from_millis(10));
                }
                return false;
            }
        };
        crate::stats::count_accepted();
        let hooks = &self.shared.hooks;
        let verified =
            panic::catch_unwind(AssertUnwindSafe(|| hooks.verify_request(&client_address)))
                .unwrap_or(false);
        if verified {
            self.process_request(request, client_address);
        } else {
            crate::stats::count_refused();
            shutdown_request::<K>(&self.shared, request, &client_address);
        }
        true
    }

    /// Hands one request to the processing mode (Python's `process_request`).
    fn process_request(&self, request: K::Request, client_address: Address) {
        match self.config.mode {
            Mode::Sync => {
                run_request(&self.shared, request, &client_address);
            }
            Mode::Threading => self.process_in_thread(request, client_address),
            Mode::Pool { workers, queue } => {
                self.process_in_pool(request, client_address, workers, queue)
            }
            Mode::Forking => self.process_in_child(request, client_address),
            Mode::Readiness { workers } => self.process_ready(request, client_address, workers),
        }
    }

    /// Registers a connection with the readiness mode's epoll set, starting the workers on first use.
    fn process_ready(&self, request: K::Request, client_address: Address, workers: usize) {
        let Some(handler) = K::stream_handler(&self.shared.handler) else {
            // Datagram servers have no connection to park: each packet goes to a pool of the same size.
            return self.process_in_pool(request, client_address, workers, workers);
        };
        if let Some(limit) = self.config.max_threads {
            if !self.wait_for_fewer_connections(limit.max(1)) {
                // Shutdown was asked for while the set was full: close this connection instead of waiting on.
                crate::stats::count_refused();
                shutdown_request::<K>(&self.shared, request, &client_address);
                return;
            }
        }
        let started = {
            let mut state = self.workers();
            match &state.readiness {
                Some(readiness) => Ok(readiness.clone()),
                None => Readiness::start(
                    handler,
                    self.shared.hooks.clone(),
                    workers,
                    self.config.max_workers,
                )
                .inspect(|readiness| state.readiness = Some(readiness.clone())),
            }
        };
        match (started, K::into_stream(request)) {
            (Ok(readiness), Ok(stream)) => {
                readiness.register(stream, client_address, &self.shared.server_address)
            }
            (Err(error), Ok(stream)) => {
                report_error(&self.shared, &client_address, &HandlerError::Io(error));
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            (_, Err(request)) => shutdown_request::<K>(&self.shared, request, &client_address),
        }
    }

    fn workers(&self) -> MutexGuard<'_, Workers<K>> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn process_in_thread(&self, request: K::Request, client_address: Address) {
        if let Some(limit) = self.config.max_threads {
            if !self
                .threads_in_flight
                .wait_below(limit.max(1), &self.control.requested)
            {
                // Shutdown was asked for while every thread slot was taken: close this request instead of waiting on.
                crate::stats::count_refused();
                shutdown_request::<K>(&self.shared, request, &client_address);
                return;
            }
        }
        let shared = self.shared.clone();
        let address = client_address.clone();
        let slot = self.threads_in_flight.enter();
        let spawned = thread::Builder::new()
            .name("socketserver-request".into())
            .spawn(move || {
                let _slot = slot;
                run_request(&shared, request, &address);
            });
        match spawned {
            Ok(handle) if !self.config.daemon_threads => {
                let mut workers = self.workers();
                // Python reaps finished threads as new ones start, so the list stays as long as the requests in flight.
                reap_finished_threads(&mut workers.threads);
                workers.threads.push(handle);
            }
            Ok(_daemon) => {}
            // The request moved into the closure, which the failed spawn dropped: its connection is closed.
            Err(error) => report_error(&self.shared, &client_address, &HandlerError::Io(error)),
        }
    }

    /// Waits until fewer than `limit` connections are registered in readiness mode; false when shutdown was asked for first.
    ///
    /// Connections end on the workers, which do not signal the serving loop, so it looks again every millisecond or so.
    fn wait_for_fewer_connections(&self, limit: usize) -> bool {
        let readiness = self.workers().readiness.as_ref().cloned();
        let Some(readiness) = readiness else {
            return true;
        };
        let mut pause = Duration::from_micros(50);
        while readiness.connections() >= limit {
            if self.control.requested.load(Ordering::SeqCst) {
                return false;
            }
            readiness.close_expired();
            if readiness.connections() >= limit && readiness.evict_idle(1) > 0 {
                // An idle keep-alive connection made room, as nginx reuses them when out of connections.
                continue;
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        true
    }

    fn process_in_pool(
        &self,
        request: K::Request,
        client_address: Address,
        workers: usize,
        queue: usize,
    ) {
        let sender = {
            let mut state = self.workers();
            let pool = state
                .pool
                .get_or_insert_with(|| start_pool::<K>(workers.max(1), queue));
            pool.sender.clone()
        };
        let mut job = (request, client_address, self.shared.clone());
        let mut pause = Duration::from_micros(50);
        loop {
            match sender.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Full(returned)) => {
                    // Every worker is busy and the queue is full: wait for room, but give way to a shutdown.
                    if self.control.requested.load(Ordering::SeqCst) {
                        let (request, address, shared) = returned;
                        shutdown_request::<K>(&shared, request, &address);
                        return;
                    }
                    job = returned;
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(TrySendError::Disconnected((request, address, shared))) => {
                    shutdown_request::<K>(&shared, request, &address);
                    return;
                }
            }
        }
    }

    fn process_in_child(&self, request: K::Request, client_address: Address) {
        if !self.wait_for_room(true) {
            // Shutdown was asked for while every child slot was taken: close this request instead of waiting on.
            shutdown_request::<K>(&self.shared, request, &client_address);
            return;
        }
        match sys::fork() {
            Ok(sys::Forked::Child) => {
                let status = if run_request(&self.shared, request, &client_address) {
                    0
                } else {
                    1
                };
                let _ = io::stdout().flush();
                let _ = io::stderr().flush();
                sys::exit_immediately(status);
            }
            Ok(sys::Forked::Parent(pid)) => {
                // The child has its own copy of the connection; closing ours does not end the child's.
                drop(request);
                self.workers().children.push(pid);
            }
            Err(error) => {
                report_error(&self.shared, &client_address, &HandlerError::Io(error));
                shutdown_request::<K>(&self.shared, request, &client_address);
            }
        }
    }

    /// Reaps ended children (Python's `ForkingMixIn.collect_children`).
    ///
    /// While `max_children` are running it waits for one to end, unless `shutdown` is asked for meanwhile; with `block` it then waits for all.
    /// Only our own children are waited for, so children other code started (and waits for) are left alone.
    pub fn collect_children(&self, block: bool) {
        self.wait_for_room(false);
        self.reap_children(block);
    }

    /// Reaps the children that have ended (all of them, waiting, with `block`).
    fn reap_children(&self, block: bool) {
        self.workers()
            .children
            .retain(|&pid| !sys::wait_child(pid, block).unwrap_or(true));
    }

    /// Waits until fewer than `max_children` children run; false when `shutdown` was asked for first.
    ///
    /// Python blocks in waitpid here, so a shutdown waits for a child to end, which a client can put off forever.
    /// Polling instead keeps `shutdown` prompt (as the pool mode does while its queue is full) and leaves the lock free for `active_requests`.
    /// With `keep_turning`, on the serving thread, the `service_actions` hook still runs every poll interval,
    /// so a hook that asks for shutdown (on a signal, say) is heard while the loop waits here.
    fn wait_for_room(&self, keep_turning: bool) -> bool {
        let limit = self.config.max_children.max(1);
        let interval = (keep_turning && *self.control.serving() == Some(thread::current().id()))
            .then(|| {
                *self
                    .control
                    .poll_interval
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            });
        let mut last_turn = std::time::Instant::now();
        let mut pause = Duration::from_micros(100);
        loop {
            self.reap_children(false);
            if self.workers().children.len() < limit {
                return true;
            }
            if self.control.requested.load(Ordering::SeqCst) {
                return false;
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
            if interval.is_some_and(|interval| last_turn.elapsed() >= interval) {
                self.service_actions_hook();
                last_turn = std::time::Instant::now();
            }
        }
    }

    /// Stops every child still serving a request (forking mode; not in Python): SIGTERM, then SIGKILL for any still running after `grace`.
    ///
    /// Children inherit the parent's signal handlers, so a SIGTERM the program catches may not end them; the SIGKILL does.
    /// For a prompt exit when clients may hold children forever, call it before `server_close`.
    pub fn terminate_children(&self, grace: Duration) {
        let signal_all = |signal| {
            for pid in self.workers().children.clone() {
                let _ = sys::kill(pid, signal);
            }
        };
        signal_all(libc::SIGTERM);
        // A grace too long to add to the clock waits for the children without limit.
        let deadline = std::time::Instant::now().checked_add(grace);
        loop {
            // Reap without waiting at max_children: a child that ignores SIGTERM must not hold up the SIGKILL.
            self.reap_children(false);
            if self.workers().children.is_empty()
                || deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline)
            {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        signal_all(libc::SIGKILL);
        self.reap_children(true);
    }

    /// The housekeeping run once per turn of `serve_forever` (Python's `service_actions`), then the hook's.
    ///
    /// Forking mode reaps ended children here without waiting for a free slot (Python's `collect_children` would):
    /// only a request that needs a child waits for one, so an idle loop at `max_children` keeps turning.
    fn service_actions(&self) {
        match self.config.mode {
            Mode::Forking => self.reap_children(false),
            Mode::Threading => reap_finished_threads(&mut self.workers().threads),
            Mode::Readiness { .. } => {
                let readiness = self.workers().readiness.as_ref().cloned();
                if let Some(readiness) = readiness {
                    readiness.close_expired();
                }
            }
            Mode::Sync | Mode::Pool { .. } => {}
        }
        self.service_actions_hook();
    }

    fn service_actions_hook(&self) {
        let hooks = &self.shared.hooks;
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hooks.service_actions()));
    }

    fn handle_timeout(&self) {
        if self.config.mode == Mode::Forking {
            self.reap_children(false);
        }
        let hooks = &self.shared.hooks;
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hooks.handle_timeout()));
    }

    /// How many requests are in flight in their own thread or child process (threading and forking modes), daemon threads included,
    /// or how many connections are registered, parked or served (readiness mode).
    pub fn active_requests(&self) -> usize {
        let threads = *self
            .threads_in_flight
            .count
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut workers = self.workers();
        reap_finished_threads(&mut workers.threads);
        let connections = workers
            .readiness
            .as_ref()
            .map_or(0, |readiness| readiness.connections());
        threads + workers.children.len() + connections
    }

    /// Closes the server socket and, with `block_on_close`, waits for requests in flight (Python's `server_close()`).
    ///
    /// Threading mode joins its non-daemon threads, pool mode lets the workers finish the queue, forking mode reaps every child,
    /// readiness mode closes its parked connections and joins its workers once they finish the connection they hold.
    /// Calling it twice is harmless.
    pub fn server_close(&mut self) {
        self.socket = None;
        let block = self.config.block_on_close;
        let mut workers = self.workers();
        let threads = std::mem::take(&mut workers.threads);
        let pool = workers.pool.take();
        let readiness = workers.readiness.take();
        drop(workers);
        if let Some(readiness) = readiness {
            readiness.stop();
            if block {
                readiness.join();
            }
        }
        if block {
            for thread in threads {
                let _ = thread.join();
            }
        }
        if let Some(Pool { sender, threads }) = pool {
            drop(sender);
            if block {
                for thread in threads {
                    let _ = thread.join();
                }
            }
        }
        self.reap_children(block);
    }
}

impl<K: ServerKind> BaseServer<K> {
    /// Stops taking requests and lets those under way finish, for at most `timeout` (`None`: as long as they take), then closes
    /// the server as [`server_close`](Self::server_close) does; true when every request finished in time (not in Python; a graceful stop).
    ///
    /// Call it once `serve_forever` has returned. The listening socket closes first, so new clients are refused rather than left
    /// waiting in its backlog. Readiness mode closes idle connections at once and every other one as soon as its request is answered;
    /// threading mode waits for its request threads, forking mode for its children. A request still running at the deadline
    /// is left to end with the process: its worker is not waited for.
    pub fn drain(&mut self, timeout: Option<Duration>) -> bool {
        self.socket = None;
        let deadline = timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout));
        let past = || deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline);
        let readiness = self.workers().readiness.clone();
        let drained = match (self.config.mode, readiness) {
            (Mode::Readiness { .. }, Some(readiness)) => readiness.drain(deadline),
            (Mode::Threading, _) => loop {
                let running = *self
                    .threads_in_flight
                    .count
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if running == 0 {
                    break true;
                }
                if past() {
                    break false;
                }
                thread::sleep(Duration::from_millis(10));
            },
            (Mode::Forking, _) => loop {
                self.reap_children(false);
                if self.workers().children.is_empty() {
                    break true;
                }
                if past() {
                    break false;
                }
                thread::sleep(Duration::from_millis(10));
            },
            _ => true,
        };
        if !drained {
            // What still runs must not hold up the stop: its thread or worker is left to the process's end.
            self.config.block_on_close = false;
        }
        self.server_close();
        drained
    }
}

impl<K: ServerKind> Drop for BaseServer<K> {
    fn drop(&mut self) {
        self.server_close();
    }
}

fn reap_finished_threads(threads: &mut Vec<JoinHandle<()>>) {
    let mut index = 0;
    while index < threads.len() {
        if threads[index].is_finished() {
            let _ = threads.swap_remove(index).join();
        } else {
            index += 1;
        }
    }
}

fn start_pool<K: ServerKind>(workers: usize, queue: usize) -> Pool<K> {
    let (sender, receiver) = mpsc::sync_channel::<Job<K>>(queue);
    let receiver = Arc::new(Mutex::new(receiver));
    let threads = (0..workers)
        .filter_map(|index| {
            let receiver = receiver.clone();
            thread::Builder::new()
                .name(format!("socketserver-worker-{index}"))
                .spawn(move || pool_worker::<K>(&receiver))
                .ok()
        })
        .collect();
    Pool { sender, threads }
}

fn pool_worker<K: ServerKind>(receiver: &Mutex<Receiver<Job<K>>>) {
    loop {
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match job {
            Ok((request, client_address, shared)) => {
                run_request(&shared, request, &client_address);
            }
            Err(_) => return,
        }
    }
}

/// Python's `process_request_thread` and the forked child's body: finish, report an error, always shut down. True when the handler succeeded.
fn run_request<K: ServerKind>(
    shared: &Shared<K>,
    mut request: K::Request,
    client_address: &Address,
) -> bool {
    let result = K::finish_request(
        &shared.handler,
        &mut request,
        client_address,
        &shared.server_address,
    );
    if let Err(error) = &result {
        report_error(shared, client_address, error);
    }
    shutdown_request::<K>(shared, request, client_address);
    result.is_ok()
}

fn report_error<K: ServerKind>(shared: &Shared<K>, client_address: &Address, error: &HandlerError) {
    let hooks = &shared.hooks;
    // A panicking error hook must not take the serving loop down with it.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        hooks.handle_error(client_address, error)
    }));
}

fn shutdown_request<K: ServerKind>(
    shared: &Shared<K>,
    request: K::Request,
    client_address: &Address,
) {
    let hooks = &shared.hooks;
    let _ = panic::catch_unwind(AssertUnwindSafe(|| hooks.shutdown_request(client_address)));
    K::shutdown_request(request);
}
