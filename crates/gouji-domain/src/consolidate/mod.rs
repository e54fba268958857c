//! 部门汇总 (department consolidation): rolling unit reports up into one department report, and
//! checking a filed 汇总 against it (rules.md §3 and rule group E, CU-01…CU-10).
//!
//! The [`Consolidator`] is incremental: the aggregation service feeds unit reports one at a time
//! (e.g. while reading a gRPC stream) with [`Consolidator::add`] and calls
//! [`Consolidator::finish`] at the end. Only per-cell sums and per-unit contributions are kept,
//! never the reports themselves. Cell keys are interned, so adding a report allocates nothing
//! per fact once its keys have been seen.
//!
//! How a 汇总 is formed (rules.md §3.1):
//!
//! - **Plain summation by key** (table, row, column). Money is converted exactly to 万元 (ten
//!   thousand yuan); counts (辆, 人) sum exactly; percentage cells are never summed.
//! - **Hierarchy rows are re-derived.** For every unit, table and column only the deepest
//!   功能分类/经济分类 rows (the leaves, normally 项 or 经济分类 款) are summed; 款, 类 and the
//!   table's 合计 row are then derived from the summed leaves. Units' own 类/款/合计 rows are
//!   never added (they would double count and carry the units' rounding tails).
//! - **Internal transfers are eliminated** (调整表冲抵): a child's 上级补助收入 (subsidy from its
//!   上级, superior) against its parent's 对附属单位补助支出 (subsidy to subordinate units), and a
//!   child's 上缴上级支出 (remittance to the superior) against the parent's 附属单位上缴收入. Both
//!   sides are removed from the cell itself and from the totals that contain it (公开02 本年收入合计,
//!   公开03 本年支出合计 per row, 公开01 本年收入/支出合计, 收入/支出总计 and the 类 row). An
//!   asymmetric pair is reported (CU-02) naming both units. Parent/child relations come from
//!   [`UnitMeta::parent_code`], so deeper hierarchies (二级 units with their own children) are
//!   eliminated level by level: every parent is paired with its direct children only.
//! - **机关运行经费** (operating expenses of government organs) is taken only from 行政
//!   (administrative) and 参公 (civil-service-managed) units (CU-04); the expected figure is the
//!   sum of those units' 公开06 公用经费合计 (or 表6 公用经费 for 预算).
//! - 人员 counts quoted in each unit's narrative (编制, 实有人员, 离退休) are summed exactly into
//!   [`Consolidation::headcounts`]; no other narrative figure is summed (percentages and rates
//!   must be recomputed from the 汇总 amounts).
//!
//! Tolerance (rules.md §1.2): every published 万元 figure may be off by 0.005 from its true 元
//! value, so a computed cell built from `k` published 万元 addends may differ from a filed 万元
//! cell by `0.005·(k+1)` — R(n_units) for a leaf cell reported by every unit, more for a derived
//! 类 row. Figures submitted in 元 are exact and add nothing to the bound: a comparison of 元 data
//! with a 元 filing has zero tolerance.

mod catalog;
mod compare;
mod declared;
mod intern;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::{self, MeasureUnit};
use crate::codes;
use crate::model::{Fact, Provenance, Report, ReportKind, RowLabel, Scope, Table, UnitType};
use crate::rules::{Finding, Severity, fmt, rounding_bound};

pub(crate) use catalog::CATALOG;
pub use compare::{CellComparison, Comparison, carry_forward, compare};
pub use declared::{DeclaredUnits, declared_units, headcounts_of};

use intern::{FastMap, Interner, Sym};

/// One unit report's identity as known to the aggregation service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitMeta {
    /// Unit code (单位代码), unique within the consolidation.
    pub code: String,
    /// 单位名称.
    pub name: String,
    /// 单位性质; required by CU-09 (missing → error finding).
    pub unit_type: Option<UnitType>,
    /// Code of the 上级 (superior) unit. `None` for the department's 本级 (own-level) unit.
    pub parent_code: Option<String>,
    /// Revision of the unit report that was used.
    pub revision: u32,
    /// The unit report passed its own error rules (CU-08).
    pub valid: bool,
}

impl UnitMeta {
    /// A valid, first-revision unit with no type and no parent.
    pub fn new(code: impl Into<String>, name: impl Into<String>) -> Self {
        UnitMeta {
            code: code.into(),
            name: name.into(),
            unit_type: None,
            parent_code: None,
            revision: 1,
            valid: true,
        }
    }

    /// Sets the unit type.
    pub fn with_type(mut self, t: UnitType) -> Self {
        self.unit_type = Some(t);
        self
    }

    /// Sets the parent unit code.
    pub fn with_parent(mut self, parent: impl Into<String>) -> Self {
        self.parent_code = Some(parent.into());
        self
    }
}

/// Why a unit report cannot enter the consolidation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsolidateError {
    #[error("unit {unit}: report year {found}, consolidation year {expected}")]
    WrongYear {
        unit: String,
        expected: i32,
        found: i32,
    },
    #[error("unit {unit}: report is {found:?}, consolidation is {expected:?}")]
    WrongKind {
        unit: String,
        expected: ReportKind,
        found: ReportKind,
    },
    #[error("unit {unit}: template family {found}, consolidation uses {expected}")]
    FamilyMismatch {
        unit: String,
        expected: String,
        found: String,
    },
    #[error("unit {unit} was already added")]
    DuplicateUnit { unit: String },
    #[error(
        "unit {unit}: the report is a 部门汇总 (scope Department); add the units' own reports instead"
    )]
    DepartmentReport { unit: String },
    #[error("a unit code is empty")]
    EmptyCode,
}

