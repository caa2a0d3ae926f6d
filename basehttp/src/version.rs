//! [`HttpVersion`]: an HTTP version as numbers, so that versions compare as numbers rather than as text.

use std::fmt;

/// An HTTP version, `HTTP/major.minor`, ordered by its numbers.
///
/// Python compares its version strings as text (`self.protocol_version >= "HTTP/1.1"`), which happens to work for the versions
/// it meets; this compares `HTTP/1.10` above `HTTP/1.9`, and a string that is not a version is `None` instead of a surprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpVersion {
    /// The number before the dot.
    pub major: u64,
    /// The number after the dot.
    pub minor: u64,
}

impl HttpVersion {
    /// HTTP/0.9, a request line of two words.
    pub const HTTP_0_9: HttpVersion = HttpVersion { major: 0, minor: 9 };
    /// HTTP/1.0.
    pub const HTTP_1_0: HttpVersion = HttpVersion { major: 1, minor: 0 };
    /// HTTP/1.1, the first with persistent connections by default.
    pub const HTTP_1_1: HttpVersion = HttpVersion { major: 1, minor: 1 };

    /// Reads `HTTP/<digits>.<digits>`; `None` for anything else.
    pub fn parse(text: &str) -> Option<HttpVersion> {
        // The two versions every request and handler names, without reading digits.
        match text {
            "HTTP/1.1" => return Some(HttpVersion::HTTP_1_1),
            "HTTP/1.0" => return Some(HttpVersion::HTTP_1_0),
            _ => {}
        }
        let (major, minor) = text.strip_prefix("HTTP/")?.split_once('.')?;
        let number = |digits: &str| {
            (!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
        };
        Some(HttpVersion {
            major: number(major)?,
            minor: number(minor)?,
        })
    }

    /// The version a handler's `protocol_version` names; one that is not a version counts as HTTP/1.0, which keeps nothing alive.
    pub(crate) fn of_protocol(text: &str) -> HttpVersion {
        HttpVersion::parse(text).unwrap_or(HttpVersion::HTTP_1_0)
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "HTTP/{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        let parse = |text| HttpVersion::parse(text);
        assert_eq!(parse("HTTP/1.1"), Some(HttpVersion::HTTP_1_1));
        assert_eq!(parse("HTTP/0.9"), Some(HttpVersion::HTTP_0_9));
        assert!(parse("HTTP/1.10") > parse("HTTP/1.9"));
        assert!(parse("HTTP/2.0") > Some(HttpVersion::HTTP_1_1));
        assert!(parse("HTTP/1.0") < Some(HttpVersion::HTTP_1_1));
        for bad in [
            "HTTP/1",
            "HTTP/.1",
            "HTTP/1.",
            "http/1.1",
            "HTTP/1.1x",
            "HTTP/+1.1",
            "HTTP/99999999999999999999.0",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(HttpVersion::HTTP_1_1.to_string(), "HTTP/1.1");
        assert_eq!(HttpVersion::of_protocol("nonsense"), HttpVersion::HTTP_1_0);
    }
}
