//! The validation service: runs the 勾稽 rule catalog over one report.
//!
//! Handlers are thin: convert the request, call `gouji_domain`, map the result. A report with
//! problems is an OK response with findings; only a malformed request is INVALID_ARGUMENT.

use gouji_auth::Action;
use gouji_domain::rules::{self, Context, Severity};
use gouji_proto::convert;
use gouji_proto::validation::v1::validation_service_server::{
    ValidationService, ValidationServiceServer,
};
use gouji_proto::validation::v1::{
    EchoRequest, EchoResponse, ListRulesRequest, ListRulesResponse, RuleInfo,
    ValidateReportRequest, ValidateReportResponse, validate_report_request::Input,
};

use bytes::Bytes;
use gouji_runtime::auth;
use gouji_runtime::raw_route::RawRoute;
use gouji_runtime::server::Limits;
use gouji_runtime::status::{self, BadRequest, read_error};
use prost::Message;
use tonic::codegen::BoxFuture;
use tonic::server::UnaryService;
use tonic::{Request, Response, Status};

/// The service implementation (stateless).
#[derive(Debug, Default, Clone)]
pub struct Validator;

impl Validator {
    /// The service as served, with explicit message-size limits.
    pub fn into_server(self, limits: Limits) -> Server {
        RawRoute::new(
            ValidationServiceServer::new(self)
                .max_decoding_message_size(limits.max_request_bytes)
                .max_encoding_message_size(limits.max_response_bytes),
            "ValidateReport",
            ValidateReportBytes {
                timeout: limits.request_timeout,
            },
            limits,
        )
    }
}

/// The validation service as served: the generated server for `ListRules` and `Echo`, and
/// `ValidateReport` decoded, validated and encoded by its handler on one CPU worker
/// ([`gouji_proto::codec`] says why: a structured report decoded on an I/O thread and freed on
/// a worker cost the server about half as much CPU again as the validation).
pub type Server = RawRoute<ValidationServiceServer<Validator>, ValidateReportBytes>;

/// `ValidateReport` from the request's bytes to the response's.
#[derive(Clone)]
pub struct ValidateReportBytes {
    /// The server's cap on a call's deadline.
    timeout: std::time::Duration,
}

impl UnaryService<Bytes> for ValidateReportBytes {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        Box::pin(validate_call(
            request,
            self.timeout,
            |bytes| {
                status::check_footprint(&bytes, &gouji_proto::footprint::VALIDATE_REPORT_REQUEST)?;
                ValidateReportRequest::decode(bytes).map_err(|e| {
                    status::malformed_request("gouji.validation.v1.ValidateReportRequest", e)
                })
            },
            |resp| Bytes::from(resp.encode_to_vec()),
        ))
    }
}

/// One `ValidateReport` call: authorization, then `decode`, the validation and `encode` on a CPU
/// worker, stopped at the call's deadline or when the caller goes away.
#[tracing::instrument(name = "validation.validate_report", skip_all)]
async fn validate_call<M: Send + 'static, R: Send + 'static>(
    request: Request<M>,
    timeout: std::time::Duration,
    decode: fn(M) -> Result<ValidateReportRequest, Status>,
    encode: fn(ValidateReportResponse) -> R,
) -> Result<Response<R>, Status> {
    let deadline = gouji_runtime::server::deadline(&request, timeout);
    let principal = auth::principal(&request)?;
    auth::authorize(&principal, Action::Validate, &auth::NoHierarchy).await?;
    let req = request.into_inner();
    let principal = principal.label();
    // Decoding, parsing and rules are CPU work: keep them off the I/O threads. They stop at the
    // call's deadline, or when the call is cancelled. The job runs in this call's span, so its
    // log line carries the call's trace id.
    let resp = gouji_runtime::cpu::run_until("validation task", Some(deadline), move || {
        decode(req).and_then(validate_request).map(|resp| {
            tracing::info!(
                principal = %principal,
                valid = resp.valid,
                errors = resp.error_count,
                warnings = resp.warning_count,
                "validated"
            );
            encode(resp)
        })
    })
    .await??;
    Ok(Response::new(resp))
}

