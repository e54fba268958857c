//! Text normalisation for matching: OCR traditional characters, full-width forms, ordinals,
//! Markdown/HTML residue.

use std::borrow::Cow;
use std::sync::LazyLock;

/// `hay.contains(needle)` for the short fixed needles tested against every line: finds the
/// needle's last byte with memchr and compares backwards. In Chinese text the last (continuation)
/// byte of a character is far more selective than the lead bytes a general-purpose searcher's
/// prefilter favours, and nothing has to be built per call. At most `needle.len()` bytes are
/// compared per candidate, so the cost stays linear in `hay`.
pub(crate) fn has(hay: &str, needle: &str) -> bool {
    match Candidates::new(hay, needle) {
        Candidates::Empty => true,
        Candidates::Search(c) => memchr::memchr_iter(c.last, c.tail()).any(|p| c.matches_at(p)),
        Candidates::TooShort => false,
    }
}

/// `hay.rfind(needle)` for short texts and needles, without building a searcher: the last
/// occurrence's byte offset, found from the end by the needle's last byte (as [`has`]).
pub(crate) fn rfind_short(hay: &str, needle: &str) -> Option<usize> {
    match Candidates::new(hay, needle) {
        Candidates::Empty => Some(hay.len()),
        Candidates::Search(c) => memchr::memrchr_iter(c.last, c.tail()).find(|&p| c.matches_at(p)),
        Candidates::TooShort => None,
    }
}

/// The shared part of [`has`] and [`rfind_short`]: positions of the needle's last byte in the
/// haystack's tail are candidates for an occurrence starting at that position.
enum Candidates<'a> {
    Empty,
    TooShort,
    Search(Search<'a>),
}

struct Search<'a> {
    hay: &'a [u8],
    /// The needle without its last byte.
    init: &'a [u8],
    last: u8,
}

impl<'a> Candidates<'a> {
    fn new(hay: &'a str, needle: &'a str) -> Self {
        let (hay, n) = (hay.as_bytes(), needle.as_bytes());
        match n.split_last() {
            None => Candidates::Empty,
            Some(_) if n.len() > hay.len() => Candidates::TooShort,
            Some((&last, init)) => Candidates::Search(Search { hay, init, last }),
        }
    }
}

impl Search<'_> {
    /// Where the needle's last byte may stand: position `p` here is an occurrence at `hay[p..]`.
    fn tail(&self) -> &[u8] {
        &self.hay[self.init.len()..]
    }

    /// Whether the needle starts at `p`, given that its last byte is in place. Compares from the
    /// end and exits on the first differing byte, without a call into memcmp.
    #[inline]
    fn matches_at(&self, p: usize) -> bool {
        self.hay[p..p + self.init.len()]
            .iter()
            .rev()
            .zip(self.init.iter().rev())
            .all(|(a, b)| a == b)
    }
}

/// «年度» as bytes, for [`year_mentions`].
static YEAR_WORD: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("年度"));

/// Every year written as «NNNN年度» in `text` (four ASCII digits, then optional whitespace on the
/// same line, then «年度»): what the regex `([0-9]{4})\s*年度` captures (whitespace as in the
/// regex: the Unicode `White_Space` property), with its 1-based line as [`lines`] numbers them.
/// One search over the whole text while it is in cache; lines are counted between matches.
pub(crate) fn year_mentions(text: &str) -> Vec<crate::model::YearMention> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut line, mut counted) = (1u32, 0usize);
    for at in YEAR_WORD.find_iter(bytes) {
        line += memchr::memchr_iter(b'\n', &bytes[counted..at]).count() as u32;
        counted = at;
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let head = text[line_start..at]
            .trim_end_matches(char::is_whitespace)
            .as_bytes();
        let Some(digits) = head
            .get(head.len().saturating_sub(4)..)
            .filter(|d| d.len() == 4)
        else {
            continue;
        };
        if digits.iter().all(u8::is_ascii_digit) {
            let year = digits
                .iter()
                .fold(0i32, |y, d| y * 10 + i32::from(d - b'0'));
            out.push(crate::model::YearMention { line, year });
        }
    }
    out
}

