/*
 * job_import_stream.c — the fast path's COPY connections (IMPORT_STREAMS),
 * each with a thread of its own, so that two PostgreSQL backends store
 * rows in parallel while the reading thread parses (job_import.c says
 * why the chunk sizes are what they are).  One command at a time per
 * stream, handed over under st_lock; the reading thread waits for
 * "idle" before the next.  Failures land in st_result and st_err.
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
#include "jobs/job_import_int.h"
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

/* The load options of the input r reads (both COPY paths). */
void
job_import_stream_options(const struct imp_run *r, struct load_options *opts)
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

	job_import_stream_options(st->st_run, &opts);
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
int
job_import_stream_idle(struct imp_stream *st)
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
enum load_result
job_import_stream_all(struct imp_run *r, enum imp_cmd cmd)
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
enum load_result
job_import_stream_send(struct imp_run *r, int i)
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

int
job_import_stream_start(struct imp_run *r)
{
	struct imp_stream	*st;
	int			 i;

	r->nstreams = IMPORT_STREAMS;
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
void
job_import_stream_stop(struct imp_run *r)
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
