//! Error → `tonic::Status` mapping. Handlers never build statuses by hand.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A request that is malformed: one or more fields with what is wrong with them.
#[derive(Debug, Clone, Default)]
pub struct BadRequest {
    violations: Vec<(String, String)>,
}

impl BadRequest {
    pub fn new() -> Self {
        Self::default()
    }

    /// A request with a single violation.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut b = Self::new();
        b.add(field, description);
        b
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations.push((field.into(), description.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Err(self)` when any violation was recorded.
    pub fn check(self) -> Result<(), Status> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into())
        }
    }
}

impl From<BadRequest> for Status {
    fn from(b: BadRequest) -> Status {
        let mut details = ErrorDetails::new();
        for (field, description) in &b.violations {
            details.add_bad_request_violation(field.clone(), description.clone());
        }
        let summary = b
            .violations
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid request: {summary}"),
            details,
        )
    }
}

/// A document that cannot be read is a malformed request (INVALID_ARGUMENT on the given field).
pub fn parse_error(field: &str, e: &gouji_domain::ParseError) -> Status {
    BadRequest::field(field, e.to_string()).into()
}

/// A requested resource that does not exist (NOT_FOUND with a google.rpc.ResourceInfo detail).
pub fn not_found(resource_type: &str, name: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_resource_info(
        resource_type,
        name,
        "",
        format!("{resource_type} `{name}` not found"),
    );
    Status::with_error_details(
        Code::NotFound,
        format!("{resource_type} `{name}` not found"),
        details,
    )
}

/// Maps a store failure. Errors that name a request field (an unknown unit, a reused
/// idempotency key) are INVALID_ARGUMENT on `field`; an unreachable database is UNAVAILABLE;
/// everything else is INTERNAL.
pub fn store_error(field: &str, e: gouji_store::StoreError) -> Status {
    use gouji_store::StoreError as E;
    match e {
        E::UnknownUnit(_) | E::UnknownParent(_) | E::Cycle { .. } => {
            BadRequest::field(field, e.to_string()).into()
        }
        E::KeyReused(_) => BadRequest::field("idempotency_key", e.to_string()).into(),
        e if e.is_unavailable() => unavailable("database", e),
        e => internal("store", e),
    }
}

/// An internal failure: logged with detail, reported without it.
pub fn internal(context: &str, e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "{context}");
    Status::internal(format!("{context}: internal error"))
}

/// A dependency (database, another service) is unavailable: the client may retry.
pub fn unavailable(context: &str, e: impl std::fmt::Display) -> Status {
    tracing::warn!(error = %e, "{context}");
    Status::unavailable(format!("{context}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_request_carries_field_violations() {
        let s: Status = BadRequest::field("input", "one of document or report is required").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_details_bad_request().expect("BadRequest detail");
        assert_eq!(d.field_violations[0].field, "input");
    }
}
