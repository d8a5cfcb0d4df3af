/*
 * job_export.c — the "export" job kind (see job_export.h).
 *
 * DESIGN
 * The job is a list of steps: the lenient-handling warnings (error file),
 * one step per resource type, then the deleted-resource Bundles when
 * _since is given.  Each type step streams rows out of PostgreSQL with
 * COPY ... TO STDOUT (binary: EXPORT_COPY) into zstd files
 * (bulk/outfile.c), in one of two ways:
 *
 *  - scan: the type's partition page range by page range (TID range
 *    scans of EXPORT_CHUNK_PAGES, ordered by ctid within the range), so
 *    PostgreSQL reads the heap sequentially and never sorts more than one
 *    range.  Used for system- and all-Patient exports.
 *  - lookup: rows of a cohort (Group members, POSTed patients, and the
 *    Organization/Practitioner/Location they reference) in id order
 *    through the indexes.
 *
 * Either way the first column is a cursor (ctid or id) that orders the
 * rows; when a file completes, its job_outputs row and the checkpoint
 * "(step, cursor after the file's last row, next file number)" are
 * written in one statement, so a rescued job resumes right after the
 * last recorded file, never repeating or skipping a row.
 *
 * Values from the request (transactionTime, _since, _typeFilter values)
 * reach SQL only as custom settings bound with set_config($1, $2) and
 * read back with current_setting(), because COPY takes no parameters.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/fhir_types.h"
#include "bulk/outfile.h"
#include "bulk/search.h"
#include "core/cfg.h"
#include "core/embed.h"
#include "jobs/job_export.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "jobs/schedule.h"
#include "jobs/throttle.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/copybin.h"
#include "store/db.h"
#include "store/ndjson.h"

#define EXPORT_CHUNK_PAGES	2048	/* heap pages per range (16 MB) */
#define EXPORT_MAX_STEPS	256
#define EXPORT_SQL_MAX		(1 << 20)
#define EXPORT_TICK_ROWS	4096	/* rows between lease ticks */
/* Binary: PostgreSQL hands each value over as it is stored, where csv
 * scans every byte for quotes and delimiters, half of the backend's CPU
 * in an export (its bottleneck); rows are split by copybin_split. */
#define EXPORT_COPY		"(FORMAT binary)"
/* An active policy whose period ends inside the renewal window
 * [bulkhead.from, bulkhead.to) — dates compare as YYYY-MM-DD text. */
#define XP_DUE(col) \
	"((" col ")::jsonb->>'status' = 'active' AND left((" col ")::jsonb->" \
	"'period'->>'end', 10) >= current_setting('bulkhead.from') AND " \
	"left((" col ")::jsonb->'period'->>'end', 10) < " \
	"current_setting('bulkhead.to'))"
#define SUBSETTED_TAG \
	"{\"system\":\"http://terminology.hl7.org/CodeSystem/" \
	"v3-ObservationValue\",\"code\":\"SUBSETTED\"}"

enum xp_kind {
	XP_WARNINGS,	/* lenient-handling OperationOutcomes */
	XP_SCAN,	/* a type, by page ranges */
	XP_LOOKUP,	/* a type, by cohort, in id order */
	XP_DELETED,	/* tombstones after _since, as Bundles */
	XP_BLOCKS,	/* organizeOutputBy=Patient: one block per patient */
};

/* Which rows of a type a step takes. */
enum xp_scope {
	XP_ALL,		/* every row (system level, context at patient level) */
	XP_COMPARTMENT,	/* rows in some patient's compartment */
	XP_COHORT,	/* rows in the compartment of job_patients */
	XP_COHORT_SELF,	/* Patient rows of job_patients */
	XP_GROUP_SELF,	/* the exported Group itself */
	XP_REFERENCED,	/* context rows the cohort references */
	XP_RENEWAL_COV,	/* renewal: active Coverage ending in the window */
	XP_RENEWAL_GROUP, /* renewal: the beneficiaries' families */
	XP_RENEWAL_PLAN, /* renewal: the products of those policies */
	XP_ASSOCIATED,	/* Provenance of exported rows only */
};

struct xp_step {
	enum xp_kind	 s_kind;
	enum xp_scope	 s_scope;
	char		 s_type[72];
	char		 s_table[80];	/* partition, as a quoted identifier */
	int		 s_shared;	/* the partition holds other types too */
	int		 s_in_block;	/* runs inside the XP_BLOCKS step */
	char		*s_filter;	/* compiled _typeFilter SQL, or NULL */
	int		 s_assoc;	/* + Provenance of exported rows */
};

struct xp {
	struct job_ctx		*ctx;
	const struct cfg	*cfg;
	const cJSON		*params;
	PGconn			*conn;		/* the kind's connection */
	char			 tt[64];	/* transactionTime */
	char			 dir[1024];	/* absolute output directory */
	char			 reldir[256];	/* relative to data_dir */
	const char		*level;
	struct xp_step		 steps[EXPORT_MAX_STEPS];
	int			 nsteps;
	int			 nfilter_params;
	/* resume point */
	int			 step;
	char			 cursor[128];
	int			 next_seq;
	/* the running step */
	struct outfile_set	*set;
	char			 last_key[128];	/* cursor of the last row */
	int			 last_tid;	/* last_key is the tid: */
	int64_t			 last_page, last_off;
	int64_t			 type_rows;	/* rows written this step */
	int64_t			 type_total;	/* estimate, -1 unknown */
	int64_t			 all_rows;	/* rows written this attempt */
	int64_t			 file_bytes;	/* XP_BLOCKS: in the open file */
	cJSON			*own_params;	/* params with _since resolved,
						   or NULL: params borrowed */
	int			 last_success;	/* _since was "last-success" */
	char			 ls_job[JOBQ_ID_MAX];	/* the run it
						   resolved to, or "" */
	char			 ls_since[64];	/* its transactionTime, or "" */
	char			 ls_note[512];	/* what it resolved to */
	/* progress by heap pages (Retry-After follows the work) */
	int64_t			 plan_pages[EXPORT_MAX_STEPS];	/* per step */
	int64_t			 step_pages;	/* read in the running step */
	int64_t			 plan_pages_total;
	cJSON			*elements;	/* kept element names, or NULL */
	cJSON			*required;	/* required-elements table */
	char			 err[1024];
};

static int	xp_exec(struct xp *, const char *, int, const char *const *);
static int64_t	xp_int(struct xp *, const char *, const char *);
static int	xp_setting(struct xp *, const char *, const char *);
static int	xp_tid_parse(const char *, int64_t *, int64_t *);
static void	xp_assoc_conditions(struct xp *, const struct xp_step *,
		    struct buf *);
static void	xp_conditions(struct xp *, const struct xp_step *,
		    struct buf *);
static enum job_status xp_main(struct job_ctx *, const char *);
static int	xp_check_instants(const cJSON *, char *, size_t);
static enum job_status xp_resolve_since(struct xp *);
static enum job_status xp_last_success(struct xp *);

int
job_export_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*level = cJSON_GetObjectItemCaseSensitive(params,
			    "level");
	const cJSON	*a;

	if (!cJSON_IsString(level) || (strcmp(level->valuestring, "system") &&
	    strcmp(level->valuestring, "patient") &&
	    strcmp(level->valuestring, "renewal") &&
	    strcmp(level->valuestring, "group"))) {
		snprintf(errbuf, errlen, "export: \"level\" must be system, "
		    "patient or group");
		return -1;
	}
	if (strcmp(level->valuestring, "renewal") == 0) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(params,
		    "days");

		if (d != NULL && (!cJSON_IsNumber(d) || d->valuedouble < 1 ||
		    d->valuedouble > 366 || d->valuedouble !=
		    (double)d->valueint)) {
			snprintf(errbuf, errlen, "renewal-export: \"days\" must "
			    "be an integer from 1 to 366");
			return -1;
		}
	}
	if (strcmp(level->valuestring, "group") == 0 &&
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(params,
	    "group"))) {
		snprintf(errbuf, errlen, "export: a group export needs "
		    "\"group\"");
		return -1;
	}
	a = cJSON_GetObjectItemCaseSensitive(params, "associated");
	if (a != NULL && (!cJSON_IsString(a) || (strcmp(a->valuestring,
	    "latest") != 0 && strcmp(a->valuestring, "relevant") != 0))) {
		snprintf(errbuf, errlen, "export: \"associated\" must be "
		    "latest or relevant");
		return -1;
	}
	return xp_check_instants(params, errbuf, errlen);
}

/*
 * since (or its alias _since, the FHIR name) and until: FHIR instants;
 * since may also be "last-success" (schedules, issue 5).  The public
 * $export never gets here with anything else: export_params.c refuses
 * a non-instant _since with a 400 before a job exists.
 */
