/*
 * throttle.c — per-job rate limiting and bulk-session set-up.
 *
 * DESIGN.  GCRA per dimension: tat (the theoretical arrival time) moves
 * forward by n / rate for every n units taken; a caller whose tat is more
 * than the burst ahead of now sleeps the difference.  The state is one
 * mutex-protected pair of doubles, so the input threads of an import share
 * the job's budget fairly, and no timer or background thread exists.
 * Sleeping happens outside the mutex, in slices, so a stop, a rate change
 * (which resets the clocks: a job slowed to 1 row/s and then unlimited
 * must not serve out its old debt) or a due heartbeat is never more than a
 * slice away.
 *
 * Backend priority: DESIGN.md measured interactive p99 3.6 ms beside one
 * bulk COPY and 17.5 ms beside two, but 6.5 ms beside two whose backends
 * ran at lowered priority: the work a job makes PostgreSQL do counts.  A
 * backend is an ordinary process on this machine when the server is
 * local, and setpriority/ioprio_set on it work for its own user or root
 * (make run: workers as root, server as postgres).  We check that the pid
 * is a local postgres process first, so a remote server's pid never
 * renices an unrelated local process.  Nice alone did little there: the
 * server is an autogroup of its own, and groups share the CPUs equally
 * whatever nice says inside them; a SCHED_IDLE backend (worker_idle,
 * schemas/009_worker_idle.sql) at least yields at once to the
 * interactive backends beside it.  Bulk threads left in the normal class
 * (exports: see job_kinds.c) ask for a long time slice instead, so any
 * interactive thread waking up preempts them (EEVDF, lib/slice.h): with
 * 200 clients polling status during an export, the polls' p99 went from
 * 11.1 ms to 6.5 and 8.8 ms (tests/bench/RESULTS.md).
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/throttle.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/slice.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/procstats.h"

#define THROTTLE_FLUSH_AFTER	"2MB"	/* see throttle_conn */
#define THROTTLE_SLICE_US	20000	/* bulk threads' slice: 20 ms */

/* From linux/ioprio.h, which glibc does not wrap (as worker.c). */
#define THR_IOPRIO_WHO_PROCESS	1
#define THR_IOPRIO_CLASS_BE	2
#define THR_IOPRIO_CLASS_SHIFT	13
#define THR_IOPRIO_LEVEL	7

struct throttle {
	pthread_mutex_t	 t_lock;
	pthread_t	 t_owner;		/* may call t_tick */
	throttle_tick_fn t_tick;
	void		*t_tick_arg;
	const volatile sig_atomic_t *t_shutdown;
	atomic_int	 t_stop;
	atomic_int	 t_limited;		/* a rate is set */
	atomic_uint	 t_gen;			/* bumped on rate changes */
	/* Under t_lock: */
	int64_t		 t_rows_ps;
	int64_t		 t_bytes_ps;
	int64_t		 t_cap_rows;		/* controller's cap, 0: none */
	double		 t_rows_tat;
	double		 t_bytes_tat;
	int		 t_stmt_ms;
	int		 t_nice;
	int		 t_idle;
	/* Totals (atomic: updated outside the lock on the fast path). */
	atomic_llong	 t_rows;
	atomic_llong	 t_bytes;
	atomic_llong	 t_slept_ms;
};

/* Logged once per process: renicing backends is not possible here. */
static atomic_int	throttle_warned_nice;

/* This process's waits over all its throttles, by cause (/metrics), and
 * what throttle_publish has written of them so far (its caller's thread
 * only). */
static atomic_llong	throttle_waits[PROCSTATS_NCAUSES];
static atomic_llong	throttle_wait_us[PROCSTATS_NCAUSES];
static long long	throttle_pub_waits[PROCSTATS_NCAUSES];
static long long	throttle_pub_us[PROCSTATS_NCAUSES];
static double		throttle_pub_at;	/* monotonic s, 0: never */

static double	throttle_advance(double *, double, int64_t, int64_t);
static int64_t	throttle_rows_rate(const struct throttle *);
static void	throttle_changed(struct throttle *, double);
static int	throttle_is_postgres(int);
static int	throttle_local(PGconn *);

