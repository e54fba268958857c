//! The generic table reader: tables by meaning, columns from their headers.
//!
//! Used for every family described only by a data file in `templates/families/` and for
//! documents of no known family. It works from what the document itself prints:
//! 1. a **title** line is classified into a canonical table of the catalog (`crate::catalog`);
//!    a title without a body (a table of contents entry) is dropped;
//! 2. the **header band** — the rows between the title/unit lines and the first data row — is
//!    read into leaf columns: every header cell spans from its position to the next cell of its
//!    row or of any row above, and a leaf's path joins the cells above it (`收入|项目名称`,
//!    `功能分类科目编码|类`); each leaf has a role (code, label or amount) from its name;
//! 3. every **data row** is placed cell by cell: codes into code leaves, labels into label
//!    leaves, amounts into the nearest amount leaf in order. Two-sided tables split into sides at
//!    each label leaf. A row whose cells cannot be placed without guessing (no blank cells and
//!    fewer amounts than columns) is unplaced with the reason, never shifted.
//!
//! Cells keep their state: a number becomes a [`Fact`], «——» a dash, a garbled amount
//! («278l.88») an unreadable cell (`Table::unreadable`) and an [`Unplaced`] entry naming the cell.

use std::sync::LazyLock;

use regex::Regex;

use super::tables::UNIT_RE;
use super::text::{fold, strip_ordinal};
use super::{Line, unplaced};
use crate::amount::{CellKind, CellText, MeasureUnit, cell_kind, read_cell};
use crate::catalog::{self, CanonicalTable, GenericFamily};
use crate::codes;
use crate::model::{Fact, Provenance, RowLabel, Table, Unplaced};

/// Where a table starts: its title line and what the title means.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    pub(crate) line_idx: usize,
    pub(crate) canonical: &'static CanonicalTable,
    pub(crate) title: String,
    pub(crate) number: Option<String>,
}

static NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:预算公开表|公开表|公开|表)?\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*表?\s*(?:[、.．]\s*)?")
        .expect("static regex")
});
static NUMBER_ONLY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:公开|表)\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*表?$")
        .expect("static regex")
});
static YEAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\(?[0-9]{4}\s*年度?\)?").expect("static regex"));
static SPACED_ROW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[235][0-9]{2}(?:[0-9]{2}){0,2}\s+\S+\s+-?[0-9][0-9,]*\.[0-9]+$")
        .expect("static regex")
});
static ENTITY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:预算主管部门|部门名称|单位名称|编制单位|编制部门|部门)\s*[:：]\s*([^\s\t]+)")
        .expect("static regex")
});

/// Words that mark a line as prose or a reference to a table, never a title.
const NOT_TITLE: &[&str] = &[
    "。", "，", "说明", "本表", "《", "……", "...", "详见", "附后", "反映", "；",
];
/// Where a title glued to its metadata ends («收支预算总表部门：… 单位：万元»).
const TITLE_END: &[&str] = &[
    "预算主管部门",
    "部门名称",
    "单位名称",
    "编制部门",
    "编制单位",
    "部门:",
    "单位:",
];

/// The printed 表号 at the start of `s` and the rest.
fn split_number(s: &str) -> (Option<String>, &str) {
    if let Some(m) = NUMBER_RE.captures(s)
        && let Some(n) = m.get(1)
    {
        let whole = m.get(0).map_or(0, |m| m.end());
        // A bare «1» or «一» counts only when followed by a separator («1.», «一、») or 表.
        let token = &s[..whole];
        if token.chars().any(|c| "表公、.．".contains(c)) {
            return (Some(n.as_str().to_string()), &s[whole..]);
        }
    }
    (None, s)
}

/// The canonical table and title a line names, if it is a title line.
fn title_of(
    line: &Line,
    family: Option<&GenericFamily>,
) -> Option<(&'static CanonicalTable, String, Option<String>)> {
    // The folded line is its non-empty cells joined (folding drops the tabs): no new fold.
    if line.noise || !line.folded.contains('表') {
        return None;
    }
    title_of_text(&line.folded, family)
}

/// [`title_of`] on a title's text.
fn title_of_text(
    joined: &str,
    family: Option<&GenericFamily>,
) -> Option<(&'static CanonicalTable, String, Option<String>)> {
    let mut f = fold(joined);
    if f.is_empty() || !f.contains('表') {
        return None;
    }
    if let Some(cut) = TITLE_END.iter().filter_map(|m| f.find(m)).min() {
        f.truncate(cut);
    }
    if f.chars().count() > 60 || NOT_TITLE.iter().any(|w| f.contains(w)) {
        return None;
    }
    let (number, rest) = split_number(&f);
    let rest = YEAR_RE.find(rest).map_or(rest, |m| &rest[m.end()..]);
    let rest = strip_ordinal(rest);
    if !rest.contains('表') {
        return None;
    }
    let t = catalog::classify_title(rest, family)?;
    Some((t, rest.to_string(), number))
}

