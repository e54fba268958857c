//! 部门汇总: splitting the filed 汇总 seeds (S3, S4) into units and consolidating them again
//! reproduces the published tables; eliminations, CU findings and contributions; properties of
//! the consolidation (order independence, hierarchy, single unit) over generated departments.

mod common;

use common::seed;
use gouji_domain::consolidate::{
    ConsolidateError, Consolidation, Consolidator, TransferPair, UnitMeta, compare,
};
use gouji_domain::rules::Severity;
use gouji_domain::synth::{department_meta, generate_department, split_department};
use gouji_domain::{Report, ReportKind, Scope, UnitType};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::dec;

fn consolidate(root: &UnitMeta, units: &[(UnitMeta, Report)]) -> Consolidation {
    let kind = units[0].1.kind;
    let year = units[0].1.year;
    let mut c = Consolidator::new(root.clone(), kind, year);
    for (m, r) in units {
        c.add(m.clone(), r).expect("unit accepted");
    }
    c.finish()
}

type Split = (Report, Vec<(UnitMeta, Report)>, Consolidation);

fn split_and_consolidate(n: usize, seed_value: u64) -> Option<Split> {
    let filed = seed(n)?;
    let units = split_department(&filed, seed_value);
    let root = department_meta(&filed, seed_value);
    let c = consolidate(&root, &units);
    Some((filed, units, c))
}

#[track_caller]
fn assert_reproduces(filed: &Report, c: &Consolidation) {
    let cmp = compare(c, filed);
    let beyond: Vec<_> = cmp.beyond_tolerance().collect();
    assert!(
        beyond.is_empty(),
        "differences beyond tolerance: {beyond:#?}"
    );
    assert!(
        !cmp.findings.iter().any(|f| f.severity == Severity::Error),
        "error findings: {:#?}",
        cmp.findings
    );
    assert!(cmp.cells_compared > 100, "{} cells", cmp.cells_compared);
    assert_eq!(cmp.units.len(), 3);
}

#[test]
fn s3_split_and_consolidated_reproduces_published_tables() {
    let Some((filed, units, c)) = split_and_consolidate(3, 7) else {
        return;
    };
    assert_eq!(units.len(), 3);
    assert_eq!(c.report.scope, Scope::Department);
    assert_eq!(c.report.subject, "宁强县医疗保障局(汇总)");
    // 公开01 收入总计 as published: 812.04 万元, and the units really carry parts of it.
    assert_eq!(c.value("公开01", "收入总计", "决算数"), Some(dec!(812.04)));
    let parts = c.contributions("公开01", "收入总计", "决算数");
    assert!(parts.len() >= 3, "{parts:?}");
    assert_eq!(parts.iter().map(|(_, v)| *v).sum::<Decimal>(), dec!(812.04));
    // Hierarchy rows are re-derived from 项: 公开06 301 = Σ 款 = 520.72 (published 520.73, a tail).
    assert_eq!(c.value("公开06", "301", "决算数"), Some(dec!(520.72)));
    assert_eq!(c.value("公开03", "210", "基本支出"), Some(dec!(659.23)));
    assert_eq!(c.value("公开03", "合计", "项目支出"), Some(dec!(152.81)));
    // Both internal transfers were eliminated, symmetric.
    assert_eq!(c.eliminations.len(), 2, "{:?}", c.eliminations);
    for e in &c.eliminations {
        assert!(e.parent_amount > Decimal::ZERO);
        assert_eq!(e.difference, Decimal::ZERO);
    }
    assert!(
        c.eliminations
            .iter()
            .any(|e| e.pair == TransferPair::Subsidy)
    );
    assert!(
        c.eliminations
            .iter()
            .any(|e| e.pair == TransferPair::Remittance)
    );
    assert_eq!(
        c.value("公开01", "上级补助收入", "决算数"),
        Some(Decimal::ZERO)
    );
    assert_eq!(
        c.value("公开03", "合计", "对附属单位补助支出"),
        Some(Decimal::ZERO)
    );
    assert!(!c.built_on_failing_units);
    assert_reproduces(&filed, &c);
    // CU-04: 机关运行经费 52.03 = all 公用经费 although one unit is 事业 (rules.md golden for S3).
    let cmp = compare(&c, &filed);
    assert!(
        cmp.findings
            .iter()
            .any(|f| f.rule_id == "CU-04" && f.actual == Some(dec!(52.03))),
        "{:#?}",
        cmp.findings
    );
}

