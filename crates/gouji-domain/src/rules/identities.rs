//! Evaluates the declarative identities of `identities.toml`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Finding, Location, Severity, fmt, rounding_bound};
use crate::amount::MeasureUnit;
use crate::codes::{self, Level};
use crate::model::{Fact, Report};

/// One declarative rule.
#[derive(Debug, Clone, Deserialize)]
pub struct IdentityRule {
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    pub title: String,
    #[serde(default)]
    tolerance: Option<String>,
    #[serde(default)]
    total: Option<String>,
    #[serde(default)]
    parts: Vec<String>,
    #[serde(default)]
    parts_classes: Option<String>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    left: Option<String>,
    #[serde(default)]
    right: Option<String>,
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    other_table: Option<String>,
    #[serde(default)]
    other_column: Option<String>,
}

/// The shape of an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Sum,
    RowSum,
    Hierarchy,
    Equal,
    RowsEqual,
    RowsLe,
    Le,
}

impl IdentityRule {
    pub(crate) fn scope(&self) -> &'static str {
        match self.kind {
            Kind::RowSum | Kind::Hierarchy => "IT",
            _ => {
                let tables: BTreeSet<&str> = [&self.total, &self.left, &self.right]
                    .into_iter()
                    .flatten()
                    .chain(self.parts.iter())
                    .map(|c| c.trim_start_matches('-').split('|').next().unwrap_or(""))
                    .collect();
                if tables.len() > 1 || self.other_table.is_some() {
                    "XT"
                } else {
                    "IT"
                }
            }
        }
    }

    pub(crate) fn describe(&self) -> String {
        let tol = if self.exact() {
            "精确相等"
        } else {
            "容差 0.005×(n+1) 万元，容差内差异记为尾差提示"
        };
        match self.kind {
            Kind::Sum => format!(
                "{} = {}（{tol}）",
                self.total.clone().unwrap_or_default(),
                self.parts_text()
            ),
            Kind::RowSum => format!(
                "{} 每行：{} = {}（{tol}）",
                self.table.clone().unwrap_or_default(),
                self.total.clone().unwrap_or_default(),
                self.parts.join(" + ")
            ),
            Kind::Hierarchy => format!(
                "{} 每列：合计 = Σ类，类 = Σ款，款 = Σ项（{tol}）",
                self.table.clone().unwrap_or_default()
            ),
            Kind::Equal => format!(
                "{} = {}（同一数字的两处公开，精确相等）",
                self.left.clone().unwrap_or_default(),
                self.right.clone().unwrap_or_default()
            ),
            Kind::RowsEqual | Kind::RowsLe => format!(
                "{}.{} {} {}.{}（按科目逐行比较）",
                self.table.clone().unwrap_or_default(),
                self.column.clone().unwrap_or_default(),
                if self.kind == Kind::RowsEqual {
                    "="
                } else {
                    "≤"
                },
                self.other_table.clone().unwrap_or_default(),
                self.other_column.clone().unwrap_or_default()
            ),
            Kind::Le => format!(
                "{} ≤ {}",
                self.left.clone().unwrap_or_default(),
                self.right.clone().unwrap_or_default()
            ),
        }
    }

    /// The rule's definition as JSON (for tests and documentation).
    pub fn definition(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "total": self.total, "parts": self.parts, "table": self.table,
            "left": self.left, "right": self.right, "tolerance": self.tolerance,
        })
    }

    fn parts_text(&self) -> String {
        match &self.parts_classes {
            Some(c) => format!("Σ 类级行 ({c})"),
            None => self.parts.join(" + "),
        }
    }

    fn exact(&self) -> bool {
        self.tolerance.as_deref() == Some("exact")
    }
}

#[derive(Deserialize)]
struct RuleFile {
    rule: Vec<IdentityRule>,
}

