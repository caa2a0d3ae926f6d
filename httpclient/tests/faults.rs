//! The client's fault matrix: bodies cut short, connection resets, oversized lines and header counts,
//! and servers slower than each timeout. Each fault ends in one typed error, never a panic or a hang, and leaves
//! the connection closed and idle, so the next request reconnects.
//!
//! Every server is scripted on 127.0.0.1:0 (see `support`), never the network; timeouts are 150 ms.
//! Python's `http.client` is the reference: test_httplib's names are cited where a test has a counterpart,
//! and where this crate departs from Python on purpose the comment says so.

mod support;

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use httpclient::{Body, Config, Error, HttpConnection, HttpResponse, State, TimeoutKind, Timeouts};
use support::{serve, Scripted, Step};

/// The answer of the second connection each script offers, to show that the client reconnects.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// The timeout a slow server must trip.
const TIMEOUT: Duration = Duration::from_millis(150);
/// The timeouts of tests about other faults: a bug shows as a failure, not a hang.
const GENEROUS: Duration = Duration::from_secs(5);
/// Far above [`TIMEOUT`], far below a hang: a timeout must fire before this.
const BOUND: Duration = Duration::from_secs(3);

fn connect_to(address: &str, timeouts: Timeouts) -> HttpConnection {
    let config = Config {
        timeouts,
        ..Config::default()
    };
    HttpConnection::with_config(address, config).unwrap()
}

fn connection(server: &Scripted) -> HttpConnection {
    connect_to(&server.host(), Timeouts::all(GENEROUS))
}

/// A server whose first connection follows `steps` and whose second answers [`OK`].
fn fault_then_ok(steps: Vec<Step>) -> Scripted {
    serve(vec![steps, vec![Step::Reply(OK.to_vec())]])
}

/// After a fault the connection is idle without a socket, and the next request goes out on a new one.
fn assert_reconnects(conn: &mut HttpConnection, what: &str) {
    assert!(conn.sock().is_none(), "{what}: the socket is closed");
    assert_eq!(conn.state(), State::Idle, "{what}");
    conn.request("GET", "/again", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), b"ok", "{what}");
}

/// Sends one GET to a server that answers with a fault, expecting `getresponse` to fail; checks the reconnection.
fn head_fault(steps: Vec<Step>, timeouts: Timeouts) -> Error {
    let server = fault_then_ok(steps);
    let mut conn = connect_to(&server.host(), timeouts);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let started = Instant::now();
    let error = conn.getresponse().unwrap_err();
    assert!(
        started.elapsed() < BOUND,
        "{error}: took {:?}",
        started.elapsed()
    );
    assert_reconnects(&mut conn, &error.to_string());
    drop(conn);
    assert_eq!(server.received().len(), 2);
    error
}

/// A status line and headers that fail because of `raw`, sent whole before the server closes.
fn head_error(raw: &[u8]) -> Error {
    head_fault(vec![Step::Reply(raw.to_vec())], Timeouts::all(GENEROUS))
}

fn is_reset(error: &Error) -> bool {
    matches!(error, Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionReset)
}

// ---------------------------------------------------------------------------------------------------------------
// The read paths of a response body.

/// Every way of reading a body: Python's `read()`, `read(amt)`, `readinto`, `readline`, `read1`, `peek` (as
/// `BufRead`), and `std::io::Read::read_to_end`.
#[derive(Debug, Clone, Copy)]
enum Path {
    ReadAll,
    ReadAmt,
    ReadInto,
    ReadLine,
    Read1,
    BufRead,
    StdReadToEnd,
}

const PATHS: [Path; 7] = [
    Path::ReadAll,
    Path::ReadAmt,
    Path::ReadInto,
    Path::ReadLine,
    Path::Read1,
    Path::BufRead,
    Path::StdReadToEnd,
];

