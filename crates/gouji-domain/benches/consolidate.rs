//! Consolidation throughput: 1,000 and 10,000 generated unit reports (synth::generate_department)
//! added one at a time to a `Consolidator` and finished. Report generation is outside the
//! measured loop. Numbers: docs/benchmarks-consolidation.md.

/// mimalloc instead of the system allocator: the parser and the rules allocate many small strings,
/// and glibc's allocator costs ≈ 20–30 % of validation time (docs/benchmarks-validation.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gouji_domain::ReportKind;
use gouji_domain::consolidate::Consolidator;
use gouji_domain::synth::generate_department;

fn consolidate(c: &mut Criterion) {
    let mut group = c.benchmark_group("consolidate");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        let (root, units) = generate_department(n, 42);
        let facts: usize = units.iter().map(|(_, r)| r.facts.len()).sum();
        eprintln!("{n} units, {facts} facts");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &units, |b, units| {
            b.iter(|| {
                let mut c = Consolidator::new(root.clone(), ReportKind::FinalAccounts, 2024);
                for (m, r) in units {
                    let _ = c.add(m.clone(), r);
                }
                c.finish()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, consolidate);
criterion_main!(benches);
