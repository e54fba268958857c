//! The authenticated caller of a call: subject, role and the unit it acts for.

use std::fmt;
use std::str::FromStr;

/// What a caller is allowed to do, before its unit scope is considered (docs/security.md has the
/// table of RPC × role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The provincial finance department: reads, validates and aggregates everything, registers
    /// top-level departments.
    Province,
    /// A department: its own subtree (register units under it, submit, read, aggregate).
    Department,
    /// A budget unit: submits and reads its own reports.
    Unit,
    /// A validation platform: only `ValidateReport` and `ListRules`.
    Validator,
    /// Operations staff: health, metrics and reflection; no business data.
    Operator,
    /// Another Gouji service, identified by its mutual-TLS client certificate and acting on its
    /// own behalf (ingestion's background revalidation). Never carried by a bearer token.
    Service,
}

impl Role {
    /// Every role, for exhaustive tests.
    pub const ALL: [Role; 6] = [
        Role::Province,
        Role::Department,
        Role::Unit,
        Role::Validator,
        Role::Operator,
        Role::Service,
    ];

    /// The name used in tokens, logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Province => "province",
            Role::Department => "department",
            Role::Unit => "unit",
            Role::Validator => "validator",
            Role::Operator => "operator",
            Role::Service => "service",
        }
    }

    /// Whether the role acts for one unit (and so needs one).
    pub fn is_scoped(self) -> bool {
        matches!(self, Role::Department | Role::Unit)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Ok(match s {
            "province" => Role::Province,
            "department" => Role::Department,
            "unit" => Role::Unit,
            "validator" => Role::Validator,
            "operator" => Role::Operator,
            "service" => Role::Service,
            other => return Err(format!("unknown role `{other}`")),
        })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: the token's `sub` (a person or platform account), or the service's name.
    pub subject: String,
    pub role: Role,
    /// The unit code the caller acts for: required for `department` and `unit`, absent otherwise.
    pub unit: Option<String>,
    /// The Gouji service that forwarded the caller's token (the peer authenticated by mutual
    /// TLS), when the call came through one; for the audit trail.
    pub via: Option<String>,
}

impl Principal {
    /// A principal of `role` acting for `unit`.
    pub fn new(subject: impl Into<String>, role: Role, unit: Option<&str>) -> Principal {
        Principal {
            subject: subject.into(),
            role,
            unit: unit.map(str::to_string),
            via: None,
        }
    }

    /// The development principal: every call of a development-mode server acts as it.
    pub fn development() -> Principal {
        Principal::new("dev", Role::Province, None)
    }

    /// A Gouji service acting on its own behalf (mutual TLS, no bearer token).
    pub fn service(name: impl Into<String>) -> Principal {
        Principal::new(name, Role::Service, None)
    }

    /// `role:subject[@unit][ via service]`, as logs and the audit trail show it.
    pub fn label(&self) -> String {
        let mut s = format!("{}:{}", self.role, self.subject);
        if let Some(u) = &self.unit {
            s.push('@');
            s.push_str(u);
        }
        if let Some(v) = &self.via {
            s.push_str(" via ");
            s.push_str(v);
        }
        s
    }
}
