//! Disclosure text → [`Report`].
//!
//! The parser works in four passes over the cleaned lines:
//! 1. pick the template family (决算/预算, province) from cues in the text;
//! 2. find where each table starts (title and/or 表号, skipping tables of contents);
//! 3. read each table region with its layout (see [`tables`]), keeping provenance for every cell;
//! 4. read everything outside tables as the 情况说明 narrative (see [`narrative`]).
//!
//! Anything it cannot place is reported in [`Report::unplaced`] with a reason; a document it
//! cannot read at all is a [`ParseError`]. It never panics on any input.

pub(crate) mod generic;
pub mod narrative;
pub mod tables;
pub mod text;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::amount::MeasureUnit;
use crate::catalog::{self, GenericFamily};
use crate::document::{Document, Format};
use crate::model::{Report, ReportKind, Scope, Table, Unplaced};
use crate::template::{self, Family, TableTemplate};
use crate::work;
use text::has;

/// Largest document the parser accepts (bytes). Real disclosures are 50–300 KB.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Why a document could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("document is empty")]
    Empty,
    #[error("document is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error(
        "document is not UTF-8 text (invalid byte at offset {offset}); extract the text from the PDF/Word file first"
    )]
    NotText { offset: usize },
    #[error("document contains binary data (NUL byte at offset {offset})")]
    Binary { offset: usize },
    #[error(
        "no 预算/决算 table found: expected titles such as 收入支出决算总表 (公开01) or 预算收支总表 (表1); {lines} lines read"
    )]
    NoTables { lines: usize },
    /// A cap of [`crate::work`] was reached (lines, cells on one line, facts, figures, …).
    #[error("document holds more than {limit} {what}; that is the limit")]
    TooMuch { what: &'static str, limit: usize },
    /// The caller cancelled the parse ([`crate::work::with_cancel`]).
    #[error("parsing was cancelled")]
    Cancelled,
    /// The caller's deadline passed during the parse.
    #[error("the deadline passed while parsing")]
    DeadlineExceeded,
}

impl From<work::Stop> for ParseError {
    fn from(stop: work::Stop) -> Self {
        match stop {
            work::Stop::Cancelled => ParseError::Cancelled,
            work::Stop::DeadlineExceeded => ParseError::DeadlineExceeded,
            work::Stop::Limit { what, limit } => ParseError::TooMuch { what, limit },
        }
    }
}

/// One cleaned source line. Everything borrows from the document or from per-document stores
/// built once in [`parse_text`], so the common line allocates nothing.
#[derive(Debug, Clone)]
pub(crate) struct Line<'a> {
    /// 1-based line number in the source.
    pub(crate) no: u32,
    /// The line as printed (for provenance).
    pub(crate) raw: &'a str,
    /// Cleaned of Markdown/HTML residue.
    pub(crate) text: &'a str,
    /// `text` split on tabs, each cell trimmed.
    pub(crate) cells: &'a [&'a str],
    /// Folded `text` for matching.
    pub(crate) folded: Cow<'a, str>,
    /// Watermark or page furniture: ignored everywhere.
    pub(crate) noise: bool,
}

/// Which table reader [`parse_document_with`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reader {
    /// A seed template when the document's cues name one, else the generic reader (the default).
    #[default]
    Auto,
    /// The generic reader by titles and headers, as for a layout nobody described (`unknown`):
    /// what a new province's report gets, measurable on documents a template also reads.
    Generic,
}

/// Parses a disclosure document given as bytes.
pub fn parse_document(bytes: &[u8]) -> Result<Report, ParseError> {
    parse_document_with(bytes, Reader::Auto)
}