/// Finds the table starts: title lines followed by a table body.
pub(crate) fn find_starts(lines: &[Line], family: Option<&GenericFamily>) -> Vec<Start> {
    let mut candidates: Vec<Start> = Vec::new();
    let mut pending_number: Option<(usize, String)> = None;
    // The second line of a title broken over two lines is not a title of its own.
    let mut continuation: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        if crate::work::step(1) {
            break;
        }
        if continuation == Some(i) {
            continue;
        }
        if let Some(c) = NUMBER_ONLY_RE.captures(&l.folded) {
            pending_number = Some((i, c[1].to_string()));
            continue;
        }
        // A title broken over two lines («…培训费支出预» / «算表»).
        let broken = || {
            let next = lines.get(i + 1)?;
            let tail = next.text.trim();
            if l.noise
                || l.cells.len() > 1
                || tail.is_empty()
                || tail.chars().count() > 8
                || !tail.contains('表')
            {
                return None;
            }
            title_of_text(&format!("{}{tail}", l.text.trim()), family)
        };
        let whole = title_of(l, family);
        let found = match whole {
            Some(w) => Some(w),
            None => broken().inspect(|_| continuation = Some(i + 1)),
        };
        if let Some((t, title, number)) = found {
            let number = number.or_else(|| {
                pending_number
                    .take()
                    .filter(|(at, _)| i - at <= 3)
                    .map(|(_, n)| n)
            });
            candidates.push(Start {
                line_idx: i,
                canonical: t,
                title,
                number,
            });
        }
    }
    // Keep the titles that have a body before the next title (drops tables of contents).
    let mut starts = Vec::new();
    for (k, s) in candidates.iter().enumerate() {
        let next = candidates.get(k + 1).map_or(lines.len(), |n| n.line_idx);
        let end = body_end(lines, s.line_idx, next);
        if lines[s.line_idx + 1..end].iter().any(is_row) {
            starts.push(s.clone());
        }
    }
    starts
}

/// A TAB row with at least two non-empty cells, or one number.
fn is_row(l: &Line) -> bool {
    let filled = l.cells.iter().filter(|c| !c.is_empty()).count();
    l.cells.len() >= 2 && (filled >= 2 || l.cells.iter().any(|c| cell_kind(c) == CellKind::Number))
}

/// A TAB line with at least one non-empty cell.
fn is_tab_line(l: &Line) -> bool {
    l.cells.len() >= 2 && l.cells.iter().any(|c| !c.is_empty())
}

/// A line of running prose (ends a table region).
fn is_prose(l: &Line) -> bool {
    l.cells.len() < 2 && (l.text.contains('。') || l.text.chars().count() >= 40)
}

/// Where the table starting at `start` ends: at `next` or at the first prose line after it.
pub(crate) fn body_end(lines: &[Line], start: usize, next: usize) -> usize {
    let mut end = start + 1;
    for (i, l) in lines.iter().enumerate().take(next).skip(start + 1) {
        if is_prose(l) && !l.text.trim_start().starts_with('注') {
            break;
        }
        if is_row(l) || !l.text.trim().is_empty() {
            end = i + 1;
        }
    }
    end.max(start + 1)
}

/// A cell that was meant to be a number but cannot be read as one («278l.88», «1,2O4.00»).
pub(crate) fn is_garbled_number(c: &str) -> bool {
    // One pass over the bytes: ASCII only, at least two digits, one or two stray characters
    // (OCR's l, O, I, S …) besides digits and number punctuation.
    let (mut digits, mut stray) = (0usize, 0usize);
    for b in c.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' | b',' | b'-' | b' ' | b'\t' => {}
            0x80.. => return false,
            _ => stray += 1,
        }
        if stray > 2 {
            return false;
        }
    }
    digits >= 2 && stray >= 1 && cell_kind(c) != CellKind::Number
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Code,
    Label,
    Amount,
    Skip,
}

#[derive(Debug, Clone)]
struct Leaf {
    start: usize,
    path: Vec<String>,
    role: Role,
    /// Canonical column key (amount leaves).
    key: String,
}

fn role_of(name: &str) -> Role {
    match name {
        "类" | "款" | "项" => Role::Code,
        "栏次" | "行次" | "序号" => Role::Skip,
        "项目" | "科目" | "项目名称" | "单位名称" => Role::Label,
        n if n.contains("编码") || n.contains("代码") => Role::Code,
        n if n.contains("名称") => Role::Label,
        _ => Role::Amount,
    }
}

/// Builds the leaf columns of a header band.
fn leaves(header: &[&Line]) -> Vec<Leaf> {
    let rows: Vec<Vec<(usize, String)>> = header
        .iter()
        .map(|l| header_cells(l))
        .filter(|cells| !cells.is_empty())
        .collect();
    let mut starts: Vec<usize> = rows.iter().flatten().map(|(p, _)| *p).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut out = Vec::new();
    for &s in &starts {
        let mut path = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            // The cell of row r covering s: the last cell at or before s, unless a cell of this
            // row or of a row above starts between it and s.
            let Some((p, name)) = row.iter().rev().find(|(p, _)| *p <= s) else {
                continue;
            };
            let blocked = rows[..=r].iter().flatten().any(|(q, _)| {
                *q > *p && *q <= s && (*q != s || rows[r].iter().all(|(x, _)| x != q))
            });
            if !blocked {
                path.push(name.clone());
            }
        }
        let Some(name) = path.last().cloned() else {
            continue;
        };
        let role = role_of(&name);
        let mut key = catalog::column_key_near(&name);
        // «预算数 | 合计» (a total above its breakdown) is the 预算数 column itself.
        if key == "合计"
            && let Some(parent) = path
                .len()
                .checked_sub(2)
                .map(|i| catalog::column_key_near(&path[i]))
            && matches!(parent.as_str(), "预算数" | "决算数")
        {
            key = parent;
        }
        out.push(Leaf {
            start: s,
            path,
            role,
            key,
        });
    }
    // «本年支出 | 小计 | 基本支出 | 项目支出»: a 小计 over its breakdown is the table's 合计
    // column when the table prints no other.
    if !out.iter().any(|l| l.key == "合计")
        && let Some(l) = out
            .iter_mut()
            .find(|l| l.role == Role::Amount && l.key == "小计" && l.path.len() >= 2)
    {
        l.key = "合计".to_string();
    }
    // Amount keys unique within a side: qualify a repeated name with its parents.
    let mut side = 0;
    let mut sides = Vec::with_capacity(out.len());
    let mut seen_amount = false;
    for l in &out {
        if l.role != Role::Amount && seen_amount {
            side += 1;
            seen_amount = false;
        }
        seen_amount |= l.role == Role::Amount;
        sides.push(side);
    }
    for i in 0..out.len() {
        if out[i].role != Role::Amount {
            continue;
        }
        let dup = (0..out.len()).any(|j| {
            j != i
                && sides[j] == sides[i]
                && out[j].role == Role::Amount
                && out[j].key == out[i].key
        });
        if dup {
            out[i].key = out[i].path.join("|");
        }
    }
    out
}

