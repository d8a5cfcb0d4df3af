/*
 * scheduler.c — the scheduler process: one leader across all nodes.
 *
 * DESIGN.  Any number of scheduler processes may run; the one that holds
 * the session-level advisory lock SCHED_LOCK_KEY on its connection is the
 * leader, the others retry every SCHED_ELECT_S seconds.  Every leader
 * action runs on that same connection, so it happens only while the
 * session (and with it the lock) is alive: a leader whose session the
 * server dropped finds out at its next statement and stands down before
 * acting.
 *
 * The leader runs periodic tasks from sched_tasks[]: each has a period
 * and one function: fire due cron schedules (every tick), rescue jobs
 * whose lease nobody renews (workers do the same in their claims; both
 * are idempotent) and report queue depth.
 *
 * Schedules (schedule.c) fire in one transaction that first checks, in
 * pg_locks, that this very session still holds the leader lock (the
 * fence), so a scheduler that lost its lock — or sits behind a pooler
 * that swapped its server connection — fires nothing and stands down.
 * Exactly one job per fire across all nodes follows from that plus the
 * row locks and the single COMMIT in schedule_fire_due.
 *
 * Schedules declared in the config file (schedule_cfg.h) are applied
 * once per process, when it first becomes the leader: so at start on a
 * single node, and by the new leader after a fail-over.  A failure to
 * apply them closes the connection (its audit settings may still be
 * armed), and the process stands down and tries again.
 *
 * Test hook: BULKHEAD_CLOCK=<RFC 3339 instant> makes "now" for schedules
 * that instant plus the real time elapsed since start (schedule_now);
 * the scheduler warns at start when it is set.
 *
 * Signals: SIGTERM/SIGINT set a flag and write to a self-pipe; the loop
 * sleeps in poll() on that pipe.  Exits 0 on request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "jobs/cron.h"
#include "store/jobq.h"
#include "jobs/schedule.h"
#include "jobs/schedule_cfg.h"
#include "jobs/scheduler.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sigstop.h"
#include "lib/str.h"
#include "openhim/openhim_mediator.h"
#include "store/db.h"
#include "store/procstats.h"

/* Arbitrary constant shared by all schedulers (migrate.c uses 7431001). */
#define SCHED_LOCK_KEY	"7431002"
#define SCHED_LOCK_NUM	SCHEDULER_LOCK_KEY	/* the same, as a number */
#define SCHED_ELECT_S	3	/* a follower retries the lock this often */
#define SCHED_TICK_MS	1000	/* loop granularity */
#define SCHED_BEAT_S	1	/* processes row refreshed this often */

struct scheduler;

struct sched_task {
	const char	*t_name;
	int		 t_period;	/* seconds */
	int		(*t_run)(struct scheduler *);
};

struct scheduler {
	struct cfg	*s_cfg;
	PGconn		*s_conn;	/* holds the lock while leader */
	int		 s_leader;
	int		 s_said_follower;	/* logged "standing by" */
	int		 s_cfg_applied;	/* config schedules put */
	double		 s_next_elect;
	double		 s_next[8];	/* per task, monotonic seconds */
	struct openhim_mediator s_ohim;	/* registration, heartbeat */
	char		 s_node[PROCSTATS_NODE_MAX];
	char		 s_id[PROCSTATS_NODE_MAX + 32];	/* processes.id */
	double		 s_beat_at;	/* last processes row, monotonic */
};


static int	sched_connect(struct scheduler *);
static void	sched_elect(struct scheduler *);
static int	sched_reap(struct scheduler *);
static int	sched_stats(struct scheduler *);
static int	sched_fire(struct scheduler *);
static int	sched_apply_cfg(struct scheduler *);
static int	sched_openhim(struct scheduler *);
static void	sched_beat(struct scheduler *, double);

static const struct sched_task sched_tasks[] = {
	{ "fire due schedules", 1, sched_fire },
	{ "reap expired leases", 5, sched_reap },
	{ "queue stats", 5, sched_stats },
	{ "OpenHIM mediator", 1, sched_openhim },
};

