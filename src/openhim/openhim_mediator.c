/*
 * openhim_mediator.c — registration and heartbeat (see
 * openhim_mediator.h).  What OpenHIM expects comes from core-js (v8.5):
 * src/model/mediators.js (the document: urn, semver version, name,
 * endpoints[] — at least one for a new mediator —, defaultChannelConfig,
 * configDefs), src/api/mediators.js (addMediator answers 201, replacing
 * an existing urn only for a semver-greater version; heartbeat() needs
 * "uptime", answers the config when it changed since the last heartbeat
 * or "config": true was sent, else an empty body, and 404 for an unknown
 * urn), src/model/channels.js (the default channels' fields).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "core/cfg.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "openhim/openhim_api.h"
#include "openhim/openhim_mediator.h"
#include "store/deliveries.h"

static void	openhim_mediator_fail(struct openhim_mediator *, double,
		    enum openhim_state, long, const char *);
static void	openhim_mediator_up(struct openhim_mediator *, double);
static void	openhim_mediator_config(struct openhim_mediator *,
		    PGconn *, const char *);
static cJSON	*openhim_mediator_route(const char *, const char *, int,
		    const char *);
static int	openhim_mediator_refused(const char *, long, const char *,
		    const struct cfg *, char *, size_t);

void
openhim_mediator_init(struct openhim_mediator *m, const struct cfg *c)
{
	memset(m, 0, sizeof(*m));
	m->om_cfg = c;
	m->om_started = -1;
}

void
openhim_mediator_free(struct openhim_mediator *m)
{
	if (m == NULL)
		return;
	openhim_cfg_free(&m->om_pushed);
}

/* A route to Bulkhead itself at host:port; path NULL keeps the
 * request's. */
static cJSON *
openhim_mediator_route(const char *name, const char *host, int port,
    const char *path)
{
	cJSON	*r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "name", name);
	cJSON_AddStringToObject(r, "type", "http");
	cJSON_AddStringToObject(r, "host", host);
	cJSON_AddNumberToObject(r, "port", port);
	if (path != NULL)
		cJSON_AddStringToObject(r, "path", path);
	cJSON_AddBoolToObject(r, "primary", 1);
	cJSON_AddBoolToObject(r, "forwardAuthHeader", 1);
	return r;
}

