//! Ingestion load benchmark: sustained `SubmitReport` throughput with a seed-sized document
//! (parse + store + validation over gRPC, as in production), `StreamReports` read throughput,
//! `SubmitReport` of the same seed as a structured report through the served route (decoded on a
//! CPU worker) and through the generated server (decoded on an I/O thread), alternated in one
//! run, and `AggregateDepartment` end to end through the services for a generated department of
//! `GOUJI_BENCH_UNITS` (default 1,000) units, on SQLite and — when `GOUJI_TEST_POSTGRES_URL`
//! is set — PostgreSQL.
//!
//! All three services run in this process on real loopback sockets; clients are tonic clients.
//!
//! ```text
//! eval "$(scripts/ci/start-postgres.sh)"; export GOUJI_TEST_POSTGRES_URL=$DATABASE_URL
//! cargo bench -p gouji-ingestion --bench ingest_load
//! ```
//! Knobs: `GOUJI_BENCH_SUBMISSIONS` (default 400), `GOUJI_BENCH_CLIENTS` (default 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gouji_ingestion::{Ingestion, IngestionLimits, ValidationClient, transport_limits};
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{
    self as ipb, RegisterUnitRequest, StreamReportsRequest, SubmitReportRequest,
    submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_store::Store;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    (l, format!("http://{addr}"))
}

async fn start_validation() -> String {
    let (l, url) = listener().await;
    let limits = gouji_runtime::server::Limits::default();
    tokio::spawn(
        gouji_runtime::server::builder(limits)
            .add_service(gouji_validation::Validator.into_server(limits))
            .serve_with_incoming(TcpIncoming::from(l)),
    );
    url
}

/// How `SubmitReport` reaches the service.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// As the binary serves it ([`Ingestion::into_server`]): the request's bytes decoded on a
    /// CPU worker.
    Served,
    /// The generated server alone: tonic decodes the request on an I/O thread.
    Generated,
}

async fn start_ingestion(database_url: &str, validation_url: &str, route: Route) -> String {
    let limits = IngestionLimits::default();
    let transport = transport_limits(&limits);
    let store = Store::open(database_url).await.expect("store");
    let client = ValidationClient::lazy(validation_url, Duration::from_secs(30), 64 << 20)
        .expect("validation client");
    let (l, url) = listener().await;
    let service = Ingestion::new(store, client, limits);
    let mut router = gouji_runtime::server::builder(transport);
    let router = match route {
        Route::Served => router.add_service(service.into_server(transport)),
        Route::Generated => router.add_service(
            gouji_proto::ingestion::v1::ingestion_service_server::IngestionServiceServer::new(
                service,
            )
            .max_decoding_message_size(transport.max_request_bytes)
            .max_encoding_message_size(transport.max_response_bytes),
        ),
    };
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(l)));
    url
}

/// `rounds` × (served, generated) rounds of `n` structured submissions each by `clients`
/// clients, each round under a root unit of its own; prints each route's submissions/s and
/// latency over its rounds. The seed's report without its source lines, source texts compacted,
/// as a platform that keeps tables sends it.
async fn structured_phase(
    backend: &str,
    database_url: &str,
    validation_url: &str,
    report: &rpb::Report,
    n: usize,
    clients: usize,
) {
    let rounds = 2;
    let served = start_ingestion(database_url, validation_url, Route::Served).await;
    let generated = start_ingestion(database_url, validation_url, Route::Generated).await;
    let mut results: Vec<(&str, Duration, Vec<Duration>)> = vec![
        ("served", Duration::ZERO, vec![]),
        ("generated", Duration::ZERO, vec![]),
    ];
    for round in 0..rounds {
        for (k, url) in [&served, &generated].into_iter().enumerate() {
            let root = format!("BS{round}{k}");
            let mut c = client(url).await;
            c.register_unit(unit(root.clone(), ""))
                .await
                .expect("register");
            for u in 0..n {
                c.register_unit(unit(format!("{root}-{u:05}"), &root))
                    .await
                    .expect("register");
            }
            let requests: Arc<Vec<SubmitReportRequest>> = Arc::new(
                (0..n)
                    .map(|u| SubmitReportRequest {
                        unit_code: format!("{root}-{u:05}"),
                        year: 2024,
                        kind: rpb::ReportKind::FinalAccounts as i32,
                        input: Some(Input::Report(report.clone())),
                        idempotency_key: format!("structured-{root}-{u}"),
                        consolidated: false,
                    })
                    .collect(),
            );
            let (wall, lat) = submit_all(url, requests, clients).await;
            results[k].1 += wall;
            results[k].2.extend(lat);
        }
    }
    for (name, wall, mut lat) in results {
        lat.sort();
        println!(
            "{backend:<8} submit  {} × structured report ({} KiB), {clients} clients, {name:<9}: {:.1} submissions/s, p50 {:.1} ms, p99 {:.1} ms",
            lat.len(),
            prost::Message::encoded_len(report) / 1024,
            lat.len() as f64 / wall.as_secs_f64(),
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
        );
    }
}

