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

/// Every fact and figure of `r` with the text it quotes, as the receiver sees them.
fn quoted(r: &gouji_domain::Report) -> Vec<(u32, String)> {
    let facts = r.facts.iter().map(|f| &f.source);
    let figures = r.figures.iter().map(|f| &f.source);
    facts
        .chain(figures)
        .map(|s| (s.line, s.text.clone()))
        .collect()
}

#[test]
fn source_texts_cross_the_wire_once_and_come_back_to_every_reference() {
    // Seed S3 (山西 决算): its 情况说明 quotes many figures per paragraph; each figure's source
    // is the whole paragraph. Compacted, each printed line is on the wire once.
    let Some(parsed) = common::seed(3) else {
        return;
    };
    let wire = report_to_pb(&parsed);
    let refs: Vec<&pb::SourceRef> = wire
        .facts
        .iter()
        .filter_map(|f| f.source.as_ref())
        .chain(wire.figures.iter().filter_map(|f| f.source.as_ref()))
        .collect();
    let carried: usize = refs.iter().map(|s| s.text.len()).sum();
    let quoted_bytes: usize = quoted(&parsed).iter().map(|(_, t)| t.len()).sum();
    assert!(
        refs.iter().all(|s| s.text.is_empty()),
        "with its source lines, no reference needs its text: {carried} bytes carried"
    );
    assert!(quoted_bytes > 100_000, "S3 quotes {quoted_bytes} bytes");
    // What the receiver restores, counted by the sender (ingestion budgets related reports so).
    let restored_bytes: usize = quoted(&parsed)
        .iter()
        .filter(|(l, _)| *l > 0)
        .map(|(_, t)| t.len())
        .sum();
    assert_eq!(gouji_proto::convert::restored_len(&parsed), restored_bytes);

    // Without the source lines (a platform that keeps tables), one reference per line carries it.
    let mut no_lines = report_to_pb(&gouji_domain::Report {
        lines: vec![],
        ..parsed.clone()
    });
    let lines_quoted: std::collections::BTreeSet<u32> =
        quoted(&parsed).iter().map(|(l, _)| *l).collect();
    let carrying = no_lines
        .facts
        .iter()
        .filter_map(|f| f.source.as_ref())
        .chain(no_lines.figures.iter().filter_map(|f| f.source.as_ref()))
        .filter(|s| !s.text.is_empty())
        .count();
    assert_eq!(carrying, lines_quoted.len());
    let back = report_from_pb(no_lines.clone()).unwrap();
    assert_eq!(quoted(&back), quoted(&parsed));

    // The uncompacted form (every reference with its text) is the same report.
    gouji_proto::convert::restore_source_texts(&mut no_lines).unwrap();
    let full_len = no_lines.encoded_len();
    assert!(
        full_len > 2 * report_to_pb(&back).encoded_len(),
        "compaction at least halves S3's structured form ({full_len} bytes in full)"
    );
    assert_eq!(report_from_pb(no_lines).unwrap(), back);
}

#[test]
fn a_reference_that_quotes_its_line_otherwise_keeps_its_own_text() {
    // Two references to one line with different texts (a sender's own quoting), around a
    // reference that leaves its text out: each gets back what it was sent with.
    let Some(mut r) = common::seed(0) else {
        return;
    };
    let line = r.facts[0].source.line;
    let printed = r.lines[line as usize - 1].clone();
    r.facts[1].source = r.facts[0].source.clone();
    r.facts[1].source.text = "另一种引用".into();
    r.facts[2].source = r.facts[0].source.clone();
    r.facts[3].source = r.facts[0].source.clone();
    r.facts[3].source.text = printed.clone();
    let back =
        report_from_pb(pb::Report::decode(report_to_pb(&r).encode_to_vec().as_slice()).unwrap())
            .unwrap();
    let texts: Vec<&str> = back.facts[..4]
        .iter()
        .map(|f| f.source.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            printed.as_str(),
            "另一种引用",
            printed.as_str(),
            printed.as_str()
        ]
    );
    assert_eq!(back, r);
}

#[test]
fn a_small_message_cannot_ask_for_unbounded_restored_text() {
    // One 1 MiB line and 40 facts that reference it with empty texts: 1.3 MiB on the wire, but
    // restored each fact would hold its own copy, 40 MiB in all — past the 16 MiB a parsed report
    // may quote. The report is refused with the field named, before the copies are made.
    let Some(r) = common::seed(0) else {
        return;
    };
    let mut wire = report_to_pb(&r);
    let long = "年".repeat(350_000);
    wire.source_lines = vec![long.clone()];
    wire.figures.clear();
    for f in wire.facts.iter_mut().take(40) {
        f.source = Some(pb::SourceRef {
            line: 1,
            text: String::new(),
        });
    }
    wire.facts.truncate(40);
    assert!(wire.encoded_len() < 2 * 1024 * 1024);
    let errs = report_from_pb(wire.clone()).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    // The 16th copy (1,050,000 bytes each) is the one that would pass 16 MiB.
    assert_eq!(errs[0].field, "report.facts[15].source.text");
    assert!(errs[0].description.contains("16777216 bytes"), "{errs:?}");

    // Ten such references (10 MiB restored) are within the limit and each quotes the line.
    wire.facts.truncate(10);
    let back = report_from_pb(wire).unwrap();
    assert!(back.facts.iter().all(|f| f.source.text == long));
}

#[test]
fn a_reference_with_its_line_but_no_text_is_given_the_lines_text() {
    // An empty text on the wire means "left out", so a sender's reference that knows its line
    // but not its text comes back quoting the line; the references after it are unchanged.
    let Some(mut r) = common::seed(0) else {
        return;
    };
    let line = r.facts[0].source.line;
    let printed = r.lines[line as usize - 1].clone();
    r.facts[0].source.text.clear();
    let wire = report_to_pb(&r);
    assert!(
        wire.facts[..2]
            .iter()
            .all(|f| f.source.as_ref().unwrap().text.is_empty())
    );
    let back = report_from_pb(wire).unwrap();
    assert_eq!(back.facts[0].source.text, printed);
    assert_eq!(back.facts[1..], r.facts[1..]);
}
