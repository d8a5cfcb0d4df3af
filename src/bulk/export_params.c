/*
 * export_params.c — validation of $export kick-off parameters (SPEC §1.4,
 * §1.5).  Pure: no I/O, no database; the API process calls it before it
 * records a job, so every refusal happens at kick-off, never in a worker.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "bulk/export_params.h"
#include "store/fhir_types.h"
#include "bulk/search.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/ndjson.h"

/* A parameter we cannot honour: an error under strict handling, a
 * warning (and the parameter dropped) under lenient.  Returns -1 when the
 * kick-off must be refused. */
static int
export_unsupported(const struct export_kickoff *k, cJSON *warnings,
    struct export_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
export_unsupported(const struct export_kickoff *k, cJSON *warnings,
    struct export_error *err, const char *code, const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k->ek_lenient) {
		char	w[600];

		snprintf(w, sizeof(w), "%s (ignored: Prefer handling=lenient)",
		    msg);
		cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
		return 0;
	}
	err->ee_status = 400;
	err->ee_code = code;
	str_lcpy(err->ee_msg, msg, sizeof(err->ee_msg));
	return -1;
}

static int
export_invalid(struct export_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
export_invalid(struct export_error *err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err->ee_msg, sizeof(err->ee_msg), fmt, ap);
	va_end(ap);
	err->ee_status = 400;
	err->ee_code = "invalid";
	return -1;
}

int
export_kickoff_add(struct export_kickoff *k, const char *name,
    const char *value, struct export_error *err)
{
	if (k->ek_npairs >= EXPORT_MAX_PAIRS)
		return export_invalid(err, "more than %d parameters",
		    EXPORT_MAX_PAIRS);
	k->ek_pairs[k->ek_npairs].ep_name = name;
	k->ek_pairs[k->ek_npairs].ep_value = value;
	k->ek_npairs++;
	return 0;
}

int
export_valid_instant(const char *v)
{
	return ndjson_valid_instant(v, strlen(v));
}

/* Seconds since the epoch of a valid instant (export_valid_instant),
 * through the store's own instant parser (microseconds since 2000). */
static int64_t
export_instant_epoch(const char *v)
{
	return ndjson_instant_usec(v, strlen(v)) / 1000000 + 946684800;
}

/* The string form of a Parameters.parameter value (EXP-K-03b), leniently
 * across the value[x] types each parameter may come as. */
static const char *
export_param_value(const cJSON *p)
{
	static const char *const keys[] = { "valueString", "valueInstant",
	    "valueDateTime", "valueCode", "valueUri", "valueCanonical",
	    "valueId" };
	const cJSON	*v;
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = cJSON_GetObjectItemCaseSensitive(p, keys[i])) != NULL)
			return cJSON_IsString(v) ? v->valuestring : NULL;
	if ((v = cJSON_GetObjectItemCaseSensitive(p, "valueBoolean")) != NULL)
		return cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" :
		    NULL;
	if ((v = cJSON_GetObjectItemCaseSensitive(p, "valueReference")) !=
	    NULL) {
		v = cJSON_GetObjectItemCaseSensitive(v, "reference");
		return cJSON_IsString(v) ? v->valuestring : NULL;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(p, "valueCoding")) != NULL) {
		v = cJSON_GetObjectItemCaseSensitive(v, "code");
		return cJSON_IsString(v) ? v->valuestring : NULL;
	}
	return NULL;
}

int
export_kickoff_from_parameters(struct export_kickoff *k, const cJSON *body,
    struct export_error *err)
{
	const cJSON	*rt, *params, *p, *name;
	const char	*value;

