//! Uploads through the `simplehttp` command, as users send them: `curl -T` (PUT), `curl -F` and Python's requests
//! (multipart/form-data POST), and raw requests for what clients get wrong: broken multipart, a missing boundary,
//! a truncated body, names that climb or hide. Off by default (501, as Python).
//!
//! These back SECURITY.md's upload claims: no name outside the served directory, no partial file, the size cap.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::Duration;

mod common;

use common::{get, request, Command};

fn start(directory: &Path, arguments: &[&str]) -> Command {
    let mut all = vec!["-q"];
    all.extend_from_slice(arguments);
    Command::start(directory, &all, Stdio::null())
}

/// `curl -s -o /dev/null -w %{http_code} ARGUMENTS URL`: the status curl saw.
fn curl(arguments: &[&str], url: &str) -> u16 {
    let output = Process::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .args(arguments)
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Every name in `directory`, sorted (temporary files included, so a leftover shows).
fn names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn put_creates_refuses_or_replaces() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(root.join("sub")).unwrap();
    let source = base.path().join("source.txt");
    fs::write(&source, b"first version\n").unwrap();
    let source = source.to_str().unwrap();

    // Off by default: 501, as Python.
    let server = start(&root, &[]);
    let url = format!("http://127.0.0.1:{}/new.txt", server.port);
    assert_eq!(curl(&["-T", source], &url), 501);
    assert!(!root.join("new.txt").exists());
    drop(server);

    let server = start(&root, &["--upload"]);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
    assert_eq!(curl(&["-T", source], &url("/new.txt")), 201);
    assert_eq!(fs::read(root.join("new.txt")).unwrap(), b"first version\n");
    assert_eq!(get(server.port, "/new.txt", &[]).body, b"first version\n");
    assert_eq!(curl(&["-T", source], &url("/sub/inner.txt")), 201);
    assert!(root.join("sub/inner.txt").is_file());
    // An existing name is not replaced without --overwrite.
    fs::write(base.path().join("source.txt"), b"second\n").unwrap();
    assert_eq!(curl(&["-T", source], &url("/new.txt")), 409);
    assert_eq!(fs::read(root.join("new.txt")).unwrap(), b"first version\n");
    // Directories, missing directories.
    // (curl -T to a URL ending in `/` appends the file's name, so this one is sent as it is.)
    assert_eq!(request(server.port, "PUT", "/sub/", &[], b"x").status, 405);
    assert_eq!(curl(&["-T", source], &url("/missing/x.txt")), 404);
    assert_eq!(curl(&["-T", source], &url("/sub")), 409);
    assert_eq!(names(&root), ["new.txt", "sub"]);
    drop(server);

    let server = start(&root, &["--upload", "--overwrite"]);
    let url = format!("http://127.0.0.1:{}/new.txt", server.port);
    assert_eq!(curl(&["-T", source], &url), 204);
    assert_eq!(fs::read(root.join("new.txt")).unwrap(), b"second\n");
    assert_eq!(names(&root), ["new.txt", "sub"]);
    // A form replaces too, with --overwrite.
    let form = multipart("b0undary", &[("file", "new.txt", b"third")]);
    let answer = request(
        server.port,
        "POST",
        "/",
        &[("Content-Type", "multipart/form-data; boundary=b0undary")],
        &form,
    );
    assert_eq!(answer.status, 303);
    assert_eq!(fs::read(root.join("new.txt")).unwrap(), b"third");
}

