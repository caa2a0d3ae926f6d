//! Smoke tests of the basehttp examples: each binary is started on port 0, driven over a socket, and stopped with SIGINT.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The example binary `name`, next to this test binary: target/debug/deps/<test> → target/debug/examples/<name>.
fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("current_exe");
    let debug = test
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    debug.join("examples").join(name)
}

/// A running example, killed if a test fails before stopping it.
struct Running {
    child: Child,
    /// Kept open so the example's later output does not hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
    port: u16,
    banner: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(name: &str, arguments: &[&str]) -> Running {
        let mut child = Command::new(example(name))
            .args(arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("start {name}: {error}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut banner = String::new();
        stdout.read_line(&mut banner).expect("banner");
        let port = banner
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in banner {banner:?}"));
        Running {
            child,
            _stdout: stdout,
            port,
            banner,
        }
    }

    fn request(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(request.replace('\n', "\r\n").as_bytes())
            .expect("send");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    }

    /// Sends SIGINT and asserts a clean exit with status 0.
    fn interrupt(mut self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "exit status {exit:?}");
    }
}

#[test]
fn echo_http_serves_echoes_survives_panics_and_stops_on_sigint() {
    let server = Running::start("echo_http", &["0", "-b", "127.0.0.1", "-p", "HTTP/1.1"]);
    let port = server.port;
    assert_eq!(
        server.banner.trim_end(),
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...")
    );
    let home = server.request("GET / HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(home.starts_with("HTTP/1.1 200 OK\r\n"), "{home}");
    assert!(home.contains("Hello Python World"));
    let missing = server.request("GET /nothing HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(
        missing.starts_with("HTTP/1.1 404 File not found\r\n"),
        "{missing}"
    );
    let echo = server
        .request("POST /echo HTTP/1.1\nHost: x\nContent-Length: 5\nConnection: close\n\nhello");
    assert!(
        echo.starts_with("HTTP/1.1 200 OK\r\n") && echo.ends_with("\r\n\r\nhello"),
        "{echo}"
    );
    let chunked = server.request(
        "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nConnection: close\n\n3\nabc\n0\n\n",
    );
    assert!(chunked.ends_with("\r\n\r\nabc"), "{chunked}");
    let panic = server.request("GET /panic HTTP/1.1\nHost: x\n\n");
    assert!(panic.starts_with("HTTP/1.1 500 "), "{panic}");
    let again = server.request("GET / HTTP/1.0\n\n");
    assert!(again.contains("Hello Python World"), "{again}");
    server.interrupt();
}

#[test]
fn welcome_server_greets_and_refuses_other_paths() {
    let server = Running::start("welcome_server", &["0"]);
    let home = server.request("GET / HTTP/1.0\n\n");
    assert!(home.starts_with("HTTP/1.0 200 OK\r\n"), "{home}");
    assert!(home.contains("Content-type: text/html\r\n"));
    assert!(home.ends_with(
        "<html><head><title>Web Page</title></head><body>Hello Python World</body></html>"
    ));
    let other = server.request("GET /other HTTP/1.0\n\n");
    assert!(
        other.starts_with("HTTP/1.0 404 File not found\r\n"),
        "{other}"
    );
    server.interrupt();
}

#[test]
fn getpost_server_serves_files_forms_and_refuses_other_methods() {
    let directory = std::env::temp_dir().join(format!("getpost-{}", std::process::id()));
    fs::create_dir_all(&directory).expect("directory");
    fs::write(directory.join("page.html"), "<p>page</p>").expect("page");
    fs::write(directory.join("secret.txt"), "secret").expect("secret");
    fs::set_permissions(
        directory.join("secret.txt"),
        fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let server = Running::start(
        "getpost_server",
        &["0", "-d", directory.to_str().expect("utf-8 path")],
    );

    let page = server.request("GET /page.html HTTP/1.1\nHost: x\n\n");
    assert!(page.starts_with("HTTP/1.0 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html\r\n") && page.contains("Connection: close\r\n"));
    assert!(page.ends_with("<p>page</p>"));
    let missing = server.request("GET /missing.html HTTP/1.1\nHost: x\n\n");
    assert!(missing.starts_with("HTTP/1.0 404 "), "{missing}");
    assert!(missing.contains("Connection: close\r\n") && missing.contains("<html"));
    let secret = server.request("GET /secret.txt HTTP/1.1\nHost: x\n\n");
    assert!(secret.starts_with("HTTP/1.0 403 "), "{secret}");
    let escape = server.request("GET /../etc/passwd HTTP/1.1\nHost: x\n\n");
    assert!(escape.starts_with("HTTP/1.0 404 "), "{escape}");
    let form = server.request("POST /anything HTTP/1.1\nHost: x\nContent-Length: 4\n\na=bc");
    assert!(
        form.starts_with("HTTP/1.0 200 OK\r\n") && form.contains("<form"),
        "{form}"
    );
    let delete = server.request("DELETE /page.html HTTP/1.1\nHost: x\n\n");
    assert!(
        delete.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"),
        "{delete}"
    );
    assert!(delete.contains("Allow: GET, POST\r\n") && delete.contains("Connection: close\r\n"));

    server.interrupt();
    let _ = fs::remove_dir_all(&directory);
}
