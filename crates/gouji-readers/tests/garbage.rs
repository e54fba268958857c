//! Garbage originals: every one gives a clear error (or an explicit «no text layer»), within
//! bounded time, never a panic. PDFs and workbooks are generated here with real writers
//! (lopdf, zip, rust_xlsxwriter).

use std::io::Write;
use std::time::{Duration, Instant};

use gouji_domain::document::Format;
use gouji_readers::detect::{self, Error};
use gouji_readers::{Limits, ReadError};
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A PDF of `pages` pages; each page's content stream is `content(i)`.
fn pdf(pages: usize, content: impl Fn(usize) -> Vec<Operation>, with_image: bool) -> Vec<u8> {
    pdf_rotated(pages, content, with_image, 0)
}

fn pdf_rotated(
    pages: usize,
    content: impl Fn(usize) -> Vec<Operation>,
    with_image: bool,
    rotate: i64,
) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let image_id = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        vec![0, 255, 255, 0],
    ));
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
        "XObject" => dictionary! { "Im1" => image_id },
    });
    let mut kids = Vec::with_capacity(pages);
    for i in 0..pages {
        let mut ops = content(i);
        if with_image {
            ops.extend([
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        500.into(),
                        0.into(),
                        0.into(),
                        700.into(),
                        50.into(),
                        50.into(),
                    ],
                ),
                Operation::new("Do", vec!["Im1".into()]),
                Operation::new("Q", vec![]),
            ]);
        }
        let stream = Stream::new(
            dictionary! {},
            Content { operations: ops }.encode().expect("encodes"),
        );
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Rotate" => rotate,
        });
        kids.push(Object::from(page_id));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64, "Resources" => resources_id,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}

fn text_ops(s: &str) -> Vec<Operation> {
    text_at(s, 72, 700)
}

fn text_at(s: &str, x: i64, y: i64) -> Vec<Operation> {
    vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("Td", vec![x.into(), y.into()]),
        Operation::new("Tj", vec![Object::string_literal(s)]),
        Operation::new("ET", vec![]),
    ]
}

/// A 2 × 3 grid of cells drawn with thin filled rectangles (no stroked lines), a label and a
/// figure in each row, and a caption above.
fn filled_rect_table() -> Vec<Operation> {
    let mut ops = text_at("Table 1", 72, 760);
    let (x0, x1, y_top) = (72i64, 372i64, 740i64);
    let rect = |x: i64, y: i64, w: i64, h: i64| {
        vec![
            Operation::new("re", vec![x.into(), y.into(), w.into(), h.into()]),
            Operation::new("f", vec![]),
        ]
    };
    for i in 0..4 {
        ops.extend(rect(x0, y_top - 20 * i, x1 - x0, 1)); // horizontal rules
    }
    for x in [x0, 222, x1] {
        ops.extend(rect(x, y_top - 60, 1, 61)); // vertical rules
    }
    for (i, (label, figure)) in [
        ("income", "1,234.50"),
        ("expense", "1,000.00"),
        ("total", "2,234.50"),
    ]
    .iter()
    .enumerate()
    {
        let y = y_top - 20 * i as i64 - 15;
        ops.extend(text_at(label, x0 + 5, y));
        ops.extend(text_at(figure, 227, y));
    }
    ops
}

/// Runs `f` and checks it answers within `secs`.
fn timed<T>(what: &str, secs: u64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(
        t.elapsed() < Duration::from_secs(secs),
        "{what} took {:?}",
        t.elapsed()
    );
    out
}

#[test]
fn a_text_pdf_is_read_and_its_lines_keep_their_page() {
    let bytes = pdf(2, |i| text_ops(&format!("page {} text", i + 1)), false);
    assert_eq!(detect::detect(&bytes), Format::Pdf);
    let doc = detect::read(&bytes, &Limits::default())
        .expect("reads")
        .expect("pdf");
    assert_eq!(doc.pages.len(), 2);
    let r = doc.render();
    assert_eq!(r.text, "page 1 text\n\npage 2 text\n");
    assert_eq!(r.origins[2].page(), Some(2));
}

