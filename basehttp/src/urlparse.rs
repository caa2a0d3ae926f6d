//! Python's `urllib.parse` helpers that request handlers reach for: [`parse_qs`], [`parse_qsl`], [`unquote`],
//! [`unquote_plus`], [`quote`], [`quote_plus`], [`urlencode`] and [`urlsplit`], with Python's semantics.
//!
//! Queries are decoded by `form_urlencoded` (the WHATWG `application/x-www-form-urlencoded` parser, which splits and
//! decodes exactly as Python's default `parse_qsl` does) and escapes by `percent-encoding`, rather than by hand.
//! What Python adds on top is kept: `keep_blank_values`, `strict_parsing`, `errors='strict'` and `max_num_fields`
//! ([`QueryOptions`]), the `+` that only the `_plus` functions and queries read as a space, and the set of
//! characters `quote` leaves alone (letters, digits, `_.-~` and `safe`, where WHATWG's serializer differs on `*` and `~`).
//!
//! Text is UTF-8 throughout (Python's default `encoding`); the `separator` argument of `parse_qsl` is always `&`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use percent_encoding::{percent_decode_str, percent_encode_byte};

/// What a parse of a query or URL refused (Python raises `ValueError`, or `UnicodeDecodeError` for `errors='strict'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlParseError {
    /// `strict_parsing`: a field without `=`, or an empty one (Python's `bad query field`).
    BadQueryField,
    /// More fields than `max_num_fields` (Python's `Max number of fields exceeded`).
    TooManyFields,
    /// `errors='strict'`: escapes that do not decode as UTF-8.
    InvalidUtf8,
    /// A netloc with `[` and no `]`, or `]` and no `[` (Python's `Invalid IPv6 URL`).
    InvalidIpv6Url,
    /// Brackets around something that is not an IPv6 address or an IPvFuture literal.
    InvalidBracketedHost,
    /// A port that is not all ASCII digits (Python's `Port could not be cast to integer value`).
    InvalidPort,
    /// A port above 65535 (Python's `Port out of range 0-65535`).
    PortOutOfRange,
}

impl fmt::Display for UrlParseError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            UrlParseError::BadQueryField => "bad query field",
            UrlParseError::TooManyFields => "max number of fields exceeded",
            UrlParseError::InvalidUtf8 => "percent-encoded bytes are not valid UTF-8",
            UrlParseError::InvalidIpv6Url => "invalid IPv6 URL",
            UrlParseError::InvalidBracketedHost => {
                "brackets hold neither an IPv6 address nor an IPvFuture literal"
            }
            UrlParseError::InvalidPort => "port could not be cast to an integer",
            UrlParseError::PortOutOfRange => "port out of range 0-65535",
        })
    }
}

impl std::error::Error for UrlParseError {}

/// So a hook can use `?` on these parsers: the error is answered with 500, as any hook error is.
impl From<UrlParseError> for io::Error {
    fn from(error: UrlParseError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, error)
    }
}

/// How undecodable escapes are read (Python's `errors` argument).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DecodeErrors {
    /// Each invalid sequence becomes U+FFFD (Python's default, `errors='replace'`).
    #[default]
    Replace,
    /// An invalid sequence is an error, [`UrlParseError::InvalidUtf8`] (`errors='strict'`).
    Strict,
}

/// Python's keyword arguments of `parse_qs` and `parse_qsl`; the default is Python's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Keep fields with an empty value (`a=` and a bare `a`) as empty strings; by default they are dropped.
    pub keep_blank_values: bool,
    /// Refuse a field without `=` (and an empty one) instead of skipping it.
    pub strict_parsing: bool,
    /// How escapes that are not UTF-8 are read.
    pub errors: DecodeErrors,
    /// Refuse a query with more fields than this (`1 +` the number of `&`), before reading any.
    pub max_num_fields: Option<usize>,
}

/// Replaces `%xx` escapes by the bytes they name and reads the result as UTF-8, invalid sequences as U+FFFD
/// (Python's `unquote(string)`). A `%` not followed by two hex digits stays as it is; `+` stays a `+`.
///
/// ```
/// assert_eq!(basehttp::unquote("abc%20def%2Fghi"), "abc def/ghi");
/// assert_eq!(basehttp::unquote("%zz%e2%82"), "%zz\u{fffd}");
/// ```
pub fn unquote(string: &str) -> Cow<'_, str> {
    percent_decode_str(string).decode_utf8_lossy()
}

