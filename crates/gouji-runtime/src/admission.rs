//! Admission control: a bounded number of calls in flight per service process, a bounded wait
//! queue in front of it, and a bounded number of connections.
//!
//! A call that finds every slot taken waits in FIFO order, at most
//! [`AdmissionConfig::max_queue_wait`]; a call that finds the queue full too is answered at once
//! with RESOURCE_EXHAUSTED, one that waited too long with UNAVAILABLE, both carrying a
//! `google.rpc.RetryInfo` of [`AdmissionConfig::retry_after`] (statuses built by
//! [`crate::status::overloaded`] and [`crate::status::queue_timeout`]). So under overload a client
//! learns within milliseconds to come back later, instead of waiting out its deadline, and the
//! calls admitted keep their latency. Health checks and reflection are never queued or shed:
//! health stays SERVING (and answers) under any load.
//!
//! A slot is held until the handler has produced its response (for a server stream: until the
//! stream starts). Connections beyond [`AdmissionConfig::max_connections`] are closed as soon as
//! they are accepted. [`Admission::in_flight`], [`Admission::queued`] and the counters are for
//! metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::Connected;
use tower_layer::Layer;
use tower_service::Service;

/// The bounds of one service process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Calls whose handler runs at once (`GOUJI_MAX_IN_FLIGHT`, default 64).
    pub max_in_flight: usize,
    /// Calls waiting for a slot (`GOUJI_MAX_QUEUED`, default 64); beyond: RESOURCE_EXHAUSTED.
    pub max_queued: usize,
    /// Longest wait for a slot (`GOUJI_MAX_QUEUE_WAIT_MS`, default 2,000 ms); beyond: UNAVAILABLE.
    pub max_queue_wait: Duration,
    /// Retry delay sent with a shed call (`GOUJI_RETRY_AFTER_MS`, default 1,000 ms).
    pub retry_after: Duration,
    /// Open connections (`GOUJI_MAX_CONNECTIONS`, default 1,024); more are closed on accept.
    pub max_connections: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_in_flight: 64,
            max_queued: 64,
            max_queue_wait: Duration::from_millis(2_000),
            retry_after: Duration::from_millis(1_000),
            max_connections: 1_024,
        }
    }
}

impl AdmissionConfig {
    /// The defaults, overridden by the `GOUJI_*` variables above (unparseable values and 0 for
    /// a count are ignored; a queue of 0 is allowed: shed as soon as every slot is taken).
    pub fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
        }
        let d = AdmissionConfig::default();
        AdmissionConfig {
            max_in_flight: var("GOUJI_MAX_IN_FLIGHT")
                .filter(|&n| n > 0)
                .unwrap_or(d.max_in_flight),
            max_queued: var("GOUJI_MAX_QUEUED").unwrap_or(d.max_queued),
            max_queue_wait: var("GOUJI_MAX_QUEUE_WAIT_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.max_queue_wait),
            retry_after: var("GOUJI_RETRY_AFTER_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.retry_after),
            max_connections: var("GOUJI_MAX_CONNECTIONS")
                .filter(|&n| n > 0)
                .unwrap_or(d.max_connections),
        }
    }
}

struct Shared {
    config: AdmissionConfig,
    slots: Arc<Semaphore>,
    connections: Arc<Semaphore>,
    queued: AtomicUsize,
    shed_full: AtomicU64,
    shed_waited: AtomicU64,
    refused_connections: AtomicU64,
}

/// One process's admission state; clones share it.
#[derive(Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

static GLOBAL: LazyLock<Admission> = LazyLock::new(|| Admission::new(AdmissionConfig::from_env()));

impl Admission {
    /// Admission with `config`.
    pub fn new(config: AdmissionConfig) -> Self {
        Admission {
            shared: Arc::new(Shared {
                config,
                slots: Arc::new(Semaphore::new(config.max_in_flight)),
                connections: Arc::new(Semaphore::new(config.max_connections)),
                queued: AtomicUsize::new(0),
                shed_full: AtomicU64::new(0),
                shed_waited: AtomicU64::new(0),
                refused_connections: AtomicU64::new(0),
            }),
        }
    }

