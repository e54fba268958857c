//! The gRPC codecs of the generated services and clients ([`Prost`]) and of handlers that decode
//! their requests and encode their responses themselves ([`Raw`]).
//!
//! [`Prost`] is tonic's prost codec with one change: a request whose bytes are not the message
//! they should be (a client's bug or a hostile client) is the caller's error — `INVALID_ARGUMENT`
//! with a `google.rpc.BadRequest` naming the field `request` — where tonic answers `INTERNAL`,
//! which tells the caller to retry and an operator that the server is broken.
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
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};

/// Tonic's prost codec, with a malformed request answered `INVALID_ARGUMENT` (see the module
/// doc). Named in `build.rs` as the codec of every generated service and client.
#[derive(Debug)]
pub struct Prost<T, U>(ProstCodec<T, U>);

impl<T, U> Default for Prost<T, U> {
    fn default() -> Self {
        Self(ProstCodec::default())
    }
}

impl<T, U> Codec for Prost<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoderOf<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoderOf(self.0.decoder())
    }
}

/// The decoder of [`Prost`].
#[derive(Debug)]
pub struct ProstDecoderOf<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for ProstDecoderOf<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(src).map_err(|s| decode_error::<U>(s))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// A decoding failure of message type `U`. A server decodes requests — every request message of
/// `proto/` is named `…Request` — so a failure there is `INVALID_ARGUMENT`; a client decodes
/// responses, whose failure stays tonic's `INTERNAL`.
fn decode_error<U>(s: Status) -> Status {
    let name = std::any::type_name::<U>().rsplit("::").next().unwrap_or("");
    if !name.ends_with("Request") || s.code() != Code::Internal {
        return s;
    }
    let description = format!("not a valid {name} message: {}", s.message());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: request: {description}"),
        ErrorDetails::with_bad_request_violation("request", description),
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingestion::v1::{SubmitReportRequest, SubmitReportResponse};

    #[test]
    fn a_request_that_does_not_decode_is_the_callers_error_a_response_stays_internal() {
        let tonic_says = || Status::internal("failed to decode Protobuf message: buffer underflow");
        let s = decode_error::<SubmitReportRequest>(tonic_says());
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(
            s.message().contains("SubmitReportRequest"),
            "{}",
            s.message()
        );
        let violations = s
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "request");
        assert_eq!(
            decode_error::<SubmitReportResponse>(tonic_says()).code(),
            Code::Internal
        );
    }
}
