//! One storage test suite, run against embedded SQLite and a real PostgreSQL.
//!
//! PostgreSQL comes from `GOUJI_TEST_POSTGRES_URL` (or `DATABASE_URL`), e.g. the throwaway
//! server of `scripts/ci/start-postgres.sh`; each test creates and drops its own database.
//! Without a URL the PostgreSQL variants fail, unless `GOUJI_SKIP_POSTGRES=1` says to skip them.

use std::str::FromStr;

use gouji_domain::amount::MeasureUnit;
use gouji_domain::model::{Fact, Provenance, Report, ReportKind, Scope, UnitType};
use gouji_domain::rules::{Finding, Location, Severity};
use gouji_store::{
    ListFilter, NewRevision, Store, StoreError, SubmitOutcome, UnitRecord, ValidationState,
};
use rust_decimal::Decimal;

/// A fresh store per test and backend; dropping the guard drops the PostgreSQL database.
struct TestDb {
    store: Store,
    /// The database's URL, for tests that write around the store with plain SQL.
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("gouji.db").display());
        TestDb {
            store: Store::open(&url).await.unwrap(),
            url,
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    async fn postgres() -> Option<TestDb> {
        let admin = std::env::var("GOUJI_TEST_POSTGRES_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .ok();
        let Some(admin) = admin else {
            if std::env::var("GOUJI_SKIP_POSTGRES").as_deref() == Ok("1") {
                eprintln!("GOUJI_SKIP_POSTGRES=1: PostgreSQL variant skipped");
                return None;
            }
            panic!(
                "PostgreSQL tests need GOUJI_TEST_POSTGRES_URL or DATABASE_URL \
                 (eval \"$(scripts/ci/start-postgres.sh)\"), or GOUJI_SKIP_POSTGRES=1"
            );
        };
        let name = format!("gouji_t_{}", uuid_like());
        let (base, _) = admin.rsplit_once('/').unwrap();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap();
        sqlx::Executor::execute(
            &mut conn,
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
        )
        .await
        .unwrap();
        let url = format!("{base}/{name}");
        Some(TestDb {
            store: Store::open(&url).await.unwrap(),
            url,
            _dir: None,
            pg_drop: Some((admin, name)),
        })
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg_drop {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .unwrap();
            sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            )
            .await
            .unwrap();
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Generates `<name>_sqlite` and `<name>_postgres` tests from one async body; the second form
/// also passes the database URL (for writes around the store).
macro_rules! both_backends {
    ($name:ident, |$store:ident, $url:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($store: &Store, $url: &str) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                run(&db.store, &db.url).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = TestDb::postgres().await {
                    run(&db.store, &db.url).await;
                    db.finish().await;
                }
            }
        }
    };
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($store: &Store) $body

            #[tokio::test]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                run(&db.store).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = TestDb::postgres().await {
                    run(&db.store).await;
                    db.finish().await;
                }
            }
        }
    };
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn unit(code: &str, name: &str, t: Option<UnitType>, parent: Option<&str>) -> UnitRecord {
    UnitRecord {
        code: code.into(),
        name: name.into(),
        unit_type: t,
        parent_code: parent.map(str::to_string),
    }
}

/// 宁强县医疗保障局: 部门 → 本级 + two 二级单位 (as in seed S0).
async fn register_ningqiang(store: &Store) {
    store
        .register_unit(&unit(
            "610726",
            "宁强县医疗保障局",
            Some(UnitType::Administrative),
            None,
        ))
        .await
        .unwrap();
    store
        .register_unit(&unit(
            "610726001",
            "宁强县医疗保障局(本级)",
            Some(UnitType::Administrative),
            Some("610726"),
        ))
        .await
        .unwrap();
    store
        .register_unit(&unit(
            "610726002",
            "宁强县医疗保险经办中心",
            Some(UnitType::Institution),
            Some("610726"),
        ))
        .await
        .unwrap();
    store
        .register_unit(&unit(
            "610726003",
            "宁强县医疗保障信息中心",
            Some(UnitType::Institution),
            Some("610726"),
        ))
        .await
        .unwrap();
}

