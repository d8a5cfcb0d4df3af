/*
 * test_generate.c — unit tests for tools/generate: the date helpers, and
 * generate_main run in-process (flag errors, determinism across --jobs),
 * and the shape of the claims' Provenance.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "tools/generate.h"

#define T_NTYPES	12

static int	failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		failures++;						\
	}								\
} while (0)

static const char *const types[T_NTYPES] = {
	"Location", "Organization", "Practitioner", "InsurancePlan",
	"Medication", "ActivityDefinition", "Group", "Patient", "Coverage",
	"Claim", "ClaimResponse", "Provenance",
};

static void	test_dates(void);
static int	run(int, ...);
static char	*slurp(const char *, size_t *);
static size_t	count(const char *, const char *);
static void	test_provenance(const char *);
static void	test_runs(void);

static void
test_dates(void)
{
	int64_t		 d, day;
	char		 b[16], again[16];

	CHECK(generate_parse_date("1970-01-02", &d) == -1);	/* < 1971 */
	CHECK(generate_parse_date("1971-01-01", &d) == 0 && d == 365);
	CHECK(generate_parse_date("2000-02-29", &d) == 0 && d == 11016);
	CHECK(generate_parse_date("2026-11-20", &d) == 0 && d == 20777);
	CHECK(generate_parse_date("2100-02-29", &d) == -1);
	CHECK(generate_parse_date("2026-02-30", &d) == -1);
	CHECK(generate_parse_date("2026-13-01", &d) == -1);
	CHECK(generate_parse_date("2026-00-10", &d) == -1);
	CHECK(generate_parse_date("2026-1-10", &d) == -1);
	CHECK(generate_parse_date("2026-01-10x", &d) == -1);
	CHECK(generate_parse_date("2026/01/10", &d) == -1);
	CHECK(generate_parse_date("", &d) == -1);

	generate_format_date(20777, b, sizeof(b));
	CHECK(strcmp(b, "2026-11-20") == 0);
	for (day = 365; day < 365 * 200; day += 7) {
		generate_format_date(day, b, sizeof(b));
		CHECK(generate_parse_date(b, &d) == 0 && d == day);
		generate_format_date(d, again, sizeof(again));
		CHECK(strcmp(b, again) == 0);
	}
}

/* Runs generate_main with a NULL-terminated list of arguments. */
static int
run(int dummy, ...)
{
	char		*argv[32];
	va_list		 ap;
	int		 argc = 0;

	va_start(ap, dummy);
	argv[argc++] = xstrdup("generate");
	while (argc < 31) {
		const char *a = va_arg(ap, const char *);

		if (a == NULL)
			break;
		argv[argc++] = xstrdup(a);
	}
	va_end(ap);
	argv[argc] = NULL;
	dummy = generate_main(argc, argv);
	while (argc > 0)
		free(argv[--argc]);
	return dummy;
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*data = NULL;
	long	 len;

	*lenp = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0) {
		data = xmalloc((size_t)len + 1);
		*lenp = fread(data, 1, (size_t)len, fp);
	}
	fclose(fp);
	return data;
}

/* Occurrences of 'needle' in the NUL-terminated 'hay'. */
static size_t
count(const char *hay, const char *needle)
{
	size_t		 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * Provenance.ndjson of a run in 'dir': one line per Provenance, each
 * targets one Claim, most claims have one (entered), some a second
 * (amended), a few none.
 */
static void
test_provenance(const char *dir)
{
	char		*pc, *pp, *claims, *provs;
	size_t		 lc, lp, nclaim, nprov, ncreate, nupdate;

	pc = xasprintf("%s/Claim.ndjson", dir);
	pp = xasprintf("%s/Provenance.ndjson", dir);
	claims = slurp(pc, &lc);
	provs = slurp(pp, &lp);
	CHECK(claims != NULL && provs != NULL);
	if (claims == NULL || provs == NULL)
		goto out_free;
	claims[lc] = '\0';
	provs[lp] = '\0';
	nclaim = count(claims, "\n");
	nprov = count(provs, "\n");
	ncreate = count(provs, "\"code\":\"CREATE\"");
	nupdate = count(provs, "\"code\":\"UPDATE\"");
	CHECK(nprov == count(provs, "{\"resourceType\":\"Provenance\","));
	CHECK(nprov == count(provs, "\"target\":[{\"reference\":\"Claim/"));
	CHECK(nprov == count(provs, "\"role\":\"source\""));
	CHECK(nprov == count(provs, "\"who\":{\"reference\":"
	    "\"Practitioner/"));
	CHECK(nprov == count(provs, "\"onBehalfOf\":{\"reference\":"
	    "\"Organization/"));
	CHECK(ncreate + nupdate == nprov);
	CHECK(ncreate > nclaim * 8 / 10 && ncreate < nclaim);
	CHECK(nupdate > 0 && nupdate < ncreate / 4);
 out_free:
	free(claims);
	free(provs);
	free(pc);
	free(pp);
}

static void
test_runs(void)
{
	char		 tmpl[] = "/tmp/test_generate.XXXXXX";
	char		*dir, *a, *b, *pa, *pb, *da, *db;
	size_t		 la, lb;
	int		 t;

	dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	a = xasprintf("%s/a", dir);
	b = xasprintf("%s/b/c", dir);

	CHECK(run(0, "--out", a, "--families", "0", NULL) == 2);
	CHECK(run(0, "--out", a, "--today", "2026-02-30", NULL) == 2);
	CHECK(run(0, "--families", "3", NULL) == 2);
	CHECK(run(0, "--out", a, "--nope", NULL) == 2);
	CHECK(run(0, "--help", NULL) == 0);
	CHECK(access(a, F_OK) == -1);

	CHECK(run(0, "--out", a, "--families", "40", "--seed", "9",
	    "--today", "2026-11-20", "--jobs", "2", NULL) == 0);
	CHECK(run(0, "--out", b, "--families=40", "--seed=9",
	    "--today=2026-11-20", "--jobs=1", NULL) == 0);
	test_provenance(a);
	for (t = 0; t < T_NTYPES; t++) {
		pa = xasprintf("%s/%s.ndjson", a, types[t]);
		pb = xasprintf("%s/%s.ndjson", b, types[t]);
		da = slurp(pa, &la);
		db = slurp(pb, &lb);
		CHECK(da != NULL && db != NULL && la > 0);
		CHECK(la == lb && da != NULL && db != NULL &&
		    memcmp(da, db, la) == 0);
		CHECK(da != NULL && la > 0 && da[la - 1] == '\n');
		CHECK(da != NULL && la > 16 &&
		    memcmp(da, "{\"resourceType\":", 16) == 0);
		unlink(pa);
		unlink(pb);
		free(da);
		free(db);
		free(pa);
		free(pb);
	}
	rmdir(a);
	rmdir(b);
	pa = xasprintf("%s/b", dir);
	rmdir(pa);
	free(pa);
	rmdir(dir);
	free(a);
	free(b);
}

int
main(void)
{
	test_dates();
	test_runs();
	if (failures != 0) {
		fprintf(stderr, "test_generate: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_generate: ok\n");
	return 0;
}
