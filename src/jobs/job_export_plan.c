/*
 * job_export_plan.c — what an export reads: the steps (one per type, in
 * manifest order, with the partition, scope and compiled _typeFilter of
 * each), the REPEATABLE READ snapshot and its settings, the cohort of a
 * Group or patient list (job_patients), the plan's size in heap pages,
 * and the SQL conditions that select each step's rows, the Provenance of
 * associated data (includeAssociatedData) and of the Patient
 * compartment (EXP-P-IA-5) included.  Builds SQL text only from fixed
 * fragments, partition identifiers and type names of fhir_type_valid's
 * list; request values are bound as settings (job_export_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "jobs/job_export_int.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/fhir_types.h"

/* The elements of a Provenance's target array (col: its content). */
#define XP_TARGETS(col) \
	"jsonb_array_elements(CASE WHEN jsonb_typeof((" col ")::jsonb->" \
	"'target') = 'array' THEN (" col ")::jsonb->'target' ELSE '[]' END)"

static int	xp_cohort(const struct xp *);
static void	xp_exported(struct xp *, const char *, int, struct buf *);
static void	xp_exported_refs(struct xp *, int, struct buf *);

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
			if (job_export_setting(x, name,
			    ss.ss_params[i]) == -1) {
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

	if (job_export_str(x->params, "associated") == NULL)
		return 0;
	for (i = 0; i < x->nsteps; i++) {
		s = &x->steps[i];
		if ((s->s_kind != XP_SCAN && s->s_kind != XP_LOOKUP) ||
		    strcmp(s->s_type, "Provenance") != 0)
			continue;
		if (s->s_scope == XP_ALL && s->s_filter == NULL &&
		    job_export_str(x->params, "since") == NULL &&
		    job_export_str(x->params, "until") == NULL)
			return 0;
		s->s_kind = XP_LOOKUP;
		s->s_assoc = 1;
		return 0;
	}
	if (xp_add_step(x, XP_LOOKUP, XP_ASSOCIATED, "Provenance") == -1)
		return -1;
	x->steps[x->nsteps - 1].s_assoc = 1;
	x->steps[x->nsteps - 1].s_targets = xp_cohort(x);
	return 0;
}

/*
 * The types to export, in manifest order: the openIMIS types first
 * (reference targets before referrers), then any other type the store
 * holds.  At Patient and Group level only compartment and context types.
 */
int
job_export_plan(struct xp *x)
{
	const char *const	*oi;
	const cJSON		*types = cJSON_GetObjectItemCaseSensitive(
				    x->params, "types");
	PGresult		*res;
	char			**all = NULL;
	size_t			 n, nall = 0, i;
	int			 cohort, rc = -1;
	int			 system = strcmp(x->level, "system") == 0;
	int			 blocks = job_export_str(x->params,
				    "organizeOutputBy") != NULL;

	cohort = xp_cohort(x);
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

		if (types != NULL && !job_export_listed(types, type))
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
		} else if (strcmp(type, "Provenance") == 0) {
			/* Targeting the compartment (EXP-P-IA-5); not in
			 * blocks, which hold compartment rows only. */
			if (blocks)
				continue;
			kind = XP_LOOKUP;
			scope = XP_PROVENANCE;
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
		x->steps[x->nsteps - 1].s_in_block = blocks &&
		    scope != XP_PROVENANCE;
		x->steps[x->nsteps - 1].s_targets = cohort &&
		    scope == XP_PROVENANCE;
	}
	if (xp_plan_associated(x) == -1)
		goto out;
	if (blocks && xp_add_step(x, XP_BLOCKS, XP_ALL, "Patient") == -1)
		goto out;
	if (job_export_str(x->params, "since") != NULL && xp_add_step(x,
	    XP_DELETED, system ? XP_ALL : cohort ? XP_COHORT : XP_COMPARTMENT,
	    "Bundle") == -1)
		goto out;
	rc = 0;
 out:
	for (i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	return rc;
}

