/*
 * job_import.c — the "import" job kind (see job_import.h).
 *
 * DESIGN
 * One thread per input being read (at most "concurrency" at once).  A
 * thread streams its input through fetch (http(s) or file://, decoded),
 * the bounded line reader and the validators; a bad line becomes one
 * OperationOutcome in the input's error file, a valid one goes to a spool
 * file (unlinked, so the kernel reclaims it on any exit) until the batch
 * is full.  A batch then loads in one transaction: straight COPY into the
 * store when none of its ids exists yet (the fast path of an initial
 * load), else the upsert (store/load.c).  Within a batch the last of
 * duplicate ids wins, with a warning.  Memory per thread: the line cap,
 * the batch's ids, and fixed buffers; never the input.
 *
 * The threads never touch the job row: they publish counts under a mutex
 * and the main thread heartbeats, saves progress and the checkpoint, and
 * records each finished input (its error files and its output count).
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
#include "bulk/fhir_types.h"
#include "bulk/outfile.h"
#include "core/cfg.h"
#include "jobs/job_export.h"
#include "jobs/job_import.h"
#include "jobs/jobq.h"
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

#define IMPORT_MAX_INPUTS	10000
#define IMPORT_MAX_FILES	64	/* error files per input */
#define IMPORT_TICK_MS		200
#define IMPORT_SAVE_MS		1000

enum imp_state {
	IMP_PENDING,
	IMP_RUNNING,
	IMP_FINISHED,	/* thread done, result not yet recorded */
	IMP_RECORDED,
};

struct imp_file {
	char	*f_file;	/* relative to data_dir; owned */
	int64_t	 f_count;
	int64_t	 f_bytes;
	char	 f_sha256[65];
};

struct imp;

struct imp_input {
	struct imp		*in_imp;	/* back pointer */
	int			 in_idx;	/* 0-based */
	const char		*in_type;	/* borrowed from params */
	const char		*in_url;
	const char		*in_etag;	/* or NULL */
	enum imp_state		 in_state;
	pthread_t		 in_thread;
	int64_t			 in_skip;	/* lines committed before */
	/* Published under imp->lock while running: */
	int64_t			 in_lines;	/* lines read */
	int64_t			 in_loaded;
	int64_t			 in_failed;
	int64_t			 in_blank;
	int64_t			 in_committed;	/* last committed line */
	/* Set by the thread before it finishes: */
	struct imp_file		 in_files[IMPORT_MAX_FILES];
	int			 in_nfiles;
	int			 in_ok;		/* 0: stopped or db failure */
	char			 in_error[512];	/* why in_ok == 0 */
};

struct imp {
	struct job_ctx		*ctx;
	const struct cfg	*cfg;
	const cJSON		*params;
	struct imp_input	*inputs;
	int			 ninputs;
	int			 keep_updated;	/* IncrementalLoad */
	char			 reldir[256];
	char			 dir[1024];
	pthread_mutex_t		 lock;
	atomic_int		 stop;		/* threads must stop */
	char			 err[1024];
};

