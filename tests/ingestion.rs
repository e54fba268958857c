//! End to end: the real `gouji-ingestion` and `gouji-validation` binaries on loopback, over
//! gRPC, storing in real SQLite and real PostgreSQL.

use std::time::Duration;

use gouji_domain::amount::MeasureUnit;
use gouji_domain::model::{Fact, Provenance, Report, ReportKind, Scope};
use gouji_proto::convert;
use gouji_proto::ingestion::v1::{
    self as ipb, GetReportRequest, ListReportsRequest, ListUnitsRequest, RegisterUnitRequest,
    StreamReportsRequest, SubmitReportRequest, ValidationState, submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_tests::{
    Backend, Database, Stack, eventually, free_port, ingestion_client, register_ningqiang, seed,
    start_ingestion, start_validation,
};
use tonic::Code;
use tonic_types::StatusExt;

/// Generates `<name>::sqlite` and `<name>::postgres` from one async body taking a [`Backend`].
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body(super::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $body(super::Backend::Postgres).await;
            }
        }
    };
}

const FA: i32 = rpb::ReportKind::FinalAccounts as i32;

fn submit_doc(unit: &str, doc: Vec<u8>, consolidated: bool, key: &str) -> SubmitReportRequest {
    SubmitReportRequest {
        unit_code: unit.into(),
        year: 2024,
        kind: FA,
        input: Some(Input::Document(doc)),
        idempotency_key: key.into(),
        consolidated,
    }
}

/// A small structured report: 公开01 with a total and its parts (passes its identities).
fn small_report(n: u32) -> rpb::Report {
    let mut r = Report::new(
        "测试单位",
        2024,
        ReportKind::FinalAccounts,
        Scope::Unit,
        "shanxi-js",
    );
    for (row, v) in [
        ("本年收入合计", format!("{n}.50")),
        ("一般公共预算财政拨款收入", format!("{n}.50")),
    ] {
        r.facts.push(Fact {
            table: "公开01".into(),
            row: row.into(),
            column: "决算数".into(),
            value: v.parse().unwrap(),
            unit: MeasureUnit::Wanyuan,
            source: Provenance::default(),
        });
    }
    convert::report_to_pb(&r)
}

fn get(unit: &str, consolidated: bool) -> GetReportRequest {
    GetReportRequest {
        unit_code: unit.into(),
        year: 2024,
        kind: FA,
        revision: 0,
        consolidated,
    }
}

