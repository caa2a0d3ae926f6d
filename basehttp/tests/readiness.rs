//! HTTP through socketserver's readiness mode (not in Python): keep-alive, pipelining, bodies, many parked connections,
//! slow heads, idle and head timeouts, shutdown, errors and descriptors, over real sockets.

mod support;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{BaseHttpRequestHandler, HttpRequest, HttpServer, Limits};
use socketserver::{Address, HandlerError, Mode, ServerConfig, ServerHooks};
use support::{connect, read_response, start_with_config, Client, Running};

/// The size of the `/shared` answer: far more than socket buffers hold.
const SHARED_BYTES: usize = 8 << 20;

/// What `bytes_written` said `send_shared` added, for the last `/shared` answer.
static SHARED_COUNTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Answers GET with the path and POST with the body; `/error` fails and `/panic` panics; `/shared` sends 8 MiB by `send_shared`.
#[derive(Clone)]
struct Echo {
    limits: Limits,
}

fn reply(req: &mut HttpRequest<'_>, body: &[u8]) -> io::Result<()> {
    req.send_response(200, None)?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.end_headers()?;
    req.wfile.write_all(body)
}

impl BaseHttpRequestHandler for Echo {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match req.path.as_str() {
            "/error" => Err(io::Error::other("requested error")),
            "/panic" => panic!("requested panic"),
            "/shared" => {
                // A body kept elsewhere (a cache's entry), sent by reference.
                req.send_response(200, None)?;
                req.send_header("Content-Length", &SHARED_BYTES.to_string())?;
                req.end_headers()?;
                let before = req.wfile.bytes_written();
                req.send_shared(Arc::from(vec![b's'; SHARED_BYTES]))?;
                SHARED_COUNTED.store(
                    req.wfile.bytes_written() - before,
                    std::sync::atomic::Ordering::SeqCst,
                );
                Ok(())
            }
            path => {
                let path = path.to_owned();
                reply(req, path.as_bytes())
            }
        }
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let mut body = Vec::new();
        req.rfile.read_to_end(&mut body)?;
        if req.path == "/count" {
            let count = body.len().to_string();
            return reply(req, count.as_bytes());
        }
        reply(req, &body)
    }

    /// `/big/N` answers N bytes written by the hook in 1000-byte writes; `/file` a file range by `send_file`.
    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let length: usize = req.path.trim_start_matches("/big/").parse().unwrap_or(0);
        req.send_response(200, None)?;
        req.send_header("Content-Length", &length.to_string())?;
        req.end_headers()?;
        let chunk = [b'x'; 1000];
        let mut left = length;
        while left > 0 {
            let step = left.min(chunk.len());
            req.wfile.write_all(&chunk[..step])?;
            left -= step;
        }
        Ok(())
    }

    fn log_message(&self, _req: &HttpRequest<'_>, _message: fmt::Arguments<'_>) {}
}

fn readiness_config() -> ServerConfig {
    ServerConfig {
        mode: Mode::Readiness { workers: 2 },
        // Hundreds of clients connect at once; a short backlog would have the kernel drop their SYNs and retry a second later.
        request_queue_size: 1024,
        ..HttpServer::default_config()
    }
}

fn start(limits: Limits) -> Running {
    start_with_config(Echo { limits }, readiness_config())
}

fn get(client: &mut Client, path: &str) -> Vec<u8> {
    let response = client.request(&format!("GET {path} HTTP/1.1\nHost: test\n\n"));
    assert_eq!(response.status(), 200, "{response:?}");
    response.body
}

// Mirrors test_httpservers: BaseHTTPServerTestCase.test_head_keep_alive's keep-alive, through the readiness mode.
#[test]
fn keep_alive_requests_through_readiness_mode() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    for index in 0..5 {
        assert_eq!(
            get(&mut client, &format!("/{index}")),
            format!("/{index}").as_bytes()
        );
    }
    let response = client.request("GET /last HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert_eq!(response.body, b"/last");
    assert!(client.is_closed());
}

