//! A gRPC codec for handlers that decode their requests and encode their responses themselves.
//!
//! Tonic decodes a request on the I/O thread that read it and encodes the response on the I/O
//! thread that writes it; a handler that hands its work to a CPU worker then converts, validates
//! and frees the decoded message there, on another thread, and builds a response that is freed
//! back here. For a structured report (≈ 160 KiB, tens of thousands of small strings) that cost
//! the server more than the decoding itself in-process: every allocation is freed by another
//! thread, so the allocator keeps collecting pages freed elsewhere, and tonic's buffer is read
//! through its generic `Buf` path. With [`Raw`] a handler gets the request's bytes (split off
//! tonic's buffer, not copied), and gives back the response's, so that the worker decodes,
//! works and encodes on one thread; only the response's one buffer is then copied into tonic's
//! and freed on the I/O thread.

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Passes encoded messages through as [`Bytes`], both ways.
#[derive(Debug, Default, Clone, Copy)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Self::Encoder {
        Raw
    }

    fn decoder(&mut self) -> Self::Decoder {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
