/*
 * validate.c — required elements and reference syntax (see validate.h).
 *
 * References are found by their member name in the compact text: a
 * "reference" key can only appear as such outside a string, because
 * quotes inside JSON strings are escaped.  Each value must be a relative
 * reference Type/id (optionally /_history/vid), an absolute http(s) URL,
 * a fragment "#id" or a "urn:uuid:" / "urn:oid:" URN.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/fhir_types.h"
#include "core/embed.h"
#include "lib/jscan.h"
#include "store/ndjson.h"
#include "store/validate.h"

#define VALIDATE_TABLE	"fhir/required-elements.json"

static cJSON	*validate_table;	/* parsed once; read-only after */

int
validate_init(char *errbuf, size_t errlen)
{
	const struct embed_file	*f;

	if (validate_table != NULL)
		return 0;
	if ((f = embed_find(VALIDATE_TABLE)) == NULL ||
	    (validate_table = cJSON_Parse((const char *)f->ef_data)) == NULL) {
		snprintf(errbuf, errlen, "%s is missing or not JSON",
		    VALIDATE_TABLE);
		return -1;
	}
	return 0;
}

struct validate_seen {
	const cJSON	*required;
	unsigned char	 found[64];	/* one flag per required element */
};

static int
validate_member(void *arg, const char *key, size_t keylen, const char *value,
    size_t valuelen)
{
	struct validate_seen	*v = arg;
	const cJSON		*e;
	size_t			 i = 0, n;

	(void)value;
	(void)valuelen;
	cJSON_ArrayForEach(e, v->required) {
		if (i >= sizeof(v->found))
			break;
		n = strlen(e->valuestring);
		/* "medication[x]" is satisfied by medicationCodeableConcept,
		 * medicationReference, ... */
		if (n > 3 && strcmp(e->valuestring + n - 3, "[x]") == 0) {
			if (keylen > n - 3 && memcmp(key, e->valuestring,
			    n - 3) == 0 && isupper((unsigned char)key[n - 3]))
				v->found[i] = 1;
		} else if (keylen == n && memcmp(key, e->valuestring, n) == 0)
			v->found[i] = 1;
		i++;
	}
	return 0;
}

static int
validate_reference(const char *r, size_t n)
{
	const char	*slash;
	size_t		 tlen;
	char		 type[72];

	if (n == 0)
		return 0;
	if (r[0] == '#')
		return n > 1;
	if ((n > 7 && strncmp(r, "http://", 7) == 0) ||
	    (n > 8 && strncmp(r, "https://", 8) == 0) ||
	    (n > 9 && strncmp(r, "urn:uuid:", 9) == 0) ||
	    (n > 8 && strncmp(r, "urn:oid:", 8) == 0))
		return memchr(r, ' ', n) == NULL;
	if ((slash = memchr(r, '/', n)) == NULL)
		return 0;
	tlen = (size_t)(slash - r);
	if (tlen == 0 || tlen >= sizeof(type))
		return 0;
	memcpy(type, r, tlen);
	type[tlen] = '\0';
	if (!fhir_type_valid(type))
		return 0;
	r = slash + 1;
	n -= tlen + 1;
	/* Type/id or Type/id/_history/vid */
	slash = memchr(r, '/', n);
	if (slash == NULL)
		return ndjson_valid_id(r, n);
	if (!ndjson_valid_id(r, (size_t)(slash - r)))
		return 0;
	n -= (size_t)(slash - r) + 1;
	r = slash + 1;
	if (n < 10 || strncmp(r, "_history/", 9) != 0)
		return 0;
	return ndjson_valid_id(r + 9, n - 9);
}

/* The required elements of tname not flagged in v: 0, or -1 (errbuf). */
static int
validate_required(const struct validate_seen *v, const char *tname,
    char *errbuf, size_t errlen)
{
	const cJSON	*e;
	size_t		 i = 0;

	cJSON_ArrayForEach(e, v->required) {
		if (i < sizeof(v->found) && !v->found[i]) {
			snprintf(errbuf, errlen, "%s.%s is required (min 1) "
			    "and missing", tname, e->valuestring);
			return -1;
		}
		i++;
	}
	return 0;
}

/* Every "reference" member's value: 0, or -1 (errbuf, *offset). */
static int
validate_references(const char *line, size_t len, char *errbuf,
    size_t errlen, size_t *offset)
{
	static const char	 key[] = "\"reference\"";
	const char		*p = line, *end = line + len, *q, *s;

	while ((q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) !=
	    NULL) {
		p = q + sizeof(key) - 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != ':')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != '"') {
			*offset = (size_t)(p - line);
			snprintf(errbuf, errlen, "a reference is not a string");
			return -1;
		}
		s = ++p;
		while (p < end && *p != '"')
			p += *p == '\\' ? 2 : 1;
		if (p > end || !validate_reference(s, (size_t)(p - s))) {
			*offset = (size_t)(s - line);
			snprintf(errbuf, errlen, "malformed reference \"%.*s\"",
			    (int)((p > end ? end : p) - s > 80 ? 80 :
			    (p > end ? end : p) - s), s);
			return -1;
		}
	}
	return 0;
}

int
validate_resource(const char *type, size_t typelen, const char *line,
    size_t len, char *errbuf, size_t errlen, size_t *offset)
{
	struct validate_seen	 v;
	char			 tname[72];

	*offset = 0;
	memset(&v, 0, sizeof(v));
	if (typelen >= sizeof(tname))
		typelen = sizeof(tname) - 1;
	memcpy(tname, type, typelen);
	tname[typelen] = '\0';
	v.required = cJSON_GetObjectItemCaseSensitive(validate_table, tname);
	if (cJSON_GetArraySize(v.required) > 0) {
		(void)jscan_object(line, len, validate_member, &v, NULL);
		if (validate_required(&v, tname, errbuf, errlen) == -1)
			return -1;
	}
	return validate_references(line, len, errbuf, errlen, offset);
}

int
validate_line(const char *type, const char *line, size_t len,
    struct ndjson_resource *res, char *errbuf, size_t errlen, size_t *offset)
{
	struct validate_seen	 v;
	size_t			 tl = strlen(type);

	*offset = 0;
	memset(&v, 0, sizeof(v));
	v.required = cJSON_GetObjectItemCaseSensitive(validate_table, type);
	if (ndjson_parse_with(line, len, res, cJSON_GetArraySize(v.required) >
	    0 ? validate_member : NULL, &v, errbuf, errlen, offset) == -1)
		return -1;
	if (tl != res->nr_type_len || memcmp(type, res->nr_type, tl) != 0) {
		snprintf(errbuf, errlen, "resourceType %.*s is not the input's "
		    "type %s", (int)(res->nr_type_len > 64 ? 64 :
		    res->nr_type_len), res->nr_type, type);
		return -1;
	}
	if (validate_required(&v, type, errbuf, errlen) == -1)
		return -1;
	return validate_references(line, len, errbuf, errlen, offset);
}
