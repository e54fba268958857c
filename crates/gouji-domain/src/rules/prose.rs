//! What a reviewer finds by reading the 情况说明 against itself and the tables (issue #16, part B):
//!
//! - RD-20: one 原因 or 用途 sentence, word for word or nearly so, under two different items
//!   (科目 «（项）» paragraphs, 项目, “三公” items, 会议费/培训费). Sentences are compared after
//!   removing figures, units and every item's name: character-bigram Jaccard ≥ 0.80, or the
//!   shorter one's bigrams ≥ 90 % inside the longer when it has ≥ 16 characters. Shorter than
//!   12 characters, statements («本单位不涉及此项业务», «无变化»), one item named twice, a 三公
//!   subtotal against its parts and two items one of which names the other («培训支出（项）» and
//!   «培训费»: one spending by function and by item) are no copies; a pair RD-07 already reports (三公, word for word)
//!   is not reported again. At most [`MAX_REASONS`] sentences per report are compared (all pairs,
//!   ≤ 79 800); near-duplicates are grouped, one finding per group. A warning when one sentence
//!   names another item of its group and not its own (copied, not adapted); an info when none
//!   names its item and every sentence has ≥ 20 characters (short causes such as «工资调整后，
//!   随之调整了缴费基数» are often truly shared); nothing when one names its own item (adapted).
//!   Totals (收入总计, 财政拨款, 基本支出…) are no items: their reasons legitimately repeat.
//! - RD-21: an economic 款 (or 类) named with a non-zero amount in the 基本支出 section
//!   («主要包括办公费7.66万元、印刷费0.50万元…», «其中：基本工资…») that the report's 基本支出 table
//!   prints blank or 0, or does not print while it prints the 款's 类: a warning (whether the
//!   amounts agree is NR-01's). Named without an amount, only a printed blank or 0 row is
//!   reported (an info): beside a table that prints only non-zero rows a list of names is often
//!   the template's list of what the group may hold (Jiangsu 2017).
//! - RD-22: a list presented as complete («人员经费X万元，包括：…», no «主要», «其中», «等»), every
//!   element of which is an economic item of the table, that leaves out a non-zero 款 (or 类, when
//!   the list names 类) of the same group (人员经费 = 301 + 303, 公用经费 the rest).
//!
//! The 基本支出 sections are the reader's sections whose heading names 基本支出, else heading-like
//! lines; the table is the first of 公开06, 表6, gpb_basic_by_econ, fiscal_basic_by_econ the report
//! has (RD-21 flags an item only when every one of them the report has lacks it).
//!
//! A missing or unreadable table or cell makes RD-21/RD-22 not applicable; a blank printed cell
//! of a printed row is what the table says (no amount), never a missing one.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{FactIndex, Finding, Location, Severity, fmt};
use crate::codes;
use crate::parse::text::fold;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "RD-20",
        Severity::Warning,
        "NA",
        "不同项目的原因或用途说明雷同",
        "同一“主要原因是…”“主要用于…”说明（去掉数字、单位和各项目名称后，字符二元组 Jaccard ≥ 0.80，或较短一句 ≥ 16 字且其二元组 ≥ 90% 含于另一句）出现在两个不同的科目（项）、项目或“三公”经费项目下（每份报告最多比较 400 句）；少于 12 字的说明、“本单位不涉及此项业务”“无变化”等陈述、同一项目重复说明、“三公”小计与其构成项、名称相互包含的两项（如“培训支出（项）”与“培训费”，同一笔支出）不计，RD-07 已报的逐字相同不再报。说明中写的是另一项目的名称而不是本项目的，为警告（疑为复制未改）；均未写项目名称且每句不少于 20 字的，为提示（请确认原因确实相同）；各自写明本项目名称的，视为已改写，不报。",
    ),
    (
        "RD-21",
        Severity::Warning,
        "NA",
        "说明列举的支出项目在表中无数",
        "基本支出章节以非零金额列举的经济分类款（如“印刷费0.50万元”）在基本支出表中为空或为 0，或未列出（该表列出其所属类时），为警告；只列名称、未写金额的，仅当表中印有该行而为空或 0 时提示（只印非零行的表不据此判断）。金额是否一致见 NR-01。",
    ),
    (
        "RD-22",
        Severity::Warning,
        "NA",
        "完整列举遗漏表中项目",
        "以“包括：”完整列举（无“主要”“其中”“等”）人员经费或公用经费的构成时，基本支出表中同属人员经费或公用经费、金额不为 0 的款未被列出。",
    ),
];

