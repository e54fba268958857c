//! Excel workbook (xlsx, xls) → [`Document`] with `calamine`: one page per worksheet in
//! workbook order, one row line per non-empty row (cells from column A; a row of two or more
//! cells padded to the sheet's used width), each cell with its `sheet!A1` origin. Numbers come from the workbook's
//! values, printed with the decimals of the cell's number format (`#,##0.00` → 2), so the
//! tolerance follows the printed precision; text cells as they are.
//!
//! Bounded: the archive's declared uncompressed size (xlsx; a zip bomb is refused before any
//! part is inflated), the span of an xlsx sheet's cells (before calamine builds it as a dense
//! grid), the number of non-empty cells, and the time. An xls sheet's grid is built by calamine
//! while it opens the file, before any check here can run.

use std::io::Cursor;
use std::time::Instant;

use calamine::{Data, Reader};
use gouji_domain::document::{Cell, Document, Format, Line, Origin, Page};
use rust_decimal::Decimal;

use crate::{Limits, ReadError};

/// Reads a workbook given as bytes; `format` is [`Format::Xlsx`] or [`Format::Xls`] (see
/// [`crate::detect`]).
pub fn read_workbook(bytes: &[u8], format: Format, limits: &Limits) -> Result<Document, ReadError> {
    if bytes.len() > limits.max_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let started = Instant::now();
    if format == Format::Xlsx {
        check_zip(bytes, limits)?;
    }
    let malformed = |e: calamine::Error| match e {
        calamine::Error::Xls(calamine::XlsError::Password) => ReadError::Encrypted,
        e => ReadError::Malformed {
            format: if format == Format::Xls { "xls" } else { "xlsx" },
            reason: e.to_string(),
        },
    };
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(malformed)?;
    let names = wb.sheet_names();
    let mut pages = Vec::with_capacity(names.len());
    let mut cells_read = 0usize;
    for (i, name) in names.iter().enumerate() {
        if started.elapsed() > limits.deadline {
            return Err(ReadError::Deadline {
                secs: limits.deadline.as_secs(),
                pages_read: i,
            });
        }
        if let calamine::Sheets::Xlsx(x) = &mut wb {
            check_sheet_span(x, name, limits.max_cells).map_err(|e| match e {
                SpanError::Calamine(e) => malformed(e.into()),
                SpanError::Limit(m) => ReadError::Limit(m),
            })?;
        }
        let range = wb.worksheet_range(name).map_err(malformed)?;
        let styles = wb.worksheet_style(name).ok();
        let (row0, col0) = range.start().unwrap_or((0, 0));
        // Rows of two or more cells are padded with blank cells to the sheet's used width, as a
        // ruled table's rows print every column: the table readers place a figure by the blank
        // cells around it. (The corpus texts of the templates drop trailing blanks; a row of one
        // cell — a title, a paragraph — stays one cell.)
        let width = range
            .rows()
            .filter_map(|row| row.iter().rposition(|d| !is_blank(d)))
            .max()
            .map_or(0, |w| w + 1);
        let mut lines = Vec::new();
        for (r, row) in range.rows().enumerate() {
            let Some(last) = row.iter().rposition(|d| !is_blank(d)) else {
                continue;
            };
            let abs_row = row0 + u32::try_from(r).unwrap_or(u32::MAX);
            // Columns before the range's start are empty: the row starts at column A.
            let mut cells: Vec<Cell> = (0..col0)
                .map(|c| Cell {
                    text: String::new(),
                    origin: sheet_origin(name, abs_row, c),
                })
                .collect();
            for (c, d) in row[..=last].iter().enumerate() {
                let abs_col = col0 + u32::try_from(c).unwrap_or(u32::MAX);
                let decimals = styles
                    .as_ref()
                    .and_then(|s| s.get((abs_row, abs_col)))
                    .and_then(|s| s.number_format.as_ref())
                    .map(|f| format_decimals(&f.format_code));
                cells.push(Cell {
                    text: cell_text(d, decimals.flatten()),
                    origin: sheet_origin(name, abs_row, abs_col),
                });
            }
            let filled = row[..=last].iter().filter(|d| !is_blank(d)).count();
            if filled >= 2 {
                for c in (last + 1)..width {
                    let abs_col = col0 + u32::try_from(c).unwrap_or(u32::MAX);
                    cells.push(Cell {
                        text: String::new(),
                        origin: sheet_origin(name, abs_row, abs_col),
                    });
                }
            }
            cells_read += cells.len();
            if cells_read > limits.max_cells {
                return Err(ReadError::Limit(format!(
                    "workbook has more than {} cells",
                    limits.max_cells
                )));
            }
            let origin = sheet_origin(name, abs_row, 0);
            lines.push(Line::Row { cells, origin });
        }
        pages.push(Page {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            name: Some(name.clone()),
            lines,
            no_text_layer: false,
        });
    }
    Ok(Document { format, pages })
}

