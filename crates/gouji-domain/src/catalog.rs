//! The catalog of canonical tables (what a table means) and the generic template families (how a
//! province prints them), both loaded from data files: `templates/catalog.toml` and
//! `templates/families/*.toml`. The generic table reader uses them to recognise a table from its
//! title; a document of no known family is still read with the catalog alone.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::model::ReportKind;
use crate::parse::text::fold;

/// One canonical table.
#[derive(Debug, Clone, Deserialize)]
pub struct CanonicalTable {
    /// Stable id (`income_expense_summary`, `gpb_basic_by_econ`, …).
    pub id: String,
    /// Chinese name for messages (收支总表, 一般公共预算基本支出表（经济分类）…).
    pub name: String,
    /// Keyword sets: a title matches when it contains every keyword of one set.
    titles: Vec<Vec<String>>,
    /// A title containing any of these is not this table.
    #[serde(default)]
    exclude: Vec<String>,
    /// Income items on the left, expenditure on the right.
    #[serde(default)]
    pub two_sided: bool,
    /// Rows are 部门经济分类 items: a table printed without codes is keyed by the codes of its
    /// row names («基本工资» → 30101), as a coded one is.
    #[serde(default)]
    pub economic_rows: bool,
    /// Row identities between columns (CT-04): in every row, `total` = Σ `parts`.
    #[serde(default)]
    pub row_sums: Vec<RowSum>,
}

/// A row identity between the columns of one canonical table: `total` = Σ `parts`, column keys
/// as [`column_key`] maps them. It applies to a table only when the total and at least two parts
/// were read and every other amount column of the table is a declared part or `outside` (so a
/// column nobody described never hides a missing addend).
#[derive(Debug, Clone, Deserialize)]
pub struct RowSum {
    pub total: String,
    pub parts: Vec<String>,
    /// Columns the table may print beside the identity (上年数, 增减, …).
    #[serde(default)]
    pub outside: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CatalogFile {
    #[serde(rename = "table")]
    tables: Vec<CanonicalTable>,
    columns: HashMap<String, String>,
    #[serde(default)]
    vocabulary: Vec<String>,
}

/// A table of a generic family: which canonical table a printed number means.
#[derive(Debug, Clone, Deserialize)]
pub struct FamilyTable {
    pub id: String,
    /// The printed number («公开01», «1», «一»).
    #[serde(default)]
    pub number: Option<String>,
    /// Title variants of this family beyond the catalog's.
    #[serde(default)]
    pub titles: Vec<String>,
}

/// A template family read by the generic reader.
#[derive(Debug, Clone, Deserialize)]
pub struct GenericFamily {
    pub family: String,
    #[serde(rename = "kind")]
    kind_label: String,
    pub description: String,
    pub cues: Vec<String>,
    /// How many distinct cues must appear for the family to be chosen.
    #[serde(default = "one")]
    pub min_cues: usize,
    #[serde(rename = "table", default)]
    pub tables: Vec<FamilyTable>,
}

fn one() -> usize {
    1
}

impl GenericFamily {
    /// 预算 or 决算.
    pub fn kind(&self) -> ReportKind {
        ReportKind::from_label(&self.kind_label)
    }

    /// The printed number of canonical table `id` in this family.
    pub fn number_of(&self, id: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|t| t.id == id)
            .and_then(|t| t.number.as_deref())
    }
}

struct Catalog {
    tables: Vec<CanonicalTable>,
    columns: HashMap<String, String>,
    /// Standard column names (folded): the vocabulary's and every canonical key of `columns`.
    vocabulary: Vec<String>,
}

const FAMILY_SOURCES: &[(&str, &str)] = &[
    (
        "jiangsu-ys",
        include_str!("../templates/families/jiangsu-ys.toml"),
    ),
    (
        "shanghai-ys",
        include_str!("../templates/families/shanghai-ys.toml"),
    ),
    (
        "shanghai-js",
        include_str!("../templates/families/shanghai-js.toml"),
    ),
];

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let file: CatalogFile = match toml::from_str(include_str!("../templates/catalog.toml")) {
        Ok(f) => f,
        // Compiled in and covered by tests: a broken file is a build defect.
        Err(e) => panic!("templates/catalog.toml is invalid: {e}"),
    };
    let mut tables = file.tables;
    for t in &mut tables {
        for set in &mut t.titles {
            for k in set.iter_mut() {
                *k = fold(k);
            }
        }
        for k in &mut t.exclude {
            *k = fold(k);
        }
    }
    let columns = file
        .columns
        .into_iter()
        .map(|(k, v)| (fold(&k), fold(&v)))
        .collect::<HashMap<String, String>>();
    let mut vocabulary: Vec<String> = file
        .vocabulary
        .iter()
        .map(|v| fold(v))
        .chain(columns.values().cloned())
        .collect();
    vocabulary.sort();
    vocabulary.dedup();
    Catalog {
        tables,
        columns,
        vocabulary,
    }
});

