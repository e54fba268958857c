//! Deterministic synthetic fixtures for consolidation (部门汇总): unit reports whose 汇总 is
//! known. Used by the domain tests, the CLI demo, the aggregation service's end-to-end tests and
//! the consolidation benchmark.
//!
//! - [`split_department`] takes a filed 汇总 (seeds S3, S4) and splits it into a 本级 (own-level)
//!   unit and two 二级 (second-level) units of different unit types. Every additive cell `v` is
//!   split with the same three weights: `u1 = round(v·w1)`, `u2 = round(v·w2)` at the printed
//!   scale, `u0 = v − u1 − u2`, so the three parts sum to `v` exactly, in the report's own unit,
//!   and two printed copies of one number are split identically. Counts are split into integers;
//!   percentages are copied (they are never summed). Two internal transfers are then added and
//!   must be eliminated again by the consolidation:
//!   * 本级 hands part `T` of its 项目支出 (project spending) on one 项 to child 1: 本级's
//!     项目支出 − T and 对附属单位补助支出 + T; child 1's 上级补助收入 + T and 项目支出 + T;
//!   * child 2 remits part `T2` of its 基本支出 (basic spending) on one 项 to 本级: child 2's
//!     基本支出 − T2 and 上缴上级支出 + T2; 本级's 附属单位上缴收入 + T2 and 基本支出 + T2;
//!
//!   each with every total containing the cell (公开01/02/03 rows, 款, 类, 合计). The financial
//!   (财政拨款) tables 公开04–公开09 are untouched by the transfers, so the synthetic units'
//!   公开03 项目/基本 columns no longer equal their 公开05 columns on those two 项 — the units are
//!   consolidation fixtures, not validation fixtures. Unit names come from the report's declared
//!   «部门决算单位构成» when it lists three units. Consolidating the three units reproduces the
//!   filed tables: leaves exactly, re-derived 类/款/合计 rows within the tolerance model.
//! - [`generate_department`] builds a department of any size (本级 + 二级 units, every fourth
//!   unit a 三级 child of the previous 二级 unit) from scratch, each unit internally consistent
//!   (hierarchy, 公开01 ↔ 02/03/04/05/06), with subsidies and remittances between parents and
//!   children funded from non-财政 income so that 公开04/05 stay consistent.
//!
//! Randomness is a SplitMix64 stream seeded by the caller: the same seed gives the same fixtures
//! on every platform. Amounts are `rust_decimal` throughout.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::amount::{MeasureUnit, round_half_up};
use crate::codes;
use crate::consolidate::{UnitMeta, declared_units};
use crate::model::{
    Fact, Figure, FigureKind, Provenance, Report, ReportKind, Scope, Section, Table, UnitType,
};