#[test]
fn s4_split_and_consolidated_reproduces_published_tables() {
    let Some((filed, _units, c)) = split_and_consolidate(4, 11) else {
        return;
    };
    assert_eq!(c.value("公开01", "收入总计", "决算数"), Some(dec!(3617.36)));
    assert_eq!(c.value("公开01", "210", "决算数"), Some(dec!(3291.46)));
    assert_eq!(
        c.value("公开06", "人员经费合计", "决算数"),
        Some(dec!(1381.04))
    );
    assert_eq!(c.value("公开09", "决算数", "培训费"), Some(dec!(34.54)));
    assert_eq!(c.eliminations.len(), 2);
    assert_reproduces(&filed, &c);
    // The 实有人员 count sums exactly (66, as published even though 14 + 50 = 64).
    let h = c
        .headcounts
        .iter()
        .find(|h| h.key == "实有人员")
        .expect("实有人员");
    assert_eq!(h.total, dec!(66));
}

#[test]
fn one_changed_cell_points_at_that_cell_and_unit() {
    let Some(filed) = seed(3) else { return };
    let mut units = split_department(&filed, 5);
    let root = department_meta(&filed, 5);
    let (code, before) = {
        let (m, r) = &mut units[1];
        let f = r
            .facts
            .iter_mut()
            .find(|f| f.table == "公开05" && f.row == "2101505" && f.column == "基本支出")
            .expect("cell");
        let before = f.value;
        f.value += dec!(1.00);
        (m.code.clone(), before)
    };
    let c = consolidate(&root, &units);
    let cmp = compare(&c, &filed);
    let beyond: Vec<_> = cmp.beyond_tolerance().collect();
    // The 项, its 款 and 类, and 合计 move together; the leaf is the cell itself.
    let keys: Vec<(&str, &str, &str)> = beyond
        .iter()
        .map(|d| (d.table.as_str(), d.row.as_str(), d.column.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("公开05", "合计", "基本支出"),
            ("公开05", "210", "基本支出"),
            ("公开05", "21015", "基本支出"),
            ("公开05", "2101505", "基本支出"),
        ]
    );
    let leaf = beyond.last().expect("leaf");
    assert_eq!(leaf.difference, dec!(1.00));
    assert_eq!(leaf.filed, Some(dec!(345.55)));
    assert_eq!(leaf.computed, Some(dec!(346.55)));
    assert_eq!(leaf.rule_id, "CU-01");
    let mine = leaf
        .contributions
        .iter()
        .find(|(u, _)| *u == code)
        .expect("unit contribution");
    assert_eq!(mine.1, before + dec!(1.00));
    let f = cmp
        .findings
        .iter()
        .find(|f| f.rule_id == "CU-01" && f.locations[0].row == "2101505")
        .expect("CU-01 finding");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains(&code), "{}", f.message);
    // The filed cell is located in the source text.
    assert!(f.locations[0].line > 0);
}

#[test]
fn asymmetric_transfer_is_a_cu02_warning_naming_both_units() {
    let Some(filed) = seed(3) else { return };
    let mut units = split_department(&filed, 9);
    let root = department_meta(&filed, 9);
    // Child 1 books 0.50 less 上级补助收入 in 公开01 than 本级's 对附属单位补助支出.
    if let Some(f) = units[1]
        .1
        .facts
        .iter_mut()
        .find(|f| f.table == "公开01" && f.row == "上级补助收入")
    {
        f.value -= dec!(0.50);
    }
    let c = consolidate(&root, &units);
    let f = c
        .findings
        .iter()
        .find(|f| f.rule_id == "CU-02")
        .expect("CU-02");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains(&units[0].0.name) && f.message.contains(&units[1].0.name),
        "{}",
        f.message
    );
    assert!(f.message.contains(&units[0].0.code) && f.message.contains(&units[1].0.code));
    let e = c
        .eliminations
        .iter()
        .find(|e| e.pair == TransferPair::Subsidy)
        .expect("subsidy");
    assert_eq!(e.difference, dec!(0.50));
}

