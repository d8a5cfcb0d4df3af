/*
 * urlsign.h — signed, short-lived download URLs of job output files: a
 * URL that needs no token, for OpenHIM notifications and polls and for
 * the admin console's download links (issue 15).
 *
 *   <base_url>/_jobs/<id>/files/<name>?kid=<hex>&exp=<unix>&sig=<b64url>
 *
 * sig = base64url(HMAC-SHA256(K_url, "bulkhead-url-v1\n" kid "\n" exp
 * "\n" rel)), rel being the file as job_outputs names it ("jobs/<id>/
 * <name>", store/job_files.h) and K_url = HMAC-SHA256(secret of the
 * server key kid, URLSIGN_DERIVE): a key of its own per stored access
 * token key (store/auth_store.h), so a URL signature can never pass for
 * an access token's or the reverse, and any API node verifies with the
 * keys it already caches, without a query per request.  A server key
 * signs URLs while it signs tokens (TOKEN_KEY_ROTATE_S) and verifies them
 * URLSIGN_KEY_KEEP_S after its retirement, so a URL stays valid for its
 * whole life across rotations.
 *
 * exp is now + openhim_url_ttl, never after the job's files expire
 * (finished + export_retention).  A signed URL grants one file, GET and
 * HEAD, nothing else.  Its query is never logged (the access log holds
 * the path only; urlsign_redact for texts that may quote one).
 *
 * urlsign.c is pure (no database; fuzzed); urlsign_keys.c holds what
 * needs the database.  Errors: as said per function; reasons never hold
 * key material or signatures.
 */
#ifndef AUTH_URLSIGN_H
#define AUTH_URLSIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "store/auth_store.h"

#define URLSIGN_TTL_MAX		(30 * 86400)	/* openhim_url_ttl's bound */
/* A retired server key verifies URLs this long (the longest lifetime a
 * URL may have, and clock skew): house-keeping keeps it that long. */
#define URLSIGN_KEY_KEEP_S	(URLSIGN_TTL_MAX + 600)
#define URLSIGN_KEYS_MAX	64	/* keys read at most: daily rotation
					   for 30 days, with room */
#define URLSIGN_SIG_LEN		43	/* base64url of 32 bytes */
#define URLSIGN_QUERY_MAX	(AUTH_STORE_KID_MAX + URLSIGN_SIG_LEN + 40)
#define URLSIGN_SKEW_S		300	/* exp beyond now + TTL_MAX + this:
					   never ours */

/* The signed parameters of a request, as parsed. */
struct urlsign_query {
	char		uq_kid[AUTH_STORE_KID_MAX + 1];
	char		uq_sig[URLSIGN_SIG_LEN + 1];
	int64_t		uq_exp;
	unsigned int	uq_seen;	/* bits: kid 1, exp 2, sig 4 */
	int		uq_bad;		/* malformed or repeated */
};

enum urlsign_state {
	URLSIGN_NONE = 0,	/* no kid, exp or sig: not a signed URL */
	URLSIGN_COMPLETE,	/* all three, well formed */
	URLSIGN_MALFORMED,	/* some missing, repeated or malformed */
};

enum urlsign_result {
	URLSIGN_OK = 0,
	URLSIGN_BAD,		/* malformed */
	URLSIGN_UNKNOWN_KEY,	/* kid not among the keys */
	URLSIGN_BAD_SIGNATURE,	/* path, exp or kid tampered with */
	URLSIGN_EXPIRED,
};

void	urlsign_query_init(struct urlsign_query *);
/* Takes one query parameter: 1 if it is one of ours (kid, exp, sig),
 * recorded or marked bad; 0 if not ours (ignored). */
int	urlsign_query_add(struct urlsign_query *, const char *key,
	    const char *value);
/* Parses a raw query string qs[0..len) ("a=b&c=d", no '?', no percent
 * decoding: our values never need it) into q, after urlsign_query_init.
 * Returns urlsign_query_state. */
enum urlsign_state urlsign_query_parse(const char *qs, size_t len,
	    struct urlsign_query *q);
enum urlsign_state urlsign_query_state(const struct urlsign_query *);

/* The query "kid=..&exp=..&sig=.." for rel, signed with key, into out.
 * 0, or -1 (out too small, or HMAC failed). */
int	urlsign_sign(const struct auth_key *key, const char *rel,
	    int64_t exp, char *out, size_t outlen);
/* Checks a complete q for rel against keys[0..n) at now: which key,
 * then the signature (constant time), then exp. */
enum urlsign_result urlsign_verify(const struct auth_key *keys, size_t n,
	    const struct urlsign_query *q, const char *rel, time_t now);

/* Overwrites the value of every "sig=" in s (NUL-terminated) with '*'
 * up to the next '&', space, quote or end, in place: for texts that may
 * quote a signed URL before they are logged. */
void	urlsign_redact(char *s);

/* ---- with the database (urlsign_keys.c) ---- */

struct cfg;

/* What signs a run of URLs: the current server key (none with auth =
 * none: plain URLs), the base URL and the lifetimes.  Plain data;
 * urlsign_signer_close wipes the key. */
struct urlsign_signer {
	int		 us_plain;	/* auth = none: plain URLs */
	struct auth_key	 us_key;
	const char	*us_base;	/* borrowed base_url */
	int		 us_ttl;	/* openhim_url_ttl */
	int		 us_retention;	/* export_retention */
	time_t		 us_now;
};

/* Loads the key that signs now (made when there is none, see
 * auth_store_key_current).  0, or -1 with the reason in err. */
int	urlsign_signer_open(PGconn *, const struct cfg *,
	    struct urlsign_signer *, char *err, size_t errlen);
void	urlsign_signer_close(struct urlsign_signer *);
/* The download URL of file (a job_outputs.file) of job id into out:
 * signed unless us_plain, valid until now + ttl or finished (epoch
 * seconds the job finished; 0: not known) + retention, whichever comes
 * first.  0, or -1 if out is too small. */
int	urlsign_url(const struct urlsign_signer *, const char *id,
	    const char *file, int64_t finished, char *out, size_t outlen);

#endif
