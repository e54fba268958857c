//! Per-call server metrics: [`ServerMetricsLayer`] counts every call in flight and records its
//! duration with its gRPC status code when the status has been sent — in the response headers
//! of a trailers-only answer (how tonic sends a handler's error) or in the trailers after the
//! body. A call whose response future or body is dropped before a status (the client went
//! away, the connection broke) is recorded as `CANCELLED`.
//!
//! `rpc.service` / `rpc.method` are the path's parts when the path is one of the methods in
//! the compiled descriptors (Gouji, health, reflection), else `unknown`: a client calling
//! made-up paths cannot grow the number of series.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::KeyValue;
use prost::Message as _;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;

/// `/package.Service/Method` of every method this binary can serve.
static KNOWN_PATHS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut paths = HashSet::new();
    for set in [
        gouji_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(fds) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in fds.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let service_name = service.name.unwrap_or_default();
                let full = if package.is_empty() {
                    service_name
                } else {
                    format!("{package}.{service_name}")
                };
                for method in service.method {
                    paths.insert(format!("/{full}/{}", method.name.unwrap_or_default()));
                }
            }
        }
    }
    paths
});

/// `(rpc.service, rpc.method)` labels of a request path.
pub fn rpc_labels(path: &str) -> (String, String) {
    if KNOWN_PATHS.contains(path)
        && let Some((service, method)) = path.trim_start_matches('/').rsplit_once('/')
    {
        return (service.to_string(), method.to_string());
    }
    ("unknown".to_string(), "unknown".to_string())
}

/// The canonical name of a gRPC code (`OK`, `INVALID_ARGUMENT`, …), as the label value.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One call being measured: counted in flight from creation until it is recorded or dropped.
struct CallRecord {
    labels: [KeyValue; 2],
    started: Instant,
    done: bool,
}

impl CallRecord {
    fn start(path: &str) -> CallRecord {
        let (service, method) = rpc_labels(path);
        let labels = [
            KeyValue::new("rpc.service", service),
            KeyValue::new("rpc.method", method),
        ];
        super::global().rpc_in_flight.add(1, &labels);
        CallRecord {
            labels,
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: Code) {
        if self.done {
            return;
        }
        self.done = true;
        let m = super::global();
        m.rpc_in_flight.add(-1, &self.labels);
        let [service, method] = self.labels.clone();
        m.rpc_duration.record(
            self.started.elapsed().as_secs_f64(),
            &[service, method, KeyValue::new("grpc.code", code_name(code))],
        );
    }

    /// Records the status in `headers`, if there is one; true when recorded.
    fn finish_from(&mut self, headers: &HeaderMap) -> bool {
        match tonic::Status::from_header_map(headers) {
            Some(status) => {
                self.finish(status.code());
                true
            }
            None => false,
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// Server layer recording [`crate::metrics`]' per-call instruments; installed by
/// [`crate::server::builder`] around every service.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerMetricsLayer;

impl<S> Layer<S> for ServerMetricsLayer {
    type Service = ServerMetrics<S>;

    fn layer(&self, inner: S) -> ServerMetrics<S> {
        ServerMetrics { inner }
    }
}

/// The service [`ServerMetricsLayer`] wraps around a server.
#[derive(Debug, Clone)]
pub struct ServerMetrics<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for ServerMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<MeasuredBody<ResBody>>;
    type Error = S::Error;
    type Future = MeasuredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let record = CallRecord::start(req.uri().path());
        MeasuredFuture {
            inner: self.inner.call(req),
            record: Some(record),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`ServerMetrics`]: hands the call's record on to the body.
    pub struct MeasuredFuture<F> {
        #[pin]
        inner: F,
        record: Option<CallRecord>,
    }
}

impl<F, ResBody, E> Future for MeasuredFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<MeasuredBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut record = this.record.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(r) = record.as_mut()
                    && r.finish_from(response.headers())
                {
                    record = None;
                }
                Ok(response.map(|inner| MeasuredBody { inner, record }))
            }
            Err(e) => {
                // The transport failed the call (no HTTP response at all).
                if let Some(mut r) = record {
                    r.finish(Code::Unknown);
                }
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// Response body of [`ServerMetrics`]: records the call at its trailers (or, without
    /// trailers, at the end of the body).
    pub struct MeasuredBody<B> {
        #[pin]
        inner: B,
        record: Option<CallRecord>,
    }
}

impl<B: Body> Body for MeasuredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(trailers) = f.trailers_ref()
                    && let Some(r) = this.record.as_mut()
                    && r.finish_from(trailers)
                {
                    *this.record = None;
                }
            }
            Some(Err(_)) => {
                if let Some(mut r) = this.record.take() {
                    r.finish(Code::Unknown);
                }
            }
            None => {
                // A body that ended without a status: gRPC's default status is OK only with
                // trailers, so this is a broken call.
                if let Some(mut r) = this.record.take() {
                    r.finish(Code::Unknown);
                }
            }
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
    use super::*;

    #[test]
    fn only_served_methods_get_their_own_labels() {
        assert_eq!(
            rpc_labels("/gouji.ingestion.v1.IngestionService/SubmitReport"),
            (
                "gouji.ingestion.v1.IngestionService".to_string(),
                "SubmitReport".to_string()
            )
        );
        assert_eq!(
            rpc_labels("/grpc.health.v1.Health/Check").1,
            "Check".to_string()
        );
        for junk in [
            "/gouji.ingestion.v1.IngestionService/Nope",
            "/x/y",
            "/",
            "",
            "/gouji.ingestion.v1.IngestionService/SubmitReport/extra",
        ] {
            assert_eq!(rpc_labels(junk).0, "unknown", "{junk}");
        }
    }
}
