//! The environment a script runs with (RFC 3875 §4.1): the variables Python's `run_cgi` sets, the ones mature servers add,
//! and nothing from the server's own environment unless asked for.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::PathBuf;

use basehttp::AuthenticatedUser;

use crate::translate_decoded_path;

/// The `PATH` a script gets: the system's binaries, never the server's own `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What the environment is built from: one request, already split by [`split_script`](crate::split_script).
///
/// Plain data, so a handler fills it from its own request type and tests fill it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiRequest {
    /// The request method (`REQUEST_METHOD`), such as `GET`.
    pub method: String,
    /// The request target as the client sent it (`REQUEST_URI`).
    pub request_uri: String,
    /// The script's URL path (`SCRIPT_NAME`), such as `/cgi-bin/file1.py`.
    pub script_name: String,
    /// What follows the script name, already percent-decoded (`PATH_INFO`); empty for none.
    pub path_info: String,
    /// The raw query, without the `?` (`QUERY_STRING`); empty for none.
    pub query: String,
    /// The script's file on disk (`SCRIPT_FILENAME`).
    pub script_filename: PathBuf,
    /// The directory the server serves (`DOCUMENT_ROOT`); `PATH_TRANSLATED` is `PATH_INFO` mapped under it.
    pub document_root: PathBuf,
    /// The request headers in the order received; names compare case-insensitively and may repeat.
    pub headers: Vec<(String, String)>,
    /// The client's address (`REMOTE_ADDR`, `REMOTE_PORT`).
    pub client_address: SocketAddr,
    /// The address the connection arrived on (`SERVER_ADDR`, `SERVER_PORT`).
    pub server_address: SocketAddr,
    /// The server's name (`SERVER_NAME`); Python uses `getfqdn` of the bound host.
    pub server_name: String,
    /// The protocol the server speaks (`SERVER_PROTOCOL`), Python's `protocol_version`, such as `HTTP/1.0`.
    pub server_protocol: String,
    /// The server's `version_string()` (`SERVER_SOFTWARE`).
    pub server_software: String,
    /// Who an authentication layer let in (`REMOTE_USER`, `AUTH_TYPE`); `None` when no layer checked the credentials,
    /// and then neither variable is set, whatever `Authorization` header the client sent.
    pub authenticated_user: Option<AuthenticatedUser>,
}

/// Which variables of the server's own environment reach a script.
///
/// Python copies the server's whole environment into every script, secrets included;
/// here a script starts from an empty environment with only a fixed `PATH` and the variables listed in `pass_through`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentPolicy {
    /// The script's `PATH`; [`DEFAULT_PATH`] by default.
    pub path: OsString,
    /// Names of server variables copied as they are when set (for example `LANG`, `TZ`); empty by default.
    /// A CGI variable of the same name wins.
    pub pass_through: Vec<OsString>,
}

impl Default for EnvironmentPolicy {
    fn default() -> Self {
        Self {
            path: OsString::from(DEFAULT_PATH),
            pass_through: Vec::new(),
        }
    }
}

/// Request headers that never become `HTTP_*` variables.
///
/// `Proxy` would become `HTTP_PROXY`, which many HTTP libraries read as their proxy setting (httpoxy);
/// credentials are not handed to scripts (RFC 3875 §4.1.18); the content headers already have their own variables.
const WITHHELD_HEADERS: [&str; 5] = [
    "proxy",
    "authorization",
    "proxy-authorization",
    "content-type",
    "content-length",
];

/// Builds a script's environment for `request`, reading the pass-through variables from the server's environment.
///
/// Sets every variable Python's `run_cgi` sets, with its empty defaults, and also `REQUEST_URI`, `SCRIPT_FILENAME`,
/// `DOCUMENT_ROOT`, `REMOTE_PORT`, `SERVER_ADDR` and an `HTTP_*` variable for every other request header
/// (dashes become underscores; names with other punctuation, which could pose as another header once underscored, are skipped).
/// Repeated headers are joined with `, `, except `Accept`, joined with `,` as Python does.
/// A value holding a NUL byte cannot be passed to a process and is left out.
/// The server's own environment is only read, never changed.
pub fn build_environment(
    request: &CgiRequest,
    policy: &EnvironmentPolicy,
) -> Vec<(OsString, OsString)> {
    build_environment_with(request, policy, |name| std::env::var_os(name))
}