static RULES: LazyLock<Vec<IdentityRule>> =
    LazyLock::new(
        || match toml::from_str::<RuleFile>(include_str!("identities.toml")) {
            Ok(f) => f.rule,
            Err(e) => panic!("identities.toml is invalid: {e}"),
        },
    );

/// Every declarative identity.
pub fn rules() -> &'static [IdentityRule] {
    &RULES
}

/// A resolved reference "table|row|column".
struct CellRef<'a> {
    table: &'a str,
    row: &'a str,
    column: &'a str,
    negative: bool,
}

fn parse_ref(s: &str) -> Option<CellRef<'_>> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mut it = s.split('|');
    Some(CellRef {
        table: it.next()?,
        row: it.next()?,
        column: it.next()?,
        negative,
    })
}

fn location(table: &str, row: &str, column: &str, fact: Option<&Fact>) -> Location {
    Location {
        table: table.into(),
        row: row.into(),
        column: column.into(),
        line: fact.map(|f| f.source.line).unwrap_or(0),
        text: fact.map(|f| f.source.text.clone()).unwrap_or_default(),
        ..Location::default()
    }
}

/// The unit of a table (万元 unless declared otherwise).
fn table_unit(report: &Report, table: &str) -> MeasureUnit {
    report
        .table(table)
        .map(|t| t.unit)
        .unwrap_or(MeasureUnit::Wanyuan)
}

struct Term<'a> {
    table: &'a str,
    row: String,
    column: &'a str,
    sign: Decimal,
}

/// Checks `total = Σ terms` and records a finding when it does not hold.
fn check_sum(
    report: &Report,
    rule: &IdentityRule,
    total: Term<'_>,
    terms: &[Term<'_>],
    context: &str,
    out: &mut Vec<Finding>,
) {
    let total_fact = report.fact(total.table, &total.row, total.column);
    let mut sum = Decimal::ZERO;
    let mut n = 0;
    let mut locs = vec![location(total.table, &total.row, total.column, total_fact)];
    for t in terms {
        let f = report.fact(t.table, &t.row, t.column);
        if let Some(f) = f {
            sum += t.sign * f.value;
            n += 1;
            locs.push(location(t.table, &t.row, t.column, Some(f)));
        }
    }
    let actual = total_fact.map(|f| f.value).unwrap_or(Decimal::ZERO);
    if total_fact.is_none() && n == 0 {
        return;
    }
    let gap = (actual - sum).abs();
    if gap.is_zero() {
        return;
    }
    let money = table_unit(report, total.table) == MeasureUnit::Wanyuan;
    let counts = report
        .fact(total.table, &total.row, total.column)
        .is_some_and(|f| f.unit == MeasureUnit::Count);
    let bound = if rule.exact() || !money || counts {
        Decimal::ZERO
    } else {
        rounding_bound(n)
    };
    let (severity, what) = if gap <= bound {
        (Severity::Info, "尾差（四舍五入所致，在容差内）")
    } else {
        (rule.severity, "不相等")
    };
    out.push(Finding {
        rule_id: rule.id.clone(),
        severity,
        message: format!(
            "{}{}：{} {} 为 {}，各项之和为 {}，差额 {}，{}",
            rule.title,
            context,
            total.table,
            total.row,
            fmt(actual),
            fmt(sum),
            fmt(actual - sum),
            what
        ),
        locations: locs,
        expected: Some(sum),
        actual: Some(actual),
        difference: Some(actual - sum),
        tolerance: Some(bound),
    });
}

fn check_pair(
    report: &Report,
    rule: &IdentityRule,
    l: &CellRef<'_>,
    r: &CellRef<'_>,
    le: bool,
    out: &mut Vec<Finding>,
) {
    if report.table(l.table).is_none() || report.table(r.table).is_none() {
        return;
    }
    let lf = report.fact(l.table, l.row, l.column);
    let rf = report.fact(r.table, r.row, r.column);
    if lf.is_none() && rf.is_none() {
        return;
    }
    let lv = lf.map(|f| f.value).unwrap_or_default();
    let rv = rf.map(|f| f.value).unwrap_or_default();
    let bad = if le { lv > rv } else { lv != rv };
    if !bad {
        return;
    }
    let rel = if le { "大于" } else { "不等于" };
    out.push(Finding {
        rule_id: rule.id.clone(),
        severity: rule.severity,
        message: format!(
            "{}：{} {} {} 为 {}，{} {} {} 为 {}",
            rule.title,
            l.table,
            l.row,
            l.column,
            fmt(lv),
            rel,
            r.table,
            r.row,
            fmt(rv)
        ),
        locations: vec![
            location(l.table, l.row, l.column, lf),
            location(r.table, r.row, r.column, rf),
        ],
        expected: Some(rv),
        actual: Some(lv),
        difference: Some(lv - rv),
        tolerance: Some(Decimal::ZERO),
    });
}

/// Row keys present in a table, in first-seen order.
fn row_keys<'a>(report: &'a Report, table: &str) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for f in report.facts.iter().filter(|f| f.table == table) {
        if !seen.contains(&f.row.as_str()) {
            seen.push(f.row.as_str());
        }
    }
    seen
}

