//! Related reports for the cross-report rules (XR-*): which stored reports a revision is checked
//! against, and which stored reports depend on a revision that just arrived.
//!
//! A report of unit U, year Y, kind K is related to:
//! - U's latest report of year Y−1, kind K (the prior year: XR-01, XR-02/03, XR-06);
//! - for a 决算: U's latest 预算 of year Y (XR-04);
//! - for U's own report: U's own filed 部门汇总 (`consolidated`), year Y, kind K (XR-05, the unit
//!   against its department). Not the parent's 汇总: its findings would show a `unit` caller the
//!   figures of a report it may not read (the department's own validation checks it against its
//!   units, XR-05 from the other side);
//! - for U's filed 汇总: U's own report and its direct children's own reports, year Y, kind K
//!   (XR-05, the department against its units).
//!
//! The dependents of a revision are the reports it is related to, seen from the other side;
//! [`mark_dependents`] marks their latest validated revisions for revalidation, which the
//! background loop ([`crate::validator::revalidate_pending`]) carries out.

use gouji_domain::model::{ReportKind, Scope};
use gouji_domain::rules::ReportRef;
use gouji_proto::convert;
use gouji_proto::validation::v1::RelatedReport;
use gouji_store::{RevisionRecord, Store, StoreError};
use prost::Message as _;

use gouji_domain::work::MAX_RELATED;

/// The reference of a stored revision.
pub fn reference_of(rec: &RevisionRecord) -> ReportRef {
    ReportRef {
        unit: rec.unit_code.clone(),
        name: rec.report.subject.clone(),
        year: rec.year,
        kind: rec.kind,
        scope: if rec.consolidated {
            Scope::Department
        } else {
            Scope::Unit
        },
        revision: rec.revision,
    }
}

/// The (unit, year, kind, consolidated) reports `rec` is related to, in the order of the module
/// documentation.
async fn related_keys(
    store: &Store,
    rec: &RevisionRecord,
) -> Result<Vec<(String, i32, ReportKind, bool)>, StoreError> {
    let u = &rec.unit_code;
    let mut keys = vec![(u.clone(), rec.year - 1, rec.kind, rec.consolidated)];
    if rec.kind == ReportKind::FinalAccounts {
        keys.push((u.clone(), rec.year, ReportKind::Budget, rec.consolidated));
    }
    if rec.consolidated {
        keys.push((u.clone(), rec.year, rec.kind, false));
        for child in children(store, u).await? {
            keys.push((child, rec.year, rec.kind, false));
        }
    } else {
        keys.push((u.clone(), rec.year, rec.kind, true));
    }
    Ok(keys)
}

/// The direct children of unit `code`.
async fn children(store: &Store, code: &str) -> Result<Vec<String>, StoreError> {
    Ok(store
        .list_units(Some(code))
        .await?
        .into_iter()
        .filter(|x| x.parent_code.as_deref() == Some(code))
        .map(|x| x.code)
        .collect())
}

/// The latest stored revision of every report `rec` is related to, in wire form, within the
/// message budget: at most half a request's content, and at most `room` bytes (what the
/// subject leaves of it).
///
/// A report that would pass the message or the restore budget is skipped (with a warning) and
/// the smaller ones after it are still sent: one oversized unit report costs its department
/// that unit only. Leaving a report out is safe for every cross-report rule: a rule whose
/// counterpart is absent is not applicable, and XR-05 (Σ units ≤ the department) only bounds.
pub async fn related_reports(
    store: &Store,
    rec: &RevisionRecord,
    room: usize,
) -> Result<Vec<RelatedReport>, StoreError> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let budget = (gouji_runtime::server::MAX_CONTENT_BYTES / 2).min(room);
    // What validation lets one request restore, less the subject's own share (at most one
    // report's worth): a related report whose source texts would pass it is not sent.
    let mut restored = 0usize;
    let restore_budget = convert::MAX_RESTORED_PER_REQUEST - gouji_domain::work::MAX_QUOTED_BYTES;
    for (unit, year, kind, consolidated) in related_keys(store, rec).await? {
        if out.len() >= MAX_RELATED {
            break;
        }
        let Some(other) = store
            .get_revision(&unit, year, kind, consolidated, None)
            .await?
        else {
            continue;
        };
        if other.id == rec.id {
            continue;
        }
        let other_restored = convert::restored_len(&other.report);
        if restored + other_restored > restore_budget {
            tracing::warn!(report = %rec.report_id(), related = %other.report_id(), "related report skipped: past the restore budget");
            continue;
        }
        let report = convert::report_to_pb(&other.report);
        let other_bytes = report.encoded_len();
        if bytes + other_bytes > budget {
            tracing::warn!(report = %rec.report_id(), related = %other.report_id(), "related report skipped: past the message budget");
            continue;
        }
        restored += other_restored;
        bytes += other_bytes;
        out.push(RelatedReport {
            r#ref: Some(convert::report_ref_to_pb(&reference_of(&other))),
            report: Some(report),
        });
    }
    Ok(out)
}

