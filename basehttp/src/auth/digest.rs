//! HTTP Digest authentication (RFC 7616) on the server's side: the `Authorization: Digest` parameters,
//! the hashes (MD5 and SHA-256, and their `-sess` forms), and nonces that expire and are used once per count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use std::io;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A Digest algorithm (RFC 7616 section 3.3); the `-sess` forms hash the nonces into HA1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    /// The algorithm named by a client (any case; absent means MD5, RFC 7616 section 3.4).
    pub(crate) fn parse(name: Option<&str>) -> Option<Algorithm> {
        let Some(name) = name else {
            return Some(Algorithm::Md5);
        };
        [
            ("MD5", Algorithm::Md5),
            ("MD5-sess", Algorithm::Md5Sess),
            ("SHA-256", Algorithm::Sha256),
            ("SHA-256-sess", Algorithm::Sha256Sess),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, algorithm)| algorithm)
    }

    pub(crate) fn is_sha256(self) -> bool {
        matches!(self, Algorithm::Sha256 | Algorithm::Sha256Sess)
    }

    pub(crate) fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lowercase hex of the hash of `parts` joined by `:`.
    pub(crate) fn hex(self, parts: &[&[u8]]) -> String {
        if self.is_sha256() {
            hex_of(joined::<Sha256>(parts).as_slice())
        } else {
            hex_of(joined::<Md5>(parts).as_slice())
        }
    }
}

fn joined<D: sha2::Digest>(parts: &[&[u8]]) -> sha2::digest::Output<D> {
    let mut digest = D::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            digest.update(b":");
        }
        digest.update(part);
    }
    digest.finalize()
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// Splits an auth-param list (RFC 7235 section 2.1: `name=token` or `name="quoted string"`, separated by commas)
/// into lowercase names and unquoted values. `None` for anything else, or a name given twice.
pub(crate) fn parse_params(text: &str) -> Option<Vec<(String, String)>> {
    let is_tchar = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
    let bytes = text.as_bytes();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    let skip_space = |at: &mut usize| {
        while *at < bytes.len() && matches!(bytes[*at], b' ' | b'\t') {
            *at += 1;
        }
    };
    loop {
        // Empty list elements (`a=1,,b=2`) are allowed by RFC 7230's list rule.
        loop {
            skip_space(&mut at);
            if at < bytes.len() && bytes[at] == b',' {
                at += 1;
            } else {
                break;
            }
        }
        if at == bytes.len() {
            break;
        }
        let start = at;
        while at < bytes.len() && is_tchar(bytes[at]) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let name = text[start..at].to_ascii_lowercase();
        skip_space(&mut at);
        if at == bytes.len() || bytes[at] != b'=' {
            return None;
        }
        at += 1;
        skip_space(&mut at);
        let value = if at < bytes.len() && bytes[at] == b'"' {
            at += 1;
            let mut value = Vec::new();
            loop {
                match bytes.get(at) {
                    None => return None,
                    Some(b'"') => {
                        at += 1;
                        break;
                    }
                    Some(b'\\') => {
                        value.push(*bytes.get(at + 1)?);
                        at += 2;
                    }
                    Some(&byte) if byte < 0x20 && byte != b'\t' || byte == 0x7f => return None,
                    Some(&byte) => {
                        value.push(byte);
                        at += 1;
                    }
                }
            }
            String::from_utf8(value).ok()?
        } else {
            let start = at;
            while at < bytes.len() && is_tchar(bytes[at]) {
                at += 1;
            }
            if at == start {
                return None;
            }
            text[start..at].to_owned()
        };
        if params.iter().any(|(known, _)| *known == name) {
            return None;
        }
        params.push((name, value));
        skip_space(&mut at);
        match bytes.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => return None,
        }
    }
    Some(params)
}

/// The parameters of an `Authorization: Digest` header that the server checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DigestResponse {
    /// The user name, or with `userhash=true` the hash of `user:realm`.
    pub(crate) username: String,
    pub(crate) userhash: bool,
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) uri: String,
    pub(crate) response: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) cnonce: String,
    pub(crate) opaque: Option<String>,
    pub(crate) nc: u32,
    /// The nonce count as sent (8 hex digits), which the response hashes as it is.
    pub(crate) nc_text: String,
}

