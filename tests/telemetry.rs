//! End to end: trace context across the real services. An in-process OTLP/gRPC trace receiver
//! collects what the real service binaries export: a SubmitReport and the ValidateReport it
//! makes are one trace, the validation server span being a child of the ingestion process's
//! client span; a call without `traceparent` starts a trace of its own; AggregateDepartment's
//! calls to ingestion and validation belong to its trace; and spans still buffered at SIGTERM
//! are flushed on the way out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::ingestion::v1::{SubmitReportRequest, ValidationState, submit_report_request};
use gouji_proto::report::v1 as rpb;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{
    ListRulesRequest, ValidateReportRequest, validate_report_request,
};
use gouji_runtime::process::ServiceProcess;
use gouji_tests::{
    Backend, Database, eventually, ingestion_client, seed, start_ingestion_with_env,
    start_validation_with_env,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tonic::transport::server::TcpIncoming;

const SUBMIT: &str = "gouji.ingestion.v1.IngestionService/SubmitReport";
const LIST_UNITS: &str = "gouji.ingestion.v1.IngestionService/ListUnits";
const STREAM_REPORTS: &str = "gouji.ingestion.v1.IngestionService/StreamReports";
const VALIDATE: &str = "gouji.validation.v1.ValidationService/ValidateReport";
const LIST_RULES: &str = "gouji.validation.v1.ValidationService/ListRules";
const AGGREGATE: &str = "gouji.aggregation.v1.AggregationService/AggregateDepartment";
const INGESTION: &str = "gouji-ingestion";
const VALIDATION: &str = "gouji-validation";
const AGGREGATION: &str = "gouji-aggregation";
const FA: i32 = rpb::ReportKind::FinalAccounts as i32;

/// An OTLP trace collector that keeps every export request.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A span as received, with the `service.name` of the process that exported it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    span: Span,
}

impl Exported {
    fn is(&self, service: &str, name: &str, kind: SpanKind) -> bool {
        self.service == service && self.span.name == name && self.span.kind == kind as i32
    }

    fn attr(&self, key: &str) -> Option<&any_value::Value> {
        value_of(&self.span.attributes, key)
    }
}

fn value_of<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

impl Receiver {
    /// Serves on 127.0.0.1:0; returns the receiver and its endpoint URL.
    async fn start() -> (Receiver, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Receiver::default();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(receiver.clone()))
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        (receiver, url)
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Exported> {
        let requests = self.requests.lock().unwrap();
        let mut out = Vec::new();
        for resource_spans in requests.iter().flat_map(|r| &r.resource_spans) {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| value_of(&r.attributes, "service.name"))
                .and_then(|v| match v {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                out.push(Exported {
                    service: service.clone(),
                    span: span.clone(),
                });
            }
        }
        out
    }
}

/// Registers seed S0's unit and submits S0 to `ingestion`; the acknowledgement says
/// «validated»: ingestion called ValidateReport while handling SubmitReport.
async fn submit_s0(ingestion: &ServiceProcess, document: Vec<u8>) {
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    gouji_tests::register_liulin(&mut client).await.unwrap();
    let ack = client
        .submit_report(SubmitReportRequest {
            unit_code: "141125".into(),
            year: 2024,
            kind: FA,
            input: Some(submit_report_request::Input::Document(document)),
            idempotency_key: String::new(),
            consolidated: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.validation_state, ValidationState::Validated as i32);
}

/// The environment that turns OTLP export on, towards `endpoint`, with batches sent every
/// `delay_ms` (the SDK reads `OTEL_BSP_SCHEDULE_DELAY`; its default is 5 s).
fn otel_env<'a>(endpoint: &'a str, delay_ms: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", delay_ms),
        // Spans are INFO; an inherited stricter RUST_LOG would disable them.
        ("RUST_LOG", "info"),
    ]
}

