//! Python's overridable `BaseServer` methods, as a trait with Python's defaults.

use std::io::Write;

use crate::address::Address;
use crate::handler::HandlerError;

/// The server methods Python code overrides in a subclass: `verify_request`, `handle_error`, `service_actions`, `handle_timeout`, `shutdown_request`.
///
/// Install one with `BaseServer::set_hooks`; every method has Python's default, so implement only what you change.
/// The hooks may run on worker threads (threading and pool modes) or in a forked child, hence `Send + Sync`.
pub trait ServerHooks: Send + Sync + 'static {
    /// Decides whether to serve a new request (Python's `verify_request`); a refused request is closed at once.
    fn verify_request(&self, client_address: &Address) -> bool {
        let _ = client_address;
        true
    }

    /// Reports a handler's error or panic (Python's `handle_error`); the server goes on serving.
    ///
    /// The default writes Python's report to stderr: 40 dashes, `Exception occurred during processing of request from <address>`, the error, 40 dashes.
    fn handle_error(&self, client_address: &Address, error: &HandlerError) {
        let _ = std::io::stderr()
            .lock()
            .write_all(error_report(client_address, error).as_bytes());
    }

    /// Runs once per turn of `serve_forever`'s loop (Python's `service_actions`).
    fn service_actions(&self) {}

    /// Runs when `handle_request` waited `timeout` without a request (Python's `handle_timeout`).
    fn handle_timeout(&self) {}

    /// Runs just before the server closes a request's socket (Python's `shutdown_request`), served or refused.
    ///
    /// The server shuts the connection down and closes it after this returns, whatever the hook does.
    fn shutdown_request(&self, client_address: &Address) {
        let _ = client_address;
    }
}

/// Python's default server behaviour: every hook as `BaseServer` defines it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHooks;

impl ServerHooks for DefaultHooks {}

/// Python's `handle_error` text for `error` on a request from `client_address`.
pub fn error_report(client_address: &Address, error: &HandlerError) -> String {
    let dashes = "-".repeat(40);
    format!(
        "{dashes}\nException occurred during processing of request from {}\n{error}\n{dashes}\n",
        client_address.python_repr()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_report_has_pythons_shape() {
        let address = Address::Inet("127.0.0.1:5555".parse().unwrap());
        let report = error_report(&address, &HandlerError::Panic("boom".into()));
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines[0], "-".repeat(40));
        assert_eq!(
            lines[1],
            "Exception occurred during processing of request from ('127.0.0.1', 5555)"
        );
        assert_eq!(lines[2], "handler panicked: boom");
        assert_eq!(lines[3], "-".repeat(40));
    }
}