/// Sends every request of `requests` once from `clients` concurrent clients; the wall time and
/// each call's latency. Every submission must come back stored and validated.
async fn submit_all(
    url: &str,
    requests: Arc<Vec<SubmitReportRequest>>,
    clients: usize,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (requests, next, url) = (requests.clone(), next.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut c = client(&url).await;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    return lat;
                };
                let t = Instant::now();
                let r = c
                    .submit_report(request.clone())
                    .await
                    .expect("submit")
                    .into_inner();
                assert_eq!(r.validation_state, ipb::ValidationState::Validated as i32);
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client task"));
    }
    (started.elapsed(), lat)
}

fn unit(code: String, parent: &str) -> RegisterUnitRequest {
    RegisterUnitRequest {
        unit: Some(ipb::Unit {
            code,
            name: "基准测试单位".into(),
            unit_type: rpb::UnitType::Institution as i32,
            parent_code: parent.into(),
        }),
    }
}

async fn start_aggregation(ingestion_url: &str, validation_url: &str) -> String {
    let upstreams =
        gouji_aggregation::Upstreams::lazy(ingestion_url, validation_url).expect("upstreams");
    let limits = gouji_runtime::server::Limits::default();
    let (l, url) = listener().await;
    tokio::spawn(
        gouji_runtime::server::builder(limits)
            .add_service(
                gouji_aggregation::Aggregation::new(upstreams, Default::default())
                    .into_server(limits),
            )
            .serve_with_incoming(TcpIncoming::from(l)),
    );
    url
}

/// Submits a generated department (structured reports) and times `AggregateDepartment`.
async fn aggregate_phase(backend: &str, ingestion_url: &str, validation_url: &str) {
    use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
    use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
    let n: usize = std::env::var("GOUJI_BENCH_UNITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (root, units) = gouji_domain::synth::generate_department(n, 42);
    let mut c = client(ingestion_url).await;
    for (meta, _) in &units {
        c.register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: meta.code.clone(),
                name: meta.name.clone(),
                unit_type: gouji_proto::convert::unit_type_to_pb(meta.unit_type),
                parent_code: meta.parent_code.clone().unwrap_or_default(),
            }),
        })
        .await
        .expect("register");
    }
    let started = Instant::now();
    for (meta, report) in &units {
        c.submit_report(SubmitReportRequest {
            unit_code: meta.code.clone(),
            year: 2024,
            kind: rpb::ReportKind::FinalAccounts as i32,
            input: Some(Input::Report(gouji_proto::convert::report_to_pb(report))),
            idempotency_key: format!("agg-{}", meta.code),
            consolidated: false,
        })
        .await
        .expect("submit");
    }
    let submit = started.elapsed();
    let agg_url = start_aggregation(ingestion_url, validation_url).await;
    let mut agg = AggregationServiceClient::connect(agg_url)
        .await
        .expect("connect")
        .max_decoding_message_size(256 << 20);
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = agg
            .aggregate_department(AggregateDepartmentRequest {
                department_code: root.code.clone(),
                year: 2024,
                kind: rpb::ReportKind::FinalAccounts as i32,
                explain_cells: vec![],
            })
            .await
            .expect("aggregate")
            .into_inner();
        assert_eq!(r.units.len(), n);
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{backend:<8} aggregate {n} units through the services: {:.0} ms (best of 3, median {:.0} ms); \
         submitting them (structured, sequential) took {:.1} s",
        times[0].as_secs_f64() * 1e3,
        times[1].as_secs_f64() * 1e3,
        submit.as_secs_f64()
    );
}

