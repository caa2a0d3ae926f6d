//! Running wrk and reading the numbers out of its report.

use std::process::Command;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measurement {
    /// `Requests/sec:`.
    pub requests_per_second: f64,
    /// `Transfer/sec:` in MiB per second (wrk's `MB` is 2^20 bytes).
    pub mebibytes_per_second: f64,
    /// The 99% line of `--latency`, in milliseconds.
    pub p99_milliseconds: Option<f64>,
    /// `Socket errors:` and `Non-2xx or 3xx responses:`.
    pub errors: Errors,
}

/// wrk's error counts by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
    /// `Non-2xx or 3xx responses`.
    pub status: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status
    }

    /// The non-zero kinds, as `read 12, status 5`.
    pub fn kinds(&self) -> String {
        let kinds = [
            ("connect", self.connect),
            ("read", self.read),
            ("write", self.write),
            ("timeout", self.timeout),
            ("status", self.status),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        parts.join(", ")
    }
}

/// Runs `wrk -t1 -cN -dTs --latency [-H HEADER] URL`, pinned to `core` when one is given.
pub fn run(
    core: Option<u32>,
    connections: u32,
    seconds: u32,
    url: &str,
    header: Option<&str>,
) -> Result<Measurement, String> {
    run_with_timeout(core, connections, seconds, url, None, header)
}

/// [`run`] with wrk's `--timeout` (its default is 2 s): a request older than this counts as an error.
pub fn run_with_timeout(
    core: Option<u32>,
    connections: u32,
    seconds: u32,
    url: &str,
    timeout_seconds: Option<u32>,
    header: Option<&str>,
) -> Result<Measurement, String> {
    let mut command = match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string(), "wrk"]);
            command
        }
        None => Command::new("wrk"),
    };
    command.args([
        "-t1".to_owned(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".to_owned(),
    ]);
    if let Some(timeout) = timeout_seconds {
        command.arg(format!("--timeout={timeout}s"));
    }
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    command.arg(url);
    let output = command
        .output()
        .map_err(|error| format!("cannot start wrk: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk {url} failed ({}): {}{}",
            output.status,
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads wrk's report; `None` when the `Requests/sec:` line is missing.
pub fn parse(report: &str) -> Option<Measurement> {
    let mut measurement = Measurement::default();
    let mut saw_rate = false;
    for line in report.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            measurement.requests_per_second = rest.trim().parse().ok()?;
            saw_rate = true;
        } else if let Some(rest) = line.strip_prefix("Transfer/sec:") {
            measurement.mebibytes_per_second = bytes(rest.trim())? / (1024.0 * 1024.0);
        } else if let Some(rest) = line.strip_prefix("99%") {
            measurement.p99_milliseconds = milliseconds(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                let kind = words.next()?;
                let count: u64 = words.next()?.parse().ok()?;
                let errors = &mut measurement.errors;
                match kind {
                    "connect" => errors.connect = count,
                    "read" => errors.read = count,
                    "write" => errors.write = count,
                    "timeout" => errors.timeout = count,
                    _ => return None,
                }
            }
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            measurement.errors.status = rest.trim().parse().ok()?;
        }
    }
    saw_rate.then_some(measurement)
}

/// `19.98MB` to bytes; wrk scales by 1024.
fn bytes(text: &str) -> Option<f64> {
    let number_end = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "B" | "" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * scale)
}

/// `246.00us`, `1.03ms`, `2.00s`, `1.50m` to milliseconds.
fn milliseconds(text: &str) -> Option<f64> {
    let number_end = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from `wrk -t1 -c10 -d1s --latency` against nginx.
    const CLEAN: &str = "\
Running 1s test @ http://127.0.0.1:40123/hello.html
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   115.59us   35.16us   1.03ms   88.16%
    Req/Sec    81.76k     4.49k   87.43k    72.73%
  Latency Distribution
     50%  111.00us
     75%  125.00us
     90%  144.00us
     99%  246.00us
  89333 requests in 1.10s, 21.98MB read
Requests/sec:  81209.62
Transfer/sec:     19.98MB
";

    // Errors of both kinds, and a p99 in seconds.
    const ERRORS: &str = "\
Running 1s test @ http://127.0.0.1:40123/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    40.12ms  150.30ms   1.99s    97.01%
    Req/Sec     2.31k   512.00     3.01k    70.00%
  Latency Distribution
     50%    3.10ms
     75%    4.00ms
     90%    5.50ms
     99%    1.02s
  2310 requests in 1.00s, 512.00KB read
  Socket errors: connect 3, read 12, write 0, timeout 7
  Non-2xx or 3xx responses: 5
Requests/sec:   2309.50
Transfer/sec:    512.00KB
";

    fn check(report: &str, expected: Measurement) {
        let measured = parse(report).expect("report parses");
        assert_eq!(measured.errors, expected.errors);
        assert!((measured.requests_per_second - expected.requests_per_second).abs() < 1e-6);
        assert!((measured.mebibytes_per_second - expected.mebibytes_per_second).abs() < 1e-9);
        match (measured.p99_milliseconds, expected.p99_milliseconds) {
            (Some(measured), Some(expected)) => assert!((measured - expected).abs() < 1e-9),
            (measured, expected) => assert_eq!(measured, expected),
        }
    }

    #[test]
    fn parses_a_clean_run() {
        check(
            CLEAN,
            Measurement {
                requests_per_second: 81209.62,
                mebibytes_per_second: 19.98,
                p99_milliseconds: Some(0.246),
                errors: Errors::default(),
            },
        );
    }

    #[test]
    fn counts_socket_errors_and_bad_statuses() {
        check(
            ERRORS,
            Measurement {
                requests_per_second: 2309.5,
                mebibytes_per_second: 0.5,
                p99_milliseconds: Some(1020.0),
                errors: Errors {
                    connect: 3,
                    read: 12,
                    write: 0,
                    timeout: 7,
                    status: 5,
                },
            },
        );
        assert_eq!(parse(ERRORS).unwrap().errors.total(), 27);
        assert_eq!(
            parse(ERRORS).unwrap().errors.kinds(),
            "connect 3, read 12, timeout 7, status 5"
        );
    }

    #[test]
    fn a_report_without_a_rate_is_refused() {
        assert_eq!(
            parse("unable to connect to 127.0.0.1:1 Connection refused"),
            None
        );
        assert_eq!(parse(""), None);
    }

    #[test]
    fn units() {
        assert_eq!(bytes("512.00B"), Some(512.0));
        assert_eq!(bytes("1.00GB"), Some(1024.0 * 1024.0 * 1024.0));
        assert_eq!(bytes("12.00XB"), None);
        assert_eq!(milliseconds("2.00s"), Some(2000.0));
        assert_eq!(milliseconds("1.50m"), Some(90_000.0));
        assert_eq!(milliseconds("fast"), None);
    }
}