struct throttle *
throttle_new(const volatile sig_atomic_t *shutdown, throttle_tick_fn tick,
    void *tick_arg)
{
	struct throttle	*t;

	t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->t_lock, NULL);
	t->t_owner = pthread_self();
	t->t_tick = tick;
	t->t_tick_arg = tick_arg;
	t->t_shutdown = shutdown;
	atomic_init(&t->t_stop, 0);
	atomic_init(&t->t_limited, 0);
	atomic_init(&t->t_gen, 0);
	atomic_init(&t->t_rows, 0);
	atomic_init(&t->t_bytes, 0);
	atomic_init(&t->t_slept_ms, 0);
	t->t_nice = -1;
	return t;
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->t_lock);
	free(t);
}

/* The rows rate in force: the lower of the configured rate and the
 * controller's cap, 0 when neither is set.  Caller holds the lock. */
static int64_t
throttle_rows_rate(const struct throttle *t)
{
	if (t->t_cap_rows <= 0)
		return t->t_rows_ps;
	if (t->t_rows_ps <= 0 || t->t_cap_rows < t->t_rows_ps)
		return t->t_cap_rows;
	return t->t_rows_ps;
}

/* A rate changed: restart the clocks, wake sleepers.  Caller holds the
 * lock. */
static void
throttle_changed(struct throttle *t, double now)
{
	t->t_rows_tat = t->t_bytes_tat = now;
	atomic_fetch_add(&t->t_gen, 1);
	atomic_store(&t->t_limited, throttle_rows_rate(t) > 0 ||
	    t->t_bytes_ps > 0);
}

void
throttle_set_rates(struct throttle *t, int64_t rows_ps, int64_t bytes_ps)
{
	double	now = clock_mono();

	if (rows_ps < 0)
		rows_ps = 0;
	if (bytes_ps < 0)
		bytes_ps = 0;
	pthread_mutex_lock(&t->t_lock);
	if (rows_ps != t->t_rows_ps || bytes_ps != t->t_bytes_ps) {
		t->t_rows_ps = rows_ps;
		t->t_bytes_ps = bytes_ps;
		throttle_changed(t, now);
	}
	pthread_mutex_unlock(&t->t_lock);
}

void
throttle_set_cap(struct throttle *t, int64_t rows_ps)
{
	double	now = clock_mono();

	if (rows_ps < 0)
		rows_ps = 0;
	pthread_mutex_lock(&t->t_lock);
	if (rows_ps != t->t_cap_rows) {
		t->t_cap_rows = rows_ps;
		throttle_changed(t, now);
	}
	pthread_mutex_unlock(&t->t_lock);
}

int64_t
throttle_rates(struct throttle *t, int64_t *rows_ps, int64_t *cap_rows)
{
	int64_t	eff;

	pthread_mutex_lock(&t->t_lock);
	eff = throttle_rows_rate(t);
	if (rows_ps != NULL)
		*rows_ps = t->t_rows_ps;
	if (cap_rows != NULL)
		*cap_rows = t->t_cap_rows;
	pthread_mutex_unlock(&t->t_lock);
	return eff;
}

void
throttle_set_session(struct throttle *t, int stmt_timeout_ms, int nice,
    int idle)
{
	pthread_mutex_lock(&t->t_lock);
	t->t_stmt_ms = stmt_timeout_ms;
	t->t_nice = nice;
	t->t_idle = idle;
	pthread_mutex_unlock(&t->t_lock);
}

void
throttle_stop(struct throttle *t)
{
	if (t != NULL)
		atomic_store(&t->t_stop, 1);
}

/* Moves *tat by n units at rate; returns how long the caller must wait
 * (seconds, <= 0: none).  Caller holds the lock. */
static double
throttle_advance(double *tat, double now, int64_t n, int64_t rate)
{
	if (rate <= 0 || n <= 0)
		return 0;
	if (*tat < now)
		*tat = now;
	*tat += (double)n / (double)rate;
	return *tat - now - (double)THROTTLE_BURST_MS / 1000.0;
}

