//! The aggregation service: builds a department's 部门汇总 from its units' stored reports and
//! compares it, cell by cell, with the 汇总 the department filed.
//!
//! Flow of `AggregateDepartment` (department D, year, kind):
//! 1. `ListUnits(D)` on the ingestion service: the registered subtree (names, 单位性质, parents);
//! 2. `StreamReports(D)`: the latest revision of every report in the subtree, one at a time,
//!    fed into [`gouji_domain::consolidate::Consolidator`] (nothing but sums is kept, so
//!    thousands of units work). D's own report is the 本级 (the department's own unit); D's
//!    report flagged `consolidated` is the filed 汇总; filed 汇总 of sub-departments are skipped
//!    (their units are in the stream already);
//! 3. `ValidateReport` on the validation service for the consolidated report;
//! 4. [`gouji_domain::consolidate::compare`] against the filed 汇总, when there is one.
//!
//! Conventions for parents: a unit registered directly under D is a child of the 本级 (D's
//! own report); deeper units keep their registered parent, so transfers are eliminated level
//! by level.

use std::collections::HashMap;
use std::time::Duration;

use gouji_domain::consolidate::{self, CellComparison, Consolidator, UnitMeta};
use gouji_domain::model::{ReportKind, Scope};
use gouji_domain::rules::Finding;
use gouji_proto::aggregation::v1 as pb;
use gouji_proto::aggregation::v1::aggregation_service_server::{
    AggregationService, AggregationServiceServer,
};
use gouji_proto::convert;
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{ListUnitsRequest, StreamReportsRequest, ValidationState};
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{ReportContext, ValidateReportRequest, validate_report_request};
use gouji_runtime::auth;
use gouji_runtime::server::{Limits, ServiceChannel, service_channel};
use gouji_runtime::status::{self, BadRequest};
use tonic::{Request, Response, Status};

/// Explicit limits of the aggregation API.
#[derive(Debug, Clone, Copy)]
pub struct AggregationLimits {
    /// Most unit reports one aggregation reads.
    pub max_units: usize,
    /// Most cells that may be asked to be explained in one request.
    pub max_explain_cells: usize,
    /// Deadline of each upstream call (stream included).
    pub upstream_timeout: Duration,
}

impl Default for AggregationLimits {
    fn default() -> Self {
        AggregationLimits {
            max_units: 100_000,
            max_explain_cells: 1_000,
            upstream_timeout: Duration::from_secs(120),
        }
    }
}

/// Clients of the two services the aggregation depends on; connect lazily.
#[derive(Clone)]
pub struct Upstreams {
    ingestion: IngestionServiceClient<ServiceChannel>,
    validation: ValidationServiceClient<ServiceChannel>,
}

impl Upstreams {
    pub fn lazy(ingestion_url: &str, validation_url: &str) -> anyhow::Result<Self> {
        Ok(Upstreams {
            ingestion: IngestionServiceClient::new(service_channel(ingestion_url)?)
                .max_decoding_message_size(64 << 20),
            validation: ValidationServiceClient::new(service_channel(validation_url)?)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        })
    }
}

/// The service implementation.
#[derive(Clone)]
pub struct Aggregation {
    upstreams: Upstreams,
    limits: AggregationLimits,
}

/// An upstream failure, as this service reports it ([`status::upstream`]).
fn upstream(what: &str, field: &str, s: Status) -> Status {
    status::upstream(what, field, s)
}

/// The hierarchy as ingestion answers it to the caller: `unit` is within `root` when the
/// caller may list `root`'s subtree (its token is forwarded) and `unit` is in it. Aggregation
/// keeps no registry of its own.
struct IngestionScope<'a>(&'a Upstreams, Duration);

impl gouji_auth::Hierarchy for IngestionScope<'_> {
    type Error = Status;
    fn is_within(
        &self,
        unit: &str,
        root: &str,
    ) -> impl std::future::Future<Output = Result<bool, Status>> + Send {
        let mut client = self.0.ingestion.clone();
        let request = with_timeout(
            ListUnitsRequest {
                root_code: root.to_string(),
            },
            self.1,
        );
        let unit = unit.to_string();
        async move {
            match client.list_units(request).await {
                Ok(r) => Ok(r.into_inner().units.iter().any(|u| u.code == unit)),
                Err(s)
                    if matches!(
                        s.code(),
                        tonic::Code::PermissionDenied | tonic::Code::InvalidArgument
                    ) =>
                {
                    Ok(false)
                }
                Err(s) => Err(upstream("ingestion ListUnits", "department_code", s)),
            }
        }
    }
}

/// Longest `explain_cells` entry (characters of `TABLE|ROW|COLUMN`).
pub const MAX_EXPLAIN_CELL_CHARS: usize = 256;

fn with_timeout<T>(msg: T, timeout: Duration) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(timeout);
    r
}

fn cell_to_pb(c: &CellComparison) -> pb::CellComparison {
    let opt = |v: Option<rust_decimal::Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
    pb::CellComparison {
        table: c.table.clone(),
        row: c.row.clone(),
        column: c.column.clone(),
        computed: opt(c.computed),
        filed: opt(c.filed),
        difference: c.difference.to_string(),
        tolerance: c.tolerance.to_string(),
        contributions: contributions_to_pb(&c.contributions),
    }
}

