//! Evaluates the declarative identities of `identities.toml`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::index::FxMap;
use super::{FactIndex, Finding, Severity, fmt, location_at, rounding_bound};
use crate::amount::MeasureUnit;
use crate::codes::{self, Level};
use crate::model::Fact;

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
#[derive(Clone, Copy)]
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

/// A rule with its cell references parsed once (the rule file is static).
struct Compiled {
    rule: &'static IdentityRule,
    total: Option<CellRef<'static>>,
    parts: Vec<CellRef<'static>>,
    /// `parts_classes` as (table, column).
    classes: Option<(&'static str, &'static str)>,
    left: Option<CellRef<'static>>,
    right: Option<CellRef<'static>>,
    /// Row-sum part columns with their signs.
    columns: Vec<(&'static str, Decimal)>,
}

static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    rules()
        .iter()
        .map(|rule| Compiled {
            rule,
            total: rule.total.as_deref().and_then(parse_ref),
            parts: rule.parts.iter().filter_map(|p| parse_ref(p)).collect(),
            classes: rule.parts_classes.as_deref().map(|spec| {
                let mut it = spec.split('|');
                (it.next().unwrap_or(""), it.next().unwrap_or(""))
            }),
            left: rule.left.as_deref().and_then(parse_ref),
            right: rule.right.as_deref().and_then(parse_ref),
            columns: rule
                .parts
                .iter()
                .map(|p| match p.strip_prefix('-') {
                    Some(c) => (c, -Decimal::ONE),
                    None => (p.as_str(), Decimal::ONE),
                })
                .collect(),
        })
        .collect()
});

/// The unit of a table (万元 unless declared otherwise).
fn table_unit(ix: &FactIndex<'_>, table: &str) -> MeasureUnit {
    ix.table(table)
        .map(|t| t.unit)
        .unwrap_or(MeasureUnit::Wanyuan)
}

#[derive(Clone, Copy)]
struct Term<'a> {
    table: &'a str,
    row: &'a str,
    column: &'a str,
    /// +1 or −1.
    sign: Decimal,
}

/// The info that an identity could not be checked because a cell it needs is unreadable.
fn cannot_check(rule: &IdentityRule, table: &str, row: &str, column: &str) -> Finding {
    Finding {
        rule_id: rule.id.clone(),
        severity: Severity::Info,
        message: format!(
            "{}：无法核对，{table} {row} {column} 的金额无法识别（未按 0 计算）",
            rule.title
        ),
        locations: vec![location_at(table, row, column, None)],
        expected: None,
        actual: None,
        difference: None,
        tolerance: None,
    }
}

/// Checks `total = Σ terms` and records a finding when it does not hold. `context` is only
/// formatted when there is a finding.
/// `sign · v` for a term's sign (always ±1), without a decimal multiplication.
#[inline]
fn signed(sign: Decimal, v: Decimal) -> Decimal {
    if sign.is_sign_negative() { -v } else { v }
}

