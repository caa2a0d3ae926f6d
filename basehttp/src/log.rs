//! Where the access log goes: Python's stderr (the default), a file or stdout written by a background thread, or nowhere.
//!
//! A request's log line is the one thing every request writes besides its answer. On stderr it costs a write(2) on the worker,
//! as in Python; to a file it is handed to a writer thread through a bounded queue and written in blocks, so a slow or full disk
//! never stalls serving: when the queue is full the line is dropped and counted, and the count is written once there is room.
//!
//! A line is Python's (logged when the status is sent, as Python does) or, with [`set_log_format`], one in the shape log tools read
//! (Common, Combined, JSON), made once the answer is handed to the connection so it can say how many bytes went and how long it took.
//! [`reopen_access_log`] reopens the file by its name, for logrotate's rename-then-signal.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::RwLock;
use std::thread;
use std::time::Duration;
use std::time::{Instant, SystemTime};

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

/// The shape of each access log line (`--log-format`), for the whole process (set with [`set_log_format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// Python's line, through the handler's `log_message`: `127.0.0.1 - - [22/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 -`.
    #[default]
    Python,
    /// The Common Log Format (Apache's `common`, nginx's default without the last two fields):
    /// `127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1234`, the count being the body's bytes.
    Common,
    /// The Combined Log Format: Common, then the quoted `Referer` and `User-Agent` (`-` when absent).
    Combined,
    /// One JSON object per line: `time`, `remote_addr`, `request`, `method`, `path`, `protocol`, `status`, `bytes`,
    /// `duration_seconds`, `referer`, `user_agent`.
    Json,
}

static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Writes access lines in `format` from now on, for every server in the process.
///
/// Lines in formats other than [`LogFormat::Python`] are written whole by the server, so a handler's `log_message` override
/// no longer sees them; they go where [`set_access_log`] says (to stderr by default).
pub fn set_log_format(format: LogFormat) {
    let code = match format {
        LogFormat::Python => 0,
        LogFormat::Common => 1,
        LogFormat::Combined => 2,
        LogFormat::Json => 3,
    };
    FORMAT.store(code, Ordering::SeqCst);
}

pub(crate) fn log_format() -> LogFormat {
    match FORMAT.load(Ordering::Relaxed) {
        1 => LogFormat::Common,
        2 => LogFormat::Combined,
        3 => LogFormat::Json,
        _ => LogFormat::Python,
    }
}

const STDERR: u8 = 0;
const FILE: u8 = 1;
const OFF: u8 = 2;

/// Lines waiting for the writer thread at most; beyond, lines are dropped rather than wait.
const QUEUE: usize = 4096;

static MODE: AtomicU8 = AtomicU8::new(STDERR);
static WRITER: RwLock<Option<SyncSender<Message>>> = RwLock::new(None);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Every line dropped since the process started, for monitoring (`DROPPED` is reset each time its count is written).
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

