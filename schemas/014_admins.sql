-- Named admin principals for /admin/api (issue 13; src/store/admins.c is
-- the only code on this table, src/api/admin_auth.c its reader).
--
-- Each principal has a role and a token of its own.  Only the SHA-256 of
-- the token is kept (the token is 32 random bytes, shown once by
-- 'bulkhead admins add' or 'rotate'): the API hashes the bearer token it
-- is given and looks the hash up here, one indexed equality.
--   viewer    reads everything (GET)
--   operator  and controls jobs and schedules
--   admin     and changes limits and clients
-- The name "config" is reserved for the legacy admin_token key, which
-- acts as an admin principal of that name without a row.
CREATE TABLE admins (
	name		text		PRIMARY KEY
	    CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$' AND
	    name <> 'config'),
	role		text		NOT NULL
	    CHECK (role IN ('viewer', 'operator', 'admin')),
	token_hash	bytea		NOT NULL UNIQUE
	    CHECK (length(token_hash) = 32),
	created		timestamptz	NOT NULL DEFAULT now(),
	rotated		timestamptz,	-- last 'admins rotate', or NULL
	disabled	boolean		NOT NULL DEFAULT false,
	last_used	timestamptz	-- the API updates it at most once a
					-- minute per principal
);

-- Who made a change: the principal and its role when the change came
-- through the admin API ("config"/"admin" for the legacy admin_token),
-- NULL for changes made by the service itself or before this migration.
-- The actor column keeps its meaning (a hash of the bearer token), so
-- rows still tell two tokens of one principal apart across a rotation.
-- The columns take their values from session settings armed by
-- audit_begin (store/audit.c), through their defaults: the trigger
-- function audit_capture() of 005_audit.sql stays as it is.
ALTER TABLE audit ADD COLUMN principal text
	DEFAULT nullif(current_setting('bulkhead.audit_principal', true), '');
ALTER TABLE audit ADD COLUMN role text
	DEFAULT nullif(current_setting('bulkhead.audit_role', true), '');

-- Changes made with 'bulkhead admins' are audited like the others; the
-- token hash never enters the audit table, nor does last_used (noise).
CREATE TRIGGER admins_audit AFTER INSERT OR UPDATE OR DELETE ON admins
	FOR EACH ROW
	WHEN (current_setting('bulkhead.audit_table', true) = 'admins')
	EXECUTE FUNCTION audit_capture('token_hash', 'last_used');
