/*
 * log.h — leveled logging to stderr.
 *
 * Every line carries the process role and pid: "2026-11-26T19:40:01Z
 * worker[1234] info: ...".  The *x forms omit errno; fatal* exit(1).
 * Safe to call from any thread (one write(2) per line, or one line into
 * the asynchronous ring).
 */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void	log_init(const char *role, enum log_level);
void	log_set_level(enum log_level);
int	log_level_parse(const char *, enum log_level *);
int	log_debug_enabled(void);
const char *log_role(void);
/* From here on, lines go through a ring of 'bytes' that a thread of its
 * own writes out, so callers never block on a slow stderr; lines that do
 * not fit are dropped and counted.  Stop (flushes, joins) before exit or
 * fork; fatal* stop it themselves.  -1 if the thread cannot start. */
int	log_async_start(size_t bytes);
void	log_async_stop(void);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
