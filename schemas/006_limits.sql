-- Limits on background work, kept as data (src/jobs/limits.c).
--
-- One row.  Workers read it when they claim a job (the claim statement
-- itself counts running jobs against max_jobs_total / max_jobs_per_kind),
-- when a job starts, every few seconds while it runs, and on NOTIFY
-- bulkhead_limits, so a change takes effect without a restart.  The admin
-- API reads and writes it as JSON (GET/PUT /admin/api/limits); the CHECKs
-- repeat limits_put_json's validation for hand edits.
--
-- Defaults, and why (tests/bench/isolation.py, 2 vCPUs, 50 interactive
-- clients at ~950 requests/s beside a single-input claims $import):
--  - max_jobs_total 1: one bulk job at a time.  Two at once (two imports,
--    max_jobs_total 2) gave the worst interactive p99 we saw, 4.9x idle
--    (60 ms); one gave 1.2x-3.0x idle (median ~2x) over nine runs.  On
--    two cores one job's worker thread and COPY backend already take
--    about 1.3 cores.
--  - worker_nice 10 for the workers and, where permitted, their bulk
--    backends (ioprio best-effort 7 too): DESIGN.md measured p99 17.5 ms
--    beside two COPYs and 6.5 ms with their backends at lowered
--    priority.  On our shared machine nice 0, 10 and 19 were within the
--    noise of each other (co-tenants moved idle p99 itself between 6 and
--    45 ms); 10 keeps bulk work behind interactive work without starving
--    it (the import kept 0.68-1.0 of its unloaded rate under the clients).
--    With autogroup scheduling (Linux default) nice orders a worker
--    against the API of the same 'bulkhead run', and a backend against
--    the other backends of the server.
--  - rows_per_second / bytes_per_second 0 (unlimited): priorities, not a
--    rate, protect interactive users, and a rate slows bulk work even on
--    an idle machine.  Set them when the machine is shared with more
--    than Bulkhead, or the database is remote (no backend renice).
--  - statement_timeout_ms 15 min for unthrottled bulk statements (an
--    import batch or an export page range takes seconds).
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
