/*
 * admins_cli.c — 'bulkhead admins': add, list, disable, enable, delete and
 * rotate the named admin principals of /admin/api (store/admins.h).
 *
 * These go straight to the database (database_url), not through the
 * admin API: they are how the first principal comes to exist, and whoever
 * can reach the database can do more than any principal anyway.  Every
 * change is audited (table "admins", actor "cli:<login name>"); a token
 * is printed once, alone on stdout, by add and rotate, and never logged.
 *
 * Exit statuses: 0 success; 1 the database refused or failed, or no such
 * principal (add: it exists already), the reason on stderr; 2 usage
 * errors, found before connecting.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "cli/admin_client.h"
#include "cli/admins_cli.h"
#include "cli/cli_cmd.h"
#include "core/cfg.h"
#include "lib/str.h"
#include "store/admins.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/migrate.h"

#define ADMINS_CLI_MAX_POS	1
#define ADMINS_CLI_PROG_MAX	64
#define ADMINS_CLI_ERR_MAX	1024

static struct admin_opt admins_cli_opts[] = {
	{ "role", 0, NULL },
	{ "json", 1, NULL },
};
#define ADMINS_CLI_NOPTS (sizeof(admins_cli_opts) / sizeof(admins_cli_opts[0]))

struct admins_cli_cmd {
	struct cli_cmd_row	 c_row;
	int			(*c_run)(struct cfg *, const char *,
				    const char *);
};

static void	 admins_cli_usage(FILE *);
static PGconn	*admins_cli_connect(struct cfg *, const char *);
static int	 admins_cli_arm(PGconn *, const char *, const char *,
		    const char *);
static int	 admins_cli_end(PGconn *, const char *, int);
static int	 admins_cli_add(struct cfg *, const char *, const char *);
static int	 admins_cli_list(struct cfg *, const char *, const char *);
static void	 admins_cli_time(cJSON *, const char *, const char *);
static int	 admins_cli_change(struct cfg *, const char *, const char *);
static int	 admins_cli_rotate(struct cfg *, const char *, const char *);

static const struct admins_cli_cmd admins_cli_cmds[] = {
	{ { "add", "role", 1, 1, "NAME" }, admins_cli_add },
	{ { "list", "json", 0, 0, NULL }, admins_cli_list },
	{ { "disable", "", 1, 1, "NAME" }, admins_cli_change },
	{ { "enable", "", 1, 1, "NAME" }, admins_cli_change },
	{ { "delete", "", 1, 1, "NAME" }, admins_cli_change },
	{ { "rotate", "", 1, 1, "NAME" }, admins_cli_rotate },
};
#define ADMINS_CLI_NCMDS (sizeof(admins_cli_cmds) / sizeof(admins_cli_cmds[0]))

static void
admins_cli_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead admins add NAME --role "
	    "viewer|operator|admin\n"
	    "       bulkhead admins list [--json]\n"
	    "       bulkhead admins disable|enable|delete NAME\n"
	    "       bulkhead admins rotate NAME\n"
	    "\nThe admin API's principals, changed directly in the database "
	    "(database_url).\nadd and rotate print the new token once, on "
	    "stdout; it is not stored.\nRoles: viewer reads; operator also "
	    "controls jobs and schedules; admin also\nchanges limits and "
	    "clients.\n");
}

/* Connects and applies migrations; NULL after printing the reason. */
static PGconn *
admins_cli_connect(struct cfg *cfg, const char *prog)
{
	PGconn	*conn;
	char	 err[ADMINS_CLI_ERR_MAX];

	if ((conn = db_connect(cfg->database_url, "admins", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s: database unreachable: %s\n", prog, err);
		return NULL;
	}
	if (migrate_apply(conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: migration failed: %s\n", prog, err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Arms the audit trigger of the admins table for action on name; the
 * actor is the login name of whoever runs the command.  0, or -1 after
 * printing why. */
static int
admins_cli_arm(PGconn *conn, const char *prog, const char *action,
    const char *name)
{
	struct audit_actor	 who;
	struct passwd		*pw;
	char			 err[ADMINS_CLI_ERR_MAX];

	memset(&who, 0, sizeof(who));
	pw = getpwuid(geteuid());
	snprintf(who.aa_actor, sizeof(who.aa_actor), "cli:%s",
	    pw != NULL && pw->pw_name != NULL ? pw->pw_name : "unknown");
	if (audit_begin(conn, &who, action, "admins", name, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: audit: %s\n", prog, err);
		return -1;
	}
	return 0;
}

/* Disarms it; the process ends soon, so a failure only matters to the
 * exit status.  Returns rc, or 1 if rc was 0 and disarming failed. */
static int
admins_cli_end(PGconn *conn, const char *prog, int rc)
{
	char	err[ADMINS_CLI_ERR_MAX];

	if (audit_end(conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: audit reset: %s\n", prog, err);
		return rc != 0 ? rc : 1;
	}
	return rc;
}

static int
admins_cli_add(struct cfg *cfg, const char *prog, const char *name)
{
	const char		*rs = admin_client_opt(admins_cli_opts,
				    ADMINS_CLI_NOPTS, "role");
	enum admins_role	 role;
	PGconn			*conn;
	char			 err[ADMINS_CLI_ERR_MAX];
	char			 tok[ADMINS_TOKEN_MAX];
	int			 r, rc = 1;

	if (admins_name_check(name, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: bad name \"%s\": %s\n", prog, name, err);
		return 2;
	}
	if (rs == NULL) {
		fprintf(stderr, "%s: missing --role (viewer, operator or "
		    "admin)\n", prog);
		return 2;
	}
	if (admins_role_parse(rs, &role) == -1) {
		fprintf(stderr, "%s: unknown role \"%s\" (expected viewer, "
		    "operator or admin)\n", prog, rs);
		return 2;
	}
	if ((conn = admins_cli_connect(cfg, prog)) == NULL)
		return 1;
	if (admins_cli_arm(conn, prog, "admin.add", name) == -1)
		goto out;
	r = admins_add(conn, name, role, tok, sizeof(tok), err, sizeof(err));
	if (r == -1)
		fprintf(stderr, "%s: %s\n", prog, err);
	else if (r == 1)
		fprintf(stderr, "%s: an admin principal \"%s\" exists already "
		    "(rotate gives it a new token)\n", prog, name);
	rc = admins_cli_end(conn, prog, r == 0 ? 0 : 1);
	if (r == 0) {
		fprintf(stderr, "admin principal %s (%s) created; its token "
		    "follows and is shown only this once\n", name,
		    admins_role_name(role));
		printf("%s\n", tok);
		OPENSSL_cleanse(tok, sizeof(tok));
	}
 out:
	PQfinish(conn);
	return rc;
}

static int
admins_cli_rotate(struct cfg *cfg, const char *prog, const char *name)
{
	PGconn	*conn;
	char	 err[ADMINS_CLI_ERR_MAX], tok[ADMINS_TOKEN_MAX];
	int	 r, rc = 1;

	if ((conn = admins_cli_connect(cfg, prog)) == NULL)
		return 1;
	if (admins_cli_arm(conn, prog, "admin.rotate", name) == -1)
		goto out;
	r = admins_rotate(conn, name, tok, sizeof(tok), err, sizeof(err));
	if (r == -1)
		fprintf(stderr, "%s: %s\n", prog, err);
	else if (r == 1)
		fprintf(stderr, "%s: no admin principal \"%s\"\n", prog, name);
	rc = admins_cli_end(conn, prog, r == 0 ? 0 : 1);
	if (r == 0) {
		fprintf(stderr, "admin principal %s has a new token (the old "
		    "one no longer works); it follows and is shown only this "
		    "once\n", name);
		printf("%s\n", tok);
		OPENSSL_cleanse(tok, sizeof(tok));
	}
 out:
	PQfinish(conn);
	return rc;
}

/* disable, enable and delete: the subcommand is the last word of prog. */
static int
admins_cli_change(struct cfg *cfg, const char *prog, const char *name)
{
	const char	*sub = strrchr(prog, ' ') + 1;
	PGconn		*conn;
	char		 err[ADMINS_CLI_ERR_MAX], action[AUDIT_ACTION_MAX];
	int		 r = -1, rc = 1;

	if ((conn = admins_cli_connect(cfg, prog)) == NULL)
		return 1;
	snprintf(action, sizeof(action), "admin.%s", sub);
	if (admins_cli_arm(conn, prog, action, name) == -1)
		goto out;
	if (strcmp(sub, "delete") == 0)
		r = admins_delete(conn, name, err, sizeof(err));
	else
		r = admins_set_disabled(conn, name, strcmp(sub, "disable") ==
		    0, err, sizeof(err));
	if (r == -1)
		fprintf(stderr, "%s: %s\n", prog, err);
	else if (r == 1)
		fprintf(stderr, "%s: no admin principal \"%s\"\n", prog, name);
	rc = admins_cli_end(conn, prog, r == 0 ? 0 : 1);
	if (rc == 0)
		printf("admin principal %s %s\n", name,
		    strcmp(sub, "delete") == 0 ? "deleted" :
		    strcmp(sub, "disable") == 0 ? "disabled" : "enabled");
 out:
	PQfinish(conn);
	return rc;
}

/* A time that may be absent ("") as a string or null. */
static void
admins_cli_time(cJSON *o, const char *key, const char *v)
{
	if (v[0] != '\0')
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static int
admins_cli_list(struct cfg *cfg, const char *prog, const char *unused)
{
	static const char *const head[] = { "NAME", "ROLE", "STATE",
	    "CREATED", "ROTATED", "LAST USED" };
	struct admins_row	*rows = NULL;
	struct admin_table	 t;
	PGconn			*conn;
	cJSON			*j, *arr, *o;
	const char		*cells[6];
	char			 err[ADMINS_CLI_ERR_MAX], *text;
	size_t			 i, n = 0;
	int			 rc = 1;

	(void)unused;
	if ((conn = admins_cli_connect(cfg, prog)) == NULL)
		return 1;
	if (admins_list(conn, &rows, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		goto out;
	}
	if (admin_client_opt(admins_cli_opts, ADMINS_CLI_NOPTS, "json") !=
	    NULL) {
		j = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(j, "admins");
		for (i = 0; i < n; i++) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", rows[i].ar_name);
			cJSON_AddStringToObject(o, "role",
			    admins_role_name(rows[i].ar_role));
			cJSON_AddBoolToObject(o, "disabled",
			    rows[i].ar_disabled);
			cJSON_AddStringToObject(o, "created",
			    rows[i].ar_created);
			admins_cli_time(o, "rotated", rows[i].ar_rotated);
			admins_cli_time(o, "last_used", rows[i].ar_last_used);
			cJSON_AddItemToArray(arr, o);
		}
		text = cJSON_Print(j);
		printf("%s\n", text != NULL ? text : "{}");
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		admin_table_init(&t, 6, head);
		for (i = 0; i < n; i++) {
			cells[0] = rows[i].ar_name;
			cells[1] = admins_role_name(rows[i].ar_role);
			cells[2] = rows[i].ar_disabled ? "disabled" : "enabled";
			cells[3] = rows[i].ar_created;
			cells[4] = rows[i].ar_rotated[0] != '\0' ?
			    rows[i].ar_rotated : NULL;
			cells[5] = rows[i].ar_last_used[0] != '\0' ?
			    rows[i].ar_last_used : NULL;
			admin_table_add(&t, cells);
		}
		admin_table_print(&t, stdout);
		admin_table_free(&t);
	}
	rc = 0;
 out:
	admins_rows_free(rows);
	PQfinish(conn);
	return rc;
}

int
admins_cli_main(struct cfg *cfg, int argc, char **argv)
{
	const struct cli_cmd_table	 t = { "admins", admins_cli_cmds,
					    ADMINS_CLI_NCMDS,
					    sizeof(admins_cli_cmds[0]), NULL,
					    admins_cli_usage, admins_cli_opts,
					    ADMINS_CLI_NOPTS };
	const struct admins_cli_cmd	*c;
	const char			*pos[ADMINS_CLI_MAX_POS];
	char				 prog[ADMINS_CLI_PROG_MAX];
	int				 npos, rc;

	if ((c = cli_cmd_parse(&t, argc, argv, pos, &npos, prog,
	    sizeof(prog), &rc)) == NULL)
		return rc;
	return c->c_run(cfg, prog, npos > 0 ? pos[0] : NULL);
}
