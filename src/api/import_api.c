/*
 * import_api.c — $import kick-off and its status rendering (SPEC §3).
 *
 * The kick-off validates everything it can without fetching: the body's
 * shape, formats, types, URL schemes, the host allowlist, file:// paths
 * against the import directory, duplicate inputs and the limits.  The
 * worker re-checks hosts (after DNS, on every redirect) when it fetches.
 * With auth = smart it first needs a bearer token (401), whose scopes
 * write every imported type (403 otherwise); the job is recorded under
 * the token's client, so only that client sees its status and files.
 * No refusal creates a job.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "api/auth_bearer.h"
#include "api/export_api_int.h"
#include "auth/scope.h"
#include "bulk/confine.h"
#include "bulk/fetch_policy.h"
#include "store/fhir_types.h"
#include "api/import_api.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_parse.h"
#include "http/http_route.h"
#include "store/jobq.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define IMPORT_ERR_MAX	512

static const char import_accepted[] = "{\"resourceType\":\"OperationOutcome\","
    "\"issue\":[{\"severity\":\"information\",\"code\":\"informational\","
    "\"diagnostics\":\"import accepted; poll the Content-Location URL\"}]}";

/* A number member, 0 when absent (never NaN into the JSON we write). */
static double
import_num(const cJSON *obj, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

struct import_req {
	const char	*ir_format;
	const char	*ir_source;
	const char	*ir_storage;
	const char	*ir_mode;
	const char	*ir_forward;	/* "openimis" or NULL (issue 17) */
	cJSON		*ir_inputs;	/* [{type,url,etag?}] built here */
	char		 ir_err[IMPORT_ERR_MAX];
	unsigned int	 ir_status;	/* 400 unless set */
};

static int
import_fail(struct import_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
import_fail(struct import_req *r, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r->ir_err, sizeof(r->ir_err), fmt, ap);
	va_end(ap);
	return -1;
}

/* value[x] of a Parameters.parameter (or part) as a string. */
static const char *
import_value(const cJSON *p)
{
	static const char *const keys[] = { "valueString", "valueCode",
	    "valueUri", "valueUrl", "valueCanonical", "valueId" };
	const cJSON	*v;
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = cJSON_GetObjectItemCaseSensitive(p, keys[i])) != NULL)
			return cJSON_GetStringValue(v);
	if ((v = cJSON_GetObjectItemCaseSensitive(p, "valueCoding")) != NULL)
		return cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(v, "code"));
	return NULL;
}

static const char *
import_part(const cJSON *param, const char *name)
{
	const cJSON	*part, *n;

	cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(param,
	    "part")) {
		n = cJSON_GetObjectItemCaseSensitive(part, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return import_value(part);
	}
	return NULL;
}

static int
import_add_input(struct import_req *r, const char *type, const char *url,
    const char *etag)
{
	cJSON	*e;

	if (type == NULL || url == NULL)
		return import_fail(r, "input %d: needs type and url",
		    cJSON_GetArraySize(r->ir_inputs) + 1);
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "url", url);
	if (etag != NULL)
		cJSON_AddStringToObject(e, "etag", etag);
	cJSON_AddItemToArray(r->ir_inputs, e);
	return 0;
}

/* The Parameters form (HAPI, Microsoft, IBM). */
static int
import_from_parameters(struct import_req *r, const cJSON *body)
{
	const cJSON	*p, *name;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(body,
	    "parameter")) {
		name = cJSON_GetObjectItemCaseSensitive(p, "name");
		if (!cJSON_IsString(name))
			return import_fail(r, "a parameter without a name");
		if (strcmp(name->valuestring, "inputFormat") == 0)
			r->ir_format = import_value(p);
		else if (strcmp(name->valuestring, "inputSource") == 0)
			r->ir_source = import_value(p);
		else if (strcmp(name->valuestring, "mode") == 0)
			r->ir_mode = import_value(p);
		else if (strcmp(name->valuestring, "storageDetail") == 0)
			r->ir_storage = import_part(p, "type");
		else if (strcmp(name->valuestring, "forwardTo") == 0)
			r->ir_forward = import_value(p);
		else if (strcmp(name->valuestring, "input") == 0) {
			if (import_add_input(r, import_part(p, "type"),
			    import_part(p, "url"), import_part(p, "etag")) == -1)
				return -1;
		} else
			return import_fail(r, "unknown parameter %.64s",
			    name->valuestring);
	}
	return 0;
}

