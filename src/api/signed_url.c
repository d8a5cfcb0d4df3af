/*
 * signed_url.c — signed download URLs checked by the API (see
 * signed_url.h).  One process-wide cache of the server keys that verify
 * URLs (auth_store_keys_valid with URLSIGN_KEY_KEEP_S) behind a mutex;
 * a request copies the one key its kid names and verifies without the
 * lock.  One reload at a time: the others use the old keys meanwhile.
 * Nothing here logs a query string or a signature.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api/signed_url.h"
#include "auth/urlsign.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/clock.h"
#include "lib/log.h"

static pthread_mutex_t	signed_url_mu = PTHREAD_MUTEX_INITIALIZER;
static struct auth_key	signed_url_keys[URLSIGN_KEYS_MAX];
static size_t		signed_url_nkeys;
static double		signed_url_loaded = -1e9;	/* mono */
static int		signed_url_loading;

static int	signed_url_find(const char *, struct auth_key *);
static int	signed_url_reload(struct http_req *, int);
static int	signed_url_param(void *, const char *, const char *);

/* Copies the cached key kid into *k.  1 found, 0 not. */
static int
signed_url_find(const char *kid, struct auth_key *k)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&signed_url_mu);
	for (i = 0; i < signed_url_nkeys && !found; i++)
		if (strcmp(signed_url_keys[i].ak_kid, kid) == 0) {
			*k = signed_url_keys[i];
			found = 1;
		}
	pthread_mutex_unlock(&signed_url_mu);
	return found;
}

/*
 * Reloads the keys when they are older than SIGNED_URL_REFRESH_S, or
 * (miss) older than 1 s, or none are cached.  0, or -1 when the database
 * failed and no keys are cached.
 */
static int
signed_url_reload(struct http_req *req, int miss)
{
	static struct auth_key	 fresh[URLSIGN_KEYS_MAX];	/* under
							   signed_url_loading */
	PGconn			*conn;
	char			 err[256];
	double			 age;
	size_t			 n = 0;
	int			 load, have;

	pthread_mutex_lock(&signed_url_mu);
	age = clock_mono() - signed_url_loaded;
	have = signed_url_nkeys > 0;
	load = !signed_url_loading && (!have ||
	    age > SIGNED_URL_REFRESH_S || (miss && age > 1.0));
	if (load)
		signed_url_loading = 1;
	pthread_mutex_unlock(&signed_url_mu);
	if (!load)
		return have ? 0 : -1;
	if ((conn = http_db_conn(err, sizeof(err))) == NULL ||
	    auth_store_keys_valid(conn, URLSIGN_KEY_KEEP_S, fresh,
	    URLSIGN_KEYS_MAX, &n, err, sizeof(err)) == -1) {
		if (conn != NULL)
			http_db_discard();
		log_warnx("request %s: signed URL keys: %s", http_req_id(req),
		    err);
		pthread_mutex_lock(&signed_url_mu);
		signed_url_loading = 0;
		have = signed_url_nkeys > 0;
		pthread_mutex_unlock(&signed_url_mu);
		return have ? 0 : -1;
	}
	pthread_mutex_lock(&signed_url_mu);
	OPENSSL_cleanse(signed_url_keys, sizeof(signed_url_keys));
	memcpy(signed_url_keys, fresh, n * sizeof(fresh[0]));
	signed_url_nkeys = n;
	signed_url_loaded = clock_mono();
	signed_url_loading = 0;
	pthread_mutex_unlock(&signed_url_mu);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return 0;
}

/* http_req_query_each: collects kid, exp and sig. */
static int
signed_url_param(void *arg, const char *key, const char *value)
{
	(void)urlsign_query_add(arg, key, value);
	return 0;
}

int
signed_url_check(struct http_req *req, const char *rel)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct urlsign_query	 q;
	struct auth_key		 k;
	enum urlsign_result	 r;
	int			 found;

	if (strcmp(cfg->auth, "smart") != 0)
		return 0;
	urlsign_query_init(&q);
	(void)http_req_query_each(req, signed_url_param, &q);
	switch (urlsign_query_state(&q)) {
	case URLSIGN_NONE:
		return 0;
	case URLSIGN_MALFORMED:
		(void)http_reply_outcome(req, 403, "forbidden", "the signed "
		    "URL is malformed: kid, exp and sig must each be given "
		    "once, as this server issued them");
		return -1;
	default:
		break;
	}
	if (signed_url_reload(req, 0) == -1)
		goto unavailable;
	if (!(found = signed_url_find(q.uq_kid, &k))) {
		if (signed_url_reload(req, 1) == -1)
			goto unavailable;
		found = signed_url_find(q.uq_kid, &k);
	}
	r = found ? urlsign_verify(&k, 1, &q, rel, time(NULL)) :
	    URLSIGN_UNKNOWN_KEY;
	OPENSSL_cleanse(&k, sizeof(k));
	switch (r) {
	case URLSIGN_OK:
		return 1;
	case URLSIGN_EXPIRED:
		(void)http_reply_outcome(req, 403, "forbidden", "the signed "
		    "URL has expired: ask for a new one (the job's status, "
		    "the admin API or an OpenHIM poll gives fresh URLs)");
		break;
	case URLSIGN_UNKNOWN_KEY:
		(void)http_reply_outcome(req, 403, "forbidden", "the signed "
		    "URL names a key this server does not know (kid)");
		break;
	case URLSIGN_BAD_SIGNATURE:
		(void)http_reply_outcome(req, 403, "forbidden", "the signed "
		    "URL's signature does not match this file and expiry");
		break;
	default:
		(void)http_reply_outcome(req, 403, "forbidden", "the signed "
		    "URL is malformed");
		break;
	}
	return -1;
 unavailable:
	(void)http_reply_outcome(req, 503, "transient", "signing keys "
	    "unavailable; retry later");
	return -1;
}
