//! `Site` as a library user meets it: around a handler that overrides `send_error` (Python's overridable method), the
//! handler's own pages still answer every status the site has no page for, challenges included.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use basehttp::{
    Authenticator, BaseHttpRequestHandler, HttpRequest, HttpServer, ThreadingHttpServer, Users,
};
use simplehttp::{ErrorPage, SimpleHttpRequestHandler, Site};

/// Files, with a JSON error page of its own for every status.
struct JsonErrors(SimpleHttpRequestHandler);

impl BaseHttpRequestHandler for JsonErrors {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.0)
    }
    fn log_message(&self, _: &HttpRequest<'_>, _: std::fmt::Arguments<'_>) {}
    fn send_error(
        &self,
        req: &mut HttpRequest<'_>,
        code: u16,
        _message: Option<&str>,
        _explain: Option<&str>,
    ) -> io::Result<()> {
        let body = format!("{{\"status\": {code}}}");
        req.send_response(code, None)?;
        req.send_header("Content-Type", "application/json")?;
        req.send_header("Content-Length", &body.len().to_string())?;
        req.send_header("Connection", "close")?;
        req.end_headers()?;
        req.wfile.write_all(body.as_bytes())
    }
}

fn exchange(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn the_handlers_own_send_error_answers_what_the_site_has_no_page_for() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(directory.path().join("a.txt"), "hello").expect("write");
    let mut users = Users::new();
    users.add_password("ann", "pw");
    let mut site = Site::new(JsonErrors(SimpleHttpRequestHandler::new(directory.path())));
    site.authenticator = Some(Authenticator::new("files", users).expect("authenticator"));
    site.headers = vec![("X-Site".to_owned(), "1".to_owned())];
    site.error_pages = BTreeMap::from([(
        404,
        ErrorPage {
            content_type: "text/plain".to_owned(),
            body: b"no such page".to_vec(),
        },
    )]);
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        site,
        ThreadingHttpServer::default_config(),
    )
    .expect("bind");
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let serving = thread::spawn(move || server.serve_forever(Duration::from_millis(20)));

    // No credentials: the handler's JSON page, with the challenges and the site's header.
    let answer = exchange(port, "GET /a.txt HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.0 401"), "{answer}");
    assert!(
        answer.contains("WWW-Authenticate: Basic realm=\"files\""),
        "{answer}"
    );
    assert!(answer.contains("X-Site: 1\r\n"), "{answer}");
    assert!(answer.ends_with("{\"status\": 401}"), "{answer}");
    // Logged in: the site's 404 page wins over the handler's; a 501 is the handler's.
    let answer = exchange(
        port,
        "GET /missing HTTP/1.0\r\nAuthorization: Basic YW5uOnB3\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.0 404"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nno such page"), "{answer}");
    let answer = exchange(
        port,
        "BREW /a.txt HTTP/1.0\r\nAuthorization: Basic YW5uOnB3\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.0 501"), "{answer}");
    assert!(answer.ends_with("{\"status\": 501}"), "{answer}");
    assert!(answer.contains("X-Site: 1\r\n"), "{answer}");

    shutdown.shutdown();
    let _ = serving.join();
}
