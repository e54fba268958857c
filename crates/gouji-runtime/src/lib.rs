//! Shared service plumbing for the Gouji binaries: telemetry, the one place that maps errors to
//! gRPC status codes, a server harness (health, reflection, limits, graceful shutdown), and the
//! CPU gate every CPU-bound request step goes through (`cpu`).

pub mod cpu;
pub mod process;
pub mod server;
pub mod status;
pub mod telemetry;
