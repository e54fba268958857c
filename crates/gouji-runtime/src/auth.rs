//! Authentication and authorization at the edge of every service, in one place.
//!
//! - [`SecurityArgs`]: the flags every binary takes — TLS certificate and key, the CA whose
//!   client certificates identify other Gouji services (mutual TLS), the CA of the upstreams'
//!   server certificates, the bearer-token public key, issuer and audience — or
//!   `--dev-insecure` (plaintext, no credentials, every caller a `province` principal; refused
//!   unless every listen address is loopback). [`SecurityArgs::install`] sets the process's
//!   [`Security`]; [`crate::server::builder`] and [`crate::server::client_endpoint`] apply it.
//! - [`AuthLayer`]: the tower layer around every service. Health is unauthenticated; every
//!   other call needs a valid bearer token (UNAUTHENTICATED otherwise) or, for a service acting
//!   on its own behalf, a client certificate of the service CA. The [`Principal`] goes into the
//!   request's extensions; reflection is for `operator` only. The caller's `authorization`
//!   header is kept for the duration of the call ([`caller_authorization`]) so that the
//!   service-to-service clients forward it: an upstream sees the original caller.
//! - [`principal`] and [`authorize`]: what handlers call to check the concrete target of a
//!   call against [`gouji_auth::policy`]; refusals map through [`crate::status`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use gouji_auth::policy::{self, Action, Hierarchy};
use gouji_auth::token::Verifier;
use gouji_auth::{Principal, Role};
use http::HeaderValue;
use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;
use crate::admission::LimitedInfo;

/// Security flags shared by the three service binaries (`#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SecurityArgs {
    /// Development mode: plaintext, no credentials, every caller acts as a `province`
    /// principal. Refused unless every listen address is loopback. Never in production.
    #[arg(long, env = "GOUJI_DEV_INSECURE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dev_insecure: bool,
    /// PEM file of the Ed25519 public key that verifies bearer tokens.
    #[arg(long, env = "GOUJI_TOKEN_PUBLIC_KEY")]
    pub token_public_key: Option<PathBuf>,
    /// Expected `iss` of bearer tokens.
    #[arg(long, env = "GOUJI_TOKEN_ISSUER", default_value = gouji_auth::token::DEFAULT_ISSUER)]
    pub token_issuer: String,
    /// Expected `aud` of bearer tokens.
    #[arg(long, env = "GOUJI_TOKEN_AUDIENCE", default_value = gouji_auth::token::DEFAULT_AUDIENCE)]
    pub token_audience: String,
    /// PEM file of this service's certificate chain (server and, towards upstreams, client).
    #[arg(long, env = "GOUJI_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of this service's private key.
    #[arg(long, env = "GOUJI_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM file of the CA whose client certificates identify other Gouji services (mutual
    /// TLS). Without it no caller is a service.
    #[arg(long, env = "GOUJI_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// PEM file of the CA that signed the upstream services' server certificates.
    #[arg(long, env = "GOUJI_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// A plaintext address that serves only `grpc.health.v1` (kubelet gRPC probes cannot speak
    /// TLS). No other service is reachable on it; off when unset.
    #[arg(long, env = "GOUJI_HEALTH_LISTEN")]
    pub health_listen: Option<String>,
}

static HEALTH_LISTEN: OnceLock<Option<String>> = OnceLock::new();

/// The health-only plaintext address, when configured ([`SecurityArgs::health_listen`]).
pub fn health_listen() -> Option<&'static str> {
    HEALTH_LISTEN.get().and_then(|h| h.as_deref())
}

/// How a process authenticates, once [`SecurityArgs::install`] ran.
#[allow(clippy::large_enum_variant)] // one per process, behind an Arc
pub enum Security {
    /// `--dev-insecure`: plaintext; every caller is [`Principal::development`].
    Development,
    /// TLS on every port, bearer tokens, mutual TLS between the services.
    Enforced {
        verifier: Verifier,
        server_tls: ServerTlsConfig,
        client_tls: ClientTlsConfig,
        /// Whether client certificates (of the service CA) are asked for.
        service_certs: bool,
    },
}

static SECURITY: OnceLock<Arc<Security>> = OnceLock::new();

/// The process's security, when installed.
pub fn installed() -> Option<&'static Arc<Security>> {
    SECURITY.get()
}

/// Development mode when nothing was installed (in-process tests and benches; the binaries
/// always install, and [`crate::server::serve`] refuses to serve otherwise).
fn current() -> Arc<Security> {
    SECURITY
        .get()
        .cloned()
        .unwrap_or_else(|| Arc::new(Security::Development))
}

/// Whether the process runs with credentials (TLS and tokens).
pub fn enforced() -> bool {
    matches!(current().as_ref(), Security::Enforced { .. })
}

