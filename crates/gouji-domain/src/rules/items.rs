//! The per-项 paragraphs of a 预算编制说明 / 情况说明: «“A（类）B（款）C（项）”X万元，…上年预算执行数为
//! P万元，本年预算安排X万元，比上年预算执行数增加y%» (Shanghai) and «B（款）C（项）支出 X 万元，与上年相比
//! 增加 D 万元，增长 y%» (Jiangsu), in any family.
//!
//! - NR-17: X equals the 项 row of the table it quotes (一般公共预算/财政拨款/部门 支出表 by function),
//!   found by the 项 name under its 款 name; compared in 万元 with half a unit of the last printed
//!   digit of each side. A 项 no table prints, or an unreadable cell, is not applicable.
//! - NR-18: y follows from the amounts it compares, within what their rounding allows; the
//!   direction (增加/减少) matches the sign.
//! - NR-19: one 项 quoted with two amounts (X and the 预算安排 of the same paragraph, or two
//!   paragraphs naming the same 类/款/项).
//!
//! The paragraphs are read from the document's lines outside tables, joined across line breaks
//! (a paragraph wraps mid-word in extracted text).

use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;

use super::prose::Prose;
use super::{FactIndex, Finding, Location, Severity, fmt, half_unit_of, location_at};
use crate::amount::{MeasureUnit, convert, parse_decimal};
use crate::parse::text::fold;

pub(super) const CATALOG: &[(&str, Severity, &str, &str, &str)] = &[
    (
        "NR-17",
        Severity::Error,
        "NA",
        "科目（项）说明金额与表格一致",
        "情况说明中“××（款）××（项）”的金额等于支出表中该项的金额（按项名称及其所属款名称对应；以万元比较，容差为两侧各半个末位单位）。",
    ),
    (
        "NR-18",
        Severity::Warning,
        "NA",
        "科目（项）增减率计算正确",
        "“比上年预算执行数增加/减少 y%”“与上年相比增加/减少 D 万元，增长/减少 y%”中的 y 由所比较的金额算得（在各数四舍五入允许的范围内），增减方向与金额一致；偏离超过 1 个百分点为错误。",
    ),
    (
        "NR-19",
        Severity::Error,
        "NA",
        "同一科目（项）金额前后一致",
        "同一段落中“××（项）X万元”与“预算安排 X万元”一致；不同段落对同一类/款/项给出的金额一致。",
    ),
];

const NUM: &str = r"([0-9][0-9,]*(?:\.[0-9]+)?)";

/// A 类/款/项 name: no quote, bracket or sentence punctuation, but short bracketed parts that are
/// not 类/款/项 markers are kept («党委办公厅（室）及相关机构事务»).
const NAME: &str = r"(?:[^“”（）。；，\s]|（[^（）类款项]{1,6}）)";

static ITEM_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:({NAME}{{2,30}})（类）)?({NAME}{{2,40}})（款）({NAME}{{2,60}})（项）”?\s*(?:支出)?\s*[:：]?\s*{NUM}\s*万元"
    ))
    .expect("item regex")
});
/// The ordinal, page number or quote a joined paragraph may leave before a name («1．», «28»,
/// «（一）», «二、», «“»).
static ORDINAL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[“\s．.、]|[0-9]+|[（(][一二三四五六七八九十]+[）)]|[一二三四五六七八九十]+、)+",
    )
    .expect("ordinal regex")
});
static PRIOR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"执行数为\s*{NUM}\s*万元")).expect("prior regex"));
static PLANNED_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"预算安排\s*{NUM}\s*万元")).expect("planned regex"));
static RATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"执行数(增加|减少|下降)\s*([0-9]+(?:\.[0-9]+)?)\s*[%％]").expect("rate regex")
});
static CHANGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"与上年(?:相比|比较)?\s*(增加|减少|下降)\s*{NUM}\s*万元\s*[，,]\s*(增长|增加|减少|下降)\s*([0-9]+(?:\.[0-9]+)?)\s*[%％]"
    ))
    .expect("change regex")
});

