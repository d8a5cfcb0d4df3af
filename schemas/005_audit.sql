-- Operator control: the audit trail of the admin API, and what pause and
-- retry need in the jobs table (src/api/admin_api.c, src/store/audit.c).
--
-- Every change an operator makes through /admin/api (job pause, resume,
-- cancel, retry; schedule put, delete, run, pause, resume; limits put)
-- leaves one audit row per changed row, written by a trigger on the
-- changed table in the same transaction as the change.  A trigger, not an
-- INSERT in the handler, because schedule_* and limits_put_json run their
-- own transactions (schedule.h, limits.h): the trigger is the one place
-- that is inside them whatever the code path.
--
-- The API arms the triggers per connection (audit_begin in audit.c) with
-- session settings, and disarms them after the call:
--   bulkhead.audit_table   the one table whose changes are recorded
--   bulkhead.audit_action  "job.pause", "schedule.put", "limits.put" ...
--   bulkhead.audit_target  job id, schedule name or "limits"
--   bulkhead.audit_actor   "token:" + 16 hex digits of the bearer token's
--                          SHA-256 (never the token itself)
--   bulkhead.audit_client  the client's address
--   bulkhead.audit_request the request id (X-Request-Id, access log)
-- Unarmed sessions (workers, the scheduler, FHIR clients) cost one
-- current_setting() in the trigger's WHEN clause and write nothing.
CREATE TABLE audit (
	id		bigserial	PRIMARY KEY,
	at		timestamptz	NOT NULL DEFAULT clock_timestamp(),
	actor		text		NOT NULL,
	client_addr	text,
	request_id	text,
	action		text		NOT NULL,
	target		text		NOT NULL,
	before		jsonb,		-- NULL: the row was created
	after		jsonb		-- NULL: the row was deleted
);

CREATE INDEX audit_at ON audit (at DESC);
CREATE INDEX audit_target ON audit (target, at DESC);

-- Pause of a running job: the API sets pause_requested, the worker sees
-- it at its next heartbeat, stops at a batch boundary and parks the job
-- as 'paused', checkpoint kept.  006_limits.sql adds the column too;
-- whichever runs first wins.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS pause_requested boolean
	NOT NULL DEFAULT false;
-- A job made by POST /admin/api/jobs/{id}/retry names the failed or
-- cancelled job it repeats (no foreign key: jobs get purged).
ALTER TABLE jobs ADD COLUMN retry_of text;

-- TG_ARGV: columns left out of before/after (bulky, or noise).
CREATE FUNCTION audit_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	b	jsonb;
	a	jsonb;
BEGIN
	IF TG_OP <> 'INSERT' THEN
		b := to_jsonb(OLD) - coalesce(TG_ARGV, '{}');
	END IF;
	IF TG_OP <> 'DELETE' THEN
		a := to_jsonb(NEW) - coalesce(TG_ARGV, '{}');
	END IF;
	-- A write that changed nothing but its timestamp is no change.
	IF b IS NOT NULL AND a IS NOT NULL AND
	    (b - 'updated') = (a - 'updated') THEN
		RETURN NULL;
	END IF;
	INSERT INTO audit (actor, client_addr, request_id, action, target,
	    before, after)
	VALUES (coalesce(nullif(current_setting('bulkhead.audit_actor', true),
	    ''), 'unknown'),
	    nullif(current_setting('bulkhead.audit_client', true), ''),
	    nullif(current_setting('bulkhead.audit_request', true), ''),
	    coalesce(nullif(current_setting('bulkhead.audit_action', true),
	    ''), lower(TG_OP)),
	    coalesce(nullif(current_setting('bulkhead.audit_target', true), ''),
	    a->>'id', b->>'id', a->>'name', b->>'name', TG_TABLE_NAME),
	    b, a);
	RETURN NULL;
END
$$;

CREATE TRIGGER jobs_audit AFTER INSERT OR UPDATE OR DELETE ON jobs
	FOR EACH ROW
	WHEN (current_setting('bulkhead.audit_table', true) = 'jobs')
	EXECUTE FUNCTION audit_capture('checkpoint', 'progress', 'result',
	    'heartbeat_at', 'lease_expires');

CREATE TRIGGER schedules_audit AFTER INSERT OR UPDATE OR DELETE ON schedules
	FOR EACH ROW
	WHEN (current_setting('bulkhead.audit_table', true) = 'schedules')
	EXECUTE FUNCTION audit_capture();

-- The limits table comes with 006_limits.sql, after this file, which
-- attaches audit_capture() to it the same way (limits_audit).
