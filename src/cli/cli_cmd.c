/*
 * cli_cmd.c — the shared command skeleton (cli_cmd.h): one way to ask
 * for help, name a subcommand, pass options and be told what is wrong.
 */
#include <stdio.h>
#include <string.h>

#include "cli/admin_client.h"
#include "cli/cli_cmd.h"

static int	 cli_cmd_takes(const char *, const char *);

/* True if name is one of the comma-separated names in list. */
static int
cli_cmd_takes(const char *list, const char *name)
{
	const char	*hit;
	size_t		 n = strlen(name);

	for (hit = strstr(list, name); hit != NULL;
	    hit = strstr(hit + 1, name))
		if ((hit == list || hit[-1] == ',') &&
		    (hit[n] == '\0' || hit[n] == ','))
			return 1;
	return 0;
}

const void *
cli_cmd_parse(const struct cli_cmd_table *t, int argc, char **argv,
    const char **pos, int *npos, char *prog, size_t proglen, int *rc)
{
	const struct cli_cmd_row	*c = NULL, *r;
	const char			*sub;
	size_t				 i, k;
	int				 skip = 2;

	*rc = 2;
	sub = argc >= 2 ? argv[1] : NULL;
	if (sub != NULL && (strcmp(sub, "help") == 0 ||
	    strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
		t->ct_usage(stdout);
		*rc = 0;
		return NULL;
	}
	if (sub == NULL || (t->ct_default != NULL &&
	    strncmp(sub, "--", 2) == 0)) {
		if (t->ct_default == NULL) {
			t->ct_usage(stderr);
			return NULL;
		}
		sub = t->ct_default;
		skip = 1;
	}
	for (i = 0; i < t->ct_nrows; i++) {
		r = (const void *)((const char *)t->ct_rows +
		    i * t->ct_rowsize);
		if (strcmp(sub, r->cr_name) == 0)
			c = r;
	}
	if (c == NULL) {
		fprintf(stderr, "bulkhead %s: unknown subcommand \"%s\"\n",
		    t->ct_cmd, sub);
		t->ct_usage(stderr);
		return NULL;
	}
	snprintf(prog, proglen, "bulkhead %s %s", t->ct_cmd, c->cr_name);
	/* "bulkhead CMD SUB ... --help": the command's usage, which shows
	 * every subcommand's form. */
	for (i = (size_t)skip; i < (size_t)argc && argv[i] != NULL &&
	    strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			t->ct_usage(stdout);
			*rc = 0;
			return NULL;
		}
	if (admin_client_args(prog, argc - skip, argv + skip, t->ct_opts,
	    t->ct_nopts, pos, c->cr_maxpos, npos) == -1)
		return NULL;
	/* Options of other subcommands are errors here. */
	for (k = 0; k < t->ct_nopts; k++) {
		if (t->ct_opts[k].ao_val == NULL ||
		    cli_cmd_takes(c->cr_opts, t->ct_opts[k].ao_name))
			continue;
		fprintf(stderr, "%s: unknown option \"--%s\"\n", prog,
		    t->ct_opts[k].ao_name);
		return NULL;
	}
	if (*npos < c->cr_minpos) {
		fprintf(stderr, "%s: missing %s\n", prog, c->cr_posname);
		return NULL;
	}
	*rc = 0;
	return c;
}
