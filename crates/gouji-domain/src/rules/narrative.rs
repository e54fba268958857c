//! Narrative rules (NR-*): the 情况说明 quotes the tables correctly and its percentages follow.

use rust_decimal::Decimal;

use super::index::{Folded, Key, kw};
use super::{FactIndex, Finding, Location, Severity, fmt};
use crate::amount::{MeasureUnit, round_half_up};
use crate::codes;
use crate::model::{Direction, Figure, FigureKind};
use crate::parse::text::{fold, has, rfind_short};

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "NR-01",
        Severity::Error,
        "NA",
        "情况说明引用的金额与表格一致",
        "情况说明中的总计、收入/支出构成、人员/公用经费及其明细、“三公”经费预算/决算与表内对应单元格完全一致（同一数字，不设容差）。",
    ),
    (
        "NR-02",
        Severity::Warning,
        "NA",
        "占比计算正确",
        "占比 = 部分/整体，四舍五入保留两位小数；相差 0.01 个百分点为提示，更大为警告。",
    ),
    (
        "NR-03",
        Severity::Error,
        "NA",
        "完成预算比例/执行率计算正确",
        "完成预算% = 决算/预算，执行率 = 执行数/预算数；相差 0.01 为提示，超过 0.01 为警告，超过 1 个百分点为错误。",
    ),
    (
        "NR-04",
        Severity::Warning,
        "NA",
        "增减率表述合理",
        "上年数为 0 时不应给出增长率（应表述为“新增”），不得出现“∞%”；“本年X万元，增加X万元，增长Y%”（本年数减增加额为 0）或说明上年数为 0 万元而又给出增长率的，亦同。",
    ),
    (
        "NR-05",
        Severity::Warning,
        "NA",
        "收入总计变动与财政拨款变动差异须说明",
        "本年收入全部为财政拨款时，收入总计的增减额与一般公共预算财政拨款支出的增减额不同，应说明差额来源。",
    ),
    (
        "NR-10",
        Severity::Warning,
        "NA",
        "金额单位正确",
        "表格以万元列示时，情况说明不应以“元”表述同一金额。",
    ),
    (
        "NR-14",
        Severity::Info,
        "NA",
        "数字格式规范",
        "金额、百分比保留两位小数。",
    ),
    (
        "NR-15",
        Severity::Warning,
        "NA",
        "人员数构成一致",
        "编制数 = 行政编制 + 事业编制；实有人数 = 行政 + 事业（+ 工勤）。",
    ),
    (
        "NR-16",
        Severity::Warning,
        "NA",
        "同一指标前后表述一致",
        "不同章节对同一指标（如收入总计增减额）的表述应一致。",
    ),
    (
        "NR-06",
        Severity::Warning,
        "NA",
        "增减变化须说明原因",
        "情况说明中与上年相比的增加/减少（含增减率）所在章节，在该数字之后应说明原因（“主要原因是…”“主要用于…”等）。",
    ),
    (
        "NR-07",
        Severity::Error,
        "NA",
        "情况说明章节齐全且顺序正确",
        "决算：收入支出决算总体、收入、支出、财政拨款收支总体、一般公共预算财政拨款支出、基本支出、政府性基金、国有资本经营、“三公”经费、机关运行经费、政府采购、国有资产、预算绩效；预算：收支变动、收入、支出、财政拨款收支总体、一般公共预算、基本支出、“三公”经费、机关运行经费、政府采购、绩效、国有资产。各章须出现且按模板顺序排列（目录不计）。",
    ),
    (
        "NR-08",
        Severity::Error,
        "NA",
        "空表须在情况说明中说明",
        "公开07/公开08（预算 表7/表8/表9、表10“三公”）无数据时，情况说明应说明“本年度无此项收支”“已公开空表”等，或列明该项金额为 0。",
    ),
    (
        "NR-11",
        Severity::Info,
        "NA",
        "构成占比合计约为 100%",
        "同一章节中列出的同一整体的各项占比（“占比”“占…的”）之和应为 100%，容差 0.01×k 个百分点（k 为项数）；合计明显小于 100%（差距超过 1 个百分点）视为未列全，不提示。",
    ),
    (
        "NR-13",
        Severity::Warning,
        "NA",
        "绩效自评项目数与等级分布一致",
        "预算绩效章节中“项目绩效自评个数 N 个”应等于其后各自评等级（优/良/中/差）项目数之和。",
    ),
];

fn finding(
    id: &str,
    severity: Severity,
    message: String,
    locations: Vec<Location>,
    expected: Option<Decimal>,
    actual: Option<Decimal>,
    tolerance: Option<Decimal>,
) -> Finding {
    Finding::new(
        id, severity, message, locations, expected, actual, tolerance,
    )
}

fn figure_location(r: &FactIndex<'_>, f: &Figure, suspect: bool) -> Location {
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

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    quoted_amounts(r, out);
    rates(r, out);
    units(r, out);
    staff_counts(r, out);
    total_changes(r, out);
    formatting(r, out);
    reasons(r, out);
    required_sections(r, out);
    empty_tables(r, out);
    share_sums(r, out);
    performance_counts(r, out);
}

/// What a 情况说明 section is about, as far as [`quoted_cell`] cares (bit flags).
#[derive(Clone, Copy)]
struct Class(u8);

