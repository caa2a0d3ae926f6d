//! Running behind a proxy and for monitoring (not in Python): trusted proxies' headers and PROXY protocol headers in both
//! ways of serving a connection, the request counters, and the access log's formats and reopening.

mod support;

use std::io::{self, Read, Write};

use std::time::Duration;

use basehttp::{
    http_metrics, record_auth_failure, BaseHttpRequestHandler, HttpHandler, HttpRequest,
    HttpServer, IpNet, Limits, TrustedProxies,
};
use socketserver::{Mode, ServerConfig};
use support::{connect, exchange_raw, Running};

/// Answers with the client address the request holds, then the peer's.
#[derive(Clone)]
struct Who {
    limits: Limits,
}

impl BaseHttpRequestHandler for Who {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn log_message(&self, _: &HttpRequest<'_>, _: std::fmt::Arguments<'_>) {}

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let body = format!("{} {}", req.client_address, req.peer_address());
        req.send_response(200, None)?;
        req.send_header("Content-Length", &body.len().to_string())?;
        req.end_headers()?;
        req.wfile.write_all(body.as_bytes())
    }
}

fn modes() -> [ServerConfig; 2] {
    let mut readiness = HttpServer::default_config();
    readiness.mode = Mode::Readiness { workers: 2 };
    let mut threading = HttpServer::default_config();
    threading.mode = Mode::Threading;
    [readiness, threading]
}

fn serve(trusted: &str, config: ServerConfig, limits: Limits) -> Running {
    let proxies = TrustedProxies::new(vec![trusted.parse::<IpNet>().unwrap()]);
    let handler = HttpHandler::new(Who { limits }).with_trusted_proxies(proxies);
    let server =
        HttpServer::with_http_handler(("127.0.0.1", 0), handler, config).expect("bind 127.0.0.1:0");
    support::run_server(server)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn proxy_v2() -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12, 203, 0, 113, 9, 127, 0, 0, 1]);
    header.extend_from_slice(&4242u16.to_be_bytes());
    header.extend_from_slice(&80u16.to_be_bytes());
    header
}

#[test]
fn a_trusted_proxy_names_the_client_in_both_modes() {
    for config in modes() {
        let server = serve("127.0.0.0/8", config, Limits::default());
        let forwarded = exchange_raw(
            server.port,
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n",
        );
        assert!(
            body(&forwarded).starts_with("198.51.100.7:0 127.0.0.1:"),
            "{forwarded}"
        );
        let v1 = [&b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..], GET].concat();
        let answer = exchange_raw(server.port, &v1);
        assert!(
            body(&answer).starts_with("203.0.113.5:5555 127.0.0.1:"),
            "{answer}"
        );
        let answer = exchange_raw(server.port, &[proxy_v2(), GET.to_vec()].concat());
        assert!(
            body(&answer).starts_with("203.0.113.9:4242 127.0.0.1:"),
            "{answer}"
        );
        // A forwarding header behind a PROXY header came from the client the PROXY header names, which is not trusted: ignored.
        let both = [
            &b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.8\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        let answer = exchange_raw(server.port, &both);
        assert!(
            body(&answer).starts_with("203.0.113.5:5555 127.0.0.1:"),
            "{answer}"
        );
        // No header at all: the peer is the client.
        let answer = exchange_raw(server.port, GET);
        let (client, peer) = body(&answer).split_once(' ').unwrap();
        assert_eq!(client, peer, "{answer}");
    }
}

#[test]
fn a_trickled_proxy_header_is_waited_for() {
    for config in modes() {
        let server = serve("127.0.0.1/32", config, Limits::default());
        let mut stream = connect(server.port);
        stream.write_all(b"PROX").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        stream
            .write_all(b"Y TCP4 203.0.113.5 127.0.0.1 5555 ")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        stream.write_all(b"80\r\n").unwrap();
        stream.write_all(GET).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(body(&answer).starts_with("203.0.113.5:5555 "), "{answer}");
    }
}

#[test]
fn an_untrusted_peer_cannot_name_the_client_in_both_modes() {
    for config in modes() {
        let before = http_metrics().proxy_refusals;
        let server = serve("10.0.0.0/8", config, Limits::default());
        let forwarded = exchange_raw(
            server.port,
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n",
        );
        let (client, peer) = body(&forwarded).split_once(' ').unwrap();
        assert_eq!(client, peer, "{forwarded}");
        assert!(client.starts_with("127.0.0.1:"), "{forwarded}");
        let v1 = [&b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..], GET].concat();
        assert_eq!(exchange_raw(server.port, &v1), "");
        assert_eq!(
            exchange_raw(server.port, &[proxy_v2(), GET.to_vec()].concat()),
            ""
        );
        assert_eq!(http_metrics().proxy_refusals - before, 2);
    }
}

