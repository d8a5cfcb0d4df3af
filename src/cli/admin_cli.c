/*
 * admin_cli.c — 'bulkhead schedules' and 'bulkhead limits' over the admin
 * API (admin_cli.h).
 *
 * Input is checked as far as it can be without the server (arguments,
 * JSON syntax) and refused with exit 2; what only the server knows (cron
 * syntax, time zones, job kinds and params, limit ranges) comes back as
 * its 400 message and exit 1.  --json prints the API's answer as is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/admin_cli.h"
#include "cli/admin_client.h"
#include "cli/cli_cmd.h"
#include "core/cfg.h"
#include "lib/buf.h"
#include "lib/str.h"

#define ACLI_MAX_POS	64		/* limits set KEY=VALUE ... */
#define ACLI_PROG_MAX	64
#define ACLI_BODY_MAX	(1 << 20)	/* a request body we build */
#define ACLI_KEY_MAX	64		/* a limits key */

static struct admin_opt acli_opts[] = {
	{ "json", 1, NULL },
	{ "api", 0, NULL },
	{ "cron", 0, NULL },
	{ "timezone", 0, NULL },
	{ "misfire", 0, NULL },
	{ "kind", 0, NULL },
	{ "params", 0, NULL },
	{ "disabled", 1, NULL },
};
#define ACLI_NOPTS (sizeof(acli_opts) / sizeof(acli_opts[0]))

/* A subcommand: its row in the shared skeleton (cli_cmd.h), its run. */
struct acli_cmd {
	struct cli_cmd_row	 c_row;
	int			(*c_run)(struct admin_client *, const char *,
				    const char **, int);
};

static const char *acli_opt(const char *);
static int	 acli_dispatch(struct cfg *, const char *,
		    const struct acli_cmd *, size_t, const char *, int,
		    char **, void (*)(FILE *));
static int	 acli_request(struct admin_client *, const char *,
		    const char *, const char *, long, struct buf *);
