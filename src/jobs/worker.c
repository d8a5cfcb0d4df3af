/*
 * worker.c — a worker process: claims jobs from PostgreSQL and runs them,
 * one at a time, at lowered CPU and I/O priority.
 *
 * DESIGN.  Three connections: a LISTEN connection that only waits for
 * NOTIFY bulkhead_jobs, a control connection for claims and leases
 * (short statement_timeout), and a bulk connection handed to job kinds
 * (job_ctx_conn), so a kind's long transaction never holds back a
 * heartbeat.  When nothing is claimable the worker sleeps in poll() on the
 * LISTEN socket and its signal pipe for at most WORKER_POLL_MS, so a lost
 * notification costs a delay, never a stranded job.  Heartbeats happen
 * inside the kind's job_ctx calls between batches.
 *
 * Signals: SIGTERM/SIGINT set a flag and write to a self-pipe; nothing
 * else happens in the handler.  The running kind sees the flag at its next
 * batch boundary and returns; the job goes back to queued (checkpoint
 * kept, attempt not counted) and the process exits 0.  A worker that dies
 * instead simply stops renewing its lease: another worker takes the job
 * over when the lease expires.
 *
 * Limits (schemas/006_limits.sql): the claim statement itself enforces
 * the job-count limits.  The worker keeps a copy of the row, re-read
 * every LIMITS_RELOAD_S, on NOTIFY bulkhead_limits and before each job,
 * applies worker_nice to itself, and hands the copy to the job's context,
 * which throttles the kind and sets up its bulk sessions (throttle.h).
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/autogroup.h"
#include "core/cfg.h"
#include "jobs/job_ctx.h"
#include "jobs/job_kinds.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "jobs/limits.h"
#include "jobs/worker.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sigstop.h"
#include "lib/str.h"
#include "openhim/delivery.h"
#include "store/db.h"
#include "store/procstats.h"
#include "jobs/throttle.h"

#define WORKER_POLL_MS		2000	/* fallback poll when idle */
#define WORKER_CLAIM_GAP_MS	100	/* after an empty claim */
#define WORKER_NICE		10
#define WORKER_IOPRIO_LEVEL	7	/* best-effort class, lowest */
#define WORKER_MAX_KINDS	64
#define WORKER_STMT_TIMEOUT_MAX	30	/* seconds, control connection */
#define WORKER_BEAT_S		1	/* processes row, at most this often */

/* From linux/ioprio.h, which glibc does not wrap. */
#define WORKER_IOPRIO_WHO_PROCESS	1
#define WORKER_IOPRIO_CLASS_BE		2
#define WORKER_IOPRIO_CLASS_SHIFT	13
#define WORKER_IOPRIO_PRIO_VALUE(c, d) \
	(((c) << WORKER_IOPRIO_CLASS_SHIFT) | (d))

struct worker {
	struct cfg	*w_cfg;
	char		 w_id[JOBQ_OWNER_MAX];	/* lease owner name */
	PGconn		*w_listen;		/* LISTEN only, or NULL */
	PGconn		*w_ctl;			/* claims and leases */
	double		 w_next_delivery;	/* monotonic s */
	PGconn		*w_work;		/* for kinds, lazily */
	const char	*w_kinds[WORKER_MAX_KINDS];
	size_t		 w_nkinds;
	struct limits	 w_limits;		/* last read */
	double		 w_limits_at;		/* when, monotonic; 0: due */
	int		 w_nice;		/* applied to us */
	int		 w_nice_warned;
	char		 w_node[PROCSTATS_NODE_MAX];	/* host name */
	double		 w_beat_at;		/* last processes row */
};

/* Signal state: the only globals, written by the handler alone. */

/* The read end of the stop signals' pipe (lib/sigstop.h). */
static int	worker_wakefd = -1;

static void	worker_lower_priority(void);
static void	worker_limits(struct worker *, int);
static void	worker_make_id(char *, size_t);
static int	worker_connect(struct worker *, PGconn **, const char *);
static int	worker_ensure(struct worker *);
static void	worker_wait(struct worker *, int);
static void	worker_beat(struct worker *);
static void	worker_reset_work(struct worker *);
static void	worker_run(struct worker *, struct jobq_job *,
		    const struct jobq_lease *);
static int	worker_settle(struct worker *, struct job_ctx *,
		    enum job_status, const struct jobq_lease *, double);