static int
xp_check_instants(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*s = cJSON_GetObjectItemCaseSensitive(params, "since");
	const cJSON	*a = cJSON_GetObjectItemCaseSensitive(params, "_since");
	const cJSON	*u = cJSON_GetObjectItemCaseSensitive(params, "until");

	if (s != NULL && a != NULL) {
		snprintf(errbuf, errlen, "export: give \"_since\" or "
		    "\"since\", not both");
		return -1;
	}
	if (s == NULL)
		s = a;
	if (s != NULL && (!cJSON_IsString(s) || (strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) != 0 && !ndjson_valid_instant(
	    s->valuestring, strlen(s->valuestring))))) {
		snprintf(errbuf, errlen, "export: \"_since\" must be a FHIR "
		    "instant (e.g. 2026-01-31T00:00:00Z) or \""
		    EXPORT_SINCE_LAST_SUCCESS "\"");
		return -1;
	}
	if (u != NULL && (!cJSON_IsString(u) || !ndjson_valid_instant(
	    u->valuestring, strlen(u->valuestring)))) {
		snprintf(errbuf, errlen, "export: \"until\" must be a FHIR "
		    "instant (e.g. 2026-01-31T00:00:00Z)");
		return -1;
	}
	return 0;
}

static const char *
xp_str(const cJSON *obj, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
xp_exec(struct xp *x, const char *sql, int n, const char *const *params)
{
	if (db_exec(x->conn, sql, n, params, x->err, sizeof(x->err)) == -1) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		return -1;
	}
	return 0;
}

/* Binds a value for current_setting('bulkhead.<name>') in this
 * transaction. */
static int
xp_setting(struct xp *x, const char *name, const char *value)
{
	char		 key[80];
	const char	*p[2];

	snprintf(key, sizeof(key), "bulkhead.%s", name);
	p[0] = key;
	p[1] = value;
	return xp_exec(x, "SELECT set_config($1, $2, true)", 2, p);
}

/* ---- plan ------------------------------------------------------------ */

static int
xp_listed(const cJSON *arr, const char *s)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return 1;
	return 0;
}

/* Rewrites "$N" of compiled search SQL into the setting bulkhead.pN. */
static char *
xp_rewrite_params(const char *sql)
{
	struct buf	 b;
	const char	*p;

	buf_init(&b, EXPORT_SQL_MAX);
	for (p = sql; *p != '\0'; p++) {
		if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			size_t n = strspn(p + 1, "0123456789");

			(void)buf_printf(&b, "current_setting('bulkhead.p%.*s')",
			    (int)n, p + 1);
			p += n;
		} else
			(void)buf_putc(&b, *p);
	}
	return buf_steal(&b, NULL);
}

/* Compiles the type's _typeFilter queries (OR'ed, EXP-P-TF-5) and binds
 * their values.  Sets *out to NULL when the type has no filter. */
static int
xp_filter(struct xp *x, const char *type, char **out)
{
	const cJSON		*filters, *list, *q;
	struct search_sql	 ss;
	struct buf		 b;
	char			 name[32], err[512], *part;
	int			 i, rc = -1;

	*out = NULL;
	filters = cJSON_GetObjectItemCaseSensitive(x->params, "typeFilters");
	list = cJSON_GetObjectItemCaseSensitive(filters, type);
	if (cJSON_GetArraySize(list) == 0)
		return 0;
	buf_init(&b, EXPORT_SQL_MAX);
	(void)buf_puts(&b, "(");
	cJSON_ArrayForEach(q, list) {
		search_sql_init(&ss);
		if (!cJSON_IsString(q) || search_compile(type, q->valuestring,
		    x->nfilter_params + 1, &ss, err, sizeof(err)) == -1) {
			job_ctx_error(x->ctx, "export: _typeFilter %s: %s",
			    type, cJSON_IsString(q) ? err : "not a string");
			search_sql_free(&ss);
			goto out;
		}
		for (i = 0; i < ss.ss_nparams; i++) {
			snprintf(name, sizeof(name), "p%d",
			    x->nfilter_params + 1 + i);
			if (xp_setting(x, name, ss.ss_params[i]) == -1) {
				search_sql_free(&ss);
				goto out;
			}
		}
		x->nfilter_params += ss.ss_nparams;
		part = xp_rewrite_params(ss.ss_where.b_data);
		if (b.b_len > 1)
			(void)buf_puts(&b, " OR ");
		(void)buf_printf(&b, "(%s)", part);
		free(part);
		search_sql_free(&ss);
	}
	(void)buf_puts(&b, ")");
	*out = buf_steal(&b, NULL);
	rc = 0;
 out:
	buf_free(&b);
	return rc;
}

/* The partition holding a type: the one whose bound lists it, else the
 * default partition. */
static int
xp_table(struct xp *x, const char *type, char *out, size_t outlen,
    int *shared)
{
	const char	*p[1] = { type };
	PGresult	*res;
	char		*ident;

	res = db_query(x->conn,
	    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
	    "FROM pg_inherits i "
	    "JOIN pg_class c ON c.oid = i.inhrelid "
	    "WHERE i.inhparent = 'resources'::regclass AND "
	    "(pg_get_expr(c.relpartbound, c.oid) = "
	    " format('FOR VALUES IN (%L)', $1::text) OR "
	    " pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') "
	    "ORDER BY pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' LIMIT 1",
	    1, p, x->err, sizeof(x->err));
	if (res == NULL || PQntuples(res) != 1) {
		job_ctx_error(x->ctx, "export: no partition for %s: %s", type,
		    res == NULL ? x->err : "none");
		PQclear(res);
		return -1;
	}
	*shared = strcmp(PQgetvalue(res, 0, 1), "DEFAULT") == 0;
	ident = PQescapeIdentifier(x->conn, PQgetvalue(res, 0, 0),
	    strlen(PQgetvalue(res, 0, 0)));
	str_lcpy(out, ident != NULL ? ident : "resources", outlen);
	PQfreemem(ident);
	PQclear(res);
	return 0;
}

static int
xp_add_step(struct xp *x, enum xp_kind kind, enum xp_scope scope,
    const char *type)
{
	struct xp_step	*s;

	if (x->nsteps >= EXPORT_MAX_STEPS) {
		job_ctx_error(x->ctx, "export: more than %d steps",
		    EXPORT_MAX_STEPS);
		return -1;
	}
	s = &x->steps[x->nsteps++];
	memset(s, 0, sizeof(*s));
	s->s_kind = kind;
	s->s_scope = scope;
	str_lcpy(s->s_type, type, sizeof(s->s_type));
	if (kind == XP_SCAN || kind == XP_LOOKUP) {
		if (xp_table(x, type, s->s_table, sizeof(s->s_table),
		    &s->s_shared) == -1 ||
		    xp_filter(x, type, &s->s_filter) == -1)
			return -1;
	}
	return 0;
}

/*
 * includeAssociatedData (EXP-P-IA-1): the Provenance step also takes the
 * Provenance of every exported row; without a Provenance step, one is
 * added for them alone.  A Provenance step that already takes every
 * Provenance (system level, no _since, _until or filter) is left alone.
 */
static int
xp_plan_associated(struct xp *x)
{
	struct xp_step	*s;
	int		 i;

	if (xp_str(x->params, "associated") == NULL)
		return 0;
	for (i = 0; i < x->nsteps; i++) {
		s = &x->steps[i];
		if ((s->s_kind != XP_SCAN && s->s_kind != XP_LOOKUP) ||
		    strcmp(s->s_type, "Provenance") != 0)
			continue;
		if (s->s_scope == XP_ALL && s->s_filter == NULL &&
		    xp_str(x->params, "since") == NULL &&
		    xp_str(x->params, "until") == NULL)
			return 0;
		s->s_kind = XP_LOOKUP;
		s->s_assoc = 1;
		return 0;
	}
	if (xp_add_step(x, XP_LOOKUP, XP_ASSOCIATED, "Provenance") == -1)
		return -1;
	x->steps[x->nsteps - 1].s_assoc = 1;
	return 0;
}

/*
 * The types to export, in manifest order: the openIMIS types first
 * (reference targets before referrers), then any other type the store
 * holds.  At Patient and Group level only compartment and context types.
 */
