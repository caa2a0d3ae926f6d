//! Answering a server's `401` (Python's `urllib.request.HTTPBasicAuthHandler` and `HTTPDigestAuthHandler`):
//! Basic (RFC 7617) and Digest (RFC 7616: MD5 and SHA-256, their `-sess` forms, `qop=auth`, `userhash`), the credentials
//! given through the API or in a URL's user info, the request sent once more with the answer.

use std::fmt;

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::connection::HttpConnection;
use crate::error::{Error, Result};
use crate::response::HttpResponse;

/// Which challenges an [`Auth`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// Basic only, sent with the first request already (curl's `-u` / `--basic`): the password goes out before any challenge.
    Basic,
    /// Digest only (curl's `--digest`): the password itself never leaves the client.
    Digest,
    /// Whichever the server offers, Digest first (curl's `--anyauth`); nothing is sent before the server asks.
    Any,
}

/// The most parameters read from one challenge, and the most challenges read from a response.
const MAX_PARAMS: usize = 32;
const MAX_CHALLENGES: usize = 16;

/// One challenge of a `WWW-Authenticate` header: its scheme and its parameters, names lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(param, _)| param == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Splits one `WWW-Authenticate` value into its challenges (RFC 9110 section 11.6.1: several may share a header,
/// separated by commas like their parameters). A `token68` (`Negotiate abc==`) is skipped; reading stops at anything
/// that is neither a token nor a separator, keeping the challenges read before it.
fn parse_challenges(value: &str, challenges: &mut Vec<Challenge>) {
    let bytes = value.as_bytes();
    let mut at = 0;
    let is_tchar = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
    let skip = |at: &mut usize, what: &[u8]| {
        while *at < bytes.len() && what.contains(&bytes[*at]) {
            *at += 1;
        }
    };
    while challenges.len() < MAX_CHALLENGES {
        skip(&mut at, b" \t,");
        let start = at;
        while at < bytes.len() && is_tchar(bytes[at]) {
            at += 1;
        }
        if start == at {
            // The end, or something that is not a token.
            break;
        }
        let token = &value[start..at];
        let mut after = at;
        skip(&mut after, b" \t");
        if after < bytes.len() && bytes[after] == b'=' {
            // name=value, a parameter of the current challenge.
            at = after + 1;
            skip(&mut at, b" \t");
            let parsed = if at < bytes.len() && bytes[at] == b'"' {
                let mut text = String::new();
                at += 1;
                let mut chars = value[at..].char_indices();
                let mut end = value.len();
                while let Some((offset, character)) = chars.next() {
                    match character {
                        '"' => {
                            end = at + offset + 1;
                            break;
                        }
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        _ => text.push(character),
                    }
                }
                at = end;
                text
            } else {
                let start = at;
                while at < bytes.len() && !b", \t".contains(&bytes[at]) {
                    at += 1;
                }
                value[start..at].to_owned()
            };
            if let Some(challenge) = challenges.last_mut() {
                if challenge.params.len() < MAX_PARAMS {
                    challenge.params.push((token.to_ascii_lowercase(), parsed));
                }
            }
        } else {
            challenges.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: Vec::new(),
            });
            // A token68 after the scheme: skip it up to the next comma.
            let mut probe = after;
            while probe < bytes.len() && (is_tchar(bytes[probe]) || bytes[probe] == b'/') {
                probe += 1;
            }
            if probe > after {
                let mut rest = probe;
                skip(&mut rest, b"=");
                skip(&mut rest, b" \t");
                if rest >= bytes.len() || bytes[rest] == b',' {
                    at = rest;
                }
            }
        }
    }
}

/// A Digest algorithm this client computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Algorithm {
    sha256: bool,
    session: bool,
}

impl Algorithm {
    fn parse(name: Option<&str>) -> Option<Algorithm> {
        let name = name.unwrap_or("MD5").to_ascii_uppercase();
        let (base, session) = match name.strip_suffix("-SESS") {
            Some(base) => (base.to_owned(), true),
            None => (name, false),
        };
        let sha256 = match base.as_str() {
            "MD5" => false,
            "SHA-256" => true,
            _ => return None,
        };
        Some(Algorithm { sha256, session })
    }

