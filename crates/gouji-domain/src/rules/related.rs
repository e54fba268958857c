//! Cross-report rules (XR-*): a report checked against the other published reports it makes
//! claims about — last year's report of the same kind, this year's 预算 for a 决算, the
//! department's 部门 report and its 单位 reports.
//!
//! The caller supplies the related reports it has ([`Related`], each with its [`ReportRef`]:
//! unit, year, kind, scope, revision); [`validate_related`] classifies each by its reference
//! ([`Relation::of`]) and runs only the rules whose related report is present. A missing related
//! report, or a cell the related report does not print or could not read, makes a rule not
//! applicable — never 0.
//!
//! - XR-01: 决算 Y 年初结转和结余 (each fund column) = 决算 Y−1 年末结转和结余.
//! - XR-02 / XR-03: the narrative «比上年增加/减少 X 万元，增长/下降 y%» (and «与上年预算数相等»,
//!   «本年数小于上年预算数 X 万元») of a 决算 / 预算 against the prior-year report of the same kind:
//!   the prior figure the text implies (this year ∓ X) must be the prior report's figure, and y
//!   must follow from it. What a claim measures is found by value: the cells of this report's
//!   canonical tables that print the amount the claim starts from; the prior figure is the same
//!   (canonical table, row, column) of the prior report. No text is rescanned: the claims are the
//!   parsed narrative [`crate::model::Figure`]s, with their source lines for context.
//! - XR-04: a 决算's «年初预算 X 万元» (per 类/项) and its 三公 预算数 against 预算 Y.
//! - XR-05: a 部门 report against its 单位 reports (预算 and 决算): Σ units ≤ the department
//!   line, and = when every unit is present (the consolidation engine, [`crate::consolidate`]).
//! - XR-06: the same unit across years keeps its name and unit type (a warning otherwise).
//!
//! Tolerance: the model of [`super`] — amounts converted exactly to 万元, half a unit of the last
//! printed digit of each figure involved; rates within what the rounding of their amounts allows.
//! Every finding names the other report (a [`Location`] with `report` set) and quotes both lines.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Finding, Location, Severity, fmt, half_unit_of};
use crate::amount::{MeasureUnit, convert};
use crate::catalog::canonical_of;
use crate::model::{Direction, Fact, Figure, FigureKind, Report, ReportKind, Scope};
use crate::parse::text::fold;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "XR-01",
        Severity::Error,
        "XR",
        "年初结转和结余等于上年年末结转和结余",
        "决算 Y 的年初结转和结余（收支总表、财政拨款收支总表各资金列、政府性基金表各行）等于同一单位决算 Y−1 的年末结转和结余（换算为万元，容差为两侧各半个末位单位）。无上年决算或单元格未读出时不适用。",
    ),
    (
        "XR-02",
        Severity::Error,
        "XR",
        "决算“比上年”增减与上年决算一致",
        "决算情况说明“比上年增加/减少 X 万元，增长/下降 y%”“与上年相同”所隐含的上年数（本年数 ∓ X）等于同一单位上年决算的对应数（按本年数所在表格单元格对应上年同一表、行、列）；y 由上年决算数算得。无上年决算或上年无对应单元格时不适用。",
    ),
    (
        "XR-03",
        Severity::Error,
        "XR",
        "预算“比上年”增减与上年预算一致",
        "预算情况说明“比上年（预算）增加/减少 X 万元，增长/下降 y%”“与上年预算数相等”“本年数小于上年预算数 X 万元”所隐含的上年数等于同一单位上年预算的对应数；y 由上年预算数算得。无上年预算或上年无对应单元格时不适用。",
    ),
    (
        "XR-04",
        Severity::Error,
        "XR",
        "决算年初预算数与本年预算一致",
        "决算情况说明“××年初预算 X 万元”（按类/项名称）及“三公”经费表预算数，等于同一单位同年预算的对应数；“完成年初预算的 y%”随之按预算数计算。无同年预算或预算中无对应科目时不适用。",
    ),
    (
        "XR-05",
        Severity::Error,
        "XR",
        "部门报告与所属单位报告一致",
        "部门预算/决算每个单元格不小于所属单位报告之和（单位合计大于部门为错误）；所属单位全部提供时相等（按汇总规则冲抵内部往来，容差按四舍五入）。无单位报告时不适用。",
    ),
    (
        "XR-06",
        Severity::Warning,
        "XR",
        "同一单位跨年度名称、性质一致",
        "同一单位代码的上年报告与本年报告单位名称、单位性质一致；更名或性质变化须核实。",
    ),
];

/// Which published report a figure or finding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportRef {
    /// Unit code (单位代码) as registered; may be empty for a local file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// 单位/部门名称 as printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub year: i32,
    pub kind: ReportKind,
    pub scope: Scope,
    /// Stored revision (1, 2, …); 0 when not stored (a local file).
    #[serde(default)]
    pub revision: u32,
}

impl ReportRef {
    /// The reference of a parsed report (no unit code, no revision).
    pub fn of(report: &Report) -> ReportRef {
        ReportRef {
            unit: String::new(),
            name: report.subject.clone(),
            year: report.year,
            kind: report.kind,
            scope: report.scope,
            revision: 0,
        }
    }

    /// «江苏省人民检察院 2017年 预算（部门）第2版» for messages.
    pub fn describe(&self) -> String {
        let who = if self.name.is_empty() {
            self.unit.as_str()
        } else {
            self.name.as_str()
        };
        let scope = match self.scope {
            Scope::Department => "部门",
            Scope::Unit => "单位",
        };
        let rev = if self.revision > 0 {
            format!(" 第{}版", self.revision)
        } else {
            String::new()
        };
        format!("{who} {}年{}（{scope}）{rev}", self.year, self.kind.label())
    }
}

/// A related report with its reference.
#[derive(Debug, Clone)]
pub struct Related {
    pub reference: ReportRef,
    pub report: Report,
}

/// How a related report relates to the report under check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// The same unit's report of the same kind for year − 1.
    PriorYear,
    /// For a 决算: the same unit's 预算 of the same year.
    SameYearBudget,
    /// For a 部门 report: one of its 单位 reports (same year and kind).
    UnitOf,
    /// For a 单位 report: its department's 部门 report (same year and kind).
    DepartmentOf,
}