fn check_sum(
    ix: &FactIndex<'_>,
    rule: &IdentityRule,
    total: Term<'_>,
    terms: &[Term<'_>],
    context: impl FnOnce() -> String,
    out: &mut Vec<Finding>,
) {
    // Missing is not zero: a term printed but unreadable makes the identity not applicable.
    if let Some((t, row, col)) = std::iter::once(&total)
        .chain(terms.iter())
        .map(|t| (t.table, t.row, t.column))
        .find(|(t, row, col)| ix.is_unreadable(t, row, col))
    {
        out.push(cannot_check(rule, t, row, col));
        return;
    }
    // Terms are nearly always in the total's table: resolve that table once.
    let home = ix.entry(total.table);
    let lookup = |t: &Term<'_>| {
        if t.table == total.table {
            home.and_then(|e| e.get(t.row, t.column))
        } else {
            ix.fact(t.table, t.row, t.column)
        }
    };
    let total_fact = home.and_then(|e| e.get(total.row, total.column));
    // The printed (non-blank) terms with their facts, looked up once for the sum and the
    // locations.
    let found: Vec<(&Term<'_>, &Fact)> = terms
        .iter()
        .filter_map(|t| lookup(t).map(|f| (t, f)))
        .collect();
    let sum: Decimal = found.iter().map(|(t, f)| signed(t.sign, f.value)).sum();
    let n = found.len();
    let actual = total_fact.map(|f| f.value).unwrap_or(Decimal::ZERO);
    if total_fact.is_none() && n == 0 {
        return;
    }
    let gap = (actual - sum).abs();
    if gap.is_zero() {
        return;
    }
    let money = table_unit(ix, total.table) == MeasureUnit::Wanyuan;
    let counts = total_fact.is_some_and(|f| f.unit == MeasureUnit::Count);
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
    let mut locs = Vec::with_capacity(n + 1);
    locs.push(location_at(
        total.table,
        total.row,
        total.column,
        total_fact,
    ));
    for (t, f) in &found {
        locs.push(location_at(t.table, t.row, t.column, Some(f)));
    }
    out.push(Finding {
        rule_id: rule.id.clone(),
        severity,
        message: format!(
            "{}{}：{} {} 为 {}，各项之和为 {}，差额 {}，{}",
            rule.title,
            context(),
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
    ix: &FactIndex<'_>,
    rule: &IdentityRule,
    l: &CellRef<'_>,
    r: &CellRef<'_>,
    le: bool,
    out: &mut Vec<Finding>,
) {
    if ix.table(l.table).is_none() || ix.table(r.table).is_none() {
        return;
    }
    for c in [l, r] {
        if ix.is_unreadable(c.table, c.row, c.column) {
            out.push(cannot_check(rule, c.table, c.row, c.column));
            return;
        }
    }
    let lf = ix.fact(l.table, l.row, l.column);
    let rf = ix.fact(r.table, r.row, r.column);
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
            location_at(l.table, l.row, l.column, lf),
            location_at(r.table, r.row, r.column, rf),
        ],
        expected: Some(rv),
        actual: Some(lv),
        difference: Some(lv - rv),
        tolerance: Some(Decimal::ZERO),
    });
}

/// Runs every declarative identity.
pub(crate) fn check_all(ix: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let mut terms: Vec<Term<'_>> = Vec::new();
    for c in COMPILED.iter() {
        check_rule(ix, c, &mut terms, out);
    }
}

fn check_rule<'a>(
    ix: &FactIndex<'a>,
    c: &'a Compiled,
    terms: &mut Vec<Term<'a>>,
    out: &mut Vec<Finding>,
) {
    let rule = c.rule;
    terms.clear();
    match rule.kind {
        Kind::Sum => {
            let Some(total) = c.total else {
                return;
            };
            if ix.table(total.table).is_none() {
                return;
            }
            match c.classes {
                Some((table, column)) => terms.extend(
                    ix.row_keys(table)
                        .iter()
                        .filter(|r| codes::functional_level(r) == Some(Level::Lei))
                        .map(|r| Term {
                            table,
                            row: r,
                            column,
                            sign: Decimal::ONE,
                        }),
                ),
                None => terms.extend(c.parts.iter().filter(|p| ix.table(p.table).is_some()).map(
                    |p| Term {
                        table: p.table,
                        row: p.row,
                        column: p.column,
                        sign: if p.negative {
                            -Decimal::ONE
                        } else {
                            Decimal::ONE
                        },
                    },
                )),
            }
            let total = Term {
                table: total.table,
                row: total.row,
                column: total.column,
                sign: Decimal::ONE,
            };
            check_sum(ix, rule, total, terms, String::new, out);
        }
        Kind::RowSum => {
            let (Some(table), Some(total_col)) = (rule.table.as_deref(), rule.total.as_deref())
            else {
                return;
            };
            let total_col_present = ix.has_column(table, total_col);
            let Some(entry) = ix.entry(table) else {
                return;
            };
            let tc = entry.column_index(total_col);
            let pcs: Vec<(Option<usize>, Decimal)> = c
                .columns
                .iter()
                .map(|&(col, sign)| (entry.column_index(col), sign))
                .collect();
            for (ri, &row) in ix.row_keys(table).iter().enumerate() {
                // Fast path: an identity that holds exactly yields no finding.
                let value = |ci: Option<usize>| ci.and_then(|ci| entry.at(ri, ci)).map(|f| f.value);
                let sum: Decimal = pcs
                    .iter()
                    .filter_map(|&(ci, sign)| value(ci).map(|v| signed(sign, v)))
                    .sum();
                if value(tc).unwrap_or_default() == sum {
                    continue;
                }
                let has_total = ix.fact(table, row, total_col).is_some();
                // A row that carries only part columns but no total column at all is another kind of row.
                if !has_total && !total_col_present {
                    continue;
                }
                if !has_total
                    && !c
                        .columns
                        .iter()
                        .any(|(col, _)| ix.fact(table, row, col).is_some())
                {
                    continue;
                }
                terms.clear();
                terms.extend(c.columns.iter().map(|&(column, sign)| Term {
                    table,
                    row,
                    column,
                    sign,
                }));
                let total = Term {
                    table,
                    row,
                    column: total_col,
                    sign: Decimal::ONE,
                };
                check_sum(ix, rule, total, terms, || format!("（{row} 行）"), out);
            }
        }
        Kind::Hierarchy => {
            let Some(table) = rule.table.as_deref() else {
                return;
            };
            check_hierarchy(ix, rule, table, terms, out);
        }
        Kind::Equal | Kind::Le => {
            let (Some(l), Some(r)) = (c.left, c.right) else {
                return;
            };
            check_pair(ix, rule, &l, &r, rule.kind == Kind::Le, out);
        }
        Kind::RowsEqual | Kind::RowsLe => {
            let (Some(t), Some(col), Some(ot), Some(oc)) = (
                rule.table.as_deref(),
                rule.column.as_deref(),
                rule.other_table.as_deref(),
                rule.other_column.as_deref(),
            ) else {
                return;
            };
            // check_pair finds nothing unless both tables are printed.
            if ix.table(ot).is_none() || ix.table(t).is_none() {
                return;
            }
            let (left, right) = (ix.entry(t), ix.entry(ot));
            let le = rule.kind == Kind::RowsLe;
            for &row in ix.row_keys(t) {
                let level = codes::functional_level(row);
                let applies = if rule.kind == Kind::RowsEqual {
                    level == Some(Level::Lei)
                } else {
                    level.is_some() || row == "合计"
                };
                // 公开04's class rows compare with 公开01's class rows; other rows only with the same key.
                if !applies || (ot == "公开01" || ot == "表1") && level != Some(Level::Lei) {
                    continue;
                }
                // Fast path: the pair holds (or both cells are blank), so check_pair would find
                // nothing.
                let lf = left.and_then(|e| e.get(row, col));
                let rf = right.and_then(|e| e.get(row, oc));
                let (lv, rv) = (
                    lf.map(|f| f.value).unwrap_or_default(),
                    rf.map(|f| f.value).unwrap_or_default(),
                );
                if lf.is_none() && rf.is_none() || if le { lv <= rv } else { lv == rv } {
                    continue;
                }
                let l = CellRef {
                    table: t,
                    row,
                    column: col,
                    negative: false,
                };
                let r = CellRef {
                    table: ot,
                    row,
                    column: oc,
                    negative: false,
                };
                check_pair(ix, rule, &l, &r, le, out);
            }
        }
    }
}

