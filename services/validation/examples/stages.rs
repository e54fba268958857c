//! Where the validation service spends its CPU per request, stage by stage, in-process and
//! without transport: protobuf decode of the request, parse or conversion, rules, response
//! building and encoding. Measured in CPU time (`/proc/self/schedstat`) so that other load on the
//! machine does not count.
//!
//! ```text
//! GOUJI_SEEDS=/path/to/seeds cargo run --release -p gouji-validation --example stages [secs]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gouji_proto::validation::v1::{ValidateReportRequest, validate_report_request::Input};
use gouji_validation::validate_request;
use prost::Message;

fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` for about `secs`; returns CPU µs per call.
fn per_call(secs: f64, mut f: impl FnMut() -> usize) -> f64 {
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut n = 0u64;
    let mut sink = 0usize;
    while t0.elapsed().as_secs_f64() < secs {
        sink = sink.wrapping_add(f());
        n += 1;
    }
    std::hint::black_box(sink);
    let spent = match (c0, cpu_time()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => t0.elapsed().as_secs_f64(),
    };
    spent / n as f64 * 1e6
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    let docs: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if docs.is_empty() {
        eprintln!("no seeds in {}: set GOUJI_SEEDS", dir.display());
        std::process::exit(2);
    }
    let n = docs.len() as f64;
    let requests = |omit_report: bool, structured: bool| -> Vec<Vec<u8>> {
        docs.iter()
            .map(|d| {
                let input = if structured {
                    let mut r = gouji_domain::parse_document(d).expect("seed parses");
                    // As a platform that keeps tables, not documents, sends it: no source
                    // lines (each printed line a fact or figure quotes crosses once).
                    r.lines.clear();
                    r.year_mentions.clear();
                    Input::Report(gouji_proto::convert::report_to_pb(&r))
                } else {
                    Input::Document(d.clone())
                };
                ValidateReportRequest {
                    input: Some(input),
                    context: None,
                    omit_report,
                    ..Default::default()
                }
                .encode_to_vec()
            })
            .collect()
    };
    println!("stage                                  µs CPU per request (mean over the seeds)");
    for (name, omit, structured) in [
        ("document, report returned", false, false),
        ("document, findings only", true, false),
        ("structured report", true, true),
    ] {
        let reqs = requests(omit, structured);
        let size: usize = reqs.iter().map(Vec::len).sum();
        let decode = per_call(secs, || {
            reqs.iter()
                .map(|b| ValidateReportRequest::decode(b.as_slice()).map_or(0, |r| r.encoded_len()))
                .sum()
        }) / n;
        // The handler owns the decoded request, so decode and handle are timed together and
        // the decode time is subtracted.
        let decode_and_handle = per_call(secs, || {
            reqs.iter()
                .map(|b| {
                    ValidateReportRequest::decode(b.as_slice())
                        .ok()
                        .and_then(|r| validate_request(r).ok())
                        .map_or(0, |v| v.findings.len())
                })
                .sum()
        }) / n;
        let handle = decode_and_handle - decode;
        let responses: Vec<_> = reqs
            .iter()
            .map(|b| {
                let r = ValidateReportRequest::decode(b.as_slice()).expect("decodes");
                validate_request(r).expect("valid request")
            })
            .collect();
        let encode = per_call(secs, || {
            responses.iter().map(|r| r.encode_to_vec().len()).sum()
        }) / n;
        let out: usize = responses.iter().map(|r| r.encoded_len()).sum();
        println!(
            "{name:<28} request {:>6.1} KiB  response {:>6.1} KiB  decode {decode:>6.1}  handle {handle:>7.1}  encode {encode:>6.1}  total {:>7.1}",
            size as f64 / n / 1024.0,
            out as f64 / n / 1024.0,
            decode + handle + encode
        );
    }
}
