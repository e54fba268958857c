//! Cross-table and metadata rules that need judgement: 机关运行经费 and unit type, 三公 against
//! 公开06, economic against functional classification, project tables, vehicles.

use rust_decimal::Decimal;

use super::index::kw;
use super::{Context, FactIndex, Finding, Location, Severity, fmt};
use crate::model::{Figure, FigureKind, Scope, UnitType};
use crate::parse::text::has;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "JS03-4",
        Severity::Warning,
        "XT",
        "全部为财政拨款时收支按科目一致",
        "收入全部为财政拨款且无结转结余时，每个科目 公开02 本年收入合计 应等于 公开03 本年支出合计。",
    ),
    (
        "JS06-4",
        Severity::Error,
        "IT",
        "基本建设类科目不得列支",
        "公开06 中印为“——”的 309/311 资本性支出（基本建设）等单元格不得有金额。",
    ),
    (
        "JS06-5",
        Severity::Warning,
        "XT",
        "社保缴费与功能科目对应",
        "基本支出中 30108 机关事业单位基本养老保险缴费 ≈ 2080505，30109 职业年金缴费 ≈ 2080506，30113 住房公积金 ≈ 2210201。",
    ),
    (
        "JS09-3",
        Severity::Warning,
        "XT",
        "三公决算不小于对应经济科目",
        "公开09 决算数 ≥ 公开06 对应科目：30231 ≤ 公务用车运行维护费，30217 ≤ 公务接待费，30212 ≤ 因公出国（境）费，30215 ≤ 会议费，30216 ≤ 培训费。",
    ),
    (
        "JS09-4",
        Severity::Warning,
        "XT",
        "有公务用车运行维护费须有车辆",
        "公务用车运行维护费 > 0 时，公开10/国有资产说明的车辆数应 > 0。",
    ),
    (
        "JS10-3",
        Severity::Error,
        "XT",
        "机关运行经费仅限行政及参公单位",
        "机关运行经费只适用于行政单位和参照公务员法管理的事业单位；事业单位应为空，且不得超过公用经费合计；部门汇总含事业单位时不应等于全部公用经费。需提供单位性质。",
    ),
    (
        "NR-09",
        Severity::Warning,
        "NA",
        "公务用车保有量与车辆数一致",
        "“三公”说明中的公务用车保有量与公开10 车辆数合计一致。",
    ),
    (
        "NR-12",
        Severity::Error,
        "NA",
        "政府采购金额构成正确",
        "情况说明中的政府采购支出总额 = 货物 + 工程 + 服务，且与公开10 一致。",
    ),
    (
        "YS12",
        Severity::Warning,
        "XT",
        "预算机关运行经费与单位性质",
        "表11 机关运行经费：仅行政/参公单位；不超过表6 公用经费。",
    ),
    (
        "YS13",
        Severity::Error,
        "XT",
        "项目支出预算表与表5 一致",
        "表12 项目（不含单位小计行）合计 = 表5 项目支出合计。",
    ),
    (
        "YS14",
        Severity::Error,
        "XT",
        "上年结转项目表与表1 一致",
        "表13 项目（不含单位小计行）合计 = 表1 上年结转；单位小计行不得与项目行重复相加。",
    ),
];

fn cell(r: &FactIndex<'_>, table: &str, row: &str, column: &str) -> Location {
    r.cell_location(table, row, column)
}

fn push(
    out: &mut Vec<Finding>,
    id: &str,
    severity: Severity,
    message: String,
    locations: Vec<Location>,
    expected: Option<Decimal>,
    actual: Option<Decimal>,
) {
    out.push(Finding::new(
        id, severity, message, locations, expected, actual, None,
    ));
}