/// Runs every declarative identity.
pub(crate) fn check_all(report: &Report, out: &mut Vec<Finding>) {
    for rule in rules() {
        check_rule(report, rule, out);
    }
}

fn check_rule(report: &Report, rule: &IdentityRule, out: &mut Vec<Finding>) {
    match rule.kind {
        Kind::Sum => {
            let Some(total) = rule.total.as_deref().and_then(parse_ref) else {
                return;
            };
            if report.table(total.table).is_none() {
                return;
            }
            let terms: Vec<Term<'_>> = match &rule.parts_classes {
                Some(spec) => {
                    let mut it = spec.split('|');
                    let (table, column) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                    row_keys(report, table)
                        .into_iter()
                        .filter(|r| codes::functional_level(r) == Some(Level::Lei))
                        .map(|r| Term {
                            table,
                            row: r.to_string(),
                            column,
                            sign: Decimal::ONE,
                        })
                        .collect()
                }
                None => rule
                    .parts
                    .iter()
                    .filter_map(|p| parse_ref(p))
                    .filter(|p| report.table(p.table).is_some())
                    .map(|p| Term {
                        table: p.table,
                        row: p.row.to_string(),
                        column: p.column,
                        sign: if p.negative {
                            -Decimal::ONE
                        } else {
                            Decimal::ONE
                        },
                    })
                    .collect(),
            };
            let total = Term {
                table: total.table,
                row: total.row.to_string(),
                column: total.column,
                sign: Decimal::ONE,
            };
            check_sum(report, rule, total, &terms, "", out);
        }
        Kind::RowSum => {
            let (Some(table), Some(total_col)) = (rule.table.as_deref(), rule.total.as_deref())
            else {
                return;
            };
            for row in row_keys(report, table) {
                let terms: Vec<Term<'_>> = rule
                    .parts
                    .iter()
                    .map(|p| {
                        let (sign, col) = match p.strip_prefix('-') {
                            Some(c) => (-Decimal::ONE, c),
                            None => (Decimal::ONE, p.as_str()),
                        };
                        Term {
                            table,
                            row: row.to_string(),
                            column: col,
                            sign,
                        }
                    })
                    .collect();
                let has_any = report.fact(table, row, total_col).is_some()
                    || terms
                        .iter()
                        .any(|t| report.fact(table, &t.row, t.column).is_some());
                if !has_any
                    || report.fact(table, row, total_col).is_none()
                        && !terms
                            .iter()
                            .any(|t| report.fact(table, &t.row, t.column).is_some())
                {
                    continue;
                }
                // A row that carries only part columns but no total column at all is another kind of row.
                if report.fact(table, row, total_col).is_none()
                    && !report.facts_of(table).any(|f| f.column == total_col)
                {
                    continue;
                }
                let total = Term {
                    table,
                    row: row.to_string(),
                    column: total_col,
                    sign: Decimal::ONE,
                };
                check_sum(report, rule, total, &terms, &format!("（{row} 行）"), out);
            }
        }
        Kind::Hierarchy => {
            let Some(table) = rule.table.as_deref() else {
                return;
            };
            check_hierarchy(report, rule, table, out);
        }
        Kind::Equal | Kind::Le => {
            let (Some(l), Some(r)) = (
                rule.left.as_deref().and_then(parse_ref),
                rule.right.as_deref().and_then(parse_ref),
            ) else {
                return;
            };
            check_pair(report, rule, &l, &r, rule.kind == Kind::Le, out);
        }
        Kind::RowsEqual | Kind::RowsLe => {
            let (Some(t), Some(c), Some(ot), Some(oc)) = (
                rule.table.as_deref(),
                rule.column.as_deref(),
                rule.other_table.as_deref(),
                rule.other_column.as_deref(),
            ) else {
                return;
            };
            if report.table(ot).is_none() {
                return;
            }
            for row in row_keys(report, t) {
                let is_code = codes::functional_level(row).is_some();
                let applies = if rule.kind == Kind::RowsEqual {
                    codes::functional_level(row) == Some(Level::Lei)
                } else {
                    is_code || row == "合计"
                };
                // 公开04's class rows compare with 公开01's class rows; other rows only with the same key.
                if !applies
                    || (ot == "公开01" || ot == "表1")
                        && codes::functional_level(row) != Some(Level::Lei)
                {
                    continue;
                }
                let l = CellRef {
                    table: t,
                    row,
                    column: c,
                    negative: false,
                };
                let r = CellRef {
                    table: ot,
                    row,
                    column: oc,
                    negative: false,
                };
                check_pair(report, rule, &l, &r, rule.kind == Kind::RowsLe, out);
            }
        }
    }
}

