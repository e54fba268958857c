//! Checking a filed 部门汇总 against a [`Consolidation`] of its units, cell by cell (CU-01,
//! CU-02, CU-03, CU-04, CU-05, CU-06, CU-10), and a year against the previous one (CU-07).

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Consolidation;
use super::catalog::{finding, loc_unit};
use super::declared::{declared_units, headcounts_of, name_matches};
use crate::amount::{self, MeasureUnit};
use crate::model::{FigureKind, Report};
use crate::parse::text::fold;
use crate::rules::{Finding, Location, Severity, cell_location, fmt};

/// One cell where the computed and the filed 汇总 differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellComparison {
    pub table: String,
    pub row: String,
    pub column: String,
    /// Σ units − eliminations, in 万元 (or a count); `None` when no unit reported the cell.
    pub computed: Option<Decimal>,
    /// The filed value converted to 万元; `None` when blank.
    pub filed: Option<Decimal>,
    /// computed − filed (blank counts as 0).
    pub difference: Decimal,
    /// 0.005 万元 per rounded figure involved; 0 for counts and 元 data.
    pub tolerance: Decimal,
    /// |difference| ≤ tolerance: a rounding tail (尾差), reported as info.
    pub within_tolerance: bool,
    /// The rule the difference falls under (CU-01, CU-02, CU-04, CU-05 or CU-06).
    pub rule_id: String,
    /// Per unit (and per eliminated transfer) what went into `computed`.
    pub contributions: Vec<(String, Decimal)>,
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Number of (table, row, column) cells compared (union of computed and filed).
    pub cells_compared: u32,
    /// Every cell with a non-zero difference, in report order.
    pub differences: Vec<CellComparison>,
    pub findings: Vec<Finding>,
    /// (unit code, revision) of the units the computed side was built from.
    pub units: Vec<(String, u32)>,
    /// The computed side includes units that failed their own error rules (CU-08).
    pub built_on_failing_units: bool,
}

impl Comparison {
    /// Differences beyond the rounding tolerance.
    pub fn beyond_tolerance(&self) -> impl Iterator<Item = &CellComparison> {
        self.differences.iter().filter(|d| !d.within_tolerance)
    }
}

/// Which rule a cell difference falls under.
fn rule_for(table: &str, row: &str, is_count: bool) -> &'static str {
    if is_count {
        return "CU-05";
    }
    if row.starts_with("机关运行经费") || table == "表11" {
        return "CU-04";
    }
    let sangong = matches!(table, "公开09" | "表10");
    let staff = table == "公开06" && matches!(row, "人员经费合计" | "公用经费合计");
    let procurement = table == "公开10" && matches!(row, "政府采购合计" | "货物" | "工程" | "服务");
    if sangong || staff || procurement {
        "CU-06"
    } else {
        "CU-01"
    }
}

