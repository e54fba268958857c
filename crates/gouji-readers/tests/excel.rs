//! The Excel reader on the corpus workbooks (xlsx and xls) and on a fictional filled-in
//! Shanghai 单位预算 workbook generated here with figures of our own.

use std::path::PathBuf;

use gouji_domain::document::{Format, Origin};
use gouji_domain::rules::{Context, Severity, validate};
use gouji_readers::{Limits, detect};
use rust_decimal::Decimal;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("GOUJI_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

fn corpus(name: &str) -> Vec<u8> {
    let p = corpus_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{} not readable ({e}): put ../shared/corpus beside the repository or set GOUJI_CORPUS",
            p.display()
        )
    })
}

#[test]
fn corpus_workbooks_read_to_their_texts_and_tables() {
    for (file, stem, format) in [
        (
            "putuo_xxdw_2026_dwys_template.xlsx",
            "putuo_xxdw_2026_dwys_template",
            Format::Xlsx,
        ),
        (
            "putuo_xxdw_2026_dwys_template.xls",
            "putuo_xxdw_2026_dwys_template",
            Format::Xls,
        ),
        (
            "putuo_xxj_2026_bmys_template.xlsx",
            "putuo_xxj_2026_bmys_template",
            Format::Xlsx,
        ),
    ] {
        let bytes = corpus(file);
        assert_eq!(detect::detect(&bytes), format, "{file}");
        let txt = String::from_utf8(corpus(&format!("{stem}.txt"))).expect("utf-8");
        let doc = detect::read(&bytes, &Limits::default())
            .expect("reads")
            .expect("a workbook");
        // The corpus text was made from the workbook: one block per sheet, non-empty rows as
        // TAB-joined cells, an empty line between sheets. The reader renders it line for line;
        // it only keeps the trailing blank cells of a table row, which that text dropped.
        let rendered = doc.render().text;
        let ours: Vec<&str> = rendered.lines().map(|l| l.trim_end_matches('\t')).collect();
        let theirs: Vec<&str> = txt.lines().collect();
        assert_eq!(ours, theirs, "{file}");
        let parsed = detect::parse(&bytes, &Limits::default()).expect("parses");
        let from_text = gouji_domain::parse_document(txt.as_bytes()).expect("text parses");
        let ids =
            |r: &gouji_domain::Report| r.tables.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&parsed.report), ids(&from_text), "{file}: tables");
        assert!(
            parsed.report.tables.len() >= 9,
            "{file}: the 9 tables are found"
        );
        assert!(
            parsed.report.facts.is_empty(),
            "{file}: a template has no figures"
        );
        // Every line knows its sheet.
        let first_table_line = parsed.report.tables[0].line;
        match &parsed.report.origins[first_table_line as usize - 1] {
            Origin::Sheet { sheet, .. } => assert!(!sheet.is_empty()),
            o => panic!("{file}: {o:?}"),
        }
    }
}

