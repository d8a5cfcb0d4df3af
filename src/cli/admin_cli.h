/*
 * admin_cli.h — 'bulkhead schedules ...' and 'bulkhead limits ...': the
 * admin API's schedules and limits from the command line (exit statuses
 * and API location as in admin_client.h).  argv[0] is the command name.
 * Each returns the process exit status.
 */
#ifndef ADMIN_ADMIN_CLI_H
#define ADMIN_ADMIN_CLI_H

struct cfg;

int	admin_cli_schedules_main(struct cfg *, int argc, char **argv);
int	admin_cli_limits_main(struct cfg *, int argc, char **argv);

#endif