/// Reads the body by `path` until an error; returns every byte handed out (an `IncompleteRead`'s partial included)
/// and the error. A body that ends without an error fails the test.
fn read_until_error(response: &mut HttpResponse<'_>, path: Path) -> (Vec<u8>, Error) {
    let mut got = Vec::new();
    loop {
        let step = match path {
            Path::ReadAll => response.read(None),
            Path::ReadAmt => response.read(Some(3)),
            Path::ReadInto => {
                let mut buffer = [0; 3];
                response
                    .readinto(&mut buffer)
                    .map(|read| buffer[..read].to_vec())
            }
            Path::ReadLine => response.readline(None),
            Path::Read1 => response.read1(3),
            Path::BufRead => match BufRead::fill_buf(response) {
                Ok(bytes) => {
                    let bytes = bytes.to_vec();
                    BufRead::consume(response, bytes.len());
                    Ok(bytes)
                }
                Err(error) => Err(Error::from(error)),
            },
            Path::StdReadToEnd => {
                let mut bytes = Vec::new();
                match Read::read_to_end(response, &mut bytes) {
                    Ok(_) => Ok(bytes),
                    Err(error) => {
                        got.extend_from_slice(&bytes);
                        Err(Error::from(error))
                    }
                }
            }
        };
        match step {
            Ok(bytes) if bytes.is_empty() => panic!(
                "{path:?}: the body ended without an error after {:?}",
                got.escape_ascii().to_string()
            ),
            Ok(bytes) => got.extend_from_slice(&bytes),
            Err(error) => {
                if let Error::IncompleteRead { partial, .. } = &error {
                    got.extend_from_slice(partial);
                }
                return (got, error);
            }
        }
    }
}

/// Fetches a response whose body fails, reads it by every path in turn (one connection each),
/// and hands each error to `check`; then checks that the response is closed and the connection reconnects.
fn body_fault(steps: &[Step], timeouts: Timeouts, check: impl Fn(Path, Vec<u8>, Error)) {
    for path in PATHS {
        let server = fault_then_ok(steps.to_vec());
        let mut conn = connect_to(&server.host(), timeouts);
        conn.request("GET", "/", Body::Empty, &[]).unwrap();
        let mut response = conn.getresponse().unwrap();
        let started = Instant::now();
        let (got, error) = read_until_error(&mut response, path);
        assert!(started.elapsed() < BOUND, "{path:?}: {error}");
        assert!(response.isclosed(), "{path:?}: {error}");
        // Python's read() on a closed response: b"".
        assert_eq!(response.read(None).unwrap(), b"", "{path:?}");
        drop(response);
        let what = format!("{path:?}: {error}");
        check(path, got, error);
        assert_reconnects(&mut conn, &what);
        drop(conn);
        assert_eq!(server.received().len(), 2, "{what}");
    }
}

/// A body cut short by the server's close: `IncompleteRead` on every path, holding every byte that arrived,
/// with `more` bytes expected (known for Content-Length, not for chunked, as in Python), and counting them in its message.
fn check_cut_short(raw: &[u8], arrived: &[u8], more: Option<u64>) {
    let steps = [Step::Reply(raw.to_vec())];
    body_fault(&steps, Timeouts::all(GENEROUS), |path, got, error| {
        let Error::IncompleteRead { expected, .. } = &error else {
            panic!("{path:?}: IncompleteRead expected, got {error:?}");
        };
        assert_eq!(*expected, more, "{path:?}");
        assert_eq!(
            got.escape_ascii().to_string(),
            arrived.escape_ascii().to_string(),
            "{path:?}"
        );
        // Python's message for read(), exactly, on every path: the count is of every body byte read, not only the failing call's.
        let message = match more {
            Some(more) => format!(
                "IncompleteRead({} bytes read, {more} more expected)",
                arrived.len()
            ),
            None => format!("IncompleteRead({} bytes read)", arrived.len()),
        };
        assert_eq!(error.to_string(), message, "{path:?}");
    });
}

fn chunked(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}").into_bytes()
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies cut short.

