//! TLS over a connected socket with rustls (ring provider): which certificates to trust, and the handshake. Behind the default `tls` feature.

use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::ServerName;

use crate::config::Timeouts;
use crate::error::{Error, Result, TimeoutKind};
use crate::stream::{io_error, Stream};

/// The TLS half of an HTTPS connection: the rustls configuration and the name to verify.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_name: Option<String>,
}

/// The root certificates from the `webpki-roots` crate (Mozilla's list, compiled in).
pub fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The operating system's root certificates (via `rustls-native-certs`); unreadable ones are skipped.
pub fn native_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no usable root certificates found on this system",
        )));
    }
    Ok(roots)
}

/// A client configuration trusting `roots`, with the ring provider and ALPN `http/1.1`, like Python's
/// `ssl.create_default_context()` plus `set_alpn_protocols(["http/1.1"])`.
pub fn client_config(roots: RootCertStore) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The configuration used when none is given: webpki roots, built once.
pub(crate) fn default_config() -> Result<Arc<ClientConfig>> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    let config = Arc::new(client_config(webpki_roots())?);
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
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| Error::InvalidUrl(format!("not a valid server name for tls: {name:?}")))?;
    let mut connection = ClientConnection::new(settings.config.clone(), server_name)?;
    // The handshake counts as connecting.
    if timeouts.connect.is_some() {
        tcp.set_read_timeout(timeouts.connect)?;
        tcp.set_write_timeout(timeouts.connect)?;
    }
    while connection.is_handshaking() {
        connection
            .complete_io(&mut tcp)
            .map_err(|error| io_error(error, TimeoutKind::Connect))?;
    }
    tcp.set_read_timeout(timeouts.read)?;
    tcp.set_write_timeout(timeouts.write)?;
    Ok(Stream::Tls(Box::new(StreamOwned::new(connection, tcp))))
}
