//! PDF reader.
