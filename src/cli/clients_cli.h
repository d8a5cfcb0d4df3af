/*
 * clients_cli.h — 'bulkhead clients ...': SMART client registrations
 * over the admin API (/admin/api/clients, exit statuses and API location
 * as in admin_client.h), plus two local helpers that need no server:
 * 'clients jwks' (a JWKS from a PEM key, to register) and 'clients
 * token' (a signed client assertion for curl).  argv[0] is "clients".
 */
#ifndef CLI_CLIENTS_CLI_H
#define CLI_CLIENTS_CLI_H

struct cfg;

int	clients_cli_main(struct cfg *, int argc, char **argv);

#endif
