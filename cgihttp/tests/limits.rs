//! What a client that pushes on the limits costs the real `cgihttp` binary: request bodies bounded in size (`--max-body-size`)
//! and in time (the CGI timeout bounds a trickled chunked body), running scripts capped (`--max-cgi`, 503 beyond),
//! and one thread per running script, counted in `/proc`.

// The watcher is shared with simplehttp's fault tests.
mod site;
#[path = "../../simplehttp/tests/faults/watch.rs"]
mod watch;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use site::Site;
use watch::{wait_for_script, working_in, Server};

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

/// The server's thread count, from `/proc/<pid>/status`.
fn threads(server: &Server) -> usize {
    let status = fs::read_to_string(format!("/proc/{}/status", server.pid))
        .unwrap_or_else(|error| panic!("read status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no thread count in {status}"))
}

/// Sends `request` on a new connection and returns the stream, for the answer to be read later.
fn send(server: &Server, request: &str) -> TcpStream {
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_else(|error| panic!("read timeout: {error}"));
    stream
        .write_all(request.replace('\n', "\r\n").as_bytes())
        .unwrap_or_else(|error| panic!("send: {error}"));
    stream
}

/// The server's thread count once one request has been served, so that its serving threads
/// (a worker, the watcher, the signal watcher) count as idle.
fn warm_threads(server: &Server) -> usize {
    let answer = read_all(send(
        server,
        "GET /cgi-bin/hello.sh HTTP/1.1\nHost: x\nConnection: close\n\n",
    ));
    assert!(answer.ends_with("hello"), "{answer}");
    thread::sleep(Duration::from_millis(100));
    threads(server)
}

