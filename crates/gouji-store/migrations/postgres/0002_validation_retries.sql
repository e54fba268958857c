-- Per-revision validation retries: each pending revision has its own schedule (exponential
-- backoff), and a revision that can never validate ends in validation_state = 'failed' with the
-- reason in validation_error (see docs/hardening.md).
-- Every failed attempt (drives the backoff) / those that count towards the retry maximum (the
-- validation service answered with an error, rather than being unreachable).
ALTER TABLE revisions ADD COLUMN validation_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revisions ADD COLUMN validation_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revisions ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;  -- unix milliseconds
ALTER TABLE revisions ADD COLUMN validation_error TEXT;
CREATE INDEX revisions_due ON revisions (next_attempt_at, id) WHERE validation_state = 'pending';