/// Reason and use sentences compared per report, in document order (the pairs are all compared:
/// at most `MAX_REASONS·(MAX_REASONS−1)/2` = 79 800 comparisons of short bigram sets).
pub(super) const MAX_REASONS: usize = 400;
/// Reason words read per sentence, characters read per reason, and items told apart per report:
/// bounds for hostile input (a real sentence has one or two reasons, a report a few dozen items).
const MAX_TRIGGERS: usize = 16;
const MAX_REASON_CHARS: usize = 300;
const MAX_SUBJECTS: usize = 1_000;
/// Normalized sentences shorter than this are no copies.
const MIN_CHARS: usize = 12;
/// A group in which no sentence names an item is reported (info) only when every sentence has at
/// least this many characters.
const INFO_MIN_CHARS: usize = 20;
/// Bigram Jaccard at or above which two sentences are the same.
const JACCARD: f64 = 0.80;
/// Containment of the shorter sentence's bigrams at or above which it counts as copied (only when
/// the shorter has at least [`CONTAINED_MIN_CHARS`] characters).
const CONTAINMENT: f64 = 0.90;
const CONTAINED_MIN_CHARS: usize = 16;

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    // A blank template has no figures, and no reasons.
    if r.facts.is_empty() {
        return;
    }
    let mut headings: Vec<u32> = r.sections.iter().map(|s| s.first_line).collect();
    headings.sort_unstable();
    let prose = Prose::new(&r.lines, |n, t| {
        t.starts_with('#') || headings.binary_search(&n).is_ok() || looks_like_heading(t)
    });
    if prose.text.is_empty() {
        return;
    }
    copies(r, &prose, out);
    lists(r, out);
}

/// The document's text outside tables, joined across line breaks, with the source line of every
/// byte (a table row ends a paragraph with «\n»).
pub(super) struct Prose {
    pub(super) text: String,
    /// (byte offset where a source line starts in `text`, 1-based line number).
    starts: Vec<(usize, u32)>,
}

impl Prose {
    /// `is_heading(line number, trimmed text)`: whether a line is a heading, a paragraph of its
    /// own.
    pub(super) fn new(lines: &[String], is_heading: impl Fn(u32, &str) -> bool) -> Prose {
        let mut text = String::new();
        let mut starts = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if l.contains('\t') {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                continue;
            }
            let t = l.trim();
            if t.is_empty() {
                continue;
            }
            // A heading line («## 六、…») is a paragraph of its own.
            let heading = is_heading(i as u32 + 1, t);
            if heading && !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            starts.push((text.len(), i as u32 + 1));
            text.push_str(t);
            if heading {
                text.push('\n');
            }
        }
        Prose { text, starts }
    }

    pub(super) fn line_at(&self, offset: usize) -> u32 {
        match self.starts.binary_search_by(|(s, _)| s.cmp(&offset)) {
            Ok(i) => self.starts[i].1,
            Err(0) => 0,
            Err(i) => self.starts[i - 1].1,
        }
    }
}

/// «一、部门预算编制说明», «（二）社会保障和就业支出（类）»: a line opening with a Chinese ordinal,
/// short and without sentence punctuation (a wrapped line «2．行政事业单位离退休（款）…» opens with a
/// digit and is not one).
fn looks_like_heading(t: &str) -> bool {
    let rest = t
        .strip_prefix(['（', '('])
        .unwrap_or(t)
        .trim_start_matches(|c: char| "一二三四五六七八九十".contains(c));
    rest.len() < t.len()
        && rest.starts_with(['、', '）', ')'])
        && t.chars().count() <= 40
        && !t.contains(['。', '，', '；', ',', ';'])
}

/// Whether a sentence is about a reason or a use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reason,
    Use,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Reason => "原因",
            Kind::Use => "用途",
        }
    }
}

/// The item a paragraph is about.
#[derive(Clone)]
struct Subject {
    /// Identity: folded, «A(款)B(项)» or the 三公 item's canonical name.
    key: String,
    /// As named in messages.
    name: String,
    /// Words that name the item in a sentence («住房公积金», «接待»).
    cores: Vec<String>,
    /// A 三公 subtotal and its parts explain the same change: never copies of each other.
    group: Option<&'static str>,
}

struct Reason {
    subject: usize,
    kind: Kind,
    line: u32,
    raw: String,
    chars: usize,
    bigrams: Vec<u64>,
}

/// 三公 (and 会议费/培训费) items as a paragraph opens: (printed prefix, canonical name, words that
/// name it in a sentence, group).
const SANGONG: &[(&str, &str, &[&str], Option<&str>)] = &[
    ("因公出国(境)费", "因公出国（境）费", &["出国"], None),
    ("因公出国(境)", "因公出国（境）费", &["出国"], None),
    (
        "公务用车购置及运行维护费",
        "公务用车购置及运行维护费",
        &["公务用车", "公车"],
        Some("car"),
    ),
    (
        "公务用车购置及运行费",
        "公务用车购置及运行维护费",
        &["公务用车", "公车"],
        Some("car"),
    ),
    ("公务用车购置费", "公务用车购置费", &["购置"], Some("car")),
    ("公务用车购置", "公务用车购置费", &["购置"], Some("car")),
    (
        "公务用车运行维护费",
        "公务用车运行维护费",
        &["运行维护", "运维", "维护费"],
        Some("car"),
    ),
    (
        "公务用车运行费",
        "公务用车运行维护费",
        &["运行维护", "运维", "运行费"],
        Some("car"),
    ),
    ("公务接待费", "公务接待费", &["接待"], None),
    ("会议费", "会议费", &["会议"], None),
    ("培训费", "培训费", &["培训"], None),
];

