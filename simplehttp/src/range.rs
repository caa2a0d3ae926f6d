//! Range requests (RFC 9110 §14), which Python's server lacks: parsing `Range`, `If-Range`, and the `multipart/byteranges` layout.
//!
//! Parsing is pure and bounded: at most [`MAX_RANGES`] ranges are looked at, numbers saturate instead of overflowing, and overlapping or adjacent ranges are merged, so a request cannot make the response larger than the file plus the part headers.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::conditional::{parse_entity_tag, parse_http_date, truncate_to_seconds};

/// The most ranges one `Range` header may ask for; a header with more is ignored and the whole file is sent.
pub const MAX_RANGES: usize = 64;

/// An inclusive byte range `start..=end` of a representation, as `Content-Range` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte's offset.
    pub start: u64,
    /// The last byte's offset (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes in the range (never zero).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// The `Content-Range` value for this range of a representation of `complete_length` bytes: `bytes 0-4/100`.
    pub fn content_range(&self, complete_length: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, complete_length)
    }
}

/// The `Content-Range` value of a 416 response: `bytes */100`.
pub fn unsatisfied_content_range(complete_length: u64) -> String {
    format!("bytes */{complete_length}")
}

/// What a `Range` header asks of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole representation with 200: the header is invalid, of another unit, asks too much, or the representation is empty.
    Full,
    /// Send these ranges with 206: one range as a plain body, several as `multipart/byteranges`; sorted, never empty, never overlapping or touching.
    Partial(Vec<ByteRange>),
    /// Answer 416 with `Content-Range: bytes */length`: the header is valid but no range overlaps the representation.
    Unsatisfiable,
}

/// One `range-spec` as written, before the length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// `first-last` or `first-`.
    FromTo(u64, Option<u64>),
    /// `-suffix`.
    Suffix(u64),
}

/// Parses unsigned decimal digits (at least one), saturating at `u64::MAX`.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |value, digit| {
        value
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

fn parse_spec(text: &str) -> Option<RangeSpec> {
    if let Some(suffix) = text.strip_prefix('-') {
        return parse_digits(suffix).map(RangeSpec::Suffix);
    }
    let (first, last) = text.split_once('-')?;
    let first = parse_digits(first)?;
    if last.is_empty() {
        return Some(RangeSpec::FromTo(first, None));
    }
    let last = parse_digits(last)?;
    (last >= first).then_some(RangeSpec::FromTo(first, Some(last)))
}

/// The specs of a `bytes=` header, or `None` when the header must be ignored.
fn parse_specs(header: &str) -> Option<Vec<RangeSpec>> {
    let (unit, set) = header.trim_matches([' ', '\t']).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // RFC 9110 §5.6.1.2: empty list elements are accepted and skipped.
    for element in set
        .split(',')
        .map(|element| element.trim_matches([' ', '\t']))
    {
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGES {
            return None;
        }
        specs.push(parse_spec(element)?);
    }
    (!specs.is_empty()).then_some(specs)
}

/// Reads a `Range` header for a representation of `complete_length` bytes (RFC 9110 §14.2).
///
/// A header that does not parse, names a unit other than `bytes`, or has more than [`MAX_RANGES`] ranges is ignored ([`RangeRequest::Full`]), as the RFC allows.
/// Ranges are clipped to the representation, sorted, and merged where they overlap or touch, so the answer is never larger than the file.
/// An empty representation is always sent whole, since no byte range can describe it.
///
/// ```
/// use simplehttp::{parse_range, ByteRange, RangeRequest};
///
/// assert_eq!(parse_range("bytes=0-4", 10), RangeRequest::Partial(vec![ByteRange { start: 0, end: 4 }]));
/// assert_eq!(parse_range("bytes=-3", 10), RangeRequest::Partial(vec![ByteRange { start: 7, end: 9 }]));
/// assert_eq!(parse_range("bytes=20-", 10), RangeRequest::Unsatisfiable);
/// assert_eq!(parse_range("lines=1-2", 10), RangeRequest::Full);
/// ```
pub fn parse_range(header: &str, complete_length: u64) -> RangeRequest {
    let Some(specs) = parse_specs(header) else {
        return RangeRequest::Full;
    };
    if complete_length == 0 {
        return RangeRequest::Full;
    }
    let last_byte = complete_length - 1;
    let mut ranges: Vec<ByteRange> = specs
        .into_iter()
        .filter_map(|spec| match spec {
            RangeSpec::FromTo(first, last) if first <= last_byte => Some(ByteRange {
                start: first,
                end: last.map_or(last_byte, |last| last.min(last_byte)),
            }),
            RangeSpec::FromTo(..) => None,
            RangeSpec::Suffix(0) => None,
            RangeSpec::Suffix(length) => Some(ByteRange {
                start: complete_length - length.min(complete_length),
                end: last_byte,
            }),
        })
        .collect();
    if ranges.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(previous) if range.start <= previous.end.saturating_add(1) => {
                previous.end = previous.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    RangeRequest::Partial(merged)
}

/// Whether `If-Range` lets the `Range` header apply (RFC 9110 §13.1.5); when it does not, the whole representation is sent.
///
/// An entity tag must match `etag` by strong comparison (a weak tag never matches); a date must equal the `Last-Modified` second exactly.
/// Anything else, including a value that does not parse, does not match.
pub fn if_range_matches(if_range: &str, etag: &str, last_modified: SystemTime) -> bool {
    let value = if_range.trim_matches([' ', '\t']);
    if value.starts_with('"') || value.starts_with("W/") {
        return match (parse_entity_tag(value), parse_entity_tag(etag)) {
            (Some(requested), Some(current)) => requested.strong_eq(&current),
            _ => false,
        };
    }
    parse_http_date(value).is_some_and(|date| date == truncate_to_seconds(last_modified))
}

/// A fresh boundary for `multipart/byteranges`: 32 hex digits from the standard library's randomly keyed hasher, so file content cannot predict it.
pub fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut halves = [0u64; 2];
    for (index, half) in halves.iter_mut().enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_usize(index);
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}