/* A thread's working state for one input. */
struct imp_run {
	struct imp		*imp;
	struct imp_input	*in;
	PGconn			*conn;
	struct outfile_set	*errors;
	FILE			*spool;
	struct buf		 ids;		/* NUL-separated batch ids */
	int64_t			*lineno;	/* per batch line */
	int64_t			*offset;	/* its byte offset */
	size_t			 nbatch;
	size_t			 cap;
	int64_t			 last_line;
	char			 err[1024];
};

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
			snprintf(errbuf, errlen, "import: input %d needs a FHIR "
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
static int
imp_outcome(struct imp_run *r, const char *severity, const char *code,
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

static uint64_t
imp_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * Marks all but the last occurrence of each id in the batch (dup[i] = 1)
 * and reports them.  Open addressing over the batch's ids.
 */
static int
imp_dedupe(struct imp_run *r, const char **idv, unsigned char *dup)
{
	size_t		 size = 1, i, slot;
	ssize_t		*table;
	char		 msg[256];
	int		 rc = 0;

	while (size < r->nbatch * 2)
		size <<= 1;
	table = xreallocarray(NULL, size, sizeof(*table));
	for (i = 0; i < size; i++)
		table[i] = -1;
	for (i = 0; i < r->nbatch; i++) {
		slot = imp_hash(idv[i]) & (size - 1);
		while (table[slot] != -1 && strcmp(idv[table[slot]],
		    idv[i]) != 0)
			slot = (slot + 1) & (size - 1);
		if (table[slot] != -1) {
			dup[table[slot]] = 1;
			snprintf(msg, sizeof(msg), "duplicate id %.64s: line "
			    "%lld wins over line %lld", idv[i],
			    (long long)r->lineno[i],
			    (long long)r->lineno[table[slot]]);
			if (imp_outcome(r, "warning", "duplicate",
			    r->lineno[table[slot]], r->offset[table[slot]],
			    msg) == -1)
				rc = -1;
		}
		table[slot] = (ssize_t)i;
	}
	free(table);
	return rc;
}

/* Loads the spooled batch in one transaction.  0, or -1 (r->err set). */
static int
imp_flush(struct imp_run *r)
{
	struct load_options	 opts;
	struct load_stats	 st;
	struct load_session	*s = NULL;
	enum load_result	 lr;
	enum load_mode		 mode;
	const char		**idv = NULL, *p[2];
	unsigned char		*dup = NULL;
	struct buf		 arr, line;
	PGresult		*res;
	int64_t			 hdr[2];
	size_t			 i;
	int			 rc = -1, attempt;

	if (r->nbatch == 0)
		return 0;
	buf_init(&arr, (size_t)1 << 30);
	buf_init(&line, (size_t)r->imp->cfg->import_max_line + 16);
	idv = xreallocarray(NULL, r->nbatch, sizeof(*idv));
	dup = xcalloc(r->nbatch, 1);
	for (i = 0, p[0] = r->ids.b_data; i < r->nbatch; i++) {
		idv[i] = p[0];
		p[0] += strlen(p[0]) + 1;
	}
	if (imp_dedupe(r, idv, dup) == -1)
		goto out;
	/* Ids are [A-Za-z0-9.-]: an array literal needs no quoting. */
	(void)buf_putc(&arr, '{');
	for (i = 0; i < r->nbatch; i++)
		(void)buf_printf(&arr, "%s%s", i ? "," : "", idv[i]);
	(void)buf_putc(&arr, '}');
	p[0] = r->in->in_type;
	p[1] = arr.b_data;
	res = db_query(r->conn, "SELECT EXISTS (SELECT 1 FROM resources "
	    "WHERE type = $1 AND id = ANY($2::text[]))", 2, p, r->err,
	    sizeof(r->err));
	if (res == NULL)
		goto out;
	mode = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? LOAD_MERGE :
	    LOAD_DIRECT;
	PQclear(res);

	memset(&opts, 0, sizeof(opts));
	opts.lo_keep_last_updated = r->imp->keep_updated;
	opts.lo_expect_type = r->in->in_type;
	for (attempt = 0; attempt < 2; attempt++) {
		if (fseeko(r->spool, 0, SEEK_SET) == -1) {
			snprintf(r->err, sizeof(r->err), "spool: %s",
			    strerror(errno));
			goto out;
		}
		if (db_exec(r->conn, "BEGIN", 0, NULL, r->err,
		    sizeof(r->err)) == -1 || (s = load_session_begin(r->conn,
		    mode, &opts, r->err, sizeof(r->err))) == NULL)
			goto out;
		lr = LOAD_OK;
		for (i = 0; i < r->nbatch && lr == LOAD_OK; i++) {
			if (fread(hdr, sizeof(hdr), 1, r->spool) != 1 ||
			    hdr[1] < 0 || buf_reserve(&line, 0) == -1) {
				snprintf(r->err, sizeof(r->err), "spool read");
				goto out;
			}
			buf_reset(&line);
			if (buf_reserve(&line, (size_t)hdr[1]) == -1 ||
			    fread(line.b_data, 1, (size_t)hdr[1], r->spool) !=
			    (size_t)hdr[1]) {
				snprintf(r->err, sizeof(r->err), "spool read");
				goto out;
			}
			if (dup[i])
				continue;
			lr = throttle_take(job_ctx_throttle(r->imp->ctx), 1,
			    hdr[1]) == -1 ? LOAD_ERROR :
			    load_session_line(s, line.b_data, (size_t)hdr[1],
			    r->err, sizeof(r->err));
		}
		if (lr == LOAD_OK)
			lr = load_session_finish(s, &st, r->err, sizeof(r->err));
		load_session_free(s);
		s = NULL;
		if (lr == LOAD_OK)
			break;
		(void)db_exec(r->conn, "ROLLBACK", 0, NULL, r->err + 512,
		    sizeof(r->err) - 512);
		/* Another import wrote these ids meanwhile: upsert. */
		if (lr == LOAD_CONFLICT && mode == LOAD_DIRECT) {
			mode = LOAD_MERGE;
			continue;
		}
		goto out;
	}
	if (db_exec(r->conn, "COMMIT", 0, NULL, r->err, sizeof(r->err)) == -1)
		goto out;
	pthread_mutex_lock(&r->imp->lock);
	r->in->in_loaded += (int64_t)r->nbatch;
	r->in->in_committed = r->last_line;
	pthread_mutex_unlock(&r->imp->lock);
	r->nbatch = 0;
	buf_reset(&r->ids);
	if (fseeko(r->spool, 0, SEEK_SET) == -1 ||
	    ftruncate(fileno(r->spool), 0) == -1) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		goto out;
	}
	rc = 0;
 out:
	load_session_free(s);
	if (rc == -1)
		(void)db_exec(r->conn, "ROLLBACK", 0, NULL, r->err + 512,
		    sizeof(r->err) - 512);
	free(idv);
	free(dup);
	buf_free(&arr);
	buf_free(&line);
	return rc;
}

/* Queues a valid line for the batch. */
static int
imp_queue(struct imp_run *r, const struct ndjson_resource *res,
    const char *line, size_t len, int64_t lineno, int64_t offset)
{
	int64_t	hdr[2] = { lineno, (int64_t)len };

	if (r->nbatch == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->lineno = xreallocarray(r->lineno, r->cap,
		    sizeof(*r->lineno));
		r->offset = xreallocarray(r->offset, r->cap,
		    sizeof(*r->offset));
	}
	if (fwrite(hdr, sizeof(hdr), 1, r->spool) != 1 ||
	    fwrite(line, 1, len, r->spool) != len) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		return -1;
	}
	(void)buf_append(&r->ids, res->nr_id, res->nr_id_len);
	(void)buf_putc(&r->ids, '\0');
	r->offset[r->nbatch] = offset;
	r->lineno[r->nbatch++] = lineno;
	r->last_line = lineno;
	if ((int64_t)r->nbatch >= r->imp->cfg->import_batch_lines)
		return imp_flush(r);
	return 0;
}

