//! The names nearly every socketserver program uses, for one glob import: `use socketserver::prelude::*;`.
//!
//! Python's `import socketserver` for the common case: the stream and datagram handler traits and their requests, the
//! TCP and UDP servers with their configuration and mode, Python's default poll interval, [`address_arg`] for the address, and what a handler needs from
//! `std::io` (the module for `io::Result`, and the `Read`, `Write` and `BufRead` traits of `rfile` and `wfile`), and
//! `Duration` for the timeouts (Python's `timeout` attributes in seconds).

pub use crate::{
    address_arg, DatagramRequest, DatagramRequestHandler, Mode, ServerConfig, StreamRequest,
    StreamRequestHandler, TcpServer, UdpServer, POLL_INTERVAL,
};
pub use std::io::{self, BufRead, Read, Write};
pub use std::time::Duration;
