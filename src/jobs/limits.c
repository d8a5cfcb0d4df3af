/*
 * limits.c — the limits row (schemas/006_limits.sql) as a struct and as
 * JSON.
 *
 * DESIGN.  The row is the single source of truth; nothing caches it for
 * longer than LIMITS_RELOAD_S.  limits_put_json validates the whole
 * document against limits_fields[] before it touches the database, then
 * merges the given keys into the current row under FOR UPDATE and writes
 * it back in one transaction; the row's trigger NOTIFYs the workers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jobs/job_kinds.h"
#include "jobs/limits.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "store/db.h"

/* What each per-kind map holds. */
enum limits_map {
	LM_MAX_JOBS,
	LM_TIMEOUT,
	LM_MAX_ATTEMPTS,
};

/* The scalar keys, in column order; ranges are inclusive. */
struct limits_field {
	const char	*lf_name;
	int64_t		 lf_min;
	int64_t		 lf_max;
	size_t		 lf_off;	/* into struct limits */
	int		 lf_wide;	/* int64_t, else int */
	const char	*lf_also;	/* a second allowed range, or NULL */
};

#define LF(n, lo, hi, wide) \
	{ #n, lo, hi, offsetof(struct limits, lim_##n), wide, NULL }

static const struct limits_field limits_fields[] = {
	LF(max_jobs_total, 0, 1000, 0),
	LF(rows_per_second, 0, 1000000000000LL, 1),
	LF(bytes_per_second, 0, 1000000000000000LL, 1),
	/* 0, or the range cfg accepts for import_batch_lines. */
	LF(import_batch_lines, 100, 10000000, 0),
	LF(statement_timeout_ms, 0, 86400000, 0),
	LF(worker_nice, 0, 19, 0),
	LF(worker_idle, 0, 1, 0),
};
#define LIMITS_NFIELDS (sizeof(limits_fields) / sizeof(limits_fields[0]))

/* The per-kind maps and their value ranges. */
static const struct {
	const char	*m_name;
	enum limits_map	 m_which;
	int		 m_min;
	int		 m_max;
} limits_maps[] = {
	{ "max_jobs_per_kind", LM_MAX_JOBS, 0, 1000 },
	{ "kind_timeout_s", LM_TIMEOUT, 0, 604800 },
	{ "kind_max_attempts", LM_MAX_ATTEMPTS, 1, 100 },
};
#define LIMITS_NMAPS (sizeof(limits_maps) / sizeof(limits_maps[0]))

static int64_t	 limits_field_get(const struct limits *,
		    const struct limits_field *);
static void	 limits_field_set(struct limits *,
		    const struct limits_field *, int64_t);
static int	*limits_map_slot(struct limits_kind *, enum limits_map);
static int	 limits_map_value(const struct limits_kind *,
		    enum limits_map);
static struct limits_kind *limits_kind_add(struct limits *, const char *);
static int	 limits_int(const cJSON *, int64_t, int64_t, int64_t *);
static int	 limits_map_parse(struct limits *, const cJSON *, size_t,
		    int, char *, size_t);
static int	 limits_map_json(const struct limits *, enum limits_map,
		    struct buf *);
static int	 limits_apply(struct limits *, const cJSON *, int, char *,
		    size_t);

void
limits_defaults(struct limits *l)
{
	memset(l, 0, sizeof(*l));
	l->lim_max_jobs_total = 1;
	l->lim_statement_timeout_ms = 900000;
	l->lim_worker_nice = 10;
	l->lim_worker_idle = 1;
}

static int64_t
limits_field_get(const struct limits *l, const struct limits_field *f)
{
	const char	*p = (const char *)l + f->lf_off;

	if (f->lf_wide)
		return *(const int64_t *)(const void *)p;
	return *(const int *)(const void *)p;
}

static void
limits_field_set(struct limits *l, const struct limits_field *f, int64_t v)
{
	char	*p = (char *)l + f->lf_off;

	if (f->lf_wide)
		*(int64_t *)(void *)p = v;
	else
		*(int *)(void *)p = (int)v;
}

static int *
limits_map_slot(struct limits_kind *k, enum limits_map which)
{
	switch (which) {
	case LM_MAX_JOBS:
		return &k->lk_max_jobs;
	case LM_TIMEOUT:
		return &k->lk_timeout_s;
	case LM_MAX_ATTEMPTS:
		break;
	}
	return &k->lk_max_attempts;
}

static int
limits_map_value(const struct limits_kind *k, enum limits_map which)
{
	switch (which) {
	case LM_MAX_JOBS:
		return k->lk_max_jobs;
	case LM_TIMEOUT:
		return k->lk_timeout_s;
	case LM_MAX_ATTEMPTS:
		break;
	}
	return k->lk_max_attempts;
}

const struct limits_kind *
limits_kind(const struct limits *l, const char *kind)
{
	size_t	i;

	for (i = 0; i < l->lim_nkinds; i++)
		if (strcmp(l->lim_kinds[i].lk_kind, kind) == 0)
			return &l->lim_kinds[i];
	return NULL;
}

/* The entry for kind, added (all fields unset) if new; NULL if full. */
static struct limits_kind *
limits_kind_add(struct limits *l, const char *kind)
{
	struct limits_kind	*k;
	size_t			 i;

	for (i = 0; i < l->lim_nkinds; i++)
		if (strcmp(l->lim_kinds[i].lk_kind, kind) == 0)
			return &l->lim_kinds[i];
	if (l->lim_nkinds >= LIMITS_MAX_KINDS)
		return NULL;
	k = &l->lim_kinds[l->lim_nkinds++];
	str_lcpy(k->lk_kind, kind, sizeof(k->lk_kind));
	k->lk_max_jobs = k->lk_timeout_s = k->lk_max_attempts = -1;
	return k;
}

/* An integral JSON number in [min, max]: 0 and *out, or -1. */
static int
limits_int(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
	double	d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)min ||
	    d > (double)max)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/*
 * Replaces map m of l with the object obj ({kind: int}).  With strict,
 * kinds must be known to this binary (a PUT); a row read back may name
 * kinds of a newer binary, which are kept.  0 or -1 (errbuf).
 */