impl Relation {
    /// The relation of `other` to `this`, from the references alone (the caller supplies only
    /// reports of the same unit, or of the department and its units).
    pub fn of(this: &ReportRef, other: &ReportRef) -> Option<Relation> {
        let same_unit = this.scope == other.scope
            && (this.unit == other.unit && !this.unit.is_empty()
                || this.unit.is_empty() && other.unit.is_empty());
        if same_unit && other.kind == this.kind && other.year == this.year - 1 {
            return Some(Relation::PriorYear);
        }
        if same_unit
            && this.kind == ReportKind::FinalAccounts
            && other.kind == ReportKind::Budget
            && other.year == this.year
        {
            return Some(Relation::SameYearBudget);
        }
        if other.kind == this.kind && other.year == this.year && other.scope != this.scope {
            return Some(match this.scope {
                Scope::Department => Relation::UnitOf,
                Scope::Unit => Relation::DepartmentOf,
            });
        }
        None
    }

    pub fn label(self) -> &'static str {
        match self {
            Relation::PriorYear => "上年同类报告",
            Relation::SameYearBudget => "同年预算",
            Relation::UnitOf => "所属单位报告",
            Relation::DepartmentOf => "所属部门报告",
        }
    }
}

/// One related report the cross-report rules used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedReport {
    pub reference: ReportRef,
    pub relation: Relation,
}

/// One narrative claim about a related report and what checking it gave (for reviewers and the
/// golden files: every «比上年» claim is listed, not only the wrong ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    pub rule_id: String,
    /// Source line of the claim in the report under check.
    pub line: u32,
    /// The claim as read: «本年 21,955.35 增加 3,958.67 → 上年 17,996.68».
    pub claim: String,
    /// «一致 (table row column 17,996.68)», «不一致 …», «不适用：…».
    pub outcome: String,
}

/// The result of [`validate_related`].
#[derive(Debug, Clone, Default)]
pub struct RelatedValidation {
    pub findings: Vec<Finding>,
    /// Every claim the narrative rules (XR-02, XR-03) read, with its outcome.
    pub checks: Vec<Checked>,
    /// The related reports that had a relation to this report (whether or not a rule found
    /// anything), in the order given.
    pub used: Vec<UsedReport>,
}

/// Runs the cross-report rules over `report` (whose reference is `this`) and the related
/// reports. Reports without a relation to `this` are ignored (and not listed as used).
pub fn validate_related(
    report: &Report,
    this: &ReportRef,
    related: &[Related],
) -> RelatedValidation {
    let mut out = RelatedValidation::default();
    let mut units: Vec<&Related> = Vec::new();
    let mut department: Option<&Related> = None;
    for r in related {
        let Some(rel) = Relation::of(this, &r.reference) else {
            continue;
        };
        if crate::work::cancelled().is_some() {
            break;
        }
        out.used.push(UsedReport {
            reference: r.reference.clone(),
            relation: rel,
        });
        let cx = Pair {
            this: report,
            other: &r.report,
            other_ref: &r.reference,
        };
        match rel {
            Relation::PriorYear => {
                if report.kind == ReportKind::FinalAccounts {
                    carry_forward(&cx, &mut out.findings);
                }
                changes(&cx, &mut out.findings, &mut out.checks);
                identity(&cx, &mut out.findings);
            }
            Relation::SameYearBudget => budget_figures(&cx, &mut out.findings),
            Relation::UnitOf => units.push(r),
            Relation::DepartmentOf => department = Some(r),
        }
    }
    if !units.is_empty() {
        let declared = crate::consolidate::declared_units(report).and_then(|d| d.count);
        let all = declared.is_some_and(|n| n as usize == units.len());
        department_vs_units((report, this), &units, all, &mut out.findings);
    }
    if let Some(d) = department {
        let me = Related {
            reference: this.clone(),
            report: report.clone(),
        };
        department_vs_units((&d.report, &d.reference), &[&me], false, &mut out.findings);
    }
    out.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    out
}

/// The report under check and one related report.
struct Pair<'a> {
    this: &'a Report,
    other: &'a Report,
    other_ref: &'a ReportRef,
}

/// A location quoting a fact of a report, naming the report when it is a related one.
fn fact_location(
    table: &str,
    f: Option<&Fact>,
    (row, column): (&str, &str),
    report: Option<&ReportRef>,
) -> Location {
    let mut l = super::location_at(table, row, column, f);
    l.report = report.cloned();
    l
}

/// [`fact_location`] in `r`; a blank cell quotes its row's line.
fn cell_location(
    r: &Report,
    table: &str,
    (row, column): (&str, &str),
    report: Option<&ReportRef>,
) -> Location {
    let f = r.fact(table, row, column);
    let mut l = fact_location(table, f, (row, column), report);
    if f.is_none()
        && let Some(x) = r
            .table(table)
            .and_then(|t| t.rows.iter().find(|x| x.key == row))
    {
        l.line = x.line;
        l.text = line_text(r, x.line).unwrap_or(&x.label).to_string();
    }
    l
}

/// A fact converted to 万元, with half a unit of its last printed digit (in 万元).
fn wan(f: &Fact) -> Option<(Decimal, Decimal)> {
    if !matches!(
        f.unit,
        MeasureUnit::Yuan | MeasureUnit::Wanyuan | MeasureUnit::Yiyuan
    ) {
        return None;
    }
    Some((
        convert(f.value, f.unit, MeasureUnit::Wanyuan)?,
        convert(
            Decimal::new(5, f.value.scale() + 1),
            f.unit,
            MeasureUnit::Wanyuan,
        )?,
    ))
}

/// The table of `report` whose canonical meaning is `canonical`.
fn table_by_meaning<'a>(report: &'a Report, canonical: &str) -> Option<&'a crate::model::Table> {
    report
        .tables
        .iter()
        .find(|t| canonical_of(&report.family, &t.id).is_some_and(|c| c.id == canonical))
}

fn unreadable(report: &Report, table: &str, row: &str, column: &str) -> bool {
    report
        .table(table)
        .is_some_and(|t| t.unreadable.iter().any(|(r, c)| r == row && c == column))
}

/// XR-01: (canonical table, row, column) of 年初 in Y and of 年末 in Y−1.
/// (row, column) of a cell.
type Cell = (&'static str, &'static str);

