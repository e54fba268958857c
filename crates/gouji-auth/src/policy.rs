//! The one authorization policy: may this principal do this action on this target?
//!
//! [`authorize`] is the only place that decides. Handlers build the [`Action`] from the
//! concrete target of the call (after their own field checks) and map [`Denied`] to
//! PERMISSION_DENIED. Scope — "is unit X inside unit D's subtree (X = D included)?" — is asked of
//! a [`Hierarchy`], which the store answers from the registered units; an unknown unit is inside
//! nobody's subtree, so a scoped caller cannot tell an unknown unit from a foreign one.
//!
//! | action | province | department D | unit U | validator | operator | service |
//! |---|---|---|---|---|---|---|
//! | register / change unit X under P | yes | X new: P ∈ D; X exists: X ∈ D and old parent ∈ D and P ∈ D (X = D: parent unchanged) | no | no | no | no |
//! | list units under R | yes | R ∈ D | no | no | no | no |
//! | submit for X | yes | X ∈ D | X = U, not consolidated | no | no | no |
//! | read X's reports (subtree) | yes | X ∈ D | X = U, not the subtree | no | no | no |
//! | aggregate department X | yes | X ∈ D | no | no | no | no |
//! | validate, list rules | yes | yes | yes | yes | no | yes |
//! | read the audit trail | yes | no | no | no | no | no |
//! | reflection | no | no | no | no | yes | no |

use std::future::Future;

use crate::principal::{Principal, Role};

/// What a call wants to do, with its concrete target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Register unit `unit` under `parent` (`None`: top level). `existing` is the unit's current
    /// parent when it is already registered (`Some(None)`: it is top level), `None` when new.
    /// Moving a unit needs rights over the old and the new parent.
    RegisterUnit {
        unit: &'a str,
        parent: Option<&'a str>,
        existing: Option<Option<&'a str>>,
    },
    /// List the units of `root`'s subtree.
    ListUnits { root: &'a str },
    /// Submit a report of `unit` (`consolidated`: the department's filed 汇总).
    SubmitReport { unit: &'a str, consolidated: bool },
    /// Read the reports of `unit` (`subtree`: and of every unit below it).
    ReadReports { unit: &'a str, subtree: bool },
    /// Aggregate department `department`.
    Aggregate { department: &'a str },
    /// `ValidateReport`, `ListRules`, `Echo`: stateless, no unit data read or written.
    Validate,
    /// Read the audit trail.
    ReadAudit,
    /// Server reflection (the API's shape).
    Reflect,
}

impl Action<'_> {
    /// A short name for logs and the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Action::RegisterUnit { .. } => "register_unit",
            Action::ListUnits { .. } => "list_units",
            Action::SubmitReport { .. } => "submit_report",
            Action::ReadReports { .. } => "read_reports",
            Action::Aggregate { .. } => "aggregate",
            Action::Validate => "validate",
            Action::ReadAudit => "read_audit",
            Action::Reflect => "reflect",
        }
    }
}