/// [`build_environment`] with the server's environment given as a lookup function.
pub fn build_environment_with(
    request: &CgiRequest,
    policy: &EnvironmentPolicy,
    mut server_variable: impl FnMut(&OsStr) -> Option<OsString>,
) -> Vec<(OsString, OsString)> {
    let mut environment: BTreeMap<OsString, OsString> = BTreeMap::new();
    for name in &policy.pass_through {
        if let Some(value) = server_variable(name) {
            environment.insert(name.clone(), value);
        }
    }
    environment.insert("PATH".into(), policy.path.clone());

    let mut cgi: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |name: &str, value: &str| {
        cgi.insert(name.to_owned(), value.to_owned());
    };
    set("SERVER_SOFTWARE", &request.server_software);
    set("SERVER_NAME", &request.server_name);
    set("GATEWAY_INTERFACE", "CGI/1.1");
    set("SERVER_PROTOCOL", &request.server_protocol);
    set("SERVER_PORT", &request.server_address.port().to_string());
    set("SERVER_ADDR", &request.server_address.ip().to_string());
    set("REQUEST_METHOD", &request.method);
    set("REQUEST_URI", &request.request_uri);
    set("PATH_INFO", &request.path_info);
    let translated = translate_decoded_path(&request.document_root, &request.path_info);
    set("PATH_TRANSLATED", &translated.to_string_lossy());
    set("SCRIPT_NAME", &request.script_name);
    set(
        "SCRIPT_FILENAME",
        &request.script_filename.to_string_lossy(),
    );
    set("DOCUMENT_ROOT", &request.document_root.to_string_lossy());
    set("QUERY_STRING", &request.query);
    set("REMOTE_ADDR", &request.client_address.ip().to_string());
    // A client named by a proxy's X-Forwarded-For comes without a port (0): none is better than a false one.
    if request.client_address.port() != 0 {
        set("REMOTE_PORT", &request.client_address.port().to_string());
    }
    // Python never resolves the client's name; the variable is there, empty.
    set("REMOTE_HOST", "");

    // Python decodes the Authorization header unchecked, so any client could name itself to the script;
    // here only a user whose credentials an authentication layer checked reaches it (RFC 3875 section 4.1.11).
    if let Some(user) = &request.authenticated_user {
        set("AUTH_TYPE", user.scheme);
        set("REMOTE_USER", &user.user);
    }
    // Python's `headers.get_content_type()` answers `text/plain` when the header is missing.
    set(
        "CONTENT_TYPE",
        first_header(&request.headers, "content-type").unwrap_or("text/plain"),
    );
    set(
        "CONTENT_LENGTH",
        first_header(&request.headers, "content-length").unwrap_or(""),
    );

    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if WITHHELD_HEADERS.contains(&lower.as_str()) || value.contains('\0') {
            continue;
        }
        let Some(variable) = header_variable(name) else {
            continue;
        };
        match lower.as_str() {
            // Python keeps the first Referer and User-Agent.
            "referer" | "user-agent" => {
                cgi.entry(variable).or_insert_with(|| value.clone());
            }
            // Python drops empty cookies and joins the rest with ", ".
            "cookie" if value.is_empty() => {}
            _ => {
                let separator = if lower == "accept" { "," } else { ", " };
                cgi.entry(variable)
                    .and_modify(|joined| {
                        joined.push_str(separator);
                        joined.push_str(value);
                    })
                    .or_insert_with(|| value.clone());
            }
        }
    }
    // Python sets these even when the request has no such header, so a script can read them unconditionally.
    for name in [
        "HTTP_ACCEPT",
        "HTTP_USER_AGENT",
        "HTTP_COOKIE",
        "HTTP_REFERER",
    ] {
        cgi.entry(name.to_owned()).or_default();
    }

    for (name, value) in cgi {
        if !value.contains('\0') {
            environment.insert(name.into(), value.into());
        }
    }
    environment.into_iter().collect()
}

