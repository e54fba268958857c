//! The generic reader on the seeds, as if their layouts were undescribed (`Reader::Generic`):
//! what a new province's report gets. Every cell the seed templates read is looked up in the
//! generic reading through the canonical table both name (公开05 and 表5 are
//! `gpb_expense_by_function`), by row code or label and by column; the share found with the same
//! value is the measure, with a floor per seed. A generic cell with another value than the
//! template's is a misplacement, and fails the test; so does an error finding that only the
//! generic reading gives.

mod common;

use std::collections::HashMap;

use common::seed_bytes;
use gouji_domain::catalog::canonical_of;
use gouji_domain::{Reader, Report, parse_document_with};
use rust_decimal::Decimal;

/// (canonical table, row, column) → value.
fn cells(r: &Report) -> HashMap<(String, String, String), Decimal> {
    let mut out = HashMap::new();
    for f in &r.facts {
        let Some(c) = canonical_of(&r.family, &f.table) else {
            continue;
        };
        if f.table.contains('@') {
            continue;
        }
        out.entry((c.id.clone(), f.row.clone(), f.column.clone()))
            .or_insert(f.value);
    }
    out
}

/// Share of the template's cells the generic reader reads alike, per seed (measured 2026-12-02:
/// 179/181, 213/215, 228/241, 110/126, 198/205; 162, 183, 155, 62, 140 before column-numbering
/// rows with labels or misread marks were recognised, 类 names keyed by their code, economic
/// item names by theirs, a 三公 table of repeated 预算数/决算数 groups read by group, and
/// headers one misread character from a standard name read as that name). What remains is
/// mostly naming, not misreading: row names (政府采购合计 printed 合计), the summaries' 上年结转 rows
/// and the rest of the OCR seed S3's garbled headers.
const FLOOR: [f64; 5] = [0.97, 0.97, 0.90, 0.82, 0.93];

/// `DUMP=1` prints what differs.
#[test]
fn the_generic_reader_reads_the_seed_layouts_as_an_unknown_layout() {
    let mut report = Vec::new();
    for (n, floor) in FLOOR.into_iter().enumerate() {
        let Some(bytes) = seed_bytes(n) else { return };
        let template = parse_document_with(&bytes, Reader::Auto).expect("template read");
        let generic = parse_document_with(&bytes, Reader::Generic).expect("generic read");
        assert_eq!(generic.family, "unknown");
        let t = cells(&template);
        let g = cells(&generic);
        // Same value under the same (table, row, column) in the generic reading; rows are keyed
        // by code in both, columns by their printed header.
        let same = t.iter().filter(|(k, v)| g.get(*k) == Some(*v)).count();
        let differ: Vec<_> = t
            .iter()
            .filter(|(k, v)| g.get(*k).is_some_and(|w| w != *v))
            .collect();
        if std::env::var("DUMP").is_ok() {
            let mut missing: Vec<_> = t.keys().filter(|k| !g.contains_key(*k)).collect();
            missing.sort();
            let mut extra: Vec<_> = g.keys().filter(|k| !t.contains_key(*k)).collect();
            extra.sort();
            eprintln!("seed {n} missing {:?}", &missing[..missing.len().min(40)]);
            eprintln!(
                "seed {n} differ {:?}",
                differ
                    .iter()
                    .map(|(k, v)| (k, v, g.get(*k)))
                    .collect::<Vec<_>>()
            );
            eprintln!("seed {n} generic-only {:?}", &extra[..extra.len().min(40)]);
        }
        report.push(format!(
            "seed {n}: {same}/{} template cells read alike, {} with another value",
            t.len(),
            differ.len()
        ));
        // Read as an unknown layout, a seed gets no error its template reading does not also
        // find: a new province's reports do not cry wolf where the templates would not.
        let errors = |r: &Report| -> Vec<String> {
            gouji_domain::rules::validate(r, &gouji_domain::rules::Context::default())
                .findings
                .into_iter()
                .filter(|f| f.severity == gouji_domain::rules::Severity::Error)
                .map(|f| f.message)
                .collect()
        };
        let known = errors(&template);
        let new: Vec<String> = errors(&generic)
            .into_iter()
            .filter(|e| !known.contains(e))
            .collect();
        assert!(
            new.is_empty(),
            "seed {n}: errors only the generic reading finds: {new:#?}"
        );
        // No amount outside every header column (a 行次 or 栏次 number read as an amount lands
        // in «第N列»).
        let outside: Vec<_> = generic
            .facts
            .iter()
            .filter(|f| f.column.starts_with('第') && f.column.ends_with('列'))
            .map(|f| (&f.table, &f.row, &f.column, f.value))
            .collect();
        assert!(
            outside.is_empty(),
            "seed {n}: amounts outside every header column: {outside:?}"
        );
        assert!(
            differ.is_empty(),
            "seed {n}: the generic reader put another value in a cell the template reads: {differ:?}"
        );
        assert!(
            same as f64 >= floor * t.len() as f64,
            "seed {n}: {same}/{} read alike, below {}",
            t.len(),
            floor
        );
    }
    eprintln!("{}", report.join("\n"));
}
