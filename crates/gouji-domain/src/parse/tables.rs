//! Finding tables in the text and reading each layout into facts.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::text::{fold, fold_cow, folded_first_char, has, strip_ordinal};
use super::{Line, unplaced};
use crate::amount::{CellKind, CellText, MeasureUnit, cell_kind, read_cell};
use crate::codes::{self, Level};
use crate::model::{Fact, Provenance, RowLabel, Table, Unplaced};
use crate::template::{Family, Layout, RowSpec, TableTemplate};

/// Where a table starts.
#[derive(Debug, Clone)]
pub(crate) struct TableStart {
    pub(crate) line_idx: usize,
    pub(crate) table_id: String,
}

static NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:预算公开表|公开表|公开|表)\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*表?")
        .expect("static regex")
});
/// Characters a [`NUMBER_RE`] match starts with.
const NUMBER_FIRST: &[char] = &['预', '公', '表'];
/// (table id, folded title) pairs of one template family.
type FoldedTitles = Vec<(&'static str, String)>;

/// Folded table titles of every template family, folded once: (family id, titles).
static FOLDED_TITLES: LazyLock<Vec<(&'static str, FoldedTitles)>> = LazyLock::new(|| {
    crate::template::families()
        .iter()
        .map(|f| {
            let titles = f
                .tables
                .iter()
                .flat_map(|t| t.titles.iter().map(|title| (t.id.as_str(), fold(title))))
                .collect();
            (f.family.as_str(), titles)
        })
        .collect()
});

static YEAR_PREFIX_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\(?[0-9]{4}年度?\)?").expect("static regex"));
/// «单位：万元» / «单位:元» (also «金额单位：万元»), shared by both table readers.
pub(crate) static UNIT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"单位\s*[:：]\s*(万元|元|亿元)").expect("static regex"));
static ENTITY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:部门名称|单位名称|编制单位|编制部门)\s*[:：]\s*([^\s\t]+)")
        .expect("static regex")
});

fn chinese_number(s: &str) -> Option<u32> {
    let digit = |c: char| "一二三四五六七八九".find(c).map(|i| (i / 3) as u32 + 1);
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', c] => digit(*c).map(|d| 10 + d),
        [a, '十'] => digit(*a).map(|d| d * 10),
        [a, '十', b] => Some(digit(*a)? * 10 + digit(*b)?),
        _ => None,
    }
}

/// The table id a 表号 token names in this family («公开01表» → 公开01, «表一» → 表1).
fn id_from_number(token: &str, family: &Family) -> Option<String> {
    let n: u32 = token.parse().ok().or_else(|| chinese_number(token))?;
    let budget = family.kind() == crate::model::ReportKind::Budget;
    let id = if budget {
        format!("表{n}")
    } else {
        format!("公开{n:02}")
    };
    family.table(&id).map(|t| t.id.clone())
}

/// True when `f` contains «。», «,» or «…».
fn has_prose_punctuation(f: &str) -> bool {
    let b = f.as_bytes();
    // «。» is E3 80 82 and «…» is E2 80 A6 in UTF-8: look for their last bytes, then check.
    memchr::memchr(b',', b).is_some()
        || memchr::memchr2_iter(0x82, 0xA6, b)
            .any(|p| p >= 2 && matches!(&b[p - 2..=p], [0xE3, 0x80, 0x82] | [0xE2, 0x80, 0xA6]))
}

/// The best title match of a line: (table id, matched title length). Only the start of the line
/// (after a 表号 and a year) may hold the title; prose lines never match.
fn match_title(line: &Line, family: &Family) -> Option<(String, usize)> {
    let f = &line.folded;
    if has_prose_punctuation(f) || has(f, "...") || has(f, "情况说明") {
        return None;
    }
    let first_cell = fold_cow(line.cells.first().copied().unwrap_or(""));
    let mut head = strip_ordinal(&first_cell);
    // The regexes only run where their first character allows a match.
    if head.starts_with(NUMBER_FIRST)
        && let Some(m) = NUMBER_RE.find(head)
    {
        head = &head[m.end()..];
    }
    if head.starts_with(|c: char| c == '(' || c.is_ascii_digit())
        && let Some(m) = YEAR_PREFIX_RE.find(head)
    {
        head = &head[m.end()..];
    }
    let titles = FOLDED_TITLES
        .iter()
        .find(|(id, _)| *id == family.family)
        .map(|(_, t)| t.as_slice())
        .unwrap_or(&[]);
    let mut best: Option<(&str, usize)> = None;
    // Titles sit at the very start (at most 3 bytes in); a glued «部门：…» may follow.
    let starts = (0..=3.min(head.len()))
        .filter(|&p| head.is_char_boundary(p))
        .map(|p| &head[p..]);
    for (id, title) in titles {
        if starts.clone().any(|h| h.starts_with(title.as_str()))
            && best.is_none_or(|(_, len)| title.len() > len)
        {
            best = Some((id, title.len()));
        }
    }
    best.map(|(id, len)| (id.to_string(), len))
}

