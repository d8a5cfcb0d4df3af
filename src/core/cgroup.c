/*
 * cgroup.c — the workers' cgroup v2 child group (see cgroup.h for when
 * and why).  Plain file writes under the cgroup mount; nothing here is
 * systemd's API, so it works the same in a container.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cgroup.h"

static int	cgroup_has_word(const char *, const char *, const char *);
static int	cgroup_line_path(const char *, char *, size_t);
static int	cgroup_own_path(char *, size_t, char *, size_t);
static int	cgroup_controllers(const char *, char *, size_t);
static int	cgroup_write(const char *, const char *, const char *, char *,
		    size_t);
static int	cgroup_alone(const char *, char *, size_t);

/* 1 when word is one of list's items, separated by any of seps
 * ("cpuset" is not "cpu"). */
static int
cgroup_has_word(const char *list, const char *word, const char *seps)
{
	size_t	n, wl = strlen(word);

	while (*list != '\0') {
		n = strcspn(list, seps);
		if (n == wl && strncmp(list, word, wl) == 0)
			return 1;
		list += n;
		list += strspn(list, seps);
	}
	return 0;
}

/*
 * The path of this process's group in a hierarchy, from /proc/self/cgroup
 * ("N:cpu,cpuacct:/path" for v1, "0::/path" for v2): the v1 hierarchy of
 * controller, or v2's when controller is NULL.  0, or -1 when there is
 * no such line.
 */
static int
cgroup_line_path(const char *controller, char *out, size_t outlen)
{
	FILE	*fp;
	char	 line[CGROUP_PATH_MAX + 64], *ctl, *path;
	int	 rc = -1;

	if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (rc == -1 && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctl = strchr(line, ':')) == NULL ||
		    (path = strchr(++ctl, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (controller == NULL ? *ctl == '\0' :
		    cgroup_has_word(ctl, controller, ","))
			rc = (size_t)snprintf(out, outlen, "%s", path) <
			    outlen ? 0 : -1;
	}
	fclose(fp);
	return rc;
}

/* Our group's path relative to the v2 mount ("/" for the root). */
static int
cgroup_own_path(char *out, size_t outlen, char *errbuf, size_t errlen)
{
	if (cgroup_line_path(NULL, out, outlen) == 0)
		return 0;
	snprintf(errbuf, errlen, "this process is in no cgroup v2 group "
	    "(/proc/self/cgroup has no 0:: line)");
	return -1;
}

/* dir's cgroup.controllers into ctl ("" when unreadable). */
static int
cgroup_controllers(const char *dir, char *ctl, size_t len)
{
	char	 path[CGROUP_PATH_MAX + 32];
	FILE	*fp;

	ctl[0] = '\0';
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(ctl, (int)len, fp) == NULL)
		ctl[0] = '\0';
	fclose(fp);
	return 0;
}

int
cgroup_cpu_group(const char *root, char *out, size_t outlen)
{
	char	own[CGROUP_PATH_MAX], dir[CGROUP_PATH_MAX + 32], ctl[256];

	/* v1: the cpu hierarchy's line, when there is one, decides. */
	if (cgroup_line_path("cpu", out, outlen) == 0)
		return strcmp(out, "/") != 0;
	if (cgroup_line_path(NULL, own, sizeof(own)) == -1 ||
	    strcmp(own, "/") == 0)
		return 0;
	/* v2: a group counts when its parent enabled cpu for it. */
	snprintf(dir, sizeof(dir), "%s%s", root, own);
	if (cgroup_controllers(dir, ctl, sizeof(ctl)) == -1 ||
	    !cgroup_has_word(ctl, "cpu", " \n"))
		return 0;
	snprintf(out, outlen, "%s", own);
	return 1;
}

/* Writes value to dir/file.  -1 with the reason. */
static int
cgroup_write(const char *dir, const char *file, const char *value,
    char *errbuf, size_t errlen)
{
	char	path[CGROUP_PATH_MAX + 64];
	size_t	len = strlen(value);
	int	fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, value, len) == (ssize_t)len)
		rc = 0;
	else
		snprintf(errbuf, errlen, "writing \"%s\" to %s: %s", value,
		    path, strerror(errno));
	close(fd);
	return rc;
}

