/*
 * http_route.h — the request object, the route table's row and the API
 * that handlers use to read a request and answer it.
 *
 * ADDING A ROUTE: one row in api_routes_table[] (src/api/api_routes.c),
 * which main.c hands down to http_server_main:
 *
 *	{ HTTP_GET, "/fhir/_jobs/{id}", HTTP_ROUTE_FHIR, export_status_get },
 *
 * Patterns match the percent-decoded path segment by segment; "{name}"
 * captures one non-empty segment (http_req_param(req, "name")).  Segments
 * "." and "..", encoded slashes (%2F), control bytes and malformed escapes
 * never reach a handler: such paths get 404.  Several rows may share a
 * pattern with different methods and handlers.  HEAD is served wherever
 * GET is (libmicrohttpd drops the body).
 *
 * WHAT THE ROUTER CHECKS BEFORE A HANDLER RUNS, in this order, each
 * answered with an OperationOutcome:
 *   413  Content-Length over http_max_body (before routing, before reading);
 *        a chunked body that outgrows it is discarded and gets 413 at its
 *        end (over 16 MiB more, the connection is closed instead);
 *   415  a POST/PUT/PATCH body whose Content-Type is not JSON, unless the
 *        route has HTTP_ROUTE_BODY_ANY (then the handler checks it);
 *   404  no pattern matches; 405 (with Allow) a pattern matches but not
 *        the method;
 *   406  HTTP_ROUTE_FHIR routes: Accept excludes every JSON type, or
 *        _format is not JSON.
 * The handler then runs once, on the MHD worker thread that owns the
 * connection, after the whole body (at most http_max_body bytes) has
 * arrived.
 *
 * ANSWERING: a handler calls exactly one http_reply_* function (or none,
 * which the router turns into a 500).  Extra headers are added before with
 * http_resp_header.  Every answer carries X-Request-Id.  Errors go through
 * http_reply_outcome, or http_reply_internal for 500s: the detail goes to
 * the log, the client sees a short message and the request id.
 *
 * THREADS AND LIFETIME: everything here is called on the MHD worker thread
 * that serves the request.  A struct http_req lives from the first byte of
 * the request line to the completion callback; strings returned by
 * http_req_* accessors are borrowed and valid until then.  Handlers may
 * block on the database (the thread's own connection, http_db.h) but must
 * stay short: bulk work belongs to the workers.
 */
#ifndef HTTP_ROUTE_H
#define HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

struct buf;
struct cfg;
struct http_req;

/* Method bits of a route; HEAD is implied by HTTP_GET. */
#define HTTP_GET	0x01u
#define HTTP_POST	0x02u
#define HTTP_PUT	0x04u
#define HTTP_DELETE	0x08u
#define HTTP_PATCH	0x10u
#define HTTP_HEAD	0x20u	/* request-side only */

/* Route flags. */
/* A FHIR JSON endpoint: Accept and _format negotiated, answers are
 * application/fhir+json (or application/json when asked). */
#define HTTP_ROUTE_FHIR		0x01u
/* Takes a body of any Content-Type (the handler checks it). */
#define HTTP_ROUTE_BODY_ANY	0x02u

#define HTTP_ROUTE_MAX_PARAMS	4	/* "{name}" captures */
#define HTTP_ROUTE_MAX_HEADERS	16	/* http_resp_header calls */
#define HTTP_ROUTE_MAX_HEADER	8192	/* a joined request header */

typedef void	 http_handler_fn(struct http_req *);

struct http_route {
	unsigned int	 rt_methods;	/* HTTP_GET | ... */
	const char	*rt_pattern;	/* "/fhir/Group/{id}/$export" */
	unsigned int	 rt_flags;	/* HTTP_ROUTE_* */
	http_handler_fn	*rt_handler;
};

/* ---- set-up, called by http_server.c on the main thread ---- */

/* Keeps cfg and the route table routes[0..nroutes) (both borrowed; must
 * outlive the daemon) for all requests and checks the table (patterns
 * absolute, at most HTTP_ROUTE_MAX_PARAMS captures, methods and handler
 * set).  Returns 0, or -1 with the offending row in errbuf. */
int		 http_route_init(const struct cfg *cfg,
		    const struct http_route *routes, size_t nroutes,
		    char *errbuf, size_t errlen);
/* True if the table has a row for pattern (exact string) whose methods
 * include all of 'methods'.  Thread-safe (the table is constant). */
int		 http_route_exists(unsigned int methods,
		    const char *pattern);
/* The method bit of a method name ("GET" → HTTP_GET), 0 if unknown. */
unsigned int	 http_route_method_bit(const char *method);
/* Requests between their first byte and their completion callback. */
unsigned int	 http_route_in_flight(void);

/* libmicrohttpd callbacks (MHD_OPTION_URI_LOG_CALLBACK, the access
 * handler, MHD_OPTION_NOTIFY_COMPLETED); cls is unused.  The URI log
 * callback allocates the struct http_req, the completion callback logs
 * the access line, counts the request in /metrics and frees it. */
void		*http_route_uri_log(void *cls, const char *uri,
		    struct MHD_Connection *conn);
