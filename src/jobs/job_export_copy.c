/*
 * job_export_copy.c — streaming an export's rows: one step's COPY ...
 * TO STDOUT statements (page ranges of a scan, a cohort lookup in id
 * order, tombstones, Patient blocks) and each row into the step's
 * outfile set, _elements subsetting included; the lenient warnings; and
 * the sweep of files a crashed attempt left unrecorded.  The per-row
 * functions are static here, in the file that loops over rows.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulk/outfile.h"
#include "core/cfg.h"
#include "jobs/job_export_int.h"
#include "jobs/throttle.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "store/copybin.h"
#include "store/db.h"
#include "store/job_files.h"
#include "store/jobq.h"

#define SUBSETTED_TAG \
	"{\"system\":\"http://terminology.hl7.org/CodeSystem/" \
	"v3-ObservationValue\",\"code\":\"SUBSETTED\"}"

/* _elements: keeps the listed top-level elements, the mandatory ones and
 * resourceType/id/meta, and tags the result SUBSETTED (EXP-P-EL-*). */
static char *
xp_subset(struct xp *x, const char *type, const char *line, size_t len)
{
	cJSON		*r, *child, *next, *meta, *tags, *req;
	char		 qual[160];
	char		*out;

	if ((r = cJSON_ParseWithLength(line, len)) == NULL)
		return NULL;
	req = cJSON_GetObjectItemCaseSensitive(x->required, type);
	for (child = r->child; child != NULL; child = next) {
		next = child->next;
		snprintf(qual, sizeof(qual), "%s.%s", type, child->string);
		if (strcmp(child->string, "resourceType") == 0 ||
		    strcmp(child->string, "id") == 0 ||
		    strcmp(child->string, "meta") == 0 ||
		    job_export_listed(x->elements, child->string) ||
		    job_export_listed(x->elements, qual) ||
		    job_export_listed(req, child->string))
			continue;
		cJSON_Delete(cJSON_DetachItemViaPointer(r, child));
	}
	if ((meta = cJSON_GetObjectItemCaseSensitive(r, "meta")) == NULL)
		meta = cJSON_AddObjectToObject(r, "meta");
	if ((tags = cJSON_GetObjectItemCaseSensitive(meta, "tag")) == NULL ||
	    !cJSON_IsArray(tags)) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "tag");
		tags = cJSON_AddArrayToObject(meta, "tag");
	}
	cJSON_AddItemToArray(tags, cJSON_Parse(SUBSETTED_TAG));
	out = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return out;
}

/*
 * A range is read without ORDER BY: a TID range scan returns the heap in
 * physical order, and sorting every range cost PostgreSQL a third more
 * CPU.  The cursor relies on that order, so it is checked, not assumed:
 * a row at or before the previous one fails the attempt.
 */
static int
xp_scan_order(struct xp *x, int64_t page, int64_t off)
{
	if (x->last_tid && (page < x->last_page ||
	    (page == x->last_page && off <= x->last_off))) {
		job_ctx_error(x->ctx, "export: rows of a page range came out "
		    "of physical order (after %s)", x->last_key);
		return -1;
	}
	return 0;
}

