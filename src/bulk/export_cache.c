/*
 * export_cache.c — status answers kept in the API process (see
 * export_cache.h for the contract).
 *
 * DESIGN.  A hash table of entries chained per bucket, and one LRU list
 * (head: most recently polled).  An entry may have no answer yet (its
 * first load is running).  e_loading with e_load names the one load that
 * may store an answer: a loader that was superseded (a waiter gave up on
 * it) or voided (an invalidation since its lookup) stores nothing.  The
 * refresher wakes every EC_TICK_MS, takes the entries polled in the last
 * EXPORT_CACHE_HOT_MS, and since their answer was loaded, whose answer is
 * older than EXPORT_CACHE_FRESH_MS (walking the LRU list from its head,
 * so only polled jobs cost queries), and reloads them on its own
 * connection outside the lock.  So a job costs at most one load per poll
 * and at most one per EXPORT_CACHE_FRESH_MS however many poll it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulk/export_cache.h"
#include "core/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define EC_BUCKETS	8192	/* power of two, 2x EXPORT_CACHE_MAX */
#define EC_ID_MAX	64	/* job ids are 32 hex digits */
#define EC_TICK_MS	50	/* refresher period */
#define EC_REFRESH_MAX	64	/* answers reloaded per tick at most */
#define EC_WAIT_S	2.0	/* longest wait for another's load */

struct ec_entry {
	char			 e_id[EC_ID_MAX];
	struct export_snap	*e_snap;	/* NULL until first loaded */
	double			 e_fetched;	/* its load began (mono s) */
	double			 e_hit;		/* last poll (mono s) */
	int			 e_loading;	/* a load is running */
	uint64_t		 e_load;	/* that load's number */
	double			 e_load_start;	/* and when it began */
	struct ec_entry		*e_hnext;	/* bucket chain */
	struct ec_entry		*e_prev;	/* LRU, towards the head */
	struct ec_entry		*e_next;	/* LRU, towards the tail */
};

/* The process's one cache (STYLE: one global per role). */
static struct {
	pthread_mutex_t		 mu;
	pthread_cond_t		 loaded;	/* a load ended */
	pthread_cond_t		 wake;		/* refresher: stop */
	atomic_int		 on;		/* started */
	int			 stop;
	int			 threaded;	/* refresher running */
	pthread_t		 thread;
	const struct cfg	*cfg;		/* borrowed */
	export_cache_load_fn	*load;
	struct ec_entry		*buckets[EC_BUCKETS];
	struct ec_entry		*head, *tail;	/* LRU */
	size_t			 n;		/* entries */
	size_t			 bytes;		/* body bytes kept */
	uint64_t		 epoch;		/* invalidations */
	uint64_t		 loadseq;	/* loads begun */
	atomic_uint_fast64_t	 hits;		/* export_cache_stats */
	atomic_uint_fast64_t	 misses;
} ec = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint32_t		 ec_hash(const char *);
static struct ec_entry	*ec_find(const char *);
static struct ec_entry	*ec_insert(const char *);
static void		 ec_lru_unlink(struct ec_entry *);
static void		 ec_lru_front(struct ec_entry *);
static void		 ec_evict(struct ec_entry *);
static void		 ec_trim(const struct ec_entry *);
static void		 ec_begin_load(struct ec_entry *, double,
			    struct export_cache_ticket *);
static void		 ec_timedwait(pthread_cond_t *, double);
static void		*ec_refresher(void *);

struct export_snap *
export_snap_new(void)
{
	struct export_snap	*s = xcalloc(1, sizeof(*s));

	atomic_init(&s->sn_refs, 1);
	return s;
}

void
export_snap_unref(struct export_snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->sn_refs, 1) != 1)
		return;
	free(s->sn_text);
	free(s->sn_body);
	free(s);
}

/* FNV-1a. */
static uint32_t
ec_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (EC_BUCKETS - 1);
}

