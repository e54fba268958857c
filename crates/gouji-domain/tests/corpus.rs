//! The development corpus (`../shared/corpus`, or `$GOUJI_CORPUS`): Jiangsu 2017–2019 部门预算 and
//! Shanghai Putuo 部门/单位 预算 in 元, read by the generic reader, plus blank Shanghai templates.
//!
//! - every document is read, with the family its cues name (templates: tables, no figures);
//! - per family, sampled cells are checked against the document (table, row, column, value,
//!   unit): split 类/款/项 codes, two-sided rows, 元 with decimals, a 三公 table in 万元 inside an
//!   元 report, a table continued on the next page, labels broken over rows;
//! - the findings of every document are golden snapshots in `tests/golden/corpus/` (refresh
//!   with `UPDATE_GOLDEN=1`). Every error among them is a defect checked by hand against the
//!   document ([`CHECKED_DEFECTS`], with the reasoning); no rounding tail is an error.

mod common;

use common::{corpus, corpus_stems};
use gouji_domain::amount::MeasureUnit;
use gouji_domain::rules::{Context, Severity, validate};
use gouji_domain::{Report, ReportKind};

#[track_caller]
fn cell(r: &Report, table: &str, row: &str, column: &str, printed: &str, unit: MeasureUnit) {
    let f = r
        .fact(table, row, column)
        .unwrap_or_else(|| panic!("{table} {row} {column} missing in {}", r.subject));
    assert_eq!(
        (f.value.to_string().as_str(), f.unit),
        (printed, unit),
        "{table} {row} {column}"
    );
    assert_eq!(
        r.lines[f.source.line as usize - 1],
        f.source.text,
        "provenance of {table} {row}"
    );
}

#[test]
fn every_corpus_document_is_read_with_its_family_and_every_table_of_it() {
    let stems = corpus_stems();
    for stem in &stems {
        let r = corpus(stem).unwrap();
        let want = if stem.starts_with("jiangsu") {
            "jiangsu-ys"
        } else if stem.contains("bmjs") {
            "shanghai-js"
        } else {
            "shanghai-ys"
        };
        assert_eq!(r.family, want, "{stem}");
        // Exactly the tables the family prints (12 in Jiangsu, 9 in Shanghai), each once.
        let family = gouji_domain::catalog::family(want).unwrap();
        let mut expected: Vec<&str> = family.tables.iter().map(|t| t.id.as_str()).collect();
        let mut got: Vec<&str> = r.tables.iter().map(|t| t.id.as_str()).collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "{stem}");
        if stem.ends_with("_template") {
            assert!(
                r.facts.is_empty(),
                "{stem}: a blank template has no amounts"
            );
        } else {
            assert!(r.facts.len() > 100, "{stem}: {} facts", r.facts.len());
            // The unit, as the cover or the tables name it (a cover title split over lines or
            // opening with its year, «2017 年度江苏省高级人民法院部门预算公开», included).
            let unit = MANIFEST_UNITS
                .iter()
                .find(|(prefix, _)| stem.starts_with(prefix))
                .map(|(_, u)| *u)
                .expect("unit listed");
            assert_eq!(r.subject, unit, "{stem}");
        }
    }
}

/// The unit of each corpus document, as MANIFEST.md names it (short forms as printed).
const MANIFEST_UNITS: &[(&str, &str)] = &[
    ("jiangsu_gjfy", "江苏省高级人民法院"),
    ("jiangsu_jcy", "江苏省人民检察院"),
    ("jiangsu_rdbgt", "江苏省人大常委会办公厅"),
    ("jiangsu_swbgt", "江苏省委办公厅"),
    ("jiangsu_zxbgt", "江苏省政协办公厅"),
    ("putuo_shfly", "上海市普陀区社会福利院"),
    ("putuo_zfb", "上海市普陀区人民政府办公室"),
];