/// Openings that continue the current item's paragraph («与上年相比…», «主要原因是…»).
const CONTINUATIONS: &[&str] = &[
    "与",
    "较",
    "比",
    "同比",
    "决算数",
    "决算",
    "主要",
    "原因",
    "上年",
    "年初预算",
    "全年预算",
    "本年",
    "预算数",
    "支出决算",
    "完成",
    "用于",
    "此项",
    "该项",
    "相应",
    "同时",
    "另",
    "一是",
    "二是",
    "三是",
    "因",
    "由于",
    "具体",
    "包括",
    "其中",
    "增加",
    "减少",
    "增长",
    "下降",
    "持平",
];

/// Reasons that are statements, not explanations.
const STATEMENTS: &[&str] = &[
    "不涉及",
    "无此项",
    "未发生",
    "无变化",
    "无增减",
    "没有发生",
    "未安排",
    "无相关",
    "无此类",
    "不存在",
];

/// Removes ordinals («1．», «（一）», «二、», «①»), quotes, heading marks and «其中：» at the start
/// of a sentence (a year «2024年度» is kept: it is no ordinal).
fn strip_opening(s: &str) -> &str {
    let mut s = s;
    loop {
        let before = s.len();
        s = s.trim_start_matches(|c: char| {
            c.is_whitespace() || "．.、“”\"#*-—·:：".contains(c) || "①②③④⑤⑥⑦⑧⑨⑩".contains(c)
        });
        // «1．», «12、», «3.» (digits and an ordinal mark; «2024年» is not one).
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && digits <= 2 && s[digits..].starts_with(['．', '.', '、', ' ', ')', '）'])
        {
            s = &s[digits..];
            s = &s[s.chars().next().map_or(0, char::len_utf8)..];
        }
        for p in ["其中", "此外", "另外"] {
            if let Some(rest) = s.strip_prefix(p) {
                s = rest.trim_start_matches([',', '，', ':', '：']);
            }
        }
        // «（一）», «(1)»
        if let Some(rest) = s.strip_prefix(['（', '('])
            && let Some(c) = rest.find(['）', ')'])
            && c <= 12
            && rest[..c]
                .chars()
                .all(|ch| ch.is_ascii_digit() || "一二三四五六七八九十".contains(ch))
        {
            s = &rest[c + rest[c..].chars().next().map_or(1, char::len_utf8)..];
        }
        // «一、»
        let numeral: usize = s
            .char_indices()
            .take_while(|(_, c)| "一二三四五六七八九十".contains(*c))
            .map(|(_, c)| c.len_utf8())
            .sum();
        if numeral > 0 && s[numeral..].starts_with('、') {
            s = &s[numeral + '、'.len_utf8()..];
        }
        if s.len() == before {
            return s;
        }
    }
}

/// The end of a sentence's head: the first comma or stop, or the first figure (digits not used as
/// an ordinal «1．»).
fn head_end(f: &str) -> usize {
    let b = f.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b',' | b';' => return i,
            d if d.is_ascii_digit() => {
                let run = b[i..].iter().take_while(|x| x.is_ascii_digit()).count();
                let next = &f[i + run..];
                let after = next.chars().nth(1);
                if run <= 2
                    && next.starts_with(['．', '.', '、'])
                    && !after.is_some_and(|c| c.is_ascii_digit())
                {
                    i += run;
                    continue;
                }
                return i;
            }
            _ => {}
        }
        let ch = f[i..].chars().next().map_or(1, char::len_utf8);
        if f[i..].starts_with(['，', '。', '；']) {
            return i;
        }
        i += ch;
    }
    b.len()
}

/// The item a sentence opens with, if it opens with one; `Some(None)` when it opens with another
/// subject (a total, a heading), which ends the current item; `None` when it continues it.
fn subject_of(sentence: &str) -> Option<Option<Subject>> {
    let s = strip_opening(sentence);
    if s.is_empty() {
        return None;
    }
    // Only the opening is read: fold at most its first 80 characters.
    let cut = s.char_indices().nth(80).map_or(s.len(), |(i, _)| i);
    let f = fold(&s[..cut]);
    let head = &f[..head_end(&f)];
    // «决算数小于年初预算数的主要原因是…(项)…»: a reason naming a 项, not a new paragraph.
    if head.contains("原因") || head.contains("用于") {
        return None;
    }
    if let Some(p) = head.find("(项)") {
        let xiang_start = ["(款)", "(类)"]
            .iter()
            .filter_map(|m| head[..p].rfind(m).map(|i| i + m.len()))
            .max()
            .unwrap_or(0);
        let xiang = strip_opening(&head[xiang_start..p]).to_string();
        if xiang.chars().count() < 2 {
            return Some(None);
        }
        // «款 name(款)项 name(项)», without the 类 and the ordinal before the 款.
        let kuan = head[..p]
            .rfind("(款)")
            .map(|k| {
                let from = head[..k].rfind("(类)").map_or(0, |c| c + "(类)".len());
                strip_opening(&head[from..k]).to_string()
            })
            .unwrap_or_default();
        let key = if kuan.is_empty() {
            format!("{xiang}(项)")
        } else {
            format!("{kuan}(款){xiang}(项)")
        };
        return Some(Some(Subject {
            name: key.replace("(项)", "（项）").replace("(款)", "（款）"),
            key,
            cores: vec![xiang],
            group: None,
        }));
    }
    // «2024年度财政拨款安排公务用车运行维护费预算…»: the item after the year and the fund.
    let mut h = head;
    let year = h.bytes().take_while(u8::is_ascii_digit).count();
    if year == 4 {
        h = h[4..].trim_start_matches("年度").trim_start_matches('年');
    }
    for p in ["本部门", "本单位", "财政拨款安排", "财政拨款"] {
        h = h.strip_prefix(p).unwrap_or(h);
    }
    if let Some((_, name, cores, group)) = SANGONG.iter().find(|(p, ..)| h.starts_with(p)) {
        return Some(Some(Subject {
            key: (*name).to_string(),
            name: (*name).to_string(),
            cores: cores.iter().map(|c| (*c).to_string()).collect(),
            group: *group,
        }));
    }
    let head_chars = head.chars().count();
    if year == 0 && head.ends_with("项目") && (4..=40).contains(&head_chars) {
        let core = head.trim_end_matches("项目").to_string();
        return Some(Some(Subject {
            key: head.to_string(),
            name: head.to_string(),
            cores: vec![core],
            group: None,
        }));
    }
    if CONTINUATIONS.iter().any(|c| f.starts_with(c)) {
        return None;
    }
    Some(None)
}

