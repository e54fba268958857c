//! Overload and cancellation over real gRPC (issue 12, docs/hardening.md): the real service
//! binaries on loopback.
//!
//! - At 4× the admission capacity (calls in flight + queue) the calls beyond it are answered at
//!   once with RESOURCE_EXHAUSTED / UNAVAILABLE and a `google.rpc.RetryInfo`; the admitted calls
//!   finish within their deadline; health answers SERVING throughout.
//! - A `SubmitReport` whose deadline passes, or whose client goes away, during a long parse stops
//!   its work (the service's CPU use falls to idle) and stores nothing.
//! - Connections beyond the limit are closed on accept; a closed connection frees its slot.
//! - A connection without a call for the idle timeout is closed (its slot serves another
//!   client, and its own client reconnects); a call longer than the timeout is not cut.

use gouji_domain::hostile::thread_cpu;
use std::time::{Duration, Instant};

use gouji_domain::hostile::{self, Shape};
use gouji_proto::ingestion::v1 as ipb;
use gouji_proto::report::v1 as rpb;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{ValidateReportRequest, validate_report_request};
use gouji_tests::{
    Backend, Database, ingestion_client, register, start_ingestion, start_validation,
};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt as _;

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_times_capacity_is_shed_quickly_with_retry_info() {
    const IN_FLIGHT: usize = 2;
    const QUEUED: usize = 2;
    const CALLS: usize = 4 * (IN_FLIGHT + QUEUED);
    const DEADLINE: Duration = Duration::from_secs(60);
    let validation = gouji_runtime::process::ServiceProcess::start(
        "gouji-validation",
        &["--listen", "127.0.0.1:0"],
        &[
            ("GOUJI_MAX_IN_FLIGHT", "2"),
            ("GOUJI_MAX_QUEUED", "2"),
            // Long enough that no admitted call waits it out: every shed call is a full queue.
            ("GOUJI_MAX_QUEUE_WAIT_MS", "50000"),
            ("GOUJI_RETRY_AFTER_MS", "700"),
        ],
        true,
    )
    .await
    .expect("validation starts");
    let url = validation.url();
    // A document that takes a while to read, so the slots stay taken while the burst arrives.
    let doc = hostile::document(Shape::TableRepeated, 1 << 20);
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let client = ValidationServiceClient::new(channel.clone())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);

    // Health, polled throughout the burst on its own connection.
    let health_url = url.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let channel = tonic::transport::Endpoint::from_shared(health_url)
                .unwrap()
                .connect()
                .await
                .expect("health connection");
            let mut h = HealthClient::new(channel);
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let req = tonic_health::pb::HealthCheckRequest {
                    service: "gouji.validation.v1.ValidationService".into(),
                };
                let r = h.check(req).await.map(|r| r.into_inner().status);
                answers.push((r, t.elapsed()));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answers
        })
    };

    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let mut c = client.clone();
            let doc = doc.clone();
            tokio::spawn(async move {
                let mut req = tonic::Request::new(ValidateReportRequest {
                    input: Some(validate_report_request::Input::Document(doc)),
                    context: None,
                    omit_report: true,
                    ..Default::default()
                });
                req.set_timeout(DEADLINE);
                let t = Instant::now();
                let r = c.validate_report(req).await;
                (r.map(|_| ()), t.elapsed())
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut shed = Vec::new();
    for c in calls {
        let (r, took) = c.await.unwrap();
        match r {
            Ok(()) => admitted.push(took),
            Err(s) => {
                assert!(
                    matches!(s.code(), Code::ResourceExhausted | Code::Unavailable),
                    "a call beyond capacity is shed, not failed otherwise: {s:?}"
                );
                let retry = s
                    .get_details_retry_info()
                    .expect("RetryInfo on a shed call");
                assert_eq!(retry.retry_delay, Some(Duration::from_millis(700)));
                shed.push(took);
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let health = health.await.unwrap();
    let slowest_admitted = admitted.iter().max().copied().unwrap_or_default();
    let slowest_shed = shed.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{} admitted (slowest {slowest_admitted:?}), {} shed (slowest {slowest_shed:?}), {} health checks (slowest {:?})",
        admitted.len(),
        shed.len(),
        health.len(),
        health.iter().map(|(_, t)| *t).max()
    );
    // The burst arrives within milliseconds: at most capacity calls are admitted before the
    // first finishes (a few more may be admitted as slots free up).
    assert!(admitted.len() >= IN_FLIGHT, "{} admitted", admitted.len());
    assert!(
        shed.len() >= CALLS / 2,
        "{} of {CALLS} shed at 4× capacity",
        shed.len()
    );
    assert!(
        slowest_admitted < DEADLINE,
        "admitted calls finish within their deadline"
    );
    // Shed quickly: well before an admitted call ends, let alone the deadline.
    assert!(
        slowest_shed < slowest_admitted,
        "shed calls answered before the admitted ones end ({slowest_shed:?} vs {slowest_admitted:?})"
    );
    assert!(!health.is_empty());
    for (status, _) in &health {
        assert_eq!(
            status.as_ref().ok().copied(),
            Some(ServingStatus::Serving as i32),
            "health answers SERVING under load: {status:?}"
        );
    }
    validation.stop().await.unwrap();
}

/// Submits `doc` for unit 999001 with `timeout` set as the gRPC deadline, or dropped by the
/// client after `timeout` (no deadline sent) when `drop_instead` is set.
async fn submit_with_limit(
    client: &mut gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient<
        tonic::transport::Channel,
    >,
    doc: Vec<u8>,
    timeout: Duration,
    drop_instead: bool,
) -> Result<tonic::Status, &'static str> {
    let mut req = tonic::Request::new(ipb::SubmitReportRequest {
        unit_code: "999001".into(),
        year: 2024,
        kind: rpb::ReportKind::FinalAccounts as i32,
        consolidated: false,
        idempotency_key: String::new(),
        input: Some(ipb::submit_report_request::Input::Document(doc)),
    });
    if drop_instead {
        match tokio::time::timeout(timeout, client.submit_report(req)).await {
            Err(_) => Err("dropped by the client"),
            Ok(Ok(_)) => panic!("the submission finished before it was dropped"),
            Ok(Err(s)) => Ok(s),
        }
    } else {
        req.set_timeout(timeout);
        match client.submit_report(req).await {
            Ok(_) => panic!("the submission finished within its deadline"),
            Err(s) => Ok(s),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_submission_stops_its_work_and_stores_nothing() {
    let db = Database::create(Backend::Sqlite).await.unwrap();
    let validation = start_validation("127.0.0.1:0").await.unwrap();
    let ingestion = if std::env::var_os("GOUJI_TEST_VERBOSE").is_some() {
        gouji_runtime::process::ServiceProcess::start(
            "gouji-ingestion",
            &[
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &db.url,
                "--validation-url",
                &validation.url(),
            ],
            &[],
            false,
        )
        .await
        .unwrap()
    } else {
        start_ingestion(&db.url, &validation.url()).await.unwrap()
    };
    let pid = ingestion.pid().expect("pid");
    let url = ingestion.url();
    let mut client = ingestion_client(&url).await.unwrap();
    register(
        &mut client,
        "999001",
        "示例县医疗保险服务中心",
        rpb::UnitType::Institution,
        "",
    )
    .await
    .unwrap();

    // A maximal valid document, and what one parse of it costs here (same build profile as
    // the service binary).
    let doc = hostile::document(
        Shape::TableRepeated,
        gouji_domain::parse::MAX_DOCUMENT_BYTES,
    );
    let c0 = thread_cpu();
    let parsed = gouji_domain::parse_document(&doc).expect("the document parses");
    let parse_cpu = thread_cpu() - c0;
    assert_eq!(parsed.kind, gouji_domain::ReportKind::FinalAccounts);
    drop(parsed);
    let limit = (parse_cpu / 4).max(Duration::from_millis(200));
    eprintln!("one parse: {parse_cpu:?} CPU; calls are given up after {limit:?}");

    for drop_instead in [false, true] {
        let before = process_cpu(pid);
        // Its own connection, kept open after the call (the server sees the stream reset, not
        // a closed connection).
        let mut caller = ingestion_client(&url).await.unwrap();
        let outcome = submit_with_limit(&mut caller, doc.clone(), limit, drop_instead).await;
        match &outcome {
            Ok(s) => assert!(
                matches!(s.code(), Code::DeadlineExceeded | Code::Cancelled),
                "{s:?}"
            ),
            Err(why) => assert!(drop_instead, "{why}"),
        }
        let during = process_cpu(pid) - before;
        // The service was parsing when the call was given up …
        assert!(
            during >= limit / 4,
            "the service worked on the call ({during:?} CPU)"
        );
        // … and stops within a poll interval: over the next half parse it stays about idle,
        // where an unstopped parse would use most of a core.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let c1 = process_cpu(pid);
        let window = (parse_cpu / 2).max(Duration::from_millis(500));
        tokio::time::sleep(window).await;
        let after = process_cpu(pid) - c1;
        eprintln!(
            "{}: {during:?} CPU during the call, {after:?} in the {window:?} after it",
            if drop_instead { "dropped" } else { "deadline" }
        );
        assert!(
            after < window / 4,
            "the work stopped: {after:?} CPU in {window:?} after the call was given up"
        );
        // Nothing stored.
        let list = client
            .list_reports(ipb::ListReportsRequest {
                unit_code: "999001".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            list.reports.is_empty(),
            "nothing stored: {:?}",
            list.reports.len()
        );
    }
    // The same document with time to spare is stored: the service was not broken by the
    // cancellations.
    let mut req = tonic::Request::new(ipb::SubmitReportRequest {
        unit_code: "999001".into(),
        year: 2024,
        kind: rpb::ReportKind::FinalAccounts as i32,
        consolidated: false,
        idempotency_key: String::new(),
        input: Some(ipb::submit_report_request::Input::Document(
            hostile::document(Shape::TableRepeated, 64 << 10),
        )),
    });
    req.set_timeout(Duration::from_secs(60));
    let stored = client.submit_report(req).await.unwrap().into_inner();
    assert_eq!(stored.revision, 1);
    ingestion.stop().await.unwrap();
    validation.stop().await.unwrap();
    db.drop_async().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_and_slots_come_back() {
    let validation = gouji_runtime::process::ServiceProcess::start(
        "gouji-validation",
        &["--listen", "127.0.0.1:0"],
        &[("GOUJI_MAX_CONNECTIONS", "2")],
        true,
    )
    .await
    .expect("validation starts");
    let url = validation.url();
    let check = |channel: tonic::transport::Channel| async move {
        let mut h = HealthClient::new(channel);
        let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(Duration::from_secs(5));
        h.check(req).await.map(|r| r.into_inner().status)
    };
    let connect = || async {
        tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .expect("TCP connect (the listener accepts, then closes)")
    };
    // Two connections, held open: both served.
    let (a, b) = (connect().await, connect().await);
    assert_eq!(
        check(a.clone()).await.ok(),
        Some(ServingStatus::Serving as i32)
    );
    assert_eq!(
        check(b.clone()).await.ok(),
        Some(ServingStatus::Serving as i32)
    );
    // A third is closed on accept: its call fails at once, with a transport error. Which code
    // tonic gives depends on when the client sees the close (before sending: CANCELLED «connection
    // closed»; after: UNAVAILABLE, UNKNOWN or INTERNAL); never a deadline or an answer.
    let t = Instant::now();
    let third = check(connect().await).await;
    let err = third.expect_err("a third connection is refused");
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
        ),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "refused at once");
    // Closing one gives its slot back.
    drop(a);
    let served = gouji_tests::eventually(Duration::from_secs(10), || async {
        let c = tonic::transport::Endpoint::from_shared(url.clone())
            .ok()?
            .connect()
            .await
            .ok()?;
        check(c).await.ok()
    })
    .await;
    assert_eq!(served, Some(ServingStatus::Serving as i32));
    drop(b);
    validation.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_and_a_long_call_is_not() {
    // One connection slot, closed after 300 ms without a call.
    let validation = gouji_runtime::process::ServiceProcess::start(
        "gouji-validation",
        &["--listen", "127.0.0.1:0"],
        &[
            ("GOUJI_MAX_CONNECTIONS", "1"),
            ("GOUJI_IDLE_TIMEOUT_MS", "300"),
        ],
        true,
    )
    .await
    .expect("validation starts");
    let url = validation.url();
    let endpoint = || tonic::transport::Endpoint::from_shared(url.clone()).unwrap();
    let held = endpoint().connect().await.expect("connect");
    let mut client = ValidationServiceClient::new(held.clone())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);

    // A call that runs well past the idle timeout keeps its connection: it is answered.
    let doc = hostile::document(Shape::TableRepeated, 1 << 20);
    let t = Instant::now();
    let mut req = tonic::Request::new(ValidateReportRequest {
        input: Some(validate_report_request::Input::Document(doc)),
        omit_report: true,
        ..Default::default()
    });
    req.set_timeout(Duration::from_secs(60));
    let answered = client.validate_report(req).await;
    let took = t.elapsed();
    assert!(answered.is_ok(), "{answered:?}");
    assert!(
        took > Duration::from_millis(300),
        "precondition: the call outlives the idle timeout (took {took:?})"
    );

    // While `held` is open and busy-free, the only slot is its own; once idle it is closed
    // and the slot serves a new connection, without `held` being dropped by the client.
    let served = gouji_tests::eventually(Duration::from_secs(10), || async {
        let c = endpoint().connect().await.ok()?;
        let mut h = HealthClient::new(c);
        let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(Duration::from_secs(2));
        h.check(req).await.ok().map(|r| r.into_inner().status)
    })
    .await;
    assert_eq!(served, Some(ServingStatus::Serving as i32));
    // The client whose connection was closed reconnects on its next call.
    let h = HealthClient::new(held);
    let again = gouji_tests::eventually(Duration::from_secs(10), || async {
        let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(Duration::from_secs(2));
        h.clone()
            .check(req)
            .await
            .ok()
            .map(|r| r.into_inner().status)
    })
    .await;
    assert_eq!(again, Some(ServingStatus::Serving as i32));
    validation.stop().await.unwrap();
}
