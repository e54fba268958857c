//! W3C trace context across the gRPC calls between the services: [`ServerTraceLayer`] opens one
//! span per incoming call, child of the caller's `traceparent`, and [`ClientTraceLayer`] opens
//! one span per outgoing call and injects its context into the request metadata. Spans follow
//! the OpenTelemetry RPC conventions: named `package.Service/Method`, kind server or client,
//! attributes `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code`; a span
//! lasts until its response body (and so the status in the trailers) has been sent or read.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::Status as SpanStatus;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Which end of a call a span describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// Request headers (gRPC metadata) as an OpenTelemetry carrier.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The span of one call to `path` (`/package.Service/Method`).
fn rpc_span(side: Side, path: &str) -> Span {
    let name = path.strip_prefix('/').unwrap_or(path);
    let (service, method) = name.rsplit_once('/').unwrap_or((name, ""));
    let span = match side {
        Side::Server => tracing::info_span!(
            "grpc.server",
            otel.name = name,
            otel.kind = "server",
            trace_id = tracing::field::Empty
        ),
        Side::Client => tracing::info_span!(
            "grpc.client",
            otel.name = name,
            otel.kind = "client",
            trace_id = tracing::field::Empty
        ),
    };
    // Set on the OpenTelemetry span only, so that log lines do not repeat them.
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", service.to_string());
    span.set_attribute("rpc.method", method.to_string());
    span
}

/// Server span for `req`: its parent is the context in the `traceparent` header, and without
/// one (or with an invalid one) it starts a new trace.
fn server_span<B>(req: &http::Request<B>) -> Span {
    let span = rpc_span(Side::Server, req.uri().path());
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract_with_context(
                &opentelemetry::Context::new(),
                &HeaderExtractor(req.headers()),
            )
        });
        // Fails only when no OpenTelemetry layer is installed: nothing to link then.
        let _ = span.set_parent(parent);
        record_trace_id(&span, &span.context());
    }
    span
}

/// Puts the span's trace id into its `trace_id` field, so that every log line written inside
/// the call names its trace (nothing when no OpenTelemetry layer is installed).
fn record_trace_id(span: &Span, cx: &opentelemetry::Context) {
    use opentelemetry::trace::TraceContextExt as _;
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        span.record("trace_id", tracing::field::display(sc.trace_id()));
    }
}

/// Client span for `req` (a child of the current span), with its context injected into the
/// request headers.
fn client_span<B>(req: &mut http::Request<B>) -> Span {
    let span = rpc_span(Side::Client, req.uri().path());
    if !span.is_disabled() {
        let cx = span.context();
        record_trace_id(&span, &cx);
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut HeaderInjector(req.headers_mut()))
        });
    }
    span
}

/// Whether `code` marks the span as failed: every non-OK code for a client; for a server only
/// the codes that mean the server failed (a refused request is the caller's problem).
fn is_error(side: Side, code: Code) -> bool {
    match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    }
}

/// Records the gRPC status in `headers` (response headers of a trailers-only response, or
/// trailers), if there is one.
fn record_status(span: &Span, side: Side, headers: &HeaderMap) {
    if let Some(status) = tonic::Status::from_header_map(headers) {
        span.set_attribute("rpc.grpc.status_code", status.code() as i64);
        if is_error(side, status.code()) {
            span.set_status(SpanStatus::error(status.message().to_string()));
        }
    }
}

/// Server layer: one span per incoming call, child of the caller's trace context. Installed
/// by [`crate::server::builder`] around every service.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerTraceLayer;

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;

    fn layer(&self, inner: S) -> ServerTrace<S> {
        ServerTrace { inner }
    }
}

/// The service [`ServerTraceLayer`] wraps around a server.
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for ServerTrace<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Error: Display,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let span = server_span(&req);
        let inner = span.in_scope(|| self.inner.call(req));
        TracedFuture {
            inner,
            span,
            side: Side::Server,
        }
    }
}

/// Client layer: one span per outgoing call, child of the current span, whose context goes
/// to the server in the `traceparent` header. Every service-to-service channel has it
/// ([`crate::server::service_channel`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceLayer;

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;

    fn layer(&self, inner: S) -> ClientTrace<S> {
        ClientTrace { inner }
    }
}

/// The service [`ClientTraceLayer`] wraps around a channel.
#[derive(Debug, Clone)]
pub struct ClientTrace<S> {
    inner: S,
}

impl<S> ClientTrace<S> {
    pub fn new(inner: S) -> Self {
        ClientTrace { inner }
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for ClientTrace<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Error: Display,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The original caller's credentials go along (the upstream authorizes that caller);
        // outside a call the service calls as itself (its mutual-TLS certificate).
        if let Some(authorization) = crate::auth::caller_authorization() {
            req.headers_mut()
                .entry(http::header::AUTHORIZATION)
                .or_insert(authorization);
        }
        let span = client_span(&mut req);
        let inner = span.in_scope(|| self.inner.call(req));
        TracedFuture {
            inner,
            span,
            side: Side::Client,
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`ServerTrace`] and [`ClientTrace`]: polls the call inside its span
    /// and hands the span on to the response body.
    pub struct TracedFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        side: Side,
    }
}

impl<F, ResBody, E> Future for TracedFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    E: Display,
{
    type Output = Result<http::Response<TracedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        let span = std::mem::replace(this.span, Span::none());
        let side = *this.side;
        Poll::Ready(match result {
            Ok(response) => {
                // A trailers-only response (how a handler's error is sent) has the status here.
                record_status(&span, side, response.headers());
                Ok(response.map(|inner| TracedBody { inner, span, side }))
            }
            Err(e) => {
                span.set_status(SpanStatus::error(e.to_string()));
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its call's span open until it is dropped, and records the
    /// status in its trailers.
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Span,
        side: Side,
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body,
    B::Error: Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let _entered = this.span.enter();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    record_status(this.span, *this.side, trailers);
                }
            }
            Some(Err(e)) => this.span.set_status(SpanStatus::error(e.to_string())),
            None => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanId, SpanKind, Status, TracerProvider as _};
    use opentelemetry::{KeyValue, Value};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tokio::net::TcpListener;
    use tonic::transport::server::TcpIncoming;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use crate::server::{self, Limits};