/// Why [`check_sheet_span`] refused a sheet.
enum SpanError {
    Calamine(calamine::XlsxError),
    Limit(String),
}

/// Refuses an xlsx sheet whose cells span more than `max_cells` positions. calamine builds a
/// sheet's values and styles as dense grids over the bounding box of its cells, so a sheet of
/// two cells, A1 and XFD1048576 (a few KB), asked for 1.7 × 10¹⁰ cells and the process died
/// before any count could be checked. One streaming pass over the sheet's cell elements (values
/// or only a style) measures the box without building it.
fn check_sheet_span<RS: std::io::Read + std::io::Seek>(
    wb: &mut calamine::Xlsx<RS>,
    name: &str,
    max_cells: usize,
) -> Result<(), SpanError> {
    let mut cells = match wb.worksheet_cells_reader(name) {
        Ok(c) => c,
        // Not a worksheet (a chart sheet): calamine reads it as empty.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(()),
        Err(e) => return Err(SpanError::Calamine(e)),
    };
    let (mut rows, mut cols) = ((u32::MAX, 0u32), (u32::MAX, 0u32));
    let mut count = 0usize;
    while let Some((cell, _)) = cells
        .next_cell_with_style_id()
        .map_err(SpanError::Calamine)?
    {
        let (r, c) = cell.get_position();
        count += 1;
        rows = (rows.0.min(r), rows.1.max(r));
        cols = (cols.0.min(c), cols.1.max(c));
        if count > max_cells {
            return Err(SpanError::Limit(format!(
                "sheet {name} has more than {max_cells} cells"
            )));
        }
    }
    if count == 0 {
        return Ok(());
    }
    let span = (u64::from(rows.1 - rows.0) + 1) * (u64::from(cols.1 - cols.0) + 1);
    if span > max_cells as u64 {
        return Err(SpanError::Limit(format!(
            "sheet {name}'s cells span {} rows × {} columns, more than {max_cells} cells",
            rows.1 - rows.0 + 1,
            cols.1 - cols.0 + 1
        )));
    }
    Ok(())
}

fn sheet_origin(sheet: &str, row: u32, col: u32) -> Origin {
    Origin::Sheet {
        sheet: sheet.to_string(),
        row,
        col,
    }
}

fn is_blank(d: &Data) -> bool {
    match d {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Decimals a number format prints (`0.00`, `#,##0.00_ ` → 2; `0` → 0); `None` for General
/// and formats without a digit placeholder.
fn format_decimals(code: &str) -> Option<u32> {
    // The positive section, without quoted literals.
    let section = code.split(';').next().unwrap_or(code);
    let mut plain = String::new();
    let mut quoted = false;
    for ch in section.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if !quoted => plain.push(c),
            _ => {}
        }
    }
    if !plain.contains(['0', '#']) {
        return None;
    }
    let decimals = match plain.find('.') {
        Some(dot) => plain[dot + 1..]
            .chars()
            .take_while(|c| matches!(c, '0' | '#' | '?'))
            .count(),
        None => 0,
    };
    u32::try_from(decimals).ok()
}

