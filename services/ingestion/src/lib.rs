//! The ingestion service: the system of record for units and report revisions.
//!
//! A submission is checked (fields, unit, size, parseability), stored as a new revision in one
//! committed transaction, and only then validated by calling the validation service over gRPC.
//! When validation is unavailable the revision is acknowledged as «validation pending» and
//! validated later by [`validator::revalidate_pending`]. Handlers are thin: check and convert
//! the request, call the store, map errors through `gouji_runtime::status`.

mod page_token;
pub mod related;
pub mod validator;
mod wire;

use std::time::Duration;

use gouji_auth::policy::{Action, default_scope};
use gouji_domain::model::{Report, ReportKind};
use gouji_proto::convert;
use gouji_proto::ingestion::v1 as pb;
use gouji_proto::ingestion::v1::ingestion_service_server::{
    IngestionService, IngestionServiceServer,
};
use gouji_runtime::auth;
use gouji_runtime::raw_route::RawRoute;
use gouji_runtime::server::Limits;
use gouji_runtime::status::{self, BadRequest};
use gouji_store::{ListFilter, NewRevision, Store, SubmitOutcome, UnitRecord, ValidationState};
use prost::Message as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub use validator::ValidationClient;

/// Explicit limits of the ingestion API.
#[derive(Debug, Clone, Copy)]
pub struct IngestionLimits {
    /// Largest document accepted (bytes), and largest structured report (encoded bytes);
    /// larger ones are INVALID_ARGUMENT on `document` / `report`. Never above
    /// [`gouji_runtime::server::MAX_CONTENT_BYTES`]: whatever is stored must fit into a
    /// validation request.
    pub max_document_bytes: usize,
    /// Page size when the request gives none.
    pub default_page_size: u32,
    /// Larger requested page sizes are reduced to this (AIP-158).
    pub max_page_size: u32,
    /// Reports per store read while streaming.
    pub stream_batch: u32,
    /// Stored JSON (report bodies and findings) per store read while streaming: a batch ends
    /// once it reaches this (at least one report), so a subtree of large reports is streamed
    /// with a bounded number of them in memory.
    pub stream_batch_bytes: usize,
    /// Stored findings JSON per `ListReports` page: a page ends once it reaches this (at least
    /// one revision) and says there is a next page; listings carry no report bodies.
    pub max_page_bytes: usize,
    /// Largest parsed report stored (encoded bytes). A revision's report and its findings
    /// (bounded by `gouji_domain::work`'s caps to about 12 MiB) must fit into one 64 MiB
    /// `GetReport` answer or `StreamReports` message; a document whose report would be larger
    /// is INVALID_ARGUMENT on `document` before anything is stored.
    pub max_stored_report_bytes: usize,
    /// Accepted report years.
    pub years: (i32, i32),
    /// Longest idempotency key (characters; control and bidi characters are refused too).
    pub max_key_len: usize,
}

impl Default for IngestionLimits {
    fn default() -> Self {
        IngestionLimits {
            max_document_bytes: gouji_runtime::server::MAX_CONTENT_BYTES,
            default_page_size: 50,
            max_page_size: 500,
            stream_batch: 64,
            stream_batch_bytes: 64 << 20,
            max_page_bytes: 16 << 20,
            max_stored_report_bytes: MAX_STORED_REPORT_BYTES,
            years: (2000, 2100),
            max_key_len: status::MAX_KEY_CHARS,
        }
    }
}

/// The gRPC message limit: a maximal document plus room for the envelope, so an oversized
/// document reaches the handler and gets a field-level error instead of a transport error.
pub fn transport_limits(limits: &IngestionLimits) -> Limits {
    Limits {
        max_request_bytes: limits.max_document_bytes + 4 * 1024 * 1024,
        ..Limits::default()
    }
}

/// The ingestion service as served (see [`Ingestion::into_server`]).
pub type Server = RawRoute<IngestionServiceServer<Ingestion>, SubmitReportBytes>;

