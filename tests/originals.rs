//! Originals over gRPC: PDF and workbook bytes in the `document` field of SubmitReport and
//! ValidateReport, told by content, read by the same table readers; the bytes stored as sent;
//! GetReport returns the reader and the origin (page box, sheet cell) of every line; an
//! unreadable original is INVALID_ARGUMENT with the reader's reason.

use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::ingestion::v1::{
    GetReportRequest, SubmitReportRequest, ValidationState, submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_proto::validation::v1::validate_report_request::Input as VInput;
use gouji_proto::validation::v1::{
    ValidateReportRequest, validation_service_client::ValidationServiceClient,
};
use gouji_tests::{
    Backend, Database, corpus, corpus_original, ingestion_client, register, start_aggregation,
    start_ingestion, start_validation,
};
use tonic::Code;

/// The Shanghai 部门预算 and its 单位 submitted as the published PDFs roll up with no difference,
/// exactly as their texts do (tests/aggregation.rs); the stored bytes are the PDF's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pdf_reports_submit_store_and_roll_up() {
    let (Some(unit), Some(filed)) = (
        corpus_original("putuo_zfb_2025_dwys.pdf"),
        corpus_original("putuo_zfb_2025_bmys.pdf"),
    ) else {
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
    for (doc, consolidated) in [(unit.clone(), false), (filed, true)] {
        let ack = ingest
            .submit_report(SubmitReportRequest {
                unit_code: "310107001".into(),
                year: 2025,
                kind: budget,
                input: Some(Input::Document(doc)),
                idempotency_key: format!("putuo-zfb-pdf-{consolidated}"),
                consolidated,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (ack.validation_state, ack.valid),
            (ValidationState::Validated as i32, true),
            "{}",
            ack.validation_error
        );
    }
    let stored = ingest
        .get_report(GetReportRequest {
            unit_code: "310107001".into(),
            year: 2025,
            kind: budget,
            revision: 0,
            consolidated: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored.content_hash,
        gouji_store::content_hash(&unit),
        "stored as sent"
    );
    let report = stored.report.expect("report");
    assert_eq!(report.source_format, "pdf");
    // (The stored report keeps the origins of every line; its source lines stay in the
    // stored document.)
    assert!(
        report.line_origins.len() > 300,
        "{}",
        report.line_origins.len()
    );
    let fact = &report.facts[0];
    let line = fact.source.as_ref().expect("source").line as usize;
    assert!(
        report.line_origins[line - 1].page > 0,
        "a fact's line has its page"
    );
    let mut agg = AggregationServiceClient::connect(aggregation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    let r = agg
        .aggregate_department(AggregateDepartmentRequest {
            department_code: "310107001".into(),
            year: 2025,
            kind: budget,
            explain_cells: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.filed_present);
    assert!(r.cells_compared > 150, "compared {}", r.cells_compared);
    assert!(r.differences.is_empty(), "{:#?}", r.differences);
    aggregation.stop().await.unwrap();
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

/// ValidateReport takes a workbook and a PDF as they are, gives the same findings as their
/// texts, and refuses an unreadable original with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validate_report_reads_originals_by_content() {
    let (Some(xls), Some(xls_txt), Some(pdf), Some(pdf_txt)) = (
        corpus_original("putuo_xxdw_2026_dwys_template.xls"),
        corpus("putuo_xxdw_2026_dwys_template"),
        corpus_original("putuo_shfly_2024_dwys.pdf"),
        corpus("putuo_shfly_2024_dwys"),
    ) else {
        return;
    };
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let mut client = ValidationServiceClient::connect(validation.url())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    let req = |doc: Vec<u8>| ValidateReportRequest {
        input: Some(VInput::Document(doc)),
        context: None,
        omit_report: false,
        ..Default::default()
    };
    for (original, text, format) in [(xls, xls_txt, "xls"), (pdf, pdf_txt, "pdf")] {
        let a = client
            .validate_report(req(original))
            .await
            .unwrap()
            .into_inner();
        let b = client
            .validate_report(req(text))
            .await
            .unwrap()
            .into_inner();
        let ra = a.report.as_ref().expect("report");
        assert_eq!(ra.source_format, format);
        assert_eq!(b.report.as_ref().expect("report").source_format, "");
        let rules = |v: &gouji_proto::validation::v1::ValidateReportResponse| {
            let mut m: Vec<String> = v.findings.iter().map(|f| f.message.clone()).collect();
            m.sort();
            m
        };
        assert_eq!(rules(&a), rules(&b), "{format}: same findings as the text");
        assert_eq!(ra.facts.len(), b.report.as_ref().unwrap().facts.len());
    }
    let mut truncated = corpus_original("putuo_shfly_2024_dwys.pdf").unwrap();
    truncated.truncate(2_000);
    let err = client.validate_report(req(truncated)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("PDF") || err.message().contains("document"),
        "{}",
        err.message()
    );
    validation.stop().await.unwrap();
}
