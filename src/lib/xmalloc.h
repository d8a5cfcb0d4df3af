/*
 * xmalloc.h — allocation wrappers that never return NULL.
 *
 * Small control structures come from here; an allocation failure is fatal
 * (the supervisor restarts the process), as in tmux and Redis.  Input-sized
 * allocations use bounded APIs (buf_reserve) that fail with an error instead.
 */
#ifndef LIB_XMALLOC_H
#define LIB_XMALLOC_H

#include <stddef.h>
#include <stdarg.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);	/* old pointer invalid after */
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Allocating printf; caller frees with free(). */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

#endif
