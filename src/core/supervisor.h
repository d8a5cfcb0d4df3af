/*
 * supervisor.h — 'bulkhead run': the parent of the API, the scheduler and
 * N workers.  It starts each child by re-executing this binary with the
 * role as its first argument (so ps shows "bulkhead worker"), restarts a
 * child that dies with exponential backoff, passes SIGTERM/SIGINT on and
 * waits for all children before it returns.  No job traffic goes through
 * it.  argv is the command's argv (argv[0] == "run"), flags removed.
 */
#ifndef CORE_SUPERVISOR_H
#define CORE_SUPERVISOR_H

struct cfg;

int	supervisor_main(struct cfg *, int argc, char **argv);

#endif
