//! Compression over real sockets: `Accept-Encoding` negotiated, a distinct ETag per coding, `Vary`,
//! never for a Range request, a small file or a compressed type; precompressed siblings when fresh; curl `--compressed` and Python's urllib decoding what they get.

use std::fs;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, SystemTime};

use simplehttp::{ContentCoding, FileOptions, Symlinks};

mod common;

use common::{get, handler_with, request, serve_quietly, Answer};

fn text() -> Vec<u8> {
    let mut text = Vec::new();
    for line in 0..3000 {
        text.extend_from_slice(
            format!("line {line}: the quick brown fox jumps over the lazy dog\n").as_bytes(),
        );
    }
    text
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut decoded)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut decoded)
                .unwrap();
        }
        "zstd" => decoded = zstd::stream::decode_all(body).unwrap(),
        other => panic!("unexpected coding {other}"),
    }
    decoded
}

/// A tree: a large text file, a small one, a PNG, and a text file with a fresh and a stale precompressed sibling.
fn tree() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    fs::write(root.join("big.txt"), text()).unwrap();
    fs::write(root.join("small.txt"), b"tiny").unwrap();
    fs::write(root.join("app.js"), text()).unwrap();
    fs::write(root.join("picture.png"), text()).unwrap();
    fs::write(root.join("huge.txt"), vec![b'a'; (4 << 20) + 1]).unwrap();
    directory
}

fn compressing(root: &std::path::Path) -> common::Serving {
    let mut options = FileOptions::default();
    options.compress = true;
    serve_quietly(handler_with(root, options))
}

#[test]
fn every_coding_is_negotiated_and_decodes_to_the_file() {
    let directory = tree();
    let server = compressing(directory.path());
    let identity = get(server.port, "/big.txt", &[]);
    assert_eq!(identity.status, 200);
    assert_eq!(identity.body, text());
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.header("Vary"), Some("Accept-Encoding"));
    let mut tags = vec![identity.header("ETag").unwrap().to_owned()];
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "br"),
        ("gzip;q=1, br;q=0.5, zstd;q=0.1", "gzip"),
        ("*", "br"),
        ("br;q=0, *", "zstd"),
        ("x-gzip", "gzip"),
    ] {
        let answer = get(server.port, "/big.txt", &[("Accept-Encoding", accept)]);
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(answer.header("Content-Encoding"), Some(coding), "{accept}");
        assert_eq!(answer.header("Vary"), Some("Accept-Encoding"), "{accept}");
        assert_eq!(
            answer.header("Content-Length"),
            Some(answer.body.len().to_string().as_str())
        );
        assert!(answer.body.len() < text().len() / 4, "{accept}");
        assert_eq!(decode(coding, &answer.body), text(), "{accept}");
        let tag = answer.header("ETag").unwrap().to_owned();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    // One entity tag per representation: identity, gzip, br, zstd.
    assert_eq!(tags.len(), 4, "{tags:?}");
    // HEAD says what GET would send.
    let head = request(
        server.port,
        "HEAD",
        "/big.txt",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    let body = get(server.port, "/big.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(head.header("Content-Encoding"), Some("gzip"));
    assert_eq!(head.header("Content-Length"), body.header("Content-Length"));
    assert_eq!(head.header("ETag"), body.header("ETag"));
    assert!(head.body.is_empty());
}

#[test]
fn nonsense_or_refusals_get_the_identity() {
    let directory = tree();
    let server = compressing(directory.path());
    for accept in [
        "gzip;q=2",
        "gzip;q=abc",
        "gzip;;q=1",
        "gz ip",
        "deflate",
        "identity",
        "*;q=0",
        "gzip;q=0, br;q=0, zstd;q=0",
        ",,,",
        "gzip;q=0.5, identity;q=1",
    ] {
        let answer = get(server.port, "/big.txt", &[("Accept-Encoding", accept)]);
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(answer.header("Content-Encoding"), None, "{accept}");
        assert_eq!(answer.body, text(), "{accept}");
    }
}

#[test]
fn never_ranges_small_files_compressed_types_or_huge_files() {
    let directory = tree();
    let server = compressing(directory.path());
    let gzip = [("Accept-Encoding", "gzip")];
    let ranged = get(
        server.port,
        "/big.txt",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-9")],
    );
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.header("Content-Encoding"), None);
    assert_eq!(ranged.body, &text()[..10]);
    let small = get(server.port, "/small.txt", &gzip);
    assert_eq!(
        (small.header("Content-Encoding"), small.body.as_slice()),
        (None, &b"tiny"[..])
    );
    let picture = get(server.port, "/picture.png", &gzip);
    assert_eq!(picture.header("Content-Encoding"), None);
    assert_eq!(picture.header("Vary"), None);
    let huge = get(server.port, "/huge.txt", &gzip);
    assert_eq!(huge.header("Content-Encoding"), None);
    assert_eq!(huge.body.len(), (4 << 20) + 1);
    let script = get(server.port, "/app.js", &gzip);
    assert_eq!(script.header("Content-Encoding"), Some("gzip"));
    // Without the option, nothing is compressed and nothing varies.
    let plain = serve_quietly(handler_with(directory.path(), FileOptions::default()));
    let answer = get(plain.port, "/big.txt", &gzip);
    assert_eq!(
        (answer.header("Content-Encoding"), answer.header("Vary")),
        (None, None)
    );
}

#[test]
fn conditional_requests_know_each_coding_by_its_tag() {
    let directory = tree();
    let server = compressing(directory.path());
    let gzip = get(server.port, "/big.txt", &[("Accept-Encoding", "gzip")]);
    let tag = gzip.header("ETag").unwrap();
    let again = get(
        server.port,
        "/big.txt",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)],
    );
    assert_eq!(again.status, 304);
    assert_eq!(again.header("ETag"), Some(tag));
    assert_eq!(again.header("Vary"), Some("Accept-Encoding"));
    // The gzip tag does not match the brotli or identity representation.
    let other = get(
        server.port,
        "/big.txt",
        &[("Accept-Encoding", "br"), ("If-None-Match", tag)],
    );
    assert_eq!(
        (other.status, other.header("Content-Encoding")),
        (200, Some("br"))
    );
    let identity = get(server.port, "/big.txt", &[("If-None-Match", tag)]);
    assert_eq!(identity.status, 200);
}

