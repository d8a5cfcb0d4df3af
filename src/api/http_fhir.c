/*
 * http_fhir.c — the CapabilityStatement and the health check.
 *
 * The statement is rendered once, on the main thread before the daemon
 * starts, into http_fhir_capability; request threads only read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/cfg.h"
#include "core/embed.h"
#include "bulk/search.h"
#include "core/version.h"
#include "http/http_db.h"
#include "api/http_fhir.h"
#include "auth/token.h"
#include "http/http_route.h"
#include "lib/log.h"


#define HTTP_FHIR_TEMPLATE	"fhir/CapabilityStatement.json"
#define HTTP_FHIR_OPERATIONS	"fhir/operations.json"
#define HTTP_FHIR_VERSION	"4.0.1"
#define HTTP_FHIR_PING_MS	2000	/* /healthz database deadline */
#define HTTP_FHIR_HEALTH_OK	"{\"status\":\"ok\",\"database\":\"ok\"}"

static char	*http_fhir_capability;	/* rendered JSON, owned */
static size_t	 http_fhir_capability_len;

static cJSON	*http_fhir_load(const char *, char *, size_t);
static int	 http_fhir_set(cJSON *, const char *, cJSON *);
static cJSON	*http_fhir_child(cJSON *, const char *, int);
static int	 http_fhir_merge_ops(cJSON *, char *, size_t);
static int	 http_fhir_merge_op(cJSON *, cJSON *, const cJSON *, char *,
		    size_t);

/* Parses an embedded JSON object.  Caller frees with cJSON_Delete. */
static cJSON *
http_fhir_load(const char *name, char *errbuf, size_t errlen)
{
	const struct embed_file	*ef;
	cJSON			*j;

	if ((ef = embed_find(name)) == NULL) {
		snprintf(errbuf, errlen, "%s is not embedded", name);
		return NULL;
	}
	j = cJSON_ParseWithLength((const char *)ef->ef_data, ef->ef_len);
	if (j == NULL || !cJSON_IsObject(j)) {
		snprintf(errbuf, errlen, "%s: not a JSON object", name);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* Sets obj[key] = item, replacing in place to keep the template's key
 * order.  Takes ownership of item.  Returns 0 or -1. */
static int
http_fhir_set(cJSON *obj, const char *key, cJSON *item)
{
	if (item == NULL)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item) ?
		    0 : -1;
	return cJSON_AddItemToObject(obj, key, item) ? 0 : -1;
}

/* obj[key], created as an object or array (as_array) when missing.
 * Borrowed; NULL if it exists with another type or on OOM. */
static cJSON *
http_fhir_child(cJSON *obj, const char *key, int as_array)
{
	cJSON	*c;

	if ((c = cJSON_GetObjectItemCaseSensitive(obj, key)) != NULL)
		return (as_array ? cJSON_IsArray(c) : cJSON_IsObject(c)) ?
		    c : NULL;
	c = as_array ? cJSON_AddArrayToObject(obj, key) :
	    cJSON_AddObjectToObject(obj, key);
	return c;
}

/* Adds one operations.json entry to the statement if its route exists. */
static int
http_fhir_merge_op(cJSON *cs, cJSON *rest, const cJSON *e, char *errbuf,
    size_t errlen)
{
	const cJSON	*route, *res, *op, *fmt, *f;
	cJSON		*target = rest, *resources, *r, *ops, *formats, *t;
	const char	*sp;
	char		 method[16];
	unsigned int	 mbit;

	route = cJSON_GetObjectItemCaseSensitive(e, "route");
	op = cJSON_GetObjectItemCaseSensitive(e, "operation");
	if (!cJSON_IsString(route) || !cJSON_IsObject(op) ||
	    (sp = strchr(route->valuestring, ' ')) == NULL ||
	    (size_t)(sp - route->valuestring) >= sizeof(method)) {
		snprintf(errbuf, errlen, "%s: an entry lacks \"route\": "
		    "\"METHOD /pattern\" or \"operation\"",
		    HTTP_FHIR_OPERATIONS);
		return -1;
	}
	memcpy(method, route->valuestring, (size_t)(sp - route->valuestring));
	method[sp - route->valuestring] = '\0';
	if ((mbit = http_route_method_bit(method)) == 0) {
		snprintf(errbuf, errlen, "%s: unknown method in \"%s\"",
		    HTTP_FHIR_OPERATIONS, route->valuestring);
		return -1;
	}
	if (!http_route_exists(mbit, sp + 1))
		return 0;

	res = cJSON_GetObjectItemCaseSensitive(e, "resource");
	if (cJSON_IsString(res)) {
		if ((resources = http_fhir_child(rest, "resource", 1)) == NULL)
			goto bad_statement;
		target = NULL;
		cJSON_ArrayForEach(r, resources) {
			t = cJSON_GetObjectItemCaseSensitive(r, "type");
			if (cJSON_IsString(t) &&
			    strcmp(t->valuestring, res->valuestring) == 0) {
				target = r;
				break;
			}
		}
		if (target == NULL) {
			if ((target = cJSON_CreateObject()) == NULL ||
			    cJSON_AddStringToObject(target, "type",
			    res->valuestring) == NULL ||
			    !cJSON_AddItemToArray(resources, target)) {
				cJSON_Delete(target);
				goto bad_statement;
			}
		}
	}
	if ((ops = http_fhir_child(target, "operation", 1)) == NULL ||
	    !cJSON_AddItemToArray(ops, cJSON_Duplicate(op, 1)))
		goto bad_statement;

	fmt = cJSON_GetObjectItemCaseSensitive(e, "format");
	if ((formats = http_fhir_child(cs, "format", 1)) == NULL)
		goto bad_statement;
	cJSON_ArrayForEach(f, fmt) {
		if (!cJSON_IsString(f))
			continue;
		cJSON_ArrayForEach(t, formats)
			if (cJSON_IsString(t) &&
			    strcmp(t->valuestring, f->valuestring) == 0)
				break;
		if (t == NULL && !cJSON_AddItemToArray(formats,
		    cJSON_CreateString(f->valuestring)))
			goto bad_statement;
	}
	return 0;

 bad_statement:
	snprintf(errbuf, errlen, "%s: cannot add the operation of \"%s\"",
	    HTTP_FHIR_TEMPLATE, route->valuestring);
	return -1;
}

/* Adds the operations of fhir/operations.json that have a route. */
static int
http_fhir_merge_ops(cJSON *cs, char *errbuf, size_t errlen)
{
	cJSON		*ops, *rest;
	const cJSON	*list, *e;
	int		 rc = -1;

	if ((ops = http_fhir_load(HTTP_FHIR_OPERATIONS, errbuf,
	    errlen)) == NULL)
		return -1;
	rest = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cs,
	    "rest"), 0);
	list = cJSON_GetObjectItemCaseSensitive(ops, "operations");
	if (!cJSON_IsObject(rest) || !cJSON_IsArray(list)) {
		snprintf(errbuf, errlen, "%s needs rest[0] and %s needs "
		    "\"operations\": [...]", HTTP_FHIR_TEMPLATE,
		    HTTP_FHIR_OPERATIONS);
		goto out_free;
	}
	cJSON_ArrayForEach(e, list)
		if (http_fhir_merge_op(cs, rest, e, errbuf, errlen) == -1)
			goto out_free;
	rc = 0;
 out_free:
	cJSON_Delete(ops);
	return rc;
}

