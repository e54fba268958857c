//! The two expenditure classifications: 支出功能分类 (functional: 类 3 / 款 5 / 项 7 digits) and
//! 部门预算支出经济分类 (economic: 类 3 / 款 5 digits).
//!
//! Names come from the code lists in `data/` (those seen in real reports so far). Any
//! well-formed code is accepted; the lists only supply names and the 人员/公用经费 grouping.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Level of a code in its classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 类
    Lei,
    /// 款
    Kuan,
    /// 项 (functional only)
    Xiang,
}

/// Which classification a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Classification {
    /// 支出功能分类 (2xx…).
    Functional,
    /// 部门预算支出经济分类 (3xx…).
    Economic,
}

/// 人员经费 (personnel) or 公用经费 (public/operating) grouping of economic 类 in 公开06 / 表6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EconGroup {
    Personnel,
    Public,
}

/// Level of a functional code by its length, if it is one.
pub fn functional_level(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit()) || !code.starts_with('2') {
        return None;
    }
    match code.len() {
        3 => Some(Level::Lei),
        5 => Some(Level::Kuan),
        7 => Some(Level::Xiang),
        _ => None,
    }
}

/// Level of an economic code (301 / 30101 …), if it is one.
pub fn economic_level(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !(code.starts_with('3') || code.starts_with('5'))
    {
        return None;
    }
    match code.len() {
        3 => Some(Level::Lei),
        5 => Some(Level::Kuan),
        _ => None,
    }
}

/// The parent of a functional or economic code (项 → 款 → 类), or `None` for a 类.
pub fn parent(code: &str) -> Option<&str> {
    match code.len() {
        7 => Some(&code[..5]),
        5 => Some(&code[..3]),
        _ => None,
    }
}

/// 人员经费 for 301 and 303 and their 款; 公用经费 for every other economic code.
pub fn econ_group(code: &str) -> EconGroup {
    if code.starts_with("301") || code.starts_with("303") {
        EconGroup::Personnel
    } else {
        EconGroup::Public
    }
}

/// One entry of a code list.
#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub code: String,
    pub name: String,
    pub level: Level,
}

/// The embedded code lists.
#[derive(Debug)]
pub struct CodeLists {
    functional: HashMap<String, CodeEntry>,
    class_by_name: HashMap<String, String>,
    economic: HashMap<String, CodeEntry>,
    /// Economic code → `fold(name)`, for matching narrative labels against 款 names.
    economic_folded: HashMap<String, String>,
    econ_by_name: Vec<(String, CodeEntry)>,
}

static LISTS: LazyLock<CodeLists> = LazyLock::new(CodeLists::load);

/// The shared code lists.
pub fn lists() -> &'static CodeLists {
    &LISTS
}

fn csv_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
}

fn level_of(s: &str) -> Level {
    match s {
        "类" => Level::Lei,
        "款" => Level::Kuan,
        _ => Level::Xiang,
    }
}

impl CodeLists {
    fn load() -> Self {
        let mut functional = HashMap::new();
        let mut class_by_name = HashMap::new();
        for r in csv_rows(include_str!("../data/functional_classes_lei.csv")) {
            let (code, name) = (r[0].to_string(), r[1].to_string());
            class_by_name.insert(name.clone(), code.clone());
            functional.insert(
                code.clone(),
                CodeEntry {
                    code,
                    name,
                    level: Level::Lei,
                },
            );
        }
        for r in csv_rows(include_str!("../data/functional_codes_seen_in_seeds.csv")) {
            let e = CodeEntry {
                code: r[0].to_string(),
                name: r[2].to_string(),
                level: level_of(r[1]),
            };
            functional.entry(e.code.clone()).or_insert(e);
        }
        let mut economic = HashMap::new();
        let mut economic_folded = HashMap::new();
        let mut econ_by_name = Vec::new();
        for r in csv_rows(include_str!(
            "../data/dept_economic_codes_from_seed_table06.csv"
        )) {
            let e = CodeEntry {
                code: r[0].to_string(),
                name: r[2].to_string(),
                level: level_of(r[1]),
            };
            let folded = crate::parse::text::fold(&e.name);
            economic_folded.insert(e.code.clone(), folded.clone());
            econ_by_name.push((folded, e.clone()));
            economic.insert(e.code.clone(), e);
        }
        CodeLists {
            functional,
            class_by_name,
            economic,
            economic_folded,
            econ_by_name,
        }
    }

    /// Name of a functional code, when known.
    pub fn functional_name(&self, code: &str) -> Option<&str> {
        self.functional.get(code).map(|e| e.name.as_str())
    }

    /// Name of an economic code, when known.
    pub fn economic_name(&self, code: &str) -> Option<&str> {
        self.economic.get(code).map(|e| e.name.as_str())
    }

    /// `fold` of the name of an economic code, when known.
    pub fn economic_name_folded(&self, code: &str) -> Option<&str> {
        self.economic_folded.get(code).map(String::as_str)
    }

