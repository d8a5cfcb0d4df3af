/*
 * test_log.c — lib/log.c's asynchronous mode: every line out whole and
 * in order, and a ring that cannot be written out drops whole lines and
 * says how many.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/buf.h"
#include "lib/log.h"

/* Reads the pipe into a buffer once released, so the writer thread can
 * be held up at will (a full pipe blocks its write). */
struct reader {
	int		 fd;
	struct buf	 out;
	pthread_mutex_t	 lk;
	pthread_cond_t	 cv;
	int		 go;
};

static void *
reader_main(void *arg)
{
	struct reader	*r = arg;
	char		 chunk[8192];
	ssize_t		 n;

	pthread_mutex_lock(&r->lk);
	while (!r->go)
		pthread_cond_wait(&r->cv, &r->lk);
	pthread_mutex_unlock(&r->lk);
	while ((n = read(r->fd, chunk, sizeof(chunk))) > 0)
		(void)buf_append(&r->out, chunk, (size_t)n);
	return NULL;
}

/* Runs nlines log lines through a ring of ringsz bytes with stderr on a
 * pipe; the reader starts only after the last line is queued when hold
 * is set.  Returns what came out (caller frees). */
static char *
run(size_t ringsz, int nlines, int hold)
{
	struct reader	 r;
	pthread_t	 t;
	int		 p[2], saved, i;

	memset(&r, 0, sizeof(r));
	buf_init(&r.out, (size_t)64 << 20);
	pthread_mutex_init(&r.lk, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.go = !hold;
	if (pipe(p) == -1)
		abort();
	r.fd = p[0];
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	pthread_create(&t, NULL, reader_main, &r);
	CHECK(log_async_start(ringsz) == 0);
	for (i = 0; i < nlines; i++)
		log_info("line %06d %s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	pthread_mutex_lock(&r.lk);
	r.go = 1;
	pthread_cond_signal(&r.cv);
	pthread_mutex_unlock(&r.lk);
	log_async_stop();
	dup2(saved, STDERR_FILENO);	/* closes the pipe's last writer */
	close(saved);
	pthread_join(t, NULL);
	close(r.fd);
	return buf_steal(&r.out, NULL);
}

/* Lines "... line NNNNNN ..." must be whole and strictly increasing;
 * returns how many, and whether a drop note came. */
static int
count_lines(const char *out, int *dropnote)
{
	const char	*p = out, *nl, *at;
	int		 n = 0, last = -1, v;

	*dropnote = 0;
	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if ((at = strstr(p, " line ")) != NULL && at < nl) {
			v = (int)strtol(at + 6, NULL, 10);
			CHECK(v > last);
			CHECK(nl - at == 6 + 6 + 1 + 80);
			last = v;
			n++;
		} else if (strstr(p, "log lines dropped") != NULL)
			*dropnote = 1;
	}
	CHECK(*p == '\0');	/* nothing after the last newline */
	return n;
}

int
main(void)
{
	char	*out;
	int	 note;

	log_init("test", LOG_LEVEL_INFO);
	/* A reader keeping up: everything, in order. */
	out = run(1 << 20, 5000, 0);
	CHECK(count_lines(out, &note) == 5000 && !note);
	free(out);
	/* Nobody reading until the end: the pipe (64 KB) and an 8 KB ring
	 * fill, later lines are dropped whole, and a note says so. */
	out = run(8192, 5000, 1);
	CHECK(count_lines(out, &note) < 5000 && note);
	free(out);
	return CHECK_DONE();
}
