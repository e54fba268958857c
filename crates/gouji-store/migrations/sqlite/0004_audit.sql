-- The audit trail: who registered, changed, moved, submitted, read or aggregated what, and when.
-- A change's event is written in the same transaction as the change (docs/security.md).
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,  -- unix milliseconds
    principal TEXT NOT NULL,     -- role:subject[@unit][ via service]
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,     -- register_unit, move_unit, update_unit, submit_report, read_*, …
    target    TEXT NOT NULL,     -- unit code or report name
    detail    TEXT NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target, id);
