/*
 * fsutil.c — small file-system helpers.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "str.h"

int
fs_mkdirs(const char *path)
{
	char	tmp[1024], *p;

	if (str_lcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0750) == -1 && errno != EEXIST ? -1 : 0;
}