/// Figures, units, punctuation and the items' names removed: the words of the sentence.
fn normalize(raw: &str, names: &[&str]) -> Vec<char> {
    let mut s = fold(raw);
    for name in names {
        if name.chars().count() >= 2 && s.contains(name) {
            s = s.replace(name, "");
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            // The number and the unit after it.
            while i < chars.len() && (chars[i].is_ascii_digit() || ".,%".contains(chars[i])) {
                i += 1;
            }
            for unit in [
                "万元", "亿元", "元", "年度", "年", "月", "日", "个", "人次", "人", "辆", "批次",
                "次", "项", "％",
            ] {
                let u: Vec<char> = unit.chars().collect();
                if chars[i..].starts_with(&u) {
                    i += u.len();
                    break;
                }
            }
            continue;
        }
        if c.is_alphabetic() && !c.is_ascii() {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn bigrams(chars: &[char]) -> Vec<u64> {
    let mut v: Vec<u64> = chars
        .windows(2)
        .map(|w| (u64::from(w[0] as u32) << 32) | u64::from(w[1] as u32))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Size of the intersection of two sorted, deduplicated sets.
fn common(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Bigram Jaccard of two reasons, when they count as the same sentence.
fn similar(a: &Reason, b: &Reason) -> Option<f64> {
    let n = common(&a.bigrams, &b.bigrams);
    if n == 0 {
        return None;
    }
    let union = a.bigrams.len() + b.bigrams.len() - n;
    let jaccard = n as f64 / union as f64;
    if jaccard >= JACCARD {
        return Some(jaccard);
    }
    let (short, short_chars) = if a.bigrams.len() <= b.bigrams.len() {
        (a.bigrams.len(), a.chars)
    } else {
        (b.bigrams.len(), b.chars)
    };
    (short_chars >= CONTAINED_MIN_CHARS && n as f64 / short as f64 >= CONTAINMENT)
        .then_some(jaccard)
}

/// The reason and use sentences of the prose, each with the item it is about.
fn reasons(prose: &Prose) -> (Vec<Subject>, Vec<Reason>) {
    let text = prose.text.as_str();
    let mut subjects: Vec<Subject> = Vec::new();
    let mut reasons: Vec<Reason> = Vec::new();
    let mut current: Option<usize> = None;
    let mut start = 0;
    for (end, c) in text
        .char_indices()
        .filter(|(_, c)| matches!(*c, '。' | '；' | ';' | '\n'))
        .chain(std::iter::once((text.len(), '\n')))
    {
        let sentence = &text[start..end];
        let at = start;
        start = end + if end < text.len() { c.len_utf8() } else { 0 };
        if sentence.trim().is_empty() {
            if c == '\n' {
                current = None;
            }
            continue;
        }
        match subject_of(sentence) {
            Some(Some(s)) => {
                current = match subjects.iter().position(|x| x.key == s.key) {
                    Some(i) => Some(i),
                    None if subjects.len() < MAX_SUBJECTS => {
                        subjects.push(s);
                        Some(subjects.len() - 1)
                    }
                    None => None,
                };
            }
            Some(None) => current = None,
            None => {}
        }
        if let Some(subject) = current
            && (sentence.contains("原因") || sentence.contains("用于"))
        {
            for (kind, from) in triggers(sentence).into_iter().take(MAX_TRIGGERS) {
                if reasons.len() >= MAX_REASONS {
                    break;
                }
                // A reason is read up to MAX_REASON_CHARS (RD-07's pattern reads 300 characters too).
                let tail = &sentence[from..];
                let cut = tail
                    .char_indices()
                    .nth(MAX_REASON_CHARS)
                    .map_or(tail.len(), |(i, _)| i);
                let rest = tail[..cut].trim_start_matches([':', '：', ' ']).trim_end();
                // Up to the next trigger of the sentence.
                let rest = match ["主要原因", "原因是", "主要用于"]
                    .iter()
                    .filter_map(|t| rest.find(t))
                    .min()
                {
                    Some(p) => &rest[..p],
                    None => rest,
                };
                let rest = rest.trim_end_matches([',', '，', ' ']);
                if STATEMENTS.iter().any(|w| rest.contains(w))
                    || rest.starts_with('无')
                    || rest.starts_with("本年度无")
                    || rest.starts_with("本单位无")
                {
                    continue;
                }
                // A raw length bound first (the words are counted once every item is known).
                if rest.chars().count() < MIN_CHARS {
                    continue;
                }
                reasons.push(Reason {
                    subject,
                    kind,
                    line: prose.line_at(at + from),
                    raw: rest.to_string(),
                    chars: 0,
                    bigrams: Vec::new(),
                });
            }
        }
        if c == '\n' {
            current = None;
        }
    }
    // The words of each sentence without figures and without any item's name, so that «公车维护费»
    // in both a copy and its original, or an item name swapped in, does not hide the copy.
    let mut names: Vec<&str> = subjects
        .iter()
        .flat_map(|s| s.cores.iter().map(String::as_str))
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    for x in &mut reasons {
        let norm = normalize(&x.raw, &names);
        x.chars = norm.len();
        x.bigrams = bigrams(&norm);
    }
    reasons.retain(|x| x.chars >= MIN_CHARS);
    (subjects, reasons)
}

/// Where the reasons and uses of a sentence start: after «原因是»/«原因为», «主要用于»/«用于».
fn triggers(sentence: &str) -> Vec<(Kind, usize)> {
    let mut out = Vec::new();
    let first_reason = sentence.find("原因").unwrap_or(sentence.len());
    for (word, kind) in [
        ("原因是", Kind::Reason),
        ("原因为", Kind::Reason),
        ("用于", Kind::Use),
    ] {
        for (i, _) in sentence.match_indices(word).take(MAX_TRIGGERS) {
            // «用于» inside a reason («…资金用于…») is part of that reason.
            if kind == Kind::Use && i > first_reason {
                continue;
            }
            out.push((kind, i + word.len()));
        }
    }
    out.sort_by_key(|(_, i)| *i);
    // «主要用于…用于…»: one use.
    out.dedup_by(|b, a| a.0 == Kind::Use && b.0 == Kind::Use);
    out
}

/// RD-20: one reason or use, (nearly) word for word, under two different items.
fn copies(r: &FactIndex<'_>, prose: &Prose, out: &mut Vec<Finding>) {
    if !prose.text.contains("原因") && !prose.text.contains("用于") {
        return;
    }
    let (subjects, reasons) = reasons(prose);
    if reasons.len() < 2 {
        return;
    }
    // Pairs of lines RD-07 already reports.
    let reported: Vec<(u32, u32)> = out
        .iter()
        .filter(|f| f.rule_id == "RD-07" && f.locations.len() == 2)
        .map(|f| (f.locations[0].line, f.locations[1].line))
        .collect();
    // Union-find over the near-duplicate pairs.
    let mut parent: Vec<usize> = (0..reasons.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut best: HashMap<usize, f64> = HashMap::new();
    for i in 0..reasons.len() {
        for j in i + 1..reasons.len() {
            let (a, b) = (&reasons[i], &reasons[j]);
            if a.kind != b.kind || a.subject == b.subject {
                continue;
            }
            let (sa, sb) = (&subjects[a.subject], &subjects[b.subject]);
            if sa.group.is_some() && sa.group == sb.group && (is_subtotal(sa) || is_subtotal(sb)) {
                continue;
            }
            // «培训支出（项）» and «培训费»: one spending seen by function and by item.
            if sa.cores.iter().any(|c| sb.key.contains(c.as_str()))
                || sb.cores.iter().any(|c| sa.key.contains(c.as_str()))
            {
                continue;
            }
            if reported.contains(&(a.line, b.line)) {
                continue;
            }
            let Some(sim) = similar(a, b) else { continue };
            let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
            if ri != rj {
                parent[rj] = ri;
            }
            let e = best.entry(j).or_insert(0.0);
            *e = e.max(sim);
            let e = best.entry(i).or_insert(0.0);
            *e = e.max(sim);
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..reasons.len() {
        if !best.contains_key(&i) {
            continue;
        }
        let g = root(&mut parent, i);
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, v)) => v.push(i),
            None => groups.push((g, vec![i])),
        }
    }
    for (_, members) in groups {
        let names = |i: usize, s: usize| {
            subjects[s]
                .cores
                .iter()
                .any(|c| reasons[i].raw.contains(c.as_str()))
        };
        let own = |i: usize| names(i, reasons[i].subject);
        // A member that names another member's item and not its own.
        let unadapted = members.iter().copied().find(|&i| {
            !own(i)
                && members.iter().any(|&j| {
                    reasons[j].subject != reasons[i].subject && names(i, reasons[j].subject)
                })
        });
        let severity = match unadapted {
            Some(_) => Severity::Warning,
            None if members.iter().any(|&i| own(i)) => continue,
            // Short causes («工资调整后，随之调整了缴费基数») are often truly shared.
            None if members.iter().any(|&i| reasons[i].chars < INFO_MIN_CHARS) => continue,
            None => Severity::Info,
        };
        let first = members[0];
        let second = unadapted
            .filter(|&i| i != first)
            .unwrap_or_else(|| members[1]);
        let (a, b) = (&reasons[first], &reasons[second]);
        let kind = a.kind.label();
        let sim = best.get(&second).copied().unwrap_or(1.0);
        let exact = a.bigrams == b.bigrams;
        let how = if exact {
            "相同".to_string()
        } else {
            format!("几乎相同（相似度 {:.0}%）", sim * 100.0)
        };
        let others = members.len() - 2;
        let more = if others > 0 {
            format!("，另有 {others} 处雷同")
        } else {
            String::new()
        };
        let message = match severity {
            Severity::Warning => format!(
                "“{}”的{kind}说明与“{}”（第{}行）{how}，且写的是另一项目，疑为复制未改，请核对{more}",
                subjects[b.subject].name, subjects[a.subject].name, a.line
            ),
            _ => format!(
                "“{}”的{kind}说明与“{}”（第{}行）{how}，请确认两项{kind}确实相同{more}",
                subjects[b.subject].name, subjects[a.subject].name, a.line
            ),
        };
        let quote = |no: u32, suspect: bool| Location {
            line: no,
            text: r
                .lines
                .get(no.saturating_sub(1) as usize)
                .cloned()
                .unwrap_or_default(),
            suspect,
            ..Location::default()
        };
        let mut locations = vec![quote(a.line, false), quote(b.line, true)];
        for &i in members
            .iter()
            .filter(|&&i| i != first && i != second)
            .take(2)
        {
            locations.push(quote(reasons[i].line, false));
        }
        out.push(Finding::new(
            "RD-20", severity, message, locations, None, None, None,
        ));
    }
}

fn is_subtotal(s: &Subject) -> bool {
    s.key == "公务用车购置及运行维护费"
}

/// Tables that print 基本支出 by economic classification, and the column holding a row's amount.
const BASIC_TABLES: &[&str] = &["公开06", "表6", "gpb_basic_by_econ", "fiscal_basic_by_econ"];
const BASIC_COLUMNS: &[&str] = &["决算数", "合计", "预算数", "金额"];

/// One 基本支出 table as RD-21/RD-22 read it.
struct BasicTable<'a> {
    id: &'a str,
    column: &'a str,
    /// Folded printed name → row key, for every printed economic row.
    by_name: HashMap<String, &'a str>,
    /// Printed economic row keys.
    keys: Vec<&'a str>,
}

impl BasicTable<'_> {
    /// The amount the table has for `code`: `Some(v)` (blank printed row → 0), `None` when the
    /// row is not printed or the cell is unreadable.
    fn amount(&self, r: &FactIndex<'_>, code: &str) -> Option<Decimal> {
        if r.is_unreadable(self.id, code, self.column) {
            return None;
        }
        match r.value(self.id, code, self.column) {
            Some(v) => Some(v),
            None if self.keys.contains(&code) => Some(Decimal::ZERO),
            None => None,
        }
    }
}

fn basic_tables<'a>(r: &FactIndex<'a>) -> Vec<BasicTable<'a>> {
    let mut out = Vec::new();
    for id in BASIC_TABLES {
        let Some(t) = r.table(id) else { continue };
        if r.facts_slice(id).is_empty() {
            continue;
        }
        let Some(column) = BASIC_COLUMNS.iter().find(|c| r.has_column(id, c)) else {
            continue;
        };
        let mut by_name = HashMap::new();
        let mut keys = Vec::new();
        for row in &t.rows {
            let code = row.key.as_str();
            if codes::economic_level(code).is_none() || !code.starts_with('3') {
                continue;
            }
            keys.push(code);
            by_name.entry(row_name(&row.label, code)).or_insert(code);
        }
        // A row that carries facts but was not listed among the printed rows.
        for k in r.row_keys(id) {
            if codes::economic_level(k).is_some() && k.starts_with('3') && !keys.contains(k) {
                keys.push(k);
                if let Some(n) = codes::lists().economic_name_folded(k) {
                    by_name.entry(n.to_string()).or_insert(k);
                }
            }
        }
        if keys.is_empty() {
            continue;
        }
        out.push(BasicTable {
            id,
            column,
            by_name,
            keys,
        });
    }
    out
}

/// A printed row label as a name: folded, without a leading code, ordinal or «其中：».
fn row_name(label: &str, code: &str) -> String {
    let folded = fold(label);
    let s = folded.strip_prefix(code).unwrap_or(&folded);
    let s = crate::parse::text::strip_ordinal(s);
    let s = s.strip_prefix("其中:").unwrap_or(s);
    s.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '、'))
        .to_string()
}

