//! Runs real scripts (`/bin/sh`, `/usr/bin/python3`) from a temporary directory that `nobody` can read,
//! because under root the scripts run as `nobody`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::*;
use crate::{build_environment, CgiRequest, EnvironmentPolicy, Location};

/// A directory under /tmp, open to everyone, holding the scripts of one test.
struct Scripts {
    directory: TempDir,
}

impl Scripts {
    fn new() -> Scripts {
        let directory = tempfile::Builder::new()
            .prefix("cgihttp-test-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("temporary directory: {error}"));
        set_mode(directory.path(), 0o755);
        Scripts { directory }
    }

    /// Writes an executable script named `name`.
    fn add(&self, name: &str, text: &str) -> PathBuf {
        let path = self.directory.path().join(name);
        fs::write(&path, text).unwrap_or_else(|error| panic!("write {name}: {error}"));
        set_mode(&path, 0o755);
        path
    }

    fn sh(&self, name: &str, body: &str) -> ScriptCommand {
        ScriptCommand::new(self.add(name, &format!("#!/bin/sh\n{body}\n")))
    }

    fn python(&self, name: &str, body: &str) -> ScriptCommand {
        ScriptCommand::new(self.add(name, &format!("#!/usr/bin/python3\n{body}\n")))
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {path:?}: {error}"));
}

/// Everything one run produced.
#[derive(Debug)]
struct Run {
    result: Result<ScriptOutcome, CgiError>,
    headers: Option<ScriptHeaders>,
    body: Vec<u8>,
    stderr: Vec<String>,
    elapsed: Duration,
}

impl Run {
    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn outcome(&self) -> &ScriptOutcome {
        match &self.result {
            Ok(outcome) => outcome,
            Err(error) => panic!("script failed: {error}; stderr {:?}", self.stderr),
        }
    }
}

fn run_with(command: &ScriptCommand, request_body: impl Read, body: Body) -> Run {
    let stderr = Mutex::new(Vec::new());
    let mut headers_seen = None;
    let mut output = Vec::new();
    let started = Instant::now();
    let result = command.run(
        request_body,
        &mut output,
        |headers, _output| {
            headers_seen = Some(headers.clone());
            Ok(body)
        },
        |line| {
            stderr
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line.to_owned())
        },
    );
    Run {
        result,
        headers: headers_seen,
        body: output,
        stderr: stderr.into_inner().unwrap_or_else(PoisonError::into_inner),
        elapsed: started.elapsed(),
    }
}

fn execute(command: &ScriptCommand) -> Run {
    run_with(command, io::empty(), Body::Forward)
}

/// The state letter of process `pid` from /proc (`Z` for a zombie), or `None` when there is no such process.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.trim_start().chars().next()
}

