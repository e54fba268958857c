//! The five seed reports parse into the right cells, counts and narrative figures.
//!
//! Cell counts per table were established by reading each table in the document and counting
//! every non-empty numeric cell (行次 and 栏次 excluded, «——» excluded); for example S0 公开06
//! has 10 人员经费 amounts + 10 商品和服务 amounts + 310/31002 + the two 合计 = 24, and S0 公开02
//! has 20 coded rows × 2 filled columns = 40.

mod common;

use common::seed;
use gouji_domain::model::FigureKind;
use gouji_domain::{Report, ReportKind, Scope};
use rust_decimal::Decimal;

#[track_caller]
fn cell(r: &Report, table: &str, row: &str, column: &str, printed: &str) {
    let f = r
        .fact(table, row, column)
        .unwrap_or_else(|| panic!("{table} {row} {column} missing in {}", r.subject));
    assert_eq!(f.value.to_string(), printed, "{table} {row} {column}");
    assert!(
        f.source.line > 0 && r.lines[f.source.line as usize - 1] == f.source.text,
        "provenance of {table} {row}"
    );
}

#[track_caller]
fn counts(r: &Report, expected: &[(&str, usize)]) {
    let got: Vec<(String, usize)> = r.cell_counts();
    // Template tables only: tables beyond the template (绩效自评表 …) carry an `@line` suffix.
    let got: Vec<(&str, usize)> = got
        .iter()
        .filter(|(t, _)| !t.contains('@'))
        .map(|(t, n)| (t.as_str(), *n))
        .collect();
    assert_eq!(got, expected, "cells per table of {}", r.subject);
}

#[track_caller]
fn figure(r: &Report, label_contains: &str, value: &str) {
    assert!(
        r.figures.iter().any(|f| f.label.contains(label_contains)
            && f.value.map(|v| v.to_string()).as_deref() == Some(value)),
        "narrative figure «{label_contains}{value}» not found"
    );
}

#[test]
fn s0_shanxi_final_accounts_unit() {
    let Some(r) = seed(0) else { return };
    assert_eq!(
        (r.subject.as_str(), r.year, r.kind, r.scope),
        (
            "柳林县医疗保险服务中心",
            2024,
            ReportKind::FinalAccounts,
            Scope::Unit
        )
    );
    assert_eq!(r.family, "shanxi-js");
    counts(
        &r,
        &[
            ("公开01", 8),
            ("公开02", 40),
            ("公开03", 43),
            ("公开04", 13),
            ("公开05", 43),
            ("公开06", 24),
            ("公开07", 0),
            ("公开08", 0),
            ("公开09", 6),
            ("公开10", 4),
        ],
    );
    cell(
        &r,
        "公开01",
        "一般公共预算财政拨款收入",
        "决算数",
        "2781.88",
    );
    cell(&r, "公开01", "210", "决算数", "2686.87");
    cell(&r, "公开01", "支出总计", "决算数", "2781.88");
    cell(&r, "公开02", "2101550", "财政拨款收入", "354.77");
    cell(&r, "公开03", "合计", "项目支出", "2274.08");
    cell(&r, "公开03", "21015", "基本支出", "391.81");
    cell(
        &r,
        "公开04",
        "本年支出合计",
        "一般公共预算财政拨款",
        "2781.88",
    );
    cell(&r, "公开05", "2101599", "项目支出", "125.87");
    cell(&r, "公开06", "30226", "决算数", "19.52");
    cell(&r, "公开06", "30107", "决算数", "113.46");
    cell(&r, "公开06", "31002", "决算数", "0.40");
    cell(&r, "公开06", "人员经费合计", "决算数", "471.80");
    cell(&r, "公开06", "公用经费合计", "决算数", "35.99");
    cell(&r, "公开09", "决算数", "公务用车运行维护费", "4.00");
    cell(&r, "公开09", "预算数", "合计", "4.00");
    cell(&r, "公开10", "政府采购合计", "统计数", "84.26");
    cell(&r, "公开10", "车辆数合计", "统计数", "2");
    assert!(
        r.table("公开07")
            .unwrap()
            .empty_reason
            .as_deref()
            .unwrap()
            .contains("本表无数据")
    );
    assert!(
        r.table("公开06")
            .unwrap()
            .dashes
            .iter()
            .any(|(row, _)| row == "30902"),
        "«——» cells of 309 are kept as dashes"
    );
    figure(&r, "绩效工资", "113.45");
    figure(&r, "劳务费", "19.92");
    assert!(r.unplaced.is_empty(), "{:?}", r.unplaced);
}

#[test]
fn s1_shanxi_final_accounts_2023() {
    let Some(r) = seed(1) else { return };
    assert_eq!(
        (r.subject.as_str(), r.year),
        ("高平市医疗保险服务中心", 2023)
    );
    counts(
        &r,
        &[
            ("公开01", 9),
            ("公开02", 50),
            ("公开03", 53),
            ("公开04", 15),
            ("公开05", 53),
            ("公开06", 22),
            ("公开07", 0),
            ("公开08", 0),
            ("公开09", 8),
            ("公开10", 5),
        ],
    );
    cell(&r, "公开03", "2101301", "项目支出", "1223.32");
    figure(&r, "工资福利支出", "316.17");
    assert!(
        r.figures.iter().any(|f| f.printed.contains('∞')),
        "«增长∞%» is kept as a figure without a value"
    );
    assert!(r.unplaced.is_empty(), "{:?}", r.unplaced);
}

