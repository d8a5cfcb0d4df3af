-- The built-in house-keeping schedule: every 10 minutes a worker removes
-- output files past their retention and prunes job history past
-- history_days (jobs/job_housekeeping.c).  Operators may pause it or
-- change its cron like any schedule; 'builtin' marks where it came from.
ALTER TABLE schedules DROP CONSTRAINT schedules_source_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_source_check
	CHECK (source IN ('api', 'config', 'builtin'));

INSERT INTO schedules (name, cron, timezone, enabled, misfire, job_kind,
    job_params, next_fire, source)
VALUES ('housekeeping', '*/10 * * * *', 'UTC', true, 'run-once',
    'housekeeping', '{}', date_trunc('minute', now()) + interval '1 minute',
    'builtin')
ON CONFLICT (name) DO NOTHING;
