//! The report model: a 预算/决算 disclosure as facts, tables, narrative figures and unplaced content.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::MeasureUnit;

/// 预算 (budget) or 决算 (final accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportKind {
    /// 预算
    Budget,
    /// 决算
    FinalAccounts,
}

impl ReportKind {
    /// 预算 is a budget; anything else (决算) final accounts, as the family files name them.
    pub fn from_label(s: &str) -> Self {
        if s == "预算" {
            ReportKind::Budget
        } else {
            ReportKind::FinalAccounts
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Budget => "预算",
            ReportKind::FinalAccounts => "决算",
        }
    }
}

/// 单位 (a single budget unit) or 部门汇总 (a department's consolidated report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    Unit,
    Department,
}

/// 单位性质: decides whether 机关运行经费 applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnitType {
    /// 行政单位
    Administrative,
    /// 参照公务员法管理事业单位 (参公)
    CivilServiceManaged,
    /// 事业单位
    Institution,
}

impl UnitType {
    pub fn label(self) -> &'static str {
        match self {
            UnitType::Administrative => "行政",
            UnitType::CivilServiceManaged => "参公",
            UnitType::Institution => "事业",
        }
    }

    /// True for units that report 机关运行经费 (行政 and 参公).
    pub fn has_operating_expenses(self) -> bool {
        matches!(
            self,
            UnitType::Administrative | UnitType::CivilServiceManaged
        )
    }

    pub fn from_label(s: &str) -> Option<Self> {
        match s {
            "行政" | "行政单位" => Some(UnitType::Administrative),
            "参公" | "参照公务员法管理事业单位" => {
                Some(UnitType::CivilServiceManaged)
            }
            "事业" | "事业单位" => Some(UnitType::Institution),
            _ => None,
        }
    }
}

/// Where a value came from: the 1-based line in the submitted text and that line as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Provenance {
    pub line: u32,
    pub text: String,
}

/// One table cell: (canonical table, row key, column key) → amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Table id: a canonical table of the catalog (`income_expense_summary`, …) for families read
    /// by the generic reader; 公开01…公开10 / 表1…表13 for the seed families' templates.
    pub table: String,
    /// Function/economic code or line-item key (e.g. 本年收入合计).
    pub row: String,
    /// Canonical column label (e.g. 基本支出, 决算数).
    pub column: String,
    /// The amount in `unit`, exactly as printed (scale kept: 4.00 stays 4.00).
    pub value: Decimal,
    pub unit: MeasureUnit,
    pub source: Provenance,
}

/// A row of a table as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLabel {
    pub key: String,
    pub label: String,
    /// A second label printed beside the first (表6: 政府预算经济分类 name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub line: u32,
    /// True for subtotal rows of a unit/department in project tables (表12/表13).
    #[serde(default)]
    pub subtotal: bool,
}

/// A table found in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub id: String,
    pub title: String,
    pub unit: MeasureUnit,
    /// Statement that the table is empty and why («本表无数据», «本部门不涉及故公开空表»).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_reason: Option<String>,
    /// Line of the title.
    pub line: u32,
    pub rows: Vec<RowLabel>,
    /// Cells printed as «——» (not applicable), as (row, column).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashes: Vec<(String, String)>,
    /// The 部门名称/单位名称 printed on the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Cells printed in an amount column that could not be read as a number («278l.88»), as
    /// (row, column). A rule that needs one of them is not applicable («无法核对»); such a cell
    /// is never taken as 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<(String, String)>,
    /// The table number as the family prints it («公开01», «表一», «5»), for display; `id`
    /// is the canonical table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printed_number: Option<String>,
}

/// What a narrative figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FigureKind {
    Amount,
    Percent,
    Count,
}

/// Direction of a change against last year, as worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// 增加 / 增长 / 上升
    Up,
    /// 减少 / 下降 / 降低
    Down,
    /// 持平 / 与上年相同
    Flat,
}

/// A figure quoted in the 情况说明.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Index into [`Report::sections`].
    pub section: usize,
    pub kind: FigureKind,
    /// The words before the number in its clause («绩效工资», «"三公"经费支出预算»).
    pub label: String,
    /// `None` for values that are not numbers («∞%»).
    pub value: Option<Decimal>,
    pub unit: MeasureUnit,
    /// The figure as printed («113.45万元», «增长∞%»).
    pub printed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    pub source: Provenance,
}

/// A heading of the narrative and the lines it spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub first_line: u32,
    pub last_line: u32,
}

/// A score row of a 绩效自评表 (performance self-evaluation table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceScore {
    pub indicator: String,
    pub weight: Decimal,
    pub score: Decimal,
    pub line: u32,
}