impl Class {
    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

const SANGONG: u8 = 1;
const BASIC: u8 = 2;
const OVERVIEW: u8 = 4;
const INCOME: u8 = 8;
const EXPENSE: u8 = 16;

/// Classifies a folded section heading once per section.
fn section_class(h: &Folded<'_>) -> u8 {
    let mut c = 0;
    if h.contains(kw!("三公")) {
        c |= SANGONG;
    }
    if h.contains(kw!("基本支出")) {
        c |= BASIC;
    }
    let fiscal = h.contains(kw!("财政拨款"));
    if h.contains(kw!("收入支出决算总体")) && !fiscal {
        c |= OVERVIEW;
    }
    if h.contains(kw!("收入决算")) && !fiscal {
        c |= INCOME;
    }
    if h.contains(kw!("支出决算")) && h.as_str().starts_with("三、") {
        c |= EXPENSE;
    }
    c
}

/// The (table, row, column) a narrative amount quotes, when it can be identified.
fn quoted_cell<'a>(
    r: &FactIndex<'a>,
    f: &Figure,
    econ_names: &mut Option<Vec<(&'static str, &'a str)>>,
    classes: &mut [Option<u8>],
) -> Option<(&'static str, &'a str, &'static str)> {
    // Every quoted cell below is a 决算 table cell.
    let js = r.kind == crate::ReportKind::FinalAccounts;
    if !js || f.direction.is_some() {
        return None;
    }
    let class = match classes.get_mut(f.section) {
        Some(Some(c)) => *c,
        Some(slot) => {
            let c = r.folded_heading(f.section).map_or(0, section_class);
            *slot = Some(c);
            c
        }
        None => 0,
    };
    // Outside the classified sections only «…(类)» labels quote a cell: skip the fold for the
    // rest (folding maps «類» to «类» and never introduces either).
    if class == 0 && !has(&f.label, "类") && !has(&f.label, "類") {
        return None;
    }
    let label = r.label(f);
    if r.label_has(f, kw!("上年")) || label.contains('较') || label.contains('比') {
        return None;
    }
    let h = Class(class);
    // "三公" 经费 预算/决算 by item.
    if h.has(SANGONG) {
        let is_budget = label.ends_with("预算") || label.ends_with("预算数");
        let is_final = label.ends_with("决算") || label.ends_with("决算数");
        if !(is_budget || is_final) || label.chars().count() > 30 {
            return None;
        }
        let s = fold(sentence_of(f, &f.source.text));
        let items = [
            ("公务用车运行维护", "公务用车运行维护费"),
            ("公务用车购置", "公务用车购置费"),
            ("公务接待", "公务接待费"),
            ("因公出国", "因公出国（境）费"),
            ("三公", "合计"),
        ];
        let item = items
            .iter()
            .filter_map(|(k, col)| rfind_short(&s, k).map(|pos| (pos, *col)))
            .max_by_key(|(pos, _)| *pos)?;
        let row = if is_budget { "预算数" } else { "决算数" };
        return Some(("公开09", row, item.1));
    }
    // 基本支出 section: 人员经费/公用经费 and economic 款 items.
    if h.has(BASIC) {
        if label.ends_with("人员经费") {
            return Some(("公开06", "人员经费合计", "决算数"));
        }
        if label.ends_with("公用经费") {
            return Some(("公开06", "公用经费合计", "决算数"));
        }
        // (folded 款 name, row) of 公开06, in fact order; built once per validation.
        let names = econ_names.get_or_insert_with(|| {
            r.facts_of("公开06")
                .filter(|fact| fact.row.len() == 5)
                .filter_map(|fact| {
                    codes::lists()
                        .economic_name_folded(&fact.row)
                        .filter(|name| name.chars().count() >= 2)
                        .map(|name| (name, fact.row.as_str()))
                })
                .collect()
        });
        return names
            .iter()
            .find(|(name, _)| label.ends_with(*name))
            .map(|(_, row)| ("公开06", *row, "决算数"));
    }
    if h.has(OVERVIEW) {
        let income = r.label_has(f, kw!("收入总计"));
        let expense = r.label_has(f, kw!("支出总计"));
        if income && !expense {
            return Some(("公开01", "收入总计", "决算数"));
        }
        if expense && !income {
            return Some(("公开01", "支出总计", "决算数"));
        }
    }
    if h.has(INCOME) {
        if label.ends_with("收入合计") {
            return Some(("公开01", "本年收入合计", "决算数"));
        }
        for col in [
            "财政拨款收入",
            "上级补助收入",
            "事业收入",
            "经营收入",
            "附属单位上缴收入",
            "其他收入",
        ] {
            if label.ends_with(col) {
                return Some((
                    "公开02",
                    "合计",
                    match col {
                        "财政拨款收入" => "财政拨款收入",
                        "上级补助收入" => "上级补助收入",
                        "事业收入" => "事业收入",
                        "经营收入" => "经营收入",
                        "附属单位上缴收入" => "附属单位上缴收入",
                        _ => "其他收入",
                    },
                ));
            }
        }
    }
    if h.has(EXPENSE) {
        if label.ends_with("支出合计") {
            return Some(("公开01", "本年支出合计", "决算数"));
        }
        for col in [
            "基本支出",
            "项目支出",
            "上缴上级支出",
            "经营支出",
            "对附属单位补助支出",
        ] {
            if label.ends_with(col) {
                let c: &'static str = match col {
                    "基本支出" => "基本支出",
                    "项目支出" => "项目支出",
                    "上缴上级支出" => "上缴上级支出",
                    "经营支出" => "经营支出",
                    _ => "对附属单位补助支出",
                };
                return Some(("公开03", "合计", c));
            }
        }
    }
    // 结构: «卫生健康支出(类)49.25万元».
    if js && label.ends_with("(类)") {
        let name = label.trim_end_matches("(类)");
        if let Some(code) = codes::lists().class_code_by_name(name) {
            return Some(("公开05", code, "合计"));
        }
    }
    None
}

