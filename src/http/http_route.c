/*
 * http_route.c — request lifecycle, dispatch on the route table the
 * application hands in (http_route_init), and the API that handlers use
 * (http_route.h).  It names no handler: the table is src/api/api_routes.c.
 *
 * DESIGN: libmicrohttpd calls us on the worker thread that owns a
 * connection, in this order for each request:
 *   uri_log     the request line is read: the struct http_req is
 *               allocated with the raw request-target (before MHD
 *               unescapes it, so %2F can be told from '/'), an id and the
 *               start time;
 *   access #1   the headers are read (*upload_data_size == 0); when a
 *               body follows, the checks (limit, Content-Type, route,
 *               negotiation) run now and a failure is answered at once,
 *               so MHD never reads the refused body and closes after;
 *   access #k   body chunks, appended to rq_body up to http_max_body;
 *               past it the rest is discarded (at most HTTP_ROUTE_DRAIN
 *               bytes, then we hang up) and 413 answered at the end:
 *               libmicrohttpd 0.9.75 takes no answer mid-upload;
 *   access end  (*upload_data_size == 0 again): the checks if they have
 *               not run (answering here keeps the connection alive),
 *               then the handler;
 *   completed   the access log line, /metrics counters, free.
 * The completion callback is the one place a request's memory is freed.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_metrics.h"
#include "http/http_outcome.h"
#include "http/http_parse.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/slice.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

/* Body bytes read and thrown away after the limit before we hang up. */
#define HTTP_ROUTE_DRAIN	(16 * 1024 * 1024)
#define HTTP_ROUTE_MAX_DIAG	512	/* OperationOutcome diagnostics */
#define HTTP_ROUTE_MAX_LOGPATH	256	/* logged path bytes */
#define HTTP_ROUTE_SLICE_US	100	/* request threads' slice: lib/slice.h */
#define HTTP_ROUTE_RETRY_503	"5"	/* Retry-After of a 503, seconds */

#define HTTP_JSON		"application/json"
#define HTTP_FHIR_JSON		"application/fhir+json"

struct http_req {
	struct MHD_Connection	*rq_conn;	/* borrowed from MHD */
	const char		*rq_method;	/* MHD's; NULL at first */
	unsigned int		 rq_mbit;	/* HTTP_GET ...; 0 other */
	char			*rq_path;	/* raw, no query; owned */
	struct http_path	 rq_segs;	/* decoded segments */
	int			 rq_segs_ok;	/* rq_path parsed */
	const struct http_route	*rq_route;	/* matched row */
	/* "{name}" captures, pointing into rq_segs */
	const char		*rq_params[HTTP_ROUTE_MAX_PARAMS];
	int			 rq_started;	/* access #1 done */
	int			 rq_checked;	/* checks done */
	struct buf		 rq_body;	/* body, bounded */
	int			 rq_body_over;	/* over the limit */
	uint64_t		 rq_drained;	/* bytes dropped past it */
	cJSON			*rq_json;	/* parsed body; owned */
	int			 rq_json_done;	/* parse attempted */
	const char		*rq_json_type;	/* static string */
	char			 rq_id[17];	/* 16 hex digits */
	struct timespec		 rq_start;	/* CLOCK_MONOTONIC */
	unsigned int		 rq_status;	/* queued; 0 none yet */
	uint64_t		 rq_bytes;	/* body bytes answered */
	/* extra response headers, owned */
	char			*rq_hname[HTTP_ROUTE_MAX_HEADERS];
	char			*rq_hvalue[HTTP_ROUTE_MAX_HEADERS];
	size_t			 rq_nheaders;
};

/* Adapts MHD_KeyValueIterator to the handler-facing callbacks. */
struct http_route_iter {
	const char	*it_name;	/* header wanted, or NULL */
	struct buf	*it_out;	/* join target */
	int		 it_count;	/* values seen */
	int		 it_failed;	/* it_out overflowed */
	int		(*it_fn)(void *, const char *, const char *);
	void		*it_arg;
	int		 it_rc;		/* it_fn's stopping value */
};

static const struct cfg	*http_route_cfg;	/* borrowed, read-only */
/* The application's table (http_route_init); borrowed, constant. */
static const struct http_route	*http_routes;
static size_t			 http_route_nroutes;
static atomic_uint	 http_route_inflight;
static atomic_uint_fast64_t http_route_idseq;	/* id fallback */

