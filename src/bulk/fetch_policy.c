/*
 * fetch_policy.c — host allowlist and address classes for the import
 * fetcher's SSRF protection (see fetch_policy.h for the rule).
 *
 * Addresses are classified on their bytes (inet_pton), never on their
 * spelling, so "::ffff:7f00:1" is as loopback as "127.0.0.1".  Non-
 * canonical IPv4 forms ("127.1", "2130706433") are not IP literals here;
 * they never reach the classifier as connection addresses, which libcurl
 * prints with inet_ntop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>

#include "bulk/fetch_policy.h"
#include "lib/str.h"

static enum fetch_policy_ipclass fetch_policy_class4(const unsigned char *);
static enum fetch_policy_ipclass fetch_policy_class6(const unsigned char *);
static int	fetch_policy_is_localhost(const char *);
static int	fetch_policy_private4(const unsigned char *);

static enum fetch_policy_ipclass
fetch_policy_class4(const unsigned char *b)
{
	if (b[0] == 127)
		return FETCH_POLICY_IP_LOOPBACK;
	if (b[0] == 0)
		return FETCH_POLICY_IP_UNSPECIFIED; /* 0/8: the host */
	if (b[0] == 169 && b[1] == 254 && b[2] == 169 && b[3] == 254)
		return FETCH_POLICY_IP_METADATA; /* AWS, GCP, Azure */
	if (b[0] == 169 && b[1] == 254)
		return FETCH_POLICY_IP_LINKLOCAL;
	if (b[0] == 100 && b[1] == 100 && b[2] == 100 && b[3] == 200)
		return FETCH_POLICY_IP_METADATA;	/* Alibaba Cloud */
	return FETCH_POLICY_IP_OTHER;
}

static enum fetch_policy_ipclass
fetch_policy_class6(const unsigned char *b)
{
	static const unsigned char zero[16];
	static const unsigned char ec2[16] = { 0xfd, 0x00, 0x0e, 0xc2,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54 };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(b, zero, 15) == 0 && b[15] == 0)
		return FETCH_POLICY_IP_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return FETCH_POLICY_IP_LOOPBACK;
	/* ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible). */
	if (memcmp(b, zero, 10) == 0 &&
	    ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)))
		return fetch_policy_class4(b + 12);
	/* 64:ff9b::a.b.c.d: a NAT64 gateway would connect to a.b.c.d. */
	if (memcmp(b, nat64, 12) == 0)
		return fetch_policy_class4(b + 12);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return FETCH_POLICY_IP_LINKLOCAL;
	if (memcmp(b, ec2, 16) == 0)
		return FETCH_POLICY_IP_METADATA;	/* AWS IMDS over IPv6 */
	return FETCH_POLICY_IP_OTHER;
}

enum fetch_policy_ipclass
fetch_policy_ip_class(const char *ip)
{
	unsigned char	b[16];

	if (ip == NULL)
		return FETCH_POLICY_IP_INVALID;
	if (inet_pton(AF_INET, ip, b) == 1)
		return fetch_policy_class4(b);
	if (inet_pton(AF_INET6, ip, b) == 1)
		return fetch_policy_class6(b);
	return FETCH_POLICY_IP_INVALID;
}

const char *
fetch_policy_ip_class_name(enum fetch_policy_ipclass c)
{
	switch (c) {
	case FETCH_POLICY_IP_OTHER:
		return "ordinary";
	case FETCH_POLICY_IP_LOOPBACK:
		return "loopback";
	case FETCH_POLICY_IP_LINKLOCAL:
		return "link-local";
	case FETCH_POLICY_IP_UNSPECIFIED:
		return "unspecified";
	case FETCH_POLICY_IP_METADATA:
		return "cloud metadata";
	case FETCH_POLICY_IP_INVALID:
		break;
	}
	return "non-IP";
}

void
fetch_policy_unbracket(const char *s, size_t n, const char **out,
    size_t *outlen)
{
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	*out = s;
	*outlen = n;
}

