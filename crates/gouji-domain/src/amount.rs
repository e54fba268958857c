//! Exact amounts: parsing printed numbers and converting between 元 and 万元.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The unit a figure is expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum MeasureUnit {
    /// 元
    Yuan,
    /// 万元 (10 000 元), the usual unit of published tables.
    Wanyuan,
    /// 亿元 (10^8 元)
    Yiyuan,
    /// A count (辆, 人, 个 …).
    Count,
    /// A percentage.
    Percent,
}

impl MeasureUnit {
    /// The Chinese name as printed.
    pub fn label(self) -> &'static str {
        match self {
            MeasureUnit::Yuan => "元",
            MeasureUnit::Wanyuan => "万元",
            MeasureUnit::Yiyuan => "亿元",
            MeasureUnit::Count => "个",
            MeasureUnit::Percent => "%",
        }
    }

    /// Parses a printed unit name.
    pub fn from_label(s: &str) -> Option<Self> {
        match s.trim() {
            "元" => Some(MeasureUnit::Yuan),
            "万元" => Some(MeasureUnit::Wanyuan),
            "亿元" => Some(MeasureUnit::Yiyuan),
            "个" | "辆" | "人" | "人次" | "批次" | "台" | "台（套）" | "家" | "项" | "次" => {
                Some(MeasureUnit::Count)
            }
            "%" => Some(MeasureUnit::Percent),
            _ => None,
        }
    }

    /// How many 元 one of this unit is, for money units.
    fn yuan_factor(self) -> Option<Decimal> {
        match self {
            MeasureUnit::Yuan => Some(Decimal::ONE),
            MeasureUnit::Wanyuan => Some(Decimal::from(10_000)),
            MeasureUnit::Yiyuan => Some(Decimal::from(100_000_000)),
            _ => None,
        }
    }

    /// True for 元, 万元 and 亿元.
    pub fn is_money(self) -> bool {
        self.yuan_factor().is_some()
    }
}

/// Converts `value` from one money unit to another exactly (decimal division by powers of ten
/// never rounds within 28 digits). Returns `None` for non-money units.
pub fn convert(value: Decimal, from: MeasureUnit, to: MeasureUnit) -> Option<Decimal> {
    let f = from.yuan_factor()?;
    let t = to.yuan_factor()?;
    let yuan = value.checked_mul(f)?;
    Some(yuan.checked_div(t)?.normalize())
}

/// Normalises a printed number: removes thousands separators, spaces (OCR), and full-width digits.
/// Returns the canonical text (e.g. "812. 04" → "812.04", "3,617.36" → "3617.36").
pub fn normalize_number_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            ',' | '，' | ' ' | '\u{3000}' | '\u{a0}' | '\t' => {}
            '０'..='９' => out.push(char::from(b'0' + (ch as u32 - '０' as u32) as u8)),
            '．' => out.push('.'),
            '－' | '−' | '—' if out.is_empty() => out.push('-'),
            _ => out.push(ch),
        }
    }
    out
}

/// Outcome of reading one table cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellText {
    /// Nothing printed.
    Blank,
    /// A placeholder meaning "not applicable" («——», «-», «—»).
    Dash,
    /// A number; `text` is the normalised printed form (trailing zeros kept).
    Number { value: Decimal, text: String },
    /// Something else (text, garbage).
    Other,
}

/// What [`read_cell`] makes of a cell, without building the number (no allocation unless the
/// cell holds an HTML tag). Table readers ask this of a cell several times per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Blank,
    Dash,
    Number,
    Other,
}

/// A printed cell without padding, bold markers and HTML tags (still to be trimmed), or its kind
/// when that alone decides it: blank, or a dash («—», «--», «一») meaning no amount.
fn cell_body(raw: &str) -> Result<std::borrow::Cow<'_, str>, CellKind> {
    let body = strip_html(crate::parse::text::trim(raw).trim_matches(|c| c == '*' || c == ' '));
    let t = body.trim();
    if t.is_empty() {
        return Err(CellKind::Blank);
    }
    let all_dashes = t
        .chars()
        .all(|c| matches!(c, '-' | '—' | '–' | '－' | '一'))
        && !t.starts_with('一');
    if all_dashes || t == "一" || t == "--" || t == "——" {
        return Err(CellKind::Dash);
    }
    Ok(body)
}

/// Classifies a cell exactly as [`read_cell`] does, without parsing the number.
pub fn cell_kind(raw: &str) -> CellKind {
    let body = match cell_body(raw) {
        Ok(body) => body,
        Err(kind) => return kind,
    };
    let t = body.trim();
    // The checks of `parse_decimal` on the characters `normalize_number_text` would produce. A
    // canonical decimal of at most 26 bytes always fits a `Decimal`, so the format decides.
    let mut len = 0usize;
    let mut leading_minus = false;
    let mut dots = 0;
    let mut first_body: Option<char> = None;
    let mut last_body = '\0';
    for ch in t.chars() {
        let n = match ch {
            ',' | '，' | ' ' | '\u{3000}' | '\u{a0}' | '\t' => continue,
            '0'..='9' | '.' | '-' => ch,
            '０'..='９' => '0',
            '．' => '.',
            '－' | '−' | '—' if len == 0 => '-',
            // Anything else is a label, or (a dash sign after the start) not a canonical number.
            '－' | '−' | '—' => 'x',
            _ => return CellKind::Other,
        };
        len += 1;
        if len == 1 && n == '-' {
            leading_minus = true;
            continue;
        }
        match n {
            '.' => dots += 1,
            '0'..='9' => {}
            _ => {
                // A non-digit in the body: `parse_decimal` rejects it. Only the characters
                // above get here, so the cell is not a label either.
                return CellKind::Other;
            }
        }
        first_body.get_or_insert(n);
        last_body = n;
    }
    let body_len = len - usize::from(leading_minus);
    let number =
        body_len > 0 && first_body != Some('.') && last_body != '.' && dots <= 1 && body_len <= 26;
    if number {
        CellKind::Number
    } else {
        CellKind::Other
    }
}