fn report(subject: &str, 劳务费: &str) -> Report {
    let mut r = Report::new(
        subject,
        2024,
        ReportKind::FinalAccounts,
        Scope::Unit,
        "shaanxi-js",
    );
    for (row, col, v) in [
        ("30226", "决算数", 劳务费),
        ("本年收入合计", "决算数", "1879.42"),
        ("车辆", "决算数", "4.00"),
    ] {
        r.facts.push(Fact {
            table: "公开06".into(),
            row: row.into(),
            column: col.into(),
            value: d(v),
            unit: MeasureUnit::Wanyuan,
            source: Provenance {
                line: 307,
                text: format!("{row} {v}"),
            },
        });
    }
    r
}

fn submission(unit_code: &str, key: &str, r: Report) -> NewRevision {
    let content = serde_json::to_string(&r).unwrap();
    NewRevision {
        unit_code: unit_code.into(),
        year: 2024,
        kind: ReportKind::FinalAccounts,
        consolidated: false,
        idempotency_key: key.into(),
        content_hash: gouji_store::content_hash(content.as_bytes()),
        document: Some(b"document text".to_vec()),
        report: r,
    }
}

both_backends!(units_form_a_hierarchy, |store| {
    register_ningqiang(store).await;
    let all = store.list_units(None).await.unwrap();
    assert_eq!(all.len(), 4);
    let subtree = store.list_units(Some("610726")).await.unwrap();
    assert_eq!(
        subtree.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
        ["610726", "610726001", "610726002", "610726003"]
    );
    let leaf = store.list_units(Some("610726002")).await.unwrap();
    assert_eq!(leaf.len(), 1);
    assert_eq!(leaf[0].unit_type, Some(UnitType::Institution));

    // Re-registering updates in place.
    store
        .register_unit(&unit(
            "610726002",
            "宁强县医疗保险经办中心(更名)",
            Some(UnitType::CivilServiceManaged),
            Some("610726"),
        ))
        .await
        .unwrap();
    let u = store.get_unit("610726002").await.unwrap().unwrap();
    assert_eq!(u.name, "宁强县医疗保险经办中心(更名)");
    assert_eq!(u.unit_type, Some(UnitType::CivilServiceManaged));
    assert_eq!(store.list_units(None).await.unwrap().len(), 4);

    // Unknown parent and cycles are refused and change nothing.
    let e = store
        .register_unit(&unit("X", "x", None, Some("nope")))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::UnknownParent(p) if p == "nope"));
    let e = store
        .register_unit(&unit("610726", "宁强县医疗保障局", None, Some("610726002")))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Cycle { .. }));
    assert_eq!(
        store.get_unit("610726").await.unwrap().unwrap().parent_code,
        None
    );
    assert!(matches!(
        store.list_units(Some("nope")).await,
        Err(StoreError::UnknownUnit(_))
    ));
});

