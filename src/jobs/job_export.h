/*
 * job_export.h — the "export" job kind: a FHIR Bulk Data $export run in
 * a worker (system, Patient or Group level), from the canonical params
 * that bulk/export_params.c builds at kick-off.
 *
 * One REPEATABLE READ snapshot per attempt; transactionTime is fixed on
 * the first attempt and kept in the checkpoint, so a rescued job exports
 * exactly what the first attempt would have (for data not modified while
 * it ran).  Output: data_dir/jobs/<id>/<Type>-NNNN.ndjson.zst, recorded in
 * job_outputs as each file completes, with the checkpoint after it.
 */
#ifndef JOBS_JOB_EXPORT_H
#define JOBS_JOB_EXPORT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

/*
 * since (alias _since) = "last-success": an incremental export, from the
 * transactionTime of the last completed export of the same schedule
 * (everything when there is none); for jobs a schedule submits, see
 * xp_last_success in job_export_since.c.  The public $export accepts FHIR
 * instants only.
 */
#define EXPORT_SINCE_LAST_SUCCESS	"last-success"
/* The level of params without one: $export with no level is a system
 * export (a job submitted by hand or by a schedule may omit it). */
#define JOB_EXPORT_LEVEL_DEFAULT	"system"

/*
 * At submit time (job_kind_check): an export whose params ask for since
 * "last-success" must come from a schedule (client "schedule:NAME"), the
 * only thing a previous success can be of.  0, or -1 with the reason.
 */
int		job_export_check_client(const cJSON *params,
		    const char *client, char *errbuf, size_t errlen);

enum job_status	job_export_run(struct job_ctx *);
/* "renewal-export": active Coverage whose period.end falls within the
 * next "days" days (default 14), their beneficiaries, families and
 * products, as an export manifest. */
enum job_status	job_renewal_run(struct job_ctx *);
int		job_renewal_check(const cJSON *params, char *errbuf,
		    size_t errlen);
int		job_export_check(const cJSON *params, char *errbuf,
		    size_t errlen);

#endif