#[test]
fn names_never_leave_the_directory_nor_hide() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(root.join("sub")).unwrap();
    let outside = base.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("exit")).unwrap();
    let server = start(&root, &["--upload"]);
    for path in [
        "/../escaped.txt",
        "/sub/../../escaped.txt",
        "/%2e%2e/escaped.txt",
        "/sub%2f..%2f..%2fescaped.txt",
        "/sub/%2E%2E/%2E%2E/escaped.txt",
        "/a%0ab.txt",
        "/a%00b.txt",
        "/..%5cescaped.txt",
    ] {
        let answer = request(server.port, "PUT", path, &[], b"payload");
        assert_eq!(answer.status, 400, "{path}");
    }
    // A directory that is a link leading out is never written through.
    assert_eq!(
        request(server.port, "PUT", "/exit/escaped.txt", &[], b"payload").status,
        403
    );
    // Dotfiles need --upload-dotfiles.
    assert_eq!(
        request(server.port, "PUT", "/.htaccess", &[], b"payload").status,
        403
    );
    assert_eq!(
        request(server.port, "PUT", "/sub/.ssh", &[], b"payload").status,
        403
    );
    let form = multipart("b0undary", &[("file", "../../escaped.txt", b"payload")]);
    let answer = request(
        server.port,
        "POST",
        "/",
        &[("Content-Type", "multipart/form-data; boundary=b0undary")],
        &form,
    );
    // The directories of a posted name are dropped: it lands in the directory posted to.
    assert_eq!(answer.status, 303);
    assert!(root.join("escaped.txt").is_file());
    for bad in [".hidden", "..", "a\u{1}b"] {
        let form = multipart("b0undary", &[("file", bad, b"payload")]);
        let answer = request(
            server.port,
            "POST",
            "/sub/",
            &[("Content-Type", "multipart/form-data; boundary=b0undary")],
            &form,
        );
        assert!(
            matches!(answer.status, 400 | 403),
            "{bad}: {}",
            answer.status
        );
    }
    assert!(!base.path().join("escaped.txt").exists());
    assert!(names(&outside).is_empty());
    assert!(names(&root.join("sub")).is_empty());
    drop(server);

    let server = start(&root, &["--upload", "--upload-dotfiles"]);
    assert_eq!(
        request(server.port, "PUT", "/.htaccess", &[], b"payload").status,
        201
    );
}

/// A multipart/form-data body with `boundary` and these (field, file name, content) parts.
fn multipart(boundary: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file_name, content) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[test]
fn forms_posted_by_curl_and_python_requests() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(root.join("sub")).unwrap();
    let one = base.path().join("one.txt");
    let two = base.path().join("two words.bin");
    fs::write(&one, b"one\r\n--not a boundary\r\n").unwrap();
    let binary: Vec<u8> = (0..200_000u32).map(|index| (index % 256) as u8).collect();
    fs::write(&two, &binary).unwrap();
    let server = start(&root, &["--upload"]);
    let url = format!("http://127.0.0.1:{}/sub/", server.port);
    let status = curl(
        &[
            "-F",
            &format!("file=@{}", one.display()),
            "-F",
            &format!("file=@{}", two.display()),
            "-F",
            "comment=ignored",
        ],
        &url,
    );
    assert_eq!(status, 303);
    assert_eq!(
        fs::read(root.join("sub/one.txt")).unwrap(),
        b"one\r\n--not a boundary\r\n"
    );
    assert_eq!(fs::read(root.join("sub/two words.bin")).unwrap(), binary);
    // The same names again: refused without --overwrite, nothing changed.
    assert_eq!(
        curl(&["-F", &format!("file=@{}", one.display())], &url),
        409
    );
    assert_eq!(names(&root.join("sub")), ["one.txt", "two words.bin"]);

    let have_requests = Process::new("python3")
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|status| status.success());
    if !have_requests {
        println!("skipped the Python requests part: python3 has no requests module (apt-get install python3-requests)");
        return;
    }
    let script = format!(
        "import requests\n\
         r = requests.post('http://127.0.0.1:{port}/', files={{'file': ('from python.txt', b'posted by requests')}}, timeout=20)\n\
         print(r.status_code, r.url, 'from python.txt' in r.text)\n",
        port = server.port
    );
    let output = Process::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    // requests follows the 303 to the listing, which shows the new file.
    assert_eq!(
        printed.trim(),
        format!("200 http://127.0.0.1:{}/ True", server.port),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        fs::read(root.join("from python.txt")).unwrap(),
        b"posted by requests"
    );
}