static struct http_req	*http_route_req_new(const char *,
			    struct MHD_Connection *);
static void		 http_route_req_free(struct http_req *);
static void		 http_route_new_id(char *, size_t);
static int		 http_route_is_fhir_path(const char *);
static void		 http_route_resolve(struct http_req *,
			    unsigned int *);
static void		 http_route_allow(unsigned int, char *, size_t);
static int		 http_route_negotiate(struct http_req *);
static int		 http_route_has_body(const struct http_req *,
			    int64_t *);
static int		 http_route_begin(struct http_req *);
static int		 http_route_queue(struct http_req *, unsigned int,
			    const char *, struct MHD_Response *, uint64_t);
static int		 http_route_voutcome(struct http_req *, unsigned int,
			    const char *, const char *, va_list)
			    __attribute__((format(printf, 4, 0)));
static void		 http_route_sanitize(char *, size_t, const char *);
static enum MHD_Result	 http_route_iter_header(void *,
			    enum MHD_ValueKind, const char *, const char *);
static enum MHD_Result	 http_route_iter_query(void *,
			    enum MHD_ValueKind, const char *, const char *);
static const char	*http_route_toe(enum MHD_RequestTerminationCode);

/* ---- set-up ---- */

int
http_route_init(const struct cfg *cfg, const struct http_route *routes,
    size_t nroutes, char *errbuf, size_t errlen)
{
	const struct http_route	*rt;
	const char		*p;
	size_t			 i, captures;

	http_route_cfg = cfg;
	http_routes = routes;
	http_route_nroutes = nroutes;
	for (i = 0; i < http_route_nroutes; i++) {
		rt = &http_routes[i];
		captures = 0;
		for (p = rt->rt_pattern; (p = strchr(p, '{')) != NULL; p++)
			captures++;
		if (rt->rt_pattern[0] != '/' || captures >
		    HTTP_ROUTE_MAX_PARAMS || rt->rt_handler == NULL ||
		    (rt->rt_methods & ~HTTP_HEAD) == 0) {
			snprintf(errbuf, errlen, "route table row %zu (%s) is "
			    "malformed", i, rt->rt_pattern);
			return -1;
		}
	}
	return 0;
}

int
http_route_exists(unsigned int methods, const char *pattern)
{
	size_t	i;

	for (i = 0; i < http_route_nroutes; i++)
		if (strcmp(http_routes[i].rt_pattern, pattern) == 0 &&
		    (http_routes[i].rt_methods & methods) == methods)
			return 1;
	return 0;
}

unsigned int
http_route_method_bit(const char *method)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} methods[] = {
		{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT },
		{ "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH },
		{ "HEAD", HTTP_HEAD },
	};
	size_t	i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

unsigned int
http_route_in_flight(void)
{
	return atomic_load(&http_route_inflight);
}

/* ---- the request object ---- */

/*
 * 16 hex digits: splitmix64 over a per-thread state seeded once from
 * getrandom (a clock and counter mix if that fails).  Ids need to be
 * unique, not secret; a getrandom call per request was a quarter of the
 * API's system calls.
 */
static void
http_route_new_id(char *out, size_t outlen)
{
	static const char		 hex[] = "0123456789abcdef";
	static _Thread_local uint64_t	 state;
	static _Thread_local int	 seeded;
	struct timespec			 ts;
	uint64_t			 v;
	size_t				 i;

	if (!seeded) {
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(state)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
			    (uint64_t)ts.tv_sec ^
			    atomic_fetch_add(&http_route_idseq, 1) << 40;
		}
		seeded = 1;
	}
	v = (state += 0x9e3779b97f4a7c15ULL);
	v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
	v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
	v ^= v >> 31;
	for (i = 0; i < 8 && 2 * i + 2 < outlen; i++) {
		out[2 * i] = hex[(v >> (i * 8 + 4)) & 15];
		out[2 * i + 1] = hex[(v >> (i * 8)) & 15];
	}
	out[2 * i] = '\0';
}

/* Allocates a request for raw request-target uri.  Caller frees with
 * http_route_req_free. */
