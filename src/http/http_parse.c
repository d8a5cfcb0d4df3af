/*
 * http_parse.c — header, query and path parsers for the router.
 *
 * DESIGN: every parser walks its input with a cursor bounded by an end
 * pointer and gives up on the first unexpected byte of an element; list
 * headers skip malformed elements instead of failing the request, because
 * over-strict header checks break generic bulk clients (SPEC PP-12).
 * Grammar follows RFC 9110 §5.6 (token, quoted-string, OWS, parameters)
 * and §12.4.2 (qvalue, lib/httptext.c, shared with bulk/transcode.c);
 * the file depends on src/lib only, so it fuzzes alone.
 */
#include <string.h>

#include "http/http_parse.h"
#include "lib/httptext.h"
#include "lib/str.h"

/* A parsed media range, type or content coding; pointers borrow. */
struct http_parse_elem {
	const char	*pe_type;	/* type, or the coding name */
	size_t		 pe_tlen;
	const char	*pe_sub;	/* subtype; NULL for a bare token */
	size_t		 pe_slen;
	int		 pe_q;		/* 0..1000, 1000 when absent */
};

/* Walks a comma-separated list, quoted strings respected. */
struct http_parse_list {
	const char	*pl_p;		/* next unread byte */
	const char	*pl_end;	/* end of input */
};

static int	 http_parse_is_ows(char);
static int	 http_parse_is_tchar(char);
static const char *http_parse_skip_ows(const char *, const char *);
static const char *http_parse_token(const char *, const char *);
static const char *http_parse_quoted(const char *, const char *);
static int	 http_parse_next(struct http_parse_list *, const char **,
		    const char **);
static int	 http_parse_params(const char *, const char *, int *);
static int	 http_parse_elem(const char *, const char *, int,
		    struct http_parse_elem *);
static int	 http_parse_ieq(const char *, size_t, const char *);
static int	 http_parse_is_json_type(const struct http_parse_elem *);

static int
http_parse_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
http_parse_is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *
http_parse_skip_ows(const char *p, const char *end)
{
	while (p < end && http_parse_is_ows(*p))
		p++;
	return p;
}

/* Returns the end of the token starting at p (p itself if none). */
static const char *
http_parse_token(const char *p, const char *end)
{
	while (p < end && http_parse_is_tchar(*p))
		p++;
	return p;
}

/* p is at '"'; returns the byte after the closing quote, or NULL. */
static const char *
http_parse_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Case-insensitive compare of [s, s+len) with the whole of lit. */
static int
http_parse_ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && str_ncaseeq(s, lit, len);
}

/*
 * Yields the next non-empty element of a list as [*s, *e), OWS trimmed.
 * Returns 1 while there is one, 0 at the end.  An unterminated quoted
 * string ends the list (the rest is one malformed element).
 */
static int
http_parse_next(struct http_parse_list *l, const char **s, const char **e)
{
	const char	*p, *q;

	for (;;) {
		p = http_parse_skip_ows(l->pl_p, l->pl_end);
		if (p == l->pl_end)
			return 0;
		for (q = p; q < l->pl_end && *q != ','; ) {
			if (*q == '"') {
				if ((q = http_parse_quoted(q, l->pl_end)) ==
				    NULL)
					q = l->pl_end;
			} else
				q++;
		}
		l->pl_p = q < l->pl_end ? q + 1 : q;
		while (q > p && http_parse_is_ows(q[-1]))
			q--;
		if (q > p) {
			*s = p;
			*e = q;
			return 1;
		}
	}
}

/*
 * Parses *( OWS ";" OWS name "=" value ) up to end, storing a "q"
 * parameter's value in *q.  A trailing ";" is tolerated.  Returns 0, or
 * -1 on malformed input.
 */
static int
http_parse_params(const char *p, const char *end, int *q)
{
	const char	*name, *nend, *val, *vend;

	for (;;) {
		p = http_parse_skip_ows(p, end);
		if (p == end)
			return 0;
		if (*p++ != ';')
			return -1;
		p = http_parse_skip_ows(p, end);
		if (p == end)
			return 0;
		name = p;
		if ((nend = http_parse_token(p, end)) == name)
			return -1;
		p = http_parse_skip_ows(nend, end);
		if (p == end || *p++ != '=')
			return -1;
		p = http_parse_skip_ows(p, end);
		val = p;
		if (p < end && *p == '"') {
			if ((vend = http_parse_quoted(p, end)) == NULL)
				return -1;
		} else if ((vend = http_parse_token(p, end)) == val)
			return -1;
		p = vend;
		if (http_parse_ieq(name, (size_t)(nend - name), "q") &&
		    httptext_qvalue(val, (size_t)(vend - val), q) == -1)
			return -1;
	}
}

/*
 * Parses one element: "type/subtype *(;param)" when with_sub, else
 * "token *(;param)".  Returns 0 or -1.
 */
