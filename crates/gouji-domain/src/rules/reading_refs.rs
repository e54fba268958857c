//! What the text says about the report itself, checked against the report (issue #16, part A):
//! a 科目 quoted by code or with a «（类/款/项）» marker and its name in the tables or the code
//! list (RD-10), the report year on the cover and in table titles and headings (RD-11), and the
//! unit's name on the cover, in table titles and headers and in the part headings (RD-12).
//!
//! The line scan of [`super::reading`] finds the candidate lines (a marker or a code before a
//! name), so that no pattern runs over every line here. Names and years that are not cleanly read
//! (cut short, run into the next cell, garbled) make a rule not applicable, never a finding.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::{FactIndex, Finding, Location, Severity};
use crate::codes::{self, Level};
use crate::model::ReportKind;
use crate::parse::text::fold;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "RD-10",
        Severity::Warning,
        "NA",
        "正文所引科目名称与代码或级次不符",
        "正文中带代码（“2010301行政运行”“（2080505）…”）或带“（类）（款）（项）”标注引用的科目，名称应为本报告表格（或国家科目表）中该代码、该级次的名称。只在确定时提示：代码后所引的是另一代码的科目名称（对照本报告表格，表格未印该代码时对照国家科目表）；标注级次的名称在表格中是另一级次的科目；与同级科目字同而序不同。名称截断、省略末尾“支出”、全半角、跨行和个别字增减不计；更名前的旧名称见 RD-05；表格和科目表都没有的名称不适用。",
    ),
    (
        "RD-11",
        Severity::Warning,
        "ST",
        "标题年度与报告年度不符",
        "封面标题、表格标题和各部分（情况说明）标题中的年度应为报告年度；预算标题可提上年执行、决算和绩效，决算标题可提上年比较和下一年度计划。同时写有报告年度的标题不提示；乱码年度见 G-06，正文中的比较年度见 RD-04。",
    ),
    (
        "RD-12",
        Severity::Warning,
        "ST",
        "封面、表头与正文的单位名称不一致",
        "封面（标题及“预算单位：”）、表格标题、表头（编制单位/单位名称）和各部分标题（“第X部分 …”）中的部门/单位名称应为同一单位；“中共X委”与“中国共产党X委员会”、省市区前缀省略、按序省略个别字的简称（“省检察院”）、名称截断、“本级”“（汇总）”不计；未完整读出的名称（无单位后缀、串入“单位：万元”等相邻单元格）不比较。省份模板族的表头由 G-02 检查。",
    ),
];

/// Candidate lines found by the shared line scan of [`super::reading`] (1-based line numbers).
#[derive(Default)]
pub(super) struct Cues {
    /// Prose lines with a «（类）», «（款）» or «（项）» marker.
    pub marked: Vec<u32>,
    /// Prose lines with a 3/5/7-digit run that may be a 科目 code before a name.
    pub coded: Vec<u32>,
}

/// Whether a prose line has a digit run that may be a 科目 code before its name: 3, 5 or 7 ASCII
/// digits, the first 2, 3 or 5, followed (after spaces) by a non-ASCII character. A byte scan,
/// cheap enough for every line.
pub(super) fn may_quote_code(line: &str) -> bool {
    let b = line.as_bytes();
    for (start, i) in code_runs(line) {
        let n = i - start;
        let mut j = i;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if matches!(n, 3 | 5 | 7)
            && matches!(b[start], b'2' | b'3' | b'5')
            && j < b.len()
            && b[j] >= 0x80
        {
            return true;
        }
    }
    false
}

/// The runs of ASCII digits of `line` that are not the decimals or thousands of an amount (not
/// right after «.» or «,»), as byte ranges `(start, end)`.
fn code_runs(line: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b = line.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == 0 || !matches!(b[start - 1], b'.' | b',') {
                return Some((start, i));
            }
        }
        None
    })
}