/// Classifies a cell as printed.
pub fn read_cell(raw: &str) -> CellText {
    let body = match cell_body(raw) {
        Ok(body) => body,
        Err(CellKind::Blank) => return CellText::Blank,
        Err(_) => return CellText::Dash,
    };
    let t = body.trim();
    // Labels: a character that normalises to neither a digit, a dot, a minus sign nor nothing.
    if !t.chars().all(|c| {
        matches!(
            c,
            '0'..='9'
                | '.'
                | '-'
                | ','
                | '，'
                | ' '
                | '\u{3000}'
                | '\u{a0}'
                | '\t'
                | '０'..='９'
                | '．'
                | '－'
                | '−'
                | '—'
        )
    }) {
        return CellText::Other;
    }
    let n = normalize_number_text(t);
    if let Some(value) = parse_decimal(&n) {
        return CellText::Number { value, text: n };
    }
    CellText::Other
}

/// Removes simple HTML tags such as `<b>` and `</b>`.
pub fn strip_html(s: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(b'<', s.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses a canonical decimal ("-12.50", "2781.88", "0"). Rejects anything else, including
/// exponents, more than one dot, and empty strings.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let body = s.strip_prefix('-').unwrap_or(s);
    if body.is_empty() || body.starts_with('.') || body.ends_with('.') {
        return None;
    }
    let mut dots = 0;
    for c in body.chars() {
        if c == '.' {
            dots += 1;
        } else if !c.is_ascii_digit() {
            return None;
        }
    }
    if dots > 1 || body.len() > 26 {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// Rounds half-up (四舍五入) to `dp` decimal places.
pub fn round_half_up(v: Decimal, dp: u32) -> Decimal {
    v.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn reads_printed_numbers() {
        assert_eq!(
            read_cell("3,617.36"),
            CellText::Number {
                value: dec!(3617.36),
                text: "3617.36".into()
            }
        );
        assert_eq!(
            read_cell("812. 04"),
            CellText::Number {
                value: dec!(812.04),
                text: "812.04".into()
            }
        );
        assert_eq!(
            read_cell("<b>30</b>"),
            CellText::Number {
                value: dec!(30),
                text: "30".into()
            }
        );
        assert_eq!(
            read_cell("-12.50"),
            CellText::Number {
                value: dec!(-12.50),
                text: "-12.50".into()
            }
        );
        assert_eq!(read_cell("——"), CellText::Dash);
        assert_eq!(read_cell("-"), CellText::Dash);
        assert_eq!(read_cell(""), CellText::Blank);
        assert_eq!(read_cell("合计"), CellText::Other);
        assert_eq!(read_cell("1e5"), CellText::Other);
        assert_eq!(read_cell("1.2.3"), CellText::Other);
    }

    #[test]
    fn cell_kind_matches_read_cell() {
        let kind = |c: &CellText| match c {
            CellText::Blank => CellKind::Blank,
            CellText::Dash => CellKind::Dash,
            CellText::Number { .. } => CellKind::Number,
            CellText::Other => CellKind::Other,
        };
        for s in [
            "",
            " ",
            "*",
            "3,617.36",
            "812. 04",
            "<b>30</b>",
            "-12.50",
            "——",
            "-",
            "一",
            "--",
            "合计",
            "1e5",
            "1.2.3",
            ".5",
            "5.",
            "-.5",
            "--5",
            "5-",
            "－５．０",
            "5—",
            "—5",
            "１２３",
            "1,",
            ",",
            "-",
            "- 1",
            "12345678901234567890123456",
            "123456789012345678901234567",
            "-12345678901234567890123456",
            "0.0000000000000000000000001",
            "−3",
            "5−",
            "一5",
        ] {
            assert_eq!(cell_kind(s), kind(&read_cell(s)), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn cell_kind_matches_read_cell_on_any_text(
            s in "[0-9０-９.．,，\\- \u{3000}\u{a0}\t*－−—–一<>b合x]{0,30}"
        ) {
            let k = match read_cell(&s) {
                CellText::Blank => CellKind::Blank,
                CellText::Dash => CellKind::Dash,
                CellText::Number { .. } => CellKind::Number,
                CellText::Other => CellKind::Other,
            };
            proptest::prop_assert_eq!(cell_kind(&s), k);
        }
    }

    #[test]
    fn converts_exactly() {
        assert_eq!(
            convert(dec!(96282213.44), MeasureUnit::Yuan, MeasureUnit::Wanyuan),
            Some(dec!(9628.221344))
        );
        assert_eq!(
            convert(dec!(19.52), MeasureUnit::Wanyuan, MeasureUnit::Yuan),
            Some(dec!(195200))
        );
        assert_eq!(
            convert(dec!(1), MeasureUnit::Count, MeasureUnit::Yuan),
            None
        );
    }

    #[test]
    fn rounds_half_up() {
        assert_eq!(round_half_up(dec!(27.196), 2), dec!(27.20));
        assert_eq!(round_half_up(dec!(0.125), 2), dec!(0.13));
    }
}
