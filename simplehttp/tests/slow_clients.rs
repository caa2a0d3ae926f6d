//! Slow and stalled clients against the `simplehttp` command: what they cost the server, and that others are still served.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use common::Command;

/// A served directory with a small file and an 8 MiB one.
fn tree() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
    std::fs::write(directory.path().join("big.bin"), vec![7u8; 8 << 20]).unwrap();
    directory
}

/// A client with a small receive buffer, so the server's sends fill up after a few hundred KiB.
fn small_window_client(port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    socket.into()
}

/// One GET of `/a.txt` on a fresh connection; the time it took, or `None` when no whole answer came within `limit`.
fn fresh_get(port: u16, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    answer
        .ends_with(b"\r\n\r\nhello")
        .then(|| started.elapsed())
}

// Not in Python: two clients that each stall a connection (a download never read, a request body trickled a byte a second),
// then a quiet spell longer than a spare worker lingers: a fresh request is still answered at once.
#[test]
fn two_stalled_clients_and_a_quiet_spell_do_not_stop_the_server() {
    let directory = tree();
    let server = Command::start(directory.path(), &["--workers", "2"], Stdio::null());
    let port = server.port;

    let mut download = small_window_client(port);
    download
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    trickle
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nx")
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickler = thread::spawn({
        let done = done.clone();
        move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1000));
                if trickle.write_all(b"x").is_err() {
                    break;
                }
            }
        }
    });
    assert!(fresh_get(port, Duration::from_secs(2)).is_some());
    thread::sleep(Duration::from_millis(5500));
    let waited = fresh_get(port, Duration::from_secs(2));
    assert!(
        waited.is_some_and(|waited| waited < Duration::from_secs(1)),
        "a fresh GET after the quiet spell: {waited:?}"
    );
    drop(download);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    trickler.join().unwrap();
}

/// Serves [`tree`] over HTTPS with a fresh self-signed certificate for `localhost`; the certificate's DER for clients.
fn start_tls(directory: &std::path::Path, arguments: &[&str], stderr: Stdio) -> (Command, Vec<u8>) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = directory.join("cert.pem");
    let key = directory.join("key.pem");
    std::fs::write(&certificate, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mut all: Vec<&str> = vec![
        "--tls-cert",
        certificate.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(arguments);
    let server = Command::start(directory, &all, stderr);
    (server, generated.cert.der().to_vec())
}

/// A TLS client session trusting `certificate`, offering ALPN `protocols`.
fn tls_client(certificate: &[u8], protocols: &[&[u8]]) -> rustls::ClientConnection {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            certificate.to_vec(),
        ))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = protocols.iter().map(|name| name.to_vec()).collect();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}

/// The threads of a server once it has served one request, so its workers have started.
fn settled_threads(server: &Command) -> usize {
    assert!(fresh_get_plain_or_tls(server.port, None).is_some());
    thread::sleep(Duration::from_millis(200));
    server.threads()
}

/// One GET of `/a.txt`, over TLS when a certificate is given; `None` when no whole answer came within 2 s.
fn fresh_get_plain_or_tls(port: u16, certificate: Option<&[u8]>) -> Option<Duration> {
    let Some(certificate) = certificate else {
        return fresh_get(port, Duration::from_secs(2));
    };
    let started = Instant::now();
    let socket = TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut tls = rustls::StreamOwned::new(tls_client(certificate, &[b"http/1.1"]), socket);
    tls.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    answer
        .ends_with(b"\r\n\r\nhello")
        .then(|| started.elapsed())
}

// Not in Python, whose threading server gives each download a thread: twenty clients that request the 8 MiB file
// and never read it hold no thread of the server, and a fresh client is served at once.
#[test]
fn downloads_never_read_hold_no_thread() {
    let directory = tree();
    let server = Command::start(directory.path(), &["--workers", "2"], Stdio::null());
    let before = settled_threads(&server);
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut client = small_window_client(server.port);
        client
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        held.push(client);
    }
    thread::sleep(Duration::from_millis(500));
    let waited = fresh_get(server.port, Duration::from_secs(2));
    assert!(
        waited.is_some_and(|waited| waited < Duration::from_millis(500)),
        "a fresh GET among 20 stalled downloads: {waited:?}"
    );
    assert_eq!(
        server.threads(),
        before,
        "threads with 20 stalled downloads"
    );
}

