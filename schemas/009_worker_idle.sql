-- worker_idle: workers and, where permitted, their bulk database
-- backends run in the SCHED_IDLE scheduling class (src/jobs/throttle.c).
--
-- Why nice was not enough: with autogroup scheduling (the Linux
-- default) every session is a scheduling group, and the groups share the
-- CPUs equally whatever the nice values inside them.  The PostgreSQL
-- server is one group, so its bulk COPY backends at nice 10 or 19 still
-- got their group's full share against the API and its clients; nice
-- only ordered them against the server's other backends.  A SCHED_IDLE
-- task is preempted at once by any other task that wakes on its CPU, and
-- a CPU running only such tasks counts as idle when a waking task looks
-- for one, across groups.  Bulk work then fills the CPU time interactive
-- work leaves, and interactive requests stop queueing behind it.
--
-- 1 (the default): SCHED_IDLE; 0: the normal class at worker_nice.
-- worker_nice still applies to the I/O priority (best-effort level 7)
-- and to the normal class when worker_idle is 0.
ALTER TABLE limits ADD COLUMN worker_idle integer NOT NULL DEFAULT 1
	CHECK (worker_idle IN (0, 1));
