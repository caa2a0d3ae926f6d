//! The real `simplehttp` binary with the operator's flags: `--auth`, `--auth-file`, `--auth-digest-file` and `--realm`
//! logged into by the clients people use (curl, Python's urllib and requests), `--error-page`, `--header` and `--cors`.

#[path = "faults/watch.rs"]
mod watch;

use std::fs;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use watch::Server;

/// The htpasswd lines Apache's `htpasswd -nb` wrote for each hash it knows; user `uX` has password `pw-X`.
const HTPASSWD: &str = "# written by Apache's htpasswd\n\
uB:$2y$05$P5//1Mg4pF5mokJUDYWB.OvMuOmsx.XqUBAb6NbHYPo0HYu4hQKyG\n\
um:$apr1$YY3klT59$o6TkXE.vpVEOfg8emiHNr1\n\
us:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=\n\
\n\
u2:$5$IE2sjHaY995f5MLe$AHd7z1LALyrnX/OveY6DkG/jzYifU0LpaVu2LR.7KV7\n\
u5:$6$bC8mPIV7k3rLPynt$gPhejmbP7FvHtUBWoXXBFdgf5fyJGgKYmNE/IKdoNR1Z1tjRmKio3LewRlTUPA5yBBM6YVyE7PcqgG6s0keuP.\n";

/// htdigest lines: `dig` (password `pw-d`) with MD5 as Apache's htdigest writes it, `sha` (`pw-s`) with SHA-256.
const HTDIGEST: &str = "dig:files:4ce92db692365f89498f055e3311ed31\n\
sha:files:fb6db132da2b6653289dc4fa0be225b2b765c748f37918250acbf48d03f05341\n";

/// Logs in to argv[1] as argv[2] with password argv[3] by Python's urllib Digest handler; prints the status (and body).
const URLLIB: &str = r#"
import sys, urllib.request, urllib.error
url, user, password = sys.argv[1:4]
manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
manager.add_password(None, url, user, password)
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))
try:
    with opener.open(url, timeout=10) as answer:
        print(answer.status, answer.read().decode())
except urllib.error.HTTPError as error:
    print(error.code)
"#;

/// Three GETs of argv[1] in one requests session with Digest credentials; exits 3 when requests is not installed.
const REQUESTS: &str = r#"
import sys
try:
    import requests
    from requests.auth import HTTPDigestAuth
except ImportError:
    print("python3 has no requests module (pip install requests, or apt-get install python3-requests)")
    sys.exit(3)
url, user, password = sys.argv[1:4]
session = requests.Session()
session.auth = HTTPDigestAuth(user, password)
for _ in range(3):
    answer = session.get(url, timeout=10)
    print(answer.status_code, answer.text if answer.ok else "")
"#;

/// A served directory with `a.txt`, a `sub/` directory and the two password files.
fn tree() -> TempDir {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let write = |name: &str, text: &str| {
        fs::write(directory.path().join(name), text)
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
    };
    write("a.txt", "hello");
    fs::create_dir(directory.path().join("sub")).unwrap_or_else(|error| panic!("mkdir: {error}"));
    write("users.htpasswd", HTPASSWD);
    write("users.htdigest", HTDIGEST);
    write("404.html", "<h1>Not here</h1>");
    write("401.json", "{\"error\": \"log in\"}");
    directory
}

fn serve(directory: &TempDir, arguments: &[&str]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simplehttp"));
    command
        .args(["0", "-b", "127.0.0.1", "-p", "HTTP/1.1"])
        .current_dir(directory.path())
        .args(arguments)
        .arg("-d")
        .arg(directory.path());
    Server::start(command)
}

