//! The generic reader on a layout no family file describes (`tests/fixtures/generic/`): tables
//! found by their titles, columns placed by their headers, and what cannot be placed reported,
//! never shifted and never taken as 0.

use gouji_domain::parse_document;
use gouji_domain::rules::{Context, Severity, validate};
use gouji_domain::{MeasureUnit, Report};

fn fixture() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/generic/unknown_layout.txt"
    );
    std::fs::read_to_string(path).expect("fixture")
}

fn value(r: &Report, table: &str, row: &str, column: &str) -> Option<String> {
    r.fact(table, row, column).map(|f| f.value.to_string())
}

#[test]
fn an_undescribed_layout_is_read_by_title_and_header() {
    let r = parse_document(fixture().as_bytes()).unwrap();
    assert_eq!(r.family, "unknown");
    let ids: Vec<&str> = r.tables.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["expense_by_function", "gpb_basic_by_econ"]);
    assert!(r.tables.iter().all(|t| t.unit == MeasureUnit::Yuan));
    let t = "expense_by_function";
    // 类/款/项 split into cells, 款 printed «3» without its zero, 类 and 款 left blank under
    // their parent.
    assert_eq!(value(&r, t, "20103", "项目支出").as_deref(), Some("500.00"));
    assert_eq!(
        value(&r, t, "2010301", "基本支出").as_deref(),
        Some("1000.00")
    );
    assert_eq!(
        value(&r, t, "2010302", "项目支出").as_deref(),
        Some("500.00")
    );
    // A blank cell stays blank: 2010302 has no 基本支出, 2010301 no 项目支出.
    assert_eq!(value(&r, t, "2010302", "基本支出"), None);
    assert_eq!(value(&r, t, "2010301", "项目支出"), None);
    assert_eq!(value(&r, t, "合计", "合计").as_deref(), Some("1500.00"));
}

#[test]
fn a_row_missing_a_cell_is_unplaced_not_shifted_and_a_garbled_cell_is_unreadable() {
    let r = parse_document(fixture().as_bytes()).unwrap();
    let t = "gpb_basic_by_econ";
    // «301 工资福利支出 800.00 800.00» has two amounts for 合计|人员经费|公用经费 and no blank
    // cell: which one is missing cannot be known, so neither is placed.
    assert!(
        ["合计", "人员经费", "公用经费"]
            .iter()
            .all(|c| value(&r, t, "301", c).is_none())
    );
    assert!(
        r.unplaced
            .iter()
            .any(|u| u.line == 17 && u.reason.contains("no blank cells"))
    );
    // «2OO.00»: unreadable, not 0, and named.
    assert_eq!(value(&r, t, "30201", "公用经费"), None);
    let table = r.table(t).unwrap();
    for cell in [("301", "合计"), ("30201", "公用经费")] {
        assert!(
            table
                .unreadable
                .contains(&(cell.0.to_string(), cell.1.to_string())),
            "{cell:?} unreadable"
        );
    }
    // The rules that need those cells do not apply: no error, infos that name the cells.
    let v = validate(&r, &Context::default());
    let errors: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(v.findings.iter().any(|f| f.rule_id == "CT-01"
        && f.severity == Severity::Info
        && f.message.contains("无法核对")
        && f.message.contains("30201 公用经费")));
}

#[test]
fn a_real_defect_in_an_undescribed_layout_is_still_an_error() {
    // 20103 合计 printed 1,600.00 while its 项 add up to 1,500.00.
    let text = fixture().replace(
        "201\t3\t\t政府办公厅（室）及相关机构事务\t1,500.00",
        "201\t3\t\t政府办公厅（室）及相关机构事务\t1,600.00",
    );
    let r = parse_document(text.as_bytes()).unwrap();
    let v = validate(&r, &Context::default());
    let f = v
        .findings
        .iter()
        .find(|f| f.rule_id == "CT-01" && f.message.contains("20103 合计"))
        .expect("CT-01 on 20103");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.expected.map(|d| d.to_string()).as_deref(),
        Some("1500.00")
    );
    assert_eq!(f.actual.map(|d| d.to_string()).as_deref(), Some("1600.00"));
    // 0.01 元 amounts are exact: no tolerance.
    assert_eq!(f.tolerance.map(|d| d.is_zero()), Some(true));
}
