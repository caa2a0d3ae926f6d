//! The five ported Python programs (PORTING.md), each started as its built example on 127.0.0.1 port 0 and driven
//! as the Python program's users drive it: curl for the file servers, Python's urllib for the REST API and for
//! Basic authentication, and a Python socket for the line protocol.
//!
//! The port an example was given by the kernel is read from /proc (the socket it listens on), so the examples print nothing
//! the Python programs do not.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The example binary `name`, next to this test binary: target/debug/deps/<test> → target/debug/examples/<name>.
fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("current_exe");
    let debug = test
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    debug.join("examples").join(name)
}

/// The TCP port on which process `pid` listens, found from its socket descriptors and the kernel's socket tables.
fn listening_port(pid: u32) -> Option<u16> {
    let inodes: HashSet<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .filter_map(|entry| fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, then st (0A is LISTEN), then the inode in the tenth column.
            if fields.get(3) == Some(&"0A")
                && fields.get(9).is_some_and(|inode| inodes.contains(*inode))
            {
                let port = fields.get(1)?.rsplit(':').next()?;
                return u16::from_str_radix(port, 16).ok();
            }
        }
    }
    None
}

/// A running example, killed with its forked children (its own process group) when dropped.
struct Running {
    child: Child,
    port: u16,
    directory: tempfile::TempDir,
}