/// [`unquote`] with Python's `errors` argument.
///
/// # Errors
///
/// With [`DecodeErrors::Strict`], [`UrlParseError::InvalidUtf8`] for escapes that do not form UTF-8.
pub fn unquote_with(string: &str, errors: DecodeErrors) -> Result<Cow<'_, str>, UrlParseError> {
    match errors {
        DecodeErrors::Replace => Ok(unquote(string)),
        DecodeErrors::Strict => percent_decode_str(string)
            .decode_utf8()
            .map_err(|_| UrlParseError::InvalidUtf8),
    }
}

/// [`unquote`] that also reads `+` as a space, as HTML forms encode it (Python's `unquote_plus`).
///
/// ```
/// assert_eq!(basehttp::unquote_plus("%7e/abc+def"), "~/abc def");
/// ```
pub fn unquote_plus(string: &str) -> Cow<'_, str> {
    if string.contains('+') {
        Cow::Owned(unquote(&string.replace('+', " ")).into_owned())
    } else {
        unquote(string)
    }
}

fn unquote_plus_with(string: &str, errors: DecodeErrors) -> Result<String, UrlParseError> {
    Ok(unquote_with(&string.replace('+', " "), errors)?.into_owned())
}

/// Python's `quote_from_bytes`: each UTF-8 byte that is not a letter, a digit, one of `_.-~` (Python's `_ALWAYS_SAFE`)
/// or an ASCII character of `safe` becomes `%XX`. percent-encoding's `AsciiSet` only comes as a `'static` value, and `safe` is the caller's.
fn quote_bytes(string: &str, safe: &str) -> String {
    let mut quoted = String::with_capacity(string.len());
    for byte in string.bytes() {
        let kept = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'.' | b'-' | b'~')
            || (byte.is_ascii() && safe.as_bytes().contains(&byte));
        if kept {
            quoted.push(char::from(byte));
        } else {
            quoted.push_str(percent_encode_byte(byte));
        }
    }
    quoted
}

/// Escapes every character but letters, digits, `_.-~` and those in `safe` as `%XX` of its UTF-8 bytes
/// (Python's `quote(string, safe)`; Python's default `safe` is `"/"`). Characters of `safe` outside ASCII are ignored, as in Python.
///
/// ```
/// assert_eq!(basehttp::quote("/a b/é?", "/"), "/a%20b/%C3%A9%3F");
/// assert_eq!(basehttp::quote("/a b", ""), "%2Fa%20b");
/// ```
pub fn quote(string: &str, safe: &str) -> String {
    quote_bytes(string, safe)
}

/// [`quote`] that writes a space as `+`, for HTML form values and queries (Python's `quote_plus(string, safe)`; Python's default `safe` is `""`).
///
/// ```
/// assert_eq!(basehttp::quote_plus("a b&c=d/e", ""), "a+b%26c%3Dd%2Fe");
/// ```
pub fn quote_plus(string: &str, safe: &str) -> String {
    if !string.contains(' ') {
        return quote(string, safe);
    }
    quote_bytes(string, &format!("{safe} ")).replace(' ', "+")
}

/// Joins `name=value` pairs with `&`, each side escaped by [`quote_plus`] with no safe characters (Python's `urlencode`).
///
/// A name with several values is several pairs, which is what Python's `doseq=True` produces from a list.
///
/// ```
/// let query = basehttp::urlencode([("q", "rust & python"), ("page", "2")]);
/// assert_eq!(query, "q=rust+%26+python&page=2");
/// ```
pub fn urlencode<I, K, V>(query: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut encoded = String::new();
    for (name, value) in query {
        if !encoded.is_empty() {
            encoded.push('&');
        }
        encoded.push_str(&quote_plus(name.as_ref(), ""));
        encoded.push('=');
        encoded.push_str(&quote_plus(value.as_ref(), ""));
    }
    encoded
}

