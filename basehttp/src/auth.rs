//! HTTP authentication for any handler: Basic (RFC 7617) and Digest (RFC 7616), checked in constant time.
//!
//! [`BasicCredentials`] is what Python's handlers write by hand (`self.headers.get("Authorization") == "Basic " + ...`),
//! without the string comparison that stops at the first differing byte. [`Authenticator`] is a whole layer:
//! users from a password given outright or from htpasswd and htdigest files ([`Users`]), the 401 challenge offering
//! what those users can answer, expiring Digest nonces whose counts cannot be replayed, every failure logged, and
//! addresses that keep failing refused for a while ([`Throttle`]). [`Authenticated`] wraps any handler with it.

mod digest;
mod passwords;
mod throttle;

pub use passwords::{PasswordFileError, Users};
pub use throttle::Throttle;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use digest::{Algorithm, CountRefused, DigestResponse, NonceState, Nonces};
use passwords::Account;
use throttle::Failures;

use crate::handler::{AuthenticatedUser, BaseHttpRequestHandler};
use socketserver::Address;

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

/// How an [`Authenticator`] runs, beyond its realm and users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// How long a Digest nonce stays good (5 minutes by default). A client that answers with an older one, and the right
    /// password, is sent a new one with `stale=true`, which it uses without asking its user again.
    pub nonce_lifetime: Duration,
    /// The most Digest nonces whose counts are tracked at once (65 536 by default); a client whose new nonce finds no room
    /// is sent another with `stale=true`, so counts are never left unchecked.
    pub max_nonces: usize,
    /// How repeated failures from one address are slowed down.
    pub throttle: Throttle,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            nonce_lifetime: Duration::from_secs(300),
            max_nonces: 65_536,
            throttle: Throttle::default(),
        }
    }
}

/// What proves one user in the authenticator's realm.
struct Login {
    /// A password given outright.
    password: Option<String>,
    /// An htpasswd hash.
    hash: Option<passwords::PasswordHash>,
    /// Hex of `MD5(user:realm:password)`.
    md5: Option<String>,
    /// Hex of `SHA-256(user:realm:password)`.
    sha256: Option<String>,
}

impl Login {
    fn ha1(&self, algorithm: Algorithm) -> Option<&str> {
        if algorithm.is_sha256() {
            self.sha256.as_deref()
        } else {
            self.md5.as_deref()
        }
    }
}

/// How long a Basic password checked against a slow hash (bcrypt, SHA-crypt) is taken as checked.
const VERIFIED_FOR: Duration = Duration::from_secs(600);

/// How many such checks are remembered.
const MAX_VERIFIED: usize = 4096;

/// An authentication layer: checks each request's `Authorization` header against its users, and answers those that do not prove
/// a user (401 with a challenge for each scheme the users can answer, 400 for a malformed header, 429 with `Retry-After`
/// for an address shut out after too many failures).
///
/// Basic is offered when a user has a password given outright or an htpasswd hash; Digest with MD5 when one has a password
/// or an MD5 htdigest line for the realm, with SHA-256 when one has a password or a SHA-256 line. The Digest challenges come first,
/// MD5 before SHA-256 (as lighttpd orders them): clients that read only the first challenge (Python's urllib, curl 7.88) answer MD5,
/// and clients that pick the strongest (httpclient's `Auth`) take SHA-256. A user with a SHA-256 htdigest line only is
/// therefore reachable by the former only when no MD5 challenge is offered (an htdigest file of SHA-256 lines alone); Python's
/// requests folds all the challenges into one and answers with the last algorithm named, SHA-256.
///
/// ```
/// use basehttp::{Authenticator, Users};
///
/// let mut users = Users::new();
/// users.add_password("admin", "secret");
/// let authenticator = Authenticator::new("files", users)?;
/// assert_eq!(authenticator.challenges(false).len(), 3);
/// assert!(authenticator.challenges(false)[2].starts_with("Basic realm=\"files\""));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Authenticator {
    realm: String,
    logins: HashMap<String, Login>,
    basic: bool,
    md5: bool,
    sha256: bool,
    /// Users by the hex hash of `user:realm`, for `userhash=true` (RFC 7616 section 3.4.4): (SHA-256?, hash) to user.
    userhashes: HashMap<(bool, String), String>,
    nonces: Nonces,
    opaque: String,
    failures: Failures,
    /// Basic credentials found right against a slow hash, by a keyed hash of user and password, with when.
    verified: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("realm", &self.realm)
            .field("users", &self.logins.len())
            .field("basic", &self.basic)
            .field("md5", &self.md5)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// What a request's credentials came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Pass(AuthenticatedUser),
    /// None given, or in a scheme not offered: challenge.
    Challenge,
    /// The right password with a nonce too old (or from before a restart): challenge with `stale=true`.
    Stale,
    Failed {
        user: String,
        scheme: &'static str,
        reason: &'static str,
    },
    Malformed(&'static str),
}

