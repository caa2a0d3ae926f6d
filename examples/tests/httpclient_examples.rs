//! Smoke tests of the `httpget` and `httplib_legacy` examples against scripted servers on 127.0.0.1:0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
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
    // Python's `resp.read()` says the same: the 7 bytes that arrived, the 3 that did not.
    assert_fails(&output, "IncompleteRead(7 bytes read, 3 more expected)");
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

// ---------------------------------------------------------------------------------------------------------------
// HTTPS: what httpget trusts (the system's roots, --cacert FILE, or nothing with -k) and what it says when it refuses.

/// A certificate and key made by `openssl req -x509` for `/CN=localhost` with `extra` arguments, as users make them.
fn openssl_certificate(directory: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    let certificate = directory.join("cert.pem");
    let key = directory.join("key.pem");
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .args(extra)
        .output()
        .expect("the openssl command, which these tests use to make certificates as users do");
    assert!(output.status.success(), "openssl: {output:?}");
    (certificate, key)
}

/// A CA made by rcgen and a certificate for `localhost` it signed; the CA's PEM file and the server's files.
fn private_ca(directory: &Path, name: &str) -> (PathBuf, (PathBuf, PathBuf)) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let certificate = params.signed_by(&key, &issuer).unwrap();
    let write = |file: &str, text: String| {
        let path = directory.join(format!("{name}-{file}"));
        std::fs::write(&path, text).unwrap();
        path
    };
    (
        write("ca.pem", ca.pem()),
        (
            write("cert.pem", certificate.pem()),
            write("key.pem", key.serialize_pem()),
        ),
    )
}

