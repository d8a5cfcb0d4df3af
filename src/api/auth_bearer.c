/*
 * auth_bearer.c — bearer-token checks of the bulk endpoints (see
 * auth_bearer.h).  The key cache is one process-wide keyring behind a
 * mutex; a request copies it (a few hundred bytes) and verifies without
 * the lock.  One reload at a time: others use the old ring meanwhile.
 *
 * A poller sends the same token hundreds of times in its life, so the
 * tokens verified last are remembered (a direct-mapped table keyed by the
 * token's bytes): a repeat costs a hash and a compare, not an HMAC, a
 * JSON parse and a scope parse.  An entry holds until the token's exp and
 * only while the keyring it was verified against is current: every reload
 * empties the table, so a key taken away stops its tokens within
 * AUTH_BEARER_REFRESH_S, as it did without the table.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api/auth_bearer.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/auth_store.h"

#define AUTH_BEARER_SLOTS	128	/* remembered tokens */
#define AUTH_BEARER_SLOT_TOK	1024	/* longer tokens are not remembered */

struct auth_bearer_slot {
	size_t			bs_len;		/* 0: empty */
	unsigned		bs_gen;		/* keyring it was verified with */
	char			bs_tok[AUTH_BEARER_SLOT_TOK];
	struct token_principal	bs_p;
};

static pthread_mutex_t		auth_bearer_mu = PTHREAD_MUTEX_INITIALIZER;
static struct token_keyring	auth_bearer_ring;
static double			auth_bearer_loaded = -1e9;	/* mono */
static int			auth_bearer_loading;
static unsigned			auth_bearer_gen;	/* bumped per reload */
static struct auth_bearer_slot	auth_bearer_slots[AUTH_BEARER_SLOTS];

static int	auth_bearer_reload(struct http_req *, struct token_keyring *,
		    int, unsigned *);
static int	auth_bearer_unauthorized(struct http_req *, const char *,
		    const char *);
static size_t	auth_bearer_slot_of(const char *, size_t);
static int	auth_bearer_recall(const char *, size_t, time_t,
		    struct token_principal *);
static void	auth_bearer_remember(const char *, size_t, unsigned,
		    const struct token_principal *);

/*
 * Copies the cached keyring into ring (and its generation into gen),
 * reloading it first when it is older than AUTH_BEARER_REFRESH_S, or
 * (miss) older than 1 s, or empty.  0, or -1
 * when there are no keys at all and the database failed.
 */
static int
auth_bearer_reload(struct http_req *req, struct token_keyring *ring,
    int miss, unsigned *gen)
{
	struct token_keyring	 fresh;
	PGconn			*conn;
	char			 err[256];
	double			 now = clock_mono(), age;
	int			 load;

	pthread_mutex_lock(&auth_bearer_mu);
	age = now - auth_bearer_loaded;
	load = auth_bearer_ring.tk_n == 0 || (!auth_bearer_loading &&
	    (age > AUTH_BEARER_REFRESH_S || (miss && age > 1.0)));
	if (load)
		auth_bearer_loading = 1;
	*ring = auth_bearer_ring;
	*gen = auth_bearer_gen;
	pthread_mutex_unlock(&auth_bearer_mu);
	if (!load)
		return 0;

	memset(&fresh, 0, sizeof(fresh));
	if ((conn = http_db_conn(err, sizeof(err))) == NULL ||
	    auth_store_keys_valid(conn, TOKEN_KEY_KEEP_S, fresh.tk_keys,
	    AUTH_STORE_KEYS_MAX, &fresh.tk_n, err, sizeof(err)) == -1) {
		if (conn != NULL)
			http_db_discard();
		log_warnx("request %s: token keys: %s", http_req_id(req), err);
		pthread_mutex_lock(&auth_bearer_mu);
		auth_bearer_loading = 0;
		pthread_mutex_unlock(&auth_bearer_mu);
		return ring->tk_n > 0 ? 0 : -1;
	}
	pthread_mutex_lock(&auth_bearer_mu);
	auth_bearer_ring = fresh;
	auth_bearer_loaded = clock_mono();
	auth_bearer_loading = 0;
	*gen = ++auth_bearer_gen;	/* what the old ring verified is stale */
	*ring = fresh;
	pthread_mutex_unlock(&auth_bearer_mu);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return 0;
}

/* FNV-1a of the token: the slot it may sit in. */
static size_t
auth_bearer_slot_of(const char *tok, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)tok[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h % AUTH_BEARER_SLOTS);
}

/*
 * 1 and p filled if tok was verified against the current keyring, the
 * keyring is not due for a reload, and tok has not expired; 0 otherwise
 * (verify it).
 */
static int
auth_bearer_recall(const char *tok, size_t len, time_t now,
    struct token_principal *p)
{
	struct auth_bearer_slot	*s;
	int			 hit = 0;

