//! `Url` and the one-call helpers [`get`] and [`request`]: the shape of Python's `urlopen(url).read()`, built on `HttpConnection`.

use crate::config::Config;
use crate::connection::{Body, HttpConnection};
use crate::error::{Error, Result};
use crate::response::HttpResponse;

/// An `http://` or `https://` URL split the way a connection needs it, like the parts of Python's `urlsplit` that `http.client` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`, lowercased.
    pub scheme: String,
    /// `host`, `host:port` or `[v6]:port`, as given to [`HttpConnection::new`].
    pub netloc: String,
    /// The request target: path and query, `/` when empty; the fragment is dropped.
    pub target: String,
}

impl Url {
    /// Splits `url`; anything but `http://` or `https://` with a host, or a URL with user info, is [`Error::InvalidUrl`].
    pub fn parse(url: &str) -> Result<Url> {
        let invalid = |why: &str| Error::InvalidUrl(format!("{why}: {url:?}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("unsupported scheme"));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (netloc, target) = rest.split_at(end);
        if netloc.is_empty() {
            return Err(invalid("no host"));
        }
        if netloc.contains('@') {
            return Err(invalid("user info is not supported"));
        }
        let target = match target {
            "" => "/".to_string(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_string(),
        };
        crate::parse::validate_path(&target)?;
        Ok(Url {
            scheme,
            netloc: netloc.to_string(),
            target,
        })
    }

    /// A connection to this URL's host: plain for `http`, TLS (with the system's root certificates) for `https`.
    pub fn connection(&self, config: Config) -> Result<HttpConnection> {
        if self.scheme == "https" {
            #[cfg(feature = "tls")]
            return Ok(
                crate::https::HttpsConnection::with_config(&self.netloc, config)?.into_inner(),
            );
            #[cfg(not(feature = "tls"))]
            return Err(Error::InvalidUrl(
                "https needs httpclient's tls feature".to_string(),
            ));
        }
        HttpConnection::with_config(&self.netloc, config)
    }

    /// Like [`connection`](Self::connection), trusting what `tls` trusts when the scheme is `https`
    /// (Python's `urlopen(url, context=context)`).
    #[cfg(feature = "tls")]
    pub fn connection_with_context(
        &self,
        config: Config,
        tls: &crate::tls::TlsConfig,
    ) -> Result<HttpConnection> {
        if self.scheme == "https" {
            return Ok(
                crate::https::HttpsConnection::with_context(&self.netloc, config, tls)?
                    .into_inner(),
            );
        }
        HttpConnection::with_config(&self.netloc, config)
    }
}

/// Fetches `url` with GET and returns the response, its body still to be read (like Python's `urlopen(url)`).
///
/// The response owns its connection; for several requests to one server use [`HttpConnection`] directly.
pub fn get(url: &str) -> Result<HttpResponse<'static>> {
    request("GET", url, Body::Empty, &[])
}

/// Sends one request to `url` on a new connection and returns the response.
pub fn request<'b>(
    method: &str,
    url: &str,
    body: impl Into<Body<'b>>,
    headers: &[(&str, &str)],
) -> Result<HttpResponse<'static>> {
    let url = Url::parse(url)?;
    let mut connection = url.connection(Config::default())?;
    connection.request(method, &url.target, body, headers)?;
    connection.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        let url = Url::parse("HTTP://example.com:8080/a/b?q=1#frag").unwrap();
        assert_eq!(
            (
                url.scheme.as_str(),
                url.netloc.as_str(),
                url.target.as_str()
            ),
            ("http", "example.com:8080", "/a/b?q=1")
        );
        assert_eq!(Url::parse("https://[::1]").unwrap().target, "/");
        assert_eq!(Url::parse("http://h?x").unwrap().target, "/?x");
        for bad in [
            "example.com/",
            "ftp://h/",
            "http:///p",
            "http://u:p@h/",
            "http://h/a b",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