/*
 * With $export routed, each resource lists the search parameters its
 * _typeFilter accepts (EXP-CS-04), from the compiler's own table, so the
 * statement cannot claim a parameter the compiler does not know.
 */
static void
http_fhir_search_params(cJSON *rest)
{
	const struct search_param	*sp;
	cJSON				*r, *list, *e;
	const cJSON			*type;
	size_t				 i, n;

	if (!http_route_exists(HTTP_GET, "/fhir/$export"))
		return;
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rest,
	    "resource")) {
		type = cJSON_GetObjectItemCaseSensitive(r, "type");
		if (!cJSON_IsString(type) ||
		    (sp = search_params(type->valuestring, &n)) == NULL)
			continue;
		list = cJSON_AddArrayToObject(r, "searchParam");
		for (i = 0; i < n; i++) {
			e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", sp[i].sp_name);
			if (sp[i].sp_definition != NULL)
				cJSON_AddStringToObject(e, "definition",
				    sp[i].sp_definition);
			cJSON_AddStringToObject(e, "type",
			    search_ptype_name(sp[i].sp_type));
			cJSON_AddStringToObject(e, "documentation",
			    sp[i].sp_doc);
			cJSON_AddItemToArray(list, e);
		}
	}
}

/*
 * With SMART Backend Services on (auth = smart, token_url not NULL),
 * rest.security says so: service SMART-on-FHIR and the oauth-uris
 * extension naming the token endpoint (deprecated in SMART 2 in favour
 * of .well-known, AUTH-D-05, but still read by clients).  With auth =
 * none the statement claims nothing.
 */
