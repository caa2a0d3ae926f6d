//! `Headers`: the response's header block, Python's `HTTPMessage`.

/// The header fields of a response (or its chunked trailer), in the order received.
///
/// Names compare case-insensitively and a name may repeat, as in Python's `HTTPMessage` (an `email.message.Message`).
/// Bytes are decoded as ISO-8859-1, as Python does, so any octet survives.
#[doc(alias = "HTTPMessage")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field, keeping any earlier field of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// The first value of `name`, like Python's `msg.get(name)`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order, like Python's `msg.get_all(name)`.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.entries
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether a field called `name` is present (`name in msg`).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The `(name, value)` pairs in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The `(name, value)` pairs as a slice, like Python's `msg.items()`.
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one raw header line (without its line ending), folding continuation lines into the previous field.
    ///
    /// Like Python's email parser, a line without a name (`: value`) or without a colon is skipped rather than fatal.
    pub(crate) fn push_line(&mut self, line: &[u8]) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // obs-fold: a continuation of the previous field's value.
            if let Some((_, value)) = self.entries.last_mut() {
                let more = latin1(trim(line));
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(&more);
                }
            }
            return;
        }
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            return;
        };
        let name = trim(&line[..colon]);
        if name.is_empty() {
            return;
        }
        self.entries
            .push((latin1(name), latin1(trim(&line[colon + 1..]))));
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// Decodes ISO-8859-1, which maps every byte to the code point of the same value.
pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&byte| char::from(byte)).collect()
}

/// Strips spaces and tabs from both ends.
pub(crate) fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lines: &[&str], name: &str, expected: &[&str]) {
        let mut headers = Headers::new();
        for line in lines {
            headers.push_line(line.as_bytes());
        }
        assert_eq!(headers.get_all(name).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn names_are_case_insensitive_and_repeat() {
        check(
            &["Set-Cookie: a", "set-cookie: b"],
            "SET-COOKIE",
            &["a", "b"],
        );
    }

    #[test]
    fn continuation_lines_fold() {
        check(&["X: one", "\ttwo", "  three"], "x", &["one two three"]);
    }

    // Mirrors test_httplib: HeaderTests.test_malformed_headers_coped_with
    #[test]
    fn test_malformed_headers_coped_with() {
        let lines = ["First: val", ": nval", "Second: val", "no colon here"];
        check(&lines, "first", &["val"]);
        check(&lines, "second", &["val"]);
    }

    // Mirrors test_httplib: HeaderTests.test_parse_all_octets
    #[test]
    fn test_parse_all_octets() {
        let mut line = b"Content-Type: ".to_vec();
        let value: Vec<u8> = (0x21..=0xffu8).filter(|&byte| byte != 0x7f).collect();
        line.extend_from_slice(&value);
        let mut headers = Headers::new();
        headers.push_line(&line);
        assert_eq!(headers.get("content-type"), Some(latin1(&value).as_str()));
    }
}
