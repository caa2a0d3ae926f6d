//! `cargo xtask browser`: a listing of odd names, looked at by a real browser (headless Chromium).
//!
//! Installs Debian's `chromium` when it is missing, builds and starts the `simplehttp` command on a tree of odd names
//! (`<i>`, `&amp;`, `q?`, `f#`, spaces, bytes that are not UTF-8) on 127.0.0.1, takes a screenshot of the listing
//! (`bench-results/listing.png`) and dumps the DOM Chromium rendered.
//! Every `<a href>` of the rendered page is then requested from the server: each must answer 200, or 301 to a directory that answers 200.
//!
//! Then a second server with `--upload`: a page on it loads the listing in a frame, picks a file for the listing's upload form
//! (a `File` through `DataTransfer`, as a drop would) and submits it; the browser follows the answer back to the listing,
//! which must list the file, and the file must be on disk with what the browser sent.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::shell::{cargo, exec, have};

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// The files of the listed directory: names a listing must escape and quote, and what they hold.
const FILES: [&[u8]; 12] = [
    b"<i>not italic.txt",
    b"&amp;.txt",
    b"q?",
    b"f#",
    b"with space.txt",
    b"caf\xe9 latin-1.txt",
    b"na\xc3\xafve UTF-8.txt",
    b"%A4",
    b"\"dq\".txt",
    b"'sq'.txt",
    b"a&b=c;d.txt",
    b"plain.txt",
];

/// Directories inside it, each holding one file: reached by a link, they answer 200 (with their slash).
const DIRECTORIES: [&[u8]; 2] = [b"sub dir", b"<b> & q?"];

pub fn run(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err("browser takes no arguments".into());
    }
    ensure_chromium()?;
    let program = build_simplehttp()?;
    let tree = Tree::new()?;
    let server = Server::start(&program, &tree.root, &[])?;
    let url = format!("http://127.0.0.1:{}/dir/", server.port);

    let screenshot = crate::shell::project_root().join("bench-results/listing.png");
    fs::create_dir_all(screenshot.parent().expect("a parent directory"))
        .map_err(|error| format!("cannot create bench-results: {error}"))?;
    let _ = fs::remove_file(&screenshot);
    chromium(
        &tree.scratch,
        "screenshot",
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1000,700".to_owned(),
        ],
        &url,
    )?;
    if !screenshot.is_file() {
        return Err(format!(
            "chromium wrote no screenshot at {}",
            screenshot.display()
        ));
    }
    eprintln!("screenshot: {}", screenshot.display());

    let dom = chromium(&tree.scratch, "dom", &["--dump-dom".to_owned()], &url)?;
    let links = hrefs(&dom);
    let expected = FILES.len() + DIRECTORIES.len();
    if links.len() != expected {
        return Err(format!(
            "the rendered listing has {} links, expected {expected}:\n{dom}",
            links.len()
        ));
    }
    // The escaped names show as text: the browser parsed `&lt;i&gt;` as the characters `<i>`, not as an element.
    for shown in [
        "&lt;i&gt;not italic.txt",
        "&amp;amp;.txt",
        "with space.txt",
        "\u{fffd}",
    ] {
        if !dom.contains(shown) {
            return Err(format!(
                "the rendered listing does not show {shown:?}:\n{dom}"
            ));
        }
    }
    let mut failures = Vec::new();
    for link in &links {
        let target = format!("/dir/{link}");
        match fetch_following_directory(server.port, &target) {
            Ok(status) => eprintln!("{status} {target}"),
            Err(message) => failures.push(format!("{target}: {message}")),
        }
    }
    if !failures.is_empty() {
        return Err(format!("links that failed:\n{}", failures.join("\n")));
    }
    eprintln!(
        "all {} links of the rendered listing answer 200",
        links.len()
    );
    upload_through_the_form(&program, &tree)
}

/// The name the browser uploads, and what it holds.
const UPLOADED: (&str, &str) = ("from the browser.txt", "sent by headless chromium\n");