	rt = cJSON_GetObjectItemCaseSensitive(body, "resourceType");
	if (!cJSON_IsString(rt) || strcmp(rt->valuestring, "Parameters") != 0)
		return export_invalid(err, "the body must be a FHIR Parameters "
		    "resource");
	params = cJSON_GetObjectItemCaseSensitive(body, "parameter");
	if (params != NULL && !cJSON_IsArray(params))
		return export_invalid(err, "Parameters.parameter must be an "
		    "array");
	cJSON_ArrayForEach(p, params) {
		name = cJSON_GetObjectItemCaseSensitive(p, "name");
		if (!cJSON_IsString(name))
			return export_invalid(err, "a parameter without a "
			    "name");
		if ((value = export_param_value(p)) == NULL)
			return export_invalid(err, "parameter %s: no value of "
			    "a supported type", name->valuestring);
		if (export_kickoff_add(k, name->valuestring, value, err) == -1)
			return -1;
	}
	return 0;
}

/* Calls fn for each comma-separated, trimmed, non-empty item of v. */
static int
export_each_item(const char *v, int (*fn)(void *, const char *), void *arg)
{
	char	item[1024];
	size_t	n;

	while (*v != '\0') {
		n = strcspn(v, ",");
		if (n >= sizeof(item))
			return -2;
		memcpy(item, v, n);
		item[n] = '\0';
		if (*str_trim(item) != '\0' && fn(arg, str_trim(item)) == -1)
			return -1;
		v += n;
		if (*v == ',')
			v++;
	}
	return 0;
}

struct export_build {
	const struct export_kickoff	*k;
	struct export_error		*err;
	cJSON				*params;
	cJSON				*warnings;
	cJSON				*types;		/* or NULL */
	cJSON				*elements;	/* or NULL */
	cJSON				*patients;	/* or NULL */
	cJSON				*filters;	/* or NULL */
	int				 type_given;	/* a _type item seen */
	int				 associated;	/* ASSOC_* bits */
};

static int
export_type_listed(const cJSON *types, const char *t)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, types)
		if (strcmp(it->valuestring, t) == 0)
			return 1;
	return 0;
}

static int
export_add_type(void *arg, const char *t)
{
	struct export_build	*b = arg;

	b->type_given = 1;
	if (!fhir_type_valid(t))
		return export_unsupported(b->k, b->warnings, b->err,
		    "not-supported", "_type: %s is not a FHIR R4 resource "
		    "type", t);
	/* Provenance: what targets the compartment (EXP-P-IA-5). */
	if (b->k->ek_level != EXPORT_SYSTEM && !fhir_type_in_compartment(t) &&
	    !fhir_type_is_context(t) && strcmp(t, "Provenance") != 0) {
		/* Left out with a warning even when strict: the IG asks for
		 * an error only when no type is left (EXP-P-TY-5). */
		char	w[256];

		snprintf(w, sizeof(w), "_type: %s resources are not in the "
		    "Patient compartment and not exported at this level (left "
		    "out)", t);
		cJSON_AddItemToArray(b->warnings, cJSON_CreateString(w));
		return 0;
	}
	if (!export_type_listed(b->types, t))
		cJSON_AddItemToArray(b->types, cJSON_CreateString(t));
	return 0;
}

static int
export_add_element(void *arg, const char *e)
{
	struct export_build	*b = arg;
	const char		*dot = strchr(e, '.'), *name = dot ? dot + 1 : e;
	char			 type[80];
	size_t			 i;

	if (dot != NULL) {
		if ((size_t)(dot - e) >= sizeof(type))
			return export_invalid(b->err, "_elements: %s is not "
			    "[Type.]element", e);
		memcpy(type, e, (size_t)(dot - e));
		type[dot - e] = '\0';
		if (!fhir_type_valid(type))
			return export_unsupported(b->k, b->warnings, b->err,
			    "not-supported", "_elements: %s is not a FHIR R4 "
			    "resource type", type);
	}
	if (*name == '\0' || strchr(name, '.') != NULL)
		return export_unsupported(b->k, b->warnings, b->err,
		    "not-supported", "_elements: only top-level elements are "
		    "supported (%s)", e);
	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return export_invalid(b->err, "_elements: %s is not "
			    "[Type.]element", e);
	cJSON_AddItemToArray(b->elements, cJSON_CreateString(e));
	return 0;
}

