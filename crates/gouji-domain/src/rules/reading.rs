//! What a reviewer finds by reading (RD-*), on the document's lines for every family:
//! placeholders and template residue, comparison years, renamed 科目, percentages without «%»,
//! a reason copied under another 三公 item, and a reason that contradicts the change it explains.
//!
//! Warnings unless the text is certainly wrong (a «增长（下降）» alternative left in the text is).
//! Each finding quotes its source line.

use std::sync::LazyLock;

use regex::Regex;

use super::{FactIndex, Finding, Location, Severity};
use crate::codes;
use crate::model::ReportKind;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "RD-01",
        Severity::Warning,
        "NA",
        "占位符未替换",
        "名称、标题或正文中留有“XX局”“××单位”“XXXX年”等模板占位符。",
    ),
    (
        "RD-02",
        Severity::Error,
        "NA",
        "模板残留：增减方向二选一未删除",
        "“增长（下降）”“增加/减少”等模板中的二选一表述未删除；其后金额为 0 时为警告。空白模板（无任何数字）不做本组检查。",
    ),
    (
        "RD-03",
        Severity::Warning,
        "NA",
        "原因或用途说明为空",
        "“主要原因是。”“主要用于：。”等，说明文字为空；或留有“（请说明…）”等模板填写提示。",
    ),
    (
        "RD-04",
        Severity::Warning,
        "NA",
        "比较年度与报告年度不符",
        "预算 Y 年与 Y−1 年比较，决算 Y 年与 Y−1 年（或 Y 年预算）比较；“比YYYY年…”中的年度不符即提示。",
    ),
    (
        "RD-05",
        Severity::Warning,
        "NA",
        "科目名称已更名",
        "报告年度在科目更名之后，仍使用旧名称（如 210 类“医疗卫生与计划生育支出”自 2019 年起为“卫生健康支出”；更名清单见 data/renamed_subjects.csv）。",
    ),
    (
        "RD-06",
        Severity::Warning,
        "NA",
        "百分比缺少“%”",
        "“增长12.50，”等增减率、占比数字后缺少“%”。",
    ),
    (
        "RD-07",
        Severity::Warning,
        "NA",
        "不同项目的原因说明雷同",
        "“三公”经费各项的增减原因说明逐字相同（疑为复制粘贴），请核对各项原因。",
    ),
    (
        "RD-08",
        Severity::Warning,
        "NA",
        "原因与增减方向相反",
        "说明“增加/增长”的原因只讲“减少/下降”（或相反），请核对。",
    ),
    (
        "RD-09",
        Severity::Warning,
        "XT",
        "同一科目代码名称不一",
        "同一功能或经济分类科目代码在不同表中印有不同名称（截断、空格和序号不计；更名前后的新旧名称见 RD-05），疑为代码或名称填错。",
    ),
];

static PLACEHOLDER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:XX+|xx+|××+|ＸＸ+)(?:局|单位|部门|委员会|办公室|中心|县|市|区|省|年|月|项目)")
        .expect("placeholder regex")
});
static ALTERNATIVE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:增长|增加|上升)[（(](?:下降|减少|降低)[）)]|(?:下降|减少|降低)[（(](?:增长|增加|上升)[）)]|(?:增加|增长)\s*/\s*(?:减少|下降)|(?:减少|下降)\s*/\s*(?:增加|增长)",
    )
    .expect("alternative regex")
});
static EMPTY_REASON_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:主要原因是|原因是|主要用于)[:：]?\s*[。；;]|[（(](?:请|此处|在此)(?:填写|说明|列示|补充)[^）)]{0,40}[）)]")
        .expect("empty reason regex")
});
static COMPARE_YEAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:比|较|与)\s*(\d{4})\s*年(度)?(.{0,6})").expect("year regex"));
static REASON_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:主要原因是|原因是)[:：]?([^。；;]{20,300})").expect("reason regex")
});

