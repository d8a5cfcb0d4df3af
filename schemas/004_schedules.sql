-- Cron schedules: each row turns into a job at its fire times.
--
-- The scheduler leader (src/jobs/scheduler.c) fires due rows with
-- schedule_fire_due (src/jobs/schedule.c): in one transaction it locks
-- the due rows (FOR UPDATE SKIP LOCKED), inserts their jobs and moves
-- next_fire on, so a crash can neither lose nor double a fire.  next_fire
-- is computed in C (src/jobs/cron.c, DST rules there) from cron and
-- timezone; NULL while paused or when no fire time can be computed.
-- Jobs a schedule submits carry client = 'schedule:' || name.
CREATE TABLE schedules (
	name		text		PRIMARY KEY
			CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	cron		text		NOT NULL
			CHECK (length(cron) BETWEEN 1 AND 255),
	timezone	text		NOT NULL DEFAULT 'UTC'
			CHECK (length(timezone) BETWEEN 1 AND 63),
	enabled		boolean		NOT NULL DEFAULT true,
	-- more than one fire missed (scheduler down): one job, or none
	misfire		text		NOT NULL DEFAULT 'run-once'
			CHECK (misfire IN ('run-once', 'skip')),
	job_kind	text		NOT NULL,
	job_params	jsonb		NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(job_params) = 'object'),
	last_fire	timestamptz,	-- the fire the last job stands for
	next_fire	timestamptz,	-- NULL: paused or cannot fire
	last_job	text,		-- jobs.id (no FK: jobs get purged)
	last_error	text,		-- why the last fire submitted nothing
	created		timestamptz	NOT NULL DEFAULT now(),
	updated		timestamptz	NOT NULL DEFAULT now(),
	source		text		NOT NULL DEFAULT 'api'
			CHECK (source IN ('api', 'config'))
);

-- The leader's per-tick probe: anything due?
CREATE INDEX schedules_due ON schedules (next_fire) WHERE enabled;