static int
xp_plan(struct xp *x)
{
	const char *const	*oi;
	const cJSON		*types = cJSON_GetObjectItemCaseSensitive(
				    x->params, "types");
	PGresult		*res;
	char			**all = NULL;
	size_t			 n, nall = 0, i;
	int			 cohort, rc = -1;
	int			 system = strcmp(x->level, "system") == 0;
	int			 blocks = xp_str(x->params,
				    "organizeOutputBy") != NULL;

	cohort = strcmp(x->level, "group") == 0 ||
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(x->params,
	    "patients")) > 0;
	if ((cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(x->params,
	    "warnings")) > 0 || x->ls_note[0] != '\0') &&
	    xp_add_step(x, XP_WARNINGS, XP_ALL, "OperationOutcome") == -1)
		return -1;

	if (strcmp(x->level, "renewal") == 0) {
		/* Policies due for renewal and what a renewal needs with
		 * them: beneficiaries, families, products. */
		if (xp_add_step(x, XP_LOOKUP, XP_RENEWAL_COV, "Coverage") ||
		    xp_add_step(x, XP_LOOKUP, XP_COHORT_SELF, "Patient") ||
		    xp_add_step(x, XP_LOOKUP, XP_RENEWAL_GROUP, "Group") ||
		    xp_add_step(x, XP_LOOKUP, XP_RENEWAL_PLAN, "InsurancePlan"))
			return -1;
		return 0;
	}
	oi = fhir_types_openimis(&n);
	for (i = 0; i < n; i++) {
		all = xreallocarray(all, nall + 1, sizeof(*all));
		all[nall++] = xstrdup(oi[i]);
	}
	/* Provenance has a partition of its own (011_provenance.sql). */
	res = db_query(x->conn, "SELECT DISTINCT type FROM resources_other "
	    "UNION SELECT type FROM (SELECT type FROM resources_provenance "
	    "LIMIT 1) p ORDER BY type", 0, NULL, x->err, sizeof(x->err));
	if (res == NULL) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		goto out;
	}
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		all = xreallocarray(all, nall + 1, sizeof(*all));
		all[nall++] = xstrdup(PQgetvalue(res, (int)i, 0));
	}
	PQclear(res);
	/* Types asked for but not held anywhere still get a step (an
	 * empty one): the answer is "none", not an error. */
	cJSON *t;
	cJSON_ArrayForEach(t, types) {
		int held = 0;

		for (i = 0; i < nall; i++)
			held |= strcmp(all[i], t->valuestring) == 0;
		if (!held) {
			all = xreallocarray(all, nall + 1, sizeof(*all));
			all[nall++] = xstrdup(t->valuestring);
		}
	}

	for (i = 0; i < nall; i++) {
		const char	*type = all[i];
		enum xp_scope	 scope;
		enum xp_kind	 kind;

		if (types != NULL && !xp_listed(types, type))
			continue;
		if (system) {
			kind = XP_SCAN;
			scope = XP_ALL;
		} else if (fhir_type_is_context(type)) {
			kind = cohort ? XP_LOOKUP : XP_SCAN;
			scope = cohort ? XP_REFERENCED : XP_ALL;
		} else if (strcmp(type, "Group") == 0) {
			/* All families at Patient level; the Group itself at
			 * Group level; none for a POSTed patient list. */
			if (strcmp(x->level, "group") == 0) {
				kind = XP_LOOKUP;
				scope = XP_GROUP_SELF;
			} else if (!cohort) {
				kind = XP_SCAN;
				scope = XP_ALL;
			} else
				continue;
		} else if (strcmp(type, "Patient") == 0) {
			kind = cohort ? XP_LOOKUP : XP_SCAN;
			scope = cohort ? XP_COHORT_SELF : XP_ALL;
		} else if (fhir_type_in_compartment(type)) {
			kind = cohort ? XP_LOOKUP : XP_SCAN;
			scope = cohort ? XP_COHORT : XP_COMPARTMENT;
		} else
			continue;
		/* Blocks hold a patient's compartment; Groups and context
		 * resources are left out of them (EXP-O-02 allows it). */
		if (blocks && (strcmp(type, "Group") == 0 ||
		    fhir_type_is_context(type)))
			continue;
		if (xp_add_step(x, kind, scope, type) == -1)
			goto out;
		x->steps[x->nsteps - 1].s_in_block = blocks;
	}
	if (xp_plan_associated(x) == -1)
		goto out;
	if (blocks && xp_add_step(x, XP_BLOCKS, XP_ALL, "Patient") == -1)
		goto out;
	if (xp_str(x->params, "since") != NULL && xp_add_step(x, XP_DELETED,
	    system ? XP_ALL : cohort ? XP_COHORT : XP_COMPARTMENT,
	    "Bundle") == -1)
		goto out;
	rc = 0;
 out:
	for (i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	return rc;
}

/* ---- the snapshot ------------------------------------------------------ */

/*
 * Opens the REPEATABLE READ snapshot and, on the first attempt, fixes
 * transactionTime: now(), or earlier if a transaction that writes is
 * still open, since its rows carry its start time as last_updated and
 * become visible only when it commits.  A later _since=transactionTime
 * export then still finds them (EXP-M-01, PP-09).
 */
static int
xp_snapshot(struct xp *x)
{
	PGresult	*res;
	const char	*since, *until;

	if (xp_exec(x, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL) == -1)
		return -1;
	res = db_query(x->conn,
	    "SELECT to_char(LEAST(now(), (SELECT min(xact_start) - "
	    "interval '1 microsecond' FROM pg_stat_activity "
	    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND "
	    "datname = current_database())) "
	    "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
	    0, NULL, x->err, sizeof(x->err));
	if (res == NULL) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		return -1;
	}
	if (x->tt[0] == '\0')
		str_lcpy(x->tt, PQgetvalue(res, 0, 0), sizeof(x->tt));
	PQclear(res);
	/* Page ranges must be read in physical order: no bitmap scans, no
	 * synchronized scans starting mid-table (index scans are switched
	 * per step). */
	if (xp_exec(x, "SET LOCAL synchronize_seqscans = off", 0, NULL) ||
	    xp_exec(x, "SET LOCAL enable_bitmapscan = off", 0, NULL) ||
	    xp_exec(x, "SET LOCAL work_mem = '64MB'", 0, NULL) ||
	    xp_setting(x, "tt", x->tt) == -1 ||
	    xp_setting(x, "job", job_ctx_id(x->ctx)) == -1)
		return -1;
	since = xp_str(x->params, "since");
	until = xp_str(x->params, "until");
	if ((since != NULL && xp_setting(x, "since", since) == -1) ||
	    (until != NULL && xp_setting(x, "until", until) == -1) ||
	    xp_setting(x, "group", xp_str(x->params, "group") ?
	    xp_str(x->params, "group") : "") == -1)
		return -1;
	return 0;
}

/* Group members (not inactive, period not ended) or the POSTed patients,
 * into job_patients, once per job (EXP-G-02).  Runs before the snapshot
 * in its own transaction. */
static enum job_status
xp_resolve_cohort(struct xp *x)
{
	const cJSON	*patients = cJSON_GetObjectItemCaseSensitive(x->params,
			    "patients");
	const char	*p[3];
	PGresult	*res;
	char		*list = NULL;
	int		 missing;
	enum job_status	 rc = JOB_RETRY;

	p[0] = job_ctx_id(x->ctx);
	if (xp_exec(x, "BEGIN", 0, NULL) == -1 ||
	    xp_exec(x, "DELETE FROM job_patients WHERE job_id = $1", 1, p))
		goto out;
	if (strcmp(x->level, "group") == 0) {
		p[1] = xp_str(x->params, "group");
		res = db_query(x->conn,
		    "WITH g AS (SELECT content::jsonb AS c FROM resources "
		    "  WHERE type = 'Group' AND id = $2 AND NOT deleted), "
		    "m AS (SELECT substr(e->'entity'->>'reference', 9) AS pid "
		    "  FROM g, jsonb_array_elements(coalesce(g.c->'member', "
		    "  '[]')) e WHERE e->'entity'->>'reference' LIKE "
		    "  'Patient/%' AND coalesce((e->>'inactive')::boolean, "
		    "  false) = false AND (e->'period'->>'end' IS NULL OR "
		    "  e->'period'->>'end' >= to_char(now() AT TIME ZONE "
		    "  'UTC', 'YYYY-MM-DD'))) "
		    "INSERT INTO job_patients (job_id, patient_id) "
		    "SELECT DISTINCT $1, pid FROM m "
		    "RETURNING (SELECT count(*) FROM g)", 2, p, x->err,
		    sizeof(x->err));
		if (res == NULL) {
			job_ctx_error(x->ctx, "export: group members: %s",
			    x->err);
			goto out;
		}
		PQclear(res);
	}
	if (cJSON_GetArraySize(patients) > 0) {
		char *s = cJSON_PrintUnformatted(patients);

		list = s;
		p[1] = list;
		p[2] = strcmp(x->level, "group") == 0 ? "t" : "f";
		/* Within a group, the POSTed patients narrow the members;
		 * every one must be a member (EXP-P-PA-2). */
		res = db_query(x->conn,
		    "WITH want AS (SELECT DISTINCT jsonb_array_elements_text("
		    "  $2::jsonb) AS pid), "
		    "bad AS (SELECT pid FROM want WHERE ($3::boolean AND pid "
		    "  NOT IN (SELECT patient_id FROM job_patients "
		    "  WHERE job_id = $1)) OR NOT EXISTS (SELECT 1 FROM "
		    "  resources WHERE type = 'Patient' AND id = want.pid AND "
		    "  NOT deleted)) SELECT count(*), min(pid) FROM bad",
		    3, p, x->err, sizeof(x->err));
		if (res == NULL) {
			job_ctx_error(x->ctx, "export: patients: %s", x->err);
			goto out;
		}
		missing = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
		if (missing) {
			job_ctx_error(x->ctx, "patient %s is unknown%s",
			    PQgetvalue(res, 0, 1), p[2][0] == 't' ?
			    " or not a member of the group" : "");
			PQclear(res);
			rc = JOB_FAIL;
			goto out;
		}
		PQclear(res);
		if (xp_exec(x, "DELETE FROM job_patients WHERE job_id = $1",
		    1, p) == -1 || xp_exec(x, "INSERT INTO job_patients "
		    "(job_id, patient_id) SELECT DISTINCT $1, "
		    "jsonb_array_elements_text($2::jsonb)", 2, p) == -1)
			goto out;
	}
	if (xp_exec(x, "COMMIT", 0, NULL) == -1)
		goto out;
	rc = JOB_DONE;
 out:
	if (rc != JOB_DONE)
		(void)db_exec(x->conn, "ROLLBACK", 0, NULL, x->err,
		    sizeof(x->err));
	free(list);
	return rc;
}