/// The sentence (from the last 。 before it) that holds a figure.
fn sentence_of<'a>(f: &Figure, text: &'a str) -> &'a str {
    let printed_at = text.find(&f.printed).unwrap_or(text.len());
    let head = &text[..printed_at];
    let start = head.rfind('。').map(|i| i + '。'.len_utf8()).unwrap_or(0);
    &text[start..printed_at]
}

fn quoted_amounts(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let mut econ_names = None;
    let mut classes = vec![None; r.sections.len()];
    for f in r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Amount && f.unit == MeasureUnit::Wanyuan)
    {
        let Some(value) = f.value else { continue };
        let Some((table, row, column)) = quoted_cell(r, f, &mut econ_names, &mut classes) else {
            continue;
        };
        if r.table(table).is_none() || r.is_unreadable(table, row, column) {
            continue;
        }
        // A cell the table does not print is not 0: nothing to compare (RD-21 says when a
        // listed item is missing from its table).
        let Some(cell) = r.value(table, row, column) else {
            continue;
        };
        if cell == value {
            continue;
        }
        out.push(finding(
            "NR-01",
            Severity::Error,
            format!(
                "情况说明“{}{}”与 {table} {row} {column} 的 {} 万元不一致（相差 {} 万元），请核对说明文字",
                f.label, f.printed, fmt(cell), fmt(value - cell)
            ),
            vec![figure_location(r, f, true), r.cell_location(table, row, column)],
            Some(cell),
            Some(value),
            Some(Decimal::ZERO),
        ));
    }
}

/// Compares a stated percentage with the recomputed one (half-up, 2 dp). `detail` (what was
/// computed, and the other locations) is only called when there is a finding.
#[allow(clippy::too_many_arguments)]
fn compare_rate(
    r: &FactIndex<'_>,
    id: &str,
    f: &Figure,
    stated: Decimal,
    computed: Decimal,
    detail: impl FnOnce() -> (String, Vec<Location>),
    error_over_1pp: bool,
    out: &mut Vec<Finding>,
) {
    let computed = round_half_up(computed, 2);
    let gap = (stated - computed).abs();
    if gap.is_zero() {
        return;
    }
    let one_cent = Decimal::new(1, 2);
    let severity = if gap <= one_cent {
        Severity::Info
    } else if error_over_1pp && gap > Decimal::ONE {
        Severity::Error
    } else {
        Severity::Warning
    };
    let (what, others) = detail();
    let mut locs = vec![figure_location(r, f, true)];
    locs.extend(others);
    out.push(finding(
        id,
        severity,
        format!(
            "{what}：说明为 {}%，按公开数计算应为 {}%（相差 {} 个百分点）",
            fmt(stated),
            fmt(computed),
            fmt(stated - computed)
        ),
        locs,
        Some(computed),
        Some(stated),
        Some(one_cent),
    ));
}

fn rates(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let figs = &r.figures;
    // The figures ordered by section number (any number a structured submission may carry), in
    // document order within a section; built when NR-02 first needs it.
    let mut by_section: Option<Vec<&Figure>> = None;
    for (i, f) in figs.iter().enumerate() {
        if f.kind != FigureKind::Percent {
            continue;
        }
        let label = r.label(f);
        // NR-04: «增长∞%».
        if f.value.is_none() {
            out.push(finding(
                "NR-04",
                Severity::Warning,
                format!(
                    "“{}{}”：上年数为 0 时不应计算增长率，应表述为“新增”",
                    f.label, f.printed
                ),
                vec![figure_location(r, f, true)],
                None,
                None,
                None,
            ));
            continue;
        }
        let Some(stated) = f.value else { continue };
        // NR-04: a growth rate on a zero base («…支出1.46万元，比上年增加1.46万元，增长100%»).
        // «增\n长 100%»: the reader takes «长» for the label, without a direction.
        let wrapped_up = f.direction.is_none()
            && f.label.trim() == "长"
            && f.source.line >= 2
            && r.lines
                .get(f.source.line as usize - 2)
                .is_some_and(|l| l.trim_end().ends_with('增'));
        if (f.direction == Some(Direction::Up) || wrapped_up)
            && let Some((what, locs)) = zero_base(r, &figs[..i], f)
        {
            out.push(finding(
                "NR-04",
                Severity::Warning,
                format!(
                    "“{}{}”：{what}，不应计算增长率，应表述为“新增”",
                    if wrapped_up {
                        "增长"
                    } else {
                        f.label.as_str()
                    },
                    f.printed
                ),
                locs,
                Some(Decimal::ZERO),
                None,
                None,
            ));
            continue;
        }
        // The 万元 amounts just before it on its line, nearest first.
        let same_line = || {
            figs[..i]
                .iter()
                .rev()
                .take_while(|g| g.source.line == f.source.line && g.kind != FigureKind::Percent)
                .filter(|g| {
                    g.kind == FigureKind::Amount
                        && g.unit == MeasureUnit::Wanyuan
                        && g.value.is_some()
                })
        };
        // NR-03: 完成预算 / 执行率 from the two amounts before it (预算 then 决算/执行数).
        if r.label_has(f, kw!("完成")) && r.label_has(f, kw!("预算"))
            || r.label_has(f, kw!("执行率"))
        {
            let budget = same_line().find(|g| {
                let l = r.label(g);
                let l = l.trim_end_matches('为');
                l.ends_with("预算") || l.ends_with("预算数")
            });
            let actual = same_line().find(|g| {
                (r.label_has(g, kw!("决算"))
                    || r.label_has(g, kw!("执行"))
                    || r.label_has(g, kw!("支出")))
                    && !r.label_has(g, kw!("预算"))
            });
            if let (Some(b), Some(a)) = (budget, actual) {
                let (bv, av) = (b.value.unwrap_or_default(), a.value.unwrap_or_default());
                if !bv.is_zero() {
                    let computed = av / bv * Decimal::ONE_HUNDRED;
                    compare_rate(
                        r,
                        "NR-03",
                        f,
                        stated,
                        computed,
                        || {
                            (
                                format!(
                                    "{} {} 万元 / {} {} 万元",
                                    a.label,
                                    fmt(av),
                                    b.label,
                                    fmt(bv)
                                ),
                                vec![figure_location(r, a, false), figure_location(r, b, false)],
                            )
                        },
                        true,
                        out,
                    );
                }
            }
            continue;
        }
        // NR-02: 占比 = part / whole.
        if label.starts_with('占') || label.ends_with("占比") {
            let Some(part) = same_line().next() else {
                continue;
            };
            let by_section = by_section.get_or_insert_with(|| {
                let mut v: Vec<&Figure> = figs.iter().collect();
                v.sort_by_key(|g| g.section);
                v
            });
            let whole = whole_for(r, f, &label, by_section);
            if let Some((wv, whole)) = whole {
                let wloc = || match whole {
                    Whole::Cell(t, row, column) => r.cell_location(t, row, column),
                    Whole::Figure(g) => figure_location(r, g, false),
                };
                if !wv.is_zero() && part.value.is_some() {
                    let computed = part.value.unwrap_or_default() / wv * Decimal::ONE_HUNDRED;
                    compare_rate(
                        r,
                        "NR-02",
                        f,
                        stated,
                        computed,
                        || {
                            (
                                format!(
                                    "{} {} 万元 占 {} 万元",
                                    part.label,
                                    fmt(part.value.unwrap_or_default()),
                                    fmt(wv)
                                ),
                                vec![figure_location(r, part, false), wloc()],
                            )
                        },
                        false,
                        out,
                    );
                }
            }
        }
    }
}

