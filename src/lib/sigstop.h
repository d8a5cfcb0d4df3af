/*
 * sigstop.h — SIGTERM/SIGINT as a flag plus a self-pipe, for processes
 * whose loop waits in poll(2): the handler only sets the flag and writes
 * a byte, and the loop sees the pipe readable (STYLE R12).  SIGPIPE is
 * ignored.  One per process.
 */
#ifndef LIB_SIGSTOP_H
#define LIB_SIGSTOP_H

#include <signal.h>

/* Set once SIGTERM or SIGINT arrived. */
extern volatile sig_atomic_t sigstop_flag;

/* Installs the handlers.  Returns the pipe's read end, or -1 (logged). */
int	sigstop_init(void);
/* Reads whatever the handler wrote, so poll(2) blocks again. */
void	sigstop_drain(void);
/* Sleeps up to ms, returning early (and draining) on a signal. */
void	sigstop_pause(int ms);
/* Closes the pipe (the handlers stay). */
void	sigstop_close(void);

#endif
