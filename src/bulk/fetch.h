/*
 * fetch.h — pulls one import input (an http(s):// or file:// URL) as a
 * stream of decoded bytes, for the NDJSON line reader (lib/lines.h) of the
 * import job (SPEC IMP-R-04, CMP-05).
 *
 * Sources:
 *   http, https  libcurl, driven from fetch_read (no thread, no callback
 *                into the caller); "Accept-Encoding: zstd, gzip" is sent
 *                and the body decoded by its Content-Encoding (zstd, gzip
 *                or identity; anything else is refused).  Redirects (301,
 *                302, 303, 307, 308) are followed by this module, hop by
 *                hop, up to fo_max_redirects, to http(s) targets only.
 *   file         only below fo_import_dir, by the rule of bulk/confine.h
 *                (symlinks and ".." resolved), regular files only, read
 *                with read(2).
 * When no Content-Encoding applies (file://, or a response without one),
 * a requested path ending in ".gz" or ".zst" is decoded as gzip or zstd.
 * Nothing is ever decoded twice: a ".ndjson.gz" served with
 * "Content-Encoding: gzip" is decoded once and yields the .gz bytes.
 *
 * SSRF protection (http/https), the rule of bulk/fetch_policy.h:
 *   - the URL's host, and the host of every redirect target, must be in
 *     fo_allow (see fetch_policy_host_allowed);
 *   - every address curl is about to connect to, and the address of every
 *     connection a request is sent on, must not be loopback, link-local,
 *     unspecified or a cloud metadata address (fetch_policy_ip_class),
 *     unless the host is an IP literal (it is listed in fo_allow, hence
 *     trusted as written) or is "localhost" / "*.localhost" and the
 *     address loopback (fetch_policy_addr_refused);
 *   - proxies from the environment are ignored (a proxy would make the
 *     address checks meaningless).
 *
 * Memory is bounded whatever the input size: one 256 KB raw buffer (curl
 * is paused while it is full), curl's own buffers, and the decoder state
 * (zlib 32 KB window; zstd window at most 128 MB, see
 * bulk/fetch_decode.h).
 *
 * Errors: fetch_open returns NULL with a one-line reason in errbuf for
 * what is refused up front; it does no network I/O.  Everything found on
 * the wire (connection, HTTP status, ETag, Content-Encoding, corrupt data,
 * stall) makes fetch_read return -1 with the reason in fetch_error; the
 * checks on the response headers fail before any byte is returned.
 * Reasons never contain URL credentials or query strings.
 *
 * Threads: a struct fetch belongs to one thread at a time; different
 * fetches may run in different threads.  fetch_open initialises libcurl
 * once per process (pthread_once); the integrator may instead call
 * curl_global_init() in main before starting threads.
 */
#ifndef BULK_FETCH_H
#define BULK_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FETCH_ERR_MAX	512	/* a good errlen for fetch_open */

struct fetch_opts {
	const char	*fo_allow;	/* comma-separated host allowlist
					 * (cfg import_allow); NULL or ""
					 * allows no http(s) host */
	const char	*fo_import_dir;	/* root for file:// URLs (cfg
					 * import_dir); NULL refuses them */
	int		 fo_connect_timeout; /* seconds, DNS + TCP + TLS;
					 * <= 0: curl's default (300) */
	int		 fo_stall_timeout; /* seconds without a byte while
					 * waiting for one; <= 0: none */
	int		 fo_max_redirects; /* hops followed; < 0 means 0 */
};

struct fetch;

/*
 * Checks url against opts and prepares the fetch.  etag (NULL: no check)
 * is compared with the final response's ETag by the weak comparison of
 * RFC 9110 §8.8.3.2 (fetch_etag_match); a mismatch or a missing ETag is an
 * error before any byte is returned.  For file:// URLs etag is ignored:
 * local files have no ETag and hashing them would cost a second pass.
 * Returns NULL with a one-line reason in errbuf (bad URL, scheme, host
 * not allowed, file:// disabled, file outside import_dir, missing or not
 * a regular file).  opts and its strings are copied.  Caller frees with
 * fetch_close.
 */
struct fetch	*fetch_open(const struct fetch_opts *opts, const char *url,
		    const char *etag, char *errbuf, size_t errlen);

/*
 * lines_read_fn-compatible: fills buf with up to len (> 0) decoded bytes,
 * blocking as needed.  Returns the number of bytes, 0 at the end, or -1
 * with errno = EIO and the reason in fetch_error.  After 0 or -1 further
 * calls return the same.  arg is the struct fetch.
 */
ssize_t		 fetch_read(void *arg, void *buf, size_t len);

/* The reason for the -1 ("" if none).  Borrowed; valid until fetch_close. */
const char	*fetch_error(const struct fetch *);

/* Body bytes received (http) or read (file) so far, before decoding. */
int64_t		 fetch_raw_bytes(const struct fetch *);

/* Aborts any transfer and frees everything; NULL is a no-op. */
void		 fetch_close(struct fetch *);

/*
 * Pure helper, exported for the unit tests.  Weak ETag comparison
 * (RFC 9110 §8.8.3.2): a leading "W/" is ignored on both sides, as are
 * the double quotes, so the expected value may be given with or without
 * them; the rest must be equal byte for byte.
 * Returns 1 on a match, else 0 (also if either is NULL or empty).
 */
int		 fetch_etag_match(const char *want, const char *got);

#endif
