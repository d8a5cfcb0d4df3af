/*
 * openimis_cli.c — 'bulkhead openimis check' (see openimis_cli.h).
 *
 * Logs in (or uses Basic), reads one page (_count=1) of every type in
 * openimis_types, and prints each type's total; then looks at one Claim
 * to tell which identifier type that server puts its claim codes under,
 * against openimis_claim_code_type.  At openimis_rps, like the jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "lib/buf.h"
#include "openimis/openimis_bundle.h"
#include "openimis/openimis_client.h"
#include "cli/openimis_cli.h"

static void	oc_claim_type(const struct openimis_page *, const char *);

/* Prints the identifier types of the first Claim on the page. */
static void
oc_claim_type(const struct openimis_page *pg, const char *want)
{
	const cJSON	*res, *ids, *i, *cs, *cd, *code;
	int		 found = 0;

	res = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
	    pg->op_entries, 0), "resource");
	if (res == NULL) {
		printf("claim code type: %s (configured; no claim in openIMIS "
		    "to compare with)\n", want);
		return;
	}
	ids = cJSON_GetObjectItemCaseSensitive(res, "identifier");
	printf("claim identifier types in openIMIS:");
	cJSON_ArrayForEach(i, ids) {
		cs = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(i, "type"), "coding");
		cJSON_ArrayForEach(cd, cs) {
			code = cJSON_GetObjectItemCaseSensitive(cd, "code");
			if (!cJSON_IsString(code))
				continue;
			printf(" %s", code->valuestring);
			found |= strcmp(code->valuestring, want) == 0;
		}
	}
	printf("\nclaim code type: %s (configured)%s\n", want, found ? "" :
	    " -- NOT what this server uses: set openimis_claim_code_type");
}

int
openimis_cli_main(struct cfg *cfg, int argc, char **argv)
{
	struct openimis_client	*oi = NULL;
	struct openimis_opts	 o;
	struct openimis_page	 pg;
	struct buf		 body;
	char			 err[1024], q[256], type[64];
	const char		*s, *e;
	long			 status;
	size_t			 n;
	int			 rc = 1, bad = 0;

	if ((argc == 2 || argc == 3) && (strcmp(argv[argc - 1], "--help") ==
	    0 || strcmp(argv[argc - 1], "-h") == 0)) {
		printf("usage: bulkhead openimis check\n\nLogs in to "
		    "openimis_url, reads one page of each of openimis_types "
		    "and prints\nwhat it found: types, counts, the claim code "
		    "type in use.\n");
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: bulkhead openimis check\n");
		return 2;
	}
	if (cfg->openimis_url[0] == '\0') {
		fprintf(stderr, "bulkhead openimis: openimis_url is not set\n");
		return 1;
	}
	openimis_client_opts(cfg, &o);
	o.oo_timeout_s = 60;
	o.oo_retry_s = 30;
	buf_init(&body, 64 << 20);
	if ((oi = openimis_client_new(&o, err, sizeof(err))) == NULL)
		goto fail;
	printf("openIMIS %s as %s (%s), %d requests/s\n", cfg->openimis_url,
	    cfg->openimis_username, o.oo_basic ? "Basic" : "login JWT",
	    cfg->openimis_rps);
	if (openimis_client_login(oi, err, sizeof(err)) != 0)
		goto fail;
	if (!o.oo_basic)
		printf("login: ok\n");
	for (s = cfg->openimis_types; *s != '\0'; s = *e != '\0' ? e + 1 : e) {
		e = s + strcspn(s, ",");
		n = (size_t)(e - s);
		if (n == 0 || n >= sizeof(type))
			continue;
		memcpy(type, s, n);
		type[n] = '\0';
		snprintf(q, sizeof(q), "%s/?_count=1", type);
		if (openimis_client_get(oi, q, &body, &status, NULL, err,
		    sizeof(err)) != 0)
			goto fail;
		if (status != 200) {
			printf("%-20s HTTP %ld (the user may lack the rights, or "
			    "the module is not installed)\n", type, status);
			bad = 1;
			continue;
		}
		if (openimis_bundle_parse(body.b_data, body.b_len, &pg, err,
		    sizeof(err)) == -1) {
			printf("%-20s %s\n", type, err);
			openimis_bundle_free(&pg);
			bad = 1;
			continue;
		}
		printf("%-20s %lld\n", type, (long long)pg.op_total);
		if (strcmp(type, "Claim") == 0)
			oc_claim_type(&pg, cfg->openimis_claim_code_type);
		openimis_bundle_free(&pg);
	}
	rc = bad;
	goto out;
 fail:
	fprintf(stderr, "bulkhead openimis: %s\n", err);
 out:
	openimis_client_free(oi);
	buf_free(&body);
	return rc;
}
