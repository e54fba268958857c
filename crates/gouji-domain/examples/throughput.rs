//! Validation and parse throughput per core, measured in CPU time so that a busy machine does not
//! distort it: `GOUJI_SEEDS=… cargo run --release -p gouji-domain --example throughput [secs] [validate|parse]`.
//!
//! Reports reports/s of `validate()` alone (documents parsed once beforehand) and MiB/s of
//! `parse_document`, both per CPU-second of this process (Linux `/proc/self/schedstat`; wall
//! time elsewhere).

/// The allocator the service binaries use (mimalloc), so that these numbers are theirs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gouji_domain::rules::{Context, validate};

/// CPU time consumed by this process so far (falls back to `None` off Linux).
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` repeatedly for about `secs` and returns (iterations, seconds of CPU or wall time).
fn run(secs: f64, mut f: impl FnMut() -> usize) -> (u64, f64, usize) {
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut n = 0u64;
    let mut sink = 0usize;
    while t0.elapsed().as_secs_f64() < secs {
        sink = sink.wrapping_add(f());
        n += 1;
    }
    let spent = match (c0, cpu_time()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => t0.elapsed().as_secs_f64(),
    };
    (n, spent, sink)
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    let mut docs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    if docs.is_empty() {
        eprintln!("no seeds in {}: set GOUJI_SEEDS", dir.display());
        std::process::exit(2);
    }
    let reports: Vec<_> = docs
        .iter()
        .filter_map(|d| gouji_domain::parse_document(d).ok())
        .collect();
    let only = std::env::args().nth(2).unwrap_or_default();
    let ctx = Context::default();
    if only != "parse" {
        let (n, t, _) = run(secs, || {
            reports
                .iter()
                .map(|r| validate(r, &ctx).findings.len())
                .sum()
        });
        let per = n as f64 * reports.len() as f64;
        println!(
            "validate: {:.0} reports/s per core ({:.1} µs/report, {} reports × {n} rounds in {t:.2} CPU-s)",
            per / t,
            t / per * 1e6,
            reports.len()
        );
    }
    if only == "per-report" {
        for (i, r) in reports.iter().enumerate() {
            let (n, t, _) = run(secs / reports.len() as f64, || {
                validate(r, &ctx).findings.len()
            });
            println!(
                "  report {i}: {:.1} µs ({} facts, {} figures, {} lines)",
                t / n as f64 * 1e6,
                r.facts.len(),
                r.figures.len(),
                r.lines.len()
            );
        }
        return;
    }
    if only == "validate" {
        return;
    }
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let (n, t, _) = run(secs, || {
        docs.iter()
            .map(|d| {
                gouji_domain::parse_document(d)
                    .map(|r| r.facts.len())
                    .unwrap_or(0)
            })
            .sum()
    });
    println!(
        "parse:    {:.2} MiB/s per core ({:.0} documents/s, {} documents × {n} rounds in {t:.2} CPU-s)",
        n as f64 * bytes as f64 / t / (1024.0 * 1024.0),
        n as f64 * docs.len() as f64 / t,
        docs.len()
    );
}