static struct ec_entry *
ec_find(const char *id)
{
	struct ec_entry	*e;

	for (e = ec.buckets[ec_hash(id)]; e != NULL; e = e->e_hnext)
		if (strcmp(e->e_id, id) == 0)
			return e;
	return NULL;
}

static void
ec_lru_unlink(struct ec_entry *e)
{
	if (e->e_prev != NULL)
		e->e_prev->e_next = e->e_next;
	else
		ec.head = e->e_next;
	if (e->e_next != NULL)
		e->e_next->e_prev = e->e_prev;
	else
		ec.tail = e->e_prev;
	e->e_prev = e->e_next = NULL;
}

/* Links e, which is in no list, at the front. */
static void
ec_lru_push(struct ec_entry *e)
{
	e->e_next = ec.head;
	if (ec.head != NULL)
		ec.head->e_prev = e;
	ec.head = e;
	if (ec.tail == NULL)
		ec.tail = e;
}

static void
ec_lru_front(struct ec_entry *e)
{
	if (ec.head == e)
		return;
	ec_lru_unlink(e);
	ec_lru_push(e);
}

/* Removes and frees e.  A load running for it will store nothing; its
 * waiters look again. */
static void
ec_evict(struct ec_entry *e)
{
	struct ec_entry	**pp;

	for (pp = &ec.buckets[ec_hash(e->e_id)]; *pp != e;
	    pp = &(*pp)->e_hnext)
		;
	*pp = e->e_hnext;
	ec_lru_unlink(e);
	if (e->e_snap != NULL) {
		ec.bytes -= e->e_snap->sn_len;
		export_snap_unref(e->e_snap);
	}
	if (e->e_loading)
		pthread_cond_broadcast(&ec.loaded);
	ec.n--;
	free(e);
}

/* Evicts least recently polled answers, never keep, while over the byte
 * bound. */
static void
ec_trim(const struct ec_entry *keep)
{
	while (ec.bytes > EXPORT_CACHE_MAX_BYTES && ec.tail != NULL &&
	    ec.tail != keep)
		ec_evict(ec.tail);
}

/* A new entry at the LRU head, evicting the tail when full. */
static struct ec_entry *
ec_insert(const char *id)
{
	struct ec_entry	*e;
	uint32_t	 h = ec_hash(id);

	if (ec.n >= EXPORT_CACHE_MAX && ec.tail != NULL)
		ec_evict(ec.tail);
	e = xcalloc(1, sizeof(*e));
	str_lcpy(e->e_id, id, sizeof(e->e_id));
	e->e_hnext = ec.buckets[h];
	ec.buckets[h] = e;
	ec.n++;
	ec_lru_push(e);
	return e;
}

static void
ec_begin_load(struct ec_entry *e, double now, struct export_cache_ticket *t)
{
	e->e_loading = 1;
	e->e_load = ++ec.loadseq;
	e->e_load_start = now;
	t->t_epoch = ec.epoch;
	t->t_load = e->e_load;
}

/* Waits on c until signalled or until the monotonic time deadline. */
static void
ec_timedwait(pthread_cond_t *c, double deadline)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(c, &ec.mu, &ts);
}

