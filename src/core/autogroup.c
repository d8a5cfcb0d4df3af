/*
 * autogroup.c — a worker's own scheduling group (see autogroup.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/autogroup.h"

int
autogroup_enabled(void)
{
	char	c = '0';
	int	fd;

	if ((fd = open(AUTOGROUP_SYSCTL, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

int
autogroup_own(char *errbuf, size_t errlen)
{
	if (!autogroup_enabled()) {
		snprintf(errbuf, errlen, "kernel autogroups are off (%s)",
		    AUTOGROUP_SYSCTL);
		return -1;
	}
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
