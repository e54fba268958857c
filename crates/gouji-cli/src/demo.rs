//! `gouji demo`: the main job end to end on loopback with embedded SQLite.
//!
//! Starts `gouji-validation`, `gouji-ingestion` (SQLite in a temporary directory) and
//! `gouji-aggregation` on free loopback ports, then:
//! 1. registers and submits the bundled fictional department (generated deterministically by
//!    `gouji_domain::synth::generate_department`: a 本级 and its 二级/三级 units), plus a filed
//!    汇总 with one deliberately wrong cell, and aggregates it;
//! 2. validates the bundled sample excerpts in `samples/` through the ingestion service;
//! 3. when `../shared/seeds` is present: submits the seeds (S0–S2 as units; S3, S4 as filed
//!    汇总 whose units are the deterministic split of `synth::split_department`) and aggregates
//!    宁强 (S3) and 榆林 (S4);
//! 4. when `../shared/corpus` is present: submits every report of other provinces' layouts
//!    (Jiangsu 部门预算, Shanghai 部门/单位预算 in 元, read by the generic reader) and rolls the
//!    Shanghai 部门预算 up from its 单位 report;
//! 5. prints the outcome and stops the three services with SIGTERM.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use gouji_domain::consolidate::{Consolidator, UnitMeta};
use gouji_domain::model::Report;
use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::convert;
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{
    self as ipb, RegisterUnitRequest, SubmitReportRequest, ValidationState,
    submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_runtime::process::ServiceProcess;
use gouji_runtime::server::ServiceChannel;

use crate::remote;

fn documents(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The seed whose file name starts with `NNN_`.
fn seed(dir: &Path, n: usize) -> Option<Vec<u8>> {
    documents(dir)
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{n:03}_")))
        })
        .and_then(|p| std::fs::read(p).ok())
}

async fn register(
    client: &mut IngestionServiceClient<ServiceChannel>,
    meta: &UnitMeta,
    parent: Option<&str>,
) -> anyhow::Result<()> {
    client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: meta.code.clone(),
                name: meta.name.clone(),
                unit_type: convert::unit_type_to_pb(meta.unit_type),
                parent_code: parent.unwrap_or_default().to_string(),
            }),
        })
        .await
        .map_err(|s| anyhow::anyhow!(remote::describe(&s)))?;
    Ok(())
}

async fn submit(
    client: &mut IngestionServiceClient<ServiceChannel>,
    unit: &str,
    year: i32,
    input: Input,
    consolidated: bool,
) -> anyhow::Result<ipb::SubmitReportResponse> {
    let kind = input_kind(&input);
    Ok(client
        .submit_report(SubmitReportRequest {
            unit_code: unit.to_string(),
            year,
            kind,
            input: Some(input),
            idempotency_key: String::new(),
            consolidated,
        })
        .await
        .map_err(|s| anyhow::anyhow!(remote::describe(&s)))?
        .into_inner())
}

/// 预算 or 决算, as the input says: documents are filed as what they say they are.
fn input_kind(input: &Input) -> i32 {
    match input {
        Input::Document(bytes) => gouji_domain::parse_document(bytes)
            .map(|r| convert::kind_to_pb(r.kind))
            .unwrap_or(rpb::ReportKind::FinalAccounts as i32),
        Input::Report(r) => r.kind,
    }
}

fn verdict_line(name: &str, r: &ipb::SubmitReportResponse) -> String {
    let count = |s: rpb::Severity| r.findings.iter().filter(|f| f.severity == s as i32).count();
    format!(
        "  {:<46} rev {:>2}  错误 {:>3}  警告 {:>3}  提示 {:>3}  {}",
        name.chars().take(46).collect::<String>(),
        r.revision,
        count(rpb::Severity::Error),
        count(rpb::Severity::Warning),
        count(rpb::Severity::Info),
        if r.validation_state == ValidationState::Pending as i32 {
            "待校验"
        } else if r.valid {
            "可公开"
        } else {
            "须修改"
        }
    )
}

