//! Smoke tests of the `echo_server` and `hello_stream` examples: run the built programs, talk to them over 127.0.0.1:0 or a socket path, stop them with SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single step may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The example binary cargo built next to this test: `target/debug/deps/<test>` → `target/debug/examples/<name>`.
fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("current exe");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} not built", path.display());
    Command::new(path)
}

/// A running example whose stdout lines arrive on a channel; killed if the test fails before it exits.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn example");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("the example printed nothing")
    }

    /// Sends SIGINT with kill(1) (no `unsafe` here) and waits for the exit, returning its status and how long it took.
    fn interrupt(&mut self) -> (ExitStatus, Duration) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let sent = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(sent.elapsed() < TIMEOUT, "the example ignored SIGINT");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A private directory under the system's temporary directory, removed on drop (the examples package has no tempfile dependency).
struct TempDirectory(PathBuf);

impl TempDirectory {
    fn new(label: &str) -> TempDirectory {
        let path = std::env::temp_dir().join(format!(
            "socketserver-examples-{}-{label}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create temporary directory");
        TempDirectory(path)
    }
}

impl Drop for TempDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a started echo server listens.
#[derive(Debug, Clone)]
enum Target {
    Tcp(String),
    Unix(PathBuf),
}

trait Connection: Read + Write + Send {}
impl Connection for TcpStream {}
impl Connection for UnixStream {}

impl Target {
    fn connect(&self) -> Box<dyn Connection> {
        match self {
            Target::Tcp(address) => {
                let stream = TcpStream::connect(address).expect("tcp connect");
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                Box::new(stream)
            }
            Target::Unix(path) => {
                let stream = UnixStream::connect(path).expect("unix connect");
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                Box::new(stream)
            }
        }
    }

    /// Sends one line on a new connection and reads it back.
    fn echo(&self, line: &str) {
        let mut connection = self.connect();
        connection.write_all(line.as_bytes()).unwrap();
        let mut reader = BufReader::new(connection);
        let mut reply = String::new();
        reader.read_line(&mut reply).expect("echo reply");
        assert_eq!(reply, line);
    }
}

/// Starts `echo_server`, waits for its `Serving ...` line and returns where it listens.
fn start_echo_server(proto: &str, mode: &str, address: &str) -> (Running, Target) {
    let mut command = example("echo_server");
    command.args(["--proto", proto, "--mode", mode, "--address", address]);
    let running = Running::start(command);
    let banner = running.next_line();
    assert!(banner.starts_with("Serving "), "{banner}");
    assert!(banner.ends_with(" ..."), "{banner}");
    let target = if proto == "tcp" {
        // `Serving TCP on 127.0.0.1 port 45678 ...`
        let words: Vec<&str> = banner.split_whitespace().collect();
        assert_eq!(&words[..3], ["Serving", "TCP", "on"], "{banner}");
        assert_eq!(words[4], "port", "{banner}");
        let port: u16 = words[5].parse().expect("port number");
        assert_ne!(port, 0);
        Target::Tcp(format!("{}:{port}", words[3]))
    } else {
        assert_eq!(banner, format!("Serving UNIX-STREAM on {address} ..."));
        Target::Unix(PathBuf::from(address))
    };
    (running, target)
}

/// The smoke test: an echo, then for the concurrent modes 20 simultaneous clients while another holds its connection open
/// without finishing its line, then SIGINT must end the server, with status 0, within a second.
fn check_echo_server(proto: &str, mode: &str, address: &str) {
    let (mut running, target) = start_echo_server(proto, mode, address);
    target.echo("hello world\n");
    let holder = if mode == "sync" {
        None
    } else {
        let mut holder = target.connect();
        holder.write_all(b"no newline yet").unwrap();
        thread::scope(|scope| {
            let clients: Vec<_> = (0..20)
                .map(|number| {
                    let target = &target;
                    scope.spawn(move || target.echo(&format!("client {number}\n")))
                })
                .collect();
            for client in clients {
                client.join().expect("a client was not served");
            }
        });
        Some(holder)
    };
    let (status, took) = running.interrupt();
    eprintln!("echo_server --proto {proto} --mode {mode}: exited {status} {took:?} after SIGINT");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
    if let Some(mut holder) = holder {
        // The held connection was closed, not left to a stray process.
        let mut rest = Vec::new();
        match holder.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(error) => assert_ne!(error.kind(), std::io::ErrorKind::WouldBlock, "still held"),
        }
    }
    if let Target::Unix(path) = &target {
        assert!(!Path::new(path).exists(), "the socket file was left behind");
    }
}

// Mirrors test_socketserver: SocketServerTest.test_TCPServer, through the echo_server example.
#[test]
fn echo_server_tcp_sync() {
    check_echo_server("tcp", "sync", "127.0.0.1:0");
}

// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, through the echo_server example.
#[test]
fn echo_server_tcp_threading() {
    check_echo_server("tcp", "threading", "127.0.0.1:0");
}

// Mirrors test_socketserver: SocketServerTest.test_ForkingTCPServer, through the echo_server example (it forks in its own process).
#[test]
fn echo_server_tcp_forking() {
    check_echo_server("tcp", "forking", "127.0.0.1:0");
}

// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, for the pool mode, through the echo_server example.
#[test]
fn echo_server_tcp_pool() {
    check_echo_server("tcp", "pool", "127.0.0.1:0");
}

// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixStreamServer, through the echo_server example.
#[test]
fn echo_server_unix_stream_threading() {
    let directory = TempDirectory::new("unix-stream-threading");
    let path = directory.0.join("echo.sock");
    check_echo_server("unix-stream", "threading", path.to_str().unwrap());
}

// The SocketServer seed program: `hello_stream 0` prints its banner, writes `data` to a client and logs the connection.
#[test]
fn hello_stream_writes_data() {
    let mut command = example("hello_stream");
    command.arg("0");
    let running = Running::start(command);
    let banner = running.next_line();
    // `Serving TCP on 0.0.0.0:45678 ...`
    let address = banner
        .strip_prefix("Serving TCP on ")
        .and_then(|rest| rest.strip_suffix(" ..."))
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "data");
    let logged = running.next_line();
    assert!(
        logged.starts_with("connection from  ('127.0.0.1', "),
        "{logged}"
    );
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown, through the echo_server example in forking mode with every child slot taken:
// 40 clients (Python's max_children) hold their connections open, and SIGINT must still end the server within a second.
#[test]
fn echo_server_tcp_forking_sigint_at_max_children() {
    let (mut running, target) = start_echo_server("tcp", "forking", "127.0.0.1:0");
    let holders: Vec<_> = (0..40)
        .map(|_| {
            let mut holder = target.connect();
            holder.write_all(b"no newline yet").unwrap();
            holder
        })
        .collect();
    // One more client finds no free child slot and waits in the backlog.
    let _waiting = target.connect();
    thread::sleep(Duration::from_millis(100));
    let (status, took) = running.interrupt();
    eprintln!("echo_server --mode forking with 40 held connections: exited {status} {took:?} after SIGINT");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
    drop(holders);
}
