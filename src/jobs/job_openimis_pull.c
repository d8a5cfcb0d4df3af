/*
 * job_openimis_pull.c — the "openimis-pull" job kind (see
 * job_openimis.h), and the client set-up both openIMIS kinds share.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "jobs/job_openimis.h"
#include "jobs/throttle.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "openimis/openimis_bundle.h"
#include "openimis/openimis_client.h"
#include "store/db.h"
#include "store/fhir_types.h"
#include "store/load.h"
#include "store/openimis_store.h"

#define PULL_TYPES_MAX	32
#define PULL_OVERLAP_S	60	/* _lastUpdated looks back this far */
#define PULL_PAGE_MAX	(256 << 20)
#define PULL_SAVE_S	1.0	/* checkpoint at most this often in a type */
#define PULL_TXN_S	1.0	/* a transaction of pages at most this long */
#define PULL_TXN_ROWS	20000	/* or this many rows */

struct pull_type {
	char	t_name[64];
	int64_t	t_read;
	int64_t	t_changed;
	int64_t	t_deleted;
	int	t_full;
};

struct pull {
	struct job_ctx		*p_ctx;
	struct openimis_client	*p_oi;
	PGconn			*p_conn;
	struct pull_type	 p_types[PULL_TYPES_MAX];
	int			 p_ntypes;
	int			 p_force_full;
	char			 p_start[64];	/* DB time the pull began */
	int			 p_ti;		/* type in hand */
	long			 p_page;	/* next page */
	int64_t			 p_mark;	/* type's new high-water */
	int64_t			 p_total;	/* openIMIS's total, 1st page */
	int			 p_complete;	/* no page went missing */
	double			 p_saved;	/* clock_mono of the last save */
	double			 p_store_s;	/* spent storing pages */
	char			 p_err[512];
};

static int	pull_sleep(void *, int);
static int	pull_types(const cJSON *, const char *, struct pull *, char *,
		    size_t);
static int	pull_save(struct pull *);
struct pull_got;
struct pull_txn;
static int	pull_page(struct pull *, struct pull_type *, struct pull_got *,
		    struct pull_txn *, int *);
static int	pull_type(struct pull *, struct pull_type *);
static void	pull_restore(struct pull *, const cJSON *);

static int
pull_sleep(void *arg, int ms)
{
	return job_ctx_sleep(arg, ms);
}

struct openimis_client *
job_openimis_client(struct job_ctx *ctx, char *errbuf, size_t errlen)
{
	const struct cfg	*cfg = job_ctx_cfg(ctx);
	struct openimis_opts	 o;

	if (cfg->openimis_url[0] == '\0') {
		snprintf(errbuf, errlen, "openimis_url is not set");
		return NULL;
	}
	openimis_client_opts(cfg, &o);
	o.oo_timeout_s = 120;
	o.oo_retry_s = cfg->openimis_retry;
	o.oo_sleep = pull_sleep;
	o.oo_sleep_arg = ctx;
	return openimis_client_new(&o, errbuf, errlen);
}

/* Fills p->p_types from params' "types" or the comma list def. */
static int
pull_types(const cJSON *params, const char *def, struct pull *p,
    char *errbuf, size_t errlen)
{
	const cJSON	*types = cJSON_GetObjectItemCaseSensitive(params,
			    "types"), *t;
	const char	*s, *e;
	size_t		 n;

	p->p_ntypes = 0;
	if (types != NULL) {
		if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) == 0) {
			snprintf(errbuf, errlen, "openimis-pull: \"types\" must "
			    "be a non-empty array of resource types");
			return -1;
		}
		cJSON_ArrayForEach(t, types) {
			if (!cJSON_IsString(t) || !fhir_type_valid(
			    t->valuestring) || p->p_ntypes == PULL_TYPES_MAX) {
				snprintf(errbuf, errlen, "openimis-pull: bad "
				    "or too many types");
				return -1;
			}
			str_lcpy(p->p_types[p->p_ntypes++].t_name,
			    t->valuestring, sizeof(p->p_types[0].t_name));
		}
		return 0;
	}
	for (s = def; *s != '\0'; s = *e != '\0' ? e + 1 : e) {
		e = s + strcspn(s, ",");
		n = (size_t)(e - s);
		if (n == 0)
			continue;
		if (n >= sizeof(p->p_types[0].t_name) ||
		    p->p_ntypes == PULL_TYPES_MAX) {
			snprintf(errbuf, errlen, "openimis_types: too many or "
			    "too long");
			return -1;
		}
		memcpy(p->p_types[p->p_ntypes].t_name, s, n);
		p->p_types[p->p_ntypes].t_name[n] = '\0';
		if (!fhir_type_valid(p->p_types[p->p_ntypes].t_name)) {
			snprintf(errbuf, errlen, "openimis_types: \"%.64s\" is "
			    "not a resource type", p->p_types[p->p_ntypes].
			    t_name);
			return -1;
		}
		p->p_ntypes++;
	}
	return 0;
}