impl Authenticator {
    /// An authenticator for `realm` with default settings.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when no user can log in to `realm` (an htdigest file names other realms only, or there are no users)
    /// or the realm holds a control character; an error of the system's random number source, which keys the nonces.
    pub fn new(realm: &str, users: Users) -> io::Result<Self> {
        Authenticator::with_settings(realm, users, AuthSettings::default())
    }

    /// An authenticator for `realm` with `settings`; errors as [`new`](Self::new).
    pub fn with_settings(realm: &str, users: Users, settings: AuthSettings) -> io::Result<Self> {
        if realm.chars().any(char::is_control) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a realm cannot hold control characters",
            ));
        }
        let mut logins = HashMap::new();
        let mut userhashes = HashMap::new();
        for (user, account) in users.accounts {
            let Account {
                password,
                hash,
                md5,
                sha256,
            } = account;
            let from_password = |algorithm: Algorithm| {
                password.as_ref().map(|password| {
                    algorithm.hex(&[user.as_bytes(), realm.as_bytes(), password.as_bytes()])
                })
            };
            let login = Login {
                md5: from_password(Algorithm::Md5)
                    .or_else(|| md5.get(realm).map(|ha1| digest::hex_of(ha1))),
                sha256: from_password(Algorithm::Sha256)
                    .or_else(|| sha256.get(realm).map(|ha1| digest::hex_of(ha1))),
                password,
                hash,
            };
            if login.password.is_none()
                && login.hash.is_none()
                && login.md5.is_none()
                && login.sha256.is_none()
            {
                continue;
            }
            for (sha, algorithm, present) in [
                (false, Algorithm::Md5, login.md5.is_some()),
                (true, Algorithm::Sha256, login.sha256.is_some()),
            ] {
                if present {
                    let hashed = algorithm.hex(&[user.as_bytes(), realm.as_bytes()]);
                    userhashes.insert((sha, hashed), user.clone());
                }
            }
            logins.insert(user, login);
        }
        let any = |test: fn(&Login) -> bool| logins.values().any(test);
        let basic = any(|login| login.password.is_some() || login.hash.is_some());
        let md5 = any(|login| login.md5.is_some());
        let sha256 = any(|login| login.sha256.is_some());
        if !(basic || md5 || sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no user can log in to the realm {realm:?}"),
            ));
        }
        let nonces = Nonces::new(settings.nonce_lifetime, settings.max_nonces)?;
        Ok(Authenticator {
            realm: realm.to_owned(),
            logins,
            basic,
            md5,
            sha256,
            userhashes,
            opaque: nonces.opaque(),
            nonces,
            failures: Failures::new(settings.throttle),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The `WWW-Authenticate` values a 401 carries, one per scheme offered; `stale` marks the Digest ones `stale=true`.
    /// Each call issues a new nonce.
    pub fn challenges(&self, stale: bool) -> Vec<String> {
        let realm = quote(&self.realm);
        let mut challenges = Vec::with_capacity(3);
        if self.md5 || self.sha256 {
            let nonce = self.nonces.issue();
            let stale = if stale { ", stale=true" } else { "" };
            for (offered, name) in [(self.md5, "MD5"), (self.sha256, "SHA-256")] {
                if offered {
                    challenges.push(format!(
                        "Digest realm={realm}, qop=\"auth\", algorithm={name}, nonce=\"{nonce}\", opaque=\"{}\", userhash=true{stale}",
                        self.opaque
                    ));
                }
            }
        }
        if self.basic {
            challenges.push(format!("Basic realm={realm}, charset=\"UTF-8\""));
        }
        challenges
    }

    /// Checks `req`'s credentials. True: they prove a user, now on [`HttpRequest::authenticated_user`], and the request goes on.
    /// False: the request was answered (401 with the challenges, 400 for a malformed header, 429 for an address shut out),
    /// and every failure was logged through the handler's `log_message`.
    ///
    /// A request already authenticated (by an `Expect: 100-continue` check before its method) passes at once, so a Digest count
    /// is never taken twice.
    ///
    /// # Errors
    ///
    /// An error writing the answer.
    pub fn authorize(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        if req.authenticated_user().is_some() {
            return Ok(true);
        }
        let address = match &req.client_address {
            Address::Inet(address) => Some(address.ip()),
            Address::Unix(_) => None,
        };
        if req.headers.get("Authorization").is_some() {
            if let Some(wait) =
                address.and_then(|address| self.failures.locked(address, Instant::now()))
            {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                req.log_error(format_args!(
                    "authentication refused: too many failures from this address, retry after {seconds} s"
                ));
                req.queue_header("Retry-After", &seconds.to_string())?;
                req.send_error(429, None)?;
                return Ok(false);
            }
        }
        match self.check(req) {
            Verdict::Pass(user) => {
                req.set_authenticated_user(user);
                Ok(true)
            }
            Verdict::Challenge => self.challenge(req, false),
            Verdict::Stale => {
                req.log_message(format_args!("authentication: stale nonce, a new one sent"));
                self.challenge(req, true)
            }
            Verdict::Failed {
                user,
                scheme,
                reason,
            } => {
                req.log_error(format_args!(
                    "authentication failed for user {} ({scheme}): {reason}",
                    crate::text::python_repr(&user)
                ));
                self.count_failure(req, address);
                self.challenge(req, false)
            }
            Verdict::Malformed(reason) => {
                req.log_error(format_args!("bad Authorization header: {reason}"));
                self.count_failure(req, address);
                req.send_error(400, Some("Bad Authorization header"))?;
                Ok(false)
            }
        }
    }

    fn count_failure(&self, req: &HttpRequest<'_>, address: Option<IpAddr>) {
        // For /metrics (--metrics-bind): failed logins, whatever the throttle makes of them.
        crate::metrics::record_auth_failure();
        let Some(address) = address else {
            return;
        };
        if let Some(lockout) = self.failures.fail(address, Instant::now()) {
            req.log_error(format_args!(
                "authentication: too many failures, this address is refused for {} s",
                lockout.as_secs()
            ));
        }
    }

    fn challenge(&self, req: &mut HttpRequest<'_>, stale: bool) -> io::Result<bool> {
        for challenge in self.challenges(stale) {
            req.queue_header("WWW-Authenticate", &challenge)?;
        }
        req.send_error(401, None)?;
        Ok(false)
    }

    fn check(&self, req: &HttpRequest<'_>) -> Verdict {
        let Some(value) = req.headers.get("Authorization") else {
            return Verdict::Challenge;
        };
        let value = value.trim_matches([' ', '\t']);
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") && self.basic {
            let Some(credentials) = BasicCredentials::from_header(value) else {
                return Verdict::Malformed("malformed Basic credentials");
            };
            return self.check_basic(&credentials);
        }
        if scheme.eq_ignore_ascii_case("digest") && (self.md5 || self.sha256) {
            return match DigestResponse::parse(rest) {
                Ok(response) => self.check_digest(req, &response),
                Err(reason) => Verdict::Malformed(reason),
            };
        }
        Verdict::Challenge
    }

    fn check_basic(&self, credentials: &BasicCredentials) -> Verdict {
        let user = &credentials.username;
        let password = credentials.password();
        let failed = |reason| Verdict::Failed {
            user: user.clone(),
            scheme: "Basic",
            reason,
        };
        let Some(login) = self.logins.get(user) else {
            return failed("no such user");
        };
        let mut right = login
            .password
            .as_ref()
            .is_some_and(|known| bool::from(known.as_bytes().ct_eq(password.as_bytes())));
        if !right {
            if let Some(hash) = &login.hash {
                right = self.check_hash(hash, user, password);
            }
        }
        // A user of an htdigest file only, when Basic is offered for others: the password hashes to the HA1 the file holds.
        for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
            if let (false, Some(ha1)) = (right, login.ha1(algorithm)) {
                let computed =
                    algorithm.hex(&[user.as_bytes(), self.realm.as_bytes(), password.as_bytes()]);
                right = bool::from(computed.as_bytes().ct_eq(ha1.as_bytes()));
            }
        }
        if !right {
            return failed("wrong password");
        }
        Verdict::Pass(AuthenticatedUser {
            user: user.clone(),
            scheme: "Basic",
        })
    }

    /// Checks a password against an htpasswd hash; a slow hash found right is remembered for a while, so a client sending
    /// the same credentials on every request (as they all do with Basic) costs one bcrypt per [`VERIFIED_FOR`], not one per request.
    fn check_hash(&self, hash: &passwords::PasswordHash, user: &str, password: &str) -> bool {
        if !hash.is_slow() {
            return hash.verify(password);
        }
        let key = self
            .nonces
            .keyed_hash(&[b"basic", user.as_bytes(), b"\0", password.as_bytes()]);
        let now = Instant::now();
        {
            let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified
                .get(&key)
                .is_some_and(|when| now.saturating_duration_since(*when) < VERIFIED_FOR)
            {
                return true;
            }
        }
        // Tens of milliseconds of processor time by design: another worker takes the readiness loop meanwhile.
        let right = socketserver::blocking(|| hash.verify(password));
        if right {
            let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified.len() >= MAX_VERIFIED {
                verified.retain(|_, when| now.saturating_duration_since(*when) < VERIFIED_FOR);
                if verified.len() >= MAX_VERIFIED {
                    verified.clear();
                }
            }
            verified.insert(key, now);
        }
        right
    }

    fn check_digest(&self, req: &HttpRequest<'_>, response: &DigestResponse) -> Verdict {
        let algorithm = response.algorithm;
        let failed = |reason| Verdict::Failed {
            user: response.username.clone(),
            scheme: "Digest",
            reason,
        };
        let offered = if algorithm.is_sha256() {
            self.sha256
        } else {
            self.md5
        };
        if !offered {
            return failed("an algorithm not offered");
        }
        if response.realm != self.realm {
            return failed("another realm");
        }
        // The response covers the uri parameter, not the request: a uri other than the request's own would let a captured
        // answer for one path open another.
        let target = req.requestline.split(' ').nth(1).unwrap_or("");
        if response.uri != target && response.uri != req.path {
            return Verdict::Malformed("the uri parameter is not the request's target");
        }
        let user = if response.userhash {
            self.userhashes
                .get(&(
                    algorithm.is_sha256(),
                    response.username.to_ascii_lowercase(),
                ))
                .map(String::as_str)
        } else {
            Some(response.username.as_str())
        };
        let ha1 = user
            .and_then(|user| self.logins.get(user))
            .and_then(|login| login.ha1(algorithm));
        // An unknown user costs the same hashing as a known one.
        let expected = response.expected(ha1.unwrap_or("-"), &req.command);
        let right = response.response_matches(&expected);
        let (Some(user), true) = (user, right && ha1.is_some()) else {
            return failed(if ha1.is_none() {
                "no such user"
            } else {
                "wrong password"
            });
        };
        let state = self.nonces.check(&response.nonce);
        // A nonce from before a restart comes with that run's opaque value: both are renewed by the stale challenge.
        // With a nonce of this run, the opaque value must be this run's too.
        if state != NonceState::Unknown && response.opaque.as_deref() != Some(self.opaque.as_str())
        {
            return failed("an opaque value this server did not send");
        }
        match state {
            NonceState::Unknown | NonceState::Expired => Verdict::Stale,
            NonceState::Fresh(identity) => match self.nonces.accept_count(identity, response.nc) {
                Ok(()) => Verdict::Pass(AuthenticatedUser {
                    user: user.to_owned(),
                    scheme: "Digest",
                }),
                Err(CountRefused::Replayed) => failed("a nonce count already used (a replay)"),
                Err(CountRefused::Full) => Verdict::Stale,
            },
        }
    }
}

