//! gRPC load benchmark: `ValidateReport` against the trivial `Echo` RPC carrying the same payload,
//! over a real loopback TCP socket, in one run on one machine.
//!
//! The real validation server (same builder, limits and service as the `gouji-validation`
//! binary) is started in-process on `127.0.0.1:0`; a tonic client keeps `--concurrency` requests
//! in flight (default 64) for `--secs` seconds per RPC and prints requests/s and p50/p90/p99
//! latency for each. Server and client share this process and the machine's cores, so the client
//! is kept as cheap as possible and identical for every RPC: one runtime thread by default (a
//! second one costs the machine 0.05 cores in wake-ups without sending more), requests are protobuf-encoded once
//! before the run and sent as bytes through a pass-through codec (`gouji_proto::codec::Raw`), and responses are taken as
//! bytes (each RPC's response is decoded and checked once before its run).
//!
//! Two payloads, each compared with an `Echo` of exactly the same request bytes (all but the
//! full-text structured form):
//! - the seed documents as text (`input.document`): the server parses, validates and answers
//!   with findings only (`omit_report`), or also with the parsed report;
//! - the same seeds already in structured form (`input.report`, without source lines): what a
//!   platform that holds structured data sends; the server converts and validates. Once with
//!   the source texts compacted (each printed line a fact or figure quotes sent once, as
//!   `gouji_proto::convert::report_to_pb` writes it) and once with every reference carrying its
//!   text (as a client may send it), side by side.
//!
//! ```text
//! GOUJI_SEEDS=/path/to/seeds cargo bench -p gouji-validation --bench grpc_load -- \
//!     [--secs 10] [--concurrency 64] [--connections 4] [--client-threads 1] [--warmup 2] \
//!     [--only NAME-PART]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gouji_proto::codec::Raw;
use gouji_proto::validation::v1::{
    EchoRequest, EchoResponse, ValidateReportRequest, ValidateReportResponse,
    validate_report_request::Input,
};
use gouji_runtime::server::{self, Limits};
use gouji_validation::Validator;
use prost::Message;
use tokio::net::TcpListener;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

const ECHO: &str = "/gouji.validation.v1.ValidationService/Echo";
const VALIDATE: &str = "/gouji.validation.v1.ValidationService/ValidateReport";

#[derive(Clone, Copy)]
struct Options {
    secs: f64,
    warmup: f64,
    concurrency: usize,
    connections: usize,
    client_threads: usize,
}

