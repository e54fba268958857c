//! Text normalisation for matching: OCR traditional characters, full-width forms, ordinals,
//! Markdown/HTML residue.

use std::borrow::Cow;
use std::sync::LazyLock;

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
    for (i, ch) in s.char_indices() {
        let c = match ch {
            ' ' | '\u{3000}' | '\t' | '\u{a0}' | '“' | '”' | '"' | '\'' | '‘' | '’' | '「'
            | '」' | '*' => None,
            '（' => Some('('),
            '）' => Some(')'),
            '：' => Some(':'),
            '，' => Some(','),
            c if c.is_ascii() || !is_traditional(c) => continue,
            other => Some(simplify(other)),
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        o.push_str(&s[run..i]);
        run = i + ch.len_utf8();
        if let Some(c) = c {
            o.push(c);
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[run..]);
            Cow::Owned(o)
        }
    }
}

/// First and last code point of the CJK Unified Ideographs block, where every character that
/// [`simplify`] maps lives.
const CJK: (u32, u32) = (0x4E00, 0x9FFF);

/// One bit per CJK ideograph: set when [`simplify`] changes it.
static TRADITIONAL: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut bits = vec![0u64; ((CJK.1 - CJK.0) / 64 + 1) as usize];
    for u in CJK.0..=CJK.1 {
        if let Some(c) = char::from_u32(u)
            && simplify(c) != c
        {
            let k = (u - CJK.0) as usize;
            bits[k / 64] |= 1 << (k % 64);
        }
    }
    bits
});

/// True when [`simplify`] maps `c` to another character.
fn is_traditional(c: char) -> bool {
    let u = c as u32;
    if (CJK.0..=CJK.1).contains(&u) {
        let k = (u - CJK.0) as usize;
        TRADITIONAL[k / 64] & (1 << (k % 64)) != 0
    } else {
        simplify(c) != c
    }
}

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
    let chinese_num = |c: char| "一二三四五六七八九十百".contains(c);
    // 一、 … 二十六、
    let n: usize = t
        .chars()
        .take_while(|&c| chinese_num(c))
        .map(char::len_utf8)
        .sum();
    if n > 0 {
        if let Some(rest) = t[n..].strip_prefix('、') {
            return rest.trim_start();
        }
    }
    // (一) （一） (1)
    for (open, close) in [('(', ')'), ('（', '）')] {
        if let Some(rest) = t.strip_prefix(open) {
            if let Some(end) = rest.find(close) {
                let inner = &rest[..end];
                if !inner.is_empty() && inner.chars().all(|c| chinese_num(c) || c.is_ascii_digit())
                {
                    return rest[end + close.len_utf8()..].trim_start();
                }
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
    if let Some(c) = t.chars().next() {
        if ('①'..='⑳').contains(&c) {
            return t[c.len_utf8()..].trim_start();
        }
    }
    t
}

/// Cleans one line of Markdown/HTML residue: heading hashes, list dashes, bold markers, tags.
/// Tabs (cell separators) are kept.
pub fn clean_line(raw: &str) -> String {
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
    no_tags.replace("**", "")
}

/// Splits a cleaned line into cells on tabs, trimming each cell.
pub fn cells(line: &str) -> Vec<String> {
    line.split('\t')
        .map(|c| c.trim().trim_matches('\u{3000}').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn traditional_bitmap_matches_table() {
        for u in 0..=0x10FFFF_u32 {
            if let Some(c) = char::from_u32(u) {
                assert_eq!(is_traditional(c), simplify(c) != c, "{c:?}");
            }
        }
        assert!(matches!(fold_cow("收入总计"), Cow::Borrowed(_)));
        assert_eq!(fold_cow("收入總計"), "收入总计");
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