struct export_snap *
export_cache_get(const char *id, struct export_cache_ticket *t)
{
	struct export_snap	*s = NULL;
	struct ec_entry		*e;
	double			 now = clock_mono(), deadline = now + EC_WAIT_S;

	memset(t, 0, sizeof(*t));
	if (!atomic_load(&ec.on) || strlen(id) >= EC_ID_MAX) {
		atomic_fetch_add(&ec.misses, 1);
		return NULL;
	}
	pthread_mutex_lock(&ec.mu);
	for (;;) {
		now = clock_mono();
		if ((e = ec_find(id)) == NULL) {
			e = ec_insert(id);
			break;
		}
		e->e_hit = now;
		ec_lru_front(e);
		if (e->e_snap != NULL && (now - e->e_fetched) * 1000 <=
		    EXPORT_CACHE_TTL_MS) {
			s = e->e_snap;
			atomic_fetch_add(&s->sn_refs, 1);
			goto out;
		}
		/*
		 * Past the TTL but not the stale bound: the previous answer
		 * rather than a wait, when a reload is under way (the
		 * refresher's, most often, slowed by a busy database) or
		 * the refresher can be woken to make one (it was starved
		 * of CPU).  A request thread that loaded here would hold
		 * up every connection its HTTP thread serves.
		 */
		if (e->e_snap != NULL && (e->e_loading || ec.threaded) &&
		    (now - e->e_fetched) * 1000 <= EXPORT_CACHE_STALE_MS) {
			if (!e->e_loading)
				pthread_cond_signal(&ec.wake);
			s = e->e_snap;
			atomic_fetch_add(&s->sn_refs, 1);
			goto out;
		}
		/* Past the wait, this thread takes the load over. */
		if (!e->e_loading || now >= deadline)
			break;
		ec_timedwait(&ec.loaded, deadline);
	}
	e->e_hit = now;
	ec_begin_load(e, now, t);
 out:
	pthread_mutex_unlock(&ec.mu);
	atomic_fetch_add(s != NULL ? &ec.hits : &ec.misses, 1);
	return s;
}

void
export_cache_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = atomic_load(&ec.hits);
	*misses = atomic_load(&ec.misses);
}

void
export_cache_put(const char *id, const struct export_cache_ticket *t,
    struct export_snap *s)
{
	struct ec_entry	*e;

	if (!atomic_load(&ec.on) || t->t_load == 0)
		return;
	pthread_mutex_lock(&ec.mu);
	if ((e = ec_find(id)) == NULL || !e->e_loading ||
	    e->e_load != t->t_load)
		goto out;
	e->e_loading = 0;
	pthread_cond_broadcast(&ec.loaded);
	if (t->t_epoch != ec.epoch || s->sn_len > EXPORT_CACHE_MAX_BODY) {
		if (e->e_snap == NULL)
			ec_evict(e);
		goto out;
	}
	if (e->e_snap != NULL) {
		ec.bytes -= e->e_snap->sn_len;
		export_snap_unref(e->e_snap);
	}
	atomic_fetch_add(&s->sn_refs, 1);
	e->e_snap = s;
	e->e_fetched = e->e_load_start;
	ec.bytes += s->sn_len;
	ec_trim(e);
 out:
	pthread_mutex_unlock(&ec.mu);
}

void
export_cache_abandon(const char *id, const struct export_cache_ticket *t)
{
	struct ec_entry	*e;

	if (!atomic_load(&ec.on) || t->t_load == 0)
		return;
	pthread_mutex_lock(&ec.mu);
	if ((e = ec_find(id)) != NULL && e->e_loading &&
	    e->e_load == t->t_load) {
		e->e_loading = 0;
		pthread_cond_broadcast(&ec.loaded);
		if (e->e_snap == NULL)
			ec_evict(e);
	}
	pthread_mutex_unlock(&ec.mu);
}

void
export_cache_invalidate(const char *id)
{
	struct ec_entry	*e;

	if (!atomic_load(&ec.on))
		return;
	pthread_mutex_lock(&ec.mu);
	ec.epoch++;
	if ((e = ec_find(id)) != NULL)
		ec_evict(e);
	pthread_mutex_unlock(&ec.mu);
}

/* Opens the refresher's connection; NULL (logged once per outage). */
static PGconn *
ec_connect(int *down)
{
	PGconn	*conn;
	char	 err[512], sql[64];

	if ((conn = db_connect(ec.cfg->database_url, "api", err,
	    sizeof(err))) != NULL) {
		snprintf(sql, sizeof(sql), "SET statement_timeout = %d",
		    ec.cfg->db_statement_timeout);
		if (db_exec(conn, sql, 0, NULL, err, sizeof(err)) == 0) {
			if (*down)
				log_info("status cache: database back");
			*down = 0;
			return conn;
		}
		PQfinish(conn);
	}
	if (!*down)
		log_warnx("status cache: %s; polls load their own answers "
		    "until it is back", err);
	*down = 1;
	return NULL;
}

