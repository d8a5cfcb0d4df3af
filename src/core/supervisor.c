/*
 * supervisor.c — 'bulkhead run': starts the API, the scheduler and N
 * workers as child processes and keeps them running.
 *
 * DESIGN.  One slot (struct sup_child, s_child[]) per instance: an API
 * ("serve"), a scheduler and cfg->workers workers, filled in by
 * supervisor_main; the role names are the subcommands main.c runs.
 * Each child is this binary re-executed (/proc/self/exe) with argv
 * {"bulkhead", ROLE}, so ps shows "bulkhead worker"; it gets the effective
 * configuration through BULKHEAD_* environment variables, which rank above
 * the config file, so flags given to 'run' reach the children too.  A
 * child that exits is restarted after a backoff of 1 s doubling to 30 s,
 * reset once a child has run for 60 s.  No job traffic passes through
 * here: the children coordinate through PostgreSQL.
 *
 * One loop, no work in signal handlers: SIGCHLD, SIGTERM and SIGINT only
 * write their number to a self-pipe; the loop polls the pipe with a
 * timeout set by the next due restart or the shutdown deadline, then
 * reaps with waitpid(WNOHANG).  On SIGTERM/SIGINT every child gets
 * SIGTERM, and whatever still runs after SUP_GRACE_S gets SIGKILL.
 * Children also get SIGTERM if the supervisor itself dies
 * (PR_SET_PDEATHSIG), so a killed supervisor leaves no orphans behind.
 *
 * Isolation: where the supervisor owns a cgroup v2 group (cgroup.h),
 * workers go into a child group with a low cpu.weight and io.weight, so
 * the kernel gives the API the CPU first whatever the workers' nice
 * says; where it does not, one line at start says why, and each worker
 * starts a session of its own, so that the kernel's autogroups
 * (autogroup.h) make it a scheduling group of its own, weighted by its
 * nice against the API's group; where autogroups are off too, the
 * workers keep what they had (nice, SCHED_IDLE, the throttle).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/autogroup.h"
#include "core/cgroup.h"
#include "core/supervisor.h"
#include "lib/clock.h"
#include "lib/log.h"

#define SUP_MAX_CHILDREN	(2 + 64)	/* api, scheduler, workers */
#define SUP_BACKOFF_MIN		1		/* seconds */
#define SUP_BACKOFF_MAX		30
#define SUP_STABLE_S		60	/* a run this long resets backoff */
#define SUP_GRACE_S		20	/* SIGTERM -> SIGKILL */
#define SUP_EXE			"/proc/self/exe"

struct sup_child {
	const char	*c_role;	/* argv[1] of the child */
	int		 c_index;	/* 1.. among the same role */
	pid_t		 c_pid;		/* 0 while not running */
	double		 c_started;	/* monotonic seconds */
	double		 c_next_start;	/* when to (re)start it */
	int		 c_backoff;	/* next restart delay, seconds */
};

struct supervisor {
	struct sup_child s_child[SUP_MAX_CHILDREN];
	size_t		 s_n;
	int		 s_stopping;
	double		 s_deadline;	/* SIGKILL after this */
	struct cgroup_iso s_cg;		/* workers' group, if any */
};

static int	sup_pipe[2] = { -1, -1 };

static void	sup_on_signal(int);
static int	sup_signals(void);
static void	sup_child_signals(void);
static void	sup_start(struct sup_child *, const struct cgroup_iso *);
static void	sup_reaped(struct supervisor *, pid_t, int);
static void	sup_stop_all(struct supervisor *, int);
static size_t	sup_alive(const struct supervisor *);
static int	sup_timeout(const struct supervisor *);

static void
sup_on_signal(int sig)
{
	int		saved = errno;
	unsigned char	c = (unsigned char)sig;

	(void)!write(sup_pipe[1], &c, 1);
	errno = saved;
}

