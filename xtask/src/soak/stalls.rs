//! `cargo xtask stalls`: slow and idle clients must not stall a server, and must not stay forever.
//!
//! With `simplehttp --timeout 2` (release, on core 0; the clients on core 1):
//! 1000 connections send half a request head and nothing more, and while they hang 200 fresh requests are timed (p99 < 100 ms);
//! then every half head must be closed (a 408 answer, EOF or reset) within the 2 s deadline plus 1 s of slack.
//! Slowloris clients, dribbling one header byte every 500 ms, must be closed by the same head deadline.
//! Then, with `--max-connections 20000` and no timeout flag, 1000 and then 10 000 connections each make one keep-alive request
//! and stay idle, and the server's threads and VmRSS are read.
//! Over TLS (a self-signed certificate made with `openssl`, clients on Python's `ssl`):
//! with `--timeout 2 --max-connections 4`, four clients send a ClientHello one byte a second, each must be closed within
//! 1.5 × the timeout of its first byte, and a good TLS client started among them must be answered within 1.5 × the timeout;
//! then 1000 TLS connections each finish a handshake and one request and stay idle, which must cost at most 16 threads
//! and 64 MiB of VmRSS. The TLS criteria are reported but fail the task only with `--enforce-tls` or [`ENFORCE_TLS`].
//! Extra server arguments (after `--`) choose the mode, e.g. `cargo xtask stalls -- --workers 2`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::http::{
    address, get_request, milliseconds, percentile, read_answer, status_of, timed_get,
};
use super::process::ServerProcess;
use super::procfs::{self, mebibytes};
use super::{machine_note, prepare, shown_command, split_extra, Tree};
use crate::bench::scenarios::Server;
use crate::bench::tls;

const USAGE: &str = "\
usage: cargo xtask stalls [--enforce-tls] [-- extra server args]

  --enforce-tls   fail on the TLS criteria too (by default they are reported only)
  -- ARGS         passed to simplehttp, e.g. `-- --workers 2` for the readiness mode

Fails when 200 fresh requests made while 1000 half heads hang have a p99 of 100 ms or more,
or when a half head or a slowloris client is still open 1 s after the 2 s head deadline.
Also reports threads and VmRSS at 1000 and 10 000 idle keep-alive connections.
Over TLS it measures, and with --enforce-tls requires: ClientHellos sent 1 byte/s closed within 1.5 x --timeout,
a good TLS client answered under --max-connections 4 meanwhile, and 1000 idle TLS connections held with
at most 16 threads and 64 MiB VmRSS.
";

/// Whether the TLS criteria fail the task by default (CI runs `cargo xtask stalls` without flags).
///
/// On since TLS connections are state machines on the event loop: a trickling handshake is cut at the head deadline
/// and an idle TLS connection costs no thread. Set it off only to measure a server that gives each TLS connection a thread.
const ENFORCE_TLS: bool = true;
/// Clients that send a ClientHello one byte at a time, and the server's `--max-connections` they try to exhaust.
const TLS_TRICKLERS: usize = 4;
const TLS_MAX_CONNECTIONS: usize = 4;
/// Between two of a trickling TLS client's bytes.
const TLS_TRICKLE: Duration = Duration::from_secs(1);
/// A trickling TLS client must be closed, and the good client answered, within this many times `--timeout`.
const TLS_DEADLINE_FACTOR: f64 = 1.5;
/// How long trickling TLS clients are watched: twice the bound, so a late close is seen.
const TLS_WATCH: Duration = Duration::from_secs(6);
/// When the good TLS client starts, after the trickling ones: they hold their connections by then.
const TLS_GOOD_CLIENT_DELAY: Duration = Duration::from_millis(500);
/// How long the good TLS client waits for each step (connect, handshake, answer). It gives up a second before the
/// trickling clients stop, so an answer it gets was not let in by their leaving.
const TLS_GOOD_CLIENT_PATIENCE: Duration = Duration::from_millis(4500);
/// Idle TLS connections, each after a handshake and one answered request, and what they may cost the server.
const TLS_IDLE: usize = 1000;
const TLS_IDLE_THREADS_LIMIT: u64 = 16;
const TLS_IDLE_RSS_LIMIT_KIB: u64 = 64 * 1024;

/// The server's `--timeout`.
const DEADLINE: Duration = Duration::from_secs(2);
/// How late past the deadline a close still passes.
const SLACK: Duration = Duration::from_secs(1);
/// How long a slow client keeps watching before it reports the connection as never closed.
const WATCH: Duration = Duration::from_secs(6);
/// Connections that send half a head.
const HALF_HEADS: usize = 1000;
/// Half a head: the request line and one header, without the blank line.
const HALF_HEAD: &[u8] = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n";
/// Fresh requests timed while the half heads hang.
const FRESH: usize = 200;
/// The p99 a fresh request must stay below.
const FRESH_P99_LIMIT: Duration = Duration::from_millis(100);
/// Slowloris connections.
const SLOW: usize = 100;
/// Between two of a slowloris client's bytes.
const DRIBBLE: Duration = Duration::from_millis(500);
/// Idle connection counts and the time each phase may take.
const IDLE_PHASES: [(usize, Duration); 2] = [
    (1000, Duration::from_secs(30)),
    (10_000, Duration::from_secs(50)),
];
/// Descriptors kept free for everything else, in this process and in the server.
const SPARE_DESCRIPTORS: u64 = 200;