enum C {
    T(&'static str),
    N(f64),
}
use C::{N, T};

/// The fictional 单位预算 of «上海市普陀区示例中心» (元): one 高等教育 项, paid 1,000,000.50 by
/// 一般公共预算 and 200,000.00 by 事业收入; 基本支出 800,000.00 (人员 600,000.00, 公用
/// 200,000.00), 项目支出 400,000.50.
fn fictional_sheets() -> Vec<(&'static str, Vec<Vec<C>>)> {
    vec![
        (
            "封面",
            vec![
                vec![T("上海市普陀区2026年区级单位预算")],
                vec![T("预算单位：上海市普陀区示例中心")],
            ],
        ),
        (
            "1.财务收支预算总表",
            vec![
                vec![T("2026年预算单位财务收支预算总表")],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("本年收入"), T(""), T("本年支出")],
                vec![T("项目"), T("预算数"), T("项目"), T("预算数")],
                vec![
                    T(""),
                    T(""),
                    T(""),
                    T("合计"),
                    T("基本支出"),
                    T(""),
                    T("项目支出"),
                ],
                vec![T(""), T(""), T(""), T(""), T("人员经费"), T("公用经费")],
                vec![
                    T("一、财政拨款收入"),
                    N(1_000_000.50),
                    T("一、教育支出"),
                    N(1_200_000.50),
                    N(600_000.00),
                    N(200_000.00),
                    N(400_000.50),
                ],
                vec![T("1、一般公共预算"), N(1_000_000.50)],
                vec![T("2、政府性基金预算")],
                vec![T("3、国有资本经营预算")],
                vec![T("二、事业收入"), N(200_000.00)],
                vec![T("三、事业单位经营收入")],
                vec![T("四、其他收入")],
                vec![
                    T("收入总计"),
                    N(1_200_000.50),
                    T("支出总计"),
                    N(1_200_000.50),
                    N(600_000.00),
                    N(200_000.00),
                    N(400_000.50),
                ],
            ],
        ),
        (
            "2.收入预算总表",
            vec![
                vec![T("2026年预算单位收入预算总表")],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("项目"), T(""), T(""), T(""), T("收入预算")],
                vec![
                    T("功能分类科目编码"),
                    T(""),
                    T(""),
                    T("功能分类科目名称"),
                    T("合计"),
                    T("财政拨款收入"),
                    T("事业收入"),
                    T("事业单位经营收入"),
                    T("其他收入"),
                ],
                vec![T("类"), T("款"), T("项")],
                vec![
                    T("205"),
                    T(""),
                    T(""),
                    T("教育支出"),
                    N(1_200_000.50),
                    N(1_000_000.50),
                    N(200_000.00),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T(""),
                    T("普通教育"),
                    N(1_200_000.50),
                    N(1_000_000.50),
                    N(200_000.00),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T("05"),
                    T("高等教育"),
                    N(1_200_000.50),
                    N(1_000_000.50),
                    N(200_000.00),
                ],
                vec![
                    T("合计"),
                    T(""),
                    T(""),
                    T(""),
                    N(1_200_000.50),
                    N(1_000_000.50),
                    N(200_000.00),
                ],
            ],
        ),
        (
            "3.支出预算总表",
            vec![
                vec![T("2026年预算单位支出预算总表")],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("项目"), T(""), T(""), T(""), T("支出预算")],
                vec![
                    T("功能分类科目编码"),
                    T(""),
                    T(""),
                    T("功能分类科目名称"),
                    T("合计"),
                    T("基本支出"),
                    T("项目支出"),
                ],
                vec![T("类"), T("款"), T("项")],
                vec![
                    T("205"),
                    T(""),
                    T(""),
                    T("教育支出"),
                    N(1_200_000.50),
                    N(800_000.00),
                    N(400_000.50),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T(""),
                    T("普通教育"),
                    N(1_200_000.50),
                    N(800_000.00),
                    N(400_000.50),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T("05"),
                    T("高等教育"),
                    N(1_200_000.50),
                    N(800_000.00),
                    N(400_000.50),
                ],
                vec![
                    T("合计"),
                    T(""),
                    T(""),
                    T(""),
                    N(1_200_000.50),
                    N(800_000.00),
                    N(400_000.50),
                ],
            ],
        ),
        (
            "4.财政拨款收支预算总表",
            vec![
                vec![T("2026年预算单位财政拨款收支预算总表")],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("财政拨款收入"), T(""), T("财政拨款支出")],
                vec![
                    T("项目"),
                    T("预算数"),
                    T("项目"),
                    T("合计"),
                    T("一般公共预算"),
                    T("政府性基金预算"),
                    T("国有资本经营预算"),
                ],
                vec![
                    T("一、一般公共预算"),
                    N(1_000_000.50),
                    T("一、教育支出"),
                    N(1_000_000.50),
                    N(1_000_000.50),
                ],
                vec![T("二、政府性基金预算")],
                vec![T("三、国有资本经营预算")],
                vec![
                    T("收入总计"),
                    N(1_000_000.50),
                    T("支出总计"),
                    N(1_000_000.50),
                    N(1_000_000.50),
                ],
            ],
        ),
        (
            "5.一般公共预算支出",
            vec![
                vec![T("2026年预算单位一般公共预算支出功能分类预算表")],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("项目"), T(""), T(""), T(""), T("一般公共预算支出")],
                vec![
                    T("功能分类科目编码"),
                    T(""),
                    T(""),
                    T("功能分类科目名称"),
                    T("合计"),
                    T("基本支出"),
                    T("项目支出"),
                ],
                vec![T("类"), T("款"), T("项")],
                vec![
                    T("205"),
                    T(""),
                    T(""),
                    T("教育支出"),
                    N(1_000_000.50),
                    N(800_000.00),
                    N(200_000.50),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T(""),
                    T("普通教育"),
                    N(1_000_000.50),
                    N(800_000.00),
                    N(200_000.50),
                ],
                vec![
                    T("205"),
                    T("02"),
                    T("05"),
                    T("高等教育"),
                    N(1_000_000.50),
                    N(800_000.00),
                    N(200_000.50),
                ],
                vec![
                    T("合计"),
                    T(""),
                    T(""),
                    T(""),
                    N(1_000_000.50),
                    N(800_000.00),
                    N(200_000.50),
                ],
            ],
        ),
        (
            "8.一般公共预算基本支出",
            vec![
                vec![T(
                    "2026年预算单位一般公共预算基本支出部门预算经济分类预算表",
                )],
                vec![
                    T("编制单位：上海市普陀区示例中心"),
                    T(""),
                    T(""),
                    T(""),
                    T(""),
                    T("单位：元"),
                ],
                vec![T("项目"), T(""), T(""), T("一般公共预算基本支出")],
                vec![
                    T("经济分类科目编码"),
                    T(""),
                    T("部门经济分类科目名称"),
                    T("合计"),
                    T("人员经费"),
                    T("公用经费"),
                ],
                vec![T("类"), T("款")],
                vec![
                    T("301"),
                    T(""),
                    T("工资福利支出"),
                    N(600_000.00),
                    N(600_000.00),
                ],
                vec![
                    T("301"),
                    T("01"),
                    T("基本工资"),
                    N(600_000.00),
                    N(600_000.00),
                ],
                vec![
                    T("302"),
                    T(""),
                    T("商品和服务支出"),
                    N(200_000.00),
                    T(""),
                    N(200_000.00),
                ],
                vec![
                    T("302"),
                    T("01"),
                    T("办公费"),
                    N(200_000.00),
                    T(""),
                    N(200_000.00),
                ],
                vec![
                    T("合计"),
                    T(""),
                    T(""),
                    N(800_000.00),
                    N(600_000.00),
                    N(200_000.00),
                ],
            ],
        ),
    ]
}