/// A «公开01表» / «预算公开表1» / «表一» token at the start of a line.
fn match_number(line: &Line, family: &Family) -> Option<String> {
    let cell = line.cells.first().copied().unwrap_or("");
    if !folded_first_char(cell).is_some_and(|c| NUMBER_FIRST.contains(&c)) {
        return None;
    }
    let first = fold_cow(cell);
    let caps = NUMBER_RE.captures(&first)?;
    // «表1\t收入支出决算总表\t否» is a table-of-contents row, not a table.
    if line.cells.len() >= 3 && line.cells.iter().any(|c| *c == "是" || *c == "否") {
        return None;
    }
    let rest = &first[caps.get(0)?.end()..];
    // «表1 收入…» with prose after it is not a 表号 line unless the rest is a title or unit line.
    if !rest.is_empty()
        && !rest.starts_with("单位")
        && !rest.starts_with('(')
        && match_title(line, family).is_none()
        && rest.chars().count() > 2
    {
        return None;
    }
    id_from_number(caps.get(1)?.as_str(), family)
}

/// True for a line that can carry table cells.
fn is_body_line(line: &Line) -> bool {
    !line.noise && line.cells.iter().filter(|c| !c.is_empty()).count() >= 2
}

/// Finds table starts: title and/or 表号 events that are followed by a table body before the next
/// event. Table-of-contents entries have no body and are dropped.
pub(crate) fn find_table_starts(lines: &[Line], family: &Family) -> Vec<TableStart> {
    #[derive(Debug)]
    struct Event {
        idx: usize,
        id: String,
    }
    let mut events: Vec<Event> = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        if crate::work::step(1) {
            break;
        }
        if line.noise {
            continue;
        }
        let by_number = match_number(line, family);
        let by_title = match_title(line, family).map(|(id, _)| id);
        match (by_number, by_title) {
            (Some(n), _) => events.push(Event { idx, id: n }),
            (None, Some(t)) => events.push(Event { idx, id: t }),
            _ => {}
        }
    }
    // Merge a title and a 表号 for the same table within a few lines («收入决算表 / 公开02 / 表»).
    let mut merged: Vec<Event> = Vec::new();
    for e in events {
        if let Some(last) = merged.last() {
            let close =
                e.idx - last.idx <= 6 && !lines[last.idx + 1..e.idx].iter().any(is_data_like);
            if close && last.id == e.id {
                continue;
            }
            // A 表号 right after a different title: the number wins (titles vary more than numbers).
            if close
                && match_number(&lines[e.idx], family).is_some()
                && match_number(&lines[last.idx], family).is_none()
            {
                let idx = last.idx;
                merged.pop();
                merged.push(Event { idx, id: e.id });
                continue;
            }
        }
        merged.push(e);
    }
    // Keep events that have a body before the next event.
    let mut starts = Vec::new();
    for (i, e) in merged.iter().enumerate() {
        let next = merged.get(i + 1).map(|n| n.idx).unwrap_or(lines.len());
        let next = region_end(lines, e.idx, next).min(e.idx + 40);
        let has_body = lines[e.idx..next].iter().enumerate().any(|(k, l)| {
            (k > 0 || l.cells.len() > 2)
                && is_body_line(l)
                && !is_toc_line(l)
                && !has(&l.folded, "...")
        });
        if has_body {
            starts.push(TableStart {
                line_idx: e.idx,
                table_id: e.id.clone(),
            });
        }
    }
    starts
}