const PLACEHOLDER: u32 = 1;
const ALTERNATIVE: u32 = 2;
const REASON: u32 = 4;
const HINT: u32 = 8;
const YEAR: u32 = 16;
const RATE: u32 = 32;
/// A «（类）», «（款）» or «（项）» marker after a 科目 name (RD-10).
const MARKER: u32 = 128;

/// Trigger words and the rules they wake (a rule's regex runs only on lines with its trigger).
const TRIGGER_WORDS: &[(&str, u32)] = &[
    ("XX", PLACEHOLDER),
    ("xx", PLACEHOLDER),
    ("××", PLACEHOLDER),
    ("ＸＸ", PLACEHOLDER),
    ("（下降", ALTERNATIVE),
    ("（减少", ALTERNATIVE),
    ("（降低", ALTERNATIVE),
    ("（增长", ALTERNATIVE),
    ("（增加", ALTERNATIVE),
    ("（上升", ALTERNATIVE),
    ("(下降", ALTERNATIVE),
    ("(减少", ALTERNATIVE),
    ("(降低", ALTERNATIVE),
    ("(增长", ALTERNATIVE),
    ("(增加", ALTERNATIVE),
    ("(上升", ALTERNATIVE),
    ("/", ALTERNATIVE),
    ("原因是", REASON),
    ("主要用于", REASON),
    ("（请", HINT),
    ("(请", HINT),
    ("此处", HINT),
    ("在此", HINT),
    ("比20", YEAR),
    ("较20", YEAR),
    ("与20", YEAR),
    ("比 20", YEAR),
    ("较 20", YEAR),
    ("与 20", YEAR),
    ("比19", YEAR),
    ("较19", YEAR),
    ("与19", YEAR),
    ("增长", RATE),
    ("下降", RATE),
    ("占", RATE),
    ("增幅", RATE),
    ("降幅", RATE),
    ("（类）", MARKER),
    ("（款）", MARKER),
    ("（项）", MARKER),
    ("(类)", MARKER),
    ("(款)", MARKER),
    ("(项)", MARKER),
];

const RENAMED: u32 = 64;

/// The trigger words, then the renamed 科目's old names (pattern `TRIGGER_WORDS.len() + k` is
/// `codes::renamed()[k]`).
static TRIGGERS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    let words = TRIGGER_WORDS
        .iter()
        .map(|(w, _)| *w)
        .chain(codes::renamed().iter().map(|s| s.old.as_str()));
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(words)
        .expect("trigger words")
});
/// The renamed 科目's old names alone, for table rows.
static RENAMED_NAMES: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(codes::renamed().iter().map(|s| s.old.as_str()))
        .expect("renamed names")
});
static TRIGGER_FLAGS: LazyLock<Vec<u32>> = LazyLock::new(|| {
    TRIGGER_WORDS
        .iter()
        .map(|(_, f)| *f)
        .chain(codes::renamed().iter().map(|_| RENAMED))
        .collect()
});