/// `SubmitReport` from the request's bytes to the response's. Only the two fields that decide
/// who may submit (`unit_code`, `consolidated`) are read on the I/O thread — prost skips the
/// document or report without looking into it — then the caller is authorized, and the whole
/// request is decoded on a CPU worker: a structured report of up to 16 MiB is tens of
/// milliseconds of decoding that would otherwise hold an I/O thread every connection shares.
#[derive(Clone)]
pub struct SubmitReportBytes {
    service: std::sync::Arc<Ingestion>,
}

/// The fields of `SubmitReportRequest` that authorization needs, decoded from its bytes (same
/// tags as `ingestion_service.proto`; the other fields are skipped as unknown, a document or
/// report by its length without being read).
#[derive(Clone, PartialEq, prost::Message)]
struct SubmitHead {
    #[prost(string, tag = "1")]
    unit_code: String,
    #[prost(bool, tag = "7")]
    consolidated: bool,
}

/// A request's bytes that are not a `SubmitReportRequest`: the caller's error.
fn not_a_submit_request(e: prost::DecodeError) -> Status {
    status::malformed_request("gouji.ingestion.v1.SubmitReportRequest", e)
}

impl tonic::server::UnaryService<bytes::Bytes> for SubmitReportBytes {
    type Response = bytes::Bytes;
    type Future = tonic::codegen::BoxFuture<Response<bytes::Bytes>, Status>;

    fn call(&mut self, request: Request<bytes::Bytes>) -> Self::Future {
        let service = self.service.clone();
        Box::pin(submit_bytes(service, request))
    }
}

#[tracing::instrument(name = "ingestion.submit_report", skip_all)]
async fn submit_bytes(
    service: std::sync::Arc<Ingestion>,
    request: Request<bytes::Bytes>,
) -> Result<Response<bytes::Bytes>, Status> {
    let deadline = gouji_runtime::server::deadline(
        &request,
        transport_limits(&service.limits).request_timeout,
    );
    let principal = auth::principal(&request)?;
    let bytes = request.into_inner();
    let head = SubmitHead::decode(bytes.clone()).map_err(not_a_submit_request)?;
    service
        .authorize_submit(&principal, &head.unit_code, head.consolidated)
        .await?;
    // Decoded, checked and (a structured report) converted on one worker, in one job: the
    // decoded message lives and dies on that thread.
    let limits = service.limits;
    let checked = gouji_runtime::cpu::run_until("decode task", Some(deadline), move || {
        status::check_footprint(&bytes, &gouji_proto::footprint::SUBMIT_REPORT_REQUEST)?;
        pb::SubmitReportRequest::decode(bytes)
            .map_err(not_a_submit_request)
            .and_then(|req| check_and_convert(&limits, req))
    })
    .await??;
    let response = service.submit(principal, checked, deadline).await?;
    Ok(response.map(|r| bytes::Bytes::from(r.encode_to_vec())))
}

/// The service implementation.
#[derive(Clone)]
pub struct Ingestion {
    store: Store,
    validation: ValidationClient,
    limits: IngestionLimits,
}

impl Ingestion {
    pub fn new(store: Store, validation: ValidationClient, limits: IngestionLimits) -> Self {
        Ingestion {
            store,
            validation,
            limits,
        }
    }

    /// The service as served, with explicit message-size limits: the generated server, and
    /// `SubmitReport` decoded by its handler on a CPU worker ([`gouji_runtime::raw_route`]).
    pub fn into_server(self, transport: Limits) -> Server {
        let service = std::sync::Arc::new(self);
        RawRoute::new(
            IngestionServiceServer::from_arc(service.clone())
                .max_decoding_message_size(transport.max_request_bytes)
                .max_encoding_message_size(transport.max_response_bytes),
            "SubmitReport",
            SubmitReportBytes { service },
            transport,
        )
    }

    /// Who may submit for `unit` (its 汇总 when `consolidated`): checked before anything is
    /// decoded or parsed, so that a refused caller costs no CPU.
    async fn authorize_submit(
        &self,
        principal: &gouji_auth::Principal,
        unit: &str,
        consolidated: bool,
    ) -> Result<(), Status> {
        // The unit code is checked first: authorization may look it up in the store (a
        // `department` caller's subtree query), and a malformed code is INVALID_ARGUMENT on
        // `unit_code`, never a store error or a denial.
        let mut b = BadRequest::new();
        status::check_code(&mut b, "unit_code", unit, true);
        b.check()?;
        auth::authorize(
            principal,
            Action::SubmitReport { unit, consolidated },
            &self.store,
        )
        .await
    }