/// The unit hierarchy as the store knows it.
pub trait Hierarchy {
    type Error;
    /// Whether `unit` is registered and is `root` or below it.
    fn is_within(
        &self,
        unit: &str,
        root: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// A refused action. The reason is for the server's log and the tests, never for the caller
/// (the caller sees one generic PERMISSION_DENIED message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied(pub &'static str);

/// The outcome of [`authorize`] when it could not be decided (the hierarchy failed).
#[derive(Debug)]
pub enum Error<E> {
    Denied(Denied),
    Hierarchy(E),
}

impl<E> From<Denied> for Error<E> {
    fn from(d: Denied) -> Self {
        Error::Denied(d)
    }
}

/// Decides whether `principal` may perform `action`. `Ok(())` allows it.
pub async fn authorize<H: Hierarchy + Sync>(
    principal: &Principal,
    action: Action<'_>,
    hierarchy: &H,
) -> Result<(), Error<H::Error>> {
    use Action as A;
    use Role as R;
    let within = |unit: &str, root: &str| {
        let (unit, root) = (unit.to_string(), root.to_string());
        async move { hierarchy.is_within(&unit, &root).await }
    };
    let require = |ok: bool, why: &'static str| -> Result<(), Error<H::Error>> {
        if ok { Ok(()) } else { Err(Denied(why).into()) }
    };
    let own = principal.unit.as_deref();
    match (principal.role, action) {
        (R::Operator, A::Reflect) => Ok(()),
        (_, A::Reflect) => Err(Denied("reflection is for operators").into()),
        (R::Province, A::ReadAudit) => Ok(()),
        (_, A::ReadAudit) => Err(Denied("the audit trail is for the province").into()),
        (R::Province | R::Department | R::Unit | R::Validator | R::Service, A::Validate) => Ok(()),
        (R::Operator, A::Validate) => Err(Denied("operators read no reports").into()),
        (R::Province, _) => Ok(()),
        (R::Validator | R::Operator | R::Service, _) => {
            Err(Denied("this role reads and writes no unit data").into())
        }
        (R::Department | R::Unit, _) if own.is_none() => {
            Err(Denied("a scoped role without a unit").into())
        }
        (R::Department, a) => {
            let d = own.unwrap_or_default();
            match a {
                A::RegisterUnit {
                    unit,
                    parent,
                    existing,
                } => {
                    if let Some(old) = existing {
                        require(
                            within(unit, d).await.map_err(Error::Hierarchy)?,
                            "the unit is outside the department",
                        )?;
                        if unit == d {
                            // The department itself: name and type, never its place.
                            return require(old == parent, "a department cannot move itself");
                        }
                        let Some(old) = old else {
                            return Err(Denied("the unit is top level").into());
                        };
                        require(
                            within(old, d).await.map_err(Error::Hierarchy)?,
                            "the old parent is outside the department",
                        )?;
                    }
                    let Some(p) = parent else {
                        return Err(Denied("only the province registers top-level units").into());
                    };
                    require(
                        within(p, d).await.map_err(Error::Hierarchy)?,
                        "the new parent is outside the department",
                    )
                }
                A::ListUnits { root: x }
                | A::SubmitReport { unit: x, .. }
                | A::ReadReports { unit: x, .. }
                | A::Aggregate { department: x } => require(
                    within(x, d).await.map_err(Error::Hierarchy)?,
                    "the unit is outside the department",
                ),
                A::Validate | A::ReadAudit | A::Reflect => unreachable!("decided above"),
            }
        }
        (R::Unit, a) => {
            let u = own.unwrap_or_default();
            match a {
                A::SubmitReport {
                    unit,
                    consolidated: false,
                } => require(unit == u, "another unit's report"),
                A::ReadReports {
                    unit,
                    subtree: false,
                } => require(unit == u, "another unit's report"),
                _ => Err(Denied("a unit submits and reads its own reports only").into()),
            }
        }
    }
}

/// The reports and units a caller sees when a listing call names no unit: everything
/// (`None`), or the subtree of / only the given unit (`Some((unit, subtree))`).
pub fn default_scope(principal: &Principal) -> Option<(String, bool)> {
    match principal.role {
        Role::Department => principal.unit.clone().map(|u| (u, true)),
        Role::Unit => principal.unit.clone().map(|u| (u, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// 610726 (a department) ⊃ 610726002 ⊃ 610726002001; 610726003; 610800 (another department).
    struct Tree(HashMap<&'static str, Option<&'static str>>);

    fn tree() -> Tree {
        Tree(HashMap::from([
            ("610726", None),
            ("610726002", Some("610726")),
            ("610726002001", Some("610726002")),
            ("610726003", Some("610726")),
            ("610800", None),
            ("610800001", Some("610800")),
        ]))
    }

    impl Hierarchy for Tree {
        type Error = std::convert::Infallible;
        fn is_within(
            &self,
            unit: &str,
            root: &str,
        ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
            let mut at = self.0.get_key_value(unit).map(|(k, _)| *k);
            let mut found = false;
            while let Some(u) = at {
                if u == root {
                    found = true;
                    break;
                }
                at = self.0.get(u).copied().flatten();
            }
            std::future::ready(Ok(found))
        }
    }

    fn decide(p: &Principal, a: Action<'_>) -> bool {
        match futures::executor::block_on(authorize(p, a, &tree())) {
            Ok(()) => true,
            Err(Error::Denied(_)) => false,
            Err(Error::Hierarchy(e)) => match e {},
        }
    }

    fn principal(role: Role) -> Principal {
        match role {
            Role::Department => Principal::new("d", role, Some("610726")),
            Role::Unit => Principal::new("u", role, Some("610726002")),
            r => Principal::new("x", r, None),
        }
    }

    /// Every action on an in-scope and an out-of-scope target, for every role: the whole
    /// table of the module documentation.
    #[test]
    fn the_policy_table() {
        use Action as A;
        let inside = "610726002";
        let deeper = "610726002001";
        let outside = "610800001";
        let unknown = "999999";
        // (action, [province, department, unit, validator, operator, service])
        let table: Vec<(Action<'_>, [bool; 6])> = vec![
            // Register a new unit under a unit of the department / of another / top level.
            (
                A::RegisterUnit {
                    unit: "n1",
                    parent: Some(inside),
                    existing: None,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: "n1",
                    parent: Some("610726"),
                    existing: None,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: "n1",
                    parent: Some(outside),
                    existing: None,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: "n1",
                    parent: Some(unknown),
                    existing: None,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: "n1",
                    parent: None,
                    existing: None,
                },
                [true, false, false, false, false, false],
            ),
            // Rename a unit in place / move it inside / out of / into the department.
            (
                A::RegisterUnit {
                    unit: deeper,
                    parent: Some(inside),
                    existing: Some(Some(inside)),
                },
                [true, true, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: deeper,
                    parent: Some("610726003"),
                    existing: Some(Some(inside)),
                },
                [true, true, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: deeper,
                    parent: Some("610800"),
                    existing: Some(Some(inside)),
                },
                [true, false, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: deeper,
                    parent: None,
                    existing: Some(Some(inside)),
                },
                [true, false, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: outside,
                    parent: Some(inside),
                    existing: Some(Some("610800")),
                },
                [true, false, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: outside,
                    parent: Some("610800"),
                    existing: Some(Some("610800")),
                },
                [true, false, false, false, false, false],
            ),
            // The department itself: renamed in place, never moved.
            (
                A::RegisterUnit {
                    unit: "610726",
                    parent: None,
                    existing: Some(None),
                },
                [true, true, false, false, false, false],
            ),
            (
                A::RegisterUnit {
                    unit: "610726",
                    parent: Some("610800"),
                    existing: Some(None),
                },
                [true, false, false, false, false, false],
            ),
            (
                A::ListUnits { root: "610726" },
                [true, true, false, false, false, false],
            ),
            (
                A::ListUnits { root: deeper },
                [true, true, false, false, false, false],
            ),
            (
                A::ListUnits { root: "610800" },
                [true, false, false, false, false, false],
            ),
            (
                A::ListUnits { root: unknown },
                [true, false, false, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: inside,
                    consolidated: false,
                },
                [true, true, true, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: inside,
                    consolidated: true,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: deeper,
                    consolidated: false,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: "610726",
                    consolidated: true,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: outside,
                    consolidated: false,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::SubmitReport {
                    unit: unknown,
                    consolidated: false,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: inside,
                    subtree: false,
                },
                [true, true, true, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: inside,
                    subtree: true,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: deeper,
                    subtree: false,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: "610726",
                    subtree: true,
                },
                [true, true, false, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: outside,
                    subtree: false,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::ReadReports {
                    unit: "610800",
                    subtree: true,
                },
                [true, false, false, false, false, false],
            ),
            (
                A::Aggregate {
                    department: "610726",
                },
                [true, true, false, false, false, false],
            ),
            (
                A::Aggregate { department: inside },
                [true, true, false, false, false, false],
            ),
            (
                A::Aggregate {
                    department: "610800",
                },
                [true, false, false, false, false, false],
            ),
            (
                A::Aggregate {
                    department: unknown,
                },
                [true, false, false, false, false, false],
            ),
            (A::Validate, [true, true, true, true, false, true]),
            (A::ReadAudit, [true, false, false, false, false, false]),
            (A::Reflect, [false, false, false, false, true, false]),
        ];
        for (action, expected) in &table {
            for (role, want) in Role::ALL.iter().zip(expected) {
                assert_eq!(
                    decide(&principal(*role), *action),
                    *want,
                    "{role} {action:?}"
                );
            }
        }
    }

    #[test]
    fn scoped_roles_without_a_unit_may_do_nothing_scoped() {
        for role in [Role::Department, Role::Unit] {
            let p = Principal::new("x", role, None);
            assert!(!decide(
                &p,
                Action::ReadReports {
                    unit: "610726",
                    subtree: false
                }
            ));
            assert!(!decide(
                &p,
                Action::SubmitReport {
                    unit: "610726",
                    consolidated: false
                }
            ));
        }
    }

    #[test]
    fn listings_without_a_unit_are_narrowed_to_the_callers_scope() {
        assert_eq!(default_scope(&principal(Role::Province)), None);
        assert_eq!(
            default_scope(&principal(Role::Department)),
            Some(("610726".into(), true))
        );
        assert_eq!(
            default_scope(&principal(Role::Unit)),
            Some(("610726002".into(), false))
        );
    }
}
