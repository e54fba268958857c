//! The wire report is lossless: every seed, parsed, sent through the protobuf form (encoded to
//! bytes and decoded) and converted back, is the same domain report — and validating it finds
//! exactly what validating the parsed document finds. A platform that sends structured reports
//! with their source lines gets every rule, not a subset.

#[path = "../../gouji-domain/tests/common.rs"]
mod common;

use gouji_domain::rules::{Context, validate};
use gouji_proto::convert::{report_from_pb, report_to_pb};
use gouji_proto::report::v1 as pb;
use prost::Message;

#[test]
fn every_seed_survives_the_wire_and_validates_the_same() {
    for n in 0..5 {
        let Some(parsed) = common::seed(n) else {
            return;
        };
        let bytes = report_to_pb(&parsed).encode_to_vec();
        let back = report_from_pb(pb::Report::decode(bytes.as_slice()).expect("decodes"))
            .unwrap_or_else(|e| panic!("seed {n}: {e:?}"));
        assert_eq!(back, parsed, "seed {n}: the report changed on the wire");
        let ctx = Context::default();
        let (direct, via_wire) = (validate(&parsed, &ctx), validate(&back, &ctx));
        assert!(!direct.findings.is_empty(), "seed {n} has findings");
        assert_eq!(via_wire.findings, direct.findings, "seed {n}");
    }
}

#[test]
fn the_wire_names_the_canonical_table_whatever_the_family_prints() {
    // Seed S0 (山西 决算, 公开01…) and S2 (山西 预算, 表1…) through their templates, a Shanghai
    // 单位预算 through the generic reader: 公开05, 表5 and the Shanghai table are one table.
    let canonical = |r: &gouji_domain::Report, id: &str| -> String {
        report_to_pb(r)
            .tables
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("{id} in {}", r.subject))
            .canonical
            .clone()
    };
    let (Some(s0), Some(s2)) = (common::seed(0), common::seed(2)) else {
        return;
    };
    assert_eq!(canonical(&s0, "公开05"), "gpb_expense_by_function");
    assert_eq!(canonical(&s0, "公开01"), "income_expense_summary");
    assert_eq!(canonical(&s2, "表5"), "gpb_expense_by_function");
    assert_eq!(
        canonical(&s2, "表7"),
        "",
        "表7 (政府性基金收入) is no catalog table"
    );
    let sh = common::corpus("putuo_zfb_2025_dwys").unwrap();
    assert_eq!(
        canonical(&sh, "gpb_expense_by_function"),
        "gpb_expense_by_function"
    );
}

#[test]
fn every_corpus_document_survives_the_wire_and_validates_the_same() {
    // Families read by the generic reader (catalog table ids, printed numbers, unreadable cells)
    // and the blank templates: the wire form accepts their family and loses nothing.
    for stem in common::corpus_stems() {
        let parsed = common::corpus(&stem).unwrap();
        let bytes = report_to_pb(&parsed).encode_to_vec();
        let back = report_from_pb(pb::Report::decode(bytes.as_slice()).expect("decodes"))
            .unwrap_or_else(|e| panic!("{stem}: {e:?}"));
        assert_eq!(back, parsed, "{stem}: the report changed on the wire");
        let ctx = Context::default();
        assert_eq!(
            validate(&back, &ctx).findings,
            validate(&parsed, &ctx).findings,
            "{stem}"
        );
    }
    // A report with an unreadable cell keeps it on the wire.
    let mut r = common::corpus("putuo_zfb_2025_dwys").unwrap();
    r.tables[0]
        .unreadable
        .push(("收入总计".into(), "预算数".into()));
    let back =
        report_from_pb(pb::Report::decode(report_to_pb(&r).encode_to_vec().as_slice()).unwrap())
            .unwrap();
    assert_eq!(back.tables[0].unreadable, r.tables[0].unreadable);
    assert_eq!(back.tables[0].printed_number.as_deref(), Some("1"));
}

#[test]
fn text_rules_apply_to_a_structured_report_only_with_its_lines() {
    // Seed S3 prints a garbled «(9094年度)»: G-06 needs the text, which a structured report
    // carries only when the sender includes `source_lines` and `year_mentions`.
    let Some(parsed) = common::seed(3) else {
        return;
    };
    let ctx = Context::default();
    let g06 = |r: &gouji_domain::Report| {
        validate(r, &ctx)
            .findings
            .iter()
            .filter(|f| f.rule_id == "G-06")
            .count()
    };
    let mut wire = report_to_pb(&parsed);
    assert_eq!(g06(&report_from_pb(wire.clone()).unwrap()), 1);
    wire.source_lines.clear();
    wire.year_mentions.clear();
    assert_eq!(g06(&report_from_pb(wire).unwrap()), 0);
}
