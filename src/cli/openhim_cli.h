/*
 * openhim_cli.h — 'bulkhead openhim install-channels': registers
 * Bulkhead with the OpenHIM the configuration names and creates its
 * default channels there (issue 15).
 */
#ifndef CLI_OPENHIM_CLI_H
#define CLI_OPENHIM_CLI_H

struct cfg;

/* argv[0] == "openhim".  Exit status: 0 done, 1 a failure, 2 usage. */
int	openhim_cli_main(struct cfg *, int argc, char **argv);

#endif