    fn name(self) -> &'static str {
        match (self.sha256, self.session) {
            (false, false) => "MD5",
            (false, true) => "MD5-sess",
            (true, false) => "SHA-256",
            (true, true) => "SHA-256-sess",
        }
    }

    fn hash(self, text: &str) -> String {
        let bytes: Vec<u8> = if self.sha256 {
            Sha256::digest(text.as_bytes()).to_vec()
        } else {
            Md5::digest(text.as_bytes()).to_vec()
        };
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// The Digest challenge being answered, and the count of answers sent on its nonce.
#[derive(Debug, Clone)]
struct DigestState {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// `qop=auth` offered; without it the answer is RFC 2069's.
    qop_auth: bool,
    userhash: bool,
    count: u32,
}

/// A user name and password that answer a server's challenges: Python's `HTTPPasswordMgr` entry with its handlers.
///
/// Keeps the Digest nonce it was last given, so later requests on it carry their answer at once (with the next nonce count)
/// rather than being refused first.
///
/// ```no_run
/// use httpclient::{Auth, HttpConnection};
///
/// let mut conn = HttpConnection::new("127.0.0.1:8000")?;
/// let mut auth = Auth::any("alice", "secret");
/// let mut response = conn.request_with_auth("GET", "/private.txt", None, &[], &mut auth)?;
/// assert_eq!(response.status, 200);
/// let _body = response.read(None)?;
/// # Ok::<(), httpclient::Error>(())
/// ```
#[derive(Clone)]
pub struct Auth {
    user: String,
    password: String,
    scheme: AuthScheme,
    digest: Option<DigestState>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        formatter
            .debug_struct("Auth")
            .field("user", &self.user)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Credentials that answer `scheme`'s challenges.
    pub fn new(user: &str, password: &str, scheme: AuthScheme) -> Auth {
        Auth {
            user: user.to_owned(),
            password: password.to_owned(),
            scheme,
            digest: None,
        }
    }

    /// [`AuthScheme::Basic`] credentials.
    pub fn basic(user: &str, password: &str) -> Auth {
        Auth::new(user, password, AuthScheme::Basic)
    }

    /// [`AuthScheme::Digest`] credentials.
    pub fn digest(user: &str, password: &str) -> Auth {
        Auth::new(user, password, AuthScheme::Digest)
    }

    /// [`AuthScheme::Any`] credentials.
    pub fn any(user: &str, password: &str) -> Auth {
        Auth::new(user, password, AuthScheme::Any)
    }

    /// The same credentials answering `scheme`'s challenges.
    #[must_use]
    pub fn with_scheme(mut self, scheme: AuthScheme) -> Auth {
        self.scheme = scheme;
        self
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Splits the user info off `url` (`http://user:password@host/`, percent-decoded, as urllib reads it):
    /// the URL without it, and [`AuthScheme::Any`] credentials when it had some.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for user info that does not decode to UTF-8.
    pub fn from_url(url: &str) -> Result<(String, Option<Auth>)> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok((url.to_owned(), None));
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else {
            return Ok((url.to_owned(), None));
        };
        let userinfo = &rest[..at];
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| Error::InvalidUrl(format!("user info is not UTF-8: {url:?}")))
        };
        let auth = Auth::any(&decode(user)?, &decode(password)?);
        Ok((format!("{scheme}://{}", &rest[at + 1..]), Some(auth)))
    }

    /// The `Authorization` value to send before any challenge: Basic for [`AuthScheme::Basic`], and the next answer on
    /// the last Digest nonce once one is known.
    pub fn preemptive(&mut self, method: &str, target: &str) -> Option<String> {
        if self.scheme == AuthScheme::Basic {
            return Some(self.basic_value());
        }
        if self.digest.is_some() {
            return self.digest_value(method, target);
        }
        None
    }

    /// The `Authorization` value that answers the `WWW-Authenticate` values of a 401, `None` when no challenge is
    /// one this [`AuthScheme`] answers. A Digest challenge is remembered for [`preemptive`](Self::preemptive).
    pub fn answer<'v>(
        &mut self,
        method: &str,
        target: &str,
        www_authenticate: impl IntoIterator<Item = &'v str>,
    ) -> Option<String> {
        let mut challenges = Vec::new();
        for value in www_authenticate.into_iter().take(MAX_CHALLENGES) {
            parse_challenges(value, &mut challenges);
        }
        if self.scheme != AuthScheme::Basic {
            // The strongest Digest challenge this client computes: SHA-256 before MD5.
            let best = challenges
                .iter()
                .filter(|challenge| challenge.scheme == "digest")
                .filter_map(|challenge| {
                    let algorithm = Algorithm::parse(challenge.param("algorithm"))?;
                    let qop_auth = match challenge.param("qop") {
                        None => false,
                        Some(qop) => {
                            if !qop
                                .split(',')
                                .any(|qop| qop.trim().eq_ignore_ascii_case("auth"))
                            {
                                return None;
                            }
                            true
                        }
                    };
                    Some(DigestState {
                        realm: challenge.param("realm")?.to_owned(),
                        nonce: challenge.param("nonce")?.to_owned(),
                        opaque: challenge.param("opaque").map(str::to_owned),
                        algorithm,
                        qop_auth,
                        userhash: challenge
                            .param("userhash")
                            .is_some_and(|value| value.eq_ignore_ascii_case("true")),
                        count: 0,
                    })
                })
                .max_by_key(|state| state.algorithm.sha256);
            if let Some(state) = best {
                self.digest = Some(state);
                return self.digest_value(method, target);
            }
        }
        if self.scheme != AuthScheme::Digest
            && challenges
                .iter()
                .any(|challenge| challenge.scheme == "basic")
        {
            return Some(self.basic_value());
        }
        None
    }

    fn basic_value(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn digest_value(&mut self, method: &str, target: &str) -> Option<String> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).ok()?;
        let cnonce: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        self.digest_value_with(method, target, &cnonce)
    }

    fn digest_value_with(&mut self, method: &str, target: &str, cnonce: &str) -> Option<String> {
        let state = self.digest.as_mut()?;
        state.count = state.count.checked_add(1)?;
        let algorithm = state.algorithm;
        let nc = format!("{:08x}", state.count);
        let mut ha1 = algorithm.hash(&format!("{}:{}:{}", self.user, state.realm, self.password));
        if algorithm.session {
            ha1 = algorithm.hash(&format!("{ha1}:{}:{cnonce}", state.nonce));
        }
        let ha2 = algorithm.hash(&format!("{method}:{target}"));
        let response = if state.qop_auth {
            algorithm.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", state.nonce))
        } else {
            algorithm.hash(&format!("{ha1}:{}:{ha2}", state.nonce))
        };
        let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
        let username = if state.userhash {
            algorithm.hash(&format!("{}:{}", self.user, state.realm))
        } else {
            quote(&self.user)
        };
        let mut value = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}, response=\"{response}\"",
            quote(&state.realm),
            quote(&state.nonce),
            quote(target),
            algorithm.name(),
        );
        if let Some(opaque) = &state.opaque {
            value.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        if state.qop_auth {
            value.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        }
        if state.userhash {
            value.push_str(", userhash=true");
        }
        Some(value)
    }
}

