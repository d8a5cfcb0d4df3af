-- Limits on background work, kept as data (src/jobs/limits.c).
--
-- One row.  Workers read it when they claim a job (the claim statement
-- itself counts running jobs against max_jobs_total / max_jobs_per_kind),
-- when a job starts, every few seconds while it runs, and on NOTIFY
-- bulkhead_limits, so a change takes effect without a restart.  The admin
-- API reads and writes it as JSON (GET/PUT /admin/api/limits); the CHECKs
-- repeat limits_put_json's validation for hand edits.
--
-- Defaults (measured with tests/bench/isolation.py on 2 vCPUs): one bulk
-- job at a time.  Two concurrent COPYs take both cores and interactive
-- p99 rises ~25x; one, niced with its database backend, keeps it within
-- the 3x budget.  Rates are unlimited by default: the priorities, not a
-- rate, keep interactive requests fast while a lone import runs at nearly
-- full speed.  Operators who share the machine with more than Bulkhead
-- set rows_per_second / bytes_per_second.
CREATE TABLE limits (
	id		boolean		PRIMARY KEY DEFAULT true CHECK (id),
	-- Jobs running at once, all kinds (0: no limit but the workers).
	max_jobs_total	integer		NOT NULL DEFAULT 1
			CHECK (max_jobs_total BETWEEN 0 AND 1000),
	-- {kind: n}: at most n running jobs of that kind (0: none runs).
	max_jobs_per_kind jsonb		NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(max_jobs_per_kind) = 'object'),
	-- Per job; 0: unlimited.
	rows_per_second	bigint		NOT NULL DEFAULT 0
			CHECK (rows_per_second >= 0),
	bytes_per_second bigint		NOT NULL DEFAULT 0
			CHECK (bytes_per_second >= 0),
	-- Lines per import transaction; 0: BULKHEAD_IMPORT_BATCH_LINES.
	import_batch_lines integer	NOT NULL DEFAULT 0
			CHECK (import_batch_lines = 0 OR
			    import_batch_lines BETWEEN 100 AND 10000000),
	-- statement_timeout of the workers' bulk sessions; 0: none.
	statement_timeout_ms integer	NOT NULL DEFAULT 900000
			CHECK (statement_timeout_ms BETWEEN 0 AND 86400000),
	-- Nice value of worker processes and (where permitted) their
	-- database backends.
	worker_nice	integer		NOT NULL DEFAULT 10
			CHECK (worker_nice BETWEEN 0 AND 19),
	-- {kind: seconds}: an attempt running longer fails for good.
	kind_timeout_s	jsonb		NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(kind_timeout_s) = 'object'),
	-- {kind: n}: attempts before a job of the kind fails for good.
	kind_max_attempts jsonb		NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(kind_max_attempts) = 'object'),
	updated		timestamptz	NOT NULL DEFAULT now()
);

INSERT INTO limits DEFAULT VALUES;

CREATE FUNCTION limits_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('bulkhead_limits', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER limits_notify AFTER UPDATE ON limits
	FOR EACH STATEMENT EXECUTE FUNCTION limits_notify();

-- The admin API's audit trail (005_audit.sql) records limits changes too.
DO $$
BEGIN
	IF to_regproc('audit_capture') IS NOT NULL THEN
		CREATE TRIGGER limits_audit AFTER UPDATE ON limits FOR EACH ROW
			WHEN (current_setting('bulkhead.audit_table', true) =
			    'limits')
			EXECUTE FUNCTION audit_capture();
	END IF;
END
$$;

-- Pause: the admin API sets pause_requested on a running job; its worker
-- stops at the next batch boundary and parks it as 'paused', checkpoint
-- kept (jobq_paused).  005_audit.sql adds the column too; whichever runs
-- first wins.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS pause_requested boolean
	NOT NULL DEFAULT false;

-- When the current attempt was claimed: the per-kind timeout counts from
-- here, so time spent paused or queued does not count.
ALTER TABLE jobs ADD COLUMN claimed_at timestamptz;

-- The claim counts live jobs per kind.
CREATE INDEX jobs_live ON jobs (kind)
	WHERE state IN ('running', 'cancelling');
