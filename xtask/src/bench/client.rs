//! The client benchmark: requests/s over one keep-alive connection, for httpclient, ureq and Python's
//! `http.client`, in the same run, with each client's own CPU time per request and a floor no client can beat.
//!
//! Two servers are measured in turn: a local nginx serving the 100-byte file, and the canned-response server of
//! `httpclient/benches/keepalive.rs` (`--serve`), which answers faster than nginx and so shows the clients' own cost more.
//! The server is pinned to core 0 and each client to core 1, as the server scenarios pin wrk.
//! httpclient, ureq and the floor (a raw socket writing a fixed request and reading exactly the known response
//! length, no parsing) run in the keepalive bench's executable (`BENCH_URL` points it at the server); Python's client
//! runs a generated script doing the same loop: request, read the whole body, repeat.
//!
//! One connection is latency-bound: each request waits for the server's answer, so requests/s is capped by the
//! server and the loopback round trip, for every client. The floor measures that cap. A client's own cost is its
//! CPU time per request (user + system of every thread of its process, from `/proc/self/task/*/schedstat`, over the
//! timed loop only). The floor's CPU is the kernel's cost of a loopback write and read, which every client pays too,
//! so the CPU above the floor is the client's own work.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::scenarios::Server;
use super::servers::{self, Binaries, Workdir};

/// Requests per client in one round.
const REQUESTS: u32 = 10_000;

/// Rounds per server: every client runs once per round, the rounds interleaved, and the median round is kept,
/// so a burst of load on the shared machine moves one round, not the result.
const ROUNDS: usize = 5;

/// The Python side: the same loop as the Rust bench, on one `HTTPConnection`, with its CPU time read the same way.
const PYTHON_CLIENT: &str = r#"import http.client, sys, time
host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
import os
def cpu_seconds():
    # On-CPU time (user + system) of every thread of this process, as the Rust clients read it.
    total = 0
    for task in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%s/schedstat" % task) as schedstat:
            total += int(schedstat.read().split()[0])
    return total / 1e9
connection = http.client.HTTPConnection(host, port)
def run(n):
    for _ in range(n):
        connection.request("GET", path)
        connection.getresponse().read()
run(100)
cpu_before = cpu_seconds()
started = time.perf_counter()
run(count)
elapsed = time.perf_counter() - started
cpu = cpu_seconds() - cpu_before
print("python: %.0f requests/s, %.1f us CPU/request" % (count / elapsed, cpu / count * 1e6))
"#;

/// One client's measurement, by name.
#[derive(Debug, PartialEq)]
pub struct Rate {
    pub client: String,
    pub per_second: f64,
    /// CPU time of the client's process per request, in microseconds, when measured.
    pub cpu_us: Option<f64>,
}

/// Reads `name: 12345 requests/s` lines, optionally followed by `, 12.3 us CPU/request`,
/// as the Rust bench and the Python script print them.
pub fn parse_rates(output: &str) -> Vec<Rate> {
    output
        .lines()
        .filter_map(|line| {
            let (client, rest) = line.split_once(':')?;
            let (rate, cpu) = match rest.split_once(',') {
                Some((rate, cpu)) => (rate, Some(cpu)),
                None => (rest, None),
            };
            let number = rate.trim().strip_suffix("requests/s")?.trim();
            let cpu_us = cpu
                .and_then(|cpu| cpu.trim().strip_suffix("us CPU/request"))
                .and_then(|cpu| cpu.trim().parse().ok());
            Some(Rate {
                client: client.trim().to_owned(),
                per_second: number.parse().ok()?,
                cpu_us,
            })
        })
        .collect()
}

/// The median of `values` (the upper middle for an even count); `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// Each client's median rate and median CPU per request over the rounds, clients in the order they first appear.
pub fn median_rates(rounds: &[Vec<Rate>]) -> Vec<Rate> {
    let mut names: Vec<&str> = Vec::new();
    for rate in rounds.iter().flatten() {
        if !names.contains(&rate.client.as_str()) {
            names.push(&rate.client);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let runs: Vec<&Rate> = rounds
                .iter()
                .flatten()
                .filter(|rate| rate.client == name)
                .collect();
            Some(Rate {
                client: name.to_owned(),
                per_second: median(runs.iter().map(|rate| rate.per_second).collect())?,
                cpu_us: median(runs.iter().filter_map(|rate| rate.cpu_us).collect()),
            })
        })
        .collect()
}

fn find<'a>(rates: &'a [Rate], name: &str) -> Option<&'a Rate> {
    rates.iter().find(|rate| rate.client == name)
}

/// `a ÷ b` as `1.23×`, or `–` when either is missing.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_owned(),
    }
}