fn is_data_like(l: &Line) -> bool {
    is_body_line(l)
        && l.cells
            .iter()
            .filter(|c| cell_kind(c) == CellKind::Number)
            .count()
            >= 2
}

fn is_toc_line(l: &Line) -> bool {
    l.cells.len() >= 3
        && l.cells.iter().any(|c| *c == "是" || *c == "否")
        && l.cells.iter().filter(|c| !c.is_empty()).count() <= 4
}

/// Reads a 目录 with «是否空表 / 表格为空的理由»: table id → reason, for tables declared empty.
pub(crate) fn read_toc_declarations(lines: &[Line], family: &Family) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for l in lines.iter().filter(|l| is_toc_line(l)) {
        if crate::work::step(1) {
            break;
        }
        let Some(flag_idx) = l.cells.iter().position(|c| *c == "是") else {
            continue;
        };
        let title_cell = [l.cells.get(1).copied().unwrap_or_default()];
        let title_line = Line {
            cells: &title_cell,
            ..l.clone()
        };
        let id = match_title(&title_line, family)
            .map(|(id, _)| id)
            .or_else(|| {
                match_number(
                    &Line {
                        cells: std::slice::from_ref(&l.cells[0]),
                        ..l.clone()
                    },
                    family,
                )
            });
        if let Some(id) = id {
            let reason = l
                .cells
                .get(flag_idx + 1)
                .filter(|r| !r.is_empty())
                .map(|r| r.to_string())
                .unwrap_or_else(|| "是否空表：是".into());
            out.insert(id, reason);
        }
    }
    out
}

/// Where a table region really ends: at a 第X部分 heading or at prose, whichever comes first.
pub(crate) fn region_end(lines: &[Line], start: usize, end: usize) -> usize {
    for (k, l) in lines.iter().enumerate().take(end).skip(start + 1) {
        let f = &l.folded;
        if f.starts_with("第") && has(f, "部分") && f.chars().count() < 30 {
            return k;
        }
        let prose = !l.text.contains('\t')
            && l.text.chars().count() > 30
            && (f.contains('。') || f.contains(','));
        if prose && !has(f, "本表") && !f.starts_with("注") && !f.starts_with("说明") {
            return k;
        }
    }
    end
}

/// The result of reading one table region.
pub(crate) struct TableRead {
    pub(crate) table: Table,
    pub(crate) facts: Vec<Fact>,
    pub(crate) unplaced: Vec<Unplaced>,
}

struct Reader<'a> {
    tpl: &'a TableTemplate,
    unit: MeasureUnit,
    facts: Vec<Fact>,
    rows: Vec<RowLabel>,
    dashes: Vec<(String, String)>,
    unreadable: Vec<(String, String)>,
    unplaced: Vec<Unplaced>,
}

impl Reader<'_> {
    /// Records row `key` (first occurrence wins) and returns its index in `rows`.
    fn row(&mut self, key: &str, label: &str, line: &Line) -> usize {
        // Tables have few rows: a scan is cheaper than hashing every key.
        if let Some(i) = self.rows.iter().position(|r| r.key == key) {
            return i;
        }
        let i = self.rows.len();
        self.rows.push(RowLabel {
            key: key.to_string(),
            label: label.to_string(),
            note: None,
            line: line.no,
            subtotal: false,
        });
        i
    }

    /// Reads `cells` as the amounts of `columns` for row `key`.
    fn amounts(
        &mut self,
        key: &str,
        columns: &[String],
        cells: &[&str],
        line: &Line,
        unit: MeasureUnit,
    ) {
        for (col, cell) in columns.iter().zip(cells.iter()) {
            self.cell(key, col, cell, line, unit);
        }
        for extra in cells.iter().skip(columns.len()) {
            if cell_kind(extra) == CellKind::Number {
                self.unplaced.push(unplaced(
                    line,
                    format!(
                        "{}: more cells than the template's {} columns in row {key}: {extra}",
                        self.tpl.id,
                        columns.len()
                    ),
                ));
            }
        }
    }

    fn cell(&mut self, key: &str, col: &str, cell: &str, line: &Line, unit: MeasureUnit) {
        match read_cell(cell) {
            CellText::Number { value, .. } => {
                // Past a cap the parse fails; nothing more is kept.
                if crate::work::charge(crate::work::Item::Fact, line.raw.len()) {
                    self.facts.push(Fact {
                        table: self.tpl.id.clone(),
                        row: key.to_string(),
                        column: col.to_string(),
                        value,
                        unit,
                        source: Provenance {
                            line: line.no,
                            text: line.raw.to_string(),
                        },
                    })
                }
            }
            CellText::Dash => self.dashes.push((key.to_string(), col.to_string())),
            CellText::Blank => {}
            CellText::Other => {
                self.unreadable.push((key.to_string(), col.to_string()));
                self.unplaced.push(unplaced(
                    line,
                    format!(
                        "{} {key}|{col}: «{cell}» is not a readable amount",
                        self.tpl.id
                    ),
                ))
            }
        }
    }

    fn has_number(cells: &[&str]) -> bool {
        cells.iter().any(|c| cell_kind(c) == CellKind::Number)
    }
}