/* One COPY row: the cursor, then the payload. */
static int
xp_row(struct xp *x, const struct xp_step *s, char *row, int len)
{
	char		*val[2], *payload, *sub = NULL;
	size_t		 vlen[2], plen;
	int64_t		 page = 0, off = 0;
	struct buf	 b;
	int		 rc;

	if (copybin_split(row, (size_t)len, 2, val, vlen) == -1 ||
	    (s->s_kind == XP_SCAN && copybin_tid(val[0], vlen[0], &page,
	    &off) == -1)) {
		job_ctx_error(x->ctx, "export: malformed COPY row");
		return -1;
	}
	payload = val[1];
	plen = vlen[1];
	if (s->s_kind == XP_SCAN && xp_scan_order(x, page, off) == -1)
		return -1;
	if (s->s_kind == XP_DELETED) {
		buf_init(&b, 4096);
		(void)buf_puts(&b, "{\"resourceType\":\"Bundle\",\"type\":"
		    "\"transaction\",\"entry\":[{\"request\":{\"method\":"
		    "\"DELETE\",\"url\":\"");
		(void)buf_json_escape(&b, payload, plen);
		(void)buf_puts(&b, "\"}}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
	} else {
		if (x->elements != NULL && s->s_kind != XP_WARNINGS &&
		    (sub = xp_subset(x, s->s_type, payload, plen)) != NULL) {
			payload = sub;
			plen = strlen(sub);
		}
		rc = outfile_set_write(x->set, payload, plen, x->err,
		    sizeof(x->err));
		cJSON_free(sub);
	}
	if (rc == -1) {
		if (!job_ctx_stopping(x->ctx))
			job_ctx_error(x->ctx, "export: writing %s: %s",
			    s->s_type, x->err);
		return -1;
	}
	/* Only now is the row in a file: the cursor may move past it. */
	if (s->s_kind == XP_SCAN) {
		snprintf(x->last_key, sizeof(x->last_key), "(%lld,%lld)",
		    (long long)page, (long long)off);
		x->last_page = page;
		x->last_off = off;
		x->last_tid = 1;
	} else
		str_lcpy(x->last_key, val[0], sizeof(x->last_key));
	x->type_rows++;
	x->all_rows++;
	return 0;
}

/*
 * organizeOutputBy=Patient (EXP-O-02): (pid, type, content) rows in
 * patient order.  Each block starts with a Parameters header naming its
 * patient; files close only between blocks, so a file never splits a
 * block and the cursor (the last complete block's patient) stays exact.
 */
static int
xp_block_row(struct xp *x, const struct xp_step *s, char *row, int len)
{
	char		*val[3], *pid, *payload, *sub = NULL;
	char		 type[72];
	size_t		 vlen[3], plen;
	struct buf	 b;
	int		 rc = -1;

	buf_init(&b, 4096);
	if (copybin_split(row, (size_t)len, 3, val, vlen) == -1 ||
	    vlen[1] >= sizeof(type)) {
		job_ctx_error(x->ctx, "export: malformed COPY row");
		goto out;
	}
	pid = val[0];
	memcpy(type, val[1], vlen[1] + 1);
	payload = val[2];
	plen = vlen[2];
	if (strcmp(pid, x->last_key) != 0) {
		if (outfile_set_current_count(x->set) > 0 &&
		    (outfile_set_current_count(x->set) >=
		    x->cfg->export_file_resources ||
		    x->file_bytes >= x->cfg->export_file_bytes)) {
			if (outfile_set_close_current(x->set, x->err,
			    sizeof(x->err)) == -1)
				goto fail;
			x->file_bytes = 0;
		}
		str_lcpy(x->last_key, pid, sizeof(x->last_key));
		(void)buf_puts(&b, "{\"resourceType\":\"Parameters\","
		    "\"parameter\":[{\"name\":\"header\",\"valueReference\":"
		    "{\"reference\":\"Patient/");
		(void)buf_json_escape(&b, pid, strlen(pid));
		(void)buf_puts(&b, "\"}}]}");
		if (outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err)) == -1)
			goto fail;
		x->file_bytes += (int64_t)b.b_len + 1;
	}
	if (x->elements != NULL &&
	    (sub = xp_subset(x, type, payload, plen)) != NULL) {
		payload = sub;
		plen = strlen(sub);
	}
	if (outfile_set_write(x->set, payload, plen, x->err,
	    sizeof(x->err)) == -1)
		goto fail;
	x->file_bytes += (int64_t)plen + 1;
	x->type_rows++;
	x->all_rows++;
	rc = 0;
	goto out;
 fail:
	if (!job_ctx_stopping(x->ctx))
		job_ctx_error(x->ctx, "export: writing %s blocks: %s",
		    s->s_type, x->err);
 out:
	cJSON_free(sub);
	buf_free(&b);
	return rc;
}

/* The UNION of the block types, each with its own conditions, sorted by
 * patient, then type (Patient first), then id. */