#[test]
fn shanghai_unit_budget_cells_in_yuan_with_a_sangong_table_in_wanyuan() {
    let Some(r) = corpus("putuo_zfb_2025_dwys") else {
        return;
    };
    assert_eq!((r.kind, r.year), (ReportKind::Budget, 2025));
    let y = MeasureUnit::Yuan;
    // Two-sided 收支总表 whose right side has 合计 | 基本支出(人员经费, 公用经费) | 项目支出.
    cell(
        &r,
        "income_expense_summary",
        "财政拨款收入",
        "预算数",
        "91016775.35",
        y,
    );
    // «预算数 | 合计» over its breakdown is the 预算数 column, as the 部门 report prints it.
    cell(
        &r,
        "income_expense_summary",
        // «一般公共服务支出», printed without a code, is keyed by its 类 code.
        "201",
        "预算数",
        "82096797.42",
        y,
    );
    cell(
        &r,
        "income_expense_summary",
        // «一般公共服务支出», printed without a code, is keyed by its 类 code.
        "201",
        "人员经费",
        "13819399.88",
        y,
    );
    cell(
        &r,
        "income_expense_summary",
        "支出总计",
        "项目支出",
        "66410000.00",
        y,
    );
    // Split 类/款/项 code cells.
    cell(
        &r,
        "expense_by_function",
        "2010301",
        "基本支出",
        "11919501.84",
        y,
    );
    cell(
        &r,
        "expense_by_function",
        "2010302",
        "项目支出",
        "46140000.00",
        y,
    );
    // 三公 table in 万元: one row of amounts under its header.
    let t = r.table("sangong").unwrap();
    assert_eq!(t.unit, MeasureUnit::Wanyuan);
    assert_eq!(t.printed_number.as_deref(), Some("9"));
}

#[test]
fn shanghai_department_budget_table_continued_on_the_next_page() {
    let Some(r) = corpus("putuo_zfb_2025_bmys") else {
        return;
    };
    let y = MeasureUnit::Yuan;
    // 一般公共预算支出功能分类预算表: 210 on the first page, 21011 after the repeated header.
    cell(
        &r,
        "gpb_expense_by_function",
        "210",
        "合计",
        "1097073.43",
        y,
    );
    cell(
        &r,
        "gpb_expense_by_function",
        "2101101",
        "基本支出",
        "782855.28",
        y,
    );
    cell(
        &r,
        "gpb_expense_by_function",
        "合计",
        "项目支出",
        "66410000.00",
        y,
    );
    // Economic classes split into 类 | 款.
    cell(&r, "gpb_basic_by_econ", "30201", "公用经费", "259400.00", y);
    cell(
        &r,
        "gpb_basic_by_econ",
        "合计",
        "人员经费",
        "22473997.81",
        y,
    );
}

#[test]
fn jiangsu_budget_cells_two_sided_and_broken_labels() {
    let Some(r) = corpus("jiangsu_jcy_2019_bmys") else {
        return;
    };
    let w = MeasureUnit::Wanyuan;
    // 公开01: three sides (收入 | 支出 功能分类 | 支出 支出用途), «三、单位预留机动经 / 费» broken
    // over the rows around its amount.
    cell(
        &r,
        "income_expense_summary",
        "财政拨款",
        "预算数",
        "24169.74",
        w,
    );
    cell(
        &r,
        "income_expense_summary",
        // «公共安全支出», printed without a code, is keyed by its 类 code.
        "204",
        "预算数",
        "16593.12",
        w,
    );
    cell(
        &r,
        "income_expense_summary",
        "基本支出",
        "预算数",
        "15844.04",
        w,
    );
    cell(
        &r,
        "income_expense_summary",
        "单位预留机动经费",
        "预算数",
        "3990.40",
        w,
    );
    // 公开05: one 7-digit code cell.
    cell(
        &r,
        "fiscal_expense_by_function",
        "2040401",
        "预算数",
        "12268.62",
        w,
    );
    assert_eq!(
        r.table("fiscal_expense_by_function")
            .unwrap()
            .printed_number
            .as_deref(),
        Some("05")
    );
}

/// Error findings on the corpus, each checked by hand against the document: (document, rule,
/// what its message says).
const CHECKED_DEFECTS: &[(&str, &str, &str)] = &[
    // Line 61 of the 编制说明 quotes 社会福利事业单位（项） as 738.66万元; 表5 (一般公共预算支出功能
    // 分类预算表, line 147) prints 2081005 社会福利事业单位 as 6,964,796 元 (696.48万元). The six 项
    // of that paragraph add up to 991.59万元 against the 财政拨款支出预算 of 950.12万元 it opens
    // with (line 47): the text, not the table, is wrong.
    (
        "putuo_shfly_2024_dwys",
        "NR-17",
        "社会福利事业单位（项）”为 738.66 万元",
    ),
];

#[test]
fn findings_of_every_corpus_document_are_golden_and_every_error_is_a_checked_defect() {
    let mut seen = Vec::new();
    for stem in corpus_stems() {
        let r = corpus(&stem).unwrap();
        let v = validate(&r, &Context::default());
        common::assert_golden(&format!("corpus/{stem}.txt"), &common::findings_text(&v));
        for f in v.findings.iter().filter(|f| f.severity == Severity::Error) {
            let known = CHECKED_DEFECTS
                .iter()
                .position(|(s, rule, says)| {
                    *s == stem && f.rule_id == *rule && f.message.contains(says)
                })
                .unwrap_or_else(|| panic!("{stem}: unchecked error {} {}", f.rule_id, f.message));
            seen.push(known);
        }
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        CHECKED_DEFECTS.len(),
        "a checked defect is no longer found"
    );
}

