/*
 * queue_metrics.c — the job queue as PostgreSQL sees it, in Prometheus
 * text format, for GET /metrics (api_routes.c appends it to the HTTP
 * counters of http/http_metrics.h).
 *
 * Read at most once a second per process: the text is rendered from
 * jobq_stats and schedule_list on the calling MHD thread's connection,
 * kept under a mutex with the monotonic time of the read, and served
 * from there until it is a second old, so a scrape storm costs the
 * database one read a second.  A failed read serves
 * bulkhead_queue_up 0 and nothing else of the queue (never stale
 * numbers as if fresh).
 *
 * Metrics (labels kind, state: the state the admin API shows, with
 * "scheduled" for a queued job whose not_before is to come):
 *   bulkhead_queue_up                         1 if the read succeeded
 *   bulkhead_jobs{kind,state}                 jobs in the table
 *   bulkhead_queue_depth{kind}                queued jobs (not scheduled)
 *   bulkhead_queue_oldest_age_seconds{kind}   age of the oldest claimable
 *   bulkhead_job_rows{kind,state}             rows processed by those
 *                                             jobs (jobq.h JOBQ_ROWS:
 *                                             import loaded, export rows
 *                                             in finished files)
 *   bulkhead_job_rows_processed_total{kind}   the same over all states
 *   bulkhead_job_output_bytes_total{kind}     bytes in finished files
 *   bulkhead_schedule_last_fire_timestamp_seconds{schedule}
 *   bulkhead_schedule_next_fire_timestamp_seconds{schedule}
 *   bulkhead_schedule_last_result{schedule,state}  1 for the state of
 *                                             the last job it started
 *   bulkhead_workers{state="busy|idle"}       worker processes holding a
 *                                             live lease, and live ones
 *                                             holding none (their
 *                                             processes row is fresh:
 *                                             store/procstats.h)
 *   bulkhead_throttle_waits_total{cause}      times a bulk job waited in
 *                                             its throttle (jobs/throttle.h;
 *                                             cause "limit": the limits'
 *                                             rates, "interactive": the
 *                                             latency controller's cap)
 *   bulkhead_throttle_wait_seconds_total{cause}  time spent so
 *   bulkhead_lease_rescues_total              jobs whose lease expired and
 *                                             that a claim or the
 *                                             scheduler took back (jobq.c)
 *   bulkhead_scheduler_leader                 1 if the leader scheduler
 *                                             runs on this process's node
 *                                             (host name), else 0
 *   bulkhead_openhim_deliveries{target,state} OpenHIM deliveries (only
 *                                             when openhim_api_url is set)
 *   bulkhead_status_cache_hits_total, _misses_total  status polls of
 *                                             this process answered from
 *                                             bulk/export_cache, or loaded
 *                                             (never cached: read each
 *                                             scrape)
 * The job _total values fall when finished jobs are pruned (a counter
 * reset in Prometheus terms).  The throttle and rescue counters are sums
 * over every process that ever ran (store/procstats.h), written by the
 * workers at most once a second.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/queue_metrics.h"
#include "bulk/export_cache.h"
#include "http/http_db.h"
#include "jobs/cron.h"
#include "jobs/schedule.h"
#include "jobs/scheduler.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/deliveries.h"
#include "store/jobq.h"
#include "store/procstats.h"

#define QUEUE_METRICS_TTL_MS	1000	/* one database read a second */

static pthread_mutex_t	 queue_metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static char		*queue_metrics_text;	/* owned, under the lock */
static int		 queue_metrics_with_openhim;	/* set before serving */
static size_t		 queue_metrics_len;
static struct timespec	 queue_metrics_at;	/* when it was read */
static char		 queue_metrics_node[PROCSTATS_NODE_MAX]; /* under
							   the lock */

static int	 queue_metrics_read(struct buf *);
static int	 queue_metrics_kinds(struct buf *, const struct jobq_stat *,
		    size_t);
static int	 queue_metrics_schedules(struct buf *, PGconn *);
static int	 queue_metrics_deliveries(struct buf *, PGconn *);
static int	 queue_metrics_procs(struct buf *, PGconn *);
static int	 queue_metrics_head(struct buf *, const char *, const char *,
		    const char *);
static int	 queue_metrics_ts(struct buf *, const char *, const char *,
		    const char *);
static int64_t	 queue_metrics_ms_since(const struct timespec *);