/// One line of the table.
#[derive(Debug)]
struct Row {
    check: String,
    /// `None` for a measurement that has no pass mark.
    pass: Option<bool>,
    /// Whether a failed pass mark fails the task; a criterion that is not enforced is reported as what it would give.
    enforced: bool,
    figures: String,
}

impl Row {
    fn result(&self) -> &'static str {
        match (self.pass, self.enforced) {
            (None, _) => "measured",
            (Some(true), true) => "pass",
            (Some(false), true) => "**fail**",
            (Some(true), false) => "report-only: would pass",
            (Some(false), false) => "report-only: **would fail**",
        }
    }

    fn fails(&self) -> bool {
        self.enforced && self.pass == Some(false)
    }
}

/// The task's own options.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    enforce_tls: bool,
}

fn parse_options(own: &[String]) -> Result<Options, String> {
    let mut options = Options {
        enforce_tls: ENFORCE_TLS,
    };
    for word in own {
        match word.as_str() {
            "--enforce-tls" => options.enforce_tls = true,
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    let (own, extra) = split_extra(arguments);
    if own.iter().any(|word| word == "-h" || word == "--help") {
        print!("{USAGE}");
        return Ok(());
    }
    let options = parse_options(own)?;
    let (binaries, pinned, cores) = prepare(
        "stalls",
        &[Server::SimpleHttp],
        &[
            ("taskset", "util-linux"),
            ("openssl", "openssl"),
            ("python3", "python3"),
        ],
    )?;
    let program = binaries
        .ours(Server::SimpleHttp)
        .ok_or("simplehttp was not built")?;
    let core = pinned.then_some(0);
    // From here on, what is timed is the checks, not the build.
    let started = Instant::now();
    let tree = Tree::create("stalls")?;
    let mode = if extra.is_empty() {
        "default (readiness, elastic workers)".to_owned()
    } else {
        format!("`{}`", extra.join(" "))
    };
    let mut rows = Vec::new();

    let mut arguments_with_timeout = vec!["--timeout".to_owned(), DEADLINE.as_secs().to_string()];
    arguments_with_timeout.extend(extra.iter().cloned());
    let mut server = ServerProcess::start(
        &program,
        &tree.www(),
        &arguments_with_timeout,
        core,
        &tree.log("timeout"),
    )?;
    eprintln!("xtask stalls: `{}`", server.command);
    rows.extend(half_heads(&mut server)?);
    rows.push(slowloris(server.port));
    drop(server);

    let mut arguments_idle = vec!["--max-connections".to_owned(), "20000".to_owned()];
    arguments_idle.extend(extra.iter().cloned());
    let mut server = ServerProcess::start(
        &program,
        &tree.www(),
        &arguments_idle,
        core,
        &tree.log("idle"),
    )?;
    eprintln!("xtask stalls: `{}`", server.command);
    rows.extend(idle(&mut server));
    drop(server);

    rows.extend(tls_checks(
        &program,
        &tree,
        &extra,
        core,
        options.enforce_tls,
    ));
    drop(tree);

    let mut table = format!(
        "### Stalls, {mode}\n\n{}\n| mode | check | result | figures |\n| --- | --- | --- | --- |\n",
        machine_note(&shown_command("stalls", arguments), pinned, cores)
    );
    for row in &rows {
        table.push_str(&format!(
            "| {mode} | {} | {} | {} |\n",
            row.check,
            row.result(),
            row.figures
        ));
    }
    println!("\n{table}");
    if rows
        .iter()
        .any(|row| !row.enforced && row.pass == Some(false))
    {
        println!(
            "The TLS criteria are reported only: `cargo xtask stalls --enforce-tls` applies them, and `ENFORCE_TLS` in xtask/src/soak/stalls.rs makes that the default."
        );
    }
    println!(
        "The checks took {:.0} s (after the build).",
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| row.fails())
        .map(|row| row.check.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join("; ")))
    }
}

/// How a watched connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// EOF or reset, after an answer with this status (if any).
    Closed { answered: Option<u16>, reset: bool },
    /// Still open when the watch ended (after an answer, if any).
    Open { answered: Option<u16> },
    /// The client could not even start.
    Failed(String),
}

/// What a slow client saw: when its first or last byte left, and how the connection ended and when.
#[derive(Debug, Clone)]
struct Watched {
    /// From the reference byte (the half head's last, the slowloris client's first) to the close.
    after: Option<Duration>,
    ending: Ending,
}

/// Reads until EOF, a reset or `until`, noting the status of any answer; returns the ending and when it came.
fn watch(
    stream: &mut TcpStream,
    until: Instant,
    answered: &mut Option<u16>,
) -> Option<(Ending, Instant)> {
    let mut buffer = [0u8; 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return None;
        }
        match stream.read(&mut buffer) {
            Ok(0) => {
                return Some((
                    Ending::Closed {
                        answered: *answered,
                        reset: false,
                    },
                    Instant::now(),
                ))
            }
            Ok(count) => {
                if answered.is_none() {
                    *answered = Some(status_of(&buffer[..count]).unwrap_or(0));
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                return Some((
                    Ending::Closed {
                        answered: *answered,
                        reset: true,
                    },
                    Instant::now(),
                ))
            }
        }
    }
}

