//! `HttpsConnection`: Python's `HTTPSConnection`, an [`HttpConnection`] whose socket speaks TLS. Behind the default `tls` feature.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use rustls::ClientConfig;

use crate::config::{Config, HTTPS_PORT};
use crate::connection::HttpConnection;
use crate::error::Result;
use crate::stream::Stream;
use crate::tls::{TlsConfig, TlsSettings};

/// An HTTPS connection, Python's `http.client.HTTPSConnection`: an [`HttpConnection`] whose socket speaks TLS.
///
/// Certificates are verified against the system's root certificates (or those of a [`TlsConfig`]) and the host name
/// (or the name given to [`set_server_name`](Self::set_server_name)); ALPN offers `http/1.1`.
/// A refused certificate is [`Error::Certificate`](crate::Error::Certificate), whose message says what is wrong and what to do.
/// Every method of [`HttpConnection`] is available through `Deref`.
#[doc(alias = "HTTPSConnection")]
pub struct HttpsConnection {
    inner: HttpConnection,
}

impl fmt::Debug for HttpsConnection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("HttpsConnection")
            .field(&self.inner)
            .finish()
    }
}

impl HttpsConnection {
    /// Python's `HTTPSConnection(host)`: port 443 unless `host` names one; the system's root certificates ([`TlsConfig::new`]),
    /// read at the first connection.
    pub fn new(host: &str) -> Result<Self> {
        Self::with_config(host, Config::default())
    }

    /// With the connection options of [`Config`] and the system's root certificates.
    pub fn with_config(host: &str, config: Config) -> Result<Self> {
        Self::with_settings(host, config, None)
    }

    /// Python's `HTTPSConnection(host, context=context)`: with what `tls` trusts (a CA file, the system's roots, or nothing checked).
    ///
    /// # Errors
    ///
    /// Those of [`TlsConfig::client_config`], besides an invalid host.
    pub fn with_context(host: &str, config: Config, tls: &TlsConfig) -> Result<Self> {
        Self::with_settings(host, config, Some(Arc::new(tls.client_config()?)))
    }

    /// With a rustls configuration of your own (for client certificates, other roots, other protocol versions).
    ///
    /// Set `alpn_protocols` to `[b"http/1.1"]` in it to offer ALPN, as [`TlsConfig::client_config`] and [`client_config`](crate::client_config) do.
    pub fn with_tls_config(host: &str, config: Config, tls: Arc<ClientConfig>) -> Result<Self> {
        Self::with_settings(host, config, Some(tls))
    }

    fn with_settings(host: &str, config: Config, tls: Option<Arc<ClientConfig>>) -> Result<Self> {
        let mut inner = HttpConnection::with_default_port(host, config, HTTPS_PORT)?;
        inner.tls = Some(TlsSettings {
            config: tls,
            server_name: None,
        });
        Ok(HttpsConnection { inner })
    }

    /// Verifies the server's certificate as `name` instead of the host connected to (Python's `server_hostname`).
    pub fn set_server_name(&mut self, name: &str) {
        if let Some(settings) = &mut self.inner.tls {
            settings.server_name = Some(name.to_string());
        }
    }

    /// The protocol agreed by ALPN on the open connection (`b"http/1.1"`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.inner.stream {
            Some(Stream::Tls(tls)) => tls.conn.alpn_protocol(),
            _ => None,
        }
    }

    /// The plain connection type, which keeps its TLS settings.
    pub fn into_inner(self) -> HttpConnection {
        self.inner
    }
}

impl Deref for HttpsConnection {
    type Target = HttpConnection;

    fn deref(&self) -> &HttpConnection {
        &self.inner
    }
}

impl DerefMut for HttpsConnection {
    fn deref_mut(&mut self) -> &mut HttpConnection {
        &mut self.inner
    }
}
