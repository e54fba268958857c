//! PDF → [`Document`] with the pure-Rust `pdfplumber` port: per page, the ruled tables
//! (pdfplumber's default «lines» strategy) become rows of cells with their boxes, and the text
//! outside every table becomes lines in reading order (top to bottom), interleaved with the
//! tables by their vertical position — the shape the corpus texts were made in with Python
//! pdfplumber. A page that draws something but has no character is marked
//! [`Page::no_text_layer`].

use std::time::Instant;

use gouji_domain::document::{BBox, Cell, Document, Format, Line, Origin, Page};
use pdfplumber::{ExtractOptions, PdfErrorKind, TableSettings};

use crate::{Limits, ReadError};

/// Reads a PDF given as bytes.
pub fn read_pdf(bytes: &[u8], limits: &Limits) -> Result<Document, ReadError> {
    if bytes.len() > limits.max_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let started = Instant::now();
    let options = ExtractOptions {
        max_input_bytes: Some(limits.max_bytes),
        // Pages are counted below, for a clear «too many pages»; the byte and object limits
        // bound what opening a large page tree costs.
        max_pages: None,
        max_objects_per_page: limits.max_objects_per_page,
        max_total_objects: Some(limits.max_total_objects),
        max_stream_bytes: limits.max_stream_bytes,
        max_total_image_bytes: Some(0),
        collect_warnings: false,
        ..ExtractOptions::default()
    };
    let patched = without_vertical_metrics(bytes, limits.max_stream_bytes);
    let pdf = pdfplumber::Pdf::open_bytes(patched.as_deref().unwrap_or(bytes), Some(options))
        .map_err(pdf_error)?;
    let count = pdf.page_count();
    if count > limits.max_pages {
        return Err(ReadError::TooManyPages {
            pages: count,
            limit: limits.max_pages,
        });
    }
    let settings = TableSettings::default();
    let mut pages = Vec::with_capacity(count);
    for index in 0..count {
        if started.elapsed() > limits.deadline {
            return Err(ReadError::Deadline {
                secs: limits.deadline.as_secs(),
                pages_read: index,
            });
        }
        // A page costs at most about half a second (`MAX_GRID_CROSSINGS`); between pages the
        // read stops as soon as its call is cancelled or past its deadline.
        if let Some(stop) = gouji_domain::work::cancelled() {
            return Err(ReadError::Stopped(stop));
        }
        let page = pdf.page(index).map_err(pdf_error)?;
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        pages.push(read_page(&page, number, &settings));
    }
    Ok(Document {
        format: Format::Pdf,
        pages,
    })
}