// Mirrors test_httplib: BasicTest.test_incomplete_read, test_partial_reads_incomplete_body and
// test_partial_readintos_incomplete_body, on every read path.
// Better than Python, whose read(amt) and readinto return b"" / 0 here: every path raises IncompleteRead.
#[test]
fn content_length_body_cut_short() {
    check_cut_short(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello\r\n",
        b"Hello\r\n",
        Some(3),
    );
    check_cut_short(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHel",
        b"Hel",
        Some(7),
    );
    check_cut_short(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        b"",
        Some(10),
    );
}

// No test_httplib counterpart: a large body cut short, so the reads go straight to the socket.
#[test]
fn large_content_length_body_cut_short() {
    let arrived: Vec<u8> = b"0123456789abcde\n".repeat(5000);
    let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
    raw.extend_from_slice(&arrived);
    check_cut_short(&raw, &arrived, Some(20_000));
}

// Mirrors test_httplib: BasicTest.test_chunked and test_readinto_chunked (their truncated cases: nothing, or
// `foo\r\n`, after the last whole chunk), on every read path, with Python's message `IncompleteRead(N bytes read)`.
#[test]
fn test_chunked_truncated() {
    check_cut_short(&chunked("5\r\nhello\r\n"), b"hello", None);
    check_cut_short(&chunked("5\r\nhello\r\nfoo\r\n"), b"hello", None);
}

// No test_httplib counterpart: a chunked body cut inside a chunk's data.
#[test]
fn chunked_body_cut_mid_chunk() {
    check_cut_short(&chunked("5\r\nhello\r\n6\r\n wor"), b"hello wor", None);
}

// No test_httplib counterpart: cut inside a chunk-size line (the size, then its extension).
// As in Python, the partial line is taken as the size, and the missing data is the IncompleteRead.
#[test]
fn chunked_body_cut_mid_size_line() {
    check_cut_short(&chunked("5\r\nhello\r\n1"), b"hello", None);
    check_cut_short(&chunked("5\r\nhello\r\n6;name=va"), b"hello", None);
}

// No test_httplib counterpart: cut between a chunk's data and its CRLF, and a chunk longer than its size.
#[test]
fn chunked_body_cut_before_chunk_end() {
    check_cut_short(&chunked("5\r\nhello"), b"hello", None);
    check_cut_short(&chunked("5\r\nhello\r"), b"hello", None);
    check_cut_short(&chunked("5\r\nhelloXY\r\n0\r\n\r\n"), b"hello", None);
}

