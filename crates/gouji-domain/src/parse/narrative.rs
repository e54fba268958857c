//! The 情况说明 (narrative): sections and the figures they quote.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;

use super::Line;
use super::text::{fold, has};
use crate::amount::{MeasureUnit, parse_decimal};
use crate::model::{Direction, Figure, FigureKind, PerformanceScore, Provenance, Report, Section};

static HEADING_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:第[一二三四五六七八九十]+部分|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[)）])")
        .expect("static regex")
});
/// Characters a [`HEADING_RE`] match can start with.
const HEADING_FIRST: &[char] = &[
    '第', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十', '（', '(',
];
/// A number with its unit: amounts (万元/元/亿元), percentages and counts. The parser uses the
/// equivalent hand-written [`find_figures`]; tests check that they agree.
#[cfg(test)]
static FIGURE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?P<num>-?[0-9][0-9,]*(?:\.[0-9]+)?|∞)\s*(?P<unit>万元|亿元|元|%|％|人次|人|辆|批次|个|台（套）|台\(套\)|台|家|项)",
    )
    .expect("static regex")
});
/// OCR splits: «812. 04», «2946.25 万 元», «100. 24%».
static SPLIT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([0-9])\s*\.\s+([0-9])|([0-9])\s+\.([0-9])").expect("static regex")
});
static UNIT_SPLIT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([0-9])\s+(万|元|%|％)").expect("static regex"));
static WAN_YUAN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"万\s+元").expect("static regex"));

/// Joins numbers and units that OCR split apart, keeping everything else. Borrows when nothing
/// is split (every split has whitespace in it).
pub(crate) fn join_splits(s: &str) -> Cow<'_, str> {
    if !s.contains(char::is_whitespace) {
        return Cow::Borrowed(s);
    }
    let s = SPLIT_RE.replace_all(s, |c: &regex::Captures<'_>| {
        if let (Some(a), Some(b)) = (c.get(1), c.get(2)) {
            format!("{}.{}", a.as_str(), b.as_str())
        } else {
            format!("{}.{}", &c[3], &c[4])
        }
    });
    let s = WAN_YUAN_RE.replace_all(&s, "万元");
    Cow::Owned(UNIT_SPLIT_RE.replace_all(&s, "$1$2").into_owned())
}

/// Characters that end the label before a figure.
#[cfg(test)]
const BOUNDARY: &[char] = &[
    '，', ',', '。', '；', ';', '：', ':', '、', '（', '(', '）', ')', '！', '？', '\t',
];

/// `s.rfind(BOUNDARY)` with the boundary's length, scanning bytes backwards: the ASCII boundaries
/// are single bytes, the others are «。、» (E3 80 xx) and full-width forms (EF BC xx).
fn rfind_boundary(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    for i in (0..b.len()).rev() {
        match b[i] {
            b',' | b';' | b':' | b'(' | b')' | b'\t' => return Some((i, 1)),
            0x81 | 0x82 | 0x88 | 0x89 | 0x8C | 0x9A | 0x9B | 0x9F
                if i >= 2
                    && matches!(
                        &b[i - 2..=i],
                        [0xE3, 0x80, 0x81 | 0x82]
                            | [0xEF, 0xBC, 0x81 | 0x88 | 0x89 | 0x8C | 0x9A | 0x9B | 0x9F]
                    ) =>
            {
                return Some((i - 2, 3));
            }
            _ => {}
        }
    }
    None
}

fn direction_of(label: &str) -> Option<Direction> {
    let t = label.trim_end_matches(['了', '约', '为']);
    if ["增加", "增长", "上升", "提高", "增"]
        .iter()
        .any(|w| t.ends_with(w))
    {
        Some(Direction::Up)
    } else if ["减少", "下降", "降低", "减"]
        .iter()
        .any(|w| t.ends_with(w))
    {
        Some(Direction::Down)
    } else if t.ends_with("持平") {
        Some(Direction::Flat)
    } else {
        None
    }
}

