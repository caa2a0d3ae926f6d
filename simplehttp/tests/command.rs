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
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
    let child = command()
        .args(["0", "-b", "127.0.0.1", "-d"])
        .arg(directory.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let mut stdout = BufReader::new(guard.0.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let port: u16 = banner
        .strip_prefix("Serving HTTP on 127.0.0.1 port ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
    assert_eq!(
        banner,
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...\n")
    );

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
