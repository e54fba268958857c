//! What a request's repeated messages will take in memory once decoded, measured on its bytes
//! before prost decodes them.
//!
//! An entry of a repeated message field costs two bytes on the wire when it is empty (its tag
//! and a zero length) but the whole struct once decoded: an empty `TableInfo` is 2 bytes sent
//! and 224 bytes held, a `RowLabel` 2 and 80. A 16 MiB request of empty entries therefore decoded
//! to 2–4 GB (the vectors grow by doubling) — enough for one call to have the kernel kill the
//! service — before any count could be checked. [`check`] walks the wire form once, without
//! allocating, adds up `size_of` of every entry of the repeated fields that can be amplified so
//! (per the schema below), and refuses a request past [`MAX_DECODED_BYTES`].
//!
//! The walk is linear in the request's size and stops at the first malformed byte, where prost's
//! decoding stops too (and then fails).

use crate::report::v1 as pb;
use crate::validation::v1 as vpb;

/// The most memory the repeated messages of one request may take once decoded (the sum of
/// their structs' sizes; the vectors' spare capacity can double it, the strings come on top and
/// are bounded by the request's size). The five seeds' structured reports take 0.3–1.3 MiB for
/// 50–300 KB of wire form. A report near every count cap at once (200,000 facts, 50,000
/// figures, a row for each of a million lines: about 120 MiB) is refused; the chart's memory
/// limits hold 2 × 64 MiB per running request (`deploy/helm/gouji/README.md`).
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// The fields of a message whose entries are counted: (field number, what an entry is).
pub struct Shape(&'static [(u32, Entry)]);

/// One entry of a counted field.
#[derive(Clone, Copy)]
pub enum Entry {
    /// An entry of a repeated message field: its decoded size, and the fields inside it that are
    /// counted too.
    Message(usize, &'static Shape),
    /// A singular message field: no entry of its own (repeats merge into one), but its
    /// repeated fields count.
    Nested(&'static Shape),
    /// An entry of a repeated string or bytes field: its decoded size.
    Bytes(usize),
}

const NOTHING: Shape = Shape(&[]);

/// `TableInfo.rows`, `.dashes`, `.unreadable`.
pub const TABLE_INFO: Shape = Shape(&[
    (6, Entry::Message(size_of::<pb::RowLabel>(), &NOTHING)),
    (8, Entry::Message(size_of::<pb::DashCell>(), &NOTHING)),
    (9, Entry::Message(size_of::<pb::DashCell>(), &NOTHING)),
]);

/// Every repeated field of `Report`.
pub const REPORT: Shape = Shape(&[
    (7, Entry::Message(size_of::<pb::TableInfo>(), &TABLE_INFO)),
    (8, Entry::Message(size_of::<pb::Fact>(), &NOTHING)),
    (
        9,
        Entry::Message(size_of::<pb::NarrativeSection>(), &NOTHING),
    ),
    (
        10,
        Entry::Message(size_of::<pb::NarrativeFigure>(), &NOTHING),
    ),
    (11, Entry::Message(size_of::<pb::Unplaced>(), &NOTHING)),
    (
        12,
        Entry::Message(size_of::<pb::PerformanceScore>(), &NOTHING),
    ),
    (13, Entry::Bytes(size_of::<String>())),
    (14, Entry::Message(size_of::<pb::YearMention>(), &NOTHING)),
    (16, Entry::Message(size_of::<pb::LineOrigin>(), &NOTHING)),
]);

/// `RelatedReport.report`.
const RELATED_REPORT: Shape = Shape(&[(2, Entry::Nested(&REPORT))]);

/// `ValidateReportRequest.report` and `.related`.
pub const VALIDATE_REPORT_REQUEST: Shape = Shape(&[
    (2, Entry::Nested(&REPORT)),
    (
        5,
        Entry::Message(size_of::<vpb::RelatedReport>(), &RELATED_REPORT),
    ),
]);

/// `SubmitReportRequest.report`.
pub const SUBMIT_REPORT_REQUEST: Shape = Shape(&[(5, Entry::Nested(&REPORT))]);

/// The decoded size of the counted entries of a message of shape `shape` encoded in `bytes`
/// (of the part before the first malformed byte).
pub fn measure(bytes: &[u8], shape: &Shape) -> usize {
    let mut total = 0usize;
    walk(bytes, shape, &mut total);
    total
}

/// [`measure`], refused past [`MAX_DECODED_BYTES`]: the message says how much the request
/// would take and what the limit is.
pub fn check(bytes: &[u8], shape: &Shape) -> Result<(), String> {
    let n = measure(bytes, shape);
    if n > MAX_DECODED_BYTES {
        return Err(format!(
            "the request's repeated entries would take {n} bytes of memory once decoded; the \
             limit is {MAX_DECODED_BYTES} bytes (empty or near-empty entries cost far more \
             decoded than sent)"
        ));
    }
    Ok(())
}

/// Adds the entries of `bytes` to `total`; returns false at a malformed byte (the caller stops).
fn walk(mut bytes: &[u8], shape: &Shape, total: &mut usize) -> bool {
    while !bytes.is_empty() {
        let Some(key) = varint(&mut bytes) else {
            return false;
        };
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                if varint(&mut bytes).is_none() {
                    return false;
                }
            }
            1 | 5 => {
                let n = if wire_type == 1 { 8 } else { 4 };
                if bytes.len() < n {
                    return false;
                }
                bytes = &bytes[n..];
            }
            2 => {
                let Some(len) = varint(&mut bytes).and_then(|l| usize::try_from(l).ok()) else {
                    return false;
                };
                if bytes.len() < len {
                    return false;
                }
                let (body, rest) = bytes.split_at(len);
                bytes = rest;
                let entry = shape
                    .0
                    .iter()
                    .find(|(f, _)| u64::from(*f) == field)
                    .map(|(_, e)| *e);
                match entry {
                    Some(Entry::Message(size, inner)) => {
                        *total = total.saturating_add(size);
                        if !walk(body, inner, total) {
                            return false;
                        }
                    }
                    Some(Entry::Nested(inner)) => {
                        if !walk(body, inner, total) {
                            return false;
                        }
                    }
                    Some(Entry::Bytes(size)) => *total = total.saturating_add(size),
                    None => {}
                }
            }
            // Groups (3, 4) are not used by any Gouji message; prost refuses them too.
            _ => return false,
        }
    }
    true
}

/// A base-128 varint at the start of `bytes`, which it consumes.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn seed_reports() -> Vec<pb::Report> {
        let dir = std::env::var_os("GOUJI_SEEDS").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"),
            std::path::PathBuf::from,
        );
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("seeds at {}: {e} (set GOUJI_SEEDS)", dir.display()))
        {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            if let Ok(r) = gouji_domain::parse_document(&bytes) {
                out.push(crate::convert::report_to_pb(&r));
            }
        }
        assert!(!out.is_empty(), "no seed parsed");
        out
    }

    /// The walk counts exactly what prost allocates entries for: every repeated message of the
    /// seeds, nested ones included.
    #[test]
    fn counts_every_entry_of_a_real_report() {
        for r in seed_reports() {
            let expected = r.tables.len() * size_of::<pb::TableInfo>()
                + r.tables
                    .iter()
                    .map(|t| {
                        t.rows.len() * size_of::<pb::RowLabel>()
                            + (t.dashes.len() + t.unreadable.len()) * size_of::<pb::DashCell>()
                    })
                    .sum::<usize>()
                + r.facts.len() * size_of::<pb::Fact>()
                + r.sections.len() * size_of::<pb::NarrativeSection>()
                + r.figures.len() * size_of::<pb::NarrativeFigure>()
                + r.unplaced.len() * size_of::<pb::Unplaced>()
                + r.performance.len() * size_of::<pb::PerformanceScore>()
                + r.source_lines.len() * size_of::<String>()
                + r.year_mentions.len() * size_of::<pb::YearMention>()
                + r.line_origins.len() * size_of::<pb::LineOrigin>();
            let request = vpb::ValidateReportRequest {
                input: Some(vpb::validate_report_request::Input::Report(r.clone())),
                related: vec![vpb::RelatedReport {
                    r#ref: None,
                    report: Some(r.clone()),
                }],
                ..Default::default()
            };
            let bytes = request.encode_to_vec();
            assert_eq!(
                measure(&bytes, &VALIDATE_REPORT_REQUEST),
                2 * expected + size_of::<vpb::RelatedReport>(),
                "{}",
                r.subject
            );
            assert!(check(&bytes, &VALIDATE_REPORT_REQUEST).is_ok());
        }
    }

    /// 8 MiB of empty tables: 4 million entries of 224 bytes each, refused before decoding.
    #[test]
    fn empty_entries_that_would_decode_to_gigabytes_are_refused() {
        let mut bytes = Vec::new();
        for _ in 0..(4 << 20) {
            bytes.extend_from_slice(&[0x3a, 0x00]); // Report.tables (7, LEN), empty
        }
        let mut report = Vec::new();
        prost::encoding::bytes::encode(2, &bytes, &mut report); // ValidateReportRequest.report
        let n = measure(&report, &VALIDATE_REPORT_REQUEST);
        assert_eq!(n, (4 << 20) * size_of::<pb::TableInfo>());
        let err = check(&report, &VALIDATE_REPORT_REQUEST).unwrap_err();
        assert!(err.contains("limit is 67108864 bytes"), "{err}");
        // The same entries in the other report-carrying request.
        let mut submit = Vec::new();
        prost::encoding::bytes::encode(5, &bytes, &mut submit);
        assert!(check(&submit, &SUBMIT_REPORT_REQUEST).is_err());
    }

    #[test]
    fn a_malformed_request_is_measured_up_to_its_first_bad_byte() {
        // One empty related report, then a length that runs past the end.
        let bytes = [0x2a, 0x00, 0x2a, 0x05, 0x00];
        assert_eq!(
            measure(&bytes, &VALIDATE_REPORT_REQUEST),
            size_of::<vpb::RelatedReport>()
        );
        assert_eq!(measure(&[0xff; 11], &VALIDATE_REPORT_REQUEST), 0);
    }
}