static int
limits_map_parse(struct limits *l, const cJSON *obj, size_t m, int strict,
    char *errbuf, size_t errlen)
{
	const cJSON		*e;
	struct limits_kind	*k;
	int64_t			 v;
	size_t			 i;

	if (!cJSON_IsObject(obj)) {
		snprintf(errbuf, errlen, "\"%s\" must be an object "
		    "{kind: integer}", limits_maps[m].m_name);
		return -1;
	}
	cJSON_ArrayForEach(e, obj) {
		if (strict && job_kind_find(e->string) == NULL) {
			snprintf(errbuf, errlen, "\"%s\": unknown job kind "
			    "\"%.64s\"", limits_maps[m].m_name, e->string);
			return -1;
		}
		if (strlen(e->string) >= LIMITS_KIND_MAX ||
		    limits_int(e, limits_maps[m].m_min, limits_maps[m].m_max,
		    &v) == -1) {
			snprintf(errbuf, errlen, "\"%s\".\"%.64s\" must be an "
			    "integer from %d to %d", limits_maps[m].m_name,
			    e->string, limits_maps[m].m_min,
			    limits_maps[m].m_max);
			return -1;
		}
	}
	for (i = 0; i < l->lim_nkinds; i++)
		*limits_map_slot(&l->lim_kinds[i], limits_maps[m].m_which) =
		    -1;
	cJSON_ArrayForEach(e, obj) {
		if ((k = limits_kind_add(l, e->string)) == NULL) {
			snprintf(errbuf, errlen, "more than %d kinds",
			    LIMITS_MAX_KINDS);
			return -1;
		}
		*limits_map_slot(k, limits_maps[m].m_which) =
		    (int)e->valuedouble;
	}
	return 0;
}

/*
 * Applies the keys of object doc to l.  strict: unknown keys are errors
 * and kinds must be known (client input).  0 or -1 (errbuf; l may be
 * partly changed: callers apply to a copy).
 */