/// Parses a disclosure document with the given [`Reader`].
pub fn parse_document_with(bytes: &[u8], reader: Reader) -> Result<Report, ParseError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    if let Some(offset) = memchr::memchr(0, bytes) {
        return Err(ParseError::Binary { offset });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotText {
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    parse_guarded(text, reader)
}

/// Reads `text` under the work caps (`work`): the line cap before anything per line is built,
/// then the readers, which stop at a cap or at the caller's token.
fn parse_guarded(text: &str, reader: Reader) -> Result<Report, ParseError> {
    if memchr::memchr_iter(b'\n', text.as_bytes()).count() >= work::MAX_LINES {
        return Err(ParseError::TooMuch {
            what: "lines",
            limit: work::MAX_LINES,
        });
    }
    work::begin(text.len());
    let report = parse_text(text, reader);
    // A cap or the caller's token stopped the readers: whatever they built is incomplete.
    match work::stopped() {
        Some(stop) => Err(stop.into()),
        None => report,
    }
}

/// Parses a document read by a PDF or Excel reader (or lifted from text): the model is rendered
/// to the TAB text the table readers accept (one line per model line) and read like any text;
/// the report keeps the reader's format and the origin of every line, so that provenance
/// («第N行») can be shown as the page and box, or the sheet cell, it came from.
pub fn parse_model(doc: &Document) -> Result<Report, ParseError> {
    let rendered = doc.render();
    if rendered.text.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError::TooLarge {
            size: rendered.text.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    if rendered.text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut report = parse_guarded(&rendered.text, Reader::Auto)?;
    report.format = Some(doc.format);
    if doc.format != Format::Text {
        report.origins = rendered.origins;
    }
    Ok(report)
}

fn parse_text(text: &str, reader: Reader) -> Result<Report, ParseError> {
    // Backing stores for the borrowed lines: cleaned text per line, then every line's cells.
    let mut cleaned: Vec<Cow<'_, str>> = Vec::new();
    for line in text::lines(text) {
        if work::step(1) {
            return Err(ParseError::Cancelled);
        }
        cleaned.push(text::clean_line_cow(line));
    }
    // Sized once (a line has one cell more than tabs): growing by doubling held up to three
    // times the cells at once, 16 bytes each, on a document of mostly tabs.
    let tabs = memchr::memchr_iter(b'\t', text.as_bytes()).count();
    if tabs + cleaned.len() > work::MAX_CELLS {
        return Err(ParseError::TooMuch {
            what: "cells",
            limit: work::MAX_CELLS,
        });
    }
    let mut cell_store: Vec<&str> = Vec::with_capacity(tabs + cleaned.len());
    let mut cell_bounds: Vec<usize> = Vec::with_capacity(cleaned.len() + 1);
    cell_bounds.push(0);
    for c in &cleaned {
        // The cell cap, checked before the line is split.
        if memchr::memchr_iter(b'\t', c.as_bytes()).count() >= work::MAX_CELLS_PER_LINE {
            return Err(ParseError::TooMuch {
                what: "cells on one line",
                limit: work::MAX_CELLS_PER_LINE,
            });
        }
        cell_store.extend(text::cell_iter(c));
        cell_bounds.push(cell_store.len());
        if work::step(1) {
            return Err(ParseError::Cancelled);
        }
    }
    let lines = read_lines(text, &cleaned, &cell_store, &cell_bounds);
    // Between passes, a look at the token whatever the count (the caller maps the stop).
    if work::step(work::POLL_EVERY) {
        return Err(ParseError::Cancelled);
    }
    let mut report = match (choose_family(&lines), reader) {
        (Choice::Template(family), Reader::Auto) => read_with_template(&lines, family)?,
        (Choice::Template(family), Reader::Generic) => read_generic(&lines, None, family.kind())?,
        (Choice::Generic(_, kind), Reader::Generic) => read_generic(&lines, None, kind)?,
        (Choice::Generic(family, kind), Reader::Auto) => read_generic(&lines, family, kind)?,
    };
    if work::step(work::POLL_EVERY) {
        return Err(ParseError::Cancelled);
    }
    report.performance = narrative::read_performance_scores(&lines);
    fill_identity(&lines, &mut report);
    report.lines = lines.iter().map(|l| l.raw.to_string()).collect();
    report.year_mentions = text::year_mentions(text);
    Ok(report)
}

/// Reads a document of a seed family with its table templates (`templates/*.toml`). TAB row
/// runs outside those templates' tables (绩效自评表 and other tables the family file does not
/// describe) are read as well, by their headers, as extra tables the template rules never name.
fn read_with_template(lines: &[Line], family: &'static Family) -> Result<Report, ParseError> {
    let starts = tables::find_table_starts(lines, family);
    if starts.is_empty() {
        return Err(ParseError::NoTables { lines: lines.len() });
    }
    let mut report = Report::new(
        String::new(),
        0,
        family.kind(),
        Scope::Unit,
        family.family.clone(),
    );
    let doc_unit = MeasureUnit::Wanyuan;
    let mut in_table = vec![false; lines.len()];
    let toc = tables::read_toc_declarations(lines, family);
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map(|s| s.line_idx).unwrap_or(lines.len());
        let end = tables::region_end(lines, start.line_idx, end);
        if work::step(region_steps(start.line_idx, end)) {
            break;
        }
        for flag in &mut in_table[start.line_idx..end] {
            *flag = true;
        }
        let tpl: &TableTemplate = match family.table(&start.table_id) {
            Some(t) => t,
            None => continue,
        };
        let read = tables::read_table(
            &lines[start.line_idx..end],
            tpl,
            doc_unit,
            end == lines.len(),
        );
        let mut table = read.table;
        if table.empty_reason.is_none()
            && read.facts.is_empty()
            && let Some(reason) = toc.get(&table.id)
        {
            table.empty_reason = Some(reason.clone());
        }
        append(&mut report.facts, read.facts);
        append(&mut report.unplaced, read.unplaced);
        // A table repeated (e.g. printed twice) keeps its first occurrence's metadata.
        if report.table(&table.id).is_none() {
            report.tables.push(table);
        }
    }
    report.tables.sort_by_key(|t| table_order(family, &t.id));
    narrative::read_narrative(lines, &in_table, &mut report);
    // Extra tables: read for their figures; the narrative reader has already seen their lines.
    for (start, end, title) in generic::loose_runs(lines, &in_table) {
        let canonical = catalog::classify_title(&text::fold(&title), None);
        let id = format!(
            "{}@{}",
            canonical.map_or("uncatalogued", |t| t.id.as_str()),
            lines[start].no
        );
        let read = generic::read_region(
            &lines[start.saturating_sub(1)..end],
            &id,
            &title,
            None,
            doc_unit,
        );
        append(&mut report.facts, read.facts);
        report.tables.push(read.table);
    }
    Ok(report)
}

/// Reads a document by table meaning and header (families of `templates/families/`, or none).
fn read_generic(
    lines: &[Line],
    family: Option<&'static GenericFamily>,
    kind: ReportKind,
) -> Result<Report, ParseError> {
    let starts = generic::find_starts(lines, family);
    let mut in_table = vec![false; lines.len()];
    let mut report = Report::new(
        String::new(),
        0,
        kind,
        Scope::Unit,
        family.map_or(UNKNOWN_FAMILY, |f| f.family.as_str()),
    );
    let doc_unit = MeasureUnit::Wanyuan;
    for (i, start) in starts.iter().enumerate() {
        let next = starts.get(i + 1).map_or(lines.len(), |s| s.line_idx);
        let end = generic::body_end(lines, start.line_idx, next);
        if work::step(region_steps(start.line_idx, end)) {
            break;
        }
        for flag in &mut in_table[start.line_idx..end] {
            *flag = true;
        }
        let number = start.number.clone().or_else(|| {
            family
                .and_then(|f| f.number_of(&start.canonical.id))
                .map(str::to_string)
        });
        let read = generic::read_region(
            &lines[start.line_idx..end],
            &start.canonical.id,
            &start.title,
            number,
            doc_unit,
        );
        add_table(&mut report, read);
    }
    for (start, end, title) in generic::loose_runs(lines, &in_table) {
        let canonical = catalog::classify_title(&text::fold(&title), family)
            .filter(|t| report.table(&t.id).is_none());
        let id = canonical.map_or_else(
            || format!("uncatalogued@{}", lines[start].no),
            |t| t.id.clone(),
        );
        let from = start.saturating_sub(1);
        for flag in &mut in_table[from..end] {
            *flag = true;
        }
        let read = generic::read_region(&lines[from..end], &id, &title, None, doc_unit);
        add_table(&mut report, read);
    }
    if report.tables.is_empty() {
        return Err(ParseError::NoTables { lines: lines.len() });
    }
    report
        .tables
        .sort_by_key(|t| (catalog::order(&t.id), t.line));
    narrative::read_narrative(lines, &in_table, &mut report);
    Ok(report)
}

/// Adds a table read by the generic reader; a table continued under a repeated title is merged
/// into its first part.
fn add_table(report: &mut Report, mut read: generic::Read) {
    // In a 决算 the one amount column a header calls 金额 is the 决算数 (the synonyms map it to
    // 预算数, what it is in a 预算): renamed unless the table also prints a 决算数 column.
    if report.kind == ReportKind::FinalAccounts
        && read.facts.iter().any(|f| f.column == "预算数")
        && !read.facts.iter().any(|f| f.column == "决算数")
    {
        let rename = |c: &mut String| {
            if c == "预算数" {
                *c = "决算数".to_string();
            }
        };
        read.facts.iter_mut().for_each(|f| rename(&mut f.column));
        read.table
            .unreadable
            .iter_mut()
            .for_each(|(_, c)| rename(c));
        read.table.dashes.iter_mut().for_each(|(_, c)| rename(c));
    }
    append(&mut report.facts, read.facts);
    append(&mut report.unplaced, read.unplaced);
    let t: Table = read.table;
    match report.tables.iter_mut().find(|x| x.id == t.id) {
        Some(first) => {
            for r in t.rows {
                if !first.rows.iter().any(|x| x.key == r.key) {
                    first.rows.push(r);
                }
            }
            first.dashes.extend(t.dashes);
            first.unreadable.extend(t.unreadable);
            if first.entity.is_none() {
                first.entity = t.entity;
            }
        }
        None => report.tables.push(t),
    }
}

/// The steps ([`work::step`]) reading the lines `start..end` counts for.
fn region_steps(start: usize, end: usize) -> u32 {
    u32::try_from(end.saturating_sub(start)).unwrap_or(u32::MAX)
}

/// `into.extend(from)`, but a first part is moved rather than copied (a copy held both at
/// once: twice the memory of a document's facts).
fn append<T>(into: &mut Vec<T>, from: Vec<T>) {
    if into.is_empty() {
        *into = from;
    } else {
        into.extend(from);
    }
}

pub use crate::catalog::UNKNOWN_FAMILY;

fn table_order(family: &Family, id: &str) -> usize {
    family
        .tables
        .iter()
        .position(|t| t.id == id)
        .unwrap_or(usize::MAX)
}

/// Builds the lines of `text` from its cleaned lines and their cells (`cells[bounds[i]..bounds[i + 1]]`
/// are line `i`'s).
fn read_lines<'a>(
    text: &'a str,
    cleaned: &'a [Cow<'a, str>],
    cells: &'a [&'a str],
    bounds: &[usize],
) -> Vec<Line<'a>> {
    // A stop (cancel, deadline) ends the list early; the parse then fails with it.
    let mut lines: Vec<Line<'a>> = text::lines(text)
        .zip(cleaned)
        .take_while(|_| !work::step(1))
        .enumerate()
        .map(|(i, (raw, clean))| Line {
            no: (i + 1) as u32,
            raw,
            text: clean,
            cells: &cells[bounds[i]..bounds[i + 1]],
            folded: text::fold_cow(clean),
            noise: false,
        })
        .collect();
    mark_watermarks(&mut lines);
    lines
}

