/*
 * test_export_cache.c — the status cache's contract without a database
 * (no refresher): a miss makes the caller the loader, put answers later
 * gets, an invalidation drops the answer and voids loads begun before
 * it, an abandoned load lets the next caller load, a poll during a
 * reload gets the previous answer, the entry bound
 * evicts the least recently polled, oversized bodies are not kept.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bulk/export_cache.h"
#include "lib/xmalloc.h"
#include "check.h"

static struct export_snap *
snap(unsigned int status, size_t len)
{
	struct export_snap	*s = export_snap_new();

	s->sn_status = status;
	if (len > 0) {
		s->sn_body = xcalloc(1, len);
		s->sn_len = len;
	}
	return s;
}

/* Loads id as a request would: get (a miss), put, and drop our ref. */
static void
load(const char *id, unsigned int status)
{
	struct export_cache_ticket	 t;
	struct export_snap		*s;

	s = export_cache_get(id, &t);
	CHECK(s == NULL && t.t_load != 0);
	export_snap_unref(s);
	s = snap(status, 0);
	export_cache_put(id, &t, s);
	export_snap_unref(s);
}

static unsigned int
hit(const char *id)
{
	struct export_cache_ticket	 t;
	struct export_snap		*s;
	unsigned int			 st = 0;

	if ((s = export_cache_get(id, &t)) != NULL) {
		st = s->sn_status;
		export_snap_unref(s);
	} else
		export_cache_abandon(id, &t);
	return st;
}

int
main(void)
{
	struct export_cache_ticket	 t, t2;
	struct export_snap		*s;
	char				 id[64], err[128];
	int				 i;

	/* Off: every get misses without a ticket; put is a no-op. */
	CHECK(export_cache_get("a", &t) == NULL && t.t_load == 0);
	CHECK(export_cache_start(NULL, NULL, err, sizeof(err)) == 0);

	load("a", 202);
	CHECK(hit("a") == 202);
	CHECK(hit("a") == 202);
	load("b", 404);
	CHECK(hit("b") == 404 && hit("a") == 202);

	/* Invalidate: gone at once; a load begun before it stores nothing. */
	CHECK(export_cache_get("c", &t) == NULL);
	export_cache_invalidate("a");
	s = snap(202, 0);
	export_cache_put("c", &t, s);
	export_snap_unref(s);
	CHECK(hit("c") == 0);
	CHECK(hit("a") == 0);
	load("a", 404);
	CHECK(hit("a") == 404);

	/* Abandon: the next caller loads; a superseded loader stores
	 * nothing. */
	CHECK(export_cache_get("d", &t) == NULL);
	export_cache_abandon("d", &t);
	CHECK(export_cache_get("d", &t2) == NULL && t2.t_load != t.t_load);
	s = snap(500, 0);
	export_cache_put("d", &t, s);		/* stale ticket */
	export_snap_unref(s);
	s = snap(200, 10);
	export_cache_put("d", &t2, s);
	export_snap_unref(s);
	CHECK(hit("d") == 200);

	/* Too large a body is answered by its loader, not kept. */
	CHECK(export_cache_get("e", &t) == NULL);
	s = snap(200, EXPORT_CACHE_MAX_BODY + 1);
	export_cache_put("e", &t, s);
	export_snap_unref(s);
	CHECK(hit("e") == 0);

	/* The entry bound: "d" polled last stays, the oldest goes. */
	for (i = 0; i < EXPORT_CACHE_MAX; i++) {
		snprintf(id, sizeof(id), "job%05d", i);
		load(id, 202);
		if (i % 1000 == 0)
			CHECK(hit("d") == 200);
	}
	CHECK(hit("d") == 200);
	CHECK(hit("job00000") == 0);
	snprintf(id, sizeof(id), "job%05d", EXPORT_CACHE_MAX - 1);
	CHECK(hit(id) == 202);

	/* Past the TTL the next poll reloads; a poll during that reload
	 * gets the previous answer at once instead of waiting on it. */
	load("f", 202);
	usleep((EXPORT_CACHE_TTL_MS + 100) * 1000);
	CHECK(export_cache_get("f", &t) == NULL && t.t_load != 0);
	CHECK(hit("f") == 202);
	s = snap(200, 0);
	export_cache_put("f", &t, s);
	export_snap_unref(s);
	CHECK(hit("f") == 200);

	export_cache_stop();
	CHECK(export_cache_get("d", &t) == NULL && t.t_load == 0);
	return CHECK_DONE();
}
