//! Property tests of the I/O-free parsers: no input makes them panic, and feeding a head in pieces
//! gives the same outcome as feeding it whole.

use std::io::Read;

use basehttp::{parse_chunk_size, parse_head, BodyFraming, ChunkedReader, HeadParser, Status};
use proptest::prelude::*;

/// Bytes biased towards what matters to an HTTP parser.
fn http_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b' '),
        Just(b':'),
        Just(b'\t'),
        Just(0u8),
        Just(b'/'),
        b'A'..=b'z',
        any::<u8>(),
    ];
    proptest::collection::vec(byte, 0..400)
}

fn summary(result: Result<Status, basehttp::ParseError>) -> String {
    match result {
        Ok(Status::Partial) => "partial".to_owned(),
        Ok(Status::Complete(head)) => format!(
            "{} {} {} {:?} {:?} {}",
            head.line.command(),
            head.line.path(),
            head.line.request_version(),
            head.headers,
            head.framing,
            head.length
        ),
        Err(error) => format!("error {error:?}"),
    }
}

proptest! {
    #[test]
    fn head_parser_never_panics(bytes in http_bytes()) {
        let _ = parse_head(&bytes);
    }

    #[test]
    fn realistic_heads_never_panic(prefix in http_bytes(), suffix in http_bytes()) {
        let mut bytes = b"POST /x HTTP/1.1\r\nHost: x\r\n".to_vec();
        bytes.extend_from_slice(&prefix);
        bytes.extend_from_slice(b"\r\nContent-Length: 3\r\n");
        bytes.extend_from_slice(&suffix);
        let _ = parse_head(&bytes);
    }

    #[test]
    fn pieces_parse_like_the_whole(prefix in http_bytes(), cut in 0usize..500) {
        let mut bytes = b"GET /a HTTP/1.1\r\nHost: h\r\n".to_vec();
        bytes.extend_from_slice(&prefix);
        bytes.extend_from_slice(b"\r\n\r\n");
        let whole = summary(HeadParser::new().parse(&bytes));
        let cut = cut.min(bytes.len());
        let mut parser = HeadParser::new();
        let first = parser.parse(&bytes[..cut]);
        let pieces = match first {
            Ok(Status::Partial) => summary(parser.parse(&bytes)),
            other => summary(other),
        };
        // An error may show up earlier with fewer bytes, but a success must be the same success.
        if !pieces.starts_with("error") {
            prop_assert_eq!(pieces, whole);
        }
    }

    #[test]
    fn chunked_decoder_never_panics(bytes in http_bytes()) {
        let mut reader = ChunkedReader::new(&bytes[..]);
        let mut body = Vec::new();
        let _ = reader.read_to_end(&mut body);
        let _ = parse_chunk_size(&bytes);
    }

    #[test]
    fn chunked_encoding_round_trips(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..50), 0..8)) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for chunk in &chunks {
            wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            wire.extend_from_slice(chunk);
            wire.extend_from_slice(b"\r\n");
            expected.extend_from_slice(chunk);
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let mut body = Vec::new();
        ChunkedReader::new(&wire[..]).read_to_end(&mut body).expect("valid chunked body");
        prop_assert_eq!(body, expected);
    }

    #[test]
    fn content_length_framing_matches_the_number(length in any::<u64>()) {
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
        let parsed = parse_head(head.as_bytes()).expect("valid").expect("complete");
        prop_assert_eq!(parsed.framing, BodyFraming::Length(length));
    }
}