#define SCHED_NTASKS (sizeof(sched_tasks) / sizeof(sched_tasks[0]))
_Static_assert(SCHED_NTASKS <= sizeof(((struct scheduler *)0)->s_next) /
    sizeof(double), "grow scheduler.s_next");

/* (Re)connects with backoff until connected or stopping: 0 or -1. */
static int
sched_connect(struct scheduler *s)
{
	char	err[512];

	PQfinish(s->s_conn);
	s->s_leader = 0;
	s->s_conn = db_connect_retry(s->s_cfg->database_url, "scheduler", 0,
	    err, sizeof(err));
	return s->s_conn != NULL ? 0 : -1;
}

/* Tries to become the leader. */
static void
sched_elect(struct scheduler *s)
{
	PGresult	*res;
	char		 err[512];
	size_t		 i;

	res = db_query(s->s_conn, "SELECT pg_try_advisory_lock("
	    SCHED_LOCK_KEY ")", 0, NULL, err, sizeof(err));
	if (res == NULL) {
		log_warnx("leader election failed: %s", err);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		s->s_leader = 1;
		s->s_said_follower = 0;
		for (i = 0; i < SCHED_NTASKS; i++)
			s->s_next[i] = 0;
		log_info("leader now");
	} else if (!s->s_said_follower) {
		log_info("another scheduler is the leader; standing by");
		s->s_said_follower = 1;
	}
	PQclear(res);
}

static int
sched_reap(struct scheduler *s)
{
	char	err[512];
	int	nf, nq;

	if (jobq_reap(s->s_conn, 1, &nf, &nq, err, sizeof(err)) == -1) {
		log_warnx("reaping expired leases: %s", err);
		return -1;
	}
	if (nq > 0)
		log_info("re-queued %d job%s whose worker stopped renewing "
		    "its lease", nq, nq == 1 ? "" : "s");
	if (nf > 0)
		log_warnx("ended %d job%s whose worker was lost on the last "
		    "attempt (or that were being cancelled)", nf,
		    nf == 1 ? "" : "s");
	return 0;
}

static int
sched_stats(struct scheduler *s)
{
	int64_t	c[JOBQ_NSTATES];
	char	err[512];

	if (!log_debug_enabled())
		return 0;
	if (jobq_counts(s->s_conn, c, err, sizeof(err)) == -1) {
		log_warnx("queue stats: %s", err);
		return -1;
	}
	log_debug("jobs: queued %lld, running %lld, paused %lld, "
	    "cancelling %lld, cancelled %lld, failed %lld, completed %lld",
	    (long long)c[JOBQ_QUEUED], (long long)c[JOBQ_RUNNING],
	    (long long)c[JOBQ_PAUSED], (long long)c[JOBQ_CANCELLING],
	    (long long)c[JOBQ_CANCELLED], (long long)c[JOBQ_FAILED],
	    (long long)c[JOBQ_COMPLETED]);
	return 0;
}

/* Turns due schedules into jobs, fenced by the leader lock. */
static int
sched_fire(struct scheduler *s)
{
	char	err[512];
	int	rc, nf, ns;

	rc = schedule_fire_due(s->s_conn, schedule_now(), SCHED_LOCK_NUM,
	    &nf, &ns, err, sizeof(err));
	if (rc == SCHEDULE_R_FENCED) {
		log_warnx("leadership lost (%s); standing down", err);
		s->s_leader = 0;
		s->s_next_elect = clock_mono() + SCHED_ELECT_S;
		return -1;
	}
	if (rc == -1) {
		log_warnx("firing schedules: %s", err);
		return -1;
	}
	return 0;
}

/* OpenHIM registration and heartbeat; paces itself (10 s, backoff). */
static int
sched_openhim(struct scheduler *s)
{
	openhim_mediator_tick(&s->s_ohim, s->s_conn, clock_mono());
	return 0;
}