#[test]
fn an_image_only_pdf_says_it_has_no_text_layer() {
    let bytes = pdf(3, |_| Vec::new(), true);
    let err = timed("image-only", 10, || {
        detect::parse(&bytes, &Limits::default())
    })
    .unwrap_err();
    assert_eq!(err, Error::NoTextLayer { pages: 3 });
    assert!(err.to_string().contains("no text layer"), "{err}");
}

#[test]
fn a_pdf_with_some_image_pages_names_them() {
    let bytes = pdf(
        3,
        |i| {
            if i == 1 {
                Vec::new()
            } else {
                text_ops("收入支出决算总表")
            }
        },
        false,
    );
    // The text pages have no table: a parse error, but the reader itself names nothing.
    let doc = detect::read(&bytes, &Limits::default())
        .expect("reads")
        .expect("pdf");
    assert!(
        !doc.pages[1].no_text_layer,
        "an empty page draws nothing: blank, not a scan"
    );
    let bytes = pdf(2, |i| if i == 0 { text_ops("x") } else { Vec::new() }, true);
    let doc = detect::read(&bytes, &Limits::default())
        .expect("reads")
        .expect("pdf");
    assert!(
        doc.pages
            .iter()
            .all(|p| p.no_text_layer == p.lines.is_empty())
    );
    // A real report with one scanned page: read, and the page is unplaced content at its own
    // line (G-08 reports unplaced content; today only for the seed families, see rules/).
    let path = std::env::var_os("GOUJI_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        })
        .join("jiangsu_rdbgt_2017_bmys.pdf");
    let real = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = detect::parse(&real, &Limits::default()).expect("parses");
    assert_eq!(parsed.no_text_layer, vec![31]);
    let notes: Vec<_> = parsed
        .report
        .unplaced
        .iter()
        .filter(|u| u.reason.contains("第31页无文字层"))
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        parsed.report.origin_of(notes[0].line).as_deref(),
        Some("第31页 (x 0, y 0)")
    );
}

#[test]
fn ten_thousand_empty_pages_are_refused_quickly() {
    let bytes = pdf(10_000, |_| Vec::new(), false);
    let err = timed("10,000 pages", 20, || {
        detect::parse(&bytes, &Limits::default())
    })
    .unwrap_err();
    assert_eq!(
        err,
        Error::Read(ReadError::TooManyPages {
            pages: 10_000,
            limit: 2_000
        })
    );
    // Under a higher page limit they read, and are blank: an empty document.
    let limits = Limits {
        max_pages: 20_000,
        ..Limits::default()
    };
    let err = timed("10,000 pages read", 60, || detect::parse(&bytes, &limits)).unwrap_err();
    assert_eq!(err, Error::Parse(gouji_domain::ParseError::Empty));
}

#[test]
fn a_truncated_pdf_is_an_error_or_a_partial_read_never_a_panic() {
    let whole = pdf(5, |i| text_ops(&format!("page {i}")), false);
    for cut in [10, whole.len() / 4, whole.len() / 2, whole.len() - 30] {
        let bytes = &whole[..cut];
        let res = timed("truncated", 10, || detect::parse(bytes, &Limits::default()));
        assert!(
            res.is_err(),
            "cut at {cut}: no tables, so an error: {res:?}"
        );
    }
    // A real report cut in half.
    let corpus = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/putuo_zfb_2025_dwys.pdf");
    let path = std::env::var_os("GOUJI_CORPUS")
        .map(|d| std::path::PathBuf::from(d).join("putuo_zfb_2025_dwys.pdf"))
        .unwrap_or(corpus);
    let real = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let half = &real[..real.len() / 2];
    let _ = timed("truncated report", 20, || {
        detect::parse(half, &Limits::default())
    });
}

