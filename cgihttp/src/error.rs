//! The crate's one error type: what can go wrong between a request and a script's answer, and the status each maps to.

use std::fmt;
use std::io;

/// Why a script gave no usable answer.
///
/// Small and `Copy`, like the parsers' errors in the other crates; [`CgiError::status`] is the status a server answers with
/// while it has sent nothing yet (502 for a script that broke the protocol, 504 for one that ran out of time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgiError {
    /// The script's header block outgrew [`MAX_HEADER_BYTES`](crate::MAX_HEADER_BYTES).
    HeaderTooLarge,
    /// The script's header block has more than [`MAX_HEADER_LINES`](crate::MAX_HEADER_LINES) lines.
    TooManyHeaders,
    /// A header line is not `name: value` with a token name and a value free of control characters and valid UTF-8,
    /// or `Status`, `Location` or `Content-Type` appears twice.
    MalformedHeader,
    /// A header value or reason phrase holds a C0 control other than tab, DEL, a C1 control (U+0080 to U+009F),
    /// or a character beyond ISO-8859-1: it cannot go on the wire as the script meant it.
    UnsendableHeader,
    /// `Status:` is not a three-digit code from 200 to 599 with an optional reason.
    InvalidStatus,
    /// `Location:` is neither a local path (starting with one `/`) nor an absolute URL, or is not an ASCII URI reference.
    InvalidLocation,
    /// The header block has none of `Content-Type`, `Location` and `Status` (RFC 3875 §6.2).
    MissingCgiField,
    /// The script's output ended before the blank line that closes its header block.
    IncompleteHeader,
    /// The script ran past its timeout; its process group was killed.
    Timeout,
    /// The script could not be started.
    Spawn(io::ErrorKind),
    /// Reading the script's output failed.
    Read(io::ErrorKind),
    /// Writing to the client failed (it went away); the script was stopped.
    Write(io::ErrorKind),
    /// The client closed or reset the connection while the script ran; the script was stopped.
    /// Nothing is answered (nobody is left to read it).
    ClientGone,
    /// The server is stopping: the script was killed with everything it started.
    ServerStopping,
    /// Reading the request body for the script's stdin failed: the client left, or stalled past the timeout, mid-body.
    /// The script was stopped, since the request it was given is incomplete.
    RequestBody(io::ErrorKind),
}

impl CgiError {
    /// The status a server answers with for this error, when it has not yet sent anything.
    pub fn status(self) -> u16 {
        match self {
            CgiError::Timeout => 504,
            CgiError::Spawn(_) => 500,
            CgiError::ServerStopping => 503,
            CgiError::RequestBody(_) => 400,
            _ => 502,
        }
    }
}

impl fmt::Display for CgiError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgiError::HeaderTooLarge => formatter.write_str("script header block too large"),
            CgiError::TooManyHeaders => formatter.write_str("script sent too many header lines"),
            CgiError::MalformedHeader => formatter.write_str("malformed script header line"),
            CgiError::UnsendableHeader => formatter
                .write_str("control character or character beyond ISO-8859-1 in a script header"),
            CgiError::InvalidStatus => formatter.write_str("invalid script Status header"),
            CgiError::InvalidLocation => formatter.write_str("invalid script Location header"),
            CgiError::MissingCgiField => {
                formatter.write_str("script sent no Content-Type, Location or Status")
            }
            CgiError::IncompleteHeader => {
                formatter.write_str("script output ended inside its header block")
            }
            CgiError::Timeout => formatter.write_str("script timed out"),
            CgiError::Spawn(kind) => write!(formatter, "cannot start script: {kind}"),
            CgiError::Read(kind) => write!(formatter, "cannot read script output: {kind}"),
            CgiError::Write(kind) => write!(formatter, "cannot write to client: {kind}"),
            CgiError::ClientGone => formatter.write_str("client closed the connection"),
            CgiError::ServerStopping => formatter.write_str("server stopping, script killed"),
            CgiError::RequestBody(kind) => write!(formatter, "cannot read request body: {kind}"),
        }
    }
}

impl std::error::Error for CgiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let cases = [
            (CgiError::Timeout, 504, "script timed out"),
            (
                CgiError::Spawn(io::ErrorKind::NotFound),
                500,
                "cannot start script: entity not found",
            ),
            (
                CgiError::MalformedHeader,
                502,
                "malformed script header line",
            ),
            (CgiError::ClientGone, 502, "client closed the connection"),
            (
                CgiError::RequestBody(io::ErrorKind::UnexpectedEof),
                400,
                "cannot read request body: unexpected end of file",
            ),
            (
                CgiError::IncompleteHeader,
                502,
                "script output ended inside its header block",
            ),
        ];
        for (error, status, message) in cases {
            assert_eq!(error.status(), status);
            assert_eq!(error.to_string(), message);
        }
    }
}