/*
 * Opens the REPEATABLE READ snapshot and, on the first attempt, fixes
 * transactionTime: now(), or earlier if a transaction that writes is
 * still open, since its rows carry its start time as last_updated and
 * become visible only when it commits.  A later _since=transactionTime
 * export then still finds them (EXP-M-01, PP-09).
 */
int
job_export_plan_snapshot(struct xp *x)
{
	PGresult	*res;
	const char	*since, *until;

	if (job_export_exec(x, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0,
	    NULL) == -1)
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
	if (job_export_exec(x, "SET LOCAL synchronize_seqscans = off", 0,
	    NULL) ||
	    job_export_exec(x, "SET LOCAL enable_bitmapscan = off", 0, NULL) ||
	    job_export_exec(x, "SET LOCAL work_mem = '64MB'", 0, NULL) ||
	    job_export_setting(x, "tt", x->tt) == -1 ||
	    job_export_setting(x, "job", job_ctx_id(x->ctx)) == -1)
		return -1;
	since = job_export_str(x->params, "since");
	until = job_export_str(x->params, "until");
	if ((since != NULL && job_export_setting(x, "since", since) == -1) ||
	    (until != NULL && job_export_setting(x, "until", until) == -1) ||
	    job_export_setting(x, "group", job_export_str(x->params, "group") ?
	    job_export_str(x->params, "group") : "") == -1)
		return -1;
	return 0;
}

/* Group members (not inactive, period not ended) or the POSTed patients,
 * into job_patients, once per job (EXP-G-02).  Runs before the snapshot
 * in its own transaction. */
