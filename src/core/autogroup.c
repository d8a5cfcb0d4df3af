/*
 * autogroup.c — a worker's own scheduling group (see autogroup.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/autogroup.h"

/* 1 when word is one of list's items, separated by any of seps. */
static int
autogroup_has_word(const char *list, const char *word, const char *seps)
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
 * The kernel weighs sessions only for tasks whose cpu-controller group
 * is the root one (task_wants_autogroup).  1, with the group's path in
 * buf, when this process is in another: a container or a CI runner with
 * a cpu cgroup of its own.  Lines of /proc/self/cgroup are
 * "N:cpu,cpuacct:/path" (v1) or "0::/path" (v2).
 */
static int
autogroup_cpu_cgroup(char *buf, size_t len)
{
	char	 line[512], v2[512] = "", ctl[256] = "", cpath[600];
	char	*ctrl, *path;
	FILE	*f;
	int	 in = 0;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctrl = strchr(line, ':')) == NULL ||
		    (path = strchr(++ctrl, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (*ctrl == '\0')
			snprintf(v2, sizeof(v2), "%s", path);
		else if (autogroup_has_word(ctrl, "cpu", ",")) {
			snprintf(buf, len, "%s", path);
			in = strcmp(path, "/") != 0;
			goto out;
		}
	}
	/* v2 only: the group counts when cpu is enabled for it */
	if (v2[0] == '\0' || strcmp(v2, "/") == 0)
		goto out;
	snprintf(cpath, sizeof(cpath), "/sys/fs/cgroup%s/cgroup.controllers",
	    v2);
	fclose(f);
	if ((f = fopen(cpath, "re")) == NULL)
		return 0;
	if (fgets(ctl, sizeof(ctl), f) != NULL &&
	    autogroup_has_word(ctl, "cpu", " \n")) {
		snprintf(buf, len, "%s", v2);
		in = 1;
	}
out:
	fclose(f);
	return in;
}

int
autogroup_enabled(char *errbuf, size_t errlen)
{
	char	buf[256];
	ssize_t	n = 0;
	int	fd;

	if ((fd = open(AUTOGROUP_SYSCTL, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, 1);
		close(fd);
	}
	if (n != 1 || buf[0] != '1') {
		snprintf(errbuf, errlen, "kernel autogroups are off (%s)",
		    AUTOGROUP_SYSCTL);
		return 0;
	}
	if (autogroup_cpu_cgroup(buf, sizeof(buf))) {
		snprintf(errbuf, errlen, "kernel autogroups not in effect: "
		    "this process is in cpu cgroup %s, whose weight decides",
		    buf);
		return 0;
	}
	return 1;
}

int
autogroup_own(char *errbuf, size_t errlen)
{
	if (!autogroup_enabled(errbuf, errlen))
		return -1;
	if (getsid(0) == getpid())
		return 0;	/* leads its session: its group already */
	if (setsid() == -1) {
		snprintf(errbuf, errlen, "setsid: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
autogroup_set_nice(int nice, char *errbuf, size_t errlen)
{
	char	buf[16];
	int	fd, n, rc = -1;

	if (getsid(0) != getpid()) {
		snprintf(errbuf, errlen, "not a session leader: the group "
		    "is shared");
		return -1;
	}
	if ((fd = open(AUTOGROUP_PROC, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(errbuf, errlen, "%s: %s", AUTOGROUP_PROC,
		    strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d", nice);
	if (write(fd, buf, (size_t)n) != n)
		snprintf(errbuf, errlen, "%s: nice %d: %s", AUTOGROUP_PROC,
		    nice, strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}