/// Folds a label for matching: drops whitespace and quotes, maps full-width brackets to ASCII and
/// common OCR traditional characters to simplified ones. The result is only for comparison;
/// provenance keeps the printed text.
pub fn fold(s: &str) -> String {
    fold_cow(s).into_owned()
}

/// [`fold`] without allocating when the text is already folded (the common case).
pub fn fold_cow(s: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    // Copy runs of characters that fold to themselves in one go; most characters do.
    let mut run = 0;
    while let Some((i, ch)) = next_change(s, run) {
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        o.push_str(&s[run..i]);
        if let Some(c) = fold_char(ch) {
            o.push(c);
        }
        run = i + ch.len_utf8();
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[run..]);
            Cow::Owned(o)
        }
    }
}

/// The first character of `fold(s)`, without folding the rest.
pub(crate) fn folded_first_char(s: &str) -> Option<char> {
    s.chars().find_map(fold_char)
}

/// What folding makes of one character: `None` drops it.
#[inline]
fn fold_char(ch: char) -> Option<char> {
    match ch {
        ' ' | '\u{3000}' | '\t' | '\u{a0}' | '“' | '”' | '"' | '\'' | '‘' | '’' | '「' | '」'
        | '*' => None,
        '（' => Some('('),
        '）' => Some(')'),
        '：' => Some(':'),
        '，' => Some(','),
        other => Some(simplify(other)),
    }
}

/// The first character at or after byte `from` that [`fold_char`] changes, with its offset. Scans
/// the UTF-8 bytes directly (the text is mostly ASCII digits and three-byte CJK characters):
/// ASCII bytes are tested against a constant mask, other code points looked up in [`FOLDS`].
fn next_change(s: &str, from: usize) -> Option<(usize, char)> {
    let b = s.as_bytes();
    let folds = &*FOLDS;
    let mut i = from;
    while let Some(&x) = b.get(i) {
        if x < 0x80 {
            if ASCII_FOLDS & (1u128 << x) != 0 {
                return Some((i, char::from(x)));
            }
            i += 1;
            continue;
        }
        // `s` is valid UTF-8, so a lead byte is followed by its continuation bytes.
        let (u, len) = if x < 0xE0 {
            let y = b.get(i + 1).copied().unwrap_or(0);
            ((u32::from(x & 0x1F) << 6) | u32::from(y & 0x3F), 2)
        } else if x < 0xF0 {
            let (y, z) = match b.get(i + 1..i + 3) {
                Some(&[y, z]) => (y, z),
                _ => (0, 0),
            };
            let hi = (u32::from(x & 0x0F) << 6) | u32::from(y & 0x3F);
            // One word of FOLDS covers the 64 code points sharing the lead and second byte.
            let word = folds[hi as usize];
            if word == 0 {
                i += 3;
                continue;
            }
            ((hi << 6) | u32::from(z & 0x3F), 3)
        } else {
            // Four-byte sequences (outside the BMP) never fold.
            i += 4;
            continue;
        };
        if folds[(u / 64) as usize] & (1 << (u % 64)) != 0 {
            return char::from_u32(u).map(|c| (i, c));
        }
        i += len;
    }
    None
}

/// The ASCII characters [`fold_char`] changes, one bit per byte value (checked by the
/// `fold_bitmap_matches_fold_char` test).
const ASCII_FOLDS: u128 = (1 << b' ') | (1 << b'\t') | (1 << b'"') | (1 << b'\'') | (1 << b'*');

/// One bit per Basic Multilingual Plane code point: set when [`fold_char`] changes it. Nothing
/// outside the BMP folds (checked by the `fold_bitmap_matches_fold_char` test).
static FOLDS: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut bits = vec![0u64; 0x10000 / 64];
    for u in 0..0x10000u32 {
        if let Some(c) = char::from_u32(u)
            && fold_char(c) != Some(c)
        {
            bits[(u / 64) as usize] |= 1 << (u % 64);
        }
    }
    bits
});