const CARRY: &[(&str, Cell, Cell)] = &[
    (
        "income_expense_summary",
        ("年初结转和结余", "决算数"),
        ("年末结转和结余", "决算数"),
    ),
    (
        "fiscal_summary",
        ("年初财政拨款结转和结余", "决算数"),
        ("年末财政拨款结转和结余", "合计"),
    ),
    (
        "fiscal_summary",
        ("年初结转.一般公共预算财政拨款", "决算数"),
        ("年末财政拨款结转和结余", "一般公共预算财政拨款"),
    ),
    (
        "fiscal_summary",
        ("年初结转.政府性基金预算财政拨款", "决算数"),
        ("年末财政拨款结转和结余", "政府性基金预算财政拨款"),
    ),
    (
        "fiscal_summary",
        ("年初结转.国有资本经营预算财政拨款", "决算数"),
        ("年末财政拨款结转和结余", "国有资本经营预算财政拨款"),
    ),
];

/// XR-01.
fn carry_forward(cx: &Pair<'_>, out: &mut Vec<Finding>) {
    if cx.other.kind != ReportKind::FinalAccounts {
        return;
    }
    let mut pairs: Vec<(String, String, String, String, String, String)> = CARRY
        .iter()
        .filter_map(|(meaning, (r0, c0), (r1, c1))| {
            let t0 = table_by_meaning(cx.this, meaning)?;
            let t1 = table_by_meaning(cx.other, meaning)?;
            Some((
                t0.id.clone(),
                r0.to_string(),
                c0.to_string(),
                t1.id.clone(),
                r1.to_string(),
                c1.to_string(),
            ))
        })
        .collect();
    // 政府性基金: every row's 年初 against the same row's 年末.
    if let (Some(t0), Some(t1)) = (
        table_by_meaning(cx.this, "gov_fund"),
        table_by_meaning(cx.other, "gov_fund"),
    ) {
        let rows: Vec<&str> = {
            let mut v: Vec<&str> = cx
                .this
                .facts_of(&t0.id)
                .chain(cx.other.facts_of(&t1.id))
                .filter(|f| f.column == "年初结转和结余" || f.column == "年末结转和结余")
                .map(|f| f.row.as_str())
                .collect();
            v.dedup();
            let mut seen = std::collections::HashSet::new();
            v.retain(|r| seen.insert(*r));
            v
        };
        for r in rows {
            pairs.push((
                t0.id.clone(),
                r.to_string(),
                "年初结转和结余".into(),
                t1.id.clone(),
                r.to_string(),
                "年末结转和结余".into(),
            ));
        }
    }
    for (t0, r0, c0, t1, r1, c1) in pairs {
        // The row must be a row of both tables (blank cells are 0; an unprinted row is not).
        let has_row = |rep: &Report, t: &str, r: &str| {
            rep.table(t)
                .is_some_and(|tb| tb.rows.iter().any(|x| x.key == r))
        };
        if !has_row(cx.this, &t0, &r0) || !has_row(cx.other, &t1, &r1) {
            continue;
        }
        if unreadable(cx.this, &t0, &r0, &c0) || unreadable(cx.other, &t1, &r1, &c1) {
            continue;
        }
        let now = cx.this.fact(&t0, &r0, &c0);
        let before = cx.other.fact(&t1, &r1, &c1);
        if now.is_none() && before.is_none() {
            continue;
        }
        let zero = (Decimal::ZERO, Decimal::ZERO);
        let (Some((a, ha)), Some((b, hb))) =
            (now.map_or(Some(zero), wan), before.map_or(Some(zero), wan))
        else {
            continue;
        };
        let gap = (a - b).abs();
        if gap.is_zero() {
            continue;
        }
        let tol = ha + hb;
        let severity = if gap <= tol {
            Severity::Info
        } else {
            Severity::Error
        };
        let mut here = cell_location(cx.this, &t0, (&r0, &c0), None);
        here.suspect = true;
        out.push(Finding::new(
            "XR-01",
            severity,
            format!(
                "{t0} {r0} {} 万元，不等于{} {t1} {r1} {c1} {} 万元（相差 {} 万元）",
                fmt(a),
                cx.other_ref.describe(),
                fmt(b),
                fmt(a - b)
            ),
            vec![
                here,
                cell_location(cx.other, &t1, (&r1, &c1), Some(cx.other_ref)),
            ],
            Some(b),
            Some(a),
            Some(tol),
        ));
    }
}

/// Canonical tables whose (row, column) keep their meaning from one year to the next.
const COMPARABLE: &[&str] = &[
    "sangong",
    "operating_expenses",
    "gpb_expense_by_function",
    "fiscal_expense_by_function",
    "expense_by_function",
    "income_expense_summary",
    "fiscal_summary",
    "income_by_function",
    "gpb_basic_by_econ",
    "fiscal_basic_by_econ",
    "gov_fund",
    "state_capital",
];

/// The source line `line` (1-based) of a report, when it kept its lines.
fn line_text(r: &Report, line: u32) -> Option<&str> {
    r.lines
        .get((line as usize).checked_sub(1)?)
        .map(String::as_str)
}

/// The text of the figure's line before the figure, and the end of the previous line (a clause
/// wraps in extracted text), with spaces removed.
fn before(r: &Report, f: &Figure) -> String {
    let t = &f.source.text;
    let at = t.find(
        f.printed
            .split(['万', '%', '％'])
            .next()
            .unwrap_or(&f.printed),
    );
    let head = at.map_or(t.as_str(), |p| &t[..p]);
    let prev = line_text(r, f.source.line.saturating_sub(1)).unwrap_or("");
    let prev: String = prev
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut s = if head.chars().count() < 24 && !prev.contains('\t') {
        prev
    } else {
        String::new()
    };
    s.push_str(head);
    s.retain(|c| !c.is_whitespace());
    s
}