/// SplitMix64: a tiny, good-enough deterministic generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (returns `lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// An amount with 2 decimals in `[lo, hi]` 万元 (given in 分 of 万元, i.e. hundredths).
    pub fn cents(&mut self, lo: u64, hi: u64) -> Decimal {
        Decimal::new(self.range(lo, hi) as i64, 2)
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The department (root) meta for the units of [`split_department`]: same code as the 本级
/// unit, the filed report's subject as name.
pub fn department_meta(report: &Report, seed: u64) -> UnitMeta {
    UnitMeta::new(base_code(report, seed), report.subject.clone())
}

fn base_code(report: &Report, seed: u64) -> String {
    format!("{:08X}", (fnv(&report.subject) ^ seed) & 0xFFFF_FFFF)
}

/// Splits a filed 部门汇总 into 本级 + 2 二级 units (see the module documentation). The first
/// unit is the 本级 (行政, code = [`department_meta`]'s code, no parent); the others are a 事业
/// and a 参公 unit whose parent is the 本级.
pub fn split_department(report: &Report, seed: u64) -> Vec<(UnitMeta, Report)> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0000_0000_0003);
    // Weights in hundredths: w1 ∈ [20, 35] %, w2 ∈ [15, 30] %, w0 = the rest (≥ 35 %).
    let w1 = Decimal::new(rng.range(20, 35) as i64, 2);
    let w2 = Decimal::new(rng.range(15, 30) as i64, 2);
    let base = base_code(report, seed);
    let subject = report.subject.replace("(汇总)", "").replace("（汇总）", "");
    let declared = declared_units(report)
        .map(|d| d.names)
        .filter(|n| n.len() == 3);
    let names: Vec<String> = match declared {
        Some(n) => n,
        None => vec![
            format!("{subject}本级"),
            format!("{subject}所属单位一"),
            format!("{subject}所属单位二"),
        ],
    };
    let metas = [
        UnitMeta::new(base.clone(), names[0].clone()).with_type(UnitType::Administrative),
        UnitMeta::new(format!("{base}-01"), names[1].clone())
            .with_type(UnitType::Institution)
            .with_parent(base.clone()),
        UnitMeta::new(format!("{base}-02"), names[2].clone())
            .with_type(UnitType::CivilServiceManaged)
            .with_parent(base.clone()),
    ];
    let mut units: Vec<Report> = metas
        .iter()
        .map(|m| {
            let mut r = Report::new(
                m.name.clone(),
                report.year,
                report.kind,
                Scope::Unit,
                report.family.clone(),
            );
            r.unit_type = m.unit_type;
            r.tables = report
                .tables
                .iter()
                .map(|t| Table {
                    entity: Some(m.name.clone()),
                    unreadable: Vec::new(),
                    printed_number: None,
                    ..t.clone()
                })
                .collect();
            r
        })
        .collect();
    for f in &report.facts {
        let parts = split_value(f.value, f.unit, w1, w2);
        for (u, v) in units.iter_mut().zip(parts) {
            u.facts.push(Fact {
                value: v,
                ..f.clone()
            });
        }
    }
    // 人员 counts, split like other counts, as a narrative section of each unit.
    let counts = crate::consolidate::headcounts_of(report);
    if !counts.is_empty() {
        for u in units.iter_mut() {
            u.sections.push(Section {
                heading: "三、单位人员情况".into(),
                first_line: 0,
                last_line: 0,
            });
        }
        for (key, v) in counts {
            let parts = split_value(v, MeasureUnit::Count, w1, w2);
            for (u, x) in units.iter_mut().zip(parts) {
                u.figures.push(count_figure(key, x));
            }
        }
    }
    if report.kind == ReportKind::FinalAccounts {
        add_split_transfers(&mut units);
    }
    metas.into_iter().zip(units).collect()
}

fn count_figure(key: &str, v: Decimal) -> Figure {
    let label = match key {
        "实有人员.行政" => "其中行政",
        "实有人员.事业" => "事业",
        k => k,
    };
    Figure {
        section: 0,
        kind: FigureKind::Count,
        label: label.to_string(),
        value: Some(v),
        unit: MeasureUnit::Count,
        printed: format!("{v}人"),
        direction: None,
        source: Provenance::default(),
    }
}

/// Splits `v` into three parts summing to `v` exactly (see the module documentation).
fn split_value(v: Decimal, unit: MeasureUnit, w1: Decimal, w2: Decimal) -> [Decimal; 3] {
    match unit {
        MeasureUnit::Percent => [v, v, v],
        MeasureUnit::Count => {
            let a = (v * w1).floor();
            let b = (v * w2).floor();
            [v - a - b, a, b]
        }
        _ => {
            let scale = v.scale();
            let a = round_half_up(v * w1, scale);
            let b = round_half_up(v * w2, scale);
            [v - a - b, a, b]
        }
    }
}

/// Adds `delta` to a cell, creating it (in the table's unit) when absent.
fn bump(r: &mut Report, table: &str, row: &str, column: &str, delta: Decimal) {
    if let Some(f) = r
        .facts
        .iter_mut()
        .find(|f| f.table == table && f.row == row && f.column == column)
    {
        f.value += delta;
        return;
    }
    let unit = r
        .table(table)
        .map(|t| t.unit)
        .unwrap_or(MeasureUnit::Wanyuan);
    r.facts.push(Fact {
        table: table.into(),
        row: row.into(),
        column: column.into(),
        value: delta,
        unit,
        source: Provenance::default(),
    });
}

/// Adds `delta` to a coded cell, its 款/类 ancestors and the table's 合计 row (when printed).
fn bump_tree(r: &mut Report, table: &str, code: &str, column: &str, delta: Decimal) {
    let has_total = r.facts.iter().any(|f| f.table == table && f.row == "合计");
    let mut c = Some(code);
    while let Some(x) = c {
        bump(r, table, x, column, delta);
        c = codes::parent(x);
    }
    if has_total {
        bump(r, table, "合计", column, delta);
    }
}