// A trusted peer that starts a PROXY header and stops is closed at the head timeout, in both modes.
#[test]
fn a_proxy_header_that_never_ends_is_cut_at_the_head_timeout() {
    for config in modes() {
        let limits = Limits {
            head_timeout: Some(Duration::from_millis(300)),
            ..Limits::default()
        };
        let server = serve("127.0.0.1/32", config, limits);
        let mut stream = connect(server.port);
        stream.write_all(b"PROXY TCP4 203.0.113.5").unwrap();
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn requests_are_counted() {
    let server = serve("10.0.0.0/8", modes()[0].clone(), Limits::default());
    let before = http_metrics();
    for _ in 0..3 {
        assert!(exchange_raw(server.port, GET).starts_with("HTTP/1.1 200 "));
    }
    assert!(exchange_raw(
        server.port,
        b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .starts_with("HTTP/1.1 501 "));
    record_auth_failure();
    let after = http_metrics();
    // GET is METHODS[0], 2xx STATUS_CLASSES[1]; DELETE is METHODS[4], 5xx STATUS_CLASSES[4].
    assert_eq!(after.requests[0][1] - before.requests[0][1], 3);
    assert_eq!(after.requests[4][4] - before.requests[4][4], 1);
    assert_eq!(after.duration_count - before.duration_count, 4);
    assert!(after.bytes_sent - before.bytes_sent > 4 * 100);
    assert_eq!(after.auth_failures - before.auth_failures, 1);
}

#[test]
fn json_lines_count_the_body_and_the_log_reopens() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("access.log");
    assert!(
        !basehttp::reopen_access_log(),
        "stderr is not a file to reopen"
    );
    basehttp::set_access_log(basehttp::AccessLog::File(path.clone())).unwrap();
    basehttp::set_log_format(basehttp::LogFormat::Json);
    let server = serve("10.0.0.0/8", modes()[0].clone(), Limits::default());
    let answer = exchange_raw(
        server.port,
        b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\"\r\nReferer: r\r\nConnection: close\r\n\r\n",
    );
    let length = body(&answer).len();
    basehttp::flush_access_log();
    let first = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(line["bytes"], length);
    assert_eq!(line["status"], 200);
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/a");
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert_eq!(line["request"], "GET /a HTTP/1.1");
    assert_eq!(line["user_agent"], "t\"");
    assert_eq!(line["referer"], "r");

    std::fs::rename(&path, directory.path().join("access.log.1")).unwrap();
    assert!(basehttp::reopen_access_log());
    assert!(exchange_raw(server.port, GET).starts_with("HTTP/1.1 200 "));
    basehttp::flush_access_log();
    let second = std::fs::read_to_string(&path).unwrap();
    assert_eq!(second.lines().count(), 1, "{second}");
    assert!(second.contains("\"path\":\"/\""), "{second}");
    drop(server);
}

#[test]
fn common_lines() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("access.log");
    basehttp::set_access_log(basehttp::AccessLog::File(path.clone())).unwrap();
    basehttp::set_log_format(basehttp::LogFormat::Common);
    let server = serve("10.0.0.0/8", modes()[0].clone(), Limits::default());
    let answer = exchange_raw(server.port, GET);
    let length = body(&answer).len();
    basehttp::flush_access_log();
    let line = std::fs::read_to_string(&path).unwrap();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.ends_with(&format!("+0000] \"GET / HTTP/1.1\" 200 {length}\n")),
        "{line}"
    );
}

// No trusted proxy at all: a PROXY line is an ordinary (bad) request line, answered 400, not a refused connection.
#[test]
fn without_trusted_proxies_a_proxy_line_is_a_bad_request() {
    let handler = HttpHandler::new(Who {
        limits: Limits::default(),
    })
    .with_trusted_proxies(TrustedProxies::new(Vec::new()));
    let server = HttpServer::with_http_handler(("127.0.0.1", 0), handler, modes()[0].clone())
        .expect("bind 127.0.0.1:0");
    let server = support::run_server(server);
    let v1 = [&b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 80\r\n"[..], GET].concat();
    let answer = exchange_raw(server.port, &v1);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}
