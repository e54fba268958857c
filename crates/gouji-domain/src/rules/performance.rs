//! Rules on the 绩效自评表 score rows ([`Report::performance`]: 分值 and 得分 of each indicator,
//! and the 总分 row), for every family.
//!
//! - PF-01: an indicator's 得分 is not above its 分值.
//! - PF-02: the 总分 row's 得分 equals the sum of the indicators' 得分 of the same table. It applies
//!   only when the indicators read carry the whole 分值 of the table (their 分值 add up to the
//!   总分 row's 分值, usually 100): a row the reader skipped (a 预算执行率 row printed with its
//!   amounts) makes the identity not applicable instead of an error.
//!
//! Scores are compared exactly as printed, with half a unit of the last printed digit per term
//! when the scores print decimals.

use rust_decimal::Decimal;

use super::{FactIndex, Finding, Location, Severity, fmt};
use crate::model::{PerformanceScore, Report};

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "PF-01",
        Severity::Error,
        "IT",
        "绩效自评：得分不超过分值",
        "绩效自评表中每个指标的得分不大于其分值。",
    ),
    (
        "PF-02",
        Severity::Error,
        "IT",
        "绩效自评：总分等于各指标得分之和",
        "绩效自评表的总分等于同表各指标得分之和；仅当读出的指标分值之和等于总分行的分值时核对，有指标未读出时不适用。",
    ),
];

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if r.performance.is_empty() {
        return;
    }
    for s in &r.performance {
        if is_total(s) {
            continue;
        }
        if s.score > s.weight {
            out.push(Finding::new(
                "PF-01",
                Severity::Error,
                format!(
                    "绩效自评表 “{}” 得分 {} 高于分值 {}",
                    s.indicator,
                    fmt(s.score),
                    fmt(s.weight)
                ),
                vec![location(r, s, true)],
                Some(s.weight),
                Some(s.score),
                Some(Decimal::ZERO),
            ));
        }
    }
    for group in tables(r) {
        total_score(r, &group, out);
    }
}

fn is_total(s: &PerformanceScore) -> bool {
    matches!(s.indicator.trim(), "总分" | "合计" | "总计")
}

/// The score rows grouped by the 自评表 they belong to (the nearest title line above them).
fn tables(r: &Report) -> Vec<Vec<&PerformanceScore>> {
    let mut groups: Vec<(usize, Vec<&PerformanceScore>)> = Vec::new();
    for s in &r.performance {
        let line = s.line as usize;
        let title = r.lines[..line.saturating_sub(1).min(r.lines.len())]
            .iter()
            .rposition(|l| !l.contains('\t') && l.contains("自评表"))
            .unwrap_or(0);
        match groups.last_mut() {
            Some((t, g)) if *t == title => g.push(s),
            _ => groups.push((title, vec![s])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// PF-02 on one table.
fn total_score(r: &Report, group: &[&PerformanceScore], out: &mut Vec<Finding>) {
    let Some(total) = group.iter().find(|s| is_total(s)) else {
        return;
    };
    let items: Vec<&PerformanceScore> = group.iter().copied().filter(|s| !is_total(s)).collect();
    if items.len() < 2 {
        return;
    }
    let weights: Decimal = items.iter().map(|s| s.weight).sum();
    if weights != total.weight {
        return;
    }
    let sum: Decimal = items.iter().map(|s| s.score).sum();
    let gap = total.score - sum;
    if gap.is_zero() {
        return;
    }
    let scale = group.iter().map(|s| s.score.scale()).max().unwrap_or(0);
    let bound = if scale == 0 {
        Decimal::ZERO
    } else {
        Decimal::new(5, scale + 1) * Decimal::from(items.len() as u64 + 1)
    };
    let (severity, verdict) = if gap.abs() <= bound {
        (Severity::Info, "尾差（四舍五入所致，在容差内）")
    } else {
        (Severity::Error, "不相等")
    };
    let mut locations = vec![location(r, total, true)];
    locations.extend(items.iter().map(|s| location(r, s, false)));
    out.push(Finding::new(
        "PF-02",
        severity,
        format!(
            "绩效自评表总分为 {}，{} 个指标得分之和为 {}（分值合计 {}），差额 {}，{verdict}",
            fmt(total.score),
            items.len(),
            fmt(sum),
            fmt(weights),
            fmt(gap)
        ),
        locations,
        Some(sum),
        Some(total.score),
        Some(bound),
    ));
}

fn location(r: &Report, s: &PerformanceScore, suspect: bool) -> Location {
    Location {
        table: "绩效自评表".into(),
        row: s.indicator.clone(),
        column: "得分".into(),
        line: s.line,
        text: r
            .lines
            .get((s.line as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_default(),
        suspect,
        ..Location::default()
    }
}