static void
xp_blocks_sql(struct xp *x, struct buf *sql)
{
	struct buf	cond;
	int		i, n = 0;

	(void)buf_puts(sql, "COPY (SELECT pid, type, content FROM (");
	for (i = 0; i < x->nsteps; i++) {
		const struct xp_step *t = &x->steps[i];
		int patient = strcmp(t->s_type, "Patient") == 0;

		if (!t->s_in_block)
			continue;
		buf_init(&cond, EXPORT_SQL_MAX);
		job_export_plan_conditions(x, t, &cond);
		(void)buf_printf(sql, "%sSELECT %s AS pid, %d AS ord, id, "
		    "type, content FROM %s WHERE %s", n++ ? " UNION ALL " : "",
		    patient ? "id" : "patient", patient ? 0 : i + 1,
		    t->s_table, cond.b_data);
		buf_free(&cond);
	}
	if (n == 0)
		(void)buf_puts(sql, "SELECT NULL::text AS pid, 0 AS ord, "
		    "NULL::text AS id, NULL::text AS type, NULL::text AS "
		    "content WHERE false");
	(void)buf_puts(sql, ") b WHERE pid IS NOT NULL AND pid > "
	    "current_setting('bulkhead.cursor') ORDER BY pid, ord, id) "
	    "TO STDOUT " EXPORT_COPY);
}