    /// `SubmitReport` once the caller is authorized and the request checked: parse, store,
    /// validate.
    async fn submit(
        &self,
        principal: gouji_auth::Principal,
        checked: Checked,
        deadline: std::time::Instant,
    ) -> Result<Response<pb::SubmitReportResponse>, Status> {
        let (new, _unit) = self.prepare(checked, deadline).await?;
        // Nothing is stored once the caller's deadline has passed: it has been told the call
        // failed (a cancelled call never gets here: its future is dropped, and a parse in
        // progress stops at its next poll of the token).
        if std::time::Instant::now() >= deadline {
            return Err(status::stopped(gouji_domain::work::Stop::DeadlineExceeded));
        }
        // Held until the verdict is recorded, so that the background loop leaves this
        // revision to this call (`None`: a retry of the same submission is in flight, and that
        // call validates it; this one replays).
        let claim = self.validation.claim(&new.idempotency_key);
        let outcome = self
            .store
            .submit_as(&new, Some(&audit_entry(&principal)))
            .await
            .map_err(|e| status::store_error("unit_code", e))?;
        // Committed: from here on the submission is acknowledged whatever validation does.
        let outcome = match outcome {
            SubmitOutcome::Stored(mut rec) => {
                tracing::info!(report = %rec.report_id(), revision = rec.revision, "stored");
                // Reports checked against this one (its next year, its department, …) are
                // revalidated in the background.
                if let Err(e) = related::mark_dependents(&self.store, &rec).await {
                    tracing::warn!(error = %e, "cannot mark dependent reports for revalidation");
                }
                let attempt = match &claim {
                    Some(claim) => {
                        validator::validate_and_record(
                            &self.store,
                            &self.validation,
                            &rec,
                            Some(&new.report),
                            claim,
                        )
                        .await
                    }
                    None => validator::Attempt::Pending,
                };
                match attempt {
                    validator::Attempt::Validated(v) => {
                        rec.state = ValidationState::Validated;
                        rec.valid = Some(v.valid);
                        rec.catalog_version = Some(v.catalog_version);
                        rec.findings = v.findings;
                    }
                    validator::Attempt::Failed(reason) => {
                        rec.state = ValidationState::Failed;
                        rec.validation_error = Some(reason);
                    }
                    validator::Attempt::Pending => {}
                }
                SubmitOutcome::Stored(rec)
            }
            replayed => {
                tracing::info!(report = %replayed.record().report_id(), "replayed");
                replayed
            }
        };
        Ok(Response::new(submit_response(&outcome)))
    }

    /// Checks the (unit, year, kind) that name a report; the unit field is named `unit_field`.
    fn report_key(
        &self,
        unit_field: &str,
        unit: &str,
        year: i32,
        kind: i32,
    ) -> Result<ReportKind, Status> {
        let mut b = BadRequest::new();
        status::check_code(&mut b, unit_field, unit, true);
        check_year(&self.limits, "year", year, &mut b);
        let kind = convert::kind_from_pb(kind);
        if kind.is_none() {
            b.add("kind", KIND_REQUIRED);
        }
        b.check()?;
        Ok(kind.unwrap_or(ReportKind::FinalAccounts))
    }

