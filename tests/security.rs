//! Authentication and authorization end to end: the three real binaries with TLS on every port,
//! mutual TLS between them and bearer tokens, certificates and keys generated at run time into
//! a temporary directory (rcgen). A matrix of every RPC × every role × an in-scope and an
//! out-of-scope unit shows exactly the allowed calls succeed, the rest are PERMISSION_DENIED,
//! refused calls write nothing and listings hold nothing out of scope; bad credentials of every
//! kind are UNAUTHENTICATED with one message; a client certificate of another CA is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gouji_auth::Role;
use gouji_auth::token::{Issuer, now_secs};
use gouji_proto::aggregation::v1::AggregateDepartmentRequest;
use gouji_proto::aggregation::v1::aggregation_service_client::AggregationServiceClient;
use gouji_proto::convert;
use gouji_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use gouji_proto::ingestion::v1::{self as ipb, submit_report_request::Input};
use gouji_proto::report::v1 as rpb;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{
    ListRulesRequest, ValidateReportRequest, validate_report_request,
};
use gouji_runtime::process::ServiceProcess;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request};

/// Certificates and keys of one test run.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token_public: PathBuf,
    ca_pem: String,
    rogue_cert_pem: String,
    rogue_key_pem: String,
    issuer: Issuer,
    other_issuer: Issuer,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>, name: &str) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ed25519() -> (String, String) {
    let k = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    (k.serialize_pem(), k.public_key_pem())
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_ = ca("gouji test CA");
    let rogue = ca("another CA");
    let (cert, key) = leaf(&ca_, "gouji-service");
    let (rogue_cert_pem, rogue_key_pem) = leaf(&rogue, "gouji-service");
    let (private, public) = ed25519();
    let (other_private, _) = ed25519();
    Pki {
        ca: write(dir.path(), "ca.pem", &ca_.pem()),
        cert: write(dir.path(), "service.pem", &cert),
        key: write(dir.path(), "service.key", &key),
        token_public: write(dir.path(), "token.pub", &public),
        ca_pem: ca_.pem(),
        rogue_cert_pem,
        rogue_key_pem,
        issuer: Issuer::from_private_pem(private.as_bytes(), "gouji", "gouji").unwrap(),
        other_issuer: Issuer::from_private_pem(other_private.as_bytes(), "gouji", "gouji").unwrap(),
        _dir: dir,
    }
}

struct Stack {
    pki: Pki,
    db: Option<gouji_tests::Database>,
    validation: ServiceProcess,
    /// Validation's plaintext health-only address.
    validation_health: String,
    ingestion: ServiceProcess,
    aggregation: ServiceProcess,
}

/// The environment of a service with TLS, mutual TLS and tokens.
fn service_env(pki: &Pki) -> Vec<(&'static str, String)> {
    vec![
        ("GOUJI_TLS_CERT", pki.cert.display().to_string()),
        ("GOUJI_TLS_KEY", pki.key.display().to_string()),
        ("GOUJI_TLS_CLIENT_CA", pki.ca.display().to_string()),
        ("GOUJI_TLS_CA", pki.ca.display().to_string()),
        (
            "GOUJI_TOKEN_PUBLIC_KEY",
            pki.token_public.display().to_string(),
        ),
    ]
}

async fn start() -> Stack {
    start_on(gouji_tests::Backend::Sqlite)
        .await
        .expect("SQLite is always there")
}