/// True for a number cell that has a decimal point, or is an integer above `limit` (or zero
/// when `zero` is set): an amount rather than a column or page number. Decided from the printed
/// text without building the number (table readers ask this of every cell).
fn amount_over(c: &str, limit: u64, zero: bool) -> bool {
    if cell_kind(c) != CellKind::Number {
        return false;
    }
    if c.contains(['.', '．']) {
        return true;
    }
    let mut v: u64 = 0;
    for b in c.bytes().filter(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    // Full-width digits (not ASCII) count as large: they are never column numbers.
    let ascii_digits = c.bytes().any(|b| b.is_ascii_digit());
    !ascii_digits || v > limit || zero && v == 0
}

/// A data signal: a number that is not a small column number, a garbled number, or a code.
fn is_data_row(l: &Line) -> bool {
    l.cells
        .iter()
        .any(|c| amount_over(c, 50, true) || is_garbled_number(c))
        || {
            // A first cell with an ordinal («一、», «（一）»): strip_ordinal reads the printed form.
            let first = l.cells.iter().find(|c| !c.is_empty()).map_or("", |c| c);
            strip_ordinal(first).len() != first.len()
        }
}

/// A row of one cell that opens with an ordinal and holds no amount («一、政府采购情况»).
fn is_section_heading(l: &Line) -> bool {
    let mut cells = l.cells.iter().filter(|c| !c.is_empty());
    match (cells.next(), cells.next()) {
        (Some(c), None) => strip_ordinal(c).len() != c.len() && cell_kind(c) != CellKind::Number,
        _ => false,
    }
}

/// A metadata row (unit, entity, 表号) inside a table region.
fn is_meta_row(l: &Line) -> bool {
    let non_empty: Vec<&str> = l.cells.iter().filter(|c| !c.is_empty()).copied().collect();
    (UNIT_RE.is_match(l.text) || ENTITY_RE.is_match(l.text))
        && non_empty.iter().all(|c| cell_kind(c) != CellKind::Number)
        || non_empty.len() == 1 && non_empty[0].chars().count() > 60
        || non_empty.first().is_some_and(|c| c.starts_with('注'))
}

fn code_like(c: &str) -> bool {
    let t = c.trim();
    !t.is_empty() && t.len() <= 7 && t.bytes().all(|b| b.is_ascii_digit())
}

/// A single cell holding a whole 功能/经济 code (201, 20103, 2010301, 301, 30101).
fn whole_code(c: &str) -> bool {
    code_like(c) && matches!(c.len(), 3 | 5 | 7) && matches!(c.as_bytes()[0], b'2' | b'3' | b'5')
}

/// The row key of a printed label: ordinal and spaces dropped, folded.
pub(crate) fn label_key(label: &str) -> String {
    let f = fold(label);
    let s = strip_ordinal(&f);
    let s = s
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches(['.', '．', '、']);
    let s = s.strip_prefix("其中:").unwrap_or(s);
    if s.is_empty() {
        f.clone()
    } else {
        s.to_string()
    }
}

/// The result of reading one region.
pub(crate) struct Read {
    pub(crate) table: Table,
    pub(crate) facts: Vec<Fact>,
    pub(crate) unplaced: Vec<Unplaced>,
}

/// Reads one table region (`region[0]` is the title line) as table `id`.
pub(crate) fn read_region(
    region: &[Line],
    id: &str,
    title: &str,
    number: Option<String>,
    doc_unit: MeasureUnit,
) -> Read {
    let mut unit = None;
    let mut entity = None;
    let mut empty_reason = None;
    let mut header: Vec<&Line> = Vec::new();
    let mut data: Vec<&Line> = Vec::new();
    let mut spaced: Vec<&Line> = Vec::new();
    for (k, l) in region.iter().enumerate() {
        if unit.is_none()
            && data.is_empty()
            && let Some(c) = UNIT_RE.captures(l.text)
        {
            unit = MeasureUnit::from_label(&c[1]);
        }
        if entity.is_none()
            && data.is_empty()
            && let Some(c) = ENTITY_RE.captures(l.text)
        {
            let name = c[1].trim_end_matches("单位").to_string();
            if !name.is_empty() && !name.starts_with("单位") {
                entity = Some(name);
            }
        }
        // «本表无数据», «本单位无此项支出，故本表为空表»: the statement G-03 asks of an empty table.
        if k > 0
            && ["本表无数据", "空表", "无此项"]
                .iter()
                .any(|p| l.folded.contains(p))
        {
            let f: &str = l.folded.as_ref();
            empty_reason = Some(
                f.trim_start_matches("说明:")
                    .trim_start_matches("注:")
                    .to_string(),
            );
        }
        if k > 0 && !data.is_empty() && !is_tab_line(l) && SPACED_ROW_RE.is_match(l.text.trim()) {
            // «2210201 住房公积金 1,029.15»: a row the extraction did not put in table form.
            spaced.push(l);
            continue;
        }
        if k == 0 || !is_tab_line(l) || is_meta_row(l) {
            continue;
        }
        if data.is_empty() && header.is_empty() && is_section_heading(l) {
            // «一、政府采购情况» above the header of its part of the table: a heading, no row.
            continue;
        }
        if data.is_empty() && !is_data_row(l) && (header.is_empty() || !looks_like_first_data(l)) {
            header.push(l);
        } else {
            data.push(l);
        }
    }
    let unit = unit.unwrap_or(doc_unit);
    let leaves = leaves(&header);
    // A header row printed again after a page break (folded, so the tab layout does not matter).
    let header_lines: Vec<&str> = header.iter().map(|l| l.folded.as_ref()).collect();
    let mut r = RowReader {
        id,
        unit,
        leaves: &leaves,
        width: header.iter().map(|l| l.cells.len()).max().unwrap_or(0),
        facts: Vec::new(),
        rows: Vec::new(),
        dashes: Vec::new(),
        unreadable: Vec::new(),
        unplaced: Vec::new(),
        last_code: [String::new(), String::new()],
        economic: catalog::catalog_table(id.split('@').next().unwrap_or(id))
            .is_some_and(|t| t.economic_rows),
        econ_lei: None,
        pending_code: None,
        by_role: by_role(&leaves),
        grouped: grouped_columns(&leaves),
    };
    let placed: Vec<Option<Placed>> = data
        .iter()
        .map(|l| {
            let repeat = header_lines.contains(&l.folded.as_ref());
            if repeat { None } else { Some(r.place(l)) }
        })
        .collect();
    for (k, p) in placed.iter().enumerate() {
        let Some(p) = p else { continue };
        let neighbours = (
            k.checked_sub(1).and_then(|j| placed[j].as_ref()),
            placed.get(k + 1).and_then(Option::as_ref),
        );
        r.emit(data[k], p, neighbours);
    }
    for l in spaced {
        // Its cells cannot be placed by header position: the row exists, its amounts are
        // unreadable, so identities that need them are not applicable.
        let code = l.text.split_whitespace().next().unwrap_or("").to_string();
        if !r.rows.iter().any(|x| x.key == code) {
            r.rows.push(RowLabel {
                key: code.clone(),
                label: l.text.trim().to_string(),
                note: None,
                line: l.no,
                subtotal: false,
            });
        }
        for leaf in leaves.iter().filter(|x| x.role == Role::Amount) {
            r.unreadable.push((code.clone(), leaf.key.clone()));
        }
        r.unplaced.push(unplaced(
            l,
            format!("{id} {code}: row printed without table cells; its amounts are not read"),
        ));
    }
    let title_line = &region[0];
    let table = Table {
        id: id.to_string(),
        title: title.to_string(),
        unit,
        empty_reason,
        line: title_line.no,
        rows: r.rows,
        dashes: r.dashes,
        entity,
        unreadable: r.unreadable,
        printed_number: number,
    };
    Read {
        table,
        facts: r.facts,
        unplaced: r.unplaced,
    }
}

/// A table without row labels whose header repeats the same columns under two or more groups
/// («预算数 | 合计 · 因公出国（境）费 · 公务用车购置及运行维护费 (小计 · 购置费 · 运行维护费) ·
/// 公务接待费», then «决算数 | » the same): the groups are rows and the columns are named within
/// their group, a 小计 by the group above it. Per leaf (row, column); empty for a leaf that is
/// not an amount. `None` for any other layout.
fn grouped_columns(leaves: &[Leaf]) -> Option<Vec<(String, String)>> {
    if leaves
        .iter()
        .any(|x| matches!(x.role, Role::Label | Role::Code))
    {
        return None;
    }
    let amounts: Vec<&Leaf> = leaves.iter().filter(|x| x.role == Role::Amount).collect();
    if amounts.len() < 4 || amounts.iter().any(|x| x.path.len() < 2) {
        return None;
    }
    let within = |x: &Leaf| -> String {
        let n = x.path.len();
        if n >= 3 && x.path[n - 1] == "小计" {
            catalog::column_key_near(&x.path[n - 2])
        } else {
            catalog::column_key_near(&x.path[n - 1])
        }
    };
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for x in &amounts {
        let top = x.path[0].as_str();
        match groups.iter_mut().find(|(g, _)| *g == top) {
            Some((_, cols)) => cols.push(within(x)),
            None => groups.push((top, vec![within(x)])),
        }
    }
    let same = groups.windows(2).all(|w| w[0].1 == w[1].1);
    let distinct = groups
        .iter()
        .all(|(_, cols)| cols.iter().enumerate().all(|(i, c)| !cols[..i].contains(c)));
    if groups.len() < 2 || !same || !distinct {
        return None;
    }
    Some(
        leaves
            .iter()
            .map(|x| {
                if x.role == Role::Amount {
                    (catalog::column_key_near(&x.path[0]), within(x))
                } else {
                    (String::new(), String::new())
                }
            })
            .collect(),
    )
}

/// The named cells of a header row, folded, by position. A 栏次 row numbers the columns and names
/// none of them: «栏次 | | 1 | 2 | 3», also when it opens with the labels of the code and name
/// columns («科目代码 | 科目名称 | 栏次 | 1 | 2 …», whose numbers then stand one column off)
/// or its numbers came out of OCR as marks («栏次 | 1 | 2 | 8 | 4 | ь | ь»), or the 栏次 itself
/// did («档次 | | 1 | 档次 | | 2 | 3»). Of such a row only the labels of the code and name
/// columns are kept.
fn header_cells(l: &Line) -> Vec<(usize, String)> {
    // A cell of marks only («_», «—», «'») is scan noise, not a name.
    let cells: Vec<(usize, String)> = l
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chars().any(char::is_alphanumeric))
        .map(|(p, c)| (p, fold(c)))
        .collect();
    let is_marker = |c: &str| matches!(c, "栏次" | "行次" | "序号");
    let is_number = |c: &str| c.len() <= 3 && c.bytes().all(|b| b.is_ascii_digit());
    let Some(m) = cells.iter().position(|(_, c)| is_marker(c)) else {
        // The marker itself misread («档次 | | 1 | 档次 | | 2 | 3»): column numbers 1, 2, 3 …
        // rising, beside nothing but short marks. The longer labels are kept.
        let numbers: Vec<u32> = cells
            .iter()
            .filter(|(_, c)| is_number(c))
            .filter_map(|(_, c)| c.parse().ok())
            .collect();
        let rising =
            numbers.len() >= 2 && numbers[0] == 1 && numbers.windows(2).all(|w| w[1] > w[0]);
        let others_short = cells
            .iter()
            .filter(|(_, c)| !is_number(c))
            .all(|(_, c)| c.chars().count() <= 2 || c.chars().count() >= 4);
        if rising && others_short {
            return cells
                .into_iter()
                .filter(|(_, c)| !is_number(c) && c.chars().count() >= 4)
                .collect();
        }
        return cells;
    };
    // What follows the marker numbers columns: short marks with no Chinese character (or more
    // markers, for a two-sided table).
    let numbers = cells[m + 1..].iter().all(|(_, c)| {
        is_marker(c) || c.chars().count() <= 3 && !c.chars().any(|ch| ch >= '\u{3000}')
    });
    if !numbers {
        return cells;
    }
    let mut cells = cells;
    cells.truncate(m);
    cells
}

