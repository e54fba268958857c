//! The store probe behind ingestion's liveness: every [`StoreProbe::interval`] one
//! [`Store::ping`] through the pool the requests use, bounded by [`StoreProbe::timeout`]. While
//! the store answers, the health service reports [`LIVENESS_SERVICE`] SERVING; after
//! [`StoreProbe::failures`] probes in a row that failed or timed out it reports NOT_SERVING,
//! until a probe succeeds again. The chart's liveness probe asks for that name, so a pod whose
//! store stopped answering (database down or refusing, every pooled connection stuck) is
//! restarted after the probe's `failureThreshold` — instead of reporting SERVING while every
//! call times out. Several failures in a row are needed because the probe waits for a pooled
//! connection like any request: one slow acquisition under load must not restart a busy pod.
//!
//! The same loop refreshes two gauges ([`crate::metrics`]): `gouji.store.up` (1 or 0, the last
//! probe) and `gouji.ingestion.validation.pending` (revisions in «validation pending», kept at
//! its last value when the count fails).

use std::time::Duration;

use gouji_store::Store;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::metrics::SharedValue;

/// The health service name whose status is the store probe's verdict.
pub const LIVENESS_SERVICE: &str = "liveness";

/// How often and how patiently the store is probed.
#[derive(Debug, Clone, Copy)]
pub struct StoreProbe {
    /// Time between two probes (default 5 s).
    pub interval: Duration,
    /// Longest wait for one probe (default 3 s); a slower answer counts as a failure.
    pub timeout: Duration,
    /// Failed probes in a row before NOT_SERVING (default 3; at least 1).
    pub failures: u32,
}

impl Default for StoreProbe {
    fn default() -> Self {
        StoreProbe {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
            failures: 3,
        }
    }
}

/// Probes `store` forever (the first probe at once) and reports the verdict to `reporter`
/// under [`LIVENESS_SERVICE`]; abort the task to stop it.
pub fn spawn(
    store: Store,
    reporter: HealthReporter,
    probe: StoreProbe,
) -> tokio::task::JoinHandle<()> {
    let metrics = crate::metrics::global();
    let up = SharedValue::default();
    let pending = SharedValue::default();
    {
        let up = up.clone();
        metrics.register_gauge(
            "gouji.store.up",
            "1 while the last store probe answered within its timeout, else 0",
            move || up.get(),
        );
        let pending = pending.clone();
        metrics.register_gauge(
            "gouji.ingestion.validation.pending",
            "Revisions in «validation pending» (refreshed at every store probe)",
            move || pending.get(),
        );
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(probe.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<bool> = None;
        let mut failed_in_a_row = 0u32;
        loop {
            ticks.tick().await;
            let answer = tokio::time::timeout(probe.timeout, store.ping()).await;
            let ok = matches!(answer, Ok(Ok(())));
            if ok
                && let Ok(Ok(n)) = tokio::time::timeout(probe.timeout, store.count_pending()).await
            {
                pending.set(n);
            }
            up.set(u64::from(ok));
            failed_in_a_row = if ok {
                0
            } else {
                failed_in_a_row.saturating_add(1)
            };
            // SERVING at the first answer; NOT_SERVING only after enough failures in a row.
            let verdict = if ok {
                Some(true)
            } else if failed_in_a_row >= probe.failures.max(1) {
                Some(false)
            } else {
                last
            };
            if !ok && verdict != Some(false) {
                tracing::warn!(
                    failed_in_a_row,
                    "store probe failed ({failed_in_a_row} of {} before liveness NOT_SERVING)",
                    probe.failures.max(1)
                );
            }
            let Some(ok) = verdict else { continue };
            if last != Some(ok) {
                let status = if ok {
                    tracing::info!("store probe: the store answers");
                    ServingStatus::Serving
                } else {
                    match &answer {
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "store probe failed: liveness NOT_SERVING")
                        }
                        _ => tracing::warn!(
                            timeout_ms = probe.timeout.as_millis() as u64,
                            "store probe timed out: liveness NOT_SERVING"
                        ),
                    }
                    ServingStatus::NotServing
                };
                reporter.set_service_status(LIVENESS_SERVICE, status).await;
                last = Some(ok);
            }
        }
    })
}
