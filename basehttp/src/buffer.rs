//! The read side of a connection: one buffer the head parser sees whole, grown for a long head and shrunk back after it.
//!
//! A readiness worker lends its spare buffer to each connection it runs and takes it back when the connection waits with
//! nothing unparsed, so an idle connection holds no buffer and a busy worker allocates none per request.

use std::cell::Cell;
use std::io;

/// The buffer's usual size; a head longer than this grows it, and it shrinks back once the head is served.
pub(crate) const BUFFER_SIZE: usize = 8192;

thread_local! {
    /// This thread's spare buffer of the usual size, lent to the next connection it runs.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Bytes read from the connection and not yet consumed: `buffer[start..end]`.
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl InputBuffer {
    /// An empty buffer of the usual size: this thread's spare one if it has one (only `start..end` of a buffer is ever read,
    /// so it is not zeroed again), else a new one.
    pub(crate) fn lend() -> Self {
        let buffer = SPARE.take();
        if buffer.len() == BUFFER_SIZE {
            return InputBuffer {
                buffer,
                start: 0,
                end: 0,
            };
        }
        InputBuffer {
            buffer: vec![0; BUFFER_SIZE],
            start: 0,
            end: 0,
        }
    }

    /// Gives the buffer back to this thread's spare when it is of the usual size and holds nothing.
    pub(crate) fn give_back(self) {
        if self.start == self.end && self.buffer.len() == BUFFER_SIZE {
            SPARE.set(self.buffer);
        }
    }

    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes after the buffered ones with `read`, first moving them to the front, or growing the buffer when it is full.
    /// The head parser bounds how far it grows (a head over its limit is refused before the next read).
    pub(crate) fn read_with(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.buffer.is_empty() {
            self.buffer = vec![0; BUFFER_SIZE];
        }
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            let grown = self.buffer.len() * 2;
            self.buffer.resize(grown, 0);
        }
        let count = read(&mut self.buffer[self.end..])?;
        self.end += count;
        Ok(count)
    }

    /// Reads into an empty buffer from its start, for a body reader that has used up what was buffered.
    pub(crate) fn refill_with(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        self.read_with(read)
    }

    /// Gives a grown buffer back once it holds little, so a connection keeps only the usual size.
    pub(crate) fn shrink(&mut self) {
        let held = self.end - self.start;
        if self.buffer.len() > BUFFER_SIZE && held <= BUFFER_SIZE {
            self.buffer.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = held;
            self.buffer.truncate(BUFFER_SIZE);
            self.buffer.shrink_to_fit();
        }
    }

    /// The whole buffer as scratch space, for bytes read only to be thrown away.
    pub(crate) fn scratch(&mut self) -> &mut [u8] {
        if self.buffer.is_empty() {
            self.buffer = vec![0; BUFFER_SIZE];
        }
        &mut self.buffer
    }
}