/// One element of a listed 基本支出 composition.
struct Listed {
    name: String,
    /// The quoted amount, when there is one.
    amount: Option<Decimal>,
    /// The unit the amount is printed in («万元», «元»).
    unit: &'static str,
    line: u32,
}

/// The elements after a list opener, up to the end of the sentence: names, each with the amount
/// that follows it.
fn list_elements(prose: &Prose, from: usize, to: usize) -> Vec<Listed> {
    let text = &prose.text[from..to];
    let mut out = Vec::new();
    let mut at = 0;
    for piece in text.split(['、', '，', ',', '；', ';']) {
        let offset = at;
        at += piece.len() + piece_sep_len(text, at + piece.len());
        let p = strip_opening(piece.trim());
        let p = p
            .trim_start_matches("主要包括")
            .trim_start_matches("包括")
            .trim_start_matches([':', '：']);
        let p = strip_opening(p);
        let name_end = p
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || c.is_whitespace())
            .map_or(p.len(), |(i, _)| i);
        let name = fold(&p[..name_end]);
        let name = name.trim_end_matches('等').to_string();
        if name.chars().count() < 2 {
            continue;
        }
        let rest = p[name_end..].trim_start();
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
            .collect();
        let after = &rest[digits.len()..];
        let unit = if after.starts_with("万元") {
            "万元"
        } else if after.starts_with('元') {
            "元"
        } else {
            ""
        };
        let amount = (!digits.is_empty() && !unit.is_empty())
            .then(|| crate::amount::parse_decimal(&digits.replace(',', "")))
            .flatten();
        out.push(Listed {
            name,
            amount,
            unit,
            line: prose.line_at(from + offset),
        });
    }
    out
}

