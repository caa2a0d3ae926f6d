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
