//! Python's CGIHTTPServerTestCase, replayed through the crate's public pieces in the order a handler uses them:
//! find the script, check the file, build the environment, run it, read its header block.
//!
//! The scripts are Python's own test scripts (cgi_file1, cgi_file2, cgi_file4, cgi_file6), run by `/usr/bin/python3`
//! from a document root under /tmp that `nobody` can read, since under root they run as `nobody`.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use basehttp::RequestTarget;
use cgihttp::{
    build_environment, check_script_file, find_script, is_nph, query_arguments, Body, CgiRequest,
    EnvironmentPolicy, ScriptCommand, CGI_DIRECTORIES,
};
use tempfile::TempDir;

const FILE1: &str = "print(\"Content-type: text/html\")\nprint()\nprint(\"Hello World\")\n";

const FILE2: &str = "import os, sys, urllib.parse\n\
length = int(os.environ['CONTENT_LENGTH'])\n\
form = urllib.parse.parse_qs(sys.stdin.read(length))\n\
print(\"Content-type: text/html\")\n\
print()\n\
print(\"%s, %s, %s\" % (form[\"spam\"][0], form[\"eggs\"][0], form[\"bacon\"][0]))\n";

const FILE4: &str = "import os\n\
print(\"Content-type: text/html\")\n\
print()\n\
print(os.environ[\"QUERY_STRING\"])\n";

const FILE6: &str = "import os\n\
print(\"Content-type: text/plain\")\n\
print()\n\
print(repr(dict(os.environ)))\n";

/// A document root with Python's test scripts in it.
struct Site {
    root: TempDir,
}

impl Site {
    fn new() -> Site {
        let root = tempfile::Builder::new()
            .prefix("cgihttp-site-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("temporary directory: {error}"));
        let site = Site { root };
        chmod(site.root.path(), 0o755);
        for directory in [
            "cgi-bin",
            "cgi-bin/child-dir",
            "sub",
            "sub/dir",
            "sub/dir/cgi-bin",
        ] {
            let path = site.root.path().join(directory);
            fs::create_dir(&path).unwrap_or_else(|error| panic!("mkdir {directory}: {error}"));
            chmod(&path, 0o755);
        }
        site.script("cgi-bin/file1.py", FILE1, 0o755);
        site.script("cgi-bin/file2.py", FILE2, 0o755);
        site.script("cgi-bin/child-dir/file3.py", FILE1, 0o755);
        site.script("cgi-bin/file4.py", FILE4, 0o755);
        site.script("sub/dir/cgi-bin/file5.py", FILE1, 0o755);
        site.script("cgi-bin/file6.py", FILE6, 0o755);
        site.script("cgi-bin/plain.py", FILE1, 0o644);
        site.script("nocgi.py", FILE1, 0o755);
        site
    }

    fn script(&self, name: &str, text: &str, mode: u32) {
        let path = self.root.path().join(name);
        fs::write(&path, format!("#!/usr/bin/python3\n{text}"))
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
        chmod(&path, mode);
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {path:?}: {error}"));
}

/// What the client would see.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn error(status: u16, message: String) -> Answer {
        Answer {
            status,
            content_type: None,
            body: message,
        }
    }
}