pub(super) fn check(
    r: &FactIndex<'_>,
    cues: &Cues,
    printed: &[super::reading::Printed<'_>],
    out: &mut Vec<Finding>,
) {
    let spans = table_spans(r);
    let marked: Vec<u32> = cues
        .marked
        .iter()
        .copied()
        .filter(|no| !spans.contains(*no))
        .collect();
    let coded: Vec<u32> = cues
        .coded
        .iter()
        .copied()
        .filter(|no| !spans.contains(*no))
        .collect();
    if !marked.is_empty() || !coded.is_empty() {
        let known = Known::new(printed);
        let mut found: Vec<Mismatch> = Vec::new();
        let mut judged: HashMap<(usize, String), Option<usize>> = HashMap::new();
        for &no in &marked {
            marked_names(r, &known, &spans, no, &mut judged, &mut found);
        }
        grouped(r, found, out);
        let mut judged_codes: HashSet<(String, String)> = HashSet::new();
        for &no in &coded {
            coded_names(r, &known, no, &mut judged_codes, out);
        }
    }
    years(r, out);
    units(r, out);
}

// ---------------------------------------------------------------------------------------------
// Where the tables are: the lines from a table's title to its last row are not prose (the
// Jiangsu tables come out of the PDFs as lines without tabs).

/// The tables' line ranges, sorted and merged (a line is looked up by binary search).
struct Spans(Vec<(u32, u32)>);

impl Spans {
    fn contains(&self, no: u32) -> bool {
        let i = self.0.partition_point(|(a, _)| *a <= no);
        i > 0 && self.0[i - 1].1 >= no
    }
}

fn table_spans(r: &FactIndex<'_>) -> Spans {
    let mut spans: Vec<(u32, u32)> = r
        .tables
        .iter()
        .filter_map(|t| {
            let last = t.rows.iter().map(|x| x.line).max()?;
            Some((t.line.min(last), last))
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Spans(merged)
}

// ---------------------------------------------------------------------------------------------
// RD-10: 科目 names quoted in the text.

/// A 科目 name the report or the code list knows, with the row it is printed on.
struct Name {
    code: String,
    /// Level 类/款/项 as 0/1/2.
    level: usize,
    name: String,
    core: Core,
    /// (table id, line) of the table row that prints it; `None` for the code list.
    row: Option<(String, u32)>,
}

impl Name {
    fn new(code: &str, name: &str, row: Option<(String, u32)>) -> Option<Name> {
        Some(Name {
            code: code.to_string(),
            level: level_index(code)?,
            name: name.to_string(),
            core: Core::new(name),
            row,
        })
    }
}

/// The names of the code lists and both names of every renamed 科目, prepared once.
static LISTED: LazyLock<Vec<Name>> = LazyLock::new(|| {
    let listed = codes::lists().entries().filter_map(|e| {
        let level = match e.level {
            Level::Lei => 3,
            Level::Kuan => 5,
            Level::Xiang => 7,
        };
        (e.code.len() == level)
            .then(|| Name::new(&e.code, &e.name, None))
            .flatten()
    });
    let renamed = codes::renamed()
        .iter()
        .flat_map(|s| {
            [
                Name::new(&s.code, &s.old, None),
                Name::new(&s.code, &s.new, None),
            ]
        })
        .flatten();
    listed.chain(renamed).collect()
});

/// The compared form of every name of [`LISTED`], by level, for the exact case.
static LISTED_EXACT: LazyLock<[HashSet<&'static str>; 3]> = LazyLock::new(|| {
    let mut sets: [HashSet<&'static str>; 3] = Default::default();
    for n in LISTED.iter() {
        sets[n.level].insert(n.core.text.as_str());
    }
    sets
});

/// The names of [`LISTED`] by code.
static LISTED_BY_CODE: LazyLock<HashMap<&'static str, Vec<usize>>> = LazyLock::new(|| {
    let mut by: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (i, n) in LISTED.iter().enumerate() {
        by.entry(n.code.as_str()).or_default().push(i);
    }
    by
});

/// Every 科目 name of the report's tables, then the code lists' ([`LISTED`]).
struct Known {
    rows: Vec<Name>,
    /// Indexes into `rows` by code.
    by_code: HashMap<String, Vec<usize>>,
    /// The compared form of every row name, by level, for the exact case.
    exact: [HashSet<String>; 3],
    /// Whether the report's tables print any code of level 类/款/项 (index 0/1/2).
    tables_have: [bool; 3],
    /// Names scanned so far may still be compared ([`MAX_COMPARISONS`] at the start).
    budget: std::cell::Cell<usize>,
}

fn level_index(code: &str) -> Option<usize> {
    match code.len() {
        3 => Some(0),
        5 => Some(1),
        7 => Some(2),
        _ => None,
    }
}

/// A 科目 code: 3/5/7 digits of the functional classification (2xx) or 3/5 digits of the
/// economic one (3xx, 5xx).
fn is_code(code: &str) -> bool {
    code.bytes().all(|b| b.is_ascii_digit())
        && match code.as_bytes().first() {
            Some(b'2') => matches!(code.len(), 3 | 5 | 7),
            Some(b'3' | b'5') => matches!(code.len(), 3 | 5),
            _ => false,
        }
}

impl Known {
    fn new(printed: &[super::reading::Printed<'_>]) -> Known {
        let mut k = Known {
            rows: Vec::new(),
            by_code: HashMap::new(),
            exact: Default::default(),
            tables_have: [false; 3],
            budget: std::cell::Cell::new(MAX_COMPARISONS),
        };
        for p in printed {
            if !is_code(p.code) || p.name.chars().count() < 2 {
                continue;
            }
            if let Some(n) = Name::new(p.code, &p.name, Some((p.table.to_string(), p.line))) {
                k.tables_have[n.level] = true;
                k.exact[n.level].insert(n.core.text.clone());
                k.by_code
                    .entry(n.code.clone())
                    .or_default()
                    .push(k.rows.len());
                k.rows.push(n);
            }
        }
        k
    }

    fn all(&self) -> impl Iterator<Item = &Name> {
        self.rows.iter().chain(LISTED.iter())
    }

    fn of_code<'k>(&'k self, code: &'k str) -> impl Iterator<Item = &'k Name> {
        let rows = self.by_code.get(code).into_iter().flatten();
        let listed = LISTED_BY_CODE.get(code).into_iter().flatten();
        rows.map(|&i| &self.rows[i])
            .chain(listed.map(|&i| &LISTED[i]))
    }

    /// Whether some name of `level` is exactly `core` (the common case, without a scan).
    fn has_exact(&self, level: usize, core: &Core) -> bool {
        self.exact[level].contains(&core.text) || LISTED_EXACT[level].contains(core.text.as_str())
    }

    /// Every name of `level`, charged to the budget: once it is spent, none (a name then is not
    /// judged, never reported).
    fn of_level(&self, level: usize) -> impl Iterator<Item = &Name> {
        let n = self.rows.len() + LISTED.len();
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(n));
        self.all()
            .take(if left >= n { usize::MAX } else { 0 })
            .filter(move |x| x.level == level)
    }

    /// The names the tables print, charged to the budget like [`Self::of_level`].
    fn printed(&self) -> impl Iterator<Item = &Name> {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(self.rows.len()));
        self.rows.iter().take(if left >= self.rows.len() {
            usize::MAX
        } else {
            0
        })
    }
}

