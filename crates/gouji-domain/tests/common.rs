//! Shared helpers for the domain integration tests: locating and loading the seed documents.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::PathBuf;

use gouji_domain::Report;

/// The seed directory: `$GOUJI_SEEDS`, else `../shared/seeds` beside the repository.
pub(crate) fn seeds_dir() -> PathBuf {
    match std::env::var_os("GOUJI_SEEDS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"),
    }
}

/// Reads seed `n` (0–4) as bytes. Panics with a clear message when the seeds are absent, unless
/// `GOUJI_SKIP_SEEDS=1`, in which case it returns `None`.
pub(crate) fn seed_bytes(n: usize) -> Option<Vec<u8>> {
    let dir = seeds_dir();
    let entry = std::fs::read_dir(&dir).ok().and_then(|rd| {
        rd.filter_map(Result::ok).find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{n:03}_"))
        })
    });
    match entry {
        Some(e) => Some(std::fs::read(e.path()).expect("seed readable")),
        None if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => {
            eprintln!(
                "seed {n:03} not found in {} — skipped (GOUJI_SKIP_SEEDS=1)",
                dir.display()
            );
            None
        }
        None => panic!(
            "seed {n:03}_*.txt not found in {}: put ../shared/seeds beside the repository or set GOUJI_SEEDS (GOUJI_SKIP_SEEDS=1 skips)",
            dir.display()
        ),
    }
}

/// Parses seed `n`.
pub(crate) fn seed(n: usize) -> Option<Report> {
    seed_bytes(n).map(|b| gouji_domain::parse_document(&b).expect("seed parses"))
}

/// The corpus directory: `$GOUJI_CORPUS`, else `../shared/corpus` beside the repository.
pub(crate) fn corpus_dir() -> PathBuf {
    match std::env::var_os("GOUJI_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// Reads corpus document `stem` (`<stem>.txt`). Panics with a clear message when the corpus is
/// absent, unless `GOUJI_SKIP_SEEDS=1`, in which case it returns `None`.
pub(crate) fn corpus_text(stem: &str) -> Option<Vec<u8>> {
    let path = corpus_dir().join(format!("{stem}.txt"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => None,
        Err(e) => panic!(
            "corpus document {} not readable ({e}): put ../shared/corpus beside the repository or set GOUJI_CORPUS (GOUJI_SKIP_SEEDS=1 skips)",
            path.display()
        ),
    }
}

/// Every `.txt` stem of the corpus, sorted.
pub(crate) fn corpus_stems() -> Vec<String> {
    let dir = corpus_dir();
    let mut out: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter_map(|n| n.strip_suffix(".txt").map(str::to_string))
            .collect(),
        Err(_) if std::env::var("GOUJI_SKIP_SEEDS").as_deref() == Ok("1") => Vec::new(),
        Err(e) => panic!(
            "corpus {} not readable ({e}): put ../shared/corpus beside the repository or set GOUJI_CORPUS",
            dir.display()
        ),
    };
    out.sort();
    out
}

/// Parses corpus document `stem`.
pub(crate) fn corpus(stem: &str) -> Option<Report> {
    corpus_text(stem).map(|b| {
        gouji_domain::parse_document(&b).unwrap_or_else(|e| panic!("{stem} does not parse: {e}"))
    })
}

/// One line per finding («rule Severity message»), the form of the golden files.
pub(crate) fn findings_text(v: &gouji_domain::rules::Validation) -> String {
    v.findings
        .iter()
        .map(|f| format!("{} {:?} {}\n", f.rule_id, f.severity, f.message))
        .collect()
}

/// Compares `text` with the golden file `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
#[track_caller]
pub(crate) fn assert_golden(name: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, text).expect("write golden");
    } else {
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text, want,
            "findings in tests/golden/{name} changed; review and run with UPDATE_GOLDEN=1"
        );
    }
}
