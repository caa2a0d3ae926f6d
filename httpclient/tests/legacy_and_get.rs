//! The Python 2 `httplib.HTTP` class and the `get` convenience, against scripted servers.

mod support;

use std::io::Read;

use httpclient::{Error, Http};
use support::{parse_request, serve_once};

// Mirrors Python 2's test_httplib: BasicTest.test_http_getreply (HTTP.getreply and getfile).
#[test]
fn test_legacy_getreply() {
    let server = serve_once(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>page</html>");
    let mut host = Http::new(&server.host()).unwrap();
    host.putrequest("GET", "/default.html").unwrap();
    host.putheader("Accept", "text/html").unwrap();
    host.endheaders().unwrap();
    let (errcode, errmsg, headers) = host.getreply().unwrap();
    assert_eq!((errcode, errmsg.as_str()), (200, "OK"));
    assert_eq!(headers.unwrap().get("content-type"), Some("text/html"));
    let mut page = String::new();
    host.getfile().unwrap().read_to_string(&mut page).unwrap();
    assert_eq!(page, "<html>page</html>");
    host.close();
    let (lines, _) = parse_request(&server.received().remove(0));
    assert_eq!(lines[0], "GET /default.html HTTP/1.0");
    // Better than Python 2: a Host header, so virtual hosts answer.
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("Host: 127.0.0.1:")),
        "{lines:?}"
    );
    assert!(lines.contains(&"Accept: text/html".to_string()));
    assert!(!lines.iter().any(|line| line.starts_with("Accept-Encoding")));
}

// Mirrors Python 2's httplib.HTTP.getreply on a bad status line: (-1, line, None), the rest in getfile().
#[test]
fn test_legacy_bad_status_line() {
    let server = serve_once(b"ICY 200 OK\r\nrest of stream");
    let mut host = Http::new(&server.host()).unwrap();
    host.putrequest("GET", "/").unwrap();
    host.endheaders().unwrap();
    let (errcode, line, headers) = host.getreply().unwrap();
    assert_eq!((errcode, line.as_str(), headers), (-1, "ICY 200 OK", None));
    let mut rest = Vec::new();
    host.getfile().unwrap().read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"rest of stream");
    drop(host);
    server.received();
}

// Mirrors Python 2's httplib.HTTP: a second request on the same object reconnects.
#[test]
fn test_legacy_second_request() {
    let reply: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nbody";
    let server = support::serve_replies(vec![vec![reply], vec![reply]]);
    let mut host = Http::with_port("127.0.0.1", Some(server.address.port())).unwrap();
    for _ in 0..2 {
        host.putrequest("GET", "/").unwrap();
        host.endheaders().unwrap();
        assert_eq!(host.getreply().unwrap().0, 200);
        let mut body = Vec::new();
        host.getfile().unwrap().read_to_end(&mut body).unwrap();
        assert_eq!(body, b"body");
    }
    drop(host);
    assert_eq!(server.received().len(), 2);
}

// No test_httplib counterpart: the shape of urlopen(url).read() on top of HttpConnection.
#[test]
fn get_convenience() {
    let server = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let mut response =
        httpclient::get(&format!("http://{}/index.html?x=1", server.host())).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.read(None).unwrap(), b"hello");
    let connection = response.into_connection().unwrap();
    assert!(connection.sock().is_some(), "kept alive for reuse");
    drop(connection);
    let (lines, _) = parse_request(&server.received().remove(0));
    assert_eq!(lines[0], "GET /index.html?x=1 HTTP/1.1");
}

// No test_httplib counterpart: httpclient::request with a body, and a bad URL.
#[test]
fn request_convenience() {
    let server = serve_once(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    let url = format!("http://{}/items", server.host());
    let response =
        httpclient::request("POST", &url, "name=x", &[("Content-Type", "text/plain")]).unwrap();
    assert_eq!(
        (response.status, response.reason.as_str()),
        (201, "Created")
    );
    drop(response);
    let (lines, body) = parse_request(&server.received().remove(0));
    assert!(lines.contains(&"Content-Length: 6".to_string()));
    assert_eq!(body, b"name=x");
    for bad in ["not a url", "ftp://example.com/", "http://exa mple.com/"] {
        assert!(
            matches!(httpclient::get(bad), Err(Error::InvalidUrl(_))),
            "{bad}"
        );
    }
}