static int
limits_apply(struct limits *l, const cJSON *doc, int strict, char *errbuf,
    size_t errlen)
{
	const cJSON	*e;
	int64_t		 v;
	size_t		 i;
	int		 known;

	if (!cJSON_IsObject(doc)) {
		snprintf(errbuf, errlen, "limits must be a JSON object");
		return -1;
	}
	cJSON_ArrayForEach(e, doc) {
		known = 0;
		for (i = 0; i < LIMITS_NFIELDS && !known; i++) {
			const struct limits_field *f = &limits_fields[i];

			if (strcmp(e->string, f->lf_name) != 0)
				continue;
			known = 1;
			/* import_batch_lines: 0 (use the config) too. */
			if (limits_int(e, f->lf_min, f->lf_max, &v) == -1 &&
			    !(strcmp(f->lf_name, "import_batch_lines") == 0 &&
			    limits_int(e, 0, 0, &v) == 0)) {
				snprintf(errbuf, errlen, "\"%s\" must be an "
				    "integer from %lld to %lld%s", f->lf_name,
				    (long long)f->lf_min, (long long)f->lf_max,
				    strcmp(f->lf_name, "import_batch_lines") ==
				    0 ? ", or 0" : "");
				return -1;
			}
			limits_field_set(l, f, v);
		}
		for (i = 0; i < LIMITS_NMAPS && !known; i++) {
			if (strcmp(e->string, limits_maps[i].m_name) != 0)
				continue;
			known = 1;
			if (limits_map_parse(l, e, i, strict, errbuf,
			    errlen) == -1)
				return -1;
		}
		if (!known && strict) {
			snprintf(errbuf, errlen, "unknown limit \"%.64s\"",
			    e->string);
			return -1;
		}
	}
	return 0;
}

/* Appends {kind: n, ...} of the entries that set map which. */
static int
limits_map_json(const struct limits *l, enum limits_map which,
    struct buf *b)
{
	size_t	i;
	int	n = 0, v;

	if (buf_putc(b, '{') == -1)
		return -1;
	for (i = 0; i < l->lim_nkinds; i++) {
		v = limits_map_value(&l->lim_kinds[i], which);
		if (v < 0)
			continue;
		if (buf_printf(b, "%s\"", n++ ? "," : "") == -1 ||
		    buf_json_escape(b, l->lim_kinds[i].lk_kind,
		    strlen(l->lim_kinds[i].lk_kind)) == -1 ||
		    buf_printf(b, "\":%d", v) == -1)
			return -1;
	}
	return buf_putc(b, '}');
}

int
limits_to_json(const struct limits *l, struct buf *b)
{
	size_t	i;

	if (buf_putc(b, '{') == -1)
		return -1;
	for (i = 0; i < LIMITS_NFIELDS; i++)
		if (buf_printf(b, "%s\"%s\":%lld", i ? "," : "",
		    limits_fields[i].lf_name,
		    (long long)limits_field_get(l, &limits_fields[i])) == -1)
			return -1;
	for (i = 0; i < LIMITS_NMAPS; i++)
		if (buf_printf(b, ",\"%s\":", limits_maps[i].m_name) == -1 ||
		    limits_map_json(l, limits_maps[i].m_which, b) == -1)
			return -1;
	return buf_putc(b, '}');
}

/* The row as one JSON object, the format of limits_to_json. */
#define LIMITS_SELECT \
	"SELECT jsonb_build_object('max_jobs_total', max_jobs_total, " \
	"'rows_per_second', rows_per_second, " \
	"'bytes_per_second', bytes_per_second, " \
	"'import_batch_lines', import_batch_lines, " \
	"'statement_timeout_ms', statement_timeout_ms, " \
	"'worker_nice', worker_nice, " \
	"'worker_idle', worker_idle, " \
	"'max_jobs_per_kind', max_jobs_per_kind, " \
	"'kind_timeout_s', kind_timeout_s, " \
	"'kind_max_attempts', kind_max_attempts)::text FROM limits"