fn build_workbook(sheets: Vec<(&'static str, Vec<Vec<C>>)>) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let money = rust_xlsxwriter::Format::new().set_num_format("#,##0.00");
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(name).expect("sheet name");
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    T("") => {}
                    T(s) => {
                        ws.write_string(r, c, *s).expect("write");
                    }
                    N(v) => {
                        ws.write_number_with_format(r, c, *v, &money)
                            .expect("write");
                    }
                }
            }
        }
    }
    wb.save_to_buffer().expect("workbook")
}

#[test]
fn a_fictional_filled_workbook_reads_to_its_figures_and_validates() {
    let bytes = build_workbook(fictional_sheets());
    assert_eq!(detect::detect(&bytes), Format::Xlsx);
    let parsed = detect::parse(&bytes, &Limits::default()).expect("parses");
    assert_eq!(parsed.format, Format::Xlsx);
    let report = &parsed.report;
    if std::env::var_os("GOUJI_DUMP").is_some() {
        for f in &report.facts {
            eprintln!(
                "{} {} {} {} {}",
                f.source.line, f.table, f.row, f.column, f.value
            );
        }
        for u in &report.unplaced {
            eprintln!("unplaced {} {} {}", u.line, u.reason, u.text);
        }
    }
    assert_eq!(report.family, "shanghai-ys", "read as a Shanghai 预算");
    // Every figure we wrote is a fact of the same sheet row, in its printed precision (0.01 元).
    let mut written = 0;
    for (sheet, rows) in fictional_sheets() {
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let N(v) = cell else { continue };
                written += 1;
                let want = Decimal::from_f64_retain(*v).expect("finite").round_dp(2);
                let found = report.facts.iter().any(|f| {
                    f.value == want
                        && f.value.scale() == 2
                        && matches!(
                            &report.origins[f.source.line as usize - 1],
                            Origin::Sheet { sheet: s, row, .. } if s == sheet && *row == r as u32
                        )
                });
                assert!(
                    found,
                    "{sheet}!{}: {want} is not a fact of that row; facts: {:#?}",
                    gouji_domain::document::cell_address(r as u32, c as u32),
                    report
                        .facts
                        .iter()
                        .filter(|f| f.value == want)
                        .collect::<Vec<_>>()
                );
            }
        }
    }
    assert_eq!(written, 65);
    assert!(
        report.facts.len() >= written - 10,
        "{} facts",
        report.facts.len()
    );
    let v = validate(report, &Context::default());
    let errors: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "consistent figures give no error: {errors:#?}"
    );
    // A finding's line names its sheet cell.
    assert!(
        report
            .origin_of(report.facts[0].source.line)
            .is_some_and(|o| o.contains('!'))
    );
}

#[test]
fn a_misstated_total_in_the_workbook_is_an_error_at_its_sheet_cell() {
    let mut sheets = fictional_sheets();
    // 3.支出预算总表 合计 of 合计: 1,200,000.51 instead of 1,200,000.50 (a 0.01 元 table: exact).
    let (_, rows) = sheets
        .iter_mut()
        .find(|(n, _)| *n == "3.支出预算总表")
        .expect("sheet");
    rows[8][4] = N(1_200_000.51);
    let parsed = detect::parse(&build_workbook(sheets), &Limits::default()).expect("parses");
    let v = validate(&parsed.report, &Context::default());
    let errors: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(!errors.is_empty(), "the 0.01 元 gap is an error");
    let at: Vec<String> = errors
        .iter()
        .flat_map(|f| &f.locations)
        .filter_map(|l| parsed.report.origin_of(l.line))
        .collect();
    assert!(
        at.iter().any(|o| o == "3.支出预算总表!A9"),
        "the finding points at the sheet row of the total: {at:?}"
    );
    // … and at the cell itself: 合计 of 合计 is E9.
    let cells: Vec<String> = errors
        .iter()
        .flat_map(|f| &f.locations)
        .filter_map(|l| parsed.report.cell_origin_of(&l.table, &l.row, &l.column))
        .collect();
    assert!(
        cells.iter().any(|o| o == "3.支出预算总表!E9"),
        "the finding names the sheet cell: {cells:?}"
    );
}