/// Marks watermark lines: short tab-free lines without digits, repeated at least three times,
/// that are not table furniture (units, notes, headers).
fn mark_watermarks(lines: &mut [Line]) {
    const KEEP: &[&str] = &[
        "单位", "部门", "年度", "表", "合计", "注", "栏次", "项目", "科目", "说明", "万元",
    ];
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in lines.iter() {
        if work::step(1) {
            return;
        }
        let t = l.folded.as_ref();
        if !l.text.contains('\t') && t.chars().count() >= 4 && t.chars().count() <= 24 {
            *counts.entry(t).or_default() += 1;
        }
    }
    // A set: a document of many distinct repeated short lines has as many marks as lines.
    let marks: std::collections::HashSet<String> = counts
        .into_iter()
        .filter(|(t, n)| {
            *n >= 3
                && !t.chars().any(|c| c.is_ascii_digit())
                && !KEEP.iter().any(|k| t.contains(k))
                && !t.ends_with('。')
        })
        .map(|(t, _)| t.to_string())
        .collect();
    if marks.is_empty() {
        return;
    }
    for l in lines.iter_mut() {
        if marks.contains(l.folded.as_ref()) {
            l.noise = true;
        }
    }
}

/// Which reader a document gets.
enum Choice {
    /// A seed family with its table templates.
    Template(&'static Family),
    /// The generic reader, with a family data file or none ("unknown").
    Generic(Option<&'static GenericFamily>, ReportKind),
}

/// Picks the family whose cues the text holds most; a document with no family's cues is read by
/// the generic reader as family "unknown" (never silently with another family's template).
fn choose_family(lines: &[Line]) -> Choice {
    let head: String = lines
        .iter()
        .take(60)
        .map(|l| l.folded.as_ref())
        .collect::<Vec<_>>()
        .join("\n");
    // Every folded line in one string: a cue (never containing a newline) is in some line exactly
    // when it is in this string.
    let mut all = String::with_capacity(lines.iter().map(|l| l.folded.len() + 1).sum());
    for l in lines {
        all.push_str(&l.folded);
        all.push('\n');
    }
    let all_has = |needle: &str| {
        // Each search reads the whole text: a look at the token before each (a stop makes
        // every search fail; the parse then fails with the stop).
        if work::step(work::POLL_EVERY) {
            return false;
        }
        if needle.contains('\n') {
            lines.iter().any(|l| l.folded.contains(needle))
        } else {
            memchr::memmem::find(all.as_bytes(), needle.as_bytes()).is_some()
        }
    };
    let budget_cues = head.matches("预算").count();
    let final_cues = head.matches("决算").count();
    let is_budget =
        budget_cues > final_cues && !head.contains("决算公开") && !head.contains("部门决算");
    let kind = if is_budget {
        ReportKind::Budget
    } else {
        ReportKind::FinalAccounts
    };
    // A seed family is recognised by its cues or, for the national 公开01… layouts, by printing
    // one of its table titles; the first family wins a tie. Titles are only searched when cues
    // do not decide (each title is a search through the whole text).
    let templates: Vec<&'static Family> = template::families()
        .iter()
        .filter(|f| f.kind() == kind)
        .collect();
    let cues: Vec<usize> = templates
        .iter()
        .map(|f| f.cues.iter().filter(|c| all_has(&text::fold(c))).count())
        .collect();
    let best_cues = cues.iter().copied().max().unwrap_or(0);
    let tied: Vec<usize> = (0..templates.len())
        .filter(|&i| cues[i] == best_cues)
        .collect();
    let template: Option<(&'static Family, usize)> = if best_cues > 0 && tied.len() == 1 {
        Some((templates[tied[0]], best_cues))
    } else {
        let titles = |f: &Family| {
            f.tables
                .iter()
                .filter(|t| t.titles.iter().any(|x| all_has(&text::fold(x))))
                .count()
        };
        let mut best: Option<(&'static Family, usize, usize)> = None;
        for &i in &tied {
            let n = titles(templates[i]);
            if (best_cues > 0 || n > 0) && best.is_none_or(|(_, _, b)| n > b) {
                best = Some((templates[i], best_cues, n));
            }
        }
        best.map(|(f, c, _)| (f, c))
    };
    let generic = catalog::families()
        .iter()
        .filter(|f| f.kind() == kind)
        .map(|f| (f, f.cues.iter().filter(|c| all_has(c)).count()))
        .filter(|(f, n)| *n >= f.min_cues)
        .fold(None, |best: Option<(&GenericFamily, usize)>, (f, n)| {
            if best.is_none_or(|(_, b)| n > b) {
                Some((f, n))
            } else {
                best
            }
        });
    match (template, generic) {
        (Some((t, cues)), Some((g, m))) => {
            if m > cues {
                Choice::Generic(Some(g), kind)
            } else {
                Choice::Template(t)
            }
        }
        (Some((t, _)), None) => Choice::Template(t),
        (None, g) => Choice::Generic(g.map(|(g, _)| g), kind),
    }
}

static YEAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{4})\s*年度?").expect("static regex"));
static ENTITY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:部门名称|单位名称|编制单位|编制部门)\s*[:：]\s*([^\s\t]+)")
        .expect("static regex")
});

