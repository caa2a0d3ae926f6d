//! Conditional requests (RFC 9110 §13): entity tags, HTTP dates and the order in which preconditions are evaluated.
//!
//! Python's server only answers `If-Modified-Since`; this adds `If-Match`, `If-Unmodified-Since` and `If-None-Match` with an `ETag` made from the file's size and modification time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An entity tag as written in a header: `"xyz"` or `W/"xyz"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// Whether the tag carries the `W/` prefix.
    pub weak: bool,
    /// The text between the quotes.
    pub opaque: &'a str,
}

impl EntityTag<'_> {
    /// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their text equal.
    pub fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the text equal, whatever the `W/` prefixes.
    pub fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// Whether a byte may appear inside an entity tag's quotes (`etagc`: `!`, `#`–`~` and obs-text).
fn is_etagc(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7E).contains(&byte) || byte >= 0x80
}

/// Reads one entity tag at the start of `text`, returning it and the rest.
fn take_entity_tag(text: &str) -> Option<(EntityTag<'_>, &str)> {
    let (weak, rest) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let inner = rest.strip_prefix('"')?;
    let close = inner.find('"')?;
    let opaque = &inner[..close];
    opaque
        .bytes()
        .all(is_etagc)
        .then_some((EntityTag { weak, opaque }, &inner[close + 1..]))
}

/// Parses a value that is exactly one entity tag (surrounding spaces allowed).
pub fn parse_entity_tag(text: &str) -> Option<EntityTag<'_>> {
    let (tag, rest) = take_entity_tag(text.trim_matches([' ', '\t']))?;
    rest.is_empty().then_some(tag)
}

/// The members of an `If-Match` or `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTagList<'a> {
    /// `*`: any current representation.
    Any,
    /// The entity tags that parsed; malformed members are skipped, so they match nothing.
    Tags(Vec<EntityTag<'a>>),
}

/// Parses an entity-tag list (`*` or `1#entity-tag`), tolerating malformed members by skipping to the next comma.
pub fn parse_entity_tag_list(text: &str) -> EntityTagList<'_> {
    let trimmed = text.trim_matches([' ', '\t']);
    if trimmed == "*" {
        return EntityTagList::Any;
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        match take_entity_tag(rest) {
            Some((tag, after))
                if after.trim_start_matches([' ', '\t']).is_empty()
                    || after.trim_start_matches([' ', '\t']).starts_with(',') =>
            {
                tags.push(tag);
                rest = after;
            }
            _ => {
                // A malformed member: skip past the next comma outside quotes, or to the end.
                rest = skip_member(rest);
            }
        }
    }
    EntityTagList::Tags(tags)
}

/// The text after the current list member's comma, honouring quotes so a comma inside a tag does not end it.
fn skip_member(text: &str) -> &str {
    let mut in_quotes = false;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => return &text[index + 1..],
            _ => {}
        }
    }
    ""
}

impl EntityTagList<'_> {
    fn matches(&self, current: &EntityTag<'_>, strong: bool) -> bool {
        match self {
            EntityTagList::Any => true,
            EntityTagList::Tags(tags) => tags.iter().any(|tag| {
                if strong {
                    tag.strong_eq(current)
                } else {
                    tag.weak_eq(current)
                }
            }),
        }
    }
}

/// A strong `ETag` for a file from its size and modification time in nanoseconds: `"<hex size>-<hex mtime>"`.
///
/// Any write that changes the size or the modification time changes the tag; a modification time before 1970 is written with a leading `-`.
pub fn etag_for(size: u64, modified: SystemTime) -> String {
    // Written digit by digit: `format!` with two hexadecimal fields costs several times as much, on every file answer.
    let mut tag = String::with_capacity(40);
    tag.push('"');
    push_hex(&mut tag, u128::from(size));
    match modified.duration_since(UNIX_EPOCH) {
        Ok(since) => {
            tag.push('-');
            push_hex(&mut tag, since.as_nanos());
        }
        Err(before) => {
            tag.push_str("--");
            push_hex(&mut tag, before.duration().as_nanos());
        }
    }
    tag.push('"');
    tag
}

