/*
 * http_outcome.c — OperationOutcome JSON, written with buf's escaping so
 * that an error answer needs no JSON tree and no allocation beyond b.
 */
#include <string.h>

#include "http/http_outcome.h"
#include "lib/buf.h"

int
http_outcome_write(struct buf *b, const char *severity, const char *code,
    const char *diagnostics)
{
	if (buf_puts(b, "{\"resourceType\":\"OperationOutcome\","
	    "\"issue\":[{\"severity\":\"") == -1 ||
	    buf_json_escape(b, severity, strlen(severity)) == -1 ||
	    buf_puts(b, "\",\"code\":\"") == -1 ||
	    buf_json_escape(b, code, strlen(code)) == -1 ||
	    buf_putc(b, '"') == -1)
		return -1;
	if (diagnostics != NULL && (buf_puts(b, ",\"diagnostics\":\"") == -1 ||
	    buf_json_escape(b, diagnostics, strlen(diagnostics)) == -1 ||
	    buf_putc(b, '"') == -1))
		return -1;
	return buf_puts(b, "}]}");
}

const char *
http_outcome_code(unsigned int status)
{
	switch (status) {
	case 401:
	case 403:
		return "security";
	case 404:
	case 410:
		return "not-found";
	case 405:
	case 406:
	case 415:
	case 501:
		return "not-supported";
	case 408:
		return "timeout";
	case 409:
		return "conflict";
	case 413:
		return "too-long";
	case 422:
		return "processing";
	case 429:
		return "throttled";
	case 503:
		return "transient";
	default:
		return status >= 500 ? "exception" : "invalid";
	}
}
