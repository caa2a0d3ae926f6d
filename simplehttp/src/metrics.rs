//! `/metrics` in the Prometheus text format, on a listener of its own (`--metrics-bind`), never on the port that serves files.
//!
//! The numbers are the process's counters (basehttp's requests, socketserver's connections and workers), read at each scrape;
//! the format is prometheus-client's, the Prometheus project's own Rust crate, so names, escaping and histogram buckets follow
//! the specification rather than a hand-written printer. Other layers add theirs with [`add_metrics_collector`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use basehttp::{http_metrics, DURATION_BUCKETS, METHODS, STATUS_CLASSES};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// What every metric's name starts with.
pub const METRICS_PREFIX: &str = "pyhttp";

/// How long a scraper may take to send its request or take the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest request head a scrape may send.
const MAX_SCRAPE_HEAD: usize = 8 * 1024;

static EXTRA: Mutex<Vec<Arc<dyn Collector>>> = Mutex::new(Vec::new());

/// Adds `collector`'s metrics to every later scrape (cgihttp adds its scripts' counters this way).
pub fn add_metrics_collector(collector: Arc<dyn Collector>) {
    EXTRA
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(collector);
}

/// A collector added with [`add_metrics_collector`], lent to one scrape's registry.
#[derive(Debug)]
struct Lent(Arc<dyn Collector>);

impl Collector for Lent {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        self.0.encode(encoder)
    }
}

/// One counter without labels.
pub fn encode_counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> fmt::Result {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        None,
        MetricType::Counter,
    )?)
}

/// One gauge without labels.
pub fn encode_gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> fmt::Result {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// The HTTP and server counters, read when a scrape encodes them.
#[derive(Debug)]
struct ServerCollector;

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let http = http_metrics();
        {
            let mut requests = encoder.encode_descriptor(
                "http_requests",
                "Requests answered, by method and status class",
                None,
                MetricType::Counter,
            )?;
            for (method, row) in METHODS.iter().zip(&http.requests) {
                for (class, count) in STATUS_CLASSES.iter().zip(row) {
                    let labels = [("method", *method), ("status", *class)];
                    ConstCounter::new(*count).encode(requests.encode_family(&labels)?)?;
                }
            }
        }
        encode_counter(
            &mut encoder,
            "http_response_bytes",
            "Bytes written for requests, heads and bodies",
            http.bytes_sent,
        )?;
        let buckets: Vec<(f64, u64)> = DURATION_BUCKETS
            .iter()
            .copied()
            .zip(http.duration_buckets)
            .collect();
        encoder
            .encode_descriptor(
                "http_request_duration_seconds",
                "Time from a request's head to its answer handed to the connection",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                http.duration_sum,
                http.duration_count,
                &buckets,
                None,
            )?;
        encode_counter(
            &mut encoder,
            "auth_failures",
            "Failed authentications",
            http.auth_failures,
        )?;
        encode_counter(
            &mut encoder,
            "proxy_protocol_refusals",
            "Connections refused for a PROXY protocol header from a peer that is not a trusted proxy",
            http.proxy_refusals,
        )?;
        encode_counter(
            &mut encoder,
            "access_log_dropped_lines",
            "Access lines dropped because the log file's queue was full (a slow or full disk)",
            http.access_log_dropped,
        )?;
        let server = socketserver::server_stats();
        encode_counter(
            &mut encoder,
            "connections_accepted",
            "Connections accepted",
            server.accepted,
        )?;
        encode_counter(
            &mut encoder,
            "connections_refused",
            "Connections closed unserved (refused, or arriving while the server stopped)",
            server.refused,
        )?;
        encode_gauge(
            &mut encoder,
            "connections_open",
            "Connections open now",
            server.open as u64,
        )?;
        encode_gauge(
            &mut encoder,
            "connections_idle",
            "Connections idle between requests now",
            server.idle as u64,
        )?;
        encode_gauge(
            &mut encoder,
            "worker_threads",
            "Worker threads running",
            server.workers as u64,
        )?;
        encode_gauge(
            &mut encoder,
            "worker_threads_busy",
            "Worker threads running a connection rather than waiting for one",
            server.busy_workers as u64,
        )
    }
}

