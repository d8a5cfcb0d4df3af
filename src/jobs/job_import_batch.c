/*
 * job_import_batch.c — an input's batches: a batch is one transaction
 * whose rows go to the fast path's COPY streams (spooled, with their ids
 * in a second file, so that the batch can be replayed) until the first
 * unique violation, which rolls it back and switches the input for good
 * to its unlogged stage table; at the end of the input the stage is
 * merged in one transaction (LOAD_UPSERT), with one warning per line a
 * later duplicate supersedes.  job_import.c's DESIGN tells the whole.
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

static uint64_t
imp_hash(const char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

FILE *
job_import_batch_tmpfile(struct imp_run *r)
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
int
job_import_batch_fast_id(struct imp_run *r, const struct ndjson_resource *res,
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
	int64_t			cap = 0;

	if (r->stage_from == 0) {
		if (fflush(r->fast) == EOF || (r->fast_mark =
		    ftello(r->fast)) == -1) {
			snprintf(r->err, sizeof(r->err), "spool: %s",
			    strerror(errno));
			return -1;
		}
		if (job_import_stream_all(r, IMP_CMD_BEGIN) != LOAD_OK)
			return -1;
		/* While the interactive-latency controller caps the job, one
		 * stream: two backends bursting at once can take both cores
		 * of a small machine from the API, and they sit in
		 * PostgreSQL's scheduling group, which no weight of ours
		 * reaches (tests/bench/RESULTS.md).  The choice holds for the
		 * whole batch, so a repeated id still meets its twin in one
		 * transaction; the idle stream commits an empty COPY. */
		(void)throttle_rates(job_ctx_throttle(r->imp->ctx), NULL,
		    &cap);
		r->nstreams = cap > 0 ? 1 : IMPORT_STREAMS;
		r->open = 1;
		return 0;
	}
	job_import_stream_options(r, &opts);
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
	if (job_import_stream_all(r, IMP_CMD_ROLLBACK) != LOAD_OK ||
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
		if ((lr = job_import_stream_send(r, i)) != LOAD_OK)
			return lr;
	return job_import_stream_all(r, IMP_CMD_FINISH);
}

/* Commits the open batch (if any).  0, or -1 (r->err set). */
int
job_import_batch_commit(struct imp_run *r)
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
		else if (job_import_stream_all(r, IMP_CMD_COMMIT) != LOAD_OK)
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
int
job_import_batch_queue(struct imp_run *r, const struct ndjson_resource *res,
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
		if (job_import_batch_fast_id(r, res, lineno, offset) == -1)
			return -1;
		/* By id: a repeated id meets its twin in the same
		 * transaction (a unique violation at once, never a wait on
		 * the other stream, which would hang this thread). */
		i = (int)(imp_hash(res->nr_id, res->nr_id_len) %
		    (unsigned int)r->nstreams);
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
		    job_import_stream_idle(&r->streams[i])))
			lr = job_import_stream_send(r, i);
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
		return job_import_batch_commit(r);
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
int
job_import_batch_finalize(struct imp_run *r)
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
			    "line %s wins over line %lld", PQgetvalue(res, i,
			    2),
			    PQgetvalue(res, i, 3), (long long)line);
			if (job_import_outcome(r, "warning", "duplicate", line,
			    off,
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
	snprintf(sql, sizeof(sql), LOAD_UPSERT(
	    "SELECT s.type, s.id, CASE WHEN f.id IS NULL THEN 1 ELSE 0 END, "
	    "    s.last_updated, s.patient, false, s.content "
	    "FROM %s s LEFT JOIN imp_dups d USING (id) "
	    "    LEFT JOIN imp_fast f USING (id) "
	    "WHERE d.id IS NULL OR s.seq = d.last"), r->stage);
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
int64_t
job_import_batch_stage_check(struct imp_run *r, int64_t skip)
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
