//! gRPC load benchmark: `ValidateReport` against the trivial `Echo` RPC carrying the same payload
//! (the seed documents), over a real loopback TCP socket, in one run on one machine.
//!
//! The real validation server (same builder, limits and service as the `gouji-validation`
//! binary) is started in-process on `127.0.0.1:0`; a tonic client keeps `--concurrency` requests
//! in flight (default 64) for `--secs` seconds per RPC and prints requests/s and p50/p90/p99
//! latency for each. Server and client share this process and the machine's cores.
//!
//! ```text
//! GOUJI_SEEDS=/path/to/seeds cargo bench -p gouji-validation --bench grpc_load -- \
//!     [--secs 10] [--concurrency 64] [--connections 4] [--warmup 2]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{
    EchoRequest, ValidateReportRequest, validate_report_request::Input,
};
use gouji_runtime::server::{self, Limits};
use gouji_validation::Validator;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone, Copy)]
struct Options {
    secs: f64,
    warmup: f64,
    concurrency: usize,
    connections: usize,
}

fn options() -> Options {
    let mut o = Options {
        secs: 10.0,
        warmup: 2.0,
        concurrency: 64,
        connections: 4,
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

/// The RPC under load.
#[derive(Clone, Copy, PartialEq)]
enum Rpc {
    Echo,
    Validate,
    /// `ValidateReport` with the seed already in structured form (`input.report`): transport plus
    /// rules, no parsing.
    ValidateStructured,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Rpc::Echo => "Echo",
            Rpc::Validate => "ValidateReport",
            Rpc::ValidateStructured => "Validate(report)",
        }
    }
}

/// One input: the document bytes and the same document as a structured report.
struct Doc {
    bytes: Vec<u8>,
    report: Option<gouji_proto::report::v1::Report>,
}

/// One call; returns false on an RPC error.
async fn call(client: &mut ValidationServiceClient<Channel>, rpc: Rpc, d: &Doc) -> bool {
    let doc = &d.bytes;
    match rpc {
        Rpc::ValidateStructured => client
            .validate_report(ValidateReportRequest {
                input: d.report.clone().map(Input::Report),
                context: None,
            })
            .await
            .is_ok_and(|r| !r.get_ref().catalog_version.is_empty()),
        Rpc::Echo => client
            .echo(EchoRequest {
                payload: doc.to_vec(),
            })
            .await
            .is_ok_and(|r| r.get_ref().payload.len() == doc.len()),
        Rpc::Validate => client
            .validate_report(ValidateReportRequest {
                input: Some(Input::Document(doc.to_vec())),
                context: None,
            })
            .await
            .is_ok_and(|r| !r.get_ref().catalog_version.is_empty()),
    }
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Keeps `concurrency` calls in flight for `warmup + secs`; measures only after the warm-up.
async fn drive(channels: &[Channel], docs: Arc<Vec<Doc>>, rpc: Rpc, o: Options) -> Outcome {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..o.concurrency {
        let mut client = ValidationServiceClient::new(channels[i % channels.len()].clone())
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        let (docs, measuring, stop) = (docs.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0usize;
            let mut k = i;
            while !stop.load(Ordering::Relaxed) {
                let doc = &docs[k % docs.len()];
                k += 1;
                let t = Instant::now();
                let ok = call(&mut client, rpc, doc).await;
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
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(o.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
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

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the harness flags are ignored.
    let o = options();
    let docs = seeds();
    if docs.is_empty() {
        eprintln!("no seed documents found: set GOUJI_SEEDS");
        return Ok(());
    }
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let limits = Limits::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = server::builder(limits).add_service(Validator.into_server(limits));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(router.serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            async {
                let _ = stop_rx.await;
            },
        ));
        let mut channels = Vec::new();
        for _ in 0..o.connections {
            channels.push(
                Endpoint::from_shared(format!("http://{addr}"))?
                    .tcp_nodelay(true)
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
        let docs: Arc<Vec<Doc>> = Arc::new(
            docs.into_iter()
                .map(|bytes| Doc {
                    report: gouji_domain::parse_document(&bytes)
                        .ok()
                        .map(|r| gouji_proto::convert::report_to_pb(&r)),
                    bytes,
                })
                .collect(),
        );
        let mut rates = Vec::new();
        for rpc in [Rpc::Echo, Rpc::Validate, Rpc::ValidateStructured] {
            let out = drive(&channels, docs.clone(), rpc, o).await;
            let rate = out.requests as f64 / out.elapsed.as_secs_f64();
            rates.push(rate);
            println!(
                "{:<15} {:>9.1} req/s   p50 {:>8.2} ms   p90 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   ({} ok, {} errors)",
                rpc.name(),
                rate,
                ms(pct(&out.latencies, 0.50)),
                ms(pct(&out.latencies, 0.90)),
                ms(pct(&out.latencies, 0.99)),
                ms(out.latencies.last().copied().unwrap_or_default()),
                out.requests,
                out.errors
            );
        }
        if let [echo, validate, ..] = rates[..] {
            println!(
                "ValidateReport / Echo = {:.3} (target ≥ 0.5)",
                if echo > 0.0 { validate / echo } else { 0.0 }
            );
        }
        let _ = stop_tx.send(());
        let _ = server.await;
        anyhow::Ok(())
    })
}
