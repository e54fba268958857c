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

use std::sync::{Arc, LazyLock};

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

static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(workers())));

/// Runs `work` on the blocking pool once a CPU permit is free; `what` names it in errors.
pub async fn run<T, F>(what: &str, work: F) -> Result<T, Status>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let permit = Arc::clone(&PERMITS)
        .acquire_owned()
        .await
        .map_err(|e| crate::status::internal(what, e))?;
    tokio::task::spawn_blocking(move || {
        let out = work();
        drop(permit);
        out
    })
    .await
    .map_err(|e| crate::status::internal(what, e))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_tasks_than_permits() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let limit = workers();
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
}
