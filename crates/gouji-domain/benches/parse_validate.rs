//! Parse and validation throughput on the seed documents (`cargo bench -p gouji-domain`).
//! Set GOUJI_SEEDS to the seed directory (default ../shared/seeds beside the repository).

/// mimalloc instead of the system allocator: the parser and the rules allocate many small strings,
/// and glibc's allocator costs ≈ 20–30 % of validation time (docs/benchmarks-validation.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gouji_domain::rules::{Context, validate};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().to_string(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn bench(c: &mut Criterion) {
    let docs = seeds();
    if docs.is_empty() {
        eprintln!("no seeds found: set GOUJI_SEEDS");
        return;
    }
    let total: usize = docs.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group("seeds");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("parse_all_5", |b| {
        b.iter(|| {
            docs.iter()
                .map(|(_, d)| {
                    gouji_domain::parse_document(d)
                        .map(|r| r.facts.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    let reports: Vec<_> = docs
        .iter()
        .filter_map(|(_, d)| gouji_domain::parse_document(d).ok())
        .collect();
    g.throughput(Throughput::Elements(reports.len() as u64));
    g.bench_function("validate_all_5", |b| {
        b.iter(|| {
            reports
                .iter()
                .map(|r| validate(r, &Context::default()).findings.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