/// The text after the figure on its line and the start of the next line, up to the first 。,
/// with spaces removed.
fn after(r: &Report, f: &Figure) -> String {
    let t = &f.source.text;
    let mut s = match t.find(&f.printed) {
        Some(p) => t[p + f.printed.len()..].to_string(),
        None => {
            // The printed form may have had its splits joined; find the number alone.
            let num = f.printed.trim_end_matches(|c: char| !c.is_ascii_digit());
            t.find(num)
                .map(|p| t[p + num.len()..].to_string())
                .unwrap_or_default()
        }
    };
    if !s.contains('。')
        && let Some(next) = line_text(r, f.source.line + 1)
        && !next.contains('\t')
    {
        s.push_str(next);
    }
    s.retain(|c| !c.is_whitespace());
    match s.find('。') {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

/// How a narrative clause compares a figure with last year's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Claim {
    Up,
    Down,
    Same,
}

/// A «比上年» change: the figure of the change and its direction, when `f` is one.
fn change_claim(r: &Report, f: &Figure, prior_year: i32) -> Option<Claim> {
    if f.kind != FigureKind::Amount || f.value.is_none() {
        return None;
    }
    let b = before(r, f);
    let label = fold(&f.label);
    let last_year = format!("{prior_year}年");
    let tail: String = b
        .chars()
        .rev()
        .take(16)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !(tail.contains("上年") || tail.contains(&last_year)) {
        return None;
    }
    // Not «上年结转», «上年执行数为 P 万元» (a prior figure itself, not a change).
    if tail.contains("结转") || tail.contains("执行数为") || tail.contains("决算数为") {
        return None;
    }
    match f.direction {
        Some(Direction::Up) => return Some(Claim::Up),
        Some(Direction::Down) => return Some(Claim::Down),
        _ => {}
    }
    let l = label.trim_end_matches(['了', '约', '为']);
    if l.ends_with("小于上年预算数")
        || l.ends_with("低于上年预算数")
        || l.ends_with("少于上年预算数")
    {
        return Some(Claim::Down);
    }
    if l.ends_with("大于上年预算数")
        || l.ends_with("高于上年预算数")
        || l.ends_with("多于上年预算数")
    {
        return Some(Claim::Up);
    }
    None
}

/// «X 万元，与上年预算数相等/一致», «本年数等于上年预算数»: the figure is last year's too.
fn same_claim(r: &Report, f: &Figure) -> bool {
    if f.kind != FigureKind::Amount || f.value.is_none() || f.direction.is_some() {
        return false;
    }
    let a = after(r, f);
    let a = a.trim_start_matches(['，', ',', '；']);
    let head: String = a.chars().take(16).collect();
    let names_last_year = head.starts_with("与上年")
        || head.starts_with("本年数等于上年")
        || head.starts_with("和上年");
    names_last_year
        && [
            "相等",
            "一致",
            "持平",
            "相同",
            "等于上年",
            "无变化",
            "未发生变化",
            "不变",
        ]
        .iter()
        .any(|w| head.contains(w))
        && !head.contains("增")
        && !head.contains("减")
}

/// The percentage that follows a change in the same clause, with its direction as worded.
fn rate_after<'a>(r: &Report, figs: &'a [Figure], i: usize) -> Option<(&'a Figure, Option<Claim>)> {
    let c = &figs[i];
    let p = figs.get(i + 1)?;
    if p.kind != FigureKind::Percent || p.source.line > c.source.line + 1 || p.value.is_none() {
        return None;
    }
    // Between the change and the rate: no sentence end.
    let a = after(r, c);
    let num = p.printed.trim_end_matches(['%', '％']).trim();
    let between = a.split(num).next().unwrap_or(&a);
    if between.contains('。') || between.contains('；') || between.chars().count() > 16 {
        return None;
    }
    let dir = if ["增长", "增加", "上升", "提高", "增幅"]
        .iter()
        .any(|w| between.contains(w))
    {
        Some(Claim::Up)
    } else if ["下降", "减少", "降低", "降幅", "减幅"]
        .iter()
        .any(|w| between.contains(w))
    {
        Some(Claim::Down)
    } else {
        None
    };
    Some((p, dir))
}

/// The amount a change is a change of: the nearest amount before it in its section, on its line
/// or the three before, that is not itself a change (a share «占…的 y%» may sit between them).
/// When the amount's unit wrapped to the change's line («… 33172.15 / 万元，与上年相比…»), the
/// parser has no figure for it: it is read from the end of the previous line.
fn subject_of(r: &Report, figs: &[Figure], i: usize, prior_year: i32) -> Option<Figure> {
    let c = &figs[i];
    if let Some(w) = wrapped_subject(r, c) {
        return Some(w);
    }
    let is_share = |h: &Figure| h.kind == FigureKind::Percent && fold(&h.label).contains('占');
    figs[..i]
        .iter()
        .rev()
        .take_while(|g| g.section == c.section && g.source.line + 3 >= c.source.line)
        .find(|g| {
            g.kind == FigureKind::Amount
                && g.value.is_some()
                && g.direction.is_none()
                && change_claim(r, g, prior_year).is_none()
        })
        .filter(|g| {
            // A percentage between them (other than a share) belongs to another clause.
            !figs[..i]
                .iter()
                .rev()
                .take_while(|h| !std::ptr::eq(*h, *g))
                .any(|h| h.kind != FigureKind::Amount && !is_share(h))
        })
        .filter(|g| !digits_between(r, g, c))
        .cloned()
}

/// «…预算总计 33172.15 / 万元，与上年相比…增加 X»: the amount at the end of the previous line
/// whose unit starts the change's line.
fn wrapped_subject(r: &Report, c: &Figure) -> Option<Figure> {
    let t = &c.source.text;
    let head: String = t[..t.find(number_of(c))?]
        .chars()
        .filter(|ch| !ch.is_whitespace())
        .collect();
    let rest = head
        .strip_prefix("万元")
        .or_else(|| head.strip_prefix('元'))?;
    if rest.contains('。') || rest.chars().any(|ch| ch.is_ascii_digit()) {
        return None;
    }
    let prev_line = c.source.line.checked_sub(1)?;
    let prev = line_text(r, prev_line)?;
    if prev.contains('\t') {
        return None;
    }
    let tail = prev.trim_end();
    let wan = head.starts_with('元') && tail.ends_with('万');
    let tail = tail.trim_end_matches('万').trim_end();
    let start = tail
        .char_indices()
        .rev()
        .take_while(|(_, ch)| ch.is_ascii_digit() || *ch == ',' || *ch == '.')
        .last()
        .map(|(i, _)| i)?;
    let num = &tail[start..];
    if tail[..start].ends_with(|ch: char| ch.is_ascii_alphanumeric()) || num.starts_with([',', '.'])
    {
        return None;
    }
    let value = crate::amount::parse_decimal(&num.replace(',', ""))?;
    let unit = if head.starts_with("万元") || wan {
        MeasureUnit::Wanyuan
    } else {
        MeasureUnit::Yuan
    };
    Some(Figure {
        section: c.section,
        kind: FigureKind::Amount,
        label: tail[..start]
            .trim()
            .chars()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
        value: Some(value),
        unit,
        printed: format!("{num}{}", unit.label()),
        direction: None,
        source: crate::model::Provenance {
            line: prev_line,
            text: prev.to_string(),
        },
    })
}