/// Units in [`FIGURE_RE`]'s order of preference.
const UNITS: &[&str] = &[
    "万元",
    "亿元",
    "元",
    "%",
    "％",
    "人次",
    "人",
    "辆",
    "批次",
    "个",
    "台（套）",
    "台(套)",
    "台",
    "家",
    "项",
];

/// A [`FIGURE_RE`] match: where it is and its `num` and `unit` groups.
struct FigureMatch<'a> {
    start: usize,
    end: usize,
    num: &'a str,
    unit: &'a str,
}

/// The [`FIGURE_RE`] match starting exactly at byte `p`, if any. `num` is greedy and no unit
/// starts with a digit, comma, dot or whitespace, so no shorter `num` could match instead.
fn figure_at(s: &str, p: usize) -> Option<FigureMatch<'_>> {
    let b = s.as_bytes();
    let num_end = if s.get(p..)?.starts_with('∞') {
        p + '∞'.len_utf8()
    } else {
        let mut e = p + usize::from(b.get(p) == Some(&b'-'));
        if !b.get(e).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while e < b.len() && (b[e].is_ascii_digit() || b[e] == b',') {
            e += 1;
        }
        if b.get(e) == Some(&b'.') && b.get(e + 1).is_some_and(u8::is_ascii_digit) {
            e += 1;
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
        }
        e
    };
    let after_space = s[num_end..].trim_start();
    let unit = UNITS.iter().find(|u| after_space.starts_with(**u))?;
    let unit_start = s.len() - after_space.len();
    let end = unit_start + unit.len();
    Some(FigureMatch {
        start: p,
        end,
        num: &s[p..num_end],
        unit: &s[unit_start..end],
    })
}

/// The matches of [`FIGURE_RE`] in `s` as `find_iter` yields them, without the regex engine: the
/// leftmost start wins, and a match can only start at a digit, a minus sign or ∞.
fn find_figures(s: &str) -> impl Iterator<Item = FigureMatch<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let b = s.as_bytes();
        while pos < b.len() {
            // 0xE2 leads the UTF-8 encoding of ∞ (U+221E).
            if matches!(b[pos], b'0'..=b'9' | b'-' | 0xE2)
                && let Some(m) = figure_at(s, pos)
            {
                pos = m.end;
                return Some(m);
            }
            pos += 1;
        }
        None
    })
}

/// Extracts the figures of one narrative line.
pub(crate) fn figures_in_line(line_no: u32, raw: &str, text: &str, section: usize) -> Vec<Figure> {
    // Every figure has an ASCII digit or ∞, and joining splits adds neither.
    if !text.bytes().any(|b| b.is_ascii_digit()) && !text.contains('∞') {
        return Vec::new();
    }
    let joined = join_splits(text);
    let mut out = Vec::new();
    let mut last_end = 0;
    for m in find_figures(&joined) {
        let (num_text, unit_text) = (m.num, m.unit);
        let start = m.start;
        // A digit glued before the match means we are inside a longer token («2024年», codes).
        if joined[..start]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            continue;
        }
        let (kind, unit) = match unit_text {
            "万元" => (FigureKind::Amount, MeasureUnit::Wanyuan),
            "亿元" => (FigureKind::Amount, MeasureUnit::Yiyuan),
            "元" => (FigureKind::Amount, MeasureUnit::Yuan),
            "%" | "％" => (FigureKind::Percent, MeasureUnit::Percent),
            _ => (FigureKind::Count, MeasureUnit::Count),
        };
        let num_text = num_text.replace(',', "");
        let value: Option<Decimal> = if num_text == "∞" {
            None
        } else {
            parse_decimal(&num_text)
        };
        if value.is_none() && num_text != "∞" {
            continue;
        }
        if kind == FigureKind::Count && num_text.contains('.') {
            continue;
        }
        let prefix = &joined[last_end.min(start)..start];
        let label_start = rfind_boundary(prefix).map_or(0, |(i, len)| i + len);
        let mut label = prefix[label_start..].trim().to_string();
        for lead in ["其中", "主要包括", "包括", "均为", "分别为"] {
            if let Some(rest) = label.strip_prefix(lead) {
                label = rest.trim().to_string();
            }
        }
        let direction = direction_of(&label);
        // Past a cap the parse fails; nothing more is kept.
        if !crate::work::charge(crate::work::Item::Figure, raw.len()) {
            break;
        }
        out.push(Figure {
            section,
            kind,
            label,
            value,
            unit,
            printed: joined[m.start..m.end].to_string(),
            direction,
            source: Provenance {
                line: line_no,
                text: raw.to_string(),
            },
        });
        last_end = m.end;
    }
    out
}

