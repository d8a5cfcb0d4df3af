/*
 * openhim_cfg.c — mediator config: its configDefs and the validation of
 * what OpenHIM returns (see openhim_cfg.h).  The types follow core-js
 * src/model/mediators.js (configParamTypes: string, bool, number, option,
 * bigstring, map, struct, password; "array" on a def) and the checks of
 * src/api/mediators.js validateConfig(), tightened to what Bulkhead can
 * use: unknown params are refused, names and URLs are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/xmalloc.h"
#include "openhim/openhim_cfg.h"

static int	openhim_cfg_target(const cJSON *, struct openhim_target *,
		    size_t, char *, size_t);
static int	openhim_cfg_str(const cJSON *, const char *, int, char **,
		    char *, size_t, size_t);
static cJSON	*openhim_cfg_def(const char *, const char *, const char *,
		    const char *, int, cJSON *);

void
openhim_cfg_free(struct openhim_cfg *oc)
{
	size_t	i;

	if (oc == NULL)
		return;
	for (i = 0; i < oc->oc_ntargets; i++) {
		free(oc->oc_targets[i].ot_url);
		free(oc->oc_targets[i].ot_username);
		free(oc->oc_targets[i].ot_password);
		free(oc->oc_targets[i].ot_channel);
	}
	free(oc->oc_targets);
	memset(oc, 0, sizeof(*oc));
}

/* Optional string field key of o into *out (NULL when absent or ""). */
static int
openhim_cfg_str(const cJSON *o, const char *key, int required, char **out,
    char *errbuf, size_t errlen, size_t i)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v) ||
	    (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		if (required) {
			snprintf(errbuf, errlen, "targets[%zu].%s is required",
			    i, key);
			return -1;
		}
		return 0;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) > 2048) {
		snprintf(errbuf, errlen, "targets[%zu].%s: expected a string "
		    "of at most 2048 bytes", i, key);
		return -1;
	}
	*out = xstrdup(v->valuestring);
	return 0;
}

static int
openhim_cfg_target(const cJSON *o, struct openhim_target *t, size_t i,
    char *errbuf, size_t errlen)
{
	static const char *known[] = { "name", "url", "username", "password",
	    "channel", "maxInlineBytes", NULL };
	const cJSON	*v, *f;
	char		*name = NULL;
	size_t		 k, j;
	int		 rc = -1;

	if (!cJSON_IsObject(o)) {
		snprintf(errbuf, errlen, "targets[%zu]: expected an object", i);
		return -1;
	}
	cJSON_ArrayForEach(f, o) {
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(f->string, known[k]) == 0)
				break;
		if (known[k] == NULL) {
			snprintf(errbuf, errlen, "targets[%zu]: unknown field "
			    "\"%.64s\"", i, f->string);
			return -1;
		}
	}
	if (openhim_cfg_str(o, "name", 1, &name, errbuf, errlen, i) == -1)
		goto out;
	if (strlen(name) > OPENHIM_CFG_NAME_MAX) {
		snprintf(errbuf, errlen, "targets[%zu].name: longer than %d",
		    i, OPENHIM_CFG_NAME_MAX);
		goto out;
	}
	for (j = 0; name[j] != '\0'; j++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-",
		    name[j]) == NULL) {
			snprintf(errbuf, errlen, "targets[%zu].name: \"%s\": "
			    "only a-z, 0-9, '-' and '_'", i, name);
			goto out;
		}
	memcpy(t->ot_name, name, strlen(name) + 1);
	if (openhim_cfg_str(o, "url", 1, &t->ot_url, errbuf, errlen, i) == -1 ||
	    openhim_cfg_str(o, "username", 0, &t->ot_username, errbuf, errlen,
	    i) == -1 || openhim_cfg_str(o, "password", 0, &t->ot_password,
	    errbuf, errlen, i) == -1 || openhim_cfg_str(o, "channel", 0,
	    &t->ot_channel, errbuf, errlen, i) == -1)
		goto out;
	if (strncmp(t->ot_url, "http://", 7) != 0 &&
	    strncmp(t->ot_url, "https://", 8) != 0) {
		snprintf(errbuf, errlen, "targets[%zu].url: must start with "
		    "http:// or https://", i);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "maxInlineBytes");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
		    v->valuedouble > (double)OPENHIM_MAX_INLINE ||
		    v->valuedouble != (double)(int64_t)v->valuedouble) {
			snprintf(errbuf, errlen, "targets[%zu].maxInlineBytes:"
			    " expected an integer from 0 to %lld", i,
			    (long long)OPENHIM_MAX_INLINE);
			goto out;
		}
		t->ot_max_inline = (int64_t)v->valuedouble;
	}
	rc = 0;
 out:
	free(name);
	return rc;
}