/// Validates a request in-process; shared by the gRPC handler and benchmarks.
/// Takes the request by value: a structured report's strings move into the domain report.
pub fn validate_request(mut req: ValidateReportRequest) -> Result<ValidateReportResponse, Status> {
    if req.related.len() > gouji_domain::work::MAX_RELATED {
        return Err(BadRequest::field(
            "related",
            format!(
                "{} related reports; the limit is {}",
                req.related.len(),
                gouji_domain::work::MAX_RELATED
            ),
        )
        .into());
    }
    // The source texts the request's reports restore, all together.
    let mut restore_budget = convert::MAX_RESTORED_PER_REQUEST;
    let ctx_pb = req.context.unwrap_or_default();
    let subject_ref = req.subject_ref.take();
    let related_pb = std::mem::take(&mut req.related);
    let from_document = matches!(req.input, Some(Input::Document(_)));
    let mut report = match req.input {
        None => {
            return Err(BadRequest::field(
                "input",
                "one of `document` (PDF, xlsx, xls or UTF-8 text) or `report` is required",
            )
            .into());
        }
        Some(Input::Document(bytes)) => {
            if bytes.is_empty() {
                return Err(BadRequest::field("document", "document is empty").into());
            }
            // PDF, xlsx, xls or text, told by content.
            gouji_readers::detect::parse(&bytes, &gouji_readers::Limits::default())
                .map_err(|e| read_error("document", &e))?
                .report
        }
        Some(Input::Report(r)) => convert::report_from_pb_within(r, &mut restore_budget)
            .map_err(|errs| status::report_errors("", errs))?,
    };
    if ctx_pb.year != 0 {
        if !(2000..=2100).contains(&ctx_pb.year) {
            return Err(
                BadRequest::field("context.year", "year must be between 2000 and 2100").into(),
            );
        }
        report.year = ctx_pb.year;
    }
    let ctx = Context {
        unit_type: convert::unit_type_from_pb(ctx_pb.unit_type),
    };
    // The related reports are converted first: a request that is malformed in any of them is
    // refused before the rules' work is spent on its subject.
    let mut related = Vec::with_capacity(related_pb.len());
    for (i, r) in related_pb.into_iter().enumerate() {
        let (Some(reference), Some(rep)) = (r.r#ref, r.report) else {
            return Err(BadRequest::field(
                format!("related[{i}]"),
                "a related report needs both `ref` and `report`",
            )
            .into());
        };
        let report = convert::report_from_pb_within(rep, &mut restore_budget)
            .map_err(|errs| status::report_errors(&format!("related[{i}]."), errs))?;
        related.push(rules::Related {
            reference: convert::report_ref_from_pb(&reference),
            report,
        });
    }
    let mut v = rules::validate(&report, &ctx);
    // Cross-report rules (XR-*) over the related reports the caller supplied.
    let mut related_used = Vec::new();
    if !related.is_empty() {
        let this = subject_ref.as_ref().map_or_else(
            || rules::ReportRef::of(&report),
            |r| {
                let mut t = convert::report_ref_from_pb(r);
                // What the document says wins over what the caller guessed.
                t.year = report.year;
                t.kind = report.kind;
                t
            },
        );
        let x = rules::validate_related(&report, &this, &related);
        v.findings.extend(x.findings);
        v.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        related_used = x
            .used
            .iter()
            .map(|u| convert::report_ref_to_pb(&u.reference))
            .collect();
    }
    // The caller went away or its deadline passed while the rules ran: the findings are partial.
    if let Some(stop) = gouji_domain::work::cancelled() {
        return Err(gouji_runtime::status::stopped(stop));
    }
    gouji_runtime::metrics::global().record_findings(
        v.findings
            .iter()
            .map(|f| (f.rule_id.as_str(), severity_label(f.severity))),
    );
    Ok(ValidateReportResponse {
        valid: v.valid(),
        findings: v.findings.iter().map(convert::finding_to_pb).collect(),
        catalog_version: v.catalog_version.to_string(),
        report: (from_document && !req.omit_report).then(|| convert::report_to_pb(&report)),
        error_count: v.count(Severity::Error) as u32,
        warning_count: v.count(Severity::Warning) as u32,
        info_count: v.count(Severity::Info) as u32,
        related_used,
    })
}

