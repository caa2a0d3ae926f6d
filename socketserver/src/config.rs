//! Server settings with Python's defaults, and the processing mode (Python's mixins).

use std::time::Duration;

/// How a server processes each request: Python's mixins, plus a bounded pool Python lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// One request at a time on the serving thread (Python's plain `TCPServer`).
    #[default]
    Sync,
    /// A new thread per request (Python's `ThreadingMixIn`); see `daemon_threads` and `block_on_close`.
    #[doc(alias = "ThreadingMixIn")]
    Threading,
    /// A new process per request (Python's `ForkingMixIn`); see `max_children` and `block_on_close`.
    ///
    /// fork(2) copies only the calling thread, so this mode is sound only while the serving loop is the process's only busy thread:
    /// do not fork from a process whose other threads may hold locks (the allocator's, stdout's) at the moment of the fork.
    /// Every child is reaped: as new ones start, each turn of `serve_forever`, after `handle_request`'s timeout, and in `server_close`.
    #[doc(alias = "ForkingMixIn")]
    Forking,
    /// A fixed number of worker threads fed by a bounded queue (not in Python).
    ///
    /// When every worker is busy and the queue is full, the serving loop waits for room, so pending clients stay in the kernel's listen backlog
    /// instead of becoming threads: a flood of clients costs at most `workers` threads and `queue` waiting requests.
    Pool {
        /// Number of worker threads kept (at least one); more start while all are held.
        workers: usize,
        /// Requests that may wait for a worker (zero hands each request straight to an idle worker).
        queue: usize,
    },
    /// Worker threads sharing one epoll set, serving whichever connection is ready (not in Python; Linux's epoll).
    ///
    /// The serving loop accepts each connection and registers it once. A handler that opts in with
    /// [`ready_connection`](crate::StreamRequestHandler::ready_connection) makes each connection a [`ReadyConnection`](crate::ReadyConnection),
    /// a state machine a worker advances whenever its socket is readable or writable, and which waits with no thread
    /// (for the client to send, or to read what was sent) under a deadline of its own; connections past it are closed.
    /// Other handlers get a worker for the whole connection once it is readable.
    /// A worker that waits for something else ([`blocking`](crate::blocking), a handler that is not a state machine, handler code seen asleep)
    /// first gets another worker onto the set, up to `max_workers`, so ready connections never wait behind held ones;
    /// the extra workers leave after 5 s without work, never the last one waiting. `server_close` closes waiting connections
    /// and, with `block_on_close`, joins the workers. Datagram servers have no connections and run as `Pool { workers, queue: workers }`.
    #[doc(alias = "epoll")]
    Readiness {
        /// Number of worker threads kept (at least one); more start while all are held.
        workers: usize,
    },
}

/// Settings of a server, with Python's `TCPServer` defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How requests are processed (Python: the mixin).
    pub mode: Mode,
    /// SO_REUSEADDR before bind (Python's `allow_reuse_address = False`).
    pub allow_reuse_address: bool,
    /// SO_REUSEPORT before bind, Internet sockets only (Python's `allow_reuse_port = False`).
    pub allow_reuse_port: bool,
    /// The listen(2) backlog (Python's `request_queue_size = 5`).
    pub request_queue_size: i32,
    /// How long `handle_request` waits before calling `handle_timeout` (Python's `timeout = None`: forever).
    pub timeout: Option<Duration>,
    /// Threading mode: do not wait for request threads in `server_close` (Python's `daemon_threads = False`).
    pub daemon_threads: bool,
    /// Threading, forking and pool modes: `server_close` waits for requests in flight (Python's `block_on_close = True`).
    pub block_on_close: bool,
    /// Forking mode: at most this many children at once; the serving loop waits for one to end or for `shutdown` (Python's `max_children = 40`).
    pub max_children: usize,
    /// Threading mode: at most this many request threads at once, daemon or not; the serving loop waits for one to end
    /// or for `shutdown`, and clients wait in the listen backlog meanwhile (not in Python; `None`, Python's behaviour, sets no limit).
    /// Readiness mode: at most this many connections registered, waiting or served, at once, with the same waiting;
    /// when it is reached, connections idle between requests are closed first to make room (as nginx does).
    pub max_threads: Option<usize>,
    /// Readiness mode: at most this many worker threads, however many are held by handlers that wait (not in Python).
    /// At the limit, ready connections wait until a worker comes back.
    pub max_workers: usize,
    /// Datagram servers: the largest packet read; longer ones are cut (Python's `max_packet_size = 8192`).
    pub max_packet_size: usize,
    /// IPv6 sockets: `Some(false)` accepts IPv4 too (dual stack, IPV6_V6ONLY off), `Some(true)` refuses it, `None` keeps the system default.
    pub ipv6_only: Option<bool>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            mode: Mode::Sync,
            allow_reuse_address: false,
            allow_reuse_port: false,
            request_queue_size: 5,
            timeout: None,
            daemon_threads: false,
            block_on_close: true,
            max_children: 40,
            max_threads: None,
            max_workers: 256,
            max_packet_size: 8192,
            ipv6_only: None,
        }
    }
}

impl ServerConfig {
    /// The defaults with another processing mode.
    pub fn with_mode(mode: Mode) -> Self {
        ServerConfig {
            mode,
            ..ServerConfig::default()
        }
    }
}

/// A setter for each field, named as it is, so that Python's class attributes set before the server is made
/// (`ForkingTCPServer.allow_reuse_address = True`) are one expression:
/// `ServerConfig::with_mode(Mode::Forking).allow_reuse_address(true)`.
macro_rules! setters {
    ($($field:ident: $type:ty,)*) => {
        impl ServerConfig {
            $(
                #[doc = concat!("This configuration with [`", stringify!($field), "`](ServerConfig::", stringify!($field), ") set.")]
                #[must_use]
                pub fn $field(mut self, $field: $type) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

setters! {
    mode: Mode,
    allow_reuse_address: bool,
    allow_reuse_port: bool,
    request_queue_size: i32,
    timeout: Option<Duration>,
    daemon_threads: bool,
    block_on_close: bool,
    max_children: usize,
    max_threads: Option<usize>,
    max_workers: usize,
    max_packet_size: usize,
    ipv6_only: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setter_sets_its_own_field() {
        let config = ServerConfig::default()
            .mode(Mode::Forking)
            .allow_reuse_address(true)
            .allow_reuse_port(true)
            .request_queue_size(64)
            .timeout(Some(Duration::from_secs(3)))
            .daemon_threads(true)
            .block_on_close(false)
            .max_children(7)
            .max_threads(Some(9))
            .max_workers(11)
            .max_packet_size(1500)
            .ipv6_only(Some(true));
        assert_eq!(
            config,
            ServerConfig {
                mode: Mode::Forking,
                allow_reuse_address: true,
                allow_reuse_port: true,
                request_queue_size: 64,
                timeout: Some(Duration::from_secs(3)),
                daemon_threads: true,
                block_on_close: false,
                max_children: 7,
                max_threads: Some(9),
                max_workers: 11,
                max_packet_size: 1500,
                ipv6_only: Some(true),
            }
        );
    }
}