/* Bulk work yields to interactive use: nice 10 (for its own autogroup
 * too, when it has one: core/autogroup.h), I/O best-effort 7. */
static void
worker_lower_priority(void)
{
	char	err[256];

	if (setpriority(PRIO_PROCESS, 0, WORKER_NICE) == -1)
		log_warn("setpriority");
	if (autogroup_set_nice(WORKER_NICE, err, sizeof(err)) == 0)
		log_debug("autogroup nice %d", WORKER_NICE);
	if (syscall(SYS_ioprio_set, WORKER_IOPRIO_WHO_PROCESS, 0,
	    WORKER_IOPRIO_PRIO_VALUE(WORKER_IOPRIO_CLASS_BE,
	    WORKER_IOPRIO_LEVEL)) == -1)
		log_warn("ioprio_set");
}

/*
 * Re-reads the limits when due (or now, with force) and applies
 * worker_nice to this process.  On Linux, nice is per thread: the threads
 * a kind starts afterwards inherit it.  Raising priority again needs root
 * (CAP_SYS_NICE); without it the lower priority stays, which errs on the
 * side of the interactive users.
 */
static void
worker_limits(struct worker *w, int force)
{
	char	err[512];
	double	now = clock_mono();

	if (!force && w->w_limits_at != 0 &&
	    now - w->w_limits_at < (double)LIMITS_RELOAD_S)
		return;
	if (w->w_ctl == NULL || PQstatus(w->w_ctl) != CONNECTION_OK)
		return;
	w->w_limits_at = now;
	if (limits_load(w->w_ctl, &w->w_limits, err, sizeof(err)) == -1) {
		log_warnx("reading limits: %s (keeping the previous ones)",
		    err);
		return;
	}
	if (w->w_limits.lim_worker_nice == w->w_nice)
		return;
	if (setpriority(PRIO_PROCESS, 0, w->w_limits.lim_worker_nice) == -1) {
		if (!w->w_nice_warned)
			log_warn("setpriority(%d)",
			    w->w_limits.lim_worker_nice);
		w->w_nice_warned = 1;
		return;
	}
	/* The group's weight follows (a no-op where the group is not
	 * the worker's own). */
	(void)autogroup_set_nice(w->w_limits.lim_worker_nice, err,
	    sizeof(err));
	log_debug("nice %d", w->w_limits.lim_worker_nice);
	w->w_nice = w->w_limits.lim_worker_nice;
}

/* "host:pid:nonce": unique even when a container reuses pids. */
static void
worker_make_id(char *id, size_t len)
{
	char		host[128], *p;
	unsigned int	nonce = 0;

	if (gethostname(host, sizeof(host)) == -1)
		str_lcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (p = host; *p != '\0'; p++)
		if (*p == ':')
			*p = '-';
	if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		nonce = (unsigned int)time(NULL);
	snprintf(id, len, "%s:%ld:%04x", host, (long)getpid(), nonce & 0xffff);
}

/* Connects *conn, retrying with backoff until it works or we are told to
 * stop.  0 connected, -1 stopping. */
static int
worker_connect(struct worker *w, PGconn **conn, const char *role)
{
	char	err[512];

	PQfinish(*conn);
	*conn = db_connect_retry(w->w_cfg->database_url, role, 0, err,
	    sizeof(err));
	return *conn != NULL ? 0 : -1;
}

/* Makes sure the control and LISTEN connections are up.  0 or -1
 * (stopping).  A LISTEN connection that cannot be set up is left NULL:
 * the worker then polls. */
static int
worker_ensure(struct worker *w)
{
	const char	*params[1];
	char		 err[512], ms[16];
	int		 t;

	if (!db_alive(w->w_ctl)) {
		if (worker_connect(w, &w->w_ctl, "worker") == -1)
			return -1;
		t = w->w_cfg->job_lease / 2;
		if (t > WORKER_STMT_TIMEOUT_MAX)
			t = WORKER_STMT_TIMEOUT_MAX;
		snprintf(ms, sizeof(ms), "%d", t * 1000);
		params[0] = ms;
		if (db_exec(w->w_ctl, "SELECT set_config('statement_timeout', "
		    "$1, false), set_config('lock_timeout', $1, false)", 1,
		    params, err, sizeof(err)) == -1)
			log_warnx("setting statement_timeout: %s", err);
	}
	if (w->w_listen == NULL || PQstatus(w->w_listen) != CONNECTION_OK) {
		if (worker_connect(w, &w->w_listen, "worker listen") == -1)
			return -1;
		if (db_exec(w->w_listen, "LISTEN " JOBQ_CHANNEL, 0, NULL, err,
		    sizeof(err)) == -1 || db_exec(w->w_listen, "LISTEN "
		    LIMITS_CHANNEL, 0, NULL, err, sizeof(err)) == -1) {
			log_warnx("LISTEN failed, polling only: %s", err);
			PQfinish(w->w_listen);
			w->w_listen = NULL;
		}
	}
	return 0;
}

