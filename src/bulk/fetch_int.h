/*
 * fetch_int.h — private to the import fetcher: struct fetch, shared by
 * fetch.c (the public API, URL dispatch, file:// source, reading) and
 * fetch_http.c (the http(s) source: libcurl, redirects, response checks).
 * Nothing outside those two files includes it.
 */
#ifndef BULK_FETCH_INT_H
#define BULK_FETCH_INT_H

#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "bulk/fetch.h"
#include "bulk/fetch_decode.h"

#define FETCH_RAWBUF	(256 * 1024)	/* raw bytes held at most, normally */
#define FETCH_RAW_MAX	(4 * 1024 * 1024) /* one curl chunk never exceeds */
#define FETCH_URL_MAX	8192
#define FETCH_HDR_MAX	256		/* status, ETag, Content-Encoding */
#define FETCH_HOST_MAX	256
#define FETCH_WHERE_MAX	(FETCH_HOST_MAX + 16)
#define FETCH_POLL_MS	200

enum fetch_kind {
	FETCH_FILE,
	FETCH_HTTP,
};

enum fetch_state {
	FETCH_RUNNING,		/* more to come */
	FETCH_DONE,		/* reads return 0 */
	FETCH_FAILED,		/* reads return -1 */
};

struct fetch {
	enum fetch_kind	 f_kind;
	enum fetch_state f_state;
	enum fetch_decode_coding f_suffix; /* from the requested path */
	struct fetch_decode *f_dec;	/* owned; set once the body is
					 * accepted */
	int		 f_fd;		/* FILE: the open file; else -1 */

	char		*f_raw;		/* owned; undecoded bytes */
	size_t		 f_raw_cap;	/* allocated */
	size_t		 f_raw_pos;	/* first byte not yet decoded */
	size_t		 f_raw_len;	/* end of valid bytes */
	int		 f_raw_eof;	/* FILE: read(2) returned 0 */
	int64_t		 f_raw_bytes;	/* body bytes received or read */

	CURLM		*f_multi;	/* owned; HTTP */
	CURL		*f_easy;	/* owned; HTTP */
	int		 f_easy_added;	/* f_easy is in f_multi */
	struct curl_slist *f_hdrs;	/* owned; request headers */
	char		*f_allow;	/* owned copy of fo_allow */
	char		*f_etag;	/* owned; expected ETag or NULL */
	int		 f_stall;	/* fo_stall_timeout */
	int		 f_max_hops;	/* fo_max_redirects */
	int		 f_hops;	/* redirects followed so far */
	char		*f_url;		/* owned; URL of the current hop */
	CURLU		*f_cu;		/* owned; the same, given to curl */
	char		*f_location;	/* owned; this hop's Location or NULL */
	char		*f_next;	/* owned; redirect target or NULL */
	char		 f_host[FETCH_HOST_MAX]; /* current host, no brackets */
	char		 f_where[FETCH_WHERE_MAX]; /* "host:port", messages */
	int		 f_checked;	/* this hop's response judged */
	int		 f_redirect;	/* this hop ended in a redirect */
	int		 f_connected;	/* a request went out on this hop */
	int		 f_paused;	/* the write callback paused curl */
	int		 f_xfer_done;	/* CURLMSG_DONE seen for this hop */
	CURLcode	 f_result;	/* its result */
	struct timespec	 f_last_io;	/* last header or body byte */
	char		 f_status[FETCH_HDR_MAX]; /* "404 Not Found" */
	char		 f_ce[FETCH_HDR_MAX];	/* Content-Encoding values */
	int		 f_ce_long;	/* ... did not fit */
	char		 f_got_etag[FETCH_HDR_MAX]; /* response ETag */
	int		 f_etag_seen;	/* an ETag header came */
	int		 f_etag_long;	/* ... did not fit */
	char		 f_blocked[FETCH_ERR_MAX]; /* last address refused */
	char		 f_curlerr[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
	char		 f_err[FETCH_ERR_MAX];	/* fetch_error */
};

/* fetch.c */

/* Records the first failure (one line) and makes it sticky. */
void	fetch_fail(struct fetch *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Accepts the body: starts the decoder for coding.  0, or -1 failed. */
int	fetch_start_decoder(struct fetch *, enum fetch_decode_coding);

/* fetch_http.c */

/*
 * Sets up an http(s) fetch of u (checks the target against opts; no I/O
 * yet).  Returns 0, or -1 with the reason in errbuf.
 */
int	fetch_http_open(struct fetch *, const struct fetch_opts *, CURLU *,
	    char *, size_t);

/*
 * Runs curl until f_raw holds bytes (1), the body has ended (0) or the
 * fetch failed (-1).  Follows redirects on the way.
 */
int	fetch_http_fill(struct fetch *);

/* Frees the curl side of f; safe on a fetch that never started. */
void	fetch_http_cleanup(struct fetch *);

#endif
