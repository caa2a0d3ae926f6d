//! Starting one of our servers with extra arguments, pinned to a core, and stopping it however it behaves.

use std::fs::File;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::address;
use crate::bench::servers::watch_banner;

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    pub pid: u32,
    pub port: u16,
    /// The command line, as shown in reports.
    pub command: String,
}

impl ServerProcess {
    /// Starts `program 0 -b 127.0.0.1 -d <www> <extra>...` (under `taskset -c core` when a core is given),
    /// with its log (stderr) going to `log`, and waits until its port answers.
    pub fn start(
        program: &Path,
        www: &Path,
        extra: &[String],
        core: Option<u32>,
        log: &Path,
    ) -> Result<ServerProcess, String> {
        let mut arguments: Vec<String> = vec![
            "0".into(),
            "-b".into(),
            "127.0.0.1".into(),
            "-d".into(),
            www.to_string_lossy().into_owned(),
        ];
        arguments.extend(extra.iter().cloned());
        let mut command = match core {
            Some(core) => {
                // taskset execs the server, so the child's pid is the server's.
                let mut command = Command::new("taskset");
                command.args(["-c", &core.to_string()]).arg(program);
                command
            }
            None => Command::new(program),
        };
        let log_file = File::create(log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        command
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        // The temporary directory's name changes every run; the report shows its place instead.
        let www_shown = "<tmp>/www".to_owned();
        let shown_arguments: Vec<&String> = arguments
            .iter()
            .enumerate()
            .map(|(index, argument)| if index == 4 { &www_shown } else { argument })
            .collect();
        let shown = format!(
            "{} {}",
            program
                .file_name()
                .map_or_else(|| program.to_string_lossy(), |name| name.to_string_lossy()),
            shown_arguments
                .iter()
                .map(|argument| argument.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start `{shown}`: {error}"))?;
        let receiver = watch_banner(child.stdout.take().expect("stdout is piped"));
        let pid = child.id();
        let mut server = ServerProcess {
            child: Some(child),
            pid,
            port: 0,
            command: shown,
        };
        let Ok(port) = receiver.recv_timeout(Duration::from_secs(10)) else {
            return Err(format!(
                "`{}` printed no `Serving HTTP on ... port N` line within 10 s; see {}",
                server.command,
                log.display()
            ));
        };
        server.port = port;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address(port), Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline || server.exit_status().is_some() {
                return Err(format!(
                    "`{}` does not answer on port {port}; see {}",
                    server.command,
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// How the server ended, if it has.
    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(format!("unknown ({error})")),
        }
    }

    /// SIGINT, then SIGTERM, then SIGKILL, with a grace after each; returns how long the server took to leave.
    pub fn stop(&mut self) -> Option<Duration> {
        let mut child = self.child.take()?;
        let started = Instant::now();
        for (signal, grace) in [("-INT", 5000), ("-TERM", 2000)] {
            let _ = Command::new("kill")
                .args([signal, &self.pid.to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_millis(grace);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(started.elapsed());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        eprintln!(
            "xtask: `{}` outlived SIGINT and SIGTERM; killing it",
            self.command
        );
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