#[test]
fn a_changed_file_is_compressed_again() {
    let directory = tree();
    let server = compressing(directory.path());
    let path = directory.path().join("page.html");
    let first = "<p>first version</p>\n".repeat(200);
    fs::write(&path, &first).unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let answer = get(server.port, "/page.html", &[("Accept-Encoding", "gzip")]);
    assert_eq!(decode("gzip", &answer.body), first.as_bytes());
    // Same size, same directory entry: only the stamp tells the versions apart.
    let second = "<p>other version</p>\n".repeat(200);
    assert_eq!(first.len(), second.len());
    fs::write(&path, &second).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old + Duration::from_secs(1))
        .unwrap();
    let answer = get(server.port, "/page.html", &[("Accept-Encoding", "gzip")]);
    assert_eq!(decode("gzip", &answer.body), second.as_bytes());
}

#[test]
fn precompressed_siblings_are_served_when_fresh() {
    let directory = tree();
    let root = directory.path();
    let original = text();
    let gzipped = simplehttp::compress(ContentCoding::Gzip, &original).unwrap();
    let brotli = simplehttp::compress(ContentCoding::Brotli, &original).unwrap();
    fs::write(root.join("site.css"), &original).unwrap();
    fs::write(root.join("site.css.gz"), &gzipped).unwrap();
    fs::write(root.join("site.css.br"), &brotli).unwrap();
    // A sibling older than its file is stale.
    let stale_time = SystemTime::now() - Duration::from_secs(3600);
    fs::write(root.join("old.css"), &original).unwrap();
    fs::write(root.join("old.css.gz"), b"stale bytes").unwrap();
    fs::File::options()
        .write(true)
        .open(root.join("old.css.gz"))
        .unwrap()
        .set_modified(stale_time)
        .unwrap();
    let mut options = FileOptions::default();
    options.precompressed = true;
    let server = serve_quietly(handler_with(root, options));

    let answer = get(server.port, "/site.css", &[("Accept-Encoding", "gzip")]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Encoding"), Some("gzip"));
    assert_eq!(answer.header("Content-type"), Some("text/css"));
    assert_eq!(answer.body, gzipped);
    assert_eq!(answer.header("Vary"), Some("Accept-Encoding"));
    let answer = get(server.port, "/site.css", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(
        (answer.header("Content-Encoding"), &answer.body),
        (Some("br"), &brotli)
    );
    // No zstd sibling: a client taking only zstd gets the file as it is.
    let answer = get(server.port, "/site.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(
        (answer.header("Content-Encoding"), &answer.body),
        (None, &original)
    );
    let answer = get(server.port, "/old.css", &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        (answer.header("Content-Encoding"), &answer.body),
        (None, &original)
    );
    // A Range request gets the file's own bytes.
    let answer = get(
        server.port,
        "/site.css",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")],
    );
    assert_eq!(
        (answer.status, answer.header("Content-Encoding")),
        (206, None)
    );
    // The sibling itself is still a file of its own.
    let answer = get(server.port, "/site.css.gz", &[]);
    assert_eq!(answer.header("Content-type"), Some("application/gzip"));
    // A distinct tag, and 304 for it.
    let first = get(server.port, "/site.css", &[("Accept-Encoding", "gzip")]);
    let tag = first.header("ETag").unwrap();
    assert!(tag.ends_with("-gzip\""), "{tag}");
    let again = get(
        server.port,
        "/site.css",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)],
    );
    assert_eq!(again.status, 304);
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn curl_compressed_and_python_urllib_decode_what_they_get() {
    if !curl_available() {
        eprintln!("curl is not installed; CI installs it");
        return;
    }
    let directory = tree();
    let server = compressing(directory.path());
    let url = format!("http://127.0.0.1:{}/big.txt", server.port);
    let output = Command::new("curl")
        .args(["-sS", "--compressed", "-D", "-", "-o", "-", &url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let answer: Answer = common::parse_answer(&output.stdout);
    assert!(
        answer.header("Content-Encoding").is_some(),
        "{:?}",
        answer.headers
    );
    assert_eq!(answer.body, text());
    let script = format!(
        "import gzip, urllib.request\n\
         request = urllib.request.Request('{url}', headers={{'Accept-Encoding': 'gzip'}})\n\
         with urllib.request.urlopen(request) as response:\n\
         \x20   assert response.headers['Content-Encoding'] == 'gzip', response.headers\n\
         \x20   import sys; sys.stdout.buffer.write(gzip.decompress(response.read()))\n"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, text());
}

#[test]
fn a_changed_file_or_sibling_is_served_anew() {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    let original = text();
    let first = simplehttp::compress(ContentCoding::Gzip, &original).unwrap();
    // The sibling is kept in memory only once its times are 2 s old, counted in whole seconds: let them settle.
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::write(root.join("page.txt"), &original).unwrap();
    fs::File::options()
        .write(true)
        .open(root.join("page.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::write(root.join("page.txt.gz"), &first).unwrap();
    // And a file compressed on the fly, kept the same way.
    fs::write(root.join("plain.txt"), &original).unwrap();
    std::thread::sleep(Duration::from_millis(3100));
    let mut options = FileOptions::default();
    options.compress = true;
    let compressing = serve_quietly(handler_with(root, options));
    for _ in 0..2 {
        let answer = get(
            compressing.port,
            "/plain.txt",
            &[("Accept-Encoding", "gzip")],
        );
        assert_eq!(decode("gzip", &answer.body), original);
    }
    let mut longer = original.clone();
    longer.extend_from_slice(b"another line\n");
    fs::write(root.join("plain.txt"), &longer).unwrap();
    let answer = get(
        compressing.port,
        "/plain.txt",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(decode("gzip", &answer.body), longer);
    let mut options = FileOptions::default();
    options.precompressed = true;
    let server = serve_quietly(handler_with(root, options));
    for _ in 0..2 {
        let answer = get(server.port, "/page.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!(answer.body, first);
    }
    // Rewritten with other bytes (another size, so another stamp): the kept copy is not used.
    let mut changed = original.clone();
    changed.extend_from_slice(b"one more line\n");
    let second = simplehttp::compress(ContentCoding::Gzip, &changed).unwrap();
    fs::write(root.join("page.txt.gz"), &second).unwrap();
    let answer = get(server.port, "/page.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(answer.header("Content-Encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &answer.body), changed);
}

#[test]
fn the_library_default_lists_as_python_does() {
    // FileOptions::default() is Python's behaviour: no JSON listing, whatever the request asks.
    let directory = tree();
    let server = serve_quietly(handler_with(directory.path(), FileOptions::default()));
    for (path, accept) in [("/?format=json", "*/*"), ("/", "application/json")] {
        let answer = get(server.port, path, &[("Accept", accept)]);
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("Content-type"),
            Some("text/html; charset=utf-8"),
            "{path} {accept}"
        );
        assert_eq!(answer.header("Vary"), None);
    }
}

#[test]
fn head_tells_the_coding_and_length_of_the_get() {
    let directory = tree();
    let server = compressing(directory.path());
    let gzip = [("Accept-Encoding", "gzip")];
    let got = get(server.port, "/big.txt", &gzip);
    let head = request(server.port, "HEAD", "/big.txt", &gzip, b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Encoding"), Some("gzip"));
    assert_eq!(head.header("Content-Length"), got.header("Content-Length"));
    assert_eq!(head.header("ETag"), got.header("ETag"));
    assert!(head.body.is_empty());
    // Other methods are not answered with a coding (POST is 501 here, as in Python).
    let post = request(server.port, "POST", "/big.txt", &gzip, b"x");
    assert_eq!(post.status, 501);
    assert_eq!(post.header("Content-Encoding"), None);
}

#[test]
fn siblings_follow_the_link_and_dotfile_policies() {
    let directory = tree();
    let root = directory.path();
    let elsewhere = tempfile::tempdir().unwrap();
    let original = text();
    let gzipped = simplehttp::compress(ContentCoding::Gzip, &original).unwrap();
    fs::write(root.join("linked.txt"), &original).unwrap();
    fs::write(elsewhere.path().join("outside.gz"), &gzipped).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("outside.gz"),
        root.join("linked.txt.gz"),
    )
    .unwrap();
    fs::create_dir(root.join(".well-known")).unwrap();
    fs::write(root.join(".well-known/page.txt"), &original).unwrap();
    fs::write(root.join(".well-known/page.txt.gz"), &gzipped).unwrap();
    let coding_of = |options: FileOptions, path: &str| {
        let server = serve_quietly(handler_with(root, options));
        let answer = get(server.port, path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(answer.status, 200, "{path}");
        answer.header("Content-Encoding").map(str::to_owned)
    };
    let with = |symlinks: Symlinks| {
        let mut options = FileOptions::default();
        options.precompressed = true;
        options.symlinks = symlinks;
        options
    };
    // A sibling that links out of the directory is sent only where links are followed anywhere.
    assert_eq!(
        coding_of(with(Symlinks::Follow), "/linked.txt").as_deref(),
        Some("gzip")
    );
    assert_eq!(coding_of(with(Symlinks::InRootOnly), "/linked.txt"), None);
    assert_eq!(coding_of(with(Symlinks::Never), "/linked.txt"), None);
    // Under a dot directory, a sibling is sent while dotfiles are not hidden.
    assert_eq!(
        coding_of(with(Symlinks::Follow), "/.well-known/page.txt").as_deref(),
        Some("gzip")
    );
}
