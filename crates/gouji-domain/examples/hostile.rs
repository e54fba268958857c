//! CPU and peak memory of parse + validate per MiB on the hostile documents of
//! `gouji_domain::hostile`, next to the seeds' cost per MiB (issue 12, docs/hardening.md):
//! `cargo run --release -p gouji-domain --example hostile -- [MiB…] [--shape NAME]`.
//!
//! CPU is this thread's CPU time (Linux `/proc/thread-self/schedstat`; wall time elsewhere);
//! peak memory is the growth of the resident set's high-water mark (`VmHWM` over the `VmRSS`
//! before) while one document is parsed and validated, each document in a child process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gouji_domain::hostile::{self, Shape};
use gouji_domain::rules::{Context, validate};

/// The allocator the service binaries use (mimalloc), so that these numbers are theirs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A `kB` field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Parse + validate of `doc`: (CPU seconds of parse, of validate, growth of peak RSS in bytes,
/// outcome).
fn measure(doc: &[u8]) -> (f64, f64, usize, String) {
    let base = status_bytes("VmRSS:").unwrap_or(0);
    let (t0, c0) = (Instant::now(), thread_cpu());
    let cpu_since = |t: Instant, c: Option<Duration>| match (c, thread_cpu()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => t.elapsed().as_secs_f64(),
    };
    let parsed = gouji_domain::parse_document(doc);
    let parse = cpu_since(t0, c0);
    let (t1, c1) = (Instant::now(), thread_cpu());
    let outcome = match parsed {
        Ok(r) => {
            let v = validate(&r, &Context::default());
            format!(
                "{} facts, {} figures, {} unplaced, {} findings",
                r.facts.len(),
                r.figures.len(),
                r.unplaced.len(),
                v.findings.len()
            )
        }
        Err(e) => format!(
            "error: {}",
            e.to_string().chars().take(60).collect::<String>()
        ),
    };
    let check = cpu_since(t1, c1);
    let peak = status_bytes("VmHWM:").unwrap_or(0).saturating_sub(base);
    (parse, check, peak, outcome)
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let mut sizes: Vec<f64> = Vec::new();
    let mut only: Option<Shape> = None;
    let mut child = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--shape" {
            only = args.next().as_deref().and_then(Shape::from_name);
        } else if a == "--child" {
            child = true;
        } else if let Ok(m) = a.parse() {
            sizes.push(m);
        }
    }
    if sizes.is_empty() {
        sizes = vec![1.0, 4.0, 16.0];
    }
    if let Some(n) = std::env::var("GOUJI_STRUCTURED_FACTS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        // A structured report: the head table plus `n` facts on distinct rows of 公开02/公开03.
        let mut r = gouji_domain::parse_document(&hostile::document(Shape::DigitLines, 0))
            .expect("head parses");
        let template = r.facts[0].clone();
        for i in 0..n {
            let mut f = template.clone();
            f.table = match std::env::var("GOUJI_STRUCTURED_TABLES").ok() {
                Some(t) => format!("t{}", i % t.parse::<usize>().unwrap_or(1).max(1)),
                None => if i % 2 == 0 { "公开02" } else { "公开03" }.to_string(),
            };
            f.row = format!("{}", 2_000_000 + i);
            f.column = if i % 3 == 0 {
                "本年收入合计"
            } else {
                "财政拨款收入"
            }
            .to_string();
            r.facts.push(f);
        }
        let (t0, c0) = (Instant::now(), thread_cpu());
        let v = validate(&r, &Context::default());
        let cpu = match (c0, thread_cpu()) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => t0.elapsed().as_secs_f64(),
        };
        println!(
            "structured {n} facts: validate {:.3} s CPU ({:.2} µs per fact, {} findings)",
            cpu,
            cpu / n.max(1) as f64 * 1e6,
            v.findings.len()
        );
        return;
    }
    if child {
        // One document, measured in this fresh process.
        let (Some(shape), Some(&mib)) = (only, sizes.first()) else {
            std::process::exit(2);
        };
        // Warm up: the templates, catalogs and patterns are loaded on first use.
        let _ = measure(&hostile::document(shape, 0));
        let doc = hostile::document(shape, (mib * MIB) as usize);
        // The first run pays for fresh pages (and sets the peak); the second reuses them, as a
        // service does from its second request on.
        let (p1, v1, peak, outcome) = measure(&doc);
        let (p2, v2, _, _) = measure(&doc);
        let (parse, check) = if p2 + v2 < p1 + v1 {
            (p2, v2)
        } else {
            (p1, v1)
        };
        let mib = doc.len() as f64 / MIB;
        println!(
            "{:<17} {mib:>6.1} MiB: {:>7.1} ms CPU per MiB (parse {:>6.1}, validate {:>6.1}; first run {:>7.1}), peak +{:>5.2}× the input ({outcome})",
            shape.name(),
            (parse + check) / mib * 1e3,
            parse / mib * 1e3,
            check / mib * 1e3,
            (p1 + v1) / mib * 1e3,
            peak as f64 / doc.len() as f64,
        );
        return;
    }
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if std::env::var_os("GOUJI_QUOTED_RATIO").is_some() {
        // Bytes of source text a real report quotes (facts, figures, unplaced), per input byte.
        for s in &seeds {
            if let Ok(r) = gouji_domain::parse_document(s) {
                let quoted: usize = r.facts.iter().map(|f| f.source.text.len()).sum::<usize>()
                    + r.figures.iter().map(|f| f.source.text.len()).sum::<usize>()
                    + r.unplaced.iter().map(|u| u.text.len()).sum::<usize>();
                println!(
                    "quoted {:.2}× the input ({} bytes)",
                    quoted as f64 / s.len() as f64,
                    s.len()
                );
            }
        }
        return;
    }
    if !seeds.is_empty() {
        let bytes: usize = seeds.iter().map(Vec::len).sum();
        let mut cpu = f64::MAX;
        for _ in 0..10 {
            cpu = cpu.min(
                seeds
                    .iter()
                    .map(|s| {
                        let m = measure(s);
                        m.0 + m.1
                    })
                    .sum(),
            );
        }
        println!(
            "seeds: {:.1} ms CPU per MiB (parse + validate, best of 10; {} documents, {} KiB)",
            cpu / (bytes as f64 / MIB) * 1e3,
            seeds.len(),
            bytes / 1024
        );
    }
    let exe = std::env::current_exe().expect("own path");
    for shape in Shape::ALL {
        if only.is_some_and(|o| o != shape) {
            continue;
        }
        for &mib in &sizes {
            let out = std::process::Command::new(&exe)
                .args(["--child", "--shape", shape.name(), &mib.to_string()])
                .output()
                .expect("child runs");
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}