/// A 栏次 line: «栏次 1 2 3», its OCR variants («档次»), consecutive column numbers «1 2 3 … n», or a
/// header row whose first cell is a header word.
fn is_column_number_line(l: &Line) -> bool {
    const HEADER_WORDS: &[&str] = &[
        "栏次",
        "科目代码",
        "科目编码",
        "科目名称",
        "项目",
        "项目名称",
        "单位名称",
        "收入科目编码",
        "部门预算支出经济科目名称",
    ];
    if has(&l.folded, "栏次") {
        return true;
    }
    let first = fold_cow(l.cells.first().copied().unwrap_or(""));
    if HEADER_WORDS.contains(&first.as_ref()) {
        return true;
    }
    // Column numbers 1, 2, 3 … (at least two), every other cell a short label.
    let mut nums = 0;
    for c in l.cells {
        if let Ok(n) = c.trim().parse::<usize>() {
            if n != nums + 1 {
                return false;
            }
            nums += 1;
        }
    }
    nums >= 2
        && l.cells
            .iter()
            .filter(|c| !c.is_empty() && c.trim().parse::<usize>().is_err())
            .all(|c| c.chars().count() <= 3)
}

/// A header line with nothing but small integers as numbers (column numbers, OCR debris).
fn only_small_integers(cells: &[&str]) -> bool {
    cells.iter().all(|c| match read_cell(c) {
        CellText::Number { value, text } => {
            !text.contains('.')
                && value >= rust_decimal::Decimal::ZERO
                && value <= rust_decimal::Decimal::from(20)
        }
        _ => true,
    })
}

/// Reads one table region (its first line is the title or 表号 line).
pub(crate) fn read_table(
    region: &[Line],
    tpl: &TableTemplate,
    doc_unit: MeasureUnit,
    at_eof: bool,
) -> TableRead {
    let title_line = &region[0];
    let mut unit = doc_unit;
    let mut entity = None;
    let mut empty_reason = None;
    let mut after_note = false;
    let mut body: Vec<&Line> = Vec::new();
    for (k, l) in region.iter().enumerate() {
        if l.noise {
            continue;
        }
        // UNIT_RE needs 单位; ENTITY_RE needs 名称 or 编制.
        if let Some(c) = has(l.text, "单位")
            .then(|| UNIT_RE.captures(l.text))
            .flatten()
            && let Some(u) = MeasureUnit::from_label(&c[1])
        {
            unit = u;
        }
        if let Some(c) = (has(l.text, "名称") || has(l.text, "编制"))
            .then(|| ENTITY_RE.captures(l.text))
            .flatten()
        {
            entity.get_or_insert_with(|| c[1].to_string());
        }
        let f = &l.folded;
        if has(f, "本表无数据") || has(f, "空表") || has(f, "无此项") {
            empty_reason = Some(
                f.trim_start_matches("说明:")
                    .trim_start_matches("注:")
                    .to_string(),
            );
        }
        if f.starts_with("注:")
            || f.starts_with("注1")
            || f.starts_with("说明:")
            || f.starts_with("注") && f.len() <= 6
        {
            after_note = true;
        }
        if k == 0 && l.cells.len() <= 2 || after_note {
            continue;
        }
        body.push(l);
    }
    let mut r = Reader {
        tpl,
        unit,
        facts: Vec::new(),
        rows: Vec::new(),
        dashes: Vec::new(),
        unreadable: Vec::new(),
        unplaced: Vec::new(),
    };
    match tpl.layout {
        Layout::Master => read_master(&mut r, &body),
        Layout::Coded => read_coded(&mut r, &body),
        Layout::EconGroups => read_econ_groups(&mut r, &body),
        Layout::EconNamed => read_econ_named(&mut r, &body),
        Layout::Sangong => read_sangong(&mut r, &body),
        Layout::Items => read_items(&mut r, &body),
    }
    if at_eof
        && !after_note
        && let Some(last) = body.iter().rev().find(|l| is_body_line(l))
        && r.facts.last().is_some_and(|f| f.source.line == last.no)
        && last.cells.len() < expected_width(tpl)
    {
        r.unplaced.push(unplaced(
            last,
            format!(
                "{}: document ends inside the table; the last row looks cut off",
                tpl.id
            ),
        ));
    }
    if empty_reason.is_some() && !r.facts.is_empty() && r.facts.iter().any(|f| !f.value.is_zero()) {
        // A table that states it is empty but prints amounts: keep both, the rules flag it.
    }
    let table = Table {
        id: tpl.id.clone(),
        title: title_line
            .text
            .split('\t')
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        unit: r.unit,
        empty_reason,
        line: title_line.no,
        rows: r.rows,
        dashes: r.dashes,
        entity,
        unreadable: r.unreadable,
        printed_number: None,
    };
    TableRead {
        table,
        facts: r.facts,
        unplaced: r.unplaced,
    }
}

