//! CPU-bound work (parsing, rules, consolidation) off the async I/O threads, on a pool of one
//! thread per core.
//!
//! `spawn_blocking` alone starts a thread per request: with 64 requests in flight on 2 cores, 64
//! parses ran at once, each evicting the others' data from the caches, and the slowest waited
//! behind all of them (p99 and max latency grew with the queue). A semaphore in front of
//! `spawn_blocking` fixed that but left cores idle between tasks: when a task ended, the next
//! one started only after its permit had woken an async task, that task had been polled on an
//! I/O thread and had woken a blocking thread — about 16 % of two cores stood idle under a full
//! queue of document validations. Here `GOUJI_CPU_WORKERS` threads (default: the number of
//! cores, named `gouji-cpu-N`) take jobs from one FIFO queue: a worker that finishes a job takes
//! the next itself, and the same few threads keep their caches and allocator heaps warm.
//!
//! A job whose caller gave up while it was queued is taken back and dropped at once, with the
//! request it holds, without costing any CPU; so a client that sends and cancels in a loop while
//! the workers are busy leaves only empty slots in the queue, compacted as they pile up. Work that
//! has started stops soon after its caller goes away (the client cancelled, or the server's
//! deadline dropped the call): the job runs under a [`gouji_domain::work::Cancel`] token that is
//! cancelled when the caller's future is dropped, and the parser and the rules poll it every few
//! thousand steps. The job runs inside the caller's tracing span, so its logs carry the trace id.
//!
//! The pool is measured ([`crate::metrics`]): how long each job waited in the queue
//! (`gouji.cpu.wait.duration`) and ran (`gouji.cpu.run.duration`), and how many jobs wait
//! ([`queued`]) and run ([`running`]) right now.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::Instant;

use gouji_domain::work::Cancel;
use tonic::Status;

/// The most workers `GOUJI_CPU_WORKERS` may ask for: each is an OS thread started at the first job.
pub const MAX_WORKERS: usize = 256;