/// A narrative figure that must equal the 公开10 统计数 of `row` (`cell`): a finding pointing at
/// the figure (the suspect) and the cell when it does not. `message` is only built for a finding.
#[allow(clippy::too_many_arguments)]
fn figure_vs_cell(
    r: &FactIndex<'_>,
    out: &mut Vec<Finding>,
    id: &str,
    severity: Severity,
    f: &Figure,
    row: &str,
    cell_value: Decimal,
    message: impl FnOnce() -> String,
) {
    if f.value.is_none_or(|x| x == cell_value) {
        return;
    }
    let figure = Location {
        line: f.source.line,
        text: f.source.text.clone(),
        suspect: true,
        ..Location::default()
    };
    push(
        out,
        id,
        severity,
        message(),
        vec![figure, cell(r, "公开10", row, "统计数")],
        Some(cell_value),
        f.value,
    );
}

pub(super) fn check(r: &FactIndex<'_>, ctx: &Context, out: &mut Vec<Finding>) {
    let unit_type = ctx.unit_type.or(r.unit_type);
    // JS06-4: «——» cells with amounts cannot happen in the model (a dash is not an amount), but a
    // 309/311 amount in a Shanxi 公开06 can.
    for row in ["309", "311"] {
        if let Some(v) = r.value("公开06", row, "决算数")
            && !v.is_zero()
            && r.family == "shanxi-js"
        {
            push(
                out,
                "JS06-4",
                Severity::Error,
                format!(
                    "公开06 {row} 基本建设类支出不得在基本支出中列支，现为 {} 万元",
                    fmt(v)
                ),
                vec![cell(r, "公开06", row, "决算数")],
                Some(Decimal::ZERO),
                Some(v),
            );
        }
    }
    // JS06-5: social insurance codes against functional 项 of 基本支出.
    let (econ_table, econ_col, func_table, func_col) = if r.kind == crate::ReportKind::Budget {
        ("表6", "人员经费", "表5", "基本支出")
    } else {
        ("公开06", "决算数", "公开05", "基本支出")
    };
    if r.table(econ_table).is_some() && r.table(func_table).is_some() {
        for (econ, func, name) in [
            ("30108", "2080505", "机关事业单位基本养老保险缴费"),
            ("30109", "2080506", "职业年金缴费"),
            ("30113", "2210201", "住房公积金"),
        ] {
            let Some(e) = r.value(econ_table, econ, econ_col) else {
                continue;
            };
            if e.is_zero() {
                continue;
            }
            if r.is_unreadable(func_table, func, func_col) {
                continue;
            }
            let f = r.value(func_table, func, func_col).unwrap_or_default();
            if e != f {
                push(
                    out,
                    "JS06-5",
                    Severity::Warning,
                    format!(
                        "{econ_table} {econ} {name} {} 万元，而 {func_table} 功能科目 {func} 基本支出为 {} 万元，请核实科目对应",
                        fmt(e),
                        fmt(f)
                    ),
                    vec![
                        cell(r, econ_table, econ, econ_col),
                        cell(r, func_table, func, func_col),
                    ],
                    Some(e),
                    Some(f),
                );
            }
        }
    }
    // JS09-3: 三公 决算 ≥ economic items.
    for (econ, col) in [
        ("30231", "公务用车运行维护费"),
        ("30217", "公务接待费"),
        ("30212", "因公出国（境）费"),
        ("30215", "会议费"),
        ("30216", "培训费"),
    ] {
        let Some(e) = r.value("公开06", econ, "决算数") else {
            continue;
        };
        if r.table("公开09").is_none()
            || !r.facts_of("公开09").any(|f| f.column == col)
                && (col == "会议费" || col == "培训费")
        {
            continue;
        }
        if r.is_unreadable("公开09", "决算数", col) {
            continue;
        }
        let s = r.value("公开09", "决算数", col).unwrap_or_default();
        if e > s {
            push(
                out,
                "JS09-3",
                Severity::Warning,
                format!(
                    "公开06 {econ} 基本支出 {} 万元大于 公开09 {col} 决算数 {} 万元",
                    fmt(e),
                    fmt(s)
                ),
                vec![
                    cell(r, "公开06", econ, "决算数"),
                    cell(r, "公开09", "决算数", col),
                ],
                Some(s),
                Some(e),
            );
        }
    }
    // Vehicles: from 公开10 or the narrative «共有车辆N辆».
    let vehicles = r.value("公开10", "车辆数合计", "统计数").or_else(|| {
        r.figures
            .iter()
            .find(|f| {
                f.kind == FigureKind::Count
                    && f.printed.ends_with('辆')
                    && r.label_has(f, kw!("车辆"))
            })
            .and_then(|f| f.value)
    });
    if let Some(upkeep) = r.value("公开09", "决算数", "公务用车运行维护费")
        && !upkeep.is_zero()
        && vehicles.is_some_and(|v| v.is_zero())
    {
        push(
            out,
            "JS09-4",
            Severity::Warning,
            format!("公务用车运行维护费决算 {} 万元，但车辆数为 0", fmt(upkeep)),
            vec![cell(r, "公开09", "决算数", "公务用车运行维护费")],
            None,
            Some(upkeep),
        );
    }
    // NR-09: 公务用车保有量 in the 三公 narrative.
    if let Some(v) = r.value("公开10", "车辆数合计", "统计数") {
        for f in r
            .figures
            .iter()
            .filter(|f| f.kind == FigureKind::Count && r.label_has(f, kw!("保有量")))
        {
            let message = || {
                format!(
                    "“{}{}”与公开10 车辆数合计 {} 辆不一致",
                    f.label, f.printed, v
                )
            };
            figure_vs_cell(
                r,
                out,
                "NR-09",
                Severity::Warning,
                f,
                "车辆数合计",
                v,
                message,
            );
        }
    }
    // NR-12: 政府采购 narrative total against 公开10.
    if let Some(total) = r.value("公开10", "政府采购合计", "统计数")
        && let Some(f) = r
            .figures
            .iter()
            .find(|f| f.kind == FigureKind::Amount && r.label_has(f, kw!("政府采购支出总额")))
    {
        let message = || {
            format!(
                "情况说明政府采购支出总额{}与公开10 政府采购合计 {} 万元不一致",
                f.printed,
                fmt(total)
            )
        };
        figure_vs_cell(
            r,
            out,
            "NR-12",
            Severity::Error,
            f,
            "政府采购合计",
            total,
            message,
        );
    }
    operating_expenses(r, unit_type, out);
    project_tables(r, out);
    fiscal_rows(r, out);
}