fn expected_width(tpl: &TableTemplate) -> usize {
    match tpl.layout {
        Layout::Master => {
            2 + usize::from(tpl.left_line_no)
                + usize::from(tpl.right_line_no)
                + tpl.left_columns.len()
                + tpl.right_columns.len()
        }
        Layout::Coded | Layout::EconNamed => 2 + tpl.columns.len(),
        Layout::Items => 1 + usize::from(tpl.line_no) + tpl.columns.len(),
        Layout::EconGroups | Layout::Sangong => 1,
    }
}

/// Sequential row matching: the first unused row at or after `from` whose pattern the label
/// contains; wraps around once so that reordered rows still match.
fn match_row<'a>(
    rows: &'a [RowSpec],
    used: &mut [bool],
    from: &mut usize,
    label: &str,
) -> Option<&'a RowSpec> {
    let folded = fold(strip_ordinal(label));
    let n = rows.len();
    for step in 0..n {
        let j = (*from + step) % n;
        if used[j] {
            continue;
        }
        if rows[j].folded.iter().any(|p| folded.contains(p.as_str())) {
            used[j] = true;
            *from = j + 1;
            return Some(&rows[j]);
        }
    }
    None
}

/// A row label: text that is neither a number nor a garbled number («278l.88» is an unreadable
/// amount, not the label of the right-hand side).
fn is_label(c: &str) -> bool {
    cell_kind(c) == CellKind::Other && !super::generic::is_garbled_number(c)
}

