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
//! they are accepted, and a connection with no call open for [`AdmissionConfig::idle_timeout`] is
//! closed (its slot comes back; a client reconnects on its next call). Keepalive pings do not
//! make a connection busy: only calls do, from their request to the end of their response. [`Admission::in_flight`], [`Admission::queued`] and the counters are for
//! metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::Connected;
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;

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
    /// A connection with no call open for this long is closed (`GOUJI_IDLE_TIMEOUT_MS`, default
    /// 5 min).
    pub idle_timeout: Duration,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_in_flight: 64,
            max_queued: 64,
            max_queue_wait: Duration::from_millis(2_000),
            retry_after: Duration::from_millis(1_000),
            max_connections: 1_024,
            idle_timeout: Duration::from_secs(5 * 60),
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
            idle_timeout: var("GOUJI_IDLE_TIMEOUT_MS")
                .filter(|&n| n > 0)
                .map(Duration::from_millis)
                .unwrap_or(d.idle_timeout),
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
                activity: Arc::new(Activity::new()),
                idle_timeout: self.shared.config.idle_timeout,
                idle_timer: None,
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
        // The call keeps its connection busy until its response body is dropped.
        let open_call = connection_activity(&req).map(Activity::open_call);
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
            Ok(response.map(|inner| {
                tonic::body::Body::new(Guarded {
                    inner,
                    _guard: open_call,
                })
            }))
        })
    }
}

/// The calls open on one connection, and since when it has had none: what its idle timer reads.
#[derive(Debug)]
pub struct Activity {
    open_calls: AtomicUsize,
    /// When the last call closed, or the connection opened.
    idle_since: std::sync::Mutex<Instant>,
    /// The connection's reader, waiting while calls are open; woken when the last one closes
    /// so that it arms the idle timer.
    reader: std::sync::Mutex<Option<std::task::Waker>>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            open_calls: AtomicUsize::new(0),
            idle_since: std::sync::Mutex::new(Instant::now()),
            reader: std::sync::Mutex::new(None),
        }
    }

    /// Marks a call open until the returned guard is dropped.
    fn open_call(self: &Arc<Self>) -> OpenCall {
        self.open_calls.fetch_add(1, Ordering::AcqRel);
        OpenCall(Arc::clone(self))
    }

    /// Calls open now.
    pub fn open_calls(&self) -> usize {
        self.open_calls.load(Ordering::Acquire)
    }

    fn idle_since(&self) -> Instant {
        *self.idle_since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One open call on a connection ([`Activity::open_call`]).
struct OpenCall(Arc<Activity>);

impl Drop for OpenCall {
    fn drop(&mut self) {
        let a = &self.0;
        // Idle from now: the time is set before the count drops, so a reader that sees no call
        // open also sees when the last one closed.
        *a.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        if a.open_calls.fetch_sub(1, Ordering::AcqRel) == 1 {
            let reader = a.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = reader {
                w.wake();
            }
        }
    }
}

/// The connection information tonic puts into every request of a [`Limited`] connection: the
/// inner connection's, and the connection's [`Activity`].
#[derive(Debug, Clone)]
pub struct LimitedInfo<I> {
    /// The inner connection's information (addresses).
    pub inner: I,
    activity: Arc<Activity>,
}

/// The [`Activity`] of the connection a request came on (plain or TLS), if it is [`Limited`].
fn connection_activity<B>(req: &http::Request<B>) -> Option<&Arc<Activity>> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let ext = req.extensions();
    ext.get::<LimitedInfo<TcpConnectInfo>>()
        .map(|i| &i.activity)
        .or_else(|| {
            ext.get::<TlsConnectInfo<LimitedInfo<TcpConnectInfo>>>()
                .map(|i| &i.get_ref().activity)
        })
}

pin_project_lite::pin_project! {
    /// A response body holding a guard until it is dropped.
    struct Guarded<B, G> {
        #[pin]
        inner: B,
        _guard: G,
    }
}

impl<B: http_body::Body, G> http_body::Body for Guarded<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// An accepted connection holding one of [`AdmissionConfig::max_connections`] slots until it
    /// is dropped, and closed once it has had no call open for [`AdmissionConfig::idle_timeout`]:
    /// its reads then end (EOF), so the HTTP/2 connection closes.
    pub struct Limited<IO> {
        #[pin]
        io: IO,
        _permit: OwnedSemaphorePermit,
        activity: Arc<Activity>,
        idle_timeout: Duration,
        idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<IO> Limited<IO> {
    /// The connection's calls.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = LimitedInfo<IO::ConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        LimitedInfo {
            inner: self.io.connect_info(),
            activity: Arc::clone(&self.activity),
        }
    }
}

impl<IO: AsyncRead> AsyncRead for Limited<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        if let ready @ Poll::Ready(_) = this.io.poll_read(cx, buf) {
            return ready;
        }
        // Nothing to read. Calls open: wait to be woken by the last one closing (registered
        // before the count is read, so that wake-up cannot be missed).
        let activity = &**this.activity;
        *activity.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        if activity.open_calls() > 0 {
            *this.idle_timer = None;
            return Poll::Pending;
        }
        let deadline = tokio::time::Instant::from_std(activity.idle_since() + *this.idle_timeout);
        let timer = this
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!(
                    idle_timeout_ms = this.idle_timeout.as_millis() as u64,
                    "idle connection closed"
                );
                // End of stream: hyper closes the connection; the slot comes back on drop.
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
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
            idle_timeout: Duration::from_millis(50),
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

    #[tokio::test]
    async fn a_connection_is_closed_once_it_has_had_no_call_for_the_idle_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let a = small(); // idle timeout 50 ms
        let (mut peer, io) = tokio::io::duplex(64);
        let mut conn = a.connection(io).unwrap();
        let mut buf = [0u8; 8];
        // A call open: bytes are read as usual and nothing closes, long past the timeout.
        let call = conn.activity().open_call();
        peer.write_all(b"ping").await.unwrap();
        assert_eq!(conn.read(&mut buf).await.unwrap(), 4);
        let waited = tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf)).await;
        assert!(waited.is_err(), "closed while a call was open: {waited:?}");
        // The last call closes: the read ends (EOF) once the connection has been idle.
        drop(call);
        assert_eq!(conn.activity().open_calls(), 0);
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
        assert_eq!(closed.expect("closed when idle").unwrap(), 0);
        assert_eq!(a.connections(), 1);
        drop(conn);
        assert_eq!(a.connections(), 0);
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
