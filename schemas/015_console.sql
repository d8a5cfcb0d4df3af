-- The operator's console (issue 16): delayed one-off jobs, and the fire
-- a scheduled job stands for (src/store/jobq.c stays the only code on
-- the jobs table).
--
-- not_before: a job is not claimed before this instant (jobq_claim).
-- Until then the admin API and CLI show a queued job as "scheduled";
-- it is otherwise an ordinary queued job (cancel, pause as usual).  It
-- is a column of the row, so it survives every restart.  run_after
-- stays the retry backoff: a claim needs both to have passed.
ALTER TABLE jobs ADD COLUMN not_before timestamptz;

-- fire_at: for a job a schedule's fire submitted (client
-- 'schedule:<name>'), the fire instant it stands for (schedules.
-- next_fire when it fired); NULL for run-now and every other job.  The
-- calendar (GET /admin/api/calendar) matches past fires to jobs by it.
ALTER TABLE jobs ADD COLUMN fire_at timestamptz;

-- Delayed jobs in the calendar, and the claim's skip of them.
CREATE INDEX jobs_not_before ON jobs (not_before)
	WHERE not_before IS NOT NULL;
-- A schedule's past fires.
CREATE INDEX jobs_fire_at ON jobs (client, fire_at)
	WHERE fire_at IS NOT NULL;
-- The console's live polling: jobs changed since a time.
CREATE INDEX jobs_updated ON jobs (updated);