fn read_all(mut stream: TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

// Defence: `--max-cgi` caps the scripts that run at once; one more is answered at once with 503 and Retry-After,
// never queued behind them, and the cap holds the server's threads, whatever the traffic.
#[test]
fn scripts_beyond_max_cgi_get_503_with_retry_after() {
    let site = {
        let site = Site::new("cgihttp-limits-");
        site.script(
            "count.sh",
            "printf 'Content-Type: text/plain\\n\\n%s ' \"$CONTENT_LENGTH\"\nwc -c | tr -d ' '",
        );
        site
    };
    site.script(
        "slow.sh",
        "sleep 2\nprintf 'Content-Type: text/plain\\n\\nslow'",
    );
    let server = site.serve(&["--workers", "1", "--max-cgi", "2"]);
    let idle = warm_threads(&server);
    let running: Vec<TcpStream> = (0..2)
        .map(|_| {
            send(
                &server,
                "GET /cgi-bin/slow.sh HTTP/1.1\nHost: x\nConnection: close\n\n",
            )
        })
        .collect();
    // Both scripts (and no more) are running before the next requests come.
    let deadline = Instant::now() + Duration::from_secs(5);
    while working_in(site.directory()).len() < 2 {
        assert!(Instant::now() < deadline, "the scripts never started");
        thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let refused: Vec<String> = (0..6)
        .map(|_| {
            read_all(send(
                &server,
                "GET /cgi-bin/slow.sh HTTP/1.1\nHost: x\nConnection: close\n\n",
            ))
        })
        .collect();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refusals waited: {:?}",
        started.elapsed()
    );
    for answer in &refused {
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(answer.contains("\r\nRetry-After: 1\r\n"), "{answer}");
        assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    }
    // Two scripts running, whatever was asked: the two requests' threads, and at most one spare worker.
    let busy = threads(&server);
    assert!(busy <= idle + 2 + 1, "{busy} threads (idle {idle})");
    for stream in running {
        let answer = read_all(stream);
        assert!(answer.ends_with("\r\n\r\nslow"), "{answer}");
    }
    server.expect_log("CGI script refused: 2 scripts already running");
    // Slots come back when scripts end.
    let answer = read_all(send(
        &server,
        "GET /cgi-bin/hello.sh HTTP/1.1\nHost: x\nConnection: close\n\n",
    ));
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
}

// Defence: a running script costs one thread, its request's own (four before: stdout reader, stderr logger and timer besides).
#[test]
fn a_running_script_costs_one_thread() {
    let site = {
        let site = Site::new("cgihttp-limits-");
        site.script(
            "count.sh",
            "printf 'Content-Type: text/plain\\n\\n%s ' \"$CONTENT_LENGTH\"\nwc -c | tr -d ' '",
        );
        site
    };
    site.script(
        "talk.sh",
        "printf 'Content-Type: text/plain\\n\\nstarted'\necho noise >&2\nsleep 2",
    );
    let server = site.serve(&["--workers", "1", "--max-cgi", "16"]);
    let idle = warm_threads(&server);
    let scripts = 8;
    let streams: Vec<TcpStream> = (0..scripts)
        .map(|_| {
            send(
                &server,
                "GET /cgi-bin/talk.sh HTTP/1.1\nHost: x\nConnection: close\n\n",
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while working_in(site.directory()).len() < scripts {
        assert!(Instant::now() < deadline, "the scripts never started");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(300));
    let busy = threads(&server);
    // One per request holding its worker, and at most one spare worker the watcher starts.
    eprintln!("{busy} threads for {scripts} scripts (idle {idle})");
    assert!(
        busy <= idle + scripts + 1,
        "{busy} threads for {scripts} scripts (idle {idle})"
    );
    for stream in streams {
        assert!(read_all(stream).contains("started"));
    }
}

// Defence: `--max-body-size` bounds every body passed to a script: a declared Content-Length over it gets 413 before
// a byte is read, and a chunked body, even one whose chunk declares a terabyte, gets 413 as soon as its count passes it.
#[test]
fn bodies_over_max_body_size_get_413() {
    let site = {
        let site = Site::new("cgihttp-limits-");
        site.script(
            "count.sh",
            "printf 'Content-Type: text/plain\\n\\n%s ' \"$CONTENT_LENGTH\"\nwc -c | tr -d ' '",
        );
        site
    };
    let server = site.serve(&["--workers", "1", "--max-body-size", "64K"]);
    let answer = read_all(send(
        &server,
        "POST /cgi-bin/count.sh HTTP/1.1\nHost: x\nContent-Length: 1099511627776\n\n",
    ));
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 413 "),
        "{answer}"
    );

    let mut stream = send(
        &server,
        "POST /cgi-bin/count.sh HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n10000000000\n",
    );
    let started = Instant::now();
    // A megabyte is offered; the server stops taking it past 64 KiB, so the writes may fail once it has answered.
    for _ in 0..64 {
        if stream.write_all(&[b'x'; 16 * 1024]).is_err() {
            break;
        }
    }
    let answer = read_all(stream);
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 413 "),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // No script ran for either.
    assert!(!server
        .log()
        .contains("\"POST /cgi-bin/count.sh HTTP/1.1\" 200"));

    // Within the limit, both framings reach the script whole.
    let body = "b".repeat(60 * 1024);
    let answer = read_all(send(
        &server,
        &format!(
            "POST /cgi-bin/count.sh HTTP/1.1\nHost: x\nConnection: close\nContent-Length: {}\n\n{body}",
            body.len()
        ),
    ));
    assert!(
        answer.ends_with("\r\n\r\n61440 61440\n") || answer.contains("61440 61440"),
        "{answer}"
    );
    let answer = read_all(send(
        &server,
        &format!(
            "POST /cgi-bin/count.sh HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked\n\n{:x}\n{body}\n0\n\n",
            body.len()
        ),
    ));
    assert!(answer.contains("61440 61440"), "{answer}");
}

// Defence: a chunked body trickled to a script, each chunk well within the idle timeout, is cut at the CGI timeout
// (a total bound on spooling it) with 408; the script never starts.
#[test]
fn a_trickled_chunked_body_is_cut_at_the_cgi_timeout() {
    let site = {
        let site = Site::new("cgihttp-limits-");
        site.script(
            "count.sh",
            "printf 'Content-Type: text/plain\\n\\n%s ' \"$CONTENT_LENGTH\"\nwc -c | tr -d ' '",
        );
        site
    };
    let server = site.serve(&["--workers", "1", "--cgi-timeout", "2", "--timeout", "30"]);
    let mut stream = send(
        &server,
        "POST /cgi-bin/count.sh HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n",
    );
    stream
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap_or_else(|error| panic!("read timeout: {error}"));
    let started = Instant::now();
    let mut answer = Vec::new();
    // One byte of body every 300 ms, for up to 10 s: far inside the 30 s idle timeout every time.
    while started.elapsed() < Duration::from_secs(10) {
        if stream.write_all(b"1\r\nx\r\n").is_err() {
            break;
        }
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(_) => {}
        }
        if answer.ends_with(b"</html>\n") {
            break;
        }
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 408 "),
        "{answer}"
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    server.expect_log("CGI request body not received within the CGI timeout");
    assert!(working_in(site.directory()).is_empty());
    let _ = wait_for_script;
}
