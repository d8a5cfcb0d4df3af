/*
 * log.c — one formatted line per call, written with a single write(2) so
 * lines from threads and sibling processes sharing stderr do not interleave.
 *
 * The API process switches to asynchronous mode (log_async_start): lines
 * go to a bounded ring that one thread writes out, so no request thread
 * ever waits in write(2).  Why: while a bulk import fills the page cache
 * with dirty pages, the kernel throttles any process writing to a file
 * for up to 200 ms at a time (balance_dirty_pages); with the access log
 * written inline, that was the slowest 0.1% of every API request in the
 * isolation benchmark.  A full ring drops lines and says how many.
 *
 * The writer wakes once per batch, not once per line: after a write it
 * lets lines gather for LOG_RING_BATCH_MS, and producers signal it only
 * when it sleeps on an empty ring or the ring is half full.  At 37,000
 * requests/s a wake-up per access-log line was a context switch per
 * request, a tenth of the API's CPU.
 */
#include <sys/uio.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096
#define LOG_RING_BATCH_MS 20	/* lines gather this long between writes */

static struct {
	char		 role[32];
	enum log_level	 level;
} log_state = { "bulkhead", LOG_LEVEL_INFO };

/* The ring of the asynchronous mode; lk guards everything but the bytes
 * between tail and head, which only the writer thread reads. */
static pthread_mutex_t	log_ring_lk = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	log_ring_cv = PTHREAD_COND_INITIALIZER;
static struct {
	pthread_t	 thread;
	char		*ring;		/* owned */
	size_t		 size;
	size_t		 head;		/* producers append here */
	size_t		 tail;		/* the writer reads from here */
	size_t		 used;
	unsigned long	 dropped;
	int		 on;
	int		 stop;
	int		 idle;		/* writer waits for a first line */
	int		 pausing;	/* writer lets lines gather */
} log_ring;

static const char *log_names[] = { "error", "warn", "info", "debug" };

/* The pid and the second's time stamp, kept so a line costs no system
 * call: at 50,000 access-log lines/s getpid() alone was a fifth of the
 * API's system calls.  The pid is re-read after fork (log_atfork_child). */
static atomic_long	log_pid;
static pthread_once_t	log_once = PTHREAD_ONCE_INIT;
static _Thread_local struct {
	time_t	 sec;
	char	 text[24];	/* "2026-11-27T04:48:11Z " */
	size_t	 len;
} log_stamp = { (time_t)-1, "", 0 };

static void log_append(char *, size_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void log_vwrite(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_atfork_child(void)
{
	atomic_store(&log_pid, 0);
}

static void
log_register_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, log_atfork_child);
}

static long
log_getpid(void)
{
	long	pid = atomic_load(&log_pid);

	if (pid == 0) {
		pid = (long)getpid();
		atomic_store(&log_pid, pid);
	}
	return pid;
}