/// A request as test_httpservers' `request(path, method, body, headers)`.
fn request(
    root: &Path,
    directories: &[&str],
    method: &str,
    path: &str,
    body: impl Read + Send,
    headers: &[(&str, &str)],
) -> Answer {
    let Some(target) = find_script(&RequestTarget::parse(path), directories, root) else {
        return Answer::error(0, "not a CGI path: the file server answers".into());
    };
    if let Err(problem) = check_script_file(&target.file) {
        return Answer::error(problem.status(), problem.message(&target.path.script_name));
    }
    let request = CgiRequest {
        method: method.into(),
        request_uri: path.into(),
        script_name: target.path.script_name.clone(),
        path_info: target.path.path_info.clone(),
        query: target.path.query.clone(),
        script_filename: target.file.clone(),
        document_root: root.to_path_buf(),
        headers: headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        client_address: "127.0.0.1:41000".parse().unwrap_or_else(|_| unreachable!()),
        server_address: "127.0.0.1:8000".parse().unwrap_or_else(|_| unreachable!()),
        server_name: "localhost".into(),
        server_protocol: "HTTP/1.0".into(),
        server_software: "CGIHTTP/0.6".into(),
        authenticated_user: None,
    };
    let mut command = ScriptCommand::new(&target.file);
    command.env = build_environment(&request, &EnvironmentPolicy::default());
    command.args = query_arguments(&target.path.query);
    command.nph = is_nph(&target.path.script);
    let mut seen = None;
    let mut output = Vec::new();
    let result = command.run(
        body,
        &mut output,
        |headers, _| {
            seen = Some(headers.clone());
            Ok(Body::Forward)
        },
        |line| eprintln!("script: {line}"),
    );
    match (result, seen) {
        (Ok(_), Some(headers)) => Answer {
            status: headers.status(),
            content_type: headers.content_type().map(str::to_owned),
            body: String::from_utf8_lossy(&output).into_owned(),
        },
        (Ok(_), None) => Answer::error(0, "no header block".into()),
        (Err(error), _) => Answer::error(error.status(), error.to_string()),
    }
}

fn get(site: &Site, path: &str) -> Answer {
    request(
        site.root.path(),
        &CGI_DIRECTORIES,
        "GET",
        path,
        io::empty(),
        &[],
    )
}

fn hello() -> Answer {
    Answer {
        status: 200,
        content_type: Some("text/html".into()),
        body: "Hello World\n".into(),
    }
}

fn text(body: &str) -> Answer {
    Answer {
        status: 200,
        content_type: Some("text/html".into()),
        body: body.into(),
    }
}

// Mirrors test_httpservers: test_invaliduri.
#[test]
fn test_invaliduri() {
    let site = Site::new();
    assert_eq!(get(&site, "/cgi-bin/invalid").status, 404);
}

// Mirrors test_httpservers: test_headers_and_content.
#[test]
fn test_headers_and_content() {
    let site = Site::new();
    assert_eq!(get(&site, "/cgi-bin/file1.py"), hello());
}

// Mirrors test_httpservers: test_issue19435.
#[test]
fn test_issue19435() {
    let site = Site::new();
    let answer = get(&site, "///////////nocgi.py/../cgi-bin/nothere.sh");
    assert_eq!(
        answer,
        Answer::error(404, "No such CGI script ('/cgi-bin/nothere.sh')".into())
    );
}

// Mirrors test_httpservers: test_post.
#[test]
fn test_post() {
    let site = Site::new();
    let form = b"spam=1&eggs=python&bacon=123456";
    let length = form.len().to_string();
    let answer = request(
        site.root.path(),
        &CGI_DIRECTORIES,
        "POST",
        "/cgi-bin/file2.py",
        &form[..],
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", &length),
        ],
    );
    assert_eq!(answer, text("1, python, 123456\n"));
}

// test_httpservers' test_authorization expects REMOTE_USER from the unchecked header; here no authentication layer checked it,
// so the script sees neither the user nor the scheme (nor the credentials).
#[test]
fn test_authorization_unchecked_names_no_one() {
    let site = Site::new();
    // base64("username:pass")
    let answer = request(
        site.root.path(),
        &CGI_DIRECTORIES,
        "GET",
        "/cgi-bin/file6.py",
        io::empty(),
        &[("Authorization", "Basic dXNlcm5hbWU6cGFzcw==")],
    );
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("REMOTE_USER"), "{}", answer.body);
    assert!(!answer.body.contains("AUTH_TYPE"), "{}", answer.body);
    assert!(
        !answer.body.contains("dXNlcm5hbWU6cGFzcw"),
        "credentials leaked"
    );
}

// Mirrors test_httpservers: test_no_leading_slash.
#[test]
fn test_no_leading_slash() {
    let site = Site::new();
    assert_eq!(get(&site, "cgi-bin/file1.py"), hello());
}

