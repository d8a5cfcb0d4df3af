/*
 * job_import.c — the "import" job kind (see job_import.h).
 *
 * DESIGN
 * One thread per input being read (at most "concurrency" at once).  A
 * thread streams its input through fetch (http(s) or file://, decoded),
 * the bounded line reader and one validating scan per line
 * (validate_line); a bad line becomes one OperationOutcome in the
 * input's error file, a valid one streams at once into an open COPY, so
 * PostgreSQL stores a batch while the thread parses it.  A batch is one
 * transaction (the checkpoint names its last line).
 *
 * On the fast path the rows go, by id, to two COPY connections
 * (IMPORT_STREAMS; one for a batch begun while the interactive-latency
 * controller caps the job), each sending from a thread of its own, in chunks:
 * IMPORT_CHUNK once its stream is free, up to IMPORT_CHUNK_MAX while it
 * is busy.  The reader waits only on a stream a whole 1 MB behind: a
 * wait at every 256 KB starved the other stream's backend meanwhile,
 * and a 1M-claim import went from 1.42x to 1.25x a raw COPY's time.
 *
 * Fast path: the COPY goes straight into the store while no id of the
 * input exists yet and none repeats (an initial load).  Each such line is
 * also spooled (unlinked temp file) so that the batch can be replayed,
 * and its id, line and offset are appended to a second file.  The first
 * unique violation (an id that exists, or repeats) rolls the batch back
 * and switches the input, for good, to staging: the batch and every later
 * one go into an unlogged table of the input (imp_stage_<job>_<n>).  At
 * the end of the input one transaction merges the stage: the last of
 * duplicate ids wins, over the whole input, with one warning per line it
 * supersedes (found in SQL, so memory stays flat); rows the fast path
 * created in this input keep version 1; the upsert changes a row only if
 * its content changed.  The warnings come from the stage and the id file,
 * which a resumed attempt rebuilds by reading the committed lines again,
 * so it reports what an undisturbed run reports.  Memory per thread: the
 * line cap and fixed buffers; never the input.
 *
 * The threads never touch the job row: they publish counts under a mutex
 * and the main thread heartbeats, saves progress and the checkpoint, and
 * records each finished input (its error files and its output count).
 *
 * This file holds the job, the reading threads and the main thread; the
 * COPY streams are in job_import_stream.c, batches and staging in
 * job_import_batch.c (job_import_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulk/fetch.h"
#include "store/fhir_types.h"
#include "bulk/outfile.h"
#include "core/cfg.h"
#include "jobs/job_import.h"
#include "jobs/job_import_int.h"
#include "jobs/job_openimis.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "jobs/throttle.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/lines.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/load.h"
#include "store/ndjson.h"
#include "store/validate.h"

int
job_import_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*inputs = cJSON_GetObjectItemCaseSensitive(params,
			    "inputs"), *in, *mode;
	const char	*type, *url;
	int		 n = 0;

	if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0) {
		snprintf(errbuf, errlen, "import: \"inputs\" must be a "
		    "non-empty array of {type, url, etag?}");
		return -1;
	}
	cJSON_ArrayForEach(in, inputs) {
		type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "type"));
		url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "url"));
		if (type == NULL || !fhir_type_valid(type) || url == NULL ||
		    (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0 &&
		    strncmp(url, "file://", 7) != 0)) {
			snprintf(errbuf, errlen,
			    "import: input %d needs a FHIR "
			    "resource type and an http(s) or file URL", n + 1);
			return -1;
		}
		if (++n > IMPORT_MAX_INPUTS) {
			snprintf(errbuf, errlen, "import: more than %d inputs",
			    IMPORT_MAX_INPUTS);
			return -1;
		}
	}
	mode = cJSON_GetObjectItemCaseSensitive(params, "mode");
	if (mode != NULL && (!cJSON_IsString(mode) ||
	    (strcmp(mode->valuestring, "InitialLoad") != 0 &&
	    strcmp(mode->valuestring, "IncrementalLoad") != 0))) {
		snprintf(errbuf, errlen, "import: \"mode\" must be InitialLoad "
		    "or IncrementalLoad");
		return -1;
	}
	return 0;
}

/* ---- per-thread work ---------------------------------------------------- */