static int
http_parse_elem(const char *p, const char *end, int with_sub,
    struct http_parse_elem *el)
{
	const char	*t;

	memset(el, 0, sizeof(*el));
	el->pe_q = 1000;
	p = http_parse_skip_ows(p, end);
	if ((t = http_parse_token(p, end)) == p)
		return -1;
	el->pe_type = p;
	el->pe_tlen = (size_t)(t - p);
	p = t;
	if (with_sub) {
		if (p == end || *p++ != '/')
			return -1;
		if ((t = http_parse_token(p, end)) == p)
			return -1;
		el->pe_sub = p;
		el->pe_slen = (size_t)(t - p);
		p = t;
		/* "x/json" is no media range. */
		if (el->pe_tlen == 1 && el->pe_type[0] == '*' &&
		    !(el->pe_slen == 1 && el->pe_sub[0] == '*'))
			return -1;
	}
	return http_parse_params(p, end, &el->pe_q);
}

int
http_parse_accept(const char *accept, const char *const *offers,
    size_t noffers)
{
	struct http_parse_list	 l;
	struct http_parse_elem	 el;
	const char		*s, *e, *slash;
	size_t			 i, otlen;
	int			 best = -1, bestq = 0, q, spec, qspec;
	int			 parsed = 0;

	if (noffers == 0)
		return -1;
	if (accept == NULL)
		return 0;
	for (i = 0; i < noffers; i++) {
		if ((slash = strchr(offers[i], '/')) == NULL)
			continue;
		otlen = (size_t)(slash - offers[i]);
		q = 0;
		qspec = 0;
		l.pl_p = accept;
		l.pl_end = accept + strlen(accept);
		while (http_parse_next(&l, &s, &e)) {
			if (http_parse_elem(s, e, 1, &el) == -1)
				continue;
			parsed = 1;
			if (http_parse_ieq(el.pe_type, el.pe_tlen, "*"))
				spec = 1;
			else if (el.pe_tlen == otlen &&
			    str_ncaseeq(el.pe_type, offers[i], otlen)) {
				if (http_parse_ieq(el.pe_sub, el.pe_slen, "*"))
					spec = 2;
				else if (http_parse_ieq(el.pe_sub, el.pe_slen,
				    slash + 1))
					spec = 3;
				else
					continue;
			} else
				continue;
			if (spec > qspec || (spec == qspec && el.pe_q > q)) {
				qspec = spec;
				q = el.pe_q;
			}
		}
		if (q > bestq) {
			bestq = q;
			best = (int)i;
		}
	}
	if (!parsed)
		return 0;
	return best;
}

int
http_parse_accept_encoding(const char *accept_encoding, const char *coding)
{
	struct http_parse_list	 l;
	struct http_parse_elem	 el;
	const char		*s, *e;
	int			 explicit_q = -1, star_q = -1;

	if (accept_encoding != NULL) {
		l.pl_p = accept_encoding;
		l.pl_end = accept_encoding + strlen(accept_encoding);
		while (http_parse_next(&l, &s, &e)) {
			if (http_parse_elem(s, e, 0, &el) == -1)
				continue;
			if (http_parse_ieq(el.pe_type, el.pe_tlen, coding)) {
				if (el.pe_q > explicit_q)
					explicit_q = el.pe_q;
			} else if (http_parse_ieq(el.pe_type, el.pe_tlen,
			    "*")) {
				if (el.pe_q > star_q)
					star_q = el.pe_q;
			}
		}
	}
	if (explicit_q >= 0)
		return explicit_q;
	if (star_q >= 0)
		return star_q;
	return strcmp(coding, "identity") == 0 ? 1000 : 0;
}

/* application/json, application/<x>+json, application/json+fhir. */
static int
http_parse_is_json_type(const struct http_parse_elem *el)
{
	if (!http_parse_ieq(el->pe_type, el->pe_tlen, "application"))
		return 0;
	if (http_parse_ieq(el->pe_sub, el->pe_slen, "json") ||
	    http_parse_ieq(el->pe_sub, el->pe_slen, "json+fhir"))
		return 1;
	return el->pe_slen > 5 && str_ncaseeq(el->pe_sub + el->pe_slen - 5,
	    "+json", 5);
}

int
http_parse_content_type_json(const char *content_type)
{
	struct http_parse_elem	el;

	if (content_type == NULL)
		return 0;
	if (http_parse_elem(content_type, content_type + strlen(content_type),
	    1, &el) == -1)
		return 0;
	return http_parse_is_json_type(&el);
}

int
http_parse_format_json(const char *format)
{
	struct http_parse_elem	 el;
	char			 v[128];
	const char		*s, *e;
	size_t			 i, len;

	if (format == NULL)
		return 0;
	len = strlen(format);
	if (len >= sizeof(v))
		return 0;
	for (i = 0; i < len; i++)
		v[i] = format[i] == ' ' ? '+' : format[i];
	v[len] = '\0';
	/* Leading and trailing '+' came from spaces: trim them. */
	for (s = v; *s == '+'; s++)
		;
	for (e = v + len; e > s && e[-1] == '+'; e--)
		;
	if (http_parse_ieq(s, (size_t)(e - s), "json"))
		return 1;
	if (http_parse_elem(s, e, 1, &el) == -1)
		return 0;
	return http_parse_is_json_type(&el);
}

