//! The `simplehttp` command run as a service (none of it in Python): access log formats and logrotate's SIGHUP,
//! SIGTERM's drain, systemd's socket activation, several processes on one port, and Prometheus metrics on a port of their own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simplehttp"))
}

/// Kills the child if a test fails before it exits on its own.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running command over a directory holding `a.txt` ("hello").
struct Server {
    directory: tempfile::TempDir,
    guard: Guard,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Server {
    fn start(extra: &[&str], stderr: Stdio) -> Server {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
        let child = command()
            .args(["0", "-b", "127.0.0.1"])
            .args(extra)
            .arg("-d")
            .arg(directory.path())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Server::attach(directory, child)
    }

    fn attach(directory: tempfile::TempDir, child: Child) -> Server {
        let mut guard = Guard(child);
        let mut stdout = BufReader::new(guard.0.stdout.take().unwrap());
        let port = read_port(&mut stdout, "Serving HTTP on 127.0.0.1 port ");
        Server {
            directory,
            guard,
            stdout,
            port,
        }
    }

    fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Waits (at most 10 s) for the command to exit; its status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.guard.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the command did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = self.guard.0.stderr.take() {
            stderr.read_to_string(&mut text).unwrap();
        }
        text
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads a line starting with `prefix` and returns the port that follows it.
fn read_port(stdout: &mut impl BufRead, prefix: &str) -> u16 {
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    line.strip_prefix(prefix)
        .and_then(|rest| rest.split([' ', '/']).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
}

/// One request on a fresh connection, its headers given whole; the whole answer.
fn exchange(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn get(port: u16, path: &str) -> String {
    exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

/// Runs a python3 program; its stdout, or `None` (with the reason printed) when python3 or a module it imports is missing.
fn python(program: &str, argument: &str) -> Option<String> {
    let output = match Command::new("python3")
        .args(["-c", program, argument])
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            println!("skipped: python3 cannot run: {error}");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("ModuleNotFoundError") {
        println!("skipped: {stderr}");
        return None;
    }
    assert!(output.status.success(), "python3 failed: {stderr}");
    Some(String::from_utf8(output.stdout).unwrap())
}

/// Waits (at most 5 s) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// Every line is JSON a standard parser reads, whatever quotes, backslashes, tabs or bytes the client put in the request.
#[test]
fn json_access_lines_are_json() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("access.log");
    let mut server = Server::start(
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
        ],
        Stdio::null(),
    );
    assert!(get(server.port, "/a.txt").ends_with("hello"));
    let hostile = "GET /missing?q=%22 HTTP/1.1\r\nHost: x\r\nUser-Agent: a\"b\\c\td\u{7f}\u{e9}\r\nReferer: http://r/\"\r\nConnection: close\r\n\r\n";
    assert!(exchange(server.port, hostile).starts_with("HTTP/1.1 404 "));
    // Refused by the target's grammar, and logged with the line as it came.
    let refused = "GET /\"quote\\back HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(exchange(server.port, refused).starts_with("HTTP/1.1 400 "));
    server.signal("INT");
    assert!(server.wait().success());

    let program = "import json, sys\nprint(json.dumps([json.loads(line) for line in open(sys.argv[1], encoding='utf-8')]))";
    let Some(parsed) = python(program, log.to_str().unwrap()) else {
        return;
    };
    let lines: Vec<serde_json::Value> = serde_json::from_str(&parsed).unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["bytes"], 5);
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["path"], "/a.txt");
    assert_eq!(lines[0]["remote_addr"], "127.0.0.1");
    assert!(lines[0]["duration_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["path"], "/missing?q=%22");
    // Header bytes are read as ISO-8859-1, as Python reads them: UTF-8's two bytes of é are two characters.
    assert_eq!(lines[1]["user_agent"], "a\"b\\c\td\u{7f}\u{c3}\u{a9}");
    assert_eq!(lines[1]["referer"], "http://r/\"");
    assert_eq!(lines[2]["status"], 400);
    assert_eq!(lines[2]["request"], "GET /\"quote\\back HTTP/1.1");
}

// The Combined Log Format, as log tools (GoAccess, AWStats) read it; a quote in a field cannot end it.
#[test]
fn combined_access_lines() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("access.log");
    let mut server = Server::start(
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--log-format",
            "combined",
        ],
        Stdio::null(),
    );
    let request =
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8 \"x\"\r\nConnection: close\r\n\r\n";
    assert!(exchange(server.port, request).ends_with("hello"));
    server.signal("INT");
    assert!(server.wait().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let (start, rest) = text.split_once(" [").unwrap();
    assert_eq!(start, "127.0.0.1 - -");
    let (date, rest) = rest.split_once("] ").unwrap();
    assert_eq!(date.len(), "10/Oct/2000:13:55:36 +0000".len(), "{date}");
    assert!(date.ends_with(" +0000"), "{date}");
    assert_eq!(
        rest,
        "\"GET /a.txt HTTP/1.1\" 200 5 \"-\" \"curl/8 \\x22x\\x22\"\n"
    );
}

// logrotate renames the file and sends SIGHUP: lines before it stay in the renamed file, later ones go to a new file by the name.
#[test]
fn sighup_reopens_the_access_log() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("access.log");
    let rotated = logs.path().join("access.log.1");
    let mut server = Server::start(&["--access-log", log.to_str().unwrap()], Stdio::null());
    assert!(get(server.port, "/a.txt?before").ends_with("hello"));
    // The line is written by a background thread: wait for it before moving the file.
    eventually("the first line", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("?before"))
    });
    std::fs::rename(&log, &rotated).unwrap();
    server.signal("HUP");
    eventually("a new file by the old name", || log.exists());
    assert!(get(server.port, "/a.txt?after").ends_with("hello"));
    server.signal("INT");
    assert!(server.wait().success());
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(
        old.contains("\"GET /a.txt?before HTTP/1.1\" 200 -"),
        "{old}"
    );
    assert!(!old.contains("after"), "{old}");
    assert!(new.contains("\"GET /a.txt?after HTTP/1.1\" 200 -"), "{new}");
    assert!(!new.contains("before"), "{new}");
}