/// The leaf code row of a coded table with the largest value in `column`.
fn largest_leaf(r: &Report, table: &str, column: &str) -> Option<(String, Decimal)> {
    let codes_in: Vec<&str> = r
        .facts_of(table)
        .filter(|f| codes::functional_level(&f.row).is_some())
        .map(|f| f.row.as_str())
        .collect();
    r.facts_of(table)
        .filter(|f| f.column == column && codes::functional_level(&f.row).is_some())
        .filter(|f| {
            !codes_in
                .iter()
                .any(|c| c.len() > f.row.len() && c.starts_with(f.row.as_str()))
        })
        .max_by(|a, b| a.value.cmp(&b.value).then_with(|| b.row.cmp(&a.row)))
        .map(|f| (f.row.clone(), f.value))
}

fn class_of(code: &str) -> &str {
    code.get(..3).unwrap_or(code)
}

/// Adds spending `delta` in 公开03 column `col` at `code`, with 本年支出合计 and 公开01.
fn spend(r: &mut Report, code: &str, col: &str, delta: Decimal) {
    bump_tree(r, "公开03", code, col, delta);
    bump_tree(r, "公开03", code, "本年支出合计", delta);
    bump(r, "公开01", class_of(code), "决算数", delta);
    bump(r, "公开01", "本年支出合计", "决算数", delta);
    bump(r, "公开01", "支出总计", "决算数", delta);
}

/// Adds income `delta` in 公开02 column `col` at `code`, with 本年收入合计 and 公开01 row `row01`.
fn receive(r: &mut Report, code: &str, col: &str, row01: &str, delta: Decimal) {
    bump_tree(r, "公开02", code, col, delta);
    bump_tree(r, "公开02", code, "本年收入合计", delta);
    bump(r, "公开01", row01, "决算数", delta);
    bump(r, "公开01", "本年收入合计", "决算数", delta);
    bump(r, "公开01", "收入总计", "决算数", delta);
}

fn add_split_transfers(units: &mut [Report]) {
    if units.len() < 3 || units[0].table("公开03").is_none() || units[0].table("公开02").is_none()
    {
        return;
    }
    // Subsidy: 本级 → child 1 out of 本级's 项目支出.
    if let Some((code, p0)) = largest_leaf(&units[0], "公开03", "项目支出") {
        let t = round_half_up(p0 / Decimal::TWO, 2);
        if t > Decimal::ZERO {
            bump_tree(&mut units[0], "公开03", &code, "项目支出", -t);
            bump_tree(&mut units[0], "公开03", &code, "对附属单位补助支出", t);
            receive(&mut units[1], &code, "上级补助收入", "上级补助收入", t);
            spend(&mut units[1], &code, "项目支出", t);
        }
    }
    // Remittance: child 2 → 本级 out of child 2's 基本支出.
    if let Some((code, b2)) = largest_leaf(&units[2], "公开03", "基本支出") {
        let t = round_half_up(b2 * Decimal::new(3, 1), 2);
        if t > Decimal::ZERO {
            bump_tree(&mut units[2], "公开03", &code, "基本支出", -t);
            bump_tree(&mut units[2], "公开03", &code, "上缴上级支出", t);
            receive(
                &mut units[0],
                &code,
                "附属单位上缴收入",
                "附属单位上缴收入",
                t,
            );
            spend(&mut units[0], &code, "基本支出", t);
        }
    }
}

/// 项 codes the generator draws from (all seen in the seeds).
const LEAF_CODES: &[&str] = &[
    "2010101", "2050803", "2080501", "2080505", "2080506", "2100102", "2101501", "2101502",
    "2101505", "2101506", "2101550", "2101599", "2210201",
];

/// 经济分类 款 of 基本支出 (公开06) the generator draws from.
const ECON_CODES: &[&str] = &[
    "30101", "30102", "30103", "30107", "30108", "30109", "30112", "30113", "30199", "30201",
    "30207", "30211", "30228", "30231", "30239", "30305",
];

