/*
 * form.h — application/x-www-form-urlencoded bodies (the OAuth token
 * request, RFC 6749 §4.4.2 / AUTH-T-03).
 *
 * form_parse decodes the whole body into one buffer (one allocation of
 * len + 1, decoding in place never grows) and a fixed array of pairs:
 * '+' is a space, %XX is a byte, and a '%' not followed by two hex digits,
 * a decoded NUL, more than FORM_MAX_PAIRS pairs or a body over
 * FORM_MAX_BODY is refused.  Empty segments ("a=1&&b=2") are skipped; a
 * name without '=' has the empty value.  Repeated names are kept and
 * reported: form_get says -1 for them, so a caller can answer
 * invalid_request for a repeated OAuth parameter.
 * Errors: 0 / -1 with a reason in err[errlen].
 */
#ifndef LIB_FORM_H
#define LIB_FORM_H

#include <stddef.h>

#define FORM_MAX_BODY	(64 * 1024)
#define FORM_MAX_PAIRS	32

struct form_pair {
	const char	*fp_name;	/* NUL-terminated, into f_buf */
	const char	*fp_value;	/* NUL-terminated, into f_buf */
	size_t		 fp_namelen;
	size_t		 fp_valuelen;
	int		 fp_repeated;	/* name occurs more than once */
};

struct form {
	char		*f_buf;		/* owned: decoded names and values */
	struct form_pair f_pairs[FORM_MAX_PAIRS];
	size_t		 f_npairs;
	int		 f_repeated;	/* any name occurs more than once */
};

int	 form_parse(const char *body, size_t len, struct form *,
	    char *err, size_t errlen);
/* Frees f_buf; a no-op on a zeroed form. */
void	 form_free(struct form *);
/* 1 and *value (borrowed) if name occurs once, 0 if absent, -1 if
 * repeated (*value is then the first). */
int	 form_get(const struct form *, const char *name, const char **value);

#endif
