/*
 * openimis_cli.h — 'bulkhead openimis check': proves the openIMIS
 * connection the configuration describes (issue 17).
 */
#ifndef CLI_OPENIMIS_CLI_H
#define CLI_OPENIMIS_CLI_H

struct cfg;

/* argv[0] == "openimis".  Exit status: 0 all good, 1 a failure, 2 usage. */
int	openimis_cli_main(struct cfg *, int argc, char **argv);

#endif
