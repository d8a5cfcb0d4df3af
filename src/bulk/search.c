/*
 * search.c — compiles a FHIR search query (one _typeFilter entry) into a
 * parameterised SQL boolean expression over the resources table.
 *
 * DESIGN
 * Each supported parameter is a row in a per-type table that says how to
 * find its element in the stored JSON (a member path such as
 * "name[].family", where "[]" marks an array) and which of a few
 * strategies compiles it:
 *
 *   token, reference  JSON containment: every OR value becomes a small
 *                     document ({"gender":"female"},
 *                     {"identifier":[{"system":"s","value":"v"}]}) and
 *                     the clause is (content::jsonb) @> ANY($N::jsonb[]),
 *                     one parameter for all values.  "|value" (an
 *                     identifier or coding without a system) cannot be
 *                     said by containment and uses a jsonpath with the
 *                     values passed in as a vars array.
 *   string            jsonb_path_query over the element's strings joined
 *                     with unnest($N::text[]): case-insensitive prefix by
 *                     default, :contains, :exact.
 *   date              the stored value, checked by a regular expression and
 *                     day arithmetic so that a malformed one (e.g.
 *                     "1990-02-30") simply does not match instead of
 *                     aborting the export, becomes a
 *                     range [rs, re) of its precision (a dateTime with a
 *                     time is the instant [t, t+1us)); the query value
 *                     becomes [ps, pe) computed here; the prefixes compare
 *                     the two ranges as FHIR R4 search.html#prefix says.
 *                     A Period is [start, end + its precision), an absent
 *                     start or end is open.  _lastUpdated compares the
 *                     last_updated column as a point, so its index works.
 *
 * Values without a time zone are UTC, in the query and in the store; the
 * SQL never depends on the session's TimeZone (calendar arithmetic is
 * done on timestamp, not timestamptz).  Codes compare exactly, case
 * included (FHIR token rules): openIMIS writes Group.type "Person", which
 * type=person does not match.
 *
 * Cost (200,000 Patients, PostgreSQL 15): a token or string clause adds
 * little to the content::jsonb parse itself; a date clause costs about
 * 10 us per row, the shape test included.
 *
 * Every user value goes into ss_params; the SQL text is assembled from
 * constant fragments only.  All input is bounded (search.h).
 *
 * This file is the compiler proper (parts, tokens, strings, references,
 * the SQL and its parameters); the table is in search_param.c, value
 * decoding in search_decode.c, dates in search_date.c (search_int.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "bulk/search_int.h"
#include "lib/buf.h"
#include "lib/xmalloc.h"
#include "store/ndjson.h"

/* Search result parameters, which a _typeFilter must not carry
 * (EXP-P-TF-2), and the other request-control parameters. */
static const char *const result_params[] = {
	"_count", "_sort", "_include", "_revinclude", "_elements",
	"_summary", "_total", "_contained", "_containedType", "_format",
	"_pretty", "_maxresults",
};

#define SQL_ARRAY_CONTAINS	"(content::jsonb) @> ANY($%d::jsonb[])"

static void	 arr_add(struct sc *, struct buf *, const char *, size_t);
static void	 arr_close(struct sc *, struct buf *);
static int	 path_segs(const char *, const char **, size_t *, int *);
static void	 doc_open(struct sc *, struct buf *, const char *);
static void	 doc_close(struct sc *, struct buf *, const char *);
static void	 doc_str(struct sc *, struct buf *, const char *);
static int	 compile_missing(struct sc *, struct term *);
static int	 compile_id(struct sc *, struct term *, int);
static int	 compile_token(struct sc *, struct term *, int);
static int	 compile_string(struct sc *, struct term *);
static void	 ref_doc(struct sc *, struct buf *, const char *,
		    const char *);
static int	 compile_ref(struct sc *, struct term *, const char *);
static int	 compile_term(struct sc *, struct term *);
static int	 compile_part(struct sc *, const char *, size_t);

