/*
 * export_files.c — downloads of a bulk job's output files (SPEC §1.13):
 * GET <base>/_jobs/<id>/files/<name>.  A file is served only when a
 * job_outputs row of that completed job names it (jobq_output_find), so
 * no path from a client ever reaches the file system; zstd as stored,
 * gzip or identity (with byte ranges) transcoded on the fly, with a
 * strong ETag per coding.  With auth = smart a download needs a bearer
 * token of the job's client (any other: 404, AUTH-BE-06) whose scopes
 * read the file's type (403 otherwise; an organized file: every type of
 * the job) — or a signed URL of that very file (api/signed_url.h,
 * auth/urlsign.h: OpenHIM notifications and polls, the admin console),
 * which needs no token.  API process, libmicrohttpd's threads.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/auth_bearer.h"
#include "api/export_api_int.h"
#include "api/export_files.h"
#include "api/signed_url.h"
#include "auth/scope.h"
#include "bulk/transcode.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

#define EXPORT_READ_CHUNK	(256 * 1024)

struct export_stream {
	struct transcode	*ts_tc;
	struct http_req		*ts_req;
	int64_t			 ts_left;	/* identity range bytes, or -1 */
};

static ssize_t
export_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct export_stream	*s = cls;
	ssize_t			 n;

	(void)pos;
	if (s->ts_left == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->ts_left > 0 && (int64_t)max > s->ts_left)
		max = (size_t)s->ts_left;
	n = transcode_read(s->ts_tc, buf, max);
	if (n == 0)
		return s->ts_left > 0 ? MHD_CONTENT_READER_END_WITH_ERROR :
		    MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0) {
		log_warnx("request %s: file stream: %s",
		    http_req_id(s->ts_req), transcode_error(s->ts_tc));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (s->ts_left > 0)
		s->ts_left -= n;
	http_req_count_bytes(s->ts_req, (uint64_t)n);
	return n;
}

static void
export_stream_free(void *cls)
{
	struct export_stream	*s = cls;

	transcode_close(s->ts_tc);
	free(s);
}

/* Parses a single "bytes=a-b" range against len.  0: no (usable) range,
 * serve whole; 1: *from and *to set; -1: unsatisfiable. */