    async fn require_unit(&self, field: &str, code: &str) -> Result<UnitRecord, Status> {
        match self.store.get_unit(code).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) => Err(BadRequest::field(
                field,
                format!("unit {} is not registered", status::quote(code)),
            )
            .into()),
            Err(e) => Err(status::store_error(field, e)),
        }
    }

    /// Turns a checked submission ([`check_and_convert`]) into a revision to store: the unit
    /// looked up, a document parsed. Stores nothing.
    async fn prepare(
        &self,
        Checked { req, kind, input }: Checked,
        deadline: std::time::Instant,
    ) -> Result<(NewRevision, UnitRecord), Status> {
        let unit = self.require_unit("unit_code", &req.unit_code).await?;

        let (mut report, document, content_hash) = match input {
            CheckedInput::Document(bytes) => {
                let max_stored = self.limits.max_stored_report_bytes;
                let measure = bytes.len() > SURELY_STORABLE_DOCUMENT_BYTES
                    || max_stored < MAX_STORED_REPORT_BYTES;
                let parsed = {
                    let bytes = bytes.clone();
                    // PDF, xlsx, xls or text, told by content; the bytes are stored as sent.
                    gouji_runtime::cpu::run_until("parse task", Some(deadline), move || {
                        gouji_readers::detect::parse(&bytes, &gouji_readers::Limits::default()).map(
                            |p| {
                                let size =
                                    measure.then(|| convert::report_to_pb(&p.report).encoded_len());
                                (p.report, size)
                            },
                        )
                    })
                    .await?
                };
                let (report, size) = parsed.map_err(|e| status::read_error("document", &e))?;
                if let Some(size) = size.filter(|&n| n > max_stored) {
                    return Err(BadRequest::field(
                        "document",
                        format!(
                            "the report read from this document is {size} bytes encoded; at most \
                             {max_stored} bytes are stored, so that every stored report can be \
                             returned whole"
                        ),
                    )
                    .into());
                }
                if report.kind != kind {
                    return Err(BadRequest::field(
                        "kind",
                        format!(
                            "the document is a {} report but kind says {}",
                            report.kind.label(),
                            kind.label()
                        ),
                    )
                    .into());
                }
                let hash = gouji_store::content_hash(&bytes);
                (report, Some(bytes), hash)
            }
            CheckedInput::Report(report, hash) => (*report, None, hash),
        };
        // The request is authoritative for what the report is filed as.
        report.year = req.year;
        report.kind = kind;
        if report.unit_type.is_none() {
            report.unit_type = unit.unit_type;
        }
        let idempotency_key = if req.idempotency_key.is_empty() {
            format!(
                "auto:{}",
                gouji_store::content_hash(
                    format!(
                        "{}|{}|{}|{}|{content_hash}",
                        req.unit_code,
                        req.year,
                        gouji_store::kind_key(kind),
                        req.consolidated
                    )
                    .as_bytes()
                )
            )
        } else {
            req.idempotency_key
        };
        Ok((
            NewRevision {
                unit_code: req.unit_code,
                year: req.year,
                kind,
                consolidated: req.consolidated,
                idempotency_key,
                content_hash,
                document,
                report,
            },
            unit,
        ))
    }

    fn list_filter(&self, req: &pb::ListReportsRequest) -> Result<ListFilter, Status> {
        let mut b = BadRequest::new();
        status::check_code(&mut b, "unit_code", &req.unit_code, false);
        status::check_page_token(&mut b, &req.page_token);
        if req.year != 0 {
            check_year(&self.limits, "year", req.year, &mut b);
        }
        if req.subtree && req.unit_code.is_empty() {
            b.add(
                "subtree",
                "subtree needs unit_code (the root of the subtree)",
            );
        }
        if req.kind != 0 && convert::kind_from_pb(req.kind).is_none() {
            b.add("kind", "unknown report kind");
        }
        if req.page_size < 0 {
            b.add("page_size", "page_size must not be negative");
        }
        b.check()?;
        Ok(ListFilter {
            unit_code: (!req.unit_code.is_empty()).then(|| req.unit_code.clone()),
            subtree: req.subtree,
            year: (req.year != 0).then_some(req.year),
            kind: convert::kind_from_pb(req.kind),
        })
    }
}

/// The audit trail's name for a principal.
fn audit_entry(p: &gouji_auth::Principal) -> gouji_store::AuditEntry {
    gouji_store::AuditEntry {
        principal: p.label(),
        role: p.role.as_str().to_string(),
    }
}

