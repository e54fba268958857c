//! End to end, what an operator relies on (issue 12, items 6 and 7), on the real binaries:
//!
//! - after a real submit-and-aggregate flow, every metric the shipped Grafana dashboard
//!   queries (names parsed out of its PromQL, so the test fails when dashboard and code drift)
//!   is on some service's `/metrics` endpoint, and every counter or histogram among them moved;
//! - the same metrics reach an OTLP collector (an in-process receiver);
//! - ingestion's `liveness` health status turns NOT_SERVING when its PostgreSQL database stops
//!   taking connections, and SERVING again when it is back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gouji_domain::synth::split_department;
use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::convert;
use gouji_proto::ingestion::v1::{
    GetReportRequest, SubmitReportRequest, ValidationState, submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{ValidateReportRequest, validate_report_request};
use gouji_runtime::process::ServiceProcess;
use gouji_tests::{Backend, Database, eventually, ingestion_client, register, seed};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const FA: i32 = rpb::ReportKind::FinalAccounts as i32;

/// Starts `name` with `args` plus `--listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0`.
async fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> ServiceProcess {
    let mut all = vec!["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let p = ServiceProcess::start(name, &all, env, true).await.unwrap();
    assert!(
        p.metrics_addr.is_some(),
        "{name} printed no metrics address"
    );
    p
}

/// `GET /metrics` over a plain TCP connection (HTTP/1.1, as Prometheus scrapes).
async fn scrape(p: &ServiceProcess) -> String {
    let addr = p.metrics_addr.as_deref().unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: gouji\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// One sample of the text format: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse_samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels = BTreeMap::new();
                // Values written by the service never contain `",` inside (rule ids, codes).
                for pair in body.split("\",") {
                    let (k, v) = pair.split_once("=\"").expect("label pair");
                    labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
                }
                (name.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn dashboards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/gouji/dashboards")
}

/// Every `expr` and templating `query`/`definition` string anywhere in a dashboard.
fn queries(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    ("query", serde_json::Value::String(s)) if s.contains('(') => {
                        out.push(s.clone())
                    }
                    _ => queries(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

/// The `gouji_*` metric names in a PromQL expression (outside string literals, which hold
/// label values and regexes).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut code = String::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                code.push(' ');
            }
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                code.push(' ');
            }
            None => code.push(c),
        }
    }
    let expr = code.as_str();
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("gouji_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if boundary {
            names.insert(expr[start..end].to_string());
        }
        i = end.max(start + 1);
    }
    names
}

/// Metric names queried by the dashboards shipped with the chart.
fn dashboard_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dashboards_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            files += 1;
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut exprs = Vec::new();
            queries(&json, &mut exprs);
            assert!(!exprs.is_empty(), "{} has no queries", path.display());
            for e in &exprs {
                names.extend(metric_names(e));
            }
        }
    }
    assert!(files > 0, "no dashboard in {}", dashboards_dir().display());
    names
}

#[test]
fn metric_names_are_found_in_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(gouji_a_bucket{x="gouji_not"}[5m]))) / gouji_b"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["gouji_a_bucket", "gouji_b"]
    );
}

