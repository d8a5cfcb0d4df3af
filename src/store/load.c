/*
 * load.c — the COPY path into the resource store, and 'bulkhead load'.
 *
 * Rows travel in COPY's binary format (copybin.h): the JSON bytes go to
 * PostgreSQL exactly as they came in, length-prefixed, so the server
 * neither scans them for delimiters nor unescapes them.  The csv form we
 * used first cost the server about 40% more CPU per row.
 *
 * Rows are batched into 256 KB PQputCopyData calls.  Memory is bounded
 * by that batch and the longest line, whatever the input size.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "lib/buf.h"
#include "lib/lines.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/copybin.h"
#include "store/db.h"
#include "store/load.h"
#include "store/ndjson.h"

#define LOAD_FLUSH	(256 * 1024)
#define LOAD_PUT_PIECE	(256 * 1024)	/* bytes per PQputCopyData */

struct load_session {
	PGconn			*ls_conn;	/* borrowed */
	enum load_mode		 ls_mode;
	struct load_options	 ls_opts;
	struct buf		 ls_out;	/* rows not yet sent */
	struct load_stats	 ls_stats;
	int64_t			 ls_now;	/* transaction time, timestamptz */
	int			 ls_copying;	/* COPY is open */
};

/* A unique violation; or, under a caller's lock_timeout, a wait for
 * another transaction that writes the same id. */
static int
load_conflict_state(const char *state)
{
	return state != NULL && (strcmp(state, "23505") == 0 ||
	    strcmp(state, "55P03") == 0);
}

/* After the server ended the COPY: LOAD_CONFLICT for a unique
 * violation, else LOAD_ERROR; errbuf set either way. */
static enum load_result
load_copy_failed(struct load_session *s, char *errbuf, size_t errlen)
{
	PGresult		*res;
	const char		*state;
	enum load_result	 rc = LOAD_ERROR;

	s->ls_copying = 0;
	db_errmsg(s->ls_conn, errbuf, errlen);
	while ((res = PQgetResult(s->ls_conn)) != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (load_conflict_state(state))
			rc = LOAD_CONFLICT;
		PQclear(res);
	}
	return rc;
}

static enum load_result
load_flush(struct load_session *s, char *errbuf, size_t errlen)
{
	if (s->ls_out.b_len == 0)
		return LOAD_OK;
	/* A server error (a duplicate key in direct mode) ends the COPY
	 * early: libpq then refuses more data. */
	if (PQputCopyData(s->ls_conn, s->ls_out.b_data,
	    (int)s->ls_out.b_len) != 1)
		return load_copy_failed(s, errbuf, errlen);
	buf_reset(&s->ls_out);
	return LOAD_OK;
}

struct load_session *
load_session_begin(PGconn *conn, enum load_mode mode,
    const struct load_options *opts, char *errbuf, size_t errlen)
{
	struct load_session	*s;
	PGresult		*res;
	const char		*copy, *errstr;
	char			 stage[256];
	int			 staged;

	s = xcalloc(1, sizeof(*s));
	s->ls_conn = conn;
	s->ls_mode = mode;
	if (opts != NULL)
		s->ls_opts = *opts;
	/* Large enough for any accepted line plus its row prefix. */
	buf_init(&s->ls_out, (size_t)1 << 31);

	/* now() as the binary timestamptz: microseconds since 2000; and
	 * whether this connection has its merge stage already. */
	res = db_query(conn, "SELECT ((extract(epoch FROM now()) - 946684800) "
	    "* 1000000)::int8, to_regclass('pg_temp.load_stage') IS NOT NULL",
	    0, NULL, errbuf, errlen);
	if (res == NULL)
		goto fail;
	if (str_to_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX,
	    &s->ls_now, &errstr) == -1) {
		snprintf(errbuf, errlen, "transaction time: %s", errstr);
		PQclear(res);
		goto fail;
	}
	staged = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);

	if (mode == LOAD_MERGE) {
		/*
		 * Made once per connection and emptied at each commit in
		 * place: ON COMMIT DROP made and dropped it per transaction,
		 * and TRUNCATE gave it a new file each time, ~22% of a pull
		 * backend's CPU (tests/bench/RESULTS.md, issue 17).  Empty
		 * here: a commit or the previous session's end emptied it,
		 * and a failed session leaves the transaction to roll back.
		 */
		if (!staged && db_exec(conn, "CREATE TEMP TABLE load_stage ("
		    "seq bigint, type text, id text, last_updated timestamptz, "
		    "patient text, content text) ON COMMIT DELETE ROWS", 0,
		    NULL, errbuf, errlen) == -1)
			goto fail;
		copy = "COPY load_stage (seq, type, id, last_updated, patient, "
		    "content) FROM STDIN WITH (FORMAT binary)";
	} else if (mode == LOAD_STAGE) {
		if (s->ls_opts.lo_stage_table == NULL) {
			snprintf(errbuf, errlen, "load: no stage table");
			goto fail;
		}
		snprintf(stage, sizeof(stage), "COPY %s (seq, off, type, id, "
		    "last_updated, patient, content) FROM STDIN WITH "
		    "(FORMAT binary)", s->ls_opts.lo_stage_table);
		copy = stage;
	} else
		copy = "COPY resources (type, id, version, last_updated, "
		    "patient, deleted, content) FROM STDIN WITH (FORMAT binary)";
	res = PQexec(conn, copy);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		db_errmsg(conn, errbuf, errlen);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	s->ls_copying = 1;
	if (copybin_header(&s->ls_out) == -1) {
		snprintf(errbuf, errlen, "out of buffer");
		goto fail;
	}
	return s;
 fail:
	load_session_free(s);
	return NULL;
}