static FAMILIES: LazyLock<Vec<GenericFamily>> = LazyLock::new(|| {
    FAMILY_SOURCES
        .iter()
        .map(|(name, src)| match toml::from_str::<GenericFamily>(src) {
            Ok(mut f) => {
                for c in &mut f.cues {
                    *c = fold(c);
                }
                for t in &mut f.tables {
                    if catalog_table(&t.id).is_none() {
                        panic!("family {name} names unknown canonical table {}", t.id);
                    }
                    for title in &mut t.titles {
                        *title = fold(title);
                    }
                }
                f
            }
            Err(e) => panic!("family {name} is invalid: {e}"),
        })
        .collect()
});

/// Every canonical table, in catalog order.
pub fn tables() -> &'static [CanonicalTable] {
    &CATALOG.tables
}

/// The canonical table with this id.
pub fn catalog_table(id: &str) -> Option<&'static CanonicalTable> {
    CATALOG.tables.iter().find(|t| t.id == id)
}

/// The canonical table a report's table is: a seed template's mapping (`canonical` in
/// `templates/*.toml`: 公开05 and 表5 are both `gpb_expense_by_function`), or the catalog id the
/// generic reader gave it (`<id>`, or `<id>@<line>` for a table outside a seed template).
pub fn canonical_of(family: &str, table_id: &str) -> Option<&'static CanonicalTable> {
    if let Some(f) = crate::template::family(family)
        && let Some(c) = f.table(table_id).and_then(|t| t.canonical.as_deref())
    {
        return catalog_table(c);
    }
    catalog_table(table_id.split('@').next().unwrap_or(table_id))
}

/// Position of a canonical table in the catalog (for ordering).
pub fn order(id: &str) -> usize {
    CATALOG
        .tables
        .iter()
        .position(|t| t.id == id)
        .unwrap_or(usize::MAX)
}

/// Every generic family.
pub fn families() -> &'static [GenericFamily] {
    &FAMILIES
}

/// The generic family with this id.
pub fn family(id: &str) -> Option<&'static GenericFamily> {
    FAMILIES.iter().find(|f| f.family == id)
}

/// The family id of a document read with the catalog alone (no family's cues matched).
pub const UNKNOWN_FAMILY: &str = "unknown";

/// True for every family id a report may carry: a seed template, a generic family, or
/// [`UNKNOWN_FAMILY`].
pub fn is_known_family(id: &str) -> bool {
    id == UNKNOWN_FAMILY || family(id).is_some() || crate::template::family(id).is_some()
}

/// The canonical column key of a folded printed header.
pub fn column_key(folded: &str) -> String {
    CATALOG
        .columns
        .get(folded)
        .cloned()
        .unwrap_or_else(|| folded.to_string())
}

/// [`column_key`], and a header that misses a standard column name by one misread character
/// (two in a name of eight or more) is that name — when exactly one name is that near. For
/// headers that came out of OCR; a header of another length or two near names keeps its text.
pub fn column_key_near(folded: &str) -> String {
    let key = column_key(folded);
    if CATALOG.vocabulary.contains(&key) {
        return key;
    }
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 3 {
        return key;
    }
    let allowed = if chars.len() >= 8 { 2 } else { 1 };
    let mut near = CATALOG.vocabulary.iter().filter(|v| {
        v.chars().count() == chars.len()
            && v.chars().zip(&chars).filter(|(a, b)| a != *b).count() <= allowed
    });
    match (near.next(), near.next()) {
        (Some(v), None) => v.clone(),
        _ => key,
    }
}

