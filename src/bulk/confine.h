/*
 * confine.h — the one rule that keeps file:// import paths inside the
 * import directory (SPEC IMP-R-04.1).  Both the $import kick-off
 * (api/import_api.c) and the fetcher (bulk/fetch.c) call it, so a path
 * is refused the same way, with the same reason, on both.
 *
 * The rule, for an absolute path and the root (cfg import_dir):
 *   1. lexically, after folding "//", "." and ".." (".." at "/" stays
 *      there), the path lies strictly below the root as configured or
 *      below realpath(root).  This is decided before the file system is
 *      asked about the path, so nothing is learnt about files elsewhere;
 *   2. realpath(path) (every symlink and ".." resolved by the kernel)
 *      lies strictly below realpath(root).
 * The root itself is not inside.  A path that does not resolve is
 * judged by its deepest ancestor that does: that must be the root or lie
 * below realpath(root), so a symlink out of the root is refused even if
 * the file it leads to is missing (and its absence is not told).  Every
 * refusal by the rule reads "<path>: outside import_dir".
 *
 * With CONFINE_MAY_BE_MISSING (the kick-off, which must not fail an
 * input that the worker will report) a path that passes the rule but
 * does not resolve is accepted: its own error (ENOENT, ENOTDIR, ...) is
 * left to the fetch.  A root that does not resolve is then judged
 * lexically only.
 *
 * Errors: -1 with a one-line reason in a caller-supplied errbuf.
 * Threads: any; touches no global state.
 */
#ifndef BULK_CONFINE_H
#define BULK_CONFINE_H

#include <stddef.h>

#define CONFINE_MAY_BE_MISSING	0x1	/* see above */

/*
 * Applies the rule.  On success returns 0 and, if out is not NULL,
 * writes the resolved path to out (outlen >= PATH_MAX is enough; with
 * CONFINE_MAY_BE_MISSING and a path that does not resolve, the lexically
 * folded one).  Else returns -1 with the reason in errbuf.  Does not
 * check the file type.
 */
int	confine_path(const char *root, const char *path, int flags,
	    char *out, size_t outlen, char *errbuf, size_t errlen);

/*
 * Lexically folds an absolute path ("//", ".", ".."; ".." at the root
 * stays there) into out.  Returns 0, or -1 if it does not fit.  Exported
 * for the fuzz target.
 */
int	confine_normalize(const char *path, char *out, size_t outlen);

/* 1 if p lies strictly below root (both folded, absolute), else 0. */
int	confine_under(const char *root, const char *p);

#endif
