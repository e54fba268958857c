//! `gouji-aggregation`: the aggregation gRPC service binary (部门汇总).

use clap::Parser;
use gouji_aggregation::{Aggregation, AggregationLimits, Upstreams};
use gouji_proto::aggregation::v1::aggregation_service_server::AggregationServiceServer;
use gouji_runtime::server::{self, Limits};

#[derive(Parser)]
#[command(
    name = "gouji-aggregation",
    version,
    about = "Gouji aggregation service: 部门汇总 from unit reports, compared with the filed one"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, env = "GOUJI_LISTEN", default_value = "127.0.0.1:50053")]
    listen: String,
    /// The ingestion service (unit reports are read from it).
    #[arg(
        long,
        env = "GOUJI_INGESTION_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    ingestion_url: String,
    /// The validation service (the consolidated report is validated there).
    #[arg(
        long,
        env = "GOUJI_VALIDATION_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    validation_url: String,
    /// Address of the Prometheus `/metrics` endpoint (e.g. `0.0.0.0:9090`); off when unset.
    #[arg(long, env = "GOUJI_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    #[command(flatten)]
    security: gouji_runtime::auth::SecurityArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = gouji_runtime::telemetry::init("gouji-aggregation");
    let mut listening = vec![args.listen.as_str()];
    listening.extend(args.metrics_listen.as_deref());
    args.security.install("gouji-aggregation", &listening)?;
    let _metrics = gouji_runtime::metrics::prometheus::serve(
        "gouji-aggregation",
        args.metrics_listen.as_deref(),
    )
    .await?;
    let limits = Limits::default();
    let upstreams = Upstreams::lazy(&args.ingestion_url, &args.validation_url)?;
    let service = Aggregation::new(upstreams, AggregationLimits::default());
    let (router, reporter) = server::standard_router(limits)?;
    let router = router.add_service(service.into_server(limits));
    server::serve::<AggregationServiceServer<Aggregation>>(
        "gouji-aggregation",
        &args.listen,
        router,
        reporter,
    )
    .await
}
