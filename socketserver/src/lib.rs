//! Python's `socketserver` (`SocketServer` in Python 2): TCP, UDP and Unix-domain servers with sequential, threading, forking and pooled request processing.
//!
//! A server owns a socket and a handler; each request (a connection or a packet) goes to the handler through the processing [`Mode`].
//! Python's mixins become a mode chosen in [`ServerConfig`]; its "subclass and override" becomes a handler trait
//! ([`StreamRequestHandler`], [`DatagramRequestHandler`]) and, for the server's own methods, [`ServerHooks`].
//!
//! ```
//! use std::io::{BufRead, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use socketserver::{Mode, ServerConfig, StreamRequest, StreamRequestHandler, TcpServer};
//!
//! struct Echo;
//!
//! impl StreamRequestHandler for Echo {
//!     fn handle(&self, request: &mut StreamRequest) -> std::io::Result<()> {
//!         let mut line = Vec::new();
//!         request.rfile.read_until(b'\n', &mut line)?;
//!         request.wfile.write_all(&line)
//!     }
//! }
//!
//! let server = TcpServer::with_config("127.0.0.1:0", Echo, ServerConfig::with_mode(Mode::Threading))?;
//! let address = server.server_address().inet().unwrap();
//! let stop = server.shutdown_handle();
//! std::thread::scope(|scope| -> std::io::Result<()> {
//!     scope.spawn(|| server.serve_forever(Duration::from_millis(500)));
//!     let mut client = TcpStream::connect(address)?;
//!     client.write_all(b"hello\n")?;
//!     let mut reply = String::new();
//!     client.read_to_string(&mut reply)?;
//!     assert_eq!(reply, "hello\n");
//!     stop.shutdown();
//!     Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Python name → Rust item
//!
//! | Python | Rust |
//! | --- | --- |
//! | `import socketserver` | `use socketserver::prelude::*;` ([`prelude`]) |
//! | `BaseServer` | [`BaseServer`] |
//! | `TCPServer`, `UDPServer` | [`TcpServer`], [`UdpServer`] |
//! | `UnixStreamServer`, `UnixDatagramServer` | [`UnixStreamServer`], [`UnixDatagramServer`] |
//! | `ThreadingMixIn`, `ThreadingTCPServer`, ... | [`Mode::Threading`] |
//! | `ForkingMixIn`, `ForkingTCPServer`, ... | [`Mode::Forking`] |
//! | (none: a bounded worker pool) | [`Mode::Pool`] |
//! | (none: workers on one epoll set; not in Python) | [`Mode::Readiness`], [`StreamRequestHandler::ready_connection`], [`ReadyConnection`], [`Ready`], [`blocking`] |
//! | `TCPServer(addr, handler)` | [`TcpServer::new`], [`TcpServer::with_config`] |
//! | `bind_and_activate=False` | [`TcpServer::unbound`], then [`BaseServer::server_bind`], [`BaseServer::server_activate`] |
//! | `allow_reuse_address`, `allow_reuse_port`, `request_queue_size`, `timeout` | fields of [`ServerConfig`], each with a setter of its name |
//! | `daemon_threads`, `block_on_close`, `max_children`, `max_packet_size` | fields of [`ServerConfig`], each with a setter of its name |
//! | `server_address`, `fileno()`, `socket` | [`BaseServer::server_address`], [`BaseServer::fileno`], [`BaseServer::socket_ref`] |
//! | `("127.0.0.1", 9998)`, the address in a program | [`address_arg`] takes it from the command line, with the program's as the default |
//! | `serve_forever(poll_interval)` | [`BaseServer::serve_forever`]; Python's default interval is [`POLL_INTERVAL`] |
//! | `shutdown()` | [`BaseServer::shutdown`], [`ShutdownHandle::shutdown`] from any thread |
//! | `handle_request()` | [`BaseServer::handle_request`] |
//! | `server_close()`, `with server:` | [`BaseServer::server_close`], and `Drop` |
//! | `verify_request`, `handle_error`, `service_actions`, `handle_timeout`, `shutdown_request` | [`ServerHooks`] |
//! | `collect_children()` | [`BaseServer::collect_children`] |
//! | (none: a graceful stop; not in Python) | [`BaseServer::drain`] |
//! | (none: systemd's `sd_listen_fds`; not in Python) | [`listen_fds`], [`TcpServer::from_listener`] |
//! | (none: several processes on one port; not in Python) | [`supervise`], [`Supervision`], with [`ServerConfig::allow_reuse_port`] |
//! | (none: counters for monitoring; not in Python) | [`server_stats`], [`ServerStats`] |
//! | `BaseRequestHandler`, `StreamRequestHandler` | [`StreamRequestHandler`] (state in [`StreamRequest`]) |
//! | `DatagramRequestHandler` | [`DatagramRequestHandler`] (state in [`DatagramRequest`]) |
//! | `self.request`, `self.client_address`, `self.rfile`, `self.wfile` | fields of [`StreamRequest`] and [`DatagramRequest`] |
//! | `setup()`, `handle()`, `finish()` | trait methods of the handler traits |
//! | `timeout`, `disable_nagle_algorithm` | [`StreamRequestHandler::TIMEOUT`], [`StreamRequestHandler::DISABLE_NAGLE_ALGORITHM`] (class attributes), or the methods [`StreamRequestHandler::timeout`], [`StreamRequestHandler::disable_nagle_algorithm`] for values known at run time |
//!
//! # Differences from Python
//!
//! - `shutdown()` wakes the serving loop at once (a self-pipe), so it returns in milliseconds rather than up to `poll_interval`.
//!   From the serving thread it asks and returns instead of deadlocking.
//! - A handler's error or panic is reported through `handle_error` and costs only its request.
//! - `Mode::Pool` bounds threads and queued requests; Python can only start a thread per request.
//! - `Mode::Readiness` registers connections in one epoll set served by a few workers; a handler whose connections are state machines costs a registration per waiting connection, not a thread.
//! - A forking server waiting for a free child slot (`max_children`) still gives way to `shutdown()`; Python blocks in waitpid until a child ends.
//! - Forked children are reaped by process id, never with `waitpid(-1)`, so other code's children are left alone.
//!
//! The crate knows nothing of HTTP. `unsafe` lives in one private module (`sys`) that wraps fork, waitpid, poll, epoll, recv and sendfile.
#![deny(missing_docs)]
#![warn(unreachable_pub)]
// `unsafe` is allowed only in `sys`, where the system calls std does not wrap live, each block with its SAFETY comment.
#![deny(unsafe_code)]

mod activation;
mod address;
mod config;
mod handler;
mod hooks;
pub mod kind;
pub mod prelude;
mod processes;
mod readiness;
mod server;
mod stats;
mod stream;
#[allow(unsafe_code)]
mod sys;

pub use activation::listen_fds;
pub use address::{address_arg, Address};
pub use config::{Mode, ServerConfig};
pub use handler::{
    panic_message, DatagramRequest, DatagramRequestHandler, HandlerError, Ready, ReadyConnection,
    StreamRequest, StreamRequestHandler,
};
pub use hooks::{error_report, DefaultHooks, ServerHooks};
pub use kind::ServerKind;
pub use processes::{supervise, Supervision};
pub use readiness::blocking;
pub use server::{
    BaseServer, ShutdownHandle, TcpServer, UdpServer, UnixDatagramServer, UnixStreamServer,
    POLL_INTERVAL,
};
pub use stats::{server_stats, ServerStats};
pub use stream::{DatagramSocket, Stream};