void
http_parse_prefer(const char *prefer, struct http_prefer *out)
{
	struct http_parse_list	 l;
	const char		*s, *e, *p, *t, *val;
	size_t			 nlen, vlen;

	memset(out, 0, sizeof(*out));
	if (prefer == NULL)
		return;
	l.pl_p = prefer;
	l.pl_end = prefer + strlen(prefer);
	while (http_parse_next(&l, &s, &e)) {
		if ((t = http_parse_token(s, e)) == s)
			continue;
		nlen = (size_t)(t - s);
		val = NULL;
		vlen = 0;
		p = http_parse_skip_ows(t, e);
		if (p < e && *p == '=') {
			p = http_parse_skip_ows(p + 1, e);
			if (p < e && *p == '"') {
				if ((t = http_parse_quoted(p, e)) == NULL)
					continue;
				val = p + 1;
				vlen = (size_t)(t - p - 2);
			} else {
				t = http_parse_token(p, e);
				val = p;
				vlen = (size_t)(t - p);
			}
		}
		if (http_parse_ieq(s, nlen, "respond-async"))
			out->hp_respond_async = 1;
		else if (http_parse_ieq(s, nlen, "separate-export-status"))
			out->hp_separate_status = 1;
		else if (http_parse_ieq(s, nlen, "handling") && val != NULL) {
			if (http_parse_ieq(val, vlen, "lenient"))
				out->hp_handling = HTTP_PREFER_HANDLING_LENIENT;
			else if (http_parse_ieq(val, vlen, "strict"))
				out->hp_handling = HTTP_PREFER_HANDLING_STRICT;
		}
	}
}

int
http_parse_path(const char *raw, struct http_path *out)
{
	const char	*p, *seg;
	size_t		 o = 0, slen;
	unsigned char	 c;

	out->hp_nseg = 0;
	if (raw == NULL || raw[0] != '/')
		return -1;
	p = raw + 1;
	for (;;) {
		if (out->hp_nseg == HTTP_PARSE_MAX_SEGS)
			return -1;
		seg = out->hp_buf + o;
		out->hp_seg[out->hp_nseg++] = seg;
		while (*p != '\0' && *p != '/' && *p != '?' && *p != '#') {
			c = (unsigned char)*p;
			if (c == '%') {
				if (httptext_pct_byte(p, strnlen(p, 3),
				    &c) == -1)
					return -1;
				p += 3;
				if (c == '/')
					return -1;
			} else
				p++;
			/* Control bytes have no place in a path: no NUL
			 * smuggling, no log injection through a param. */
			if (c < 0x20 || c == 0x7f)
				return -1;
			if (o + 1 >= sizeof(out->hp_buf))
				return -1;
			out->hp_buf[o++] = (char)c;
		}
		out->hp_buf[o++] = '\0';
		slen = strlen(seg);
		if ((slen == 1 && seg[0] == '.') ||
		    (slen == 2 && seg[0] == '.' && seg[1] == '.'))
			return -1;
		if (*p != '/')
			return 0;
		p++;
		if (o >= sizeof(out->hp_buf))
			return -1;
	}
}

int
http_parse_match(const char *pattern, const struct http_path *path,
    const char **params, size_t maxparams, size_t *nparams)
{
	const char	*p, *q, *seg;
	size_t		 i = 0, np = 0, len;

	if (pattern[0] != '/')
		return 0;
	p = pattern + 1;
	for (;;) {
		if ((q = strchr(p, '/')) == NULL)
			q = p + strlen(p);
		len = (size_t)(q - p);
		if (i >= path->hp_nseg)
			return 0;
		seg = path->hp_seg[i];
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (seg[0] == '\0')
				return 0;
			if (np < maxparams)
				params[np] = seg;
			np++;
		} else if (strlen(seg) != len || memcmp(seg, p, len) != 0)
			return 0;
		i++;
		if (*q == '\0')
			break;
		p = q + 1;
	}
	if (i != path->hp_nseg)
		return 0;
	if (nparams != NULL)
		*nparams = np;
	return 1;
}

int
http_parse_param_index(const char *pattern, const char *name)
{
	const char	*p = pattern, *q;
	size_t		 len, nlen = strlen(name);
	int		 idx = 0;

	while (*p != '\0') {
		if (*p == '/')
			p++;
		if ((q = strchr(p, '/')) == NULL)
			q = p + strlen(p);
		len = (size_t)(q - p);
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (len - 2 == nlen && memcmp(p + 1, name, nlen) == 0)
				return idx;
			idx++;
		}
		p = q;
	}
	return -1;
}
