//! Service metrics: one OpenTelemetry meter per process, read two ways — pushed over OTLP/gRPC
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (every `OTEL_METRIC_EXPORT_INTERVAL` ms, default
//! 60 s, and at shutdown), and pulled by Prometheus from the `/metrics` endpoint of
//! [`prometheus::serve`] (`--metrics-listen`, off unless given).
//!
//! What is measured, and where:
//!
//! | OpenTelemetry name | kind | attributes | recorded by |
//! |---|---|---|---|
//! | `gouji.rpc.server.duration` (s) | histogram | `rpc.service`, `rpc.method`, `grpc.code` | [`grpc::ServerMetricsLayer`], every call |
//! | `gouji.rpc.server.in_flight` | up-down counter | `rpc.service`, `rpc.method` | same |
//! | `gouji.cpu.wait.duration` (s) | histogram | `task` | [`crate::cpu::run`]: time queued for a CPU worker |
//! | `gouji.cpu.run.duration` (s) | histogram | `task` | same: time running on a CPU worker |
//! | `gouji.cpu.abandoned` | counter | `task` | same: tasks whose callers went away while they were queued (dropped unrun) |
//! | `gouji.cpu.queued`, `gouji.cpu.running`, `gouji.cpu.workers` | gauges | — | the CPU pool's counters |
//! | `gouji.validation.findings` | counter | `rule`, `severity` | validation, per finding returned |
//! | `gouji.ingestion.validation.pending` | gauge | — | ingestion's store probe ([`crate::store_health`]) |
//! | `gouji.store.up` | gauge (1/0) | — | same: 1 while the store answers |
//! | `gouji.admission.in_flight`, `gouji.admission.queued` | gauges | — | [`Metrics::register_admission`], for admission control to call |
//! | anything passed to [`Metrics::register_gauge`] | gauge | — | any other state kept elsewhere |
//!
//! Prometheus names follow the OpenTelemetry-to-Prometheus rules of the collector's exporter,
//! so the dashboard works on either path: `.` becomes `_`, a unit `s` adds `_seconds`, a
//! counter adds `_total` (`gouji_rpc_server_duration_seconds_bucket`,
//! `gouji_validation_findings_total`, …).
//!
//! Labels are bounded: an RPC path that is not one of the methods the process serves (from the
//! compiled descriptors) is counted as `rpc.service = rpc.method = "unknown"`, so a client
//! cannot create series by calling made-up methods.

pub mod grpc;
pub mod prometheus;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    Counter, Histogram, Meter, MeterProvider as _, ObservableGauge, UpDownCounter,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, PeriodicReader, Pipeline, SdkMeterProvider, Temporality,
};

/// Bucket bounds (seconds) of every duration histogram: 1 ms … 60 s, so that both a 2 ms
/// `ListRules` and a 30 s deadline-bound `SubmitReport` fall inside a bucket.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Instrumentation scope of every Gouji instrument.
const SCOPE: &str = "gouji";