/* One _typeFilter value: "Type?query", or under STU2 several of them
 * comma-joined (split only where the next part starts "Type?":
 * EXP-P-TF-7). */
static int
export_add_filter(struct export_build *b, const char *v)
{
	struct search_sql	 ss;
	char			 type[80], err[512];
	const char		*q, *next, *p;
	char			*query = NULL;
	cJSON			*list;
	size_t			 tlen, qlen;
	int			 rc = -1;

	while (*v != '\0') {
		q = strchr(v, '?');
		tlen = q != NULL ? (size_t)(q - v) : 0;
		if (q == NULL || tlen == 0 || tlen >= sizeof(type))
			return export_invalid(b->err, "_typeFilter: \"%.80s\" "
			    "is not Type?query", v);
		memcpy(type, v, tlen);
		type[tlen] = '\0';
		/* Find the next ",Type?" boundary. */
		for (next = NULL, p = q + 1; (p = strchr(p, ',')) != NULL;
		    p++) {
			size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz");

			if (n > 0 && p[1 + n] == '?' && p[1] >= 'A' &&
			    p[1] <= 'Z') {
				next = p;
				break;
			}
		}
		qlen = next != NULL ? (size_t)(next - q - 1) : strlen(q + 1);
		query = xstrndup(q + 1, qlen);
		if (!fhir_type_valid(type)) {
			if (export_unsupported(b->k, b->warnings, b->err,
			    "not-supported", "_typeFilter: %s is not a FHIR "
			    "R4 resource type", type) == -1)
				goto out;
		} else if (b->types != NULL && cJSON_GetArraySize(b->types) >
		    0 && !export_type_listed(b->types, type)) {
			if (export_unsupported(b->k, b->warnings, b->err,
			    "invalid", "_typeFilter: %s is not in _type", type)
			    == -1)
				goto out;
		} else {
			search_sql_init(&ss);
			if (search_compile(type, query, 1, &ss, err,
			    sizeof(err)) == -1) {
				search_sql_free(&ss);
				if (export_unsupported(b->k, b->warnings,
				    b->err, "not-supported", "_typeFilter: %s",
				    err) == -1)
					goto out;
			} else {
				search_sql_free(&ss);
				if ((list = cJSON_GetObjectItemCaseSensitive(
				    b->filters, type)) == NULL)
					list = cJSON_AddArrayToObject(
					    b->filters, type);
				cJSON_AddItemToArray(list,
				    cJSON_CreateString(query));
			}
		}
		free(query);
		query = NULL;
		v = next != NULL ? next + 1 : q + 1 + qlen;
	}
	rc = 0;
 out:
	free(query);
	return rc;
}

static int
export_add_patient(struct export_build *b, const char *ref)
{
	const char	*id = ref;

	if (strncmp(ref, "Patient/", 8) == 0)
		id = ref + 8;
	if (!ndjson_valid_id(id, strlen(id)))
		return export_invalid(b->err, "patient: \"%.80s\" is not a "
		    "Patient reference", ref);
	if (cJSON_GetArraySize(b->patients) >= EXPORT_MAX_PATIENTS)
		return export_invalid(b->err, "patient: more than %d "
		    "references", EXPORT_MAX_PATIENTS);
	cJSON_AddItemToArray(b->patients, cJSON_CreateString(id));
	return 0;
}

static int
export_is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

#define ASSOC_LATEST	1
#define ASSOC_RELEVANT	2

/* One includeAssociatedData value (EXP-P-IA-1..4): the Provenance the
 * store holds, newest or all; custom values are not supported. */