fn check_hierarchy(report: &Report, rule: &IdentityRule, table: &str, out: &mut Vec<Finding>) {
    let rows = row_keys(report, table);
    let columns: BTreeSet<&str> = report.facts_of(table).map(|f| f.column.as_str()).collect();
    let is_code =
        |r: &str| codes::functional_level(r).is_some() || codes::economic_level(r).is_some();
    let code_rows: Vec<&str> = rows.iter().copied().filter(|r| is_code(r)).collect();
    for column in columns {
        // 合计 = Σ 类 (only when the table prints a 合计 row and its 类 rows).
        let leis: Vec<&str> = code_rows.iter().copied().filter(|r| r.len() == 3).collect();
        if rows.contains(&"合计") && !leis.is_empty() {
            let terms: Vec<Term<'_>> = leis
                .iter()
                .map(|r| Term {
                    table,
                    row: r.to_string(),
                    column,
                    sign: Decimal::ONE,
                })
                .collect();
            check_sum(
                report,
                rule,
                Term {
                    table,
                    row: "合计".into(),
                    column,
                    sign: Decimal::ONE,
                },
                &terms,
                &format!("（{column} 列 合计 = Σ类）"),
                out,
            );
        }
        for parent in &code_rows {
            let children: Vec<&str> = code_rows
                .iter()
                .copied()
                .filter(|c| codes::parent(c) == Some(*parent))
                .collect();
            if children.is_empty() {
                continue;
            }
            let terms: Vec<Term<'_>> = children
                .iter()
                .map(|r| Term {
                    table,
                    row: r.to_string(),
                    column,
                    sign: Decimal::ONE,
                })
                .collect();
            check_sum(
                report,
                rule,
                Term {
                    table,
                    row: parent.to_string(),
                    column,
                    sign: Decimal::ONE,
                },
                &terms,
                &format!("（{column} 列 {parent} = Σ下级）"),
                out,
            );
        }
    }
}
