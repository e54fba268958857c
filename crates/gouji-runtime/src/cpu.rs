//! CPU-bound work (parsing, rules, consolidation) off the async I/O threads, with at most one
//! task per core running at a time.
//!
//! `spawn_blocking` alone starts a thread per request: with 64 requests in flight on 2 cores, 64
//! parses ran at once, each evicting the others' data from the caches, and the slowest waited
//! behind all of them (p99 and max latency grew with the queue). Here a request first waits for
//! one of `GOUJI_CPU_WORKERS` permits (default: the number of cores) in FIFO order, then runs on
//! the blocking pool. A request whose client gives up while it waits is dropped without costing
//! any CPU; the permit moves into the blocking task, so work that has started still counts
//! against the limit until it ends, even if its caller has gone.
//!
//! The gate is measured ([`crate::metrics`]): how long each task waited for its permit
//! (`gouji.cpu.wait.duration`) and ran (`gouji.cpu.run.duration`), and how many tasks wait
//! ([`queued`]) and run ([`running`]) right now.
//!
//! Work that has started stops soon after its caller goes away (the client cancelled, or the
//! server's deadline dropped the call): the blocking task runs under a
//! [`gouji_domain::work::Cancel`] token that is cancelled when the caller's future is dropped,
//! and the parser and the rules poll it every few thousand steps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use gouji_domain::work::Cancel;
use tokio::sync::Semaphore;
use tonic::Status;

/// How many CPU tasks may run at once: `GOUJI_CPU_WORKERS`, else the available cores.
pub fn workers() -> usize {
    std::env::var("GOUJI_CPU_WORKERS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

static WORKERS: LazyLock<usize> = LazyLock::new(workers);
static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(*WORKERS)));
static QUEUED: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicU64 = AtomicU64::new(0);

/// CPU tasks waiting for a permit now.
pub fn queued() -> u64 {
    QUEUED.load(Ordering::Relaxed)
}

/// CPU tasks holding a permit now.
pub fn running() -> u64 {
    RUNNING.load(Ordering::Relaxed)
}

/// Permits of the gate (the most tasks that run at once).
pub fn permits() -> u64 {
    *WORKERS as u64
}

/// Counts one task in `counter` while it lives (also when its future is dropped).
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

/// Runs `work` on the blocking pool once a CPU permit is free; `what` names it in errors.
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
    let metrics = crate::metrics::global();
    let waiting = Counted::new(&QUEUED);
    let asked = Instant::now();
    let permit = Arc::clone(&PERMITS)
        .acquire_owned()
        .await
        .map_err(|e| crate::status::internal(what, e))?;
    metrics.record_cpu_wait(what, asked.elapsed());
    drop(waiting);
    let token = Cancel::new().with_deadline(deadline);
    // Cancels the token when this future ends or is dropped (the caller gave up).
    struct CancelOnDrop {
        token: Cancel,
        /// Still waiting for the work: a drop now means the caller went away.
        waiting: bool,
    }
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            if self.waiting {
                tracing::debug!("caller gone: work cancelled");
            }
            self.token.cancel();
        }
    }
    let mut guard = CancelOnDrop {
        token: token.clone(),
        waiting: true,
    };
    let task = what.to_string();
    let run = Counted::new(&RUNNING);
    let out = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let stop = token.clone();
        let out = gouji_domain::work::with_cancel(token, work);
        metrics.record_cpu_run(&task, started.elapsed());
        if let Some(why) = stop.stop() {
            tracing::debug!(%task, ?why, elapsed = ?started.elapsed(), "work ended after a stop");
        }
        drop(run);
        drop(permit);
        out
    })
    .await;
    guard.waiting = false;
    out.map_err(|e| crate::status::internal(what, e))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_tasks_than_permits() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let limit = permits() as usize;
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
        let call = tokio::spawn(run("test task", move || {
            let start = std::time::Instant::now();
            while gouji_domain::work::cancelled().is_none() {
                if start.elapsed() > std::time::Duration::from_secs(10) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let _ = tx.send(gouji_domain::work::cancelled());
        }));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        call.abort();
        let seen = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(std::time::Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert_eq!(seen, Ok(Some(gouji_domain::work::Stop::Cancelled)));
    }
}
