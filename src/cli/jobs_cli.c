/*
 * jobs_cli.c — 'bulkhead jobs': list, show, pause, resume, cancel, retry
 * and watch jobs through the admin API (cli/admin_client.h); submit,
 * wait and kinds without it.
 *
 * submit and wait go straight to the database, as before the admin API
 * existed: they are the scripting primitives of deployments and tests
 * that run workers without an API node, and submit is checked against
 * the same job_kind_check the API would use.  Everything an operator
 * changes goes through the API, so that it is authenticated and audited.
 *
 * Exit statuses: 0 success; 1 the API or database refused or failed (its
 * message on stderr), or, for wait and watch, the job ended other than
 * completed; 2 usage errors (found before any request) and, for wait, a
 * timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/admin_client.h"
#include "cli/cli_cmd.h"
#include "core/cfg.h"
#include "jobs/cron.h"
#include "jobs/job_kinds.h"
#include "store/jobq.h"
#include "cli/jobs_cli.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "store/db.h"
#include "store/migrate.h"

#define CLI_MAX_POS		2	/* positional arguments */
#define CLI_PROG_MAX		64
#define CLI_WAIT_MS_MAX		1000	/* wait polls at most this often */
#define CLI_WATCH_MS		500	/* watch polls this often */
#define CLI_WATCH_RETRIES	10	/* unreachable polls before giving up */
#define CLI_BAR_WIDTH		30	/* progress bar cells */
#define CLI_LINE_MAX		160	/* one watch line */
#define CLI_LIST_DEFAULT	"50"

static struct admin_opt cli_opts[] = {
	{ "priority", 0, NULL },
	{ "max-attempts", 0, NULL },
	{ "client", 0, NULL },
	{ "state", 0, NULL },
	{ "kind", 0, NULL },
	{ "limit", 0, NULL },
	{ "timeout", 0, NULL },
	{ "json", 1, NULL },
	{ "api", 0, NULL },
	{ "at", 0, NULL },
};
#define CLI_NOPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))

/* A subcommand: its row in the shared skeleton (cli_cmd.h), its run. */
struct cli_cmd {
	struct cli_cmd_row	 c_row;
	int			(*c_run)(struct cfg *, const char *,
				    const char **, int);
};

static void	 cli_usage(FILE *);
static const char *cli_opt(const char *);
static int	 cli_num(const char *, const char *, const char *, int64_t,
		    int64_t, int64_t *);
static PGconn	*cli_connect(struct cfg *, const char *);
static int	 cli_submit(struct cfg *, const char *, const char **, int);
static int	 cli_wait(struct cfg *, const char *, const char **, int);
static int	 cli_kinds(struct cfg *, const char *, const char **, int);
static int	 cli_list(struct cfg *, const char *, const char **, int);
static int	 cli_show(struct cfg *, const char *, const char **, int);
static int	 cli_action(struct cfg *, const char *, const char **, int);
static int	 cli_watch(struct cfg *, const char *, const char **, int);
static int	 cli_redeliver(struct cfg *, const char *, const char **,
		    int);
static int	 cli_job_path(struct buf *, const char *, const char *);
static int	 cli_job_post(struct admin_client *, const char *,
		    const char *, const char *, struct buf *);
static void	 cli_progress(const cJSON *, char *, size_t, double *);
static void	 cli_field(const char *, const cJSON *, const char *);
static const char *cli_state(const cJSON *);
static int	 cli_int(const cJSON *, const char *);

