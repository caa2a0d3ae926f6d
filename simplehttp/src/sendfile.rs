//! Copying a file range to a connection with `sendfile(2)`, through socketserver's [`Stream::send_file`].
//!
//! The standard library's `io::copy` does not use `sendfile` for a file-to-socket copy, so the body of a plain TCP response goes through here; this crate stays free of `unsafe`.

use std::fs::File;
use std::io;

use socketserver::Stream;

use crate::range::{copy_range, ByteRange};

/// The most one `sendfile` call is asked to move, so a huge file is sent in steps that can be interrupted.
const SENDFILE_CHUNK: u64 = 1 << 30;

/// Drives a `sendfile`-like call until `range` is sent: `send_once(offset, count)` sends up to `count` bytes from `offset`, advances `offset`, and returns how many it sent.
///
/// This is the loop around any zero-copy primitive, such as the connection's own `Stream::send_file` or [`send_file_range`]'s.
/// Interrupted calls are retried; zero bytes before the end means the file shrank.
///
/// # Errors
///
/// The first other error of `send_once`, or [`io::ErrorKind::UnexpectedEof`] when the file is shorter than the range.
pub fn send_range_with<F>(range: &ByteRange, mut send_once: F) -> io::Result<()>
where
    F: FnMut(&mut u64, usize) -> io::Result<usize>,
{
    let mut offset = range.start;
    let end = range.start.saturating_add(range.len());
    while offset < end {
        let step = usize::try_from((end - offset).min(SENDFILE_CHUNK)).unwrap_or(usize::MAX);
        match send_once(&mut offset, step) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shorter than the range promised",
                ))
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Sends `range` of `file` on a connection with `sendfile(2)`: the kernel copies the pages straight to the socket ([`Stream::send_file`]).
///
/// Write any buffered headers to the connection first.
/// Where the kernel refuses `sendfile` for these descriptors before anything was sent, the range is copied with ordinary reads and writes.
/// The file's own offset is not used or moved on the `sendfile` path.
///
/// # Errors
///
/// An error from the socket (a write timeout shows as [`io::ErrorKind::WouldBlock`] or [`io::ErrorKind::TimedOut`]), or [`io::ErrorKind::UnexpectedEof`] when the file is shorter than the range.
pub fn send_file_range(file: &File, range: &ByteRange, stream: &Stream) -> io::Result<()> {
    let mut fall_back = false;
    let result = send_range_with(range, |offset, count| {
        let start = *offset;
        stream.send_file(file, offset, count).inspect_err(|error| {
            fall_back = start == range.start
                && matches!(
                    error.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                );
        })
    });
    if fall_back {
        return copy_range(&mut &*file, &mut &*stream, range);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    fn send_over_tcp(content: &[u8], range: ByteRange, prefix: &[u8]) -> (io::Result<()>, Vec<u8>) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let reader = thread::spawn(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            let mut received = Vec::new();
            stream.read_to_end(&mut received).unwrap();
            received
        });
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.write_all(prefix).unwrap();
        let stream = Stream::from(tcp);
        let result = send_file_range(&file, &range, &stream);
        drop(stream);
        (result, reader.join().unwrap())
    }

    #[test]
    fn sends_a_range_after_the_headers() {
        let content: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let (result, received) = send_over_tcp(
            &content,
            ByteRange {
                start: 10,
                end: 250_009,
            },
            b"HEAD\r\n",
        );
        result.unwrap();
        assert_eq!(&received[..6], b"HEAD\r\n");
        assert_eq!(&received[6..], &content[10..250_010]);
    }

    #[test]
    fn short_file_is_an_error() {
        let (result, received) = send_over_tcp(b"0123456789", ByteRange { start: 5, end: 50 }, b"");
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(received, b"56789");
    }

    #[test]
    fn send_loop_retries_interruptions_and_stops_at_the_end() {
        let mut calls = Vec::new();
        let mut interrupted = false;
        send_range_with(&ByteRange { start: 5, end: 14 }, |offset, count| {
            calls.push((*offset, count));
            if !interrupted {
                interrupted = true;
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let sent = count.min(4);
            *offset += sent as u64;
            Ok(sent)
        })
        .unwrap();
        assert_eq!(calls, [(5, 10), (5, 10), (9, 6), (13, 2)]);
        let error = send_range_with(&ByteRange { start: 0, end: 9 }, |_, _| Ok(0)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn works_on_any_writer() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"hello world").unwrap();
        let mut output = Vec::new();
        copy_range(&mut &file, &mut output, &ByteRange { start: 6, end: 10 }).unwrap();
        assert_eq!(output, b"world");
    }
}
