/*
 * fetch_policy.h — the address policy of the import fetcher
 * (bulk/fetch.h), its SSRF protection (SPEC IMP-R-04.1): which hosts may
 * be fetched from (the import_allow list) and which addresses may be
 * connected to.
 *
 * The rule: a host must be in the allowlist; an address is refused if it
 * is loopback, link-local, unspecified or a cloud metadata address,
 * unless the host is an IP literal (the allowlist names it, so it is
 * trusted as written) or is "localhost" / "*.localhost" and the address
 * loopback.  So allow="127.0.0.1" fetches http://127.0.0.1:8080/,
 * allow="localhost" fetches http://localhost:8080/, but
 * allow="example.org" refuses an example.org that resolves to 127.0.0.1
 * (DNS rebinding).
 *
 * Pure functions: no I/O, no allocation, any thread.  Fuzzed by
 * tests/fuzz/fuzz_fetch_policy.c.
 */
#ifndef BULK_FETCH_POLICY_H
#define BULK_FETCH_POLICY_H

#include <stddef.h>

enum fetch_policy_ipclass {
	FETCH_POLICY_IP_OTHER,		/* in no refused class */
	FETCH_POLICY_IP_LOOPBACK,	/* 127/8, ::1 */
	FETCH_POLICY_IP_LINKLOCAL,	/* 169.254/16, fe80::/10 */
	FETCH_POLICY_IP_UNSPECIFIED,	/* 0/8, :: */
	FETCH_POLICY_IP_METADATA,	/* 169.254.169.254, fd00:ec2::254,
					 * 100.100.100.200 */
	FETCH_POLICY_IP_INVALID,	/* not an IP address literal */
};

/*
 * Classifies an IPv4 or IPv6 address literal (no brackets, no zone).
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64
 * (64:ff9b::a.b.c.d) IPv6 addresses are classified by their IPv4 part.
 */
enum fetch_policy_ipclass fetch_policy_ip_class(const char *ip);
/* The numeric text of a socket address (AF_INET or AF_INET6, addrlen
 * bytes at addr, as libcurl's socket callback hands it) into ip[iplen].
 * 0, or -1 for any other family or a short address. */
int		 fetch_policy_addr_text(int family, const void *addr,
		    size_t addrlen, char *ip, size_t iplen);

/* "loopback", "link-local", ... for messages. */
const char	*fetch_policy_ip_class_name(enum fetch_policy_ipclass);

/*
 * Returns 1 if host is in allow, a comma-separated list of host names or
 * IP literals (blanks around entries ignored), else 0.  Matching is exact
 * and ASCII case-insensitive; brackets around IPv6 literals are ignored
 * on both sides, so "::1" and "[::1]" match each other.  There are no
 * wildcards: an entry "*" matches nothing.  NULL or "" allows nothing.
 */
int		 fetch_policy_host_allowed(const char *allow,
		    const char *host);

/*
 * Returns 1 if connecting to the address literal ip is refused when
 * fetching from host (no brackets), else 0; sets *cls to ip's class.
 * A non-IP ip is always refused.
 */
int		 fetch_policy_addr_refused(const char *host, const char *ip,
		    enum fetch_policy_ipclass *cls);

/*
 * Returns 1 if the address literal ip is private: 10/8, 172.16/12,
 * 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7 (unique local),
 * fec0::/10 (site-local); IPv4-mapped, -compatible and NAT64 forms by
 * their IPv4 part.  0 otherwise, and for a non-IP.  Private addresses are
 * not refused by fetch_policy_addr_refused (an allowlisted import host
 * may well live on the LAN); fetch_policy_target_refused uses this.
 */
int		 fetch_policy_ip_private(const char *ip);

/*
 * The rule for URLs Bulkhead posts to without a client asking — OpenHIM
 * delivery targets, which an OpenHIM administrator may push — decided at
 * connect time like the fetcher's: a host named in allow (import_allow)
 * follows fetch_policy_addr_refused (so "127.0.0.1" in allow lets tests
 * and a local router through); any other host must resolve to an
 * ordinary, non-private address.  Returns 1 if connecting to ip for host
 * is refused, and *what names the reason's class ("private",
 * "loopback", "cloud metadata", ...).
 */
int		 fetch_policy_target_refused(const char *allow,
		    const char *host, const char *ip, const char **what);

/* Sets *out, *outlen to s[0..n) without one pair of [] around it. */
void		 fetch_policy_unbracket(const char *s, size_t n,
		    const char **out, size_t *outlen);

#endif