static int
export_add_associated(void *arg, const char *v)
{
	struct export_build	*b = arg;

	if (export_is(v, "LatestProvenanceResources"))
		b->associated |= ASSOC_LATEST;
	else if (export_is(v, "RelevantProvenanceResources"))
		b->associated |= ASSOC_RELEVANT;
	else
		return export_unsupported(b->k, b->warnings, b->err,
		    "not-supported", "includeAssociatedData: %.80s is not "
		    "supported (LatestProvenanceResources, "
		    "RelevantProvenanceResources)", v);
	return 0;
}

/* Everything but _typeFilter, which needs the final _type list. */
static int
export_one(struct export_build *b, const char *name, const char *v,
    int *seen_format, int *seen_since, int *seen_until)
{
	const struct export_kickoff	*k = b->k;
	int				 rc;

	if (export_is(name, "_outputFormat")) {
		if (*seen_format)
			return export_invalid(b->err, "_outputFormat given "
			    "twice");
		*seen_format = 1;
		/* "application/fhir ndjson": a '+' decoded as a space. */
		if (export_is(v, "application/fhir+ndjson") ||
		    export_is(v, "application/ndjson") ||
		    export_is(v, "ndjson") ||
		    export_is(v, "application/fhir ndjson"))
			return 0;
		return export_unsupported(k, b->warnings, b->err,
		    "not-supported", "_outputFormat: %.100s is not supported "
		    "(application/fhir+ndjson, application/ndjson, ndjson)",
		    v);
	}
	if (export_is(name, "_since") || export_is(name, "_until")) {
		int *seen = export_is(name, "_since") ? seen_since : seen_until;

		if (*seen)
			return export_invalid(b->err, "%s given twice", name);
		*seen = 1;
		if (!export_valid_instant(v))
			return export_invalid(b->err, "%s: \"%.80s\" is not a "
			    "FHIR instant (e.g. 2026-01-31T00:00:00Z; encode "
			    "'+' as %%2B)", name, v);
		/* A future _since can only be a client bug, and an empty
		 * export would hide it (a minute of clock skew allowed). */
		if (seen == seen_since &&
		    export_instant_epoch(v) > (int64_t)time(NULL) + 60)
			return export_invalid(b->err, "_since: %.80s is in the "
			    "future", v);
		cJSON_AddStringToObject(b->params, name + 1, v);
		return 0;
	}
	if (export_is(name, "_type")) {
		rc = export_each_item(v, export_add_type, b);
		if (rc == -2)
			return export_invalid(b->err, "_type: item too long");
		return rc;
	}
	if (export_is(name, "_elements")) {
		rc = export_each_item(v, export_add_element, b);
		if (rc == -2)
			return export_invalid(b->err, "_elements: item too "
			    "long");
		return rc;
	}
	if (export_is(name, "patient")) {
		if (k->ek_level == EXPORT_SYSTEM)
			return export_unsupported(k, b->warnings, b->err,
			    "not-supported", "patient is not allowed in a "
			    "system-level export");
		if (!k->ek_post)
			return export_unsupported(k, b->warnings, b->err,
			    "not-supported", "patient is supported in a POST "
			    "Parameters body only");
		return export_add_patient(b, v);
	}
	if (export_is(name, "includeAssociatedData")) {
		rc = export_each_item(v, export_add_associated, b);
		if (rc == -2)
			return export_invalid(b->err, "includeAssociatedData: "
			    "item too long");
		return rc;
	}
	if (export_is(name, "organizeOutputBy")) {
		if (!export_is(v, "Patient"))
			return export_unsupported(k, b->warnings, b->err,
			    "not-supported", "organizeOutputBy: only Patient "
			    "is supported");
		if (k->ek_level == EXPORT_SYSTEM)
			return export_unsupported(k, b->warnings, b->err,
			    "not-supported", "organizeOutputBy: Patient is "
			    "supported at Patient and Group level only");
		cJSON_AddStringToObject(b->params, "organizeOutputBy", v);
		return 0;
	}
	if (export_is(name, "allowPartialManifests")) {
		if (!export_is(v, "true") && !export_is(v, "false"))
			return export_invalid(b->err, "allowPartialManifests: "
			    "\"%.20s\" is not a boolean", v);
		cJSON_AddBoolToObject(b->params, "allowPartialManifests",
		    export_is(v, "true"));
		return 0;
	}
	if (export_is(name, "_typeFilter"))
		return 0;	/* second pass */
	/* Negotiated by the router (406 when not JSON): not ours. */
	if (export_is(name, "_format") || export_is(name, "_pretty"))
		return 0;
	return export_unsupported(k, b->warnings, b->err, "not-supported",
	    "unknown parameter %.80s", name);
}