/// Whether 10× Python's requests/s is possible against this server: impossible once Python exceeds 10% of the floor.
pub fn ten_times_python(rates: &[Rate]) -> Option<String> {
    let floor = find(rates, "floor")?.per_second;
    let python = find(rates, "python")?.per_second;
    if floor <= 0.0 {
        return None;
    }
    let share = python / floor;
    Some(if share > 0.10 {
        format!(
            "Python reaches {:.0}% of the floor ({python:.0} of {floor:.0} req/s), so 10× Python would be {:.0}% of the floor: \
             no client can reach 10× Python in requests/s against this server. Where 10× can be measured is the CPU above the floor: the client's own work.",
            share * 100.0,
            share * 1000.0
        )
    } else {
        format!(
            "Python reaches {:.0}% of the floor ({python:.0} of {floor:.0} req/s): 10× Python in requests/s is within the floor.",
            share * 100.0
        )
    })
}

/// The Markdown for one server: each client's rate, its fraction of the floor, its CPU per request (in all, and
/// above the floor's), and the ratios.
pub fn section(rates: &[Rate]) -> String {
    let floor = find(rates, "floor");
    let floor_rate = floor.map(|rate| rate.per_second);
    let floor_cpu = floor.and_then(|rate| rate.cpu_us);
    let above_floor = |rate: &Rate| Some(rate.cpu_us? - floor_cpu?);
    let mut text = String::from(
        "| client | req/s | of floor | CPU µs/request | above floor |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    let number = |value: Option<f64>| value.map_or("–".to_owned(), |value| format!("{value:.1}"));
    for rate in rates {
        let of_floor = match floor_rate {
            Some(floor) if floor > 0.0 => format!("{:.0}%", rate.per_second / floor * 100.0),
            _ => "–".to_owned(),
        };
        text.push_str(&format!(
            "| {} | {:.0} | {of_floor} | {} | {} |\n",
            rate.client,
            rate.per_second,
            number(rate.cpu_us),
            number(above_floor(rate))
        ));
    }
    let rate_of = |name: &str| find(rates, name).map(|rate| rate.per_second);
    let cpu_of = |name: &str| find(rates, name).and_then(|rate| rate.cpu_us);
    let own_of = |name: &str| find(rates, name).and_then(above_floor);
    text.push_str(&format!(
        "\nhttpclient ÷ ureq: {}; httpclient ÷ Python's http.client: {}.\n",
        ratio(rate_of("httpclient"), rate_of("ureq")),
        ratio(rate_of("httpclient"), rate_of("python"))
    ));
    text.push_str(&format!(
        "CPU per request, httpclient ÷ ureq: {}; httpclient ÷ Python: {} (Python ÷ httpclient: {}).\n",
        ratio(cpu_of("httpclient"), cpu_of("ureq")),
        ratio(cpu_of("httpclient"), cpu_of("python")),
        ratio(cpu_of("python"), cpu_of("httpclient"))
    ));
    text.push_str(&format!(
        "CPU above the floor, httpclient ÷ ureq: {}; httpclient ÷ Python: {} (Python ÷ httpclient: {}).\n",
        ratio(own_of("httpclient"), own_of("ureq")),
        ratio(own_of("httpclient"), own_of("python")),
        ratio(own_of("python"), own_of("httpclient"))
    ));
    if let (Some(python), Some(floor)) = (cpu_of("python"), floor_cpu) {
        text.push_str(&format!(
            "No client spends less CPU than the floor, so the most any client can save over Python in CPU per request is \
             Python ÷ floor: {}.\n",
            ratio(Some(python), Some(floor))
        ));
    }
    if let Some(verdict) = ten_times_python(rates) {
        text.push_str(&verdict);
        text.push('\n');
    }
    text
}

fn pinned(command: impl AsRef<std::ffi::OsStr>, core: Option<u32>) -> Command {
    match core {
        Some(core) => {
            let mut wrapped = Command::new("taskset");
            wrapped.arg("-c").arg(core.to_string()).arg(command);
            wrapped
        }
        None => Command::new(command),
    }
}

fn output_of(mut command: Command, what: &str) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {what}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The path of the `keepalive` bench executable in cargo's JSON build messages.
pub fn bench_executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter(|line| line.contains("\"name\":\"keepalive\""))
        .find_map(|line| super::json_string_field(line, "executable"))
        .map(PathBuf::from)
}

/// Builds the keepalive bench (unpinned, so the build is not counted) and returns its executable.
fn build_bench() -> Result<PathBuf, String> {
    let mut command = crate::shell::cargo();
    command.args([
        "bench",
        "-p",
        "httpclient",
        "--bench",
        "keepalive",
        "--no-run",
        "--message-format=json",
    ]);
    let messages = output_of(command, "cargo bench --no-run")?;
    bench_executable(&messages)
        .ok_or_else(|| "cargo did not report the keepalive bench's executable".to_owned())
}