fn read_page(page: &pdfplumber::Page, number: u32, settings: &TableSettings) -> Page {
    // Drawn content (an image, or the paths a scan is wrapped in) without any character: the
    // page's text cannot be read without OCR. A page with nothing drawn is just blank.
    let no_text_layer = page.chars().is_empty()
        && !(page.images().is_empty()
            && page.rects().is_empty()
            && page.curves().is_empty()
            && page.lines().is_empty());
    let tables = if page.chars().is_empty() || grid_crossings(page) > MAX_GRID_CROSSINGS {
        Vec::new()
    } else {
        page.find_tables(settings)
    };
    // (top, order, line): tables and text lines sorted by where they start on the page.
    let mut items: Vec<(f64, usize, Line)> = Vec::new();
    let boxes: Vec<pdfplumber::BBox> = tables.iter().map(|t| t.bbox).collect();
    for table in &tables {
        for row in &table.rows {
            // Grid positions spanned by another cell have no text and no box of their own.
            let real: Vec<&pdfplumber::Cell> = row.iter().filter(|c| c.text.is_some()).collect();
            // A row with no text at all (ruling only) is not printed, as in the corpus texts.
            if real
                .iter()
                .all(|c| c.text.as_deref().is_none_or(|t| t.trim().is_empty()))
            {
                continue;
            }
            let Some(first) = real.first() else { continue };
            let mut row_box = first.bbox;
            for c in &real {
                row_box.x0 = row_box.x0.min(c.bbox.x0);
                row_box.top = row_box.top.min(c.bbox.top);
                row_box.x1 = row_box.x1.max(c.bbox.x1);
                row_box.bottom = row_box.bottom.max(c.bbox.bottom);
            }
            let cells: Vec<Cell> = row
                .iter()
                .map(|c| Cell {
                    text: c.text.clone().unwrap_or_default(),
                    origin: at(number, if c.text.is_some() { c.bbox } else { row_box }),
                })
                .collect();
            let order = items.len();
            items.push((
                row_box.top,
                order,
                Line::Row {
                    cells,
                    origin: at(number, row_box),
                },
            ));
        }
    }
    let outside: Vec<&pdfplumber::Char> = page
        .chars()
        .iter()
        .filter(|c| {
            let (cx, cy) = (
                (c.bbox.x0 + c.bbox.x1) / 2.0,
                (c.bbox.top + c.bbox.bottom) / 2.0,
            );
            !boxes
                .iter()
                .any(|b| cx >= b.x0 && cx <= b.x1 && cy >= b.top && cy <= b.bottom)
        })
        .collect();
    for (text, bbox) in text_lines(&outside) {
        let order = items.len();
        items.push((
            bbox.top,
            order,
            Line::Text {
                text,
                origin: at(number, bbox),
            },
        ));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Page {
        number,
        name: None,
        lines: items.into_iter().map(|(_, _, l)| l).collect(),
        no_text_layer,
    }
}

/// Most crossings of ruling lines (distinct rows of horizontal edges × distinct columns of
/// vertical ones, to the point) on a page whose tables are looked for. The table finder's cost
/// grows with the square of the crossings: a page of 300 × 300 thin lines (a few KB of PDF) held a
/// CPU worker for minutes (measured in release: 7,000 crossings 0.23 s, 28,000 3.3 s, so about
/// 0.5 s at the limit). The densest of the corpus's 428 pages has 4,320 (checked by
/// `tests/corpus_pdf.rs`, which reads every row); a page past the limit is read as text lines,
/// which the generic reader still splits into cells at their gaps.
pub const MAX_GRID_CROSSINGS: usize = 10_000;

/// The crossings of `page`'s ruling lines, counted on distinct positions rounded to the point.
fn grid_crossings(page: &pdfplumber::Page) -> usize {
    let mut rows = std::collections::HashSet::new();
    let mut columns = std::collections::HashSet::new();
    for e in page.edges() {
        match e.orientation {
            pdfplumber::Orientation::Horizontal => rows.insert(e.top.round() as i64),
            pdfplumber::Orientation::Vertical => columns.insert(e.x0.round() as i64),
            _ => false,
        };
    }
    rows.len().saturating_mul(columns.len())
}

/// A copy of the PDF in which every horizontally written TrueType CID font (a Type0 font with an
/// `…-H` encoding whose CIDFontType2 has no `/W2`) gets an explicit one-entry `/W2`; `None` when
/// nothing needs it, the file is encrypted, or lopdf cannot load it (the original is read then).
///
/// Why: for such a font the `pdfplumber` port inflates the whole embedded font program and maps
/// every glyph's vertical metrics (`vmtx`) — on every page, as its font cache lives for one page —
/// although horizontal text never uses them. On the corpus that was 67 % of the reading time
/// (jiangsu_jcy_2018: 419 → 118 ms, load and save included). Widths, text and positions of
/// horizontal text do not depend on vertical metrics; `tests/corpus_pdf.rs` checks every row.
///
/// lopdf inflates every object stream while it loads the file, so each is held to
/// `max_stream_bytes` (the limit the reader applies to every other stream): a decompression bomb
/// makes the load fail, and the original is read, under the reader's own limits.
fn without_vertical_metrics(bytes: &[u8], max_stream_bytes: usize) -> Option<Vec<u8>> {
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(max_stream_bytes),
        ..lopdf::LoadOptions::default()
    };
    let mut doc = lopdf::Document::load_mem_with_options(bytes, options).ok()?;
    if doc.trailer.get(b"Encrypt").is_ok() || doc.is_encrypted() {
        return None;
    }
    let resolve = |doc: &lopdf::Document, o: &lopdf::Object| -> Option<lopdf::Object> {
        match o {
            lopdf::Object::Reference(id) => doc.get_object(*id).ok().cloned(),
            o => Some(o.clone()),
        }
    };
    let mut targets = Vec::new();
    for obj in doc.objects.values() {
        let Ok(d) = obj.as_dict() else { continue };
        if d.get(b"Subtype").and_then(|o| o.as_name()).ok() != Some(b"Type0") {
            continue;
        }
        let horizontal = d
            .get(b"Encoding")
            .ok()
            .and_then(|o| resolve(&doc, o))
            .is_some_and(|o| o.as_name().is_ok_and(|n| n.ends_with(b"-H")));
        if !horizontal {
            continue;
        }
        let descendants = d
            .get(b"DescendantFonts")
            .ok()
            .and_then(|o| resolve(&doc, o));
        if let Some(lopdf::Object::Array(arr)) = descendants {
            targets.extend(arr.iter().filter_map(|r| r.as_reference().ok()));
        }
    }
    let mut patched = 0;
    for id in targets {
        if let Ok(lopdf::Object::Dictionary(d)) = doc.get_object_mut(id)
            && d.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"CIDFontType2")
            && d.get(b"W2").is_err()
        {
            // CID 0 (.notdef): the default vertical metrics (w1y −1000, v 500 880).
            d.set(
                "W2",
                vec![0.into(), 0.into(), (-1000).into(), 500.into(), 880.into()],
            );
            patched += 1;
        }
    }
    if patched == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    doc.save_to(&mut out).ok()?;
    Some(out)
}

