//! `gouji-ingestion`: the ingestion gRPC service binary (system of record).

use std::time::Duration;

use clap::Parser;
use gouji_ingestion::{Ingestion, IngestionLimits, ValidationClient, transport_limits, validator};
use gouji_runtime::{server, store_health};
use gouji_store::Store;

#[derive(Parser)]
#[command(
    name = "gouji-ingestion",
    version,
    about = "Gouji ingestion service: units, report revisions and findings"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, env = "GOUJI_LISTEN", default_value = "127.0.0.1:50052")]
    listen: String,
    /// `sqlite:PATH` (embedded, the default) or `postgres://…`. Prefer the environment or
    /// `--database-url-file` for a URL with a password (arguments are visible to every user).
    #[arg(
        long,
        env = "GOUJI_DATABASE_URL",
        default_value = "sqlite:gouji.db",
        hide_env_values = true
    )]
    database_url: String,
    /// A file holding the database URL (e.g. a mounted Secret); wins over `--database-url`.
    #[arg(long, env = "GOUJI_DATABASE_URL_FILE")]
    database_url_file: Option<std::path::PathBuf>,
    /// The validation service.
    #[arg(
        long,
        env = "GOUJI_VALIDATION_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    validation_url: String,
    /// Deadline of one validation call, in seconds.
    #[arg(long, env = "GOUJI_VALIDATION_TIMEOUT_SECS", default_value_t = 10)]
    validation_timeout_secs: u64,
    /// How often revisions left «validation pending» are retried, in milliseconds.
    #[arg(long, env = "GOUJI_REVALIDATE_INTERVAL_MS", default_value_t = 2000)]
    revalidate_interval_ms: u64,
    /// Longest delay between two validation attempts of one pending revision (the delay starts
    /// at the revalidation interval and doubles after each failed attempt), in milliseconds.
    #[arg(long, env = "GOUJI_REVALIDATE_MAX_DELAY_MS", default_value_t = 300_000)]
    revalidate_max_delay_ms: u64,
    /// Answered validation errors after which a revision is failed for good (unreachable
    /// validation never counts).
    #[arg(long, env = "GOUJI_VALIDATION_MAX_FAILURES", default_value_t = 20)]
    validation_max_failures: u32,
    /// Address of the Prometheus `/metrics` endpoint (e.g. `0.0.0.0:9090`); off when unset.
    #[arg(long, env = "GOUJI_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    #[command(flatten)]
    security: gouji_runtime::auth::SecurityArgs,
    /// How often the store is probed for the `liveness` health status, in milliseconds.
    #[arg(long, env = "GOUJI_STORE_PROBE_INTERVAL_MS", default_value_t = 5000)]
    store_probe_interval_ms: u64,
    /// Longest wait for one store probe (a slower answer is a failed probe), in milliseconds.
    #[arg(long, env = "GOUJI_STORE_PROBE_TIMEOUT_MS", default_value_t = 3000)]
    store_probe_timeout_ms: u64,
    /// Failed store probes in a row before the `liveness` health status turns NOT_SERVING.
    #[arg(long, env = "GOUJI_STORE_PROBE_FAILURES", default_value_t = 3)]
    store_probe_failures: u32,
    /// Largest parsed report stored, in encoded bytes (at most the default, 48 MiB, so that a
    /// stored report and its findings always fit into one 64 MiB answer).
    #[arg(long, env = "GOUJI_MAX_STORED_REPORT_BYTES", default_value_t = gouji_ingestion::MAX_STORED_REPORT_BYTES)]
    max_stored_report_bytes: usize,
}

/// The database URL: the file's first line when `--database-url-file` is given, else
/// `--database-url` / `GOUJI_DATABASE_URL`.
fn database_url(args: &Args) -> anyhow::Result<String> {
    let Some(path) = &args.database_url_file else {
        return Ok(args.database_url.clone());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!("cannot read the database URL file {}: {e}", path.display())
    })?;
    let url = text.lines().next().unwrap_or("").trim();
    anyhow::ensure!(
        !url.is_empty(),
        "the database URL file {} is empty",
        path.display()
    );
    Ok(url.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = gouji_runtime::telemetry::init("gouji-ingestion");
    let mut listening = vec![args.listen.as_str()];
    listening.extend(args.metrics_listen.as_deref());
    args.security.install("gouji-ingestion", &listening)?;
    let _metrics = gouji_runtime::metrics::prometheus::serve(
        "gouji-ingestion",
        args.metrics_listen.as_deref(),
    )
    .await?;
    let limits = IngestionLimits {
        max_stored_report_bytes: args
            .max_stored_report_bytes
            .min(gouji_ingestion::MAX_STORED_REPORT_BYTES),
        ..IngestionLimits::default()
    };
    let transport = transport_limits(&limits);
    // Health reports SERVING only once `serve` runs, i.e. after the migrations below succeeded.
    let store = Store::open(&database_url(&args)?)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open store: {e}"))?;
    tracing::info!(backend = store.backend_name(), "store ready");
    let validation = ValidationClient::lazy(
        &args.validation_url,
        Duration::from_secs(args.validation_timeout_secs),
        transport.max_response_bytes,
    )?
    .with_retry_policy(validator::RetryPolicy {
        first_delay: Duration::from_millis(args.revalidate_interval_ms),
        max_delay: Duration::from_millis(args.revalidate_max_delay_ms),
        max_failures: args.validation_max_failures.max(1),
        ..validator::RetryPolicy::default()
    });
    let revalidator = tokio::spawn(validator::revalidate_pending(
        store.clone(),
        validation.clone(),
        Duration::from_millis(args.revalidate_interval_ms),
    ));
    let service = Ingestion::new(store.clone(), validation, limits);
    let (router, reporter) = server::standard_router(transport)?;
    let probe = store_health::spawn(
        store.clone(),
        reporter.clone(),
        store_health::StoreProbe {
            interval: Duration::from_millis(args.store_probe_interval_ms.max(1)),
            timeout: Duration::from_millis(args.store_probe_timeout_ms.max(1)),
            failures: args.store_probe_failures.max(1),
        },
    );
    let router = router.add_service(service.into_server(transport));
    let served =
        server::serve::<gouji_ingestion::Server>("gouji-ingestion", &args.listen, router, reporter)
            .await;
    revalidator.abort();
    probe.abort();
    store.close().await;
    served
}