// Not in Python: the same over TLS, where the file is read and encrypted as the client takes it.
#[test]
fn tls_downloads_never_read_hold_no_thread() {
    let directory = tree();
    let (server, certificate) = start_tls(directory.path(), &["--workers", "2"], Stdio::null());
    assert!(fresh_get_plain_or_tls(server.port, Some(&certificate)).is_some());
    thread::sleep(Duration::from_millis(200));
    let before = server.threads();
    let mut held = Vec::new();
    for _ in 0..10 {
        let socket = small_window_client(server.port);
        let mut tls = rustls::StreamOwned::new(tls_client(&certificate, &[b"http/1.1"]), socket);
        tls.write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // The handshake and the request go out; nothing of the answer is read.
        tls.flush().unwrap();
        held.push(tls);
    }
    thread::sleep(Duration::from_millis(500));
    let waited = fresh_get_plain_or_tls(server.port, Some(&certificate));
    assert!(
        waited.is_some_and(|waited| waited < Duration::from_secs(1)),
        "a fresh TLS GET among 10 stalled downloads: {waited:?}"
    );
    assert_eq!(
        server.threads(),
        before,
        "threads with 10 stalled TLS downloads"
    );
}

// Not in Python: clients that trickle a TLS handshake a byte at a time are cut at the head deadline (--timeout),
// so even with --max-connections 2 held by them, a good client is served within 1.5 x --timeout.
#[test]
fn trickled_tls_handshakes_are_cut_at_the_timeout() {
    let directory = tree();
    let (server, certificate) = start_tls(
        directory.path(),
        &["--timeout", "2", "--max-connections", "2"],
        Stdio::null(),
    );
    // A real ClientHello, sent a byte every 300 ms: each byte is progress, so only a deadline for the whole head stops it.
    let mut hello = Vec::new();
    tls_client(&certificate, &[b"http/1.1"])
        .write_tls(&mut hello)
        .unwrap();
    let tricklers: Vec<_> = (0..2)
        .map(|_| {
            let hello = hello.clone();
            let port = server.port;
            thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let started = Instant::now();
                for byte in &hello {
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    match stream.read(&mut [0; 64]) {
                        Ok(_) => break,
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let good = fresh_get_plain_or_tls_within(server.port, &certificate, Duration::from_secs(5));
    assert!(good, "the good client was not served");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the good client waited {:?}",
        started.elapsed()
    );
    for trickler in tricklers {
        let closed_after = trickler.join().unwrap();
        assert!(
            closed_after >= Duration::from_secs(2) && closed_after < Duration::from_secs(3),
            "a trickling handshake was closed after {closed_after:?}"
        );
    }
}

fn fresh_get_plain_or_tls_within(port: u16, certificate: &[u8], limit: Duration) -> bool {
    let Ok(socket) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    socket.set_read_timeout(Some(limit)).unwrap();
    let mut tls = rustls::StreamOwned::new(tls_client(certificate, &[b"http/1.1"]), socket);
    if tls
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    answer.ends_with(b"\r\n\r\nhello")
}

// Mirrors test_httpservers: CommandLineRunTimeTestCase.test_https_client, with curl asking for HTTP/1.0 only (ALPN http/1.0).
#[test]
fn curl_http_1_0_over_https() {
    let directory = tree();
    let (server, _) = start_tls(directory.path(), &[], Stdio::null());
    let output = std::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--insecure",
            "--http1.0",
            "--include",
        ])
        .arg(format!("https://localhost:{}/a.txt", server.port))
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", server.port)])
        .output()
        .expect("curl runs");
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{answer} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The status line names the server's own version, as Python's does; what matters is that the session was accepted.
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
}

// Not in Python: a TLS client that closes its socket without close_notify, between requests or inside one,
// has simply gone: at most one log line for it, and the server goes on.
#[test]
fn tls_close_without_close_notify_is_an_ordinary_end() {
    let directory = tree();
    let log = directory.path().join("server.log");
    let (server, certificate) = start_tls(
        directory.path(),
        &[],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    // Served once, then the socket closed under the session.
    let socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(tls_client(&certificate, &[b"http/1.1"]), socket);
    tls.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = [0; 4096];
    let read = tls.read(&mut answer).unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200 OK"));
    tls.sock.shutdown(std::net::Shutdown::Both).unwrap();
    drop(tls);
    // Half a request, then the socket closed.
    let socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut tls = rustls::StreamOwned::new(tls_client(&certificate, &[b"http/1.1"]), socket);
    tls.write_all(b"GET /a.txt HTTP/1.1\r\nHo").unwrap();
    tls.flush().unwrap();
    thread::sleep(Duration::from_millis(200));
    tls.sock.shutdown(std::net::Shutdown::Both).unwrap();
    drop(tls);
    thread::sleep(Duration::from_millis(300));
    assert!(fresh_get_plain_or_tls(server.port, Some(&certificate)).is_some());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The two answered GETs, and nothing for the two sessions that ended without close_notify.
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines
            .iter()
            .all(|line| line.contains("\"GET /a.txt HTTP/1.1\" 200")),
        "{text}"
    );
}