/* Runs one COPY ... TO STDOUT and writes its rows. */
static int
xp_copy(struct xp *x, const struct xp_step *s, const char *sql)
{
	PGresult	*res;
	char		*row;
	int		 len, first = 1, rc = -1;

	res = PQexec(x->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		db_errmsg(x->conn, x->err, sizeof(x->err));
		job_ctx_error(x->ctx, "export: %s: %s", s->s_type, x->err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((len = PQgetCopyData(x->conn, &row, 0)) > 0) {
		char	*r = row;
		int	 bad = 0;

		/* The header comes before the first row, in its message. */
		if (first) {
			first = 0;
			if (!copybin_is_header(row, (size_t)len))
				bad = -1;
			r += COPYBIN_HEADER;
			len -= COPYBIN_HEADER;
		}
		if (bad)
			job_ctx_error(x->ctx, "export: not a binary COPY");
		else if (len == 0 || copybin_is_trailer(r, (size_t)len))
			;	/* the header alone, or the trailer */
		else
			bad = s->s_kind == XP_BLOCKS ? xp_block_row(x, s, r,
			    len) : xp_row(x, s, r, len);
		PQfreemem(row);
		if (bad ||
		    throttle_take(job_ctx_throttle(x->ctx), 1, len) == -1 ||
		    ((x->type_rows % EXPORT_TICK_ROWS) == 0 &&
		    job_ctx_tick(x->ctx) == -1)) {
			/* Abandon the COPY: the transaction is rolled back
			 * with the connection's next use. */
			PQrequestCancel(x->conn);
			while (PQgetCopyData(x->conn, &row, 0) > 0)
				PQfreemem(row);
			goto drain;
		}
	}
	if (len == -2) {
		db_errmsg(x->conn, x->err, sizeof(x->err));
		job_ctx_error(x->ctx, "export: %s: %s", s->s_type, x->err);
		goto drain;
	}
	rc = 0;
 drain:
	while ((res = PQgetResult(x->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_errmsg(x->conn, x->err, sizeof(x->err));
			job_ctx_error(x->ctx, "export: %s: %s", s->s_type,
			    x->err);
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* The warnings of lenient handling, one OperationOutcome per line. */
static int
xp_warnings(struct xp *x, const struct xp_step *s)
{
	const cJSON	*w;
	struct buf	 b;
	int		 i = 0, rc = 0;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(x->params,
	    "warnings")) {
		if (i++ < x->next_seq - 1 || !cJSON_IsString(w))
			continue;
		buf_init(&b, 8192);
		(void)buf_puts(&b, "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"warning\",\"code\":"
		    "\"not-supported\",\"diagnostics\":\"");
		(void)buf_json_escape(&b, w->valuestring,
		    strlen(w->valuestring));
		(void)buf_puts(&b, "\"}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
		if (rc == -1)
			break;
		snprintf(x->last_key, sizeof(x->last_key), "%d", i);
	}
	/* After them, what _since=last-success resolved to, so that the
	 * manifest says which window the export holds. */
	if (rc == 0 && x->ls_note[0] != '\0' && i++ >= x->next_seq - 1) {
		buf_init(&b, 8192);
		(void)buf_puts(&b, "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"information\",\"code\":"
		    "\"informational\",\"diagnostics\":\"");
		(void)buf_json_escape(&b, x->ls_note, strlen(x->ls_note));
		(void)buf_puts(&b, "\"}]}");
		rc = outfile_set_write(x->set, b.b_data, b.b_len, x->err,
		    sizeof(x->err));
		buf_free(&b);
		if (rc == 0)
			snprintf(x->last_key, sizeof(x->last_key), "%d", i);
	}
	(void)s;
	return rc;
}

/* Parses a "(page,offset)" tid.  0, or -1 if it is not one. */
static int
xp_tid_parse(const char *tid, int64_t *page, int64_t *off)
{
	char		*end;
	long long	 p, o;

	if (tid[0] != '(' || tid[1] < '0' || tid[1] > '9')
		return -1;
	p = strtoll(tid + 1, &end, 10);
	if (*end != ',' || end[1] < '0' || end[1] > '9')
		return -1;
	o = strtoll(end + 1, &end, 10);
	if (*end != ')' || p < 0 || o < 0)
		return -1;
	*page = p;
	*off = o;
	return 0;
}

/* The page number of a "(page,offset)" tid cursor, 0 if not one. */
static int64_t
xp_tid_page(const char *tid)
{
	int64_t	page, off;

	return xp_tid_parse(tid, &page, &off) == 0 ? page : 0;
}

int
job_export_copy_step(struct xp *x)
{
	struct xp_step	*s = &x->steps[x->step];
	struct buf	 sql, cond;
	char		*progress, start[64], end[64];
	int64_t		 pages, page, first;
	int		 rc = -1;

	buf_init(&sql, EXPORT_SQL_MAX);
	buf_init(&cond, EXPORT_SQL_MAX);
	x->type_rows = 0;
	x->type_total = -1;
	x->step_pages = 0;
	str_lcpy(x->last_key, x->cursor, sizeof(x->last_key));
	x->last_tid = xp_tid_parse(x->last_key, &x->last_page,
	    &x->last_off) == 0;
	/* Blocks roll files themselves, between blocks (0: no limit). */
	x->file_bytes = 0;
	x->set = outfile_set_open(x->dir, s->s_kind == XP_WARNINGS ?
	    "OperationOutcome" : s->s_kind == XP_DELETED ? "Bundle-deleted" :
	    s->s_kind == XP_BLOCKS ? "Patient-blocks" : s->s_type,
	    x->next_seq, s->s_kind == XP_BLOCKS ? 0 :
	    x->cfg->export_file_resources, s->s_kind == XP_BLOCKS ? 0 :
	    x->cfg->export_file_bytes, x->cfg->zstd_level,
	    job_export_file_done, x, x->err, sizeof(x->err));
	if (x->set == NULL) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		goto out;
	}
	/* Ranges must be TID range scans (physical order); cohort lookups
	 * want their indexes. */
	if (job_export_setting(x, "type", s->s_type) == -1 || job_export_exec(x,
	    s->s_kind == XP_SCAN ? "SET LOCAL enable_indexscan = off" :
	    "SET LOCAL enable_indexscan = on", 0, NULL) == -1)
		goto out;
	/* GIN (the Provenance target index) is read by bitmap scans only. */
	if (s->s_targets != x->bitmap) {
		if (job_export_exec(x, s->s_targets ?
		    "SET LOCAL enable_bitmapscan = on" :
		    "SET LOCAL enable_bitmapscan = off", 0, NULL) == -1)
			goto out;
		x->bitmap = s->s_targets;
	}
	if (s->s_kind == XP_WARNINGS) {
		if (xp_warnings(x, s) == -1)
			goto out;
		goto close;
	}
	if (s->s_kind == XP_BLOCKS) {
		if (job_export_setting(x, "cursor", x->cursor) == -1)
			goto out;
		xp_blocks_sql(x, &sql);
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		goto close;
	}
	if (s->s_assoc)
		job_export_plan_assoc(x, s, &cond);
	else
		job_export_plan_conditions(x, s, &cond);
	if (s->s_kind == XP_LOOKUP || s->s_kind == XP_DELETED) {
		/* The cursor is bound like every other value. */
		if (job_export_setting(x, "cursor", x->cursor) == -1)
			goto out;
		(void)buf_printf(&sql, "COPY (SELECT %s, %s FROM %s WHERE %s "
		    "AND %s > current_setting('bulkhead.cursor') ORDER BY %s) "
		    "TO STDOUT " EXPORT_COPY,
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id",
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "content",
		    s->s_kind == XP_DELETED ? "resources" : s->s_table,
		    cond.b_data,
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id",
		    s->s_kind == XP_DELETED ? "type || '/' || id" : "id");
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		goto close;
	}

	/* XP_SCAN: page ranges in order, resuming after the cursor. */
	x->type_total = job_export_int(x, "SELECT greatest(reltuples, "
	    "0)::bigint FROM pg_class WHERE oid = $1::regclass", s->s_table);
	pages = job_export_int(x, "SELECT pg_relation_size($1::regclass) / "
	    "current_setting('block_size')::int", s->s_table);
	if (pages < 0) {
		job_ctx_error(x->ctx, "export: size of %s: %s", s->s_table,
		    x->err);
		goto out;
	}
	first = xp_tid_page(x->cursor);
	for (page = first - first % EXPORT_CHUNK_PAGES; page < pages;
	    page += EXPORT_CHUNK_PAGES) {
		/* The first range resumes after the cursor's row. */
		int resume = page == first - first % EXPORT_CHUNK_PAGES &&
		    x->cursor[0] == '(';

		if (resume)
			str_lcpy(start, x->cursor, sizeof(start));
		else
			snprintf(start, sizeof(start), "(%lld,0)",
			    (long long)page);
		snprintf(end, sizeof(end), "(%lld,0)",
		    (long long)(page + EXPORT_CHUNK_PAGES));
		if (job_export_setting(x, "lo", start) == -1 ||
		    job_export_setting(x, "hi", end) == -1)
			goto out;
		buf_reset(&sql);
		(void)buf_printf(&sql, "COPY (SELECT ctid, content FROM %s "
		    "WHERE ctid %s current_setting('bulkhead.lo')::tid AND "
		    "ctid < current_setting('bulkhead.hi')::tid AND %s) "
		    "TO STDOUT " EXPORT_COPY, s->s_table,
		    resume ? ">" : ">=", cond.b_data);
		if (xp_copy(x, s, sql.b_data) == -1)
			goto out;
		x->step_pages = page + EXPORT_CHUNK_PAGES < pages ?
		    page + EXPORT_CHUNK_PAGES : pages;
		progress = job_export_progress(x, s);
		if (job_ctx_save(x->ctx, progress, NULL) == -1) {
			free(progress);
			goto out;
		}
		free(progress);
	}
 close:
	if (outfile_set_close_current(x->set, x->err, sizeof(x->err)) == -1) {
		if (!job_ctx_stopping(x->ctx))
			job_ctx_error(x->ctx, "export: %s", x->err);
		goto out;
	}
	rc = 0;
 out:
	if (rc == -1)
		outfile_set_abort(x->set);
	else
		outfile_set_free(x->set);
	x->set = NULL;
	buf_free(&sql);
	buf_free(&cond);
	return rc;
}

/* Removes files of this job that no job_outputs row lists: what a crashed
 * attempt left behind (a .tmp, or a file renamed but not yet recorded). */
void
job_export_copy_sweep(struct xp *x)
{
	DIR		*d;
	struct dirent	*de;
	const char	*id = job_ctx_id(x->ctx);
	char		 rel[1400], path[1400];

	if ((d = opendir(x->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || job_files_rel(id, de->d_name, rel,
		    sizeof(rel)) == -1)
			continue;
		/* Unlisted: remove it; a database error keeps it. */
		if (jobq_output_find(x->conn, id, rel, 0, NULL, NULL, 0,
		    x->err, sizeof(x->err)) == 0 &&
		    job_files_path(x->dir, de->d_name, path,
		    sizeof(path)) == 0)
			(void)unlink(path);
	}
	closedir(d);
}
