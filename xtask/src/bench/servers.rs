//! Starting, watching and stopping the servers under test, and the files they serve.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::scenarios::Server;
use super::tls::Certificate;

/// The page `echo_http` answers on `GET /`; Python and nginx serve the same bytes.
pub const HELLO_PAGE: &str =
    "<html><head><title>Web Page</title></head><body>Hello Python World</body></html>";

/// How many entries the listing scenario's directory holds.
const LISTING_ENTRIES: usize = 1000;

/// The size of the file the slow clients ask for and never read: larger than the socket buffers a server can fill,
/// so a server that writes it with blocking calls stays blocked.
pub const SLOW_FILE_BYTES: usize = 8 * 1024 * 1024;

/// A temporary directory with the served tree, the nginx configuration and the Python script.
#[derive(Debug)]
pub struct Workdir {
    pub root: PathBuf,
}

impl Workdir {
    /// Creates the directory and everything the scenarios serve.
    pub fn create() -> Result<Workdir, String> {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "xtask-bench-{}-{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        ));
        let workdir = Workdir { root };
        workdir.populate().map_err(|error| {
            format!("cannot prepare {}: {error}", workdir.root.to_string_lossy())
        })?;
        Ok(workdir)
    }

    /// The directory every file server serves.
    pub fn www(&self) -> PathBuf {
        self.root.join("www")
    }

    fn populate(&self) -> std::io::Result<()> {
        let www = self.www();
        fs::create_dir_all(www.join("listing"))?;
        fs::create_dir_all(www.join("cgi-bin"))?;
        fs::write(www.join("hello.html"), HELLO_PAGE)?;
        fs::write(www.join("small.txt"), small_file())?;
        fs::create_dir_all(www.join("gzip"))?;
        fs::create_dir_all(www.join("gzip-static"))?;
        let text = compressible_text();
        fs::write(www.join("gzip").join("text.txt"), &text)?;
        fs::write(www.join("gzip-static").join("text.txt"), &text)?;
        // Written after the file, so the sibling is at least as new as it (both servers check that).
        fs::write(
            www.join("gzip-static").join("text.txt.gz"),
            gzip_best(&text)?,
        )?;
        let large: Vec<u8> = (0..1024 * 1024u32)
            .map(|index| (index % 251) as u8)
            .collect();
        fs::write(www.join("large.bin"), large)?;
        let slow: Vec<u8> = (0..SLOW_FILE_BYTES)
            .map(|index| (index % 251) as u8)
            .collect();
        fs::write(www.join("slow.bin"), slow)?;
        for index in 0..LISTING_ENTRIES {
            fs::write(
                www.join("listing").join(format!("entry-{index:04}.txt")),
                format!("entry {index}\n"),
            )?;
        }
        let script = www.join("cgi-bin").join("hello.sh");
        fs::write(
            &script,
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello from cgi\\n'\n",
        )?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        fs::write(self.root.join("hello_server.py"), PYTHON_HELLO)?;
        for directory in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            fs::create_dir_all(self.root.join("nginx").join(directory))?;
        }
        Ok(())
    }

    /// The self-signed certificate of the TLS scenarios, made on first use.
    pub fn certificate(&self) -> Result<Certificate, String> {
        super::tls::self_signed(&self.root)
    }

    /// Writes an nginx configuration listening on `port` (over TLS 1.3 with `tls`) and returns its path.
    fn nginx_config(&self, port: u16, tls: Option<&Certificate>) -> Result<PathBuf, String> {
        let root = self.root.to_string_lossy();
        let listen = match tls {
            None => format!("listen 127.0.0.1:{port};"),
            Some(pair) => format!(
                "listen 127.0.0.1:{port} ssl;
        ssl_certificate {};
        ssl_certificate_key {};
        ssl_protocols TLSv1.3;",
                pair.certificate.to_string_lossy(),
                pair.key.to_string_lossy()
            ),
        };
        let config = format!(
            "daemon off;
master_process off;
worker_processes 1;
error_log stderr;
pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {root}/nginx/client_body;
    proxy_temp_path {root}/nginx/proxy;
    fastcgi_temp_path {root}/nginx/fastcgi;
    uwsgi_temp_path {root}/nginx/uwsgi;
    scgi_temp_path {root}/nginx/scgi;
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    server {{
        {listen}
        root {root}/www;
        autoindex on;
        location /gzip/ {{
            gzip on;
            gzip_http_version 1.0;
            gzip_types text/plain;
            gzip_min_length 1024;
            gzip_vary on;
        }}
        location /gzip-static/ {{
            gzip_static on;
            gzip_http_version 1.0;
            gzip_vary on;
        }}
    }}
}}
"
        );
        let path = self.root.join(format!("nginx-{port}.conf"));
        fs::write(&path, config).map_err(|error| format!("cannot write nginx.conf: {error}"))?;
        Ok(path)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Python's side of the hello scenario: what `echo_http` does, in `http.server`.
