/*
 * job_files.h — where a job's output files live and how they are named
 * to clients: the one place that knows the layout under data_dir and
 * the URL scheme under base_url.
 *
 * Layout: data_dir/jobs/<id>/<name>; job_outputs.file holds the path
 * relative to data_dir ("jobs/<id>/<name>").  URLs: a job's status URL
 * is base_url/_jobs/<id>, a file's base_url/_jobs/<id>/files/<name>.
 *
 * Pure string work besides job_files_remove; no heap.  The string
 * functions write into a caller's bounded buffer and return 0, or -1
 * when it is too small (out then holds a truncated, unusable string).
 */
#ifndef STORE_JOB_FILES_H
#define STORE_JOB_FILES_H

#include <stddef.h>

/* "jobs/<id>", relative to data_dir. */
int	job_files_dir(const char *id, char *out, size_t outlen);
/* "jobs/<id>/<name>", relative to data_dir: what job_outputs.file
 * holds for a file called name. */
int	job_files_rel(const char *id, const char *name, char *out,
	    size_t outlen);
/* "data_dir/rel": the absolute (or cwd-relative) path of a file or
 * directory that job_files_dir or job_files_rel named. */
int	job_files_path(const char *data_dir, const char *rel, char *out,
	    size_t outlen);
/* The last component of a job_outputs.file: the file's name in URLs.
 * Returns a pointer into file. */
const char *job_files_name(const char *file);
/* base_url/_jobs/<id>: the status URL of a bulk job. */
int	job_files_status_url(const char *base_url, const char *id, char *out,
	    size_t outlen);
/* base_url/_jobs/<id>/files/<name>, name being job_files_name(file):
 * the download URL of a job_outputs.file. */
int	job_files_url(const char *base_url, const char *id, const char *file,
	    char *out, size_t outlen);
/*
 * Removes the job's directory and the files in it (cancel, the client's
 * DELETE, expiry, pruning).  Best effort: what cannot be removed stays.
 * A download under way keeps its open file (unlink(2) drops the name).
 * Any process; callers first record it in jobs.files_removed where the
 * status must stop listing the files (jobq.h).
 */
void	job_files_remove(const char *data_dir, const char *id);

#endif
