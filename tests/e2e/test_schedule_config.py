"""Schedules declared in the config file (issue 5, scheduler: "schedules
are rows in the database (and may also be declared in the config
file)").

  schedule.NAME.cron / .kind / .params / .timezone / .enabled / .misfire

'bulkhead config check' validates them as the admin API's PUT would and
names the line of the first bad field; the scheduler upserts them when it
takes the lead (source "config", audited with actor "config"), so each
start re-applies the file over admin changes; an unchanged declaration
changes nothing.  Schedules are created paused or far from their fire
time and the scheduler runs on the test clock, so no test depends on the
wall clock.
"""
import json

import pytest

from conftest import run_cli
from jobhelp import assert_clean_log, log_text, wait_for, wait_log

GOOD = """\
# nightly incremental export, and a renewal list every Monday
workers = 2
schedule.nightly.cron = 0 2 * * *
schedule.nightly.timezone = Africa/Dar_es_Salaam
schedule.nightly.kind = export
schedule.nightly.params = {"level":"system","_since":"last-success"}
schedule.nightly.misfire = skip

schedule.renewals.cron = 0 6 * * mon
schedule.renewals.kind = renewal-export
schedule.renewals.params = {"days": 30}
schedule.renewals.enabled = false
"""


def config_check(binary, path, *extra):
    r = run_cli(binary, ["config", "check"] + list(extra),
                env={"BULKHEAD_CONFIG": str(path),
                     "BULKHEAD_DATABASE_URL": "dbname=unused"})
    assert b"Sanitizer" not in r.stderr and b"runtime error" not in r.stderr
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_config_check_accepts_good_declarations(bulkhead_bin, tmp_path):
    f = tmp_path / "bulkhead.conf"
    f.write_text(GOOD)
    rc, out, err = config_check(bulkhead_bin, f, "--show")
    assert rc == 0, err
    assert "configuration OK" in out
    assert "schedule.nightly.cron = 0 2 * * *" in out
    assert 'schedule.nightly.params = {"level":"system",' \
        '"_since":"last-success"}' in out
    assert "schedule.renewals.enabled = false" in out


# (the line that goes wrong, what the message must name)
BAD = [
    ("schedule.x.cron = 61 * * * *", "schedule.x.cron: minute"),
    ("schedule.x.cron = 0 0 31 2 *", "schedule.x.cron"),
    ("schedule.x.cron = @sometimes", "schedule.x.cron"),
    ("schedule.x.timezone = Mars/Olympus_Mons", "schedule.x.timezone"),
    ("schedule.x.timezone = ../../etc/passwd", "schedule.x.timezone"),
    ("schedule.x.kind = nope", "schedule.x.kind: unknown job kind"),
    ('schedule.x.params = {"bogus": 1}', "schedule.x.params: noop"),
    ("schedule.x.params = {not json", "schedule.x.params"),
    ("schedule.x.params = [1]", "schedule.x.params"),
    ("schedule.x.misfire = sometimes", "schedule.x.misfire"),
    ("schedule.x.enabled = maybe", "schedule.x.enabled"),
    ("schedule.x.colour = red", "schedule.x.colour: unknown field"),
    ("schedule.-x.cron = * * * * *", "schedule name \"-x\""),
    ("schedule.x.cron = 5 * * * *", "already set at"),
    ("schedule.cron = * * * * *", "expected schedule.NAME.FIELD"),
]


@pytest.mark.parametrize("line,word", BAD)
def test_config_check_names_the_bad_line(bulkhead_bin, tmp_path, line, word):
    # Line 3 is the bad one; the declaration around it is otherwise good.
    base = ["# x", "schedule.x.cron = * * * * *", line,
            "schedule.x.kind = noop"]
    if line.startswith("schedule.x.cron") and "already" not in word:
        base[1] = "schedule.x.timezone = UTC"
    if line.startswith("schedule.x.kind"):
        base[3] = "schedule.x.params = {}"
    f = tmp_path / "bad.conf"
    f.write_text("\n".join(base) + "\n")
    rc, out, err = config_check(bulkhead_bin, f)
    assert rc == 1, (line, out, err)
    assert "file %s:3: " % f in err, (line, err)
    assert word in err, (line, err)
    assert len(err.strip().splitlines()) == 1, err


def test_config_check_required_fields_name_the_declaration(bulkhead_bin,
                                                          tmp_path):
    f = tmp_path / "bad.conf"
    f.write_text("workers = 2\nschedule.y.timezone = UTC\n"
                 "schedule.y.cron = * * * * *\n")
    rc, _, err = config_check(bulkhead_bin, f)
    assert rc == 1 and "file %s:2: " % f in err and "schedule.y.kind is " \
        "required" in err, err
    f.write_text("schedule.z.kind = noop\n")
    rc, _, err = config_check(bulkhead_bin, f)
    assert rc == 1 and "file %s:1: " % f in err and "schedule.z.cron is " \
        "required" in err, err