// Not in Python: requests sent in one write are all answered, in order, on one connection.
#[test]
fn pipelined_requests_on_one_connection() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    client.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nPOST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbodyGET /c HTTP/1.1\r\nHost: t\r\n\r\n");
    for expected in [&b"/a"[..], b"body", b"/c"] {
        let response = read_response(&mut client.reader).expect("response");
        assert_eq!(response.body, expected);
    }
}

// Not in Python: a body that arrives after its head is read with the usual blocking reads, then the connection parks again.
#[test]
fn body_sent_after_its_head() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
    thread::sleep(Duration::from_millis(50));
    client.send(b"hello");
    assert_eq!(read_response(&mut client.reader).unwrap().body, b"hello");
    assert_eq!(get(&mut client, "/after"), b"/after");
}

// Not in Python: two hundred kept-alive connections, all open at once, served by two workers.
#[test]
fn many_keep_alive_connections_on_two_workers() {
    let server = start(Limits::default());
    let mut clients: Vec<Client> = (0..200).map(|_| Client::new(server.port)).collect();
    for round in 0..3 {
        for (index, client) in clients.iter_mut().enumerate() {
            let path = format!("/{round}/{index}");
            assert_eq!(get(client, &path), path.as_bytes());
        }
    }
    for client in &mut clients {
        client.send(b"GET /together HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for client in &mut clients {
        assert_eq!(
            read_response(&mut client.reader).unwrap().body,
            b"/together"
        );
    }
}

// Not in Python: fifty clients that send half a head (slowloris) hold no worker, so a fresh request is answered at once,
// and each half head is kept until its end arrives.
#[test]
fn half_sent_heads_do_not_block_others() {
    let server = start(Limits::default());
    let mut slow: Vec<Client> = (0..50).map(|_| Client::new(server.port)).collect();
    for client in &mut slow {
        client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n");
    }
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut fresh = Client::new(server.port);
    assert_eq!(get(&mut fresh, "/fresh"), b"/fresh");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the fresh request waited {:?}",
        started.elapsed()
    );
    for client in &mut slow {
        client.send(b"\r\n");
        assert_eq!(read_response(&mut client.reader).unwrap().body, b"/slow");
    }
}

// Not in Python: a connection parked past the idle timeout is closed by the mode.
#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = start(Limits {
        idle_timeout: Some(Duration::from_millis(200)),
        ..Limits::default()
    });
    let mut client = Client::new(server.port);
    assert_eq!(get(&mut client, "/"), b"/");
    let started = Instant::now();
    assert!(client.is_closed());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
}