/// Content the parser saw but could not place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    pub line: u32,
    pub text: String,
    pub reason: String,
}

/// A year written as «NNNN年度» somewhere in the source text (G-06 judges whether it is plausible).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearMention {
    /// 1-based source line.
    pub line: u32,
    pub year: i32,
}

/// A whole 预算/决算 report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// 部门/单位名称 (e.g. 柳林县医疗保险服务中心).
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_type: Option<UnitType>,
    pub year: i32,
    pub kind: ReportKind,
    pub scope: Scope,
    /// Template family id (shanxi-js, shaanxi-js, shanxi-ys).
    pub family: String,
    pub tables: Vec<Table>,
    pub facts: Vec<Fact>,
    pub sections: Vec<Section>,
    pub figures: Vec<Figure>,
    #[serde(default)]
    pub performance: Vec<PerformanceScore>,
    pub unplaced: Vec<Unplaced>,
    /// Every line of the source text, for quoting (empty for structured submissions).
    #[serde(default, skip_serializing)]
    pub lines: Vec<String>,
    /// Every «NNNN年度» of the source text, in order, found while parsing (like `lines`, empty
    /// for structured submissions), so that validation need not rescan the whole text.
    #[serde(default, skip_serializing)]
    pub year_mentions: Vec<YearMention>,
    /// Which reader produced `lines`, and the origin of every line in the original (`origins[i]`
    /// is line `i + 1`: a PDF page and box, a sheet cell); both empty for a text document,
    /// whose line numbers are the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::document::Format>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<crate::document::Origin>,
}

impl Report {
    /// An empty report shell.
    pub fn new(
        subject: impl Into<String>,
        year: i32,
        kind: ReportKind,
        scope: Scope,
        family: impl Into<String>,
    ) -> Self {
        Report {
            subject: subject.into(),
            unit_type: None,
            year,
            kind,
            scope,
            family: family.into(),
            tables: Vec::new(),
            facts: Vec::new(),
            sections: Vec::new(),
            figures: Vec::new(),
            performance: Vec::new(),
            unplaced: Vec::new(),
            lines: Vec::new(),
            year_mentions: Vec::new(),
            format: None,
            origins: Vec::new(),
        }
    }

    /// Where line `line` (1-based, as in every [`Provenance`]) came from, for people:
    /// `第3页 (x 72, y 140)`, `5.一般公共预算支出!A7`; `None` for a text document.
    pub fn origin_of(&self, line: u32) -> Option<String> {
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        self.origins.get(i).map(crate::document::Origin::describe)
    }

    /// Where the cell of fact (table, row, column) is in the original, for people: the sheet cell
    /// (`3.支出预算总表!E9`) when the fact's line is a workbook row and its printed value is in
    /// exactly one cell of that row; else the line's origin ([`Report::origin_of`]).
    pub fn cell_origin_of(&self, table: &str, row: &str, column: &str) -> Option<String> {
        let fact = self.fact(table, row, column)?;
        let line = fact.source.line;
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        let origin = self.origins.get(i)?;
        if let crate::document::Origin::Sheet { sheet, row, col } = origin {
            let text = self
                .lines
                .get(i)
                .map_or(fact.source.text.as_str(), String::as_str);
            let hits: Vec<usize> = text
                .split('\t')
                .enumerate()
                .filter(|(_, c)| crate::amount::parse_decimal(c.trim()) == Some(fact.value))
                .map(|(k, _)| k)
                .collect();
            if let [k] = hits[..] {
                let k = u32::try_from(k).ok()?;
                return Some(format!(
                    "{sheet}!{}",
                    crate::document::cell_address(*row, col + k)
                ));
            }
        }
        Some(origin.describe())
    }

    /// The table with this canonical id.
    pub fn table(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The fact at (table, row, column).
    pub fn fact(&self, table: &str, row: &str, column: &str) -> Option<&Fact> {
        self.facts
            .iter()
            .find(|f| f.table == table && f.row == row && f.column == column)
    }

    /// The value at (table, row, column); `None` when blank.
    pub fn value(&self, table: &str, row: &str, column: &str) -> Option<Decimal> {
        self.fact(table, row, column).map(|f| f.value)
    }

    /// Facts of one table.
    pub fn facts_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Fact> + 'a {
        self.facts.iter().filter(move |f| f.table == table)
    }

    /// Number of facts per table id, in table order.
    pub fn cell_counts(&self) -> Vec<(String, usize)> {
        self.tables
            .iter()
            .map(|t| (t.id.clone(), self.facts_of(&t.id).count()))
            .collect()
    }
}