/// The TLS configuration of the process's outgoing calls, when enforced.
pub fn client_tls() -> Option<ClientTlsConfig> {
    match current().as_ref() {
        Security::Enforced { client_tls, .. } => Some(client_tls.clone()),
        Security::Development => None,
    }
}

/// The TLS configuration of the process's servers, when enforced.
pub fn server_tls() -> Option<ServerTlsConfig> {
    match current().as_ref() {
        Security::Enforced { server_tls, .. } => Some(server_tls.clone()),
        Security::Development => None,
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", path.display()))
}

/// Whether `addr` (`host:port`) resolves to loopback addresses only.
pub fn is_loopback(addr: &str) -> bool {
    use std::net::ToSocketAddrs as _;
    match addr.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

impl SecurityArgs {
    /// Checks the flags and installs the process's [`Security`]. `listen` are every address
    /// the process will listen on (gRPC, metrics).
    pub fn install(&self, service: &str, listen: &[&str]) -> anyhow::Result<()> {
        let mut listen = listen.to_vec();
        listen.extend(self.health_listen.as_deref());
        let security = self.resolve(service, &listen)?;
        let _ = HEALTH_LISTEN.set(self.health_listen.clone());
        SECURITY
            .set(Arc::new(security))
            .map_err(|_| anyhow::anyhow!("security installed twice"))
    }

    fn resolve(&self, service: &str, listen: &[&str]) -> anyhow::Result<Security> {
        let any_credential = self.token_public_key.is_some()
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_client_ca.is_some()
            || self.tls_ca.is_some();
        if self.dev_insecure {
            anyhow::ensure!(
                !any_credential,
                "--dev-insecure cannot be combined with TLS or token settings"
            );
            if let Some(a) = listen.iter().find(|a| !is_loopback(a)) {
                anyhow::bail!(
                    "--dev-insecure is only allowed on loopback addresses; {a} is not loopback"
                );
            }
            let banner = format!(
                "{service}: DEVELOPMENT MODE — no TLS, no authentication, every caller acts as \
                 `province`; loopback only; never use this in production"
            );
            eprintln!("WARNING: {banner}");
            tracing::warn!("{banner}");
            return Ok(Security::Development);
        }
        let missing: Vec<&str> = [
            ("--token-public-key", self.token_public_key.is_none()),
            ("--tls-cert", self.tls_cert.is_none()),
            ("--tls-key", self.tls_key.is_none()),
        ]
        .into_iter()
        .filter_map(|(f, m)| m.then_some(f))
        .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "{service} needs {} (see docs/security.md), or --dev-insecure on loopback for \
             development",
            missing.join(", ")
        );
        let (Some(key_path), Some(cert_path), Some(tls_key_path)) =
            (&self.token_public_key, &self.tls_cert, &self.tls_key)
        else {
            unreachable!("checked above");
        };
        let verifier = Verifier::from_public_pem(
            &read(key_path, "token public key")?,
            &self.token_issuer,
            &self.token_audience,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_path.display()))?;
        let identity = Identity::from_pem(
            read(cert_path, "TLS certificate")?,
            read(tls_key_path, "TLS key")?,
        );
        let mut server_tls = ServerTlsConfig::new().identity(identity.clone());
        let service_certs = self.tls_client_ca.is_some();
        if let Some(ca) = &self.tls_client_ca {
            server_tls = server_tls
                .client_ca_root(Certificate::from_pem(read(ca, "client CA")?))
                .client_auth_optional(true);
        }
        let mut client_tls = ClientTlsConfig::new().identity(identity);
        if let Some(ca) = &self.tls_ca {
            client_tls = client_tls.ca_certificate(Certificate::from_pem(read(ca, "upstream CA")?));
        }
        // Fail at start, not at the first connection, on an unusable key or certificate.
        tonic::transport::Server::builder()
            .tls_config(server_tls.clone())
            .map_err(|e| anyhow::anyhow!("TLS certificate or key refused: {e}"))?;
        tracing::info!(service_certs, "TLS and bearer tokens enforced");
        Ok(Security::Enforced {
            verifier,
            server_tls,
            client_tls,
            service_certs,
        })
    }
}

tokio::task_local! {
    static CALLER: Option<HeaderValue>;
}

/// The `authorization` header of the call being handled, for forwarding to upstreams (`None`
/// outside a call, e.g. in a background task: the service then calls as itself).
pub fn caller_authorization() -> Option<HeaderValue> {
    CALLER.try_with(|c| c.clone()).ok().flatten()
}

/// Runs `f` with `authorization` as the credentials its service-to-service calls send (what
/// [`AuthLayer`] does for a call being handled; the `gouji` CLI does it with its own token).
pub async fn with_authorization<F: Future>(authorization: Option<HeaderValue>, f: F) -> F::Output {
    CALLER.scope(authorization, f).await
}