/// The command run to its end, which it must reach within 5 s: it is expected to refuse to start.
fn refused(directory: &TempDir, arguments: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simplehttp"))
        .args(["0", "-b", "127.0.0.1"])
        .current_dir(directory.path())
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("run simplehttp: {error}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("simplehttp {arguments:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("wait for simplehttp: {error}"));
    assert!(!output.status.success(), "it started: {output:?}");
    output
}

/// curl's status and body for `url` with `arguments`, bounded in time.
fn curl(arguments: &[&str], url: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(arguments)
        .arg(url)
        .output()
        .unwrap_or_else(|error| panic!("run curl: {error}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl said {text:?}"));
    let status = status
        .parse()
        .unwrap_or_else(|_| panic!("curl said {text:?}"));
    (status, body.to_owned())
}

/// Runs a Python program with `arguments`; its stdout, or `None` with the reason printed when it exits 3 (a module missing).
fn python(program: &str, arguments: &[&str]) -> Option<String> {
    let output = Command::new("python3")
        .arg("-c")
        .arg(program)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| panic!("run python3: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.code() == Some(3) {
        println!("skipped: {stdout}");
        return None;
    }
    assert!(
        output.status.success(),
        "python3 failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(stdout)
}

/// The head of an answer (up to the blank line), lower-cased names kept as sent.
fn head(answer: &str) -> &str {
    answer.split("\r\n\r\n").next().unwrap_or("")
}

#[test]
fn usage_names_every_site_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_simplehttp"))
        .arg("--help")
        .output()
        .unwrap_or_else(|error| panic!("run simplehttp: {error}"));
    let usage = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--auth <USER:PASSWORD>",
        "--auth-file <FILE>",
        "--auth-digest-file <FILE>",
        "--realm <NAME>",
        "--error-page <CODE=FILE>",
        "--header <NAME: VALUE>",
        "--cors [<ORIGIN>]",
    ] {
        assert!(usage.contains(flag), "{flag} missing from {usage}");
    }
}

#[test]
fn htpasswd_hashes_apache_writes_let_curl_in_with_basic() {
    let directory = tree();
    let server = serve(&directory, &["--auth-file", "users.htpasswd"]);
    let url = format!("http://127.0.0.1:{}/a.txt", server.port);
    for (user, password) in [
        ("uB", "pw-B"),
        ("um", "pw-m"),
        ("us", "pw-s"),
        ("u2", "pw-2"),
        ("u5", "pw-5"),
    ] {
        let login = format!("{user}:{password}");
        assert_eq!(
            curl(&["--basic", "-u", &login], &url),
            (200, "hello".to_owned()),
            "{user}"
        );
        let wrong = format!("{user}:{password}x");
        assert_eq!(curl(&["--basic", "-u", &wrong], &url).0, 401, "{user}");
    }
    assert_eq!(curl(&[], &url).0, 401);
    // Digest needs what htpasswd hashes cannot give: only Basic is offered.
    let answer = server.exchange("GET /a.txt HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(
        head(&answer).contains("WWW-Authenticate: Basic realm=\"Restricted\""),
        "{answer}"
    );
    assert!(!answer.contains("Digest"), "{answer}");
}