async fn client(url: &str) -> IngestionServiceClient<Channel> {
    IngestionServiceClient::connect(url.to_string())
        .await
        .expect("connect")
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

fn document() -> (Vec<u8>, String) {
    let seeds = std::env::var("GOUJI_SEEDS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds").to_string()
    });
    if let Some(e) = std::fs::read_dir(&seeds).ok().and_then(|rd| {
        rd.filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("000_"))
    }) {
        return (
            std::fs::read(e.path()).expect("seed"),
            e.file_name().to_string_lossy().to_string(),
        );
    }
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
    let e = std::fs::read_dir(sample)
        .expect("samples/")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "txt"))
        .expect("a sample document");
    (
        std::fs::read(e.path()).expect("sample"),
        e.file_name().to_string_lossy().to_string(),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run(backend: &str, database_url: &str, validation_url: &str) {
    let submissions: usize = std::env::var("GOUJI_BENCH_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let clients: usize = std::env::var("GOUJI_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let url = start_ingestion(database_url, validation_url, Route::Served).await;
    let mut c = client(&url).await;
    c.register_unit(unit("BENCH".into(), ""))
        .await
        .expect("register");
    for u in 0..submissions {
        c.register_unit(unit(format!("BENCH-{u:05}"), "BENCH"))
            .await
            .expect("register");
    }
    let (doc, name) = document();
    let requests = Arc::new(
        (0..submissions)
            .map(|i| SubmitReportRequest {
                unit_code: format!("BENCH-{i:05}"),
                year: 2024,
                kind: rpb::ReportKind::FinalAccounts as i32,
                input: Some(Input::Document(doc.clone())),
                idempotency_key: format!("bench-{i}"),
                consolidated: false,
            })
            .collect::<Vec<_>>(),
    );
    let (wall, mut lat) = submit_all(&url, requests, clients).await;
    lat.sort();
    println!(
        "{backend:<8} submit  {submissions} × {name} ({} KiB), {clients} clients: {:.1} submissions/s, p50 {:.1} ms, p99 {:.1} ms",
        doc.len() / 1024,
        submissions as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );

    // Streaming read of every unit's latest revision, 5 passes.
    let mut total = 0usize;
    let mut bytes = 0usize;
    let started = Instant::now();
    for _ in 0..5 {
        let mut s = c
            .stream_reports(StreamReportsRequest {
                root_code: "BENCH".into(),
                year: 2024,
                kind: rpb::ReportKind::FinalAccounts as i32,
            })
            .await
            .expect("stream")
            .into_inner();
        while let Some(r) = s.message().await.expect("message") {
            total += 1;
            bytes += prost::Message::encoded_len(&r);
        }
    }
    let wall = started.elapsed();
    println!(
        "{backend:<8} stream  {total} reports: {:.0} reports/s, {:.1} MiB/s of messages",
        total as f64 / wall.as_secs_f64(),
        bytes as f64 / wall.as_secs_f64() / (1 << 20) as f64
    );
    let mut report = gouji_domain::parse_document(&doc).expect("the bench document parses");
    report.lines.clear();
    report.year_mentions.clear();
    let report = gouji_proto::convert::report_to_pb(&report);
    structured_phase(
        backend,
        database_url,
        validation_url,
        &report,
        submissions,
        clients,
    )
    .await;
    aggregate_phase(backend, &url, validation_url).await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let validation_url = start_validation().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite:{}", dir.path().join("bench.db").display());
    run("sqlite", &sqlite, &validation_url).await;
    match std::env::var("GOUJI_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let name = format!("gouji_bench_{}", std::process::id());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("pg");
            sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
            )
            .await
            .expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            run("postgres", &format!("{base}/{name}"), &validation_url).await;
            let _ = sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            )
            .await;
        }
        Err(_) => println!("postgres (skipped: set GOUJI_TEST_POSTGRES_URL)"),
    }
}