/// S3 split into 本级 + 2 二级 units, submitted with the filed S3, then aggregated; one
/// GetReport of an unknown report (NOT_FOUND) for the error panels. Returns the three
/// processes (validation, ingestion, aggregation).
async fn submit_and_aggregate(db: &Database, env: &[(&str, &str)]) -> Option<[ServiceProcess; 3]> {
    let s3 = seed(3)?;
    let published = gouji_domain::parse_document(&s3).unwrap();
    let units = split_department(&published, 7);
    let dept = units[0].0.code.clone();
    let validation = start("gouji-validation", &[], env).await;
    let ingestion = start(
        "gouji-ingestion",
        &[
            "--database-url",
            &db.url,
            "--validation-url",
            &validation.url(),
            "--store-probe-interval-ms",
            "200",
        ],
        env,
    )
    .await;
    let aggregation = start(
        "gouji-aggregation",
        &[
            "--ingestion-url",
            &ingestion.url(),
            "--validation-url",
            &validation.url(),
        ],
        env,
    )
    .await;
    let mut ingest = ingestion_client(&ingestion.url()).await.unwrap();
    for (meta, _) in &units {
        let parent = if meta.code == dept { "" } else { dept.as_str() };
        let t = rpb::UnitType::try_from(convert::unit_type_to_pb(meta.unit_type))
            .unwrap_or(rpb::UnitType::Unspecified);
        register(&mut ingest, &meta.code, &meta.name, t, parent)
            .await
            .unwrap();
    }
    for (meta, report) in &units {
        ingest
            .submit_report(SubmitReportRequest {
                unit_code: meta.code.clone(),
                year: 2024,
                kind: FA,
                input: Some(Input::Report(convert::report_to_pb(report))),
                idempotency_key: format!("{}-r1", meta.code),
                consolidated: false,
            })
            .await
            .unwrap();
    }
    let filed = ingest
        .submit_report(SubmitReportRequest {
            unit_code: dept.clone(),
            year: 2024,
            kind: FA,
            input: Some(Input::Document(s3.clone())),
            idempotency_key: "filed".into(),
            consolidated: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filed.validation_state, ValidationState::Validated as i32);
    let mut agg = AggregationServiceClient::connect(aggregation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    let r = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: dept,
            year: 2024,
            kind: FA,
            explain_cells: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.units.len(), 3);
    let missing = ingest
        .get_report(GetReportRequest {
            unit_code: "no-such-unit".into(),
            year: 2024,
            kind: FA,
            revision: 0,
            consolidated: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(missing.code(), Code::NotFound | Code::InvalidArgument),
        "{missing:?}"
    );
    Some([validation, ingestion, aggregation])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_exists_and_moved() {
    let Some(db) = Database::create(Backend::Sqlite).await else {
        return;
    };
    let Some(procs) = submit_and_aggregate(&db, &[]).await else {
        return;
    };
    // The store probe runs every 200 ms: the pending gauge and store_up are set by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut by_service: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
    for (name, p) in ["validation", "ingestion", "aggregation"]
        .iter()
        .zip(&procs)
    {
        by_service.insert(name, parse_samples(&scrape(p).await));
    }
    let all: Vec<&Sample> = by_service.values().flatten().collect();
    let wanted = dashboard_metrics();
    assert!(wanted.len() >= 10, "the dashboard queries only {wanted:?}");
    for name in &wanted {
        let samples: Vec<&&Sample> = all.iter().filter(|s| &s.name == name).collect();
        assert!(
            !samples.is_empty(),
            "the dashboard queries {name}, which no service exports"
        );
        let cumulative = ["_total", "_count", "_sum", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s));
        if cumulative {
            assert!(
                samples.iter().any(|s| s.value > 0.0),
                "{name} never moved during the flow: {samples:?}"
            );
        }
    }

    // Per-RPC series carry service, method and code; the flow's calls are all there.
    let calls = |service: &str, method: &str, code: &str| -> f64 {
        all.iter()
            .filter(|s| {
                s.name == "gouji_rpc_server_duration_seconds_count"
                    && s.labels.get("rpc_service").map(String::as_str) == Some(service)
                    && s.labels.get("rpc_method").map(String::as_str) == Some(method)
                    && s.labels.get("grpc_code").map(String::as_str) == Some(code)
            })
            .map(|s| s.value)
            .sum()
    };
    assert_eq!(
        calls("gouji.ingestion.v1.IngestionService", "SubmitReport", "OK"),
        4.0
    );
    assert_eq!(
        calls("gouji.ingestion.v1.IngestionService", "RegisterUnit", "OK"),
        3.0
    );
    assert!(
        calls(
            "gouji.validation.v1.ValidationService",
            "ValidateReport",
            "OK"
        ) >= 5.0
    );
    assert_eq!(
        calls(
            "gouji.aggregation.v1.AggregationService",
            "AggregateDepartment",
            "OK"
        ),
        1.0
    );
    assert_eq!(
        calls("gouji.ingestion.v1.IngestionService", "StreamReports", "OK"),
        1.0
    );
    let errors: f64 = ["NOT_FOUND", "INVALID_ARGUMENT"]
        .iter()
        .map(|c| calls("gouji.ingestion.v1.IngestionService", "GetReport", c))
        .sum();
    assert_eq!(
        errors, 1.0,
        "the refused GetReport is counted with its code"
    );
    // Every call has ended: nothing is in flight.
    for s in all
        .iter()
        .filter(|s| s.name == "gouji_rpc_server_in_flight")
    {
        assert_eq!(s.value, 0.0, "{s:?}");
    }
    // The CPU gate was passed by each service's own task.
    for (service, task) in [
        ("ingestion", "parse task"),
        ("validation", "validation task"),
        ("aggregation", "consolidation task"),
    ] {
        let waits: f64 = by_service[service]
            .iter()
            .filter(|s| {
                s.name == "gouji_cpu_wait_duration_seconds_count"
                    && s.labels.get("task").map(String::as_str) == Some(task)
            })
            .map(|s| s.value)
            .sum();
        assert!(waits >= 1.0, "{service}: no CPU-gate wait for {task}");
    }
    // Findings by rule and severity, from validation only.
    let findings: Vec<&Sample> = by_service["validation"]
        .iter()
        .filter(|s| s.name == "gouji_validation_findings_total")
        .collect();
    assert!(!findings.is_empty());
    for s in &findings {
        assert!(
            s.labels.contains_key("rule") && s.labels.contains_key("severity"),
            "{s:?}"
        );
        assert!(["error", "warning", "info"].contains(&s.labels["severity"].as_str()));
    }
    // The store answers and nothing is left pending.
    let gauge = |name: &str| {
        by_service["ingestion"]
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    };
    assert_eq!(gauge("gouji_store_up"), Some(1.0));
    assert_eq!(gauge("gouji_ingestion_validation_pending"), Some(0.0));

    let [validation, ingestion, aggregation] = procs;
    aggregation.stop().await.unwrap();
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

/// An OTLP metrics collector that keeps every export request.
#[derive(Clone, Default)]
struct MetricsReceiver {
    requests: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl MetricsReceiver {
    /// Largest exported count of the histogram `name` whose attribute `key` is `value`.
    fn histogram_count(&self, name: &str, key: &str, value: &str) -> u64 {
        let requests = self.requests.lock().unwrap();
        let mut best = 0;
        for m in requests
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == name)
        {
            if let Some(metric::Data::Histogram(h)) = &m.data {
                for p in &h.data_points {
                    let matches = p.attributes.iter().any(|kv| {
                        kv.key == key
                            && matches!(
                                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) if s == value
                            )
                    });
                    if matches {
                        best = best.max(p.count);
                    }
                }
            }
        }
        best
    }

    fn names(&self) -> BTreeSet<String> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_over_otlp() {
    let Some(document) = seed(0) else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let receiver = MetricsReceiver::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MetricsServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
    ];
    let validation = start("gouji-validation", &[], &env).await;
    let mut client = ValidationServiceClient::connect(validation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    for _ in 0..2 {
        client
            .validate_report(ValidateReportRequest {
                input: Some(validate_report_request::Input::Document(document.clone())),
                context: None,
                omit_report: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let exported = eventually(Duration::from_secs(20), || async {
        (receiver.histogram_count("gouji.rpc.server.duration", "rpc.method", "ValidateReport") >= 2)
            .then_some(())
    })
    .await;
    assert!(
        exported.is_some(),
        "no ValidateReport duration exported: {:?}",
        receiver.names()
    );
    let names = receiver.names();
    for name in [
        "gouji.rpc.server.in_flight",
        "gouji.cpu.wait.duration",
        "gouji.cpu.queued",
        "gouji.validation.findings",
    ] {
        assert!(names.contains(name), "{name} not exported: {names:?}");
    }
    assert!(receiver.histogram_count("gouji.cpu.wait.duration", "task", "validation task") >= 2);
    validation.stop().await.unwrap();

    // With an export interval far beyond the test, what was recorded still leaves at SIGTERM.
    receiver.requests.lock().unwrap().clear();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
    ];
    let validation = start("gouji-validation", &[], &env).await;
    let mut client = ValidationServiceClient::connect(validation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    client
        .validate_report(ValidateReportRequest {
            input: Some(validate_report_request::Input::Document(document.clone())),
            context: None,
            omit_report: true,
            ..Default::default()
        })
        .await
        .unwrap();
    validation.stop().await.unwrap();
    let flushed = eventually(Duration::from_secs(5), || async {
        (receiver.histogram_count("gouji.rpc.server.duration", "rpc.method", "ValidateReport") == 1)
            .then_some(())
    })
    .await;
    assert!(
        flushed.is_some(),
        "metrics not flushed at SIGTERM: {:?}",
        receiver.names()
    );
}

async fn liveness(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Option<i32> {
    client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

async fn admin_exec(admin: &str, sql: String) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .unwrap();
    sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_turns_not_serving_when_the_store_stops_answering() {
    let Some(db) = Database::create(Backend::Postgres).await else {
        return;
    };
    let (admin, name) = db
        .postgres_admin()
        .map(|(a, n)| (a.to_string(), n.to_string()))
        .unwrap();
    let ingestion = start(
        "gouji-ingestion",
        &[
            "--database-url",
            &db.url,
            "--validation-url",
            "http://127.0.0.1:9",
            "--store-probe-interval-ms",
            "200",
            "--store-probe-timeout-ms",
            "1000",
        ],
        &[],
    )
    .await;
    let channel = tonic::transport::Endpoint::from_shared(ingestion.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let serving = ServingStatus::Serving as i32;
    let not_serving = ServingStatus::NotServing as i32;
    assert!(
        eventually(Duration::from_secs(10), || {
            let mut h = health.clone();
            async move { (liveness(&mut h, "liveness").await == Some(serving)).then_some(()) }
        })
        .await
        .is_some(),
        "liveness never SERVING"
    );

    // The database stops taking connections and drops the ones it had.
    admin_exec(
        &admin,
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
    )
    .await;
    admin_exec(
        &admin,
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    )
    .await;
    let down = eventually(Duration::from_secs(15), || {
        let mut h = health.clone();
        async move { (liveness(&mut h, "liveness").await == Some(not_serving)).then_some(()) }
    })
    .await;
    assert!(
        down.is_some(),
        "liveness stayed SERVING with the store gone"
    );
    let metrics = parse_samples(&scrape(&ingestion).await);
    let up = metrics
        .iter()
        .find(|s| s.name == "gouji_store_up")
        .map(|s| s.value);
    assert_eq!(up, Some(0.0));
    // The gRPC server itself still answers (readiness is the service's own name).
    assert_eq!(
        liveness(&mut health, "gouji.ingestion.v1.IngestionService").await,
        Some(serving)
    );

    // Back: liveness recovers without a restart.
    admin_exec(
        &admin,
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    )
    .await;
    let back = eventually(Duration::from_secs(30), || {
        let mut h = health.clone();
        async move { (liveness(&mut h, "liveness").await == Some(serving)).then_some(()) }
    })
    .await;
    assert!(back.is_some(), "liveness did not recover");
    ingestion.stop().await.unwrap();
    db.drop_async().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_url_can_come_from_a_file_and_stays_off_the_command_line() {
    let Some(db) = Database::create(Backend::Sqlite).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(&file, format!("{}\n", db.url)).unwrap();
    let path = file.to_string_lossy().to_string();
    let ingestion = ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url-file",
            &path,
            "--validation-url",
            "http://127.0.0.1:9",
            "--metrics-listen",
            "127.0.0.1:0",
            "--store-probe-interval-ms",
            "200",
        ],
        &[],
        true,
    )
    .await
    .unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    register(
        &mut client,
        "141125",
        "柳林县医疗保险服务中心",
        rpb::UnitType::Institution,
        "",
    )
    .await
    .unwrap();
    // Validation is unreachable: the submission stays «validation pending», and the gauge says so.
    if let Some(document) = seed(0) {
        let ack = client
            .submit_report(SubmitReportRequest {
                unit_code: "141125".into(),
                year: 2024,
                kind: FA,
                input: Some(Input::Document(document)),
                idempotency_key: String::new(),
                consolidated: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.validation_state, ValidationState::Pending as i32);
        let pending = eventually(Duration::from_secs(10), || async {
            parse_samples(&scrape(&ingestion).await)
                .iter()
                .any(|s| s.name == "gouji_ingestion_validation_pending" && s.value == 1.0)
                .then_some(())
        })
        .await;
        assert!(
            pending.is_some(),
            "the pending gauge never showed the pending revision"
        );
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", ingestion.pid().unwrap())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(!cmdline.contains(&db.url), "{cmdline}");
    ingestion.stop().await.unwrap();
    // The unit went into the database the file names.
    let store_file = db.url.trim_start_matches("sqlite:").to_string();
    assert!(std::fs::metadata(&store_file).unwrap().len() > 0);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM units WHERE code = '141125'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // An empty file is refused at start-up, naming the file.
    std::fs::write(&file, "\n").unwrap();
    let refused = ServiceProcess::start(
        "gouji-ingestion",
        &["--listen", "127.0.0.1:0", "--database-url-file", &path],
        &[],
        true,
    )
    .await;
    assert!(refused.is_err());
    db.drop_async().await;
}
