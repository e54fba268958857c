//! The document model is the text reader's input shape: every seed and corpus text lifted into
//! a [`Document`] renders back to itself and parses to the same report as the text.

mod common;

use gouji_domain::document::Document;

fn check(name: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = Document::from_text(text);
    let rendered = doc.render();
    let lines: Vec<&str> = gouji_domain::parse::text::lines(text).collect();
    let back: Vec<&str> = gouji_domain::parse::text::lines(&rendered.text).collect();
    assert_eq!(lines, back, "{name}: rendered lines differ");
    assert_eq!(rendered.origins.len(), lines.len(), "{name}");
    let direct = gouji_domain::parse_document(bytes).expect("parses");
    let mut model = gouji_domain::parse_model(&doc).expect("parses from the model");
    assert_eq!(
        model.format,
        Some(gouji_domain::document::Format::Text),
        "{name}"
    );
    assert!(
        model.origins.is_empty(),
        "{name}: text keeps its line numbers"
    );
    model.format = None;
    assert_eq!(direct, model, "{name}: model and text parse differ");
}

#[test]
fn seeds_and_corpus_read_the_same_through_the_model() {
    let mut n = 0;
    for i in 0..5 {
        if let Some(b) = common::seed_bytes(i) {
            check(&format!("seed {i}"), &b);
            n += 1;
        }
    }
    for stem in common::corpus_stems() {
        if let Some(b) = common::corpus_text(&stem) {
            check(&stem, &b);
            n += 1;
        }
    }
    if std::env::var("GOUJI_SKIP_SEEDS").as_deref() != Ok("1") {
        assert!(n >= 23, "expected 5 seeds and 18 corpus texts, read {n}");
    }
}
