//! A structured report's cost is linear in its fact count (issue 12: 30k facts took 0.35 s,
//! 300k 11.8 s): wire → domain conversion plus validation, as the validation service does it,
//! at two sizes in the same run. The conversion used to look every fact's table up in a list,
//! quadratic for a report of many tables.

use gouji_domain::hostile::thread_cpu;
use std::time::Duration;

use gouji_domain::rules::{Context, validate};
use gouji_proto::convert;
use gouji_proto::report::v1 as pb;

/// A structured report of `n` facts over `n / 4` tables (four cells each).
fn report(n: usize) -> pb::Report {
    let base = gouji_domain::parse_document(&gouji_domain::hostile::document(
        gouji_domain::hostile::Shape::DigitLines,
        0,
    ))
    .expect("head parses");
    let mut r = convert::report_to_pb(&base);
    let template = r.facts[0].clone();
    for i in 0..n {
        let mut f = template.clone();
        f.table = format!("uncatalogued@{}", i / 4);
        f.row = format!("{}", 2_000_000 + i);
        f.column = if i % 2 == 0 {
            "本年收入合计"
        } else {
            "财政拨款收入"
        }
        .to_string();
        r.facts.push(f);
    }
    r
}

/// Conversion + validation CPU, best of two.
fn cost(n: usize) -> Duration {
    (0..2)
        .map(|_| {
            let r = report(n);
            let t = thread_cpu();
            let report = convert::report_from_pb(r).expect("converts");
            std::hint::black_box(validate(&report, &Context::default()));
            thread_cpu() - t
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn structured_report_cost_is_linear_in_facts() {
    let (small, large) = (cost(10_000), cost(40_000));
    let ratio = large.max(Duration::from_millis(5)).as_secs_f64()
        / small.max(Duration::from_millis(5)).as_secs_f64();
    eprintln!("10k facts {small:?}, 40k facts {large:?}: ×{ratio:.1}");
    // Linear: ×4. Quadratic would be ×16.
    assert!(ratio <= 8.0, "4× the facts cost {ratio:.1}× the CPU");
}

#[test]
fn structured_reports_beyond_the_fact_cap_are_refused_before_conversion() {
    let mut r = report(0);
    let f = r.facts[0].clone();
    r.facts = vec![f; gouji_domain::work::MAX_FACTS + 1];
    let errs = convert::report_from_pb(r).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "report.facts");
}