/// Which pair of internal transfers an [`Elimination`] cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransferPair {
    /// Parent's 对附属单位补助支出 ↔ children's 上级补助收入.
    Subsidy,
    /// Parent's 附属单位上缴收入 ↔ children's 上缴上级支出.
    Remittance,
}

impl TransferPair {
    /// (parent side, child side) as printed.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            TransferPair::Subsidy => ("对附属单位补助支出", "上级补助收入"),
            TransferPair::Remittance => ("附属单位上缴收入", "上缴上级支出"),
        }
    }
}

/// One parent's internal transfers with its direct children, removed from the 汇总.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Elimination {
    pub pair: TransferPair,
    /// Parent unit code.
    pub parent: String,
    /// The parent's side (对附属单位补助支出 or 附属单位上缴收入), in 万元.
    pub parent_amount: Decimal,
    /// Each child's side (上级补助收入 or 上缴上级支出), in 万元.
    pub children: Vec<(String, Decimal)>,
    pub children_total: Decimal,
    /// `parent_amount − children_total`; non-zero means the pair is asymmetric (CU-02).
    pub difference: Decimal,
    /// Rounding bound for the difference (0 when every figure was submitted in 元).
    pub tolerance: Decimal,
}

/// A count summed exactly across units (人员编制, 实有人员 …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headcount {
    pub key: String,
    pub total: Decimal,
    pub contributions: Vec<(String, Decimal)>,
}

/// 机关运行经费 expected for the department: Σ 公用经费 of 行政 and 参公 units only (CU-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingExpenses {
    pub amount: Decimal,
    /// Contributing units (行政/参公) and their 公用经费.
    pub units: Vec<(String, Decimal)>,
    /// Units left out because they are 事业 or have no unit type.
    pub excluded: Vec<String>,
    /// Rounding bound of `amount` against a filed 万元 figure.
    pub tolerance: Decimal,
}

/// Money or count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Money,
    Count,
}

#[derive(Debug, Clone, Copy)]
struct RowInfo {
    code: bool,
    parent: Option<Sym>,
    /// 机关运行经费 row of 公开10.
    operating: bool,
}

/// A summed leaf cell.
#[derive(Debug, Clone)]
struct Leaf {
    table: Sym,
    row: Sym,
    column: Sym,
    measure: Measure,
    sum: Decimal,
    /// Number of rounded (万元) addends.
    rounded: u32,
    /// (unit index, value in 万元 or count).
    contributions: Vec<(u32, Decimal)>,
    /// (unit index whose transfer was eliminated, negative amount).
    eliminated: Vec<(u32, Decimal)>,
}

/// The four internal-transfer items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// 上级补助收入 (child side of [`TransferPair::Subsidy`]).
    UpIncome,
    /// 上缴上级支出 (child side of [`TransferPair::Remittance`]).
    UpExpense,
    /// 对附属单位补助支出 (parent side of [`TransferPair::Subsidy`]).
    DownExpense,
    /// 附属单位上缴收入 (parent side of [`TransferPair::Remittance`]).
    DownIncome,
}

impl Flow {
    fn index(self) -> usize {
        self as usize
    }

    fn is_up(self) -> bool {
        matches!(self, Flow::UpIncome | Flow::UpExpense)
    }
}

/// One transfer cell of one unit and the totals that contain it.
#[derive(Debug, Clone)]
struct FlowEntry {
    flow: Flow,
    leaf: u32,
    value: Decimal,
    links: Vec<u32>,
}

/// A unit's transfer amounts: [flow] → (from 公开01, seen in 公开01, from detail tables).
#[derive(Debug, Clone, Default)]
struct UnitFlows {
    master: [Decimal; 4],
    has_master: [bool; 4],
    detail: [Decimal; 4],
    entries: Vec<FlowEntry>,
    rounded: bool,
}

impl UnitFlows {
    fn amount(&self, f: Flow) -> Decimal {
        let i = f.index();
        if self.has_master[i] {
            self.master[i]
        } else {
            self.detail[i]
        }
    }
}

/// Interned names the consolidator needs to recognise.
#[derive(Debug, Clone)]
struct Known {
    t01: Sym,
    t02: Sym,
    t03: Sym,
    t06: Sym,
    t_b6: Sym,
    t_b11: Sym,
    c_js: Sym,
    c_income_total: Sym,
    c_expense_total: Sym,
    c_up_income: Sym,
    c_down_income: Sym,
    c_up_expense: Sym,
    c_down_expense: Sym,
    c_public: Sym,
    r_total: Sym,
    r_income_total: Sym,
    r_income_grand: Sym,
    r_expense_total: Sym,
    r_expense_grand: Sym,
    r_up_income: Sym,
    r_down_income: Sym,
    r_public_total: Sym,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    t: Sym,
    r: Sym,
    c: Sym,
    value: Decimal,
    measure: Measure,
    rounded: bool,
}

/// Incremental builder of a 部门汇总. See the module documentation.
#[derive(Debug, Clone)]
pub struct Consolidator {
    department: UnitMeta,
    kind: ReportKind,
    year: i32,
    family: Option<String>,
    /// Table and column names.
    names: Interner,
    /// Row keys, with [`RowInfo`] per id.
    rows: Interner,
    row_info: Vec<RowInfo>,
    known: Known,
    cells: FastMap<(Sym, Sym, Sym), u32>,
    leaves: Vec<Leaf>,
    /// (table, column) pairs that print a 合计 row.
    total_cells: BTreeSet<(Sym, Sym)>,
    /// Per table id: titles and empty-table reasons seen.
    table_titles: FastMap<Sym, (BTreeSet<String>, BTreeSet<String>)>,
    units: Vec<UnitMeta>,
    unit_index: HashMap<String, u32>,
    flows: Vec<UnitFlows>,
    /// Σ 公用经费 per unit (all units; filtered by type in `finish`).
    public_expenses: Vec<Option<Decimal>>,
    headcounts: BTreeMap<String, Vec<(u32, Decimal)>>,
    findings: Vec<Finding>,
    skipped_percent: u32,
    // Scratch space reused per unit.
    scratch: Vec<Entry>,
    has_child: intern::FastSet<(Sym, Sym, Sym)>,
    has_codes: intern::FastSet<(Sym, Sym)>,
    present: intern::FastSet<(Sym, Sym, Sym)>,
}