/// The byte length of the separator at `i` of `text` (0 at the end).
fn piece_sep_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(0, char::len_utf8)
}

/// (heading line, last line) of the 基本支出 sections: the report's sections whose heading names
/// 基本支出 (名词解释 aside); when the reader found none, heading-like lines outside tables
/// («二、基本支出预算情况说明») up to the next line that opens with an ordinal 一、…十、 (at most
/// 40 lines).
fn basic_sections(r: &FactIndex<'_>) -> Vec<(u32, u32)> {
    let found: Vec<(u32, u32)> = (0..r.sections.len())
        .filter(|&i| {
            let h = r.section_heading(i);
            h.contains("基本支出") && !h.contains("名词")
        })
        .map(|i| (r.sections[i].first_line, r.sections[i].last_line))
        .collect();
    if !found.is_empty() {
        return found;
    }
    let chapter = |l: &str| {
        let t = l.trim_start_matches(['#', ' ']);
        let n = t
            .char_indices()
            .take_while(|(_, c)| "一二三四五六七八九十".contains(*c))
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        n > 0 && t[n..].starts_with('、')
    };
    let mut out = Vec::new();
    for (i, l) in r.lines.iter().enumerate() {
        if l.contains('\t') || !l.contains("基本支出") || l.chars().count() > 40 {
            continue;
        }
        if !(l.trim_end().ends_with("说明") || l.trim_end().ends_with("情况")) || !chapter(l) {
            continue;
        }
        let end = r.lines[i + 1..]
            .iter()
            .take(40)
            .position(|x| chapter(x))
            .map_or((i + 41).min(r.lines.len()), |k| i + 1 + k);
        out.push((i as u32 + 1, end as u32));
    }
    out
}