// Mirrors test_httplib: BasicTest.test_chunked_missing_end, extended to a trailer section cut short:
// as in Python, the body is complete at the last chunk and a close inside the trailers ends them.
#[test]
fn test_chunked_missing_end() {
    for (ending, trailer) in [
        ("0\r\n", None),
        ("0\r\nX-Trailer: a\r\n", Some("a")),
        ("0\r\nX-Trailer: a\r\nX-Cut", Some("a")),
    ] {
        let server = fault_then_ok(vec![Step::Reply(chunked(&format!(
            "5\r\nhello\r\n{ending}"
        )))]);
        let mut conn = connection(&server);
        conn.request("GET", "/", Body::Empty, &[]).unwrap();
        let mut response = conn.getresponse().unwrap();
        assert_eq!(response.read(None).unwrap(), b"hello", "{ending:?}");
        assert!(response.isclosed());
        assert_eq!(response.trailers().get("x-trailer"), trailer, "{ending:?}");
        drop(response);
        // The server closed after the message: wait for its end of file, then the next request reconnects.
        let socket = conn.sock().expect("kept alive");
        assert_eq!(socket.peek(&mut [0; 1]).unwrap(), 0);
        conn.request("GET", "/again", Body::Empty, &[]).unwrap();
        assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"ok");
        drop(conn);
        assert_eq!(server.received().len(), 2);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The server closes or resets the connection.

// Mirrors test_httplib: PersistenceTest.test_disconnected (the io.BytesIO case): no answer at all is RemoteDisconnected.
#[test]
fn test_disconnected() {
    let error = head_error(b"");
    assert!(matches!(error, Error::RemoteDisconnected), "{error}");
    assert_eq!(
        error.to_string(),
        "remote end closed connection without response"
    );
}

// Mirrors test_httplib: PersistenceTest.test_disconnected (the ECONNRESET case): a reset before the status line
// is Python's ConnectionResetError, here `Error::Io` of kind `ConnectionReset`; the connection is closed and reconnects.
#[test]
fn reset_before_status_line() {
    let error = head_fault(vec![Step::Swallow, Step::Reset], Timeouts::all(GENEROUS));
    assert!(is_reset(&error), "{error:?}");
}

// No test_httplib counterpart: a reset after the status line and one header.
#[test]
fn reset_mid_headers() {
    let steps = vec![
        Step::Swallow,
        Step::Write(b"HTTP/1.1 200 OK\r\nX-Partial: yes\r\n".to_vec()),
        Step::Reset,
    ];
    let error = head_fault(steps, Timeouts::all(GENEROUS));
    assert!(is_reset(&error), "{error:?}");
}

// No test_httplib counterpart: a reset inside a Content-Length body and inside a chunked body, on every read path.
// As in Python, it is the reset (ConnectionResetError), not IncompleteRead; bytes that arrived before it are handed out first.
#[test]
fn reset_mid_body() {
    for (raw, arrived) in [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello".to_vec(),
            &b"Hello"[..],
        ),
        (chunked("5\r\nhello\r\n6\r\n wo"), &b"hello wo"[..]),
    ] {
        let steps = [Step::Reply(raw), Step::Reset];
        body_fault(&steps, Timeouts::all(GENEROUS), |path, got, error| {
            assert!(is_reset(&error), "{path:?}: {error:?}");
            // read() keeps nothing of a body that fails with an I/O error, as in Python; the others hand out what arrived.
            assert!(arrived.starts_with(&got), "{path:?}: {got:?}");
        });
    }
}

// No test_httplib counterpart (better than Python, which fails the next request): a kept-alive connection the
// server reset while idle is replaced before the next request is sent.
#[test]
fn reset_while_idle_is_replaced() {
    let server = serve(vec![
        vec![Step::Reply(OK.to_vec()), Step::Reset],
        vec![Step::Reply(OK.to_vec())],
    ]);
    let mut conn = connection(&server);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), b"ok");
    assert!(!response.will_close());
    drop(response);
    // Wait until the reset has arrived (the peek returns it), so nothing below races with it.
    let socket = conn.sock().expect("kept alive");
    let peeked = socket.peek(&mut [0; 1]);
    assert!(
        matches!(&peeked, Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset),
        "{peeked:?}"
    );
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"ok");
    drop(conn);
    assert_eq!(server.received().len(), 2);
}

// Mirrors test_httplib: BasicTest.test_epipe, with a reset instead of an early answer: the server resets while the
// body is being sent. The send fails with an I/O error (EPIPE or ECONNRESET, whichever the kernel reports first);
// the state stays Request-sent as in Python, and getresponse reports the reset connection and closes it.
#[test]
fn reset_while_sending_body() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        // Let some of the body arrive unread, then reset.
        std::thread::sleep(Duration::from_millis(20));
        socket2::SockRef::from(&socket)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(socket);
        let (mut socket, _) = listener.accept().unwrap();
        support::read_request(&mut socket, &mut Vec::new()).unwrap();
        socket.write_all(OK).unwrap();
    });
    let mut conn = connect_to(&address.to_string(), Timeouts::all(GENEROUS));
    let body = vec![b'x'; 32 << 20];
    let error = conn.request("PUT", "/", &body, &[]).unwrap_err();
    assert!(
        matches!(&error, Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)),
        "{error:?}"
    );
    assert_eq!(conn.state(), State::RequestSent);
    assert!(matches!(
        conn.request("GET", "/", Body::Empty, &[]),
        Err(Error::CannotSendRequest(State::RequestSent))
    ));
    let error = conn.getresponse().unwrap_err();
    assert!(
        matches!(error, Error::RemoteDisconnected) || is_reset(&error),
        "{error:?}"
    );
    assert_reconnects(&mut conn, "after a reset while sending");
    server.join().unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Oversized lines and too many headers.

