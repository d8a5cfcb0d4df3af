/*
 * autogroup.c — a worker's own scheduling group (see autogroup.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/autogroup.h"
#include "core/cgroup.h"

int
autogroup_enabled(char *errbuf, size_t errlen)
{
	char	buf[CGROUP_PATH_MAX];
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
	if (cgroup_cpu_group(CGROUP_ROOT, buf, sizeof(buf))) {
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