both_backends!(revisions_are_kept_and_retries_replay, |store| {
    register_ningqiang(store).await;
    let first = store
        .submit(&submission("610726002", "k1", report("经办中心", "19.52")))
        .await
        .unwrap();
    assert!(matches!(first, SubmitOutcome::Stored(_)));
    let first = first.into_record();
    assert_eq!(first.revision, 1);
    assert_eq!(first.state, ValidationState::Pending);

    // Same key, same content: the same record, no new revision.
    let again = store
        .submit(&submission("610726002", "k1", report("经办中心", "19.52")))
        .await
        .unwrap();
    assert!(again.replayed());
    assert_eq!(again.record().id, first.id);

    // Same key, other content: refused.
    let e = store
        .submit(&submission("610726002", "k1", report("经办中心", "19.92")))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::KeyReused(k) if k == "k1"));

    // A correction is revision 2; revision 1 stays readable.
    let second = store
        .submit(&submission("610726002", "k2", report("经办中心", "19.92")))
        .await
        .unwrap()
        .into_record();
    assert_eq!(second.revision, 2);
    let latest = store
        .get_revision("610726002", 2024, ReportKind::FinalAccounts, false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.revision, 2);
    assert_eq!(
        latest.report.value("公开06", "30226", "决算数"),
        Some(d("19.92"))
    );
    let old = store
        .get_revision("610726002", 2024, ReportKind::FinalAccounts, false, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        old.report.value("公开06", "30226", "决算数"),
        Some(d("19.52"))
    );
    // Scale survives the round trip: 4.00 stays 4.00.
    assert_eq!(
        old.report
            .value("公开06", "车辆", "决算数")
            .unwrap()
            .to_string(),
        "4.00"
    );
    let cells = store.stored_facts(old.id).await.unwrap();
    assert_eq!(cells.len(), 3);
    assert!(cells.contains(&("公开06".into(), "30226".into(), "决算数".into(), d("19.52"))));
    assert!(
        cells
            .iter()
            .any(|c| c.1 == "车辆" && c.3.to_string() == "4.00")
    );
    assert_eq!(
        store.document(old.id).await.unwrap().as_deref(),
        Some(&b"document text"[..])
    );

    // Unknown unit: refused, nothing stored.
    let e = store
        .submit(&submission("999", "k3", report("x", "1")))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::UnknownUnit(_)));
    let all = store
        .list_revisions(&ListFilter::default(), None, 100, usize::MAX)
        .await
        .unwrap()
        .0;
    assert_eq!(all.len(), 2);
});

both_backends!(validation_results_are_recorded, |store| {
    register_ningqiang(store).await;
    let rec = store
        .submit(&submission("610726002", "v1", report("经办中心", "19.52")))
        .await
        .unwrap()
        .into_record();
    assert_eq!(store.pending(10).await.unwrap().len(), 1);
    assert!(store.is_pending(rec.id).await.unwrap());
    assert!(
        !store.is_pending(rec.id + 1_000).await.unwrap(),
        "unknown id"
    );
    let finding = Finding {
        rule_id: "NR-01".into(),
        severity: Severity::Error,
        message: "情况说明中劳务费19.92万元与公开06的19.52万元不一致".into(),
        locations: vec![Location {
            table: "公开06".into(),
            row: "30226".into(),
            column: "决算数".into(),
            line: 307,
            ..Location::default()
        }],
        expected: Some(d("19.52")),
        actual: Some(d("19.92")),
        difference: Some(d("0.40")),
        tolerance: Some(d("0.010")),
    };
    store
        .record_validation(rec.id, false, "2026.11.1", std::slice::from_ref(&finding))
        .await
        .unwrap();
    assert!(store.pending(10).await.unwrap().is_empty());
    assert!(!store.is_pending(rec.id).await.unwrap());
    let got = store
        .get_revision("610726002", 2024, ReportKind::FinalAccounts, false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.state, ValidationState::Validated);
    assert_eq!(got.valid, Some(false));
    assert_eq!(got.catalog_version.as_deref(), Some("2026.11.1"));
    assert_eq!(got.findings, vec![finding]);
    assert_eq!(got.findings[0].tolerance.unwrap().to_string(), "0.010");
});

