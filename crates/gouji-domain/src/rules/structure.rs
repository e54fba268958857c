//! Structure rules (G-*): required tables, empty-table statements, code hierarchy, garbled years.

use super::{FactIndex, Finding, Location, Severity};
use crate::catalog;
use crate::codes::{self, Level};
use crate::template;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "G-01",
        Severity::Error,
        "ST",
        "必须公开的表格齐全",
        "模板族要求的每张表（决算 公开01–09/10，预算 表1–13）都已公开；缺表为错误。",
    ),
    (
        "G-02",
        Severity::Error,
        "ST",
        "表头单位名称与报告主体一致",
        "每张表的部门/单位名称应与报告主体一致（汇总报告允许带“(汇总)”）。",
    ),
    (
        "G-03",
        Severity::Error,
        "ST",
        "空表须说明理由",
        "没有数据的表也要公开，并注明“本表无数据”或不涉及的理由。",
    ),
    (
        "G-04",
        Severity::Error,
        "XT",
        "声明为空的表不得有数",
        "声明为空表的表格不得出现非零金额；公开04 政府性基金/国有资本经营列为 0 时 公开07/08 应为空表。",
    ),
    (
        "G-05",
        Severity::Error,
        "ST",
        "功能分类科目层级完整",
        "每个项级科目上方应有其款级、类级科目行（表格列出层级时）；代码须为 3/5/7 位。",
    ),
    (
        "G-06",
        Severity::Warning,
        "ST",
        "年度无乱码",
        "文中出现的“XXXX年度”应为合理年份（OCR 乱码如“9094年度”需更正）。",
    ),
    (
        "G-08",
        Severity::Warning,
        "ST",
        "解析无遗漏",
        "解析器无法归位的行或单元格逐条列出，需人工核对；无法识别的金额单元格指明表、行、列。",
    ),
    (
        "G-09",
        Severity::Info,
        "ST",
        "报表格式未识别",
        "文档不属于任何已描述的省份模板：表格按表名与表头读取，报告注明这一点。",
    ),
    (
        "G-10",
        Severity::Info,
        "ST",
        "发现过多未全部列出",
        "一条规则的发现超过 500 条（或一份报告超过 10,000 条）时只列出前面的，其余的条数另列一条，严重程度与被截断的规则相同（截断错误时报告仍为不通过）。",
    ),
];

pub(super) fn check(report: &FactIndex<'_>, out: &mut Vec<Finding>) {
    if let Some(family) = template::family(&report.family) {
        required_tables(report, family, out);
    } else if report.family == catalog::UNKNOWN_FAMILY && !report.tables.is_empty() {
        out.push(simple(
            "G-09",
            Severity::Info,
            "未识别报表格式（无对应的省份模板）：表格按表名与表头读取，请核对读取结果".into(),
            String::new(),
            0,
        ));
    }
    tables(report, template::family(&report.family).is_some(), out);
    years_and_unplaced(report, out);
}

/// G-01: every table the seed template family requires is published.
fn required_tables(report: &FactIndex<'_>, family: &template::Family, out: &mut Vec<Finding>) {
    if !report.tables.is_empty() {
        for t in &family.tables {
            if report.table(&t.id).is_none() {
                out.push(Finding {
                    rule_id: "G-01".into(),
                    severity: Severity::Error,
                    message: format!(
                        "缺少 {}（{}）：该表必须公开，无数据时应公开空表并说明理由",
                        t.id, t.titles[0]
                    ),
                    locations: vec![Location {
                        table: t.id.clone(),
                        ..Location::default()
                    }],
                    expected: None,
                    actual: None,
                    difference: None,
                    tolerance: None,
                });
            }
        }
    }
}

/// G-02 to G-04 on the tables of a seed template family (`template`), G-05 on every table.
///
/// G-02..G-04 stay with the seed templates: on the generic families the entity a header prints is
/// often the unit's full official name (中国共产党江苏省委员会办公厅 for 江苏省委办公厅), and an empty
/// table is printed with its blank 合计 row and explained in the 情况说明 (NR-08's concern), so
/// both would be false alarms.
fn tables(report: &FactIndex<'_>, template: bool, out: &mut Vec<Finding>) {
    for t in &report.tables {
        if !template {
            missing_parents(t, out);
            continue;
        }
        let n_facts = report.facts_of(&t.id).count();
        let nonzero = report.facts_of(&t.id).any(|f| !f.value.is_zero());
        // G-03 empty table without a statement.
        if n_facts == 0 && t.empty_reason.is_none() {
            out.push(simple(
                "G-03",
                Severity::Error,
                format!(
                    "{} 无数据，但未说明空表理由（如“本表无数据”“本单位不涉及”）",
                    t.id
                ),
                t.id.clone(),
                t.line,
            ));
        }
        // G-04 declared empty but has amounts.
        if t.empty_reason.is_some() && nonzero {
            out.push(simple(
                "G-04",
                Severity::Error,
                format!(
                    "{} 声明为空表（{}），但表中有非零金额",
                    t.id,
                    t.empty_reason.clone().unwrap_or_default()
                ),
                t.id.clone(),
                t.line,
            ));
        }
        // G-02 entity name.
        if let Some(entity) = &t.entity {
            let strip = |s: &str| s.replace("(汇总)", "").replace("（汇总）", "");
            // Without «汇» neither name has anything to strip.
            let differs = if entity.contains('汇') || report.subject.contains('汇') {
                strip(entity) != strip(&report.subject)
            } else {
                *entity != report.subject
            };
            if !report.subject.is_empty() && differs {
                out.push(simple(
                    "G-02",
                    Severity::Error,
                    format!(
                        "{} 表头单位“{}”与报告主体“{}”不一致",
                        t.id, entity, report.subject
                    ),
                    t.id.clone(),
                    t.line,
                ));
            }
        }
        missing_parents(t, out);
    }
    // G-04 cross-table: 公开04 fund column nonzero while 公开07 is empty.
    for (fund_col, table) in [
        ("政府性基金预算财政拨款", "公开07"),
        ("国有资本经营预算财政拨款", "公开08"),
    ] {
        if let (Some(v), Some(t)) = (
            report.value("公开04", "本年支出合计", fund_col),
            report.table(table),
        ) && !v.is_zero()
            && report.facts_of(table).next().is_none()
        {
            out.push(simple(
                "G-04",
                Severity::Error,
                format!(
                    "公开04 {fund_col} 支出为 {}，但 {table} 为空表",
                    super::fmt(v)
                ),
                table.to_string(),
                t.line,
            ));
        }
    }
}

