//! httpclient's answers to Basic and Digest challenges, through `httpget -u` and the library, against this workspace's
//! own authentication layer (simplehttp's `Site` with basehttp's `Authenticator`) on 127.0.0.1, port 0.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use basehttp::{
    AuthSettings, Authenticator, BaseHttpRequestHandler, HttpRequest, HttpServer,
    ThreadingHttpServer, Throttle, Users,
};
use httpclient::{Auth, HttpConnection};
use simplehttp::{SimpleHttpRequestHandler, Site};

/// The example binary cargo built next to this test.
fn httpget() -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("current exe");
    path.pop();
    path.pop();
    path.push("examples");
    path.push("httpget");
    assert!(path.exists(), "{} not built", path.display());
    Command::new(path)
}

/// The file handler, its log lines kept for the test to read.
struct Logged {
    files: SimpleHttpRequestHandler,
    log: Arc<Mutex<Vec<String>>>,
}

impl BaseHttpRequestHandler for Logged {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.files)
    }
    fn log_message(&self, _: &HttpRequest<'_>, message: fmt::Arguments<'_>) {
        if let Ok(mut log) = self.log.lock() {
            log.push(message.to_string());
        }
    }
}

struct Serving {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    shutdown: socketserver::ShutdownHandle,
    _directory: tempfile::TempDir,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

impl Serving {
    /// How many log lines hold `needle`.
    fn logged(&self, needle: &str) -> usize {
        let log = self.log.lock().map(|log| log.clone()).unwrap_or_default();
        log.iter().filter(|line| line.contains(needle)).count()
    }
}

/// Serves a directory with `a.txt` ("hello") to `users` in realm `files`.
fn serve(users: Users, nonce_lifetime: Duration) -> Serving {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(directory.path().join("a.txt"), "hello").expect("write");
    let log = Arc::new(Mutex::new(Vec::new()));
    let settings = AuthSettings {
        nonce_lifetime,
        throttle: Throttle::off(),
        ..AuthSettings::default()
    };
    let mut site = Site::new(Logged {
        files: SimpleHttpRequestHandler::new(directory.path()),
        log: Arc::clone(&log),
    });
    site.authenticator =
        Some(Authenticator::with_settings("files", users, settings).expect("authenticator"));
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        site,
        ThreadingHttpServer::default_config(),
    )
    .expect("bind");
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    thread::spawn(move || {
        let _ = server.serve_forever(Duration::from_millis(20));
    });
    Serving {
        port,
        log,
        shutdown,
        _directory: directory,
    }
}

fn alice() -> Users {
    let mut users = Users::new();
    users.add_password("alice", "wonder land");
    users
}

fn run(command: &mut Command) -> (String, Output) {
    let output = command.output().expect("run httpget");
    (String::from_utf8_lossy(&output.stdout).into_owned(), output)
}

#[test]
fn httpget_logs_in_with_digest_basic_and_url_user_info() {
    let server = serve(alice(), Duration::from_secs(300));
    let url = format!("http://127.0.0.1:{}/a.txt", server.port);
    // Any scheme: the server's Digest challenge (SHA-256, its strongest) is answered.
    let (stdout, output) = run(httpget().args([&url, "-u", "alice:wonder land"]));
    assert!(output.status.success());
    assert!(
        stdout.starts_with("200 OK\n") && stdout.ends_with("\n\nhello"),
        "{stdout}"
    );
    assert_eq!(server.logged("code 401"), 1);
    // --digest with --repeat: the later requests carry their answer at once, on the next nonce counts.
    let (stdout, _) =
        run(httpget().args([&url, "-u", "alice:wonder land", "--digest", "--repeat", "3"]));
    assert_eq!(stdout.matches("200 OK\n").count(), 3, "{stdout}");
    assert_eq!(server.logged("code 401"), 2);
    // --basic goes with the first request: no 401.
    let (stdout, _) = run(httpget().args([&url, "-u", "alice:wonder land", "--basic"]));
    assert!(stdout.starts_with("200 OK\n"), "{stdout}");
    assert_eq!(server.logged("code 401"), 2);
    // User info in the URL, percent-encoded.
    let with_user = format!("http://alice:wonder%20land@127.0.0.1:{}/a.txt", server.port);
    let (stdout, _) = run(httpget().arg(&with_user));
    assert!(stdout.starts_with("200 OK\n"), "{stdout}");
    // A wrong password: the second 401 is printed, once, and httpget exits 0 as for any HTTP answer.
    for scheme in ["--digest", "--basic"] {
        let (stdout, output) = run(httpget().args([&url, "-u", "alice:wrong", scheme]));
        assert!(output.status.success());
        assert!(stdout.starts_with("401 Unauthorized\n"), "{stdout}");
        assert_eq!(stdout.matches("401 Unauthorized").count(), 1, "{stdout}");
    }
}

#[test]
fn httpget_answers_basic_when_only_basic_is_offered() {
    let mut users = Users::new();
    // htpasswd -nbs bob builder
    users
        .read_htpasswd("bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=\n")
        .expect("htpasswd");
    let server = serve(users, Duration::from_secs(300));
    let url = format!("http://127.0.0.1:{}/a.txt", server.port);
    let (stdout, _) = run(httpget().args([&url, "-u", "bob:builder"]));
    assert!(stdout.starts_with("200 OK\n"), "{stdout}");
    // Digest alone cannot answer a Basic challenge: the first 401 is the answer.
    let (stdout, _) = run(httpget().args([&url, "-u", "bob:builder", "--digest"]));
    assert!(stdout.starts_with("401 Unauthorized\n"), "{stdout}");
}

#[test]
fn a_stale_nonce_is_answered_again_once() {
    let server = serve(alice(), Duration::from_millis(300));
    let mut conn = HttpConnection::new(&format!("127.0.0.1:{}", server.port)).expect("connection");
    let mut auth = Auth::digest("alice", "wonder land");
    for round in 0..2 {
        let mut response = conn
            .request_with_auth("GET", "/a.txt", None, &[], &mut auth)
            .expect("request");
        assert_eq!(response.status, 200, "round {round}");
        assert_eq!(response.read(None).expect("body"), b"hello");
        drop(response);
        // Past the nonce's lifetime: the next answer on it is stale, and answered again with the new nonce.
        thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(server.logged("stale nonce, a new one sent"), 1);
    // A wrong password is not retried past the second 401.
    let mut wrong = Auth::digest("alice", "wrong");
    let response = conn
        .request_with_auth("GET", "/a.txt", None, &[], &mut wrong)
        .expect("request");
    assert_eq!(response.status, 401);
}
