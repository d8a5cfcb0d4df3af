"""Cron schedules fired by 'bulkhead scheduler' (src/jobs/schedule.c).

The scheduler runs on the test clock: BULKHEAD_CLOCK=<RFC 3339 instant>
makes its "now" that instant plus the real time since it started, so a
clock set to hh:mm:58 reaches the fire at hh:mm+1:00 within seconds.
Schedules are written with SQL (the admin API is a separate piece), with
next_fire set by hand; what the scheduler computes afterwards is checked
against the cron rules.  No worker runs, so submitted jobs stay queued
and can be counted.  Waits are generous; no test asserts a duration.
"""
import json
import time

from jobhelp import assert_clean_log, log_text, wait_for, wait_log

TS = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def schedules_ready(db):
    try:
        return db.scalar("SELECT to_regclass('public.schedules') IS NOT NULL")
    except Exception:
        return False


def start_scheduler(start_server, db, clock, leader=True):
    s = start_server(db, role="scheduler", wait=False,
                     extra_env={"BULKHEAD_CLOCK": clock})
    wait_log(s, "BULKHEAD_CLOCK is set")
    if leader:
        wait_log(s, "leader now")
    wait_for(lambda: schedules_ready(db), 30, what="migrations")
    return s


def put(db, name, cron, next_fire, tz="UTC", enabled=True,
        misfire="run-once", kind="noop", params=None):
    db.query("INSERT INTO schedules (name, cron, timezone, enabled, misfire, "
             "job_kind, job_params, next_fire) VALUES (%s, %s, %s, %s, %s, "
             "%s, %s::jsonb, %s::timestamptz)",
             (name, cron, tz, enabled, misfire, kind,
              json.dumps(params if params is not None else {}), next_fire))


def row(db, name):
    r = db.query("SELECT enabled, " + TS % "last_fire" + ", " +
                 TS % "next_fire" + ", last_job, last_error "
                 "FROM schedules WHERE name = %s", (name,))
    if not r:
        return None
    return dict(zip(("enabled", "last_fire", "next_fire", "last_job",
                     "last_error"), r[0]))


def jobs_of(db, name):
    """Jobs a schedule submitted, oldest first: [(id, kind, params)]."""
    return db.query("SELECT id, kind, params FROM jobs WHERE client = %s "
                    "ORDER BY created, id", ("schedule:" + name,))


def wait_jobs(db, name, n, timeout=30):
    return wait_for(lambda: len(jobs_of(db, name)) >= n and jobs_of(db, name),
                    timeout, 0.1, "%d job(s) of schedule %s" % (n, name))


def stop_clean(s):
    assert s.stop() == 0, log_text(s)
    assert_clean_log(s)


def test_fires_at_the_fire_time(db, start_server):
    s = start_scheduler(start_server, db, "2026-03-29T00:59:58Z")
    params = {"steps": 2, "step_ms": 10}
    put(db, "every-minute", "* * * * *", "2026-03-29T01:00:00Z",
        params=params)
    # 02:30 Berlin does not exist on 2026-03-29: it fires when the gap
    # ends, 03:00 CEST = 01:00Z, and next at 02:30 CEST on the 30th.
    put(db, "berlin", "30 2 * * *", "2026-03-29T01:00:00Z",
        tz="Europe/Berlin")
    put(db, "later", "0 12 * * *", "2026-03-29T12:00:00Z")
    jobs = wait_jobs(db, "every-minute", 1)
    wait_jobs(db, "berlin", 1)
    r = row(db, "every-minute")
    assert r["last_fire"] == "2026-03-29T01:00:00Z"
    assert r["next_fire"] in ("2026-03-29T01:01:00Z", "2026-03-29T01:02:00Z")
    assert r["last_job"] in [j[0] for j in jobs_of(db, "every-minute")]
    assert r["last_error"] is None
    # Params pass through unchanged.
    assert jobs[0][1] == "noop" and jobs[0][2] == params
    b = row(db, "berlin")
    assert b["last_fire"] == "2026-03-29T01:00:00Z"
    assert b["next_fire"] == "2026-03-30T00:30:00Z"
    assert len(jobs_of(db, "berlin")) == 1
    assert jobs_of(db, "later") == []
    assert row(db, "later")["next_fire"] == "2026-03-29T12:00:00Z"
    assert "schedule every-minute: job %s submitted for " \
        "2026-03-29T01:00:00Z" % jobs[0][0] in log_text(s), log_text(s)
    stop_clean(s)


