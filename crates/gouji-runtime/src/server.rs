//! Server harness: binds, registers health and reflection, serves until SIGTERM/SIGINT; and the
//! channels services call each other over. Both ends carry trace context
//! ([`crate::telemetry::grpc`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
use tonic_health::server::HealthReporter;
use tower_layer::{Identity, Stack};

use crate::admission::{Admission, AdmissionLayer};
use crate::auth::AuthLayer;
use crate::metrics::grpc::ServerMetricsLayer;
use crate::telemetry::grpc::{ClientTrace, ServerTraceLayer};
use tokio_stream::StreamExt as _;

/// The layers around every service, outermost first: [`ServerTraceLayer`] (one span per call,
/// child of the caller's trace), [`ServerMetricsLayer`] (per-call duration, status and in-flight
/// count, shed and refused calls included), authentication ([`crate::auth::AuthLayer`]: an
/// unauthenticated caller takes no admission slot), then admission control
/// ([`crate::admission`]).
pub type Layers = Stack<
    AdmissionLayer,
    Stack<AuthLayer, Stack<ServerMetricsLayer, Stack<ServerTraceLayer, Identity>>>,
>;

/// [`Layers`], by the name the metrics code uses.
pub type ServerLayers = Layers;

/// The server builder every service uses: tonic's, with [`Layers`].
pub type Builder = tonic::transport::Server<Layers>;

/// A router made from a [`Builder`].
pub type Router = tonic::transport::server::Router<Layers>;

/// A channel to another Gouji service whose calls carry the caller's trace context.
pub type ServiceChannel = ClientTrace<Channel>;

/// Largest content a submission may carry and one message may carry between services: a
/// document's bytes, or a structured report's encoded size. The parser's document limit.
/// Ingestion refuses larger content before storing anything, so whatever it stores fits into
/// a `ValidateReport` request (see `docs/hardening.md`).
pub const MAX_CONTENT_BYTES: usize = gouji_domain::parse::MAX_DOCUMENT_BYTES;

/// Room for everything else in a message that carries content (the other fields, tags, the
/// report context).
pub const ENVELOPE_BYTES: usize = 1024 * 1024;

/// Explicit limits every service applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request message accepted (bytes).
    pub max_request_bytes: usize,
    /// Largest response message sent (bytes).
    pub max_response_bytes: usize,
    /// Server-side deadline for one call when the client sets none.
    pub request_timeout: Duration,
    /// Calls in flight per connection.
    pub concurrency_per_connection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Content of the maximal size plus its envelope: a maximal stored document or report
            // always fits into a validation request.
            max_request_bytes: MAX_CONTENT_BYTES + ENVELOPE_BYTES,
            max_response_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            concurrency_per_connection: 256,
        }
    }
}

/// HTTP/2 flow-control window per stream (bytes). Documents are 50–300 KB and structured reports
/// larger; with the HTTP/2 default of 64 KiB every such message waits for window updates.
pub const HTTP2_STREAM_WINDOW: u32 = 1 << 20;
/// HTTP/2 flow-control window per connection (bytes), shared by the streams in flight.
pub const HTTP2_CONNECTION_WINDOW: u32 = 8 << 20;
/// Largest HTTP/2 frame a peer may send (bytes; the HTTP/2 default is 16 KiB). A 74 KiB
/// structured report then travels as one DATA frame instead of five, each of which costs the
/// sender and the receiver a pass through h2's flow control and framing. A connection buffers at
/// most one frame of this size while it reads it.
pub const HTTP2_MAX_FRAME: u32 = 1 << 20;

/// When a call must be answered: now plus the client's `grpc-timeout`, at most the server's own
/// `request_timeout` ([`Limits`]). Work past it is wasted: the server's timeout answers the call
/// then.
pub fn deadline<T>(request: &tonic::Request<T>, request_timeout: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    let client = request
        .metadata()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout);
    now + client.map_or(request_timeout, |c| c.min(request_timeout))
}

/// A `grpc-timeout` value: at most 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Interval of the HTTP/2 keepalive pings a server sends on every connection.
pub const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// A connection whose peer does not answer a keepalive ping within this is closed.
pub const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive on accepted connections (dead peers behind a NAT are found even without
/// HTTP/2 traffic).
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// A connection older than this is asked to go away (GOAWAY; the client reconnects), so no
/// connection, idle or not, is held forever.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(15 * 60);
/// Calls in flight on a connection that is going away get this long to finish.
pub const MAX_CONNECTION_AGE_GRACE: Duration = Duration::from_secs(30);
/// Streams reset by a client before the server accepted them, at most, per connection
/// (protection against rapid-reset floods).
pub const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 64;

/// A server builder with the standard settings (timeout, keepalive, connection age, nodelay,
/// HTTP/2 windows), a server span and metrics per call and the process's admission control
/// ([`Admission::global`]).
pub fn builder(limits: Limits) -> Builder {
    // The admission queue's depth, exported once per process (the dashboard's admission panel).
    static ADMISSION_GAUGES: std::sync::Once = std::sync::Once::new();
    ADMISSION_GAUGES.call_once(|| {
        crate::metrics::global().register_admission(
            || Admission::global().in_flight() as u64,
            || Admission::global().queued() as u64,
        );
    });
    let mut server = tonic::transport::Server::builder();
    // TLS on every port when the process runs with credentials (checked at install).
    if let Some(tls) = crate::auth::server_tls() {
        server = server
            .tls_config(tls)
            .expect("TLS configuration checked by auth::SecurityArgs::install");
    }
    server
        .timeout(limits.request_timeout)
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .max_concurrent_streams(Some(limits.concurrency_per_connection as u32))
        .tcp_nodelay(true)
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .max_frame_size(HTTP2_MAX_FRAME)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_ACCEPT_RESET_STREAMS))
        .max_connection_age(MAX_CONNECTION_AGE)
        .max_connection_age_grace(MAX_CONNECTION_AGE_GRACE)
        .layer(ServerTraceLayer)
        .layer(ServerMetricsLayer)
        .layer(AuthLayer)
        .layer(Admission::global().layer())
}