/// G-06 garbled years and G-08 what the reader could not place, for every family.
fn years_and_unplaced(report: &FactIndex<'_>, out: &mut Vec<Finding>) {
    // G-06 garbled years (found by the parser: `Report::year_mentions`).
    for m in &report.year_mentions {
        let y = m.year;
        if report.year > 0 && (y < 1949 || y > report.year + 2) {
            let text = report
                .lines
                .get((m.line as usize).wrapping_sub(1))
                .cloned()
                .unwrap_or_default();
            out.push(Finding {
                rule_id: "G-06".into(),
                severity: Severity::Warning,
                message: format!(
                    "第{}行出现不合理的年度“{}年度”（报告年度 {}），疑为录入或识别错误",
                    m.line, y, report.year
                ),
                locations: vec![Location {
                    line: m.line,
                    text,
                    suspect: true,
                    ..Location::default()
                }],
                expected: Some(report.year.into()),
                actual: Some(y.into()),
                difference: None,
                tolerance: None,
            });
        }
    }
    // G-08: every unreadable cell, pointing at the cell (table, row, column, source line); then
    // the other content the reader could not place, by line.
    let mut cell_lines: Vec<u32> = Vec::new();
    // 绩效 tables print targets as text (≥95%, 按时完成) under their value columns: those cells
    // are not amounts, so they are not reported as unreadable amounts.
    for t in report
        .tables
        .iter()
        .filter(|t| !t.id.starts_with("performance_"))
    {
        for (row, column) in &t.unreadable {
            let line = t.rows.iter().find(|x| &x.key == row).map_or(0, |x| x.line);
            cell_lines.push(line);
            out.push(Finding {
                rule_id: "G-08".into(),
                severity: Severity::Warning,
                message: format!(
                    "{} {row} {column} 的金额无法识别（未按 0 计算），依赖该单元格的核对不适用，需人工核对",
                    t.id
                ),
                locations: vec![Location {
                    table: t.id.clone(),
                    row: row.clone(),
                    column: column.clone(),
                    line,
                    text: report
                        .lines
                        .get((line as usize).wrapping_sub(1))
                        .cloned()
                        .unwrap_or_default(),
                    suspect: true,
                    ..Location::default()
                }],
                expected: None,
                actual: None,
                difference: None,
                tolerance: None,
            });
        }
    }
    for u in report
        .unplaced
        .iter()
        .filter(|u| !cell_lines.contains(&u.line))
    {
        out.push(Finding {
            rule_id: "G-08".into(),
            severity: Severity::Warning,
            message: format!("第{}行内容未能归入表格：{}", u.line, u.reason),
            locations: vec![Location {
                line: u.line,
                text: u.text.clone(),
                ..Location::default()
            }],
            expected: None,
            actual: None,
            difference: None,
            tolerance: None,
        });
    }
}

/// G-05: every 项 code row has its 款 and 类 rows above it.
fn missing_parents(t: &crate::model::Table, out: &mut Vec<Finding>) {
    let has_lei = t
        .rows
        .iter()
        .any(|r| codes::functional_level(&r.key) == Some(Level::Lei));
    if has_lei {
        // Only 3- and 5-byte keys can be a 类 or 款 prefix; a sorted list of the few of them
        // is cheaper to build and search than a hash set.
        let mut rows: Vec<&str> = t
            .rows
            .iter()
            .map(|r| r.key.as_str())
            .filter(|k| k.len() == 3 || k.len() == 5)
            .collect();
        rows.sort_unstable();
        let present = |k: &str| rows.binary_search(&k).is_ok();
        for r in t
            .rows
            .iter()
            .filter(|r| codes::functional_level(&r.key) == Some(Level::Xiang))
        {
            let kuan = &r.key[..5];
            let lei = &r.key[..3];
            if !present(kuan) || !present(lei) {
                out.push(simple(
                    "G-05",
                    Severity::Error,
                    format!(
                        "{} 项级科目 {} {} 缺少其上级科目行（{} / {}）",
                        t.id, r.key, r.label, lei, kuan
                    ),
                    t.id.clone(),
                    r.line,
                ));
            }
        }
    }
}

fn simple(id: &str, severity: Severity, message: String, table: String, line: u32) -> Finding {
    Finding {
        rule_id: id.into(),
        severity,
        message,
        locations: vec![Location {
            table,
            line,
            ..Location::default()
        }],
        expected: None,
        actual: None,
        difference: None,
        tolerance: None,
    }
}