/// The first value of the header `name` (compared case-insensitively).
fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// `HTTP_` plus the header name upper-cased with `-` as `_`; `None` for names with any other punctuation.
fn header_variable(name: &str) -> Option<String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return None;
    }
    Some(format!(
        "HTTP_{}",
        name.to_ascii_uppercase().replace('-', "_")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn request(headers: &[(&str, &str)]) -> CgiRequest {
        CgiRequest {
            method: "GET".into(),
            request_uri: "/cgi-bin/file1.py/a%20b?x=1".into(),
            script_name: "/cgi-bin/file1.py".into(),
            path_info: "/a b".into(),
            query: "x=1".into(),
            script_filename: "/srv/www/cgi-bin/file1.py".into(),
            document_root: "/srv/www".into(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            client_address: "192.0.2.7:50123".parse().unwrap_or_else(|_| unreachable!()),
            server_address: "127.0.0.1:8000".parse().unwrap_or_else(|_| unreachable!()),
            server_name: "localhost".into(),
            server_protocol: "HTTP/1.0".into(),
            server_software: "CGIHTTP/0.6 Rust".into(),
            authenticated_user: None,
        }
    }

    fn environment_of(request: &CgiRequest) -> BTreeMap<String, String> {
        build_environment_with(request, &EnvironmentPolicy::default(), |_| None)
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    /// Checks that the environment built for `headers` holds each `(name, value)` of `expected`; `None` means absent.
    fn check(headers: &[(&str, &str)], expected: &[(&str, Option<&str>)]) {
        let environment = environment_of(&request(headers));
        for &(name, value) in expected {
            assert_eq!(
                environment.get(name).map(String::as_str),
                value,
                "{name} for {headers:?}"
            );
        }
    }

    // Mirrors test_httpservers: test_headers_and_content (the variables every script sees).
    #[test]
    fn test_headers_and_content() {
        check(
            &[],
            &[
                ("SERVER_SOFTWARE", Some("CGIHTTP/0.6 Rust")),
                ("SERVER_NAME", Some("localhost")),
                ("GATEWAY_INTERFACE", Some("CGI/1.1")),
                ("SERVER_PROTOCOL", Some("HTTP/1.0")),
                ("SERVER_PORT", Some("8000")),
                ("SERVER_ADDR", Some("127.0.0.1")),
                ("REQUEST_METHOD", Some("GET")),
                ("REQUEST_URI", Some("/cgi-bin/file1.py/a%20b?x=1")),
                ("PATH_INFO", Some("/a b")),
                ("PATH_TRANSLATED", Some("/srv/www/a b")),
                ("SCRIPT_NAME", Some("/cgi-bin/file1.py")),
                ("SCRIPT_FILENAME", Some("/srv/www/cgi-bin/file1.py")),
                ("DOCUMENT_ROOT", Some("/srv/www")),
                ("QUERY_STRING", Some("x=1")),
                ("REMOTE_ADDR", Some("192.0.2.7")),
                ("REMOTE_PORT", Some("50123")),
                ("REMOTE_HOST", Some("")),
                ("CONTENT_TYPE", Some("text/plain")),
                ("CONTENT_LENGTH", Some("")),
                ("HTTP_ACCEPT", Some("")),
                ("HTTP_USER_AGENT", Some("")),
                ("HTTP_COOKIE", Some("")),
                ("HTTP_REFERER", Some("")),
                ("PATH", Some(DEFAULT_PATH)),
                ("AUTH_TYPE", None),
                ("REMOTE_USER", None),
            ],
        );
    }

    // Mirrors test_httpservers: test_post (the body's headers).
    #[test]
    fn test_post() {
        check(
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
            ],
            &[
                ("CONTENT_TYPE", Some("application/x-www-form-urlencoded")),
                ("CONTENT_LENGTH", Some("13")),
                ("HTTP_CONTENT_TYPE", None),
                ("HTTP_CONTENT_LENGTH", None),
            ],
        );
    }

    // test_httpservers' test_authorization expects REMOTE_USER from an unchecked Basic header; here a forged header
    // names no one, and only the user an authentication layer let in reaches the script.
    #[test]
    fn remote_user_only_after_a_login() {
        for forged in [
            "Basic dXNlcm5hbWU6cGFzcw==",
            "basic dXNlcjpwYTpzcw",
            "Digest username=\"admin\"",
            "Bearer abc",
        ] {
            check(
                &[("Authorization", forged)],
                &[
                    ("AUTH_TYPE", None),
                    ("REMOTE_USER", None),
                    ("HTTP_AUTHORIZATION", None),
                ],
            );
        }
        let mut checked = request(&[("Authorization", "Basic dXNlcm5hbWU6cGFzcw==")]);
        checked.authenticated_user = Some(AuthenticatedUser {
            user: "alice".into(),
            scheme: "Digest",
        });
        let environment = environment_of(&checked);
        assert_eq!(
            environment.get("AUTH_TYPE").map(String::as_str),
            Some("Digest")
        );
        assert_eq!(
            environment.get("REMOTE_USER").map(String::as_str),
            Some("alice")
        );
    }

    // Mirrors test_httpservers: test_accept.
    #[test]
    fn test_accept() {
        check(
            &[("Accept", "text/html"), ("Accept", "text/plain")],
            &[("HTTP_ACCEPT", Some("text/html,text/plain"))],
        );
        check(
            &[("accept", "text/*, text/html")],
            &[("HTTP_ACCEPT", Some("text/*, text/html"))],
        );
    }

    #[test]
    fn every_header_becomes_http_but_proxy() {
        check(
            &[
                ("Host", "example.org:8000"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("X-Forwarded-For", "10.0.0.2"),
                ("Proxy", "http://evil.example:3128"),
                ("Proxy-Authorization", "Basic eDp5"),
                ("X_Spoofed", "1"),
                ("Bad.Name", "1"),
                ("Cookie", "a=1"),
                ("Cookie", ""),
                ("Cookie", "b=2"),
                ("Referer", "http://one.example/"),
                ("Referer", "http://two.example/"),
                ("User-Agent", "test/1"),
                ("X-Nul", "a\0b"),
            ],
            &[
                ("HTTP_HOST", Some("example.org:8000")),
                ("HTTP_X_FORWARDED_FOR", Some("10.0.0.1, 10.0.0.2")),
                ("HTTP_PROXY", None),
                ("HTTP_PROXY_AUTHORIZATION", None),
                ("HTTP_X_SPOOFED", None),
                ("HTTP_BAD.NAME", None),
                ("HTTP_COOKIE", Some("a=1, b=2")),
                ("HTTP_REFERER", Some("http://one.example/")),
                ("HTTP_USER_AGENT", Some("test/1")),
                ("HTTP_X_NUL", None),
            ],
        );
    }

    #[test]
    fn a_header_cannot_override_a_cgi_variable() {
        // `Gateway-Interface` would be HTTP_GATEWAY_INTERFACE, never GATEWAY_INTERFACE; all header variables carry the prefix.
        check(
            &[("Gateway-Interface", "CGI/9"), ("Path", "/tmp")],
            &[
                ("GATEWAY_INTERFACE", Some("CGI/1.1")),
                ("HTTP_GATEWAY_INTERFACE", Some("CGI/9")),
                ("PATH", Some(DEFAULT_PATH)),
            ],
        );
    }

    // Mirrors test_httpservers: test_os_environ_is_not_altered (and, beyond Python, the server's variables stay out).
    #[test]
    fn test_os_environ_is_not_altered() {
        let before: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let built = build_environment(&request(&[]), &EnvironmentPolicy::default());
        let after: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        assert_eq!(before, after);
        let names: Vec<&OsStr> = built.iter().map(|(name, _)| name.as_os_str()).collect();
        for server_only in [
            "HOME",
            "USER",
            "CARGO",
            "CARGO_PKG_NAME",
            "RUST_TEST_THREADS",
        ] {
            assert!(
                !names.contains(&OsStr::new(server_only)),
                "{server_only} leaked"
            );
        }
        assert!(names.iter().all(|name| *name == "PATH"
            || name
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')));
    }

    #[test]
    fn pass_through_copies_only_listed_variables() {
        let policy = EnvironmentPolicy {
            path: "/bin".into(),
            pass_through: vec!["LANG".into(), "TZ".into(), "SERVER_NAME".into()],
        };
        let lookup = |name: &OsStr| match name.to_str() {
            Some("LANG") => Some(OsString::from("C.UTF-8")),
            Some("SERVER_NAME") => Some(OsString::from("from-server-env")),
            _ => None,
        };
        let built: BTreeMap<OsString, OsString> =
            build_environment_with(&request(&[]), &policy, lookup)
                .into_iter()
                .collect();
        assert_eq!(
            built.get(OsStr::new("LANG")),
            Some(&OsString::from("C.UTF-8"))
        );
        assert_eq!(built.get(OsStr::new("TZ")), None);
        assert_eq!(built.get(OsStr::new("PATH")), Some(&OsString::from("/bin")));
        assert_eq!(
            built.get(OsStr::new("SERVER_NAME")),
            Some(&OsString::from("localhost"))
        );
    }

    #[test]
    fn path_translated_stays_under_the_document_root() {
        let root = Path::new("/srv/www");
        let cases = [
            ("", "/srv/www"),
            ("/", "/srv/www"),
            ("/a/b", "/srv/www/a/b"),
            ("/a/b/", "/srv/www/a/b/"),
            ("/../../etc/passwd", "/srv/www/etc/passwd"),
            ("/./a//b", "/srv/www/a/b"),
        ];
        for (path, expected) in cases {
            assert_eq!(
                translate_decoded_path(root, path),
                PathBuf::from(expected),
                "{path:?}"
            );
        }
    }

    #[test]
    fn no_panic_on_arbitrary_headers() {
        // A deterministic sweep over header names and values made of the characters that matter here.
        let alphabet = ['-', '_', 'a', 'Z', ':', ' ', '\0', '\u{e9}', '=', '/', 'B'];
        let mut state: u32 = 0x0bad_cafe;
        let mut next = |limit: u32| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 16) % limit
        };
        for _ in 0..5_000 {
            let mut headers = Vec::new();
            for _ in 0..next(4) {
                let name: String = (0..next(8)).map(|_| alphabet[next(11) as usize]).collect();
                let value: String = (0..next(12)).map(|_| alphabet[next(11) as usize]).collect();
                headers.push((name, value));
            }
            headers.push(("Authorization".into(), format!("Basic {}", headers.len())));
            let mut input = request(&[]);
            input.headers = headers;
            for (name, value) in
                build_environment_with(&input, &EnvironmentPolicy::default(), |_| None)
            {
                let name = name.to_string_lossy();
                assert!(!name.is_empty() && !name.contains(['=', '\0']), "{name:?}");
                assert!(!value.to_string_lossy().contains('\0'));
            }
        }
    }
}