#[test]
fn failing_unit_is_flagged_cu08() {
    let Some(filed) = seed(3) else { return };
    let mut units = split_department(&filed, 1);
    units[2].0.valid = false;
    units[2].0.revision = 4;
    let c = consolidate(&department_meta(&filed, 1), &units);
    assert!(c.built_on_failing_units);
    let f = c
        .findings
        .iter()
        .find(|f| f.rule_id == "CU-08")
        .expect("CU-08");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("第 4 版") && f.message.contains(&units[2].0.code));
    let cmp = compare(&c, &filed);
    assert!(cmp.built_on_failing_units);
    assert!(cmp.units.contains(&(units[2].0.code.clone(), 4)));
}

#[test]
fn missing_unit_type_is_cu09_and_its_operating_expenses_are_excluded() {
    let Some(filed) = seed(3) else { return };
    let mut units = split_department(&filed, 2);
    units[2].0.unit_type = None;
    let c = consolidate(&department_meta(&filed, 2), &units);
    assert!(c.findings.iter().any(|f| f.rule_id == "CU-09"));
    let op = c.operating_expenses.as_ref().expect("operating expenses");
    assert_eq!(op.units.len(), 1);
    assert!(op.excluded.contains(&units[2].0.code));
}

#[test]
fn declared_unit_list_is_checked_cu03() {
    let Some(filed) = seed(3) else { return };
    let units = split_department(&filed, 3);
    let root = department_meta(&filed, 3);
    // All three declared units present: no CU-03.
    let c = consolidate(&root, &units);
    assert!(
        !compare(&c, &filed)
            .findings
            .iter()
            .any(|f| f.rule_id == "CU-03")
    );
    // Leave one out: count and name mismatch.
    let c = consolidate(&root, &units[..2]);
    let cmp = compare(&c, &filed);
    let cu03: Vec<_> = cmp
        .findings
        .iter()
        .filter(|f| f.rule_id == "CU-03")
        .collect();
    assert!(
        cu03.iter()
            .any(|f| f.message.contains("纳入 3 个单位，实际汇总 2 个")),
        "{cu03:#?}"
    );
    assert!(
        cu03.iter().any(|f| f.message.contains(&units[2].0.name)),
        "{cu03:#?}"
    );
}

#[test]
fn filed_report_without_elimination_is_a_cu02_error() {
    let Some(filed) = seed(3) else { return };
    let units = split_department(&filed, 4);
    let c = consolidate(&department_meta(&filed, 4), &units);
    // A 汇总 that simply added the units (no 调整表): gross 上级补助收入 in 公开01.
    let mut gross = filed.clone();
    let t: Decimal = units
        .iter()
        .filter_map(|(_, r)| r.value("公开01", "上级补助收入", "决算数"))
        .sum();
    assert!(t > Decimal::ZERO);
    gross.facts.push(gouji_domain::Fact {
        row: "上级补助收入".into(),
        value: t,
        ..filed
            .fact("公开01", "本年收入合计", "决算数")
            .expect("cell")
            .clone()
    });
    let cmp = compare(&c, &gross);
    assert!(
        cmp.findings.iter().any(|f| f.rule_id == "CU-02"
            && f.severity == Severity::Error
            && f.locations[0].row == "上级补助收入"),
        "{:#?}",
        cmp.findings
    );
}

#[test]
fn rejects_wrong_year_kind_duplicates_and_department_reports() {
    let (root, units) = generate_department(3, 1);
    let mut c = Consolidator::new(root.clone(), ReportKind::FinalAccounts, 2024);
    c.add(units[0].0.clone(), &units[0].1).expect("first");
    assert!(matches!(
        c.add(units[0].0.clone(), &units[0].1),
        Err(ConsolidateError::DuplicateUnit { .. })
    ));
    let mut r = units[1].1.clone();
    r.year = 2023;
    assert!(matches!(
        c.add(units[1].0.clone(), &r),
        Err(ConsolidateError::WrongYear { .. })
    ));
    r.year = 2024;
    r.kind = ReportKind::Budget;
    assert!(matches!(
        c.add(units[1].0.clone(), &r),
        Err(ConsolidateError::WrongKind { .. })
    ));
    r.kind = ReportKind::FinalAccounts;
    r.scope = Scope::Department;
    assert!(matches!(
        c.add(units[1].0.clone(), &r),
        Err(ConsolidateError::DepartmentReport { .. })
    ));
    assert_eq!(c.len(), 1);
}