/// A half-head client: connect, send half a head, say so, then watch the connection.
fn half_head_client(port: u16, sent: mpsc::Sender<Result<(), String>>) -> Watched {
    let failed = |reason: String| Watched {
        after: None,
        ending: Ending::Failed(reason),
    };
    let mut stream = match TcpStream::connect_timeout(&address(port), Duration::from_secs(5)) {
        Ok(stream) => stream,
        Err(error) => {
            let _ = sent.send(Err(format!("connect: {error}")));
            return failed(format!("connect: {error}"));
        }
    };
    if let Err(error) = stream.write_all(HALF_HEAD) {
        let _ = sent.send(Err(format!("send: {error}")));
        return failed(format!("send: {error}"));
    }
    let last_byte = Instant::now();
    let _ = sent.send(Ok(()));
    let mut answered = None;
    match watch(&mut stream, last_byte + WATCH, &mut answered) {
        Some((ending, when)) => Watched {
            after: Some(when - last_byte),
            ending,
        },
        None => Watched {
            after: None,
            ending: Ending::Open { answered },
        },
    }
}

/// Min, median and max of the close times, as `2.01 s / 2.03 s / 2.10 s`.
fn spread(mut times: Vec<Duration>) -> String {
    times.sort_unstable();
    match (times.first(), percentile(&times, 50.0), times.last()) {
        (Some(min), Some(median), Some(max)) => format!(
            "min {:.2} s, median {:.2} s, max {:.2} s",
            min.as_secs_f64(),
            median.as_secs_f64(),
            max.as_secs_f64()
        ),
        _ => "none".into(),
    }
}

/// How the connections ended, as `998 by EOF, 2 by reset, 0 after a 408`.
fn endings(watched: &[Watched]) -> String {
    let mut eof = 0;
    let mut reset = 0;
    let mut answered_408 = 0;
    let mut answered_other = 0;
    let mut answered_bytes = 0;
    let mut open = 0;
    let mut failed = 0;
    for one in watched {
        match &one.ending {
            Ending::Closed {
                answered: Some(408),
                ..
            } => answered_408 += 1,
            Ending::Closed {
                answered: Some(0), ..
            } => answered_bytes += 1,
            Ending::Closed {
                answered: Some(_), ..
            } => answered_other += 1,
            Ending::Closed { reset: true, .. } => reset += 1,
            Ending::Closed { .. } => eof += 1,
            Ending::Open { .. } => open += 1,
            Ending::Failed(_) => failed += 1,
        }
    }
    let mut parts = vec![
        format!("{answered_408} by a 408 then close"),
        format!("{eof} by EOF without an answer"),
        format!("{reset} by reset"),
    ];
    if answered_other > 0 {
        parts.push(format!("{answered_other} after another answer"));
    }
    if answered_bytes > 0 {
        parts.push(format!(
            "{answered_bytes} after bytes that are no HTTP answer (a TLS alert)"
        ));
    }
    if open > 0 {
        parts.push(format!("{open} still open after {} s", WATCH.as_secs()));
    }
    if failed > 0 {
        parts.push(format!("{failed} could not connect or send"));
    }
    parts.join(", ")
}

/// Whether a watched connection closed within the deadline and its slack.
fn closed_in_time(one: &Watched) -> bool {
    closed_within(one, DEADLINE + SLACK)
}

/// Whether a watched connection closed at most `limit` after its reference byte.
fn closed_within(one: &Watched, limit: Duration) -> bool {
    matches!(one.ending, Ending::Closed { .. }) && one.after.is_some_and(|after| after <= limit)
}