static void
http_fhir_security_oauth_uris(cJSON *rest, const char *token_url)
{
	cJSON	*sec, *list, *uris, *sub, *tok, *svc, *cc, *coding, *c;

	if (token_url == NULL)
		return;
	if ((sec = http_fhir_child(rest, "security", 0)) == NULL ||
	    (list = http_fhir_child(sec, "extension", 1)) == NULL ||
	    (svc = http_fhir_child(sec, "service", 1)) == NULL)
		return;
	uris = cJSON_CreateObject();
	cJSON_AddStringToObject(uris, "url", "http://fhir-registry."
	    "smarthealthit.org/StructureDefinition/oauth-uris");
	sub = cJSON_AddArrayToObject(uris, "extension");
	tok = cJSON_CreateObject();
	cJSON_AddStringToObject(tok, "url", "token");
	cJSON_AddStringToObject(tok, "valueUri", token_url);
	cJSON_AddItemToArray(sub, tok);
	cJSON_AddItemToArray(list, uris);
	cc = cJSON_CreateObject();
	coding = cJSON_AddArrayToObject(cc, "coding");
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "system", "http://terminology.hl7.org/"
	    "CodeSystem/restful-security-service");
	cJSON_AddStringToObject(c, "code", "SMART-on-FHIR");
	cJSON_AddItemToArray(coding, c);
	cJSON_AddStringToObject(cc, "text", "SMART Backend Services "
	    "(client_credentials, private_key_jwt)");
	cJSON_AddItemToArray(svc, cc);
}

int
http_fhir_init(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	cJSON		*cs, *impl, *sw;
	struct tm	 tm;
	time_t		 now;
	char		 date[32], tokurl[TOKEN_URL_MAX];
	int		 rc = -1;

	if ((cs = http_fhir_load(HTTP_FHIR_TEMPLATE, errbuf, errlen)) == NULL)
		return -1;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((sw = http_fhir_child(cs, "software", 0)) == NULL ||
	    (impl = http_fhir_child(cs, "implementation", 0)) == NULL ||
	    http_fhir_set(cs, "date", cJSON_CreateString(date)) == -1 ||
	    http_fhir_set(cs, "kind", cJSON_CreateString("instance")) == -1 ||
	    http_fhir_set(cs, "fhirVersion",
	    cJSON_CreateString(HTTP_FHIR_VERSION)) == -1 ||
	    http_fhir_set(sw, "version",
	    cJSON_CreateString(BULKHEAD_VERSION)) == -1 ||
	    http_fhir_set(impl, "url", cJSON_CreateString(cfg->base_url)) ==
	    -1) {
		snprintf(errbuf, errlen, "%s: cannot fill in the template",
		    HTTP_FHIR_TEMPLATE);
		goto out_free;
	}
	if (http_fhir_merge_ops(cs, errbuf, errlen) == -1)
		goto out_free;
	if (strcmp(cfg->auth, "smart") == 0 &&
	    token_url(cfg->base_url, tokurl, sizeof(tokurl)) == -1) {
		snprintf(errbuf, errlen, "base_url too long for a token URL");
		goto out_free;
	}
	cJSON_ArrayForEach(sw, cJSON_GetObjectItemCaseSensitive(cs, "rest")) {
		http_fhir_search_params(sw);
		http_fhir_security_oauth_uris(sw, strcmp(cfg->auth, "smart") ==
		    0 ? tokurl : NULL);
	}
	if ((http_fhir_capability = cJSON_PrintUnformatted(cs)) == NULL) {
		snprintf(errbuf, errlen, "cannot render %s",
		    HTTP_FHIR_TEMPLATE);
		goto out_free;
	}
	http_fhir_capability_len = strlen(http_fhir_capability);
	rc = 0;
 out_free:
	cJSON_Delete(cs);
	return rc;
}

void
http_fhir_shutdown(void)
{
	cJSON_free(http_fhir_capability);
	http_fhir_capability = NULL;
	http_fhir_capability_len = 0;
}

void
http_fhir_metadata(struct http_req *req)
{
	http_reply_static(req, 200, http_req_json_type(req),
	    http_fhir_capability, http_fhir_capability_len);
}

void
http_fhir_healthz(struct http_req *req)
{
	char	err[512];

	http_resp_header(req, "Cache-Control", "no-store");
	if (http_db_ping(HTTP_FHIR_PING_MS, err, sizeof(err)) == -1) {
		log_warnx("healthz: request %s: database: %s",
		    http_req_id(req), err);
		http_reply_outcome(req, 503, "transient",
		    "database unavailable");
		return;
	}
	http_reply_static(req, 200, "application/json", HTTP_FHIR_HEALTH_OK,
	    sizeof(HTTP_FHIR_HEALTH_OK) - 1);
}
