//! `cargo xtask bench`: the load harness (wrk against ours, Python and nginx in the same run) and the criterion benches.
//!
//! For each scenario and connection count the servers are started afresh, pinned to core 0,
//! and wrk (pinned to core 1) runs against ours, Python's and nginx back to back, `--rounds` times;
//! the median round is kept, with each server's peak RSS.
//! The slow-clients scenario is no wrk run: it holds clients that never read and times fresh GETs meanwhile ([`slow`]).
//! The tables are printed and written to `bench-results/latest.md`.

mod client;
pub mod install;
mod report;
pub mod scenarios;
pub mod servers;
mod slow;
pub mod tls;
pub mod wrk;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::shell::{cargo, exec, have};
use report::{Outcome, Row};
use scenarios::{Load, Scenario, Server, SCENARIOS};
use servers::{Binaries, Workdir};
use wrk::Measurement;

const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--duration SECS] [--rounds N] [--scenario NAME]... [--client] [--criterion]

  --quick           1 s per wrk run (the default is 5 s)
  --duration SECS   seconds per wrk run (slow-clients times a fixed number of GETs instead)
  --rounds N        run every server N times, interleaved, and keep the median (default 1)
  --scenario NAME   run only this scenario; repeat for several
  --client          run the client benchmark (httpclient, ureq, Python's http.client against nginx);
                    a run without --scenario includes it
  --criterion       also run `cargo bench --workspace`

scenarios:
";

/// Where the table is written, relative to the project root.
const RESULTS: &str = "bench-results/latest.md";

/// The usage text, ending with the scenario table's names and summaries.
fn usage() -> String {
    let mut text = USAGE.to_owned();
    for scenario in SCENARIOS {
        text.push_str(&format!("  {:<17} {}\n", scenario.name, scenario.summary));
    }
    text
}

#[derive(Debug)]
struct Options {
    seconds: u32,
    rounds: u32,
    scenarios: Vec<&'static Scenario>,
    client: bool,
    criterion: bool,
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut seconds = None;
    let mut quick = false;
    let mut rounds = 1;
    let mut names: Vec<String> = Vec::new();
    let mut criterion = false;
    let mut client = false;
    let mut words = arguments.iter();
    while let Some(word) = words.next() {
        let mut value = |what: &str| {
            words
                .next()
                .cloned()
                .ok_or_else(|| format!("{word} needs {what}"))
        };
        match word.as_str() {
            "--quick" => quick = true,
            "--criterion" => criterion = true,
            "--client" => client = true,
            "--duration" => {
                seconds = Some(
                    value("a number of seconds")?
                        .parse::<u32>()
                        .ok()
                        .filter(|seconds| *seconds > 0)
                        .ok_or("--duration needs a positive whole number of seconds")?,
                )
            }
            "--rounds" => {
                rounds = value("a count")?
                    .parse::<u32>()
                    .ok()
                    .filter(|rounds| *rounds > 0)
                    .ok_or("--rounds needs a positive whole number")?
            }
            "--scenario" => names.push(value("a scenario name")?),
            other => return Err(format!("unknown option `{other}`\n{}", usage())),
        }
    }
    // A run that names no scenario measures everything, the client included; naming scenarios or --client narrows it.
    let everything = names.is_empty() && !client;
    let client = client || everything;
    let scenarios = if everything {
        SCENARIOS.iter().collect()
    } else {
        let known: Vec<_> = SCENARIOS.iter().map(|scenario| scenario.name).collect();
        if let Some(name) = names.iter().find(|name| !known.contains(&name.as_str())) {
            return Err(format!(
                "unknown scenario `{name}`; known: {}",
                known.join(", ")
            ));
        }
        // The table's order, whatever the order on the command line.
        SCENARIOS
            .iter()
            .filter(|scenario| names.iter().any(|name| name == scenario.name))
            .collect()
    };
    Ok(Options {
        seconds: seconds.unwrap_or(if quick { 1 } else { 5 }),
        rounds,
        scenarios,
        client,
        criterion,
    })
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    if arguments
        .iter()
        .any(|word| word == "-h" || word == "--help")
    {
        print!("{}", usage());
        return Ok(());
    }
    let options = parse_options(arguments)?;
    install::ensure_tools()?;
    let binaries = build(&options.scenarios)?;
    let load_before = crate::machine::load_average();
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let pinned = cores >= 2 && have("taskset");
    if !pinned {
        eprintln!("xtask bench: fewer than 2 cores or no taskset; servers and wrk are not pinned");
    }
    let workdir = Workdir::create()?;
    let mut rows = Vec::new();
    let mut slow_rows = Vec::new();
    for scenario in &options.scenarios {
        for &connections in scenario.connections {
            match scenario.load {
                Load::Wrk => rows.extend(measure(
                    scenario,
                    connections,
                    &options,
                    &workdir,
                    &binaries,
                    pinned,
                )),
                Load::SlowClients { held_path } => slow_rows.extend(slow::measure(
                    scenario,
                    held_path,
                    connections,
                    options.rounds,
                    &workdir,
                    &binaries,
                    pinned,
                )),
            }
        }
    }
    let client_section = if options.client {
        match client::measure(&workdir, &binaries, pinned) {
            Ok(section) => section,
            Err(error) => format!("## Client\n\nNot measured: {error}\n"),
        }
    } else {
        String::new()
    };
    drop(workdir);
    let mut table = if rows.is_empty() {
        String::new()
    } else {
        report::table(&rows)
    };
    if !slow_rows.is_empty() {
        if !table.is_empty() {
            table.push('\n');
        }
        table.push_str(&slow_section(&slow_rows));
    }
    if !client_section.is_empty() {
        table.push('\n');
        table.push_str(&client_section);
    }
    println!("\n{table}");
    let load = [load_before, crate::machine::load_average()];
    let document = document(arguments, &options, cores, pinned, &load, &table);
    fs::create_dir_all("bench-results")
        .and_then(|()| fs::write(RESULTS, document))
        .map_err(|error| format!("cannot write {RESULTS}: {error}"))?;
    eprintln!("xtask bench: wrote {RESULTS}");
    if options.criterion {
        exec(cargo().args(["bench", "--workspace"]))?;
    }
    Ok(())
}

/// Builds, in release, those of our servers that the chosen scenarios use and that the workspace has.
fn build(scenarios: &[&Scenario]) -> Result<Binaries, String> {
    let wanted: BTreeSet<Server> = scenarios
        .iter()
        .flat_map(|scenario| scenario.targets.iter().map(|target| target.server))
        .collect();
    build_servers(&wanted)
}

/// The slow-clients table with what it measures, for the terminal and the results file.
fn slow_section(rows: &[slow::SlowRow]) -> String {
    format!(
        "## Slow clients\n\n\
         Each held client sets a 4 KiB receive buffer before connecting, asks for an 8 MiB file and never reads, so the server's sends fill up and stay full. \
         From 0.2 s after the last held request, 200 fresh GETs of the 100-byte file start 20 ms apart, each on a new connection and whether or not earlier ones were answered \
         (so a stall delays every GET that arrives during it); their latency is connect to the last body byte, and one unanswered after 10 s counts as an error. \
         threads and VmRSS are the most `/proc/<pid>/status` showed while the clients were held; \
         \"held sends queued\" counts the server's connections with bytes written and unacknowledged at the end (`/proc/net/tcp` tx_queue).\n\n{}",
        report::slow_table(rows)
    )
}

/// Builds, in release, those of `wanted` that are ours and that the workspace has (also used by `cargo xtask soak`).
pub fn build_servers(wanted: &BTreeSet<Server>) -> Result<Binaries, String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|error| format!("cannot run cargo metadata: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata = String::from_utf8_lossy(&output.stdout);
    let target_directory = json_string_field(&metadata, "target_directory")
        .ok_or("cargo metadata has no target_directory")?;
    let release = PathBuf::from(target_directory).join("release");
    let mut binaries = Binaries::default();
    let mut command = cargo();
    command.args(["build", "--release"]);
    for &server in wanted {
        let Some(name) = server.program() else {
            continue;
        };
        // Two servers can be one program (simplehttp over HTTP and over TLS): built once, known under both.
        if let Some(path) = binaries
            .programs
            .iter()
            .find(|(other, _)| other.program() == Some(name))
            .map(|(_, path)| path.clone())
        {
            binaries.programs.insert(server, path);
            continue;
        }
        if target_names(&metadata, "bin")
            .iter()
            .any(|found| found == name)
        {
            command.args(["--bin", name]);
            binaries.programs.insert(server, release.join(name));
        } else if target_names(&metadata, "example")
            .iter()
            .any(|found| found == name)
        {
            command.args(["--example", name]);
            binaries
                .programs
                .insert(server, release.join("examples").join(name));
        } else {
            eprintln!("xtask bench: the workspace has no `{name}` binary or example yet; its rows are skipped");
        }
    }
    if !binaries.programs.is_empty() {
        exec(&mut command)?;
    }
    Ok(binaries)
}

/// The value of the first `"field":"..."` in a JSON text (enough for cargo metadata's paths).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let start = json.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut value = String::new();
    let mut characters = json[start..].chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => return Some(value),
            '\\' => value.push(characters.next()?),
            other => value.push(other),
        }
    }
    None
}