/// NR-04 on a zero base: the change amount just before the rate `f` (on its line or the one
/// before) equals the current amount before it (so the base is 0), or the base is quoted as 0 («上年…为0万元»).
/// Returns what was compared and the locations, or `None` when the line does not say.
fn zero_base(r: &FactIndex<'_>, before: &[Figure], f: &Figure) -> Option<(String, Vec<Location>)> {
    // Its line and the line before (a sentence wraps: «…增加 1326.81 万元，增\n长 100%»).
    let mut on_line = before
        .iter()
        .rev()
        .take_while(|g| g.section == f.section && f.source.line.saturating_sub(g.source.line) <= 1);
    // The change: the nearest amount, worded as an increase.
    let change = on_line.find(|g| {
        g.kind == FigureKind::Amount || g.kind == FigureKind::Percent && g.direction.is_some()
    })?;
    if change.kind != FigureKind::Amount
        || change.direction != Some(Direction::Up)
        || change.unit != MeasureUnit::Wanyuan
    {
        return None;
    }
    let x = change.value?;
    if x <= Decimal::ZERO {
        return None;
    }
    let base = if r.label_has(change, kw!("预算")) {
        "预算数"
    } else {
        "上年数"
    };
    for g in on_line {
        if g.kind == FigureKind::Percent && g.direction.is_some() {
            // An earlier rate: another clause.
            return None;
        }
        if g.kind != FigureKind::Amount || g.unit != MeasureUnit::Wanyuan || g.direction.is_some() {
            continue;
        }
        let v = g.value?;
        let label = r.label(g);
        if label.contains("上年") {
            // The base itself, quoted.
            return v.is_zero().then(|| {
                (
                    format!("说明上年数为 {} 万元（增加 {} 万元）", fmt(v), fmt(x)),
                    vec![figure_location(r, f, true), figure_location(r, g, false)],
                )
            });
        }
        let l = label.trim_end_matches('为').trim_end_matches("数");
        if r.kind == crate::ReportKind::FinalAccounts && l.ends_with("预算") {
            // «年初预算48万元，支出决算34.54万元»: the 决算 is further on.
            continue;
        }
        return (v == x).then(|| {
            (
                format!("本年 {} 万元、增加 {} 万元，{base}为 0", fmt(v), fmt(x)),
                vec![
                    figure_location(r, f, true),
                    figure_location(r, change, false),
                    figure_location(r, g, false),
                ],
            )
        });
    }
    None
}

