/*
 * cgroup.h — 'bulkhead run' puts its workers in a cgroup v2 child group
 * with a low cpu.weight and io.weight, where it may.
 *
 * "Where it may": the supervisor's own cgroup (the "0::" line of
 * /proc/self/cgroup) under a cgroup v2 mount is writable and holds no
 * process but the supervisor: a group it owns, as a systemd unit with
 * Delegate=yes or a container gives it.  Then it makes two children,
 * "interactive" (itself, so the API and the scheduler it starts, at the
 * default weight 100) and "workers" (CGROUP_WORKER_CPU_WEIGHT,
 * CGROUP_WORKER_IO_WEIGHT), since cgroup v2 lets a group with processes
 * of its own hand no controller down.  A group shared with others is
 * not split (other processes would stay behind at full weight, and
 * controllers cannot be enabled there); nothing is changed then.
 *
 * The kernel shares CPU time between sibling groups by weight whatever
 * nice says inside them, so a worker group at 10 against the API at 100
 * gets about a tenth of a contended CPU and the API the rest, and idle
 * CPU is still the workers' to use.
 *
 * Errors: cgroup_setup returns -1 with the reason in errbuf; the caller
 * logs it once and goes on without (the throttle, nice and SCHED_IDLE
 * still apply).  Main thread of the supervisor only.
 */
#ifndef CORE_CGROUP_H
#define CORE_CGROUP_H

#include <stddef.h>

#define CGROUP_ROOT			"/sys/fs/cgroup"
#define CGROUP_WORKER_CPU_WEIGHT	10	/* default 100; 1..10000 */
#define CGROUP_WORKER_IO_WEIGHT		10	/* default 100; 1..10000 */
#define CGROUP_PATH_MAX			512

struct cgroup_iso {
	char	ci_base[CGROUP_PATH_MAX];	/* the group we own */
	int	ci_workers_fd;			/* workers/cgroup.procs, or -1 */
	int	ci_io;				/* io.weight was set */
};

/* Splits the group under root (CGROUP_ROOT but in tests): 0 and *ci
 * ready, or -1 (errbuf) and ci->ci_workers_fd == -1. */
int	cgroup_setup(const char *root, struct cgroup_iso *ci, char *errbuf,
	    size_t errlen);
/* 1, with its path in out, when this process's CPU share is a cgroup's
 * other than the root (v1's cpu hierarchy, else v2 under root with cpu
 * enabled for the group): there the kernel's autogroups do not apply.
 * 0 otherwise, or when it cannot tell. */
int	cgroup_cpu_group(const char *root, char *out, size_t outlen);
/* In a child between fork and exec: moves the calling process into the
 * workers group.  Async-signal-safe.  0, or -1 (errno). */
int	cgroup_enter_workers(const struct cgroup_iso *ci);
/* Closes what setup opened.  Safe after a failed setup. */
void	cgroup_close(struct cgroup_iso *ci);

#endif