fn options() -> Options {
    let mut o = Options {
        secs: 10.0,
        warmup: 2.0,
        concurrency: 64,
        connections: 4,
        client_threads: 1,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    if let Some(v) = value("--secs") {
        o.secs = v;
    }
    if let Some(v) = value("--warmup") {
        o.warmup = v;
    }
    if let Some(v) = value("--concurrency") {
        o.concurrency = (v as usize).max(1);
    }
    if let Some(v) = value("--connections") {
        o.connections = (v as usize).max(1);
    }
    if let Some(v) = value("--client-threads") {
        o.client_threads = (v as usize).max(1);
    }
    o
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// One workload: an RPC and the encoded requests it cycles through.
struct Workload {
    name: &'static str,
    path: &'static str,
    requests: Vec<Bytes>,
}

/// One call with pre-encoded bytes; returns false on an RPC error or an empty answer.
async fn call(client: &mut tonic::client::Grpc<Channel>, path: &'static str, body: Bytes) -> bool {
    if client.ready().await.is_err() {
        return false;
    }
    client
        .unary(
            tonic::Request::new(body),
            PathAndQuery::from_static(path),
            Raw,
        )
        .await
        .is_ok_and(|r| !r.get_ref().is_empty())
}

/// Sends each request once and decodes the answer, so that the load runs only send requests
/// that the server answers correctly.
async fn check(channel: &Channel, w: &Workload) -> anyhow::Result<()> {
    let mut client = tonic::client::Grpc::new(channel.clone())
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    for body in &w.requests {
        client.ready().await?;
        let answer = client
            .unary(
                tonic::Request::new(body.clone()),
                PathAndQuery::from_static(w.path),
                Raw,
            )
            .await?
            .into_inner();
        if w.path == ECHO {
            let echoed = EchoResponse::decode(answer)?.payload;
            anyhow::ensure!(
                EchoRequest::decode(body.clone())?.payload == echoed,
                "{}: echo differs",
                w.name
            );
        } else {
            let r = ValidateReportResponse::decode(answer)?;
            anyhow::ensure!(
                !r.catalog_version.is_empty() && !r.findings.is_empty(),
                "{}: no findings on a seed",
                w.name
            );
        }
    }
    Ok(())
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// CPU the server's threads spent in the measured window.
    server_cpu: Duration,
    /// CPU the load generator's threads spent in the same window.
    client_cpu: Duration,
}

/// Keeps `concurrency` calls in flight for `warmup + secs`; measures only after the warm-up.
async fn drive(channels: &[Channel], w: &Workload, o: Options) -> Outcome {
    let requests = Arc::new(w.requests.clone());
    let path = w.path;
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..o.concurrency {
        let mut client = tonic::client::Grpc::new(channels[i % channels.len()].clone())
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        let (requests, measuring, stop) = (requests.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0usize;
            let mut k = i;
            while !stop.load(Ordering::Relaxed) {
                let body = requests[k % requests.len()].clone();
                k += 1;
                let t = Instant::now();
                let ok = call(&mut client, path, body).await;
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let cpu_before = threads_cpu(SERVER_THREADS);
    let client_before = threads_cpu(CLIENT_THREADS);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(o.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let server_cpu = cpu_since(SERVER_THREADS, &cpu_before);
    let client_cpu = cpu_since(CLIENT_THREADS, &client_before);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort_unstable();
    Outcome {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
        server_cpu,
        client_cpu,
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of this thread so far (Linux `/proc/thread-self/schedstat`; wall time elsewhere).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

/// CPU time of each thread of this process whose name starts with one of `prefixes` (Linux
/// `/proc/self/task/*/schedstat`), by thread id.
fn threads_cpu(prefixes: &[&str]) -> std::collections::HashMap<u64, Duration> {
    let mut out = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.filter_map(Result::ok) {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !prefixes.iter().any(|p| comm.trim_end().starts_with(p)) {
            continue;
        }
        if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            out.insert(tid, Duration::from_nanos(ns));
        }
    }
    out
}

/// CPU the `prefixes` threads spent since `before` (threads started since count from zero).
fn cpu_since(prefixes: &[&str], before: &std::collections::HashMap<u64, Duration>) -> Duration {
    threads_cpu(prefixes)
        .into_iter()
        .map(|(tid, now)| now.saturating_sub(before.get(&tid).copied().unwrap_or_default()))
        .sum()
}

/// Name prefixes of the server's threads: its runtime's workers and blocking pool, and the CPU
/// pool where parse and rules run; the client runs on other threads.
const SERVER_THREADS: &[&str] = &["gouji-srv", "gouji-cpu"];

/// Name prefix of the load generator's threads.
const CLIENT_THREADS: &[&str] = &["gouji-load"];

/// CPU one `ValidateReport` request costs in-process (decode + validate_request), averaged over
/// about a second of rounds through `requests`.
fn in_process_cpu(requests: &[Bytes]) -> Duration {
    let (t0, c0) = (Instant::now(), thread_cpu());
    let mut n = 0u32;
    while t0.elapsed() < Duration::from_secs(1) || n == 0 {
        for r in requests {
            let req = ValidateReportRequest::decode(r.clone()).expect("request decodes");
            let _ = std::hint::black_box(gouji_validation::validate_request(req));
            n += 1;
        }
    }
    let spent = match (c0, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => t0.elapsed(),
    };
    spent / n
}

/// The same in-process work on `threads` threads at once (each starting at another request):
/// CPU per request over all of them, and requests per second of wall time. What running
/// requests side by side costs without gRPC (shared caches, memory bandwidth, the allocator) —
/// the baseline that separates the transport's overhead from the machine's parallel scaling.
fn in_process_parallel(requests: &[Bytes], threads: usize) -> (Duration, f64) {
    let t0 = Instant::now();
    let per_thread: Vec<(Duration, u32)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    let c0 = thread_cpu();
                    let mut n = 0u32;
                    let mut i = k;
                    while t0.elapsed() < Duration::from_secs(1) || n == 0 {
                        let r = &requests[i % requests.len()];
                        let req =
                            ValidateReportRequest::decode(r.clone()).expect("request decodes");
                        let _ = std::hint::black_box(gouji_validation::validate_request(req));
                        n += 1;
                        i += 1;
                    }
                    let spent = match (c0, thread_cpu()) {
                        (Some(a), Some(b)) => b - a,
                        _ => t0.elapsed(),
                    };
                    (spent, n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let wall = t0.elapsed();
    let cpu: Duration = per_thread.iter().map(|(c, _)| *c).sum();
    let n: u32 = per_thread.iter().map(|(_, n)| *n).sum();
    (cpu / n.max(1), f64::from(n) / wall.as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the harness flags are ignored.
    let o = options();
    let docs = seeds();
    if docs.is_empty() {
        eprintln!("no seed documents found: set GOUJI_SEEDS");
        return Ok(());
    }
    let bytes: usize = docs.iter().map(Vec::len).sum();
    // The server on a runtime of its own, so that its threads' CPU can be told from the
    // client's; its blocking threads are kept for the whole run (a thread that exits takes its
    // CPU count with it).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(SERVER_THREADS[0])
        .thread_keep_alive(Duration::from_secs(3_600))
        .build()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.client_threads)
        .enable_all()
        .thread_name(CLIENT_THREADS[0])
        .build()?;
    let server_handle = server_rt.handle().clone();
    rt.block_on(async move {
        let limits = Limits::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = server::builder(limits).add_service(Validator.into_server(limits));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = server_handle.spawn(router.serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            async {
                let _ = stop_rx.await;
            },
        ));
        let mut channels = Vec::new();
        for _ in 0..o.connections {
            channels.push(
                server::client_endpoint(&format!("http://{addr}"))?
                    .connect()
                    .await?,
            );
        }
        println!(
            "gRPC load on {addr}: {} seed documents ({:.1} KiB average), {} in flight over {} connections, {}s per RPC after {}s warm-up, {} worker threads",
            docs.len(),
            bytes as f64 / docs.len() as f64 / 1024.0,
            o.concurrency,
            o.connections,
            o.secs,
            o.warmup,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let validate = |input: Input, omit_report: bool| -> Bytes {
            ValidateReportRequest {
                input: Some(input),
                context: None,
                omit_report,
                ..Default::default()
            }
            .encode_to_vec()
            .into()
        };
        let echo_of = |requests: &[Bytes]| -> Vec<Bytes> {
            requests
                .iter()
                .map(|b| {
                    EchoRequest {
                        payload: b.to_vec(),
                    }
                    .encode_to_vec()
                    .into()
                })
                .collect()
        };
        let as_document: Vec<Bytes> = docs
            .iter()
            .map(|d| validate(Input::Document(d.clone()), true))
            .collect();
        let as_document_with_report: Vec<Bytes> = docs
            .iter()
            .map(|d| validate(Input::Document(d.clone()), false))
            .collect();
        // As a platform that keeps tables, not documents, sends them: no source lines, each
        // printed line a fact or figure quotes on the wire once (the compacted form)…
        let structured: Vec<gouji_proto::report::v1::Report> = docs
            .iter()
            .filter_map(|d| gouji_domain::parse_document(d).ok())
            .map(|mut r| {
                r.lines.clear();
                r.year_mentions.clear();
                gouji_proto::convert::report_to_pb(&r)
            })
            .collect();
        let as_report: Vec<Bytes> = structured
            .iter()
            .map(|p| validate(Input::Report(p.clone()), true))
            .collect();
        // …and the same reports with every reference carrying its text (the form before the
        // compaction, which the service still accepts).
        let as_full_report: Vec<Bytes> = structured
            .into_iter()
            .map(|mut p| {
                gouji_proto::convert::restore_source_texts(&mut p)
                    .expect("a seed's texts are within the quoting limit");
                validate(Input::Report(p), true)
            })
            .collect();
        let workloads = [
            Workload {
                name: "Echo(document request)",
                path: ECHO,
                requests: echo_of(&as_document),
            },
            Workload {
                name: "ValidateReport(document)",
                path: VALIDATE,
                requests: as_document,
            },
            Workload {
                name: "ValidateReport(document) + report",
                path: VALIDATE,
                requests: as_document_with_report,
            },
            Workload {
                name: "Echo(report request)",
                path: ECHO,
                requests: echo_of(&as_report),
            },
            Workload {
                name: "ValidateReport(report)",
                path: VALIDATE,
                requests: as_report,
            },
            Workload {
                name: "ValidateReport(report, full texts)",
                path: VALIDATE,
                requests: as_full_report,
            },
        ];
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut rates = Vec::new();
        let only = std::env::args()
            .skip_while(|a| a != "--only")
            .nth(1)
            .unwrap_or_default();
        for w in workloads.iter().filter(|w| w.name.contains(only.as_str())) {
            check(&channels[0], w).await?;
            let size: usize = w.requests.iter().map(Bytes::len).sum();
            // The in-process cost is measured before and after the run and averaged: the
            // machine's speed drifts by 10–20 % over minutes (a shared VM), and a baseline taken
            // on one side only would move every ratio by as much.
            let before = (w.path == VALIDATE).then(|| in_process_cpu(&w.requests));
            let out = drive(&channels, w, o).await;
            let rate = out.requests as f64 / out.elapsed.as_secs_f64();
            rates.push(rate);
            println!(
                "{:<34} {:>6.1} KiB {:>8.1} req/s   p50 {:>7.2} ms   p90 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   ({} ok, {} errors)",
                w.name,
                size as f64 / w.requests.len().max(1) as f64 / 1024.0,
                rate,
                ms(pct(&out.latencies, 0.50)),
                ms(pct(&out.latencies, 0.90)),
                ms(pct(&out.latencies, 0.99)),
                ms(out.latencies.last().copied().unwrap_or_default()),
                out.requests,
                out.errors
            );
            if w.path == VALIDATE {
                // In-process capacity: the cores ÷ the CPU one request costs without gRPC
                // (decode + parse or convert + validate, one thread, CPU time).
                let after = in_process_cpu(&w.requests);
                let per_request = before.map_or(after, |b| (b + after) / 2);
                let capacity = cores as f64 / per_request.as_secs_f64();
                println!(
                    "{:<34} in-process {:>8.1} µs CPU per request (before {:.1}, after {:.1}) → capacity {:>8.1} req/s on {cores} cores; reached {:.3} of it (target ≥ 0.8)",
                    "",
                    per_request.as_secs_f64() * 1e6,
                    before.unwrap_or(after).as_secs_f64() * 1e6,
                    after.as_secs_f64() * 1e6,
                    capacity,
                    rate / capacity
                );
                // The same share on the cores the server actually had (the client and anything
                // else on the machine took the rest): in-process CPU ÷ the server's CPU per
                // request over gRPC.
                let server_per_request = out.server_cpu.as_secs_f64() / out.requests.max(1) as f64;
                println!(
                    "{:<34} server threads {:>8.1} µs CPU per request ({:.2} cores busy; load generator {:.2}) → {:.3} of in-process capacity on the cores it had",
                    "",
                    server_per_request * 1e6,
                    out.server_cpu.as_secs_f64() / out.elapsed.as_secs_f64(),
                    out.client_cpu.as_secs_f64() / out.elapsed.as_secs_f64(),
                    per_request.as_secs_f64() / server_per_request.max(1e-12)
                );
                // The in-process work run on every core at once: how much of the gap is the
                // machine's parallel scaling rather than gRPC.
                let (parallel_cpu, parallel_rate) = in_process_parallel(&w.requests, cores);
                println!(
                    "{:<34} in-process on {cores} threads at once {:>8.1} µs CPU per request ({:>8.1} req/s) → gRPC reached {:.3} of that rate; server CPU per request {:.3} of it",
                    "",
                    parallel_cpu.as_secs_f64() * 1e6,
                    parallel_rate,
                    rate / parallel_rate.max(1e-12),
                    parallel_cpu.as_secs_f64() / server_per_request.max(1e-12)
                );
            }
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        if let [echo_doc, doc, doc_report, echo_report, report, _] = rates[..] {
            println!(
                "ratio to Echo of the same request (target ≥ 0.5): ValidateReport(document) {:.3}, + report {:.3}, ValidateReport(report) {:.3}",
                ratio(doc, echo_doc),
                ratio(doc_report, echo_doc),
                ratio(report, echo_report)
            );
        }
        let _ = stop_tx.send(());
        let _ = server.await;
        anyhow::Ok(())
    })
}