/// An HTTPS server on 127.0.0.1:0 with the certificate and key files loaded as `simplehttp --tls-cert --tls-key` loads them,
/// answering `hello` to each of `connections` connections (one that fails its handshake counts too).
fn serve_tls(files: &(PathBuf, PathBuf), connections: usize) -> (u16, JoinHandle<()>) {
    use httpclient::rustls;
    let config = basehttp::tls_server_config(&files.0, Some(&files.1), None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let (socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut tls = rustls::StreamOwned::new(
                rustls::ServerConnection::new(config.clone()).unwrap(),
                socket,
            );
            let mut received = Vec::new();
            let mut buffer = [0; 4096];
            let complete = loop {
                if received.windows(4).any(|window| window == b"\r\n\r\n") {
                    break true;
                }
                match tls.read(&mut buffer) {
                    Ok(0) | Err(_) => break false,
                    Ok(read) => received.extend_from_slice(&buffer[..read]),
                }
            };
            if complete {
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    (port, handle)
}

/// httpget for `https://localhost:PORT/` with `arguments`, whose system roots are the certificates of `system_roots`.
fn httpget_tls(port: u16, system_roots: &Path, arguments: &[&str]) -> Output {
    run(example("httpget")
        .arg(format!("https://localhost:{port}/"))
        .args(arguments)
        .env("SSL_CERT_FILE", system_roots)
        .env_remove("SSL_CERT_DIR"))
}

#[test]
fn httpget_trusts_the_system_roots() {
    let directory = tempfile::tempdir().unwrap();
    let (ca, files) = private_ca(directory.path(), "system");
    let (port, server) = serve_tls(&files, 1);
    let output = httpget_tls(port, &ca, &[]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).ends_with("\n\nhello"), "{output:?}");
    server.join().unwrap();
}

// curl's --cacert: the file's certificates replace the system's.
#[test]
fn httpget_cacert_trusts_the_file_instead_of_the_system_roots() {
    let directory = tempfile::tempdir().unwrap();
    let (system_ca, system_files) = private_ca(directory.path(), "system");
    let (private, private_files) = private_ca(directory.path(), "private");
    let private = private.to_str().unwrap();
    let (port, server) = serve_tls(&private_files, 1);
    let output = httpget_tls(port, &system_ca, &["--cacert", private]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).ends_with("\n\nhello"), "{output:?}");
    server.join().unwrap();
    // A server the system's roots vouch for is refused once --cacert names another CA.
    let (port, server) = serve_tls(&system_files, 1);
    let output = httpget_tls(port, &system_ca, &["--cacert", private]);
    assert_fails(&output, "unknown issuer");
    assert_fails(
        &output,
        &format!("trusted now: only the certificates in {private} (--cacert)"),
    );
    server.join().unwrap();
}

// The certificate users make with openssl, made right (CA:FALSE, a subjectAltName), trusted with --cacert.
#[test]
fn httpget_cacert_trusts_a_self_signed_certificate_made_by_openssl() {
    let directory = tempfile::tempdir().unwrap();
    let (system_ca, _) = private_ca(directory.path(), "system");
    let files = openssl_certificate(
        directory.path(),
        &[
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let (port, server) = serve_tls(&files, 2);
    // Without --cacert: refused, and told how to trust it.
    let output = httpget_tls(port, &system_ca, &[]);
    assert_fails(&output, "httpget: certificate verify failed for localhost: its issuer is not trusted (unknown issuer)");
    assert_fails(&output, "trusted now: the system's root certificates");
    assert_fails(&output, "with --cacert FILE");
    assert!(output.stdout.is_empty());
    let output = httpget_tls(port, &system_ca, &["--cacert", files.0.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).ends_with("\n\nhello"), "{output:?}");
    server.join().unwrap();
}

// `openssl req -x509` with its defaults marks the certificate CA:TRUE, which --cacert cannot make acceptable:
// the message says so, and what to change, and that -k is the way for a test server.
#[test]
fn httpget_explains_a_certificate_made_by_openssl_with_its_defaults() {
    let directory = tempfile::tempdir().unwrap();
    let (system_ca, _) = private_ca(directory.path(), "system");
    let files = openssl_certificate(
        directory.path(),
        &["-addext", "subjectAltName=DNS:localhost"],
    );
    let (port, server) = serve_tls(&files, 1);
    let output = httpget_tls(port, &system_ca, &["--cacert", files.0.to_str().unwrap()]);
    for words in [
        "httpget: certificate verify failed for localhost: the server's certificate is a CA certificate (basic constraints CA:TRUE)",
        "refused even when that certificate is trusted",
        "`openssl req -x509` makes such certificates by default",
        "-addext basicConstraints=critical,CA:FALSE",
        "httpget: --cacert cannot make this certificate acceptable; for a test server, -k (--insecure) skips verification",
    ] {
        assert_fails(&output, words);
    }
    server.join().unwrap();
}

// curl's -k / --insecure: the same certificate, and one with only /CN=localhost, are accepted without verification.
#[test]
fn httpget_insecure_skips_verification() {
    let directory = tempfile::tempdir().unwrap();
    let (system_ca, _) = private_ca(directory.path(), "system");
    let files = openssl_certificate(directory.path(), &[]);
    let (port, server) = serve_tls(&files, 3);
    // Verified, it names no host and is a CA certificate.
    assert_fails(
        &httpget_tls(port, &system_ca, &[]),
        "certificate verify failed for localhost",
    );
    for flag in ["-k", "--insecure"] {
        let output = httpget_tls(port, &system_ca, &[flag]);
        assert!(output.status.success(), "{flag}: {output:?}");
        assert!(stdout(&output).ends_with("\n\nhello"), "{flag}: {output:?}");
    }
    server.join().unwrap();
}

#[test]
fn httpget_cacert_that_cannot_be_read_says_so() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("missing.pem");
    let output = run(example("httpget").args([
        "https://127.0.0.1:9/",
        "--cacert",
        missing.to_str().unwrap(),
    ]));
    assert_fails(
        &output,
        &format!("httpget: cannot load CA file {}: ", missing.display()),
    );
    assert_fails(&output, "No such file or directory");
    assert_fails(
        &run(example("httpget").args(["https://127.0.0.1:9/", "--cacert"])),
        "--cacert needs a value",
    );
}