int
fetch_policy_host_allowed(const char *allow, const char *host)
{
	const char	*h, *e, *p, *end;
	size_t		 hl, el;

	if (allow == NULL || host == NULL)
		return 0;
	fetch_policy_unbracket(host, strlen(host), &h, &hl);
	if (hl == 0)
		return 0;
	for (p = allow; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		el = (size_t)(end - p);
		while (el > 0 && isspace((unsigned char)p[el - 1]))
			el--;
		fetch_policy_unbracket(p, el, &e, &el);
		if (el == 1 && e[0] == '*')
			continue;	/* no wildcards, say so nowhere else */
		if (el == hl && str_ncaseeq(e, h, hl))
			return 1;
	}
	return 0;
}

/* "localhost" and "*.localhost" are loopback by definition (RFC 6761). */
static int
fetch_policy_is_localhost(const char *host)
{
	size_t	n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 9)
		return str_ncaseeq(host, "localhost", 9);
	return n > 10 && str_ncaseeq(host + n - 10, ".localhost", 10);
}

int
fetch_policy_addr_refused(const char *host, const char *ip,
    enum fetch_policy_ipclass *cls)
{
	*cls = fetch_policy_ip_class(ip);
	if (*cls == FETCH_POLICY_IP_OTHER)
		return 0;
	if (*cls == FETCH_POLICY_IP_INVALID)
		return 1;
	if (fetch_policy_ip_class(host) != FETCH_POLICY_IP_INVALID)
		return 0;	/* an IP literal the allowlist names */
	if (fetch_policy_is_localhost(host) &&
	    *cls == FETCH_POLICY_IP_LOOPBACK)
		return 0;
	return 1;
}

int
fetch_policy_addr_text(int family, const void *addr, size_t addrlen,
    char *ip, size_t iplen)
{
	struct sockaddr_storage	 ss;
	const void		*a = NULL;

	/* Copied out first: libcurl's buffer need not be aligned. */
	memset(&ss, 0, sizeof(ss));
	if (addrlen > sizeof(ss))
		return -1;
	memcpy(&ss, addr, addrlen);
	if (family == AF_INET && addrlen >= sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)(const void *)&ss)->sin_addr;
	else if (family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)(const void *)&ss)->
		    sin6_addr;
	if (a == NULL || inet_ntop(family, a, ip, (socklen_t)iplen) == NULL)
		return -1;
	return 0;
}

static int
fetch_policy_private4(const unsigned char *b)
{
	return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	    (b[0] == 192 && b[1] == 168) ||
	    (b[0] == 100 && (b[1] & 0xc0) == 64);
}

int
fetch_policy_ip_private(const char *ip)
{
	static const unsigned char zero[12];
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	unsigned char	b[16];

	if (ip == NULL)
		return 0;
	if (inet_pton(AF_INET, ip, b) == 1)
		return fetch_policy_private4(b);
	if (inet_pton(AF_INET6, ip, b) != 1)
		return 0;
	if ((memcmp(b, zero, 10) == 0 && ((b[10] == 0xff && b[11] == 0xff) ||
	    (b[10] == 0 && b[11] == 0))) || memcmp(b, nat64, 12) == 0)
		return fetch_policy_private4(b + 12);
	return (b[0] & 0xfe) == 0xfc ||
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0);
}

int
fetch_policy_target_refused(const char *allow, const char *host,
    const char *ip, const char **what)
{
	enum fetch_policy_ipclass	cls;

	if (fetch_policy_host_allowed(allow, host)) {
		*what = fetch_policy_ip_class_name(fetch_policy_ip_class(ip));
		return fetch_policy_addr_refused(host, ip, &cls);
	}
	cls = fetch_policy_ip_class(ip);
	*what = fetch_policy_ip_class_name(cls);
	if (cls != FETCH_POLICY_IP_OTHER)
		return 1;
	if (fetch_policy_ip_private(ip)) {
		*what = "private";
		return 1;
	}
	return 0;
}
