//! httpclient posts forms to CGI scripts served by cgihttp on 127.0.0.1, and reads back what each script saw.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use basehttp::{HttpServer, ThreadingHttpServer};
use cgihttp::CgiHttpRequestHandler;
use httpclient::{Body, HttpConnection};
use socketserver::ShutdownHandle;
use tempfile::TempDir;

/// A running cgihttp server over a document root of two scripts; stopped when dropped.
struct Server {
    port: u16,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
    _root: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn start() -> Server {
    // Under root, scripts run as nobody: the root, cgi-bin and the scripts must be open to everyone, so the tree lives in /tmp with mode 0755.
    let root = tempfile::Builder::new()
        .prefix("cgihttp-client-")
        .tempdir_in("/tmp")
        .unwrap();
    chmod(root.path(), 0o755);
    let bin = root.path().join("cgi-bin");
    fs::create_dir(&bin).unwrap();
    chmod(&bin, 0o755);
    let scripts = [
        (
            "echo.py",
            "#!/usr/bin/python3\n\
             import os, sys\n\
             length = int(os.environ.get('CONTENT_LENGTH') or 0)\n\
             body = sys.stdin.buffer.read(length)\n\
             sys.stdout.write('Content-Type: text/plain\\n\\n')\n\
             sys.stdout.write('method=%s\\n' % os.environ['REQUEST_METHOD'])\n\
             sys.stdout.write('length=%s\\n' % os.environ.get('CONTENT_LENGTH', ''))\n\
             sys.stdout.write('type=%s\\n' % os.environ.get('CONTENT_TYPE', ''))\n\
             sys.stdout.flush()\n\
             sys.stdout.buffer.write(b'body=' + body)\n",
        ),
        (
            "echo.sh",
            "#!/bin/sh\n\
             printf 'Content-Type: text/plain\\n\\n'\n\
             printf 'method=%s\\nlength=%s\\ntype=%s\\nbody=' \"$REQUEST_METHOD\" \"$CONTENT_LENGTH\" \"$CONTENT_TYPE\"\n\
             head -c \"${CONTENT_LENGTH:-0}\"\n",
        ),
    ];
    for (name, text) in scripts {
        let path = bin.join(name);
        fs::write(&path, text).unwrap();
        chmod(&path, 0o755);
    }
    let handler = CgiHttpRequestHandler::new(root.path());
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        handler,
        ThreadingHttpServer::default_config(),
    )
    .unwrap();
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let thread = thread::spawn(move || {
        let _ = server.serve_forever(Duration::from_millis(50));
    });
    Server {
        port,
        shutdown,
        thread: Some(thread),
        _root: root,
    }
}

/// Posts `form` to `url` with httpclient; answers the status, `Content-Type` and body.
fn post_form(server: &Server, url: &str, form: &[u8]) -> (u16, Option<String>, String) {
    let config = httpclient::Config {
        timeouts: httpclient::Timeouts::all(Duration::from_secs(20)),
        ..httpclient::Config::default()
    };
    let mut connection =
        HttpConnection::with_config(&format!("127.0.0.1:{}", server.port), config).unwrap();
    connection
        .request(
            "POST",
            url,
            Body::Bytes(form),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
        .unwrap();
    let mut response = connection.getresponse().unwrap();
    let body = response.read(None).unwrap();
    (
        response.status,
        response.getheader("content-type"),
        String::from_utf8(body).unwrap(),
    )
}

const FORM: &[u8] = b"spam=1&eggs=python3&bacon=123456&note=a%20b%26c";

// Mirrors test_httpservers: CGIHTTPServerTestCase.test_post (a urlencoded form through http.client to a Python script).
#[test]
fn test_post_form_to_python_script() {
    let server = start();
    let (status, content_type, body) = post_form(&server, "/cgi-bin/echo.py", FORM);
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    let expected = format!(
        "method=POST\nlength={}\ntype=application/x-www-form-urlencoded\nbody={}",
        FORM.len(),
        String::from_utf8_lossy(FORM)
    );
    assert_eq!(body, expected);
}

// Not in Python: the same form to a /bin/sh script, which reads exactly CONTENT_LENGTH bytes of stdin.
#[test]
fn post_form_to_shell_script() {
    let server = start();
    let (status, _, body) = post_form(&server, "/cgi-bin/echo.sh", FORM);
    assert_eq!(status, 200, "{body}");
    let expected = format!(
        "method=POST\nlength={}\ntype=application/x-www-form-urlencoded\nbody={}",
        FORM.len(),
        String::from_utf8_lossy(FORM)
    );
    assert_eq!(body, expected);
    // A larger form, past the 64 KiB the handler keeps in memory, still arrives whole.
    let mut large = b"data=".to_vec();
    large.extend(vec![b'x'; 100_000]);
    let (status, _, body) = post_form(&server, "/cgi-bin/echo.sh", &large);
    assert_eq!(status, 200);
    assert!(body.starts_with(&format!("method=POST\nlength={}\n", large.len())));
    assert!(body.ends_with(std::str::from_utf8(&large).unwrap()));
}