enum load_result
load_session_line(struct load_session *s, const char *line, size_t len,
    char *errbuf, size_t errlen)
{
	struct ndjson_resource	 r;

	if (ndjson_parse(line, len, &r, errbuf, errlen, NULL) == -1)
		return LOAD_BAD_LINE;
	if (s->ls_opts.lo_expect_type != NULL &&
	    (strlen(s->ls_opts.lo_expect_type) != r.nr_type_len ||
	    memcmp(s->ls_opts.lo_expect_type, r.nr_type, r.nr_type_len))) {
		snprintf(errbuf, errlen, "resourceType %.*s does not match the "
		    "input type %s", (int)r.nr_type_len, r.nr_type,
		    s->ls_opts.lo_expect_type);
		return LOAD_BAD_LINE;
	}
	return load_session_row(s, &r, line, len, s->ls_stats.ls_rows, 0,
	    errbuf, errlen);
}

int
load_format_row(struct buf *o, const struct load_session *s,
    const struct ndjson_resource *r, const char *line, size_t len,
    int64_t seq, int64_t off)
{
	int64_t	 lu = s->ls_now;
	size_t	 mark = o->b_len;
	int	 rc = 0;

	if (s->ls_opts.lo_keep_last_updated && r->nr_updated != NULL)
		lu = ndjson_instant_usec(r->nr_updated, r->nr_updated_len);
	if (s->ls_mode == LOAD_MERGE) {
		rc |= copybin_row(o, 6);
		rc |= copybin_int8(o, seq);
	} else if (s->ls_mode == LOAD_STAGE) {
		rc |= copybin_row(o, 7);
		rc |= copybin_int8(o, seq);
		rc |= copybin_int8(o, off);
	} else
		rc |= copybin_row(o, 7);
	rc |= copybin_text(o, r->nr_type, r->nr_type_len);
	rc |= copybin_text(o, r->nr_id, r->nr_id_len);
	if (s->ls_mode == LOAD_DIRECT)
		rc |= copybin_int4(o, 1);
	rc |= copybin_int8(o, lu);
	if (r->nr_patient != NULL)
		rc |= copybin_text(o, r->nr_patient, r->nr_patient_len);
	else
		rc |= copybin_null(o);
	if (s->ls_mode == LOAD_DIRECT)
		rc |= copybin_bool(o, 0);
	rc |= copybin_text(o, line, len);
	if (rc != 0) {
		o->b_len = mark;	/* no partial row goes out */
		return -1;
	}
	return 0;
}

enum load_result
load_session_row(struct load_session *s, const struct ndjson_resource *r,
    const char *line, size_t len, int64_t seq, int64_t off, char *errbuf,
    size_t errlen)
{
	if (!s->ls_copying) {
		snprintf(errbuf, errlen, "load: the COPY has ended");
		return LOAD_ERROR;
	}
	if (load_format_row(&s->ls_out, s, r, line, len, seq, off) == -1) {
		snprintf(errbuf, errlen, "line too long to buffer");
		return LOAD_BAD_LINE;
	}
	s->ls_stats.ls_rows++;
	s->ls_stats.ls_bytes += (int64_t)len;
	if (s->ls_out.b_len >= LOAD_FLUSH)
		return load_flush(s, errbuf, errlen);
	return LOAD_OK;
}

enum load_result
load_session_put(struct load_session *s, const char *rows, size_t len,
    char *errbuf, size_t errlen)
{
	enum load_result	rc;
	size_t			n;

	if (!s->ls_copying) {
		snprintf(errbuf, errlen, "load: the COPY has ended");
		return LOAD_ERROR;
	}
	/* The binary header (and any row queued here) goes first. */
	if ((rc = load_flush(s, errbuf, errlen)) != LOAD_OK || len == 0)
		return rc;
	/* In pieces: libpq's buffer grows to hold what one call passes. */
	while (len > 0) {
		n = len < LOAD_PUT_PIECE ? len : LOAD_PUT_PIECE;
		if (PQputCopyData(s->ls_conn, rows, (int)n) != 1)
			return load_copy_failed(s, errbuf, errlen);
		rows += n;
		len -= n;
	}
	return LOAD_OK;
}