    const CHECK: &str = "grpc.health.v1.Health/Check";

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|KeyValue { key: k, .. }| k.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn by_id(spans: &[SpanData], id: SpanId) -> &SpanData {
        spans
            .iter()
            .find(|s| s.span_context.span_id() == id)
            .unwrap_or_else(|| panic!("no span {id}: {spans:#?}"))
    }

    /// A real server (health service, the standard builder) and a real client over loopback,
    /// all on this thread so the thread-local subscriber sees both ends.
    #[tokio::test(flavor = "current_thread")]
    async fn trace_context_crosses_the_call() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        // As in the services: INFO, so h2's and hyper's own spans stay out.
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (_reporter, health) = server::health();
        tokio::spawn(
            server::builder(Limits::default())
                .add_service(health)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );

        let mut traced = HealthClient::new(server::service_channel(&url).unwrap());
        let check = |service: &str| HealthCheckRequest {
            service: service.into(),
        };
        let ok = traced.check(check(""));
        ok.instrument(tracing::info_span!("caller_ok"))
            .await
            .unwrap();
        let missing = traced.check(check("no.such.Service"));
        let err = missing
            .instrument(tracing::info_span!("caller_missing"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        // A caller that sends no trace context (a plain channel).
        let plain = server::client_endpoint(&url).unwrap().connect_lazy();
        HealthClient::new(plain).check(check("")).await.unwrap();

        // Spans end when their response bodies are dropped: poll briefly.
        let mut spans = Vec::new();
        for _ in 0..100 {
            spans = exporter.get_finished_spans().unwrap();
            let servers = spans.iter().filter(|s| s.span_kind == SpanKind::Server);
            if servers.count() == 3 && spans.len() == 7 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            spans.len(),
            7,
            "2 callers, 2 client and 3 server spans: {spans:#?}"
        );

        let clients: Vec<_> = spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Client)
            .collect();
        assert_eq!(clients.len(), 2);
        for client in &clients {
            assert_eq!(client.name, CHECK);
            assert_eq!(attr(client, "rpc.system"), Some(&Value::from("grpc")));
            assert_eq!(
                attr(client, "rpc.service"),
                Some(&Value::from("grpc.health.v1.Health"))
            );
            assert_eq!(attr(client, "rpc.method"), Some(&Value::from("Check")));
            let caller = by_id(&spans, client.parent_span_id);
            assert_eq!(
                caller.span_context.trace_id(),
                client.span_context.trace_id()
            );
            // The server span of the same call: a remote child of the client span.
            let server = spans
                .iter()
                .find(|s| {
                    s.span_kind == SpanKind::Server
                        && s.parent_span_id == client.span_context.span_id()
                })
                .unwrap_or_else(|| panic!("no server span under {client:#?}"));
            assert_eq!(server.name, CHECK);
            assert!(server.parent_span_is_remote);
            assert_eq!(
                server.span_context.trace_id(),
                client.span_context.trace_id()
            );
            assert_eq!(attr(server, "rpc.service"), attr(client, "rpc.service"));
            assert_eq!(attr(server, "rpc.method"), attr(client, "rpc.method"));
            match caller.name.as_ref() {
                "caller_ok" => {
                    for s in [*client, server] {
                        assert_eq!(attr(s, "rpc.grpc.status_code"), Some(&Value::I64(0)));
                        assert_eq!(s.status, Status::Unset);
                    }
                }
                "caller_missing" => {
                    for s in [*client, server] {
                        assert_eq!(attr(s, "rpc.grpc.status_code"), Some(&Value::I64(5)));
                    }
                    // NOT_FOUND fails the call for the client, but is no server error.
                    assert!(matches!(client.status, Status::Error { .. }));
                    assert_eq!(server.status, Status::Unset);
                }
                other => panic!("unexpected parent {other}"),
            }
        }

        // Without a traceparent the server span starts a trace of its own.
        let root = spans
            .iter()
            .find(|s| s.span_kind == SpanKind::Server && s.parent_span_id == SpanId::INVALID)
            .unwrap_or_else(|| panic!("no root server span: {spans:#?}"));
        assert!(
            clients
                .iter()
                .all(|c| c.span_context.trace_id() != root.span_context.trace_id())
        );
    }

    /// A writer into a shared buffer, for capturing log lines.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// As in the services without OTLP (a tracer provider without exporter): the log lines of
    /// a call name the caller's trace id, on both ends.
    #[tokio::test(flavor = "current_thread")]
    async fn log_lines_carry_the_trace_id_without_an_exporter() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (_reporter, health) = server::health();
        tokio::spawn(
            server::builder(Limits::default())
                .add_service(health)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        let caller = tracing::info_span!("caller");
        let trace_id = caller.context().span().span_context().trace_id();
        let mut client = HealthClient::new(server::service_channel(&url).unwrap());
        client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .instrument(caller)
            .await
            .unwrap();
        let wanted = format!("trace_id={trace_id}");
        let mut text = String::new();
        for _ in 0..100 {
            text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(&wanted)).collect();
            if lines.iter().any(|l| l.contains("grpc.server"))
                && lines.iter().any(|l| l.contains("grpc.client"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no server and client log line with {wanted}:\n{text}");
    }
}