static struct http_req *
http_route_req_new(const char *uri, struct MHD_Connection *conn)
{
	static _Thread_local int	 sliced;
	struct http_req			*req;

	/* MHD's threads are only known by their first request. */
	if (!sliced) {
		sliced = 1;
		if (slice_set(0, HTTP_ROUTE_SLICE_US) == -1)
			log_debug("request thread keeps the default slice: "
			    "%s", strerror(errno));
	}
	req = xcalloc(1, sizeof(*req));
	req->rq_conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &req->rq_start);
	http_route_new_id(req->rq_id, sizeof(req->rq_id));
	if (uri == NULL)
		uri = "";
	req->rq_path = xstrndup(uri, strcspn(uri, "?#"));
	req->rq_segs_ok = http_parse_path(req->rq_path, &req->rq_segs) == 0;
	buf_init(&req->rq_body, http_route_cfg != NULL ?
	    (size_t)http_route_cfg->http_max_body : 0);
	req->rq_json_type = http_route_is_fhir_path(req->rq_path) ?
	    HTTP_FHIR_JSON : HTTP_JSON;
	atomic_fetch_add(&http_route_inflight, 1);
	return req;
}

static void
http_route_req_free(struct http_req *req)
{
	size_t	i;

	if (req == NULL)
		return;
	for (i = 0; i < req->rq_nheaders; i++) {
		free(req->rq_hname[i]);
		free(req->rq_hvalue[i]);
	}
	cJSON_Delete(req->rq_json);
	buf_free(&req->rq_body);
	free(req->rq_path);
	free(req);
	atomic_fetch_sub(&http_route_inflight, 1);
}

/* "/fhir" and everything under it speaks FHIR, errors included. */
static int
http_route_is_fhir_path(const char *path)
{
	return strncmp(path, "/fhir", 5) == 0 &&
	    (path[5] == '\0' || path[5] == '/' || path[5] == '?');
}

/* ---- routing ---- */

/* Finds the row for the request's path and method; *allow gets the
 * methods of every row whose pattern matches the path. */
static void
http_route_resolve(struct http_req *req, unsigned int *allow)
{
	const struct http_route	*rt;
	const char		*params[HTTP_ROUTE_MAX_PARAMS];
	unsigned int		 want;
	size_t			 i, np;

	*allow = 0;
	if (!req->rq_segs_ok)
		return;
	want = req->rq_mbit == HTTP_HEAD ? HTTP_GET : req->rq_mbit;
	for (i = 0; i < http_route_nroutes; i++) {
		rt = &http_routes[i];
		if (!http_parse_match(rt->rt_pattern, &req->rq_segs, params,
		    HTTP_ROUTE_MAX_PARAMS, &np))
			continue;
		*allow |= rt->rt_methods;
		if (req->rq_route == NULL && (rt->rt_methods & want) != 0) {
			req->rq_route = rt;
			memcpy(req->rq_params, params, sizeof(params));
		}
	}
}

/* Formats an Allow header value from method bits. */
static void
http_route_allow(unsigned int bits, char *out, size_t outlen)
{
	static const struct {
		unsigned int	 bit;
		const char	*names;
	} order[] = {
		{ HTTP_GET, "GET, HEAD" }, { HTTP_POST, "POST" },
		{ HTTP_PUT, "PUT" }, { HTTP_PATCH, "PATCH" },
		{ HTTP_DELETE, "DELETE" },
	};
	size_t	i, len = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((bits & order[i].bit) == 0)
			continue;
		len += (size_t)snprintf(out + len, outlen - len, "%s%s",
		    len > 0 ? ", " : "", order[i].names);
		if (len >= outlen)
			return;
	}
}

/*
 * Content negotiation of an HTTP_ROUTE_FHIR route: _format wins over
 * Accept (FHIR R4 §3.1.0.1.7), both lenient about spelling but strict
 * about JSON.  Sets rq_json_type.  Returns 0, or -1 after answering 406.
 */