fn read_master(r: &mut Reader<'_>, body: &[&Line]) {
    let tpl = r.tpl;
    let (lln, rln) = (
        usize::from(tpl.left_line_no),
        usize::from(tpl.right_line_no),
    );
    let mut left_used = vec![false; tpl.left_rows.len()];
    let mut right_used = vec![false; tpl.right_rows.len()];
    let (mut left_from, mut right_from) = (0, 0);
    for line in body {
        let cells = &line.cells;
        if is_column_number_line(line)
            || !Reader::has_number(cells) && cells.iter().all(|c| !c.contains("合计"))
        {
            continue;
        }
        let left_label = cells
            .first()
            .filter(|c| is_label(c))
            .cloned()
            .unwrap_or_default();
        let right_idx = cells
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, c)| is_label(c))
            .map(|(i, _)| i);
        let left_width = 1 + lln + tpl.left_columns.len();
        let left_end = right_idx.unwrap_or(cells.len()).min(left_width);
        if right_idx.is_none() {
            // No right label: only a right-side 行次 may follow; anything else is unplaced.
            let rest = cells.get(left_width + 1 + rln..).unwrap_or(&[]);
            if Reader::has_number(rest) {
                r.unplaced.push(unplaced(
                    line,
                    format!("{}: right-side amounts without a row label", tpl.id),
                ));
            }
        }
        if !left_label.is_empty() {
            let amounts = cells.get(1 + lln..left_end).unwrap_or(&[]);
            match match_row(&tpl.left_rows, &mut left_used, &mut left_from, left_label) {
                Some(spec) => {
                    let key = spec.key.clone();
                    r.row(&key, left_label, line);
                    r.amounts(&key, &tpl.left_columns, amounts, line, r.unit);
                }
                None if Reader::has_number(amounts) => r.unplaced.push(unplaced(
                    line,
                    format!(
                        "{}: left-side row «{left_label}» is not in the template",
                        tpl.id
                    ),
                )),
                None => {}
            }
        }
        if let Some(ri) = right_idx {
            let label = &cells[ri];
            let amounts = cells.get(ri + 1 + rln..).unwrap_or(&[]);
            let stripped = strip_ordinal(label);
            let class = if tpl.right_classes {
                codes::lists().class_code_by_name(stripped)
            } else {
                None
            };
            let key = match class {
                Some(code)
                    if !fold(stripped).contains("合计") && !fold(stripped).contains("总计") =>
                {
                    Some(code.to_string())
                }
                _ => match_row(&tpl.right_rows, &mut right_used, &mut right_from, label)
                    .map(|s| s.key.clone()),
            };
            match key {
                Some(key) => {
                    r.row(&key, label, line);
                    r.amounts(&key, &tpl.right_columns, amounts, line, r.unit);
                }
                None if Reader::has_number(amounts) => r.unplaced.push(unplaced(
                    line,
                    format!(
                        "{}: right-side row «{label}» is not in the template",
                        tpl.id
                    ),
                )),
                None => {}
            }
        }
    }
}

/// Parses the code cells at the start of a coded row. Returns (code, name, index of the first
/// amount cell), handling one 7-digit cell, three 类/款/项 cells, a code glued to its name, and
/// 合计 rows with or without empty code cells.
fn coded_row(
    cells: &[&str],
    three: bool,
    ctx: &mut (String, String),
) -> Option<(String, String, usize)> {
    let c0 = cells.first().copied().unwrap_or("");
    let c1 = cells.get(1).copied().unwrap_or("");
    let is_total = |s: &str| matches!(fold_cow(s).as_ref(), "合计" | "总计" | "本年合计");
    if three
        && let Some(idx) = cells.iter().take(4).position(|c| !c.is_empty())
        && is_total(cells[idx])
    {
        return Some(("合计".into(), "合计".into(), (idx + 1).max(4)));
    }
    if is_total(c0) || (c0.is_empty() && is_total(c1)) {
        let start = if is_total(c0)
            && !c1.is_empty()
            && !is_total(c1)
            && cell_kind(c1) != CellKind::Other
        {
            // «合计\t2781.88\t…» with the name cell merged away.
            if cell_kind(c1) == CellKind::Number {
                1
            } else {
                2
            }
        } else {
            2
        };
        return Some(("合计".into(), "合计".into(), start));
    }
    if three {
        let digits = |s: &str, n: usize| {
            !s.is_empty() && s.len() <= n && s.bytes().all(|b| b.is_ascii_digit())
        };
        let c2 = cells.get(2).copied().unwrap_or("");
        if !(digits(c0, 3) && c0.len() == 3 || digits(c1, 2) || digits(c2, 2)) {
            return None;
        }
        if digits(c0, 3) && c0.len() == 3 {
            ctx.0 = c0.to_string();
            ctx.1.clear();
        }
        let lei = ctx.0.clone();
        let mut code = lei.clone();
        if digits(c1, 2) {
            ctx.1 = format!("{lei}{:0>2}", c1);
            code = ctx.1.clone();
        }
        if digits(c2, 2) {
            let kuan = if ctx.1.is_empty() {
                lei.clone()
            } else {
                ctx.1.clone()
            };
            code = format!("{kuan}{:0>2}", c2);
        }
        if code.is_empty() || codes::functional_level(&code).is_none() {
            return None;
        }
        return Some((
            code,
            cells.get(3).copied().unwrap_or_default().to_string(),
            4,
        ));
    }
    if codes::functional_level(c0).is_some() || codes::economic_level(c0).is_some() && c0.len() == 3
    {
        return Some((c0.to_string(), c1.to_string(), 2));
    }
    // «2101501 行政运行» in one cell.
    let digits: String = c0.chars().take_while(|c| c.is_ascii_digit()).collect();
    if codes::functional_level(&digits).is_some() {
        let name = c0[digits.len()..].trim().to_string();
        if !name.is_empty() {
            return Some((digits, name, 1));
        }
    }
    None
}