enum MHD_Result	 http_route_access(void *cls,
		    struct MHD_Connection *conn, const char *url,
		    const char *method, const char *version,
		    const char *upload_data, size_t *upload_data_size,
		    void **req_cls);
/*
 * Requests whose X-Bulkhead-Probe header equals tok (at most 64 chars; set
 * once before serving) are neither logged nor counted in /metrics: the
 * API's own latency probe (api/api_interactive.c), 50 a second, would
 * otherwise flood the access log.
 */
void		 http_route_quiet_token(const char *tok);
void		 http_route_completed(void *cls,
		    struct MHD_Connection *conn, void **req_cls,
		    enum MHD_RequestTerminationCode toe);

/* ---- reading the request (borrowed results, valid for the request) ---- */

const struct cfg *http_req_cfg(const struct http_req *);
/* "GET", "POST", ... as sent. */
const char	*http_req_method(const struct http_req *);
/* One of HTTP_GET ... HTTP_HEAD, 0 for another method. */
unsigned int	 http_req_method_bit(const struct http_req *);
/* The request path as sent (still percent-encoded), without the query;
 * for logs and messages.  Match on http_req_param instead. */
const char	*http_req_path(const struct http_req *);
/* The percent-decoded value of pattern capture "{name}", or NULL. */
const char	*http_req_param(const struct http_req *, const char *name);
/* First value of query parameter name (decoded), NULL if absent; a
 * parameter given without '=' has value "". */
const char	*http_req_query(const struct http_req *, const char *name);
/* Calls fn for each query parameter in order (repeats included); value
 * is "" for a parameter without '='.  Stops when fn returns non-zero and
 * returns that value, else 0. */
int		 http_req_query_each(const struct http_req *,
		    int (*fn)(void *arg, const char *key, const char *value),
		    void *arg);
/* First value of request header name (case-insensitive), or NULL. */
const char	*http_req_header(const struct http_req *, const char *name);
/* All values of header name joined with ", " into out (appended).
 * Returns the number of values, or -1 when out's limit was reached. */
int		 http_req_header_all(const struct http_req *,
		    const char *name, struct buf *out);
/* The body (NUL-terminated, may contain NULs) and its length; "" if none. */
const char	*http_req_body(const struct http_req *, size_t *len);
/* The body parsed as JSON, parsed on first call and owned by the
 * request; NULL if there is no body or it is not JSON. */
const cJSON	*http_req_body_json(struct http_req *);
/* The 16-hex-digit request id (also in X-Request-Id and the access log). */
const char	*http_req_id(const struct http_req *);
/* The Content-Type the route answers JSON with: the negotiated
 * application/fhir+json or application/json on HTTP_ROUTE_FHIR routes,
 * application/json elsewhere. */
const char	*http_req_json_type(const struct http_req *);
/* The peer's numeric address ("192.0.2.7", "2001:db8::1") into out.
 * Returns 0, or -1 with out "" when it is unknown (not IP, too long). */
int		 http_req_client_addr(const struct http_req *, char *out,
		    size_t outlen);
/* The libmicrohttpd connection, for what this API does not cover. */
struct MHD_Connection *http_req_conn(const struct http_req *);
/* Adds n to the bytes logged for the answer; for streamed responses
 * (the content reader callback runs on the request's thread). */
void		 http_req_count_bytes(struct http_req *, uint64_t n);

/* ---- answering (call one http_reply_*; 0 on success, -1 on failure,
 * including a second answer to the same request) ---- */

/* Adds a response header (copied) to the coming answer.  Returns -1 if
 * name or value contains CR/LF or HTTP_ROUTE_MAX_HEADERS are used. */
int		 http_resp_header(struct http_req *, const char *name,
		    const char *value);
/* Serialises json (borrowed) with http_req_json_type as Content-Type. */
int		 http_reply_json(struct http_req *, unsigned int status,
		    const cJSON *json);
/* Copies len bytes of data. */
int		 http_reply_data(struct http_req *, unsigned int status,
		    const char *content_type, const void *data, size_t len);
/* data must stay valid until the process ends (static or cached). */
int		 http_reply_static(struct http_req *, unsigned int status,
		    const char *content_type, const void *data, size_t len);
/* Takes ownership of b's data; b is re-initialised. */
int		 http_reply_buf(struct http_req *, unsigned int status,
		    const char *content_type, struct buf *b);
/* An OperationOutcome with one issue (severity error).  code NULL means
 * http_outcome_code(status).  The diagnostics reach the client: no
 * internals, no PHI. */
int		 http_reply_outcome(struct http_req *, unsigned int status,
		    const char *code, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* 500: logs "request <id>: <detail>" at error level and answers
 * "internal error (request <id>)" -- or, when the thread's database
 * connection was lost under the handler (http_db_lost), 503 transient.
 * Every 503 carries Retry-After (5 s unless the handler set one). */
int		 http_reply_internal(struct http_req *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Queues a response built with libmicrohttpd directly (streams, files);
 * takes ownership of resp.  bytes is logged as sent (0 if unknown; see
 * http_req_count_bytes). */
int		 http_reply_response(struct http_req *, unsigned int status,
		    struct MHD_Response *resp, uint64_t bytes);

#endif
