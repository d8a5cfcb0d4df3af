/*
 * openhim_api.c — one call to the OpenHIM core API over libcurl (see
 * openhim_api.h).  Basic auth as core-js src/api/authentication.js
 * accepts it; the reply is bounded by OPENHIM_API_MAX_REPLY.  The API
 * address comes from the operator's config, not from a client, so no
 * SSRF policy applies here (the bulk fetcher's does for client URLs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/cfg.h"
#include "core/version.h"
#include "lib/buf.h"
#include "lib/xmalloc.h"
#include "openhim/openhim_api.h"

static size_t	openhim_api_on_body(char *, size_t, size_t, void *);

static size_t
openhim_api_on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct buf	*b = arg;

	if (buf_append(b, p, sz * n) == -1)
		return 0;	/* too big: curl stops with an error */
	return sz * n;
}

int
openhim_api_call(const struct cfg *c, const char *method, const char *path,
    const char *body, long *status, char **reply, char *errbuf,
    size_t errlen)
{
	CURL			*h = NULL;
	struct curl_slist	*hdrs = NULL;
	struct buf		 b;
	char			*url, *userpwd;
	char			 cerr[CURL_ERROR_SIZE] = "";
	CURLcode		 cc;
	int			 rc = -1, bad = 0;

	buf_init(&b, OPENHIM_API_MAX_REPLY);
	url = xasprintf("%s%s", c->openhim_api_url, path);
	userpwd = xasprintf("%s:%s", c->openhim_username,
	    c->openhim_password);
	if (reply != NULL)
		*reply = NULL;
	*status = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(errbuf, errlen, "curl_easy_init failed");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	bad += curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_USERPWD, userpwd) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "bulkhead/" BULKHEAD_VERSION) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	    (long)OPENHIM_API_TIMEOUT) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_TIMEOUT,
	    (long)OPENHIM_API_TIMEOUT) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
	    openhim_api_on_body) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK;
	if (body != NULL)
		bad += curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) !=
		    CURLE_OK;
	if (c->openhim_ca_file[0] != '\0')
		bad += curl_easy_setopt(h, CURLOPT_CAINFO,
		    c->openhim_ca_file) != CURLE_OK;
	if (c->openhim_tls_insecure) {
		bad += curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) !=
		    CURLE_OK;
		bad += curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) !=
		    CURLE_OK;
	}
	if (bad) {
		snprintf(errbuf, errlen, "curl option refused");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(errbuf, errlen, "%s", cerr[0] != '\0' ? cerr :
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (reply != NULL) {
		if (buf_putc(&b, '\0') == -1) {
			snprintf(errbuf, errlen, "reply too large");
			goto out;
		}
		*reply = buf_steal(&b, NULL);
	}
	rc = 0;
 out:
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	buf_free(&b);
	free(url);
	free(userpwd);
	return rc;
}
