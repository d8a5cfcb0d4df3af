/*
 * job_noop.c — the "noop" job kind (see job_noop.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jobs/job_noop.h"
#include "store/jobq.h"

#define NOOP_MAX_STEPS		10000
#define NOOP_MAX_STEP_MS	60000
#define NOOP_MAX_FAIL_TIMES	100
#define NOOP_MAX_OUTPUTS	100

struct noop_params {
	int	np_steps;
	int	np_step_ms;
	int	np_fail_times;
	int	np_outputs;
};

static int	noop_int(const cJSON *, const char *, int, int, int, int *,
		    char *, size_t);
static int	noop_parse(const cJSON *, struct noop_params *, char *,
		    size_t);

/* Reads the integer member name of obj into *out (def if absent). */
static int
noop_int(const cJSON *obj, const char *name, int min, int max, int def,
    int *out, char *errbuf, size_t errlen)
{
	const cJSON	*v;

	*out = def;
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max) {
		snprintf(errbuf, errlen, "noop: \"%s\" must be an integer "
		    "from %d to %d", name, min, max);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

static int
noop_parse(const cJSON *params, struct noop_params *np, char *errbuf,
    size_t errlen)
{
	const cJSON	*item;

	cJSON_ArrayForEach(item, params) {
		if (strcmp(item->string, "steps") != 0 &&
		    strcmp(item->string, "step_ms") != 0 &&
		    strcmp(item->string, "fail_times") != 0 &&
		    strcmp(item->string, "outputs") != 0) {
			snprintf(errbuf, errlen, "noop: unknown parameter "
			    "\"%.64s\"", item->string);
			return -1;
		}
	}
	if (noop_int(params, "steps", 0, NOOP_MAX_STEPS, 3, &np->np_steps,
	    errbuf, errlen) == -1 ||
	    noop_int(params, "step_ms", 0, NOOP_MAX_STEP_MS, 100,
	    &np->np_step_ms, errbuf, errlen) == -1 ||
	    noop_int(params, "fail_times", 0, NOOP_MAX_FAIL_TIMES, 0,
	    &np->np_fail_times, errbuf, errlen) == -1 ||
	    noop_int(params, "outputs", 0, NOOP_MAX_OUTPUTS, 0,
	    &np->np_outputs, errbuf, errlen) == -1)
		return -1;
	return 0;
}

int
job_noop_check(const cJSON *params, char *errbuf, size_t errlen)
{
	struct noop_params	np;

	return noop_parse(params, &np, errbuf, errlen);
}

enum job_status
job_noop_run(struct job_ctx *ctx)
{
	struct noop_params	 np;
	struct jobq_output	 out;
	const cJSON		*cp, *v;
	char			 err[256], progress[96], checkpoint[64];
	char			 result[96];
	int			 i, start = 0, done_outputs = 0;

	if (noop_parse(job_ctx_params(ctx), &np, err, sizeof(err)) == -1) {
		job_ctx_error(ctx, "%s", err);
		return JOB_FAIL;
	}
	if (job_ctx_attempt(ctx) <= np.np_fail_times) {
		job_ctx_error(ctx, "noop: failing on purpose (attempt %d of "
		    "fail_times %d)", job_ctx_attempt(ctx), np.np_fail_times);
		return JOB_RETRY;
	}
	if ((cp = job_ctx_checkpoint(ctx)) != NULL) {
		v = cJSON_GetObjectItemCaseSensitive(cp, "step");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
		    v->valuedouble <= np.np_steps)
			start = (int)v->valuedouble;
		v = cJSON_GetObjectItemCaseSensitive(cp, "outputs");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
		    v->valuedouble <= np.np_outputs)
			done_outputs = (int)v->valuedouble;
	}

	snprintf(progress, sizeof(progress), "{\"done\":%d,\"total\":%d}",
	    start, np.np_steps);
	if (job_ctx_save(ctx, progress, NULL) == -1)
		return JOB_STOPPED;
	for (i = start + 1; i <= np.np_steps; i++) {
		if (job_ctx_sleep(ctx, np.np_step_ms) == -1)
			return JOB_STOPPED;
		snprintf(progress, sizeof(progress),
		    "{\"done\":%d,\"total\":%d}", i, np.np_steps);
		snprintf(checkpoint, sizeof(checkpoint), "{\"step\":%d}", i);
		if (job_ctx_save(ctx, progress, checkpoint) == -1)
			return JOB_STOPPED;
	}
	/* Pretend files: each recorded with the checkpoint that follows
	 * it, so a rescued job neither loses nor repeats one. */
	for (i = done_outputs + 1; i <= np.np_outputs; i++) {
		memset(&out, 0, sizeof(out));
		out.o_type = "Basic";
		out.o_count = i;
		snprintf(checkpoint, sizeof(checkpoint),
		    "{\"step\":%d,\"outputs\":%d}", np.np_steps, i);
		if (job_ctx_output(ctx, &out, checkpoint) == -1)
			return job_ctx_stop_reason(ctx) == JOB_STOP_NONE ?
			    JOB_RETRY : JOB_STOPPED;
	}
	snprintf(result, sizeof(result), "{\"steps\":%d,\"resumed_from\":%d}",
	    np.np_steps, start);
	job_ctx_result(ctx, result);
	return JOB_DONE;
}