static const struct cli_cmd cli_cmds[] = {
	{ { "submit", "priority,max-attempts,client,at", 1, 2, "KIND" },
	    cli_submit },
	{ { "wait", "timeout", 1, 1, "job ID" }, cli_wait },
	{ { "kinds", "", 0, 0, NULL }, cli_kinds },
	{ { "list", "state,kind,client,limit,json,api", 0, 0, NULL },
	    cli_list },
	{ { "show", "json,api", 1, 1, "job ID" }, cli_show },
	{ { "pause", "json,api", 1, 1, "job ID" }, cli_action },
	{ { "resume", "json,api", 1, 1, "job ID" }, cli_action },
	{ { "cancel", "json,api", 1, 1, "job ID" }, cli_action },
	{ { "retry", "json,api", 1, 1, "job ID" }, cli_action },
	{ { "watch", "api", 1, 1, "job ID" }, cli_watch },
	{ { "redeliver", "json,api", 1, 2, "job ID [N]" }, cli_redeliver },
};
#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void
cli_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead jobs list [--state S] [--kind K] "
	    "[--client C] [--limit N] [--json]\n"
	    "       bulkhead jobs show ID [--json]\n"
	    "       bulkhead jobs pause|resume|cancel ID [--json]\n"
	    "       bulkhead jobs retry ID [--json]\n"
	    "       bulkhead jobs watch ID\n"
	    "       bulkhead jobs submit KIND [JSON-PARAMS] [--priority N] "
	    "[--max-attempts N] [--client ID]\n"
	    "                            [--at 2026-12-05T02:00:00+03:00]\n"
	    "       bulkhead jobs wait ID [--timeout SECONDS]\n"
	    "       bulkhead jobs kinds\n"
	    "\nlist, show, pause, resume, cancel, retry and watch use the "
	    "admin API: --api URL\nor BULKHEAD_API_URL (default "
	    "http://<listen>), token BULKHEAD_ADMIN_TOKEN.\n");
}

static const char *
cli_opt(const char *name)
{
	return admin_client_opt(cli_opts, CLI_NOPTS, name);
}

