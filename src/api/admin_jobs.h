/*
 * admin_jobs.h — the admin API's job handlers (admin_api.h, ROUTES and
 * JOB STATE RULES), and the job answer the schedule handlers share.
 */
#ifndef API_ADMIN_JOBS_H
#define API_ADMIN_JOBS_H

struct admin_ctx;

/* Answers status with job id as the admin API shows it, outputs
 * included; a Location header if asked.  404 if there is no such job. */
void	admin_jobs_reply(struct admin_ctx *, unsigned int status,
	    const char *id, int location);

#endif