/// How many CPU jobs may run at once: `GOUJI_CPU_WORKERS` (at most [`MAX_WORKERS`]), else the
/// available cores.
pub fn workers() -> usize {
    std::env::var("GOUJI_CPU_WORKERS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| n.min(MAX_WORKERS))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

static QUEUED: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicU64 = AtomicU64::new(0);

/// Jobs waiting for a worker now.
pub fn queued() -> u64 {
    QUEUED.load(Ordering::Relaxed)
}

/// Jobs running on a worker now.
pub fn running() -> u64 {
    RUNNING.load(Ordering::Relaxed)
}

/// Workers of the pool (the most jobs that run at once): those that could be started.
pub fn pool_size() -> u64 {
    POOL.workers as u64
}

/// One piece of work, with everything it needs (the request it reads, the channel it answers on).
type Job = Box<dyn FnOnce() + Send>;

/// A queued job. Whoever takes it first owns it: a worker, to run it, or its caller, who goes away
/// and drops it — with the request it holds — at once rather than when a worker reaches it.
type Entry = Arc<Mutex<Option<Job>>>;

/// The FIFO queue the workers take jobs from.
struct Pool {
    jobs: Mutex<VecDeque<Entry>>,
    ready: Condvar,
}

/// The pool and how many of its workers started.
struct Started {
    pool: &'static Pool,
    workers: usize,
}

static POOL: LazyLock<Started> = LazyLock::new(|| {
    let pool: &'static Pool = Box::leak(Box::new(Pool {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    }));
    let asked = workers();
    let mut workers = 0;
    for i in 0..asked {
        let spawned = std::thread::Builder::new()
            .name(format!("gouji-cpu-{i}"))
            .spawn(move || pool.work());
        match spawned {
            Ok(_) => workers += 1,
            // Fewer workers than asked (the process is out of threads): the others serve.
            Err(e) => tracing::error!(error = %e, worker = i, "could not start a CPU worker"),
        }
    }
    Started { pool, workers }
});

/// Locks `m`; a panic elsewhere while it was held does not make the data unusable here.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pool {
    /// Queues `job`; the entry lets its caller take it back.
    fn push(&self, job: Job) -> Entry {
        let entry: Entry = Arc::new(Mutex::new(Some(job)));
        QUEUED.fetch_add(1, Ordering::Relaxed);
        let mut jobs = lock(&self.jobs);
        // Entries whose callers took their jobs back stay queued as empty shells until a worker
        // reaches them; when they outnumber the live ones, drop them here, so that a client that
        // sends and cancels in a loop while the workers are busy cannot grow the queue.
        if jobs.len() as u64 > 2 * queued() + 64 {
            jobs.retain(|e| lock(e).is_some());
        }
        jobs.push_back(Arc::clone(&entry));
        drop(jobs);
        self.ready.notify_one();
        entry
    }

    /// Takes the job back if no worker has taken it yet (its caller went away).
    fn withdraw(entry: &Entry) -> Option<Job> {
        let job = lock(entry).take();
        if job.is_some() {
            QUEUED.fetch_sub(1, Ordering::Relaxed);
        }
        job
    }

    /// A worker's loop: the next job as soon as one is queued, forever.
    fn work(&self) {
        loop {
            let entry = {
                let mut jobs = lock(&self.jobs);
                loop {
                    if let Some(entry) = jobs.pop_front() {
                        break entry;
                    }
                    jobs = self
                        .ready
                        .wait(jobs)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            if let Some(job) = Pool::withdraw(&entry) {
                // A job catches its work's panics; this keeps the worker even if the rest panics.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        }
    }
}

/// Counts one job in `counter` while it lives.
struct Counted(&'static AtomicU64);

impl Counted {
    fn new(counter: &'static AtomicU64) -> Counted {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `work` on the CPU pool once a worker is free; `what` names it in errors and metrics.
pub async fn run<T, F>(what: &str, work: F) -> Result<T, Status>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    run_until(what, None, work).await
}

/// [`run`], and the work's token also stops it at `deadline` (the call's deadline, see
/// [`crate::server::deadline`]).
pub async fn run_until<T, F>(
    what: &str,
    deadline: Option<std::time::Instant>,
    work: F,
) -> Result<T, Status>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let token = Cancel::new().with_deadline(deadline);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = what.to_string();
    let span = tracing::Span::current();
    let queued_at = Instant::now();
    if POOL.workers == 0 {
        return Err(crate::status::unavailable(
            what,
            "no CPU worker could be started (the process is out of threads)",
        ));
    }
    let job_token = token.clone();
    let entry = POOL.pool.push(Box::new(move || {
        let token = job_token;
        let metrics = crate::metrics::global();
        metrics.record_cpu_wait(&task, queued_at.elapsed());
        let _running = Counted::new(&RUNNING);
        let _entered = span.enter();
        let started = Instant::now();
        let stop = token.clone();
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
            gouji_domain::work::with_cancel(token, work)
        }));
        metrics.record_cpu_run(&task, started.elapsed());
        if let Some(why) = stop.stop() {
            tracing::debug!(%task, ?why, elapsed = ?started.elapsed(), "work ended after a stop");
        }
        // The caller may have gone meanwhile; then the answer is dropped here.
        let _ = tx.send(out);
    }));
    // When this future ends or is dropped (the caller gave up): a job still queued is taken back
    // and dropped, one that runs is told to stop.
    struct OnDrop {
        entry: Entry,
        token: Cancel,
        task: String,
        /// Still waiting for the work: a drop now means the caller went away.
        waiting: bool,
    }
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if self.waiting {
                if Pool::withdraw(&self.entry).is_some() {
                    crate::metrics::global().record_cpu_abandoned(&self.task);
                    tracing::debug!("caller gone: queued work dropped");
                } else {
                    tracing::debug!("caller gone: work cancelled");
                }
            }
            self.token.cancel();
        }
    }
    let mut guard = OnDrop {
        entry,
        token,
        task: what.to_string(),
        waiting: true,
    };
    let out = rx.await;
    guard.waiting = false;
    match out {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            Err(crate::status::internal(
                what,
                format!("panicked: {message}"),
            ))
        }
        Err(e) => Err(crate::status::internal(what, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_tasks_than_workers() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let limit = pool_size() as usize;
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                tokio::spawn(run("test task", move || {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(results, (0..32).collect::<Vec<_>>());
        assert!(PEAK.load(Ordering::SeqCst) <= limit, "peak above {limit}");
        assert!(PEAK.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_caller_cancels_the_work() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let call = tokio::spawn(run("test task", move || {
            let _ = started_tx.send(());
            let start = std::time::Instant::now();
            while gouji_domain::work::cancelled().is_none() {
                if start.elapsed() > std::time::Duration::from_secs(10) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let _ = tx.send(gouji_domain::work::cancelled());
        }));
        // Other tests may keep the workers busy for a while: wait until this job runs.
        tokio::task::spawn_blocking(move || {
            started_rx.recv_timeout(std::time::Duration::from_secs(30))
        })
        .await
        .unwrap()
        .unwrap();
        call.abort();
        let seen = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(std::time::Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert_eq!(seen, Ok(Some(gouji_domain::work::Stop::Cancelled)));
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_caller_left_while_it_was_queued_never_runs() {
        use std::sync::{Arc, Condvar, Mutex};
        /// Every worker busy until the gate opens: when the test ends, also when it fails (the
        /// workers serve the other tests of this process).
        struct Gate(Arc<(Mutex<bool>, Condvar)>);
        impl Gate {
            fn open(&self) {
                let (open, cv) = &*self.0;
                *lock(open) = true;
                cv.notify_all();
            }
        }
        impl Drop for Gate {
            fn drop(&mut self) {
                self.open();
            }
        }
        let gate_guard = Gate(Arc::new((Mutex::new(false), Condvar::new())));
        let gate = gate_guard.0.clone();
        let started = Arc::new(AtomicUsize::new(0));
        let workers = pool_size() as usize;
        let blockers: Vec<_> = (0..workers)
            .map(|_| {
                let (gate, started) = (gate.clone(), started.clone());
                tokio::spawn(run("test task", move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let (open, cv) = &*gate;
                    let mut open = lock(open);
                    while !*open {
                        open = cv
                            .wait(open)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                }))
            })
            .collect();
        let waited = std::time::Instant::now();
        while started.load(Ordering::SeqCst) < workers {
            assert!(
                waited.elapsed() < std::time::Duration::from_secs(30),
                "the workers never all started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        // Queued behind them (polled once), then its caller gives up before a worker is free.
        let ran = Arc::new(AtomicUsize::new(0));
        let victim = {
            let ran = ran.clone();
            run("test task", move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        assert!(
            tokio::time::timeout(std::time::Duration::ZERO, victim)
                .await
                .is_err()
        );
        // What it held (its request) is released now, not when a worker reaches it.
        assert_eq!(
            Arc::strong_count(&ran),
            1,
            "the abandoned job still holds its data"
        );
        // A client that sends and cancels in a loop while the workers are busy: each call is
        // queued (polled once) and dropped; the shells it leaves do not pile up.
        for _ in 0..1_000 {
            let ran = ran.clone();
            let call = run("test task", move || {
                ran.fetch_add(1, Ordering::SeqCst);
            });
            assert!(
                tokio::time::timeout(std::time::Duration::ZERO, call)
                    .await
                    .is_err()
            );
        }
        let queue = lock(&POOL.pool.jobs).len();
        assert!(
            queue < 500,
            "{queue} entries queued after 1,000 cancelled calls"
        );
        // Operators see them: the victim and the 1,000 are counted as abandoned.
        let scrape =
            crate::metrics::prometheus::render(&crate::metrics::global().collect().unwrap());
        let abandoned: f64 = scrape
            .lines()
            .filter(|l| {
                l.starts_with("gouji_cpu_abandoned_total") && l.contains("task=\"test task\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(abandoned >= 1_001.0, "{abandoned} abandoned in:\n{scrape}");
        gate_guard.open();
        for b in blockers {
            b.await.unwrap().unwrap();
        }
        // Jobs queued after the victim, one per worker, all done: the victim was taken first.
        let after: Vec<_> = (0..workers)
            .map(|_| {
                tokio::spawn(run("test task", || {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }))
            })
            .collect();
        for a in after {
            a.await.unwrap().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the abandoned job ran");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_is_an_internal_error_and_the_pool_still_serves() {
        // More panics than workers: had one taken its worker down, the last call would hang.
        let limit = std::time::Duration::from_secs(30);
        let workers = pool_size() as usize;
        for _ in 0..=workers {
            let err = tokio::time::timeout(limit, run("test task", || -> u32 { panic!("boom") }))
                .await
                .expect("answered")
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::Internal);
            assert_eq!(err.message(), "test task: internal error");
        }
        let seven = tokio::time::timeout(limit, run("test task", || 7)).await;
        assert_eq!(seven.expect("answered").unwrap(), 7);
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_on_the_pools_own_threads_not_the_async_runtimes() {
        let calls: Vec<_> = (0..64)
            .map(|_| {
                tokio::spawn(run("test task", || {
                    std::thread::current()
                        .name()
                        .unwrap_or_default()
                        .to_string()
                }))
            })
            .collect();
        let mut names = Vec::new();
        for c in calls {
            names.push(c.await.unwrap().unwrap());
        }
        let distinct: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
        assert!(
            distinct.iter().all(|n| n.starts_with("gouji-cpu-")),
            "{distinct:?}"
        );
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_runs_in_its_callers_span() {
        // A process-wide subscriber, as the services install at start (`telemetry::init`):
        // the workers are threads of their own, outside any test's scoped subscriber.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let span = tracing::info_span!("caller");
        let caller = span.id().expect("the registry gives spans ids");
        let seen = tracing::Instrument::instrument(
            async { run("test task", || tracing::Span::current().id()).await },
            span,
        )
        .await
        .unwrap();
        assert_eq!(seen, Some(caller));
    }
}