// Mirrors test_httpservers: test_os_environ_is_not_altered.
#[test]
fn test_os_environ_is_not_altered() {
    let site = Site::new();
    let before: Vec<_> = std::env::vars_os().collect();
    assert_eq!(get(&site, "/cgi-bin/file1.py"), hello());
    let after: Vec<_> = std::env::vars_os().collect();
    assert_eq!(before, after);
}

// Mirrors test_httpservers: test_urlquote_decoding_in_cgi_check.
#[test]
fn test_urlquote_decoding_in_cgi_check() {
    let site = Site::new();
    assert_eq!(get(&site, "/cgi-bin%2ffile1.py"), hello());
}

// Mirrors test_httpservers: test_nested_cgi_path_issue21323.
#[test]
fn test_nested_cgi_path_issue21323() {
    let site = Site::new();
    assert_eq!(get(&site, "/cgi-bin/child-dir/file3.py"), hello());
}

// Mirrors test_httpservers: test_query_with_multiple_question_mark.
#[test]
fn test_query_with_multiple_question_mark() {
    let site = Site::new();
    assert_eq!(get(&site, "/cgi-bin/file4.py?a=b?c=d"), text("a=b?c=d\n"));
}

// Mirrors test_httpservers: test_query_with_continuous_slashes.
#[test]
fn test_query_with_continuous_slashes() {
    let site = Site::new();
    assert_eq!(
        get(&site, "/cgi-bin/file4.py?k=aa%2F%2Fbb&//q//p//=//a//b//"),
        text("k=aa%2F%2Fbb&//q//p//=//a//b//\n")
    );
}

// Mirrors test_httpservers: test_cgi_path_in_sub_directories.
#[test]
fn test_cgi_path_in_sub_directories() {
    let site = Site::new();
    let directories = ["/cgi-bin", "/htbin", "/sub/dir/cgi-bin"];
    let answer = request(
        site.root.path(),
        &directories,
        "GET",
        "/sub/dir/cgi-bin/file5.py",
        io::empty(),
        &[],
    );
    assert_eq!(answer, hello());
    // Without the extra directory the path is not a script path at all.
    assert_eq!(get(&site, "/sub/dir/cgi-bin/file5.py").status, 0);
}

// Mirrors test_httpservers: test_accept.
#[test]
fn test_accept() {
    let site = Site::new();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("Accept", "text/html")], "text/html"),
        (&[("Accept", "text/plain")], "text/plain"),
        (
            &[("Accept", "text/html"), ("Accept", "text/plain")],
            "text/html,text/plain",
        ),
    ];
    for (headers, expected) in cases {
        let answer = request(
            site.root.path(),
            &CGI_DIRECTORIES,
            "GET",
            "/cgi-bin/file6.py",
            io::empty(),
            headers,
        );
        assert!(
            answer
                .body
                .contains(&format!("'HTTP_ACCEPT': '{expected}'")),
            "{headers:?}: {}",
            answer.body
        );
    }
}

#[test]
fn script_file_checks() {
    let site = Site::new();
    assert_eq!(
        get(&site, "/cgi-bin/plain.py"),
        Answer::error(
            403,
            "CGI script is not executable ('/cgi-bin/plain.py')".into()
        )
    );
    assert_eq!(
        get(&site, "/cgi-bin/child-dir"),
        Answer::error(
            403,
            "CGI script is not a plain file ('/cgi-bin/child-dir')".into()
        )
    );
    assert_eq!(get(&site, "/nocgi.py").status, 0);
    assert_eq!(get(&site, "/cgi-bin/../../cgi-bin/file1.py").status, 0);
}

#[test]
fn path_info_reaches_the_script() {
    let site = Site::new();
    let answer = get(&site, "/cgi-bin/file6.py/some%20where/else?x=1");
    assert_eq!(answer.status, 200);
    for expected in [
        "'PATH_INFO': '/some where/else'",
        "'SCRIPT_NAME': '/cgi-bin/file6.py'",
        "'QUERY_STRING': 'x=1'",
        "'REQUEST_URI': '/cgi-bin/file6.py/some%20where/else?x=1'",
        "'GATEWAY_INTERFACE': 'CGI/1.1'",
    ] {
        assert!(
            answer.body.contains(expected),
            "{expected} in {}",
            answer.body
        );
    }
}