/// CT-04 is live on real tables: in every corpus document, each table that has a declared row
/// identity (支出表 合计 = 基本支出 + 项目支出 + …) gets an error on the row whose part we raise by
/// one unit (1 元 or 1 万元, beyond any rounding tail) in the source text, and no error before.
#[test]
fn row_identities_catch_a_changed_part_in_every_family() {
    let mut checked = Vec::new();
    for stem in corpus_stems() {
        let Some(bytes) = common::corpus_text(&stem) else {
            return;
        };
        let text = String::from_utf8(bytes).expect("utf-8");
        let r = gouji_domain::parse_document(text.as_bytes()).expect("parses");
        for table in ["expense_by_function", "gpb_expense_by_function"] {
            // The first row whose 基本支出 is printed beside a 合计 and a 项目支出.
            let Some(part) = r.facts.iter().find(|f| {
                f.table == table
                    && f.column == "基本支出"
                    && !f.value.is_zero()
                    && r.fact(table, &f.row, "合计").is_some()
                    && r.fact(table, &f.row, "项目支出").is_some()
            }) else {
                continue;
            };
            let line = &r.lines[part.source.line as usize - 1];
            let printed = line
                .split('\t')
                .find(|c| {
                    c.replace(',', "")
                        .trim()
                        .parse::<rust_decimal::Decimal>()
                        .ok()
                        == Some(part.value)
                })
                .expect("the part's cell on its line")
                .trim()
                .to_string();
            // Ten units more (beyond the half-unit-per-term tail of whole-元 tables), printed
            // as the document prints: «4,213,779.28» → «4,213,789.28».
            let raised = part.value + rust_decimal::Decimal::TEN;
            let plain = raised.to_string();
            let bumped = if printed.contains(',') {
                let (int, frac) = plain
                    .split_once('.')
                    .map_or((plain.as_str(), None), |(i, f)| (i, Some(f)));
                let mut grouped = String::new();
                for (k, ch) in int.chars().enumerate() {
                    if k > 0 && (int.len() - k) % 3 == 0 {
                        grouped.push(',');
                    }
                    grouped.push(ch);
                }
                match frac {
                    Some(f) => format!("{grouped}.{f}"),
                    None => grouped,
                }
            } else {
                plain
            };
            let mut lines: Vec<&str> = text.lines().collect();
            let changed = line.replacen(&printed, &bumped, 1);
            lines[part.source.line as usize - 1] = &changed;
            let garbled = lines.join("\n");
            let ct04 = |r: &Report| -> Vec<String> {
                validate(r, &Context::default())
                    .findings
                    .into_iter()
                    .filter(|f| f.rule_id == "CT-04" && f.severity == Severity::Error)
                    .map(|f| f.message)
                    .collect()
            };
            assert_eq!(ct04(&r), Vec::<String>::new(), "{stem} {table}");
            let after = gouji_domain::parse_document(garbled.as_bytes()).expect("parses");
            let errors = ct04(&after);
            // A column the identity does not describe (a header broken over lines, «费») makes
            // it not applicable: then nothing is reported, rather than a guess.
            let identity = &gouji_domain::catalog::catalog_table(table)
                .expect("catalog table")
                .row_sums[0];
            let undeclared: Vec<&str> = r
                .facts
                .iter()
                .filter(|f| f.table == table)
                .map(|f| f.column.as_str())
                .filter(|c| *c != identity.total && !identity.parts.iter().any(|p| p == c))
                .collect();
            if !undeclared.is_empty() {
                assert_eq!(errors, Vec::<String>::new(), "{stem} {table}");
                continue;
            }
            assert!(
                errors
                    .iter()
                    .any(|m| m.contains(&format!("{} 合计", part.row))),
                "{stem} {table}: raising {} {printed} → {bumped} gave {errors:?}",
                part.row
            );
            checked.push(format!("{stem} {table}"));
        }
    }
    // Both families with a 基本支出/项目支出 breakdown: Jiangsu 支出总表 and the Shanghai tables.
    assert!(
        checked.iter().any(|c| c.starts_with("jiangsu"))
            && checked.iter().any(|c| c.starts_with("putuo")),
        "{checked:?}"
    );
}