/// Function-classified tables a 项 amount may quote, most specific first.
const TABLES: &[&str] = &[
    "gpb_expense_by_function",
    "fiscal_expense_by_function",
    "expense_by_function",
];
/// Amount columns that hold a row's whole amount.
const COLUMNS: &[&str] = &["合计", "预算数", "决算数", "本年支出合计", "金额"];

/// One per-项 paragraph.
struct Item<'t> {
    class: Option<&'t str>,
    kuan: &'t str,
    xiang: &'t str,
    printed: &'t str,
    amount: Decimal,
    line: u32,
    /// The paragraph after the amount, up to the next item.
    body: &'t str,
    body_at: usize,
}

pub(super) fn check(r: &FactIndex<'_>, out: &mut Vec<Finding>) {
    static XIANG: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("（项）"));
    if !r.lines.iter().any(|l| XIANG.find(l.as_bytes()).is_some()) {
        return;
    }
    // No heading breaks a paragraph here: an item's paragraph may follow its heading.
    let prose = Prose::new(&r.lines, |_, _| false);
    let text = prose.text.as_str();
    // The item pattern is searched only around each «（项）» (from the sentence it sits in):
    // over a whole document it costs a hundred times more.
    let mut matches: Vec<(usize, regex::Captures<'_>)> = Vec::new();
    for p in memchr::memmem::find_iter(text.as_bytes(), "（项）".as_bytes()) {
        let floor = p.saturating_sub(600);
        let from = text[..p]
            .rfind(['。', '；', '\n'])
            .filter(|&b| b >= floor)
            .map_or_else(
                || boundary(text, floor),
                |b| b + text[b..].chars().next().map_or(1, char::len_utf8),
            );
        let from = from.max(
            matches
                .last()
                .map_or(0, |(at, c)| at + c.get(0).map_or(0, |m| m.end())),
        );
        if from > p {
            continue;
        }
        let to = boundary(text, (p + 120).min(text.len()));
        for c in ITEM_RE.captures_iter(&text[from..to]) {
            matches.push((from, c));
        }
    }
    let mut items = Vec::with_capacity(matches.len());
    for (k, (base, c)) in matches.iter().enumerate() {
        let m = c.get(0).expect("match");
        let (start, stop) = (base + m.start(), base + m.end());
        let end = matches
            .get(k + 1)
            .map_or(text.len(), |(b, n)| b + n.get(0).expect("match").start());
        let body_end = text[stop..end].find('\n').map_or(end, |p| stop + p);
        let printed = c.get(4).expect("amount").as_str();
        let Some(amount) = parse_decimal(&printed.replace(',', "")) else {
            continue;
        };
        let name = |g: usize| {
            c.get(g).map(|m| {
                // What a joined line leaves before the name: «其中：», a page number, an
                // ordinal.
                let s = m.as_str();
                let s = s.rsplit(['：', ':']).next().unwrap_or(s);
                s[ORDINAL_RE.find(s).map_or(0, |o| o.end())..].trim()
            })
        };
        items.push(Item {
            class: name(1).filter(|s| !s.is_empty()),
            kuan: name(2).unwrap_or_default(),
            xiang: name(3).unwrap_or_default(),
            printed,
            amount,
            line: prose.line_at(start),
            body: &text[stop..body_end],
            body_at: stop,
        });
    }
    let tables = FunctionTables::new(r);
    for item in &items {
        against_table(r, &tables, item, out);
        rate(r, &prose, item, out);
    }
    repeated(r, &items, out);
}

/// The function-classified tables an item may quote ([`TABLES`]), with their 项 rows by folded
/// name and every row's folded name by code: built once per report, so that each item costs a
/// lookup, not a pass over every row (linear in items + rows, not their product).
struct FunctionTables<'a> {
    tables: Vec<FunctionTable<'a>>,
}