impl Running {
    /// Starts `name` in a fresh directory prepared by `prepare`, on 127.0.0.1 and a free port, and waits until it listens.
    fn start(name: &str, prepare: impl FnOnce(&Path)) -> Running {
        let directory = tempfile::tempdir().expect("tempdir");
        prepare(directory.path());
        let mut command = Command::new(example(name));
        command
            .arg("127.0.0.1:0")
            .current_dir(directory.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {name}: {error}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(port) = listening_port(child.id()) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "{name} never listened");
            thread::sleep(Duration::from_millis(20));
        };
        // The kernel's pick from the ephemeral range, not a fixed port of the Python programs: the example took its
        // address from the command line.
        assert!(
            ![8080, 8081, 8082, 8083, 9998].contains(&port),
            "{name} listens on its default port {port}, not the address it was given"
        );
        Running {
            child,
            port,
            directory,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Runs curl with `arguments` (never following redirects, failing on no status) and returns its output: with `-i`, head and body.
fn curl(arguments: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(arguments)
        .output()
        .expect("curl is installed");
    assert!(output.status.success(), "curl {arguments:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n")
}

/// Runs a Python 3 script with `arguments` and returns its standard output; the script asserts, so a failure shows its traceback.
fn python(script: &str, arguments: &[&str]) -> String {
    let output: Output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(arguments)
        .output()
        .expect("python3 is installed");
    assert!(
        output.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn header_lines(response: &str) -> Vec<&str> {
    response
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .collect()
}

// cors_server.py: every answer of the file server carries the CORS headers (the end_headers override), and a preflight gets 204.
#[test]
fn cors_server_adds_headers_to_every_response_and_answers_preflights() {
    let server = Running::start("cors_server", |directory| {
        fs::write(directory.join("data.json"), "{\"ok\": true}").unwrap();
        fs::create_dir(directory.join("sub")).unwrap();
    });
    let (file, sub, missing) = (
        server.url("/data.json"),
        server.url("/sub"),
        server.url("/missing"),
    );
    let listing = server.url("/sub/");
    let cases: [(&[&str], &str); 6] = [
        (&["-i", &file], "HTTP/1.0 200 OK"),
        (&["-I", &file], "HTTP/1.0 200 OK"),
        (&["-i", &sub], "HTTP/1.0 301 Moved Permanently"),
        (&["-i", &listing], "HTTP/1.0 200 OK"),
        (&["-i", &missing], "HTTP/1.0 404 File not found"),
        (
            &["-i", "-X", "POST", "--data", "x", &file],
            "HTTP/1.0 501 Unsupported method ('POST')",
        ),
    ];
    for (arguments, status) in cases {
        let response = curl(arguments);
        let head = header_lines(&response);
        assert_eq!(head[0], status, "{arguments:?}: {response}");
        assert!(
            head.contains(&"Access-Control-Allow-Origin: *"),
            "{response}"
        );
        assert!(head.contains(&"Cache-Control: no-store"), "{response}");
    }
    assert!(curl(&["-i", &server.url("/data.json")]).ends_with("\n\n{\"ok\": true}"));
    // A browser's preflight.
    let response = curl(&[
        "-i",
        "-X",
        "OPTIONS",
        "-H",
        "Origin: http://example.test",
        "-H",
        "Access-Control-Request-Method: GET",
        &server.url("/data.json"),
    ]);
    let head = header_lines(&response);
    assert_eq!(head[0], "HTTP/1.0 204 No Content", "{response}");
    assert!(head.contains(&"Access-Control-Allow-Methods: GET, HEAD, OPTIONS"));
    assert!(head.contains(&"Access-Control-Allow-Origin: *"));
    assert!(head.contains(&"Cache-Control: no-store"));
}

// auth_server.py: 401 with a challenge until the right Basic credentials come, then the files of www/.
#[test]
fn auth_server_serves_files_only_with_the_right_credentials() {
    let server = Running::start("auth_server", |directory| {
        fs::create_dir(directory.join("www")).unwrap();
        fs::write(directory.join("www/index.html"), "<h1>private</h1>").unwrap();
        fs::write(directory.join("outside.txt"), "not served").unwrap();
    });
    let refused = curl(&["-i", &server.url("/")]);
    let head = header_lines(&refused);
    assert_eq!(head[0], "HTTP/1.0 401 Unauthorized", "{refused}");
    assert!(head.contains(&"WWW-Authenticate: Basic realm=\"files\""));
    assert!(
        refused.ends_with("\n\nAuthentication required\n"),
        "{refused}"
    );
    let wrong = curl(&["-i", "-u", "admin:wrong", &server.url("/")]);
    assert!(wrong.starts_with("HTTP/1.0 401 "), "{wrong}");
    let page = curl(&["-i", "-u", "admin:secret", &server.url("/")]);
    assert!(page.starts_with("HTTP/1.0 200 OK\n"), "{page}");
    assert!(page.ends_with("\n\n<h1>private</h1>"), "{page}");
    let head = curl(&["-I", "-u", "admin:secret", &server.url("/index.html")]);
    assert!(
        head.starts_with("HTTP/1.0 200 OK\n") && head.contains("Content-Length: 16"),
        "{head}"
    );
    let outside = curl(&["-i", "-u", "admin:secret", &server.url("/../outside.txt")]);
    assert!(outside.starts_with("HTTP/1.0 404 "), "{outside}");
    // urllib answers the challenge itself, as a Python client of this server would.
    let script = r#"
import sys, urllib.request
url = "http://127.0.0.1:%s/" % sys.argv[1]
passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
passwords.add_password(None, url, "admin", "secret")
opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
print(opener.open(url).read().decode())
try:
    urllib.request.urlopen(url)
except urllib.error.HTTPError as error:
    print(error.code, error.headers["WWW-Authenticate"])
"#;
    let output = python(script, &[&server.port.to_string()]);
    assert_eq!(output, "<h1>private</h1>\n401 Basic realm=\"files\"\n");
}

// upload_server.py: curl -T (PUT) and --data-binary (POST) write files, directories included, that GET then serves.
#[test]
fn upload_server_writes_put_and_post_bodies_to_files() {
    let server = Running::start("upload_server", |directory| {
        fs::write(directory.join("upload.bin"), b"\x00binary\xffbody\n").unwrap();
    });
    let upload = server.directory.path().join("upload.bin");
    let upload = upload.to_str().unwrap();
    let put = curl(&["-i", "-T", upload, &server.url("/files/deep/copy.bin")]);
    assert!(put.starts_with("HTTP/1.0 201 Created\n"), "{put}");
    assert_eq!(
        fs::read(server.directory.path().join("files/deep/copy.bin")).unwrap(),
        b"\x00binary\xffbody\n"
    );
    let post = curl(&[
        "-i",
        "--data-binary",
        "posted text",
        &server.url("/notes.txt"),
    ]);
    assert!(post.starts_with("HTTP/1.0 201 Created\n"), "{post}");
    assert_eq!(curl(&[&server.url("/notes.txt")]), "posted text");
    // A chunked PUT, as curl sends from a pipe.
    let chunked = curl(&[
        "-i",
        "-X",
        "PUT",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "chunked body",
        &server.url("/chunked.txt"),
    ]);
    assert!(chunked.starts_with("HTTP/1.0 201 Created\n"), "{chunked}");
    assert_eq!(curl(&[&server.url("/chunked.txt")]), "chunked body");
    // curl -T would add the file's name to a URL ending in /, so the body goes by -X PUT.
    let directory = curl(&["-i", "-X", "PUT", "--data", "x", &server.url("/files/")]);
    assert!(
        directory.starts_with("HTTP/1.0 405 Cannot PUT a directory\n"),
        "{directory}"
    );
    // Nothing leaves the served directory: `..` is resolved inside it, as Python's translate_path does.
    let escape = curl(&[
        "-i",
        "--path-as-is",
        "-T",
        upload,
        &server.url("/../escaped.bin"),
    ]);
    assert!(escape.starts_with("HTTP/1.0 201 "), "{escape}");
    assert!(server.directory.path().join("escaped.bin").exists());
    assert!(!server
        .directory
        .path()
        .parent()
        .unwrap()
        .join("escaped.bin")
        .exists());
}

// rest_api.py: what a client does with urllib: create, list with a limit, read, delete, and the errors.
#[test]
fn rest_api_stores_lists_reads_and_deletes_items() {
    let server = Running::start("rest_api", |_| {});
    let script = r#"
import json, sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]

def call(method, path, body=None):
    data = None if body is None else body.encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return response.status, response.headers, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, None

status, headers, item = call("POST", "/items", json.dumps({"name": "apple", "price": 3}))
assert (status, headers["Location"], headers["Content-Type"]) == (201, "/items/1", "application/json"), (status, headers)
assert item == {"id": 1, "name": "apple", "price": 3}, item
assert list(item) == ["id", "name", "price"]
call("POST", "/items", json.dumps({"name": "pear"}))
call("POST", "/items", json.dumps({"name": "plum", "id": 99}))
assert call("POST", "/items/", json.dumps({"name": "x"}))[0] == 404
assert call("GET", "/items")[2] == [{"id": 1, "name": "apple", "price": 3}, {"id": 2, "name": "pear"}, {"id": 3, "name": "plum"}]
assert call("GET", "/items?limit=2")[2] == [{"id": 1, "name": "apple", "price": 3}, {"id": 2, "name": "pear"}]
assert call("GET", "/items?limit=-1&limit=9")[2] == [{"id": 1, "name": "apple", "price": 3}, {"id": 2, "name": "pear"}]
assert call("GET", "/items?limit=")[2][2]["id"] == 3
assert call("GET", "/items?limit=many")[0] == 400
assert call("GET", "/items/2")[2] == {"id": 2, "name": "pear"}
assert call("GET", "/items/02/")[2] == {"id": 2, "name": "pear"}
assert call("GET", "/items/9")[0] == 404
assert call("GET", "/elsewhere")[0] == 404
assert call("POST", "/items", "not json")[0] == 400
assert call("POST", "/items", json.dumps({"price": 1}))[0] == 400
assert call("POST", "/items", json.dumps(["name"]))[0] == 400
assert call("POST", "/other", json.dumps({"name": "x"}))[0] == 404
assert call("DELETE", "/items/1")[0] == 204
assert call("DELETE", "/items/1")[0] == 404
assert call("DELETE", "/items/x")[0] == 404
assert [item["id"] for item in call("GET", "/items")[2]] == [2, 3]
print("ok")
"#;
    assert_eq!(python(script, &[&server.port.to_string()]), "ok\n");
    // The error page says why, as Python's send_error does.
    let bad = curl(&["-i", &server.url("/items?limit=many")]);
    assert!(
        bad.starts_with("HTTP/1.0 400 limit must be an integer\n"),
        "{bad}"
    );
}

// forking_lines.py: each connection gets a child of its own, which reverses lines until "quit".
#[test]
fn forking_lines_answers_each_connection_from_a_child() {
    let server = Running::start("forking_lines", |_| {});
    let script = r#"
import socket, sys
port = int(sys.argv[1])
server_pid = int(sys.argv[2])

def talk(lines):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"".join(line + b"\n" for line in lines))
        # As nc -N does: the end of the input ends the handler's loop over rfile.
        connection.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            chunk = connection.recv(4096)
            if not chunk:
                return reply.decode().splitlines()
            reply += chunk

first = talk([b"hello", b"  spaced out\t", b"", b"quit", b"never read"])
second = talk([b"abc"])
pids = {int(line.split(" ", 1)[0]) for line in first + second}
assert [line.split(" ", 1)[1] for line in first] == ["olleh", "tuo decaps", ""], first
assert [line.split(" ", 1)[1] for line in second] == ["cba"], second
assert len(pids) == 2 and server_pid not in pids, (pids, server_pid)
print("ok")
"#;
    let output = python(
        script,
        &[&server.port.to_string(), &server.child.id().to_string()],
    );
    assert_eq!(output, "ok\n");
}