/* Waits up to ms for a NOTIFY or a signal. */
static void
worker_wait(struct worker *w, int ms)
{
	struct pollfd	 pfd[2];
	PGnotify	*n;
	nfds_t		 nfds = 1;

	pfd[0].fd = worker_wakefd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (w->w_listen != NULL && PQsocket(w->w_listen) >= 0) {
		pfd[1].fd = PQsocket(w->w_listen);
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfds = 2;
	}
	if (sigstop_flag)
		return;
	if (poll(pfd, nfds, ms) == -1) {
		if (errno != EINTR)
			log_warn("poll");
		return;
	}
	if (pfd[0].revents & POLLIN)
		sigstop_drain();
	if (nfds == 2 && pfd[1].revents != 0) {
		if (!PQconsumeInput(w->w_listen)) {
			char err[512];

			db_errmsg(w->w_listen, err, sizeof(err));
			log_warnx("LISTEN connection lost: %s", err);
			PQfinish(w->w_listen);
			w->w_listen = NULL;
			return;
		}
		while ((n = PQnotifies(w->w_listen)) != NULL) {
			log_debug("notified: %s %s", n->relname, n->extra);
			if (strcmp(n->relname, LIMITS_CHANNEL) == 0)
				w->w_limits_at = 0;	/* re-read now */
			PQfreemem(n);
		}
	}
}

/*
 * For /metrics (store/procstats.h): marks this worker alive (idle unless
 * it holds a lease) and adds its throttle waits, at most once a
 * WORKER_BEAT_S.  Failures are logged at debug only: metrics never stop
 * a worker.
 */
static void
worker_beat(struct worker *w)
{
	char	err[512];
	double	now = clock_mono();

	if (w->w_ctl == NULL || PQstatus(w->w_ctl) != CONNECTION_OK ||
	    (w->w_beat_at != 0 && now - w->w_beat_at < (double)WORKER_BEAT_S))
		return;
	w->w_beat_at = now;
	if (procstats_beat(w->w_ctl, w->w_id, w->w_node, "worker", 0, err,
	    sizeof(err)) == -1)
		log_debug("processes row: %s", err);
	(void)throttle_publish(w->w_ctl, 1);
}

/*
 * Records how the kind's run ended, as one lease-checked write.  Returns
 * 1 when the job must go on under the same lease (a pause withdrawn
 * before it was parked: jobq_paused said JOBQ_R_RUNNING), else 0.
 */