def test_misfire_after_downtime(db, start_server):
    # Clock at 10:00:05; schedules due since 09:57 have missed four fires.
    s = start_scheduler(start_server, db, "2026-05-01T10:00:05Z")
    put(db, "catch-up", "* * * * *", "2026-05-01T09:57:00Z",
        misfire="run-once")
    put(db, "skipper", "* * * * *", "2026-05-01T09:57:00Z", misfire="skip")
    # Only one fire due: "skip" concerns missed fires, this one runs.
    put(db, "hourly-skip", "0 * * * *", "2026-05-01T10:00:00Z",
        misfire="skip")
    wait_jobs(db, "catch-up", 1)
    wait_jobs(db, "hourly-skip", 1)
    wait_for(lambda: row(db, "skipper")["next_fire"] !=
             "2026-05-01T09:57:00Z", 30, what="skipper moved on")
    c = row(db, "catch-up")
    sk = row(db, "skipper")
    h = row(db, "hourly-skip")
    assert c["next_fire"] == "2026-05-01T10:01:00Z", c
    assert len(jobs_of(db, "catch-up")) == 1
    assert c["last_job"] == jobs_of(db, "catch-up")[0][0]
    assert sk["next_fire"] == "2026-05-01T10:01:00Z", sk
    assert jobs_of(db, "skipper") == []
    assert sk["last_job"] is None and sk["last_fire"] is None
    assert h["next_fire"] == "2026-05-01T11:00:00Z"
    assert h["last_fire"] == "2026-05-01T10:00:00Z"
    assert len(jobs_of(db, "hourly-skip")) == 1
    log = log_text(s)
    assert "schedule skipper: fires missed since 2026-05-01T09:57:00Z " \
        "skipped" in log, log
    stop_clean(s)


def test_two_schedulers_fire_once(db, start_server):
    clock = "2026-05-01T10:00:58Z"
    s1 = start_scheduler(start_server, db, clock)
    s2 = start_scheduler(start_server, db, clock, leader=False)
    wait_log(s2, "standing by")
    names = ["race-%02d" % i for i in range(20)]
    for n in names:
        put(db, n, "* * * * *", "2026-05-01T10:01:00Z")
    for n in names:
        wait_jobs(db, n, 1)
    # Both schedulers tick several more times; still one job per fire.
    wait_for(lambda: log_text(s1).count("submitted for") >= 20, 30)
    time.sleep(3)
    for n in names:
        jobs = jobs_of(db, n)
        r = row(db, n)
        assert len(jobs) == 1 or (len(jobs) == 2 and r["next_fire"] ==
                                  "2026-05-01T10:03:00Z"), (n, jobs, r)
        assert r["last_fire"] in ("2026-05-01T10:01:00Z",
                                  "2026-05-01T10:02:00Z")
    assert "submitted for" not in log_text(s2)
    # The leader goes; the other takes over and fires the next round.
    first = {n: len(jobs_of(db, n)) for n in names}
    stop_clean(s1)
    wait_log(s2, "leader now", 30)
    db.query("UPDATE schedules SET next_fire = '2026-05-01T10:01:00Z'")
    for n in names:
        wait_jobs(db, n, first[n] + 1)
    wait_for(lambda: log_text(s2).count("submitted for") >= 20, 30)
    for n in names:
        jobs = jobs_of(db, n)
        assert len(jobs) in (first[n] + 1, first[n] + 2), (n, jobs)
        assert len(set(j[0] for j in jobs)) == len(jobs)
    stop_clean(s2)


def test_disabled_schedule_never_fires(db, start_server):
    s = start_scheduler(start_server, db, "2026-05-01T10:00:58Z")
    put(db, "paused", "* * * * *", "2026-05-01T09:00:00Z", enabled=False)
    put(db, "control", "* * * * *", "2026-05-01T10:01:00Z")
    wait_jobs(db, "control", 1)
    # Each of the control's fires ran the due query the paused row would
    # match if it were eligible; make it fire once more.
    db.query("UPDATE schedules SET next_fire = '2026-05-01T10:01:00Z' "
             "WHERE name = 'control'")
    wait_jobs(db, "control", 2)
    assert jobs_of(db, "paused") == []
    p = row(db, "paused")
    assert p["next_fire"] == "2026-05-01T09:00:00Z" and p["last_job"] is None
    stop_clean(s)


def test_bad_clock_refuses_to_start(db, start_server):
    s = start_server(db, role="scheduler", wait=False,
                     extra_env={"BULKHEAD_CLOCK": "tomorrow"})
    wait_for(lambda: s.proc.poll() is not None, 60, what="exit")
    assert s.proc.returncode != 0
    assert "BULKHEAD_CLOCK" in log_text(s)


def test_schedule_with_unknown_kind_records_error(db, start_server):
    s = start_scheduler(start_server, db, "2026-05-01T10:00:58Z")
    put(db, "broken", "* * * * *", "2026-05-01T10:01:00Z", kind="no-such")
    put(db, "bad-zone", "* * * * *", "2026-05-01T10:01:00Z",
        tz="Mars/Olympus")
    put(db, "fine", "* * * * *", "2026-05-01T10:01:00Z")
    wait_jobs(db, "fine", 1)
    b = wait_for(lambda: (row(db, "broken")["last_error"] and
                          row(db, "broken")), 30)
    assert "unknown job kind" in b["last_error"]
    assert b["next_fire"] in ("2026-05-01T10:02:00Z", "2026-05-01T10:03:00Z")
    assert jobs_of(db, "broken") == []
    z = wait_for(lambda: (row(db, "bad-zone")["last_error"] and
                          row(db, "bad-zone")), 30)
    assert "unknown time zone" in z["last_error"] and z["next_fire"] is None
    stop_clean(s)
