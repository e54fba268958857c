//! Opaque AIP-158 page tokens: bound to the filter they were issued for.
//!
//! A token is `base64url("v1|<filter fingerprint>|<last id>")`. A token presented with a
//! different filter, or one that was not issued by this service, is INVALID_ARGUMENT.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gouji_store::ListFilter;
use sha2::{Digest, Sha256};

fn fingerprint(filter: &ListFilter) -> String {
    let kind = filter.kind.map(gouji_store::kind_key).unwrap_or("");
    let text = format!(
        "{}|{}|{}|{}",
        filter.unit_code.as_deref().unwrap_or(""),
        filter.subtree,
        filter.year.unwrap_or(0),
        kind
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// The token that continues after `last_id` under `filter`.
pub(crate) fn encode(filter: &ListFilter, last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{}|{last_id}", fingerprint(filter)))
}

/// The cursor in `token`, when it was issued for `filter`.
pub(crate) fn decode(filter: &ListFilter, token: &str) -> Result<i64, &'static str> {
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| "page_token was not issued by this service")?;
    let text = String::from_utf8(raw).map_err(|_| "page_token was not issued by this service")?;
    let mut parts = text.split('|');
    let (Some("v1"), Some(fp), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("page_token was not issued by this service");
    };
    if fp != fingerprint(filter) {
        return Err("page_token belongs to a different query: keep the filters of the first page");
    }
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or("page_token was not issued by this service")
}

/// The token of the audit listing that continues below `last_id` (filtered by `target`).
pub(crate) fn encode_audit(target: Option<&str>, last_id: i64) -> String {
    let filter = ListFilter {
        unit_code: Some(format!("audit:{}", target.unwrap_or(""))),
        ..ListFilter::default()
    };
    encode(&filter, last_id)
}

/// The cursor of an audit-listing token issued for `target`.
pub(crate) fn decode_audit(target: Option<&str>, token: &str) -> Result<i64, &'static str> {
    let filter = ListFilter {
        unit_code: Some(format!("audit:{}", target.unwrap_or(""))),
        ..ListFilter::default()
    };
    decode(&filter, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        let f = ListFilter {
            unit_code: Some("610726".into()),
            subtree: true,
            ..ListFilter::default()
        };
        let t = encode(&f, 42);
        assert_eq!(decode(&f, &t), Ok(42));
        let other = ListFilter::default();
        assert!(decode(&other, &t).is_err());
        assert!(decode(&f, "not-a-token").is_err());
        assert!(decode(&f, &URL_SAFE_NO_PAD.encode("v1|x|1")).is_err());
    }
}
