//! The `cgihttp` command: `python -m http.server --cgi` (Python 2's `python -m CGIHTTPServer`) in Rust.
//!
//! `cgihttp [PORT] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]] [--timeout SECONDS] [--cgi-timeout SECONDS]`
//! serves a directory as `simplehttp` does and runs the scripts under `/cgi-bin` and `/htbin`,
//! each killed after `--cgi-timeout` seconds (30 by default; 0 lets scripts run for ever, as Python).

#![forbid(unsafe_code)]

use std::env;
use std::process::ExitCode;
use std::time::Duration;

use basehttp::{serve_until_interrupted, HttpServer, ThreadingHttpServer};
use cgihttp::{CgiHttpRequestHandler, DEFAULT_TIMEOUT};
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches};
use simplehttp::{
    banner, serve_tcp_until_interrupted, tls_server_config, CommandLine, HttpsHandler,
};
use socketserver::{Address, TcpServer};

/// How often the serving loop checks for a shutdown request (Python's `poll_interval`).
const POLL_INTERVAL: Duration = Duration::from_millis(500);

fn command() -> clap::Command {
    CommandLine::command()
        .name("cgihttp")
        .bin_name("cgihttp")
        .about("Serve a directory over HTTP and run its CGI scripts, like python -m http.server --cgi")
        .long_about(None)
        .arg(
            Arg::new("cgi-timeout")
                .long("cgi-timeout")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64))
                .help("kill a CGI script running longer than this many seconds (default: 30; 0: never)"),
        )
}

fn main() -> ExitCode {
    let mut matches: ArgMatches = command().get_matches();
    let command_line = match CommandLine::from_arg_matches_mut(&mut matches) {
        Ok(command_line) => command_line,
        Err(error) => error.exit(),
    };
    if let Err(error) = command_line.validate() {
        command()
            .error(clap::error::ErrorKind::ArgumentConflict, error)
            .exit();
    }
    let cgi_timeout = match matches.get_one::<u64>("cgi-timeout") {
        None => Some(DEFAULT_TIMEOUT),
        Some(0) => None,
        Some(seconds) => Some(Duration::from_secs(*seconds)),
    };
    match run(&command_line, cgi_timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cgihttp: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    command: &CommandLine,
    cgi_timeout: Option<Duration>,
) -> Result<(), Box<dyn std::error::Error>> {
    let directory = match &command.directory {
        Some(directory) => directory.clone(),
        None => env::current_dir()?,
    };
    let mut handler = CgiHttpRequestHandler::new(directory);
    handler.files.protocol_version.clone_from(&command.protocol);
    if command.timeout.is_some() {
        handler.files.limits.idle_timeout = command.timeout;
    }
    handler.timeout = cgi_timeout;
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