/// Where the whole of a 占比 was found (its location is only built for a finding).
#[derive(Clone, Copy)]
enum Whole<'a> {
    Cell(&'static str, &'static str, &'static str),
    Figure(&'a Figure),
}

/// The whole a 占比 refers to: a named total («占本年支出合计的», «占政府采购支出总额的») or the first
/// amount of the section.
fn whole_for<'a>(
    r: &FactIndex<'_>,
    f: &Figure,
    label: &str,
    by_section: &[&'a Figure],
) -> Option<(Decimal, Whole<'a>)> {
    // The figures of f's section, in document order.
    let from = by_section.partition_point(|g| g.section < f.section);
    let to = from + by_section[from..].partition_point(|g| g.section == f.section);
    let section = &by_section[from..to];
    if r.label_has(f, kw!("本年支出合计")) {
        let t = if r.kind == crate::ReportKind::Budget {
            ("表1", "本年支出合计", "合计")
        } else {
            ("公开01", "本年支出合计", "决算数")
        };
        return r
            .value(t.0, t.1, t.2)
            .map(|v| (v, Whole::Cell(t.0, t.1, t.2)));
    }
    let noun = label.trim_start_matches('占').trim_end_matches('的');
    let in_section = section
        .iter()
        .copied()
        .filter(|g| g.kind == FigureKind::Amount && g.unit == MeasureUnit::Wanyuan);
    if noun.chars().count() >= 2 && noun != "比" {
        let amounts = || {
            section
                .iter()
                .copied()
                .filter(|g| g.kind == FigureKind::Amount && !std::ptr::eq(*g, f))
        };
        if let Some(g) = amounts().find(|g| has(&r.label(g), noun)) {
            return g.value.map(|v| (v, Whole::Figure(g)));
        }
        if noun.contains("总额")
            && let Some(g) = amounts().find(|g| r.label_has(g, kw!("总额")))
        {
            return g.value.map(|v| (v, Whole::Figure(g)));
        }
        return None;
    }
    let first = in_section.into_iter().next()?;
    if first.source.line == f.source.line
        && r.figure_position(first) == r.figure_position(f).map(|p| p.saturating_sub(1))
    {
        // The part itself is the first amount: no whole stated in the section.
        return None;
    }
    first.value.map(|v| (v, Whole::Figure(first)))
}

/// NR-10: a 元 figure whose number is a 万元 cell of the tables.
fn units(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    for f in r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Amount && f.unit == MeasureUnit::Yuan)
    {
        let Some(v) = f.value else { continue };
        if v.is_zero() || v.scale() != 2 {
            continue;
        }
        let label = r.label(f);
        let hit = r.facts.iter().find(|c| {
            c.unit == MeasureUnit::Wanyuan && c.value == v && {
                let name = r
                    .table(&c.table)
                    .and_then(|t| t.rows.iter().find(|x| x.key == c.row))
                    .map(|x| fold(&x.label))
                    .unwrap_or_default();
                !name.is_empty() && (label.ends_with(&name) || has(&label, &name))
            }
        });
        if let Some(c) = hit {
            out.push(finding(
                "NR-10",
                Severity::Warning,
                format!(
                    "“{}{}”单位疑似有误：表格 {} {} 为 {} 万元",
                    f.label,
                    f.printed,
                    c.table,
                    c.row,
                    fmt(c.value)
                ),
                vec![
                    figure_location(r, f, true),
                    r.cell_location(&c.table, &c.row, &c.column),
                ],
                None,
                Some(v),
                None,
            ));
        }
    }
}