/// JS10-3 / YS12: 机关运行经费 only for 行政/参公, never above 公用经费.
fn operating_expenses(r: &FactIndex<'_>, unit_type: Option<UnitType>, out: &mut Vec<Finding>) {
    let (op, op_loc, public) = if r.kind == crate::ReportKind::Budget {
        let op = r.value("表11", "部门合计", "合计").or_else(|| {
            r.facts_of("表11")
                .find(|f| f.column == "合计")
                .map(|f| f.value)
        });
        (
            op,
            cell(r, "表11", "部门合计", "合计"),
            r.value("表6", "合计", "公用经费"),
        )
    } else {
        let a = r.value("公开10", "机关运行经费.行政单位", "统计数");
        let b = r.value("公开10", "机关运行经费.参照公务员法管理事业单位", "统计数");
        let from_table = match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
        };
        // Only looked for when the table has no figure.
        let narrative = || {
            r.figures
                .iter()
                .filter(|f| {
                    f.kind == FigureKind::Amount
                        && r.sections
                            .get(f.section)
                            .is_some_and(|s| has(&s.heading, "机关运行经费"))
                })
                .find(|f| r.label_has(f, kw!("决算")))
                .and_then(|f| f.value)
        };
        (
            from_table.or_else(narrative),
            cell(r, "公开10", "机关运行经费.行政单位", "统计数"),
            r.value("公开06", "公用经费合计", "决算数"),
        )
    };
    let id = if r.kind == crate::ReportKind::Budget {
        "YS12"
    } else {
        "JS10-3"
    };
    let Some(op) = op.filter(|v| !v.is_zero()) else {
        return;
    };
    if let Some(p) = public
        && op > p
    {
        push(
            out,
            id,
            Severity::Error,
            format!(
                "机关运行经费 {} 万元超过公用经费合计 {} 万元",
                fmt(op),
                fmt(p)
            ),
            vec![op_loc.clone()],
            Some(p),
            Some(op),
        );
    }
    match (unit_type, r.scope) {
        (Some(UnitType::Institution), Scope::Unit) => push(
            out,
            id,
            Severity::Error,
            format!("事业单位不应填报机关运行经费（现为 {} 万元）", fmt(op)),
            vec![op_loc],
            Some(Decimal::ZERO),
            Some(op),
        ),
        (None, Scope::Unit) => push(
            out,
            id,
            Severity::Info,
            format!(
                "机关运行经费 {} 万元：需提供单位性质（行政/参公/事业）以核对是否适用",
                fmt(op)
            ),
            vec![op_loc],
            None,
            Some(op),
        ),
        (_, Scope::Department) if public == Some(op) => push(
            out,
            id,
            Severity::Warning,
            format!(
                "部门机关运行经费 {} 万元等于全部公用经费；若部门含事业单位，机关运行经费应只含行政/参公单位的公用经费，请核实",
                fmt(op)
            ),
            vec![op_loc],
            None,
            Some(op),
        ),
        _ => {}
    }
}