static int
http_route_negotiate(struct http_req *req)
{
	static const char *const offers[] = {
		HTTP_FHIR_JSON, HTTP_JSON, "application/json+fhir",
	};
	struct buf	 accept;
	const char	*format;
	char		 shown[64];
	int		 idx;

	if ((format = http_req_query(req, "_format")) != NULL) {
		if (!http_parse_format_json(format)) {
			http_route_sanitize(shown, sizeof(shown), format);
			http_reply_outcome(req, 406, NULL, "_format \"%s\" is "
			    "not supported: this server answers JSON "
			    "(_format=json)", shown);
			return -1;
		}
		req->rq_json_type = HTTP_FHIR_JSON;
		return 0;
	}
	buf_init(&accept, HTTP_ROUTE_MAX_HEADER);
	/* An Accept too long to hold is treated as absent: lenient. */
	if (http_req_header_all(req, MHD_HTTP_HEADER_ACCEPT, &accept) > 0)
		idx = http_parse_accept(accept.b_data, offers, 3);
	else
		idx = 0;
	buf_free(&accept);
	if (idx == -1) {
		http_reply_outcome(req, 406, NULL, "Accept excludes JSON: this "
		    "server answers application/fhir+json or application/json");
		return -1;
	}
	req->rq_json_type = idx == 1 ? HTTP_JSON : HTTP_FHIR_JSON;
	return 0;
}

/* True if a body follows the headers; *len gets Content-Length (0 if
 * absent, INT64_MAX if beyond int64: MHD vetted its syntax). */
static int
http_route_has_body(const struct http_req *req, int64_t *len)
{
	const char	*cl, *errstr;

	*len = 0;
	cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && str_to_i64(cl, 0, INT64_MAX, len, &errstr) == -1)
		*len = INT64_MAX;
	return *len > 0 ||
	    http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/*
 * The checks before a handler runs (see http_route.h for the order).
 * They run as soon as the headers are in when a body follows, so that a
 * refused body is never read (MHD then closes the connection), else at
 * the end, which keeps the connection alive for the next request.
 * Returns 0 to go on, -1 when the request has been answered.
 */
static int
http_route_begin(struct http_req *req)
{
	const struct cfg	*cfg = http_route_cfg;
	const char		*ctype;
	char			 allow[64];
	unsigned int		 allowed;
	int64_t			 len;
	int			 has_body;

	req->rq_checked = 1;
	has_body = http_route_has_body(req, &len);
	if (len > cfg->http_max_body) {
		http_reply_outcome(req, 413, NULL, "request body of %lld "
		    "bytes exceeds the limit of %lld bytes", (long long)len,
		    (long long)cfg->http_max_body);
		return -1;
	}

	http_route_resolve(req, &allowed);

	/* Body-taking routes are JSON unless they say otherwise. */
	ctype = http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (has_body && (req->rq_mbit & (HTTP_POST | HTTP_PUT | HTTP_PATCH)) &&
	    (req->rq_route == NULL ||
	    (req->rq_route->rt_flags & HTTP_ROUTE_BODY_ANY) == 0) &&
	    !http_parse_content_type_json(ctype)) {
		http_reply_outcome(req, 415, NULL, "%s: request bodies must "
		    "be application/fhir+json or application/json",
		    ctype == NULL ? "no Content-Type" : "unsupported "
		    "Content-Type");
		return -1;
	}

	if (req->rq_route == NULL && allowed == 0) {
		http_reply_outcome(req, 404, NULL, "no such resource or "
		    "operation");
		return -1;
	}
	if (req->rq_route == NULL) {
		http_route_allow(allowed, allow, sizeof(allow));
		http_resp_header(req, MHD_HTTP_HEADER_ALLOW, allow);
		http_reply_outcome(req, 405, NULL, "method not allowed here; "
		    "allowed: %s", allow);
		return -1;
	}
	if ((req->rq_route->rt_flags & HTTP_ROUTE_FHIR) != 0 &&
	    http_route_negotiate(req) == -1)
		return -1;
	return 0;
}

/* ---- libmicrohttpd callbacks ---- */

void *
http_route_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	return http_route_req_new(uri, conn);
}

