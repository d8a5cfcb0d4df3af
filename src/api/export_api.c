/*
 * export_api.c — the $export kick-off (SPEC §1.2–§1.5): checks the
 * bearer token (auth = smart: AUTH-BE-01/02/05, the job belongs to the
 * token's client and gets only the types its scopes read; a Group-level
 * export needs Group read, AUTH-BE-07), the headers,
 * the parameters (bulk/export_params.c), the cohort and the client's
 * concurrency limit, submits the job and answers 202 with its status
 * URL.  No refusal creates a job.  Runs in the API process on libmicrohttpd's threads: a few
 * short queries on the thread's connection; a worker does the export
 * itself (jobs/job_export.c).  The status, DELETE and downloads are
 * export_status.c's and export_files.c's; the helpers they share with
 * this file are in export_api_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api/auth_bearer.h"
#include "api/export_api.h"
#include "api/export_api_int.h"
#include "auth/scope.h"
#include "bulk/export_params.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_parse.h"
#include "http/http_route.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "lib/buf.h"
#include "lib/httptext.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/fhir_types.h"
#include "store/ndjson.h"

#define EXPORT_FHIR_JSON	"application/fhir+json"

/* ---- helpers ---------------------------------------------------------- */

/* With auth = none, the client a job belongs to: a hash of its bearer
 * token when it sends one, else its address.  Used for the concurrency
 * limit (EXP-KR-04). */
static void
export_client_id(struct http_req *req, char *out, size_t outlen)
{
	const char			*auth = http_req_header(req,
					    "Authorization");
	unsigned char			 md[EVP_MAX_MD_SIZE];
	unsigned int			 mdlen = 0, i;
	char				 host[64] = "unknown";
	size_t				 n;

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0 &&
	    EVP_Digest(auth + 7, strlen(auth + 7), md, &mdlen, EVP_sha256(),
	    NULL) == 1) {
		n = (size_t)snprintf(out, outlen, "token:");
		for (i = 0; i < 8 && n + 2 < outlen; i++, n += 2)
			snprintf(out + n, outlen - n, "%02x", md[i]);
		return;
	}
	if (http_req_client_addr(req, host, sizeof(host)) == -1)
		str_lcpy(host, "unknown", sizeof(host));
	snprintf(out, outlen, "ip:%s", host);
}

int
export_api_principal(struct http_req *req, struct token_principal *p,
    char *client, size_t clientlen)
{
	if (auth_bearer_check(req, http_req_cfg(req), p) == -1)
		return -1;
	if (p->tp_auth_off)
		export_client_id(req, client, clientlen);
	else
		snprintf(client, clientlen, "smart:%s", p->tp_client);
	return 0;
}

int
export_api_owns(const struct token_principal *p, const char *job_client)
{
	char	mine[EXPORT_API_CLIENT_MAX];

	if (p->tp_auth_off)
		return 1;
	snprintf(mine, sizeof(mine), "smart:%s", p->tp_client);
	return job_client != NULL && strcmp(job_client, mine) == 0;
}

PGconn *
export_api_conn(struct http_req *req)
{
	char	 err[512];
	PGconn	*conn;

	if ((conn = http_db_conn(err, sizeof(err))) == NULL)
		(void)http_reply_outcome(req, 503, "transient",
		    "database unavailable; retry later");
	return conn;
}

/* Appends s to b percent-encoded for a URL query component. */
static void
export_url_encode(struct buf *b, const char *s)
{
	(void)httptext_pct_encode(b, s, "-._~:/,$");
}

struct export_collect {
	struct export_kickoff	*k;
	struct export_error	*err;
	struct buf		*url;
	int			 n;
	int			 failed;
};