// Not in Python: a head trickled in byte by byte is cut off at the head timeout, though each byte resets the idle clock.
#[test]
fn trickled_head_is_cut_at_the_head_timeout() {
    let server = start(Limits {
        idle_timeout: Some(Duration::from_secs(5)),
        head_timeout: Some(Duration::from_millis(300)),
        ..Limits::default()
    });
    let mut stream = connect(server.port);
    let started = Instant::now();
    let mut closed = false;
    for byte in b"GET /trickle HTTP/1.1\r\nHost: a-long-host-name-sent-slowly\r\n".iter() {
        if stream.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        thread::sleep(Duration::from_millis(40));
        if started.elapsed() > Duration::from_millis(600) {
            break;
        }
    }
    if !closed {
        // The server closes without an answer, as Python's handler does when a read times out.
        let mut rest = Vec::new();
        let read = stream.read_to_end(&mut rest);
        assert!(read.is_ok(), "still open: {read:?}");
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

// Not in Python: a half head that goes silent is closed at the head deadline, though the idle timeout is far off,
// as the blocking modes' read timeout does; no worker waits for it meanwhile.
#[test]
fn silent_half_head_is_closed_at_the_head_deadline() {
    let server = start(Limits {
        idle_timeout: Some(Duration::from_secs(30)),
        head_timeout: Some(Duration::from_millis(300)),
        ..Limits::default()
    });
    let mut client = Client::new(server.port);
    client.send(b"GET /silent HTTP/1.1\r\nHost: t\r\n");
    let started = Instant::now();
    assert!(client.is_closed(), "a silent half head was answered");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    let mut fresh = Client::new(server.port);
    assert_eq!(get(&mut fresh, "/fresh"), b"/fresh");
}

// Not in Python: limits too long to add to the clock mean no limit, in both the readiness and the blocking modes, never a panic.
#[test]
fn endless_limits_do_not_overflow_the_clock() {
    let endless = Limits {
        idle_timeout: Some(Duration::MAX),
        head_timeout: Some(Duration::MAX),
        ..Limits::default()
    };
    let readiness = start(endless);
    let blocking = start_with_config(Echo { limits: endless }, HttpServer::default_config());
    for port in [readiness.port, blocking.port] {
        let mut client = Client::new(port);
        client.send(b"GET /late HTTP/1.1\r\n");
        thread::sleep(Duration::from_millis(50));
        client.send(b"Host: t\r\n\r\n");
        assert_eq!(read_response(&mut client.reader).unwrap().body, b"/late");
        assert_eq!(get(&mut client, "/again"), b"/again");
    }
}

/// Records `handle_error` calls.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<String>>>);

impl ServerHooks for Errors {
    fn handle_error(&self, _client_address: &Address, error: &HandlerError) {
        self.0.lock().unwrap().push(error.to_string());
    }
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_handled, through HTTP: a hook's error is answered with 500
// (Python sends nothing), closes its connection and reaches handle_error; a hook's panic is answered with 500 too; the server goes on.
#[test]
fn errors_and_panics_in_hooks() {
    let errors = Errors::default();
    let mut server = HttpServer::with_config(
        ("127.0.0.1", 0),
        Echo {
            limits: Limits::default(),
        },
        readiness_config(),
    )
    .unwrap();
    server.set_hooks(errors.clone());
    let port = server.server_port();
    let stop = server.shutdown_handle();
    thread::scope(|scope| {
        scope.spawn(|| server.serve_forever(Duration::from_millis(20)));
        let mut client = Client::new(port);
        let response = client.request("GET /error HTTP/1.1\nHost: t\n\n");
        assert_eq!(response.status(), 500);
        assert!(client.is_closed());
        let mut client = Client::new(port);
        let response = client.request("GET /panic HTTP/1.1\nHost: t\n\n");
        assert_eq!(response.status(), 500);
        assert!(client.is_closed());
        let mut client = Client::new(port);
        assert_eq!(get(&mut client, "/fine"), b"/fine");
        stop.shutdown();
    });
    let errors = errors.0.lock().unwrap().clone();
    assert_eq!(errors, ["requested error"]);
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown: shutdown stays prompt with parked connections,
// and server_close closes them.
#[test]
fn shutdown_is_prompt_and_close_ends_parked_connections() {
    let mut server = HttpServer::with_config(
        ("127.0.0.1", 0),
        Echo {
            limits: Limits::default(),
        },
        readiness_config(),
    )
    .unwrap();
    let port = server.server_port();
    let mut clients = Vec::new();
    thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve_forever(Duration::from_millis(500)));
        for _ in 0..20 {
            let mut client = Client::new(port);
            assert_eq!(get(&mut client, "/"), b"/");
            clients.push(client);
        }
        let started = Instant::now();
        server.shutdown();
        serving.join().unwrap().unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    });
    server.server_close();
    for client in &mut clients {
        assert!(client.is_closed());
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

// Not in Python: once clients disconnect, their parked connections leave the set and their descriptors close.
#[test]
fn no_descriptor_leak_after_clients_disconnect() {
    let server = start(Limits::default());
    // The first connection starts the workers and the epoll set, which stay open.
    assert_eq!(get(&mut Client::new(server.port), "/"), b"/");
    thread::sleep(Duration::from_millis(100));
    let before = open_descriptors();
    for _ in 0..3 {
        let mut clients: Vec<TcpStream> = (0..50).map(|_| connect(server.port)).collect();
        for client in &mut clients {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
        }
        for client in &mut clients {
            let mut reader = io::BufReader::new(&*client);
            assert_eq!(read_response(&mut reader).unwrap().body, b"/");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_descriptors() > before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        open_descriptors() <= before,
        "{} open, {before} before",
        open_descriptors()
    );
}

// Mirrors test_httpservers: BaseHTTPServerTestCase.test_expect_continue's exchange, through the readiness mode:
// the connection does not wait for a body the client holds back until it sees 100 Continue.
#[test]
fn expect_continue_through_readiness_mode() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = read_response(&mut client.reader).expect("100 Continue");
    assert_eq!(interim.status(), 100);
    client.send(b"hello");
    assert_eq!(read_response(&mut client.reader).unwrap().body, b"hello");
}

// Not in Python: a body larger than what the connection reads before the hook streams through the hook's reads.
#[test]
fn a_body_larger_than_the_drain_limit_streams_to_the_hook() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    let body = vec![b'b'; 300_000];
    client.send(
        format!(
            "POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    for part in body.chunks(40_000) {
        client.send(part);
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read_response(&mut client.reader).unwrap().body, b"300000");
    assert_eq!(get(&mut client, "/after"), b"/after");
}

// Not in Python: an answer far larger than the output buffer, written by the hook a little at a time, arrives whole,
// and so does the next one on the same connection.
#[test]
fn a_shared_body_arrives_whole_and_a_reset_drops_its_connection() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    let response = client.request("GET /shared HTTP/1.1\nHost: t\n\n");
    assert_eq!(response.body.len(), SHARED_BYTES);
    assert!(response.body.iter().all(|&byte| byte == b's'));
    // The bytes count as written (the access log's size), though they were not copied.
    assert_eq!(
        SHARED_COUNTED.load(std::sync::atomic::Ordering::SeqCst),
        SHARED_BYTES as u64
    );
    drop(client);
    thread::sleep(Duration::from_millis(100));
    let before = open_descriptors();
    // A client that reads the start of the answer and then resets: the loop's send fails, and the connection must go,
    // not be retried for ever.
    let mut stream = connect(server.port);
    stream
        .write_all(b"GET /shared HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut start = [0; 4096];
    let _ = stream.read(&mut start).unwrap();
    thread::sleep(Duration::from_millis(100));
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_descriptors() > before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        open_descriptors() <= before,
        "{} open, {before} before",
        open_descriptors()
    );
    assert_eq!(get(&mut Client::new(server.port), "/after"), b"/after");
}

#[test]
fn an_answer_larger_than_the_output_buffer_arrives_whole() {
    let server = start(Limits::default());
    let mut client = Client::new(server.port);
    for length in [5_000_000, 1000] {
        let response = client.request(&format!(
            "PUT /big/{length} HTTP/1.1\nHost: t\nContent-Length: 0\n\n"
        ));
        assert_eq!(response.body.len(), length);
        assert!(response.body.iter().all(|&byte| byte == b'x'));
    }
}

// Not in Python: small bodies trickled in by many clients are read by the loop before the hook runs, so they hold no worker.
#[test]
fn trickled_small_bodies_hold_no_worker() {
    let server = start(Limits::default());
    let mut slow: Vec<TcpStream> = (0..20).map(|_| connect(server.port)).collect();
    for client in &mut slow {
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
    }
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut client = Client::new(server.port);
    assert_eq!(get(&mut client, "/fresh"), b"/fresh");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    for client in &mut slow {
        client.write_all(b"defghij").unwrap();
        let mut reader = io::BufReader::new(client.try_clone().unwrap());
        assert_eq!(read_response(&mut reader).unwrap().body, b"abcdefghij");
    }
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("Threads:")
                .map(|count| count.trim().parse::<usize>().unwrap())
        })
        .unwrap();
    // The test's own threads, the serving loop, two workers and the watcher: no worker was added for the bodies.
    assert!(threads < 10, "{threads} threads");
}