/// `headers` with `authorization` in place of any `Authorization` they hold.
fn with_authorization<'h>(
    headers: &[(&'h str, &'h str)],
    authorization: Option<&'h str>,
) -> Vec<(&'h str, &'h str)> {
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
        .collect();
    if let Some(authorization) = authorization {
        all.push(("Authorization", authorization));
    }
    all
}

impl HttpConnection {
    /// Sends a request with `auth`'s credentials: at once when they can be ([`Auth::preemptive`]), else after the
    /// server's `401`, whose challenges they answer; the request goes once more, never more (Python's auth handlers).
    /// The answer to that second request is returned whatever it is, a `401` for a wrong password included.
    ///
    /// The body is bytes, since it may be sent twice.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request) and [`getresponse`](Self::getresponse).
    pub fn request_with_auth<'c>(
        &'c mut self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
        auth: &mut Auth,
    ) -> Result<HttpResponse<'c>> {
        let preemptive = auth.preemptive(method, target);
        self.request(
            method,
            target,
            body,
            &with_authorization(headers, preemptive.as_deref()),
        )?;
        let response = self.getresponse()?;
        if response.status != 401 {
            return Ok(response);
        }
        let Some(answer) =
            auth.answer(method, target, response.headers.get_all("www-authenticate"))
        else {
            return Ok(response);
        };
        // A 401 to credentials already sent is the final word, unless it only says that their Digest nonce went stale.
        if let Some(sent) = &preemptive {
            let stale = response
                .headers
                .get_all("www-authenticate")
                .any(|value| value.to_ascii_lowercase().contains("stale=true"));
            if sent.starts_with("Basic") || !stale {
                return Ok(response);
            }
        }
        let Some(connection) = response.release() else {
            return Err(Error::InvalidUrl(
                "a response of a borrowed connection owned it".to_owned(),
            ));
        };
        connection.request(
            method,
            target,
            body,
            &with_authorization(headers, Some(&answer)),
        )?;
        connection.getresponse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_split_as_rfc_9110_writes_them() {
        let mut challenges = Vec::new();
        parse_challenges(
            "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
            &mut challenges,
        );
        parse_challenges(
            "Negotiate abc==, Digest realm=x, nonce=\"n,1\"",
            &mut challenges,
        );
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["newauth", "basic", "negotiate", "digest"]);
        assert_eq!(challenges[0].param("title"), Some("Login to \"apps\""));
        assert_eq!(challenges[0].param("type"), Some("1"));
        assert_eq!(challenges[1].param("realm"), Some("simple"));
        assert_eq!(challenges[3].param("nonce"), Some("n,1"));
        // The token68 is skipped, not read as a parameter.
        assert!(challenges[2].params.is_empty(), "{:?}", challenges[2]);
        // Bounded: at most MAX_CHALLENGES challenges, each with at most MAX_PARAMS parameters.
        let many = vec!["Basic realm=x"; MAX_CHALLENGES + 4].join(", ");
        let mut bounded = Vec::new();
        parse_challenges(&many, &mut bounded);
        assert_eq!(bounded.len(), MAX_CHALLENGES);
        let params: Vec<String> = (0..MAX_PARAMS + 4)
            .map(|index| format!("p{index}=v"))
            .collect();
        let mut bounded = Vec::new();
        parse_challenges(&format!("Digest {}", params.join(", ")), &mut bounded);
        assert_eq!(bounded[0].params.len(), MAX_PARAMS);
        // Garbage neither loops nor panics; reading stops at it.
        for garbage in ["\"", "=", "a=\"", ",,, =x", "Digest \"", "\u{e9}=\u{e9}"] {
            parse_challenges(garbage, &mut Vec::new());
        }
        let mut stopped = Vec::new();
        parse_challenges("Basic realm=x, \u{e9} Digest realm=y", &mut stopped);
        assert_eq!(stopped.len(), 1);
        // A quoted value ends after its closing quote, and a value follows its `=` at once.
        let mut quoted = Vec::new();
        parse_challenges("Digest realm=\"a\",nonce=\"b\",qop=auth", &mut quoted);
        assert_eq!(quoted[0].params.len(), 3, "{quoted:?}");
    }

    // RFC 7616 section 3.9.1: Mufasa's MD5 and SHA-256 answers.
    #[test]
    fn digest_answers_match_rfc_7616() {
        for (name, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let mut auth = Auth::digest("Mufasa", "Circle of Life");
            let challenge = format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={name}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            );
            let first = auth
                .answer("GET", "/dir/index.html", [challenge.as_str()])
                .unwrap();
            assert!(first.contains("nc=00000001"), "{first}");
            // The cnonce is random: answer again on the RFC's, with the RFC's count.
            if let Some(state) = auth.digest.as_mut() {
                state.count = 0;
            }
            let answer = auth
                .digest_value_with(
                    "GET",
                    "/dir/index.html",
                    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                )
                .unwrap();
            assert!(
                answer.contains(&format!("response=\"{expected}\"")),
                "{answer}"
            );
            assert!(answer.contains(&format!("algorithm={name},")), "{answer}");
            assert!(
                answer.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""),
                "{answer}"
            );
            assert!(answer.contains("username=\"Mufasa\""), "{answer}");
            // The next answer on the same nonce counts on.
            assert!(auth.preemptive("GET", "/").unwrap().contains("nc=00000002"));
        }
    }

    #[test]
    fn any_prefers_digest_and_sha256_basic_only_basic() {
        let challenges = [
            "Digest realm=\"r\", qop=\"auth\", algorithm=MD5, nonce=\"n\"",
            "Digest realm=\"r\", qop=\"auth\", algorithm=SHA-256, nonce=\"n\", userhash=true",
            "Basic realm=\"r\"",
        ];
        let answer = Auth::any("u", "p").answer("GET", "/", challenges).unwrap();
        assert!(answer.starts_with("Digest "), "{answer}");
        assert!(answer.contains("algorithm=SHA-256"), "{answer}");
        assert!(answer.contains("userhash=true"), "{answer}");
        assert!(!answer.contains("username=\"u\""), "{answer}");
        assert_eq!(
            Auth::basic("u", "p")
                .answer("GET", "/", challenges)
                .as_deref(),
            Some("Basic dTpw")
        );
        assert_eq!(
            Auth::digest("u", "p").answer("GET", "/", ["Basic realm=x"]),
            None
        );
        assert_eq!(
            Auth::any("u", "p").answer("GET", "/", ["Bearer realm=x"]),
            None
        );
        assert_eq!(Auth::any("u", "p").preemptive("GET", "/"), None);
        assert_eq!(
            Auth::basic("u", "p").preemptive("GET", "/").as_deref(),
            Some("Basic dTpw")
        );
        assert!(!format!("{:?}", Auth::basic("u", "hidden")).contains("hidden"));
    }

    #[test]
    fn user_info_comes_off_the_url() {
        let (url, auth) = Auth::from_url("http://al%40ice:p%3Ass@127.0.0.1:8000/a?b").unwrap();
        assert_eq!(url, "http://127.0.0.1:8000/a?b");
        let auth = auth.unwrap();
        assert_eq!((auth.user(), auth.password.as_str()), ("al@ice", "p:ss"));
        let (url, auth) = Auth::from_url("http://h/a@b").unwrap();
        assert_eq!((url.as_str(), auth.is_none()), ("http://h/a@b", true));
        assert!(Auth::from_url("http://%ff:x@h/").is_err());
    }
}