/// RD-21/RD-22: the economic items a 基本支出 paragraph lists, against the 基本支出 table.
fn lists(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    let ranges = basic_sections(r);
    if ranges.is_empty() {
        return;
    }
    let tables = basic_tables(r);
    if tables.is_empty() {
        return;
    }
    // The sections' lines are read at most twice over in all: a parsed report's sections do not
    // overlap (one nesting level at most reads a line twice), while a structured report may
    // name the same long range in every one of 200,000 sections — quadratic work otherwise.
    let mut budget = 2 * r.lines.len();
    for (first, last) in ranges {
        let (first, last) = (first as usize, (last as usize).min(r.lines.len()));
        if first == 0 || first > last {
            continue;
        }
        let Some(left) = budget.checked_sub(last - first) else {
            break;
        };
        budget = left;
        // The section's lines after its heading.
        let body: Vec<String> = r.lines[first..last].to_vec();
        let mut prose = Prose::new(&body, |_, t| t.starts_with('#') || looks_like_heading(t));
        for st in &mut prose.starts {
            st.1 += first as u32;
        }
        let text = prose.text.as_str();
        let mut openers: Vec<(usize, &str)> = text
            .match_indices("包括")
            .chain(text.match_indices("其中"))
            .collect();
        openers.sort_unstable();
        // A list is read once («主要包括包括…», «包括…其中…» inside one sentence).
        let mut done_until = 0;
        for (p, opener) in openers {
            if p < done_until {
                continue;
            }
            let from = p + opener.len();
            let to = text[from..]
                .find(['。', '\n'])
                .map_or(text.len(), |e| from + e);
            done_until = to;
            let elements = list_elements(&prose, from, to);
            members(r, &tables, &elements, out);
            if opener == "包括" {
                complete(r, &tables, &prose, p, to, &elements, out);
            }
        }
    }
}

/// The economic code a listed name stands for in `t`: its printed row by name, else the code
/// list's code of that name when the table prints it or its 类.
fn code_for<'a>(t: &BasicTable<'a>, name: &str) -> Option<&'a str> {
    if let Some(k) = t.by_name.get(name) {
        return Some(k);
    }
    let code: &'static str = codes::lists().economic_code_by_name(name, None)?;
    let lei = codes::parent(code).unwrap_or(code);
    t.keys.iter().any(|k| k.starts_with(lei)).then_some(code)
}

