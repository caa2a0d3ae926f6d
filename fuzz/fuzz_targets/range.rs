//! Fuzz target: simplehttp's Range parser never panics, and every range it grants lies within the file,
//! sorted, neither overlapping nor touching, at most `MAX_RANGES` of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simplehttp::{parse_range, RangeRequest, MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    // Eight bytes of file length (small lengths are the interesting ones, so often only the low byte counts), then the header.
    if data.len() < 8 {
        return;
    }
    let (length, header) = data.split_at(8);
    let mut length = u64::from_le_bytes(length.try_into().expect("eight bytes"));
    if length & 1 == 0 {
        length = (length >> 1) % 1024;
    }
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    match parse_range(header, length) {
        RangeRequest::Full | RangeRequest::Unsatisfiable => {}
        RangeRequest::Partial(ranges) => {
            assert!(
                !ranges.is_empty() && ranges.len() <= MAX_RANGES,
                "{ranges:?}"
            );
            for range in &ranges {
                assert!(range.start <= range.end, "{header:?} {length}: {range:?}");
                assert!(range.end < length, "{header:?} {length}: {range:?}");
                assert!(range.len() <= length);
            }
            for pair in ranges.windows(2) {
                assert!(
                    pair[0].end + 1 < pair[1].start,
                    "{header:?} {length}: {ranges:?}"
                );
            }
        }
    }
});
