//! `cargo xtask soak`: a server under steady load while clients abandon large downloads, checked for leaks.
//!
//! For each server, in release: wrk keeps 100 connections busy on a small answer (a file, or a CGI script)
//! while 50 resetters loop for the whole run: connect, GET a 4 MiB answer, read a random part of it, close with RST.
//! After a warm-up the server's open descriptors and VmRSS are the baseline; at the end the descriptors must come back to it,
//! VmRSS may grow by at most 16 MiB, wrk must report no error, and (cgihttp) no script process may be left.
//! The server runs on core 0 and all load (wrk, resetters) on core 1, as `cargo xtask bench` pins them.
//!
//! `cargo xtask stalls` ([`stalls`]) lives here too: it shares the set-up (release build, served tree, pinning, `/proc`).

pub mod http;
mod process;
pub mod procfs;
mod resetter;
pub mod stalls;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bench::install;
use crate::bench::scenarios::Server;
use crate::bench::servers::{probe, Binaries};
use crate::bench::wrk::{self, Measurement};
use crate::shell::have;
use process::ServerProcess;
use procfs::mebibytes;
use resetter::Tally;

const USAGE: &str = "\
usage: cargo xtask soak [--duration SECONDS] [--quick] [--server simplehttp|cgihttp]... [-- extra server args]

  --duration SECONDS  length of the loaded run (default 60)
  --quick             a 10 s run with a 2 s warm-up, for CI
  --server NAME       soak only this server (simplehttp or cgihttp); repeat for both (the default)
  -- ARGS             passed to every server, e.g. `-- --workers 2`

wrk keeps 100 connections on a small answer while 50 clients reset mid-transfer of a 4 MiB answer.
Fails unless wrk reports no error (no socket error, no request unanswered for 10 s, no status above 399), the server's descriptors come back to their baseline,
its VmRSS grows by at most 16 MiB, and (cgihttp) no script process is left.
";

/// wrk's connections.
const CONNECTIONS: u32 = 100;
/// Clients that abandon the large answer, for the whole run.
const RESETTERS: usize = 50;
/// The most VmRSS may grow from the baseline to the end.
const RSS_GROWTH_LIMIT_KIB: u64 = 16 * 1024;
/// How long descriptors (and script processes) get to settle after the load stops.
const SETTLE: Duration = Duration::from_secs(10);
/// The size of the large answer.
const LARGE: usize = 4 * 1024 * 1024;
/// wrk's request timeout. Its default, 2 s, is a latency bound: 100 connections queued on a CGI script that forks a
/// shell per request (about 200 req/s on this kind of machine) wait 0.5 s on average and longer at the tail on a busy
/// machine, which wrk would count as errors though every request is answered. The soak asks that none is lost,
/// so a request counts as an error only when it goes unanswered for 10 s; the p99 column shows the latency.
const WRK_TIMEOUT_SECONDS: u32 = 10;

#[derive(Debug, PartialEq)]
struct Options {
    seconds: u32,
    warm_up: u32,
    servers: Vec<Server>,
    extra: Vec<String>,
}

/// The task's own words, and the server's after the first `--`.
fn split_extra(arguments: &[String]) -> (&[String], Vec<String>) {
    match arguments.iter().position(|word| word == "--") {
        Some(position) => (&arguments[..position], arguments[position + 1..].to_vec()),
        None => (arguments, Vec::new()),
    }
}

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let (own, extra) = split_extra(arguments);
    let mut seconds = None;
    let mut quick = false;
    let mut servers = Vec::new();
    let mut words = own.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--quick" => quick = true,
            "--duration" => {
                seconds = Some(
                    words
                        .next()
                        .and_then(|value| value.parse::<u32>().ok())
                        .filter(|seconds| *seconds > 0)
                        .ok_or("--duration needs a positive whole number of seconds")?,
                );
            }
            "--server" => {
                let server = match words.next().map(String::as_str) {
                    Some("simplehttp") => Server::SimpleHttp,
                    Some("cgihttp") => Server::CgiHttp,
                    _ => return Err("--server needs simplehttp or cgihttp".into()),
                };
                if !servers.contains(&server) {
                    servers.push(server);
                }
            }
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    if servers.is_empty() {
        servers = vec![Server::SimpleHttp, Server::CgiHttp];
    }
    Ok(Options {
        seconds: seconds.unwrap_or(if quick { 10 } else { 60 }),
        warm_up: if quick { 2 } else { 5 },
        servers,
        extra,
    })
}

