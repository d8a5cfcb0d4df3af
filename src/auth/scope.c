/*
 * scope.c — SMART system scopes: parse, grant, format, check; see scope.h.
 */
#include <stdio.h>
#include <string.h>

#include "auth/scope.h"
#include "store/fhir_types.h"

#define SCOPE_PREFIX	"system/"

static const char scope_letters[] = "cruds";	/* v2 order */
static const unsigned scope_bits[] = {
	SCOPE_C, SCOPE_R, SCOPE_U, SCOPE_D, SCOPE_S,
};

static void	 scope_err(char *, size_t, const char *, const char *,
		    size_t);
static int	 scope_parse_one(const char *, size_t, int,
		    struct scope_item *, char *, size_t);
static int	 scope_add(struct scope_set *, const char *, unsigned, int);
static size_t	 scope_action(const struct scope_item *, char *, size_t);
static unsigned	 scope_perms_for(const struct scope_set *, const char *);
static int	 scope_has_token(const char *, const char *, size_t);

/* "what: 'tok'" with the token cut to a readable length. */
static void
scope_err(char *err, size_t errlen, const char *what, const char *tok,
    size_t n)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: '%.*s'", what,
		    (int)(n > 64 ? 64 : n), tok);
}

static int
scope_parse_one(const char *tok, size_t n, int flags, struct scope_item *it,
    char *err, size_t errlen)
{
	const char	*type, *dot, *act, *q, *l;
	size_t		 tl, al, i, last = 0;

	memset(it, 0, sizeof(*it));
	if (n <= strlen(SCOPE_PREFIX) ||
	    strncmp(tok, SCOPE_PREFIX, strlen(SCOPE_PREFIX)) != 0) {
		scope_err(err, errlen, "only system/ scopes are supported",
		    tok, n);
		return -1;
	}
	type = tok + strlen(SCOPE_PREFIX);
	if ((dot = memchr(type, '.', n - (size_t)(type - tok))) == NULL) {
		scope_err(err, errlen, "scope has no action", tok, n);
		return -1;
	}
	tl = (size_t)(dot - type);
	if (tl == 0 || tl >= SCOPE_TYPE_MAX) {
		scope_err(err, errlen, "bad resource type", tok, n);
		return -1;
	}
	memcpy(it->si_type, type, tl);
	it->si_type[tl] = '\0';
	if (strcmp(it->si_type, "*") != 0 && !fhir_type_valid(it->si_type)) {
		scope_err(err, errlen, "unknown resource type", tok, n);
		return -1;
	}
	act = dot + 1;
	q = memchr(act, '?', n - (size_t)(act - tok));
	al = (size_t)((q != NULL ? q : tok + n) - act);
	if (al == 4 && memcmp(act, "read", 4) == 0)
		it->si_perms = SCOPE_READ;
	else if (al == 5 && memcmp(act, "write", 5) == 0)
		it->si_perms = SCOPE_WRITE;
	else if (al == 1 && act[0] == '*')
		it->si_perms = SCOPE_ALL;
	else {
		/* v2: letters of "cruds", strictly in that order. */
		it->si_v2 = 1;
		for (i = 0; i < al; i++) {
			l = memchr(scope_letters, act[i],
			    sizeof(scope_letters) - 1);
			if (l == NULL || (size_t)(l - scope_letters) + 1 <=
			    last) {
				scope_err(err, errlen, "unknown action", tok,
				    n);
				return -1;
			}
			last = (size_t)(l - scope_letters) + 1;
			it->si_perms |= scope_bits[l - scope_letters];
		}
		if (it->si_perms == 0) {
			scope_err(err, errlen, "empty action", tok, n);
			return -1;
		}
	}
	if (q != NULL && (!it->si_v2 || !(flags & SCOPE_PARSE_CONSTRAINED) ||
	    q + 1 == tok + n)) {
		scope_err(err, errlen, "scope constraint not accepted", tok,
		    n);
		return -1;
	}
	return 0;
}

int
scope_parse(const char *s, int flags, struct scope_set *set, char *err,
    size_t errlen)
{
	const char	*p, *tok;

	memset(set, 0, sizeof(*set));
	if (strnlen(s, SCOPE_MAX_LEN + 1) > SCOPE_MAX_LEN) {
		scope_err(err, errlen, "scope too long", s, 0);
		return -1;
	}
	/* RFC 6749 §3.3 scope-token characters, space-separated. */
	for (p = s; *p != '\0'; p++)
		if (*p != ' ' && (*p < 0x21 || *p > 0x7e || *p == '"' ||
		    *p == '\\')) {
			scope_err(err, errlen, "bad character in scope", s, 0);
			return -1;
		}
	for (p = s; *p != '\0';) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (set->ss_n == SCOPE_MAX_ITEMS) {
			scope_err(err, errlen, "too many scopes", s, 0);
			return -1;
		}
		if (scope_parse_one(tok, (size_t)(p - tok), flags,
		    &set->ss_items[set->ss_n], err, errlen) == -1)
			return -1;
		set->ss_n++;
	}
	if (set->ss_n == 0) {
		scope_err(err, errlen, "empty scope", s, 0);
		return -1;
	}
	return 0;
}

/* Adds (type, perms, form) to set, merging into an item of the same type
 * and form; -1 when the set is full. */
