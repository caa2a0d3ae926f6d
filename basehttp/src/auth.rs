//! HTTP Basic authentication (RFC 7617) for a handler: the credentials of a request, checked in constant time.
//!
//! What Python's handlers write by hand (`self.headers.get("Authorization") == "Basic " + base64.b64encode(...)`),
//! without the string comparison that stops at the first differing byte. A whole authentication layer
//! (realms, users from a file, the 401 challenge on every method) is not here: a handler decides what to protect.

use std::fmt;

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::handler::HttpRequest;

/// The user and password of an `Authorization: Basic ...` header.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user id, before the first `:`.
    pub username: String,
    password: String,
}

impl BasicCredentials {
    /// Reads an `Authorization` value: the scheme `Basic` (any case), then base64 of `user:password` in UTF-8.
    /// `None` for another scheme, bad base64, text that is not UTF-8, or no `:`.
    pub fn from_header(value: &str) -> Option<Self> {
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        Some(BasicCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    /// The password, after the first `:`.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Whether these are `username` and `password`, compared in constant time (both always compared,
    /// each in time that depends only on the lengths), so the answer's timing does not tell how much of a guess was right.
    pub fn matches(&self, username: &str, password: &str) -> bool {
        let user_matches = self.username.as_bytes().ct_eq(username.as_bytes());
        let password_matches = self.password.as_bytes().ct_eq(password.as_bytes());
        bool::from(user_matches & password_matches)
    }
}

/// Leaves the password out, so credentials can be logged.
impl fmt::Debug for BasicCredentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BasicCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl HttpRequest<'_> {
    /// The request's Basic credentials, from its `Authorization` header ([`BasicCredentials::from_header`]).
    ///
    /// ```
    /// # fn hook(req: &basehttp::HttpRequest<'_>) -> bool {
    /// // Python: self.headers.get("Authorization") == "Basic " + base64.b64encode(b"admin:secret").decode()
    /// req.basic_credentials()
    ///     .is_some_and(|credentials| credentials.matches("admin", "secret"))
    /// # }
    /// ```
    pub fn basic_credentials(&self) -> Option<BasicCredentials> {
        BasicCredentials::from_header(self.headers.get("Authorization")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expected: Option<(&str, &str)>) {
        let credentials = BasicCredentials::from_header(header);
        assert_eq!(
            credentials
                .as_ref()
                .map(|credentials| (credentials.username.as_str(), credentials.password())),
            expected,
            "{header:?}"
        );
    }

    // RFC 7617 section 2's example, and what Python's auth_server.py sends for admin:secret.
    #[test]
    fn reads_basic_credentials() {
        check(
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            Some(("Aladdin", "open sesame")),
        );
        check("Basic YWRtaW46c2VjcmV0", Some(("admin", "secret")));
        check("basic   YWRtaW46c2VjcmV0  ", Some(("admin", "secret")));
        // The user id ends at the first colon; the password may hold more.
        check("Basic dTpwOnE=", Some(("u", "p:q")));
        check("Basic Og==", Some(("", "")));
    }

    #[test]
    fn refuses_what_is_not_basic_credentials() {
        for header in [
            "",
            "Basic",
            "Basic ",
            "Bearer YWRtaW46c2VjcmV0",
            "Basic YWRtaW46c2VjcmV0!",
            "Basic YWRtaW4",
            "Basic /w==",
            "BasicYWRtaW46c2VjcmV0",
        ] {
            check(header, None);
        }
    }

    #[test]
    fn matches_only_both_parts() {
        let credentials = BasicCredentials::from_header("Basic YWRtaW46c2VjcmV0").unwrap();
        assert!(credentials.matches("admin", "secret"));
        assert!(!credentials.matches("admin", "secreT"));
        assert!(!credentials.matches("admin", "secret2"));
        assert!(!credentials.matches("Admin", "secret"));
        assert!(!credentials.matches("", ""));
        assert!(!format!("{credentials:?}").contains("secret"));
    }
}
