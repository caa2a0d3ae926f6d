//! The slow-clients scenario: clients ask for a large file and never read it, and fresh small GETs are timed meanwhile.
//!
//! Each held client shrinks its receive buffer before connecting, so the server's sends fill the socket at once and
//! stay full: a server that writes with blocking calls keeps a thread per held client, one that parks the rest of the
//! answer on EPOLLOUT keeps none. The fresh GETs, each on a new connection and started on a fixed schedule (visitors
//! arriving meanwhile), show whether anyone else is still served and how fast; the server's `Threads` and `VmRSS`
//! are read while they run. All clients run on one thread pinned to the load core, the server on its own core, as wrk's
//! scenarios are pinned.

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::scenarios::{Role, Scenario, Target};
use super::servers::{self, Binaries, Workdir};
use crate::soak::http::{address, get_request, percentile, timed_get};
use crate::soak::procfs;

/// Fresh GETs timed while the slow clients are held.
const FRESH: usize = 200;
/// Between the starts of two fresh GETs. They start on this schedule whether or not earlier ones were answered,
/// so a stall delays every GET that arrives during it, as it would delay every visitor, instead of the one that
/// happened to be waiting (one at a time, a 3 s stall would be one sample in 200, below the p99).
const FRESH_INTERVAL: Duration = Duration::from_millis(20);
/// How long one fresh GET may take before it counts as failed.
const FRESH_TIMEOUT: Duration = Duration::from_secs(10);
/// The held clients' receive buffer; the kernel doubles it and keeps a floor, so the window stays a few KiB.
const RECEIVE_BUFFER: usize = 4096;
/// Between the last held request and the first fresh GET: enough for the server to accept them and start writing,
/// short enough that the fresh GETs meet a server still taking the slow clients on, as a visitor would.
const SETTLE: Duration = Duration::from_millis(200);

/// What one server showed with the slow clients held.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    /// Slow clients whose request went out.
    pub held: usize,
    /// Slow clients that could not connect or send, and the first reason.
    pub held_failures: usize,
    pub first_held_failure: Option<String>,
    /// Server sockets on its port with bytes queued but not yet acknowledged, after the fresh GETs.
    pub queued: Option<usize>,
    /// The answered fresh GETs' times, connect to the last body byte, sorted.
    pub times: Vec<Duration>,
    /// Fresh GETs that failed (timed out, refused, cut short, not 200), and the first reason.
    pub failures: usize,
    pub first_failure: Option<String>,
    /// The most `Threads` and `VmRSS` read while the slow clients were held.
    pub threads: Option<u64>,
    pub rss_kib: Option<u64>,
}

impl Slow {
    pub fn p50(&self) -> Option<Duration> {
        percentile(&self.times, 50.0)
    }

    pub fn p99(&self) -> Option<Duration> {
        percentile(&self.times, 99.0)
    }

    pub fn max(&self) -> Option<Duration> {
        self.times.last().copied()
    }
}

/// One line of the slow-clients table.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowRow {
    pub scenario: &'static str,
    pub held: u32,
    pub role: Role,
    pub server: &'static str,
    /// The median round, by p99; or why there is none.
    pub outcome: Result<Slow, String>,
}

