//! consolidate