char *
openhim_mediator_doc(const struct cfg *c)
{
	cJSON		*d, *eps, *chans, *ch, *routes, *methods;
	CURLU		*u;
	char		*host = NULL, *port = NULL, *scheme = NULL, *text;
	const char	*h;
	int		 p;

	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, c->base_url, 0) !=
	    CURLUE_OK)
		h = "127.0.0.1";
	else {
		curl_url_get(u, CURLUPART_HOST, &host, 0);
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
		h = host != NULL ? host : "127.0.0.1";
	}
	p = port != NULL ? (int)strtol(port, NULL, 10) : 80;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "urn", OPENHIM_MEDIATOR_URN);
	cJSON_AddStringToObject(d, "version", OPENHIM_MEDIATOR_VERSION);
	cJSON_AddStringToObject(d, "name", "Bulkhead");
	cJSON_AddStringToObject(d, "description", "FHIR Bulk Data export "
	    "and import for openIMIS");
	eps = cJSON_AddArrayToObject(d, "endpoints");
	cJSON_AddItemToArray(eps, openhim_mediator_route("Bulkhead FHIR "
	    "API", h, p, NULL));
	if (scheme != NULL && strcmp(scheme, "https") == 0)
		cJSON_AddBoolToObject(cJSON_GetArrayItem(eps, 0), "secured",
		    1);

	chans = cJSON_AddArrayToObject(d, "defaultChannelConfig");
	/* Clients kick off and follow bulk jobs through the router. */
	ch = cJSON_CreateObject();
	cJSON_AddStringToObject(ch, "name", "Bulkhead bulk data");
	cJSON_AddStringToObject(ch, "description", "FHIR Bulk Data kick-off, "
	    "status and files");
	cJSON_AddStringToObject(ch, "urlPattern", "^/fhir/.*$");
	cJSON_AddStringToObject(ch, "type", "http");
	methods = cJSON_AddArrayToObject(ch, "methods");
	cJSON_AddItemToArray(methods, cJSON_CreateString("GET"));
	cJSON_AddItemToArray(methods, cJSON_CreateString("POST"));
	cJSON_AddItemToArray(methods, cJSON_CreateString("DELETE"));
	cJSON_AddStringToObject(ch, "authType", "private");
	cJSON_AddItemToObject(ch, "allow", cJSON_CreateStringArray(
	    (const char *[]){ "bulkhead" }, 1));
	cJSON_AddBoolToObject(ch, "requestBody", 1);
	cJSON_AddBoolToObject(ch, "responseBody", 1);
	routes = cJSON_AddArrayToObject(ch, "routes");
	cJSON_AddItemToArray(routes, openhim_mediator_route("Bulkhead", h, p,
	    NULL));
	cJSON_AddItemToArray(chans, ch);
	/* OpenHIM as the external scheduler: a cron tick runs a schedule. */
	ch = cJSON_CreateObject();
	cJSON_AddStringToObject(ch, "name", "Bulkhead nightly export poll");
	cJSON_AddStringToObject(ch, "description", "runs Bulkhead's schedule "
	    "\"nightly\" on OpenHIM's cron");
	cJSON_AddStringToObject(ch, "urlPattern", "^/bulkhead/poll/nightly$");
	cJSON_AddStringToObject(ch, "type", "polling");
	cJSON_AddStringToObject(ch, "pollingSchedule", "0 2 * * *");
	cJSON_AddItemToObject(ch, "allow", cJSON_CreateStringArray(
	    (const char *[]){ "polling" }, 1));
	cJSON_AddBoolToObject(ch, "autoRetryEnabled", 1);
	cJSON_AddNumberToObject(ch, "autoRetryPeriodMinutes", 5);
	cJSON_AddNumberToObject(ch, "autoRetryMaxAttempts", 3);
	routes = cJSON_AddArrayToObject(ch, "routes");
	cJSON_AddItemToArray(routes, openhim_mediator_route("Bulkhead poll",
	    h, p, "/openhim/poll/nightly"));
	cJSON_AddItemToArray(chans, ch);

	cJSON_AddItemToObject(d, "configDefs", openhim_cfg_defs());
	text = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(u);
	return text;
}

/* A failed try: backoff, and a log line if the state changed. */
static void
openhim_mediator_fail(struct openhim_mediator *m, double now,
    enum openhim_state st, long status, const char *why)
{
	m->om_backoff = m->om_backoff == 0 ? OPENHIM_HEARTBEAT_S :
	    m->om_backoff * 2;
	if (m->om_backoff > OPENHIM_BACKOFF_MAX_S)
		m->om_backoff = OPENHIM_BACKOFF_MAX_S;
	m->om_next = now + m->om_backoff;
	m->om_want_config = 1;
	if (st == m->om_state && status == m->om_status)
		return;
	m->om_state = st;
	m->om_status = status;
	switch (st) {
	case OPENHIM_S_DOWN:
		log_warnx("OpenHIM API %s unreachable (%s); serving on, "
		    "retrying with backoff up to %d s", m->om_cfg->openhim_api_url,
		    why, OPENHIM_BACKOFF_MAX_S);
		break;
	case OPENHIM_S_REFUSED:
		log_warnx("OpenHIM API refused user \"%s\" (HTTP %ld on %s): "
		    "check openhim_username/openhim_password and its role; "
		    "retrying with backoff", m->om_cfg->openhim_username,
		    status, why);
		break;
	default:
		log_warnx("OpenHIM API answered HTTP %ld to %s; retrying "
		    "with backoff", status, why);
		break;
	}
}

static void
openhim_mediator_up(struct openhim_mediator *m, double now)
{
	m->om_backoff = 0;
	m->om_next = now + OPENHIM_HEARTBEAT_S;
	if (m->om_state != OPENHIM_S_UP)
		log_info("OpenHIM: registered as %s version %s at %s, "
		    "heartbeat every %d s", OPENHIM_MEDIATOR_URN,
		    OPENHIM_MEDIATOR_VERSION, m->om_cfg->openhim_api_url,
		    OPENHIM_HEARTBEAT_S);
	m->om_state = OPENHIM_S_UP;
	m->om_status = 0;
}