/// The number of a figure as printed («3,958.67» of «3,958.67 万元»).
fn number_of(f: &Figure) -> &str {
    let end = f
        .printed
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.' || c == '-'))
        .unwrap_or(f.printed.len());
    &f.printed[..end]
}

/// True when a number that is not a year («2018 年») is printed between figures `a` and `b`
/// (a figure whose unit wrapped to the next line, «371.92 万 / 元», or an item number «2．»): `a`
/// is then not what `b` speaks of.
fn digits_between(r: &Report, a: &Figure, b: &Figure) -> bool {
    let (na, nb) = (number_of(a), number_of(b));
    let ta = &a.source.text;
    let tb = &b.source.text;
    let mut between = String::new();
    if a.source.line == b.source.line {
        // `b` at its first occurrence, `a` at its last one before it.
        let Some(pb) = ta.find(nb) else { return false };
        let Some(pa) = ta[..pb].rfind(na).map(|p| p + na.len()) else {
            return false;
        };
        between.push_str(&ta[pa..pb]);
    } else {
        let Some(pa) = ta.rfind(na).map(|p| p + na.len()) else {
            return false;
        };
        between.push_str(&ta[pa..]);
        for l in a.source.line + 1..b.source.line {
            match line_text(r, l) {
                Some(t) => between.push_str(t),
                None => return false,
            }
        }
        let Some(pb) = tb.find(nb) else { return false };
        between.push_str(&tb[..pb]);
    }
    let chars: Vec<char> = between.chars().filter(|c| !c.is_whitespace()).collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || chars[j] == '.' || chars[j] == ',')
            {
                j += 1;
            }
            let year_or_month = matches!(chars.get(j), Some('年' | '月'));
            // «占本年支出合计的 99.94%»: a share of the same amount.
            let share = matches!(chars.get(j), Some('%' | '％'))
                && chars[i.saturating_sub(12)..i].contains(&'占');
            if !year_or_month && !share {
                return true;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    false
}

/// A cell of the report under check that prints a narrative amount, and its counterpart in the
/// prior report.
struct Match<'a> {
    table: &'a str,
    fact: &'a Fact,
    prior_table: &'a str,
    prior: Option<&'a Fact>,
}

/// The cells of `this` (comparable canonical tables) that print `value` 万元, each with the
/// prior report's cell of the same meaning, row and column (if that table prints the row).
fn cells_printing<'a>(cx: &Pair<'a>, value: Decimal) -> Vec<Match<'a>> {
    let mut out = Vec::new();
    for meaning in COMPARABLE {
        let (Some(t0), Some(t1)) = (
            table_by_meaning(cx.this, meaning),
            table_by_meaning(cx.other, meaning),
        ) else {
            continue;
        };
        for f in cx.this.facts_of(&t0.id) {
            let Some((v, _)) = wan(f) else { continue };
            if v != value {
                continue;
            }
            let row_printed = t1.rows.iter().any(|x| x.key == f.row);
            // A code whose name changed between the years is another 科目 (2018's 2040405
            // «公诉、审判、侦查、执行等检察监督支出» took in four 2017 项): not comparable.
            let name = |t: &crate::model::Table| {
                t.rows.iter().find(|x| x.key == f.row).map(|x| {
                    fold(&x.label)
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                })
            };
            if f.row.bytes().all(|b| b.is_ascii_digit())
                && let (Some(a), Some(b)) = (name(t0), name(t1))
                && !a.is_empty()
                && !b.is_empty()
                && a != b
            {
                continue;
            }
            let column_printed = cx.other.facts_of(&t1.id).any(|g| g.column == f.column);
            if !row_printed && !column_printed {
                continue;
            }
            if unreadable(cx.other, &t1.id, &f.row, &f.column) {
                continue;
            }
            out.push(Match {
                table: t0.id.as_str(),
                fact: f,
                prior_table: t1.id.as_str(),
                prior: if row_printed {
                    cx.other.fact(&t1.id, &f.row, &f.column)
                } else {
                    None
                },
            });
        }
    }
    out
}

fn figure_location(r: &Report, f: &Figure, suspect: bool) -> Location {
    Location {
        section: r
            .sections
            .get(f.section)
            .map(|s| s.heading.clone())
            .unwrap_or_default(),
        line: f.source.line,
        text: f.source.text.clone(),
        suspect,
        ..Location::default()
    }
}

