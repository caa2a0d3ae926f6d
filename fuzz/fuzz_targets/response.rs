//! Fuzz target: httpclient's response parsing (status line, headers, framing by length, chunks or close) over arbitrary
//! bytes, through the `fuzz_response` entry point that puts them in a socketless connection's receive buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the request method, which decides whether a body may follow.
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let method = if selector & 1 == 0 { "GET" } else { "HEAD" };
    if let Ok((status, body)) = httpclient::fuzz_response(data, method) {
        assert!((100..=999).contains(&status), "{status}");
        assert!(body.len() <= data.len());
        if method == "HEAD" {
            assert!(body.is_empty());
        }
    }
});