#[test]
fn yuan_units_are_converted_exactly_and_compared_without_tolerance() {
    let (root, mut units) = generate_department(4, 21);
    // Unit 2 submits in 元.
    for f in &mut units[2].1.facts {
        if f.unit == gouji_domain::MeasureUnit::Wanyuan {
            f.value *= dec!(10000);
            f.unit = gouji_domain::MeasureUnit::Yuan;
        }
    }
    let (_, wan) = generate_department(4, 21);
    let a = consolidate(&root, &units);
    let b = consolidate(&root, &wan);
    assert_eq!(facts_sorted(&a.report), facts_sorted(&b.report));
    // A 元 filing of a 元-only consolidation has zero tolerance.
    let only_yuan = consolidate(&root, &units[2..3]);
    assert_eq!(
        only_yuan.tolerance("公开01", "本年收入合计", "决算数", false),
        Decimal::ZERO
    );
    assert_eq!(
        a.tolerance("公开01", "一般公共预算财政拨款收入", "决算数", true),
        dec!(0.020)
    );
}

#[test]
fn deeper_hierarchy_eliminates_level_by_level() {
    let (root, units) = generate_department(40, 8);
    let c = consolidate(&root, &units);
    // Every 三级 unit (position 4, 8, …) is paired with its 二级 parent, not with the 本级.
    let third_level_parents: Vec<&str> = c
        .eliminations
        .iter()
        .filter(|e| e.parent != units[0].0.code)
        .map(|e| e.parent.as_str())
        .collect();
    assert!(!third_level_parents.is_empty());
    for e in &c.eliminations {
        assert_eq!(e.difference, Decimal::ZERO, "{e:?}");
    }
    assert!(!c.findings.iter().any(|f| f.rule_id == "CU-02"));
    // After elimination no internal transfer is left in the 汇总 (all parents are inside).
    for (t, r, col) in [
        ("公开01", "上级补助收入", "决算数"),
        ("公开01", "附属单位上缴收入", "决算数"),
        ("公开03", "合计", "对附属单位补助支出"),
        ("公开03", "合计", "上缴上级支出"),
        ("公开02", "合计", "上级补助收入"),
    ] {
        assert_eq!(
            c.value(t, r, col).unwrap_or_default(),
            Decimal::ZERO,
            "{t} {r} {col}"
        );
    }
    // Income still equals expenditure in the 汇总.
    assert_eq!(
        c.value("公开01", "收入总计", "决算数"),
        c.value("公开01", "支出总计", "决算数")
    );
}

