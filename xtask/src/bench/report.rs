//! The results table, in Markdown, for the terminal and for `bench-results/latest.md`.

use std::fmt::Write as _;

use std::time::Duration;

use super::scenarios::Role;
use super::slow::SlowRow;
use super::wrk::Measurement;

/// What happened to one server at one connection count.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The median round, and the server's peak resident set over all rounds.
    Measured {
        measurement: Measurement,
        peak_rss_kib: Option<u64>,
    },
    /// Not measured, and why.
    Skipped(String),
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scenario: &'static str,
    pub connections: u32,
    pub role: Role,
    pub server: &'static str,
    pub outcome: Outcome,
}

impl Row {
    fn requests_per_second(&self) -> Option<f64> {
        match &self.outcome {
            Outcome::Measured { measurement, .. } => Some(measurement.requests_per_second),
            Outcome::Skipped(_) => None,
        }
    }
}

/// The table: one line per server, each compared with ours measured in the same run.
pub fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| scenario | conns | server | req/s | MB/s | p99 | errors | peak RSS | ours ÷ this |\n\
         | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let server = format!("{}: {}", row.role.label(), row.server);
        let cells = match &row.outcome {
            Outcome::Measured {
                measurement,
                peak_rss_kib,
            } => {
                let ours = rows
                    .iter()
                    .find(|other| {
                        other.role == Role::Ours
                            && other.scenario == row.scenario
                            && other.connections == row.connections
                    })
                    .and_then(Row::requests_per_second);
                let ratio = match ours {
                    Some(ours)
                        if row.role != Role::Ours && measurement.requests_per_second > 0.0 =>
                    {
                        format!("{:.2}×", ours / measurement.requests_per_second)
                    }
                    _ => "–".to_owned(),
                };
                [
                    thousands(measurement.requests_per_second.round() as u64),
                    format!("{:.2}", measurement.mebibytes_per_second),
                    measurement
                        .p99_milliseconds
                        .map(latency)
                        .unwrap_or_else(|| "–".to_owned()),
                    match measurement.errors.total() {
                        0 => "0".to_owned(),
                        total => format!("{total} ({})", measurement.errors.kinds()),
                    },
                    peak_rss_kib
                        .map(|kib| format!("{:.1} MiB", kib as f64 / 1024.0))
                        .unwrap_or_else(|| "–".to_owned()),
                    ratio,
                ]
            }
            Outcome::Skipped(reason) => [
                format!("skipped: {reason}"),
                "–".to_owned(),
                "–".to_owned(),
                "–".to_owned(),
                "–".to_owned(),
                "–".to_owned(),
            ],
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} |",
            row.scenario,
            row.connections,
            server,
            cells.join(" | ")
        );
    }
    text
}

/// The slow-clients table: fresh GETs' latency with the slow clients held, the server's threads and RSS meanwhile,
/// and ours' p99 over each row's, measured in the same run.
pub fn slow_table(rows: &[SlowRow]) -> String {
    let mut text = String::from(
        "| scenario | held | server | fresh GETs answered | p50 | p99 | max | errors | threads | VmRSS | held sends queued | ours' p99 ÷ this |\n\
         | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let milliseconds = |duration: Option<Duration>| {
        duration.map_or_else(
            || "–".to_owned(),
            |duration| latency(duration.as_secs_f64() * 1000.0),
        )
    };
    for row in rows {
        let server = format!("{}: {}", row.role.label(), row.server);
        let cells = match &row.outcome {
            Ok(slow) => {
                let ours = rows
                    .iter()
                    .find(|other| {
                        other.role == Role::Ours
                            && other.scenario == row.scenario
                            && other.held == row.held
                    })
                    .and_then(|other| other.outcome.as_ref().ok())
                    .and_then(|ours| ours.p99());
                let ratio = match (ours, slow.p99()) {
                    (Some(ours), Some(this)) if row.role != Role::Ours && !this.is_zero() => {
                        format!("{:.2}×", ours.as_secs_f64() / this.as_secs_f64())
                    }
                    _ => "–".to_owned(),
                };
                let mut errors = slow.failures.to_string();
                if let Some(first) = &slow.first_failure {
                    errors.push_str(&format!(" (first: {first})"));
                }
                let mut held = match slow.queued {
                    Some(queued) => format!("{queued} of {}", slow.held),
                    None => format!("? of {}", slow.held),
                };
                if slow.held_failures > 0 {
                    held.push_str(&format!(
                        "; {} could not hold ({})",
                        slow.held_failures,
                        slow.first_held_failure.as_deref().unwrap_or("?")
                    ));
                }
                [
                    thousands(slow.times.len() as u64),
                    milliseconds(slow.p50()),
                    milliseconds(slow.p99()),
                    milliseconds(slow.max()),
                    errors,
                    slow.threads
                        .map_or_else(|| "–".to_owned(), |threads| threads.to_string()),
                    slow.rss_kib.map_or_else(
                        || "–".to_owned(),
                        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
                    ),
                    held,
                    ratio,
                ]
            }
            Err(reason) => {
                let mut cells: [String; 9] = Default::default();
                cells[0] = format!("skipped: {reason}");
                for cell in &mut cells[1..] {
                    *cell = "–".to_owned();
                }
                cells
            }
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} |",
            row.scenario,
            row.held,
            server,
            cells.join(" | ")
        );
    }
    text
}

