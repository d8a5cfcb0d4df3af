/*
 * jobs_cli.c — 'bulkhead jobs': submit, show, list and wait for jobs.
 *
 * Goes straight to the database for now (a later issue moves it onto the
 * admin HTTP API).  Input is checked before connecting: a bad command,
 * option, kind or parameter ends with one line on stderr and exit 2; a
 * database problem or an unknown job id with exit 1.  'wait' exits 0 when
 * the job completed, 1 when it failed or was cancelled, 2 on timeout.
 */
#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "jobs/job_kinds.h"
#include "jobs/jobq.h"
#include "jobs/jobs_cli.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/db.h"
#include "store/migrate.h"

#define CLI_MAX_POS	4		/* positional arguments */
#define CLI_OUT_MAX	(256u << 20)	/* largest JSON we print */
#define CLI_WAIT_MS_MAX	1000		/* wait polls at most this often */

/* Options; each subcommand accepts a subset (bit mask). */
enum {
	OPT_PRIORITY = 1 << 0,
	OPT_MAX_ATTEMPTS = 1 << 1,
	OPT_CLIENT = 1 << 2,
	OPT_STATE = 1 << 3,
	OPT_KIND = 1 << 4,
	OPT_LIMIT = 1 << 5,
	OPT_TIMEOUT = 1 << 6,
	OPT_JSON = 1 << 7,
};

struct cli_opts {
	const char	*o_pos[CLI_MAX_POS];
	int		 o_npos;
	const char	*o_val[8];	/* by option bit index */
	int		 o_json;
};

static const char *cli_opt_names[8] = {
	"priority", "max-attempts", "client", "state", "kind", "limit",
	"timeout", "json",
};

static void	cli_usage(FILE *);
static int	cli_parse(int, char **, int, int, struct cli_opts *);
static int	cli_num(const char *, const char *, int64_t, int64_t,
		    int64_t *);
static PGconn	*cli_connect(struct cfg *);
static int	cli_submit(struct cfg *, struct cli_opts *);
static int	cli_show(struct cfg *, struct cli_opts *);
static int	cli_list(struct cfg *, struct cli_opts *);
static int	cli_wait(struct cfg *, struct cli_opts *);
static int	cli_kinds(void);
static void	cli_progress(const char *, char *, size_t);
static void	cli_field(const char *, const char *);

static void
cli_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead jobs submit KIND [JSON-PARAMS] "
	    "[--priority N] [--max-attempts N] [--client ID]\n"
	    "       bulkhead jobs show ID [--json]\n"
	    "       bulkhead jobs list [--state S] [--kind K] [--limit N] "
	    "[--json]\n"
	    "       bulkhead jobs wait ID [--timeout SECONDS]\n"
	    "       bulkhead jobs kinds\n");
}

/*
 * Splits argv (after the subcommand) into positionals and the options in
 * mask; "--opt value" and "--opt=value" both work.  Prints the reason
 * and returns -1 on anything else.
 */
