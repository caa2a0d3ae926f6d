//! Requests per second over one keep-alive connection, for httpclient and ureq, against the same server.
//!
//! `BENCH_URL=http://127.0.0.1:8080/ cargo bench -p httpclient --bench keepalive` measures a server of your choice
//! (nginx in `cargo xtask bench`); without `BENCH_URL` a small built-in keep-alive server on 127.0.0.1:0 is used.
//! `BENCH_REQUESTS` sets the number of requests per client (default 20000).
//! Each client first sends a few warm-up requests, then the timed ones; every body is read to its end.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, world!";

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

fn per_second(requests: usize, elapsed: Duration) -> f64 {
    requests as f64 / elapsed.as_secs_f64()
}

fn bench_httpclient(url: &str, requests: usize) -> Result<f64, httpclient::Error> {
    let url = httpclient::Url::parse(url)?;
    let mut conn = url.connection(httpclient::Config::default())?;
    let mut body = Vec::with_capacity(64 * 1024);
    let mut run = |count: usize| -> Result<Duration, httpclient::Error> {
        let started = Instant::now();
        for _ in 0..count {
            conn.request("GET", &url.target, httpclient::Body::Empty, &[])?;
            let mut response = conn.getresponse()?;
            body.clear();
            response.read_to_end(&mut body)?;
        }
        Ok(started.elapsed())
    };
    run(100)?;
    Ok(per_second(requests, run(requests)?))
}

fn bench_ureq(url: &str, requests: usize) -> Result<f64, ureq::Error> {
    let agent = ureq::Agent::new_with_defaults();
    let run = |count: usize| -> Result<Duration, ureq::Error> {
        let started = Instant::now();
        for _ in 0..count {
            let mut response = agent.get(url).call()?;
            let _body = response.body_mut().read_to_vec()?;
        }
        Ok(started.elapsed())
    };
    run(100)?;
    Ok(per_second(requests, run(requests)?))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a quick run.
    let quick = !std::env::args().any(|argument| argument == "--bench");
    let url = std::env::var("BENCH_URL").unwrap_or_else(|_| builtin_server());
    let requests = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 200 } else { 20_000 });
    println!("keep-alive GET {url}, {requests} requests per client");
    let ours = match bench_httpclient(&url, requests) {
        Ok(rate) => rate,
        Err(error) => {
            eprintln!("httpclient failed: {error}");
            std::process::exit(1);
        }
    };
    println!("httpclient: {ours:>10.0} requests/s");
    match bench_ureq(&url, requests) {
        Ok(theirs) => {
            println!("ureq:       {theirs:>10.0} requests/s");
            println!("httpclient / ureq: {:.2}x", ours / theirs);
        }
        Err(error) => eprintln!("ureq failed: {error}"),
    }
}
