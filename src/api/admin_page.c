/*
 * admin_page.c — serves the console's files from the embedded table
 * (see admin_page.h).
 *
 * Only names of web/admin/ with a known extension are served, so no
 * other embedded file (migrations, FHIR tables) is reachable here.  The
 * ETag is a 64-bit FNV-1a of the bytes, computed per request (the files
 * are a few tens of KiB); "Cache-Control: no-cache" makes the browser
 * revalidate each time, so an upgraded binary is picked up at once and
 * an unchanged file costs a 304.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/admin_page.h"
#include "core/embed.h"
#include "http/http_route.h"

#define ADMIN_PAGE_DIR		"web/admin/"
#define ADMIN_PAGE_NAME_MAX	64	/* an asset's file name */
#define ADMIN_PAGE_CSP		"default-src 'self'; script-src 'self'; " \
	"style-src 'self'; img-src 'self'; connect-src 'self'; " \
	"object-src 'none'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'"

static const struct {
	const char	*t_ext;
	const char	*t_type;
} admin_page_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
};

static const char	*admin_page_type(const char *);
static void		 admin_page_send(struct http_req *, const char *);

/* The Content-Type of name by its extension, or NULL if not served. */
static const char *
admin_page_type(const char *name)
{
	size_t	i, n = strlen(name), e;

	for (i = 0; i < sizeof(admin_page_types) /
	    sizeof(admin_page_types[0]); i++) {
		e = strlen(admin_page_types[i].t_ext);
		if (n > e && strcmp(name + n - e, admin_page_types[i].t_ext) ==
		    0)
			return admin_page_types[i].t_type;
	}
	return NULL;
}

/* Answers with web/admin/<name>, 304 when the ETag matches, or 404. */
static void
admin_page_send(struct http_req *req, const char *name)
{
	const struct embed_file	*ef;
	const char		*type, *inm;
	char			 path[sizeof(ADMIN_PAGE_DIR) +
				     ADMIN_PAGE_NAME_MAX], etag[24];
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i;

	if (strlen(name) > ADMIN_PAGE_NAME_MAX ||
	    (type = admin_page_type(name)) == NULL ||
	    snprintf(path, sizeof(path), "%s%s", ADMIN_PAGE_DIR, name) >=
	    (int)sizeof(path) || (ef = embed_find(path)) == NULL) {
		(void)http_reply_outcome(req, 404, "not-found", "no such "
		    "console file");
		return;
	}
	for (i = 0; i < ef->ef_len; i++) {
		h ^= ef->ef_data[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)h);
	(void)http_resp_header(req, "Content-Security-Policy",
	    ADMIN_PAGE_CSP);
	(void)http_resp_header(req, "X-Content-Type-Options", "nosniff");
	(void)http_resp_header(req, "Referrer-Policy", "no-referrer");
	(void)http_resp_header(req, "X-Frame-Options", "DENY");
	(void)http_resp_header(req, "Cache-Control", "no-cache");
	(void)http_resp_header(req, "ETag", etag);
	inm = http_req_header(req, "If-None-Match");
	if (inm != NULL && strstr(inm, etag) != NULL) {
		(void)http_reply_data(req, 304, NULL, "", 0);
		return;
	}
	(void)http_reply_static(req, 200, type, ef->ef_data, ef->ef_len);
}

void
admin_page_index(struct http_req *req)
{
	admin_page_send(req, "index.html");
}

void
admin_page_asset(struct http_req *req)
{
	const char	*name = http_req_param(req, "asset");

	admin_page_send(req, name != NULL ? name : "");
}
