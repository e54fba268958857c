//! Error → `tonic::Status` mapping, and the checks of request strings. Handlers never build
//! statuses by hand.
//!
//! Every message this module builds is bounded: an input is quoted by at most
//! [`MAX_QUOTE_CHARS`] characters ([`quote`]), one violation's description by at most
//! [`MAX_DESCRIPTION_CHARS`], and a status message lists at most [`MAX_VIOLATIONS`] of them, so
//! `grpc-message` stays far below what clients accept and the `BadRequest` details arrive.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Most characters of any input quoted in an error message.
pub const MAX_QUOTE_CHARS: usize = 64;
/// Most characters of one field violation's description.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// Most field violations in one status (details and message).
pub const MAX_VIOLATIONS: usize = 32;
/// Most characters of an upstream's message repeated in an UNAVAILABLE status.
pub const MAX_UPSTREAM_MESSAGE_CHARS: usize = 256;

/// Longest unit code (characters of `A–Z a–z 0–9 - _ .`).
pub const MAX_CODE_CHARS: usize = 64;
/// Longest unit name (characters).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest idempotency key (characters).
pub const MAX_KEY_CHARS: usize = 128;
/// Longest page token (characters).
pub const MAX_PAGE_TOKEN_CHARS: usize = 512;

/// Characters no request string may contain: C0/C1 controls (NUL, ESC, DEL, …), the Unicode
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E,
/// U+200F, U+061C), line/paragraph separators, the byte-order mark and noncharacters. They
/// reorder or hide text in terminals and logs.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FEFF}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// `s` with every forbidden character ([`is_forbidden_char`]) written as `\u{XXXX}`, safe to
/// print to a terminal or a log.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_forbidden_char(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// At most the first `max` characters of `s`, escaped ([`escape`]), with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    let mut out = escape(&head);
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// An input as error messages quote it: its first [`MAX_QUOTE_CHARS`] characters, escaped,
/// in backticks, with `…` when longer.
pub fn quote(input: &str) -> String {
    format!("`{}`", truncate(input, MAX_QUOTE_CHARS))
}

/// The first forbidden character of `s` and its character position.
fn first_forbidden(s: &str) -> Option<(usize, char)> {
    s.chars().enumerate().find(|(_, c)| is_forbidden_char(*c))
}

/// Checks a free-text field (a name): at most `max_chars` characters, no forbidden character,
/// not blank when `required`. Records what is wrong on `field`; true when nothing was.
pub fn check_text(
    b: &mut BadRequest,
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> bool {
    if value.trim().is_empty() {
        if required {
            b.add(field, format!("{field} is required"));
        }
        return !required;
    }
    let n = value.chars().count();
    if n > max_chars {
        b.add(
            field,
            format!("{field} is {n} characters long; the limit is {max_chars}"),
        );
        return false;
    }
    if let Some((at, c)) = first_forbidden(value) {
        b.add(
            field,
            format!(
                "{field} contains the control or bidirectional-formatting character U+{:04X} at \
                 position {at}",
                c as u32
            ),
        );
        return false;
    }
    true
}

/// Refuses request bytes whose repeated messages would take more than
/// [`gouji_proto::footprint::MAX_DECODED_BYTES`] once decoded: INVALID_ARGUMENT on `request`,
/// before anything is decoded.
pub fn check_footprint(bytes: &[u8], shape: &gouji_proto::footprint::Shape) -> Result<(), Status> {
    gouji_proto::footprint::check(bytes, shape).map_err(|m| BadRequest::field("request", m).into())
}

/// Adds a violation on `page_token` when it is longer than [`MAX_PAGE_TOKEN_CHARS`] (a token
/// this service issued never is; a longer one is not decoded at all).
pub fn check_page_token(b: &mut BadRequest, value: &str) {
    if value.chars().count() > MAX_PAGE_TOKEN_CHARS {
        b.add(
            "page_token",
            format!("page_token is longer than {MAX_PAGE_TOKEN_CHARS} characters"),
        );
    }
}

/// Checks a code field (a unit code): 1–[`MAX_CODE_CHARS`] characters of `A–Z a–z 0–9 - _ .`;
/// an empty value is an error only when `required`.
pub fn check_code(b: &mut BadRequest, field: &str, value: &str, required: bool) {
    if value.is_empty() {
        if required {
            b.add(field, format!("{field} is required"));
        }
        return;
    }
    let ok = value.len() <= MAX_CODE_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        b.add(
            field,
            format!(
                "{field} {} must be 1–{MAX_CODE_CHARS} characters of A–Z, a–z, 0–9, '-', '_', '.'",
                quote(value)
            ),
        );
    }
}

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

    /// Records a violation. The description is cut to [`MAX_DESCRIPTION_CHARS`] (escaped);
    /// violations beyond [`MAX_VIOLATIONS`] are counted in the message but not listed.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        let field = truncate(&field.into(), MAX_QUOTE_CHARS);
        let description = truncate(&description.into(), MAX_DESCRIPTION_CHARS);
        self.violations.push((field, description));
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
        for (field, description) in b.violations.iter().take(MAX_VIOLATIONS) {
            details.add_bad_request_violation(field.clone(), description.clone());
        }
        let mut summary = b
            .violations
            .iter()
            .take(MAX_VIOLATIONS)
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        if b.violations.len() > MAX_VIOLATIONS {
            summary.push_str(&format!(
                "; and {} more",
                b.violations.len() - MAX_VIOLATIONS
            ));
        }
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid request: {summary}"),
            details,
        )
    }
}

