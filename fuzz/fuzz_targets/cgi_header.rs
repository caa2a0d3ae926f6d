//! Fuzz target: cgihttp's script header-block parser never panics, gives the same answer however the output is split,
//! and never lets a line break, a C0 or C1 control, or a character beyond ISO-8859-1 into a header or reason it will send;
//! a Location is always an ASCII URI reference.
#![no_main]

use cgihttp::{HeaderParser, Location, ScriptHeaders};
use libfuzzer_sys::fuzz_target;

fn check_no_line_breaks(headers: &ScriptHeaders) {
    let clean = |text: &str| {
        !text.chars().any(|character| {
            (character < ' ' && character != '\t')
                || ('\u{7f}'..='\u{9f}').contains(&character)
                || u32::from(character) > 0xff
        })
    };
    let uri = |text: &str| {
        text.bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&byte))
    };
    for (name, value) in headers.headers() {
        assert!(clean(name) && clean(value), "{name:?}: {value:?}");
    }
    assert!(headers.content_type().is_none_or(clean));
    assert!(headers.reason().is_none_or(clean));
    match headers.location() {
        Some(Location::Local(path)) => assert!(uri(path) && path.starts_with('/'), "{path:?}"),
        Some(Location::Client(url)) => assert!(uri(url), "{url:?}"),
        None => {}
    }
    assert!(
        (100..=999).contains(&headers.status()),
        "{}",
        headers.status()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    if let Ok(headers) = ScriptHeaders::parse(data) {
        check_no_line_breaks(&headers);
    }

    // Fed whole, and fed in pieces as a pipe delivers it: the same outcome and the same body offset.
    let whole = HeaderParser::new().feed(data);
    let mut parser = HeaderParser::new();
    let mut offset = 0;
    let pieces = loop {
        let end = (offset + usize::from(piece).max(1)).min(data.len());
        match parser.feed(&data[offset..end]) {
            Ok(Some((headers, used))) => break Ok(Some((headers, offset + used))),
            Ok(None) if end == data.len() => break Ok(None),
            Ok(None) => offset = end,
            Err(error) => break Err(error),
        }
    };
    assert_eq!(whole, pieces);
    if let Ok(Some((headers, used))) = whole {
        assert!(used <= data.len());
        check_no_line_breaks(&headers);
    }
});
