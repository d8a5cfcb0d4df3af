/*
 * openhim_cli.c — 'bulkhead openhim install-channels' (see
 * openhim_cli.h).
 *
 * Registers first (POST /mediators: the same document the scheduler
 * sends; OpenHIM keeps a registration of the same version as it is, so
 * this is harmless on a running system and lets the command work before
 * Bulkhead was ever started), then creates the default channels OpenHIM
 * does not have (openhim_mediator_install_channels).  Running it twice
 * creates nothing the second time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/openhim_cli.h"
#include "core/cfg.h"
#include "openhim/openhim_api.h"
#include "openhim/openhim_mediator.h"

#define OPENHIM_CLI_USAGE "usage: bulkhead openhim install-channels\n"

int
openhim_cli_main(struct cfg *cfg, int argc, char **argv)
{
	char	 err[1024], report[1024], *doc;
	long	 st;
	int	 r;

	if ((argc == 2 || argc == 3) && (strcmp(argv[argc - 1], "--help") ==
	    0 || strcmp(argv[argc - 1], "-h") == 0)) {
		printf(OPENHIM_CLI_USAGE "\nRegisters Bulkhead with the "
		    "OpenHIM of openhim_api_url (POST /mediators)\nand creates "
		    "the default channels it does not have yet "
		    "(POST\n/mediators/%s/channels): \"Bulkhead bulk data\" "
		    "and \"Bulkhead nightly\nexport poll\".\n",
		    OPENHIM_MEDIATOR_URN);
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "install-channels") != 0) {
		fprintf(stderr, OPENHIM_CLI_USAGE);
		return 2;
	}
	if (cfg->openhim_api_url[0] == '\0') {
		fprintf(stderr, "bulkhead openhim: openhim_api_url is not "
		    "set\n");
		return 1;
	}
	doc = openhim_mediator_doc(cfg);
	r = openhim_api_call(cfg, "POST", "/mediators", doc, &st, NULL, err,
	    sizeof(err));
	free(doc);
	if (r == -1) {
		fprintf(stderr, "bulkhead openhim: %s unreachable: %s\n",
		    cfg->openhim_api_url, err);
		return 1;
	}
	if (st != 201 && st != 200) {
		fprintf(stderr, "bulkhead openhim: registering: OpenHIM "
		    "answered HTTP %ld to POST /mediators%s\n", st,
		    st == 401 || st == 403 ? " (check openhim_username/"
		    "openhim_password and the user's role)" : "");
		return 1;
	}
	if (openhim_mediator_install_channels(cfg, report, sizeof(report),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead openhim: %s\n", err);
		return 1;
	}
	printf("default channels: %s\n", report);
	return 0;
}
