//! The ingestion service's view of the validation service: a gRPC client with a deadline, and
//! the background loop that validates revisions stored while validation was unavailable.
//!
//! A revision is validated by at most one task of this process at a time ([`InFlight`]): a
//! SubmitReport call claims its idempotency key before it stores the revision and holds it
//! until the verdict is recorded; the background loop skips claimed keys and, once it holds a
//! claim itself, re-reads the state (its list may be older than the verdict). So a document is
//! not parsed and checked twice, and a submission validated in its own call is acknowledged as
//! validated.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gouji_domain::model::{Report, UnitType};
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
    in_flight: InFlight,
}

/// Idempotency keys of the revisions this process is storing or validating right now.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashSet<String>>>);

impl InFlight {
    fn keys(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set stays consistent even if a holder panicked: insert/remove are single steps.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `key` until the returned guard drops; `None` when another task holds it.
    fn claim(&self, key: &str) -> Option<Claim> {
        self.keys().insert(key.to_string()).then(|| Claim {
            set: self.clone(),
            key: key.to_string(),
        })
    }

    #[cfg(test)]
    fn contains(&self, key: &str) -> bool {
        self.keys().contains(key)
    }
}

/// A revision being stored or validated by one task; released on drop, whatever the outcome.
pub struct Claim {
    set: InFlight,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set.keys().remove(&self.key);
    }
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
            in_flight: InFlight::default(),
        })
    }

    /// Claims the submission with this idempotency key for the calling task (see the module
    /// docs); `None` while another task of this process holds it.
    pub fn claim(&self, idempotency_key: &str) -> Option<Claim> {
        self.in_flight.claim(idempotency_key)
    }

    /// Validates a stored revision: its original document when there is one (so findings
    /// quote the text as submitted), else its structured report.
    pub async fn validate(
        &self,
        rec: &RevisionRecord,
        source: Source<'_>,
        unit_type: Option<UnitType>,
    ) -> Result<Verdict, tonic::Status> {
        let input = match source {
            Source::Document(bytes) => validate_report_request::Input::Document(bytes),
            Source::Parsed(report) => {
                validate_report_request::Input::Report(convert::report_to_pb(report))
            }
            Source::Stored => {
                validate_report_request::Input::Report(convert::report_to_pb(&rec.report))
            }
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

/// What the validation service is sent for a revision.
pub enum Source<'a> {
    /// The original document (the service parses it again).
    Document(Vec<u8>),
    /// The report as this process parsed it from the document, source lines included: the wire
    /// form is lossless, so the findings are those of the document (`gouji-proto`'s
    /// `round_trip` test), without a second parse.
    Parsed(&'a Report),
    /// The stored structured report (submitted structured: no text to quote).
    Stored,
}

/// Documents above this much text are sent as documents: their structured form (every fact and
/// figure with its source text, plus the lines) would approach the message-size limits.
const MAX_PARSED_TEXT: usize = 4 << 20;

fn text_len(report: &Report) -> usize {
    report.lines.iter().map(|l| l.len() + 1).sum()
}

/// Validates `rec` and records the verdict; the caller holds `rec`'s [`Claim`]. `parsed` is the
/// report just parsed from the submitted document, when the caller has it (SubmitReport);
/// otherwise the stored document is sent (the store keeps no source lines). Returns the verdict;
/// on any failure of the validation service the revision simply stays pending (it is already
/// stored).
pub async fn validate_and_record(
    store: &Store,
    client: &ValidationClient,
    rec: &RevisionRecord,
    parsed: Option<&Report>,
    _claim: &Claim,
) -> Option<Verdict> {
    let source = match parsed {
        Some(report) if !report.lines.is_empty() && text_len(report) <= MAX_PARSED_TEXT => {
            Source::Parsed(report)
        }
        _ if rec.has_document => match store.document(rec.id).await {
            Ok(Some(d)) => Source::Document(d),
            Ok(None) => Source::Stored,
            Err(e) => {
                tracing::warn!(error = %e, id = rec.id, "cannot read stored document");
                return None;
            }
        },
        _ => Source::Stored,
    };
    let unit_type = match store.get_unit(&rec.unit_code).await {
        Ok(u) => u.and_then(|u| u.unit_type),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read unit");
            return None;
        }
    };
    let verdict = match client.validate(rec, source, unit_type).await {
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
            // A SubmitReport call is validating it right now: its verdict is on the way.
            let Some(claim) = client.claim(&rec.idempotency_key) else {
                continue;
            };
            // The list may predate a verdict recorded since by the task that held the claim.
            match store.is_pending(rec.id).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, id = rec.id, "cannot read revision state");
                    break;
                }
            }
            if validate_and_record(&store, &client, &rec, None, &claim)
                .await
                .is_none()
            {
                // The service is still down: try again next round.
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn a_submission_is_claimed_by_one_task_until_released() {
        let set = InFlight::default();
        let first = set.claim("k7").expect("free");
        assert!(set.claim("k7").is_none(), "claimed twice");
        assert!(set.contains("k7"));
        assert!(
            set.claim("k8").is_some(),
            "another submission is independent"
        );
        drop(first);
        assert!(!set.contains("k7"));
        assert!(set.claim("k7").is_some(), "free again after release");
    }
}