int
export_params_build(const struct export_kickoff *k, cJSON **out,
    struct export_error *err)
{
	static const char *const levels[] = { "system", "patient", "group" };
	struct export_build	 b;
	size_t			 i;
	int			 seen_format = 0, seen_since = 0;
	int			 seen_until = 0, rc = -1;

	memset(&b, 0, sizeof(b));
	b.k = k;
	b.err = err;
	b.params = cJSON_CreateObject();
	cJSON_AddStringToObject(b.params, "level", levels[k->ek_level]);
	if (k->ek_group != NULL)
		cJSON_AddStringToObject(b.params, "group", k->ek_group);
	cJSON_AddStringToObject(b.params, "request", k->ek_request);
	cJSON_AddStringToObject(b.params, "outputFormat",
	    "application/fhir+ndjson");
	b.types = cJSON_CreateArray();
	b.elements = cJSON_CreateArray();
	b.patients = cJSON_CreateArray();
	b.filters = cJSON_CreateObject();
	b.warnings = cJSON_CreateArray();

	for (i = 0; i < k->ek_npairs; i++)
		if (export_one(&b, k->ek_pairs[i].ep_name,
		    k->ek_pairs[i].ep_value, &seen_format, &seen_since,
		    &seen_until) == -1)
			goto out;
	for (i = 0; i < k->ek_npairs; i++)
		if (export_is(k->ek_pairs[i].ep_name, "_typeFilter") &&
		    export_add_filter(&b, k->ek_pairs[i].ep_value) == -1)
			goto out;
	if (b.type_given && cJSON_GetArraySize(b.types) == 0) {
		/* Every type dropped: exporting all of them instead would
		 * be the opposite of what was asked. */
		(void)export_invalid(err, "_type: none of the types asked for "
		    "can be exported at this level");
		err->ee_code = "not-supported";
		goto out;
	}
	if (cJSON_GetArraySize(b.types) > 0) {
		cJSON_AddItemToObject(b.params, "types", b.types);
		b.types = NULL;
	}
	if (cJSON_GetArraySize(b.elements) > 0) {
		cJSON_AddItemToObject(b.params, "elements", b.elements);
		b.elements = NULL;
	}
	if (cJSON_GetArraySize(b.patients) > 0) {
		cJSON_AddItemToObject(b.params, "patients", b.patients);
		b.patients = NULL;
	}
	if (cJSON_GetArraySize(b.filters) > 0) {
		cJSON_AddItemToObject(b.params, "typeFilters", b.filters);
		b.filters = NULL;
	}
	/* Both asked for: the larger set wins (EXP-P-IA-3). */
	if (b.associated != 0)
		cJSON_AddStringToObject(b.params, "associated",
		    (b.associated & ASSOC_RELEVANT) ? "relevant" : "latest");
	cJSON_AddBoolToObject(b.params, "lenient", k->ek_lenient);
	if (cJSON_GetArraySize(b.warnings) > 0) {
		cJSON_AddItemToObject(b.params, "warnings", b.warnings);
		b.warnings = NULL;
	}
	*out = b.params;
	b.params = NULL;
	rc = 0;
 out:
	cJSON_Delete(b.params);
	cJSON_Delete(b.types);
	cJSON_Delete(b.elements);
	cJSON_Delete(b.patients);
	cJSON_Delete(b.filters);
	cJSON_Delete(b.warnings);
	return rc;
}
