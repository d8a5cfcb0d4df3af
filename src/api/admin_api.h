/*
 * admin_api.h — the operator API under /admin/api: jobs, schedules and
 * limits as JSON over HTTP (rows in http_route.c's table).
 *
 * One file per concern, all answering through admin_auth.h's context:
 * admin_auth.c (token, audit actor, connection), admin_jobs.c,
 * admin_schedules.c, admin_limits.c.  The handlers keep the admin_api_
 * names that the route table links against.
 *
 * AUTHENTICATION: every route wants "Authorization: Bearer <token>": the
 * token of an admin principal ('bulkhead admins add', store/admins.h),
 * or the configured admin_token (BULKHEAD_ADMIN_TOKEN; deprecated), which
 * acts as the principal "config" with role admin.  No, a wrong or a
 * disabled principal's token: 401 with WWW-Authenticate: Bearer.
 *
 * ROLES (admin_auth.h): viewer may GET everything; operator may also
 * change jobs and schedules (every non-GET route under jobs/ and
 * schedules/); admin may also change limits (and clients).  A principal
 * below the route's role: 403, nothing changed, no audit row.
 *
 * ERRORS are OperationOutcome bodies, as everywhere else in the service
 * (the router answers 404/405/413/415 on these paths with one before a
 * handler runs, so the admin handlers use the same shape rather than a
 * second one); the message is in issue[0].diagnostics.  400: bad input,
 * nothing changed; 404: no such job or schedule; 409: the action makes no
 * sense in the job's current state, nothing changed.
 *
 * ROUTES:
 *   GET    /admin/api/jobs?state=&kind=&client=&schedule=&limit=&before=
 *          &since=                                      {"jobs":[job],
 *          "now","next_before"}: newest first; state "scheduled" is a
 *          queued job whose not_before is to come ("queued" then the
 *          others); before = next_before of the previous page; since =
 *          only jobs updated at or after it (pass the last "now")
 *   POST   /admin/api/jobs {"kind","params","not_before","priority"}
 *                                                        201, job
 *          (operator): a one-off job, not claimed before not_before
 *          (RFC 3339 with offset; absent: now)
 *   GET    /admin/api/jobs/{id}                          job + outputs
 *   GET    /admin/api/jobs/{id}/errors?limit=&offset=    its error file
 *          lines (admin_job_page.c)
 *   GET    /admin/api/jobs/{id}/audit?limit=             its audit rows
 *   POST   /admin/api/jobs/{id}/pause|resume|cancel      job
 *   POST   /admin/api/jobs/{id}/retry                    201, new job
 *   GET    /admin/api/schedules                          {"schedules":[]}
 *   GET    /admin/api/schedules/{name}                   schedule
 *   PUT    /admin/api/schedules/{name}                   200/201 schedule
 *   DELETE /admin/api/schedules/{name}                   204
 *   POST   /admin/api/schedules/{name}/run               202, new job
 *   POST   /admin/api/schedules/{name}/pause|resume      schedule
 *   GET    /admin/api/whoami                  {"name","role","may_operate",
 *          "may_administer"}: the caller's principal (any role)
 *   GET    /admin/api/calendar?from=&to=      {"from","to","fires":[{
 *          "schedule","at","job","state"}],"delayed":[{"job","kind",
 *          "not_before","state"}],"truncated"}: every enabled schedule's
 *          fires in [from, to) (at most 10,000, then truncated), "at" in
 *          the schedule's zone with its offset, a past fire with the job
 *          it started (jobs.fire_at) and that job's state, else nulls;
 *          delayed one-off jobs by not_before.  400: from or to missing
 *          or not RFC 3339 with an offset, to <= from, over 62 days
 *   GET    /admin/api/limits                             limits
 *   PUT    /admin/api/limits                             limits
 *   GET    /admin/api/limits/fields   {"fields":[{"name","type","unit",
 *          "min","max","description"}]}: what each limit means (viewer)
 *
 * JOB STATE RULES (a refused action answers 409 and changes nothing):
 *   pause   queued -> paused at once; running -> stays running with
 *           pause_requested = true (202): the worker stops at its next
 *           batch boundary and parks the job as paused, checkpoint kept.
 *   resume  paused -> queued (run_after now, checkpoint kept: it goes on
 *           where it stopped); running with a pause requested -> the
 *           request is withdrawn (even when the worker has seen it: it
 *           then runs on under its lease, jobq_paused).
 *   cancel  queued or paused -> cancelled at once, its files removed;
 *           running -> cancelling (202): the worker stops, removes the
 *           partial files and marks it cancelled (also when it was
 *           finishing: never completed, jobq_complete).
 *   retry   failed or cancelled -> a NEW queued job with the same kind,
 *           params, client, priority and max_attempts, retry_of = the old
 *           id; the old row stays as history.
 *
 * AUDIT: each change writes audit rows (store/audit.h) in its own
 * transaction, naming the principal and its role; refused or failed
 * requests write none.
 */
#ifndef ADMIN_ADMIN_API_H
#define ADMIN_ADMIN_API_H

struct http_req;

void	admin_api_jobs_list(struct http_req *);
void	admin_api_jobs_submit(struct http_req *);
void	admin_api_job_get(struct http_req *);
void	admin_api_job_pause(struct http_req *);
void	admin_api_job_resume(struct http_req *);
void	admin_api_job_cancel(struct http_req *);
void	admin_api_job_retry(struct http_req *);
/* admin_job_page.c */
void	admin_api_job_errors(struct http_req *);
void	admin_api_job_audit(struct http_req *);

void	admin_api_schedules_list(struct http_req *);
void	admin_api_schedule_get(struct http_req *);
void	admin_api_schedule_put(struct http_req *);
void	admin_api_schedule_delete(struct http_req *);
void	admin_api_schedule_run(struct http_req *);
void	admin_api_schedule_pause(struct http_req *);
void	admin_api_schedule_resume(struct http_req *);

void	admin_api_whoami(struct http_req *);
void	admin_api_calendar(struct http_req *);

void	admin_api_limits_get(struct http_req *);
void	admin_api_limits_put(struct http_req *);
void	admin_api_limits_fields(struct http_req *);

#endif
