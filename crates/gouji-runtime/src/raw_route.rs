//! One unary method of a generated server routed to a handler that takes the request's bytes
//! and gives back the response's ([`gouji_proto::codec::Raw`]).
//!
//! Tonic decodes a request on the I/O thread that read it. For a large message (a structured
//! report of up to 16 MiB, tens of thousands of strings) that is tens of milliseconds of an I/O
//! thread that every connection shares, and the decoded message is then converted and freed on
//! a CPU worker. A handler behind [`RawRoute`] decodes on the worker itself (`validation`'s
//! `ValidateReport`, `ingestion`'s `SubmitReport`). Every other method goes to the generated
//! server unchanged.

use std::convert::Infallible;
use std::task::Poll;

use bytes::Bytes;
use gouji_proto::codec::Raw;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};

use crate::server::Limits;

/// A generated server `S` with the method at `path` answered by `handler`.
#[derive(Clone)]
pub struct RawRoute<S, H> {
    generated: S,
    path: std::sync::Arc<str>,
    handler: H,
    limits: Limits,
}

impl<S: NamedService, H> RawRoute<S, H> {
    /// Routes `S`'s method named `method` (as in the `.proto`, e.g. `SubmitReport`) to `handler`.
    pub fn new(generated: S, method: &str, handler: H, limits: Limits) -> Self {
        Self {
            generated,
            path: format!("/{}/{method}", S::NAME).into(),
            handler,
            limits,
        }
    }

    /// The routed method's full path, `/<package>.<Service>/<Method>`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl<S: NamedService, H> NamedService for RawRoute<S, H> {
    const NAME: &'static str = S::NAME;
}

impl<S, H, B> Service<http::Request<B>> for RawRoute<S, H>
where
    S: Service<
            http::Request<B>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future = BoxFuture<http::Response<tonic::body::Body>, Infallible>,
        >,
    H: UnaryService<Bytes, Response = Bytes> + Clone + Send + 'static,
    H::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != &*self.path {
            return self.generated.call(req);
        }
        let limits = self.limits;
        let handler = self.handler.clone();
        Box::pin(async move {
            // The same size limits as the generated server. No compression is negotiated on
            // either path (the services enable none); enabling it there must also apply it here.
            let mut grpc = tonic::server::Grpc::new(Raw).apply_max_message_size_config(
                Some(limits.max_request_bytes),
                Some(limits.max_response_bytes),
            );
            Ok(grpc.unary(handler, req).await)
        })
    }
}