impl Consolidator {
    /// Starts a consolidation of `department` (its code and name; the 本级 unit conventionally
    /// carries the department code) for one report kind and year.
    pub fn new(department: UnitMeta, kind: ReportKind, year: i32) -> Self {
        let mut names = Interner::default();
        let mut rows = Interner::default();
        let known = Known {
            t01: names.intern("公开01"),
            t02: names.intern("公开02"),
            t03: names.intern("公开03"),
            t06: names.intern("公开06"),
            t_b6: names.intern("表6"),
            t_b11: names.intern("表11"),
            c_js: names.intern("决算数"),
            c_income_total: names.intern("本年收入合计"),
            c_expense_total: names.intern("本年支出合计"),
            c_up_income: names.intern("上级补助收入"),
            c_down_income: names.intern("附属单位上缴收入"),
            c_up_expense: names.intern("上缴上级支出"),
            c_down_expense: names.intern("对附属单位补助支出"),
            c_public: names.intern("公用经费"),
            r_total: rows.intern("合计"),
            r_income_total: rows.intern("本年收入合计"),
            r_income_grand: rows.intern("收入总计"),
            r_expense_total: rows.intern("本年支出合计"),
            r_expense_grand: rows.intern("支出总计"),
            r_up_income: rows.intern("上级补助收入"),
            r_down_income: rows.intern("附属单位上缴收入"),
            r_public_total: rows.intern("公用经费合计"),
        };
        let row_info = vec![
            RowInfo {
                code: false,
                parent: None,
                operating: false,
            };
            rows.len()
        ];
        Consolidator {
            department,
            kind,
            year,
            family: None,
            names,
            rows,
            row_info,
            known,
            cells: FastMap::default(),
            leaves: Vec::new(),
            total_cells: BTreeSet::new(),
            table_titles: FastMap::default(),
            units: Vec::new(),
            unit_index: HashMap::new(),
            flows: Vec::new(),
            public_expenses: Vec::new(),
            headcounts: BTreeMap::new(),
            findings: Vec::new(),
            skipped_percent: 0,
            scratch: Vec::new(),
            has_child: Default::default(),
            has_codes: Default::default(),
            present: Default::default(),
        }
    }