/// A line of exactly `length` bytes, CRLF included: `start` padded with `x`.
fn line_of(start: &str, length: usize) -> String {
    format!("{start}{}\r\n", "x".repeat(length - start.len() - 2))
}

// Mirrors test_httplib: BasicTest.test_overflowing_status_line, at the limit: 65536 bytes with the CRLF pass, one more fails.
#[test]
fn test_overflowing_status_line() {
    let longest = line_of("HTTP/1.1 200 ", 65536);
    let server = serve(vec![vec![Step::Reply(
        format!("{longest}Content-Length: 0\r\n\r\n").into_bytes(),
    )]]);
    let mut conn = connection(&server);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().reason.len(), 65536 - 15);
    drop(conn);
    server.received();

    let error = head_error(format!("{}\r\n", line_of("HTTP/1.1 200 ", 65537)).as_bytes());
    assert!(
        matches!(error, Error::LineTooLong("status line")),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "got more than 65536 bytes when reading status line"
    );
}

// Mirrors test_httplib: BasicTest.test_overflowing_header_line, at the limit.
#[test]
fn test_overflowing_header_line() {
    let longest = line_of("X-Long: ", 65536);
    let server = serve(vec![vec![Step::Reply(
        format!("HTTP/1.1 200 OK\r\n{longest}Content-Length: 0\r\n\r\n").into_bytes(),
    )]]);
    let mut conn = connection(&server);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let response = conn.getresponse().unwrap();
    assert_eq!(
        response.getheader("x-long").map(|value| value.len()),
        Some(65536 - 10)
    );
    drop(response);
    drop(conn);
    server.received();

    let too_long = line_of("X-Long: ", 65537);
    let error = head_error(format!("HTTP/1.1 200 OK\r\n{too_long}\r\n").as_bytes());
    assert!(
        matches!(error, Error::LineTooLong("header line")),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "got more than 65536 bytes when reading header line"
    );
}

// Mirrors test_httplib: BasicTest.test_overflowing_chunked_line, at the limit.
#[test]
fn test_overflowing_chunked_line() {
    // The longest line, grown by an extension, then by leading zeros (which Python's int() accepts too).
    let by_extension = line_of("5;ext=", 65536);
    let by_zeros = format!("{}5\r\n", "0".repeat(65533));
    for longest in [by_extension, by_zeros] {
        let server = serve(vec![vec![Step::Reply(chunked(&format!(
            "{longest}hello\r\n0\r\n\r\n"
        )))]]);
        let mut conn = connection(&server);
        conn.request("GET", "/", Body::Empty, &[]).unwrap();
        assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"hello");
        drop(conn);
        server.received();
    }

    let too_long = line_of("5;ext=", 65537);
    let steps = [Step::Reply(chunked(&format!(
        "{too_long}hello\r\n0\r\n\r\n"
    )))];
    body_fault(&steps, Timeouts::all(GENEROUS), |path, got, error| {
        assert!(
            matches!(error, Error::LineTooLong("chunk size")),
            "{path:?}: {error}"
        );
        assert!(got.is_empty(), "{path:?}");
    });
}

// No test_httplib counterpart: a trailer line over the limit.
#[test]
fn overflowing_trailer_line() {
    let too_long = line_of("X-Trailer: ", 65537);
    let steps = [Step::Reply(chunked(&format!(
        "5\r\nhello\r\n0\r\n{too_long}\r\n"
    )))];
    body_fault(&steps, Timeouts::all(GENEROUS), |path, got, error| {
        assert!(
            matches!(error, Error::LineTooLong("trailer line")),
            "{path:?}: {error}"
        );
        // As in Python, only IncompleteRead carries what the failing call read.
        assert!(b"hello".starts_with(&got), "{path:?}: {got:?}");
    });
}