enum job_status
job_export_plan_cohort(struct xp *x)
{
	const cJSON	*patients = cJSON_GetObjectItemCaseSensitive(x->params,
			    "patients");
	const char	*p[3];
	PGresult	*res;
	char		*list = NULL;
	int		 missing;
	enum job_status	 rc = JOB_RETRY;

	p[0] = job_ctx_id(x->ctx);
	if (job_export_exec(x, "BEGIN", 0, NULL) == -1 ||
	    job_export_exec(x, "DELETE FROM job_patients WHERE job_id = $1",
	    1, p))
		goto out;
	if (strcmp(x->level, "group") == 0) {
		p[1] = job_export_str(x->params, "group");
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
		if (job_export_exec(x, "DELETE FROM job_patients WHERE "
		    "job_id = $1", 1, p) == -1 || job_export_exec(x, "INSERT "
		    "INTO job_patients (job_id, patient_id) SELECT DISTINCT "
		    "$1, jsonb_array_elements_text($2::jsonb)", 2, p) == -1)
			goto out;
	}
	if (job_export_exec(x, "COMMIT", 0, NULL) == -1)
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
 * Sizes each step for progress: a range scan reads its partition's heap
 * pages; any other step (cohort lookups, tombstones, warnings, blocks)
 * counts as one page, so with no scans every step weighs alike.  Runs in
 * the snapshot's transaction; 0 or -1 (x->err).
 */
int
job_export_plan_pages(struct xp *x)
{
	int	i;

	x->plan_pages_total = 0;
	for (i = 0; i < x->nsteps; i++) {
		const struct xp_step *s = &x->steps[i];

		x->plan_pages[i] = 1;
		if (s->s_kind == XP_SCAN && !s->s_in_block &&
		    (x->plan_pages[i] = job_export_int(x, "SELECT "
		    "pg_relation_size($1::regclass) / "
		    "current_setting('block_size')::int",
		    s->s_table)) < 0)
			return -1;
		if (x->plan_pages[i] == 0)
			x->plan_pages[i] = 1;
		x->plan_pages_total += x->plan_pages[i];
	}
	return 0;
}

/* The WHERE conditions every type step shares. */
void
job_export_plan_conditions(struct xp *x, const struct xp_step *s, struct buf *b)
{
	const char	*cohort = "(SELECT patient_id FROM job_patients "
			    "WHERE job_id = current_setting('bulkhead.job'))";

	(void)buf_puts(b, s->s_kind == XP_DELETED ? "deleted" : "NOT deleted");
	/* Scalar subqueries: computed once per statement, not per row. */
	(void)buf_puts(b, " AND last_updated <= (SELECT "
	    "current_setting('bulkhead.tt')::timestamptz)");
	if (job_export_str(x->params, "since") != NULL)
		(void)buf_puts(b, " AND last_updated > (SELECT "
		    "current_setting('bulkhead.since')::timestamptz)");
	if (job_export_str(x->params, "until") != NULL)
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
	case XP_PROVENANCE:
		(void)buf_puts(b, " AND ");
		if (s->s_targets) {
			(void)buf_puts(b, "provenance_targets(content) && ");
			xp_exported_refs(x, 1, b);
		} else {
			(void)buf_puts(b, "EXISTS (SELECT 1 FROM "
			    XP_TARGETS("content") " bh_t(t) WHERE ");
			xp_exported(x, "(bh_t.t->>'reference')", 1, b);
			(void)buf_puts(b, ")");
		}
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

/* Whether the export is of a cohort (a Group, POSTed patients): few rows,
 * whose Provenance the target index finds faster than a scan. */
static int
xp_cohort(const struct xp *x)
{
	return strcmp(x->level, "group") == 0 ||
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(x->params,
	    "patients")) > 0;
}

/* Whether type step t counts as exported rows that Provenance may
 * target: not Provenance itself; with compartment, only rows in the
 * Patient compartment (Patient, Group and the compartment types). */
static int
xp_target_step(const struct xp_step *t, int compartment)
{
	if ((t->s_kind != XP_SCAN && t->s_kind != XP_LOOKUP) || t->s_assoc ||
	    t->s_scope == XP_PROVENANCE)
		return 0;
	return !compartment || fhir_type_in_compartment(t->s_type);
}

/*
 * True (SQL) when ref, a "Type/id" reference, names a row some type step
 * of this export writes (in the compartment only, with compartment):
 * that step's own conditions, checked through the primary key of the
 * row's partition.  For scans of every Provenance.
 */
static void
xp_exported(struct xp *x, const char *ref, int compartment, struct buf *b)
{
	const struct xp_step	*t;
	struct buf		 cond;
	int			 i, n = 0;

	buf_init(&cond, EXPORT_SQL_MAX);
	(void)buf_puts(b, "(");
	for (i = 0; i < x->nsteps; i++) {
		t = &x->steps[i];
		if (!xp_target_step(t, compartment))
			continue;
		buf_reset(&cond);
		job_export_plan_conditions(x, t, &cond);
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
 * The "Type/id" of every row the type steps write (in the compartment
 * only, with compartment), as one text[] computed once per statement:
 * the keys of provenance_targets (schemas/012_provenance_targets.sql).
 * For cohorts, whose rows are few.
 */
static void
xp_exported_refs(struct xp *x, int compartment, struct buf *b)
{
	const struct xp_step	*t;
	struct buf		 cond;
	int			 i, n = 0;

	buf_init(&cond, EXPORT_SQL_MAX);
	(void)buf_puts(b, "(SELECT coalesce(array_agg(bh_e.r), '{}') FROM (");
	for (i = 0; i < x->nsteps; i++) {
		t = &x->steps[i];
		if (!xp_target_step(t, compartment))
			continue;
		buf_reset(&cond);
		job_export_plan_conditions(x, t, &cond);
		/* The index's collation: id's "C" would not match it. */
		(void)buf_printf(b, "%sSELECT ('%s/' || id) COLLATE "
		    "\"default\" AS r FROM %s WHERE type = '%s' AND %s",
		    n++ ? " UNION ALL " : "", t->s_type, t->s_table,
		    t->s_type, cond.b_data);
	}
	if (n == 0)
		(void)buf_puts(b, "SELECT NULL::text AS r WHERE false");
	(void)buf_puts(b, ") bh_e)");
	buf_free(&cond);
}

/*
 * The conditions of a Provenance step with associated data: its own rows
 * (none for XP_ASSOCIATED) or the Provenance of exported rows, all of
 * them (RelevantProvenanceResources) or per target the newest by
 * 'recorded' (LatestProvenanceResources).  Only exports that ask for
 * associated data get here.  A cohort's step (s_targets) finds the
 * Provenance through the target index; any other reads every Provenance
 * once, each target checked through the primary keys (xp_exported).
 */
void
job_export_plan_assoc(struct xp *x, const struct xp_step *s, struct buf *b)
{
	const char	*recorded = "CASE WHEN a.content::jsonb->>'recorded' "
			    "~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
			    "[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' "
			    "THEN (a.content::jsonb->>'recorded')::timestamptz "
			    "END";
	const char	*live = "a.type = 'Provenance' AND NOT a.deleted AND "
			    "a.last_updated <= (SELECT current_setting("
			    "'bulkhead.tt')::timestamptz)";
	int		 relevant = strcmp(job_export_str(x->params,
			    "associated"), "relevant") == 0;
	struct buf	 own;

	buf_init(&own, EXPORT_SQL_MAX);
	job_export_plan_conditions(x, s, &own);
	(void)buf_puts(b, "NOT deleted AND last_updated <= (SELECT "
	    "current_setting('bulkhead.tt')::timestamptz) AND type = "
	    "'Provenance' AND ");
	if (s->s_targets && relevant) {
		/* Its own rows (XP_PROVENANCE: targeting exported
		 * compartment rows) are among these. */
		(void)buf_puts(b, "provenance_targets(content) && ");
		xp_exported_refs(x, 0, b);
	} else if (s->s_targets) {
		/* One IN list, not an OR: the step stays an index lookup. */
		(void)buf_printf(b, "id IN (SELECT id FROM %s WHERE %s "
		    "UNION ALL (SELECT DISTINCT ON (bh_r.ref) a.id FROM %s a, "
		    "LATERAL (SELECT t->>'reference' AS ref FROM "
		    XP_TARGETS("a.content") " t) bh_r WHERE %s AND "
		    "provenance_targets(a.content) && ", s->s_table,
		    own.b_data, s->s_table, live);
		xp_exported_refs(x, 0, b);
		(void)buf_puts(b, " AND split_part(bh_r.ref, '/', 1) || '/' "
		    "|| split_part(bh_r.ref, '/', 2) = ANY(");
		xp_exported_refs(x, 0, b);
		(void)buf_printf(b, ") ORDER BY bh_r.ref, %s DESC NULLS "
		    "LAST, a.id DESC))", recorded);
	} else if (relevant) {
		(void)buf_printf(b, "((%s) OR id IN (SELECT a.id FROM %s a "
		    "WHERE %s AND EXISTS (SELECT 1 FROM " XP_TARGETS(
		    "a.content") " bh_t(t) WHERE ", own.b_data, s->s_table,
		    live);
		xp_exported(x, "(bh_t.t->>'reference')", 0, b);
		(void)buf_puts(b, ")))");
	} else {
		(void)buf_printf(b, "((%s) OR id IN (SELECT DISTINCT ON "
		    "(bh_r.ref) a.id FROM %s a, LATERAL (SELECT "
		    "t->>'reference' AS ref FROM " XP_TARGETS("a.content")
		    " t) bh_r WHERE %s AND ", own.b_data, s->s_table, live);
		xp_exported(x, "bh_r.ref", 0, b);
		(void)buf_printf(b, " ORDER BY bh_r.ref, %s DESC NULLS LAST, "
		    "a.id DESC))", recorded);
	}
	buf_free(&own);
}
