//! Signed bearer tokens: EdDSA (Ed25519) JWTs carrying the caller's subject, role and unit.
//!
//! Claims: `sub`, `role` (`province` | `department` | `unit` | `validator` | `operator`),
//! `unit` (required for `department` and `unit`, refused otherwise), `iss`, `aud`, `iat`, `nbf`
//! and `exp` — all required. The services hold only the public key ([`Verifier`]); the private
//! key is used by `gouji token issue` ([`Issuer`]) or by the platform's own identity provider.
//! Only `EdDSA` is accepted (no `none`, no HMAC: the algorithm is pinned, not read from the
//! header). Clock skew allowed: [`LEEWAY_SECS`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::principal::{Principal, Role};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// Longest lifetime [`Issuer::issue`] signs (a leaked token is useful for at most this long).
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// The audience the services expect unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "gouji";
/// The issuer the services expect unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "gouji";
/// Longest token accepted, in bytes (anything longer is refused before it is decoded).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The claims of a Gouji token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

/// Why a token was refused. Every variant is UNAUTHENTICATED to the caller, with one generic
/// message; the variant is for the server's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("bad token signature")]
    BadSignature,
    #[error("token for another audience")]
    WrongAudience,
    #[error("token from another issuer")]
    WrongIssuer,
    #[error("token claims refused: {0}")]
    Claims(String),
}

/// Checks tokens with the issuer's public key.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens signed by the Ed25519 key whose public half is `public_pem`
    /// (`-----BEGIN PUBLIC KEY-----`), issued by `issuer` for `audience`.
    pub fn from_public_pem(
        public_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, String> {
        let key = DecodingKey::from_ed_pem(public_pem).map_err(|e| format!("public key: {e}"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub"]);
        Ok(Verifier { key, validation })
    }

    /// The principal a token names, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(c) => TokenError::Claims(format!("`{c}` missing")),
                _ => TokenError::Malformed,
            },
        )?;
        principal_of(data.claims)
    }
}

/// The principal of verified claims: a known role other than `service`, a unit exactly when
/// the role needs one, a non-empty subject.
fn principal_of(c: Claims) -> Result<Principal, TokenError> {
    let role: Role = c.role.parse().map_err(TokenError::Claims)?;
    if role == Role::Service {
        return Err(TokenError::Claims(
            "role `service` is given by mutual TLS, never by a token".into(),
        ));
    }
    if c.sub.trim().is_empty() {
        return Err(TokenError::Claims("empty `sub`".into()));
    }
    let unit = c.unit.filter(|u| !u.is_empty());
    match (role.is_scoped(), &unit) {
        (true, None) => return Err(TokenError::Claims(format!("role `{role}` needs `unit`"))),
        (false, Some(_)) => {
            return Err(TokenError::Claims(format!("role `{role}` takes no `unit`")));
        }
        _ => {}
    }
    Ok(Principal {
        subject: c.sub,
        role,
        unit,
        via: None,
    })
}

