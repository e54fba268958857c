-- Cross-report rules (XR-*): which revision of which related report (prior year, same-year
-- 预算, department or units) the latest findings used, as JSON (a list of ReportRef), and when
-- a related report arrived or was revised since: the revision is due for revalidation in the
-- background (unix milliseconds; NULL when not due).
ALTER TABLE revisions ADD COLUMN related_json TEXT;
ALTER TABLE revisions ADD COLUMN revalidate_at BIGINT;
CREATE INDEX revisions_revalidate ON revisions (revalidate_at, id) WHERE revalidate_at IS NOT NULL;