/// The `severity` label of the findings counter.
fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

#[tonic::async_trait]
impl ValidationService for Validator {
    /// Reached only through [`ValidationServiceServer`] itself: [`Server`] routes
    /// `ValidateReport` to [`ValidateReportBytes`].
    async fn validate_report(
        &self,
        request: Request<ValidateReportRequest>,
    ) -> Result<Response<ValidateReportResponse>, Status> {
        validate_call(request, Limits::default().request_timeout, Ok, |resp| resp).await
    }

    async fn list_rules(
        &self,
        request: Request<ListRulesRequest>,
    ) -> Result<Response<ListRulesResponse>, Status> {
        let principal = auth::principal(&request)?;
        auth::authorize(&principal, Action::Validate, &auth::NoHierarchy).await?;
        let rules = rules::catalog()
            .iter()
            .map(|r| RuleInfo {
                id: r.id.clone(),
                severity: convert::severity_to_pb(r.severity),
                title: r.title.clone(),
                description: r.description.clone(),
                scope: r.scope.to_string(),
            })
            .collect();
        Ok(Response::new(ListRulesResponse {
            rules,
            catalog_version: rules::CATALOG_VERSION.to_string(),
        }))
    }

    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let principal = auth::principal(&request)?;
        auth::authorize(&principal, Action::Validate, &auth::NoHierarchy).await?;
        Ok(Response::new(EchoResponse {
            payload: request.into_inner().payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routed_path_is_the_generated_one() {
        let server = Validator.into_server(Limits::default());
        assert_eq!(
            server.path(),
            "/gouji.validation.v1.ValidationService/ValidateReport"
        );
    }

    /// A related report of 40 KB on the wire that restores to 15 MB: 5,000 figures quoting, by
    /// reference, one 3,000-byte line.
    fn amplifying_related() -> gouji_proto::validation::v1::RelatedReport {
        use gouji_proto::report::v1 as rpb;
        let figure = rpb::NarrativeFigure {
            value: "1".into(),
            source: Some(rpb::SourceRef {
                line: 1,
                text: String::new(),
            }),
            ..Default::default()
        };
        gouji_proto::validation::v1::RelatedReport {
            r#ref: Some(rpb::ReportRef {
                unit: "610726".into(),
                year: 2023,
                kind: rpb::ReportKind::FinalAccounts as i32,
                ..Default::default()
            }),
            report: Some(rpb::Report {
                year: 2023,
                kind: rpb::ReportKind::FinalAccounts as i32,
                source_lines: vec!["收".repeat(1000)],
                figures: vec![figure; 5000],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_related_reports_of_one_request_share_one_restore_budget() {
        use gouji_proto::report::v1 as rpb;
        let request = |related: usize| ValidateReportRequest {
            input: Some(Input::Report(rpb::Report {
                year: 2024,
                kind: rpb::ReportKind::FinalAccounts as i32,
                ..Default::default()
            })),
            related: vec![amplifying_related(); related],
            ..Default::default()
        };
        // One (15 MB restored) is within the request's 64 MiB.
        assert!(validate_request(request(1)).is_ok());
        // Ten are 400 KB on the wire asking for 150 MB: four fit the request's 64 MiB, the fifth
        // is refused before its copies.
        let err = validate_request(request(10)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("related[4].report.figures[")
                && err.message().contains("].source.text"),
            "{}",
            err.message()
        );
        // More related reports than one validation is ever given are refused outright.
        let err = validate_request(ValidateReportRequest {
            related: vec![Default::default(); gouji_domain::work::MAX_RELATED + 1],
            ..request(0)
        })
        .unwrap_err();
        assert!(
            err.message().contains("related: 65 related reports"),
            "{}",
            err.message()
        );
    }
}
