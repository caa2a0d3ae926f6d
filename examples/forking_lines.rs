//! Python's forking_lines.py: a forking TCP server whose `StreamRequestHandler` answers each line with the child's
//! process id and the line reversed, until `quit` or the end of the stream; a connection silent for 30 s times out.
//!
//! Usage: `forking_lines [ADDRESS]` (default `127.0.0.1:9998`, the Python's; port 0 picks a free one).

use socketserver::prelude::*;

struct LineHandler;

impl StreamRequestHandler for LineHandler {
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));

    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        for line in (&mut request.rfile).split(b'\n') {
            let mut line = line?.trim_ascii().to_vec();
            if line == b"quit" {
                break;
            }
            line.reverse();
            let reply = [format!("{} ", std::process::id()).as_bytes(), &line, b"\n"].concat();
            request.wfile.write_all(&reply)?;
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    let config = ServerConfig::with_mode(Mode::Forking).allow_reuse_address(true);
    TcpServer::with_config(address_arg("127.0.0.1:9998"), LineHandler, config)?
        .serve_forever(POLL_INTERVAL)
}