static int
export_range(const char *h, int64_t len, int64_t *from, int64_t *to)
{
	const char	*errstr;
	char		 a[32], b[32];
	const char	*dash;
	size_t		 alen;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if ((dash = strchr(h, '-')) == NULL)
		return 0;
	alen = (size_t)(dash - h);
	if (alen >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return 0;
	memcpy(a, h, alen);
	a[alen] = '\0';
	str_lcpy(b, dash + 1, sizeof(b));
	if (alen == 0) {		/* suffix: the last N bytes */
		int64_t n;

		if (str_to_i64(b, 1, INT64_MAX, &n, &errstr) == -1)
			return 0;
		*from = n >= len ? 0 : len - n;
		*to = len - 1;
	} else {
		if (str_to_i64(a, 0, INT64_MAX, from, &errstr) == -1)
			return 0;
		if (b[0] == '\0')
			*to = len - 1;
		else if (str_to_i64(b, 0, INT64_MAX, to, &errstr) == -1 ||
		    *to < *from)
			return 0;
		if (*to >= len)
			*to = len - 1;
	}
	return *from < len ? 1 : -1;
}

/*
 * AUTH-BE-06 for one file rel of job id: the job must be the principal's
 * (404 otherwise) and an output file's type readable with its scopes
 * (403); error and deleted files need only the job.  An organized
 * output file (no type of its own) needs every type of the job.  1 when
 * allowed, 0 after answering, -1 when the database failed (errbuf).
 */
static int
export_files_allowed(struct http_req *req, PGconn *conn,
    const struct token_principal *tp, const char *id, const char *rel,
    char *errbuf, size_t errlen)
{
	struct jobq_job		*job = NULL;
	struct jobq_outrow	*rows = NULL;
	const struct jobq_outrow *r = NULL;
	const cJSON		*t;
	cJSON			*params = NULL;
	size_t			 nrows = 0, i;
	int			 n, rc = -1;

	if ((n = jobq_get(conn, id, &job, errbuf, errlen)) == -1)
		return -1;
	if (n == 0 || !export_api_owns(tp, job->j_client)) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file "
		    "(unknown, not yet complete, deleted or expired)");
		rc = 0;
		goto out;
	}
	if (jobq_outputs_list(conn, id, NULL, &rows, &nrows, errbuf,
	    errlen) == -1)
		goto out;
	for (i = 0; i < nrows && r == NULL; i++)
		if (rows[i].r_file != NULL && strcmp(rows[i].r_file, rel) == 0)
			r = &rows[i];
	rc = 1;
	if (r == NULL || strcmp(r->r_channel, "output") != 0 ||
	    strcmp(job->j_kind, "import") == 0)
		goto out;	/* unknown (404 below), or not resources */
	params = cJSON_Parse(job->j_params);
	if (cJSON_GetObjectItemCaseSensitive(params, "organizeOutputBy") ==
	    NULL) {
		if (!scope_can_read(&tp->tp_scope, r->r_type)) {
			(void)auth_bearer_forbidden(req, "the access token's "
			    "scopes do not allow reading %s resources",
			    r->r_type);
			rc = 0;
		}
		goto out;
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(params,
	    "types"))
		if (!cJSON_IsString(t) ||
		    !scope_can_read(&tp->tp_scope, t->valuestring)) {
			(void)auth_bearer_forbidden(req, "the access token's "
			    "scopes do not cover every type of this file");
			rc = 0;
			goto out;
		}
 out:
	cJSON_Delete(params);
	jobq_outrows_free(rows, nrows);
	jobq_job_free(job);
	return rc;
}