both_backends!(listing_filters_and_pages, |store| {
    register_ningqiang(store).await;
    let mut n = 0;
    for code in ["610726001", "610726002", "610726003"] {
        for rev in 0..3 {
            n += 1;
            store
                .submit(&submission(
                    code,
                    &format!("{code}-{rev}"),
                    report(code, &format!("{n}.00")),
                ))
                .await
                .unwrap();
        }
    }
    // Pages of 4, newest first, no gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_revisions(&ListFilter::default(), cursor, 4, usize::MAX)
            .await
            .unwrap()
            .0;
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|r| r.id);
        seen.extend(page.iter().map(|r| r.id));
    }
    assert_eq!(seen.len(), 9);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    let one = ListFilter {
        unit_code: Some("610726003".into()),
        ..ListFilter::default()
    };
    assert_eq!(
        store
            .list_revisions(&one, None, 100, usize::MAX)
            .await
            .unwrap()
            .0
            .len(),
        3
    );
    let tree = ListFilter {
        unit_code: Some("610726".into()),
        subtree: true,
        year: Some(2024),
        kind: Some(ReportKind::FinalAccounts),
    };
    assert_eq!(
        store
            .list_revisions(&tree, None, 100, usize::MAX)
            .await
            .unwrap()
            .0
            .len(),
        9
    );
    let other_year = ListFilter {
        year: Some(2023),
        ..ListFilter::default()
    };
    assert!(
        store
            .list_revisions(&other_year, None, 100, usize::MAX)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    let budget = ListFilter {
        kind: Some(ReportKind::Budget),
        ..ListFilter::default()
    };
    assert!(
        store
            .list_revisions(&budget, None, 100, usize::MAX)
            .await
            .unwrap()
            .0
            .is_empty()
    );

    // The streaming read: latest revision per report, paged by id.
    let mut latest = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .latest_in_subtree(
                "610726",
                2024,
                ReportKind::FinalAccounts,
                after,
                2,
                usize::MAX,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().id;
        latest.extend(page);
    }
    assert_eq!(latest.len(), 3);
    assert!(latest.iter().all(|r| r.revision == 3));
    // 1.00…9.00 were submitted in order: the latest of each unit is its third.
    let mut amounts: Vec<String> = latest
        .iter()
        .map(|r| {
            r.report
                .value("公开06", "30226", "决算数")
                .unwrap()
                .to_string()
        })
        .collect();
    amounts.sort();
    assert_eq!(amounts, ["3.00", "6.00", "9.00"]);

    // Byte budgets: a page ends once what it read reaches the budget (at least one row).
    // The streaming read counts report bodies: a budget of one byte reads one report a page.
    let mut one_by_one = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .latest_in_subtree("610726", 2024, ReportKind::FinalAccounts, after, 2, 1)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert_eq!(page.len(), 1);
        after = page[0].id;
        one_by_one.push(page[0].id);
    }
    assert_eq!(one_by_one, latest.iter().map(|r| r.id).collect::<Vec<_>>());
    // A listing counts findings only (it carries no report body): without findings the budget
    // never ends a page; with findings on every revision, one byte lists one revision a page
    // and says there is more, and paging on lists all nine.
    let (all, cut) = store
        .list_revisions(&ListFilter::default(), None, 100, 1)
        .await
        .unwrap();
    assert_eq!((all.len(), cut), (9, false));
    for r in &all {
        let finding = Finding::new(
            "G-01",
            Severity::Info,
            "示例".into(),
            vec![Location::default()],
            None,
            None,
            None,
        );
        store
            .record_validation(r.id, true, "test", std::slice::from_ref(&finding))
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let (page, cut) = store
            .list_revisions(&ListFilter::default(), cursor, 100, 1)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert_eq!((page.len(), cut), (1, true));
        cursor = Some(page[0].id);
        listed.push(page[0].id);
    }
    assert_eq!(listed, all.iter().map(|r| r.id).collect::<Vec<_>>());
});

both_backends!(concurrent_submissions_are_all_kept_once, |store| {
    register_ningqiang(store).await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let key = format!("c{client}-{i}");
                // Every submission is sent twice, as a client retrying after a lost reply would.
                for _ in 0..2 {
                    store
                        .submit(&submission(
                            "610726002",
                            &key,
                            report("经办中心", &format!("{client}.{i}")),
                        ))
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = store
        .list_revisions(&ListFilter::default(), None, 1000, usize::MAX)
        .await
        .unwrap()
        .0;
    assert_eq!(all.len(), 80);
    let mut revisions: Vec<u32> = all.iter().map(|r| r.revision).collect();
    revisions.sort();
    assert_eq!(revisions, (1..=80).collect::<Vec<u32>>());
});

/// Executes one statement on the database behind the store, bypassing it (as an operator's
/// script or an older version would).
async fn raw_sql(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
    } else {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
    }
}

