/*
 * jobs_cli.h — 'bulkhead jobs ...': submit, list and show jobs.
 * argv[0] == "jobs".  Returns the process exit status.
 */
#ifndef JOBS_CLI_H
#define JOBS_CLI_H

struct cfg;

int	jobs_cli_main(struct cfg *, int argc, char **argv);

#endif