/// Writes a file of `size` bytes into the served directory.
fn big_file(directory: &Path, size: usize) {
    std::fs::write(directory.join("big.bin"), vec![b'x'; size]).unwrap();
}

// SIGTERM (systemd's stop, Kubernetes' eviction): new clients are refused at once, the download under way completes, then exit 0.
#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    const SIZE: usize = 48 << 20;
    let mut server = Server::start(&["--shutdown-timeout", "20"], Stdio::piped());
    big_file(server.directory.path(), SIZE);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = [0; 1024];
    stream.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));

    server.signal("TERM");
    // The listening socket closes first: a new client is refused rather than left in the backlog.
    eventually("new connections refused", || {
        TcpStream::connect(("127.0.0.1", server.port)).is_err()
    });
    // The client has read almost nothing; the server is still sending, so it has not exited.
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.guard.0.try_wait().unwrap().is_none());

    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let whole = [&first[..], &rest].concat();
    let head_end = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(whole.len() - head_end, SIZE, "the download was cut short");
    let status = server.wait();
    assert!(status.success(), "{status:?}");
    let stderr = server.stderr();
    assert!(!stderr.contains("cut short"), "{stderr}");
}

// A request that outlasts --shutdown-timeout does not hold the stop: the command exits 0 at the timeout and says so.
#[test]
fn sigterm_stops_at_the_shutdown_timeout() {
    let mut server = Server::start(&["--shutdown-timeout", "0.5"], Stdio::piped());
    big_file(server.directory.path(), 64 << 20);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Never read: the answer stalls on a full socket buffer.
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    server.signal("TERM");
    let status = server.wait();
    let took = start.elapsed();
    println!("exited {took:?} after SIGTERM with --shutdown-timeout 0.5");
    assert!(status.success(), "{status:?}");
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let stderr = server.stderr();
    assert!(
        stderr.contains("still running after the shutdown timeout"),
        "{stderr}"
    );
    drop(stream);
}

