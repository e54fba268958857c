//! Identities on canonical tables (CT-*), for every family read by the generic reader: written once
//! against what a table means (its catalog id, its code rows, its header columns), not against a
//! family's printed numbers. The code hierarchy (CT-01) and the 合计 row (CT-02) run on every
//! family's coded tables, the seed templates' included (whose tables name their canonical
//! table): one identity written once. The seed families keep their own cross-table and
//! column identities (`identities.toml`); CT-03 and CT-04 run only where no seed template
//! applies.
//!
//! Money is compared in the table's printed unit with the tolerance its printed precision implies:
//! half a unit of the last printed digit per rounded term (0.005 万元 for 0.01 万元 figures, 0.5 元
//! for whole-元 tables), and exact for tables printed to 0.01 元.

use rust_decimal::Decimal;

use super::{FactIndex, Finding, Location, Severity, fmt, location_at};
use crate::amount::MeasureUnit;
use crate::catalog;
use crate::model::{Fact, Table};
use crate::template;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "CT-01",
        Severity::Error,
        "IT",
        "科目层级：上级科目等于下级科目之和",
        "按功能/经济分类编码的表中，每个类（款）的每一列金额等于其下各款（项）之和；容差为每个取整项半个末位单位。",
    ),
    (
        "CT-02",
        Severity::Error,
        "IT",
        "合计行等于各类之和",
        "按科目编码的表中，合计行的每一列等于各类（3位编码）之和。",
    ),
    (
        "CT-03",
        Severity::Error,
        "IT",
        "收支总表收支平衡",
        "收支总表、财政拨款收支总表的收入总计等于支出总计。",
    ),
    (
        "CT-04",
        Severity::Error,
        "IT",
        "每行合计等于各组成列之和",
        "目录（catalog.toml row_sums）为表声明的列间恒等式，如支出表每行 合计 = 基本支出 + 项目支出 + …；仅当合计列与至少两个组成列读出、且表中没有未声明的金额列时核对。",
    ),
];

/// Runs the CT rules: all of them on a report of a family read by the generic reader, the code
/// hierarchy and the 合计 row on a seed template's tables.
pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let templated = template::family(&r.family).is_some();
    for t in &r.tables {
        let base = t.id.split('@').next().unwrap_or(&t.id);
        let meaning = if templated {
            catalog::canonical_of(&r.family, &t.id)
        } else {
            catalog::catalog_table(base)
        };
        let Some(meaning) = meaning else {
            continue;
        };
        let facts: Vec<&Fact> = r.facts.iter().filter(|f| f.table == t.id).collect();
        let half = half_unit(t, &facts);
        let name = match &t.printed_number {
            Some(n) => format!("{}（{n}）", meaning.name),
            None if templated => format!("{}（{}）", meaning.name, t.id),
            None => meaning.name.clone(),
        };
        let cx = Cx {
            r,
            t,
            facts: &facts,
            half,
            name: &name,
        };
        hierarchy(&cx, out);
        total_row(&cx, out);
        if templated {
            continue;
        }
        if meaning.two_sided {
            balance(&cx, out);
        }
        for identity in &meaning.row_sums {
            row_sum(&cx, identity, out);
        }
    }
}

struct Cx<'a, 'r> {
    r: &'a FactIndex<'r>,
    t: &'a Table,
    facts: &'a [&'a Fact],
    half: Decimal,
    name: &'a str,
}

/// Half a unit of the last printed digit of the table's amounts; zero for 0.01 元.
fn half_unit(t: &Table, facts: &[&Fact]) -> Decimal {
    let scale = facts.iter().map(|f| f.value.scale()).max().unwrap_or(2);
    if t.unit == MeasureUnit::Yuan && scale >= 2 {
        return Decimal::ZERO;
    }
    Decimal::new(5, scale + 1)
}

fn is_code(row: &str) -> bool {
    matches!(row.len(), 3 | 5 | 7) && row.bytes().all(|b| b.is_ascii_digit())
}

