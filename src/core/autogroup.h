/*
 * autogroup.h — a worker's CPU share where no cgroup gives it one.
 *
 * With CONFIG_SCHED_AUTOGROUP on (Debian's default; the
 * kernel.sched_autogroup_enabled sysctl), every session is a scheduling
 * group of its own, and the kernel shares CPU time between groups
 * equally whatever nice says inside them.  A worker that stays in the
 * supervisor's session shares one group with the API, so nice 10 or
 * SCHED_IDLE starve it whenever the API is busy; measured in
 * tests/bench/isolation (RESULTS.md), an import kept 9–17% of its rate
 * beside a saturating client.  In a session of its own the worker is a
 * group of its own, and the group's nice (/proc/self/autogroup) is its
 * weight against the API's group: the same lever a cgroup's cpu.weight
 * is (nice 10: weight 110 against 1024).
 *
 * The autogroup applies to tasks in the root cgroup of the cpu
 * controller only; under a systemd unit or a cgroup v2 group the cgroup
 * weights (packaging/systemd, core/cgroup.h) decide instead and this is
 * a no-op.
 *
 * autogroup_enabled: 1 when sessions weigh here: the sysctl is on and
 *   the process is in the cpu controller's root group; 0 with the reason
 *   otherwise.  A process whose session started before any setsid (PID
 *   1's, as in a container) is in the root autogroup, which
 *   /proc/PID/autogroup prints as nothing; its children's own sessions
 *   still weigh against it.
 * autogroup_own: setsid() (in a child forked for it: a process group
 *   leader cannot).  -1 with the reason.
 * autogroup_set_nice: sets this process's group's nice (-20..19; below
 *   the current one needs CAP_SYS_NICE), but only when the group is its
 *   own (it leads its session): never the API's.  -1 with the reason.
 */
#ifndef CORE_AUTOGROUP_H
#define CORE_AUTOGROUP_H

#include <stddef.h>

#define AUTOGROUP_PROC		"/proc/self/autogroup"
#define AUTOGROUP_SYSCTL	"/proc/sys/kernel/sched_autogroup_enabled"

int	autogroup_enabled(char *errbuf, size_t errlen);
int	autogroup_own(char *errbuf, size_t errlen);
int	autogroup_set_nice(int nice, char *errbuf, size_t errlen);

#endif
