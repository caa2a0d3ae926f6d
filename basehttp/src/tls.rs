//! HTTPS with rustls (Python 3.14's `HTTPSServer`): the server settings from PEM files, the TLS side of a loop-driven connection,
//! and a blocking TLS connection for the modes that give each connection a thread.
//!
//! rustls is sans-IO: records read from the socket are fed in with `read_tls` and `process_new_packets`, plaintext taken out
//! with `reader`, and what it has to send is drained with `write_tls`, so a connection on socketserver's readiness loop needs no
//! thread of its own while the handshake or a request is on its way.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use socketserver::Stream;

use crate::buffer::InputBuffer;
use crate::connection::{serve_connection, ConnectionInfo};
use crate::handler::BaseHttpRequestHandler;

/// The protocols offered by ALPN: HTTP/1.1 first, and HTTP/1.0 for clients that ask only for it (`curl --http1.0`).
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"http/1.1", b"http/1.0"];

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Whether PEM text holds an encrypted private key (PKCS#8 `ENCRYPTED PRIVATE KEY` or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED`).
fn is_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|window| window == needle);
    contains(b"ENCRYPTED PRIVATE KEY") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// The TLS settings of Python's `HTTPSServer(certfile, keyfile, password)`: the certificate chain from `certificate` (PEM),
/// the key from `key` or, without it, from the certificate file, TLS 1.2 and 1.3, and ALPN `http/1.1` and `http/1.0`.
///
/// rustls reads unencrypted keys only: a password is accepted for an unencrypted key (as Python ignores it then), and an encrypted
/// key is refused with advice to decrypt it once (`openssl pkey -in key.pem -out plain.pem`).
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
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|name| name.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A new server session for one connection.
pub(crate) fn session(config: &Arc<ServerConfig>) -> io::Result<ServerConnection> {
    ServerConnection::new(Arc::clone(config)).map_err(|error| invalid(error.to_string()))
}

/// Writes the records the session has to send while the socket takes them; false when it took no more (`WouldBlock`).
pub(crate) fn write_records(
    tls: &mut ServerConnection,
    stream: &Stream,
    moved: &mut u64,
) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(&mut &*stream) {
            Ok(count) => *moved += count as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// What reading a TLS connection without waiting gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Plaintext bytes appended to the input.
    Plaintext(usize),
    /// The client ended the session (with or without close_notify, which is an ordinary end here).
    End,
    /// Nothing more now; `records` tells whether TLS records (a handshake message, a partial record) came in meanwhile.
    Nothing { records: bool },
}

/// Reads what has arrived: records from the socket into the session, then plaintext into `input`; never waits.
///
/// A session error (a bad handshake, a forged record) queues the alert to send and is returned as `InvalidData`.
pub(crate) fn receive(
    tls: &mut ServerConnection,
    stream: &Stream,
    input: &mut InputBuffer,
) -> io::Result<Received> {
    let mut records = false;
    loop {
        match input.read_with(|spare| tls.reader().read(spare)) {
            Ok(0) => return Ok(Received::End),
            Ok(count) => return Ok(Received::Plaintext(count)),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(Received::End),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        match tls.read_tls(&mut &*stream) {
            Ok(0) => {
                // The socket ended: the reader now says whether close_notify came first; either way the session is over.
                return Ok(Received::End);
            }
            Ok(_) => {
                records = true;
                if let Err(error) = tls.process_new_packets() {
                    return Err(invalid(format!("TLS: {error}")));
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                return Ok(Received::Nothing { records })
            }
            Err(error) => return Err(error),
        }
    }
}

/// Serves a connection over TLS on the calling thread, from start to end, with the socket's blocking reads and writes
/// (the modes that give each connection a thread; the readiness mode drives TLS on its loop instead).
pub(crate) fn serve_blocking(
    handler: &dyn BaseHttpRequestHandler,
    config: &Arc<ServerConfig>,
    info: ConnectionInfo,
) -> io::Result<()> {
    let Some(stream) = info.socket.clone() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TLS needs the socket",
        ));
    };
    let mut session = StreamOwned::new(session(config)?, stream);
    let result = serve_connection(
        handler,
        &mut session,
        ConnectionInfo {
            plain: false,
            ..info
        },
    );
    // A clean TLS close, so the client can tell the end of the stream from a truncation.
    session.conn.send_close_notify();
    let _ = session.flush();
    match result {
        // A client that ends the session without close_notify has simply gone, as a plain client closing would.
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        other => other,
    }
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
        assert_eq!(
            config.alpn_protocols,
            vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()]
        );
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
