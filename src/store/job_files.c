/*
 * job_files.c — the layout of job output files under data_dir and their
 * URLs (see job_files.h).  Every path and URL of a job's files is built
 * here, so the worker that writes a file, the API that serves it and the
 * house-keeping that expires it cannot disagree about where it is.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/job_files.h"

#define JOB_FILES_PATH_MAX	1400	/* data_dir + rel */

static int	job_files_fit(int, size_t);

/* 0 if snprintf's result n fitted in outlen bytes, else -1. */
static int
job_files_fit(int n, size_t outlen)
{
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
job_files_dir(const char *id, char *out, size_t outlen)
{
	return job_files_fit(snprintf(out, outlen, "jobs/%s",
	    id), outlen);
}

int
job_files_rel(const char *id, const char *name, char *out, size_t outlen)
{
	return job_files_fit(snprintf(out, outlen, "jobs/%s/%s",
	    id, name), outlen);
}

int
job_files_path(const char *data_dir, const char *rel, char *out,
    size_t outlen)
{
	return job_files_fit(snprintf(out, outlen, "%s/%s",
	    data_dir, rel), outlen);
}

const char *
job_files_name(const char *file)
{
	const char	*slash = strrchr(file, '/');

	return slash != NULL ? slash + 1 : file;
}

int
job_files_status_url(const char *base_url, const char *id, char *out,
    size_t outlen)
{
	return job_files_fit(snprintf(out, outlen, "%s/_jobs/%s",
	    base_url, id), outlen);
}

int
job_files_url(const char *base_url, const char *id, const char *file,
    char *out, size_t outlen)
{
	return job_files_fit(snprintf(out, outlen,
	    "%s/_jobs/%s/files/%s", base_url, id, job_files_name(file)),
	    outlen);
}

void
job_files_remove(const char *data_dir, const char *id)
{
	DIR		*d;
	struct dirent	*de;
	char		 rel[256], dir[JOB_FILES_PATH_MAX];
	char		 path[JOB_FILES_PATH_MAX];

	if (job_files_dir(id, rel, sizeof(rel)) == -1 ||
	    job_files_path(data_dir, rel, dir, sizeof(dir)) == -1)
		return;
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (job_files_path(dir, de->d_name, path, sizeof(path)) == 0)
			(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}