struct FunctionTable<'a> {
    table: &'a crate::model::Table,
    base: &'a str,
    /// Folded 项 name → 7-digit row codes, in table order.
    xiang: std::collections::HashMap<String, Vec<&'a str>>,
    /// Row code → folded name.
    names: std::collections::HashMap<&'a str, String>,
}

impl<'a> FunctionTables<'a> {
    fn new(r: &'a FactIndex<'_>) -> Self {
        let tables = r
            .tables
            .iter()
            .filter_map(|t| {
                let base = t.id.split('@').next().unwrap_or(&t.id);
                TABLES.contains(&base).then_some((t, base))
            })
            .map(|(table, base)| {
                let mut xiang: std::collections::HashMap<String, Vec<&str>> =
                    std::collections::HashMap::new();
                let mut names = std::collections::HashMap::new();
                for row in &table.rows {
                    let name = fold(&row.label);
                    if row.key.len() == 7 && row.key.bytes().all(|b| b.is_ascii_digit()) {
                        xiang.entry(name.clone()).or_default().push(&row.key);
                    }
                    names.entry(row.key.as_str()).or_insert(name);
                }
                FunctionTable {
                    table,
                    base,
                    xiang,
                    names,
                }
            })
            .collect();
        FunctionTables { tables }
    }
}

