/*
 * job_housekeeping.c — expiry of output files and pruning of job history
 * (see job_housekeeping.h).
 *
 * Files are removed by a worker, never by the API, and a download that is
 * under way keeps its open file: unlink(2) only drops the name.  A job's
 * files_removed is set before its files go, so the status URL never lists
 * a file that is about to vanish.
 */
#include <stdio.h>
#include <string.h>

#include "core/cfg.h"
#include "jobs/job_export.h"
#include "jobs/job_housekeeping.h"
#include "lib/log.h"
#include "store/db.h"

#define HOUSEKEEPING_BATCH	"100"	/* jobs expired per statement */

int
job_housekeeping_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, params) {
		if (strcmp(it->string, "history_days") != 0 ||
		    !cJSON_IsNumber(it) || it->valuedouble < 1 ||
		    it->valuedouble > 3650 ||
		    it->valuedouble != (double)it->valueint) {
			snprintf(errbuf, errlen, "housekeeping: the only "
			    "parameter is \"history_days\", an integer from 1 "
			    "to 3650");
			return -1;
		}
	}
	return 0;
}

enum job_status
job_housekeeping_run(struct job_ctx *ctx)
{
	const struct cfg	*cfg = job_ctx_cfg(ctx);
	const cJSON		*hd = cJSON_GetObjectItemCaseSensitive(
				    job_ctx_params(ctx), "history_days");
	const char		*p[1];
	char			 err[512], secs[32], days[32], result[128];
	PGresult		*res;
	PGconn			*conn;
	long			 expired = 0, pruned = 0;
	int			 i;

	if ((conn = job_ctx_conn(ctx, err, sizeof(err))) == NULL) {
		job_ctx_error(ctx, "housekeeping: database: %s", err);
		return JOB_RETRY;
	}
	snprintf(secs, sizeof(secs), "%d", cfg->export_retention);
	p[0] = secs;
	for (;;) {
		res = db_query(conn, "UPDATE jobs SET files_removed = now() "
		    "WHERE id IN (SELECT id FROM jobs WHERE files_removed IS "
		    "NULL AND state IN ('completed', 'failed', 'cancelled') AND "
		    "finished < now() - make_interval(secs => $1::int) AND "
		    "kind IN ('export', 'import', 'renewal-export') LIMIT "
		    HOUSEKEEPING_BATCH ") RETURNING id", 1, p, err,
		    sizeof(err));
		if (res == NULL) {
			job_ctx_error(ctx, "housekeeping: %s", err);
			return JOB_RETRY;
		}
		for (i = 0; i < PQntuples(res); i++)
			job_export_remove_files(cfg, PQgetvalue(res, i, 0));
		expired += PQntuples(res);
		i = PQntuples(res);
		PQclear(res);
		if (i == 0 || job_ctx_tick(ctx) == -1)
			break;
	}
	if (job_ctx_stopping(ctx))
		return JOB_STOPPED;
	snprintf(days, sizeof(days), "%d", cJSON_IsNumber(hd) ? hd->valueint :
	    cfg->history_days);
	p[0] = days;
	res = db_query(conn, "WITH gone AS (DELETE FROM jobs WHERE state IN "
	    "('completed', 'failed', 'cancelled') AND finished < now() - "
	    "make_interval(days => $1::int) RETURNING id, kind) "
	    "SELECT id, kind FROM gone", 1, p, err, sizeof(err));
	if (res == NULL) {
		job_ctx_error(ctx, "housekeeping: %s", err);
		return JOB_RETRY;
	}
	for (i = 0; i < PQntuples(res); i++)
		job_export_remove_files(cfg, PQgetvalue(res, i, 0));
	pruned = PQntuples(res);
	PQclear(res);
	if (expired > 0 || pruned > 0)
		log_info("housekeeping: removed the files of %ld job%s, pruned "
		    "%ld job%s from the history", expired, expired == 1 ? "" :
		    "s", pruned, pruned == 1 ? "" : "s");
	snprintf(result, sizeof(result), "{\"filesExpired\":%ld,"
	    "\"jobsPruned\":%ld}", expired, pruned);
	job_ctx_result(ctx, result);
	return JOB_DONE;
}