/// 三公 items, as their paragraphs begin.
const SANGONG_ITEMS: &[&str] = &[
    "因公出国（境）费",
    "因公出国(境)费",
    "公务用车购置费",
    "公务用车运行维护费",
    "公务用车购置及运行维护费",
    "公务接待费",
];

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    // A blank template (tables, no figures) is all placeholders by design.
    if r.facts.is_empty() {
        return;
    }
    let mut reasons: Vec<(&str, String, u32)> = Vec::new();
    // (index in codes::renamed(), line) of every old 科目 name.
    let mut old_names: Vec<(usize, u32)> = Vec::new();
    // Lines that quote a 科目 with a marker or a code (RD-10, in `reading_refs`).
    let mut cues = super::reading_refs::Cues::default();
    for (i, line) in r.lines.iter().enumerate() {
        let no = i as u32 + 1;
        let prose = !line.contains('\t');
        // One pass over the line finds every rule's trigger word; a rule's pattern runs only on
        // the lines that have its trigger.
        let mut hits = 0u32;
        let mut rate_at: Option<usize> = None;
        if !prose {
            // Table rows: only a placeholder («XX局» in a header) is looked for.
            if memchr::memchr3(b'X', b'x', 0xC3, line.as_bytes()).is_some()
                || line.contains("××")
                || line.contains("ＸＸ")
            {
                hits |= PLACEHOLDER;
            }
            for m in RENAMED_NAMES.find_iter(line.as_str()) {
                old_names.push((m.pattern().as_usize(), no));
            }
        }
        for m in TRIGGERS.find_iter(if prose { line.as_str() } else { "" }) {
            let k = m.pattern().as_usize();
            let flag = TRIGGER_FLAGS[k];
            hits |= flag;
            if flag == RATE && rate_at.is_none() && percent_without_sign(&line[m.end()..]).is_some()
            {
                rate_at = Some(m.start());
            }
            if flag == RENAMED {
                old_names.push((k - TRIGGER_WORDS.len(), no));
            }
        }
        if hits & MARKER != 0 {
            cues.marked.push(no);
        }
        if prose && super::reading_refs::may_quote_code(line) {
            cues.coded.push(no);
        }
        if hits == 0 {
            continue;
        }
        if hits & PLACEHOLDER != 0
            && let Some(m) = PLACEHOLDER_RE.find(line)
        {
            out.push(at(
                "RD-01",
                Severity::Warning,
                format!("第{no}行留有占位符“{}”，请替换为实际名称或年度", m.as_str()),
                line,
                no,
            ));
        }
        if !prose {
            continue;
        }
        let alternatives = hits & ALTERNATIVE != 0;
        if alternatives && let Some(m) = ALTERNATIVE_RE.find(line) {
            // «增加（减少）0万元»: the meaning survives when nothing changed; a warning then.
            let next = r.lines.get(i + 1).map_or("", |l| l.as_str());
            let rest = line[m.end()..].trim();
            let rest = if rest.is_empty() { next.trim() } else { rest };
            let after: String = rest
                .chars()
                .skip_while(|c| c.is_whitespace())
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let zero = !after.is_empty() && after.chars().all(|c| c == '0' || c == '.');
            out.push(at(
                "RD-02",
                if zero {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                format!(
                    "第{no}行“{}”：模板中的二选一表述未删除，应只保留实际的增减方向",
                    m.as_str()
                ),
                line,
                no,
            ));
        }
        let reasoned = hits & REASON != 0;
        if (hits & REASON != 0 && empty_reason(line) || hits & HINT != 0)
            && let Some(m) = EMPTY_REASON_RE.find(line)
        {
            out.push(at(
                "RD-03",
                Severity::Warning,
                format!(
                    "第{no}行“{}”：说明文字为空或留有填写提示",
                    m.as_str().trim()
                ),
                line,
                no,
            ));
        }
        if hits & YEAR != 0 {
            years(r, line, no, out);
        }
        if let Some(at_) = rate_at
            && let Some(number) = percent_without_sign(&line[at_..])
        {
            out.push(at(
                "RD-06",
                Severity::Warning,
                format!("第{no}行“{number}”后缺少“%”"),
                line,
                no,
            ));
        }
        if let Some(item) = SANGONG_ITEMS.iter().find(|x| {
            line.trim_start_matches(|ch: char| {
                ch.is_ascii_digit() || "、.．（）()一二三四五六七八九十其中：: ".contains(ch)
            })
            .starts_with(**x)
        }) && reasoned
            && let Some(c) = REASON_RE.captures(line)
        {
            let reason: String = c[1]
                .chars()
                .filter(|ch| !ch.is_whitespace() && !"，,、：:“”".contains(*ch))
                .collect();
            // «本单位不涉及此项业务» under every item it applies to is a statement, not a copy.
            if !["不涉及", "无此项", "未发生", "没有"]
                .iter()
                .any(|w| reason.contains(w))
            {
                reasons.push((item, reason, no));
            }
        }
        if hits & REASON != 0 {
            contradiction(line, no, out);
        }
    }
    renamed(r, &old_names, out);
    copied(r, &reasons, out);
    let printed = printed_names(r);
    names_by_code(r, &printed, out);
    super::reading_refs::check(r, &cues, &printed, out);
}