/* The plain-JSON manifest form (SMART import draft, Pathling). */
static int
import_from_manifest(struct import_req *r, const cJSON *body)
{
	const cJSON	*in;

	r->ir_format = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    body, "inputFormat"));
	r->ir_source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    body, "inputSource"));
	r->ir_mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    body, "mode"));
	r->ir_storage = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(body, "storageDetail"), "type"));
	r->ir_forward = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    body, "forwardTo"));
	in = cJSON_GetObjectItemCaseSensitive(body, "input");
	if (!cJSON_IsArray(in))
		return import_fail(r, "\"input\" must be an array of "
		    "{type, url}");
	cJSON_ArrayForEach(in, in)
		if (import_add_input(r, cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "type")),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "url")), cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "etag"))) == -1)
			return -1;
	return 0;
}

/* Checks one input's URL as far as it can be checked without I/O. */
static int
import_check_url(struct import_req *r, const struct cfg *cfg, int idx,
    const char *url)
{
	CURLU	*u = curl_url();
	char	*scheme = NULL, *host = NULL, *path = NULL;
	char	 why[IMPORT_ERR_MAX];
	int	 rc = -1;

	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		import_fail(r, "input %d: \"%.200s\" is not a URL", idx, url);
		goto out;
	}
	if (strcmp(scheme, "file") == 0) {
		if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) !=
		    CURLUE_OK) {
			import_fail(r, "input %d: bad file URL", idx);
			goto out;
		}
		/* The worker's own rule; a file still missing is the
		 * worker's to report. */
		if (confine_path(cfg->import_dir, path,
		    CONFINE_MAY_BE_MISSING, NULL, 0, why, sizeof(why)) == -1) {
			import_fail(r, "input %d: file URLs must name a file "
			    "under the import directory %s (%.300s)", idx,
			    cfg->import_dir, why);
			goto out;
		}
	} else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") ==
	    0) {
		if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
			import_fail(r, "input %d: no host in %.200s", idx, url);
			goto out;
		}
		if (!fetch_policy_host_allowed(cfg->import_allow, host)) {
			import_fail(r, "input %d: host %.100s is not on the "
			    "import allowlist (BULKHEAD_IMPORT_ALLOW)", idx,
			    host);
			goto out;
		}
	} else {
		import_fail(r, "input %d: scheme %.20s is not supported "
		    "(http, https, file)", idx, scheme);
		goto out;
	}
	rc = 0;
 out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

static int
import_validate(struct import_req *r, const struct cfg *cfg)
{
	const cJSON	*a, *b;
	const char	*type, *url;
	int		 i = 0, j;

	if (r->ir_format != NULL &&
	    strcmp(r->ir_format, "application/fhir+ndjson") != 0 &&
	    strcmp(r->ir_format, "application/ndjson") != 0 &&
	    strcmp(r->ir_format, "ndjson") != 0)
		return import_fail(r, "inputFormat %.80s is not supported "
		    "(application/fhir+ndjson)", r->ir_format);
	if (r->ir_storage != NULL && strcmp(r->ir_storage, "https") != 0 &&
	    strcmp(r->ir_storage, "http") != 0 &&
	    strcmp(r->ir_storage, "file") != 0)
		return import_fail(r, "storageDetail type %.40s is not "
		    "supported (https, http, file)", r->ir_storage);
	if (r->ir_mode != NULL && strcmp(r->ir_mode, "InitialLoad") != 0 &&
	    strcmp(r->ir_mode, "IncrementalLoad") != 0)
		return import_fail(r, "mode %.40s is not InitialLoad or "
		    "IncrementalLoad", r->ir_mode);
	/* Bulkhead's own: the Claims go on to openIMIS once loaded. */
	if (r->ir_forward != NULL && strcmp(r->ir_forward, "openimis") != 0)
		return import_fail(r, "forwardTo %.40s is not supported (only "
		    "openimis)", r->ir_forward);
	if (r->ir_forward != NULL && cfg->openimis_url[0] == '\0')
		return import_fail(r, "forwardTo openimis: this server is not "
		    "connected to openIMIS (openimis_url)");
	if (cJSON_GetArraySize(r->ir_inputs) == 0)
		return import_fail(r, "no input given");
	if (cJSON_GetArraySize(r->ir_inputs) > cfg->import_max_inputs)
		return import_fail(r, "%d inputs: at most %d per import "
		    "(BULKHEAD_IMPORT_MAX_INPUTS)",
		    cJSON_GetArraySize(r->ir_inputs), cfg->import_max_inputs);
	cJSON_ArrayForEach(a, r->ir_inputs) {
		i++;
		type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a,
		    "type"));
		url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a,
		    "url"));
		if (!fhir_type_valid(type))
			return import_fail(r, "input %d: %.64s is not a FHIR "
			    "R4 resource type", i, type);
		if (import_check_url(r, cfg, i, url) == -1)
			return -1;
		j = 0;
		cJSON_ArrayForEach(b, r->ir_inputs) {
			if (++j >= i)
				break;
			if (strcmp(url, cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(b, "url"))) == 0)
				return import_fail(r, "input %d repeats the "
				    "url of input %d", i, j);
		}
	}
	return 0;
}