/// Registers a department's units (parents first), submits their reports and the filed 汇总,
/// then aggregates and prints the result.
async fn department(
    ingest: &mut IngestionServiceClient<ServiceChannel>,
    agg: &mut AggregationServiceClient<ServiceChannel>,
    units: &[(UnitMeta, Report)],
    filed: Input,
    year: i32,
) -> anyhow::Result<()> {
    let dept = units
        .first()
        .context("a department needs units")?
        .0
        .code
        .clone();
    for (meta, _) in units {
        register(ingest, meta, meta.parent_code.as_deref()).await?;
    }
    for (meta, report) in units {
        submit(
            ingest,
            &meta.code,
            year,
            Input::Report(convert::report_to_pb(report)),
            false,
        )
        .await?;
    }
    let kind = input_kind(&filed);
    let r = submit(ingest, &dept, year, filed, true).await?;
    println!("{}", verdict_line("filed 汇总", &r));
    let resp = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: dept,
            year,
            kind,
            explain_cells: vec![],
        })
        .await
        .map_err(|s| anyhow::anyhow!(remote::describe(&s)))?
        .into_inner();
    print!("{}", remote::render_aggregation(&resp));
    Ok(())
}

pub(crate) async fn run(samples: &Path, seeds: &Path, corpus: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite:{}", dir.path().join("gouji-demo.db").display());
    let validation =
        ServiceProcess::start("gouji-validation", &["--listen", "127.0.0.1:0"], &[], true).await?;
    let ingestion = ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--validation-url",
            &validation.url(),
        ],
        &[],
        true,
    )
    .await?;
    let aggregation = ServiceProcess::start(
        "gouji-aggregation",
        &[
            "--listen",
            "127.0.0.1:0",
            "--ingestion-url",
            &ingestion.url(),
            "--validation-url",
            &validation.url(),
        ],
        &[],
        true,
    )
    .await?;
    println!(
        "services on loopback: validation {}, ingestion {} ({db}), aggregation {}\n",
        validation.addr, ingestion.addr, aggregation.addr
    );
    let outcome = jobs(&ingestion.url(), &aggregation.url(), samples, seeds, corpus).await;
    aggregation.stop().await?;
    ingestion.stop().await?;
    validation.stop().await?;
    println!("\nservices stopped. Run them yourself: see README «Running the services».");
    outcome
}

