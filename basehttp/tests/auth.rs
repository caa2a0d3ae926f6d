//! Socket tests of the authentication layer: Basic and Digest against `Authenticated`, in the threading mode and in the
//! readiness mode; stale and replayed nonces, malformed headers, the per-address throttle, and `Expect: 100-continue`.

mod support;

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use basehttp::{
    AuthSettings, Authenticated, Authenticator, BaseHttpRequestHandler, HttpRequest, HttpServer,
    ThreadingHttpServer, Throttle, Users,
};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use socketserver::{Mode, ServerConfig};
use support::{exchange, Client, Log, Response};

fn configs() -> [ServerConfig; 2] {
    let readiness = ServerConfig {
        mode: Mode::Readiness { workers: 1 },
        ..HttpServer::default_config()
    };
    [ThreadingHttpServer::default_config(), readiness]
}

/// Answers who the request was authenticated as, and logs into `log`.
struct WhoAmI(Log);

impl BaseHttpRequestHandler for WhoAmI {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let body = match req.authenticated_user() {
            Some(user) => format!("{} {}", user.scheme, user.user),
            None => "nobody".to_owned(),
        };
        req.send_response(200, None)?;
        req.send_header("Content-Length", &body.len().to_string())?;
        req.end_headers()?;
        req.wfile.write_all(body.as_bytes())
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        self.do_get(req)
    }

    fn log_message(&self, _req: &HttpRequest<'_>, message: fmt::Arguments<'_>) {
        self.0.push(message.to_string());
    }
}

fn server(settings: AuthSettings, config: ServerConfig) -> (support::Running, Log) {
    let mut users = Users::new();
    users.add_password("admin", "secret");
    users
        .read_htpasswd("sha-user:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\n")
        .unwrap();
    let log = Log::default();
    let authenticator = Authenticator::with_settings("files", users, settings).unwrap();
    let handler = Authenticated::new(WhoAmI(log.clone()), authenticator);
    (support::start_with_config(handler, config), log)
}

fn no_throttle() -> AuthSettings {
    AuthSettings {
        throttle: Throttle::off(),
        ..AuthSettings::default()
    }
}

fn get(port: u16, authorization: Option<&str>) -> Response {
    let header = authorization.map_or(String::new(), |value| format!("Authorization: {value}\n"));
    Client::new(port).request(&format!("GET /a?b HTTP/1.1\nHost: t\n{header}\n"))
}

fn challenges(response: &Response) -> Vec<&str> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("WWW-Authenticate"))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The parameter `name` of a challenge.
fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let start = challenge.find(&format!("{name}=")).expect(name) + name.len() + 1;
    let rest = &challenge[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"').unwrap()],
        None => rest.split([',', ' ']).next().unwrap(),
    }
}

/// An `Authorization: Digest` value answering `challenge`, as RFC 7616 section 3.4 has a client compute it.
fn digest(challenge: &str, user: &str, password: &str, method: &str, uri: &str, nc: u32) -> String {
    let sha256 = param(challenge, "algorithm") == "SHA-256";
    let hash = |text: String| -> String {
        if sha256 {
            format!("{:x}", Sha256::digest(text.as_bytes()))
        } else {
            format!("{:x}", Md5::digest(text.as_bytes()))
        }
    };
    let (realm, nonce) = (param(challenge, "realm"), param(challenge, "nonce"));
    let ha1 = hash(format!("{user}:{realm}:{password}"));
    let ha2 = hash(format!("{method}:{uri}"));
    let cnonce = "0a4f113b";
    let response = hash(format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"{cnonce}\", response=\"{response}\", opaque=\"{}\"",
        param(challenge, "algorithm"),
        param(challenge, "opaque")
    )
}