const PYTHON_HELLO: &str = r#"import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<html><head><title>Web Page</title></head><body>Hello Python World</body></html>"


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each response waits for a delayed ACK (about 40 ms).
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
host, port = server.server_address[:2]
print(f"Serving HTTP on {host} port {port} (http://{host}:{port}/) ...", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
"#;

/// Our servers that the workspace has and that were built, by where their program lives.
#[derive(Debug, Default)]
pub struct Binaries {
    pub programs: BTreeMap<Server, PathBuf>,
}

impl Binaries {
    /// The program of one of our servers, if it was built.
    pub fn ours(&self, server: Server) -> Option<PathBuf> {
        self.programs
            .get(&server)
            .filter(|path| path.is_file())
            .cloned()
    }
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub server: Server,
    pub port: u16,
    child: Child,
}

impl Running {
    /// The server's process id (taskset execs the server, so it is the child's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The processor time the server has used so far (user and system, `/proc/<pid>/stat`), in clock ticks
    /// (1/100 s on Linux: `USER_HZ`). Only a server that is one process is counted whole (not nginx's workers).
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // "pid (name) state ppid ...": the name may hold spaces, so count the fields after the last ')'.
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some(user + system)
    }

    /// `VmHWM` (peak resident set) from `/proc/<pid>/status`, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGINT, then SIGTERM, then SIGKILL, with a short grace after each.
    ///
    /// SIGTERM is there because a shell without job control starts background commands with SIGINT ignored,
    /// and Python keeps an ignored SIGINT ignored.
    pub fn stop(mut self) {
        for (signal, grace) in [("-INT", 2000), ("-TERM", 1000)] {
            let _ = Command::new("kill")
                .args([signal, &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_millis(grace);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        eprintln!(
            "xtask bench: {} outlived SIGINT and SIGTERM; killing it",
            self.server.describe()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `server`, pinned to `core` when one is given, and waits until its port answers.
pub fn start(
    server: Server,
    workdir: &Workdir,
    binaries: &Binaries,
    core: Option<u32>,
) -> Result<Running, String> {
    let www = workdir.www();
    let (program, arguments, fixed_port): (PathBuf, Vec<String>, Option<u16>) = match server {
        Server::EchoHttp => (
            binary(binaries, server)?,
            words(&["0", "-b", "127.0.0.1", "-p", "HTTP/1.1"]),
            None,
        ),
        Server::SimpleHttp
        | Server::SimpleHttps
        | Server::CgiHttp
        | Server::SimpleHttpCompress
        | Server::SimpleHttpPrecompressed
        | Server::SimpleHttpAuth => {
            let mut arguments = vec![
                "0".into(),
                "-b".into(),
                "127.0.0.1".into(),
                "-d".into(),
                www.to_string_lossy().into_owned(),
                // No request log, as nginx's configuration here has `access_log off`.
                "-q".into(),
            ];
            match server {
                Server::SimpleHttpCompress => arguments.push("--compress".into()),
                Server::SimpleHttpPrecompressed => arguments.push("--precompressed".into()),
                _ => {}
            }
            if server.tls() {
                let pair = workdir.certificate()?;
                arguments.extend([
                    "--tls-cert".into(),
                    pair.certificate.to_string_lossy().into_owned(),
                    "--tls-key".into(),
                    pair.key.to_string_lossy().into_owned(),
                ]);
            }
            arguments.extend(words(server.extra_arguments()));
            (binary(binaries, server)?, arguments, None)
        }
        Server::PythonHello => (
            "python3".into(),
            vec![
                "-u".into(),
                workdir
                    .root
                    .join("hello_server.py")
                    .to_string_lossy()
                    .into_owned(),
            ],
            None,
        ),
        Server::PythonFiles | Server::PythonCgi => {
            let mut arguments = words(&["-u", "-m", "http.server"]);
            if server == Server::PythonCgi {
                arguments.push("--cgi".into());
            }
            arguments.extend(words(&["0", "-b", "127.0.0.1", "-d"]));
            arguments.push(www.to_string_lossy().into_owned());
            ("python3".into(), arguments, None)
        }
        Server::Nginx | Server::NginxHttps | Server::NginxGzip | Server::NginxGzipStatic => {
            let port = free_port()?;
            let pair = if server.tls() {
                Some(workdir.certificate()?)
            } else {
                None
            };
            let config = workdir.nginx_config(port, pair.as_ref())?;
            (
                super::install::nginx_program(),
                vec![
                    "-e".into(),
                    "stderr".into(),
                    "-p".into(),
                    workdir.root.to_string_lossy().into_owned(),
                    "-c".into(),
                    config.to_string_lossy().into_owned(),
                ],
                Some(port),
            )
        }
    };
    let mut command = match core {
        Some(core) => {
            // taskset execs the server, so the child's pid is the server's.
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string()]).arg(&program);
            command
        }
        None => Command::new(&program),
    };
    command
        .args(&arguments)
        .current_dir(&workdir.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Every request is logged to stderr by the Python-shaped servers; keeping that would measure the pipe.
        .stderr(Stdio::null());
    let shown = format!("{} {}", program.to_string_lossy(), arguments.join(" "));
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start `{shown}`: {error}"))?;
    let receiver = watch_banner(child.stdout.take().expect("stdout is piped"));
    let mut running = Running {
        server,
        port: 0,
        child,
    };
    let port = match fixed_port {
        Some(port) => port,
        None => match receiver.recv_timeout(Duration::from_secs(10)) {
            Ok(port) => port,
            Err(_) => {
                running.stop();
                return Err(format!(
                    "`{shown}` printed no `Serving HTTP on ... port N` line within 10 s; run it by hand to see why"
                ));
            }
        },
    };
    running.port = port;
    let deadline = Instant::now() + Duration::from_secs(10);
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(running);
        }
        if Instant::now() > deadline || matches!(running.child.try_wait(), Ok(Some(_))) {
            running.stop();
            return Err(format!(
                "`{shown}` does not answer on port {port}; run it by hand to see why"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Bytes of the compressed-text scenarios' file.
pub const TEXT_FILE_BYTES: usize = 100 * 1024;

/// [`TEXT_FILE_BYTES`] of text that compresses as prose and markup do (about 3 to 1 with gzip), not as a repeated line:
/// words drawn from a small vocabulary by a fixed pseudo-random sequence.
pub fn compressible_text() -> Vec<u8> {
    const WORDS: [&str; 32] = [
        "the",
        "server",
        "answers",
        "a",
        "request",
        "for",
        "file",
        "with",
        "its",
        "bytes",
        "and",
        "headers",
        "client",
        "reads",
        "response",
        "body",
        "connection",
        "keeps",
        "alive",
        "until",
        "timeout",
        "listing",
        "directory",
        "of",
        "names",
        "sizes",
        "dates",
        "<p>",
        "</p>",
        "index.html",
        "gzip",
        "content",
    ];
    let mut text = Vec::with_capacity(TEXT_FILE_BYTES + 16);
    let mut state: u32 = 0x2545_f491;
    let mut column = 0;
    while text.len() < TEXT_FILE_BYTES {
        // xorshift32: the same text on every run, without a dependency.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let word = WORDS[(state % WORDS.len() as u32) as usize];
        text.extend_from_slice(word.as_bytes());
        column += word.len() + 1;
        if column > 72 {
            text.push(b'\n');
            column = 0;
        } else {
            text.push(b' ');
        }
    }
    text.truncate(TEXT_FILE_BYTES);
    text
}

/// `data` gzipped at the best level, as `gzip -9` makes a precompressed sibling.
fn gzip_best(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

/// One `GET path` before measuring, so a server that answers something other than 200 is reported, not timed.
pub fn probe(port: u16, path: &str) -> Result<(), String> {
    probe_with(port, path, None, None)
}

/// [`probe`] sending `header`, and wanting `expect` among the answer's headers (names in any case).
pub fn probe_with(
    port: u16,
    path: &str,
    header: Option<&str>,
    expect: Option<&str>,
) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|error| format!("cannot connect to port {port}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{}\r\n",
                header
                    .map(|header| format!("{header}\r\n"))
                    .unwrap_or_default()
            )
            .as_bytes(),
        )
        .map_err(|error| format!("cannot send GET {path}: {error}"))?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|error| format!("no answer to GET {path}: {error}"))?;
    let status_line = status_line.trim_end();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(format!("GET {path} answered `{status_line}`"));
    }
    let Some(expect) = expect else {
        return Ok(());
    };
    // The head is bounded: at most 100 lines are read looking for the header.
    for _ in 0..100 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if line.eq_ignore_ascii_case(expect) {
            return Ok(());
        }
    }
    Err(format!("GET {path} answered without `{expect}`"))
}

/// [`probe_with`] the scenario's header over plain HTTP, or a GET over TLS 1.3 for a TLS server, whose protocol and cipher are printed.
pub fn probe_server(
    server: Server,
    workdir: &Workdir,
    port: u16,
    path: &str,
    scenario: &super::scenarios::Scenario,
) -> Result<(), String> {
    if !server.tls() {
        return probe_with(port, path, scenario.header, scenario.expect);
    }
    let script = super::tls::client_script(&workdir.root)?;
    let chosen = super::tls::probe(&script, port, path)?;
    eprintln!("xtask bench: {}: {chosen}", server.describe());
    Ok(())
}

fn binary(binaries: &Binaries, server: Server) -> Result<PathBuf, String> {
    binaries
        .ours(server)
        .ok_or_else(|| "not built yet".to_owned())
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|word| (*word).to_owned()).collect()
}

/// A port nobody listens on now: bind `127.0.0.1:0`, note the port, release it.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port: {error}"))
}

/// The 100-byte file the small-file scenarios and the soak serve: letters, then a newline.
pub fn small_file() -> Vec<u8> {
    (0..100u8)
        .map(|index| {
            if index == 99 {
                b'\n'
            } else {
                b'a' + index % 26
            }
        })
        .collect()
}

/// Drains a server's stdout for its whole life, so a chatty server never blocks on a full pipe,
/// and sends the port of each `Serving HTTP on ... port N` banner it prints.
pub fn watch_banner(stdout: ChildStdout) -> mpsc::Receiver<u16> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = banner_port(&line) {
                let _ = sender.send(port);
            }
        }
    });
    receiver
}

