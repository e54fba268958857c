//! Commands that talk to the running services: `submit`, `units`, `reports`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{
    self as ipb, GetReportRequest, ListReportsRequest, ListUnitsRequest, RegisterUnitRequest,
    SubmitReportRequest, ValidationState, submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_runtime::server::ServiceChannel;

/// The endpoint of a service at `url`: TLS for `https://`, trusting the CA in `GOUJI_TLS_CA`
/// (required then); plaintext for `http://` (development mode).
pub(crate) fn endpoint(url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
    let endpoint = gouji_runtime::server::client_endpoint(url)?;
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    let ca = std::env::var_os("GOUJI_TLS_CA")
        .context("an https:// service needs GOUJI_TLS_CA (the CA of its certificate)")?;
    let pem = std::fs::read(&ca)
        .with_context(|| format!("cannot read GOUJI_TLS_CA {}", Path::new(&ca).display()))?;
    Ok(endpoint.tls_config(
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem)),
    )?)
}

/// The bearer token every call sends: `GOUJI_TOKEN`, else the first line of the file named by
/// `GOUJI_TOKEN_FILE`; none when neither is set (development mode needs none).
pub(crate) fn authorization() -> anyhow::Result<Option<http::HeaderValue>> {
    let token = match (
        std::env::var("GOUJI_TOKEN"),
        std::env::var_os("GOUJI_TOKEN_FILE"),
    ) {
        (Ok(t), _) => t,
        (Err(_), Some(f)) => std::fs::read_to_string(&f)
            .with_context(|| format!("cannot read GOUJI_TOKEN_FILE {}", Path::new(&f).display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        _ => return Ok(None),
    };
    let mut value = http::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .context("GOUJI_TOKEN is not a valid header value")?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// Runs a command's calls with the CLI's bearer token ([`authorization`]).
pub(crate) async fn authenticated<T>(
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    gouji_runtime::auth::with_authorization(authorization()?, f).await
}

/// Connects to the ingestion service at `url`.
pub(crate) async fn ingestion(url: &str) -> anyhow::Result<IngestionServiceClient<ServiceChannel>> {
    let channel = endpoint(url)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .with_context(|| format!("cannot reach the ingestion service at {url}"))?;
    Ok(
        IngestionServiceClient::new(gouji_runtime::telemetry::grpc::ClientTrace::new(channel))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(32 << 20),
    )
}

/// Text from a server, printable: control and bidirectional-formatting characters (ESC, NUL,
/// U+202E …) are shown as `\u{XXXX}` instead of reaching the terminal.
pub(crate) fn esc(s: &str) -> String {
    gouji_runtime::status::escape(s)
}

/// A validation state as the CLI prints it.
fn state_label(state: i32) -> &'static str {
    match ValidationState::try_from(state) {
        Ok(ValidationState::Validated) => "validated",
        Ok(ValidationState::Failed) => "failed",
        _ => "pending",
    }
}

/// A status as one readable line, with its field violations.
pub(crate) fn describe(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut s = format!("{:?}: {}", status.code(), esc(status.message()));
    if let Some(b) = status.get_details_bad_request() {
        for v in b.field_violations {
            s.push_str(&format!("\n    {}: {}", esc(&v.field), esc(&v.description)));
        }
    }
    s
}

pub(crate) fn kind_from_arg(s: &str) -> anyhow::Result<rpb::ReportKind> {
    match s {
        "决算" | "final-accounts" | "js" => Ok(rpb::ReportKind::FinalAccounts),
        "预算" | "budget" | "ys" => Ok(rpb::ReportKind::Budget),
        _ => anyhow::bail!("kind must be 决算 (final-accounts) or 预算 (budget), not {s}"),
    }
}

fn unit_type_from_arg(s: &str) -> anyhow::Result<rpb::UnitType> {
    match gouji_domain::UnitType::from_label(s) {
        Some(t) => Ok(
            rpb::UnitType::try_from(gouji_proto::convert::unit_type_to_pb(Some(t)))
                .unwrap_or(rpb::UnitType::Unspecified),
        ),
        None => anyhow::bail!("unit type must be 行政, 参公 or 事业, not {s}"),
    }
}

fn unit_type_label(t: i32) -> &'static str {
    gouji_proto::convert::unit_type_from_pb(t)
        .map(|t| t.label())
        .unwrap_or("—")
}

/// One file's outcome for the final summary.
struct Submitted {
    file: String,
    outcome: Result<ipb::SubmitReportResponse, String>,
}

/// Draws `[ 3/10] ███░░░░ name` on a terminal, one plain line per file otherwise.
fn progress(done: usize, total: usize, name: &str) {
    let width = 24;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    if std::io::stderr().is_terminal() {
        eprint!(
            "\r[{done:>3}/{total}] {}{} {:<40}",
            "█".repeat(filled),
            "░".repeat(width - filled),
            name.chars().take(40).collect::<String>()
        );
        if done == total {
            eprintln!();
        }
    } else {
        eprintln!("[{done}/{total}] {name}");
    }
}

/// `gouji submit FILE… --unit --year`: one revision per file, retried on UNAVAILABLE (the
/// server's content-derived idempotency key makes a retry safe).
pub(crate) async fn submit(
    server: &str,
    files: &[PathBuf],
    unit: &str,
    year: i32,
    kind: Option<&str>,
    consolidated: bool,
) -> anyhow::Result<bool> {
    let mut client = ingestion(server).await?;
    let mut results = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let name = file_name(file);
        progress(i, files.len(), &name);
        let outcome = submit_one(&mut client, file, unit, year, kind, consolidated).await;
        results.push(Submitted {
            file: name,
            outcome,
        });
    }
    progress(files.len(), files.len(), "done");
    println!(
        "\n{:<40} {:>4} {:>5} {:>5} {:>5}  verdict",
        "file", "rev", "错误", "警告", "提示"
    );
    let mut any_error = false;
    for r in &results {
        match &r.outcome {
            Ok(resp) => {
                let count = |s: rpb::Severity| {
                    resp.findings
                        .iter()
                        .filter(|f| f.severity == s as i32)
                        .count()
                };
                let pending = resp.validation_state == ValidationState::Pending as i32;
                let failed = resp.validation_state == ValidationState::Failed as i32;
                let verdict = if pending {
                    "待校验 (validation pending)"
                } else if failed {
                    any_error = true;
                    "无法校验 (validation failed)"
                } else if resp.valid {
                    "可公开"
                } else {
                    any_error = true;
                    "须修改"
                };
                println!(
                    "{:<40} {:>4} {:>5} {:>5} {:>5}  {verdict}{}",
                    esc(&r.file.chars().take(40).collect::<String>()),
                    resp.revision,
                    count(rpb::Severity::Error),
                    count(rpb::Severity::Warning),
                    count(rpb::Severity::Info),
                    if resp.replayed {
                        " (already submitted)"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => {
                any_error = true;
                println!("{:<40} rejected: {e}", esc(&r.file));
            }
        }
    }
    Ok(!any_error)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| p.display().to_string())
}

async fn submit_one(
    client: &mut IngestionServiceClient<ServiceChannel>,
    file: &Path,
    unit: &str,
    year: i32,
    kind: Option<&str>,
    consolidated: bool,
) -> Result<ipb::SubmitReportResponse, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    let kind = match kind {
        Some(k) => kind_from_arg(k).map_err(|e| e.to_string())?,
        // Not given: what the document says it is.
        None => match gouji_domain::parse_document(&bytes) {
            Ok(r) => rpb::ReportKind::try_from(gouji_proto::convert::kind_to_pb(r.kind))
                .unwrap_or(rpb::ReportKind::FinalAccounts),
            Err(e) => return Err(format!("cannot read as a disclosure: {e}")),
        },
    };
    let req = SubmitReportRequest {
        unit_code: unit.to_string(),
        year,
        kind: kind as i32,
        input: Some(Input::Document(bytes)),
        idempotency_key: String::new(),
        consolidated,
    };
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=4 {
        match client.submit_report(req.clone()).await {
            Ok(r) => return Ok(r.into_inner()),
            Err(s) if s.code() == tonic::Code::Unavailable && attempt < 4 => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(s) => return Err(describe(&s)),
        }
    }
    Err("the ingestion service stayed unavailable".into())
}

/// `gouji units register`.
pub(crate) async fn register_unit(
    server: &str,
    code: &str,
    name: &str,
    unit_type: &str,
    parent: Option<&str>,
) -> anyhow::Result<()> {
    let mut client = ingestion(server).await?;
    let unit = client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: code.into(),
                name: name.into(),
                unit_type: unit_type_from_arg(unit_type)? as i32,
                parent_code: parent.unwrap_or_default().into(),
            }),
        })
        .await
        .map_err(|s| anyhow::anyhow!(describe(&s)))?
        .into_inner();
    println!(
        "registered {} {} ({})",
        esc(&unit.code),
        esc(&unit.name),
        unit_type_label(unit.unit_type)
    );
    Ok(())
}

