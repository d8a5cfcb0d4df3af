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
 * (IMPORT_STREAMS), each sending from a thread of its own, in chunks:
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
#include "jobs/job_export.h"
#include "jobs/job_import.h"
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

#define IMPORT_MAX_INPUTS	10000
#define IMPORT_MAX_FILES	64	/* error files per input */
#define IMPORT_TICK_MS		200
#define IMPORT_SAVE_MS		1000
#define IMPORT_STREAMS		2	/* COPY connections of the fast path */
#define IMPORT_CHUNK		(256 * 1024) /* rows handed to an idle stream */
#define IMPORT_CHUNK_MAX	(1024 * 1024) /* ... or to a busy one */

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
	int64_t			 in_stage_from;	/* first staged line; 0: none */
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

enum imp_cmd {
	IMP_CMD_IDLE,
	IMP_CMD_BEGIN,
	IMP_CMD_DATA,
	IMP_CMD_FINISH,
	IMP_CMD_COMMIT,
	IMP_CMD_ROLLBACK,
	IMP_CMD_QUIT,
};

/*
 * A COPY connection of the fast path with a thread of its own, so that
 * two PostgreSQL backends store rows in parallel while the reading thread
 * parses: it formats rows and hands them over a chunk at a time (double
 * buffered: it fills one chunk while the stream sends the other).  One
 * command at a time; the reading thread waits for "idle" before the next.
 */
struct imp_stream {
	struct imp_run		*st_run;
	PGconn			*st_conn;
	struct load_session	*st_sess;	/* open COPY, or NULL */
	pthread_t		 st_thread;
	int			 st_started;	/* thread running */
	pthread_mutex_t		 st_lock;
	pthread_cond_t		 st_cond;
	enum imp_cmd		 st_cmd;	/* under st_lock */
	struct buf		 st_data;	/* DATA's rows */
	enum load_result	 st_result;	/* first failure since BEGIN */
	char			 st_err[512];
};