/// A temporary directory with the served tree and the servers' logs; removed when dropped.
#[derive(Debug)]
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn create(task: &str) -> Result<Tree, String> {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "xtask-{task}-{}-{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        ));
        let tree = Tree { root };
        tree.populate()
            .map_err(|error| format!("cannot prepare {}: {error}", tree.root.display()))?;
        Ok(tree)
    }

    fn www(&self) -> PathBuf {
        self.root.join("www")
    }

    fn log(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.log"))
    }

    fn populate(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let www = self.www();
        fs::create_dir_all(www.join("cgi-bin"))?;
        fs::write(www.join("small.txt"), crate::bench::servers::small_file())?;
        let large: Vec<u8> = (0..LARGE).map(|index| (index % 251) as u8).collect();
        fs::write(www.join("large.bin"), large)?;
        let scripts = [
            (
                "small.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello from cgi\\n'\n".to_owned(),
            ),
            (
                "large.sh",
                format!(
                    "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec head -c {LARGE} /dev/zero\n"
                ),
            ),
        ];
        for (name, text) in scripts {
            let path = www.join("cgi-bin").join(name);
            fs::write(&path, text)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The small answer wrk asks for and the large one the resetters abandon.
fn paths(server: Server) -> (&'static str, &'static str) {
    match server {
        Server::CgiHttp => ("/cgi-bin/small.sh", "/cgi-bin/large.sh"),
        _ => ("/small.txt", "/large.bin"),
    }
}

/// Installs the tools, builds the servers in release and pins this process (the load) to core 1 when it can.
///
/// Returns the programs, whether servers are to be pinned to core 0, and the cores there were before pinning.
fn prepare(
    task: &str,
    servers: &[Server],
    tools: &[(&str, &str)],
) -> Result<(Binaries, bool, usize), String> {
    install::ensure(tools)?;
    let wanted: BTreeSet<Server> = servers.iter().copied().collect();
    let binaries = crate::bench::build_servers(&wanted)?;
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let mut pinned = cores >= 2 && have("taskset");
    if pinned {
        // Every thread started from now on (resetters, watchers) inherits core 1.
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
        if !status.is_ok_and(|status| status.success()) {
            eprintln!("xtask {task}: cannot pin this process to core 1; nothing is pinned");
            pinned = false;
        }
    } else {
        eprintln!("xtask {task}: fewer than 2 cores or no taskset; the server and the load are not pinned");
    }
    Ok((binaries, pinned, cores))
}

/// A Markdown paragraph: when, where and how the figures were taken.
fn machine_note(command: &str, pinned: bool, cores: usize) -> String {
    let date = crate::machine::utc_now();
    let cpu = crate::machine::cpu_model();
    let kernel = crate::machine::kernel_release();
    let load = crate::machine::load_average();
    let pinning = if pinned {
        "server on core 0, load on core 1 (taskset)"
    } else {
        "not pinned"
    };
    format!(
        "`{command}`, {date}; `nproc` = {cores}, {cpu}, Linux {kernel}; {pinning}; load average at the end: {load}.\n"
    )
}

/// The command as typed, for the reports.
fn shown_command(task: &str, arguments: &[String]) -> String {
    let mut text = format!("cargo xtask {task}");
    for argument in arguments {
        text.push(' ');
        text.push_str(argument);
    }
    text
}

/// Polls every 100 ms until `done` holds or `limit` passes; returns whether it held and when it was last checked.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> (bool, Duration) {
    let started = Instant::now();
    loop {
        if done() {
            return (true, started.elapsed());
        }
        if started.elapsed() >= limit {
            return (false, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lines of the server's log that report a panic, and the first few of them.
fn panics_in_log(log: &std::path::Path) -> (usize, Vec<String>) {
    let text = fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<String> = text
        .lines()
        .filter(|line| line.contains("panicked"))
        .map(str::to_owned)
        .collect();
    (lines.len(), lines.into_iter().take(3).collect())
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    if arguments
        .iter()
        .take_while(|word| *word != "--")
        .any(|word| word == "-h" || word == "--help")
    {
        print!("{USAGE}");
        return Ok(());
    }
    let started = Instant::now();
    let options = parse_options(arguments)?;
    let (binaries, pinned, cores) = prepare(
        "soak",
        &options.servers,
        &[("wrk", "wrk"), ("taskset", "util-linux")],
    )?;
    let tree = Tree::create("soak")?;
    let mut results = Vec::new();
    for &server in &options.servers {
        let result = soak(server, &binaries, &tree, &options, pinned);
        if let Err(reason) = &result {
            eprintln!("xtask soak: {}: {reason}", server.describe());
        }
        results.push((server, result));
    }
    let mut report = format!(
        "### Soak\n\n{}\n",
        machine_note(&shown_command("soak", arguments), pinned, cores)
    );
    report.push_str(&format!(
        "{} s under `wrk -t1 -c{CONNECTIONS}` after a {} s warm-up; {RESETTERS} resetters read 1 B to 1 MiB of a 4 MiB answer, then close with RST.\n\n",
        options.seconds, options.warm_up
    ));
    report.push_str(
        "| server | wrk req/s | wrk p99 | wrk errors | resetter cycles | resetter failures | fds baseline → after | VmRSS baseline → after (growth) | VmHWM | children left | result |\n",
    );
    report.push_str("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |\n");
    let mut failed = Vec::new();
    for (server, result) in &results {
        match result {
            Ok(soaked) => {
                report.push_str(&soaked.row());
                if !soaked.failures.is_empty() {
                    failed.push(format!(
                        "{}: {}",
                        server.describe(),
                        soaked.failures.join("; ")
                    ));
                }
            }
            Err(reason) => {
                report.push_str(&format!(
                    "| {} | | | | | | | | | | not run: {reason} |\n",
                    server.describe()
                ));
                failed.push(format!("{}: {reason}", server.describe()));
            }
        }
    }
    drop(tree);
    println!("\n{report}");
    println!("Whole run: {:.0} s.", started.elapsed().as_secs_f64());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed:\n  {}", failed.join("\n  ")))
    }
}

/// What one soaked server showed.
#[derive(Debug)]
struct Soaked {
    command: String,
    wrk: Result<Measurement, String>,
    tally: Arc<Tally>,
    fds_before: usize,
    fds_after: Option<usize>,
    settled_in: Duration,
    rss_before_kib: u64,
    rss_after_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    children: Vec<procfs::Process>,
    failures: Vec<String>,
}

impl Soaked {
    fn row(&self) -> String {
        let (rate, p99, errors) = match &self.wrk {
            Ok(measurement) => {
                let errors = measurement.errors.total();
                let kinds = if errors > 0 {
                    format!(" ({})", measurement.errors.kinds())
                } else {
                    String::new()
                };
                (
                    format!("{:.0}", measurement.requests_per_second),
                    measurement
                        .p99_milliseconds
                        .map_or("?".into(), |p99| format!("{p99:.0} ms")),
                    format!("{errors}{kinds}"),
                )
            }
            Err(_) => ("wrk failed".into(), "—".into(), "—".into()),
        };
        let failures = self.tally.failures();
        let failure_text = if failures > 0 {
            format!("{failures} ({})", self.tally.failure_kinds())
        } else {
            "0".into()
        };
        let fds = format!(
            "{} → {} (settled in {:.1} s)",
            self.fds_before,
            self.fds_after.map_or("?".into(), |count| count.to_string()),
            self.settled_in.as_secs_f64()
        );
        let rss = match self.rss_after_kib {
            Some(after) => format!(
                "{} → {} ({:+.1} MiB)",
                mebibytes(self.rss_before_kib),
                mebibytes(after),
                (after as f64 - self.rss_before_kib as f64) / 1024.0
            ),
            None => format!("{} → ?", mebibytes(self.rss_before_kib)),
        };
        let children = if self.children.is_empty() {
            "0".to_owned()
        } else {
            let shown: Vec<String> = self
                .children
                .iter()
                .take(3)
                .map(|child| format!("{} {} {}", child.pid, child.name, child.state))
                .collect();
            format!("{} ({})", self.children.len(), shown.join(", "))
        };
        let result = if self.failures.is_empty() {
            "pass".to_owned()
        } else {
            format!("**fail**: {}", self.failures.join("; "))
        };
        format!(
            "| `{}` | {rate} | {p99} | {errors} | {} | {failure_text} | {fds} | {rss} | {} | {children} | {result} |\n",
            self.command,
            self.tally.cycles.load(Ordering::Relaxed),
            self.peak_rss_kib.map_or("?".into(), mebibytes),
        )
    }
}

/// wrk on the small answer and the resetters on the large one, both for `seconds`.
fn load(
    port: u16,
    server: Server,
    seconds: u32,
    wrk_core: Option<u32>,
) -> (Result<Measurement, String>, Arc<Tally>) {
    let (small, large) = paths(server);
    let tally = Arc::new(Tally::default());
    let until = Instant::now() + Duration::from_secs(seconds.into());
    let resetters = {
        let tally = Arc::clone(&tally);
        std::thread::spawn(move || resetter::run(port, large, RESETTERS, until, &tally))
    };
    let url = format!("http://127.0.0.1:{port}{small}");
    let measurement = wrk::run_with_timeout(
        wrk_core,
        CONNECTIONS,
        seconds,
        &url,
        Some(WRK_TIMEOUT_SECONDS),
        None,
    );
    let _ = resetters.join();
    (measurement, tally)
}

/// The server's descriptor count once it has held still for a second with no script process running (or after [`SETTLE`]).
fn settled_descriptors(pid: u32) -> Result<usize, String> {
    let mut readings: Vec<usize> = Vec::new();
    wait_until(SETTLE, || {
        match procfs::descriptor_count(pid) {
            Ok(count) => readings.push(count),
            Err(_) => return true,
        }
        let last = &readings[readings.len().saturating_sub(10)..];
        last.len() == 10
            && last.iter().all(|count| *count == last[0])
            && procfs::descendants(pid).is_empty()
    });
    readings
        .last()
        .copied()
        .ok_or_else(|| "cannot read the server's descriptors".to_owned())
}

/// One server: start, warm up, take the baseline, soak, settle, compare.
fn soak(
    server: Server,
    binaries: &Binaries,
    tree: &Tree,
    options: &Options,
    pinned: bool,
) -> Result<Soaked, String> {
    let program = binaries.ours(server).ok_or("not built")?;
    let (server_core, load_core) = if pinned {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let name = server.program().unwrap_or("server");
    let log = tree.log(name);
    let mut arguments = Vec::new();
    if server == Server::CgiHttp {
        // The soak looks for leaks with every client running a script; cgihttp's default cap on running scripts
        // would answer most of them 503 instead, which the bench and the limits tests measure on their own.
        arguments.extend(["--max-cgi".to_owned(), "256".to_owned()]);
    }
    arguments.extend(options.extra.iter().cloned());
    let mut process = ServerProcess::start(&program, &tree.www(), &arguments, server_core, &log)?;
    let (small, large) = paths(server);
    probe(process.port, small)?;
    probe(process.port, large)?;
    let pid = process.pid;

    eprintln!(
        "xtask soak: {}: {} s warm-up",
        process.command, options.warm_up
    );
    let (warm_up, _) = load(process.port, server, options.warm_up, load_core);
    warm_up.map_err(|error| format!("warm-up: {error}"))?;
    let fds_before = settled_descriptors(pid)?;
    let before = procfs::status(pid).map_err(|error| format!("cannot read its status: {error}"))?;
    let rss_before_kib = before.rss_kib.ok_or("no VmRSS in its status")?;
    eprintln!(
        "xtask soak: baseline {fds_before} descriptors, VmRSS {}; {} s of load",
        mebibytes(rss_before_kib),
        options.seconds
    );

    let (wrk, tally) = load(process.port, server, options.seconds, load_core);
    let mut failures = Vec::new();
    if let Some(status) = process.exit_status() {
        failures.push(format!("the server exited during the run: {status}"));
    }
    let mut fds_after = None;
    let (_, settled_in) = wait_until(SETTLE, || {
        fds_after = procfs::descriptor_count(pid).ok();
        fds_after.is_some_and(|count| count <= fds_before) && procfs::descendants(pid).is_empty()
    });
    let after = procfs::status(pid).unwrap_or_default();
    let children = procfs::descendants(pid);
    if let Err(reason) = probe(process.port, small) {
        failures.push(format!("after the load: {reason}"));
    }

    match &wrk {
        Ok(measurement) if measurement.errors.total() > 0 => {
            failures.push(format!("wrk errors: {}", measurement.errors.kinds()))
        }
        Ok(_) => {}
        Err(error) => failures.push(format!("wrk: {error}")),
    }
    match fds_after {
        Some(count) if count > fds_before => failures.push(format!(
            "{count} descriptors {} s after the load, baseline {fds_before}",
            SETTLE.as_secs()
        )),
        Some(_) => {}
        None => failures.push("cannot read the descriptors after the load".into()),
    }
    match after.rss_kib {
        Some(rss) if rss > rss_before_kib + RSS_GROWTH_LIMIT_KIB => failures.push(format!(
            "VmRSS grew by {:.1} MiB (limit {} MiB)",
            (rss - rss_before_kib) as f64 / 1024.0,
            RSS_GROWTH_LIMIT_KIB / 1024
        )),
        Some(_) => {}
        None => failures.push("cannot read VmRSS after the load".into()),
    }
    if !children.is_empty() {
        failures.push(format!("{} child processes left", children.len()));
    }
    if tally.cycles.load(Ordering::Relaxed) == 0 {
        failures.push("no resetter cycle completed".into());
    }
    if tally.failures() > 0 {
        failures.push(format!("resetter failures: {}", tally.failure_kinds()));
    }
    let command = process.command.clone();
    process.stop();
    let (panics, first_panics) = panics_in_log(&log);
    if panics > 0 {
        failures.push(format!(
            "{panics} panics logged, first: {}",
            first_panics.join(" | ")
        ));
    }
    Ok(Soaked {
        command,
        wrk,
        tally,
        fds_before,
        fds_after,
        settled_in,
        rss_before_kib,
        rss_after_kib: after.rss_kib,
        peak_rss_kib: after.peak_rss_kib,
        children,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options() {
        assert_eq!(
            parse_options(&[]).unwrap(),
            Options {
                seconds: 60,
                warm_up: 5,
                servers: vec![Server::SimpleHttp, Server::CgiHttp],
                extra: vec![],
            }
        );
        assert_eq!(
            parse_options(&words(
                "--quick --server cgihttp -- --workers 2 --timeout 5"
            ))
            .unwrap(),
            Options {
                seconds: 10,
                warm_up: 2,
                servers: vec![Server::CgiHttp],
                extra: words("--workers 2 --timeout 5"),
            }
        );
        let chosen = parse_options(&words(
            "--duration 30 --server simplehttp --server simplehttp --server cgihttp",
        ))
        .unwrap();
        assert_eq!(chosen.seconds, 30);
        assert_eq!(chosen.servers, [Server::SimpleHttp, Server::CgiHttp]);
        assert_eq!(
            parse_options(&words("--quick --duration 3"))
                .unwrap()
                .seconds,
            3
        );
        assert!(parse_options(&words("--duration 0")).is_err());
        assert!(parse_options(&words("--duration")).is_err());
        assert!(parse_options(&words("--server nginx")).is_err());
        assert!(parse_options(&words("--workers 2")).is_err());
    }

    #[test]
    fn splits_at_the_first_double_dash() {
        let arguments = words("--quick -- --workers 2 -- x");
        let (own, extra) = split_extra(&arguments);
        assert_eq!(own, words("--quick"));
        assert_eq!(extra, words("--workers 2 -- x"));
        let arguments = words("--quick");
        assert_eq!(split_extra(&arguments).1, Vec::<String>::new());
    }

    #[test]
    fn the_tree_has_both_answers_and_goes_away() {
        let tree = Tree::create("soak-test").unwrap();
        let www = tree.www();
        assert_eq!(fs::metadata(www.join("small.txt")).unwrap().len(), 100);
        assert_eq!(
            fs::metadata(www.join("large.bin")).unwrap().len(),
            LARGE as u64
        );
        let script = fs::read_to_string(www.join("cgi-bin/large.sh")).unwrap();
        assert!(script.contains("head -c 4194304 /dev/zero"));
        let root = tree.root.clone();
        drop(tree);
        assert!(!root.exists());
    }

    #[test]
    fn waits_until_done_or_the_limit() {
        let mut calls = 0;
        let (done, _) = wait_until(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        });
        assert!(done);
        assert_eq!(calls, 3);
        let (done, elapsed) = wait_until(Duration::from_millis(150), || false);
        assert!(!done);
        assert!(elapsed >= Duration::from_millis(150));
    }
}
