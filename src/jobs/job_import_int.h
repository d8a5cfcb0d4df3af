/*
 * job_import_int.h — private to the import job (jobs/job_import*.c): the
 * state of a run, of an input and of its reading thread, and what one
 * part of the job lends another.
 *
 *   job_import.c         the job: inputs, the reading threads, the main
 *                        thread's progress, checkpoints and records
 *   job_import_stream.c  the fast path's COPY streams, a thread each
 *   job_import_batch.c   batches: the fast path's queue and commit, the
 *                        switch to staging and the stage's final merge
 *
 * Functions that can fail return 0 or -1 with the reason in r->err
 * (except where said).  Not for use outside jobs/job_import*.c.
 */
#ifndef JOBS_JOB_IMPORT_INT_H
#define JOBS_JOB_IMPORT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bulk/outfile.h"
#include "jobs/job_import.h"
#include "lib/buf.h"
#include "store/load.h"
#include "store/ndjson.h"


#define IMPORT_MAX_INPUTS	10000
#define IMPORT_MAX_FILES	64	/* error files per input */
#define IMPORT_TICK_MS		200
#define IMPORT_SAVE_MS		1000
#define IMPORT_STREAMS		2	/* COPY connections of the fast path */
#define IMPORT_CHUNK		(256 * 1024) /* rows handed to an idle stream */
#define IMPORT_CHUNK_MAX	(1024 * 1024) /* ... or to a busy one */

enum imp_state {
	IMP_PENDING,
	IMP_RUNNING,
	IMP_FINISHED,	/* thread done, result not yet recorded */
	IMP_RECORDED,
};

struct imp_file {
	char	*f_file;	/* relative to data_dir; owned */
	int64_t	 f_count;
	int64_t	 f_bytes;
	char	 f_sha256[65];
};

struct imp;

struct imp_input {
	struct imp		*in_imp;	/* back pointer */
	int			 in_idx;	/* 0-based */
	const char		*in_type;	/* borrowed from params */
	const char		*in_url;
	const char		*in_etag;	/* or NULL */
	enum imp_state		 in_state;
	pthread_t		 in_thread;
	int64_t			 in_skip;	/* lines committed before */
	/* Published under imp->lock while running: */
	int64_t			 in_lines;	/* lines read */
	int64_t			 in_loaded;
	int64_t			 in_failed;
	int64_t			 in_blank;
	int64_t			 in_committed;	/* last committed line */
	int64_t			 in_stage_from;	/* first staged line; 0: none */
	/* Set by the thread before it finishes: */
	struct imp_file		 in_files[IMPORT_MAX_FILES];
	int			 in_nfiles;
	int			 in_ok;		/* 0: stopped or db failure */
	char			 in_error[512];	/* why in_ok == 0 */
};

struct imp {
	struct job_ctx		*ctx;
	const struct cfg	*cfg;
	const cJSON		*params;
	struct imp_input	*inputs;
	int			 ninputs;
	int			 keep_updated;	/* IncrementalLoad */
	char			 reldir[256];
	char			 dir[1024];
	pthread_mutex_t		 lock;
	atomic_int		 stop;		/* threads must stop */
	char			 err[1024];
};

enum imp_cmd {
	IMP_CMD_IDLE,
	IMP_CMD_BEGIN,
	IMP_CMD_DATA,
	IMP_CMD_FINISH,
	IMP_CMD_COMMIT,
	IMP_CMD_ROLLBACK,
	IMP_CMD_QUIT,
};

/*
 * A COPY connection of the fast path with a thread of its own, so that
 * two PostgreSQL backends store rows in parallel while the reading thread
 * parses: it formats rows and hands them over a chunk at a time (double
 * buffered: it fills one chunk while the stream sends the other).  One
 * command at a time; the reading thread waits for "idle" before the next.
 */
struct imp_stream {
	struct imp_run		*st_run;
	PGconn			*st_conn;
	struct load_session	*st_sess;	/* open COPY, or NULL */
	pthread_t		 st_thread;
	int			 st_started;	/* thread running */
	pthread_mutex_t		 st_lock;
	pthread_cond_t		 st_cond;
	enum imp_cmd		 st_cmd;	/* under st_lock */
	struct buf		 st_data;	/* DATA's rows */
	enum load_result	 st_result;	/* first failure since BEGIN */
	char			 st_err[512];
};

/* A thread's working state for one input. */
struct imp_run {
	struct imp		*imp;
	struct imp_input	*in;
	PGconn			*conn;
	struct outfile_set	*errors;
	struct load_session	*sess;		/* staged batch's COPY, or NULL */
	int			 open;		/* a batch is open */
	struct imp_stream	 streams[IMPORT_STREAMS];
	struct buf		 chunk[IMPORT_STREAMS]; /* rows being formatted */
	int			 nstreams;	/* the open batch's: 1 while the
						 * controller caps the job */
	FILE			*spool;		/* fast batch lines (replay) */
	FILE			*fast;		/* "id\tline\toffset" of rows
						 * the fast path loaded */
	off_t			 fast_mark;	/* its size at the batch start */
	char			 stage[96];	/* the stage table's name */
	int			 stage_ready;	/* created in this attempt */
	int64_t			 stage_from;	/* first staged line; 0: none */
	int64_t			 nbatch;	/* lines in the open batch */
	int64_t			 last_line;
	char			 err[1024];
};

/* job_import.c: one OperationOutcome line in the input's error file. */
int	 job_import_outcome(struct imp_run *r, const char *severity,
	    const char *code, int64_t line, int64_t offset,
	    const char *reason);

/* job_import_stream.c: start, command and stop the COPY streams. */
void	 job_import_stream_options(const struct imp_run *r,
	    struct load_options *opts);
enum load_result job_import_stream_all(struct imp_run *r, enum imp_cmd cmd);
enum load_result job_import_stream_send(struct imp_run *r, int i);
int	 job_import_stream_idle(struct imp_stream *st);
int	 job_import_stream_start(struct imp_run *r);
void	 job_import_stream_stop(struct imp_run *r);

/* job_import_batch.c: batches, staging and the final merge. */
FILE	*job_import_batch_tmpfile(struct imp_run *r);
int	 job_import_batch_fast_id(struct imp_run *r,
	    const struct ndjson_resource *res, int64_t lineno, int64_t offset);
int	 job_import_batch_commit(struct imp_run *r);
int	 job_import_batch_queue(struct imp_run *r,
	    const struct ndjson_resource *res, const char *line, size_t len,
	    int64_t lineno, int64_t offset);
int	 job_import_batch_finalize(struct imp_run *r);
int64_t	 job_import_batch_stage_check(struct imp_run *r, int64_t skip);

#endif
