/*
 * job_renewal.c — the "renewal-export" kind: {"days": N} (default 14, as
 * openIMIS), run as an export at the "renewal" level: active Coverage
 * whose period ends within the window, their beneficiaries, families
 * and products (job_export_plan.c plans those steps).  The window and
 * the cohort are fixed by the checkpointed transactionTime.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/job_export.h"
#include "jobs/job_export_int.h"
#include "store/db.h"

/*
 * The renewal window is [date of transactionTime, + days): fixed by the
 * checkpointed transactionTime, so a rescued attempt uses the same one.
 * Its cohort (the due policies' beneficiaries) is written inside the
 * snapshot and vanishes with it: nothing to clean up.
 */
int
job_renewal_cohort(struct xp *x)
{
	const cJSON	*d = cJSON_GetObjectItemCaseSensitive(x->params, "days");
	const char	*p[2];
	char		 days[16];
	PGresult	*res;

	snprintf(days, sizeof(days), "%d", cJSON_IsNumber(d) ? d->valueint :
	    14);
	p[0] = x->tt;
	p[1] = days;
	res = db_query(x->conn, "SELECT set_config('bulkhead.from', "
	    "to_char(($1::timestamptz AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'), "
	    "true), set_config('bulkhead.to', to_char(($1::timestamptz AT TIME "
	    "ZONE 'UTC')::date + $2::int, 'YYYY-MM-DD'), true)", 2, p, x->err,
	    sizeof(x->err));
	if (res == NULL) {
		job_ctx_error(x->ctx, "export: renewal window: %s", x->err);
		return -1;
	}
	PQclear(res);
	p[0] = job_ctx_id(x->ctx);
	if (job_export_exec(x, "DELETE FROM job_patients WHERE job_id = $1",
	    1, p) ||
	    job_export_exec(x, "INSERT INTO job_patients (job_id, patient_id) "
	    "SELECT DISTINCT $1, patient FROM resources WHERE type = "
	    "'Coverage' AND NOT deleted AND patient IS NOT NULL AND "
	    "last_updated <= current_setting('bulkhead.tt')::timestamptz AND "
	    XP_DUE("content"), 1, p))
		return -1;
	return 0;
}

/*
 * The "renewal-export" kind: {"days": N} (default 14, as openIMIS), run
 * as an export at the "renewal" level.
 */
int
job_renewal_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*it;
	cJSON		*copy;
	int		 rc;

	cJSON_ArrayForEach(it, params)
		if (strcmp(it->string, "days") != 0) {
			snprintf(errbuf, errlen, "renewal-export: unknown "
			    "parameter \"%.64s\" (days)", it->string);
			return -1;
		}
	copy = cJSON_Duplicate(params, 1);
	cJSON_AddStringToObject(copy, "level", "renewal");
	rc = job_export_check(copy, errbuf, errlen);
	cJSON_Delete(copy);
	return rc;
}

enum job_status
job_renewal_run(struct job_ctx *ctx)
{
	return job_export_main(ctx, "renewal");
}