static int
export_collect_query(void *arg, const char *key, const char *value)
{
	struct export_collect	*c = arg;

	(void)buf_putc(c->url, c->n++ ? '&' : '?');
	export_url_encode(c->url, key);
	(void)buf_putc(c->url, '=');
	export_url_encode(c->url, value);
	if (export_kickoff_add(c->k, key, value, c->err) == -1) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

/* A FHIR OperationOutcome with one issue of any severity. */
void
export_api_outcome(struct buf *b, const char *severity, const char *code,
    const char *text)
{
	(void)buf_puts(b, "{\"resourceType\":\"OperationOutcome\",\"issue\":"
	    "[{\"severity\":\"");
	(void)buf_puts(b, severity);
	(void)buf_puts(b, "\",\"code\":\"");
	(void)buf_puts(b, code);
	(void)buf_puts(b, "\",\"diagnostics\":\"");
	(void)buf_json_escape(b, text, strlen(text));
	(void)buf_puts(b, "\"}]}");
}

/* ---- kick-off ------------------------------------------------------- */

/*
 * The kick-off headers (EXP-H-01, EXP-H-02).  The IG lets a server assume
 * or reject a missing Accept or Prefer: respond-async; the reference
 * implementation rejects, and clients are tested against that, so we do
 * too.  Accept must list application/fhir+json itself (q > 0): a
 * wildcard or application/json alone is not enough.  0, or -1 after
 * answering 400.
 */
static int
export_check_headers(struct http_req *req, const struct http_prefer *prefer)
{
	static const char *const offers[] = { EXPORT_FHIR_JSON };
	struct buf	 accept;
	const char	*p, *e;
	size_t		 n;
	int		 listed = 0, rc = -1;

	buf_init(&accept, HTTP_ROUTE_MAX_HEADER);
	if (http_req_header_all(req, MHD_HTTP_HEADER_ACCEPT, &accept) > 0) {
		for (p = accept.b_data; *p != '\0'; p = *e ? e + 1 : e) {
			e = p + strcspn(p, ",");
			p += strspn(p, " \t");
			n = strcspn(p, ";, \t");
			if (n == strlen(EXPORT_FHIR_JSON) && p + n <= e &&
			    strncasecmp(p, EXPORT_FHIR_JSON, n) == 0)
				listed = 1;
		}
		/* Listed with q=0 means "not acceptable". */
		if (listed && http_parse_accept(accept.b_data, offers, 1) != 0)
			listed = 0;
	}
	if (!listed) {
		(void)http_reply_outcome(req, 400, "invalid", "the kick-off "
		    "needs an Accept header listing application/fhir+json");
		goto out;
	}
	if (!prefer->hp_respond_async) {
		(void)http_reply_outcome(req, 400, "invalid", "the kick-off "
		    "needs a Prefer: respond-async header");
		goto out;
	}
	rc = 0;
 out:
	buf_free(&accept);
	return rc;
}

/* Checks that a Group exists and, when patients were POSTed, that each is
 * a current member (EXP-P-PA-2) or at least a Patient we hold. */
static int
export_check_cohort(struct http_req *req, PGconn *conn, const char *group,
    const cJSON *params)
{
	const cJSON	*patients = cJSON_GetObjectItemCaseSensitive(params,
			    "patients");
	const char	*p[2];
	PGresult	*res;
	char		 err[512], *list = NULL;
	int		 rc = -1;

	if (group != NULL) {
		p[0] = group;
		res = db_query(conn, "SELECT 1 FROM resources WHERE type = "
		    "'Group' AND id = $1 AND NOT deleted", 1, p, err,
		    sizeof(err));
		if (res == NULL) {
			(void)http_reply_internal(req, "group lookup: %s", err);
			return -1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			(void)http_reply_outcome(req, 404, "not-found",
			    "Group/%s does not exist", group);
			return -1;
		}
		PQclear(res);
	}
	if (cJSON_GetArraySize(patients) == 0)
		return 0;
	list = cJSON_PrintUnformatted(patients);
	p[0] = list;
	p[1] = group != NULL ? group : "";
	res = db_query(conn,
	    "WITH want AS (SELECT DISTINCT jsonb_array_elements_text($1::jsonb)"
	    "  AS pid), "
	    "mem AS (SELECT substr(e->'entity'->>'reference', 9) AS pid "
	    "  FROM resources g, jsonb_array_elements(coalesce("
	    "  g.content::jsonb->'member', '[]')) e WHERE g.type = 'Group' "
	    "  AND g.id = $2 AND NOT g.deleted AND "
	    "  coalesce((e->>'inactive')::boolean, false) = false) "
	    "SELECT pid FROM want WHERE NOT EXISTS (SELECT 1 FROM resources r "
	    "  WHERE r.type = 'Patient' AND r.id = want.pid AND NOT r.deleted) "
	    "  OR ($2 <> '' AND pid NOT IN (SELECT pid FROM mem)) "
	    "ORDER BY pid LIMIT 1", 2, p, err, sizeof(err));
	if (res == NULL) {
		(void)http_reply_internal(req, "patient check: %s", err);
		goto out;
	}
	if (PQntuples(res) > 0) {
		(void)http_reply_outcome(req, 400, "invalid", "patient: "
		    "Patient/%s %s", PQgetvalue(res, 0, 0), group != NULL ?
		    "is not a member of the group" : "does not exist");
		PQclear(res);
		goto out;
	}
	PQclear(res);
	rc = 0;
 out:
	cJSON_free(list);
	return rc;
}

/* Rejects a kick-off over the client's concurrent-export limit. */
static int
export_check_limit(struct http_req *req, PGconn *conn, const char *client)
{
	const struct cfg	*cfg = http_req_cfg(req);
	char			 err[512];
	int64_t			 n = 0;

	if (jobq_count_active(conn, "export", client, &n, err,
	    sizeof(err)) == -1) {
		(void)http_reply_internal(req, "limit check: %s", err);
		return -1;
	}
	if (n < cfg->export_max_per_client)
		return 0;
	(void)http_resp_header(req, "Retry-After", "30");
	(void)http_reply_outcome(req, 429, "throttled", "this client already "
	    "has %lld exports in progress (the limit is %d); retry when one "
	    "completes", (long long)n, cfg->export_max_per_client);
	return -1;
}

/* 1 if the scopes let the token read every type ("*" items alone). */
static int
export_scope_all(const struct scope_set *set)
{
	unsigned	perms = 0;
	size_t		i;

	for (i = 0; i < set->ss_n; i++)
		if (strcmp(set->ss_items[i].si_type, "*") == 0)
			perms |= set->ss_items[i].si_perms;
	return (perms & SCOPE_READ) == SCOPE_READ;
}

/* One type the token may not read: 403 when strict (AUTH-BE-02), else
 * a warning for the manifest's error file.  0, or -1 after answering. */
static int
export_scope_refuse(struct http_req *req, cJSON *params, int lenient,
    const char *what, const char *type)
{
	cJSON	*warnings;
	char	 w[256];

	if (!lenient) {
		(void)auth_bearer_forbidden(req, "%s: the access token's "
		    "scopes do not allow reading %s resources", what, type);
		return -1;
	}
	if ((warnings = cJSON_GetObjectItemCaseSensitive(params,
	    "warnings")) == NULL) {
		warnings = cJSON_CreateArray();
		cJSON_AddItemToObject(params, "warnings", warnings);
	}
	snprintf(w, sizeof(w), "%s: %s is outside the access token's scopes "
	    "(left out: Prefer handling=lenient)", what, type);
	cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
	return 0;
}

/*
 * Narrows the job's params to what the token may read: each _type item,
 * _typeFilter type and includeAssociatedData's Provenance outside the
 * scopes is refused (strict) or dropped with a warning (lenient); no
 * _type becomes the readable types (AUTH-BE-05), unless the token reads
 * every type.  0, or -1 after answering 403.
 */
static int
export_scope_params(struct http_req *req, const struct scope_set *set,
    cJSON *params, int lenient)
{
	cJSON		*types = cJSON_GetObjectItemCaseSensitive(params,
			    "types");
	cJSON		*filters = cJSON_GetObjectItemCaseSensitive(params,
			    "typeFilters");
	cJSON		*it, *next;
	const char	*cand[SCOPE_MAX_ITEMS], *out[SCOPE_MAX_ITEMS];
	size_t		 i, n = 0, k;

	if (export_scope_all(set))
		return 0;
	if (types != NULL) {
		for (it = types->child; it != NULL; it = next) {
			next = it->next;
			if (scope_can_read(set, it->valuestring))
				continue;
			if (export_scope_refuse(req, params, lenient, "_type",
			    it->valuestring) == -1)
				return -1;
			cJSON_Delete(cJSON_DetachItemViaPointer(types, it));
		}
		if (cJSON_GetArraySize(types) == 0) {
			(void)auth_bearer_forbidden(req, "_type: none of the "
			    "types asked for is within the access token's "
			    "scopes");
			return -1;
		}
	} else {
		for (i = 0; i < set->ss_n; i++)
			if (strcmp(set->ss_items[i].si_type, "*") != 0)
				cand[n++] = set->ss_items[i].si_type;
		k = scope_readable_types(set, cand, n, out, SCOPE_MAX_ITEMS);
		if (k == 0) {
			(void)auth_bearer_forbidden(req, "the access token's "
			    "scopes allow reading no resource type");
			return -1;
		}
		types = cJSON_CreateArray();
		for (i = 0; i < k; i++) {
			cJSON_ArrayForEach(it, types)
				if (strcmp(it->valuestring, out[i]) == 0)
					break;
			if (it == NULL)
				cJSON_AddItemToArray(types,
				    cJSON_CreateString(out[i]));
		}
		cJSON_AddItemToObject(params, "types", types);
	}
	for (it = filters != NULL ? filters->child : NULL; it != NULL;
	    it = next) {
		next = it->next;
		if (scope_can_read(set, it->string))
			continue;
		if (export_scope_refuse(req, params, lenient, "_typeFilter",
		    it->string) == -1)
			return -1;
		cJSON_Delete(cJSON_DetachItemViaPointer(filters, it));
	}
	if (cJSON_GetObjectItemCaseSensitive(params, "associated") != NULL &&
	    !scope_can_read(set, "Provenance")) {
		if (export_scope_refuse(req, params, lenient,
		    "includeAssociatedData", "Provenance") == -1)
			return -1;
		cJSON_DeleteItemFromObjectCaseSensitive(params, "associated");
	}
	return 0;
}

static void
export_kickoff(struct http_req *req, enum export_level level)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct export_kickoff	*k = xcalloc(1, sizeof(*k));
	struct export_error	 ee;
	struct export_collect	 col;
	struct http_prefer	 prefer;
	struct jobq_spec	 spec;
	struct token_principal	 tp;
	struct buf		 url, hdr, body;
	const char		*group = NULL, *path;
	cJSON			*params = NULL;
	char			*ptext = NULL, id[JOBQ_ID_MAX], err[512];
	char			 client[EXPORT_API_CLIENT_MAX], loc[1024];
	char			 applied[128];
	const char		*lockp[1];
	PGconn			*conn = NULL;
	int			 in_tx = 0;

	buf_init(&url, 16384);
	buf_init(&hdr, HTTP_ROUTE_MAX_HEADER);
	buf_init(&body, 4096);
	memset(&ee, 0, sizeof(ee));
	if (export_api_principal(req, &tp, client, sizeof(client)) == -1)
		goto out;
	(void)http_req_header_all(req, "Prefer", &hdr);
	http_parse_prefer(hdr.b_len ? hdr.b_data : NULL, &prefer);
	if (export_check_headers(req, &prefer) == -1)
		goto out;

	if (level == EXPORT_GROUP) {
		group = http_req_param(req, "id");
		if (group == NULL || !ndjson_valid_id(group, strlen(group))) {
			(void)http_reply_outcome(req, 404, "not-found",
			    "no such Group");
			goto out;
		}
		/* AUTH-BE-07 (EXP-SEC-10): exporting a Group's members
		 * reads the Group. */
		if (!tp.tp_auth_off && !scope_can_read(&tp.tp_scope,
		    "Group")) {
			(void)auth_bearer_forbidden(req, "a Group-level export "
			    "needs read access to Group: the access token's "
			    "scopes do not allow reading Group resources");
			goto out;
		}
	}
	/* "request": the kick-off URL without body parameters (EXP-M-02). */
	path = http_req_path(req);
	(void)buf_puts(&url, cfg->base_url);
	(void)buf_puts(&url, str_has_prefix(path, "/fhir") ? path + 5 : path);
	k->ek_level = level;
	k->ek_group = group;
	k->ek_lenient = prefer.hp_handling == HTTP_PREFER_HANDLING_LENIENT;
	k->ek_post = strcmp(http_req_method(req), "POST") == 0;
	memset(&col, 0, sizeof(col));
	col.k = k;
	col.err = &ee;
	col.url = &url;
	(void)http_req_query_each(req, export_collect_query, &col);
	if (col.failed)
		goto refuse;
	k->ek_request = url.b_data;
	if (k->ek_post) {
		const cJSON	*json = http_req_body_json(req);
		size_t		 len;

		(void)http_req_body(req, &len);
		if (len > 0 && json == NULL) {
			(void)http_reply_outcome(req, 400, "invalid", "the body "
			    "is not JSON; send a FHIR Parameters resource");
			goto out;
		}
		if (json != NULL && export_kickoff_from_parameters(k, json,
		    &ee) == -1)
			goto refuse;
	}
	if (export_params_build(k, &params, &ee) == -1)
		goto refuse;
	if (prefer.hp_separate_status)
		cJSON_AddBoolToObject(params, "separateStatus", 1);
	if (!tp.tp_auth_off && export_scope_params(req, &tp.tp_scope, params,
	    k->ek_lenient) == -1)
		goto out;

	if ((conn = export_api_conn(req)) == NULL)
		goto out;
	if (export_check_cohort(req, conn, group, params) == -1)
		goto out;
	/* Count and insert under one lock per client, or parallel
	 * kick-offs could all pass the count (EXP-KR-04). */
	lockp[0] = client;
	if (db_exec(conn, "BEGIN", 0, NULL, err, sizeof(err)) == -1 ||
	    (in_tx = 1, db_exec(conn, "SELECT pg_advisory_xact_lock("
	    "hashtext('bulkhead export ' || $1))", 1, lockp, err,
	    sizeof(err))) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
		goto out;
	}
	if (export_check_limit(req, conn, client) == -1)
		goto out;
	ptext = cJSON_PrintUnformatted(params);
	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "export";
	spec.s_params = ptext;
	spec.s_client = client;
	spec.s_max_attempts = cfg->job_max_attempts;
	if (jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, err, sizeof(err)) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_internal(req, "submit: %s", err);
		goto out;
	}
	in_tx = 0;
	log_info("export %s accepted for %s (%s level)", id, client,
	    level == EXPORT_SYSTEM ? "system" : level == EXPORT_PATIENT ?
	    "patient" : "group");
	(void)job_files_status_url(cfg->base_url, id, loc, sizeof(loc));
	(void)http_resp_header(req, "Content-Location", loc);
	applied[0] = '\0';
	if (prefer.hp_respond_async || prefer.hp_separate_status)
		str_lcpy(applied, "respond-async", sizeof(applied));
	if (prefer.hp_separate_status)
		snprintf(applied + strlen(applied), sizeof(applied) -
		    strlen(applied), ", separate-export-status");
	if (k->ek_lenient)
		snprintf(applied + strlen(applied), sizeof(applied) -
		    strlen(applied), "%shandling=lenient", applied[0] ?
		    ", " : "");
	if (applied[0] != '\0')
		(void)http_resp_header(req, "Preference-Applied", applied);
	export_api_outcome(&body, "information", "informational", "export "
	    "accepted; poll the Content-Location URL for its status");
	(void)http_reply_buf(req, 202, http_req_json_type(req), &body);
	goto out;
 refuse:
	(void)http_reply_outcome(req, ee.ee_status ? ee.ee_status : 400,
	    ee.ee_code ? ee.ee_code : "invalid", "%s", ee.ee_msg);
 out:
	if (in_tx)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, err, sizeof(err));
	cJSON_Delete(params);
	cJSON_free(ptext);
	buf_free(&url);
	buf_free(&hdr);
	buf_free(&body);
	free(k);
}

void
export_api_kickoff_system(struct http_req *req)
{
	export_kickoff(req, EXPORT_SYSTEM);
}

void
export_api_kickoff_patient(struct http_req *req)
{
	export_kickoff(req, EXPORT_PATIENT);
}

void
export_api_kickoff_group(struct http_req *req)
{
	export_kickoff(req, EXPORT_GROUP);
}
