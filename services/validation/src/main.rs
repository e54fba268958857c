//! `gouji-validation`: the validation gRPC service binary.

use clap::Parser;
use gouji_runtime::server::{self, Limits};
use gouji_validation::Validator;

#[derive(Parser)]
#[command(
    name = "gouji-validation",
    version,
    about = "Gouji validation service (勾稽 rules)"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, env = "GOUJI_LISTEN", default_value = "127.0.0.1:50051")]
    listen: String,
    /// Address of the Prometheus `/metrics` endpoint (e.g. `0.0.0.0:9090`); off when unset.
    #[arg(long, env = "GOUJI_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    #[command(flatten)]
    security: gouji_runtime::auth::SecurityArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = gouji_runtime::telemetry::init("gouji-validation");
    let mut listening = vec![args.listen.as_str()];
    listening.extend(args.metrics_listen.as_deref());
    args.security.install("gouji-validation", &listening)?;
    let _metrics = gouji_runtime::metrics::prometheus::serve(
        "gouji-validation",
        args.metrics_listen.as_deref(),
    )
    .await?;
    let limits = Limits::default();
    let (router, reporter) = server::standard_router(limits)?;
    let router = router.add_service(Validator.into_server(limits));
    server::serve::<gouji_validation::Server>("gouji-validation", &args.listen, router, reporter)
        .await
}