static int
imp_stopping(const struct imp_run *r)
{
	return atomic_load(&r->imp->stop);
}

/* outfile callback (this thread): remember the completed error file. */
static int
imp_file_done(void *arg, const struct outfile_info *info, char *errbuf,
    size_t errlen)
{
	struct imp_run	*r = arg;
	struct imp_file	*f;

	if (r->in->in_nfiles >= IMPORT_MAX_FILES) {
		snprintf(errbuf, errlen, "more than %d error files",
		    IMPORT_MAX_FILES);
		return -1;
	}
	f = &r->in->in_files[r->in->in_nfiles++];
	f->f_file = xasprintf("%s/%s", r->imp->reldir, info->oi_name);
	f->f_count = info->oi_count;
	f->f_bytes = info->oi_bytes;
	str_lcpy(f->f_sha256, info->oi_sha256, sizeof(f->f_sha256));
	return 0;
}

/* One OperationOutcome line in the input's error file (IMP-S-03). */
int
job_import_outcome(struct imp_run *r, const char *severity, const char *code,
    int64_t line, int64_t offset, const char *reason)
{
	struct buf	b;
	char		where[96];
	int		rc;

	if (r->errors == NULL) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "errors-%d",
		    r->in->in_idx + 1);
		r->errors = outfile_set_open(r->imp->dir, prefix, 1,
		    r->imp->cfg->export_file_resources,
		    r->imp->cfg->export_file_bytes, r->imp->cfg->zstd_level,
		    imp_file_done, r, r->err, sizeof(r->err));
		if (r->errors == NULL)
			return -1;
	}
	buf_init(&b, 8192);
	(void)buf_printf(&b, "{\"resourceType\":\"OperationOutcome\",\"issue\":"
	    "[{\"severity\":\"%s\",\"code\":\"%s\",\"diagnostics\":\"",
	    severity, code);
	(void)buf_json_escape(&b, r->in->in_url, strlen(r->in->in_url));
	if (line > 0) {
		snprintf(where, sizeof(where), " line %lld (byte offset %lld)",
		    (long long)line, (long long)offset);
		(void)buf_puts(&b, where);
	}
	(void)buf_puts(&b, ": ");
	(void)buf_json_escape(&b, reason, strlen(reason));
	(void)buf_puts(&b, "\"");
	if (line > 0)
		(void)buf_printf(&b, ",\"location\":[\"line %lld\"]",
		    (long long)line);
	(void)buf_puts(&b, "}]}");
	rc = outfile_set_write(r->errors, b.b_data, b.b_len, r->err,
	    sizeof(r->err));
	buf_free(&b);
	return rc;
}


/* A line of nothing but blanks (a lone "\r" is already stripped). */
static int
imp_blank(const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	return 1;
}

