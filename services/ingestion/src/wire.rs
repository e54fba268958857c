//! Store records → wire messages.

use gouji_proto::convert;
use gouji_proto::ingestion::v1 as pb;
use gouji_proto::report::v1 as rpb;
use gouji_store::{RevisionRecord, UnitRecord, ValidationState};

pub(crate) fn unit_to_pb(u: &UnitRecord) -> pb::Unit {
    pb::Unit {
        code: u.code.clone(),
        name: u.name.clone(),
        unit_type: convert::unit_type_to_pb(u.unit_type),
        parent_code: u.parent_code.clone().unwrap_or_default(),
    }
}

pub(crate) fn state_to_pb(s: ValidationState) -> i32 {
    match s {
        ValidationState::Pending => pb::ValidationState::Pending as i32,
        ValidationState::Validated => pb::ValidationState::Validated as i32,
        ValidationState::Failed => pb::ValidationState::Failed as i32,
    }
}

/// RFC 3339 (UTC, milliseconds) from unix milliseconds, without a date library.
pub(crate) fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A revision's body on the wire: the report, or none in a listing.
pub(crate) trait Body {
    fn to_pb(&self) -> Option<rpb::Report>;
}

impl Body for gouji_domain::model::Report {
    fn to_pb(&self) -> Option<rpb::Report> {
        Some(convert::report_to_pb(self))
    }
}

impl Body for () {
    fn to_pb(&self) -> Option<rpb::Report> {
        None
    }
}

/// A stored revision, with its report when it carries one (a listing's does not).
pub(crate) fn revision_to_pb<R: Body>(r: &RevisionRecord<R>) -> pb::StoredReport {
    pb::StoredReport {
        report_id: r.report_id(),
        unit_code: r.unit_code.clone(),
        year: r.year,
        kind: convert::kind_to_pb(r.kind),
        revision: r.revision,
        consolidated: r.consolidated,
        validation_state: state_to_pb(r.state),
        valid: r.valid.unwrap_or(false),
        catalog_version: r.catalog_version.clone().unwrap_or_default(),
        report: r.report.to_pb(),
        findings: r.findings.iter().map(convert::finding_to_pb).collect(),
        content_hash: r.content_hash.clone(),
        submitted_at: rfc3339(r.submitted_at),
        validation_error: r.validation_error.clone().unwrap_or_default(),
        related_used: r
            .related_used
            .iter()
            .map(convert::report_ref_to_pb)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-23T08:30:15.250Z
        assert_eq!(
            super::rfc3339(1_795_422_615_250),
            "2026-11-23T08:30:15.250Z"
        );
    }
}