#[test]
fn an_encrypted_pdf_asks_for_no_password_but_says_so() {
    let plain = pdf(1, |_| text_ops("secret"), false);
    let mut doc = Document::load_mem(&plain).expect("loads");
    let id = Object::string_literal(b"0123456789abcdef".to_vec());
    doc.trailer.set("ID", vec![id.clone(), id]);
    let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password: "user",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    })
    .expect("encryption state");
    doc.encrypt(&state).expect("encrypts");
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("saves");
    let err = timed("encrypted", 10, || {
        detect::parse(&bytes, &Limits::default())
    })
    .unwrap_err();
    assert_eq!(err, Error::Read(ReadError::Encrypted), "{err}");
}

#[test]
fn garbage_after_a_pdf_magic_is_malformed() {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let err = timed("garbage pdf", 10, || {
        detect::parse(&bytes, &Limits::default())
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Read(ReadError::Malformed { .. }) | Error::NoTextLayer { .. }
        ),
        "{err:?}"
    );
}

fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file(name, opts).expect("starts");
    z.write_all(data).expect("writes");
    z.finish().expect("finishes");
    out.into_inner()
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_inflated() {
    // 64 MiB of zeros deflate to ≈ 64 KiB: a ratio no real workbook part has (≤ 15 in the corpus).
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bytes = zip_with("xl/worksheets/sheet1.xml", &zeros);
    assert!(bytes.len() < 1024 * 1024, "{} bytes", bytes.len());
    assert_eq!(detect::detect(&bytes), Format::Xlsx);
    let err = timed("zip bomb", 10, || detect::parse(&bytes, &Limits::default())).unwrap_err();
    assert!(
        matches!(&err, Error::Read(ReadError::Limit(m)) if m.contains("zip bomb")),
        "{err:?}"
    );
}

#[test]
fn a_zip_that_is_no_workbook_and_a_truncated_workbook_are_malformed() {
    let bytes = zip_with("hello.txt", b"hello");
    let err = detect::parse(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, Error::Read(ReadError::Malformed { .. })),
        "{err:?}"
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet()
        .write_string(0, 0, "收入支出决算总表")
        .expect("writes");
    let whole = wb.save_to_buffer().expect("saves");
    for cut in [4, 100, whole.len() / 2, whole.len() - 10] {
        let err = timed("truncated xlsx", 10, || {
            detect::parse(&whole[..cut], &Limits::default())
        })
        .unwrap_err();
        assert!(
            matches!(err, Error::Read(ReadError::Malformed { .. })),
            "cut {cut}: {err:?}"
        );
    }
}

#[test]
fn an_ole_file_that_is_no_workbook_is_malformed() {
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.extend(std::iter::repeat_n(0xFFu8, 4096));
    assert_eq!(detect::detect(&bytes), Format::Xls);
    let err = timed("ole garbage", 10, || {
        detect::parse(&bytes, &Limits::default())
    })
    .unwrap_err();
    assert!(
        matches!(err, Error::Read(ReadError::Malformed { .. })),
        "{err:?}"
    );
}

#[test]
fn too_many_cells_are_refused() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for r in 0..200u32 {
        for c in 0..50u16 {
            ws.write_number(r, c, f64::from(r) + f64::from(c))
                .expect("writes");
        }
    }
    let bytes = wb.save_to_buffer().expect("saves");
    let limits = Limits {
        max_cells: 5_000,
        ..Limits::default()
    };
    let err = detect::parse(&bytes, &limits).unwrap_err();
    assert!(
        matches!(&err, Error::Read(ReadError::Limit(m)) if m.contains("5000 cells")),
        "{err:?}"
    );
}

/// Two cells at opposite corners of a sheet (a few KB): calamine would build the 1.7 × 10¹⁰
/// cells between them, and the process died. Refused on their span before anything is built.
#[test]
fn two_cells_at_opposite_corners_of_a_sheet_are_refused_not_built() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "收入").expect("writes");
    ws.write_number(1_048_575, 16_383, 1.0).expect("writes");
    let bytes = wb.save_to_buffer().expect("saves");
    assert!(bytes.len() < 16 * 1024, "{} bytes", bytes.len());
    let err = timed("two far cells", 30, || {
        detect::parse(&bytes, &Limits::default()).unwrap_err()
    });
    assert!(
        matches!(&err, Error::Read(ReadError::Limit(m)) if m.contains("1048576 rows × 16384 columns")),
        "{err:?}"
    );
    // The same with the far cell blank but formatted: calamine builds the styles as a grid too.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "收入").expect("writes");
    let bold = rust_xlsxwriter::Format::new().set_bold();
    ws.write_blank(1_048_575, 16_383, &bold).expect("writes");
    let bytes = wb.save_to_buffer().expect("saves");
    let err = timed("a far formatted blank", 30, || {
        detect::parse(&bytes, &Limits::default()).unwrap_err()
    });
    assert!(
        matches!(&err, Error::Read(ReadError::Limit(m)) if m.contains("1048576 rows × 16384 columns")),
        "{err:?}"
    );
}

