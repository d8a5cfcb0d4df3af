/*
 * lines.h — read NDJSON-style lines from a file descriptor or from pushed
 * bytes, with a hard cap on line length.
 *
 * A line longer than the cap is reported as LINES_TOOLONG and skipped up
 * to its newline without ever being held in memory whole.  Line numbers
 * are 1-based; offsets are the byte offset of the line's first byte.
 * A trailing "\r" is removed; a last line without "\n" is still a line.
 */
#ifndef LIB_LINES_H
#define LIB_LINES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum lines_status {
	LINES_OK,		/* *line and *len hold one line */
	LINES_TOOLONG,		/* a line over the cap was skipped */
	LINES_EOF,		/* no more lines */
	LINES_ERROR,		/* read error; errno set */
};

/* Reads more bytes into buf (at most len); returns bytes, 0 at end,
 * -1 on error.  Lets the reader sit on a fd, a decompressor or a socket. */
typedef ssize_t (*lines_read_fn)(void *arg, void *buf, size_t len);

struct lines {
	lines_read_fn	 l_read;
	void		*l_arg;
	char		*l_buf;		/* owned */
	size_t		 l_cap;		/* allocated */
	size_t		 l_start;	/* first unconsumed byte */
	size_t		 l_end;		/* end of valid data */
	size_t		 l_max;		/* longest line accepted */
	int		 l_eof;
	int64_t		 l_lineno;	/* number of the line last returned */
	int64_t		 l_offset;	/* offset of the line last returned */
	int64_t		 l_consumed;	/* bytes consumed before l_start */
};

void	lines_init(struct lines *, lines_read_fn, void *arg, size_t max_line);
/* Convenience reader for a plain fd (arg is a pointer to an int). */
ssize_t	lines_read_fd(void *arg, void *buf, size_t len);
/* Returns the next line; *line stays valid until the next call. */
enum lines_status lines_next(struct lines *, const char **line, size_t *len);
void	lines_free(struct lines *);

#endif
