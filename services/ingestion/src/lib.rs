//! ingestion service.
