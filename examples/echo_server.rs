//! An echo server on every socket kind and processing mode (the echo test of CPython's test_socketserver, as a program).
//!
//! ```text
//! echo_server --proto tcp|udp|unix-stream|unix-datagram --mode sync|threading|forking|pool --address ADDR
//! ```
//!
//! ADDR is `host:port` (port 0 picks a free port) or a socket path.
//! When ready it prints `Serving TCP on 127.0.0.1 port 45678 ...` (the path in place of host and port for Unix sockets).
//! Streams echo every line back until the client closes; datagrams are answered with the same bytes.
//! SIGINT stops it within a second, leaving no child process.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socketserver::{
    Address, BaseServer, DatagramRequest, DatagramRequestHandler, Mode, ServerConfig, ServerHooks,
    ServerKind, ShutdownHandle, StreamRequest, StreamRequestHandler, TcpServer, UdpServer,
    UnixDatagramServer, UnixStreamServer,
};

/// Echoes each line back until the client closes its side, or until SIGINT.
struct EchoLines {
    interrupted: Arc<AtomicBool>,
}

/// How often a waiting connection checks for SIGINT, so a client that never finishes cannot hold the server up.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

impl StreamRequestHandler for EchoLines {
    fn timeout(&self) -> Option<Duration> {
        Some(INTERRUPT_CHECK)
    }

    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = Vec::new();
        loop {
            match request.rfile.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(()),
                // A line cut short by the end of the stream is echoed as it is.
                Ok(_) => {
                    request.wfile.write_all(&line)?;
                    line.clear();
                }
                // The read timed out: what arrived so far stays in `line` for the next try.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.interrupted.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Answers each datagram with its own bytes.
struct EchoPackets;

impl DatagramRequestHandler for EchoPackets {
    fn handle(&self, request: &mut DatagramRequest) -> io::Result<()> {
        let packet = request.packet().to_vec();
        request.wfile.extend_from_slice(&packet);
        Ok(())
    }
}

/// Turns SIGINT (a flag set by the signal handler) into a shutdown, checked once per turn of the serving loop.
struct StopOnInterrupt {
    interrupted: Arc<AtomicBool>,
    stop: ShutdownHandle,
}

impl ServerHooks for StopOnInterrupt {
    fn service_actions(&self) {
        if self.interrupted.load(Ordering::SeqCst) {
            self.stop.shutdown();
        }
    }
}

struct Options {
    proto: String,
    mode: Mode,
    address: String,
}

fn parse_options() -> Result<Options, String> {
    let mut proto = None;
    let mut mode = None;
    let mut address = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--proto" => proto = Some(value),
            "--mode" => {
                mode = Some(match value.as_str() {
                    "sync" => Mode::Sync,
                    "threading" => Mode::Threading,
                    "forking" => Mode::Forking,
                    "pool" => Mode::Pool {
                        workers: 8,
                        queue: 64,
                    },
                    other => {
                        return Err(format!(
                            "unknown mode `{other}` (sync, threading, forking, pool)"
                        ))
                    }
                })
            }
            "--address" => address = Some(value),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Options {
        proto: proto.ok_or("--proto is required")?,
        mode: mode.ok_or("--mode is required")?,
        address: address.ok_or("--address is required")?,
    })
}

fn serve<K: ServerKind>(
    mut server: BaseServer<K>,
    label: &str,
    interrupted: Arc<AtomicBool>,
) -> io::Result<()> {
    let stop = server.shutdown_handle();
    server.set_hooks(StopOnInterrupt { interrupted, stop });
    match server.server_address() {
        Address::Inet(address) => println!(
            "Serving {label} on {} port {} ...",
            address.ip(),
            address.port()
        ),
        Address::Unix(path) => println!("Serving {label} on {} ...", path.display()),
    }
    io::stdout().flush()?;
    server.serve_forever(Duration::from_millis(100))?;
    // Clients may still hold connections open: end their children and close without waiting for their threads.
    server.terminate_children(Duration::from_millis(300));
    server.server_close();
    if let Address::Unix(path) = server.server_address() {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn run(options: Options) -> io::Result<()> {
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, interrupted.clone())?;
    // Stop promptly: do not wait for connections a client keeps open.
    let config = ServerConfig {
        daemon_threads: true,
        block_on_close: false,
        // Take a burst of clients without refusing any (Python's default backlog is 5).
        request_queue_size: 128,
        ..ServerConfig::with_mode(options.mode)
    };
    let address = options.address.as_str();
    match options.proto.as_str() {
        "tcp" => serve(
            TcpServer::with_config(
                address,
                EchoLines {
                    interrupted: interrupted.clone(),
                },
                config,
            )?,
            "TCP",
            interrupted,
        ),
        "udp" => serve(
            UdpServer::with_config(address, EchoPackets, config)?,
            "UDP",
            interrupted,
        ),
        "unix-stream" => serve(
            UnixStreamServer::with_config(
                address,
                EchoLines {
                    interrupted: interrupted.clone(),
                },
                config,
            )?,
            "UNIX-STREAM",
            interrupted,
        ),
        "unix-datagram" => serve(
            UnixDatagramServer::with_config(address, EchoPackets, config)?,
            "UNIX-DATAGRAM",
            interrupted,
        ),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown protocol `{other}` (tcp, udp, unix-stream, unix-datagram)"),
        )),
    }
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("echo_server: {message}");
            eprintln!("usage: echo_server --proto tcp|udp|unix-stream|unix-datagram --mode sync|threading|forking|pool --address ADDR");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_server: {error}");
            ExitCode::FAILURE
        }
    }
}
