//! Where the access log goes: Python's stderr (the default), a file or stdout written by a background thread, or nowhere.
//!
//! A request's log line is the one thing every request writes besides its answer. On stderr it costs a write(2) on the worker,
//! as in Python; to a file it is handed to a writer thread through a bounded queue and written in blocks, so a slow or full disk
//! never stalls serving: when the queue is full the line is dropped and counted, and the count is written once there is room.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::RwLock;
use std::thread;
use std::time::Duration;

/// Where the lines of [`HttpRequest::log_request`](crate::HttpRequest::log_request) go, for the whole process (set with [`set_access_log`]).
///
/// Error lines (`log_error`) always go through the handler's `log_message`, to stderr by default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessLog {
    /// Through the handler's `log_message`, to stderr unless it is overridden (Python's behaviour, the default).
    Stderr,
    /// Appended to this file by a background thread; `-` is stdout.
    File(PathBuf),
    /// Not logged at all (nginx's `access_log off`).
    Off,
}

const STDERR: u8 = 0;
const FILE: u8 = 1;
const OFF: u8 = 2;

/// Lines waiting for the writer thread at most; beyond, lines are dropped rather than wait.
const QUEUE: usize = 4096;

static MODE: AtomicU8 = AtomicU8::new(STDERR);
static WRITER: RwLock<Option<SyncSender<Message>>> = RwLock::new(None);
static DROPPED: AtomicU64 = AtomicU64::new(0);

enum Message {
    Line(Vec<u8>),
    /// Write out everything before this, then answer.
    Flush(SyncSender<()>),
}

/// Sends the access log to `log` from now on, for every server in the process; a file is opened for appending (and created) first.
///
/// # Errors
///
/// The error from opening the file or starting its writer thread; the previous setting then stays.
pub fn set_access_log(log: AccessLog) -> io::Result<()> {
    match log {
        AccessLog::Stderr => MODE.store(STDERR, Ordering::SeqCst),
        AccessLog::Off => MODE.store(OFF, Ordering::SeqCst),
        AccessLog::File(path) => {
            let file = if path.as_os_str() == "-" {
                use std::os::fd::AsFd;
                File::from(io::stdout().as_fd().try_clone_to_owned()?)
            } else {
                OpenOptions::new().append(true).create(true).open(&path)?
            };
            let (sender, receiver) = mpsc::sync_channel(QUEUE);
            thread::Builder::new()
                .name("access-log".into())
                .spawn(move || write_lines(file, receiver))?;
            let previous = WRITER
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .replace(sender);
            MODE.store(FILE, Ordering::SeqCst);
            // The previous writer ends once its queue is written.
            drop(previous);
        }
    }
    Ok(())
}

/// Waits (up to a second) until the lines logged so far are written, as before the process exits.
pub fn flush_access_log() {
    let sender = WRITER
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if let Some(sender) = sender {
        let (done, written) = mpsc::sync_channel(1);
        if send_within(&sender, Message::Flush(done), Duration::from_secs(1)) {
            let _ = written.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Whether access lines are to be made at all, and where they go.
pub(crate) enum Route {
    Handler,
    Writer,
    Nowhere,
}

pub(crate) fn route() -> Route {
    match MODE.load(Ordering::Relaxed) {
        FILE => Route::Writer,
        OFF => Route::Nowhere,
        _ => Route::Handler,
    }
}

/// Queues one line (with its newline) for the writer thread; dropped and counted when the queue is full.
pub(crate) fn queue_line(line: Vec<u8>) {
    let writer = WRITER
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(sender) = writer.as_ref() else {
        return;
    };
    match sender.try_send(Message::Line(line)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The writer thread: lines are written in blocks and flushed whenever the queue runs empty.
fn write_lines(file: File, receiver: Receiver<Message>) {
    let mut output = BufWriter::with_capacity(64 * 1024, file);
    let write = |output: &mut BufWriter<File>, message: Message| {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            // A full disk or a stalled device is the operator's to know about, once there is room again.
            let _ = writeln!(
                output,
                "({dropped} access log lines dropped: the log could not keep up)"
            );
        }
        match message {
            Message::Line(line) => {
                let _ = output.write_all(&line);
            }
            Message::Flush(done) => {
                let _ = output.flush();
                let _ = done.send(());
            }
        }
    };
    loop {
        match receiver.recv_timeout(Duration::from_secs(1)) {
            Ok(message) => write(&mut output, message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Everything queued meanwhile goes in the same block.
        loop {
            match receiver.try_recv() {
                Ok(message) => write(&mut output, message),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    let _ = output.flush();
                    return;
                }
            }
        }
        let _ = output.flush();
    }
    let _ = output.flush();
}

/// `SyncSender::send` with a bound: a writer stuck on a dead disk must not hold up the process's exit.
fn send_within(sender: &SyncSender<Message>, mut message: Message, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match sender.try_send(message) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(returned)) => {
                if std::time::Instant::now() >= deadline {
                    return false;
                }
                message = returned;
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