/// Signs tokens with the Ed25519 private key (`gouji token issue`, tests).
pub struct Issuer {
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl Issuer {
    /// An issuer signing with `private_pem` (`-----BEGIN PRIVATE KEY-----`, PKCS#8 Ed25519).
    pub fn from_private_pem(
        private_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Issuer, String> {
        let key = EncodingKey::from_ed_pem(private_pem).map_err(|e| format!("private key: {e}"))?;
        Ok(Issuer {
            key,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }

    /// A token for `subject` as `role` (acting for `unit`), valid from now for `ttl` (at most
    /// [`MAX_TTL`]).
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        unit: Option<&str>,
        ttl: Duration,
    ) -> Result<String, String> {
        if ttl > MAX_TTL {
            return Err(format!("ttl above the maximum of {} s", MAX_TTL.as_secs()));
        }
        let now = now_secs();
        self.sign(&Claims {
            sub: subject.to_string(),
            role: role.as_str().to_string(),
            unit: unit.map(str::to_string),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl.as_secs(),
        })
    }

    /// Signs arbitrary claims (tests build expired, not-yet-valid and foreign-audience tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
            .map_err(|e| format!("signing: {e}"))
    }

    /// Claims as [`Issuer::issue`] would sign them, for tests to alter.
    pub fn claims(&self, subject: &str, role: &str, unit: Option<&str>, ttl: Duration) -> Claims {
        let now = now_secs();
        Claims {
            sub: subject.to_string(),
            role: role.to_string(),
            unit: unit.map(str::to_string),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl.as_secs(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A fixed Ed25519 test key pair (RFC 8032 test vector 1), used only by these unit tests.
    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";
    // Another key pair (RFC 8032 test vector 2).
    const OTHER_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n-----END PRIVATE KEY-----\n";

    fn issuer() -> Issuer {
        Issuer::from_private_pem(PRIVATE.as_bytes(), "gouji", "gouji").unwrap()
    }
    fn verifier() -> Verifier {
        Verifier::from_public_pem(PUBLIC.as_bytes(), "gouji", "gouji").unwrap()
    }

    #[test]
    fn a_valid_token_names_its_principal() {
        let t = issuer()
            .issue(
                "alice",
                Role::Department,
                Some("610726"),
                Duration::from_secs(60),
            )
            .unwrap();
        let p = verifier().verify(&t).unwrap();
        assert_eq!(p, Principal::new("alice", Role::Department, Some("610726")));
    }

    #[test]
    fn every_bad_token_is_refused_with_its_reason() {
        let i = issuer();
        let v = verifier();
        let hour = Duration::from_secs(3600);
        let mut c = i.claims("a", "province", None, hour);
        c.exp = now_secs() - 2 * LEEWAY_SECS - 1;
        c.nbf = c.exp - 10;
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::Expired));
        let mut c = i.claims("a", "province", None, hour);
        c.nbf = now_secs() + 600;
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::NotYetValid));
        let mut c = i.claims("a", "province", None, hour);
        c.aud = "someone-else".into();
        assert_eq!(
            v.verify(&i.sign(&c).unwrap()),
            Err(TokenError::WrongAudience)
        );
        let mut c = i.claims("a", "province", None, hour);
        c.iss = "someone-else".into();
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::WrongIssuer));
        let other = Issuer::from_private_pem(OTHER_PRIVATE.as_bytes(), "gouji", "gouji").unwrap();
        let t = other.issue("a", Role::Province, None, hour).unwrap();
        assert_eq!(v.verify(&t), Err(TokenError::BadSignature));
        // Tampered: the payload of a unit token swapped for a province one, signature kept.
        let unit = i.issue("a", Role::Unit, Some("1"), hour).unwrap();
        let prov = i.issue("a", Role::Province, None, hour).unwrap();
        let u: Vec<&str> = unit.split('.').collect();
        let p: Vec<&str> = prov.split('.').collect();
        let forged = format!("{}.{}.{}", u[0], p[1], u[2]);
        assert_eq!(v.verify(&forged), Err(TokenError::BadSignature));
        assert_eq!(v.verify(""), Err(TokenError::Missing));
        assert_eq!(v.verify("not.a.token"), Err(TokenError::Malformed));
        // alg=none with the payload of a valid token.
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", p[1]);
        assert!(v.verify(&none).is_err());
    }

    #[test]
    fn claims_must_fit_the_role() {
        let i = issuer();
        let v = verifier();
        let hour = Duration::from_secs(3600);
        for (role, unit) in [
            ("department", None),
            ("unit", None),
            ("province", Some("610726")),
            ("service", None),
            ("root", None),
        ] {
            let t = i.sign(&i.claims("a", role, unit, hour)).unwrap();
            assert!(matches!(v.verify(&t), Err(TokenError::Claims(_))), "{role}");
        }
        assert!(i.issue("a", Role::Province, None, MAX_TTL * 2).is_err());
    }
}
