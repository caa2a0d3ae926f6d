//! The `cgihttp` command run as a service behind a proxy (none of it in Python): who the client is (`--trusted-proxy`),
//! the CGI counters on `/metrics`, SIGTERM waiting for a running script, and systemd's socket activation.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_cgihttp");

/// Kills the server when the test ends, whatever happened.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn attach(mut child: Child) -> Running {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let port = read_port(&mut stdout, "Serving HTTP on 127.0.0.1 port ");
        Running {
            child,
            stdout,
            port,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Stops the command with `signal` and returns its exit status and what it wrote on stderr.
    fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        self.signal(signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the command did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut log).unwrap();
        }
        (status, log)
    }
}

fn read_port(stdout: &mut impl BufRead, prefix: &str) -> u16 {
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    line.strip_prefix(prefix)
        .and_then(|rest| rest.split([' ', '/']).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
}

/// A served tree with `cgi-bin/NAME` scripts holding `body` each, readable and runnable by `nobody`.
fn tree(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("cgihttp-operations-")
        .tempdir_in("/tmp")
        .unwrap();
    let bin = root.path().join("cgi-bin");
    fs::create_dir(&bin).unwrap();
    for (name, body) in scripts {
        let script = bin.join(name);
        fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for path in [root.path(), bin.as_path()] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

/// The script that answers with the client address CGI gave it.
const REMOTE_ADDR: (&str, &str) = (
    "addr.sh",
    "printf 'Content-Type: text/plain\\n\\n%s' \"$REMOTE_ADDR\"",
);

/// The script that answers with the client port CGI gave it (`none` when unset).
const REMOTE_PORT: (&str, &str) = (
    "port.sh",
    "printf 'Content-Type: text/plain\\n\\n%s' \"${REMOTE_PORT-none}\"",
);

fn start(root: &Path, arguments: &[&str]) -> Running {
    let child = Command::new(BINARY)
        .args(["0", "-b", "127.0.0.1"])
        .args(arguments)
        .arg("-d")
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running::attach(child)
}

/// Sends `bytes` on a fresh connection; the whole answer (empty when the server closed without one).
fn exchange(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A GET of `path` with `headers` (each ending in CRLF); the body of the answer.
fn body_of(port: u16, path: &str, headers: &str) -> String {
    let answer = exchange(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

const GET_ADDR: &[u8] = b"GET /cgi-bin/addr.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A PROXY protocol v2 header for TCP over IPv4 from 203.0.113.9:4242 to 127.0.0.1:80.
fn proxy_v2() -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&[203, 0, 113, 9, 127, 0, 0, 1]);
    header.extend_from_slice(&4242u16.to_be_bytes());
    header.extend_from_slice(&80u16.to_be_bytes());
    header
}

// A trusted proxy names the client: in X-Forwarded-For (the rightmost hop it did not add itself), in a PROXY header
// (v1 or v2); CGI's REMOTE_ADDR and the access log then say the client, not the proxy.
#[test]
fn a_trusted_proxy_names_the_client() {
    let root = tree(&[REMOTE_ADDR, REMOTE_PORT]);
    let server = start(root.path(), &["--trusted-proxy", "127.0.0.0/8"]);
    let port = server.port;
    // X-Forwarded-For names no port: REMOTE_PORT is left out rather than 0; a PROXY header's port is passed on.
    assert_eq!(
        body_of(
            port,
            "/cgi-bin/port.sh",
            "X-Forwarded-For: 198.51.100.7\r\n"
        ),
        "none"
    );
    let v1_port = [
        &b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..],
        b"GET /cgi-bin/port.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    assert!(exchange(port, &v1_port).ends_with("\r\n\r\n5555"));
    assert_eq!(
        body_of(
            port,
            "/cgi-bin/addr.sh",
            "X-Forwarded-For: 198.51.100.7\r\n"
        ),
        "198.51.100.7"
    );
    // A client's own forged hop on the left is not what the proxy appended: the rightmost untrusted hop wins.
    assert_eq!(
        body_of(
            port,
            "/cgi-bin/addr.sh",
            "X-Forwarded-For: 6.6.6.6, 192.0.2.1, 127.0.0.5\r\n"
        ),
        "192.0.2.1"
    );
    let v1 = [
        &b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..],
        GET_ADDR,
    ]
    .concat();
    assert!(exchange(port, &v1).ends_with("\r\n\r\n203.0.113.5"));
    let v2 = [proxy_v2(), GET_ADDR.to_vec()].concat();
    assert!(exchange(port, &v2).ends_with("\r\n\r\n203.0.113.9"));
    // No header: the peer is the client.
    assert_eq!(body_of(port, "/cgi-bin/addr.sh", ""), "127.0.0.1");
    let (status, log) = server.stop("INT");
    assert!(status.success());
    assert!(
        log.contains("198.51.100.7 - - [") && log.contains("203.0.113.9 - - ["),
        "{log}"
    );
}

// Anyone else's X-Forwarded-For is only a header, and anyone else's PROXY header closes the connection unanswered.
#[test]
fn an_untrusted_peer_cannot_name_the_client() {
    let root = tree(&[REMOTE_ADDR]);
    let server = start(root.path(), &["--trusted-proxy", "10.0.0.0/8"]);
    let port = server.port;
    assert_eq!(
        body_of(
            port,
            "/cgi-bin/addr.sh",
            "X-Forwarded-For: 198.51.100.7\r\n"
        ),
        "127.0.0.1"
    );
    assert_eq!(
        body_of(port, "/cgi-bin/addr.sh", "Forwarded: for=198.51.100.7\r\n"),
        "127.0.0.1"
    );
    let v1 = [
        &b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..],
        GET_ADDR,
    ]
    .concat();
    assert_eq!(exchange(port, &v1), "");
    let v2 = [proxy_v2(), GET_ADDR.to_vec()].concat();
    assert_eq!(exchange(port, &v2), "");
    let (status, log) = server.stop("INT");
    assert!(status.success());
    assert!(
        !log.contains("198.51.100.7") && !log.contains("203.0.113"),
        "{log}"
    );
    assert!(log.contains("not a trusted proxy"), "{log}");
}

// --real-ip-header forwarded reads RFC 7239's header instead, and then X-Forwarded-For is only a header.
#[test]
fn the_forwarded_header() {
    let root = tree(&[REMOTE_ADDR]);
    let server = start(
        root.path(),
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--real-ip-header",
            "forwarded",
        ],
    );
    assert_eq!(
        body_of(
            server.port,
            "/cgi-bin/addr.sh",
            "Forwarded: for=\"[2001:db8::7]:4711\";proto=https\r\n"
        ),
        "2001:db8::7"
    );
    assert_eq!(
        body_of(
            server.port,
            "/cgi-bin/addr.sh",
            "X-Forwarded-For: 198.51.100.7\r\n"
        ),
        "127.0.0.1"
    );
}

// Scripts run, time out and fail, and /metrics (parsed by the Prometheus project's Python parser) counts each.
#[test]
fn cgi_counters_on_metrics() {
    let root = tree(&[
        REMOTE_ADDR,
        ("fail.sh", "exit 3"),
        (
            "slow.sh",
            "sleep 5; printf 'Content-Type: text/plain\\n\\nlate'",
        ),
    ]);
    let mut server = start(
        root.path(),
        &["--metrics-bind", "127.0.0.1:0", "--cgi-timeout", "1"],
    );
    let metrics_port = read_port(&mut server.stdout, "Serving metrics on http://127.0.0.1:");
    // A client that leaves while its script runs: the script is killed, which is no failure of the script's.
    let mut leaving = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    leaving
        .write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(leaving);
    assert_eq!(body_of(server.port, "/cgi-bin/addr.sh", ""), "127.0.0.1");
    assert!(exchange(
        server.port,
        b"GET /cgi-bin/fail.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .starts_with("HTTP/1.1 5"));
    assert!(exchange(
        server.port,
        b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .starts_with("HTTP/1.1 504 "));
    let deadline = Instant::now() + Duration::from_secs(5);
    let page = loop {
        let page = exchange(metrics_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        if page.contains("\npyhttp_cgi_runs_total 4\n") || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let body = page.split_once("\r\n\r\n").unwrap().1;
    let program = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\n\
        for f in text_string_to_metric_families(sys.argv[1]):\n    for s in f.samples:\n        print(s.name, s.value)";
    let output = match Command::new("python3").args(["-c", program, body]).output() {
        Ok(output) => output,
        Err(error) => {
            println!("skipped: python3 cannot run: {error}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("ModuleNotFoundError") {
        println!("skipped: {stderr}");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    let samples = String::from_utf8_lossy(&output.stdout);
    let value = |name: &str| {
        samples
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{name} missing from:\n{samples}"))
    };
    assert_eq!(value("pyhttp_cgi_runs_total"), 4.0);
    assert_eq!(value("pyhttp_cgi_timeouts_total"), 1.0);
    assert_eq!(value("pyhttp_cgi_failures_total"), 1.0);
}

// SIGTERM lets a script that is running finish and answer, refuses new clients meanwhile, then exits 0.
#[test]
fn sigterm_waits_for_a_running_script() {
    let root = tree(&[(
        "slow.sh",
        "sleep 1; printf 'Content-Type: text/plain\\n\\ndone'",
    )]);
    let server = start(root.path(), &[]);
    let port = server.port;
    let request = std::thread::spawn(move || {
        exchange(
            port,
            b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let answer = request.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\ndone"), "{answer}");
    let (status, _) = server.stop("TERM");
    assert!(status.success(), "{status:?}");
}

// systemd's socket activation, as simplehttp's test does it: the socket as descriptor 3, LISTEN_PID the command's own pid.
#[test]
fn serves_a_socket_systemd_passed() {
    let root = tree(&[REMOTE_ADDR]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = Command::new("sh")
        .args([
            "-c",
            "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
            BINARY,
            "-d",
        ])
        .arg(root.path())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Running::attach(child);
    assert_eq!(server.port, port);
    assert_eq!(body_of(port, "/cgi-bin/addr.sh", ""), "127.0.0.1");
    let (status, _) = server.stop("TERM");
    assert!(status.success());
}
