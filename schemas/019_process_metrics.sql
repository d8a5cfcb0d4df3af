-- 019_process_metrics.sql — what /metrics shows of processes other than
-- the API's own (issue 16): throttle waits, lease rescues, worker
-- processes busy and idle, the scheduler leader.  src/store/procstats.c
-- owns both tables; jobq.c adds to lease_rescues in the statements that
-- rescue (same transaction, so a rescue is counted exactly once).
--
-- Workers and the scheduler are processes of their own, and any number
-- of API processes on any number of nodes serve /metrics: the numbers
-- meet here, written at most once a second per process, read by each API
-- process at most once a second (api/queue_metrics.c).

-- Counters summed over every process that ever ran: a process adds what
-- it counted since its last write.  Logged: a counter that went back to
-- zero after a crash would read as a reset.
CREATE TABLE IF NOT EXISTS metric_counters (
	name	text NOT NULL,		-- 'throttle_waits', 'lease_rescues' ...
	label	text NOT NULL DEFAULT '',	-- e.g. the wait's cause
	value	double precision NOT NULL DEFAULT 0,
	PRIMARY KEY (name, label)
);
INSERT INTO metric_counters (name, label) VALUES
	('throttle_waits', 'limit'), ('throttle_waits', 'interactive'),
	('throttle_wait_seconds', 'limit'),
	('throttle_wait_seconds', 'interactive'),
	('lease_rescues', '')
	ON CONFLICT DO NOTHING;

-- Live worker and scheduler processes.  A worker refreshes its row while
-- idle (a busy one is known by its live lease), a scheduler every tick;
-- a clean exit deletes the row, a killed process's row goes stale (read
-- as gone after PROCSTATS_FRESH_S) and is deleted after a minute.
-- backend_pid is the session that wrote the row: for a scheduler, the
-- one that holds the leader lock (pg_locks tells whether it still does).
CREATE UNLOGGED TABLE IF NOT EXISTS processes (
	id		text PRIMARY KEY,	-- worker: its lease owner name
	node		text NOT NULL,		-- host name
	role		text NOT NULL CHECK (role IN ('worker', 'scheduler')),
	leader		boolean NOT NULL DEFAULT false,
	backend_pid	integer NOT NULL DEFAULT pg_backend_pid(),
	seen		timestamptz NOT NULL DEFAULT now()
);