/// Whether following parents from any unit comes back to it.
async fn has_cycle(store: &Store) -> bool {
    let units = store.list_units(None).await.unwrap();
    let parent: std::collections::HashMap<&str, Option<&str>> = units
        .iter()
        .map(|u| (u.code.as_str(), u.parent_code.as_deref()))
        .collect();
    units.iter().any(|u| {
        let mut at = u.parent_code.as_deref();
        for _ in 0..=units.len() {
            match at {
                None => return false,
                Some(c) if c == u.code => return true,
                Some(c) => at = parent.get(c).copied().flatten(),
            }
        }
        true
    })
}

// Re-parenting A under B and B under A at the same moment, 40 times: exactly one of each pair
// wins, the other is refused as a cycle, and the hierarchy never holds a cycle.
both_backends!(concurrent_reparenting_never_makes_a_cycle, |store| {
    store
        .register_unit(&unit("R", "根", Some(UnitType::Administrative), None))
        .await
        .unwrap();
    for round in 0..40 {
        for code in ["A", "B"] {
            store
                .register_unit(&unit(code, code, Some(UnitType::Institution), Some("R")))
                .await
                .unwrap();
        }
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let race = |code: &'static str, parent: &'static str| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .register_unit(&unit(code, code, Some(UnitType::Institution), Some(parent)))
                    .await
            })
        };
        let (ab, ba) = (race("A", "B"), race("B", "A"));
        let (ab, ba) = (ab.await.unwrap(), ba.await.unwrap());
        assert!(
            ab.is_ok() != ba.is_ok(),
            "round {round}: exactly one re-parenting wins: {ab:?} / {ba:?}"
        );
        let refused = ab.err().or(ba.err()).unwrap();
        assert!(
            matches!(refused, StoreError::Cycle { .. }),
            "round {round}: {refused:?}"
        );
        assert!(!has_cycle(store).await, "round {round}: cycle stored");
    }
});