int
openhim_cfg_parse(const char *text, struct openhim_cfg *out, char *errbuf,
    size_t errlen)
{
	cJSON		*root, *f, *targets, *ma;
	size_t		 i, j, n;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = cJSON_Parse(text)) == NULL || !cJSON_IsObject(root)) {
		snprintf(errbuf, errlen, "not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(f, root)
		if (strcmp(f->string, "targets") != 0 &&
		    strcmp(f->string, "maxAttempts") != 0) {
			snprintf(errbuf, errlen, "unknown param \"%.64s\"",
			    f->string);
			goto out;
		}
	ma = cJSON_GetObjectItemCaseSensitive(root, "maxAttempts");
	if (ma != NULL && !cJSON_IsNull(ma)) {
		if (!cJSON_IsNumber(ma) || ma->valuedouble < 1 ||
		    ma->valuedouble > 100 ||
		    ma->valuedouble != (double)(int)ma->valuedouble) {
			snprintf(errbuf, errlen, "maxAttempts: expected an "
			    "integer from 1 to 100");
			goto out;
		}
		out->oc_max_attempts = (int)ma->valuedouble;
	}
	targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
	if (targets != NULL && !cJSON_IsNull(targets)) {
		if (!cJSON_IsArray(targets) || (n = (size_t)
		    cJSON_GetArraySize(targets)) > OPENHIM_CFG_TARGETS_MAX) {
			snprintf(errbuf, errlen, "targets: expected an array "
			    "of at most %d", OPENHIM_CFG_TARGETS_MAX);
			goto out;
		}
		out->oc_targets = xcalloc(n > 0 ? n : 1,
		    sizeof(*out->oc_targets));
		for (i = 0; i < n; i++) {
			out->oc_ntargets = i + 1;
			if (openhim_cfg_target(cJSON_GetArrayItem(targets,
			    (int)i), &out->oc_targets[i], i, errbuf,
			    errlen) == -1)
				goto out;
			for (j = 0; j < i; j++)
				if (strcmp(out->oc_targets[j].ot_name,
				    out->oc_targets[i].ot_name) == 0) {
					snprintf(errbuf, errlen, "targets[%zu]"
					    ": name \"%s\" given twice", i,
					    out->oc_targets[i].ot_name);
					goto out;
				}
		}
	}
	rc = 0;
 out:
	if (rc == -1)
		openhim_cfg_free(out);
	cJSON_Delete(root);
	return rc;
}

/* One configDef; template (taken) only for struct. */
static cJSON *
openhim_cfg_def(const char *param, const char *name, const char *desc,
    const char *type, int array, cJSON *template)
{
	cJSON	*d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "param", param);
	cJSON_AddStringToObject(d, "displayName", name);
	cJSON_AddStringToObject(d, "description", desc);
	cJSON_AddStringToObject(d, "type", type);
	if (array)
		cJSON_AddBoolToObject(d, "array", 1);
	if (template != NULL)
		cJSON_AddItemToObject(d, "template", template);
	return d;
}

cJSON *
openhim_cfg_defs(void)
{
	cJSON	*defs = cJSON_CreateArray(), *tpl = cJSON_CreateArray();

	cJSON_AddItemToArray(tpl, openhim_cfg_def("name", "Name",
	    "what jobs name in \"deliver\": [{\"target\": NAME}]", "string",
	    0, NULL));
	cJSON_AddItemToArray(tpl, openhim_cfg_def("url", "URL",
	    "the channel URL on the OpenHIM router notifications go to",
	    "string", 0, NULL));
	cJSON_AddItemToArray(tpl, openhim_cfg_def("username", "Client ID",
	    "router client (Basic auth)", "string", 0, NULL));
	cJSON_AddItemToArray(tpl, openhim_cfg_def("password",
	    "Client password", "router client password", "password", 0,
	    NULL));
	cJSON_AddItemToArray(tpl, openhim_cfg_def("channel", "Channel",
	    "the channel's name, for the record", "string", 0, NULL));
	cJSON_AddItemToArray(tpl, openhim_cfg_def("maxInlineBytes",
	    "Inline below (bytes)", "files are sent inline only when they "
	    "total less (0: never; at most 15 MiB)", "number", 0, NULL));
	cJSON_AddItemToArray(defs, openhim_cfg_def("targets",
	    "Delivery targets", "where finished jobs' manifests are posted",
	    "struct", 1, tpl));
	cJSON_AddItemToArray(defs, openhim_cfg_def("maxAttempts",
	    "Delivery attempts", "attempts per delivery (1-100)", "number",
	    0, NULL));
	return defs;
}

int
openhim_cfg_deliver_check(const cJSON *deliver, char *errbuf, size_t errlen)
{
	const cJSON	*e, *t;
	const char	*p;
	size_t		 i = 0;

	if (deliver == NULL)
		return 0;
	if (!cJSON_IsArray(deliver) ||
	    cJSON_GetArraySize(deliver) > OPENHIM_CFG_TARGETS_MAX) {
		snprintf(errbuf, errlen, "deliver: expected an array of at "
		    "most %d {\"target\": NAME}", OPENHIM_CFG_TARGETS_MAX);
		return -1;
	}
	cJSON_ArrayForEach(e, deliver) {
		t = cJSON_GetObjectItemCaseSensitive(e, "target");
		if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 1 ||
		    !cJSON_IsString(t) || t->valuestring[0] == '\0' ||
		    strlen(t->valuestring) > OPENHIM_CFG_NAME_MAX) {
			snprintf(errbuf, errlen, "deliver[%zu]: expected "
			    "{\"target\": NAME}", i);
			return -1;
		}
		for (p = t->valuestring; *p != '\0'; p++)
			if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-",
			    *p) == NULL) {
				snprintf(errbuf, errlen, "deliver[%zu].target:"
				    " only a-z, 0-9, '-' and '_'", i);
				return -1;
			}
		i++;
	}
	return 0;
}
