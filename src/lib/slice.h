/*
 * slice.h — the scheduler time slice a thread asks for.
 *
 * Linux's EEVDF scheduler (6.6 and later) gives each task a virtual
 * deadline one slice after it becomes eligible; since 6.12 a task may ask
 * for a shorter slice (sched_setattr, sched_runtime under SCHED_OTHER),
 * and a waking task with a shorter slice preempts one with a longer.
 * The API's request threads ask for a short one: each runs a few
 * microseconds per request and then sleeps, so on a machine busy with
 * bulk work a poll waits for its thread to be picked, not for a whole
 * slice of the export beside it.  Bulk work asks for a long one
 * (jobs/throttle.c): it yields at a wake-up of anything interactive and
 * still runs in long stretches.  No privilege is needed for one's own
 * threads and the CPU shares do not change; only who runs first.
 */
#ifndef LIB_SLICE_H
#define LIB_SLICE_H

/* Asks for a slice of usec microseconds (the kernel clamps it to 0.1-100
 * ms; 0: the default again) for thread tid (0: the calling thread),
 * keeping its policy and nice value.  0, or -1 with errno when the kernel
 * refuses (kernels before 6.12 accept and ignore it).  A thread in
 * SCHED_IDLE or a real-time class is left alone (-1, EPERM). */
int	slice_set(int tid, unsigned int usec);

#endif