static int
cli_num(const char *prog, const char *what, const char *s, int64_t min,
    int64_t max, int64_t *out)
{
	const char	*errstr;

	if (str_to_i64(s, min, max, out, &errstr) == -1) {
		fprintf(stderr, "%s: %s \"%s\" is %s (expected %lld to %lld)\n",
		    prog, what, s, errstr, (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

/* ---- without the API: submit, wait, kinds ------------------------------ */

/* Connects and applies migrations; NULL after printing the reason. */
static PGconn *
cli_connect(struct cfg *cfg, const char *prog)
{
	PGconn	*conn;
	char	 err[1024];

	if ((conn = db_connect(cfg->database_url, "jobs", err,
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

static int
cli_submit(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct jobq_spec	 spec;
	PGconn			*conn;
	char			 err[1024], id[JOBQ_ID_MAX];
	char			 at[CRON_TIME_MAX];
	time_t			 t;
	int64_t			 v;
	int			 rc;

	memset(&spec, 0, sizeof(spec));
	/* --at: not claimed before then; shown as "scheduled" until. */
	if (cli_opt("at") != NULL) {
		if (cron_time_parse(cli_opt("at"), &t) == -1) {
			fprintf(stderr, "%s: --at \"%s\" is not an RFC 3339 "
			    "instant with an offset "
			    "(2026-12-05T02:00:00+03:00)\n", prog,
			    cli_opt("at"));
			return 2;
		}
		cron_time_format(t, at, sizeof(at));
		spec.s_not_before = at;
	}
	spec.s_kind = pos[0];
	spec.s_params = npos > 1 ? pos[1] : "{}";
	spec.s_client = cli_opt("client");
	spec.s_max_attempts = cfg->job_max_attempts;
	if (job_kind_check(spec.s_kind, spec.s_params, spec.s_client, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	if (cli_opt("priority") != NULL) {
		if (cli_num(prog, "--priority", cli_opt("priority"), -32768,
		    32767, &v) == -1)
			return 2;
		spec.s_priority = (int)v;
	}
	if (cli_opt("max-attempts") != NULL) {
		if (cli_num(prog, "--max-attempts", cli_opt("max-attempts"), 1,
		    100, &v) == -1)
			return 2;
		spec.s_max_attempts = (int)v;
	}
	if ((conn = cli_connect(cfg, prog)) == NULL)
		return 1;
	rc = jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err));
	PQfinish(conn);
	if (rc == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

static int
cli_wait(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct jobq_job	*j = NULL;
	struct timespec	 ts, now, nap;
	PGconn		*conn;
	char		 err[1024];
	int64_t		 timeout = 0;
	long		 ms = 100;
	int		 r, rc = 1;

	(void)npos;
	if (cli_opt("timeout") != NULL && cli_num(prog, "--timeout",
	    cli_opt("timeout"), 0, 86400 * 365, &timeout) == -1)
		return 2;
	if ((conn = cli_connect(cfg, prog)) == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (;;) {
		jobq_job_free(j);
		j = NULL;
		if ((r = jobq_get(conn, pos[0], &j, err, sizeof(err))) == -1) {
			/* Only a broken connection is worth another try. */
			if (PQstatus(conn) == CONNECTION_OK ||
			    !db_ensure(conn)) {
				fprintf(stderr, "%s: %s\n", prog, err);
				goto out;
			}
			continue;
		}
		if (r == 0) {
			fprintf(stderr, "%s: no such job \"%s\"\n", prog,
			    pos[0]);
			goto out;
		}
		if (jobq_state_is_final(j->j_state))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout > 0 && now.tv_sec - ts.tv_sec >= timeout) {
			fprintf(stderr, "%s: timed out after %lld s; job %s is "
			    "%s\n", prog, (long long)timeout, j->j_id,
			    jobq_state_name(j->j_state));
			rc = 2;
			goto out;
		}
		nap.tv_sec = ms / 1000;
		nap.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&nap, NULL);
		ms = ms * 2 > CLI_WAIT_MS_MAX ? CLI_WAIT_MS_MAX : ms * 2;
	}
	if (j->j_state == JOBQ_COMPLETED) {
		printf("%s completed\n", j->j_id);
		rc = 0;
	} else
		fprintf(stderr, "%s: job %s %s%s%s\n", prog, j->j_id,
		    jobq_state_name(j->j_state), j->j_error ? ": " : "",
		    j->j_error ? j->j_error : "");
 out:
	jobq_job_free(j);
	PQfinish(conn);
	return rc;
}

static int
cli_kinds(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	const struct job_kind	*k;
	size_t			 i, n;

	(void)cfg;
	(void)prog;
	(void)pos;
	(void)npos;
	k = job_kind_all(&n);
	for (i = 0; i < n; i++)
		printf("%-14s %s\n", k[i].k_name, k[i].k_help);
	return 0;
}

/* ---- through the API --------------------------------------------------- */

/* "/admin/api/jobs/<id>[/<action>]" into b.  0 or -1. */
static int
cli_job_path(struct buf *b, const char *id, const char *action)
{
	if (buf_puts(b, "/admin/api/jobs/") == -1 ||
	    admin_client_escape(b, id) == -1)
		return -1;
	if (action != NULL && buf_printf(b, "/%s", action) == -1)
		return -1;
	return 0;
}

/*
 * POST /admin/api/jobs/<id>/<action> with no body; the answer in body.
 * 0 on a 2xx, else the command's exit code (the error printed).
 */
static int
cli_job_post(struct admin_client *ac, const char *prog, const char *id,
    const char *action, struct buf *body)
{
	struct buf	path;
	long		status;
	int		rc = 1;

	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	if (cli_job_path(&path, id, action) == -1) {
		fprintf(stderr, "%s: job id too long\n", prog);
		rc = 2;
	} else if ((status = admin_client_call(ac, "POST", path.b_data, NULL,
	    body)) != -1)
		rc = status >= 200 && status <= 299 ? 0 :
		    admin_client_error(ac, status, body);
	buf_free(&path);
	return rc;
}

/*
 * "done/total" (or "done") from a progress object into out, and the
 * fraction done in *fraction (-1 if unknown).  Export progress counts
 * per type with step/steps: the fraction spans all steps.
 */
static void
cli_progress(const cJSON *p, char *out, size_t len, double *fraction)
{
	const cJSON	*d, *t, *step, *steps, *type;
	double		 f = -1;

	str_lcpy(out, "-", len);
	d = cJSON_GetObjectItemCaseSensitive(p, "done");
	t = cJSON_GetObjectItemCaseSensitive(p, "total");
	step = cJSON_GetObjectItemCaseSensitive(p, "step");
	steps = cJSON_GetObjectItemCaseSensitive(p, "steps");
	type = cJSON_GetObjectItemCaseSensitive(p, "type");
	if (cJSON_IsNumber(d) && cJSON_IsNumber(t)) {
		snprintf(out, len, "%s%s%.0f/%.0f", cJSON_IsString(type) ?
		    type->valuestring : "", cJSON_IsString(type) ? " " : "",
		    d->valuedouble, t->valuedouble);
		if (t->valuedouble > 0)
			f = d->valuedouble / t->valuedouble;
	} else if (cJSON_IsNumber(d))
		snprintf(out, len, "%s%s%.0f", cJSON_IsString(type) ?
		    type->valuestring : "", cJSON_IsString(type) ? " " : "",
		    d->valuedouble);
	if (cJSON_IsNumber(step) && cJSON_IsNumber(steps) &&
	    steps->valuedouble > 0)
		f = (step->valuedouble - 1 + (f >= 0 ? f : 0)) /
		    steps->valuedouble;
	if (f > 1)
		f = 1;
	if (fraction != NULL)
		*fraction = f;
}

/* The integer member name of o, 0 if absent or not a number. */
static int
cli_int(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* The state as shown: "pausing" for a running job asked to pause. */
static const char *
cli_state(const cJSON *job)
{
	const char	*st = admin_client_str(job, "state");

	if (st != NULL && strcmp(st, "running") == 0 && cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(job, "pause_requested")))
		return "pausing";
	return st != NULL ? st : "?";
}

static int
cli_list(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct admin_client	 ac;
	struct admin_table	 t;
	struct buf		 path, body;
	enum jobq_state		 st;
	const cJSON		*job;
	cJSON			*j = NULL;
	const char		*head[] = { "ID", "KIND", "STATE", "PRIO",
				    "TRIES", "PROGRESS", "CREATED" };
	const char		*row[7];
	char			 prio[16], tries[32], prog_s[48];
	int64_t			 v;
	long			 status;
	int			 rc;

	(void)pos;
	(void)npos;
	if (cli_opt("state") != NULL && jobq_state_parse(cli_opt("state"),
	    &st) == -1) {
		fprintf(stderr, "%s: unknown state \"%s\" (queued, running, "
		    "paused, cancelling, cancelled, failed, completed)\n", prog,
		    cli_opt("state"));
		return 2;
	}
	if (cli_opt("kind") != NULL && job_kind_find(cli_opt("kind")) ==
	    NULL) {
		fprintf(stderr, "%s: unknown job kind \"%s\" (see 'bulkhead "
		    "jobs kinds')\n", prog, cli_opt("kind"));
		return 2;
	}
	if (cli_opt("limit") != NULL && cli_num(prog, "--limit",
	    cli_opt("limit"), 1, JOBQ_LIST_MAX, &v) == -1)
		return 2;
	if ((rc = admin_client_open(&ac, cfg, cli_opt("api"), prog)) != 0)
		return rc;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	admin_table_init(&t, 7, head);
	rc = 1;
	(void)buf_puts(&path, "/admin/api/jobs?limit=");
	(void)admin_client_escape(&path, cli_opt("limit") != NULL ?
	    cli_opt("limit") : CLI_LIST_DEFAULT);
	if (cli_opt("state") != NULL && (buf_puts(&path, "&state=") == -1 ||
	    admin_client_escape(&path, cli_opt("state")) == -1))
		goto toolong;
	if (cli_opt("kind") != NULL && (buf_puts(&path, "&kind=") == -1 ||
	    admin_client_escape(&path, cli_opt("kind")) == -1))
		goto toolong;
	if (cli_opt("client") != NULL && (buf_puts(&path, "&client=") == -1 ||
	    admin_client_escape(&path, cli_opt("client")) == -1))
		goto toolong;
	if ((status = admin_client_call(&ac, "GET", path.b_data, NULL,
	    &body)) == -1)
		goto out;
	if (status != 200) {
		rc = admin_client_error(&ac, status, &body);
		goto out;
	}
	if (cli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(&ac, &body)) == NULL)
		goto out;
	cJSON_ArrayForEach(job, cJSON_GetObjectItemCaseSensitive(j, "jobs")) {
		snprintf(prio, sizeof(prio), "%d", cli_int(job, "priority"));
		snprintf(tries, sizeof(tries), "%d/%d",
		    cli_int(job, "attempts"), cli_int(job, "max_attempts"));
		cli_progress(cJSON_GetObjectItemCaseSensitive(job, "progress"),
		    prog_s, sizeof(prog_s), NULL);
		row[0] = admin_client_str(job, "id");
		row[1] = admin_client_str(job, "kind");
		row[2] = cli_state(job);
		row[3] = prio;
		row[4] = tries;
		row[5] = prog_s;
		row[6] = admin_client_str(job, "created");
		admin_table_add(&t, row);
	}
	admin_table_print(&t, stdout);
	rc = 0;
	goto out;
 toolong:
	fprintf(stderr, "%s: filter too long\n", prog);
	rc = 2;
 out:
	cJSON_Delete(j);
	admin_table_free(&t);
	buf_free(&path);
	buf_free(&body);
	admin_client_close(&ac);
	return rc;
}

/* One "name  value" line; raw JSON members print compactly. */
static void
cli_field(const char *name, const cJSON *job, const char *member)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(job, member);
	char		*text = NULL;

	if (v == NULL || cJSON_IsNull(v))
		printf("%-17s -\n", name);
	else if (cJSON_IsString(v))
		printf("%-17s %s\n", name, v->valuestring);
	else {
		text = cJSON_PrintUnformatted(v);
		printf("%-17s %s\n", name, text != NULL ? text : "?");
		cJSON_free(text);
	}
}

static int
cli_show(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct admin_client	 ac;
	struct buf		 path, body;
	const cJSON		*o;
	cJSON			*j = NULL;
	char			 num[64];
	long			 status;
	int			 rc;

	(void)npos;
	if ((rc = admin_client_open(&ac, cfg, cli_opt("api"), prog)) != 0)
		return rc;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	rc = 1;
	if (cli_job_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: job id too long\n", prog);
		rc = 2;
		goto out;
	}
	if ((status = admin_client_call(&ac, "GET", path.b_data, NULL,
	    &body)) == -1)
		goto out;
	if (status != 200) {
		rc = admin_client_error(&ac, status, &body);
		goto out;
	}
	if (cli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(&ac, &body)) == NULL)
		goto out;
	cli_field("id", j, "id");
	cli_field("kind", j, "kind");
	printf("%-17s %s\n", "state", cli_state(j));
	cli_field("priority", j, "priority");
	snprintf(num, sizeof(num), "%d of %d", cli_int(j, "attempts"),
	    cli_int(j, "max_attempts"));
	printf("%-17s %s\n", "attempts", num);
	cli_field("client", j, "client");
	cli_field("params", j, "params");
	cli_field("progress", j, "progress");
	cli_field("checkpoint", j, "checkpoint");
	cli_field("created", j, "created");
	cli_field("started", j, "started");
	cli_field("finished", j, "finished");
	cli_field("run after", j, "run_after");
	cli_field("lease owner", j, "lease_owner");
	cli_field("lease expires", j, "lease_expires");
	cli_field("heartbeat", j, "heartbeat_at");
	cli_field("transaction time", j, "transaction_time");
	cli_field("error", j, "error");
	cli_field("result", j, "result");
	cli_field("retry of", j, "retry_of");
	cli_field("status url", j, "status_url");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j,
	    "outputs")) == 0)
		printf("%-17s -\n", "outputs");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j, "outputs")) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "count");

		printf("%-17s %s %s %.0f %s\n", "output",
		    admin_client_str(o, "channel") ? admin_client_str(o,
		    "channel") : "-", admin_client_str(o, "type") ?
		    admin_client_str(o, "type") : "-", cJSON_IsNumber(c) ?
		    c->valuedouble : 0, admin_client_str(o, "url") ?
		    admin_client_str(o, "url") : "-");
	}
	/* OpenHIM deliveries (issue 15). */
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j,
	    "deliveries")) {
		const cJSON *ls = cJSON_GetObjectItemCaseSensitive(o,
		    "lastStatus");

		printf("%-17s %d %s %s attempts %d of %d", "delivery",
		    cli_int(o, "n"), admin_client_str(o, "target") ?
		    admin_client_str(o, "target") : "-",
		    admin_client_str(o, "state") ? admin_client_str(o,
		    "state") : "-", cli_int(o, "attempts"),
		    cli_int(o, "maxAttempts"));
		if (cJSON_IsNumber(ls))
			printf(" last HTTP %d", ls->valueint);
		printf("\n");
	}
	rc = 0;
 out:
	cJSON_Delete(j);
	buf_free(&path);
	buf_free(&body);
	admin_client_close(&ac);
	return rc;
}