/// After a header row: a row that starts the body — a code, or a 合计/总计 label standing alone
/// (a header row that starts with 合计 names several columns).
fn looks_like_first_data(l: &Line) -> bool {
    let texts: Vec<&str> = l
        .cells
        .iter()
        .filter(|c| !c.is_empty() && cell_kind(c) != CellKind::Number)
        .copied()
        .collect();
    let first = l.cells.iter().find(|c| !c.is_empty()).map_or("", |c| c);
    let f = fold(first);
    whole_code(first)
        || texts.len() == 1 && matches!(f.as_str(), "合计" | "总计" | "收入总计" | "支出总计")
}

/// One side of a placed row: code parts, label, and (leaf index, cell) amounts.
#[derive(Debug, Default, Clone)]
struct Side {
    code: [String; 3],
    label: String,
    amounts: Vec<(usize, String)>,
}

#[derive(Debug, Default, Clone)]
struct Placed {
    sides: Vec<Side>,
    /// A text cell that fits no label column (a label printed where the header has none).
    orphan: Option<String>,
    /// The row's amounts could not be placed: every amount column of the row is unreadable.
    unreadable_row: bool,
    /// Amount cells that fit no column.
    misfit: Vec<String>,
    reason: Option<String>,
}

struct RowReader<'a> {
    id: &'a str,
    unit: MeasureUnit,
    leaves: &'a [Leaf],
    width: usize,
    facts: Vec<Fact>,
    rows: Vec<RowLabel>,
    dashes: Vec<(String, String)>,
    unreadable: Vec<(String, String)>,
    unplaced: Vec<Unplaced>,
    /// Last 类 and 类+款 seen, for code cells left blank under a parent.
    last_code: [String; 2],
    /// Rows are economic classification items ([`CanonicalTable::economic_rows`]).
    economic: bool,
    /// The economic 类 of the last row keyed by an economic name (for its 款 names).
    econ_lei: Option<String>,
    /// A code row printed without amounts, whose amounts may follow on the next line.
    pending_code: Option<(String, String)>,
    /// Leaf indexes by role ([`CODE`], [`LABEL`], [`AMOUNT`]), in column order.
    by_role: [Vec<usize>; 3],
    /// Per leaf, (row, column) when the table is one line of amounts under repeated groups
    /// ([`grouped_columns`]).
    grouped: Option<Vec<(String, String)>>,
}