/// RD-09: one 科目 code printed with two names in the report's tables. A name cut short (a label
/// broken over rows) or the renamed pair of `data/renamed_subjects.csv` is no difference; each
/// code is reported once, quoting the first row of each name.
fn names_by_code(r: &FactIndex<'_>, printed: &[Printed<'_>], out: &mut Vec<Finding>) {
    // code → (name, table id, row line) of its first printing.
    let mut first: std::collections::HashMap<&str, (&str, &str, u32)> =
        std::collections::HashMap::new();
    let mut reported: Vec<&str> = Vec::new();
    for p in printed {
        let (code, name) = (p.code, p.name.as_str());
        let Some((seen, table, line)) = first.get(code) else {
            first.insert(code, (name, p.table, p.line));
            continue;
        };
        if reported.contains(&code) || same_subject(seen, name, code) {
            continue;
        }
        reported.push(code);
        let quote = |no: u32| Location {
            table: String::new(),
            row: code.to_string(),
            line: no,
            text: r
                .lines
                .get(no.saturating_sub(1) as usize)
                .cloned()
                .unwrap_or_default(),
            suspect: true,
            ..Location::default()
        };
        let (mut a, mut b) = (quote(*line), quote(p.line));
        a.table = (*table).to_string();
        b.table = p.table.to_string();
        out.push(Finding::new(
            "RD-09",
            Severity::Warning,
            format!(
                "科目 {code} 在第{}行名为“{seen}”，在第{}行名为“{name}”，同一代码名称不一，请核对代码或名称",
                line, p.line
            ),
            vec![a, b],
            None,
            None,
            None,
        ));
    }
}

/// A 科目 the tables print: its code, its name ([`subject_name`]), the table and the row's line.
pub(super) struct Printed<'r> {
    pub code: &'r str,
    pub name: String,
    pub table: &'r str,
    pub line: u32,
}

/// Every distinct (code, label) of the tables' coded rows, in the order printed, at its first row:
/// a code is printed in several tables, mostly with one label, so each label is read once (RD-09
/// and RD-10 share this).
fn printed_names<'r>(r: &'r FactIndex<'_>) -> Vec<Printed<'r>> {
    let mut seen: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in &r.tables {
        for row in &t.rows {
            let code = row.key.as_str();
            let coded = matches!(code.len(), 3 | 5 | 7)
                && code.bytes().all(|b| b.is_ascii_digit())
                && matches!(code.as_bytes()[0], b'2' | b'3' | b'5');
            if !coded || !seen.insert((code, row.label.as_str())) {
                continue;
            }
            let name = subject_name(&row.label, code);
            if !name.is_empty() {
                out.push(Printed {
                    code,
                    name,
                    table: t.id.as_str(),
                    line: row.line,
                });
            }
        }
    }
    out
}

/// A row label as a 科目 name: folded, without spaces, a leading code, ordinal or «其中：».
fn subject_name(label: &str, code: &str) -> String {
    let folded: String = crate::parse::text::fold(label)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let s = folded.strip_prefix(code).unwrap_or(&folded);
    let s = crate::parse::text::strip_ordinal(s);
    let s = s.strip_prefix("其中:").unwrap_or(s);
    s.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '、'))
        .to_string()
}

/// Two printed names of one code are the same 科目: equal, one cut short of the other, or a
/// renamed 科目's old and new name.
fn same_subject(a: &str, b: &str, code: &str) -> bool {
    a.starts_with(b)
        || b.starts_with(a)
        || codes::renamed()
            .iter()
            .any(|x| x.code == code && (x.old == a && x.new == b || x.old == b && x.new == a))
}

fn at(rule: &str, severity: Severity, message: String, line: &str, no: u32) -> Finding {
    Finding::new(
        rule,
        severity,
        message,
        vec![Location {
            line: no,
            text: line.to_string(),
            suspect: true,
            ..Location::default()
        }],
        None,
        None,
        None,
    )
}

