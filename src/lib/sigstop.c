/*
 * sigstop.c — the stop signals of the worker and scheduler processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sigstop.h"

volatile sig_atomic_t	sigstop_flag;
static int		sigstop_pipe[2] = { -1, -1 };

static void
sigstop_on_signal(int sig)
{
	int	saved = errno;

	(void)sig;
	sigstop_flag = 1;
	(void)!write(sigstop_pipe[1], "x", 1);
	errno = saved;
}

int
sigstop_init(void)
{
	struct sigaction	sa;

	sigstop_flag = 0;
	if (pipe2(sigstop_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe2");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sigstop_on_signal;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		log_warn("sigaction");
		return -1;
	}
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	return sigstop_pipe[0];
}

void
sigstop_drain(void)
{
	char	buf[64];

	while (read(sigstop_pipe[0], buf, sizeof(buf)) > 0)
		;
}

void
sigstop_pause(int ms)
{
	struct pollfd	pfd;

	if (sigstop_flag)
		return;
	pfd.fd = sigstop_pipe[0];
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, ms) > 0)
		sigstop_drain();
}

void
sigstop_close(void)
{
	if (sigstop_pipe[0] != -1)
		close(sigstop_pipe[0]);
	if (sigstop_pipe[1] != -1)
		close(sigstop_pipe[1]);
	sigstop_pipe[0] = sigstop_pipe[1] = -1;
}