/* Reads one input to its end.  Sets in_ok and in_error. */
static void *
imp_thread(void *arg)
{
	struct imp_input	*in = arg;
	struct imp		*imp = in->in_imp;
	struct imp_run		 r;
	struct fetch_opts	 fo;
	struct fetch		*f = NULL;
	struct lines		 lr;
	struct ndjson_resource	 res;
	enum lines_status	 st;
	const char		*line;
	char			 reason[512];
	size_t			 len, off;
	int64_t			 skip = in->in_skip;
	int			 lines_open = 0, ok = 0;

	memset(&r, 0, sizeof(r));
	r.imp = imp;
	r.in = in;
	r.stage_from = in->in_stage_from;
	snprintf(r.stage, sizeof(r.stage), "imp_stage_%s_%d",
	    job_ctx_id(imp->ctx), in->in_idx + 1);
	if ((r.conn = db_connect(imp->cfg->database_url, "worker import",
	    r.err, sizeof(r.err))) == NULL)
		goto out;
	(void)throttle_conn(job_ctx_throttle(imp->ctx), r.conn);
	(void)db_exec(r.conn, "SET synchronous_commit = off", 0, NULL, r.err,
	    sizeof(r.err));
	if ((r.spool = job_import_batch_tmpfile(&r)) == NULL ||
	    (r.fast = job_import_batch_tmpfile(&r)) == NULL) {
		snprintf(r.err, sizeof(r.err), "spool in %.900s: %s", imp->dir,
		    strerror(errno));
		goto out;
	}
	if ((skip = job_import_batch_stage_check(&r, skip)) == -1 ||
	    (r.stage_from == 0 && job_import_stream_start(&r) == -1))
		goto out;
	memset(&fo, 0, sizeof(fo));
	fo.fo_allow = imp->cfg->import_allow;
	fo.fo_import_dir = imp->cfg->import_dir;
	fo.fo_connect_timeout = imp->cfg->import_connect_timeout;
	fo.fo_stall_timeout = imp->cfg->import_stall_timeout;
	fo.fo_max_redirects = 5;
	if ((f = fetch_open(&fo, in->in_url, in->in_etag, reason,
	    sizeof(reason))) == NULL) {
		/* Unreadable input: one fatal outcome, nothing loaded. */
		if (job_import_outcome(&r, "fatal", "not-found", 0, 0,
		    reason) == -1)
			goto out;
		ok = 1;
		goto out;
	}
	lines_init(&lr, fetch_read, f, (size_t)imp->cfg->import_max_line);
	lines_open = 1;
	for (;;) {
		if (imp_stopping(&r)) {
			snprintf(r.err, sizeof(r.err), "stopped");
			goto out;
		}
		st = lines_next(&lr, &line, &len);
		if (st == LINES_EOF)
			break;
		if (st == LINES_ERROR) {
			/* Keep what was valid, then say why reading ended. */
			if (job_import_batch_commit(&r) == -1 ||
			    job_import_outcome(&r, "fatal", "exception", 0, 0,
			    fetch_error(f)) == -1)
				goto out;
			break;
		}
		pthread_mutex_lock(&imp->lock);
		in->in_lines++;
		pthread_mutex_unlock(&imp->lock);
		if (st == LINES_TOOLONG) {
			snprintf(reason, sizeof(reason), "line longer than "
			    "%lld bytes", (long long)imp->cfg->import_max_line);
			if (job_import_outcome(&r, "error", "too-long",
			    lr.l_lineno,
			    lr.l_offset, reason) == -1)
				goto out;
			pthread_mutex_lock(&imp->lock);
			in->in_failed++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (imp_blank(line, len)) {
			pthread_mutex_lock(&imp->lock);
			in->in_blank++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (validate_line(in->in_type, line, len, &res, reason,
		    sizeof(reason), &off) == -1) {
			if (job_import_outcome(&r, "error", "structure",
			    lr.l_lineno,
			    lr.l_offset + (int64_t)off, reason) == -1)
				goto out;
			pthread_mutex_lock(&imp->lock);
			in->in_failed++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (lr.l_lineno <= skip) {
			/* Committed by an earlier attempt; the id file must
			 * still list what the fast path loaded. */
			if ((r.stage_from == 0 || lr.l_lineno < r.stage_from) &&
			    job_import_batch_fast_id(&r, &res, lr.l_lineno,
			    lr.l_offset) == -1)
				goto out;
			pthread_mutex_lock(&imp->lock);
			in->in_loaded++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (job_import_batch_queue(&r, &res, line, len, lr.l_lineno,
		    lr.l_offset) == -1)
			goto out;
	}
	if (job_import_batch_commit(&r) == -1 ||
	    job_import_batch_finalize(&r) == -1)
		goto out;
	ok = 1;
 out:
	job_import_stream_stop(&r);
	if (r.sess != NULL) {
		load_session_free(r.sess);
		(void)db_exec(r.conn, "ROLLBACK", 0, NULL, reason,
		    sizeof(reason));
	}
	if (ok && r.errors != NULL && outfile_set_close_current(r.errors,
	    r.err, sizeof(r.err)) == -1)
		ok = 0;
	if (r.errors != NULL) {
		if (ok)
			outfile_set_free(r.errors);
		else
			outfile_set_abort(r.errors);
	}
	if (lines_open)
		lines_free(&lr);
	fetch_close(f);
	if (r.spool != NULL)
		fclose(r.spool);
	if (r.fast != NULL)
		fclose(r.fast);
	PQfinish(r.conn);
	pthread_mutex_lock(&imp->lock);
	in->in_ok = ok;
	if (!ok)
		str_lcpy(in->in_error, r.err, sizeof(in->in_error));
	in->in_state = IMP_FINISHED;
	pthread_mutex_unlock(&imp->lock);
	return NULL;
}

/* ---- the main thread ------------------------------------------------------ */

static char *
imp_checkpoint(struct imp *x)
{
	cJSON	*c = cJSON_CreateObject(), *arr;
	char	*s;
	int	 i;

	arr = cJSON_AddArrayToObject(c, "inputs");
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < x->ninputs; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddBoolToObject(e, "done",
		    x->inputs[i].in_state == IMP_RECORDED);
		cJSON_AddNumberToObject(e, "committed",
		    (double)x->inputs[i].in_committed);
		cJSON_AddNumberToObject(e, "stage_from",
		    (double)x->inputs[i].in_stage_from);
		if (x->inputs[i].in_state == IMP_RECORDED) {
			cJSON_AddNumberToObject(e, "lines",
			    (double)x->inputs[i].in_lines);
			cJSON_AddNumberToObject(e, "loaded",
			    (double)x->inputs[i].in_loaded);
			cJSON_AddNumberToObject(e, "failed",
			    (double)x->inputs[i].in_failed);
			cJSON_AddNumberToObject(e, "blank",
			    (double)x->inputs[i].in_blank);
		}
		cJSON_AddItemToArray(arr, e);
	}
	pthread_mutex_unlock(&x->lock);
	s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

static char *
imp_progress(struct imp *x)
{
	cJSON	*p = cJSON_CreateObject();
	int64_t	 lines = 0, loaded = 0, failed = 0, blank = 0;
	int	 i, done = 0;
	char	*s;

	pthread_mutex_lock(&x->lock);
	for (i = 0; i < x->ninputs; i++) {
		lines += x->inputs[i].in_lines;
		loaded += x->inputs[i].in_loaded;
		failed += x->inputs[i].in_failed;
		blank += x->inputs[i].in_blank;
		done += x->inputs[i].in_state >= IMP_FINISHED;
	}
	pthread_mutex_unlock(&x->lock);
	cJSON_AddNumberToObject(p, "inputs", x->ninputs);
	cJSON_AddNumberToObject(p, "inputs_done", done);
	cJSON_AddNumberToObject(p, "lines", (double)lines);
	cJSON_AddNumberToObject(p, "loaded", (double)loaded);
	cJSON_AddNumberToObject(p, "failed", (double)failed);
	cJSON_AddNumberToObject(p, "blank", (double)blank);
	s = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return s;
}

/* Drops an input's stage table, if it has one (once it is recorded, or
 * the job ends for good).  Best effort: a failure is only logged. */
static void
imp_drop_stage(struct imp *x, const struct imp_input *in)
{
	PGconn	*conn;
	char	 sql[160], err[256];

	if ((conn = job_ctx_conn(x->ctx, err, sizeof(err))) == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS imp_stage_%s_%d",
	    job_ctx_id(x->ctx), in->in_idx + 1);
	if (db_exec(conn, "SET client_min_messages = warning", 0, NULL, err,
	    sizeof(err)) == -1 || db_exec(conn, sql, 0, NULL, err,
	    sizeof(err)) == -1)
		log_warnx("import: %s", err);
}

/* Records a finished input: its error files, then its output row with
 * the checkpoint that marks it done.  -1: stop. */
static int
imp_record(struct imp *x, struct imp_input *in)
{
	struct jobq_output	 o;
	char			*cp;
	int			 i, rc;

	for (i = 0; i < in->in_nfiles; i++) {
		memset(&o, 0, sizeof(o));
		o.o_channel = "error";
		o.o_type = "OperationOutcome";
		o.o_file = in->in_files[i].f_file;
		o.o_url = in->in_url;
		o.o_count = in->in_files[i].f_count;
		o.o_bytes = in->in_files[i].f_bytes;
		o.o_checksum = in->in_files[i].f_sha256;
		if (job_ctx_output(x->ctx, &o, NULL) == -1)
			return -1;
	}
	in->in_state = IMP_RECORDED;
	cp = imp_checkpoint(x);
	memset(&o, 0, sizeof(o));
	o.o_channel = "output";
	o.o_type = in->in_type;
	o.o_url = in->in_url;
	o.o_count = in->in_loaded;
	/* bytes: lines read; the manifest shows the split (IMP-S-02). */
	o.o_bytes = in->in_lines;
	rc = job_ctx_output(x->ctx, &o, cp);
	free(cp);
	if (rc == 0 && in->in_stage_from > 0)
		imp_drop_stage(x, in);
	return rc;
}

/* Forgets what an interrupted attempt recorded for an input it redoes. */
static int
imp_forget(struct imp *x, PGconn *conn, const struct imp_input *in)
{
	return jobq_output_forget(conn, job_ctx_id(x->ctx), in->in_url,
	    x->err, sizeof(x->err));
}

static void
imp_resume(struct imp *x)
{
	const cJSON	*cp = job_ctx_checkpoint(x->ctx), *e;
	int		 i = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cp, "inputs")) {
		if (i >= x->ninputs)
			break;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done"))) {
			struct imp_input *in = &x->inputs[i];

			in->in_state = IMP_RECORDED;
			in->in_lines = (int64_t)cJSON_GetNumberValue(
			    cJSON_GetObjectItemCaseSensitive(e, "lines"));
			in->in_loaded = (int64_t)cJSON_GetNumberValue(
			    cJSON_GetObjectItemCaseSensitive(e, "loaded"));
			in->in_failed = (int64_t)cJSON_GetNumberValue(
			    cJSON_GetObjectItemCaseSensitive(e, "failed"));
			in->in_blank = (int64_t)cJSON_GetNumberValue(
			    cJSON_GetObjectItemCaseSensitive(e, "blank"));
		}
		x->inputs[i].in_skip = (int64_t)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(e, "committed"));
		if (x->inputs[i].in_skip < 0)
			x->inputs[i].in_skip = 0;
		x->inputs[i].in_committed = x->inputs[i].in_skip;
		x->inputs[i].in_stage_from = cJSON_IsNumber(
		    cJSON_GetObjectItemCaseSensitive(e, "stage_from")) ?
		    (int64_t)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(e, "stage_from")) : 0;
		if (x->inputs[i].in_stage_from < 0 ||
		    x->inputs[i].in_stage_from > x->inputs[i].in_skip)
			x->inputs[i].in_stage_from = 0;
		i++;
	}
}