    /// Number of units added so far.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True before the first unit is added.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    fn intern_row(&mut self, s: &str) -> Sym {
        if let Some(id) = self.rows.get(s) {
            return id;
        }
        let code = codes::functional_level(s).is_some() || codes::economic_level(s).is_some();
        let parent = if code {
            codes::parent(s).map(|p| self.intern_row(p))
        } else {
            None
        };
        let id = self.rows.intern(s);
        let info = RowInfo {
            code,
            parent,
            operating: s.starts_with("机关运行经费"),
        };
        let i = id as usize;
        if i >= self.row_info.len() {
            self.row_info.resize(
                i + 1,
                RowInfo {
                    code: false,
                    parent: None,
                    operating: false,
                },
            );
        }
        self.row_info[i] = info;
        id
    }

    fn info(&self, r: Sym) -> RowInfo {
        self.row_info.get(r as usize).copied().unwrap_or(RowInfo {
            code: false,
            parent: None,
            operating: false,
        })
    }

    /// The topmost ancestor (类) of a code row.
    fn class_of(&self, mut r: Sym) -> Sym {
        while let Some(p) = self.info(r).parent {
            r = p;
        }
        r
    }

    fn flow_of(&self, e: &Entry) -> Option<Flow> {
        let k = &self.known;
        if e.t == k.t01 && e.c == k.c_js {
            if e.r == k.r_up_income {
                return Some(Flow::UpIncome);
            }
            if e.r == k.r_down_income {
                return Some(Flow::DownIncome);
            }
            return None;
        }
        if e.t == k.t02 {
            if e.c == k.c_up_income {
                return Some(Flow::UpIncome);
            }
            if e.c == k.c_down_income {
                return Some(Flow::DownIncome);
            }
        }
        if e.t == k.t03 {
            if e.c == k.c_up_expense {
                return Some(Flow::UpExpense);
            }
            if e.c == k.c_down_expense {
                return Some(Flow::DownExpense);
            }
        }
        None
    }

    /// The cells that contain a transfer cell and must shrink with it.
    fn links_of(&self, e: &Entry) -> Vec<(Sym, Sym, Sym)> {
        let k = &self.known;
        if e.t == k.t01 {
            return vec![
                (k.t01, k.r_income_total, k.c_js),
                (k.t01, k.r_income_grand, k.c_js),
            ];
        }
        if e.t == k.t02 {
            return vec![(k.t02, e.r, k.c_income_total)];
        }
        if e.t == k.t03 {
            let mut v = vec![(k.t03, e.r, k.c_expense_total)];
            if self.info(e.r).code {
                v.push((k.t01, self.class_of(e.r), k.c_js));
            }
            v.push((k.t01, k.r_expense_total, k.c_js));
            v.push((k.t01, k.r_expense_grand, k.c_js));
            return v;
        }
        Vec::new()
    }

    fn leaf_for(&mut self, t: Sym, r: Sym, c: Sym, measure: Measure) -> u32 {
        if let Some(i) = self.cells.get(&(t, r, c)) {
            return *i;
        }
        let i = self.leaves.len() as u32;
        self.leaves.push(Leaf {
            table: t,
            row: r,
            column: c,
            measure,
            sum: Decimal::ZERO,
            rounded: 0,
            contributions: Vec::new(),
            eliminated: Vec::new(),
        });
        self.cells.insert((t, r, c), i);
        i
    }

    /// Adds one unit's own report. Fails (and changes nothing) when the report is for another
    /// year or kind, uses another template family, is itself a 部门汇总, or the unit code was
    /// already added.
    pub fn add(&mut self, meta: UnitMeta, report: &Report) -> Result<(), ConsolidateError> {
        if meta.code.is_empty() {
            return Err(ConsolidateError::EmptyCode);
        }
        if report.year != self.year {
            return Err(ConsolidateError::WrongYear {
                unit: meta.code,
                expected: self.year,
                found: report.year,
            });
        }
        if report.kind != self.kind {
            return Err(ConsolidateError::WrongKind {
                unit: meta.code,
                expected: self.kind,
                found: report.kind,
            });
        }
        if report.scope == Scope::Department {
            return Err(ConsolidateError::DepartmentReport { unit: meta.code });
        }
        if let Some(f) = &self.family
            && *f != report.family
        {
            return Err(ConsolidateError::FamilyMismatch {
                unit: meta.code,
                expected: f.clone(),
                found: report.family.clone(),
            });
        }
        if self.unit_index.contains_key(&meta.code) {
            return Err(ConsolidateError::DuplicateUnit { unit: meta.code });
        }
        if self.family.is_none() {
            self.family = Some(report.family.clone());
        }
        let u = self.units.len() as u32;
        self.unit_index.insert(meta.code.clone(), u);

        for t in &report.tables {
            let id = self.names.intern(&t.id);
            let entry = self.table_titles.entry(id).or_default();
            if !entry.0.contains(&t.title) {
                entry.0.insert(t.title.clone());
            }
            if let Some(reason) = &t.empty_reason
                && !entry.1.contains(reason)
            {
                entry.1.insert(reason.clone());
            }
        }

        // Pass 1: intern keys, convert amounts, find which code rows have children.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.has_child.clear();
        self.has_codes.clear();
        self.present.clear();
        let mut rounded_any = false;
        let mut oversize = 0u32;
        for f in &report.facts {
            let (value, measure, rounded) = match f.unit {
                MeasureUnit::Percent => {
                    self.skipped_percent += 1;
                    continue;
                }
                MeasureUnit::Count => (f.value, Measure::Count, false),
                MeasureUnit::Wanyuan => (f.value, Measure::Money, true),
                other => {
                    let Some(v) = amount::convert(f.value, other, MeasureUnit::Wanyuan) else {
                        continue;
                    };
                    (v, Measure::Money, other == MeasureUnit::Yiyuan)
                }
            };
            if value.abs() > max_amount() {
                oversize += 1;
                continue;
            }
            rounded_any |= rounded;
            let t = self.names.intern(&f.table);
            let c = self.names.intern(&f.column);
            let r = self.intern_row(&f.row);
            scratch.push(Entry {
                t,
                r,
                c,
                value,
                measure,
                rounded,
            });
            self.present.insert((t, r, c));
            if self.info(r).code {
                self.has_codes.insert((t, c));
                let mut p = self.info(r).parent;
                while let Some(ps) = p {
                    self.has_child.insert((t, ps, c));
                    p = self.info(ps).parent;
                }
            }
        }

        // Pass 2: add the leaves.
        let operating_ok = meta.unit_type.is_some_and(|t| t.has_operating_expenses());
        let mut flows = UnitFlows {
            rounded: rounded_any,
            ..UnitFlows::default()
        };
        let mut excluded_operating = Decimal::ZERO;
        let mut excluded_any = false;
        let mut public = None;
        let mut pending = Vec::new();
        for e in &scratch {
            let info = self.info(e.r);
            if info.code && self.has_child.contains(&(e.t, e.r, e.c)) {
                continue;
            }
            if e.r == self.known.r_total {
                self.total_cells.insert((e.t, e.c));
                if self.has_codes.contains(&(e.t, e.c)) {
                    continue;
                }
            }
            if self.kind == ReportKind::FinalAccounts
                && e.t == self.known.t06
                && e.r == self.known.r_public_total
            {
                public = Some(e.value);
            }
            if self.kind == ReportKind::Budget
                && e.t == self.known.t_b6
                && e.r == self.known.r_total
                && e.c == self.known.c_public
            {
                public = Some(e.value);
            }
            if (info.operating || e.t == self.known.t_b11) && !operating_ok {
                excluded_operating += e.value;
                excluded_any = true;
                continue;
            }
            let leaf = self.leaf_for(e.t, e.r, e.c, e.measure);
            let l = &mut self.leaves[leaf as usize];
            l.sum += e.value;
            l.rounded += u32::from(e.rounded);
            match l.contributions.last_mut() {
                Some((last, v)) if *last == u => *v += e.value,
                _ => l.contributions.push((u, e.value)),
            }
            if let Some(flow) = self.flow_of(e) {
                if e.t == self.known.t01 {
                    flows.master[flow.index()] += e.value;
                    flows.has_master[flow.index()] = true;
                } else {
                    flows.detail[flow.index()] += e.value;
                }
                let mut links = Vec::new();
                for key in self.links_of(e) {
                    let is_leaf = self.present.contains(&key)
                        && !(self.info(key.1).code && self.has_child.contains(&key));
                    if is_leaf {
                        links.push(key);
                    }
                }
                pending.push((flow, leaf, e.value, links));
            }
        }
        // Resolve links once all of this unit's leaves exist.
        for (flow, leaf, value, keys) in pending {
            let links = keys
                .iter()
                .filter_map(|k| self.cells.get(k).copied())
                .collect();
            flows.entries.push(FlowEntry {
                flow,
                leaf,
                value,
                links,
            });
        }
        self.scratch = scratch;

        if excluded_any && !excluded_operating.is_zero() {
            let what = match meta.unit_type {
                Some(t) => format!("{}单位", t.label()),
                None => "未提供单位性质的单位".to_string(),
            };
            self.findings.push(catalog::finding(
                "CU-04",
                Severity::Warning,
                format!(
                    "{}（{}）为{}，其填报的机关运行经费 {} 万元不计入部门汇总（机关运行经费只来自行政单位和参公单位）",
                    meta.name,
                    meta.code,
                    what,
                    fmt(excluded_operating)
                ),
                vec![],
                Some(Decimal::ZERO),
                Some(excluded_operating),
            ));
        }
        if oversize > 0 {
            self.findings.push(catalog::finding(
                "CU-01",
                Severity::Error,
                format!(
                    "{}（{}）有 {oversize} 个单元格金额绝对值超过 10^18 万元，明显有误，未计入汇总",
                    meta.name, meta.code
                ),
                vec![catalog::loc_unit(&meta)],
                None,
                None,
            ));
        }
        for (key, value) in declared::headcounts_of(report) {
            if value.abs() > Decimal::from(1_000_000_000u64) {
                continue;
            }
            self.headcounts
                .entry(key.to_string())
                .or_default()
                .push((u, value));
        }
        self.public_expenses.push(public);
        self.flows.push(flows);
        self.units.push(meta);
        Ok(())
    }

    /// Index of each unit's parent within the consolidation.
    fn parents(&self) -> Vec<Option<u32>> {
        let roots: Vec<u32> = self
            .units
            .iter()
            .enumerate()
            .filter(|(_, m)| m.parent_code.is_none())
            .map(|(i, _)| i as u32)
            .collect();
        self.units
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let p = m.parent_code.as_deref()?;
                match self.unit_index.get(p) {
                    Some(&j) if j as usize != i => Some(j),
                    Some(_) => None,
                    None if p == self.department.code && roots.len() == 1 => Some(roots[0]),
                    None => None,
                }
            })
            .collect()
    }

    /// Eliminates internal transfers, re-derives the hierarchy rows and builds the 汇总.
    pub fn finish(mut self) -> Consolidation {
        let parents = self.parents();
        let n = self.units.len();
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, p) in parents.iter().enumerate() {
            if let Some(p) = p {
                children[*p as usize].push(i as u32);
            }
        }
        let mut findings = std::mem::take(&mut self.findings);
        let mut built_on_failing_units = false;

        // CU-08 / CU-09 / CU-03 (orphans) per unit.
        for (i, m) in self.units.iter().enumerate() {
            if !m.valid {
                built_on_failing_units = true;
                findings.push(catalog::finding(
                    "CU-08",
                    Severity::Error,
                    format!(
                        "{}（{}，第 {} 版）未通过本单位审核（存在错误），仍被纳入部门汇总；汇总结果标记为“基于未通过审核的单位”",
                        m.name, m.code, m.revision
                    ),
                    vec![],
                    None,
                    None,
                ));
            }
            if m.unit_type.is_none() {
                findings.push(catalog::finding(
                    "CU-09",
                    Severity::Error,
                    format!(
                        "{}（{}）缺少单位性质（行政/参公/事业），无法核对机关运行经费（CU-04、JS10-3）",
                        m.name, m.code
                    ),
                    vec![],
                    None,
                    None,
                ));
            }
            if let Some(p) = &m.parent_code
                && parents[i].is_none()
                && *p != self.department.code
            {
                findings.push(catalog::finding(
                    "CU-03",
                    Severity::Warning,
                    format!(
                        "{}（{}）的上级单位 {} 未纳入本次汇总，其上级补助收入/上缴上级支出不作冲抵",
                        m.name, m.code, p
                    ),
                    vec![],
                    None,
                    None,
                ));
            }
        }

        // Eliminations.
        let mut eliminations = Vec::new();
        for (p, kids) in children.iter().enumerate() {
            let pm = &self.units[p];
            let pf = &self.flows[p];
            if kids.is_empty() {
                for (flow, pair) in [
                    (Flow::DownExpense, TransferPair::Subsidy),
                    (Flow::DownIncome, TransferPair::Remittance),
                ] {
                    let a = pf.amount(flow);
                    if !a.is_zero() {
                        findings.push(catalog::finding(
                            "CU-02",
                            Severity::Warning,
                            format!(
                                "{}（{}）填报{} {} 万元，但本次汇总中没有其下级单位，未作冲抵",
                                pm.name,
                                pm.code,
                                pair.labels().0,
                                fmt(a)
                            ),
                            vec![catalog::loc_unit(pm)],
                            Some(Decimal::ZERO),
                            Some(a),
                        ));
                    }
                }
                continue;
            }
            for (down, up, pair) in [
                (Flow::DownExpense, Flow::UpIncome, TransferPair::Subsidy),
                (Flow::DownIncome, Flow::UpExpense, TransferPair::Remittance),
            ] {
                let parent_amount = pf.amount(down);
                let kids_amounts: Vec<(String, Decimal)> = kids
                    .iter()
                    .map(|&k| {
                        (
                            self.units[k as usize].code.clone(),
                            self.flows[k as usize].amount(up),
                        )
                    })
                    .collect();
                let children_total: Decimal = kids_amounts.iter().map(|(_, v)| *v).sum();
                if parent_amount.is_zero() && children_total.is_zero() {
                    continue;
                }
                let rounded = pf.rounded || kids.iter().any(|&k| self.flows[k as usize].rounded);
                let tolerance = if rounded {
                    rounding_bound(kids_amounts.iter().filter(|(_, v)| !v.is_zero()).count())
                } else {
                    Decimal::ZERO
                };
                let difference = parent_amount - children_total;
                if !difference.is_zero() {
                    let (ps, cs) = pair.labels();
                    let kid_text: Vec<String> = kids
                        .iter()
                        .zip(&kids_amounts)
                        .filter(|(_, (_, v))| !v.is_zero())
                        .map(|(&k, (_, v))| {
                            let km = &self.units[k as usize];
                            format!("{}（{}）{} 万元", km.name, km.code, fmt(*v))
                        })
                        .collect();
                    let kid_text = if kid_text.is_empty() {
                        "各下级单位均为 0".to_string()
                    } else {
                        kid_text.join("、")
                    };
                    let within = difference.abs() <= tolerance;
                    let mut locations = vec![catalog::loc_unit(pm)];
                    locations.extend(
                        kids.iter()
                            .map(|&k| catalog::loc_unit(&self.units[k as usize])),
                    );
                    findings.push(catalog::finding(
                        "CU-02",
                        if within { Severity::Info } else { Severity::Warning },
                        format!(
                            "内部往来不对称：{}（{}）{} {} 万元，下级单位{}合计 {} 万元（{}），差额 {} 万元{}",
                            pm.name,
                            pm.code,
                            ps,
                            fmt(parent_amount),
                            cs,
                            fmt(children_total),
                            kid_text,
                            fmt(difference),
                            if within { "，在尾差容差内" } else { "" }
                        ),
                        locations,
                        Some(children_total),
                        Some(parent_amount),
                    ));
                }
                eliminations.push(Elimination {
                    pair,
                    parent: pm.code.clone(),
                    parent_amount,
                    children: kids_amounts,
                    children_total,
                    difference,
                    tolerance,
                });
            }
        }
        for (u, fl) in self.flows.iter().enumerate() {
            let has_parent = parents[u].is_some();
            let has_children = !children[u].is_empty();
            for e in &fl.entries {
                let internal = if e.flow.is_up() {
                    has_parent
                } else {
                    has_children
                };
                if !internal {
                    continue;
                }
                if let Some(l) = self.leaves.get_mut(e.leaf as usize) {
                    l.eliminated.push((u as u32, -e.value));
                }
                for &link in &e.links {
                    if let Some(l) = self.leaves.get_mut(link as usize) {
                        l.eliminated.push((u as u32, -e.value));
                        l.rounded += u32::from(fl.rounded);
                    }
                }
            }
        }

        // Derive the output cells: leaves, their ancestors and 合计.
        let mut out: Vec<OutCell> = Vec::new();
        let mut index: FastMap<(Sym, Sym, Sym), u32> = FastMap::default();
        let mut touch =
            |key: (Sym, Sym, Sym), leaf: u32, l: &Leaf, value: Decimal, rounded: u32| {
                let i = *index.entry(key).or_insert_with(|| {
                    out.push(OutCell {
                        table: key.0,
                        row: key.1,
                        column: key.2,
                        measure: l.measure,
                        value: Decimal::ZERO,
                        rounded: 0,
                        leaves: Vec::new(),
                    });
                    (out.len() - 1) as u32
                });
                let c = &mut out[i as usize];
                c.value += value;
                c.rounded += rounded;
                c.leaves.push(leaf);
            };
        for (i, l) in self.leaves.iter().enumerate() {
            let value = l.sum + l.eliminated.iter().map(|(_, v)| *v).sum::<Decimal>();
            touch((l.table, l.row, l.column), i as u32, l, value, l.rounded);
            let info = self.info(l.row);
            if info.code {
                let mut p = info.parent;
                while let Some(ps) = p {
                    touch((l.table, ps, l.column), i as u32, l, value, l.rounded);
                    p = self.info(ps).parent;
                }
                if self.total_cells.contains(&(l.table, l.column)) {
                    touch(
                        (l.table, self.known.r_total, l.column),
                        i as u32,
                        l,
                        value,
                        l.rounded,
                    );
                }
            }
        }

        // 机关运行经费 expected: Σ 公用经费 of 行政/参公 units.
        let mut op_units = Vec::new();
        let mut excluded = Vec::new();
        let mut op_amount = Decimal::ZERO;
        let mut any_public = false;
        for (m, p) in self.units.iter().zip(&self.public_expenses) {
            if m.unit_type.is_some_and(|t| t.has_operating_expenses()) {
                if let Some(v) = p {
                    op_amount += *v;
                    op_units.push((m.code.clone(), *v));
                }
            } else {
                excluded.push(m.code.clone());
            }
            any_public |= p.is_some();
        }
        let operating_expenses = any_public.then(|| OperatingExpenses {
            amount: op_amount,
            tolerance: rounding_bound(op_units.len()),
            units: op_units,
            excluded,
        });

        let headcounts = self
            .headcounts
            .iter()
            .map(|(k, v)| {
                let mut contributions: Vec<(String, Decimal)> = v
                    .iter()
                    .map(|(u, x)| (self.units[*u as usize].code.clone(), *x))
                    .collect();
                contributions.sort();
                Headcount {
                    key: k.clone(),
                    total: v.iter().map(|(_, x)| *x).sum(),
                    contributions,
                }
            })
            .collect();

        let report = self.build_report(&mut out);
        // `build_report` sorted `out`; rebuild the index.
        let index = out
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.table, c.row, c.column), i as u32))
            .collect();
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        Consolidation {
            department: self.department,
            report,
            units: self.units,
            eliminations,
            findings,
            built_on_failing_units,
            headcounts,
            operating_expenses,
            skipped_percent_cells: self.skipped_percent,
            names: self.names,
            rows: self.rows,
            cells: out,
            index,
            leaves: self.leaves,
        }
    }

    fn build_report(&self, out: &mut [OutCell]) -> Report {
        let family_id = self.family.clone().unwrap_or_default();
        let family = crate::template::family(&family_id);
        let table_rank = |t: &str| -> usize {
            family
                .and_then(|f| f.tables.iter().position(|x| x.id == t))
                .unwrap_or(usize::MAX)
        };
        let row_rank = |t: &str, r: &str| -> usize {
            if r == "合计" {
                return 0;
            }
            if let Some(tt) = family.and_then(|f| f.table(t))
                && let Some(i) = tt
                    .left_rows
                    .iter()
                    .chain(&tt.right_rows)
                    .chain(&tt.rows)
                    .position(|x| x.key == r)
            {
                return 1 + i;
            }
            if codes::functional_level(r).is_some() || codes::economic_level(r).is_some() {
                10_000
            } else {
                20_000
            }
        };
        let col_rank = |t: &str, c: &str| -> usize {
            family
                .and_then(|f| f.table(t))
                .and_then(|tt| {
                    tt.columns
                        .iter()
                        .chain(&tt.left_columns)
                        .chain(&tt.right_columns)
                        .position(|x| x == c)
                })
                .unwrap_or(usize::MAX)
        };
        let names = &self.names;
        let rows = &self.rows;
        out.sort_by(|a, b| {
            let (ta, tb) = (names.name(a.table), names.name(b.table));
            let (ra, rb) = (rows.name(a.row), rows.name(b.row));
            let (ca, cb) = (names.name(a.column), names.name(b.column));
            (
                table_rank(ta),
                ta,
                row_rank(ta, ra),
                ra,
                col_rank(ta, ca),
                ca,
            )
                .cmp(&(
                    table_rank(tb),
                    tb,
                    row_rank(tb, rb),
                    rb,
                    col_rank(tb, cb),
                    cb,
                ))
        });
        let mut report = Report::new(
            self.department.name.clone(),
            self.year,
            self.kind,
            Scope::Department,
            family_id,
        );
        let mut table_ids: Vec<Sym> = self.table_titles.keys().copied().collect();
        table_ids.sort_by(|a, b| {
            let (ta, tb) = (names.name(*a), names.name(*b));
            (table_rank(ta), ta).cmp(&(table_rank(tb), tb))
        });
        for t in table_ids {
            let id = names.name(t);
            let (titles, reasons) = match self.table_titles.get(&t) {
                Some(x) => (x.0.iter().next().cloned(), x.1.iter().next().cloned()),
                None => (None, None),
            };
            let title = family
                .and_then(|f| f.table(id))
                .and_then(|tt| tt.titles.first().cloned())
                .or(titles)
                .unwrap_or_default();
            let mut row_labels: Vec<RowLabel> = Vec::new();
            let mut last: Option<Sym> = None;
            let mut any = false;
            for c in out.iter().filter(|c| c.table == t) {
                any = true;
                if last == Some(c.row) {
                    continue;
                }
                last = Some(c.row);
                let key = rows.name(c.row);
                let l = codes::lists();
                let label = l
                    .functional_name(key)
                    .or_else(|| l.economic_name(key))
                    .unwrap_or(key);
                row_labels.push(RowLabel {
                    key: key.to_string(),
                    label: label.to_string(),
                    note: None,
                    line: 0,
                    subtotal: false,
                });
            }
            report.tables.push(Table {
                id: id.to_string(),
                title,
                unit: MeasureUnit::Wanyuan,
                empty_reason: if any { None } else { reasons },
                line: 0,
                rows: row_labels,
                dashes: Vec::new(),
                entity: Some(self.department.name.clone()),
                unreadable: Vec::new(),
                printed_number: None,
            });
        }
        report.facts = out
            .iter()
            .map(|c| Fact {
                table: names.name(c.table).to_string(),
                row: rows.name(c.row).to_string(),
                column: names.name(c.column).to_string(),
                value: c.value,
                unit: match c.measure {
                    Measure::Money => MeasureUnit::Wanyuan,
                    Measure::Count => MeasureUnit::Count,
                },
                source: Provenance::default(),
            })
            .collect();
        report
    }
}