impl Cx<'_, '_> {
    fn value(&self, row: &str, column: &str) -> Option<&Fact> {
        self.facts
            .iter()
            .find(|f| f.row == row && f.column == column)
            .copied()
    }

    fn columns(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = Vec::new();
        for f in self.facts {
            if !cols.contains(&f.column.as_str()) {
                cols.push(&f.column);
            }
        }
        cols
    }

    /// total = Σ parts in `column`; not applicable when a term is unreadable or nothing is printed.
    fn sum(
        &self,
        rule: &str,
        what: &str,
        total: &str,
        parts: &[&str],
        column: &str,
        out: &mut Vec<Finding>,
    ) {
        // A total row printed without this column's amount while its parts have one is a gap
        // only when the total row itself was printed (a blank cell): blank is zero there.
        let printed = self.t.rows.iter().any(|x| x.key == total);
        let parts: Vec<(&str, &str)> = parts.iter().map(|p| (*p, column)).collect();
        self.cells_sum(rule, what, (total, column), &parts, printed, out);
    }

    /// total = Σ parts over cells (row, column) of this table: an info «无法核对» when a term is
    /// unreadable, nothing when no term is printed or when the total is blank and
    /// `blank_total_is_zero` is not set, an error beyond the rounding bound.
    fn cells_sum(
        &self,
        rule: &str,
        what: &str,
        total: (&str, &str),
        parts: &[(&str, &str)],
        blank_total_is_zero: bool,
        out: &mut Vec<Finding>,
    ) {
        let t = &self.t.id;
        if let Some((row, column)) = std::iter::once(&total)
            .chain(parts.iter())
            .find(|(row, column)| self.r.is_unreadable(t, row, column))
        {
            out.push(Finding::new(
                rule,
                Severity::Info,
                format!(
                    "{}：无法核对，{} {row} {column} 的金额无法识别（未按 0 计算）",
                    self.name, t
                ),
                vec![location_at(t, row, column, None)],
                None,
                None,
                None,
            ));
            return;
        }
        let total_fact = self.value(total.0, total.1);
        let found: Vec<&Fact> = parts
            .iter()
            .filter_map(|(row, column)| self.value(row, column))
            .collect();
        if total_fact.is_none() && (found.is_empty() || !blank_total_is_zero) {
            return;
        }
        let sum: Decimal = found.iter().map(|f| f.value).sum();
        let actual = total_fact.map_or(Decimal::ZERO, |f| f.value);
        let gap = actual - sum;
        if gap.is_zero() {
            return;
        }
        let bound = self.half * Decimal::from(found.len() as u64 + 1);
        let unit = self.t.unit.label();
        let (severity, verdict) = if gap.abs() <= bound {
            (Severity::Info, "尾差（四舍五入所致，在容差内）")
        } else {
            (Severity::Error, "不相等")
        };
        let mut locations: Vec<Location> = vec![location_at(t, total.0, total.1, total_fact)];
        locations.extend(
            found
                .iter()
                .map(|f| location_at(t, &f.row, &f.column, Some(f))),
        );
        out.push(Finding::new(
            rule,
            severity,
            format!(
                "{}：{} {} 为 {} {unit}，{what}为 {} {unit}，差额 {} {unit}，{verdict}",
                self.name,
                total.0,
                total.1,
                fmt(actual),
                fmt(sum),
                fmt(gap)
            ),
            locations,
            Some(sum),
            Some(actual),
            Some(bound),
        ));
    }
}

/// CT-01: each 类/款 code row equals the sum of its direct children, column by column.
fn hierarchy(cx: &Cx<'_, '_>, out: &mut Vec<Finding>) {
    let codes: Vec<&str> =
        cx.t.rows
            .iter()
            .map(|x| x.key.as_str())
            .filter(|k| is_code(k))
            .collect();
    let columns = cx.columns();
    for parent in codes.iter().filter(|c| c.len() < 7) {
        let children: Vec<&str> = codes
            .iter()
            .filter(|c| c.len() == parent.len() + 2 && c.starts_with(*parent))
            .copied()
            .collect();
        if children.is_empty() {
            continue;
        }
        for col in &columns {
            cx.sum("CT-01", "下级科目之和", parent, &children, col, out);
        }
    }
}

