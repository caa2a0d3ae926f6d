//! Fuzz target: basehttp's chunked-body decoder over arbitrary bytes never panics, never yields more bytes than it was given,
//! and its trailer fields carry no line breaks.
#![no_main]

use std::io::{BufReader, Read};

use basehttp::{Body, BodyFraming, ChunkedReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the size of the reads underneath, so chunk lines straddle buffer boundaries.
    let Some((&capacity, data)) = data.split_first() else {
        return;
    };
    let inner = BufReader::with_capacity(usize::from(capacity).max(1), data);
    let mut reader = ChunkedReader::new(inner);
    let mut decoded = Vec::new();
    let mut block = [0; 512];
    let outcome = loop {
        match reader.read(&mut block) {
            Ok(0) => break Ok(()),
            Ok(read) => decoded.extend_from_slice(&block[..read]),
            Err(error) => break Err(error),
        }
        // Output comes only from input, so it is bounded by it.
        assert!(decoded.len() <= data.len());
    };
    if outcome.is_ok() {
        assert!(reader.is_done());
        for (name, value) in reader.trailers().iter() {
            assert!(
                !name.is_empty() && !name.contains([':', '\r', '\n']),
                "{name:?}"
            );
            assert!(!value.contains(['\r', '\n']), "{value:?}");
        }
    }

    // Draining through Body with a limit stops at the limit.
    let mut body = Body::new(data, BodyFraming::Chunked);
    let _ = body.drain(64);
});