/// Marks for revalidation the latest validated revision of every stored report that `rec` is a
/// related report of (its next year, its 决算 for a 预算, its department, its units). Returns how
/// many were marked.
pub async fn mark_dependents(store: &Store, rec: &RevisionRecord) -> Result<usize, StoreError> {
    let u = &rec.unit_code;
    let mut keys = vec![(u.clone(), rec.year + 1, rec.kind, rec.consolidated)];
    if rec.kind == ReportKind::Budget {
        keys.push((
            u.clone(),
            rec.year,
            ReportKind::FinalAccounts,
            rec.consolidated,
        ));
    }
    if rec.consolidated {
        keys.push((u.clone(), rec.year, rec.kind, false));
        for child in children(store, u).await? {
            keys.push((child, rec.year, rec.kind, false));
        }
    } else {
        keys.push((u.clone(), rec.year, rec.kind, true));
        if let Some(parent) = store.get_unit(u).await?.and_then(|x| x.parent_code) {
            keys.push((parent, rec.year, rec.kind, true));
        }
    }
    let now = now_millis();
    let mut marked = 0;
    for (unit, year, kind, consolidated) in keys {
        if store
            .request_revalidation(&unit, year, kind, consolidated, now)
            .await?
        {
            tracing::info!(unit = %unit, year, ?kind, consolidated, "marked for revalidation: a related report arrived");
            marked += 1;
        }
    }
    Ok(marked)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::related_reports;
    use gouji_store::{NewRevision, Store, UnitRecord};

    fn sample() -> gouji_domain::model::Report {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/示例县医疗保险服务中心-2024决算-节选.txt"
        );
        let bytes = std::fs::read(path).expect("bundled sample");
        gouji_domain::parse_document(&bytes).expect("the sample parses")
    }

    async fn file(
        store: &Store,
        unit: &str,
        consolidated: bool,
        report: gouji_domain::model::Report,
    ) {
        let new = NewRevision {
            unit_code: unit.into(),
            year: report.year,
            kind: report.kind,
            consolidated,
            idempotency_key: format!("{unit}-{consolidated}"),
            content_hash: format!("{unit}-{consolidated}"),
            document: None,
            report,
        };
        store.submit(&new).await.expect("stored");
    }

    /// A department with two units, the first of which filed a report too large to send with
    /// the others: the second is still sent (it used to be dropped with everything after the
    /// first report past the budget).
    #[tokio::test]
    async fn a_related_report_past_the_budget_is_skipped_not_the_ones_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("g.db").display()))
            .await
            .unwrap();
        for (code, parent) in [
            ("D01", None),
            ("D0101", Some("D01")),
            ("D0102", Some("D01")),
        ] {
            store
                .register_unit(&UnitRecord {
                    code: code.into(),
                    name: format!("单位{code}"),
                    unit_type: None,
                    parent_code: parent.map(str::to_string),
                })
                .await
                .unwrap();
        }
        let small = sample();
        // Past the 8 MiB message budget for related reports once in wire form.
        let mut large = small.clone();
        let fact = large.facts[0].clone();
        large.facts.extend((0..200_000).map(|i| {
            let mut f = fact.clone();
            f.row = format!("行{i:06}");
            f
        }));
        file(&store, "D01", true, small.clone()).await;
        file(&store, "D01", false, small.clone()).await;
        file(&store, "D0101", false, large).await;
        file(&store, "D0102", false, small).await;
        let dept = store
            .get_revision(
                "D01",
                2024,
                gouji_domain::model::ReportKind::FinalAccounts,
                true,
                None,
            )
            .await
            .unwrap()
            .expect("the 汇总 is stored");
        let sent: Vec<String> = related_reports(&store, &dept, usize::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.r#ref.expect("every related report names itself").unit)
            .collect();
        assert!(sent.contains(&"D0102".to_string()), "sent {sent:?}");
        assert!(!sent.contains(&"D0101".to_string()), "sent {sent:?}");
        assert!(
            sent.contains(&"D01".to_string()),
            "the department's own unit report: {sent:?}"
        );
        // A subject that leaves no room in the request gets no related report at all.
        assert!(related_reports(&store, &dept, 0).await.unwrap().is_empty());
    }
}
