//! Table templates: the canonical tables of each template family, loaded from the TOML data files
//! in `templates/`. Adding a province's variant means adding a file here plus fixtures.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::model::ReportKind;

/// How a table's text lines map onto cells. The algorithms live in `parse::tables`; the
/// template supplies titles, rows and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Two-sided master table: income on the left, expenditure on the right (公开01, 公开04, 表1, 表4).
    Master,
    /// Rows keyed by 功能分类 code (or 合计), amounts in column order (公开02/03/05/07/08, 表2/3/5/7/8).
    Coded,
    /// Side-by-side (code, name, amount) groups of 部门经济分类 (公开06).
    EconGroups,
    /// Rows keyed by economic name with a 政府经济分类 name beside it (表6).
    EconNamed,
    /// The 三公 table: 预算数/决算数 side by side or as two rows (公开09).
    Sangong,
    /// Line items with fixed or free labels (公开10, 表10–表13).
    Items,
}

/// A row of a master or items table: its canonical key and the printed labels that match it.
#[derive(Debug, Clone, Deserialize)]
pub struct RowSpec {
    pub key: String,
    #[serde(rename = "match")]
    pub patterns: Vec<String>,
    /// The row holds a count (辆, 台) rather than money.
    #[serde(default)]
    pub count: bool,
    /// `patterns` folded for matching, filled once when the family is loaded.
    #[serde(skip)]
    pub(crate) folded: Vec<String>,
}

/// One canonical table of a family.
#[derive(Debug, Clone, Deserialize)]
pub struct TableTemplate {
    pub id: String,
    /// The catalog table this printed table is (`templates/catalog.toml`), when it is one:
    /// 公开05 and 表5 are both `gpb_expense_by_function`.
    #[serde(default)]
    pub canonical: Option<String>,
    pub titles: Vec<String>,
    pub layout: Layout,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub left_columns: Vec<String>,
    #[serde(default)]
    pub right_columns: Vec<String>,
    #[serde(default)]
    pub left_line_no: bool,
    #[serde(default)]
    pub right_line_no: bool,
    #[serde(default)]
    pub right_classes: bool,
    #[serde(default)]
    pub left_rows: Vec<RowSpec>,
    #[serde(default)]
    pub right_rows: Vec<RowSpec>,
    #[serde(default)]
    pub rows: Vec<RowSpec>,
    #[serde(default)]
    pub line_no: bool,
    #[serde(default)]
    pub free_rows: bool,
}

/// A template family: the table set of one province/kind/period.
#[derive(Debug, Clone, Deserialize)]
pub struct Family {
    pub family: String,
    #[serde(rename = "kind")]
    kind_label: String,
    pub description: String,
    pub cues: Vec<String>,
    #[serde(rename = "table")]
    pub tables: Vec<TableTemplate>,
}

impl Family {
    /// 预算 or 决算.
    pub fn kind(&self) -> ReportKind {
        ReportKind::from_label(&self.kind_label)
    }

    pub fn table(&self, id: &str) -> Option<&TableTemplate> {
        self.tables.iter().find(|t| t.id == id)
    }
}

const SOURCES: &[(&str, &str)] = &[
    ("shanxi-js", include_str!("../templates/shanxi-js.toml")),
    ("shaanxi-js", include_str!("../templates/shaanxi-js.toml")),
    ("shanxi-ys", include_str!("../templates/shanxi-ys.toml")),
];

static FAMILIES: LazyLock<Vec<Family>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(name, src)| match toml::from_str::<Family>(src) {
            Ok(mut f) => {
                for t in &mut f.tables {
                    for r in t
                        .rows
                        .iter_mut()
                        .chain(t.left_rows.iter_mut())
                        .chain(t.right_rows.iter_mut())
                    {
                        r.folded = r
                            .patterns
                            .iter()
                            .map(|p| crate::parse::text::fold(p))
                            .collect();
                    }
                }
                f
            }
            // The files are compiled in and covered by tests; a broken one is a build defect.
            Err(e) => panic!("template {name} is invalid: {e}"),
        })
        .collect()
});

/// Every known template family.
pub fn families() -> &'static [Family] {
    &FAMILIES
}

/// The family with this id.
pub fn family(id: &str) -> Option<&'static Family> {
    families().iter().find(|f| f.family == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_loads_with_its_tables() {
        let ids: Vec<_> = families()
            .iter()
            .map(|f| (f.family.as_str(), f.tables.len()))
            .collect();
        assert_eq!(
            ids,
            vec![("shanxi-js", 10), ("shaanxi-js", 9), ("shanxi-ys", 13)]
        );
        let sx = family("shaanxi-js").unwrap();
        assert_eq!(sx.table("公开09").unwrap().columns.len(), 8);
        assert_eq!(family("shanxi-ys").unwrap().kind(), ReportKind::Budget);
    }
}
