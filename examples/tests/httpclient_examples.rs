//! Smoke tests of the `httpget` and `httplib_legacy` examples against scripted servers on 127.0.0.1:0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// A server answering each connection's requests with the given replies in turn; returns what it received.
fn serve(connections: Vec<Vec<&'static [u8]>>) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut received = Vec::new();
        for replies in connections {
            let (mut socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            for reply in replies {
                let start = received.len();
                let mut buffer = [0; 4096];
                loop {
                    let text = String::from_utf8_lossy(&received[start..]).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length:"))
                            .and_then(|value| value.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if received.len() - start >= end + 4 + length {
                            break;
                        }
                    }
                    match socket.read(&mut buffer) {
                        Ok(0) | Err(_) => return received,
                        Ok(read) => received.extend_from_slice(&buffer[..read]),
                    }
                }
                socket.write_all(reply).unwrap();
            }
        }
        received
    });
    (address, handle)
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run example")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn httpget_prints_status_headers_and_body() {
    let (address, server) = serve(vec![vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello",
    ]]);
    let output = run(example("httpget").arg(format!("http://{address}/page?x=1")));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        "200 OK\nContent-Length: 5\nX-Test: yes\n\nhello"
    );
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        received.starts_with("GET /page?x=1 HTTP/1.1\r\n"),
        "{received}"
    );
}

#[test]
fn httpget_exits_zero_on_an_error_status() {
    let (address, server) = serve(vec![vec![
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone",
    ]]);
    let output = run(example("httpget").arg(format!("http://{address}/missing")));
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).starts_with("404 Not Found\n"));
    server.join().unwrap();
}

#[test]
fn httpget_repeat_reuses_one_connection() {
    let reply: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let (address, server) = serve(vec![vec![reply, reply, reply]]);
    let output = run(example("httpget").args([&format!("http://{address}/"), "--repeat", "3"]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "200 OK\nContent-Length: 2\n\nok".repeat(3));
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert_eq!(received.matches("GET / HTTP/1.1").count(), 3);
}

#[test]
fn httpget_repeat_reconnects_when_the_server_closes() {
    let reply: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    let (address, server) = serve(vec![vec![reply], vec![reply]]);
    let output = run(example("httpget").args([&format!("http://{address}/"), "--repeat", "2"]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output).matches("200 OK").count(), 2);
    server.join().unwrap();
}

#[test]
fn httpget_repeat_reconnects_when_the_server_closes_without_saying_so() {
    // HTTP/1.1 without `Connection: close`, yet each connection ends after one answer.
    let reply: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let (address, server) = serve(vec![vec![reply], vec![reply], vec![reply]]);
    let output = run(example("httpget").args([&format!("http://{address}/"), "--repeat", "3"]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output).matches("200 OK").count(), 3);
    server.join().unwrap();
}

#[test]
fn httpget_sends_method_data_and_headers() {
    let (address, server) = serve(vec![vec![
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    ]]);
    let output = run(example("httpget").args([
        &format!("http://{address}/items"),
        "-X",
        "PUT",
        "-d",
        "a=1",
        "-H",
        "X-One: 1",
        "-H",
        "Content-Type: text/plain",
    ]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "201 Created\nContent-Length: 0\n\n");
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        received.starts_with("PUT /items HTTP/1.1\r\n"),
        "{received}"
    );
    assert!(received.contains("X-One: 1\r\n") && received.contains("Content-Type: text/plain\r\n"));
    assert!(received.contains("Content-Length: 3\r\n") && received.ends_with("\r\n\r\na=1"));
}

fn assert_fails(output: &Output, message: &str) {
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(message),
        "stderr {stderr:?} lacks {message:?}"
    );
}

#[test]
fn httpget_fails_on_a_refused_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    assert_fails(
        &run(example("httpget").arg(format!("http://{address}/"))),
        "httpget:",
    );
}

#[test]
fn httpget_fails_on_a_bad_url() {
    assert_fails(
        &run(example("httpget").arg("ftp://example.com/")),
        "invalid url",
    );
    assert_fails(
        &run(example("httpget").arg("http://example.com:port/")),
        "invalid url",
    );
}

#[test]
fn httpget_fails_on_incomplete_read() {
    let (address, server) = serve(vec![vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello\r\n",
    ]]);
    let output = run(example("httpget").arg(format!("http://{address}/")));
    assert_fails(&output, "IncompleteRead(0 bytes read, 3 more expected)");
    assert!(stdout(&output).ends_with("Hello\r\n"));
    server.join().unwrap();
}

#[test]
fn httpget_fails_on_a_bad_status_line() {
    let (address, server) = serve(vec![vec![b"ICY 200 OK\r\n\r\n"]]);
    assert_fails(
        &run(example("httpget").arg(format!("http://{address}/"))),
        "bad status line",
    );
    server.join().unwrap();
}

#[test]
fn httpget_fails_on_too_many_headers() {
    let reply: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\n{}\r\n", "A: b\r\n".repeat(101))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (address, server) = serve(vec![vec![reply]]);
    assert_fails(
        &run(example("httpget").arg(format!("http://{address}/"))),
        "got more than 100 headers",
    );
    server.join().unwrap();
}

#[test]
fn httpget_refuses_an_injected_header() {
    // Nothing listens here: the header is refused before any connection is attempted.
    let output =
        run(example("httpget").args(["http://127.0.0.1:9/", "-H", "X-Evil: a\r\nInjected: yes"]));
    assert_fails(&output, "invalid header value");
    assert!(output.stdout.is_empty());
}

#[test]
fn httpget_usage_error() {
    assert_fails(&run(&mut example("httpget")), "usage: httpget URL");
}

#[test]
fn httplib_legacy_prints_the_page() {
    let (address, server) = serve(vec![vec![
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>Hello</html>",
    ]]);
    let output = run(example("httplib_legacy").arg(format!("http://{address}/default.html")));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "<html>Hello</html>");
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        received.starts_with("GET /default.html HTTP/1.0\r\n"),
        "{received}"
    );
    assert!(received.contains("Accept: text/html\r\n"));
}

#[test]
fn httplib_legacy_fails_on_a_non_200_reply() {
    let (address, server) = serve(vec![vec![b"HTTP/1.0 404 Not Found\r\n\r\nnope"]]);
    assert_fails(
        &run(example("httplib_legacy").arg(format!("http://{address}/x"))),
        "404 Not Found",
    );
    server.join().unwrap();
}
