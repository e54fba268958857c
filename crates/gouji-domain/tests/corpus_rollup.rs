//! A Shanghai 部门预算 rolls up from its 单位 report: 上海市普陀区人民政府办公室 has one 单位
//! (its 交流服务中心 «不单列预算，并入本部»), so consolidating the 单位 report must reproduce
//! every table of the 部门 report with no difference.

mod common;

use common::corpus;
use gouji_domain::UnitType;
use gouji_domain::consolidate::{Consolidator, UnitMeta, compare};
use gouji_domain::rules::Severity;

#[test]
fn shanghai_department_budget_equals_its_single_unit() {
    let (Some(unit), Some(filed)) = (corpus("putuo_zfb_2025_dwys"), corpus("putuo_zfb_2025_bmys"))
    else {
        return;
    };
    let root =
        UnitMeta::new("PT-ZFB", "上海市普陀区人民政府办公室").with_type(UnitType::Administrative);
    let mut c = Consolidator::new(root.clone(), unit.kind, unit.year);
    c.add(root, &unit).expect("unit accepted");
    let consolidated = c.finish();
    let cmp = compare(&consolidated, &filed);
    let beyond: Vec<_> = cmp.beyond_tolerance().collect();
    assert!(beyond.is_empty(), "differences: {beyond:#?}");
    assert!(
        cmp.cells_compared > 150,
        "{} cells compared",
        cmp.cells_compared
    );
    let errors: Vec<_> = cmp
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
