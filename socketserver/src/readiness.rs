//! The readiness mode's machinery: connections parked in one epoll set, served by whichever worker sees them ready.
//!
//! Each connection's `StreamRequest` lives in a map keyed by a token that is never reused, so a descriptor number
//! recycled by the kernel cannot be mistaken for a closed connection. A worker takes the request out of the map while
//! it serves it, so no lock is held during handler work, and puts it back before re-arming the one-shot registration,
//! so the next report always finds it. Every `epoll_ctl` on a parked connection happens under the map's lock or by the
//! worker that holds the connection, so it never touches a descriptor that has been closed.
//!
//! The workers are elastic: a watcher thread starts another worker when none is waiting on the set and one has been held
//! by a single connection for longer than [`HELD_TOO_LONG`] (a slow download, a handler that blocks), so a connection
//! that is ready never waits behind one that is stuck. Workers above the configured number leave after [`SPARE_WORKER_LINGER`]
//! without work. Each worker takes one ready connection per `epoll_wait`, so none is kept waiting behind a busy worker.

use std::collections::HashMap;
use std::io::Write;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream as WakePipe;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
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

/// How long one connection may hold a worker, while no other worker waits on the set, before another worker is started.
///
/// Short enough that a fresh request is not noticeably delayed by stuck ones, long enough that requests served from memory
/// or the page cache (tens of microseconds) never trigger it, so a busy server keeps about one worker per core.
pub(crate) const HELD_TOO_LONG: Duration = Duration::from_millis(10);

/// How long a worker above the configured number waits without work before it leaves.
pub(crate) const SPARE_WORKER_LINGER: Duration = Duration::from_secs(5);

/// One registered connection.
struct Entry {
    /// `None` while a worker serves it.
    request: Option<StreamRequest>,
    fd: RawFd,
    parked_since: Instant,
    /// From `Ready::ParkUntil`: closed once this passes while parked.
    deadline: Option<Instant>,
}

struct Connections {
    entries: HashMap<EpollToken, Entry>,
    /// Set by `stop`: no connection parks again.
    stopping: bool,
}

/// What the watcher knows of one worker.
#[derive(Debug, Default)]
struct WorkerState {
    /// Microseconds from [`Readiness::epoch`] to when the worker took its current connection, plus one; zero while it waits.
    busy_since: AtomicU64,
}

