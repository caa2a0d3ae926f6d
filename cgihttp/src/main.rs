//! The `cgihttp` command: `python -m http.server --cgi` (Python 2's `python -m CGIHTTPServer`) in Rust.
//!
//! `cgihttp [PORT] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]] [--timeout SECONDS] [--max-body-size BYTES] [--cgi-timeout SECONDS] [--max-cgi N] [--cgi-dir PATH]...`
//! serves a directory as `simplehttp` does and runs the scripts under `/cgi-bin` and `/htbin`,
//! each killed after `--cgi-timeout` seconds (30 by default; 0 lets scripts run for ever, as Python),
//! at most `--max-cgi` at once (32 per core by default), with request bodies up to `--max-body-size` (100 MiB by default).

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use cgihttp::{CgiHttpRequestHandler, DEFAULT_TIMEOUT};
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches};
use simplehttp::{serve_command, CommandLine};

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
        .arg(
            Arg::new("max-cgi")
                .long("max-cgi")
                .value_name("N")
                .value_parser(clap::value_parser!(u32).range(1..))
                .help("run at most N CGI scripts at once; more get 503 with Retry-After (default: 32 per core)"),
        )
        .arg(
            Arg::new("cgi-dir")
                .long("cgi-dir")
                .value_name("PATH")
                .action(clap::ArgAction::Append)
                .value_parser(parse_cgi_dir)
                .help("run scripts under this URL path; repeatable (default: /cgi-bin and /htbin)"),
        )
}

/// A CGI directory is a URL path: it starts with `/` and does not end with one (Python's `cgi_directories` entries).
fn parse_cgi_dir(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    if !text.starts_with('/') || trimmed.is_empty() {
        return Err("a CGI directory is a URL path such as /cgi-bin".to_owned());
    }
    Ok(trimmed.to_owned())
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
    let cgi_directories: Option<Vec<String>> = matches
        .get_many::<String>("cgi-dir")
        .map(|directories| directories.cloned().collect());
    let max_cgi = matches
        .get_one::<u32>("max-cgi")
        .map(|count| *count as usize);
    match run(&command_line, cgi_timeout, cgi_directories, max_cgi) {
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
    cgi_directories: Option<Vec<String>>,
    max_cgi: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut handler = CgiHttpRequestHandler::new(command.served_directory()?);
    handler.files.protocol_version.clone_from(&command.protocol);
    handler.files.limits = command.limits(handler.files.limits);
    handler.timeout = cgi_timeout;
    if let Some(limit) = command.body_limit() {
        handler.max_request_body = limit;
    }
    if let Some(max_cgi) = max_cgi {
        handler.max_cgi = Some(max_cgi);
    }
    if let Some(cgi_directories) = cgi_directories {
        handler.cgi_directories = cgi_directories;
    }
    // On Ctrl-C the server stops serving and waits for its requests; running scripts are killed at once
    // (with everything they started) rather than at their timeout, so that stopping is prompt.
    signal_hook::flag::register(signal_hook::consts::SIGINT, handler.stop_flag())?;
    if command.operations.metrics_bind.is_some() {
        simplehttp::add_metrics_collector(std::sync::Arc::new(CgiCollector));
    }
    // Readiness mode, as simplehttp: a script that runs long holds its worker, and the watcher starts another
    // after 10 ms, so it holds up no one; idle connections and half-sent heads cost no thread.
    serve_command(command, handler)
}

/// The CGI counters on the `/metrics` page (`--metrics-bind`).
#[derive(Debug)]
struct CgiCollector;

impl simplehttp::prometheus_client::collector::Collector for CgiCollector {
    fn encode(
        &self,
        mut encoder: simplehttp::prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> std::fmt::Result {
        let stats = cgihttp::cgi_stats();
        simplehttp::encode_counter(&mut encoder, "cgi_runs", "CGI scripts started", stats.runs)?;
        simplehttp::encode_counter(
            &mut encoder,
            "cgi_timeouts",
            "CGI scripts killed at the CGI timeout",
            stats.timeouts,
        )?;
        simplehttp::encode_counter(
            &mut encoder,
            "cgi_failures",
            "CGI scripts that failed: a non-zero exit, a crash, bad headers, or no start",
            stats.failures,
        )
    }
}