/* Reads the row (FOR UPDATE with lock) into *l.  0 or -1. */
static int
limits_read(PGconn *conn, struct limits *l, int lock, char *errbuf,
    size_t errlen)
{
	struct limits	 tmp;
	PGresult	*res;
	cJSON		*doc = NULL;
	int		 rc = -1;

	res = db_query(conn, lock ? LIMITS_SELECT " FOR UPDATE" :
	    LIMITS_SELECT, 0, NULL, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		snprintf(errbuf, errlen, "the limits table has %d rows, not 1",
		    PQntuples(res));
		goto out;
	}
	if ((doc = cJSON_Parse(PQgetvalue(res, 0, 0))) == NULL) {
		snprintf(errbuf, errlen, "limits row: not JSON");
		goto out;
	}
	limits_defaults(&tmp);
	if (limits_apply(&tmp, doc, 0, errbuf, errlen) == -1)
		goto out;
	*l = tmp;
	rc = 0;
 out:
	cJSON_Delete(doc);
	PQclear(res);
	return rc;
}

int
limits_load(PGconn *conn, struct limits *l, char *errbuf, size_t errlen)
{
	return limits_read(conn, l, 0, errbuf, errlen);
}

int
limits_get_json(PGconn *conn, struct buf *b, char *errbuf, size_t errlen)
{
	struct limits	l;

	if (limits_load(conn, &l, errbuf, errlen) == -1)
		return -1;
	if (limits_to_json(&l, b) == -1) {
		snprintf(errbuf, errlen, "limits: buffer full");
		return -1;
	}
	return 0;
}

int
limits_put_json(PGconn *conn, const char *json, char *errbuf, size_t errlen)
{
	struct limits	 check, cur;
	struct buf	 maps[LIMITS_NMAPS];
	const char	*p[LIMITS_NFIELDS + LIMITS_NMAPS];
	char		 num[LIMITS_NFIELDS][24];
	cJSON		*doc;
	size_t		 i;
	int		 rc = -2, began = 0;

	if (json == NULL || strlen(json) > LIMITS_JSON_MAX) {
		snprintf(errbuf, errlen, "limits document larger than %d "
		    "bytes", LIMITS_JSON_MAX);
		return -1;
	}
	if ((doc = cJSON_Parse(json)) == NULL) {
		snprintf(errbuf, errlen, "limits: not valid JSON");
		return -1;
	}
	/* Validate everything before touching the database. */
	limits_defaults(&check);
	if (limits_apply(&check, doc, 1, errbuf, errlen) == -1) {
		cJSON_Delete(doc);
		return -1;
	}
	for (i = 0; i < LIMITS_NMAPS; i++)
		buf_init(&maps[i], LIMITS_JSON_MAX);

	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		goto out;
	began = 1;
	if (limits_read(conn, &cur, 1, errbuf, errlen) == -1)
		goto out;
	if (limits_apply(&cur, doc, 1, errbuf, errlen) == -1) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < LIMITS_NFIELDS; i++) {
		snprintf(num[i], sizeof(num[i]), "%lld",
		    (long long)limits_field_get(&cur, &limits_fields[i]));
		p[i] = num[i];
	}
	for (i = 0; i < LIMITS_NMAPS; i++) {
		if (limits_map_json(&cur, limits_maps[i].m_which, &maps[i]) ==
		    -1) {
			snprintf(errbuf, errlen, "limits: buffer full");
			goto out;
		}
		p[LIMITS_NFIELDS + i] = maps[i].b_data;
	}
	if (db_exec(conn, "UPDATE limits SET max_jobs_total = $1::int, "
	    "rows_per_second = $2::bigint, bytes_per_second = $3::bigint, "
	    "import_batch_lines = $4::int, statement_timeout_ms = $5::int, "
	    "worker_nice = $6::int, worker_idle = $7::int, "
	    "max_jobs_per_kind = $8::jsonb, kind_timeout_s = $9::jsonb, "
	    "kind_max_attempts = $10::jsonb, "
	    "updated = now()", (int)(LIMITS_NFIELDS + LIMITS_NMAPS), p,
	    errbuf, errlen) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out;
	began = 0;
	rc = 0;
 out:
	if (began) {
		char	ignore[256];

		(void)db_exec(conn, "ROLLBACK", 0, NULL, ignore,
		    sizeof(ignore));
	}
	for (i = 0; i < LIMITS_NMAPS; i++)
		buf_free(&maps[i]);
	cJSON_Delete(doc);
	return rc;
}