/// Waits up to two seconds for `pid` to be gone or dead (a zombie of some other parent).
fn assert_dead(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match process_state(pid) {
            None | Some('Z') | Some('X') => return,
            Some(state) if Instant::now() > deadline => {
                panic!("process {pid} still alive in state {state}")
            }
            Some(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The script was reaped: no process (and so no zombie) of ours is left under its id.
fn assert_reaped(outcome_pid: u32) {
    assert_eq!(
        process_state(outcome_pid),
        None,
        "pid {outcome_pid} left behind"
    );
}

// Mirrors test_httpservers: test_headers_and_content (a script's header block and body).
#[test]
fn test_headers_and_content() {
    let scripts = Scripts::new();
    let command = scripts.sh(
        "file1.sh",
        "printf 'Content-type: text/html\\r\\nX-Extra: yes\\r\\n\\r\\nHello World\\n'",
    );
    let run = execute(&command);
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "Hello World\n");
    assert_eq!(outcome.body_bytes, 12);
    assert!(outcome.exit_status.is_some_and(|status| status.success()));
    assert!(!outcome.timed_out);
    let headers = run.headers.clone().unwrap_or_default();
    assert_eq!(headers.status(), 200);
    assert_eq!(headers.content_type(), Some("text/html"));
    assert_eq!(
        headers.headers(),
        [("X-Extra".to_owned(), "yes".to_owned())]
    );
    assert_reaped(outcome.pid);
}

#[test]
fn python_script_sees_its_environment() {
    let scripts = Scripts::new();
    let mut command = scripts.python(
        "env.py",
        "import os, sys\n\
         print('Content-Type: text/plain')\n\
         print()\n\
         for name in sorted(os.environ):\n\
         \x20   print(name + '=' + os.environ[name])\n\
         print('cwd=' + os.getcwd())\n\
         print('uid=' + str(os.getuid()))\n\
         print('argv=' + repr(sys.argv))",
    );
    let request = CgiRequest {
        method: "GET".into(),
        request_uri: "/cgi-bin/env.py/x?a+b%20c".into(),
        script_name: "/cgi-bin/env.py".into(),
        path_info: "/x".into(),
        query: "a+b%20c".into(),
        script_filename: command.program.clone(),
        document_root: scripts.directory.path().to_path_buf(),
        headers: vec![
            ("Host".into(), "localhost".into()),
            ("Proxy".into(), "http://evil.example/".into()),
        ],
        client_address: "127.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!()),
        server_address: "127.0.0.1:8000".parse().unwrap_or_else(|_| unreachable!()),
        server_name: "localhost".into(),
        server_protocol: "HTTP/1.0".into(),
        server_software: "CGIHTTP/0.6".into(),
        authenticated_user: None,
    };
    command.env = build_environment(&request, &EnvironmentPolicy::default());
    command.args = crate::query_arguments(&request.query);
    let run = execute(&command);
    run.outcome();
    let text = run.body_text();
    let lines: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    assert_eq!(lines.get("GATEWAY_INTERFACE"), Some(&"CGI/1.1"));
    assert_eq!(lines.get("PATH_INFO"), Some(&"/x"));
    assert_eq!(lines.get("QUERY_STRING"), Some(&"a+b%20c"));
    assert_eq!(lines.get("HTTP_HOST"), Some(&"localhost"));
    assert_eq!(lines.get("PATH"), Some(&crate::DEFAULT_PATH));
    assert_eq!(lines.get("HTTP_PROXY"), None);
    assert_eq!(lines.get("HOME"), None);
    assert_eq!(lines.get("CARGO"), None);
    // The kernel hands the interpreter the script's path, so Python's argv[0] is the path; the arguments follow.
    assert!(lines
        .get("argv")
        .is_some_and(|argv| argv.ends_with("env.py', 'a', 'b c']")));
    let directory = scripts.directory.path().to_string_lossy().into_owned();
    assert_eq!(lines.get("cwd"), Some(&directory.as_str()));
    let expected_uid = RunAs::Auto
        .resolve()
        .map_or_else(sys::effective_uid, |(uid, _)| uid);
    assert_eq!(lines.get("uid"), Some(&expected_uid.to_string().as_str()));
}

#[test]
fn runs_as_nobody_when_root() {
    let scripts = Scripts::new();
    let command = scripts.sh(
        "id.sh",
        "printf 'Content-Type: text/plain\\n\\n%s %s' \"$(id -u)\" \"$(id -G)\"",
    );
    let run = execute(&command);
    run.outcome();
    if sys::effective_uid() == 0 {
        let (uid, gid) = nobody_ids();
        // Root's supplementary groups are dropped: only nobody's own group is left.
        assert_eq!(run.body_text(), format!("{uid} {gid}"));
    } else {
        assert_eq!(
            run.body_text().split(' ').next(),
            Some(sys::effective_uid().to_string().as_str())
        );
    }
}

#[test]
fn status_and_location() {
    let scripts = Scripts::new();
    let run_status = execute(&scripts.sh(
        "status.sh",
        "printf 'Status: 404 Nothing Here\\nContent-Type: text/plain\\n\\ngone'",
    ));
    run_status.outcome();
    let headers = run_status.headers.clone().unwrap_or_default();
    assert_eq!(
        (headers.status(), headers.reason()),
        (404, Some("Nothing Here"))
    );
    assert_eq!(run_status.body_text(), "gone");

    let run_redirect = execute(&scripts.sh(
        "redirect.sh",
        "printf 'Location: http://example.org/elsewhere\\n\\n'",
    ));
    run_redirect.outcome();
    let headers = run_redirect.headers.clone().unwrap_or_default();
    assert_eq!(headers.status(), 302);
    assert_eq!(
        headers.location(),
        Some(&Location::Client("http://example.org/elsewhere".into()))
    );

    let run_local = run_with(
        &scripts.sh(
            "local.sh",
            "printf 'Location: /index.html\\n\\nignored body'",
        ),
        io::empty(),
        Body::Discard,
    );
    run_local.outcome();
    let headers = run_local.headers.clone().unwrap_or_default();
    assert_eq!(headers.local_redirect(), Some("/index.html"));
    assert!(run_local.body.is_empty());
}

#[test]
fn garbage_output_is_an_error() {
    let scripts = Scripts::new();
    let run = execute(&scripts.sh("garbage.sh", "echo 'this is not a header'; echo; echo body"));
    assert_eq!(run.result, Err(CgiError::MalformedHeader));
    assert_eq!(
        run.result.as_ref().err().map(|error| error.status()),
        Some(502)
    );
    assert!(run.headers.is_none());
    assert!(
        run.body.is_empty(),
        "nothing may be sent for a bad header block"
    );

    let run = run_with(
        &scripts.sh("nothing.sh", "exit 0"),
        io::empty(),
        Body::Forward,
    );
    assert_eq!(run.result, Err(CgiError::IncompleteHeader));

    let run = run_with(
        &scripts.sh("nocgi.sh", "printf 'X-Only: 1\\n\\nbody'"),
        io::empty(),
        Body::Forward,
    );
    assert_eq!(run.result, Err(CgiError::MissingCgiField));
}

#[test]
fn endless_headers_are_cut_off() {
    let scripts = Scripts::new();
    // `yes` prints the same header line forever; the line limit stops it, and the script is killed, not waited out.
    let run = execute(&scripts.sh("endless.sh", "exec yes 'X-Header: y'"));
    assert_eq!(run.result, Err(CgiError::TooManyHeaders));
    let run = execute(&scripts.sh("long.sh", "printf 'X-Long: '; exec tr '\\0' a < /dev/zero"));
    assert_eq!(run.result, Err(CgiError::HeaderTooLarge));
    assert!(run.elapsed < Duration::from_secs(10));
}

#[test]
fn hanging_script_is_killed_with_its_children() {
    let scripts = Scripts::new();
    let mut command = scripts.sh("hang.sh", "echo $$ >&2\nsleep 60 &\necho $! >&2\nsleep 60");
    command.timeout = Some(Duration::from_secs(1));
    let run = execute(&command);
    assert_eq!(run.result, Err(CgiError::Timeout));
    assert_eq!(
        run.result.as_ref().err().map(|error| error.status()),
        Some(504)
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let pids: Vec<u32> = run
        .stderr
        .iter()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    let [script, background] = pids[..] else {
        panic!("no script and background pids in {:?}", run.stderr)
    };
    assert_dead(background);
    // The script itself was reaped: not even a zombie is left under its id. (Only its own id is checked:
    // other tests, here or in another checkout, may be running scripts of the same name.)
    assert_reaped(script);
}

#[test]
fn timeout_after_the_headers_cuts_the_body() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "slow.sh",
        "printf 'Content-Type: text/plain\\n\\nstart'\nsleep 60\necho never",
    );
    command.timeout = Some(Duration::from_secs(1));
    let run = execute(&command);
    let outcome = run.outcome();
    assert!(outcome.timed_out);
    assert_eq!(run.body_text(), "start");
    assert!(outcome.exit_status.is_some_and(|status| !status.success()));
    assert_reaped(outcome.pid);
}

#[test]
fn crashing_scripts() {
    let scripts = Scripts::new();
    // Killed by a signal before any output.
    let run = execute(&scripts.sh("segv.sh", "kill -SEGV $$"));
    assert_eq!(run.result, Err(CgiError::IncompleteHeader));

    // A Python exception: the traceback goes to the log.
    let run = run_with(
        &scripts.python("raise.py", "raise RuntimeError('boom')"),
        io::empty(),
        Body::Forward,
    );
    assert_eq!(run.result, Err(CgiError::IncompleteHeader));
    assert!(
        run.stderr
            .iter()
            .any(|line| line.contains("RuntimeError: boom")),
        "{:?}",
        run.stderr
    );

    // Crashing in the middle of the body: what was sent stays sent, the exit status tells.
    let run = run_with(
        &scripts.sh(
            "half.sh",
            "printf 'Content-Type: text/plain\\n\\nhalf'\nkill -KILL $$",
        ),
        io::empty(),
        Body::Forward,
    );
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "half");
    assert!(outcome.exit_status.is_some_and(|status| !status.success()));
    assert_reaped(outcome.pid);
}

