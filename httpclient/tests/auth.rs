//! `HttpConnection::request_with_auth` against a scripted server on 127.0.0.1: the first request goes without credentials
//! (or with Basic when asked), the 401's challenge is answered once on the same or a new connection, the caller's headers
//! go with both, and a caller's own `Authorization` header is replaced by the answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use httpclient::{Auth, HttpConnection};
use md5::{Digest as _, Md5};

/// Reads one request head (and its body, by Content-Length) from `reader`; `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    head.push_str(&String::from_utf8_lossy(&body));
    Some(head)
}

/// A server answering every request in turn with `answers` (each on the connection it arrived on); returns the requests.
fn serve(answers: Vec<&'static str>) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let handle = thread::spawn(move || {
        let mut requests = Vec::new();
        let mut answers = answers.into_iter();
        'connections: while let Ok((stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            while let Some(request) = read_request(&mut reader) {
                requests.push(request);
                let Some(answer) = answers.next() else {
                    break 'connections;
                };
                writer.write_all(answer.as_bytes()).expect("answer");
                if answer.contains("Connection: close") {
                    continue 'connections;
                }
            }
            if answers.len() == 0 {
                break;
            }
        }
        requests
    });
    (port, handle)
}

fn header<'r>(request: &'r str, name: &str) -> Option<&'r str> {
    request.lines().find_map(|line| {
        let (header, value) = line.split_once(':')?;
        header.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn hex_md5(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The value of `name="..."` or `name=...` in a Digest header.
fn param<'h>(value: &'h str, name: &str) -> &'h str {
    let start = value
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name} in {value}"))
        + name.len()
        + 1;
    let rest = &value[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"').unwrap_or(quoted.len())],
        None => &rest[..rest.find(',').unwrap_or(rest.len())],
    }
}

#[test]
fn a_digest_challenge_is_answered_once_with_the_callers_headers() {
    let (port, server) = serve(vec![
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", qop=\"auth\", nonce=\"n1\", opaque=\"o1\"\r\n\
         Content-Length: 4\r\n\r\nnope",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ]);
    let mut conn = HttpConnection::new(&format!("127.0.0.1:{port}")).expect("connection");
    let mut auth = Auth::any("u", "p");
    let mut response = conn
        .request_with_auth(
            "POST",
            "/x?y",
            Some(b"data"),
            &[("X-Trace", "7"), ("Authorization", "Bearer stale")],
            &mut auth,
        )
        .expect("request");
    assert_eq!(response.status, 200);
    assert_eq!(response.read(None).expect("body"), b"ok");
    drop(response);
    drop(conn);
    let requests = server.join().expect("server");
    assert_eq!(requests.len(), 2, "{requests:?}");
    // The first goes without credentials (the caller's own Authorization is not sent), with the body and the other headers.
    assert_eq!(
        header(&requests[0], "authorization"),
        None,
        "{}",
        requests[0]
    );
    assert_eq!(header(&requests[0], "x-trace"), Some("7"));
    assert!(requests[0].ends_with("\r\n\r\ndata"), "{}", requests[0]);
    // The second answers the challenge: RFC 7616's response for this request, count 1.
    let second = &requests[1];
    assert_eq!(header(second, "x-trace"), Some("7"));
    assert!(second.ends_with("\r\n\r\ndata"), "{second}");
    let authorization = header(second, "authorization").expect("authorization");
    assert!(authorization.starts_with("Digest "), "{authorization}");
    assert_eq!(param(authorization, "username"), "u");
    assert_eq!(param(authorization, "uri"), "/x?y");
    assert_eq!(param(authorization, "opaque"), "o1");
    assert_eq!(param(authorization, "nc"), "00000001");
    let cnonce = param(authorization, "cnonce");
    let expected = hex_md5(&format!(
        "{}:n1:00000001:{cnonce}:auth:{}",
        hex_md5("u:r:p"),
        hex_md5("POST:/x?y")
    ));
    assert_eq!(param(authorization, "response"), expected);
}

#[test]
fn basic_goes_first_and_a_401_to_it_is_final() {
    let (port, server) = serve(vec![
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\nContent-Length: 0\r\n\r\n",
    ]);
    let mut conn = HttpConnection::new(&format!("127.0.0.1:{port}")).expect("connection");
    let mut auth = Auth::basic("u", "wrong");
    let response = conn
        .request_with_auth("GET", "/", None, &[], &mut auth)
        .expect("request");
    assert_eq!(response.status, 401);
    drop(response);
    drop(conn);
    let requests = server.join().expect("server");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        header(&requests[0], "authorization"),
        Some("Basic dTp3cm9uZw==")
    );
}

#[test]
fn a_digest_answer_sent_at_once_is_retried_only_when_stale() {
    let (port, server) = serve(vec![
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", qop=\"auth\", nonce=\"n1\"\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", qop=\"auth\", nonce=\"n2\"\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB",
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", qop=\"auth\", nonce=\"n3\", stale=true\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nC",
    ]);
    let mut conn = HttpConnection::new(&format!("127.0.0.1:{port}")).expect("connection");
    let mut auth = Auth::digest("u", "p");
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let mut response = conn
            .request_with_auth("GET", "/", None, &[], &mut auth)
            .expect("request");
        let body = response.read(None).expect("body");
        outcomes.push(format!(
            "{} {}",
            response.status,
            String::from_utf8_lossy(&body)
        ));
    }
    drop(conn);
    // Challenged, then answered; an answer sent at once and refused without stale=true is final; the next goes at once
    // on the new nonce; one refused as stale is answered again on the nonce the refusal brought.
    assert_eq!(outcomes, ["200 A", "401 ", "200 B", "200 C"]);
    let requests = server.join().expect("server");
    assert_eq!(requests.len(), 6, "{requests:?}");
    let nonces: Vec<&str> = requests
        .iter()
        .map(|request| header(request, "authorization").map_or("-", |value| param(value, "nonce")))
        .collect();
    assert_eq!(nonces, ["-", "n1", "n1", "n2", "n2", "n3"]);
}