enum MHD_Result
http_route_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct http_req	*req = *req_cls;
	int64_t		 len;

	(void)cls;
	(void)version;
	if (req == NULL)	/* no URI log callback ran: use MHD's url */
		*req_cls = req = http_route_req_new(url, conn);
	if (!req->rq_started) {
		req->rq_started = 1;
		req->rq_method = method;
		req->rq_mbit = http_route_method_bit(method);
		if (http_route_has_body(req, &len) &&
		    http_route_begin(req) == -1 && req->rq_status == 0)
			return MHD_NO;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->rq_status == 0 && !req->rq_body_over &&
		    buf_append(&req->rq_body, upload_data,
		    *upload_data_size) == -1) {
			req->rq_body_over = 1;
			buf_free(&req->rq_body);
			/* Refused by MHD mid-upload: answered at the end. */
			(void)http_reply_outcome(req, 413, NULL, "request "
			    "body exceeds the limit of %lld bytes",
			    (long long)http_route_cfg->http_max_body);
		}
		if (req->rq_body_over)
			req->rq_drained += *upload_data_size;
		*upload_data_size = 0;
		if (req->rq_drained > HTTP_ROUTE_DRAIN && req->rq_status == 0)
			return MHD_NO;	/* hang up on an endless body */
		return MHD_YES;
	}
	if (!req->rq_checked && http_route_begin(req) == -1)
		return req->rq_status != 0 ? MHD_YES : MHD_NO;
	if (req->rq_status != 0)
		return MHD_YES;
	if (req->rq_body_over) {
		return http_reply_outcome(req, 413, NULL, "request body "
		    "exceeds the limit of %lld bytes",
		    (long long)http_route_cfg->http_max_body) == 0 ?
		    MHD_YES : MHD_NO;
	}
	req->rq_route->rt_handler(req);
	if (req->rq_status == 0 && http_reply_internal(req, "handler for %s "
	    "%s returned without an answer", method,
	    req->rq_route->rt_pattern) == -1)
		return MHD_NO;
	return MHD_YES;
}

static const char *
http_route_toe(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return NULL;
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client-abort";
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "read-error";
	default:
		return "error";
	}
}

static char	http_route_quiet[65];	/* "" = none; see http_route.h */

void
http_route_quiet_token(const char *tok)
{
	str_lcpy(http_route_quiet, tok, sizeof(http_route_quiet));
}

void
http_route_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req			*req = *req_cls;
	const union MHD_ConnectionInfo	*ci;
	struct timespec			 now;
	char				 path[HTTP_ROUTE_MAX_LOGPATH];
	char				 method[16];
	const char			*why, *probe;
	uint64_t			 us;
	unsigned int			 status;

	(void)cls;
	if (req == NULL)
		return;
	*req_cls = NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (uint64_t)((int64_t)(now.tv_sec - req->rq_start.tv_sec) *
	    1000000 + (now.tv_nsec - req->rq_start.tv_nsec) / 1000);
	status = req->rq_status;
	/* MHD answers some malformed requests itself (400, 413, 431). */
	if (status == 0 && (ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_HTTP_STATUS)) != NULL)
		status = ci->http_status;
	if (http_route_quiet[0] != '\0' && (probe = http_req_header(req,
	    "X-Bulkhead-Probe")) != NULL && strcmp(probe, http_route_quiet) == 0) {
		http_route_req_free(req);
		return;
	}
	why = http_route_toe(toe);
	http_route_sanitize(path, sizeof(path), req->rq_path);
	http_route_sanitize(method, sizeof(method),
	    req->rq_method ? req->rq_method : "-");
	log_info("%s %s status=%u bytes=%llu ms=%llu id=%s%s%s", method,
	    path, status, (unsigned long long)req->rq_bytes,
	    (unsigned long long)(us / 1000), req->rq_id,
	    why ? " end=" : "", why ? why : "");
	http_metrics_observe(status, us, req->rq_bytes);
	/* Interactive: answered FHIR requests, output downloads aside. */
	if (status != 0 && req->rq_path != NULL &&
	    strncmp(req->rq_path, "/fhir/", 6) == 0 &&
	    strstr(req->rq_path, "/files/") == NULL)
		http_metrics_interactive(us);
	http_route_req_free(req);
}

/* ---- reading the request ---- */

const struct cfg *
http_req_cfg(const struct http_req *req)
{
	(void)req;
	return http_route_cfg;
}

const char *
http_req_method(const struct http_req *req)
{
	return req->rq_method;
}

unsigned int
http_req_method_bit(const struct http_req *req)
{
	return req->rq_mbit;
}

const char *
http_req_path(const struct http_req *req)
{
	return req->rq_path;
}

const char *
http_req_param(const struct http_req *req, const char *name)
{
	int	i;

	if (req->rq_route == NULL ||
	    (i = http_parse_param_index(req->rq_route->rt_pattern, name)) < 0 ||
	    i >= HTTP_ROUTE_MAX_PARAMS)
		return NULL;
	return req->rq_params[i];
}

const char *
http_req_query(const struct http_req *req, const char *name)
{
	const char	*v;

	if (MHD_lookup_connection_value_n(req->rq_conn, MHD_GET_ARGUMENT_KIND,
	    name, strlen(name), &v, NULL) != MHD_YES)
		return NULL;
	return v != NULL ? v : "";
}

