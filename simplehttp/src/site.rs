//! What an operator adds around a handler from the command line: authentication, error pages of their own,
//! headers on every response, and CORS.
//!
//! [`Site`] wraps any handler, as [`basehttp::Authenticated`] does: the `end_headers` hook adds the headers to every
//! answer (files, redirects, listings, errors, refusals), the `send_error` hook sends the operator's pages, and each method
//! passes the CORS preflight and the [`Authenticator`] before the handler sees it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use basehttp::{Authenticator, BaseHttpRequestHandler, HttpRequest};

/// Which origins may read the answers from a browser (`--cors [ORIGIN]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// Any origin: `Access-Control-Allow-Origin: *` on every answer.
    AnyOrigin,
    /// These origins (`https://example.com`), echoed back to a request from one of them, with credentials allowed.
    Origins(Vec<String>),
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`; `None` when that origin is not allowed.
    fn allow_origin<'a>(&'a self, origin: Option<&'a str>) -> Option<&'a str> {
        match self {
            Cors::AnyOrigin => Some("*"),
            Cors::Origins(origins) => {
                origin.filter(|origin| origins.iter().any(|allowed| allowed == origin))
            }
        }
    }
}

/// The methods a preflight answer allows by default: those the servers serve; the handler still answers 501 for one it
/// does not. With uploads on, the command adds PUT ([`Site::allowed_methods`]).
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// How long a browser may keep a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// An error page of the operator's: sent for its status in place of Python's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its bytes, read once at start.
    pub body: Vec<u8>,
}

/// A handler with what the command line adds around it.
#[derive(Debug)]
pub struct Site<H> {
    /// The handler that serves the requests let through.
    pub handler: H,
    /// Checks every request's credentials first, when set.
    pub authenticator: Option<Authenticator>,
    /// Sent on every answer (`--header`), in order.
    pub headers: Vec<(String, String)>,
    /// Answers preflight requests and marks the answers readable by other origins, when set.
    pub cors: Option<Cors>,
    /// What a preflight answer names in `Access-Control-Allow-Methods` ([`ALLOWED_METHODS`] unless set).
    pub allowed_methods: String,
    /// Pages by status (`--error-page`).
    pub error_pages: BTreeMap<u16, ErrorPage>,
}

impl<H> Site<H> {
    /// `handler` with nothing added.
    pub fn new(handler: H) -> Self {
        Site {
            handler,
            authenticator: None,
            headers: Vec::new(),
            cors: None,
            allowed_methods: ALLOWED_METHODS.to_owned(),
            error_pages: BTreeMap::new(),
        }
    }

    /// Whether the request is a CORS preflight (RFC: Fetch standard, section 3.2.2) this site answers itself:
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`. Browsers send no credentials with it, so it comes before authentication.
    fn is_preflight(&self, req: &HttpRequest<'_>) -> bool {
        self.cors.is_some()
            && req.command == "OPTIONS"
            && req.headers.get("Origin").is_some()
            && req.headers.get("Access-Control-Request-Method").is_some()
    }

    fn preflight(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let origin = req.headers.get("Origin");
        if self
            .cors
            .as_ref()
            .and_then(|cors| cors.allow_origin(origin))
            .is_none()
        {
            return req.send_error(403, Some("Origin not allowed"));
        }
        let requested = req
            .headers
            .get("Access-Control-Request-Headers")
            .map(str::to_owned);
        req.send_response(204, None)?;
        req.send_header("Access-Control-Allow-Methods", &self.allowed_methods)?;
        if let Some(requested) = requested {
            req.send_header("Access-Control-Allow-Headers", &requested)?;
        }
        req.send_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE)?;
        req.end_headers()
    }

    fn authorize(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        match &self.authenticator {
            Some(authenticator) => authenticator.authorize(req),
            None => Ok(true),
        }
    }
}

macro_rules! site_methods {
    ($($method:ident),*) => {
        $(
            fn $method(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
                if self.authorize(req)? {
                    self.handler.$method(req)?;
                }
                Ok(())
            }
        )*
    };
}

impl<H: BaseHttpRequestHandler> BaseHttpRequestHandler for Site<H> {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.handler)
    }

    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        // Interim answers (100 Continue) carry nothing of the final one's.
        if req.response_status().is_some_and(|status| status >= 200) {
            for (name, value) in &self.headers {
                req.send_header(name, value)?;
            }
            if let Some(cors) = &self.cors {
                let origin = req.headers.get("Origin").map(str::to_owned);
                if let Some(allowed) = cors.allow_origin(origin.as_deref()) {
                    let allowed = allowed.to_owned();
                    req.send_header("Access-Control-Allow-Origin", &allowed)?;
                    if matches!(cors, Cors::Origins(_)) {
                        req.send_header("Access-Control-Allow-Credentials", "true")?;
                    }
                }
                if matches!(cors, Cors::Origins(_)) {
                    // The answer depends on the request's origin, so caches must keep one per origin.
                    req.send_header("Vary", "Origin")?;
                }
            }
        }
        self.handler.end_headers(req)
    }

    fn send_error(
        &self,
        req: &mut HttpRequest<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> io::Result<()> {
        let Some(page) = self.error_pages.get(&code) else {
            return self.handler.send_error(req, code, message, explain);
        };
        // As Python's send_error: the log line, the status, Connection: close, and the page with its type and length.
        let default_message = req
            .handler()
            .responses(code)
            .map(|(short, _)| short.to_owned());
        let message = message.or(default_message.as_deref()).unwrap_or("???");
        req.log_error(format_args!("code {code}, message {message}"));
        req.send_response(code, Some(message))?;
        req.send_header("Connection", "close")?;
        req.send_header("Content-Type", &page.content_type)?;
        req.send_header("Content-Length", &page.body.len().to_string())?;
        req.end_headers()?;
        if req.command != "HEAD" {
            req.wfile.write_all(&page.body)?;
        }
        Ok(())
    }

    /// Checks the credentials before `100 Continue`, so a client that is not let in never sends its body.
    fn handle_expect_100(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        if !self.authorize(req)? {
            return Ok(false);
        }
        self.handler.handle_expect_100(req)
    }

    fn do_options(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if self.is_preflight(req) {
            return self.preflight(req);
        }
        if self.authorize(req)? {
            self.handler.do_options(req)?;
        }
        Ok(())
    }

    site_methods!(do_get, do_head, do_post, do_put, do_delete, do_patch, do_method);
}