/// Fills subject, year and scope from the tables' metadata and the title page.
fn fill_identity(lines: &[Line], report: &mut Report) {
    // Subject: the most common 部门名称/单位名称 printed on tables, else the first title line.
    let mut names: HashMap<String, usize> = HashMap::new();
    // Every label ENTITY_RE knows contains 名称 or 编制.
    for l in lines
        .iter()
        .filter(|l| !l.noise && (has(l.text, "名称") || has(l.text, "编制")))
    {
        for cap in ENTITY_RE.captures_iter(l.text) {
            let name = cap[1]
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '年' || c == '度')
                .to_string();
            if !name.is_empty() && MeasureUnit::from_label(&name).is_none() {
                *names.entry(name).or_default() += 1;
            }
        }
    }
    let from_tables = names
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(n, _)| n);
    let title_lines: Vec<&str> = lines
        .iter()
        .filter(|l| !l.text.trim().is_empty() && !l.noise)
        .take(3)
        .map(|l| l.text.trim())
        .collect();
    report.subject = match from_tables {
        Some(n) => n,
        None => subject_from_cover(&title_lines)
            .or_else(|| title_lines.first().map(|t| subject_from_title(t)))
            .unwrap_or_default(),
    };
    // Year: most frequent plausible "20XX年度" near the top and in table headers.
    let mut years: HashMap<i32, usize> = HashMap::new();
    for l in lines
        .iter()
        .take(80)
        .chain(lines.iter().filter(|l| l.text.len() < 80))
        .filter(|l| l.text.contains('年'))
    {
        for cap in YEAR_RE.captures_iter(l.text) {
            if let Ok(y) = cap[1].parse::<i32>()
                && (2000..=2100).contains(&y)
            {
                *years.entry(y).or_default() += 1;
            }
        }
    }
    report.year = years
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(y, _)| y)
        .unwrap_or(0);
    // Scope: a 汇总 or a 部门 report (单位构成 listed) is a department report.
    let head: String = lines.iter().take(12).map(|l| l.folded.as_ref()).collect();
    let dept_title = head.contains("部门决算") || head.contains("部门预算");
    let unit_title = head.contains("单位决算") || head.contains("单位预算");
    let has_composition = lines
        .iter()
        .any(|l| has(&l.folded, "单位构成") || has(&l.folded, "编制范围的单位共"));
    report.scope = if report.subject.contains("汇总")
        || (dept_title && !unit_title)
        || (has_composition && !unit_title)
    {
        Scope::Department
    } else {
        Scope::Unit
    };
}

