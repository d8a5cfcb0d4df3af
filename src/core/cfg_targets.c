/*
 * cfg_targets.c — OpenHIM delivery targets declared in the config file
 * ("openhim.target.NAME.FIELD = value", cfg.h; issue 15).
 *
 * Unlike schedules, a target needs nobody else's judgement: every field
 * is checked here, as its line is read (name, known field, each field
 * once, url an http(s) URL with a host and no user:password@ in it —
 * credentials have their own fields —, max_inline_bytes an integer
 * within 0 .. 15 MiB), and after all layers each target must have a url.
 * So 'bulkhead config check' fails on a bad target with one line naming
 * the key and where it was written.  Whether the URL's address may be
 * reached is decided per delivery (the fetcher's address policy,
 * openhim/delivery.c), as DNS can change after the check.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/cfg.h"
#include "core/cfg_int.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define CFG_TARGET_URL_MAX	2048

static const char *cfg_tf_names[CFG_TF_N] = {
	[CFG_TF_URL] = "url",
	[CFG_TF_USERNAME] = "username",
	[CFG_TF_PASSWORD] = "password",
	[CFG_TF_MAX_INLINE] = "max_inline_bytes",
	[CFG_TF_CHANNEL] = "channel",
};

static int	cfg_target_name_ok(const char *, size_t);
static const char *cfg_target_url_bad(const char *);
static int	cfg_target_set(struct cfg *, const char *, size_t,
		    const char *, const char *, const char *, char *, size_t);

const char *
cfg_target_field_name(enum cfg_target_field f)
{
	return (int)f >= 0 && f < CFG_TF_N ? cfg_tf_names[f] : "?";
}

const struct cfg_target *
cfg_target_find(const struct cfg *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nopenhim_targets; i++)
		if (strcmp(c->openhim_targets[i].ct_name, name) == 0)
			return &c->openhim_targets[i];
	return NULL;
}

/* ^[a-z0-9_-]{1,64}$, as "deliver" and openhim_targets.name. */
static int
cfg_target_name_ok(const char *name, size_t len)
{
	size_t	i;

	if (len == 0 || len > CFG_TARGET_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!(islower((unsigned char)name[i]) ||
		    isdigit((unsigned char)name[i]) || name[i] == '-' ||
		    name[i] == '_'))
			return 0;
	return 1;
}

/* NULL if u is a usable http(s) URL, else what is wrong with it. */
static const char *
cfg_target_url_bad(const char *u)
{
	const char	*a, *end, *p, *port = NULL;
	int64_t		 n;
	const char	*errstr;
	char		 pbuf[8];

	if (strlen(u) > CFG_TARGET_URL_MAX)
		return "is longer than 2048 bytes";
	for (p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "has a blank or control character";
	if (strncmp(u, "http://", 7) == 0)
		a = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		a = u + 8;
	else
		return "must start with http:// or https://";
	end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(end - a)) != NULL)
		return "must not carry user:password@ (use the username and "
		    "password fields)";
	if (*a == '[') {
		if ((p = memchr(a, ']', (size_t)(end - a))) == NULL ||
		    p == a + 1)
			return "has a bad [IPv6] host";
		if (p + 1 < end) {
			if (p[1] != ':')
				return "has a bad [IPv6] host";
			port = p + 2;
		}
	} else {
		p = memchr(a, ':', (size_t)(end - a));
		if (p == a || a == end)
			return "has no host";
		if (p != NULL)
			port = p + 1;
	}
	if (port != NULL) {
		if (end - port < 1 || end - port >= (long)sizeof(pbuf))
			return "has a bad port";
		memcpy(pbuf, port, (size_t)(end - port));
		pbuf[end - port] = '\0';
		if (str_to_i64(pbuf, 1, 65535, &n, &errstr) == -1 ||
		    pbuf[0] == '+' || pbuf[0] == '-')
			return "has a bad port";
	}
	return NULL;
}