/// Maps traditional characters that OCR produces in these documents to simplified ones.
fn simplify(c: char) -> char {
    match c {
        '預' => '预',
        '數' => '数',
        '決' => '决',
        '項' => '项',
        '級' => '级',
        '財' => '财',
        '撥' => '拨',
        '補' => '补',
        '費' => '费',
        '經' => '经',
        '營' => '营',
        '資' => '资',
        '國' => '国',
        '計' => '计',
        '總' => '总',
        '產' => '产',
        '務' => '务',
        '發' => '发',
        '與' => '与',
        '額' => '额',
        '結' => '结',
        '轉' => '转',
        '餘' => '余',
        '開' => '开',
        '會' => '会',
        '衛' => '卫',
        '醫' => '医',
        '療' => '疗',
        '險' => '险',
        '單' => '单',
        '價' => '价',
        '車' => '车',
        '輛' => '辆',
        '報' => '报',
        '門' => '门',
        '業' => '业',
        '專' => '专',
        '運' => '运',
        '維' => '维',
        '護' => '护',
        '購' => '购',
        '訓' => '训',
        '議' => '议',
        '類' => '类',
        '個' => '个',
        '實' => '实',
        '當' => '当',
        '職' => '职',
        '應' => '应',
        '稅' => '税',
        '興' => '兴',
        '學' => '学',
        '間' => '间',
        '収' => '收',
        '単' => '单',
        '敎' => '教',
        other => other,
    }
}

/// Removes a leading ordinal: «一、», «二十六、», «(一)», «（二）», «1.», «1、», «①», «(1)».
pub fn strip_ordinal(s: &str) -> &str {
    let t = s.trim_start();
    let chinese_num = |c: char| {
        matches!(
            c,
            '一' | '二' | '三' | '四' | '五' | '六' | '七' | '八' | '九' | '十' | '百'
        )
    };
    // 一、 … 二十六、
    let n: usize = t
        .chars()
        .take_while(|&c| chinese_num(c))
        .map(char::len_utf8)
        .sum();
    if n > 0
        && let Some(rest) = t[n..].strip_prefix('、')
    {
        return rest.trim_start();
    }
    // (一) （一） (1)
    for (open, close) in [('(', ')'), ('（', '）')] {
        if let Some(rest) = t.strip_prefix(open)
            && let Some(end) = rest.find(close)
        {
            let inner = &rest[..end];
            if !inner.is_empty() && inner.chars().all(|c| chinese_num(c) || c.is_ascii_digit()) {
                return rest[end + close.len_utf8()..].trim_start();
            }
        }
    }
    // 1. 1、 12．
    let d: usize = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if d > 0 && d <= 2 {
        let rest = &t[d..];
        for sep in ['.', '、', '．'] {
            if let Some(r) = rest.strip_prefix(sep) {
                // "1.5万元" is a number, not an ordinal.
                if !r.starts_with(|c: char| c.is_ascii_digit()) {
                    return r.trim_start();
                }
            }
        }
    }
    // ①…⑳
    if let Some(c) = t.chars().next()
        && ('①'..='⑳').contains(&c)
    {
        return t[c.len_utf8()..].trim_start();
    }
    t
}

/// Cleans one line of Markdown/HTML residue: heading hashes, list dashes, bold markers, tags.
/// Tabs (cell separators) are kept.
pub fn clean_line(raw: &str) -> String {
    clean_line_cow(raw).into_owned()
}

/// [`clean_line`] without allocating when there is no HTML tag or bold marker to remove.
pub fn clean_line_cow(raw: &str) -> Cow<'_, str> {
    let mut s = raw.trim_end_matches(['\r', '\n']);
    let trimmed = s.trim_start_matches([' ', '\u{3000}']);
    let mut t = trimmed;
    if t.starts_with('#') {
        t = t.trim_start_matches('#').trim_start();
    }
    if let Some(r) = t.strip_prefix("- ") {
        t = r;
    }
    s = t;
    let no_tags = crate::amount::strip_html(s);
    if !has(&no_tags, "**") {
        return no_tags;
    }
    Cow::Owned(no_tags.replace("**", ""))
}

