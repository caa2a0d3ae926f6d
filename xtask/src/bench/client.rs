//! The client benchmark (issue 6): requests/s over one keep-alive connection to a local nginx,
//! for httpclient, ureq and Python's `http.client`, in the same run.
//!
//! nginx is pinned to core 0 and each client to core 1, as the server scenarios pin wrk.
//! httpclient and ureq run in `httpclient/benches/keepalive.rs` (`BENCH_URL` points it at nginx);
//! Python's client runs a generated script doing the same loop: request, read the whole body, repeat.

use std::fs;
use std::process::Command;

use super::scenarios::Server;
use super::servers::{self, Binaries, Workdir};

/// Requests per client in one measurement.
const REQUESTS: u32 = 20_000;

/// The Python side: the same loop as the Rust bench, on one `HTTPConnection`.
const PYTHON_CLIENT: &str = r#"import http.client, sys, time
host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
connection = http.client.HTTPConnection(host, port)
def run(n):
    started = time.perf_counter()
    for _ in range(n):
        connection.request("GET", path)
        connection.getresponse().read()
    return time.perf_counter() - started
run(100)
print("python: %.0f requests/s" % (count / run(count)))
"#;

/// One client's rate, by name.
#[derive(Debug, PartialEq)]
pub struct Rate {
    pub client: String,
    pub per_second: f64,
}

/// Reads `name: 12345 requests/s` lines, as the Rust bench and the Python script print them.
pub fn parse_rates(output: &str) -> Vec<Rate> {
    output
        .lines()
        .filter_map(|line| {
            let (client, rest) = line.split_once(':')?;
            let number = rest.trim().strip_suffix("requests/s")?.trim();
            Some(Rate {
                client: client.trim().to_owned(),
                per_second: number.parse().ok()?,
            })
        })
        .collect()
}

/// The Markdown section for the results file: a table with each client's rate and its ratios to ureq and Python.
pub fn section(rates: &[Rate]) -> String {
    let find = |name: &str| {
        rates
            .iter()
            .find(|rate| rate.client == name)
            .map(|rate| rate.per_second)
    };
    let ours = find("httpclient");
    let ratio = |theirs: Option<f64>| match (ours, theirs) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => format!("{:.2}×", ours / theirs),
        _ => "–".to_owned(),
    };
    let mut text = format!(
        "## Client: one keep-alive connection to nginx, {REQUESTS} GETs of the 100-byte file\n\n\
         | client | req/s |\n| --- | ---: |\n"
    );
    for rate in rates {
        text.push_str(&format!("| {} | {:.0} |\n", rate.client, rate.per_second));
    }
    text.push_str(&format!(
        "\nhttpclient ÷ ureq: {}; httpclient ÷ Python's http.client: {}.\n\
         One connection is latency-bound: each request waits for nginx's answer, so the server's turnaround caps every client.\n",
        ratio(find("ureq")),
        ratio(find("python"))
    ));
    text
}

fn pinned(command: &str, pin: bool) -> Command {
    if pin {
        let mut wrapped = Command::new("taskset");
        wrapped.args(["-c", "1", command]);
        wrapped
    } else {
        Command::new(command)
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

/// Builds the Rust bench first (unpinned, so the build is not counted), then measures all three clients against one nginx.
pub fn measure(workdir: &Workdir, binaries: &Binaries, pin: bool) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::shell::exec(Command::new(&cargo).args([
        "bench",
        "-p",
        "httpclient",
        "--bench",
        "keepalive",
        "--no-run",
    ]))?;
    let nginx = servers::start(Server::Nginx, workdir, binaries, pin.then_some(0))?;
    let url = format!("http://127.0.0.1:{}/small.txt", nginx.port);
    let mut rust = pinned(&cargo, pin);
    rust.args(["bench", "-q", "-p", "httpclient", "--bench", "keepalive"])
        .env("BENCH_URL", &url)
        .env("BENCH_REQUESTS", REQUESTS.to_string());
    let rust_output = output_of(rust, "the keepalive bench");
    let script = workdir.root.join("client_bench.py");
    let python_output = fs::write(&script, PYTHON_CLIENT)
        .map_err(|error| format!("cannot write {}: {error}", script.display()))
        .and_then(|()| {
            let mut python = pinned("python3", pin);
            python.arg(&script).args([
                "127.0.0.1",
                &nginx.port.to_string(),
                "/small.txt",
                &REQUESTS.to_string(),
            ]);
            output_of(python, "the Python client")
        });
    nginx.stop();
    let mut rates = parse_rates(&rust_output?);
    rates.extend(parse_rates(&python_output?));
    Ok(section(&rates))
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
}
