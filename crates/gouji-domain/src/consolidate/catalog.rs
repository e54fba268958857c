//! The cross-unit rules CU-01…CU-10 (rules.md §1.3 E) as catalog entries, and helpers to build
//! their findings. These rules run only during consolidation ([`super::Consolidator::finish`],
//! [`super::compare`], [`super::carry_forward`]), never in `rules::validate`.

use rust_decimal::Decimal;

use super::UnitMeta;
use crate::rules::{Finding, Location, Severity};

/// (id, severity, scope, title, description), the shape of the other rule modules' catalogs.
pub(crate) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "CU-01",
        Severity::Error,
        "CU",
        "汇总数 = 各单位之和 − 内部冲抵",
        "部门汇总表每个单元格（表、科目/行、列）应等于纳入汇总的各单位相应单元格之和减去内部往来冲抵数；类、款由项重新汇总。容差 0.005×(n+1) 万元（n 为相加的万元数个数），元数据精确相等。",
    ),
    (
        "CU-02",
        Severity::Warning,
        "CU",
        "内部往来冲抵对称",
        "上级单位对附属单位补助支出 = 下级单位上级补助收入之和；下级单位上缴上级支出之和 = 上级单位附属单位上缴收入；汇总时两方均应冲抵。不对称为警告（列明双方单位），汇总表未冲抵为错误。",
    ),
    (
        "CU-03",
        Severity::Error,
        "CU",
        "部门决算单位构成与汇总单位一致",
        "“部门决算单位构成”所述单位个数与名单应与实际纳入汇总的单位一致；下级单位的上级单位应在汇总范围内。",
    ),
    (
        "CU-04",
        Severity::Warning,
        "CU",
        "机关运行经费只来自行政及参公单位",
        "部门汇总机关运行经费 = 行政单位和参照公务员法管理事业单位的公用经费之和；事业单位填报的机关运行经费不计入汇总。",
    ),
    (
        "CU-05",
        Severity::Warning,
        "CU",
        "计数类指标精确汇总",
        "车辆数、编制人数、实有人数、离退休人数等整数指标的汇总数应精确等于各单位之和。",
    ),
    (
        "CU-06",
        Severity::Error,
        "CU",
        "三公经费、会议费、培训费、政府采购及人员/公用经费汇总",
        "“三公”经费（预算数、决算数）、会议费、培训费、政府采购金额、公开06 人员经费合计/公用经费合计的汇总数 = 各单位之和（容差同 CU-01）。",
    ),
    (
        "CU-07",
        Severity::Warning,
        "CU",
        "年初结转和结余 = 上年年末数",
        "本年部门汇总的年初结转和结余（公开01、公开04、公开07）应等于上年部门汇总的年末结转和结余。",
    ),
    (
        "CU-08",
        Severity::Error,
        "CU",
        "纳入汇总的单位须通过本单位审核",
        "各单位报表须先通过本单位的错误级审核才能纳入部门汇总；纳入了未通过审核的单位时，汇总结果予以标记。",
    ),
    (
        "CU-09",
        Severity::Error,
        "CU",
        "单位性质必填",
        "每个纳入汇总的单位须提供单位性质（行政/参公/事业）及上下级关系；机关运行经费相关规则（JS10-3、CU-04）依赖该信息。",
    ),
    (
        "CU-10",
        Severity::Warning,
        "CU",
        "汇总说明引用汇总数",
        "部门汇总的情况说明应引用汇总数而非本级数，并说明反映的单位范围。",
    ),
];

/// A CU finding.
pub(crate) fn finding(
    rule_id: &str,
    severity: Severity,
    message: String,
    locations: Vec<Location>,
    expected: Option<Decimal>,
    actual: Option<Decimal>,
) -> Finding {
    Finding::new(
        rule_id, severity, message, locations, expected, actual, None,
    )
}

/// A location naming a unit (for findings about units rather than cells).
pub(crate) fn loc_unit(m: &UnitMeta) -> Location {
    Location {
        text: format!("{}（{}）", m.name, m.code),
        ..Location::default()
    }
}
