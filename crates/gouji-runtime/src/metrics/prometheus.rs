//! The Prometheus side of [`crate::metrics`]: the text exposition format (version 0.0.4) of a
//! collection, and a small HTTP/1.1 server that answers `GET /metrics` with it on its own
//! port, apart from the gRPC port (`--metrics-listen`).
//!
//! Limits of the endpoint: at most [`MAX_CONNECTIONS`] connections at once (more wait in the
//! kernel's backlog), request headers must arrive within [`HEADER_TIMEOUT`], one connection
//! lives at most [`CONNECTION_TIMEOUT`]. Every path but `/metrics` is 404, every method but
//! GET/HEAD 405.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Metrics;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Time allowed for a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The Prometheus name of an OpenTelemetry metric: `.` and every other character outside
/// `[a-zA-Z0-9_:]` become `_`; the unit adds a suffix (`s` → `_seconds`, `By` → `_bytes`,
/// `ms` → `_milliseconds`; `1` and annotations in braces add none); a monotonic sum adds `_total`.
pub fn metric_name(otel_name: &str, unit: &str, counter: bool) -> String {
    let mut name = sanitize(otel_name, true);
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ => "",
    };
    if !suffix.is_empty() && !name.ends_with(suffix) {
        name.push('_');
        name.push_str(suffix);
    }
    if counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

fn sanitize(s: &str, allow_colon: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().to_string(),
        other => other.to_string(),
    }
}

/// `{k="v",…}` with the attributes sorted by name (and `extra` last), or "" when empty.
fn labels<'a>(attrs: impl Iterator<Item = &'a KeyValue>, extra: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<(String, String)> = attrs
        .map(|kv| (sanitize(kv.key.as_str(), false), value_text(&kv.value)))
        .collect();
    pairs.sort();
    if let Some((k, v)) = extra {
        pairs.push((k.to_string(), v.to_string()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, &mut out);
        out.push('"');
    }
    out.push('}');
    out
}

/// A sample value: Prometheus spells the special floats `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

trait AsF64: Copy {
    fn as_f64(self) -> f64;
}
impl AsF64 for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}
impl AsF64 for u64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}
impl AsF64 for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_data<T: AsF64>(out: &mut String, metric: &Metric, data: &MetricData<T>) {
    match data {
        MetricData::Gauge(g) => {
            let name = metric_name(metric.name(), metric.unit(), false);
            header(out, &name, metric.description(), "gauge");
            for p in g.data_points() {
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    labels(p.attributes(), None),
                    number(p.value().as_f64())
                );
            }
        }
        MetricData::Sum(s) => {
            let counter = s.is_monotonic();
            let name = metric_name(metric.name(), metric.unit(), counter);
            header(
                out,
                &name,
                metric.description(),
                if counter { "counter" } else { "gauge" },
            );
            for p in s.data_points() {
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    labels(p.attributes(), None),
                    number(p.value().as_f64())
                );
            }
        }
        MetricData::Histogram(h) => {
            let name = metric_name(metric.name(), metric.unit(), false);
            header(out, &name, metric.description(), "histogram");
            for p in h.data_points() {
                let mut cumulative = 0u64;
                for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                    cumulative += count;
                    let le = number(bound);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {cumulative}",
                        labels(p.attributes(), Some(("le", &le)))
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    labels(p.attributes(), Some(("le", "+Inf"))),
                    p.count()
                );
                let plain = labels(p.attributes(), None);
                let _ = writeln!(out, "{name}_sum{plain} {}", number(p.sum().as_f64()));
                let _ = writeln!(out, "{name}_count{plain} {}", p.count());
            }
        }
        // Not used by any Gouji instrument (no view asks for it); left out of the text form.
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// The text exposition of one collection.
pub fn render(rm: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in rm.scope_metrics() {
        for metric in scope.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(d) => render_data(&mut out, metric, d),
                AggregatedMetrics::U64(d) => render_data(&mut out, metric, d),
                AggregatedMetrics::I64(d) => render_data(&mut out, metric, d),
            }
        }
    }
    out
}

fn respond(metrics: &Metrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match metrics.collect() {
        Ok(rm) => {
            let body = if req.method() == Method::HEAD {
                Bytes::new()
            } else {
                Bytes::from(render(&rm))
            };
            let mut r = Response::new(Full::new(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static(CONTENT_TYPE),
            );
            r
        }
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "metrics are shut down\n"),
    }
}

/// A bound metrics endpoint; [`MetricsServer::run`] serves it.
pub struct MetricsServer {
    listener: TcpListener,
    /// The bound address.
    pub addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn bind(listen: &str) -> anyhow::Result<MetricsServer> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(MetricsServer { listener, addr })
    }

    /// Serves `GET /metrics` from [`super::global`] until the task is dropped or aborted.
    pub async fn run(self) {
        let metrics = super::global();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    std::future::ready(Ok::<_, Infallible>(respond(metrics, &req)))
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
                drop(slot);
            });
        }
    }
}

/// When `listen` is given: binds it, prints `<name> metrics on <addr>` to stdout (read by
/// tests and scripts when the port is 0; printed before the gRPC `listening on` line) and
/// serves the endpoint in a background task. `None`: the endpoint is off.
pub async fn serve(
    name: &str,
    listen: Option<&str>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(listen) = listen.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let server = MetricsServer::bind(listen).await?;
    println!("{name} metrics on {}", server.addr);
    tracing::info!(addr = %server.addr, "{name}: metrics endpoint at /metrics");
    Ok(Some(tokio::spawn(server.run())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_collector_rules() {
        assert_eq!(
            metric_name("gouji.rpc.server.duration", "s", false),
            "gouji_rpc_server_duration_seconds"
        );
        assert_eq!(
            metric_name("gouji.validation.findings", "{finding}", true),
            "gouji_validation_findings_total"
        );
        assert_eq!(
            metric_name("gouji.cpu.queued", "", false),
            "gouji_cpu_queued"
        );
        assert_eq!(metric_name("9-lives", "By", false), "_9_lives_bytes");
    }

    #[test]
    fn label_values_are_escaped() {
        let kv = [KeyValue::new("rule.id", "a\"b\\c\nd")];
        assert_eq!(labels(kv.iter(), None), r#"{rule_id="a\"b\\c\nd"}"#);
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.25), "0.25");
    }

    #[tokio::test]
    async fn the_endpoint_answers_metrics_and_404_elsewhere() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        crate::metrics::global().record_cpu_wait("endpoint test", Duration::from_millis(3));
        let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
        let addr = server.addr;
        let task = tokio::spawn(server.run());
        let get = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut buf = String::new();
            s.read_to_string(&mut buf).await.unwrap();
            buf
        };
        let ok = get("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains(CONTENT_TYPE), "{ok}");
        assert!(
            ok.contains(
                r#"gouji_cpu_wait_duration_seconds_bucket{task="endpoint test",le="0.005"} 1"#
            ),
            "{ok}"
        );
        assert!(
            ok.contains("# TYPE gouji_cpu_wait_duration_seconds histogram"),
            "{ok}"
        );
        assert!(get("/").await.starts_with("HTTP/1.1 404"));
        task.abort();
    }
}