/// Fields of a wire report that do not convert ([`gouji_proto::convert::report_from_pb`]):
/// INVALID_ARGUMENT with one violation each, their paths under `prefix` (empty for the
/// request's own `report`, `related[3].` for a related one).
pub fn report_errors(prefix: &str, errs: Vec<gouji_proto::convert::FieldError>) -> Status {
    let mut b = BadRequest::new();
    for e in errs {
        b.add(format!("{prefix}{}", e.field), e.description);
    }
    b.into()
}

/// Request bytes a handler decoding them itself ([`crate::raw_route`]) could not decode as
/// `message` (its full Protobuf name): INVALID_ARGUMENT naming `request`.
pub fn malformed_request(message: &str, e: prost::DecodeError) -> Status {
    BadRequest::field("request", format!("not a valid {message}: {e}")).into()
}

/// A document that cannot be read is a malformed request (INVALID_ARGUMENT on the given field).
pub fn parse_error(field: &str, e: &gouji_domain::ParseError) -> Status {
    use gouji_domain::ParseError as E;
    match e {
        E::Cancelled => stopped(gouji_domain::work::Stop::Cancelled),
        E::DeadlineExceeded => stopped(gouji_domain::work::Stop::DeadlineExceeded),
        _ => BadRequest::field(field, e.to_string()).into(),
    }
}

/// Work that stopped before it was done ([`gouji_domain::work`]): CANCELLED or
/// DEADLINE_EXCEEDED when the caller gave up; a cap reached is a property of the input
/// (RESOURCE_EXHAUSTED names it: retrying the same input cannot succeed, so no RetryInfo).
pub fn stopped(stop: gouji_domain::work::Stop) -> Status {
    use gouji_domain::work::Stop;
    match stop {
        Stop::Cancelled => Status::cancelled("the call was cancelled; its work stopped"),
        Stop::DeadlineExceeded => {
            Status::deadline_exceeded("the deadline passed; the call's work stopped")
        }
        Stop::Limit { what, limit } => Status::resource_exhausted(format!(
            "the input needs more than {limit} {what}; that is the limit"
        )),
    }
}

/// A call shed because every slot of the service is taken and its wait queue is full
/// ([`crate::admission`]): RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` of `retry_after`.
pub fn overloaded(in_flight: usize, queued: usize, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(retry_after));
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "overloaded: {in_flight} calls in flight and {queued} waiting; retry in {} ms",
            retry_after.as_millis()
        ),
        details,
    )
}

