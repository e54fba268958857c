//! Rules on the 绩效自评表 score rows ([`Report::performance`]: 分值 and 得分 of each indicator,
//! and the 总分 row), for every family.
//!
//! - PF-01: an indicator's 得分 is not above its 分值.
//! - PF-02: the 总分 row's 得分 equals the sum of the indicators' 得分 of the same table. It applies
//!   only when the indicators read carry the whole 分值 of the table (their 分值 add up to the
//!   总分 row's 分值, usually 100): a row the reader skipped (a 预算执行率 row printed with its
//!   amounts) makes the identity not applicable instead of an error.
//!
//! - PF-03: a 资金 row's 执行率 = 全年执行数 / 全年预算数, read under the header that prints those
//!   three columns; a row whose first cell sits under an amount column (a ragged extraction) is
//!   not read.
//!
//! Scores are compared exactly as printed, with half a unit of the last printed digit per term
//! when the scores print decimals; a 执行率 within what the rounding of its three figures allows.

use std::sync::LazyLock;

use rust_decimal::Decimal;

use super::{FactIndex, Finding, Location, Severity, fmt, half_unit_of};
use crate::amount::parse_decimal;
use crate::model::{PerformanceScore, Report};
use crate::parse::text::fold;

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
    (
        "PF-03",
        Severity::Warning,
        "IT",
        "绩效自评：执行率 = 全年执行数 / 全年预算数",
        "绩效自评表资金行的执行率等于全年执行数除以全年预算数（在三个数四舍五入允许的范围内）；相差 0.01 个百分点为提示，超过 1 个百分点为错误。",
    ),
];

/// «执行率», searched in every line of a document.
static RATE_WORD: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("执行率"));

fn has_rate_word(line: &str) -> bool {
    RATE_WORD.find(line.as_bytes()).is_some()
}

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if r.lines.iter().any(|l| has_rate_word(l)) {
        execution_rates(r, out);
    }
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

/// Column positions of a 资金 header: (全年预算数, 全年执行数, 执行率), and where amounts start.
struct FundColumns {
    budget: usize,
    actual: usize,
    rate: usize,
    /// 资金结(转)余 = 全年预算数 − 全年执行数, when printed: confirms a row sits under its header.
    balance: Option<usize>,
    first_amount: usize,
}

fn fund_columns(cells: &[&str]) -> Option<FundColumns> {
    let folded: Vec<String> = cells.iter().map(|c| fold(c)).collect();
    let find = |p: &dyn Fn(&str) -> bool| folded.iter().position(|c| p(c));
    let budget = find(&|c| c.starts_with("全年预算数"))?;
    let actual = find(&|c| c.starts_with("全年执行数"))?;
    let rate = find(&|c| c.starts_with("执行率"))?;
    let first_amount = find(&|c| c.contains("预算数") || c.contains("执行数"))?;
    let balance = find(&|c| c.contains("结余") || c.contains("结(转)余") || c.contains("结转"));
    Some(FundColumns {
        budget,
        actual,
        rate,
        balance,
        first_amount,
    })
}

/// PF-03 over the document's 资金 rows (`Report::lines`: the rows are read where the rule needs
/// them, so a structured report sent with its lines is checked the same way).
fn execution_rates(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let mut columns: Option<FundColumns> = None;
    for (i, line) in r.lines.iter().enumerate() {
        if !line.contains('\t') {
            if line.contains('表') {
                columns = None;
            }
            continue;
        }
        // Only a header that prints 执行率 starts a 资金 block: other lines cost one search.
        if columns.is_none() && !has_rate_word(line) {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        if has_rate_word(line)
            && let Some(c) = fund_columns(&cells)
        {
            columns = Some(c);
            continue;
        }
        let Some(c) = &columns else { continue };
        let Some(first) = cells.iter().position(|x| !x.is_empty()) else {
            continue;
        };
        if first >= c.first_amount || parse_decimal(cells[first]).is_some() {
            continue;
        }
        let num = |k: usize| {
            let t = cells.get(k)?.trim_end_matches(['%', '％']);
            parse_decimal(&t.replace(',', "")).map(|v| (v, half_unit_of(t)))
        };
        let (Some((a, ha)), Some((b, hb)), Some((rate, hr))) =
            (num(c.budget), num(c.actual), num(c.rate))
        else {
            // Text under the 执行率 header: the 资金 rows are over (the 指标 rows follow).
            if cells.get(c.rate).is_some_and(|x| !x.is_empty()) {
                columns = None;
            }
            continue;
        };
        if a - ha <= Decimal::ZERO {
            continue;
        }
        // A row that dropped a cell reads the wrong columns: the printed 结余 tells.
        if let Some(k) = c.balance
            && let Some((bal, hbal)) = num(k)
            && (bal - (a - b)).abs() > ha + hb + hbal
        {
            continue;
        }
        let hundred = Decimal::ONE_HUNDRED;
        let corners = [(b - hb, a + ha), (b + hb, a - ha)];
        let (Some(lo), Some(hi)) = (
            (corners[0].0 * hundred).checked_div(corners[0].1),
            (corners[1].0 * hundred).checked_div(corners[1].1),
        ) else {
            continue;
        };
        if rate + hr >= lo && rate - hr <= hi {
            continue;
        }
        let expected = (b * hundred / a).round_dp(2);
        // As NR-03: one unit of the second decimal is a hint, up to a point a warning.
        let gap = (rate - expected).abs();
        let severity = if gap > Decimal::ONE {
            Severity::Error
        } else if gap > Decimal::new(1, 2) {
            Severity::Warning
        } else {
            Severity::Info
        };
        out.push(Finding::new(
            "PF-03",
            severity,
            format!(
                "绩效自评表 “{}” 执行率为 {}%，全年执行数 {} ÷ 全年预算数 {} 为 {}%",
                cells[first],
                fmt(rate),
                fmt(b),
                fmt(a),
                fmt(expected)
            ),
            vec![Location {
                table: "绩效自评表".into(),
                row: cells[first].to_string(),
                column: "执行率".into(),
                line: i as u32 + 1,
                text: line.clone(),
                suspect: true,
                ..Location::default()
            }],
            Some(expected),
            Some(rate),
            Some(hr),
        ));
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