/* 0 if dir's cgroup.procs lists this process alone. */
static int
cgroup_alone(const char *dir, char *errbuf, size_t errlen)
{
	FILE	*fp;
	char	 path[CGROUP_PATH_MAX + 32], line[32];
	long	 me = (long)getpid(), others = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strtol(line, NULL, 10) != me)
			others++;
	fclose(fp);
	if (others > 0) {
		snprintf(errbuf, errlen, "%s holds %ld other process%s: the "
		    "group is not ours to split (run under a unit with "
		    "Delegate=yes, see packaging/systemd/)", dir, others,
		    others == 1 ? "" : "es");
		return -1;
	}
	return 0;
}

int
cgroup_setup(const char *root, struct cgroup_iso *ci, char *errbuf,
    size_t errlen)
{
	struct stat	st;
	char		 own[CGROUP_PATH_MAX], path[CGROUP_PATH_MAX + 32];
	char		 ctl[256], w[16];
	int		 io;

	memset(ci, 0, sizeof(*ci));
	ci->ci_workers_fd = -1;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	if (stat(path, &st) == -1) {
		snprintf(errbuf, errlen, "no cgroup v2 hierarchy at %s", root);
		return -1;
	}
	if (cgroup_own_path(own, sizeof(own), errbuf, errlen) == -1)
		return -1;
	if ((size_t)snprintf(ci->ci_base, sizeof(ci->ci_base), "%s%s", root,
	    strcmp(own, "/") == 0 ? "" : own) >= sizeof(ci->ci_base)) {
		snprintf(errbuf, errlen, "cgroup path too long");
		return -1;
	}
	if (strcmp(own, "/") == 0) {
		snprintf(errbuf, errlen, "this process is in the root cgroup, "
		    "which is not ours to split");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", ci->ci_base);
	if (access(path, W_OK) == -1) {
		snprintf(errbuf, errlen, "%s is not writable (%s)", path,
		    strerror(errno));
		return -1;
	}
	if (cgroup_alone(ci->ci_base, errbuf, errlen) == -1)
		return -1;
	(void)cgroup_controllers(ci->ci_base, ctl, sizeof(ctl));
	if (!cgroup_has_word(ctl, "cpu", " \n")) {
		snprintf(errbuf, errlen, "the cpu controller is not delegated "
		    "to %s (cgroup.controllers: \"%.*s\")", ci->ci_base,
		    (int)strcspn(ctl, "\n"), ctl);
		return -1;
	}
	io = cgroup_has_word(ctl, "io", " \n");
	snprintf(path, sizeof(path), "%s/interactive", ci->ci_base);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		snprintf(errbuf, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	/* Out of the parent first: a group with processes of its own may
	 * not enable controllers for its children. */
	if (cgroup_write(path, "cgroup.procs", "0", errbuf, errlen) == -1)
		return -1;
	if (cgroup_write(ci->ci_base, "cgroup.subtree_control", io ?
	    "+cpu +io" : "+cpu", errbuf, errlen) == -1 && (!io ||
	    cgroup_write(ci->ci_base, "cgroup.subtree_control", "+cpu",
	    errbuf, errlen) == -1))
		return -1;
	snprintf(path, sizeof(path), "%s/workers", ci->ci_base);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		snprintf(errbuf, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(w, sizeof(w), "%d", CGROUP_WORKER_CPU_WEIGHT);
	if (cgroup_write(path, "cpu.weight", w, errbuf, errlen) == -1)
		return -1;
	/* io.weight needs an I/O scheduler that honours it (BFQ) or
	 * io.cost; without, the write fails and CPU weight alone stays. */
	snprintf(w, sizeof(w), "default %d", CGROUP_WORKER_IO_WEIGHT);
	ci->ci_io = io && cgroup_write(path, "io.weight", w, ctl,
	    sizeof(ctl)) == 0;
	snprintf(path, sizeof(path), "%s/workers/cgroup.procs", ci->ci_base);
	if ((ci->ci_workers_fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
cgroup_enter_workers(const struct cgroup_iso *ci)
{
	if (ci->ci_workers_fd == -1) {
		errno = EBADF;
		return -1;
	}
	return write(ci->ci_workers_fd, "0", 1) == 1 ? 0 : -1;
}

void
cgroup_close(struct cgroup_iso *ci)
{
	if (ci->ci_workers_fd != -1)
		close(ci->ci_workers_fd);
	ci->ci_workers_fd = -1;
}
