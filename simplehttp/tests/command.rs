//! The `simplehttp` command as a user runs it: banner, serving, Ctrl-C, and refused arguments.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

// Mirrors test_httpservers: CommandLineRunTimeTestCase (banner, a request, Ctrl-C exits 0 with Python's message).
#[test]
fn serves_until_ctrl_c() {
    let (_directory, mut guard, mut stdout, port) = serve_a_txt(Stdio::piped(), &[]);

    let response = get(port, "/a.txt");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
    assert!(
        response.contains("\r\nServer: SimpleHTTP/0.6 "),
        "{response}"
    );

    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = guard.0.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(rest, "\nKeyboard interrupt received, exiting.\n");
    let mut log = String::new();
    guard
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("\"GET /a.txt HTTP/1.1\" 200 -"), "{log}");
}

// Mirrors test_httpservers: CommandLineTestCase.test_invalid_tls_cert_and_key_flags.
#[test]
fn refuses_impossible_arguments() {
    let output = command().args(["--tls-key", "k.pem"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("--tls-key requires --tls-cert to be set"),
        "{message}"
    );

    let output = command().args(["-p", "HTTP/2.0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));

    let output = command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--bind",
        "--directory",
        "--protocol",
        "--tls-cert",
        "--timeout",
        "[PORT]",
    ] {
        assert!(help.contains(option), "{option} missing from {help}");
    }
}

/// Starts the command on a free port over a directory holding `a.txt` ("hello"); returns the directory, the process, its stdout past the banner, and the port.
fn serve_a_txt(
    stderr: Stdio,
    extra: &[&str],
) -> (
    tempfile::TempDir,
    Guard,
    BufReader<std::process::ChildStdout>,
    u16,
) {
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
    let mut guard = Guard(child);
    let mut stdout = BufReader::new(guard.0.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let port = banner_port(&banner, "HTTP");
    (directory, guard, stdout, port)
}

/// Reads the banner's port after checking the rest of the line.
fn banner_port(banner: &str, protocol: &str) -> u16 {
    let scheme = protocol.to_lowercase();
    let port: u16 = banner
        .strip_prefix(&format!("Serving {protocol} on 127.0.0.1 port "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
    assert_eq!(
        banner,
        format!("Serving {protocol} on 127.0.0.1 port {port} ({scheme}://127.0.0.1:{port}/) ...\n")
    );
    port
}

// Mirrors test_httpservers: CommandLineRunTimeTestCase.test_https_client (Python 3.14's --tls-cert and --tls-key).
#[test]
fn serves_https_with_tls_flags() {
    use std::sync::Arc;

    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "secret hello").unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = directory.path().join("cert.pem");
    let key = directory.path().join("key.pem");
    std::fs::write(&certificate, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let child = command()
        .args(["0", "-b", "127.0.0.1", "--tls-cert"])
        .arg(&certificate)
        .arg("--tls-key")
        .arg(&key)
        .arg("-d")
        .arg(directory.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let mut stdout = BufReader::new(guard.0.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let port = banner_port(&banner, "HTTPS");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nsecret hello"), "{response}");
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(guard.0.wait().unwrap().success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "\nKeyboard interrupt received, exiting.\n");
}

/// The command's one-line error for a run that cannot start, and its exit status.
fn failure(arguments: &[&str]) -> (Option<i32>, String) {
    let output = command().args(arguments).output().unwrap();
    let message = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), message)
}

// Not in Python, which starts anyway and answers 404 for everything, or prints a traceback for a busy port.
#[test]
fn says_in_one_line_why_it_cannot_start() {
    let (status, message) = failure(&["0", "-b", "127.0.0.1", "-d", "/nonexistent/directory"]);
    assert_eq!(status, Some(1));
    assert_eq!(
        message,
        "simplehttp: /nonexistent/directory: not a directory\n"
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (status, message) = failure(&[&port, "-b", "127.0.0.1"]);
    assert_eq!(status, Some(1));
    assert_eq!(
        message,
        format!("simplehttp: cannot bind 127.0.0.1:{port}: address in use\n")
    );

    let (status, message) = failure(&["0", "--max-connections", "0"]);
    assert_eq!(status, Some(2));
    assert!(message.contains("--max-connections"), "{message}");
}

// Not in Python: its backlog of 5 refuses some of 300 clients arriving at once; the command's backlog takes them all.
#[test]
fn takes_a_burst_of_300_clients() {
    let (_directory, _guard, _stdout, port) = serve_a_txt(Stdio::null(), &[]);

    // All connect at once; a dropped SYN is retried only after a second, so a short backlog shows as a missed deadline.
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let start = std::sync::Barrier::new(300);
    std::thread::scope(|scope| {
        for _ in 0..300 {
            scope.spawn(|| {
                start.wait();
                let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(900))
                    .expect("a connection of the burst was not accepted in time");
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                stream
                    .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
            });
        }
    });
}

// Not in Python: --workers serves from a few threads on one epoll set; a keep-alive client and fresh ones are all answered.
#[test]
fn serves_in_readiness_mode_with_workers() {
    let (_directory, _guard, _stdout, port) = serve_a_txt(Stdio::null(), &["--workers", "2"]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = vec![0; 4096];
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\nhello") {
            let read = stream.read(&mut answer).unwrap();
            assert!(read > 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&answer[..read]);
        }
        assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    assert!(get(port, "/a.txt").ends_with("\r\n\r\nhello"));
}

/// Stops the command with Ctrl-C and returns what it wrote on stderr.
fn interrupt(mut guard: Guard) -> String {
    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(guard.0.wait().unwrap().success());
    let mut log = String::new();
    guard
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    log
}

// Not in Python: --access-log sends the request lines to a file, written by a background thread and complete at exit;
// errors stay on stderr.
#[test]
fn access_log_goes_to_a_file() {
    let log_directory = tempfile::tempdir().unwrap();
    let log_path = log_directory.path().join("access.log");
    let (_directory, guard, _stdout, port) = serve_a_txt(
        Stdio::piped(),
        &["--access-log", log_path.to_str().unwrap()],
    );
    for _ in 0..3 {
        assert!(get(port, "/a.txt").ends_with("hello"));
    }
    assert!(get(port, "/missing").starts_with("HTTP/1.1 404 "));
    let stderr = interrupt(guard);
    let access = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(
        access.matches("\"GET /a.txt HTTP/1.1\" 200 -").count(),
        3,
        "{access}"
    );
    assert!(
        access.contains("\"GET /missing HTTP/1.1\" 404 -"),
        "{access}"
    );
    assert!(!stderr.contains("\"GET"), "{stderr}");
    assert!(
        stderr.contains("code 404, message File not found"),
        "{stderr}"
    );
}

// Not in Python: -q leaves the request lines out (nginx's `access_log off`); errors are still logged.
#[test]
fn quiet_logs_errors_only() {
    let (_directory, guard, _stdout, port) = serve_a_txt(Stdio::piped(), &["-q"]);
    assert!(get(port, "/a.txt").ends_with("hello"));
    assert!(get(port, "/missing").starts_with("HTTP/1.1 404 "));
    let stderr = interrupt(guard);
    assert!(!stderr.contains("\"GET"), "{stderr}");
    assert!(
        stderr.contains("code 404, message File not found"),
        "{stderr}"
    );
}

// Not in Python, whose log write blocks the request: an access log that stops taking lines (a FIFO nobody reads,
// standing for a stalled disk) never stalls serving; lines beyond the queue are dropped and counted.
#[test]
fn a_stalled_access_log_does_not_stall_serving() {
    let log_directory = tempfile::tempdir().unwrap();
    let fifo = log_directory.path().join("access.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // Opens the FIFO for reading and never reads it.
    let mut reader = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3< '{}'; exec sleep 60", fifo.display()))
        .spawn()
        .unwrap();
    let (_directory, _guard, mut stdout, port) = serve_a_txt(
        Stdio::null(),
        &[
            "--access-log",
            fifo.to_str().unwrap(),
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    );
    let mut metrics = String::new();
    stdout.read_line(&mut metrics).unwrap();
    let metrics = metrics
        .trim()
        .strip_prefix("Serving metrics on http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no metrics port in {metrics:?}"));
    // Far more lines than the pipe (64 KiB) and the queue (4096 lines) hold.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = vec![0; 4096];
    for _ in 0..6000 {
        stream
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\nhello") {
            let read = stream
                .read(&mut answer)
                .expect("answered while the log is stalled");
            assert!(read > 0);
            seen.extend_from_slice(&answer[..read]);
        }
    }
    // The drops are counted where monitoring sees them.
    let page = get(metrics, "/metrics");
    let dropped: u64 = page
        .lines()
        .find_map(|line| line.strip_prefix("pyhttp_access_log_dropped_lines_total "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no dropped-lines counter in {page}"));
    assert!(dropped > 0, "{page}");
    let _ = reader.kill();
    let _ = reader.wait();
}