/// Splits a cleaned line into cells on tabs, trimming each cell.
pub fn cells(line: &str) -> Vec<String> {
    cell_iter(line).map(str::to_string).collect()
}

/// `s.trim()`, deciding from the end bytes first: cells are mostly CJK text or digits, which never
/// start or end with whitespace, and looking at two bytes is cheaper than decoding two characters.
pub(crate) fn trim(s: &str) -> &str {
    // Lead bytes of every whitespace character: ASCII controls and space, U+0085 and U+00A0 (C2),
    // U+1680 (E1), U+2000–U+205F (E2), U+3000 (E3).
    let may_be_space = |lead: u8| matches!(lead, 0x09..=0x0D | b' ' | 0xC2 | 0xE1..=0xE3);
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return s;
    };
    // The last character's lead byte: skip at most three continuation bytes.
    let mut i = b.len() - 1;
    while i > 0 && b.len() - i < 4 && (0x80..0xC0).contains(&b[i]) {
        i -= 1;
    }
    if may_be_space(first) || may_be_space(b[i]) {
        s.trim()
    } else {
        s
    }
}

/// [`cells`] as borrowed slices of `line`.
pub fn cell_iter(line: &str) -> impl Iterator<Item = &str> {
    // Same as `line.split('\t')`; `trim` also removes U+3000 (ideographic space).
    let mut start = 0;
    memchr::memchr_iter(b'\t', line.as_bytes())
        .map(Some)
        .chain([None])
        .map(move |tab| {
            let end = tab.unwrap_or(line.len());
            let cell = &line[start..end];
            start = end + 1;
            trim(cell)
        })
}