/* The upsert (LOAD_UPSERT): last of duplicate ids wins (highest seq). */
static const char load_merge_sql[] = LOAD_UPSERT(
    "SELECT DISTINCT ON (type, id) type, id, 1, last_updated, patient, "
    "    false, content "
    "FROM load_stage ORDER BY type, id, seq DESC");

enum load_result
load_session_finish(struct load_session *s, struct load_stats *stats,
    char *errbuf, size_t errlen)
{
	PGresult		*res;
	const char		*state;
	const char		*errstr;
	int64_t			 n;
	enum load_result	 rc = LOAD_ERROR;

	if (!s->ls_copying) {
		snprintf(errbuf, errlen, "load: the COPY has ended");
		return LOAD_ERROR;
	}
	if (copybin_trailer(&s->ls_out) == -1) {
		snprintf(errbuf, errlen, "out of buffer");
		return LOAD_ERROR;
	}
	if ((rc = load_flush(s, errbuf, errlen)) != LOAD_OK)
		return rc;
	s->ls_copying = 0;
	if (PQputCopyEnd(s->ls_conn, NULL) != 1) {
		db_errmsg(s->ls_conn, errbuf, errlen);
		return LOAD_ERROR;
	}
	res = PQgetResult(s->ls_conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		db_errmsg(s->ls_conn, errbuf, errlen);
		rc = load_conflict_state(state) ? LOAD_CONFLICT : LOAD_ERROR;
		PQclear(res);
		while ((res = PQgetResult(s->ls_conn)) != NULL)
			PQclear(res);
		return rc;
	}
	PQclear(res);
	while ((res = PQgetResult(s->ls_conn)) != NULL)
		PQclear(res);
	s->ls_stats.ls_changed = s->ls_stats.ls_rows;

	if (s->ls_mode == LOAD_MERGE) {
		res = PQexec(s->ls_conn, load_merge_sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_errmsg(s->ls_conn, errbuf, errlen);
			PQclear(res);
			return LOAD_ERROR;
		}
		if (str_to_i64(PQcmdTuples(res), 0, INT64_MAX, &n,
		    &errstr) == 0)
			s->ls_stats.ls_changed = n;
		PQclear(res);
		/* For a next session in this transaction (rows, no file). */
		if (db_exec(s->ls_conn, "DELETE FROM load_stage", 0, NULL,
		    errbuf, errlen) == -1)
			return LOAD_ERROR;
	}
	if (stats != NULL)
		*stats = s->ls_stats;
	return LOAD_OK;
}

void
load_session_free(struct load_session *s)
{
	PGresult	*res;

	if (s == NULL)
		return;
	if (s->ls_copying) {
		(void)PQputCopyEnd(s->ls_conn, "load aborted");
		while ((res = PQgetResult(s->ls_conn)) != NULL)
			PQclear(res);
	}
	buf_free(&s->ls_out);
	free(s);
}

/* ---- bulkhead load ---------------------------------------------------- */

struct load_files {
	char	**lf_paths;	/* owned */
	size_t	  lf_n;
};

static int
load_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_files_add(struct load_files *f, char *path)
{
	f->lf_paths = xreallocarray(f->lf_paths, f->lf_n + 1, sizeof(char *));
	f->lf_paths[f->lf_n++] = path;
}

/* Expands directories to their *.ndjson files, sorted by name. */
static int
load_expand(struct load_files *f, const char *arg)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	size_t		 first = f->lf_n, len;

	if (stat(arg, &st) == -1) {
		fprintf(stderr, "bulkhead load: %s: %s\n", arg,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		load_files_add(f, xstrdup(arg));
		return 0;
	}
	if ((d = opendir(arg)) == NULL) {
		fprintf(stderr, "bulkhead load: %s: %s\n", arg,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 7 && strcmp(de->d_name + len - 7, ".ndjson") == 0)
			load_files_add(f, xasprintf("%s/%s", arg, de->d_name));
	}
	closedir(d);
	if (f->lf_n == first) {
		fprintf(stderr, "bulkhead load: %s: no .ndjson files\n", arg);
		return -1;
	}
	qsort(f->lf_paths + first, f->lf_n - first, sizeof(char *), load_cmp);
	return 0;
}

/* Streams every file into one session.  Returns LOAD_* ; on a bad line
 * prints "FILE:LINE: reason" and returns LOAD_BAD_LINE. */