// Basic (RFC 7617): the right password lets the request through with its user; a wrong one, an unknown user or none is challenged
// with every scheme the users can answer, and each failure is logged.
#[test]
fn basic_lets_in_the_right_password_only() {
    for config in configs() {
        let (server, log) = server(no_throttle(), config);
        let response = get(server.port, None);
        assert_eq!(response.status(), 401);
        let offered = challenges(&response);
        assert!(
            offered[0].starts_with("Digest realm=\"files\", qop=\"auth\", algorithm=MD5, nonce=\"")
        );
        assert!(offered[1]
            .starts_with("Digest realm=\"files\", qop=\"auth\", algorithm=SHA-256, nonce=\""));
        assert_eq!(
            challenges(&response)[2],
            "Basic realm=\"files\", charset=\"UTF-8\""
        );
        let response = get(server.port, Some("Basic YWRtaW46c2VjcmV0"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.body, b"Basic admin");
        // A user of the htpasswd file ({SHA} of "open sesame").
        let response = get(server.port, Some("Basic c2hhLXVzZXI6b3BlbiBzZXNhbWU="));
        assert_eq!(response.body, b"Basic sha-user");
        for wrong in ["Basic YWRtaW46c2VjcmVU", "Basic bm9ib2R5OnNlY3JldA=="] {
            let before = basehttp::http_metrics().auth_failures;
            let response = get(server.port, Some(wrong));
            assert_eq!(response.status(), 401, "{wrong}");
            assert_eq!(challenges(&response).len(), 3);
            // Counted for /metrics (other tests in this process may add their own failures meanwhile).
            assert!(basehttp::http_metrics().auth_failures > before, "{wrong}");
        }
        let lines = log.lines();
        assert!(
            lines.iter().any(
                |line| line == "authentication failed for user 'admin' (Basic): wrong password"
            ),
            "{lines:?}"
        );
        assert!(lines
            .iter()
            .any(|line| line == "authentication failed for user 'nobody' (Basic): no such user"));
    }
}

// Digest (RFC 7616) with both algorithms; a nonce past its lifetime is answered with stale=true and a new nonce that works,
// and a nonce count already used is refused even with the right response.
#[test]
fn digest_good_bad_stale_and_replayed() {
    for config in configs() {
        let settings = AuthSettings {
            nonce_lifetime: Duration::from_millis(400),
            ..no_throttle()
        };
        let (server, log) = server(settings, config);
        let first = get(server.port, None);
        for index in 0..2 {
            // Both challenges share one nonce, and so its counts: each algorithm starts from a nonce of its own.
            let response = get(server.port, None);
            let challenge = challenges(&response)[index];
            let authorization = digest(challenge, "admin", "secret", "GET", "/a?b", 1);
            let response = get(server.port, Some(&authorization));
            assert_eq!(response.status(), 200, "{challenge}");
            assert_eq!(response.body, b"Digest admin");
            // The same count again is a replay.
            let response = get(server.port, Some(&authorization));
            assert_eq!(response.status(), 401);
            assert!(!challenges(&response)[0].contains("stale"));
            // The next count goes through; a wrong password does not.
            let next = digest(challenge, "admin", "secret", "GET", "/a?b", 2);
            assert_eq!(get(server.port, Some(&next)).status(), 200);
            let wrong = digest(challenge, "admin", "Secret", "GET", "/a?b", 3);
            assert_eq!(get(server.port, Some(&wrong)).status(), 401);
        }
        assert!(log.lines().iter().any(|line| line
            == "authentication failed for user 'admin' (Digest): a nonce count already used (a replay)"));
        // The nonce expires: the right answer gets stale=true, and the new nonce works at once.
        std::thread::sleep(Duration::from_millis(500));
        let late = digest(challenges(&first)[1], "admin", "secret", "GET", "/a?b", 9);
        let response = get(server.port, Some(&late));
        assert_eq!(response.status(), 401);
        let fresh = challenges(&response)[1];
        assert!(fresh.ends_with(", stale=true"), "{fresh}");
        let again = digest(fresh, "admin", "secret", "GET", "/a?b", 1);
        assert_eq!(get(server.port, Some(&again)).body, b"Digest admin");
        // A stale nonce with a wrong password is a failure, not stale.
        let wrong_late = digest(challenges(&first)[1], "admin", "wrong", "GET", "/a?b", 10);
        let response = get(server.port, Some(&wrong_late));
        assert!(!challenges(&response)[1].contains("stale"));
        // An answer computed for another path does not open this one.
        let elsewhere = digest(fresh, "admin", "secret", "GET", "/other", 2);
        assert_eq!(get(server.port, Some(&elsewhere)).status(), 400);
    }
}

// userhash=true (RFC 7616 section 3.4.4): the username parameter is H(user:realm).
#[test]
fn digest_userhash_is_accepted() {
    let (server, _log) = server(no_throttle(), ThreadingHttpServer::default_config());
    let challenge = challenges(&get(server.port, None))[1].to_owned();
    let hashed = format!("{:x}", Sha256::digest(b"admin:files"));
    let authorization = digest(&challenge, &hashed, "secret", "GET", "/a?b", 1);
    // The response hashes the real user name; the header carries the hash.
    let real = digest(&challenge, "admin", "secret", "GET", "/a?b", 1);
    let response_param = param(&real, "response");
    let authorization = authorization.replace(param(&authorization, "response"), response_param)
        + ", userhash=true";
    let response = get(server.port, Some(&authorization));
    assert_eq!(response.body, b"Digest admin");
}

// A malformed Authorization header is answered 400 (or 401 for a scheme not offered), never a panic, and the server goes on.
#[test]
fn malformed_authorization_headers_get_400_or_401() {
    for config in configs() {
        let (server, log) = server(no_throttle(), config);
        for value in [
            "Basic",
            "Basic !!!",
            "Basic bm9jb2xvbg==",
            "Basic /w==",
            "Digest",
            "Digest username=",
            "Digest username=\"a\", realm=\"files\"",
            "Digest username=\"a\" realm=\"files\"",
            "Digest username=\"a\", username=\"b\"",
            "Digest username=\"a\", realm=\"files\", nonce=\"n\", uri=\"/a?b\", response=\"r\", qop=auth, nc=zz, cnonce=\"c\"",
            "Digest username=\"a\", realm=\"files\", nonce=\"n\", uri=\"/a?b\", response=\"r\", qop=auth-int, nc=00000001, cnonce=\"c\"",
            "Digest \"",
        ] {
            let response = get(server.port, Some(value));
            assert_eq!(response.status(), 400, "{value}");
        }
        for value in ["Bearer abc", "", "Negotiate", "Digest username=\"a\", realm=\"other\", nonce=\"n\", uri=\"/a?b\", response=\"r\", qop=auth, nc=00000001, cnonce=\"c\""] {
            assert_eq!(get(server.port, Some(value)).status(), 401, "{value}");
        }
        assert!(log
            .lines()
            .iter()
            .any(|line| line == "bad Authorization header: malformed Basic credentials"));
        assert_eq!(
            get(server.port, Some("Basic YWRtaW46c2VjcmV0")).status(),
            200
        );
    }
}

// Failures from one address are slowed down without holding a worker: past the free failures the address is refused with
// 429 and Retry-After, its credentials not even checked, while the answer costs no wait on the server.
#[test]
fn repeated_failures_are_refused_with_429_and_retry_after() {
    for config in configs() {
        let settings = AuthSettings {
            throttle: Throttle {
                free_failures: 2,
                ..Throttle::default()
            },
            ..AuthSettings::default()
        };
        let (server, log) = server(settings, config);
        for _ in 0..2 {
            assert_eq!(
                get(server.port, Some("Basic YWRtaW46d3Jvbmc=")).status(),
                401
            );
        }
        // The third failure earns a lockout of a second.
        assert_eq!(
            get(server.port, Some("Basic YWRtaW46d3Jvbmc=")).status(),
            401
        );
        let started = std::time::Instant::now();
        let response = get(server.port, Some("Basic YWRtaW46c2VjcmV0"));
        assert_eq!(response.status(), 429);
        assert_eq!(response.header("Retry-After"), Some("1"));
        assert!(started.elapsed() < Duration::from_millis(500));
        // Without credentials a client is still challenged, so a browser can show its prompt.
        assert_eq!(get(server.port, None).status(), 401);
        assert!(log.lines().iter().any(
            |line| line == "authentication: too many failures, this address is refused for 1 s"
        ));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(
            get(server.port, Some("Basic YWRtaW46c2VjcmV0")).status(),
            200
        );
    }
}

// The credentials are checked before 100 Continue: a client that is not let in is answered 401 and never sends its body.
#[test]
fn expect_100_continue_is_answered_401_without_credentials() {
    for config in configs() {
        let (server, _log) = server(no_throttle(), config);
        let response = exchange(
            server.port,
            "POST / HTTP/1.1\nHost: t\nExpect: 100-continue\nContent-Length: 5\n\n",
        );
        assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
        assert!(!response.contains("100 Continue"), "{response}");
        let response = exchange(
            server.port,
            "POST / HTTP/1.1\nHost: t\nExpect: 100-continue\nContent-Length: 0\nAuthorization: Basic YWRtaW46c2VjcmV0\nConnection: close\n\n",
        );
        assert!(
            response.starts_with("HTTP/1.1 100 Continue\r\n"),
            "{response}"
        );
        assert!(response.ends_with("Basic admin"), "{response}");
    }
}

/// The body of `fn name(` in `source`, from its signature to its closing brace.
fn function_body<'s>(source: &'s str, name: &str) -> &'s str {
    let start = source
        .find(&format!("fn {name}("))
        .unwrap_or_else(|| panic!("no fn {name}"));
    let open = start
        + source[start..]
            .find('{')
            .unwrap_or_else(|| panic!("fn {name} has no body"));
    let mut depth = 0;
    for (offset, character) in source[open..].char_indices() {
        match character {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &source[start..open + offset + 1];
                }
            }
            _ => {}
        }
    }
    panic!("fn {name} does not end");
}

// Timing differences of a few nanoseconds cannot be measured reliably on a shared CI machine, so this guards the defence at
// its source: each function that compares a secret (a password, a hash, a Digest response, a nonce's MAC) compares it with
// subtle's `ct_eq`, whose time depends only on the lengths, and with no `==`, which stops at the first differing byte.
#[test]
fn secrets_are_compared_in_constant_time() {
    let sources = [
        (
            include_str!("../src/auth.rs"),
            &["matches", "check_basic"][..],
        ),
        (
            include_str!("../src/auth/digest.rs"),
            &["response_matches", "check"][..],
        ),
        (include_str!("../src/auth/passwords.rs"), &["verify"][..]),
    ];
    for (source, functions) in sources {
        for name in functions {
            let body = function_body(source, name);
            assert!(
                body.contains("ct_eq("),
                "fn {name} compares without ct_eq:\n{body}"
            );
            for comparison in [" == ", " != ", ".eq(", "starts_with"] {
                assert!(
                    !body.contains(comparison),
                    "fn {name} compares with {comparison:?}:\n{body}"
                );
            }
        }
    }
}