/// A quoted-string (RFC 9110 section 5.6.4) holding `text`.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        if matches!(character, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// Any handler behind an [`Authenticator`]: every method (and an `Expect: 100-continue` before it) is served only once the
/// request's credentials prove a user; everything else comes from the handler ([`BaseHttpRequestHandler::base`]).
///
/// ```no_run
/// use basehttp::{Authenticated, Authenticator, BaseHttpRequestHandler, HttpRequest, HttpServer, Users};
///
/// struct Hello;
///
/// impl BaseHttpRequestHandler for Hello {
///     fn do_get(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
///         let user = req.authenticated_user().map_or("nobody", |user| user.user.as_str()).to_owned();
///         req.send_response(200, None)?;
///         req.send_header("Content-Length", &user.len().to_string())?;
///         req.end_headers()?;
///         std::io::Write::write_all(&mut req.wfile, user.as_bytes())
///     }
/// }
///
/// let mut users = Users::new();
/// users.add_password("admin", "secret");
/// let handler = Authenticated::new(Hello, Authenticator::new("hello", users)?);
/// HttpServer::new(("127.0.0.1", 8080), handler)?.serve_forever(basehttp::POLL_INTERVAL)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Authenticated<H> {
    /// The handler that serves authenticated requests.
    pub handler: H,
    /// What checks them.
    pub authenticator: Authenticator,
}

impl<H> Authenticated<H> {
    /// `handler` behind `authenticator`.
    pub fn new(handler: H, authenticator: Authenticator) -> Self {
        Authenticated {
            handler,
            authenticator,
        }
    }
}

macro_rules! authenticated_methods {
    ($($method:ident),*) => {
        $(
            fn $method(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
                if self.authenticator.authorize(req)? {
                    self.handler.$method(req)?;
                }
                Ok(())
            }
        )*
    };
}

impl<H: BaseHttpRequestHandler> BaseHttpRequestHandler for Authenticated<H> {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.handler)
    }

    /// Checks the credentials before `100 Continue`, so a client that is not let in never sends its body.
    fn handle_expect_100(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        if !self.authenticator.authorize(req)? {
            return Ok(false);
        }
        self.handler.handle_expect_100(req)
    }

    authenticated_methods!(
        do_get, do_head, do_post, do_put, do_delete, do_options, do_patch, do_method
    );
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