static int
worker_settle(struct worker *w, struct job_ctx *ctx, enum job_status st,
    const struct jobq_lease *l, double secs)
{
	enum jobq_state	 final = JOBQ_FAILED;
	const char	*err = job_ctx_error_text(ctx);
	char		 dberr[512] = "";
	int		 rc = JOBQ_R_OK, tries;

	if (st == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_LOST) {
		log_warnx("job %s: abandoned after losing its lease", l->l_id);
		return 0;
	}
	if (st == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_NONE) {
		st = JOB_RETRY;
		if (*err == '\0')
			err = "stopped without a reason";
	}
	/* A kind that reported a symptom of being stopped (an aborted COPY,
	 * a thread that gave up) was still stopped as asked. */
	if (st == JOB_RETRY && (job_ctx_stop_reason(ctx) == JOB_STOP_PAUSE ||
	    job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL ||
	    job_ctx_stop_reason(ctx) == JOB_STOP_TIMEOUT))
		st = JOB_STOPPED;
	/* Past its timeout a job fails for good, with the reason. */
	if (st == JOB_STOPPED &&
	    job_ctx_stop_reason(ctx) == JOB_STOP_TIMEOUT) {
		st = JOB_FAIL;
		err = job_ctx_error_text(ctx);
	}
	for (tries = 0; tries < 2; tries++) {
		switch (st) {
		case JOB_DONE:
			rc = jobq_complete(w->w_ctl, l,
			    job_ctx_result_json(ctx), dberr, sizeof(dberr));
			break;
		case JOB_RETRY:
		case JOB_FAIL:
			rc = jobq_fail(w->w_ctl, l, err, st == JOB_RETRY,
			    &final, dberr, sizeof(dberr));
			break;
		case JOB_STOPPED:
			if (job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL)
				rc = jobq_cancelled(w->w_ctl, l, dberr,
				    sizeof(dberr));
			else if (job_ctx_stop_reason(ctx) == JOB_STOP_PAUSE)
				rc = jobq_paused(w->w_ctl, l, dberr,
				    sizeof(dberr));
			else
				rc = jobq_release(w->w_ctl, l, dberr,
				    sizeof(dberr));
			break;
		}
		if (rc != -1 || !db_ensure(w->w_ctl))
			break;
	}
	if (rc == -1) {
		log_warnx("job %s: could not record its end (%s); the lease "
		    "will expire and the job be rescued", l->l_id, dberr);
		return 0;
	}
	if (rc == JOBQ_R_LOST) {
		log_warnx("job %s: lease lost before its end was recorded",
		    l->l_id);
		return 0;
	}
	if (st == JOB_DONE && rc == JOBQ_R_CANCEL) {
		/* Cancelled while it finished: cancelled, not completed. */
		job_files_remove(w->w_cfg->data_dir, l->l_id);
		log_info("job %s: cancelled as it finished; outputs removed",
		    l->l_id);
		return 0;
	}
	if (st == JOB_STOPPED && rc == JOBQ_R_RUNNING) {
		log_info("job %s: pause withdrawn before it took effect; "
		    "going on from the checkpoint", l->l_id);
		return 1;
	}
	switch (st) {
	case JOB_DONE:
		log_info("job %s: completed in %.1f s", l->l_id, secs);
		break;
	case JOB_RETRY:
	case JOB_FAIL:
		if (final == JOBQ_QUEUED)
			log_warnx("job %s: attempt %d failed, will retry: %s",
			    l->l_id, l->l_attempt, err);
		else
			log_warnx("job %s: %s: %s", l->l_id,
			    jobq_state_name(final), err);
		break;
	case JOB_STOPPED:
		log_info("job %s: %s", l->l_id,
		    job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL ? "cancelled" :
		    job_ctx_stop_reason(ctx) == JOB_STOP_PAUSE ?
		    "paused (checkpoint kept)" :
		    "released back to the queue (shutting down)");
		break;
	}
	return 0;
}

/*
 * Whatever a kind left open on its connection is abandoned: a transaction
 * is rolled back; a connection still busy (a COPY cut short) or broken is
 * closed, and the next job_ctx_conn makes a new one.
 */
static void
worker_reset_work(struct worker *w)
{
	char	err[512];

	if (w->w_work == NULL)
		return;
	switch (PQtransactionStatus(w->w_work)) {
	case PQTRANS_IDLE:
		return;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		if (db_exec(w->w_work, "ROLLBACK", 0, NULL, err,
		    sizeof(err)) == 0)
			return;
		break;
	default:
		break;
	}
	PQfinish(w->w_work);
	w->w_work = NULL;
}