static enum MHD_Result
http_route_iter_query(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_route_iter	*it = cls;

	(void)kind;
	it->it_rc = it->it_fn(it->it_arg, key, value != NULL ? value : "");
	return it->it_rc == 0 ? MHD_YES : MHD_NO;
}

int
http_req_query_each(const struct http_req *req,
    int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	struct http_route_iter	it;

	memset(&it, 0, sizeof(it));
	it.it_fn = fn;
	it.it_arg = arg;
	MHD_get_connection_values(req->rq_conn, MHD_GET_ARGUMENT_KIND,
	    http_route_iter_query, &it);
	return it.it_rc;
}

const char *
http_req_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->rq_conn, MHD_HEADER_KIND,
	    name);
}

static enum MHD_Result
http_route_iter_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_route_iter	*it = cls;
	size_t			 n = strlen(it->it_name);

	(void)kind;
	if (key == NULL || strlen(key) != n || !str_ncaseeq(key, it->it_name,
	    n))
		return MHD_YES;
	if ((it->it_count > 0 && buf_puts(it->it_out, ", ") == -1) ||
	    buf_puts(it->it_out, value != NULL ? value : "") == -1) {
		it->it_failed = 1;
		return MHD_NO;
	}
	it->it_count++;
	return MHD_YES;
}

int
http_req_header_all(const struct http_req *req, const char *name,
    struct buf *out)
{
	struct http_route_iter	it;

	memset(&it, 0, sizeof(it));
	it.it_name = name;
	it.it_out = out;
	MHD_get_connection_values(req->rq_conn, MHD_HEADER_KIND,
	    http_route_iter_header, &it);
	return it.it_failed ? -1 : it.it_count;
}

const char *
http_req_body(const struct http_req *req, size_t *len)
{
	if (len != NULL)
		*len = req->rq_body.b_len;
	return req->rq_body.b_data != NULL ? req->rq_body.b_data : "";
}

const cJSON *
http_req_body_json(struct http_req *req)
{
	if (!req->rq_json_done) {
		req->rq_json_done = 1;
		if (req->rq_body.b_len > 0)
			req->rq_json = cJSON_ParseWithLength(
			    req->rq_body.b_data, req->rq_body.b_len);
	}
	return req->rq_json;
}

const char *
http_req_id(const struct http_req *req)
{
	return req->rq_id;
}

const char *
http_req_json_type(const struct http_req *req)
{
	return req->rq_json_type;
}

int
http_req_client_addr(const struct http_req *req, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;
	const void			*a = NULL;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	ci = MHD_get_connection_info(req->rq_conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return -1;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out,
	    (socklen_t)outlen) == NULL) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

struct MHD_Connection *
http_req_conn(const struct http_req *req)
{
	return req->rq_conn;
}

void
http_req_count_bytes(struct http_req *req, uint64_t n)
{
	req->rq_bytes += n;
}

/* ---- answering ---- */

int
http_resp_header(struct http_req *req, const char *name, const char *value)
{
	if (req->rq_nheaders == HTTP_ROUTE_MAX_HEADERS ||
	    strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		log_warnx("request %s: response header %s dropped",
		    req->rq_id, name);
		return -1;
	}
	req->rq_hname[req->rq_nheaders] = xstrdup(name);
	req->rq_hvalue[req->rq_nheaders] = xstrdup(value);
	req->rq_nheaders++;
	return 0;
}

/*
 * Adds our headers to resp and queues it.  Takes ownership of resp.
 * Returns 0, or -1 (already answered, or MHD refused: it does so while a
 * body is still arriving).
 */
