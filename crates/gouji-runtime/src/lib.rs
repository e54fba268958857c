//! Shared service plumbing for the Gouji binaries: telemetry, the one place that maps errors to
//! gRPC status codes, and a server harness (health, reflection, limits, graceful shutdown).

pub mod process;
pub mod server;
pub mod status;
pub mod telemetry;