int
cfg_targets_line(struct cfg *c, const char *key, const char *value,
    const char *source, char *errbuf, size_t errlen)
{
	const char	*name = key + strlen(CFG_TARGET_PREFIX);
	const char	*dot = strrchr(name, '.');

	if (dot == NULL || dot == name || dot[1] == '\0') {
		snprintf(errbuf, errlen, "%s: \"%.200s\": expected "
		    "openhim.target.NAME.FIELD (FIELD: url, username, "
		    "password, max_inline_bytes, channel)", source, key);
		return -1;
	}
	return cfg_target_set(c, name, (size_t)(dot - name), dot + 1, value,
	    source, errbuf, errlen);
}

/* Sets one field of a declared target, checked; source names where it
 * came from. */
static int
cfg_target_set(struct cfg *c, const char *name, size_t nlen,
    const char *field, const char *value, const char *source, char *errbuf,
    size_t errlen)
{
	struct cfg_target	*ct = NULL;
	const char		*why, *errstr;
	int64_t			 v = 0;
	size_t			 i;
	int			 f, shown = (int)(nlen > 80 ? 80 : nlen);

	for (f = 0; f < CFG_TF_N; f++)
		if (strcmp(field, cfg_tf_names[f]) == 0)
			break;
	if (f == CFG_TF_N) {
		snprintf(errbuf, errlen, "%s: openhim.target.%.*s.%.64s: "
		    "unknown field (url, username, password, "
		    "max_inline_bytes, channel)", source, shown, name, field);
		return -1;
	}
	if (!cfg_target_name_ok(name, nlen)) {
		snprintf(errbuf, errlen, "%s: openhim.target name \"%.*s\": "
		    "must be 1-%d of a-z, 0-9, '-' and '_'", source, shown,
		    name, CFG_TARGET_NAME_MAX);
		return -1;
	}
	if (f == CFG_TF_URL && (why = cfg_target_url_bad(value)) != NULL) {
		snprintf(errbuf, errlen, "%s: openhim.target.%.*s.url: "
		    "\"%.200s\" %s", source, shown, name, value, why);
		return -1;
	}
	if (f == CFG_TF_MAX_INLINE && str_to_i64(value, 0,
	    CFG_TARGET_INLINE_MAX, &v, &errstr) == -1) {
		snprintf(errbuf, errlen, "%s: openhim.target.%.*s."
		    "max_inline_bytes: \"%.64s\" is %s (expected an integer "
		    "from 0 to %lld: 15 MiB is OpenHIM's cap on a "
		    "transaction's bodies)", source, shown, name, value, errstr,
		    (long long)CFG_TARGET_INLINE_MAX);
		return -1;
	}
	for (i = 0; i < c->nopenhim_targets; i++)
		if (strlen(c->openhim_targets[i].ct_name) == nlen &&
		    strncmp(c->openhim_targets[i].ct_name, name, nlen) == 0)
			ct = &c->openhim_targets[i];
	if (ct == NULL) {
		if (c->nopenhim_targets >= CFG_TARGETS_MAX) {
			snprintf(errbuf, errlen, "%s: more than %d OpenHIM "
			    "targets declared", source, CFG_TARGETS_MAX);
			return -1;
		}
		c->openhim_targets = xreallocarray(c->openhim_targets,
		    c->nopenhim_targets + 1, sizeof(*c->openhim_targets));
		ct = &c->openhim_targets[c->nopenhim_targets++];
		memset(ct, 0, sizeof(*ct));
		ct->ct_name = xstrndup(name, nlen);
		ct->ct_first = xstrdup(source);
	}
	if (ct->ct_value[f] != NULL) {
		snprintf(errbuf, errlen, "%s: openhim.target.%s.%s: already "
		    "set at %s", source, ct->ct_name, field, ct->ct_src[f]);
		return -1;
	}
	if (f == CFG_TF_MAX_INLINE)
		ct->ct_max_inline = v;
	ct->ct_value[f] = xstrdup(value);
	ct->ct_src[f] = xstrdup(source);
	return 0;
}

