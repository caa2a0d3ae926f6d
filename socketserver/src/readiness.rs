//! The readiness mode's machinery: connections parked in one epoll set, served by whichever worker sees them ready.
//!
//! Each connection's `StreamRequest` lives in a map keyed by a token that is never reused, so a descriptor number
//! recycled by the kernel cannot be mistaken for a closed connection. A worker takes the request out of the map while
//! it serves it, so no lock is held during handler work, and puts it back before re-arming the one-shot registration,
//! so the next report always finds it. Every `epoll_ctl` on a parked connection happens under the map's lock or by the
//! worker that holds the connection, so it never touches a descriptor that has been closed.

use std::collections::HashMap;
use std::io::Write;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream as WakePipe;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::handler::{
    guarded, new_stream_request, HandlerError, Ready, StreamRequest, StreamRequestHandler,
};
use crate::hooks::ServerHooks;
use crate::stream::Stream;
use crate::sys::{Epoll, EpollToken};

/// The token of the stop pipe, registered level-triggered so that every worker sees it once it is written.
const STOP_TOKEN: EpollToken = EpollToken::MAX;

/// How many ready connections one worker takes per epoll_wait.
const MAX_EVENTS: usize = 32;

/// One registered connection.
struct Entry {
    /// `None` while a worker serves it.
    request: Option<StreamRequest>,
    fd: RawFd,
    parked_since: Instant,
}

struct Connections {
    entries: HashMap<EpollToken, Entry>,
    /// Set by `stop`: no connection parks again.
    stopping: bool,
}

/// The shared epoll set, the parked connections, and what workers need to serve them.
pub(crate) struct Readiness {
    epoll: Epoll,
    handler: Arc<dyn StreamRequestHandler>,
    hooks: Arc<dyn ServerHooks>,
    connections: Mutex<Connections>,
    next_token: AtomicU64,
    idle_timeout: Option<Duration>,
    stop_writer: WakePipe,
    /// Kept open so the stop registration stays valid for the set's whole life.
    _stop_reader: WakePipe,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Readiness")
            .field("connections", &self.lock().entries.len())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Creates the epoll set and starts `workers` threads (at least one) waiting on it.
    pub(crate) fn start(
        handler: Arc<dyn StreamRequestHandler>,
        hooks: Arc<dyn ServerHooks>,
        workers: usize,
    ) -> std::io::Result<(Arc<Readiness>, Vec<JoinHandle<()>>)> {
        let epoll = Epoll::new()?;
        let (stop_reader, stop_writer) = WakePipe::pair()?;
        stop_writer.set_nonblocking(true)?;
        epoll.add_level(stop_reader.as_raw_fd(), STOP_TOKEN)?;
        let idle_timeout = handler.idle_timeout();
        let readiness = Arc::new(Readiness {
            epoll,
            handler,
            hooks,
            connections: Mutex::new(Connections {
                entries: HashMap::new(),
                stopping: false,
            }),
            next_token: AtomicU64::new(0),
            idle_timeout,
            stop_writer,
            _stop_reader: stop_reader,
        });
        let threads = (0..workers.max(1))
            .filter_map(|index| {
                let readiness = readiness.clone();
                thread::Builder::new()
                    .name(format!("socketserver-ready-{index}"))
                    .spawn(move || readiness.work())
                    .ok()
            })
            .collect();
        Ok((readiness, threads))
    }

    fn lock(&self) -> MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many connections are registered, parked or being served.
    pub(crate) fn connections(&self) -> usize {
        self.lock().entries.len()
    }

    /// Parks a freshly accepted connection until it becomes readable.
    pub(crate) fn register(
        &self,
        stream: Stream,
        client_address: Address,
        server_address: &Address,
    ) {
        let request =
            match new_stream_request(&*self.handler, &stream, &client_address, server_address) {
                Ok(request) => request,
                Err(error) => {
                    self.report(&client_address, &HandlerError::Io(error));
                    self.close(stream, &client_address);
                    return;
                }
            };
        let fd = stream.as_raw_fd();
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut connections = self.lock();
        if connections.stopping {
            drop(connections);
            self.close(stream, &client_address);
            return;
        }
        if let Err(error) = self.epoll.add_oneshot(fd, token) {
            drop(connections);
            self.report(&client_address, &HandlerError::Io(error));
            self.close(stream, &client_address);
            return;
        }
        connections.entries.insert(
            token,
            Entry {
                request: Some(request),
                fd,
                parked_since: Instant::now(),
            },
        );
    }

