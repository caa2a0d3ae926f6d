//! Absolute-form request-targets (RFC 9112 section 3.2.2) against the file server over a real socket:
//! the file is found by the target's path, and a directory redirect never leaves this site.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use simplehttp::SimpleHttpRequestHandler;

mod common;

fn exchange(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(request.replace('\n', "\r\n").as_bytes())
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn absolute_form_finds_the_file_and_redirects_stay_on_site() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("file.txt"), b"absolute").unwrap();
    fs::create_dir(root.path().join("dir")).unwrap();
    let serving = common::serve_quietly(SimpleHttpRequestHandler::new(root.path()));
    let port = serving.port;

    let file = exchange(
        port,
        &format!("GET http://127.0.0.1:{port}/file.txt HTTP/1.1\nHost: 127.0.0.1:{port}\nConnection: close\n\n"),
    );
    assert!(file.starts_with("HTTP/1.0 200 OK\r\n"), "{file}");
    assert!(file.ends_with("\r\n\r\nabsolute"), "{file}");

    for target in [
        "http://evil.example/dir",
        "HTTP://evil.example:8080/dir?q=1",
        "http://evil.example/dir?next=//evil.example/",
    ] {
        let redirect = exchange(
            port,
            &format!("GET {target} HTTP/1.1\nHost: evil.example\nConnection: close\n\n"),
        );
        assert!(
            redirect.starts_with("HTTP/1.0 301 "),
            "{target}: {redirect}"
        );
        let location = redirect
            .lines()
            .find_map(|line| line.strip_prefix("Location: "))
            .unwrap_or_default();
        assert!(
            location.starts_with("/dir/"),
            "{target}: Location {location:?}"
        );
        assert!(
            !location.contains("evil") || location.contains("?next="),
            "{target}: {location:?}"
        );
    }
}