int
cfg_targets_validate(const struct cfg *c, char *errbuf, size_t errlen)
{
	size_t	i;

	for (i = 0; i < c->nopenhim_targets; i++)
		if (c->openhim_targets[i].ct_value[CFG_TF_URL] == NULL) {
			snprintf(errbuf, errlen, "%s: openhim.target.%s.url: "
			    "required (the target's URL on the OpenHIM "
			    "router)", c->openhim_targets[i].ct_first,
			    c->openhim_targets[i].ct_name);
			return -1;
		}
	return 0;
}

int
cfg_targets_env(struct cfg *c, const char *json, char *errbuf, size_t errlen)
{
	cJSON		*arr, *e;
	const char	*v[4];
	int		 i, rc = -1;

	cfg_targets_free(c);
	if ((arr = cJSON_Parse(json)) == NULL || !cJSON_IsArray(arr))
		goto bad;
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 4)
			goto bad;
		for (i = 0; i < 4; i++)
			if ((v[i] = cJSON_GetStringValue(cJSON_GetArrayItem(e,
			    i))) == NULL)
				goto bad;
		if (cfg_target_set(c, v[0], strlen(v[0]), v[1], v[2], v[3],
		    errbuf, errlen) == -1)
			goto out;
	}
	rc = 0;
	goto out;
 bad:
	snprintf(errbuf, errlen, "env " CFG_TARGET_ENV ": not a JSON array "
	    "of [name, field, value, source] (it is set by 'bulkhead run' for "
	    "its children)");
 out:
	cJSON_Delete(arr);
	return rc;
}

void
cfg_targets_free(struct cfg *c)
{
	size_t	i;
	int	f;

	for (i = 0; i < c->nopenhim_targets; i++) {
		free(c->openhim_targets[i].ct_name);
		free(c->openhim_targets[i].ct_first);
		for (f = 0; f < CFG_TF_N; f++) {
			free(c->openhim_targets[i].ct_value[f]);
			free(c->openhim_targets[i].ct_src[f]);
		}
	}
	free(c->openhim_targets);
	c->openhim_targets = NULL;
	c->nopenhim_targets = 0;
}

void
cfg_targets_dump(const struct cfg *c)
{
	const struct cfg_target	*ct;
	size_t			 i;
	int			 f;

	for (i = 0; i < c->nopenhim_targets; i++) {
		ct = &c->openhim_targets[i];
		for (f = 0; f < CFG_TF_N; f++)
			if (ct->ct_value[f] != NULL)
				printf(CFG_TARGET_PREFIX "%s.%s = %s\n",
				    ct->ct_name, cfg_tf_names[f],
				    f == CFG_TF_PASSWORD &&
				    ct->ct_value[f][0] != '\0' ? "(set)" :
				    ct->ct_value[f]);
	}
}

void
cfg_targets_export(const struct cfg *c)
{
	const struct cfg_target	*ct;
	cJSON			*arr, *e;
	char			*json;
	size_t			 i;
	int			 f;

	if (c->nopenhim_targets == 0) {
		unsetenv(CFG_TARGET_ENV);
		return;
	}
	arr = cJSON_CreateArray();
	for (i = 0; i < c->nopenhim_targets; i++) {
		ct = &c->openhim_targets[i];
		for (f = 0; f < CFG_TF_N; f++) {
			if (ct->ct_value[f] == NULL)
				continue;
			e = cJSON_CreateArray();
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    ct->ct_name));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    cfg_tf_names[f]));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    ct->ct_value[f]));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    ct->ct_src[f]));
			cJSON_AddItemToArray(arr, e);
		}
	}
	json = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (json != NULL)
		setenv(CFG_TARGET_ENV, json, 1);
	cJSON_free(json);
}