/// The canonical table a folded title names, if any: a family's own title variants first, then
/// the catalog's most specific keyword set.
pub fn classify_title(
    folded: &str,
    family: Option<&GenericFamily>,
) -> Option<&'static CanonicalTable> {
    if let Some(f) = family {
        let own = f
            .tables
            .iter()
            .flat_map(|t| t.titles.iter().map(move |title| (t, title)))
            .filter(|(_, title)| folded.contains(title.as_str()))
            .max_by_key(|(_, title)| title.len());
        if let Some((t, _)) = own {
            return catalog_table(&t.id);
        }
    }
    let mut best: Option<(&CanonicalTable, usize)> = None;
    for t in &CATALOG.tables {
        if t.exclude.iter().any(|x| folded.contains(x.as_str())) {
            continue;
        }
        for set in &t.titles {
            if set.iter().all(|k| folded.contains(k.as_str())) {
                let score: usize = set.iter().map(String::len).sum();
                if best.is_none_or(|(_, s)| score > s) {
                    best = Some((t, score));
                }
            }
        }
    }
    best.map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_one_misread_character_from_a_standard_name_is_that_name() {
        let near = |h: &str| column_key_near(&fold(h));
        // Misread by OCR in seed S3.
        assert_eq!(near("决算撤"), "决算数");
        assert_eq!(near("一般公共预算财政接数"), "一般公共预算财政拨款");
        // Standard names, and names one character from another, stay themselves.
        for name in [
            "决算数",
            "预算数",
            "其他支出",
            "其他收入",
            "年初结转和结余",
            "执行数",
        ] {
            assert_eq!(near(name), name);
        }
        // Too short to judge, or near nothing.
        assert_eq!(near("合汁"), "合汁");
        assert_eq!(near("绩效目标"), "绩效目标");
    }

    fn id(title: &str) -> Option<&'static str> {
        classify_title(&fold(title), None).map(|t| t.id.as_str())
    }

    #[test]
    fn titles_of_every_family_name_their_meaning() {
        let cases = [
            ("收支预算总表", "income_expense_summary"),
            ("2025年部门财务收支预算总表", "income_expense_summary"),
            ("收入支出决算总表", "income_expense_summary"),
            ("收入预算总表", "income_by_function"),
            ("收入决算表", "income_by_function"),
            ("支出预算总表", "expense_by_function"),
            ("支出决算表", "expense_by_function"),
            ("财政拨款收支预算总表", "fiscal_summary"),
            ("财政拨款收入支出决算总表", "fiscal_summary"),
            (
                "财政拨款支出预算表（功能科目）",
                "fiscal_expense_by_function",
            ),
            ("财政拨款基本支出预算表（经济科目）", "fiscal_basic_by_econ"),
            ("一般公共预算支出预算表", "gpb_expense_by_function"),
            (
                "2025年部门一般公共预算支出功能分类预算表",
                "gpb_expense_by_function",
            ),
            ("一般公共预算财政拨款支出决算表", "gpb_expense_by_function"),
            (
                "一般公共预算基本支出部门预算经济分类预算表",
                "gpb_basic_by_econ",
            ),
            ("一般公共预算财政拨款基本支出决算表", "gpb_basic_by_econ"),
            ("财政拨款政府性基金支出预算表", "gov_fund"),
            ("政府性基金预算财政拨款收入支出决算表", "gov_fund"),
            ("国有资本经营预算支出功能分类预算表", "state_capital"),
            (
                "一般公共预算“三公”经费、会议费、培训费支出预算表",
                "sangong",
            ),
            ("2025年部门“三公”经费和机关运行经费预算表", "sangong"),
            ("一般公共预算机关运行经费支出预算表", "operating_expenses"),
            ("2017年政府采购预算表", "procurement"),
        ];
        for (title, want) in cases {
            assert_eq!(id(title), Some(want), "{title}");
        }
        assert_eq!(id("主要职能"), None);
    }

    #[test]
    fn every_family_loads_and_names_catalog_tables() {
        let ids: Vec<_> = families().iter().map(|f| f.family.as_str()).collect();
        assert_eq!(ids, ["jiangsu-ys", "shanghai-ys", "shanghai-js"]);
        assert_eq!(
            family("jiangsu-ys").unwrap().number_of("sangong"),
            Some("公开09")
        );
    }
}
