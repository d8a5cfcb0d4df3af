/*
 * confine.c — keeps file:// import paths inside the import directory:
 * a lexical check first, then realpath(3) (see confine.h for the rule).
 *
 * realpath is not the last word: the fetcher opens the resolved path
 * with O_NOFOLLOW, so a symlink swapped in after the check is refused.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/confine.h"
#include "lib/str.h"

static int	confine_ancestor(const char *, char *);

int
confine_normalize(const char *path, char *out, size_t outlen)
{
	const char	*p = path, *seg;
	size_t		 len = 0, sl;

	if (outlen < 2)
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		sl = (size_t)(p - seg);
		if (sl == 0 || (sl == 1 && seg[0] == '.'))
			continue;
		if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;		/* the '/' before it */
			continue;
		}
		if (len + 1 + sl + 1 > outlen)
			return -1;
		out[len++] = '/';
		memcpy(out + len, seg, sl);
		len += sl;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

int
confine_under(const char *root, const char *p)
{
	size_t	rl = strlen(root);

	if (rl == 1 && root[0] == '/')
		return p[0] == '/' && p[1] != '\0';
	return strncmp(p, root, rl) == 0 && p[rl] == '/' && p[rl + 1] != '\0';
}

/*
 * Resolves the deepest ancestor of path that resolves into real
 * (PATH_MAX).  Returns 0, or -1 if none does.
 */
static int
confine_ancestor(const char *path, char *real)
{
	char	up[PATH_MAX], *slash;

	if (str_lcpy(up, path, sizeof(up)) >= sizeof(up))
		return -1;
	while ((slash = strrchr(up, '/')) != NULL) {
		if (slash == up) {
			up[1] = '\0';
			return realpath(up, real) != NULL ? 0 : -1;
		}
		*slash = '\0';
		if (realpath(up, real) != NULL)
			return 0;
	}
	return -1;
}

int
confine_path(const char *root, const char *path, int flags, char *out,
    size_t outlen, char *errbuf, size_t errlen)
{
	char		 rootreal[PATH_MAX], rootlex[PATH_MAX], lex[PATH_MAX];
	char		 real[PATH_MAX];
	const char	*res = real;
	int		 missing = (flags & CONFINE_MAY_BE_MISSING) != 0;
	int		 rooted = 1, err;

	if (path == NULL || path[0] != '/') {
		snprintf(errbuf, errlen, "file path must be absolute");
		return -1;
	}
	if (root == NULL || realpath(root, rootreal) == NULL) {
		if (!missing || root == NULL || root[0] != '/') {
			snprintf(errbuf, errlen, "import_dir %s: %s",
			    root != NULL ? root : "(none)", strerror(errno));
			return -1;
		}
		rooted = 0;
	}
	if (confine_normalize(path, lex, sizeof(lex)) == -1) {
		snprintf(errbuf, errlen, "file path too long");
		return -1;
	}
	/* Refuse what is outside lexically before asking the file system,
	 * so that callers cannot learn which files exist elsewhere. */
	if (!(rooted && confine_under(rootreal, lex)) && (root[0] != '/' ||
	    confine_normalize(root, rootlex, sizeof(rootlex)) == -1 ||
	    !confine_under(rootlex, lex)))
		goto outside;
	if (!rooted) {
		res = lex;
		goto copy;
	}
	if (realpath(path, real) == NULL) {
		/* Judge where it leads before saying why it does not
		 * resolve: "No such file" below a symlink out would tell
		 * what exists elsewhere. */
		err = errno;
		if (confine_ancestor(path, real) == -1 ||
		    (strcmp(real, rootreal) != 0 &&
		    !confine_under(rootreal, real)))
			goto outside;
		if (!missing) {
			snprintf(errbuf, errlen, "%.300s: %s", path,
			    strerror(err));
			return -1;
		}
		res = lex;
		goto copy;
	}
	if (!confine_under(rootreal, real))
		goto outside;
 copy:
	if (out != NULL && str_lcpy(out, res, outlen) >= outlen) {
		snprintf(errbuf, errlen, "file path too long");
		return -1;
	}
	return 0;

 outside:
	snprintf(errbuf, errlen, "%.300s: outside import_dir", path);
	return -1;
}