/// A cell's printed text: numbers from their value, with the format's decimals when known.
fn cell_text(d: &Data, decimals: Option<u32>) -> String {
    match d {
        Data::Empty => String::new(),
        // A cell's line breaks (Alt+Enter) and the indentation around them are layout only.
        Data::String(s) if s.contains('\n') => s.lines().map(str::trim).collect(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => match decimals {
            Some(dp) if dp > 0 => Decimal::from(*i).round_dp(dp).to_string_fixed(dp),
            _ => i.to_string(),
        },
        Data::Float(f) => {
            let Some(v) = Decimal::from_f64_retain(*f) else {
                return f.to_string();
            };
            match decimals {
                Some(dp) => v.round_dp(dp).to_string_fixed(dp),
                // General: the shortest decimal that reads back as the same binary value.
                None => Decimal::from_str_exact(&f.to_string())
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_else(|_| f.to_string()),
            }
        }
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) => dt.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

trait FixedDp {
    fn to_string_fixed(&self, dp: u32) -> String;
}

impl FixedDp for Decimal {
    fn to_string_fixed(&self, dp: u32) -> String {
        let mut d = *self;
        d.rescale(dp);
        d.to_string()
    }
}

/// Largest inflation ratio of one xlsx part: real workbook parts inflate ≤ 15× (the corpus
/// templates' mostly empty 3,380-row sheets: 13×); a zip bomb inflates ≈ 1,000×.
const MAX_INFLATE_RATIO: u64 = 200;

/// Refuses an xlsx whose parts would inflate beyond [`Limits::max_unzipped_bytes`], reading only
/// the central directory.
fn check_zip(bytes: &[u8], limits: &Limits) -> Result<(), ReadError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Malformed {
            format: "xlsx",
            reason: e.to_string(),
        })?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(|e| ReadError::Malformed {
            format: "xlsx",
            reason: e.to_string(),
        })?;
        if f.encrypted() {
            return Err(ReadError::Encrypted);
        }
        total = total.saturating_add(f.size());
        // A part that claims a ratio beyond any real workbook is a bomb even if it lies about
        // its size.
        if f.size() / f.compressed_size().max(1) > MAX_INFLATE_RATIO {
            return Err(ReadError::Limit(format!(
                "xlsx part {} inflates {}× (a zip bomb?)",
                f.name().unwrap_or_default(),
                f.size() / f.compressed_size().max(1)
            )));
        }
    }
    if total > limits.max_unzipped_bytes {
        return Err(ReadError::Limit(format!(
            "xlsx inflates to {total} bytes; the limit is {}",
            limits.max_unzipped_bytes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats_give_their_decimals() {
        assert_eq!(format_decimals("General"), None);
        assert_eq!(format_decimals("0"), Some(0));
        assert_eq!(format_decimals("0.00"), Some(2));
        assert_eq!(format_decimals("#,##0.00_ ;[Red]-#,##0.00"), Some(2));
        assert_eq!(format_decimals("\"¥\"#,##0.0"), Some(1));
        assert_eq!(format_decimals("@"), None);
    }

    #[test]
    fn numbers_print_with_their_format() {
        assert_eq!(cell_text(&Data::Float(1234.5), Some(2)), "1234.50");
        assert_eq!(cell_text(&Data::Float(0.1 + 0.2), Some(2)), "0.30");
        assert_eq!(
            cell_text(&Data::Float(0.1 + 0.2), None),
            "0.30000000000000004"
        );
        assert_eq!(cell_text(&Data::Float(37188.34), None), "37188.34");
        assert_eq!(cell_text(&Data::Int(12), Some(2)), "12.00");
        assert_eq!(cell_text(&Data::Float(f64::NAN), Some(2)), "NaN");
    }
}