/// A one-line-per-span summary, for failure messages.
fn summary(spans: &[Exported]) -> String {
    spans
        .iter()
        .map(|e| {
            format!(
                "{} {} kind={} trace={} span={} parent={}",
                e.service,
                e.span.name,
                e.span.kind,
                hex(&e.span.trace_id),
                hex(&e.span.span_id),
                hex(&e.span.parent_span_id)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one span matching `pred`; panics (listing every span) on none or several.
fn one<'a>(spans: &'a [Exported], what: &str, pred: impl Fn(&Exported) -> bool) -> &'a Exported {
    let found: Vec<_> = spans.iter().filter(|e| pred(e)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {what}, found {}; spans:\n{}",
        found.len(),
        summary(spans)
    );
    found[0]
}

/// Whether `span` descends, through spans of `service`, from `ancestor`.
fn descends_from(spans: &[Exported], span: &Exported, ancestor: &Exported, service: &str) -> bool {
    let mut at = span;
    for _ in 0..32 {
        if at.span.span_id == ancestor.span.span_id {
            return true;
        }
        if at.span.parent_span_id.is_empty() {
            return false;
        }
        let Some(parent) = spans
            .iter()
            .find(|e| e.service == service && e.span.span_id == at.span.parent_span_id)
        else {
            return false;
        };
        at = parent;
    }
    false
}

/// `server` (a server span of another process) is a remote child of `caller_service`: its parent
/// is that process's client span of the same RPC, in the same trace, made while handling `root`.
fn assert_called_from(
    spans: &[Exported],
    server: &Exported,
    caller_service: &str,
    root: &Exported,
) {
    assert_eq!(server.span.trace_id, root.span.trace_id, "{server:#?}");
    assert!(!server.span.parent_span_id.is_empty(), "{server:#?}");
    let caller = one(spans, &format!("parent of {}", server.span.name), |e| {
        e.span.span_id == server.span.parent_span_id
    });
    assert!(
        caller.is(caller_service, &server.span.name, SpanKind::Client),
        "parent of {server:#?} is {caller:#?}"
    );
    assert_eq!(caller.span.trace_id, root.span.trace_id);
    assert!(
        descends_from(spans, caller, root, caller_service),
        "{} does not descend from {}; spans:\n{}",
        caller.span.name,
        root.span.name,
        summary(spans)
    );
}

/// A root server span (the test's clients send no traceparent) with the RPC attributes.
fn assert_root_server_span(e: &Exported, service: &str, method: &str) {
    assert!(e.span.parent_span_id.is_empty(), "{e:#?}");
    assert_eq!(e.span.trace_id.len(), 16);
    assert_eq!(e.attr("rpc.system"), Some(&string("grpc")));
    assert_eq!(e.attr("rpc.service"), Some(&string(service)));
    assert_eq!(e.attr("rpc.method"), Some(&string(method)));
    assert_eq!(
        e.attr("rpc.grpc.status_code"),
        Some(&any_value::Value::IntValue(0))
    );
}

/// Polls the receiver (bounded) until `complete` holds; panics with what arrived otherwise.
async fn wait_for(receiver: &Receiver, complete: impl Fn(&[Exported]) -> bool) -> Vec<Exported> {
    eventually(Duration::from_secs(20), || {
        let spans = receiver.spans();
        let done = complete(&spans);
        async move { done.then_some(spans) }
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "spans missing after 20 s; received:\n{}",
            summary(&receiver.spans())
        )
    })
}

/// When `service` has exported a `name` server span: a test whether a span (service, name) of
/// the same trace has arrived.
fn trace_of<'a>(
    spans: &'a [Exported],
    service: &str,
    name: &str,
) -> Option<impl Fn(&str, &str) -> bool + 'a> {
    let root = spans
        .iter()
        .find(|e| e.is(service, name, SpanKind::Server))?;
    let trace = root.span.trace_id.clone();
    Some(move |service: &str, name: &str| {
        spans
            .iter()
            .any(|e| e.service == service && e.span.name == name && e.span.trace_id == trace)
    })
}

/// The receiver, validation and ingestion (SQLite) exporting to it every 100 ms, and unit
/// 141125 with seed S0 submitted (and validated in the call).
struct Stack {
    receiver: Receiver,
    endpoint: String,
    db: Database,
    validation: ServiceProcess,
    ingestion: ServiceProcess,
    document: Vec<u8>,
}

impl Stack {
    /// `None` when the seeds are explicitly skipped (`GOUJI_SKIP_SEEDS=1`).
    async fn start() -> Option<Stack> {
        let document = seed(0)?;
        let db = Database::create(Backend::Sqlite).await?;
        let (receiver, endpoint) = Receiver::start().await;
        let env = otel_env(&endpoint, "100");
        let validation = start_validation_with_env("127.0.0.1:0", &env)
            .await
            .unwrap();
        let ingestion = start_ingestion_with_env(&db.url, &validation.url(), &env)
            .await
            .unwrap();
        submit_s0(&ingestion, document.clone()).await;
        Some(Stack {
            receiver,
            endpoint,
            db,
            validation,
            ingestion,
            document,
        })
    }

