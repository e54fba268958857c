//! Who may do what in Gouji, as pure logic (no transport, no storage).
//!
//! - [`Principal`] and [`Role`]: the authenticated caller — a subject, its role and, for the
//!   `department` and `unit` roles, the unit code it acts for (as the store knows it).
//! - [`token`]: signed bearer tokens (EdDSA JWT): [`token::Verifier`] checks signature, expiry,
//!   not-before, audience and issuer with a public key; [`token::Issuer`] (the `gouji token
//!   issue` command only) signs with the private key.
//! - [`policy`]: the one authorization function, [`policy::authorize`], deciding whether a
//!   principal may perform an [`policy::Action`] on its target. The only question it cannot
//!   answer by itself — "is unit X inside unit D's subtree?" — is asked of a
//!   [`policy::Hierarchy`], which the store implements.
//!
//! The services authenticate in one tower layer (`gouji_runtime::auth`) and call
//! [`policy::authorize`] from their handlers with the concrete target of each call.

pub mod policy;
pub mod principal;
pub mod token;

pub use policy::{Action, Denied, Hierarchy, authorize};
pub use principal::{Principal, Role};
