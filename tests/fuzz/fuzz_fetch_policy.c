/*
 * fuzz_fetch_policy.c — fuzz-sources: src/bulk/fetch_policy.c src/bulk/confine.c
 *
 * The fetcher's address policy (bulk/fetch_policy.h) and the lexical part
 * of the import-dir rule (bulk/confine.h).  Input: up to three strings
 * split at NUL bytes: an allowlist, a host, an address / path.
 * Invariants: no crash; an address's class is that of its canonical
 * form; ordinary addresses are never refused and non-addresses always
 * are; a plain host is allowed by a list naming it; a folded path is
 * absolute, has no "", "." or ".." segment and folds to itself; "under"
 * means longer; the delivery-target rule refuses, for a host not
 * listed, exactly the refused classes and the private addresses.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "bulk/confine.h"
#include "bulk/fetch_policy.h"

#define FZ_STR_MAX	1024

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fz_path(const char *p)
{
	char	a[PATH_MAX], b[PATH_MAX];
	size_t	n;

	if (p[0] != '/' || confine_normalize(p, a, sizeof(a)) == -1)
		return;
	assert(a[0] == '/');
	assert(strstr(a, "//") == NULL && strstr(a, "/./") == NULL &&
	    strstr(a, "/../") == NULL);
	n = strlen(a);
	assert(n == 1 || (a[n - 1] != '/' &&
	    strcmp(a + n - 2, "/.") != 0 &&
	    (n < 3 || strcmp(a + n - 3, "/..") != 0)));
	assert(confine_normalize(a, b, sizeof(b)) == 0 && strcmp(a, b) == 0);
	assert(!confine_under(a, a));
	if (confine_normalize(p + 1, b, sizeof(b)) == 0 &&
	    confine_under(b, a))
		assert(strlen(a) > strlen(b));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 s[3][FZ_STR_MAX + 1], canon[INET6_ADDRSTRLEN];
	unsigned char	 bin[16];
	enum fetch_policy_ipclass cls, cls2;
	const char	*h, *what = NULL;
	size_t		 i, k = 0, n = 0, hl;
	int		 r;

	memset(s, 0, sizeof(s));
	for (i = 0; i < size && k < 3; i++) {
		if (data[i] == '\0') {
			k++;
			n = 0;
		} else if (n < FZ_STR_MAX)
			s[k][n++] = (char)data[i];
	}

	cls = fetch_policy_ip_class(s[2]);
	assert(cls <= FETCH_POLICY_IP_INVALID);
	assert(fetch_policy_ip_class_name(cls) != NULL);
	if (inet_pton(AF_INET, s[2], bin) == 1)
		assert(inet_ntop(AF_INET, bin, canon, sizeof(canon)) != NULL);
	else if (inet_pton(AF_INET6, s[2], bin) == 1)
		assert(inet_ntop(AF_INET6, bin, canon, sizeof(canon)) != NULL);
	else
		canon[0] = '\0';
	if (canon[0] != '\0')
		assert(fetch_policy_ip_class(canon) == cls);
	else
		assert(cls == FETCH_POLICY_IP_INVALID);
	if (fetch_policy_addr_refused(s[1], s[2], &cls2))
		assert(cls2 != FETCH_POLICY_IP_OTHER);
	else
		assert(cls2 != FETCH_POLICY_IP_INVALID);
	assert(cls2 == cls);

	(void)fetch_policy_host_allowed(s[0], s[1]);
	/* Delivery targets: a host not in the list gets no refused class
	 * and no private address. */
	r = fetch_policy_target_refused(s[0], s[1], s[2], &what);
	assert(what != NULL);
	assert(canon[0] == '\0' || fetch_policy_ip_private(s[2]) ==
	    fetch_policy_ip_private(canon));
	if (!fetch_policy_host_allowed(s[0], s[1]))
		assert(r == (cls != FETCH_POLICY_IP_OTHER ||
		    fetch_policy_ip_private(s[2])));
	fetch_policy_unbracket(s[1], strlen(s[1]), &h, &hl);
	if (hl > 0 && memchr(h, ',', hl) == NULL &&
	    !isspace((unsigned char)h[0]) &&
	    !isspace((unsigned char)h[hl - 1]) &&
	    !(hl == 1 && h[0] == '*') &&
	    !(hl >= 2 && h[0] == '[' && h[hl - 1] == ']'))
		assert(fetch_policy_host_allowed(s[1], s[1]));
	assert(!fetch_policy_host_allowed("", s[1]));

	fz_path(s[2]);
	fz_path(s[0]);
	return 0;
}
