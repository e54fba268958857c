//! Readers of the originals units publish — PDF ([`pdf`]) and Excel workbooks ([`excel`]) —
//! into the domain's one document model ([`gouji_domain::document::Document`]), and detection
//! of the format by content ([`detect`]), so that every format goes through the same table
//! readers. The domain crate knows nothing of these libraries.
//!
//! Every reader is bounded by explicit [`Limits`] (bytes, pages, objects, cells, time) and
//! answers a [`ReadError`] instead of panicking on any input.

pub mod detect;
pub mod excel;
pub mod pdf;

use std::time::Duration;

/// Bounds every reader holds to; the defaults fit a platform that receives thousands of reports
/// in a week (real reports: 10–60 pages, 0.1–2 MB; workbooks ≤ 20 sheets of a few hundred
/// rows).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest original accepted (bytes).
    pub max_bytes: usize,
    /// Most pages of a PDF.
    pub max_pages: usize,
    /// Most drawing/text objects on one PDF page, and in the whole document.
    pub max_objects_per_page: usize,
    pub max_total_objects: usize,
    /// Largest decoded PDF stream (bytes): bounds a decompression bomb.
    pub max_stream_bytes: usize,
    /// Most non-empty cells of a workbook.
    pub max_cells: usize,
    /// Largest uncompressed size of a workbook's parts (bytes): bounds a zip bomb.
    pub max_unzipped_bytes: u64,
    /// Wall-clock budget of one read.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            max_pages: 2_000,
            max_objects_per_page: 200_000,
            max_total_objects: 5_000_000,
            max_stream_bytes: 64 * 1024 * 1024,
            max_cells: 2_000_000,
            max_unzipped_bytes: 256 * 1024 * 1024,
            deadline: Duration::from_secs(60),
        }
    }
}

/// Why an original could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("PDF has {pages} pages; the limit is {limit}")]
    TooManyPages { pages: usize, limit: usize },
    #[error("file is encrypted or password-protected; publish it without a password")]
    Encrypted,
    #[error("{format} file cannot be read: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("a reader limit was exceeded: {0}")]
    Limit(String),
    #[error("reading took longer than {secs} s (stopped after {pages_read} pages)")]
    Deadline { secs: u64, pages_read: usize },
    /// The call the read serves was cancelled or passed its deadline (`gouji_domain::work`):
    /// nobody waits for the document any more.
    #[error("reading stopped: {0:?}")]
    Stopped(gouji_domain::work::Stop),
}