/// A call that waited `waited` in the admission queue without getting a slot: UNAVAILABLE with
/// a `google.rpc.RetryInfo` of `retry_after`.
pub fn queue_timeout(waited: std::time::Duration, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(retry_after));
    Status::with_error_details(
        Code::Unavailable,
        format!(
            "overloaded: no slot free after {} ms in the queue; retry in {} ms",
            waited.as_millis(),
            retry_after.as_millis()
        ),
        details,
    )
}

/// A document (PDF, workbook or text) that could not be read or parsed: INVALID_ARGUMENT on the
/// field, with the reader's reason (encrypted, truncated, no text layer, a limit, …).
pub fn read_error(field: &str, e: &gouji_readers::detect::Error) -> Status {
    match e {
        gouji_readers::detect::Error::Parse(p) => parse_error(field, p),
        gouji_readers::detect::Error::Read(gouji_readers::ReadError::Stopped(stop)) => {
            stopped(*stop)
        }
        e => BadRequest::field(field, e.to_string()).into(),
    }
}

/// A requested resource that does not exist (NOT_FOUND with a google.rpc.ResourceInfo detail).
pub fn not_found(resource_type: &str, name: &str) -> Status {
    let name = truncate(name, MAX_DESCRIPTION_CHARS);
    let name = name.as_str();
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

/// A call without valid credentials (no, expired, not-yet-valid, tampered, wrongly signed or
/// foreign-audience token): UNAUTHENTICATED, with one message whatever the reason (the reason
/// is logged by the server, never told to the caller).
pub fn unauthenticated() -> Status {
    Status::unauthenticated("authentication required: a valid bearer token")
}

/// A call its principal may not make on its target: PERMISSION_DENIED, with one message that
/// says nothing about the target (not whether it exists, not where it is).
pub fn permission_denied() -> Status {
    Status::permission_denied("permission denied")
}

/// An internal failure: logged with detail, reported without it.
pub fn internal(context: &str, e: impl std::fmt::Display) -> Status {
    let e = truncate(&e.to_string(), MAX_UPSTREAM_MESSAGE_CHARS);
    tracing::error!(error = %e, "{context}");
    Status::internal(format!("{context}: internal error"))
}

/// A dependency (database, another service) is unavailable: the client may retry.
pub fn unavailable(context: &str, e: impl std::fmt::Display) -> Status {
    let e = truncate(&e.to_string(), MAX_UPSTREAM_MESSAGE_CHARS);
    tracing::warn!(error = %e, "{context}");
    Status::unavailable(format!("{context}: {e}"))
}

/// How long a client is told to wait before retrying a call whose upstream failed.
pub const UPSTREAM_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// [`upstream`] for a request this service built itself from stored data (aggregation's
/// `ValidateReport` of the consolidated report): when the upstream refuses it (INVALID_ARGUMENT,
/// NOT_FOUND, OUT_OF_RANGE, FAILED_PRECONDITION), nothing in the caller's request is wrong, so
/// the answer is FAILED_PRECONDITION naming what was refused and why — not INVALID_ARGUMENT on a
/// field the caller sent.
pub fn upstream_of_built(what: &str, s: Status) -> Status {
    match s.code() {
        Code::InvalidArgument | Code::NotFound | Code::OutOfRange | Code::FailedPrecondition => {
            Status::failed_precondition(format!(
                "{what} refused the request built from the stored reports ({:?}): {}",
                s.code(),
                truncate(s.message(), MAX_UPSTREAM_MESSAGE_CHARS)
            ))
        }
        _ => upstream(what, "", s),
    }
}

/// Maps the failure of a call to another Gouji service (`what`, e.g. "ingestion ListUnits").
/// A request the upstream refused for a field (INVALID_ARGUMENT, NOT_FOUND) is INVALID_ARGUMENT
/// on `field` here (FAILED_PRECONDITION, OUT_OF_RANGE keep their code); a version mismatch (UNIMPLEMENTED) or
/// DATA_LOSS is INTERNAL; every other failure — unreachable, timed out, shedding load, broken
/// connection, the upstream's own internal error — is UNAVAILABLE with a
/// `google.rpc.RetryInfo` of [`UPSTREAM_RETRY_DELAY`]: retrying the call may succeed.
pub fn upstream(what: &str, field: &str, s: Status) -> Status {
    match s.code() {
        // The upstream judged the original caller (its token is forwarded): the same answer.
        Code::PermissionDenied => permission_denied(),
        Code::Unauthenticated => unauthenticated(),
        Code::InvalidArgument | Code::NotFound => BadRequest::field(field, s.message()).into(),
        Code::FailedPrecondition | Code::OutOfRange => Status::new(
            s.code(),
            format!(
                "{what}: {}",
                truncate(s.message(), MAX_UPSTREAM_MESSAGE_CHARS)
            ),
        ),
        Code::Unimplemented | Code::DataLoss => internal(what, s.message()),
        _ => {
            let message = truncate(s.message(), MAX_UPSTREAM_MESSAGE_CHARS);
            tracing::warn!(code = ?s.code(), error = %message, "{what}");
            let mut details = ErrorDetails::new();
            details.set_retry_info(Some(UPSTREAM_RETRY_DELAY));
            Status::with_error_details(
                Code::Unavailable,
                format!("{what} failed ({:?}): {message}", s.code()),
                details,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_a_request_built_here_is_no_fault_of_the_caller() {
        let s = upstream_of_built(
            "validation ValidateReport",
            Status::invalid_argument("report.facts: 250000 entries; the limit is 200000"),
        );
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(s.message().contains("250000 entries"), "{}", s.message());
        let s = upstream_of_built("validation ValidateReport", Status::unavailable("down"));
        assert_eq!(s.code(), Code::Unavailable);
        let s = upstream_of_built("validation ValidateReport", Status::permission_denied("no"));
        assert_eq!(s.code(), Code::PermissionDenied);
    }

    #[test]
    fn bad_request_carries_field_violations() {
        let s: Status = BadRequest::field("input", "one of document or report is required").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_details_bad_request().expect("BadRequest detail");
        assert_eq!(d.field_violations[0].field, "input");
    }

    #[test]
    fn messages_quote_a_short_escaped_prefix() {
        let long = "名".repeat(10_000);
        assert_eq!(quote(&long).chars().count(), MAX_QUOTE_CHARS + 3);
        assert_eq!(
            quote("a\u{1b}[31mb\u{202E}c"),
            "`a\\u{001B}[31mb\\u{202E}c`"
        );
        let mut b = BadRequest::new();
        for i in 0..100 {
            b.add(format!("f{i}"), "x".repeat(1 << 20));
        }
        let s: Status = b.into();
        assert!(s.message().len() < 16 * 1024, "{}", s.message().len());
        let d = s.get_details_bad_request().unwrap();
        assert_eq!(d.field_violations.len(), MAX_VIOLATIONS);
        assert!(d.field_violations[0].description.chars().count() <= MAX_DESCRIPTION_CHARS + 1);
        assert!(s.message().ends_with("and 68 more"));
    }

    #[test]
    fn strings_are_checked_for_length_and_characters() {
        let check = |v: &str, max: usize, required: bool| {
            let mut b = BadRequest::new();
            check_text(&mut b, "unit.name", v, max, required);
            b.violations
        };
        assert!(check("宁强县医疗保障局", MAX_NAME_CHARS, true).is_empty());
        assert_eq!(check("", 10, true).len(), 1);
        assert!(check("", 10, false).is_empty());
        assert_eq!(check(&"名".repeat(11), 10, true).len(), 1);
        for bad in [
            "a\0b",
            "a\u{1b}b",
            "a\u{202E}b",
            "a\u{2067}b",
            "a\u{7f}",
            "\u{feff}x",
        ] {
            let v = check(bad, 10, true);
            assert_eq!(v.len(), 1, "{bad:?}");
            assert!(v[0].1.contains("U+"), "{v:?}");
        }
        let code = |v: &str| {
            let mut b = BadRequest::new();
            check_code(&mut b, "unit.code", v, true);
            b.violations
        };
        assert!(code("610726002").is_empty());
        assert_eq!(code("").len(), 1);
        assert_eq!(code(&"9".repeat(65)).len(), 1);
        assert_eq!(code("61\u{0}").len(), 1);
        assert!(code(&"9".repeat(100_000))[0].1.chars().count() < 200);
    }
}