/// One cell of the 汇总 and the leaves it was derived from.
#[derive(Debug, Clone)]
struct OutCell {
    table: Sym,
    row: Sym,
    column: Sym,
    measure: Measure,
    value: Decimal,
    rounded: u32,
    leaves: Vec<u32>,
}

/// The result of a consolidation.
#[derive(Debug, Clone)]
pub struct Consolidation {
    /// The department (root) as passed to [`Consolidator::new`].
    pub department: UnitMeta,
    /// The 汇总: scope Department, amounts in 万元, hierarchy rows re-derived, transfers
    /// eliminated. Facts have no provenance (line 0).
    pub report: Report,
    /// The units used, with the revision of each, in the order they were added.
    pub units: Vec<UnitMeta>,
    pub eliminations: Vec<Elimination>,
    /// CU findings raised while consolidating (CU-02, CU-03 orphans, CU-04, CU-08, CU-09).
    pub findings: Vec<Finding>,
    /// At least one unit had not passed its own error rules (CU-08).
    pub built_on_failing_units: bool,
    /// 人员 counts from the units' narratives, summed exactly.
    pub headcounts: Vec<Headcount>,
    /// Expected 机关运行经费 (Σ 公用经费 of 行政/参公 units), when any unit reported 公用经费.
    pub operating_expenses: Option<OperatingExpenses>,
    /// Percentage cells seen in unit reports and not summed.
    pub skipped_percent_cells: u32,
    names: Interner,
    rows: Interner,
    cells: Vec<OutCell>,
    index: FastMap<(Sym, Sym, Sym), u32>,
    leaves: Vec<Leaf>,
}