/// Compares a consolidation with the department's filed 汇总, cell by cell, with the tolerance
/// model of rules.md §1.2: 0.005 万元 for each published 万元 figure involved (R(n_units) for a
/// leaf cell every unit reported), zero when both sides are in 元 and for counts. Percentage
/// cells are not compared (they must be recomputed). Also checks the declared unit list
/// (CU-03), 人员 counts (CU-05), 机关运行经费 (CU-04) and narrative totals (CU-10).
pub fn compare(c: &Consolidation, filed: &Report) -> Comparison {
    let mut findings = Vec::new();
    let mut differences = Vec::new();
    let mut keys: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut ordered: Vec<(String, String, String)> = Vec::new();
    for (t, r, col) in c.keys() {
        let k = (t.to_string(), r.to_string(), col.to_string());
        if keys.insert(k.clone()) {
            ordered.push(k);
        }
    }
    for f in &filed.facts {
        if f.unit == MeasureUnit::Percent {
            continue;
        }
        let k = (f.table.clone(), f.row.clone(), f.column.clone());
        if keys.insert(k.clone()) {
            ordered.push(k);
        }
    }
    // A table read by its header (a family without a seed template) prints only some columns: a
    // column the filed 汇总 does not print at all is not compared (a seed template's columns are
    // fixed, so there a column left blank is compared as blank).
    let by_header = crate::template::family(&filed.family).is_none();
    let filed_columns: BTreeSet<(&str, &str)> = filed
        .facts
        .iter()
        .map(|f| (f.table.as_str(), f.column.as_str()))
        .collect();
    let mut compared = 0u32;
    for (t, r, col) in &ordered {
        let filed_fact = filed.fact(t, r, col);
        if by_header && filed_fact.is_none() && !filed_columns.contains(&(t.as_str(), col.as_str()))
        {
            continue;
        }
        if filed_fact.is_some_and(|f| f.unit == MeasureUnit::Percent) {
            continue;
        }
        compared += 1;
        let is_count =
            c.is_count(t, r, col) || filed_fact.is_some_and(|f| f.unit == MeasureUnit::Count);
        let filed_value = filed_fact.and_then(|f| match f.unit {
            MeasureUnit::Count | MeasureUnit::Wanyuan => Some(f.value),
            u => amount::convert(f.value, u, MeasureUnit::Wanyuan),
        });
        // An absurd filed amount is compared as blank (it cannot be a real 汇总 figure).
        let filed_value = filed_value.filter(|v| v.abs() <= super::max_amount());
        let filed_rounded = filed_fact
            .is_some_and(|f| matches!(f.unit, MeasureUnit::Wanyuan | MeasureUnit::Yiyuan));
        let computed = c.value(t, r, col);
        let difference = computed.unwrap_or_default() - filed_value.unwrap_or_default();
        if difference.is_zero() {
            continue;
        }
        let tolerance = if is_count {
            Decimal::ZERO
        } else {
            c.tolerance(t, r, col, filed_rounded)
        };
        let within = difference.abs() <= tolerance;
        let eliminated = c.eliminated(t, r, col);
        let not_eliminated = !within
            && !eliminated.is_zero()
            && (computed.unwrap_or_default() - eliminated - filed_value.unwrap_or_default()).abs()
                <= tolerance;
        let rule_id = if not_eliminated {
            "CU-02"
        } else {
            rule_for(t, r, is_count)
        };
        let contributions = c.contributions(t, r, col);
        let severity = if within {
            Severity::Info
        } else if not_eliminated {
            Severity::Error
        } else {
            match rule_id {
                "CU-04" | "CU-05" => Severity::Warning,
                _ => Severity::Error,
            }
        };
        let contrib_text: Vec<String> = contributions
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(u, v)| format!("{u} {}", fmt(*v)))
            .collect();
        let unit_word = if is_count { "" } else { " 万元" };
        let message = if within {
            format!(
                "{t} {r} {col}：汇总数 {} 与各单位之和 {} 相差 {}{unit_word}，在尾差容差 {} 内",
                fmt(filed_value.unwrap_or_default()),
                fmt(computed.unwrap_or_default()),
                fmt(difference),
                fmt(tolerance)
            )
        } else if not_eliminated {
            format!(
                "{t} {r} {col}：汇总数 {} 未冲抵内部往来 {}{unit_word}（冲抵后应为 {}）",
                fmt(filed_value.unwrap_or_default()),
                fmt(-eliminated),
                fmt(computed.unwrap_or_default())
            )
        } else {
            format!(
                "{t} {r} {col}：汇总数 {} 不等于各单位之和（减内部冲抵）{}，差额 {}{unit_word}（容差 {}）；各单位：{}",
                fmt(filed_value.unwrap_or_default()),
                fmt(computed.unwrap_or_default()),
                fmt(difference),
                fmt(tolerance),
                if contrib_text.is_empty() {
                    "无".to_string()
                } else {
                    contrib_text.join("，")
                }
            )
        };
        let mut location = cell_location(filed, t, r, col);
        location.suspect = true;
        let mut f = finding(
            rule_id,
            severity,
            message,
            vec![location],
            computed.or(Some(Decimal::ZERO)),
            filed_value.or(Some(Decimal::ZERO)),
        );
        f.tolerance = Some(tolerance);
        findings.push(f);
        differences.push(CellComparison {
            table: t.clone(),
            row: r.clone(),
            column: col.clone(),
            computed,
            filed: filed_value,
            difference,
            tolerance,
            within_tolerance: within,
            rule_id: rule_id.to_string(),
            contributions,
        });
    }

    declared_scope(c, filed, &mut findings);
    staff_counts(c, filed, &mut findings);
    operating_expenses(c, filed, &mut findings);
    narrative_totals(c, filed, &mut findings);

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    Comparison {
        cells_compared: compared,
        differences,
        findings,
        units: c.revisions(),
        built_on_failing_units: c.built_on_failing_units,
    }
}

