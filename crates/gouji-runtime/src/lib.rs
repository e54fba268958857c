//! Shared service plumbing for the Gouji binaries: authentication and authorization at the
//! edge (`auth`: TLS, bearer tokens, mutual TLS between services, development mode), telemetry, the one place that maps errors to
//! gRPC status codes, a server harness (health, reflection, limits, graceful shutdown), and the
//! CPU gate every CPU-bound request step goes through (`cpu`), admission control (bounded calls
//! in flight, a bounded wait queue and a connection limit per process: `admission`), the metrics
//! of all of it (`metrics`: OTLP and a Prometheus endpoint) and the store probe behind
//! ingestion's liveness (`store_health`), and the route that lets a handler decode its own
//! request on a CPU worker (`raw_route`).
//!
//! It also sets the global allocator of everything built on it (the three services, the `gouji`
//! CLI, their benches and the end-to-end tests): mimalloc. The parser, the protobuf decoder and
//! the rules allocate many small strings, and glibc's allocator cost 20–30 % of validation time
//! (docs/benchmarks-validation.md).

pub mod admission;
pub mod auth;
pub mod cpu;
pub mod metrics;
pub mod process;
pub mod raw_route;
pub mod server;
pub mod status;
pub mod store_health;
pub mod telemetry;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The response future of the tower layers that await before calling the inner service
/// (authentication, admission).
pub(crate) type BoxFuture<T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'static>>;