/// The `(name, value)` fields of a query in order, decoded, `+` read as a space, fields with an empty value dropped
/// (Python's `parse_qsl(qs)`); `keep_blank_values` keeps those as empty strings (Python's `parse_qsl(qs, keep_blank_values=True)`).
///
/// ```
/// let fields = basehttp::parse_qsl("a=1&b=x+y%21&a=2&empty=&bare", false);
/// assert_eq!(fields, [("a", "1"), ("b", "x y!"), ("a", "2")].map(|(n, v)| (n.to_owned(), v.to_owned())));
/// ```
pub fn parse_qsl(qs: &str, keep_blank_values: bool) -> Vec<(String, String)> {
    form_urlencoded::parse(qs.as_bytes())
        .filter(|(_, value)| keep_blank_values || !value.is_empty())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// [`parse_qsl`] with all of Python's keyword arguments ([`QueryOptions`]).
///
/// # Errors
///
/// [`UrlParseError::TooManyFields`] over `max_num_fields`; with `strict_parsing`, [`UrlParseError::BadQueryField`]
/// for a field without `=`; with [`DecodeErrors::Strict`], [`UrlParseError::InvalidUtf8`].
pub fn parse_qsl_with(
    qs: &str,
    options: &QueryOptions,
) -> Result<Vec<(String, String)>, UrlParseError> {
    if qs.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(limit) = options.max_num_fields {
        // Counted before anything is decoded, so a huge query costs no allocation (Python's guard against a memory DoS).
        if 1 + qs.matches('&').count() > limit {
            return Err(UrlParseError::TooManyFields);
        }
    }
    if !options.strict_parsing && options.errors == DecodeErrors::Replace {
        return Ok(parse_qsl(qs, options.keep_blank_values));
    }
    let mut fields = Vec::new();
    for field in qs.split('&') {
        if field.is_empty() && !options.strict_parsing {
            continue;
        }
        let (name, value) = match field.split_once('=') {
            Some(pair) => pair,
            None if options.strict_parsing => return Err(UrlParseError::BadQueryField),
            None => (field, ""),
        };
        if !value.is_empty() || options.keep_blank_values {
            fields.push((
                unquote_plus_with(name, options.errors)?,
                unquote_plus_with(value, options.errors)?,
            ));
        }
    }
    Ok(fields)
}

/// The query's fields by name, each with its values in order (Python's `parse_qs(qs)`, a dict of lists).
///
/// ```
/// let query = basehttp::parse_qs("limit=10&tag=a&tag=b", false);
/// assert_eq!(query["tag"], ["a", "b"]);
/// let limit = query.get("limit").map_or("100", |values| &values[0]);
/// assert_eq!(limit, "10");
/// ```
pub fn parse_qs(qs: &str, keep_blank_values: bool) -> HashMap<String, Vec<String>> {
    collect_fields(parse_qsl(qs, keep_blank_values))
}

/// [`parse_qs`] with all of Python's keyword arguments ([`QueryOptions`]).
///
/// # Errors
///
/// As [`parse_qsl_with`].
pub fn parse_qs_with(
    qs: &str,
    options: &QueryOptions,
) -> Result<HashMap<String, Vec<String>>, UrlParseError> {
    parse_qsl_with(qs, options).map(collect_fields)
}

fn collect_fields(fields: Vec<(String, String)>) -> HashMap<String, Vec<String>> {
    let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in fields {
        by_name.entry(name).or_default().push(value);
    }
    by_name
}

/// A URL in five parts, none of them decoded (Python's `SplitResult`); `username`, `password`, `hostname` and `port` read the netloc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitResult {
    /// The scheme, lowercased; empty when the URL has none.
    pub scheme: String,
    /// What follows `//` up to the path, query or fragment: `user:password@host:port`.
    pub netloc: String,
    /// The path; for a request target, what a handler routes on.
    pub path: String,
    /// What follows `?`, without it.
    pub query: String,
    /// What follows `#`, without it.
    pub fragment: String,
}

impl SplitResult {
    /// The user before `@` in the netloc (Python's `username`).
    pub fn username(&self) -> Option<&str> {
        let (userinfo, _) = self.netloc.rsplit_once('@')?;
        Some(userinfo.split_once(':').map_or(userinfo, |(user, _)| user))
    }

    /// The password after the user's `:` (Python's `password`).
    pub fn password(&self) -> Option<&str> {
        let (userinfo, _) = self.netloc.rsplit_once('@')?;
        userinfo.split_once(':').map(|(_, password)| password)
    }

    /// The host and the port text of the netloc (Python's `_hostinfo`).
    fn host_info(&self) -> (&str, Option<&str>) {
        let hostinfo = self
            .netloc
            .rsplit_once('@')
            .map_or(self.netloc.as_str(), |(_, host)| host);
        let (hostname, port) = match hostinfo.split_once('[') {
            Some((_, bracketed)) => {
                let (hostname, rest) = bracketed.split_once(']').unwrap_or((bracketed, ""));
                (hostname, rest.split_once(':').map_or("", |(_, port)| port))
            }
            None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
        };
        (hostname, (!port.is_empty()).then_some(port))
    }

    /// The host, lowercased but for an IPv6 zone, without brackets; `None` when empty (Python's `hostname`).
    pub fn hostname(&self) -> Option<String> {
        let (hostname, _) = self.host_info();
        if hostname.is_empty() {
            return None;
        }
        Some(match hostname.split_once('%') {
            Some((address, zone)) => format!("{}%{zone}", address.to_lowercase()),
            None => hostname.to_lowercase(),
        })
    }

