//! Reader throughput on the corpus originals, one thread: PDF pages per second (reading into the
//! document model), PDF-to-findings time per report (read + parse + validate), and workbook
//! cells per second. `bench CORPUS_DIR [ROUNDS]`; best of ROUNDS per file.

use std::time::{Duration, Instant};

use gouji_readers::{Limits, detect};

fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.expect("one round"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/corpus".into());
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pdf" | "xlsx" | "xls")
            )
        })
        .collect();
    files.sort();
    let limits = Limits::default();
    let ctx = gouji_domain::rules::Context::default();
    let (mut pages, mut pdf_read, mut pdf_all) = (0usize, Duration::ZERO, Duration::ZERO);
    let (mut cells, mut xl_read) = (0usize, Duration::ZERO);
    for path in &files {
        let bytes = std::fs::read(path).expect("readable");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let (t_read, doc) = best(rounds, || detect::read(&bytes, &limits));
        let Ok(Some(doc)) = doc else {
            println!("{name}\tnot read: {doc:?}");
            continue;
        };
        let (t_all, findings) = best(rounds, || {
            detect::parse(&bytes, &limits).map(|p| {
                gouji_domain::rules::validate(&p.report, &ctx)
                    .findings
                    .len()
            })
        });
        match doc.format {
            gouji_domain::document::Format::Pdf => {
                let n = doc.pages.len();
                pages += n;
                pdf_read += t_read;
                pdf_all += t_all;
                println!(
                    "{name}\t{n} pages\tread {:.1} ms\t{:.0} pages/s\tto findings {:.1} ms ({} findings)",
                    t_read.as_secs_f64() * 1e3,
                    n as f64 / t_read.as_secs_f64(),
                    t_all.as_secs_f64() * 1e3,
                    findings.map_or_else(|e| e.to_string(), |n| n.to_string())
                );
            }
            _ => {
                let n = doc.cell_count();
                cells += n;
                xl_read += t_read;
                println!(
                    "{name}\t{n} cells\tread {:.1} ms\t{:.0} cells/s",
                    t_read.as_secs_f64() * 1e3,
                    n as f64 / t_read.as_secs_f64()
                );
            }
        }
    }
    println!(
        "TOTAL PDF\t{pages} pages\tread {:.2} s\t{:.1} pages/s per core\tto findings {:.2} s",
        pdf_read.as_secs_f64(),
        pages as f64 / pdf_read.as_secs_f64(),
        pdf_all.as_secs_f64()
    );
    // A filled workbook of report size ×10: 16 sheets × 400 rows × 8 cells of figures (#,##0.00).
    let mut wb = rust_xlsxwriter::Workbook::new();
    let money = rust_xlsxwriter::Format::new().set_num_format("#,##0.00");
    for s in 0..16u32 {
        let ws = wb.add_worksheet();
        for r in 0..400u32 {
            ws.write_string(r, 0, format!("{}{r:02}", 201 + s))
                .expect("writes");
            for c in 1..8u16 {
                let v = f64::from(r * 1_000 + u32::from(c)) + 0.25;
                ws.write_number_with_format(r, c, v, &money)
                    .expect("writes");
            }
        }
    }
    let filled = wb.save_to_buffer().expect("workbook");
    let (t, doc) = best(rounds, || detect::read(&filled, &limits));
    let n = doc.ok().flatten().map_or(0, |d| d.cell_count());
    println!(
        "synthetic filled xlsx\t{n} cells\tread {:.1} ms\t{:.0} cells/s",
        t.as_secs_f64() * 1e3,
        n as f64 / t.as_secs_f64()
    );
    println!(
        "TOTAL Excel\t{cells} cells\tread {:.3} s\t{:.0} cells/s per core",
        xl_read.as_secs_f64(),
        cells as f64 / xl_read.as_secs_f64()
    );
}
