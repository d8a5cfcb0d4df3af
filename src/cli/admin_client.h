/*
 * admin_client.h — the command line's side of the admin API (used by
 * 'bulkhead jobs', 'schedules' and 'limits'): where the API is, the
 * token, one request at a time over libcurl, the option parser these
 * commands share and aligned tables.
 *
 * The API base is --api URL, else BULKHEAD_API_URL, else
 * http://<listen> from the configuration (a wildcard listen address
 * becomes loopback).  The token is admin_token from the configuration
 * (BULKHEAD_ADMIN_TOKEN or the config file).
 *
 * Exit statuses, shared by the commands: 0 success; 1 the API refused or
 * failed, or could not be reached (its message on stderr); 2 usage or
 * configuration errors, found before any request.
 *
 * Errors are printed here, one line on stderr, prefixed with the
 * command's name ("bulkhead jobs show: ...").
 */
#ifndef ADMIN_ADMIN_CLIENT_H
#define ADMIN_ADMIN_CLIENT_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

struct buf;
struct cfg;

#define ADMIN_CLIENT_BODY_MAX	((size_t)256 << 20)	/* largest answer */
#define ADMIN_CLIENT_URL_MAX	2048
#define ADMIN_CLIENT_PROG_MAX	64
#define ADMIN_CLIENT_TIMEOUT	60	/* seconds per request */

struct admin_client {
	char	 ac_prog[ADMIN_CLIENT_PROG_MAX];	/* message prefix */
	char	 ac_base[ADMIN_CLIENT_URL_MAX];	/* no trailing '/' */
	CURL	*ac_curl;				/* owned */
	struct curl_slist *ac_headers;			/* owned */
};

/* One --name option: ao_flag options take no value.  admin_client_args
 * sets ao_val to the value ("" for a flag) when the option is given. */
struct admin_opt {
	const char	*ao_name;
	int		 ao_flag;
	const char	*ao_val;
};

/*
 * Splits argv into at most maxpos positionals (*npos of them into pos)
 * and the options of opts; "--opt value" and "--opt=value" both work and
 * "--" ends the options.  0, or -1 after printing the reason.
 */
int	 admin_client_args(const char *prog, int argc, char **argv,
	    struct admin_opt *opts, size_t nopts, const char **pos,
	    int maxpos, int *npos);
/* The value of option name in opts (NULL if not given). */
const char *admin_client_opt(const struct admin_opt *opts, size_t nopts,
	    const char *name);

/* Sets up ac for prog ("bulkhead jobs list").  0, or 2 after printing
 * why (no token, bad URL).  Free with admin_client_close. */
int	 admin_client_open(struct admin_client *ac, const struct cfg *cfg,
	    const char *api, const char *prog);
void	 admin_client_close(struct admin_client *ac);
/*
 * METHOD base + path (path already escaped: admin_client_escape), with
 * a JSON body if body is not NULL.  Returns the HTTP status with the
 * answer in out (appended; buf_init'ed by the caller), or -1 after
 * printing why the API could not be reached.
 */
long	 admin_client_call(struct admin_client *ac, const char *method,
	    const char *path, const char *body, struct buf *out);
/* Prints the API's message for a failed answer; returns 1. */
int	 admin_client_error(const struct admin_client *ac, long status,
	    const struct buf *body);
/* Parses an answer; NULL after printing why.  Caller cJSON_Deletes. */
cJSON	*admin_client_json(const struct admin_client *ac,
	    const struct buf *body);
/* Appends s percent-encoded (RFC 3986 unreserved kept) to b; 0 or -1. */
int	 admin_client_escape(struct buf *b, const char *s);

/* ---- aligned tables ---- */

struct admin_table {
	size_t	  t_ncols;
	size_t	  t_nrows;	/* the header included */
	char	**t_cells;	/* t_nrows * t_ncols, owned */
};

/* head: t_ncols column titles.  Free with admin_table_free. */
void	 admin_table_init(struct admin_table *, size_t ncols,
	    const char *const *head);
/* Copies a row of t_ncols cells; a NULL cell prints as "-". */
void	 admin_table_add(struct admin_table *, const char *const *cells);
/* Left-aligned columns two spaces apart; the last column unpadded. */
void	 admin_table_print(const struct admin_table *, FILE *);
void	 admin_table_free(struct admin_table *);

/* The string member name of o, or NULL (absent, null, not a string). */
const char *admin_client_str(const cJSON *o, const char *name);

#endif
