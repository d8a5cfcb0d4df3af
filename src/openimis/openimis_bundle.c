/*
 * openimis_bundle.c — openIMIS searchset Bundles and their links (see
 * openimis_bundle.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httptext.h"
#include "lib/str.h"
#include "openimis/openimis_bundle.h"
#include "store/ndjson.h"

int
openimis_link_decode(const char *in, char *out, size_t outlen)
{
	size_t	o = 0;
	int	hi, lo, enc = strstr(in, "://") == NULL;

	for (; *in != '\0'; in++) {
		char	ch = *in;

		if (enc && ch == '%') {
			if ((hi = httptext_hexval((unsigned char)in[1])) == -1 ||
			    (lo = httptext_hexval((unsigned char)in[2])) == -1)
				return -1;
			ch = (char)(hi << 4 | lo);
			if (ch == '\0')
				return -1;
			in += 2;
		} else if (enc && ch == '+')
			ch = ' ';
		if (o + 1 >= outlen)
			return -1;
		out[o++] = ch;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

long
openimis_link_page(const char *url)
{
	const char	*q, *p;
	long		 v = 0;

	if ((q = strchr(url, '?')) == NULL)
		return 0;
	for (p = q + 1; p != NULL && *p != '\0';
	    p = (p = strchr(p, '&')) != NULL ? p + 1 : NULL) {
		if (strncmp(p, "page-offset=", 12) != 0)
			continue;
		p += 12;
		v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (v > 100000000L)
				return 0;
		}
		return (*p == '\0' || *p == '&' || *p == '#') ? v : 0;
	}
	return 0;
}

int
openimis_bundle_parse(const char *text, size_t len, struct openimis_page *pg,
    char *errbuf, size_t errlen)
{
	const cJSON	*rt, *ty, *tot, *links, *l, *rel, *url;
	char		 dec[4096];

	memset(pg, 0, sizeof(*pg));
	pg->op_total = -1;
	if ((pg->op_root = cJSON_ParseWithLength(text, len)) == NULL ||
	    !cJSON_IsObject(pg->op_root)) {
		snprintf(errbuf, errlen, "openIMIS answer is not a JSON object");
		return -1;
	}
	rt = cJSON_GetObjectItemCaseSensitive(pg->op_root, "resourceType");
	ty = cJSON_GetObjectItemCaseSensitive(pg->op_root, "type");
	if (!cJSON_IsString(rt) || strcmp(rt->valuestring, "Bundle") != 0 ||
	    !cJSON_IsString(ty) || strcmp(ty->valuestring, "searchset") != 0) {
		snprintf(errbuf, errlen, "openIMIS answer is not a searchset "
		    "Bundle");
		return -1;
	}
	tot = cJSON_GetObjectItemCaseSensitive(pg->op_root, "total");
	if (cJSON_IsNumber(tot) && tot->valuedouble >= 0 &&
	    tot->valuedouble < 1e15)
		pg->op_total = (int64_t)tot->valuedouble;
	pg->op_entries = cJSON_GetObjectItemCaseSensitive(pg->op_root,
	    "entry");
	if (pg->op_entries != NULL && !cJSON_IsArray(pg->op_entries)) {
		if (!cJSON_IsNull(pg->op_entries)) {
			snprintf(errbuf, errlen, "openIMIS Bundle: entry is not "
			    "an array");
			return -1;
		}
		pg->op_entries = NULL;
	}
	links = cJSON_GetObjectItemCaseSensitive(pg->op_root, "link");
	if (!cJSON_IsArray(links))
		links = NULL;
	cJSON_ArrayForEach(l, links) {
		rel = cJSON_GetObjectItemCaseSensitive(l, "relation");
		url = cJSON_GetObjectItemCaseSensitive(l, "url");
		if (!cJSON_IsString(rel) || strcmp(rel->valuestring, "next") != 0)
			continue;
		if (!cJSON_IsString(url) || openimis_link_decode(url->valuestring,
		    dec, sizeof(dec)) == -1 ||
		    (pg->op_next = openimis_link_page(dec)) == 0) {
			snprintf(errbuf, errlen, "openIMIS Bundle: a next link "
			    "without a page-offset");
			return -1;
		}
	}
	return 0;
}

void
openimis_bundle_free(struct openimis_page *pg)
{
	cJSON_Delete(pg->op_root);
	memset(pg, 0, sizeof(*pg));
}

const char *
openimis_identifier(const cJSON *res, const char *code)
{
	const cJSON	*ids, *i, *cd, *v;

	ids = cJSON_GetObjectItemCaseSensitive(res, "identifier");
	if (!cJSON_IsArray(ids))
		ids = NULL;
	cJSON_ArrayForEach(i, ids) {
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(i, "type");
		const cJSON *cs = cJSON_GetObjectItemCaseSensitive(ty, "coding");

		if (!cJSON_IsArray(cs))
			cs = NULL;
		cJSON_ArrayForEach(cd, cs) {
			v = cJSON_GetObjectItemCaseSensitive(cd, "code");
			if (cJSON_IsString(v) && strcmp(v->valuestring,
			    code) == 0) {
				v = cJSON_GetObjectItemCaseSensitive(i, "value");
				return cJSON_IsString(v) ? v->valuestring : NULL;
			}
		}
	}
	return NULL;
}

char *
openimis_resource_line(const cJSON *res, const char *want_type, char *id,
    size_t idlen, char *errbuf, size_t errlen)
{
	const cJSON	*rt, *idv;
	const char	*v;
	cJSON		*copy;
	char		*line;

	rt = cJSON_GetObjectItemCaseSensitive(res, "resourceType");
	if (!cJSON_IsObject(res) || !cJSON_IsString(rt) ||
	    strcmp(rt->valuestring, want_type) != 0) {
		snprintf(errbuf, errlen, "entry is not a %s", want_type);
		return NULL;
	}
	idv = cJSON_GetObjectItemCaseSensitive(res, "id");
	if (cJSON_IsString(idv))
		v = idv->valuestring;
	else
		v = openimis_identifier(res, "UUID");
	if (v == NULL || !ndjson_valid_id(v, strlen(v)) ||
	    strlen(v) >= idlen) {
		snprintf(errbuf, errlen, "%s entry without a usable id or UUID "
		    "identifier", want_type);
		return NULL;
	}
	str_lcpy(id, v, idlen);
	if (cJSON_IsString(idv))
		return cJSON_PrintUnformatted(res);
	if ((copy = cJSON_Duplicate(res, 1)) == NULL)
		return NULL;
	(void)cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
	(void)cJSON_AddStringToObject(copy, "id", id);
	line = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return line;
}
