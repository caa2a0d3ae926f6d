//! Nothing a script starts outlives its request, against the real `cgihttp` binary: not a child in a new session
//! (`setsid sleep 300 &`), not a double-forked one, not a daemon that closed its output; whether the request ends normally,
//! times out, loses its client, or the server stops.
//!
//! The leak checks read `/proc`: no descendant of the server, and no live process whose working directory lies in the
//! test's tree (a script's children keep its directory as theirs, even once they have left its session).

// The watcher is shared with simplehttp's fault tests.
mod site;
#[path = "../../simplehttp/tests/faults/watch.rs"]
mod watch;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use site::Site;
use watch::{read_head, wait_for_script, working_in, Server, SETTLE};

/// What a script starts that would escape a process-group kill, each detached from the script's stdout and stderr:
/// a child in a new session, a double-forked grandchild (orphaned at once), and a daemon-style session leader with a child of its own.
const ESCAPES: &str = "setsid sleep 300 </dev/null >/dev/null 2>&1 &\n\
     (sleep 301 </dev/null >/dev/null 2>&1 &)\n\
     setsid sh -c 'sleep 302 & exec sleep 303' </dev/null >/dev/null 2>&1 &";

fn get(server: &Server, path: &str) -> String {
    server.exchange(&format!(
        "GET {path} HTTP/1.1\nHost: x\nConnection: close\n\n"
    ))
}

/// Waits (up to [`SETTLE`]) until no live process works in `directory`; fails with what is left otherwise.
fn assert_all_gone(directory: &Path) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let left = working_in(directory);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

// Defence: a script that leaves children in a new session, double-forked or daemonized, and exits with its answer:
// they are killed when the request ends, and the log says so.
#[test]
fn children_in_a_new_session_or_double_forked_die_with_the_request() {
    let site = Site::new("cgihttp-containment-");
    site.script(
        "escape.sh",
        &format!("{ESCAPES}\nprintf 'Content-Type: text/plain\\n\\nbye'"),
    );
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    let started = Instant::now();
    let answer = get(&server, "/cgi-bin/escape.sh");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nbye"), "{answer}");
    server.assert_no_leaks(baseline, site.directory());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.expect_log("still running after its output ended; killed");
    eprintln!("{}", server.log());
    get(&server, "/cgi-bin/hello.sh");
}

// Defence: the same escapes from a script that then hangs are killed with it at the CGI timeout (504).
#[test]
fn the_timeout_kills_what_escaped_the_process_group() {
    let site = Site::new("cgihttp-containment-");
    site.script("hang.sh", &format!("{ESCAPES}\nsleep 60"));
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "1"]);
    let answer = get(&server, "/cgi-bin/hang.sh");
    assert!(answer.starts_with("HTTP/1.1 504 "), "{answer}");
    server.assert_no_leaks(baseline, site.directory());
}

// Defence: a client that leaves while the script runs: the script and what it started in other sessions die.
#[test]
fn a_client_leaving_kills_what_escaped_the_process_group() {
    let site = Site::new("cgihttp-containment-");
    site.script("silent.sh", &format!("{ESCAPES}\nsleep 60"));
    let (server, baseline) = site.serve_warm(&["--cgi-timeout", "30"]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /cgi-bin/silent.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_or_else(|error| panic!("send: {error}"));
    wait_for_script(site.directory());
    // Let the script start its escapes before the client goes.
    thread::sleep(Duration::from_millis(300));
    drop(stream);
    server.assert_no_leaks(baseline, site.directory());
    server.expect_log("CGI script failed: client closed the connection");
}

// Defence: the server stopping (Ctrl-C, or killed outright) takes running scripts and everything they started with it:
// each script's supervisor sees the server's end of its socket close.
#[test]
fn stopping_the_server_kills_running_scripts_and_what_they_started() {
    for signal in ["-INT", "-KILL"] {
        let site = Site::new("cgihttp-containment-");
        site.script(
            "running.sh",
            &format!("{ESCAPES}\nprintf 'Content-Type: text/plain\\n\\nstarted'\nsleep 60"),
        );
        let (server, _) = site.serve_warm(&["--cgi-timeout", "120"]);
        let mut stream = server.connect();
        stream
            .write_all(b"GET /cgi-bin/running.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_or_else(|error| panic!("send: {error}"));
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        // The first chunk ("started") is out, so the escapes have been started too.
        let mut chunk = [0u8; 12];
        stream
            .read_exact(&mut chunk)
            .unwrap_or_else(|error| panic!("read chunk: {error}"));
        assert_eq!(&chunk, b"7\r\nstarted\r\n");
        // The escapes and the script's own sleep: five sleeps once every fork has exec'd.
        let deadline = Instant::now() + SETTLE;
        while working_in(site.directory())
            .iter()
            .filter(|process| process.ends_with("(sleep)"))
            .count()
            < 5
        {
            assert!(
                Instant::now() < deadline,
                "{:?}",
                working_in(site.directory())
            );
            thread::sleep(Duration::from_millis(20));
        }
        let status = Command::new("/bin/kill")
            .arg(signal)
            .arg(server.pid.to_string())
            .status()
            .unwrap_or_else(|error| panic!("kill: {error}"));
        assert!(status.success());
        assert_all_gone(site.directory());
        drop(stream);
    }
}