/// The `/metrics` page as it reads now.
pub fn render_metrics() -> String {
    let mut registry = Registry::with_prefix(METRICS_PREFIX);
    registry.register_collector(Box::new(ServerCollector));
    for collector in EXTRA.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        registry.register_collector(Box::new(Lent(Arc::clone(collector))));
    }
    let mut page = String::with_capacity(4096);
    // Writing into a String cannot fail; an encoder error would be a bug, and the scrape then gets what was written.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut page, &registry);
    page
}

/// Binds `address` and serves `/metrics` from a thread of its own; the bound address (port 0 becomes the real port).
///
/// One scrape at a time, each bounded by 2 s and a head of 8 KiB: the listener is meant for a monitoring system
/// on a private address, and a stuck scraper costs at most that long.
pub fn start_metrics_listener(address: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => {
                        let _ = answer_scrape(stream);
                    }
                    // Out of descriptors: pause rather than spin.
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        })?;
    Ok(bound)
}

fn answer_scrape(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if head.len() > MAX_SCRAPE_HEAD {
            respond(&mut stream, "431 Request Header Fields Too Large", "")?;
            // A close with unread bytes would reset the connection and could lose the answer: read a bounded rest first.
            stream.shutdown(std::net::Shutdown::Write)?;
            let _ = io::copy(&mut (&stream).take(64 * 1024), &mut io::sink());
            return Ok(());
        }
        let count = stream.read(&mut buffer)?;
        if count == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..count]);
    }
    let line = head.split(|byte| *byte == b'\r').next().unwrap_or(&[]);
    let words: Vec<&[u8]> = line.split(|byte| *byte == b' ').collect();
    let (method, target) = match words[..] {
        [method, target, _version] => (method, target),
        _ => return respond(&mut stream, "400 Bad Request", ""),
    };
    let path = target.split(|byte| *byte == b'?').next().unwrap_or(&[]);
    if path != b"/metrics" {
        return respond(&mut stream, "404 Not Found", "");
    }
    match method {
        b"GET" => respond(&mut stream, "200 OK", &render_metrics()),
        b"HEAD" => respond(&mut stream, "200 OK", ""),
        _ => respond(&mut stream, "405 Method Not Allowed", ""),
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    // One scrape at a time: a scraper that connects and says nothing holds the listener for the scrape timeout, no longer,
    // and an endless head is cut at 8 KiB.
    #[test]
    fn a_silent_or_endless_scraper_is_cut_off() {
        let address = start_metrics_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let _silent = TcpStream::connect(address).unwrap();
        let started = std::time::Instant::now();
        let answer = scrape(address, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(started.elapsed() < SCRAPE_TIMEOUT + Duration::from_secs(1));
        // Sent in two parts, so the bytes read never add up to the limit exactly: only "above" catches them.
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nX: a").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(&[b'a'; MAX_SCRAPE_HEAD + 2048]).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(scrape(address, b"GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(scrape(address, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
    }

    #[test]
    fn every_metric_is_on_the_page() {
        let page = render_metrics();
        for name in [
            "pyhttp_http_requests_total{method=\"GET\",status=\"2xx\"}",
            "pyhttp_http_response_bytes_total",
            "pyhttp_http_request_duration_seconds_bucket{le=\"0.0005\"}",
            "pyhttp_http_request_duration_seconds_bucket{le=\"+Inf\"}",
            "pyhttp_auth_failures_total",
            "pyhttp_connections_accepted_total",
            "pyhttp_connections_refused_total",
            "pyhttp_connections_open",
            "pyhttp_connections_idle",
            "pyhttp_worker_threads",
            "pyhttp_worker_threads_busy",
        ] {
            assert!(page.contains(name), "{name} missing from:\n{page}");
        }
    }
}
