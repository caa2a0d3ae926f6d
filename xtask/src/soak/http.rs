//! Just enough HTTP/1.1 client for the tasks: send a GET, read one answer framed by its Content-Length.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The longest answer head read before giving up.
const HEAD_LIMIT: usize = 64 * 1024;

/// `GET path` on HTTP/1.1 (kept alive), with the bytes of a complete head.
pub fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: xtask-soak\r\n\r\n")
}

/// The status and the body's length of an answer head, when it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
}

/// Reads a head's status line and Content-Length (the bytes up to, not including, the blank line).
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next()?.split(' ');
    if !status_line.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line
        .next()?
        .parse()
        .ok()
        .filter(|status| (100..1000).contains(status))?;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.trim().parse().ok()?);
            }
        }
    }
    Some(Head {
        status,
        content_length,
    })
}

/// The status of the first line of `bytes` if it starts like an answer (`HTTP/1.1 408 ...`).
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let end = bytes
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .unwrap_or(bytes.len());
    let line = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut words = line.split(' ');
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

/// Reads one answer: its head, then the rest of its Content-Length body; refuses an answer without one.
///
/// The head is read in chunks, so bytes of a following answer may be consumed: use it for one answer per connection, or one at a time.
pub fn read_answer(stream: &mut impl Read) -> io::Result<Head> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (head, body_start) = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = parse_head(&buffer[..end])
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP answer"))?;
            break (head, end + 4);
        }
        if buffer.len() > HEAD_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer head too long",
            ));
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let length = head.content_length.ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "answer without Content-Length")
    })?;
    let mut left = length.saturating_sub(buffer.len() - body_start);
    while left > 0 {
        let read = stream.read(&mut chunk[..left.min(4096)])?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= read;
    }
    Ok(head)
}

/// The server's address on the loopback interface.
pub fn address(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A GET on a fresh connection; returns how long it took from connect to the last byte of the body.
pub fn timed_get(port: u16, path: &str, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&address(port), timeout)
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(get_request(path).as_bytes())
        .map_err(|error| format!("send: {error}"))?;
    let head = read_answer(&mut stream).map_err(|error| format!("answer: {error}"))?;
    let elapsed = started.elapsed();
    if head.status == 200 {
        Ok(elapsed)
    } else {
        Err(format!("answered {}", head.status))
    }
}

/// The nearest-rank percentile of sorted samples (`p` in 0..=100); `None` when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Milliseconds with two decimals, as `1.25 ms`.
pub fn milliseconds(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    #[test]
    fn parses_answer_heads() {
        assert_eq!(
            parse_head(&crlf("HTTP/1.1 200 OK\nServer: x\ncontent-length: 100")),
            Some(Head {
                status: 200,
                content_length: Some(100)
            })
        );
        assert_eq!(
            parse_head(&crlf("HTTP/1.0 408 Request Timeout\nConnection: close")),
            Some(Head {
                status: 408,
                content_length: None
            })
        );
        assert_eq!(parse_head(b"GET / HTTP/1.1"), None);
        assert_eq!(parse_head(b"HTTP/1.1 abc OK"), None);
        assert_eq!(
            parse_head(&crlf("HTTP/1.1 200 OK\nContent-Length: many")),
            None
        );
    }

    #[test]
    fn reads_the_status_of_a_partial_answer() {
        assert_eq!(
            status_of(b"HTTP/1.1 408 Request Timeout\r\nConn"),
            Some(408)
        );
        assert_eq!(status_of(b"HTTP/1.1 200"), Some(200));
        assert_eq!(status_of(b"hello"), None);
        assert_eq!(status_of(b""), None);
    }

    #[test]
    fn reads_exactly_one_answer() {
        let mut bytes = crlf("HTTP/1.1 200 OK\nContent-Length: 5\n\n");
        bytes.extend_from_slice(b"hello");
        // Two pieces, so the body arrives partly with the head and partly in a later read.
        let mut reader = std::io::Read::chain(&bytes[..20], &bytes[20..]);
        assert_eq!(read_answer(&mut reader).unwrap().status, 200);

        let mut short = &crlf("HTTP/1.1 200 OK\nContent-Length: 5\n\nhel")[..];
        assert_eq!(
            read_answer(&mut short).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut unframed = &crlf("HTTP/1.1 200 OK\n\nhello")[..];
        assert_eq!(
            read_answer(&mut unframed).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(198)));
        assert_eq!(
            percentile(&samples, 100.0),
            Some(Duration::from_millis(200))
        );
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(milliseconds(Duration::from_micros(1250)), "1.25 ms");
    }
}