fn latency(milliseconds: f64) -> String {
    if milliseconds < 1.0 {
        format!("{:.0} µs", milliseconds * 1000.0)
    } else {
        format!("{milliseconds:.2} ms")
    }
}

fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::wrk::Errors;
    use super::*;

    fn measured(requests_per_second: f64, p99: f64, read_errors: u64, rss: u64) -> Outcome {
        Outcome::Measured {
            measurement: Measurement {
                requests_per_second,
                mebibytes_per_second: requests_per_second / 10_000.0,
                p99_milliseconds: Some(p99),
                errors: Errors {
                    read: read_errors,
                    ..Errors::default()
                },
            },
            peak_rss_kib: Some(rss),
        }
    }

    fn row(connections: u32, role: Role, server: &'static str, outcome: Outcome) -> Row {
        Row {
            scenario: "hello",
            connections,
            role,
            server,
            outcome,
        }
    }

    #[test]
    fn renders_ratios_against_ours_at_the_same_connection_count() {
        let rows = [
            row(
                10,
                Role::Ours,
                "echo_http",
                measured(40_000.0, 0.25, 0, 3072),
            ),
            row(10, Role::Python, "py", measured(4_000.0, 12.5, 3, 20480)),
            row(10, Role::Nginx, "nginx", measured(80_000.0, 0.1, 0, 2048)),
            row(
                100,
                Role::Ours,
                "echo_http",
                Outcome::Skipped("not built".into()),
            ),
            row(
                100,
                Role::Python,
                "py",
                measured(1_234_567.4, 1500.0, 0, 1024),
            ),
        ];
        let expected = "\
| scenario | conns | server | req/s | MB/s | p99 | errors | peak RSS | ours ÷ this |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |
| hello | 10 | ours: echo_http | 40,000 | 4.00 | 250 µs | 0 | 3.0 MiB | – |
| hello | 10 | python: py | 4,000 | 0.40 | 12.50 ms | 3 (read 3) | 20.0 MiB | 10.00× |
| hello | 10 | nginx: nginx | 80,000 | 8.00 | 100 µs | 0 | 2.0 MiB | 0.50× |
| hello | 100 | ours: echo_http | skipped: not built | – | – | – | – | – |
| hello | 100 | python: py | 1,234,567 | 123.46 | 1500.00 ms | 0 | 1.0 MiB | – |
";
        assert_eq!(table(&rows), expected);
    }

    #[test]
    fn renders_the_slow_clients_table() {
        use super::super::slow::Slow;
        let slow = |milliseconds: &[u64], threads, queued| Slow {
            held: 300,
            held_failures: 0,
            first_held_failure: None,
            queued: Some(queued),
            times: milliseconds
                .iter()
                .copied()
                .map(Duration::from_millis)
                .collect(),
            failures: 0,
            first_failure: None,
            threads: Some(threads),
            rss_kib: Some(10 * 1024),
        };
        let mut ours = slow(&[1, 2, 3200], 305, 300);
        ours.failures = 1;
        ours.first_failure = Some("answer: timed out".into());
        let rows = [
            SlowRow {
                scenario: "slow-clients",
                held: 300,
                role: Role::Ours,
                server: "simplehttp",
                outcome: Ok(ours),
            },
            SlowRow {
                scenario: "slow-clients",
                held: 300,
                role: Role::Nginx,
                server: "nginx",
                outcome: Ok(slow(&[1, 2, 40], 1, 298)),
            },
            SlowRow {
                scenario: "slow-clients",
                held: 300,
                role: Role::Python,
                server: "py",
                outcome: Err("not built yet".into()),
            },
        ];
        let expected = "\
| scenario | held | server | fresh GETs answered | p50 | p99 | max | errors | threads | VmRSS | held sends queued | ours' p99 ÷ this |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| slow-clients | 300 | ours: simplehttp | 3 | 2.00 ms | 3200.00 ms | 3200.00 ms | 1 (first: answer: timed out) | 305 | 10.0 MiB | 300 of 300 | – |
| slow-clients | 300 | nginx: nginx | 3 | 2.00 ms | 40.00 ms | 40.00 ms | 0 | 1 | 10.0 MiB | 298 of 300 | 80.00× |
| slow-clients | 300 | python: py | skipped: not built yet | – | – | – | – | – | – | – | – |
";
        assert_eq!(slow_table(&rows), expected);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