/// RD-04: «比YYYY年…» in a report of year Y: a 预算 compares with Y−1, a 决算 with Y−1 or with
/// its own year's 预算.
fn years(r: &FactIndex<'_>, line: &str, no: u32, out: &mut Vec<Finding>) {
    if r.year <= 0 {
        return;
    }
    for c in COMPARE_YEAR_RE.captures_iter(line) {
        let Ok(y) = c[1].parse::<i32>() else { continue };
        let budget_of_year = c[3].contains("预算") || c[3].contains("年初");
        let fine =
            y == r.year - 1 || r.kind == ReportKind::FinalAccounts && y == r.year && budget_of_year;
        if fine {
            continue;
        }
        let expected = match r.kind {
            ReportKind::Budget => format!("{}年", r.year - 1),
            _ => format!("{}年（或{}年预算）", r.year - 1, r.year),
        };
        out.push(at(
            "RD-04",
            Severity::Warning,
            format!(
                "第{no}行“{}”：{}年度{}应与{expected}比较",
                c[0].trim_end_matches(&c[3]).trim(),
                r.year,
                r.kind.label()
            ),
            line,
            no,
        ));
    }
}

/// RD-08: «增加/增长 …，主要原因是…» whose reason speaks only of 减少/下降 (or the reverse). Scans
/// each «原因是» of the line: the change is the last direction word of the clause before it (within
/// 40 characters, up to the comma before «主要原因是»), the reason runs to the end of its sentence.
fn contradiction(line: &str, no: u32, out: &mut Vec<Finding>) {
    let downs: &[&str] = &["减少", "下降", "压减", "缩减", "降低"];
    let ups: &[&str] = &["增加", "增长", "提高", "上升", "新增", "追加"];
    let mut from = 0;
    while let Some(p) = line[from..].find("原因是").map(|p| p + from) {
        from = p + "原因是".len();
        // The clause before: back to the previous sentence end, at most 40 characters before the
        // comma that precedes «(主要)原因是».
        let head = line[..p].trim_end_matches("主要");
        let Some(comma) = head
            .trim_end()
            .strip_suffix(['，', ','].as_slice())
            .map(str::len)
        else {
            continue;
        };
        let clause_start = head[..comma].rfind(['。', '；', ';']).map_or(0, |i| {
            i + head[i..].chars().next().map_or(1, char::len_utf8)
        });
        let clause = &head[clause_start..comma];
        let back: usize = clause.chars().rev().take(40).map(char::len_utf8).sum();
        let clause = &clause[clause.len() - back..];
        let Some((_, direction)) = ["增加", "增长", "减少", "下降"]
            .iter()
            .filter_map(|w| clause.rfind(w).map(|i| (i, *w)))
            .max()
        else {
            continue;
        };
        let rest = line[from..].trim_start_matches([':', '：']);
        let full = &rest[..rest.find(['。', '；', ';']).unwrap_or(rest.len())];
        if full.chars().count() < 4 {
            continue;
        }
        // «…，因此…较上年增长11.61%» restates the change; the reason is what comes before.
        let cut = ["因此", "所以", "故而"]
            .iter()
            .filter_map(|w| full.find(w))
            .min()
            .unwrap_or(full.len());
        let reason = &full[..cut];
        let up = matches!(direction, "增加" | "增长");
        let (against, with) = if up { (downs, ups) } else { (ups, downs) };
        if let Some(word) = against.iter().find(|w| reason.contains(**w))
            && !with.iter().any(|w| reason.contains(w))
        {
            out.push(at(
                "RD-08",
                Severity::Warning,
                format!("第{no}行说明“{direction}”的原因只讲“{word}”，与增减方向相反，请核对"),
                line,
                no,
            ));
        }
    }
}