#[test]
fn script_closing_stdout_early() {
    let scripts = Scripts::new();
    let run = execute(&scripts.sh(
        "close.sh",
        "printf 'Content-Type: text/plain\\n\\npartial'\nexec 1>&-\nsleep 0.3\necho late >&2",
    ));
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "partial");
    assert!(outcome.exit_status.is_some_and(|status| status.success()));
    assert_eq!(run.stderr, ["late"]);
    assert!(
        run.elapsed >= Duration::from_millis(300),
        "waited for the exit"
    );
    assert_reaped(outcome.pid);

    let run = execute(&scripts.sh("silent.sh", "exec 1>&-\nsleep 0.1"));
    assert_eq!(run.result, Err(CgiError::IncompleteHeader));
}

/// A request body of `length` bytes, made up as it is read, so the test never holds it whole.
struct Pattern {
    length: u64,
    position: u64,
}

fn pattern_byte(position: u64) -> u8 {
    (position % 251) as u8
}

impl Read for Pattern {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = (self.length - self.position).min(buffer.len() as u64) as usize;
        for slot in &mut buffer[..count] {
            *slot = pattern_byte(self.position);
            self.position += 1;
        }
        Ok(count)
    }
}

/// Checks that what is written follows [`Pattern`], keeping only a count.
#[derive(Default)]
struct PatternCheck {
    position: u64,
    mismatches: u64,
}