static void
imp_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

enum job_status
job_import_run(struct job_ctx *ctx)
{
	struct imp	*x;
	const cJSON	*inputs, *in, *conc;
	enum job_status	 rc = JOB_RETRY;
	PGconn		*conn;
	char		*prog, *res;
	cJSON		*result, *arr;
	int		 i, running, pending, concurrency, since_save = 0;
	int		 failed_inputs = 0;
	int64_t		 totals[4] = { 0, 0, 0, 0 };

	x = xcalloc(1, sizeof(*x));
	x->ctx = ctx;
	x->cfg = job_ctx_cfg(ctx);
	x->params = job_ctx_params(ctx);
	pthread_mutex_init(&x->lock, NULL);
	atomic_init(&x->stop, 0);
	if (job_import_check(x->params, x->err, sizeof(x->err)) == -1 ||
	    validate_init(x->err, sizeof(x->err)) == -1) {
		job_ctx_error(ctx, "%s", x->err);
		rc = JOB_FAIL;
		goto out;
	}
	x->keep_updated = strcmp(cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(x->params, "mode")) ?
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x->params,
	    "mode")) : "IncrementalLoad", "IncrementalLoad") == 0;
	conc = cJSON_GetObjectItemCaseSensitive(x->params, "concurrency");
	concurrency = cJSON_IsNumber(conc) && conc->valueint >= 1 &&
	    conc->valueint <= 16 ? conc->valueint : x->cfg->import_concurrency;
	inputs = cJSON_GetObjectItemCaseSensitive(x->params, "inputs");
	x->ninputs = cJSON_GetArraySize(inputs);
	x->inputs = xcalloc((size_t)x->ninputs, sizeof(*x->inputs));
	i = 0;
	cJSON_ArrayForEach(in, inputs) {
		x->inputs[i].in_idx = i;
		x->inputs[i].in_imp = x;
		x->inputs[i].in_type = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "type"));
		x->inputs[i].in_url = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "url"));
		x->inputs[i].in_etag = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "etag"));
		i++;
	}
	(void)job_files_dir(job_ctx_id(ctx), x->reldir, sizeof(x->reldir));
	snprintf(x->dir, sizeof(x->dir), "%s/%s", x->cfg->data_dir, x->reldir);
	if (fs_mkdirs(x->dir) == -1) {
		job_ctx_error(ctx, "import: cannot create %s: %s", x->dir,
		    strerror(errno));
		goto out;
	}
	imp_resume(x);
	if ((conn = job_ctx_conn(ctx, x->err, sizeof(x->err))) == NULL) {
		job_ctx_error(ctx, "import: database: %s", x->err);
		goto out;
	}
	for (i = 0; i < x->ninputs; i++)
		if (x->inputs[i].in_state == IMP_PENDING &&
		    imp_forget(x, conn, &x->inputs[i]) == -1) {
			job_ctx_error(ctx, "import: %s", x->err);
			goto out;
		}

	for (;;) {
		int	pending_i;

		running = pending = 0;
		pthread_mutex_lock(&x->lock);
		for (i = 0; i < x->ninputs; i++) {
			running += x->inputs[i].in_state == IMP_RUNNING;
			pending += x->inputs[i].in_state == IMP_PENDING;
		}
		pthread_mutex_unlock(&x->lock);
		/* Start inputs up to the concurrency limit, in order. */
		for (i = 0; i < x->ninputs && running < concurrency &&
		    pending > 0; i++) {
			/* Locked: a running input's thread sets its state. */
			pthread_mutex_lock(&x->lock);
			pending_i = x->inputs[i].in_state == IMP_PENDING;
			pthread_mutex_unlock(&x->lock);
			if (!pending_i)
				continue;
			x->inputs[i].in_state = IMP_RUNNING;
			if (pthread_create(&x->inputs[i].in_thread, NULL,
			    imp_thread, &x->inputs[i]) != 0) {
				x->inputs[i].in_state = IMP_PENDING;
				job_ctx_error(ctx, "import: cannot start a "
				    "thread");
				goto stop;
			}
			running++;
			pending--;
		}
		/* Record inputs whose thread is done. */
		for (i = 0; i < x->ninputs; i++) {
			struct imp_input *p = &x->inputs[i];
			int finished;

			pthread_mutex_lock(&x->lock);
			finished = p->in_state == IMP_FINISHED;
			pthread_mutex_unlock(&x->lock);
			if (!finished)
				continue;
			pthread_join(p->in_thread, NULL);
			if (!p->in_ok) {
				job_ctx_error(ctx, "import: %s: %s", p->in_url,
				    p->in_error);
				p->in_state = IMP_RECORDED;	/* joined */
				goto stop;
			}
			if (imp_record(x, p) == -1) {
				rc = JOB_STOPPED;
				goto stop;
			}
		}
		if (running == 0 && pending == 0)
			break;
		imp_sleep_ms(IMPORT_TICK_MS);
		if (job_ctx_tick(ctx) == -1) {
			rc = JOB_STOPPED;
			goto stop;
		}
		if ((since_save += IMPORT_TICK_MS) >= IMPORT_SAVE_MS) {
			char *cp = imp_checkpoint(x);

			since_save = 0;
			prog = imp_progress(x);
			i = job_ctx_save(ctx, prog, cp);
			free(prog);
			free(cp);
			if (i == -1) {
				rc = JOB_STOPPED;
				goto stop;
			}
		}
	}
	result = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(result, "inputs");
	for (i = 0; i < x->ninputs; i++) {
		const struct imp_input	*p = &x->inputs[i];
		cJSON			*e = cJSON_CreateObject();

		totals[0] += p->in_lines;
		totals[1] += p->in_loaded;
		totals[2] += p->in_failed;
		totals[3] += p->in_blank;
		failed_inputs += p->in_failed > 0;
		cJSON_AddStringToObject(e, "type", p->in_type);
		cJSON_AddStringToObject(e, "url", p->in_url);
		cJSON_AddNumberToObject(e, "lines", (double)p->in_lines);
		cJSON_AddNumberToObject(e, "loaded", (double)p->in_loaded);
		cJSON_AddNumberToObject(e, "failed", (double)p->in_failed);
		cJSON_AddNumberToObject(e, "blank", (double)p->in_blank);
		cJSON_AddItemToArray(arr, e);
	}
	prog = imp_progress(x);
	(void)job_ctx_save(ctx, prog, NULL);
	free(prog);
	cJSON_AddNumberToObject(result, "lines", (double)totals[0]);
	cJSON_AddNumberToObject(result, "loaded", (double)totals[1]);
	cJSON_AddNumberToObject(result, "failed", (double)totals[2]);
	cJSON_AddNumberToObject(result, "blank", (double)totals[3]);
	cJSON_AddNumberToObject(result, "inputCount", x->ninputs);
	cJSON_AddNumberToObject(result, "inputsWithErrors", failed_inputs);
	if (job_openimis_forward(ctx, result) == -1) {
		cJSON_Delete(result);
		rc = JOB_RETRY;
		goto out;
	}
	res = cJSON_PrintUnformatted(result);
	cJSON_Delete(result);
	job_ctx_result(ctx, res);
	cJSON_free(res);
	rc = JOB_DONE;
	goto out;
 stop:
	/* Stop every thread at its next line and wait for all of them. */
	atomic_store(&x->stop, 1);
	for (i = 0; i < x->ninputs; i++) {
		int joinable;

		pthread_mutex_lock(&x->lock);
		joinable = x->inputs[i].in_state == IMP_RUNNING ||
		    x->inputs[i].in_state == IMP_FINISHED;
		pthread_mutex_unlock(&x->lock);
		if (joinable)
			pthread_join(x->inputs[i].in_thread, NULL);
	}
	if (rc != JOB_STOPPED && job_ctx_stopping(ctx))
		rc = JOB_STOPPED;
 out:
	/* A stage outlives an attempt only for the attempt that resumes. */
	if (x->inputs != NULL && (rc == JOB_DONE || rc == JOB_FAIL ||
	    (rc == JOB_STOPPED && job_ctx_stop_reason(ctx) ==
	    JOB_STOP_CANCEL)))
		for (i = 0; i < x->ninputs; i++)
			if (x->inputs[i].in_stage_from > 0)
				imp_drop_stage(x, &x->inputs[i]);
	if (rc == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL)
		job_files_remove(x->cfg->data_dir, job_ctx_id(ctx));
	if (x->inputs != NULL)
		for (i = 0; i < x->ninputs; i++)
			for (int j = 0; j < x->inputs[i].in_nfiles; j++)
				free(x->inputs[i].in_files[j].f_file);
	free(x->inputs);
	pthread_mutex_destroy(&x->lock);
	free(x);
	return rc;
}