/// `gouji units list [--root]`: the hierarchy as an indented tree.
pub(crate) async fn list_units(server: &str, root: Option<&str>) -> anyhow::Result<()> {
    let mut client = ingestion(server).await?;
    let units = client
        .list_units(ListUnitsRequest {
            root_code: root.unwrap_or_default().into(),
        })
        .await
        .map_err(|s| anyhow::anyhow!(describe(&s)))?
        .into_inner()
        .units;
    let codes: std::collections::HashSet<&str> = units.iter().map(|u| u.code.as_str()).collect();
    fn walk(units: &[ipb::Unit], parent: &str, depth: usize, out: &mut String) {
        for u in units.iter().filter(|u| u.parent_code == parent) {
            out.push_str(&format!(
                "{}{} {} ({})\n",
                "  ".repeat(depth),
                esc(&u.code),
                esc(&u.name),
                unit_type_label(u.unit_type)
            ));
            walk(units, &u.code, depth + 1, out);
        }
    }
    let mut out = String::new();
    // Roots of what was listed: units whose parent is not in the list.
    for top in units
        .iter()
        .filter(|u| !codes.contains(u.parent_code.as_str()))
    {
        out.push_str(&format!(
            "{} {} ({})\n",
            esc(&top.code),
            esc(&top.name),
            unit_type_label(top.unit_type)
        ));
        walk(&units, &top.code, 1, &mut out);
    }
    crate::emit(&out)?;
    Ok(())
}

