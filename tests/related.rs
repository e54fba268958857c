//! End to end, cross-report rules (XR-*): the real `gouji-ingestion` and `gouji-validation`
//! binaries on loopback, on SQLite and PostgreSQL. A report whose prior-year report arrives
//! after it is revalidated in the background, and `GetReport` says which revision of which
//! related report its latest findings used.

use std::time::Duration;

use gouji_proto::ingestion::v1::{
    GetReportRequest, StoredReport, SubmitReportRequest, ValidationState,
    submit_report_request::Input,
};
use gouji_proto::report::v1 as rpb;
use gouji_tests::{
    Backend, Database, corpus, eventually, ingestion_client, register, start_ingestion,
    start_validation,
};

const BUDGET: i32 = rpb::ReportKind::Budget as i32;

fn submit(year: i32, doc: Vec<u8>) -> SubmitReportRequest {
    SubmitReportRequest {
        unit_code: "JS-JCY".into(),
        year,
        kind: BUDGET,
        input: Some(Input::Document(doc)),
        idempotency_key: String::new(),
        consolidated: false,
    }
}

fn get(year: i32) -> GetReportRequest {
    GetReportRequest {
        unit_code: "JS-JCY".into(),
        year,
        kind: BUDGET,
        revision: 0,
        consolidated: false,
    }
}

/// The XR-03 error of jcy 2018 against jcy 2017 (verified by hand in
/// crates/gouji-domain/tests/related.rs): «财政拨款支出增加 3,958.98 万元» implies 17,981.98
/// where the 2017 report prints 17,981.68.
fn has_prior_year_error(r: &StoredReport) -> bool {
    r.findings.iter().any(|f| {
        f.rule_id == "XR-03"
            && f.severity == rpb::Severity::Error as i32
            && f.message.contains("17,981.98")
            && f.locations.iter().any(|l| {
                l.report
                    .as_ref()
                    .is_some_and(|x| x.year == 2017 && x.revision == 1)
            })
    })
}

async fn prior_year_arriving_later_triggers_revalidation(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let (Some(y2018), Some(y2017)) = (
        corpus("jiangsu_jcy_2018_bmys"),
        corpus("jiangsu_jcy_2017_bmys"),
    ) else {
        return;
    };
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = start_ingestion(&db.url, &validation.url()).await.unwrap();
    let mut client = ingestion_client(&ingestion.url()).await.unwrap();
    register(
        &mut client,
        "JS-JCY",
        "江苏省人民检察院",
        rpb::UnitType::Administrative,
        "",
    )
    .await
    .unwrap();

    // 2018 alone: no related report, so no cross-report finding and none used.
    let r = client
        .submit_report(submit(2018, y2018))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.validation_state, ValidationState::Validated as i32);
    let alone = client.get_report(get(2018)).await.unwrap().into_inner();
    assert!(alone.related_used.is_empty(), "{:?}", alone.related_used);
    assert!(!alone.findings.iter().any(|f| f.rule_id.starts_with("XR-")));

    // 2017 arrives: it has no prior year itself, but 2018 depends on it.
    let r = client
        .submit_report(submit(2017, y2017))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.validation_state, ValidationState::Validated as i32);
    let prior = client.get_report(get(2017)).await.unwrap().into_inner();
    assert!(!prior.findings.iter().any(|f| f.rule_id.starts_with("XR-")));

    // 2018 is revalidated in the background against 2017 revision 1.
    let c = client.clone();
    let revalidated = eventually(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move {
            let r = c.get_report(get(2018)).await.ok()?.into_inner();
            (!r.related_used.is_empty()).then_some(r)
        }
    })
    .await
    .expect("2018 revalidated against 2017");
    assert_eq!(revalidated.revision, 1, "the same revision, revalidated");
    assert_eq!(
        revalidated.validation_state,
        ValidationState::Validated as i32
    );
    assert_eq!(
        revalidated.related_used.len(),
        1,
        "{:?}",
        revalidated.related_used
    );
    let used = &revalidated.related_used[0];
    assert_eq!(
        (used.unit.as_str(), used.year, used.revision),
        ("JS-JCY", 2017, 1)
    );
    assert_eq!(used.kind, BUDGET);
    assert!(
        has_prior_year_error(&revalidated),
        "{:#?}",
        revalidated.findings
    );
    // The findings of 2018's own rules are still there.
    assert!(revalidated.findings.len() > alone.findings.len());

    // 2017 is revised: its 财政拨款 total now prints 17,981.98 everywhere. 2018 is revalidated
    // against revision 2: «增加 3,958.98» now agrees, «增加 3,959.28» (⇒ 17,981.68) does not.
    let revised = String::from_utf8(corpus("jiangsu_jcy_2017_bmys").unwrap())
        .unwrap()
        .replace("17,981.68", "17,981.98")
        .replace("17981.68", "17981.98");
    let r = client
        .submit_report(submit(2017, revised.into_bytes()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.revision, 2);
    let again = eventually(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move {
            let r = c.get_report(get(2018)).await.ok()?.into_inner();
            r.related_used
                .iter()
                .any(|u| u.year == 2017 && u.revision == 2)
                .then_some(r)
        }
    })
    .await
    .expect("2018 revalidated against 2017 revision 2");
    assert_eq!(again.revision, 1);
    let xr: Vec<_> = again
        .findings
        .iter()
        .filter(|f| f.rule_id == "XR-03" && f.severity == rpb::Severity::Error as i32)
        .collect();
    assert!(
        !xr.iter().any(|f| f.message.contains("即上年为 17,981.98")),
        "{xr:#?}"
    );
    assert!(
        xr.iter().any(|f| f.message.contains("即上年为 17,981.68")
            && f.locations
                .iter()
                .any(|l| l.report.as_ref().is_some_and(|x| x.revision == 2))),
        "{xr:#?}"
    );
    let latest = client.get_report(get(2017)).await.unwrap().into_inner();
    assert_eq!(latest.revision, 2);
    db.drop_async().await;
}

mod prior_year_arriving_later {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::prior_year_arriving_later_triggers_revalidation(super::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::prior_year_arriving_later_triggers_revalidation(super::Backend::Postgres).await;
    }
}