static void *
ec_refresher(void *arg)
{
	struct export_cache_ticket	 tk[EC_REFRESH_MAX];
	char				 ids[EC_REFRESH_MAX][EC_ID_MAX];
	struct export_snap		*s;
	struct ec_entry			*e;
	PGconn				*conn = NULL;
	char				 err[512];
	double				 now;
	int				 i, n, down = 0;

	(void)arg;
	pthread_mutex_lock(&ec.mu);
	while (!ec.stop) {
		ec_timedwait(&ec.wake, clock_mono() + EC_TICK_MS / 1000.0);
		if (ec.stop)
			break;
		now = clock_mono();
		n = 0;
		for (e = ec.head; e != NULL && n < EC_REFRESH_MAX &&
		    (now - e->e_hit) * 1000 < EXPORT_CACHE_HOT_MS;
		    e = e->e_next) {
			/* Only answers used since their load: a job
			 * polled seldom costs a load per poll, never
			 * more. */
			if (e->e_snap == NULL || e->e_loading ||
			    e->e_hit <= e->e_fetched ||
			    (now - e->e_fetched) * 1000 < EXPORT_CACHE_FRESH_MS)
				continue;
			ec_begin_load(e, now, &tk[n]);
			str_lcpy(ids[n++], e->e_id, EC_ID_MAX);
		}
		if (n == 0)
			continue;
		pthread_mutex_unlock(&ec.mu);
		if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = ec_connect(&down);
		}
		for (i = 0; i < n; i++) {
			if (conn == NULL || ec.load(ec.cfg, conn, ids[i], &s,
			    err, sizeof(err)) == -1) {
				if (conn != NULL)
					log_warnx("status cache: job %s: %s",
					    ids[i], err);
				PQfinish(conn);
				conn = NULL;
				export_cache_abandon(ids[i], &tk[i]);
				continue;
			}
			export_cache_put(ids[i], &tk[i], s);
			export_snap_unref(s);
		}
		pthread_mutex_lock(&ec.mu);
	}
	pthread_mutex_unlock(&ec.mu);
	PQfinish(conn);
	return NULL;
}

int
export_cache_start(const struct cfg *cfg, export_cache_load_fn *load,
    char *errbuf, size_t errlen)
{
	pthread_condattr_t	ca;
	int			rc;

	ec.cfg = cfg;
	ec.load = load;
	ec.stop = 0;
	/* Timed waits count on the monotonic clock (ec_timedwait). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ec.loaded, &ca);
	pthread_cond_init(&ec.wake, &ca);
	pthread_condattr_destroy(&ca);
	ec.threaded = 0;
	if (load != NULL && (rc = pthread_create(&ec.thread, NULL,
	    ec_refresher, NULL)) != 0) {
		snprintf(errbuf, errlen, "status cache thread: error %d", rc);
		pthread_cond_destroy(&ec.loaded);
		pthread_cond_destroy(&ec.wake);
		return -1;
	}
	ec.threaded = load != NULL;
	atomic_store(&ec.on, 1);
	return 0;
}

void
export_cache_stop(void)
{
	struct ec_entry	*e, *next;

	if (!atomic_load(&ec.on))
		return;
	pthread_mutex_lock(&ec.mu);
	ec.stop = 1;
	pthread_cond_signal(&ec.wake);
	pthread_mutex_unlock(&ec.mu);
	if (ec.threaded)
		pthread_join(ec.thread, NULL);
	atomic_store(&ec.on, 0);
	pthread_mutex_lock(&ec.mu);
	/* Walk the LRU list with the next entry read before each free. */
	for (e = ec.head; e != NULL; e = next) {
		next = e->e_next;
		ec_evict(e);
	}
	pthread_mutex_unlock(&ec.mu);
	pthread_cond_destroy(&ec.loaded);
	pthread_cond_destroy(&ec.wake);
}