// Mirrors test_httplib: BasicTest.test_too_many_headers: 100 headers pass, 101 fail with Python's message.
#[test]
fn test_too_many_headers() {
    let error = head_error(
        format!("HTTP/1.1 200 OK\r\n{}\r\n", "Header: Value\r\n".repeat(101)).as_bytes(),
    );
    assert!(matches!(error, Error::TooManyHeaders), "{error}");
    assert_eq!(error.to_string(), "got more than 100 headers");
}

// No test_httplib counterpart: the same limit on trailers (Python's _read_and_discard_trailer has none on their count).
#[test]
fn too_many_trailers() {
    let hundred = "X-T: v\r\n".repeat(100);
    let server = serve(vec![vec![Step::Reply(chunked(&format!(
        "5\r\nhello\r\n0\r\n{hundred}\r\n"
    )))]]);
    let mut conn = connection(&server);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), b"hello");
    assert_eq!(response.trailers().len(), 100);
    drop(response);
    drop(conn);
    server.received();

    let steps = [Step::Reply(chunked(&format!(
        "5\r\nhello\r\n0\r\n{hundred}X-T: v\r\n\r\n"
    )))];
    body_fault(&steps, Timeouts::all(GENEROUS), |path, _, error| {
        assert!(matches!(error, Error::TooManyHeaders), "{path:?}: {error}");
    });
}

// Mirrors test_httplib: BasicTest.test_overflowing_header_limit_after_100, with a server that never stops:
// an endless header block ends at the 101st line, before or after an interim response.
#[test]
fn endless_header_block() {
    for start in ["HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n"] {
        let steps = vec![
            Step::Swallow,
            Step::Write(start.as_bytes().to_vec()),
            Step::Flood(b"X-Again: and again\r\n".repeat(100)),
        ];
        let error = head_fault(steps, Timeouts::all(GENEROUS));
        assert!(matches!(error, Error::TooManyHeaders), "{start:?}: {error}");
    }
}

// No test_httplib counterpart: endless lines (status, header, chunk size, trailer) end at 65536 bytes.
#[test]
fn endless_lines() {
    for (start, what) in [
        ("", "status line"),
        ("HTTP/1.1 200 OK\r\nX-Endless: ", "header line"),
    ] {
        let steps = vec![
            Step::Swallow,
            Step::Write(start.as_bytes().to_vec()),
            Step::Flood(vec![b'a'; 4096]),
        ];
        let error = head_fault(steps, Timeouts::all(GENEROUS));
        assert!(
            matches!(error, Error::LineTooLong(found) if found == what),
            "{error}"
        );
    }
    for (start, what) in [
        ("", "chunk size"),
        ("5\r\nhello\r\n0\r\nX-Endless: ", "trailer line"),
    ] {
        let steps = [
            Step::Swallow,
            Step::Write(chunked(start)),
            Step::Flood(vec![b'a'; 4096]),
        ];
        body_fault(&steps, Timeouts::all(GENEROUS), |path, _, error| {
            assert!(
                matches!(error, Error::LineTooLong(found) if found == what),
                "{path:?}: {error}"
            );
        });
    }
}

// No test_httplib counterpart (Python skips 100 Continue without a count): endless interim responses end at 100.
#[test]
fn endless_interim_responses() {
    let steps = vec![
        Step::Swallow,
        Step::Flood(b"HTTP/1.1 102 Processing\r\n\r\n".repeat(50)),
    ];
    let error = head_fault(steps, Timeouts::all(GENEROUS));
    assert!(matches!(error, Error::TooManyInterimResponses), "{error}");
}