/*
 * The renewal window is [date of transactionTime, + days): fixed by the
 * checkpointed transactionTime, so a rescued attempt uses the same one.
 * Its cohort (the due policies' beneficiaries) is written inside the
 * snapshot and vanishes with it: nothing to clean up.
 */
static int
xp_renewal_cohort(struct xp *x)
{
	const cJSON	*d = cJSON_GetObjectItemCaseSensitive(x->params, "days");
	const char	*p[2];
	char		 days[16];
	PGresult	*res;

	snprintf(days, sizeof(days), "%d", cJSON_IsNumber(d) ? d->valueint :
	    14);
	p[0] = x->tt;
	p[1] = days;
	res = db_query(x->conn, "SELECT set_config('bulkhead.from', "
	    "to_char(($1::timestamptz AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'), "
	    "true), set_config('bulkhead.to', to_char(($1::timestamptz AT TIME "
	    "ZONE 'UTC')::date + $2::int, 'YYYY-MM-DD'), true)", 2, p, x->err,
	    sizeof(x->err));
	if (res == NULL) {
		job_ctx_error(x->ctx, "export: renewal window: %s", x->err);
		return -1;
	}
	PQclear(res);
	p[0] = job_ctx_id(x->ctx);
	if (xp_exec(x, "DELETE FROM job_patients WHERE job_id = $1", 1, p) ||
	    xp_exec(x, "INSERT INTO job_patients (job_id, patient_id) "
	    "SELECT DISTINCT $1, patient FROM resources WHERE type = "
	    "'Coverage' AND NOT deleted AND patient IS NOT NULL AND "
	    "last_updated <= current_setting('bulkhead.tt')::timestamptz AND "
	    XP_DUE("content"), 1, p))
		return -1;
	return 0;
}
/* Adds "lastSuccess": {job, transactionTime} (nulls when no earlier
 * success) to parent; returns the object. */
static cJSON *
xp_last_success_json(const struct xp *x, cJSON *parent)
{
	cJSON	*ls = cJSON_AddObjectToObject(parent, "lastSuccess");

	if (x->ls_job[0] != '\0') {
		cJSON_AddStringToObject(ls, "job", x->ls_job);
		cJSON_AddStringToObject(ls, "transactionTime", x->ls_since);
	} else {
		cJSON_AddNullToObject(ls, "job");
		cJSON_AddNullToObject(ls, "transactionTime");
	}
	return ls;
}


/* ---- checkpoints and outputs ---------------------------------------- */

static char *
xp_checkpoint(struct xp *x, int step, const char *cursor, int next_seq)
{
	cJSON	*c = cJSON_CreateObject();
	char	*s;

	cJSON_AddStringToObject(c, "transactionTime", x->tt);
	cJSON_AddNumberToObject(c, "step", step);
	cJSON_AddStringToObject(c, "cursor", cursor);
	cJSON_AddNumberToObject(c, "next_seq", next_seq);
	if (x->last_success)
		(void)xp_last_success_json(x, c);
	s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

/* Pages read so far out of plan_pages_total: the steps before the
 * running one as planned, and what the running one has read. */
static int64_t
xp_pages_done(const struct xp *x)
{
	int64_t	done = 0;
	int	i;

	for (i = 0; i < x->step && i < x->nsteps; i++)
		done += x->plan_pages[i];
	if (x->step < x->nsteps)
		done += x->step_pages < x->plan_pages[x->step] ?
		    x->step_pages : x->plan_pages[x->step];
	return done;
}

/*
 * Sizes each step for progress: a range scan reads its partition's heap
 * pages; any other step (cohort lookups, tombstones, warnings, blocks)
 * counts as one page, so with no scans every step weighs alike.  Runs in
 * the snapshot's transaction; 0 or -1 (x->err).
 */
static int
xp_plan_pages(struct xp *x)
{
	int	i;

	x->plan_pages_total = 0;
	for (i = 0; i < x->nsteps; i++) {
		const struct xp_step *s = &x->steps[i];

		x->plan_pages[i] = 1;
		if (s->s_kind == XP_SCAN && !s->s_in_block &&
		    (x->plan_pages[i] = xp_int(x, "SELECT pg_relation_size("
		    "$1::regclass) / current_setting('block_size')::int",
		    s->s_table)) < 0)
			return -1;
		if (x->plan_pages[i] == 0)
			x->plan_pages[i] = 1;
		x->plan_pages_total += x->plan_pages[i];
	}
	return 0;
}

static char *
xp_progress(struct xp *x, const struct xp_step *s)
{
	cJSON	*p = cJSON_CreateObject();
	char	*out;

	cJSON_AddStringToObject(p, "type", s->s_type);
	cJSON_AddNumberToObject(p, "done", (double)x->type_rows);
	if (x->type_total >= 0)
		cJSON_AddNumberToObject(p, "total", (double)x->type_total);
	cJSON_AddNumberToObject(p, "step", x->step + 1);
	cJSON_AddNumberToObject(p, "steps", x->nsteps);
	cJSON_AddNumberToObject(p, "pages_done", (double)xp_pages_done(x));
	cJSON_AddNumberToObject(p, "pages", (double)x->plan_pages_total);
	cJSON_AddStringToObject(p, "transactionTime", x->tt);
	out = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return out;
}

/* outfile callback: a file is complete; record it with the checkpoint
 * that resumes right after its last row. */
static int
xp_file_done(void *arg, const struct outfile_info *info, char *errbuf,
    size_t errlen)
{
	struct xp		*x = arg;
	const struct xp_step	*s = &x->steps[x->step];
	struct jobq_output	 o;
	char			 file[1400], *cp;
	int			 rc;

	if (job_files_rel(job_ctx_id(x->ctx), info->oi_name, file,
	    sizeof(file)) == -1) {
		snprintf(errbuf, errlen, "file name too long: %s",
		    info->oi_name);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.o_channel = s->s_kind == XP_WARNINGS ? "error" :
	    s->s_kind == XP_DELETED ? "deleted" : "output";
	o.o_type = s->s_kind == XP_BLOCKS ? "Patient" :
	    s->s_kind == XP_WARNINGS ? "OperationOutcome" :
	    s->s_kind == XP_DELETED ? "Bundle" : s->s_type;
	o.o_file = file;
	o.o_count = info->oi_count;
	o.o_bytes = info->oi_bytes;
	o.o_checksum = info->oi_sha256;
	cp = xp_checkpoint(x, x->step, x->last_key, info->oi_seq + 1);
	rc = job_ctx_output(x->ctx, &o, cp);
	free(cp);
	if (rc == -1) {
		snprintf(errbuf, errlen, "stopped while recording %s",
		    info->oi_name);
		return -1;
	}
	return 0;
}

/* ---- rows ------------------------------------------------------------ */

/* _elements: keeps the listed top-level elements, the mandatory ones and
 * resourceType/id/meta, and tags the result SUBSETTED (EXP-P-EL-*). */
static char *
xp_subset(struct xp *x, const char *type, const char *line, size_t len)
{
	cJSON		*r, *child, *next, *meta, *tags, *req;
	char		 qual[160];
	char		*out;

	if ((r = cJSON_ParseWithLength(line, len)) == NULL)
		return NULL;
	req = cJSON_GetObjectItemCaseSensitive(x->required, type);
	for (child = r->child; child != NULL; child = next) {
		next = child->next;
		snprintf(qual, sizeof(qual), "%s.%s", type, child->string);
		if (strcmp(child->string, "resourceType") == 0 ||
		    strcmp(child->string, "id") == 0 ||
		    strcmp(child->string, "meta") == 0 ||
		    xp_listed(x->elements, child->string) ||
		    xp_listed(x->elements, qual) || xp_listed(req,
		    child->string))
			continue;
		cJSON_Delete(cJSON_DetachItemViaPointer(r, child));
	}
	if ((meta = cJSON_GetObjectItemCaseSensitive(r, "meta")) == NULL)
		meta = cJSON_AddObjectToObject(r, "meta");
	if ((tags = cJSON_GetObjectItemCaseSensitive(meta, "tag")) == NULL ||
	    !cJSON_IsArray(tags)) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "tag");
		tags = cJSON_AddArrayToObject(meta, "tag");
	}
	cJSON_AddItemToArray(tags, cJSON_Parse(SUBSETTED_TAG));
	out = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return out;
}

/*
 * A range is read without ORDER BY: a TID range scan returns the heap in
 * physical order, and sorting every range cost PostgreSQL a third more
 * CPU.  The cursor relies on that order, so it is checked, not assumed:
 * a row at or before the previous one fails the attempt.
 */
static int
xp_scan_order(struct xp *x, int64_t page, int64_t off)
{
	if (x->last_tid && (page < x->last_page ||
	    (page == x->last_page && off <= x->last_off))) {
		job_ctx_error(x->ctx, "export: rows of a page range came out "
		    "of physical order (after %s)", x->last_key);
		return -1;
	}
	return 0;
}