/// XR-02 (决算) and XR-03 (预算).
fn changes(cx: &Pair<'_>, out: &mut Vec<Finding>, checks: &mut Vec<Checked>) {
    let id = match cx.this.kind {
        ReportKind::FinalAccounts => "XR-02",
        ReportKind::Budget => "XR-03",
    };
    let figs = &cx.this.figures;
    let prior_year = cx.this.year - 1;
    for i in 0..figs.len() {
        let f = &figs[i];
        if f.unit != MeasureUnit::Wanyuan {
            continue;
        }
        let (subject, change, claim) = if let Some(claim) = change_claim(cx.this, f, prior_year) {
            let Some(s) = subject_of(cx.this, figs, i, prior_year) else {
                checks.push(Checked {
                    rule_id: id.to_string(),
                    line: f.source.line,
                    claim: format!("{}{}", fold(&f.label), f.printed),
                    outcome: "不适用：未读出本年数（跨行或其他数字之间）".into(),
                });
                continue;
            };
            if s.unit != MeasureUnit::Wanyuan {
                continue;
            }
            (s, Some(f), claim)
        } else if same_claim(cx.this, f) {
            (f.clone(), None, Claim::Same)
        } else {
            continue;
        };
        let subject = &subject;
        let (Some(s), x) = (subject.value, change.and_then(|c| c.value)) else {
            continue;
        };
        let x = x.unwrap_or_default();
        let implied = match claim {
            Claim::Up => s - x,
            Claim::Down => s + x,
            Claim::Same => s,
        };
        let hs = half_unit_of(&subject.printed);
        let hx = change.map_or(Decimal::ZERO, |c| half_unit_of(&c.printed));
        let claim_text = format!(
            "本年 {} {} → 上年 {}",
            fmt(s),
            match (claim, change) {
                (Claim::Up, Some(c)) => format!("增加 {}", fmt(c.value.unwrap_or_default())),
                (Claim::Down, Some(c)) => format!("减少 {}", fmt(c.value.unwrap_or_default())),
                _ => "与上年相同".to_string(),
            },
            fmt(implied)
        );
        let mut check = |outcome: String| {
            checks.push(Checked {
                rule_id: id.to_string(),
                line: change.unwrap_or(subject).source.line,
                claim: claim_text.clone(),
                outcome,
            })
        };
        let matches = cells_printing(cx, s);
        if matches.is_empty() {
            check("不适用：本年数不在可跨年对应的表格中".into());
            continue;
        }
        // The prior figure of each candidate: a printed cell, a blank cell of a printed row (0);
        // a row the prior table does not print is only consistent with an implied 0.
        let judged: Vec<(&Match<'_>, Option<(Decimal, Decimal)>)> = matches
            .iter()
            .map(|m| {
                let prior = match m.prior {
                    Some(p) => wan(p),
                    None if cx
                        .other
                        .table(m.prior_table)
                        .is_some_and(|t| t.rows.iter().any(|x| x.key == m.fact.row)) =>
                    {
                        Some((Decimal::ZERO, Decimal::ZERO))
                    }
                    None => None,
                };
                (m, prior)
            })
            .collect();
        let ok = |q: Decimal, hq: Decimal| (implied - q).abs() <= hs + hx + hq;
        if judged.iter().all(|(_, p)| p.is_none()) {
            // No row of the prior report: consistent only with a new item (implied 0).
            check(if implied.is_zero() {
                "一致：新增（上年表中无此行）".into()
            } else {
                format!(
                    "不适用：上年报告无 {} {} 行",
                    matches[0].prior_table, matches[0].fact.row
                )
            });
            continue;
        }
        if let Some((m, Some((q, _)))) = judged
            .iter()
            .find(|(_, p)| p.is_some_and(|(q, hq)| ok(q, hq)))
        {
            check(format!(
                "一致：上年 {} {} {} {}",
                m.prior_table,
                m.fact.row,
                m.fact.column,
                fmt(*q)
            ));
        }
        if judged
            .iter()
            .any(|(_, p)| p.is_some_and(|(q, hq)| ok(q, hq)))
        {
            // The amount is right; the rate must follow from the prior report's figure.
            if let (Some(c), Some((m, Some((q, hq))))) = (
                change,
                judged
                    .iter()
                    .find(|(_, p)| p.is_some_and(|(q, hq)| ok(q, hq))),
            ) && let Some((p, dir)) = rate_after(cx.this, figs, i)
            {
                rate_check(cx, id, (subject, c, p, dir), (s, hs), (*q, *hq), m, out);
            }
            continue;
        }
        let Some((m, Some((q, hq)))) = judged.iter().find(|(_, p)| p.is_some()) else {
            continue;
        };
        check(format!(
            "不一致：上年 {} {} {} {}",
            m.prior_table,
            m.fact.row,
            m.fact.column,
            fmt(*q)
        ));
        // The prior report's own 情况说明 may state the implied figure while its table says
        // otherwise (or the table was misread): then the prior report disagrees with itself, and
        // this claim is only a warning.
        let prior_says = cx.other.figures.iter().find(|g| {
            g.kind == FigureKind::Amount
                && g.direction.is_none()
                && g.value
                    .and_then(|v| convert(v, g.unit, MeasureUnit::Wanyuan))
                    .is_some_and(|v| v == implied)
        });
        let claim_fig = change.unwrap_or(subject);
        let what = match change {
            Some(c) => format!("“{}{}”", fold(&c.label), c.printed),
            None => "“与上年相同”".to_string(),
        };
        let mut locs = vec![figure_location(cx.this, claim_fig, true)];
        if change.is_some() && subject.source.line != claim_fig.source.line {
            locs.push(figure_location(cx.this, subject, false));
        }
        locs.push(fact_location(
            m.table,
            Some(m.fact),
            (&m.fact.row, &m.fact.column),
            None,
        ));
        locs.push(cell_location(
            cx.other,
            m.prior_table,
            (&m.fact.row, &m.fact.column),
            Some(cx.other_ref),
        ));
        if let Some(g) = prior_says {
            let mut l = figure_location(cx.other, g, false);
            l.report = Some(cx.other_ref.clone());
            locs.push(l);
        }
        out.push(Finding::new(
            id,
            if prior_says.is_some() {
                Severity::Warning
            } else {
                Severity::Error
            },
            format!(
                "本年 {} 万元{}，即上年为 {} 万元；但{} {} {} {} 为 {} 万元（相差 {} 万元）{}",
                fmt(s),
                what,
                fmt(implied),
                cx.other_ref.describe(),
                m.prior_table,
                m.fact.row,
                m.fact.column,
                fmt(*q),
                fmt(implied - *q),
                if prior_says.is_some() {
                    "；上年报告情况说明中写有该数，与其表格不一致，请核对"
                } else {
                    ""
                }
            ),
            locs,
            Some(*q),
            Some(implied),
            Some(hs + hx + *hq),
        ));
    }
}

/// The printed rate of a change against (S − Q) / Q from the prior report's figure Q.
#[allow(clippy::too_many_arguments)]
fn rate_check(
    cx: &Pair<'_>,
    id: &str,
    (subject, change, p, dir): (&Figure, &Figure, &Figure, Option<Claim>),
    (s, hs): (Decimal, Decimal),
    (q, hq): (Decimal, Decimal),
    m: &Match<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(y) = p.value else { return };
    if q - hq <= Decimal::ZERO {
        return;
    }
    let signed = match dir {
        Some(Claim::Down) => -y,
        _ => y,
    };
    let hundred = Decimal::ONE_HUNDRED;
    let corners = [
        (s - hs, q - hq),
        (s - hs, q + hq),
        (s + hs, q - hq),
        (s + hs, q + hq),
    ];
    let vals: Vec<Decimal> = corners
        .iter()
        .filter_map(|(a, b)| (a - b).checked_mul(hundred)?.checked_div(*b))
        .collect();
    let (Some(lo), Some(hi)) = (vals.iter().min().copied(), vals.iter().max().copied()) else {
        return;
    };
    let hy = half_unit_of(p.printed.trim_end_matches(['%', '％']).trim());
    if signed + hy >= lo && signed - hy <= hi {
        return;
    }
    let mid = ((s - q) * hundred / q).round_dp(2);
    let gap = if signed < lo {
        lo - signed
    } else {
        signed - hi
    };
    let wrong_direction =
        dir.is_some() && signed.is_sign_negative() != mid.is_sign_negative() && !mid.is_zero();
    let severity = if wrong_direction || gap > Decimal::ONE {
        Severity::Error
    } else if gap <= Decimal::new(1, 2) {
        Severity::Info
    } else {
        Severity::Warning
    };
    let mut locs = vec![figure_location(cx.this, p, true)];
    if change.source.line != p.source.line {
        locs.push(figure_location(cx.this, change, false));
    }
    if subject.source.line != change.source.line {
        locs.push(figure_location(cx.this, subject, false));
    }
    locs.push(cell_location(
        cx.other,
        m.prior_table,
        (&m.fact.row, &m.fact.column),
        Some(cx.other_ref),
    ));
    out.push(Finding::new(
        id,
        severity,
        format!(
            "“{}{}，{}”：本年 {} 万元，{} {} {} 为 {} 万元，应为 {}%{}",
            fold(&change.label),
            change.printed,
            p.printed,
            fmt(s),
            cx.other_ref.describe(),
            m.fact.row,
            m.fact.column,
            fmt(q),
            fmt(mid),
            if wrong_direction {
                "，增减方向相反"
            } else {
                ""
            }
        ),
        locs,
        Some(mid),
        Some(signed),
        Some(hy),
    ));
}

/// XR-06.
fn identity(cx: &Pair<'_>, out: &mut Vec<Finding>) {
    let norm = |s: &str| {
        let mut f = fold(s);
        for suffix in ["（本级）", "(本级)", "本级", "（汇总）", "(汇总)"] {
            if let Some(x) = f.strip_suffix(suffix) {
                f = x.to_string();
            }
        }
        f
    };
    let (a, b) = (norm(&cx.this.subject), norm(&cx.other.subject));
    // A subject with fewer than two Chinese characters is a name the reader did not find (a
    // cover read as «2018»), not a rename.
    let named = |s: &str| {
        s.chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count()
            >= 2
    };
    if named(&a) && named(&b) && a != b {
        out.push(Finding::new(
            "XR-06",
            Severity::Warning,
            format!(
                "单位名称“{}”与{}的“{}”不同：单位是否更名？",
                cx.this.subject,
                cx.other_ref.describe(),
                cx.other.subject
            ),
            vec![
                Location {
                    row: "单位名称".into(),
                    text: cx.this.subject.clone(),
                    suspect: true,
                    ..Location::default()
                },
                Location {
                    row: "单位名称".into(),
                    text: cx.other.subject.clone(),
                    report: Some(cx.other_ref.clone()),
                    ..Location::default()
                },
            ],
            None,
            None,
            None,
        ));
    }
    if let (Some(t0), Some(t1)) = (cx.this.unit_type, cx.other.unit_type)
        && t0 != t1
    {
        out.push(Finding::new(
            "XR-06",
            Severity::Warning,
            format!(
                "单位性质为{}，{}为{}：单位性质是否变化？",
                t0.label(),
                cx.other_ref.describe(),
                t1.label()
            ),
            vec![
                Location {
                    row: "单位性质".into(),
                    text: t0.label().into(),
                    suspect: true,
                    ..Location::default()
                },
                Location {
                    row: "单位性质".into(),
                    text: t1.label().into(),
                    report: Some(cx.other_ref.clone()),
                    ..Location::default()
                },
            ],
            None,
            None,
            None,
        ));
    }
}

/// Function-classified tables a «年初预算» figure may quote in the 预算, most specific first.
const BUDGET_TABLES: &[&str] = &[
    "gpb_expense_by_function",
    "fiscal_expense_by_function",
    "expense_by_function",
];

/// XR-04: «××年初预算 X 万元» of a 决算 against the 预算 of the same year, by 类/项 name; and the
/// 三公 table's 预算数 against the 预算's 三公 table.
fn budget_figures(cx: &Pair<'_>, out: &mut Vec<Finding>) {
    for f in &cx.this.figures {
        if f.kind != FigureKind::Amount || f.direction.is_some() {
            continue;
        }
        let (Some(x), Some((x_wan, hx))) = (
            f.value,
            f.value.and_then(|v| {
                Some((
                    convert(v, f.unit, MeasureUnit::Wanyuan)?,
                    convert(
                        half_unit_of(
                            &f.printed
                                .replace(|c: char| !c.is_ascii_digit() && c != '.', ""),
                        ),
                        f.unit,
                        MeasureUnit::Wanyuan,
                    )?,
                ))
            }),
        ) else {
            continue;
        };
        let label = fold(&f.label);
        let label = label.trim_end_matches(['为', '是']);
        let Some(name) = label
            .strip_suffix("年初预算数")
            .or_else(|| label.strip_suffix("年初预算"))
        else {
            continue;
        };
        let name = name
            .trim_start_matches(|c: char| {
                c.is_ascii_digit() || "年度.．、（）()一二三四五六七八九十".contains(c)
            })
            .trim_end_matches("支出")
            .trim();
        if name.chars().count() < 2 {
            continue;
        }
        // The 项/类 row of the 预算 whose printed name is the figure's name.
        let mut hit: Option<(&str, &Fact, Decimal, Decimal)> = None;
        'tables: for meaning in BUDGET_TABLES {
            let Some(t) = table_by_meaning(cx.other, meaning) else {
                continue;
            };
            let rows: Vec<&crate::model::RowLabel> = t
                .rows
                .iter()
                .filter(|r| {
                    let l = fold(&r.label);
                    let l = l.trim_end_matches("支出");
                    r.key.bytes().all(|b| b.is_ascii_digit()) && l == name
                })
                .collect();
            if rows.len() != 1 {
                continue;
            }
            let row = rows[0];
            for column in ["合计", "预算数", "金额", "本年预算数"] {
                if unreadable(cx.other, &t.id, &row.key, column) {
                    break 'tables;
                }
                if let Some(fact) = cx.other.fact(&t.id, &row.key, column)
                    && let Some((v, hv)) = wan(fact)
                {
                    hit = Some((t.id.as_str(), fact, v, hv));
                    break 'tables;
                }
            }
        }
        let Some((table, fact, v, hv)) = hit else {
            continue;
        };
        if (x_wan - v).abs() <= hx + hv {
            continue;
        }
        out.push(Finding::new(
            "XR-04",
            Severity::Error,
            format!(
                "“{}{}”，但{} {table} {} {} 为 {} 万元（相差 {} 万元）；完成年初预算的比例应按预算数计算",
                f.label,
                f.printed,
                cx.other_ref.describe(),
                fact.row,
                fact.column,
                fmt(v),
                fmt(x_wan - v)
            ),
            vec![
                figure_location(cx.this, f, true),
                fact_location(table, Some(fact), (&fact.row, &fact.column), Some(cx.other_ref)),
            ],
            Some(v),
            Some(x),
            Some(hx + hv),
        ));
    }
    // 三公: the 决算 table's 预算数 row against the 预算's 三公 table (same column).
    if let (Some(t0), Some(t1)) = (
        table_by_meaning(cx.this, "sangong"),
        table_by_meaning(cx.other, "sangong"),
    ) {
        for f in cx.this.facts_of(&t0.id).filter(|f| f.row == "预算数") {
            let Some(g) = cx
                .other
                .facts_of(&t1.id)
                .find(|g| g.column == f.column && (g.row == "预算数" || g.row == "合计"))
            else {
                continue;
            };
            let (Some((a, ha)), Some((b, hb))) = (wan(f), wan(g)) else {
                continue;
            };
            if (a - b).abs() <= ha + hb {
                continue;
            }
            out.push(Finding::new(
                "XR-04",
                Severity::Error,
                format!(
                    "{} 预算数 {} {} 万元，不等于{} {} {} {} 万元",
                    t0.id,
                    f.column,
                    fmt(a),
                    cx.other_ref.describe(),
                    t1.id,
                    f.column,
                    fmt(b)
                ),
                vec![
                    fact_location(&t0.id, Some(f), (&f.row, &f.column), None),
                    fact_location(&t1.id, Some(g), (&g.row, &g.column), Some(cx.other_ref)),
                ],
                Some(b),
                Some(a),
                Some(ha + hb),
            ));
        }
    }
}