/* A heartbeat's non-empty answer: the mediator config. */
static void
openhim_mediator_config(struct openhim_mediator *m, PGconn *conn,
    const char *text)
{
	struct openhim_cfg	 oc;
	const struct cfg_target	*ct;
	char			 err[512];
	size_t			 i;

	if (openhim_cfg_parse(text, &oc, err, sizeof(err)) == -1) {
		log_warnx("OpenHIM mediator config ignored, nothing of it "
		    "applied: %s", err);
		return;
	}
	if (deliveries_put_targets(conn, text, err, sizeof(err)) == -1) {
		log_warnx("OpenHIM mediator config not applied: storing its "
		    "targets: %s", err);
		openhim_cfg_free(&oc);
		m->om_want_config = 1;
		return;
	}
	openhim_cfg_free(&m->om_pushed);
	m->om_pushed = oc;
	m->om_have_pushed = 1;
	log_info("OpenHIM mediator config applied: %zu delivery target%s, "
	    "maxAttempts %d", oc.oc_ntargets, oc.oc_ntargets == 1 ? "" : "s",
	    oc.oc_max_attempts > 0 ? oc.oc_max_attempts :
	    m->om_cfg->openhim_max_attempts);
	for (i = 0; i < oc.oc_ntargets; i++)
		if ((ct = cfg_target_find(m->om_cfg,
		    oc.oc_targets[i].ot_name)) != NULL)
			log_info("OpenHIM mediator config: target \"%s\" is "
			    "also declared in the config file (%s): the "
			    "file's wins", ct->ct_name, ct->ct_first);
}

void
openhim_mediator_tick(struct openhim_mediator *m, PGconn *conn, double now)
{
	char	 err[512], path[256], body[128], report[512];
	char	*doc, *reply = NULL;
	long	 st;

	if (m->om_cfg->openhim_api_url[0] == '\0' || now < m->om_next)
		return;
	if (m->om_started < 0)
		m->om_started = now;
	if (!m->om_registered) {
		doc = openhim_mediator_doc(m->om_cfg);
		if (openhim_api_call(m->om_cfg, "POST", "/mediators", doc, &st,
		    NULL, err, sizeof(err)) == -1) {
			free(doc);
			openhim_mediator_fail(m, now, OPENHIM_S_DOWN, 0, err);
			return;
		}
		free(doc);
		if (st == 401 || st == 403) {
			openhim_mediator_fail(m, now, OPENHIM_S_REFUSED, st,
			    "POST /mediators");
			return;
		}
		if (st != 201 && st != 200) {
			openhim_mediator_fail(m, now, OPENHIM_S_ERROR, st,
			    "POST /mediators");
			return;
		}
		m->om_registered = 1;
		m->om_want_config = 1;
		m->om_install = m->om_cfg->openhim_install_channels;
	}
	snprintf(path, sizeof(path), "/mediators/%s/heartbeat",
	    OPENHIM_MEDIATOR_URN);
	snprintf(body, sizeof(body), "{\"uptime\":%.0f%s}",
	    now - m->om_started, m->om_want_config ? ",\"config\":true" : "");
	if (openhim_api_call(m->om_cfg, "POST", path, body, &st, &reply, err,
	    sizeof(err)) == -1) {
		openhim_mediator_fail(m, now, OPENHIM_S_DOWN, 0, err);
		return;
	}
	if (st == 404)		/* the mediator was deleted: register again */
		m->om_registered = 0;
	if (st == 401 || st == 403)
		openhim_mediator_fail(m, now, OPENHIM_S_REFUSED, st,
		    "the heartbeat");
	else if (st != 200)
		openhim_mediator_fail(m, now, OPENHIM_S_ERROR, st,
		    "the heartbeat");
	else {
		openhim_mediator_up(m, now);
		m->om_want_config = 0;
		if (reply != NULL && reply[0] != '\0')
			openhim_mediator_config(m, conn, reply);
		if (m->om_install) {
			/* Once per registration, whatever the outcome. */
			m->om_install = 0;
			if (openhim_mediator_install_channels(m->om_cfg,
			    report, sizeof(report), err, sizeof(err)) == -1)
				log_warnx("OpenHIM: default channels not "
				    "installed: %s", err);
			else
				log_info("OpenHIM: default channels: %s",
				    report);
		}
	}
	free(reply);
}

