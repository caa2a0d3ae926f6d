//! The `simplehttp` command's file-server options over real sockets: the JSON listing (read by Python's `json`),
//! the sortable listing, `--hide-dotfiles`, `--no-follow-symlinks`, `--symlinks-in-root-only` and `--spa-fallback`,
//! each beside Python's behaviour, which stays the default.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::{Command as Process, Stdio};

mod common;

use common::{get, Command};

/// A tree: files of three sizes and ages, a directory, a dotfile and a dot-directory, a name that needs escaping,
/// links inside and outside the served directory; and a file outside it.
fn tree() -> tempfile::TempDir {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join("small.txt"), b"12345").unwrap();
    fs::write(root.join("big.txt"), vec![b'b'; 5000]).unwrap();
    fs::write(root.join("mid <&>.txt"), vec![b'm'; 300]).unwrap();
    fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    fs::write(root.join(".env"), b"SECRET=1").unwrap();
    fs::write(root.join(".git/config"), b"[core]").unwrap();
    fs::write(root.join("index-app.html"), b"<p>the app</p>").unwrap();
    fs::write(base.path().join("outside.txt"), b"outside").unwrap();
    // Dates apart, so sorting by date has one answer: small oldest, big newest.
    let day = std::time::Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    for (name, age) in [("small.txt", 3), ("mid <&>.txt", 2), ("big.txt", 1)] {
        fs::File::options()
            .write(true)
            .open(root.join(name))
            .unwrap()
            .set_modified(now - day * age)
            .unwrap();
    }
    symlink("sub/inner.txt", root.join("inlink.txt")).unwrap();
    symlink(base.path().join("outside.txt"), root.join("outlink.txt")).unwrap();
    base
}

fn www(base: &tempfile::TempDir) -> std::path::PathBuf {
    base.path().join("www")
}

fn start(base: &tempfile::TempDir, arguments: &[&str]) -> Command {
    let mut all = vec!["-q"];
    all.extend_from_slice(arguments);
    Command::start(&www(base), &all, Stdio::null())
}