/// A client endpoint for another Gouji service with the same transport settings as the servers
/// (nodelay, HTTP/2 windows) and a 2 s connect timeout; callers add per-call deadlines. When
/// the process runs with credentials the connection is TLS (an `http://` URL is taken as
/// `https://`) and the connection presents
/// this service's certificate (mutual TLS).
pub fn client_endpoint(url: &str) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    let tls = crate::auth::client_tls();
    let url = match (&tls, url.strip_prefix("http://")) {
        (Some(_), Some(rest)) => format!("https://{rest}"),
        _ => url.to_string(),
    };
    let endpoint = tonic::transport::Endpoint::from_shared(url)?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .max_frame_size(HTTP2_MAX_FRAME);
    match tls {
        Some(tls) => endpoint.tls_config(tls),
        None => Ok(endpoint),
    }
}

/// A lazily connecting channel to the Gouji service at `url` ([`client_endpoint`] settings)
/// that opens a client span per call and sends its trace context along. Every
/// service-to-service client is built on one.
pub fn service_channel(url: &str) -> Result<ServiceChannel, tonic::transport::Error> {
    Ok(ClientTrace::new(client_endpoint(url)?.connect_lazy()))
}

/// The router every service starts from: [`builder`] with health and reflection added. The
/// caller adds its own service and hands router and reporter to [`serve`].
pub fn standard_router(limits: Limits) -> anyhow::Result<(Router, HealthReporter)> {
    let (reporter, health) = health();
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    let router = builder(limits)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((router, reporter))
}

/// Health service plus reporter; the caller marks services SERVING when ready.
pub fn health() -> (
    HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    tonic_health::server::health_reporter()
}

/// Reflection services (v1 and v1alpha) for Gouji, health and google.rpc error details.
pub fn reflection() -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gouji_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gouji_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    Ok((v1, v1alpha))
}

/// Binds `listen`, prints `<name> listening on <addr>` to stdout once bound (tests and scripts
/// read it when the port is 0), marks `S` SERVING, and serves until SIGTERM or Ctrl-C.
pub async fn serve<S: NamedService>(
    name: &str,
    listen: &str,
    router: Router,
    reporter: HealthReporter,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        crate::auth::installed().is_some(),
        "{name}: security not configured (auth::SecurityArgs::install)"
    );
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr: SocketAddr = listener.local_addr()?;
    // Health only, in plaintext, for probes that cannot speak TLS: the same statuses.
    let health_only = match crate::auth::health_listen() {
        Some(health_listen) => {
            let l = TcpListener::bind(health_listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {health_listen}: {e}"))?;
            println!("{name} health on {}", l.local_addr()?);
            let health = tonic_health::pb::health_server::HealthServer::new(
                tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
            );
            Some(tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(health)
                    .serve_with_incoming(TcpIncoming::from(l)),
            ))
        }
        None => None,
    };
    reporter.set_serving::<S>().await;
    println!("{name} listening on {addr}");
    tracing::info!(%addr, "{name} serving");
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("{name}: shutting down");
        reporter.set_not_serving::<S>().await;
    };
    // Every accepted connection holds one of the process's connection slots until it closes;
    // beyond the limit a connection is closed at once.
    let admission = Admission::global().clone();
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE))
        .filter_map(move |conn| match conn {
            Ok(io) => {
                let limited = admission.connection(io);
                // Logged at the 1st, 2nd, 4th, 8th, … refusal: a flood does not flood the log.
                if limited.is_none() && admission.refused_connections().is_power_of_two() {
                    tracing::warn!(
                        limit = admission.config().max_connections,
                        refused = admission.refused_connections(),
                        "connection limit reached: connection closed"
                    );
                }
                limited.map(Ok)
            }
            Err(e) => Some(Err(e)),
        });
    let served = router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    if let Some(h) = health_only {
        h.abort();
    }
    served?;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gouji_proto::validation::v1::{
        ReportContext, ValidateReportRequest, validate_report_request,
    };
    use prost::Message as _;

    #[test]
    fn grpc_timeouts_are_read_and_capped() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout(""), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        let mut req = tonic::Request::new(());
        req.metadata_mut()
            .insert("grpc-timeout", "1H".parse().unwrap());
        let d = deadline(&req, Duration::from_secs(30));
        assert!(d <= std::time::Instant::now() + Duration::from_secs(30));
    }

    /// The issue-12 case: a document of exactly the maximal size must fit into the request that
    /// carries it to validation (it used to exceed validation's limit by its envelope).
    #[test]
    fn a_maximal_document_fits_a_validation_request() {
        let req = ValidateReportRequest {
            input: Some(validate_report_request::Input::Document(vec![
                b'x';
                MAX_CONTENT_BYTES
            ])),
            context: Some(ReportContext {
                unit_type: 3,
                year: 2100,
            }),
            omit_report: true,
            ..Default::default()
        };
        assert!(req.encoded_len() <= Limits::default().max_request_bytes);
    }
}
