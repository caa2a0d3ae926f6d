//! The readiness mode's machinery: connections registered once in one epoll set, served by whichever worker sees them ready.
//!
//! Each connection lives in a map keyed by a token that is never reused, so a descriptor number recycled by the kernel cannot be
//! mistaken for a closed connection. A worker takes the connection out of the map while it runs it, so no lock is held during
//! handler work, and puts it back with what it waits for and until when. The registration is edge-triggered and made once:
//! a report that arrives while a worker holds the connection marks it, and that worker runs it again before putting it back,
//! so no report is lost and a connection that stays costs no epoll_ctl per request.
//!
//! Workers are leaders and followers: any worker waiting on the set takes the next ready connection. A worker that is about to wait
//! for something other than the set ([`blocking`], or a handler that is not a state machine) first makes sure another worker waits
//! on the set, starting one if none does; a watcher catches handler code that sleeps in the kernel without saying so, by the
//! thread's state in /proc, not by a wall-clock guess that CPU contention would fake. Workers above the configured number leave
//! after [`SPARE_WORKER_LINGER`] without work, never the last one waiting.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream as WakePipe;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::handler::{
    apply_socket_options, guarded, stream_request, DynStreamHandler, HandlerError, Ready,
    ReadyConnection,
};
use crate::hooks::ServerHooks;
use crate::stream::Stream;
use crate::sys::{Epoll, EpollToken};

/// The token of the stop pipe, registered level-triggered so that every worker sees it once it is written.
const STOP_TOKEN: EpollToken = EpollToken::MAX;

/// How often the watcher looks at busy workers while none waits on the set.
///
/// A worker seen asleep in the kernel on two looks in a row, on the same connection, is blocked: another worker starts.
const LOOK_INTERVAL: Duration = Duration::from_millis(5);

/// How long a worker above the configured number waits without work before it leaves.
pub(crate) const SPARE_WORKER_LINGER: Duration = Duration::from_secs(5);

/// What a registered connection is, between two runs.
enum Slot {
    /// A state machine from [`StreamRequestHandler::ready_connection`].
    Machine(Box<dyn ReadyConnection>),
    /// A handler that serves the whole connection with `setup`, `handle` and `finish` on a worker, run once it is first readable.
    Whole { server_address: Address },
}

/// One registered connection.
struct Entry {
    /// `None` while a worker runs it.
    slot: Option<Slot>,
    stream: Stream,
    client_address: Address,
    /// From the last [`Ready`]: closed once this passes while it waits.
    deadline: Option<Instant>,
    /// Waiting between requests (`Ready::Idle`): the first to go when the server needs room.
    idle: bool,
    /// A report arrived while a worker ran it: that worker runs it again before putting it back.
    notified: bool,
    /// Registered for writability too, once it first waited for it.
    write_armed: bool,
}

struct Connections {
    entries: HashMap<EpollToken, Entry>,
    /// Set by `stop`: no connection is put back after it.
    stopping: bool,
    /// Set by `drain`: a connection that goes idle between requests is closed instead of put back.
    draining: bool,
}

/// What the watcher knows of one worker.
#[derive(Debug, Default)]
struct WorkerState {
    /// Microseconds from [`Readiness::epoch`] to when the worker took its current connection, plus one; zero while it waits.
    busy_since: AtomicU64,
    /// Inside [`blocking`]: the worker waits for something other than the set.
    blocked: AtomicBool,
    /// The `busy_since` of the last look that saw the thread asleep in the kernel.
    seen_asleep: AtomicU64,
    /// `/proc/<pid>/task/<tid>/stat` of the worker's thread, once it runs.
    stat_path: OnceLock<PathBuf>,
}