    /// A worker's loop: wait on the shared set, serve each ready connection, until `stop`.
    fn work(&self) {
        let mut tokens = [0; MAX_EVENTS];
        loop {
            let count = match self.epoll.wait(&mut tokens, None) {
                Ok(count) => count,
                Err(_) => {
                    // epoll_wait fails only on a broken set; pause instead of spinning, and leave once stopped.
                    if self.lock().stopping {
                        return;
                    }
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            for &token in &tokens[..count] {
                if token == STOP_TOKEN {
                    return;
                }
                self.serve(token);
            }
        }
    }

    /// Runs the handler's readiness hook on one ready connection, then parks or closes it.
    fn serve(&self, token: EpollToken) {
        let taken = {
            let mut connections = self.lock();
            connections
                .entries
                .get_mut(&token)
                .and_then(|entry| entry.request.take())
        };
        // The idle sweep or `stop` may have closed the connection after its report was queued.
        let Some(mut request) = taken else {
            return;
        };
        let outcome = guarded(|| self.handler.handle_ready(&mut request));
        if outcome.as_ref().is_ok_and(|ready| *ready == Ready::Park) {
            let mut connections = self.lock();
            if !connections.stopping {
                if let Some(entry) = connections.entries.get_mut(&token) {
                    // Re-arm under the lock, after the request is back: the next report finds it, and no sweep closes it meanwhile.
                    if self.epoll.rearm_oneshot(entry.fd, token).is_ok() {
                        entry.request = Some(request);
                        entry.parked_since = Instant::now();
                        return;
                    }
                }
            }
        }
        if let Err(error) = &outcome {
            self.report(&request.client_address, error);
        }
        self.lock().entries.remove(&token);
        self.close_request(request);
    }

    /// Closes parked connections that have been silent longer than the handler's `idle_timeout`.
    pub(crate) fn close_idle(&self) {
        let Some(limit) = self.idle_timeout else {
            return;
        };
        let expired: Vec<StreamRequest> = {
            let mut connections = self.lock();
            let tokens: Vec<EpollToken> = connections
                .entries
                .iter()
                .filter(|(_, entry)| {
                    entry.request.is_some() && entry.parked_since.elapsed() >= limit
                })
                .map(|(&token, _)| token)
                .collect();
            tokens
                .into_iter()
                .filter_map(|token| connections.entries.remove(&token)?.request)
                .collect()
        };
        for request in expired {
            self.close_request(request);
        }
    }

    /// Stops the workers (they finish the connection they hold, then close it) and closes every parked connection.
    pub(crate) fn stop(&self) {
        let parked: Vec<StreamRequest> = {
            let mut connections = self.lock();
            connections.stopping = true;
            connections
                .entries
                .drain()
                .filter_map(|(_, entry)| entry.request)
                .collect()
        };
        // The byte is never read, so every worker's epoll_wait keeps reporting it; a full pipe already holds one.
        let _ = (&self.stop_writer).write(&[1]);
        for request in parked {
            self.close_request(request);
        }
    }

    fn close_request(&self, request: StreamRequest) {
        // Leave the set before the descriptor closes, so a recycled descriptor number starts clean.
        let _ = self.epoll.delete(request.request.as_raw_fd());
        let StreamRequest {
            request: stream,
            client_address,
            ..
        } = request;
        self.close(stream, &client_address);
    }

    /// Python's `shutdown_request`: the hook, then shut the write side; the descriptor closes with the last clone.
    fn close(&self, stream: Stream, client_address: &Address) {
        let hooks = &self.hooks;
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hooks.shutdown_request(client_address)));
        let _ = stream.shutdown(Shutdown::Write);
    }

    fn report(&self, client_address: &Address, error: &HandlerError) {
        let hooks = &self.hooks;
        // A panicking error hook must not take a worker down with it.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            hooks.handle_error(client_address, error)
        }));
    }
}