/// A name as compared: `fold`ed, without a trailing «支出» (an omitted «支出» is no difference),
/// with its length in characters.
struct Core {
    text: String,
    len: usize,
}

impl Core {
    fn new(s: &str) -> Core {
        let f = fold(s);
        let text = match f.strip_suffix("支出") {
            Some(c) if c.chars().count() >= 2 => c.to_string(),
            _ => f,
        };
        Core {
            len: text.chars().count(),
            text,
        }
    }
}

/// A quoted name `text` is the 科目 `name`: equal, cut short (at least two characters), longer
/// because the sentence runs on after the name, or with words before it («其中：», «用于»);
/// trailing «支出» and full-/half-width forms aside.
fn same_name(text: &Core, name: &Core) -> bool {
    let (t, n) = (text.text.as_str(), name.text.as_str());
    if t.is_empty() || n.is_empty() {
        return false;
    }
    t == n
        || (n.starts_with(t) && text.len >= 2)
        || t.starts_with(n)
        || t.ends_with(n)
        || near(text, name)
}

/// The words after a code are the 科目 `name`: equal, the name followed by the rest of the
/// sentence, cut short after four characters or more, or near it; stricter than [`same_name`]
/// (no words before it, no two-character stub).
fn names_other(text: &Core, name: &Core) -> bool {
    let (t, n) = (text.text.as_str(), name.text.as_str());
    !n.is_empty()
        && (t == n
            || (t.starts_with(n) && name.len >= 4)
            || (n.starts_with(t) && text.len >= 4)
            || near(text, name))
}

/// Two long names (six characters or more) that differ by at most two characters left out or
/// added («基本养老保险费» for «基本养老保险缴费»): a loose quote of one 科目, not another one.
fn near(a: &Core, b: &Core) -> bool {
    if a.len.min(b.len) < 6 || a.len.abs_diff(b.len) > 2 {
        return false;
    }
    let (x, y): (Vec<char>, Vec<char>) = (a.text.chars().collect(), b.text.chars().collect());
    x.len() + y.len() - 2 * lcs(&x, &y) <= 2
}

/// The length of the longest common subsequence of `a` and `b`.
fn lcs(a: &[char], b: &[char]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diag = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[b.len()]
}