/// NR-15: 编制/实有人员 = Σ 行政 + 事业 (+ 工勤).
fn staff_counts(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let counts: Vec<&Figure> = r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Count && f.printed.ends_with('人'))
        .collect();
    let mut i = 0;
    while i < counts.len() {
        let total = counts[i];
        let tl = r.label(total);
        let is_part =
            |l: &str| l.starts_with("行政") || l.starts_with("事业") || l.starts_with("工勤");
        if (r.label_has(total, kw!("编制")) || r.label_has(total, kw!("实有"))) && !is_part(&tl)
        {
            let mut j = i + 1;
            let mut parts = Vec::new();
            while j < counts.len()
                && counts[j].source.line == total.source.line
                && is_part(&r.label(counts[j]))
            {
                parts.push(counts[j]);
                j += 1;
            }
            if parts.len() >= 2 {
                let sum: Decimal = parts.iter().filter_map(|p| p.value).sum();
                let tv = total.value.unwrap_or_default();
                if sum != tv {
                    let mut locs = vec![figure_location(r, total, true)];
                    locs.extend(parts.iter().map(|p| figure_location(r, p, false)));
                    let list: Vec<String> = parts
                        .iter()
                        .map(|p| format!("{}{}", p.label, p.printed))
                        .collect();
                    out.push(finding(
                        "NR-15",
                        Severity::Warning,
                        format!(
                            "“{}{}”与其构成（{}，合计 {} 人）不一致",
                            total.label,
                            total.printed,
                            list.join("、"),
                            sum
                        ),
                        locs,
                        Some(sum),
                        Some(tv),
                        Some(Decimal::ZERO),
                    ));
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
}

/// NR-05 and NR-16: the 收入总计 change of §一 against the 财政拨款 changes of §四/§五.
fn total_changes(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if r.kind != crate::ReportKind::FinalAccounts {
        return;
    }
    // Changes in the sections whose heading has `with` and not `without`.
    let changes = |with: &Key, without: &Key| -> Vec<&Figure> {
        r.figures
            .iter()
            .filter(|f| {
                f.kind == FigureKind::Amount
                    && matches!(f.direction, Some(Direction::Up | Direction::Down))
                    && r.heading_has(f.section, with)
                    && !r.heading_has(f.section, without)
            })
            .collect()
    };
    let total_sec = changes(kw!("收入支出决算总体"), kw!("财政拨款"));
    let Some(total_change) = total_sec.iter().find(|f| {
        r.label_has(f, kw!("收入总计")) || has(&fold(sentence_of(f, &f.source.text)), "收入总计")
    }) else {
        return;
    };
    let gpb_sec = changes(kw!("一般公共预算财政拨款支出决算"), kw!("基本支出"));
    let Some(gpb_change) = gpb_sec.first() else {
        return;
    };
    let (tv, gv) = (
        total_change.value.unwrap_or_default(),
        gpb_change.value.unwrap_or_default(),
    );
    // NR-16: §五 calls its figure 收入总计 but it differs from §一.
    for f in &gpb_sec {
        if r.label_has(f, kw!("收入总计")) && f.value != total_change.value {
            out.push(finding(
                "NR-16",
                Severity::Warning,
                format!(
                    "“{}{}”称为收入总计的变动，但“{}”中收入总计变动为{}；请核对表述（此处应为一般公共预算财政拨款支出的变动）",
                    f.label, f.printed, r.sections.get(total_change.section).map(|s| s.heading.as_str()).unwrap_or(""), total_change.printed
                ),
                vec![figure_location(r, f, true), figure_location(r, total_change, false)],
                total_change.value,
                f.value,
                Some(Decimal::ZERO),
            ));
        }
    }
    if tv == gv {
        return;
    }
    let all_fiscal = match (
        r.value("公开01", "本年收入合计", "决算数"),
        r.value("公开02", "合计", "财政拨款收入"),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if !all_fiscal {
        return;
    }
    let diff = (tv - gv).abs();
    let explained = r
        .figures
        .iter()
        .any(|f| f.kind == FigureKind::Amount && f.value == Some(diff) && f.direction.is_none());
    if !explained {
        out.push(finding(
            "NR-05",
            Severity::Warning,
            format!(
                "本年收入全部为财政拨款，但收入总计变动（{}）与一般公共预算财政拨款支出变动（{}）相差 {} 万元，情况说明未说明差额来源",
                total_change.printed, gpb_change.printed, fmt(diff)
            ),
            vec![figure_location(r, total_change, false), figure_location(r, gpb_change, true)],
            Some(tv),
            Some(gv),
            Some(Decimal::ZERO),
        ));
    }
}

/// NR-14: amounts and percentages printed with other than two decimals.
fn formatting(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    for f in &r.figures {
        let Some(v) = f.value else { continue };
        let odd = match f.kind {
            FigureKind::Amount => {
                f.unit == MeasureUnit::Wanyuan && (v.scale() == 1 || v.scale() > 2)
            }
            FigureKind::Percent => v.scale() == 1 || v.scale() > 2,
            FigureKind::Count => false,
        };
        if odd {
            out.push(finding(
                "NR-14",
                Severity::Info,
                format!("“{}{}”建议保留两位小数", f.label, f.printed),
                vec![figure_location(r, f, true)],
                None,
                Some(v),
                None,
            ));
        }
    }
}

/// The source lines `first..=last` (1-based) of the document, joined.
fn text_of(r: &FactIndex<'_>, first: u32, last: u32) -> String {
    let (a, b) = (
        first.max(1) as usize - 1,
        (last as usize).min(r.lines.len()),
    );
    if a >= b {
        return String::new();
    }
    r.lines[a..b].join("\n")
}

/// Words that introduce the reason for a change.
const REASON_MARKERS: &[&str] = &["原因", "主要是", "主要用于", "由于", "因为", "系"];

/// NR-06: a change against last year must be followed by its reason within its section.
fn reasons(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if r.lines.is_empty() {
        return;
    }
    let mut done = vec![false; r.sections.len()];
    for f in &r.figures {
        if !matches!(f.direction, Some(Direction::Up | Direction::Down))
            || f.kind == FigureKind::Count
            || done.get(f.section).copied().unwrap_or(true)
        {
            continue;
        }
        let Some(sec) = r.sections.get(f.section) else {
            continue;
        };
        done[f.section] = true;
        let after = text_of(r, f.source.line, sec.last_line);
        let start = after.find(&f.printed).unwrap_or(0);
        if REASON_MARKERS.iter().any(|m| has(&after[start..], m)) {
            continue;
        }
        out.push(finding(
            "NR-06",
            Severity::Warning,
            format!(
                "“{}”中“{}{}”说明了与上年相比的增减变化，但未说明原因（如“主要原因是…”）",
                sec.heading.trim(),
                f.label,
                f.printed
            ),
            vec![figure_location(r, f, true)],
            None,
            f.value,
            None,
        ));
    }
}

/// One required 情况说明 section: the heading (folded) contains one of `any` and none of `none`.
struct Required {
    name: &'static str,
    any: &'static [Key],
    none: &'static [Key],
}

impl Required {
    fn matches(&self, heading: &Folded<'_>) -> bool {
        self.any.iter().any(|k| heading.contains(k))
            && !self.none.iter().any(|k| heading.contains(k))
    }
}

const fn req(name: &'static str, any: &'static [Key], none: &'static [Key]) -> Required {
    Required { name, any, none }
}

/// 决算 情况说明 sections in template order (Shanxi and Shaanxi templates share these).
const FINAL_SECTIONS: &[Required] = &[
    req(
        "收入支出决算总体情况说明",
        &[Key::new("收入支出决算总体"), Key::new("收支决算总体")],
        &[Key::new("财政拨款")],
    ),
    req(
        "收入决算情况说明",
        &[Key::new("收入决算")],
        &[Key::new("财政拨款"), Key::new("支出")],
    ),
    req(
        "支出决算情况说明",
        &[Key::new("支出决算")],
        &[
            Key::new("财政拨款"),
            Key::new("收入"),
            Key::new("三公"),
            Key::new("机关运行"),
        ],
    ),
    req(
        "财政拨款收支决算总体情况说明",
        &[
            Key::new("财政拨款收支决算总体"),
            Key::new("财政拨款收入支出决算总体"),
        ],
        &[],
    ),
    req(
        "一般公共预算财政拨款支出决算情况说明",
        &[Key::new("一般公共预算财政拨款")],
        &[Key::new("基本支出")],
    ),
    req(
        "一般公共预算财政拨款基本支出决算情况说明",
        &[Key::new("一般公共预算财政拨款基本支出")],
        &[],
    ),
    req(
        "政府性基金预算财政拨款收支决算情况说明",
        &[Key::new("政府性基金")],
        &[],
    ),
    req(
        "国有资本经营预算财政拨款支出决算情况说明",
        &[Key::new("国有资本经营")],
        &[],
    ),
    req(
        "财政拨款“三公”经费支出决算情况说明",
        &[Key::new("三公")],
        &[],
    ),
    req("机关运行经费支出情况说明", &[Key::new("机关运行经费")], &[]),
    req("政府采购情况说明", &[Key::new("政府采购")], &[]),
    req("国有资产占用情况说明", &[Key::new("国有资产")], &[]),
    req("预算绩效情况说明", &[Key::new("绩效")], &[]),
];

/// 预算 情况说明 sections in template order (Shanxi 2024 单位预算).
const BUDGET_SECTIONS: &[Required] = &[
    req(
        "收支预算总体及变动情况",
        &[
            Key::new("收支数据变动"),
            Key::new("收支变动"),
            Key::new("收支预算总体"),
        ],
        &[Key::new("财政拨款")],
    ),
    req(
        "收入预算情况说明",
        &[Key::new("收入预算")],
        &[Key::new("财政拨款")],
    ),
    req(
        "支出预算情况说明",
        &[Key::new("支出预算")],
        &[Key::new("财政拨款"), Key::new("一般公共")],
    ),
    req(
        "财政拨款收支预算总体情况说明",
        &[Key::new("财政拨款收支")],
        &[],
    ),
    req(
        "一般公共预算支出情况说明",
        &[Key::new("一般公共预算")],
        &[Key::new("基本支出")],
    ),
    req("一般公共预算基本支出情况说明", &[Key::new("基本支出")], &[]),
    req("“三公”经费说明", &[Key::new("三公")], &[]),
    req("机关运行经费说明", &[Key::new("机关运行经费")], &[]),
    req("政府采购情况", &[Key::new("政府采购")], &[]),
    req("绩效管理情况", &[Key::new("绩效")], &[]),
    req("国有资产占有使用情况", &[Key::new("国有资产")], &[]),
];

/// NR-07: every required section present, in template order. The body starts at the last heading
/// that matches the first required section, so a table of contents does not count.
fn required_sections(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    // The required sections are those of the seed templates' 情况说明; families read by the
    // generic reader (Shanghai 编制说明, Jiangsu per-table 情况说明) structure theirs otherwise.
    if r.sections.is_empty() || r.lines.is_empty() || crate::template::family(&r.family).is_none() {
        return;
    }
    let required = if r.kind == crate::ReportKind::Budget {
        BUDGET_SECTIONS
    } else {
        FINAL_SECTIONS
    };
    let headings: Vec<&Folded<'_>> = (0..r.sections.len())
        .filter_map(|i| r.folded_heading(i))
        .collect();
    let start = match headings.iter().rposition(|h| required[0].matches(h)) {
        Some(i) => i,
        // Only a document that has a 情况说明 at all is checked here (G-01 covers the tables).
        None if !headings
            .iter()
            .any(|h| required.iter().any(|q| q.matches(h))) =>
        {
            return;
        }
        None => 0,
    };
    let mut found: Vec<Option<usize>> = vec![None; required.len()];
    for (i, h) in headings.iter().enumerate().skip(start) {
        if let Some(k) = (0..required.len()).find(|&k| found[k].is_none() && required[k].matches(h))
        {
            found[k] = Some(i);
        }
    }
    let mut last: Option<(usize, &Required)> = None;
    for (q, pos) in required.iter().zip(&found) {
        match pos {
            None => out.push(finding(
                "NR-07",
                Severity::Error,
                format!("情况说明缺少“{}”章节", q.name),
                vec![Location {
                    section: q.name.to_string(),
                    ..Location::default()
                }],
                None,
                None,
                None,
            )),
            Some(i) => {
                if let Some((prev, pq)) = last
                    && *i < prev
                {
                    let s = &r.sections[*i];
                    out.push(finding(
                        "NR-07",
                        Severity::Error,
                        format!(
                            "情况说明章节顺序与模板不一致：“{}”应在“{}”之后",
                            s.heading.trim(),
                            pq.name
                        ),
                        vec![Location {
                            section: s.heading.clone(),
                            line: s.first_line,
                            suspect: true,
                            ..Location::default()
                        }],
                        None,
                        None,
                        None,
                    ));
                    continue;
                }
                last = Some((*i, q));
            }
        }
    }
}

/// Words that state a table is empty.
const EMPTY_MARKERS: &[&str] = &["无", "空表", "不涉及", "未发生", "没有"];

/// NR-08: an empty fund (or 三公) table is stated in the narrative.
fn empty_tables(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if r.sections.is_empty() || r.lines.is_empty() {
        return;
    }
    let checks: &[(&str, &str)] = if r.kind == crate::ReportKind::Budget {
        &[
            ("表7", "政府性基金"),
            ("表8", "政府性基金"),
            ("表9", "国有资本经营"),
            ("表10", "三公"),
        ]
    } else {
        &[("公开07", "政府性基金"), ("公开08", "国有资本经营")]
    };
    for &(table, key) in checks {
        let Some(t) = r.table(table) else { continue };
        if r.facts_of(table).any(|f| !f.value.is_zero()) {
            continue;
        }
        let topic = Key::new(key);
        let stated_in_section = || {
            r.sections.iter().enumerate().any(|(i, s)| {
                r.heading_has(i, &topic) && {
                    let body = text_of(r, s.first_line + 1, s.last_line);
                    EMPTY_MARKERS.iter().any(|m| has(&body, m))
                }
            })
        };
        let stated_as_zero = || {
            r.figures.iter().any(|f| {
                f.kind == FigureKind::Amount
                    && f.value.is_some_and(|v| v.is_zero())
                    && r.label_has(f, &topic)
            })
        };
        let stated_in_text = || {
            r.lines
                .iter()
                .any(|l| has(l, key) && (has(l, "空表") || has(l, "无此项")))
        };
        if stated_in_section() || stated_as_zero() || stated_in_text() {
            continue;
        }
        out.push(finding(
            "NR-08",
            Severity::Error,
            format!(
                "{table} 无数据，但情况说明未说明{key}相关收支为空（如“本年度无此项收支，已公开空表”）"
            ),
            vec![Location {
                table: table.to_string(),
                line: t.line,
                ..Location::default()
            }],
            None,
            None,
            None,
        ));
    }
}

/// NR-11: shares of one whole listed in one section add up to 100 %.
fn share_sums(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let mut i = 0;
    let figs = &r.figures;
    while i < figs.len() {
        let f = &figs[i];
        // The label is only folded for figures that can be shares.
        let is_share = |g: &Figure| {
            g.kind == FigureKind::Percent
                && g.value.is_some()
                && g.direction.is_none()
                && r.label(g).starts_with('占')
        };
        if !is_share(f) {
            i += 1;
            continue;
        }
        let label = r.label(f);
        // A run of shares with the same label in the same section (amounts may sit between them).
        let mut group = vec![f];
        let mut j = i + 1;
        while j < figs.len() && figs[j].section == f.section {
            let g = &figs[j];
            if g.kind == FigureKind::Percent {
                if is_share(g) && r.label(g) == label {
                    group.push(g);
                } else {
                    break;
                }
            }
            j += 1;
        }
        i = j.max(i + 1);
        if group.len() < 2 {
            continue;
        }
        let sum: Decimal = group.iter().filter_map(|g| g.value).sum();
        let hundred = Decimal::ONE_HUNDRED;
        let tol = Decimal::new(1, 2) * Decimal::from(group.len() as u64);
        let gap = sum - hundred;
        // Above 100 % is impossible; far below it is an incomplete list, not an error.
        if gap.abs() <= tol || gap < -Decimal::ONE {
            continue;
        }
        out.push(finding(
            "NR-11",
            Severity::Info,
            format!(
                "“{}”所列 {} 项占比（{}）合计 {}%，与 100% 相差 {} 个百分点",
                r.sections
                    .get(f.section)
                    .map(|s| s.heading.trim())
                    .unwrap_or(""),
                group.len(),
                group
                    .iter()
                    .map(|g| g.printed.trim_start_matches(['占', '比']).to_string())
                    .collect::<Vec<_>>()
                    .join("、"),
                fmt(sum),
                fmt(gap)
            ),
            group.iter().map(|g| figure_location(r, g, false)).collect(),
            Some(hundred),
            Some(sum),
            Some(tol),
        ));
    }
}

/// NR-13: «项目绩效自评个数N个 … a个项目自评等级为“优”，b个…» ⇒ N = a + b + ….
fn performance_counts(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let figs = &r.figures;
    let mut i = 0;
    while i < figs.len() {
        let total = &figs[i];
        i += 1;
        if total.kind != FigureKind::Count
            || !total.printed.ends_with('个')
            || !r.label_has(total, kw!("个数"))
            || !r.heading_has(total.section, kw!("绩效"))
        {
            continue;
        }
        let line = total.source.line;
        let text = total.source.text.as_str();
        let mut cursor = text
            .find(&total.printed)
            .map_or(0, |p| p + total.printed.len());
        let mut parts: Vec<&Figure> = Vec::new();
        let mut j = i;
        while j < figs.len() && figs[j].source.line == line {
            let g = &figs[j];
            j += 1;
            let Some(p) = text[cursor..].find(&g.printed).map(|p| p + cursor) else {
                break;
            };
            cursor = p + g.printed.len();
            let after: String = text[cursor..].chars().take(12).collect();
            if g.kind == FigureKind::Count && g.printed.ends_with('个') && after.contains("等级")
            {
                parts.push(g);
            }
        }
        if parts.len() < 2 {
            continue;
        }
        let sum: Decimal = parts.iter().filter_map(|p| p.value).sum();
        let tv = total.value.unwrap_or_default();
        if sum == tv {
            continue;
        }
        let mut locs = vec![figure_location(r, total, true)];
        locs.extend(parts.iter().map(|p| figure_location(r, p, false)));
        out.push(finding(
            "NR-13",
            Severity::Warning,
            format!(
                "“{}{}”与各自评等级项目数之和（{}，合计 {} 个）不一致",
                total.label,
                total.printed,
                parts
                    .iter()
                    .map(|p| p.printed.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                sum
            ),
            locs,
            Some(sum),
            Some(tv),
            Some(Decimal::ZERO),
        ));
    }
}