/// What is wrong with a Digest header, in the words of the log.
pub(crate) type Malformed = &'static str;

impl DigestResponse {
    /// Reads the parameters after `Digest `; only `qop=auth` is accepted, as only it is offered.
    pub(crate) fn parse(text: &str) -> Result<DigestResponse, Malformed> {
        let params = parse_params(text).ok_or("malformed Digest parameters")?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| value.as_str())
        };
        let username = match (get("username"), get("username*")) {
            (Some(username), None) => username.to_owned(),
            (None, Some(extended)) => decode_ext_value(extended).ok_or("malformed username*")?,
            (Some(_), Some(_)) => return Err("both username and username*"),
            (None, None) => return Err("no username"),
        };
        let userhash = match get("userhash") {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err("userhash is neither true nor false"),
        };
        let algorithm = Algorithm::parse(get("algorithm")).ok_or("unknown algorithm")?;
        match get("qop") {
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {}
            Some(_) => return Err("a qop other than auth"),
            None => return Err("no qop (RFC 2069 Digest is not accepted)"),
        }
        let nc_text = get("nc").ok_or("no nc")?;
        if nc_text.len() != 8 {
            return Err("nc is not 8 hex digits");
        }
        let nc = u32::from_str_radix(nc_text, 16).map_err(|_| "nc is not 8 hex digits")?;
        Ok(DigestResponse {
            username,
            userhash,
            realm: get("realm").ok_or("no realm")?.to_owned(),
            nonce: get("nonce").ok_or("no nonce")?.to_owned(),
            uri: get("uri").ok_or("no uri")?.to_owned(),
            response: get("response").ok_or("no response")?.to_ascii_lowercase(),
            algorithm,
            cnonce: get("cnonce").ok_or("no cnonce")?.to_owned(),
            opaque: get("opaque").map(str::to_owned),
            nc,
            nc_text: nc_text.to_owned(),
        })
    }

    /// The response a client knowing `ha1` (hex of `H(user:realm:password)`) sends for `method` (RFC 7616 section 3.4.1).
    pub(crate) fn expected(&self, ha1: &str, method: &str) -> String {
        let algorithm = self.algorithm;
        let session_ha1;
        let ha1 = if algorithm.is_sess() {
            session_ha1 = algorithm.hex(&[
                ha1.as_bytes(),
                self.nonce.as_bytes(),
                self.cnonce.as_bytes(),
            ]);
            &session_ha1
        } else {
            ha1
        };
        let ha2 = algorithm.hex(&[method.as_bytes(), self.uri.as_bytes()]);
        algorithm.hex(&[
            ha1.as_bytes(),
            self.nonce.as_bytes(),
            self.nc_text.as_bytes(),
            self.cnonce.as_bytes(),
            b"auth",
            ha2.as_bytes(),
        ])
    }

    /// Whether the client's response is `expected`, compared in constant time.
    pub(crate) fn response_matches(&self, expected: &str) -> bool {
        bool::from(self.response.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// An RFC 8187 extended value (`UTF-8''percent-encoded`), as `username*` carries a name outside ASCII.
fn decode_ext_value(text: &str) -> Option<String> {
    let (charset, rest) = text.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return None;
    }
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

type HmacSha256 = Hmac<Sha256>;

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceState {
    /// Issued by this server and within its lifetime: its identity, for the count.
    Fresh([u8; 16]),
    /// Issued by this server, but too long ago.
    Expired,
    /// Not issued by this server (or by an earlier run of it: the key is new each run).
    Unknown,
}

/// Why a nonce count was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountRefused {
    /// Not above the highest count already accepted for this nonce: a replay.
    Replayed,
    /// The table of nonces in use is full of live ones; the client should take a new nonce.
    Full,
}

/// Issues nonces and checks them: a nonce is its issue time and a serial number, signed with a key made at start
/// (HMAC-SHA-256), so nothing is kept until a client uses one; then its highest accepted count is kept until it expires.
pub(crate) struct Nonces {
    /// One SHA-256 block, so the key goes into HMAC as it is.
    key: [u8; 64],
    start: Instant,
    lifetime: Duration,
    serial: AtomicU64,
    /// Highest count accepted, and the issue time, by nonce identity.
    counts: Mutex<HashMap<[u8; 16], (u32, u64)>>,
    capacity: usize,
}

impl Nonces {
    /// # Errors
    ///
    /// The system's random number source failed: without a secret nothing can be signed, and a fixed key would let anyone forge nonces.
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> io::Result<Nonces> {
        let mut key = [0u8; 64];
        getrandom::fill(&mut key).map_err(io::Error::other)?;
        let mut serial = [0u8; 8];
        getrandom::fill(&mut serial).map_err(io::Error::other)?;
        Ok(Nonces {
            key,
            start: Instant::now(),
            lifetime,
            serial: AtomicU64::new(u64::from_le_bytes(serial)),
            counts: Mutex::new(HashMap::new()),
            capacity,
        })
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new(&self.key.into());
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// A keyed hash of `data`, for anything else the server wants unforgeable and unguessable (the Basic cache's keys).
    pub(crate) fn keyed_hash(&self, data: &[&[u8]]) -> [u8; 32] {
        self.mac(data)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A new nonce: 64 hex digits.
    pub(crate) fn issue(&self) -> String {
        let mut identity = [0u8; 16];
        identity[..8].copy_from_slice(&self.now_ms().to_be_bytes());
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        identity[8..].copy_from_slice(&serial.to_be_bytes());
        let mac = self.mac(&[b"nonce", &identity]);
        let mut nonce = [0u8; 32];
        nonce[..16].copy_from_slice(&identity);
        nonce[16..].copy_from_slice(&mac[..16]);
        hex_of(&nonce)
    }

    /// The `opaque` value, the same for every challenge of this run.
    pub(crate) fn opaque(&self) -> String {
        hex_of(&self.mac(&[b"opaque"])[..16])
    }

    pub(crate) fn check(&self, nonce: &str) -> NonceState {
        let Some(bytes) = super::passwords::decode_hex::<32>(nonce) else {
            return NonceState::Unknown;
        };
        let mut identity = [0u8; 16];
        identity.copy_from_slice(&bytes[..16]);
        let mac = self.mac(&[b"nonce", &identity]);
        if !bool::from(mac[..16].ct_eq(&bytes[16..])) {
            return NonceState::Unknown;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&identity[..8]);
        let age = self.now_ms().saturating_sub(u64::from_be_bytes(issued));
        if u128::from(age) > self.lifetime.as_millis() {
            return NonceState::Expired;
        }
        NonceState::Fresh(identity)
    }

    /// Accepts `count` for a fresh nonce if it is above every count accepted for it before.
    pub(crate) fn accept_count(&self, identity: [u8; 16], count: u32) -> Result<(), CountRefused> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((highest, _)) = counts.get_mut(&identity) {
            if count <= *highest {
                return Err(CountRefused::Replayed);
            }
            *highest = count;
            return Ok(());
        }
        if counts.len() >= self.capacity {
            let now = self.now_ms();
            let lifetime = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
            counts.retain(|_, (_, issued)| now.saturating_sub(*issued) <= lifetime);
            if counts.len() >= self.capacity {
                return Err(CountRefused::Full);
            }
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&identity[..8]);
        counts.insert(identity, (count, u64::from_be_bytes(issued)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Option<Vec<(String, String)>> {
        parse_params(text)
    }

    #[test]
    fn auth_params_are_tokens_or_quoted_strings() {
        assert_eq!(
            params(r#"Realm="a b", qop=auth,, x = "q\"uo\\te" ,"#),
            Some(vec![
                ("realm".into(), "a b".into()),
                ("qop".into(), "auth".into()),
                ("x".into(), "q\"uo\\te".into()),
            ])
        );
        assert_eq!(params(""), Some(vec![]));
        for bad in [
            "a",
            "a=",
            "=b",
            "a=\"open",
            "a=\"x\" b=1",
            "a=1, a=2",
            "a=\"x\u{1}\"",
            "a=b c",
            "a=\"\\",
            "a=@",
        ] {
            assert_eq!(params(bad), None, "{bad:?}");
        }
    }

    // RFC 7616 section 3.9.1: Mufasa's request for /dir/index.html, in both algorithms.
    #[test]
    fn rfc_7616_examples() {
        let text = |algorithm: &str, cnonce: &str, response: &str| {
            format!(
                r#"username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm={algorithm},
                nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="{cnonce}", qop=auth,
                response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            )
            .replace('\n', "")
        };
        let ha1 = |algorithm: Algorithm| {
            algorithm.hex(&[b"Mufasa", b"http-auth@example.org", b"Circle of Life"])
        };
        let md5 = DigestResponse::parse(&text(
            "MD5",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            "8ca523f5e9506fed4657c9700eebdbec",
        ))
        .unwrap();
        assert_eq!(md5.nc, 1);
        assert!(md5.response_matches(&md5.expected(&ha1(Algorithm::Md5), "GET")));
        let sha256 = DigestResponse::parse(&text(
            "SHA-256",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ))
        .unwrap();
        assert!(sha256.response_matches(&sha256.expected(&ha1(Algorithm::Sha256), "GET")));
        assert!(!sha256.response_matches(&sha256.expected(&ha1(Algorithm::Sha256), "POST")));
    }

    #[test]
    fn digest_parameters_are_required_and_checked() {
        let good = r#"username="u", realm="r", nonce="n", uri="/", response="AB", qop=auth, nc=0000000a, cnonce="c""#;
        let parsed = DigestResponse::parse(good).unwrap();
        assert_eq!((parsed.nc, parsed.response.as_str()), (10, "ab"));
        assert_eq!(parsed.algorithm, Algorithm::Md5);
        let extended = good.replace(r#"username="u""#, "username*=UTF-8''J%C3%A4ger");
        assert_eq!(DigestResponse::parse(&extended).unwrap().username, "Jäger");
        for (from, to) in [
            ("qop=auth", "qop=auth-int"),
            (", qop=auth", ""),
            ("nc=0000000a", "nc=a"),
            ("nc=0000000a", "nc=0000000g"),
            (r#"username="u""#, "username*=latin1''x"),
            (r#"username="u""#, r#"username="u", username*=UTF-8''u"#),
            (r#"realm="r", "#, ""),
            (r#"cnonce="c""#, r#"cnonce="c", algorithm=SHA-512"#),
            (r#"cnonce="c""#, r#"cnonce="c", userhash=maybe"#),
            (r#"response="AB""#, r#"response="AB" junk"#),
        ] {
            let text = good.replace(from, to);
            assert!(DigestResponse::parse(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn nonces_expire_and_counts_only_grow() {
        let nonces = Nonces::new(Duration::from_millis(200), 2).unwrap();
        let nonce = nonces.issue();
        assert_eq!(nonce.len(), 64);
        let NonceState::Fresh(identity) = nonces.check(&nonce) else {
            panic!("a new nonce is fresh");
        };
        assert_eq!(nonces.accept_count(identity, 1), Ok(()));
        assert_eq!(
            nonces.accept_count(identity, 1),
            Err(CountRefused::Replayed)
        );
        assert_eq!(nonces.accept_count(identity, 3), Ok(()));
        assert_eq!(
            nonces.accept_count(identity, 2),
            Err(CountRefused::Replayed)
        );
        // A nonce changed by one digit, or from another key, is unknown.
        let mut forged = nonce.clone().into_bytes();
        forged[3] = if forged[3] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            nonces.check(&String::from_utf8(forged).unwrap()),
            NonceState::Unknown
        );
        assert_eq!(
            Nonces::new(Duration::from_secs(9), 2)
                .unwrap()
                .check(&nonce),
            NonceState::Unknown
        );
        assert_eq!(nonces.check("xyz"), NonceState::Unknown);
        // The table holds two live nonces; a third waits for one to expire.
        let NonceState::Fresh(second) = nonces.check(&nonces.issue()) else {
            panic!()
        };
        assert_eq!(nonces.accept_count(second, 1), Ok(()));
        let NonceState::Fresh(third) = nonces.check(&nonces.issue()) else {
            panic!()
        };
        assert_eq!(nonces.accept_count(third, 1), Err(CountRefused::Full));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(nonces.check(&nonce), NonceState::Expired);
        assert_eq!(nonces.accept_count(third, 1), Ok(()));
        assert_eq!(nonces.opaque(), nonces.opaque());
    }
}