// systemd's socket activation: the listening socket arrives as descriptor 3, with LISTEN_FDS=1 and LISTEN_PID naming the
// process. The shell moves it from stdin to 3 and execs the command in its own process, so $$ is the command's pid.
#[test]
fn serves_a_socket_systemd_passed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A port the command would fail to bind, so serving at all shows the passed socket was used.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
    let child = Command::new("sh")
        .args([
            "-c",
            "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_simplehttp"),
            &busy_port,
            "-b",
            "127.0.0.1",
            "-d",
        ])
        .arg(directory.path())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server::attach(directory, child);
    assert_eq!(server.port, port);
    assert!(get(port, "/a.txt").ends_with("hello"));
    server.signal("TERM");
    assert!(server.wait().success());
    assert_eq!(
        server
            .stderr()
            .matches("\"GET /a.txt HTTP/1.1\" 200")
            .count(),
        1
    );
}

// A variable meant for another process (LISTEN_PID not ours) is ignored: the command binds its port as usual.
#[test]
fn ignores_socket_activation_meant_for_another_process() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
    let child = command()
        .args(["0", "-b", "127.0.0.1", "-d"])
        .arg(directory.path())
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server::attach(directory, child);
    assert!(get(server.port, "/a.txt").ends_with("hello"));
    server.signal("INT");
    assert!(server.wait().success());
}