/* One COPY row: the cursor, then the payload. */
static int
xp_row(struct xp *x, const struct xp_step *s, char *row, int len)
{
	char		*val[2], *payload, *sub = NULL;
	size_t		 vlen[2], plen;
	int64_t		 page = 0, off = 0;
	struct buf	 b;
	int		 rc;

	if (copybin_split(row, (size_t)len, 2, val, vlen) == -1 ||
	    (s->s_kind == XP_SCAN && copybin_tid(val[0], vlen[0], &page,
	    &off) == -1)) {
		job_ctx_error(x->ctx, "export: malformed COPY row");
		return -1;
	}
	payload = val[1];
	plen = vlen[1];
	if (s->s_kind == XP_SCAN && xp_scan_order(x, page, off) == -1)
		return -1;
	if (s->s_kind == XP_DELETED) {
		buf_init(&b, 4096);
		(void)buf_puts(&b, "{\"resourceType\":\"Bundle\",\"type\":"
		    "\"transaction\",\"entry\":[{\"request\":{\"method\":"
		    "\"DELETE\",\"url\":\"");
		(void)buf_json_escape(&b, payload, plen);
		(void)buf_puts(&b, "\"}}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
	} else {
		if (x->elements != NULL && s->s_kind != XP_WARNINGS &&
		    (sub = xp_subset(x, s->s_type, payload, plen)) != NULL) {
			payload = sub;
			plen = strlen(sub);
		}
		rc = outfile_set_write(x->set, payload, plen, x->err,
		    sizeof(x->err));
		cJSON_free(sub);
	}
	if (rc == -1) {
		if (!job_ctx_stopping(x->ctx))
			job_ctx_error(x->ctx, "export: writing %s: %s",
			    s->s_type, x->err);
		return -1;
	}
	/* Only now is the row in a file: the cursor may move past it. */
	if (s->s_kind == XP_SCAN) {
		snprintf(x->last_key, sizeof(x->last_key), "(%lld,%lld)",
		    (long long)page, (long long)off);
		x->last_page = page;
		x->last_off = off;
		x->last_tid = 1;
	} else
		str_lcpy(x->last_key, val[0], sizeof(x->last_key));
	x->type_rows++;
	x->all_rows++;
	return 0;
}

/*
 * organizeOutputBy=Patient (EXP-O-02): (pid, type, content) rows in
 * patient order.  Each block starts with a Parameters header naming its
 * patient; files close only between blocks, so a file never splits a
 * block and the cursor (the last complete block's patient) stays exact.
 */
static int
xp_block_row(struct xp *x, const struct xp_step *s, char *row, int len)
{
	char		*val[3], *pid, *payload, *sub = NULL;
	char		 type[72];
	size_t		 vlen[3], plen;
	struct buf	 b;
	int		 rc = -1;

	buf_init(&b, 4096);
	if (copybin_split(row, (size_t)len, 3, val, vlen) == -1 ||
	    vlen[1] >= sizeof(type)) {
		job_ctx_error(x->ctx, "export: malformed COPY row");
		goto out;
	}
	pid = val[0];
	memcpy(type, val[1], vlen[1] + 1);
	payload = val[2];
	plen = vlen[2];
	if (strcmp(pid, x->last_key) != 0) {
		if (outfile_set_current_count(x->set) > 0 &&
		    (outfile_set_current_count(x->set) >=
		    x->cfg->export_file_resources ||
		    x->file_bytes >= x->cfg->export_file_bytes)) {
			if (outfile_set_close_current(x->set, x->err,
			    sizeof(x->err)) == -1)
				goto fail;
			x->file_bytes = 0;
		}
		str_lcpy(x->last_key, pid, sizeof(x->last_key));
		(void)buf_puts(&b, "{\"resourceType\":\"Parameters\","
		    "\"parameter\":[{\"name\":\"header\",\"valueReference\":"
		    "{\"reference\":\"Patient/");
		(void)buf_json_escape(&b, pid, strlen(pid));
		(void)buf_puts(&b, "\"}}]}");
		if (outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err)) == -1)
			goto fail;
		x->file_bytes += (int64_t)b.b_len + 1;
	}
	if (x->elements != NULL &&
	    (sub = xp_subset(x, type, payload, plen)) != NULL) {
		payload = sub;
		plen = strlen(sub);
	}
	if (outfile_set_write(x->set, payload, plen, x->err,
	    sizeof(x->err)) == -1)
		goto fail;
	x->file_bytes += (int64_t)plen + 1;
	x->type_rows++;
	x->all_rows++;
	rc = 0;
	goto out;
 fail:
	if (!job_ctx_stopping(x->ctx))
		job_ctx_error(x->ctx, "export: writing %s blocks: %s",
		    s->s_type, x->err);
 out:
	cJSON_free(sub);
	buf_free(&b);
	return rc;
}

/* The UNION of the block types, each with its own conditions, sorted by
 * patient, then type (Patient first), then id. */
static void
xp_blocks_sql(struct xp *x, struct buf *sql)
{
	struct buf	cond;
	int		i, n = 0;

	(void)buf_puts(sql, "COPY (SELECT pid, type, content FROM (");
	for (i = 0; i < x->nsteps; i++) {
		const struct xp_step *t = &x->steps[i];
		int patient = strcmp(t->s_type, "Patient") == 0;

		if (!t->s_in_block)
			continue;
		buf_init(&cond, EXPORT_SQL_MAX);
		xp_conditions(x, t, &cond);
		(void)buf_printf(sql, "%sSELECT %s AS pid, %d AS ord, id, "
		    "type, content FROM %s WHERE %s", n++ ? " UNION ALL " : "",
		    patient ? "id" : "patient", patient ? 0 : i + 1,
		    t->s_table, cond.b_data);
		buf_free(&cond);
	}
	if (n == 0)
		(void)buf_puts(sql, "SELECT NULL::text AS pid, 0 AS ord, "
		    "NULL::text AS id, NULL::text AS type, NULL::text AS "
		    "content WHERE false");
	(void)buf_puts(sql, ") b WHERE pid IS NOT NULL AND pid > "
	    "current_setting('bulkhead.cursor') ORDER BY pid, ord, id) "
	    "TO STDOUT " EXPORT_COPY);
}