/// The page that drives the listing's form: it waits for the listing in its frame, gives the form's file input one file
/// and submits it; once the frame's listing shows the file, it writes what the frame lists into `#result`
/// (it polls rather than waiting for `load`, which may come before its handler is set).
const DRIVER: &str = r#"<!DOCTYPE html>
<html><body>
<p id="result">pending</p>
<iframe id="listing" src="/up/"></iframe>
<script>
const frame = document.getElementById("listing");
const result = document.getElementById("result");
let submitted = false;
const timer = setInterval(() => {
  try {
    const page = frame.contentDocument;
    if (!page || page.readyState !== "complete") return;
    if (!submitted) {
      const input = page.querySelector("form input[type=file]");
      if (!input) return;
      const files = new DataTransfer();
      files.items.add(new File(["sent by headless chromium\n"], "from the browser.txt", {type: "text/plain"}));
      input.files = files.files;
      submitted = true;
      input.form.submit();
      return;
    }
    const names = Array.from(page.querySelectorAll("a")).map((link) => link.textContent);
    if (names.includes("from the browser.txt")) {
      result.textContent = "listed: " + names.join(" | ");
      clearInterval(timer);
    }
  } catch (error) {
    result.textContent = "error: " + error;
    clearInterval(timer);
  }
}, 50);
</script>
</body></html>
"#;

/// Uploads a file through the listing's form in Chromium and checks the listing shows it and the disk holds it.
fn upload_through_the_form(program: &Path, tree: &Tree) -> Result<(), String> {
    let up = tree.root.join("up");
    fs::create_dir_all(&up).map_err(|error| format!("cannot create {}: {error}", up.display()))?;
    fs::write(tree.root.join("driver.html"), DRIVER)
        .map_err(|error| format!("cannot write the driver page: {error}"))?;
    let server = Server::start(program, &tree.root, &["--upload"])?;
    let url = format!("http://127.0.0.1:{}/driver.html", server.port);
    // Virtual time lets the frame's two loads and the form's post finish before the DOM is dumped.
    let dom = chromium(
        &tree.scratch,
        "upload",
        &[
            "--dump-dom".to_owned(),
            "--virtual-time-budget=10000".to_owned(),
        ],
        &url,
    )?;
    let (name, content) = UPLOADED;
    let result = dom
        .split("<p id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("");
    if !(result.starts_with("listed: ") && result.contains(name)) {
        return Err(format!(
            "after the upload the listing in the browser shows {result:?}:\n{dom}"
        ));
    }
    match fs::read_to_string(up.join(name)) {
        Ok(stored) if stored == content => {
            eprintln!("uploaded through the listing's form: {name:?}, and the listing shows it");
            Ok(())
        }
        Ok(stored) => Err(format!("the uploaded file holds {stored:?}")),
        Err(error) => Err(format!("the uploaded file is not on disk: {error}")),
    }
}

/// Installs Debian's chromium when it is not on `PATH`.
fn ensure_chromium() -> Result<(), String> {
    if have("chromium") {
        return Ok(());
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Builds the `simplehttp` command (debug) and answers the path cargo reports for it.
fn build_simplehttp() -> Result<PathBuf, String> {
    let mut command = cargo();
    command.args([
        "build",
        "--package",
        "pyhttp-simplehttp",
        "--bin",
        "simplehttp",
        "--message-format=json-render-diagnostics",
    ]);
    eprintln!("$ cargo build --package pyhttp-simplehttp --bin simplehttp");
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run cargo build: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo build failed: {}", output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| json_string_field(line, "executable"))
        .find(|path| path.ends_with("/simplehttp"))
        .map(PathBuf::from)
        .ok_or_else(|| "cargo build reported no simplehttp executable".to_owned())
}

/// The value of the first `"field":"..."` in a JSON line.
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let start = json.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut value = String::new();
    let mut characters = json[start..].chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => return Some(value),
            '\\' => value.push(characters.next()?),
            other => value.push(other),
        }
    }
    None
}

/// The served tree and Chromium's scratch space, in a fresh temporary directory removed on drop.
struct Tree {
    base: PathBuf,
    root: PathBuf,
    scratch: PathBuf,
}