int
job_openimis_pull_check(const cJSON *params, char *errbuf, size_t errlen)
{
	struct pull	*p;
	const cJSON	*item, *full;
	int		 rc;

	cJSON_ArrayForEach(item, params)
		if (strcmp(item->string, "full") != 0 &&
		    strcmp(item->string, "types") != 0) {
			snprintf(errbuf, errlen, "openimis-pull: unknown "
			    "parameter \"%.64s\"", item->string);
			return -1;
		}
	full = cJSON_GetObjectItemCaseSensitive(params, "full");
	if (full != NULL && !cJSON_IsBool(full)) {
		snprintf(errbuf, errlen, "openimis-pull: \"full\" must be a "
		    "boolean");
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	rc = pull_types(params, "Patient", p, errbuf, errlen);
	free(p);
	return rc;
}

/* Saves progress and the checkpoint: the next page of type p_ti. */
static int
pull_save(struct pull *p)
{
	struct buf	 cp, pr;
	int		 i, rc;

	buf_init(&cp, 1 << 16);
	buf_init(&pr, 1 << 16);
	(void)buf_printf(&cp, "{\"ti\":%d,\"page\":%ld,\"start\":\"%s\","
	    "\"mark\":%lld,\"total\":%lld,\"complete\":%d,\"types\":[", p->p_ti,
	    p->p_page, p->p_start, (long long)p->p_mark,
	    (long long)p->p_total, p->p_complete);
	(void)buf_printf(&pr, "{\"type\":\"%s\",\"types_done\":%d,"
	    "\"types\":%d,\"page\":%ld}", p->p_ti < p->p_ntypes ?
	    p->p_types[p->p_ti].t_name : "", p->p_ti, p->p_ntypes, p->p_page);
	for (i = 0; i < p->p_ntypes; i++)
		(void)buf_printf(&cp, "%s[%lld,%lld,%lld,%d]", i ? "," : "",
		    (long long)p->p_types[i].t_read,
		    (long long)p->p_types[i].t_changed,
		    (long long)p->p_types[i].t_deleted, p->p_types[i].t_full);
	(void)buf_puts(&cp, "]}");
	rc = job_ctx_save(p->p_ctx, pr.b_data, cp.b_data);
	p->p_saved = clock_mono();
	buf_free(&cp);
	buf_free(&pr);
	return rc;
}

/* Item k of a checkpoint array as a number, 0 if absent or not one. */
static double
pull_num_at(const cJSON *a, int k)
{
	const cJSON	*v = cJSON_GetArrayItem(a, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void
pull_restore(struct pull *p, const cJSON *cp)
{
	const cJSON	*v, *types, *t;
	int		 i = 0;

	v = cJSON_GetObjectItemCaseSensitive(cp, "start");
	if (!cJSON_IsString(v) || strlen(v->valuestring) >=
	    sizeof(p->p_start))
		return;
	str_lcpy(p->p_start, v->valuestring, sizeof(p->p_start));
#define CPNUM(name, dst, type) do {					\
	v = cJSON_GetObjectItemCaseSensitive(cp, name);			\
	if (cJSON_IsNumber(v))						\
		(dst) = (type)v->valuedouble;				\
} while (0)
	CPNUM("ti", p->p_ti, int);
	CPNUM("page", p->p_page, long);
	CPNUM("mark", p->p_mark, int64_t);
	CPNUM("total", p->p_total, int64_t);
	CPNUM("complete", p->p_complete, int);
#undef CPNUM
	if (p->p_ti < 0 || p->p_ti > p->p_ntypes || p->p_page < 1)
		p->p_ti = 0, p->p_page = 1;
	types = cJSON_GetObjectItemCaseSensitive(cp, "types");
	if (!cJSON_IsArray(types))
		types = NULL;
	cJSON_ArrayForEach(t, types) {
		if (i >= p->p_ntypes || cJSON_GetArraySize(t) != 4)
			break;
		p->p_types[i].t_read = (int64_t)pull_num_at(t, 0);
		p->p_types[i].t_changed = (int64_t)pull_num_at(t, 1);
		p->p_types[i].t_deleted = (int64_t)pull_num_at(t, 2);
		p->p_types[i].t_full = (int)pull_num_at(t, 3);
		i++;
	}
}

/*
 * The page fetcher: a thread that reads the pages of one type one
 * request at a time at the client's pace, and parses each, while the
 * job's thread stores the page before it; a one-page mailbox between
 * them.  So a page's store time overlaps the next page's request
 * instead of adding to it, and openIMIS still sees one request at a time
 * at most openimis_rps.  The fetcher never touches the job's context or
 * connections: its sleeps only watch f_stop, and the job's thread
 * heartbeats while it waits for a page.
 */
struct pull_got {
	int			 g_rc;		/* 0, -1 (g_err), OPENIMIS_STOP */
	long			 g_page;
	long			 g_status;
	int64_t			 g_date;
	int			 g_parsed;	/* g_pg holds the page */
	struct openimis_page	 g_pg;
	struct buf		 g_body;	/* kept for an error's text */
	char			 g_err[512];
};

struct pull_fetch {
	pthread_t		 f_thread;
	pthread_mutex_t		 f_mu;
	pthread_cond_t		 f_cv;
	struct openimis_client	*f_oi;
	const char		*f_type;
	int			 f_count;
	int64_t			 f_hw;
	long			 f_page;	/* next page to read */
	int			 f_stop;	/* the job's thread says stop */
	int			 f_full;	/* f_got holds a page */
	int			 f_done;	/* the fetcher has ended */
	struct pull_got		 f_got;
};

static void
pull_got_free(struct pull_got *g)
{
	openimis_bundle_free(&g->g_pg);
	buf_free(&g->g_body);
	memset(g, 0, sizeof(*g));
}

static int
pull_fetch_stopping(struct pull_fetch *f)
{
	int	s;

	pthread_mutex_lock(&f->f_mu);
	s = f->f_stop;
	pthread_mutex_unlock(&f->f_mu);
	return s;
}

/* openimis_sleep_fn of the fetcher: slices of 50 ms, -1 once told to
 * stop. */
static int
pull_fetch_sleep(void *arg, int ms)
{
	struct pull_fetch	*f = arg;
	struct timespec		 ts;
	int			 step;

	while (ms > 0) {
		if (pull_fetch_stopping(f))
			return -1;
		step = ms > 50 ? 50 : ms;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		ms -= step;
	}
	return pull_fetch_stopping(f) ? -1 : 0;
}

static void *
pull_fetch_main(void *arg)
{
	struct pull_fetch	*f = arg;
	struct pull_got		 g;
	struct tm		 tm;
	time_t			 tt;
	char			 q[512], since[40];
	int			 more;

	since[0] = '\0';
	if (f->f_hw > 0) {
		tt = (time_t)(f->f_hw - PULL_OVERLAP_S);
		gmtime_r(&tt, &tm);
		strftime(since, sizeof(since), "&_lastUpdated=ge%Y-%m-%dT%H:%M:%S",
		    &tm);
	}
	for (more = 1; more; f->f_page++) {
		memset(&g, 0, sizeof(g));
		buf_init(&g.g_body, PULL_PAGE_MAX);
		g.g_page = f->f_page;
		snprintf(q, sizeof(q), "%s/?_count=%d&page-offset=%ld%s",
		    f->f_type, f->f_count, f->f_page, since);
		g.g_rc = openimis_client_get(f->f_oi, q, &g.g_body,
		    &g.g_status, &g.g_date, g.g_err, sizeof(g.g_err));
		if (g.g_rc == 0 && g.g_status == 200) {
			g.g_parsed = 1;
			if (openimis_bundle_parse(g.g_body.b_data,
			    g.g_body.b_len, &g.g_pg, g.g_err,
			    sizeof(g.g_err)) == -1)
				g.g_rc = -1;
			else
				buf_free(&g.g_body);	/* parsed: not needed */
		}
		/* Read on only while the Bundle names the next page. */
		more = g.g_rc == 0 && g.g_parsed && g.g_pg.op_next ==
		    f->f_page + 1;
		pthread_mutex_lock(&f->f_mu);
		while (f->f_full && !f->f_stop)
			pthread_cond_wait(&f->f_cv, &f->f_mu);
		if (f->f_stop) {
			pthread_mutex_unlock(&f->f_mu);
			pull_got_free(&g);
			break;
		}
		f->f_got = g;
		f->f_full = 1;
		pthread_cond_broadcast(&f->f_cv);
		pthread_mutex_unlock(&f->f_mu);
	}
	pthread_mutex_lock(&f->f_mu);
	f->f_done = 1;
	pthread_cond_broadcast(&f->f_cv);
	pthread_mutex_unlock(&f->f_mu);
	return NULL;
}

/* Starts the fetcher of type t from page p_page; 0 or -1 (p_err). */
static int
pull_fetch_start(struct pull *p, struct pull_fetch *f, struct pull_type *t,
    int64_t hw)
{
	int	e;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->f_mu, NULL);
	pthread_cond_init(&f->f_cv, NULL);
	f->f_oi = p->p_oi;
	f->f_type = t->t_name;
	f->f_count = job_ctx_cfg(p->p_ctx)->openimis_page_size;
	f->f_hw = hw;
	f->f_page = p->p_page;
	openimis_client_set_sleep(p->p_oi, pull_fetch_sleep, f);
	if ((e = pthread_create(&f->f_thread, NULL, pull_fetch_main, f)) !=
	    0) {
		snprintf(p->p_err, sizeof(p->p_err), "page fetcher: %s",
		    strerror(e));
		openimis_client_set_sleep(p->p_oi, pull_sleep, p->p_ctx);
		pthread_cond_destroy(&f->f_cv);
		pthread_mutex_destroy(&f->f_mu);
		return -1;
	}
	return 0;
}

/* Stops and joins the fetcher, dropping a page it still holds. */
static void
pull_fetch_end(struct pull *p, struct pull_fetch *f)
{
	pthread_mutex_lock(&f->f_mu);
	f->f_stop = 1;
	pthread_cond_broadcast(&f->f_cv);
	pthread_mutex_unlock(&f->f_mu);
	(void)pthread_join(f->f_thread, NULL);
	if (f->f_full)
		pull_got_free(&f->f_got);
	pthread_cond_destroy(&f->f_cv);
	pthread_mutex_destroy(&f->f_mu);
	openimis_client_set_sleep(p->p_oi, pull_sleep, p->p_ctx);
}

/* Takes the next page from the fetcher into *g, heartbeating while it
 * waits.  0, or OPENIMIS_STOP (the job must stop). */
static int
pull_fetch_take(struct pull *p, struct pull_fetch *f, struct pull_got *g)
{
	struct timespec	ts;

	pthread_mutex_lock(&f->f_mu);
	while (!f->f_full) {
		if (f->f_done) {
			/* Cannot happen: the job stops asking after the
			 * last page.  Said as an error, not a hang. */
			pthread_mutex_unlock(&f->f_mu);
			memset(g, 0, sizeof(*g));
			g->g_rc = -1;
			snprintf(g->g_err, sizeof(g->g_err), "page fetcher "
			    "ended early");
			return 0;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&f->f_cv, &f->f_mu, &ts);
		if (!f->f_full) {
			pthread_mutex_unlock(&f->f_mu);
			if (job_ctx_tick(p->p_ctx) == -1)
				return OPENIMIS_STOP;
			pthread_mutex_lock(&f->f_mu);
		}
	}
	*g = f->f_got;
	memset(&f->f_got, 0, sizeof(f->f_got));
	f->f_full = 0;
	pthread_cond_broadcast(&f->f_cv);
	pthread_mutex_unlock(&f->f_mu);
	return 0;
}

/*
 * Pages are stored in transactions of one or more pages: a transaction
 * (its load session and the ids it saw) stays open while the fetcher
 * already holds the next page, and commits when the job has caught up
 * with the fetcher, after PULL_TXN_S, PULL_TXN_ROWS rows, or at the last
 * page.  When the store keeps up that is a page a transaction; when it
 * lags, its fixed costs (the stage table, the merge statement, the
 * commit) are shared by the pages that queued up meanwhile.
 */
struct pull_txn {
	struct load_session	*x_ls;		/* NULL: none open */
	char			**x_ids;
	size_t			 x_nids, x_cap;
	double			 x_t0;		/* clock_mono at BEGIN */
};

/* Rolls back an open transaction and forgets it. */
static void
pull_txn_abort(struct pull *p, struct pull_txn *x)
{
	char	err[256];
	size_t	i;

	if (x->x_ls != NULL) {
		load_session_free(x->x_ls);
		(void)db_exec(p->p_conn, "ROLLBACK", 0, NULL, err, sizeof(err));
	}
	for (i = 0; i < x->x_nids; i++)
		free(x->x_ids[i]);
	free(x->x_ids);
	memset(x, 0, sizeof(*x));
}

/* Commits x (if open): the upsert, the seen ids, COMMIT.  0 or -1. */
static int
pull_txn_commit(struct pull *p, struct pull_type *t, struct pull_txn *x)
{
	struct load_stats	st;
	enum load_result	lr;
	size_t			i;

	if (x->x_ls == NULL)
		return 0;
	lr = load_session_finish(x->x_ls, &st, p->p_err, sizeof(p->p_err));
	load_session_free(x->x_ls);
	x->x_ls = NULL;
	if (lr != LOAD_OK ||
	    openimis_store_seen(p->p_conn, t->t_name,
	    (const char *const *)x->x_ids, x->x_nids, p->p_start, p->p_err,
	    sizeof(p->p_err)) == -1 ||
	    db_exec(p->p_conn, "COMMIT", 0, NULL, p->p_err,
	    sizeof(p->p_err)) == -1) {
		char	err[256];

		(void)db_exec(p->p_conn, "ROLLBACK", 0, NULL, err, sizeof(err));
		pull_txn_abort(p, x);
		return -1;
	}
	t->t_read += (int64_t)x->x_nids;
	t->t_changed += st.ls_changed;
	for (i = 0; i < x->x_nids; i++)
		free(x->x_ids[i]);
	free(x->x_ids);
	memset(x, 0, sizeof(*x));
	return 0;
}

/*
 * Adds page g (page p_page of type t) to the transaction x, opening it
 * if needed.  *last is set on the last page.  0, -1 (p_err; retry
 * later) or OPENIMIS_STOP.
 */
static int
pull_page(struct pull *p, struct pull_type *t, struct pull_got *g,
    struct pull_txn *x, int *last)
{
	struct openimis_page	*pg = &g->g_pg;
	struct load_options	 lo;
	const cJSON		*e;
	char			 id[OPENIMIS_ID_MAX], err[256];
	char			*line;
	size_t			 bytes = 0, nids0 = x->x_nids;
	enum load_result	 lr;

	if (g->g_rc != 0) {
		str_lcpy(p->p_err, g->g_err, sizeof(p->p_err));
		return g->g_rc;
	}
	if (g->g_page != p->p_page) {
		snprintf(p->p_err, sizeof(p->p_err), "openIMIS %s: page %ld "
		    "arrived for page %ld", t->t_name, g->g_page, p->p_page);
		return -1;
	}
	if (p->p_page == 1)
		p->p_mark = g->g_date > 0 ? g->g_date : (int64_t)time(NULL);
	if (g->g_status == 404 && p->p_page > 1) {
		/* Rows left the set while we paged (deleted, or updated and
		 * moved behind): this pull cannot vouch for deletions. */
		p->p_complete = 0;
		*last = 1;
		return 0;
	}
	if (g->g_status != 200) {
		snprintf(p->p_err, sizeof(p->p_err), "openIMIS GET %s: HTTP "
		    "%ld: %.200s", t->t_name, g->g_status,
		    g->g_body.b_data != NULL ? g->g_body.b_data : "");
		return -1;
	}
	if (p->p_page == 1)
		p->p_total = pg->op_total;
	if (x->x_ls == NULL) {
		memset(&lo, 0, sizeof(lo));
		lo.lo_expect_type = t->t_name;
		if (db_exec(p->p_conn, "BEGIN", 0, NULL, p->p_err,
		    sizeof(p->p_err)) == -1)
			return -1;
		if ((x->x_ls = load_session_begin(p->p_conn, LOAD_MERGE, &lo,
		    p->p_err, sizeof(p->p_err))) == NULL) {
			(void)db_exec(p->p_conn, "ROLLBACK", 0, NULL, err,
			    sizeof(err));
			return -1;
		}
		x->x_t0 = clock_mono();
	}
	cJSON_ArrayForEach(e, pg->op_entries) {
		line = openimis_resource_line(cJSON_GetObjectItemCaseSensitive(e,
		    "resource"), t->t_name, id, sizeof(id), err, sizeof(err));
		if (line == NULL) {
			log_warnx("job %s: openIMIS %s page %ld: %s",
			    job_ctx_id(p->p_ctx), t->t_name, p->p_page, err);
			continue;
		}
		lr = load_session_line(x->x_ls, line, strlen(line), err,
		    sizeof(err));
		bytes += strlen(line);
		free(line);
		if (lr == LOAD_BAD_LINE) {
			log_warnx("job %s: openIMIS %s/%s not stored: %s",
			    job_ctx_id(p->p_ctx), t->t_name, id, err);
			continue;
		}
		if (lr != LOAD_OK) {
			snprintf(p->p_err, sizeof(p->p_err), "store: %s", err);
			pull_txn_abort(p, x);
			return -1;
		}
		if (x->x_nids == x->x_cap) {
			x->x_cap = x->x_cap ? x->x_cap * 2 : 1024;
			x->x_ids = xreallocarray(x->x_ids, x->x_cap,
			    sizeof(*x->x_ids));
		}
		x->x_ids[x->x_nids++] = xstrdup(id);
	}
	*last = pg->op_next == 0;
	if (!*last && pg->op_next != p->p_page + 1) {
		snprintf(p->p_err, sizeof(p->p_err), "openIMIS %s page %ld: "
		    "next link names page %ld", t->t_name, p->p_page,
		    pg->op_next);
		pull_txn_abort(p, x);
		return -1;
	}
	if (throttle_take(job_ctx_throttle(p->p_ctx),
	    (int64_t)(x->x_nids - nids0), (int64_t)bytes) == -1)
		return OPENIMIS_STOP;
	return 0;
}

/* 1 if the fetcher holds the next page already. */
static int
pull_fetch_ready(struct pull_fetch *f)
{
	int	r;

	pthread_mutex_lock(&f->f_mu);
	r = f->f_full;
	pthread_mutex_unlock(&f->f_mu);
	return r;
}

/* Pulls type t from page p_page on. */
static int
pull_type(struct pull *p, struct pull_type *t)
{
	struct openimis_pull_state	 st;
	const struct cfg		*cfg = job_ctx_cfg(p->p_ctx);
	struct pull_fetch		 f;
	struct pull_got			 g;
	struct pull_txn			 x;
	int64_t				 seen = 0, del = 0;
	double				 t0;
	int				 rc, last = 0;

	memset(&x, 0, sizeof(x));
	if (openimis_store_pull_get(p->p_conn, t->t_name, &st, p->p_err,
	    sizeof(p->p_err)) == -1)
		return -1;
	if (p->p_page == 1) {
		t->t_full = p->p_force_full || st.ps_high_water == 0 ||
		    (int64_t)time(NULL) - st.ps_last_full >=
		    (int64_t)cfg->openimis_full_every * 86400;
		p->p_complete = 1;
	}
	if (pull_fetch_start(p, &f, t, t->t_full ? 0 : st.ps_high_water) ==
	    -1)
		return -1;
	rc = 0;
	while (!last && rc == 0) {
		if ((rc = pull_fetch_take(p, &f, &g)) != 0)
			break;
		t0 = clock_mono();
		rc = pull_page(p, t, &g, &x, &last);
		pull_got_free(&g);
		if (rc == 0 && (last || !pull_fetch_ready(&f) ||
		    clock_mono() - x.x_t0 >= PULL_TXN_S ||
		    x.x_nids >= PULL_TXN_ROWS)) {
			rc = pull_txn_commit(p, t, &x);
			/* A checkpoint names the first page not committed:
			 * one a second, not one WAL flush per page. */
			if (rc == 0 && !last && clock_mono() - p->p_saved >=
			    PULL_SAVE_S) {
				p->p_page++;
				if (pull_save(p) == -1)
					rc = OPENIMIS_STOP;
				p->p_page--;
			}
		}
		p->p_store_s += clock_mono() - t0;
		if (rc != 0 || last)
			break;
		p->p_page++;
		if (job_ctx_tick(p->p_ctx) == -1)
			rc = OPENIMIS_STOP;
	}
	pull_txn_abort(p, &x);
	pull_fetch_end(p, &f);
	if (rc != 0)
		return rc;
	if (t->t_full && p->p_complete && p->p_total >= 0) {
		if (openimis_store_seen_count(p->p_conn, t->t_name, p->p_start,
		    &seen, p->p_err, sizeof(p->p_err)) == -1)
			return -1;
		if (seen == p->p_total) {
			if (openimis_store_reconcile(p->p_conn, t->t_name,
			    p->p_start, &del, p->p_err, sizeof(p->p_err)) == -1)
				return -1;
			t->t_deleted += del;
		} else
			log_warnx("job %s: openIMIS %s: saw %lld of %lld; "
			    "deletions left to the next full pull",
			    job_ctx_id(p->p_ctx), t->t_name, (long long)seen,
			    (long long)p->p_total);
	}
	return openimis_store_pull_done(p->p_conn, t->t_name, p->p_mark,
	    t->t_full, p->p_total, p->p_err, sizeof(p->p_err));
}

enum job_status
job_openimis_pull_run(struct job_ctx *ctx)
{
	struct pull		*p;
	struct openimis_stats	 os;
	struct buf		 res;
	const cJSON		*full, *cp;
	PGresult		*r;
	char			 err[512];
	int			 i, rc;
	enum job_status		 js = JOB_RETRY;

	p = xcalloc(1, sizeof(*p));
	p->p_ctx = ctx;
	p->p_page = 1;
	if (pull_types(job_ctx_params(ctx), job_ctx_cfg(ctx)->openimis_types,
	    p, err, sizeof(err)) == -1) {
		job_ctx_error(ctx, "%s", err);
		js = JOB_FAIL;
		goto out;
	}
	full = cJSON_GetObjectItemCaseSensitive(job_ctx_params(ctx), "full");
	p->p_force_full = cJSON_IsTrue(full);
	if ((p->p_oi = job_openimis_client(ctx, err, sizeof(err))) == NULL) {
		job_ctx_error(ctx, "openimis-pull: %s", err);
		js = JOB_FAIL;
		goto out;
	}
	if ((p->p_conn = job_ctx_conn(ctx, err, sizeof(err))) == NULL) {
		job_ctx_error(ctx, "%s", err);
		goto out;
	}
	if ((cp = job_ctx_checkpoint(ctx)) != NULL)
		pull_restore(p, cp);
	if (p->p_start[0] == '\0') {
		if ((r = db_query(p->p_conn, "SELECT now()::text", 0, NULL, err,
		    sizeof(err))) == NULL) {
			job_ctx_error(ctx, "%s", err);
			goto out;
		}
		str_lcpy(p->p_start, PQgetvalue(r, 0, 0), sizeof(p->p_start));
		PQclear(r);
	}
	for (; p->p_ti < p->p_ntypes; p->p_ti++, p->p_page = 1) {
		if (pull_save(p) == -1) {
			js = JOB_STOPPED;
			goto out;
		}
		rc = pull_type(p, &p->p_types[p->p_ti]);
		if (rc == OPENIMIS_STOP || job_ctx_stopping(ctx)) {
			js = JOB_STOPPED;
			goto out;
		}
		if (rc == -1) {
			job_ctx_error(ctx, "openimis-pull: %s", p->p_err);
			goto out;
		}
	}
	openimis_client_stats(p->p_oi, &os);
	buf_init(&res, 1 << 16);
	(void)buf_puts(&res, "{\"types\":{");
	for (i = 0; i < p->p_ntypes; i++)
		(void)buf_printf(&res, "%s\"%s\":{\"read\":%lld,\"changed\":"
		    "%lld,\"deleted\":%lld,\"full\":%s}", i ? "," : "",
		    p->p_types[i].t_name, (long long)p->p_types[i].t_read,
		    (long long)p->p_types[i].t_changed,
		    (long long)p->p_types[i].t_deleted,
		    p->p_types[i].t_full ? "true" : "false");
	(void)buf_printf(&res, "},\"requests\":%lld,\"retries\":%lld,"
	    "\"logins\":%lld,\"backoff\":%.2f,\"wait_s\":%.1f,\"latency_s\":"
	    "%.1f,\"store_s\":%.1f}", (long long)os.os_requests,
	    (long long)os.os_retries, (long long)os.os_logins, os.os_factor,
	    os.os_wait_s, os.os_latency_s, p->p_store_s);
	job_ctx_result(ctx, res.b_data);
	buf_free(&res);
	js = JOB_DONE;
 out:
	openimis_client_free(p->p_oi);
	free(p);
	return js;
}
