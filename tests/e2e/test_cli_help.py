"""Every command answers --help, and an export job needs no level (issue 14).

The README promises that every command answers --help.  This walks the
commands 'bulkhead --help' lists and, for each, the subcommands its own
usage names ("bulkhead CMD SUB ..." lines): 'bulkhead CMD --help' and
'bulkhead CMD SUB --help' must exit 0 with a usage on stdout and nothing
on stderr, with no database and no admin API to talk to (help is
answered before either is needed).

'bulkhead jobs submit export' with params that omit "level" is a system
export, as a $export with no level is.
"""
import re
import subprocess

from jobhelp import cli, wait_final

TOKEN = "test-admin-token"
# Nothing listens there: help must not need it.
NOWHERE = {"BULKHEAD_API_URL": "http://127.0.0.1:9",
           "BULKHEAD_ADMIN_TOKEN": TOKEN, "BULKHEAD_DATABASE_URL": ""}


def run(binary, *args):
    import os
    env = dict(os.environ)
    env.update(NOWHERE)
    return subprocess.run([binary] + list(args), env=env,
                          capture_output=True, text=True, timeout=30)


def commands(binary):
    r = run(binary, "--help")
    assert r.returncode == 0, r.stderr
    text = r.stdout.split("commands:", 1)[1].split("\n\n", 1)[0]
    names = [m.group(1) for m in re.finditer(r"^  (\w+) ", text, re.M)]
    assert len(names) >= 14, names
    return names


def subcommands(cmd, usage):
    """SUB names from lines "bulkhead CMD SUB|SUB ...", options and
    placeholders left out."""
    subs = set()
    for m in re.finditer(r"bulkhead (?:\[--KEY VALUE \.\.\.\] )?%s "
                         r"(\[?[a-z][a-z|]*\]?)" % cmd, usage):
        for s in m.group(1).strip("[]").split("|"):
            if s and s != cmd:
                subs.add(s)
    return sorted(subs)


def assert_help(r, args):
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    assert r.stdout.startswith("usage:"), (args, r.stdout)
    assert r.stderr == "", (args, r.stderr)


def test_every_command_and_subcommand_answers_help(bulkhead_bin):
    walked = []
    for cmd in commands(bulkhead_bin):
        for flag in ("--help", "-h"):
            r = run(bulkhead_bin, cmd, flag)
            assert_help(r, [cmd, flag])
        for sub in subcommands(cmd, r.stdout):
            r = run(bulkhead_bin, cmd, sub, "--help")
            assert_help(r, [cmd, sub, "--help"])
            walked.append((cmd, sub))
    # The ones a new user met, and a fair number overall.
    for pair in (("jobs", "kinds"), ("jobs", "submit"), ("jobs", "wait"),
                 ("schedules", "set"), ("limits", "set"),
                 ("admins", "add"), ("clients", "token"),
                 ("config", "check")):
        assert pair in walked, (pair, walked)
    assert len(walked) >= 30, walked
    # Help after other arguments too.
    r = run(bulkhead_bin, "jobs", "show", "0" * 32, "--help")
    assert_help(r, "jobs show ID --help")
    r = run(bulkhead_bin, "load", "/nonexistent", "--help")
    assert_help(r, "load X --help")


def test_unknown_option_still_refused(bulkhead_bin):
    r = run(bulkhead_bin, "jobs", "kinds", "--bogus")
    assert r.returncode == 2 and "unknown option" in r.stderr


def test_export_job_without_level_is_system(bulkhead_bin, db,
                                            start_server):
    s = start_server(db)
    env = {"BULKHEAD_API_URL": s.base, "BULKHEAD_ADMIN_TOKEN": TOKEN}
    r = cli(bulkhead_bin, db, "jobs", "submit", "export",
            '{"types": ["Patient"]}', env=env)
    assert r.returncode == 0, r.stderr.decode()
    jid = r.stdout.decode().strip()
    j = wait_final(db, jid, timeout=60)
    assert j["state"] == "completed", j
    # A level that is there must still be a known one.
    r = cli(bulkhead_bin, db, "jobs", "submit", "export",
            '{"level": "planet"}', env=env)
    assert r.returncode != 0
    assert "level" in r.stderr.decode()