/// XR-05 on its own: the department report `dept` against its unit reports, with `all_units`
/// saying that every unit of the department is among them (the caller knows its registry; a
/// department with one unit that «不单列预算，并入本部» is such a case).
pub fn department_check(
    dept: &Report,
    dept_ref: &ReportRef,
    units: &[Related],
    all_units: bool,
) -> Vec<Finding> {
    let refs: Vec<&Related> = units.iter().collect();
    let mut out = Vec::new();
    department_vs_units((dept, dept_ref), &refs, all_units, &mut out);
    out
}

/// XR-05: the department report `dept` against unit reports: Σ units (consolidated, transfers
/// eliminated) ≤ every department cell, and = when `all` units are present.
fn department_vs_units(
    (dept, dept_ref): (&Report, &ReportRef),
    units: &[&Related],
    all: bool,
    out: &mut Vec<Finding>,
) {
    use crate::consolidate::{Consolidator, UnitMeta, compare};
    let code = |r: &ReportRef, i: usize| {
        if r.unit.is_empty() {
            format!("U{i}")
        } else {
            r.unit.clone()
        }
    };
    let root_code = if dept_ref.unit.is_empty() {
        "DEPT".to_string()
    } else {
        dept_ref.unit.clone()
    };
    let root = UnitMeta::new(root_code.clone(), dept.subject.clone());
    let mut c = Consolidator::new(root, dept.kind, dept.year);
    let mut added: Vec<(String, &Related)> = Vec::new();
    for (i, u) in units.iter().enumerate() {
        let unit_code = code(&u.reference, i);
        // The unit carrying the department's code is its 本级 (no parent), and so is a single
        // unit; the others are the department's children.
        let mut meta = UnitMeta::new(unit_code.clone(), u.report.subject.clone());
        if unit_code != root_code && units.len() > 1 {
            meta = meta.with_parent(root_code.clone());
        }
        if let Some(t) = u.report.unit_type {
            meta = meta.with_type(t);
        }
        meta.revision = u.reference.revision;
        if c.add(meta, &u.report).is_ok() {
            added.push((unit_code, u));
        }
    }
    if added.is_empty() {
        return;
    }
    let consolidated = c.finish();
    let cmp = compare(&consolidated, dept);
    let unit_of = |code: &str| added.iter().find(|(c, _)| c == code).map(|(_, u)| *u);
    for d in cmp.beyond_tolerance() {
        let computed = d.computed.unwrap_or_default();
        let filed = d.filed.unwrap_or_default();
        let excess = computed > filed;
        if !all && !excess {
            continue;
        }
        if !all {
            // With units missing only an expenditure or fiscal line can be bounded: internal
            // transfers of absent units are not eliminated.
            let transfer = ["上级", "附属", "上缴", "收入"]
                .iter()
                .any(|w| d.row.contains(w) || d.column.contains(w));
            if transfer {
                continue;
            }
        }
        let mut locs = vec![cell_location(
            dept,
            &d.table,
            (&d.row, &d.column),
            Some(dept_ref),
        )];
        for (code, _) in d.contributions.iter().filter(|(_, v)| !v.is_zero()) {
            if let Some(u) = unit_of(code) {
                let mut l =
                    cell_location(&u.report, &d.table, (&d.row, &d.column), Some(&u.reference));
                l.suspect = excess;
                locs.push(l);
            }
        }
        locs[0].suspect = !excess;
        let names: Vec<String> = added.iter().map(|(_, u)| u.reference.describe()).collect();
        out.push(Finding::new(
            "XR-05",
            Severity::Error,
            if excess {
                format!(
                    "单位报告 {} {} {} 合计 {} 万元，大于{} 的 {} 万元（{}）",
                    d.table,
                    d.row,
                    d.column,
                    fmt(computed),
                    dept_ref.describe(),
                    fmt(filed),
                    names.join("、")
                )
            } else {
                format!(
                    "{} {} {} {} {} 万元，不等于所属单位报告合计 {} 万元（{}，单位已齐全）",
                    dept_ref.describe(),
                    d.table,
                    d.row,
                    d.column,
                    fmt(filed),
                    fmt(computed),
                    names.join("、")
                )
            },
            locs,
            Some(filed),
            Some(computed),
            Some(d.tolerance),
        ));
    }
}