/// `gouji reports list`: every page, newest first.
pub(crate) async fn list_reports(
    server: &str,
    unit: Option<&str>,
    subtree: bool,
    year: Option<i32>,
    kind: Option<&str>,
) -> anyhow::Result<()> {
    let mut client = ingestion(server).await?;
    let kind = kind
        .map(kind_from_arg)
        .transpose()?
        .map(|k| k as i32)
        .unwrap_or(0);
    let mut token = String::new();
    println!(
        "{:<44} {:>4} {:<10} {:>5} {:>5}  submitted",
        "report", "rev", "state", "错误", "警告"
    );
    loop {
        let page = client
            .list_reports(ListReportsRequest {
                unit_code: unit.unwrap_or_default().into(),
                subtree,
                year: year.unwrap_or(0),
                kind,
                page_size: 200,
                page_token: token.clone(),
            })
            .await
            .map_err(|s| anyhow::anyhow!(describe(&s)))?
            .into_inner();
        for r in &page.reports {
            let count =
                |s: rpb::Severity| r.findings.iter().filter(|f| f.severity == s as i32).count();
            println!(
                "{:<44} {:>4} {:<10} {:>5} {:>5}  {}",
                esc(&r.report_id),
                r.revision,
                state_label(r.validation_state),
                count(rpb::Severity::Error),
                count(rpb::Severity::Warning),
                r.submitted_at
            );
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        token = page.next_page_token;
    }
}

/// `gouji reports get`: one revision with its findings (`--json` for the raw record).
pub(crate) async fn get_report(
    server: &str,
    unit: &str,
    year: i32,
    kind: &str,
    revision: u32,
    consolidated: bool,
) -> anyhow::Result<()> {
    let mut client = ingestion(server).await?;
    let r = client
        .get_report(GetReportRequest {
            unit_code: unit.into(),
            year,
            kind: kind_from_arg(kind)? as i32,
            revision,
            consolidated,
        })
        .await
        .map_err(|s| anyhow::anyhow!(describe(&s)))?
        .into_inner();
    let subject = esc(r.report.as_ref().map(|x| x.subject.as_str()).unwrap_or(""));
    println!(
        "{} revision {} — {subject}\nsubmitted {} · {} · catalog {}\n",
        esc(&r.report_id),
        r.revision,
        esc(&r.submitted_at),
        match ValidationState::try_from(r.validation_state) {
            Ok(ValidationState::Validated) => "validated".to_string(),
            Ok(ValidationState::Failed) =>
                format!("validation failed: {}", esc(&r.validation_error)),
            _ => "validation pending".to_string(),
        },
        if r.catalog_version.is_empty() {
            "—"
        } else {
            &r.catalog_version
        }
    );
    for f in &r.findings {
        let sev = rpb::Severity::try_from(f.severity)
            .map(|s| match s {
                rpb::Severity::Error => "错误",
                rpb::Severity::Warning => "警告",
                _ => "提示",
            })
            .unwrap_or("提示");
        println!("[{sev}] {} {}", esc(&f.rule_id), esc(&f.message));
    }
    Ok(())
}

/// `gouji aggregate`: the department's 汇总 rebuilt from its units and compared with the filed one.
pub(crate) async fn aggregate(
    server: &str,
    department: &str,
    year: i32,
    kind: &str,
    explain: &[String],
) -> anyhow::Result<bool> {
    use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
    use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
    let channel = endpoint(server)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach the aggregation service at {server}"))?;
    let mut client =
        AggregationServiceClient::new(gouji_runtime::telemetry::grpc::ClientTrace::new(channel))
            .max_decoding_message_size(256 << 20);
    let resp = client
        .aggregate_department(AggregateDepartmentRequest {
            department_code: department.into(),
            year,
            kind: kind_from_arg(kind)? as i32,
            explain_cells: explain.to_vec(),
        })
        .await
        .map_err(|s| anyhow::anyhow!(describe(&s)))?
        .into_inner();
    crate::emit(&render_aggregation(&resp))?;
    Ok(resp.differences.is_empty()
        && !resp
            .findings
            .iter()
            .any(|f| f.severity == rpb::Severity::Error as i32))
}

/// A readable aggregation result: totals, units, differing cells with each unit's share, findings.
pub(crate) fn render_aggregation(
    r: &gouji_proto::aggregation::v1::AggregateDepartmentResponse,
) -> String {
    let mut out = String::new();
    let report = r.consolidated.as_ref();
    let subject = esc(report.map(|x| x.subject.as_str()).unwrap_or(""));
    out.push_str(&format!("部门汇总 {subject}: {} units\n", r.units.len()));
    if let Some(rep) = report {
        for row in ["收入总计", "支出总计", "本年收入合计", "本年支出合计"] {
            if let Some(f) = rep
                .facts
                .iter()
                .find(|f| f.table == "公开01" && f.row == row)
            {
                out.push_str(&format!("  公开01 {row:<8} {:>14} 万元\n", f.amount));
            }
        }
    }
    for u in &r.units {
        out.push_str(&format!(
            "  · {} {} (revision {}{})\n",
            esc(&u.unit_code),
            esc(&u.unit_name),
            u.revision,
            if u.valid { "" } else { ", has errors" }
        ));
    }
    if r.built_on_failing_units {
        out.push_str("  ⚠ built on units that do not pass their own error rules (CU-08)\n");
    }
    if r.filed_present {
        out.push_str(&format!(
            "filed 汇总: {} cells compared, {} differ beyond tolerance\n",
            r.cells_compared,
            r.differences.len()
        ));
        for d in r.differences.iter().take(12) {
            out.push_str(&format!(
                "  {} {} {}: computed {} vs filed {} (difference {}, tolerance {})\n",
                esc(&d.table),
                esc(&d.row),
                esc(&d.column),
                d.computed,
                d.filed,
                d.difference,
                d.tolerance
            ));
            for c in &d.contributions {
                out.push_str(&format!("      {:<24} {:>14}\n", c.unit_code, c.amount));
            }
        }
        if r.differences.len() > 12 {
            out.push_str(&format!("  … {} more\n", r.differences.len() - 12));
        }
    } else {
        out.push_str("no filed 汇总 stored: nothing to compare\n");
    }
    for e in &r.explained {
        out.push_str(&format!(
            "cell {} {} {}: computed {} filed {}\n",
            esc(&e.table),
            esc(&e.row),
            esc(&e.column),
            e.computed,
            if e.filed.is_empty() { "—" } else { &e.filed }
        ));
        for c in &e.contributions {
            out.push_str(&format!("      {:<24} {:>14}\n", c.unit_code, c.amount));
        }
    }
    let count = |s: rpb::Severity| r.findings.iter().filter(|f| f.severity == s as i32).count();
    out.push_str(&format!(
        "findings: {} 错误, {} 警告, {} 提示\n",
        count(rpb::Severity::Error),
        count(rpb::Severity::Warning),
        count(rpb::Severity::Info)
    ));
    for f in r
        .findings
        .iter()
        .filter(|f| f.severity >= rpb::Severity::Warning as i32)
        .take(8)
    {
        out.push_str(&format!(
            "  [{}] {}\n",
            f.rule_id,
            esc(&f.message.chars().take(110).collect::<String>())
        ));
    }
    out
}