fn read_coded(r: &mut Reader<'_>, body: &[&Line]) {
    let tpl = r.tpl;
    let three = body.iter().any(|l| {
        let c = &l.cells;
        (c.len() > 3
            && c[0].len() == 3
            && c[0].bytes().all(|b| b.is_ascii_digit())
            && !c[1].is_empty()
            && c[1].len() <= 2
            && c[1].bytes().all(|b| b.is_ascii_digit()))
            || has(&l.folded, "类\t款\t项")
            || (c.len() >= 3 && fold(c[0]) == "类" && fold(c[1]) == "款")
    });
    let mut ctx = (String::new(), String::new());
    for line in body {
        if is_column_number_line(line) {
            continue;
        }
        match coded_row(line.cells, three, &mut ctx) {
            Some((code, name, start)) => {
                let key = code;
                r.row(&key, &name, line);
                let amounts = line.cells.get(start..).unwrap_or(&[]);
                r.amounts(&key, &tpl.columns, amounts, line, r.unit);
            }
            None => {
                let cells = &line.cells;
                if Reader::has_number(cells.get(1..).unwrap_or(&[]))
                    && is_label(cells.first().copied().unwrap_or(""))
                {
                    r.unplaced.push(unplaced(
                        line,
                        format!("{}: row has no 功能分类 code or 合计 label", tpl.id),
                    ));
                } else if Reader::has_number(cells)
                    && !is_label(cells.first().copied().unwrap_or("x"))
                {
                    r.unplaced.push(unplaced(
                        line,
                        format!("{}: amounts without a row label", tpl.id),
                    ));
                }
            }
        }
    }
}

