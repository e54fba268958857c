//! Structure rules (G-*): required tables, empty-table statements, code hierarchy, garbled years.

use super::{FactIndex, Finding, Location, Severity};
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
        "解析器无法归位的行或单元格逐条列出，需人工核对。",
    ),
];

pub(super) fn check(report: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let Some(family) = template::family(&report.family) else {
        return;
    };
    // G-01 required tables.
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
    for t in &report.tables {
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
        // G-05 hierarchy rows present.
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
    // G-08 unplaced content.
    for u in &report.unplaced {
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
