/*
 * slice.c — sched_setattr(2) for a thread's slice; see slice.h.  glibc
 * 2.36 has no wrapper, so the call and its struct are spelled here.
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "slice.h"

/* struct sched_attr, include/uapi/linux/sched/types.h (version 1). */
struct slice_attr {
	uint32_t	size;
	uint32_t	sched_policy;
	uint64_t	sched_flags;
	int32_t		sched_nice;
	uint32_t	sched_priority;
	uint64_t	sched_runtime;
	uint64_t	sched_deadline;
	uint64_t	sched_period;
	uint32_t	sched_util_min;
	uint32_t	sched_util_max;
};

int
slice_set(int tid, unsigned int usec)
{
#ifdef SYS_sched_setattr
	struct slice_attr	a;
	int			policy;

	if (tid == 0)
		tid = (int)syscall(SYS_gettid);
	policy = sched_getscheduler(tid);
	if (policy == -1)
		return -1;
	if (policy != SCHED_OTHER && policy != SCHED_BATCH) {
		errno = EPERM;	/* idle and real-time threads keep theirs */
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.sched_policy = (uint32_t)policy;
	errno = 0;
	a.sched_nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno != 0)
		return -1;
	a.sched_runtime = (uint64_t)usec * 1000;
	return (int)syscall(SYS_sched_setattr, tid, &a, 0);
#else
	(void)tid;
	(void)usec;
	errno = ENOSYS;
	return -1;
#endif
}