/// One generated unit before rendering.
#[derive(Debug, Clone, Default)]
struct GenUnit {
    /// 公开02 per leaf code: column → amount.
    income: BTreeMap<String, BTreeMap<&'static str, Decimal>>,
    /// 公开03 per leaf code: column → amount.
    spending: BTreeMap<String, BTreeMap<&'static str, Decimal>>,
    /// 公开05 per leaf code: (基本支出, 项目支出), 一般公共预算 only.
    general: BTreeMap<String, (Decimal, Decimal)>,
    econ: BTreeMap<String, Decimal>,
    sangong: Vec<(&'static str, &'static str, Decimal)>,
    staff: Vec<(&'static str, Decimal)>,
}

fn add_to(
    m: &mut BTreeMap<String, BTreeMap<&'static str, Decimal>>,
    code: &str,
    col: &'static str,
    v: Decimal,
) {
    *m.entry(code.to_string())
        .or_default()
        .entry(col)
        .or_default() += v;
}

/// Generates a department of `n_units` units (at least 1): the 本级 unit first, then 二级 units
/// (parent = 本级) and, at every fourth position, a 三级 unit whose parent is the 二级 unit
/// before it. Unit types cycle 参公/事业/事业 below the 行政 本级. Every third non-本级 unit
/// receives a subsidy from its parent (上级补助收入 ↔ 对附属单位补助支出) and every fifth
/// remits to it (上缴上级支出 ↔ 附属单位上缴收入), both sides funded from 其他收入 so each
/// unit stays balanced. Returns the department meta (code = 本级 code) and the units.
pub fn generate_department(n_units: usize, seed: u64) -> (UnitMeta, Vec<(UnitMeta, Report)>) {
    let n = n_units.max(1);
    let mut rng = SplitMix64::new(seed);
    let base = format!("G{:06X}", seed & 0xFF_FFFF);
    let dept_name = format!("合成第{}医疗保障局", seed % 1000);
    let mut metas = Vec::with_capacity(n);
    let mut data: Vec<GenUnit> = Vec::with_capacity(n);
    for i in 0..n {
        let code = format!("{base}-{i:05}");
        let (name, unit_type, parent) = if i == 0 {
            (format!("{dept_name}本级"), UnitType::Administrative, None)
        } else {
            let t = match i % 3 {
                0 => UnitType::CivilServiceManaged,
                _ => UnitType::Institution,
            };
            let parent = if i % 4 == 0 && i >= 2 { i - 1 } else { 0 };
            (format!("{dept_name}所属单位{i}"), t, Some(parent))
        };
        let mut m = UnitMeta::new(code, name).with_type(unit_type);
        if let Some(p) = parent {
            m.parent_code = Some(format!("{base}-{p:05}"));
        }
        metas.push(m);
        data.push(gen_unit(&mut rng));
    }
    // Transfers between each non-本级 unit and its parent.
    for i in 1..n {
        let p = if i % 4 == 0 && i >= 2 { i - 1 } else { 0 };
        let Some(code) = data[i].spending.keys().next().cloned() else {
            continue;
        };
        if i % 3 == 0 {
            let t = rng.cents(100, 5_000);
            add_to(&mut data[p].income, &code, "其他收入", t);
            add_to(&mut data[p].spending, &code, "对附属单位补助支出", t);
            add_to(&mut data[i].income, &code, "上级补助收入", t);
            add_to(&mut data[i].spending, &code, "项目支出", t);
        }
        if i % 5 == 0 {
            let t = rng.cents(100, 3_000);
            add_to(&mut data[i].income, &code, "其他收入", t);
            add_to(&mut data[i].spending, &code, "上缴上级支出", t);
            add_to(&mut data[p].income, &code, "附属单位上缴收入", t);
            add_to(&mut data[p].spending, &code, "项目支出", t);
        }
    }
    let root = UnitMeta::new(format!("{base}-00000"), dept_name);
    let units = metas
        .into_iter()
        .zip(data)
        .map(|(m, d)| {
            let r = render(&m, &d);
            (m, r)
        })
        .collect();
    (root, units)
}

fn gen_unit(rng: &mut SplitMix64) -> GenUnit {
    let mut g = GenUnit::default();
    let k = rng.range(4, 9) as usize;
    let start = rng.range(0, LEAF_CODES.len() as u64 - 1) as usize;
    let mut basic_total = Decimal::ZERO;
    for j in 0..k {
        let code = LEAF_CODES[(start + j * 3) % LEAF_CODES.len()];
        if g.general.contains_key(code) {
            continue;
        }
        let b = if j % 2 == 0 {
            rng.cents(0, 50_000)
        } else {
            Decimal::ZERO
        };
        let p = rng.cents(0, 30_000);
        g.general.insert(code.to_string(), (b, p));
        add_to(&mut g.income, code, "财政拨款收入", b + p);
        if !b.is_zero() {
            add_to(&mut g.spending, code, "基本支出", b);
        }
        if !p.is_zero() {
            add_to(&mut g.spending, code, "项目支出", p);
        }
        basic_total += b;
    }
    // 公开06: split 基本支出 over 经济分类 款 exactly.
    let m = rng.range(5, ECON_CODES.len() as u64) as usize;
    let mut left = basic_total;
    for (j, code) in ECON_CODES.iter().take(m).enumerate() {
        let v = if j + 1 == m {
            left
        } else {
            let share = Decimal::new(rng.range(5, 30) as i64, 2);
            round_half_up(left * share, 2)
        };
        if !v.is_zero() {
            g.econ.insert((*code).to_string(), v);
        }
        left -= v;
    }
    let upkeep = rng.cents(0, 300);
    let reception = rng.cents(0, 200);
    let meeting = rng.cents(0, 500);
    let training = rng.cents(0, 800);
    for (row, scale) in [("预算数", Decimal::ONE), ("决算数", Decimal::new(9, 1))] {
        let u = round_half_up(upkeep * scale, 2);
        let r = round_half_up(reception * scale, 2);
        g.sangong.extend([
            (row, "合计", u + r),
            (row, "公务用车购置及运行维护费", u),
            (row, "公务用车运行维护费", u),
            (row, "公务接待费", r),
            (row, "会议费", round_half_up(meeting * scale, 2)),
            (row, "培训费", round_half_up(training * scale, 2)),
        ]);
    }
    let admin = Decimal::from(rng.range(0, 10));
    let inst = Decimal::from(rng.range(0, 40));
    g.staff = vec![
        ("人员编制", admin + inst),
        ("行政编制", admin),
        ("事业编制", inst),
        ("实有人员", admin + inst),
        ("实有人员.行政", admin),
        ("实有人员.事业", inst),
        ("离退休人员", Decimal::from(rng.range(0, 5))),
    ];
    g
}

/// Sums leaf values up to 款, 类 and 合计.
fn roll_up(
    leaves: &BTreeMap<String, BTreeMap<&'static str, Decimal>>,
) -> BTreeMap<String, BTreeMap<&'static str, Decimal>> {
    let mut out: BTreeMap<String, BTreeMap<&'static str, Decimal>> = BTreeMap::new();
    for (code, cols) in leaves {
        for (col, v) in cols {
            let mut c = Some(code.as_str());
            while let Some(x) = c {
                add_to(&mut out, x, col, *v);
                c = codes::parent(x);
            }
            add_to(&mut out, "合计", col, *v);
        }
    }
    out
}

