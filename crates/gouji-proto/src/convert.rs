//! Conversions between domain and wire types.
