//! TLS over a connected socket with rustls (ring provider): which certificates to trust, and the handshake. Behind the default `tls` feature.
//!
//! The default trust is the operating system's root certificates (through `rustls-native-certs`), as Python's
//! `ssl.create_default_context()` and curl have it: a CA the administrator installed is trusted, and the list follows
//! the system's security updates rather than this crate's releases. `SSL_CERT_FILE` and `SSL_CERT_DIR` replace it, as with OpenSSL.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};

use crate::certificate::CertificateProblem;
use crate::config::Timeouts;
use crate::error::{Error, Result, TimeoutKind};
use crate::stream::{io_error, Stream};

/// What an HTTPS client trusts: the client side of Python's `ssl.SSLContext`, made into a rustls [`ClientConfig`] by
/// [`client_config`](Self::client_config) and given to [`HttpsConnection::with_context`](crate::HttpsConnection::with_context).
///
/// | Python | Rust |
/// | --- | --- |
/// | `ssl.create_default_context()` | [`TlsConfig::new`] (the system's root certificates) |
/// | `ssl.create_default_context(cafile=path)` | [`TlsConfig::from_ca_file`] (only the file's certificates, as curl's `--cacert`) |
/// | `context.load_verify_locations(cafile=path)` | [`TlsConfig::add_ca_file`] (the file's certificates besides those trusted already) |
/// | `context.check_hostname = False`, `context.verify_mode = ssl.CERT_NONE` | [`TlsConfig::danger_accept_invalid_certs`] |
///
/// ```no_run
/// # fn main() -> Result<(), httpclient::Error> {
/// use httpclient::{Body, Config, HttpsConnection, TlsConfig};
///
/// // A server whose certificate was signed by a private CA.
/// let tls = TlsConfig::from_ca_file("ca.pem")?;
/// let mut conn = HttpsConnection::with_context("internal.example:8443", Config::default(), &tls)?;
/// conn.request("GET", "/", Body::Empty, &[])?;
/// let body = conn.getresponse()?.read(None)?;
/// # Ok(())
/// # }
/// ```
#[doc(alias = "SSLContext")]
#[doc(alias = "create_default_context")]
#[derive(Clone)]
pub struct TlsConfig {
    system_roots: bool,
    ca_certificates: Vec<CertificateDer<'static>>,
    accept_invalid_certs: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TlsConfig")
            .field("system_roots", &self.system_roots)
            .field("ca_certificates", &self.ca_certificates.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfig {
    /// Trusts the operating system's root certificates: Python's `ssl.create_default_context()`.
    ///
    /// They are read once per process, at the first [`client_config`](Self::client_config);
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR`, when set, name them instead (as with OpenSSL).
    pub fn new() -> Self {
        TlsConfig {
            system_roots: true,
            ca_certificates: Vec::new(),
            accept_invalid_certs: false,
        }
    }

    /// Trusts only the CA certificates of the PEM file at `path`, not the system's: Python's
    /// `ssl.create_default_context(cafile=path)`, curl's `--cacert`.
    ///
    /// The file holds one or more `-----BEGIN CERTIFICATE-----` blocks (other blocks, such as keys, are skipped).
    /// A server's own self-signed certificate can be trusted this way, unless it is marked as a CA (see [`Error::Certificate`]).
    ///
    /// # Errors
    ///
    /// [`Error::CaFile`] when the file cannot be read, is not PEM, or holds no usable certificate.
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<Self> {
        TlsConfig {
            system_roots: false,
            ..TlsConfig::new()
        }
        .add_ca_file(path)
    }

    /// Also trusts the CA certificates of the PEM file at `path`: Python's `context.load_verify_locations(cafile=path)`.
    ///
    /// On [`TlsConfig::new`] the system's roots stay trusted besides the file's.
    ///
    /// # Errors
    ///
    /// [`Error::CaFile`] when the file cannot be read, is not PEM, or holds no usable certificate.
    pub fn add_ca_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let failed = |source: io::Error| Error::CaFile {
            path: path.to_path_buf(),
            source,
        };
        let pem = std::fs::read(path).map_err(failed)?;
        let mut found = 0;
        for (index, certificate) in CertificateDer::pem_slice_iter(&pem).enumerate() {
            let certificate = certificate.map_err(|error| failed(invalid_data(error)))?;
            webpki::anchor_from_trusted_cert(&certificate).map_err(|error| {
                failed(invalid_data(format!(
                    "certificate {} is not a usable X.509 certificate ({error:?})",
                    index + 1
                )))
            })?;
            self.ca_certificates.push(certificate);
            found += 1;
        }
        if found == 0 {
            return Err(failed(invalid_data(
                "no certificate in it (a PEM file of -----BEGIN CERTIFICATE----- blocks is expected)",
            )));
        }
        Ok(self)
    }

    /// Also trusts `certificate` (DER), as a CA or as a server's own self-signed certificate: Python's `load_verify_locations(cadata=...)`.
    pub fn add_ca_certificate(mut self, certificate: CertificateDer<'static>) -> Self {
        self.ca_certificates.push(certificate);
        self
    }

    /// Accepts any certificate from any server, for any name, expired or not: Python's `context.check_hostname = False`
    /// with `context.verify_mode = ssl.CERT_NONE`, curl's `-k` / `--insecure`.
    ///
    /// What it gives away: the client no longer knows whom it talks to.
    /// Anyone who can come between it and the server (a network on the path, a forged DNS answer, a proxy) can present a
    /// certificate of their own, read everything sent (passwords, cookies, tokens) and change what comes back.
    /// The encryption then guards only against someone who merely listens.
    /// The handshake is still checked against the certificate the server presents, which proves it holds that certificate's key, not who it is.
    ///
    /// Meant for a test server whose certificate cannot be fixed; to trust a private CA or a self-signed certificate, use [`TlsConfig::from_ca_file`].
    pub fn danger_accept_invalid_certs() -> Self {
        TlsConfig {
            system_roots: false,
            ca_certificates: Vec::new(),
            accept_invalid_certs: true,
        }
    }

    /// Whether this configuration skips certificate verification ([`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs)).
    pub fn accepts_invalid_certs(&self) -> bool {
        self.accept_invalid_certs
    }

