//! Support for the end-to-end tests: throwaway databases (SQLite file or a real PostgreSQL
//! database), the real service binaries started on loopback, gRPC clients, and the seeds.
//!
//! PostgreSQL comes from `GOUJI_TEST_POSTGRES_URL` (or `DATABASE_URL`), as printed by
//! `scripts/ci/start-postgres.sh`; each test creates and drops its own database. Without a URL
//! the PostgreSQL variants fail with a clear message, unless `GOUJI_SKIP_POSTGRES=1`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{self as ipb, RegisterUnitRequest};
use gouji_proto::report::v1 as rpb;
use gouji_runtime::process::ServiceProcess;
use tonic::transport::Channel;

/// Which store backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A throwaway database; dropped (PostgreSQL) or deleted (SQLite) by [`Database::drop_async`].
pub struct Database {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

fn pg_admin_url() -> Option<String> {
    std::env::var("GOUJI_TEST_POSTGRES_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

impl Database {
    /// A fresh database, or `None` when PostgreSQL was explicitly skipped.
    pub async fn create(backend: Backend) -> Option<Database> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("gouji.db").display());
                Some(Database {
                    url,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let Some(admin) = pg_admin_url() else {
                    if std::env::var("GOUJI_SKIP_POSTGRES").as_deref() == Ok("1") {
                        eprintln!("GOUJI_SKIP_POSTGRES=1: PostgreSQL variant skipped");
                        return None;
                    }
                    panic!(
                        "PostgreSQL tests need GOUJI_TEST_POSTGRES_URL or DATABASE_URL \
                         (eval \"$(scripts/ci/start-postgres.sh)\"), or GOUJI_SKIP_POSTGRES=1"
                    );
                };
                let name = unique_name("gouji_e2e");
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::Executor::execute(
                    &mut conn,
                    sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
                )
                .await
                .expect("create database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Some(Database {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// `(admin URL, database name)` of a PostgreSQL database (`None` for SQLite): for tests
    /// that act on the database from outside, e.g. refuse its connections.
    pub fn postgres_admin(&self) -> Option<(&str, &str)> {
        self.pg.as_ref().map(|(a, n)| (a.as_str(), n.as_str()))
    }

    /// Drops a PostgreSQL database (the SQLite directory goes with `self`).
    pub async fn drop_async(self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await
        {
            let _ = sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            )
            .await;
        }
    }
}

/// A name unique to this process and call.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A loopback port that was free a moment ago (for a service started later in the test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `gouji-validation` on `listen` (port 0 = any).
pub async fn start_validation(listen: &str) -> anyhow::Result<ServiceProcess> {
    start_validation_with_env(listen, &[]).await
}

/// As [`start_validation`], with extra environment variables (e.g. `OTEL_*`).
pub async fn start_validation_with_env(
    listen: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<ServiceProcess> {
    ServiceProcess::start("gouji-validation", &["--listen", listen], env, true).await
}

/// Starts `gouji-ingestion` on any port against `database_url` and the validation service
/// at `validation_url`, retrying pending validations every 200 ms.
pub async fn start_ingestion(
    database_url: &str,
    validation_url: &str,
) -> anyhow::Result<ServiceProcess> {
    start_ingestion_with_env(database_url, validation_url, &[]).await
}

/// As [`start_ingestion`], with extra environment variables (e.g. `OTEL_*`).
pub async fn start_ingestion_with_env(
    database_url: &str,
    validation_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<ServiceProcess> {
    ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--validation-url",
            validation_url,
            "--revalidate-interval-ms",
            "200",
        ],
        env,
        true,
    )
    .await
}

/// Starts `gouji-aggregation` on any port against the two other services.
pub async fn start_aggregation(
    ingestion_url: &str,
    validation_url: &str,
) -> anyhow::Result<ServiceProcess> {
    ServiceProcess::start(
        "gouji-aggregation",
        &[
            "--listen",
            "127.0.0.1:0",
            "--ingestion-url",
            ingestion_url,
            "--validation-url",
            validation_url,
        ],
        &[],
        true,
    )
    .await
}

/// Validation and ingestion (on a fresh database of `backend`) started from the built binaries,
/// with a connected ingestion client and 宁强县 (610726 and its units) registered: the setup most
/// end-to-end tests start from. [`Stack::stop`] stops both and drops the database.
pub struct Stack {
    pub db: Database,
    pub validation: ServiceProcess,
    pub ingestion: ServiceProcess,
    pub client: IngestionServiceClient<Channel>,
}

impl Stack {
    /// The stack on `backend`, or `None` when that backend was explicitly skipped.
    pub async fn start(backend: Backend) -> Option<Stack> {
        let db = Database::create(backend).await?;
        let validation = start_validation("127.0.0.1:0")
            .await
            .expect("validation starts");
        let ingestion = start_ingestion(&db.url, &validation.url())
            .await
            .expect("ingestion starts");
        let mut client = ingestion_client(&ingestion.url())
            .await
            .expect("ingestion client");
        register_ningqiang(&mut client)
            .await
            .expect("宁强县 registered");
        Some(Stack {
            db,
            validation,
            ingestion,
            client,
        })
    }

    /// Stops both services (each must exit cleanly) and drops the database.
    pub async fn stop(self) {
        self.ingestion.stop().await.expect("ingestion stops");
        self.validation.stop().await.expect("validation stops");
        self.db.drop_async().await;
    }
}

/// A connected ingestion client with generous message limits.
pub async fn ingestion_client(url: &str) -> anyhow::Result<IngestionServiceClient<Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("connect {url}"))?;
    Ok(IngestionServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20))
}

/// Registers a unit.
pub async fn register(
    client: &mut IngestionServiceClient<Channel>,
    code: &str,
    name: &str,
    unit_type: rpb::UnitType,
    parent: &str,
) -> anyhow::Result<()> {
    client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: code.into(),
                name: name.into(),
                unit_type: unit_type as i32,
                parent_code: parent.into(),
            }),
        })
        .await?;
    Ok(())
}

