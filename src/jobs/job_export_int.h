/*
 * job_export_int.h — private to the export job (jobs/job_export*.c and
 * jobs/job_renewal.c): the state of a run, its plan of steps, and what
 * one part of the job lends another.
 *
 *   job_export.c        the job: main, resume, checkpoints, progress and
 *                       the files it records; the small SQL helpers
 *   job_export_plan.c   the plan (steps per type), the snapshot, cohort
 *                       resolution, each step's WHERE conditions and the
 *                       associated data (Provenance)
 *   job_export_copy.c   streaming rows: COPY, rows, blocks, warnings,
 *                       the page-range scans, the sweep of stray files
 *   job_export_since.c  since=last-success and its client check
 *   job_renewal.c       the "renewal-export" kind
 *
 * DESIGN
 * The job is a list of steps: the lenient-handling warnings (error file),
 * one step per resource type, then the deleted-resource Bundles when
 * _since is given.  Each type step streams rows out of PostgreSQL with
 * COPY ... TO STDOUT (binary: EXPORT_COPY) into zstd files
 * (bulk/outfile.c), in one of two ways:
 *
 *  - scan: the type's partition page range by page range (TID range
 *    scans of EXPORT_CHUNK_PAGES, ordered by ctid within the range), so
 *    PostgreSQL reads the heap sequentially and never sorts more than one
 *    range.  Used for system- and all-Patient exports.
 *  - lookup: rows of a cohort (Group members, POSTed patients, and the
 *    Organization/Practitioner/Location they reference) in id order
 *    through the indexes.
 *
 * Either way the first column is a cursor (ctid or id) that orders the
 * rows; when a file completes, its job_outputs row and the checkpoint
 * "(step, cursor after the file's last row, next file number)" are
 * written in one statement, so a rescued job resumes right after the
 * last recorded file, never repeating or skipping a row.
 *
 * Values from the request (transactionTime, _since, _typeFilter values)
 * reach SQL only as custom settings bound with set_config($1, $2) and
 * read back with current_setting(), because COPY takes no parameters.
 *
 * Functions that can fail return 0 or -1 after job_ctx_error (except
 * where said); all run on the job's connection, x->conn.  Not for use
 * outside these files.
 */
#ifndef JOBS_JOB_EXPORT_INT_H
#define JOBS_JOB_EXPORT_INT_H

#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"
#include "store/jobq.h"

struct buf;
struct cfg;
struct outfile_info;

#define EXPORT_CHUNK_PAGES	2048	/* heap pages per range (16 MB) */
#define EXPORT_MAX_STEPS	256
#define EXPORT_SQL_MAX		(1 << 20)
#define EXPORT_TICK_ROWS	4096	/* rows between lease ticks */
/* Binary: PostgreSQL hands each value over as it is stored, where csv
 * scans every byte for quotes and delimiters, half of the backend's CPU
 * in an export (its bottleneck); rows are split by copybin_split. */
#define EXPORT_COPY		"(FORMAT binary)"
/* An active policy whose period ends inside the renewal window
 * [bulkhead.from, bulkhead.to) — dates compare as YYYY-MM-DD text. */
#define XP_DUE(col) \
	"((" col ")::jsonb->>'status' = 'active' AND left((" col ")::jsonb->" \
	"'period'->>'end', 10) >= current_setting('bulkhead.from') AND " \
	"left((" col ")::jsonb->'period'->>'end', 10) < " \
	"current_setting('bulkhead.to'))"

enum xp_kind {
	XP_WARNINGS,	/* lenient-handling OperationOutcomes */
	XP_SCAN,	/* a type, by page ranges */
	XP_LOOKUP,	/* a type, by cohort, in id order */
	XP_DELETED,	/* tombstones after _since, as Bundles */
	XP_BLOCKS,	/* organizeOutputBy=Patient: one block per patient */
};

/* Which rows of a type a step takes. */
enum xp_scope {
	XP_ALL,		/* every row (system level, context at patient level) */
	XP_COMPARTMENT,	/* rows in some patient's compartment */
	XP_COHORT,	/* rows in the compartment of job_patients */
	XP_COHORT_SELF,	/* Patient rows of job_patients */
	XP_GROUP_SELF,	/* the exported Group itself */
	XP_REFERENCED,	/* context rows the cohort references */
	XP_RENEWAL_COV,	/* renewal: active Coverage ending in the window */
	XP_RENEWAL_GROUP, /* renewal: the beneficiaries' families */
	XP_RENEWAL_PLAN, /* renewal: the products of those policies */
	XP_ASSOCIATED,	/* Provenance of exported rows only */
	XP_PROVENANCE,	/* Provenance of exported compartment rows
			   (EXP-P-IA-5: Patient and Group level) */
};