    /// The port, `None` when the netloc names none (Python's `port`).
    ///
    /// # Errors
    ///
    /// [`UrlParseError::InvalidPort`] when it is not all ASCII digits, [`UrlParseError::PortOutOfRange`] above 65535.
    pub fn port(&self) -> Result<Option<u16>, UrlParseError> {
        let (_, Some(port)) = self.host_info() else {
            return Ok(None);
        };
        if !port.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(UrlParseError::InvalidPort);
        }
        let digits = port.trim_start_matches('0');
        if digits.len() > 5 {
            return Err(UrlParseError::PortOutOfRange);
        }
        let number: u32 = digits.parse().unwrap_or(0);
        u16::try_from(number)
            .map(Some)
            .map_err(|_| UrlParseError::PortOutOfRange)
    }
}

/// Splits a URL (or a request target such as `/items?limit=2`) into scheme, netloc, path, query and fragment (Python's `urlsplit(url)`).
///
/// As Python: leading C0 controls and spaces are stripped and every tab, CR and LF removed first; nothing is decoded;
/// a scheme is recognised only before the first `:` when it starts with a letter; a bracketed host must be an IPv6 address
/// (a zone allowed) or an IPvFuture literal. Python's NFKC check of a netloc outside ASCII is not made (basehttp refuses
/// request targets outside ASCII before a hook sees them). Python's `urlparse`, which also cuts `;params` from the path, maps here too:
/// the parameters stay in the path.
///
/// ```
/// let url = basehttp::urlsplit("HTTP://user:pw@[::1]:8080/a/b?x=1#frag")?;
/// assert_eq!((url.scheme.as_str(), url.path.as_str(), url.query.as_str()), ("http", "/a/b", "x=1"));
/// assert_eq!((url.username(), url.password(), url.port()?), (Some("user"), Some("pw"), Some(8080)));
/// assert_eq!(url.hostname().as_deref(), Some("::1"));
/// # Ok::<(), basehttp::UrlParseError>(())
/// ```
///
/// # Errors
///
/// [`UrlParseError::InvalidIpv6Url`] for unbalanced brackets in the netloc, [`UrlParseError::InvalidBracketedHost`] for a bracketed host that is not IPv6.
#[doc(alias = "urlparse")]
pub fn urlsplit(url: &str) -> Result<SplitResult, UrlParseError> {
    let url: String = url
        .trim_start_matches(|character: char| character <= ' ')
        .chars()
        .filter(|character| !matches!(character, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = url.as_str();
    let mut result = SplitResult::default();
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let starts_with_letter = candidate
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic);
        if starts_with_letter
            && candidate
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'))
        {
            result.scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let netloc = &after[..end];
        if netloc.contains('[') != netloc.contains(']') {
            return Err(UrlParseError::InvalidIpv6Url);
        }
        if let Some((_, bracketed)) = netloc.split_once('[') {
            check_bracketed_host(
                bracketed
                    .split_once(']')
                    .map_or(bracketed, |(host, _)| host),
            )?;
        }
        result.netloc = netloc.to_owned();
        rest = &after[end..];
    }
    if let Some((before, fragment)) = rest.split_once('#') {
        result.fragment = fragment.to_owned();
        rest = before;
    }
    if let Some((before, query)) = rest.split_once('?') {
        result.query = query.to_owned();
        rest = before;
    }
    result.path = rest.to_owned();
    Ok(result)
}

/// Python's `_check_bracketed_host`: an IPvFuture literal (`v1.x`), or an IPv6 address with an optional zone, but not IPv4.
fn check_bracketed_host(host: &str) -> Result<(), UrlParseError> {
    if let Some(future) = host.strip_prefix('v') {
        let valid = future.split_once('.').is_some_and(|(version, rest)| {
            !version.is_empty()
                && version.bytes().all(|byte| byte.is_ascii_hexdigit())
                && !rest.is_empty()
        });
        return if valid {
            Ok(())
        } else {
            Err(UrlParseError::InvalidBracketedHost)
        };
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Err(UrlParseError::InvalidBracketedHost);
    }
    // Python's ipaddress takes a zone (`fe80::1%eth0`) of anything but `%`; std's parser takes none, so it is cut off first.
    let address = match host.split_once('%') {
        Some((address, zone)) if !zone.is_empty() && !zone.contains('%') => address,
        Some(_) => return Err(UrlParseError::InvalidBracketedHost),
        None => host,
    };
    address
        .parse::<Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| UrlParseError::InvalidBracketedHost)
}

#[cfg(test)]
mod tests;