impl Write for PatternCheck {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        for &byte in buffer {
            if byte != pattern_byte(self.position) {
                self.mismatches += 1;
            }
            self.position += 1;
        }
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// Mirrors test_httpservers: test_post (the body reaches the script's stdin), at a size that must be streamed.
#[test]
fn test_post() {
    let scripts = Scripts::new();
    let command = scripts.sh(
        "cat.sh",
        "printf 'Content-Type: application/octet-stream\\n\\n'\nexec cat",
    );
    let length = 32 * 1024 * 1024 + 17;
    let mut check = PatternCheck::default();
    let result = command.run(
        Pattern {
            length,
            position: 0,
        },
        &mut check,
        |_, _| Ok(Body::Forward),
        |_| {},
    );
    let outcome = result.unwrap_or_else(|error| panic!("cat failed: {error}"));
    assert_eq!(outcome.request_bytes, length);
    assert_eq!(outcome.body_bytes, length);
    assert_eq!((check.position, check.mismatches), (length, 0));

    // Python's own test: a form posted to a Python script, read by Content-Length.
    let mut command = scripts.python(
        "post.py",
        "import os, sys, urllib.parse\n\
         length = int(os.environ['CONTENT_LENGTH'])\n\
         form = urllib.parse.parse_qs(sys.stdin.read(length))\n\
         print('Content-type: text/html\\n')\n\
         print('%s, %s, %s' % (form['spam'][0], form['eggs'][0], form['bacon'][0]))",
    );
    let form = b"spam=1&eggs=python&bacon=123456";
    command.env = vec![("CONTENT_LENGTH".into(), form.len().to_string().into())];
    let run = run_with(&command, &form[..], Body::Forward);
    run.outcome();
    assert_eq!(run.body_text(), "1, python, 123456\n");
}

#[test]
fn script_that_ignores_its_input() {
    let scripts = Scripts::new();
    let command = scripts.sh("ignore.sh", "printf 'Content-Type: text/plain\\n\\nok'");
    let run = run_with(
        &command,
        Pattern {
            length: 8 * 1024 * 1024,
            position: 0,
        },
        Body::Forward,
    );
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "ok");
    assert!(outcome.request_bytes < 8 * 1024 * 1024);
}