struct xp_step {
	enum xp_kind	 s_kind;
	enum xp_scope	 s_scope;
	char		 s_type[72];
	char		 s_table[80];	/* partition, as a quoted identifier */
	int		 s_shared;	/* the partition holds other types too */
	int		 s_in_block;	/* runs inside the XP_BLOCKS step */
	char		*s_filter;	/* compiled _typeFilter SQL, or NULL */
	int		 s_assoc;	/* + Provenance of exported rows */
	int		 s_targets;	/* a Provenance step of a cohort: found
					   through provenance_targets (012) */
};

struct xp {
	struct job_ctx		*ctx;
	const struct cfg	*cfg;
	const cJSON		*params;
	PGconn			*conn;		/* the kind's connection */
	char			 tt[64];	/* transactionTime */
	char			 dir[1024];	/* absolute output directory */
	char			 reldir[256];	/* relative to data_dir */
	const char		*level;
	struct xp_step		 steps[EXPORT_MAX_STEPS];
	int			 nsteps;
	int			 nfilter_params;
	int			 bitmap;	/* enable_bitmapscan is on */
	/* resume point */
	int			 step;
	char			 cursor[128];
	int			 next_seq;
	/* the running step */
	struct outfile_set	*set;
	char			 last_key[128];	/* cursor of the last row */
	int			 last_tid;	/* last_key is the tid: */
	int64_t			 last_page, last_off;
	int64_t			 type_rows;	/* rows written this step */
	int64_t			 type_total;	/* estimate, -1 unknown */
	int64_t			 all_rows;	/* rows written this attempt */
	int64_t			 file_bytes;	/* XP_BLOCKS: in the open file */
	cJSON			*own_params;	/* params with _since resolved,
						   or NULL: params borrowed */
	int			 last_success;	/* _since was "last-success" */
	char			 ls_job[JOBQ_ID_MAX];	/* the run it
						   resolved to, or "" */
	char			 ls_since[64];	/* its transactionTime, or "" */
	char			 ls_note[512];	/* what it resolved to */
	/* progress by heap pages (Retry-After follows the work) */
	int64_t			 plan_pages[EXPORT_MAX_STEPS];	/* per step */
	int64_t			 step_pages;	/* read in the running step */
	int64_t			 plan_pages_total;
	cJSON			*elements;	/* kept element names, or NULL */
	cJSON			*required;	/* required-elements table */
	char			 err[1024];
};

/* Whether the JSON array arr lists the string s (per row with _elements:
 * inline). */
static inline int
job_export_listed(const cJSON *arr, const char *s)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return 1;
	return 0;
}

/* job_export.c */
/* level: NULL to take it from the params ("renewal" for that kind). */
enum job_status	 job_export_main(struct job_ctx *, const char *level);
/* The string member name of obj, or NULL. */
const char	*job_export_str(const cJSON *obj, const char *name);
int		 job_export_exec(struct xp *, const char *sql, int n,
		    const char *const *params);
/* Binds value for current_setting('bulkhead.<name>') in this
 * transaction. */
int		 job_export_setting(struct xp *, const char *name,
		    const char *value);
/* The one bigint sql returns (arg: its $1, or NULL); -1 on error
 * (x->err, no job_ctx_error) or NULL. */
int64_t		 job_export_int(struct xp *, const char *sql,
		    const char *arg);
/* The progress JSON of the running step s (caller frees). */
char		*job_export_progress(struct xp *, const struct xp_step *s);
/* outfile callback (arg: the struct xp): records a completed file. */
int		 job_export_file_done(void *arg,
		    const struct outfile_info *, char *errbuf, size_t errlen);

/* job_export_plan.c */
int		 job_export_plan(struct xp *);
int		 job_export_plan_snapshot(struct xp *);
/* JOB_DONE, or how the job ends (JOB_FAIL: a patient is unknown). */
enum job_status	 job_export_plan_cohort(struct xp *);
/* -1 with x->err only (the caller reports). */
int		 job_export_plan_pages(struct xp *);
/* Appends the WHERE conditions of step s (without associated data). */
void		 job_export_plan_conditions(struct xp *,
		    const struct xp_step *s, struct buf *);
/* Appends the WHERE conditions of a Provenance step with s_assoc. */
void		 job_export_plan_assoc(struct xp *, const struct xp_step *s,
		    struct buf *);

/* job_export_copy.c */
/* Runs step x->step from x->cursor / x->next_seq. */
int		 job_export_copy_step(struct xp *);
/* Removes files no job_outputs row lists (a crashed attempt's). */
void		 job_export_copy_sweep(struct xp *);

/* job_export_since.c */
/* Adds "lastSuccess" to parent; returns it. */
cJSON		*job_export_since_json(const struct xp *, cJSON *parent);
/* Resolves since / _since / last-success into x->params. */
enum job_status	 job_export_since_resolve(struct xp *);

/* job_renewal.c */
/* The renewal window and cohort, inside the snapshot. */
int		 job_renewal_cohort(struct xp *);

#endif