const CODE: usize = 0;
const LABEL: usize = 1;
const AMOUNT: usize = 2;

/// Leaf indexes by role, in column order.
fn by_role(leaves: &[Leaf]) -> [Vec<usize>; 3] {
    let of = |role: Role| {
        (0..leaves.len())
            .filter(|&i| leaves[i].role == role)
            .collect()
    };
    [of(Role::Code), of(Role::Label), of(Role::Amount)]
}

impl RowReader<'_> {
    /// Assigns the cells of one line to leaves and sides.
    fn place(&self, l: &Line) -> Placed {
        let cells: Vec<(usize, &str)> = l
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_empty())
            // A number under a 行次/栏次 header numbers the row: it is not an amount.
            .filter(|(p, c)| {
                !(code_like(c)
                    && self
                        .leaves
                        .iter()
                        .any(|x| x.role == Role::Skip && x.start == *p))
            })
            .map(|(p, c)| (p, *c))
            .collect();
        let mut out = Placed::default();
        if self.leaves.iter().all(|x| x.role != Role::Amount) {
            // No header to go by: codes, then a label, then amounts in printed order.
            let mut side = Side::default();
            for (k, (_, c)) in cells.iter().enumerate() {
                match cell_kind(c) {
                    CellKind::Number if k == 0 && whole_code(c) => side.code[0] = c.to_string(),
                    CellKind::Number | CellKind::Dash => side
                        .amounts
                        .push((usize::MAX - side.amounts.len(), c.to_string())),
                    _ if is_garbled_number(c) => side
                        .amounts
                        .push((usize::MAX - side.amounts.len(), c.to_string())),
                    _ => {
                        if side.label.is_empty() {
                            side.label = c.to_string();
                        }
                    }
                }
            }
            out.sides.push(side);
            return out;
        }
        let amount_leaves = &self.by_role[AMOUNT];
        let mut taken = vec![false; self.leaves.len()];
        // The cell placed in each leaf.
        let mut assigned: Vec<Option<&str>> = vec![None; self.leaves.len()];
        // The nearest free leaf among `candidates` (one role's leaves, in column order).
        let nearest =
            |pos: usize, candidates: &[usize], pred: &dyn Fn(usize) -> bool, taken: &[bool]| {
                candidates
                    .iter()
                    .copied()
                    .filter(|&i| pred(i) && !taken[i])
                    .min_by_key(|&i| (self.leaves[i].start.abs_diff(pos), self.leaves[i].start))
            };
        let has_code_leaf = !self.by_role[CODE].is_empty();
        let is_amount: Vec<bool> = cells
            .iter()
            .map(|&(p, c)| {
                let numeric = matches!(cell_kind(c), CellKind::Number | CellKind::Dash)
                    || is_garbled_number(c);
                let leading_code = p == cells[0].0 && whole_code(c);
                numeric
                    && !(code_like(c) && has_code_leaf && (leading_code || self.in_code_column(p)))
            })
            .collect();
        let amount_cells: Vec<(usize, &str)> = cells
            .iter()
            .zip(&is_amount)
            .filter(|(_, a)| **a)
            .map(|(c, _)| *c)
            .collect();
        // A row printed without blank cells and with fewer amounts than columns: which column is
        // missing cannot be known.
        let interior_blank = cells.windows(2).any(|w| w[1].0 > w[0].0 + 1);
        if !interior_blank
            && l.cells.len() < self.width
            && !amount_cells.is_empty()
            && amount_cells.len() < amount_leaves.len()
            && cells.len() > 1
            && cells[0].0 == 0
        {
            out.reason = Some(format!(
                "{} amounts for {} columns and no blank cells to place them",
                amount_cells.len(),
                amount_leaves.len()
            ));
            out.misfit = amount_cells.iter().map(|(_, c)| c.to_string()).collect();
            // The row exists; its amounts are unreadable (rules that need them do not apply).
            let mut side = Side::default();
            if whole_code(cells[0].1) {
                side.code[0] = cells[0].1.to_string();
            }
            side.label = cells
                .iter()
                .find(|(_, c)| cell_kind(c) != CellKind::Number)
                .map_or_else(String::new, |(_, c)| c.to_string());
            out.sides.push(side);
            out.unreadable_row = true;
            return out;
        }
        let mut last_amount_leaf: Option<usize> = None;
        // The label or code leaf last assigned: an amount belongs to the side of the label on its
        // left when that side has a free amount column (rows shifted after a page break).
        let mut last_label_leaf: Option<usize> = None;
        for (&(pos, c), &is_amount) in cells.iter().zip(&is_amount) {
            let leaf = if is_amount {
                let after = last_amount_leaf;
                let free = |i: usize| after.is_none_or(|a| i > a);
                let side_end = last_label_leaf.map(|l| {
                    (l + 1..self.leaves.len())
                        .find(|&j| {
                            matches!(self.leaves[j].role, Role::Label | Role::Code) && j > l + 1
                        })
                        .unwrap_or(self.leaves.len())
                });
                let in_side = match (last_label_leaf, side_end) {
                    (Some(l), Some(e)) => {
                        nearest(pos, amount_leaves, &|i| free(i) && i > l && i < e, &taken)
                    }
                    _ => None,
                };
                let global = nearest(pos, amount_leaves, &free, &taken);
                let dist = |i: Option<usize>| i.map(|i| self.leaves[i].start.abs_diff(pos));
                match (in_side, global) {
                    (Some(a), Some(_)) if dist(Some(a)) <= dist(global) => Some(a),
                    (_, g) => g.or(in_side),
                }
            } else if code_like(c)
                && has_code_leaf
                && (pos == cells[0].0 && whole_code(c) || self.in_code_column(pos))
            {
                nearest(pos, &self.by_role[CODE], &|_| true, &taken)
            } else {
                nearest(pos, &self.by_role[LABEL], &|_| true, &taken)
                    .or_else(|| nearest(pos, &self.by_role[CODE], &|_| true, &taken))
            };
            match leaf {
                Some(i) => {
                    taken[i] = true;
                    if is_amount {
                        last_amount_leaf = Some(i);
                    } else {
                        last_label_leaf = Some(i);
                    }
                    assigned[i] = Some(c);
                }
                None if is_amount => out.misfit.push(c.to_string()),
                None => {
                    if out.orphan.is_none() && !code_like(c) {
                        out.orphan = Some(c.to_string());
                    }
                }
            }
        }
        // More amounts than the header has room for, and one of them moved off the column it
        // stands under because that column was taken: no amount is shifted; each stays under its
        // own column (checked only for a row with a misfit, the rare case).
        let free = vec![
            false;
            if out.misfit.is_empty() {
                0
            } else {
                self.leaves.len()
            }
        ];
        let shifted = !out.misfit.is_empty()
            && cells.iter().zip(&is_amount).any(|(&(pos, c), &a)| {
                a && nearest(pos, amount_leaves, &|_| true, &free)
                    .is_some_and(|natural| assigned[natural] != Some(c))
            });
        if shifted {
            // Each amount goes to the column it stands under; of two under one column the
            // nearer keeps it (a tie: neither), and the other is unplaced with the reason.
            let mut best: Vec<Option<(usize, usize)>> = vec![None; self.leaves.len()];
            let mut tied = vec![false; self.leaves.len()];
            let amounts: Vec<(usize, &str)> = cells
                .iter()
                .zip(&is_amount)
                .filter(|(_, a)| **a)
                .map(|(c, _)| *c)
                .collect();
            for (k, &(pos, _)) in amounts.iter().enumerate() {
                let Some(leaf) = nearest(pos, amount_leaves, &|_| true, &free) else {
                    continue;
                };
                let d = self.leaves[leaf].start.abs_diff(pos);
                match best[leaf] {
                    None => best[leaf] = Some((d, k)),
                    Some((d0, _)) if d < d0 => {
                        best[leaf] = Some((d, k));
                        tied[leaf] = false;
                    }
                    Some((d0, _)) if d == d0 => tied[leaf] = true,
                    Some(_) => {}
                }
            }
            for &leaf in amount_leaves {
                assigned[leaf] = match best[leaf] {
                    Some((_, k)) if !tied[leaf] => Some(amounts[k].1),
                    _ => None,
                };
            }
            out.misfit = amounts
                .iter()
                .filter(|(_, c)| !amount_leaves.iter().any(|&l| assigned[l] == Some(*c)))
                .map(|(_, c)| c.to_string())
                .collect();
            out.reason = Some(
                "two amounts under one column: the one farther from it is not placed".to_string(),
            );
        }
        // Split into sides at each code/label leaf that follows an amount leaf.
        let mut side = Side::default();
        let mut code_slot = 0;
        let mut seen_amount = false;
        for (i, leaf) in self.leaves.iter().enumerate() {
            if leaf.role != Role::Amount && leaf.role != Role::Skip && seen_amount {
                out.sides.push(std::mem::take(&mut side));
                seen_amount = false;
                code_slot = 0;
            }
            let cell = assigned[i];
            match leaf.role {
                Role::Code => {
                    if let Some(c) = cell {
                        let slot = match leaf.key.as_str() {
                            "类" => 0,
                            "款" => 1,
                            "项" => 2,
                            _ => code_slot,
                        };
                        side.code[slot.min(2)] = c.to_string();
                    }
                    code_slot += 1;
                }
                Role::Label => {
                    if let Some(c) = cell {
                        if !side.label.is_empty() {
                            side.label.push(' ');
                        }
                        side.label.push_str(c);
                    }
                }
                Role::Amount => {
                    seen_amount = true;
                    if let Some(c) = cell {
                        side.amounts.push((i, c.to_string()));
                    }
                }
                Role::Skip => {}
            }
        }
        out.sides.push(side);
        out
    }

    /// «总计»/«合计» printed on both sides of a 收入|支出 table is two rows: 收入总计 and 支出总计,
    /// named by the side header above the row's amount columns.
    fn side_total(&self, key: String, side: &Side) -> String {
        if !matches!(key.as_str(), "总计" | "合计") {
            return key;
        }
        let top = side
            .amounts
            .first()
            .and_then(|(leaf, _)| self.leaves.get(*leaf))
            .and_then(|x| x.path.first());
        match top.map(String::as_str) {
            Some("收入" | "本年收入") => format!("收入{key}"),
            Some("支出" | "本年支出") => format!("支出{key}"),
            _ => key,
        }
    }

    /// The economic code of a row's first label, a 款 looked up under the last 类 first.
    fn economic_code(&mut self, label: &str) -> Option<String> {
        let first = label.split(' ').next().unwrap_or(label);
        let lists = codes::lists();
        let code = lists
            .economic_code_by_name(&label_key(first), self.econ_lei.as_deref())?
            .to_string();
        if code.len() == 3 {
            self.econ_lei = Some(code.clone());
        }
        Some(code)
    }

    /// True when the table has a column of classification codes.
    fn has_code_column(&self) -> bool {
        self.leaves.iter().any(|x| x.role == Role::Code)
    }

    /// True when the leaf nearest to position `pos` is a code column.
    fn in_code_column(&self, pos: usize) -> bool {
        self.leaves
            .iter()
            .filter(|x| x.role != Role::Skip)
            .min_by_key(|x| (x.start.abs_diff(pos), x.start))
            .is_some_and(|x| x.role == Role::Code)
    }

    fn emit(&mut self, l: &Line, p: &Placed, neighbours: (Option<&Placed>, Option<&Placed>)) {
        if !p.misfit.is_empty() {
            let reason = p
                .reason
                .clone()
                .unwrap_or_else(|| "more cells than the header has columns".to_string());
            self.unplaced.push(unplaced(
                l,
                format!("{}: {reason}: {}", self.id, p.misfit.join(" ")),
            ));
        }
        if p.unreadable_row {
            let side = &p.sides[0];
            let key = self.code_of(side).unwrap_or_else(|| label_key(&side.label));
            if !key.is_empty() {
                self.add_row(&key, &side.label, l);
                for leaf in self.leaves.iter().filter(|x| x.role == Role::Amount) {
                    self.unreadable.push((key.clone(), leaf.key.clone()));
                }
            }
            return;
        }
        let pending = self.pending_code.take();
        for (s, side) in p.sides.iter().enumerate() {
            let mut code = self.code_of(side);
            let mut label = side.label.clone();
            if code.is_none()
                && label.is_empty()
                && !side.amounts.is_empty()
                && let Some((c, l)) = pending.clone().filter(|_| s == 0)
            {
                // «204 公共安全支出» on one line, its amounts alone on the next.
                code = Some(c);
                label = l;
            }
            if code.is_some() && side.amounts.is_empty() && s == 0 {
                self.pending_code = code.clone().map(|c| (c, label.clone()));
            }
            if code.is_none() && label.is_empty() && !side.amounts.is_empty() {
                // A label broken over the rows around this one («2.政府性基金预» / «算»).
                let frag = |n: Option<&Placed>| {
                    n.and_then(|n| n.sides.get(s))
                        .filter(|x| x.amounts.is_empty())
                        .map(|x| x.label.clone())
                        .unwrap_or_default()
                };
                label = format!("{}{}", frag(neighbours.0), frag(neighbours.1));
                if label.is_empty() {
                    // A label cell merged across sides («当年支出小计» over two sides' columns).
                    label = p.sides[..s]
                        .iter()
                        .rev()
                        .find(|x| !x.label.is_empty())
                        .filter(|x| x.amounts.is_empty())
                        .map(|x| x.label.clone())
                        .unwrap_or_default();
                }
                if label.is_empty()
                    && let Some(o) = &p.orphan
                {
                    label = o.clone();
                }
                if label.is_empty()
                    && !self
                        .leaves
                        .iter()
                        .any(|x| matches!(x.role, Role::Label | Role::Code))
                {
                    // A table without row labels (one line of amounts under its header).
                    label = "合计".to_string();
                }
            }
            if side.amounts.is_empty() && code.is_none() && label.is_empty() {
                continue;
            }
            let key = match &code {
                Some(c) => c.clone(),
                // «基本工资 | 工资奖金津补贴» in an economic table without codes: the first
                // label names the item, 30101, as a coded table keys it.
                None if self.economic
                    && !self.has_code_column()
                    && let Some(c) = self.economic_code(&label) =>
                {
                    c
                }
                // «社会保障和就业支出» in a table without a code column (the summaries'
                // expenditure side) is the 类 208, as a coded table keys it.
                None if !label.is_empty()
                    && !self.has_code_column()
                    && let Some(c) = codes::lists().class_code_exact(&label_key(&label)) =>
                {
                    c.to_string()
                }
                None if !label.is_empty() && p.sides.len() > 1 => {
                    self.side_total(label_key(&label), side)
                }
                None if !label.is_empty() => label_key(&label),
                None => {
                    if !side.amounts.is_empty() {
                        self.unplaced.push(unplaced(
                            l,
                            format!("{}: amounts without a row label or code", self.id),
                        ));
                    }
                    continue;
                }
            };
            if side.amounts.is_empty()
                && code.is_none()
                && neighbours_have_amount_only(neighbours, s)
            {
                // A fragment of a broken label: its amounts are on the neighbouring row.
                continue;
            }
            if self.grouped.is_none() {
                self.add_row(&key, &label, l);
            }
            for (leaf, cell) in &side.amounts {
                let mut column = self
                    .leaves
                    .get(*leaf)
                    .map(|x| x.key.clone())
                    .unwrap_or_else(|| format!("第{}列", usize::MAX - leaf + 1));
                let mut key = key.clone();
                if let Some((row, col)) = self.grouped.as_ref().and_then(|g| g.get(*leaf)).cloned()
                {
                    // «预算数 | 合计 …  决算数 | 合计 …» over one line of amounts: the groups
                    // are the rows.
                    self.add_row(&row, &row, l);
                    (key, column) = (row, col);
                }
                match read_cell(cell) {
                    CellText::Number { value, .. } => {
                        // Past a cap the parse fails; nothing more is kept.
                        if crate::work::charge(crate::work::Item::Fact, l.raw.len()) {
                            self.facts.push(Fact {
                                table: self.id.to_string(),
                                row: key.clone(),
                                column,
                                value,
                                unit: self.unit,
                                source: Provenance {
                                    line: l.no,
                                    text: l.raw.to_string(),
                                },
                            })
                        }
                    }
                    CellText::Dash => self.dashes.push((key.clone(), column)),
                    CellText::Blank => {}
                    CellText::Other => {
                        self.unplaced.push(unplaced(
                            l,
                            format!(
                                "{} {key}|{column}: «{cell}» is not a readable amount",
                                self.id
                            ),
                        ));
                        self.unreadable.push((key.clone(), column));
                    }
                }
            }
        }
    }

    /// Records row `key` (first occurrence wins).
    fn add_row(&mut self, key: &str, label: &str, l: &Line) {
        if !self.rows.iter().any(|r| r.key == key) {
            self.rows.push(RowLabel {
                key: key.to_string(),
                label: label.to_string(),
                note: None,
                line: l.no,
                subtotal: false,
            });
        }
    }

    /// The full code of a side, filling parts left blank under a parent.
    fn code_of(&mut self, side: &Side) -> Option<String> {
        let [a, b, c] = &side.code;
        if a.is_empty() && b.is_empty() && c.is_empty() {
            return None;
        }
        if b.is_empty() && c.is_empty() {
            // One cell: a whole code (201, 20103, 2010301) or a 类.
            if a.len() == 3 {
                self.last_code = [a.clone(), String::new()];
            } else if a.len() == 5 {
                self.last_code = [a[..3].to_string(), a.clone()];
            }
            return Some(a.clone());
        }
        let pad = |s: &str| {
            if s.len() == 1 {
                format!("0{s}")
            } else {
                s.to_string()
            }
        };
        let lei = if a.is_empty() {
            self.last_code[0].clone()
        } else {
            a.clone()
        };
        if c.is_empty() {
            let code = format!("{lei}{}", pad(b));
            self.last_code = [lei, code.clone()];
            return Some(code);
        }
        let kuan = if b.is_empty() {
            self.last_code[1].clone()
        } else {
            format!("{lei}{}", pad(b))
        };
        self.last_code = [lei, kuan.clone()];
        Some(format!("{kuan}{}", pad(c)))
    }
}

