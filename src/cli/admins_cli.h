/*
 * admins_cli.h — 'bulkhead admins ...': add, list, disable, enable,
 * delete and rotate admin principals, directly in the database (see
 * admins_cli.c).  argv[0] == "admins".  Returns the process exit status.
 */
#ifndef CLI_ADMINS_CLI_H
#define CLI_ADMINS_CLI_H

struct cfg;

int	admins_cli_main(struct cfg *, int argc, char **argv);

#endif
