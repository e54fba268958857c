//! Golden findings per seed: the full finding list is a snapshot in `tests/golden/`, so any change
//! in findings is a visible diff. Refresh with `UPDATE_GOLDEN=1 cargo test --test golden`.
//! The asserts below pin the real defects a reviewer must see (issue #3).

mod common;

use gouji_domain::rules::{Context, Severity, Validation, validate};

fn snapshot(n: usize) -> Option<Validation> {
    let report = common::seed(n)?;
    let v = validate(&report, &Context::default());
    common::assert_golden(&format!("seed{n}.txt"), &common::findings_text(&v));
    Some(v)
}

fn has(v: &Validation, rule: &str, severity: Severity, needles: &[&str]) -> bool {
    v.findings.iter().any(|f| {
        f.rule_id == rule && f.severity == severity && needles.iter().all(|n| f.message.contains(n))
    })
}

fn no_error_is_a_rounding_tail(v: &Validation) {
    for f in v.findings.iter().filter(|f| f.severity == Severity::Error) {
        if let (Some(d), Some(t)) = (f.difference, f.tolerance) {
            assert!(d.abs() > t, "error within tolerance: {}", f.message);
        }
    }
}

#[test]
fn seed0_labour_fee_and_performance_pay() {
    let Some(v) = snapshot(0) else { return };
    // 公开06 劳务费 is 19.52 and the 情况说明 says 19.92: one error pointing at both.
    let f = v
        .findings
        .iter()
        .find(|f| f.rule_id == "NR-01" && f.message.contains("劳务费19.92"))
        .expect("劳务费 finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.locations.len(), 2);
    assert!(f.locations[0].suspect && f.locations[0].line == 471);
    assert_eq!(
        (
            f.locations[1].table.as_str(),
            f.locations[1].row.as_str(),
            f.locations[1].line
        ),
        ("公开06", "30226", 307)
    );
    assert!(has(
        &v,
        "NR-01",
        Severity::Error,
        &["绩效工资113.45", "113.46"]
    ));
    assert!(has(
        &v,
        "NR-16",
        Severity::Warning,
        &["1879.42", "1,884.42"]
    ));
    assert!(!v.valid());
    no_error_is_a_rounding_tail(&v);
}

#[test]
fn seed1_unit_infinity_and_unexplained_change() {
    let Some(v) = snapshot(1) else { return };
    assert!(has(&v, "NR-10", Severity::Warning, &["316.17元"]));
    assert!(has(&v, "NR-04", Severity::Warning, &["∞"]));
    // The 公务接待费 reason copied from 公务用车运行维护费: RD-07's, and not again RD-20's.
    assert!(has(
        &v,
        "RD-07",
        Severity::Warning,
        &["公务接待费", "公务用车运行维护费"]
    ));
    assert!(!v.findings.iter().any(|f| f.rule_id == "RD-20"));
    assert!(has(&v, "NR-05", Severity::Warning, &["97.88", "139.88"]));
    no_error_is_a_rounding_tail(&v);
}

#[test]
fn seed2_budget_only_rounding_tails() {
    let Some(v) = snapshot(2) else { return };
    assert!(v.valid());
    assert!(has(&v, "CT-01", Severity::Info, &["300.88", "300.90"]));
    assert!(has(&v, "NR-14", Severity::Info, &["861.6"]));
    assert!(has(&v, "YS12", Severity::Info, &["单位性质"]));
}

#[test]
fn seed3_sangong_budget_and_garbled_year() {
    let Some(v) = snapshot(3) else { return };
    assert!(has(&v, "NR-01", Severity::Error, &["1.95", "2.61"]));
    assert!(has(
        &v,
        "NR-01",
        Severity::Error,
        &["公务用车运行维护费", "1.67"]
    ));
    assert!(has(&v, "NR-01", Severity::Error, &["0.95", "0.94"]));
    assert!(has(&v, "G-06", Severity::Warning, &["9094"]));
    assert!(has(&v, "JS06-5", Severity::Warning, &["30108"]));
    assert!(has(&v, "JS10-3", Severity::Warning, &["52.03"]));
    no_error_is_a_rounding_tail(&v);
}

#[test]
fn seed4_execution_rate_staff_and_change() {
    let Some(v) = snapshot(4) else { return };
    assert!(has(&v, "NR-03", Severity::Error, &["106.48", "939.09"]));
    assert!(has(&v, "NR-15", Severity::Warning, &["66", "64"]));
    assert!(has(&v, "NR-05", Severity::Warning, &["713.28", "731.72"]));
    assert!(has(&v, "NR-02", Severity::Info, &["27.19", "27.20"]));
    assert!(has(&v, "JS01-2", Severity::Info, &["3,617.35"]));
    no_error_is_a_rounding_tail(&v);
}
