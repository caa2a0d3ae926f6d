//! Requests per second over one keep-alive connection, for httpclient, ureq and a floor, against the same server,
//! with each client's own CPU time per request.
//!
//! `BENCH_URL=http://127.0.0.1:8080/ cargo bench -p pyhttp-httpclient --bench keepalive` measures a server of your choice
//! (nginx in `cargo xtask bench`); without `BENCH_URL` a small built-in keep-alive server on 127.0.0.1:0 is used,
//! in this process (so the CPU figures then include the server's).
//! `BENCH_REQUESTS` sets the number of requests per client (default 20000).
//! Each client first sends a few warm-up requests, then the timed ones; every body is read to its end.
//!
//! The floor is no client at all: a raw `TcpStream` writing one fixed request and reading exactly the response's
//! known length, without parsing. Nothing can go faster against the same server, so every rate is also given as
//! a fraction of it.
//! CPU time is the process's user + system time across the timed loop, in nanoseconds from
//! `/proc/self/task/*/schedstat` (Linux; see `cpu_time`).
//!
//! With the argument `--serve` the program only runs the built-in server (a canned response, faster than nginx)
//! and prints `listening http://127.0.0.1:PORT/`, until killed: `cargo xtask bench` runs it as its own process.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, world!";

/// Warm-up requests before each timed loop.
const WARM_UP: usize = 100;

/// A keep-alive server answering every GET with a 13-byte body, one thread per connection.
fn builtin_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut socket = socket;
                let _ = socket.set_nodelay(true);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    BODY.len()
                );
                let mut reply = reply.into_bytes();
                reply.extend_from_slice(BODY);
                let mut pending = Vec::new();
                let mut buffer = [0; 8192];
                loop {
                    match socket.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(read) => pending.extend_from_slice(&buffer[..read]),
                    }
                    while let Some(end) =
                        pending.windows(4).position(|window| window == b"\r\n\r\n")
                    {
                        pending.drain(..end + 4);
                        if socket.write_all(&reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{address}/")
}

/// The process's CPU time so far (user + system, every thread).
///
/// The sum of each thread's on-CPU nanoseconds from `/proc/self/task/*/schedstat`; where that file is missing,
/// user + system time from `/proc/self/stat` (fields 14 and 15, in USER_HZ ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    schedstat_time().or_else(stat_time)
}

fn schedstat_time() -> Option<Duration> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let schedstat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn stat_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    // USER_HZ is 100 on every Linux architecture that reports these fields.
    Some(Duration::from_millis((ticks(14)? + ticks(15)?) * 10))
}

/// One client's result: requests per second (wall clock) and CPU time per request, when known.
struct Measured {
    per_second: f64,
    cpu_per_request: Option<Duration>,
}

/// Runs `warm_up` requests, then times `requests` of them, wall clock and CPU.
fn measure<E>(requests: usize, mut run: impl FnMut(usize) -> Result<(), E>) -> Result<Measured, E> {
    run(WARM_UP)?;
    let cpu_before = cpu_time();
    let started = Instant::now();
    run(requests)?;
    let elapsed = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(Measured {
        per_second: requests as f64 / elapsed.as_secs_f64(),
        cpu_per_request: cpu.map(|cpu| cpu / requests as u32),
    })
}

/// The floor: one fixed request written, exactly the response's length read back, nothing parsed.
///
/// One probe request, outside the timed loop, learns that length from the head's Content-Length;
/// the server must answer every request with the same number of bytes (nginx and the built-in server do).
fn bench_floor(url: &str, requests: usize) -> Result<Measured, String> {
    let url = httpclient::Url::parse(url).map_err(|error| error.to_string())?;
    let io = |error: std::io::Error| error.to_string();
    let mut socket = TcpStream::connect(url.netloc.as_str()).map_err(io)?;
    socket.set_nodelay(true).map_err(io)?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n\r\n",
        url.target, url.netloc
    )
    .into_bytes();
    socket.write_all(&request).map_err(io)?;
    let mut response = Vec::new();
    let mut block = [0; 4096];
    let head_end = loop {
        if let Some(end) = response.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let read = socket.read(&mut block).map_err(io)?;
        if read == 0 {
            return Err("the server closed during the probe".into());
        }
        response.extend_from_slice(&block[..read]);
    };
    let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or("the probe's answer has no Content-Length")?;
    let total = head_end + length;
    if response.len() > total {
        return Err("the server sent more than one response".into());
    }
    let mut rest = vec![0; total - response.len()];
    socket.read_exact(&mut rest).map_err(io)?;
    let mut answer = vec![0; total];
    let measured = measure(requests, |count| {
        for _ in 0..count {
            socket.write_all(&request)?;
            socket.read_exact(&mut answer)?;
        }
        Ok::<(), std::io::Error>(())
    })
    .map_err(io)?;
    if !answer.starts_with(b"HTTP/1.1 200 ") {
        return Err("the responses changed length: the floor lost step".into());
    }
    Ok(measured)
}

fn bench_httpclient(url: &str, requests: usize) -> Result<Measured, httpclient::Error> {
    let url = httpclient::Url::parse(url)?;
    let mut conn = url.connection(httpclient::Config::default())?;
    let mut body = Vec::with_capacity(64 * 1024);
    measure(requests, |count| {
        for _ in 0..count {
            conn.request("GET", &url.target, httpclient::Body::Empty, &[])?;
            let mut response = conn.getresponse()?;
            body.clear();
            response.read_to_end(&mut body)?;
        }
        Ok(())
    })
}

fn bench_ureq(url: &str, requests: usize) -> Result<Measured, ureq::Error> {
    let agent = ureq::Agent::new_with_defaults();
    measure(requests, |count| {
        for _ in 0..count {
            let mut response = agent.get(url).call()?;
            let _body = response.body_mut().read_to_vec()?;
        }
        Ok(())
    })
}

/// `name: 12345 requests/s, 12.3 us CPU/request`, the line `cargo xtask bench` reads.
fn report(name: &str, measured: &Measured) {
    let cpu = measured.cpu_per_request.map_or(String::new(), |cpu| {
        format!(", {:.1} us CPU/request", cpu.as_secs_f64() * 1e6)
    });
    println!(
        "{:<11} {:>10.0} requests/s{cpu}",
        format!("{name}:"),
        measured.per_second
    );
}

fn main() {
    if std::env::args().any(|argument| argument == "--serve") {
        // Rust's stdout is line-buffered, so the reader on the pipe sees this line at once.
        println!("listening {}", builtin_server());
        loop {
            std::thread::park();
        }
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a quick run.
    let quick = !std::env::args().any(|argument| argument == "--bench");
    let url = std::env::var("BENCH_URL").unwrap_or_else(|_| builtin_server());
    let requests = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 200 } else { 20_000 });
    println!("keep-alive GET {url}, {requests} requests per client");
    match bench_floor(&url, requests) {
        Ok(floor) => report("floor", &floor),
        Err(error) => eprintln!("floor failed: {error}"),
    }
    let ours = match bench_httpclient(&url, requests) {
        Ok(measured) => measured,
        Err(error) => {
            eprintln!("httpclient failed: {error}");
            std::process::exit(1);
        }
    };
    report("httpclient", &ours);
    match bench_ureq(&url, requests) {
        Ok(theirs) => {
            report("ureq", &theirs);
            println!(
                "httpclient / ureq: {:.2}x",
                ours.per_second / theirs.per_second
            );
        }
        Err(error) => eprintln!("ureq failed: {error}"),
    }
}