/// The layer [`crate::server::builder`] puts around every service.
#[derive(Clone, Default)]
pub struct AuthLayer;

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;
    fn layer(&self, inner: S) -> Authenticated<S> {
        Authenticated { inner }
    }
}

/// A service behind [`AuthLayer`].
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
}

/// Who is calling: the bearer token's principal (`via` a service when the peer presented a
/// service certificate), the service itself (certificate, no token), or UNAUTHENTICATED.
fn authenticate<B>(security: &Security, req: &http::Request<B>) -> Result<Principal, Status> {
    let Security::Enforced {
        verifier,
        service_certs,
        ..
    } = security
    else {
        return Ok(Principal::development());
    };
    // Connections accepted by `server::serve` are `admission::Limited`; others plain TCP.
    let ext = req.extensions();
    let peer_certs = ext
        .get::<TlsConnectInfo<LimitedInfo<TcpConnectInfo>>>()
        .and_then(|i| i.peer_certs())
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.peer_certs())
        });
    let service_peer = *service_certs && peer_certs.is_some_and(|c| !c.is_empty());
    let bearer = req.headers().get(http::header::AUTHORIZATION).map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| {
                s.strip_prefix("Bearer ")
                    .or_else(|| s.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or("")
    });
    match bearer {
        Some(token) => match verifier.verify(token) {
            Ok(mut p) => {
                if service_peer {
                    p.via = Some("service".into());
                }
                Ok(p)
            }
            Err(e) => {
                tracing::info!(path = req.uri().path(), reason = %e, "call refused: unauthenticated");
                Err(crate::status::unauthenticated())
            }
        },
        None if service_peer => Ok(Principal::service("service")),
        None => {
            tracing::info!(path = req.uri().path(), "call refused: no credentials");
            Err(crate::status::unauthenticated())
        }
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let mut inner = self.inner.clone();
        let security = current();
        Box::pin(async move {
            let path = req.uri().path();
            let health = path.starts_with("/grpc.health.");
            let reflection = path.starts_with("/grpc.reflection.");
            let mut forward = None;
            if !health {
                let principal = match authenticate(&security, &req) {
                    Ok(p) => p,
                    Err(status) => return Ok(status.into_http()),
                };
                if reflection
                    && matches!(security.as_ref(), Security::Enforced { .. })
                    && principal.role != Role::Operator
                {
                    return Ok(crate::status::permission_denied().into_http());
                }
                forward = req.headers().get(http::header::AUTHORIZATION).cloned();
                req.extensions_mut().insert(principal);
            }
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let response = CALLER.scope(forward, inner.call(req)).await?;
            Ok(response.map(tonic::body::Body::new))
        })
    }
}

/// The caller of a call, as [`AuthLayer`] authenticated it. A request that did not pass the
/// layer (an in-process test) is UNAUTHENTICATED.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(crate::status::unauthenticated)
}

/// Checks `action` for `principal` with the policy ([`gouji_auth::authorize`]): PERMISSION_DENIED
/// (one message, no detail) when refused; a failure of the hierarchy maps like a store error.
pub async fn authorize<H>(
    principal: &Principal,
    action: Action<'_>,
    hierarchy: &H,
) -> Result<(), Status>
where
    H: Hierarchy + Sync,
    H::Error: Into<HierarchyError>,
{
    match policy::authorize(principal, action, hierarchy).await {
        Ok(()) => Ok(()),
        Err(policy::Error::Denied(why)) => {
            tracing::info!(
                principal = %principal.label(),
                action = action.name(),
                reason = why.0,
                "call refused: permission denied"
            );
            Err(crate::status::permission_denied())
        }
        Err(policy::Error::Hierarchy(e)) => Err(match e.into() {
            HierarchyError::Store(e) => crate::status::store_error("unit", e),
            HierarchyError::Status(s) => s,
        }),
    }
}

/// Why the hierarchy could not answer.
pub enum HierarchyError {
    Store(gouji_store::StoreError),
    Status(Status),
}

impl From<gouji_store::StoreError> for HierarchyError {
    fn from(e: gouji_store::StoreError) -> Self {
        HierarchyError::Store(e)
    }
}

impl From<Status> for HierarchyError {
    fn from(s: Status) -> Self {
        HierarchyError::Status(s)
    }
}

impl From<std::convert::Infallible> for HierarchyError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// A hierarchy for actions that need none (validation): nothing is inside anything.
pub struct NoHierarchy;

impl Hierarchy for NoHierarchy {
    type Error = std::convert::Infallible;
    fn is_within(
        &self,
        _unit: &str,
        _root: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        std::future::ready(Ok(false))
    }
}