/* Puts the config file's schedules, once per process.  0, or -1: the
 * connection was closed, to stand down and retry after a pause. */
static int
sched_apply_cfg(struct scheduler *s)
{
	char	err[1024];
	int	n;

	if (schedule_cfg_apply(s->s_conn, s->s_cfg, &n, err,
	    sizeof(err)) == -1) {
		log_warnx("applying the config file's schedules: %s; "
		    "standing down to retry", err);
		PQfinish(s->s_conn);
		s->s_conn = NULL;
		s->s_leader = 0;
		s->s_next_elect = clock_mono() + SCHED_ELECT_S;
		sigstop_pause(SCHED_TICK_MS);
		return -1;
	}
	s->s_cfg_applied = 1;
	if (s->s_cfg->nschedules > 0)
		log_info("%d schedule%s from the config file applied", n,
		    n == 1 ? "" : "s");
	return 0;
}

/* Records this scheduler, and whether it leads, for /metrics (at most
 * once a SCHED_BEAT_S; on the lock's own session, whose backend pid
 * /metrics checks against pg_locks).  A failure is logged only. */
static void
sched_beat(struct scheduler *s, double now)
{
	char	err[512];

	if (s->s_conn == NULL || PQstatus(s->s_conn) != CONNECTION_OK ||
	    now - s->s_beat_at < (double)SCHED_BEAT_S)
		return;
	s->s_beat_at = now;
	if (procstats_beat(s->s_conn, s->s_id, s->s_node, "scheduler",
	    s->s_leader, err, sizeof(err)) == -1)
		log_debug("processes row: %s", err);
}

int
scheduler_main(struct cfg *cfg)
{
	struct scheduler	s;
	double			now;
	size_t			i;
	char			err[256], when[CRON_TIME_MAX];
	int			fake;

	memset(&s, 0, sizeof(s));
	s.s_cfg = cfg;
	procstats_node(s.s_node, sizeof(s.s_node));
	snprintf(s.s_id, sizeof(s.s_id), "scheduler %s:%ld", s.s_node,
	    (long)getpid());
	openhim_mediator_init(&s.s_ohim, cfg);
	if (schedule_clock_init(&fake, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return 1;
	}
	if (fake) {
		cron_time_format(schedule_now(), when, sizeof(when));
		log_warnx("BULKHEAD_CLOCK is set: schedules run on a test "
		    "clock starting at %s, not on real time", when);
	}
	if (sigstop_init() == -1)
		return 1;
	log_info("scheduler started");
	while (!sigstop_flag) {
		if (s.s_conn == NULL || PQstatus(s.s_conn) != CONNECTION_OK) {
			if (s.s_leader)
				log_warnx("leadership lost with the database "
				    "connection");
			if (sched_connect(&s) == -1)
				break;
		}
		now = clock_mono();
		if (!s.s_leader && now >= s.s_next_elect) {
			sched_elect(&s);
			s.s_next_elect = now + SCHED_ELECT_S;
		}
		if (s.s_leader && !s.s_cfg_applied && sched_apply_cfg(&s) == -1)
			continue;
		for (i = 0; s.s_leader && i < SCHED_NTASKS; i++) {
			if (now < s.s_next[i])
				continue;
			s.s_next[i] = now + sched_tasks[i].t_period;
			if (sched_tasks[i].t_run(&s) == -1 &&
			    PQstatus(s.s_conn) != CONNECTION_OK)
				break;	/* reconnect and re-elect */
		}
		sched_beat(&s, clock_mono());
		sigstop_pause(SCHED_TICK_MS);
	}
	if (s.s_conn != NULL && PQstatus(s.s_conn) == CONNECTION_OK &&
	    procstats_gone(s.s_conn, s.s_id, err, sizeof(err)) == -1)
		log_debug("processes row: %s", err);
	PQfinish(s.s_conn);	/* releases the lock */
	openhim_mediator_free(&s.s_ohim);
	sigstop_close();
	log_info("scheduler stopped");
	return 0;
}