#[test]
fn stderr_lines_are_logged() {
    let scripts = Scripts::new();
    let run = execute(&scripts.sh(
        "stderr.sh",
        "echo one >&2\nprintf 'two\\r\\nthree' >&2\nprintf 'Content-Type: text/plain\\n\\n'",
    ));
    run.outcome();
    assert_eq!(run.stderr, ["one", "two", "three"]);

    let run = execute(&scripts.sh(
        "flood.sh",
        "head -c 10000 /dev/zero | tr '\\0' e >&2\nprintf 'Content-Type: text/plain\\n\\n'",
    ));
    run.outcome();
    let lengths: Vec<usize> = run.stderr.iter().map(String::len).collect();
    assert_eq!(lengths, [4096, 4096, 1808]);
}

#[test]
fn nph_output_passes_untouched() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "nph-raw.sh",
        "printf 'HTTP/1.0 299 Odd\\r\\nX: y\\r\\n\\r\\nnot a header block'",
    );
    command.nph = crate::is_nph("nph-raw.sh");
    let run = execute(&command);
    let outcome = run.outcome();
    assert!(run.headers.is_none());
    assert_eq!(
        run.body_text(),
        "HTTP/1.0 299 Odd\r\nX: y\r\n\r\nnot a header block"
    );
    assert_eq!(outcome.body_bytes, run.body.len() as u64);
}

/// An output whose client went away after `limit` bytes.
struct Closing {
    written: usize,
    limit: usize,
}

impl Write for Closing {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        if self.written >= self.limit {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let count = buffer.len().min(self.limit - self.written);
        self.written += count;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn client_going_away_stops_the_script() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "yes.sh",
        "printf 'Content-Type: text/plain\\n\\n'\nexec yes",
    );
    command.timeout = Some(Duration::from_secs(60));
    let mut output = Closing {
        written: 0,
        limit: 100_000,
    };
    let started = Instant::now();
    let result = command.run(io::empty(), &mut output, |_, _| Ok(Body::Forward), |_| {});
    assert_eq!(result, Err(CgiError::Write(io::ErrorKind::BrokenPipe)));
    assert!(started.elapsed() < Duration::from_secs(10));

    // Failing to write the status line counts the same.
    let result = command.run(
        io::empty(),
        &mut Vec::new(),
        |_, _| Err(io::ErrorKind::ConnectionReset.into()),
        |_| {},
    );
    assert_eq!(result, Err(CgiError::Write(io::ErrorKind::ConnectionReset)));
}

#[test]
fn spawn_failures() {
    let scripts = Scripts::new();
    let missing = ScriptCommand::new(scripts.directory.path().join("missing.sh"));
    assert_eq!(
        execute(&missing).result,
        Err(CgiError::Spawn(io::ErrorKind::NotFound))
    );
    let path = scripts.add("plain.sh", "#!/bin/sh\necho hi\n");
    set_mode(&path, 0o644);
    assert_eq!(
        execute(&ScriptCommand::new(&path)).result,
        Err(CgiError::Spawn(io::ErrorKind::PermissionDenied))
    );
    assert_eq!(
        CgiError::Spawn(io::ErrorKind::PermissionDenied).status(),
        500
    );
}