static int	 acli_name_path(struct buf *, const char *, const char *);
static void	 acli_schedules_usage(FILE *);
static void	 acli_limits_usage(FILE *);
static void	 acli_schedule_row(const cJSON *, struct admin_table *);
static void	 acli_schedule_print(const cJSON *);
static int	 acli_sched_list(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_sched_show(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_sched_set(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_sched_delete(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_sched_run(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_sched_enable(struct admin_client *, const char *,
		    const char **, int);
static void	 acli_limits_print(const cJSON *);
static int	 acli_limits_show(struct admin_client *, const char *,
		    const char **, int);
static int	 acli_limits_set(struct admin_client *, const char *,
		    const char **, int);

static const struct acli_cmd acli_sched_cmds[] = {
	{ { "list", "json,api", 0, 0, NULL }, acli_sched_list },
	{ { "show", "json,api", 1, 1, "schedule NAME" }, acli_sched_show },
	{ { "set", "json,api,cron,timezone,misfire,kind,params,disabled", 1, 1,
	    "schedule NAME" }, acli_sched_set },
	{ { "delete", "api", 1, 1, "schedule NAME" }, acli_sched_delete },
	{ { "run", "json,api", 1, 1, "schedule NAME" }, acli_sched_run },
	{ { "pause", "json,api", 1, 1, "schedule NAME" },
	    acli_sched_enable },
	{ { "resume", "json,api", 1, 1, "schedule NAME" },
	    acli_sched_enable },
};

static const struct acli_cmd acli_limits_cmds[] = {
	{ { "show", "json,api", 0, 0, NULL }, acli_limits_show },
	{ { "set", "json,api", 1, ACLI_MAX_POS, "KEY=VALUE" },
	    acli_limits_set },
};

static void
acli_schedules_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead schedules list [--json]\n"
	    "       bulkhead schedules show NAME [--json]\n"
	    "       bulkhead schedules set NAME --cron EXPR --kind KIND "
	    "[--params JSON]\n"
	    "              [--timezone TZ] [--misfire run-once|skip] "
	    "[--disabled] [--json]\n"
	    "       bulkhead schedules delete NAME\n"
	    "       bulkhead schedules run NAME [--json]\n"
	    "       bulkhead schedules pause|resume NAME [--json]\n"
	    "\nThrough the admin API: --api URL or BULKHEAD_API_URL "
	    "(default http://<listen>),\ntoken BULKHEAD_ADMIN_TOKEN.  'run' "
	    "prints the new job's id.\n");
}

static void
acli_limits_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead limits [show] [--json]\n"
	    "       bulkhead limits set KEY=VALUE ... [--json]\n"
	    "\nVALUE is a number, or JSON for the per-kind maps; KIND.KEY "
	    "sets one kind of a map\n(max_jobs_per_kind.export=2; '-' "
	    "removes it), keeping the others.\nThrough the admin API: --api "
	    "URL or BULKHEAD_API_URL, token BULKHEAD_ADMIN_TOKEN.\n");
}

static const char *
acli_opt(const char *name)
{
	return admin_client_opt(acli_opts, ACLI_NOPTS, name);
}

/*
 * Parses argv with the shared skeleton (cli_cmd.h; dflt names the
 * subcommand when none is given), opens the client and runs the
 * subcommand.
 */
static int
acli_dispatch(struct cfg *cfg, const char *cmd, const struct acli_cmd *cmds,
    size_t ncmds, const char *dflt, int argc, char **argv,
    void (*usage)(FILE *))
{
	const struct cli_cmd_table	 t = { cmd, cmds, ncmds, sizeof(*cmds),
					    dflt, usage, acli_opts,
					    ACLI_NOPTS };
	const struct acli_cmd		*c;
	struct admin_client		 ac;
	const char			*pos[ACLI_MAX_POS];
	char				 prog[ACLI_PROG_MAX];
	int				 npos, rc;

	if ((c = cli_cmd_parse(&t, argc, argv, pos, &npos, prog,
	    sizeof(prog), &rc)) == NULL)
		return rc;
	if ((rc = admin_client_open(&ac, cfg, acli_opt("api"), prog)) != 0)
		return rc;
	rc = c->c_run(&ac, c->c_row.cr_name, pos, npos);
	admin_client_close(&ac);
	return rc;
}

/*
 * Sends the request and checks the status: want, or any 2xx if want is
 * 0.  0 with the answer in out; else 1 after printing why.
 */
static int
acli_request(struct admin_client *ac, const char *method, const char *path,
    const char *body, long want, struct buf *out)
{
	long	status;

	if ((status = admin_client_call(ac, method, path, body, out)) == -1)
		return 1;
	if (want != 0 ? status != want : (status < 200 || status > 299))
		return admin_client_error(ac, status, out);
	return 0;
}

/* "/admin/api/schedules/<name>[/<action>]" into b.  0 or -1. */
static int
acli_name_path(struct buf *b, const char *name, const char *action)
{
	if (buf_puts(b, "/admin/api/schedules/") == -1 ||
	    admin_client_escape(b, name) == -1)
		return -1;
	if (action != NULL && buf_printf(b, "/%s", action) == -1)
		return -1;
	return 0;
}

/* ---- schedules --------------------------------------------------------- */

static void
acli_schedule_row(const cJSON *s, struct admin_table *t)
{
	const cJSON	*job = cJSON_GetObjectItemCaseSensitive(s, "job");
	const char	*row[8];

	row[0] = admin_client_str(s, "name");
	row[1] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "enabled")) ?
	    "yes" : "paused";
	row[2] = admin_client_str(s, "cron");
	row[3] = admin_client_str(s, "timezone");
	row[4] = admin_client_str(job, "kind");
	row[5] = admin_client_str(s, "next_fire");
	row[6] = admin_client_str(s, "last_fire");
	row[7] = admin_client_str(s, "last_job");
	admin_table_add(t, row);
}