fn neighbours_have_amount_only(n: (Option<&Placed>, Option<&Placed>), s: usize) -> bool {
    [n.0, n.1].iter().any(|p| {
        p.and_then(|p| p.sides.get(s)).is_some_and(|x| {
            x.label.is_empty() && x.code.iter().all(String::is_empty) && !x.amounts.is_empty()
        })
    })
}

/// Reads the TAB row runs outside every table region as uncatalogued tables: a layout nobody
/// described is still read, from its nearest title-like line and its header. Returns
/// (region start, region end, table id, title) per run.
pub(crate) fn loose_runs(lines: &[Line], in_table: &[bool]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if crate::work::step(1) {
            break;
        }
        if in_table[i] || !is_row(&lines[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut has_number = false;
        while j < lines.len()
            && !in_table[j]
            && (is_row(&lines[j]) || lines[j].text.trim().is_empty())
        {
            // An amount, not a page number of a table of contents.
            has_number |= lines[j].cells.iter().any(|c| amount_over(c, 100, false));
            j += 1;
        }
        if has_number {
            // The title: the nearest short line above that names a table (…表), within 6
            // lines, else the nearest short line.
            let above = || {
                (i.saturating_sub(6)..i)
                    .rev()
                    .map(|k| lines[k].text.trim())
                    .filter(|t| !t.is_empty() && t.chars().count() <= 60)
            };
            let title = above()
                .find(|t| t.contains('表'))
                .or_else(|| above().next())
                .unwrap_or("")
                .to_string();
            out.push((i, j, title));
        }
        i = j.max(i + 1);
    }
    out
}