#[test]
fn s2_shanxi_budget_tables_1_to_13() {
    let Some(r) = seed(2) else { return };
    assert_eq!(
        (r.subject.as_str(), r.year, r.kind),
        ("忻州市医疗保险服务中心", 2024, ReportKind::Budget)
    );
    counts(
        &r,
        &[
            ("表1", 19),
            ("表2", 46),
            ("表3", 45),
            ("表4", 17),
            ("表5", 45),
            ("表6", 45),
            ("表7", 0),
            ("表8", 0),
            ("表9", 0),
            ("表10", 0),
            ("表11", 4),
            ("表12", 20),
            ("表13", 6),
        ],
    );
    cell(&r, "表1", "上年结转", "预算数", "150.00");
    cell(&r, "表1", "210", "上年结转安排", "150.00");
    cell(&r, "表6", "30101", "人员经费", "105.53");
    cell(&r, "表6", "合计", "公用经费", "51.78");
    let projects: Vec<String> = [
        "市直离休干部医药费",
        "一至六级伤残军人医药费",
        "建国前老工人医药费",
        "2024年中央财政医疗服务与保障能力提升补助资金",
        "离休业务经办费",
        "职工及城乡居民医疗保险经费",
        "信息系统设备使用维护及资产购置费",
        "驻村帮扶干部补助经费",
        "慢特病认定和医药机构评估费",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let values = [
        "600.00", "15.00", "5.00", "30.00", "15.00", "30.00", "6.00", "5.60", "5.00",
    ];
    for (p, v) in projects.iter().zip(values) {
        cell(&r, "表12", p, "合计", v);
    }
    cell(&r, "表12", "忻州市医疗保险服务中心", "合计", "711.60");
    let t12 = r.table("表12").unwrap();
    assert!(
        t12.rows
            .iter()
            .find(|x| x.key == "忻州市医疗保险服务中心")
            .unwrap()
            .subtotal
    );
    let sum: Decimal = r
        .facts_of("表12")
        .filter(|f| f.column == "合计" && projects.contains(&f.row))
        .map(|f| f.value)
        .sum();
    assert_eq!(sum.to_string(), "711.60");
    assert!(r.unplaced.is_empty(), "{:?}", r.unplaced);
}

#[test]
fn s3_shaanxi_department_with_ocr_noise() {
    let Some(r) = seed(3) else { return };
    assert_eq!(
        (r.subject.as_str(), r.scope, r.family.as_str()),
        ("宁强县医疗保障局(汇总)", Scope::Department, "shaanxi-js")
    );
    counts(
        &r,
        &[
            ("公开01", 6),
            ("公开02", 20),
            ("公开03", 25),
            ("公开04", 9),
            ("公开05", 25),
            ("公开06", 33),
            ("公开07", 0),
            ("公开08", 0),
            ("公开09", 8),
        ],
    );
    cell(&r, "公开03", "2101505", "基本支出", "345.55");
    cell(&r, "公开09", "预算数", "合计", "2.61");
    cell(&r, "公开09", "决算数", "公务接待费", "0.94");
    cell(&r, "公开06", "人员经费合计", "决算数", "607.20");
    assert_eq!(
        r.table("公开09").unwrap().line,
        590,
        "the 目录 entry is not mistaken for the table"
    );
    figure(&r, "三公\"经费支出预算", "1.95");
    assert!(r.unplaced.is_empty(), "{:?}", r.unplaced);
}

#[test]
fn s4_shaanxi_department() {
    let Some(r) = seed(4) else { return };
    assert_eq!(
        (r.subject.as_str(), r.scope),
        ("榆林市医疗保障局", Scope::Department)
    );
    counts(
        &r,
        &[
            ("公开01", 9),
            ("公开02", 46),
            ("公开03", 50),
            ("公开04", 15),
            ("公开05", 50),
            ("公开06", 25),
            ("公开07", 0),
            ("公开08", 0),
            ("公开09", 10),
        ],
    );
    cell(&r, "公开01", "210", "决算数", "3291.46");
    cell(&r, "公开06", "30239", "决算数", "36.09");
    cell(&r, "公开09", "决算数", "培训费", "34.54");
    cell(&r, "公开04", "支出总计", "合计", "3617.36");
    assert!(
        r.table("公开07")
            .unwrap()
            .empty_reason
            .as_deref()
            .unwrap()
            .contains("不涉及")
    );
    figure(&r, "预算执行率为", "106.48");
    assert!(
        r.figures
            .iter()
            .filter(|f| f.kind == FigureKind::Percent)
            .count()
            > 30
    );
    assert!(r.unplaced.is_empty(), "{:?}", r.unplaced);
}
