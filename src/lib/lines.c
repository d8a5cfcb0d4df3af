/*
 * lines.c — bounded line reader.
 *
 * The buffer starts at 1 MB and grows (doubling) only while a single line
 * does not fit, never beyond the cap plus one read's worth, so memory is
 * bounded by the longest accepted line, not by the input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "xmalloc.h"

#define LINES_CHUNK	(1 << 20)

void
lines_init(struct lines *l, lines_read_fn fn, void *arg, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	l->l_read = fn;
	l->l_arg = arg;
	l->l_max = max_line;
	l->l_cap = LINES_CHUNK;
	l->l_buf = xmalloc(l->l_cap);
}

ssize_t
lines_read_fd(void *arg, void *buf, size_t len)
{
	ssize_t	n;

	do
		n = read(*(int *)arg, buf, len);
	while (n == -1 && errno == EINTR);
	return n;
}

void
lines_free(struct lines *l)
{
	free(l->l_buf);
	l->l_buf = NULL;
}

/* Moves unconsumed bytes to the front and reads more; 0, or -1 error. */
static int
lines_fill(struct lines *l)
{
	ssize_t	n;

	if (l->l_start > 0) {
		memmove(l->l_buf, l->l_buf + l->l_start, l->l_end - l->l_start);
		l->l_end -= l->l_start;
		l->l_consumed += (int64_t)l->l_start;
		l->l_start = 0;
	}
	if (l->l_end == l->l_cap) {
		size_t cap = l->l_cap * 2;

		if (cap > l->l_max + LINES_CHUNK)
			cap = l->l_max + LINES_CHUNK;
		if (cap > l->l_cap) {
			l->l_buf = xreallocarray(l->l_buf, cap, 1);
			l->l_cap = cap;
		}
	}
	n = l->l_read(l->l_arg, l->l_buf + l->l_end, l->l_cap - l->l_end);
	if (n < 0)
		return -1;
	if (n == 0)
		l->l_eof = 1;
	l->l_end += (size_t)n;
	return 0;
}

/* Discards bytes through the next newline (or EOF). */
static int
lines_skip(struct lines *l)
{
	char	*nl;

	for (;;) {
		nl = memchr(l->l_buf + l->l_start, '\n', l->l_end - l->l_start);
		if (nl != NULL) {
			l->l_start = (size_t)(nl - l->l_buf) + 1;
			return 0;
		}
		l->l_start = l->l_end;
		if (l->l_eof)
			return 0;
		if (lines_fill(l) == -1)
			return -1;
	}
}

enum lines_status
lines_next(struct lines *l, const char **line, size_t *len)
{
	char	*nl;
	size_t	 scanned = 0, n;

	for (;;) {
		nl = memchr(l->l_buf + l->l_start + scanned, '\n',
		    l->l_end - l->l_start - scanned);
		if (nl != NULL || (l->l_eof && l->l_end > l->l_start))
			break;
		if (l->l_eof)
			return LINES_EOF;
		scanned = l->l_end - l->l_start;
		if (scanned > l->l_max) {
			l->l_lineno++;
			l->l_offset = l->l_consumed + (int64_t)l->l_start;
			if (lines_skip(l) == -1)
				return LINES_ERROR;
			return LINES_TOOLONG;
		}
		if (lines_fill(l) == -1)
			return LINES_ERROR;
	}
	l->l_lineno++;
	l->l_offset = l->l_consumed + (int64_t)l->l_start;
	*line = l->l_buf + l->l_start;
	if (nl != NULL) {
		n = (size_t)(nl - *line);
		l->l_start += n + 1;
	} else {
		n = l->l_end - l->l_start;
		l->l_start = l->l_end;
	}
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	if (n > l->l_max)
		return LINES_TOOLONG;
	*len = n;
	return LINES_OK;
}