void
import_api_kickoff(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct import_req	 r;
	struct jobq_spec	 spec;
	struct token_principal	 tp;
	const cJSON		*body = http_req_body_json(req), *rt, *in;
	cJSON			*params = NULL;
	const char		*type;
	char			*ptext = NULL, id[JOBQ_ID_MAX], err[512];
	char			 loc[1024], request[1024];
	char			 client[EXPORT_API_CLIENT_MAX];
	PGconn			*conn = NULL;
	int64_t			 active = 0;
	int			 in_tx = 0;

	memset(&r, 0, sizeof(r));
	r.ir_inputs = cJSON_CreateArray();
	if (export_api_principal(req, &tp, client, sizeof(client)) == -1)
		goto out;
	if (body == NULL || !cJSON_IsObject(body)) {
		(void)http_reply_outcome(req, 400, "invalid", "the body must "
		    "be a FHIR Parameters resource or an import manifest "
		    "(JSON)");
		goto out;
	}
	rt = cJSON_GetObjectItemCaseSensitive(body, "resourceType");
	if ((cJSON_IsString(rt) ? strcmp(rt->valuestring, "Parameters") == 0 ?
	    import_from_parameters(&r, body) : import_fail(&r, "a %.40s is "
	    "not a Parameters resource", rt->valuestring) :
	    import_from_manifest(&r, body)) == -1 ||
	    import_validate(&r, cfg) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", r.ir_err);
		goto out;
	}
	cJSON_ArrayForEach(in, r.ir_inputs) {
		type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "type"));
		if (!scope_can_write(&tp.tp_scope, type)) {
			(void)auth_bearer_forbidden(req, "the access token's "
			    "scopes do not allow writing %s resources", type);
			goto out;
		}
	}
	if ((conn = http_db_conn(err, sizeof(err))) == NULL) {
		(void)http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
		goto out;
	}
	/* Count and insert under one lock (see export's kick-off). */
	if (db_exec(conn, "BEGIN", 0, NULL, err, sizeof(err)) == -1 ||
	    (in_tx = 1, db_exec(conn, "SELECT pg_advisory_xact_lock("
	    "hashtext('bulkhead import'))", 0, NULL, err, sizeof(err))) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
		goto out;
	}
	if (jobq_count_active(conn, "import", NULL, &active, err,
	    sizeof(err)) == -1) {
		http_db_discard();
		(void)http_reply_internal(req, "import limit: %s", err);
		goto out;
	}
	if (active >= cfg->import_max_jobs) {
		(void)http_resp_header(req, "Retry-After", "30");
		(void)http_reply_outcome(req, 429, "throttled", "%lld imports "
		    "are in progress (the limit is %d); retry later",
		    (long long)active, cfg->import_max_jobs);
		goto out;
	}
	params = cJSON_CreateObject();
	snprintf(request, sizeof(request), "%s/$import", cfg->base_url);
	cJSON_AddStringToObject(params, "request", request);
	cJSON_AddStringToObject(params, "inputFormat", "application/fhir+ndjson");
	if (r.ir_source != NULL)
		cJSON_AddStringToObject(params, "inputSource", r.ir_source);
	cJSON_AddStringToObject(params, "mode", r.ir_mode != NULL ? r.ir_mode :
	    "IncrementalLoad");
	cJSON_AddItemToObject(params, "inputs", r.ir_inputs);
	r.ir_inputs = NULL;
	if (r.ir_forward != NULL)
		cJSON_AddStringToObject(params, "forwardTo", r.ir_forward);
	ptext = cJSON_PrintUnformatted(params);
	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "import";
	spec.s_params = ptext;
	spec.s_client = tp.tp_auth_off ? NULL : client;
	spec.s_max_attempts = cfg->job_max_attempts;
	if (jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, err, sizeof(err)) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_internal(req, "submit: %s", err);
		goto out;
	}
	in_tx = 0;
	log_info("import %s accepted: %d input(s)", id, cJSON_GetArraySize(
	    cJSON_GetObjectItemCaseSensitive(params, "inputs")));
	snprintf(loc, sizeof(loc), "%s/_jobs/%s", cfg->base_url, id);
	(void)http_resp_header(req, "Content-Location", loc);
	(void)http_reply_data(req, 202, http_req_json_type(req),
	    import_accepted, sizeof(import_accepted) - 1);
 out:
	if (in_tx)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, err, sizeof(err));
	cJSON_Delete(r.ir_inputs);
	cJSON_Delete(params);
	cJSON_free(ptext);
}