/// A row key with its position in the table entry.
type Keyed<'a> = (&'a str, usize);

fn check_hierarchy<'a>(
    ix: &FactIndex<'a>,
    rule: &IdentityRule,
    table: &'a str,
    terms: &mut Vec<Term<'a>>,
    out: &mut Vec<Finding>,
) {
    let Some(entry) = ix.entry(table) else {
        return;
    };
    let rows = ix.row_keys(table);
    let mut columns: Vec<(&'a str, usize)> = ix
        .column_keys(table)
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i))
        .collect();
    columns.sort_unstable();
    let is_code =
        |r: &str| codes::functional_level(r).is_some() || codes::economic_level(r).is_some();
    // Row keys with their positions in the table entry.
    let code_rows: Vec<(&'a str, usize)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| is_code(r))
        .map(|(i, r)| (*r, i))
        .collect();
    let leis: Vec<(&'a str, usize)> = code_rows
        .iter()
        .copied()
        .filter(|(r, _)| r.len() == 3)
        .collect();
    let total_row = entry.row_index("合计");
    // (parent, children) in the order the parents appear, children in row order; computed once
    // for every column. Row keys are unique, so each child is filed under its parent's position
    // among the code rows.
    let position: FxMap<&'a str, usize> = code_rows
        .iter()
        .enumerate()
        .map(|(k, &(row, _))| (row, k))
        .collect();
    // (parent's position among the code rows, child), sorted by parent with children kept in
    // row order (stable sort): each family is one run.
    let mut links: Vec<(usize, Keyed<'a>)> = code_rows
        .iter()
        .filter_map(|&child| {
            let k = *codes::parent(child.0).and_then(|p| position.get(p))?;
            Some((k, child))
        })
        .collect();
    links.sort_by_key(|&(k, _)| k);
    let children: Vec<Keyed<'a>> = links.iter().map(|&(_, child)| child).collect();
    let families: Vec<(Keyed<'a>, &[Keyed<'a>])> = links
        .chunk_by(|a, b| a.0 == b.0)
        .scan(0, |start, run| {
            let family = (code_rows[run[0].0], &children[*start..*start + run.len()]);
            *start += run.len();
            Some(family)
        })
        .collect();
    // Fast path: total and parts read by position; an identity that holds yields no finding.
    let holds = |total: usize, parts: &[(&str, usize)], ci: usize| {
        let sum: Decimal = parts
            .iter()
            .filter_map(|&(_, ri)| entry.at(ri, ci))
            .map(|f| f.value)
            .sum();
        entry.at(total, ci).map_or(Decimal::ZERO, |f| f.value) == sum
    };
    for (column, ci) in columns {
        // 合计 = Σ 类 (only when the table prints a 合计 row and its 类 rows).
        if let Some(tr) = total_row
            && !leis.is_empty()
            && !holds(tr, &leis, ci)
        {
            terms.clear();
            terms.extend(leis.iter().map(|&(row, _)| Term {
                table,
                row,
                column,
                sign: Decimal::ONE,
            }));
            check_sum(
                ix,
                rule,
                Term {
                    table,
                    row: "合计",
                    column,
                    sign: Decimal::ONE,
                },
                terms,
                || format!("（{column} 列 合计 = Σ类）"),
                out,
            );
        }
        for &((parent, pi), children) in &families {
            if holds(pi, children, ci) {
                continue;
            }
            terms.clear();
            terms.extend(children.iter().map(|&(row, _)| Term {
                table,
                row,
                column,
                sign: Decimal::ONE,
            }));
            check_sum(
                ix,
                rule,
                Term {
                    table,
                    row: parent,
                    column,
                    sign: Decimal::ONE,
                },
                terms,
                || format!("（{column} 列 {parent} = Σ下级）"),
                out,
            );
        }
    }
}
