//! CONNECT tunnels, mirroring test_httplib's TunnelTests, and the separate connect, read and write timeouts.

mod support;

use std::time::{Duration, Instant};

use httpclient::{Body, Config, Error, HttpConnection, TimeoutKind, Timeouts};
use support::{serve, serve_replies, Step};

const HEAD_REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n";

// Mirrors test_httplib: TunnelTests.test_connect_with_tunnel
#[test]
fn test_connect_with_tunnel() {
    let proxy = serve_replies(vec![vec![b"HTTP/1.1 200 OK\r\n\r\n", HEAD_REPLY]]);
    let mut conn = HttpConnection::new(&proxy.host()).unwrap();
    conn.set_tunnel("destination.com", None, &[]).unwrap();
    conn.request("HEAD", "/", "", &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), b"");
    drop(response);
    drop(conn);
    let sent = String::from_utf8(proxy.received().remove(0)).unwrap();
    assert!(
        sent.starts_with("CONNECT destination.com:80 HTTP/1.1\r\nHost: destination.com:80\r\n\r\n"),
        "{sent}"
    );
    assert!(
        sent.contains("HEAD / HTTP/1.1\r\nHost: destination.com\r\n"),
        "{sent}"
    );
    assert!(!sent.contains("Host: destination.com:None"));
    assert!(!sent.contains("Host: 127.0.0.1"), "{sent}");
}

// Mirrors test_httplib: TunnelTests.test_set_tunnel_host_port_headers_add_host_missing
#[test]
fn test_set_tunnel_host_port_headers_add_host_missing() {
    let proxy = serve_replies(vec![vec![b"HTTP/1.1 200 OK\r\n\r\n", HEAD_REPLY]]);
    let mut conn = HttpConnection::new(&proxy.host()).unwrap();
    let headers = [("User-Agent", "Mozilla/5.0 (compatible, MSIE 11)")];
    conn.set_tunnel("destination.com", Some(8888), &headers)
        .unwrap();
    conn.request("HEAD", "/", "", &[]).unwrap();
    conn.getresponse().unwrap();
    assert_eq!(conn.host(), "127.0.0.1");
    drop(conn);
    let sent = String::from_utf8(proxy.received().remove(0)).unwrap();
    let connect = "CONNECT destination.com:8888 HTTP/1.1\r\n\
        User-Agent: Mozilla/5.0 (compatible, MSIE 11)\r\nHost: destination.com:8888\r\n\r\n";
    assert!(sent.starts_with(connect), "{sent}");
    assert!(
        sent.contains("HEAD / HTTP/1.1\r\nHost: destination.com:8888\r\n"),
        "{sent}"
    );
}

// Mirrors test_httplib: TunnelTests.test_disallow_set_tunnel_after_connect
#[test]
fn test_disallow_set_tunnel_after_connect() {
    let proxy = serve(vec![vec![]]);
    let mut conn = HttpConnection::new(&proxy.host()).unwrap();
    conn.connect().unwrap();
    let error = conn.set_tunnel("destination.com", None, &[]).unwrap_err();
    assert!(matches!(error, Error::TunnelAfterConnect), "{error}");
    drop(conn);
    proxy.received();
}

// Mirrors test_httplib: TunnelTests.test_proxy_response_headers and test_tunnel_debuglog
#[test]
fn test_proxy_response_headers() {
    let proxy = serve_replies(vec![vec![
        b"HTTP/1.0 200 OK\r\nX-Dummy: 1\r\n\r\n",
        HEAD_REPLY,
    ]]);
    let mut conn = HttpConnection::new(&proxy.host()).unwrap();
    conn.set_debuglevel(1);
    conn.set_tunnel("destination.com", None, &[]).unwrap();
    conn.request("PUT", "/", "", &[]).unwrap();
    let headers = conn.get_proxy_response_headers().unwrap();
    assert_eq!(headers.get("x-dummy"), Some("1"));
    conn.getresponse().unwrap();
    drop(conn);
    proxy.received();
}