/* The reason for an unexpected answer to what (one line). */
static int
openhim_mediator_refused(const char *what, long st, const char *reply,
    const struct cfg *c, char *errbuf, size_t errlen)
{
	if (st == 401 || st == 403)
		snprintf(errbuf, errlen, "OpenHIM refused user \"%s\" (HTTP "
		    "%ld on %s): check openhim_username/openhim_password and "
		    "that its role may manage mediators", c->openhim_username,
		    st, what);
	else
		snprintf(errbuf, errlen, "OpenHIM answered HTTP %ld to %s: "
		    "%.200s", st, what, reply != NULL ? reply : "");
	return -1;
}

int
openhim_mediator_install_channels(const struct cfg *c, char *report,
    size_t reportlen, char *errbuf, size_t errlen)
{
	cJSON		*doc = NULL, *have = NULL, *want, *ch, *x, *missing;
	char		*text = NULL, *reply = NULL, *names = NULL;
	const char	*name, *xn;
	char		 path[256];
	long		 st;
	int		 rc = -1, n = 0, found;

	missing = cJSON_CreateArray();
	text = openhim_mediator_doc(c);
	if ((doc = cJSON_Parse(text)) == NULL) {
		snprintf(errbuf, errlen, "registration document unreadable");
		goto out;
	}
	want = cJSON_GetObjectItemCaseSensitive(doc, "defaultChannelConfig");
	if (openhim_api_call(c, "GET", "/channels", NULL, &st, &reply, errbuf,
	    errlen) == -1)
		goto out;
	if (st != 200) {
		openhim_mediator_refused("GET /channels", st, reply, c, errbuf,
		    errlen);
		goto out;
	}
	if ((have = cJSON_Parse(reply)) == NULL || !cJSON_IsArray(have)) {
		snprintf(errbuf, errlen, "GET /channels: not a JSON array");
		goto out;
	}
	/* Channel names are unique in OpenHIM (core-js src/model/
	 * channels.js): asking for one it has would fail the whole call. */
	cJSON_ArrayForEach(ch, want) {
		name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch,
		    "name"));
		found = 0;
		cJSON_ArrayForEach(x, have) {
			xn = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(x, "name"));
			if (name != NULL && xn != NULL &&
			    strcmp(xn, name) == 0)
				found = 1;
		}
		if (name != NULL && !found) {
			cJSON_AddItemToArray(missing,
			    cJSON_CreateString(name));
			n++;
		}
	}
	if (n == 0) {
		snprintf(report, reportlen, "all %d already in OpenHIM",
		    cJSON_GetArraySize(want));
		rc = 0;
		goto out;
	}
	names = cJSON_PrintUnformatted(missing);
	free(reply);
	reply = NULL;
	snprintf(path, sizeof(path), "/mediators/%s/channels",
	    OPENHIM_MEDIATOR_URN);
	if (openhim_api_call(c, "POST", path, names, &st, &reply, errbuf,
	    errlen) == -1)
		goto out;
	if (st == 404) {
		snprintf(errbuf, errlen, "OpenHIM has no mediator %s: it must "
		    "be registered first", OPENHIM_MEDIATOR_URN);
		goto out;
	}
	if (st == 400) {
		snprintf(errbuf, errlen, "OpenHIM's registration of %s lacks "
		    "channels %s (it keeps a registration of the same "
		    "version: bump OPENHIM_MEDIATOR_VERSION)",
		    OPENHIM_MEDIATOR_URN, names);
		goto out;
	}
	if (st != 201) {
		openhim_mediator_refused(path, st, reply, c, errbuf, errlen);
		goto out;
	}
	snprintf(report, reportlen, "installed %d: %s", n, names);
	rc = 0;
 out:
	cJSON_Delete(doc);
	cJSON_Delete(have);
	cJSON_Delete(missing);
	cJSON_free(names);
	free(text);
	free(reply);
	return rc;
}