fn read_econ_groups(r: &mut Reader<'_>, body: &[&Line]) {
    let col = r
        .tpl
        .columns
        .first()
        .cloned()
        .unwrap_or_else(|| "决算数".into());
    for line in body {
        let cells = &line.cells;
        let mut i = 0;
        while i < cells.len() {
            let c = cells[i];
            let f = fold(c);
            if f.contains("人员经费合计") || f.contains("公用经费合计") {
                let key = if f.contains("人员") {
                    "人员经费合计"
                } else {
                    "公用经费合计"
                };
                r.row(key, key, line);
                let mut j = i + 1;
                while j < cells.len() && !is_label(cells[j]) {
                    if !cells[j].is_empty() {
                        r.cell(key, &col, cells[j], line, r.unit);
                        break;
                    }
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            if codes::economic_level(c).is_some() {
                let name = cells.get(i + 1).cloned().unwrap_or_default();
                let amount = cells.get(i + 2).cloned().unwrap_or_default();
                r.row(c, name, line);
                r.cell(c, &col, amount, line, r.unit);
                i += 3;
                continue;
            }
            if cell_kind(c) == CellKind::Number && !is_column_number_line(line) {
                r.unplaced.push(unplaced(
                    line,
                    format!("{}: amount «{c}» without an economic code", r.tpl.id),
                ));
            }
            i += 1;
        }
    }
}

fn read_econ_named(r: &mut Reader<'_>, body: &[&Line]) {
    let tpl = r.tpl;
    let lists = codes::lists();
    let mut current_lei: Option<String> = None;
    for line in body {
        let cells = &line.cells;
        if is_column_number_line(line) || !Reader::has_number(cells) {
            continue;
        }
        let name = cells.first().copied().unwrap_or_default().to_string();
        let start =
            if cells.len() >= tpl.columns.len() + 2 || cells.get(1).is_some_and(|c| is_label(c)) {
                2
            } else {
                1
            };
        let note = cells
            .get(1)
            .filter(|c| start == 2 && !c.is_empty())
            .map(|c| c.to_string());
        let key = if matches!(fold(&name).as_str(), "合计" | "总计") {
            Some("合计".to_string())
        } else if lists.is_econ_lei_name(&name) {
            let code = lists.economic_code_by_name(&name, None).map(str::to_string);
            current_lei = code.clone();
            code
        } else if let Some(code) = codes::economic_level(&name).map(|_| name.clone()) {
            Some(code)
        } else {
            lists
                .economic_code_by_name(&name, current_lei.as_deref())
                .map(str::to_string)
        };
        match key {
            Some(key) => {
                let i = r.row(&key, &name, line);
                r.rows[i].note = note;
                r.amounts(
                    &key,
                    &tpl.columns,
                    cells.get(start..).unwrap_or(&[]),
                    line,
                    r.unit,
                );
            }
            None => r.unplaced.push(unplaced(
                line,
                format!("{}: economic item «{name}» is not in the code list", tpl.id),
            )),
        }
    }
}

fn read_sangong(r: &mut Reader<'_>, body: &[&Line]) {
    let tpl = r.tpl;
    let n = tpl.columns.len();
    for line in body {
        let cells = &line.cells;
        if is_column_number_line(line) || !Reader::has_number(cells) {
            continue;
        }
        let first = fold(cells.first().copied().unwrap_or(""));
        if first.contains("预算") || first.contains("决算") {
            let key = if first.contains("预算") {
                "预算数"
            } else {
                "决算数"
            };
            r.row(key, cells[0], line);
            r.amounts(
                key,
                &tpl.columns,
                cells.get(1..).unwrap_or(&[]),
                line,
                r.unit,
            );
        } else if cells.iter().all(|c| !is_label(c)) {
            // One row, 预算数 then 决算数 side by side.
            r.row("预算数", "预算数", line);
            r.row("决算数", "决算数", line);
            r.amounts(
                "预算数",
                &tpl.columns,
                &cells[..n.min(cells.len())],
                line,
                r.unit,
            );
            r.amounts(
                "决算数",
                &tpl.columns,
                cells.get(n..).unwrap_or(&[]),
                line,
                r.unit,
            );
        } else if !only_small_integers(cells) {
            r.unplaced.push(unplaced(
                line,
                format!("{}: row is neither 预算数 nor 决算数", tpl.id),
            ));
        }
    }
}

/// Unit/department subtotal rows in project tables: labels that name an organisation.
fn is_org_label(label: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "局",
        "中心",
        "委员会",
        "办公室",
        "院",
        "所",
        "站",
        "队",
        "馆",
        "本级",
        "部门合计",
        "单位合计",
    ];
    let f = fold(label);
    !f.ends_with('费') && !f.ends_with("资金") && SUFFIXES.iter().any(|s| f.ends_with(s))
        || f == "合计"
}

fn read_items(r: &mut Reader<'_>, body: &[&Line]) {
    let tpl = r.tpl;
    let mut used = vec![false; tpl.rows.len()];
    let mut from = 0;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in body {
        let cells = &line.cells;
        if is_column_number_line(line) || !Reader::has_number(cells) {
            continue;
        }
        let (label_idx, label) = match cells.iter().enumerate().find(|(_, c)| !c.is_empty()) {
            Some((i, c)) if is_label(c) => (i, *c),
            _ => {
                r.unplaced.push(unplaced(
                    line,
                    format!("{}: amounts without a row label", tpl.id),
                ));
                continue;
            }
        };
        let start = label_idx + 1 + usize::from(tpl.line_no);
        let amounts = cells.get(start..).unwrap_or(&[]);
        if tpl.free_rows {
            let base: String = label.chars().filter(|c| !c.is_whitespace()).collect();
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}#{n}") };
            let i = r.row(&key, label, line);
            if is_org_label(label) {
                r.rows[i].subtotal = true;
            }
            r.amounts(&key, &tpl.columns, amounts, line, r.unit);
            continue;
        }
        match match_row(&tpl.rows, &mut used, &mut from, label) {
            Some(spec) => {
                let key = spec.key.clone();
                let unit = if spec.count {
                    MeasureUnit::Count
                } else {
                    r.unit
                };
                r.row(&key, label, line);
                r.amounts(&key, &tpl.columns, amounts, line, unit);
            }
            None => r.unplaced.push(unplaced(
                line,
                format!("{}: row «{label}» is not in the template", tpl.id),
            )),
        }
    }
}

#[allow(dead_code)]
fn level_name(l: Level) -> &'static str {
    match l {
        Level::Lei => "类",
        Level::Kuan => "款",
        Level::Xiang => "项",
    }
}