static int
http_route_queue(struct http_req *req, unsigned int status,
    const char *content_type, struct MHD_Response *resp, uint64_t bytes)
{
	size_t	i;
	int	rc = -1, retry_after = 0;

	if (resp == NULL) {
		log_warnx("request %s: cannot create a response", req->rq_id);
		return -1;
	}
	if (req->rq_status != 0) {
		log_warnx("request %s: second answer (%u after %u) dropped",
		    req->rq_id, status, req->rq_status);
		goto out_destroy;
	}
	if (MHD_add_response_header(resp, "X-Request-Id", req->rq_id) !=
	    MHD_YES || (content_type != NULL && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES))
		goto out_destroy;
	for (i = 0; i < req->rq_nheaders; i++) {
		if (MHD_add_response_header(resp, req->rq_hname[i],
		    req->rq_hvalue[i]) != MHD_YES)
			log_warnx("request %s: response header %s refused",
			    req->rq_id, req->rq_hname[i]);
		if (strcasecmp(req->rq_hname[i], "Retry-After") == 0)
			retry_after = 1;
	}
	/* Every 503 says when to come back (RFC 9110 §10.2.3). */
	if (status == 503 && !retry_after &&
	    MHD_add_response_header(resp, "Retry-After",
	    HTTP_ROUTE_RETRY_503) != MHD_YES)
		log_warnx("request %s: Retry-After refused", req->rq_id);
	if (MHD_queue_response(req->rq_conn, status, resp) != MHD_YES)
		goto out_destroy;
	req->rq_status = status;
	req->rq_bytes = req->rq_mbit == HTTP_HEAD ? 0 : bytes;
	rc = 0;
 out_destroy:
	MHD_destroy_response(resp);
	return rc;
}

int
http_reply_json(struct http_req *req, unsigned int status, const cJSON *json)
{
	char	*text;
	size_t	 len;

	if ((text = cJSON_PrintUnformatted(json)) == NULL)
		return http_reply_internal(req, "cannot serialise JSON");
	len = strlen(text);
	return http_route_queue(req, status, req->rq_json_type,
	    MHD_create_response_from_buffer_with_free_callback(len, text,
	    cJSON_free), len);
}

int
http_reply_data(struct http_req *req, unsigned int status,
    const char *content_type, const void *data, size_t len)
{
	return http_route_queue(req, status, content_type,
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_MUST_COPY), len);
}

int
http_reply_static(struct http_req *req, unsigned int status,
    const char *content_type, const void *data, size_t len)
{
	return http_route_queue(req, status, content_type,
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_PERSISTENT), len);
}

int
http_reply_buf(struct http_req *req, unsigned int status,
    const char *content_type, struct buf *b)
{
	static char		 empty[1];
	struct MHD_Response	*resp;
	size_t			 len;
	char			*data;

	data = buf_steal(b, &len);
	/* MHD frees with free(), the allocator behind xmalloc. */
	resp = MHD_create_response_from_buffer(len, data != NULL ? data : empty,
	    data != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		free(data);
	return http_route_queue(req, status, content_type, resp, len);
}

/* Replaces bytes outside printable ASCII so that client text is safe in
 * logs and JSON (no invalid UTF-8, no control characters). */
static void
http_route_sanitize(char *out, size_t outlen, const char *in)
{
	size_t	i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static int
http_route_voutcome(struct http_req *req, unsigned int status,
    const char *code, const char *fmt, va_list ap)
{
	struct buf	b;
	char		diag[HTTP_ROUTE_MAX_DIAG];
	char		clean[HTTP_ROUTE_MAX_DIAG];

	vsnprintf(diag, sizeof(diag), fmt, ap);
	http_route_sanitize(clean, sizeof(clean), diag);
	buf_init(&b, 2 * sizeof(clean) + 256);
	if (http_outcome_write(&b, "error", code != NULL ? code :
	    http_outcome_code(status), clean) == -1) {
		buf_free(&b);
		return -1;
	}
	return http_reply_buf(req, status, req->rq_json_type, &b);
}

int
http_reply_outcome(struct http_req *req, unsigned int status,
    const char *code, const char *fmt, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = http_route_voutcome(req, status, code, fmt, ap);
	va_end(ap);
	return rc;
}

int
http_reply_internal(struct http_req *req, const char *fmt, ...)
{
	char	detail[HTTP_ROUTE_MAX_DIAG];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* The database went away under the handler's query: that is a
	 * transient absence for the client to wait out, not our fault. */
	if (http_db_lost()) {
		log_warnx("request %s: database lost: %s", req->rq_id, detail);
		return http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
	}
	log_error("request %s: %s", req->rq_id, detail);
	return http_reply_outcome(req, 500, "exception", "internal error "
	    "(request %s)", req->rq_id);
}

int
http_reply_response(struct http_req *req, unsigned int status,
    struct MHD_Response *resp, uint64_t bytes)
{
	return http_route_queue(req, status, NULL, resp, bytes);
}