async fn count_revisions(
    client: &mut ipb::ingestion_service_client::IngestionServiceClient<tonic::transport::Channel>,
) -> Vec<ipb::StoredReport> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reports(ListReportsRequest {
                page_size: 500,
                page_token: token.clone(),
                ..ListReportsRequest::default()
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.reports);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

async fn hierarchy_and_seed_reports(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let (Some(s0), Some(s3)) = (seed(0), seed(3)) else {
        return;
    };
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation.url()).await.unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();

    register_ningqiang(&mut client).await.unwrap();
    gouji_tests::register_liulin(&mut client).await.unwrap();
    let tree = client
        .list_units(ListUnitsRequest {
            root_code: "610726".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(tree.len(), 3);
    assert_eq!(tree.iter().filter(|u| u.parent_code == "610726").count(), 2);
    assert_eq!(
        tree.iter()
            .find(|u| u.code == "610726002")
            .unwrap()
            .unit_type,
        rpb::UnitType::Institution as i32
    );

    // S3 is the department's filed 汇总; S0 a unit's own report.
    let r3 = client
        .submit_report(submit_doc("610726", s3, true, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r3.revision, 1);
    assert_eq!(r3.validation_state, ValidationState::Validated as i32);
    assert!(
        !r3.valid,
        "S3 has error findings (三公 预算 quoted wrongly)"
    );
    let r0 = client
        .submit_report(submit_doc("141125", s0, false, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r0.validation_state, ValidationState::Validated as i32);

    // Read back: the structured report, its findings and the catalog version are stored.
    let got = client
        .get_report(get("141125", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.revision, 1);
    assert!(!got.catalog_version.is_empty());
    let report = got.report.as_ref().unwrap();
    assert_eq!(report.subject, "柳林县医疗保险服务中心");
    // S0: 公开06 劳务费 19.52 while the 情况说明 says 19.92 → one NR-01 error pointing at both.
    let labor: Vec<_> = got
        .findings
        .iter()
        .filter(|f| f.rule_id == "NR-01" && f.message.contains("劳务费"))
        .collect();
    assert_eq!(labor.len(), 1, "{:#?}", got.findings);
    assert_eq!(labor[0].severity, rpb::Severity::Error as i32);
    assert_eq!(labor[0].expected, "19.52");
    assert_eq!(labor[0].actual, "19.92");
    assert!(labor[0].locations.iter().any(|l| l.table == "公开06"));
    assert!(labor[0].locations.iter().any(|l| !l.section.is_empty()));

    let filed = client
        .get_report(get("610726", true))
        .await
        .unwrap()
        .into_inner();
    assert!(filed.consolidated);
    assert!(
        filed.findings.iter().any(|f| f.rule_id == "G-06"),
        "S3 «(9094年度)»"
    );
    // The department's own (non-汇总) report was never filed.
    let missing = client.get_report(get("610726", false)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // The streaming read sees both reports of the subtree… and only those.
    let mut stream = client
        .stream_reports(StreamReportsRequest {
            root_code: "610726".into(),
            year: 2024,
            kind: FA,
        })
        .await
        .unwrap()
        .into_inner();
    let mut streamed = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        streamed.push(r);
    }
    assert_eq!(streamed.len(), 1);
    assert_eq!(streamed[0].unit_code, "610726");
    assert!(streamed[0].report.is_some());

    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}
both_backends!(
    hierarchy_and_seed_reports_round_trip,
    super::hierarchy_and_seed_reports
);

/// 32 clients × 50 submissions, each sent twice with the same key (a retry after a lost
/// reply): exactly 1,600 revisions, numbered without gaps per report.
async fn concurrent_idempotent(backend: Backend) {
    let Some(stack) = Stack::start(backend).await else {
        return;
    };
    let mut client = stack.client.clone();
    let units = ["610726", "610726002", "610726003"];
    let mut tasks = Vec::new();
    for c in 0..32u32 {
        let mut client = ingestion_client(&stack.ingestion.url()).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for i in 0..50u32 {
                let req = SubmitReportRequest {
                    unit_code: units[(c % 3) as usize].into(),
                    year: 2024,
                    kind: FA,
                    input: Some(Input::Report(small_report(c * 100 + i))),
                    idempotency_key: format!("client-{c}-submission-{i}"),
                    consolidated: false,
                };
                let first = client
                    .submit_report(req.clone())
                    .await
                    .unwrap()
                    .into_inner();
                let retry = client.submit_report(req).await.unwrap().into_inner();
                assert!(!first.replayed);
                assert!(retry.replayed);
                assert_eq!(
                    (first.report_id, first.revision),
                    (retry.report_id, retry.revision)
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = count_revisions(&mut client).await;
    assert_eq!(all.len(), 1600);
    for (u, unit) in units.iter().enumerate() {
        let clients = (0..32).filter(|c| c % 3 == u).count() as u32;
        let mut revs: Vec<u32> = all
            .iter()
            .filter(|r| r.unit_code == *unit)
            .map(|r| r.revision)
            .collect();
        revs.sort();
        assert_eq!(
            revs,
            (1..=clients * 50).collect::<Vec<u32>>(),
            "unit {unit}"
        );
    }
    stack.stop().await;
}
both_backends!(
    concurrent_submissions_exactly_once,
    super::concurrent_idempotent
);

/// Acknowledged while validation is down → pending, survives SIGKILL of ingestion, and is
/// validated once the validation service comes up.
async fn pending_survives_kill(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let Some(s0) = seed(0) else { return };
    let port = free_port();
    let validation_url = format!("http://127.0.0.1:{port}");
    let ingestion = start_ingestion(&db.url, &validation_url).await.unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    gouji_tests::register_liulin(&mut client).await.unwrap();
    let ack = client
        .submit_report(submit_doc("141125", s0, false, "s0-2024"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.validation_state, ValidationState::Pending as i32);
    assert!(ack.findings.is_empty());

    // Crash right after the acknowledgement.
    ingestion.kill().await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation_url).await.unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    let after = client
        .get_report(get("141125", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.revision, 1);
    assert_eq!(after.validation_state, ValidationState::Pending as i32);
    assert_eq!(
        after.report.as_ref().unwrap().subject,
        "柳林县医疗保险服务中心"
    );

    // Validation comes up on the configured port; the pending revision gets its findings.
    let validation = start_validation(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let validated = eventually(Duration::from_secs(60), || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_report(get("141125", false))
                .await
                .ok()?
                .into_inner();
            (r.validation_state == ValidationState::Validated as i32).then_some(r)
        }
    })
    .await
    .expect("pending revision validated after the validation service came back");
    assert!(
        validated
            .findings
            .iter()
            .any(|f| f.rule_id == "NR-01" && f.actual == "19.92")
    );
    // Still one revision: revalidation does not duplicate.
    assert_eq!(count_revisions(&mut client).await.len(), 1);
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}
both_backends!(
    acknowledged_submission_survives_sigkill_and_is_validated_later,
    super::pending_survives_kill
);

fn field_violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// Every kind of bad request: the right code, the offending field named, the store unchanged.
async fn bad_requests(backend: Backend) {
    let Some(stack) = Stack::start(backend).await else {
        return;
    };
    let mut client = stack.client.clone();
    let ok = client
        .submit_report(SubmitReportRequest {
            unit_code: "610726002".into(),
            year: 2024,
            kind: FA,
            input: Some(Input::Report(small_report(7))),
            idempotency_key: "first".into(),
            consolidated: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.revision, 1);

    let base = || SubmitReportRequest {
        unit_code: "610726002".into(),
        year: 2024,
        kind: FA,
        input: Some(Input::Document(b"placeholder".to_vec())),
        idempotency_key: String::new(),
        consolidated: false,
    };
    let cases: Vec<(&str, SubmitReportRequest, Code, &str)> = vec![
        (
            "unknown unit",
            SubmitReportRequest {
                unit_code: "999999".into(),
                ..base()
            },
            Code::InvalidArgument,
            "unit_code",
        ),
        (
            "year out of range",
            SubmitReportRequest {
                year: 1899,
                ..base()
            },
            Code::InvalidArgument,
            "year",
        ),
        (
            "empty document",
            SubmitReportRequest {
                input: Some(Input::Document(Vec::new())),
                ..base()
            },
            Code::InvalidArgument,
            "document",
        ),
        (
            "oversized document",
            SubmitReportRequest {
                input: Some(Input::Document(vec![b'a'; 16 * 1024 * 1024 + 1])),
                ..base()
            },
            Code::InvalidArgument,
            "document",
        ),
        (
            "oversized structured report",
            SubmitReportRequest {
                input: Some(Input::Report(rpb::Report {
                    subject: "x".repeat(gouji_runtime::server::MAX_CONTENT_BYTES),
                    ..small_report(1)
                })),
                ..base()
            },
            Code::InvalidArgument,
            "report",
        ),
        (
            "unparseable document",
            SubmitReportRequest {
                input: Some(Input::Document(
                    "今天天气很好，我们去公园散步。".repeat(50).into_bytes(),
                )),
                ..base()
            },
            Code::InvalidArgument,
            "document",
        ),
        (
            "binary document",
            SubmitReportRequest {
                input: Some(Input::Document(vec![0, 159, 146, 150])),
                ..base()
            },
            Code::InvalidArgument,
            "document",
        ),
        (
            "no input",
            SubmitReportRequest {
                input: None,
                ..base()
            },
            Code::InvalidArgument,
            "input",
        ),
        (
            "no kind",
            SubmitReportRequest { kind: 0, ..base() },
            Code::InvalidArgument,
            "kind",
        ),
        (
            "key reused for other content",
            SubmitReportRequest {
                input: Some(Input::Report(small_report(8))),
                idempotency_key: "first".into(),
                ..base()
            },
            Code::InvalidArgument,
            "idempotency_key",
        ),
    ];
    for (what, req, code, field) in cases {
        let status = client.submit_report(req).await.expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(
            field_violations(&status).contains(&field.to_string()),
            "{what}: {status:?}"
        );
    }

    // Listing: a page token from another query, a negative page size, a foreign token.
    let page = client
        .list_reports(ListReportsRequest {
            page_size: 1,
            ..ListReportsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        page.next_page_token.is_empty(),
        "one revision fits one page"
    );
    let other_query_token = {
        // Two revisions so that the first page of size 1 has a token.
        client
            .submit_report(SubmitReportRequest {
                unit_code: "610726003".into(),
                year: 2024,
                kind: FA,
                input: Some(Input::Report(small_report(9))),
                idempotency_key: "second".into(),
                consolidated: false,
            })
            .await
            .unwrap();
        client
            .list_reports(ListReportsRequest {
                page_size: 1,
                ..ListReportsRequest::default()
            })
            .await
            .unwrap()
            .into_inner()
            .next_page_token
    };
    assert!(!other_query_token.is_empty());
    let status = client
        .list_reports(ListReportsRequest {
            unit_code: "610726".into(),
            subtree: true,
            page_token: other_query_token,
            ..ListReportsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status), ["page_token"]);
    let status = client
        .list_reports(ListReportsRequest {
            page_token: "bm90LWEtdG9rZW4".into(),
            ..ListReportsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["page_token"]);
    let status = client
        .list_reports(ListReportsRequest {
            page_size: -1,
            ..ListReportsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["page_size"]);

    // Units: missing type, unknown parent, cycle.
    let status = client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: "X1".into(),
                name: "无类型".into(),
                unit_type: 0,
                parent_code: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["unit.unit_type"]);
    let status = client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: "X2".into(),
                name: "孤儿".into(),
                unit_type: rpb::UnitType::Institution as i32,
                parent_code: "nope".into(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["unit.parent_code"]);
    let status = client
        .register_unit(RegisterUnitRequest {
            unit: Some(ipb::Unit {
                code: "610726".into(),
                name: "宁强县医疗保障局".into(),
                unit_type: rpb::UnitType::Administrative as i32,
                parent_code: "610726002".into(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .get_report(GetReportRequest {
            revision: 9,
            ..get("610726002", false)
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Nothing of the above changed the store: 2 revisions, 3 units.
    assert_eq!(count_revisions(&mut client).await.len(), 2);
    let units = client
        .list_units(ListUnitsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(units.len(), 3);
    assert_eq!(
        units
            .iter()
            .find(|u| u.code == "610726")
            .unwrap()
            .parent_code,
        ""
    );

    stack.stop().await;
}
both_backends!(
    bad_requests_are_rejected_and_change_nothing,
    super::bad_requests
);

/// Re-parenting A under B and B under A through two concurrent RegisterUnit calls, 20 times:
/// one wins, the other is INVALID_ARGUMENT on `unit.parent_code`, and `ListUnits` of either
/// subtree answers (no cycle was stored).
async fn reparenting_race(backend: Backend) {
    let Some(stack) = Stack::start(backend).await else {
        return;
    };
    let mut client = stack.client.clone();
    let unit = |code: &str, parent: &str| RegisterUnitRequest {
        unit: Some(ipb::Unit {
            code: code.into(),
            name: format!("单位{code}"),
            unit_type: rpb::UnitType::Institution as i32,
            parent_code: parent.into(),
        }),
    };
    for round in 0..20 {
        for code in ["610726002", "610726003"] {
            client.register_unit(unit(code, "610726")).await.unwrap();
        }
        let (mut c1, mut c2) = (client.clone(), client.clone());
        let (a, b) = tokio::join!(
            c1.register_unit(unit("610726002", "610726003")),
            c2.register_unit(unit("610726003", "610726002")),
        );
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} / {b:?}");
        let refused = a.err().or(b.err()).unwrap();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(field_violations(&refused), ["unit.parent_code"]);
        for root in ["610726002", "610726003"] {
            let tree = tokio::time::timeout(
                Duration::from_secs(5),
                client.list_units(ListUnitsRequest {
                    root_code: root.into(),
                }),
            )
            .await
            .expect("ListUnits answers")
            .unwrap()
            .into_inner()
            .units;
            assert!(
                !tree.is_empty() && tree.len() <= 2,
                "round {round}: {tree:?}"
            );
        }
    }
    stack.stop().await;
}
both_backends!(
    concurrent_reparenting_is_refused_over_grpc,
    super::reparenting_race
);

/// Writes a revision's stored document around the service (plain SQL), as a store written by an
/// older version, or damaged, would hold it.
async fn overwrite_document(url: &str, key: &str, document: Vec<u8>) {
    let sql = "UPDATE revisions SET document = $1 WHERE idempotency_key = $2";
    let done = if url.starts_with("postgres") {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query(sql)
            .bind(document)
            .bind(key)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    } else {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query(sql)
            .bind(document)
            .bind(key)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    };
    assert_eq!(done, 1, "revision {key} exists");
}

/// Revisions that validation can never accept are stored first (one whose document it refuses
/// as unparseable, one larger than its transport limit), then good ones, all while validation
/// is down. Once validation is up, every good one is validated and the bad ones end
/// VALIDATION_STATE_FAILED with their reason; after a restart of validation a later
/// submission is validated too. (Before per-revision retries the round stopped at the first
/// failure, so the good ones stayed pending forever.)
async fn never_valid_revision_does_not_starve(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let Some(s3) = seed(3) else { return };
    let port = free_port();
    let validation_url = format!("http://127.0.0.1:{port}");
    let ingestion = gouji_tests::start_ingestion_with_env(
        &db.url,
        &validation_url,
        &[("GOUJI_REVALIDATE_MAX_DELAY_MS", "1000")],
    )
    .await
    .unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    register_ningqiang(&mut client).await.unwrap();
    gouji_tests::register_liulin(&mut client).await.unwrap();

    // The bad ones: stored while validation is down, then their documents replaced.
    for (unit, key) in [("141125", "bad-parse"), ("610726003", "bad-size")] {
        let ack = client
            .submit_report(SubmitReportRequest {
                unit_code: unit.into(),
                year: 2024,
                kind: FA,
                input: Some(Input::Report(small_report(1))),
                idempotency_key: key.into(),
                consolidated: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.validation_state, ValidationState::Pending as i32);
    }
    overwrite_document(&db.url, "bad-parse", vec![0, 159, 146, 150]).await;
    overwrite_document(
        &db.url,
        "bad-size",
        vec![b'x'; gouji_runtime::server::MAX_CONTENT_BYTES + (2 << 20)],
    )
    .await;
    // The good ones: structured reports, and seed S3 as a document.
    for i in 0..5u32 {
        let ack = client
            .submit_report(SubmitReportRequest {
                unit_code: "610726002".into(),
                year: 2024,
                kind: FA,
                input: Some(Input::Report(small_report(10 + i))),
                idempotency_key: format!("good-{i}"),
                consolidated: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.validation_state, ValidationState::Pending as i32);
    }
    client
        .submit_report(submit_doc("610726", s3.clone(), true, "good-s3"))
        .await
        .unwrap();
    // An outage fails nothing: a few rounds later everything is still pending.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = count_revisions(&mut client).await;
    assert_eq!(all.len(), 8);
    assert!(
        all.iter()
            .all(|r| r.validation_state == ValidationState::Pending as i32),
        "{all:#?}"
    );

    let validation = start_validation(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let settled = eventually(Duration::from_secs(60), || {
        let mut client = client.clone();
        async move {
            let all = count_revisions(&mut client).await;
            all.iter()
                .all(|r| r.validation_state != ValidationState::Pending as i32)
                .then_some(all)
        }
    })
    .await
    .expect("every revision settles once validation is up");
    eprintln!(
        "all 8 revisions settled {:?} after validation started",
        started.elapsed()
    );
    let by_unit = |unit: &str| -> Vec<&ipb::StoredReport> {
        settled.iter().filter(|r| r.unit_code == unit).collect()
    };
    for r in by_unit("610726002").into_iter().chain(by_unit("610726")) {
        assert_eq!(
            r.validation_state,
            ValidationState::Validated as i32,
            "{}",
            r.report_id
        );
        assert!(!r.catalog_version.is_empty());
        assert!(r.validation_error.is_empty());
    }
    // GetReport shows the terminal state and the reason.
    let bad = client
        .get_report(get("141125", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bad.validation_state, ValidationState::Failed as i32);
    assert!(
        bad.validation_error.contains("InvalidArgument"),
        "{}",
        bad.validation_error
    );
    let big = client
        .get_report(get("610726003", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(big.validation_state, ValidationState::Failed as i32);
    assert!(
        big.validation_error.contains("OutOfRange"),
        "{}",
        big.validation_error
    );
    assert!(big.validation_error.chars().count() < 700);

    // Validation restarts; a submission made while it is down is validated once it is back,
    // and the failed revisions stay failed (they are not retried).
    validation.stop().await.unwrap();
    let ack = client
        .submit_report(SubmitReportRequest {
            unit_code: "610726002".into(),
            year: 2024,
            kind: FA,
            input: Some(Input::Report(small_report(99))),
            idempotency_key: "good-after-restart".into(),
            consolidated: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.validation_state, ValidationState::Pending as i32);
    let validation = start_validation(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    eventually(Duration::from_secs(60), || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_report(get("610726002", false))
                .await
                .ok()?
                .into_inner();
            (r.revision == 6 && r.validation_state == ValidationState::Validated as i32)
                .then_some(())
        }
    })
    .await
    .expect("the submission made during the restart is validated");
    let all = count_revisions(&mut client).await;
    assert_eq!(all.len(), 9);
    assert_eq!(
        all.iter()
            .filter(|r| r.validation_state == ValidationState::Failed as i32)
            .count(),
        2
    );
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}
both_backends!(
    never_valid_revision_fails_and_the_others_are_validated,
    super::never_valid_revision_does_not_starve
);

/// Every string field of the ingestion API is bounded in length and refuses control and
/// bidirectional-formatting characters with INVALID_ARGUMENT and a field violation; the status
/// message quotes at most a short prefix of the input, so the details reach the client.
async fn string_limits(backend: Backend) {
    let Some(stack) = Stack::start(backend).await else {
        return;
    };
    let mut client = stack.client.clone();
    let huge = "局".repeat(6 << 20); // 18 MiB of UTF-8
    let unit = |code: &str, name: &str, parent: &str| RegisterUnitRequest {
        unit: Some(ipb::Unit {
            code: code.into(),
            name: name.into(),
            unit_type: rpb::UnitType::Institution as i32,
            parent_code: parent.into(),
        }),
    };
    let register_cases: Vec<(&str, RegisterUnitRequest, &str)> = vec![
        ("18 MiB name", unit("U1", &huge, ""), "unit.name"),
        (
            "201-character name",
            unit("U1", &"名".repeat(201), ""),
            "unit.name",
        ),
        ("NUL in name", unit("U1", "医保\0局", ""), "unit.name"),
        (
            "ESC in name",
            unit("U1", "医保\u{1b}[2J局", ""),
            "unit.name",
        ),
        (
            "U+202E in name",
            unit("U1", "医保\u{202E}局", ""),
            "unit.name",
        ),
        (
            "U+2066 in name",
            unit("U1", "医保\u{2066}局", ""),
            "unit.name",
        ),
        (
            "65-character code",
            unit(&"1".repeat(65), "名", ""),
            "unit.code",
        ),
        ("18 MiB code", unit(&huge, "名", ""), "unit.code"),
        ("ESC in code", unit("U\u{1b}1", "名", ""), "unit.code"),
        ("non-ASCII code", unit("单位1", "名", ""), "unit.code"),
        (
            "bad parent code",
            unit("U1", "名", "610726\u{202E}"),
            "unit.parent_code",
        ),
        (
            "18 MiB parent code",
            unit("U1", "名", &huge),
            "unit.parent_code",
        ),
    ];
    for (what, req, field) in register_cases {
        let status = client.register_unit(req).await.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert_eq!(field_violations(&status), [field], "{what}");
        assert!(
            status.message().len() < 1024,
            "{what}: {} bytes",
            status.message().len()
        );
        assert!(
            !status
                .message()
                .chars()
                .any(gouji_runtime::status::is_forbidden_char),
            "{what}: {:?}",
            status.message()
        );
    }
    // A 200-character name of CJK text is fine.
    client
        .register_unit(unit("U2", &"名".repeat(200), "610726"))
        .await
        .unwrap();

    let submit = |unit: &str, key: &str| SubmitReportRequest {
        unit_code: unit.into(),
        year: 2024,
        kind: FA,
        input: Some(Input::Report(small_report(3))),
        idempotency_key: key.into(),
        consolidated: false,
    };
    let submit_cases: Vec<(&str, SubmitReportRequest, &str)> = vec![
        (
            "129-character key",
            submit("610726002", &"k".repeat(129)),
            "idempotency_key",
        ),
        (
            "ESC in key",
            submit("610726002", "k\u{1b}1"),
            "idempotency_key",
        ),
        (
            "NUL in key",
            submit("610726002", "k\u{0}1"),
            "idempotency_key",
        ),
        ("18 MiB unit code", submit(&huge, "k1"), "unit_code"),
        (
            "U+202E in unit code",
            submit("610726\u{202E}002", "k1"),
            "unit_code",
        ),
    ];
    for (what, req, field) in submit_cases {
        let status = client.submit_report(req).await.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert_eq!(field_violations(&status), [field], "{what}");
        assert!(status.message().len() < 1024, "{what}");
    }
    // A 128-character key is fine.
    client
        .submit_report(submit("610726002", &"k".repeat(128)))
        .await
        .unwrap();

    let status = client
        .get_report(get(&"9".repeat(1 << 20), false))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["unit_code"]);
    assert!(status.message().len() < 1024);
    let status = client
        .list_units(ListUnitsRequest {
            root_code: "610726\u{1b}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["root_code"]);
    let status = client
        .list_reports(ListReportsRequest {
            page_token: "A".repeat(1 << 20),
            ..ListReportsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["page_token"]);
    assert!(status.message().len() < 1024);
    let status = client
        .list_reports(ListReportsRequest {
            unit_code: huge.clone(),
            ..ListReportsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["unit_code"]);
    let mut stream_client = client.clone();
    let status = stream_client
        .stream_reports(StreamReportsRequest {
            root_code: "x\u{0}".into(),
            year: 2024,
            kind: FA,
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["root_code"]);

    // Nothing was stored by the refused calls: 3 + U2 units, one revision.
    assert_eq!(
        client
            .list_units(ListUnitsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .units
            .len(),
        4
    );
    assert_eq!(count_revisions(&mut client).await.len(), 1);
    stack.stop().await;
}
both_backends!(
    string_fields_are_bounded_and_refuse_control_characters,
    super::string_limits
);

/// A name holding ESC / U+202E / NUL that reached the store around the API (an older version,
/// a script) is printed escaped by the CLI, never raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_escapes_control_characters_in_names() {
    let db = Database::create(Backend::Sqlite).await.unwrap();
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation.url()).await.unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    register_ningqiang(&mut client).await.unwrap();
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("UPDATE units SET name = $1 WHERE code = '610726002'")
        .bind("经办\u{1b}[2J中心\u{202E}心中\u{0}")
        .execute(&mut conn)
        .await
        .unwrap();
    let bin = gouji_runtime::process::bin_dir().unwrap().join("gouji");
    let out = tokio::process::Command::new(bin)
        .args(["units", "list", "--server", &ingestion.url()])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("经办\\u{001B}[2J中心\\u{202E}心中\\u{0000}"),
        "{text}"
    );
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && gouji_runtime::status::is_forbidden_char(c)),
        "{text:?}"
    );
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

/// A document whose parsed report would be larger than the stored-report limit is refused with
/// INVALID_ARGUMENT on `document` before anything is stored, so that every stored report can be
/// returned whole by `GetReport` and `StreamReports` (the limit lowered here to 20,000 bytes;
/// seed 3 reads as a report well above that).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_too_large_to_return_is_refused_before_storing() {
    let Some(s3) = seed(3) else { return };
    let db = Database::create(Backend::Sqlite).await.unwrap();
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = gouji_tests::start_ingestion_with_env(
        &db.url,
        &validation.url(),
        &[("GOUJI_MAX_STORED_REPORT_BYTES", "20000")],
    )
    .await
    .unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    register_ningqiang(&mut client).await.unwrap();
    let status = client
        .submit_report(SubmitReportRequest {
            unit_code: "610726".into(),
            year: 2024,
            kind: FA,
            input: Some(Input::Document(s3)),
            idempotency_key: String::new(),
            consolidated: true,
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(field_violations(&status), ["document"]);
    let why = &status.get_details_bad_request().unwrap().field_violations[0].description;
    assert!(
        why.contains("bytes encoded") && why.contains("20000"),
        "{why}"
    );
    let listed = client
        .list_reports(ListReportsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reports.is_empty(), "nothing stored: {listed:?}");
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}