/// The workers and the watcher: who they are, and whether new ones may start.
#[derive(Default)]
struct Workers {
    states: Vec<Arc<WorkerState>>,
    threads: Vec<JoinHandle<()>>,
    /// Set by `stop`: no worker starts after it, so `join` sees them all.
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
    /// The configured number of workers, which never leave.
    base_workers: usize,
    /// Workers started and not yet gone.
    total_workers: AtomicUsize,
    /// Workers waiting on the set (started ones count as waiting until they take a connection).
    waiting_workers: AtomicUsize,
    workers: Mutex<Workers>,
    /// Wakes the watcher when the last waiting worker takes a connection, and on `stop`.
    watcher_wakeup: Condvar,
    /// Set while the watcher sleeps until no worker waits, so workers call it only then, not on every busy turn.
    watcher_sleeping: AtomicBool,
    /// The origin of `WorkerState::busy_since`.
    epoch: Instant,
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
    /// Creates the epoll set, starts `workers` threads (at least one) waiting on it, and the watcher that adds more when they are held.
    pub(crate) fn start(
        handler: Arc<dyn StreamRequestHandler>,
        hooks: Arc<dyn ServerHooks>,
        workers: usize,
    ) -> std::io::Result<Arc<Readiness>> {
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
            base_workers: workers.max(1),
            total_workers: AtomicUsize::new(0),
            waiting_workers: AtomicUsize::new(0),
            workers: Mutex::new(Workers::default()),
            watcher_wakeup: Condvar::new(),
            watcher_sleeping: AtomicBool::new(false),
            epoch: Instant::now(),
            stop_writer,
            _stop_reader: stop_reader,
        });
        for _ in 0..readiness.base_workers {
            readiness.start_worker()?;
        }
        let watcher = readiness.clone();
        let thread = thread::Builder::new()
            .name("ready-watcher".into())
            .spawn(move || watcher.watch())?;
        readiness.lock_workers().threads.push(thread);
        Ok(readiness)
    }

    fn lock_workers(&self) -> MutexGuard<'_, Workers> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts one more worker, unless `stop` has begun; its thread joins the list that [`Readiness::join`] waits for.
    fn start_worker(self: &Arc<Self>) -> std::io::Result<()> {
        let mut workers = self.lock_workers();
        if workers.stopping {
            return Ok(());
        }
        // Workers that left are joined now, so the list stays as long as the workers alive.
        let (gone, alive): (Vec<_>, Vec<_>) = std::mem::take(&mut workers.threads)
            .into_iter()
            .partition(JoinHandle::is_finished);
        workers.threads = alive;
        for thread in gone {
            let _ = thread.join();
        }
        let state = Arc::new(WorkerState::default());
        let readiness = self.clone();
        let worker_state = state.clone();
        self.total_workers.fetch_add(1, Ordering::SeqCst);
        self.waiting_workers.fetch_add(1, Ordering::SeqCst);
        let spawned = thread::Builder::new()
            .name("ready-worker".into())
            .spawn(move || readiness.work(&worker_state));
        match spawned {
            Ok(thread) => {
                workers.states.push(state);
                workers.threads.push(thread);
                Ok(())
            }
            Err(error) => {
                self.total_workers.fetch_sub(1, Ordering::SeqCst);
                self.waiting_workers.fetch_sub(1, Ordering::SeqCst);
                Err(error)
            }
        }
    }

    /// The watcher's loop: while no worker waits on the set, look every [`HELD_TOO_LONG`] for one held that long, and start another.
    fn watch(self: Arc<Self>) {
        let mut workers = self.lock_workers();
        loop {
            // Sleep until the last waiting worker takes a connection (or `stop`).
            self.watcher_sleeping.store(true, Ordering::SeqCst);
            while !workers.stopping && self.waiting_workers.load(Ordering::SeqCst) > 0 {
                workers = self
                    .watcher_wakeup
                    .wait(workers)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            self.watcher_sleeping.store(false, Ordering::SeqCst);
            if workers.stopping {
                return;
            }
            // Then give the busy workers their chance to finish before adding one.
            workers = self
                .watcher_wakeup
                .wait_timeout(workers, HELD_TOO_LONG)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if workers.stopping {
                return;
            }
            let now = self.micros_since_epoch();
            let limit = HELD_TOO_LONG.as_micros() as u64;
            let held = workers.states.iter().any(|state| {
                let since = state.busy_since.load(Ordering::SeqCst);
                since != 0 && now.saturating_sub(since - 1) >= limit
            });
            if held && self.waiting_workers.load(Ordering::SeqCst) == 0 {
                drop(workers);
                if self.start_worker().is_err() {
                    // No thread to be had: the held connections free a worker in time, at worst at their write timeout.
                    thread::sleep(HELD_TOO_LONG);
                }
                workers = self.lock_workers();
            }
        }
    }

    fn micros_since_epoch(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    /// A worker above the configured number leaves, unless that would leave fewer than configured
    /// or no worker waiting on the set; true when it may go.
    ///
    /// The last waiting worker stays even when it is a spare: the others are held, and with none waiting,
    /// a new connection would wait for one of them to come back (the watcher only wakes when a worker *takes* a connection).
    fn retire(&self, state: &Arc<WorkerState>) -> bool {
        let mut workers = self.lock_workers();
        let total = self.total_workers.load(Ordering::SeqCst);
        if total <= self.base_workers || workers.stopping {
            return false;
        }
        // Atomic against a worker taking a connection meanwhile: whichever of the two moves the count first, one worker stays waiting.
        let left =
            self.waiting_workers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |waiting| {
                    (waiting >= 2).then(|| waiting - 1)
                });
        if left.is_err() {
            return false;
        }
        self.total_workers.store(total - 1, Ordering::SeqCst);
        workers.states.retain(|other| !Arc::ptr_eq(other, state));
        true
    }

    /// Waits for every worker and the watcher to end, after `stop`.
    pub(crate) fn join(&self) {
        let threads = std::mem::take(&mut self.lock_workers().threads);
        for thread in threads {
            let _ = thread.join();
        }
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
                deadline: None,
            },
        );
    }

    /// A worker's loop: wait on the shared set, serve each ready connection, until `stop`, or until it is a spare worker without work.
    fn work(&self, state: &Arc<WorkerState>) {
        // One connection per wait: any other ready one stays in the set for a waiting worker.
        let mut tokens = [0; 1];
        loop {
            let spare = self.total_workers.load(Ordering::SeqCst) > self.base_workers;
            let timeout = spare.then_some(SPARE_WORKER_LINGER);
            let count = match self.epoll.wait(&mut tokens, timeout) {
                Ok(0) if spare => {
                    if self.retire(state) {
                        return;
                    }
                    continue;
                }
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
                state
                    .busy_since
                    .store(self.micros_since_epoch(), Ordering::SeqCst);
                if self.waiting_workers.fetch_sub(1, Ordering::SeqCst) == 1
                    && self.watcher_sleeping.load(Ordering::SeqCst)
                {
                    // The last waiting worker is now busy: the watcher keeps an eye on how long.
                    // (Awake, it looks again within HELD_TOO_LONG anyway, so only a sleeping watcher is called.)
                    let _workers = self.lock_workers();
                    self.watcher_wakeup.notify_one();
                }
                self.serve(token);
                self.waiting_workers.fetch_add(1, Ordering::SeqCst);
                state.busy_since.store(0, Ordering::SeqCst);
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
        let park = match outcome {
            Ok(Ready::Park) => Some(None),
            Ok(Ready::ParkUntil(deadline)) => Some(Some(deadline)),
            _ => None,
        };
        if let Some(deadline) = park {
            let mut connections = self.lock();
            if !connections.stopping {
                if let Some(entry) = connections.entries.get_mut(&token) {
                    // Re-arm under the lock, after the request is back: the next report finds it, and no sweep closes it meanwhile.
                    if self.epoll.rearm_oneshot(entry.fd, token).is_ok() {
                        entry.request = Some(request);
                        entry.parked_since = Instant::now();
                        entry.deadline = deadline;
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

    /// Closes parked connections that have been silent longer than the handler's `idle_timeout`, or past their `ParkUntil` deadline.
    pub(crate) fn close_idle(&self) {
        let now = Instant::now();
        let expired: Vec<StreamRequest> = {
            let mut connections = self.lock();
            let tokens: Vec<EpollToken> = connections
                .entries
                .iter()
                .filter(|(_, entry)| {
                    entry.request.is_some()
                        && (self
                            .idle_timeout
                            .is_some_and(|limit| now.duration_since(entry.parked_since) >= limit)
                            || entry.deadline.is_some_and(|deadline| now >= deadline))
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
        self.lock_workers().stopping = true;
        self.watcher_wakeup.notify_all();
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