int
throttle_take(struct throttle *t, int64_t rows, int64_t bytes)
{
	struct timespec	 ts;
	double		 now, wait, w2, until, start;
	unsigned int	 gen;
	int		 owner, cause, rc = 0;

	if (atomic_load(&t->t_stop) ||
	    (t->t_shutdown != NULL && *t->t_shutdown))
		return -1;
	atomic_fetch_add(&t->t_rows, rows);
	atomic_fetch_add(&t->t_bytes, bytes);
	if (!atomic_load(&t->t_limited))
		return 0;

	now = clock_mono();
	pthread_mutex_lock(&t->t_lock);
	wait = throttle_advance(&t->t_rows_tat, now, rows,
	    throttle_rows_rate(t));
	w2 = throttle_advance(&t->t_bytes_tat, now, bytes, t->t_bytes_ps);
	gen = atomic_load(&t->t_gen);
	/* The controller's cap is the cause when it is the rows rate in
	 * force and the rows (not the bytes) make the wait. */
	cause = wait >= w2 && t->t_cap_rows > 0 && (t->t_rows_ps <= 0 ||
	    t->t_cap_rows < t->t_rows_ps) ? PROCSTATS_INTERACTIVE :
	    PROCSTATS_LIMIT;
	pthread_mutex_unlock(&t->t_lock);
	if (w2 > wait)
		wait = w2;
	if (wait <= 0)
		return 0;
	atomic_fetch_add(&throttle_waits[cause], 1);
	start = now;

	owner = pthread_equal(pthread_self(), t->t_owner);
	until = now + wait;
	for (;;) {
		if (atomic_load(&t->t_stop) ||
		    (t->t_shutdown != NULL && *t->t_shutdown) ||
		    (owner && t->t_tick != NULL &&
		    t->t_tick(t->t_tick_arg) == -1)) {
			rc = -1;
			break;
		}
		/* New rates: the old debt is forgiven. */
		if (atomic_load(&t->t_gen) != gen)
			break;
		now = clock_mono();
		if (now >= until)
			break;
		wait = until - now;
		if (wait > (double)THROTTLE_SLICE_MS / 1000.0)
			wait = (double)THROTTLE_SLICE_MS / 1000.0;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		(void)nanosleep(&ts, NULL);
		atomic_fetch_add(&t->t_slept_ms, (long long)(wait * 1000.0));
	}
	atomic_fetch_add(&throttle_wait_us[cause],
	    (long long)((clock_mono() - start) * 1e6));
	return rc;
}

int
throttle_publish(PGconn *conn, int force)
{
	char		err[512];
	long long	w, us;
	double		now = clock_mono();
	int		c;

	if (conn == NULL || (!force && throttle_pub_at != 0 &&
	    now - throttle_pub_at < 1.0))
		return 0;
	throttle_pub_at = now;
	for (c = 0; c < PROCSTATS_NCAUSES; c++) {
		w = atomic_load(&throttle_waits[c]);
		us = atomic_load(&throttle_wait_us[c]);
		if (w == throttle_pub_waits[c] && us == throttle_pub_us[c])
			continue;
		if (procstats_add_waits(conn, (enum procstats_cause)c,
		    w - throttle_pub_waits[c],
		    (double)(us - throttle_pub_us[c]) / 1e6, err,
		    sizeof(err)) == -1) {
			log_debug("throttle waits: %s", err);
			return -1;	/* kept for the next call */
		}
		throttle_pub_waits[c] = w;
		throttle_pub_us[c] = us;
	}
	return 0;
}

void
throttle_totals(struct throttle *t, int64_t *rows, int64_t *bytes,
    int64_t *slept_ms)
{
	if (rows != NULL)
		*rows = atomic_load(&t->t_rows);
	if (bytes != NULL)
		*bytes = atomic_load(&t->t_bytes);
	if (slept_ms != NULL)
		*slept_ms = atomic_load(&t->t_slept_ms);
}