static int
acli_sched_list(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	static const char *const head[] = { "NAME", "ENABLED", "CRON",
	    "TIMEZONE", "KIND", "NEXT FIRE", "LAST FIRE", "LAST JOB" };
	struct admin_table	 t;
	struct buf		 body;
	const cJSON		*s;
	cJSON			*j = NULL;
	int			 rc;

	(void)sub;
	(void)pos;
	(void)npos;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	admin_table_init(&t, 8, head);
	if ((rc = acli_request(ac, "GET", "/admin/api/schedules", NULL, 200,
	    &body)) != 0)
		goto out;
	rc = 1;
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "schedules"))
		acli_schedule_row(s, &t);
	admin_table_print(&t, stdout);
	rc = 0;
 out:
	cJSON_Delete(j);
	admin_table_free(&t);
	buf_free(&body);
	return rc;
}

/* Prints one schedule as "name  value" lines. */
static void
acli_schedule_print(const cJSON *s)
{
	static const char *const fields[] = { "name", "cron", "timezone",
	    "misfire", "next_fire", "last_fire", "last_job", "last_error",
	    "source", "created", "updated" };
	const cJSON	*job = cJSON_GetObjectItemCaseSensitive(s, "job");
	char		*params;
	size_t		 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		printf("%-11s %s\n", fields[i], admin_client_str(s, fields[i]) ?
		    admin_client_str(s, fields[i]) : "-");
		if (i == 2)
			printf("%-11s %s\n", "enabled", cJSON_IsTrue(
			    cJSON_GetObjectItemCaseSensitive(s, "enabled")) ?
			    "yes" : "no (paused)");
	}
	params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(job,
	    "params"));
	printf("%-11s %s %s\n", "job", admin_client_str(job, "kind") ?
	    admin_client_str(job, "kind") : "-",
	    params != NULL ? params : "{}");
	cJSON_free(params);
}