/// 1000 half heads, 200 fresh requests timed among them, then the half heads' closes.
fn half_heads(server: &mut ServerProcess) -> Result<Vec<Row>, String> {
    let port = server.port;
    let fds_idle = procfs::descriptor_count(server.pid).unwrap_or(0);
    let (sender, sent) = mpsc::channel();
    let opening = Instant::now();
    let clients: Vec<_> = (0..HALF_HEADS)
        .map(|index| {
            let sender = sender.clone();
            std::thread::Builder::new()
                .name(format!("half-head-{index}"))
                .stack_size(64 * 1024)
                .spawn(move || half_head_client(port, sender))
                .map_err(|error| format!("cannot start client thread {index}: {error}"))
        })
        .collect::<Result<_, _>>()?;
    drop(sender);
    let mut open = 0;
    let mut refused = Vec::new();
    while open + refused.len() < HALF_HEADS {
        match sent.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => open += 1,
            Ok(Err(reason)) => refused.push(reason),
            Err(_) => break,
        }
    }
    let opened_in = opening.elapsed();
    // Time the fresh requests once the server holds every half head (or after a second: a slow accept is part of what is measured).
    let (_, accepted_in) = super::wait_until(Duration::from_secs(1), || {
        procfs::descriptor_count(server.pid).is_ok_and(|count| count >= fds_idle + open)
    });
    let server_fds = procfs::descriptor_count(server.pid).unwrap_or(0);
    eprintln!(
        "xtask stalls: {open} half heads sent in {:.2} s ({} failed); {:.2} s later the server holds {server_fds} descriptors; timing {FRESH} fresh requests",
        opened_in.as_secs_f64(),
        refused.len(),
        accepted_in.as_secs_f64()
    );

    let fresh_started = Instant::now();
    let mut times = Vec::with_capacity(FRESH);
    let mut fresh_failures = Vec::new();
    for _ in 0..FRESH {
        match timed_get(port, "/small.txt", Duration::from_secs(5)) {
            Ok(elapsed) => times.push(elapsed),
            Err(reason) => fresh_failures.push(reason),
        }
    }
    let fresh_took = fresh_started.elapsed();
    let server_fds_after = procfs::descriptor_count(server.pid).unwrap_or(0);

    let watched: Vec<Watched> = clients
        .into_iter()
        .map(|client| {
            client.join().unwrap_or(Watched {
                after: None,
                ending: Ending::Failed("client thread panicked".into()),
            })
        })
        .collect();
    times.sort_unstable();
    let p99 = percentile(&times, 99.0);
    let figure = |p: f64| percentile(&times, p).map_or("—".into(), milliseconds);
    let mut fresh_figures = format!(
        "{} of {FRESH} answered in {:.2} s, among {open} half heads sent in {:.2} s (server descriptors: {fds_idle} idle, {server_fds} before, {server_fds_after} after): p50 {}, p95 {}, p99 {}, max {}",
        times.len(),
        fresh_took.as_secs_f64(),
        opened_in.as_secs_f64(),
        figure(50.0),
        figure(95.0),
        figure(99.0),
        times.last().map_or("—".into(), |max| milliseconds(*max)),
    );
    if let Some(first) = fresh_failures.first() {
        fresh_figures.push_str(&format!(
            "; {} failed, first: {first}",
            fresh_failures.len()
        ));
    }
    let fresh_pass = fresh_failures.is_empty() && p99.is_some_and(|p99| p99 < FRESH_P99_LIMIT);

    let in_time = watched.iter().filter(|one| closed_in_time(one)).count();
    let close_times: Vec<Duration> = watched.iter().filter_map(|one| one.after).collect();
    let early = close_times
        .iter()
        .filter(|after| **after < DEADLINE)
        .count();
    let mut close_figures = format!(
        "{in_time} of {HALF_HEADS} closed within {} s of their last byte ({}); last byte → close: {}",
        (DEADLINE + SLACK).as_secs(),
        endings(&watched),
        spread(close_times),
    );
    if early > 0 {
        close_figures.push_str(&format!("; {early} closed before the 2 s deadline"));
    }
    if let Some(reason) = refused.first() {
        close_figures.push_str(&format!("; first client failure: {reason}"));
    }
    if let Some(status) = server.exit_status() {
        close_figures.push_str(&format!("; the server exited: {status}"));
    }
    Ok(vec![
        Row {
            check: format!(
                "{FRESH} fresh GETs while {HALF_HEADS} half heads hang (p99 < {} ms)",
                FRESH_P99_LIMIT.as_millis()
            ),
            pass: Some(fresh_pass),
            enforced: true,
            figures: fresh_figures,
        },
        Row {
            check: format!(
                "{HALF_HEADS} half heads closed by the {} s deadline (+{} s slack)",
                DEADLINE.as_secs(),
                SLACK.as_secs()
            ),
            pass: Some(in_time == HALF_HEADS),
            enforced: true,
            figures: close_figures,
        },
    ])
}

/// A client that sends `opening` at once, then one byte of `dribbled` every `interval`, and watches the connection
/// until the server closes it or `watch_for` passes (after the last byte, it only watches).
fn dribbling_client(
    port: u16,
    opening: &[u8],
    dribbled: &[u8],
    interval: Duration,
    watch_for: Duration,
) -> Watched {
    let failed = |reason: String| Watched {
        after: None,
        ending: Ending::Failed(reason),
    };
    let mut stream = match TcpStream::connect_timeout(&address(port), Duration::from_secs(5)) {
        Ok(stream) => stream,
        Err(error) => return failed(format!("connect: {error}")),
    };
    let first_byte = Instant::now();
    if let Err(error) = stream.write_all(opening) {
        return failed(format!("send: {error}"));
    }
    let mut answered = None;
    let mut dribbled = dribbled.iter();
    loop {
        let until = (Instant::now() + interval).min(first_byte + watch_for);
        if let Some((ending, when)) = watch(&mut stream, until, &mut answered) {
            return Watched {
                after: Some(when - first_byte),
                ending,
            };
        }
        if Instant::now() >= first_byte + watch_for {
            break;
        }
        let Some(byte) = dribbled.next() else {
            continue;
        };
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            // The server has gone: a write into a reset connection fails.
            return Watched {
                after: Some(first_byte.elapsed()),
                ending: Ending::Closed {
                    answered,
                    reset: true,
                },
            };
        }
    }
    Watched {
        after: None,
        ending: Ending::Open { answered },
    }
}