/// The lines of `text`, exactly as [`str::lines`] splits them.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text.as_bytes())
        .map(Some)
        .chain([None])
        .filter_map(move |nl| {
            match nl {
                Some(nl) => {
                    let line = &text[start..nl];
                    start = nl + 1;
                    Some(line.strip_suffix('\r').unwrap_or(line))
                }
                // No final empty line after a trailing newline (or for empty text); a last line
                // without a newline keeps a trailing '\r'.
                None if start >= text.len() => None,
                None => Some(&text[start..]),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::YearMention;

    #[test]
    fn rfind_short_agrees_with_rfind() {
        let hay = "公务用车运行维护费1.00万元，公务接待费0.95万元，公务用车购置费0万元";
        for needle in [
            "公务用车",
            "公务接待",
            "万元",
            "费",
            "因公出国",
            "",
            "元，公",
        ] {
            assert_eq!(rfind_short(hay, needle), hay.rfind(needle), "{needle}");
        }
        assert_eq!(rfind_short("费", "公务接待费"), None);
    }

    #[test]
    fn year_mentions_find_every_four_digit_year_with_its_line() {
        let text = "柳林县2024年度决算\r\n目录\n项目支出绩效自评表(9094 年度)与2023年度对比\n\
                    24年度 不计\n年度\n12345年度\n2024\n年度";
        let got = year_mentions(text);
        let want = [(1, 2024), (3, 9094), (3, 2023), (6, 2345)];
        let want: Vec<YearMention> = want
            .iter()
            .map(|&(line, year)| YearMention { line, year })
            .collect();
        // «24年度» has two digits, a bare «年度» none, and a year on the line before «年度»
        // does not count (whitespace never crosses a line).
        assert_eq!(got, want);
    }

    #[test]
    fn strips_ordinals() {
        assert_eq!(
            strip_ordinal("二十六、抗疫特别国债安排的支出"),
            "抗疫特别国债安排的支出"
        );
        assert_eq!(strip_ordinal("(一) 车辆数合计(辆)"), "车辆数合计(辆)");
        assert_eq!(strip_ordinal("（二）公用经费"), "公用经费");
        assert_eq!(strip_ordinal("①公务用车购置费"), "公务用车购置费");
        assert_eq!(strip_ordinal("8. 其他用车"), "其他用车");
        assert_eq!(strip_ordinal("1.5万元"), "1.5万元");
        assert_eq!(strip_ordinal("本年收入合计"), "本年收入合计");
    }

    /// The character-at-a-time definition `fold` must agree with.
    fn fold_reference(s: &str) -> String {
        let mut out = String::new();
        for ch in s.chars() {
            let c = match ch {
                ' ' | '\u{3000}' | '\t' | '\u{a0}' | '“' | '”' | '"' | '\'' | '‘' | '’' | '「'
                | '」' | '*' => continue,
                '（' => '(',
                '）' => ')',
                '：' => ':',
                '，' => ',',
                other => simplify(other),
            };
            out.push(c);
        }
        out
    }

    #[test]
    fn fold_bitmap_matches_fold_char() {
        for u in 0..=0x10FFFF_u32 {
            if let Some(c) = char::from_u32(u) {
                let mut buf = [0u8; 4];
                let s = c.encode_utf8(&mut buf);
                let changes = next_change(s, 0).is_some();
                assert_eq!(changes, fold_char(c) != Some(c), "{c:?}");
            }
        }
        assert!(matches!(fold_cow("收入总计"), Cow::Borrowed(_)));
        assert_eq!(fold_cow("收入總計"), "收入总计");
    }

    #[test]
    fn splits_like_std() {
        for t in [
            "",
            "a",
            "a\n",
            "a\r\nb",
            "\n\n",
            "a\nb\r\n",
            "\r",
            "x\r\r\n",
            "\t",
            "a\t b \t\u{3000}c\u{3000}",
        ] {
            assert_eq!(
                lines(t).collect::<Vec<_>>(),
                t.lines().collect::<Vec<_>>(),
                "{t:?}"
            );
            let std: Vec<&str> = t.split('\t').map(str::trim).collect();
            assert_eq!(cell_iter(t).collect::<Vec<_>>(), std, "{t:?}");
        }
    }

    #[test]
    fn trim_matches_std() {
        for t in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "收入",
            "收入\u{3000}",
            "\u{3000}收入",
            "\u{a0}1",
            "1\u{85}",
            "\u{2003}x",
            "x\u{205f}",
            "\u{1680}",
            "é",
            "😀 ",
            "x\r",
            "\n",
            "\u{80}",
            "\u{10FFFF}",
        ] {
            assert_eq!(trim(t), t.trim(), "{t:?}");
        }
        for u in 0..=0x10FFFF_u32 {
            if let Some(c) = char::from_u32(u) {
                let t = format!("a{c}");
                assert_eq!(trim(&t), t.trim(), "{c:?}");
                let t = format!("{c}a");
                assert_eq!(trim(&t), t.trim(), "{c:?}");
            }
        }
    }

    #[test]
    fn has_matches_contains() {
        for (h, n) in [
            ("", ""),
            ("", "a"),
            ("a", ""),
            ("部门名称：x", "名称"),
            ("名", "名称"),
            ("称名称", "名称"),
            ("1..2...", "..."),
            ("1..2..", "..."),
            ("类\t款\t项", "类\t款\t项"),
        ] {
            assert_eq!(has(h, n), h.contains(n), "{h:?} {n:?}");
        }
    }

    #[test]
    fn fold_matches_reference() {
        for s in [
            "",
            "  ",
            "預算數（萬元）：合計，“三公”經費*",
            "一般公共预算财政拨款收入\t123.45",
            "a b\u{a0}c\u{3000}d‘e’「f」",
            "收入總計與支出總計",
            "abc",
            "（一）公務用車購置費",
        ] {
            assert_eq!(fold(s), fold_reference(s), "{s:?}");
        }
    }

    #[test]
    fn folds_ocr_noise() {
        assert_eq!(fold("預算數"), "预算数");
        assert_eq!(fold("四、上級补助收入"), "四、上级补助收入");
        assert_eq!(fold("财政拨款“三公”经费"), "财政拨款三公经费");
        assert_eq!(clean_line("<b>总计</b>\t<b>30</b>"), "总计\t30");
        assert_eq!(clean_line("## 收入决算表"), "收入决算表");
    }
}