/* Runs one COPY ... TO STDOUT and writes its rows. */
static int
xp_copy(struct xp *x, const struct xp_step *s, const char *sql)
{
	PGresult	*res;
	char		*row;
	int		 len, first = 1, rc = -1;

	res = PQexec(x->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		db_errmsg(x->conn, x->err, sizeof(x->err));
		job_ctx_error(x->ctx, "export: %s: %s", s->s_type, x->err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((len = PQgetCopyData(x->conn, &row, 0)) > 0) {
		char	*r = row;
		int	 bad = 0;

		/* The header comes before the first row, in its message. */
		if (first) {
			first = 0;
			if (!copybin_is_header(row, (size_t)len))
				bad = -1;
			r += COPYBIN_HEADER;
			len -= COPYBIN_HEADER;
		}
		if (bad)
			job_ctx_error(x->ctx, "export: not a binary COPY");
		else if (len == 0 || copybin_is_trailer(r, (size_t)len))
			;	/* the header alone, or the trailer */
		else
			bad = s->s_kind == XP_BLOCKS ? xp_block_row(x, s, r,
			    len) : xp_row(x, s, r, len);
		PQfreemem(row);
		if (bad ||
		    throttle_take(job_ctx_throttle(x->ctx), 1, len) == -1 ||
		    ((x->type_rows % EXPORT_TICK_ROWS) == 0 &&
		    job_ctx_tick(x->ctx) == -1)) {
			/* Abandon the COPY: the transaction is rolled back
			 * with the connection's next use. */
			PQrequestCancel(x->conn);
			while ((len = PQgetCopyData(x->conn, &row, 0)) > 0)
				PQfreemem(row);
			goto drain;
		}
	}
	if (len == -2) {
		db_errmsg(x->conn, x->err, sizeof(x->err));
		job_ctx_error(x->ctx, "export: %s: %s", s->s_type, x->err);
		goto drain;
	}
	rc = 0;
 drain:
	while ((res = PQgetResult(x->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_errmsg(x->conn, x->err, sizeof(x->err));
			job_ctx_error(x->ctx, "export: %s: %s", s->s_type,
			    x->err);
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* The WHERE conditions every type step shares. */
static void
xp_conditions(struct xp *x, const struct xp_step *s, struct buf *b)
{
	const char	*cohort = "(SELECT patient_id FROM job_patients "
			    "WHERE job_id = current_setting('bulkhead.job'))";

	(void)buf_puts(b, s->s_kind == XP_DELETED ? "deleted" : "NOT deleted");
	/* Scalar subqueries: computed once per statement, not per row. */
	(void)buf_puts(b, " AND last_updated <= (SELECT "
	    "current_setting('bulkhead.tt')::timestamptz)");
	if (xp_str(x->params, "since") != NULL)
		(void)buf_puts(b, " AND last_updated > (SELECT "
		    "current_setting('bulkhead.since')::timestamptz)");
	if (xp_str(x->params, "until") != NULL)
		(void)buf_puts(b, " AND last_updated < (SELECT "
		    "current_setting('bulkhead.until')::timestamptz)");
	if (s->s_kind == XP_DELETED)
		(void)buf_puts(b, " AND type = ANY(current_setting("
		    "'bulkhead.types')::text[])");
	else if (s->s_shared)
		/* A name from fhir_type_valid's fixed list: [A-Za-z]+. */
		(void)buf_printf(b, " AND type = '%s'", s->s_type);
	switch (s->s_scope) {
	case XP_ALL:
		break;
	case XP_ASSOCIATED:
		(void)buf_puts(b, " AND false");
		break;
	case XP_COMPARTMENT:
		(void)buf_puts(b, " AND patient IS NOT NULL");
		break;
	case XP_COHORT:
	case XP_COHORT_SELF:
		if (s->s_kind == XP_DELETED)
			(void)buf_printf(b, " AND (patient IN %s OR (type = "
			    "'Group' AND id = current_setting("
			    "'bulkhead.group')))", cohort);
		else
			(void)buf_printf(b, " AND patient IN %s", cohort);
		break;
	case XP_GROUP_SELF:
		(void)buf_puts(b, " AND id = current_setting('bulkhead.group')");
		break;
	case XP_RENEWAL_COV:
		(void)buf_printf(b, " AND %s", XP_DUE("content"));
		break;
	case XP_RENEWAL_GROUP:
		(void)buf_printf(b, " AND id IN (SELECT substr(jsonb_path_query("
		    "p.content::jsonb, '$.extension[*] ? (@.url like_regex "
		    "\"patient-group-reference$\").valueReference.reference') "
		    "#>> '{}', 7) FROM resources p WHERE p.type = 'Patient' AND "
		    "NOT p.deleted AND p.patient IN %s)", cohort);
		break;
	case XP_RENEWAL_PLAN:
		(void)buf_printf(b, " AND EXISTS (SELECT 1 FROM "
		    "jsonb_array_elements(content::jsonb->'identifier') i WHERE "
		    "i->>'value' IN (SELECT cl->>'value' FROM resources c, "
		    "jsonb_array_elements(c.content::jsonb->'class') cl WHERE "
		    "c.type = 'Coverage' AND NOT c.deleted AND %s))",
		    XP_DUE("c.content"));
		break;
	case XP_REFERENCED:
		(void)buf_printf(b, " AND id IN (SELECT (regexp_matches("
		    "c.content, '\"reference\"\\s*:\\s*\"%s/([A-Za-z0-9.-]"
		    "{1,64})\"', 'g'))[1] FROM resources c WHERE NOT "
		    "c.deleted AND ((c.type IN ('Patient', 'Coverage', "
		    "'Claim', 'ClaimResponse') AND c.patient IN %s) OR "
		    "(c.type = 'Group' AND c.id = current_setting("
		    "'bulkhead.group'))))", s->s_type, cohort);
		break;
	}
	if (s->s_filter != NULL)
		(void)buf_printf(b, " AND %s", s->s_filter);
}

/*
 * True (SQL) when ref, a "Type/id" reference, names a row some type step
 * of this export writes: that step's own conditions, checked through the
 * primary key of the row's partition.
 */
static void
xp_exported(struct xp *x, const char *ref, struct buf *b)
{
	const struct xp_step	*t;
	struct buf		 cond;
	int			 i, n = 0;

	buf_init(&cond, EXPORT_SQL_MAX);
	(void)buf_puts(b, "(");
	for (i = 0; i < x->nsteps; i++) {
		t = &x->steps[i];
		if ((t->s_kind != XP_SCAN && t->s_kind != XP_LOOKUP) ||
		    t->s_assoc)
			continue;
		buf_reset(&cond);
		xp_conditions(x, t, &cond);
		/* s_type: a name from fhir_type_valid's list, [A-Za-z]+. */
		(void)buf_printf(b, "%s(split_part(%s, '/', 1) = '%s' AND "
		    "EXISTS (SELECT 1 FROM %s WHERE type = '%s' AND id = "
		    "split_part(%s, '/', 2) AND %s))", n++ ? " OR " : "", ref,
		    t->s_type, t->s_table, t->s_type, ref, cond.b_data);
	}
	(void)buf_puts(b, n ? ")" : "false)");
	buf_free(&cond);
}

/*
 * The conditions of a Provenance step with associated data: its own rows
 * (none for XP_ASSOCIATED) or the Provenance of exported rows, all of
 * them (RelevantProvenanceResources) or per target the newest by
 * 'recorded' (LatestProvenanceResources).  Reads every Provenance once;
 * only exports that ask for associated data get here.
 */
static void
xp_assoc_conditions(struct xp *x, const struct xp_step *s, struct buf *b)
{
	const char	*targets = "jsonb_array_elements(CASE WHEN "
			    "jsonb_typeof(a.content::jsonb->'target') = "
			    "'array' THEN a.content::jsonb->'target' ELSE "
			    "'[]' END)";
	const char	*recorded = "CASE WHEN a.content::jsonb->>'recorded' "
			    "~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
			    "[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' "
			    "THEN (a.content::jsonb->>'recorded')::timestamptz "
			    "END";
	const char	*live = "a.type = 'Provenance' AND NOT a.deleted AND "
			    "a.last_updated <= (SELECT current_setting("
			    "'bulkhead.tt')::timestamptz)";
	struct buf	 own;

	buf_init(&own, EXPORT_SQL_MAX);
	xp_conditions(x, s, &own);
	(void)buf_printf(b, "NOT deleted AND last_updated <= (SELECT "
	    "current_setting('bulkhead.tt')::timestamptz) AND type = "
	    "'Provenance' AND ((%s) OR id IN (", own.b_data);
	if (strcmp(xp_str(x->params, "associated"), "relevant") == 0) {
		(void)buf_printf(b, "SELECT a.id FROM %s a WHERE %s AND "
		    "EXISTS (SELECT 1 FROM %s bh_t(t) WHERE ", s->s_table,
		    live, targets);
		xp_exported(x, "(bh_t.t->>'reference')", b);
		(void)buf_puts(b, ")");
	} else {
		(void)buf_printf(b, "SELECT DISTINCT ON (bh_r.ref) a.id FROM "
		    "%s a, LATERAL (SELECT t->>'reference' AS ref FROM %s t) "
		    "bh_r WHERE %s AND ", s->s_table, targets, live);
		xp_exported(x, "bh_r.ref", b);
		(void)buf_printf(b, " ORDER BY bh_r.ref, %s DESC NULLS LAST, "
		    "a.id DESC", recorded);
	}
	(void)buf_puts(b, "))");
	buf_free(&own);
}

static int64_t
xp_int(struct xp *x, const char *sql, const char *arg)
{
	const char	*p[1] = { arg };
	PGresult	*res;
	const char	*errstr;
	int64_t		 v = -1;

	if ((res = db_query(x->conn, sql, arg ? 1 : 0, arg ? p : NULL,
	    x->err, sizeof(x->err))) == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		(void)str_to_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX,
		    &v, &errstr);
	PQclear(res);
	return v;
}

/* The warnings of lenient handling, one OperationOutcome per line. */
static int
xp_warnings(struct xp *x, const struct xp_step *s)
{
	const cJSON	*w;
	struct buf	 b;
	int		 i = 0, rc = 0;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(x->params,
	    "warnings")) {
		if (i++ < x->next_seq - 1 || !cJSON_IsString(w))
			continue;
		buf_init(&b, 8192);
		(void)buf_puts(&b, "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"warning\",\"code\":"
		    "\"not-supported\",\"diagnostics\":\"");
		(void)buf_json_escape(&b, w->valuestring,
		    strlen(w->valuestring));
		(void)buf_puts(&b, "\"}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
		if (rc == -1)
			break;
		snprintf(x->last_key, sizeof(x->last_key), "%d", i);
	}
	/* After them, what _since=last-success resolved to, so that the
	 * manifest says which window the export holds. */
	if (rc == 0 && x->ls_note[0] != '\0' && i++ >= x->next_seq - 1) {
		buf_init(&b, 8192);
		(void)buf_puts(&b, "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"information\",\"code\":"
		    "\"informational\",\"diagnostics\":\"");
		(void)buf_json_escape(&b, x->ls_note, strlen(x->ls_note));
		(void)buf_puts(&b, "\"}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
		if (rc == 0)
			snprintf(x->last_key, sizeof(x->last_key), "%d", i);
	}
	(void)s;
	return rc;
}

/* Parses a "(page,offset)" tid.  0, or -1 if it is not one. */
static int
xp_tid_parse(const char *tid, int64_t *page, int64_t *off)
{
	char		*end;
	long long	 p, o;

	if (tid[0] != '(' || tid[1] < '0' || tid[1] > '9')
		return -1;
	p = strtoll(tid + 1, &end, 10);
	if (*end != ',' || end[1] < '0' || end[1] > '9')
		return -1;
	o = strtoll(end + 1, &end, 10);
	if (*end != ')' || p < 0 || o < 0)
		return -1;
	*page = p;
	*off = o;
	return 0;
}

/* The page number of a "(page,offset)" tid cursor, 0 if not one. */
static int64_t
xp_tid_page(const char *tid)
{
	int64_t	page, off;

	return xp_tid_parse(tid, &page, &off) == 0 ? page : 0;
}

static int
xp_run_step(struct xp *x)
{
	struct xp_step	*s = &x->steps[x->step];
	struct buf	 sql, cond;
	char		*progress, start[64], end[64];
	int64_t		 pages, page, first;
	int		 rc = -1;

	buf_init(&sql, EXPORT_SQL_MAX);
	buf_init(&cond, EXPORT_SQL_MAX);
	x->type_rows = 0;
	x->type_total = -1;
	x->step_pages = 0;
	str_lcpy(x->last_key, x->cursor, sizeof(x->last_key));
	x->last_tid = xp_tid_parse(x->last_key, &x->last_page,
	    &x->last_off) == 0;
	/* Blocks roll files themselves, between blocks (0: no limit). */
	x->file_bytes = 0;
	x->set = outfile_set_open(x->dir, s->s_kind == XP_WARNINGS ?
	    "OperationOutcome" : s->s_kind == XP_DELETED ? "Bundle-deleted" :
	    s->s_kind == XP_BLOCKS ? "Patient-blocks" : s->s_type,
	    x->next_seq, s->s_kind == XP_BLOCKS ? 0 :
	    x->cfg->export_file_resources, s->s_kind == XP_BLOCKS ? 0 :
	    x->cfg->export_file_bytes, x->cfg->zstd_level, xp_file_done, x,
	    x->err, sizeof(x->err));
	if (x->set == NULL) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		goto out;
	}
	/* Ranges must be TID range scans (physical order); cohort lookups
	 * want their indexes. */
	if (xp_setting(x, "type", s->s_type) == -1 || xp_exec(x,
	    s->s_kind == XP_SCAN ? "SET LOCAL enable_indexscan = off" :
	    "SET LOCAL enable_indexscan = on", 0, NULL) == -1)
		goto out;
	if (s->s_kind == XP_WARNINGS) {
		if (xp_warnings(x, s) == -1)
			goto out;
		goto close;
	}
	if (s->s_kind == XP_BLOCKS) {
		if (xp_setting(x, "cursor", x->cursor) == -1)
			goto out;
		xp_blocks_sql(x, &sql);
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		goto close;
	}
	if (s->s_assoc)
		xp_assoc_conditions(x, s, &cond);
	else
		xp_conditions(x, s, &cond);
	if (s->s_kind == XP_LOOKUP || s->s_kind == XP_DELETED) {
		/* The cursor is bound like every other value. */
		if (xp_setting(x, "cursor", x->cursor) == -1)
			goto out;
		(void)buf_printf(&sql, "COPY (SELECT %s, %s FROM %s WHERE %s "
		    "AND %s > current_setting('bulkhead.cursor') ORDER BY %s) "
		    "TO STDOUT " EXPORT_COPY,
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id",
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "content",
		    s->s_kind == XP_DELETED ? "resources" : s->s_table,
		    cond.b_data,
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id",
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id");
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		goto close;
	}

	/* XP_SCAN: page ranges in order, resuming after the cursor. */
	x->type_total = xp_int(x, "SELECT greatest(reltuples, 0)::bigint "
	    "FROM pg_class WHERE oid = $1::regclass", s->s_table);
	pages = xp_int(x, "SELECT pg_relation_size($1::regclass) / "
	    "current_setting('block_size')::int", s->s_table);
	if (pages < 0) {
		job_ctx_error(x->ctx, "export: size of %s: %s", s->s_table,
		    x->err);
		goto out;
	}
	first = xp_tid_page(x->cursor);
	for (page = first - first % EXPORT_CHUNK_PAGES; page < pages;
	    page += EXPORT_CHUNK_PAGES) {
		/* The first range resumes after the cursor's row. */
		int resume = page == first - first % EXPORT_CHUNK_PAGES &&
		    x->cursor[0] == '(';

		if (resume)
			str_lcpy(start, x->cursor, sizeof(start));
		else
			snprintf(start, sizeof(start), "(%lld,0)",
			    (long long)page);
		snprintf(end, sizeof(end), "(%lld,0)",
		    (long long)(page + EXPORT_CHUNK_PAGES));
		if (xp_setting(x, "lo", start) == -1 ||
		    xp_setting(x, "hi", end) == -1)
			goto out;
		buf_reset(&sql);
		(void)buf_printf(&sql, "COPY (SELECT ctid, content FROM %s "
		    "WHERE ctid %s current_setting('bulkhead.lo')::tid AND "
		    "ctid < current_setting('bulkhead.hi')::tid AND %s) "
		    "TO STDOUT " EXPORT_COPY, s->s_table,
		    resume ? ">" : ">=", cond.b_data);
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		x->step_pages = page + EXPORT_CHUNK_PAGES < pages ?
		    page + EXPORT_CHUNK_PAGES : pages;
		progress = xp_progress(x, s);
		if (job_ctx_save(x->ctx, progress, NULL) == -1) {
			free(progress);
			goto out;
		}
		free(progress);
	}
 close:
	if (outfile_set_close_current(x->set, x->err, sizeof(x->err)) == -1) {
		if (!job_ctx_stopping(x->ctx))
			job_ctx_error(x->ctx, "export: %s", x->err);
		goto out;
	}
	rc = 0;
 out:
	if (rc == -1)
		outfile_set_abort(x->set);
	else
		outfile_set_free(x->set);
	x->set = NULL;
	buf_free(&sql);
	buf_free(&cond);
	return rc;
}

/* Removes files of this job that no job_outputs row lists: what a crashed
 * attempt left behind (a .tmp, or a file renamed but not yet recorded). */
static void
xp_sweep(struct xp *x)
{
	DIR		*d;
	struct dirent	*de;
	const char	*id = job_ctx_id(x->ctx);
	char		 rel[1400], path[1400];

	if ((d = opendir(x->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || job_files_rel(id, de->d_name, rel,
		    sizeof(rel)) == -1)
			continue;
		/* Unlisted: remove it; a database error keeps it. */
		if (jobq_output_find(x->conn, id, rel, 0, NULL, NULL, 0,
		    x->err, sizeof(x->err)) == 0 &&
		    job_files_path(x->dir, de->d_name, path,
		    sizeof(path)) == 0)
			(void)unlink(path);
	}
	closedir(d);
}

/* Reads the resume point saved by an earlier attempt, if any. */
static void
xp_resume(struct xp *x)
{
	const cJSON	*cp = job_ctx_checkpoint(x->ctx), *v;

	x->step = 0;
	x->cursor[0] = '\0';
	x->next_seq = 1;
	if (cp == NULL)
		return;
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "transactionTime")) &&
	    cJSON_IsString(v))
		str_lcpy(x->tt, v->valuestring, sizeof(x->tt));
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "step")) &&
	    cJSON_IsNumber(v))
		x->step = v->valueint;
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "cursor")) &&
	    cJSON_IsString(v))
		str_lcpy(x->cursor, v->valuestring, sizeof(x->cursor));
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "next_seq")) &&
	    cJSON_IsNumber(v))
		x->next_seq = v->valueint;
}

