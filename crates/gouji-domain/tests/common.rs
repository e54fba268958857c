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
