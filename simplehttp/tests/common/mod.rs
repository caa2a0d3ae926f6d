//! What the socket tests of simplehttp share: a handler that does not log, served on a free port until dropped.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::thread;
use std::time::Duration;

use basehttp::{HttpRequest, HttpServer, ThreadingHttpServer};
use simplehttp::SimpleHttpRequestHandler;

/// A quiet handler, so test output stays readable.
pub struct Quiet(pub SimpleHttpRequestHandler);

impl simplehttp::SimpleHooks for Quiet {
    fn directory(&self) -> &std::path::Path {
        &self.0.directory
    }
}

impl basehttp::BaseHttpRequestHandler for Quiet {
    fn server_version(&self) -> &str {
        basehttp::BaseHttpRequestHandler::server_version(&self.0)
    }
    fn protocol_version(&self) -> &str {
        basehttp::BaseHttpRequestHandler::protocol_version(&self.0)
    }
    fn do_get(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        simplehttp::serve_files(self, req)
    }
    fn do_head(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        simplehttp::serve_files(self, req)
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