void
search_sql_init(struct search_sql *ss)
{
	buf_init(&ss->ss_where, SEARCH_MAX_SQL);
	ss->ss_params = NULL;
	ss->ss_nparams = 0;
}

void
search_sql_free(struct search_sql *ss)
{
	int	i;

	buf_free(&ss->ss_where);
	for (i = 0; i < ss->ss_nparams; i++)
		free(ss->ss_params[i]);
	free(ss->ss_params);
	search_sql_init(ss);
}

/* Formats the reason into the caller's errbuf; returns -1. */
int
search_fail(struct sc *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->c_err != NULL && c->c_errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(c->c_err, c->c_errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Copies user text for an error message: at most SHOW_MAX bytes, and
 * bytes that are not printable ASCII replaced by '?', so the message is
 * always safe to log and to put in JSON.  Returns dst. */
const char *
search_show(char *dst, size_t size, const char *s, size_t n)
{
	size_t	i, o = 0;

	for (i = 0; i < n && o + 4 < size; i++) {
		if (i == SHOW_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	dst[o] = '\0';
	return dst;
}

/* Appends to the SQL text; a full buffer makes the compile fail at the
 * end (sticky, so the emitters need not check every append). */
void
search_sql_add(struct sc *c, const char *s)
{
	if (buf_puts(&c->c_out->ss_where, s) == -1)
		c->c_full = 1;
}

void
search_sql_addf(struct sc *c, const char *fmt, ...)
{
	struct buf	*b = &c->c_out->ss_where;
	va_list		 ap;
	char		 tmp[1024];
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Only constant fragments and numbers come here: never long. */
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    buf_append(b, tmp, (size_t)n) == -1)
		c->c_full = 1;
}

/* Moves 'val' into the next parameter slot (val is re-initialised);
 * returns its $N, or -1 when the query needs too many. */
int
search_bind(struct sc *c, struct buf *val)
{
	struct search_sql	*o = c->c_out;
	char			*s;

	if (o->ss_nparams >= SEARCH_MAX_PARAMS)
		return search_fail(c,
		    "the query needs more than %d bound values",
		    SEARCH_MAX_PARAMS);
	s = buf_steal(val, NULL);
	o->ss_params[o->ss_nparams++] = s;
	buf_init(val, SEARCH_MAX_PARAM_LEN);
	return c->c_first + o->ss_nparams - 1;
}

/* Adds one element to a PostgreSQL array literal being built in 'b'
 * ("{" is written before the first).  Elements are always quoted. */
static void
arr_add(struct sc *c, struct buf *b, const char *s, size_t n)
{
	size_t	i;
	int	rc;

	rc = buf_puts(b, b->b_len == 0 ? "{\"" : ",\"");
	for (i = 0; i < n && rc == 0; i++) {
		if (s[i] == '"' || s[i] == '\\')
			rc = buf_putc(b, '\\');
		if (rc == 0)
			rc = buf_putc(b, s[i]);
	}
	if (rc == 0)
		rc = buf_putc(b, '"');
	if (rc == -1)
		c->c_full = 1;
}

static void
arr_close(struct sc *c, struct buf *b)
{
	if (buf_puts(b, b->b_len == 0 ? "{}" : "}") == -1)
		c->c_full = 1;
}

/* Splits a table path ("name[].given[]") into segments; returns their
 * number.  Paths are constants of this file. */
static int
path_segs(const char *path, const char **seg, size_t *len, int *arr)
{
	const char	*p = path;
	int		 n = 0;

	while (*p != '\0' && n < PATH_MAX_SEGS) {
		seg[n] = p;
		len[n] = strcspn(p, ".[");
		p += len[n];
		arr[n] = *p == '[';
		if (arr[n])
			p += 2;
		if (*p == '.')
			p++;
		n++;
	}
	return n;
}

/* Writes the path as a lax jsonpath: "name[].given[]" gives
 * $.name[*].given[*]. */
void
search_path_jsonpath(struct sc *c, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	search_sql_add(c, "$");
	for (i = 0; i < n; i++)
		search_sql_addf(c, ".%.*s%s", (int)len[i], seg[i],
		    arr[i] ? "[*]" : "");
}

/* The JSON around a containment leaf: "class[].value" opens
 * {"class":[{"value": and doc_close closes it. */
static void
doc_open(struct sc *c, struct buf *d, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	for (i = 0; i < n; i++)
		if (buf_printf(d, "{\"%.*s\":%s", (int)len[i], seg[i],
		    arr[i] ? "[" : "") == -1)
			c->c_full = 1;
}

static void
doc_close(struct sc *c, struct buf *d, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	for (i = n - 1; i >= 0; i--)
		if (buf_puts(d, arr[i] ? "]}" : "}") == -1)
			c->c_full = 1;
}

/* Appends s as a JSON string. */
static void
doc_str(struct sc *c, struct buf *d, const char *s)
{
	if (buf_putc(d, '"') == -1 || buf_json_escape(d, s, strlen(s)) == -1 ||
	    buf_putc(d, '"') == -1)
		c->c_full = 1;
}

static int
compile_missing(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	char			 tmp[SHOW_MAX + 8];
	int			 missing;

	if (t->t_nvals != 1)
		return search_fail(c,
		    "%s:missing takes one value, true or false",
		    name);
	if (strcmp(t->t_value, "true") == 0)
		missing = 1;
	else if (strcmp(t->t_value, "false") == 0)
		missing = 0;
	else
		return search_fail(c, "%s:missing: '%s' is not true or false",
		    name,
		    search_show(tmp, sizeof(tmp), t->t_value,
		    strlen(t->t_value)));
	if (h->h_kind == HOW_ID || h->h_kind == HOW_UPDATED) {
		/* Columns that every row has. */
		search_sql_add(c, missing ? "FALSE" : "TRUE");
		return 0;
	}
	search_sql_add(c, missing ? "NOT jsonb_path_exists(content::jsonb, '" :
	    "jsonb_path_exists(content::jsonb, '");
	search_path_jsonpath(c, h->h_path);
	search_sql_add(c, "')");
	return 0;
}

static int
compile_id(struct sc *c, struct term *t, int not)
{
	struct buf	 a;
	char		*v, tmp[SHOW_MAX + 8];
	size_t		 i;
	int		 n, rc = -1;

	buf_init(&a, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		v = search_unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		if (!ndjson_valid_id(v, strlen(v))) {
			search_fail(c, "_id: '%s' is not a valid id",
			    search_show(tmp, sizeof(tmp), v, strlen(v)));
			free(v);
			goto out;
		}
		arr_add(c, &a, v, strlen(v));
		free(v);
	}
	arr_close(c, &a);
	if ((n = search_bind(c, &a)) == -1)
		goto out;
	search_sql_addf(c,
	    not ? "NOT (id = ANY($%d::text[]))" : "id = ANY($%d::text[])",
	    n);
	rc = 0;
 out:
	buf_free(&a);
	return rc;
}

/*
 * Token on code, boolean, Identifier and CodeableConcept elements.
 * Containment documents go into one jsonb[] parameter; values of the
 * form "|code" (no system) into a text[] for a jsonpath.
 */
static int
compile_token(struct sc *c, struct term *t, int not)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char		*bar, *p, *vkey;
	struct buf		 docs, nosys, d;
	char			*sys = NULL, *code = NULL;
	char			 tmp[SHOW_MAX + 8];
	size_t			 i, n;
	int			 ndocs = 0, nnosys = 0, pd = 0, pn = 0;
	int			 rc = -1;

	buf_init(&docs, SEARCH_MAX_PARAM_LEN);
	buf_init(&nosys, SEARCH_MAX_PARAM_LEN);
	buf_init(&d, SEARCH_MAX_PARAM_LEN);
	vkey = h->h_kind == HOW_IDENT ? "value" : "code";
	for (i = 0; i < t->t_nvals; i++) {
		p = t->t_vals[i].v_p;
		n = t->t_vals[i].v_n;
		free(sys);
		free(code);
		sys = code = NULL;
		if ((bar = search_find_bar(p, n)) != NULL) {
			if (search_find_bar(bar + 1,
			    n - (size_t)(bar + 1 - p)) !=
			    NULL) {
				search_fail(c,
				    "%s: '%s' has more than one unescaped"
				    " '|'", name, search_show(tmp, sizeof(tmp),
				    p, n));
				goto out;
			}
			sys = search_unescape(p, (size_t)(bar - p));
			code = search_unescape(bar + 1,
			    n - (size_t)(bar + 1 - p));
			if (*sys == '\0' && *code == '\0') {
				search_fail(c,
				    "%s: '|' needs a system or a code",
				    name);
				goto out;
			}
		} else
			code = search_unescape(p, n);

		buf_reset(&d);
		switch (h->h_kind) {
		case HOW_CODE:
		case HOW_BOOL:
			/* The system of a code is implied by its binding. */
			if (*code == '\0') {
				search_fail(c,
				    "%s: a system without a code ('%s')"
				    " cannot be searched on a code element",
				    name, search_show(tmp, sizeof(tmp), p, n));
				goto out;
			}
			doc_open(c, &d, h->h_path);
			if (h->h_kind == HOW_CODE)
				doc_str(c, &d, code);
			else if (strcmp(code, "true") == 0 ||
			    strcmp(code, "false") == 0) {
				if (buf_puts(&d, code) == -1)
					c->c_full = 1;
			} else {
				search_fail(c, "%s: '%s' is not true or false",
				    name,
				    search_show(tmp, sizeof(tmp), code,
				    strlen(code)));
				goto out;
			}
			doc_close(c, &d, h->h_path);
			break;
		case HOW_IDENT:
		case HOW_CONCEPT:
			if (sys != NULL && *sys == '\0') {
				arr_add(c, &nosys, code, strlen(code));
				nnosys++;
				continue;
			}
			doc_open(c, &d, h->h_path);
			if (h->h_kind == HOW_CONCEPT &&
			    buf_puts(&d, "{\"coding\":[") == -1)
				c->c_full = 1;
			if (buf_putc(&d, '{') == -1)
				c->c_full = 1;
			if (sys != NULL) {
				if (buf_puts(&d, "\"system\":") == -1)
					c->c_full = 1;
				doc_str(c, &d, sys);
			}
			if (*code != '\0') {
				if (buf_printf(&d, "%s\"%s\":",
				    sys != NULL ? "," : "", vkey) == -1)
					c->c_full = 1;
				doc_str(c, &d, code);
			}
			if (buf_puts(&d, h->h_kind == HOW_CONCEPT ? "}]}" :
			    "}") == -1)
				c->c_full = 1;
			doc_close(c, &d, h->h_path);
			break;
		default:
			abort();
		}
		arr_add(c, &docs, d.b_data != NULL ? d.b_data : "", d.b_len);
		ndocs++;
	}
	if (ndocs > 0) {
		arr_close(c, &docs);
		if ((pd = search_bind(c, &docs)) == -1)
			goto out;
	}
	if (nnosys > 0) {
		arr_close(c, &nosys);
		if ((pn = search_bind(c, &nosys)) == -1)
			goto out;
	}

	if (not)
		search_sql_add(c, "NOT ");
	if (not || (ndocs > 0 && nnosys > 0))
		search_sql_add(c, "(");
	if (ndocs > 0)
		search_sql_addf(c, SQL_ARRAY_CONTAINS, pd);
	if (ndocs > 0 && nnosys > 0)
		search_sql_add(c, " OR ");
	if (nnosys > 0) {
		search_sql_add(c, "jsonb_path_exists(content::jsonb, '");
		search_path_jsonpath(c, h->h_path);
		if (h->h_kind == HOW_CONCEPT)
			search_sql_add(c, ".coding[*]");
		search_sql_addf(c, " ? (@.%s == $v[*] && !exists(@.system))', "
		    "jsonb_build_object('v', $%d::text[]))", vkey, pn);
	}
	if (not || (ndocs > 0 && nnosys > 0))
		search_sql_add(c, ")");
	rc = 0;
 out:
	free(sys);
	free(code);
	buf_free(&d);
	buf_free(&docs);
	buf_free(&nosys);
	return rc;
}

static int
compile_string(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*cond;
	struct buf		 a;
	char			*v;
	size_t			 i;
	int			 n, rc = -1;

	if (t->t_mod == NULL)
		cond = "starts_with(lower(e.j #>> '{}'), lower(q.s))";
	else if (strcmp(t->t_mod, "contains") == 0)
		cond = "strpos(lower(e.j #>> '{}'), lower(q.s)) > 0";
	else
		cond = "e.j #>> '{}' = q.s";	/* :exact */
	buf_init(&a, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		v = search_unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		arr_add(c, &a, v, strlen(v));
		free(v);
	}
	arr_close(c, &a);
	if ((n = search_bind(c, &a)) == -1)
		goto out;
	search_sql_add(c,
	    "EXISTS (SELECT 1 FROM jsonb_path_query(content::jsonb, '");
	search_path_jsonpath(c, h->h_path);
	search_sql_addf(c,
	    " ? (@.type() == \"string\")') AS e(j), unnest($%d::text[])"
	    " AS q(s) WHERE ", n);
	search_sql_add(c, cond);
	search_sql_add(c, ")");
	rc = 0;
 out:
	buf_free(&a);
	return rc;
}

/* Adds the containment document {path: {"reference": ref}} to 'docs'. */
static void
ref_doc(struct sc *c, struct buf *docs, const char *path, const char *ref)
{
	struct buf	d;

	buf_init(&d, SEARCH_MAX_PARAM_LEN);
	doc_open(c, &d, path);
	if (buf_puts(&d, "{\"reference\":") == -1)
		c->c_full = 1;
	doc_str(c, &d, ref);
	if (buf_putc(&d, '}') == -1)
		c->c_full = 1;
	doc_close(c, &d, path);
	arr_add(c, docs, d.b_data != NULL ? d.b_data : "", d.b_len);
	buf_free(&d);
}

/*
 * Reference: "Type/id" (Type one of the targets), a bare id (any target
 * type), or an absolute URL compared as it is.  'tmod' is a type
 * modifier (subject:Patient=id) or NULL.
 */
static int
compile_ref(struct sc *c, struct term *t, const char *tmod)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char *const	*tp;
	const char		*slash;
	struct buf		 docs;
	char			*v = NULL, *ref, tmp[SHOW_MAX + 8];
	char			 tname[160];
	size_t			 i, vn, tn;
	int			 n, rc = -1;

	buf_init(&docs, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = search_unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		vn = strlen(v);
		slash = strchr(v, '/');
		if (tmod != NULL && slash != NULL) {
			search_fail(c, "%s:%s: '%s' must be a plain id", name,
			    tmod,
			    search_show(tmp, sizeof(tmp), v, vn));
			goto out;
		}
		if (strstr(v, "://") != NULL) {
			ref_doc(c, &docs, h->h_path, v);
			continue;
		}
		if (slash == NULL) {
			if (!ndjson_valid_id(v, vn)) {
				search_fail(c, "%s: '%s' is not a valid id",
				    name,
				    search_show(tmp, sizeof(tmp), v, vn));
				goto out;
			}
			for (tp = h->h_targets; *tp != NULL; tp++) {
				if (tmod != NULL && strcmp(*tp, tmod) != 0)
					continue;
				ref = xasprintf("%s/%s", *tp, v);
				ref_doc(c, &docs, h->h_path, ref);
				free(ref);
			}
			continue;
		}
		if (!ndjson_valid_id(slash + 1, strlen(slash + 1))) {
			search_fail(c, "%s: '%s' is not Type/id", name,
			    search_show(tmp, sizeof(tmp), v, vn));
			goto out;
		}
		tn = (size_t)(slash - v);
		for (tp = h->h_targets; *tp != NULL; tp++)
			if (strlen(*tp) == tn && memcmp(*tp, v, tn) == 0)
				break;
		if (*tp == NULL) {
			tname[0] = '\0';
			for (tp = h->h_targets; *tp != NULL; tp++)
				snprintf(tname + strlen(tname),
				    sizeof(tname) - strlen(tname), "%s%s",
				    tp == h->h_targets ? "" : tp[1] == NULL ?
				    " or " : ", ", *tp);
			search_fail(c, "%s: '%s' must refer to %s", name,
			    search_show(tmp, sizeof(tmp), v, vn), tname);
			goto out;
		}
		ref_doc(c, &docs, h->h_path, v);
	}
	arr_close(c, &docs);
	if ((n = search_bind(c, &docs)) == -1)
		goto out;
	search_sql_addf(c, SQL_ARRAY_CONTAINS, n);
	rc = 0;
 out:
	free(v);
	buf_free(&docs);
	return rc;
}

static int
compile_term(struct sc *c, struct term *t)
{
	const struct search_param	*sp = t->t_param;
	const struct search_how		*h = sp->sp_how;
	const char *const		*tp;
	const char			*m = t->t_mod;
	char				 tmp[SHOW_MAX + 8];

	if (m != NULL && strcmp(m, "missing") == 0)
		return compile_missing(c, t);
	switch (h->h_kind) {
	case HOW_ID:
	case HOW_CODE:
	case HOW_BOOL:
	case HOW_IDENT:
	case HOW_CONCEPT:
		if (m != NULL && strcmp(m, "not") != 0)
			break;
		if (h->h_kind == HOW_ID)
			return compile_id(c, t, m != NULL);
		return compile_token(c, t, m != NULL);
	case HOW_STRING:
		if (m != NULL && strcmp(m, "exact") != 0 &&
		    strcmp(m, "contains") != 0)
			break;
		return compile_string(c, t);
	case HOW_REF:
		if (m == NULL)
			return compile_ref(c, t, NULL);
		for (tp = h->h_targets; *tp != NULL; tp++)
			if (strcmp(*tp, m) == 0)
				return compile_ref(c, t, *tp);
		break;
	case HOW_UPDATED:
	case HOW_DATE:
	case HOW_PERIOD:
		if (m != NULL)
			break;
		return search_compile_date(c, t);
	}
	return search_fail(c, "unsupported modifier ':%s' on %s",
	    search_show(tmp, sizeof(tmp), m, strlen(m)), sp->sp_name);
}

/* Compiles one raw "name=value" part into the SQL. */
static int
compile_part(struct sc *c, const char *p, size_t n)
{
	struct term	*t;
	struct buf	 name, value;
	const char	*eq;
	char		*colon, tmp[SHOW_MAX + 8];
	size_t		 i;
	int		 rc = -1;

	buf_init(&name, SEARCH_MAX_QUERY);
	buf_init(&value, SEARCH_MAX_QUERY);
	t = xcalloc(1, sizeof(*t));
	if ((eq = memchr(p, '=', n)) == NULL) {
		search_fail(c, "'%s' has no value", search_show(tmp,
		    sizeof(tmp), p, n));
		goto out;
	}
	if (eq == p) {
		search_fail(c, "empty parameter name in '%s'",
		    search_show(tmp, sizeof(tmp), p, n));
		goto out;
	}
	if (search_pct_decode(c, p, (size_t)(eq - p), &name) == -1 ||
	    search_pct_decode(c, eq + 1, n - (size_t)(eq + 1 - p),
	    &value) == -1)
		goto out;
	if ((colon = strchr(name.b_data, ':')) != NULL) {
		*colon = '\0';
		t->t_mod = colon + 1;
	}
	for (i = 0; i < NELEM(result_params); i++)
		if (strcmp(name.b_data, result_params[i]) == 0) {
			search_fail(c, "%s is not allowed in _typeFilter",
			    result_params[i]);
			goto out;
		}
	if (strcmp(name.b_data, "_has") == 0) {
		search_fail(c, "reverse chaining (_has) is not supported");
		goto out;
	}
	if (strchr(name.b_data, '.') != NULL ||
	    (t->t_mod != NULL && strchr(t->t_mod, '.') != NULL)) {
		if (colon != NULL)
			*colon = ':';
		search_fail(c, "chained parameters are not supported ('%s')",
		    search_show(tmp, sizeof(tmp), name.b_data, name.b_len));
		goto out;
	}
	if ((t->t_param = search_param_find(c->c_type, name.b_data)) == NULL) {
		search_fail(c, "%s: unknown search parameter '%s'",
		    c->c_type->st_name,
		    search_show(tmp, sizeof(tmp), name.b_data,
		    strlen(name.b_data)));
		goto out;
	}
	/* pct_decode rejected NUL bytes: these are plain C strings. */
	t->t_value = value.b_data != NULL ? value.b_data : "";
	if (search_split_values(c, t) == -1)
		goto out;
	rc = compile_term(c, t);
 out:
	free(t);
	buf_free(&name);
	buf_free(&value);
	return rc;
}

int
search_compile(const char *type, const char *query, int first_param,
    struct search_sql *out, char *errbuf, size_t errlen)
{
	struct sc	 c;
	const char	*p, *e;
	size_t		 qlen, nterms = 0;
	int		 rc = -1;

	search_sql_free(out);
	memset(&c, 0, sizeof(c));
	c.c_out = out;
	c.c_first = first_param;
	c.c_err = errbuf;
	c.c_errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if ((c.c_type = search_type_find(type)) == NULL) {
		char	tmp[SHOW_MAX + 8];

		search_fail(&c,
		    "_typeFilter is not supported on resource type '%s'",
		    type == NULL ? "" : search_show(tmp, sizeof(tmp), type,
		    strlen(type)));
		goto out;
	}
	if (first_param < 1 || first_param > SEARCH_MAX_FIRST) {
		search_fail(&c, "parameter number %d out of range",
		    first_param);
		goto out;
	}
	if (query == NULL)
		query = "";
	qlen = strnlen(query, SEARCH_MAX_QUERY + 1);
	if (qlen > SEARCH_MAX_QUERY) {
		search_fail(&c, "query longer than %d bytes", SEARCH_MAX_QUERY);
		goto out;
	}
	out->ss_params = xcalloc(SEARCH_MAX_PARAMS, sizeof(char *));

	for (p = query; p < query + qlen; p = e + 1) {
		if ((e = memchr(p, '&', (size_t)(query + qlen - p))) == NULL)
			e = query + qlen;
		if (e > p)
			nterms++;
	}
	if (nterms > SEARCH_MAX_TERMS) {
		search_fail(&c, "more than %d parameters in one query",
		    SEARCH_MAX_TERMS);
		goto out;
	}
	if (nterms == 0)
		search_sql_add(&c, "TRUE");
	else if (nterms > 1)
		search_sql_add(&c, "(");
	nterms = 0;
	for (p = query; p < query + qlen; p = e + 1) {
		if ((e = memchr(p, '&', (size_t)(query + qlen - p))) == NULL)
			e = query + qlen;
		if (e == p)
			continue;
		if (nterms++ > 0)
			search_sql_add(&c, " AND ");
		if (compile_part(&c, p, (size_t)(e - p)) == -1)
			goto out;
	}
	if (nterms > 1)
		search_sql_add(&c, ")");
	if (c.c_full) {
		search_fail(&c,
		    "query too complex: its SQL would exceed the limits");
		goto out;
	}
	rc = 0;
 out:
	if (rc == -1)
		search_sql_free(out);
	return rc;
}