/// CU-03: the declared 单位构成 against the units aggregated.
fn declared_scope(c: &Consolidation, filed: &Report, out: &mut Vec<Finding>) {
    let Some(d) = declared_units(filed) else {
        out.push(finding(
            "CU-03",
            Severity::Info,
            format!(
                "汇总报表未列明“部门决算单位构成”，无法核对纳入汇总的 {} 个单位",
                c.units.len()
            ),
            vec![],
            None,
            None,
        ));
        return;
    };
    let loc = Location {
        section: "部门决算单位构成".into(),
        line: d.line,
        ..Location::default()
    };
    let n = c.units.len() as u32;
    if let Some(count) = d.count
        && count != n
    {
        out.push(finding(
            "CU-03",
            Severity::Error,
            format!("单位构成称纳入 {count} 个单位，实际汇总 {n} 个单位"),
            vec![loc.clone()],
            Some(Decimal::from(n)),
            Some(Decimal::from(count)),
        ));
    }
    if d.names.is_empty() {
        return;
    }
    let roots: Vec<&str> = c.root_units().iter().map(|m| m.code.as_str()).collect();
    let mut matched = vec![false; c.units.len()];
    let mut missing = Vec::new();
    for name in &d.names {
        let hit = c.units.iter().enumerate().find(|(i, m)| {
            !matched[*i] && name_matches(name, &m.name, roots.contains(&m.code.as_str()))
        });
        match hit {
            Some((i, _)) => matched[i] = true,
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        out.push(finding(
            "CU-03",
            Severity::Error,
            format!("单位构成列明的单位未纳入汇总：{}", missing.join("、")),
            vec![loc.clone()],
            None,
            None,
        ));
    }
    let extra: Vec<&super::UnitMeta> = c
        .units
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(u, _)| u)
        .collect();
    if !extra.is_empty() {
        let mut locs = vec![loc];
        locs.extend(extra.iter().map(|u| loc_unit(u)));
        out.push(finding(
            "CU-03",
            Severity::Error,
            format!(
                "纳入汇总的单位未在单位构成中列明：{}",
                extra
                    .iter()
                    .map(|u| format!("{}（{}）", u.name, u.code))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            locs,
            None,
            None,
        ));
    }
}

/// CU-05: 人员 counts of the filed narrative against Σ units (exact).
fn staff_counts(c: &Consolidation, filed: &Report, out: &mut Vec<Finding>) {
    if c.headcounts.is_empty() {
        return;
    }
    for (key, value) in headcounts_of(filed) {
        let Some(h) = c.headcounts.iter().find(|h| h.key == key) else {
            continue;
        };
        if h.total != value {
            let parts: Vec<String> = h
                .contributions
                .iter()
                .map(|(u, v)| format!("{u} {v}"))
                .collect();
            out.push(finding(
                "CU-05",
                Severity::Warning,
                format!(
                    "{key}：汇总说明为 {value} 人，各单位之和为 {} 人（{}）",
                    h.total,
                    parts.join("，")
                ),
                vec![Location {
                    section: "人员情况".into(),
                    ..Location::default()
                }],
                Some(h.total),
                Some(value),
            ));
        }
    }
}

/// The filed 机关运行经费: 公开10 rows, 表11 部门合计, or the narrative figure.
fn filed_operating(filed: &Report) -> Option<Decimal> {
    let a = filed.value("公开10", "机关运行经费.行政单位", "统计数");
    let b = filed.value("公开10", "机关运行经费.参照公务员法管理事业单位", "统计数");
    if a.is_some() || b.is_some() {
        return Some(a.unwrap_or_default() + b.unwrap_or_default());
    }
    if let Some(v) = filed.value("表11", "部门合计", "合计") {
        return Some(v);
    }
    filed
        .figures
        .iter()
        .filter(|f| {
            f.kind == FigureKind::Amount
                && filed
                    .sections
                    .get(f.section)
                    .is_some_and(|s| s.heading.contains("机关运行经费"))
        })
        .find(|f| {
            let l = fold(&f.label);
            let word = if filed.kind == crate::ReportKind::Budget {
                "预算"
            } else {
                "决算"
            };
            l.contains(word) && !l.contains("上年") && !l.contains("增") && !l.contains("减")
        })
        .and_then(|f| f.value)
}

/// CU-04: filed 机关运行经费 against Σ 公用经费 of 行政/参公 units.
fn operating_expenses(c: &Consolidation, filed: &Report, out: &mut Vec<Finding>) {
    let filed_value = filed_operating(filed).filter(|v| v.abs() <= super::max_amount());
    let (Some(op), Some(v)) = (&c.operating_expenses, filed_value) else {
        return;
    };
    let diff = v - op.amount;
    if diff.abs() <= op.tolerance {
        return;
    }
    let contributing: Vec<String> = op
        .units
        .iter()
        .map(|(u, x)| format!("{u} {}", fmt(*x)))
        .collect();
    out.push(finding(
        "CU-04",
        Severity::Warning,
        format!(
            "汇总机关运行经费 {} 万元，行政/参公单位公用经费之和为 {} 万元（{}）；未计入的单位：{}",
            fmt(v),
            fmt(op.amount),
            if contributing.is_empty() {
                "无行政/参公单位".to_string()
            } else {
                contributing.join("，")
            },
            if op.excluded.is_empty() {
                "无".to_string()
            } else {
                op.excluded.join("、")
            }
        ),
        vec![Location {
            section: "机关运行经费".into(),
            ..Location::default()
        }],
        Some(op.amount),
        Some(v),
    ));
}

/// CU-10: a narrative total that quotes the 本级 figure instead of the 汇总 figure.
fn narrative_totals(c: &Consolidation, filed: &Report, out: &mut Vec<Finding>) {
    let roots: Vec<String> = c.root_units().iter().map(|m| m.code.clone()).collect();
    for (label, row) in [
        ("本年收入合计", "本年收入合计"),
        ("本年支出合计", "本年支出合计"),
        ("收入总计", "收入总计"),
        ("支出总计", "支出总计"),
    ] {
        let Some(total) = c.value("公开01", row, "决算数") else {
            continue;
        };
        let own: Option<Decimal> = c
            .contributions("公开01", row, "决算数")
            .into_iter()
            .find(|(u, _)| roots.contains(u))
            .map(|(_, v)| v);
        let Some(own) = own.filter(|v| *v != total) else {
            continue;
        };
        for f in filed.figures.iter().filter(|f| {
            f.kind == FigureKind::Amount
                && f.unit == MeasureUnit::Wanyuan
                && fold(&f.label).contains(label)
        }) {
            if f.value == Some(own) {
                out.push(finding(
                    "CU-10",
                    Severity::Warning,
                    format!(
                        "情况说明“{}”引用的是本级数 {} 万元，汇总数为 {} 万元",
                        f.printed,
                        fmt(own),
                        fmt(total)
                    ),
                    vec![Location {
                        line: f.source.line,
                        text: f.source.text.clone(),
                        suspect: true,
                        ..Location::default()
                    }],
                    Some(total),
                    Some(own),
                ));
            }
        }
    }
}

/// CU-07: this year's 年初结转和结余 against last year's 年末结转和结余, both consolidated.
pub fn carry_forward(current: &Consolidation, prior: &Consolidation) -> Vec<Finding> {
    let pairs = [
        (
            ("公开01", "年初结转和结余", "决算数"),
            ("公开01", "年末结转和结余", "决算数"),
        ),
        (
            ("公开04", "年初财政拨款结转和结余", "决算数"),
            ("公开04", "年末财政拨款结转和结余", "合计"),
        ),
        (
            ("公开07", "合计", "年初结转和结余"),
            ("公开07", "合计", "年末结转和结余"),
        ),
    ];
    let mut out = Vec::new();
    for ((t, r, col), (pt, pr, pc)) in pairs {
        let now = current.value(t, r, col);
        let before = prior.value(pt, pr, pc);
        if now.is_none() && before.is_none() {
            continue;
        }
        let (a, b) = (now.unwrap_or_default(), before.unwrap_or_default());
        let tol = current
            .tolerance(t, r, col, false)
            .max(prior.tolerance(pt, pr, pc, false));
        if (a - b).abs() <= tol {
            continue;
        }
        let mut f = finding(
            "CU-07",
            Severity::Warning,
            format!(
                "{t} {r}（{}年）{} 万元 不等于上年 {pt} {pr} {} 万元",
                current.report.year,
                fmt(a),
                fmt(b)
            ),
            vec![Location {
                table: t.into(),
                row: r.into(),
                column: col.into(),
                ..Location::default()
            }],
            Some(b),
            Some(a),
        );
        f.tolerance = Some(tol);
        out.push(f);
    }
    out
}