    /// The process's admission (configured from the environment once), which
    /// [`crate::server::builder`] and [`crate::server::serve`] use.
    pub fn global() -> &'static Admission {
        &GLOBAL
    }

    /// The bounds.
    pub fn config(&self) -> AdmissionConfig {
        self.shared.config
    }

    /// Calls whose handler is running now.
    pub fn in_flight(&self) -> usize {
        self.shared.config.max_in_flight - self.shared.slots.available_permits()
    }

    /// Calls waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Calls answered RESOURCE_EXHAUSTED (queue full) so far.
    pub fn shed_queue_full(&self) -> u64 {
        self.shared.shed_full.load(Ordering::Relaxed)
    }

    /// Calls answered UNAVAILABLE (waited [`AdmissionConfig::max_queue_wait`]) so far.
    pub fn shed_queue_timeout(&self) -> u64 {
        self.shared.shed_waited.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.shared.config.max_connections - self.shared.connections.available_permits()
    }

    /// Connections closed on accept because the limit was reached, so far.
    pub fn refused_connections(&self) -> u64 {
        self.shared.refused_connections.load(Ordering::Relaxed)
    }

    /// The tower layer that queues and sheds calls.
    pub fn layer(&self) -> AdmissionLayer {
        AdmissionLayer {
            admission: self.clone(),
        }
    }

    /// Waits for a slot, or says why the call is shed.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, tonic::Status> {
        let s = &self.shared;
        if let Ok(permit) = Arc::clone(&s.slots).try_acquire_owned() {
            return Ok(permit);
        }
        if s.queued.fetch_add(1, Ordering::AcqRel) >= s.config.max_queued {
            s.queued.fetch_sub(1, Ordering::AcqRel);
            s.shed_full.fetch_add(1, Ordering::Relaxed);
            return Err(crate::status::overloaded(
                self.in_flight(),
                s.config.max_queued,
                s.config.retry_after,
            ));
        }
        // Leaves the queue however the wait ends (also when the caller goes away).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&s.queued);
        match tokio::time::timeout(
            s.config.max_queue_wait,
            Arc::clone(&s.slots).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                s.shed_waited.fetch_add(1, Ordering::Relaxed);
                Err(crate::status::queue_timeout(
                    s.config.max_queue_wait,
                    s.config.retry_after,
                ))
            }
        }
    }

    /// Wraps an accepted connection: it holds a connection slot until it closes. `None` (the
    /// connection is to be closed now) when every slot is taken.
    pub fn connection<IO>(&self, io: IO) -> Option<Limited<IO>> {
        match Arc::clone(&self.shared.connections).try_acquire_owned() {
            Ok(permit) => Some(Limited {
                io,
                _permit: permit,
            }),
            Err(_) => {
                self.shared
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// Paths never queued or shed: health checks and reflection.
fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

/// The layer of [`Admission::layer`].
#[derive(Clone)]
pub struct AdmissionLayer {
    admission: Admission,
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admitted<S>;

    fn layer(&self, inner: S) -> Admitted<S> {
        Admitted {
            inner,
            admission: self.admission.clone(),
        }
    }
}

/// A service behind [`AdmissionLayer`].
#[derive(Clone)]
pub struct Admitted<S> {
    inner: S,
    admission: Admission,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B, ResBody> Service<http::Request<B>> for Admitted<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the inner service is awaited once the call is admitted.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let mut inner = self.inner.clone();
        let admission = self.admission.clone();
        Box::pin(async move {
            let permit = if exempt(req.uri().path()) {
                None
            } else {
                match admission.admit().await {
                    Ok(p) => Some(p),
                    Err(status) => return Ok(status.into_http()),
                }
            };
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let response = inner.call(req).await?;
            drop(permit);
            Ok(response.map(tonic::body::Body::new))
        })
    }
}

pin_project_lite::pin_project! {
    /// An accepted connection holding one of [`AdmissionConfig::max_connections`] slots until it
    /// is dropped.
    pub struct Limited<IO> {
        #[pin]
        io: IO,
        _permit: OwnedSemaphorePermit,
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead> AsyncRead for Limited<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Limited<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Admission {
        Admission::new(AdmissionConfig {
            max_in_flight: 2,
            max_queued: 1,
            max_queue_wait: Duration::from_millis(100),
            retry_after: Duration::from_millis(250),
            max_connections: 1,
        })
    }

    #[tokio::test]
    async fn beyond_slots_and_queue_calls_are_shed_with_retry_info() {
        use tonic_types::StatusExt as _;
        let a = small();
        let p1 = a.admit().await.unwrap();
        let _p2 = a.admit().await.unwrap();
        assert_eq!(a.in_flight(), 2);
        // The third waits in the queue; the fourth finds the queue full.
        let waiting = {
            let a = a.clone();
            tokio::spawn(async move { a.admit().await.map(drop) })
        };
        while a.queued() == 0 {
            tokio::task::yield_now().await;
        }
        let full = a.admit().await.unwrap_err();
        assert_eq!(full.code(), tonic::Code::ResourceExhausted);
        let retry = full.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(250)));
        assert_eq!(a.shed_queue_full(), 1);
        // A slot frees: the queued call gets it.
        drop(p1);
        waiting.await.unwrap().unwrap();
        assert_eq!(a.queued(), 0);
        // Nobody frees a slot: the queued call gives up after the wait.
        let _p3 = a.admit().await.unwrap();
        let t = std::time::Instant::now();
        let waited = a.admit().await.unwrap_err();
        assert_eq!(waited.code(), tonic::Code::Unavailable);
        assert!(waited.get_details_retry_info().is_some());
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert_eq!((a.queued(), a.shed_queue_timeout()), (0, 1));
    }

    #[test]
    fn connections_beyond_the_limit_are_refused() {
        let a = small();
        let first = a.connection(());
        assert!(first.is_some());
        assert!(a.connection(()).is_none());
        assert_eq!((a.connections(), a.refused_connections()), (1, 1));
        drop(first);
        assert!(a.connection(()).is_some());
    }

    #[test]
    fn health_and_reflection_are_exempt() {
        assert!(exempt("/grpc.health.v1.Health/Check"));
        assert!(exempt(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!exempt(
            "/gouji.validation.v1.ValidationService/ValidateReport"
        ));
    }
}
