/*
 * form.c — strict x-www-form-urlencoded parsing; see form.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/form.h"
#include "lib/xmalloc.h"

static int	form_hex(unsigned char);
static int	form_decode(char *, size_t, size_t *);
static void	form_err(char *, size_t, const char *);

static void
form_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static int
form_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) in place and NUL-terminates it; -1 on a bad escape or
 * a decoded NUL. */
static int
form_decode(char *s, size_t n, size_t *outlen)
{
	size_t	i, o = 0;
	int	hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			s[o++] = ' ';
		else if (s[i] == '%') {
			if (n - i < 3 ||
			    (hi = form_hex((unsigned char)s[i + 1])) < 0 ||
			    (lo = form_hex((unsigned char)s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0))
				return -1;
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0')
			return -1;
		else
			s[o++] = s[i];
	}
	s[o] = '\0';
	*outlen = o;
	return 0;
}

int
form_parse(const char *body, size_t len, struct form *f, char *err,
    size_t errlen)
{
	struct form_pair	*p;
	char			*seg, *end, *amp, *eq;
	size_t			 i, j;
	int			 rc = -1;

	memset(f, 0, sizeof(*f));
	if (len > FORM_MAX_BODY) {
		form_err(err, errlen, "form body too large");
		goto out;
	}
	/* Segments are decoded in place; each is followed by a '&' (or the
	 * final NUL) that becomes its terminator, so names and values fit. */
	f->f_buf = xmalloc(len + 2);
	memcpy(f->f_buf, body, len);
	f->f_buf[len] = '\0';
	end = f->f_buf + len;
	for (seg = f->f_buf; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		if (amp == seg)
			continue;	/* empty segment */
		if (f->f_npairs == FORM_MAX_PAIRS) {
			form_err(err, errlen, "too many form parameters");
			goto out;
		}
		p = &f->f_pairs[f->f_npairs];
		*amp = '\0';
		if ((eq = memchr(seg, '=', (size_t)(amp - seg))) == NULL) {
			/* "name" alone: the value is the empty string at
			 * the terminator of the name. */
			if (form_decode(seg, (size_t)(amp - seg),
			    &p->fp_namelen) == -1)
				goto out_escape;
			p->fp_value = seg + p->fp_namelen;
			p->fp_valuelen = 0;
		} else {
			*eq = '\0';
			if (form_decode(seg, (size_t)(eq - seg),
			    &p->fp_namelen) == -1 ||
			    form_decode(eq + 1, (size_t)(amp - eq - 1),
			    &p->fp_valuelen) == -1)
				goto out_escape;
			p->fp_value = eq + 1;
		}
		p->fp_name = seg;
		f->f_npairs++;
	}
	for (i = 0; i < f->f_npairs; i++)
		for (j = i + 1; j < f->f_npairs; j++)
			if (strcmp(f->f_pairs[i].fp_name,
			    f->f_pairs[j].fp_name) == 0) {
				f->f_pairs[i].fp_repeated = 1;
				f->f_pairs[j].fp_repeated = 1;
				f->f_repeated = 1;
			}
	rc = 0;
	goto out;
 out_escape:
	form_err(err, errlen, "bad percent-escape in form body");
 out:
	if (rc == -1)
		form_free(f);
	return rc;
}

void
form_free(struct form *f)
{
	if (f == NULL)
		return;
	free(f->f_buf);
	memset(f, 0, sizeof(*f));
}

int
form_get(const struct form *f, const char *name, const char **value)
{
	size_t	i;

	*value = NULL;
	for (i = 0; i < f->f_npairs; i++)
		if (strcmp(f->f_pairs[i].fp_name, name) == 0) {
			*value = f->f_pairs[i].fp_value;
			return f->f_pairs[i].fp_repeated ? -1 : 1;
		}
	return 0;
}
