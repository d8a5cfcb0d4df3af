"""Set-up from a directory the 'postgres' user cannot enter (issue 14).

A root user cloning into /root (mode 0700, as on every fresh VM) used to
get "mkdir: cannot create directory '/root': Permission denied" from
'make run': the private cluster lived under the clone's var/pg, and
PostgreSQL runs as postgres.  scripts/pg.sh now puts it in a per-clone
directory under /var/lib/bulkhead/pg (owned by postgres, mode 0700) and
links var/pg to it.  These tests clone the repository into a fresh 0700
directory and set the cluster up from there, as root, with the working
tree's scripts; they are skipped, with the reason, when not root.

They never touch the shared cluster: the clone's cluster is its own (own
directory, own socket), stopped and removed at the end.
"""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import ROOT, free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="needs root: the case is root's 0700 home"),
    pytest.mark.skipif(shutil.which("runuser") is None,
                       reason="runuser(1) not installed"),
]


def _pg_ready():
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return any(os.path.isdir("/usr/lib/postgresql/%s/bin" % v)
               for v in os.listdir("/usr/lib/postgresql")) \
        if os.path.isdir("/usr/lib/postgresql") else False


@pytest.fixture
def clone(tmp_path):
    """A git clone of this repository inside a fresh 0700 home, with the
    working tree's scripts copied over (so uncommitted changes count)."""
    if not _pg_ready():
        pytest.skip("PostgreSQL server or the postgres user is missing")
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o700)
    dst = home / "bulkhead"
    subprocess.run(["git", "clone", "-q", "--local", ROOT, str(dst)],
                   check=True, capture_output=True)
    for name in ("pg.sh", "db.sh"):
        shutil.copy2(os.path.join(ROOT, "scripts", name),
                     dst / "scripts" / name)
    env = {k: v for k, v in os.environ.items()
           if k not in ("BULKHEAD_DATABASE_URL", "BULKHEAD_PG_HOME")}
    env["BULKHEAD_PG_PORT"] = str(free_port())
    yield home, dst, env
    # Stop the clone's cluster, whatever happened, and remove its home.
    subprocess.run(["scripts/pg.sh", "stop"], cwd=dst, env=env,
                   capture_output=True, timeout=120)
    link = dst / "var" / "pg"
    if link.is_symlink():
        target = os.path.realpath(link)
        if target.startswith("/var/lib/bulkhead/pg/"):
            shutil.rmtree(target, ignore_errors=True)


def test_cluster_from_0700_clone(clone):
    home, dst, env = clone
    # db.sh, as run.sh and test.sh source it: starts the cluster.
    r = subprocess.run(
        ["sh", "-c", '. scripts/db.sh && echo "$PG_STARTED" && '
         'echo "$BULKHEAD_DATABASE_URL"'],
        cwd=dst, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Permission denied" not in r.stderr, r.stderr
    started, url = r.stdout.strip().splitlines()[-2:]
    assert started == "1"
    # The cluster lives outside the clone, owned by postgres, mode 0700;
    # the home stayed closed to others.
    link = dst / "var" / "pg"
    assert link.is_symlink()
    target = os.path.realpath(link)
    assert target.startswith("/var/lib/bulkhead/pg/bulkhead-"), target
    st = os.stat(target)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert subprocess.run(["id", "-u", "postgres"], capture_output=True,
                          text=True).stdout.strip() == str(st.st_uid)
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert "host=" + target + "/run " in url + " ", url

    # A query through the printed conninfo.
    q = subprocess.run(["psql", url, "-Atqc", "select 40 + 2"],
                       capture_output=True, text=True, timeout=60)
    assert q.returncode == 0 and q.stdout.strip() == "42", q.stderr

    # status, url and a second start agree; stop stops it.
    assert subprocess.run(["scripts/pg.sh", "status"], cwd=dst,
                          env=env).returncode == 0
    u = subprocess.run(["scripts/pg.sh", "url"], cwd=dst, env=env,
                       capture_output=True, text=True)
    assert u.stdout.strip() == url
    again = subprocess.run(["scripts/pg.sh", "start"], cwd=dst, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == url
    assert subprocess.run(["scripts/pg.sh", "stop"], cwd=dst,
                          env=env, timeout=120).returncode == 0
    assert subprocess.run(["scripts/pg.sh", "status"], cwd=dst,
                          env=env).returncode != 0


def test_unwritable_home_says_why(clone):
    """No place postgres can reach: one line with the reason and the fix."""
    home, dst, env = clone
    env = dict(env, BULKHEAD_PG_HOME="/proc/bulkhead-nowhere")
    r = subprocess.run(["scripts/pg.sh", "start"], cwd=dst, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "postgres cannot enter" in lines[0]
    assert "BULKHEAD_PG_HOME" in lines[0] and "BULKHEAD_DATABASE_URL" in lines[0]
    assert not (dst / "var" / "pg").exists()