/// Reads sections and figures from every line outside table regions.
pub(crate) fn read_narrative(lines: &[Line], in_table: &[bool], report: &mut Report) {
    report.sections.push(Section {
        heading: String::new(),
        first_line: 1,
        last_line: 1,
    });
    for (i, line) in lines.iter().enumerate() {
        if crate::work::step(1) {
            return;
        }
        if in_table[i] || line.noise {
            continue;
        }
        let text = line.text.trim();
        if text.is_empty() {
            continue;
        }
        let is_heading = text.starts_with(HEADING_FIRST)
            && HEADING_RE.is_match(text)
            && text.chars().count() <= 60
            && !text.contains('。')
            && !text.contains("……")
            && !text.contains("....");
        if is_heading {
            if let Some(last) = report.sections.last_mut() {
                last.last_line = line.no.saturating_sub(1).max(last.first_line);
            }
            report.sections.push(Section {
                heading: text.to_string(),
                first_line: line.no,
                last_line: line.no,
            });
            continue;
        }
        let section = report.sections.len() - 1;
        if let Some(last) = report.sections.last_mut() {
            last.last_line = line.no;
        }
        // Table-like lines outside tables (绩效自评表 etc.) are not narrative prose.
        if line.cells.len() > 2 {
            continue;
        }
        report
            .figures
            .extend(figures_in_line(line.no, line.raw, text, section));
    }
}