static int
scope_add(struct scope_set *set, const char *type, unsigned perms, int v2)
{
	struct scope_item	*it;
	size_t			 i;

	for (i = 0; i < set->ss_n; i++) {
		it = &set->ss_items[i];
		if (it->si_v2 == v2 && strcmp(it->si_type, type) == 0) {
			it->si_perms |= perms;
			return 0;
		}
	}
	if (set->ss_n == SCOPE_MAX_ITEMS)
		return -1;
	it = &set->ss_items[set->ss_n++];
	memset(it, 0, sizeof(*it));
	memcpy(it->si_type, type, strlen(type) + 1);
	it->si_perms = perms;
	it->si_v2 = v2;
	return 0;
}

/* The permissions set gives resources of type ("*": only what a "*"
 * item gives, since it must hold for every type). */
static unsigned
scope_perms_for(const struct scope_set *set, const char *type)
{
	unsigned	p = 0;
	size_t		i;

	for (i = 0; i < set->ss_n; i++)
		if (strcmp(set->ss_items[i].si_type, "*") == 0 ||
		    strcmp(set->ss_items[i].si_type, type) == 0)
			p |= set->ss_items[i].si_perms;
	return p;
}

int
scope_grant(const struct scope_set *req, const struct scope_set *reg,
    struct scope_set *granted, char *err, size_t errlen)
{
	const struct scope_item	*q, *r;
	unsigned		 g, extra;
	size_t			 i, j;

	memset(granted, 0, sizeof(*granted));
	for (i = 0; i < req->ss_n; i++) {
		q = &req->ss_items[i];
		g = q->si_perms & scope_perms_for(reg, q->si_type);
		if (g != 0 && scope_add(granted, q->si_type, g, q->si_v2) ==
		    -1)
			goto out_full;
		if (strcmp(q->si_type, "*") != 0)
			continue;
		/* "*" asked, types registered one by one: grant those. */
		for (j = 0; j < reg->ss_n; j++) {
			r = &reg->ss_items[j];
			if (strcmp(r->si_type, "*") == 0)
				continue;
			extra = q->si_perms & r->si_perms & ~g;
			if (extra != 0 && scope_add(granted, r->si_type, extra,
			    q->si_v2) == -1)
				goto out_full;
		}
	}
	if (granted->ss_n == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "requested scope is not "
			    "within the client's registered scope");
		return -1;
	}
	return 0;
 out_full:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "too many granted scopes");
	memset(granted, 0, sizeof(*granted));
	return -1;
}

/* The action text of it: v1 words when asked so and expressible, else
 * the v2 letters. */
static size_t
scope_action(const struct scope_item *it, char *dst, size_t dstsz)
{
	size_t	i, n = 0;

	if (!it->si_v2 && it->si_perms == SCOPE_READ)
		return (size_t)snprintf(dst, dstsz, "read");
	if (!it->si_v2 && it->si_perms == SCOPE_WRITE)
		return (size_t)snprintf(dst, dstsz, "write");
	if (!it->si_v2 && it->si_perms == SCOPE_ALL)
		return (size_t)snprintf(dst, dstsz, "*");
	for (i = 0; i < sizeof(scope_bits) / sizeof(*scope_bits); i++)
		if ((it->si_perms & scope_bits[i]) && n + 1 < dstsz)
			dst[n++] = scope_letters[i];
	dst[n] = '\0';
	return n;
}

/* 1 if the space-separated list s holds the whole token tok[0..n). */
static int
scope_has_token(const char *s, const char *tok, size_t n)
{
	const char	*h;

	for (h = s; (h = strstr(h, tok)) != NULL; h += n)
		if ((h == s || h[-1] == ' ') && (h[n] == '\0' || h[n] == ' '))
			return 1;
	return 0;
}

int
scope_format(const struct scope_set *set, char *dst, size_t dstsz)
{
	char	act[8], one[SCOPE_TYPE_MAX + 32];
	size_t	i, len = 0, ol;
	int	n;

	if (dstsz == 0)
		return -1;
	dst[0] = '\0';
	for (i = 0; i < set->ss_n; i++) {
		scope_action(&set->ss_items[i], act, sizeof(act));
		n = snprintf(one, sizeof(one), SCOPE_PREFIX "%s.%s",
		    set->ss_items[i].si_type, act);
		if (n < 0 || (size_t)n >= sizeof(one))
			return -1;
		ol = (size_t)n;
		if (scope_has_token(dst, one, ol))
			continue;
		if (len + (len > 0) + ol + 1 > dstsz)
			return -1;
		if (len > 0)
			dst[len++] = ' ';
		memcpy(dst + len, one, ol + 1);
		len += ol;
	}
	return 0;
}

int
scope_can_read(const struct scope_set *set, const char *type)
{
	if (type == NULL || !fhir_type_valid(type))
		return 0;
	return (scope_perms_for(set, type) & SCOPE_READ) == SCOPE_READ;
}

int
scope_can_write(const struct scope_set *set, const char *type)
{
	if (type == NULL || !fhir_type_valid(type))
		return 0;
	return (scope_perms_for(set, type) & (SCOPE_C | SCOPE_U)) ==
	    (SCOPE_C | SCOPE_U);
}

size_t
scope_readable_types(const struct scope_set *set,
    const char *const *candidates, size_t n, const char **out, size_t max)
{
	size_t	i, k = 0;

	for (i = 0; i < n && k < max; i++)
		if (scope_can_read(set, candidates[i]))
			out[k++] = candidates[i];
	return k;
}
