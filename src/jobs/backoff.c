/*
 * backoff.c — the bulk job's half of the interactive-latency controller
 * (see backoff.h for the rule; the API's half is api/api_interactive.c).
 *
 * DESIGN.  The controller scales a rate it can measure: rows/s through
 * the job's throttle (an import's lines, an export's rows), which is
 * what the throttle can cap.  Rows are the right unit here: every kind
 * accounts them, and they are what the work a job makes PostgreSQL do
 * grows with.  A step is one statement on the control connection, a
 * second apart, so the controller costs the database one round trip a
 * second per running job.
 */
#include <stdio.h>
#include <string.h>

#include "core/autogroup.h"
#include "core/cfg.h"
#include "jobs/backoff.h"
#include "jobs/throttle.h"
#include "lib/log.h"

static void	backoff_boost(struct backoff *, double, int64_t, double);

void
backoff_init(struct backoff *b, const struct cfg *cfg, const char *kind,
    const char *id, int worker_nice, double now)
{
	memset(b, 0, sizeof(*b));
	b->b_on = strcmp(cfg->interactive_control, "on") == 0 &&
	    cfg->interactive_p99_target_ms > 0 &&
	    (strcmp(kind, "import") == 0 || strcmp(kind, "export") == 0 ||
	    strcmp(kind, "renewal-export") == 0);
	b->b_target_ms = cfg->interactive_p99_target_ms;
	/* The hold after a cut: one window, so the cut shows in the p99
	 * read before another is made. */
	aimd_init(&b->b_aimd, (double)cfg->interactive_floor_pct / 100.0,
	    BACKOFF_DECREASE, BACKOFF_INCREASE,
	    (double)cfg->interactive_window_ms / 1000.0 + BACKOFF_STEP_S);
	b->b_api.ia_p99_ms = -1;
	b->b_next = now + BACKOFF_STEP_S;
	b->b_last_t = b->b_started = b->b_win_t = now;
	snprintf(b->b_proc, sizeof(b->b_proc), "job %s", id);
	b->b_base_nice = b->b_nice = worker_nice < 0 ? 0 : worker_nice;
}

/* The floor as a guarantee (backoff.h): once per window, one change
 * of the group's nice, judged on the rows/s over that window. */
static void
backoff_boost(struct backoff *b, double floor_rate, int64_t rows,
    double now)
{
	char	err[256];
	double	rate;
	int	nice = b->b_nice;

	if (now - b->b_win_t < BACKOFF_STARVED_S)
		return;
	rate = (double)(rows - b->b_win_rows) / (now - b->b_win_t);
	b->b_win_t = now;
	b->b_win_rows = rows;
	if (rate < floor_rate * BACKOFF_STARVED && nice > 0)
		nice = nice > BACKOFF_BOOST_STEP ? nice - BACKOFF_BOOST_STEP :
		    0;
	else if (rate > floor_rate * BACKOFF_SATED && nice < b->b_base_nice)
		nice = nice + BACKOFF_BOOST_STEP < b->b_base_nice ? nice +
		    BACKOFF_BOOST_STEP : b->b_base_nice;
	if (nice == b->b_nice)
		return;
	if (autogroup_set_nice(nice, err, sizeof(err)) == -1) {
		log_debug("%s: group nice %d: %s", b->b_proc, nice, err);
		return;
	}
	if ((nice < b->b_base_nice) != b->b_boosted)
		log_info("%s: %s (%.0f rows/s, floor %.0f rows/s)", b->b_proc,
		    nice < b->b_base_nice ? "starved below its floor: "
		    "raising its group's CPU weight" : "above its floor: "
		    "CPU weight back", rate, floor_rate);
	b->b_boosted = nice < b->b_base_nice;
	b->b_nice = nice;
}

void
backoff_step(struct backoff *b, PGconn *ctl, struct throttle *t, double now)
{
	char	err[512];
	int64_t	rows, cap;
	double	f, dt, p99;

	if (!b->b_on || now < b->b_next)
		return;
	b->b_next = now + BACKOFF_STEP_S;
	throttle_totals(t, &rows, NULL, NULL);
	dt = now - b->b_last_t;
	if (dt > 0)
		b->b_rate = (double)(rows - b->b_last_rows) / dt;
	b->b_last_t = now;
	b->b_last_rows = rows;
	b->b_ref = aimd_reference(b->b_ref, b->b_rate, (double)b->b_cap);
	if (interactive_publish_job(ctl, b->b_proc, b->b_aimd.a_factor,
	    b->b_rate, &b->b_api, err, sizeof(err)) == -1) {
		if (!b->b_warned)
			log_warnx("%s: interactive latency unknown (%s): "
			    "running as if it were low", b->b_proc, err);
		b->b_warned = 1;
		b->b_api.ia_procs = 0;
		b->b_api.ia_p99_ms = -1;
	} else
		b->b_published = 1;
	p99 = b->b_api.ia_procs > 0 ? b->b_api.ia_p99_ms : -1;
	f = aimd_step(&b->b_aimd, now, p99, b->b_target_ms);
	/* The first seconds are the job's to start up uncapped: a rate
	 * measured while it ramps up is no reference. */
	if (b->b_ref > 0 && now - b->b_started >= BACKOFF_WARMUP_S)
		backoff_boost(b, b->b_aimd.a_floor * b->b_ref, rows, now);
	if (f >= 1 || b->b_ref <= 0 || now - b->b_started < BACKOFF_WARMUP_S)
		cap = 0;
	else {
		cap = (int64_t)(f * b->b_ref);
		if (cap < 1)
			cap = 1;
	}
	if ((cap == 0) != (b->b_cap == 0))
		log_info("%s: %s (interactive p99 %.1f ms, target %.0f ms, "
		    "factor %.2f, %.0f rows/s)", b->b_proc, cap ? "backing "
		    "off" : "back to full rate", p99, b->b_target_ms, f,
		    b->b_rate);
	else
		log_debug("%s: p99 %.1f ms factor %.2f cap %lld rate %.0f",
		    b->b_proc, p99, f, (long long)cap, b->b_rate);
	b->b_cap = cap;
	throttle_set_cap(t, cap);
}

void
backoff_progress(const struct backoff *b, char *out, size_t outlen)
{
	if (!b->b_on) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, outlen, ",\"interactive\":{\"factor\":%.3f,"
	    "\"p99_ms\":%.2f,\"target_ms\":%.0f,\"in_flight\":%d,"
	    "\"cap_rows_per_s\":%lld,\"rate_rows_per_s\":%.0f,"
	    "\"cuts\":%ld,\"group_nice\":%d}", b->b_aimd.a_factor,
	    b->b_aimd.a_p99_ms, b->b_target_ms, b->b_api.ia_in_flight,
	    (long long)b->b_cap, b->b_rate, b->b_aimd.a_cuts, b->b_nice);
}

void
backoff_end(struct backoff *b, PGconn *ctl)
{
	char	err[512];

	if (b->b_boosted && autogroup_set_nice(b->b_base_nice, err,
	    sizeof(err)) == 0) {
		b->b_nice = b->b_base_nice;
		b->b_boosted = 0;
	}

	if (!b->b_published || ctl == NULL)
		return;
	if (interactive_forget(ctl, b->b_proc, err, sizeof(err)) == -1)
		log_debug("%s: %s", b->b_proc, err);
	b->b_published = 0;
}