/// Reads 绩效自评表 score rows by their header: after a header row that prints a 分值 and a 得分
/// column, every row whose cells in those two columns are both numbers from 0 to 100 is a score
/// row (the 总分 row included). A row whose cells do not sit under the header (a ragged
/// extraction) is not read rather than read from the wrong columns; 栏次 rows are skipped. A table
/// title (a line outside tables naming a 表) ends the header.
pub(crate) fn read_performance_scores(lines: &[Line]) -> Vec<PerformanceScore> {
    let mut out = Vec::new();
    // (分值, 得分, indicator name) columns of the current header.
    let mut columns: Option<(usize, usize, Option<usize>)> = None;
    let hundred = Decimal::from(100);
    let score_of = |c: Option<&&str>| {
        c.and_then(|c| parse_decimal(c.trim()))
            .filter(|v| !v.is_sign_negative() && *v <= hundred)
    };
    for l in lines {
        if crate::work::step(1) {
            break;
        }
        if l.cells.len() <= 2 {
            if has(&l.folded, "表") {
                columns = None;
            }
            continue;
        }
        // Cells are folded only on a line that may be a header, or under one.
        if columns.is_none() && !has(&l.folded, "分值") {
            continue;
        }
        let folded: Vec<String> = l.cells.iter().map(|c| fold(c)).collect();
        if let Some(w) = folded.iter().position(|c| c.ends_with("分值"))
            && let Some(s) = folded[w + 1..].iter().position(|c| c.ends_with("得分"))
        {
            let name = folded[..w]
                .iter()
                .rposition(|c| c.ends_with("三级指标") || c.ends_with("指标名称"));
            columns = Some((w, w + 1 + s, name));
            continue;
        }
        let Some((w, s, name)) = columns else {
            continue;
        };
        let first = folded.iter().find(|c| !c.is_empty()).map_or("", |c| c);
        if matches!(first, "栏次" | "行次" | "序号") {
            continue;
        }
        let (Some(weight), Some(score)) = (score_of(l.cells.get(w)), score_of(l.cells.get(s)))
        else {
            continue;
        };
        let text = |c: &&&str| parse_decimal(c.trim()).is_none() && c.trim().chars().count() > 1;
        // The indicator's name: under the 三级指标 header when it prints one (or the nearest
        // name to its left), else the nearest text left of 分值.
        let indicator = name
            .and_then(|n| l.cells[..=n].iter().rev().find(text))
            .or_else(|| l.cells[..w].iter().rev().find(text))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        out.push(PerformanceScore {
            indicator,
            weight,
            score,
            line: l.no,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn regex_figures(s: &str) -> Vec<(usize, usize, String, String)> {
        FIGURE_RE
            .captures_iter(s)
            .map(|c| {
                let m = c.get(0).unwrap();
                (
                    m.start(),
                    m.end(),
                    c["num"].to_string(),
                    c["unit"].to_string(),
                )
            })
            .collect()
    }

    fn scanned_figures(s: &str) -> Vec<(usize, usize, String, String)> {
        find_figures(s)
            .map(|m| (m.start, m.end, m.num.to_string(), m.unit.to_string()))
            .collect()
    }

    #[test]
    fn finds_boundaries_like_rfind() {
        for t in [
            "",
            "abc",
            "a,b",
            "收入，支出",
            "一、二。三",
            "（一）x",
            "：；！？",
            "a\tb(c)d",
            "、“”…",
        ] {
            let std = t
                .rfind(BOUNDARY)
                .map(|i| (i, t[i..].chars().next().map_or(1, char::len_utf8)));
            assert_eq!(rfind_boundary(t), std, "{t:?}");
        }
        for c in BOUNDARY {
            let t = format!("x{c}y");
            assert_eq!(rfind_boundary(&t), Some((1, c.len_utf8())), "{c:?}");
        }
    }

    #[test]
    fn finds_figures_like_the_regex() {
        for t in [
            "1,884.42万元",
            "-12.5 %",
            "∞%",
            "3\u{3000}人次",
            "2台（套）",
            "7台(套)",
            "40.38％",
            "1.5 亿元",
            "12.5.3元，2024年12元",
            "--5元-6人 -x7辆",
            "1.元 .5元 5,元 ,5元",
            "增长∞%；2024年度；(9094年度)",
            "共有车辆2辆批次3批次个4个家5家项6项台7台",
        ] {
            assert_eq!(scanned_figures(t), regex_figures(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn finds_figures_like_the_regex_on_any_text(
            s in "[0-9,.∞\\- \u{3000}\t万元亿%％人次辆批个台（套）()家项年a]{0,24}"
        ) {
            proptest::prop_assert_eq!(scanned_figures(&s), regex_figures(&s));
        }
    }

    #[test]
    fn extracts_labelled_figures() {
        let f = figures_in_line(
            1,
            "",
            "绩效工资113.45万元，机关事业单位基本养老缴费49.25万元",
            0,
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].label, "绩效工资");
        assert_eq!(f[0].value, Some(dec!(113.45)));
        let f = figures_in_line(1, "", "与上年相比，收入总计减少1,884.42万元，下降40.38%", 0);
        assert_eq!(f[0].value, Some(dec!(1884.42)));
        assert_eq!(f[0].direction, Some(Direction::Down));
        assert_eq!(f[1].unit, MeasureUnit::Percent);
        let f = figures_in_line(
            1,
            "",
            "年初预算228. 32万元,完成年初预算的100. 24%。共有车辆2辆",
            0,
        );
        assert_eq!(f[0].value, Some(dec!(228.32)));
        assert_eq!(f[1].value, Some(dec!(100.24)));
        assert_eq!(f[2].kind, FigureKind::Count);
        let f = figures_in_line(1, "", "增长∞%；2024年度；(9094年度)", 0);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value, None);
        let f = figures_in_line(1, "", "总额2946.25 万 元", 0);
        assert_eq!(f[0].value, Some(dec!(2946.25)));
    }
}