/// 宁强县医疗保障局 as seed S3 declares it: 本级 (机关, 行政) + 2 二级预算单位 (事业). The
/// department's own code is its 本级: its own report is the 本级 report and its report flagged
/// `consolidated` is the filed 部门汇总.
pub const NINGQIANG: [(&str, &str, rpb::UnitType, &str); 3] = [
    (
        "610726",
        "宁强县医疗保障局",
        rpb::UnitType::Administrative,
        "",
    ),
    (
        "610726002",
        "宁强县医疗保险业务经办中心",
        rpb::UnitType::Institution,
        "610726",
    ),
    (
        "610726003",
        "宁强县医疗保险基金管理中心",
        rpb::UnitType::Institution,
        "610726",
    ),
];

/// Registers [`NINGQIANG`].
pub async fn register_ningqiang(
    client: &mut IngestionServiceClient<Channel>,
) -> anyhow::Result<()> {
    for (code, name, t, parent) in NINGQIANG {
        register(client, code, name, t, parent).await?;
    }
    Ok(())
}

/// 柳林县医疗保险服务中心, the 事业 unit (code 141125) whose 2024 决算 is seed S0.
pub async fn register_liulin(client: &mut IngestionServiceClient<Channel>) -> anyhow::Result<()> {
    register(
        client,
        "141125",
        "柳林县医疗保险服务中心",
        rpb::UnitType::Institution,
        "",
    )
    .await
}

/// The seed directory: `$GOUJI_SEEDS`, else `../shared/seeds` beside the repository.
pub fn seeds_dir() -> PathBuf {
    match std::env::var_os("GOUJI_SEEDS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds"),
    }
}

/// Seed `n` (0–4) as bytes; panics when absent unless `GOUJI_SKIP_SEEDS=1` (then `None`).
pub fn seed(n: usize) -> Option<Vec<u8>> {
    let dir = seeds_dir();
    let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
        rd.filter_map(Result::ok).find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{n:03}_"))
        })
    });
    match found {
        Some(e) => Some(std::fs::read(e.path()).expect("seed readable")),
        None if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => None,
        None => panic!(
            "seed {n:03}_*.txt not found in {} (set GOUJI_SEEDS, or GOUJI_SKIP_SEEDS=1)",
            dir.display()
        ),
    }
}

/// Corpus original `name` (e.g. `putuo_zfb_2025_dwys.pdf`), like [`corpus`].
pub fn corpus_original(name: &str) -> Option<Vec<u8>> {
    let dir = match std::env::var_os("GOUJI_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => None,
        Err(e) => panic!(
            "corpus original {} not readable ({e}); set GOUJI_CORPUS, or GOUJI_SKIP_SEEDS=1",
            path.display()
        ),
    }
}

/// Corpus document `<stem>.txt` from `$GOUJI_CORPUS`, else `../shared/corpus` beside the
/// repository; panics when absent unless `GOUJI_SKIP_SEEDS=1` (then `None`).
pub fn corpus(stem: &str) -> Option<Vec<u8>> {
    let dir = match std::env::var_os("GOUJI_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    let path = dir.join(format!("{stem}.txt"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => None,
        Err(e) => panic!(
            "corpus document {} not readable ({e}); set GOUJI_CORPUS, or GOUJI_SKIP_SEEDS=1",
            path.display()
        ),
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit` (a liveness bound,
/// not a speed assertion).
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