void
log_init(const char *role, enum log_level level)
{
	(void)pthread_once(&log_once, log_register_atfork);
	atomic_store(&log_pid, 0);
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

/* Queues a line; -1 when the ring is not running (write it directly). */
static int
log_ring_put(const char *line, size_t len)
{
	size_t	first;

	pthread_mutex_lock(&log_ring_lk);
	if (!log_ring.on) {
		pthread_mutex_unlock(&log_ring_lk);
		return -1;
	}
	if (log_ring.size - log_ring.used < len)
		log_ring.dropped++;
	else {
		first = log_ring.size - log_ring.head;
		if (first > len)
			first = len;
		memcpy(log_ring.ring + log_ring.head, line, first);
		memcpy(log_ring.ring, line + first, len - first);
		log_ring.head = (log_ring.head + len) % log_ring.size;
		log_ring.used += len;
		if (log_ring.idle || (log_ring.pausing &&
		    log_ring.used > log_ring.size / 2))
			pthread_cond_signal(&log_ring_cv);
	}
	pthread_mutex_unlock(&log_ring_lk);
	return 0;
}

static void *
log_ring_main(void *arg)
{
	struct iovec	 iov[2];
	struct timespec	 until;
	char		 note[256];
	size_t		 tail, used;
	ssize_t		 w;
	unsigned long	 dropped = 0;

	(void)arg;
	pthread_mutex_lock(&log_ring_lk);
	for (;;) {
		while (log_ring.used == 0 && log_ring.dropped == 0 &&
		    !log_ring.stop) {
			log_ring.idle = 1;
			pthread_cond_wait(&log_ring_cv, &log_ring_lk);
			log_ring.idle = 0;
		}
		if (log_ring.stop && log_ring.used == 0 &&
		    log_ring.dropped == 0 && dropped == 0)
			break;
		/* Everything queued, both sides of the wrap in one writev:
		 * producers append whole lines, so it ends at a line's end
		 * and the drop note never lands inside a line. */
		tail = log_ring.tail;
		used = log_ring.used;
		dropped += log_ring.dropped;
		log_ring.dropped = 0;
		pthread_mutex_unlock(&log_ring_lk);
		iov[0].iov_base = log_ring.ring + tail;
		iov[0].iov_len = log_ring.size - tail < used ?
		    log_ring.size - tail : used;
		iov[1].iov_base = log_ring.ring;
		iov[1].iov_len = used - iov[0].iov_len;
		w = used > 0 ? writev(STDERR_FILENO, iov, 2) : 0;
		if (w < 0 && errno != EINTR)
			w = (ssize_t)used;	/* unwritable: drop, go on */
		else if (w < 0)
			w = 0;
		if ((size_t)w == used && dropped > 0) {
			(void)snprintf(note, sizeof(note), "%s[%ld] warn: "
			    "%lu log lines dropped: the log could not be "
			    "written fast enough\n", log_state.role,
			    log_getpid(), dropped);
			(void)!write(STDERR_FILENO, note, strlen(note));
			dropped = 0;
		}
		pthread_mutex_lock(&log_ring_lk);
		log_ring.tail = (log_ring.tail + (size_t)w) % log_ring.size;
		log_ring.used -= (size_t)w;
		if (log_ring.stop)
			continue;
		(void)clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LOG_RING_BATCH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		log_ring.pausing = 1;
		while (!log_ring.stop && log_ring.used <= log_ring.size / 2 &&
		    pthread_cond_timedwait(&log_ring_cv, &log_ring_lk,
		    &until) != ETIMEDOUT)
			;
		log_ring.pausing = 0;
	}
	pthread_mutex_unlock(&log_ring_lk);
	return NULL;
}

int
log_async_start(size_t bytes)
{
	int	rc = 0;

	pthread_mutex_lock(&log_ring_lk);
	if (log_ring.on || bytes < LOG_LINE_MAX ||
	    (log_ring.ring = malloc(bytes)) == NULL) {
		rc = log_ring.on ? 0 : -1;
		goto out;
	}
	log_ring.size = bytes;
	log_ring.head = log_ring.tail = log_ring.used = 0;
	log_ring.dropped = 0;
	log_ring.stop = 0;
	if (pthread_create(&log_ring.thread, NULL, log_ring_main, NULL) != 0) {
		free(log_ring.ring);
		log_ring.ring = NULL;
		rc = -1;
		goto out;
	}
	log_ring.on = 1;
 out:
	pthread_mutex_unlock(&log_ring_lk);
	return rc;
}

void
log_async_stop(void)
{
	pthread_mutex_lock(&log_ring_lk);
	if (!log_ring.on) {
		pthread_mutex_unlock(&log_ring_lk);
		return;
	}
	log_ring.on = 0;	/* new lines go straight out from here */
	log_ring.stop = 1;
	pthread_cond_signal(&log_ring_cv);
	pthread_mutex_unlock(&log_ring_lk);
	pthread_join(log_ring.thread, NULL);
	free(log_ring.ring);
	log_ring.ring = NULL;
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
	if (now != log_stamp.sec) {
		gmtime_r(&now, &tm);
		log_stamp.len = strftime(log_stamp.text,
		    sizeof(log_stamp.text), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		log_stamp.sec = now;
	}
	memcpy(line, log_stamp.text, log_stamp.len);
	len = log_stamp.len;
	log_append(line, &len, "%s[%ld] %s: ", log_state.role,
	    log_getpid(), log_names[level]);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len = len + (size_t)n < sizeof(line) - 2 ? len + (size_t)n :
		    sizeof(line) - 2;
	if (with_errno)
		log_append(line, &len, ": %s", strerror(saved));
	line[len++] = '\n';
	if (log_ring_put(line, len) == -1)
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

	log_async_stop();
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_fatalx(const char *fmt, ...)
{
	va_list	ap;

	log_async_stop();
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