    async fn stop(self) {
        self.ingestion.stop().await.unwrap();
        self.validation.stop().await.unwrap();
        self.db.drop_async().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_and_the_validation_it_calls_are_one_trace() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    // A call with no trace context: the test's own plain client, straight to validation.
    let mut direct = ValidationServiceClient::connect(stack.validation.url())
        .await
        .unwrap();
    direct
        .validate_report(ValidateReportRequest {
            input: Some(validate_report_request::Input::Document(
                stack.document.clone(),
            )),
            context: None,
            omit_report: true,
            ..Default::default()
        })
        .await
        .unwrap();

    // Batches leave every 100 ms; wait (bounded) until every span asserted on below is in.
    // (Without propagation the trace never fills up and this fails after 20 s.)
    let spans = wait_for(&stack.receiver, |spans| {
        let Some(has) = trace_of(spans, INGESTION, SUBMIT) else {
            return false;
        };
        has(INGESTION, "ingestion.submit_report")
            && has(INGESTION, VALIDATE)
            && has(VALIDATION, VALIDATE)
            && has(VALIDATION, "validation.validate_report")
            && spans.iter().any(|e| {
                e.is(VALIDATION, VALIDATE, SpanKind::Server) && e.span.parent_span_id.is_empty()
            })
    })
    .await;

    // The SubmitReport server span in ingestion roots the trace.
    let submit = one(&spans, "SubmitReport server span", |e| {
        e.is(INGESTION, SUBMIT, SpanKind::Server)
    });
    assert_root_server_span(
        submit,
        "gouji.ingestion.v1.IngestionService",
        "SubmitReport",
    );
    let trace = &submit.span.trace_id;

    // The ValidateReport server span in validation is in the same trace, and its parent is a
    // span of the ingestion process: the client span of the call made while handling
    // SubmitReport.
    let validate = one(&spans, "ValidateReport server span in the trace", |e| {
        e.is(VALIDATION, VALIDATE, SpanKind::Server) && &e.span.trace_id == trace
    });
    assert_called_from(&spans, validate, INGESTION, submit);
    assert_eq!(
        validate.attr("rpc.service"),
        Some(&string("gouji.validation.v1.ValidationService"))
    );

    // The handlers' own spans nest under the server spans.
    one(&spans, "ingestion.submit_report under SubmitReport", |e| {
        e.service == INGESTION
            && e.span.name == "ingestion.submit_report"
            && e.span.parent_span_id == submit.span.span_id
    });
    one(
        &spans,
        "validation.validate_report under ValidateReport",
        |e| {
            e.service == VALIDATION
                && e.span.name == "validation.validate_report"
                && e.span.parent_span_id == validate.span.span_id
        },
    );

    // The direct call started a trace of its own: no parent, and nothing of ingestion in it.
    // (Ingestion's background revalidation may also have validated the revision while the
    // call was in flight; those calls have ingestion client spans as parents.)
    let fresh = one(&spans, "ValidateReport server span without a parent", |e| {
        e.is(VALIDATION, VALIDATE, SpanKind::Server) && e.span.parent_span_id.is_empty()
    });
    assert_ne!(&fresh.span.trace_id, trace);
    assert_root_server_span(
        fresh,
        "gouji.validation.v1.ValidationService",
        "ValidateReport",
    );
    assert!(
        spans
            .iter()
            .all(|e| e.service != INGESTION || e.span.trace_id != fresh.span.trace_id),
        "spans:\n{}",
        summary(&spans)
    );

    stack.stop().await;
}

/// AggregateDepartment on the real aggregation binary: its ListUnits and StreamReports calls to
/// ingestion and its ValidateReport call to validation all belong to its trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_calls_carry_the_trace() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    let aggregation = ServiceProcess::start(
        "gouji-aggregation",
        &[
            "--listen",
            "127.0.0.1:0",
            "--ingestion-url",
            &stack.ingestion.url(),
            "--validation-url",
            &stack.validation.url(),
        ],
        &otel_env(&stack.endpoint, "100"),
        true,
    )
    .await
    .unwrap();
    let mut agg = AggregationServiceClient::connect(aggregation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    agg.aggregate_department(AggregateDepartmentRequest {
        department_code: "141125".into(),
        year: 2024,
        kind: FA,
        explain_cells: vec![],
    })
    .await
    .unwrap();

    let spans = wait_for(&stack.receiver, |spans| {
        let Some(has) = trace_of(spans, AGGREGATION, AGGREGATE) else {
            return false;
        };
        [LIST_UNITS, STREAM_REPORTS, VALIDATE]
            .iter()
            .all(|name| has(AGGREGATION, name))
            && has(INGESTION, LIST_UNITS)
            && has(INGESTION, STREAM_REPORTS)
            && has(VALIDATION, VALIDATE)
    })
    .await;
    let aggregate = one(&spans, "AggregateDepartment server span", |e| {
        e.is(AGGREGATION, AGGREGATE, SpanKind::Server)
    });
    assert_root_server_span(
        aggregate,
        "gouji.aggregation.v1.AggregationService",
        "AggregateDepartment",
    );
    let trace = &aggregate.span.trace_id;
    for (service, name) in [
        (INGESTION, LIST_UNITS),
        (INGESTION, STREAM_REPORTS),
        (VALIDATION, VALIDATE),
    ] {
        let server = one(&spans, &format!("{name} server span in the trace"), |e| {
            e.is(service, name, SpanKind::Server) && &e.span.trace_id == trace
        });
        assert_called_from(&spans, server, AGGREGATION, aggregate);
    }

    aggregation.stop().await.unwrap();
    stack.stop().await;
}