impl Consolidation {
    fn cell(&self, table: &str, row: &str, column: &str) -> Option<&OutCell> {
        let key = (
            self.names.get(table)?,
            self.rows.get(row)?,
            self.names.get(column)?,
        );
        self.index
            .get(&key)
            .and_then(|i| self.cells.get(*i as usize))
    }

    /// The consolidated value of a cell (万元 or count), `None` when no unit reported it.
    pub fn value(&self, table: &str, row: &str, column: &str) -> Option<Decimal> {
        self.cell(table, row, column).map(|c| c.value)
    }

    /// Rounding bound of a computed cell against a filed cell: 0.005 万元 per rounded addend,
    /// plus one for the filed figure when `filed_rounded`. Counts are exact.
    pub fn tolerance(&self, table: &str, row: &str, column: &str, filed_rounded: bool) -> Decimal {
        match self.cell(table, row, column) {
            Some(c) if c.measure == Measure::Count => Decimal::ZERO,
            Some(c) => tolerance_for(c.rounded, filed_rounded),
            None => tolerance_for(0, filed_rounded),
        }
    }

    /// What each unit contributed to a cell (for a derived 类/款/合计 cell: the unit's sum over
    /// the leaves below it), sorted by unit code. Eliminated transfers appear as separate
    /// entries keyed `冲抵:<unit code>` with negative amounts, so the entries sum to
    /// [`Consolidation::value`].
    pub fn contributions(&self, table: &str, row: &str, column: &str) -> Vec<(String, Decimal)> {
        let Some(cell) = self.cell(table, row, column) else {
            return Vec::new();
        };
        let mut gross: BTreeMap<u32, Decimal> = BTreeMap::new();
        let mut elim: BTreeMap<u32, Decimal> = BTreeMap::new();
        for &li in &cell.leaves {
            if let Some(l) = self.leaves.get(li as usize) {
                for (u, v) in &l.contributions {
                    *gross.entry(*u).or_default() += *v;
                }
                for (u, v) in &l.eliminated {
                    *elim.entry(*u).or_default() += *v;
                }
            }
        }
        let code = |u: u32| {
            self.units
                .get(u as usize)
                .map(|m| m.code.clone())
                .unwrap_or_default()
        };
        let mut out: Vec<(String, Decimal)> =
            gross.into_iter().map(|(u, v)| (code(u), v)).collect();
        out.extend(
            elim.into_iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(u, v)| (format!("冲抵:{}", code(u)), v)),
        );
        out.sort();
        out
    }

    /// The unit with this code.
    pub fn unit(&self, code: &str) -> Option<&UnitMeta> {
        self.units.iter().find(|m| m.code == code)
    }

    /// (unit code, revision) of every unit used.
    pub fn revisions(&self) -> Vec<(String, u32)> {
        self.units
            .iter()
            .map(|m| (m.code.clone(), m.revision))
            .collect()
    }

    /// The units without a parent in the consolidation (normally just the 本级 unit).
    pub fn root_units(&self) -> Vec<&UnitMeta> {
        self.units
            .iter()
            .filter(|m| match &m.parent_code {
                None => true,
                Some(p) => *p != self.department.code && self.unit(p).is_none(),
            })
            .collect()
    }

    /// Sum of the amounts eliminated from a cell (≤ 0).
    pub fn eliminated(&self, table: &str, row: &str, column: &str) -> Decimal {
        self.cell(table, row, column)
            .map(|c| {
                c.leaves
                    .iter()
                    .filter_map(|li| self.leaves.get(*li as usize))
                    .flat_map(|l| l.eliminated.iter().map(|(_, v)| *v))
                    .sum()
            })
            .unwrap_or_default()
    }

    /// Every computed cell key (table, row, column), in report order.
    fn keys(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.cells.iter().map(|c| {
            (
                self.names.name(c.table),
                self.rows.name(c.row),
                self.names.name(c.column),
            )
        })
    }

    fn is_count(&self, table: &str, row: &str, column: &str) -> bool {
        self.cell(table, row, column)
            .is_some_and(|c| c.measure == Measure::Count)
    }
}

/// Largest |amount| (万元) a unit cell may have to be summed: 10^18 万元. Far beyond any real
/// budget; it guarantees that sums over millions of cells stay inside `Decimal`'s range, so the
/// arithmetic here can never overflow (and panic).
pub(crate) fn max_amount() -> Decimal {
    Decimal::from(1_000_000_000_000_000_000u64)
}

/// 0.005 万元 per rounded figure involved.
fn tolerance_for(rounded_addends: u32, filed_rounded: bool) -> Decimal {
    let n = rounded_addends + u32::from(filed_rounded);
    if n == 0 {
        Decimal::ZERO
    } else {
        rounding_bound(n as usize - 1)
    }
}
