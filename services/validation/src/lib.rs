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
use gouji_runtime::auth;
use gouji_runtime::status::{BadRequest, read_error};
use tonic::{Request, Response, Status};

/// The service implementation (stateless).
#[derive(Debug, Default, Clone)]
pub struct Validator;

impl Validator {
    /// The tonic server with explicit message-size limits.
    pub fn into_server(
        self,
        limits: gouji_runtime::server::Limits,
    ) -> ValidationServiceServer<Self> {
        ValidationServiceServer::new(self)
            .max_decoding_message_size(limits.max_request_bytes)
            .max_encoding_message_size(limits.max_response_bytes)
    }
}

/// Validates a request in-process; shared by the gRPC handler and benchmarks.
/// Takes the request by value: a structured report's strings move into the domain report.
pub fn validate_request(mut req: ValidateReportRequest) -> Result<ValidateReportResponse, Status> {
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
        Some(Input::Report(r)) => convert::report_from_pb(r).map_err(|errs| {
            let mut b = BadRequest::new();
            for e in errs {
                b.add(e.field, e.description);
            }
            Status::from(b)
        })?,
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
    let mut v = rules::validate(&report, &ctx);
    // Cross-report rules (XR-*) over the related reports the caller supplied.
    let mut related = Vec::with_capacity(related_pb.len());
    for (i, r) in related_pb.into_iter().enumerate() {
        let (Some(reference), Some(rep)) = (r.r#ref, r.report) else {
            return Err(BadRequest::field(
                format!("related[{i}]"),
                "a related report needs both `ref` and `report`",
            )
            .into());
        };
        let report = convert::report_from_pb(rep).map_err(|errs| {
            let mut b = BadRequest::new();
            for e in errs {
                b.add(format!("related[{i}].report.{}", e.field), e.description);
            }
            Status::from(b)
        })?;
        related.push(rules::Related {
            reference: convert::report_ref_from_pb(&reference),
            report,
        });
    }
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
    #[tracing::instrument(name = "validation.validate_report", skip_all)]
    async fn validate_report(
        &self,
        request: Request<ValidateReportRequest>,
    ) -> Result<Response<ValidateReportResponse>, Status> {
        let deadline = gouji_runtime::server::deadline(
            &request,
            gouji_runtime::server::Limits::default().request_timeout,
        );
        let principal = auth::principal(&request)?;
        auth::authorize(&principal, Action::Validate, &auth::NoHierarchy).await?;
        let req = request.into_inner();
        // Parsing and rules are CPU work: keep them off the I/O threads. They stop at the
        // call's deadline, or when the call is cancelled.
        let resp = gouji_runtime::cpu::run_until("validation task", Some(deadline), move || {
            validate_request(req)
        })
        .await??;
        tracing::info!(
            principal = %principal.label(),
            valid = resp.valid,
            errors = resp.error_count,
            warnings = resp.warning_count,
            "validated"
        );
        Ok(Response::new(resp))
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