    /// The functional 类 code for a printed 类 name («卫生健康支出» → 210).
    pub fn class_code_by_name(&self, name: &str) -> Option<&str> {
        let folded = crate::parse::text::fold(name);
        if let Some(c) = self.class_by_name.get(&folded) {
            return Some(c);
        }
        self.class_by_name
            .iter()
            .filter(|(n, _)| {
                folded.contains(n.as_str()) || (folded.len() >= 9 && n.contains(&folded))
            })
            .max_by_key(|(n, _)| n.len())
            .map(|(_, c)| c.as_str())
    }

    /// The functional 类 code of a label that is exactly a 类 name, current or former
    /// («卫生健康支出», «医疗卫生与计划生育支出» → 210); unlike [`Self::class_code_by_name`] no
    /// label that merely contains one («其中：卫生健康支出结转»).
    pub fn class_code_exact(&self, name: &str) -> Option<&str> {
        let folded = crate::parse::text::fold(name);
        if let Some(c) = self.class_by_name.get(&folded) {
            return Some(c);
        }
        renamed()
            .iter()
            .find(|r| r.old == folded && r.code.len() == 3)
            .map(|r| r.code.as_str())
    }

    /// All functional 类 codes with names.
    pub fn classes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.class_by_name
            .iter()
            .map(|(n, c)| (c.as_str(), n.as_str()))
    }

    /// The economic code for a printed name. A 款 is looked up under `current_lei` first, so that
    /// «其他支出» under 399 resolves to 39999 rather than the 类 399 itself.
    pub fn economic_code_by_name(&self, name: &str, current_lei: Option<&str>) -> Option<&str> {
        let folded = crate::parse::text::fold(name);
        let candidates: Vec<&CodeEntry> = self
            .econ_by_name
            .iter()
            .filter(|(n, _)| *n == folded)
            .map(|(_, e)| e)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        if let Some(lei) = current_lei
            && let Some(e) = candidates
                .iter()
                .find(|e| e.level == Level::Kuan && e.code.starts_with(lei))
        {
            return Some(&e.code);
        }
        candidates
            .iter()
            .find(|e| e.level == Level::Lei)
            .or(candidates.first())
            .map(|e| e.code.as_str())
    }

    /// Every entry of the functional and economic lists (in no particular order).
    pub fn entries(&self) -> impl Iterator<Item = &CodeEntry> {
        self.functional.values().chain(self.economic.values())
    }

    /// True when the economic code is a 类.
    pub fn is_econ_lei_name(&self, name: &str) -> bool {
        let folded = crate::parse::text::fold(name);
        self.econ_by_name
            .iter()
            .any(|(n, e)| *n == folded && e.level == Level::Lei)
    }
}

/// A 科目 renamed in the classification: `old` is its name before `from_year`, `new` after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    pub code: String,
    pub old: String,
    pub new: String,
    pub from_year: i32,
}

static RENAMED: LazyLock<Vec<Renamed>> = LazyLock::new(|| {
    csv_rows(include_str!("../data/renamed_subjects.csv"))
        .filter_map(|r| {
            Some(Renamed {
                code: r.first()?.to_string(),
                old: r.get(1)?.to_string(),
                new: r.get(2)?.to_string(),
                from_year: r.get(3)?.parse().ok()?,
            })
        })
        .collect()
});

/// 科目 renamed over the years (`data/renamed_subjects.csv`).
pub fn renamed() -> &'static [Renamed] {
    &RENAMED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_subjects_load_from_data() {
        let r = renamed()
            .iter()
            .find(|r| r.code == "210")
            .expect("210 renamed");
        assert_eq!(
            (r.old.as_str(), r.new.as_str(), r.from_year),
            ("医疗卫生与计划生育支出", "卫生健康支出", 2019)
        );
    }

    #[test]
    fn resolves_names_and_levels() {
        let l = lists();
        assert_eq!(l.class_code_by_name("卫生健康支出"), Some("210"));
        assert_eq!(l.class_code_by_name("九、卫生健康支出"), Some("210"));
        assert_eq!(l.class_code_exact("卫生健康支出"), Some("210"));
        assert_eq!(l.class_code_exact("医疗卫生与计划生育支出"), Some("210"));
        assert_eq!(l.class_code_exact("卫生健康支出结转"), None);
        assert_eq!(
            l.economic_code_by_name("其他支出", Some("399")),
            Some("39999")
        );
        assert_eq!(l.economic_code_by_name("其他支出", None), Some("399"));
        assert_eq!(
            l.economic_code_by_name("基本工资", Some("301")),
            Some("30101")
        );
        assert_eq!(functional_level("2101501"), Some(Level::Xiang));
        assert_eq!(economic_level("30226"), Some(Level::Kuan));
        assert_eq!(parent("2101501"), Some("21015"));
        assert_eq!(econ_group("30305"), EconGroup::Personnel);
        assert_eq!(econ_group("31002"), EconGroup::Public);
    }
}
