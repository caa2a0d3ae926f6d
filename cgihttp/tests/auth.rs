//! The real `cgihttp` binary with and without `--auth`: a script learns `REMOTE_USER` and `AUTH_TYPE` only from a login the
//! server checked, never from a header the client wrote; logins come from curl, as users send them.

mod site;
#[path = "../../simplehttp/tests/faults/watch.rs"]
mod watch;

use std::process::Command;

use site::Site;

/// A tree whose `cgi-bin/who.sh` prints the two variables, `-` for one that is not set.
fn site() -> Site {
    let site = Site::new("cgihttp-auth-");
    site.script(
        "who.sh",
        "printf 'Content-Type: text/plain\\n\\nuser=%s type=%s' \"${REMOTE_USER--}\" \"${AUTH_TYPE--}\"",
    );
    site
}

/// curl's status and body for `url` with `arguments` added, bounded in time.
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
    (
        status
            .parse()
            .unwrap_or_else(|_| panic!("curl said {text:?}")),
        body.to_owned(),
    )
}

#[test]
fn forged_authorization_never_reaches_the_script_as_remote_user() {
    let site = site();
    let server = site.serve(&[]);
    let answer = server.exchange(
        "GET /cgi-bin/who.sh HTTP/1.1\nHost: x\nAuthorization: Basic YWRtaW46eA==\nConnection: close\n\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nuser=- type=-"), "{answer}");
}

#[test]
fn remote_user_and_auth_type_follow_a_checked_login() {
    let site = site();
    let server = site.serve(&["--auth", "alice:s3cret", "--realm", "scripts"]);
    let url = format!("http://127.0.0.1:{}/cgi-bin/who.sh", server.port);
    assert_eq!(
        curl(&["--basic", "-u", "alice:s3cret"], &url),
        (200, "user=alice type=Basic".to_owned())
    );
    assert_eq!(
        curl(&["--digest", "-u", "alice:s3cret"], &url),
        (200, "user=alice type=Digest".to_owned())
    );
    // A wrong password, or a forged header, is refused before the script runs.
    let (status, body) = curl(&["--basic", "-u", "alice:wrong"], &url);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("user="), "{body}");
    let answer = server.exchange(
        "GET /cgi-bin/who.sh HTTP/1.1\nHost: x\nAuthorization: Basic YWxpY2U6eA==\nConnection: close\n\n",
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("user="), "{answer}");
}

#[test]
fn usage_names_the_site_flags_shared_with_simplehttp() {
    let output = Command::new(env!("CARGO_BIN_EXE_cgihttp"))
        .arg("--help")
        .output()
        .unwrap_or_else(|error| panic!("run cgihttp: {error}"));
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
fn headers_and_error_pages_go_on_script_answers_and_500s() {
    let site = site();
    // A local redirect to itself: the server gives up with 500.
    site.script("loop.sh", "printf 'Location: /cgi-bin/loop.sh\\n\\n'");
    let page = site.directory().join("500.html");
    std::fs::write(&page, "<p>our fault</p>").unwrap_or_else(|error| panic!("write: {error}"));
    let error_page = format!("500={}", page.display());
    let server = site.serve(&[
        "--header",
        "X-Served-By: cgihttp",
        "--error-page",
        &error_page,
    ]);
    for (path, status) in [
        ("/cgi-bin/who.sh", "200"),
        ("/cgi-bin/loop.sh", "500"),
        ("/missing", "404"),
        ("/cgi-bin", "301"),
    ] {
        let answer = server.exchange(&format!(
            "GET {path} HTTP/1.1\nHost: x\nConnection: close\n\n"
        ));
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {answer}"
        );
        let head = format!("{}\r\n", answer.split("\r\n\r\n").next().unwrap_or(""));
        assert!(
            head.contains("\r\nX-Served-By: cgihttp\r\n"),
            "{path}: {answer}"
        );
    }
    let answer = server.exchange("GET /cgi-bin/loop.sh HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(
        answer.contains("\r\nContent-Type: text/html\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\n<p>our fault</p>"), "{answer}");
}