/// Horizontal gap (points) beyond which two characters are two words, and vertical distance
/// within which two characters share a line: pdfplumber's `x_tolerance` / `y_tolerance`.
const X_TOLERANCE: f64 = 3.0;
const Y_TOLERANCE: f64 = 3.0;

/// Text lines as Python pdfplumber's `extract_text()` prints them: characters clustered into
/// lines by their top (a top within [`Y_TOLERANCE`], or a quarter of the font size, of the
/// previous one joins its line), each
/// line in x order, a space wherever the gap between two characters exceeds [`X_TOLERANCE`]
/// (blank characters only separate words). The `pdfplumber` port joins CJK words without a
/// space and splits lines differently, which would change the text outside tables.
fn text_lines(chars: &[&pdfplumber::Char]) -> Vec<(String, pdfplumber::BBox)> {
    let mut sorted: Vec<&pdfplumber::Char> = chars.to_vec();
    sorted.sort_by(|a, b| a.bbox.top.total_cmp(&b.bbox.top));
    let mut lines: Vec<Vec<&pdfplumber::Char>> = Vec::new();
    let mut last_top = f64::NEG_INFINITY;
    for c in sorted {
        // A glyph of another font on the same line can sit a few points off (its metrics put
        // its top elsewhere): a quarter of the font size still joins the line.
        let tolerance = Y_TOLERANCE.max(c.size * 0.25);
        if c.bbox.top > last_top + tolerance || lines.is_empty() {
            lines.push(Vec::new());
        }
        last_top = c.bbox.top;
        if let Some(l) = lines.last_mut() {
            l.push(c);
        }
    }
    let mut out = Vec::with_capacity(lines.len());
    for mut line in lines {
        line.sort_by(|a, b| a.bbox.x0.total_cmp(&b.bbox.x0));
        let mut text = String::new();
        let mut bbox: Option<pdfplumber::BBox> = None;
        let mut prev_x1: Option<f64> = None;
        let mut pending_space = false;
        for c in line {
            if c.text.trim().is_empty() {
                pending_space = prev_x1.is_some();
                continue;
            }
            if let Some(x1) = prev_x1
                && (pending_space || c.bbox.x0 > x1 + X_TOLERANCE)
            {
                text.push(' ');
            }
            pending_space = false;
            text.push_str(&c.text);
            prev_x1 = Some(c.bbox.x1);
            bbox = Some(match bbox {
                None => c.bbox,
                Some(b) => pdfplumber::BBox {
                    x0: b.x0.min(c.bbox.x0),
                    top: b.top.min(c.bbox.top),
                    x1: b.x1.max(c.bbox.x1),
                    bottom: b.bottom.max(c.bbox.bottom),
                },
            });
        }
        if let Some(b) = bbox {
            out.push((text, b));
        }
    }
    out
}

fn at(page: u32, b: pdfplumber::BBox) -> Origin {
    Origin::Pdf {
        page,
        bbox: BBox {
            x0: b.x0 as f32,
            top: b.top as f32,
            x1: b.x1 as f32,
            bottom: b.bottom as f32,
        },
    }
}

fn pdf_error(e: pdfplumber::PdfError) -> ReadError {
    match e.kind() {
        PdfErrorKind::PasswordRequired | PdfErrorKind::InvalidPassword => ReadError::Encrypted,
        PdfErrorKind::ResourceLimit => ReadError::Limit(e.to_string()),
        _ => ReadError::Malformed {
            format: "PDF",
            reason: e.to_string(),
        },
    }
}
