/*
 * job_kinds.c — the job kind table and submit-time validation.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/job_export.h"
#include "jobs/job_housekeeping.h"
#include "jobs/job_import.h"
#include "jobs/job_kinds.h"
#include "jobs/job_noop.h"
#include "jobs/job_openimis.h"
#include "openhim/openhim_cfg.h"
#include "store/jobq.h"

static const struct job_kind job_kinds[] = {
	{ .k_name = "export", .k_run = job_export_run,
	    .k_check = job_export_check,
	    .k_check_client = job_export_check_client,
	    .k_help = "FHIR Bulk Data $export (level system, the default, "
	    "patient or group)", .k_idle = 0 },
	{ .k_name = "renewal-export", .k_run = job_renewal_run,
	    .k_check = job_renewal_check,
	    .k_help = "policies due for renewal in the next N days (default "
	    "14) with their insurees, families and products", .k_idle = 0 },
	{ .k_name = "housekeeping", .k_run = job_housekeeping_run,
	    .k_check = job_housekeeping_check,
	    .k_help = "remove expired output files, prune old job history",
	    .k_idle = 1 },
	{ .k_name = "import", .k_run = job_import_run,
	    .k_check = job_import_check,
	    .k_help = "$import of NDJSON inputs (http(s) or file:// URLs)",
	    .k_idle = 1 },
	{ .k_name = "openimis-pull", .k_run = job_openimis_pull_run,
	    .k_check = job_openimis_pull_check,
	    .k_help = "read openIMIS's FHIR R4 API into the store "
	    "(incremental, or full and reconciling)", .k_idle = 0 },
	{ .k_name = "openimis-claims-push", .k_run = job_openimis_push_run,
	    .k_check = job_openimis_push_check,
	    .k_help = "POST the claims of an $import (or a _since window) "
	    "to openIMIS, paced, exactly once", .k_idle = 0 },
	{ .k_name = "noop", .k_run = job_noop_run, .k_check = job_noop_check,
	    .k_help = "test kind: N steps of M ms, with progress and "
	    "checkpoints", .k_idle = 1 },
};

#define JOB_NKINDS (sizeof(job_kinds) / sizeof(job_kinds[0]))

const struct job_kind *
job_kind_find(const char *name)
{
	size_t	i;

	for (i = 0; i < JOB_NKINDS; i++)
		if (strcmp(job_kinds[i].k_name, name) == 0)
			return &job_kinds[i];
	return NULL;
}

const struct job_kind *
job_kind_all(size_t *n)
{
	*n = JOB_NKINDS;
	return job_kinds;
}

int
job_kind_check(const char *kind, const char *params, const char *client,
    char *errbuf, size_t errlen)
{
	const struct job_kind	*k;
	cJSON			*obj;
	int			 rc = -1;

	if ((k = job_kind_find(kind)) == NULL) {
		snprintf(errbuf, errlen, "unknown job kind \"%.64s\"", kind);
		return -1;
	}
	if (params == NULL)
		params = "{}";
	if (strlen(params) > JOBQ_JSON_MAX) {
		snprintf(errbuf, errlen, "params larger than %d bytes",
		    JOBQ_JSON_MAX);
		return -1;
	}
	if ((obj = cJSON_ParseWithOpts(params, NULL, 1)) == NULL) {
		snprintf(errbuf, errlen, "params are not valid JSON");
		return -1;
	}
	if (!cJSON_IsObject(obj)) {
		snprintf(errbuf, errlen, "params must be a JSON object");
		goto out;
	}
	/* "deliver" is OpenHIM's (delivery.h), for every kind. */
	if (openhim_cfg_deliver_check(cJSON_GetObjectItemCaseSensitive(obj,
	    "deliver"), errbuf, errlen) == -1)
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "deliver");
	if (k->k_check != NULL && k->k_check(obj, errbuf, errlen) == -1)
		goto out;
	if (k->k_check_client != NULL && k->k_check_client(obj, client,
	    errbuf, errlen) == -1)
		goto out;
	rc = 0;
 out:
	cJSON_Delete(obj);
	return rc;
}