/* pause, resume, cancel, retry: the subcommand is the action. */
static int
cli_action(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct admin_client	 ac;
	struct buf		 body;
	const char		*action, *id;
	cJSON			*j = NULL;
	int			 rc;

	(void)npos;
	action = strrchr(prog, ' ') + 1;	/* "bulkhead jobs pause" */
	if ((rc = admin_client_open(&ac, cfg, cli_opt("api"), prog)) != 0)
		return rc;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if ((rc = cli_job_post(&ac, prog, pos[0], action, &body)) != 0)
		goto out;
	if (cli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(&ac, &body)) == NULL)
		goto out;
	id = admin_client_str(j, "id");
	if (strcmp(action, "retry") == 0)
		/* The new job's id alone, as 'jobs submit' prints it. */
		printf("%s\n", id != NULL ? id : "?");
	else if (strcmp(cli_state(j), "pausing") == 0)
		printf("job %s: pause requested; it stops at its next batch "
		    "boundary\n", pos[0]);
	else if (strcmp(cli_state(j), "cancelling") == 0)
		printf("job %s: cancel requested; its worker stops it\n",
		    pos[0]);
	else
		printf("job %s: %s\n", pos[0], cli_state(j));
	rc = 0;
 out:
	cJSON_Delete(j);
	buf_free(&body);
	admin_client_close(&ac);
	return rc;
}

