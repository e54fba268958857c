//! validation service.