/// The names a listing page links to, as shown (unescaped), in page order.
fn page_names(page: &str) -> Vec<String> {
    page.split("<a href=\"")
        .skip(1)
        .filter(|part| !part.starts_with('?'))
        .filter_map(|part| part.split_once("\">"))
        .filter_map(|(_, rest)| rest.split_once("</a>"))
        .map(|(name, _)| {
            name.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Python's `json` module reading a JSON listing: one line per entry, `name|type|size|modified`.
fn python_reads(json: &[u8]) -> Vec<String> {
    let mut child = Process::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             for e in json.load(sys.stdin):\n    \
                 assert set(e) >= {'name', 'type', 'size', 'modified'}, e\n    \
                 print('%s|%s|%s|%s' % (e['name'], e['type'], e['size'], e['modified']))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(json).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 could not read {json:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn json_listing_has_the_html_pages_entries() {
    let base = tree();
    for arguments in [&[][..], &["--sortable-listing"][..]] {
        let server = start(&base, arguments);
        let html = get(server.port, "/", &[]);
        assert_eq!(html.status, 200);
        assert_eq!(
            html.header("Content-type"),
            Some("text/html; charset=utf-8")
        );
        let shown: Vec<String> = page_names(&String::from_utf8_lossy(&html.body))
            .into_iter()
            .map(|name| name.trim_end_matches(['/', '@']).to_owned())
            .collect();
        for json in [
            get(server.port, "/?format=json", &[]),
            get(server.port, "/", &[("Accept", "application/json")]),
            get(
                server.port,
                "/",
                &[("Accept", "text/html;q=0.5, application/json")],
            ),
        ] {
            assert_eq!(json.status, 200);
            assert_eq!(json.header("Content-type"), Some("application/json"));
            assert!(json.header("Vary").unwrap().contains("Accept"));
            let lines = python_reads(&json.body);
            let mut names: Vec<String> = lines
                .iter()
                .map(|line| line.split('|').next().unwrap().to_owned())
                .collect();
            let mut expected = shown.clone();
            names.sort();
            expected.sort();
            assert_eq!(names, expected, "{arguments:?}");
            assert!(lines
                .iter()
                .any(|line| line.starts_with("sub|directory|None|20")));
            assert!(lines
                .iter()
                .any(|line| line.starts_with("small.txt|file|5|20") && line.ends_with('Z')));
            assert!(lines
                .iter()
                .any(|line| line.starts_with("mid <&>.txt|file|300|")));
        }
        // JSON refused, or weighed no more than HTML: the page.
        for accept in [
            "application/json;q=0",
            "text/html, application/json",
            "application/json;q=0.5, text/html;q=0.5",
        ] {
            let answer = get(server.port, "/", &[("Accept", accept)]);
            assert_eq!(
                answer.header("Content-type"),
                Some("text/html; charset=utf-8"),
                "{accept}"
            );
        }
        // A browser's Accept (HTML first) gets the page.
        let browser = get(
            server.port,
            "/",
            &[(
                "Accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )],
        );
        assert_eq!(
            browser.header("Content-type"),
            Some("text/html; charset=utf-8")
        );
    }
}

#[test]
fn the_sortable_listing_sorts_by_links() {
    let base = tree();
    let server = start(&base, &["--sortable-listing"]);
    let names = |query: &str| {
        let answer = get(server.port, &format!("/{query}"), &[]);
        assert_eq!(answer.status, 200);
        let page = String::from_utf8_lossy(&answer.body).into_owned();
        let files: Vec<String> = page_names(&page)
            .into_iter()
            .filter(|name| ["small.txt", "big.txt", "mid <&>.txt"].contains(&name.as_str()))
            .collect();
        (page, files)
    };
    let (page, by_name) = names("");
    assert_eq!(by_name, ["big.txt", "mid <&>.txt", "small.txt"]);
    // The headings are links, no script.
    assert!(page.contains("<a href=\"?sort=size&amp;order=desc\">Size</a>"));
    assert!(page.contains("<a href=\"?sort=modified&amp;order=desc\">Modified</a>"));
    assert!(!page.contains("<script"));
    assert!(!page.contains("<form"));
    assert_eq!(
        names("?sort=size&order=desc").1,
        ["big.txt", "mid <&>.txt", "small.txt"]
    );
    assert_eq!(
        names("?sort=size&order=asc").1,
        ["small.txt", "mid <&>.txt", "big.txt"]
    );
    assert_eq!(
        names("?sort=modified&order=asc").1,
        ["small.txt", "mid <&>.txt", "big.txt"]
    );
    assert_eq!(
        names("?sort=name&order=desc").1,
        ["small.txt", "mid <&>.txt", "big.txt"]
    );
    // Nonsense in the query is the default order, never an error.
    assert_eq!(
        names("?sort=%3Cscript%3E&order=sideways").1,
        ["big.txt", "mid <&>.txt", "small.txt"]
    );
    // The JSON listing takes the same order.
    let json = get(server.port, "/?format=json&sort=size&order=asc", &[]);
    let files: Vec<String> = python_reads(&json.body)
        .into_iter()
        .map(|line| line.split('|').next().unwrap().to_owned())
        .filter(|name| name.ends_with(".txt") && !name.contains("link"))
        .collect();
    assert_eq!(files, ["small.txt", "mid <&>.txt", "big.txt"]);
}

#[test]
fn hidden_dotfiles_are_neither_listed_nor_served() {
    let base = tree();
    // Python's behaviour by default: listed and served.
    let server = start(&base, &[]);
    assert_eq!(get(server.port, "/.env", &[]).status, 200);
    assert_eq!(get(server.port, "/.git/config", &[]).status, 200);
    let page = String::from_utf8(get(server.port, "/", &[]).body).unwrap();
    assert!(page.contains(".env"));
    drop(server);

    let server = start(&base, &["--hide-dotfiles"]);
    for path in [
        "/.env",
        "/.git/config",
        "/.git/",
        "/%2Eenv",
        "/sub/../.env",
        "/.git",
    ] {
        assert_eq!(get(server.port, path, &[]).status, 404, "{path}");
    }
    for query in ["", "?format=json"] {
        let listing = String::from_utf8(get(server.port, &format!("/{query}"), &[]).body).unwrap();
        assert!(!listing.contains(".env"), "{listing}");
        assert!(!listing.contains(".git"), "{listing}");
        assert!(listing.contains("small.txt"));
    }
    assert_eq!(get(server.port, "/small.txt", &[]).status, 200);
}

#[test]
fn symbolic_links_follow_the_policy() {
    let base = tree();
    // Python's behaviour by default: every link followed, wherever it leads.
    let server = start(&base, &[]);
    assert_eq!(get(server.port, "/outlink.txt", &[]).body, b"outside");
    assert_eq!(get(server.port, "/inlink.txt", &[]).body, b"inner");
    drop(server);

    let server = start(&base, &["--symlinks-in-root-only"]);
    assert_eq!(get(server.port, "/inlink.txt", &[]).body, b"inner");
    assert_eq!(get(server.port, "/outlink.txt", &[]).status, 404);
    let listing = String::from_utf8(get(server.port, "/?format=json", &[]).body).unwrap();
    assert!(listing.contains("inlink.txt"));
    assert!(!listing.contains("outlink.txt"), "{listing}");
    drop(server);

    let server = start(&base, &["--no-follow-symlinks"]);
    assert_eq!(get(server.port, "/inlink.txt", &[]).status, 404);
    assert_eq!(get(server.port, "/outlink.txt", &[]).status, 404);
    assert_eq!(get(server.port, "/sub/inner.txt", &[]).body, b"inner");
    let page = String::from_utf8(get(server.port, "/", &[]).body).unwrap();
    assert!(!page.contains("link.txt"), "{page}");
    drop(server);

    // The two policies exclude each other.
    let output = Process::new(env!("CARGO_BIN_EXE_simplehttp"))
        .args(["--no-follow-symlinks", "--symlinks-in-root-only", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn the_spa_fallback_answers_html_navigations() {
    let base = tree();
    let server = start(&base, &["--spa-fallback", "index-app.html"]);
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    for path in ["/app/route", "/missing.txt", "/deep/er/path?x=1"] {
        let answer = get(server.port, path, &html);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.body, b"<p>the app</p>");
        assert_eq!(answer.header("Content-type"), Some("text/html"));
    }
    // Scripts and clients that do not ask for HTML keep their 404.
    assert_eq!(get(server.port, "/app/route", &[]).status, 404);
    assert_eq!(
        get(server.port, "/app/route", &[("Accept", "*/*")]).status,
        404
    );
    assert_eq!(
        get(server.port, "/api/x", &[("Accept", "application/json")]).status,
        404
    );
    assert_eq!(
        get(server.port, "/app/route", &[("Accept", "text/html;q=0")]).status,
        404
    );
    // Files that are there are served as ever.
    assert_eq!(get(server.port, "/small.txt", &html).body, b"12345");
    drop(server);

    // A fallback that is not a file inside the directory is refused at start.
    for bad in ["nothing.html", "../outside.txt", "/etc/passwd", "sub"] {
        let output = Process::new(env!("CARGO_BIN_EXE_simplehttp"))
            .args(["0", "-b", "127.0.0.1", "--spa-fallback", bad, "-d"])
            .arg(www(&base))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--spa-fallback"),
            "{bad}"
        );
    }
}
