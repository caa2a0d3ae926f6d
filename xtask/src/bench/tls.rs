//! TLS for the harness: a self-signed certificate made with `openssl` at run time, and a small client on Python's `ssl`
//! module for what wrk cannot do (a probe that checks the protocol, connections held idle, a ClientHello to dribble).
//!
//! Both tools come from Debian and the harness already needs python3, so xtask itself gains no TLS library.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The protocol every TLS measurement asks for: the probe refuses a server that does not speak it.
pub const PROTOCOL: &str = "TLSv1.3";

/// A certificate and its unencrypted key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// The `openssl` words that make a self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, valid two days.
///
/// P-256 is what both rustls (ring) and OpenSSL sign fastest, so neither side of a comparison is handicapped by the key.
fn openssl_arguments(certificate: &Path, key: &Path) -> Vec<String> {
    let mut words: Vec<String> = [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
    ]
    .iter()
    .map(|word| (*word).to_owned())
    .collect();
    words.push(key.to_string_lossy().into_owned());
    words.push("-out".to_owned());
    words.push(certificate.to_string_lossy().into_owned());
    words
}

/// `directory/tls/cert.pem` and `key.pem`, made on first use and reused after.
pub fn self_signed(directory: &Path) -> Result<Certificate, String> {
    let tls = directory.join("tls");
    let pair = Certificate {
        certificate: tls.join("cert.pem"),
        key: tls.join("key.pem"),
    };
    if pair.certificate.is_file() && pair.key.is_file() {
        return Ok(pair);
    }
    fs::create_dir_all(&tls)
        .map_err(|error| format!("cannot create {}: {error}", tls.display()))?;
    let output = Command::new("openssl")
        .args(openssl_arguments(&pair.certificate, &pair.key))
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run openssl: {error}"))?;
    if !output.status.success() || !pair.certificate.is_file() || !pair.key.is_file() {
        return Err(format!(
            "openssl could not make a certificate: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(pair)
}

/// The client. Modes:
/// - `get PORT PATH TIMEOUT`: one GET on a fresh TLS 1.3 connection; prints `answered STATUS VERSION CIPHER SECONDS` or `failed SECONDS REASON`.
/// - `idle PORT PATH COUNT LIMIT`: up to COUNT connections, each a handshake and one answered GET, held open, opening
///   none after LIMIT seconds or 50 failures; prints `held N SECONDS FAILURES FIRST-FAILURE` and keeps them until its stdin closes.
/// - `hello`: prints the hex of the ClientHello this client would send.
const CLIENT: &str = r#"import socket, ssl, sys, time

def context():
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The certificate is the run's own self-signed one; what is measured is the server, not verification.
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    tls.minimum_version = ssl.TLSVersion.TLSv1_3
    tls.set_alpn_protocols(["http/1.1"])
    return tls

def get(connection, path):
    connection.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: xtask\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise EOFError("closed before the answer's head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            raise EOFError("answer cut short")
        body += chunk
    return status

def connect(tls, port, timeout):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return tls.wrap_socket(raw, server_hostname="localhost")

mode = sys.argv[1]
if mode == "hello":
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        session.do_handshake()
    except ssl.SSLWantReadError:
        pass
    print(outgoing.read().hex())
elif mode == "get":
    port, path, timeout = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    started = time.monotonic()
    try:
        with connect(context(), port, timeout) as connection:
            status = get(connection, path)
            print("answered %d %s %s %.6f" % (status, connection.version(), connection.cipher()[0], time.monotonic() - started))
    except Exception as error:
        print("failed %.6f %s" % (time.monotonic() - started, repr(error)))
elif mode == "idle":
    port, path, count, limit = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    tls = context()
    held, failures, first = [], 0, "-"
    started = time.monotonic()
    while len(held) < count and failures < 50 and time.monotonic() - started < limit:
        try:
            connection = connect(tls, port, 10)
            status = get(connection, path)
            if status != 200:
                raise ValueError("answered %d" % status)
            held.append(connection)
        except Exception as error:
            failures += 1
            if first == "-":
                first = repr(error)
    print("held %d %.3f %d %s" % (len(held), time.monotonic() - started, failures, first), flush=True)
    sys.stdin.read()
"#;

/// Writes the client script into `directory` (once) and returns its path.
pub fn client_script(directory: &Path) -> Result<PathBuf, String> {
    let path = directory.join("tls_client.py");
    if !path.is_file() {
        fs::write(&path, CLIENT)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(path)
}

/// `python3 SCRIPT WORDS...`; it runs where this process may run (the stall checks pin themselves to the load core).
fn python(script: &Path, words: &[String]) -> Command {
    let mut command = Command::new("python3");
    command.arg(script).args(words);
    command
}

/// What one `get` saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Get {
    Answered {
        status: u16,
        protocol: String,
        cipher: String,
        elapsed: Duration,
    },
    Failed {
        elapsed: Duration,
        reason: String,
    },
}

/// Reads the `get` mode's line.
pub fn parse_get(line: &str) -> Option<Get> {
    let mut words = line.split_whitespace();
    match words.next()? {
        "answered" => {
            let status = words.next()?.parse().ok()?;
            let protocol = words.next()?.to_owned();
            let cipher = words.next()?.to_owned();
            let elapsed = Duration::try_from_secs_f64(words.next()?.parse().ok()?).ok()?;
            Some(Get::Answered {
                status,
                protocol,
                cipher,
                elapsed,
            })
        }
        "failed" => {
            let elapsed = Duration::try_from_secs_f64(words.next()?.parse().ok()?).ok()?;
            Some(Get::Failed {
                elapsed,
                reason: words.collect::<Vec<_>>().join(" "),
            })
        }
        _ => None,
    }
}

/// One GET of `path` over a fresh TLS 1.3 connection, giving up after `timeout`.
pub fn get(script: &Path, port: u16, path: &str, timeout: Duration) -> Result<Get, String> {
    let words = [
        "get".to_owned(),
        port.to_string(),
        path.to_owned(),
        format!("{:.3}", timeout.as_secs_f64()),
    ];
    let output = python(script, &words)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run the Python TLS client: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_get(text.trim()).ok_or_else(|| {
        format!(
            "the Python TLS client said {:?} {:?}",
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// A GET before measuring: the server must answer 200 over TLS 1.3. Returns the protocol and cipher it chose.
pub fn probe(script: &Path, port: u16, path: &str) -> Result<String, String> {
    match get(script, port, path, Duration::from_secs(5))? {
        Get::Answered {
            status: 200,
            protocol,
            cipher,
            ..
        } if protocol == PROTOCOL => Ok(format!("{protocol} {cipher}")),
        Get::Answered {
            status, protocol, ..
        } => Err(format!(
            "GET {path} over TLS answered {status} with {protocol} (wanted 200 with {PROTOCOL})"
        )),
        Get::Failed { reason, .. } => Err(format!("GET {path} over TLS failed: {reason}")),
    }
}

/// The bytes of a real ClientHello (TLS 1.3 only, ALPN http/1.1), as Python's OpenSSL sends it.
pub fn client_hello(script: &Path) -> Result<Vec<u8>, String> {
    let output = python(script, &["hello".to_owned()])
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run the Python TLS client: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    from_hex(text.trim())
        .filter(|bytes| bytes.len() > 5 && bytes[0] == 0x16)
        .ok_or_else(|| {
            format!(
                "no ClientHello from the Python TLS client: {:?}",
                text.trim()
            )
        })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

/// Connections held open by the Python client, each after a handshake and one answered GET; closed when dropped.
#[derive(Debug)]
pub struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    pub count: usize,
    pub seconds: f64,
    pub failures: usize,
    pub first_failure: Option<String>,
}

/// Reads the `idle` mode's line: `held N SECONDS FAILURES FIRST-FAILURE`.
fn parse_held(line: &str) -> Option<(usize, f64, usize, Option<String>)> {
    let mut words = line.split_whitespace();
    if words.next()? != "held" {
        return None;
    }
    let count = words.next()?.parse().ok()?;
    let seconds = words.next()?.parse().ok()?;
    let failures = words.next()?.parse().ok()?;
    let first: Vec<&str> = words.collect();
    let first = match first.as_slice() {
        [] | ["-"] => None,
        words => Some(words.join(" ")),
    };
    Some((count, seconds, failures, first))
}

/// Opens `count` idle TLS connections to `port` from a Python process, opening none after `limit`; returns once they are held.
pub fn hold_idle(
    script: &Path,
    port: u16,
    path: &str,
    count: usize,
    limit: Duration,
) -> Result<Held, String> {
    let words = [
        "idle".to_owned(),
        port.to_string(),
        path.to_owned(),
        count.to_string(),
        format!("{:.1}", limit.as_secs_f64()),
    ];
    let mut child = python(script, &words)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run the Python TLS client: {error}"))?;
    let stdin = child.stdin.take();
    let stdout: ChildStdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let mut held = Held {
        child,
        stdin,
        count: 0,
        seconds: 0.0,
        failures: 0,
        first_failure: None,
    };
    match read.ok().and_then(|_| parse_held(&line)) {
        Some((count, seconds, failures, first_failure)) => {
            held.count = count;
            held.seconds = seconds;
            held.failures = failures;
            held.first_failure = first_failure;
            Ok(held)
        }
        None => Err(format!(
            "the Python TLS client did not report its connections: {:?}",
            line.trim()
        )),
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // End of file on its stdin lets the client leave, closing every connection.
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_clients_lines() {
        assert_eq!(
            parse_get("answered 200 TLSv1.3 TLS_AES_256_GCM_SHA384 0.001250"),
            Some(Get::Answered {
                status: 200,
                protocol: "TLSv1.3".into(),
                cipher: "TLS_AES_256_GCM_SHA384".into(),
                elapsed: Duration::from_micros(1250),
            })
        );
        assert_eq!(
            parse_get(
                "failed 7.500000 TimeoutError('_ssl.c:990: The handshake operation timed out')"
            ),
            Some(Get::Failed {
                elapsed: Duration::from_millis(7500),
                reason: "TimeoutError('_ssl.c:990: The handshake operation timed out')".into(),
            })
        );
        assert_eq!(parse_get("Traceback (most recent call last):"), None);
        assert_eq!(parse_get(""), None);
        assert_eq!(
            parse_held("held 1000 1.234 0 -"),
            Some((1000, 1.234, 0, None))
        );
        assert_eq!(
            parse_held("held 998 2.5 2 ConnectionResetError(104, 'Connection reset by peer')"),
            Some((
                998,
                2.5,
                2,
                Some("ConnectionResetError(104, 'Connection reset by peer')".into())
            ))
        );
        assert_eq!(parse_held("holding"), None);
    }

    #[test]
    fn reads_hex() {
        assert_eq!(
            from_hex("16030100ff"),
            Some(vec![0x16, 0x03, 0x01, 0x00, 0xff])
        );
        assert_eq!(from_hex("1"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(""), Some(Vec::new()));
    }

    /// A fresh directory under the system's temporary one, removed by the caller.
    fn scratch(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("xtask-tls-{name}-{}", std::process::id()));
        fs::create_dir_all(&directory).unwrap();
        directory
    }

    // Both tools are installed by the tasks that need them; a bare checkout without them has nothing to check here.
    #[test]
    fn makes_a_certificate_and_a_client_hello_when_the_tools_are_there() {
        let directory = scratch("tools");
        if crate::shell::have("openssl") {
            let pair = self_signed(&directory).unwrap();
            let certificate = fs::read_to_string(&pair.certificate).unwrap();
            assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(fs::read_to_string(&pair.key)
                .unwrap()
                .contains("PRIVATE KEY-----"));
            // Made once, then reused.
            assert_eq!(self_signed(&directory).unwrap(), pair);
        }
        if crate::shell::have("python3") {
            let script = client_script(&directory).unwrap();
            let hello = client_hello(&script).unwrap();
            // A handshake record (22) carrying a ClientHello (1) whose length matches the record's.
            assert_eq!(hello[0], 0x16);
            assert_eq!(hello[5], 0x01);
            let record = usize::from(hello[3]) << 8 | usize::from(hello[4]);
            assert_eq!(hello.len(), 5 + record);
        }
        fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn asks_openssl_for_a_p256_certificate_for_the_loopback() {
        let words = openssl_arguments(Path::new("/t/cert.pem"), Path::new("/t/key.pem"));
        let text = words.join(" ");
        assert!(text.starts_with("req -x509 -newkey ec"), "{text}");
        assert!(text.contains("ec_paramgen_curve:prime256v1"), "{text}");
        assert!(text.contains("IP:127.0.0.1"), "{text}");
        assert!(
            text.ends_with("-keyout /t/key.pem -out /t/cert.pem"),
            "{text}"
        );
    }
}