static int64_t
queue_metrics_ms_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int
queue_metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* name{schedule="s"} with the epoch of the RFC 3339 instant ts. */
static int
queue_metrics_ts(struct buf *b, const char *name, const char *sched,
    const char *ts)
{
	time_t	t;

	if (ts == NULL || cron_time_parse(ts, &t) == -1)
		return 0;
	return buf_printf(b, "%s{schedule=\"%s\"} %lld\n", name, sched,
	    (long long)t);
}

/* Labels are kind names (job_kinds.c) and states: no quoting needed. */
static int
queue_metrics_kinds(struct buf *b, const struct jobq_stat *st, size_t n)
{
	size_t	i, j;
	int64_t	sum;

	if (queue_metrics_head(b, "bulkhead_jobs", "gauge", "Jobs in the "
	    "queue table by kind and state.") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_printf(b, "bulkhead_jobs{kind=\"%s\",state=\"%s\"} "
		    "%lld\n", st[i].st_kind, st[i].st_state,
		    (long long)st[i].st_jobs) == -1)
			return -1;
	if (queue_metrics_head(b, "bulkhead_queue_depth", "gauge", "Queued "
	    "jobs by kind (not counting scheduled ones).") == -1 ||
	    queue_metrics_head(b, "bulkhead_queue_oldest_age_seconds",
	    "gauge", "Age of the oldest claimable queued job by kind.") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(st[i].st_state, "queued") == 0 &&
		    (buf_printf(b, "bulkhead_queue_depth{kind=\"%s\"} %lld\n",
		    st[i].st_kind, (long long)st[i].st_jobs) == -1 ||
		    buf_printf(b, "bulkhead_queue_oldest_age_seconds{kind="
		    "\"%s\"} %.3f\n", st[i].st_kind, st[i].st_oldest_s) == -1))
			return -1;
	if (queue_metrics_head(b, "bulkhead_job_rows", "gauge", "Rows "
	    "processed by the jobs of a kind in a state (import: loaded; "
	    "export: in finished files).") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_printf(b, "bulkhead_job_rows{kind=\"%s\",state=\"%s\"} "
		    "%lld\n", st[i].st_kind, st[i].st_state,
		    (long long)st[i].st_rows) == -1)
			return -1;
	if (queue_metrics_head(b, "bulkhead_job_rows_processed_total",
	    "counter", "Rows processed by the jobs of a kind still in the "
	    "table.") == -1)
		return -1;
	/* st is ordered by kind: one line per kind, summed. */
	for (i = 0; i < n; i = j) {
		for (sum = 0, j = i; j < n &&
		    strcmp(st[j].st_kind, st[i].st_kind) == 0; j++)
			sum += st[j].st_rows;
		if (buf_printf(b, "bulkhead_job_rows_processed_total{kind="
		    "\"%s\"} %lld\n", st[i].st_kind, (long long)sum) == -1)
			return -1;
	}
	if (queue_metrics_head(b, "bulkhead_job_output_bytes_total",
	    "counter", "Bytes in the finished output files of the jobs of a "
	    "kind still in the table.") == -1)
		return -1;
	for (i = 0; i < n; i = j) {
		for (sum = 0, j = i; j < n &&
		    strcmp(st[j].st_kind, st[i].st_kind) == 0; j++)
			sum += st[j].st_bytes;
		if (buf_printf(b, "bulkhead_job_output_bytes_total{kind="
		    "\"%s\"} %lld\n", st[i].st_kind, (long long)sum) == -1)
			return -1;
	}
	return 0;
}

