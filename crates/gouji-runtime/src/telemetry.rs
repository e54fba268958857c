//! Tracing setup: logs to stderr, and spans to an OTLP/gRPC collector when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (off otherwise). W3C trace context travels between the
//! services in the `traceparent` metadata of every call ([`grpc`]), so that one request through
//! several services is one trace.
//!
//! Trace ids exist whether or not spans are exported: without OTLP the tracer provider has no
//! exporter but still starts (or continues) a trace per call, so every log line written inside
//! a call carries its `trace_id` (a field of the server span, see [`grpc`]) and the ids a
//! caller sends are passed on. [`init`] also installs the metrics ([`crate::metrics`]), exported
//! over OTLP to the same endpoint.

pub mod grpc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Flushes and shuts the tracer provider and the metrics down on drop.
pub struct TelemetryGuard(Option<SdkTracerProvider>);

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
        crate::metrics::shutdown();
    }
}

/// Builds an OTLP exporter provider for `service`.
pub fn otlp_provider(service: &'static str, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

/// Installs the global subscriber and the W3C trace-context propagator. Call once, inside the
/// tokio runtime.
pub fn init(service: &'static str) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    crate::metrics::install(service, endpoint.as_deref());
    let provider = match &endpoint {
        Some(ep) => otlp_provider(service, ep)
            .map_err(|e| eprintln!("{service}: OTLP exporter disabled: {e}"))
            .ok(),
        None => None,
    }
    // No exporter: spans are dropped when they end, but trace ids are made and propagated.
    .unwrap_or_else(|| {
        SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name(service).build())
            .build()
    });
    let otel_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    let provider = Some(provider);
    let _ = tracing_subscriber::registry()
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(otel_layer)
        .try_init();
    TelemetryGuard(provider)
}
