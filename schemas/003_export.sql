-- Bulk export support.
--
-- job_patients: the cohort of a Group- or patient-list export, resolved
-- once per job (EXP-G-02) so that a rescued attempt exports the same
-- patients.  Rows go with their job.
CREATE TABLE job_patients (
	job_id		text	NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	patient_id	text	NOT NULL,
	PRIMARY KEY (job_id, patient_id)
);

-- Deleted-resource Bundles (EXP-DEL-*) are a third kind of output.
ALTER TABLE job_outputs DROP CONSTRAINT job_outputs_channel_check;
ALTER TABLE job_outputs ADD CONSTRAINT job_outputs_channel_check
	CHECK (channel IN ('output', 'error', 'deleted'));

-- When a job's files were removed (retention, or a client's DELETE of a
-- completed export): the status URL then says so instead of listing them.
ALTER TABLE jobs ADD COLUMN files_removed timestamptz;

-- The per-client concurrency check at kick-off (EXP-KR-04).
CREATE INDEX jobs_client_active ON jobs (client, kind)
	WHERE state IN ('queued', 'running', 'paused', 'cancelling');
