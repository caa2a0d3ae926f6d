//! What a response still has to send, bytes and file ranges by reference, and how it is pushed out:
//! without waiting on a loop-driven connection, until done on a blocking one.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use socketserver::Stream;

use crate::handler::Sink;

/// The most one sendfile(2) call is asked to move, so a huge range goes in steps between which a deadline can be checked.
const SENDFILE_STEP: u64 = 1 << 30;

/// The most pieces of bytes one sendmsg(2) gathers.
const GATHER: usize = 8;

/// How much of a file is read at a time where it must pass through this process (TLS, or a file sendfile(2) refuses):
/// the largest TLS record's worth.
pub(crate) const COPY_STEP: usize = 16 * 1024;

fn file_shorter() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "file shorter than the range promised",
    )
}

thread_local! {
    /// A worker's spare byte buffer for responses: the last one fully sent comes back here, so a response costs no allocation for it.
    static SPARE_BYTES: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest buffer kept for the next response.
const SPARE_LIMIT: usize = 64 * 1024;

/// One part of a response not yet sent.
enum Piece {
    Bytes {
        data: Vec<u8>,
        sent: usize,
    },
    /// Bytes shared with a cache: sent from where they are, not counted as buffered (they cost this response nothing).
    Shared {
        data: Arc<[u8]>,
        sent: usize,
    },
    File {
        file: Arc<File>,
        offset: u64,
        end: u64,
        /// sendfile(2) was refused for this file: its bytes are read and written.
        copy: bool,
    },
}

/// The rest of a response, in order.
#[derive(Default)]
pub(crate) struct Pending {
    pieces: VecDeque<Piece>,
    /// Bytes of the byte pieces not yet sent; files are not counted, they wait in the file.
    buffered: usize,
    /// Bytes put on the wire so far (for TLS, record bytes).
    sent: u64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pending")
            .field("pieces", &self.pieces.len())
            .field("buffered", &self.buffered)
            .finish()
    }
}

