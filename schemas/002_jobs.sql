-- The job queue: every export, import and scheduled run is a row here.
--
-- Workers claim with one UPDATE ... FROM (SELECT ... FOR UPDATE SKIP
-- LOCKED) (src/store/jobq.c), so two workers never take the same row.  A
-- running job holds a lease (lease_owner, lease_expires) that its worker
-- renews every job_heartbeat seconds; a job whose lease expired is taken
-- over by the next claim and resumes from its checkpoint.  lease_owner and
-- attempts together are the fencing token: every write a worker makes
-- about a job checks both, so a worker that lost its lease cannot touch
-- the job any more.
--
-- States: queued -> running -> completed | failed | queued (retry, with
-- run_after in the future) ; running -> cancelling -> cancelled ;
-- queued/running -> paused -> queued (pause and cancel: issue 5).
CREATE TABLE jobs (
	id		text		PRIMARY KEY
			DEFAULT replace(gen_random_uuid()::text, '-', ''),
	kind		text		NOT NULL,
	params		jsonb		NOT NULL DEFAULT '{}',
	client		text,		-- requesting client; NULL: operator
	state		text		NOT NULL DEFAULT 'queued'
			CHECK (state IN ('queued', 'running', 'paused',
			    'cancelling', 'cancelled', 'failed', 'completed')),
	priority	integer		NOT NULL DEFAULT 0,	-- higher first
	progress	jsonb,		-- per kind: done, total, message
	checkpoint	jsonb,		-- per-kind resume point
	attempts	integer		NOT NULL DEFAULT 0,	-- claims so far
	max_attempts	integer		NOT NULL DEFAULT 5
			CHECK (max_attempts >= 1),
	lease_owner	text,		-- worker id while running
	lease_expires	timestamptz,
	heartbeat_at	timestamptz,
	run_after	timestamptz	NOT NULL DEFAULT now(),	-- retry backoff
	created		timestamptz	NOT NULL DEFAULT now(),
	started		timestamptz,	-- first claim
	finished	timestamptz,	-- reached a final state
	updated		timestamptz	NOT NULL DEFAULT now(),
	transaction_time timestamptz,	-- the export's consistent snapshot
	error		text,		-- why it failed (or the last retry)
	result		jsonb,		-- per kind, once completed
	CHECK (state <> 'running' OR lease_owner IS NOT NULL)
);

-- The claim: queued jobs in priority order ...
CREATE INDEX jobs_queued ON jobs (priority DESC, created)
	WHERE state = 'queued';
-- ... and running (or cancelling) jobs whose lease ran out.
CREATE INDEX jobs_leased ON jobs (lease_expires)
	WHERE state IN ('running', 'cancelling');
-- Listing: newest first, optionally by state or kind.
CREATE INDEX jobs_created ON jobs (created DESC);
CREATE INDEX jobs_kind_state ON jobs (kind, state);

-- Files a job produced.  A row is written once its file is complete, so a
-- manifest built from this table never lists a partial file.
CREATE TABLE job_outputs (
	job_id		text		NOT NULL
			REFERENCES jobs (id) ON DELETE CASCADE,
	seq		integer		NOT NULL,	-- 1, 2, ... per job
	channel		text		NOT NULL DEFAULT 'output'
			CHECK (channel IN ('output', 'error')),
	type		text		NOT NULL,	-- FHIR resource type
	file		text,		-- path relative to data_dir
	url		text,		-- or where it was delivered
	count		bigint		NOT NULL DEFAULT 0,	-- lines
	bytes		bigint		NOT NULL DEFAULT 0,
	checksum	text,		-- sha256, lowercase hex
	created		timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, seq)
);

-- Wakes idle workers (LISTEN bulkhead_jobs) when a job becomes queued.
-- The payload is the kind, so a worker may ignore kinds it does not run.
-- Workers also poll: a lost notification delays a job, never strands it.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR
	    OLD.state IS DISTINCT FROM 'queued') THEN
		PERFORM pg_notify('bulkhead_jobs', NEW.kind);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs
	FOR EACH ROW EXECUTE FUNCTION jobs_notify();
