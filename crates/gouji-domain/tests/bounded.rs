//! Work bounded by input (issue 12, docs/hardening.md): on every hostile document of
//! `gouji_domain::hostile`, parse + validate CPU grows linearly with the size, costs at most 4×
//! a seed's CPU per MiB, and peak memory stays within a stated multiple of the input; a
//! property target throws mixtures of them (and random lines) at the parser, bounded in time.
//!
//! Time is this thread's CPU time (`/proc/thread-self/schedstat`), compared between two sizes
//! or with the seeds in the same run: never an absolute wall-time threshold.

mod common;

use gouji_domain::hostile::thread_cpu;
use std::time::Duration;

use gouji_domain::hostile::{self, Shape};
use gouji_domain::rules::{Context, validate};
use gouji_domain::work;
use proptest::prelude::*;

/// Parse + validate of `doc`, CPU time, best of `runs`.
fn cost(doc: &[u8], runs: usize) -> Duration {
    gouji_domain::hostile::parse_validate_cpu(doc, runs)
}

/// Below this a measured cost is noise: costs are compared as at least this much.
const FLOOR: Duration = Duration::from_millis(5);

#[test]
fn hostile_documents_cost_linear_time_within_four_seeds_per_mib() {
    // The seeds' cost per MiB (parse + validate), the reference of the bound (none when the
    // seeds are skipped: then only linearity is checked).
    let seed_per_mib = seed_cost_per_byte().map(|b| b * (1 << 20) as f64);
    const SMALL: usize = 256 << 10;
    const LARGE: usize = 4 * SMALL;
    let mut report = Vec::new();
    for shape in Shape::ALL {
        let small = hostile::document(shape, SMALL);
        let large = hostile::document(shape, LARGE);
        let (ts, tl) = (cost(&small, 2), cost(&large, 2));
        let ratio = tl.max(FLOOR).as_secs_f64() / ts.max(FLOOR).as_secs_f64();
        let per_mib = tl.as_secs_f64() / (large.len() as f64 / (1 << 20) as f64);
        let seeds = seed_per_mib.map_or(0.0, |s| per_mib / s);
        report.push(format!(
            "{:<17} {:>8.1?} → {:>8.1?} (×{ratio:.1} for ×4), {seeds:.2}× a seed per MiB",
            shape.name(),
            ts,
            tl,
        ));
        // Linear: four times the input, about four times the work. Quadratic would be ×16.
        assert!(
            ratio <= 8.0,
            "{}: 4× the input cost {ratio:.1}× the CPU\n{}",
            shape.name(),
            report.join("\n")
        );
        assert!(
            seeds <= 4.0,
            "{}: {seeds:.2}× a seed's CPU per MiB\n{}",
            shape.name(),
            report.join("\n")
        );
    }
    eprintln!(
        "seeds: {:.1} ms per MiB\n{}",
        seed_per_mib.unwrap_or(0.0) * 1e3,
        report.join("\n")
    );
}

/// A `kB` field of `/proc/self/status` in bytes.
fn status_bytes(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse().ok()))
        })
        .unwrap_or(0usize)
        * 1024
}

/// Stated bound: peak memory of parse + validate above what was resident before, per byte of
/// a 1 MiB hostile input (docs/hardening.md; at 16 MiB the caps hold it to ≈ 15×).
const PEAK_PER_INPUT_BYTE: f64 = 40.0;

/// Run by [`peak_memory_is_a_bounded_multiple_of_the_input`] in a child process of its own
/// (the resident high-water mark is per process): measures one document.
#[test]
fn peak_memory_child() {
    let Ok(spec) = std::env::var("GOUJI_PEAK_CHILD") else {
        return;
    };
    let (name, size) = spec.split_once(':').expect("shape:size");
    let shape = Shape::from_name(name).expect("shape");
    // Templates, catalogs and patterns are loaded on first use, before the measurement.
    let _ = cost(&hostile::document(shape, 0), 1);
    let doc = hostile::document(shape, size.parse().expect("size"));
    let before = status_bytes("VmRSS:");
    let _ = cost(&doc, 1);
    let peak = status_bytes("VmHWM:").saturating_sub(before);
    println!("PEAK {peak} {}", doc.len());
}

