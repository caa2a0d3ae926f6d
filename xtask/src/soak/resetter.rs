//! Clients that abandon a large download: connect, GET, read a random part of the answer, then reset the connection.
//!
//! The reset is a close with `SO_LINGER` 0, so the kernel sends RST instead of FIN
//! and the server learns of it in the middle of a write (sendfile, or a CGI script's output).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::http::{address, get_request};

/// Each cycle reads between one byte and this much of the answer, head included.
const MOST_READ: u64 = 1024 * 1024;

/// How long a connect or a read may wait before the cycle counts as failed.
const WAIT: Duration = Duration::from_secs(10);

/// What the resetters did, summed over all of them.
#[derive(Debug, Default)]
pub struct Tally {
    /// Cycles that read their part and reset the connection.
    pub cycles: AtomicU64,
    /// Bytes read over all cycles.
    pub bytes: AtomicU64,
    pub connect_failures: AtomicU64,
    pub send_failures: AtomicU64,
    /// Read errors and timeouts before the part was read.
    pub read_failures: AtomicU64,
    /// Answers that ended (EOF) before the part was read.
    pub short_answers: AtomicU64,
}

impl Tally {
    pub fn failures(&self) -> u64 {
        self.connect_failures.load(Ordering::Relaxed)
            + self.send_failures.load(Ordering::Relaxed)
            + self.read_failures.load(Ordering::Relaxed)
            + self.short_answers.load(Ordering::Relaxed)
    }

    /// The non-zero failure kinds, as `connect 2, short 1`.
    pub fn failure_kinds(&self) -> String {
        let kinds = [
            ("connect", &self.connect_failures),
            ("send", &self.send_failures),
            ("read", &self.read_failures),
            ("short", &self.short_answers),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .map(|(kind, count)| (kind, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        parts.join(", ")
    }
}

/// A small xorshift generator: the parts need to vary, not to be unpredictable.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Never zero, which xorshift would keep forever.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `1..=most`.
    pub fn part(&mut self, most: u64) -> u64 {
        1 + self.next() % most
    }
}

/// Runs `count` resetters against `GET path` until `until`, and waits for them all.
pub fn run(port: u16, path: &str, count: usize, until: Instant, tally: &Arc<Tally>) {
    let request = get_request(path);
    let threads: Vec<_> = (0..count)
        .map(|index| {
            let tally = Arc::clone(tally);
            let request = request.clone();
            std::thread::Builder::new()
                .name(format!("resetter-{index}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    lower_priority();
                    let clock = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |since| since.as_nanos() as u64);
                    let mut rng = Rng::new(clock.wrapping_add(index as u64 * 7919));
                    while Instant::now() < until {
                        cycle(port, &request, rng.part(MOST_READ), &tally);
                    }
                })
                .expect("a resetter thread starts")
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

/// Gives the calling thread the lowest priority (nice 19) with `renice`, which on Linux sets one thread's when given its id.
///
/// wrk is one thread on the same core as the 50 resetters; at equal priority it would get a fiftieth of the core,
/// and its own lateness would show as latency and timeouts that are not the server's.
fn lower_priority() {
    let thread_id = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| {
            link.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        });
    if let Some(thread_id) = thread_id {
        let _ = std::process::Command::new("renice")
            .args(["-n", "19", "-p", &thread_id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// One connection: send the request, read `part` bytes, reset.
fn cycle(port: u16, request: &str, part: u64, tally: &Tally) {
    let mut stream = match TcpStream::connect_timeout(&address(port), WAIT) {
        Ok(stream) => stream,
        Err(_) => {
            tally.connect_failures.fetch_add(1, Ordering::Relaxed);
            // Do not spin on a server that refuses.
            std::thread::sleep(Duration::from_millis(10));
            return;
        }
    };
    let _ = stream.set_read_timeout(Some(WAIT));
    let _ = stream.set_write_timeout(Some(WAIT));
    if stream.write_all(request.as_bytes()).is_err() {
        tally.send_failures.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buffer = [0u8; 64 * 1024];
    let mut read = 0u64;
    while read < part {
        let want = (part - read).min(buffer.len() as u64) as usize;
        match stream.read(&mut buffer[..want]) {
            Ok(0) => {
                tally.short_answers.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(count) => read += count as u64,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                tally.read_failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    // Linger 0: the close sends RST, whatever is still unread or in flight.
    let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    tally.cycles.fetch_add(1, Ordering::Relaxed);
    tally.bytes.fetch_add(read, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    #[test]
    fn parts_stay_in_range_and_vary() {
        let mut rng = Rng::new(0);
        let parts: Vec<u64> = (0..1000).map(|_| rng.part(MOST_READ)).collect();
        assert!(parts.iter().all(|part| (1..=MOST_READ).contains(part)));
        let mut distinct = parts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 900);
        assert!(parts.iter().any(|part| *part < MOST_READ / 2));
        assert!(parts.iter().any(|part| *part > MOST_READ / 2));
    }

    #[test]
    fn a_cycle_reads_its_part_and_resets() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).unwrap();
            let body = vec![b'x'; 4 * 1024 * 1024];
            // The client resets after its part, so the write fails before the end.
            stream.write_all(&body).map_err(|error| error.kind())
        });
        let tally = Tally::default();
        cycle(port, &get_request("/big"), 100_000, &tally);
        assert_eq!(tally.cycles.load(Ordering::Relaxed), 1);
        assert!(tally.bytes.load(Ordering::Relaxed) >= 100_000);
        assert_eq!(tally.failures(), 0);
        let written = server.join().unwrap();
        assert!(written.is_err(), "the reset reaches the writer");
        assert_eq!(tally.failure_kinds(), "");
    }
}
