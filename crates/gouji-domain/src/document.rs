//! One document model for every source format: pages → lines, each line either text or a table
//! row of cells, each with its source position ([`Origin`]).
//!
//! The text reader of [`crate::parse`] reads the TAB text that pdfplumber-style converters print
//! (one line per table row, cells separated by TAB, an empty line after each page). A PDF or
//! Excel reader (crate `gouji-readers`) fills a [`Document`]; [`Document::render`] turns it
//! into exactly that text, one rendered line per model line, and keeps the [`Origin`] of every
//! rendered line, so that [`crate::parse::parse_model`] reads every format with the same table
//! readers and a finding's «第N行» can be shown as the page and box, or the sheet and cell, it
//! came from. Plain text is the model already rendered: [`Document::from_text`] lifts it (a
//! form feed `\x0c` starts a new page), and `render(from_text(t))` gives `t` back line for
//! line.
//!
//! Pure data: no dependency on any reader library. Geometry is in PDF points (`f32`, never
//! money).

use serde::{Deserialize, Serialize};

/// The format a document was read from, i.e. which reader ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// UTF-8 text (TAB rows).
    Text,
    /// PDF with a text layer.
    Pdf,
    /// Office Open XML workbook.
    Xlsx,
    /// BIFF (Excel 97–2003) workbook.
    Xls,
}

impl Format {
    /// Lower-case name (`text`, `pdf`, `xlsx`, `xls`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Pdf => "pdf",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
        }
    }
}

/// A box on a PDF page in points, origin at the page's top left (pdfplumber's `x0, top, x1,
/// bottom`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x0: f32,
    pub top: f32,
    pub x1: f32,
    pub bottom: f32,
}

/// Where a line or a cell came from in the original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Line of a text document (1-based).
    TextLine { line: u32 },
    /// A box on a PDF page (page 1-based).
    Pdf { page: u32, bbox: BBox },
    /// A worksheet cell: sheet name, row and column 0-based (`A1` is row 0, column 0).
    Sheet { sheet: String, row: u32, col: u32 },
}

impl Origin {
    /// The page (PDF) or sheet number (1-based, workbook order) when known.
    pub fn page(&self) -> Option<u32> {
        match self {
            Origin::Pdf { page, .. } => Some(*page),
            _ => None,
        }
    }

    /// How a person finds it: `第3页`, `第3页 (x 72, y 140)`, `5.一般公共预算支出!D7`, `第12行`.
    pub fn describe(&self) -> String {
        match self {
            Origin::TextLine { line } => format!("第{line}行"),
            Origin::Pdf { page, bbox } => {
                format!("第{page}页 (x {:.0}, y {:.0})", bbox.x0, bbox.top)
            }
            Origin::Sheet { sheet, row, col } => format!("{sheet}!{}", cell_address(*row, *col)),
        }
    }
}

/// `A1`-style address of a 0-based (row, column).
pub fn cell_address(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = u64::from(col) + 1;
    while c > 0 {
        let rem = ((c - 1) % 26) as u8;
        letters.push(b'A' + rem);
        c = (c - 1) / 26;
    }
    letters.reverse();
    let mut s = String::from_utf8(letters).unwrap_or_default();
    s.push_str(&(u64::from(row) + 1).to_string());
    s
}

/// One cell of a table row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The text as printed (numbers of a workbook in their printed precision).
    pub text: String,
    pub origin: Origin,
}

/// One line of a page: running text, or a row of a ruled table / worksheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Text { text: String, origin: Origin },
    Row { cells: Vec<Cell>, origin: Origin },
}

impl Line {
    /// Where the line starts.
    pub fn origin(&self) -> &Origin {
        match self {
            Line::Text { origin, .. } | Line::Row { origin, .. } => origin,
        }
    }
}

/// One page of a PDF, one worksheet of a workbook, or one form-feed page of a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based page or sheet number.
    pub number: u32,
    /// Sheet name (workbooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub lines: Vec<Line>,
    /// The page has content drawn (images) but no text layer: it cannot be read without OCR.
    #[serde(default)]
    pub no_text_layer: bool,
}

/// A document as read from its original, in one shape for every format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format: Format,
    pub pages: Vec<Page>,
}

/// A document rendered to the TAB text the table readers accept, with the origin of every
/// rendered line (`origins[i]` is line `i + 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub origins: Vec<Origin>,
}

