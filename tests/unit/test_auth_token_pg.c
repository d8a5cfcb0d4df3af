/*
 * test_auth_token_pg.c — the server's access tokens end to end below
 * HTTP: keys from the key store (auth_store), minted with token_mint and
 * verified with token_verify as auth_bearer_check does (a keyring read
 * with auth_store_keys_valid, no query per token); rotation, the jti
 * replay table and the token URL rule.  Needs BULKHEAD_TEST_PG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/token.h"
#include "check.h"
#include "lib/log.h"
#include "pgcheck.h"
#include "store/auth_store.h"

#define BASE	"http://127.0.0.1:8080/fhir"

static PGconn	*conn;

static void
test_token_url(void)
{
	char	u[TOKEN_URL_MAX];

	CHECK(token_url(BASE, u, sizeof(u)) == 0 &&
	    strcmp(u, "http://127.0.0.1:8080/auth/token") == 0);
	CHECK(token_url("https://h.example/bulk/fhir", u, sizeof(u)) == 0 &&
	    strcmp(u, "https://h.example/bulk/auth/token") == 0);
	CHECK(token_url("https://h.example/api", u, sizeof(u)) == 0 &&
	    strcmp(u, "https://h.example/auth/token") == 0);
	CHECK(token_url("http://fhir", u, sizeof(u)) == 0 &&
	    strcmp(u, "http://fhir/auth/token") == 0);
	CHECK(token_url(BASE, u, 10) == -1);
}

static void
test_mint_verify(void)
{
	struct token_keyring	ring, other;
	struct token_principal	p;
	struct auth_key		k, k2;
	char			err[256], *tok = NULL, *tok2 = NULL;
	time_t			now = time(NULL);

	memset(&ring, 0, sizeof(ring));
	CHECK(auth_store_key_current(conn, TOKEN_KEY_ROTATE_S, &k, err,
	    sizeof(err)) == 0);
	CHECK(auth_store_key_current(conn, TOKEN_KEY_ROTATE_S, &k2, err,
	    sizeof(err)) == 0 && strcmp(k.ak_kid, k2.ak_kid) == 0);
	CHECK(token_mint(&k, BASE, "reader", "system/Patient.read "
	    "system/Claim.rs", now, 300, &tok, err, sizeof(err)) == 0);
	CHECK(auth_store_keys_valid(conn, TOKEN_KEY_KEEP_S, ring.tk_keys,
	    AUTH_STORE_KEYS_MAX, &ring.tk_n, err, sizeof(err)) == 0 &&
	    ring.tk_n == 1);
	CHECK(token_verify(tok, strlen(tok), &ring, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_OK);
	CHECK(strcmp(p.tp_client, "reader") == 0 && p.tp_exp == now + 300);
	CHECK(scope_can_read(&p.tp_scope, "Patient") &&
	    scope_can_read(&p.tp_scope, "Claim") &&
	    !scope_can_read(&p.tp_scope, "Coverage") &&
	    !scope_can_write(&p.tp_scope, "Patient"));
	/* Expired, another server, a bit flipped, an unknown key. */
	CHECK(token_verify(tok, strlen(tok), &ring, BASE, now + 301, &p, err,
	    sizeof(err)) == TOKEN_EXPIRED);
	CHECK(token_verify(tok, strlen(tok), &ring, "http://other/fhir", now,
	    &p, err, sizeof(err)) == TOKEN_WRONG_AUDIENCE);
	tok[strlen(tok) - 2] ^= 1;
	CHECK(token_verify(tok, strlen(tok), &ring, BASE, now, &p, err,
	    sizeof(err)) != TOKEN_OK);
	tok[strlen(tok) - 2] ^= 1;
	memset(&other, 0, sizeof(other));
	CHECK(token_verify(tok, strlen(tok), &other, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_UNKNOWN_KEY);
	CHECK(token_verify("a.b.c", 5, &ring, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_MALFORMED);
	CHECK(token_verify("", 0, &ring, BASE, now, &p, err, sizeof(err)) ==
	    TOKEN_MALFORMED);

	/* Rotation: a key older than the period is retired, a new one signs,
	 * and the retired one still verifies what it signed. */
	CHECK(db_exec(conn, "UPDATE auth_keys SET created = now() - "
	    "interval '2 days'", 0, NULL, err, sizeof(err)) == 0);
	CHECK(auth_store_key_current(conn, TOKEN_KEY_ROTATE_S, &k2, err,
	    sizeof(err)) == 0 && strcmp(k.ak_kid, k2.ak_kid) != 0);
	CHECK(token_mint(&k2, BASE, "reader", "system/*.read", now, 300,
	    &tok2, err, sizeof(err)) == 0);
	memset(&ring, 0, sizeof(ring));
	CHECK(auth_store_keys_valid(conn, TOKEN_KEY_KEEP_S, ring.tk_keys,
	    AUTH_STORE_KEYS_MAX, &ring.tk_n, err, sizeof(err)) == 0 &&
	    ring.tk_n == 2);
	CHECK(token_verify(tok, strlen(tok), &ring, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_OK);
	CHECK(token_verify(tok2, strlen(tok2), &ring, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_OK && scope_can_read(&p.tp_scope, "Group"));
	/* Past its keep time the retired key is gone. */
	CHECK(db_exec(conn, "UPDATE auth_keys SET retired = now() - "
	    "interval '1 hour' WHERE retired IS NOT NULL", 0, NULL, err,
	    sizeof(err)) == 0);
	memset(&ring, 0, sizeof(ring));
	CHECK(auth_store_keys_valid(conn, TOKEN_KEY_KEEP_S, ring.tk_keys,
	    AUTH_STORE_KEYS_MAX, &ring.tk_n, err, sizeof(err)) == 0 &&
	    ring.tk_n == 1);
	CHECK(token_verify(tok, strlen(tok), &ring, BASE, now, &p, err,
	    sizeof(err)) == TOKEN_UNKNOWN_KEY);
	free(tok);
	free(tok2);
}

static void
test_jti(void)
{
	char	err[256];
	long	n;
	int	created;
	time_t	now = time(NULL);

	CHECK(auth_store_client_put(conn, "c1", NULL, "{\"keys\":[]}",
	    "system/*.read", &created, err, sizeof(err)) == 0 && created);
	CHECK(auth_store_jti_record(conn, "c1", "j1", now + 100, err,
	    sizeof(err)) == 1);
	CHECK(auth_store_jti_record(conn, "c1", "j1", now + 100, err,
	    sizeof(err)) == 0);
	CHECK(auth_store_jti_record(conn, "c2", "j1", now + 100, err,
	    sizeof(err)) == 1);
	/* An expired row does not block, and is pruned. */
	CHECK(auth_store_jti_record(conn, "c1", "j2", now - 10, err,
	    sizeof(err)) == 1);
	CHECK(auth_store_jti_record(conn, "c1", "j2", now + 100, err,
	    sizeof(err)) == 1);
	CHECK(auth_store_jti_record(conn, "c1", "j3", now - 10, err,
	    sizeof(err)) == 1);
	CHECK(auth_store_prune(conn, TOKEN_KEY_KEEP_S, &n, err,
	    sizeof(err)) == 0 && n >= 1);
	CHECK(auth_store_name_ok("a.b-c_9") && !auth_store_name_ok(".a") &&
	    !auth_store_name_ok("") && !auth_store_name_ok("a b"));
}

int
main(void)
{
	const char		*admin = getenv("BULKHEAD_TEST_PG");
	struct pgcheck_scratch	 sc = { NULL, "" };

	log_init("test", LOG_LEVEL_ERROR);
	test_token_url();
	if (admin == NULL || admin[0] == '\0') {
		printf("skipped: BULKHEAD_TEST_PG not set\n");
		return CHECK_DONE();
	}
	if ((conn = pgcheck_scratch_open(&sc, admin, "bh_unit_auth")) == NULL)
		CHECK(0);
	else {
		test_mint_verify();
		test_jti();
	}
	pgcheck_scratch_close(&sc, conn);
	return CHECK_DONE();
}