impl WorkerState {
    /// Whether the thread sleeps in the kernel now (state S or D in /proc), not running or waiting for a core.
    fn asleep(&self) -> bool {
        let Some(path) = self.stat_path.get() else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(path) else {
            return false;
        };
        // The state follows the command name, which is in parentheses and may itself hold them.
        let state = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].trim_start().chars().next());
        matches!(state, Some('S' | 'D'))
    }

    /// Whether the worker is held by something it waits for: marked by `blocking`, or seen asleep on two looks on one connection.
    fn held(&self) -> bool {
        let since = self.busy_since.load(Ordering::SeqCst);
        if since == 0 {
            return false;
        }
        if self.blocked.load(Ordering::SeqCst) {
            return true;
        }
        if !self.asleep() {
            return false;
        }
        self.seen_asleep.swap(since, Ordering::SeqCst) == since
    }
}

/// The workers and the watcher: who they are, and whether new ones may start.
#[derive(Default)]
struct Workers {
    states: Vec<Arc<WorkerState>>,
    threads: Vec<JoinHandle<()>>,
    /// Set by `stop`: no worker starts after it, so `join` sees them all.
    stopping: bool,
}

/// The shared epoll set, the registered connections, and what workers need to serve them.
pub(crate) struct Readiness {
    epoll: Epoll,
    handler: Arc<dyn DynStreamHandler>,
    hooks: Arc<dyn ServerHooks>,
    connections: Mutex<Connections>,
    next_token: AtomicU64,
    /// The configured number of workers, which never leave.
    base_workers: usize,
    /// The most workers at once, however many are held.
    max_workers: usize,
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

thread_local! {
    /// The readiness mode and the state of the worker running on this thread, for [`blocking`].
    static WORKER: RefCell<Option<(Arc<Readiness>, Arc<WorkerState>)>> = const { RefCell::new(None) };
}

/// Runs `wait`, something that waits for other than the server's own clients' readiness (a request body that trickles in,
/// a CGI script, a lock, another server), telling [`Mode::Readiness`](crate::Mode::Readiness) so first (not in Python).
///
/// On a readiness worker it makes sure another worker waits on the set meanwhile, starting one if none does (up to the mode's
/// `max_workers`), so ready connections never queue behind this one. Anywhere else it just runs `wait`.
/// The mode also notices a worker that sleeps without saying so, a few milliseconds later; calling this makes it immediate.
pub fn blocking<T>(wait: impl FnOnce() -> T) -> T {
    /// Clears the mark even when `wait` panics.
    struct Unmark<'a>(&'a WorkerState);
    impl Drop for Unmark<'_> {
        fn drop(&mut self) {
            self.0.blocked.store(false, Ordering::SeqCst);
        }
    }
    WORKER.with(|worker| {
        let worker = worker.borrow();
        let Some((readiness, state)) = worker.as_ref() else {
            return wait();
        };
        if state.blocked.swap(true, Ordering::SeqCst) {
            // Already marked by an enclosing call.
            return wait();
        }
        let _unmark = Unmark(state);
        if readiness.waiting_workers.load(Ordering::SeqCst) == 0 {
            readiness.start_spare();
        }
        wait()
    })
}

