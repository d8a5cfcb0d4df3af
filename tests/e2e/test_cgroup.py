"""'bulkhead run' and cgroup v2 (src/core/cgroup.h).

Where the supervisor cannot split its cgroup (no cgroup v2, not
writable, or a group shared with other processes, as under pytest here),
it says so in exactly one log line at start and runs as before.  Where
it can (root in a cgroup v2 group with the cpu controller delegated),
the workers land in <group>/workers with cpu.weight 10 while the API and
the scheduler stay in <group>/interactive; that test makes such a group
for the server alone and is skipped where the machine has none to give.
"""
import os
import subprocess
import uuid

import pytest

from conftest import free_port
from jobhelp import children, log_text, tables_ready, wait_for

CG = "/sys/fs/cgroup"


def by_role(pid, role):
    return sorted(p for p, argv in children(pid).items()
                  if argv == ["bulkhead", role])


def own_cgroup(pid="self"):
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def test_fallback_is_said_once_and_run_works(db, start_server):
    s = start_server(db, role="run", wait=False,
                     extra_env={"BULKHEAD_WORKERS": "2"})
    wait_for(lambda: tables_ready(db), 60, what="migrations")
    wait_for(lambda: len(by_role(s.proc.pid, "worker")) == 2, 60,
             what="the workers")
    log = log_text(s)
    lines = [x for x in log.splitlines() if "cgroup isolation" in x]
    assert len(lines) == 1, log
    # Under pytest the group holds the test runner too (or there is no
    # cgroup v2 at all): never split, the reason given.
    assert "cgroup isolation off: " in lines[0], lines
    assert any(w in lines[0] for w in ("no cgroup v2", "not writable",
                                       "other process", "root cgroup",
                                       "not delegated", "no 0:: line")), \
        lines[0]
    # Workers stay where the supervisor is.
    for w in by_role(s.proc.pid, "worker"):
        assert own_cgroup(w) == own_cgroup(s.proc.pid)


def _placement_group():
    """A fresh child of our cgroup with cpu available, or None."""
    if os.geteuid() != 0 or not os.path.exists(CG + "/cgroup.controllers"):
        return None
    own = own_cgroup()
    if own is None:
        return None
    parent = CG + (own if own != "/" else "")
    path = os.path.join(parent, "bh-test-" + uuid.uuid4().hex[:8])
    try:
        os.mkdir(path)
    except OSError:
        return None
    with open(path + "/cgroup.controllers") as f:
        if "cpu" not in f.read().split():
            os.rmdir(path)
            return None
    return path


def _rmtree_cgroup(path):
    for sub in ("workers", "interactive"):
        p = os.path.join(path, sub)
        if os.path.isdir(p):
            try:
                os.rmdir(p)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def test_workers_placed_in_a_low_weight_group(bulkhead_bin, db, tmp_path):
    group = _placement_group()
    if group is None:
        pytest.skip("needs root in a cgroup v2 group with cpu delegated")
    port = free_port()
    env = dict(os.environ, BULKHEAD_DATABASE_URL=db.url,
               BULKHEAD_LISTEN="127.0.0.1:%d" % port,
               BULKHEAD_DATA_DIR=str(tmp_path / "data"),
               BULKHEAD_IMPORT_DIR=str(tmp_path / "import"),
               BULKHEAD_WORKERS="2")

    def enter():
        with open(group + "/cgroup.procs", "w") as f:
            f.write("0")

    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        p = subprocess.Popen([bulkhead_bin, "run"], env=env, stdout=log,
                             stderr=subprocess.STDOUT, preexec_fn=enter)
    try:
        wait_for(lambda: len(by_role(p.pid, "worker")) == 2 and
                 by_role(p.pid, "serve"), 60, what="the children")
        text = log_path.read_text()
        assert "cgroup isolation: workers in %s/workers" % group in text, \
            text
        rel = group[len(CG):]
        for w in by_role(p.pid, "worker"):
            assert own_cgroup(w) == rel + "/workers"
        for a in by_role(p.pid, "serve") + by_role(p.pid, "scheduler"):
            assert own_cgroup(a) == rel + "/interactive"
        assert own_cgroup(p.pid) == rel + "/interactive"
        with open(group + "/workers/cpu.weight") as f:
            assert f.read().strip() == "10"
    finally:
        p.terminate()
        p.wait(30)
        _rmtree_cgroup(group)


def _session(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def _autogroup(pid):
    """(group name, nice) from /proc/PID/autogroup.  A session that no
    setsid() ever started (PID 1's, as in a container or a CI runner) is
    the root group, which the kernel prints as nothing."""
    with open("/proc/%d/autogroup" % pid) as f:
        words = f.read().split()
    if not words:
        return "(root)", 0
    return words[0], int(words[2])


def test_fallback_workers_get_autogroups_of_their_own(db, start_server):
    """Without a cgroup to split, each worker leads a session of its own,
    so the kernel's autogroup makes it a scheduling group of its own,
    at worker_nice (10) against the API's group (core/autogroup.h); the
    supervisor's group keeps nice 0."""
    if not os.path.exists("/proc/self/autogroup"):
        pytest.skip("kernel without CONFIG_SCHED_AUTOGROUP")
    with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
        if f.read().strip() != "1":
            pytest.skip("kernel.sched_autogroup_enabled is 0")
    s = start_server(db, role="run", wait=False,
                     extra_env={"BULKHEAD_WORKERS": "2"})
    wait_for(lambda: tables_ready(db), 60, what="migrations")
    wait_for(lambda: len(by_role(s.proc.pid, "worker")) == 2, 60,
             what="the workers")
    log = log_text(s)
    line = [x for x in log.splitlines() if "cgroup isolation" in x][0]
    if "cgroup isolation off" not in line:
        pytest.skip("the workers have a cgroup here: " + line)
    if "kernel autogroups not in effect" in line:
        # In a cpu cgroup the kernel weighs the cgroup, not sessions,
        # and the supervisor says so rather than claim the isolation.
        pytest.skip("in a cpu cgroup: " + line)
    assert "workers in sessions of their own" in line, line
    sup_group, sup_nice = _autogroup(s.proc.pid)
    assert sup_nice == 0
    api = by_role(s.proc.pid, "serve")
    groups = set()
    for w in by_role(s.proc.pid, "worker"):
        assert _session(w) == w
        wait_for(lambda: _autogroup(w)[1] == 10, 30,
                 what="worker %d's group at nice 10" % w)
        groups.add(_autogroup(w)[0])
    assert len(groups) == 2 and sup_group not in groups
    for p in api:
        assert _autogroup(p) == (sup_group, 0)