#[test]
fn a_table_drawn_with_filled_rectangles_reads_as_rows_of_cells() {
    let bytes = pdf(1, |_| filled_rect_table(), false);
    let doc = detect::read(&bytes, &Limits::default())
        .expect("reads")
        .expect("pdf");
    assert_eq!(
        doc.render().text,
        "Table 1\nincome\t1,234.50\nexpense\t1,000.00\ntotal\t2,234.50\n"
    );
    let gouji_domain::document::Line::Row { cells, .. } = &doc.pages[0].lines[1] else {
        panic!("a row: {:?}", doc.pages[0].lines[1]);
    };
    match &cells[1].origin {
        gouji_domain::document::Origin::Pdf { page, bbox } => {
            assert_eq!(*page, 1);
            assert!((bbox.x0 - 222.0).abs() < 2.0 && bbox.x1 > 360.0, "{bbox:?}");
        }
        o => panic!("{o:?}"),
    }
}

/// A landscape table on a portrait page: drawn turned a quarter (`cm`) and shown upright by
/// `/Rotate`, as office suites print landscape sheets. It reads as the reader sees it.
#[test]
fn a_rotated_page_is_read() {
    let turned = |_| {
        let mut ops = vec![
            Operation::new("q", vec![]),
            Operation::new(
                "cm",
                vec![
                    0.into(),
                    1.into(),
                    (-1).into(),
                    0.into(),
                    842.into(),
                    0.into(),
                ],
            ),
        ];
        ops.extend(filled_rect_table());
        ops.push(Operation::new("Q", vec![]));
        ops
    };
    let bytes = pdf_rotated(1, turned, false, 90);
    let doc = detect::read(&bytes, &Limits::default())
        .expect("reads")
        .expect("pdf");
    let text = doc.render().text;
    for want in ["income\t1,234.50", "total\t2,234.50"] {
        assert!(text.contains(want), "{want} in {text:?}");
    }
}

/// A page ruled by 200 horizontal and 140 vertical thin lines (a few KB): the table finder's
/// cost grows with the square of the 28,000 crossings (3.3 s in release, far more in a debug
/// build). Past `MAX_GRID_CROSSINGS` the page is read as text; the limit is 2.3× the densest
/// page of the corpus.
#[test]
fn a_page_of_dense_ruling_is_read_as_text_in_bounded_time() {
    let n: i64 = 200;
    let grid = |_| {
        let mut ops = text_at("Grid 1", 30, 830);
        // 4 pt apart: farther than the table finder's 3 pt snapping, so no two lines merge.
        for i in 0..n {
            let y = 20 + 4 * i;
            ops.extend([
                Operation::new("m", vec![20.into(), y.into()]),
                Operation::new("l", vec![580.into(), y.into()]),
            ]);
        }
        for i in 0..(n * 7 / 10) {
            let x = 20 + 4 * i;
            ops.extend([
                Operation::new("m", vec![x.into(), 20.into()]),
                Operation::new("l", vec![x.into(), 820.into()]),
            ]);
        }
        ops.push(Operation::new("S", vec![]));
        ops
    };
    let bytes = pdf(1, grid, false);
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    let doc = timed("a densely ruled page", 30, || {
        detect::read(&bytes, &Limits::default())
            .expect("reads")
            .expect("pdf")
    });
    assert_eq!(doc.render().text, "Grid 1\n");
}
