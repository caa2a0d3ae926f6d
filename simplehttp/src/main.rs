//! The `simplehttp` command: `python -m http.server` in Rust.
//!
//! `simplehttp [PORT] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]] [--timeout SECONDS]`
//! serves a directory from a few worker threads on one epoll set (a thread per connection over TLS, when given a certificate),
//! prints Python's banner, and on Ctrl-C prints `Keyboard interrupt received, exiting.` and exits with status 0.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use simplehttp::{serve_command, CommandLine, SimpleHttpRequestHandler};

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
    let directory = command.served_directory()?;
    let mut handler = SimpleHttpRequestHandler::new(&directory);
    handler.protocol_version.clone_from(&command.protocol);
    handler.limits = command.limits(handler.limits);
    handler.options = command.file_options(&directory)?;
    serve_command(command, handler)
}