    /// The rustls configuration: ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`, and the roots chosen.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] of kind `NotFound` when nothing would be trusted: the system has no root certificate that could be read
    /// and no CA file was given.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        if self.accept_invalid_certs {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            return Ok(config);
        }
        let mut roots = RootCertStore::empty();
        if self.system_roots {
            let system = system_roots();
            roots.add_parsable_certificates(system.certificates.iter().cloned());
            if roots.is_empty() && self.ca_certificates.is_empty() {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no trusted root certificates: none could be read from this system{}; install the system's CA \
                         certificates (the ca-certificates package), set SSL_CERT_FILE, or name a CA file",
                        system.errors
                    ),
                )));
            }
        }
        for certificate in &self.ca_certificates {
            roots.add(certificate.clone())?;
        }
        client_config(roots)
    }
}

fn invalid_data(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// The operating system's root certificates, read once per process.
struct SystemRoots {
    certificates: Vec<CertificateDer<'static>>,
    /// What went wrong while reading them, as ` (first error; second error)`, or empty.
    errors: String,
}

fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        SystemRoots {
            certificates: found.certs,
            errors: if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            },
        }
    })
}

/// A client configuration trusting `roots`, with the ring provider and ALPN `http/1.1`, like Python's
/// `ssl.create_default_context()` plus `set_alpn_protocols(["http/1.1"])`.
///
/// For [`HttpsConnection::with_tls_config`](crate::HttpsConnection::with_tls_config) with roots of your own, such as
/// Mozilla's list compiled in by the `webpki-roots` crate; [`TlsConfig`] covers the system's roots and CA files.
pub fn client_config(roots: RootCertStore) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The verifier of [`TlsConfig::danger_accept_invalid_certs`]: every certificate passes; handshake signatures are still checked against it.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS half of an HTTPS connection: the rustls configuration and the name to verify.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    /// `None` for the default ([`TlsConfig::new`]), built at the first connection so that making a connection
    /// value never fails on a system without root certificates, as in Python.
    pub(crate) config: Option<Arc<ClientConfig>>,
    pub(crate) server_name: Option<String>,
}

/// The configuration of [`TlsConfig::new`], built once.
fn default_config() -> Result<Arc<ClientConfig>> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    let config = Arc::new(TlsConfig::new().client_config()?);
    Ok(DEFAULT.get_or_init(|| config).clone())
}

/// Wraps a connected socket in TLS and completes the handshake, verifying the server as `host` (or the name set).
pub(crate) fn wrap(
    settings: &TlsSettings,
    mut tcp: TcpStream,
    host: &str,
    timeouts: Timeouts,
) -> Result<Stream> {
    let name = settings.server_name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_string()).map_err(|error| {
        Error::InvalidUrl(format!(
            "not a valid server name for tls: {name:?} ({error})"
        ))
    })?;
    let config = match &settings.config {
        Some(config) => config.clone(),
        None => default_config()?,
    };
    let mut connection = ClientConnection::new(config, server_name)?;
    // The handshake counts as connecting.
    if timeouts.connect.is_some() {
        tcp.set_read_timeout(timeouts.connect)?;
        tcp.set_write_timeout(timeouts.connect)?;
    }
    while connection.is_handshaking() {
        if let Err(error) = connection.complete_io(&mut tcp) {
            return Err(handshake_error(error, name, &tcp));
        }
    }
    tcp.set_read_timeout(timeouts.read)?;
    tcp.set_write_timeout(timeouts.write)?;
    Ok(Stream::Tls(Box::new(StreamOwned::new(connection, tcp))))
}

/// Names what failed in the handshake: the certificate, the TLS session, or the socket under it.
fn handshake_error(error: io::Error, server: &str, tcp: &TcpStream) -> Error {
    match io_error(error, TimeoutKind::Connect) {
        Error::Tls(source) => match CertificateProblem::of(&source) {
            Some(problem) => Error::Certificate {
                server: server.to_owned(),
                problem,
                source,
            },
            None => Error::Handshake {
                server: server.to_owned(),
                source,
            },
        },
        // The server closed or reset the connection before the session was set up.
        Error::Io(source) => Error::Connect {
            address: match tcp.peer_addr() {
                Ok(address) if server.contains(':') => format!("[{server}]:{}", address.port()),
                Ok(address) => format!("{server}:{}", address.port()),
                Err(_) => server.to_owned(),
            },
            source,
        },
        other => other,
    }
}
