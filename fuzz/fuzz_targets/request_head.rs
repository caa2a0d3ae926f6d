//! Fuzz target: basehttp's request-head parser never panics, agrees with itself when the head arrives in two pieces,
//! and every head it accepts re-serializes to bytes it parses back to the same head.
#![no_main]

use basehttp::{parse_head, HeadParser, ParseError, RequestHead, Status};
use libfuzzer_sys::fuzz_target;

/// Characters below U+0100 back to the bytes they were decoded from (the parser reads ISO-8859-1).
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|character| u8::try_from(u32::from(character)).expect("a latin-1 character"))
        .collect()
}

/// The head written back out: request line, `name: value` lines, blank line.
fn serialize(head: &RequestHead) -> Vec<u8> {
    let mut bytes = latin1(head.line.requestline());
    bytes.extend_from_slice(b"\r\n");
    if head.line.is_http_0_9() {
        return bytes;
    }
    for (name, value) in head.headers.iter() {
        bytes.extend_from_slice(&latin1(name));
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(&latin1(value));
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

fn fields(head: &RequestHead) -> Vec<(String, String)> {
    head.headers
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Parses `data` in one read and in two (split at `split`), as a slow client sends it.
fn one_and_two_reads(
    data: &[u8],
    split: usize,
) -> (
    Result<Option<RequestHead>, ParseError>,
    Result<Status, ParseError>,
) {
    let whole = parse_head(data);
    let mut parser = HeadParser::new();
    let pieces = match parser.parse(&data[..split.min(data.len())]) {
        Ok(Status::Partial) => parser.parse(data),
        other => other,
    };
    (whole, pieces)
}

fn check_agree(
    whole: &Result<Option<RequestHead>, ParseError>,
    pieces: &Result<Status, ParseError>,
) {
    match (whole, pieces) {
        (Ok(None), Ok(Status::Partial)) => {}
        (Ok(Some(whole)), Ok(Status::Complete(pieces))) => {
            assert_eq!(whole.length, pieces.length);
            assert_eq!(whole.line, pieces.line);
            assert_eq!(fields(whole), fields(pieces));
            assert_eq!(whole.framing, pieces.framing);
        }
        (Err(whole), Err(pieces)) => assert_eq!(whole, pieces),
        (whole, pieces) => panic!("one read gave {whole:?}, two reads gave {pieces:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let split = usize::from(split);
    let (whole, pieces) = one_and_two_reads(data, split);
    match (&whole, &pieces) {
        // A bad byte in a line not yet ended may be refused at once or when the line ends;
        // ending the line and the head must make both ways agree.
        (Err(_), Ok(Status::Partial)) | (Ok(None), Err(_)) => {
            let mut ended = data.to_vec();
            ended.extend_from_slice(b"\r\n\r\n");
            let (whole, pieces) = one_and_two_reads(&ended, split);
            check_agree(&whole, &pieces);
        }
        _ => check_agree(&whole, &pieces),
    }

    let Ok(Some(head)) = whole else {
        return;
    };
    assert!(head.length <= data.len());
    for (name, value) in head.headers.iter() {
        assert!(!name.is_empty());
        assert!(
            !name.contains([':', ' ', '\t', '\r', '\n', '\0']),
            "{name:?}"
        );
        assert!(!value.contains(['\r', '\n', '\0']), "{value:?}");
    }

    let bytes = serialize(&head);
    let again = parse_head(&bytes)
        .unwrap_or_else(|error| panic!("{bytes:?} was refused: {error:?}"))
        .unwrap_or_else(|| panic!("{bytes:?} is incomplete"));
    assert_eq!(again.length, bytes.len());
    assert_eq!(again.line.command(), head.line.command());
    assert_eq!(again.line.path(), head.line.path());
    assert_eq!(again.line.version_number(), head.line.version_number());
    assert_eq!(fields(&again), fields(&head));
    assert_eq!(again.framing, head.framing);
});