/// The pids of `parent`'s children.
fn children(parent: u32) -> Vec<u32> {
    let output = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Bytes a process has passed to write(2) and its kin (`wchar` in /proc/PID/io): it grows when the process answers.
fn written(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|line| line.strip_prefix("wchar: "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

// --processes 2 --reuse-port: two processes each listen with SO_REUSEPORT and the kernel spreads clients between them;
// the parent starts another when one is killed, and SIGTERM stops them all.
#[test]
fn processes_share_the_port_and_a_dead_one_is_replaced() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("access.log");
    let mut server = Server::start(
        &[
            "--processes",
            "2",
            "--reuse-port",
            "--access-log",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    let mut pids = Vec::new();
    eventually("two serving processes", || {
        pids = children(server.pid());
        pids.len() == 2
    });
    // Both listen before the test goes on: each child binds once it starts.
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<u64> = pids.iter().map(|pid| written(*pid)).collect();
    for _ in 0..64 {
        assert!(get(server.port, "/a.txt").ends_with("hello"));
    }
    let after: Vec<u64> = pids.iter().map(|pid| written(*pid)).collect();
    println!("bytes written by each process for 64 requests: {before:?} -> {after:?}");
    assert!(
        before
            .iter()
            .zip(&after)
            .all(|(before, after)| after > before),
        "not every process served: {before:?} -> {after:?}"
    );

    signal(pids[0], "KILL");
    eventually("a replacement process", || {
        let now = children(server.pid());
        now.len() == 2 && !now.contains(&pids[0])
    });
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..16 {
        assert!(get(server.port, "/a.txt").ends_with("hello"));
    }
    // SIGHUP to the parent reaches every child: after logrotate's rename, both write to a new file.
    eventually("the lines so far", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.lines().count() >= 80)
    });
    std::fs::rename(&log, logs.path().join("access.log.1")).unwrap();
    server.signal("HUP");
    eventually("a new file by the old name", || log.exists());
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..32 {
        assert!(get(server.port, "/a.txt?after").ends_with("hello"));
    }
    server.signal("TERM");
    assert!(server.wait().success());
    assert!(children(server.pid()).is_empty());
    let new = std::fs::read_to_string(&log).unwrap();
    assert_eq!(new.matches("?after").count(), 32, "{new}");
    let old = std::fs::read_to_string(logs.path().join("access.log.1")).unwrap();
    assert!(!old.contains("?after"), "{old}");
}

// /metrics in the Prometheus text format, read by the Prometheus project's own Python parser, on its own port only.
#[test]
fn metrics_on_their_own_port() {
    let mut server = Server::start(&["--metrics-bind", "127.0.0.1:0"], Stdio::null());
    let metrics_port = read_port(&mut server.stdout, "Serving metrics on http://127.0.0.1:");
    for _ in 0..3 {
        assert!(get(server.port, "/a.txt").ends_with("hello"));
    }
    // Not on the public port: there /metrics is a file name like any other.
    assert!(get(server.port, "/metrics").starts_with("HTTP/1.1 404 "));
    assert!(exchange(
        server.port,
        "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .starts_with("HTTP/1.1 200 "));
    // And the metrics port serves nothing else.
    assert!(get(metrics_port, "/a.txt").starts_with("HTTP/1.1 404 "));

    let page = get(metrics_port, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    let body = page.split_once("\r\n\r\n").unwrap().1;
    let program =
        "import json, sys\nfrom prometheus_client.parser import text_string_to_metric_families\n\
        print(json.dumps({s.name + json.dumps(s.labels, sort_keys=True): s.value \
        for f in text_string_to_metric_families(sys.argv[1]) for s in f.samples}))";
    let Some(parsed) = python(program, body) else {
        return;
    };
    let samples: std::collections::HashMap<String, f64> = serde_json::from_str(&parsed).unwrap();
    let value = |name: &str| {
        *samples
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing: {samples:?}"))
    };
    let requests = |method: &str, class: &str| {
        value(&format!(
            "pyhttp_http_requests_total{{\"method\": \"{method}\", \"status\": \"{class}\"}}"
        ))
    };
    assert_eq!(requests("GET", "2xx"), 3.0);
    assert_eq!(requests("GET", "4xx"), 1.0);
    assert_eq!(requests("HEAD", "2xx"), 1.0);
    assert_eq!(requests("POST", "2xx"), 0.0);
    assert_eq!(value("pyhttp_http_request_duration_seconds_count{}"), 5.0);
    assert_eq!(
        value("pyhttp_http_request_duration_seconds_bucket{\"le\": \"+Inf\"}"),
        5.0
    );
    assert!(value("pyhttp_http_response_bytes_total{}") > 15.0);
    assert!(value("pyhttp_connections_accepted_total{}") >= 5.0);
    assert_eq!(value("pyhttp_connections_refused_total{}"), 0.0);
    assert!(value("pyhttp_worker_threads{}") >= 1.0);
    assert_eq!(value("pyhttp_auth_failures_total{}"), 0.0);
    assert!(samples.contains_key("pyhttp_connections_open{}"));
    assert!(samples.contains_key("pyhttp_connections_idle{}"));
    assert!(samples.contains_key("pyhttp_worker_threads_busy{}"));
    server.signal("INT");
    assert!(server.wait().success());
}

// The units in deploy/ name only flags the commands have, so a renamed flag cannot leave them broken unnoticed.
#[test]
fn deploy_units_use_flags_the_commands_have() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let help = String::from_utf8(command().arg("--help").output().unwrap().stdout).unwrap();
    let cgi_help =
        Command::new(Path::new(env!("CARGO_BIN_EXE_simplehttp")).with_file_name("cgihttp"))
            .arg("--help")
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
    for (unit, help) in [
        ("simplehttp.service", &help),
        ("cgihttp.service", &cgi_help),
    ] {
        let text = std::fs::read_to_string(deploy.join(unit)).unwrap();
        let exec = text
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart="))
            .unwrap();
        if help.is_empty() {
            println!("skipped {unit}: its command is not built in this run");
            continue;
        }
        for flag in exec.split(' ').filter(|word| word.starts_with("--")) {
            assert!(
                help.contains(flag),
                "{unit} uses {flag}, which --help does not list"
            );
        }
    }
    for socket in ["simplehttp.socket", "cgihttp.socket"] {
        let text = std::fs::read_to_string(deploy.join(socket)).unwrap();
        assert!(text.contains("ListenStream="), "{socket}");
    }
}