def sched_rows(db):
    return {r[0]: dict(zip(("cron", "timezone", "enabled", "misfire",
                            "kind", "params", "source", "next_fire"), r[1:]))
            for r in db.query("SELECT name, cron, timezone, enabled, "
                              "misfire, job_kind, job_params, source, "
                              "next_fire FROM schedules ORDER BY name")}


def config_audit(db):
    return db.query("SELECT actor, action, target, before, after FROM audit "
                    "WHERE actor = 'config' ORDER BY id")


def start_scheduler(start_server, db, conf):
    s = start_server(db, role="scheduler", wait=False, extra_env={
        "BULKHEAD_CONFIG": str(conf),
        "BULKHEAD_CLOCK": "2026-06-01T10:00:00Z"})
    wait_log(s, "from the config file applied")
    return s


def stop_clean(s):
    assert s.stop() == 0, log_text(s)
    assert_clean_log(s)


def test_scheduler_applies_declarations_at_start(db, start_server, tmp_path):
    conf = tmp_path / "bulkhead.conf"
    conf.write_text(GOOD)
    s = start_scheduler(start_server, db, conf)
    assert "2 schedules from the config file applied" in log_text(s)
    rows = sched_rows(db)
    n = rows["nightly"]
    assert (n["cron"], n["timezone"], n["enabled"], n["misfire"],
            n["kind"], n["source"]) == ("0 2 * * *", "Africa/Dar_es_Salaam",
                                        True, "skip", "export", "config")
    assert n["params"] == {"level": "system", "_since": "last-success"}
    assert n["next_fire"] is not None
    r = rows["renewals"]
    assert r["enabled"] is False and r["next_fire"] is None
    assert r["params"] == {"days": 30} and r["source"] == "config"
    a = config_audit(db)
    assert [(x[1], x[2]) for x in a] == [("schedule.config", "nightly"),
                                         ("schedule.config", "renewals")]
    assert a[0][3] is None and a[0][4]["cron"] == "0 2 * * *"
    stop_clean(s)

    # An operator's change (as the admin API would make it) holds until
    # the next start, which applies the file again, audited.
    db.query("UPDATE schedules SET cron = '0 3 * * *', enabled = false, "
             "source = 'api' WHERE name = 'nightly'")
    s = start_scheduler(start_server, db, conf)
    n = sched_rows(db)["nightly"]
    assert (n["cron"], n["enabled"], n["source"]) == ("0 2 * * *", True,
                                                      "config")
    a = config_audit(db)
    assert len(a) == 3 and a[2][2] == "nightly"
    assert a[2][3]["cron"] == "0 3 * * *" and a[2][4]["cron"] == "0 2 * * *"
    stop_clean(s)

    # Unchanged file, unchanged rows: nothing changes, nothing audited;
    # a schedule taken out of the file stays, with a warning.
    conf.write_text(GOOD.split("schedule.renewals")[0])
    before = sched_rows(db)
    s = start_scheduler(start_server, db, conf)
    wait_log(s, "schedule renewals came from a config file but is not "
             "declared in this one")
    assert sched_rows(db) == before
    assert len(config_audit(db)) == 3
    stop_clean(s)


def test_run_hands_declarations_to_its_scheduler(db, start_server, tmp_path):
    conf = tmp_path / "bulkhead.conf"
    conf.write_text("schedule.every-monday.cron = 0 1 * * 1\n"
                    "schedule.every-monday.kind = noop\n"
                    "schedule.every-monday.params = {\"steps\": 1}\n")
    s = start_server(db, extra_env={"BULKHEAD_CONFIG": str(conf)})
    wait_log(s, "schedule every-monday: created from file %s:1" % conf)
    row = wait_for(lambda: sched_rows(db).get("every-monday"), 30,
                   what="the declared schedule")
    assert row["source"] == "config" and row["params"] == {"steps": 1}


def test_scheduler_refuses_a_bad_declaration(bulkhead_bin, db, tmp_path):
    conf = tmp_path / "bulkhead.conf"
    conf.write_text("schedule.bad.cron = 0 0 30 2 *\n"
                    "schedule.bad.kind = noop\n")
    r = run_cli(bulkhead_bin, ["scheduler"], db=db,
                env={"BULKHEAD_CONFIG": str(conf)}, timeout=30)
    assert r.returncode == 1
    assert "file %s:1: schedule.bad.cron" % conf in r.stderr.decode()
    assert db.query("SELECT to_regclass('public.schedules')")[0][0] is None