fn fact(table: &str, row: &str, column: &str, value: Decimal) -> Fact {
    Fact {
        table: table.into(),
        row: row.into(),
        column: column.into(),
        value,
        unit: MeasureUnit::Wanyuan,
        source: Provenance::default(),
    }
}

/// Renders a generated unit as a shaanxi-js 决算 report.
fn render(m: &UnitMeta, g: &GenUnit) -> Report {
    let mut r = Report::new(
        m.name.clone(),
        2024,
        ReportKind::FinalAccounts,
        Scope::Unit,
        "shaanxi-js",
    );
    r.unit_type = m.unit_type;
    if let Some(fam) = crate::template::family("shaanxi-js") {
        r.tables = fam
            .tables
            .iter()
            .map(|t| Table {
                id: t.id.clone(),
                title: t.titles.first().cloned().unwrap_or_default(),
                unit: MeasureUnit::Wanyuan,
                empty_reason: matches!(t.id.as_str(), "公开07" | "公开08")
                    .then(|| "本单位不涉及故公开空表".to_string()),
                line: 0,
                rows: Vec::new(),
                dashes: Vec::new(),
                entity: Some(m.name.clone()),
                unreadable: Vec::new(),
                printed_number: None,
            })
            .collect();
    }
    let sum_col = |t: &BTreeMap<String, BTreeMap<&'static str, Decimal>>, col: &str| -> Decimal {
        t.get("合计")
            .and_then(|c| c.get(col))
            .copied()
            .unwrap_or_default()
    };
    // 公开02 / 公开03 with their own 本年收入合计 / 本年支出合计 columns.
    let mut income = g.income.clone();
    for cols in income.values_mut() {
        let total: Decimal = cols.values().copied().sum();
        cols.insert("本年收入合计", total);
    }
    let mut spending = g.spending.clone();
    for cols in spending.values_mut() {
        let total: Decimal = cols.values().copied().sum();
        cols.insert("本年支出合计", total);
    }
    let income = roll_up(&income);
    let spending = roll_up(&spending);
    let mut facts = Vec::new();
    // 公开01.
    let inc = |c: &str| sum_col(&income, c);
    let fiscal = inc("财政拨款收入");
    for (row, v) in [
        ("一般公共预算财政拨款收入", fiscal),
        ("上级补助收入", inc("上级补助收入")),
        ("附属单位上缴收入", inc("附属单位上缴收入")),
        ("其他收入", inc("其他收入")),
        ("本年收入合计", inc("本年收入合计")),
        ("收入总计", inc("本年收入合计")),
    ] {
        if !v.is_zero() {
            facts.push(fact("公开01", row, "决算数", v));
        }
    }
    for (code, cols) in &spending {
        if code.len() == 3
            && let Some(v) = cols.get("本年支出合计")
        {
            facts.push(fact("公开01", code, "决算数", *v));
        }
    }
    let exp_total = sum_col(&spending, "本年支出合计");
    facts.push(fact("公开01", "本年支出合计", "决算数", exp_total));
    facts.push(fact("公开01", "支出总计", "决算数", exp_total));
    for (table, tree) in [("公开02", &income), ("公开03", &spending)] {
        for (code, cols) in tree {
            for (col, v) in cols {
                if !v.is_zero() {
                    facts.push(fact(table, code, col, *v));
                }
            }
        }
    }
    // 公开04 / 公开05 (一般公共预算 only).
    let mut general: BTreeMap<String, BTreeMap<&'static str, Decimal>> = BTreeMap::new();
    for (code, (b, p)) in &g.general {
        add_to(&mut general, code, "合计", *b + *p);
        add_to(&mut general, code, "基本支出", *b);
        add_to(&mut general, code, "项目支出", *p);
    }
    let general = roll_up(&general);
    for (code, cols) in &general {
        for (col, v) in cols {
            if !v.is_zero() {
                facts.push(fact("公开05", code, col, *v));
            }
        }
        if code.len() == 3 {
            let v = cols.get("合计").copied().unwrap_or_default();
            facts.push(fact("公开04", code, "合计", v));
            facts.push(fact("公开04", code, "一般公共预算财政拨款", v));
        }
    }
    facts.push(fact("公开04", "一般公共预算财政拨款", "决算数", fiscal));
    facts.push(fact("公开04", "本年收入合计", "决算数", fiscal));
    facts.push(fact("公开04", "收入总计", "决算数", fiscal));
    for row in ["本年支出合计", "支出总计"] {
        facts.push(fact("公开04", row, "合计", fiscal));
        facts.push(fact("公开04", row, "一般公共预算财政拨款", fiscal));
    }
    // 公开06.
    let mut classes: BTreeMap<&str, Decimal> = BTreeMap::new();
    for (code, v) in &g.econ {
        facts.push(fact("公开06", code, "决算数", *v));
        *classes.entry(class_of(code)).or_default() += *v;
    }
    let mut personnel = Decimal::ZERO;
    let mut public = Decimal::ZERO;
    for (c, v) in &classes {
        facts.push(fact("公开06", c, "决算数", *v));
        if codes::econ_group(c) == codes::EconGroup::Personnel {
            personnel += *v;
        } else {
            public += *v;
        }
    }
    facts.push(fact("公开06", "人员经费合计", "决算数", personnel));
    facts.push(fact("公开06", "公用经费合计", "决算数", public));
    // 公开09.
    for (row, col, v) in &g.sangong {
        if !v.is_zero() {
            facts.push(fact("公开09", row, col, *v));
        }
    }
    r.facts = facts;
    r.sections.push(Section {
        heading: "三、单位人员情况".into(),
        first_line: 0,
        last_line: 0,
    });
    r.figures = g.staff.iter().map(|(k, v)| count_figure(k, *v)).collect();
    r
}