/* A thread's working state for one input. */
struct imp_run {
	struct imp		*imp;
	struct imp_input	*in;
	PGconn			*conn;
	struct outfile_set	*errors;
	struct load_session	*sess;		/* staged batch's COPY, or NULL */
	int			 open;		/* a batch is open */
	struct imp_stream	 streams[IMPORT_STREAMS];
	struct buf		 chunk[IMPORT_STREAMS]; /* rows being formatted */
	FILE			*spool;		/* fast batch lines (replay) */
	FILE			*fast;		/* "id\tline\toffset" of rows
						 * the fast path loaded */
	off_t			 fast_mark;	/* its size at the batch start */
	char			 stage[96];	/* the stage table's name */
	int			 stage_ready;	/* created in this attempt */
	int64_t			 stage_from;	/* first staged line; 0: none */
	int64_t			 nbatch;	/* lines in the open batch */
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

/* ---- the fast path's COPY streams ---------------------------------------- */

/* The load options of the input r reads (both COPY paths). */
static void
imp_load_options(const struct imp_run *r, struct load_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->lo_keep_last_updated = r->imp->keep_updated;
	opts->lo_expect_type = r->in->in_type;
}

static void *
imp_stream_main(void *arg)
{
	struct imp_stream	*st = arg;
	struct load_options	 opts;
	enum load_result	 lr;
	enum imp_cmd		 cmd;
	char			 err[512];

	imp_load_options(st->st_run, &opts);
	for (;;) {
		pthread_mutex_lock(&st->st_lock);
		while (st->st_cmd == IMP_CMD_IDLE)
			pthread_cond_wait(&st->st_cond, &st->st_lock);
		cmd = st->st_cmd;
		pthread_mutex_unlock(&st->st_lock);
		if (cmd == IMP_CMD_QUIT)
			break;
		lr = LOAD_OK;
		err[0] = '\0';
		switch (cmd) {
		case IMP_CMD_BEGIN:
			if (db_exec(st->st_conn, "BEGIN", 0, NULL, err,
			    sizeof(err)) == -1 || (st->st_sess =
			    load_session_begin(st->st_conn, LOAD_DIRECT, &opts,
			    err, sizeof(err))) == NULL)
				lr = LOAD_ERROR;
			break;
		case IMP_CMD_DATA:
			if (st->st_result == LOAD_OK)
				lr = load_session_put(st->st_sess,
				    st->st_data.b_data, st->st_data.b_len, err,
				    sizeof(err));
			buf_reset(&st->st_data);
			break;
		case IMP_CMD_FINISH:
			if (st->st_result == LOAD_OK)
				lr = load_session_finish(st->st_sess, NULL, err,
				    sizeof(err));
			load_session_free(st->st_sess);
			st->st_sess = NULL;
			break;
		case IMP_CMD_COMMIT:
			if (db_exec(st->st_conn, "COMMIT", 0, NULL, err,
			    sizeof(err)) == -1)
				lr = LOAD_ERROR;
			break;
		case IMP_CMD_ROLLBACK:
			load_session_free(st->st_sess);
			st->st_sess = NULL;
			if (db_exec(st->st_conn, "ROLLBACK", 0, NULL, err,
			    sizeof(err)) == -1)
				lr = LOAD_ERROR;
			break;
		default:
			break;
		}
		pthread_mutex_lock(&st->st_lock);
		if (cmd == IMP_CMD_BEGIN || cmd == IMP_CMD_ROLLBACK)
			st->st_result = LOAD_OK;
		if (lr != LOAD_OK && st->st_result == LOAD_OK) {
			st->st_result = lr;
			str_lcpy(st->st_err, err, sizeof(st->st_err));
		}
		st->st_cmd = IMP_CMD_IDLE;
		pthread_cond_broadcast(&st->st_cond);
		pthread_mutex_unlock(&st->st_lock);
	}
	load_session_free(st->st_sess);	/* aborts a COPY still open */
	st->st_sess = NULL;
	return NULL;
}

/* Waits until the stream is idle; returns its result since BEGIN. */
static enum load_result
imp_stream_wait(struct imp_stream *st)
{
	enum load_result	lr;

	pthread_mutex_lock(&st->st_lock);
	while (st->st_cmd != IMP_CMD_IDLE)
		pthread_cond_wait(&st->st_cond, &st->st_lock);
	lr = st->st_result;
	pthread_mutex_unlock(&st->st_lock);
	return lr;
}

/* True when the stream has nothing to do (its last result aside). */
static int
imp_stream_idle(struct imp_stream *st)
{
	int	idle;

	pthread_mutex_lock(&st->st_lock);
	idle = st->st_cmd == IMP_CMD_IDLE;
	pthread_mutex_unlock(&st->st_lock);
	return idle;
}

/* Gives an idle stream its next command. */
static void
imp_stream_post(struct imp_stream *st, enum imp_cmd cmd)
{
	pthread_mutex_lock(&st->st_lock);
	st->st_cmd = cmd;
	pthread_cond_broadcast(&st->st_cond);
	pthread_mutex_unlock(&st->st_lock);
}

/* Posts cmd to every stream, then waits for all of them: the worst
 * result (LOAD_ERROR over LOAD_CONFLICT over LOAD_OK), r->err set. */
static enum load_result
imp_streams_all(struct imp_run *r, enum imp_cmd cmd)
{
	enum load_result	lr, worst = LOAD_OK;
	int			i;

	for (i = 0; i < IMPORT_STREAMS; i++) {
		(void)imp_stream_wait(&r->streams[i]);
		imp_stream_post(&r->streams[i], cmd);
	}
	for (i = 0; i < IMPORT_STREAMS; i++) {
		lr = imp_stream_wait(&r->streams[i]);
		if (lr != LOAD_OK && worst != LOAD_ERROR) {
			worst = lr;
			snprintf(r->err, sizeof(r->err), "%s",
			    r->streams[i].st_err);
		}
	}
	return worst;
}

/* Hands chunk i to its stream.  The stream's result so far. */
static enum load_result
imp_stream_send(struct imp_run *r, int i)
{
	struct imp_stream	*st = &r->streams[i];
	struct buf		 tmp;
	enum load_result	 lr;

	if ((lr = imp_stream_wait(st)) != LOAD_OK) {
		snprintf(r->err, sizeof(r->err), "%s", st->st_err);
		return lr;
	}
	if (r->chunk[i].b_len == 0)
		return LOAD_OK;
	tmp = st->st_data;
	st->st_data = r->chunk[i];
	r->chunk[i] = tmp;
	imp_stream_post(st, IMP_CMD_DATA);
	return LOAD_OK;
}

static int
imp_streams_start(struct imp_run *r)
{
	struct imp_stream	*st;
	int			 i;

	for (i = 0; i < IMPORT_STREAMS; i++) {
		st = &r->streams[i];
		st->st_run = r;
		buf_init(&st->st_data, (size_t)1 << 31);
		buf_init(&r->chunk[i], (size_t)1 << 31);
		pthread_mutex_init(&st->st_lock, NULL);
		pthread_cond_init(&st->st_cond, NULL);
		if ((st->st_conn = db_connect(r->imp->cfg->database_url,
		    "worker import", r->err, sizeof(r->err))) == NULL)
			return -1;
		(void)throttle_conn(job_ctx_throttle(r->imp->ctx), st->st_conn);
		/* A wait on another import's uncommitted row would stall
		 * this stream, and so the reading thread and the other
		 * stream: give up after a second and stage instead. */
		(void)db_exec(st->st_conn, "SET synchronous_commit = off", 0,
		    NULL, r->err, sizeof(r->err));
		(void)db_exec(st->st_conn, "SET lock_timeout = '1s'", 0, NULL,
		    r->err, sizeof(r->err));
		if (pthread_create(&st->st_thread, NULL, imp_stream_main,
		    st) != 0) {
			snprintf(r->err, sizeof(r->err), "cannot start a "
			    "thread");
			return -1;
		}
		st->st_started = 1;
	}
	return 0;
}

/* Stops the streams (an open COPY is aborted, its transaction ends
 * with the connection). */
static void
imp_streams_stop(struct imp_run *r)
{
	struct imp_stream	*st;
	int			 i;

	for (i = 0; i < IMPORT_STREAMS; i++) {
		st = &r->streams[i];
		if (st->st_run == NULL)
			continue;
		if (st->st_started) {
			(void)imp_stream_wait(st);
			imp_stream_post(st, IMP_CMD_QUIT);
			pthread_join(st->st_thread, NULL);
		}
		PQfinish(st->st_conn);
		buf_free(&st->st_data);
		buf_free(&r->chunk[i]);
		pthread_mutex_destroy(&st->st_lock);
		pthread_cond_destroy(&st->st_cond);
	}
}

static uint64_t
imp_hash(const char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static FILE *
imp_tmpfile(struct imp_run *r)
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

/* Empties a temp file: 0, or -1 (r->err). */
static int
imp_truncate(struct imp_run *r, FILE *fp, off_t to)
{
	if (fflush(fp) == EOF || ftruncate(fileno(fp), to) == -1 ||
	    fseeko(fp, to, SEEK_SET) == -1) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Appends a directly loaded row's id to the id file. */
static int
imp_fast_id(struct imp_run *r, const struct ndjson_resource *res,
    int64_t lineno, int64_t offset)
{
	if (fprintf(r->fast, "%.*s\t%lld\t%lld\n", (int)res->nr_id_len,
	    res->nr_id, (long long)lineno, (long long)offset) < 0) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates the stage table if this attempt has not yet. */
static int
imp_stage_create(struct imp_run *r)
{
	char	sql[384];

	if (r->stage_ready)
		return 0;
	snprintf(sql, sizeof(sql), "CREATE UNLOGGED TABLE IF NOT EXISTS %s ("
	    "seq bigint, off bigint, type text, id text, last_updated "
	    "timestamptz, patient text, content text COMPRESSION lz4)",
	    r->stage);
	if (db_exec(r->conn, "SET client_min_messages = warning", 0, NULL,
	    r->err, sizeof(r->err)) == -1 || db_exec(r->conn, sql, 0, NULL,
	    r->err, sizeof(r->err)) == -1)
		return -1;
	r->stage_ready = 1;
	return 0;
}

/* Opens a batch: its transactions and COPYs.  0, or -1 (r->err). */
static int
imp_batch_begin(struct imp_run *r)
{
	struct load_options	opts;

	if (r->stage_from == 0) {
		if (fflush(r->fast) == EOF || (r->fast_mark =
		    ftello(r->fast)) == -1) {
			snprintf(r->err, sizeof(r->err), "spool: %s",
			    strerror(errno));
			return -1;
		}
		if (imp_streams_all(r, IMP_CMD_BEGIN) != LOAD_OK)
			return -1;
		r->open = 1;
		return 0;
	}
	imp_load_options(r, &opts);
	opts.lo_stage_table = r->stage;
	if (db_exec(r->conn, "BEGIN", 0, NULL, r->err, sizeof(r->err)) == -1 ||
	    imp_stage_create(r) == -1)
		return -1;
	r->sess = load_session_begin(r->conn, LOAD_STAGE, &opts, r->err,
	    sizeof(r->err));
	if (r->sess == NULL)
		return -1;
	r->open = 1;
	return 0;
}

/*
 * The fast path met an existing or repeated id: roll the batch back and
 * load it again, from the spool, into the stage, where this input stays.
 */
static int
imp_to_stage(struct imp_run *r)
{
	struct ndjson_resource	 res;
	enum load_result	 lr;
	struct buf		 line;
	int64_t			 hdr[3];
	char			 sql[160];
	int			 i, rc = -1;

	buf_init(&line, (size_t)r->imp->cfg->import_max_line + 16);
	for (i = 0; i < IMPORT_STREAMS; i++)
		buf_reset(&r->chunk[i]);
	r->open = 0;
	if (imp_streams_all(r, IMP_CMD_ROLLBACK) != LOAD_OK ||
	    imp_truncate(r, r->fast, r->fast_mark) == -1)
		goto out;
	r->stage_from = r->in->in_committed + 1;
	/* Rows an earlier attempt staged before it died, unknown to the
	 * checkpoint this attempt started from, would count twice. */
	snprintf(sql, sizeof(sql), "TRUNCATE %s", r->stage);
	if (imp_stage_create(r) == -1 || db_exec(r->conn, sql, 0, NULL,
	    r->err, sizeof(r->err)) == -1 || imp_batch_begin(r) == -1)
		goto out;
	if (fflush(r->spool) == EOF || fseeko(r->spool, 0, SEEK_SET) == -1) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		goto out;
	}
	while (fread(hdr, sizeof(hdr), 1, r->spool) == 1) {
		buf_reset(&line);
		if (hdr[2] < 0 || buf_reserve(&line, (size_t)hdr[2]) == -1 ||
		    fread(line.b_data, 1, (size_t)hdr[2], r->spool) !=
		    (size_t)hdr[2]) {
			snprintf(r->err, sizeof(r->err), "spool read");
			goto out;
		}
		/* Parsed and validated once already: this cannot fail. */
		if (ndjson_parse(line.b_data, (size_t)hdr[2], &res, r->err,
		    sizeof(r->err), NULL) == -1)
			goto out;
		lr = load_session_row(r->sess, &res, line.b_data,
		    (size_t)hdr[2], hdr[0], hdr[1], r->err, sizeof(r->err));
		if (lr != LOAD_OK)
			goto out;
	}
	if (ferror(r->spool)) {
		snprintf(r->err, sizeof(r->err), "spool read");
		goto out;
	}
	rc = imp_truncate(r, r->spool, 0);
 out:
	buf_free(&line);
	return rc;
}

/* Ends the fast path's COPYs: LOAD_OK (both ready to commit),
 * LOAD_CONFLICT or LOAD_ERROR. */
static enum load_result
imp_fast_finish(struct imp_run *r)
{
	enum load_result	lr;
	int			i;

	for (i = 0; i < IMPORT_STREAMS; i++)
		if ((lr = imp_stream_send(r, i)) != LOAD_OK)
			return lr;
	return imp_streams_all(r, IMP_CMD_FINISH);
}

/* Commits the open batch (if any).  0, or -1 (r->err set). */
static int
imp_commit(struct imp_run *r)
{
	enum load_result	lr;

	if (!r->open)
		return 0;
	if (r->stage_from == 0) {
		lr = imp_fast_finish(r);
		if (lr == LOAD_CONFLICT) {
			if (imp_to_stage(r) == -1)
				return -1;
		} else if (lr != LOAD_OK)
			return -1;
		/* Two transactions: a crash between the COMMITs leaves half
		 * a batch past the checkpoint, which the resumed attempt
		 * finds existing and stages (same content: no change). */
		else if (imp_streams_all(r, IMP_CMD_COMMIT) != LOAD_OK)
			return -1;
	}
	if (r->stage_from > 0) {
		lr = load_session_finish(r->sess, NULL, r->err,
		    sizeof(r->err));
		load_session_free(r->sess);
		r->sess = NULL;
		if (lr != LOAD_OK || db_exec(r->conn, "COMMIT", 0, NULL,
		    r->err, sizeof(r->err)) == -1)
			return -1;
	}
	r->open = 0;
	pthread_mutex_lock(&r->imp->lock);
	r->in->in_loaded += r->nbatch;
	r->in->in_committed = r->last_line;
	r->in->in_stage_from = r->stage_from;
	pthread_mutex_unlock(&r->imp->lock);
	r->nbatch = 0;
	return r->stage_from > 0 ? 0 : imp_truncate(r, r->spool, 0);
}

/* Queues a valid line into the open batch (opening one if needed). */
static int
imp_queue(struct imp_run *r, const struct ndjson_resource *res,
    const char *line, size_t len, int64_t lineno, int64_t offset)
{
	enum load_result	lr = LOAD_OK;
	int64_t			hdr[3] = { lineno, offset,
				    (int64_t)len };
	int			i;

	if (!r->open && imp_batch_begin(r) == -1)
		return -1;
	if (throttle_take(job_ctx_throttle(r->imp->ctx), 1,
	    (int64_t)len) == -1) {
		snprintf(r->err, sizeof(r->err), "stopped");
		return -1;
	}
	if (r->stage_from == 0) {
		if (fwrite(hdr, sizeof(hdr), 1, r->spool) != 1 ||
		    fwrite(line, 1, len, r->spool) != len) {
			snprintf(r->err, sizeof(r->err), "spool: %s",
			    strerror(errno));
			return -1;
		}
		if (imp_fast_id(r, res, lineno, offset) == -1)
			return -1;
		/* By id: a repeated id meets its twin in the same
		 * transaction (a unique violation at once, never a wait on
		 * the other stream, which would hang this thread). */
		i = (int)(imp_hash(res->nr_id, res->nr_id_len) %
		    IMPORT_STREAMS);
		if (load_format_row(&r->chunk[i], r->streams[0].st_sess,
		    res, line, len, lineno, offset) == -1) {
			snprintf(r->err, sizeof(r->err), "line too long to "
			    "buffer");
			return -1;
		}
		/* A chunk goes to its stream once the stream is free; a
		 * busy one gets a larger chunk later rather than stall this
		 * thread, which would starve the other stream's backend
		 * too (with a wait at every 256 KB, a 2-CPU machine sat
		 * 15% idle during an import). */
		if (r->chunk[i].b_len >= IMPORT_CHUNK_MAX ||
		    (r->chunk[i].b_len >= IMPORT_CHUNK &&
		    imp_stream_idle(&r->streams[i])))
			lr = imp_stream_send(r, i);
	} else
		lr = load_session_row(r->sess, res, line, len, lineno, offset,
		    r->err, sizeof(r->err));
	/* The spool holds this line too: the replay stages it. */
	if (lr == LOAD_CONFLICT && r->stage_from == 0)
		lr = imp_to_stage(r) == -1 ? LOAD_ERROR : LOAD_OK;
	if (lr != LOAD_OK)
		return -1;
	r->nbatch++;
	r->last_line = lineno;
	if (r->nbatch >= r->imp->cfg->import_batch_lines)
		return imp_commit(r);
	return 0;
}

/* The id file into a temporary table imp_fast (id, line, off). */
static int
imp_fast_copy(struct imp_run *r)
{
	PGresult	*res;
	char		 chunk[65536];
	size_t		 n;
	int		 rc = -1;

	if (db_exec(r->conn, "CREATE TEMP TABLE imp_fast (id text, line "
	    "bigint, off bigint) ON COMMIT DROP", 0, NULL, r->err,
	    sizeof(r->err)) == -1)
		return -1;
	if (fflush(r->fast) == EOF || fseeko(r->fast, 0, SEEK_SET) == -1) {
		snprintf(r->err, sizeof(r->err), "spool: %s", strerror(errno));
		return -1;
	}
	res = PQexec(r->conn, "COPY imp_fast FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		db_errmsg(r->conn, r->err, sizeof(r->err));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((n = fread(chunk, 1, sizeof(chunk), r->fast)) > 0)
		if (PQputCopyData(r->conn, chunk, (int)n) != 1)
			break;
	if (PQputCopyEnd(r->conn, ferror(r->fast) || n > 0 ? "spool read" :
	    NULL) != 1)
		db_errmsg(r->conn, r->err, sizeof(r->err));
	while ((res = PQgetResult(r->conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			rc = 0;
		else {
			db_errmsg(r->conn, r->err, sizeof(r->err));
			rc = -1;
		}
		PQclear(res);
	}
	if (fseeko(r->fast, 0, SEEK_END) == -1)
		rc = -1;
	return rc;
}

/*
 * The end of a staged input, in one transaction: one warning per line a
 * later one with the same id supersedes (in line order), then the merge
 * of the last of each id.  Idempotent: the stage stays as it is until the
 * input is recorded, so a resumed attempt may run it again.
 */
static int
imp_finalize(struct imp_run *r)
{
	PGresult	*res = NULL;
	char		 sql[2048], msg[256];
	int		 i, rc = -1;

	if (r->stage_from == 0)
		return 0;
	if (db_exec(r->conn, "BEGIN", 0, NULL, r->err, sizeof(r->err)) == -1 ||
	    imp_stage_create(r) == -1 || imp_fast_copy(r) == -1)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE TEMP TABLE imp_dups ON COMMIT DROP "
	    "AS SELECT id, max(seq) AS last FROM %s GROUP BY id "
	    "HAVING count(*) > 1", r->stage);
	if (db_exec(r->conn, sql, 0, NULL, r->err, sizeof(r->err)) == -1)
		goto out;
	/* Through a cursor: an input may repeat millions of ids. */
	snprintf(sql, sizeof(sql),
	    "DECLARE imp_dup_warnings NO SCROLL CURSOR FOR "
	    "SELECT line, off, id, next FROM ("
	    " SELECT s.seq AS line, s.off, s.id, lead(s.seq) OVER (PARTITION "
	    "  BY s.id ORDER BY s.seq) AS next"
	    " FROM %s s JOIN imp_dups d USING (id)"
	    " UNION ALL"
	    " SELECT f.line, f.off, f.id, min(s.seq)"
	    " FROM imp_fast f JOIN %s s USING (id) GROUP BY 1, 2, 3) w "
	    "WHERE next IS NOT NULL ORDER BY line", r->stage, r->stage);
	if (db_exec(r->conn, sql, 0, NULL, r->err, sizeof(r->err)) == -1)
		goto out;
	do {
		if ((res = db_query(r->conn, "FETCH 10000 FROM "
		    "imp_dup_warnings", 0, NULL, r->err,
		    sizeof(r->err))) == NULL)
			goto out;
		for (i = 0; i < PQntuples(res); i++) {
			int64_t	line, off;

			line = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			off = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			snprintf(msg, sizeof(msg), "duplicate id %.64s: "
			    "line %s wins over line %lld", PQgetvalue(res, i, 2),
			    PQgetvalue(res, i, 3), (long long)line);
			if (imp_outcome(r, "warning", "duplicate", line, off,
			    msg) == -1)
				goto out;
		}
		i = PQntuples(res);
		PQclear(res);
		res = NULL;
	} while (i > 0);
	if (db_exec(r->conn, "CLOSE imp_dup_warnings", 0, NULL, r->err,
	    sizeof(r->err)) == -1)
		goto out;
	/* version carries the bump: 0 for a row the fast path of this
	 * input created (it stays version 1), else 1. */
	snprintf(sql, sizeof(sql),
	    "INSERT INTO resources AS r (type, id, version, last_updated, "
	    "    patient, deleted, content) "
	    "SELECT s.type, s.id, CASE WHEN f.id IS NULL THEN 1 ELSE 0 END, "
	    "    s.last_updated, s.patient, false, s.content "
	    "FROM %s s LEFT JOIN imp_dups d USING (id) "
	    "    LEFT JOIN imp_fast f USING (id) "
	    "WHERE d.id IS NULL OR s.seq = d.last "
	    "ON CONFLICT (type, id) DO UPDATE SET "
	    "    version = r.version + excluded.version, "
	    "    last_updated = excluded.last_updated, "
	    "    patient = excluded.patient, deleted = false, "
	    "    content = excluded.content "
	    "WHERE r.deleted OR r.content IS DISTINCT FROM excluded.content",
	    r->stage);
	if (db_exec(r->conn, sql, 0, NULL, r->err, sizeof(r->err)) == -1 ||
	    db_exec(r->conn, "COMMIT", 0, NULL, r->err, sizeof(r->err)) == -1)
		goto out;
	rc = 0;
 out:
	PQclear(res);
	if (rc == -1)
		(void)db_exec(r->conn, "ROLLBACK", 0, NULL, r->err + 512,
		    sizeof(r->err) - 512);
	return rc;
}

/*
 * A resumed input that staged.  The checkpoint may lag the last commit
 * (it is saved every second): rows staged after the line it names are
 * staged again, so drop them first (and any before stage_from, left by
 * an attempt whose checkpoint was lost).  And PostgreSQL empties unlogged
 * tables when it recovers from a crash: if the stage lost its rows, stage
 * the lines from stage_from on again.  Returns the lines to skip, or -1.
 */
static int64_t
imp_stage_check(struct imp_run *r, int64_t skip)
{
	PGresult	*res;
	char		 sql[256], n[32], f[32];
	const char	*p[2] = { n, f };
	int		 empty;

	if (r->stage_from == 0 || skip < r->stage_from)
		return skip;
	if (imp_stage_create(r) == -1)
		return -1;
	snprintf(n, sizeof(n), "%lld", (long long)skip);
	snprintf(f, sizeof(f), "%lld", (long long)r->stage_from);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE seq > $1 OR "
	    "seq < $2", r->stage);
	if (db_exec(r->conn, sql, 2, p, r->err, sizeof(r->err)) == -1)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT NOT EXISTS (SELECT 1 FROM %s)",
	    r->stage);
	if ((res = db_query(r->conn, sql, 0, NULL, r->err,
	    sizeof(r->err))) == NULL)
		return -1;
	empty = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return empty ? r->stage_from - 1 : skip;
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
	if ((r.spool = imp_tmpfile(&r)) == NULL ||
	    (r.fast = imp_tmpfile(&r)) == NULL) {
		snprintf(r.err, sizeof(r.err), "spool in %.900s: %s", imp->dir,
		    strerror(errno));
		goto out;
	}
	if ((skip = imp_stage_check(&r, skip)) == -1 ||
	    (r.stage_from == 0 && imp_streams_start(&r) == -1))
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
			if (imp_commit(&r) == -1 || imp_outcome(&r, "fatal",
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
		if (validate_line(in->in_type, line, len, &res, reason,
		    sizeof(reason), &off) == -1) {
			if (imp_outcome(&r, "error", "structure", lr.l_lineno,
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
			    imp_fast_id(&r, &res, lr.l_lineno,
			    lr.l_offset) == -1)
				goto out;
			pthread_mutex_lock(&imp->lock);
			in->in_loaded++;
			pthread_mutex_unlock(&imp->lock);
			continue;
		}
		if (imp_queue(&r, &res, line, len, lr.l_lineno,
		    lr.l_offset) == -1)
			goto out;
	}
	if (imp_commit(&r) == -1 || imp_finalize(&r) == -1)
		goto out;
	ok = 1;
 out:
	imp_streams_stop(&r);
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