#[test]
fn peak_memory_is_a_bounded_multiple_of_the_input() {
    let exe = std::env::current_exe().expect("test binary");
    let mut report = Vec::new();
    for shape in Shape::ALL {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "peak_memory_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GOUJI_PEAK_CHILD", format!("{}:{}", shape.name(), 1 << 20))
            .output()
            .expect("child runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.find("PEAK ").map(|at| &l[at + 5..]))
            .unwrap_or_else(|| panic!("{}: child printed no PEAK line: {stdout}", shape.name()));
        let mut it = line.split_whitespace().map(|x| x.parse::<f64>().unwrap());
        let (peak, len) = (it.next().unwrap(), it.next().unwrap());
        report.push(format!(
            "{:<17} peak {:>5.1}× the input",
            shape.name(),
            peak / len
        ));
        assert!(
            peak <= PEAK_PER_INPUT_BYTE * len,
            "{}: peak {:.1}× the input\n{}",
            shape.name(),
            peak / len,
            report.join("\n")
        );
    }
    eprintln!("{}", report.join("\n"));
}

fn shape() -> impl Strategy<Value = Shape> {
    (0..Shape::ALL.len()).prop_map(|i| Shape::ALL[i])
}

proptest! {
    // Bounded in time: 24 cases of at most 6 pieces of at most 24 KiB.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Mixtures of hostile pieces and random lines: the parser answers (a report or an
    /// error), never panics, never exceeds its caps, and costs at most 4× the seeds' CPU per
    /// byte (above a floor for the first microseconds).
    #[test]
    fn mixtures_of_hostile_pieces_stay_within_the_caps(
        pieces in prop::collection::vec((shape(), 0usize..24 << 10), 1..6),
        noise in prop::collection::vec("[0-9\t 。，年度万元合计收入支出公开表项目\n]{0,200}", 0..8),
    ) {
        let mut doc = Vec::new();
        for (i, (shape, size)) in pieces.iter().enumerate() {
            doc.extend(hostile::document(*shape, *size));
            if let Some(n) = noise.get(i) {
                doc.extend(n.as_bytes());
            }
        }
        let t = thread_cpu();
        match gouji_domain::parse_document(&doc) {
            Ok(r) => {
                prop_assert!(r.facts.len() <= work::MAX_FACTS);
                prop_assert!(r.figures.len() <= work::MAX_FIGURES);
                prop_assert!(r.unplaced.len() <= work::MAX_UNPLACED);
                std::hint::black_box(validate(&r, &Context::default()));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let spent = thread_cpu() - t;
        if let Some(per_byte) = seed_cost_per_byte() {
            // The bound of the linearity test, over a floor of 256 KiB of seed work.
            let allowed = per_byte * 4.0 * doc.len().max(256 << 10) as f64;
            prop_assert!(
                spent.as_secs_f64() <= allowed,
                "{} bytes took {spent:?}, more than 4× a seed's cost ({allowed:.3} s)",
                doc.len()
            );
        }
    }
}

/// The seeds' parse + validate CPU per byte (best of 5), measured once; `None` when the seeds
/// are skipped (`GOUJI_SKIP_SEEDS=1`).
fn seed_cost_per_byte() -> Option<f64> {
    static PER_BYTE: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *PER_BYTE.get_or_init(|| {
        let seeds: Vec<Vec<u8>> = (0..5).filter_map(common::seed_bytes).collect();
        if seeds.is_empty() {
            return None;
        }
        let bytes: usize = seeds.iter().map(Vec::len).sum();
        let spent: Duration = (0..5)
            .map(|_| seeds.iter().map(|t| cost(t, 1)).sum::<Duration>())
            .min()
            .unwrap_or_default();
        Some(spent.as_secs_f64() / bytes as f64)
    })
}