static FILE *
imp_spool(struct imp_run *r)
{
	char	path[1100];
	int	fd;
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/.spool-XXXXXX", r->imp->dir);
	if ((fd = mkstemp(path)) == -1)
		return NULL;
	(void)unlink(path);
	if ((fp = fdopen(fd, "w+")) == NULL) {
		close(fd);
		return NULL;
	}
	(void)setvbuf(fp, NULL, _IOFBF, 1 << 20);
	return fp;
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
	int			 lines_open = 0, ok = 0;

	memset(&r, 0, sizeof(r));
	r.imp = imp;
	r.in = in;
	buf_init(&r.ids, (size_t)1 << 30);
	if ((r.conn = db_connect(imp->cfg->database_url, "worker import",
	    r.err, sizeof(r.err))) == NULL)
		goto out;
	(void)throttle_conn(job_ctx_throttle(imp->ctx), r.conn);
	(void)db_exec(r.conn, "SET synchronous_commit = off", 0, NULL, r.err,
	    sizeof(r.err));
	if ((r.spool = imp_spool(&r)) == NULL) {
		snprintf(r.err, sizeof(r.err), "spool in %.900s: %s", imp->dir,
		    strerror(errno));
		goto out;
	}
	memset(&fo, 0, sizeof(fo));
	fo.fo_allow = imp->cfg->import_allow;
	fo.fo_import_dir = imp->cfg->import_dir;
	fo.fo_connect_timeout = imp->cfg->import_connect_timeout;
	fo.fo_stall_timeout = imp->cfg->import_stall_timeout;
	fo.fo_max_redirects = 5;
	if ((f = fetch_open(&fo, in->in_url, in->in_etag, reason,
	    sizeof(reason))) == NULL) {
		/* Unreadable input: one fatal outcome, nothing loaded. */
		if (imp_outcome(&r, "fatal", "not-found", 0, 0, reason) == -1)
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
			if (imp_flush(&r) == -1 || imp_outcome(&r, "fatal",
			    "exception", 0, 0, fetch_error(f)) == -1)
				goto out;
			break;
		}
		pthread_mutex_lock(&imp->lock);
		in->in_lines++;
		pthread_mutex_unlock(&imp->lock);
		if (st == LINES_TOOLONG) {
			snprintf(reason, sizeof(reason), "line longer than "
			    "%lld bytes", (long long)imp->cfg->import_max_line);
			if (imp_outcome(&r, "error", "too-long", lr.l_lineno,
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
		off = 0;
		if (ndjson_parse(line, len, &res, reason, sizeof(reason),
		    &off) == -1 ||
		    (strlen(in->in_type) != res.nr_type_len ||
		    memcmp(in->in_type, res.nr_type, res.nr_type_len) != 0 ?
		    (snprintf(reason, sizeof(reason), "resourceType %.*s is "
		    "not the input's type %s", (int)(res.nr_type_len > 64 ?
		    64 : res.nr_type_len), res.nr_type, in->in_type), -1) :
		    validate_resource(res.nr_type, res.nr_type_len, line, len,
		    reason, sizeof(reason), &off))) {
			if (imp_outcome(&r, "error", "structure", lr.l_lineno,
			    lr.l_offset + (int64_t)off, reason) == -1)
				goto out;
			pthread_mutex_lock(&imp->lock);
			in->in_failed++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (lr.l_lineno <= in->in_skip) {
			/* Committed by an earlier attempt. */
			pthread_mutex_lock(&imp->lock);
			in->in_loaded++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (imp_queue(&r, &res, line, len, lr.l_lineno,
		    lr.l_offset) == -1)
			goto out;
	}
	if (imp_flush(&r) == -1)
		goto out;
	ok = 1;
 out:
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
	PQfinish(r.conn);
	buf_free(&r.ids);
	free(r.lineno);
	free(r.offset);
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
	return rc;
}

/* Forgets what an interrupted attempt recorded for an input it redoes. */
static int
imp_forget(struct imp *x, PGconn *conn, const struct imp_input *in)
{
	const char	*p[2] = { job_ctx_id(x->ctx), in->in_url };

	return db_exec(conn, "DELETE FROM job_outputs WHERE job_id = $1 AND "
	    "url = $2", 2, p, x->err, sizeof(x->err));
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
	snprintf(x->reldir, sizeof(x->reldir), "jobs/%s", job_ctx_id(ctx));
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
			if (x->inputs[i].in_state != IMP_PENDING)
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
	if (rc == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL)
		job_export_remove_files(x->cfg, job_ctx_id(ctx));
	if (x->inputs != NULL)
		for (i = 0; i < x->ninputs; i++)
			for (int j = 0; j < x->inputs[i].in_nfiles; j++)
				free(x->inputs[i].in_files[j].f_file);
	free(x->inputs);
	pthread_mutex_destroy(&x->lock);
	free(x);
	return rc;
}