// Mirrors test_httplib: BasicTest.test_status_lines (`400.100`) and test_error_leak (`Invalid status line`):
// BadStatusLine carries the line; the socket is closed, not leaked.
#[test]
fn test_bad_status_lines() {
    for line in [
        "HTTP/1.1 400.100 Not Ok",
        "Invalid status line",
        "HTTP/1.1  OK",
    ] {
        let error = head_error(format!("{line}\r\n\r\nText").as_bytes());
        assert!(
            matches!(&error, Error::BadStatusLine(found) if found == line),
            "{error}"
        );
        assert_eq!(error.to_string(), format!("bad status line: {line:?}"));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A server slower than each timeout.

/// A listener whose accept queue is full, so that a new connection attempt gets no answer at all.
///
/// Linux drops a SYN while the listener's accept queue is full: with a backlog of 0 one connection fills it.
/// The connections made to fill it are returned, to be kept open for the duration of the test.
fn listener_that_never_answers() -> (socket2::Socket, SocketAddr, Vec<TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let address = listener.local_addr().unwrap().as_socket().unwrap();
    let mut filling = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&address, Duration::from_millis(100)) {
            Ok(stream) => filling.push(stream),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                return (listener, address, filling)
            }
            Err(error) => panic!("filling the backlog: {error}"),
        }
    }
    panic!("the listen backlog never filled: the kernel answers every SYN");
}

// Mirrors test_httplib: TimeoutTest.testTimeoutAttribute, for the connect timeout: it fires, says so, and leaves the
// connection idle for the next attempt (Python stays in Request-sent).
#[test]
fn connect_timeout() {
    let (_listener, address, _filling) = listener_that_never_answers();
    let mut conn = connect_to(
        &address.to_string(),
        Timeouts {
            connect: Some(TIMEOUT),
            ..Timeouts::all(GENEROUS)
        },
    );
    for _ in 0..2 {
        let started = Instant::now();
        let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(error, Error::Timeout(TimeoutKind::Connect)),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "connect timed out");
        assert!(error.is_timeout() && error.is_connect(), "{error}");
        assert!(elapsed >= TIMEOUT / 2 && elapsed < BOUND, "{elapsed:?}");
        assert_eq!(conn.state(), State::Idle);
        assert!(conn.sock().is_none());
    }
}

// No test_httplib counterpart: the TLS handshake counts as connecting, so a server that accepts the connection but
// never answers the ClientHello trips the connect timeout, and the next attempt starts afresh.
#[cfg(feature = "tls")]
#[test]
fn connect_timeout_covers_the_tls_handshake() {
    // Accepted by the kernel, never read or answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let config = Config {
        timeouts: Timeouts {
            connect: Some(TIMEOUT),
            ..Timeouts::all(GENEROUS)
        },
        ..Config::default()
    };
    let mut conn = httpclient::HttpsConnection::with_config(&address.to_string(), config).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
        assert!(
            matches!(error, Error::Timeout(TimeoutKind::Connect)),
            "{error:?}"
        );
        assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
        assert_eq!(conn.state(), State::Idle);
        assert!(conn.sock().is_none());
    }
    drop(listener);
}

/// The timeouts of a test about one of them: that one short, the others generous.
fn only(kind: TimeoutKind) -> Timeouts {
    let mut timeouts = Timeouts::all(GENEROUS);
    match kind {
        TimeoutKind::Connect => timeouts.connect = Some(TIMEOUT),
        TimeoutKind::Read => timeouts.read = Some(TIMEOUT),
        TimeoutKind::Write => timeouts.write = Some(TIMEOUT),
    }
    timeouts
}

// Mirrors test_httplib: TimeoutTest.testTimeoutAttribute, for the read timeout while waiting for the status line.
#[test]
fn read_timeout_before_status_line() {
    let error = head_fault(
        vec![Step::Swallow, Step::HoldUntilClosed],
        only(TimeoutKind::Read),
    );
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Read)),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "read timed out");
}