static int
cli_parse(int argc, char **argv, int mask, int maxpos, struct cli_opts *o)
{
	const char	*name, *eq;
	size_t		 nlen;
	int		 i, b, found;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			if (o->o_npos >= maxpos) {
				fprintf(stderr, "bulkhead jobs: unexpected "
				    "argument \"%s\"\n", argv[i]);
				return -1;
			}
			o->o_pos[o->o_npos++] = argv[i];
			continue;
		}
		name = argv[i] + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		found = 0;
		for (b = 0; b < 8; b++) {
			if (!(mask & (1 << b)) ||
			    strlen(cli_opt_names[b]) != nlen ||
			    strncmp(cli_opt_names[b], name, nlen) != 0)
				continue;
			found = 1;
			if ((1 << b) == OPT_JSON) {
				if (eq != NULL)
					break;
				o->o_json = 1;
			} else if (eq != NULL)
				o->o_val[b] = eq + 1;
			else if (i + 1 < argc)
				o->o_val[b] = argv[++i];
			else {
				fprintf(stderr, "bulkhead jobs: --%s needs a "
				    "value\n", cli_opt_names[b]);
				return -1;
			}
			break;
		}
		if (!found || (eq != NULL && (1 << b) == OPT_JSON)) {
			fprintf(stderr, "bulkhead jobs: unknown option "
			    "\"%s\"\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

static int
cli_num(const char *what, const char *s, int64_t min, int64_t max,
    int64_t *out)
{
	const char	*errstr;

	if (str_to_i64(s, min, max, out, &errstr) == -1) {
		fprintf(stderr, "bulkhead jobs: %s \"%s\" is %s (expected "
		    "%lld to %lld)\n", what, s, errstr, (long long)min,
		    (long long)max);
		return -1;
	}
	return 0;
}

/* Connects and applies migrations; NULL after printing the reason. */
static PGconn *
cli_connect(struct cfg *cfg)
{
	PGconn	*conn;
	char	 err[1024];

	if ((conn = db_connect(cfg->database_url, "jobs", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "bulkhead jobs: database unreachable: %s\n",
		    err);
		return NULL;
	}
	if (migrate_apply(conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead jobs: migration failed: %s\n", err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static int
cli_submit(struct cfg *cfg, struct cli_opts *o)
{
	struct jobq_spec	 spec;
	PGconn			*conn;
	char			 err[1024], id[JOBQ_ID_MAX];
	int64_t			 v;
	int			 rc;

	if (o->o_npos < 1) {
		fprintf(stderr, "bulkhead jobs submit: missing KIND\n");
		return 2;
	}
	memset(&spec, 0, sizeof(spec));
	spec.s_kind = o->o_pos[0];
	spec.s_params = o->o_npos > 1 ? o->o_pos[1] : "{}";
	spec.s_client = o->o_val[2];
	spec.s_max_attempts = cfg->job_max_attempts;
	if (job_kind_check(spec.s_kind, spec.s_params, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "bulkhead jobs submit: %s\n", err);
		return 2;
	}
	if (o->o_val[0] != NULL) {
		if (cli_num("--priority", o->o_val[0], -32768, 32767, &v) == -1)
			return 2;
		spec.s_priority = (int)v;
	}
	if (o->o_val[1] != NULL) {
		if (cli_num("--max-attempts", o->o_val[1], 1, 100, &v) == -1)
			return 2;
		spec.s_max_attempts = (int)v;
	}
	if ((conn = cli_connect(cfg)) == NULL)
		return 1;
	rc = jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err));
	PQfinish(conn);
	if (rc == -1) {
		fprintf(stderr, "bulkhead jobs submit: %s\n", err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

/* "done/total" from a progress object, or "-". */
static void
cli_progress(const char *json, char *out, size_t len)
{
	cJSON		*p;
	const cJSON	*d, *t;

	str_lcpy(out, "-", len);
	if (json == NULL || (p = cJSON_Parse(json)) == NULL)
		return;
	d = cJSON_GetObjectItemCaseSensitive(p, "done");
	t = cJSON_GetObjectItemCaseSensitive(p, "total");
	if (cJSON_IsNumber(d) && cJSON_IsNumber(t))
		snprintf(out, len, "%.0f/%.0f", d->valuedouble,
		    t->valuedouble);
	else if (cJSON_IsNumber(d))
		snprintf(out, len, "%.0f", d->valuedouble);
	cJSON_Delete(p);
}

static void
cli_field(const char *name, const char *value)
{
	printf("%-17s %s\n", name, value != NULL ? value : "-");
}

static int
cli_show(struct cfg *cfg, struct cli_opts *o)
{
	struct jobq_job	*j = NULL;
	struct buf	 b;
	PGconn		*conn;
	char		 err[1024], num[64];
	int		 r, rc = 1;

	if (o->o_npos != 1) {
		fprintf(stderr, "bulkhead jobs show: expected one job ID\n");
		return 2;
	}
	buf_init(&b, CLI_OUT_MAX);
	if ((conn = cli_connect(cfg)) == NULL)
		return 1;
	if ((r = jobq_get(conn, o->o_pos[0], &j, err, sizeof(err))) == -1) {
		fprintf(stderr, "bulkhead jobs show: %s\n", err);
		goto out;
	}
	if (r == 0) {
		fprintf(stderr, "bulkhead jobs show: no such job \"%s\"\n",
		    o->o_pos[0]);
		goto out;
	}
	if (o->o_json) {
		/* The job object, with its outputs added as one more key. */
		if (jobq_job_json(j, &b) == -1) {
			fprintf(stderr, "bulkhead jobs show: too large\n");
			goto out;
		}
		b.b_data[--b.b_len] = '\0';		/* drop the '}' */
		if (buf_puts(&b, ",\"outputs\":") == -1 ||
		    jobq_outputs_json(conn, j->j_id, &b, err, sizeof(err)) ==
		    -1 || buf_putc(&b, '}') == -1) {
			fprintf(stderr, "bulkhead jobs show: outputs: %s\n",
			    err);
			goto out;
		}
		printf("%s\n", b.b_data);
		rc = 0;
		goto out;
	}
	cli_field("id", j->j_id);
	cli_field("kind", j->j_kind);
	cli_field("state", jobq_state_name(j->j_state));
	snprintf(num, sizeof(num), "%d", j->j_priority);
	cli_field("priority", num);
	snprintf(num, sizeof(num), "%d of %d", j->j_attempts,
	    j->j_max_attempts);
	cli_field("attempts", num);
	cli_field("client", j->j_client);
	cli_field("params", j->j_params);
	cli_field("progress", j->j_progress);
	cli_field("checkpoint", j->j_checkpoint);
	cli_field("created", j->j_created);
	cli_field("started", j->j_started);
	cli_field("finished", j->j_finished);
	cli_field("run after", j->j_run_after);
	cli_field("lease owner", j->j_lease_owner);
	cli_field("lease expires", j->j_lease_expires);
	cli_field("heartbeat", j->j_heartbeat_at);
	cli_field("transaction time", j->j_transaction_time);
	cli_field("error", j->j_error);
	cli_field("result", j->j_result);
	if (jobq_outputs_json(conn, j->j_id, &b, err, sizeof(err)) == 0)
		cli_field("outputs", b.b_data);
	rc = 0;
 out:
	jobq_job_free(j);
	buf_free(&b);
	PQfinish(conn);
	return rc;
}

static int
cli_list(struct cfg *cfg, struct cli_opts *o)
{
	struct jobq_filter	  f;
	struct jobq_job		**jobs = NULL;
	struct buf		  b;
	enum jobq_state		  st;
	PGconn			 *conn;
	char			  err[1024], prog[48];
	size_t			  i, n = 0;
	int64_t			  v;
	int			  rc = 1;

	if (o->o_npos != 0) {
		fprintf(stderr, "bulkhead jobs list: unexpected argument "
		    "\"%s\"\n", o->o_pos[0]);
		return 2;
	}
	memset(&f, 0, sizeof(f));
	f.f_state = -1;
	f.f_kind = o->o_val[4];
	f.f_limit = 50;
	if (o->o_val[3] != NULL) {
		if (jobq_state_parse(o->o_val[3], &st) == -1) {
			fprintf(stderr, "bulkhead jobs list: unknown state "
			    "\"%s\"\n", o->o_val[3]);
			return 2;
		}
		f.f_state = (int)st;
	}
	if (o->o_val[5] != NULL) {
		if (cli_num("--limit", o->o_val[5], 1, JOBQ_LIST_MAX, &v) == -1)
			return 2;
		f.f_limit = (int)v;
	}
	buf_init(&b, CLI_OUT_MAX);
	if ((conn = cli_connect(cfg)) == NULL)
		return 1;
	if (jobq_list(conn, &f, &jobs, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead jobs list: %s\n", err);
		goto out;
	}
	if (o->o_json) {
		if (buf_putc(&b, '[') == -1)
			goto toobig;
		for (i = 0; i < n; i++)
			if ((i > 0 && buf_putc(&b, ',') == -1) ||
			    jobq_job_json(jobs[i], &b) == -1)
				goto toobig;
		if (buf_putc(&b, ']') == -1)
			goto toobig;
		printf("%s\n", b.b_data);
		rc = 0;
		goto out;
	}
	printf("%-32s  %-10s  %-10s  %5s  %7s  %-12s  %s\n", "ID", "KIND",
	    "STATE", "PRIO", "TRIES", "PROGRESS", "CREATED");
	for (i = 0; i < n; i++) {
		char tries[24];

		cli_progress(jobs[i]->j_progress, prog, sizeof(prog));
		snprintf(tries, sizeof(tries), "%d/%d", jobs[i]->j_attempts,
		    jobs[i]->j_max_attempts);
		printf("%-32s  %-10s  %-10s  %5d  %7s  %-12s  %s\n",
		    jobs[i]->j_id, jobs[i]->j_kind,
		    jobq_state_name(jobs[i]->j_state), jobs[i]->j_priority,
		    tries, prog, jobs[i]->j_created);
	}
	rc = 0;
	goto out;
 toobig:
	fprintf(stderr, "bulkhead jobs list: output too large; use --limit\n");
 out:
	jobq_jobs_free(jobs, n);
	buf_free(&b);
	PQfinish(conn);
	return rc;
}

static int
cli_wait(struct cfg *cfg, struct cli_opts *o)
{
	struct jobq_job	*j = NULL;
	struct timespec	 ts, now, nap;
	PGconn		*conn;
	char		 err[1024];
	int64_t		 timeout = 0;
	long		 ms = 100;
	int		 r, rc = 1;

	if (o->o_npos != 1) {
		fprintf(stderr, "bulkhead jobs wait: expected one job ID\n");
		return 2;
	}
	if (o->o_val[6] != NULL &&
	    cli_num("--timeout", o->o_val[6], 0, 86400 * 365, &timeout) == -1)
		return 2;
	if ((conn = cli_connect(cfg)) == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (;;) {
		jobq_job_free(j);
		j = NULL;
		if ((r = jobq_get(conn, o->o_pos[0], &j, err,
		    sizeof(err))) == -1) {
			/* Only a broken connection is worth another try. */
			if (PQstatus(conn) == CONNECTION_OK ||
			    !db_ensure(conn)) {
				fprintf(stderr, "bulkhead jobs wait: %s\n",
				    err);
				goto out;
			}
			continue;
		}
		if (r == 0) {
			fprintf(stderr, "bulkhead jobs wait: no such job "
			    "\"%s\"\n", o->o_pos[0]);
			goto out;
		}
		if (jobq_state_is_final(j->j_state))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout > 0 && now.tv_sec - ts.tv_sec >= timeout) {
			fprintf(stderr, "bulkhead jobs wait: timed out after "
			    "%lld s; job %s is %s\n", (long long)timeout,
			    j->j_id, jobq_state_name(j->j_state));
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
		fprintf(stderr, "bulkhead jobs wait: job %s %s%s%s\n",
		    j->j_id, jobq_state_name(j->j_state),
		    j->j_error ? ": " : "", j->j_error ? j->j_error : "");
 out:
	jobq_job_free(j);
	PQfinish(conn);
	return rc;
}

static int
cli_kinds(void)
{
	const struct job_kind	*k;
	size_t			 i, n;

	k = job_kind_all(&n);
	for (i = 0; i < n; i++)
		printf("%-12s %s\n", k[i].k_name, k[i].k_help);
	return 0;
}

int
jobs_cli_main(struct cfg *cfg, int argc, char **argv)
{
	struct cli_opts	 o;
	const char	*sub;

	if (argc < 2) {
		cli_usage(stderr);
		return 2;
	}
	sub = argv[1];
	argc -= 2;
	argv += 2;
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "-h") == 0) {
		cli_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "submit") == 0) {
		if (cli_parse(argc, argv, OPT_PRIORITY | OPT_MAX_ATTEMPTS |
		    OPT_CLIENT, 2, &o) == -1)
			return 2;
		return cli_submit(cfg, &o);
	}
	if (strcmp(sub, "show") == 0) {
		if (cli_parse(argc, argv, OPT_JSON, 1, &o) == -1)
			return 2;
		return cli_show(cfg, &o);
	}
	if (strcmp(sub, "list") == 0) {
		if (cli_parse(argc, argv, OPT_STATE | OPT_KIND | OPT_LIMIT |
		    OPT_JSON, 0, &o) == -1)
			return 2;
		return cli_list(cfg, &o);
	}
	if (strcmp(sub, "wait") == 0) {
		if (cli_parse(argc, argv, OPT_TIMEOUT, 1, &o) == -1)
			return 2;
		return cli_wait(cfg, &o);
	}
	if (strcmp(sub, "kinds") == 0) {
		if (cli_parse(argc, argv, 0, 0, &o) == -1)
			return 2;
		return cli_kinds();
	}
	fprintf(stderr, "bulkhead jobs: unknown subcommand \"%s\"\n", sub);
	cli_usage(stderr);
	return 2;
}