/// The unit a cover names: its title, over up to three lines up to the one that says 预算 or
/// 决算 («2018 年度江苏省高级» / «人民法院预算公开»), without the year and the kind of document
/// («江苏省高级人民法院»). `None` when the cover does not read so.
fn subject_from_cover(lines: &[&str]) -> Option<String> {
    const KINDS: [&str; 8] = [
        "部门预算",
        "部门决算",
        "单位预算",
        "单位决算",
        "预算公开",
        "决算公开",
        "预算",
        "决算",
    ];
    let end = lines
        .iter()
        .position(|l| l.contains("预算") || l.contains("决算"))?;
    let joined: String = lines[..=end]
        .concat()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let without_year = YEAR_RE.replace_all(&joined, "");
    let cut = KINDS
        .iter()
        .filter_map(|k| without_year.find(k))
        .min()
        .unwrap_or(without_year.len());
    // «江苏省人民检察院 / 年部门预算 / 2017»: the year's digits printed after its 年.
    let name = without_year[..cut]
        .trim_matches(|c: char| c.is_ascii_punctuation() || c == '“' || c == '”')
        .trim_end_matches(['年', '度']);
    let plausible = name.chars().count() >= 4
        && !name.chars().all(|c| c.is_ascii_digit())
        && MeasureUnit::from_label(name).is_none()
        && !name.contains(['：', ':']);
    plausible.then(|| name.to_string())
}

fn subject_from_title(t: &str) -> String {
    let t = t.split(['\t', ' ']).next().unwrap_or(t);
    match YEAR_RE.find(t) {
        Some(m) if m.start() > 0 => t[..m.start()].trim().to_string(),
        _ => t.trim().to_string(),
    }
}

/// Records an unplaced line. Past a cap of [`work`] the entry quotes nothing (the parse then
/// fails with the cap).
pub(crate) fn unplaced(line: &Line, reason: impl Into<String>) -> Unplaced {
    let quoted = work::charge(work::Item::Unplaced, line.raw.len());
    Unplaced {
        line: line.no,
        text: if quoted {
            line.raw.to_string()
        } else {
            String::new()
        },
        reason: reason.into(),
    }
}