fn contributions_to_pb(c: &[(String, rust_decimal::Decimal)]) -> Vec<pb::Contribution> {
    c.iter()
        .map(|(unit, amount)| pb::Contribution {
            unit_code: unit.clone(),
            amount: amount.to_string(),
        })
        .collect()
}

impl Aggregation {
    pub fn new(upstreams: Upstreams, limits: AggregationLimits) -> Self {
        Aggregation { upstreams, limits }
    }

    pub fn into_server(self, transport: Limits) -> AggregationServiceServer<Self> {
        AggregationServiceServer::new(self)
            .max_decoding_message_size(transport.max_request_bytes)
            .max_encoding_message_size(transport.max_response_bytes)
    }

    async fn aggregate(
        &self,
        principal: &gouji_auth::Principal,
        req: pb::AggregateDepartmentRequest,
    ) -> Result<pb::AggregateDepartmentResponse, Status> {
        let mut b = BadRequest::new();
        status::check_code(&mut b, "department_code", &req.department_code, true);
        if !(2000..=2100).contains(&req.year) {
            b.add(
                "year",
                format!("year {} is out of range 2000–2100", req.year),
            );
        }
        let kind = convert::kind_from_pb(req.kind);
        if kind.is_none() {
            b.add(
                "kind",
                "kind must be REPORT_KIND_BUDGET or REPORT_KIND_FINAL_ACCOUNTS",
            );
        }
        if req.explain_cells.len() > self.limits.max_explain_cells {
            b.add(
                "explain_cells",
                format!(
                    "at most {} cells can be explained at once",
                    self.limits.max_explain_cells
                ),
            );
        }
        let mut explain = Vec::new();
        for (i, cell) in req.explain_cells.iter().enumerate() {
            let field = format!("explain_cells[{i}]");
            if !status::check_text(&mut b, &field, cell, MAX_EXPLAIN_CELL_CHARS, true) {
                continue;
            }
            let parts: Vec<&str> = cell.split('|').collect();
            match parts.as_slice() {
                [t, r, c] if !t.is_empty() && !r.is_empty() && !c.is_empty() => {
                    explain.push((t.to_string(), r.to_string(), c.to_string()))
                }
                _ => b.add(
                    format!("explain_cells[{i}]"),
                    "a cell is written TABLE|ROW|COLUMN, e.g. 公开01|本年收入合计|决算数",
                ),
            }
        }
        b.check()?;
        let kind = kind.unwrap_or(ReportKind::FinalAccounts);
        let dept = req.department_code.clone();
        let timeout = self.limits.upstream_timeout;
        // The caller's right over the department; every upstream call below carries the
        // caller's token too, so ingestion returns nothing outside the caller's subtree.
        auth::authorize(
            principal,
            gouji_auth::Action::Aggregate { department: &dept },
            &IngestionScope(&self.upstreams, timeout),
        )
        .await?;
        tracing::info!(principal = %principal.label(), department = %dept, "aggregating");

        // 1. The registered subtree.
        let units = self
            .upstreams
            .ingestion
            .clone()
            .list_units(with_timeout(
                ListUnitsRequest {
                    root_code: dept.clone(),
                },
                timeout,
            ))
            .await
            .map_err(|s| upstream("ingestion ListUnits", "department_code", s))?
            .into_inner()
            .units;
        let registry: HashMap<String, _> = units.into_iter().map(|u| (u.code.clone(), u)).collect();
        let Some(root) = registry.get(&dept) else {
            return Err(BadRequest::field(
                "department_code",
                format!("unit `{dept}` is not registered"),
            )
            .into());
        };
        let mut department = UnitMeta::new(dept.clone(), root.name.clone());
        department.unit_type = convert::unit_type_from_pb(root.unit_type);
        let mut consolidator = Consolidator::new(department, kind, req.year);

        // 2. Stream the latest revisions into the consolidator.
        let mut stream = self
            .upstreams
            .ingestion
            .clone()
            .stream_reports(with_timeout(
                StreamReportsRequest {
                    root_code: dept.clone(),
                    year: req.year,
                    kind: req.kind,
                },
                timeout,
            ))
            .await
            .map_err(|s| upstream("ingestion StreamReports", "department_code", s))?
            .into_inner();
        let mut filed = None;
        let mut used = Vec::new();
        let mut rejected: Vec<Finding> = Vec::new();
        while let Some(mut stored) = stream
            .message()
            .await
            .map_err(|s| upstream("ingestion StreamReports", "department_code", s))?
        {
            let Some(report_pb) = stored.report.take() else {
                continue;
            };
            let mut report = convert::report_from_pb(report_pb)
                .map_err(|e| status::internal("stored report", format!("{:?}", e.first())))?;
            if stored.consolidated {
                if stored.unit_code == dept {
                    filed = Some((report, stored.revision));
                }
                continue;
            }
            if used.len() >= self.limits.max_units {
                return Err(Status::resource_exhausted(format!(
                    "department {dept} has more than {} unit reports",
                    self.limits.max_units
                )));
            }
            let reg = registry.get(&stored.unit_code);
            let mut meta = UnitMeta::new(
                stored.unit_code.clone(),
                reg.map(|u| u.name.clone()).unwrap_or_default(),
            );
            meta.unit_type = reg.and_then(|u| convert::unit_type_from_pb(u.unit_type));
            meta.parent_code = reg
                .map(|u| u.parent_code.clone())
                .filter(|p| !p.is_empty() && stored.unit_code != dept);
            meta.revision = stored.revision;
            // CU-08: only a validated report without errors counts as passing.
            meta.valid =
                stored.validation_state == ValidationState::Validated as i32 && stored.valid;
            // A unit's own report is a unit report, whatever its title says.
            report.scope = Scope::Unit;
            if report.unit_type.is_none() {
                report.unit_type = meta.unit_type;
            }
            match consolidator.add(meta.clone(), &report) {
                Ok(()) => used.push(meta),
                Err(e) => rejected.push(Finding::new(
                    "CU-03",
                    gouji_domain::rules::Severity::Error,
                    format!("单位 {} 的报表未能纳入汇总：{e}", stored.unit_code),
                    Vec::new(),
                    None,
                    None,
                    None,
                )),
            }
        }
        if consolidator.is_empty() {
            return Err(Status::failed_precondition(format!(
                "no unit report of {dept} for {} {} is stored",
                req.year,
                kind.label()
            )));
        }
        let consolidation =
            gouji_runtime::cpu::run("consolidation task", move || consolidator.finish()).await?;

        // 3. Validate the consolidated report like any other.
        let validated = self
            .upstreams
            .validation
            .clone()
            .validate_report(with_timeout(
                ValidateReportRequest {
                    input: Some(validate_report_request::Input::Report(
                        convert::report_to_pb(&consolidation.report),
                    )),
                    context: Some(ReportContext {
                        unit_type: convert::unit_type_to_pb(consolidation.department.unit_type),
                        year: req.year,
                    }),
                    omit_report: true,
                    ..Default::default()
                },
                timeout,
            ))
            .await
            .map_err(|s| status::upstream_of_built("validation ValidateReport", s))?
            .into_inner();

        // 4. Compare with the filed 汇总.
        let comparison = filed
            .as_ref()
            .map(|(filed, _)| consolidate::compare(&consolidation, filed));
        let mut findings: Vec<gouji_proto::report::v1::Finding> = Vec::new();
        findings.extend(validated.findings);
        findings.extend(rejected.iter().map(convert::finding_to_pb));
        findings.extend(consolidation.findings.iter().map(convert::finding_to_pb));
        if let Some(c) = &comparison {
            findings.extend(c.findings.iter().map(convert::finding_to_pb));
        }
        let explained = explain
            .iter()
            .map(|(t, r, c)| {
                let computed = consolidation.value(t, r, c);
                let filed_value = filed.as_ref().and_then(|(f, _)| f.value(t, r, c));
                pb::CellComparison {
                    table: t.clone(),
                    row: r.clone(),
                    column: c.clone(),
                    computed: computed.map(|d| d.to_string()).unwrap_or_default(),
                    filed: filed_value.map(|d| d.to_string()).unwrap_or_default(),
                    difference: match (computed, filed_value) {
                        (Some(a), Some(f)) => (a - f).to_string(),
                        _ => String::new(),
                    },
                    tolerance: consolidation.tolerance(t, r, c, true).to_string(),
                    contributions: contributions_to_pb(&consolidation.contributions(t, r, c)),
                }
            })
            .collect();
        tracing::info!(
            department = %dept,
            units = used.len(),
            filed = filed.is_some(),
            differences = comparison.as_ref().map(|c| c.beyond_tolerance().count()).unwrap_or(0),
            "aggregated"
        );
        Ok(pb::AggregateDepartmentResponse {
            consolidated: Some(convert::report_to_pb(&consolidation.report)),
            units: used
                .iter()
                .map(|u| pb::UnitUsed {
                    unit_code: u.code.clone(),
                    unit_name: u.name.clone(),
                    revision: u.revision,
                    valid: u.valid,
                })
                .collect(),
            findings,
            differences: comparison
                .as_ref()
                .map(|c| c.beyond_tolerance().map(cell_to_pb).collect())
                .unwrap_or_default(),
            filed_present: filed.is_some(),
            cells_compared: comparison.as_ref().map(|c| c.cells_compared).unwrap_or(0),
            explained,
            built_on_failing_units: consolidation.built_on_failing_units,
        })
    }
}

#[tonic::async_trait]
impl AggregationService for Aggregation {
    #[tracing::instrument(name = "aggregation.aggregate_department", skip_all)]
    async fn aggregate_department(
        &self,
        request: Request<pb::AggregateDepartmentRequest>,
    ) -> Result<Response<pb::AggregateDepartmentResponse>, Status> {
        let principal = auth::principal(&request)?;
        self.aggregate(&principal, request.into_inner())
            .await
            .map(Response::new)
    }
}