impl Readiness {
    /// Creates the epoll set, starts `workers` threads (at least one) waiting on it, and the watcher.
    pub(crate) fn start(
        handler: Arc<dyn DynStreamHandler>,
        hooks: Arc<dyn ServerHooks>,
        workers: usize,
        max_workers: usize,
    ) -> std::io::Result<Arc<Readiness>> {
        let epoll = Epoll::new()?;
        let (stop_reader, stop_writer) = WakePipe::pair()?;
        stop_writer.set_nonblocking(true)?;
        epoll.add_level(stop_reader.as_raw_fd(), STOP_TOKEN)?;
        let base_workers = workers.max(1);
        let readiness = Arc::new(Readiness {
            epoll,
            handler,
            hooks,
            connections: Mutex::new(Connections {
                entries: HashMap::new(),
                stopping: false,
                draining: false,
            }),
            next_token: AtomicU64::new(0),
            base_workers,
            max_workers: max_workers.max(base_workers),
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
        crate::stats::track(Arc::downgrade(&readiness));
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

    /// Starts one more worker, unless `stop` has begun or `max_workers` run; its thread joins the list that [`Readiness::join`] waits for.
    fn start_worker(self: &Arc<Self>) -> std::io::Result<()> {
        let mut workers = self.lock_workers();
        if workers.stopping || self.total_workers.load(Ordering::SeqCst) >= self.max_workers {
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
            .spawn(move || readiness.work(worker_state));
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

    /// Starts a worker because one is about to block with none waiting; without a thread to be had, the held ones come back in time.
    fn start_spare(self: &Arc<Self>) {
        let _ = self.start_worker();
    }

    /// The watcher's loop: while no worker waits on the set, look every [`LOOK_INTERVAL`] for a worker held by a wait, and start another.
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
            workers = self
                .watcher_wakeup
                .wait_timeout(workers, LOOK_INTERVAL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if workers.stopping {
                return;
            }
            if self.waiting_workers.load(Ordering::SeqCst) == 0
                && workers.states.iter().any(|state| state.held())
            {
                drop(workers);
                if self.start_worker().is_err() {
                    // No thread to be had: the held connections free a worker in time.
                    thread::sleep(LOOK_INTERVAL);
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

    /// How many connections are registered, waiting or being served.
    pub(crate) fn connections(&self) -> usize {
        self.lock().entries.len()
    }

    /// Connections registered, and of those the ones waiting idle between requests.
    pub(crate) fn connection_counts(&self) -> (usize, usize) {
        let connections = self.lock();
        let idle = connections
            .entries
            .values()
            .filter(|entry| entry.idle && entry.slot.is_some())
            .count();
        (connections.entries.len(), idle)
    }

    /// Workers running, and of those the ones running a connection.
    pub(crate) fn worker_counts(&self) -> (usize, usize) {
        let total = self.total_workers.load(Ordering::SeqCst);
        let waiting = self.waiting_workers.load(Ordering::SeqCst);
        (total, total.saturating_sub(waiting))
    }

    /// Lets the requests under way finish, closing each connection once it is idle between requests (idle ones at once),
    /// until none is left or `deadline` passes; true when none is left.
    ///
    /// New connections are the caller's to stop taking first.
    pub(crate) fn drain(&self, deadline: Option<Instant>) -> bool {
        self.lock().draining = true;
        loop {
            let idle = self.take_waiting(|entry| entry.idle);
            for entry in idle {
                self.expire(entry, false);
            }
            self.close_expired();
            if self.connections() == 0 {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Registers a freshly accepted connection: as the handler's state machine, or to be served whole once it is readable.
    pub(crate) fn register(
        &self,
        stream: Stream,
        client_address: Address,
        server_address: &Address,
    ) {
        let slot = apply_socket_options(&*self.handler, &stream).and_then(|()| {
            self.handler
                .ready_connection(&stream, &client_address, server_address)
        });
        let slot = match slot {
            Ok(Some(machine)) => Slot::Machine(machine),
            Ok(None) => Slot::Whole {
                server_address: server_address.clone(),
            },
            Err(error) => {
                self.report(&client_address, &HandlerError::Io(error));
                self.close(&stream, &client_address);
                return;
            }
        };
        let fd = stream.as_raw_fd();
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut connections = self.lock();
        if connections.stopping {
            drop(connections);
            self.close(&stream, &client_address);
            return;
        }
        // In the map before the set, so the first report finds it.
        connections.entries.insert(
            token,
            Entry {
                slot: Some(slot),
                stream,
                client_address,
                deadline: None,
                idle: false,
                notified: false,
                // Writability is reported only once the connection first waits for it: most never do.
                write_armed: false,
            },
        );
        // Bytes that arrived before this are reported at once.
        if let Err(error) = self.epoll.add_edge(fd, token, false) {
            let entry = connections.entries.remove(&token);
            drop(connections);
            if let Some(entry) = entry {
                self.report(&entry.client_address, &HandlerError::Io(error));
                self.close(&entry.stream, &entry.client_address);
            }
        }
    }

    /// A worker's loop: wait on the shared set, run each ready connection, until `stop`, or until it is a spare worker without work.
    fn work(self: Arc<Self>, state: Arc<WorkerState>) {
        if let Ok(path) = std::fs::read_link("/proc/thread-self") {
            let _ = state
                .stat_path
                .set(PathBuf::from("/proc").join(path).join("stat"));
        }
        WORKER.with(|worker| *worker.borrow_mut() = Some((self.clone(), state.clone())));
        self.work_loop(&state);
        // The worker's own reference would keep the mode alive past `join`.
        WORKER.with(|worker| worker.borrow_mut().take());
    }

    fn work_loop(&self, state: &Arc<WorkerState>) {
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
                let Some(slot) = self.take(token) else {
                    continue;
                };
                state
                    .busy_since
                    .store(self.micros_since_epoch(), Ordering::SeqCst);
                if self.waiting_workers.fetch_sub(1, Ordering::SeqCst) == 1
                    && self.watcher_sleeping.load(Ordering::SeqCst)
                {
                    // The last waiting worker is now busy: the watcher keeps an eye on whether it blocks.
                    let _workers = self.lock_workers();
                    self.watcher_wakeup.notify_one();
                }
                self.run(token, slot);
                self.waiting_workers.fetch_add(1, Ordering::SeqCst);
                state.busy_since.store(0, Ordering::SeqCst);
            }
        }
    }

    /// Takes a reported connection out of the map to run it; `None` when another worker runs it (it will run it again) or it is gone.
    fn take(&self, token: EpollToken) -> Option<(Slot, Stream, Address)> {
        let mut connections = self.lock();
        let entry = connections.entries.get_mut(&token)?;
        match entry.slot.take() {
            Some(slot) => {
                entry.notified = false;
                Some((slot, entry.stream.clone(), entry.client_address.clone()))
            }
            None => {
                entry.notified = true;
                None
            }
        }
    }

    /// Runs one connection until it waits, then puts it back; or closes it.
    fn run(&self, token: EpollToken, (slot, stream, client_address): (Slot, Stream, Address)) {
        let mut machine = match slot {
            Slot::Machine(machine) => machine,
            Slot::Whole { server_address } => {
                let handler = &*self.handler;
                let outcome = blocking(|| {
                    let mut request = stream_request(&stream, &client_address, &server_address);
                    guarded(|| handler.setup(&mut request)).and_then(|()| {
                        let handled = guarded(|| handler.handle(&mut request));
                        let finished = guarded(|| handler.finish(&mut request));
                        handled.and(finished)
                    })
                });
                if let Err(error) = &outcome {
                    self.report(&client_address, error);
                }
                self.remove(token, &stream, &client_address);
                return;
            }
        };
        loop {
            let outcome = guarded(|| machine.ready());
            let wait = match outcome {
                Ok(Ready::Close) => None,
                Ok(wait) => Some(wait),
                Err(error) => {
                    self.report(&client_address, &error);
                    None
                }
            };
            let Some(wait) = wait else {
                self.remove(token, &stream, &client_address);
                return;
            };
            let mut connections = self.lock();
            let drained = connections.draining && matches!(wait, Ready::Idle(_));
            if connections.stopping || drained {
                drop(connections);
                let _ = guarded(|| {
                    machine.expire(false);
                    Ok(())
                });
                self.remove(token, &stream, &client_address);
                return;
            }
            let Some(entry) = connections.entries.get_mut(&token) else {
                return;
            };
            if entry.notified {
                // A report came while it ran: what it reported may have arrived after the connection last looked.
                entry.notified = false;
                continue;
            }
            if matches!(wait, Ready::Write(_)) && !entry.write_armed {
                // Re-registering reports writability at once if it is already there, so nothing is missed between the two.
                if self
                    .epoll
                    .modify_edge(entry.stream.as_raw_fd(), token, true)
                    .is_err()
                {
                    drop(connections);
                    self.remove(token, &stream, &client_address);
                    return;
                }
                entry.write_armed = true;
            }
            entry.deadline = wait.deadline();
            entry.idle = matches!(wait, Ready::Idle(_));
            entry.slot = Some(Slot::Machine(machine));
            return;
        }
    }

    /// Unregisters and closes a connection a worker holds.
    fn remove(&self, token: EpollToken, stream: &Stream, client_address: &Address) {
        let entry = self.lock().entries.remove(&token);
        // Leave the set before the descriptor closes, so a recycled descriptor number starts clean.
        let _ = self.epoll.delete(stream.as_raw_fd());
        self.close(stream, client_address);
        drop(entry);
    }

    /// Takes out of the map the waiting connections `pick` chooses, to be closed outside the lock.
    fn take_waiting(&self, pick: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        let mut connections = self.lock();
        let tokens: Vec<EpollToken> = connections
            .entries
            .iter()
            .filter(|(_, entry)| entry.slot.is_some() && pick(entry))
            .map(|(&token, _)| token)
            .collect();
        tokens
            .into_iter()
            .filter_map(|token| connections.entries.remove(&token))
            .collect()
    }

    /// Closes waiting connections whose deadline has passed, after their last word ([`ReadyConnection::expire`]).
    pub(crate) fn close_expired(&self) {
        let now = Instant::now();
        let expired =
            self.take_waiting(|entry| entry.deadline.is_some_and(|deadline| now >= deadline));
        for entry in expired {
            self.expire(entry, true);
        }
    }

    /// Closes up to `count` connections idle between requests, those nearest their deadline first, to make room for new clients;
    /// returns how many it closed.
    pub(crate) fn evict_idle(&self, count: usize) -> usize {
        let evicted: Vec<Entry> = {
            let mut connections = self.lock();
            let mut idle: Vec<(Option<Instant>, EpollToken)> = connections
                .entries
                .iter()
                .filter(|(_, entry)| entry.idle && entry.slot.is_some())
                .map(|(&token, entry)| (entry.deadline, token))
                .collect();
            idle.sort_unstable_by_key(|&(deadline, _)| (deadline.is_none(), deadline));
            idle.into_iter()
                .take(count)
                .filter_map(|(_, token)| connections.entries.remove(&token))
                .collect()
        };
        let closed = evicted.len();
        for entry in evicted {
            self.expire(entry, false);
        }
        closed
    }

    fn expire(&self, entry: Entry, timed_out: bool) {
        if let Some(Slot::Machine(mut machine)) = entry.slot {
            let _ = guarded(|| {
                machine.expire(timed_out);
                Ok(())
            });
        }
        let _ = self.epoll.delete(entry.stream.as_raw_fd());
        self.close(&entry.stream, &entry.client_address);
    }

    /// Stops the workers (they finish the connection they run, then close it) and closes every waiting connection.
    pub(crate) fn stop(&self) {
        let waiting = {
            let mut connections = self.lock();
            connections.stopping = true;
            let tokens: Vec<EpollToken> = connections
                .entries
                .iter()
                .filter(|(_, entry)| entry.slot.is_some())
                .map(|(&token, _)| token)
                .collect();
            tokens
                .into_iter()
                .filter_map(|token| connections.entries.remove(&token))
                .collect::<Vec<_>>()
        };
        // The byte is never read, so every worker's epoll_wait keeps reporting it; a full pipe already holds one.
        let _ = (&self.stop_writer).write(&[1]);
        self.lock_workers().stopping = true;
        self.watcher_wakeup.notify_all();
        for entry in waiting {
            self.expire(entry, false);
        }
    }

    /// Python's `shutdown_request`: the hook, then shut the write side; the descriptor closes with the last clone.
    fn close(&self, stream: &Stream, client_address: &Address) {
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