/// Every target of `scenario` with `held` slow clients on `held_path`, `rounds` times interleaved; the median round by p99 is kept.
pub fn measure(
    scenario: &Scenario,
    held_path: &'static str,
    held: u32,
    rounds: u32,
    workdir: &Workdir,
    binaries: &Binaries,
    pinned: bool,
) -> Vec<SlowRow> {
    let (server_core, load_core) = if pinned {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let mut results: Vec<Vec<Slow>> = vec![Vec::new(); scenario.targets.len()];
    let mut reasons: Vec<Option<String>> = vec![None; scenario.targets.len()];
    for round in 1..=rounds {
        for (index, target) in scenario.targets.iter().enumerate() {
            if reasons[index].is_some() {
                continue;
            }
            let started = Instant::now();
            match one(
                target,
                held_path,
                held as usize,
                workdir,
                binaries,
                server_core,
                load_core,
            ) {
                Ok(slow) => {
                    eprintln!(
                        "xtask bench: {} held={held} round {round}/{rounds} {}: {} fresh GETs answered, p50 {}, p99 {}, max {}, {} failed; {} threads, {} queued ({:.1} s)",
                        scenario.name,
                        target.role.label(),
                        slow.times.len(),
                        shown(slow.p50()),
                        shown(slow.p99()),
                        shown(slow.max()),
                        slow.failures,
                        slow.threads.map_or("?".into(), |threads| threads.to_string()),
                        slow.queued.map_or("?".into(), |queued| queued.to_string()),
                        started.elapsed().as_secs_f64()
                    );
                    results[index].push(slow);
                }
                Err(reason) => {
                    eprintln!("xtask bench: {}: {reason}", scenario.name);
                    reasons[index] = Some(reason);
                }
            }
        }
    }
    scenario
        .targets
        .iter()
        .zip(results.into_iter().zip(reasons))
        .map(|(target, (rounds, reason))| SlowRow {
            scenario: scenario.name,
            held,
            role: target.role,
            server: target.server.describe(),
            outcome: match (reason, median(rounds)) {
                (Some(reason), _) => Err(reason),
                (None, Some(slow)) => Ok(slow),
                (None, None) => Err("no measurement".into()),
            },
        })
        .collect()
}

fn shown(duration: Option<Duration>) -> String {
    duration.map_or("–".into(), |duration| {
        format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
    })
}

/// The round with the median p99 (the lower middle for an even count); a round without answers sorts last.
fn median(mut rounds: Vec<Slow>) -> Option<Slow> {
    rounds.sort_by_key(|slow| slow.p99().unwrap_or(Duration::MAX));
    let middle = rounds.len().saturating_sub(1) / 2;
    (middle < rounds.len()).then(|| rounds.swap_remove(middle))
}

/// One round against one server: start it afresh, hold the slow clients, time the fresh GETs, stop it.
fn one(
    target: &Target,
    held_path: &str,
    held: usize,
    workdir: &Workdir,
    binaries: &Binaries,
    server_core: Option<u32>,
    load_core: Option<u32>,
) -> Result<Slow, String> {
    if target.server.program().is_some() && binaries.ours(target.server).is_none() {
        return Err("not built yet".into());
    }
    let running = servers::start(target.server, workdir, binaries, server_core)?;
    let port = running.port;
    let pid = running.pid();
    let checked = servers::probe(port, target.path).and_then(|()| servers::probe(port, held_path));
    let result = checked.map(|()| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if let Some(core) = load_core {
                        if !pin_this_thread(core) {
                            eprintln!("xtask bench: cannot pin the slow clients to core {core}");
                        }
                    }
                    clients(port, pid, held_path, held, target.path)
                })
                .join()
                .expect("the slow clients' thread does not panic")
        })
    });
    running.stop();
    result
}

/// Pins the calling thread (and the threads it starts) to `core`, leaving the rest of the process where it was.
///
/// `taskset -p` takes a thread id, which `/proc/thread-self` names without any `unsafe`.
fn pin_this_thread(core: u32) -> bool {
    let Ok(link) = fs::read_link("/proc/thread-self") else {
        return false;
    };
    let Some(thread) = link.file_name() else {
        return false;
    };
    Command::new("taskset")
        .args(["-p", "-c", &core.to_string()])
        .arg(thread)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A slow client: a receive buffer of a few KiB, set before connecting so the window is small from the handshake on,
/// then the request, and never a read.
fn hold(port: u16, request: &[u8]) -> Result<TcpStream, String> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|error| format!("socket: {error}"))?;
    socket
        .set_recv_buffer_size(RECEIVE_BUFFER)
        .map_err(|error| format!("SO_RCVBUF: {error}"))?;
    socket
        .connect_timeout(&address(port).into(), Duration::from_secs(5))
        .map_err(|error| format!("connect: {error}"))?;
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(request)
        .map_err(|error| format!("send: {error}"))?;
    Ok(stream)
}