impl Pending {
    /// Bytes waiting, files not counted.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Bytes put on the wire so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.buffered += bytes.len();
        if let Some(Piece::Bytes { data, .. }) = self.pieces.back_mut() {
            data.extend_from_slice(bytes);
            return;
        }
        let mut data = SPARE_BYTES.take();
        data.clear();
        data.extend_from_slice(bytes);
        self.pieces.push_back(Piece::Bytes { data, sent: 0 });
    }

    pub(crate) fn push_shared(&mut self, data: Arc<[u8]>) {
        if data.is_empty() {
            return;
        }
        self.pieces.push_back(Piece::Shared { data, sent: 0 });
    }

    pub(crate) fn push_file(&mut self, file: Arc<File>, offset: u64, length: u64) {
        if length == 0 {
            return;
        }
        self.pieces.push_back(Piece::File {
            file,
            offset,
            end: offset.saturating_add(length),
            copy: false,
        });
    }

    /// Sends what a plain socket takes now, without waiting; true once everything went.
    ///
    /// A head followed by a file leaves with MSG_MORE, so it shares its segment with the start of the body.
    pub(crate) fn flush_plain(&mut self, stream: &Stream) -> io::Result<bool> {
        let mut scratch = Vec::new();
        loop {
            match self.send_gathered(stream)? {
                Some(false) => return Ok(false),
                Some(true) => continue,
                None => {}
            }
            let more_follows = self.pieces.len() > 1;
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            let sent = match front {
                Piece::Bytes { data, sent } => match write_plain(stream, data, sent, more_follows)?
                {
                    None => return Ok(false),
                    Some(count) => {
                        self.buffered -= count;
                        self.sent += count as u64;
                        *sent == data.len()
                    }
                },
                Piece::Shared { data, sent } => {
                    match write_plain(stream, data, sent, more_follows)? {
                        None => return Ok(false),
                        Some(count) => {
                            self.sent += count as u64;
                            *sent == data.len()
                        }
                    }
                }
                Piece::File {
                    file,
                    offset,
                    end,
                    copy,
                } => {
                    let step = (*end - *offset).min(SENDFILE_STEP);
                    let result = if *copy {
                        copy_step(file, offset, step, &mut scratch, |bytes| {
                            (&*stream).write(bytes)
                        })
                    } else {
                        let start = *offset;
                        stream
                            .send_file(file, offset, usize::try_from(step).unwrap_or(usize::MAX))
                            .and_then(|count| {
                                if count == 0 {
                                    Err(file_shorter())
                                } else {
                                    Ok(count)
                                }
                            })
                            .map_err(|error| (error, start))
                            .or_else(|(error, start)| {
                                // Some files (procfs, some FUSE mounts) refuse sendfile(2): copy them instead, from where it stopped.
                                if *offset == start
                                    && matches!(
                                        error.kind(),
                                        io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                                    )
                                {
                                    *copy = true;
                                    Ok(0)
                                } else {
                                    Err(error)
                                }
                            })
                    };
                    match result {
                        Ok(count) => {
                            self.sent += count as u64;
                            *offset == *end
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => false,
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            return Ok(false)
                        }
                        Err(error) => return Err(error),
                    }
                }
            };
            if sent {
                self.pop();
            }
        }
        Ok(true)
    }

    /// Sends the pieces of bytes at the front, when two or more are in a row (a head and a body kept in memory), in one
    /// sendmsg(2) rather than a call each. `None` when the front is no such run; `Some(false)` when the socket took nothing.
    fn send_gathered(&mut self, stream: &Stream) -> io::Result<Option<bool>> {
        let run = self
            .pieces
            .iter()
            .take(GATHER)
            .take_while(|piece| !matches!(piece, Piece::File { .. }))
            .count();
        if run < 2 {
            return Ok(None);
        }
        let mut slices = [IoSlice::new(&[]); GATHER];
        for (slice, piece) in slices.iter_mut().zip(&self.pieces) {
            match piece {
                Piece::Bytes { data, sent } => *slice = IoSlice::new(&data[*sent..]),
                Piece::Shared { data, sent } => *slice = IoSlice::new(&data[*sent..]),
                Piece::File { .. } => break,
            }
        }
        let mut count = match stream.send_vectored(&slices[..run], self.pieces.len() > run) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(Some(false)),
            Err(error) => return Err(error),
        };
        self.sent += count as u64;
        while count > 0 {
            let (length, sent, buffered) = match self.pieces.front_mut() {
                Some(Piece::Bytes { data, sent }) => (data.len(), sent, true),
                Some(Piece::Shared { data, sent }) => (data.len(), sent, false),
                Some(Piece::File { .. }) | None => break,
            };
            let taken = (length - *sent).min(count);
            *sent += taken;
            count -= taken;
            if buffered {
                self.buffered -= taken;
            }
            if *sent == length {
                self.pop();
            }
        }
        Ok(Some(true))
    }

    /// Drops the first piece, keeping a byte buffer of a reasonable size for the next response on this thread.
    fn pop(&mut self) {
        if let Some(Piece::Bytes { data, .. }) = self.pieces.pop_front() {
            if data.capacity() <= SPARE_LIMIT {
                SPARE_BYTES.set(data);
            }
        }
    }

    /// Sends what a TLS session and its socket take now, without waiting; true once everything went, encrypted records included.
    #[cfg(feature = "tls")]
    pub(crate) fn flush_tls(
        &mut self,
        stream: &Stream,
        tls: &mut rustls::ServerConnection,
    ) -> io::Result<bool> {
        let mut scratch = Vec::new();
        loop {
            if !crate::tls::write_records(tls, stream, &mut self.sent)? {
                return Ok(false);
            }
            let Some(front) = self.pieces.front_mut() else {
                return Ok(true);
            };
            let done = match front {
                Piece::Bytes { data, sent } => {
                    let count = tls.writer().write(&data[*sent..])?;
                    if count == 0 {
                        return Err(io::Error::other("TLS session took no bytes"));
                    }
                    *sent += count;
                    self.buffered -= count;
                    *sent == data.len()
                }
                Piece::Shared { data, sent } => {
                    let count = tls.writer().write(&data[*sent..])?;
                    if count == 0 {
                        return Err(io::Error::other("TLS session took no bytes"));
                    }
                    *sent += count;
                    *sent == data.len()
                }
                Piece::File {
                    file, offset, end, ..
                } => {
                    let step = (*end - *offset).min(COPY_STEP as u64);
                    copy_step(file, offset, step, &mut scratch, |bytes| {
                        tls.writer().write(bytes)
                    })?;
                    *offset == *end
                }
            };
            if done {
                self.pop();
            }
        }
    }
}

