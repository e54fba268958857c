//! End to end: all three binaries on loopback. A department's units (seed S3 split into 本级 +
//! 2 二级单位 by `gouji_domain::synth`) and its filed 汇总 (S3 as published) are submitted to
//! ingestion; aggregation rebuilds the 汇总 over gRPC and compares it with the filed one.

use gouji_domain::amount::MeasureUnit;
use gouji_domain::synth::split_department;
use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::convert;
use gouji_proto::ingestion::v1::{
    SubmitReportRequest, ValidationState, submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_tests::{
    Backend, Database, corpus, ingestion_client, register, seed, start_aggregation,
    start_ingestion, start_validation,
};
use rust_decimal::Decimal;
use tonic::Code;

const FA: i32 = rpb::ReportKind::FinalAccounts as i32;

fn unit_type_pb(t: Option<gouji_domain::UnitType>) -> rpb::UnitType {
    rpb::UnitType::try_from(convert::unit_type_to_pb(t)).unwrap_or(rpb::UnitType::Unspecified)
}

async fn aggregate_split_s3(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let Some(s3) = seed(3) else { return };
    let published = gouji_domain::parse_document(&s3).unwrap();
    let units = split_department(&published, 7);
    let dept = units[0].0.code.clone();

    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation.url()).await.unwrap();
    let aggregation = start_aggregation(&ingestion.url(), &validation.url())
        .await
        .unwrap();
    let mut ingest = ingestion_client(&ingestion.url()).await.unwrap();
    let mut agg = AggregationServiceClient::connect(aggregation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);

    // Registry: the 本级 carries the department code; 二级 units under it.
    for (meta, _) in &units {
        let parent = if meta.code == dept { "" } else { dept.as_str() };
        register(
            &mut ingest,
            &meta.code,
            &meta.name,
            unit_type_pb(meta.unit_type),
            parent,
        )
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
    ingest
        .submit_report(SubmitReportRequest {
            unit_code: dept.clone(),
            year: 2024,
            kind: FA,
            input: Some(Input::Document(s3.clone())),
            idempotency_key: "filed-汇总".into(),
            consolidated: true,
        })
        .await
        .unwrap();

    let request = AggregateDepartmentRequest {
        department_code: dept.clone(),
        year: 2024,
        kind: FA,
        explain_cells: vec!["公开01|收入总计|决算数".into()],
    };
    let r = agg
        .aggregate_department(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(r.filed_present);
    assert!(
        r.cells_compared > 100,
        "compared {} cells",
        r.cells_compared
    );
    assert_eq!(r.units.len(), 3);
    assert!(r.units.iter().all(|u| u.revision == 1));
    assert!(
        r.differences.is_empty(),
        "the split reproduces S3 within tolerance: {:#?}",
        r.differences
    );
    // The published 收入总计 and the rebuilt one agree; contributions sum to it.
    let total = &r.explained[0];
    assert_eq!(total.filed, "812.04");
    let computed: Decimal = total.computed.parse().unwrap();
    assert_eq!(computed, "812.04".parse::<Decimal>().unwrap());
    let sum: Decimal = total
        .contributions
        .iter()
        .map(|c| c.amount.parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(sum, computed);
    // The split puts internal transfers between 本级 and a 二级 unit: they were eliminated.
    assert!(
        total
            .contributions
            .iter()
            .any(|c| c.unit_code.starts_with("冲抵"))
    );

    // One unit corrects one cell: the comparison points at exactly that cell and that unit.
    let (meta, report) = &units[1];
    let mut changed = report.clone();
    let fact = changed
        .facts
        .iter_mut()
        .find(|f| f.table == "公开05" && f.row == "2101505" && f.column == "基本支出")
        .expect("unit 1 reports 公开05 2101505 基本支出");
    assert_eq!(fact.unit, MeasureUnit::Wanyuan);
    let before = fact.value;
    fact.value += Decimal::ONE;
    ingest
        .submit_report(SubmitReportRequest {
            unit_code: meta.code.clone(),
            year: 2024,
            kind: FA,
            input: Some(Input::Report(convert::report_to_pb(&changed))),
            idempotency_key: format!("{}-r2", meta.code),
            consolidated: false,
        })
        .await
        .unwrap();
    let r = agg
        .aggregate_department(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.units
            .iter()
            .find(|u| u.unit_code == meta.code)
            .unwrap()
            .revision,
        2
    );
    let leaf: Vec<_> = r
        .differences
        .iter()
        .filter(|d| d.table == "公开05" && d.row == "2101505" && d.column == "基本支出")
        .collect();
    assert_eq!(leaf.len(), 1, "{:#?}", r.differences);
    assert_eq!(leaf[0].filed, "345.55");
    assert_eq!(leaf[0].computed, "346.55");
    let contribution = leaf[0]
        .contributions
        .iter()
        .find(|c| c.unit_code == meta.code)
        .unwrap();
    assert_eq!(
        contribution.amount.parse::<Decimal>().unwrap(),
        before + Decimal::ONE
    );
    // Every other difference is a total containing that cell (款 2101, 类 210, 合计) in 公开05.
    assert!(
        r.differences.iter().all(|d| d.table == "公开05"),
        "{:#?}",
        r.differences
    );
    assert!(r.findings.iter().any(|f| f.rule_id == "CU-01"));

    // Bad requests.
    let status = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: "nope".into(),
            year: 2024,
            kind: FA,
            explain_cells: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: dept.clone(),
            year: 2024,
            kind: FA,
            explain_cells: vec!["公开01".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: dept.clone(),
            year: 2023,
            kind: FA,
            explain_cells: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    aggregation.stop().await.unwrap();
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

mod split_s3_reproduces_the_filed_department_report {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::aggregate_split_s3(super::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::aggregate_split_s3(super::Backend::Postgres).await;
    }
}

/// An upstream that is down, or that breaks every connection (a crashing or restarting
/// ingestion), makes aggregation answer UNAVAILABLE with a retry delay, not INTERNAL.
/// A Shanghai 部门预算 in 元 through all three services: the department's only 单位 report is
/// its 本级, the 部门 report its filed 汇总, and the two agree cell for cell (the 交流服务中心
/// «不单列预算，并入本部»). Consolidation works on canonical tables, for 预算 as for 决算.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shanghai_department_budget_rolls_up_from_its_unit() {
    let (Some(unit), Some(filed)) = (corpus("putuo_zfb_2025_dwys"), corpus("putuo_zfb_2025_bmys"))
    else {
        return;
    };
    let Some(db) = Database::create(Backend::Sqlite).await else {
        return;
    };
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation.url()).await.unwrap();
    let aggregation = start_aggregation(&ingestion.url(), &validation.url())
        .await
        .unwrap();
    let mut ingest = ingestion_client(&ingestion.url()).await.unwrap();
    let mut agg = AggregationServiceClient::connect(aggregation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    let budget = rpb::ReportKind::Budget as i32;
    register(
        &mut ingest,
        "310107001",
        "上海市普陀区人民政府办公室",
        rpb::UnitType::Administrative,
        "",
    )
    .await
    .unwrap();
    for (doc, consolidated) in [(unit, false), (filed, true)] {
        let ack = ingest
            .submit_report(SubmitReportRequest {
                unit_code: "310107001".into(),
                year: 2025,
                kind: budget,
                input: Some(Input::Document(doc)),
                idempotency_key: format!("putuo-zfb-{consolidated}"),
                consolidated,
            })
            .await
            .unwrap()
            .into_inner();
        // Validation accepts the parsed report of a generic family and finds no error.
        assert_eq!(
            (ack.validation_state, ack.valid),
            (ValidationState::Validated as i32, true),
            "{}",
            ack.validation_error
        );
    }
    let r = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: "310107001".into(),
            year: 2025,
            kind: budget,
            explain_cells: vec!["income_expense_summary|收入总计|预算数".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.filed_present);
    assert!(
        r.cells_compared > 150,
        "compared {} cells",
        r.cells_compared
    );
    assert!(r.differences.is_empty(), "{:#?}", r.differences);
    // The consolidated report validates without error (CT-03 compares 收入总计 and 支出总计 in
    // the column both print, although the 单位 prints more expenditure columns).
    let errors: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity == rpb::Severity::Error as i32)
        .map(|f| &f.message)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // 91,016,775.35 元 = 9,101.677535 万元, compared in one unit.
    let total = &r.explained[0];
    assert_eq!(
        total.computed.parse::<Decimal>().unwrap(),
        "9101.677535".parse::<Decimal>().unwrap()
    );
    aggregation.stop().await.unwrap();
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_failures_are_retryable_unavailable() {
    use tonic_types::StatusExt as _;
    // Accepts connections and closes them at once, answering garbage.
    let broken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken_url = format!("http://{}", broken.local_addr().unwrap());
    let acceptor = tokio::spawn(async move {
        loop {
            if let Ok((mut sock, _)) = broken.accept().await {
                use tokio::io::AsyncWriteExt as _;
                let _ = sock.write_all(b"HTTP/1.1 500 broken\r\n\r\n").await;
            }
        }
    });
    let down_url = format!("http://127.0.0.1:{}", gouji_tests::free_port());
    for (what, upstream_url) in [("broken", &broken_url), ("down", &down_url)] {
        let aggregation = start_aggregation(upstream_url, upstream_url).await.unwrap();
        let mut agg = AggregationServiceClient::connect(aggregation.url())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let status = agg
            .aggregate_department(AggregateDepartmentRequest {
                department_code: "610726".into(),
                year: 2024,
                kind: FA,
                explain_cells: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
        assert!(
            status.get_details_retry_info().is_some(),
            "{what}: RetryInfo: {status:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{what}"
        );
        aggregation.stop().await.unwrap();
    }
    acceptor.abort();
}