/* Schedule names match ^[A-Za-z0-9][A-Za-z0-9._-]*$: no quoting. */
static int
queue_metrics_schedules(struct buf *b, PGconn *conn)
{
	struct schedule	**list = NULL;
	const char	**ids = NULL;
	char		(*st)[JOBQ_STATE_MAX] = NULL;
	char		  err[512];
	size_t		  i, n = 0;
	int		  rc = -1;

	if (schedule_list(conn, &list, &n, err, sizeof(err)) != 0) {
		log_warnx("metrics: schedules: %s", err);
		goto out;
	}
	ids = xcalloc(n + 1, sizeof(*ids));
	st = xcalloc(n + 1, sizeof(*st));
	for (i = 0; i < n; i++)
		ids[i] = list[i]->sc_last_job;
	if (jobq_states(conn, ids, n, st, err, sizeof(err)) == -1) {
		log_warnx("metrics: schedule results: %s", err);
		goto out;
	}
	if (queue_metrics_head(b,
	    "bulkhead_schedule_last_fire_timestamp_seconds", "gauge",
	    "The fire instant the schedule's last job stands for.") == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (queue_metrics_ts(b,
		    "bulkhead_schedule_last_fire_timestamp_seconds",
		    list[i]->sc_name, list[i]->sc_last_fire) == -1)
			goto out;
	if (queue_metrics_head(b,
	    "bulkhead_schedule_next_fire_timestamp_seconds", "gauge",
	    "The schedule's next fire (absent while paused).") == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (queue_metrics_ts(b,
		    "bulkhead_schedule_next_fire_timestamp_seconds",
		    list[i]->sc_name, list[i]->sc_next_fire) == -1)
			goto out;
	if (queue_metrics_head(b, "bulkhead_schedule_last_result", "gauge",
	    "1 for the state of the last job the schedule started.") == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (st[i][0] != '\0' && buf_printf(b,
		    "bulkhead_schedule_last_result{schedule=\"%s\",state="
		    "\"%s\"} 1\n", list[i]->sc_name, st[i]) == -1)
			goto out;
	rc = 0;
 out:
	free(ids);
	free(st);
	schedule_list_free(list, n);
	return rc;
}

/* OpenHIM deliveries by target and state (store/deliveries.h). */
static int
queue_metrics_deliveries(struct buf *b, PGconn *conn)
{
	struct deliveries_count	*dc = NULL;
	char			 err[512];
	size_t			 i, n = 0;
	int			 rc = -1;

	if (deliveries_counts(conn, &dc, &n, err, sizeof(err)) == -1) {
		log_warnx("metrics: deliveries: %s", err);
		http_db_discard();
		return -1;
	}
	if (queue_metrics_head(b, "bulkhead_openhim_deliveries", "gauge",
	    "OpenHIM deliveries by target and state.") == -1)
		goto out;
	for (i = 0; i < n; i++) {
		/* Target names are [a-z0-9_-] (openhim_cfg.h) except
		 * unchecked ones from jobs: skip anything to escape. */
		if (strpbrk(dc[i].dc_target, "\"\\\n") != NULL)
			continue;
		if (buf_printf(b, "bulkhead_openhim_deliveries{target=\"%s\","
		    "state=\"%s\"} %lld\n", dc[i].dc_target, dc[i].dc_state,
		    (long long)dc[i].dc_n) == -1)
			goto out;
	}
	rc = 0;
 out:
	free(dc);
	return rc;
}

/*
 * Workers busy and idle, throttle waits, lease rescues and the leader
 * (store/procstats.h).  0, or -1 (logged, the connection discarded on a
 * database error).
 */
static int
queue_metrics_procs(struct buf *b, PGconn *conn)
{
	struct procstats	ps;
	char			err[512];
	int64_t			busy, idle;
	int			c;

	if (queue_metrics_node[0] == '\0')
		procstats_node(queue_metrics_node, sizeof(queue_metrics_node));
	if (jobq_workers(conn, PROCSTATS_FRESH_S, &busy, &idle, err,
	    sizeof(err)) == -1 || procstats_read(conn, queue_metrics_node,
	    SCHEDULER_LOCK_KEY, &ps, err, sizeof(err)) == -1) {
		log_warnx("metrics: processes: %s", err);
		http_db_discard();
		return -1;
	}
	if (queue_metrics_head(b, "bulkhead_workers", "gauge", "Worker "
	    "processes holding a live job lease (busy) or alive without "
	    "one (idle).") == -1 ||
	    buf_printf(b, "bulkhead_workers{state=\"busy\"} %lld\n"
	    "bulkhead_workers{state=\"idle\"} %lld\n", (long long)busy,
	    (long long)idle) == -1 ||
	    queue_metrics_head(b, "bulkhead_throttle_waits_total", "counter",
	    "Times a bulk job waited in its throttle, by cause (limit: the "
	    "limits' rates; interactive: the latency controller's cap).") ==
	    -1)
		return -1;
	for (c = 0; c < PROCSTATS_NCAUSES; c++)
		if (buf_printf(b, "bulkhead_throttle_waits_total{cause=\"%s\"} "
		    "%.0f\n", procstats_cause_name(c), ps.ps_waits[c]) == -1)
			return -1;
	if (queue_metrics_head(b, "bulkhead_throttle_wait_seconds_total",
	    "counter", "Seconds bulk jobs waited in their throttle, by "
	    "cause.") == -1)
		return -1;
	for (c = 0; c < PROCSTATS_NCAUSES; c++)
		if (buf_printf(b, "bulkhead_throttle_wait_seconds_total{cause="
		    "\"%s\"} %.3f\n", procstats_cause_name(c),
		    ps.ps_wait_s[c]) == -1)
			return -1;
	if (queue_metrics_head(b, "bulkhead_lease_rescues_total", "counter",
	    "Jobs whose lease expired and that were taken back (by a claim "
	    "or the scheduler).") == -1 ||
	    buf_printf(b, "bulkhead_lease_rescues_total %.0f\n",
	    ps.ps_rescues) == -1 ||
	    queue_metrics_head(b, "bulkhead_scheduler_leader", "gauge", "1 if "
	    "the leader scheduler runs on this node.") == -1 ||
	    buf_printf(b, "bulkhead_scheduler_leader %d\n", ps.ps_leader) == -1)
		return -1;
	return 0;
}

/* Reads the queue into b.  0, or -1 (logged; b holds a partial text). */
static int
queue_metrics_read(struct buf *b)
{
	struct jobq_stat	*st = NULL;
	PGconn			*conn;
	char			 err[512];
	size_t			 n = 0;
	int			 rc = -1;

	if ((conn = http_db_conn(err, sizeof(err))) == NULL) {
		log_warnx("metrics: database: %s", err);
		return -1;
	}
	if (jobq_stats(conn, &st, &n, err, sizeof(err)) == -1) {
		log_warnx("metrics: queue: %s", err);
		http_db_discard();
		goto out;
	}
	if (queue_metrics_head(b, "bulkhead_queue_up", "gauge", "1 if the "
	    "queue could be read from PostgreSQL.") == -1 ||
	    buf_puts(b, "bulkhead_queue_up 1\n") == -1 ||
	    queue_metrics_kinds(b, st, n) == -1 ||
	    queue_metrics_procs(b, conn) == -1 ||
	    queue_metrics_schedules(b, conn) == -1 ||
	    (queue_metrics_with_openhim &&
	    queue_metrics_deliveries(b, conn) == -1))
		goto out;
	rc = 0;
 out:
	free(st);
	return rc;
}

int
queue_metrics_render(struct buf *b)
{
	struct buf	fresh;
	uint64_t	hits, misses;
	int		rc;

	pthread_mutex_lock(&queue_metrics_lock);
	if (queue_metrics_text == NULL ||
	    queue_metrics_ms_since(&queue_metrics_at) >= QUEUE_METRICS_TTL_MS) {
		/* Read under the lock: concurrent scrapes wait for one
		 * read instead of making their own. */
		buf_init(&fresh, QUEUE_METRICS_MAX_TEXT);
		if (queue_metrics_read(&fresh) == -1) {
			buf_reset(&fresh);
			if (queue_metrics_head(&fresh, "bulkhead_queue_up",
			    "gauge", "1 if the queue could be read from "
			    "PostgreSQL.") == -1 ||
			    buf_puts(&fresh, "bulkhead_queue_up 0\n") == -1)
				buf_reset(&fresh);
		}
		free(queue_metrics_text);
		queue_metrics_text = xmalloc(fresh.b_len + 1);
		memcpy(queue_metrics_text, fresh.b_data != NULL ?
		    fresh.b_data : "", fresh.b_len);
		queue_metrics_text[fresh.b_len] = '\0';
		queue_metrics_len = fresh.b_len;
		clock_gettime(CLOCK_MONOTONIC, &queue_metrics_at);
		buf_free(&fresh);
	}
	rc = buf_append(b, queue_metrics_text, queue_metrics_len);
	pthread_mutex_unlock(&queue_metrics_lock);
	export_cache_stats(&hits, &misses);
	if (rc == -1 ||
	    queue_metrics_head(b, "bulkhead_status_cache_hits_total",
	    "counter", "Status polls answered from this process's cache.") ==
	    -1 ||
	    buf_printf(b, "bulkhead_status_cache_hits_total %llu\n",
	    (unsigned long long)hits) == -1 ||
	    queue_metrics_head(b, "bulkhead_status_cache_misses_total",
	    "counter", "Status polls this process loaded from the "
	    "database.") == -1 ||
	    buf_printf(b, "bulkhead_status_cache_misses_total %llu\n",
	    (unsigned long long)misses) == -1)
		return -1;
	return 0;
}

void
queue_metrics_openhim(int on)
{
	queue_metrics_with_openhim = on;
}

void
queue_metrics_shutdown(void)
{
	pthread_mutex_lock(&queue_metrics_lock);
	free(queue_metrics_text);
	queue_metrics_text = NULL;
	pthread_mutex_unlock(&queue_metrics_lock);
}