static int
sup_signals(void)
{
	struct sigaction	sa;

	if (pipe2(sup_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe2");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sup_on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		log_warn("sigaction");
		return -1;
	}
	return 0;
}

/* In a new child, before exec: default dispositions, no inherited mask. */
static void
sup_child_signals(void)
{
	struct sigaction	sa;
	sigset_t		none;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static void
sup_start(struct sup_child *ch, const struct cgroup_iso *cg)
{
	char	*argv[3];
	pid_t	 parent = getpid(), pid;

	argv[0] = (char *)(uintptr_t)"bulkhead";
	argv[1] = (char *)(uintptr_t)ch->c_role;
	argv[2] = NULL;
	if ((pid = fork()) == -1) {
		log_warn("fork %s %d", ch->c_role, ch->c_index);
		ch->c_next_start = clock_mono() + ch->c_backoff;
		return;
	}
	if (pid == 0) {
		sup_child_signals();
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);
		/* Best effort: a refused move leaves it beside the API. */
		if (strcmp(ch->c_role, "worker") == 0 &&
		    cg->ci_workers_fd != -1)
			(void)cgroup_enter_workers(cg);
		else if (strcmp(ch->c_role, "worker") == 0)
			(void)autogroup_own(NULL, 0);
		execv(SUP_EXE, argv);
		log_warn("exec %s %s", SUP_EXE, ch->c_role);
		_exit(127);
	}
	ch->c_pid = pid;
	ch->c_started = clock_mono();
	log_info("started %s %d (pid %ld)", ch->c_role, ch->c_index,
	    (long)pid);
}

/* A child ended: log how, and schedule its restart unless stopping. */
static void
sup_reaped(struct supervisor *s, pid_t pid, int status)
{
	struct sup_child	*ch = NULL;
	char			 how[64];
	double			 now = clock_mono(), ran;
	size_t			 i;

	for (i = 0; i < s->s_n; i++)
		if (s->s_child[i].c_pid == pid)
			ch = &s->s_child[i];
	if (ch == NULL)
		return;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	ran = now - ch->c_started;
	ch->c_pid = 0;
	if (s->s_stopping) {
		log_info("%s %d (pid %ld) %s", ch->c_role, ch->c_index,
		    (long)pid, how);
		return;
	}
	if (ran >= SUP_STABLE_S)
		ch->c_backoff = SUP_BACKOFF_MIN;
	ch->c_next_start = now + ch->c_backoff;
	log_warnx("%s %d (pid %ld) %s after %.1f s; restarting in %d s",
	    ch->c_role, ch->c_index, (long)pid, how, ran, ch->c_backoff);
	ch->c_backoff = ch->c_backoff * 2 > SUP_BACKOFF_MAX ?
	    SUP_BACKOFF_MAX : ch->c_backoff * 2;
}

static void
sup_stop_all(struct supervisor *s, int sig)
{
	size_t	i;

	for (i = 0; i < s->s_n; i++)
		if (s->s_child[i].c_pid > 0 &&
		    kill(s->s_child[i].c_pid, sig) == -1 && errno != ESRCH)
			log_warn("kill %ld", (long)s->s_child[i].c_pid);
}

static size_t
sup_alive(const struct supervisor *s)
{
	size_t	i, n = 0;

	for (i = 0; i < s->s_n; i++)
		if (s->s_child[i].c_pid > 0)
			n++;
	return n;
}

/* Milliseconds until the next thing the loop must do by itself. */
static int
sup_timeout(const struct supervisor *s)
{
	double	now = clock_mono(), next = now + 60;
	size_t	i;

	if (s->s_stopping)
		next = s->s_deadline;
	else
		for (i = 0; i < s->s_n; i++)
			if (s->s_child[i].c_pid == 0 &&
			    s->s_child[i].c_next_start < next)
				next = s->s_child[i].c_next_start;
	if (next <= now)
		return 0;
	return (int)((next - now) * 1000.0) + 1;
}

int
supervisor_main(struct cfg *cfg, int argc, char **argv)
{
	struct supervisor	 s;
	struct pollfd		 pfd;
	unsigned char		 sigs[64];
	ssize_t			 n, k;
	pid_t			 pid;
	double			 now;
	size_t			 i;
	int			 status, w;
	char			 err[512];

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0;

		fprintf(help ? stdout : stderr, "usage: bulkhead "
		    "[--KEY VALUE ...] run\n");
		return help ? 0 : 2;
	}
	memset(&s, 0, sizeof(s));
	s.s_child[s.s_n++] = (struct sup_child){ .c_role = "serve",
	    .c_index = 1, .c_backoff = SUP_BACKOFF_MIN };
	s.s_child[s.s_n++] = (struct sup_child){ .c_role = "scheduler",
	    .c_index = 1, .c_backoff = SUP_BACKOFF_MIN };
	for (w = 1; w <= cfg->workers && s.s_n < SUP_MAX_CHILDREN; w++)
		s.s_child[s.s_n++] = (struct sup_child){ .c_role = "worker",
		    .c_index = w, .c_backoff = SUP_BACKOFF_MIN };
	if (sup_signals() == -1)
		return 1;
	if (cgroup_setup(CGROUP_ROOT, &s.s_cg, err, sizeof(err)) == -1) {
		char	agerr[160];

		if (autogroup_enabled(agerr, sizeof(agerr)))
			log_info("cgroup isolation off: %s; workers in sessions "
			    "of their own (kernel autogroups, weighted by "
			    "worker_nice)", err);
		else
			log_info("cgroup isolation off: %s; %s: workers keep "
			    "nice, SCHED_IDLE and the throttle", err, agerr);
	} else
		log_info("cgroup isolation: workers in %s/workers (cpu.weight "
		    "%d%s)", s.s_cg.ci_base, CGROUP_WORKER_CPU_WEIGHT,
		    s.s_cg.ci_io ? ", io.weight set" : "; io.weight not "
		    "available");
	/* Children see exactly what this process validated. */
	cfg_export_env(cfg);
	log_info("supervisor started: api, scheduler and %d worker%s",
	    cfg->workers, cfg->workers == 1 ? "" : "s");

	for (;;) {
		pfd.fd = sup_pipe[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, sup_timeout(&s)) == -1 && errno != EINTR)
			log_warn("poll");
		while ((n = read(sup_pipe[0], sigs, sizeof(sigs))) > 0) {
			for (k = 0; k < n; k++) {
				if ((sigs[k] != SIGTERM && sigs[k] != SIGINT) ||
				    s.s_stopping)
					continue;
				log_info("%s: stopping %zu child%s",
				    sigs[k] == SIGTERM ? "SIGTERM" : "SIGINT",
				    sup_alive(&s), sup_alive(&s) == 1 ? "" :
				    "ren");
				s.s_stopping = 1;
				s.s_deadline = clock_mono() + SUP_GRACE_S;
				sup_stop_all(&s, SIGTERM);
			}
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			sup_reaped(&s, pid, status);
		now = clock_mono();
		if (s.s_stopping) {
			if (sup_alive(&s) == 0)
				break;
			if (now >= s.s_deadline) {
				log_warnx("%zu child%s still running after "
				    "%d s; killing", sup_alive(&s),
				    sup_alive(&s) == 1 ? "" : "ren",
				    SUP_GRACE_S);
				sup_stop_all(&s, SIGKILL);
				while ((pid = waitpid(-1, &status, 0)) > 0 ||
				    (pid == -1 && errno == EINTR))
					if (pid > 0)
						sup_reaped(&s, pid, status);
				break;
			}
			continue;
		}
		for (i = 0; i < s.s_n; i++)
			if (s.s_child[i].c_pid == 0 &&
			    s.s_child[i].c_next_start <= now)
				sup_start(&s.s_child[i], &s.s_cg);
	}
	close(sup_pipe[0]);
	close(sup_pipe[1]);
	sup_pipe[0] = sup_pipe[1] = -1;
	cgroup_close(&s.s_cg);
	log_info("supervisor stopped");
	return 0;
}