async fn jobs(
    ingestion: &str,
    aggregation: &str,
    samples: &Path,
    seeds: &Path,
    corpus: &Path,
) -> anyhow::Result<()> {
    let mut ingest = remote::ingestion(ingestion).await?;
    let mut agg = AggregationServiceClient::new(gouji_runtime::telemetry::grpc::ClientTrace::new(
        remote::endpoint(aggregation)?.connect().await?,
    ))
    .max_decoding_message_size(256 << 20);

    // 1. The fictional department, with a filed 汇总 that is off by 1.00 万元 in one cell.
    let (root, units) = gouji_domain::synth::generate_department(5, 2024);
    println!(
        "1. fictional department {} ({} units, generated by synth::generate_department)",
        root.name,
        units.len()
    );
    let mut consolidator =
        Consolidator::new(root.clone(), gouji_domain::ReportKind::FinalAccounts, 2024);
    for (meta, report) in &units {
        consolidator
            .add(meta.clone(), report)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut filed = consolidator.finish().report;
    if let Some(f) = filed
        .facts
        .iter_mut()
        .find(|f| f.table == "公开05" && f.column == "基本支出" && f.row.len() == 7)
    {
        println!(
            "   (the filed 汇总 misstates 公开05 {} 基本支出 by +1.00)",
            f.row
        );
        f.value += rust_decimal::Decimal::ONE;
    }
    department(
        &mut ingest,
        &mut agg,
        &units,
        Input::Report(convert::report_to_pb(&filed)),
        2024,
    )
    .await?;

    // 2. The bundled sample excerpts, each as its own unit.
    println!(
        "\n2. sample excerpts in {} (validated on submission)",
        samples.display()
    );
    for (i, file) in documents(samples).iter().enumerate() {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let code = format!("SAMPLE-{i:02}");
        let meta = UnitMeta::new(code.clone(), name.clone())
            .with_type(gouji_domain::UnitType::Institution);
        register(&mut ingest, &meta, None).await?;
        let bytes = std::fs::read(file)?;
        let year = gouji_domain::parse_document(&bytes)
            .map(|r| r.year)
            .unwrap_or(2024)
            .clamp(2000, 2100);
        match submit(&mut ingest, &code, year, Input::Document(bytes), false).await {
            Ok(r) => println!("{}", verdict_line(&name, &r)),
            Err(e) => println!("  {name:<46} rejected: {e}"),
        }
    }

    // 3. The seeds, 4. the corpus, when present.
    seed_documents(&mut ingest, &mut agg, seeds).await?;
    corpus_documents(&mut ingest, &mut agg, corpus).await
}

/// Step 3: the seeds S0–S2 as units, S3 and S4 as filed 汇总 of units split from them.
async fn seed_documents(
    ingest: &mut IngestionServiceClient<ServiceChannel>,
    agg: &mut AggregationServiceClient<ServiceChannel>,
    seeds: &Path,
) -> anyhow::Result<()> {
    if !seeds.is_dir() {
        println!(
            "\n(no seeds at {}: skipped the real documents)",
            seeds.display()
        );
        return Ok(());
    }
    println!("\n3. seed documents in {}", seeds.display());
    for n in 0..3 {
        let Some(bytes) = seed(seeds, n) else {
            continue;
        };
        let Ok(report) = gouji_domain::parse_document(&bytes) else {
            continue;
        };
        let code = format!("SEED-{n}");
        let meta = UnitMeta::new(code.clone(), report.subject.clone()).with_type(
            report
                .unit_type
                .unwrap_or(gouji_domain::UnitType::Institution),
        );
        register(ingest, &meta, None).await?;
        let r = submit(
            ingest,
            &code,
            report.year.clamp(2000, 2100),
            Input::Document(bytes),
            false,
        )
        .await?;
        println!("{}", verdict_line(&format!("S{n} {}", report.subject), &r));
    }
    for n in [3, 4] {
        let Some(bytes) = seed(seeds, n) else {
            continue;
        };
        let Ok(published) = gouji_domain::parse_document(&bytes) else {
            continue;
        };
        let units = gouji_domain::synth::split_department(&published, n as u64);
        println!(
            "\n   S{n} {}: units split deterministically from the published 汇总 (synth::split_department)",
            published.subject
        );
        department(ingest, agg, &units, Input::Document(bytes), published.year).await?;
    }
    Ok(())
}

/// Step 4: the corpus of other layouts. Each report is submitted as its own unit; the Shanghai
/// 部门预算 of 上海市普陀区人民政府办公室, whose only 单位 report is its 本级, is aggregated
/// from that 单位 and compared with the 部门 report as filed.
async fn corpus_documents(
    ingest: &mut IngestionServiceClient<ServiceChannel>,
    agg: &mut AggregationServiceClient<ServiceChannel>,
    corpus: &Path,
) -> anyhow::Result<()> {
    if !corpus.is_dir() {
        println!(
            "\n(no corpus at {}: skipped other layouts)",
            corpus.display()
        );
        return Ok(());
    }
    println!("\n4. other provinces' layouts in {}", corpus.display());
    for (n, path) in documents(corpus).iter().enumerate() {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(report) = gouji_domain::parse_document(&bytes) else {
            continue;
        };
        let code = format!("CORPUS-{n}");
        let meta = UnitMeta::new(code.clone(), report.subject.clone())
            .with_type(gouji_domain::UnitType::Administrative);
        register(ingest, &meta, None).await?;
        let r = submit(
            ingest,
            &code,
            report.year.clamp(2000, 2100),
            Input::Document(bytes),
            false,
        )
        .await?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        println!(
            "{}",
            verdict_line(&format!("{name} [{}]", report.family), &r)
        );
    }
    let (unit, filed) = (
        corpus.join("putuo_zfb_2025_dwys.txt"),
        corpus.join("putuo_zfb_2025_bmys.txt"),
    );
    let (Ok(unit), Ok(filed)) = (std::fs::read(unit), std::fs::read(filed)) else {
        return Ok(());
    };
    let report = gouji_domain::parse_document(&unit)?;
    println!("\n   上海市普陀区人民政府办公室 2025 部门预算: rolled up from its 单位 report (元)");
    let meta = UnitMeta::new("PUTUO-ZFB", report.subject.clone())
        .with_type(gouji_domain::UnitType::Administrative);
    department(ingest, agg, &[(meta, report)], Input::Document(filed), 2025).await
}