#[test]
fn relative_program_paths_are_not_looked_up_in_path() {
    let mut command = ScriptCommand::new("sh");
    command.run_as = RunAs::CurrentUser;
    // `sh` relative to the test's working directory does not exist, so nothing from PATH may run.
    assert_eq!(
        execute(&command).result,
        Err(CgiError::Spawn(io::ErrorKind::NotFound))
    );
}

#[test]
fn checks_on_the_script_file() {
    let scripts = Scripts::new();
    let executable = scripts.add("ok.sh", "#!/bin/sh\n");
    let plain = scripts.add("plain.sh", "#!/bin/sh\n");
    set_mode(&plain, 0o644);
    let cases = [
        (executable, Ok(())),
        (plain, Err(ScriptFileError::NotExecutable)),
        (
            scripts.directory.path().to_path_buf(),
            Err(ScriptFileError::NotAFile),
        ),
        (
            scripts.directory.path().join("nothere.sh"),
            Err(ScriptFileError::Missing),
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(check_script_file(&path), expected, "{path:?}");
    }
    assert_eq!(ScriptFileError::Missing.status(), 404);
    assert_eq!(
        ScriptFileError::Missing.message("/cgi-bin/nothere.sh"),
        "No such CGI script ('/cgi-bin/nothere.sh')"
    );
    assert_eq!(ScriptFileError::NotExecutable.status(), 403);
    assert_eq!(
        ScriptFileError::NotExecutable.message("/cgi-bin/x"),
        "CGI script is not executable ('/cgi-bin/x')"
    );
}

#[test]
fn passwd_lookup() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                  # a comment\n\
                  broken\n\
                  nobody:x:65534:65533:nobody:/nonexistent:/usr/sbin/nologin\n\
                  odd:x:notanumber:1::/:\n";
    assert_eq!(passwd_user(passwd, "nobody"), Some((65534, 65533)));
    assert_eq!(passwd_user(passwd, "root"), Some((0, 0)));
    assert_eq!(passwd_user(passwd, "odd"), None);
    assert_eq!(passwd_user(passwd, "missing"), None);
    assert_eq!(passwd_user("", "nobody"), None);
    let (uid, _) = nobody_ids();
    assert_ne!(uid, 0);
}

#[test]
fn escaped_child_holding_the_pipes_does_not_hang_the_server() {
    let scripts = Scripts::new();
    // `setsid` leaves the script's process group and session, and keeps stdout and stderr open:
    // the supervisor still finds it below itself, and kills it a grace after the script exited.
    let mut command = scripts.sh(
        "escape.sh",
        "setsid sleep 30 &\necho $! >&2\nprintf 'Content-Type: text/plain\\n\\ndone'",
    );
    command.timeout = Some(Duration::from_secs(20));
    let run = execute(&command);
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "done");
    assert!(outcome.lingered, "the escaped child held the output open");
    assert!(!outcome.timed_out);
    assert!(outcome.exit_status.is_some_and(|status| status.success()));
    let escaped: u32 = run
        .stderr
        .first()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {:?}", run.stderr));
    // Killed and reaped by the supervisor: no longer running, and nobody's zombie.
    assert_eq!(process_state(escaped), None, "pid {escaped} left behind");
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

