//! Scripted servers on 127.0.0.1:0 for the integration tests: each answers requests with canned bytes and records what it received.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server does on one connection.
#[derive(Clone, Debug)]
pub enum Step {
    /// Read one request, then write these bytes.
    Reply(Vec<u8>),
    /// Write these bytes without waiting for a request.
    Write(Vec<u8>),
    /// Read one request and answer nothing.
    Swallow,
    /// Wait this long.
    Sleep(Duration),
    /// Close with `SO_LINGER` 0, so the client gets a TCP reset instead of an end of file; ends the connection's script.
    Reset,
    /// Write these bytes again and again until the client stops reading and closes (at most 256 MiB).
    Flood(Vec<u8>),
    /// Read and discard until the client closes (at most 10 s): a server slower than any timeout.
    HoldUntilClosed,
}

/// A server following a script: one list of steps per accepted connection, closing each connection after its steps.
pub struct Scripted {
    pub address: SocketAddr,
    handle: JoinHandle<Vec<Vec<u8>>>,
}

impl Scripted {
    /// `host:port` for `HttpConnection::new`.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Waits for the script to end; returns the bytes received on each connection.
    pub fn received(self) -> Vec<Vec<u8>> {
        self.handle.join().expect("scripted server panicked")
    }
}

/// A server that reads one request and answers `response` on one connection, then closes.
pub fn serve_once(response: &[u8]) -> Scripted {
    serve(vec![vec![Step::Reply(response.to_vec())]])
}

/// Each request of each connection answered in turn.
pub fn serve_replies(connections: Vec<Vec<&[u8]>>) -> Scripted {
    serve(
        connections
            .into_iter()
            .map(|replies| {
                replies
                    .into_iter()
                    .map(|reply| Step::Reply(reply.to_vec()))
                    .collect()
            })
            .collect(),
    )
}

/// Runs `connections` in order, one accepted connection each.
pub fn serve(connections: Vec<Vec<Step>>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address");
    let handle = std::thread::spawn(move || {
        let mut received = Vec::new();
        for steps in connections {
            let (mut socket, _) = listener.accept().expect("accept");
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut bytes = Vec::new();
            for step in steps {
                match step {
                    Step::Reply(response) => {
                        if read_request(&mut socket, &mut bytes).is_none() {
                            break;
                        }
                        if socket.write_all(&response).is_err() {
                            break;
                        }
                    }
                    Step::Write(response) => {
                        if socket.write_all(&response).is_err() {
                            break;
                        }
                    }
                    Step::Swallow => {
                        let _ = read_request(&mut socket, &mut bytes);
                    }
                    Step::Sleep(duration) => std::thread::sleep(duration),
                    Step::Reset => {
                        socket2::SockRef::from(&socket)
                            .set_linger(Some(Duration::ZERO))
                            .expect("SO_LINGER");
                        break;
                    }
                    Step::Flood(bytes) => {
                        let mut written = 0;
                        while written < 256 << 20 && socket.write_all(&bytes).is_ok() {
                            written += bytes.len();
                        }
                    }
                    Step::HoldUntilClosed => {
                        let mut sink = [0; 4096];
                        while matches!(socket.read(&mut sink), Ok(read) if read > 0) {}
                    }
                }
            }
            received.push(bytes);
        }
        received
    });
    Scripted { address, handle }
}

/// Reads one whole request (head and a Content-Length or chunked body), appending its bytes to `bytes`.
pub fn read_request(socket: &mut TcpStream, bytes: &mut Vec<u8>) -> Option<()> {
    let start = bytes.len();
    let head_end = loop {
        if let Some(end) = find(&bytes[start..], b"\r\n\r\n") {
            break start + end + 4;
        }
        read_more(socket, bytes)?;
    };
    let head = String::from_utf8_lossy(&bytes[start..head_end]).to_ascii_lowercase();
    let content_length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok());
    if let Some(length) = content_length {
        while bytes.len() < head_end + length {
            read_more(socket, bytes)?;
        }
    } else if head.contains("transfer-encoding: chunked") {
        let complete = |body: &[u8]| body == b"0\r\n\r\n" || body.ends_with(b"\r\n0\r\n\r\n");
        while !complete(&bytes[head_end..]) {
            read_more(socket, bytes)?;
        }
    }
    Some(())
}

fn read_more(socket: &mut TcpStream, bytes: &mut Vec<u8>) -> Option<()> {
    let mut buffer = [0; 4096];
    match socket.read(&mut buffer) {
        Ok(0) | Err(_) => None,
        Ok(read) => {
            bytes.extend_from_slice(&buffer[..read]);
            Some(())
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Splits a raw request into its head lines and body.
pub fn parse_request(bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
    let end = find(bytes, b"\r\n\r\n").expect("a request head");
    let head = String::from_utf8_lossy(&bytes[..end]);
    (
        head.split("\r\n").map(str::to_string).collect(),
        bytes[end + 4..].to_vec(),
    )
}

/// Decodes a chunked body, as the Python tests' `_parse_chunked` does.
pub fn parse_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}
