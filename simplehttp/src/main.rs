//! The `simplehttp` command: `python -m http.server` in Rust.
//!
//! `simplehttp [PORT] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]] [--timeout SECONDS]`
//! serves a directory with a thread per connection, over TLS when given a certificate,
//! prints Python's banner, and on Ctrl-C prints `Keyboard interrupt received, exiting.` and exits with status 0.

#![forbid(unsafe_code)]

use std::env;
use std::process::ExitCode;
use std::time::Duration;

use basehttp::{serve_until_interrupted, HttpServer, ThreadingHttpServer};
use clap::{CommandFactory, Parser};
use simplehttp::{
    banner, serve_tcp_until_interrupted, tls_server_config, CommandLine, HttpsHandler,
    SimpleHttpRequestHandler,
};
use socketserver::{Address, TcpServer};

/// How often the serving loop checks for a shutdown request (Python's `poll_interval`).
const POLL_INTERVAL: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let command = CommandLine::parse();
    if let Err(error) = command.validate() {
        CommandLine::command()
            .error(clap::error::ErrorKind::ArgumentConflict, error)
            .exit();
    }
    match run(&command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simplehttp: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &CommandLine) -> Result<(), Box<dyn std::error::Error>> {
    let directory = match &command.directory {
        Some(directory) => directory.clone(),
        None => env::current_dir()?,
    };
    let mut handler = SimpleHttpRequestHandler::new(directory);
    handler.protocol_version.clone_from(&command.protocol);
    if command.timeout.is_some() {
        handler.limits.idle_timeout = command.timeout;
    }
    let address = command.bind_address()?;
    let mut config = ThreadingHttpServer::default_config();
    if address.is_ipv6() {
        // Python's DualStackServer: an IPv6 socket that also accepts IPv4.
        config.ipv6_only = Some(false);
    }
    let bound_address = |bound: &Address| match bound {
        Address::Inet(bound) => *bound,
        Address::Unix(_) => address,
    };
    if let Some(certificate) = &command.tls_cert {
        let password = command.tls_password()?;
        let tls = tls_server_config(certificate, command.tls_key.as_deref(), password.as_deref())?;
        let server = TcpServer::with_config(address, HttpsHandler::new(handler, tls), config)?;
        println!("{}", banner(bound_address(server.server_address()), true));
        serve_tcp_until_interrupted(&server, POLL_INTERVAL)?;
    } else {
        let server = HttpServer::with_config(address, handler, config)?;
        println!("{}", banner(bound_address(server.server_address()), false));
        serve_until_interrupted(&server, POLL_INTERVAL)?;
    }
    Ok(())
}