void
import_api_progress(const struct jobq_job *j, char *out, size_t outlen,
    double *fraction)
{
	cJSON		*p = j->j_progress ? cJSON_Parse(j->j_progress) : NULL;
	char		 lines[32], failed[32];
	double		 n, done;

	*fraction = 0;
	if (p == NULL) {
		snprintf(out, outlen, "%s", j->j_state == 0 ? "queued" :
		    "starting");
		return;
	}
	n = import_num(p, "inputs");
	done = import_num(p, "inputs_done");
	str_group_digits(lines, sizeof(lines), (int64_t)import_num(p, "lines"));
	str_group_digits(failed, sizeof(failed), (int64_t)import_num(p, "failed"));
	snprintf(out, outlen, "%d/%d files, %s lines, %s errors", (int)done,
	    (int)n, lines, failed);
	if (n > 0)
		*fraction = done / n;
	cJSON_Delete(p);
}

int
import_api_manifest(const struct cfg *cfg, const struct jobq_job *j,
    const cJSON *params, const char *const *error_rows, int nerrors,
    struct buf *b)
{
	cJSON		*result = j->j_result ? cJSON_Parse(j->j_result) : NULL;
	const cJSON	*in;
	const char	*req_url, *name;
	int		 i, n = 0;

	req_url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params,
	    "request"));
	(void)buf_puts(b, "{\"transactionTime\":\"");
	(void)buf_puts(b, j->j_started ? j->j_started : j->j_created);
	(void)buf_puts(b, "\",\"request\":\"");
	if (req_url != NULL)
		(void)buf_json_escape(b, req_url, strlen(req_url));
	(void)buf_printf(b, "\",\"requiresAccessToken\":%s,\"output\":[",
	    strcmp(cfg->auth, "smart") == 0 ? "true" : "false");
	cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(result,
	    "inputs")) {
		const char *url = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "url"));

		(void)buf_printf(b, "%s{\"type\":\"%s\",\"inputUrl\":\"",
		    n++ ? "," : "", cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(in, "type")));
		(void)buf_json_escape(b, url, strlen(url));
		(void)buf_printf(b, "\",\"count\":%.0f,\"extension\":{"
		    "\"linesRead\":%.0f,\"failed\":%.0f,\"blank\":%.0f}}",
		    import_num(in, "loaded"), import_num(in, "lines"),
		    import_num(in, "failed"), import_num(in, "blank"));
	}
	(void)buf_puts(b, "],\"error\":[");
	for (i = 0; i < nerrors; i++) {
		const char *url = error_rows[i * 3];
		const char *file = error_rows[i * 3 + 1];

		name = strrchr(file, '/');
		name = name != NULL ? name + 1 : file;
		(void)buf_printf(b, "%s{\"type\":\"OperationOutcome\","
		    "\"inputUrl\":\"", i ? "," : "");
		(void)buf_json_escape(b, url, strlen(url));
		(void)buf_printf(b, "\",\"count\":%s,\"url\":\"%s/_jobs/%s/"
		    "files/", error_rows[i * 3 + 2], cfg->base_url, j->j_id);
		(void)buf_json_escape(b, name, strlen(name));
		(void)buf_puts(b, "\"}");
	}
	(void)buf_printf(b, "],\"extension\":{\"totals\":{\"read\":%.0f,"
	    "\"loaded\":%.0f,\"failed\":%.0f,\"blank\":%.0f}",
	    import_num(result, "lines"), import_num(result, "loaded"),
	    import_num(result, "failed"), import_num(result, "blank"));
	/* The openimis-claims-push job the import started (forwardTo). */
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(result, "forwardedTo"),
	    "openimis"));
	if (name != NULL && strspn(name, "0123456789abcdef") == strlen(name))
		(void)buf_printf(b, ",\"forwardedTo\":{\"openimis\":{\"job\":"
		    "\"%s\",\"status\":\"/admin/api/jobs/%s\"}}", name, name);
	(void)buf_puts(b, "}}");
	cJSON_Delete(result);
	return 0;
}
