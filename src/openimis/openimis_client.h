/*
 * openimis_client.h — an HTTP client for openIMIS's FHIR R4 module
 * (../shared/OPENIMIS.md A1.1), paced so that openIMIS's interactive
 * users keep their server.
 *
 * Authentication: "jwt" logs in with POST <url>/login/ {"username",
 * "password"} and sends "Authorization: Bearer <token>"; the token is
 * renewed before its "exp" (a minute early, or at half its life when it
 * lives less than two), and once more on a 401.  "basic" sends HTTP
 * Basic with every request (DRF's BasicAuthentication).
 *
 * Pace: one request at a time (concurrency 1), at most rps per second:
 * starts are scheduled 1/rps apart, and a start that came late (a
 * sleep's rounding, a busy machine) shortens the next gap, by at most
 * one gap, so that the rate is rps, not rps less the oversleep (no
 * second holds more than rps + 1).
 * The gap between requests widens (doubles, up to 64x) on 429 and 503
 * (a Retry-After is honoured) and when a request takes more than three
 * times the fastest recent one; it narrows again by a tenth per answer
 * that shows neither.  429, 502, 503, 504 and transport failures are
 * retried with that back-off until retry_s seconds pass without a good
 * answer; other statuses are returned to the caller.
 *
 * Waiting goes through the caller's sleep function, so a job heartbeats
 * and stops while the client waits.  Not thread-safe: one client per
 * thread.  Errors: -1 with a one-line reason in errbuf (never the
 * password or token); OPENIMIS_STOP when the sleep function asked to
 * stop.
 */
#ifndef OPENIMIS_OPENIMIS_CLIENT_H
#define OPENIMIS_OPENIMIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct cfg;
struct openimis_client;

#define OPENIMIS_STOP	(-2)

/* Sleeps ms milliseconds; 0, or -1 to abandon the request. */
typedef int (*openimis_sleep_fn)(void *arg, int ms);

struct openimis_opts {
	const char		*oo_url;	/* module base, no trailing '/' */
	const char		*oo_username;
	const char		*oo_password;
	int			 oo_basic;	/* 1: Basic, 0: login JWT */
	double			 oo_rps;	/* requests per second, > 0 */
	int			 oo_timeout_s;	/* per request */
	int			 oo_retry_s;	/* give up after this long */
	openimis_sleep_fn	 oo_sleep;	/* NULL: nanosleep */
	void			*oo_sleep_arg;
};

struct openimis_stats {
	int64_t	os_requests;	/* answered requests */
	int64_t	os_retries;	/* 429/5xx/transport retried */
	int64_t	os_logins;
	double	os_wait_s;	/* spent pacing and backing off */
	double	os_latency_s;	/* summed request time */
	double	os_factor;	/* current back-off multiplier (>= 1) */
};

/* Zeroes o and fills what the configuration says (openimis_url,
 * _username, _password, _auth, _rps); the caller sets timeouts, retry
 * and sleep.  o's strings point into cfg. */
void	openimis_client_opts(const struct cfg *, struct openimis_opts *o);
/* Copies opts' strings.  Never fails but for a bad URL (NULL, errbuf). */
struct openimis_client *openimis_client_new(const struct openimis_opts *,
	    char *errbuf, size_t errlen);
void	openimis_client_free(struct openimis_client *);

/*
 * GET <url>/<path_query> (path_query has no leading '/') into body
 * (reset first).  *status is the final HTTP status.  *date, if not NULL,
 * gets the answer's Date header as epoch seconds (0 if none).  0,
 * -1 or OPENIMIS_STOP.
 */
int	openimis_client_get(struct openimis_client *, const char *path_query,
	    struct buf *body, long *status, int64_t *date, char *errbuf,
	    size_t errlen);
/* POST a JSON body to <url>/<path>; as openimis_client_get. */
int	openimis_client_post(struct openimis_client *, const char *path,
	    const char *json, size_t len, struct buf *body, long *status,
	    char *errbuf, size_t errlen);
/* Logs in now (jwt mode; a no-op for basic).  0, -1 or OPENIMIS_STOP. */
int	openimis_client_login(struct openimis_client *, char *errbuf,
	    size_t errlen);
void	openimis_client_stats(const struct openimis_client *,
	    struct openimis_stats *);
/* Replaces the sleep function (for a client handed to another thread:
 * the sleep runs on the thread that makes the requests). */
void	openimis_client_set_sleep(struct openimis_client *,
	    openimis_sleep_fn, void *arg);

#endif