/// The layout of a `multipart/byteranges` body (RFC 9110 §14.6), computed without reading the file.
///
/// Each part is `CRLF --boundary CRLF Content-Type: … CRLF Content-Range: bytes a-b/n CRLF CRLF <bytes>`, and the body ends with `CRLF --boundary-- CRLF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartByteranges {
    boundary: String,
    part_content_type: String,
    complete_length: u64,
    ranges: Vec<ByteRange>,
}

impl MultipartByteranges {
    /// A layout for `ranges` of a representation of `complete_length` bytes whose own type is `part_content_type`.
    pub fn new(
        boundary: impl Into<String>,
        part_content_type: impl Into<String>,
        complete_length: u64,
        ranges: Vec<ByteRange>,
    ) -> Self {
        Self {
            boundary: boundary.into(),
            part_content_type: part_content_type.into(),
            complete_length,
            ranges,
        }
    }

    /// The response's `Content-Type`: `multipart/byteranges; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }

    /// The ranges, in the order they are sent.
    pub fn ranges(&self) -> &[ByteRange] {
        &self.ranges
    }

    /// The bytes that come before `range`'s data.
    pub fn part_header(&self, range: &ByteRange) -> String {
        format!(
            "\r\n--{}\r\nContent-Type: {}\r\nContent-Range: {}\r\n\r\n",
            self.boundary,
            self.part_content_type,
            range.content_range(self.complete_length)
        )
    }

    /// The bytes that close the body.
    pub fn trailer(&self) -> String {
        format!("\r\n--{}--\r\n", self.boundary)
    }

    /// The exact `Content-Length` of the whole body.
    pub fn content_length(&self) -> u64 {
        let parts: u64 = self
            .ranges
            .iter()
            .map(|range| (self.part_header(range).len() as u64).saturating_add(range.len()))
            .fold(0, u64::saturating_add);
        parts.saturating_add(self.trailer().len() as u64)
    }

    /// Writes the whole body, copying each range from `source`.
    ///
    /// # Errors
    ///
    /// An error from `source` or `output`; a file that became shorter than its ranges gives [`io::ErrorKind::UnexpectedEof`], since the length was already promised.
    pub fn write_to<R: Read + Seek, W: Write>(
        &self,
        source: &mut R,
        output: &mut W,
    ) -> io::Result<()> {
        for range in &self.ranges {
            output.write_all(self.part_header(range).as_bytes())?;
            copy_range(source, output, range)?;
        }
        output.write_all(self.trailer().as_bytes())
    }
}

