-- OpenHIM hand-off (issue 15; src/store/deliveries.c is the only code on
-- these tables).
--
-- openhim_targets: the delivery targets OpenHIM pushed as mediator config
-- (the scheduler leader replaces them all in one transaction when a
-- heartbeat returns a valid config; a bad one changes nothing).  The
-- router password is kept as given: OpenHIM itself hands it out in clear
-- in its heartbeat answers.
CREATE TABLE openhim_targets (
	name		text		PRIMARY KEY
			CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
	url		text		NOT NULL,
	username	text,
	password	text,
	channel		text,
	max_inline	bigint		NOT NULL DEFAULT 0
			CHECK (max_inline BETWEEN 0 AND 15728640),
	updated		timestamptz	NOT NULL DEFAULT now()
);

-- One row per (job, "deliver" entry): a notification to post once the
-- job completes.  Workers create them (idempotently) for completed jobs
-- and claim due ones with SKIP LOCKED; a claim counts the attempt and
-- moves next_at past the backoff before the POST, so a worker killed
-- mid-delivery leaves a row another worker retries after the backoff:
-- the receiver may see the same notification once more, never more.
CREATE TABLE openhim_deliveries (
	job_id		text		NOT NULL
			REFERENCES jobs (id) ON DELETE CASCADE,
	n		integer		NOT NULL,	-- 1, 2, ... per job
	target		text		NOT NULL,
	state		text		NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'delivered', 'failed',
			    'giving-up')),
	attempts	integer		NOT NULL DEFAULT 0,
	max_attempts	integer		NOT NULL DEFAULT 10,
	next_at		timestamptz	NOT NULL DEFAULT now(),
	last_status	integer,	-- HTTP status; NULL: no answer
	last_response	text,		-- first 1 KiB, or the error
	created		timestamptz	NOT NULL DEFAULT now(),
	updated		timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, n)
);
CREATE INDEX openhim_deliveries_due ON openhim_deliveries (next_at)
	WHERE state = 'pending';

-- Operator retries are audited like the other job actions (005_audit).
CREATE TRIGGER openhim_deliveries_audit
	AFTER INSERT OR UPDATE OR DELETE ON openhim_deliveries
	FOR EACH ROW
	WHEN (current_setting('bulkhead.audit_table', true) =
	    'openhim_deliveries')
	EXECUTE FUNCTION audit_capture('last_response');

-- Polling ticks seen, by OpenHIM transaction: a replayed transaction
-- (OpenHIM's rerun or auto-retry sends the same X-OpenHIM-TransactionID)
-- finds its row and the job it started instead of starting another.
CREATE TABLE openhim_polls (
	transaction_id	text		PRIMARY KEY
			CHECK (length(transaction_id) BETWEEN 1 AND 128),
	schedule	text		NOT NULL,
	job_id		text,		-- NULL until the run was submitted
	created		timestamptz	NOT NULL DEFAULT now()
);