// A script that exits at once but leaves children in new sessions and double-forked ones, detached from its pipes:
// the run ends with the script, and the supervisor kills and reaps them all.
#[test]
fn children_that_left_the_session_die_with_the_run() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "daemons.sh",
        "setsid sleep 30 </dev/null >/dev/null 2>&1 &\necho $! >&2\n\
         (sleep 31 </dev/null >/dev/null 2>&1 & echo $! >&2)\n\
         printf 'Content-Type: text/plain\\n\\nbye'",
    );
    command.timeout = Some(Duration::from_secs(20));
    let run = execute(&command);
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "bye");
    assert!(
        outcome.lingered,
        "two processes outlived the script's output"
    );
    let pids: Vec<u32> = run
        .stderr
        .iter()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{:?}", run.stderr);
    for pid in pids {
        assert_eq!(process_state(pid), None, "pid {pid} left behind");
    }
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn discarded_body_still_lets_the_script_finish() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "big.sh",
        "printf 'Content-Type: application/octet-stream\\n\\n'\nhead -c 10000000 /dev/zero\necho done >&2",
    );
    command.timeout = None;
    let run = run_with(&command, io::empty(), Body::Discard);
    let outcome = run.outcome();
    assert!(run.body.is_empty());
    assert_eq!(outcome.body_bytes, 0);
    assert!(outcome.exit_status.is_some_and(|status| status.success()));
    assert_eq!(run.stderr, ["done"]);
    assert_reaped(outcome.pid);
}

#[test]
fn busy_script_file_is_retried() {
    let scripts = Scripts::new();
    let command = scripts.sh("busy.sh", "printf 'Content-Type: text/plain\\n\\nran'");
    // Held open for writing the whole time: every attempt finds it busy.
    let held = fs::OpenOptions::new()
        .append(true)
        .open(&command.program)
        .unwrap_or_else(|error| panic!("open: {error}"));
    assert_eq!(
        execute(&command).result,
        Err(CgiError::Spawn(io::ErrorKind::ExecutableFileBusy))
    );
    // Closed soon after the first attempt: a retry runs it.
    let run = thread::scope(|scope| {
        scope.spawn(move || {
            thread::sleep(Duration::from_millis(15));
            drop(held);
        });
        execute(&command)
    });
    assert_eq!(run.body_text(), "ran");
}

#[test]
fn leftover_child_holding_stderr_does_not_hold_the_request() {
    let scripts = Scripts::new();
    // The script exits at once, but the `sleep` it leaves behind keeps stderr open.
    let mut command = scripts.sh(
        "leftover.sh",
        "sleep 30 >/dev/null &\necho $! >&2\nprintf 'Content-Type: text/plain\\n\\nbye'",
    );
    command.timeout = None;
    let run = execute(&command);
    let outcome = run.outcome();
    assert_eq!(run.body_text(), "bye");
    assert!(!outcome.timed_out);
    assert!(outcome.lingered);
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert_reaped(outcome.pid);
    let leftover: u32 = run
        .stderr
        .first()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {:?}", run.stderr));
    assert_eq!(process_state(leftover), None, "pid {leftover} left behind");
}

/// A request body that is not `Send` (as basehttp's `rfile` is not): it must be read on the calling thread.
struct LocalBody {
    data: std::rc::Rc<std::cell::RefCell<io::Cursor<Vec<u8>>>>,
}

impl Read for LocalBody {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.data.borrow_mut().read(buffer)
    }
}

// Not in Python (RFC 3875 §4.2): the script prints far more than a pipe holds before it reads its input,
// and the body comes from a reader bound to the calling thread; neither side may wait for the other.
#[test]
fn script_printing_before_reading_a_body_read_on_the_calling_thread() {
    let scripts = Scripts::new();
    let command = scripts.python(
        "first.py",
        "import sys\n\
         sys.stdout.write('Content-Type: text/plain\\n\\n' + 'a' * (1024 * 1024))\n\
         sys.stdout.flush()\n\
         print(' read %d' % len(sys.stdin.buffer.read()))",
    );
    let body = LocalBody {
        data: std::rc::Rc::new(std::cell::RefCell::new(io::Cursor::new(vec![
            b'x';
            1024 * 1024
        ]))),
    };
    let run = run_with(&command, body, Body::Forward);
    let outcome = run.outcome();
    assert_eq!(outcome.request_bytes, 1024 * 1024);
    assert_eq!(run.body.len(), 1024 * 1024 + " read 1048576\n".len());
    assert!(run.body_text().ends_with("a read 1048576\n"));
}