/*
 * Polls the job and draws its progress until it ends: one redrawn line
 * on a terminal, one line per change otherwise.  0 if it completed.
 */
static int
cli_watch(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct admin_client	 ac;
	struct buf		 path, body;
	struct timespec		 nap;
	cJSON			*j = NULL;
	const char		*st = "?";
	char			 line[CLI_LINE_MAX], last[CLI_LINE_MAX];
	char			 bar[CLI_BAR_WIDTH + 1], prog_s[48];
	double			 f;
	long			 status;
	int			 tty, rc, i, fails = 0, drawn = 0;

	(void)npos;
	if ((rc = admin_client_open(&ac, cfg, cli_opt("api"), prog)) != 0)
		return rc;
	tty = isatty(STDOUT_FILENO);
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	last[0] = '\0';
	rc = 1;
	if (cli_job_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: job id too long\n", prog);
		rc = 2;
		goto out;
	}
	nap.tv_sec = CLI_WATCH_MS / 1000;
	nap.tv_nsec = (CLI_WATCH_MS % 1000) * 1000000L;
	for (;;) {
		buf_reset(&body);
		if ((status = admin_client_call(&ac, "GET", path.b_data, NULL,
		    &body)) == -1) {
			if (++fails >= CLI_WATCH_RETRIES)
				goto out;
			nanosleep(&nap, NULL);
			continue;
		}
		fails = 0;
		if (status != 200) {
			if (drawn && tty)
				putchar('\n');
			rc = admin_client_error(&ac, status, &body);
			goto out;
		}
		cJSON_Delete(j);
		if ((j = admin_client_json(&ac, &body)) == NULL)
			goto out;
		st = cli_state(j);
		cli_progress(cJSON_GetObjectItemCaseSensitive(j, "progress"),
		    prog_s, sizeof(prog_s), &f);
		if (strcmp(st, "completed") == 0)
			f = 1;
		for (i = 0; i < CLI_BAR_WIDTH; i++)
			bar[i] = f >= 0 && i < (int)(f * CLI_BAR_WIDTH + 0.5) ?
			    '#' : '.';
		bar[CLI_BAR_WIDTH] = '\0';
		if (f >= 0)
			snprintf(line, sizeof(line), "[%s] %3d%%  %-10s %s",
			    bar, (int)(f * 100 + 0.5), st, prog_s);
		else
			snprintf(line, sizeof(line), "[%s]   ?%%  %-10s %s",
			    bar, st, prog_s);
		if (tty) {
			printf("\r%-*s", (int)strlen(last) > (int)strlen(line) ?
			    (int)strlen(last) : (int)strlen(line), line);
			fflush(stdout);
			drawn = 1;
		} else if (strcmp(line, last) != 0) {
			printf("%s\n", line);
			fflush(stdout);
		}
		str_lcpy(last, line, sizeof(last));
		if (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 ||
		    strcmp(st, "cancelled") == 0)
			break;
		nanosleep(&nap, NULL);
	}
	if (drawn)
		putchar('\n');
	if (strcmp(st, "completed") == 0) {
		printf("job %s completed\n", pos[0]);
		rc = 0;
	} else
		fprintf(stderr, "%s: job %s %s%s%s\n", prog, pos[0], st,
		    admin_client_str(j, "error") ? ": " : "",
		    admin_client_str(j, "error") ? admin_client_str(j,
		    "error") : "");
 out:
	cJSON_Delete(j);
	buf_free(&path);
	buf_free(&body);
	admin_client_close(&ac);
	return rc;
}

