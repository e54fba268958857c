//! Deterministic hostile documents for the work bounds of issue 12: each [`Shape`] repeats one
//! pattern that a parser or rule engine may handle in super-linear time or memory (a table title
//! repeated, a narrative figure repeated, lines of digits, tabs only, one long line, …) up to a
//! requested size, after a short valid 决算 table so that the document is read past family
//! selection. Used by the linearity tests, the property target and the `hostile` example
//! (docs/hardening.md has the measured numbers).

/// The patterns [`document`] can repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A table title line and its 表号, repeated (every repetition starts a table).
    TitleRepeated,
    /// A small complete table (title, unit, header, two rows), repeated.
    TableRepeated,
    /// One data row of a table, repeated under a single header (same row key every time).
    RowRepeated,
    /// A narrative sentence with figures, repeated on lines of about 20 sentences.
    FigureRepeated,
    /// The narrative sentence repeated on one single line.
    FigureLongLine,
    /// Lines of 64 ASCII digits.
    DigitLines,
    /// Lines of 200 tabs.
    TabsOnly,
    /// Table rows of 4,096 amount cells each.
    WideRows,
    /// One line of amount cells separated by tabs, as long as the document.
    OneWideLine,
    /// Short lines that each appear a few times (watermark candidates), all different.
    ShortLines,
}

impl Shape {
    /// Every shape, in a fixed order.
    pub const ALL: [Shape; 10] = [
        Shape::TitleRepeated,
        Shape::TableRepeated,
        Shape::RowRepeated,
        Shape::FigureRepeated,
        Shape::FigureLongLine,
        Shape::DigitLines,
        Shape::TabsOnly,
        Shape::WideRows,
        Shape::OneWideLine,
        Shape::ShortLines,
    ];

    /// A short stable name (used by the example and in the docs).
    pub fn name(self) -> &'static str {
        match self {
            Shape::TitleRepeated => "title-repeated",
            Shape::TableRepeated => "table-repeated",
            Shape::RowRepeated => "row-repeated",
            Shape::FigureRepeated => "figure-repeated",
            Shape::FigureLongLine => "figure-long-line",
            Shape::DigitLines => "digit-lines",
            Shape::TabsOnly => "tabs-only",
            Shape::WideRows => "wide-rows",
            Shape::OneWideLine => "one-wide-line",
            Shape::ShortLines => "short-lines",
        }
    }

    /// The shape called `name` ([`Shape::name`]).
    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The valid table every hostile document starts with.
const HEAD: &str = "示例县医疗保险服务中心\n2024年度单位决算公开\n收入决算表\n公开02表\n\
部门名称：示例县医疗保险服务中心\n金额单位：万元\n\
项目\t\t本年收入合计\t财政拨款收入\t上级补助收入\t事业收入\t经营收入\t附属单位上缴收入\t其他收入\n\
合计\t\t100.00\t100.00\t\t\t\t\t\n\
210\t卫生健康支出\t100.00\t100.00\t\t\t\t\t\n";

const TABLE: &str = "收入支出决算总表\n公开01表\n金额单位：万元\n\
收入\t\t支出\t\n项目\t决算数\t项目\t决算数\n\
一、一般公共预算财政拨款收入\t100.00\t一、一般公共服务支出\t100.00\n\
本年收入合计\t100.00\t本年支出合计\t100.00\n";

const FIGURE: &str =
    "一般公共预算财政拨款支出100.00万元，比上年增加10.00万元，增长11.11%，主要原因是人员增加。";

/// A document of at most `bytes` bytes (but at least the valid head table) made of `shape`
/// repeated; the last repetition may be cut.
/// Deterministic; always valid UTF-8 without NUL.
pub fn document(shape: Shape, bytes: usize) -> Vec<u8> {
    let mut out = String::with_capacity(bytes + 4096);
    out.push_str(HEAD);
    let fill = |out: &mut String, unit: &str| {
        while out.len() < bytes {
            out.push_str(unit);
        }
    };
    match shape {
        Shape::TitleRepeated => fill(&mut out, "一、收入支出决算总表\n公开01表\n"),
        Shape::TableRepeated => fill(&mut out, TABLE),
        Shape::RowRepeated => {
            out.push_str(
                "支出决算表\n公开03表\n金额单位：万元\n\
                 项目\t\t本年支出合计\t基本支出\t项目支出\n",
            );
            fill(&mut out, "2100101\t行政运行\t10.00\t10.00\t\n");
        }
        Shape::FigureRepeated => {
            out.push_str("第三部分 情况说明\n");
            let line = FIGURE.repeat(20) + "\n";
            fill(&mut out, &line);
        }
        Shape::FigureLongLine => {
            out.push_str("第三部分 情况说明\n");
            fill(&mut out, FIGURE);
        }
        Shape::DigitLines => fill(
            &mut out,
            "1234567890123456789012345678901234567890123456789012345678901234\n",
        ),
        Shape::TabsOnly => {
            let line = "\t".repeat(200) + "\n";
            fill(&mut out, &line);
        }
        Shape::WideRows => {
            out.push_str(
                "支出决算表\n公开03表\n金额单位：万元\n项目\t\t本年支出合计\t基本支出\t项目支出\n",
            );
            let mut n = 0u64;
            while out.len() < bytes {
                out.push_str(&format!("21{:05}\t行政运行", n % 100_000));
                for _ in 0..4096 {
                    out.push_str("\t1.00");
                }
                out.push('\n');
                n += 1;
            }
        }
        Shape::OneWideLine => {
            out.push_str("2100101\t行政运行");
            fill(&mut out, "\t12.34");
        }
        Shape::ShortLines => {
            let mut n = 0u64;
            while out.len() < bytes {
                // Each line three times, no digit in it: every one is a watermark candidate.
                let word: String = format!("{n:x}")
                    .chars()
                    .map(|c| char::from(b'a' + c.to_digit(16).unwrap_or(0) as u8))
                    .collect();
                let line = format!("水印{word}内部资料\n");
                for _ in 0..3 {
                    out.push_str(&line);
                }
                n += 1;
            }
        }
    }
    // At most `bytes` (a maximal document stays within the parser's limit), cut at a character.
    let mut end = bytes.max(HEAD.len()).min(out.len());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.into_bytes()
}

/// CPU time (user + system) this thread has used so far, from `/proc/thread-self/schedstat`
/// (Linux; zero elsewhere): what the linearity tests compare, never wall time.
pub fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

/// Parse + validate of `doc`, this thread's CPU time, best of `runs`.
pub fn parse_validate_cpu(doc: &[u8], runs: usize) -> std::time::Duration {
    (0..runs.max(1))
        .map(|_| {
            let t = thread_cpu();
            if let Ok(r) = crate::parse_document(doc) {
                std::hint::black_box(crate::rules::validate(
                    &r,
                    &crate::rules::Context::default(),
                ));
            }
            thread_cpu() - t
        })
        .min()
        .unwrap_or_default()
}
