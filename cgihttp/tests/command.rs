//! The `cgihttp` command: its usage, and a script served by the real binary on `127.0.0.1`, port 0.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_cgihttp");

/// Kills the server when the test ends, whatever happened.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn usage_names_the_cgi_timeout() {
    let output = Command::new(BINARY)
        .arg("--help")
        .output()
        .unwrap_or_else(|error| panic!("run cgihttp: {error}"));
    assert!(output.status.success());
    let usage = String::from_utf8_lossy(&output.stdout);
    assert!(usage.contains("Usage: cgihttp"), "{usage}");
    assert!(usage.contains("--cgi-timeout <SECONDS>"), "{usage}");
    assert!(usage.contains("--max-cgi <N>"), "{usage}");
    assert!(usage.contains("--max-body-size <BYTES>"), "{usage}");
    assert!(usage.contains("--directory <DIRECTORY>"), "{usage}");

    let output = Command::new(BINARY)
        .args(["--cgi-timeout", "soon"])
        .output()
        .unwrap_or_else(|error| panic!("run cgihttp: {error}"));
    assert_eq!(output.status.code(), Some(2));
}

/// A served tree with one shell script at `<directory>/hello.sh`, readable and runnable by `nobody`.
fn tree_with_script(directory: &str) -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("cgihttp-command-")
        .tempdir_in("/tmp")
        .unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let bin = root.path().join(directory);
    let script = bin.join("hello.sh");
    fs::create_dir(&bin).unwrap_or_else(|error| panic!("mkdir: {error}"));
    fs::write(
        &script,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello %s' \"$QUERY_STRING\"\n",
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    for path in [root.path(), bin.as_path(), script.as_path()] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|error| panic!("chmod: {error}"));
    }
    root
}

/// Starts the command on a free port with `arguments`, serving `root`; returns it with its port.
fn start(root: &std::path::Path, arguments: &[&str]) -> (Running, u16) {
    let mut command = Command::new(BINARY);
    command.args(["0", "-b", "127.0.0.1"]);
    if !arguments.contains(&"--cgi-timeout") {
        command.args(["--cgi-timeout", "5"]);
    }
    let child = command
        .args(arguments)
        .arg("-d")
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("start cgihttp: {error}"));
    let mut server = Running(child);
    let stdout = server
        .0
        .stdout
        .take()
        .unwrap_or_else(|| panic!("no stdout"));
    let mut banner = String::new();
    BufReader::new(stdout)
        .read_line(&mut banner)
        .unwrap_or_else(|error| panic!("read banner: {error}"));
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port: u16 = banner
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {banner:?}"));
    (server, port)
}