impl Tree {
    fn new() -> Result<Tree, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let base =
            std::env::temp_dir().join(format!("xtask-browser-{}-{nanos}", std::process::id()));
        let tree = Tree {
            root: base.join("root"),
            scratch: base.join("scratch"),
            base,
        };
        let write = |path: &Path, content: &[u8]| {
            fs::write(path, content)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))
        };
        let listed = tree.root.join("dir");
        fs::create_dir_all(&listed)
            .and_then(|()| fs::create_dir_all(&tree.scratch))
            .map_err(|error| format!("cannot create {}: {error}", tree.base.display()))?;
        for name in FILES {
            write(
                &listed.join(std::ffi::OsStr::from_bytes(name)),
                b"a file with an odd name\n",
            )?;
        }
        for name in DIRECTORIES {
            let directory = listed.join(std::ffi::OsStr::from_bytes(name));
            fs::create_dir(&directory)
                .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
            write(&directory.join("inside.txt"), b"inside\n")?;
        }
        Ok(tree)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// The `simplehttp` command on 127.0.0.1 and a free port; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(program: &Path, root: &Path, flags: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(program)
            .args(["0", "-b", "127.0.0.1"])
            .args(flags)
            .arg("-d")
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let mut banner = String::new();
        let read =
            BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut banner);
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = banner
            .split_whitespace()
            .skip_while(|word| *word != "port")
            .nth(1)
            .and_then(|word| word.parse().ok());
        match (read, port) {
            (Ok(_), Some(port)) => Ok(Server { child, port }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("simplehttp printed no port: {banner:?}"))
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs headless Chromium on `url` with a fresh profile (named after `run`) and `extra` flags; answers its standard output.
fn chromium(scratch: &Path, run: &str, extra: &[String], url: &str) -> Result<String, String> {
    let profile = scratch.join(format!("profile-{run}"));
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    eprintln!("$ chromium --headless ... {} {url}", extra.join(" "));
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start chromium: {error}"))?;
    // Read stdout on a thread, so the timeout below holds even if chromium hangs with the pipe open.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < CHROMIUM_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("chromium took over {CHROMIUM_TIMEOUT:?}"));
            }
            Err(error) => return Err(format!("cannot wait for chromium: {error}")),
        }
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("chromium failed: {status}"));
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Every `href` of `<a>` elements in the serialized DOM, with the `&amp;` of serialization undone.
fn hrefs(dom: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<a href=\"") {
        rest = &rest[start + 9..];
        let Some(end) = rest.find('"') else {
            break;
        };
        found.push(rest[..end].replace("&amp;", "&"));
        rest = &rest[end..];
    }
    found
}

/// GET `target`; a 301 is followed once (a directory's slash). Answers the final status when it is 200.
fn fetch_following_directory(port: u16, target: &str) -> Result<u16, String> {
    let (status, location) = get(port, target)?;
    match (status, location) {
        (200, _) => Ok(200),
        (301, Some(location)) => match get(port, &location)? {
            (200, _) => Ok(200),
            (status, _) => Err(format!("301 to {location}, which answered {status}")),
        },
        (status, _) => Err(format!("answered {status}")),
    }
}

/// One HTTP/1.0 GET over a fresh connection: the status and the `Location` header.
fn get(port: u16, target: &str) -> Result<(u16, Option<String>), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|error| format!("cannot connect: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(format!("GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .map_err(|error| format!("cannot send: {error}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|error| format!("cannot read: {error}"))?;
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let location = head
        .lines()
        .find_map(|line| line.strip_prefix("Location: "))
        .map(str::to_owned);
    Ok((status, location))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_links_in_a_serialized_dom() {
        let dom = "<ul><li><a href=\"q%3F\">q?</a></li>\n<li><a href=\"a%26b=c%3Bd.txt\">a&amp;b</a></li><li><a href=\"x&amp;y\">x</a></li></ul>";
        assert_eq!(super::hrefs(dom), ["q%3F", "a%26b=c%3Bd.txt", "x&y"]);
    }

    #[test]
    fn reads_the_executable_from_cargo_messages() {
        let line =
            r#"{"reason":"compiler-artifact","executable":"/t/debug/simplehttp","fresh":true}"#;
        assert_eq!(
            super::json_string_field(line, "executable").as_deref(),
            Some("/t/debug/simplehttp")
        );
    }
}