/// A slowloris client: the request line, then one header byte every [`DRIBBLE`], until the server closes or [`WATCH`] passes.
fn slowloris_client(port: u16) -> Watched {
    dribbling_client(
        port,
        b"GET /small.txt HTTP/1.1\r\n",
        b"X-Dribble: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        DRIBBLE,
        WATCH,
    )
}

/// Slowloris clients must be closed by the head deadline, counted from their first byte.
fn slowloris(port: u16) -> Row {
    let clients: Vec<_> = (0..SLOW)
        .map(|_| {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || slowloris_client(port))
        })
        .collect();
    let watched: Vec<Watched> = clients
        .into_iter()
        .map(|client| match client {
            Ok(client) => client.join().unwrap_or(Watched {
                after: None,
                ending: Ending::Failed("client thread panicked".into()),
            }),
            Err(error) => Watched {
                after: None,
                ending: Ending::Failed(format!("cannot start a client thread: {error}")),
            },
        })
        .collect();
    let in_time = watched.iter().filter(|one| closed_in_time(one)).count();
    Row {
        check: format!(
            "{SLOW} slowloris clients (1 header byte / {} ms) closed by the head deadline (+{} s slack)",
            DRIBBLE.as_millis(),
            SLACK.as_secs()
        ),
        pass: Some(in_time == SLOW),
        enforced: true,
        figures: format!(
            "{in_time} of {SLOW} closed in time ({}); first byte → close: {}",
            endings(&watched),
            spread(watched.iter().filter_map(|one| one.after).collect()),
        ),
    }
}