/// The stack on `backend`; `None` when PostgreSQL was explicitly skipped.
async fn start_on(backend: gouji_tests::Backend) -> Option<Stack> {
    let pki = pki();
    let db = gouji_tests::Database::create(backend).await?;
    let env = service_env(&pki);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let validation_health = format!("127.0.0.1:{}", gouji_tests::free_port());
    let validation = ServiceProcess::start(
        "gouji-validation",
        &[
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            &validation_health,
        ],
        &env,
        true,
    )
    .await
    .unwrap();
    let db_url = db.url.clone();
    let ingestion = ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db_url,
            "--validation-url",
            &validation.https_url(),
            "--revalidate-interval-ms",
            "200",
        ],
        &env,
        true,
    )
    .await
    .unwrap();
    let aggregation = ServiceProcess::start(
        "gouji-aggregation",
        &[
            "--listen",
            "127.0.0.1:0",
            "--ingestion-url",
            &ingestion.https_url(),
            "--validation-url",
            &validation.https_url(),
        ],
        &env,
        true,
    )
    .await
    .unwrap();
    Some(Stack {
        pki,
        db: Some(db),
        validation,
        validation_health,
        ingestion,
        aggregation,
    })
}

/// A TLS channel trusting the test CA, optionally presenting a client certificate.
async fn channel(
    ca_pem: &str,
    addr: &str,
    identity: Option<Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(id);
    }
    Endpoint::from_shared(format!("https://{addr}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// `msg` with `authorization: Bearer token` (none when `token` is empty).
fn authed<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    if !token.is_empty() {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    r
}

/// 610726 (department) ⊃ 610726002, 610726003; 610800 (another department) ⊃ 610800001.
const IN_DEPT: &str = "610726";
const IN_UNIT: &str = "610726002";
const IN_OTHER: &str = "610726003";
const OUT_DEPT: &str = "610800";
const OUT_UNIT: &str = "610800001";

fn unit(code: &str, parent: &str) -> ipb::RegisterUnitRequest {
    ipb::RegisterUnitRequest {
        unit: Some(ipb::Unit {
            code: code.into(),
            name: format!("单位{code}"),
            unit_type: rpb::UnitType::Institution as i32,
            parent_code: parent.into(),
        }),
    }
}

fn report_pb() -> rpb::Report {
    let (_, units) = gouji_domain::synth::generate_department(2, 7);
    convert::report_to_pb(&units[0].1)
}

fn submission(code: &str, key: &str) -> ipb::SubmitReportRequest {
    ipb::SubmitReportRequest {
        unit_code: code.into(),
        year: 2024,
        kind: rpb::ReportKind::FinalAccounts as i32,
        input: Some(Input::Report(report_pb())),
        idempotency_key: key.into(),
        consolidated: false,
    }
}

fn token(pki: &Pki, role: Role) -> String {
    let unit = match role {
        Role::Department => Some(IN_DEPT),
        Role::Unit => Some(IN_UNIT),
        _ => None,
    };
    pki.issuer
        .issue(role.as_str(), role, unit, Duration::from_secs(600))
        .unwrap()
}

const ROLES: [Role; 5] = [
    Role::Province,
    Role::Department,
    Role::Unit,
    Role::Validator,
    Role::Operator,
];

/// Lists the services by reflection (v1) with `token`.
async fn reflect(ch: Channel, token: &str) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(ch)
        .server_reflection_info(authed(futures::stream::iter(vec![req]), token))
        .await?
        .into_inner();
    let mut names = Vec::new();
    while let Some(m) = stream.message().await? {
        if let Some(MessageResponse::ListServicesResponse(l)) = m.message_response {
            names.extend(l.service.into_iter().map(|s| s.name));
        }
    }
    Ok(names)
}

/// Whether a call's outcome is what the policy says: allowed → not refused (OK, or a domain
/// answer such as FAILED_PRECONDITION), refused → PERMISSION_DENIED with the one message.
fn judge<T>(what: &str, role: Role, allowed: bool, r: &Result<T, tonic::Status>) {
    match r {
        Ok(_) => assert!(allowed, "{what} as {role}: allowed but must be refused"),
        Err(s) if s.code() == Code::PermissionDenied => {
            assert!(!allowed, "{what} as {role}: refused but must be allowed");
            assert_eq!(
                s.message(),
                "permission denied",
                "{what} as {role}: message leaks"
            );
        }
        Err(s) => {
            assert!(
                allowed && s.code() != Code::Unauthenticated,
                "{what} as {role}: {s:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_in_and_out_of_scope_sqlite() {
    matrix(gouji_tests::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_in_and_out_of_scope_postgres() {
    matrix(gouji_tests::Backend::Postgres).await;
}

async fn matrix(backend: gouji_tests::Backend) {
    let Some(mut s) = start_on(backend).await else {
        return;
    };
    let db = s.db.take();
    matrix_on(&s).await;
    if let Some(db) = db {
        db.drop_async().await;
    }
}

async fn matrix_on(s: &Stack) {
    let pki = &s.pki;
    let ich = channel(&pki.ca_pem, &s.ingestion.addr, None).await.unwrap();
    let vch = channel(&pki.ca_pem, &s.validation.addr, None)
        .await
        .unwrap();
    let ach = channel(&pki.ca_pem, &s.aggregation.addr, None)
        .await
        .unwrap();
    let mut ing = IngestionServiceClient::new(ich).max_decoding_message_size(64 << 20);
    let mut val = ValidationServiceClient::new(vch).max_decoding_message_size(64 << 20);
    let mut agg = AggregationServiceClient::new(ach).max_decoding_message_size(256 << 20);

    // The province registers both departments and submits one report per unit.
    let province = token(pki, Role::Province);
    for (c, p) in [
        (IN_DEPT, ""),
        (IN_UNIT, IN_DEPT),
        (IN_OTHER, IN_DEPT),
        (OUT_DEPT, ""),
        (OUT_UNIT, OUT_DEPT),
    ] {
        ing.register_unit(authed(unit(c, p), &province))
            .await
            .unwrap();
    }
    for c in [IN_UNIT, OUT_UNIT] {
        let r = ing
            .submit_report(authed(submission(c, &format!("seed-{c}")), &province))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.revision, 1);
    }

    for role in ROLES {
        let t = token(pki, role);
        // (target, in scope for a department; for a unit only its own unit is)
        for (target, dept_scope) in [(IN_UNIT, true), (OUT_UNIT, false)] {
            let unit_scope = target == IN_UNIT;
            let scoped = |dept: bool, unit: bool| match role {
                Role::Province => true,
                Role::Department => dept,
                Role::Unit => unit,
                _ => false,
            };
            let what = |rpc: &str| format!("{rpc}({target})");

            let new_code = format!("{target}9{}", role.as_str().len());
            let r = ing.register_unit(authed(unit(&new_code, target), &t)).await;
            judge(&what("RegisterUnit"), role, scoped(dept_scope, false), &r);

            let r = ing
                .list_units(authed(
                    ipb::ListUnitsRequest {
                        root_code: target.into(),
                    },
                    &t,
                ))
                .await;
            judge(&what("ListUnits"), role, scoped(dept_scope, false), &r);

            let r = ing
                .submit_report(authed(
                    submission(target, &format!("{}-{target}", role.as_str())),
                    &t,
                ))
                .await;
            judge(
                &what("SubmitReport"),
                role,
                scoped(dept_scope, unit_scope),
                &r,
            );

            let r = ing
                .get_report(authed(
                    ipb::GetReportRequest {
                        unit_code: target.into(),
                        year: 2024,
                        kind: rpb::ReportKind::FinalAccounts as i32,
                        revision: 1,
                        consolidated: false,
                    },
                    &t,
                ))
                .await;
            judge(&what("GetReport"), role, scoped(dept_scope, unit_scope), &r);
            if let Ok(r) = &r {
                assert_eq!(r.get_ref().unit_code, target);
            }

            let r = ing
                .list_reports(authed(
                    ipb::ListReportsRequest {
                        unit_code: target.into(),
                        ..Default::default()
                    },
                    &t,
                ))
                .await;
            judge(
                &what("ListReports"),
                role,
                scoped(dept_scope, unit_scope),
                &r,
            );

            let r = ing
                .stream_reports(authed(
                    ipb::StreamReportsRequest {
                        root_code: target.into(),
                        year: 2024,
                        kind: rpb::ReportKind::FinalAccounts as i32,
                    },
                    &t,
                ))
                .await;
            let r = match r {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    let mut codes = Vec::new();
                    let mut end = Ok(());
                    loop {
                        match stream.message().await {
                            Ok(Some(m)) => codes.push(m.unit_code),
                            Ok(None) => break,
                            Err(e) => {
                                end = Err(e);
                                break;
                            }
                        }
                    }
                    end.map(|()| codes)
                }
                Err(e) => Err(e),
            };
            judge(&what("StreamReports"), role, scoped(dept_scope, false), &r);
            if let Ok(codes) = &r {
                assert!(codes.iter().all(|c| c.starts_with(target)), "{codes:?}");
            }

            let dept = if dept_scope { IN_DEPT } else { OUT_DEPT };
            let r = agg
                .aggregate_department(authed(
                    AggregateDepartmentRequest {
                        department_code: dept.into(),
                        year: 2024,
                        kind: rpb::ReportKind::FinalAccounts as i32,
                        explain_cells: vec![],
                    },
                    &t,
                ))
                .await;
            judge(
                &format!("AggregateDepartment({dept})"),
                role,
                scoped(dept_scope, false),
                &r,
            );
        }

        let validating = matches!(
            role,
            Role::Province | Role::Department | Role::Unit | Role::Validator
        );
        let r = val
            .validate_report(authed(
                ValidateReportRequest {
                    input: Some(validate_report_request::Input::Report(report_pb())),
                    context: None,
                    omit_report: true,
                    ..Default::default()
                },
                &t,
            ))
            .await;
        judge("ValidateReport", role, validating, &r);
        let r = val.list_rules(authed(ListRulesRequest {}, &t)).await;
        judge("ListRules", role, validating, &r);
        let r = val
            .echo(authed(
                gouji_proto::validation::v1::EchoRequest {
                    payload: vec![1, 2, 3],
                },
                &t,
            ))
            .await;
        judge("Echo", role, validating, &r);
        // Reflection on every port: operators only.
        for (name, addr) in [
            ("validation", &s.validation.addr),
            ("ingestion", &s.ingestion.addr),
            ("aggregation", &s.aggregation.addr),
        ] {
            let ch = channel(&pki.ca_pem, addr, None).await.unwrap();
            let r = reflect(ch, &t).await;
            judge(
                &format!("reflection on {name}"),
                role,
                role == Role::Operator,
                &r,
            );
            if let Ok(names) = &r {
                assert!(
                    names.iter().any(|n| n == "grpc.health.v1.Health"),
                    "{names:?}"
                );
            }
        }
    }

    // Nothing written by a refused call: only the province's and the department's new units
    // under its own subtree exist, and each unit has exactly the revisions of allowed callers.
    let all = ing
        .list_units(authed(ipb::ListUnitsRequest::default(), &province))
        .await
        .unwrap()
        .into_inner()
        .units;
    let mut codes: Vec<&str> = all.iter().map(|u| u.code.as_str()).collect();
    codes.sort();
    let province_new = |t: &str| format!("{t}9{}", "province".len());
    let department_new = format!("{IN_UNIT}9{}", "department".len());
    let mut expected = vec![
        IN_DEPT.to_string(),
        IN_UNIT.to_string(),
        IN_OTHER.to_string(),
        OUT_DEPT.to_string(),
        OUT_UNIT.to_string(),
        province_new(IN_UNIT),
        province_new(OUT_UNIT),
        department_new,
    ];
    expected.sort();
    assert_eq!(codes, expected);
    let revisions = |code: &'static str| {
        let mut ing = ing.clone();
        let province = province.clone();
        async move {
            ing.list_reports(authed(
                ipb::ListReportsRequest {
                    unit_code: code.into(),
                    ..Default::default()
                },
                &province,
            ))
            .await
            .unwrap()
            .into_inner()
            .reports
            .len()
        }
    };
    // IN_UNIT: seed + province + department + unit; OUT_UNIT: seed + province.
    assert_eq!(revisions(IN_UNIT).await, 4);
    assert_eq!(revisions(OUT_UNIT).await, 2);

    // Listings without a unit hold only the caller's scope, page by page; a page token does
    // not carry one caller's scope to another.
    let dept = token(pki, Role::Department);
    let mut page_token = String::new();
    let mut seen = 0;
    let mut first_token = None;
    loop {
        let r = ing
            .list_reports(authed(
                ipb::ListReportsRequest {
                    page_size: 1,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                &dept,
            ))
            .await
            .unwrap()
            .into_inner();
        for rep in &r.reports {
            assert!(rep.unit_code.starts_with(IN_DEPT), "{}", rep.unit_code);
            seen += 1;
        }
        if r.next_page_token.is_empty() {
            break;
        }
        first_token.get_or_insert(r.next_page_token.clone());
        page_token = r.next_page_token;
    }
    assert_eq!(seen, 4);
    let units = ing
        .list_units(authed(ipb::ListUnitsRequest::default(), &dept))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert!(units.iter().all(|u| u.code.starts_with(IN_DEPT)));
    let unit_token = token(pki, Role::Unit);
    let mine = ing
        .list_reports(authed(ipb::ListReportsRequest::default(), &unit_token))
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(mine.iter().all(|r| r.unit_code == IN_UNIT) && mine.len() == 4);
    let foreign = ing
        .list_reports(authed(
            ipb::ListReportsRequest {
                page_token: first_token.unwrap(),
                ..Default::default()
            },
            &unit_token,
        ))
        .await;
    assert_eq!(foreign.unwrap_err().code(), Code::InvalidArgument);

    // Moving a unit needs rights over both parents.
    let moved = ing
        .register_unit(authed(unit(IN_OTHER, OUT_DEPT), &dept))
        .await;
    assert_eq!(moved.unwrap_err().code(), Code::PermissionDenied);
    let pulled = ing
        .register_unit(authed(unit(OUT_UNIT, IN_DEPT), &dept))
        .await;
    assert_eq!(pulled.unwrap_err().code(), Code::PermissionDenied);
    ing.register_unit(authed(unit(IN_OTHER, IN_UNIT), &dept))
        .await
        .unwrap();
    let after = ing
        .list_units(authed(
            ipb::ListUnitsRequest {
                root_code: OUT_DEPT.into(),
            },
            &province,
        ))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert!(
        after.iter().all(|u| u.code.starts_with(OUT_DEPT)),
        "{after:?}"
    );

    // The audit trail: the province only; the move is there with who did it and from where
    // to where; reads are there (aggregation's through ingestion, via the service); refused
    // calls left nothing; pages continue without repeating.
    for role in ROLES {
        let r = ing
            .list_audit_events(authed(
                ipb::ListAuditEventsRequest::default(),
                &token(pki, role),
            ))
            .await;
        judge("ListAuditEvents", role, role == Role::Province, &r);
    }
    let audit = |target: &str| {
        let mut ing = ing.clone();
        let province = province.clone();
        let target = target.to_string();
        async move {
            let mut events = Vec::new();
            let mut page_token = String::new();
            loop {
                let r = ing
                    .list_audit_events(authed(
                        ipb::ListAuditEventsRequest {
                            target: target.clone(),
                            page_size: 2,
                            page_token,
                        },
                        &province,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                events.extend(r.events);
                if r.next_page_token.is_empty() {
                    return events;
                }
                page_token = r.next_page_token;
            }
        }
    };
    let moves = audit(IN_OTHER).await;
    let moved: Vec<_> = moves.iter().filter(|e| e.action == "move_unit").collect();
    assert_eq!(moved.len(), 1, "{moves:?}");
    assert_eq!(moved[0].principal, "department:department@610726");
    assert_eq!(
        moved[0].detail,
        format!("moved from {IN_DEPT} to {IN_UNIT}")
    );
    let all = audit("").await;
    let mut ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "pages repeat events");
    // Every event on the other department's units is the province's.
    for e in all.iter().filter(|e| e.target.starts_with(OUT_DEPT)) {
        assert_eq!(e.role, "province", "{e:?}");
    }
    assert!(all.iter().any(|e| e.action == "get_report"
        && e.principal == "unit:unit@610726002"
        && e.target == format!("{IN_UNIT}/2024/final_accounts/own@1")));
    assert!(
        all.iter().any(|e| e.action == "stream_reports"
            && e.target == IN_DEPT
            && e.principal == "department:department@610726 via service"),
        "aggregation's reads are attributed to its caller"
    );
    let submits = all.iter().filter(|e| e.action == "submit_report").count();
    assert_eq!(
        submits, 6,
        "two seeds, two by the province, one each by department and unit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_unauthenticated_and_foreign_certificates_refused() {
    let s = start().await;
    let pki = &s.pki;
    let hour = Duration::from_secs(3600);
    let i = &pki.issuer;
    let mut expired = i.claims("a", "province", None, hour);
    expired.exp = now_secs() - 600;
    expired.nbf = expired.exp - 60;
    let mut early = i.claims("a", "province", None, hour);
    early.nbf = now_secs() + 600;
    let mut audience = i.claims("a", "province", None, hour);
    audience.aud = "another-system".into();
    let good_unit = i.issue("a", Role::Unit, Some(IN_UNIT), hour).unwrap();
    let good_province = i.issue("a", Role::Province, None, hour).unwrap();
    let parts = |t: &str| t.split('.').map(str::to_string).collect::<Vec<_>>();
    let (u, p) = (parts(&good_unit), parts(&good_province));
    let tampered = format!("{}.{}.{}", u[0], p[1], u[2]);
    let bad = [
        ("expired", i.sign(&expired).unwrap()),
        ("not yet valid", i.sign(&early).unwrap()),
        ("wrong audience", i.sign(&audience).unwrap()),
        ("tampered", tampered),
        (
            "wrongly signed",
            pki.other_issuer
                .issue("a", Role::Province, None, hour)
                .unwrap(),
        ),
        ("missing", String::new()),
        ("garbage", "abc".into()),
    ];
    let ich = channel(&pki.ca_pem, &s.ingestion.addr, None).await.unwrap();
    let vch = channel(&pki.ca_pem, &s.validation.addr, None)
        .await
        .unwrap();
    let ach = channel(&pki.ca_pem, &s.aggregation.addr, None)
        .await
        .unwrap();
    let mut ing = IngestionServiceClient::new(ich.clone());
    let mut val = ValidationServiceClient::new(vch.clone());
    let mut agg = AggregationServiceClient::new(ach.clone());
    ing.register_unit(authed(unit(IN_DEPT, ""), &good_province))
        .await
        .unwrap();
    for (what, t) in &bad {
        let codes = [
            ing.list_units(authed(ipb::ListUnitsRequest::default(), t))
                .await
                .map(|_| ())
                .unwrap_err(),
            ing.register_unit(authed(unit("999", ""), t))
                .await
                .map(|_| ())
                .unwrap_err(),
            val.list_rules(authed(ListRulesRequest {}, t))
                .await
                .map(|_| ())
                .unwrap_err(),
            agg.aggregate_department(authed(
                AggregateDepartmentRequest {
                    department_code: IN_DEPT.into(),
                    year: 2024,
                    kind: rpb::ReportKind::FinalAccounts as i32,
                    explain_cells: vec![],
                },
                t,
            ))
            .await
            .map(|_| ())
            .unwrap_err(),
        ];
        for s in codes {
            assert_eq!(s.code(), Code::Unauthenticated, "{what}: {s:?}");
            assert_eq!(
                s.message(),
                "authentication required: a valid bearer token",
                "{what}"
            );
        }
    }
    // Nothing was registered by them.
    let units = ing
        .list_units(authed(ipb::ListUnitsRequest::default(), &good_province))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(units.len(), 1);

    // Health needs no credentials.
    let mut health = tonic_health::pb::health_client::HealthClient::new(ich);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Kubelet probes: plaintext health on the health-only port, and nothing else there.
    let hch = Endpoint::from_shared(format!("http://{}", s.validation_health))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let h = tonic_health::pb::health_client::HealthClient::new(hch.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "gouji.validation.v1.ValidationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let other = ValidationServiceClient::new(hch)
        .list_rules(authed(ListRulesRequest {}, &good_province))
        .await;
    assert_eq!(other.unwrap_err().code(), Code::Unimplemented);

    // A client certificate of another CA: the handshake fails, whatever the token.
    let rogue = Identity::from_pem(&pki.rogue_cert_pem, &pki.rogue_key_pem);
    let refused = match channel(&pki.ca_pem, &s.validation.addr, Some(rogue)).await {
        Err(_) => true,
        Ok(ch) => ValidationServiceClient::new(ch)
            .list_rules(authed(ListRulesRequest {}, &good_province))
            .await
            .is_err(),
    };
    assert!(refused, "a certificate of another CA was accepted");
    // A plaintext client on a TLS port gets nothing either.
    let plain = Endpoint::from_shared(s.validation.url())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        assert!(
            ValidationServiceClient::new(ch)
                .list_rules(authed(ListRulesRequest {}, &good_province))
                .await
                .is_err()
        );
    }
    // The service certificate itself (mutual TLS) identifies a service: it may validate, and
    // read nothing.
    let service = Identity::from_pem(
        std::fs::read(&pki.cert).unwrap(),
        std::fs::read(&pki.key).unwrap(),
    );
    let sch = channel(&pki.ca_pem, &s.validation.addr, Some(service.clone()))
        .await
        .unwrap();
    ValidationServiceClient::new(sch)
        .list_rules(Request::new(ListRulesRequest {}))
        .await
        .unwrap();
    let sch = channel(&pki.ca_pem, &s.ingestion.addr, Some(service))
        .await
        .unwrap();
    let r = IngestionServiceClient::new(sch)
        .list_units(Request::new(ipb::ListUnitsRequest::default()))
        .await;
    assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);
}

/// Development mode is refused off loopback, and a service without credentials refuses to
/// start at all.
#[tokio::test]
async fn development_mode_is_loopback_only_and_credentials_are_required() {
    for bin in ["gouji-validation", "gouji-aggregation"] {
        let off_loopback = ServiceProcess::start(
            bin,
            &["--listen", "0.0.0.0:0"],
            &[("GOUJI_DEV_INSECURE", "1")],
            true,
        )
        .await;
        assert!(off_loopback.is_err(), "{bin} ran --dev-insecure on 0.0.0.0");
        let metrics_off_loopback = ServiceProcess::start(
            bin,
            &["--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0"],
            &[("GOUJI_DEV_INSECURE", "1")],
            true,
        )
        .await;
        assert!(
            metrics_off_loopback.is_err(),
            "{bin}: metrics on 0.0.0.0 in dev mode"
        );
        let nothing = ServiceProcess::start(
            bin,
            &["--listen", "127.0.0.1:0"],
            &[("GOUJI_DEV_INSECURE", "false")],
            true,
        )
        .await;
        assert!(nothing.is_err(), "{bin} started without credentials");
        let dev = ServiceProcess::start(
            bin,
            &["--listen", "127.0.0.1:0"],
            &[("GOUJI_DEV_INSECURE", "1")],
            true,
        )
        .await
        .unwrap();
        dev.stop().await.unwrap();
    }
}

/// Ingestion's background revalidation calls validation as itself: no caller token, its
/// mutual-TLS certificate. Validation accepts it (role `service` may validate), and the audit
/// trail attributes the verdict to the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_revalidation_is_the_service_and_is_audited() {
    let pki = pki();
    let env = service_env(&pki);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", db.path().join("gouji.db").display());
    let validation_addr = format!("127.0.0.1:{}", gouji_tests::free_port());
    let validation_url = format!("https://{validation_addr}");
    // Validation is not there yet: the submission is stored «pending».
    let ingestion = ServiceProcess::start(
        "gouji-ingestion",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db_url,
            "--validation-url",
            &validation_url,
            "--revalidate-interval-ms",
            "200",
            "--validation-timeout-secs",
            "2",
        ],
        &env,
        true,
    )
    .await
    .unwrap();
    let province = pki
        .issuer
        .issue("p", Role::Province, None, Duration::from_secs(600))
        .unwrap();
    let ch = channel(&pki.ca_pem, &ingestion.addr, None).await.unwrap();
    let mut ing = IngestionServiceClient::new(ch).max_decoding_message_size(64 << 20);
    ing.register_unit(authed(unit(IN_DEPT, ""), &province))
        .await
        .unwrap();
    let r = ing
        .submit_report(authed(submission(IN_DEPT, "pending-1"), &province))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.validation_state, ipb::ValidationState::Pending as i32);
    let validation = ServiceProcess::start(
        "gouji-validation",
        &["--listen", &validation_addr],
        &env,
        true,
    )
    .await
    .unwrap();
    let validated = gouji_tests::eventually(Duration::from_secs(60), || {
        let mut ing = ing.clone();
        let province = province.clone();
        async move {
            let r = ing
                .get_report(authed(
                    ipb::GetReportRequest {
                        unit_code: IN_DEPT.into(),
                        year: 2024,
                        kind: rpb::ReportKind::FinalAccounts as i32,
                        revision: 1,
                        consolidated: false,
                    },
                    &province,
                ))
                .await
                .ok()?
                .into_inner();
            (r.validation_state == ipb::ValidationState::Validated as i32).then_some(())
        }
    })
    .await;
    assert!(
        validated.is_some(),
        "the pending revision was never validated"
    );
    let events = ing
        .list_audit_events(authed(
            ipb::ListAuditEventsRequest {
                target: format!("{IN_DEPT}/2024/final_accounts/own@1"),
                ..Default::default()
            },
            &province,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let revalidated: Vec<_> = events.iter().filter(|e| e.action == "revalidate").collect();
    assert_eq!(revalidated.len(), 1, "{events:?}");
    assert_eq!(revalidated[0].role, "service");
    assert_eq!(revalidated[0].detail, "validated");
    validation.stop().await.unwrap();
    ingestion.stop().await.unwrap();
}

/// The `gouji` command line against services with TLS: `GOUJI_TLS_CA` and `GOUJI_TOKEN`, and the
/// caller's scope applies to it like to any client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_speaks_tls_with_a_token() {
    let s = start().await;
    let pki = &s.pki;
    let ch = channel(&pki.ca_pem, &s.ingestion.addr, None).await.unwrap();
    let mut ing = IngestionServiceClient::new(ch);
    let province = token(pki, Role::Province);
    for (c, p) in [
        (IN_DEPT, ""),
        (IN_UNIT, IN_DEPT),
        (OUT_DEPT, ""),
        (OUT_UNIT, OUT_DEPT),
    ] {
        ing.register_unit(authed(unit(c, p), &province))
            .await
            .unwrap();
    }
    let bin = gouji_runtime::process::bin_dir().unwrap().join("gouji");
    let gouji = |token: &str, args: &[&str]| {
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(args)
            .env("GOUJI_TLS_CA", &pki.ca)
            .env_remove("GOUJI_TOKEN_FILE");
        if token.is_empty() {
            cmd.env_remove("GOUJI_TOKEN");
        } else {
            cmd.env("GOUJI_TOKEN", token);
        }
        cmd.output().unwrap()
    };
    let server = s.ingestion.https_url();
    let out = gouji(
        &token(pki, Role::Department),
        &["units", "list", "--server", &server],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(IN_UNIT), "{listed}");
    assert!(
        !listed.contains(OUT_DEPT) && !listed.contains(OUT_UNIT),
        "{listed}"
    );
    let refused = gouji("", &["units", "list", "--server", &server]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("authentication required"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
