-- 018_interactive.sql — the interactive-latency controller's blackboard
-- (src/store/interactive.c owns it).
--
-- Each API process writes its recent interactive p99 and in-flight count
-- here at most once a second; each running bulk job reads the freshest
-- API rows once a second, scales its rate (lib/aimd.h) and writes back
-- its factor so /metrics can show it.  A few bytes a second per process:
-- UNLOGGED (no WAL; after a crash the table is empty, which only means
-- "no signal" for a second), and rows that stop being refreshed are
-- ignored after a few seconds and deleted after a minute.
CREATE UNLOGGED TABLE IF NOT EXISTS interactive_stats (
	proc		text PRIMARY KEY,	-- 'api host:pid' or 'job <id>'
	role		text NOT NULL CHECK (role IN ('api', 'job')),
	p99_ms		real NOT NULL DEFAULT 0,	-- api: its window's p99
	in_flight	integer NOT NULL DEFAULT 0,	-- api: being served
	requests	integer NOT NULL DEFAULT 0,	-- api: in the window
	factor		real,			-- job: its rate factor
	rate		real,			-- job: rows/s, last second
	updated_at	timestamptz NOT NULL DEFAULT now()
);