impl Document {
    /// Lifts a text document: a line with a TAB is a table row, any other line is text; a form
    /// feed starts a new page. Origins are the 1-based text lines.
    pub fn from_text(text: &str) -> Document {
        let mut pages = vec![Page {
            number: 1,
            name: None,
            lines: Vec::new(),
            no_text_layer: false,
        }];
        for (i, raw) in crate::parse::text::lines(text).enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let origin = Origin::TextLine { line: line_no };
            let mut raw = raw;
            while let Some(rest) = raw.strip_prefix('\x0c') {
                let number = u32::try_from(pages.len() + 1).unwrap_or(u32::MAX);
                pages.push(Page {
                    number,
                    name: None,
                    lines: Vec::new(),
                    no_text_layer: false,
                });
                raw = rest;
            }
            let line = if raw.contains('\t') {
                Line::Row {
                    cells: raw
                        .split('\t')
                        .map(|c| Cell {
                            text: c.to_string(),
                            origin: origin.clone(),
                        })
                        .collect(),
                    origin,
                }
            } else {
                Line::Text {
                    text: raw.to_string(),
                    origin,
                }
            };
            if let Some(page) = pages.last_mut() {
                page.lines.push(line);
            }
        }
        Document {
            format: Format::Text,
            pages,
        }
    }

    /// Number of table cells in the document.
    pub fn cell_count(&self) -> usize {
        self.pages
            .iter()
            .flat_map(|p| &p.lines)
            .map(|l| match l {
                Line::Row { cells, .. } => cells.len(),
                Line::Text { .. } => 0,
            })
            .sum()
    }

    /// Renders the document as TAB text: a row's cells joined by TAB (line breaks inside a cell
    /// removed, a TAB inside a cell made a space), text lines as they are. Pages of a PDF or a
    /// workbook are separated by an empty line, as the converters of the corpus print them;
    /// pages of a text are joined by the form feed they had.
    pub fn render(&self) -> Rendered {
        let mut text = String::new();
        let mut origins = Vec::new();
        for (pi, page) in self.pages.iter().enumerate() {
            if pi > 0 && self.format != Format::Text {
                text.push('\n');
                origins.push(page_origin(self.format, page));
            }
            let mut first = true;
            for line in &page.lines {
                if first && pi > 0 && self.format == Format::Text {
                    text.push('\x0c');
                }
                first = false;
                match line {
                    Line::Text { text: t, .. } => push_clean(&mut text, t),
                    Line::Row { cells, .. } => {
                        for (ci, c) in cells.iter().enumerate() {
                            if ci > 0 {
                                text.push('\t');
                            }
                            push_clean(&mut text, &c.text);
                        }
                    }
                }
                text.push('\n');
                origins.push(line.origin().clone());
            }
            if first && pi > 0 && self.format == Format::Text {
                // An empty page of a text: its form feed prefixes the next line.
                text.push('\x0c');
            }
            if first && self.format != Format::Text {
                // An empty page (no text layer) of a PDF or an empty sheet: one empty line.
                text.push('\n');
                origins.push(page_origin(self.format, page));
            }
        }
        Rendered { text, origins }
    }
}

/// The origin of a page as a whole (its empty closing line).
fn page_origin(format: Format, page: &Page) -> Origin {
    match format {
        Format::Xlsx | Format::Xls => Origin::Sheet {
            sheet: page.name.clone().unwrap_or_default(),
            row: 0,
            col: 0,
        },
        _ => Origin::Pdf {
            page: page.number,
            bbox: BBox {
                x0: 0.0,
                top: 0.0,
                x1: 0.0,
                bottom: 0.0,
            },
        },
    }
}

/// Appends `s` with line breaks removed and TABs made spaces (one cell stays one cell).
fn push_clean(out: &mut String, s: &str) {
    if !s.contains(['\n', '\r', '\t', '\0']) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '\n' | '\r' | '\0' => {}
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_line_for_line() {
        let ff = "\x0c\x0cX\n";
        assert_eq!(Document::from_text(ff).render().text, ff);
        let t = "标题\n项目\t金额\n一、财政拨款\t1,234.50\n\n\x0c第二页\n末行\t\t3\n";
        let doc = Document::from_text(t);
        assert_eq!(doc.pages.len(), 2);
        assert_eq!(doc.cell_count(), 7);
        let r = doc.render();
        assert_eq!(r.text, t);
        assert_eq!(r.origins.len(), 6);
        assert_eq!(r.origins[4], Origin::TextLine { line: 5 });
    }

    #[test]
    fn rows_render_as_tab_cells_with_page_breaks_and_origins() {
        let bbox = BBox {
            x0: 10.0,
            top: 20.0,
            x1: 30.0,
            bottom: 40.0,
        };
        let at = |page| Origin::Pdf { page, bbox };
        let doc = Document {
            format: Format::Pdf,
            pages: vec![
                Page {
                    number: 1,
                    name: None,
                    lines: vec![
                        Line::Text {
                            text: "收支预算总表".into(),
                            origin: at(1),
                        },
                        Line::Row {
                            cells: vec![
                                Cell {
                                    text: "七、文化旅游\n体育与传媒".into(),
                                    origin: at(1),
                                },
                                Cell {
                                    text: "a\tb".into(),
                                    origin: at(1),
                                },
                            ],
                            origin: at(1),
                        },
                    ],
                    no_text_layer: false,
                },
                Page {
                    number: 2,
                    name: None,
                    lines: vec![],
                    no_text_layer: true,
                },
            ],
        };
        let r = doc.render();
        assert_eq!(r.text, "收支预算总表\n七、文化旅游体育与传媒\ta b\n\n\n");
        assert_eq!(r.origins.len(), 4);
        assert_eq!(r.origins[1].page(), Some(1));
        assert_eq!(r.origins[2].page(), Some(2));
        assert_eq!(r.origins[1].describe(), "第1页 (x 10, y 20)");
    }

    #[test]
    fn sheet_cells_are_named_like_excel() {
        assert_eq!(cell_address(0, 0), "A1");
        assert_eq!(cell_address(6, 3), "D7");
        assert_eq!(cell_address(9, 25), "Z10");
        assert_eq!(cell_address(0, 26), "AA1");
        assert_eq!(cell_address(0, 16383), "XFD1");
        let o = Origin::Sheet {
            sheet: "5.一般公共预算支出".into(),
            row: 6,
            col: 3,
        };
        assert_eq!(o.describe(), "5.一般公共预算支出!D7");
    }
}