static enum load_result
load_files_into(struct load_session *s, struct load_files *f,
    int64_t max_line, int64_t *blank)
{
	struct lines		 lr;
	enum lines_status	 st;
	enum load_result	 rc = LOAD_OK;
	const char		*line;
	char			 err[512];
	size_t			 i, len;
	int			 fd;

	for (i = 0; i < f->lf_n && rc == LOAD_OK; i++) {
		if ((fd = open(f->lf_paths[i], O_RDONLY | O_CLOEXEC)) == -1) {
			fprintf(stderr, "bulkhead load: %s: %s\n",
			    f->lf_paths[i], strerror(errno));
			return LOAD_BAD_LINE;
		}
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		lines_init(&lr, lines_read_fd, &fd, (size_t)max_line);
		while ((st = lines_next(&lr, &line, &len)) != LINES_EOF) {
			if (st == LINES_ERROR) {
				fprintf(stderr, "bulkhead load: %s: %s\n",
				    f->lf_paths[i], strerror(errno));
				rc = LOAD_BAD_LINE;
				break;
			}
			if (st == LINES_TOOLONG) {
				fprintf(stderr, "bulkhead load: %s:%lld: line "
				    "longer than %lld bytes\n", f->lf_paths[i],
				    (long long)lr.l_lineno,
				    (long long)max_line);
				rc = LOAD_BAD_LINE;
				break;
			}
			if (len == 0) {
				(*blank)++;
				continue;
			}
			rc = load_session_line(s, line, len, err, sizeof(err));
			if (rc == LOAD_BAD_LINE)
				fprintf(stderr, "bulkhead load: %s:%lld: %s\n",
				    f->lf_paths[i], (long long)lr.l_lineno,
				    err);
			else if (rc == LOAD_ERROR)
				fprintf(stderr, "bulkhead load: database: "
				    "%s\n", err);
			if (rc != LOAD_OK)
				break;
		}
		lines_free(&lr);
		close(fd);
	}
	return rc;
}

int
load_main(struct cfg *cfg, int argc, char **argv)
{
	struct load_files	 files = { NULL, 0 };
	struct load_options	 opts = { 1, NULL, NULL };
	struct load_stats	 stats = { 0, 0, 0 };
	struct load_session	*s = NULL;
	enum load_mode		 mode = LOAD_DIRECT;
	enum load_result	 lr;
	PGconn			*conn = NULL;
	char			 err[1024], rows[32];
	double			 t0;
	int64_t			 blank;
	int			 i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--merge") == 0)
			mode = LOAD_MERGE;
		else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: bulkhead load [--merge] DIR|FILE...\n"
			    "Loads NDJSON resources in one transaction: all "
			    "of them or, on the first bad line, none.\n");
			rc = 0;
			goto out;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "bulkhead load: unknown flag %s\n",
			    argv[i]);
			rc = 2;
			goto out;
		} else if (load_expand(&files, argv[i]) == -1)
			goto out;
	}
	if (files.lf_n == 0) {
		fprintf(stderr, "usage: bulkhead load [--merge] DIR|FILE...\n");
		rc = 2;
		goto out;
	}
	if ((conn = db_connect(cfg->database_url, "load", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "bulkhead load: database unreachable: %s\n",
		    err);
		goto out;
	}
	t0 = clock_mono();
	for (;;) {
		blank = 0;
		if (db_exec(conn, "BEGIN", 0, NULL, err, sizeof(err)) == -1 ||
		    (s = load_session_begin(conn, mode, &opts, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "bulkhead load: %s\n", err);
			goto out;
		}
		lr = load_files_into(s, &files, cfg->import_max_line, &blank);
		if (lr == LOAD_OK)
			lr = load_session_finish(s, &stats, err, sizeof(err));
		load_session_free(s);
		s = NULL;
		if (lr == LOAD_OK)
			break;
		(void)db_exec(conn, "ROLLBACK", 0, NULL, err, sizeof(err));
		if (lr == LOAD_CONFLICT && mode == LOAD_DIRECT) {
			log_info("some ids exist already: loading again as "
			    "an upsert");
			mode = LOAD_MERGE;
			continue;
		}
		if (lr == LOAD_ERROR)
			fprintf(stderr, "bulkhead load: database: %s\n", err);
		fprintf(stderr, "bulkhead load: nothing loaded\n");
		goto out;
	}
	if (db_exec(conn, "COMMIT", 0, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead load: commit: %s\n", err);
		goto out;
	}
	str_group_digits(rows, sizeof(rows), stats.ls_rows);
	printf("loaded %s resources (%lld new or changed, %lld blank lines) "
	    "from %zu file%s in %.1f s\n", rows, (long long)stats.ls_changed,
	    (long long)blank, files.lf_n, files.lf_n == 1 ? "" : "s",
	    clock_mono() - t0);
	rc = 0;
 out:
	load_session_free(s);
	PQfinish(conn);
	for (size_t j = 0; j < files.lf_n; j++)
		free(files.lf_paths[j]);
	free(files.lf_paths);
	return rc;
}
