//! Faults around a CGI script, against the real `cgihttp` binary: clients that leave while a script runs,
//! and scripts that crash, hang, print garbage or hold their output open.
//!
//! Each test names the outcome it pins down: an answer (502, 504, a complete or a visibly cut body) or a closed connection,
//! a log line, the script's process group gone, and the server back to the descriptors it held before, serving the next request.
//! None of this is in Python's test_httpservers (CGIHTTPServerTestCase has no faulty scripts; Python waits for a script for ever);
//! the outcomes follow RFC 3875 §3.4 (the server decides what a failed script means) and nginx's answers (502, 504, a client abort).

// The watcher is shared with simplehttp's fault tests.
mod site;
#[path = "../../simplehttp/tests/faults/watch.rs"]
mod watch;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use site::Site;
use watch::{read_head, read_some, wait_for_script, Cut, Server};

/// A fresh request right after a fault is served whole: the server keeps serving.
fn assert_hello(server: &Server) {
    let answer = server.exchange("GET /cgi-bin/hello.sh HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
}

/// GET `path` with `Connection: close` on a new connection and read until the server closes it; also how long that took.
fn get(server: &Server, path: &str) -> (String, Duration) {
    let started = Instant::now();
    let answer = server.exchange(&format!(
        "GET {path} HTTP/1.1\nHost: x\nConnection: close\n\n"
    ));
    (answer, started.elapsed())
}

/// A chunked answer read off a kept-alive connection.
struct Chunked {
    head: String,
    body: Vec<u8>,
    /// The last chunk arrived; otherwise the server closed the connection inside the body.
    complete: bool,
    took: Duration,
}

/// GET `path` on a kept-alive connection and read its chunked answer up to the last chunk, or until the server closes.
fn get_chunked(server: &Server, path: &str) -> Chunked {
    let started = Instant::now();
    let mut stream = server.connect();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_or_else(|error| panic!("send: {error}"));
    let head = read_head(&mut stream);
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    let mut rest = Vec::new();
    let mut byte = [0u8; 1];
    let mut complete = false;
    loop {
        match stream.read(&mut byte) {
            Ok(1) => rest.push(byte[0]),
            Ok(_) => break,
            Err(error) => panic!("read body: {error}"),
        }
        // A chunked body ends with a zero-size chunk and an empty trailer section.
        if rest == b"0\r\n\r\n" || rest.ends_with(b"\r\n0\r\n\r\n") {
            complete = true;
            break;
        }
    }
    let mut body = Vec::new();
    let mut wire = &rest[..];
    while let Some(line_end) = wire.windows(2).position(|pair| pair == b"\r\n") {
        let size = std::str::from_utf8(&wire[..line_end])
            .ok()
            .and_then(|size| usize::from_str_radix(size, 16).ok())
            .unwrap_or_else(|| panic!("bad chunk in {:?}", String::from_utf8_lossy(&rest)));
        let data = &wire[line_end + 2..];
        let taken = size.min(data.len());
        body.extend_from_slice(&data[..taken]);
        wire = data.get(taken + 2..).unwrap_or(&[]);
        if size == 0 {
            break;
        }
    }
    Chunked {
        head,
        body,
        complete,
        took: started.elapsed(),
    }
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

// Outcome: a client that leaves (FIN or reset) while its script runs silently is noticed within a poll interval;
// the script's group is killed and reaped long before the CGI timeout, the abort logged, nothing left behind
// (nginx's default: a client abort ends the upstream request).
#[test]
fn client_leaves_while_a_silent_script_runs() {
    let site = Site::new("cgihttp-faults-");
    site.script("silent.sh", "sleep 30 &\nsleep 30");
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (times, cut) in [(1, Cut::Close), (2, Cut::Reset)] {
        let mut stream = server.connect();
        stream
            .write_all(b"GET /cgi-bin/silent.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_or_else(|error| panic!("send: {error}"));
        wait_for_script(site.directory());
        let left = Instant::now();
        cut.apply(stream);
        server.assert_no_leaks(baseline, site.directory());
        assert!(
            left.elapsed() < Duration::from_secs(3),
            "{cut:?}: {:?}",
            left.elapsed()
        );
        server.expect_log_times("CGI script failed: client closed the connection", times);
        assert_hello(&server);
    }
}

// Outcome: a client that leaves halfway through a request body being streamed into the script's stdin
// has its cut logged (the body read fails, or the hang-up is seen first); the script is killed
// (it would otherwise wait, or answer no one), the connection closed.
#[test]
fn client_leaves_while_the_request_body_streams_in() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "slurp.sh",
        "cat > /dev/null\nprintf 'Content-Type: text/plain\\n\\nread it all'\nsleep 30",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (times, cut) in [(1, Cut::Close), (2, Cut::Reset)] {
        let mut stream = server.connect();
        write!(
            stream,
            "POST /cgi-bin/slurp.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
        )
        .unwrap_or_else(|error| panic!("send head: {error}"));
        stream
            .write_all(&vec![b'x'; 256 * 1024])
            .unwrap_or_else(|error| panic!("send body: {error}"));
        wait_for_script(site.directory());
        cut.apply(stream);
        server.assert_no_leaks(baseline, site.directory());
        // Which of the two the server sees first depends on timing: the read of the body fails,
        // or the hang-up shows while the script's stdin pipe is full.
        server.expect_log_times("CGI script failed: ", times);
        let log = server.log();
        assert!(
            log.contains("CGI script failed: cannot read request body")
                || log.contains("CGI script failed: client closed the connection"),
            "{log}"
        );
        assert_hello(&server);
    }
}

// Outcome: a chunked body is read whole before the script starts (RFC 3875 §4.1.2 wants CONTENT_LENGTH), so a client that leaves
// inside a chunk never starts a script: "Bad request body" is logged (a reset reads as a cut too), the connection closed.
#[test]
fn client_leaves_inside_a_chunked_body_before_the_script_starts() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "slurp.sh",
        "cat > /dev/null\nprintf 'Content-Type: text/plain\\n\\nread it all'",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (cut, logged) in [
        (
            Cut::Close,
            "Bad request body: connection closed inside the request body",
        ),
        (
            Cut::Reset,
            "Bad request body: connection reset inside the request body",
        ),
    ] {
        let mut stream = server.connect();
        stream
            .write_all(
                b"POST /cgi-bin/slurp.sh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                  10000\r\ncut inside the chunk",
            )
            .unwrap_or_else(|error| panic!("send: {error}"));
        // Let the server start reading the body before the client goes.
        std::thread::sleep(Duration::from_millis(50));
        cut.apply(stream);
        server.expect_log(logged);
        server.assert_no_leaks(baseline, site.directory());
        assert!(
            !server
                .log()
                .contains("POST /cgi-bin/slurp.sh HTTP/1.1\" 200"),
            "{}",
            server.log()
        );
    }
    assert_hello(&server);
}

// Outcome: a client that leaves while a script streams its output makes the next write fail;
// the failure is logged, the script (which would print for ever) is killed, the connection closed.
#[test]
fn client_leaves_while_the_output_streams() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "endless.sh",
        "printf 'Content-Type: application/octet-stream\\n\\n'\nexec yes 0123456789abcdef",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (times, cut) in [(1, Cut::Close), (2, Cut::Reset)] {
        let mut stream = server.connect();
        stream
            .write_all(b"GET /cgi-bin/endless.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_or_else(|error| panic!("send: {error}"));
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        read_some(&mut stream, 100_000);
        cut.apply(stream);
        server.assert_no_leaks(baseline, site.directory());
        server.expect_log_times("CGI script failed: ", times);
        let log = server.log();
        // Mostly the next write fails; should the script fall silent first, the hang-up is seen instead.
        assert!(
            log.contains("CGI script failed: cannot write to client")
                || log.contains("CGI script failed: client closed the connection"),
            "{log}"
        );
        assert_hello(&server);
    }
}

// Outcome: a script that dies before its header block is complete (a signal, `exit 1` before any output,
// an exit after half a header block) is answered with 502, its failure logged with the reason, and the connection kept.
#[test]
fn script_that_dies_before_its_headers_gets_502() {
    let site = Site::new("cgihttp-faults-");
    site.script("segv.sh", "kill -SEGV $$");
    site.script("fail.sh", "echo 'going down' >&2\nexit 1");
    site.script(
        "half.sh",
        "printf 'Content-Type: text/plain\\nX-Half: yes'\nexit 3",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (script, logged) in [
        ("segv.sh", "script output ended inside its header block"),
        ("fail.sh", "going down"),
        ("half.sh", "script output ended inside its header block"),
    ] {
        let (answer, _) = get(&server, &format!("/cgi-bin/{script}"));
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 502 "),
            "{script}: {answer}"
        );
        server.expect_log(logged);
    }
    server.expect_log("(signal: 11");
    server.expect_log("(exit status: 1)");
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: a script that crashes after its answer began leaves the client a visibly cut body:
// no last chunk, the connection closed, the signal logged (a complete-looking answer would hide the crash).
#[test]
fn script_that_crashes_after_its_headers_cuts_the_body() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "crash.sh",
        "printf 'Content-Type: text/plain\\n\\npartial body'\nkill -SEGV $$",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    let answer = get_chunked(&server, "/cgi-bin/crash.sh");
    assert!(answer.head.starts_with("HTTP/1.1 200 "), "{}", answer.head);
    assert_eq!(answer.body, b"partial body");
    assert!(!answer.complete, "the cut body looks complete");
    server.expect_log("CGI script exit status signal: 11");
    server.expect_log("CGI script died after its answer began, output cut short");
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: a script that prints nothing until the CGI timeout gets 504 at the timeout,
// its whole process group (the child it started too) killed and reaped.
// Mirrors cgihttp/tests/server.rs::broken_and_slow_scripts, here with the group and the descriptors checked.
#[test]
fn hanging_script_gets_504_and_its_group_is_killed() {
    let site = Site::new("cgihttp-faults-");
    site.script("hang.sh", "sleep 30 &\nsleep 30");
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "1"]);
    let (answer, took) = get(&server, "/cgi-bin/hang.sh");
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 504 "),
        "{answer}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.expect_log("script timed out");
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: output that is not a CGI header block (text, binary bytes, a bare status line) gets 502 and a log line;
// the script is stopped.
#[test]
fn garbage_output_gets_502() {
    let site = Site::new("cgihttp-faults-");
    site.script("text.sh", "echo garbage\necho more garbage");
    site.script("binary.sh", "printf '\\377\\376\\000\\001junk\\n\\n'");
    site.script(
        "statusline.sh",
        "printf 'HTTP/1.1 200 OK\\r\\n\\r\\nnot nph'",
    );
    site.script(
        "badstatus.sh",
        "printf 'Status: 99 Low\\nContent-Type: text/plain\\n\\nx'",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (script, logged) in [
        ("text.sh", "malformed script header line"),
        ("binary.sh", "malformed script header line"),
        ("statusline.sh", "malformed script header line"),
        ("badstatus.sh", "invalid script Status header"),
    ] {
        let (answer, _) = get(&server, &format!("/cgi-bin/{script}"));
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 502 "),
            "{script}: {answer}"
        );
        server.expect_log(logged);
    }
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: a header block that never ends (endless lines, or one endless line) is cut at 100 lines / 64 KiB:
// 502, logged, the script (still printing) killed.
#[test]
fn endless_or_enormous_headers_get_502() {
    let site = Site::new("cgihttp-faults-");
    site.script("many.sh", "while :; do echo 'X-More: yes'; done");
    site.script(
        "long.sh",
        "printf 'X-Long: '\nexec tr '\\000' a < /dev/zero",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    for (script, logged) in [
        ("many.sh", "script sent too many header lines"),
        ("long.sh", "script header block too large"),
    ] {
        let (answer, took) = get(&server, &format!("/cgi-bin/{script}"));
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 502 "),
            "{script}: {answer}"
        );
        assert!(took < Duration::from_secs(3), "{script}: {took:?}");
        server.expect_log(logged);
    }
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: a script that closes its stdout after a complete answer but keeps running has its answer delivered whole
// (the last chunk sent, the connection kept), then is killed after a short grace, not left to run to the CGI timeout
// (Apache's mod_cgi kills such a script when the request ends, too).
#[test]
fn script_that_closes_stdout_early_and_keeps_running() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "detach.sh",
        "printf 'Content-Type: text/plain\\n\\nall of it'\nexec 1>&-\nsleep 30",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    let mut stream = server.connect();
    let started = Instant::now();
    stream
        .write_all(b"GET /cgi-bin/detach.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_or_else(|error| panic!("send: {error}"));
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let mut body = [0u8; 19];
    stream
        .read_exact(&mut body)
        .unwrap_or_else(|error| panic!("read body: {error}"));
    assert_eq!(&body, b"9\r\nall of it\r\n0\r\n\r\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The connection carries the next request.
    stream
        .write_all(b"GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|error| panic!("send: {error}"));
    let mut rest = String::new();
    stream
        .read_to_string(&mut rest)
        .unwrap_or_else(|error| panic!("read: {error}"));
    assert!(rest.ends_with("\r\n\r\nhello"), "{rest}");
    server.expect_log("still running after its output ended");
    server.assert_no_leaks(baseline, site.directory());
}

// Outcome: a script that exits while a child it started still holds its stdout gets its answer completed
// shortly after it exits, and the child (in the script's process group) is killed: the server does not wait
// for the child, nor to the CGI timeout.
#[test]
fn grandchild_holding_stdout_does_not_hold_the_answer() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "orphan.sh",
        "printf 'Content-Type: text/plain\\n\\nbefore'\nsleep 30 &\nexit 0",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    let answer = get_chunked(&server, "/cgi-bin/orphan.sh");
    assert!(answer.head.starts_with("HTTP/1.1 200 "), "{}", answer.head);
    assert_eq!(answer.body, b"before");
    assert!(answer.complete, "the answer was cut");
    assert!(answer.took < Duration::from_secs(3), "{:?}", answer.took);
    server.expect_log("still running after its output ended");
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}

// Outcome: with a short CGI timeout, the same grandchild never holds the server past it either.
#[test]
fn grandchild_holding_stdout_is_bounded_by_the_timeout() {
    let site = Site::new("cgihttp-faults-");
    site.script(
        "orphan.sh",
        "printf 'Content-Type: text/plain\\n\\nbefore'\nsleep 30 &\nsleep 30",
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "1"]);
    let answer = get_chunked(&server, "/cgi-bin/orphan.sh");
    assert!(answer.head.starts_with("HTTP/1.1 200 "), "{}", answer.head);
    assert_eq!(answer.body, b"before");
    assert!(!answer.complete, "the cut body looks complete");
    assert!(answer.took < Duration::from_secs(3), "{:?}", answer.took);
    server.expect_log("CGI script timed out, output cut short");
    server.assert_no_leaks(baseline, site.directory());
    assert_hello(&server);
}