/// A [`ManualReader`] shared between the meter provider (which owns its readers) and the
/// Prometheus endpoint (which collects from it on every scrape).
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The process's instruments; get them with [`global`].
pub struct Metrics {
    service: &'static str,
    provider: SdkMeterProvider,
    reader: Arc<ManualReader>,
    meter: Meter,
    pub(crate) rpc_duration: Histogram<f64>,
    pub(crate) rpc_in_flight: UpDownCounter<i64>,
    cpu_wait: Histogram<f64>,
    cpu_run: Histogram<f64>,
    cpu_abandoned: Counter<u64>,
    findings: Counter<u64>,
    /// Observable gauges stay registered while their handle lives.
    gauges: Mutex<Vec<ObservableGauge<u64>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Installs the process's metrics for `service`, with an OTLP/gRPC exporter to `otlp_endpoint`
/// when given (call inside the tokio runtime). Called by [`crate::telemetry::init`]; a second
/// call, or one after [`global`] was first used, returns the instruments already installed.
pub fn install(service: &'static str, otlp_endpoint: Option<&str>) -> &'static Metrics {
    METRICS.get_or_init(|| Metrics::new(service, otlp_endpoint))
}

/// The process's instruments (installed without OTLP export if [`install`] was never called,
/// e.g. in unit tests).
pub fn global() -> &'static Metrics {
    METRICS.get_or_init(|| Metrics::new("gouji", None))
}

/// Exports what is left (OTLP) and stops the exporters; the Prometheus endpoint answers 503
/// afterwards. Called when the telemetry guard is dropped at exit.
pub fn shutdown() {
    if let Some(m) = METRICS.get() {
        let _ = m.provider.shutdown();
    }
}

impl Metrics {
    fn new(service: &'static str, otlp_endpoint: Option<&str>) -> Metrics {
        let reader = Arc::new(ManualReader::builder().build());
        let mut builder = SdkMeterProvider::builder()
            .with_resource(Resource::builder().with_service_name(service).build())
            .with_reader(SharedReader(Arc::clone(&reader)));
        if let Some(endpoint) = otlp_endpoint {
            match opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
            {
                // The interval comes from `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s).
                Ok(exporter) => {
                    builder = builder.with_reader(PeriodicReader::builder(exporter).build())
                }
                Err(e) => eprintln!("{service}: OTLP metrics exporter disabled: {e}"),
            }
        }
        let provider = builder.build();
        let meter = provider.meter(SCOPE);
        let rpc_duration = meter
            .f64_histogram("gouji.rpc.server.duration")
            .with_unit("s")
            .with_description("Duration of gRPC calls served, until the status was sent")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let rpc_in_flight = meter
            .i64_up_down_counter("gouji.rpc.server.in_flight")
            .with_description("gRPC calls being served")
            .build();
        let cpu_wait = meter
            .f64_histogram("gouji.cpu.wait.duration")
            .with_unit("s")
            .with_description(
                "Time a CPU-bound task waited in the queue for a CPU worker (the CPU gate)",
            )
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let cpu_run = meter
            .f64_histogram("gouji.cpu.run.duration")
            .with_unit("s")
            .with_description("Time a CPU-bound task ran on a CPU worker")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let cpu_abandoned = meter
            .u64_counter("gouji.cpu.abandoned")
            .with_unit("{task}")
            .with_description(
                "CPU-bound tasks whose callers went away while they were queued (dropped unrun)",
            )
            .build();
        let findings = meter
            .u64_counter("gouji.validation.findings")
            .with_unit("{finding}")
            .with_description("Findings returned by validation, by rule and severity")
            .build();
        let metrics = Metrics {
            service,
            provider,
            reader,
            meter,
            rpc_duration,
            rpc_in_flight,
            cpu_wait,
            cpu_run,
            cpu_abandoned,
            findings,
            gauges: Mutex::new(Vec::new()),
        };
        metrics.register_gauge(
            "gouji.cpu.queued",
            "CPU-bound tasks waiting for a CPU worker",
            crate::cpu::queued,
        );
        metrics.register_gauge(
            "gouji.cpu.running",
            "CPU-bound tasks running on a CPU worker",
            crate::cpu::running,
        );
        metrics.register_gauge(
            "gouji.cpu.workers",
            "CPU workers (GOUJI_CPU_WORKERS, else the cores)",
            crate::cpu::pool_size,
        );
        metrics
    }

    /// The service name the metrics are exported under.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Registers a gauge read from `value` at every collection (scrape or export). The hook for
    /// state kept elsewhere: the admission queue's depth, a count refreshed by a background
    /// task. `value` runs on the collecting thread and must be cheap and non-blocking.
    pub fn register_gauge<F>(&self, name: &'static str, description: &'static str, value: F)
    where
        F: Fn() -> u64 + Send + Sync + 'static,
    {
        let gauge = self
            .meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| observer.observe(value(), &[]))
            .build();
        if let Ok(mut gauges) = self.gauges.lock() {
            gauges.push(gauge);
        }
    }