/// RD-05: an old 科目 name in a report of a year after the rename (text or table rows), from the
/// (renamed index, line) pairs the line scan found.
fn renamed(r: &FactIndex<'_>, old_names: &[(usize, u32)], out: &mut Vec<Finding>) {
    if r.year <= 0 {
        return;
    }
    for (k, s) in codes::renamed().iter().enumerate() {
        if r.year < s.from_year {
            continue;
        }
        let mut lines: Vec<u32> = old_names
            .iter()
            .filter(|(x, _)| *x == k)
            .map(|(_, no)| *no)
            .collect();
        lines.dedup();
        let Some(first) = lines.first() else { continue };
        out.push(Finding::new(
            "RD-05",
            Severity::Warning,
            format!(
                "“{}”（{}类）自{}年起名为“{}”，{}年度报告中出现 {} 处旧名称（第{}行起）",
                s.old,
                s.code,
                s.from_year,
                s.new,
                r.year,
                lines.len(),
                first
            ),
            lines
                .iter()
                .take(3)
                .map(|no| Location {
                    line: *no,
                    text: r.lines[*no as usize - 1].clone(),
                    suspect: true,
                    ..Location::default()
                })
                .collect(),
            None,
            None,
            None,
        ));
    }
}

/// «主要原因是。», «主要用于：；»: a reason word followed at once by the end of its sentence.
fn empty_reason(line: &str) -> bool {
    ["原因是", "主要用于"].iter().any(|w| {
        line.match_indices(w).any(|(i, _)| {
            line[i + w.len()..]
                .trim_start_matches([':', '：', ' '])
                .starts_with(['。', '；', ';'])
        })
    })
}

/// The rate printed right after a 增长/下降/占 trigger at the start of `text` when it has no «%»
/// after it («增长12.50，»): the trigger and the number, as printed.
fn percent_without_sign(text: &str) -> Option<&str> {
    let mut chars = text.char_indices().peekable();
    // The trigger word itself.
    let word_end = ["增长", "下降", "增幅", "降幅", "占比", "占"]
        .iter()
        .find(|w| text.starts_with(**w))
        .map_or(0, |w| w.len());
    while chars.peek().is_some_and(|(i, _)| *i < word_end) {
        chars.next();
    }
    let skip_space = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while it.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            it.next();
        }
    };
    skip_space(&mut chars);
    let mut int = 0;
    while chars.peek().is_some_and(|(_, c)| c.is_ascii_digit()) {
        chars.next();
        int += 1;
    }
    if !(1..=3).contains(&int) || chars.next().map(|(_, c)| c) != Some('.') {
        return None;
    }
    let mut frac = 0;
    let mut end = text.len();
    while let Some((i, c)) = chars.peek().copied() {
        if c.is_ascii_digit() {
            chars.next();
            frac += 1;
        } else {
            end = i;
            break;
        }
    }
    if !(1..=2).contains(&frac) {
        return None;
    }
    let number = text[..end].trim_end();
    skip_space(&mut chars);
    match chars.next().map(|(_, c)| c) {
        None => Some(number),
        Some(c) if "%％".contains(c) || "万元亿个人家辆次倍项份".contains(c) => None,
        Some(_) => Some(number),
    }
}

/// RD-07: one reason, word for word, under two different 三公 items.
fn copied(r: &FactIndex<'_>, reasons: &[(&str, String, u32)], out: &mut Vec<Finding>) {
    for (k, (item, reason, line)) in reasons.iter().enumerate() {
        let Some((other, _, first)) = reasons[..k]
            .iter()
            .find(|(i, x, _)| x == reason && i != item)
        else {
            continue;
        };
        let quote = |no: u32, suspect: bool| Location {
            line: no,
            text: r.lines.get(no as usize - 1).cloned().unwrap_or_default(),
            suspect,
            ..Location::default()
        };
        out.push(Finding::new(
            "RD-07",
            Severity::Warning,
            format!("“{item}”的原因说明与“{other}”（第{first}行）逐字相同，疑为复制，请核对"),
            vec![quote(*first, false), quote(*line, true)],
            None,
            None,
            None,
        ));
    }
}