#[test]
fn htdigest_users_log_in_with_curl_urllib_and_requests() {
    let directory = tree();
    let server = serve(&directory, &["--auth-digest-file", "users.htdigest"]);
    let url = format!("http://127.0.0.1:{}/a.txt", server.port);
    for (login, status) in [("dig:pw-d", 200), ("dig:pw-x", 401), ("nobody:pw-d", 401)] {
        assert_eq!(curl(&["--digest", "-u", login], &url).0, status, "{login}");
    }
    // Basic cannot be checked against a Digest hash, so it is not offered.
    assert_eq!(curl(&["--basic", "-u", "dig:pw-d"], &url).0, 401);

    // urllib reads the first challenge, Digest with MD5: the htdigest realm is the default realm.
    // Each client's failures go to a server of their own, so that none is throttled by another's.
    // requests folds every WWW-Authenticate header into one challenge, whose last algorithm (SHA-256) an MD5 line cannot
    // answer: its server has the MD5 line alone.
    fs::write(
        directory.path().join("md5.htdigest"),
        HTDIGEST.lines().next().unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let python_server = serve(&directory, &["--auth-digest-file", "md5.htdigest"]);
    let python_url = format!("http://127.0.0.1:{}/a.txt", python_server.port);
    assert_eq!(
        python(URLLIB, &[&python_url, "dig", "pw-d"]).as_deref(),
        Some("200 hello\n")
    );
    // curl (7.88) answers the first Digest challenge, MD5 here, which a SHA-256 line cannot answer; with SHA-256 lines only,
    // SHA-256 alone is offered, and curl logs in with it (and userhash).
    fs::write(
        directory.path().join("sha.htdigest"),
        HTDIGEST.lines().nth(1).unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let sha_server = serve(&directory, &["--auth-digest-file", "sha.htdigest"]);
    let sha_url = format!("http://127.0.0.1:{}/a.txt", sha_server.port);
    assert_eq!(
        curl(&["--digest", "-u", "sha:pw-s"], &sha_url),
        (200, "hello".to_owned())
    );
    assert_eq!(curl(&["--digest", "-u", "sha:pw-d"], &sha_url).0, 401);

    if let Some(output) = python(REQUESTS, &[&python_url, "dig", "pw-d"]) {
        // requests answers again with its next nonce count: each of the three goes through.
        assert_eq!(output, "200 hello\n200 hello\n200 hello\n");
        assert_eq!(
            python(REQUESTS, &[&sha_url, "sha", "bad"]).as_deref(),
            Some("401 \n401 \n401 \n")
        );
    }
    // urllib tries a wrong password again a few times, failures that the throttle counts: so it comes last.
    let refused = python(URLLIB, &[&python_url, "dig", "nope"]).unwrap_or_default();
    assert!(refused == "401\n" || refused == "429\n", "{refused}");
}

/// curl's `Authorization` header from a verbose Digest login.
fn digest_header_curl_sent(url: &str, login: &str) -> String {
    let output = Command::new("curl")
        .args([
            "-sv",
            "--max-time",
            "10",
            "--digest",
            "-u",
            login,
            "-o",
            "/dev/null",
            url,
        ])
        .output()
        .unwrap_or_else(|error| panic!("run curl: {error}"));
    let trace = String::from_utf8_lossy(&output.stderr).into_owned();
    trace
        .lines()
        .filter_map(|line| line.strip_prefix("> Authorization: "))
        .next_back()
        .unwrap_or_else(|| panic!("no Authorization header in {trace}"))
        .to_owned()
}

#[test]
fn replayed_and_restarted_digest_answers_over_a_socket() {
    let directory = tree();
    let arguments = ["--auth", "carol:pa55", "--realm", "files"];
    let server = serve(&directory, &arguments);
    let url = format!("http://127.0.0.1:{}/a.txt", server.port);
    let authorization = digest_header_curl_sent(&url, "carol:pa55");
    assert!(authorization.starts_with("Digest "), "{authorization}");
    let request = format!(
        "GET /a.txt HTTP/1.1\nHost: x\nAuthorization: {authorization}\nConnection: close\n\n"
    );
    // curl's answer, sent again as it was, is a replay: refused, and not as stale.
    let answer = server.exchange(&request);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("stale=true"), "{answer}");
    server.expect_log("a nonce count already used (a replay)");
    // A server started again keys its nonces anew: the right password on an old nonce is answered stale=true.
    drop(server);
    let server = serve(&directory, &arguments);
    let answer = server.exchange(&request);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(head(&answer).contains("stale=true"), "{answer}");
}

#[test]
fn a_bad_auth_file_stops_the_server_naming_file_and_line() {
    let directory = tree();
    fs::write(
        directory.path().join("bad.htpasswd"),
        "alice:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\nbob:plain\n",
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let output = refused(&directory, &["--auth-file", "bad.htpasswd"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--auth-file bad.htpasswd: line 2"),
        "{stderr}"
    );

    let output = refused(&directory, &["--auth-digest-file", "missing.htdigest"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--auth-digest-file missing.htdigest: "),
        "{stderr}"
    );

    fs::write(directory.path().join("bad.htdigest"), "dig:files:0123\n")
        .unwrap_or_else(|error| panic!("write: {error}"));
    let output = refused(&directory, &["--auth-digest-file", "bad.htdigest"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--auth-digest-file bad.htdigest: line 1"),
        "{stderr}"
    );
}

#[test]
fn header_values_with_control_characters_are_refused_at_start() {
    let directory = tree();
    for bad in [
        "X-Test: a\r\nSet-Cookie: b",
        "X-Test: a\nb",
        "X-Test: a\u{7}",
        "Bad Name: v",
    ] {
        let output = refused(&directory, &["--header", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("expected \"Name: value\""),
            "{bad:?}: {stderr}"
        );
    }
}

#[test]
fn headers_go_on_files_redirects_and_error_pages() {
    let directory = tree();
    let server = serve(
        &directory,
        &[
            "--header",
            "X-Frame-Options: DENY",
            "--header",
            "Strict-Transport-Security: max-age=63072000",
            "--error-page",
            "404=404.html",
        ],
    );
    for (request, status) in [
        ("GET /a.txt", "200"),
        ("GET /sub", "301"),
        ("GET /missing", "404"),
        ("HEAD /missing", "404"),
        ("BREW /a.txt", "501"),
    ] {
        let answer = server.exchange(&format!(
            "{request} HTTP/1.1\nHost: x\nConnection: close\n\n"
        ));
        let head = head(&answer);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{request}: {answer}"
        );
        assert!(
            head.contains("\r\nX-Frame-Options: DENY\r\n"),
            "{request}: {answer}"
        );
        assert!(
            head.contains("\r\nStrict-Transport-Security: max-age=63072000"),
            "{request}: {answer}"
        );
    }
    // The operator's 404 page, with its type, for GET; its head alone for HEAD.
    let answer = server.exchange("GET /missing HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(
        head(&answer).contains("Content-Type: text/html"),
        "{answer}"
    );
    assert!(head(&answer).contains("Content-Length: 17"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n<h1>Not here</h1>"), "{answer}");
    let answer = server.exchange("HEAD /missing HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(
        answer.ends_with("Content-Length: 17\r\n\r\n") || !answer.contains("Not here"),
        "{answer}"
    );
    // Statuses without a page of the operator's keep Python's page.
    let answer = server.exchange("BREW /a.txt HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(answer.contains("<title>Error response</title>"), "{answer}");
}

#[test]
fn a_401_page_of_the_operators_keeps_the_challenges() {
    let directory = tree();
    let server = serve(
        &directory,
        &["--auth", "dave:pw", "--error-page", "401=401.json"],
    );
    let answer = server.exchange("GET /a.txt HTTP/1.1\nHost: x\nConnection: close\n\n");
    let head = head(&answer);
    assert!(head.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(head.contains("Content-Type: application/json"), "{answer}");
    assert!(
        head.contains("WWW-Authenticate: Digest realm=\"Restricted\""),
        "{answer}"
    );
    assert!(
        head.contains("WWW-Authenticate: Basic realm=\"Restricted\""),
        "{answer}"
    );
    assert!(answer.ends_with("{\"error\": \"log in\"}"), "{answer}");
}

#[test]
fn with_uploads_a_preflight_allows_put() {
    let directory = tree();
    let preflight = "OPTIONS /new.txt HTTP/1.1\nHost: x\nOrigin: https://app.example\n\
                     Access-Control-Request-Method: PUT\nConnection: close\n\n";
    let answer = serve(&directory, &["--cors", "--upload"]).exchange(preflight);
    assert!(head(&answer).starts_with("HTTP/1.1 204"), "{answer}");
    assert!(
        answer.contains("Access-Control-Allow-Methods: GET, HEAD, POST, PUT, OPTIONS\r\n"),
        "{answer}"
    );
    let answer = serve(&directory, &["--cors"]).exchange(preflight);
    assert!(
        answer.contains("Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS\r\n"),
        "{answer}"
    );
}

#[test]
fn cors_answers_preflights_and_marks_answers() {
    let directory = tree();
    let server = serve(&directory, &["--cors"]);
    let answer = server.exchange(
        "OPTIONS /a.txt HTTP/1.1\nHost: x\nOrigin: https://app.example\nAccess-Control-Request-Method: GET\n\
         Access-Control-Request-Headers: x-token\nConnection: close\n\n",
    );
    let preflight = head(&answer);
    assert!(preflight.starts_with("HTTP/1.1 204"), "{answer}");
    for header in [
        "Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS",
        "Access-Control-Allow-Headers: x-token",
        "Access-Control-Max-Age: 86400",
        "Access-Control-Allow-Origin: *",
    ] {
        assert!(preflight.contains(header), "{header}: {answer}");
    }
    assert!(!preflight.contains("Vary"), "{answer}");
    for request in ["GET /a.txt", "GET /missing"] {
        let answer = server.exchange(&format!(
            "{request} HTTP/1.1\nHost: x\nOrigin: https://app.example\nConnection: close\n\n"
        ));
        assert!(
            head(&answer).contains("Access-Control-Allow-Origin: *"),
            "{answer}"
        );
    }

    // One origin: echoed to it with Vary: Origin, withheld from another; the preflight comes before authentication.
    let server = serve(
        &directory,
        &["--cors", "https://app.example", "--auth", "erin:pw"],
    );
    let answer = server.exchange(
        "OPTIONS /a.txt HTTP/1.1\nHost: x\nOrigin: https://app.example\nAccess-Control-Request-Method: GET\nConnection: close\n\n",
    );
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(
        head(&answer).contains("Access-Control-Allow-Origin: https://app.example"),
        "{answer}"
    );
    assert!(head(&answer).contains("Vary: Origin"), "{answer}");
    let answer = server.exchange(
        "GET /a.txt HTTP/1.1\nHost: x\nOrigin: https://evil.example\nAuthorization: Basic ZXJpbjpwdw==\nConnection: close\n\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.contains("Access-Control-Allow-Origin"), "{answer}");
    assert!(head(&answer).contains("Vary: Origin"), "{answer}");
    let answer = server.exchange(
        "OPTIONS /a.txt HTTP/1.1\nHost: x\nOrigin: https://evil.example\nAccess-Control-Request-Method: GET\nConnection: close\n\n",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[test]
fn only_a_cors_preflight_is_answered_by_the_site() {
    let directory = tree();
    // Without --cors, and on a --cors server without Origin or without Access-Control-Request-Method, OPTIONS is the
    // file handler's: 501, as Python answers a method it has no do_ for.
    let plain = serve(&directory, &[]);
    let cors = serve(&directory, &["--cors"]);
    for (server, headers) in [
        (
            &plain,
            "Origin: https://a.example\nAccess-Control-Request-Method: GET\n",
        ),
        (&cors, ""),
        (&cors, "Origin: https://a.example\n"),
        (&cors, "Access-Control-Request-Method: GET\n"),
    ] {
        let answer = server.exchange(&format!(
            "OPTIONS /a.txt HTTP/1.1\nHost: x\n{headers}Connection: close\n\n"
        ));
        assert!(answer.starts_with("HTTP/1.1 501"), "{headers:?}: {answer}");
    }
}

/// Sends a POST head with `Expect: 100-continue` and returns the first line of the answer, read before any body is sent.
fn expect_continue(server: &Server, authorization: Option<&str>) -> String {
    let mut stream = server.connect();
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n{authorization}\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .unwrap_or_else(|error| panic!("send: {error}"));
    watch::read_head(&mut stream)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn credentials_are_checked_before_100_continue() {
    let directory = tree();
    let server = serve(&directory, &["--auth", "fay:pw"]);
    // Without credentials the client is refused before it sends its body; with them it is asked for the body.
    assert_eq!(expect_continue(&server, None), "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        expect_continue(&server, Some("Basic ZmF5OnB3")),
        "HTTP/1.1 100 Continue"
    );
}