/// A request body that yields `data`, then fails with `error`, as a connection cut mid-body does.
struct CutBody {
    data: &'static [u8],
    error: io::ErrorKind,
}

impl Read for CutBody {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(self.error.into());
        }
        let count = self.data.len().min(buffer.len());
        buffer[..count].copy_from_slice(&self.data[..count]);
        self.data = &self.data[count..];
        Ok(count)
    }
}

#[test]
fn request_body_cut_short_stops_the_script() {
    let scripts = Scripts::new();
    let mut command = scripts.sh(
        "slurp.sh",
        "cat > /dev/null\nprintf 'Content-Type: text/plain\\n\\nread it all'\nsleep 30",
    );
    command.timeout = Some(Duration::from_secs(60));
    for error in [io::ErrorKind::UnexpectedEof, io::ErrorKind::WouldBlock] {
        let run = run_with(
            &command,
            CutBody {
                data: b"part of a body",
                error,
            },
            Body::Forward,
        );
        assert_eq!(run.result, Err(CgiError::RequestBody(error)));
        assert!(run.body.is_empty(), "{:?}", run.body_text());
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    }
}

#[test]
fn script_outliving_its_output_is_killed_after_a_grace() {
    let scripts = Scripts::new();
    for (name, body) in [
        // Closes its stdout and goes on.
        (
            "detach.sh",
            "printf 'Content-Type: text/plain\\n\\nall of it'\nexec 1>&-\nsleep 30",
        ),
        // Exits, leaving a child that holds its stdout.
        (
            "orphan.sh",
            "printf 'Content-Type: text/plain\\n\\nall of it'\nsleep 30 &\nexit 0",
        ),
    ] {
        let mut command = scripts.sh(name, body);
        command.timeout = Some(Duration::from_secs(60));
        let run = execute(&command);
        let outcome = run.outcome();
        assert_eq!(run.body_text(), "all of it", "{name}");
        assert!(outcome.lingered, "{name}");
        assert!(!outcome.timed_out, "{name}");
        assert!(
            run.elapsed >= GRACE_AFTER_OUTPUT && run.elapsed < Duration::from_secs(5),
            "{name}: {:?}",
            run.elapsed
        );
        assert_reaped(outcome.pid);
    }
    // A script that ends with its output is no such case, and is not held for the grace.
    let run = execute(&scripts.sh("plain.sh", "printf 'Content-Type: text/plain\\n\\ndone'"));
    assert!(!run.outcome().lingered);
    assert!(run.elapsed < GRACE_AFTER_OUTPUT, "{:?}", run.elapsed);
}

/// An exchange whose client has left: nothing to read, writes accepted, `client_gone` true.
struct Abandoned {
    output: Vec<u8>,
}

impl Exchange for Abandoned {
    type Output = Vec<u8>;

    fn read_body(&mut self, _: &mut [u8], _: Option<Instant>) -> io::Result<usize> {
        Ok(0)
    }

    fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    fn client_gone(&mut self) -> bool {
        true
    }
}

#[test]
fn client_gone_stops_a_silent_script() {
    let scripts = Scripts::new();
    let mut command = scripts.sh("silent.sh", "sleep 30 &\nsleep 30");
    command.timeout = Some(Duration::from_secs(60));
    let started = Instant::now();
    let (result, exit_status) = command.run_exchange(
        &mut Abandoned { output: Vec::new() },
        |_, _| Ok(Body::Forward),
        |_| {},
    );
    assert_eq!(result, Err(CgiError::ClientGone));
    // Our own kill is not reported as the script's failure.
    assert_eq!(exit_status, None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