    /// Registers the admission queue's gauges under their fixed names,
    /// `gouji.admission.in_flight` (calls admitted and running) and `gouji.admission.queued`
    /// (calls waiting for admission), read from the two callbacks at every collection. For the
    /// service's admission control to call once at start-up; the dashboard can then chart
    /// `gouji_admission_queued` (docs/operations.md).
    pub fn register_admission<F, G>(&self, in_flight: F, queued: G)
    where
        F: Fn() -> u64 + Send + Sync + 'static,
        G: Fn() -> u64 + Send + Sync + 'static,
    {
        self.register_gauge(
            "gouji.admission.in_flight",
            "Calls admitted and being served (admission control)",
            in_flight,
        );
        self.register_gauge(
            "gouji.admission.queued",
            "Calls waiting for admission (admission control)",
            queued,
        );
    }

    /// Records how long a task named `task` waited in the queue for a CPU worker.
    pub fn record_cpu_wait(&self, task: &str, waited: Duration) {
        self.cpu_wait.record(
            waited.as_secs_f64(),
            &[KeyValue::new("task", task.to_string())],
        );
    }

    /// Records one CPU-bound run of a task named `task`.
    pub fn record_cpu_run(&self, task: &str, ran: Duration) {
        self.cpu_run.record(
            ran.as_secs_f64(),
            &[KeyValue::new("task", task.to_string())],
        );
    }

    /// Counts one task of `task` dropped unrun: its caller went away while it was queued.
    pub fn record_cpu_abandoned(&self, task: &str) {
        self.cpu_abandoned
            .add(1, &[KeyValue::new("task", task.to_string())]);
    }

    /// Counts the findings of one validation, as `(rule id, severity)` pairs.
    pub fn record_findings<'a>(&self, findings: impl IntoIterator<Item = (&'a str, &'static str)>) {
        let mut counts: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for key in findings {
            *counts.entry(key).or_default() += 1;
        }
        for ((rule, severity), n) in counts {
            self.findings.add(
                n,
                &[
                    KeyValue::new("rule", rule.to_string()),
                    KeyValue::new("severity", severity),
                ],
            );
        }
    }

    /// Collects the current values of every instrument (what a scrape sees).
    pub fn collect(&self) -> Result<ResourceMetrics, String> {
        let mut rm = ResourceMetrics::default();
        self.reader.collect(&mut rm).map_err(|e| e.to_string())?;
        Ok(rm)
    }
}

/// A `u64` cell that a background task writes and a gauge reads.
#[derive(Debug, Clone, Default)]
pub struct SharedValue(Arc<AtomicU64>);

impl SharedValue {
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_counted_by_rule_and_severity() {
        let m = global();
        m.record_findings([("T-01", "error"), ("T-01", "error"), ("N-02", "info")]);
        let text = prometheus::render(&m.collect().unwrap());
        assert!(
            text.contains(r#"gouji_validation_findings_total{rule="T-01",severity="error"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"gouji_validation_findings_total{rule="N-02",severity="info"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn admission_gauges_have_fixed_names() {
        let m = global();
        m.register_admission(|| 5, || 3);
        let text = prometheus::render(&m.collect().unwrap());
        assert!(text.contains("\ngouji_admission_in_flight 5\n"), "{text}");
        assert!(text.contains("\ngouji_admission_queued 3\n"), "{text}");
    }

    #[test]
    fn registered_gauges_read_their_value_at_collection() {
        let m = global();
        let v = SharedValue::default();
        let read = v.clone();
        m.register_gauge("gouji.test.value", "a test gauge", move || read.get());
        v.set(41);
        assert!(prometheus::render(&m.collect().unwrap()).contains("\ngouji_test_value 41\n"));
        v.set(7);
        assert!(prometheus::render(&m.collect().unwrap()).contains("\ngouji_test_value 7\n"));
    }
}
