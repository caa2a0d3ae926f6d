//! [`Headers`]: Python's `MessageClass` (`http.client.HTTPMessage`), an ordered, case-insensitive multi-map.

use std::fmt;

/// The request's header fields, in arrival order, repeated names kept (Python's `self.headers`).
///
/// Names compare case-insensitively; values are ISO-8859-1 decoded with surrounding blanks trimmed.
/// All names and values live in one string, so a parsed head costs two allocations whatever its size.
#[doc(alias = "MessageClass")]
#[doc(alias = "HTTPMessage")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    text: String,
    fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    name: (usize, usize),
    value: (usize, usize),
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    pub(crate) fn with_capacity(text: usize, fields: usize) -> Self {
        Headers {
            text: String::with_capacity(text),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Headers over `text` with (name, value) byte spans into it.
    pub(crate) fn from_spans(
        text: String,
        spans: impl ExactSizeIterator<Item = ((usize, usize), (usize, usize))>,
    ) -> Self {
        Headers {
            text,
            fields: spans.map(|(name, value)| Field { name, value }).collect(),
        }
    }

    /// Appends a field from raw bytes; `ascii` says whether the caller already knows both are ASCII.
    pub(crate) fn push_raw(&mut self, name: &[u8], value: &[u8], ascii: bool) {
        let name_start = self.text.len();
        push_latin1(&mut self.text, name, ascii);
        let value_start = self.text.len();
        push_latin1(&mut self.text, value, ascii);
        self.fields.push(Field {
            name: (name_start, value_start),
            value: (value_start, self.text.len()),
        });
    }

    /// Appends a field, keeping any earlier one of the same name (Python's `headers[name] = value`).
    pub fn append(&mut self, name: &str, value: &str) {
        let name_start = self.text.len();
        self.text.push_str(name);
        let value_start = self.text.len();
        self.text.push_str(value);
        self.fields.push(Field {
            name: (name_start, value_start),
            value: (value_start, self.text.len()),
        });
    }

    /// Drops every field called `name` and appends one with `value` (Python's `del headers[name]; headers[name] = value`).
    pub(crate) fn replace(&mut self, name: &str, value: &str) {
        let text = &self.text;
        self.fields
            .retain(|field| !text[field.name.0..field.name.1].eq_ignore_ascii_case(name));
        self.append(name, value);
    }

    /// The first value of `name`, case-insensitively (Python's `headers.get(name)`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|field| self.is_named(field, name))
            .map(|field| &self.text[field.value.0..field.value.1])
    }

    /// Every value of `name` in order (Python's `headers.get_all(name)`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |field| self.is_named(field, name))
            .map(|field| &self.text[field.value.0..field.value.1])
    }

    /// Whether `field` is called `name`, in any case; the lengths are compared first, since a request asks for a dozen
    /// headers it mostly does not have, and most names differ in length.
    fn is_named(&self, field: &Field, name: &str) -> bool {
        field.name.1 - field.name.0 == name.len()
            && self.text[field.name.0..field.name.1].eq_ignore_ascii_case(name)
    }

    /// Whether a field called `name` is present (Python's `name in headers`).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every (name, value) pair in arrival order (Python's `headers.items()`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter().map(|field| {
            (
                &self.text[field.name.0..field.name.1],
                &self.text[field.value.0..field.value.1],
            )
        })
    }

    /// How many fields there are, repeats included.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn push_latin1(text: &mut String, bytes: &[u8], ascii: bool) {
    if ascii {
        if let Ok(ascii_text) = std::str::from_utf8(bytes) {
            text.push_str(ascii_text);
            return;
        }
    }
    text.extend(bytes.iter().map(|&byte| char::from(byte)));
}

impl fmt::Debug for Headers {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

/// Python's `str(headers)`: each field as `Name: value` on its own line, then a blank line.
impl fmt::Display for Headers {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.iter() {
            writeln!(formatter, "{name}: {value}")?;
        }
        writeln!(formatter)
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Headers {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.append(name, value);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;

    #[test]
    fn lookup_is_case_insensitive_and_keeps_order() {
        let headers: Headers = [("Accept", "a"), ("Host", "h"), ("accept", "b")]
            .into_iter()
            .collect();
        assert_eq!(headers.get("ACCEPT"), Some("a"));
        assert_eq!(headers.get_all("accept").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(headers.get("missing"), None);
        assert!(headers.contains("host"));
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.to_string(), "Accept: a\nHost: h\naccept: b\n\n");
    }

    #[test]
    fn raw_values_decode_as_latin1() {
        let mut headers = Headers::new();
        headers.push_raw(b"X", b"caf\xe9", false);
        assert_eq!(headers.get("x"), Some("café"));
    }
}