/* True if pid is a local PostgreSQL process (its comm is "postgres"). */
static int
throttle_is_postgres(int pid)
{
	char	path[64], comm[64];
	FILE	*fp;
	int	ok = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), fp) != NULL)
		ok = strncmp(comm, "postgres", 8) == 0;
	fclose(fp);
	return ok;
}

/* True if the connection goes to a server on this machine. */
static int
throttle_local(PGconn *conn)
{
	const char	*h = PQhost(conn);

	if (h == NULL || *h == '\0' || *h == '/' || *h == '@')
		return 1;	/* Unix-domain socket */
	return strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 ||
	    strcmp(h, "::1") == 0;
}

int
throttle_sched_idle(int pid, int idle)
{
	struct sched_param	sp;

	memset(&sp, 0, sizeof(sp));
	if (sched_getscheduler(pid) != (idle ? SCHED_IDLE : SCHED_OTHER) &&
	    sched_setscheduler(pid, idle ? SCHED_IDLE : SCHED_OTHER, &sp) == -1)
		return -1;
	/* In the normal class, a long slice (lib/slice.h); kernels before
	 * 6.12 ignore it, and a refusal costs nothing but the preference. */
	if (!idle)
		(void)slice_set(pid, THROTTLE_SLICE_US);
	return 0;
}

int
throttle_renice_backend(int pid, int nice, int idle)
{
	if (pid <= 0 || !throttle_is_postgres(pid)) {
		errno = ESRCH;
		return -1;
	}
	if (setpriority(PRIO_PROCESS, (id_t)pid, nice) == -1 ||
	    throttle_sched_idle(pid, idle) == -1)
		return -1;
	if (syscall(SYS_ioprio_set, THR_IOPRIO_WHO_PROCESS, pid,
	    (THR_IOPRIO_CLASS_BE << THR_IOPRIO_CLASS_SHIFT) |
	    THR_IOPRIO_LEVEL) == -1)
		return -1;
	return 0;
}

int
throttle_conn(struct throttle *t, PGconn *conn)
{
	const char	*params[1];
	char		 ms[16], err[512];
	int		 stmt, nice, idle, rc = 0;

	if (t == NULL || conn == NULL)
		return 0;
	pthread_mutex_lock(&t->t_lock);
	stmt = t->t_stmt_ms;
	nice = t->t_nice;
	idle = t->t_idle;
	pthread_mutex_unlock(&t->t_lock);

	snprintf(ms, sizeof(ms), "%d", stmt);
	params[0] = ms;
	if (db_exec(conn, "SELECT set_config('statement_timeout', $1, false)",
	    1, params, err, sizeof(err)) == -1) {
		log_warnx("bulk session: statement_timeout: %s", err);
		rc = -1;
	}
	/*
	 * Have the kernel start writing this backend's pages out as it goes
	 * (sync_file_range every THROTTLE_FLUSH_AFTER), instead of leaving
	 * gigabytes dirty in the page cache.  Measured in tests/bench/
	 * isolation: without it a 1M-claim import piled up enough dirty
	 * memory for the kernel to stall every writer on the machine, and
	 * interactive p99 went from 5 to 182 ms (18.8 ms with it; the
	 * import's own rate did not change).
	 */
	if (db_exec(conn, "SELECT set_config('backend_flush_after', '"
	    THROTTLE_FLUSH_AFTER "', false)", 0, NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("bulk session: backend_flush_after: %s", err);
		rc = -1;
	}
	if (nice < 0)
		return rc;
	if (!throttle_local(conn)) {
		if (atomic_exchange(&throttle_warned_nice, 1) == 0)
			log_info("database server is not local: its backends "
			    "keep their priority (worker_nice applies to the "
			    "workers only)");
		return rc;
	}
	if (throttle_renice_backend(PQbackendPID(conn), nice, idle) == -1 &&
	    atomic_exchange(&throttle_warned_nice, 1) == 0)
		log_info("cannot lower the priority of database backend %d "
		    "(%s): run the workers as root or as the server's user "
		    "for it; worker_nice applies to the workers only",
		    PQbackendPID(conn), strerror(errno));
	return rc;
}
