//! Watching a server that runs as its own process: its port, its log, its open descriptors and its descendants.
//!
//! The checks read `/proc`, so they hold whatever else runs on the machine:
//! descriptors are counted in the server's own `/proc/<pid>/fd`, processes are the server's descendants
//! (by parent id) and the processes whose working directory lies in the test's own directory (scripts and their children,
//! even those that were re-parented).
//!
//! cgihttp's fault tests include this file too (`#[path]` in `cgihttp/tests/faults.rs`); each uses its own part.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a leak check waits for the server to settle before it fails.
pub const SETTLE: Duration = Duration::from_secs(5);

/// How a test client leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// close(2): a FIN, or a reset when the client had unread data.
    Close,
    /// SO_LINGER 0, then close(2): always a reset.
    Reset,
}

impl Cut {
    /// Ends the connection this way.
    pub fn apply(self, stream: TcpStream) {
        if self == Cut::Reset {
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap_or_else(|error| panic!("SO_LINGER: {error}"));
        }
        drop(stream);
    }
}

/// A server started as a child process, killed when dropped.
pub struct Server {
    child: Child,
    /// The server's process id.
    pub pid: u32,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    log: PathBuf,
    _stdout: BufReader<ChildStdout>,
    _log_directory: tempfile::TempDir,
}

impl Server {
    /// Starts `command` (a server binary with its arguments, port 0 on 127.0.0.1), its stderr going to a log file,
    /// and learns the port from its banner.
    pub fn start(mut command: Command) -> Server {
        let log_directory = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let log = log_directory.path().join("server.log");
        let log_file = fs::File::create(&log).unwrap_or_else(|error| panic!("log file: {error}"));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| panic!("start server: {error}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut stdout = BufReader::new(stdout);
        let mut banner = String::new();
        stdout
            .read_line(&mut banner)
            .unwrap_or_else(|error| panic!("read banner: {error}"));
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = banner
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {banner:?}"));
        Server {
            pid: child.id(),
            child,
            port,
            log,
            _stdout: stdout,
            _log_directory: log_directory,
        }
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (the log line of a request can follow its answer by a moment).
    pub fn expect_log(&self, needle: &str) {
        self.expect_log_times(needle, 1);
    }

    /// Waits until the log holds `needle` at least `times` times.
    pub fn expect_log_times(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not {times} times in the log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The number of descriptors the server has open.
    pub fn descriptors(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid))
            .unwrap_or_else(|error| panic!("read /proc/{}/fd: {error}", self.pid))
            .count()
    }

    /// What the server's descriptors point to, for a failure message.
    fn descriptor_targets(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(format!("/proc/{}/fd", self.pid)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|entry| {
                let target = fs::read_link(entry.path())
                    .map_or_else(|_| "?".to_owned(), |target| target.display().to_string());
                format!("{} -> {target}", entry.file_name().to_string_lossy())
            })
            .collect()
    }

    /// The server's descendants (any state, zombies included) as `pid state (name)`.
    pub fn descendants(&self) -> Vec<String> {
        let processes = processes();
        let mut found = Vec::new();
        let mut parents = vec![self.pid];
        while let Some(parent) = parents.pop() {
            for process in processes.iter().filter(|process| process.parent == parent) {
                parents.push(process.pid);
                found.push(format!(
                    "{} {} ({})",
                    process.pid, process.state, process.name
                ));
            }
        }
        found
    }

    /// Waits until the server is idle after a request: no descendant, and the descriptor count no longer falls.
    /// Returns that count, the baseline of [`Server::assert_no_leaks`].
    pub fn baseline(&self) -> usize {
        let deadline = Instant::now() + SETTLE;
        let mut last = self.descriptors();
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = self.descriptors();
            if now == last && self.descendants().is_empty() {
                return now;
            }
            assert!(Instant::now() < deadline, "the server never settled");
            last = now;
        }
    }

    /// Waits (up to [`SETTLE`]) until the server holds no more descriptors than `baseline`, has no descendant,
    /// and no live process works in `directory` (a script's children that left the server's tree); fails otherwise.
    pub fn assert_no_leaks(&self, baseline: usize, directory: &Path) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let descriptors = self.descriptors();
            let descendants = self.descendants();
            let strays = working_in(directory);
            if descriptors <= baseline && descendants.is_empty() && strays.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "leak: {descriptors} descriptors (baseline {baseline}): {:#?}\n\
                     descendants: {descendants:?}\nprocesses in {}: {strays:?}\nlog:\n{}",
                    self.descriptor_targets(),
                    directory.display(),
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new connection to the server, with a read timeout so that a hang fails the test rather than blocking it.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|error| panic!("connect: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap_or_else(|error| panic!("read timeout: {error}"));
        stream
    }

    /// Sends `request` (LF written as CRLF) on a new connection and reads until the server closes it.
    pub fn exchange(&self, request: &str) -> String {
        let mut stream = self.connect();
        stream
            .write_all(request.replace('\n', "\r\n").as_bytes())
            .unwrap_or_else(|error| panic!("send: {error}"));
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|error| panic!("read answer: {error}"));
        String::from_utf8_lossy(&answer).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of `/proc/<pid>/stat`, the fields these checks need.
struct Process {
    pid: u32,
    parent: u32,
    state: String,
    name: String,
}

/// Every process on the machine (threads are not listed at the top of `/proc`).
fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (name) state ppid ...": the name may hold spaces and parentheses, so split at the last ')'.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.to_owned();
            let parent = fields.next()?.parse().ok()?;
            Some(Process {
                pid,
                parent,
                state,
                name,
            })
        })
        .collect()
}

/// The live processes whose working directory lies under `directory`, as `pid (name)`; zombies have none.
pub fn working_in(directory: &Path) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|process| {
            fs::read_link(format!("/proc/{}/cwd", process.pid))
                .is_ok_and(|cwd| cwd.starts_with(directory))
        })
        .map(|process| format!("{} ({})", process.pid, process.name))
        .collect()
}

/// Waits until some process works under `directory` (a script has started).
pub fn wait_for_script(directory: &Path) {
    let deadline = Instant::now() + SETTLE;
    while working_in(directory).is_empty() {
        assert!(Instant::now() < deadline, "no script started");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a response head (up to the blank line) byte by byte, so nothing of the body is taken.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!(
                "head cut short ({other:?}): {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads exactly `count` bytes.
pub fn read_some(stream: &mut TcpStream, count: usize) {
    let mut buffer = vec![0u8; count];
    stream
        .read_exact(&mut buffer)
        .unwrap_or_else(|error| panic!("read {count} bytes: {error}"));
}