/// Spans still buffered when a service gets SIGTERM reach the collector: with a 10-minute batch
/// delay, the only way out is the flush when the telemetry guard drops at exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_buffered_spans() {
    let (receiver, endpoint) = Receiver::start().await;
    let validation = start_validation_with_env("127.0.0.1:0", &otel_env(&endpoint, "600000"))
        .await
        .unwrap();
    let mut client = ValidationServiceClient::connect(validation.url())
        .await
        .unwrap();
    client
        .list_rules(ListRulesRequest::default())
        .await
        .unwrap();
    drop(client);
    let status = validation.stop().await.unwrap();
    assert!(status.success(), "gouji-validation exited with {status}");
    let found = eventually(Duration::from_secs(20), || {
        let found = receiver
            .spans()
            .iter()
            .any(|e| e.is(VALIDATION, LIST_RULES, SpanKind::Server));
        async move { found.then_some(()) }
    })
    .await;
    assert!(
        found.is_some(),
        "no ListRules span after SIGTERM; received:\n{}",
        summary(&receiver.spans())
    );
}

/// A submission is validated once: while SubmitReport validates the revision it just stored
/// (still «pending» in the store until the verdict is recorded), ingestion's background loop,
/// here ticking every millisecond, must not validate the same revision a second time. Seen in
/// the traces before the fix: about half the submissions were parsed and checked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_validated_once() {
    let Some(document) = seed(0) else {
        return;
    };
    let Some(db) = Database::create(Backend::Sqlite).await else {
        return;
    };
    let (receiver, endpoint) = Receiver::start().await;
    let env = otel_env(&endpoint, "100");
    let validation = start_validation_with_env("127.0.0.1:0", &env)
        .await
        .unwrap();
    let validation_url = validation.url();
    let ingestion = ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
            "--validation-url",
            &validation_url,
            "--revalidate-interval-ms",
            "1",
        ],
        &env,
        true,
    )
    .await
    .unwrap();
    submit_s0(&ingestion, document).await;
    wait_for(&receiver, |spans| {
        spans
            .iter()
            .any(|e| e.is(VALIDATION, VALIDATE, SpanKind::Server))
    })
    .await;
    // Give a stray second validation (from the loop) time to finish and be exported: several
    // batch delays, and hundreds of loop rounds.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let spans = receiver.spans();
    let validations = spans
        .iter()
        .filter(|e| e.is(VALIDATION, VALIDATE, SpanKind::Server))
        .count();
    assert_eq!(
        validations,
        1,
        "ValidateReport calls for one submission; spans:\n{}",
        summary(&spans)
    );
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}
