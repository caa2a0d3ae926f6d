//! CPython's test_tcpserver_bind_leak, alone in its own test process so no other test opens or closes descriptors while they are counted.

mod common;

use std::io;

use common::{open_descriptors, EchoLine};
use socketserver::TcpServer;

// Mirrors test_socketserver: SocketServerTest.test_tcpserver_bind_leak
// CPython bpo-22435: a TCPServer whose bind fails must close its socket; 1024 failures would exhaust a default descriptor limit.
#[test]
fn test_tcpserver_bind_leak() {
    let server = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    let address = server.server_address().inet().unwrap();
    let before = open_descriptors();
    for _ in 0..1024 {
        let error = TcpServer::new(address, EchoLine).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }
    let after = open_descriptors();
    assert_eq!(before, after, "descriptors leaked by 1024 failed binds");
}
