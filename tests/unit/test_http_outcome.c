/*
 * test_http_outcome.c — OperationOutcome bodies: shape, escaping, the
 * HTTP status to IssueType map, and the buffer limit.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http/http_outcome.h"
#include "lib/buf.h"

static int	passed, failed;

#define CHECK(cond) do {						\
	if (cond)							\
		passed++;						\
	else {								\
		failed++;						\
		fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
	}								\
} while (0)

static void
test_shape(void)
{
	struct buf	 b;
	cJSON		*j, *issue;

	buf_init(&b, 4096);
	CHECK(http_outcome_write(&b, "error", "not-found",
	    "no \"such\" thing\\\n\x01") == 0);
	CHECK(strcmp(b.b_data, "{\"resourceType\":\"OperationOutcome\","
	    "\"issue\":[{\"severity\":\"error\",\"code\":\"not-found\","
	    "\"diagnostics\":\"no \\\"such\\\" thing\\\\\\n\\u0001\"}]}") == 0);
	j = cJSON_Parse(b.b_data);
	CHECK(j != NULL);
	issue = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "issue"), 0);
	CHECK(strcmp(cJSON_GetObjectItem(j, "resourceType")->valuestring,
	    "OperationOutcome") == 0);
	CHECK(strcmp(cJSON_GetObjectItem(issue, "diagnostics")->valuestring,
	    "no \"such\" thing\\\n\x01") == 0);
	cJSON_Delete(j);

	buf_reset(&b);
	CHECK(http_outcome_write(&b, "warning", "processing", NULL) == 0);
	CHECK(strcmp(b.b_data, "{\"resourceType\":\"OperationOutcome\","
	    "\"issue\":[{\"severity\":\"warning\",\"code\":\"processing\"}]}")
	    == 0);
	buf_free(&b);

	buf_init(&b, 40);
	CHECK(http_outcome_write(&b, "error", "invalid", "x") == -1);
	buf_free(&b);
}

static void
test_codes(void)
{
	CHECK(strcmp(http_outcome_code(400), "invalid") == 0);
	CHECK(strcmp(http_outcome_code(401), "security") == 0);
	CHECK(strcmp(http_outcome_code(403), "security") == 0);
	CHECK(strcmp(http_outcome_code(404), "not-found") == 0);
	CHECK(strcmp(http_outcome_code(405), "not-supported") == 0);
	CHECK(strcmp(http_outcome_code(406), "not-supported") == 0);
	CHECK(strcmp(http_outcome_code(413), "too-long") == 0);
	CHECK(strcmp(http_outcome_code(415), "not-supported") == 0);
	CHECK(strcmp(http_outcome_code(422), "processing") == 0);
	CHECK(strcmp(http_outcome_code(429), "throttled") == 0);
	CHECK(strcmp(http_outcome_code(500), "exception") == 0);
	CHECK(strcmp(http_outcome_code(502), "exception") == 0);
	CHECK(strcmp(http_outcome_code(503), "transient") == 0);
}

int
main(void)
{
	test_shape();
	test_codes();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