/// Copies one range of `source` to `output`.
///
/// # Errors
///
/// An error from either side, or [`io::ErrorKind::UnexpectedEof`] when `source` ends before the range does.
pub fn copy_range<R: Read + Seek, W: Write>(
    source: &mut R,
    output: &mut W,
    range: &ByteRange,
) -> io::Result<()> {
    source.seek(SeekFrom::Start(range.start))?;
    let copied = io::copy(&mut source.take(range.len()), output)?;
    if copied == range.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shorter than the range promised",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::time::{Duration, UNIX_EPOCH};

    fn check(header: &str, length: u64, expected: &str) {
        let answer = match parse_range(header, length) {
            RangeRequest::Full => "full".to_owned(),
            RangeRequest::Unsatisfiable => "416".to_owned(),
            RangeRequest::Partial(ranges) => ranges
                .iter()
                .map(|range| format!("{}-{}", range.start, range.end))
                .collect::<Vec<_>>()
                .join(","),
        };
        assert_eq!(answer, expected, "parse_range({header:?}, {length})");
    }

    #[test]
    fn single_ranges() {
        check("bytes=0-0", 10, "0-0");
        check("bytes=0-9", 10, "0-9");
        check("bytes=0-99", 10, "0-9");
        check("bytes=3-", 10, "3-9");
        check("bytes=9-", 10, "9-9");
        check("bytes=-1", 10, "9-9");
        check("bytes=-10", 10, "0-9");
        check("bytes=-100", 10, "0-9");
        check("BYTES=1-2", 10, "1-2");
        check(" bytes=1-2 ", 10, "1-2");
    }

    #[test]
    fn unsatisfiable() {
        check("bytes=10-", 10, "416");
        check("bytes=10-20", 10, "416");
        check("bytes=-0", 10, "416");
        check("bytes=10-,-0", 10, "416");
        check("bytes=99999999999999999999999-", 10, "416");
    }

    #[test]
    fn invalid_headers_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-4",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1 -2",
            "bytes=0x1-2",
            "bytes =1-2",
            "items=1-2",
            "bytes=1-2,x",
            "bytes=--1",
        ] {
            check(header, 10, "full");
        }
    }

    #[test]
    fn several_ranges_are_sorted_and_merged() {
        check("bytes=0-1,4-5", 10, "0-1,4-5");
        check("bytes=4-5,0-1", 10, "0-1,4-5");
        check("bytes=0-1,2-3", 10, "0-3");
        check("bytes=0-5,3-8", 10, "0-8");
        check("bytes=0-1, ,-2", 10, "0-1,8-9");
        check("bytes=0-1,,20-30", 10, "0-1");
        check("bytes=0-,0-,0-,0-", 10, "0-9");
        check("bytes=1-1,3-3,5-5\t", 10, "1-1,3-3,5-5");
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let within = format!("bytes={}", vec!["0-0"; MAX_RANGES].join(","));
        check(&within, 10, "0-0");
        let beyond = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        check(&beyond, 10, "full");
    }

    #[test]
    fn huge_numbers_saturate() {
        check("bytes=0-99999999999999999999999", 10, "0-9");
        check("bytes=-99999999999999999999999", 10, "0-9");
        check(
            "bytes=18446744073709551614-",
            u64::MAX,
            "18446744073709551614-18446744073709551614",
        );
    }

    #[test]
    fn empty_representation_is_sent_whole() {
        check("bytes=0-", 0, "full");
        check("bytes=-5", 0, "full");
    }

    #[test]
    fn content_range_values() {
        let range = ByteRange { start: 0, end: 4 };
        assert_eq!(range.content_range(100), "bytes 0-4/100");
        assert_eq!(range.len(), 5);
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
    }

    #[test]
    fn if_range_by_entity_tag_and_date() {
        let modified = UNIX_EPOCH + Duration::new(784_111_777, 500_000_000);
        let etag = "\"a-b\"";
        assert!(if_range_matches("\"a-b\"", etag, modified));
        assert!(!if_range_matches("W/\"a-b\"", etag, modified));
        assert!(!if_range_matches("\"other\"", etag, modified));
        assert!(if_range_matches(
            "Sun, 06 Nov 1994 08:49:37 GMT",
            etag,
            modified
        ));
        assert!(!if_range_matches(
            "Sun, 06 Nov 1994 08:49:38 GMT",
            etag,
            modified
        ));
        assert!(!if_range_matches(
            "Sun, 06 Nov 1994 08:49:36 GMT",
            etag,
            modified
        ));
        assert!(!if_range_matches("not a date", etag, modified));
        assert!(!if_range_matches("", etag, modified));
    }

    #[test]
    fn multipart_layout_and_exact_length() {
        let content: Vec<u8> = (0..100u8).collect();
        let ranges = vec![
            ByteRange { start: 0, end: 4 },
            ByteRange { start: 90, end: 99 },
        ];
        let layout = MultipartByteranges::new("XYZ", "text/plain", 100, ranges.clone());
        assert_eq!(layout.ranges(), &ranges[..]);
        let mut body = Vec::new();
        layout
            .write_to(&mut Cursor::new(&content), &mut body)
            .unwrap();
        assert_eq!(layout.content_length(), body.len() as u64);
        let mut expected =
            b"\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-4/100\r\n\r\n"
                .to_vec();
        expected.extend_from_slice(&content[0..5]);
        expected.extend_from_slice(
            b"\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 90-99/100\r\n\r\n",
        );
        expected.extend_from_slice(&content[90..100]);
        expected.extend_from_slice(b"\r\n--XYZ--\r\n");
        assert_eq!(body, expected);
        assert_eq!(layout.content_type(), "multipart/byteranges; boundary=XYZ");
    }

    #[test]
    fn short_file_is_an_error() {
        let layout = MultipartByteranges::new(
            "B",
            "text/plain",
            100,
            vec![ByteRange { start: 0, end: 50 }],
        );
        let error = layout
            .write_to(&mut Cursor::new(vec![0u8; 10]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn boundaries_differ() {
        let first = new_boundary();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, new_boundary());
    }
}