// Mirrors test_httplib: TunnelTests.test_tunnel_leak
#[test]
fn test_tunnel_leak() {
    let proxy = serve_replies(vec![vec![b"HTTP/1.1 404 NOT FOUND\r\n\r\n"]]);
    let mut conn = HttpConnection::new(&proxy.host()).unwrap();
    conn.set_tunnel("destination.com", None, &[]).unwrap();
    let error = conn.request("HEAD", "/", "", &[]).unwrap_err();
    assert!(
        matches!(error, Error::TunnelFailed { status: 404, ref reason } if reason == "NOT FOUND"),
        "{error}"
    );
    assert_eq!(error.to_string(), "tunnel connection failed: 404 NOT FOUND");
    assert!(conn.sock().is_none(), "the socket is closed, not leaked");
    drop(conn);
    proxy.received();
}

// Mirrors test_httplib: TimeoutTest.testTimeoutAttribute, here with the read timeout named in the error.
#[test]
fn read_timeout_names_itself() {
    let server = serve(vec![vec![
        Step::Swallow,
        Step::Sleep(Duration::from_secs(2)),
    ]]);
    let config = Config {
        timeouts: Timeouts {
            read: Some(Duration::from_millis(200)),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let started = Instant::now();
    let error = conn.getresponse().unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Read)),
        "{error}"
    );
    assert_eq!(error.to_string(), "read timed out");
    assert!(error.is_timeout() && !error.is_connect(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(conn);
    server.received();
}

// No test_httplib counterpart: a server that never reads makes the write timeout fire, and says so.
#[test]
fn write_timeout_names_itself() {
    let server = serve(vec![vec![Step::Sleep(Duration::from_secs(1))]]);
    let config = Config {
        timeouts: Timeouts {
            write: Some(Duration::from_millis(200)),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    let body = vec![b'x'; 64 << 20];
    let error = conn.request("POST", "/", &body, &[]).unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Write)),
        "{error}"
    );
    assert_eq!(error.to_string(), "write timed out");
    drop(conn);
    server.received();
}

// Mirrors test_httplib: BasicTest.test_host_port's failure side: a refused connection is an OSError.
#[test]
fn refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = Config {
        timeouts: Timeouts::all(Duration::from_secs(5)),
        ..Config::default()
    };
    let mut conn = HttpConnection::with_config(&address.to_string(), config).unwrap();
    for _ in 0..2 {
        // Better than Python: a failed send leaves the connection idle, not stuck in Request-sent.
        let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
        assert!(
            matches!(error, Error::Connect { ref source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused),
            "{error}"
        );
        assert!(error.is_connect(), "{error}");
        // The address tried and the operating system's words, as in `ConnectionRefusedError: [Errno 111] Connection refused`.
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot connect to {address}: ")),
            "{message}"
        );
        assert!(message.contains("refused"), "{message}");
        assert_eq!(conn.state(), httpclient::State::Idle);
    }
}

// Mirrors test_httplib: BasicTest.test_epipe: the server answers before reading the body; the send fails,
// yet the answer is still read.
#[test]
fn test_epipe() {
    let answer = b"HTTP/1.0 401 Authorization Required\r\nContent-type: text/html\r\n\
        WWW-Authenticate: Basic realm=\"example\"\r\nContent-Length: 0\r\n\r\n";
    let server = serve(vec![vec![
        Step::Write(answer.to_vec()),
        Step::Sleep(Duration::from_secs(1)),
    ]]);
    let config = Config {
        timeouts: Timeouts {
            write: Some(Duration::from_millis(300)),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    let body = vec![b'x'; 64 << 20];
    let error = conn.request("PUT", "/url", &body, &[]).unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Write)),
        "{error}"
    );
    let response = conn.getresponse().unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(
        response.getheader("www-authenticate").as_deref(),
        Some("Basic realm=\"example\"")
    );
    drop(response);
    drop(conn);
    server.received();
}
