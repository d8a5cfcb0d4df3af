/*
 * test_jobq.c — the job engine's pure parts: state names, the JSON form
 * of a job, and submit-time validation of kinds and parameters.  The
 * queue's SQL is tested end to end (tests/e2e/test_jobs.py).
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "jobs/job_kinds.h"
#include "store/jobq.h"
#include "lib/buf.h"

static void
test_states(void)
{
	enum jobq_state	st;
	int		i;

	for (i = 0; i < JOBQ_NSTATES; i++) {
		CHECK(jobq_state_parse(jobq_state_name((enum jobq_state)i),
		    &st) == 0);
		CHECK((int)st == i);
	}
	CHECK(jobq_state_parse("sleeping", &st) == -1);
	CHECK(jobq_state_parse("", &st) == -1);
	CHECK(strcmp(jobq_state_name(JOBQ_NSTATES), "unknown") == 0);
	CHECK(jobq_state_is_final(JOBQ_COMPLETED));
	CHECK(jobq_state_is_final(JOBQ_FAILED));
	CHECK(jobq_state_is_final(JOBQ_CANCELLED));
	CHECK(!jobq_state_is_final(JOBQ_QUEUED));
	CHECK(!jobq_state_is_final(JOBQ_RUNNING));
	CHECK(!jobq_state_is_final(JOBQ_CANCELLING));
	CHECK(!jobq_state_is_final(JOBQ_PAUSED));
}

static void
test_job_json(void)
{
	struct jobq_job	j;
	struct buf	b;
	char		id[] = "0123456789abcdef0123456789abcdef";
	char		kind[] = "noop", params[] = "{\"steps\":2}";
	char		err[] = "bad \"quote\"\n", client[] = "c1";

	memset(&j, 0, sizeof(j));
	j.j_id = id;
	j.j_kind = kind;
	j.j_params = params;
	j.j_client = client;
	j.j_state = JOBQ_FAILED;
	j.j_attempts = 2;
	j.j_max_attempts = 5;
	j.j_error = err;
	buf_init(&b, 1 << 16);
	CHECK(jobq_job_json(&j, &b) == 0);
	CHECK(strstr(b.b_data, "\"state\":\"failed\"") != NULL);
	CHECK(strstr(b.b_data, "\"params\":{\"steps\":2}") != NULL);
	CHECK(strstr(b.b_data, "\"error\":\"bad \\\"quote\\\"\\n\"") != NULL);
	CHECK(strstr(b.b_data, "\"result\":null") != NULL);
	CHECK(strstr(b.b_data, "\"attempts\":2,\"max_attempts\":5") != NULL);
	CHECK(b.b_data[0] == '{' && b.b_data[b.b_len - 1] == '}');
	buf_free(&b);

	buf_init(&b, 16);		/* too small: fails, never overflows */
	CHECK(jobq_job_json(&j, &b) == -1);
	buf_free(&b);
}

static void
test_kind_check(void)
{
	char	err[256];
	size_t	n;

	CHECK(job_kind_all(&n) != NULL && n >= 1);
	CHECK(job_kind_find("noop") != NULL);
	CHECK(job_kind_find("nope") == NULL);
	CHECK(job_kind_check("noop", NULL, NULL, err, sizeof(err)) == 0);
	CHECK(job_kind_check("noop", "{}", NULL, err, sizeof(err)) == 0);
	CHECK(job_kind_check("noop", "{\"steps\":10000,\"step_ms\":0,"
	    "\"fail_times\":1,\"outputs\":2}", NULL, err, sizeof(err)) == 0);
	CHECK(job_kind_check("nope", "{}", NULL, err, sizeof(err)) == -1);
	CHECK(strstr(err, "unknown job kind") != NULL);
	CHECK(job_kind_check("noop", "{", NULL, err, sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{} x", NULL, err, sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "[]", NULL, err, sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"steps\":10001}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"steps\":-1}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"steps\":1.5}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"steps\":\"3\"}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"step_ms\":60001}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(job_kind_check("noop", "{\"other\":1}", NULL, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "other") != NULL);
	/* The client matters to some kinds: last-success is a schedule's. */
	CHECK(job_kind_check("export", "{\"level\":\"system\",\"_since\":"
	    "\"last-success\"}", "schedule:nightly", err, sizeof(err)) == 0);
	CHECK(job_kind_check("export", "{\"level\":\"system\",\"_since\":"
	    "\"last-success\"}", NULL, err, sizeof(err)) == -1);
	CHECK(strstr(err, "last-success") != NULL);
	CHECK(job_kind_check("export", "{\"level\":\"system\",\"since\":"
	    "\"last-success\"}", "schedule:", err, sizeof(err)) == -1);
	CHECK(job_kind_check("export", "{\"level\":\"system\",\"_since\":"
	    "\"last-success\"}", "ip:127.0.0.1", err, sizeof(err)) == -1);
	CHECK(job_kind_check("export", "{\"level\":\"system\"}", NULL, err,
	    sizeof(err)) == 0);
}

int
main(void)
{
	test_states();
	test_job_json();
	test_kind_check();
	return CHECK_DONE();
}
