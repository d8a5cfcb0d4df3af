/*
 * job_housekeeping.c — expiry of output files and pruning of job history
 * (see job_housekeeping.h).
 *
 * Here a worker removes the files of jobs past their retention, and of
 * the jobs it prunes; the API removes files too, when a cancel or the
 * client's DELETE ends a job (jobq_cancel).  A download that is under
 * way keeps its open file: unlink(2) only drops the name.  A job's
 * files_removed is set before its files go, so the status URL never
 * lists a file that is about to vanish.  The statements are jobq's
 * (jobq_expire_files, jobq_prune), the layout job_files'.
 */
#include <stdio.h>
#include <string.h>

#include "auth/token.h"
#include "auth/urlsign.h"
#include "core/cfg.h"
#include "jobs/job_housekeeping.h"
#include "lib/log.h"
#include "store/auth_store.h"
#include "store/jobq.h"

#define HOUSEKEEPING_BATCH	100	/* jobs expired per statement */

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
	char			 err[512], result[128];
	PGconn			*conn;
	long			 expired = 0, pruned = 0, spent;
	int			 n;

	if ((conn = job_ctx_conn(ctx, err, sizeof(err))) == NULL) {
		job_ctx_error(ctx, "housekeeping: database: %s", err);
		return JOB_RETRY;
	}
	for (;;) {
		if (jobq_expire_files(conn, cfg->data_dir,
		    cfg->export_retention, HOUSEKEEPING_BATCH, &n, err,
		    sizeof(err)) == -1) {
			job_ctx_error(ctx, "housekeeping: %s", err);
			return JOB_RETRY;
		}
		expired += n;
		if (n == 0 || job_ctx_tick(ctx) == -1)
			break;
	}
	if (job_ctx_stopping(ctx))
		return JOB_STOPPED;
	if (jobq_prune(conn, cfg->data_dir, cJSON_IsNumber(hd) ?
	    hd->valueint : cfg->history_days, &n, err, sizeof(err)) == -1) {
		job_ctx_error(ctx, "housekeeping: %s", err);
		return JOB_RETRY;
	}
	pruned = n;
	/* Spent jti rows and retired token keys (store/auth_store.h),
	 * kept while a signed download URL may still name them. */
	if (auth_store_prune(conn, URLSIGN_KEY_KEEP_S > TOKEN_KEY_KEEP_S ?
	    URLSIGN_KEY_KEEP_S : TOKEN_KEY_KEEP_S, &spent, err,
	    sizeof(err)) == -1)
		log_warnx("housekeeping: %s", err);
	if (expired > 0 || pruned > 0)
		log_info("housekeeping: removed the files of %ld job%s, pruned "
		    "%ld job%s from the history", expired, expired == 1 ? "" :
		    "s", pruned, pruned == 1 ? "" : "s");
	snprintf(result, sizeof(result), "{\"filesExpired\":%ld,"
	    "\"jobsPruned\":%ld}", expired, pruned);
	job_ctx_result(ctx, result);
	return JOB_DONE;
}
