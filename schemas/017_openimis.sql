-- openIMIS connection (issue 17; src/store/openimis_store.c is the only
-- code on these tables).
--
-- openimis_pull: per resource type, the high-water mark of the last
-- successful pull (openIMIS's own clock, from the Date header of the
-- pull's first answer: _lastUpdated filters openIMIS's validity_from, so
-- the mark must be read on that clock) and when the last full,
-- reconciling pull finished.
CREATE TABLE openimis_pull (
	type		text		PRIMARY KEY,
	high_water	timestamptz,
	last_full	timestamptz,
	last_total	bigint
);

-- The ids a pull has stored, with the start of the last pull that saw
-- them: a full pull marks deleted in the store exactly the rows it did
-- not see among those that came from openIMIS, never rows that were
-- imported or loaded some other way.
CREATE TABLE openimis_pulled (
	type		text		NOT NULL,
	id		text		NOT NULL,
	seen		timestamptz	NOT NULL,
	PRIMARY KEY (type, id)
);

-- One row per claim a push job handled, written BEFORE it moves on:
-- 'sending' just before the POST, then 'accepted' (with the
-- ClaimResponse) or 'refused' (with openIMIS's message).  A resumed job
-- skips finished rows and, for a 'sending' one, first asks openIMIS
-- whether a claim with that code exists, so an accepted claim is never
-- POSTed twice.
CREATE TABLE openimis_push (
	job		text		NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	code		text		NOT NULL,	-- the claim code
	seq		bigint		NOT NULL,	-- order in the job
	claim_id	text		NOT NULL,
	source		text,		-- "input N line L" or NULL
	state		text		NOT NULL
	    CHECK (state IN ('sending', 'accepted', 'refused')),
	http_status	integer,
	response	text,		-- ClaimResponse or OperationOutcome
	updated		timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (job, code)
);
CREATE INDEX openimis_push_seq ON openimis_push (job, seq);

-- The built-in pull schedule: every 15 minutes an incremental pull (a
-- full one when the type's last is older than openimis_full_every).  It
-- is created disabled; the scheduler leader turns it on at start once
-- openimis_url is set, unless someone has changed it since
-- (jobs/schedule_cfg.c).
INSERT INTO schedules (name, cron, timezone, enabled, misfire, job_kind,
    job_params, next_fire, source)
VALUES ('openimis-pull', '*/15 * * * *', 'UTC', false, 'skip',
    'openimis-pull', '{}', NULL, 'builtin')
ON CONFLICT (name) DO NOTHING;
