//! What the socket tests of simplehttp share: a handler that does not log, served on a free port until dropped.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::thread;
use std::time::Duration;

use basehttp::{HttpRequest, HttpServer, ThreadingHttpServer};
use simplehttp::SimpleHttpRequestHandler;

/// A quiet handler, so test output stays readable: the file handler as its base, with only `log_message` changed.
pub struct Quiet(pub SimpleHttpRequestHandler);

impl basehttp::BaseHttpRequestHandler for Quiet {
    fn base(&self) -> Option<&dyn basehttp::BaseHttpRequestHandler> {
        Some(&self.0)
    }
    fn log_message(&self, _: &HttpRequest<'_>, _: std::fmt::Arguments<'_>) {}
}

/// A server in this process on 127.0.0.1 and a free port, serving a quiet handler; shut down when dropped.
pub struct Serving {
    pub port: u16,
    shutdown: socketserver::ShutdownHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `handler`, without its log, from a threading server on a free port.
pub fn serve_quietly(handler: SimpleHttpRequestHandler) -> Serving {
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        Quiet(handler),
        ThreadingHttpServer::default_config(),
    )
    .unwrap();
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let thread = thread::spawn(move || {
        server.serve_forever(Duration::from_millis(20)).unwrap();
    });
    Serving {
        port,
        shutdown,
        thread: Some(thread),
    }
}

/// The `simplehttp` command running as a child process; killed when dropped.
#[cfg(feature = "cli")]
pub struct Command {
    pub child: std::process::Child,
    pub port: u16,
}

#[cfg(feature = "cli")]
impl Drop for Command {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "cli")]
impl Command {
    /// Starts `simplehttp 0 -b 127.0.0.1 ARGUMENTS -d DIRECTORY` and reads its port from the banner.
    pub fn start(
        directory: &std::path::Path,
        arguments: &[&str],
        stderr: std::process::Stdio,
    ) -> Command {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_simplehttp"))
            .args(["0", "-b", "127.0.0.1"])
            .args(arguments)
            .arg("-d")
            .arg(directory)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        let port = banner
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
        // The rest of stdout is not read; keep the pipe open so the server never gets EPIPE on it.
        std::mem::forget(stdout);
        Command { child, port }
    }

    /// How many threads the server process has now.
    pub fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|count| count.trim().parse().ok())
            .unwrap()
    }
}
