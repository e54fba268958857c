//! What a report's narrative declares about its scope: the 部门决算单位构成 (units included in
//! the 汇总, CU-03) and the 人员情况 counts (CU-05).
//!
//! The parser does not place these in the report model, so they are read here from the parsed
//! sections, figures and source lines. Structured submissions without text (`Report::lines`
//! empty) yield only the count figure, not the names.

use rust_decimal::Decimal;

use crate::model::{FigureKind, Report};
use crate::parse::text::fold;

/// The unit list a 部门汇总 declares in «部门决算单位构成».
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeclaredUnits {
    /// «纳入…决算编制范围的单位共N个».
    pub count: Option<u32>,
    /// Unit names as listed (序号 removed), possibly empty when only the count is printed.
    pub names: Vec<String>,
    /// 1-based line of the section heading.
    pub line: u32,
}

/// The declared unit list of a report, when it has a «单位构成» section.
pub fn declared_units(report: &Report) -> Option<DeclaredUnits> {
    let (si, section) = report
        .sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.heading.contains("单位构成"))
        .max_by_key(|(_, s)| s.last_line.saturating_sub(s.first_line))?;
    let count = report
        .figures
        .iter()
        .filter(|f| f.section == si && f.kind == FigureKind::Count)
        .find(|f| f.label.contains('共'))
        .and_then(|f| f.value)
        .and_then(|v| u32::try_from(v.trunc().mantissa()).ok());
    let mut names = Vec::new();
    let first = section.first_line as usize + 1;
    let last = section.last_line as usize;
    for line in report.lines.iter().take(last).skip(first.saturating_sub(1)) {
        if let Some(name) = unit_name_of(line) {
            names.push(name);
        }
    }
    Some(DeclaredUnits {
        count,
        names,
        line: section.first_line,
    })
}

/// A unit name from one line of the unit list, or `None` for headers, sentences and blanks.
fn unit_name_of(line: &str) -> Option<String> {
    let cells: Vec<&str> = if line.contains('|') {
        line.split('|').collect()
    } else {
        line.split('\t').collect()
    };
    let cell = cells
        .iter()
        .map(|c| c.trim())
        .filter(|c| {
            !c.is_empty()
                && !c
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || "-:.、 ".contains(ch))
        })
        .max_by_key(|c| c.chars().count())?;
    let t = cell.trim_start_matches(|c: char| c.is_ascii_digit() || "、.． ".contains(c));
    let t = t.trim();
    let is_sentence = t.contains('，')
        || t.contains(',')
        || t.contains('。')
        || t.contains('：')
        || t.contains(':')
        || t.contains("纳入")
        || t.contains("名称")
        || t.contains("序号")
        || t.starts_with('#')
        || t.starts_with("- ");
    let looks_like_unit = [
        "局", "中心", "院", "所", "站", "室", "处", "委", "办", "队", "校", "会", "部", "厅", "馆",
        "本级",
    ]
    .iter()
    .any(|k| t.contains(k));
    if t.is_empty() || is_sentence || !looks_like_unit || t.chars().count() > 60 {
        return None;
    }
    Some(t.to_string())
}

/// True when a declared name denotes this unit: equal after folding, one containing the other,
/// or (for the 本级 unit) the declared name saying 本级 and the unit name being its prefix.
pub(crate) fn name_matches(declared: &str, unit: &str, unit_is_root: bool) -> bool {
    let strip = |s: &str| {
        let f = fold(s);
        let f = match f.find('(') {
            Some(i) if i > 0 => f[..i].to_string(),
            _ => f,
        };
        f.replace("部门本级", "")
            .replace("本级", "")
            .replace("(汇总)", "")
    };
    let (d, u) = (strip(declared), strip(unit));
    if d.is_empty() || u.is_empty() {
        return false;
    }
    if d == u {
        return true;
    }
    let declared_root = fold(declared).contains("本级") || fold(declared).contains("机关");
    if declared_root != unit_is_root {
        return false;
    }
    d.contains(&u) || u.contains(&d)
}

/// 人员情况 counts quoted in a report's narrative, keyed 人员编制 / 行政编制 / 事业编制 /
/// 实有人员 / 实有人员.行政 / 实有人员.事业 / 离退休人员. First occurrence of each key wins.
pub fn headcounts_of(report: &Report) -> Vec<(&'static str, Decimal)> {
    let mut out: Vec<(&'static str, Decimal)> = Vec::new();
    let sections: Vec<usize> = report
        .sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.heading.contains("人员情况"))
        .map(|(i, _)| i)
        .collect();
    if sections.is_empty() {
        return out;
    }
    for f in report
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Count && sections.contains(&f.section))
    {
        let Some(v) = f.value else { continue };
        let l = fold(&f.label);
        let key = if l.contains("离退休") {
            "离退休人员"
        } else if l.contains("行政编制") {
            "行政编制"
        } else if l.contains("事业编制") {
            "事业编制"
        } else if l.contains("编制") {
            "人员编制"
        } else if l.contains("实有") {
            "实有人员"
        } else if l.ends_with("行政") {
            "实有人员.行政"
        } else if l.ends_with("事业") {
            "实有人员.事业"
        } else {
            continue;
        };
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, v));
        }
    }
    out
}