/// The port in `Serving HTTP on <host> port <port> (...) ...`, the banner of Python's servers and ours (`HTTPS` over TLS).
pub fn banner_port(line: &str) -> Option<u16> {
    let line = line.trim();
    let rest = line
        .strip_prefix("Serving HTTP on ")
        .or_else(|| line.strip_prefix("Serving HTTPS on "))?;
    let mut words = rest.split_whitespace();
    words.next()?;
    if words.next()? != "port" {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_from_the_banner() {
        assert_eq!(
            banner_port("Serving HTTP on 127.0.0.1 port 40321 (http://127.0.0.1:40321/) ..."),
            Some(40321)
        );
        assert_eq!(
            banner_port("Serving HTTP on :: port 8000 (http://[::]:8000/) ..."),
            Some(8000)
        );
        assert_eq!(
            banner_port("Serving HTTPS on 127.0.0.1 port 40322 (https://127.0.0.1:40322/) ..."),
            Some(40322)
        );
        assert_eq!(banner_port("Keyboard interrupt received, exiting."), None);
        assert_eq!(banner_port("Serving HTTP on 127.0.0.1 port x"), None);
    }

    fn answer_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request);
            let _ = stream.write_all(answer.as_bytes());
        });
        port
    }

    #[test]
    fn the_probe_wants_a_200() {
        assert_eq!(
            probe(
                answer_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                "/"
            ),
            Ok(())
        );
        assert_eq!(
            probe(answer_once("HTTP/1.0 404 File not found\r\n\r\n"), "/x"),
            Err("GET /x answered `HTTP/1.0 404 File not found`".to_owned())
        );
    }

    #[test]
    fn the_tree_has_what_the_scenarios_ask_for() {
        let workdir = Workdir::create().expect("workdir");
        let www = workdir.www();
        assert_eq!(fs::metadata(www.join("small.txt")).unwrap().len(), 100);
        assert_eq!(
            fs::metadata(www.join("large.bin")).unwrap().len(),
            1024 * 1024
        );
        assert_eq!(
            fs::read_dir(www.join("listing")).unwrap().count(),
            LISTING_ENTRIES
        );
        assert_eq!(
            fs::metadata(www.join("slow.bin")).unwrap().len(),
            SLOW_FILE_BYTES as u64
        );
        let text = fs::read(www.join("gzip/text.txt")).unwrap();
        assert_eq!(text.len(), TEXT_FILE_BYTES);
        assert_eq!(fs::read(www.join("gzip-static/text.txt")).unwrap(), text);
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(
                &fs::read(www.join("gzip-static/text.txt.gz")).unwrap()[..],
            ),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, text);
        let config = fs::read_to_string(workdir.nginx_config(8080, None).unwrap()).unwrap();
        assert!(config.contains("listen 127.0.0.1:8080;"));
        assert!(config.contains("gzip on;") && config.contains("gzip_static on;"));
        assert!(!config.contains("ssl"));
        let pair = Certificate {
            certificate: workdir.root.join("tls/cert.pem"),
            key: workdir.root.join("tls/key.pem"),
        };
        let config = fs::read_to_string(workdir.nginx_config(8443, Some(&pair)).unwrap()).unwrap();
        assert!(config.contains("listen 127.0.0.1:8443 ssl;"), "{config}");
        assert!(config.contains("ssl_protocols TLSv1.3;"), "{config}");
        assert!(config.contains("tls/key.pem;"), "{config}");
        let root = workdir.root.clone();
        drop(workdir);
        assert!(!root.exists());
    }
}
