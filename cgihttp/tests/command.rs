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
    let child = Command::new(BINARY)
        .args(["0", "-b", "127.0.0.1", "--cgi-timeout", "5"])
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