static int
acli_sched_show(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	 path, body;
	cJSON		*j = NULL;
	int		 rc;

	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	rc = 2;
	if (acli_name_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	if ((rc = acli_request(ac, "GET", path.b_data, NULL, 200, &body)) != 0)
		goto out;
	rc = 1;
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	acli_schedule_print(j);
	rc = 0;
 out:
	cJSON_Delete(j);
	buf_free(&path);
	buf_free(&body);
	return rc;
}

static int
acli_sched_set(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	 path, body;
	cJSON		*req, *job, *params = NULL, *j = NULL;
	char		*text = NULL;
	long		 status;
	int		 rc = 2;

	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	req = cJSON_CreateObject();
	if (acli_opt("cron") == NULL || acli_opt("kind") == NULL) {
		fprintf(stderr, "%s: --cron and --kind are required\n",
		    ac->ac_prog);
		goto out;
	}
	if (acli_opt("params") != NULL &&
	    ((params = cJSON_Parse(acli_opt("params"))) == NULL ||
	    !cJSON_IsObject(params))) {
		fprintf(stderr, "%s: --params must be a JSON object\n",
		    ac->ac_prog);
		goto out;
	}
	if (acli_name_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	cJSON_AddStringToObject(req, "cron", acli_opt("cron"));
	if (acli_opt("timezone") != NULL)
		cJSON_AddStringToObject(req, "timezone", acli_opt("timezone"));
	if (acli_opt("misfire") != NULL)
		cJSON_AddStringToObject(req, "misfire", acli_opt("misfire"));
	cJSON_AddBoolToObject(req, "enabled", acli_opt("disabled") == NULL);
	job = cJSON_AddObjectToObject(req, "job");
	cJSON_AddStringToObject(job, "kind", acli_opt("kind"));
	if (params != NULL) {
		cJSON_AddItemToObject(job, "params", params);
		params = NULL;	/* req owns it */
	}
	text = cJSON_PrintUnformatted(req);
	rc = 1;
	if ((status = admin_client_call(ac, "PUT", path.b_data, text,
	    &body)) == -1)
		goto out;
	if (status != 200 && status != 201) {
		rc = admin_client_error(ac, status, &body);
		goto out;
	}
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	printf("schedule %s %s; next fire %s\n", pos[0], status == 201 ?
	    "created" : "replaced", admin_client_str(j, "next_fire") ?
	    admin_client_str(j, "next_fire") : "none (paused)");
	rc = 0;
 out:
	cJSON_Delete(j);
	cJSON_Delete(params);
	cJSON_Delete(req);
	cJSON_free(text);
	buf_free(&path);
	buf_free(&body);
	return rc;
}

static int
acli_sched_delete(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	path, body;
	int		rc = 2;

	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if (acli_name_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	if ((rc = acli_request(ac, "DELETE", path.b_data, NULL, 204,
	    &body)) == 0)
		printf("schedule %s deleted\n", pos[0]);
 out:
	buf_free(&path);
	buf_free(&body);
	return rc;
}

static int
acli_sched_run(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	 path, body;
	cJSON		*j = NULL;
	int		 rc = 2;

	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if (acli_name_path(&path, pos[0], "run") == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	if ((rc = acli_request(ac, "POST", path.b_data, NULL, 202,
	    &body)) != 0)
		goto out;
	rc = 1;
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	/* The new job's id alone, as 'jobs submit' prints it. */
	printf("%s\n", admin_client_str(j, "id") ? admin_client_str(j, "id") :
	    "?");
	rc = 0;
 out:
	cJSON_Delete(j);
	buf_free(&path);
	buf_free(&body);
	return rc;
}

/* pause and resume. */
static int
acli_sched_enable(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	path, body;
	int		rc = 2;

	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if (acli_name_path(&path, pos[0], sub) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	if ((rc = acli_request(ac, "POST", path.b_data, NULL, 200,
	    &body)) != 0)
		goto out;
	if (acli_opt("json") != NULL)
		printf("%s\n", body.b_data);
	else
		printf("schedule %s %s\n", pos[0], strcmp(sub, "pause") == 0 ?
		    "paused" : "resumed");
 out:
	buf_free(&path);
	buf_free(&body);
	return rc;
}

int
admin_cli_schedules_main(struct cfg *cfg, int argc, char **argv)
{
	return acli_dispatch(cfg, "schedules", acli_sched_cmds,
	    sizeof(acli_sched_cmds) / sizeof(acli_sched_cmds[0]), NULL, argc,
	    argv, acli_schedules_usage);
}

/* ---- limits ------------------------------------------------------------ */

/* KEY VALUE lines; a per-kind map as "kind=n kind=n" ("-" if empty). */
static void
acli_limits_print(const cJSON *l)
{
	static const char *const head[] = { "KEY", "VALUE" };
	struct admin_table	 t;
	struct buf		 v;
	const cJSON		*e, *k;
	const char		*row[2];

	admin_table_init(&t, 2, head);
	buf_init(&v, ACLI_BODY_MAX);
	cJSON_ArrayForEach(e, l) {
		buf_reset(&v);
		if (cJSON_IsObject(e)) {
			cJSON_ArrayForEach(k, e)
				(void)buf_printf(&v, "%s%s=%.0f", v.b_len ?
				    " " : "", k->string, k->valuedouble);
		} else if (cJSON_IsNumber(e))
			(void)buf_printf(&v, "%.0f", e->valuedouble);
		else if (cJSON_IsString(e))
			(void)buf_puts(&v, e->valuestring);
		row[0] = e->string;
		row[1] = v.b_len > 0 ? v.b_data : NULL;
		admin_table_add(&t, row);
	}
	admin_table_print(&t, stdout);
	admin_table_free(&t);
	buf_free(&v);
}

static int
acli_limits_show(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	 body;
	cJSON		*j = NULL;
	int		 rc;

	(void)sub;
	(void)pos;
	(void)npos;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if ((rc = acli_request(ac, "GET", "/admin/api/limits", NULL, 200,
	    &body)) != 0)
		goto out;
	rc = 1;
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	acli_limits_print(j);
	rc = 0;
 out:
	cJSON_Delete(j);
	buf_free(&body);
	return rc;
}

/*
 * KEY=VALUE ... into one PUT.  KEY.KIND=VALUE changes one entry of a
 * per-kind map: the API replaces a map as a whole, so the current map is
 * read first and sent back with the change ('-' removes the entry).
 */
static int
acli_limits_set(struct admin_client *ac, const char *sub, const char **pos,
    int npos)
{
	struct buf	 body;
	cJSON		*req, *cur = NULL, *v, *map, *j = NULL;
	const char	*eq, *dot;
	char		 key[ACLI_KEY_MAX], *text = NULL;
	size_t		 klen;
	int		 i, rc = 2;

	(void)sub;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	req = cJSON_CreateObject();
	for (i = 0; i < npos; i++) {
		if ((eq = strchr(pos[i], '=')) == NULL || eq == pos[i] ||
		    (klen = (size_t)(eq - pos[i])) >= sizeof(key)) {
			fprintf(stderr, "%s: \"%s\" is not KEY=VALUE\n",
			    ac->ac_prog, pos[i]);
			goto out;
		}
		memcpy(key, pos[i], klen);
		key[klen] = '\0';
		dot = strchr(key, '.');
		if (dot != NULL && strcmp(eq + 1, "-") == 0)
			v = NULL;
		else if ((v = cJSON_Parse(eq + 1)) == NULL ||
		    !(cJSON_IsNumber(v) || cJSON_IsObject(v))) {
			fprintf(stderr, "%s: %s: the value must be a number "
			    "(or a JSON object for a per-kind map)\n",
			    ac->ac_prog, key);
			cJSON_Delete(v);
			goto out;
		}
		if (dot == NULL) {
			cJSON_DeleteItemFromObjectCaseSensitive(req, key);
			cJSON_AddItemToObject(req, key, v);
			continue;
		}
		key[dot - key] = '\0';	/* key: the map; dot + 1: the kind */
		if (cur == NULL) {
			buf_reset(&body);
			if (acli_request(ac, "GET", "/admin/api/limits",
			    NULL, 200, &body) != 0 ||
			    (cur = admin_client_json(ac, &body)) == NULL) {
				cJSON_Delete(v);
				rc = 1;
				goto out;
			}
			rc = 2;
		}
		if ((map = cJSON_GetObjectItemCaseSensitive(req, key)) ==
		    NULL) {
			map = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
			    cur, key), 1);
			if (!cJSON_IsObject(map)) {
				fprintf(stderr, "%s: %s is not a per-kind "
				    "map\n", ac->ac_prog, key);
				cJSON_Delete(map);
				cJSON_Delete(v);
				goto out;
			}
			cJSON_AddItemToObject(req, key, map);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(map, dot + 1);
		if (v != NULL)
			cJSON_AddItemToObject(map, dot + 1, v);
	}
	text = cJSON_PrintUnformatted(req);
	buf_reset(&body);
	if ((rc = acli_request(ac, "PUT", "/admin/api/limits", text, 200,
	    &body)) != 0)
		goto out;
	rc = 1;
	if (acli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	acli_limits_print(j);
	rc = 0;
 out:
	cJSON_Delete(j);
	cJSON_Delete(cur);
	cJSON_Delete(req);
	cJSON_free(text);
	buf_free(&body);
	return rc;
}

int
admin_cli_limits_main(struct cfg *cfg, int argc, char **argv)
{
	return acli_dispatch(cfg, "limits", acli_limits_cmds,
	    sizeof(acli_limits_cmds) / sizeof(acli_limits_cmds[0]), "show",
	    argc, argv, acli_limits_usage);
}
