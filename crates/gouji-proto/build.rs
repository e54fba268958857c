//! Compiles `proto/` with protox (pure Rust, no system protoc) and keeps the
//! descriptor set for server reflection.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "gouji/report/v1/report.proto",
        "gouji/validation/v1/validation_service.proto",
        "gouji/ingestion/v1/ingestion_service.proto",
        "gouji/aggregation/v1/aggregation_service.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("gouji_descriptor.bin"), bytes)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Malformed requests are INVALID_ARGUMENT, not tonic's INTERNAL (see `codec`).
        .codec_path("crate::codec::Prost")
        .compile_fds(fds)?;
    Ok(())
}
