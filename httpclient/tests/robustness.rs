//! No input from the network makes the client panic: random and mangled responses over real sockets.

mod support;

use httpclient::{Body, HttpConnection};
use proptest::prelude::*;

/// Fetches `raw` and reads the whole body; any result is fine as long as nothing panics.
fn exercise(raw: &[u8]) {
    let server = support::serve(vec![vec![support::Step::Reply(raw.to_vec())]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    if let Ok(mut response) = conn.getresponse() {
        let _ = response.getheader("content-type");
        let _ = response.readline(Some(10));
        let _ = response.peek(1).map(<[u8]>::len);
        let _ = response.read1(7);
        let _ = response.read(None);
    }
    drop(conn);
    server.received();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    // No test_httplib counterpart: arbitrary bytes as a response.
    #[test]
    fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise(&raw);
    }

    // No test_httplib counterpart: a valid head followed by a mangled chunked body.
    #[test]
    fn mangled_chunked_bodies_never_panic(body in "([0-9a-fA-F;= x\\r\\n]|hello){0,40}") {
        let raw = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
        exercise(raw.as_bytes());
    }

    // No test_httplib counterpart: mangled framing headers.
    #[test]
    fn mangled_framing_headers_never_panic(
        length in "[-+0-9a-z ,]{0,12}",
        encoding in "(chunked|gzip|identity|, | ){0,3}",
        status in "[0-9]{1,4}",
    ) {
        let raw = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {length}\r\nTransfer-Encoding: {encoding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        exercise(raw.as_bytes());
    }
}