enum Message {
    Line(Vec<u8>),
    /// Write out everything before this, then answer.
    Flush(SyncSender<()>),
    /// Close the file and open its name again (logrotate moved it away).
    Reopen,
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
            let (file, name) = if path.as_os_str() == "-" {
                use std::os::fd::AsFd;
                (File::from(io::stdout().as_fd().try_clone_to_owned()?), None)
            } else {
                (open_log(&path)?, Some(path))
            };
            let (sender, receiver) = mpsc::sync_channel(QUEUE);
            thread::Builder::new()
                .name("access-log".into())
                .spawn(move || write_lines(file, name, receiver))?;
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

fn open_log(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// Closes the access log file and opens its name again, after the lines queued so far are written to the old one:
/// logrotate renames the file, then signals the server (the commands do this on SIGHUP), and the server goes on in a new file.
///
/// Returns false when the log is not a file (stderr, stdout, off). A file that cannot be opened again leaves the old one in use,
/// with a line on stderr saying why.
pub fn reopen_access_log() -> bool {
    let sender = WRITER
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    match sender {
        Some(sender) if MODE.load(Ordering::SeqCst) == FILE => {
            send_within(&sender, Message::Reopen, Duration::from_secs(1))
        }
        _ => false,
    }
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
            DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Access lines dropped since the process started because the log's queue was full.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

/// The writer thread: lines are written in blocks and flushed whenever the queue runs empty.
fn write_lines(file: File, name: Option<PathBuf>, receiver: Receiver<Message>) {
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
            Message::Reopen => {
                let _ = output.flush();
                if let Some(name) = &name {
                    match open_log(name) {
                        Ok(file) => *output.get_mut() = file,
                        Err(error) => crate::handler::write_stderr_line(
                            format!(
                                "access log: cannot reopen {}: {error}; still writing to the old file\n",
                                name.display()
                            )
                            .as_bytes(),
                        ),
                    }
                }
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

/// What an access line in a format other than Python's says about one request.
pub(crate) struct Completed<'a> {
    pub(crate) remote_addr: &'a str,
    pub(crate) requestline: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) protocol: &'a str,
    pub(crate) status: Option<u16>,
    pub(crate) body_bytes: u64,
    pub(crate) started: Instant,
    pub(crate) referer: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
}

/// Writes the line of a request answered, in the configured format, unless the format is Python's (logged at `send_response`)
/// or the log is off.
pub(crate) fn log_completed(request: &Completed<'_>) {
    let format = log_format();
    if format == LogFormat::Python {
        return;
    }
    let route = route();
    if matches!(route, Route::Nowhere) {
        return;
    }
    let line = format_line(format, request, SystemTime::now());
    match route {
        Route::Writer => queue_line(line.into_bytes()),
        Route::Handler => crate::handler::write_stderr_line(line.as_bytes()),
        Route::Nowhere => {}
    }
}

/// One line, its newline included.
fn format_line(format: LogFormat, request: &Completed<'_>, now: SystemTime) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(192);
    if format == LogFormat::Json {
        line.push_str("{\"time\":\"");
        line.push_str(&crate::text::rfc3339_date_time(now));
        line.push_str("\",\"remote_addr\":");
        json_string(&mut line, request.remote_addr);
        line.push_str(",\"request\":");
        json_string(&mut line, request.requestline);
        line.push_str(",\"method\":");
        json_string(&mut line, request.method);
        line.push_str(",\"path\":");
        json_string(&mut line, request.path);
        line.push_str(",\"protocol\":");
        json_string(&mut line, request.protocol);
        line.push_str(",\"status\":");
        match request.status {
            Some(status) => {
                let _ = write!(line, "{status}");
            }
            None => line.push_str("null"),
        }
        let seconds = request.started.elapsed().as_secs_f64();
        let _ = write!(
            line,
            ",\"bytes\":{},\"duration_seconds\":{seconds:.6},\"referer\":",
            request.body_bytes
        );
        json_string(&mut line, request.referer.unwrap_or(""));
        line.push_str(",\"user_agent\":");
        json_string(&mut line, request.user_agent.unwrap_or(""));
        line.push_str("}\n");
        return line;
    }
    quoted_free(&mut line, request.remote_addr);
    line.push_str(" - - [");
    line.push_str(&crate::text::common_log_date_time(now));
    line.push_str("] \"");
    quoted_free(&mut line, request.requestline);
    line.push_str("\" ");
    match request.status {
        Some(status) => {
            let _ = write!(line, "{status}");
        }
        None => line.push('-'),
    }
    let _ = write!(line, " {}", request.body_bytes);
    if format == LogFormat::Combined {
        for value in [request.referer, request.user_agent] {
            line.push_str(" \"");
            match value {
                Some(value) => quoted_free(&mut line, value),
                None => line.push('-'),
            }
            line.push('"');
        }
    }
    line.push('\n');
    line
}

/// Appends `text` with every byte that could end a quoted field or fake a line (`"`, `\\`, controls, bytes beyond ASCII)
/// written as `\\xHH`, as nginx escapes its log variables.
fn quoted_free(line: &mut String, text: &str) {
    for &byte in text.as_bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\' {
            line.push(char::from(byte));
        } else {
            let _ = std::fmt::Write::write_fmt(line, format_args!("\\x{byte:02X}"));
        }
    }
}

/// Appends `text` as a JSON string (RFC 8259): quotes, backslashes and controls escaped, the rest as it is.
fn json_string(line: &mut String, text: &str) {
    line.push('"');
    for character in text.chars() {
        match character {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            character if u32::from(character) < 0x20 || character == '\u{7f}' => {
                let _ = std::fmt::Write::write_fmt(
                    line,
                    format_args!("\\u{:04x}", u32::from(character)),
                );
            }
            character => line.push(character),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn request<'a>(requestline: &'a str, user_agent: Option<&'a str>) -> Completed<'a> {
        Completed {
            remote_addr: "192.0.2.7",
            requestline,
            method: "GET",
            path: "/a",
            protocol: "HTTP/1.1",
            status: Some(200),
            body_bytes: 1234,
            started: Instant::now(),
            referer: None,
            user_agent,
        }
    }

    #[test]
    fn common_and_combined_lines() {
        let now = UNIX_EPOCH + Duration::from_secs(971_186_136);
        let line = request("GET /a HTTP/1.1", Some("curl/8"));
        assert_eq!(
            format_line(LogFormat::Common, &line, now),
            "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 1234\n"
        );
        assert_eq!(
            format_line(LogFormat::Combined, &line, now),
            "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 1234 \"-\" \"curl/8\"\n"
        );
    }

    #[test]
    fn quotes_and_controls_cannot_fake_a_field_or_a_line() {
        let now = UNIX_EPOCH;
        let line = request("GET /\" 200 1 HTTP/1.1", Some("a\"\n\u{e9}"));
        let text = format_line(LogFormat::Combined, &line, now);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(text.contains("\"GET /\\x22 200 1 HTTP/1.1\""), "{text}");
        assert!(text.ends_with("\"a\\x22\\x0A\\xC3\\xA9\"\n"), "{text}");
    }

    #[test]
    fn json_lines_are_json() {
        let now = UNIX_EPOCH + Duration::from_secs(971_186_136);
        let line = request("GET /\"\\ HTTP/1.1", Some("\u{1}\u{e9}"));
        let text = format_line(LogFormat::Json, &line, now);
        assert!(text.starts_with(
            "{\"time\":\"2000-10-10T13:55:36Z\",\"remote_addr\":\"192.0.2.7\",\"request\":\"GET /\\\"\\\\ HTTP/1.1\","
        ), "{text}");
        assert!(
            text.ends_with("\"referer\":\"\",\"user_agent\":\"\\u0001\u{e9}\"}\n"),
            "{text}"
        );
    }
}