/// Splits `http://host:port/path` (the URLs this module builds) into host, port and path.
pub fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (netloc, path) = rest.split_at(slash);
    let (host, port) = netloc.rsplit_once(':')?;
    Some((host, port, if path.is_empty() { "/" } else { path }))
}

/// Runs every client `ROUNDS` times, interleaved, on the client core against `url`; returns the medians.
fn run_clients(
    bench: &Path,
    script: &Path,
    url: &str,
    core: Option<u32>,
) -> Result<Vec<Rate>, String> {
    let rounds = (0..ROUNDS)
        .map(|_| run_round(bench, script, url, core))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(median_rates(&rounds))
}

/// Runs every client once, one after the other on the client core, against `url`.
fn run_round(
    bench: &Path,
    script: &Path,
    url: &str,
    core: Option<u32>,
) -> Result<Vec<Rate>, String> {
    let mut rust = pinned(bench, core);
    rust.arg("--bench")
        .env("BENCH_URL", url)
        .env("BENCH_REQUESTS", REQUESTS.to_string());
    let mut rates = parse_rates(&output_of(rust, "the keepalive bench")?);
    let (host, port, path) =
        split_url(url).ok_or_else(|| format!("not http://host:port/path: {url}"))?;
    let mut python = pinned("python3", core);
    python
        .arg(script)
        .args([host, port, path, &REQUESTS.to_string()]);
    rates.extend(parse_rates(&output_of(python, "the Python client")?));
    Ok(rates)
}

/// Starts the bench's canned-response server (`--serve`) on the server core; returns it and its URL.
fn start_canned(bench: &Path, core: Option<u32>) -> Result<(std::process::Child, String), String> {
    let mut command = pinned(bench, core);
    command.arg("--serve").stdout(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start the canned server: {error}"))?;
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|stdout| BufReader::new(stdout).read_line(&mut line));
    match line.trim().strip_prefix("listening ") {
        Some(url) if matches!(read, Some(Ok(_))) => Ok((child, url.to_owned())),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("the canned server did not start: {line:?}"))
        }
    }
}