// No test_httplib counterpart: the read timeout between two header lines.
#[test]
fn read_timeout_mid_headers() {
    let steps = vec![
        Step::Swallow,
        Step::Write(b"HTTP/1.1 200 OK\r\nX-Partial: yes\r\n".to_vec()),
        Step::HoldUntilClosed,
    ];
    let error = head_fault(steps, only(TimeoutKind::Read));
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Read)),
        "{error:?}"
    );
}

/// The read timeout inside the body `raw` begins, on every read path: the response is closed (a late byte must
/// not be read as the next answer) and the connection reconnects.
fn read_timeout_in_body(raw: Vec<u8>) {
    let steps = [Step::Swallow, Step::Write(raw), Step::HoldUntilClosed];
    body_fault(&steps, only(TimeoutKind::Read), |path, _, error| {
        assert!(
            matches!(error, Error::Timeout(TimeoutKind::Read)),
            "{path:?}: {error:?}"
        );
    });
}

// No test_httplib counterpart: the read timeout inside a Content-Length body.
#[test]
fn read_timeout_mid_body() {
    read_timeout_in_body(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello".to_vec());
}

// No test_httplib counterpart: the read timeout inside a chunked body.
#[test]
fn read_timeout_mid_chunked_body() {
    read_timeout_in_body(chunked("5\r\nhello\r\n6\r\n wo"));
}

// No test_httplib counterpart: a large body to a server that never reads: the write timeout fires and says so.
// As in Python the state stays Request-sent (an early answer could still be read); getresponse then times out
// reading, which closes the connection, and the next request reconnects.
#[test]
fn write_timeout_on_large_body() {
    // The kernel completes the handshake but nobody accepts or reads until the test says so.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let timeouts = Timeouts {
        write: Some(TIMEOUT),
        read: Some(TIMEOUT),
        ..Timeouts::all(GENEROUS)
    };
    let mut conn = connect_to(&address.to_string(), timeouts);
    let body = vec![b'x'; 32 << 20];
    let started = Instant::now();
    let error = conn.request("POST", "/", &body, &[]).unwrap_err();
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Write)),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "write timed out");
    assert_eq!(conn.state(), State::RequestSent);
    assert!(matches!(
        conn.request("GET", "/", Body::Empty, &[]),
        Err(Error::CannotSendRequest(State::RequestSent))
    ));
    let error = conn.getresponse().unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Read)),
        "{error:?}"
    );

    let server = std::thread::spawn(move || {
        // The stalled connection, then the new one.
        drop(listener.accept().unwrap());
        let (mut socket, _) = listener.accept().unwrap();
        support::read_request(&mut socket, &mut Vec::new()).unwrap();
        socket.write_all(OK).unwrap();
    });
    assert_reconnects(&mut conn, "after the write timeout");
    server.join().unwrap();
}

// Mirrors test_httplib: BasicTest.test_epipe with an HTTP/1.1 keep-alive answer: the server answers 401 before
// reading the body and the send times out. The answer is read, but the connection is not reused: the server never
// got the whole body, so the next request would be read as its rest.
#[test]
fn early_answer_after_failed_send_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        // Hold the connection, unread, until the client is done with it.
        let _ = wait.recv_timeout(Duration::from_secs(10));
        drop(socket);
        let (mut socket, _) = listener.accept().unwrap();
        support::read_request(&mut socket, &mut Vec::new()).unwrap();
        socket.write_all(OK).unwrap();
    });
    let mut conn = connect_to(&address.to_string(), only(TimeoutKind::Write));
    let body = vec![b'x'; 32 << 20];
    let error = conn.request("PUT", "/", &body, &[]).unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Write)),
        "{error:?}"
    );
    let response = conn.getresponse().unwrap();
    assert_eq!(response.status, 401);
    assert!(response.will_close(), "half a request was sent: no reuse");
    drop(response);
    done.send(()).unwrap();
    assert_reconnects(&mut conn, "after an early answer");
    server.join().unwrap();
}
