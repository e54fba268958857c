//! Which reader a document needs, from its content, never its file name: `%PDF` (within the
//! first 1,024 bytes, as readers allow), a ZIP archive with an `xl/` part (xlsx), an OLE compound
//! file (xls), else text. [`read`] runs the reader and [`parse`] the table readers after it.

use gouji_domain::document::{Document, Format};
use gouji_domain::{ParseError, Report};

use crate::{Limits, ReadError};

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The format of `bytes` by content.
pub fn detect(bytes: &[u8]) -> Format {
    let head = &bytes[..bytes.len().min(1024)];
    if memfind(head, b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if bytes.starts_with(&OLE_MAGIC) {
        return Format::Xls;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        // Any ZIP is read as a workbook: the xlsx reader says so when it has no xl/ part.
        return Format::Xlsx;
    }
    Format::Text
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Why a document could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(
        "PDF has no text layer on any of its {pages} pages (a scanned image?); OCR is not supported: publish the PDF with its text"
    )]
    NoTextLayer { pages: usize },
}

/// Reads a PDF or workbook into the document model; `None` for text (which the table readers
/// take as it is).
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Option<Document>, Error> {
    let format = detect(bytes);
    let doc = match format {
        Format::Text => return Ok(None),
        Format::Pdf => crate::pdf::read_pdf(bytes, limits)?,
        Format::Xlsx | Format::Xls => crate::excel::read_workbook(bytes, format, limits)?,
    };
    let with_text = doc.pages.iter().filter(|p| !p.lines.is_empty()).count();
    // Nothing readable, and something drawn that may be a scan: say so (blank pages are just
    // an empty document).
    if format == Format::Pdf && with_text == 0 && doc.pages.iter().any(|p| p.no_text_layer) {
        return Err(Error::NoTextLayer {
            pages: doc.pages.len(),
        });
    }
    Ok(Some(doc))
}

/// What was read: the report, the reader that ran, and the pages without a text layer.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub report: Report,
    pub format: Format,
    pub pages: usize,
    /// 1-based pages that draw images but have no text (not read; OCR is not supported).
    pub no_text_layer: Vec<u32>,
}

/// Detects, reads and parses a document of any supported format.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, Error> {
    match read(bytes, limits)? {
        None => Ok(Parsed {
            report: gouji_domain::parse_document(bytes)?,
            format: Format::Text,
            pages: 1,
            no_text_layer: Vec::new(),
        }),
        Some(doc) => {
            let mut report = gouji_domain::parse_model(&doc)?;
            let no_text_layer: Vec<u32> = doc
                .pages
                .iter()
                .filter(|p| p.no_text_layer)
                .map(|p| p.number)
                .collect();
            note_pages_without_text(&mut report, &no_text_layer);
            Ok(Parsed {
                report,
                format: doc.format,
                pages: doc.pages.len(),
                no_text_layer,
            })
        }
    }
}

/// A page that could not be read is content the report lacks: one unplaced entry per page (the
/// validator's G-08 warning), at the page's line.
fn note_pages_without_text(report: &mut Report, pages: &[u32]) {
    for &page in pages {
        let line = report
            .origins
            .iter()
            .position(|o| o.page() == Some(page))
            .map_or(0, |i| u32::try_from(i + 1).unwrap_or(u32::MAX));
        report.unplaced.push(gouji_domain::model::Unplaced {
            line,
            text: String::new(),
            reason: format!(
                "第{page}页无文字层（扫描图片？），未能读取；请公开带文字的 PDF（不支持 OCR）"
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(detect(b"%PDF-1.7\n..."), Format::Pdf);
        assert_eq!(detect(b"\xef\xbb\xbf%PDF-1.4"), Format::Pdf);
        assert_eq!(detect(b"PK\x03\x04rest"), Format::Xlsx);
        assert_eq!(detect(&OLE_MAGIC), Format::Xls);
        assert_eq!(detect("收入支出决算总表".as_bytes()), Format::Text);
        assert_eq!(detect(b""), Format::Text);
    }
}