/// The largest char boundary of `s` at or below `at`.
fn boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn text_location(r: &FactIndex<'_>, line: u32, suspect: bool) -> Location {
    Location {
        line,
        text: r
            .lines
            .get((line as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_default(),
        suspect,
        ..Location::default()
    }
}

fn item_name(item: &Item<'_>) -> String {
    match item.class {
        Some(c) => format!("{c}（类）{}（款）{}（项）", item.kuan, item.xiang),
        None => format!("{}（款）{}（项）", item.kuan, item.xiang),
    }
}

/// NR-17.
fn against_table(
    r: &FactIndex<'_>,
    tables: &FunctionTables<'_>,
    item: &Item<'_>,
    out: &mut Vec<Finding>,
) {
    let xiang = fold(item.xiang);
    let kuan = fold(item.kuan);
    let mut candidates = Vec::new();
    for ft in &tables.tables {
        let (t, base) = (ft.table, ft.base);
        let Some(rows) = ft.xiang.get(&xiang) else {
            continue;
        };
        let row = match rows.as_slice() {
            [] => continue,
            [one] => *one,
            several => match several
                .iter()
                .find(|k| ft.names.get(&k[..5]).is_some_and(|l| *l == kuan))
            {
                Some(k) => *k,
                None => continue,
            },
        };
        let Some(column) = COLUMNS
            .iter()
            .find(|c| r.fact(&t.id, row, c).is_some() || r.is_unreadable(&t.id, row, c))
        else {
            continue;
        };
        if r.is_unreadable(&t.id, row, column) {
            return;
        }
        let Some(f) = r.fact(&t.id, row, column) else {
            continue;
        };
        let (Some(value), Some(cell_half)) = (
            convert(f.value, t.unit, MeasureUnit::Wanyuan),
            convert(
                Decimal::new(5, f.value.scale() + 1),
                t.unit,
                MeasureUnit::Wanyuan,
            ),
        ) else {
            continue;
        };
        let rank = TABLES
            .iter()
            .position(|x| *x == base)
            .unwrap_or(TABLES.len());
        candidates.push((rank, t, row, *column, f, value, cell_half));
    }
    candidates.sort_by_key(|c| c.0);
    let Some(first) = candidates.first() else {
        return;
    };
    let half = half_unit_of(item.printed);
    if candidates
        .iter()
        .any(|(.., value, cell_half)| (item.amount - value).abs() <= half + cell_half)
    {
        return;
    }
    let (_, t, row, column, f, value, cell_half) = *first;
    let base = t.id.split('@').next().unwrap_or(&t.id);
    let name =
        crate::catalog::catalog_table(base).map_or(t.id.clone(), |m| match &t.printed_number {
            Some(n) => format!("{}（{n}）", m.name),
            None => m.name.clone(),
        });
    out.push(Finding::new(
        "NR-17",
        Severity::Error,
        format!(
            "情况说明中“{}”为 {} 万元，{name} {row} {column} 为 {} {}（{} 万元），不一致",
            item_name(item),
            fmt(item.amount),
            fmt(f.value),
            t.unit.label(),
            fmt(value.round_dp(6).normalize()),
        ),
        vec![
            text_location(r, item.line, true),
            location_at(&t.id, row, column, Some(f)),
        ],
        Some(value),
        Some(item.amount),
        Some(half + cell_half),
    ));
}

/// The range of `(a − b) / b × 100` over a ∈ [a ± ha], b ∈ [b ± hb] (b > 0 throughout).
fn rate_range(a: Decimal, ha: Decimal, b: Decimal, hb: Decimal) -> Option<(Decimal, Decimal)> {
    if b - hb <= Decimal::ZERO {
        return None;
    }
    let hundred = Decimal::ONE_HUNDRED;
    let corners = [
        (a - ha, b - hb),
        (a - ha, b + hb),
        (a + ha, b - hb),
        (a + ha, b + hb),
    ];
    let vals: Vec<Decimal> = corners
        .iter()
        .filter_map(|(x, y)| (x - y).checked_mul(hundred)?.checked_div(*y))
        .collect();
    Some((*vals.iter().min()?, *vals.iter().max()?))
}

/// NR-18 and the paragraph half of NR-19.
fn rate(r: &FactIndex<'_>, prose: &Prose, item: &Item<'_>, out: &mut Vec<Finding>) {
    let num = |s: &str| parse_decimal(&s.replace(',', ""));
    // The rate compares this year's 预算安排 (when the paragraph prints it; else the amount
    // quoted first) with last year's figure.
    let planned = PLANNED_RE.captures(item.body);
    let (x, hx) = match planned
        .as_ref()
        .and_then(|b| Some((num(&b[1])?, half_unit_of(&b[1]))))
    {
        Some(b) => b,
        None => (item.amount, half_unit_of(item.printed)),
    };
    // Shanghai: 执行数为 P … 预算安排 B … 比…执行数增加 y%.
    if let Some(p) = PRIOR_RE.captures(item.body) {
        let prior_printed = &p[1];
        if let Some(b) = &planned
            && let Some(bv) = num(&b[1])
            && (bv - item.amount).abs() > half_unit_of(item.printed) + half_unit_of(&b[1])
        {
            let at = prose.line_at(item.body_at + b.get(0).expect("match").start());
            out.push(Finding::new(
                "NR-19",
                Severity::Error,
                format!(
                    "“{}”先写 {} 万元，后写预算安排 {} 万元，同一项两个金额",
                    item_name(item),
                    fmt(item.amount),
                    fmt(bv)
                ),
                vec![
                    text_location(r, item.line, false),
                    text_location(r, at, true),
                ],
                Some(item.amount),
                Some(bv),
                Some(Decimal::ZERO),
            ));
        }
        let (Some(prior), Some(c)) = (num(prior_printed), RATE_RE.captures(item.body)) else {
            return;
        };
        let Some(y) = num(&c[2]) else { return };
        let signed = if &c[1] == "增加" { y } else { -y };
        let at = prose.line_at(item.body_at + c.get(0).expect("match").start());
        judge(
            r,
            item,
            (signed, &c[2], &c[0]),
            rate_range(x, hx, prior, half_unit_of(prior_printed)),
            at,
            out,
        );
        return;
    }
    // Jiangsu: 与上年相比增加 D 万元，增长 y%.
    if let Some(c) = CHANGE_RE.captures(item.body) {
        let (Some(d), Some(y)) = (num(&c[2]), num(&c[4])) else {
            return;
        };
        let up = &c[1] == "增加";
        if up != matches!(&c[3], "增长" | "增加") {
            return;
        }
        let hd = half_unit_of(&c[2]);
        // prior = X ∓ D; the rate is (X − prior) / prior.
        let prior = if up { x - d } else { x + d };
        let signed = if up { y } else { -y };
        let at = prose.line_at(item.body_at + c.get(0).expect("match").start());
        judge(
            r,
            item,
            (signed, &c[4], &c[0]),
            rate_range(x, hx, prior, hx + hd),
            at,
            out,
        );
    }
}

/// Reports a printed rate outside the range its amounts allow.
fn judge(
    r: &FactIndex<'_>,
    item: &Item<'_>,
    (signed, printed, phrase): (Decimal, &str, &str),
    range: Option<(Decimal, Decimal)>,
    at: u32,
    out: &mut Vec<Finding>,
) {
    let Some((lo, hi)) = range else { return };
    let hy = half_unit_of(printed);
    if signed + hy >= lo && signed - hy <= hi {
        return;
    }
    let mid = ((lo + hi) / Decimal::TWO).round_dp(2);
    let gap = if signed < lo {
        lo - signed
    } else {
        signed - hi
    };
    let wrong_direction = signed.is_sign_negative() != mid.is_sign_negative() && !mid.is_zero();
    let severity = if wrong_direction || gap > Decimal::ONE {
        Severity::Error
    } else {
        Severity::Warning
    };
    out.push(Finding::new(
        "NR-18",
        severity,
        format!(
            "“{}”{}：按所比较的金额应为 {}%{}",
            item_name(item),
            phrase,
            fmt(mid),
            if wrong_direction {
                "，增减方向相反"
            } else {
                ""
            }
        ),
        vec![text_location(r, at, true)],
        Some(mid),
        Some(signed),
        Some(hy),
    ));
}

/// NR-19 across paragraphs of one section: the same 类/款/项 quoted with two amounts (two sections
/// may quote one 项 from two tables: 财政拨款 and 一般公共预算).
fn repeated(r: &FactIndex<'_>, items: &[Item<'_>], out: &mut Vec<Finding>) {
    let section = |line: u32| {
        r.sections
            .iter()
            .rposition(|s| s.first_line <= line && line <= s.last_line)
    };
    // The first earlier item of each (款, 项, section, 类): the earlier item an item repeats is
    // the first one with its 类 or with none, so two lookups replace a pass over every earlier
    // item (linear in the items, not quadratic).
    type Key<'t> = (&'t str, &'t str, Option<usize>, Option<&'t str>);
    let mut first: std::collections::HashMap<Key<'_>, usize> = std::collections::HashMap::new();
    for (k, a) in items.iter().enumerate() {
        let sec = section(a.line);
        let same_class = first.get(&(a.kuan, a.xiang, sec, a.class)).copied();
        let no_class = first.get(&(a.kuan, a.xiang, sec, None)).copied();
        first.entry((a.kuan, a.xiang, sec, a.class)).or_insert(k);
        let Some(b) = same_class
            .into_iter()
            .chain(no_class)
            .min()
            .map(|i| &items[i])
        else {
            continue;
        };
        if (a.amount - b.amount).abs() <= half_unit_of(a.printed) + half_unit_of(b.printed) {
            continue;
        }
        out.push(Finding::new(
            "NR-19",
            Severity::Warning,
            format!(
                "“{}”在第 {} 行为 {} 万元，在第 {} 行为 {} 万元，同一项两个金额",
                item_name(a),
                b.line,
                fmt(b.amount),
                a.line,
                fmt(a.amount)
            ),
            vec![
                text_location(r, b.line, false),
                text_location(r, a.line, true),
            ],
            Some(b.amount),
            Some(a.amount),
            Some(Decimal::ZERO),
        ));
    }
}