/// YS13/YS14: project tables against 表5 and 表1, leaf rows only.
fn project_tables(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    for (id, table, target, label) in [
        ("YS13", "表12", ("表5", "合计", "项目支出"), "表5 项目支出"),
        (
            "YS14",
            "表13",
            ("表1", "210", "上年结转安排"),
            "表1 上年结转",
        ),
    ] {
        let Some(t) = r.table(table) else { continue };
        let leaf: Decimal = r
            .facts_of(table)
            .filter(|f| f.column == "合计" && !t.rows.iter().any(|x| x.key == f.row && x.subtotal))
            .map(|f| f.value)
            .sum();
        if leaf.is_zero() {
            continue;
        }
        let expected = if id == "YS14" {
            r.value("表1", "上年结转", "预算数")
        } else {
            r.value(target.0, target.1, target.2)
        };
        let Some(expected) = expected else { continue };
        if leaf != expected {
            push(
                out,
                id,
                Severity::Error,
                format!(
                    "{table} 项目合计 {} 万元与 {label} {} 万元不一致（单位小计行不计入）",
                    fmt(leaf),
                    fmt(expected)
                ),
                vec![Location {
                    table: table.into(),
                    line: t.line,
                    ..Location::default()
                }],
                Some(expected),
                Some(leaf),
            );
        }
    }
}

/// JS03-4: income all 财政拨款 and no carry-over ⇒ per code 公开02 = 公开03.
fn fiscal_rows(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let all_fiscal = matches!((r.value("公开01", "本年收入合计", "决算数"), r.value("公开02", "合计", "财政拨款收入")), (Some(a), Some(b)) if a == b);
    let no_carry = r
        .value("公开01", "年初结转和结余", "决算数")
        .unwrap_or_default()
        .is_zero()
        && r.value("公开01", "年末结转和结余", "决算数")
            .unwrap_or_default()
            .is_zero();
    if !all_fiscal || !no_carry {
        return;
    }
    for f in r.facts_of("公开02").filter(|f| f.column == "本年收入合计") {
        let spent = r
            .value("公开03", &f.row, "本年支出合计")
            .unwrap_or_default();
        if spent != f.value {
            push(
                out,
                "JS03-4",
                Severity::Warning,
                format!(
                    "收入全部为财政拨款且无结转，但 {} 公开02 收入 {} 万元 ≠ 公开03 支出 {} 万元",
                    f.row,
                    fmt(f.value),
                    fmt(spent)
                ),
                vec![
                    cell(r, "公开02", &f.row, "本年收入合计"),
                    cell(r, "公开03", &f.row, "本年支出合计"),
                ],
                Some(f.value),
                Some(spent),
            );
        }
    }
}
