//! Connections per second through a `TcpServer` in sync, threading and pool mode.
//!
//! Each iteration is one whole request: the client connects, sends a byte, reads the echoed byte and closes.
//! Criterion's throughput figure (elements per second) is connections per second.
//! Run: `cargo bench -p pyhttp-socketserver -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use socketserver::{Mode, ServerConfig, StreamRequest, StreamRequestHandler, TcpServer};

/// Reads one byte and writes it back.
struct OneByte;

impl StreamRequestHandler for OneByte {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let mut byte = [0u8; 1];
        request.rfile.read_exact(&mut byte)?;
        request.wfile.write_all(&byte)
    }
}

fn connect_once(address: SocketAddr) -> u8 {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.write_all(b"x").expect("send");
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).expect("receive");
    byte[0]
}

fn connections(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("connections");
    group.throughput(Throughput::Elements(1));
    let modes = [
        ("sync", Mode::Sync),
        ("threading", Mode::Threading),
        (
            "pool",
            Mode::Pool {
                workers: 4,
                queue: 64,
            },
        ),
    ];
    for (name, mode) in modes {
        let config = ServerConfig {
            request_queue_size: 128,
            ..ServerConfig::with_mode(mode)
        };
        let server = TcpServer::with_config("127.0.0.1:0", OneByte, config).expect("bind");
        let address = server.server_address().inet().expect("an Internet address");
        thread::scope(|scope| {
            let serving = scope.spawn(|| server.serve_forever(Duration::from_millis(500)));
            group.bench_function(name, |bencher| {
                bencher.iter(|| black_box(connect_once(address)))
            });
            server.shutdown();
            serving
                .join()
                .expect("serving thread")
                .expect("serve_forever");
        });
    }
    group.finish();
}

criterion_group!(benches, connections);
criterion_main!(benches);