/// Measures all clients against nginx, then against the canned server, and returns the Markdown section.
pub fn measure(workdir: &Workdir, binaries: &Binaries, pin: bool) -> Result<String, String> {
    let bench = build_bench()?;
    let script = workdir.root.join("client_bench.py");
    fs::write(&script, PYTHON_CLIENT)
        .map_err(|error| format!("cannot write {}: {error}", script.display()))?;
    let (server_core, client_core) = if pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };

    let nginx = servers::start(Server::Nginx, workdir, binaries, server_core)?;
    let url = format!("http://127.0.0.1:{}/small.txt", nginx.port);
    let against_nginx = run_clients(&bench, &script, &url, client_core);
    nginx.stop();

    let against_canned = start_canned(&bench, server_core).and_then(|(mut server, url)| {
        let rates = run_clients(&bench, &script, &url, client_core);
        let _ = server.kill();
        let _ = server.wait();
        rates
    });

    let mut text = format!(
        "## Client: one keep-alive connection, {REQUESTS} GETs per client per round, median of {ROUNDS} interleaved rounds\n\n\
         The floor writes a fixed request and reads exactly the known response length, parsing nothing: no client can go faster \
         against the same server. CPU is the client process's user + system time per request over the timed loop (`/proc/self/task/*/schedstat`); \
         the floor's CPU is the kernel's loopback work every client pays, so \"above floor\" is the client's own work.\n\n\
         ### Against nginx (the 100-byte file)\n\n{}\n",
        section(&against_nginx?)
    );
    match against_canned {
        Ok(rates) => text.push_str(&format!(
            "### Against a canned-response server (keepalive bench `--serve`, 13-byte body)\n\n{}",
            section(&rates)
        )),
        Err(error) => text.push_str(&format!(
            "### Against a canned-response server\n\nNot measured: {error}\n"
        )),
    }
    text.push_str(
        "\nOne connection is latency-bound: each request waits for the server's answer, so the server's turnaround and the \
         loopback round trip cap every client; the floor is that cap.\n",
    );
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rates_both_benches_print() {
        let output = "keep-alive GET http://127.0.0.1:1/, 200 requests per client\n\
                      httpclient:      29941 requests/s\nureq:            15450 requests/s\n\
                      httpclient / ureq: 1.94x\npython: 5000 requests/s\n";
        let rates = parse_rates(output);
        let names: Vec<_> = rates.iter().map(|rate| rate.client.as_str()).collect();
        assert_eq!(names, ["httpclient", "ureq", "python"]);
        let table = section(&rates);
        assert!(table.contains("| httpclient | 29941 |"), "{table}");
        assert!(
            table.contains("httpclient ÷ ureq: 1.94×; httpclient ÷ Python's http.client: 5.99×."),
            "{table}"
        );
    }

    #[test]
    fn reads_cpu_per_request_and_the_floor() {
        let output = "keep-alive GET http://127.0.0.1:1/small.txt, 20000 requests per client\n\
                      floor:           20000 requests/s, 10.0 us CPU/request\n\
                      httpclient:      10000 requests/s, 20.0 us CPU/request\n\
                      ureq:             8000 requests/s, 25.0 us CPU/request\n\
                      httpclient / ureq: 1.25x\n\
                      python: 5000 requests/s, 200.0 us CPU/request\n";
        let rates = parse_rates(output);
        assert_eq!(
            rates[0],
            Rate {
                client: "floor".into(),
                per_second: 20000.0,
                cpu_us: Some(10.0)
            }
        );
        assert_eq!(rates.len(), 4);
        let table = section(&rates);
        assert!(table.contains("| floor | 20000 | 100% | 10.0 |"), "{table}");
        assert!(
            table.contains("| httpclient | 10000 | 50% | 20.0 |"),
            "{table}"
        );
        assert!(table.contains("| python | 5000 | 25% | 200.0 |"), "{table}");
        assert!(
            table.contains(
                "CPU per request, httpclient ÷ ureq: 0.80×; httpclient ÷ Python: 0.10× (Python ÷ httpclient: 10.00×)."
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "CPU above the floor, httpclient ÷ ureq: 0.67×; httpclient ÷ Python: 0.05× (Python ÷ httpclient: 19.00×)."
            ),
            "{table}"
        );
        assert!(
            table.contains("the most any client can save over Python in CPU per request is Python ÷ floor: 20.00×."),
            "{table}"
        );
        assert!(
            table.contains("Python reaches 25% of the floor (5000 of 20000 req/s), so 10× Python would be 250% of the floor"),
            "{table}"
        );
    }

    #[test]
    fn ten_times_python_is_possible_below_a_tenth_of_the_floor() {
        let rates = [
            Rate {
                client: "floor".into(),
                per_second: 100_000.0,
                cpu_us: None,
            },
            Rate {
                client: "python".into(),
                per_second: 5_000.0,
                cpu_us: None,
            },
        ];
        let verdict = ten_times_python(&rates).unwrap();
        assert!(verdict.contains("within the floor"), "{verdict}");
        assert_eq!(ten_times_python(&rates[..1]), None);
    }

    #[test]
    fn keeps_each_clients_median_round() {
        let rate = |client: &str, per_second: f64, cpu_us: Option<f64>| Rate {
            client: client.into(),
            per_second,
            cpu_us,
        };
        let rounds = vec![
            vec![
                rate("floor", 100.0, Some(30.0)),
                rate("python", 10.0, Some(90.0)),
            ],
            vec![rate("floor", 300.0, Some(10.0)), rate("python", 30.0, None)],
            vec![
                rate("floor", 200.0, Some(50.0)),
                rate("python", 20.0, Some(70.0)),
            ],
        ];
        assert_eq!(
            median_rates(&rounds),
            [
                rate("floor", 200.0, Some(30.0)),
                rate("python", 20.0, Some(90.0))
            ]
        );
        assert_eq!(median_rates(&[]), []);
    }

    #[test]
    fn splits_the_urls_it_builds() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/small.txt"),
            Some(("127.0.0.1", "8080", "/small.txt"))
        );
        assert_eq!(
            split_url("http://127.0.0.1:41000/"),
            Some(("127.0.0.1", "41000", "/"))
        );
        assert_eq!(
            split_url("http://127.0.0.1:1"),
            Some(("127.0.0.1", "1", "/"))
        );
        assert_eq!(split_url("https://127.0.0.1:1/"), None);
        assert_eq!(split_url("http://localhost/"), None);
    }

    #[test]
    fn finds_the_bench_executable() {
        let messages = "{\"reason\":\"compiler-artifact\",\"target\":{\"kind\":[\"lib\"],\"name\":\"httpclient\"},\"executable\":null}\n\
            {\"reason\":\"compiler-artifact\",\"target\":{\"kind\":[\"bench\"],\"crate_types\":[\"bin\"],\"name\":\"keepalive\"},\"executable\":\"/t/release/deps/keepalive-1a2b\",\"fresh\":true}\n\
            {\"reason\":\"build-finished\",\"success\":true}\n";
        assert_eq!(
            bench_executable(messages),
            Some(PathBuf::from("/t/release/deps/keepalive-1a2b"))
        );
        assert_eq!(bench_executable("{\"reason\":\"build-finished\"}"), None);
    }
}