/// Holds the slow clients, times the fresh GETs while reading the server's threads and RSS, then lets all go.
fn clients(port: u16, pid: u32, held_path: &str, held: usize, fresh_path: &str) -> Slow {
    let request = get_request(held_path);
    let mut streams = Vec::with_capacity(held);
    let mut held_failures = Vec::new();
    for _ in 0..held {
        match hold(port, request.as_bytes()) {
            Ok(stream) => streams.push(stream),
            Err(reason) => held_failures.push(reason),
        }
    }
    std::thread::sleep(SETTLE);
    let mut threads: Option<u64> = None;
    let mut rss_kib: Option<u64> = None;
    let mut sample = || {
        let status = procfs::status(pid).unwrap_or_default();
        threads = threads.max(status.threads);
        rss_kib = rss_kib.max(status.rss_kib);
    };
    let started = Instant::now();
    let outcomes: Vec<Result<Duration, String>> = std::thread::scope(|scope| {
        let mut running = Vec::with_capacity(FRESH);
        for index in 0..FRESH {
            let due = started + FRESH_INTERVAL * index as u32;
            loop {
                sample();
                let left = due.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(5)));
            }
            running.push(
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn_scoped(scope, || timed_get(port, fresh_path, FRESH_TIMEOUT))
                    .map_err(|error| format!("cannot start a client thread: {error}")),
            );
        }
        while running
            .iter()
            .any(|handle| handle.as_ref().is_ok_and(|handle| !handle.is_finished()))
        {
            sample();
            std::thread::sleep(Duration::from_millis(10));
        }
        running
            .into_iter()
            .map(|handle| {
                handle?
                    .join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect()
    });
    let queued = fs::read_to_string("/proc/net/tcp")
        .ok()
        .map(|table| queued_sends(&table, port));
    drop(streams);
    let mut times = Vec::with_capacity(FRESH);
    let mut failures = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(elapsed) => times.push(elapsed),
            Err(reason) => failures.push(reason),
        }
    }
    times.sort_unstable();
    Slow {
        held: held - held_failures.len(),
        held_failures: held_failures.len(),
        first_held_failure: held_failures.into_iter().next(),
        queued,
        times,
        failures: failures.len(),
        first_failure: failures.into_iter().next(),
        threads,
        rss_kib,
    }
}

/// How many established sockets of `/proc/net/tcp` have local port `port` and bytes sent but not yet acknowledged
/// (`tx_queue`, which counts everything written and not acknowledged, queued or in flight).
fn queued_sends(table: &str, port: u16) -> usize {
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(queues)) =
                (fields.get(1), fields.get(3), fields.get(4))
            else {
                return false;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
            let transmit = queues
                .split_once(':')
                .and_then(|(hex, _)| u64::from_str_radix(hex, 16).ok());
            // 01 is TCP_ESTABLISHED.
            local_port == Some(port) && *state == "01" && transmit.is_some_and(|bytes| bytes > 0)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    // Three lines of /proc/net/tcp: the listener on port 8080 (0x1F90), an established socket of it with 0x4000 bytes
    // unacknowledged, and one with nothing queued.
    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A1B2 01 00004000:00000000 01:00000014 00000000     0        0 2 1 0000000000000000 20 4 1 10 -1
   2: 0100007F:1F90 0100007F:A1B3 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 1 10 -1
   3: 0100007F:A1B2 0100007F:1F90 01 00000000:00001000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 1 10 -1
";

    #[test]
    fn counts_the_servers_full_sends() {
        assert_eq!(queued_sends(TABLE, 8080), 1);
        assert_eq!(queued_sends(TABLE, 41394), 0);
        assert_eq!(queued_sends("", 8080), 0);
    }

    fn slow(p99_ms: u64) -> Slow {
        Slow {
            held: 300,
            held_failures: 0,
            first_held_failure: None,
            queued: Some(300),
            times: vec![Duration::from_millis(p99_ms)],
            failures: 0,
            first_failure: None,
            threads: Some(4),
            rss_kib: Some(4096),
        }
    }

    #[test]
    fn keeps_the_median_round_by_p99() {
        assert_eq!(median(Vec::new()), None);
        assert_eq!(median(vec![slow(3), slow(1), slow(2)]), Some(slow(2)));
        let mut unanswered = slow(1);
        unanswered.times.clear();
        assert_eq!(median(vec![unanswered, slow(5)]), Some(slow(5)));
    }

    #[test]
    fn a_slow_client_never_reads() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = hold(port, b"GET /slow.bin HTTP/1.1\r\n\r\n").unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        let mut request = [0u8; 64];
        let read = accepted.read(&mut request).unwrap();
        assert!(request[..read].starts_with(b"GET /slow.bin"));
        // The client's window is small, so the server's writes stop long before a megabyte.
        accepted.set_nonblocking(true).unwrap();
        let chunk = [0u8; 64 * 1024];
        let mut written = 0;
        while let Ok(count) = accepted.write(&chunk) {
            written += count;
            assert!(
                written < 64 * 1024 * 1024,
                "the client's window never closed"
            );
        }
        drop(stream);
    }
}
