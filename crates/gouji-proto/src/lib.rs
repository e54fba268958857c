//! Generated gRPC types (from `proto/`) and their conversions to the domain model.
//!
//! This is the only crate that knows both prost and the domain; services convert
//! at the edge through [`convert`].

#![allow(unreachable_pub, missing_docs, clippy::all)]

pub mod report {
    pub mod v1 {
        tonic::include_proto!("gouji.report.v1");
    }
}
pub mod validation {
    pub mod v1 {
        tonic::include_proto!("gouji.validation.v1");
    }
}
pub mod ingestion {
    pub mod v1 {
        tonic::include_proto!("gouji.ingestion.v1");
    }
}
pub mod aggregation {
    pub mod v1 {
        tonic::include_proto!("gouji.aggregation.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Gouji proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/gouji_descriptor.bin"));

pub mod codec;
pub mod convert;
pub mod footprint;