#[test]
fn bad_forms_get_400_and_leave_nothing() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let server = start(&root, &["--upload"]);
    let good = multipart("xyz", &[("file", "a.txt", b"content")]);
    let truncated_part = &good[..good.len() - 12];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("multipart/form-data", good.clone(), 400),
        ("multipart/form-data; boundary=", good.clone(), 400),
        ("text/plain", good.clone(), 415),
        ("multipart/form-data; boundary=other", good.clone(), 400),
        (
            "multipart/form-data; boundary=xyz",
            truncated_part.to_vec(),
            400,
        ),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nno colon here\r\n\r\ndata\r\n--xyz--\r\n".to_vec(),
            400,
        ),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nContent-Type: text/plain\r\n\r\ndata\r\n--xyz--\r\n".to_vec(),
            400,
        ),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyzGARBAGE\r\n\r\n".to_vec(),
            400,
        ),
        ("multipart/form-data; boundary=xyz", Vec::new(), 400),
        // A preamble longer than 16 KiB before the first delimiter.
        (
            "multipart/form-data; boundary=xyz",
            {
                let mut body = vec![b'p'; 20_000];
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(&good);
                body
            },
            400,
        ),
    ];
    for (content_type, body, status) in cases {
        let answer = request(
            server.port,
            "POST",
            "/",
            &[("Content-Type", content_type)],
            &body,
        );
        assert_eq!(
            answer.status,
            status,
            "{content_type} {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            names(&root).is_empty(),
            "{content_type}: {:?}",
            names(&root)
        );
    }
    // A preamble (RFC 2046) and part headers of a few KiB are allowed, as is a good form afterwards.
    let mut body = vec![b'p'; 4000];
    body.extend_from_slice(b"\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\nX-Long: ");
    body.extend_from_slice(&[b'h'; 4000]);
    body.extend_from_slice(b"\r\n\r\ncontent\r\n--xyz--\r\n");
    let answer = request(
        server.port,
        "POST",
        "/",
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &body,
    );
    assert_eq!(answer.status, 303);
    assert_eq!(fs::read(root.join("b.txt")).unwrap(), b"content");
    fs::remove_file(root.join("b.txt")).unwrap();
    let answer = request(
        server.port,
        "POST",
        "/",
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &good,
    );
    assert_eq!(answer.status, 303);
    assert_eq!(names(&root), ["a.txt"]);
}

/// Sends a request head promising `length` bytes, then `sent` of them, then closes: an upload cut off.
fn cut_off(port: u16, head: &str, sent: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(sent).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(stream);
}

#[test]
fn interrupted_uploads_leave_no_file() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let server = start(&root, &["--upload"]);
    let chunk = vec![b'x'; 256 * 1024];
    cut_off(
        server.port,
        "PUT /cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
        &chunk,
    );
    let mut form =
        b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n\r\n"
            .to_vec();
    form.extend_from_slice(&chunk);
    cut_off(
        server.port,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 10000000\r\n\r\n",
        &form,
    );
    // A chunked PUT whose connection ends inside a chunk.
    cut_off(
        server.port,
        "PUT /chunked.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000\r\n",
        &chunk[..1000],
    );
    // The server notices the close and removes its temporary files.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !names(&root).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(names(&root).is_empty(), "{:?}", names(&root));
    // And it still serves.
    assert_eq!(get(server.port, "/", &[]).status, 200);
}

#[test]
fn bodies_over_the_cap_are_refused_with_413() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let server = start(&root, &["--upload", "--max-body-size", "1000"]);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
    let big = base.path().join("big.bin");
    fs::write(&big, vec![b'b'; 5000]).unwrap();
    let small = base.path().join("small.bin");
    fs::write(&small, vec![b's'; 500]).unwrap();
    assert_eq!(curl(&["-T", big.to_str().unwrap()], &url("/big.bin")), 413);
    assert_eq!(
        curl(&["-F", &format!("file=@{}", big.display())], &url("/")),
        413
    );
    // Chunked, so the size is known only as it arrives.
    assert_eq!(
        curl(
            &[
                "-T",
                big.to_str().unwrap(),
                "-H",
                "Transfer-Encoding: chunked"
            ],
            &url("/chunked.bin")
        ),
        413
    );
    assert!(names(&root).is_empty(), "{:?}", names(&root));
    assert_eq!(
        curl(&["-T", small.to_str().unwrap()], &url("/small.bin")),
        201
    );
    assert_eq!(names(&root), ["small.bin"]);
}

#[test]
fn the_listing_shows_the_form_only_with_uploads() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let server = start(&root, &[]);
    let mut page = String::new();
    get(server.port, "/", &[])
        .body
        .as_slice()
        .read_to_string(&mut page)
        .unwrap();
    assert!(!page.contains("<form"));
    drop(server);
    let server = start(&root, &["--upload"]);
    let page = String::from_utf8(get(server.port, "/", &[]).body).unwrap();
    assert!(page.contains("<form method=\"post\" enctype=\"multipart/form-data\">"));
}