/// The same characters in another order («一般行政事务管理» for «一般行政管理事务»): a garbled
/// quote of that 科目.
fn reordered(a: &Core, b: &Core) -> bool {
    if a.len != b.len || a.len < 4 || a.text == b.text {
        return false;
    }
    let (mut x, mut y): (Vec<char>, Vec<char>) =
        (a.text.chars().collect(), b.text.chars().collect());
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// Characters that end a quoted name (walking back from a marker or on from a code).
fn stops_name(c: char) -> bool {
    c.is_ascii_digit()
        || (c.is_ascii_punctuation() && !matches!(c, '(' | ')'))
        || "，。；：“”‘’！？《》【】「」．·…\t".contains(c)
}

/// The name that ends at the end of `head` (the text before a marker), walking back over name
/// characters; a short bracketed part that is no marker and no ordinal is kept («党委办公厅（室）
/// 及相关机构事务»). Also says whether the walk reached the start of `head`.
fn name_before(head: &str) -> (&str, bool) {
    let head = head.trim_end();
    // A 科目 name is at most some sixty characters: only the end of a long line is read.
    let from = head
        .char_indices()
        .rev()
        .nth(NAME_WINDOW)
        .map_or(0, |(i, _)| i);
    let (cut, head) = (from > 0, &head[from..]);
    let mut start = head.len();
    let chars: Vec<(usize, char)> = head.char_indices().collect();
    let mut k = chars.len();
    while k > 0 {
        let (i, c) = chars[k - 1];
        if c == '）' || c == ')' {
            // A bracketed group: its opening bracket within 7 characters.
            let open = (k.saturating_sub(8)..k - 1)
                .rev()
                .find(|&j| matches!(chars[j].1, '（' | '('));
            let Some(j) = open else { break };
            let inner: String = chars[j + 1..k - 1].iter().map(|(_, c)| *c).collect();
            let ordinal = inner
                .chars()
                .all(|c| c.is_ascii_digit() || "一二三四五六七八九十".contains(c));
            if inner.is_empty() || ordinal || inner.contains(['类', '款', '项']) || j == 0 {
                break;
            }
            start = chars[j].0;
            k = j;
            continue;
        }
        // «公诉、审判、侦查、执行等检察监督支出»: a 、 inside a name; after an ordinal («1、») or
        // at the start it is none of it.
        let ordinal_mark = c == '、'
            && (k < 2 || {
                let p = chars[k - 2].1;
                p.is_ascii_digit() || "一二三四五六七八九十）)".contains(p)
            });
        if c == '（' || c == '(' || stops_name(c) || ordinal_mark {
            break;
        }
        start = i;
        k -= 1;
    }
    (head[start..].trim_start_matches('、'), k == 0 && !cut)
}

/// Characters before a marker read as its name, at most.
const NAME_WINDOW: usize = 80;
/// Distinct quoted names one document is checked for beyond the exact case; a real report
/// quotes a few dozen, more are not applicable.
const MAX_SCANNED_NAMES: usize = 2_000;
/// Name comparisons one document may spend beyond the exact case (a real report spends some
/// tens of thousands); past it a quoted name is not judged.
const MAX_COMPARISONS: usize = 2_000_000;

/// The text before a name that is no part of it: «其中», a verb or preposition.
fn without_lead_in(name: &str) -> &str {
    let mut s = name.trim();
    // No single character: «中医药», «为…» may begin a name (a name after such a word is found
    // by its ending in `same_name`).
    for w in ["其中", "包括", "主要用于", "用于", "安排"] {
        if let Some(rest) = s.strip_prefix(w)
            && rest.chars().count() >= 2
        {
            s = rest;
        }
    }
    s
}

/// A name worth checking: at least two CJK characters, no placeholder.
fn plausible_name(name: &str) -> bool {
    let f = fold(name);
    f.chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .count()
        >= 2
        && !f.contains("XX")
        && !f.contains("××")
}

fn quote(r: &FactIndex<'_>, no: u32, suspect: bool) -> Location {
    Location {
        line: no,
        text: r
            .lines
            .get((no as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_default(),
        suspect,
        ..Location::default()
    }
}

/// The table row a name was compared with, as a location.
fn row_location(r: &FactIndex<'_>, name: &Name) -> Option<Location> {
    let (table, line) = name.row.as_ref()?;
    Some(Location {
        table: table.clone(),
        row: name.code.clone(),
        ..quote(r, *line, false)
    })
}

/// Where a name was found, for the message: «本报告表格» (the row is a location of the
/// finding) or «国家科目表». Messages name no line numbers: the locations carry them, and a
/// message stays the same when the document is read from another form (PDF, text).
fn found_at(name: &Name) -> String {
    match &name.row {
        Some(_) => "本报告表格中".to_string(),
        None => "国家科目表".to_string(),
    }
}

/// «（类）», «（款）», «（项）» markers of line `no`: each name before one is a name of that
/// level in the tables or the code list. A name that begins on the line before (wrapped) is
/// joined with it.
fn marked_names(
    r: &FactIndex<'_>,
    known: &Known,
    spans: &Spans,
    no: u32,
    judged: &mut HashMap<(usize, String), Option<usize>>,
    out: &mut Vec<Mismatch>,
) {
    let Some(line) = r.lines.get(no as usize - 1) else {
        return;
    };
    let prev = no
        .checked_sub(1)
        .filter(|p| *p >= 1 && !spans.contains(*p))
        .and_then(|p| r.lines.get(p as usize - 1))
        .filter(|l| !l.contains('\t'));
    for (p, marker) in markers(line) {
        let level = match marker {
            '类' => 0,
            '款' => 1,
            _ => 2,
        };
        if !known.tables_have[level] {
            continue;
        }
        let (mut name, whole) = name_before(&line[..p]);
        let joined;
        if whole && let Some(prev) = prev {
            let (before, _) = name_before(prev);
            if !before.is_empty() {
                joined = format!("{before}{name}");
                name = &joined;
            }
        }
        let name = without_lead_in(name);
        if !plausible_name(name) {
            continue;
        }
        let quoted = Core::new(name);
        if known.has_exact(level, &quoted) {
            continue;
        }
        // Each name once: a name judged before is either fine or already in `out` (its lines
        // are grouped from there).
        let key = (level, quoted.text.clone());
        if let Some(verdict) = judged.get(&key) {
            if let Some(m) = verdict.map(|i| out[i].clone()) {
                out.push(Mismatch { line: no, ..m });
            }
            continue;
        }
        if judged.len() >= MAX_SCANNED_NAMES {
            continue;
        }
        judged.insert(key.clone(), None);
        if known.of_level(level).any(|k| same_name(&quoted, &k.core)) {
            continue;
        }
        let label = ["类", "款", "项"][level];
        // Certain only when the tables print the name at another level (the marker is wrong) or
        // print a name of this level with the same characters in another order; a name nobody
        // prints may be a 科目 of the code list this crate does not hold: not applicable.
        // «其他…支出» names a 款 and its 项 (and 229/22999) alike: no level follows from it.
        let printed = |k: &&Name| k.row.is_some();
        let other_level = known.printed().find(|k| {
            k.level != level
                && !quoted.text.starts_with("其他")
                && (quoted.text == k.core.text || near(&quoted, &k.core))
        });
        let (k, what) = if let Some(k) = other_level {
            let theirs = ["类", "款", "项"][k.level];
            let m = format!(
                "{}的 {} “{}”是{theirs}级科目，正文标为（{label}），请核对级次",
                found_at(k),
                k.code,
                k.name
            );
            (k, m)
        } else if let Some(k) = known
            .of_level(level)
            .filter(printed)
            .find(|k| reordered(&quoted, &k.core))
        {
            let m = format!(
                "{label}级科目中没有这一名称，{}的 {} 名为“{}”，疑为名称写错，请核对",
                found_at(k),
                k.code,
                k.name
            );
            (k, m)
        } else {
            continue;
        };
        judged.insert(key, Some(out.len()));
        out.push(Mismatch {
            quoted: format!(
                "{}（{label}）",
                name.chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
            ),
            what,
            row: row_location(r, k),
            line: no,
        });
    }
}

/// A marked name that is not its level's: what the text quotes, what is wrong, the table row it
/// was compared with, the line.
#[derive(Clone)]
struct Mismatch {
    quoted: String,
    what: String,
    row: Option<Location>,
    line: u32,
}

/// One RD-10 finding per quoted name and verdict, with its lines (the first three quoted).
fn grouped(r: &FactIndex<'_>, found: Vec<Mismatch>, out: &mut Vec<Finding>) {
    let mut groups: Vec<(Mismatch, Vec<u32>)> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for m in found {
        match index.get(&(m.quoted.clone(), m.what.clone())) {
            Some(&g) => groups[g].1.push(m.line),
            None => {
                index.insert((m.quoted.clone(), m.what.clone()), groups.len());
                let line = m.line;
                groups.push((m, vec![line]));
            }
        }
    }
    for (m, mut lines) in groups {
        lines.dedup();
        let at = if lines.len() > 1 {
            format!("（{}处）", lines.len())
        } else {
            String::new()
        };
        let mut locations: Vec<Location> =
            lines.iter().take(3).map(|no| quote(r, *no, true)).collect();
        locations.extend(m.row);
        out.push(Finding::new(
            "RD-10",
            Severity::Warning,
            format!("“{}”{at}：{}", m.quoted, m.what),
            locations,
            None,
            None,
            None,
        ));
    }
}

/// Byte offsets of the «（类）»-style markers of `line`, with their level character.
fn markers(line: &str) -> Vec<(usize, char)> {
    let mut found = Vec::new();
    for (open, close) in [("（", "）"), ("(", ")")] {
        for level in ['类', '款', '项'] {
            let m = format!("{open}{level}{close}");
            found.extend(line.match_indices(&m).map(|(p, _)| (p, level)));
        }
    }
    found.sort_unstable();
    found
}

/// Characters that, right after a number, make it an amount or a count rather than a code.
const MEASURE: &str = "万元亿年月日人个辆次家台套平米名户批份倍余多";

/// Codes printed before a name on line `no` («2010301行政运行», «201类一般公共服务支出»,
/// «（2080505）机关事业单位基本养老保险缴费支出»): the name is the code's in the tables or the
/// code list.
fn coded_names(
    r: &FactIndex<'_>,
    known: &Known,
    no: u32,
    judged: &mut HashSet<(String, String)>,
    out: &mut Vec<Finding>,
) {
    let Some(line) = r.lines.get(no as usize - 1) else {
        return;
    };
    for (start, i) in code_runs(line) {
        let code = &line[start..i];
        if !is_code(code) {
            continue;
        }
        let mut rest = &line[i..];
        // «（2080505）»: the closing bracket; then an optional level word.
        let before = line[..start].chars().next_back();
        if matches!(before, Some('（' | '(')) {
            rest = rest.trim_start_matches([' ', '）', ')']);
        }
        rest = rest.trim_start_matches(' ');
        rest = rest
            .strip_prefix(['类', '款', '项'])
            .unwrap_or(rest)
            .trim_start_matches([' ', '“', '"']);
        if rest.chars().next().is_none_or(|c| MEASURE.contains(c)) {
            continue;
        }
        let end = rest
            .char_indices()
            .find(|(_, c)| stops_name(*c) || matches!(c, '（' | '(' | ' '))
            .map_or(rest.len(), |(k, _)| k);
        let text = &rest[..end];
        if !plausible_name(text) {
            continue;
        }
        let names: Vec<&Name> = known.of_code(code).collect();
        let quoted = Core::new(text);
        if names.is_empty() || names.iter().any(|k| same_name(&quoted, &k.core)) {
            continue;
        }
        // Each (code, name) once, and a bounded number of them (each scans the names).
        if judged.len() >= MAX_SCANNED_NAMES
            || !judged.insert((code.to_string(), quoted.text.clone()))
        {
            continue;
        }
        // Certain only when the words after the code are another 科目's name (not «项目», «科目»,
        // «下», … and not a sentence): the tables' or the code list's name of another code.
        let Some(other) = level_index(code).and_then(|l| {
            known
                .of_level(l)
                .find(|o| o.code != code && names_other(&quoted, &o.core))
        }) else {
            continue;
        };
        let message = if let Some(k) = names.iter().find(|k| k.row.is_some()) {
            (
                *k,
                format!(
                    "“{code}{text}”：科目 {code} 在本报告表格中名为“{}”，“{}”是 {} 的名称，请核对代码或名称",
                    k.name, other.name, other.code
                ),
            )
        } else if let Some(k) = names.first() {
            (
                *k,
                format!(
                    "“{code}{text}”：国家科目表中科目 {code} 名为“{}”，“{}”是 {} 的名称，请核对代码或名称",
                    k.name, other.name, other.code
                ),
            )
        } else {
            continue;
        };
        let (k, message) = message;
        let mut locations = vec![quote(r, no, true)];
        locations.extend(row_location(r, k));
        out.push(Finding::new(
            "RD-10",
            Severity::Warning,
            message,
            locations,
            None,
            None,
            None,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// RD-11: the report year in table titles and headings.

/// Every «YYYY年» of `s` (spaces allowed before 年).
fn years_in(s: &str) -> Vec<i32> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start != 4 || start > 0 && b[start - 1].is_ascii_digit() {
            continue;
        }
        if s[i..].trim_start().starts_with('年')
            && let Ok(y) = s[start..i].parse::<i32>()
        {
            out.push(y);
        }
    }
    out
}

/// Words that make a title or heading speak of the report itself (not of a work plan).
const REPORT_WORDS: &[&str] = &[
    "预算",
    "决算",
    "收支",
    "收入",
    "支出",
    "情况说明",
    "三公",
    "经费",
    "采购",
    "公开",
];

/// Whether a heading or title of a report of `kind` for year `y0` may name year `y`.
fn year_fits(kind: ReportKind, y0: i32, y: i32, text: &str) -> bool {
    if y == y0 || !REPORT_WORDS.iter().any(|w| text.contains(w)) {
        return true;
    }
    let has = |ws: &[&str]| ws.iter().any(|w| text.contains(w));
    match kind {
        // A 预算 may look back at last year's execution, 决算 or 绩效 results.
        ReportKind::Budget => {
            y == y0 - 1
                && has(&[
                    "执行", "决算", "上年", "完成", "比较", "对比", "回顾", "绩效", "自评", "评价",
                ])
        }
        // A 决算 may compare with last year and look ahead without speaking of 决算.
        ReportKind::FinalAccounts => {
            y == y0 - 1 && has(&["上年", "比较", "对比"]) || y == y0 + 1 && !text.contains("决算")
        }
    }
}

fn years(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let y0 = r.year;
    if y0 <= 0 {
        return;
    }
    // (line, what, text) of every title and heading that names a year.
    let mut places: Vec<(u32, &str, &str)> = Vec::new();
    if let Some((i, line)) = cover_line(r) {
        places.push((i, "封面", line));
    }
    for t in &r.tables {
        places.push((t.line, "表格标题", t.title.as_str()));
    }
    for s in &r.sections {
        places.push((s.first_line, "标题", s.heading.as_str()));
    }
    places.sort_by_key(|p| p.0);
    places.dedup_by_key(|p| p.0);
    for (line, what, text) in places {
        // A table of contents entry ends with its page number after a tab.
        let text = text.split('\t').next().unwrap_or(text);
        let ys = years_in(text);
        // A heading that also names the report year compares two years; garbled years are
        // G-06's (before 1949, after the year after next).
        if ys.contains(&y0) {
            continue;
        }
        let Some(&y) = ys
            .iter()
            .find(|&&y| (y0 - 5..=y0 + 2).contains(&y) && !year_fits(r.kind, y0, y, text))
        else {
            continue;
        };
        out.push(Finding::new(
            "RD-11",
            Severity::Warning,
            format!(
                "{what}“{}”写的是{y}年，本报告为{y0}年度{}，请核对年度",
                text.trim(),
                r.kind.label()
            ),
            vec![quote(r, line, true)],
            Some(y0.into()),
            Some(y.into()),
            None,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// RD-12: one unit on the cover, in the table headers and in the text.

/// Endings of a complete unit name.
const UNIT_SUFFIXES: &[&str] = &[
    "局",
    "委员会",
    "委",
    "办公室",
    "办公厅",
    "厅",
    "院",
    "中心",
    "所",
    "学校",
    "学院",
    "大学",
    "站",
    "队",
    "馆",
    "部",
    "会",
    "处",
    "室",
    "社",
    "团",
    "校",
    "园",
    "台",
    "署",
    "府",
    "庭",
    "办",
    "组",
];

/// Scope markers a unit's name may carry or omit.
const SCOPE_MARKS: &[&str] = &["(本级)", "(汇总)", "本级", "汇总", "(部门)"];

/// A unit name as read, when it reads as a complete name: CJK (and scope brackets) only, a unit
/// ending, nothing of the next cell («单位：», «万元», «项目»). Folded and without scope marks.
fn clean_unit(name: &str) -> Option<String> {
    let mut f = fold(name);
    for m in SCOPE_MARKS {
        f = f.replace(m, "");
    }
    let n = f.chars().count();
    let cjk = f
        .chars()
        .all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c) || matches!(c, '(' | ')'));
    let cut = [
        "单位", "万元", "项目", "名称", "金额", "科目", "合计", "预算", "决算",
    ]
    .iter()
    .any(|w| f.contains(w));
    let ends = UNIT_SUFFIXES.iter().any(|s| f.ends_with(s));
    (cjk && !cut && ends && (4..=40).contains(&n) && !f.contains("XX")).then_some(f)
}

/// The documented long forms of a unit name, shortened: «中国共产党» → «中共», «委员会» → «委»,
/// «人民代表大会常务委员会» → «人大常委会», «人民政府» → «政府».
fn short_form(name: &str) -> String {
    name.replace("中国共产党", "中共")
        .replace("人民代表大会常务委员会", "人大常委会")
        .replace("人民代表大会", "人大")
        .replace("政治协商会议", "政协")
        .replace("委员会", "委")
        .replace("人民政府", "政府")
}

/// Two names of one unit: equal in their short forms, or the shorter one the longer with
/// characters left out in order (a prefix of province or city, «中共», «常委会», «人民»), both
/// ending alike.
fn same_unit(a: &str, b: &str) -> bool {
    let (a, b) = (short_form(a), short_form(b));
    // A name cut short at the end of its cell («江苏省委办» for «江苏省委办公厅»).
    if a == b || a.starts_with(&b) || b.starts_with(&a) {
        return true;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let last = |s: &str| s.chars().last();
    if last(short) != last(long) {
        return false;
    }
    let mut it = long.chars();
    short.chars().all(|c| it.any(|d| d == c))
}

/// The unit a cover's title names: its first lines with text up to the one that says 预算 or
/// 决算, joined, without the year and the kind of document («2018 年度江苏省高级» / «人民法院预算
/// 公开» → 江苏省高级人民法院), with the line the title ends on.
fn cover_name(r: &FactIndex<'_>) -> Option<(u32, String)> {
    let (no, _) = cover_line(r)?;
    let joined: String = r.lines[..no as usize]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace() && !c.is_ascii_digit())
        .collect();
    let cut = ["部门", "单位预算", "单位决算", "区级", "预算", "决算"]
        .iter()
        .filter_map(|k| joined.find(k))
        .min()
        .unwrap_or(joined.len());
    let name = joined[..cut]
        .trim_end_matches(['年', '度'])
        .trim_start_matches(['年', '度']);
    Some((no, name.to_string()))
}

/// The unit a cover labels («预算单位：上海市普陀区社会福利院»), among its first five lines with
/// text, with its line.
fn cover_label(r: &FactIndex<'_>) -> Option<(u32, String)> {
    const LABELS: [&str; 5] = [
        "预算单位",
        "预算主管部门",
        "单位名称",
        "部门名称",
        "编制单位",
    ];
    r.lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(5)
        .find_map(|(i, l)| {
            let t = l.trim();
            let rest = LABELS.iter().find_map(|k| t.strip_prefix(k))?;
            let name = rest.trim_start().strip_prefix(['：', ':'])?;
            Some((i as u32 + 1, name.trim().to_string()))
        })
}

/// The unit a table's title names before the table's own name («江苏省高级人民法院部门收支预算
/// 总表», «江苏省高级人民法院收支预算总表»).
fn title_name(title: &str) -> Option<&str> {
    const TABLE_WORDS: [&str; 11] = [
        "部门",
        "单位",
        "收支",
        "收入",
        "支出",
        "财政拨款",
        "一般公共预算",
        "政府性基金",
        "国有资本",
        "三公",
        "政府采购",
    ];
    let cut = TABLE_WORDS.iter().filter_map(|w| title.find(w)).min()?;
    (cut > 0).then(|| title[..cut].trim())
}

/// The cover's title line: among the first three lines with text, the first that says 预算 or
/// 决算, with its line number.
fn cover_line<'r>(r: &'r FactIndex<'_>) -> Option<(u32, &'r str)> {
    r.lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(3)
        .find(|(_, l)| l.contains("预算") || l.contains("决算"))
        .map(|(i, l)| (i as u32 + 1, l.as_str()))
}

/// The unit a part heading names before the report year («第二部分 省检察院 2017 年度部门预算表»).
/// Only the parts («第X部分») of the report name the report's own unit; other headings may name
/// a unit it covers.
fn heading_name(heading: &str) -> Option<&str> {
    let h = heading
        .trim()
        .strip_prefix('第')
        .and_then(|s| s.split_once('部').filter(|(n, _)| n.chars().count() <= 2))
        .and_then(|(_, rest)| rest.strip_prefix('分'))?;
    let head = h.split(|c: char| c.is_ascii_digit()).next()?;
    (head.len() < h.len()).then(|| head.trim())
}

fn units(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    // The reference: the cover's title, else its label, else the subject as read.
    let title = cover_name(r).and_then(|(l, n)| Some((l, clean_unit(&n)?)));
    let label = cover_label(r).and_then(|(l, n)| Some((l, clean_unit(&n)?)));
    let Some((ref_line, reference, ref_what)) = title
        .clone()
        .or_else(|| label.clone())
        .map(|(l, n)| (l, n, "封面"))
        .or_else(|| clean_unit(&r.subject).map(|n| (0, n, "报告主体")))
    else {
        return;
    };
    // (line, where, name as read) of every other printing of the unit's name.
    let mut seen: Vec<(u32, &str, String)> = Vec::new();
    if title.is_some()
        && let Some((l, n)) = label
    {
        seen.push((l, "封面", n));
    }
    for t in r
        .tables
        .iter()
        .filter(|t| !t.id.starts_with("performance_"))
    {
        if let Some(n) = title_name(&t.title) {
            seen.push((t.line, "表格标题", n.to_string()));
        }
    }
    if crate::template::family(&r.family).is_none() {
        for t in &r.tables {
            if let Some(e) = &t.entity {
                // The header line that prints the name, near the title.
                let line = (t.line.saturating_sub(3)..=t.line + 3)
                    .find(|&no| {
                        r.lines
                            .get((no as usize).wrapping_sub(1))
                            .is_some_and(|l| l.contains(e.as_str()))
                    })
                    .unwrap_or(t.line);
                seen.push((line, "表头", e.clone()));
            }
        }
    }
    for s in &r.sections {
        if let Some(n) = heading_name(&s.heading) {
            seen.push((s.first_line, "标题", n.to_string()));
        }
    }
    let mut reported: HashSet<String> = HashSet::new();
    for (line, what, name) in seen {
        let Some(clean) = clean_unit(&name) else {
            continue;
        };
        if same_unit(&clean, &reference) || reported.contains(&clean) {
            continue;
        }
        reported.insert(clean.clone());
        let mut locations = vec![quote(r, line, true)];
        if ref_line > 0 {
            locations.push(quote(r, ref_line, false));
        }
        out.push(Finding::new(
            "RD-12",
            Severity::Warning,
            format!(
                "{what}的单位名称“{}”与{ref_what}“{reference}”不是同一单位名称（简称、前缀省略不计），请核对",
                name.trim()
            ),
            locations,
            None,
            None,
            None,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cut_short_or_without_zhichu_are_the_same() {
        let same_name = |a: &str, b: &str| super::same_name(&Core::new(a), &Core::new(b));
        assert!(same_name("一般公共服务", "一般公共服务支出"));
        assert!(same_name(
            "机关事业单位基本养老",
            "机关事业单位基本养老保险缴费支出"
        ));
        assert!(same_name("其中行政运行", "行政运行"));
        assert!(!same_name("一般行政事务管理", "一般行政管理事务"));
    }

    #[test]
    fn a_name_before_a_marker_stops_at_ordinals_and_markers() {
        assert_eq!(name_before("（一）一般公共服务支出").0, "一般公共服务支出");
        assert_eq!(name_before("支出（类）政协事务").0, "政协事务");
        assert_eq!(
            name_before("1.党委办公厅（室）及相关机构事务").0,
            "党委办公厅（室）及相关机构事务"
        );
        assert_eq!(
            name_before("机关事业单位基本养老保险缴费"),
            ("机关事业单位基本养老保险缴费", true)
        );
    }

    #[test]
    fn unit_short_forms() {
        let full = clean_unit("中国共产党江苏省委员会办公厅").unwrap();
        assert!(same_unit(&full, "江苏省委办公厅"));
        assert!(same_unit("中共江苏省委办公厅", "江苏省委办公厅"));
        assert!(same_unit("省检察院", "江苏省人民检察院"));
        assert!(same_unit("普陀区社会福利院", "上海市普陀区社会福利院"));
        assert!(!same_unit("江苏省财政厅", "江苏省委办公厅"));
        assert_eq!(
            clean_unit("中国共产党江苏省委员会办单位：万元公厅项目名称"),
            None
        );
        assert_eq!(clean_unit("江苏省人大"), None);
        assert_eq!(clean_unit("江苏省高级人民法"), None);
        assert_eq!(clean_unit("中共江苏省委办公厅单位：万元"), None);
    }

    #[test]
    fn a_title_names_its_unit_before_the_table() {
        assert_eq!(
            title_name("江苏省高级人民法院部门收支预算总表"),
            Some("江苏省高级人民法院")
        );
        assert_eq!(
            title_name("江苏省高级人民法院收支预算总表"),
            Some("江苏省高级人民法院")
        );
        assert_eq!(title_name("收支预算总表"), None);
    }

    #[test]
    fn code_candidates_are_cheap_to_find() {
        assert!(may_quote_code("2010301行政运行支出10万元"));
        assert!(may_quote_code(
            "（2080505）机关事业单位基本养老保险缴费支出"
        ));
        assert!(!may_quote_code("支出 2017 年"));
        assert!(!may_quote_code("12.345万元"));
    }
}
