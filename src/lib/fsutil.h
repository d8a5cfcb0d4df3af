/*
 * fsutil.h — small file-system helpers.
 */
#ifndef LIB_FSUTIL_H
#define LIB_FSUTIL_H

/* mkdir -p with mode 0750.  0, or -1 with errno set. */
int	fs_mkdirs(const char *path);

#endif