fn facts_sorted(r: &Report) -> Vec<(String, String, String, Decimal)> {
    let mut v: Vec<_> = r
        .facts
        .iter()
        .map(|f| {
            (
                f.table.clone(),
                f.row.clone(),
                f.column.clone(),
                f.value.normalize(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every 类/款 equals the sum of its children, and 合计 the sum of 类, in every coded table.
fn assert_hierarchy(r: &Report) {
    use gouji_domain::codes;
    for f in &r.facts {
        let is_code =
            codes::functional_level(&f.row).is_some() || codes::economic_level(&f.row).is_some();
        let children: Vec<Decimal> = r
            .facts
            .iter()
            .filter(|g| g.table == f.table && g.column == f.column)
            .filter(|g| {
                if f.row == "合计" {
                    codes::functional_level(&g.row) == Some(codes::Level::Lei)
                } else {
                    is_code && codes::parent(&g.row) == Some(f.row.as_str())
                }
            })
            .map(|g| g.value)
            .collect();
        if !children.is_empty() {
            assert_eq!(
                children.iter().copied().sum::<Decimal>(),
                f.value,
                "{} {} {}",
                f.table,
                f.row,
                f.column
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn independent_of_unit_order(seed_value in 0u64..1_000, n in 2usize..12, rot in 0usize..12) {
        let (root, units) = generate_department(n, seed_value);
        let a = consolidate(&root, &units);
        let mut shuffled = units.clone();
        shuffled.rotate_left(rot % n);
        shuffled.reverse();
        let b = consolidate(&root, &shuffled);
        prop_assert_eq!(&a.report.facts, &b.report.facts);
        prop_assert_eq!(&a.report.tables, &b.report.tables);
        let mut ea = a.eliminations.clone();
        let mut eb = b.eliminations.clone();
        ea.sort_by_key(|x| (x.parent.clone(), x.pair as u8));
        eb.sort_by_key(|x| (x.parent.clone(), x.pair as u8));
        for e in ea.iter_mut().chain(eb.iter_mut()) { e.children.sort(); }
        prop_assert_eq!(ea, eb);
        prop_assert_eq!(
            a.contributions("公开03", "合计", "本年支出合计"),
            b.contributions("公开03", "合计", "本年支出合计")
        );
    }

    #[test]
    fn hierarchy_holds_in_the_result(seed_value in 0u64..1_000, n in 1usize..15) {
        let (root, units) = generate_department(n, seed_value);
        let c = consolidate(&root, &units);
        assert_hierarchy(&c.report);
    }

    #[test]
    fn eliminations_cancel(seed_value in 0u64..1_000, n in 2usize..20) {
        let (root, units) = generate_department(n, seed_value);
        let c = consolidate(&root, &units);
        for e in &c.eliminations {
            prop_assert_eq!(e.difference, Decimal::ZERO);
        }
        // Σ of the units' gross totals minus the eliminated transfers = the 汇总 total.
        let gross: Decimal = units.iter().filter_map(|(_, r)| r.value("公开01", "本年收入合计", "决算数")).sum();
        let internal: Decimal = c.eliminations.iter().map(|e| e.children_total + e.parent_amount).sum::<Decimal>()
            - c.eliminations.iter().filter(|e| e.pair == TransferPair::Subsidy).map(|e| e.parent_amount).sum::<Decimal>()
            - c.eliminations.iter().filter(|e| e.pair == TransferPair::Remittance).map(|e| e.children_total).sum::<Decimal>();
        prop_assert_eq!(c.value("公开01", "本年收入合计", "决算数"), Some(gross - internal));
        prop_assert_eq!(c.value("公开01", "收入总计", "决算数"), c.value("公开01", "支出总计", "决算数"));
        prop_assert_eq!(c.value("公开02", "合计", "上级补助收入").unwrap_or_default(), Decimal::ZERO);
        prop_assert_eq!(c.value("公开03", "合计", "上缴上级支出").unwrap_or_default(), Decimal::ZERO);
    }

    #[test]
    fn single_unit_returns_its_own_tables(seed_value in 0u64..1_000) {
        let (root, units) = generate_department(1, seed_value);
        let c = consolidate(&root, &units);
        prop_assert_eq!(facts_sorted(&c.report), facts_sorted(&units[0].1));
        prop_assert!(c.eliminations.is_empty());
        let cmp = compare(&c, &units[0].1);
        prop_assert!(cmp.differences.is_empty(), "{:?}", cmp.differences);
    }
}

#[test]
fn generated_units_are_typed_and_consistent() {
    let (root, units) = generate_department(12, 3);
    assert_eq!(units.len(), 12);
    assert_eq!(units[0].0.code, root.code);
    assert_eq!(units[0].0.unit_type, Some(UnitType::Administrative));
    assert_eq!(
        units[4].0.parent_code.as_deref(),
        Some(units[3].0.code.as_str())
    );
    for (_, r) in &units {
        assert_hierarchy(r);
        assert_eq!(
            r.value("公开01", "收入总计", "决算数"),
            r.value("公开01", "支出总计", "决算数")
        );
    }
}

#[test]
fn absurd_amounts_are_left_out_without_panicking() {
    let (root, mut units) = generate_department(3, 5);
    let max = Decimal::MAX;
    if let Some(f) = units[1].1.facts.first_mut() {
        f.value = max;
    }
    let c = consolidate(&root, &units);
    assert!(
        c.findings
            .iter()
            .any(|f| f.rule_id == "CU-01" && f.severity == Severity::Error)
    );
    let _ = compare(&c, &units[1].1);
    let mut filed = units[0].1.clone();
    for f in &mut filed.facts {
        f.value = Decimal::MIN;
    }
    let _ = compare(&c, &filed);
}