static void
worker_run(struct worker *w, struct jobq_job *job,
    const struct jobq_lease *lease)
{
	const struct job_kind	*kind;
	struct job_ctx		*ctx;
	struct timespec		 t0, t1;
	enum job_status		 st;
	struct jobq_job		*fresh = NULL;	/* re-read after a
						   withdrawn pause */
	char			 err[512] = "";
	int			 again;

	if (job->j_prev_owner != NULL)
		log_info("job %s (%s): taken over from %s, attempt %d of %d",
		    job->j_id, job->j_kind, job->j_prev_owner,
		    job->j_attempts, job->j_max_attempts);
	else
		log_info("job %s (%s): claimed, attempt %d of %d", job->j_id,
		    job->j_kind, job->j_attempts, job->j_max_attempts);
	if ((kind = job_kind_find(job->j_kind)) == NULL) {
		(void)jobq_fail(w->w_ctl, lease, "unknown job kind", 0, NULL,
		    err, sizeof(err));
		return;
	}
	/* The job runs under the limits as of now, re-read while it runs. */
	worker_limits(w, 1);
	for (;;) {
		ctx = job_ctx_new(w->w_cfg, &w->w_limits, w->w_ctl,
		    &w->w_work, job, lease, &sigstop_flag, worker_wakefd, err,
		    sizeof(err));
		if (ctx == NULL) {
			char msg[600];

			snprintf(msg, sizeof(msg), "bad job: %s", err);
			(void)jobq_fail(w->w_ctl, lease, msg, 0, NULL, err,
			    sizeof(err));
			log_warnx("job %s: %s", job->j_id, msg);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = kind->k_run(ctx);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		worker_reset_work(w);
		again = worker_settle(w, ctx, st, lease,
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		job_ctx_free(ctx);
		if (!again)
			break;
		if (sigstop_flag) {
			/* Shutting down: back to the queue, as any job. */
			(void)jobq_release(w->w_ctl, lease, err, sizeof(err));
			break;
		}
		/* Still ours: run it again from the checkpoint it saved
		 * (re-read, as a resume after a real pause would).  If it
		 * cannot be read, the lease runs out and a claim rescues
		 * it. */
		jobq_job_free(fresh);
		fresh = NULL;
		if (jobq_get(w->w_ctl, lease->l_id, &fresh, err,
		    sizeof(err)) != 1) {
			log_warnx("job %s: re-reading it failed (%s); its "
			    "lease will expire and the job be rescued",
			    lease->l_id, err);
			break;
		}
		job = fresh;
	}
	jobq_job_free(fresh);
}

int
worker_main(struct cfg *cfg)
{
	struct worker		 w;
	const struct job_kind	*kinds;
	struct jobq_job		*job;
	struct jobq_lease	 lease;
	char			 err[512];
	size_t			 i, n;
	int			 r;

	memset(&w, 0, sizeof(w));
	w.w_cfg = cfg;
	limits_defaults(&w.w_limits);
	w.w_nice = WORKER_NICE;
	if ((worker_wakefd = sigstop_init()) == -1)
		return 1;
	worker_lower_priority();
	worker_make_id(w.w_id, sizeof(w.w_id));
	procstats_node(w.w_node, sizeof(w.w_node));
	kinds = job_kind_all(&n);
	for (i = 0; i < n && i < WORKER_MAX_KINDS; i++)
		w.w_kinds[w.w_nkinds++] = kinds[i].k_name;
	log_info("worker %s started (lease %d s, heartbeat %d s)", w.w_id,
	    cfg->job_lease, cfg->job_heartbeat);

	while (!sigstop_flag) {
		if (worker_ensure(&w) == -1)
			break;
		worker_limits(&w, 0);
		worker_beat(&w);
		r = jobq_claim(w.w_ctl, w.w_id, w.w_kinds, w.w_nkinds,
		    cfg->job_lease, &job, &lease, err, sizeof(err));
		if (r == 1) {
			worker_run(&w, job, &lease);
			jobq_job_free(job);
			/* Its last waits, and idle again, without delay. */
			w.w_beat_at = 0;
			continue;
		}
		if (r == -1) {
			log_warnx("claim failed: %s", err);
			if (PQstatus(w.w_ctl) != CONNECTION_OK)
				continue;	/* reconnect at once */
		}
		/* OpenHIM deliveries: only by idle workers, never a job's
		 * time (src/openhim/delivery.h); with OpenHIM's API set
		 * (pushed targets) or targets in the config file. */
		if ((cfg->openhim_api_url[0] != '\0' ||
		    cfg->nopenhim_targets > 0) &&
		    clock_mono() >= w.w_next_delivery) {
			w.w_next_delivery = clock_mono() + 1;
			if (delivery_run_due(w.w_ctl, cfg) > 0)
				continue;
		}
		worker_wait(&w, WORKER_POLL_MS);
		/*
		 * A burst of kick-offs is a burst of NOTIFYs, and each would
		 * be a claim; while nothing was claimable (say every slot is
		 * taken) that is work for the database and nothing else.
		 * So claims follow an empty one no sooner than
		 * WORKER_CLAIM_GAP_MS later; the NOTIFYs meanwhile merge.
		 */
		sigstop_pause(WORKER_CLAIM_GAP_MS);
	}

	if (w.w_ctl != NULL && PQstatus(w.w_ctl) == CONNECTION_OK) {
		(void)throttle_publish(w.w_ctl, 1);
		if (procstats_gone(w.w_ctl, w.w_id, err, sizeof(err)) == -1)
			log_debug("processes row: %s", err);
	}
	PQfinish(w.w_listen);
	PQfinish(w.w_ctl);
	PQfinish(w.w_work);
	sigstop_close();
	log_info("worker %s stopped", w.w_id);
	return 0;
}
