//! The ingestion service's view of the validation service: a gRPC client with a deadline, and
//! the background loop that validates revisions stored while validation was unavailable.

use std::time::Duration;

use gouji_domain::model::UnitType;
use gouji_domain::rules::Finding;
use gouji_proto::convert;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{ReportContext, ValidateReportRequest, validate_report_request};
use gouji_runtime::server::ServiceChannel;
use gouji_store::{RevisionRecord, Store, ValidationState};

/// What the validation service said about one revision.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub valid: bool,
    pub catalog_version: String,
    pub findings: Vec<Finding>,
}

/// Client of `gouji.validation.v1.ValidationService`; connects lazily, so the ingestion
/// service starts (and accepts submissions) while validation is down.
#[derive(Clone)]
pub struct ValidationClient {
    client: ValidationServiceClient<ServiceChannel>,
    timeout: Duration,
}

impl ValidationClient {
    /// A client of the service at `url` (`http://host:port`); `timeout` bounds each call.
    pub fn lazy(url: &str, timeout: Duration, max_message_bytes: usize) -> anyhow::Result<Self> {
        let channel = gouji_runtime::server::service_channel(url)?;
        Ok(ValidationClient {
            client: ValidationServiceClient::new(channel)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            timeout,
        })
    }

    /// Validates a stored revision: its original document when there is one (so findings
    /// quote the text as submitted), else its structured report.
    pub async fn validate(
        &self,
        rec: &RevisionRecord,
        document: Option<Vec<u8>>,
        unit_type: Option<UnitType>,
    ) -> Result<Verdict, tonic::Status> {
        let input = match document {
            Some(bytes) => validate_report_request::Input::Document(bytes),
            None => validate_report_request::Input::Report(convert::report_to_pb(&rec.report)),
        };
        let mut request = tonic::Request::new(ValidateReportRequest {
            input: Some(input),
            context: Some(ReportContext {
                unit_type: convert::unit_type_to_pb(unit_type),
                year: rec.year,
            }),
            // The revision already holds the report; only findings are needed back.
            omit_report: true,
        });
        request.set_timeout(self.timeout);
        let resp = self
            .client
            .clone()
            .validate_report(request)
            .await?
            .into_inner();
        Ok(Verdict {
            valid: resp.valid,
            catalog_version: resp.catalog_version,
            findings: resp.findings.iter().map(convert::finding_from_pb).collect(),
        })
    }
}

/// Validates `rec` and records the verdict. Returns the updated state; on any failure of the
/// validation service the revision simply stays pending (it is already stored).
pub async fn validate_and_record(
    store: &Store,
    client: &ValidationClient,
    rec: &RevisionRecord,
) -> Option<Verdict> {
    let document = if rec.has_document {
        match store.document(rec.id).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, id = rec.id, "cannot read stored document");
                return None;
            }
        }
    } else {
        None
    };
    let unit_type = match store.get_unit(&rec.unit_code).await {
        Ok(u) => u.and_then(|u| u.unit_type),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read unit");
            return None;
        }
    };
    let verdict = match client.validate(rec, document, unit_type).await {
        Ok(v) => v,
        Err(status) => {
            tracing::warn!(
                code = ?status.code(),
                message = status.message(),
                report = %rec.report_id(),
                revision = rec.revision,
                "validation unavailable; revision stays pending"
            );
            return None;
        }
    };
    if let Err(e) = store
        .record_validation(
            rec.id,
            verdict.valid,
            &verdict.catalog_version,
            &verdict.findings,
        )
        .await
    {
        tracing::warn!(error = %e, id = rec.id, "cannot record validation; stays pending");
        return None;
    }
    tracing::info!(
        report = %rec.report_id(),
        revision = rec.revision,
        valid = verdict.valid,
        findings = verdict.findings.len(),
        "validated"
    );
    Some(verdict)
}

/// Every `interval`, validates revisions left pending (validation was down, or the process
/// stopped between storing and validating). Runs until the task is dropped.
pub async fn revalidate_pending(store: Store, client: ValidationClient, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let pending = match store.pending(64).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list pending revisions");
                continue;
            }
        };
        for rec in pending {
            debug_assert_eq!(rec.state, ValidationState::Pending);
            if validate_and_record(&store, &client, &rec).await.is_none() {
                // The service is still down: try again next round.
                break;
            }
        }
    }
}
