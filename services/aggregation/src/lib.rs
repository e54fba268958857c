//! aggregation service.