int
job_export_check_client(const cJSON *params, const char *client,
    char *errbuf, size_t errlen)
{
	const cJSON	*s;

	if ((s = cJSON_GetObjectItemCaseSensitive(params, "_since")) == NULL)
		s = cJSON_GetObjectItemCaseSensitive(params, "since");
	if (cJSON_IsString(s) && strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) == 0 &&
	    schedule_client_name(client) == NULL) {
		snprintf(errbuf, errlen, "export: _since \"last-success\" is "
		    "for jobs of a schedule: give --client schedule:NAME, or "
		    "a FHIR instant");
		return -1;
	}
	return 0;
}

/*
 * Normalises since: the alias _since becomes since, and "last-success"
 * becomes the transactionTime of the last successful export of the same
 * schedule, or no since at all when there is none (xp_last_success).
 * x->params then points at a copy the job owns.  JOB_DONE to go on, or
 * how the job ends.
 */
static enum job_status
xp_resolve_since(struct xp *x)
{
	const cJSON	*s = cJSON_GetObjectItemCaseSensitive(x->params,
			    "since");
	const cJSON	*a = cJSON_GetObjectItemCaseSensitive(x->params,
			    "_since");
	char		 since[64] = "";
	enum job_status	 st;

	if (a != NULL)
		s = a;
	if (!cJSON_IsString(s) || (a == NULL && strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) != 0))
		return JOB_DONE;	/* none, or an instant already */
	x->own_params = cJSON_Duplicate(x->params, 1);
	if (strcmp(s->valuestring, EXPORT_SINCE_LAST_SUCCESS) != 0)
		str_lcpy(since, s->valuestring, sizeof(since));
	else {
		x->last_success = 1;
		if ((st = xp_last_success(x)) != JOB_DONE)
			return st;
		str_lcpy(since, x->ls_since, sizeof(since));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(x->own_params, "_since");
	cJSON_DeleteItemFromObjectCaseSensitive(x->own_params, "since");
	if (since[0] != '\0')
		cJSON_AddStringToObject(x->own_params, "since", since);
	x->params = x->own_params;
	return JOB_DONE;
}

