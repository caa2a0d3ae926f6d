//! The SocketServer seed program: a TCP server whose StreamRequestHandler prints the client's address and writes `data`.
//!
//! ```python
//! import SocketServer
//! class myRequestHandler(SocketServer.StreamRequestHandler):
//!     def handle(self):
//!         print "connection from ", self.client_address
//!         self.wfile.write("data")
//! srvsocket = SocketServer.TCPServer(("", 8000), myRequestHandler)
//! srvsocket.serve_forever()
//! ```
//!
//! Usage: `hello_stream [PORT]` (default 8000; 0 picks a free port, printed on the first line).

use std::io::{self, Write};
use std::time::Duration;

use socketserver::{StreamRequest, StreamRequestHandler, TcpServer};

struct MyRequestHandler;

impl StreamRequestHandler for MyRequestHandler {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        println!("connection from  {}", request.client_address.python_repr());
        request.wfile.write_all(b"data")
    }
}

fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "PORT must be a number"))?,
        None => 8000,
    };
    let server = TcpServer::new(("0.0.0.0", port), MyRequestHandler)?;
    println!("Serving TCP on {} ...", server.server_address());
    server.serve_forever(Duration::from_millis(500))
}