/// How many idle connections this process and the server can hold, given their soft limits on open files.
fn idle_capacity(wanted: usize, own_limit: Option<u64>, server_limit: Option<u64>) -> usize {
    let limit = [own_limit, server_limit]
        .into_iter()
        .flatten()
        .min()
        .map_or(u64::MAX, |limit| limit.saturating_sub(SPARE_DESCRIPTORS));
    wanted.min(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// Opens connections in batches (connect and send, then read the answers) until `connections` holds `target`, or `limit` passes.
///
/// Returns the failures met; stops early after too many.
fn open_idle(
    port: u16,
    connections: &mut Vec<TcpStream>,
    target: usize,
    limit: Duration,
) -> Vec<String> {
    let started = Instant::now();
    let request = get_request("/small.txt");
    let mut failures = Vec::new();
    while connections.len() < target && started.elapsed() < limit && failures.len() < 50 {
        let batch = (target - connections.len()).min(100);
        let mut sent = Vec::with_capacity(batch);
        for _ in 0..batch {
            let opened = TcpStream::connect_timeout(&address(port), Duration::from_secs(5))
                .and_then(|mut stream| {
                    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                    stream.write_all(request.as_bytes())?;
                    Ok(stream)
                });
            match opened {
                Ok(stream) => sent.push(stream),
                Err(error) => failures.push(format!("connect or send: {error}")),
            }
        }
        for mut stream in sent {
            match read_answer(&mut stream) {
                Ok(head) if head.status == 200 => connections.push(stream),
                Ok(head) => failures.push(format!("answered {}", head.status)),
                Err(error) => failures.push(format!("answer: {error}")),
            }
        }
    }
    failures
}

/// Threads and VmRSS with 1000 and then 10 000 idle keep-alive connections.
fn idle(server: &mut ServerProcess) -> Vec<Row> {
    let own_limit = procfs::open_files_soft_limit("self");
    let server_limit = procfs::open_files_soft_limit(&server.pid.to_string());
    let mut connections = Vec::new();
    let mut rows = Vec::new();
    for (wanted, limit) in IDLE_PHASES {
        let target = idle_capacity(wanted, own_limit, server_limit);
        let mut check =
            format!("{wanted} idle keep-alive connections (`--max-connections 20000`, no timeout)");
        if target < wanted {
            let message = format!(
                "lowered to {target}: soft limits on open files are {} here and {} in the server, and {SPARE_DESCRIPTORS} are kept spare (raise `ulimit -n`)",
                own_limit.map_or("unlimited".into(), |limit| limit.to_string()),
                server_limit.map_or("unlimited".into(), |limit| limit.to_string()),
            );
            eprintln!("xtask stalls: {wanted} idle connections {message}");
            check.push_str(&format!(", {message}"));
        }
        let started = Instant::now();
        let failures = open_idle(server.port, &mut connections, target, limit);
        let elapsed = started.elapsed();
        // Let the server finish what the last answers started (a thread going back to its read).
        std::thread::sleep(Duration::from_millis(500));
        let status = procfs::status(server.pid).unwrap_or_default();
        let server_fds =
            procfs::descriptor_count(server.pid).map_or("?".into(), |count| count.to_string());
        let mut figures = format!(
            "{} threads, VmRSS {}, VmHWM {}; server descriptors {server_fds}",
            status
                .threads
                .map_or("?".into(), |threads| threads.to_string()),
            status.rss_kib.map_or("?".into(), mebibytes),
            status.peak_rss_kib.map_or("?".into(), mebibytes),
        );
        if connections.len() >= target {
            figures = format!(
                "{} open in {:.1} s; {figures}",
                connections.len(),
                elapsed.as_secs_f64()
            );
        } else {
            figures = format!(
                "did not finish in {} s: {} of {target} open; {figures}",
                limit.as_secs(),
                connections.len()
            );
        }
        if let Some(first) = failures.first() {
            figures.push_str(&format!("; {} failures, first: {first}", failures.len()));
        }
        if let Some(status) = server.exit_status() {
            figures.push_str(&format!("; the server exited: {status}"));
        }
        eprintln!("xtask stalls: {check}: {figures}");
        rows.push(Row {
            check,
            pass: None,
            enforced: true,
            figures,
        });
        if connections.len() < target || server.exit_status().is_some() {
            break;
        }
    }
    connections.clear();
    rows
}

/// Rows for TLS criteria that could not be measured: failed, and enforced as the switch says.
fn not_run(checks: &[String], reason: &str, enforce: bool) -> Vec<Row> {
    checks
        .iter()
        .map(|check| Row {
            check: check.clone(),
            pass: Some(false),
            enforced: enforce,
            figures: format!("not run: {reason}"),
        })
        .collect()
}

/// The TLS checks, each against its own server with the run's self-signed certificate.
fn tls_checks(
    program: &Path,
    tree: &Tree,
    extra: &[String],
    core: Option<u32>,
    enforce: bool,
) -> Vec<Row> {
    let limit = DEADLINE.mul_f64(TLS_DEADLINE_FACTOR);
    let trickle_checks = [
        format!(
            "{TLS_TRICKLERS} TLS clients sending a ClientHello 1 byte / {} s under `--max-connections {TLS_MAX_CONNECTIONS}`, closed within {TLS_DEADLINE_FACTOR} × the {} s timeout ({:.1} s) of their first byte",
            TLS_TRICKLE.as_secs(),
            DEADLINE.as_secs(),
            limit.as_secs_f64()
        ),
        format!(
            "a good TLS client started {} ms after them, answered within {:.1} s",
            TLS_GOOD_CLIENT_DELAY.as_millis(),
            limit.as_secs_f64()
        ),
    ];
    let idle_check = format!(
        "{TLS_IDLE} idle TLS connections (handshake and one answer each, `--max-connections 20000`, no timeout): at most {TLS_IDLE_THREADS_LIMIT} threads and {} MiB VmRSS",
        TLS_IDLE_RSS_LIMIT_KIB / 1024
    );
    let prepared =
        tls::self_signed(&tree.root).and_then(|pair| Ok((pair, tls::client_script(&tree.root)?)));
    let (pair, script) = match prepared {
        Ok(prepared) => prepared,
        Err(reason) => {
            let mut rows = not_run(&trickle_checks, &reason, enforce);
            rows.extend(not_run(&[idle_check], &reason, enforce));
            return rows;
        }
    };
    let mut tls_arguments = vec![
        "--tls-cert".to_owned(),
        pair.certificate.to_string_lossy().into_owned(),
        "--tls-key".to_owned(),
        pair.key.to_string_lossy().into_owned(),
    ];
    tls_arguments.extend(extra.iter().cloned());

    let mut arguments = vec![
        "--timeout".to_owned(),
        DEADLINE.as_secs().to_string(),
        "--max-connections".to_owned(),
        TLS_MAX_CONNECTIONS.to_string(),
    ];
    arguments.extend(tls_arguments.iter().cloned());
    let mut rows = match ServerProcess::start(
        program,
        &tree.www(),
        &arguments,
        core,
        &tree.log("tls-trickle"),
    ) {
        Ok(mut server) => {
            eprintln!("xtask stalls: `{}`", shown_tls(&server.command));
            let rows = tls_trickle(&mut server, &script, &trickle_checks, enforce);
            drop(server);
            rows
        }
        Err(reason) => not_run(&trickle_checks, &reason, enforce),
    };

    let mut arguments = vec!["--max-connections".to_owned(), "20000".to_owned()];
    arguments.extend(tls_arguments);
    rows.push(
        match ServerProcess::start(
            program,
            &tree.www(),
            &arguments,
            core,
            &tree.log("tls-idle"),
        ) {
            Ok(mut server) => {
                eprintln!("xtask stalls: `{}`", shown_tls(&server.command));
                tls_idle(&mut server, &script, idle_check, enforce)
            }
            Err(reason) => not_run(&[idle_check], &reason, enforce).remove(0),
        },
    );
    rows
}

/// A command line with the temporary certificate paths shortened, as the report shows the served directory.
fn shown_tls(command: &str) -> String {
    command
        .split(' ')
        .map(|word| match word.rsplit_once("/tls/") {
            Some((_, name)) => format!("<tmp>/tls/{name}"),
            None => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trickling ClientHellos hold every connection slot; each must be closed in time, and a good client served meanwhile.
fn tls_trickle(
    server: &mut ServerProcess,
    script: &Path,
    checks: &[String; 2],
    enforce: bool,
) -> Vec<Row> {
    let hello = match tls::client_hello(script) {
        Ok(hello) => hello,
        Err(reason) => return not_run(checks, &reason, enforce),
    };
    let port = server.port;
    let limit = DEADLINE.mul_f64(TLS_DEADLINE_FACTOR);
    let tricklers: Vec<_> = (0..TLS_TRICKLERS)
        .map(|_| {
            let hello = hello.clone();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    dribbling_client(port, &hello[..1], &hello[1..], TLS_TRICKLE, TLS_WATCH)
                })
        })
        .collect();
    std::thread::sleep(TLS_GOOD_CLIENT_DELAY);
    let good = tls::get(script, port, "/small.txt", TLS_GOOD_CLIENT_PATIENCE);
    let watched: Vec<Watched> = tricklers
        .into_iter()
        .map(|client| match client {
            Ok(client) => client.join().unwrap_or(Watched {
                after: None,
                ending: Ending::Failed("client thread panicked".into()),
            }),
            Err(error) => Watched {
                after: None,
                ending: Ending::Failed(format!("cannot start a client thread: {error}")),
            },
        })
        .collect();
    let in_time = watched
        .iter()
        .filter(|one| closed_within(one, limit))
        .count();
    let mut trickle_figures = format!(
        "{in_time} of {TLS_TRICKLERS} closed within {:.1} s ({}); first byte → close: {} (a {}-byte ClientHello, so never complete in {} s)",
        limit.as_secs_f64(),
        endings(&watched),
        spread(watched.iter().filter_map(|one| one.after).collect()),
        hello.len(),
        TLS_WATCH.as_secs()
    );
    let (good_pass, mut good_figures) = match &good {
        Ok(tls::Get::Answered {
            status,
            protocol,
            elapsed,
            ..
        }) => (
            *status == 200 && *elapsed <= limit,
            format!(
                "answered {status} over {protocol} {:.2} s after it started",
                elapsed.as_secs_f64()
            ),
        ),
        Ok(tls::Get::Failed { elapsed, reason }) => (
            false,
            format!(
                "not answered: gave up after {:.2} s: {reason}",
                elapsed.as_secs_f64()
            ),
        ),
        Err(reason) => (false, format!("not run: {reason}")),
    };
    if let Some(status) = server.exit_status() {
        trickle_figures.push_str(&format!("; the server exited: {status}"));
        good_figures.push_str(&format!("; the server exited: {status}"));
    }
    eprintln!("xtask stalls: TLS trickle: {trickle_figures}; good client: {good_figures}");
    vec![
        Row {
            check: checks[0].clone(),
            pass: Some(in_time == TLS_TRICKLERS),
            enforced: enforce,
            figures: trickle_figures,
        },
        Row {
            check: checks[1].clone(),
            pass: Some(good_pass),
            enforced: enforce,
            figures: good_figures,
        },
    ]
}

/// Threads and VmRSS with [`TLS_IDLE`] TLS connections held idle after a handshake and one answer each.
fn tls_idle(server: &mut ServerProcess, script: &Path, mut check: String, enforce: bool) -> Row {
    let target = idle_capacity(
        TLS_IDLE,
        procfs::open_files_soft_limit("self"),
        procfs::open_files_soft_limit(&server.pid.to_string()),
    );
    if target < TLS_IDLE {
        check.push_str(&format!(
            ", lowered to {target} by the soft limits on open files (raise `ulimit -n`)"
        ));
    }
    let held = tls::hold_idle(
        script,
        server.port,
        "/small.txt",
        target,
        Duration::from_secs(30),
    );
    let held = match held {
        Ok(held) => held,
        Err(reason) => {
            return Row {
                check,
                pass: Some(false),
                enforced: enforce,
                figures: format!("not measured: {reason}"),
            }
        }
    };
    // Let the server finish what the last answers started (a thread going back to its read).
    std::thread::sleep(Duration::from_millis(500));
    let status = procfs::status(server.pid).unwrap_or_default();
    let server_fds =
        procfs::descriptor_count(server.pid).map_or("?".into(), |count| count.to_string());
    let mut figures = format!(
        "{} of {target} held, opened in {:.1} s; {} threads, VmRSS {}, VmHWM {}; server descriptors {server_fds}",
        held.count,
        held.seconds,
        status
            .threads
            .map_or("?".into(), |threads| threads.to_string()),
        status.rss_kib.map_or("?".into(), mebibytes),
        status.peak_rss_kib.map_or("?".into(), mebibytes),
    );
    if held.failures > 0 {
        figures.push_str(&format!(
            "; {} failures, first: {}",
            held.failures,
            held.first_failure.as_deref().unwrap_or("?")
        ));
    }
    if let Some(exit) = server.exit_status() {
        figures.push_str(&format!("; the server exited: {exit}"));
    }
    let pass = held.count == TLS_IDLE
        && status
            .threads
            .is_some_and(|threads| threads <= TLS_IDLE_THREADS_LIMIT)
        && status
            .rss_kib
            .is_some_and(|rss| rss <= TLS_IDLE_RSS_LIMIT_KIB);
    eprintln!("xtask stalls: {check}: {figures}");
    drop(held);
    Row {
        check,
        pass: Some(pass),
        enforced: enforce,
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_follows_the_smaller_soft_limit() {
        assert_eq!(idle_capacity(10_000, Some(20_000), Some(20_000)), 10_000);
        assert_eq!(idle_capacity(10_000, Some(1024), Some(20_000)), 824);
        assert_eq!(idle_capacity(10_000, Some(20_000), Some(4096)), 3896);
        assert_eq!(idle_capacity(1000, None, None), 1000);
        assert_eq!(idle_capacity(1000, Some(100), None), 0);
    }

    fn closed(after_ms: u64, answered: Option<u16>, reset: bool) -> Watched {
        Watched {
            after: Some(Duration::from_millis(after_ms)),
            ending: Ending::Closed { answered, reset },
        }
    }

    #[test]
    fn judges_and_counts_the_endings() {
        assert!(closed_in_time(&closed(2100, Some(408), false)));
        assert!(closed_in_time(&closed(3000, None, true)));
        assert!(!closed_in_time(&closed(3001, None, false)));
        let open = Watched {
            after: None,
            ending: Ending::Open {
                answered: Some(408),
            },
        };
        assert!(!closed_in_time(&open));
        let watched = [
            closed(2100, Some(408), false),
            closed(2200, None, false),
            closed(2300, None, true),
            open,
            Watched {
                after: None,
                ending: Ending::Failed("connect: refused".into()),
            },
        ];
        assert_eq!(
            endings(&watched),
            "1 by a 408 then close, 1 by EOF without an answer, 1 by reset, 1 still open after 6 s, 1 could not connect or send"
        );
        let times = watched.iter().filter_map(|one| one.after).collect();
        assert_eq!(spread(times), "min 2.10 s, median 2.20 s, max 2.30 s");
        assert_eq!(spread(Vec::new()), "none");
    }

    #[test]
    fn the_tls_criteria_follow_the_switch() {
        assert_eq!(
            parse_options(&[]),
            Ok(Options {
                enforce_tls: ENFORCE_TLS
            })
        );
        assert_eq!(
            parse_options(&["--enforce-tls".to_owned()]),
            Ok(Options { enforce_tls: true })
        );
        assert!(parse_options(&["--workers".to_owned()]).is_err());
        let row = |pass, enforced| Row {
            check: "c".into(),
            pass,
            enforced,
            figures: "f".into(),
        };
        assert_eq!(row(Some(false), true).result(), "**fail**");
        assert!(row(Some(false), true).fails());
        assert_eq!(
            row(Some(false), false).result(),
            "report-only: **would fail**"
        );
        assert!(!row(Some(false), false).fails());
        assert_eq!(row(Some(true), false).result(), "report-only: would pass");
        assert_eq!(row(None, true).result(), "measured");
        assert!(!row(None, true).fails());
    }

    #[test]
    fn a_tls_alert_is_no_http_answer() {
        let watched = [closed(2500, Some(0), false), closed(2600, None, false)];
        assert_eq!(
            endings(&watched),
            "0 by a 408 then close, 1 by EOF without an answer, 0 by reset, 1 after bytes that are no HTTP answer (a TLS alert)"
        );
        assert!(closed_within(&watched[0], Duration::from_millis(3000)));
        assert!(!closed_within(&watched[1], Duration::from_millis(2500)));
    }

    #[test]
    fn shortens_the_certificate_paths() {
        assert_eq!(
            shown_tls("simplehttp 0 --tls-cert /tmp/xtask-stalls-1-0/tls/cert.pem --tls-key /tmp/x/tls/key.pem"),
            "simplehttp 0 --tls-cert <tmp>/tls/cert.pem --tls-key <tmp>/tls/key.pem"
        );
    }

    #[test]
    fn a_dribbling_client_sends_a_byte_at_a_time_until_closed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            let mut byte = [0u8; 16];
            while received.len() < 4 {
                let count = stream.read(&mut byte).unwrap();
                assert!(count > 0, "the client closed first");
                received.extend_from_slice(&byte[..count]);
            }
            received
        });
        let interval = Duration::from_millis(50);
        let watched = dribbling_client(port, b"ab", b"cdefgh", interval, Duration::from_secs(5));
        assert_eq!(server.join().unwrap(), b"abcd");
        assert!(matches!(
            watched.ending,
            Ending::Closed { answered: None, .. }
        ));
        // Two bytes after the opening, one interval apart.
        let after = watched.after.unwrap();
        assert!(after >= interval * 2, "{after:?}");
        assert!(after < Duration::from_secs(5), "{after:?}");
    }

    #[test]
    fn a_watch_sees_an_answer_then_the_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0u8; 64];
            let _ = stream.read(&mut head);
            stream
                .write_all(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
                .unwrap();
        });
        let (sender, sent) = mpsc::channel();
        let watched = half_head_client(port, sender);
        assert_eq!(sent.recv().unwrap(), Ok(()));
        server.join().unwrap();
        assert_eq!(
            watched.ending,
            Ending::Closed {
                answered: Some(408),
                reset: false
            }
        );
        assert!(closed_in_time(&watched));
    }
}