/// One GET on a fresh connection; the whole answer.
fn get(port: u16, path: &str) -> String {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|error| panic!("connect: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_else(|error| panic!("timeout: {error}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn serves_a_script() {
    let root = tree_with_script("cgi-bin");
    let (_server, port) = start(root.path(), &[]);
    let answer = get(port, "/cgi-bin/hello.sh?world");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello world"), "{answer}");
}

// Mirrors test_httpservers: CGIHTTPServerTestCase sets cgi_directories; the command sets them with --cgi-dir.
#[test]
fn cgi_dir_replaces_the_script_directories() {
    let root = tree_with_script("scripts");
    let (_server, port) = start(
        root.path(),
        &["--cgi-dir", "/scripts/", "--cgi-dir", "/more"],
    );
    let answer = get(port, "/scripts/hello.sh?there");
    assert!(answer.ends_with("\r\n\r\nhello there"), "{answer}");

    // Under the default directories the same tree's /scripts is plain files: the source is served, nothing runs.
    let (_server, port) = start(root.path(), &[]);
    let answer = get(port, "/scripts/hello.sh");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("#!/bin/sh"),
        "the script's source was not served: {answer}"
    );

    let output = Command::new(BINARY)
        .args(["--cgi-dir", "relative"])
        .output()
        .unwrap_or_else(|error| panic!("run cgihttp: {error}"));
    assert_eq!(output.status.code(), Some(2));
}

/// Adds a script, runnable by `nobody`, to a tree made by [`tree_with_script`].
fn add_script(root: &std::path::Path, path: &str, text: &str) {
    let script = root.join(path);
    fs::write(&script, text).unwrap_or_else(|error| panic!("write: {error}"));
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|error| panic!("chmod: {error}"));
}

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|error| panic!("read status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// The byte at `position` of a test body: a pattern that shows a lost or repeated piece.
fn pattern_byte(position: u64) -> u8 {
    (position % 251) as u8
}

// Mirrors test_httpservers: CGIHTTPServerTestCase.test_post, with a body far too large to hold:
// not in Python (RFC 3875 §4.2: the body streams to the script's stdin, and its answer back, as they arrive).
#[test]
fn test_post_streams_a_large_body_through_the_script() {
    const LENGTH: u64 = 50 * 1024 * 1024;
    let root = tree_with_script("cgi-bin");
    add_script(
        root.path(),
        "cgi-bin/cat.sh",
        "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nexec cat\n",
    );
    let (server, port) = start(root.path(), &[]);
    let pid = server.0.id();
    // One small request first, so the measurement starts from a server that has run a script.
    assert!(get(port, "/cgi-bin/hello.sh").ends_with("hello "));
    let before = status_kib(pid, "VmHWM");

    let stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|error| panic!("connect: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap_or_else(|error| panic!("timeout: {error}"));
    let mut writer = stream
        .try_clone()
        .unwrap_or_else(|error| panic!("clone: {error}"));
    // The answer comes back while the body is still going out, so write on another thread.
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        write!(
            writer,
            "POST /cgi-bin/cat.sh HTTP/1.0\r\nContent-Length: {LENGTH}\r\n\r\n"
        )?;
        let mut block = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < LENGTH {
            for (index, byte) in block.iter_mut().enumerate() {
                *byte = pattern_byte(sent + index as u64);
            }
            writer.write_all(&block)?;
            sent += block.len() as u64;
        }
        Ok(())
    });
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while head != "\r\n" {
        head.clear();
        reader
            .read_line(&mut head)
            .unwrap_or_else(|error| panic!("read head: {error}"));
        assert!(!head.is_empty(), "no answer");
    }
    let mut received = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader
            .read(&mut buffer)
            .unwrap_or_else(|error| panic!("read body: {error}"));
        if read == 0 {
            break;
        }
        for (index, byte) in buffer[..read].iter().enumerate() {
            assert_eq!(
                *byte,
                pattern_byte(received + index as u64),
                "at {received}+{index}"
            );
        }
        received += read as u64;
    }
    sender
        .join()
        .unwrap_or_else(|_| panic!("sender panicked"))
        .unwrap_or_else(|error| panic!("send: {error}"));
    assert_eq!(received, LENGTH);

    let after = status_kib(pid, "VmHWM");
    eprintln!("cgihttp VmHWM: {before} KiB before, {after} KiB after a {LENGTH}-byte POST");
    // The body is 50 MiB; the server's peak may grow by its queues and buffers, nothing like the body.
    assert!(
        after < before + 8 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
}

/// The server's children that are zombies (exited, never waited for).
fn zombie_children(pid: u32) -> Vec<u32> {
    let mut zombies = Vec::new();
    for entry in fs::read_dir("/proc")
        .unwrap_or_else(|error| panic!("read /proc: {error}"))
        .flatten()
    {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the command name may hold spaces, so split after its closing parenthesis.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let parent = fields.next().and_then(|parent| parent.parse::<u32>().ok());
        if state == Some("Z") && parent == Some(pid) {
            zombies.extend(
                entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<u32>().ok()),
            );
        }
    }
    zombies
}

// Not in Python (RFC 3875 §3.4 leaves it to the server): the timeout kills the script, answers 504, and leaves no zombie.
#[test]
fn timed_out_script_answers_504_and_leaves_no_zombie() {
    let root = tree_with_script("cgi-bin");
    add_script(
        root.path(),
        "cgi-bin/hang.sh",
        "#!/bin/sh\nsleep 60 &\nsleep 60\n",
    );
    let (server, port) = start(root.path(), &["--cgi-timeout", "1"]);
    let answer = get(port, "/cgi-bin/hang.sh");
    assert!(answer.starts_with("HTTP/1.1 504 "), "{answer}");
    assert_eq!(zombie_children(server.0.id()), Vec::<u32>::new());
}

// Not in Python: two scripts that keep their workers longer than a spare worker lingers (5 s), then a quiet spell:
// a fresh request is still answered at once.
#[test]
fn two_sleeping_scripts_and_a_quiet_spell_do_not_stop_the_server() {
    let root = tree_with_script("cgi-bin");
    add_script(
        root.path(),
        "cgi-bin/sleep.sh",
        "#!/bin/sh\nsleep 12\nprintf 'Content-Type: text/plain\\n\\nslept'\n",
    );
    let (_server, port) = start(root.path(), &["--workers", "2", "--cgi-timeout", "20"]);
    let sleepers: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream
                .write_all(b"GET /cgi-bin/sleep.sh HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(get(port, "/cgi-bin/hello.sh?a").ends_with("hello a"));
    std::thread::sleep(Duration::from_millis(5500));
    let started = std::time::Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream
        .write_all(b"GET /cgi-bin/hello.sh?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    assert!(
        read.is_ok() && answer.ends_with("hello b"),
        "no answer in {:?} while two scripts sleep: {answer:?}",
        started.elapsed()
    );
    drop(sleepers);
}
