//! HTTPS for the command line (Python 3.14's `--tls-cert`, `--tls-key`, `--tls-password-file`), with rustls over basehttp's connection loop.
//!
//! Python before 3.14 has no TLS on the command line at all; this serves any [`BaseHttpRequestHandler`] over TLS 1.2 and 1.3 with ALPN `http/1.1`.

use std::cell::RefCell;
use std::fs;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use basehttp::{serve_connection, BaseHttpRequestHandler, ConnectionInfo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use socketserver::{Stream, StreamRequest, StreamRequestHandler, TcpServer};

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Whether PEM text holds an encrypted private key (PKCS#8 `ENCRYPTED PRIVATE KEY` or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED`).
fn is_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|window| window == needle);
    contains(b"ENCRYPTED PRIVATE KEY") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// The TLS settings of Python's `HTTPSServer(certfile, keyfile, password)`: the certificate chain from `certificate` (PEM), the key from `key` or, without it, from the certificate file, and ALPN `http/1.1`.
///
/// rustls reads unencrypted keys only: a password is accepted for an unencrypted key (as Python ignores it then), and an encrypted key is refused with advice to decrypt it once (`openssl pkey -in key.pem -out plain.pem`).
///
/// # Errors
///
/// An unreadable file, a file without a certificate or key, an encrypted key, or a key that does not match the certificate.
pub fn tls_server_config(
    certificate: &Path,
    key: Option<&Path>,
    password: Option<&str>,
) -> io::Result<Arc<ServerConfig>> {
    let chain_pem = fs::read(certificate)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|error| invalid(format!("{}: {error}", certificate.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "{}: no certificate found",
            certificate.display()
        )));
    }
    let key_path = key.unwrap_or(certificate);
    let key_pem = if key.is_some() {
        fs::read(key_path)?
    } else {
        chain_pem
    };
    if is_encrypted_key(&key_pem) {
        let advice = if password.is_some() {
            "password-protected keys are not supported; decrypt it once with `openssl pkey -in KEY -out PLAIN`"
        } else {
            "the key is encrypted and no --tls-password-file was given"
        };
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{}: {advice}", key_path.display()),
        ));
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|error| invalid(format!("{}: {error}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| invalid(format!("{}: {error}", key_path.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs a [`BaseHttpRequestHandler`] over TLS on each connection of a socketserver TCP server (Python 3.14's `HTTPSServer`).
#[doc(alias = "HTTPSServer")]
#[derive(Debug)]
pub struct HttpsHandler<H> {
    handler: H,
    config: Arc<ServerConfig>,
}

impl<H: BaseHttpRequestHandler> HttpsHandler<H> {
    /// Wraps `handler` with the TLS settings `config` (see [`tls_server_config`]).
    pub fn new(handler: H, config: Arc<ServerConfig>) -> Self {
        Self { handler, config }
    }

    /// The wrapped handler.
    pub fn get_ref(&self) -> &H {
        &self.handler
    }
}

/// One TLS session shared by the connection loop's reader and writer, which take turns on one thread.
type Session = Rc<RefCell<StreamOwned<ServerConnection, Stream>>>;

/// One direction of a TLS session, so basehttp's loop can hold a reader and a writer.
struct SessionHalf(Session);

impl Read for SessionHalf {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buffer)
    }
}

impl Write for SessionHalf {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

impl<H: BaseHttpRequestHandler> StreamRequestHandler for HttpsHandler<H> {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let stream = request.request.clone();
        let connection = ServerConnection::new(Arc::clone(&self.config))
            .map_err(|error| invalid(error.to_string()))?;
        let session: Session = Rc::new(RefCell::new(StreamOwned::new(connection, stream.clone())));
        let info = ConnectionInfo {
            client_address: request.client_address.clone(),
            server_address: request.server_address.clone(),
            socket: Some(stream),
            plain: false,
        };
        let result = serve_connection(
            &self.handler,
            SessionHalf(Rc::clone(&session)),
            SessionHalf(Rc::clone(&session)),
            info,
        );
        // A clean TLS close, so the client can tell the end of the stream from a truncation.
        let mut session = session.borrow_mut();
        session.conn.send_close_notify();
        let _ = session.flush();
        result
    }

    fn disable_nagle_algorithm(&self) -> bool {
        true
    }
}

/// Serves `server` until SIGINT (Ctrl-C), then prints Python's `Keyboard interrupt received, exiting.` and returns `Ok(true)`.
///
/// basehttp's `serve_until_interrupted` does this for an `HttpServer`; this is the same for the TCP server under [`HttpsHandler`].
/// `Ok(false)` means the loop stopped some other way.
///
/// # Errors
///
/// An error from installing the signal handler or from the serving loop.
pub fn serve_tcp_until_interrupted(
    server: &TcpServer,
    poll_interval: Duration,
) -> io::Result<bool> {
    let (mut receiver, sender) = UnixStream::pair()?;
    let signal = signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, sender)?;
    let waker = receiver.try_clone()?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let shutdown = server.shutdown_handle();
    let watcher = {
        let interrupted = Arc::clone(&interrupted);
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            if matches!(receiver.read(&mut byte), Ok(1)) {
                interrupted.store(true, Ordering::SeqCst);
                shutdown.shutdown();
            }
        })
    };
    let result = server.serve_forever(poll_interval);
    signal_hook::low_level::unregister(signal);
    // End of file wakes the watcher when the loop stopped for another reason.
    let _ = waker.shutdown(Shutdown::Both);
    let _ = watcher.join();
    result?;
    let interrupted = interrupted.load(Ordering::SeqCst);
    if interrupted {
        let _ = writeln!(io::stdout(), "\nKeyboard interrupt received, exiting.");
    }
    Ok(interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(directory: &Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let certificate = directory.join("cert.pem");
        let key = directory.join("key.pem");
        fs::write(&certificate, generated.cert.pem()).unwrap();
        fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        (certificate, key, generated.signing_key.serialize_pem())
    }

    #[test]
    fn loads_certificate_and_key() {
        let directory = tempfile::tempdir().unwrap();
        let (certificate, key, key_pem) = write_pair(directory.path());
        let config = tls_server_config(&certificate, Some(&key), None).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // A password for an unencrypted key is ignored, as in Python.
        assert!(tls_server_config(&certificate, Some(&key), Some("secret")).is_ok());
        // Without --tls-key the key is read from the certificate file.
        let combined = directory.path().join("combined.pem");
        let mut text = fs::read_to_string(&certificate).unwrap();
        text.push_str(&key_pem);
        fs::write(&combined, text).unwrap();
        assert!(tls_server_config(&combined, None, None).is_ok());
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let directory = tempfile::tempdir().unwrap();
        let (certificate, key, _) = write_pair(directory.path());
        assert!(tls_server_config(&certificate, None, None).is_err());
        assert!(tls_server_config(&key, Some(&key), None).is_err());
        assert!(tls_server_config(&directory.path().join("missing"), None, None).is_err());
        let encrypted = directory.path().join("encrypted.pem");
        fs::write(
            &encrypted,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = tls_server_config(&certificate, Some(&encrypted), Some("pw")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(error.to_string().contains("openssl pkey"), "{error}");
    }
}