/// CT-02: the 合计 row equals the sum of the 类 rows.
fn total_row(cx: &Cx<'_, '_>, out: &mut Vec<Finding>) {
    let Some(total) =
        cx.t.rows
            .iter()
            .map(|x| x.key.as_str())
            .find(|k| matches!(*k, "合计" | "总计"))
    else {
        return;
    };
    let classes: Vec<&str> =
        cx.t.rows
            .iter()
            .map(|x| x.key.as_str())
            .filter(|k| k.len() == 3 && is_code(k))
            .collect();
    if classes.is_empty() {
        return;
    }
    for col in cx.columns() {
        cx.sum("CT-02", "各类之和", total, &classes, col, out);
    }
}

/// CT-04: in every row, the declared total column = Σ the declared part columns, when the table
/// prints the total, at least two parts, and no amount column the identity does not describe.
fn row_sum(cx: &Cx<'_, '_>, identity: &catalog::RowSum, out: &mut Vec<Finding>) {
    let mut columns = cx.columns();
    for (_, c) in cx.t.unreadable.iter() {
        if !columns.contains(&c.as_str()) {
            columns.push(c);
        }
    }
    if !columns.contains(&identity.total.as_str()) {
        return;
    }
    let known = |c: &&str| {
        *c == identity.total
            || identity.parts.iter().any(|p| p == c)
            || identity.outside.iter().any(|p| p == c)
    };
    if !columns.iter().all(known) {
        return;
    }
    let parts: Vec<&str> = identity
        .parts
        .iter()
        .map(String::as_str)
        .filter(|p| columns.contains(p))
        .collect();
    if parts.len() < 2 {
        return;
    }
    let what = format!("{}之和", parts.join("+"));
    for row in &cx.t.rows {
        let key = row.key.as_str();
        let cells: Vec<(&str, &str)> = parts.iter().map(|p| (key, *p)).collect();
        // A row that prints its total but none of its parts (a heading row, or parts beyond the
        // page) has nothing to compare.
        if !cells.iter().any(|(r, c)| cx.value(r, c).is_some())
            && !cells
                .iter()
                .any(|(r, c)| cx.r.is_unreadable(&cx.t.id, r, c))
        {
            continue;
        }
        cx.cells_sum("CT-04", &what, (key, &identity.total), &cells, false, out);
    }
}

/// CT-03: 收入总计 = 支出总计 in a two-sided summary, in the first column both rows print (the
/// expenditure side may print more columns: 合计 | 人员经费 | …).
fn balance(cx: &Cx<'_, '_>, out: &mut Vec<Finding>) {
    let row = |keys: &[&'static str]| -> Option<&'static str> {
        keys.iter()
            .copied()
            .find(|k| cx.facts.iter().any(|f| f.row == *k))
    };
    let (Some(inc_row), Some(exp_row)) = (
        row(&["收入总计", "收入合计", "收入总计数"]),
        row(&["支出总计", "支出合计", "支出总计数"]),
    ) else {
        return;
    };
    let Some((inc, exp)) = cx
        .facts
        .iter()
        .filter(|f| f.row == inc_row)
        .find_map(|i| cx.value(exp_row, &i.column).map(|e| (*i, e)))
    else {
        return;
    };
    if inc.value == exp.value {
        return;
    }
    let unit = cx.t.unit.label();
    out.push(Finding::new(
        "CT-03",
        Severity::Error,
        format!(
            "{}：{} 为 {} {unit}，{} 为 {} {unit}，收支不平衡（差额 {} {unit}）",
            cx.name,
            inc.row,
            fmt(inc.value),
            exp.row,
            fmt(exp.value),
            fmt(inc.value - exp.value)
        ),
        vec![
            location_at(&cx.t.id, &inc.row, &inc.column, Some(inc)),
            location_at(&cx.t.id, &exp.row, &exp.column, Some(exp)),
        ],
        Some(exp.value),
        Some(inc.value),
        Some(Decimal::ZERO),
    ));
}