	if (len > AUTH_BEARER_SLOT_TOK)
		return 0;
	s = &auth_bearer_slots[auth_bearer_slot_of(tok, len)];
	pthread_mutex_lock(&auth_bearer_mu);
	if (s->bs_len == len && s->bs_gen == auth_bearer_gen &&
	    clock_mono() - auth_bearer_loaded <= AUTH_BEARER_REFRESH_S &&
	    now < s->bs_p.tp_exp && memcmp(s->bs_tok, tok, len) == 0) {
		*p = s->bs_p;
		hit = 1;
	}
	pthread_mutex_unlock(&auth_bearer_mu);
	return hit;
}

/* Remembers a token verified against keyring generation gen. */
static void
auth_bearer_remember(const char *tok, size_t len, unsigned gen,
    const struct token_principal *p)
{
	struct auth_bearer_slot	*s;

	if (len > AUTH_BEARER_SLOT_TOK)
		return;
	s = &auth_bearer_slots[auth_bearer_slot_of(tok, len)];
	pthread_mutex_lock(&auth_bearer_mu);
	if (gen == auth_bearer_gen) {	/* not verified with a stale ring */
		memcpy(s->bs_tok, tok, len);
		s->bs_len = len;
		s->bs_gen = gen;
		s->bs_p = *p;
	}
	pthread_mutex_unlock(&auth_bearer_mu);
}

/* 401; error NULL when no token was sent (RFC 6750 §3.1). */
static int
auth_bearer_unauthorized(struct http_req *req, const char *error,
    const char *msg)
{
	char	challenge[256];

	if (error != NULL)
		snprintf(challenge, sizeof(challenge), "%s, error=\"%s\", "
		    "error_description=\"%s\"", AUTH_BEARER_REALM, error, msg);
	else
		str_lcpy(challenge, AUTH_BEARER_REALM, sizeof(challenge));
	(void)http_resp_header(req, "WWW-Authenticate", challenge);
	(void)http_reply_outcome(req, 401, "login", "%s", msg);
	return -1;
}

int
auth_bearer_check(struct http_req *req, const struct cfg *cfg,
    struct token_principal *p)
{
	struct token_keyring	 ring;
	enum token_result	 r;
	const char		*auth, *tok;
	char			 err[256];
	size_t			 len;
	unsigned		 gen;
	int			 rc = -1;

	memset(p, 0, sizeof(*p));
	if (strcmp(cfg->auth, "smart") != 0) {
		p->tp_auth_off = 1;
		(void)scope_parse("system/*.*", 0, &p->tp_scope, err,
		    sizeof(err));
		return 0;
	}
	auth = http_req_header(req, "Authorization");
	if (auth == NULL)
		return auth_bearer_unauthorized(req, NULL, "an access token "
		    "is required: \"Authorization: Bearer <token>\" (get one "
		    "at the token endpoint, see "
		    ".well-known/smart-configuration)");
	if (strncasecmp(auth, "Bearer", 6) != 0 ||
	    (auth[6] != ' ' && auth[6] != '\t'))
		return auth_bearer_unauthorized(req, "invalid_request",
		    "the Authorization header is not \"Bearer <token>\"");
	for (tok = auth + 7; *tok == ' ' || *tok == '\t'; tok++)
		;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	if (len == 0)
		return auth_bearer_unauthorized(req, "invalid_request",
		    "the bearer token is empty");

	if (auth_bearer_recall(tok, len, time(NULL), p))
		return 0;
	if (auth_bearer_reload(req, &ring, 0, &gen) == -1)
		goto unavailable;
	r = token_verify(tok, len, &ring, cfg->base_url, time(NULL), p, err,
	    sizeof(err));
	if (r == TOKEN_UNKNOWN_KEY) {
		if (auth_bearer_reload(req, &ring, 1, &gen) == -1)
			goto unavailable;
		r = token_verify(tok, len, &ring, cfg->base_url, time(NULL),
		    p, err, sizeof(err));
	}
	OPENSSL_cleanse(&ring, sizeof(ring));
	switch (r) {
	case TOKEN_OK:
		auth_bearer_remember(tok, len, gen, p);
		return 0;
	case TOKEN_EXPIRED:
		return auth_bearer_unauthorized(req, "invalid_token",
		    "the access token has expired");
	case TOKEN_UNKNOWN_KEY:
	case TOKEN_BAD_SIGNATURE:
		return auth_bearer_unauthorized(req, "invalid_token",
		    "the access token was not issued by this server");
	case TOKEN_WRONG_AUDIENCE:
		return auth_bearer_unauthorized(req, "invalid_token",
		    "the access token is for another server");
	default:
		return auth_bearer_unauthorized(req, "invalid_token",
		    "the access token is malformed");
	}
 unavailable:
	OPENSSL_cleanse(&ring, sizeof(ring));
	(void)http_reply_outcome(req, 503, "transient", "token keys "
	    "unavailable; retry later");
	return rc;
}

int
auth_bearer_forbidden(struct http_req *req, const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)http_resp_header(req, "WWW-Authenticate", AUTH_BEARER_REALM
	    ", error=\"insufficient_scope\"");
	(void)http_reply_outcome(req, 403, "forbidden", "%s", msg);
	return -1;
}