/// Appends `value` in lower-case hexadecimal, as `{:x}` writes it.
fn push_hex(text: &mut String, value: u128) {
    // In 64-bit halves: a time in nanoseconds fits one, and 128-bit shifts cost several instructions each.
    let high = (value >> 64) as u64;
    let low = value as u64;
    let mut digits = [b'0'; 32];
    let mut start = digits.len();
    let mut write = |mut rest: u64, at_least: usize| {
        let end = start;
        while rest != 0 || end - start < at_least {
            start -= 1;
            digits[start] = b"0123456789abcdef"[(rest & 0xf) as usize];
            rest >>= 4;
        }
    };
    if high == 0 {
        write(low, 1);
    } else {
        write(low, 16);
        write(high, 1);
    }
    // Only hexadecimal digits were written.
    text.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// The time with its fraction of a second dropped, as `Last-Modified` (and Python's comparison) sees it.
pub fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        Err(before) => {
            let before = before.duration();
            let whole = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(whole))
                .unwrap_or(UNIX_EPOCH)
        }
    }
}

/// The `Last-Modified` (or `Date`) value for a time: `Sun, 06 Nov 1994 08:49:37 GMT`, as Python's `email.utils.formatdate(usegmt=True)`.
///
/// Any time is accepted, also one before 1970 or after 9999: basehttp's formatter never panics.
pub fn http_date(time: SystemTime) -> String {
    basehttp::date_time_string(time)
}

/// Parses an HTTP-date in any of the three forms RFC 9110 requires (IMF-fixdate, RFC 850, asctime).
///
/// Like Python's `email.utils.parsedate_to_datetime` as the server uses it, a zone written `+0000`, `-0000`, `UT` or `UTC` is read as GMT; any other zone, or a value that does not parse, gives `None`, and the header is ignored.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let text = text.trim_matches([' ', '\t']);
    if let Ok(time) = httpdate::parse_http_date(text) {
        return Some(time);
    }
    for zone in [" +0000", " -0000", " UTC", " UT"] {
        if let Some(stem) = text.strip_suffix(zone) {
            return httpdate::parse_http_date(&format!("{stem} GMT")).ok();
        }
    }
    None
}

/// The conditional request headers, each as its (combined) value if present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go on and answer the request.
    Proceed,
    /// Answer 304 Not Modified, without a body.
    NotModified,
    /// Answer 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates the preconditions in RFC 9110 §13.2.2's order for an existing file with `etag` and `last_modified`.