// A cycle written around the store (plain SQL) does not make subtree queries loop: they answer
// at once with each unit of the cycle once, and further changes that would extend the cycle
// are still refused.
both_backends!(subtree_queries_end_on_a_stored_cycle, |store, url| {
    register_ningqiang(store).await;
    raw_sql(
        url,
        "UPDATE units SET parent_code = '610726002' WHERE code = '610726'",
    )
    .await;
    assert!(has_cycle(store).await, "the cycle was written");
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(5);
    let tree = tokio::time::timeout(limit, store.list_units(Some("610726")))
        .await
        .expect("subtree listing answers on a cyclic hierarchy")
        .unwrap();
    assert_eq!(
        tree.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
        ["610726", "610726001", "610726002", "610726003"]
    );
    let from_inside = tokio::time::timeout(limit, store.list_units(Some("610726002")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        from_inside.len(),
        4,
        "the whole cycle hangs below 610726002"
    );
    store
        .submit(&submission("610726003", "c1", report("信息中心", "1.00")))
        .await
        .unwrap();
    let filter = ListFilter {
        unit_code: Some("610726002".into()),
        subtree: true,
        ..ListFilter::default()
    };
    let listed = tokio::time::timeout(limit, store.list_revisions(&filter, None, 10, usize::MAX))
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(listed.len(), 1);
    let latest = tokio::time::timeout(
        limit,
        store.latest_in_subtree("610726", 2024, ReportKind::FinalAccounts, 0, 10, usize::MAX),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(latest.len(), 1);
    // Placing a unit under a member of the cycle is checked without looping too.
    let e = tokio::time::timeout(
        limit,
        store.register_unit(&unit("610726003", "x", None, Some("610726002"))),
    )
    .await
    .unwrap();
    assert!(
        e.is_ok(),
        "a leaf under a cycle member is no new cycle: {e:?}"
    );
    let e = tokio::time::timeout(
        limit,
        store.register_unit(&unit("610726001", "x", None, Some("610726"))),
    )
    .await
    .unwrap();
    assert!(e.is_ok(), "{e:?}");
    let e = tokio::time::timeout(
        limit,
        store.register_unit(&unit("610726002", "x", None, Some("610726001"))),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(e, StoreError::Cycle { .. }), "{e:?}");
    eprintln!("cyclic hierarchy answered in {:?}", started.elapsed());
});

// Each pending revision has its own schedule: a failed attempt moves only that revision back;
// a terminal failure keeps the reason and takes the revision out of the queue for good.
both_backends!(pending_revisions_keep_their_own_schedule, |store| {
    register_ningqiang(store).await;
    let mut ids = Vec::new();
    for key in ["a", "b", "c"] {
        let rec = store
            .submit(&submission("610726002", key, report("经办中心", "1.00")))
            .await
            .unwrap()
            .into_record();
        assert_eq!((rec.validation_attempts, rec.validation_failures), (0, 0));
        ids.push(rec.id);
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let now = 1_000_000;
    let due = |at: i64| async move {
        store
            .due_for_validation(at, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(due(now).await, [a, b, c]);
    // Listed without bodies; each is read when its turn comes.
    let first = store.revision_by_id(a).await.unwrap().expect("stored");
    assert_eq!((first.id, first.state), (a, ValidationState::Pending));
    assert!(store.revision_by_id(c + 1_000).await.unwrap().is_none());
    // `a` failed (an answered error): it waits a minute; the others are still due.
    assert_eq!(
        store
            .record_validation_retry(a, true, now + 60_000, "DEADLINE_EXCEEDED")
            .await
            .unwrap(),
        Some((1, 1))
    );
    assert_eq!(due(now).await, [b, c]);
    assert_eq!(due(now + 60_000).await, [b, c, a]);
    // Unreachable validation backs off without counting towards the maximum.
    assert_eq!(
        store
            .record_validation_retry(a, false, now + 120_000, "UNAVAILABLE")
            .await
            .unwrap(),
        Some((2, 1))
    );
    // `b` can never validate: terminal, with its reason, out of the queue.
    assert!(
        store
            .record_validation_failure(b, "validation answered InvalidArgument: bad")
            .await
            .unwrap()
    );
    assert!(!store.record_validation_failure(b, "again").await.unwrap());
    assert_eq!(
        store
            .record_validation_retry(b, true, now, "late")
            .await
            .unwrap(),
        None,
        "a failed revision is not rescheduled"
    );
    assert_eq!(due(now + 600_000).await, [c, a]);
    assert!(!store.is_pending(b).await.unwrap());
    store.record_validation(c, true, "v1", &[]).await.unwrap();
    let all = store
        .list_revisions(&ListFilter::default(), None, 10, usize::MAX)
        .await
        .unwrap()
        .0;
    let by_id = |id: i64| all.iter().find(|r| r.id == id).unwrap();
    assert_eq!(by_id(a).state, ValidationState::Pending);
    assert_eq!(
        (by_id(a).validation_attempts, by_id(a).validation_failures),
        (2, 1)
    );
    assert_eq!(by_id(a).validation_error.as_deref(), Some("UNAVAILABLE"));
    assert_eq!(by_id(b).state, ValidationState::Failed);
    assert_eq!(
        by_id(b).validation_error.as_deref(),
        Some("validation answered InvalidArgument: bad")
    );
    assert_eq!(by_id(c).state, ValidationState::Validated);
    assert_eq!(by_id(c).validation_error, None);
    assert_eq!(store.validation_counts().await.unwrap(), (1, 1, 1));
});

both_backends!(related_reports_used_and_revalidation_marks, |store| {
    use gouji_domain::rules::ReportRef;
    register_ningqiang(store).await;
    let rec = store
        .submit(&submission("610726002", "r1", report("经办中心", "19.52")))
        .await
        .unwrap()
        .into_record();
    // Pending: not marked (its validation will read its related reports anyway).
    let fa = ReportKind::FinalAccounts;
    assert!(
        !store
            .request_revalidation("610726002", 2024, fa, false, 10)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_revalidation("610726002", 2023, fa, false, 10)
            .await
            .unwrap(),
        "no such report"
    );
    store
        .record_validation(rec.id, true, "v", &[])
        .await
        .unwrap();
    let used = vec![ReportRef {
        unit: "610726002".into(),
        name: "经办中心".into(),
        year: 2023,
        kind: fa,
        scope: Scope::Unit,
        revision: 3,
    }];
    store.record_related(rec.id, &used, 5).await.unwrap();
    let got = store
        .get_revision("610726002", 2024, fa, false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.related_used, used);
    // Validated: marked at 10, due from 10 on.
    assert!(
        store
            .request_revalidation("610726002", 2024, fa, false, 10)
            .await
            .unwrap()
    );
    assert!(store.due_for_revalidation(9, 10).await.unwrap().is_empty());
    let due = store.due_for_revalidation(10, 10).await.unwrap();
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), vec![rec.id]);
    // A revalidation that read its related reports before the mark keeps it …
    let verdict = |related| gouji_store::Verdict {
        valid: false,
        catalog_version: "v2",
        findings: &[],
        related,
    };
    store
        .record_verdict(rec.id, verdict(&used), 9)
        .await
        .unwrap();
    assert_eq!(store.due_for_revalidation(10, 10).await.unwrap().len(), 1);
    // … one that read them after clears it (the verdict and the related reports in one write).
    store
        .record_verdict(rec.id, verdict(&[]), 10)
        .await
        .unwrap();
    assert!(
        store
            .due_for_revalidation(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let got = store
        .get_revision("610726002", 2024, fa, false, None)
        .await
        .unwrap()
        .unwrap();
    assert!(got.related_used.is_empty());
    assert_eq!(
        (got.valid, got.catalog_version.as_deref()),
        (Some(false), Some("v2"))
    );
});

both_backends!(audit_events_go_with_their_change, |store| {
    use gouji_store::AuditEntry;
    let who = AuditEntry {
        principal: "department:alice@610726".into(),
        role: "department".into(),
    };
    register_ningqiang(store).await;
    store
        .register_unit_as(
            &unit(
                "610726009",
                "新单位",
                Some(UnitType::Institution),
                Some("610726002"),
            ),
            Some(&who),
        )
        .await
        .unwrap();
    store
        .register_unit_as(
            &unit(
                "610726009",
                "新单位",
                Some(UnitType::Institution),
                Some("610726003"),
            ),
            Some(&who),
        )
        .await
        .unwrap();
    // Refused by the store: no event either.
    let refused = store
        .register_unit_as(
            &unit(
                "610726010",
                "x",
                Some(UnitType::Institution),
                Some("nowhere"),
            ),
            Some(&who),
        )
        .await;
    assert!(refused.is_err());
    let rec = store
        .submit_as(
            &submission("610726002", "a1", report("经办中心", "19.52")),
            Some(&who),
        )
        .await
        .unwrap();
    let replay = store
        .submit_as(
            &submission("610726002", "a1", report("经办中心", "19.52")),
            Some(&who),
        )
        .await
        .unwrap();
    assert!(replay.replayed());
    let events = store.list_audit(None, None, 100).await.unwrap();
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.detail.as_str()))
        .collect();
    let name = format!(
        "610726002/2024/{}/own@1",
        gouji_store::kind_key(rec.record().kind)
    );
    assert_eq!(
        summary,
        vec![
            ("submit_report", name.as_str(), summary[0].2),
            (
                "move_unit",
                "610726009",
                "moved from 610726002 to 610726003"
            ),
            ("register_unit", "610726009", "registered under 610726002"),
        ]
    );
    assert!(events.iter().all(|e| e.principal == who.principal));
    let page = store
        .list_audit(Some("610726009"), Some(events[1].id), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].action, "register_unit");
    // The scope question of the policy.
    assert!(store.is_within("610726009", "610726").await.unwrap());
    assert!(store.is_within("610726", "610726").await.unwrap());
    assert!(!store.is_within("610726", "610726009").await.unwrap());
    assert!(!store.is_within("unknown", "unknown").await.unwrap());
});