impl Ingestion {
    /// Records a read in the audit trail; a read that cannot be recorded is not answered.
    async fn audit_read(
        &self,
        principal: &gouji_auth::Principal,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Status> {
        self.store
            .record_audit(&audit_entry(principal), action, target, detail)
            .await
            .map_err(|e| status::store_error("audit", e))
    }
}

/// The report as canonical JSON (field order fixed by the model), for content hashing.
fn canonical_json(report: &Report) -> Result<String, Status> {
    serde_json::to_string(report).map_err(|e| status::internal("report encoding", e))
}

fn submit_response(outcome: &SubmitOutcome) -> pb::SubmitReportResponse {
    let rec = outcome.record();
    pb::SubmitReportResponse {
        report_id: rec.report_id(),
        revision: rec.revision,
        validation_state: wire::state_to_pb(rec.state),
        replayed: outcome.replayed(),
        findings: rec.findings.iter().map(convert::finding_to_pb).collect(),
        valid: rec.valid.unwrap_or(false),
        validation_error: rec.validation_error.clone().unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl IngestionService for Ingestion {
    #[tracing::instrument(name = "ingestion.register_unit", skip_all)]
    async fn register_unit(
        &self,
        request: Request<pb::RegisterUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let principal = auth::principal(&request)?;
        let Some(unit) = request.into_inner().unit else {
            return Err(BadRequest::field("unit", "unit is required").into());
        };
        let mut b = BadRequest::new();
        status::check_code(&mut b, "unit.code", &unit.code, true);
        status::check_text(
            &mut b,
            "unit.name",
            unit.name.trim(),
            status::MAX_NAME_CHARS,
            true,
        );
        status::check_code(&mut b, "unit.parent_code", &unit.parent_code, false);
        let unit_type = convert::unit_type_from_pb(unit.unit_type);
        if unit_type.is_none() {
            b.add(
                "unit.unit_type",
                "unit_type (行政 / 参公 / 事业) is required",
            );
        }
        if unit.parent_code == unit.code && !unit.code.is_empty() {
            b.add("unit.parent_code", "a unit cannot be its own parent");
        }
        b.check()?;
        // Changing a registered unit needs rights over its old place and its new one.
        let existing = self
            .store
            .get_unit(&unit.code)
            .await
            .map_err(|e| status::store_error("unit.code", e))?;
        let parent = (!unit.parent_code.is_empty()).then_some(unit.parent_code.as_str());
        auth::authorize(
            &principal,
            Action::RegisterUnit {
                unit: &unit.code,
                parent,
                existing: existing.as_ref().map(|u| u.parent_code.as_deref()),
            },
            &self.store,
        )
        .await?;
        let record = UnitRecord {
            code: unit.code,
            name: unit.name.trim().to_string(),
            unit_type,
            parent_code: (!unit.parent_code.is_empty()).then_some(unit.parent_code),
        };
        let stored = self
            .store
            .register_unit_as(&record, Some(&audit_entry(&principal)))
            .await
            .map_err(|e| status::store_error("unit.parent_code", e))?;
        tracing::info!(code = %stored.code, "unit registered");
        Ok(Response::new(wire::unit_to_pb(&stored)))
    }

    #[tracing::instrument(name = "ingestion.list_units", skip_all)]
    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let principal = auth::principal(&request)?;
        let mut root = request.into_inner().root_code;
        let mut b = BadRequest::new();
        status::check_code(&mut b, "root_code", &root, false);
        b.check()?;
        // No root: the caller's own subtree (everything for the province).
        if root.is_empty()
            && let Some((own, _)) = default_scope(&principal)
        {
            root = own;
        }
        // An empty root (everything) is inside no scoped caller's subtree.
        auth::authorize(&principal, Action::ListUnits { root: &root }, &self.store).await?;
        let units = self
            .store
            .list_units((!root.is_empty()).then_some(root.as_str()))
            .await
            .map_err(|e| status::store_error("root_code", e))?;
        self.audit_read(
            &principal,
            "list_units",
            if root.is_empty() { "*" } else { &root },
            "",
        )
        .await?;
        Ok(Response::new(pb::ListUnitsResponse {
            units: units.iter().map(wire::unit_to_pb).collect(),
        }))
    }

    /// Reached only through [`IngestionServiceServer`] itself: [`Server`] routes
    /// `SubmitReport` to [`SubmitReportBytes`], which decodes the request on a CPU worker.
    #[tracing::instrument(name = "ingestion.submit_report", skip_all)]
    async fn submit_report(
        &self,
        request: Request<pb::SubmitReportRequest>,
    ) -> Result<Response<pb::SubmitReportResponse>, Status> {
        let deadline = gouji_runtime::server::deadline(
            &request,
            transport_limits(&self.limits).request_timeout,
        );
        let principal = auth::principal(&request)?;
        let req = request.into_inner();
        self.authorize_submit(&principal, &req.unit_code, req.consolidated)
            .await?;
        let limits = self.limits;
        let checked = gouji_runtime::cpu::run_until("convert task", Some(deadline), move || {
            check_and_convert(&limits, req)
        })
        .await??;
        self.submit(principal, checked, deadline).await
    }

    #[tracing::instrument(name = "ingestion.get_report", skip_all)]
    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::StoredReport>, Status> {
        let principal = auth::principal(&request)?;
        let req = request.into_inner();
        let kind = self.report_key("unit_code", &req.unit_code, req.year, req.kind)?;
        auth::authorize(
            &principal,
            Action::ReadReports {
                unit: &req.unit_code,
                subtree: false,
            },
            &self.store,
        )
        .await?;
        let rec = self
            .store
            .get_revision(
                &req.unit_code,
                req.year,
                kind,
                req.consolidated,
                (req.revision != 0).then_some(req.revision),
            )
            .await
            .map_err(|e| status::store_error("unit_code", e))?;
        match rec {
            Some(rec) => {
                let name = format!("{}@{}", rec.report_id(), rec.revision);
                self.audit_read(&principal, "get_report", &name, "").await?;
                Ok(Response::new(wire::revision_to_pb(&rec)))
            }
            None => {
                let name = format!(
                    "{}/{}/{}/{}{}",
                    req.unit_code,
                    req.year,
                    gouji_store::kind_key(kind),
                    if req.consolidated {
                        "consolidated"
                    } else {
                        "own"
                    },
                    if req.revision == 0 {
                        String::new()
                    } else {
                        format!("@{}", req.revision)
                    }
                );
                Err(status::not_found("report", &name))
            }
        }
    }

    #[tracing::instrument(name = "ingestion.list_reports", skip_all)]
    async fn list_reports(
        &self,
        request: Request<pb::ListReportsRequest>,
    ) -> Result<Response<pb::ListReportsResponse>, Status> {
        let principal = auth::principal(&request)?;
        let req = request.into_inner();
        let mut filter = self.list_filter(&req)?;
        // No unit: the caller's scope (everything for the province). The page token is bound
        // to this filter, so a token from another scope does not decode here.
        if filter.unit_code.is_none()
            && let Some((own, subtree)) = default_scope(&principal)
        {
            filter.unit_code = Some(own);
            filter.subtree = subtree;
        }
        // No unit at all (everything) is inside no scoped caller's subtree.
        auth::authorize(
            &principal,
            Action::ReadReports {
                unit: filter.unit_code.as_deref().unwrap_or(""),
                subtree: filter.subtree || filter.unit_code.is_none(),
            },
            &self.store,
        )
        .await?;
        if let Some(code) = &filter.unit_code {
            self.require_unit("unit_code", code).await?;
        }
        let cursor = if req.page_token.is_empty() {
            None
        } else {
            Some(
                page_token::decode(&filter, &req.page_token)
                    .map_err(|msg| Status::from(BadRequest::field("page_token", msg)))?,
            )
        };
        let size = match req.page_size {
            0 => self.limits.default_page_size,
            n => (n as u32).min(self.limits.max_page_size),
        };
        // One extra row tells whether another page exists.
        let (mut rows, cut) = self
            .store
            .list_revisions(&filter, cursor, size + 1, self.limits.max_page_bytes)
            .await
            .map_err(|e| status::store_error("unit_code", e))?;
        let more = cut || rows.len() > size as usize;
        rows.truncate(size as usize);
        self.audit_read(
            &principal,
            "list_reports",
            filter.unit_code.as_deref().unwrap_or("*"),
            &format!(
                "{} revisions{}",
                rows.len(),
                if filter.subtree { ", subtree" } else { "" }
            ),
        )
        .await?;
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => page_token::encode(&filter, last.id),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListReportsResponse {
            reports: rows.iter().map(wire::revision_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(name = "ingestion.list_audit_events", skip_all)]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let principal = auth::principal(&request)?;
        auth::authorize(&principal, Action::ReadAudit, &self.store).await?;
        let req = request.into_inner();
        let mut b = BadRequest::new();
        status::check_text(&mut b, "target", &req.target, status::MAX_NAME_CHARS, false);
        status::check_page_token(&mut b, &req.page_token);
        if req.page_size < 0 {
            b.add("page_size", "page_size must not be negative");
        }
        b.check()?;
        let target = (!req.target.is_empty()).then_some(req.target.as_str());
        let before = if req.page_token.is_empty() {
            None
        } else {
            Some(
                page_token::decode_audit(target, &req.page_token)
                    .map_err(|msg| Status::from(BadRequest::field("page_token", msg)))?,
            )
        };
        let size = match req.page_size {
            0 => self.limits.default_page_size,
            n => (n as u32).min(self.limits.max_page_size),
        };
        let mut events = self
            .store
            .list_audit(target, before, size + 1)
            .await
            .map_err(|e| status::store_error("audit", e))?;
        let more = events.len() > size as usize;
        events.truncate(size as usize);
        let next_page_token = match (more, events.last()) {
            (true, Some(last)) => page_token::encode_audit(target, last.id),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: events
                .into_iter()
                .map(|e| pb::AuditEvent {
                    id: e.id,
                    at: e.at,
                    principal: e.principal,
                    role: e.role,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                })
                .collect(),
            next_page_token,
        }))
    }

    type StreamReportsStream = ReceiverStream<Result<pb::StoredReport, Status>>;

    #[tracing::instrument(name = "ingestion.stream_reports", skip_all)]
    async fn stream_reports(
        &self,
        request: Request<pb::StreamReportsRequest>,
    ) -> Result<Response<Self::StreamReportsStream>, Status> {
        let principal = auth::principal(&request)?;
        let req = request.into_inner();
        let kind = self.report_key("root_code", &req.root_code, req.year, req.kind)?;
        auth::authorize(
            &principal,
            Action::ReadReports {
                unit: &req.root_code,
                subtree: true,
            },
            &self.store,
        )
        .await?;
        self.require_unit("root_code", &req.root_code).await?;
        self.audit_read(
            &principal,
            "stream_reports",
            &req.root_code,
            &format!("{} {}", req.year, kind.label()),
        )
        .await?;
        // A few messages ahead of a slow client, not more: each can be tens of MiB.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let store = self.store.clone();
        let (batch, batch_bytes) = (self.limits.stream_batch, self.limits.stream_batch_bytes);
        tokio::spawn(async move {
            let mut after = 0;
            let mut sent = 0u64;
            loop {
                let page = match store
                    .latest_in_subtree(&req.root_code, req.year, kind, after, batch, batch_bytes)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(status::store_error("root_code", e))).await;
                        return;
                    }
                };
                if page.is_empty() {
                    break;
                }
                for rec in &page {
                    after = rec.id;
                    // The receiver is gone when the client cancelled: stop reading.
                    if tx.send(Ok(wire::revision_to_pb(rec))).await.is_err() {
                        return;
                    }
                    sent += 1;
                }
            }
            tracing::info!(root = %req.root_code, reports = sent, "streamed");
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// [`IngestionLimits::max_stored_report_bytes`] by default: 48 MiB, which leaves 16 MiB of a
/// 64 MiB answer for the findings and the rest of the record.
pub const MAX_STORED_REPORT_BYTES: usize = 48 << 20;

/// Documents up to this size cannot yield a report above [`MAX_STORED_REPORT_BYTES`] (their
/// lines, the quoted text and the fact and figure caps add up to less), so only larger ones
/// pay for measuring the encoded report.
const SURELY_STORABLE_DOCUMENT_BYTES: usize = 1 << 20;

/// A submission once [`check_and_convert`] has passed it.
struct Checked {
    /// The request, without its input.
    req: pb::SubmitReportRequest,
    /// The report kind the request files it as.
    kind: ReportKind,
    input: CheckedInput,
}

/// A submission's input once checked: a document still to parse, or a structured report
/// converted, with its content hash.
enum CheckedInput {
    Document(Vec<u8>),
    Report(Box<Report>, String),
}

/// The checks of a submission that need no store, then a structured report's conversion and
/// hashing: pure CPU work, run on the worker that decoded the request.
fn check_and_convert(
    limits: &IngestionLimits,
    mut req: pb::SubmitReportRequest,
) -> Result<Checked, Status> {
    let mut b = BadRequest::new();
    status::check_code(&mut b, "unit_code", &req.unit_code, true);
    check_year(limits, "year", req.year, &mut b);
    let kind = convert::kind_from_pb(req.kind);
    if kind.is_none() {
        b.add("kind", KIND_REQUIRED);
    }
    status::check_text(
        &mut b,
        "idempotency_key",
        &req.idempotency_key,
        limits.max_key_len,
        false,
    );
    match &req.input {
        None => b.add(
            "input",
            "one of `document` (PDF, xlsx, xls or UTF-8 text) or `report` is required",
        ),
        Some(pb::submit_report_request::Input::Document(d)) if d.is_empty() => {
            b.add("document", "document is empty")
        }
        Some(pb::submit_report_request::Input::Document(d))
            if d.len() > limits.max_document_bytes =>
        {
            b.add(
                "document",
                format!(
                    "document is {} bytes; the limit is {} bytes",
                    d.len(),
                    limits.max_document_bytes
                ),
            )
        }
        Some(pb::submit_report_request::Input::Report(r))
            if r.encoded_len() > limits.max_document_bytes =>
        {
            b.add(
                "report",
                format!(
                    "report is {} bytes encoded; the limit is {} bytes",
                    r.encoded_len(),
                    limits.max_document_bytes
                ),
            )
        }
        _ => {}
    }
    b.check()?;
    let kind = kind.unwrap_or(ReportKind::FinalAccounts);
    let input = match req.input.take() {
        Some(pb::submit_report_request::Input::Document(bytes)) => CheckedInput::Document(bytes),
        Some(pb::submit_report_request::Input::Report(r)) => {
            let report =
                convert::report_from_pb(r).map_err(|errs| status::report_errors("", errs))?;
            let canonical = canonical_json(&report)?;
            let hash = gouji_store::content_hash(canonical.as_bytes());
            CheckedInput::Report(Box::new(report), hash)
        }
        None => {
            return Err(
                BadRequest::field("input", "one of `document` or `report` is required").into(),
            );
        }
    };
    Ok(Checked { req, kind, input })
}

fn check_year(limits: &IngestionLimits, field: &str, year: i32, b: &mut BadRequest) {
    let (lo, hi) = limits.years;
    if !(lo..=hi).contains(&year) {
        b.add(field, format!("year {year} is out of range {lo}–{hi}"));
    }
}

const KIND_REQUIRED: &str = "kind must be REPORT_KIND_BUDGET or REPORT_KIND_FINAL_ACCOUNTS";

/// How often pending revisions are retried by default.
pub const DEFAULT_REVALIDATE_INTERVAL: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_reads_what_the_whole_request_says_who_submits_for() {
        // The tags of `SubmitHead` are those of `SubmitReportRequest`: authorization must see
        // the same unit the submission is stored for, whatever else the request carries.
        for (input, consolidated) in [
            (
                pb::submit_report_request::Input::Document(b"\xe6\x94\xb6\xe5\x85\xa5".to_vec()),
                false,
            ),
            (
                pb::submit_report_request::Input::Report(gouji_proto::report::v1::Report {
                    subject: "宁强县医疗保障局".into(),
                    ..Default::default()
                }),
                true,
            ),
        ] {
            let req = pb::SubmitReportRequest {
                unit_code: "610726002".into(),
                year: 2024,
                kind: 2,
                input: Some(input),
                idempotency_key: "k-1".into(),
                consolidated,
            };
            let head = SubmitHead::decode(req.encode_to_vec().as_slice()).unwrap();
            assert_eq!(head.unit_code, req.unit_code);
            assert_eq!(head.consolidated, req.consolidated);
        }
        assert_eq!(
            not_a_submit_request(SubmitHead::decode(&b"\xff\xff\xff"[..]).unwrap_err()).code(),
            tonic::Code::InvalidArgument
        );
    }
}