///
/// 1. `If-Match` (strong comparison) fails → 412.
/// 2. Otherwise, without `If-Match`, a valid `If-Unmodified-Since` earlier than the modification time → 412.
/// 3. `If-None-Match` (weak comparison) matches → 304 for GET and HEAD, 412 for other methods.
/// 4. Otherwise, for GET and HEAD without `If-None-Match`, a valid `If-Modified-Since` not earlier than the modification time (to the second) → 304: Python's rule; an invalid date is ignored.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use simplehttp::{evaluate_preconditions, Conditions, Precondition};
///
/// let modified = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// let conditions = Conditions { if_none_match: Some("\"a\", W/\"b\""), ..Conditions::default() };
/// assert_eq!(evaluate_preconditions(&conditions, true, "\"b\"", modified), Precondition::NotModified);
/// ```
pub fn evaluate_preconditions(
    conditions: &Conditions<'_>,
    is_get_or_head: bool,
    etag: &str,
    last_modified: SystemTime,
) -> Precondition {
    // Read only when a tag list is there to compare with: most requests carry no condition at all.
    let current = || {
        parse_entity_tag(etag).unwrap_or(EntityTag {
            weak: false,
            opaque: etag,
        })
    };
    let modified = truncate_to_seconds(last_modified);
    if let Some(if_match) = conditions.if_match {
        if !parse_entity_tag_list(if_match).matches(&current(), true) {
            return Precondition::PreconditionFailed;
        }
    } else if let Some(date) = conditions.if_unmodified_since.and_then(parse_http_date) {
        if modified > date {
            return Precondition::PreconditionFailed;
        }
    }
    if let Some(if_none_match) = conditions.if_none_match {
        if parse_entity_tag_list(if_none_match).matches(&current(), false) {
            return if is_get_or_head {
                Precondition::NotModified
            } else {
                Precondition::PreconditionFailed
            };
        }
    } else if is_get_or_head {
        if let Some(date) = conditions.if_modified_since.and_then(parse_http_date) {
            if modified <= date {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

#[cfg(test)]
mod tests {
    /// The HTTP date of `seconds` since the epoch, when the platform's `SystemTime` can hold that time.
    fn format_imf_fixdate(seconds: i64) -> String {
        let time = if seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(seconds.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
        };
        time.map(http_date).unwrap_or_default()
    }

    use super::*;

    /// Sun, 06 Nov 1994 08:49:37 GMT, plus half a second.
    fn modified() -> SystemTime {
        UNIX_EPOCH + Duration::new(784_111_777, 500_000_000)
    }

    const ETAG: &str = "\"10-abc\"";
    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn check(conditions: Conditions<'_>, expected: Precondition) {
        assert_eq!(
            evaluate_preconditions(&conditions, true, ETAG, modified()),
            expected,
            "{conditions:?}"
        );
    }

    fn ims(value: &str) -> Conditions<'_> {
        Conditions {
            if_modified_since: Some(value),
            ..Conditions::default()
        }
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_browser_cache.
    #[test]
    fn test_browser_cache() {
        check(ims(DATE), Precondition::NotModified);
        check(ims(LATER), Precondition::NotModified);
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_browser_cache_file_changed.
    #[test]
    fn test_browser_cache_file_changed() {
        check(ims(EARLIER), Precondition::Proceed);
    }

    // Python's parsedate_to_datetime reads +0000 and -0000 as UTC and the server ignores other zones.
    #[test]
    fn invalid_or_foreign_zone_dates_are_ignored() {
        check(ims("not a date"), Precondition::Proceed);
        check(ims(""), Precondition::Proceed);
        check(
            ims("Sun, 06 Nov 1994 08:49:37 +0000"),
            Precondition::NotModified,
        );
        check(
            ims("Sun, 06 Nov 1994 08:49:37 -0000"),
            Precondition::NotModified,
        );
        check(
            ims("Sun, 06 Nov 1994 08:49:37 +0200"),
            Precondition::Proceed,
        );
        check(
            ims("Sunday, 06-Nov-94 08:49:37 GMT"),
            Precondition::NotModified,
        );
        check(ims("Sun Nov  6 08:49:37 1994"), Precondition::NotModified);
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_browser_cache_with_If_None_Match_header.
    // Python never matches If-None-Match, so `*` gets 200 there; RFC 9110 says `*` matches an existing file, so 304 here.
    #[test]
    fn test_browser_cache_with_if_none_match_header() {
        check(
            Conditions {
                if_modified_since: Some(DATE),
                if_none_match: Some("*"),
                ..Conditions::default()
            },
            Precondition::NotModified,
        );
        check(
            Conditions {
                if_modified_since: Some(DATE),
                if_none_match: Some("\"other\""),
                ..Conditions::default()
            },
            Precondition::Proceed,
        );
        check(
            Conditions {
                if_modified_since: Some(EARLIER),
                if_none_match: Some(ETAG),
                ..Conditions::default()
            },
            Precondition::NotModified,
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        for value in [
            ETAG,
            "W/\"10-abc\"",
            "\"x\", W/\"10-abc\"",
            "*",
            " \"10-abc\" ",
        ] {
            check(
                Conditions {
                    if_none_match: Some(value),
                    ..Conditions::default()
                },
                Precondition::NotModified,
            );
        }
        assert_eq!(
            evaluate_preconditions(
                &Conditions {
                    if_none_match: Some(ETAG),
                    ..Conditions::default()
                },
                false,
                ETAG,
                modified()
            ),
            Precondition::PreconditionFailed
        );
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        for (value, expected) in [
            (ETAG, Precondition::Proceed),
            ("*", Precondition::Proceed),
            ("\"a\", \"10-abc\"", Precondition::Proceed),
            ("W/\"10-abc\"", Precondition::PreconditionFailed),
            ("\"other\"", Precondition::PreconditionFailed),
            ("garbage", Precondition::PreconditionFailed),
        ] {
            check(
                Conditions {
                    if_match: Some(value),
                    ..Conditions::default()
                },
                expected,
            );
        }
    }

    #[test]
    fn if_unmodified_since() {
        let ius = |value| Conditions {
            if_unmodified_since: Some(value),
            ..Conditions::default()
        };
        check(ius(DATE), Precondition::Proceed);
        check(ius(LATER), Precondition::Proceed);
        check(ius(EARLIER), Precondition::PreconditionFailed);
        check(ius("nonsense"), Precondition::Proceed);
        // If-Match takes precedence over If-Unmodified-Since.
        check(
            Conditions {
                if_match: Some(ETAG),
                if_unmodified_since: Some(EARLIER),
                ..Conditions::default()
            },
            Precondition::Proceed,
        );
    }

    #[test]
    fn precondition_failure_beats_not_modified() {
        check(
            Conditions {
                if_match: Some("\"other\""),
                if_none_match: Some(ETAG),
                ..Conditions::default()
            },
            Precondition::PreconditionFailed,
        );
    }

    #[test]
    fn if_modified_since_only_for_get_and_head() {
        assert_eq!(
            evaluate_preconditions(&ims(DATE), false, ETAG, modified()),
            Precondition::Proceed
        );
    }

    #[test]
    fn entity_tag_lists() {
        assert_eq!(parse_entity_tag_list(" * "), EntityTagList::Any);
        assert_eq!(
            parse_entity_tag_list("\"a,b\", junk, W/\"c\",,"),
            EntityTagList::Tags(vec![
                EntityTag {
                    weak: false,
                    opaque: "a,b"
                },
                EntityTag {
                    weak: true,
                    opaque: "c"
                },
            ])
        );
        assert_eq!(
            parse_entity_tag_list("\"a\"x, \"b\""),
            EntityTagList::Tags(vec![EntityTag {
                weak: false,
                opaque: "b"
            }])
        );
        assert_eq!(
            parse_entity_tag_list("\"unterminated"),
            EntityTagList::Tags(vec![])
        );
        assert_eq!(parse_entity_tag("\"a b\""), None);
        assert_eq!(
            parse_entity_tag("\"\""),
            Some(EntityTag {
                weak: false,
                opaque: ""
            })
        );
    }

    #[test]
    fn etags_from_size_and_time() {
        assert_eq!(
            etag_for(16, UNIX_EPOCH + Duration::new(1, 5)),
            "\"10-3b9aca05\""
        );
        assert_eq!(etag_for(0, UNIX_EPOCH), "\"0-0\"");
        assert_eq!(
            etag_for(1, UNIX_EPOCH - Duration::from_nanos(255)),
            "\"1--ff\""
        );
        assert!(parse_entity_tag(&etag_for(u64::MAX, modified())).is_some());
        for (size, nanos) in [
            (0, 1),
            (0xf, 0x10),
            (u64::MAX, u128::from(u64::MAX) + 1),
            (12_217, 1_764_772_811_123_456_789),
            (7, (1 << 70) + 0xabc),
        ] {
            let after = UNIX_EPOCH + Duration::from_nanos_u128(nanos);
            assert_eq!(etag_for(size, after), format!("\"{size:x}-{nanos:x}\""));
            let before = UNIX_EPOCH - Duration::from_nanos_u128(nanos);
            assert_eq!(etag_for(size, before), format!("\"{size:x}--{nanos:x}\""));
        }
    }

    #[test]
    fn http_dates_match_python_formatdate() {
        // python3 -c 'import email.utils as e; print(e.formatdate(T, usegmt=True))'
        for (seconds, expected) in [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (-2_208_988_800, "Mon, 01 Jan 1900 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
        ] {
            assert_eq!(format_imf_fixdate(seconds), expected, "{seconds}");
        }
        assert_eq!(
            http_date(UNIX_EPOCH - Duration::from_millis(500)),
            "Wed, 31 Dec 1969 23:59:59 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            "Sat, 01 Jan 10000 00:00:00 GMT"
        );
        let _ = format_imf_fixdate(i64::MIN);
        let _ = format_imf_fixdate(i64::MAX);
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(modified()), DATE);
        assert_eq!(parse_http_date(DATE), Some(truncate_to_seconds(modified())));
        assert_eq!(
            truncate_to_seconds(UNIX_EPOCH - Duration::from_millis(1500)),
            UNIX_EPOCH - Duration::from_secs(2)
        );
    }
}