int
jobs_cli_main(struct cfg *cfg, int argc, char **argv)
{
	const struct cli_cmd_table	 t = { "jobs", cli_cmds, CLI_NCMDS,
					    sizeof(cli_cmds[0]), NULL,
					    cli_usage, cli_opts, CLI_NOPTS };
	const struct cli_cmd		*c;
	const char			*pos[CLI_MAX_POS];
	char				 prog[CLI_PROG_MAX];
	int				 npos, rc;

	if ((c = cli_cmd_parse(&t, argc, argv, pos, &npos, prog,
	    sizeof(prog), &rc)) == NULL)
		return rc;
	return c->c_run(cfg, prog, pos, npos);
}

/* jobs redeliver ID [N]: POST .../deliveries/N/retry (N default 1). */
static int
cli_redeliver(struct cfg *cfg, const char *prog, const char **pos, int npos)
{
	struct admin_client	 ac;
	struct buf		 body;
	char			 action[64];
	int64_t			 n = 1;
	int			 rc;

	if (npos > 1 && cli_num(prog, "N", pos[1], 1, 1000, &n) == -1)
		return 2;
	if ((rc = admin_client_open(&ac, cfg, cli_opt("api"), prog)) != 0)
		return rc;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	snprintf(action, sizeof(action), "deliveries/%lld/retry",
	    (long long)n);
	if ((rc = cli_job_post(&ac, prog, pos[0], action, &body)) != 0)
		goto out;
	if (cli_opt("json") != NULL)
		printf("%s\n", body.b_data);
	else
		printf("job %s: delivery %lld re-queued\n", pos[0],
		    (long long)n);
	rc = 0;
 out:
	buf_free(&body);
	admin_client_close(&ac);
	return rc;
}