/// RD-21: listed items the table has blank, 0 or not at all.
fn members(
    r: &FactIndex<'_>,
    tables: &[BasicTable<'_>],
    elements: &[Listed],
    out: &mut Vec<Finding>,
) {
    for e in elements {
        // In every 基本支出 table the report has: found and non-zero somewhere → fine.
        let mut verdicts = Vec::new();
        for t in tables {
            let Some(code) = code_for(t, &e.name) else {
                verdicts.clear();
                break;
            };
            match t.amount(r, code) {
                Some(v) if !v.is_zero() => {
                    verdicts.clear();
                    break;
                }
                Some(v) => verdicts.push((t, code, Some(v))),
                // Not printed while its 类 is.
                None if !r.is_unreadable(t.id, code, t.column) => verdicts.push((t, code, None)),
                None => {
                    verdicts.clear();
                    break;
                }
            }
        }
        let Some((t, code, v)) = verdicts.first().copied() else {
            continue;
        };
        if verdicts.len() != tables.len() {
            continue;
        }
        // Named without an amount, an item is checked only against a printed row: a list of
        // names («主要包括：办公费、印刷费、咨询费…») beside a table that prints only its non-zero
        // rows is often the template's list of what the group may hold.
        let quoted = e.amount.filter(|a| !a.is_zero());
        if e.amount.is_some() && quoted.is_none() || quoted.is_none() && v.is_none() {
            continue;
        }
        let in_table = match v {
            Some(_) => format!("{} {code} 为空或 0", t.id),
            None => format!("{} 未列出 {code}", t.id),
        };
        let (severity, message) = match quoted {
            Some(a) => (
                Severity::Warning,
                format!(
                    "情况说明列出“{}”{} {}，但 {in_table}，请核对说明或表格",
                    e.name,
                    fmt(a),
                    e.unit
                ),
            ),
            None => (
                Severity::Info,
                format!("情况说明列出“{}”，但 {in_table}，请核对是否应列出", e.name),
            ),
        };
        let mut locations = vec![Location {
            line: e.line,
            text: r
                .lines
                .get(e.line.saturating_sub(1) as usize)
                .cloned()
                .unwrap_or_default(),
            suspect: true,
            ..Location::default()
        }];
        if v.is_some() {
            locations.push(r.cell_location(t.id, code, t.column));
        }
        out.push(Finding::new(
            "RD-21", severity, message, locations, v, quoted, None,
        ));
    }
}

/// RD-22: «人员经费/公用经费…包括：A、B、C» (no «主要», «其中», «等») leaving out a non-zero 款 (or
/// 类, when the list names 类) of the same group in the table.
fn complete(
    r: &FactIndex<'_>,
    tables: &[BasicTable<'_>],
    prose: &Prose,
    opener: usize,
    to: usize,
    elements: &[Listed],
    out: &mut Vec<Finding>,
) {
    let text = prose.text.as_str();
    let sentence_start = text[..opener].rfind(['。', '；', '\n']).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let head = &text[sentence_start..opener];
    let list = &text[opener..to];
    if head.contains("主要")
        || head.contains("其中")
        || list.contains('等')
        || list.contains("主要")
    {
        return;
    }
    let group = match (head.contains("人员经费"), head.contains("公用经费")) {
        (true, false) => codes::EconGroup::Personnel,
        (false, true) => codes::EconGroup::Public,
        _ => return,
    };
    let Some(t) = tables.first() else { return };
    let codes_listed: Vec<&str> = elements
        .iter()
        .filter_map(|e| code_for(t, &e.name))
        .collect();
    // Every element must be an economic item of the table: otherwise the list is not one of
    // them («包括办公及印刷费…» names no 款).
    if codes_listed.is_empty() || codes_listed.len() != elements.len() {
        return;
    }
    let level = if codes_listed.iter().all(|c| c.len() == 3) {
        3
    } else {
        5
    };
    let missing: Vec<(&str, Decimal)> = t
        .keys
        .iter()
        .copied()
        .filter(|k| k.len() == level && codes::econ_group(k) == group)
        .filter(|k| {
            !codes_listed
                .iter()
                .any(|c| *c == *k || (level == 3 && c.starts_with(*k)))
        })
        .filter_map(|k| t.amount(r, k).filter(|v| !v.is_zero()).map(|v| (k, v)))
        .collect();
    let Some((code, v)) = missing.first().copied() else {
        return;
    };
    let names: Vec<String> = missing
        .iter()
        .take(5)
        .map(|(k, v)| {
            format!(
                "{k} {} {}",
                codes::lists().economic_name(k).unwrap_or(""),
                fmt(*v)
            )
        })
        .collect();
    let line = prose.line_at(opener);
    out.push(Finding::new(
        "RD-22",
        Severity::Warning,
        format!(
            "情况说明以“包括”列举的构成未列出表中不为 0 的项目：{}（{} 共 {} 项），请补充或改为“主要包括…等”",
            names.join("、"),
            t.id,
            missing.len()
        ),
        vec![
            Location {
                line,
                text: r
                    .lines
                    .get(line.saturating_sub(1) as usize)
                    .cloned()
                    .unwrap_or_default(),
                suspect: true,
                ..Location::default()
            },
            r.cell_location(t.id, code, t.column),
        ],
        None,
        Some(v),
        None,
    ));
}