void
export_files_get(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);
	const char		*id = http_req_param(req, "id");
	const char		*name = http_req_param(req, "name");
	const char		*inm;
	struct export_stream	*s = NULL;
	struct MHD_Response	*resp = NULL;
	struct token_principal	 tp;
	struct buf		 ae;
	enum transcode_enc	 enc;
	struct stat		 st;
	PGconn			*conn;
	char			 rel[512], path[1400], err[512], etag[100];
	char			 cr[96], checksum[80];
	char			 client[EXPORT_API_CLIENT_MAX];
	int64_t			 bytes = 0, from = 0, to = 0;
	int			 fd = -1, ranged = 0, n, sig;
	unsigned int		 status = 200;

	buf_init(&ae, HTTP_ROUTE_MAX_HEADER);
	/* A signed URL (signed_url.h) stands for the token: the one file
	 * whose path it signs.  Anything else about it is 403. */
	if (id == NULL || name == NULL || job_files_rel(id, name, rel,
	    sizeof(rel)) == -1)
		rel[0] = '\0';
	if ((sig = signed_url_check(req, rel)) == -1)
		goto out;
	memset(&tp, 0, sizeof(tp));
	if (!sig && export_api_principal(req, &tp, client,
	    sizeof(client)) == -1)
		goto out;
	if (id == NULL || name == NULL || strlen(id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(id, strlen(id)) || strchr(name, '/') != NULL) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file");
		goto out;
	}
	if (job_files_rel(id, name, rel, sizeof(rel)) == -1 ||
	    job_files_path(cfg->data_dir, rel, path, sizeof(path)) == -1) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file");
		goto out;
	}
	if ((conn = export_api_conn(req)) == NULL)
		goto out;
	n = 1;
	if (!sig && !tp.tp_auth_off && (n = export_files_allowed(req, conn,
	    &tp, id, rel, err, sizeof(err))) == 0)
		goto out;
	if (n == -1 || (n = jobq_output_find(conn, id, rel, 1, &bytes,
	    checksum, sizeof(checksum), err, sizeof(err))) == -1) {
		http_db_discard();
		(void)http_reply_outcome(req, 503, "transient", "job store "
		    "unavailable; retry later");
		goto out;
	}
	if (n == 0) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file "
		    "(unknown, not yet complete, deleted or expired)");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		(void)http_reply_outcome(req, 404, "not-found", "the file is "
		    "no longer available (expired)");
		goto out;
	}
	(void)http_req_header_all(req, "Accept-Encoding", &ae);
	if (transcode_choose(ae.b_len ? ae.b_data : NULL, &enc) == -1) {
		(void)http_reply_outcome(req, 406, "not-supported", "no "
		    "acceptable content coding: this server sends zstd, gzip "
		    "or identity");
		goto out;
	}
	/* A strong ETag per representation: the stored bytes' hash and
	 * the coding (gzip output is deterministic at a fixed level). */
	snprintf(etag, sizeof(etag), "\"%.64s-%s\"", checksum,
	    transcode_enc_name(enc));
	(void)http_resp_header(req, "ETag", etag);
	(void)http_resp_header(req, "Vary", "Accept-Encoding");
	(void)http_resp_header(req, "Cache-Control", "private, no-transform");
	if ((inm = http_req_header(req, "If-None-Match")) != NULL &&
	    (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)) {
		(void)http_reply_data(req, 304, "application/fhir+ndjson", "",
		    0);
		goto out;
	}
	if (enc == TRANSCODE_ZSTD) {
		(void)http_resp_header(req, "Content-Encoding", "zstd");
		resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (resp == NULL)
			goto fail;
		fd = -1;	/* the response owns it */
		(void)MHD_add_response_header(resp, "Content-Type",
		    "application/fhir+ndjson");
		(void)http_reply_response(req, 200, resp,
		    (uint64_t)st.st_size);
		resp = NULL;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->ts_req = req;
	s->ts_left = -1;
	if (enc == TRANSCODE_IDENTITY) {
		(void)http_resp_header(req, "Accept-Ranges", "bytes");
		ranged = export_range(http_req_header(req, "Range"), bytes,
		    &from, &to);
		if (ranged == -1) {
			snprintf(cr, sizeof(cr), "bytes */%lld",
			    (long long)bytes);
			(void)http_resp_header(req, "Content-Range", cr);
			(void)http_reply_outcome(req, 416, "invalid", "range "
			    "not satisfiable: the file has %lld bytes",
			    (long long)bytes);
			goto out;
		}
		if (ranged == 0) {
			from = 0;
			to = bytes - 1;
		} else {
			status = 206;
			snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld",
			    (long long)from, (long long)to, (long long)bytes);
			(void)http_resp_header(req, "Content-Range", cr);
		}
		s->ts_left = to - from + 1;
	} else
		(void)http_resp_header(req, "Content-Encoding", "gzip");
	s->ts_tc = transcode_open(path, enc, enc == TRANSCODE_IDENTITY ?
	    from : 0, err, sizeof(err));
	if (s->ts_tc == NULL) {
		(void)http_reply_internal(req, "open %s: %s", path, err);
		goto out;
	}
	resp = MHD_create_response_from_callback(enc == TRANSCODE_IDENTITY ?
	    (uint64_t)(to - from + 1) : MHD_SIZE_UNKNOWN, EXPORT_READ_CHUNK,
	    export_stream_read, s, export_stream_free);
	if (resp == NULL)
		goto fail;
	s = NULL;	/* the response owns it */
	(void)MHD_add_response_header(resp, "Content-Type",
	    "application/fhir+ndjson");
	(void)http_reply_response(req, status, resp, 0);
	resp = NULL;
	goto out;
 fail:
	(void)http_reply_internal(req, "cannot build the response for %s",
	    path);
 out:
	if (s != NULL)
		export_stream_free(s);
	if (fd != -1)
		close(fd);
	buf_free(&ae);
}