/// Writes what a plain socket takes now of `data` past `sent`, advancing `sent`: `None` when the socket is full,
/// `Some(0)` when a signal interrupted the call. MSG_MORE when `more_follows`.
fn write_plain(
    stream: &Stream,
    data: &[u8],
    sent: &mut usize,
    more_follows: bool,
) -> io::Result<Option<usize>> {
    let rest = &data[*sent..];
    let result = if more_follows {
        stream.send_more(rest)
    } else {
        (&*stream).write(rest)
    };
    match result {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(count) => {
            *sent += count;
            Ok(Some(count))
        }
        Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(Some(0)),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads up to `step` bytes of `file` at `offset` and hands them to `write`, advancing `offset` by what it took.
fn copy_step(
    file: &File,
    offset: &mut u64,
    step: u64,
    scratch: &mut Vec<u8>,
    write: impl FnOnce(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    let want = usize::try_from(step).unwrap_or(usize::MAX).min(COPY_STEP);
    scratch.resize(want, 0);
    let read = file.read_at(&mut scratch[..want], *offset)?;
    if read == 0 {
        return Err(file_shorter());
    }
    let written = write(&scratch[..read])?;
    if written == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    *offset += written as u64;
    Ok(written)
}

/// The output of a connection served by a thread from start to end: a buffer flushed after each request,
/// and file ranges by sendfile(2) on the plain socket (or copied through the buffer otherwise).
pub(crate) struct BlockingSink<'a, W: Write> {
    pub(crate) output: BufWriter<W>,
    /// The plain socket under `output`, for sendfile(2); `None` under TLS or a test double.
    pub(crate) socket: Option<&'a Stream>,
}

impl<W: Write> Write for BlockingSink<'_, W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.output.write(buffer)
    }

    fn write_all(&mut self, buffer: &[u8]) -> io::Result<()> {
        self.output.write_all(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

/// Copies `length` bytes of `file` from `offset` through `write`, for outputs that sendfile(2) cannot reach.
fn copy_file(
    file: &File,
    offset: u64,
    length: u64,
    mut write: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut scratch = Vec::new();
    let mut position = offset;
    let end = offset.saturating_add(length);
    while position < end {
        let rest = end - position;
        copy_step(file, &mut position, rest, &mut scratch, |bytes| {
            write(bytes).map(|()| bytes.len())
        })?;
    }
    Ok(())
}

impl<W: Write> Sink for BlockingSink<'_, W> {
    fn send_file(&mut self, file: Arc<File>, offset: u64, length: u64) -> io::Result<()> {
        let Some(socket) = self.socket else {
            return copy_file(&file, offset, length, |bytes| self.output.write_all(bytes));
        };
        self.output.flush()?;
        let mut pending = Pending::default();
        pending.push_file(file, offset, length);
        // The socket blocks, with the write timeout as its limit: a call that moved nothing timed out.
        loop {
            let before = pending.sent();
            match pending.flush_plain(socket) {
                Ok(true) => return Ok(()),
                Ok(false) if pending.sent() > before => {}
                Ok(false) => return Err(io::ErrorKind::TimedOut.into()),
                Err(error) => return Err(error),
            }
        }
    }
}

impl Sink for Vec<u8> {
    fn send_file(&mut self, file: Arc<File>, offset: u64, length: u64) -> io::Result<()> {
        copy_file(&file, offset, length, |bytes| {
            self.extend_from_slice(bytes);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    #[test]
    fn gathered_pieces_arrive_whole_and_in_order_through_partial_writes() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let stream = Stream::from(ours);
        let head: Vec<u8> = (0..1000u32).map(|index| (index % 7) as u8).collect();
        let body: Arc<[u8]> = (0..3_000_000u32).map(|index| (index % 251) as u8).collect();
        let tail = b"and the end".to_vec();
        let mut pending = Pending::default();
        pending.push_bytes(&head);
        pending.push_shared(Arc::clone(&body));
        pending.push_bytes(&tail);
        pending.push_shared(Arc::from(&b"!"[..]));
        let expected = [&head[..], &body[..], &tail[..], b"!"].concat();
        assert_eq!(pending.buffered(), head.len() + tail.len());
        let reader = std::thread::spawn(move || {
            let mut received = Vec::new();
            theirs.read_to_end(&mut received).unwrap();
            received
        });
        // The bytes of byte pieces not yet sent: what `buffered` must say at every step (the shared body is not counted).
        let unsent_own_bytes = |sent: u64| {
            let sent = usize::try_from(sent).unwrap();
            let head_left = head.len().saturating_sub(sent);
            let tail_start = head.len() + body.len();
            let tail_left = tail.len() - sent.saturating_sub(tail_start).min(tail.len());
            head_left + tail_left
        };
        let mut waits = 0;
        while !pending.flush_plain(&stream).unwrap() {
            assert_eq!(pending.buffered(), unsent_own_bytes(pending.sent()));
            waits += 1;
            assert!(stream
                .wait_writable(Some(std::time::Duration::from_secs(10)))
                .unwrap());
        }
        assert!(
            waits > 0,
            "the socket took 3 MB at once: no partial write was seen"
        );
        assert_eq!(pending.buffered(), 0);
        assert_eq!(pending.sent(), expected.len() as u64);
        drop(stream);
        let received = reader.join().unwrap();
        assert_eq!(received.len(), expected.len());
        assert!(received == expected, "bytes out of order");
    }

    #[test]
    fn a_gathered_write_to_a_closed_peer_fails() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        drop(theirs);
        let stream = Stream::from(ours);
        let mut pending = Pending::default();
        pending.push_bytes(b"HTTP/1.1 200 OK\r\n\r\n");
        pending.push_shared(Arc::from(&b"body"[..]));
        assert!(pending.flush_plain(&stream).is_err());
    }

    #[test]
    fn the_last_gathered_write_is_not_held_back() {
        use std::net::{TcpListener, TcpStream};
        // MSG_MORE on the last piece would keep it corked in the kernel for up to 200 ms.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        let stream = Stream::from(ours);
        let mut pending = Pending::default();
        pending.push_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
        pending.push_shared(Arc::from(&b"body"[..]));
        assert!(pending.flush_plain(&stream).unwrap());
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(150)))
            .unwrap();
        let mut received = Vec::new();
        let mut buffer = [0; 256];
        while !received.ends_with(b"body") {
            let count = client
                .read(&mut buffer)
                .expect("the answer should arrive at once, not after the kernel's cork timer");
            assert!(count > 0);
            received.extend_from_slice(&buffer[..count]);
        }
    }
}
