/*
 * log.c — one formatted line per call, written with a single write(2) so
 * lines from threads and sibling processes sharing stderr do not interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static struct {
	char		 role[32];
	enum log_level	 level;
} log_state = { "bulkhead", LOG_LEVEL_INFO };

static const char *log_names[] = { "error", "warn", "info", "debug" };

static void log_append(char *, size_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void log_vwrite(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

void
log_init(const char *role, enum log_level level)
{
	snprintf(log_state.role, sizeof(log_state.role), "%s", role);
	log_state.level = level;
}

void
log_set_level(enum log_level level)
{
	log_state.level = level;
}

const char *
log_role(void)
{
	return log_state.role;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_debug_enabled(void)
{
	return log_state.level >= LOG_LEVEL_DEBUG;
}

/* Appends to a LOG_LINE_MAX line, keeping room for "\n". */
static void
log_append(char *line, size_t *len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line + *len, LOG_LINE_MAX - 1 - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < LOG_LINE_MAX - 2 ?
		    *len + (size_t)n : LOG_LINE_MAX - 2;
}

static void
log_vwrite(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[LOG_LINE_MAX];
	struct tm	 tm;
	time_t		 now;
	size_t		 len;
	int		 saved = errno, n;

	now = time(NULL);
	gmtime_r(&now, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	log_append(line, &len, "%s[%ld] %s: ", log_state.role,
	    (long)getpid(), log_names[level]);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len = len + (size_t)n < sizeof(line) - 2 ? len + (size_t)n :
		    sizeof(line) - 2;
	if (with_errno)
		log_append(line, &len, ": %s", strerror(saved));
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
	errno = saved;
}

#define LOG_BODY(lvl, e) do {				\
	va_list ap;					\
	if (log_state.level < (lvl))			\
		return;					\
	va_start(ap, fmt);				\
	log_vwrite((lvl), (e), fmt, ap);		\
	va_end(ap);					\
} while (0)

void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }
void log_warn(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 0); }
void log_error(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_ERROR, 0); }

void
log_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
