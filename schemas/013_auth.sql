-- SMART Backend Services authorization (SPEC §2, issue 13): registered
-- clients, their cached JWKS, the jti replay table and the server's own
-- token-signing keys.  src/store/auth_store.c is the only code on these
-- tables.

-- A client (AUTH-R-01..05): its public keys by URL (AUTH-R-02 a) or as an
-- inline JWKS (AUTH-R-02 b; exactly one of the two), and the scopes an
-- operator registered it for (scope.h syntax, checked by the API before
-- it gets here).  The name is the client_id: iss = sub of assertions.
CREATE TABLE auth_clients (
	name		text		PRIMARY KEY
			CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	jwks_url	text		CHECK (length(jwks_url) <= 2048),
	jwks		text		CHECK (octet_length(jwks) <= 262144),
	scope		text		NOT NULL
			CHECK (length(scope) BETWEEN 1 AND 4096),
	disabled	boolean		NOT NULL DEFAULT false,
	created		timestamptz	NOT NULL DEFAULT now(),
	updated		timestamptz	NOT NULL DEFAULT now(),
	CHECK ((jwks_url IS NULL) <> (jwks IS NULL))
);

CREATE TRIGGER auth_clients_audit AFTER INSERT OR UPDATE OR DELETE
	ON auth_clients FOR EACH ROW
	WHEN (current_setting('bulkhead.audit_table', true) = 'auth_clients')
	EXECUTE FUNCTION audit_capture();

-- The JWKS fetched from a client's URL (AUTH-V-05): kept until the
-- Cache-Control max-age of the answer (bounded by the API), body at most
-- 256 KiB.  attempted rate-limits fetches: an unknown kid refetches at
-- most once per AUTH_JWKS_REFETCH_S, so assertions with made-up kids
-- cannot make us hammer the client's server.  body is NULL while no
-- fetch has succeeded.
CREATE TABLE auth_jwks_cache (
	client		text		PRIMARY KEY
			REFERENCES auth_clients (name) ON DELETE CASCADE
			ON UPDATE CASCADE,
	url		text		NOT NULL,
	body		text		CHECK (octet_length(body) <= 262144),
	fetched		timestamptz,
	expires		timestamptz,
	attempted	timestamptz	NOT NULL DEFAULT now()
);

-- Replay protection (AUTH-V-02): one row per (client, jti) until the
-- assertion's exp; every API node sees the same table.  House-keeping
-- prunes expired rows; an expired row does not block a new insert.
CREATE TABLE auth_jti (
	client		text		NOT NULL,
	jti		text		NOT NULL,
	expires		timestamptz	NOT NULL,
	PRIMARY KEY (client, jti)
);
CREATE INDEX auth_jti_expires ON auth_jti (expires);

-- The HMAC keys of the server's access tokens (HS256, 32 random bytes).
-- The newest key not retired signs; a key is retired when a newer one is
-- made (every AUTH_KEY_ROTATE_S) and kept for verification until every
-- token it signed has expired, then pruned.
CREATE TABLE auth_keys (
	kid		text		PRIMARY KEY
			CHECK (kid ~ '^[0-9a-f]{16,64}$'),
	secret		bytea		NOT NULL
			CHECK (octet_length(secret) = 32),
	created		timestamptz	NOT NULL DEFAULT now(),
	retired		timestamptz
);
