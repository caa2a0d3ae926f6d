//! Keep-alive, reconnection and the connection state machine, mirroring test_httplib's PersistenceTest.

mod support;

use std::time::Duration;

use httpclient::{Body, Error, HttpConnection, State};
use support::{serve, serve_replies, Step};

// Mirrors test_httplib: PersistenceTest.test_reuse_reconnect
#[test]
fn test_reuse_reconnect() {
    let cases = [
        ("1.0", "", false),
        ("1.0", "Connection: keep-alive\r\n", true),
        ("1.1", "", true),
        ("1.1", "Connection: close\r\n", false),
        ("1.0", "Connection: keep-ALIVE\r\n", true),
        ("1.1", "Connection: cloSE\r\n", false),
        ("1.0", "Keep-Alive: timeout=5\r\n", true),
    ];
    for (version, header, reuse) in cases {
        let message =
            format!("HTTP/{version} 200 OK\r\n{header}Content-Length: 12\r\n\r\nDummy body\r\n");
        let server = if reuse {
            serve_replies(vec![vec![message.as_bytes(), message.as_bytes()]])
        } else {
            serve_replies(vec![vec![message.as_bytes()], vec![message.as_bytes()]])
        };
        let mut conn = HttpConnection::new(&server.host()).unwrap();
        assert!(conn.sock().is_none());
        conn.request("GET", "/open-connection", Body::Empty, &[])
            .unwrap();
        let mut response = conn.getresponse().unwrap();
        assert_eq!(response.will_close(), !reuse, "{version} {header:?}");
        assert_eq!(response.read(None).unwrap(), b"Dummy body\r\n");
        drop(response);
        assert_eq!(conn.sock().is_none(), !reuse, "{version} {header:?}");
        conn.request("GET", "/subsequent-request", Body::Empty, &[])
            .unwrap();
        conn.getresponse().unwrap().read(None).unwrap();
        drop(conn);
        assert_eq!(
            server.received().len(),
            if reuse { 1 } else { 2 },
            "{version} {header:?}"
        );
    }
}

// Mirrors test_httplib: PersistenceTest.test_disconnected
#[test]
fn test_disconnected() {
    let server = serve(vec![
        vec![Step::Swallow],
        vec![Step::Reply(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        )],
    ]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/eof-response", Body::Empty, &[])
        .unwrap();
    let error = conn.getresponse().unwrap_err();
    assert!(matches!(error, Error::RemoteDisconnected), "{error}");
    assert_eq!(
        error.to_string(),
        "remote end closed connection without response"
    );
    assert!(conn.sock().is_none());
    // connect() is invoked again automatically.
    conn.request("GET", "/reconnect", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().status, 200);
    drop(conn);
    assert_eq!(server.received().len(), 2);
}

// Mirrors test_httplib: PersistenceTest.test_100_close
#[test]
fn test_100_close() {
    let server = serve(vec![
        vec![Step::Reply(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())],
        vec![Step::Reply(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        )],
    ]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[("Expect", "100-continue")])
        .unwrap();
    assert!(matches!(conn.getresponse(), Err(Error::RemoteDisconnected)));
    assert!(conn.sock().is_none());
    conn.request("GET", "/reconnect", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().status, 200);
    drop(conn);
    assert_eq!(server.received().len(), 2);
}

// No test_httplib counterpart (better than Python): a kept-alive socket the server closed while idle is
// replaced before the next request, instead of failing with RemoteDisconnected.
#[test]
fn stale_keep_alive_socket_is_replaced() {
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let server = serve_replies(vec![vec![reply], vec![reply]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert!(!response.will_close());
    assert_eq!(response.read(None).unwrap(), b"ok");
    drop(response);
    assert!(conn.sock().is_some());
    // Give the server's FIN time to arrive.
    std::thread::sleep(Duration::from_millis(200));
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"ok");
    drop(conn);
    assert_eq!(server.received().len(), 2);
}

// Mirrors http.client's state machine (the ImproperConnectionState checks of putrequest, putheader,
// endheaders and getresponse, exercised by test_httplib's OfflineTest and BasicTest).
#[test]
fn test_improper_connection_state() {
    let server = serve_replies(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    let error = conn.getresponse().unwrap_err();
    assert!(
        matches!(error, Error::ResponseNotReady(State::Idle)),
        "{error}"
    );
    assert!(error.is_improper_connection_state());
    assert!(matches!(
        conn.putheader("A", "b"),
        Err(Error::CannotSendHeader(State::Idle))
    ));
    assert!(matches!(
        conn.endheaders(),
        Err(Error::CannotSendHeader(State::Idle))
    ));
    conn.putrequest("GET", "/").unwrap();
    assert_eq!(conn.state(), State::RequestStarted);
    assert!(matches!(
        conn.putrequest("GET", "/"),
        Err(Error::CannotSendRequest(State::RequestStarted))
    ));
    assert!(matches!(
        conn.getresponse(),
        Err(Error::ResponseNotReady(State::RequestStarted))
    ));
    conn.endheaders().unwrap();
    assert_eq!(conn.state(), State::RequestSent);
    let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
    assert!(
        matches!(error, Error::CannotSendRequest(State::RequestSent)),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "cannot send request (state: Request-sent)"
    );
    conn.getresponse().unwrap().read(None).unwrap();
    assert_eq!(conn.state(), State::Idle);
    assert!(matches!(
        conn.getresponse(),
        Err(Error::ResponseNotReady(State::Idle))
    ));
    drop(conn);
    server.received();
}

// Mirrors test_httplib: BasicTest.test_error_leak (a response dropped unread costs the socket, never the next answer).
#[test]
fn test_unread_response_closes_socket() {
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
    let server = serve_replies(vec![
        vec![reply],
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"],
    ]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(Some(2)).unwrap(), b"fi");
    drop(response);
    assert!(conn.sock().is_none());
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"second");
    drop(conn);
    assert_eq!(server.received().len(), 2);
}

// Mirrors test_httplib: SourceAddressTest.testHTTPConnectionSourceAddress
#[test]
fn test_source_address() {
    let server = serve_replies(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]]);
    let source: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = httpclient::Config {
        source_address: Some(source),
        ..httpclient::Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    conn.connect().unwrap();
    let local = conn.sock().unwrap().local_addr().unwrap();
    assert_eq!(local.ip(), source.ip());
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    conn.getresponse().unwrap();
    drop(conn);
    server.received();
}

// Mirrors test_httplib: BasicTest.test_response_fileno
#[cfg(unix)]
#[test]
fn test_response_fileno() {
    let server = serve_replies(vec![vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    assert_eq!(conn.fileno(), None);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let socket_fd = conn.fileno();
    let mut response = conn.getresponse().unwrap();
    assert!(response.fileno().is_some());
    assert_eq!(response.fileno(), socket_fd);
    response.read(None).unwrap();
    drop(response);
    drop(conn);
    server.received();
}

// Mirrors http.client's auto_open attribute: with it off, sending before connect() is NotConnected.
#[test]
fn test_auto_open_off() {
    let server = serve_replies(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]]);
    let config = httpclient::Config {
        auto_open: false,
        ..httpclient::Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
    assert!(matches!(error, Error::NotConnected), "{error}");
    assert_eq!(conn.state(), State::Idle);
    conn.connect().unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().status, 200);
    drop(conn);
    server.received();
}