/*
 * _since=last-success: the transactionTime of the most recent completed
 * export of the job's schedule (jobs.client = "schedule:<name>"), fixed
 * when the job first starts, not when the schedule fired: a run still
 * going at the fire may well have finished by the time this one starts,
 * and its transactionTime is then the better bound.  Either way windows
 * of consecutive runs overlap rather than leave gaps, since only
 * completed runs count and the latest transactionTime of them is taken.
 * Kept in the checkpoint, so a rescued or resumed job keeps the window
 * it started with.  No earlier success (or it was pruned from the
 * history): everything, said so in the result and the manifest.
 */
static enum job_status
xp_last_success(struct xp *x)
{
	const cJSON	*cp = job_ctx_checkpoint(x->ctx), *ls, *v;
	const char	*client = job_ctx_client(x->ctx);
	const char	*sched;

	if ((sched = schedule_client_name(client)) == NULL) {
		job_ctx_error(x->ctx, "export: _since \"last-success\" is "
		    "for jobs that a schedule submits (client \"schedule:"
		    "NAME\"); this job's client is %s", client != NULL ?
		    client : "none");
		return JOB_FAIL;
	}
	ls = cp != NULL ? cJSON_GetObjectItemCaseSensitive(cp,
	    "lastSuccess") : NULL;
	if (cJSON_IsObject(ls)) {
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(ls,
		    "job")))
			str_lcpy(x->ls_job, v->valuestring, sizeof(x->ls_job));
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(ls,
		    "transactionTime")))
			str_lcpy(x->ls_since, v->valuestring,
			    sizeof(x->ls_since));
	} else {
		if (jobq_last_success(x->conn, "export", client,
		    job_ctx_id(x->ctx), x->ls_job, sizeof(x->ls_job),
		    x->ls_since, sizeof(x->ls_since), x->err,
		    sizeof(x->err)) == -1) {
			job_ctx_error(x->ctx, "export: finding the last "
			    "success: %s", x->err);
			return JOB_RETRY;
		}
	}
	if (x->ls_job[0] != '\0' && x->ls_since[0] != '\0')
		snprintf(x->ls_note, sizeof(x->ls_note), "_since=last-success "
		    "of schedule %s: resources changed after %s, the "
		    "transactionTime of its last successful export (job %s)",
		    sched, x->ls_since, x->ls_job);
	else {
		x->ls_job[0] = x->ls_since[0] = '\0';
		snprintf(x->ls_note, sizeof(x->ls_note), "_since=last-success "
		    "of schedule %s: no earlier successful export, so this one "
		    "holds everything (no _since)", sched);
	}
	log_info("job %s: %s", job_ctx_id(x->ctx), x->ls_note);
	return JOB_DONE;
}

static cJSON *
xp_required_table(void)
{
	const struct embed_file	*f = embed_find("fhir/required-elements.json");

	return f != NULL ? cJSON_Parse((const char *)f->ef_data) : NULL;
}

static char *
xp_types_setting(const struct xp *x)
{
	struct buf	b;
	int		i, n = 0;

	buf_init(&b, EXPORT_SQL_MAX);
	(void)buf_putc(&b, '{');
	for (i = 0; i < x->nsteps; i++) {
		if (x->steps[i].s_kind != XP_SCAN &&
		    x->steps[i].s_kind != XP_LOOKUP)
			continue;
		/* Type names are [A-Za-z]+ (fhir_type_valid): no quoting. */
		(void)buf_printf(&b, "%s%s", n++ ? "," : "",
		    x->steps[i].s_type);
	}
	(void)buf_putc(&b, '}');
	return buf_steal(&b, NULL);
}

enum job_status
job_export_run(struct job_ctx *ctx)
{
	return xp_main(ctx, NULL);
}

/* level: NULL to take it from the params. */
static enum job_status
xp_main(struct job_ctx *ctx, const char *level)
{
	struct xp	*x;
	enum job_status	 rc = JOB_RETRY, st;
	char		*types = NULL, *cp, *result;
	cJSON		*res;
	int		 i, started;

	x = xcalloc(1, sizeof(*x));
	x->ctx = ctx;
	x->cfg = job_ctx_cfg(ctx);
	x->params = job_ctx_params(ctx);
	x->level = level != NULL ? level : xp_str(x->params, "level");
	if (level != NULL ? job_renewal_check(x->params, x->err,
	    sizeof(x->err)) == -1 : job_export_check(x->params, x->err,
	    sizeof(x->err)) == -1) {
		job_ctx_error(ctx, "%s", x->err);
		rc = JOB_FAIL;
		goto out;
	}
	x->elements = cJSON_GetObjectItemCaseSensitive(x->params, "elements");
	if (x->elements != NULL && (x->required = xp_required_table()) ==
	    NULL) {
		job_ctx_error(ctx, "export: fhir/required-elements.json is "
		    "missing from the build");
		rc = JOB_FAIL;
		goto out;
	}
	if ((x->conn = job_ctx_conn(ctx, x->err, sizeof(x->err))) == NULL) {
		job_ctx_error(ctx, "export: database: %s", x->err);
		goto out;
	}
	if (job_files_dir(job_ctx_id(ctx), x->reldir, sizeof(x->reldir)) ==
	    -1 || job_files_path(x->cfg->data_dir, x->reldir, x->dir,
	    sizeof(x->dir)) == -1) {
		job_ctx_error(ctx, "export: the output directory's path is "
		    "too long");
		rc = JOB_FAIL;
		goto out;
	}
	if (fs_mkdirs(x->dir) == -1) {
		job_ctx_error(ctx, "export: cannot create %s: %s", x->dir,
		    strerror(errno));
		goto out;
	}
	xp_resume(x);
	started = job_ctx_checkpoint(ctx) != NULL;
	xp_sweep(x);
	if ((st = xp_resolve_since(x)) != JOB_DONE) {
		rc = st;
		goto out;
	}

	if (!started && (strcmp(x->level, "group") == 0 ||
	    cJSON_GetObjectItemCaseSensitive(x->params, "patients") != NULL)) {
		if ((st = xp_resolve_cohort(x)) != JOB_DONE) {
			rc = st;
			goto out;
		}
	}
	if (xp_snapshot(x) == -1 || (strcmp(x->level, "renewal") == 0 &&
	    xp_renewal_cohort(x) == -1) || xp_plan(x) == -1)
		goto out;
	if (xp_plan_pages(x) == -1) {
		job_ctx_error(ctx, "export: sizing the plan: %s", x->err);
		goto out;
	}
	types = xp_types_setting(x);
	if (xp_setting(x, "types", types) == -1)
		goto out;
	if (!started) {
		/* Fix transactionTime before the first file exists. */
		cp = xp_checkpoint(x, 0, "", 1);
		i = job_ctx_save(ctx, NULL, cp);
		free(cp);
		if (i == -1) {
			rc = JOB_STOPPED;
			goto out;
		}
	}
	for (; x->step < x->nsteps; x->step++) {
		if (!x->steps[x->step].s_in_block && xp_run_step(x) == -1) {
			rc = job_ctx_stopping(ctx) ? JOB_STOPPED : JOB_RETRY;
			goto out;
		}
		/* The step is done; the next starts from its beginning. */
		x->cursor[0] = '\0';
		x->next_seq = 1;
		cp = xp_checkpoint(x, x->step + 1, "", 1);
		i = job_ctx_save(ctx, NULL, cp);
		free(cp);
		if (i == -1) {
			rc = JOB_STOPPED;
			goto out;
		}
	}
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "transactionTime", x->tt);
	cJSON_AddNumberToObject(res, "resources", (double)x->all_rows);
	if (xp_str(x->params, "since") != NULL)
		cJSON_AddStringToObject(res, "since", xp_str(x->params,
		    "since"));
	if (x->last_success) {
		cJSON *ls = xp_last_success_json(x, res);

		cJSON_AddStringToObject(ls, "note", x->ls_note);
	}
	result = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	job_ctx_result(ctx, result);
	cJSON_free(result);
	rc = JOB_DONE;
 out:
	if (x->conn != NULL)
		(void)db_exec(x->conn, "ROLLBACK", 0, NULL, x->err,
		    sizeof(x->err));
	if (rc == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL)
		job_files_remove(x->cfg->data_dir, job_ctx_id(ctx));
	for (i = 0; i < x->nsteps; i++)
		free(x->steps[i].s_filter);
	cJSON_Delete(x->required);
	cJSON_Delete(x->own_params);
	free(types);
	free(x);
	return rc;
}

/*
 * The "renewal-export" kind: {"days": N} (default 14, as openIMIS), run
 * as an export at the "renewal" level.
 */
int
job_renewal_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*it;
	cJSON		*copy;
	int		 rc;

	cJSON_ArrayForEach(it, params)
		if (strcmp(it->string, "days") != 0) {
			snprintf(errbuf, errlen, "renewal-export: unknown "
			    "parameter \"%.64s\" (days)", it->string);
			return -1;
		}
	copy = cJSON_Duplicate(params, 1);
	cJSON_AddStringToObject(copy, "level", "renewal");
	rc = job_export_check(copy, errbuf, errlen);
	cJSON_Delete(copy);
	return rc;
}

enum job_status
job_renewal_run(struct job_ctx *ctx)
{
	return xp_main(ctx, "renewal");
}
