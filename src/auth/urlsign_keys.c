/*
 * urlsign_keys.c — the database side of signed download URLs (see
 * urlsign.h): the signer loads the server key that signs now, the one
 * access tokens use (store/auth_store.h, rotated every
 * TOKEN_KEY_ROTATE_S), and builds each file's URL with its expiry.
 * Workers (OpenHIM notifications) and API threads (admin job view, the
 * OpenHIM outputs poll) both sign this way.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/token.h"
#include "auth/urlsign.h"
#include "core/cfg.h"
#include "store/job_files.h"

int
urlsign_signer_open(PGconn *conn, const struct cfg *c,
    struct urlsign_signer *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->us_base = c->base_url;
	s->us_ttl = c->openhim_url_ttl > 0 && c->openhim_url_ttl <=
	    URLSIGN_TTL_MAX ? c->openhim_url_ttl : URLSIGN_TTL_MAX;
	s->us_retention = c->export_retention;
	s->us_now = time(NULL);
	if (c->auth == NULL || strcmp(c->auth, "smart") != 0) {
		s->us_plain = 1;
		return 0;
	}
	if (auth_store_key_current(conn, TOKEN_KEY_ROTATE_S, &s->us_key, err,
	    errlen) == -1) {
		OPENSSL_cleanse(&s->us_key, sizeof(s->us_key));
		return -1;
	}
	return 0;
}

void
urlsign_signer_close(struct urlsign_signer *s)
{
	OPENSSL_cleanse(&s->us_key, sizeof(s->us_key));
}

int
urlsign_url(const struct urlsign_signer *s, const char *id,
    const char *file, int64_t finished, char *out, size_t outlen)
{
	char	rel[512], q[URLSIGN_QUERY_MAX];
	int64_t	exp;
	size_t	n;

	if (job_files_url(s->us_base, id, file, out, outlen) == -1)
		return -1;
	if (s->us_plain)
		return 0;
	exp = (int64_t)s->us_now + s->us_ttl;
	if (finished > 0 && finished + s->us_retention < exp)
		exp = finished + s->us_retention;
	if (job_files_rel(id, job_files_name(file), rel, sizeof(rel)) == -1 ||
	    urlsign_sign(&s->us_key, rel, exp, q, sizeof(q)) == -1)
		return -1;
	n = strlen(out);
	if (snprintf(out + n, outlen - n, "?%s", q) >= (int)(outlen - n))
		return -1;
	return 0;
}