/// Names of the targets of `kind` in cargo metadata.
///
/// A target is a flat JSON object (no nested objects), so the object around each `"kind":["bin"]` is found by the nearest braces.
fn target_names(metadata: &str, kind: &str) -> Vec<String> {
    let marker = format!("\"kind\":[\"{kind}\"]");
    let mut names = Vec::new();
    for (position, _) in metadata.match_indices(&marker) {
        let start = metadata[..position].rfind('{').unwrap_or(0);
        let end = metadata[position..]
            .find('}')
            .map_or(metadata.len(), |offset| position + offset);
        if let Some(name) = json_string_field(&metadata[start..end], "name") {
            names.push(name);
        }
    }
    names
}

/// One scenario at one connection count: start every server, run wrk interleaved, read peak RSS, stop.
fn measure(
    scenario: &Scenario,
    connections: u32,
    options: &Options,
    workdir: &Workdir,
    binaries: &Binaries,
    pinned: bool,
) -> Vec<Row> {
    let (server_core, wrk_core) = if pinned {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let mut running = Vec::new();
    let mut failures: Vec<Option<String>> = Vec::new();
    for target in scenario.targets {
        let started = match target.server {
            ours if ours.program().is_some() && binaries.ours(ours).is_none() => {
                Err("not built yet".to_owned())
            }
            server => servers::start(server, workdir, binaries, server_core).and_then(|running| {
                match servers::probe_server(server, workdir, running.port, target.path, scenario) {
                    Ok(()) => Ok(running),
                    Err(reason) => {
                        running.stop();
                        Err(reason)
                    }
                }
            }),
        };
        match started {
            Ok(server) => {
                running.push(Some(server));
                failures.push(None);
            }
            Err(reason) => {
                eprintln!("xtask bench: {}: {reason}", scenario.name);
                running.push(None);
                failures.push(Some(reason));
            }
        }
    }
    let mut rounds: Vec<Vec<Measurement>> = vec![Vec::new(); scenario.targets.len()];
    for round in 1..=options.rounds {
        for (index, target) in scenario.targets.iter().enumerate() {
            let Some(server) = &running[index] else {
                continue;
            };
            if failures[index].is_some() {
                continue;
            }
            let url = format!(
                "{}://127.0.0.1:{}{}",
                target.server.scheme(),
                server.port,
                target.path
            );
            let ticks_before = server.cpu_ticks();
            match wrk::run(
                wrk_core,
                connections,
                options.seconds,
                &url,
                scenario.header,
            ) {
                Ok(measurement) => {
                    // The server's own processor time per request: unlike req/s, it holds on a machine other jobs share.
                    let requests = measurement.requests_per_second * f64::from(options.seconds);
                    let cpu = match (ticks_before, server.cpu_ticks()) {
                        (Some(before), Some(after))
                            if target.server.program().is_some() && requests > 0.0 =>
                        {
                            format!(
                                ", {:.1} µs server CPU per request",
                                after.saturating_sub(before) as f64 * 10_000.0 / requests
                            )
                        }
                        _ => String::new(),
                    };
                    eprintln!(
                        "xtask bench: {} c={connections} round {round}/{} {}: {:.0} req/s, {} errors{cpu}",
                        scenario.name,
                        options.rounds,
                        target.role.label(),
                        measurement.requests_per_second,
                        measurement.errors.total()
                    );
                    rounds[index].push(measurement);
                }
                Err(reason) => {
                    eprintln!("xtask bench: {reason}");
                    failures[index] = Some("wrk failed".into());
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (index, target) in scenario.targets.iter().enumerate() {
        let peak_rss_kib = running[index]
            .as_ref()
            .and_then(|server| server.peak_rss_kib());
        if let Some(server) = running[index].take() {
            server.stop();
        }
        let outcome = match (&failures[index], median(&rounds[index])) {
            (None, Some(measurement)) => Outcome::Measured {
                measurement,
                peak_rss_kib,
            },
            (Some(reason), _) => Outcome::Skipped(reason.clone()),
            (None, None) => Outcome::Skipped("no measurement".into()),
        };
        rows.push(Row {
            scenario: scenario.name,
            connections,
            role: target.role,
            server: target.server.describe(),
            outcome,
        });
    }
    rows
}

/// The round with the median requests/s (the lower middle one for an even count).
fn median(rounds: &[Measurement]) -> Option<Measurement> {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(|left, right| {
        left.requests_per_second
            .total_cmp(&right.requests_per_second)
    });
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The whole `bench-results/latest.md`: how, where and with what it was measured, then the table and notes.
fn document(
    arguments: &[String],
    options: &Options,
    cores: usize,
    pinned: bool,
    [load_before, load_after]: &[String; 2],
    table: &str,
) -> String {
    let date = crate::machine::utc_now();
    let cpu = crate::machine::cpu_model();
    let kernel = crate::machine::kernel_release();
    let [wrk, nginx, python, openssl] = install::versions();
    let command = if arguments.is_empty() {
        "cargo xtask bench".to_owned()
    } else {
        format!("cargo xtask bench {}", arguments.join(" "))
    };
    let pinning = if pinned {
        "each server pinned to core 0 (`taskset -c 0`), wrk to core 1 (`taskset -c 1`)"
    } else {
        "not pinned (fewer than 2 cores or no taskset)"
    };
    let mut scenario_lines = String::new();
    for scenario in &options.scenarios {
        scenario_lines.push_str(&format!("- `{}`: {}\n", scenario.name, scenario.summary));
    }
    format!(
        "# Load harness results

Written by `{command}` on {date}.

- Machine: `nproc` = {cores}, {cpu}, Linux {kernel}.
- Tools: {wrk}; {nginx}; {python}; {openssl}.
- Each run: `wrk -t1 -cN -d{seconds}s --latency`, {rounds} round(s), median kept; {pinning}.
- Load average (1, 5, 15 min) before the first run: {load_before}; after the last: {load_after}. Other work on the machine shows here and makes the numbers noisy.

Scenarios:

{scenario_lines}
{table}
Notes:

- \"ours ÷ this\" is ours' requests/s divided by that row's, measured in the same run: at each connection count the servers run back to back, interleaved round by round.
- MB/s is wrk's Transfer/sec in MiB/s; p99 is the 99% line of `--latency`; errors are wrk's socket errors (connect, read, write, timeout) plus non-2xx/3xx responses (status).
- wrk counts a response whose body ends with the connection (CGI output without Content-Length) as a read error, so the cgi rows show about one read error per request even when every response arrived whole.
- Peak RSS is `VmHWM` from `/proc/<pid>/status`, read just before the server is stopped; every server is started afresh for each connection count.
- `python3 -m http.server` speaks HTTP/1.0 and closes the connection after each response, so wrk reconnects for every request; ours, the Python hello script (HTTP/1.1) and nginx keep connections alive.
- The Python hello script sets `disable_nagle_algorithm = True`: `BaseHTTPRequestHandler` writes headers and body separately, and with Nagle on every keep-alive response waits about 40 ms for a delayed ACK (some 25 requests/s).
- Ours and Python's servers listen with a backlog of 5 (Python's `request_queue_size`, which socketserver keeps), nginx with 511: at 100 connections some connects probably overflow it and wait for a SYN retransmit (1 s or more), the likely cause of timeouts and a p99 near 1 s in those rows.
- The hello page is the 81 bytes `echo_http` answers on `GET /`; nginx serves the same bytes from a file.
- https-small-file: both servers use one self-signed ECDSA P-256 certificate made by `openssl` for the run; nginx is limited to TLS 1.3 (`ssl_protocols TLSv1.3`), and a Python `ssl` client checks before measuring that each server answers over TLS 1.3 (the protocol and cipher chosen are printed on the terminal).
  wrk (OpenSSL) makes one handshake per connection and then keeps it alive, so the rows measure the record layer more than the handshake.
- slow-clients: ours runs with its defaults (one worker per core it may run on, so one when pinned), as in the other scenarios; the server is started afresh for every round.
- compressed-text: wrk sends `Accept-Encoding: gzip`, and a probe checks each server answers `Content-Encoding: gzip` before measuring. The file is 100 KiB of words (about 3 to 1 with gzip). nginx has `gzip on` with its default level (1) and compresses every response; ours (`--compress`, gzip level 6) compresses a file once per version, once its times are 2 s old, and sends the kept bytes after that.
- compressed-text-static: the same file with a `text.txt.gz` sibling made at level 9; ours has `--precompressed`, nginx `gzip_static on`; both send the sibling as it is.
",
        seconds = options.seconds,
        rounds = options.rounds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options() {
        let defaults = parse_options(&[]).unwrap();
        assert_eq!(defaults.seconds, 5);
        assert_eq!(defaults.rounds, 1);
        assert_eq!(defaults.scenarios.len(), SCENARIOS.len());
        assert!(!defaults.criterion);

        let chosen = parse_options(&words(
            "--quick --rounds 3 --scenario hello --scenario cgi --criterion",
        ))
        .unwrap();
        assert_eq!(chosen.seconds, 1);
        assert_eq!(chosen.rounds, 3);
        let names: Vec<_> = chosen
            .scenarios
            .iter()
            .map(|scenario| scenario.name)
            .collect();
        assert_eq!(names, ["hello", "cgi"]);
        assert!(chosen.criterion);

        assert_eq!(parse_options(&words("--duration 2")).unwrap().seconds, 2);
        assert!(parse_options(&words("--duration 0")).is_err());
        assert!(parse_options(&words("--rounds")).is_err());
        assert!(parse_options(&words("--scenario nope")).is_err());
        assert!(parse_options(&words("--fast")).is_err());
    }

    #[test]
    fn reads_cargo_metadata_targets() {
        let metadata = r#"{"packages":[{"name":"examples","targets":[{"kind":["example"],"crate_types":["bin"],"name":"echo_http","src_path":"/w/examples/echo_http.rs","edition":"2021","doc":false},{"kind":["example"],"crate_types":["bin"],"name":"httpget","src_path":"/w/examples/httpget.rs"}]},{"name":"simplehttp","targets":[{"kind":["lib"],"name":"simplehttp"},{"name":"simplehttp","kind":["bin"],"src_path":"/w/simplehttp/src/main.rs"}]}],"target_directory":"/w/target","workspace_root":"/w"}"#;
        assert_eq!(target_names(metadata, "example"), ["echo_http", "httpget"]);
        assert_eq!(target_names(metadata, "bin"), ["simplehttp"]);
        assert_eq!(
            json_string_field(metadata, "target_directory").as_deref(),
            Some("/w/target")
        );
    }

    #[test]
    fn median_takes_the_middle_round() {
        let round = |requests_per_second| Measurement {
            requests_per_second,
            ..Measurement::default()
        };
        assert_eq!(median(&[]), None);
        assert_eq!(
            median(&[round(3.0), round(1.0), round(2.0)]),
            Some(round(2.0))
        );
        assert_eq!(median(&[round(4.0), round(1.0)]), Some(round(1.0)));
    }
}
