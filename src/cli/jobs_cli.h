/*
 * jobs_cli.h — 'bulkhead jobs ...': list, show, pause, resume, cancel,
 * retry and watch jobs through the admin API; submit, wait and kinds
 * without it (see jobs_cli.c).  argv[0] == "jobs".  Returns the process
 * exit status.
 */
#ifndef JOBS_CLI_H
#define JOBS_CLI_H

struct cfg;

int	jobs_cli_main(struct cfg *, int argc, char **argv);

#endif
